"""A spec without `model:` (SPEC §3.1): the user's code is the network. nnfix finds the
parameters (the arrays that move the loss), their order of use, the loss and the gradients by
running the code, and checks the gradients against central differences of the code's own loss.
Each style is written here as a learner of some course would, correct and with planted bugs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnfix.cli import main
from tests.own_cases import diagnose, errors, write_case

# deeplearning.ai style: a params dict, samples as columns, (AL, caches), a cost function
DICT_COLUMNS = """
import numpy as np


def init_params(dims):
    rng = np.random.default_rng(3)
    params = {}
    for l in range(1, len(dims)):
        params["W" + str(l)] = rng.normal(size=(dims[l], dims[l - 1])) * 0.5
        params["b" + str(l)] = np.zeros((dims[l], 1)) + 0.1
    return params


def forward(X, params):
    L = len(params) // 2
    A = X
    caches = [(None, X)]
    for l in range(1, L):
        Z = params["W" + str(l)] @ A + params["b" + str(l)]
        A = np.tanh(Z)
        caches.append((Z, A))
    Z = params["W" + str(L)] @ A + params["b" + str(L)]
    AL = 1 / (1 + np.exp(-Z))
    caches.append((Z, AL))
    return AL, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)


def backward(AL, Y, caches, params):
    grads = {}
    L = len(caches) - 1
    m = Y.shape[1]
    dZ = AL - Y
    for l in range(L, 0, -1):
        A_prev = caches[l - 1][1]
        grads["dW" + str(l)] = dZ @ A_prev.T / m
        grads["db" + str(l)] = np.sum(dZ, axis=1, keepdims=True) / m
        if l > 1:
            dA = params["W" + str(l)].T @ dZ
            dZ = dA * (1 - caches[l - 1][1] ** 2)
    return grads
"""

DICT_SPEC = """
seed: 0
data: {source: moons, samples: 64}
implementation:
  module: net.py
  model: init_params([2, 5, 4, 1])
  forward: forward
  backward: backward
  loss: compute_cost
"""

# Nielsen style: a class, lists of (n_out, n_in) weights, biases first, one sample per call
PER_SAMPLE = """
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class Network:
    def __init__(self, sizes):
        rng = np.random.default_rng(5)
        self.biases = [rng.normal(size=(y, 1)) for y in sizes[1:]]
        self.weights = [rng.normal(size=(y, x)) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)
        return a

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            z = w @ activation + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))
        nabla_b[-1] = delta
        nabla_w[-1] = delta @ activations[-2].T
        for l in range(2, len(self.weights) + 1):
            sp = sigmoid(zs[-l]) * (1 - sigmoid(zs[-l]))
            delta = (self.weights[-l + 1].T @ delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = delta @ activations[-l - 1].T
        return (nabla_b, nabla_w)
"""

PER_SAMPLE_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 40}
loss: {name: mse, scale: 0.5}
implementation:
  module: net.py
  model: Network([4, 6, 3])
  forward: feedforward
  backward: backprop
  per_sample: true
"""

# CS231n style: rows, a params dict in a class, loss(X, y=None): scores, or (loss, grads) with y
SCORES = """
import numpy as np


class TwoLayerNet:
    def __init__(self, input_dim, hidden_dim, num_classes, reg=0.0):
        rng = np.random.default_rng(7)
        self.params = {
            "W1": rng.normal(size=(input_dim, hidden_dim)),
            "b1": np.full(hidden_dim, 0.1),
            "W2": rng.normal(size=(hidden_dim, num_classes)),
            "b2": np.zeros(num_classes),
        }
        self.reg = reg

    def loss(self, X, y=None):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        h = np.maximum(0, X @ W1 + b1)
        scores = h @ W2 + b2
        if y is None:
            return scores
        N = X.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(N), y]).mean()
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads = {"W2": h.T @ dscores + self.reg * W2, "b2": dscores.sum(axis=0)}
        dh = dscores @ W2.T
        dh[h <= 0] = 0
        grads["W1"] = X.T @ dh + self.reg * W1
        grads["b1"] = dh.sum(axis=0)
        return loss, grads
"""

SCORES_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 40}
loss: cce
implementation:
  module: net.py
  model: TwoLayerNet(4, 10, 3, reg=0.1)
  forward: loss
  backward: loss
"""

# A course's batchnorm assignment: rows, a bias before each batchnorm (which cancels it), a
# forward that returns its cache dict with the scores last, a backward that takes that cache
BATCHNORM = """
import numpy as np


