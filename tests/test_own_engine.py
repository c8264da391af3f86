"""An autograd engine of the user's own (SPEC §3.2 F, §3.6): the network is built of their
values, the loss with their operations, the gradient is `.grad` after their backward(); and each
operation of their class is checked on its own, the wrong one named at its `_backward` line.
Each engine is written here as a learner of some course would, correct and with planted bugs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnfix.cli import main
from tests.own_cases import diagnose, errors

# Karpathy's lecture style: a scalar Value with _prev and _backward closures, Neuron/Layer/MLP
# of tanh units, the parameters listed by parameters(); one sample as a list of floats
SCALAR = """
import math
import random


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        assert isinstance(k, (int, float))
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    def backward(self):
        topo, seen = [], set()

        def build(v):
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


class Neuron:
    def __init__(self, nin):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1, 1))

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh()

    def parameters(self):
        return self.w + [self.b]


class Layer:
    def __init__(self, nin, nout):
        self.neurons = [Neuron(nin) for _ in range(nout)]

    def __call__(self, x):
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    def __init__(self, nin, nouts):
        sizes = [nin] + nouts
        self.layers = [Layer(sizes[i], sizes[i + 1]) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]
"""

SCALAR_SPEC = """
seed: 0
data: {source: linear, features: 3, samples: 8}
loss: {name: mse, reduction: sum}
implementation:
  module: net.py
  engine: Value
  model: MLP(3, [4, 1])
  forward: __call__
  per_sample: vector
"""

# a classifier's engine: the value in .value, children in .parents, its own quotient rule, exp
# and log for the softmax, and an activation that is a function of the module, not a method; the
# network holds a weight matrix as a list of rows of Scalars and wraps the inputs itself;
# forward() returns the logits
SOFTMAX = """
import math
import random


class Scalar:
    def __init__(self, value, parents=()):
        self.value = float(value)
        self.grad = 0.0
        self.parents = tuple(parents)
        self._backward = lambda: None

    @staticmethod
    def lift(x):
        return x if isinstance(x, Scalar) else Scalar(x)

    def __add__(self, other):
        other = Scalar.lift(other)
        out = Scalar(self.value + other.value, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    __radd__ = __add__

    def __mul__(self, other):
        other = Scalar.lift(other)
        out = Scalar(self.value * other.value, (self, other))

        def _backward():
            self.grad += other.value * out.grad
            other.grad += self.value * out.grad

        out._backward = _backward
        return out

    __rmul__ = __mul__

    def __truediv__(self, other):
        other = Scalar.lift(other)
        out = Scalar(self.value / other.value, (self, other))

        def _backward():
            self.grad += out.grad / other.value
            other.grad += -self.value / other.value**2 * out.grad

        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-Scalar.lift(other))

    def exp(self):
        out = Scalar(math.exp(self.value), (self,))

        def _backward():
            self.grad += out.value * out.grad

        out._backward = _backward
        return out

    def log(self):
        out = Scalar(math.log(self.value), (self,))

        def _backward():
            self.grad += out.grad / self.value

        out._backward = _backward
        return out

    def relu(self):
        out = Scalar(max(0.0, self.value), (self,))

        def _backward():
            self.grad += (self.value > 0) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        order, seen = [], set()

        def visit(v):
            if id(v) not in seen:
                seen.add(id(v))
                for p in v.parents:
                    visit(p)
                order.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()


def leaky(v, slope=0.1):
    out = Scalar(v.value if v.value > 0 else slope * v.value, (v,))

    def _backward():
        v.grad += (1.0 if v.value > 0 else slope) * out.grad

    out._backward = _backward
    return out


class Dense:
    def __init__(self, n_in, n_out, relu):
        rng = random.Random(n_in * 100 + n_out)
        self.W = [[Scalar(rng.gauss(0, 0.7)) for _ in range(n_in)] for _ in range(n_out)]
        self.b = [Scalar(0.1) for _ in range(n_out)]
        self.relu = relu

    def forward(self, x):
        x = [Scalar.lift(v) for v in x]
        outs = []
        for row, bias in zip(self.W, self.b):
            z = bias
            for w, xi in zip(row, x):
                z = z + w * xi
            outs.append(leaky(z) if self.relu else z)
        return outs


