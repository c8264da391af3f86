"""The arguments of the user's own functions bound as they are written (SPEC §3.3 "The
arguments", "What backward returns"): parameters passed one by one by their own names, a
forward's returned tuple bound by the names of its return statement, a cache dict, (grads, loss),
gradients in reversed layer order or as per-layer dicts, a name whose meaning the values
contradict. Each style is written here as a learner of some course would, correct (clean) and
with a planted bug (found on the right tensor); what nnfix cannot bind is exit 2 naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.usercode.binding import assigned_order, name_tuple, returned_names
from nnfix.usercode.calls import bind
from tests.own_cases import diagnose, errors, write_case

# a from-scratch MNIST tutorial: a bare tuple of arrays, the forward and backward take them one by
# one, the forward returns every intermediate; samples as columns; one-hot inside the backward
TUPLE_ARGS = """
import numpy as np


def init_params():
    rng = np.random.default_rng(4)
    W1 = rng.uniform(-0.5, 0.5, (6, 4))
    b1 = rng.uniform(-0.5, 0.5, (6, 1))
    W2 = rng.uniform(-0.5, 0.5, (3, 6))
    b2 = rng.uniform(-0.5, 0.5, (3, 1))
    return W1, b1, W2, b2


def relu(Z):
    return np.maximum(Z, 0)


def softmax(Z):
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def forward_prop(W1, b1, W2, b2, X):
    Z1 = W1.dot(X) + b1
    A1 = relu(Z1)
    Z2 = W2.dot(A1) + b2
    A2 = softmax(Z2)
    return Z1, A1, Z2, A2


def one_hot(Y):
    out = np.zeros((Y.size, 3))
    out[np.arange(Y.size), Y] = 1
    return out.T


