"""Layer objects chained (SPEC §3.2 shape C) where the user's code is the network: `layers:`
makes the objects, nnfix chains their forward in order, starts the backward chain with the
loss's own gradient and reads each parameter's gradient where the layer leaves it — stored
beside it, or as the in-place update it makes. Each style is written as a learner of some
course would write it, correct and with planted bugs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.spec.rejoin import rejoin
from tests.own_cases import errors, write_case

# nnfs-style: forward leaves self.output, backward leaves self.dinputs and dweights/dbiases;
# the loss an object with calculate and backward; samples as rows, the batch at once
NNFS = """
import numpy as np


class Dense:
    def __init__(self, n_inputs, n_neurons):
        self.weights = 0.5 * np.random.randn(n_inputs, n_neurons)
        self.biases = 0.1 * np.random.randn(1, n_neurons)

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class ReLU:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class Sigmoid:
    def forward(self, inputs):
        self.output = 1 / (1 + np.exp(-inputs))

    def backward(self, dvalues):
        self.dinputs = dvalues * self.output * (1 - self.output)


class Loss:
    def calculate(self, output, y):
        return np.mean(self.forward(output, y))


class BinaryCrossentropy(Loss):
    def forward(self, y_pred, y_true):
        clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        return np.mean(-(y_true * np.log(clipped) + (1 - y_true) * np.log(1 - clipped)), axis=-1)

    def backward(self, dvalues, y_true):
        samples, outputs = dvalues.shape
        clipped = np.clip(dvalues, 1e-7, 1 - 1e-7)
        self.dinputs = -(y_true / clipped - (1 - y_true) / (1 - clipped)) / outputs / samples
"""

NNFS_SPEC = """
seed: 0
data: {source: moons, samples: 32}
implementation:
  module: net.py
  layers: ["Dense(2, 6)", "ReLU()", "Dense(6, 1)", "Sigmoid()"]
  loss: BinaryCrossentropy()
"""

# The Independent Code style: a Layer base class, backward(output_gradient, learning_rate)
# updates in place and returns dL/d(input); loss pair [mse, mse_prime]; one column at a time
AFLAK = """
import numpy as np


class Layer:
    def __init__(self):
        self.input = None
        self.output = None

    def forward(self, input):
        pass

    def backward(self, output_gradient, learning_rate):
        pass


class Dense(Layer):
    def __init__(self, input_size, output_size):
        self.weights = np.random.randn(output_size, input_size)
        self.bias = np.random.randn(output_size, 1)

    def forward(self, input):
        self.input = input
        return np.dot(self.weights, self.input) + self.bias

    def backward(self, output_gradient, learning_rate):
        weights_gradient = np.dot(output_gradient, self.input.T)
        input_gradient = np.dot(self.weights.T, output_gradient)
        self.weights -= learning_rate * weights_gradient
        self.bias -= learning_rate * output_gradient
        return input_gradient


class Activation(Layer):
    def __init__(self, activation, activation_prime):
        self.activation = activation
        self.activation_prime = activation_prime

    def forward(self, input):
        self.input = input
        return self.activation(self.input)

    def backward(self, output_gradient, learning_rate):
        return np.multiply(output_gradient, self.activation_prime(self.input))


class Tanh(Activation):
    def __init__(self):
        def tanh(x):
            return np.tanh(x)

        def tanh_prime(x):
            return 1 - np.tanh(x) ** 2

        super().__init__(tanh, tanh_prime)


class Sigmoid(Activation):
    def __init__(self):
        def sigmoid(x):
            return 1 / (1 + np.exp(-x))

        def sigmoid_prime(x):
            s = sigmoid(x)
            return s * (1 - s)

        super().__init__(sigmoid, sigmoid_prime)


def mse(y_true, y_pred):
    return np.mean(np.power(y_true - y_pred, 2))


def mse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true) / np.size(y_true)


X = np.reshape([[0, 0], [0, 1], [1, 0], [1, 1]], (4, 2, 1))
Y = np.reshape([[0], [1], [1], [0]], (4, 1, 1))
network = [Dense(2, 3), Tanh(), Dense(3, 1), Tanh()]
for epoch in range(1000):
    for x, y in zip(X, Y):
        output = x
        for layer in network:
            output = layer.forward(output)
        grad = mse_prime(y, output)
        for layer in reversed(network):
            grad = layer.backward(grad, 0.1)