class Classifier:
    def __init__(self, n_in, hidden, classes):
        self.hidden = Dense(n_in, hidden, True)
        self.out = Dense(hidden, classes, False)

    def forward(self, x):
        return self.out.forward(self.hidden.forward(x))
"""

SOFTMAX_SPEC = """
seed: 0
data: {source: blobs, classes: 3, features: 4, samples: 8}
loss: cce
implementation:
  module: net.py
  engine: Scalar
  model: Classifier(4, 5, 3)
  forward: forward
  per_sample: vector
"""

# a NumPy Tensor engine: arrays in .data and .grad, @ and a broadcasting + that sums the
# gradient back to the bias's shape, relu, ** and sum; the batch as one Tensor
TENSOR = """
import numpy as np


class Tensor:
    def __init__(self, data, deps=()):
        self.data = np.asarray(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)
        self.deps = list(deps)
        self._backward = lambda: None

    @staticmethod
    def _unbroadcast(g, shape):
        while g.ndim > len(shape):
            g = g.sum(axis=0)
        for i, n in enumerate(shape):
            if n == 1:
                g = g.sum(axis=i, keepdims=True)
        return g

    def __add__(self, other):
        other = other if isinstance(other, Tensor) else Tensor(other)
        out = Tensor(self.data + other.data, (self, other))

        def _backward():
            self.grad += Tensor._unbroadcast(out.grad, self.data.shape)
            other.grad += Tensor._unbroadcast(out.grad, other.data.shape)

        out._backward = _backward
        return out

    def __sub__(self, other):
        other = other if isinstance(other, Tensor) else Tensor(other)
        out = Tensor(self.data - other.data, (self, other))

        def _backward():
            self.grad += Tensor._unbroadcast(out.grad, self.data.shape)
            other.grad -= Tensor._unbroadcast(out.grad, other.data.shape)

        out._backward = _backward
        return out

    def __matmul__(self, other):
        out = Tensor(self.data @ other.data, (self, other))

        def _backward():
            self.grad += out.grad @ other.data.T
            other.grad += self.data.T @ out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        out = Tensor(self.data**k, (self,))

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = Tensor(np.maximum(self.data, 0), (self,))

        def _backward():
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    def sum(self):
        out = Tensor(self.data.sum(), (self,))

        def _backward():
            self.grad += np.ones_like(self.data) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        order, seen = [], set()

        def visit(t):
            if id(t) not in seen:
                seen.add(id(t))
                for d in t.deps:
                    visit(d)
                order.append(t)

        visit(self)
        self.grad = np.ones_like(self.data)
        for t in reversed(order):
            t._backward()


class TwoLayer:
    def __init__(self, n_in, hidden, n_out):
        rng = np.random.default_rng(1)
        self.W1 = Tensor(rng.normal(0, 0.5, (n_in, hidden)))
        self.b1 = Tensor(np.full(hidden, 0.1))
        self.W2 = Tensor(rng.normal(0, 0.5, (hidden, n_out)))
        self.b2 = Tensor(np.zeros(n_out))

    def forward(self, x):
        h = (x @ self.W1 + self.b1).relu()
        return h @ self.W2 + self.b2

    def parameters(self):
        return [self.W1, self.b1, self.W2, self.b2]
"""

TENSOR_SPEC = """
seed: 0
data: {source: linear, features: 3, samples: 8}
loss: {name: mse, reduction: sum}
implementation:
  module: net.py
  engine: Tensor
  model: TwoLayer(3, 5, 1)
  forward: forward
