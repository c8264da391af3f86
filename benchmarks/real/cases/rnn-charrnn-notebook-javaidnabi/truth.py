"""Truth for rnn-charrnn-notebook-javaidnabi: the notebook's RNN class (Karpathy's min-char-rnn as
a class) on one sequence of 4 character ids, vocabulary 6, hidden size 8. The loss is the class's
own RNN.loss(ps, targets) (cross-entropy summed over time); the gradients are RNN.backward's
(dU, dW, dV, db, dc). The class's random_init (uniform [0, 0.01)) makes dW too small to compare
against central differences, so the weights are redrawn at a 0.3 scale (any point checks a
gradient); every gradient stays well inside the clip to [-5, 5] (checked below)."""

import numpy as np
from truthlib import Param, load_defs, report, seed_everything

NB = "RNN_char_text generator.ipynb"
ns = load_defs(NB)  # imports, defs and classes: the last cells read input.txt and train forever
seed_everything(0)
rnn = ns["RNN"](hidden_size=8, vocab_size=6, seq_length=4, learning_rate=1e-1)
rng = np.random.default_rng(1)
for name in ("U", "W", "V", "b", "c"):
    getattr(rnn, name)[...] = 0.3 * rng.normal(size=getattr(rnn, name).shape)
inputs, targets = [0, 3, 1, 5], [3, 1, 5, 2]
hprev = np.zeros((8, 1))

xs, hs, ps = rnn.forward(inputs, hprev)
dU, dW, dV, db, dc = rnn.backward(xs, hs, ps, targets)


def loss() -> float:
    _, _, p = rnn.forward(inputs, hprev)
    return float(rnn.loss(p, targets))


# forward order: hs[t] = tanh(U x + W h + b), os[t] = V h + c
clip_inactive = bool(max(np.abs(g).max() for g in (dU, dW, dV, db, dc)) < 5)
report(
    [
        Param("U", rnn.U, dU),
        Param("W", rnn.W, dW),
        Param("b", rnn.b, db),
        Param("V", rnn.V, dV),
        Param("c", rnn.c, dc),
    ],
    loss,
    clip_inactive=clip_inactive,
)