"""

AFLAK_SPEC = """
seed: 0
data: {source: xor, samples: 16}
implementation:
  module: net.py
  layers: [Dense(2, 3), Tanh(), Dense(3, 1), Sigmoid()]
  loss: [mse, mse_prime]
  per_sample: column
"""

# a module-style course: layers called as functions, parameters and their gradients in dicts,
# samples as rows; the loss a pair of functions taking (predictions, targets)
CALLS = """
import numpy as np


class Linear:
    def __init__(self, n_in, n_out):
        rng = np.random.default_rng(n_in * 10 + n_out)
        self.params = {"W": rng.normal(0, 0.5, (n_in, n_out)), "b": np.full(n_out, 0.1)}
        self.grads = {}

    def __call__(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad):
        self.grads["W"] = self.x.T @ grad
        self.grads["b"] = grad.sum(axis=0)
        return grad @ self.params["W"].T


class Tanh:
    def __call__(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out ** 2)


def mse_loss(predictions, targets):
    return float(np.mean((predictions - targets) ** 2))


def mse_grad(predictions, targets):
    return 2 * (predictions - targets) / predictions.size
"""

CALLS_SPEC = """
seed: 0
data: {source: moons, samples: 32}
implementation:
  module: net.py
  layers: ["Linear(2, 5)", "Tanh()", "Linear(5, 3)", "Tanh()", "Linear(3, 1)"]
  loss: [mse_loss, mse_grad]
"""

# a softmax layer whose backward uses its full Jacobian, per sample, with a separate
# cross-entropy loss object (its backward returns the gradient); rows, the batch at once
SOFTMAX = """
import numpy as np


class Dense:
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out) * 0.5
        self.b = np.zeros((1, n_out)) + 0.05

    def forward_propagation(self, X):
        self.X = X
        return X @ self.W + self.b

    def backward_propagation(self, dY):
        self.dW = self.X.T @ dY
        self.db = dY.sum(axis=0, keepdims=True)
        return dY @ self.W.T


class Sigmoid:
    def forward_propagation(self, X):
        self.Y = 1 / (1 + np.exp(-X))
        return self.Y

    def backward_propagation(self, dY):
        return dY * self.Y * (1 - self.Y)


class Softmax:
    def forward_propagation(self, X):
        e = np.exp(X - X.max(axis=1, keepdims=True))
        self.Y = e / e.sum(axis=1, keepdims=True)
        return self.Y

    def backward_propagation(self, dY):
        dX = np.empty_like(dY)
        for i, (s, g) in enumerate(zip(self.Y, dY)):
            s = s.reshape(-1, 1)
            jacobian = np.diagflat(s) - s @ s.T
            dX[i] = jacobian @ g
        return dX


class CrossEntropy:
    def loss(self, probs, targets):
        return float(-np.sum(targets * np.log(probs)) / len(probs))

    def derivative(self, probs, targets):
        return -targets / probs / len(probs)
"""

SOFTMAX_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 32}
implementation:
  module: net.py
  layers: ["Dense(4, 6)", "Sigmoid()", "Dense(6, 3)", "Softmax()"]
  loss: CrossEntropy()
"""

# deeplearning.ai-like layers: samples as columns, each layer applies its own activation and
# divides by m itself; the loss's gradient is per sample (no 1/m), given to the last layer
COLUMNS = """
import numpy as np


class Layer:
    def __init__(self, n_prev, n, activation):
        self.W = np.random.randn(n, n_prev) * np.sqrt(1 / n_prev)
        self.b = np.zeros((n, 1)) + 0.01
        self.activation = activation

    def forward_prop(self, A_prev):
        self.A_prev = A_prev
        self.Z = self.W @ A_prev + self.b
        if self.activation == "sigmoid":
            self.A = 1 / (1 + np.exp(-self.Z))
        else:
            self.A = np.tanh(self.Z)
        return self.A

    def back_prop(self, dA):
        m = self.A_prev.shape[1]
        if self.activation == "sigmoid":
            dZ = dA * self.A * (1 - self.A)
        else:
            dZ = dA * (1 - self.A ** 2)
        self.dW = dZ @ self.A_prev.T / m
        self.db = np.sum(dZ, axis=1, keepdims=True) / m
        return self.W.T @ dZ


class CrossEntropy:
    def cost(self, AL, Y):
        m = Y.shape[1]
        return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)

    def grad(self, AL, Y):
        return -(Y / AL - (1 - Y) / (1 - AL))
"""

