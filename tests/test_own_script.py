"""`script: true` (SPEC §3.2 E): the training loop is top-level code. nnfix runs what comes before
the loop, puts its batch in place of the data the loop reads, runs one pass of the loop's body and
reads the gradient from the update as −Δ / the step size the code shows. Each script is written
here as a learner of some course or book would, correct and with planted bugs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnfix.cli import main
from tests.own_cases import diagnose, errors

# a book's listing: weight arrays as globals, data read from files beside it (not there: nnfix's
# batch stands in), one sample per step over zip(inputs, targets), the backward written into the
# updates, a half squared error per sample
PER_SAMPLE = """
import numpy as np

inputs = np.load("train_images.npy")
targets = np.eye(3)[np.load("train_labels.npy")]

rng = np.random.default_rng(7)
W1 = rng.uniform(-0.5, 0.5, (6, 4))
b1 = np.zeros((6, 1))
W2 = rng.uniform(-0.5, 0.5, (3, 6))
b2 = np.zeros((3, 1))
lr = 0.05

for epoch in range(20):
    right = 0
    for x, t in zip(inputs, targets):
        x = x.reshape(-1, 1)
        t = t.reshape(-1, 1)
        hpre = W1 @ x + b1
        h = np.tanh(hpre)
        o = 1 / (1 + np.exp(-(W2 @ h + b2)))
        cost = 0.5 * np.sum((o - t) ** 2)
        right += int(np.argmax(o) == np.argmax(t))
        delta_o = (o - t) * o * (1 - o)
        delta_h = (W2.T @ delta_o) * (1 - h ** 2)
        W2 -= lr * delta_o @ h.T
        b2 -= lr * delta_o
        W1 -= lr * delta_h @ x.T
        b1 -= lr * delta_h
    print("epoch", epoch, right / len(inputs))

import matplotlib.pyplot as plt
plt.plot([1, 2, 3])
plt.show()
"""

PER_SAMPLE_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 32}
loss: {name: mse, scale: 0.5, reduction: sum}
implementation:
  module: net.py
  script: true
  arguments: {inputs: X, targets: Y}
  per_sample: true
"""

# a course's flat script: a params dict and functions defined above, its own data made at top
# level (samples as columns), a full-batch loop whose update loops over the dict
FULL_BATCH = """
import numpy as np


def make_data(n):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2, n))
    Y = (X[0] * X[1] > 0).astype(float).reshape(1, n)
    return X, Y


def init_params(n_x, n_h, n_y):
    rng = np.random.default_rng(2)
    return {
        "W1": rng.normal(size=(n_h, n_x)) * 0.5,
        "b1": np.zeros((n_h, 1)) + 0.1,
        "W2": rng.normal(size=(n_y, n_h)) * 0.5,
        "b2": np.zeros((n_y, 1)),
    }


def forward(X, params):
    Z1 = params["W1"] @ X + params["b1"]
    A1 = np.tanh(Z1)
    Z2 = params["W2"] @ A1 + params["b2"]
    A2 = 1 / (1 + np.exp(-Z2))
    return A2, {"Z1": Z1, "A1": A1, "A2": A2}


def cost_of(A2, Y):
    m = Y.shape[1]
    return -np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m


def backward(params, cache, X, Y):
    m = X.shape[1]
    dZ2 = cache["A2"] - Y
    dW2 = dZ2 @ cache["A1"].T / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = (params["W2"].T @ dZ2) * (1 - cache["A1"] ** 2)
    dW1 = dZ1 @ X.T / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


X, Y = make_data(200)
params = init_params(X.shape[0], 5, Y.shape[0])
learning_rate = 0.5
costs = []
for i in range(2000):
    A2, cache = forward(X, params)
    costs.append(cost_of(A2, Y))
    grads = backward(params, cache, X, Y)
    for key in params:
        params[key] -= learning_rate * grads["d" + key]
    if i % 100 == 0:
        print(i, costs[-1])
"""

