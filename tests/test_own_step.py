"""`step:` and `model:` as building statements where the user's code is the network (SPEC §3.2
B and D): nnfix runs the learner's own training call on its batch, reads the gradient off the
update (−Δparameter / the step size it reads from the code), and checks it against central
differences of the loss of their forward. Each style is written as a learner of some course or
book would, correct and with planted bugs; Python lists of floats are parameters too."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.own_cases import diagnose, errors, findings

# a class whose train(X, y) runs one full-batch step in place; samples as rows; the step size is
# the object's attribute self.lr, set from the constructor's literal
TRAIN_CLASS = """
import numpy as np


class Net:
    def __init__(self, n_in, n_hidden, n_out, lr=0.5):
        rng = np.random.default_rng(1)
        self.W1 = rng.normal(0, 0.5, (n_in, n_hidden))
        self.b1 = np.zeros(n_hidden)
        self.W2 = rng.normal(0, 0.5, (n_hidden, n_out))
        self.b2 = np.zeros(n_out)
        self.lr = lr

    def predict(self, X):
        self.h = np.tanh(X @ self.W1 + self.b1)
        self.out = 1 / (1 + np.exp(-(self.h @ self.W2 + self.b2)))
        return self.out

    def train(self, X, y):
        out = self.predict(X)
        m = X.shape[0]
        d2 = (out - y) * out * (1 - out) / m
        d1 = (d2 @ self.W2.T) * (1 - self.h ** 2)
        self.W2 -= self.lr * (self.h.T @ d2)
        self.b2 -= self.lr * d2.sum(axis=0)
        self.W1 -= self.lr * (X.T @ d1)
        self.b1 -= self.lr * d1.sum(axis=0)
"""

TRAIN_CLASS_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 24}
loss: {name: mse, scale: 0.5, reduction: mean}
implementation:
  module: net.py
  model: Net(4, 6, 3, lr=0.5)
  forward: predict
  step: train
"""

# a fit(X, y, epochs, learning_rate) loop that updates once per sample (SGD), samples as rows; the
# forward takes one sample; the step size is fit's default
FIT_LOOP = """
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class MLP:
    def __init__(self, sizes):
        np.random.seed(3)
        self.w = [np.random.randn(a, b) * 0.5 for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(b) for b in sizes[1:]]

    def feedforward(self, x):
        for w, b in zip(self.w, self.b):
            x = sigmoid(x @ w + b)
        return x

    def fit(self, X, y, epochs=100, learning_rate=0.3, verbose=False):
        for epoch in range(epochs):
            for i in range(X.shape[0]):
                acts = [X[i]]
                for w, b in zip(self.w, self.b):
                    acts.append(sigmoid(acts[-1] @ w + b))
                delta = (acts[-1] - y[i]) * acts[-1] * (1 - acts[-1])
                for l in range(len(self.w) - 1, -1, -1):
                    grad_w = np.outer(acts[l], delta)
                    grad_b = delta
                    if l > 0:
                        delta = (self.w[l] @ delta) * acts[l] * (1 - acts[l])
                    self.w[l] -= learning_rate * grad_w
                    self.b[l] -= learning_rate * grad_b
            if verbose:
                print(epoch)
"""

FIT_LOOP_SPEC = """
seed: 0
data: {source: blobs, classes: 2, features: 3, samples: 16}
loss: {name: mse, scale: 0.5}
implementation:
  module: net.py
  model: MLP([3, 5, 2])
  forward: feedforward
  step: fit
"""

