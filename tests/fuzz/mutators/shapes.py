"""User code in the shapes nnfix reads where the code is the network (SPEC §3.2 D and E, lists
of floats): a call that trains in place, a script, a pure-Python network — made hostile: a step
that raises halfway through its update, a script with no loop, a list of weights that holds a
string. Their seeds live here too (a spec without `model:` and its module)."""

from __future__ import annotations

import random

from tests.fuzz.case import Case
from tests.fuzz.mutators import mutator

STEP_PY = """import numpy as np


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
        d2 = (out - y) / X.shape[0]
        d1 = (d2 @ self.W2.T) * (1 - self.h ** 2)
        self.W2 -= self.lr * (self.h.T @ d2)
        self.b2 -= self.lr * d2.sum(axis=0)
        self.W1 -= self.lr * (X.T @ d1)
        self.b1 -= self.lr * d1.sum(axis=0)
"""

STEP_SPEC = """name: shapes-step
seed: 0
data: {source: moons, samples: 64, noise: 0.1}
loss: bce
implementation:
  module: net.py
  model: Net(2, 6, 1, lr=0.5)
  forward: predict
  step: train
"""

SCRIPT_PY = """import numpy as np

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 2))
Y = (X[:, :1] * X[:, 1:] > 0).astype(float)
W1 = rng.normal(0, 0.5, (2, 8))
b1 = np.zeros((1, 8))
W2 = rng.normal(0, 0.5, (8, 1))
b2 = np.zeros((1, 1))
learning_rate = 0.5

for epoch in range(500):
    h = np.tanh(X @ W1 + b1)
    out = 1 / (1 + np.exp(-(h @ W2 + b2)))
    d2 = (out - Y) / len(X)
    d1 = (d2 @ W2.T) * (1 - h ** 2)
    W2 -= learning_rate * h.T @ d2
    b2 -= learning_rate * d2.sum(axis=0, keepdims=True)
    W1 -= learning_rate * X.T @ d1
    b1 -= learning_rate * d1.sum(axis=0, keepdims=True)
"""

SCRIPT_SPEC = """name: shapes-script
seed: 0
loss: bce
implementation:
  module: train.py
  script: true
"""

LISTS_PY = """import math
import random


def make_layer(n_in, n_out):
    return [{"weights": [random.uniform(-0.5, 0.5) for _ in range(n_in + 1)]} for _ in range(n_out)]


def forward_propagate(network, row):
    inputs = list(row)
    for layer in network:
        outputs = []
        for neuron in layer:
            w = neuron["weights"]
            z = w[-1] + sum(wi * xi for wi, xi in zip(w[:-1], inputs))
            neuron["output"] = 1.0 / (1.0 + math.exp(-z))
            outputs.append(neuron["output"])
        inputs = outputs
    return inputs


def backward_propagate_error(network, expected):
    for i in reversed(range(len(network))):
        layer = network[i]
        for j, neuron in enumerate(layer):
            if i == len(network) - 1:
                error = neuron["output"] - expected[j]
            else:
                error = sum(n["weights"][j] * n["delta"] for n in network[i + 1])
            neuron["delta"] = error * neuron["output"] * (1.0 - neuron["output"])


def update_weights(network, row, l_rate):
    for i, layer in enumerate(network):
        inputs = list(row) if i == 0 else [n["output"] for n in network[i - 1]]
        for neuron in layer:
            for k, x in enumerate(inputs):
                neuron["weights"][k] -= l_rate * neuron["delta"] * x
            neuron["weights"][-1] -= l_rate * neuron["delta"]
"""

LISTS_SPEC = """name: shapes-lists
seed: 0
data: {source: blobs, classes: 2, features: 2, samples: 8}
loss: {name: mse, scale: 0.5}
implementation:
  module: net.py
  model: ["random.seed(2)", "network = [make_layer(2, 3), make_layer(3, 2)]"]
  forward: forward_propagate
  step: ["backward_propagate_error(network, Y)", "update_weights(network, X, 0.5)"]
  arguments: {network: params, row: X, expected: Y}
  per_sample: vector
"""

SEEDS = {  # origin -> (spec, module file, its code)
    "shapes/step": (STEP_SPEC, "net.py", STEP_PY),
    "shapes/script": (SCRIPT_SPEC, "train.py", SCRIPT_PY),
    "shapes/lists": (LISTS_SPEC, "net.py", LISTS_PY),
}


def seeds() -> list[Case]:
    return [
        Case(spec.encode(), {file: code.encode()}, origin=origin)
        for origin, (spec, file, code) in SEEDS.items()
    ]


# name -> (the seed, the text replaced, its replacement, a finding must say so)
SHAPES: dict[str, tuple[str, str, str, bool]] = {
    "step_raises_halfway": (
        "shapes/step",
        "        self.W1 -= self.lr * (X.T @ d1)\n",
        "        self.W1 -= self.lr * (X.T @ d1)\n        raise RuntimeError('halfway')\n",
        True,
    ),
    "script_without_loop": (
        "shapes/script",
        "for epoch in range(500):\n",
        "if False:\n",
        False,
    ),
    "list_holds_a_string": (
        "shapes/lists",
        "random.uniform(-0.5, 0.5) for _ in range(n_in + 1)",
        "random.uniform(-0.5, 0.5) if _ else '0.5' for _ in range(n_in + 1)",
        False,
    ),
    "step_updates_a_string": (
        "shapes/step",
        "        self.b1 -= self.lr * d1.sum(axis=0)\n",
        "        self.b1 = 'b1'\n",
        True,
    ),
}


def make_shape(name: str) -> Case:
    """The seed of SHAPES[name] with its edit."""
    origin, old, new, finding = SHAPES[name]
    spec, file, code = SEEDS[origin]
    assert code.count(old) == 1, name
    return Case(
        spec.encode(),
        {file: code.replace(old, new).encode()},
        origin=origin,
        expect_finding=finding,
        notes=[f"{name} in {origin}"],
    )


@mutator("usercode", level=0)
def code_shape(rng: random.Random, case: Case) -> Case:
    """One of the shapes' hostile edits, on its seed (the case drawn is replaced)."""
    made = make_shape(rng.choice(sorted(SHAPES)))
    return made.but(args=list(case.args))
