"""The line of a G101 for causes the first line search missed (SPEC §3.6), each on code of our
own in a style unlike the corpus's: a bug in a term added in place to a gradient that a line
right elsewhere began (`self.gW += decay * self.W`)."""

from __future__ import annotations

from tests.own_cases import diagnose, errors, write_case

# layer objects keeping their gradients, an L2 penalty on the first layer only, added in place
DECAY = """
import numpy as np


class Affine:
    def __init__(self, n_in, n_out, decay, rng):
        self.W = rng.normal(0.0, 0.5, (n_in, n_out))
        self.b = np.zeros(n_out)
        self.decay = decay

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, g):
        self.gW = self.x.T @ g
        self.gb = g.sum(axis=0)
        if self.decay:
            self.gW += 2 * self.decay * self.W
        return g @ self.W.T


class Net:
    def __init__(self):
        rng = np.random.default_rng(3)
        self.layers = [Affine(2, 6, 0.05, rng), Affine(6, 1, 0.0, rng)]

    def forward(self, X):
        self.h = np.tanh(self.layers[0].forward(X))
        return self.layers[1].forward(self.h)

    def loss(self, out, Y):
        penalty = sum(l.decay * np.sum(l.W ** 2) for l in self.layers)
        return float(np.mean((out - Y) ** 2) + penalty)

    def backward(self, out, Y):
        g = 2 * (out - Y) / len(Y)
        for layer in reversed(self.layers):
            g = layer.backward(g)
            if layer is self.layers[1]:
                g = g * (1 - self.h ** 2)
"""

DECAY_SPEC = """
seed: 0
data: {source: moons, samples: 64}
loss: mse
implementation:
  module: net.py
  model: Net()
  forward: forward
  backward: backward
  loss: loss
"""


def _lines(report: dict) -> set[int]:
    return {
        f["location"]["source"]["line"]
        for f in errors(report)
        if f["code"] == "G101" and f["location"].get("source")
    }


def test_a_wrong_term_added_in_place_is_named_not_the_line_that_began_the_sum(tmp_path):
    code, report = diagnose(write_case(tmp_path, DECAY, DECAY_SPEC))
    assert code == 0 and not errors(report)
    bug = ("self.gW += 2 * self.decay * self.W", "self.gW += self.decay * self.W")
    code, report = diagnose(write_case(tmp_path, DECAY, DECAY_SPEC, *bug))
    assert code == 1
    assert {f["location"]["parameter"] for f in errors(report)} == {"layers[0].W"}
    assert _lines(report) == {18}