# Rashid's "Make Your Own Neural Network" style: query(inputs_list), train(inputs_list,
# targets_list) on one sample, turned into columns inside; self.lr from the constructor (the hidden
# error here goes through the output's sigmoid derivative, as the gradient needs)
RASHID = """
import numpy


class neuralNetwork:
    def __init__(self, inputnodes, hiddennodes, outputnodes, learningrate):
        self.inodes, self.hnodes, self.onodes = inputnodes, hiddennodes, outputnodes
        numpy.random.seed(5)
        self.wih = numpy.random.normal(0.0, pow(self.inodes, -0.5), (self.hnodes, self.inodes))
        self.who = numpy.random.normal(0.0, pow(self.hnodes, -0.5), (self.onodes, self.hnodes))
        self.lr = learningrate
        self.activation_function = lambda x: 1 / (1 + numpy.exp(-x))

    def train(self, inputs_list, targets_list):
        inputs = numpy.array(inputs_list, ndmin=2).T
        targets = numpy.array(targets_list, ndmin=2).T
        hidden_outputs = self.activation_function(numpy.dot(self.wih, inputs))
        final_outputs = self.activation_function(numpy.dot(self.who, hidden_outputs))
        output_errors = targets - final_outputs
        output_deltas = output_errors * final_outputs * (1.0 - final_outputs)
        hidden_errors = numpy.dot(self.who.T, output_deltas)
        self.who += self.lr * numpy.dot(output_deltas, numpy.transpose(hidden_outputs))
        self.wih += self.lr * numpy.dot((hidden_errors * hidden_outputs * (1.0 - hidden_outputs)), numpy.transpose(inputs))

    def query(self, inputs_list):
        inputs = numpy.array(inputs_list, ndmin=2).T
        hidden_outputs = self.activation_function(numpy.dot(self.wih, inputs))
        return self.activation_function(numpy.dot(self.who, hidden_outputs))
"""

RASHID_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 12}
loss: {name: mse, scale: 0.5}
implementation:
  module: net.py
  model: neuralNetwork(4, 5, 3, 0.3)
  forward: query
  step: train
  per_sample: vector
"""

# a network of neuron dicts in lists, built by a statement; a pair of calls that back-propagates
# and updates, with the step size a literal of the second call; samples as Python lists
NEURON_DICTS = """
import math
import random


def make_layer(n_inputs, n_neurons):
    return [{"weights": [random.uniform(-1, 1) for _ in range(n_inputs + 1)]} for _ in range(n_neurons)]


def transfer(activation):
    return 1.0 / (1.0 + math.exp(-activation))


def forward_propagate(network, row):
    inputs = row
    for layer in network:
        new_inputs = []
        for neuron in layer:
            activation = neuron["weights"][-1]
            for i in range(len(neuron["weights"]) - 1):
                activation += neuron["weights"][i] * inputs[i]
            neuron["output"] = transfer(activation)
            new_inputs.append(neuron["output"])
        inputs = new_inputs
    return inputs


def backward_propagate_error(network, expected):
    for i in reversed(range(len(network))):
        layer = network[i]
        errors = []
        if i != len(network) - 1:
            for j in range(len(layer)):
                error = 0.0
                for neuron in network[i + 1]:
                    error += neuron["weights"][j] * neuron["delta"]
                errors.append(error)
        else:
            for j, neuron in enumerate(layer):
                errors.append(neuron["output"] - expected[j])
        for j, neuron in enumerate(layer):
            neuron["delta"] = errors[j] * neuron["output"] * (1.0 - neuron["output"])


def update_weights(network, row, l_rate):
    for i in range(len(network)):
        inputs = row
        if i != 0:
            inputs = [neuron["output"] for neuron in network[i - 1]]
        for neuron in network[i]:
            for j in range(len(inputs)):
                neuron["weights"][j] -= l_rate * neuron["delta"] * inputs[j]
            neuron["weights"][-1] -= l_rate * neuron["delta"]
"""

NEURON_DICTS_SPEC = """
seed: 0
data: {source: blobs, classes: 2, features: 2, samples: 10}
loss: {name: mse, scale: 0.5}
implementation:
  module: net.py
  model:
    - "random.seed(2)"
    - "network = [make_layer(2, 3), make_layer(3, 2)]"
  forward: forward_propagate
  step: ["backward_propagate_error(network, Y)", "update_weights(network, X, 0.5)"]
  per_sample: vector
