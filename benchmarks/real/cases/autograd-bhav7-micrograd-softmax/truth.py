"""Truth for autograd-bhav7-micrograd-softmax: the learner's Value engine (with exp and log) and
MLP(4, [5, 3]) (relu between layers, linear output) on 6 samples of 4 features and 3 classes;
the loss is the one their train.py minimises: compute_softmax (their function, taken from
train.py without running its top level, which loads sklearn's digits and trains) of each
output, then sum of -log p[y] over the batch divided by the batch size; the gradients are the
Values' .grad after model.zero_grad() and loss.backward()."""

import numpy as np
from micrograd.nn import MLP
from truthlib import Param, load_defs, report, seed_everything

seed_everything(0)
model = MLP(4, [5, 3])
rng = np.random.default_rng(1)
batch_X = rng.normal(size=(6, 4))
batch_y = [0, 1, 2, 0, 1, 2]
compute_softmax = load_defs("train.py")["compute_softmax"]


def their_loss():
    model_outputs = [model.forward(image) for image in batch_X]
    model_probs = [compute_softmax(model_output) for model_output in model_outputs]
    loss = sum([-(o_i[y_i].log()) for o_i, y_i in zip(model_probs, batch_y)])
    return loss / (len(batch_X))


model.zero_grad()
their_loss().backward()


def loss() -> float:
    return float(their_loss().data)


params = []
for i, layer in enumerate(model.layers):
    params.append(Param.engine(f"layers[{i}].weights", [n.weights for n in layer.layer]))
    params.append(Param.engine(f"layers[{i}].bias", [n.bias for n in layer.layer]))
report(params, loss)
