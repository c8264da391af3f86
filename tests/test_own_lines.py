"""The line of the user's code behind each G101 when their code is the network (SPEC §3.6 on
§3.1): the values their forward computes are tapped, their gradients measured along random
directions, and the first statement of their backward that makes a wrong gradient from right
ones is named — every independent bug in one run. Each style is written here as a learner of some
course would write it, correct and with planted bugs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from nnfix.cli import main

# deeplearning.ai style, week 4: helpers per layer, a params dict, samples as columns, caches
DEEP = """
import numpy as np


def initialize_parameters(n_x, n_h1, n_h2, n_y):
    rng = np.random.default_rng(2)
    return {
        "W1": rng.standard_normal((n_h1, n_x)) * 0.5,
        "b1": np.zeros((n_h1, 1)),
        "W2": rng.standard_normal((n_h2, n_h1)) * 0.5,
        "b2": np.zeros((n_h2, 1)),
        "W3": rng.standard_normal((n_y, n_h2)) * 0.5,
        "b3": np.zeros((n_y, 1)),
    }


def forward_propagation(X, parameters):
    Z1 = parameters["W1"] @ X + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = parameters["W2"] @ A1 + parameters["b2"]
    A2 = np.tanh(Z2)
    Z3 = parameters["W3"] @ A2 + parameters["b3"]
    A3 = 1 / (1 + np.exp(-Z3))
    cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "Z3": Z3, "A3": A3}
    return A3, cache


def compute_cost(A3, Y):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(A3) + (1 - Y) * np.log(1 - A3)) / m)


def backward_propagation(parameters, cache, X, Y):
    m = X.shape[1]
    A1, A2, A3, Z2 = cache["A1"], cache["A2"], cache["A3"], cache["Z2"]
    dA3 = -(Y / A3 - (1 - Y) / (1 - A3))
    dZ3 = dA3 * A3 * (1 - A3)
    dW3 = dZ3 @ A2.T / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dA2 = parameters["W3"].T @ dZ3
    dZ2 = dA2 * (1 - A2 ** 2)
    dW2 = dZ2 @ A1.T / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = parameters["W2"].T @ dZ2
    dZ1 = dA1 * (1 - A1 ** 2)
    dW1 = dZ1 @ X.T / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3}
"""

DEEP_SPEC = """
seed: 0
data: {source: moons, samples: 64}
implementation:
  module: net.py
  model: initialize_parameters(2, 5, 4, 1)
  forward: forward_propagation
  backward: backward_propagation
  loss: compute_cost
"""

# seed 000's three bugs: the BCE derivative's precedence, tanh's derivative on a sigmoid layer,
# tanh's derivative given Z instead of A
SEED_000 = [
    ("dA3 = -(Y / A3 - (1 - Y) / (1 - A3))", "dA3 = -(Y / A3 + (1 - Y / 1 - A3))"),
    ("dZ3 = dA3 * A3 * (1 - A3)", "dZ3 = dA3 * (1 - A3 ** 2)"),
    ("dZ2 = dA2 * (1 - A2 ** 2)", "dZ2 = dA2 * (1 - Z2 ** 2)"),
]

# the same network with a helper per activation (the week-4 assignment's shape)
HELPERS = """
import numpy as np


def init(dims):
    rng = np.random.default_rng(1)
    params = {}
    for l in range(1, len(dims)):
        params["W" + str(l)] = rng.standard_normal((dims[l], dims[l - 1])) * 0.5
        params["b" + str(l)] = rng.standard_normal((dims[l], 1)) * 0.1
    return params


def layer_forward(A_prev, W, b, activation):
    Z = W @ A_prev + b
    A = 1 / (1 + np.exp(-Z)) if activation == "sigmoid" else np.tanh(Z)
    return A, (A_prev, W, Z)


def L_forward(X, params):
    caches = []
    A = X
    L = len(params) // 2
    for l in range(1, L + 1):
        A, cache = layer_forward(A, params["W" + str(l)], params["b" + str(l)],
                                 "sigmoid" if l == L else "tanh")
        caches.append(cache)
    return A, caches


def cost(AL, Y):
    return float(-np.mean(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)))


def tanh_backward(dA, Z):
    A = np.tanh(Z)
    return dA * (1 - A ** 2)


def sigmoid_backward(dA, Z):
    s = 1 / (1 + np.exp(-Z))
    return dA * s * (1 - s)


