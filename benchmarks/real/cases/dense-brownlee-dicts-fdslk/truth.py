"""Truth for dense-brownlee-dicts-fdslk: initialize_network(2, 3, 2) (seeded) on the first 4 rows
of the module's own dataset; the loss is ½Σ(expected − o)² summed over the rows; the user's
gradient is −Δ/l_rate of forward_propagate / backward_propagate_error / update_weights on each row
(train_network's body), the weights restored in between."""

from truthlib import Param, load_defs, report, seed_everything

ns = load_defs(
    "BP/BP_network.py"
)  # defs and the literal `dataset` (the top level predicts and prints)
seed_everything(0)
network = ns["initialize_network"](2, 3, 2)
rows = ns["dataset"][:4] + ns["dataset"][5:9]
L_RATE = 0.5


def one_hot(row):
    expected = [0 for _ in range(2)]
    expected[row[-1]] = 1
    return expected


def loss() -> float:
    total = 0.0
    for row in rows:
        out = ns["forward_propagate"](network, row)
        total += 0.5 * sum((e - o) ** 2 for e, o in zip(one_hot(row), out))
    return total


values = [[neuron["weights"] for neuron in layer] for layer in network]
grads = [[[0.0] * len(w) for w in layer] for layer in values]
for row in rows:
    before = [[list(w) for w in layer] for layer in values]
    ns["forward_propagate"](network, row)
    ns["backward_propagate_error"](network, one_hot(row))
    ns["update_weights"](network, row, L_RATE)
    for l, layer in enumerate(values):
        for n, w in enumerate(layer):
            for k in range(len(w)):
                grads[l][n][k] -= (w[k] - before[l][n][k]) / L_RATE
                w[k] = before[l][n][k]

report([Param(f"network[{l}]", values[l], grads[l]) for l in range(2)], loss)
