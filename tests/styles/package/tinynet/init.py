import numpy as np


def glorot(rng, n_out, n_in):
    limit = np.sqrt(6 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_out, n_in))