def layer_backward(dA, cache, activation):
    A_prev, W, Z = cache
    m = A_prev.shape[1]
    if activation == "sigmoid":
        dZ = sigmoid_backward(dA, Z)
    else:
        dZ = tanh_backward(dA, Z)
    return W.T @ dZ, dZ @ A_prev.T / m, np.sum(dZ, axis=1, keepdims=True) / m


def L_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    dA = -(Y / AL - (1 - Y) / (1 - AL))
    for l in reversed(range(1, L + 1)):
        activation = "sigmoid" if l == L else "tanh"
        dA, grads["dW" + str(l)], grads["db" + str(l)] = layer_backward(
            dA, caches[l - 1],
            activation)
    return grads
"""

HELPERS_SPEC = """
seed: 0
data: {source: moons, samples: 64}
implementation:
  module: net.py
  model: init([2, 4, 3, 1])
  forward: L_forward
  backward: L_backward
  loss: cost
"""

# a class whose forward keeps its values on self and whose backward reads them (samples as rows)
CLASS = """
import numpy as np


class TwoLayerNet:
    def __init__(self, n_in, n_hidden, n_out):
        rng = np.random.default_rng(4)
        self.W1 = rng.normal(size=(n_in, n_hidden)) * 0.5
        self.b1 = np.full(n_hidden, 0.1)
        self.W2 = rng.normal(size=(n_hidden, n_out)) * 0.5
        self.b2 = np.full(n_out, -0.1)

    def forward(self, X):
        self.X = X
        self.z1 = X @ self.W1 + self.b1
        self.a1 = np.tanh(self.z1)
        self.z2 = self.a1 @ self.W2 + self.b2
        e = np.exp(self.z2 - self.z2.max(axis=1, keepdims=True))
        self.probs = e / e.sum(axis=1, keepdims=True)
        return self.probs

    def loss(self, probs, Y):
        return float(-np.sum(Y * np.log(probs)) / len(Y))

    def backward(self, Y):
        m = len(Y)
        dz2 = (self.probs - Y) / m
        self.dW2 = self.a1.T @ dz2
        self.db2 = dz2.sum(axis=0)
        da1 = dz2 @ self.W2.T
        dz1 = da1 * (1 - self.a1 ** 2)
        self.dW1 = self.X.T @ dz1
        self.db1 = dz1.sum(axis=0)
        return {"dW1": self.dW1, "db1": self.db1, "dW2": self.dW2, "db2": self.db2}
"""

CLASS_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 64}
implementation:
  module: net.py
  model: TwoLayerNet(4, 6, 3)
  forward: forward
  backward: backward
  loss: loss
"""

# Nielsen's book style, written afresh: one sample per call as a column, its own forward inside
# backprop, the derivative factor on a line of its own
NIELSEN = """
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class Net:
    def __init__(self, sizes):
        rng = np.random.default_rng(7)
        self.sizes = sizes
        self.biases = [rng.standard_normal((n, 1)) for n in sizes[1:]]
        self.weights = [rng.standard_normal((n, k)) for k, n in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def backprop(self, x, y):
        grad_b = [np.zeros(b.shape) for b in self.biases]
        grad_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
        grad_b[-1] = delta
        grad_w[-1] = np.dot(delta, activations[-2].T)
        for l in range(2, len(self.sizes)):
            sp = sigmoid_prime(zs[-l])
            delta = np.dot(self.weights[-l + 1].T, delta) * sp
            grad_b[-l] = delta
            grad_w[-l] = np.dot(delta, activations[-l - 1].T)
        return grad_b, grad_w
"""

NIELSEN_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 40}
loss: {name: mse, scale: 0.5}
implementation:
  module: net.py
  model: Net([4, 5, 4, 3])
  forward: feedforward
  backward: backprop
  per_sample: column
"""

# equal hidden widths, a loop over the layers calling one shared helper, sigmoid hidden layers
LOOP = """
import numpy as np


def make(sizes):
    rng = np.random.default_rng(5)
    params = {}
    for k in range(1, len(sizes)):
        params["W" + str(k)] = rng.standard_normal((sizes[k], sizes[k - 1])) * 0.6
        params["b" + str(k)] = rng.standard_normal((sizes[k], 1)) * 0.1
    return params


def run(params, X):
    n = len(params) // 2
    acts = [X]
    for k in range(1, n):
        z = params["W" + str(k)] @ acts[-1] + params["b" + str(k)]
        acts.append(1 / (1 + np.exp(-z)))
    out = params["W" + str(n)] @ acts[-1] + params["b" + str(n)]
    return out, acts


def loss(out, Y):
    return float(np.mean((out - Y) ** 2))


