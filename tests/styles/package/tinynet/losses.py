import numpy as np


def mse(pred, target):
    return np.mean(np.sum((pred - target) ** 2, axis=0))


def mse_grad(pred, target):
    return 2 * (pred - target) / pred.shape[1]