COLUMNS_SPEC = """
seed: 0
data: {source: circles, samples: 32}
implementation:
  module: net.py
  layers: ["Layer(2, 5, 'tanh')", "Layer(5, 1, 'sigmoid')"]
  loss: CrossEntropy()
"""

# nnfs's faster path: the last Dense's scores go to one object that is softmax and
# cross-entropy together; its backward takes the probabilities its forward kept
COMBINED = (
    NNFS
    + """

class SoftmaxCrossentropy:
    def forward(self, inputs, y_true):
        exp = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp / np.sum(exp, axis=1, keepdims=True)
        samples = len(inputs)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        return np.mean(-np.log(self.output[range(samples), y_true]))

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples
"""
)

COMBINED_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 32}
implementation:
  module: net.py
  layers: ["Dense(4, 8)", "ReLU()", "Dense(8, 3)"]
  loss: SoftmaxCrossentropy()
"""

# one sample as a flat vector, outer products, a layer that steps itself with the rate it is
# given; half the squared error and its derivative (target, output)
VECTOR = """
import numpy as np


class FullyConnected:
    def __init__(self, n_in, n_out):
        self.w = np.random.uniform(-1, 1, (n_out, n_in))
        self.b = np.random.uniform(-0.5, 0.5, n_out)

    def forward(self, x):
        self.x = x
        return self.w @ x + self.b

    def backward(self, grad, rate):
        grad_x = self.w.T @ grad
        self.w -= rate * np.outer(grad, self.x)
        self.b -= rate * grad
        return grad_x


class Logistic:
    def forward(self, x):
        self.y = 1 / (1 + np.exp(-x))
        return self.y

    def backward(self, grad, rate):
        return grad * self.y * (1 - self.y)


def half_squared_error(target, output):
    return 0.5 * np.sum((target - output) ** 2)


def half_squared_error_derivative(target, output):
    return output - target
"""

VECTOR_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 16}
implementation:
  module: net.py
  layers: ["FullyConnected(4, 5)", "Logistic()", "FullyConnected(5, 3)", "Logistic()"]
  loss: [half_squared_error, half_squared_error_derivative]
  per_sample: vector
"""

# nnfs with dropout: forward(inputs, training) draws a mask; nnfix seeds it the same each time
DROPOUT = (
    NNFS
    + """

class Dropout:
    def __init__(self, rate):
        self.rate = 1 - rate

    def forward(self, inputs, training):
        self.mask = np.random.binomial(1, self.rate, size=inputs.shape) / self.rate
        self.output = inputs * self.mask if training else inputs

    def backward(self, dvalues):
        self.dinputs = dvalues * self.mask
"""
)

DROPOUT_SPEC = """
seed: 0
data: {source: moons, samples: 32}
implementation:
  module: net.py
  layers: ["Dense(2, 8)", "ReLU()", "Dropout(0.3)", "Dense(8, 1)", "Sigmoid()"]
  loss: BinaryCrossentropy()
  arguments: {training: true}
"""

# cs231n-like layer objects whose backward returns (dx, dw, db); the loss a pair of functions
# of the scores and integer labels
TUPLES = """
import numpy as np


class Affine:
    def __init__(self, D, M):
        self.w = 0.3 * np.random.randn(D, M)
        self.b = np.full(M, 0.05)

    def forward(self, x):
        self.cache = x
        return x @ self.w + self.b

    def backward(self, dout):
        x = self.cache
        return dout @ self.w.T, x.T @ dout, dout.sum(axis=0)


class ReLU:
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


def softmax_loss(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return -np.log(probs[np.arange(len(y)), y]).mean()


def softmax_grad(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    dscores = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    dscores[np.arange(len(y)), y] -= 1
    return dscores / len(y)
"""

TUPLES_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 32}
implementation:
  module: net.py
  layers: ["Affine(4, 7)", "ReLU()", "Affine(7, 3)"]
  loss: [softmax_loss, softmax_grad]
"""

# a layer that applies its activation through helpers of its own, one return per activation
HELPERS = """
import numpy as np


