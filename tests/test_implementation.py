"""Checking the user's own forward/backward (SPEC §3): correct code is clean; each planted
bug is found with the right rule at the right tensor; signatures are bound by name."""

import json
import textwrap

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
    assert "np.sum(dZ, axis=1, keepdims=True)" in g103.fix.description


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
    used = CORRECT.replace("    m = X.shape[1]\n", "    m = X.shape[1]\n    h5py_not_here.File\n")
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