def step_back(delta, a_prev, W):
    count = a_prev.shape[1]
    dW = delta @ a_prev.T / count
    db = delta.sum(axis=1, keepdims=True) / count
    return dW, db, W.T @ delta


def grads(params, acts, out, Y):
    n = len(params) // 2
    g = {}
    delta = 2 * (out - Y)
    g["dW" + str(n)], g["db" + str(n)], back = step_back(delta, acts[-1], params["W" + str(n)])
    for k in range(n - 1, 0, -1):
        a = acts[k]
        delta = back * a * (1 - a)
        g["dW" + str(k)], g["db" + str(k)], back = step_back(delta, acts[k - 1], params["W" + str(k)])
    return g
"""

LOOP_SPEC = """
seed: 0
data: {source: moons, samples: 32}
loss: mse
implementation:
  module: net.py
  model: make([2, 6, 6, 6, 1])
  forward: run
  backward: grads
  loss: loss
"""

CASES = {
    "deep": (DEEP, DEEP_SPEC),
    "helpers": (HELPERS, HELPERS_SPEC),
    "class": (CLASS, CLASS_SPEC),
    "nielsen": (NIELSEN, NIELSEN_SPEC),
    "loop": (LOOP, LOOP_SPEC),
}


def setup(tmp_path: Path, style: str, edits: list[tuple[str, str]] = ()) -> tuple[Path, str]:
    code, spec = CASES[style]
    code = textwrap.dedent(code).lstrip()
    for find, replace in edits:
        assert code.count(find) == 1, find
        code = code.replace(find, replace)
    (tmp_path / "net.py").write_text(code, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(spec).lstrip(), encoding="utf-8")
    return tmp_path / "spec.yaml", code


def line_of(code: str, text: str) -> int:
    (number,) = [i for i, line in enumerate(code.splitlines(), 1) if text in line]
    return number


def diagnose(spec: Path) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(main, ["diagnose", str(spec), "--format", "json"])
    assert "internal error" not in result.output, result.output
    report = json.loads(result.stdout)
    return result.exit_code, report["specs"][0]["findings"]


def named(findings: list[dict]) -> set[int]:
    """The lines of net.py that G101 root causes name."""
    return {
        f["location"]["source"]["line"]
        for f in findings
        if f["code"] == "G101" and f["root_cause"] and f["location"].get("source")
    }


def test_a_correct_module_is_clean_and_no_line_is_blamed(tmp_path):
    for style in CASES:
        spec, _ = setup(tmp_path, style)
        code, findings = diagnose(spec)
        assert code == 0, (style, findings)
        assert not [f for f in findings if f["location"].get("source")], style


def test_seed_000s_three_bugs_are_three_root_causes_at_three_lines(tmp_path):
    spec, code = setup(tmp_path, "deep", SEED_000)
    exit_code, findings = diagnose(spec)
    assert exit_code == 1
    lines = {line_of(code, after) for _, after in SEED_000}
    assert named(findings) == lines
    first = next(f for f in findings if f["code"] == "G101" and f["evidence"].get("first_wrong"))
    assert first["location"]["source"]["line"] == line_of(code, SEED_000[0][1])
    assert first["location"]["source"]["code"] == SEED_000[0][1]


def test_each_of_seed_000s_bugs_alone_is_named_at_its_line(tmp_path):
    for before, after in SEED_000:
        spec, code = setup(tmp_path, "deep", [(before, after)])
        exit_code, findings = diagnose(spec)
        assert exit_code == 1, after
        assert named(findings) == {line_of(code, after)}, after


def test_a_wrong_helper_is_named_inside_the_helper(tmp_path):
    spec, code = setup(
        tmp_path, "helpers", [("return dA * (1 - A ** 2)", "return dA * (1 - Z ** 2)")]
    )
    exit_code, findings = diagnose(spec)
    assert exit_code == 1
    assert named(findings) == {line_of(code, "return dA * (1 - Z ** 2)")}


def test_a_right_helper_called_for_the_wrong_layer_names_the_argument_that_chose_it(tmp_path):
    # every layer's backward through sigmoid's derivative: sigmoid_backward is right for what it
    # is given (the output layer's call shows it); the line that chose it for the tanh layers is
    # the one that bound the activation the call passes
    spec, code = setup(
        tmp_path,
        "helpers",
        [('activation = "sigmoid" if l == L else "tanh"\n', 'activation = "sigmoid"\n')],
    )
    exit_code, findings = diagnose(spec)
    assert exit_code == 1
    assert named(findings) == {line_of(code, 'activation = "sigmoid"')}


def test_a_class_whose_backward_reads_self_is_named_at_its_line(tmp_path):
    wrong = "dz1 = da1 * self.a1 * (1 - self.a1)"  # sigmoid's derivative on a tanh layer
    spec, code = setup(tmp_path, "class", [("dz1 = da1 * (1 - self.a1 ** 2)", wrong)])
    exit_code, findings = diagnose(spec)
    assert exit_code == 1
    assert named(findings) == {line_of(code, wrong)}
    root = next(f for f in findings if f["code"] == "G101" and f["root_cause"])
    assert root["location"]["parameter"] in ("b1", "W1")
    assert "dz1" in root["message"]


def test_a_per_sample_backprop_with_a_wrong_factor_names_the_factors_line(tmp_path):
    wrong = "sp = sigmoid_prime(activations[-l])"  # the derivative given the activation
    spec, code = setup(tmp_path, "nielsen", [("sp = sigmoid_prime(zs[-l])", wrong)])
    exit_code, findings = diagnose(spec)
    assert exit_code == 1
    assert named(findings) == {line_of(code, wrong)}


def test_a_per_sample_backprop_with_a_wrong_output_delta_names_that_line(tmp_path):
    wrong = "delta = (activations[-1] - y) * sigmoid_prime(activations[-1])"
    spec, code = setup(
        tmp_path, "nielsen", [("delta = (activations[-1] - y) * sigmoid_prime(zs[-1])", wrong)]
    )
    exit_code, findings = diagnose(spec)
    assert exit_code == 1
    assert named(findings) == {line_of(code, wrong)}


def test_a_bias_gradient_of_the_wrong_shape_names_the_line_that_binds_it(tmp_path):
    wrong = "self.db1 = dz1"  # not summed over the samples
    spec, code = setup(tmp_path, "class", [("self.db1 = dz1.sum(axis=0)", wrong)])
    exit_code, findings = diagnose(spec)
    assert exit_code == 1
    (shape,) = [f for f in findings if f["code"] == "G103"]
    assert shape["location"]["parameter"] == "b1"
    assert shape["location"]["source"]["line"] == line_of(code, wrong)
    assert shape["location"]["source"]["code"] == wrong


def test_a_wrong_shape_in_deep_code_names_the_binding_not_the_delta(tmp_path):
    wrong = "db2 = dZ2 / m"  # the per-sample delta is right; its reduction is missing
    spec, code = setup(tmp_path, "deep", [("db2 = np.sum(dZ2, axis=1, keepdims=True) / m", wrong)])
    exit_code, findings = diagnose(spec)
    assert exit_code == 1
    (shape,) = [f for f in findings if f["code"] == "G103"]
    assert shape["location"]["source"]["line"] == line_of(code, wrong)


def test_a_right_shared_helper_after_a_wrong_loop_statement_is_not_blamed(tmp_path):
    # the loop's statement is wrong in every layer; its true value, replaced for the last hidden
    # layer, is that layer's gradient, not the first layer's (all hidden values share one
    # shape), so the helper the loop calls next computes right gradients from it
    wrong = "delta = back * a * (1 + a)"
    spec, code = setup(tmp_path, "loop", [("delta = back * a * (1 - a)", wrong)])
    exit_code, findings = diagnose(spec)
    assert exit_code == 1
    assert named(findings) == {line_of(code, wrong)}
    roots = [f for f in findings if f["root_cause"] and f["severity"] == "error"]
    assert all(f["location"]["source"]["line"] == line_of(code, wrong) for f in roots), roots


def test_a_gradient_of_the_output_is_named_after_the_output_not_a_bias_of_its_shape(tmp_path):
    # the output is (1, m) and the hidden biases (n, 1): with n == m their shapes agree
    # and the line below it wrong too (replacing dA3 by the gradient of A3 or of Z3 leaves the
    # same parameters wrong): the nearest value, the output, is named
    wrong = "dA3 = -(Y / A3 + (1 - Y / 1 - A3))"
    edits = [(SEED_000[0][0], wrong), ("dZ3 = dA3 * A3 * (1 - A3)", "dZ3 = dA3 * (1 - A3 ** 2)")]
    spec, code = setup(tmp_path, "deep", edits)
    model = "initialize_parameters(2, 5, 4, 1)"
    spec.write_text(spec.read_text().replace(model, "initialize_parameters(2, 8, 8, 1)"))
    exit_code, findings = diagnose(spec)
    assert exit_code == 1
    first = next(f for f in findings if f["code"] == "G101" and f["evidence"].get("first_wrong"))
    assert first["location"]["source"]["line"] == line_of(code, wrong)
    assert "gradient of A3 (" in first["message"], first["message"]
    assert first["evidence"]["culprit"]["expected"].startswith("the gradient of A3 ("), first


RELU = """
import numpy as np


