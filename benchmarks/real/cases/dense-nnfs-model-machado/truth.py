"""Truth for dense-nnfs-model-machado: the book's Model with Layer_Dense(2,16, L2 5e-4 on weights
and biases), ReLU, Layer_Dense(16,3), Softmax and CategoricalCrossentropy, on 6 samples; the loss
is data_loss + regularization_loss as train() computes it; the gradients are the layers' dweights /
dbiases after model.backward(output, y)."""

import sys

sys.path.insert(0, "18_Model_Object")
import numpy as np
from truthlib import Param, load_defs, report, seed_everything

ns = load_defs("18_Model_Object/main.py")  # defs and imports: the top level trains (and needs nnfs)
seed_everything(0)
model = ns["Model"]()
model.add(ns["Layer_Dense"](2, 16, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4))
model.add(ns["Activation_ReLU"]())
model.add(ns["Layer_Dense"](16, 3))
model.add(ns["Activation_Softmax"]())
model.set(
    loss=ns["Loss_CategoricalCrossentropy"](),
    optimizer=ns["Optimizer_Adam"](learning_rate=0.05, decay=5e-5),
    accuracy=ns["Accuracy_Categorical"](),
)
model.finalize()
for layer in model.trainable_layers:  # larger than the book's 0.01·randn, biases away from 0, so
    layer.weights *= 10.0  # the gradients stand clear of the finite-difference noise and
    layer.biases += 0.05 * np.random.randn(*layer.biases.shape)  # the bias penalty is exercised

rng = np.random.default_rng(1)
X = rng.normal(size=(6, 2))
y = np.array([0, 1, 2, 0, 1, 2])


def loss() -> float:
    data_loss, reg_loss = model.loss.calculate(
        model.forward(X, training=True), y, include_regularization=True
    )
    return float(data_loss + reg_loss)


model.backward(model.forward(X, training=True), y)
params = []
for i, layer in ((0, model.layers[0]), (2, model.layers[2])):
    params += [
        Param(f"layers[{i}].weights", layer.weights, layer.dweights),
        Param(f"layers[{i}].biases", layer.biases, layer.dbiases),
    ]
report(params, loss)