FULL_BATCH_SPEC = """
seed: 0
data: {source: moons, samples: 64, noise: 0.1}
loss: bce
implementation:
  module: net.py
  script: true
"""

# a notebook: cells that make the data (samples as rows), the parameters, then the loop, with a
# softmax and integer labels (probs[range(m), y] -= 1) as the cs231n notes write it
NOTEBOOK_CELLS = [
    "import numpy as np",
    """
def spiral(n, k):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n * k, 2))
    y = np.repeat(np.arange(k), n)
    X += y[:, None]
    return X, y

X, y = spiral(40, 3)
num_examples = X.shape[0]
""",
    """
rng = np.random.default_rng(5)
h = 8
W = 0.5 * rng.normal(size=(2, h))
b = np.zeros((1, h)) + 0.05
W2 = 0.5 * rng.normal(size=(h, 3))
b2 = np.zeros((1, 3))
step_size = 1e-1
""",
    """
for i in range(3000):
    hidden = np.maximum(0, X @ W + b)
    scores = hidden @ W2 + b2
    exp_scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    data_loss = np.sum(-np.log(probs[range(num_examples), y])) / num_examples
    if i % 1000 == 0:
        print(i, data_loss)
    dscores = probs.copy()
    dscores[range(num_examples), y] -= 1
    dscores /= num_examples
    dW2 = hidden.T @ dscores
    db2 = np.sum(dscores, axis=0, keepdims=True)
    dhidden = dscores @ W2.T
    dhidden[hidden <= 0] = 0
    dW = X.T @ dhidden
    db = np.sum(dhidden, axis=0, keepdims=True)
    W += -step_size * dW
    b += -step_size * db
    W2 += -step_size * dW2
    b2 += -step_size * db2
""",
    "import matplotlib.pyplot as plt\nplt.scatter(X[:, 0], X[:, 1], c=y)",
]

NOTEBOOK_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 2, samples: 32}
loss: cce
implementation:
  module: net.ipynb
  script: true
  arguments: {X: X, y: Y}
"""

# a blog's XOR listing: the data as literals, no data: in the spec (the script's own data), the
# updates rebinding the globals, a summed half squared error
LITERALS = """
import numpy as np

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([[0], [1], [1], [0]], dtype=float)

np.random.seed(3)
w1 = np.random.uniform(-1, 1, (2, 4))
b1 = np.random.uniform(-1, 1, (1, 4))
w2 = np.random.uniform(-1, 1, (4, 1))
b2 = np.random.uniform(-1, 1, (1, 1))
alpha = 0.5


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


epoch = 0
while epoch < 10000:
    hidden = sigmoid(X @ w1 + b1)
    out = sigmoid(hidden @ w2 + b2)
    error = out - y
    d_out = error * out * (1 - out)
    d_hidden = d_out @ w2.T * hidden * (1 - hidden)
    dw2 = hidden.T @ d_out
    db2 = np.sum(d_out, axis=0, keepdims=True)
    dw1 = X.T @ d_hidden
    db1 = np.sum(d_hidden, axis=0, keepdims=True)
    w2 = w2 - alpha * dw2
    b2 = b2 - alpha * db2
    w1 = w1 - alpha * dw1
    b1 = b1 - alpha * db1
    epoch += 1
    if epoch % 1000 == 0:
        break
print(out.round(2))
"""

LITERALS_SPEC = """
seed: 0
loss: {name: mse, scale: 0.5, reduction: sum}
implementation:
  module: net.py
  script: true
"""

# an exercise's script: the loop under `if __name__ == "__main__":`, one sample per step by its
# index (`for i in order: x = inputs[i]`, order = np.arange(n)), samples as rows, a linear output
# and the squared error, the functions above
INDEXED = """
import numpy as np


def relu(z):
    return np.maximum(z, 0)


def predict(x, w1, c1, w2, c2):
    a = relu(x @ w1 + c1)
    return a, a @ w2 + c2


