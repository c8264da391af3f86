"""Checking the user's own forward/backward (SPEC §3): correct code is clean; each planted
bug is found with the right rule at the right tensor; signatures are bound by name."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.diagnose.context import Context, Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.errors import InputError
from nnfix.spec.load import load_spec

# deeplearning.ai style, columns layout: X (2, m), W1 (4, 2), W2 (4, 4), W3 (1, 4)
CORRECT = """
import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def sigmoid_derivative(a):
    return a * (1 - a)

def forward(parameters, X):
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    Z1 = W1 @ X + b1
    A1 = np.tanh(Z1)
    Z2 = W2 @ A1 + b2
    A2 = np.tanh(Z2)
    Z3 = W3 @ A2 + b3
    A3 = sigmoid(Z3)
    return A3, {"A0": X, "Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "Z3": Z3, "A3": A3}

def backward(parameters, cache, X, Y):
    m = X.shape[1]
    A1, A2, A3 = cache["A1"], cache["A2"], cache["A3"]
    dA3 = -(Y / A3 - (1 - Y) / (1 - A3))
    dZ3 = dA3 * sigmoid_derivative(A3)
    dW3 = dZ3 @ A2.T / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dA2 = parameters["W3"].T @ dZ3
    dZ2 = dA2 * (1 - A2**2)
    dW2 = dZ2 @ A1.T / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = parameters["W2"].T @ dZ2
    dZ1 = dA1 * (1 - A1**2)
    dW1 = dZ1 @ X.T / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3, "dA1": dA1}
"""

SPEC = """
data: {{source: moons, samples: 120}}
model:
  init: xavier_normal
  bias_init: {{name: normal, std: 0.1}}
  layers:
    - {{units: 4, activation: tanh}}
    - {{units: 4, activation: tanh}}
    - {{units: 1, activation: sigmoid}}
loss: bce
implementation:
  module: net.py
  forward: {forward}
  backward: {backward}
  layout: {layout}
