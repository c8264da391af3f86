"""Y101 on the values the user's own code trains from (SPEC §3.3, §3.5), where their code is the
network: a hidden weight whose units start identical and stay tied is named at the line of their
code that makes it — in a deeplearning.ai-style dict module, a class and a script — and the
healthy twin of each, or a net whose zeros the maths breaks out of, stays silent; a naive conv and
a character RNN alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.own_cases import diagnose, errors, findings, lines_with, plant, write_case
from tests.test_own_binding import CNN_STEP, CNN_STEP_SPEC
from tests.test_own_sequences import MIN_CHAR, MIN_CHAR_SPEC

# deeplearning.ai style: initialize_parameters returns a dict, samples as columns
DICT = """
import numpy as np


def initialize_parameters(n_x, n_h, n_y):
    np.random.seed(1)
    W1 = np.random.randn(n_h, n_x) * 0.5
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.5
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def forward_propagation(X, parameters):
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    Z1 = np.dot(W1, X) + b1
    A1 = np.tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = 1 / (1 + np.exp(-Z2))
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(A2, Y):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m)


def backward_propagation(parameters, cache, X, Y):
    m = X.shape[1]
    A1, A2 = cache["A1"], cache["A2"]
    dZ2 = A2 - Y
    dW2 = np.dot(dZ2, A1.T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = np.dot(parameters["W2"].T, dZ2) * (1 - np.power(A1, 2))
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
"""

DICT_SPEC = """
seed: 0
data: {source: moons, samples: 64, noise: 0.1}
loss: bce
implementation:
  module: net.py
  model: initialize_parameters(2, 4, 1)
  forward: forward_propagation
  backward: backward_propagation
  loss: compute_cost
"""

# a class: weights on self, samples as rows, the gradients stored on the object
CLASS = """
import numpy as np


class TwoLayerNet:
    def __init__(self, n_in, n_hidden, n_out):
        rng = np.random.default_rng(0)
        self.W1 = rng.standard_normal((n_in, n_hidden)) * np.sqrt(1 / n_in)
        self.b1 = np.zeros(n_hidden)
        self.W2 = rng.standard_normal((n_hidden, n_out)) * np.sqrt(1 / n_hidden)
        self.b2 = np.zeros(n_out)

    def forward(self, X):
        self.X = X
        self.h = np.maximum(X @ self.W1 + self.b1, 0)
        self.out = 1 / (1 + np.exp(-(self.h @ self.W2 + self.b2)))
        return self.out

    def loss(self, out, y):
        return float(np.mean((out - y) ** 2))

    def backward(self, y):
        m = y.shape[0]
        dz2 = 2 * (self.out - y) / m * self.out * (1 - self.out)
        self.dW2 = self.h.T @ dz2
        self.db2 = dz2.sum(axis=0)
        dz1 = dz2 @ self.W2.T * (self.h > 0)
        self.dW1 = self.X.T @ dz1
        self.db1 = dz1.sum(axis=0)
"""

CLASS_SPEC = """
seed: 0
data: {source: moons, samples: 64, noise: 0.1}
loss: mse
implementation:
  module: net.py
  model: TwoLayerNet(2, 5, 1)
  forward: forward
  backward: backward
  loss: loss
"""

# a homework script: globals, a top-level training loop, samples as rows
SCRIPT = """
import numpy as np

np.random.seed(42)
X = np.random.randn(200, 2)
y = (X[:, 0] * X[:, 1] > 0).astype(float).reshape(-1, 1)

W1 = np.random.randn(2, 8) * 0.5
b1 = np.zeros((1, 8))
W2 = np.random.randn(8, 1) * 0.5
b2 = np.zeros((1, 1))
lr = 0.5

for epoch in range(2000):
    z1 = X @ W1 + b1
    a1 = np.tanh(z1)
    a2 = 1 / (1 + np.exp(-(a1 @ W2 + b2)))
    n = X.shape[0]
    dz2 = a2 - y
    dW2 = a1.T @ dz2 / n
    db2 = np.sum(dz2, axis=0, keepdims=True) / n
    dz1 = dz2 @ W2.T * (1 - a1**2)
    dW1 = X.T @ dz1 / n
    db1 = np.sum(dz1, axis=0, keepdims=True) / n
    W1 -= lr * dW1
    b1 -= lr * db1
    W2 -= lr * dW2
    b2 -= lr * db2
"""

SCRIPT_SPEC = """
seed: 0
data: {source: moons, samples: 64, noise: 0.1}
loss: bce
implementation:
  module: net.py
  script: true
"""

# (style, code, spec, the init lines, the zero-init twin's, the hidden weight, its unit axis)
STYLES = {
    "dict": (
        DICT,
        DICT_SPEC,
        "    W1 = np.random.randn(n_h, n_x) * 0.5\n    b1 = np.zeros((n_h, 1))\n"
        "    W2 = np.random.randn(n_y, n_h) * 0.5\n",
        "    W1 = np.zeros((n_h, n_x))\n    b1 = np.zeros((n_h, 1))\n"
        "    W2 = np.zeros((n_y, n_h))\n",
        "W1",
        0,
    ),
    "class": (
        CLASS,
        CLASS_SPEC,
        "        self.W1 = rng.standard_normal((n_in, n_hidden)) * np.sqrt(1 / n_in)\n"
        "        self.b1 = np.zeros(n_hidden)\n"
        "        self.W2 = rng.standard_normal((n_hidden, n_out)) * np.sqrt(1 / n_hidden)\n",
        "        self.W1 = np.zeros((n_in, n_hidden))\n        self.b1 = np.zeros(n_hidden)\n"
        "        self.W2 = np.zeros((n_hidden, n_out))\n",
        "W1",
        1,
    ),
    "script": (
        SCRIPT,
        SCRIPT_SPEC,
        "W1 = np.random.randn(2, 8) * 0.5\nb1 = np.zeros((1, 8))\nW2 = np.random.randn(8, 1) * 0.5\n",
        "W1 = np.zeros((2, 8))\nb1 = np.zeros((1, 8))\nW2 = np.zeros((8, 1))\n",
        "W1",
        1,
    ),
}


def y101(report: dict) -> list[dict]:
    return [f for f in findings(report) if f["code"] == "Y101"]


@pytest.mark.parametrize("style", sorted(STYLES))
def test_the_healthy_twin_is_silent(tmp_path, style):
    code, spec, *_ = STYLES[style]
    exit_code, report = diagnose(write_case(tmp_path, code, spec))
    assert y101(report) == [], y101(report)
    assert errors(report) == [], errors(report)
    assert exit_code == 0, findings(report)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_zeros_throughout_are_y101_at_the_hidden_weight_and_its_line(tmp_path, style):
    """Zeros before zeros: no weight moves the loss alone (the arrays get no gradient at all),
    yet they are the net's; the hidden one is named, the output layer's is not."""
    code, spec, healthy, zeros, weight, axis = STYLES[style]
    exit_code, report = diagnose(write_case(tmp_path, code, spec, healthy, zeros))
    found = y101(report)
    assert [f["location"]["parameter"] for f in found] == [weight], findings(report)
    assert found[0]["severity"] == "error"
    assert found[0]["evidence"]["axis"] == axis, found[0]["evidence"]
    source = found[0]["location"]["source"]
    line = zeros.splitlines()[0]
    assert source["code"] == line.strip(), source
    numbered = (tmp_path / "net.py").read_text().splitlines()
    assert numbered[source["line"] - 1] == line, source
    assert exit_code == 1


def test_constant_weights_that_move_the_loss_are_tied_by_the_measured_slope(tmp_path):
    """Constant weights other than zero: every array moves the loss, and pulling two of W1's
    units apart leaves it unchanged to first order — they get the same gradient."""
    _, report = diagnose(_constant(tmp_path))
    found = y101(report)
    assert [f["location"]["parameter"] for f in found] == ["W1"], findings(report)
    assert found[0]["evidence"]["weight"] == pytest.approx(0.3)
    assert found[0]["location"]["source"]["code"] == "W1 = np.full((n_h, n_x), 0.3)"


def _constant(tmp_path):
    code = DICT.replace(
        "    W2 = np.random.randn(n_y, n_h) * 0.5\n", "    W2 = np.full((n_y, n_h), 0.2)\n"
    )
    return write_case(
        tmp_path,
        code,
        DICT_SPEC,
        "    W1 = np.random.randn(n_h, n_x) * 0.5\n",
        "    W1 = np.full((n_h, n_x), 0.3)\n",
    )


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        (  # the output layer's random weights tell the hidden units apart: the tie breaks
            "    W1 = np.random.randn(n_h, n_x) * 0.5\n",
            "    W1 = np.zeros((n_h, n_x))\n",
        ),
        (  # a bias that differs per unit breaks it too
            "    W1 = np.random.randn(n_h, n_x) * 0.5\n    b1 = np.zeros((n_h, 1))\n",
            "    W1 = np.zeros((n_h, n_x))\n    b1 = np.random.randn(n_h, 1)\n",
        ),
    ],
    ids=["output-weights-random", "hidden-bias-random"],
)
def test_zeros_the_maths_breaks_out_of_are_not_y101(tmp_path, find, replace):
    _, report = diagnose(write_case(tmp_path, DICT, DICT_SPEC, find, replace))
    assert y101(report) == [], y101(report)


def test_weights_of_one_sign_are_y104_warnings_at_their_lines(tmp_path):
    """Uniform on [0, 1) for both weights (24 and 12 values: no chance of a zero-centred draw):
    a warning at each, at the line that makes it; the code still exits 0 (nothing at error
    level)."""
    find = STYLES["class"][2]
    replace = (
        "        self.W1 = rng.random((n_in, n_hidden))\n        self.b1 = np.zeros(n_hidden)\n"
        "        self.W2 = rng.random((n_hidden, n_out))\n"
    )
    spec = CLASS_SPEC.replace("TwoLayerNet(2, 5, 1)", "TwoLayerNet(2, 12, 1)")
    exit_code, report = diagnose(write_case(tmp_path, CLASS, spec, find, replace))
    found = [f for f in findings(report) if f["code"] == "Y104"]
    assert [f["location"]["parameter"] for f in found] == ["W1", "W2"], findings(report)
    assert {f["severity"] for f in found} == {"warning"}
    assert [f["location"]["source"]["code"] for f in found] == [
        "self.W1 = rng.random((n_in, n_hidden))",
        "self.W2 = rng.random((n_hidden, n_out))",
    ]
    assert y101(report) == [] and errors(report) == [], findings(report)
    assert exit_code == 0


def test_a_few_weights_of_one_sign_by_chance_are_not_y104(tmp_path):
    """Five output weights from [0, 1): one sign, but a zero-centred draw of five gives that one
    time in sixteen — not judged."""
    find = STYLES["class"][2]
    replace = find.replace(
        "rng.standard_normal((n_hidden, n_out)) * np.sqrt(1 / n_hidden)",
        "rng.random((n_hidden, n_out))",
    )
    _, report = diagnose(write_case(tmp_path, CLASS, CLASS_SPEC, find, replace))
    assert [f for f in findings(report) if f["code"] == "Y104"] == [], findings(report)


def test_weights_of_both_signs_are_not_y104(tmp_path):
    find = "    W1 = np.random.randn(n_h, n_x) * 0.5\n"
    replace = "    W1 = np.random.rand(n_h, n_x) - 0.5\n"
    _, report = diagnose(write_case(tmp_path, DICT, DICT_SPEC, find, replace))
    assert [f for f in findings(report) if f["code"] == "Y104"] == [], findings(report)


# other architectures, as the neighbouring tests write them: (code, spec, zeros planted, the
# tied hidden weights with their unit axis, the line that makes the first)
OTHERS = {
    "naive-conv": (
        CNN_STEP,
        CNN_STEP_SPEC,
        [
            ("rng.normal(size=(filters, 1, 3, 3)) * 0.5", "np.zeros((filters, 1, 3, 3))"),
            ("rng.normal(size=(filters * 16, classes)) * 0.2", "np.zeros((filters * 16, classes))"),
        ],
        {"layers[0]['W']": 0},  # the filters' axis, told by the conv bias's length
        "self.layers = [",
    ),
    "min-char-rnn": (
        MIN_CHAR,
        MIN_CHAR_SPEC,
        [
            (f"rng.normal(size=({shape})) * 0.3", f"np.zeros(({shape}))")
            for shape in (
                "hidden_size, vocab_size",
                "hidden_size, hidden_size",
                "vocab_size, hidden_size",
            )
        ]
        + [("bh = rng.normal(size=(hidden_size, 1)) * 0.1", "bh = np.zeros((hidden_size, 1))")],
        {"Wxh": 0, "Whh": 0},  # both hidden: the input's and the recurrence's
        "Wxh = np.zeros((hidden_size, vocab_size))",
    ),
}


@pytest.mark.parametrize("arch", sorted(OTHERS))
def test_tied_units_of_a_conv_and_an_rnn_from_values(tmp_path, arch):
    code, spec, planted, tied, line = OTHERS[arch]
    healthy = tmp_path / "healthy"
    healthy.mkdir()
    exit_code, report = diagnose(write_case(healthy, code, spec))
    assert y101(report) == [] and errors(report) == [], findings(report)
    assert exit_code == 0
    for find, replace in planted:
        assert code.count(find) == 1, find
        code = code.replace(find, replace)
    _, report = diagnose(write_case(tmp_path, code, spec))
    found = y101(report)
    assert {f["location"]["parameter"]: f["evidence"]["axis"] for f in found} == tied, found
    assert found[0]["location"]["source"]["code"] == line, found[0]["location"]


STYLE_FOLDERS = Path(__file__).parent / "styles"

# a style folder of tests/styles/ with both weights planted as constants: (file, edits, the tied
# weight, the text of the line that makes it — one entry of a `return {…}` written over lines)
ENTRIES = {
    "python-lists": (
        "pure_python_net.py",
        [
            (
                "[[random.uniform(-1, 1) for _ in range(n_inputs)]",
                "[[0.0 for _ in range(n_inputs)]",
            ),
            (
                "[[random.uniform(-1, 1) for _ in range(n_hidden)]",
                "[[0.0 for _ in range(n_hidden)]",
            ),
        ],
        "hidden_w",
        '"hidden_w": [[0.0 for _ in range(n_inputs)]',
    ),
    "notebook-torch": (
        "spirals.ipynb",
        [
            ("rng.normal(0, 1, (n_in, n_hidden))", "np.zeros((n_in, n_hidden))"),
            (
                "rng.normal(0, 1 / np.sqrt(n_hidden), (n_hidden, n_out))",
                "np.zeros((n_hidden, n_out))",
            ),
        ],
        "W1",
        "'W1': np.zeros((n_in, n_hidden)),",
    ),
}


@pytest.mark.parametrize("style", sorted(ENTRIES))
def test_a_weight_made_inside_a_dict_literal_is_named_at_its_entry(tmp_path, style):
    file_name, edits, weight, line = ENTRIES[style]
    folder = shutil.copytree(STYLE_FOLDERS / style, tmp_path / style)
    for find, replace in edits:
        plant(folder / file_name, find, replace)
    _, report = diagnose(folder / "spec.yaml")
    found = y101(report)
    assert [f["location"]["parameter"] for f in found] == [weight], findings(report)
    source = found[0]["location"]["source"]
    wanted = lines_with(folder / file_name, line)
    assert len(wanted) == 1, line
    assert (source.get("cell"), source["line"]) in wanted, source