"""

# a Keras-like model built by .add() statements, forward/backward methods on each layer, and the
# step a pair of the model's methods; the update's step size a keyword literal of the call
SEQUENTIAL = """
import numpy as np


class Dense:
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out) * 0.5
        self.b = np.zeros((1, n_out))

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        self.dW = self.x.T @ grad
        self.db = grad.sum(axis=0, keepdims=True)
        return grad @ self.W.T


class Tanh:
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad):
        return grad * (1 - self.y ** 2)


class Model:
    def __init__(self):
        self.layers = []

    def add(self, layer):
        self.layers.append(layer)

    def forward(self, X):
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def backward(self, X, Y):
        out = self.forward(X)
        grad = 2 * (out - Y) / len(X)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)

    def update(self, lr):
        for layer in self.layers:
            if hasattr(layer, "W"):
                layer.W -= lr * layer.dW
                layer.b -= lr * layer.db
"""

SEQUENTIAL_SPEC = """
seed: 0
data: {source: blobs, classes: 2, features: 3, samples: 12}
loss: {name: mse, reduction: mean}
implementation:
  module: net.py
  model:
    - "np.random.seed(4)"
    - "model = Model()"
    - "model.add(Dense(3, 5))"
    - "model.add(Tanh())"
    - "model.add(Dense(5, 2))"
  forward: forward
  step: ["model.backward(X, Y)", "model.update(lr=0.1)"]
"""

# a per-sample classifier with no forward declared: train(x, label, layers, lr) runs forward,
# backward and update and returns (loss, accuracy); the model a list of layer objects; the label
# an integer that the code indexes with
NO_FORWARD = """
import numpy as np


class Dense:
    def __init__(self, n_in, n_out):
        self.w = np.random.randn(n_in, n_out) * 0.3
        self.b = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.w + self.b

    def backward(self, grad, lr):
        dx = self.w @ grad
        self.w -= lr * np.outer(self.x, grad)
        self.b -= lr * grad
        return dx


class Tanh:
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad, lr):
        return grad * (1 - self.y ** 2)


def train(x, label, layers, lr=0.1):
    out = x
    for layer in layers:
        out = layer.forward(out)
    p = np.exp(out - out.max())
    p /= p.sum()
    loss = -np.log(p[label])
    grad = p.copy()
    grad[label] -= 1
    for layer in reversed(layers):
        grad = layer.backward(grad, lr)
    return loss, int(np.argmax(p) == label)
"""

NO_FORWARD_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 8}
implementation:
  module: net.py
  model: "[Dense(4, 5), Tanh(), Dense(5, 3)]"
  step: train
  arguments: {x: X, label: Y, layers: params}
  per_sample: true
"""

# a recurrent cell stepped through a sequence by calls with expressions of the batch, its loss
# returned by the call that back-propagates through time, its update a separate call
SEQUENCE = """
import numpy as np


class Cell:
    def __init__(self, n_in, n_hidden):
        rng = np.random.default_rng(7)
        self.W = rng.normal(0, 0.4, (n_hidden, n_in))
        self.U = rng.normal(0, 0.4, (n_hidden, n_hidden))
        self.v = rng.normal(0, 0.4, n_hidden)
        self.dW, self.dU, self.dv = 0 * self.W, 0 * self.U, 0 * self.v


class Unrolled:
    def __init__(self, cell):
        self.cell = cell
        self.xs, self.hs = [], [np.zeros(cell.U.shape[0])]

    def push(self, x):
        c = self.cell
        self.xs.append(x)
        self.hs.append(np.tanh(c.W @ x + c.U @ self.hs[-1]))

    def learn(self, targets):
        c = self.cell
        loss, dh_next = 0.0, np.zeros_like(self.hs[0])
        for t in reversed(range(len(self.xs))):
            pred = c.v @ self.hs[t + 1]
            loss += 0.5 * (pred - targets[t]) ** 2
            dh = (pred - targets[t]) * c.v + dh_next
            c.dv += (pred - targets[t]) * self.hs[t + 1]
            dz = dh * (1 - self.hs[t + 1] ** 2)
            c.dW += np.outer(dz, self.xs[t])
            c.dU += np.outer(dz, self.hs[t])
            dh_next = c.U.T @ dz
        return loss

    def apply(self, lr):
        c = self.cell
        for name in ("W", "U", "v"):
            setattr(c, name, getattr(c, name) - lr * getattr(c, "d" + name))
            setattr(c, "d" + name, 0 * getattr(c, name))
        self.xs, self.hs = [], [np.zeros(c.U.shape[0])]
"""