class Dense:
    def __init__(self, n_in, n_out, activation):
        rng = np.random.default_rng(n_in + 7 * n_out)
        self.W = rng.normal(0, 0.6, (n_in, n_out))
        self.b = rng.normal(0, 0.1, n_out)
        self.activation = activation

    def _apply(self, z):
        if self.activation == "tanh":
            return np.tanh(z)
        return 1 / (1 + np.exp(-z))

    def _slope(self, z):
        if self.activation == "tanh":
            return 1 - np.tanh(z) ** 2
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)

    def forward(self, x):
        self.x = x
        self.z = x @ self.W + self.b
        return self._apply(self.z)

    def backward(self, grad):
        dz = grad * self._slope(self.z)
        self.dW = self.x.T @ dz
        self.db = dz.sum(axis=0)
        return dz @ self.W.T


def mse(y_true, y_pred):
    return float(np.mean((y_pred - y_true) ** 2))


def mse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true) / y_true.size
"""

HELPERS_SPEC = """
seed: 0
data: {source: moons, samples: 32}
implementation:
  module: net.py
  layers: ["Dense(2, 6, 'tanh')", "Dense(6, 1, 'sigmoid')"]
  loss: [mse, mse_prime]
"""

CASES = {
    "nnfs": (NNFS, NNFS_SPEC),
    "aflak": (AFLAK, AFLAK_SPEC),
    "calls": (CALLS, CALLS_SPEC),
    "softmax": (SOFTMAX, SOFTMAX_SPEC),
    "columns": (COLUMNS, COLUMNS_SPEC),
    "combined": (COMBINED, COMBINED_SPEC),
    "vector": (VECTOR, VECTOR_SPEC),
    "dropout": (DROPOUT, DROPOUT_SPEC),
    "tuples": (TUPLES, TUPLES_SPEC),
    "helpers": (HELPERS, HELPERS_SPEC),
}


def setup(tmp_path: Path, style: str, find: str = "", replace: str = "") -> Path:
    code, spec = CASES[style]
    write_case(tmp_path, code, spec, find, replace)
    return tmp_path / "spec.yaml"


def diagnose(spec: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["diagnose", str(spec), "--format", "json"])
    assert "internal error" not in result.output, result.output
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def parameters(finding: dict) -> set[str]:
    return {finding["location"]["parameter"], *finding.get("evidence", {}).get("tensors", [])}


@pytest.mark.parametrize("style", sorted(CASES))
def test_correct_layer_objects_are_checked_and_clean(tmp_path, style):
    code, report = diagnose(setup(tmp_path, style))
    assert code == 0, errors(report)
    spec = report["specs"][0]
    assert not [f for f in spec["findings"] if f["code"] in ("G101", "G103", "G105", "U101")]
    about = " ".join(spec["about"])
    assert "objects chained in order" in about
    assert "layers[0]" in about and "arrays that move the loss" in about


@pytest.mark.parametrize(
    ("style", "find", "replace", "first", "line"),
    [
        # the weight gradient of the output layer taken with the wrong sign
        (
            "nnfs",
            "self.dweights = np.dot(self.inputs.T, dvalues)",
            "self.dweights = -np.dot(self.inputs.T, dvalues)",
            "layers[2].weights",
            "self.dweights = -np.dot",
        ),
        # a layer that updates itself moves its bias by half the step
        (
            "aflak",
            "self.bias -= learning_rate * output_gradient",
            "self.bias -= 0.5 * learning_rate * output_gradient",
            "layers[2].bias",
            "self.bias -= 0.5",
        ),
        # a bias gradient that forgets the samples after the first
        (
            "calls",
            'self.grads["b"] = grad.sum(axis=0)',
            'self.grads["b"] = grad[0] * len(grad)',
            "layers[4].params['b']",
            'self.grads["b"] = grad[0]',
        ),
        # the Jacobian's outer product transposed: sᵀs, a scalar, in place of s sᵀ; the
        # returned dX is named where it is written
        (
            "softmax",
            "jacobian = np.diagflat(s) - s @ s.T",
            "jacobian = np.diagflat(s) - s.T @ s",
            "layers[2].W",
            "dX[i] = jacobian @ g",
        ),
    ],
)
def test_a_planted_bug_is_the_first_wrong_tensor_at_its_line(
    tmp_path, style, find, replace, first, line
):
    code, report = diagnose(setup(tmp_path, style, find, replace))
    assert code == 1
    wrong = [f for f in errors(report) if f["code"] == "G101"]
    assert wrong, errors(report)
    top = next(f for f in wrong if first in parameters(f))
    assert top["location"]["source"]["code"].startswith(line), top["location"]
    written = (tmp_path / "net.py").read_text().splitlines()
    assert written[top["location"]["source"]["line"] - 1].strip().startswith(line)
    assert not [f for f in report["specs"][0]["findings"] if f["code"] in ("G105", "U101")]


@pytest.mark.parametrize(
    ("style", "find", "replace", "below", "line"),
    [
        # tanh's derivative given the output where it takes the input: every tensor below it;
        # the helper the layer's backward multiplies by is named, at its own line
        (
            "aflak",
            "return 1 - np.tanh(x) ** 2",
            "return 1 - x ** 2",
            "layers[0].weights",
            "return 1 - x ** 2",
        ),
        # the ReLU mask taken from the gradient, not the input
        (
            "nnfs",
            "self.dinputs[self.inputs <= 0] = 0",
            "self.dinputs[dvalues <= 0] = 0",
            "layers[0].weights",
            "self.dinputs[dvalues <= 0] = 0",
        ),
        # sigmoid's derivative missing a factor
        (
            "softmax",
            "return dY * self.Y * (1 - self.Y)",
            "return dY * self.Y",
            "layers[0].W",
            "return dY * self.Y",
        ),
    ],
)
def test_a_wrong_activation_backward_is_g101_on_the_tensors_below_it(
    tmp_path, style, find, replace, below, line
):
    code, report = diagnose(setup(tmp_path, style, find, replace))
    assert code == 1
    found = [f for f in errors(report) if f["code"] == "G101"]
    wrong = set().union(*(parameters(f) for f in found))
    assert below in wrong
    above = {p for p in wrong if p.startswith("layers[2]")}  # the output layer's are right
    assert not above, above
    sources = {f["location"]["source"]["code"] for f in found if f["location"].get("source")}
    assert sources and all(s.startswith(line) for s in sources), sources


def test_a_loss_argument_nnfix_cannot_give_is_a_question(tmp_path):
    spec = setup(
        tmp_path,
        "calls",
        "def mse_grad(predictions, targets):",
        "def mse_grad(predictions, targets, weight):",
    )
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2, result.output
    assert "weight" in result.output and "arguments" in result.output
    assert "U101" not in result.output and "Traceback" not in result.output


def test_a_constant_left_off_one_gradient_is_named_where_that_gradient_is_computed(tmp_path):
    """The layer divides db by m but not dW, and its loss's gradient is per sample: every dW
    is m × the true one, every db right. No part is wrong in its pattern; the one the right
    tensors do not share is dW's own line."""
    code, report = diagnose(
        setup(
            tmp_path, "columns", "self.dW = dZ @ self.A_prev.T / m", "self.dW = dZ @ self.A_prev.T"
        )
    )
    assert code == 1
    wrong = [f for f in errors(report) if f["code"] == "G101"]
    assert {f["location"]["parameter"] for f in wrong} == {"layers[0].W", "layers[1].W"}
    assert {f["location"]["source"]["code"] for f in wrong} == {"self.dW = dZ @ self.A_prev.T"}


