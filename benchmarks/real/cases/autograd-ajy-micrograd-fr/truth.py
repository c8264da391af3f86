"""Truth for autograd-ajy-micrograd-fr: the learner's Value engine and MLP(3, [4, 4, 1]) (tanh
neurons) on the four samples of their tests/test_nn.py; the loss is their `loss(ys, ypred)`
there (sum of (ypred[i] - ys[i])**2, built with `+=` on Values), read without running that
script's training loop; the gradients are the Values' .grad after model.zero_grad() and their
loss.backward()."""

import random

from micrograd import nn
from truthlib import Param, load_defs, report, seed_everything

seed_everything(0)
random.seed(0)
model = nn.MLP(3, [4, 4, 1])
xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]
their_loss = load_defs("tests/test_nn.py")["loss"]  # only its defs: the script trains at top level

model.zero_grad()
out = their_loss(ys, [model(x) for x in xs])
out.backward()


def loss() -> float:
    return float(their_loss(ys, [model(x) for x in xs]).data)


params = []
for i, layer in enumerate(model.layers):
    params.append(Param.engine(f"layers[{i}].w", [n.w for n in layer.neurons]))
    params.append(Param.engine(f"layers[{i}].b", [n.b for n in layer.neurons]))
report(params, loss)