def init_net(sizes):
    rng = np.random.default_rng(11)
    net = {}
    for i in range(1, len(sizes)):
        net["W%d" % i] = rng.normal(size=(sizes[i - 1], sizes[i])) * 0.7
        net["b%d" % i] = 2.0 + rng.normal(size=sizes[i])
        if i < len(sizes) - 1:
            net["gamma%d" % i] = 1.0 + 0.1 * rng.normal(size=sizes[i])
            net["beta%d" % i] = 0.1 * rng.normal(size=sizes[i])
    return net


def forward(X, net):
    L = len([k for k in net if k[0] == "W"])
    cache = {"h0": X}
    h = X
    for i in range(1, L):
        z = h @ net["W%d" % i] + net["b%d" % i]
        var = z.var(axis=0)
        xhat = (z - z.mean(axis=0)) / np.sqrt(var + 1e-5)
        y = net["gamma%d" % i] * xhat + net["beta%d" % i]
        h = np.maximum(0, y)
        cache["xhat%d" % i], cache["var%d" % i], cache["y%d" % i], cache["h%d" % i] = xhat, var, y, h
    cache["scores"] = h @ net["W%d" % L] + net["b%d" % L]
    return cache


def softmax_loss(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(y)), y]))


def backward(net, cache, y):
    scores = cache["scores"]
    N = len(y)
    shifted = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    p[np.arange(N), y] -= 1
    dscores = p / N
    L = len([k for k in net if k[0] == "W"])
    grads = {"W%d" % L: cache["h%d" % (L - 1)].T @ dscores, "b%d" % L: dscores.sum(axis=0)}
    dh = dscores @ net["W%d" % L].T
    for i in range(L - 1, 0, -1):
        xhat, var = cache["xhat%d" % i], cache["var%d" % i]
        dy = dh * (cache["y%d" % i] > 0)
        grads["gamma%d" % i] = (dy * xhat).sum(axis=0)
        grads["beta%d" % i] = dy.sum(axis=0)
        dxhat = dy * net["gamma%d" % i]
        dz = (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (
            N * np.sqrt(var + 1e-5)
        )
        grads["W%d" % i] = cache["h%d" % (i - 1)].T @ dz
        grads["b%d" % i] = dz.sum(axis=0)
        dh = dz @ net["W%d" % i].T
    return grads
"""

BATCHNORM_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 40}
loss: cce
implementation:
  module: net.py
  model: init_net([4, 6, 5, 3])
  forward: forward
  backward: backward
  loss: softmax_loss
"""

# An NLP course's word-vector model: samples as columns, a params dict, a forward that returns
# the scores before the hidden layer `(z, h)`, a softmax the backward applies itself, one-hot
# targets from the learner's own file
SCORES_FIRST = """
import numpy as np


def initialize_model(N, V):
    rng = np.random.default_rng(1)
    return {
        "W1": rng.random((N, V)),
        "b1": rng.random((N, 1)),
        "W2": rng.random((V, N)) - 0.5,
        "b2": rng.random((V, 1)),
    }


def forward_prop(x, params):
    h = np.maximum(0, np.dot(params["W1"], x) + params["b1"])
    z = np.dot(params["W2"], h) + params["b2"]
    return z, h


def back_prop(x, y, params, cache):
    z, h = cache
    m = x.shape[1]
    e = np.exp(z - z.max(axis=0))
    yhat = e / e.sum(axis=0)
    l1 = np.dot(params["W2"].T, yhat - y) * (h > 0)
    return {
        "W1": np.dot(l1, x.T) / m,
        "b1": np.sum(l1, axis=1, keepdims=True) / m,
        "W2": np.dot(yhat - y, h.T) / m,
        "b2": np.sum(yhat - y, axis=1, keepdims=True) / m,
    }
"""

SCORES_FIRST_SPEC = """
seed: 0
data: {source: npz, path: batch.npz}
loss: cce
implementation:
  module: net.py
  model: initialize_model(4, 6)
  forward: forward_prop
  backward: back_prop
  layout: columns
"""


def _one_hot_batch(folder: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((16, 6))
    x /= x.sum(axis=1, keepdims=True)  # averaged one-hot context words
    np.savez(folder / "batch.npz", x=x, y=np.eye(6)[rng.integers(0, 6, 16)])


# cs231n's batchnorm reworked by a learner: the running mean and variance live beside the
# parameters from __init__ on; loss(X) normalises with them (so they move its output), loss(X, y)
# with the batch's statistics, and updates them
RUNNING_STATS = """
import numpy as np


class BatchNormNet:
    def __init__(self, input_dim, hidden_dim, num_classes, momentum=0.9):
        rng = np.random.default_rng(3)
        self.params = {
            "W1": rng.normal(size=(input_dim, hidden_dim)) * 0.5,
            "b1": rng.normal(size=hidden_dim) * 0.5,
            "gamma1": np.ones(hidden_dim),
            "beta1": np.zeros(hidden_dim),
            "W2": rng.normal(size=(hidden_dim, num_classes)) * 0.5,
            "b2": np.zeros(num_classes),
        }
        self.bn = {"mean": np.zeros(hidden_dim), "var": np.ones(hidden_dim), "momentum": momentum}

    def loss(self, X, y=None):
        p, bn = self.params, self.bn
        a = X @ p["W1"] + p["b1"]
        if y is None:  # test time: the running statistics
            xhat = (a - bn["mean"]) / np.sqrt(bn["var"] + 1e-5)
        else:
            mu, var = a.mean(axis=0), a.var(axis=0)
            bn["mean"] = bn["momentum"] * bn["mean"] + (1 - bn["momentum"]) * mu
            bn["var"] = bn["momentum"] * bn["var"] + (1 - bn["momentum"]) * var
            xhat = (a - mu) / np.sqrt(var + 1e-5)
        h = np.maximum(0, p["gamma1"] * xhat + p["beta1"])
        scores = h @ p["W2"] + p["b2"]
        if y is None:
            return scores
        N = X.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(N), y]).mean()
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads = {"W2": h.T @ dscores, "b2": dscores.sum(axis=0)}
        dh = dscores @ p["W2"].T
        dh[h <= 0] = 0
        grads["gamma1"] = (dh * xhat).sum(axis=0)
        grads["beta1"] = dh.sum(axis=0)
        dxhat = dh * p["gamma1"]
        da = (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (
            N * np.sqrt(var + 1e-5)
        )
        grads["W1"] = X.T @ da
        grads["b1"] = da.sum(axis=0)
        return loss, grads
"""

RUNNING_STATS_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 40}
loss: cce
implementation:
  module: net.py
  model: BatchNormNet(4, 6, 3)
  forward: loss
  backward: loss
"""


CASES = {
    "batchnorm": (BATCHNORM, BATCHNORM_SPEC),
    "dict": (DICT_COLUMNS, DICT_SPEC),
    "per_sample": (PER_SAMPLE, PER_SAMPLE_SPEC),
    "scores": (SCORES, SCORES_SPEC),
    "scores_first": (SCORES_FIRST, SCORES_FIRST_SPEC),
    "running_stats": (RUNNING_STATS, RUNNING_STATS_SPEC),
}


def setup(tmp_path: Path, style: str, find: str = "", replace: str = "") -> Path:
    code, spec = CASES[style]
    write_case(tmp_path, code, spec, find, replace)
    if "batch.npz" in spec:
        _one_hot_batch(tmp_path)
    return tmp_path / "spec.yaml"


@pytest.mark.parametrize("style", sorted(CASES))
def test_correct_code_without_a_model_is_checked_and_clean(tmp_path, style):
    code, report = diagnose(setup(tmp_path, style))
    assert code == 0, errors(report)
    spec = report["specs"][0]
    assert not [f for f in spec["findings"] if f["code"] in ("G101", "G103", "G105", "U101")]
    about = " ".join(spec["about"])
    assert "arrays that move the loss" in about  # the parameters were found, and said


@pytest.mark.parametrize(
    ("style", "find", "replace", "first"),
    [
        # tanh's derivative given Z instead of A: the hidden layers are wrong, the output right
        (
            "dict",
            "dZ = dA * (1 - caches[l - 1][1] ** 2)",
            "dZ = dA * (1 - caches[l - 1][0] ** 2)",
            "b2",
        ),
        # the output delta without sigmoid's derivative: every tensor wrong from the output on
        ("per_sample", "* sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))", "", "biases[1]"),
        # the ReLU mask forgotten: the first layer only
        ("scores", "dh[h <= 0] = 0", "pass", "params['b1']"),
        # batchnorm's backward without the mean's term: every layer below the last batchnorm
        ("batchnorm", "(N * dxhat - dxhat.sum(axis=0) -", "(N * dxhat -", "W2"),
        # the relu's mask applied to W2ᵀ(ŷ − y) as a relu of it, as the course's notebook did
        ("scores_first", "* (h > 0)", "; l1 = np.maximum(0, l1)", "b1"),
        # the ReLU's mask forgotten below batchnorm's running statistics
        ("running_stats", "dh[h <= 0] = 0", "pass", "params['beta1']"),
        # the regularisation's gradient dropped on W2: their own loss has it
        ("scores", "h.T @ dscores + self.reg * W2", "h.T @ dscores", "params['W2']"),
    ],
)
def test_a_planted_bug_is_the_first_wrong_tensor_from_the_output(
    tmp_path, style, find, replace, first
):
    code, report = diagnose(setup(tmp_path, style, find, replace))
    assert code == 1
    roots = [f for f in errors(report) if f["code"] == "G101" and f["root_cause"]]
    assert roots and roots[0]["location"]["parameter"] == first, roots


def test_a_bias_gradient_not_summed_is_a_shape_finding(tmp_path):
    spec = setup(
        tmp_path,
        "dict",
        'grads["db" + str(l)] = np.sum(dZ, axis=1, keepdims=True) / m',
        'grads["db" + str(l)] = dZ / m',
    )
    code, report = diagnose(spec)
    assert code == 1
    shaped = [f for f in errors(report) if f["code"] == "G103"]
    assert {f["location"]["parameter"] for f in shaped} == {"b1", "b2", "b3"}
    assert "grads['db1']" in shaped[0]["message"] or "db" in shaped[0]["message"]


def test_the_parameters_are_ordered_as_the_forward_uses_them(tmp_path):
    """Nielsen's class defines its biases before its weights; the forward uses W then b per
    layer, so the output layer's tensors come last whatever order the object holds them in."""
    _, report = diagnose(setup(tmp_path, "per_sample"))
    about = " ".join(report["specs"][0]["about"])
    assert "weights[0], biases[0], weights[1], biases[1]" in about


def test_without_implementation_the_model_is_still_required(tmp_path):
    (tmp_path / "spec.yaml").write_text("data: {source: moons}\nloss: bce\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["diagnose", str(tmp_path / "spec.yaml")])
    assert result.exit_code == 2
    assert "missing required key 'model'" in result.output


def test_what_cannot_be_found_is_a_located_exit_2_naming_the_key(tmp_path):
    spec = setup(tmp_path, "dict")
    spec.write_text(spec.read_text().replace("backward: backward", "backward: backprop"))
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2
    assert "implementation.backward" in result.output and "backprop" in result.output
    assert "Traceback" not in result.output


def test_train_without_a_model_says_what_to_do_instead(tmp_path):
    result = CliRunner().invoke(main, ["train", str(setup(tmp_path, "dict")), "--no-progress"])
    assert result.exit_code == 2
    assert "nnfix diagnose" in result.output and "internal error" not in result.output


def test_a_forward_that_raises_in_every_form_nnfix_tries_is_a_question_not_a_u101(tmp_path):
    """A forward that indexes with its input (token ids) raises on the float batch nnfix gives
    it as rows and as columns: nnfix may be calling it wrong, so it asks how (exit 2) rather
    than blaming their code (a U101 on correct code would be a false error)."""
    (tmp_path / "net.py").write_text(
        "import numpy as np\n\n"
        "def init():\n    return {'E': np.ones((5, 3))}\n\n"
        "def forward(X, params):\n    return params['E'][X].sum(axis=-1)\n\n"
        "def backward(params, X, Y):\n    return {'dE': np.zeros((5, 3))}\n",
        encoding="utf-8",
    )
    (tmp_path / "spec.yaml").write_text(
        "data: {source: moons, samples: 16}\nloss: mse\n"
        "implementation: {module: net.py, model: init(), forward: forward, backward: backward}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["diagnose", str(tmp_path / "spec.yaml")])
    assert result.exit_code == 2, result.output
    assert "U101" not in result.output and "layout: or arguments:" in result.output


def test_running_statistics_are_state_not_parameters(tmp_path):
    """The running mean and variance move the test-time output, but the training pass changes
    them and the backward returns no gradient for them: state, said so, never a G103."""
    code, report = diagnose(setup(tmp_path, "running_stats"))
    assert code == 0, errors(report)
    about = " ".join(report["specs"][0]["about"])
    assert "state, not parameters: bn['mean'], bn['var']" in about