"""

# a live-coding style: requires_grad, the gradient itself a Tensor, each dependency a pair
# (tensor, grad_fn) whose function maps the output's gradient to the input's, a recursive
# backward(grad=None) that seeds a scalar's gradient itself, and zero_grad
DEPENDS = """
import numpy as np


class Tensor:
    def __init__(self, data, requires_grad=False, depends_on=None):
        self.data = np.asarray(data, dtype=np.float64)
        self.requires_grad = requires_grad
        self.depends_on = depends_on or []
        self.grad = None
        if requires_grad:
            self.zero_grad()

    def zero_grad(self):
        self.grad = Tensor(np.zeros_like(self.data))

    def backward(self, grad=None):
        if grad is None:
            grad = Tensor(np.ones_like(self.data))
        self.grad.data = self.grad.data + grad.data
        for parent, grad_fn in self.depends_on:
            parent.backward(Tensor(grad_fn(grad.data)))

    def sum(self):
        deps = [(self, lambda g: g * np.ones_like(self.data))] if self.requires_grad else []
        return Tensor(self.data.sum(), self.requires_grad, deps)

    def __add__(self, other):
        other = other if isinstance(other, Tensor) else Tensor(other)
        deps = []
        if self.requires_grad:
            deps.append((self, lambda g: fold(g, self.data.shape)))
        if other.requires_grad:
            deps.append((other, lambda g: fold(g, other.data.shape)))
        return Tensor(self.data + other.data, self.requires_grad or other.requires_grad, deps)

    def __mul__(self, other):
        other = other if isinstance(other, Tensor) else Tensor(other)
        deps = []
        if self.requires_grad:
            deps.append((self, lambda g: fold(g * other.data, self.data.shape)))
        if other.requires_grad:
            deps.append((other, lambda g: fold(g * self.data, other.data.shape)))
        return Tensor(self.data * other.data, self.requires_grad or other.requires_grad, deps)

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        other = other if isinstance(other, Tensor) else Tensor(other)
        return self + -other

    def __matmul__(self, other):
        deps = []
        if self.requires_grad:
            deps.append((self, lambda g: g @ other.data.T))
        if other.requires_grad:
            deps.append((other, lambda g: self.data.T @ g))
        return Tensor(self.data @ other.data, self.requires_grad or other.requires_grad, deps)