if __name__ == "__main__":
    inputs = np.loadtxt("inputs.csv", delimiter=",")
    outputs = np.loadtxt("outputs.csv", delimiter=",")
    n = len(inputs)
    rng = np.random.default_rng(11)
    w1 = rng.normal(size=(3, 5)) * 0.7
    c1 = np.full(5, 0.2)
    w2 = rng.normal(size=(5, 1)) * 0.7
    c2 = np.zeros(1)
    eta = 0.01
    for epoch in range(100):
        order = np.arange(n)
        for i in order:
            x, t = inputs[i], outputs[i]
            a, out = predict(x, w1, c1, w2, c2)
            g_out = 2 * (out - t)
            g_a = (w2 @ g_out) * (a > 0)
            w2 -= eta * np.outer(a, g_out)
            c2 -= eta * g_out
            w1 -= eta * np.outer(x, g_a)
            c1 -= eta * g_a
"""

INDEXED_SPEC = """
seed: 0
data: {source: linear, features: 3, samples: 32}
loss: mse
implementation:
  module: net.py
  script: true
  arguments: {inputs: X, outputs: Y}
"""

# a tutorial's mini-batch loop: samples as rows, batches sliced by a range with a step, a sigmoid
# output and the mean binary cross-entropy of each batch
MINI_BATCH = """
import numpy as np

data = np.load("points.npz")
X, Y = data["x"], data["y"].reshape(-1, 1)
rng = np.random.default_rng(4)
W1 = rng.normal(size=(2, 6)) * 0.8
b1 = np.zeros((1, 6))
W2 = rng.normal(size=(6, 1)) * 0.8
b2 = np.zeros((1, 1))
lr, batch = 0.3, 4

for epoch in range(50):
    for s in range(0, len(X), batch):
        xb, yb = X[s : s + batch], Y[s : s + batch]
        A1 = np.tanh(xb @ W1 + b1)
        P = 1 / (1 + np.exp(-(A1 @ W2 + b2)))
        loss = -np.mean(yb * np.log(P) + (1 - yb) * np.log(1 - P))
        dZ2 = (P - yb) / len(xb)
        dW2 = A1.T @ dZ2
        db2 = dZ2.sum(axis=0, keepdims=True)
        dZ1 = dZ2 @ W2.T * (1 - A1 ** 2)
        W2 -= lr * dW2
        b2 -= lr * db2
        W1 -= lr * (xb.T @ dZ1)
        b1 -= lr * dZ1.sum(axis=0, keepdims=True)
"""

MINI_BATCH_SPEC = """
seed: 0
data: {source: moons, samples: 32}
loss: bce
implementation:
  module: net.py
  script: true
  arguments: {X: X, Y: Y}
"""

# a course's notebook turned script: the forward's values kept as entries of a dict and on a
# namespace object, samples as columns, the loss read from the namespace's attribute
ENTRIES = """
from types import SimpleNamespace

import numpy as np

X = np.random.default_rng(0).normal(size=(2, 20))
Y = (X[0:1] > 0).astype(float)
rng = np.random.default_rng(9)
weights = {"first": rng.normal(size=(5, 2)) * 0.7, "second": rng.normal(size=(1, 5)) * 0.7}
biases = {"first": np.zeros((5, 1)), "second": np.zeros((1, 1))}
fwd = {}
run = SimpleNamespace()
rate = 0.4

for it in range(300):
    n = X.shape[1]
    fwd["z1"] = weights["first"] @ X + biases["first"]
    fwd["h"] = np.tanh(fwd["z1"])
    fwd["z2"] = weights["second"] @ fwd["h"] + biases["second"]
    run.prob = 1 / (1 + np.exp(-fwd["z2"]))
    run.cost = -np.mean(Y * np.log(run.prob) + (1 - Y) * np.log(1 - run.prob))
    d_out = (run.prob - Y) / n
    d_hidden = (weights["second"].T @ d_out) * (1 - fwd["h"] ** 2)
    step = {"second": d_out @ fwd["h"].T, "first": d_hidden @ X.T}
    for layer in weights:
        weights[layer] -= rate * step[layer]
    biases["second"] -= rate * d_out.sum(axis=1, keepdims=True)
    biases["first"] -= rate * d_hidden.sum(axis=1, keepdims=True)