"""


def setup(tmp_path, code, forward="forward", backward="backward", layout="columns"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "net.py").write_text(textwrap.dedent(code))
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(forward=forward, backward=backward, layout=layout))
    return path


def findings(path):
    report = diagnose(load_spec(path), Selection(["G", "U"]), Options(quick=True))
    return report.findings


def errors(found):
    return [(f.code, f.location.parameter) for f in found if f.severity.value == "error"]


def test_correct_columns_implementation_is_clean(tmp_path):
    assert errors(findings(setup(tmp_path, CORRECT))) == []


@pytest.mark.parametrize(
    ("old", "new", "code", "tensor", "kind"),
    [
        ("dZ2 = dA2 * (1 - A2**2)", "dZ2 = -dA2 * (1 - A2**2)", "G101", "W2", "sign flipped"),
        ("dW2 = dZ2 @ A1.T / m", "dW2 = dZ2 @ A1.T", "G101", "W2", "scaled by the batch size"),
        (
            "dZ3 = dA3 * sigmoid_derivative(A3)",
            "dZ3 = dA3 * sigmoid_derivative(cache['Z3'])",
            "G101",
            "W3",
            None,
        ),
        ('dA1 = parameters["W2"].T @ dZ2', 'dA1 = parameters["W2"] @ dZ2', "G101", "W1", None),
        ("dW2 = dZ2 @ A1.T / m", "dW2 = dZ2 @ A2.T / m", "G101", "W2", None),
    ],
)
def test_planted_gradient_bug_found_at_its_tensor(tmp_path, old, new, code, tensor, kind):
    assert old in CORRECT
    found = findings(setup(tmp_path, CORRECT.replace(old, new)))
    first = next(f for f in found if f.code == code and f.evidence.get("first_wrong"))
    assert first.location.parameter == tensor
    if kind:
        assert first.evidence["classification"].startswith(kind)


def test_bias_not_summed_is_a_shape_finding_with_the_fix(tmp_path):
    code = CORRECT.replace("db1 = np.sum(dZ1, axis=1, keepdims=True) / m", "db1 = dZ1 / m")
    (g103,) = [f for f in findings(setup(tmp_path, code)) if f.code == "G103"]
    assert g103.location.parameter == "b1" and "not summed over the" in g103.message
    # the line `nnfix fix` writes, in the user's names (dZ1, not a generic dZ)
    assert (
        g103.fix.description
        == "sum over the samples: `db1 = np.sum(dZ1, axis=1, keepdims=True) / m`"
    )


def test_gradient_keys_swapped_between_two_tensors_of_one_shape(tmp_path):
    code = CORRECT.replace(
        '{"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2',
        '{"dW1": dW1, "db1": db2, "dW2": dW2, "db2": db1',
    )
    wrong = {f.location.parameter for f in findings(setup(tmp_path, code)) if f.code == "G101"}
    assert wrong == {"b1", "b2"}


def test_missing_gradient_key(tmp_path):
    code = CORRECT.replace('"dW3": dW3, ', "")
    (g103,) = [f for f in findings(setup(tmp_path, code)) if f.code == "G103"]
    assert g103.location.parameter == "W3" and "'dW3'" in g103.message  # the key it wanted


def test_function_that_raises_shows_the_users_traceback(tmp_path):
    code = CORRECT.replace(
        "    m = X.shape[1]\n", "    m = X.shape[1]\n    assert m == 7, 'expected 7 samples'\n"
    )
    (u101,) = [f for f in findings(setup(tmp_path, code)) if f.code == "U101"]
    assert "AssertionError: expected 7 samples" in u101.message
    assert (
        'net.py", line' in u101.evidence["traceback"] and "nnfix/" not in u101.evidence["traceback"]
    )


def test_function_that_returns_none(tmp_path):
    code = CORRECT.replace('    return {"dW1"', '    grads = {"dW1"')
    (u101,) = [f for f in findings(setup(tmp_path, code)) if f.code == "U101"]
    assert "returned None" in u101.message and "no return statement" in u101.message
    assert u101.location.spec_path == "implementation.backward"


def test_forward_that_mutates_its_params(tmp_path):
    code = CORRECT.replace("    Z1 = W1 @ X + b1", "    W1 *= 0.5\n    Z1 = W1 @ X + b1")
    found = findings(setup(tmp_path, code))
    (u101,) = [f for f in found if f.code == "U101"]
    assert u101.severity.value == "warning" and u101.evidence["mutated"] == ["W1"]


def test_forward_that_computes_another_network(tmp_path):
    code = CORRECT.replace("A2 = np.tanh(Z2)", "A2 = np.maximum(Z2, 0)")
    (u102,) = [f for f in findings(setup(tmp_path, code)) if f.code == "U102"]
    assert u102.location.layer == 2


@pytest.mark.parametrize(
    ("signature", "call"),
    [
        (
            "def backward(AL, Y, caches):",
            "    X = caches['A0']\n    cache = caches\n    parameters = PARAMS[0]\n",
        ),
        ("def backward(parameters, cache, X, Y):", ""),
        ("def backward(Y, parameters, X, cache):", ""),
    ],
)
def test_backward_signatures_are_bound_by_name(tmp_path, signature, call):
    code = CORRECT.replace("def backward(parameters, cache, X, Y):\n", signature + "\n" + call)
    code = code.replace(
        "def forward(parameters, X):\n",
        "PARAMS = [None]\n\ndef forward(parameters, X):\n    PARAMS[0] = parameters\n",
    )
    assert errors(findings(setup(tmp_path, code))) == []


def test_forward_with_the_course_signature_and_no_cache(tmp_path):
    code = CORRECT.replace("def forward(parameters, X):", "def L_model_forward(X, parameters):")
    code += "\n\ndef forward_only(parameters, X):\n    return L_model_forward(X, parameters)[0]\n"
    assert errors(findings(setup(tmp_path, code, forward="L_model_forward"))) == []


def test_unbindable_signature_is_a_clear_exit_2(tmp_path):
    code = CORRECT.replace(
        "def backward(parameters, cache, X, Y):", "def backward(grads_in, stuff):"
    )
    with pytest.raises(InputError) as caught:
        findings(setup(tmp_path, code))
    assert "cannot tell what to pass as 'grads_in'" in str(caught.value)
    assert "params/parameters, X/x/inputs, Y/y/labels" in str(caught.value)
    assert caught.value.problems[0].hint == "arguments: {grads_in: X}"


def test_a_missing_package_is_an_error_only_where_the_code_uses_it(tmp_path):
    path = setup(tmp_path, "import h5py_not_here\n" + CORRECT)
    result = CliRunner().invoke(main, ["diagnose", str(path), "--quick"])
    assert result.exit_code == 0, result.output  # imported, never used: skipped with a note
    used = CORRECT.replace(  # an attribute is a placeholder: opening the file is the use
        "    m = X.shape[1]\n", "    m = X.shape[1]\n    h5py_not_here.File('w.h5')\n"
    )
    (u101,) = [
        f for f in findings(setup(tmp_path, "import h5py_not_here\n" + used)) if f.code == "U101"
    ]
    assert "h5py_not_here is not installed (pip install h5py_not_here)" in u101.message


ROWS = """
import numpy as np

def forward(params, X):
    A, cache = X, {"A0": X}
    for l in (1, 2, 3):
        Z = A @ params[f"W{l}"] + params[f"b{l}"]
        A = np.tanh(Z) if l < 3 else 1 / (1 + np.exp(-Z))
        cache[f"A{l}"] = A
    return A, cache

def backward(params, cache, X, Y):
    m = X.shape[0]
    dZ = cache["A3"] - Y
    grads = {}
    for l in (3, 2, 1):
        grads[f"dW{l}"] = cache[f"A{l - 1}"].T @ dZ / m
        grads[f"db{l}"] = dZ.sum(axis=0, keepdims=True) / m
        if l > 1:
            dZ = (dZ @ params[f"W{l}"].T) * (1 - cache[f"A{l - 1}"] ** 2)
    return grads
