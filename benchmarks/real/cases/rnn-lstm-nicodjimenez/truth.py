"""Truth for rnn-lstm-nicodjimenez: LstmParam(mem_cell_ct=8, x_dim=3) unrolled over one sequence
of 4 input vectors, as test.py's example_0 does: x_list_add(x) per step, then
y_list_is(y_list, ToyLossLayer) backpropagates through time and accumulates the gradients in
lstm_param.*_diff. The loss is ToyLossLayer.loss summed over the steps ((h[0] - y)^2, the value
y_list_is returns). LstmParam's rand_arr reseeds NumPy on every call (all four gates start with the
same ±0.1 matrix) and leaves gradient entries close to the central-difference noise, so the
parameters are redrawn at a 0.5 scale before the check (any point checks a gradient)."""

import numpy as np
from lstm import LstmNetwork, LstmParam
from test import ToyLossLayer
from truthlib import Param, report, seed_everything

seed_everything(0)
lstm_param = LstmParam(8, 3)
lstm_net = LstmNetwork(lstm_param)
rng = np.random.default_rng(1)
for name in ("wg", "wi", "wf", "wo", "bg", "bi", "bf", "bo"):
    getattr(lstm_param, name)[...] = 0.5 * rng.normal(size=getattr(lstm_param, name).shape)
xs = [rng.random(3) for _ in range(4)]
y_list = [-0.5, 0.2, 0.1, -0.5]  # example_0's targets


def forward() -> None:
    lstm_net.x_list_clear()
    for x in xs:
        lstm_net.x_list_add(x)


def loss() -> float:
    forward()
    return float(
        sum(ToyLossLayer.loss(node.state.h, y) for node, y in zip(lstm_net.lstm_node_list, y_list))
    )


forward()
returned = lstm_net.y_list_is(y_list, ToyLossLayer)
names = ["wg", "bg", "wi", "bi", "wf", "bf", "wo", "bo"]  # forward order: g, i, f, o
grads = {n: getattr(lstm_param, n + "_diff").copy() for n in names}
report(
    [Param(n, getattr(lstm_param, n), grads[n]) for n in names],
    loss,
    returned_is_loss=bool(np.isclose(returned, loss())),
)