@pytest.mark.parametrize(
    ("style", "find", "replace", "line"),
    [
        # the outer product the other way round: (n_in, n_out) — a square layer would hide it,
        # here the update itself fails to broadcast
        (
            "vector",
            "self.w -= rate * np.outer(grad, self.x)",
            "self.w -= rate * np.outer(self.x, grad)",
            None,
        ),
        # the dropout mask forgotten in its backward
        (
            "dropout",
            "self.dinputs = dvalues * self.mask",
            "self.dinputs = dvalues",
            "self.dinputs = dvalues",
        ),
    ],
)
def test_more_styles_find_their_bug(tmp_path, style, find, replace, line):
    code, report = diagnose(setup(tmp_path, style, find, replace))
    assert code == 1
    found = errors(report)
    assert found
    if line is None:  # their code raises: a U101 at their line
        assert {f["code"] for f in found} == {"U101"}
        assert found[0]["location"]["source"]["code"] == replace
    else:
        assert {f["code"] for f in found} == {"G101"}
        assert {f["location"]["source"]["code"] for f in found} == {line}
        assert {f["location"]["parameter"] for f in found} == {
            "layers[0].weights",
            "layers[0].biases",
        }


def test_gradients_a_backward_returns_beside_dx_are_read_and_placed(tmp_path):
    code, report = diagnose(
        setup(tmp_path, "tuples", "x.T @ dout, dout.sum(axis=0)", "x.T @ dout, dout.sum(axis=1)")
    )
    assert code == 1
    shaped = [f for f in errors(report) if f["code"] == "G103"]
    assert {f["location"]["parameter"] for f in shaped} == {"layers[0].b", "layers[2].b"}
    assert all(f["location"]["source"]["code"].startswith("return dout @ self.w.T") for f in shaped)
    code, report = diagnose(
        setup(tmp_path, "tuples", "x.T @ dout, dout.sum", "x.T @ dout * 2, dout.sum")
    )
    assert code == 1
    wrong = [f for f in errors(report) if f["code"] == "G101"]
    assert {f["location"]["parameter"] for f in wrong} == {"layers[0].w", "layers[2].w"}
    assert all("x.T @ dout * 2" in f["location"]["source"]["code"] for f in wrong)