def fold(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1:
            g = g.sum(axis=i, keepdims=True)
    return g


class Linear:
    def __init__(self, n_in, n_out):
        rng = np.random.default_rng(7)
        self.w = Tensor(rng.normal(0, 0.5, (n_in, n_out)), requires_grad=True)
        self.b = Tensor(np.zeros(n_out) + 0.1, requires_grad=True)

    def predict(self, x):
        return x @ self.w + self.b
"""

DEPENDS_SPEC = """
seed: 0
data: {source: linear, features: 3, samples: 8}
loss: {name: mse, reduction: sum}
implementation:
  module: net.py
  engine: Tensor
  model: Linear(3, 1)
  forward: predict
"""

# a course's style of parallel lists: W[l] a matrix as rows of Vars, B[l] a vector of them, the
# value in .val, a sigmoid output and the spec's binary cross-entropy built on it
PARALLEL = """
import math
import random


class Var:
    def __init__(self, val, kids=(), label=""):
        self.val = val
        self.grad = 0.0
        self.kids = kids
        self.backprop = lambda: None

    def __add__(self, o):
        o = o if isinstance(o, Var) else Var(o)
        r = Var(self.val + o.val, (self, o))
        def backprop():
            self.grad += r.grad
            o.grad += r.grad
        r.backprop = backprop
        return r

    def __mul__(self, o):
        o = o if isinstance(o, Var) else Var(o)
        r = Var(self.val * o.val, (self, o))
        def backprop():
            self.grad += o.val * r.grad
            o.grad += self.val * r.grad
        r.backprop = backprop
        return r

    def __pow__(self, k):
        r = Var(self.val ** k, (self,))
        def backprop():
            self.grad += k * self.val ** (k - 1) * r.grad
        r.backprop = backprop
        return r

    def exp(self):
        r = Var(math.exp(self.val), (self,))
        def backprop():
            self.grad += r.val * r.grad
        r.backprop = backprop
        return r

    def log(self):
        r = Var(math.log(self.val), (self,))
        def backprop():
            self.grad += r.grad / self.val
        r.backprop = backprop
        return r

    def sigmoid(self):
        s = 1 / (1 + math.exp(-self.val))
        r = Var(s, (self,))
        def backprop():
            self.grad += s * (1 - s) * r.grad
        r.backprop = backprop
        return r

    def relu(self):
        r = Var(max(0.0, self.val), (self,))
        def backprop():
            self.grad += (self.val > 0) * r.grad
        r.backprop = backprop
        return r

    def __neg__(self): return self * -1
    def __sub__(self, o): return self + (-o)
    def __rsub__(self, o): return (-self) + o
    def __radd__(self, o): return self + o
    def __rmul__(self, o): return self * o
    def __truediv__(self, o): return self * o ** -1
    def __rtruediv__(self, o): return o * self ** -1
    def __gt__(self, o): return self.val > (o.val if isinstance(o, Var) else o)

    def backward(self):
        order, seen = [], set()
        def visit(v):
            if v not in seen:
                seen.add(v)
                for k in v.kids:
                    visit(k)
                order.append(v)
        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v.backprop()


class Net:
    def __init__(self, sizes):
        random.seed(1)
        self.W = [[[Var(random.gauss(0, 1) / math.sqrt(a)) for _ in range(a)] for _ in range(b)] for a, b in zip(sizes, sizes[1:])]
        self.B = [[Var(0.0) for _ in range(b)] for b in sizes[1:]]

    def __call__(self, x):
        for l, (W, B) in enumerate(zip(self.W, self.B)):
            x = [sum((w * xi for w, xi in zip(row, x)), b) for row, b in zip(W, B)]
            x = [v.sigmoid() if l == len(self.W) - 1 else v.relu() for v in x]
        return x

    def parameters(self):
        return [p for W in self.W for row in W for p in row] + [p for B in self.B for p in B]
"""

PARALLEL_SPEC = """
seed: 0
data: {source: moons, samples: 16}
loss: bce
implementation:
  module: net.py
  engine: Var
  model: Net([2, 6, 1])
  forward: __call__
  per_sample: vector
"""

CASES = {
    "scalar": (SCALAR, SCALAR_SPEC),
    "softmax": (SOFTMAX, SOFTMAX_SPEC),
    "tensor": (TENSOR, TENSOR_SPEC),
    "depends": (DEPENDS, DEPENDS_SPEC),
    "parallel": (PARALLEL, PARALLEL_SPEC),
}


def setup(tmp_path: Path, style: str, find: str = "", replace: str = "") -> tuple[Path, int]:
    """The engine written out (with `find` replaced), and the line the replacement is on."""
    code, spec = CASES[style]
    code = textwrap.dedent(code).lstrip()
    line = 0
    if find:
        assert code.count(find) == 1, find
        line = code[: code.index(find)].count("\n") + 1
        code = code.replace(find, replace)
    (tmp_path / "net.py").write_text(code, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(spec).lstrip(), encoding="utf-8")
    return tmp_path / "spec.yaml", line


@pytest.mark.parametrize("style", sorted(CASES))
def test_a_correct_engine_is_checked_and_clean(tmp_path, style):
    code, report = diagnose(setup(tmp_path, style)[0])
    assert code == 0, errors(report)
    spec = report["specs"][0]
    assert not [f for f in spec["findings"] if f["code"] in ("G101", "G103", "G105", "U101")]
    about = " ".join(spec["about"])
    assert "engine:" in about and "operations of" in about  # found, and each op checked


def test_the_parameters_are_grouped_as_the_model_holds_them(tmp_path):
    code, report = diagnose(setup(tmp_path, "scalar", "other.data * out.grad", "out.grad")[0])
    assert code == 1
    named = {f["location"]["parameter"] for f in errors(report)} - {None}
    # a neuron's weights are one tensor, its bias another: the biases never pass through a *
    assert "layers[1].neurons[0].w" in named and "layers[0].neurons[3].w" in named
    assert not [n for n in named if n.endswith(".b")]


@pytest.mark.parametrize(
    ("style", "find", "replace", "op", "first"),
    [
        # __mul__'s backward forgets the other factor
        ("scalar", "self.grad += other.data * out.grad", "self.grad += out.grad", "__mul__", None),
        # tanh's derivative given as t instead of 1 - t**2
        ("scalar", "self.grad += (1 - t**2) * out.grad", "self.grad += t * out.grad", "tanh", None),
        # = for += : a value used twice (every weight, once per sample) keeps one contribution
        (
            "scalar",
            "            self.grad += out.grad\n            other.grad += out.grad",
            "            self.grad = out.grad\n            other.grad = out.grad",
            "__add__",
            None,
        ),
        # e^x's derivative written with the input: the softmax's every exp is wrong
        (
            "softmax",
            "self.grad += out.value * out.grad",
            "self.grad += self.value * out.grad",
            "exp",
            "out.W",
        ),
        # the quotient rule's sign dropped
        ("softmax", "other.grad += -self.value", "other.grad += self.value", "__truediv__", None),
        # a mean where the product sums over the batch: the weights' gradients 1/m, biases right
        (
            "tensor",
            "other.grad += self.data.T @ out.grad",
            "other.grad += self.data.T @ out.grad / len(self.data)",
            "__matmul__",
            "W2",
        ),
        # the bias's gradient not summed back over the broadcast samples, but averaged
        ("tensor", "g = g.sum(axis=0)", "g = g.mean(axis=0)", "__add__", "b2"),
    ],
)
def test_a_wrong_operation_is_named_at_its_backward_line(tmp_path, style, find, replace, op, first):
    spec, line = setup(tmp_path, style, find, replace)
    line += find[: len(find) - len(find.lstrip())].count("\n")
    code, report = diagnose(spec)
    assert code == 1, report
    ops = [f for f in errors(report) if f["evidence"].get("operation")]
    named = [f for f in ops if f["evidence"]["operation"] == op]
    assert named, [f["message"] for f in ops]
    source = named[0]["location"]["source"]
    assert source["file"].endswith("net.py")
    # the line of the _backward that computed the wrong gradient (for the broadcast helper, the
    # line of the closure that called it with the wrong result is as good)
    assert source["line"] == line or (op == "__add__" and style == "tensor"), (source, line)
    assert named[0]["root_cause"]
    if first is not None:  # the gradient check names the first wrong tensor from the output
        roots = [f for f in errors(report) if f["location"]["parameter"] and f["root_cause"]]
        assert roots and roots[0]["location"]["parameter"].startswith(first), roots


def test_an_unused_wrong_operation_is_named_and_said_unused(tmp_path):
    spec, line = setup(
        tmp_path, "scalar", "self.grad += (out.data > 0) * out.grad", "self.grad += out.grad"
    )
    code, report = diagnose(spec)
    assert code == 1
    relu = [f for f in errors(report) if f["evidence"].get("operation") == "relu"]
    assert relu and relu[0]["location"]["source"]["line"] == line
    assert "does not use it" in relu[0]["message"]
    # the network's own gradients are right: only the operation is an error
    assert not [f for f in errors(report) if f["location"]["parameter"]]


def test_an_engine_without_the_operation_the_loss_needs_is_a_question(tmp_path):
    spec, _ = setup(tmp_path, "scalar")
    text = spec.read_text().replace("mse, reduction: sum", "bce")  # their Value has no log
    spec.write_text(text.replace("source: linear, features: 3", "source: moons, noise: 0.1"))
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2, result.output
    assert "loss" in result.output


def test_a_name_that_is_no_class_is_a_question_naming_the_key(tmp_path):
    spec, _ = setup(tmp_path, "scalar")
    spec.write_text(spec.read_text().replace("engine: Value", "engine: Nothing"))
    result = CliRunner().invoke(main, ["diagnose", str(spec)])
    assert result.exit_code == 2, result.output
    assert "Nothing" in result.output and "engine" in result.output


def test_an_operation_outside_the_class_is_checked_where_the_graph_runs_it(tmp_path):
    # the leaky ReLU's slope forgotten below 0: a function of the module, found in the graph
    find = "v.grad += (1.0 if v.value > 0 else slope) * out.grad"
    spec, line = setup(tmp_path, "softmax", find, "v.grad += out.grad")
    code, report = diagnose(spec)
    assert code == 1, report
    closures = [f for f in errors(report) if f["evidence"].get("closure")]
    assert closures and "leaky" in closures[0]["evidence"]["closure"], errors(report)
    assert closures[0]["location"]["source"]["line"] == line
    # the hidden layer's gradients are wrong, the output layer's right
    named = {f["location"]["parameter"] for f in errors(report)} - {None}
    assert named and all(n.startswith("hidden.") for n in named), named


def test_a_backward_that_takes_the_root_gradient_and_a_model_built_by_statements(tmp_path):
    spec, _ = setup(tmp_path, "tensor")
    net = tmp_path / "net.py"
    code = net.read_text()
    code = code.replace("    def backward(self):", "    def backward(self, seed):")
    code = code.replace("self.grad = np.ones_like(self.data)\n", "self.grad = seed\n")
    net.write_text(code)
    text = spec.read_text().replace(
        "model: TwoLayer(3, 5, 1)", 'model: ["net = TwoLayer(3, 5, 1)", "net.b2.data += 0.5"]'
    )
    spec.write_text(text)
    code, report = diagnose(spec)
    assert code == 0, errors(report)
    about = " ".join(report["specs"][0]["about"])
    assert "net = TwoLayer(3, 5, 1); net.b2.data += 0.5" in about


@pytest.mark.parametrize("planted", [False, True])
def test_an_engine_in_float32_is_checked_at_its_precision(tmp_path, planted):
    find, replace = (
        ("other.grad += self.data.T @ out.grad", "other.grad += self.data.T @ out.grad * 0.5")
        if planted
        else ("", "")
    )
    spec, line = setup(tmp_path, "tensor", find, replace)
    net = tmp_path / "net.py"
    net.write_text(net.read_text().replace("dtype=np.float64", "dtype=np.float32"))
    code, report = diagnose(spec)
    if not planted:
        assert code == 0, errors(report)
        assert "float32" in " ".join(report["specs"][0]["about"])
        return
    assert code == 1
    ops = [f for f in errors(report) if f["evidence"].get("operation")]
    assert [f["evidence"]["operation"] for f in ops] == ["__matmul__"], ops
    assert ops[0]["location"]["source"]["line"] == line


def test_their_own_loss_of_the_outputs_is_the_loss(tmp_path):
    spec, _ = setup(tmp_path, "scalar")
    net = tmp_path / "net.py"
    net.write_text(
        net.read_text()
        + textwrap.dedent(
            """

            def loss(ys, ypred):
                return sum(((yp - yt) ** 2 for yt, yp in zip(ys, ypred)), Value(0.0))
            """
        )
    )
    spec.write_text(
        spec.read_text().replace("  per_sample: vector", "  per_sample: vector\n  loss: loss")
    )
    code, report = diagnose(spec)
    assert code == 0, errors(report)
    assert "loss: yours" in " ".join(report["specs"][0]["about"])
    # their ** with its derivative wrong is found through their own loss too
    net.write_text(net.read_text().replace("k * self.data ** (k - 1) * out.grad", "k * out.grad"))
    code, report = diagnose(spec)
    assert code == 1
    assert [
        f["evidence"].get("operation") for f in errors(report) if f["evidence"].get("operation")
    ] == ["__pow__"]
    assert [f for f in errors(report) if f["location"]["parameter"]]  # and the gradients


def test_a_gradient_held_as_a_tensor_and_a_backward_that_seeds_itself(tmp_path):
    # the product's gradient for its second factor given with the wrong factor: w is wrong
    find = "deps.append((other, lambda g: self.data.T @ g))"
    spec, line = setup(
        tmp_path, "depends", find, "deps.append((other, lambda g: self.data.T @ g * 0.5))"
    )
    code, report = diagnose(spec)
    assert code == 1, report
    named = {f["location"]["parameter"] for f in errors(report)} - {None}
    assert "w" in named and "b" not in named, errors(report)
    # the operands of the local check are made like their parameters (requires_grad)
    ops = [f for f in errors(report) if f["evidence"].get("operation") == "__matmul__"]
    assert ops, errors(report)
    assert ops[0]["location"]["source"]["line"] == line  # the grad_fn of the wrong input


@pytest.mark.parametrize("planted", [False, True])
def test_a_tensor_engine_called_one_sample_at_a_time(tmp_path, planted):
    find, replace = (
        ("(self.data > 0) * out.grad", "(self.data < 0) * out.grad") if planted else ("", "")
    )
    spec, line = setup(tmp_path, "tensor", find, replace)
    net = tmp_path / "net.py"
    code = net.read_text().replace(
        "    def forward(self, x):\n",
        "    def forward(self, x):\n        x = Tensor(np.atleast_2d(x))  # one sample, as a row\n",
    )
    net.write_text(code)
    spec.write_text(spec.read_text() + "  per_sample: vector\n")
    exit_code, report = diagnose(spec)
    about = " ".join(report["specs"][0]["about"])
    assert "one sample at a time, as an array" in about, about
    if not planted:
        assert exit_code == 0, errors(report)
        return
    assert exit_code == 1
    relu = [f for f in errors(report) if f["evidence"].get("operation") == "relu"]
    assert relu and relu[0]["location"]["source"]["line"] == line
    assert {"W1", "b1"} <= {f["location"]["parameter"] for f in errors(report)}


def test_an_engine_with_slots_and_a_model_without_parameters(tmp_path):
    spec, _ = setup(tmp_path, "scalar")
    net = tmp_path / "net.py"
    code = net.read_text().replace(
        "class Value:\n",
        'class Value:\n    __slots__ = ("data", "grad", "_backward", "_prev", "_op")\n\n',
    )
    # no parameters() anywhere, and each neuron keeps its last output (a value it made)
    code = code.replace(
        "        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)\n        return act.tanh()",
        "        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)\n"
        "        self.out = act.tanh()\n        return self.out",
    )
    code = code.replace("    def parameters(self):", "    def params(self):")
    net.write_text(code)
    exit_code, report = diagnose(spec)
    assert exit_code == 0, errors(report)
    about = " ".join(report["specs"][0]["about"])
    assert "21 Value values in 10 tensors" in about, about  # 3·4 + 4 + 4 + 1: no .out


def test_parallel_lists_of_layers_are_layers(tmp_path):
    find = "self.grad += s * (1 - s) * r.grad"
    spec, line = setup(tmp_path, "parallel", find, "self.grad += s * r.grad")
    code, report = diagnose(spec)
    assert code == 1
    sigmoid = [f for f in errors(report) if f["evidence"].get("operation") == "sigmoid"]
    assert sigmoid and sigmoid[0]["location"]["source"]["line"] == line
    # W[1] and B[1] are the output layer: the first wrong tensor is there, and it is layer 2
    roots = [f for f in errors(report) if f["location"]["parameter"] and f["root_cause"]]
    assert roots[0]["location"]["parameter"] in ("W[1]", "B[1]")
    assert {f["location"]["layer"] for f in roots if f["location"]["parameter"] == "B[0]"} == {1}
