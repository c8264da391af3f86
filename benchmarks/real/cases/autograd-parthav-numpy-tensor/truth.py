"""Truth for autograd-parthav-numpy-tensor: the learner's NumPy Tensor autograd (base/tensor.py)
and module library (nn.py), with the MLP_Model of their examples/mnist_mlp.py (Linear(784, 128)
- Dropout(p=0.2) - ReLU - Linear(128, 10)) in training mode, on 4 random inputs of 784 features
with one-hot targets. The loss is their train_model's: CrossEntropyloss()(logits.softmax(), y),
i.e. -sum(y * log softmax) over the batch; the gradients are the parameters' _grad after
loss.backward(), zeroed first. NumPy is reseeded before every evaluation, so the dropout mask
(np.random.binomial) is the same each time. mnist_mlp.py's top level downloads MNIST and trains,
so only its definitions are executed (truthlib.load_defs)."""

import numpy as np
from base.tensor import Tensor
from truthlib import Param, load_defs, report, seed_everything

seed_everything(0)
defs = load_defs("examples/mnist_mlp.py")
model = defs["MLP_Model"]()
model.train()
CrossEntropyloss = defs["CrossEntropyloss"]
rng = np.random.default_rng(1)
x = rng.normal(size=(4, 784)) * 0.5
y = np.eye(10)[[3, 1, 4, 1]]


def their_loss():
    seed_everything(0)
    logits = model(Tensor(x))
    probs = logits.softmax()
    return CrossEntropyloss()(probs, Tensor(y))


for p in model.parameters():
    p._grad = np.zeros_like(p._grad)
their_loss().backward()


def loss() -> float:
    return float(their_loss()._data)


params = [
    Param("fc1._w", model.fc1._w._data, model.fc1._w._grad),
    Param("fc1._b", model.fc1._b._data, model.fc1._b._grad),
    Param("fc2._w", model.fc2._w._data, model.fc2._w._grad),
    Param("fc2._b", model.fc2._b._data, model.fc2._b._grad),
]
report(params, loss)
