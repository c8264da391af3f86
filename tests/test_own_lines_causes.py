"""The line of a G101 for causes the first line search missed (SPEC §3.6), each on code of our
own in a style unlike the corpus's: a bug in a term added in place to a gradient that a line
right elsewhere began (`self.gW += decay * self.W`); a gradient left as the zeros it was
allocated although a statement adds to it in place (`gb += gb`)."""

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

# per-sample accumulation into zero buffers, a params dict, samples as rows
SAMPLES = """
import numpy as np


def init():
    rng = np.random.default_rng(5)
    return {"W": rng.normal(0.0, 0.5, (3, 2)), "b": np.zeros(3),
            "V": rng.normal(0.0, 0.5, (1, 3)), "c": np.zeros(1)}


def predict(params, X):
    H = np.tanh(X @ params["W"].T + params["b"])
    return 1 / (1 + np.exp(-(H @ params["V"].T + params["c"])))


def cost(out, Y):
    return float(np.mean((out - Y) ** 2))


def grads(params, X, Y):
    gW, gb = np.zeros_like(params["W"]), np.zeros_like(params["b"])
    gV, gc = np.zeros_like(params["V"]), np.zeros_like(params["c"])
    for x, y in zip(X, Y):
        h = np.tanh(params["W"] @ x + params["b"])
        p = 1 / (1 + np.exp(-(params["V"] @ h + params["c"])))
        e = 2 * (p - y) * p * (1 - p) / len(X)
        gV += np.outer(e, h)
        gc += e
        d = (params["V"].T @ e) * (1 - h ** 2)
        gW += np.outer(d, x)
        gb += d
    return {"W": gW, "b": gb, "V": gV, "c": gc}
"""

SAMPLES_SPEC = """
seed: 0
data: {source: moons, samples: 32}
loss: mse
implementation:
  module: net.py
  model: init()
  forward: predict
  backward: grads
  loss: cost
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


def test_a_buffer_a_statement_adds_nothing_to_is_named_at_that_statement(tmp_path):
    code, report = diagnose(write_case(tmp_path, SAMPLES, SAMPLES_SPEC))
    assert code == 0 and not errors(report)
    code, report = diagnose(write_case(tmp_path, SAMPLES, SAMPLES_SPEC, "gb += d\n", "gb += gb\n"))
    assert code == 1
    assert {f["location"]["parameter"] for f in errors(report)} == {"b"}
    assert _lines(report) == {30}  # not the return, nor the np.zeros_like that allocated it
