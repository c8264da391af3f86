"""Recurrent and convolutional code on the spec-less path (SPEC §3.1–§3.3): one sequence of
token ids per call, a `zeros` initial state sized by the code's own parameters, a forward that
returns the loss beside the gradients (and the last hidden state after them), gradients matched
by the names the return statement gives them or by shape, NHWC images with a backward that
takes dL/dZ. Each style is written as a learner of some course would: correct ones are clean,
planted bugs are found on the tensor they make wrong."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.usercode.sequences import loss_first, return_names, zeros_shapes
from tests.own_cases import diagnose, errors, write_case

# A min-char-rnn-style script: globals made by a setup function, lossFun over one sequence of
# character ids with dicts of one-hot xs[t] and hidden columns hs[t]; forward and backward in one
# call returning (loss, dWxh, dWhh, dWhy, dbh, dby, hs[last])
MIN_CHAR = """
import numpy as np

vocab_size, hidden_size = 5, 6


def init_model():
    global Wxh, Whh, Why, bh, by
    rng = np.random.default_rng(7)
    Wxh = rng.normal(size=(hidden_size, vocab_size)) * 0.3
    Whh = rng.normal(size=(hidden_size, hidden_size)) * 0.3
    Why = rng.normal(size=(vocab_size, hidden_size)) * 0.3
    bh = rng.normal(size=(hidden_size, 1)) * 0.1
    by = rng.normal(size=(vocab_size, 1)) * 0.1


def lossFun(inputs, targets, hprev):
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]
"""
MIN_CHAR_SPEC = """
name: min-char
seed: 0
data: {source: sequences, vocab: 5, length: 4, target: shifted, samples: 4}
implementation:
  module: net.py
  model: init_model()
  forward: lossFun
  backward: lossFun
  arguments: {inputs: X, targets: Y, hprev: zeros}
  per_sample: true
"""

# A WildML-tutorial-style class: forward(x) over word ids returns (o, s) with the states as rows
# (s[-1] the initial zeros), bptt(x, y) returns [dU, dV, dW] (an order unlike the parameters'),
# the loss the cross-entropy summed over the sentence
VANILLA = """
import numpy as np


class RNNNumpy:
    def __init__(self, word_dim, hidden_dim=4):
        rng = np.random.default_rng(3)
        self.word_dim, self.hidden_dim = word_dim, hidden_dim
        self.U = rng.uniform(-0.6, 0.6, (hidden_dim, word_dim))
        self.V = rng.uniform(-0.6, 0.6, (word_dim, hidden_dim))
        self.W = rng.uniform(-0.6, 0.6, (hidden_dim, hidden_dim))

    def softmax(self, z):
        e = np.exp(z - np.max(z))
        return e / e.sum()

    def forward_propagation(self, x_seq):
        T = len(x_seq)
        s = np.zeros((T + 1, self.hidden_dim))
        o = np.zeros((T, self.word_dim))
        for t in np.arange(T):
            s[t] = np.tanh(self.U[:, x_seq[t]] + self.W.dot(s[t - 1]))
            o[t] = self.softmax(self.V.dot(s[t]))
        return [o, s]

    def calculate_loss(self, x, y):
        o, s = self.forward_propagation(x)
        return -np.sum(np.log(o[np.arange(len(y)), y]))

    def bptt(self, x, y):
        T = len(y)
        o, s = self.forward_propagation(x)
        dLdU = np.zeros(self.U.shape)
        dLdV = np.zeros(self.V.shape)
        dLdW = np.zeros(self.W.shape)
        delta_o = o
        delta_o[np.arange(len(y)), y] -= 1.0
        for t in np.arange(T)[::-1]:
            dLdV += np.outer(delta_o[t], s[t].T)
            delta_t = self.V.T.dot(delta_o[t]) * (1 - (s[t] ** 2))
            for bptt_step in np.arange(max(0, t - 10), t + 1)[::-1]:
                dLdW += np.outer(delta_t, s[bptt_step - 1])
                dLdU[:, x[bptt_step]] += delta_t
                delta_t = self.W.T.dot(delta_t) * (1 - s[bptt_step - 1] ** 2)
        return [dLdU, dLdV, dLdW]
