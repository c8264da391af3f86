# A neural network in plain Python: no numpy, just lists and the math module.
import math
import random


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def make_net(n_inputs, n_hidden, n_outputs, seed=3):
    random.seed(seed)
    return {
        "hidden_w": [[random.uniform(-1, 1) for _ in range(n_inputs)] for _ in range(n_hidden)],
        "hidden_b": [0.0 for _ in range(n_hidden)],
        "out_w": [[random.uniform(-1, 1) for _ in range(n_hidden)] for _ in range(n_outputs)],
        "out_b": [0.0 for _ in range(n_outputs)],
    }


def feed_forward(net, x):
    hidden = []
    for weights, bias in zip(net["hidden_w"], net["hidden_b"]):
        total = bias
        for w, xi in zip(weights, x):
            total += w * xi
        hidden.append(math.tanh(total))
    outputs = []
    for weights, bias in zip(net["out_w"], net["out_b"]):
        total = bias
        for w, h in zip(weights, hidden):
            total += w * h
        outputs.append(sigmoid(total))
    return outputs


def compute_gradients(net, x, target):
    """Gradients of 0.5 * sum((out - target)^2) for one example."""
    hidden = []
    for weights, bias in zip(net["hidden_w"], net["hidden_b"]):
        total = bias + sum(w * xi for w, xi in zip(weights, x))
        hidden.append(math.tanh(total))
    outputs = []
    for weights, bias in zip(net["out_w"], net["out_b"]):
        total = bias + sum(w * h for w, h in zip(weights, hidden))
        outputs.append(sigmoid(total))

    out_delta = [(o - t) * o * (1 - o) for o, t in zip(outputs, target)]
    hidden_delta = []
    for j, h in enumerate(hidden):
        error = sum(out_delta[k] * net["out_w"][k][j] for k in range(len(out_delta)))
        hidden_delta.append(error * (1 - h * h))

    return {
        "out_w": [[d * h for h in hidden] for d in out_delta],
        "out_b": list(out_delta),
        "hidden_w": [[d * xi for xi in x] for d in hidden_delta],
        "hidden_b": list(hidden_delta),
    }