def regularized(tmp_path: Path, find: str = "", replace: str = "") -> Path:
    """The nnfs style with an L2 penalty: the layer takes its strength and adds its gradient,
    the loss object gives the penalty of a layer, as the book's training loop adds it."""
    spec = setup(tmp_path, "nnfs")
    net = tmp_path / "net.py"
    text = net.read_text()
    text = text.replace(
        "    def __init__(self, n_inputs, n_neurons):\n",
        "    def __init__(self, n_inputs, n_neurons, weight_regularizer_l2=0.0):\n"
        "        self.weight_regularizer_l2 = weight_regularizer_l2\n",
    )
    text = text.replace(
        "        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)\n",
        "        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)\n"
        "        if self.weight_regularizer_l2 > 0:\n"
        "            self.dweights += 2 * self.weight_regularizer_l2 * self.weights\n",
    )
    text = text.replace(
        "class Loss:\n",
        "class Loss:\n"
        "    def regularization_loss(self, layer):\n"
        "        return layer.weight_regularizer_l2 * np.sum(layer.weights * layer.weights)\n\n",
    )
    net.write_text(text.replace(find, replace) if find else text, encoding="utf-8")
    spec.write_text(
        spec.read_text().replace('"Dense(2, 6)"', '"Dense(2, 6, weight_regularizer_l2=0.01)"')
    )
    return spec


def test_a_penalty_the_loss_adds_for_a_layer_is_part_of_the_loss(tmp_path):
    code, report = diagnose(regularized(tmp_path))
    assert code == 0, errors(report)
    assert "regularization_loss of each layer" in " ".join(report["specs"][0]["about"])
    wrong = "self.dweights += self.weight_regularizer_l2 * self.weights"  # its 2 left off
    code, report = diagnose(
        regularized(
            tmp_path,
            "self.dweights += 2 * self.weight_regularizer_l2",
            "self.dweights += self.weight_regularizer_l2",
        )
    )
    assert code == 1
    found = [f for f in errors(report) if f["code"] == "G101"]
    assert {f["location"]["parameter"] for f in found} == {"layers[0].weights"}
    assert found[0]["location"]["source"]["code"] == wrong


def test_a_derivative_helper_is_judged_by_its_call_and_named_at_the_return_it_took(tmp_path):
    """tanh's slope given z where it needs tanh(z): the helper the backward calls with the z
    the forward's helper had is not that helper's derivative; its tanh return is the line."""
    code, report = diagnose(
        setup(tmp_path, "helpers", "return 1 - np.tanh(z) ** 2", "return 1 - z ** 2")
    )
    assert code == 1
    found = [f for f in errors(report) if f["code"] == "G101"]
    assert {f["location"]["parameter"] for f in found} == {"layers[0].W", "layers[0].b"}
    assert {f["location"]["source"]["code"] for f in found} == {"return 1 - z ** 2"}


def test_a_forward_that_returns_its_output_with_a_cache_is_chained_on_its_output(tmp_path):
    spec = setup(tmp_path, "tuples", "return x @ self.w + self.b", "return x @ self.w + self.b, x")
    code, report = diagnose(spec)
    assert code == 0, errors(report)
    assert "arrays that move the loss" in " ".join(report["specs"][0]["about"])