"""
VANILLA_SPEC = """
name: vanilla
seed: 0
data: {source: sequences, vocab: 6, length: 3, target: shifted, samples: 4}
implementation:
  module: net.py
  model: RNNNumpy(6, hidden_dim=4)
  forward: forward_propagation
  backward: bptt
  loss: calculate_loss
  per_sample: true
"""

# An LSTM cell as functions over a params dict (the four gates stacked in one matrix acting on
# [h_prev; x]): forward returns (probabilities per step, a cache), loss(probs, targets), and
# backward(targets, cache, params) returns a dict of gradients; h0 and c0 are zero columns
LSTM = """
import numpy as np


def init_lstm(vocab, hidden):
    rng = np.random.default_rng(5)
    return {
        "W": rng.normal(size=(4 * hidden, hidden + vocab)) * 0.4,
        "b": rng.normal(size=(4 * hidden, 1)) * 0.1,
        "Wy": rng.normal(size=(vocab, hidden)) * 0.4,
        "by": rng.normal(size=(vocab, 1)) * 0.1,
    }


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(inputs, h0, c0, params):
    W, b, Wy, by = params["W"], params["b"], params["Wy"], params["by"]
    H = h0.shape[0]
    vocab = Wy.shape[0]
    h, c = h0, c0
    probs, cache = [], []
    for t in range(len(inputs)):
        x = np.zeros((vocab, 1))
        x[inputs[t]] = 1
        z = np.vstack([h, x])
        a = W @ z + b
        i, f, o = sigmoid(a[:H]), sigmoid(a[H:2 * H]), sigmoid(a[2 * H:3 * H])
        g = np.tanh(a[3 * H:])
        c_prev, h_prev = c, h
        c = f * c_prev + i * g
        h = o * np.tanh(c)
        y = Wy @ h + by
        p = np.exp(y - y.max())
        p = p / p.sum()
        probs.append(p)
        cache.append((z, i, f, o, g, c_prev, c, h))
    return probs, cache


def loss(probs, targets):
    return float(sum(-np.log(p[t, 0]) for p, t in zip(probs, targets)))


def backward(targets, cache, probs, params):
    W, Wy = params["W"], params["Wy"]
    H = Wy.shape[1]
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros((H, 1))
    dc_next = np.zeros((H, 1))
    for t in reversed(range(len(cache))):
        z, i, f, o, g, c_prev, c, h = cache[t]
        dy = probs[t].copy()
        dy[targets[t]] -= 1
        grads["Wy"] += dy @ h.T
        grads["by"] += dy
        dh = Wy.T @ dy + dh_next
        dc = dh * o * (1 - np.tanh(c) ** 2) + dc_next
        da = np.vstack([
            dc * g * i * (1 - i),
            dc * c_prev * f * (1 - f),
            dh * np.tanh(c) * o * (1 - o),
            dc * i * (1 - g ** 2),
        ])
        grads["W"] += da @ z.T
        grads["b"] += da
        dz = W.T @ da
        dh_next = dz[:H]
        dc_next = dc * f
    return grads
"""
LSTM_SPEC = """
name: lstm
seed: 0
data: {source: sequences, vocab: 5, length: 3, target: shifted, samples: 4}
implementation:
  module: net.py
  model: init_lstm(5, 3)
  forward: forward
  backward: backward
  loss: loss
  arguments: {inputs: X, h0: zeros, c0: zeros, targets: Y}
  per_sample: true
"""

# A deeplearning.ai-style convolution over NHWC images with loops and a single-step helper;
# conv_backward(dZ, cache) returns (dW, db); the loss ½‖Z‖² against a zero target
CNN = """
import numpy as np


def conv_single_step(a_slice_prev, W, b):
    return np.sum(a_slice_prev * W) + b.item()