SEQUENCE_SPEC = """
seed: 0
data: {source: linear, features: 3, samples: 3}
implementation:
  module: net.py
  model: ["cell = Cell(3, 4)", "net = Unrolled(cell)"]
  step: ["net.push(X[0])", "net.push(X[1])", "net.push(X[2])", "net.learn(Y)", "net.apply(lr=0.05)"]
"""

CASES = {
    "train_class": (TRAIN_CLASS, TRAIN_CLASS_SPEC),
    "fit_loop": (FIT_LOOP, FIT_LOOP_SPEC),
    "rashid": (RASHID, RASHID_SPEC),
    "neuron_dicts": (NEURON_DICTS, NEURON_DICTS_SPEC),
    "sequential": (SEQUENTIAL, SEQUENTIAL_SPEC),
    "no_forward": (NO_FORWARD, NO_FORWARD_SPEC),
    "sequence": (SEQUENCE, SEQUENCE_SPEC),
}


def setup(tmp_path: Path, style: str, find: str = "", replace: str = "", spec: str = "") -> Path:
    code, default = CASES[style]
    if find:
        assert code.count(find) == 1, find
        code = code.replace(find, replace)
    (tmp_path / "net.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(spec or default).lstrip(), encoding="utf-8")
    return tmp_path / "spec.yaml"


def about(report: dict) -> str:
    return " ".join(report["specs"][0]["about"])


@pytest.mark.parametrize("style", sorted(CASES))
def test_a_correct_step_is_checked_and_clean(tmp_path, style):
    code, report = diagnose(setup(tmp_path, style))
    assert code == 0, findings(report)
    assert not [f for f in findings(report) if f["code"] in ("G101", "G103", "G105", "U101")]
    assert "step size" in about(report)  # where the step size came from is said
    assert "−Δparameter / step size" in about(report)


@pytest.mark.parametrize(
    ("style", "said"),
    [
        ("train_class", "Net.lr = 0.5"),  # the object's attribute
        ("fit_loop", "fit's default learning_rate=0.3"),  # a default argument
        ("rashid", "neuralNetwork.lr = 0.3"),
        ("neuron_dicts", "l_rate=0.5"),  # a literal of the call
        ("sequential", "lr=0.1"),
        ("no_forward", "train's default lr=0.1"),
        ("sequence", "lr=0.05"),
    ],
)
def test_the_step_size_is_read_from_the_code_and_said(tmp_path, style, said):
    _, report = diagnose(setup(tmp_path, style))
    assert said in about(report), about(report)


def test_an_sgd_loop_is_read_sample_by_sample(tmp_path):
    _, report = diagnose(setup(tmp_path, "fit_loop"))
    assert "once per sample" in about(report)


def test_pure_python_lists_of_floats_are_the_parameters(tmp_path):
    _, report = diagnose(setup(tmp_path, "neuron_dicts"))
    text = about(report)
    assert "arrays that move the loss" in text
    assert "network[0][0]['weights']" in text, text


@pytest.mark.parametrize(
    ("style", "find", "replace", "wrong"),
    [
        # tanh's derivative taken of the pre-activation's output twice: the hidden layer only
        ("train_class", "(1 - self.h ** 2)", "(1 - self.h)", ("b1", "W1")),
        # the output delta without sigmoid's derivative: the output layer is wrong
        (
            "fit_loop",
            "delta = (acts[-1] - y[i]) * acts[-1] * (1 - acts[-1])",
            "delta = (acts[-1] - y[i])",
            ("b[1]", "w[1]"),
        ),
        # the hidden delta without the sigmoid's derivative's second factor: the hidden layer
        (
            "rashid",
            "hidden_errors * hidden_outputs * (1.0 - hidden_outputs)",
            "hidden_errors * hidden_outputs",
            ("wih",),
        ),
        # the hidden delta from the wrong layer's weights index: the hidden weights are wrong
        (
            "neuron_dicts",
            'error += neuron["weights"][j] * neuron["delta"]',
            'error += neuron["weights"][0] * neuron["delta"]',
            ("network[0]",),
        ),
        # the tanh derivative dropped in the backward
        ("sequential", "return grad * (1 - self.y ** 2)", "return grad", ("layers[0]",)),
        # the hidden layer's update from the output's gradient before the tanh derivative
        (
            "no_forward",
            "return grad * (1 - self.y ** 2)",
            "return grad * (1 - self.y)",
            ("model[0]",),
        ),
        # the recurrent gradient not carried back through U
        ("sequence", "dh_next = c.U.T @ dz", "dh_next = c.U @ dz", ("U", "W")),
    ],
)
def test_a_wrong_derivative_is_a_g101_at_the_tensor(tmp_path, style, find, replace, wrong):
    code, report = diagnose(setup(tmp_path, style, find, replace))
    assert code == 1, findings(report)
    roots = [f for f in errors(report) if f["code"] == "G101" and f["root_cause"]]
    assert roots, findings(report)
    assert roots[0]["location"]["parameter"].startswith(wrong), roots


@pytest.mark.parametrize(
    ("style", "find", "replace"),
    [
        ("train_class", "d2 = (out - y)", "d2 = (y - out)"),
        (
            "neuron_dicts",
            'errors.append(neuron["output"] - expected[j])',
            'errors.append(expected[j] - neuron["output"])',
        ),
        (
            "rashid",
            "output_errors = targets - final_outputs",
            "output_errors = final_outputs - targets",
        ),
    ],
)
def test_an_update_that_climbs_the_loss_is_an_error_not_a_convention(
    tmp_path, style, find, replace
):
    code, report = diagnose(setup(tmp_path, style, find, replace))
    assert code == 1
    codes = {f["code"] for f in findings(report)}
    assert "G105" not in codes
    climbs = [f for f in errors(report) if f["code"] == "G101" and "climbs" in f["message"]]
    assert climbs, findings(report)


def test_a_bias_not_summed_over_the_samples_is_a_shape_finding(tmp_path):
    spec = setup(
        tmp_path,
        "train_class",
        "self.b2 -= self.lr * d2.sum(axis=0)",
        "self.b2 = self.b2 - self.lr * d2",
    )
    code, report = diagnose(spec)
    assert code == 1
    shaped = [f for f in errors(report) if f["code"] == "G103"]
    assert [f["location"]["parameter"] for f in shaped] == ["b2"], findings(report)
    assert shaped[0]["evidence"]["shape"] == [8, 3]  # as the step on the batch leaves it


def test_a_bias_that_no_longer_broadcasts_is_a_finding_at_their_line(tmp_path):
    """The seed-003 bug: `b -= lr * dZ` in place raises (it cannot broadcast into b): a G103 of
    b1 (its step is the gradient, of another shape) at their update's line, where the delta d1 it
    reads is right (W1's gradient is made from it) — never an internal error."""
    spec = setup(
        tmp_path, "train_class", "self.b1 -= self.lr * d1.sum(axis=0)", "self.b1 -= self.lr * d1"
    )
    code, report = diagnose(spec)
    assert code == 1
    raised = [f for f in errors(report) if f["code"] == "G103"]
    assert [f["location"]["parameter"] for f in raised] == ["b1"], findings(report)
    assert raised[0]["evidence"]["shape"] == [8, 6]
    line = (
        spec.with_name("net.py")
        .read_text(encoding="utf-8")
        .splitlines()
        .index("        self.b1 -= self.lr * d1")
    )
    assert raised[0]["location"]["source"]["line"] == line + 1


def test_their_objects_are_left_as_they_were(tmp_path):
    """The step changes nothing their objects hold: the gradients are checked at the values the
    code built, so a correct step is clean however many times it ran (momentum state too)."""
    code, report = diagnose(
        setup(
            tmp_path,
            "train_class",
            "self.W2 -= self.lr * (self.h.T @ d2)",
            "self.v = getattr(self, 'v', 0) * 0.9 + self.h.T @ d2\n        self.W2 -= self.lr * self.v",
        )
    )
    assert code == 0, findings(report)


def _unnamed_step_size(tmp_path: Path) -> Path:
    """The train class with its step size in an attribute no name says is one."""
    spec = setup(tmp_path, "train_class")
    module = spec.with_name("net.py")
    text = module.read_text(encoding="utf-8").replace("self.lr", "self.speed")
    module.write_text(text.replace("lr=0.5", "speed=0.5").replace("= lr", "= speed"), "utf-8")
    spec.write_text(spec.read_text("utf-8").replace("lr=0.5", "speed=0.5"), "utf-8")
    return spec


def _hidden_step_size(tmp_path: Path) -> Path:
    """... and each change scaled by a method of theirs, so no update statement of theirs
    multiplies the change by a number."""
    spec = _unnamed_step_size(tmp_path)
    module = spec.with_name("net.py")
    text = module.read_text(encoding="utf-8").replace("self.speed * (", "self.scaled(")
    text = text.replace("self.speed * d2.sum(axis=0)", "self.scaled(d2.sum(axis=0))")
    text = text.replace("self.speed * d1.sum(axis=0)", "self.scaled(d1.sum(axis=0))")
    text += "\n    def scaled(self, g):\n        return self.speed * g\n"
    assert "self.speed *" not in text.split("def scaled")[0]
    module.write_text(text, "utf-8")
    return spec


def test_a_step_size_in_no_name_is_read_as_the_update_ran(tmp_path):
    code, report = diagnose(_unnamed_step_size(tmp_path))
    assert code == 0, findings(report)
    assert "step size: 0.5 (self.speed at net.py:" in about(report)


def test_a_step_size_as_an_expression_of_the_epoch_is_read_as_the_update_ran(tmp_path):
    spec = setup(tmp_path, "train_class")
    module = spec.with_name("net.py")
    text = module.read_text(encoding="utf-8").replace("self.lr *", "rate *")
    text = text.replace("    def train(self, X, y):\n", "    def train(self, X, y, epoch=1):\n")
    text = text.replace(
        "        out = self.predict(X)\n",
        "        out = self.predict(X)\n        rate = 2 / (epoch + 3)\n",
        1,
    )
    module.write_text(text.replace("lr=0.5", "seed=0").replace("self.lr = lr", ""), "utf-8")
    spec.write_text(spec.read_text("utf-8").replace(", lr=0.5", ""), "utf-8")
    code, report = diagnose(spec)
    assert code == 0, findings(report)
    assert "step size: 0.5 (rate at net.py:" in about(report)
    wrong = module.read_text("utf-8").replace("(1 - self.h ** 2)", "(1 - self.h)")
    module.write_text(wrong, "utf-8")
    code, report = diagnose(spec)
    assert code == 1
    assert {f["location"]["parameter"] for f in errors(report) if f["code"] == "G101"} >= {"W1"}


def test_a_step_size_nnfix_cannot_find_is_a_question_naming_update_lr(tmp_path):
    code, report = diagnose(_hidden_step_size(tmp_path))
    assert code == 2
    assert "update_lr" in json.dumps(report)


def test_update_lr_settles_the_step_size(tmp_path):
    spec = _hidden_step_size(tmp_path)
    spec.write_text(spec.read_text("utf-8") + "  update_lr: 0.5\n", encoding="utf-8")
    code, report = diagnose(spec)
    assert code == 0, findings(report)
    assert "update_lr: in the spec" in about(report)


def test_a_building_statement_that_raises_is_a_u101_and_one_that_is_no_python_exit_2(tmp_path):
    bad = NEURON_DICTS_SPEC.replace("make_layer(3, 2)]", "make_layer(3, 2)] + undefined_name")
    code, report = diagnose(setup(tmp_path, "neuron_dicts", spec=bad))
    assert code == 1
    assert [f for f in errors(report) if f["code"] == "U101" and "model[1]" in f["message"]]
    broken = NEURON_DICTS_SPEC.replace('"random.seed(2)"', '"random.seed(2"')
    code, report = diagnose(setup(tmp_path, "neuron_dicts", spec=broken))
    assert code == 2
    assert "model[0]" in json.dumps(report)


def test_without_a_forward_the_loss_is_the_one_the_step_returns(tmp_path):
    _, report = diagnose(setup(tmp_path, "no_forward"))
    text = about(report)
    assert "the loss is the one your step returns" in text
    assert "model: 1 statement → model (list)" in text  # a list expression of layer calls


def test_a_loss_that_returns_a_data_loss_and_a_penalty_is_their_sum(tmp_path):
    """nnfs's `data_loss, regularization_loss = loss.calculate(...)`: the step's update has the
    penalty's gradient, so the loss checked against is their sum."""
    code = (
        TRAIN_CLASS.replace(
            "self.W2 -= self.lr * (self.h.T @ d2)",
            "self.W2 -= self.lr * (self.h.T @ d2 + 0.1 * self.W2)",
        )
        + """

    def cost(self, out, y):
        return 0.5 * np.mean(np.sum((out - y) ** 2, axis=1)), 0.05 * np.sum(self.W2 ** 2)
"""
    )
    spec = setup(tmp_path, "train_class")
    (tmp_path / "net.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    text = spec.read_text("utf-8").replace("  step: train", "  step: train\n  loss: cost")
    spec.write_text(text, encoding="utf-8")
    exit_code, report = diagnose(spec)
    assert exit_code == 0, findings(report)
    assert "the sum of the 2 numbers cost returns" in about(report)


def test_samples_are_python_lists_where_the_weights_are_and_arrays_where_lists_raise(tmp_path):
    _, report = diagnose(setup(tmp_path, "neuron_dicts"))
    assert "(a Python list)" in about(report)
    code = NEURON_DICTS.replace("    inputs = row\n", "    inputs = row.tolist()\n").replace(
        "        inputs = row\n", "        inputs = row.tolist()\n"
    )
    assert code.count("row.tolist()") == 2
    spec = setup(tmp_path, "neuron_dicts")
    (tmp_path / "net.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    exit_code, report = diagnose(spec)
    assert exit_code == 0, findings(report)
    assert "as a vector (n,)" in about(report)


def test_a_step_without_a_forward_that_returns_no_loss_is_a_question_naming_forward(tmp_path):
    spec = setup(tmp_path, "fit_loop")
    spec.write_text(spec.read_text("utf-8").replace("  forward: feedforward\n", ""), "utf-8")
    code, report = diagnose(spec)
    assert code == 2
    problems = json.dumps(report)
    assert "forward" in problems and "returned no number" in problems


def test_an_sgd_loop_without_a_forward_is_a_question_naming_forward(tmp_path):
    """An SGD loop's returned loss is summed over values that change as it goes: no loss at one
    set of values, so nnfix asks for the forward rather than measure the wrong function."""
    code = FIT_LOOP.replace(
        "            if verbose:",
        "            total = 0.5 * float(np.sum((acts[-1] - y[i]) ** 2))\n            if verbose:",
    ).replace(
        "                print(epoch)\n", "                print(epoch)\n        return total\n"
    )
    spec = setup(tmp_path, "fit_loop")
    (tmp_path / "net.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    spec.write_text(spec.read_text("utf-8").replace("  forward: feedforward\n", ""), "utf-8")
    exit_code, report = diagnose(spec)
    assert exit_code == 2, findings(report) if report["specs"] else report
    assert "once per sample" in json.dumps(report)


def test_a_full_batch_step_whose_samples_interact_is_read_as_it_is(tmp_path):
    """Inputs centred over the batch: a one-sample step sees zeros, so the single-sample updates
    are no SGD loop's; the whole batch's update is the gradient, and correct code is clean."""
    code = TRAIN_CLASS.replace(
        "self.h = np.tanh(X @ self.W1 + self.b1)",
        "self.h = np.tanh((X - X.mean(axis=0)) @ self.W1 + self.b1)",
    ).replace(
        "self.W1 -= self.lr * (X.T @ d1)", "self.W1 -= self.lr * ((X - X.mean(axis=0)).T @ d1)"
    )
    spec = setup(tmp_path, "train_class")
    (tmp_path / "net.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    exit_code, report = diagnose(spec)
    assert exit_code == 0, findings(report)
    assert "once per sample" not in about(report)


# layer objects as module globals, instances of a class another of their files defines (the
# "victorzhou" CNN tutorial's shape: conv = Conv3x3(8) at top level), trained one sample at a
# time by a train(x, label, lr) function that updates them in place
SIBLING_LAYERS = """
import numpy as np


class Dense:
    def __init__(self, n_in, n_out, seed):
        rng = np.random.default_rng(seed)
        self.weights = rng.normal(0, 0.5, (n_in, n_out))
        self.biases = np.zeros(n_out)

    def forward(self, x):
        self.last_input = x
        return x @ self.weights + self.biases

    def backprop(self, d_out, lr):
        d_in = self.weights @ d_out
        self.weights -= lr * np.outer(self.last_input, d_out)
        self.biases -= lr * d_out
        return d_in
"""

SIBLING_MAIN = """
import numpy as np

import layers

hidden = layers.Dense(4, 6, seed=1)
out_layer = layers.Dense(6, 3, seed=2)


def forward(x, label):
    h = np.tanh(hidden.forward(x))
    z = out_layer.forward(h)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    return p, -np.log(p[label])


def train(x, label, lr=0.01):
    p, loss = forward(x, label)
    d_z = p.copy()
    d_z[label] -= 1
    d_h = out_layer.backprop(d_z, lr)
    hidden.backprop(d_h * (1 - np.tanh(hidden.last_input @ hidden.weights + hidden.biases) ** 2), lr)
    return loss
"""

SIBLING_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 8}
loss: cce
implementation:
  module: net.py
  forward: forward
  step: train
  arguments: {x: X, label: Y}
  per_sample: true
"""


@pytest.mark.parametrize(
    ("find", "replace", "wrong"),
    [("", "", None), ("d_z[label] -= 1", "d_z[label] -= 2", "out_layer")],
)
def test_layer_objects_of_a_sibling_module_are_put_back_between_samples(
    tmp_path, find, replace, wrong
):
    """Each sample's step starts from the same values: the objects the module's globals hold
    are restored even where their class lives in another of the user's files."""
    (tmp_path / "layers.py").write_text(textwrap.dedent(SIBLING_LAYERS).lstrip(), encoding="utf-8")
    main_code = SIBLING_MAIN.replace(find, replace) if find else SIBLING_MAIN
    (tmp_path / "net.py").write_text(textwrap.dedent(main_code).lstrip(), encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(SIBLING_SPEC).lstrip(), encoding="utf-8")
    code, report = diagnose(tmp_path / "spec.yaml")
    if wrong is None:
        assert code == 0, findings(report)
        assert not errors(report)
    else:
        assert code == 1
        g101 = [f for f in errors(report) if f["code"] == "G101"]
        assert g101 and g101[0]["location"]["parameter"].startswith(wrong)