def test_two_independent_bugs_are_two_lines_in_one_run(tmp_path):
    spec = setup(
        tmp_path,
        "nnfs",
        "self.dweights = np.dot(self.inputs.T, dvalues)",
        "self.dweights = -np.dot(self.inputs.T, dvalues)",
    )
    net = tmp_path / "net.py"
    text = net.read_text()
    assert text.count("self.dinputs[self.inputs <= 0] = 0") == 1
    net.write_text(
        text.replace("self.dinputs[self.inputs <= 0] = 0", "self.dinputs[dvalues <= 0] = 0")
    )
    code, report = diagnose(spec)
    assert code == 1
    at = {
        f["location"]["parameter"]: f["location"]["source"]["code"]
        for f in errors(report)
        if f["code"] == "G101"
    }
    assert at["layers[2].weights"] == "self.dweights = -np.dot(self.inputs.T, dvalues)"
    assert at["layers[0].biases"] == "self.dinputs[dvalues <= 0] = 0"
    assert "layers[2].biases" not in at


def test_a_combined_softmax_loss_is_given_the_probabilities_its_forward_kept(tmp_path):
    _, report = diagnose(setup(tmp_path, "combined"))
    assert "given the output its forward keeps (output)" in " ".join(report["specs"][0]["about"])
    code, report = diagnose(
        setup(
            tmp_path,
            "combined",
            "self.dinputs[range(samples), y_true] -= 1",
            "self.dinputs[range(samples), y_true] -= 0.5",
        )
    )
    assert code == 1
    wrong = [f for f in errors(report) if f["code"] == "G101"]
    assert {"layers[2].weights", "layers[0].weights"} <= {f["location"]["parameter"] for f in wrong}
    text = (tmp_path / "net.py").read_text().splitlines()
    start = text.index("class SoftmaxCrossentropy:") + 1
    lines = {f["location"]["source"]["line"] for f in wrong}
    assert lines and all(start < n <= len(text) and "dinputs" in text[n - 1] for n in lines)


IN_PLACE = """        self.db = np.sum(dZ, axis=1, keepdims=True) / m
        dA_prev = self.W.T @ dZ
        self.W -= lr * self.dW
        self.b = self.b - lr * self.db
        return dA_prev"""


@pytest.mark.parametrize(
    ("find", "replace", "code"),
    [
        # the bias step with dZ itself: b becomes a matrix (5, 8)
        ("self.b = self.b - lr * self.db", "self.b = self.b - lr * dZ / m", "G103"),
        # the bias climbs: its step's sign flipped
        ("self.b = self.b - lr * self.db", "self.b = self.b + lr * self.db", "G101"),
    ],
)
def test_a_layer_that_updates_itself_in_a_batch_is_read_from_its_update(
    tmp_path, find, replace, code
):
    spec = setup(tmp_path, "columns")
    net = tmp_path / "net.py"
    text = net.read_text().replace("def back_prop(self, dA):", "def back_prop(self, dA, lr):")
    text = text.replace(
        "        self.db = np.sum(dZ, axis=1, keepdims=True) / m\n        return self.W.T @ dZ",
        IN_PLACE,
    )
    net.write_text(text, encoding="utf-8")
    assert diagnose(spec)[0] == 0  # correct: −Δ / lr is the true gradient
    net.write_text(text.replace(find, replace), encoding="utf-8")
    exit_code, report = diagnose(spec)
    assert exit_code == 1
    found = [f for f in errors(report) if f["code"] == code]
    assert {f["location"]["parameter"] for f in found} >= {"layers[1].b"}
    assert all(f["location"]["source"]["code"] == replace for f in found)


def test_a_layer_that_keeps_its_own_step_size_is_read_with_it(tmp_path):
    """backward(dA) with self.lr set in the constructor: the update is read with that rate; a
    layer that keeps none is a question naming update_lr."""
    spec = setup(tmp_path, "columns")
    net = tmp_path / "net.py"
    text = net.read_text().replace(
        "        self.activation = activation\n",
        "        self.activation = activation\n        self.lr = 0.05\n",
    )
    text = text.replace(
        "        self.db = np.sum(dZ, axis=1, keepdims=True) / m\n        return self.W.T @ dZ",
        IN_PLACE.replace("lr *", "self.lr *"),
    )
    net.write_text(text, encoding="utf-8")
    code, report = diagnose(spec)
    assert code == 0, errors(report)
    assert "own lr = 0.05" in " ".join(report["specs"][0]["about"])
    net.write_text(
        text.replace("        self.lr = 0.05\n", "        self.rates = [0.05]\n").replace(
            "self.lr", "self.rates[0]"
        )
    )
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2 and "update_lr" in result.output, result.output