def init(n_in, n_hidden, n_out):
    rng = np.random.default_rng(3)
    return {"W1": rng.standard_normal((n_in, n_hidden)), "W2": rng.standard_normal((n_hidden, n_out))}


def forward(params, X):
    H = X @ params["W1"]
    R = np.maximum(H, 0)
    return R @ params["W2"], (H, R)


def loss(out, Y):
    return float(np.sum((out - Y) ** 2))


def backward(params, cache, X, out, Y):
    H, R = cache
    d_out = 2.0 * (out - Y)
    dW2 = R.T @ d_out
    dR = d_out @ params["W2"].T
    dH = dR.copy()
    dH[H < 0] = 0
    dW1 = X.T @ dH
    return {"dW1": dW1, "dW2": dW2}
"""

RELU_SPEC = """
seed: 0
data: {source: moons, samples: 16}
loss: {name: mse, reduction: sum}
implementation:
  module: net.py
  model: init(2, 6, 1)
  forward: forward
  backward: backward
  loss: loss
"""


def test_a_mask_that_masks_nothing_names_no_line_rather_than_the_right_one_below(tmp_path):
    # `dH[R < 0] = 0` masks nothing (R >= 0): dH stays the true gradient of R, and `dW1 = X.T @
    # dH` is right for what it is given (R is not computed from W1; H is) — not the bug's line
    CASES["relu"] = (RELU, RELU_SPEC)
    try:
        spec, code = setup(tmp_path, "relu")
        exit_code, findings = diagnose(spec)
        assert exit_code == 0, findings
        spec, code = setup(tmp_path, "relu", [("dH[H < 0] = 0", "dH[R < 0] = 0")])
        exit_code, findings = diagnose(spec)
    finally:
        del CASES["relu"]
    assert exit_code == 1
    assert {f["location"]["parameter"] for f in findings if f["code"] == "G101"} == {"W1"}
    assert line_of(code, "dW1 = X.T @ dH") not in named(findings)


# the hidden gradient carried through an array no forward value is shaped like (a bias column)
AUGMENTED = """
import numpy as np