"""


def test_correct_rows_implementation_is_clean_and_trains_like_the_engine(tmp_path):
    path = setup(tmp_path, ROWS, layout="rows")
    assert errors(findings(path)) == []
    result = CliRunner().invoke(
        main,
        [
            "train",
            str(path),
            "--compare",
            "--no-progress",
            "--format",
            "json",
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "5",
        ],
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["parted_at_epoch"] is None
    # float32 as the spec says; the user's code orders its sums differently from the engine's
    assert summary["loss_curve"] == pytest.approx(summary["reference_loss_curve"], rel=1e-5)


def test_buggy_code_parts_from_the_engine_when_trained(tmp_path):
    path = setup(tmp_path, CORRECT.replace("dZ2 = dA2 * (1 - A2**2)", "dZ2 = -dA2 * (1 - A2**2)"))
    result = CliRunner().invoke(
        main,
        [
            "train",
            str(path),
            "--compare",
            "--no-progress",
            "--format",
            "json",
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "5",
        ],
    )
    assert json.loads(result.stdout)["parted_at_epoch"] == 1


def test_probes_train_the_users_code(tmp_path):
    """The training probe runs their forward and backward: with every gradient's sign flipped
    (G105: -1 x the true one) their loss climbs; with their correct code it falls."""
    from nnfix.diagnose.context import Context

    climbing = setup(
        tmp_path / "climbing",
        CORRECT.replace(
            "dZ3 = dA3 * sigmoid_derivative(A3)", "dZ3 = -dA3 * sigmoid_derivative(A3)"
        ),
    )
    correct = setup(tmp_path / "correct", CORRECT)
    up = Context(load_spec(climbing), Options(budget=5)).probe
    down = Context(load_spec(correct), Options(budget=5)).probe
    assert np.nanmax(up.loss[1:]) > 5 * up.loss[0] and np.mean(down.loss[-5:]) < down.loss[0]
    report = diagnose(load_spec(climbing), Selection(), Options(quick=True))
    (g105,) = [f for f in report.findings if f.code == "G105"]
    assert g105.evidence["factor"] == pytest.approx(-1.0, rel=1e-3)
    assert errors(diagnose(load_spec(correct), Selection(), Options(budget=5)).findings) == []


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("columns", set()),
        ("rows", set()),
        ("class", set()),
        ("layers", set()),
        ("columns-buggy", {"G103"}),
        ("rows-buggy", {"G101"}),
        ("class-buggy", {"G103"}),
        ("layers-buggy", {"G101"}),
    ],
)
def test_bundled_examples(folder, expected):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / folder / "spec.yaml"
    found = findings(path)
    assert {f.code for f in found if f.severity.value == "error"} == expected
    if folder == "rows-buggy":
        first = next(f for f in found if f.code == "G101" and f.evidence["first_wrong"])
        assert first.location.parameter == "W3"
    if folder in ("columns-buggy", "class-buggy"):
        assert sorted(f.location.parameter for f in found if f.code == "G103") == ["b1", "b2", "b3"]
    if folder == "layers-buggy":
        first = next(f for f in found if f.code == "G101" and f.evidence["first_wrong"])
        assert first.location.parameter == "W1" and "W2 and b2 match" in first.message


def test_gradient_keys_match_case_insensitively_and_extra_keys_are_ignored(tmp_path):
    code = CORRECT.replace('{"dW1": dW1, "db1": db1,', '{"dw1": dW1, "DB1": db1, "dZ3": dZ3,')
    assert errors(findings(setup(tmp_path, code))) == []


CLASS_NET = """
import numpy as np

