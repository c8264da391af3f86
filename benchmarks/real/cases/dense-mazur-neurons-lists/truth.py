"""Truth for dense-mazur-neurons-lists: the blog's 2-2-2 network; the loss is the module's own
calculate_total_error over 4 samples; the user's gradient is −Δ/LEARNING_RATE of one train() call
per sample, the weights restored in between. The layers' biases are floats the code never trains
(constants here, as in the blog)."""

import numpy as np
from truthlib import Param, load_defs, report, seed_everything

ns = load_defs(
    "DeepLearning/DNN/SimpleDemo-v2/NeuralNetwork.py"
)  # the top level trains 10 000 steps
seed_everything(0)
nn = ns["NeuralNetwork"](
    2,
    2,
    2,
    hidden_layer_weights=[0.15, 0.2, 0.25, 0.3],
    hidden_layer_bias=0.35,
    output_layer_weights=[0.4, 0.45, 0.5, 0.55],
    output_layer_bias=0.6,
)
LR = ns["NeuralNetwork"].LEARNING_RATE
rng = np.random.default_rng(1)
sets = [[[0.05, 0.1], [0.01, 0.99]]] + [
    [list(map(float, rng.normal(size=2))), list(map(float, rng.uniform(0.05, 0.95, size=2)))]
    for _ in range(3)
]
layers = {"hidden_layer": nn.hidden_layer, "output_layer": nn.output_layer}
values = {k: [n.weights for n in layer.neurons] for k, layer in layers.items()}


def loss() -> float:
    return float(nn.calculate_total_error(sets))


grads = {k: [[0.0] * len(w) for w in ws] for k, ws in values.items()}
for inputs, targets in sets:
    before = {k: [list(w) for w in ws] for k, ws in values.items()}
    nn.train(inputs, targets)
    for k, ws in values.items():
        for n, w in enumerate(ws):
            for i in range(len(w)):
                grads[k][n][i] -= (w[i] - before[k][n][i]) / LR
                w[i] = before[k][n][i]

report([Param(k, values[k], grads[k]) for k in ("hidden_layer", "output_layer")], loss)
