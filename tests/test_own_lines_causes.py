"""The line of a G101 for causes the first line search missed (SPEC §3.6), each on code of our
own in a style unlike the corpus's: a bug in a term added in place to a gradient that a line
right elsewhere began (`self.gW += decay * self.W`); a gradient left as the zeros it was
allocated although a statement adds to it in place (`gb += gb`); a recurrent net whose targets
are read as integers (`dlog[targets[t]] -= 1`: no array of the targets starts the gradient's
path) and whose pre-activation is never bound (`np.tanh(U @ x + R @ h + b)`)."""

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

# one sequence per call, module-level weights, integer targets, the pre-activation unbound
RECURRENT = """
import numpy as np

V, H = 5, 6
rng = np.random.default_rng(7)
U = rng.normal(0, 0.4, (H, V))
R = rng.normal(0, 0.4, (H, H))
O = rng.normal(0, 0.4, (V, H))
bias_h = np.zeros((H, 1))
bias_o = np.zeros((V, 1))


def run_sequence(inputs, targets, hprev):
    h, p = {-1: np.copy(hprev)}, {}
    total = 0.0
    for t, ix in enumerate(inputs):
        x = np.zeros((V, 1))
        x[ix] = 1.0
        h[t] = np.tanh(U @ x + R @ h[t - 1] + bias_h)
        logits = O @ h[t] + bias_o
        e = np.exp(logits - logits.max())
        p[t] = e / e.sum()
        total -= np.log(p[t][targets[t], 0])
    gU, gR, gO = np.zeros_like(U), np.zeros_like(R), np.zeros_like(O)
    gbh, gbo = np.zeros_like(bias_h), np.zeros_like(bias_o)
    carry = np.zeros((H, 1))
    for t in reversed(range(len(inputs))):
        x = np.zeros((V, 1))
        x[inputs[t]] = 1.0
        dlog = np.copy(p[t])
        dlog[targets[t]] -= 1.0
        gO += dlog @ h[t].T
        gbo += dlog
        dh = O.T @ dlog + carry
        draw = (1.0 - h[t] ** 2) * dh
        gbh += draw
        gU += draw @ x.T
        gR += draw @ h[t - 1].T
        carry = R.T @ draw
    return total, gU, gR, gO, gbh, gbo, h[len(inputs) - 1]
"""

RECURRENT_SPEC = """
seed: 0
data: {source: sequences, vocab: 5, length: 4, target: shifted, samples: 4}
implementation:
  module: net.py
  forward: run_sequence
  backward: run_sequence
  arguments: {inputs: X, targets: Y, hprev: zeros}
  per_sample: true
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


def test_a_recurrent_delta_missing_its_carry_is_named_where_integer_targets_start_the_path(
    tmp_path,
):
    code, report = diagnose(write_case(tmp_path, RECURRENT, RECURRENT_SPEC))
    assert code == 0 and not errors(report)
    bug = ("dh = O.T @ dlog + carry", "dh = O.T @ dlog")
    code, report = diagnose(write_case(tmp_path, RECURRENT, RECURRENT_SPEC, *bug))
    assert code == 1
    assert {"U", "R", "bias_h"} <= {f["location"]["parameter"] for f in errors(report)}
    assert _lines(report) == {33}  # one root cause, not the `draw` line below it
