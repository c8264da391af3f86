"""Each loss's gradient and the output layer's dL/dz against float64 central differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnfix.engine import activations, losses
from nnfix.engine.losses import Loss

CASES = [
    ("bce", "sigmoid"),
    ("cce", "softmax"),
    ("mse", "linear"),
    ("mae", "linear"),
    ("bce", "tanh"),
    ("mse", "sigmoid"),
    ("cce", "sigmoid"),
]


def targets(name, output, rng, shape):
    if output == "softmax" or name == "cce":
        return np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    if name == "bce":
        return rng.integers(0, 2, shape).astype(float)
    return rng.normal(size=shape)


@pytest.mark.parametrize(("name", "output"), CASES)
@given(seed=st.integers(0, 2**31 - 1), scale=st.sampled_from([0.5, 3.0, 12.0]))
@settings(max_examples=40, deadline=None)
def test_output_delta_is_the_derivative_of_the_loss_in_z(name, output, seed, scale):
    rng = np.random.default_rng(seed)
    m, k = 6, 3
    z = rng.normal(scale=scale, size=(m, k))
    y = targets(name, output, rng, (m, k))
    act = activations.get(output)
    if output == "tanh":  # BCE needs a in (0, 1): keep tanh's output inside it
        z = rng.uniform(0.05, 1.5, size=(m, k))
    loss = Loss(name)

    def value(zz):
        return loss.value(zz, act.fn(zz), y, output)

    a = act.fn(z)
    derivative = act.derivative if act.elementwise else None
    delta = loss.delta(z, a, y, output, derivative, declared_derivative=False)
    numeric = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[i] = 1e-6
        numeric[i] = (value(z + e) - value(z - e)) / 2e-6
    keep = np.ones_like(z, dtype=bool)
    if name == "mae":  # |a - y| has a kink where a == y: only compare away from it
        keep = np.abs(a - y) > 1e-4
    if (name in ("bce", "cce") and output not in ("sigmoid", "softmax")) or (name, output) == (
        "cce",
        "sigmoid",
    ):
        keep &= (a > 1e-9) & (a < 1 - 1e-9)  # a clipped for the log: the value is flat there
    np.testing.assert_allclose(delta[keep], numeric[keep], rtol=1e-4, atol=1e-6)


@given(seed=st.integers(0, 2**31 - 1))
@settings(max_examples=30, deadline=None)
def test_bce_from_logits_stays_finite_where_the_probability_rounds_to_one(seed):
    rng = np.random.default_rng(seed)
    z = rng.choice([-800.0, -40.0, 40.0, 800.0], size=(8, 1))
    y = rng.integers(0, 2, (8, 1)).astype(float)
    value = losses.total("bce", z, activations.logistic(z), y, "sigmoid")
    expected = np.sum(np.where(y == 1, np.logaddexp(0, -z), np.logaddexp(0, z)))
    assert np.isfinite(value)
    np.testing.assert_allclose(value, expected, rtol=1e-12)


def test_reduction_mean_divides_by_the_samples_and_sum_does_not():
    z = np.zeros((4, 1))
    y = np.ones((4, 1))
    a = activations.logistic(z)
    assert Loss("bce").value(z, a, y, "sigmoid") == pytest.approx(np.log(2))
    assert Loss("bce", reduction="sum").value(z, a, y, "sigmoid") == pytest.approx(4 * np.log(2))


def test_untrained_ten_sigmoid_outputs_start_at_ten_ln2():
    z = np.zeros((5, 10))
    y = np.eye(10)[[0, 1, 2, 3, 4]]
    assert Loss("bce").value(z, activations.logistic(z), y, "sigmoid") == pytest.approx(
        10 * np.log(2)
    )