def init(n_in, n_hidden, n_out):
    rng = np.random.default_rng(4)
    return {
        "W1": rng.standard_normal((n_in, n_hidden)) * 0.5,
        "b1": np.zeros((1, n_hidden)),
        "W2": rng.standard_normal((n_hidden, n_out)) * 0.5,
        "b2": np.zeros((1, n_out)),
    }


def forward(params, X):
    Z1 = X @ params["W1"] + params["b1"]
    H = np.tanh(Z1)
    out = H @ params["W2"] + params["b2"]
    return out, (Z1, H)


def loss(out, Y):
    return float(np.mean((out - Y) ** 2))


def backward(params, cache, X, out, Y):
    Z1, H = cache
    m = X.shape[0]
    d_out = 2 * (out - Y) / m
    dH = d_out @ params["W2"].T
    both = np.concatenate([dH, 1 - H**2], axis=1)
    n = H.shape[1]
    dZ1 = both[:, :n] * both[:, n:]
    return {
        "dW1": X.T @ dZ1,
        "db1": dZ1.sum(axis=0, keepdims=True),
        "dW2": H.T @ d_out,
        "db2": d_out.sum(axis=0, keepdims=True),
    }
"""

AUGMENTED_SPEC = RELU_SPEC.replace("init(2, 6, 1)", "init(2, 5, 1)").replace(
    "{name: mse, reduction: sum}", "mse"
)


def test_a_line_that_only_carries_an_unmeasured_array_is_not_blamed_for_the_bug_above(tmp_path):
    # `both` has a shape no value of the forward has (unjudged): the line that slices it is
    # right for what it is given; the wrong array above it (dH) is the bug's
    CASES["augmented"] = (AUGMENTED, AUGMENTED_SPEC)
    wrong = 'dH = d_out @ params["W2"].T * 2'
    try:
        spec, code = setup(tmp_path, "augmented")
        exit_code, findings = diagnose(spec)
        assert exit_code == 0, findings
        spec, code = setup(tmp_path, "augmented", [('dH = d_out @ params["W2"].T', wrong)])
        exit_code, findings = diagnose(spec)
    finally:
        del CASES["augmented"]
    assert exit_code == 1
    assert named(findings) == {line_of(code, wrong)}
