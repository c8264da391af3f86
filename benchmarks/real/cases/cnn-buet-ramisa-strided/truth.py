"""Truth for cnn-buet-ramisa-strided: CNN() (conv 5x5 -> relu -> maxpool 3/3 -> conv 3x3 -> relu ->
maxpool 3/3 -> flatten -> fc 200 -> relu -> fc 10 -> relu -> softmax) on 4 grey 20x20 images; the
loss is the mean cross-entropy their metrics report (utils.cross_entropy_loss / len(y)); the
gradients are what train_model(X, y, lr) stores in each layer's `gradients` before it updates."""

import numpy as np
from model import CNN
from truthlib import Param, report, seed_everything

seed_everything(0)
net = CNN()
rng = np.random.default_rng(1)
X = rng.normal(size=(4, 1, 20, 20))
Y = np.eye(10)[[0, 1, 2, 3]]  # one-hot, as utils.one_hot_encoding makes them

net.forward(X)  # the layers create their weights on the first forward
layers = [(i, layer) for i, layer in enumerate(net.model_layers) if getattr(layer, "params", None)]
before = {i: dict(layer.params) for i, layer in layers}
net.train_model(X, Y, 0.01)  # conf.LEARNING_RATE
grads = {i: dict(layer.gradients) for i, layer in layers}
for i, layer in layers:
    layer.params.update(before[i])  # back to the weights the step started from


def loss() -> float:
    p = net.forward(X)  # (m, 10) probabilities
    return float(np.sum(-Y * np.log(p)) / len(Y))


params = []
for i, layer in layers:
    params += [
        Param(f"model_layers[{i}].params['W']", layer.params["W"], grads[i]["dW"]),
        Param(f"model_layers[{i}].params['b']", layer.params["b"], grads[i]["db"]),
    ]
report(params, loss)