"""

ENTRIES_SPEC = """
seed: 0
data: {source: moons, samples: 24}
loss: bce
implementation:
  module: net.py
  script: true
"""

CASES = {
    "entries": (ENTRIES, ENTRIES_SPEC),
    "per_sample": (PER_SAMPLE, PER_SAMPLE_SPEC),
    "full_batch": (FULL_BATCH, FULL_BATCH_SPEC),
    "notebook": (NOTEBOOK_CELLS, NOTEBOOK_SPEC),
    "literals": (LITERALS, LITERALS_SPEC),
    "indexed": (INDEXED, INDEXED_SPEC),
    "mini_batch": (MINI_BATCH, MINI_BATCH_SPEC),
}


def setup(tmp_path: Path, style: str, find: str = "", replace: str = "", count: int = 1) -> Path:
    code, spec = CASES[style]
    if isinstance(code, list):
        import nbformat

        cells = [textwrap.dedent(c).strip() for c in code]
        if find:
            assert sum(c.count(find) for c in cells) == count, find
            cells = [c.replace(find, replace) for c in cells]
        book = nbformat.v4.new_notebook()
        book.cells = [nbformat.v4.new_markdown_cell("# a network by hand")]
        book.cells += [nbformat.v4.new_code_cell(c) for c in cells]
        nbformat.write(book, str(tmp_path / "net.ipynb"))
    else:
        if find:
            assert code.count(find) == count, find
            code = code.replace(find, replace)
        (tmp_path / "net.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(spec).lstrip(), encoding="utf-8")
    return tmp_path / "spec.yaml"


@pytest.mark.parametrize("style", sorted(CASES))
def test_a_correct_script_is_checked_and_clean(tmp_path, style):
    code, report = diagnose(setup(tmp_path, style))
    assert code == 0, errors(report)
    spec = report["specs"][0]
    assert not [f for f in spec["findings"] if f["code"] in ("G101", "G103", "G105", "U101")]
    about = " ".join(spec["about"])
    assert "4 arrays that move the loss" in about, about  # its parameters were found, and said
    assert "step size" in about


def test_a_mini_batch_loop_is_checked_a_batch_a_pass(tmp_path):
    _, report = diagnose(setup(tmp_path, "mini_batch"))
    about = " ".join(report["specs"][0]["about"])
    assert "one pass per 4 samples" in about, about
    code, report = diagnose(setup(tmp_path, "mini_batch", "(1 - A1 ** 2)", "(1 - A1)"))
    assert code == 1
    assert {f["location"]["parameter"] for f in errors(report) if f["code"] == "G101"} <= {
        "W1",
        "b1",
    }


def test_the_step_size_and_the_output_are_read_from_the_code(tmp_path):
    _, report = diagnose(setup(tmp_path, "per_sample"))
    about = " ".join(report["specs"][0]["about"])
    assert "step size: 0.05" in about
    assert "one pass per sample" in about and "output o" in about
    _, report = diagnose(setup(tmp_path, "notebook"))
    about = " ".join(report["specs"][0]["about"])
    assert "step size: 0.1" in about and "output probs" in about  # what its loss reads


@pytest.mark.parametrize(
    ("style", "find", "replace", "wrong"),
    [
        # tanh's derivative given the pre-activation: the hidden layer is wrong, the output right
        ("per_sample", "(1 - h ** 2)", "(1 - hpre ** 2)", {"W1", "b1"}),
        (
            "full_batch",
            '(1 - cache["A1"] ** 2)',
            '(1 - cache["Z1"] ** 2)',
            {"params['W1']", "params['b1']"},
        ),
        # the ReLU mask forgotten: the first layer only
        ("notebook", "dhidden[hidden <= 0] = 0", "pass", {"W", "b"}),
        # the output delta without sigmoid's derivative: every tensor, from the output on
        ("literals", "d_out = error * out * (1 - out)", "d_out = error", {"w1", "b1", "w2", "b2"}),
        # the ReLU's derivative taken of the output layer's delta: the hidden layer only
        (
            "indexed",
            "g_a = (w2 @ g_out) * (a > 0)",
            "g_a = (w2 @ g_out) * (g_out.sum() > 0)",
            {"w1", "c1"},
        ),
    ],
)
def test_a_wrong_derivative_is_a_g101_on_the_tensor_it_makes_wrong(
    tmp_path, style, find, replace, wrong
):
    code, report = diagnose(setup(tmp_path, style, find, replace))
    assert code == 1
    found = [f for f in errors(report) if f["code"] == "G101"]
    roots = [f for f in found if f["root_cause"]]
    assert roots and roots[0]["location"]["parameter"] in wrong, roots
    assert {f["location"]["parameter"] for f in found} <= wrong


@pytest.mark.parametrize(
    ("style", "find", "replace", "count"),
    [
        ("per_sample", "-= lr *", "+= lr *", 4),
        ("full_batch", "params[key] -= learning_rate", "params[key] += learning_rate", 1),
        ("notebook", "+= -step_size", "+= step_size", 4),
        ("literals", "- alpha *", "+ alpha *", 4),
        ("indexed", "-= eta *", "+= eta *", 4),
        ("mini_batch", "-= lr *", "+= lr *", 4),
    ],
)
def test_an_update_that_climbs_the_loss_is_a_g101_never_a_convention(
    tmp_path, style, find, replace, count
):
    code, report = diagnose(setup(tmp_path, style, find, replace, count))
    assert code == 1
    assert not [f for f in report["specs"][0]["findings"] if f["code"] == "G105"]
    (climbs,) = [f for f in errors(report) if "climbs the loss" in f["message"]]
    assert climbs["code"] == "G101"


def test_one_update_with_the_wrong_sign_is_a_g101_on_its_tensor(tmp_path):
    code, report = diagnose(setup(tmp_path, "per_sample", "W1 -= lr *", "W1 += lr *"))
    assert code == 1
    (wrong,) = [f for f in errors(report) if f["code"] == "G101"]
    assert wrong["location"]["parameter"] == "W1"


def test_a_bias_gradient_not_summed_is_a_shape_finding(tmp_path):
    spec = setup(
        tmp_path, "literals", "db1 = np.sum(d_hidden, axis=0, keepdims=True)", "db1 = d_hidden"
    )
    code, report = diagnose(spec)
    assert code == 1
    (shaped,) = [f for f in errors(report) if f["code"] == "G103"]
    assert shaped["location"]["parameter"] == "b1"
    assert "(4, 4)" in shaped["message"] and "(1, 4)" in shaped["message"]


@pytest.mark.parametrize(
    ("style", "find", "replace", "bias", "shapes"),
    [
        (
            "full_batch",
            "db2 = np.sum(dZ2, axis=1, keepdims=True) / m",
            "db2 = dZ2 / m",
            "params['b2']",
            ("(1, 8)", "(1, 1)"),
        ),
        (
            "notebook",
            "db = np.sum(dhidden, axis=0, keepdims=True)",
            "db = dhidden",
            "b",
            ("(8, 8)", "(1, 8)"),
        ),
    ],
)
def test_a_bias_gradient_not_summed_in_an_in_place_update_is_a_shape_finding(
    tmp_path, style, find, replace, bias, shapes
):
    """`b -= lr * db` with db (n, m): NumPy cannot broadcast the step into b, and that is the
    gradient's shape (G103 at the update's line), not a crash of their code (U101)."""
    code, report = diagnose(setup(tmp_path, style, find, replace))
    assert code == 1
    found = report["specs"][0]["findings"]
    assert not [f for f in found if f["code"] == "U101"]
    (shaped,) = [f for f in errors(report) if f["code"] == "G103"]
    assert shaped["location"]["parameter"] == bias
    assert all(s in shaped["message"] for s in shapes), shaped["message"]
    assert "update at line" in shaped["message"]


def test_the_script_runs_on_its_own_data_without_data_in_the_spec(tmp_path):
    _, report = diagnose(setup(tmp_path, "literals"))
    about = " ".join(report["specs"][0]["about"])
    assert "nnfix's batch" not in about  # X and y of the script itself
    spec = setup(tmp_path, "full_batch")
    _, report = diagnose(spec)
    about = " ".join(report["specs"][0]["about"])
    assert "X (2, 8), Y (1, 8) (nnfix's batch in place of yours)" in about


def test_a_spec_without_data_is_refused_unless_it_is_a_script(tmp_path):
    spec = setup(tmp_path, "literals")
    spec.write_text(spec.read_text().replace("  script: true\n", "  forward: f\n"))
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2
    assert "missing required key 'data'" in result.output


def test_a_step_size_nnfix_cannot_read_is_a_question_naming_update_lr(tmp_path):
    spec = setup(tmp_path, "literals", "w1 = w1 - alpha * dw1", "w1 = w1 - 0.25 * dw1")
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2
    assert "update_lr" in result.output
    spec.write_text(spec.read_text() + "  update_lr: 0.5\n")
    code, report = diagnose(spec)
    assert code == 1  # w1 moves by half its step: its gradient reads as ½× the truth
    assert [f["location"]["parameter"] for f in errors(report) if f["code"] == "G101"] == ["w1"]


def test_data_the_loop_reads_that_nnfix_cannot_name_is_a_question_naming_arguments(tmp_path):
    spec = setup(tmp_path, "per_sample")
    spec.write_text(spec.read_text().replace("  arguments: {inputs: X, targets: Y}\n", ""))
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2
    assert "arguments" in result.output


def test_a_script_without_the_spec_s_loss_is_a_question_naming_it(tmp_path):
    spec = setup(tmp_path, "literals")
    spec.write_text(spec.read_text().replace("loss: {name: mse, scale: 0.5, reduction: sum}\n", ""))
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2
    assert "loss:" in result.output


def test_a_pass_that_hangs_is_a_u101_at_their_line_never_a_hang(tmp_path):
    spec = setup(
        tmp_path, "literals", "    epoch += 1\n", "    epoch += 1\n    while True:\n        pass\n"
    )
    spec.write_text(spec.read_text() + "  timeout: 1\n")
    code, report = diagnose(spec)
    assert code == 1
    (u101,) = [f for f in errors(report) if f["code"] == "U101"]
    assert "did not return within 1 s" in u101["message"]
    assert u101["location"]["source"]["line"] in (34, 35), u101["location"]


def test_an_output_kept_as_an_attribute_and_values_as_entries_are_found(tmp_path):
    wrong = 'd_hidden = (weights["second"].T @ d_out) * (1 - fwd["h"])'
    spec = setup(tmp_path, "entries", wrong.replace('fwd["h"])', 'fwd["h"] ** 2)'), wrong)
    code, report = diagnose(spec)
    assert code == 1
    assert any("output run.prob" in line for line in report["specs"][0]["about"])
    found = [f for f in errors(report) if f["code"] == "G101"]
    assert {f["location"]["parameter"] for f in found} == {"weights['first']", "biases['first']"}
    lines = {f["location"]["source"]["line"] for f in found if f["location"].get("source")}
    text = spec.with_name("net.py").read_text("utf-8").splitlines()
    assert lines == {i for i, line in enumerate(text, 1) if line.strip() == wrong}, lines