def backward_prop(Z1, A1, Z2, A2, W1, W2, X, Y):
    m = Y.size
    dZ2 = A2 - one_hot(Y)
    dW2 = 1 / m * dZ2.dot(A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = W2.T.dot(dZ2) * (Z1 > 0)
    dW1 = 1 / m * dZ1.dot(X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return dW1, db1, dW2, db2
"""

TUPLE_ARGS_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 40}
loss: cce
implementation:
  module: net.py
  model: init_params()
  forward: forward_prop
  backward: backward_prop
"""

# the planar-data course extended to two hidden layers: a parameters dict whose weights are stored
# (n_in, n_out) and used transposed, a forward that returns its cache dict ("A3" is the output),
# a keyword `activation`, and the course's cost function
CACHE_DICT = """
import numpy as np


def initialize_parameters(n_x, n_h_1, n_h_2, n_y):
    rng = np.random.default_rng(2)
    return {
        "W1": rng.normal(size=(n_x, n_h_1)),
        "b1": np.full((n_h_1, 1), 0.1),
        "W2": rng.normal(size=(n_h_1, n_h_2)) * 0.5,
        "b2": np.full((n_h_2, 1), -0.1),
        "W3": rng.normal(size=(n_h_2, n_y)) * 0.5,
        "b3": np.zeros((n_y, 1)),
    }


def forward_propagation(X, parameters, activation="tanh"):
    act = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0))
    Z1 = parameters["W1"].T @ X + parameters["b1"]
    A1 = act(Z1)
    Z2 = parameters["W2"].T @ A1 + parameters["b2"]
    A2 = act(Z2)
    Z3 = parameters["W3"].T @ A2 + parameters["b3"]
    A3 = 1 / (1 + np.exp(-Z3))
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "Z3": Z3, "A3": A3}


def compute_cost(A3, Y):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(A3) + (1 - Y) * np.log(1 - A3)) / m)


def backward_propagation(parameters, cache, X, Y, activation="tanh"):
    m = X.shape[1]
    dZ3 = cache["A3"] - Y
    dW3 = (cache["A2"] @ dZ3.T) / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dZ2 = (parameters["W3"] @ dZ3) * (1 - cache["A2"] ** 2)
    dW2 = (cache["A1"] @ dZ2.T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = (parameters["W2"] @ dZ2) * (1 - cache["A1"] ** 2)
    dW1 = (X @ dZ1.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3}
"""

CACHE_DICT_SPEC = """
seed: 0
data: {source: moons, samples: 64, noise: 0.1}
loss: bce
implementation:
  module: net.py
  model: initialize_parameters(2, 5, 4, 1)
  forward: forward_propagation
  backward: backward_propagation
  loss: compute_cost
"""

# a word-embedding assignment: the arrays in the order W1, W2, b1, b2, a forward returning (z, h)
# with z the scores, and a backward that takes yhat = softmax(z) (computed by the caller), a batch
# size, and returns its gradients as grad_W1, grad_W2, grad_b1, grad_b2
SCORES_TUPLE = """
import numpy as np


def initialize_model(N, V):
    rng = np.random.default_rng(1)
    W1 = rng.uniform(-1, 1, (N, V))
    W2 = rng.uniform(-1, 1, (V, N))
    b1 = rng.uniform(0, 1, (N, 1))
    b2 = rng.uniform(0, 1, (V, 1))
    return W1, W2, b1, b2


def forward_prop(x, W1, W2, b1, b2):
    h = W1 @ x + b1
    h = np.maximum(0, h)
    z = W2 @ h + b2
    return z, h


def back_prop(x, yhat, y, h, W1, W2, b1, b2, batch_size):
    l1 = W2.T @ (yhat - y)
    l1 = l1 * (h > 0)
    grad_W1 = l1 @ x.T / batch_size
    grad_W2 = (yhat - y) @ h.T / batch_size
    grad_b1 = np.sum(l1, axis=1, keepdims=True) / batch_size
    grad_b2 = np.sum(yhat - y, axis=1, keepdims=True) / batch_size
    return grad_W1, grad_W2, grad_b1, grad_b2
"""

SCORES_TUPLE_SPEC = """
seed: 0
data: {source: blobs, classes: 4, features: 4, samples: 64}
loss: cce
implementation:
  module: net.py
  model: initialize_model(5, 4)
  forward: forward_prop
  backward: back_prop
  arguments: {batch_size: 8}
"""

# a small CNN class after a blog series: a naive 3x3 convolution, ReLU, a dense layer; its layers'
# parameters as a list of dicts; train_step returns (grads, loss) with the grads as a list of
# dicts in reversed layer order (output layer first)
CNN_STEP = """
import numpy as np


class TinyCNN:
    def __init__(self, filters, classes):
        rng = np.random.default_rng(6)
        self.layers = [
            {"W": rng.normal(size=(filters, 1, 3, 3)) * 0.5, "b": np.full(filters, 0.05)},
            {"W": rng.normal(size=(filters * 16, classes)) * 0.2, "b": np.zeros(classes)},
        ]

    def forward(self, X):
        W, b = self.layers[0]["W"], self.layers[0]["b"]
        n = X.shape[0]
        conv = np.zeros((n, W.shape[0], 4, 4))
        for i in range(4):
            for j in range(4):
                patch = X[:, :, i : i + 3, j : j + 3]
                conv[:, :, i, j] = np.einsum("ncij,fcij->nf", patch, W) + b
        act = np.maximum(conv, 0)
        flat = act.reshape(n, -1)
        scores = flat @ self.layers[1]["W"] + self.layers[1]["b"]
        self.cache = (X, conv, flat)
        return scores

    def train_step(self, X, y):
        scores = self.forward(X)
        X, conv, flat = self.cache
        n = X.shape[0]
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(n), y]))
        dscores = probs.copy()
        dscores[np.arange(n), y] -= 1
        dscores /= n
        dW2 = flat.T @ dscores
        db2 = dscores.sum(axis=0)
        dflat = dscores @ self.layers[1]["W"].T
        dconv = dflat.reshape(conv.shape) * (conv > 0)
        W = self.layers[0]["W"]
        dW1 = np.zeros_like(W)
        for i in range(4):
            for j in range(4):
                patch = X[:, :, i : i + 3, j : j + 3]
                dW1 += np.einsum("nf,ncij->fcij", dconv[:, :, i, j], patch)
        db1 = dconv.sum(axis=(0, 2, 3))
        return [{"W": dW2, "b": db2}, {"W": dW1, "b": db1}], loss
"""

CNN_STEP_SPEC = """
seed: 0
data: {source: images, shape: [1, 6, 6], classes: 3, samples: 8}
loss: cce
implementation:
  module: net.py
  model: TinyCNN(2, 3)
  forward: forward
  backward: train_step
"""

# a deep net of equal layers whose backward returns [dW, db] pairs from the output layer back:
# their shapes cannot tell the order, the values do
SAME_SHAPES = """
import numpy as np


class Deep:
    def __init__(self, width, depth):
        rng = np.random.default_rng(8)
        self.W = [rng.normal(size=(width, width)) * 0.7 for _ in range(depth)]
        self.b = [rng.normal(size=width) * 0.1 for _ in range(depth)]

    def forward(self, X):
        self.acts = [X]
        A = X
        for W, b in zip(self.W, self.b):
            A = np.tanh(A @ W + b)
            self.acts.append(A)
        return A

    def backward(self, X, Y):
        A = self.forward(X)
        delta = 2 * (A - Y) / len(A) * (1 - A**2)
        grads = []
        for layer in reversed(range(len(self.W))):
            grads.append([self.acts[layer].T @ delta, delta.sum(axis=0)])
            if layer:
                delta = (delta @ self.W[layer].T) * (1 - self.acts[layer] ** 2)
        return grads
"""

SAME_SHAPES_SPEC = """
seed: 0
data: {source: blobs, classes: 4, features: 4, samples: 40}
loss: mse
implementation:
  module: net.py
  model: Deep(4, 3)
  forward: forward
  backward: backward
"""

# a tutorial whose functions name the target `output` and the network's answer `predicted`
OUTPUT_IS_TARGET = """
import numpy as np


def init():
    rng = np.random.default_rng(9)
    return {"W1": rng.normal(size=(2, 5)), "W2": rng.normal(size=(5, 1))}


def forward(X, params):
    hidden = np.tanh(X @ params["W1"])
    A2 = 1 / (1 + np.exp(-(hidden @ params["W2"])))
    return A2, hidden


def mse(output, predicted):
    return float(np.mean((predicted - output) ** 2))


def backward(X, output, predicted, hidden, params):
    d_out = 2 * (predicted - output) / len(output) * predicted * (1 - predicted)
    dW2 = hidden.T @ d_out
    d_hidden = (d_out @ params["W2"].T) * (1 - hidden**2)
    return {"dW1": X.T @ d_hidden, "dW2": dW2}
"""

OUTPUT_IS_TARGET_SPEC = """
seed: 0
data: {source: moons, samples: 32}
implementation:
  module: net.py
  model: init()
  forward: forward
  backward: backward
  loss: mse
"""

# the gradient-checking assignment: a forward that takes Y returns (cost, cache), the cache a
# tuple of everything, and the backward takes (X, Y, cache)
COST_FORWARD = """
import numpy as np


def init():
    rng = np.random.default_rng(12)
    return {
        "W1": rng.normal(size=(4, 2)),
        "b1": rng.normal(size=(4, 1)) * 0.1,
        "W2": rng.normal(size=(1, 4)),
        "b2": np.zeros((1, 1)),
    }


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward_propagation_n(X, Y, parameters):
    m = X.shape[1]
    W1, b1, W2, b2 = (parameters[k] for k in ("W1", "b1", "W2", "b2"))
    Z1 = W1 @ X + b1
    A1 = np.tanh(Z1)
    Z2 = W2 @ A1 + b2
    A2 = sigmoid(Z2)
    cost = -np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m
    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2)
    return cost, cache


def backward_propagation_n(X, Y, cache):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2) = cache
    dZ2 = A2 - Y
    dW2 = dZ2 @ A1.T / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = (W2.T @ dZ2) * (1 - A1**2)
    dW1 = dZ1 @ X.T / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
"""

COST_FORWARD_SPEC = """
seed: 0
data: {source: moons, samples: 32}
implementation:
  module: net.py
  model: init()
  forward: forward_propagation_n
  backward: backward_propagation_n
"""

# the one-hidden-layer version of the course: `forward(X, parameters)` returns (A3, cache), cache
# a dict the backward takes whole
OUTPUT_AND_CACHE = CACHE_DICT.replace(
    '    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "Z3": Z3, "A3": A3}',
    '    cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "Z3": Z3, "A3": A3}\n    return A3, cache',
)

CASES = {
    "tuple_args": (TUPLE_ARGS, TUPLE_ARGS_SPEC),
    "cache_dict": (CACHE_DICT, CACHE_DICT_SPEC),
    "output_and_cache": (OUTPUT_AND_CACHE, CACHE_DICT_SPEC),
    "cost_forward": (COST_FORWARD, COST_FORWARD_SPEC),
    "scores_tuple": (SCORES_TUPLE, SCORES_TUPLE_SPEC),
    "cnn_step": (CNN_STEP, CNN_STEP_SPEC),
    "same_shapes": (SAME_SHAPES, SAME_SHAPES_SPEC),
    "output_is_target": (OUTPUT_IS_TARGET, OUTPUT_IS_TARGET_SPEC),
}


def setup(tmp_path: Path, style: str, find: str = "", replace: str = "") -> Path:
    code, spec = CASES[style]
    write_case(tmp_path, code, spec, find, replace)
    return tmp_path / "spec.yaml"


def about(report: dict) -> str:
    return "\n".join(report["specs"][0]["about"])


@pytest.mark.parametrize("style", sorted(CASES))
def test_correct_code_in_each_shape_is_called_and_clean(tmp_path, style):
    code, report = diagnose(setup(tmp_path, style))
    assert code == 0, (errors(report), about(report))
    findings = report["specs"][0]["findings"]
    assert not [f for f in findings if f["code"] in ("G101", "G103", "G105", "U101")]
    assert "arrays that move the loss" in about(report)


def test_a_bare_tuple_is_named_by_the_return_statement_and_each_argument_by_its_name(tmp_path):
    _, report = diagnose(setup(tmp_path, "tuple_args"))
    said = about(report)
    assert "parameters: W1, b1, W2, b2" in said and "return statement" in said
    assert "forward_prop: W1, b1, W2, b2 ← your parameters; X ← the batch" in said
    assert "Z1, A1, Z2, A2 ← what forward_prop returned" in said


def test_without_a_return_statement_to_read_the_tuple_is_named_in_the_forwards_order(tmp_path):
    """`return tuple(arrays)` names nothing: the arrays take the forward's parameter names in the
    order it takes them, and the check still finds a bug on the right tensor."""
    spec = setup(
        tmp_path,
        "tuple_args",
        "    return W1, b1, W2, b2\n",
        "    arrays = [W1, b1, W2, b2]\n    return tuple(arrays)\n",
    )
    _, report = diagnose(spec)
    assert "in the order your forward takes them" in about(report)
    buggy = (tmp_path / "net.py").read_text().replace("* (Z1 > 0)", "* (A1 > 1)")
    (tmp_path / "net.py").write_text(buggy, encoding="utf-8")
    code, report = diagnose(spec)
    roots = [f for f in errors(report) if f["code"] == "G101" and f["root_cause"]]
    assert code == 1 and roots[0]["location"]["parameter"] == "b1", roots


def test_a_tuple_in_another_order_than_the_forward_takes_is_named_by_shape(tmp_path):
    """`return tuple([W1, W2, b1, b2])` (nothing named) for `forward_prop(W1, b1, W2, b2, X)`:
    taken in the forward's order, b1 would be a matrix; the weights go to the weight-named
    parameters and the vectors to the bias-named ones, in order, and the code is clean."""
    spec = setup(
        tmp_path,
        "tuple_args",
        "    return W1, b1, W2, b2\n",
        "    arrays = [W1, W2, b1, b2]\n    return tuple(arrays)\n",
    )
    code, report = diagnose(spec)
    assert code == 0, errors(report)
    assert "weights and biases by their shapes" in about(report)


def test_the_output_of_a_forward_returning_scores_and_hidden_is_the_last_computed(tmp_path):
    """`return z, h` with h computed first: z is the output, and a backward's `yhat` that the
    spec's loss takes through softmax is given the probabilities (it is said, by values)."""
    _, report = diagnose(setup(tmp_path, "scores_tuple"))
    said = about(report)
    assert "output (4, 8)" in said  # z: (V, m), not h (N, m)
    assert "the output as probabilities, by values" in said


def test_a_forward_that_takes_y_gives_its_cost_as_the_loss(tmp_path):
    """`forward_propagation_n(X, Y, parameters) -> (cost, cache)`: the spec declares no loss;
    the cost their forward returns is the loss their backward is checked against."""
    code, report = diagnose(setup(tmp_path, "cost_forward"))
    assert code == 0, errors(report)
    assert "your forward returns the loss" in about(report)


def test_a_name_the_values_contradict_is_bound_by_values_and_said(tmp_path):
    _, report = diagnose(setup(tmp_path, "output_is_target"))
    said = about(report)
    assert "backward: output ← the targets, by values" in said


@pytest.mark.parametrize(
    ("style", "find", "replace", "first"),
    [
        # tanh's derivative taken on Z1: the hidden layer only
        ("cost_forward", "(1 - A1**2)", "(1 - Z1**2)", "b1"),
        # the ReLU mask forgotten: the hidden layer only
        ("tuple_args", "dZ1 = W2.T.dot(dZ2) * (Z1 > 0)", "dZ1 = W2.T.dot(dZ2)", "b1"),
        # tanh's derivative on Z instead of A, second hidden layer: W2, b2 and everything below
        ("cache_dict", '* (1 - cache["A2"] ** 2)', '* (1 - cache["Z2"] ** 2)', "b2"),
        # dW3 without the 1/m every other gradient has: W3 alone is off (by m), the rest agree
        ("output_and_cache", 'dW3 = (cache["A2"] @ dZ3.T) / m', 'dW3 = cache["A2"] @ dZ3.T', "W3"),
        # the hidden delta's sign flipped: W1 and b1 only
        ("scores_tuple", "l1 = W2.T @ (yhat - y)", "l1 = W2.T @ (y - yhat)", "b1"),
        # the conv's ReLU mask taken from the wrong side: the conv layer only
        ("cnn_step", "* (conv > 0)", "* (conv < 0)", "layers[0]['b']"),
        # the output delta without tanh's derivative: every layer from the output
        ("same_shapes", " * (1 - A**2)", "", "b[2]"),
        # the hidden layer's derivative given the pre-activation's tanh twice
        ("output_is_target", "(1 - hidden**2)", "(1 - np.tanh(hidden) ** 2)", "W1"),
    ],
)
def test_a_planted_bug_is_found_on_the_right_tensor(tmp_path, style, find, replace, first):
    code, report = diagnose(setup(tmp_path, style, find, replace))
    assert code == 1, (errors(report), about(report))
    roots = [f for f in errors(report) if f["code"] == "G101" and f["root_cause"]]
    assert roots and roots[0]["location"]["parameter"] == first, roots


def test_gradients_in_either_layer_order_are_matched_by_their_values(tmp_path):
    """Every layer of Deep(4, 3) has a (4, 4) weight and a (4,) bias: the order of the pairs the
    backward returns is found by values, so the output layer first and the input layer first
    are both read right (clean), never taken by position alone."""
    for find, replace in (("", ""), ("grads.append(", "grads.insert(0, ")):
        code, report = diagnose(setup(tmp_path, "same_shapes", find, replace))
        assert code == 0, (find, errors(report))


def test_a_layer_without_parameters_gives_an_empty_list_among_the_gradients(tmp_path):
    """A layer list whose ReLU has no parameters: `[{W, b} of the output, [], {W, b} of the
    conv]` is read by shape, and a bug in the conv's gradient is still on the conv."""
    returned = 'return [{"W": dW2, "b": db2}, {"W": dW1, "b": db1}], loss'
    with_gap = 'return [{"W": dW2, "b": db2}, [], {"W": dW1, "b": db1}], loss'
    code, report = diagnose(setup(tmp_path, "cnn_step", returned, with_gap))
    assert code == 0, errors(report)
    buggy = (
        (tmp_path / "net.py")
        .read_text()
        .replace("db1 = dconv.sum(axis=(0, 2, 3))", "db1 = dconv.sum(axis=(0, 2, 3)) * 2")
    )
    (tmp_path / "net.py").write_text(buggy, encoding="utf-8")
    code, report = diagnose(tmp_path / "spec.yaml")
    wrong = {f["location"]["parameter"] for f in errors(report)}
    assert code == 1 and wrong == {"layers[0]['b']"}, errors(report)


def test_a_relu_exactly_at_its_kink_is_left_unjudged_not_called_wrong(tmp_path):
    """Zero pixels under a zero conv bias put every such unit of their ReLU exactly at 0: the
    loss has no derivative in the bias there, and a correct backward (relu'(0) = 0) is not a
    G101 — the differences that straddle the kink are left out (nnfix cannot see their ReLU: the
    slopes on the two sides tell it). A real bug in the same layer's weights is still found."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 1, 6, 6))
    x[:, :, :3, :] = 0.0  # the top half of every image is background
    np.savez(tmp_path / "batch.npz", x=x, y=np.arange(8) % 3)
    spec = setup(tmp_path, "cnn_step", '"b": np.full(filters, 0.05)', '"b": np.zeros(filters)')
    text = spec.read_text().replace(
        "data: {source: images, shape: [1, 6, 6], classes: 3, samples: 8}",
        "data: {source: npz, path: batch.npz}",
    )
    spec.write_text(text, encoding="utf-8")
    code, report = diagnose(spec)
    assert code == 0 and not errors(report), errors(report)
    net = (tmp_path / "net.py").read_text()
    (tmp_path / "net.py").write_text(net.replace("dW1 += ", "dW1 -= "), encoding="utf-8")
    code, report = diagnose(spec)
    wrong = {f["location"]["parameter"] for f in errors(report) if f["code"] == "G101"}
    assert code == 1 and "layers[0]['W']" in wrong, errors(report)


def test_a_parameter_nnfix_cannot_bind_is_exit_2_naming_it_and_arguments(tmp_path):
    spec = setup(
        tmp_path,
        "tuple_args",
        "def forward_prop(W1, b1, W2, b2, X):",
        "def forward_prop(W1, b1, W2, b2, X, keep_prob):",
    )
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2, result.output
    assert "keep_prob" in result.output and "arguments" in result.output
    assert "Traceback" not in result.output and "U101" not in result.output


def test_two_names_for_the_output_that_the_values_cannot_tell_apart_is_a_question(tmp_path):
    """A backward symmetric in `output` and `predicted` gives the same gradients whichever is
    the target: nnfix asks (exit 2 naming both and `arguments:`), never guesses."""
    spec = setup(
        tmp_path,
        "output_is_target",
        "d_out = 2 * (predicted - output) / len(output) * predicted * (1 - predicted)",
        "d_out = np.abs(predicted - output) * (predicted + output)",
    )
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2, result.output
    assert "output and predicted" in result.output and "arguments" in result.output
    assert "Traceback" not in result.output


def test_a_parameter_is_bound_by_its_own_name_then_by_its_spelling_after_its_role():
    """`named` values (a parameter array, what the forward returned) bind a parameter of the
    same name before its role; spelt otherwise (case, underscores) after its role: `a1` is the
    A1 it returned, while `AL` stays the output even where an `al` was returned."""

    def backward(Z_1, a1, AL, cache, data_train):
        return Z_1, a1, AL, cache, data_train

    record: dict[str, str] = {}
    named = {"Z1": "z", "A1": "a", "al": "not the output", "cache": "the named cache"}
    values = {"X": "batch", "cache": "the cache", "output": "out"}
    args, kwargs = bind(backward, "backward", values, depth=2, named=named, record=record)
    assert backward(*args, **kwargs) == ("z", "a", "out", "the named cache", "batch")
    assert record == {"Z_1": "Z1", "a1": "A1", "AL": "output", "cache": "cache", "data_train": "X"}


def test_the_names_of_what_a_function_returns_come_from_its_return_statements():
    def forward(X, W1, b1):
        Z1 = W1 @ X + b1
        A1 = np.tanh(Z1)
        if X is None:
            return None
        return Z1, A1

    def made():
        W1, b1 = np.ones((2, 3)), np.zeros((2, 1))
        return W1, b1

    def unnamed():
        return tuple([np.ones((2, 3)), np.zeros((2, 1))])

    assert returned_names(forward) == ["Z1", "A1"]
    assert assigned_order(forward, ["A1", "Z1"]) == ["Z1", "A1"]
    arrays = made()
    by_return = name_tuple(arrays, made, forward)
    assert by_return is not None
    named, how = by_return
    assert list(named) == ["W1", "b1"] and named["b1"] is arrays[1] and "return" in how
    by_shape = name_tuple(arrays[::-1], unnamed, forward)
    assert by_shape is not None
    named, how = by_shape
    assert named["W1"] is arrays[0] and "by their shapes" in how