def test_a_layer_call_that_raises_is_a_question_about_the_spec(tmp_path):
    spec = setup(tmp_path, "nnfs")
    spec.write_text(spec.read_text().replace('"Dense(2, 6)"', '"Dense(2)"'))
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2, result.output
    assert "Dense(2) raised" in result.output and "U101" not in result.output


def test_a_bias_gradient_not_summed_over_the_samples_is_a_shape_finding(tmp_path):
    spec = setup(
        tmp_path,
        "nnfs",
        "self.dbiases = np.sum(dvalues, axis=0, keepdims=True)",
        "self.dbiases = dvalues",
    )
    code, report = diagnose(spec)
    assert code == 1
    shaped = [f for f in errors(report) if f["code"] == "G103"]
    assert {f["location"]["parameter"] for f in shaped} == {"layers[0].biases", "layers[2].biases"}
    assert all(f["location"]["source"]["code"] == "self.dbiases = dvalues" for f in shaped)


def test_a_loss_gradient_off_by_a_constant_is_a_convention_not_an_error(tmp_path):
    """mse_prime without its 2: every gradient is ½ × the true one — the convention G105
    (a warning), never a G101."""
    code, report = diagnose(
        setup(tmp_path, "aflak", "return 2 * (y_pred - y_true)", "return (y_pred - y_true)")
    )
    codes = {f["code"] for f in report["specs"][0]["findings"]}
    assert code == 0 and "G105" in codes and "G101" not in codes, codes


def test_a_backward_whose_second_argument_nnfix_cannot_give_is_a_question(tmp_path):
    spec = setup(
        tmp_path,
        "calls",
        "    def backward(self, grad):\n        self.grads",
        "    def backward(self, grad, cache):\n        self.grads",
    )
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2, result.output
    assert "layers" in result.output and "Traceback" not in result.output


def test_an_update_that_climbs_the_loss_is_g101_not_a_convention(tmp_path):
    """The loss's gradient with its sign flipped: each layer's own update then climbs the loss.
    Read as −Δ/lr that is −1 × every true gradient: an error, never a G105 convention."""
    code, report = diagnose(
        setup(tmp_path, "aflak", "2 * (y_pred - y_true)", "2 * (y_true - y_pred)")
    )
    assert code == 1
    codes = {f["code"] for f in report["specs"][0]["findings"]}
    assert "G101" in codes and "G105" not in codes


def test_an_unquoted_flow_list_is_rejoined_and_said(tmp_path):
    _, report = diagnose(setup(tmp_path, "aflak"))
    about = " ".join(report["specs"][0]["about"])
    assert "joined them again" in about and "4 calls" in about


def test_an_unquoted_flow_list_beside_a_declared_model_is_rejoined_and_said(tmp_path):
    spec = setup(tmp_path, "softmax")
    text = spec.read_text().replace(
        "implementation:",
        "model:\n  layers:\n    - {units: 6, activation: sigmoid}\n"
        "    - {units: 3, activation: softmax}\nloss: cce\nimplementation:\n  init: yours",
    )
    spec.write_text(
        text.replace('"Dense(4, 6)"', "Dense(4, 6)").replace('"Dense(6, 3)"', "Dense(6, 3)")
    )
    code, report = diagnose(spec)
    assert code == 0, errors(report)
    assert "joined them again (6 pieces → 4 calls)" in " ".join(report["specs"][0]["about"])


def test_rejoin_joins_only_what_yaml_split():
    assert rejoin(["Dense(2", "3)", "tanh()", "Dense(3", 1, "x=2)"]) == [
        "Dense(2, 3)",
        "tanh()",
        "Dense(3, 1, x=2)",
    ]
    assert rejoin(["Dense(2, 3)", "tanh()"]) is None  # quoted: nothing split
    assert rejoin(["Dense(2", "3"]) is None  # never closed: left for validation to judge
    assert rejoin(["mse", "mse_prime"]) is None


def test_a_loss_pair_whose_arguments_nnfix_cannot_tell_apart_is_a_question(tmp_path):
    spec = setup(tmp_path, "calls", "def mse_grad(predictions, targets):", "def mse_grad(u, v):")
    net = tmp_path / "net.py"
    code = net.read_text().replace("(predictions - targets) / predictions.size", "(u - v) / u.size")
    net.write_text(code, encoding="utf-8")
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2, result.output
    assert "arguments" in result.output and "Traceback" not in result.output