class Net:
    def __init__(self, sizes):
        rng = np.random.default_rng(1)
        self.W = [rng.normal(0, (1 / a) ** 0.5, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros((1, b)) for b in sizes[1:]]

    def forward(self, X):
        self.a = [X]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = self.a[-1] @ W + b
            self.a.append(1 / (1 + np.exp(-z)) if i == len(self.W) - 1 else np.tanh(z))
        return self.a[-1]

    def backward(self, X, Y):
        delta = (self.a[-1] - Y) / len(X)
        dW, db = [None] * len(self.W), [None] * len(self.W)
        for i in reversed(range(len(self.W))):
            dW[i] = self.a[i].T @ delta
            db[i] = delta.sum(axis=0, keepdims=True)
            if i:
                delta = (delta @ self.W[i].T) * (1 - self.a[i] ** 2)
        return dW, db
"""


def _class_spec(tmp_path, code, dtype):
    (tmp_path / "net.py").write_text(textwrap.dedent(code))
    path = tmp_path / "spec.yaml"
    path.write_text(
        "data: {source: circles, samples: 120}\nmodel:\n  layers:\n"
        "    - {units: 6, activation: tanh}\n    - {units: 1, activation: sigmoid}\n"
        f"loss: bce\ntrain: {{lr: 0.5, epochs: 30, dtype: {dtype}}}\n"
        "implementation: {module: net.py, model: 'Net([2, 6, 1])', forward: forward, "
        "backward: backward, init: yours}\n"
    )
    return path


def _probed(path):
    ctx = Context(load_spec(path), Options(budget=60))
    assert ctx.probe is not None and len(ctx.probe.loss) > 1
    return ctx


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", ["functions", "class"])
def test_the_probes_train_the_users_parameters_in_the_specs_dtype(tmp_path, shape, dtype):
    """As nnfix's engine trains in train.dtype, so do the probes on the user's code: their
    parameters are held as train.dtype arrays, and their forward computes in it."""
    if shape == "functions":
        path = setup(tmp_path, CORRECT)
        path.write_text(path.read_text() + f"train: {{epochs: 30, dtype: {dtype}}}\n")
    else:
        path = _class_spec(tmp_path, CLASS_NET, dtype)
    ctx = _probed(path)
    assert {str(p.ref.get().dtype) for p in ctx.user.params} == {dtype}
    assert ctx.user.out_dtype == np.dtype(dtype)
    assert ctx.trained_dtype == dtype
    assert not any("train.dtype" in note for note in ctx.user.found.notes)


def test_code_that_computes_in_float64_anyway_says_why_it_is_not_trained_in_float32(tmp_path):
    code = CLASS_NET.replace("self.a = [X]", "self.a = [np.asarray(X, dtype=np.float64)]")
    ctx = _probed(_class_spec(tmp_path, code, "float32"))
    assert ctx.trained_dtype == "float64"
    assert {str(p.ref.get().dtype) for p in ctx.user.params} == {"float64"}
    (note,) = [n for n in ctx.user.found.notes if n.startswith("train.dtype float32")]
    assert "float64" in note and "forward returned float64" in note


# --- what the network cannot represent, and symptoms of a bug (issue 21) ----------------------

# A learner's net without bias terms (weights only, rows layout), trained on word presence.
NO_BIAS = """
import numpy as np

class SimpleNet:
    def __init__(self, n_in, n_hidden, n_out):
        rng = np.random.default_rng(3)
        self.w_ih = rng.normal(0.0, n_in ** -0.5, (n_in, n_hidden))
        self.w_ho = rng.normal(0.0, n_hidden ** -0.5, (n_hidden, n_out))

    def forward(self, X):
        self.h = np.tanh(X @ self.w_ih)
        self.out = 1.0 / (1.0 + np.exp(-(self.h @ self.w_ho)))
        return self.out

    def backward(self, X, Y):
        err = (self.out - Y) / X.shape[0]
        grad_ho = self.h.T @ err
        grad_ih = X.T @ ((err @ self.w_ho.T) * (1 - self.h ** 2))
        return grad_ih, grad_ho
"""

NO_BIAS_SPEC = """
seed: 0
data: {source: csv, path: words.csv}
model:
  init: xavier_normal
  bias: false
  layers:
    - {units: 8, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
implementation:
  module: simple_net.py
  model: SimpleNet(6, 8, 1)
  forward: forward
  backward: backward
"""


def test_code_without_biases_cannot_reach_empty_inputs_and_that_is_no_bug(tmp_path):
    """Their code is right; it has no biases, so an empty document gets 0.5 whatever the
    weights: D103 (with a fix in their code, not the spec), and the T106 it causes."""
    from .test_diagnose_static import words

    lines = words(tmp_path)
    (tmp_path / "simple_net.py").write_text(textwrap.dedent(NO_BIAS))
    (tmp_path / "spec.yaml").write_text(NO_BIAS_SPEC)
    report = diagnose(load_spec(tmp_path / "spec.yaml"), Selection(), Options(budget=60))
    (d103,) = [f for f in report.findings if f.code == "D103"]
    assert d103.evidence["rows"] == lines and d103.fix.path is None
    assert not [f for f in report.findings if f.code == "G101"]  # their gradients are right
    (t106,) = [f for f in report.findings if f.code == "T106"]
    assert t106.caused_by == ["D103"]


# Two ReLU layers, deeplearning.ai style (columns), He init in their own initialiser.
RELU = """
import numpy as np

def relu(Z):
    return np.maximum(0, Z)

def forward(X, parameters):
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    A1 = relu(Z1)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    A2 = relu(Z2)
    Z3 = np.dot(parameters["W3"], A2) + parameters["b3"]
    A3 = 1 / (1 + np.exp(-Z3))
    return A3, (X, Z1, A1, Z2, A2, Z3, A3)

def backward(parameters, cache, Y):
    X, Z1, A1, Z2, A2, Z3, A3 = cache
    m = X.shape[1]
    dZ3 = A3 - Y
    dW3 = np.dot(dZ3, A2.T) / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dZ2 = np.dot(parameters["W3"].T, dZ3) * (Z2 > 0)
    dW2 = np.dot(dZ2, A1.T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = np.dot(parameters["W2"].T, dZ2) * (Z1 > 0)
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3}
"""

RELU_SPEC = """
seed: 0
data: {source: moons, samples: 300, noise: 0.1}
model:
  init: he_normal
  layers:
    - {units: 16, activation: relu}
    - {units: 16, activation: relu}
    - {units: 1, activation: sigmoid}
loss: bce
train: {lr: 0.5, epochs: 300, batch_size: 32}
implementation:
  module: net.py
  forward: forward
  backward: backward
"""


def relu_report(folder, old=None, new=None):
    folder.mkdir(parents=True, exist_ok=True)
    assert old is None or old in RELU
    code = RELU if old is None else RELU.replace(old, new)
    (folder / "net.py").write_text(textwrap.dedent(code))
    (folder / "spec.yaml").write_text(RELU_SPEC)
    return diagnose(load_spec(folder / "spec.yaml"), Selection(), Options(budget=60))


def test_units_a_wrong_gradient_kills_are_its_symptom_not_a_relu_problem(tmp_path):
    """db1 with its sign flipped: layer 1's biases climb the loss, and in the probe most of
    layer 2's units die. They are the bug's symptom (under G101), not a root cause whose fix
    is leaky_relu; with the right sign no unit dies."""
    report = relu_report(tmp_path / "bug", "db1 = np.sum(", "db1 = -np.sum(")
    (t107,) = [f for f in report.findings if f.code == "T107"]
    assert t107.caused_by[0] == "G101" and not t107.is_root_cause
    roots = [f.code for f in report.findings if f.is_root_cause]
    assert roots == ["G101"]
    healthy = relu_report(tmp_path / "correct")
    assert {"T107", "M101", "M102", "G101"} & {f.code for f in healthy.findings} == set()


def test_an_output_gradient_of_zero_is_said_to_be_zero_not_an_infinite_ratio(tmp_path):
    """dW3 = (1 // m) * ...: an integer division makes the output layer's gradient exactly 0.
    ‖dW1‖ / ‖dW3‖ is then no ratio — no M102 "inf× the output layer's" — and M101 says the
    output layer's gradient is zero, as the symptom of the G101 that names dW3."""
    report = relu_report(
        tmp_path, "dW3 = np.dot(dZ3, A2.T) / m", "dW3 = (1 // m) * np.dot(dZ3, A2.T)"
    )
    assert "M102" not in [f.code for f in report.findings]
    assert not [f for f in report.findings if "inf" in f.message]
    (m101,) = [f for f in report.findings if f.code == "M101"]
    assert m101.location.layer == 3 and "output layer's gradient is zero" in m101.message
    assert m101.caused_by == ["G101"]


SOFTMAX_ROWS = """
import numpy as np

def forward(params, X):
    h = np.tanh(X @ params["W1"] + params["b1"])
    z = h @ params["W2"] + params["b2"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), (X, h)

def backward(params, cache, probs, Y):
    X, h = cache
    delta2 = (probs - Y) / len(X)
    delta1 = (delta2 @ params["W2"].T) * (1 - h**2)
    return {"W1": X.T @ delta1, "b1": delta1.sum(axis=0, keepdims=True),
            "W2": h.T @ delta2, "b2": delta2.sum(axis=0, keepdims=True)}
"""


@pytest.mark.parametrize("highest", [9, 2])
def test_targets_the_output_cannot_take_with_user_code_are_d103_not_an_internal_error(
    tmp_path, highest
):
    """Labels 0–9 for 3 softmax units leave no targets to call the user's code with: the
    report's header says their code was not run (it used to assert), D103 is the finding."""
    labels = np.arange(40) % (highest + 1)
    x = np.random.default_rng(0).normal(size=(40, 2))
    np.savez(tmp_path / "d.npz", x=x, y=labels)
    (tmp_path / "net.py").write_text(textwrap.dedent(SOFTMAX_ROWS))
    (tmp_path / "spec.yaml").write_text(
        "data: {source: npz, path: d.npz}\n"
        "model:\n  layers:\n    - {units: 5, activation: tanh}\n"
        "    - {units: 3, activation: softmax}\n"
        "loss: cce\n"
        "implementation: {module: net.py, forward: forward, backward: backward, layout: rows}\n"
    )
    args = ["diagnose", str(tmp_path / "spec.yaml"), "--quick", "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert "internal error" not in result.output + result.stderr
    report = json.loads(result.stdout)["specs"][0]
    codes = {f["code"] for f in report["findings"] if f["severity"] == "error"}
    if highest == 9:
        assert result.exit_code == 1 and codes == {"D103"}
        assert any("not run: your code" in line for line in report["about"])
    else:  # the same code on labels it can take: run, and clean
        assert result.exit_code == 0 and codes == set()
        assert not any("not run: your code" in line for line in report["about"])


def _grads_a(params, cache, X, Y):
    grads = {"db1": X}
    return grads


def _grads_b(params, cache, X, Y):
    nabla_b, nabla_w = [X, X], [Y, Y]
    if X is None:
        return (nabla_b, nabla_w)
    return nabla_b, nabla_w


def _grads_c(params, cache, X, Y):
    db1 = X

    def helper():
        return {"other": 1}

    return 0.5, {"dW1": X @ Y, "db1": db1}


def test_paths_into_a_return_value_are_spelled_as_the_code_spells_them():
    """A message names a gradient as the user's code does (`grads['db1']`, `nabla_w[0]`), or as
    the call's value indexed (`backward(…)[1][0]`), never as a bare `['db1']` or `[1][0]`."""
    from nnfix.usercode.spelling import spell

    assert spell("['db1']", _grads_a, "backward") == "grads['db1']"
    assert spell("[1][0]", _grads_b, "backprop") == "nabla_w[0]"
    assert spell("[1]['db1']", _grads_c, "backward") == "db1"  # (loss, grads): past the loss
    assert spell("[1]['dW1']", _grads_c, "backward") == "backward(…)[1]['dW1']"  # X @ Y: no name
    assert spell("[0]", len, "backward") == "backward(…)[0]"  # no source to read


NIELSEN_ROWS = """
import numpy as np

def forward(params, X):
    h = np.tanh(X @ params["W1"] + params["b1"])
    return 1 / (1 + np.exp(-(h @ params["W2"] + params["b2"]))), (X, h)

def backward(params, cache, output, Y):
    X, h = cache
    delta = (output - Y) / len(X)
    nabla_b = [None, np.sum(delta, axis=0, keepdims=True)]
    nabla_w = [None, h.T @ delta]
    delta = (delta @ params["W2"].T) * (1 - h**2)
    nabla_b[0] = delta
    nabla_w[0] = X.T @ delta
    return nabla_w, nabla_b
"""


def test_a_shape_finding_names_the_gradient_in_the_codes_own_spelling(tmp_path):
    (tmp_path / "net.py").write_text(textwrap.dedent(NIELSEN_ROWS))
    (tmp_path / "spec.yaml").write_text(
        "data: {source: moons, samples: 60}\n"
        "model:\n  layers:\n    - {units: 4, activation: tanh}\n"
        "    - {units: 1, activation: sigmoid}\n"
        "loss: bce\n"
        "implementation: {module: net.py, forward: forward, backward: backward, layout: rows}\n"
    )
    (g103,) = [f for f in findings(tmp_path / "spec.yaml") if f.code == "G103"]
    assert g103.location.parameter == "b1"
    assert "the gradient of b1 (nabla_b[0]) has shape" in g103.message
    assert "([" not in g103.message
    # the sum alone (delta holds the 1/m), on the line that gives it as the gradient
    assert g103.fix.description == (
        "sum over the samples: `nabla_b[0] = np.sum(delta, axis=0, keepdims=True)`"
    )


HANGING = CORRECT.replace(
    "    W1, b1, W2, b2, W3, b3 = (",
    "    while True:\n        pass\n    W1, b1, W2, b2, W3, b3 = (",
)


@pytest.mark.parametrize("budget", [None, 0.5])
def test_a_forward_that_hangs_while_nnfix_finds_its_way_round_it_is_a_u101(tmp_path, budget):
    """The first call past the timeout stops it; the next way of calling it is skipped (the
    call hung before), which used to lose the error: PASS, exit 0. With a budget shorter than
    the timeout, the checks that report it are skipped, and the error met is reported anyway."""
    path = setup(tmp_path, HANGING)
    path.write_text(path.read_text() + "  timeout: 1\n")
    args = ["diagnose", str(path), "--quick", "--format", "json"]
    result = CliRunner().invoke(main, args + (["--budget", str(budget)] if budget else []))
    assert result.exit_code == 1, result.output
    found = json.loads(result.stdout)["specs"][0]["findings"]
    (u101,) = [f for f in found if f["code"] == "U101"]
    assert "forward did not return within 1 s" in u101["message"]
    assert u101["location"]["source"]["code"] == "while True:"


def test_a_budget_that_runs_out_invents_no_error_in_correct_code(tmp_path):
    path = setup(tmp_path, CORRECT)
    result = CliRunner().invoke(main, ["diagnose", str(path), "--quick", "--budget", "0.01"])
    assert result.exit_code == 0, result.output
    assert "U101" not in result.output


# --- a forward that returns scores; a check that could verify nothing --------------------------

SCORES = """
import numpy as np


def forward(params, X):
    h = np.tanh(X @ params["W1"] + params["b1"])
    scores = h @ params["W2"] + params["b2"]
    return scores, (h, scores)


def backward(params, cache, X, Y):
    h, scores = cache
    m = X.shape[0]
    if scores.shape[1] == 1:
        p = 1 / (1 + np.exp(-scores))
    else:
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    dscores = (p - Y) / m
    dW2 = h.T @ dscores
    db2 = dscores.sum(axis=0, keepdims=True)
    dh = dscores @ params["W2"].T
    dz = dh * (1 - h**2)
    dW1 = X.T @ dz
    db1 = dz.sum(axis=0, keepdims=True)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
"""

SCORES_SPEC = """
data: {data}
model:
  layers:
    - {{units: 8, activation: tanh}}
    - {{units: {units}, activation: {output}}}
loss: {loss}
implementation:
  module: net.py
  forward: forward
  backward: backward
"""

SCORED = [  # (output, loss, units, data)
    ("softmax", "cce", 3, "{source: blobs, classes: 3, samples: 90}"),
    ("sigmoid", "bce", 1, "{source: moons, samples: 90}"),
]


def scores_case(tmp_path, output, loss, units, data, code=SCORES):
    (tmp_path / "net.py").write_text(code)
    path = tmp_path / "spec.yaml"
    path.write_text(SCORES_SPEC.format(data=data, units=units, output=output, loss=loss))
    return path


@pytest.mark.parametrize(("output", "loss", "units", "data"), SCORED)
def test_a_forward_that_returns_scores_is_read_through_the_spec_output(
    tmp_path, output, loss, units, data
):
    """cs231n's `loss(X)` returns the class scores: the loss takes them as probabilities only
    through the spec's output activation, and their correct backward is checked and clean."""
    path = scores_case(tmp_path, output, loss, units, data)
    report = diagnose(load_spec(path), Selection(), Options(quick=True))
    assert [f.code for f in report.findings] == [], [f.message for f in report.findings]
    assert report.verdict == "pass"
    (note,) = [line for line in report.about if line.startswith("output:")]
    assert f"{loss}({output}(scores))" in note
    assert CliRunner().invoke(main, ["diagnose", str(path), "--quick"]).exit_code == 0


@pytest.mark.parametrize(("output", "loss", "units", "data"), SCORED)
def test_a_bug_behind_a_forward_that_returns_scores_exits_1(tmp_path, output, loss, units, data):
    """The tanh derivative written 1 − h: before, every tensor was unverifiable (the loss of
    the scores was not finite), one G104 info, PASS and exit 0 on a real bug."""
    code = SCORES.replace("dz = dh * (1 - h**2)", "dz = dh * (1 - h)")
    path = scores_case(tmp_path, output, loss, units, data, code)
    report = diagnose(load_spec(path), Selection(), Options(quick=True))
    g101 = [f for f in report.findings if f.code == "G101"]
    assert [f.location.parameter for f in g101] == ["W1", "b1"]
    source = g101[0].location.source
    assert source is not None and source.code == "dz = dh * (1 - h)"
    assert not [f for f in report.findings if f.code == "G104"]
    done = CliRunner().invoke(main, ["diagnose", str(path), "--quick", "--format", "json"])
    assert done.exit_code == 1 and json.loads(done.output)["verdict"] == "fail"


SATURATED = """
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(X, parameters):
    A1 = sigmoid(parameters["W1"] @ X + parameters["b1"])
    A2 = sigmoid(parameters["W2"] @ A1 + parameters["b2"])
    return A2, (X, A1, A2)


def compute_cost(AL, Y):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)


def backward(parameters, cache, Y):
    X, A1, A2 = cache
    m = X.shape[1]
    dZ2 = A2 - Y
    dA1 = parameters["W2"].T @ dZ2
    dZ1 = dA1 * A1 * (1 - A1)
    return {
        "dW1": dZ1 @ X.T / m,
        "db1": np.sum(dZ1, axis=1, keepdims=True) / m,
        "dW2": dZ2 @ A1.T / m,
        "db2": np.sum(dZ2, axis=1, keepdims=True) / m,
    }
"""


def saturated_case(tmp_path, std):
    """Pixels 0–255 unscaled into sigmoids: with weights of std 20 every output is exactly 0
    or 1, so their own cost takes log(0) wherever the check moves a parameter."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (40, 4)).round()
    np.savez(tmp_path / "pixels.npz", x=x, y=(x[:, 0] > x[:, 1]).astype(float))
    (tmp_path / "net.py").write_text(SATURATED)
    path = tmp_path / "spec.yaml"
    path.write_text(
        "seed: 0\ndata: {source: npz, path: pixels.npz, scale: "
        + ("none" if std > 1 else "minmax")
        + "}\nmodel:\n"
        f"  init: {{name: normal, std: {std}}}\n"
        "  layers:\n    - {units: 32, activation: sigmoid}\n"
        "    - {units: 1, activation: sigmoid}\nloss: bce\n"
        "implementation:\n  module: net.py\n  forward: forward\n  backward: backward\n"
        "  loss: compute_cost\n  layout: columns\n"
    )
    return path


def test_a_check_that_verified_nothing_is_a_warning_and_never_a_pass(tmp_path):
    path = saturated_case(tmp_path, std=20.0)
    report = diagnose(load_spec(path), Selection(), Options(quick=True))
    (g104,) = [f for f in report.findings if f.code == "G104"]
    assert g104.severity.value == "warning" and g104.evidence["gradients_checked"] is False
    assert g104.message.startswith("the gradients were not checked: no tensor could be verified")
    assert "the loss is not finite" in g104.message
    assert report.verdict == "unchecked"
    done = CliRunner().invoke(main, ["diagnose", str(path), "--quick", "--format", "json"])
    assert done.exit_code == 0 and json.loads(done.output)["verdict"] == "unchecked"
    done = CliRunner().invoke(main, ["diagnose", str(path), "--quick", "--fail-on", "warning"])
    assert done.exit_code == 1 and done.output.startswith("FAIL")  # a warning it fails on


def test_the_same_net_scaled_is_checked(tmp_path):
    report = diagnose(
        load_spec(saturated_case(tmp_path, std=1.0)), Selection(), Options(quick=True)
    )
    assert not report.failed and not [f for f in report.findings if f.code == "G104"]


# --- a cost that carries its own penalty (T106 judges the data term) ------------------------

REGULARISED = """
import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def forward_propagation(X, parameters):
    W1, b1, W2, b2 = parameters["W1"], parameters["b1"], parameters["W2"], parameters["b2"]
    Z1 = np.dot(W1, X) + b1
    A1 = np.maximum(0, Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = sigmoid(Z2)
    return A2, (Z1, A1, W1, b1, Z2, A2, W2, b2)

def compute_cost_with_regularization(A2, Y, parameters, lambd):
    m = Y.shape[1]
    cross_entropy_cost = -np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m
    W1, W2 = parameters["W1"], parameters["W2"]
    L2_regularization_cost = lambd / (2 * m) * (np.sum(np.square(W1)) + np.sum(np.square(W2)))
    return cross_entropy_cost + L2_regularization_cost

def backward_propagation_with_regularization(X, Y, cache, lambd):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2) = cache
    dZ2 = A2 - Y
    dW2 = 1.0 / m * np.dot(dZ2, A1.T) + lambd / m * W2
    db2 = 1.0 / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1.0 / m * np.dot(dZ1, X.T) + lambd / m * W1
    db1 = 1.0 / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ2": dZ2, "dW2": dW2, "db2": db2, "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
"""

REGULARISED_SPEC = """
seed: 0
data: {{source: moons, samples: 200, noise: 0.2}}
model:
  init: he_normal
  layers:
    - {{units: 16, activation: relu}}
    - {{units: 1, activation: sigmoid}}
loss: bce
train: {{lr: 0.3, epochs: 2000, batch_size: full}}
implementation:
  module: net.py
  forward: forward_propagation
  backward: backward_propagation_with_regularization
  loss: compute_cost_with_regularization
  arguments: {{lambd: {lambd}}}
"""


def _regularised(tmp_path, code=REGULARISED, lambd=0.7):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "net.py").write_text(textwrap.dedent(code))
    path = tmp_path / "spec.yaml"
    path.write_text(REGULARISED_SPEC.format(lambd=lambd))
    return path


def test_a_cost_with_its_own_l2_term_is_judged_on_its_data_term(tmp_path):
    """λ/(2m)·ΣW² with λ = 0.7 is a mild penalty on 200 samples and a heavy one on the overfit
    probe's 8: with it, the cross-entropy cannot get under 0.25. Their own penalty is measured
    (their cost minus the spec's BCE, the same whatever the targets) and taken out: correct code
    gets no T106."""
    path = _regularised(tmp_path)
    report = diagnose(load_spec(path), Selection(["T106", "G"]), Options(budget=60))
    assert [f.code for f in report.findings] == []
    ctx = Context(load_spec(path))
    x, y = ctx.data.x_train[:8], ctx.y_train[:8]
    net = ctx.trainable("float64")
    W1, W2 = ctx.user_values["W1"], ctx.user_values["W2"]
    l2 = 0.7 / (2 * 8) * (np.sum(W1**2) + np.sum(W2**2))
    assert net.penalty(x, y, ctx.loss) == pytest.approx(l2, rel=1e-9)
    assert (
        _regularised(tmp_path / "none", lambd=0)
        and Context(load_spec(tmp_path / "none" / "spec.yaml"))
        .trainable("float64")
        .penalty(x, y, ctx.loss)
        == 0.0
    )


def test_a_regularised_cost_whose_output_delta_forgets_y_still_cannot_fit(tmp_path):
    """dZ2 = A2 (the − Y forgotten): taking their penalty out leaves that bug as it is, and the
    net still cannot fit its 8 samples — a T106 error beside the G101."""
    code = REGULARISED.replace("dZ2 = A2 - Y", "dZ2 = A2")
    report = diagnose(load_spec(_regularised(tmp_path, code)), Selection([]), Options(budget=60))
    found = {f.code: f for f in report.findings}
    assert "G101" in found and found["T106"].severity.value == "error"
    assert found["T106"].evidence["penalty_at_start"] > 0


# --- an in-place update that climbs the loss (SPEC §3.5) ------------------------------------

BLOG = Path(__file__).parent / "usercode" / "blog-in-place-update"


def _blog(tmp_path, *changes):
    for name in ("spec.yaml", "neural_network.py"):
        text = (BLOG / name).read_text(encoding="utf-8")
        for find, replace in changes:
            text = text.replace(find, replace)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / "spec.yaml"


def test_an_update_that_climbs_the_loss_is_a_bug_not_a_convention(tmp_path):
    """The blog's update adds its descent direction (built from y − output); `-=` on both
    weights adds the gradient instead: every tensor reads as −1 × the true gradient, which for
    an update is no convention but a climb."""
    spec = _blog(
        tmp_path,
        ("self.weights1 += d_weights1", "self.weights1 -= d_weights1"),
        ("self.weights2 += d_weights2", "self.weights2 -= d_weights2"),
    )
    report = diagnose(load_spec(spec), Selection(), Options(quick=True, budget=60))
    codes = [f.code for f in report.findings]
    assert "G105" not in codes, codes
    (climb,) = [f for f in report.findings if f.code == "G101"]
    assert climb.severity.value == "error" and "climbs the loss" in climb.message
    assert climb.location.parameter == "W2" and climb.evidence["factor"] == pytest.approx(-1)


def test_the_same_update_descending_is_no_finding(tmp_path):
    report = diagnose(load_spec(_blog(tmp_path)), Selection(), Options(quick=True, budget=60))
    assert not [f for f in report.findings if f.code in ("G101", "G105")]