def conv_forward(A_prev, W, b, hparameters):
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    f, f, n_C_prev, n_C = W.shape
    stride = hparameters["stride"]
    n_H = (n_H_prev - f) // stride + 1
    n_W = (n_W_prev - f) // stride + 1
    Z = np.zeros((m, n_H, n_W, n_C))
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vs, hs = h * stride, w * stride
                    a_slice = A_prev[i, vs:vs + f, hs:hs + f, :]
                    Z[i, h, w, c] = conv_single_step(a_slice, W[:, :, :, c], b[:, :, :, c])
    cache = (A_prev, W, b, hparameters)
    return Z, cache


def conv_backward(dZ, cache):
    A_prev, W, b, hparameters = cache
    f = W.shape[0]
    stride = hparameters["stride"]
    m, n_H, n_W, n_C = dZ.shape
    dW = np.zeros(W.shape)
    db = np.zeros(b.shape)
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vs, hs = h * stride, w * stride
                    a_slice = A_prev[i, vs:vs + f, hs:hs + f, :]
                    dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
    return dW, db
"""
CNN_SPEC = """
name: cnn
seed: 0
data: {source: npz, path: batch.npz}
loss: {name: mse, reduction: sum, scale: 0.5}
implementation:
  module: net.py
  model: "{'W': np.random.randn(2, 2, 3, 2), 'b': np.random.randn(1, 1, 1, 2)}"
  forward: conv_forward
  backward: conv_backward
  arguments: {A_prev: X, hparameters: {stride: 1}}
  layout: nhwc
