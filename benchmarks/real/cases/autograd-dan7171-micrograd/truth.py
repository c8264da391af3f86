"""Truth for autograd-dan7171-micrograd: the learner's own scalar autograd (Value with an
out_backward closure per operation) and MLP(3, [4, 1], 'relu') on their demo's three samples;
the loss is their demo's expression, sum over samples of (nn(x)[0] - y)**2 accumulated as
`loss = loss_i + loss`; the gradients are the Values' .grad after their loss.backward(), with
the parameters' grads zeroed first as their training loop does."""

import sys

from truthlib import Param, report, seed_everything

sys.path.insert(0, "micrograd")
from nn import MLP

seed_everything(0)
model = MLP(3, [4, 1], "relu")
X_train = [[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [0.5, 1.0, 3.0]]
y_train = [1.0, 2.0, 3.0]


def forward_loss():
    loss = 0.0
    for xi, yi in zip(X_train, y_train):
        yi_pred = model(xi)[0]
        loss_i = (yi_pred - yi) ** 2
        loss = loss_i + loss
    return loss


out = forward_loss()
for p in model.parameters():
    p.grad = 0
out.backward()


def loss() -> float:
    return float(forward_loss().data)


params = []
for i, layer in enumerate(model.layers):
    params.append(Param.engine(f"layers[{i}].w", [n.w for n in layer.neurons]))
    params.append(Param.engine(f"layers[{i}].b", [n.b for n in layer.neurons]))
report(params, loss)
