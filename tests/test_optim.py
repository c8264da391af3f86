"""Optimisers, schedules and initialisers against their textbook formulas."""

import math

import numpy as np
import pytest

from nnfix.engine.initializers import initialize
from nnfix.engine.optimizers import Optimizer
from nnfix.engine.schedules import learning_rate
from nnfix.spec.model import InitSpec, OptimizerSpec, ScheduleSpec


def run(spec, grads, lr=0.1, dtype=np.float64):
    p = np.array([1.0, -2.0], dtype)
    opt = Optimizer(spec)
    for g in grads:
        opt.step([p], [np.array(g, dtype)], lr)
    return p


G = [[0.5, -1.0], [0.25, 2.0], [-1.0, 0.5]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd(dtype):
    np.testing.assert_allclose(
        run(OptimizerSpec(name="sgd"), G, dtype=dtype),
        [1.0 - 0.1 * -0.25, -2.0 - 0.1 * 1.5],
        rtol=1e-6,
    )


def test_momentum_and_nesterov():
    mu, lr = 0.9, 0.1
    p, v = np.array([1.0, -2.0]), np.zeros(2)
    q = p.copy()
    w = np.zeros(2)
    for g in map(np.array, G):
        v = mu * v + g
        p = p - lr * v
        w = mu * w + g
        q = q - lr * (g + mu * w)
    np.testing.assert_allclose(run(OptimizerSpec(name="momentum"), G), p)
    np.testing.assert_allclose(run(OptimizerSpec(name="nesterov"), G), q)


def test_rmsprop_and_adam():
    lr, rho, eps = 0.1, 0.9, 1e-8
    p, s = np.array([1.0, -2.0]), np.zeros(2)
    for g in map(np.array, G):
        s = rho * s + (1 - rho) * g * g
        p = p - lr * g / (np.sqrt(s) + eps)
    np.testing.assert_allclose(run(OptimizerSpec(name="rmsprop"), G), p)
    b1, b2 = 0.9, 0.999
    p, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t, g in enumerate(map(np.array, G), start=1):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(run(OptimizerSpec(name="adam"), G), p)


def lr_at(schedule, epoch, step=0, epochs=100, per_epoch=10):
    return learning_rate(ScheduleSpec.model_validate(schedule), 1.0, epoch, step, epochs, per_epoch)


def test_schedules():
    assert lr_at("constant", 50) == 1.0
    assert [lr_at({"name": "inverse_time", "decay": 1.0}, e) for e in range(4)] == [
        1.0,
        0.5,
        1 / 3,
        0.25,
    ]  # lr/epoch
    assert lr_at({"name": "step", "factor": 0.5, "every": 10}, 25) == 0.25
    assert lr_at({"name": "step"}, 25) == 0.25  # default: every 10 epochs
    assert lr_at({"name": "exponential", "gamma": 0.9}, 3) == pytest.approx(0.729)
    assert lr_at(
        {"name": "exponential", "gamma": 0.9, "every": "step"}, 0, step=2
    ) == pytest.approx(0.81)
    assert lr_at({"name": "cosine", "min_lr": 0.1}, 0) == 1.0
    assert lr_at({"name": "cosine", "min_lr": 0.1}, 50) == pytest.approx(0.55)
    assert lr_at({"name": "cosine", "min_lr": 0.1}, 100) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("init", "std"),
    [
        ({"name": "he_normal"}, math.sqrt(2 / 400)),
        ({"name": "xavier_normal"}, math.sqrt(2 / 600)),
        ({"name": "lecun_normal"}, math.sqrt(1 / 400)),
        ({"name": "he_uniform"}, math.sqrt(6 / 400) / math.sqrt(3)),
        ({"name": "xavier_uniform"}, math.sqrt(6 / 600) / math.sqrt(3)),
        ({"name": "normal", "std": 0.3}, 0.3),
        ({"name": "uniform", "low": 0, "high": 1}, 1 / math.sqrt(12)),
    ],
)
def test_initialisers_have_their_spread(init, std):
    w = initialize(InitSpec.model_validate(init), (400, 200), 400, 200, np.random.default_rng(0))
    assert w.std() == pytest.approx(std, rel=0.03)


def test_uniform_zero_one_is_one_signed_and_constant_is_constant():
    w = initialize(
        InitSpec(name="uniform", low=0, high=1), (50, 20), 50, 20, np.random.default_rng(0)
    )
    assert w.min() >= 0 and w.max() < 1
    c = initialize(InitSpec(name="constant", value=0.5), (3, 2), 3, 2, np.random.default_rng(0))
    assert np.all(c == 0.5)
