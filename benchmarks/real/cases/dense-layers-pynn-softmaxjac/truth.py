"""Truth for dense-layers-pynn-softmaxjac: Layer_Dense(2,16) ReLU Layer_Dense(16,3) Softmax with
Loss_CategoricalCrossEntropy (mean over 6 samples, their `calculate`), the backward chained by
hand as the book does; the gradients are the Dense layers' dweights / dbiases."""

import numpy as np
from Activations.ReLU import Activation_ReLU
from Activations.Softmax import Activation_Softmax
from Layers.Dense import Layer_Dense
from Losses.CategoricalCrossEntropy import Loss_CategoricalCrossEntropy
from truthlib import Param, report, seed_everything

seed_everything(0)
dense1, relu, dense2, softmax = (
    Layer_Dense(2, 16),
    Activation_ReLU(),
    Layer_Dense(16, 3),
    Activation_Softmax(),
)
loss_function = Loss_CategoricalCrossEntropy()
for d in (dense1, dense2):  # larger than the book's 0.01·randn: gradients well above FD noise
    d.weights *= 30.0
    d.biases += 0.1 * np.random.randn(*d.biases.shape)
rng = np.random.default_rng(1)
X = rng.normal(size=(6, 2))
y = np.array([0, 1, 2, 0, 1, 2])


def forward() -> np.ndarray:
    dense1.forward(X)
    relu.forward(dense1.output)
    dense2.forward(relu.output)
    softmax.forward(dense2.output)
    return softmax.output


def loss() -> float:
    return float(loss_function.calculate(forward(), y))


out = forward()
loss_function.backward(out, y)
softmax.backward(loss_function.dinputs)
dense2.backward(softmax.dinputs)
relu.backward(dense2.dinputs)
dense1.backward(relu.dinputs)
report(
    [
        Param("layers[0].weights", dense1.weights, dense1.dweights),
        Param("layers[0].biases", dense1.biases, dense1.dbiases),
        Param("layers[2].weights", dense2.weights, dense2.dweights),
        Param("layers[2].biases", dense2.biases, dense2.dbiases),
    ],
    loss,
)
