"""A character-level GRU in min-char-rnn's style: parameters as globals, one sequence of ids per
lossFun call, dicts per time step, forward and backward through time in one function."""

import numpy as np

vocab_size, hidden_size = 6, 5


def init_model():
    global Wz, Uz, bz, Wr, Ur, br, Wh, Uh, bh, Why, by
    rng = np.random.default_rng(3)
    H, V = hidden_size, vocab_size
    Wz, Wr, Wh = (rng.normal(scale=0.4, size=(H, V)) for _ in range(3))
    Uz, Ur, Uh = (rng.normal(scale=0.4, size=(H, H)) for _ in range(3))
    bz, br, bh = (rng.normal(scale=0.1, size=(H, 1)) for _ in range(3))
    Why = rng.normal(scale=0.4, size=(V, H))
    by = np.zeros((V, 1))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lossFun(inputs, targets, hprev):
    xs, zs, rs, hcs, hs, ps = {}, {}, {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        zs[t] = sigmoid(Wz @ xs[t] + Uz @ hs[t - 1] + bz)
        rs[t] = sigmoid(Wr @ xs[t] + Ur @ hs[t - 1] + br)
        hcs[t] = np.tanh(Wh @ xs[t] + Uh @ (rs[t] * hs[t - 1]) + bh)
        hs[t] = (1 - zs[t]) * hs[t - 1] + zs[t] * hcs[t]
        y = Why @ hs[t] + by
        ps[t] = np.exp(y - y.max()) / np.sum(np.exp(y - y.max()))
        loss += -np.log(ps[t][targets[t], 0])
    dWz, dUz, dbz = np.zeros_like(Wz), np.zeros_like(Uz), np.zeros_like(bz)
    dWr, dUr, dbr = np.zeros_like(Wr), np.zeros_like(Ur), np.zeros_like(br)
    dWh, dUh, dbh = np.zeros_like(Wh), np.zeros_like(Uh), np.zeros_like(bh)
    dWhy, dby = np.zeros_like(Why), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dhnext
        dhc = dh * zs[t]
        dz = dh * (hcs[t] - hs[t - 1])
        dhc_raw = dhc * (1 - hcs[t] ** 2)
        dWh += dhc_raw @ xs[t].T
        dUh += dhc_raw @ (rs[t] * hs[t - 1]).T
        dbh += dhc_raw
        drh = Uh.T @ dhc_raw
        dr = drh * hs[t - 1]
        dr_raw = dr * rs[t] * (1 - rs[t])
        dWr += dr_raw @ xs[t].T
        dUr += dr_raw @ hs[t - 1].T
        dbr += dr_raw
        dz_raw = dz * zs[t] * (1 - zs[t])
        dWz += dz_raw @ xs[t].T
        dUz += dz_raw @ hs[t - 1].T
        dbz += dz_raw
        dhnext = dh * (1 - zs[t]) + drh * rs[t] + Uz.T @ dz_raw + Ur.T @ dr_raw
    return loss, dWz, dUz, dbz, dWr, dUr, dbr, dWh, dUh, dbh, dWhy, dby, hs[len(inputs) - 1]