"""

CASES = {
    "min_char": (MIN_CHAR, MIN_CHAR_SPEC),
    "vanilla": (VANILLA, VANILLA_SPEC),
    "lstm": (LSTM, LSTM_SPEC),
    "cnn": (CNN, CNN_SPEC),
}


def setup(tmp_path: Path, style: str, find: str = "", replace: str = "") -> Path:
    code, spec = CASES[style]
    write_case(tmp_path, code, spec, find, replace)
    if style == "cnn":  # images (N, H, W, C) and a zero target of Z's shape (N, 3, 3, 2)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(4, 4, 4, 3))
        np.savez(tmp_path / "batch.npz", x=x, y=np.zeros((4, 3, 3, 2)))
    return tmp_path / "spec.yaml"


def about(report: dict) -> str:
    return " ".join(report["specs"][0]["about"])


@pytest.mark.parametrize("style", sorted(CASES))
def test_correct_recurrent_and_convolutional_code_is_clean(tmp_path, style):
    code, report = diagnose(setup(tmp_path, style))
    assert code == 0, errors(report)
    assert not errors(report)
    assert "arrays that move the loss" in about(report)


def test_the_zeros_state_is_sized_by_the_hidden_to_hidden_matrix(tmp_path):
    _, report = diagnose(setup(tmp_path, "min_char"))
    said = about(report)
    assert "zeros: an initial state of shape (6, 1)" in said
    assert "as a list of token ids" in said
    assert "the loss it returns beside the gradients" in said


def test_the_lstm_state_is_sized_by_trying_the_sizes_the_parameters_hold(tmp_path):
    """No square matrix: 4H and the vocabulary's size are tried and refused by the code itself
    (vstack then W @ z does not fit) before H."""
    _, report = diagnose(setup(tmp_path, "lstm"))
    assert "zeros: an initial state of shape (3, 1)" in about(report)


@pytest.mark.parametrize(
    ("style", "find", "replace", "wrong", "right"),
    [
        # the gradient from the next step dropped: every recurrent tensor goes wrong
        (
            "min_char",
            "dh = np.dot(Why.T, dy) + dhnext",
            "dh = np.dot(Why.T, dy)",
            {"Whh", "Wxh", "bh"},
            {"Why", "by"},
        ),
        # tanh's derivative on the state's square root of nothing: (1 - s) for (1 - s²)
        (
            "vanilla",
            "delta_t = self.V.T.dot(delta_o[t]) * (1 - (s[t] ** 2))",
            "delta_t = self.V.T.dot(delta_o[t]) * (1 - s[t])",
            {"U", "W"},
            {"V"},
        ),
        # the cell state's gradient through time dropped
        ("lstm", "dc_next = dc * f", "dc_next = dc * 0", {"W", "b"}, {"Wy", "by"}),
        # the output bias's gradient overwritten at each step instead of summed
        ("lstm", 'grads["by"] += dy', 'grads["by"] = dy', {"by"}, {"Wy"}),
        # the conv bias's gradient set where it should add up over the windows
        (
            "cnn",
            "db[:, :, :, c] += dZ[i, h, w, c]",
            "db[:, :, :, c] = dZ[i, h, w, c]",
            {"b"},
            {"W"},
        ),
    ],
)
def test_a_planted_bug_is_found_on_the_tensor_it_makes_wrong(
    tmp_path, style, find, replace, wrong, right
):
    code, report = diagnose(setup(tmp_path, style, find, replace))
    assert code == 1, report["specs"][0]["findings"]
    found = {f["location"]["parameter"] for f in errors(report) if f["code"] == "G101"}
    assert found & wrong, found
    assert not found & right, found
    assert not [f for f in errors(report) if f["code"] in ("G103", "U101")]


def test_the_backward_takes_dZ_the_gradient_of_the_loss_at_Z(tmp_path):
    _, report = diagnose(setup(tmp_path, "cnn"))
    assert "dZ: the loss's gradient at your forward's Z" in about(report)


def test_a_forward_returning_loss_and_grads_is_a_loss_and_a_backward_in_one(tmp_path):
    """cs231n's model.loss(X, y) given as both forward and backward: the loss is the number;
    its parameters are ordered as it uses them, through ndarray.dot as through @."""
    code = """
    import numpy as np

    class TwoLayer:
        def __init__(self):
            rng = np.random.default_rng(1)
            self.params = {"W1": rng.normal(size=(3, 5)), "b1": np.zeros(5),
                           "W2": rng.normal(size=(5, 3)), "b2": np.zeros(3)}

        def loss(self, X, y):
            W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
            h = np.maximum(0, X.dot(W1) + b1)
            s = h.dot(W2) + b2
            p = np.exp(s - s.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            n = len(X)
            loss = -np.log(p[np.arange(n), y]).mean()
            ds = p.copy()
            ds[np.arange(n), y] -= 1
            ds /= n
            dh = ds @ W2.T
            dh[h <= 0] = 0
            return loss, {"W1": X.T @ dh, "b1": dh.sum(0), "W2": h.T @ ds, "b2": ds.sum(0)}
    """
    (tmp_path / "net.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    spec = """
    name: in-one
    seed: 0
    data: {source: blobs, classes: 3, features: 3, samples: 16}
    implementation:
      module: net.py
      model: TwoLayer()
      forward: loss
      backward: loss
    """
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(spec).lstrip(), encoding="utf-8")
    exit_code, report = diagnose(tmp_path / "spec.yaml")
    assert exit_code == 0, errors(report)
    assert "your forward returns the loss beside the gradients" in about(report)
    # the order of use is seen through ndarray.dot too: W1 is used before b1
    assert "params['W1'], params['b1'], params['W2'], params['b2']" in about(report)
    broken = (tmp_path / "net.py").read_text().replace('"b2": ds.sum(0)', '"b2": ds.sum(0) * 2')
    (tmp_path / "net.py").write_text(broken, encoding="utf-8")
    exit_code, report = diagnose(tmp_path / "spec.yaml")
    assert exit_code == 1
    found = {f["location"]["parameter"] for f in errors(report) if f["code"] == "G101"}
    assert "params['b2']" in found and "params['W2']" not in found


def test_a_zeros_state_with_no_parameters_to_size_it_is_a_question(tmp_path):
    (tmp_path / "net.py").write_text(
        "def lossFun(inputs, targets, hprev):\n    return 0.0, hprev\n", encoding="utf-8"
    )
    (tmp_path / "spec.yaml").write_text(
        textwrap.dedent(MIN_CHAR_SPEC).replace("  model: init_model()\n", ""), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["diagnose", str(tmp_path / "spec.yaml")])
    assert result.exit_code == 2
    assert "implementation.arguments" in result.output and "zeros" in result.output


def test_zeros_shapes_put_a_square_matrix_s_size_first():
    arrays = [np.ones((6, 5)), np.ones((4, 4)), np.ones((5, 4)), np.ones((4, 1))]
    assert zeros_shapes(arrays)[:2] == [(4, 1), (4,)]
    assert (6, 1) in zeros_shapes(arrays) and (5,) in zeros_shapes(arrays)


def test_loss_first_reads_only_a_number_followed_by_arrays():
    g = np.ones((2, 2))
    assert loss_first((1.5, g, g)) == 1.5
    assert loss_first((np.float64(2.0), {"dW": g})) == 2.0
    assert loss_first((g, g)) is None  # (output, cache)
    assert loss_first((1.5, "text")) is None
    assert loss_first(1.5) is None


def test_return_names_read_the_return_statement():
    def f(x):
        def inner():
            return 1, 2, 3

        a, b = x, x
        return a, b, x[0]

    assert return_names(f) == ["a", "b", None]
    assert return_names(len) is None


# The script as a learner runs it: the vocabulary read from a text file beside it, the
# parameters made at top level, then a training loop that never ends (nnfix skips it)
SCRIPT = (
    MIN_CHAR.replace(
        "vocab_size, hidden_size = 5, 6\n",
        "with open('input.txt', 'r') as f:\n"
        "    data = f.read()\n"
        "chars = sorted(set(data))\n"
        "vocab_size, hidden_size = len(chars), 6\n"
        "Wxh = np.random.randn(hidden_size, vocab_size) * 0.3\n"
        "Whh = np.random.randn(hidden_size, hidden_size) * 0.3\n"
        "Why = np.random.randn(vocab_size, hidden_size) * 0.3\n"
        "bh = np.zeros((hidden_size, 1))\n"
        "by = np.zeros((vocab_size, 1))\n"
        "mWxh = np.zeros_like(Wxh)\n",
    )
    + "\nlosses = train_forever(Wxh)\nwhile True:\n    pass\n"
)


def script_setup(tmp_path: Path, find: str = "", replace: str = "") -> Path:
    code = SCRIPT if not find else SCRIPT.replace(find, replace)
    (tmp_path / "net.py").write_text(code, encoding="utf-8")
    (tmp_path / "input.txt").write_text("abcab cabba", encoding="utf-8")  # 4 characters
    spec = textwrap.dedent(MIN_CHAR_SPEC).replace("vocab: 5", "vocab: 4")
    (tmp_path / "spec.yaml").write_text(spec.replace("  model: init_model()\n", ""), "utf-8")
    return tmp_path / "spec.yaml"


def test_the_top_level_statements_a_script_s_functions_need_are_run(tmp_path):
    code, report = diagnose(script_setup(tmp_path))
    assert code == 0, errors(report)
    said = about(report)
    # data, chars, vocab_size, Wxh, Whh, Why, bh, by — not mWxh, not the training
    assert "run: 8 skipped top-level statements your functions need" in said
    assert "parameters: 5 arrays" in said
    code, report = diagnose(
        script_setup(
            tmp_path, "dWhh += np.dot(dhraw, hs[t - 1].T)", "dWhh += np.dot(dhraw, hs[t].T)"
        )
    )
    assert code == 1
    assert {f["location"]["parameter"] for f in errors(report) if f["code"] == "G101"} == {"Whh"}


def test_a_statement_that_trains_or_writes_is_never_re_run(tmp_path):
    from nnfix.usercode.loader import load_module
    from nnfix.usercode.needed import rerun

    path = tmp_path / "m.py"
    path.write_text(
        "import numpy as np\n"
        "W = np.ones((2, 2))\n"
        "history = fit(W)\n"
        "with open('out.txt', 'w') as f:\n"
        "    log = f.write('x')\n"
        "def forward(x):\n"
        "    return W @ x + len(history) + len(log)\n",
        encoding="utf-8",
    )
    loaded = load_module(path)
    done = rerun(loaded, ["forward"])
    assert [s.place.line for s in done] == [2]
    assert not (tmp_path / "out.txt").exists()
    assert {s.place.line for s in loaded.skipped} == {3, 4}


# A cs231n-style batch RNN over (N, T) word ids: an embedding, h0 one row per sample (N, H),
# and one call that returns the loss (mean over the sequences) and a dict of gradients
BATCH = """
import numpy as np


def init_rnn(V, D, H):
    rng = np.random.default_rng(11)
    return {
        "W_embed": rng.normal(size=(V, D)) * 0.5,
        "Wx": rng.normal(size=(D, H)) * 0.5,
        "Wh": rng.normal(size=(H, H)) * 0.5,
        "b": rng.normal(size=(H,)) * 0.1,
        "W_out": rng.normal(size=(H, V)) * 0.5,
    }


def rnn_loss(words, h0, targets, params):
    We, Wx, Wh, b, Wo = (params[k] for k in ("W_embed", "Wx", "Wh", "b", "W_out"))
    N, T = words.shape
    x = We[words]
    hs = [h0]
    for t in range(T):
        hs.append(np.tanh(x[:, t].dot(Wx) + hs[-1].dot(Wh) + b))
    loss = 0.0
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        s = hs[t + 1].dot(Wo)
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss += -np.log(p[np.arange(N), targets[:, t]]).sum() / N
        ds = p
        ds[np.arange(N), targets[:, t]] -= 1
        ds /= N
        grads["W_out"] += hs[t + 1].T.dot(ds)
        dh = ds.dot(Wo.T) + dh_next
        draw = dh * (1 - hs[t + 1] ** 2)
        grads["b"] += draw.sum(axis=0)
        grads["Wx"] += x[:, t].T.dot(draw)
        grads["Wh"] += hs[t].T.dot(draw)
        np.add.at(grads["W_embed"], words[:, t], draw.dot(Wx.T))
        dh_next = draw.dot(Wh.T)
    return loss, grads
"""
BATCH_SPEC = """
name: batch-rnn
seed: 0
data: {source: sequences, vocab: 6, length: 3, target: shifted, samples: 4}
implementation:
  module: net.py
  model: init_rnn(6, 2, 5)
  forward: rnn_loss
  backward: rnn_loss
  arguments: {words: X, h0: zeros, targets: Y}
"""


def batch_setup(tmp_path: Path, find: str = "", replace: str = "") -> Path:
    code = BATCH if not find else BATCH.replace(find, replace)
    assert not find or find in BATCH
    (tmp_path / "net.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(BATCH_SPEC).lstrip(), encoding="utf-8")
    return tmp_path / "spec.yaml"


def test_a_batch_rnn_gets_its_zeros_state_one_row_per_sample(tmp_path):
    code, report = diagnose(batch_setup(tmp_path))
    assert code == 0, errors(report)
    said = about(report)
    assert "zeros: an initial state of shape (4, 5)" in said
    assert "your forward returns the loss beside the gradients" in said
    code, report = diagnose(
        batch_setup(tmp_path, 'grads["b"] += draw.sum(axis=0)', 'grads["b"] += draw.mean(axis=0)')
    )
    assert code == 1
    found = {f["location"]["parameter"] for f in errors(report) if f["code"] == "G101"}
    assert found == {"b"}, found


def test_npz_targets_of_any_rank_are_read_as_they_are(tmp_path):
    """SPEC §3.1: npz arrays of any rank — one-hot sequences (1, T, V, 1), a conv's target map
    (N, H, W, C); a declared model's output layer still wants (samples,) or (samples, outputs)."""
    from nnfix.data import encode_targets, load_dataset
    from nnfix.errors import DataError
    from nnfix.spec.model import DataSpec

    y = np.eye(4)[[1, 2, 3, 0]].reshape(1, 4, 4, 1)
    np.savez(tmp_path / "s.npz", x=y[:, ::-1], y=y)
    data = load_dataset(
        DataSpec(source="npz", path="s.npz"), base_dir=tmp_path, rng=np.random.default_rng(0)
    )
    assert data.y_train.shape == (1, 4, 4, 1)
    np.testing.assert_array_equal(data.y_train, y)
    with pytest.raises(DataError, match=r"\(1, 4, 4, 1\)"):
        encode_targets(data.y_train, 4)
    np.savez(tmp_path / "one.npz", x=np.ones((3, 2)), y=np.float64(1.0))
    with pytest.raises(DataError, match="single number"):
        load_dataset(
            DataSpec(source="npz", path="one.npz"), base_dir=tmp_path, rng=np.random.default_rng(0)
        )


# A many-to-one RNN (a book's "predict the next character" exercise): one list of ids in, the
# next id's probabilities out; its loss and backward take that id as a plain int
NEXT = """
import numpy as np


def make(V, H):
    rng = np.random.default_rng(2)
    return {"Wxh": rng.normal(size=(H, V)) * 0.5, "Whh": rng.normal(size=(H, H)) * 0.5,
            "Why": rng.normal(size=(V, H)) * 0.5}


def predict(inputs, params):
    Wxh, Whh, Why = params["Wxh"], params["Whh"], params["Why"]
    hs = [np.zeros(Whh.shape[0])]
    for ix in inputs:
        hs.append(np.tanh(Wxh[:, ix] + Whh @ hs[-1]))
    s = Why @ hs[-1]
    p = np.exp(s - s.max())
    return p / p.sum(), (inputs, hs)


def cross_entropy(probs, target):
    assert isinstance(target, int)
    return -np.log(probs[target])


def backprop(probs, target, cache, params):
    inputs, hs = cache
    ds = probs.copy()
    ds[target] -= 1
    g = {"dWhy": np.outer(ds, hs[-1]), "dWxh": np.zeros_like(params["Wxh"]),
         "dWhh": np.zeros_like(params["Whh"])}
    dh = params["Why"].T @ ds
    for t in reversed(range(len(inputs))):
        draw = dh * (1 - hs[t + 1] ** 2)
        g["dWxh"][:, inputs[t]] += draw
        g["dWhh"] += np.outer(draw, hs[t])
        dh = params["Whh"].T @ draw
    return g
"""
NEXT_SPEC = """
name: next
seed: 0
data: {source: sequences, vocab: 5, length: 3, target: next, samples: 4}
implementation:
  module: net.py
  model: make(5, 4)
  forward: predict
  backward: backprop
  loss: cross_entropy
  per_sample: true
"""


def test_a_next_token_target_is_given_as_one_int(tmp_path):
    (tmp_path / "net.py").write_text(textwrap.dedent(NEXT).lstrip(), encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(NEXT_SPEC).lstrip(), encoding="utf-8")
    code, report = diagnose(tmp_path / "spec.yaml")
    assert code == 0, report["specs"][0]["findings"] if report["specs"] else report
    broken = NEXT.replace("draw = dh * (1 - hs[t + 1] ** 2)", "draw = dh * (1 - hs[t] ** 2)")
    (tmp_path / "net.py").write_text(textwrap.dedent(broken).lstrip(), encoding="utf-8")
    code, report = diagnose(tmp_path / "spec.yaml")
    assert code == 1
    found = {f["location"]["parameter"] for f in errors(report) if f["code"] == "G101"}
    assert found and found <= {"Wxh", "Whh"}, found


def test_the_state_returned_beside_the_gradients_is_told_by_its_values(tmp_path):
    """The last hidden state returned first, the gradients after it, unnamed: hs (6, 1) has
    bh's shape; it is the item the targets do not move, so it is no gradient."""
    spec = setup(
        tmp_path,
        "min_char",
        "return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]",
        "grads = [dWxh, dWhh, dWhy, dbh, dby]\n    return (loss, hs[len(inputs) - 1], *grads)",
    )
    code, report = diagnose(spec)
    assert code == 0, errors(report)
    assert "state: what your backward returns after the loss at [1]" in about(report)
