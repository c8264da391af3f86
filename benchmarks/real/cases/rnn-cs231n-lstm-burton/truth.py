"""Truth for rnn-cs231n-lstm-burton: the learner's CaptioningRNN(cell_type='lstm') on 4 image
feature vectors (D = 5) and their captions (T + 1 = 5 word ids, vocabulary of 8 with <NULL>
padding). The loss is CaptioningRNN.loss's own (temporal softmax cross-entropy, masked, summed over
time, averaged over the captions); the gradients are its grads dict. The model is built in float64
(the notebook's gradient checks pass dtype=np.float64). W_embed starts at randn/100, which leaves
dWx entries near the central-difference noise, so W_embed is redrawn at unit scale (any point checks
a gradient)."""

import sys

import numpy as np
from truthlib import Param, report, seed_everything

sys.path.insert(0, "assignment3")  # as the assignment's notebooks run: `from cs231n... import ...`
from cs231n.classifiers.rnn import CaptioningRNN

seed_everything(0)
words = ["<NULL>", "<START>", "<END>", "a", "b", "c", "d", "e"]
model = CaptioningRNN(
    {w: i for i, w in enumerate(words)},
    input_dim=5,
    wordvec_dim=4,
    hidden_dim=3,
    cell_type="lstm",
    dtype=np.float64,
)
model.params["W_embed"] *= 100
data = np.load("captions.npz")
features, captions = data["x"], data["y"]
_, grads = model.loss(features, captions)

# forward order: h0 = features W_proj + b_proj, word vectors W_embed[captions], the LSTM (Wx, Wh, b),
# scores h W_vocab + b_vocab
order = ["W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab"]
report(
    [Param(k, model.params[k], grads[k]) for k in order],
    loss=lambda: float(model.loss(features, captions)[0]),
)
