"""Every built-in activation's derivative, in z and in a, against float64 central differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnfix.engine import activations
from nnfix.engine.activations.softmax import backward as softmax_backward
from nnfix.spec.model import ACTIVATIONS

ELEMENTWISE = [name for name in ACTIVATIONS if name != "softmax"]
KINKED = {"relu", "leaky_relu", "elu"}  # not differentiable at 0: compare away from it
H = 1e-6

values = arrays(
    np.float64,
    st.integers(1, 40),
    elements=st.one_of(
        st.floats(-8, 8, allow_nan=False),
        st.floats(-60, 60, allow_nan=False),  # extremes: saturation, overflow of exp
    ),
)


def central(fn, z, h=H):
    step = h * np.maximum(1.0, np.abs(z))
    return (fn(z + step) - fn(z - step)) / (2 * step)


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(z=values)
@settings(max_examples=60, deadline=None)
def test_derivative_matches_central_differences(name, z):
    act = activations.get(name, 0.1 if name in ("leaky_relu", "elu") else None)
    if name in KINKED:
        z = z[np.abs(z) > 1e-3]
    a = act.fn(z)
    numeric = central(act.fn, z)
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(act.dz(z), numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(act.derivative(z, a), numeric, rtol=1e-5, atol=1e-7)
    if act.da is not None:
        np.testing.assert_allclose(act.da(a), numeric, rtol=1e-5, atol=1e-7)


def test_sigmoid_is_stable_at_extremes():
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = activations.logistic(z)
    np.testing.assert_allclose(a, [0, 1.9287e-22, 0.5, 1, 1], rtol=1e-4, atol=0)


@given(
    z=arrays(np.float64, (5, 4), elements=st.floats(-30, 30, allow_nan=False)),
    upstream=arrays(np.float64, (5, 4), elements=st.floats(-3, 3, allow_nan=False)),
)
@settings(max_examples=60, deadline=None)
def test_softmax_backward_is_the_jacobian_vector_product(z, upstream):
    softmax = activations.get("softmax")
    a = softmax.fn(z)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    # d/dz of sum(upstream * softmax(z)), numerically, one entry at a time
    numeric = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[i] = 1e-6
        numeric[i] = (
            np.sum(upstream * softmax.fn(z + e)) - np.sum(upstream * softmax.fn(z - e))
        ) / 2e-6
    np.testing.assert_allclose(softmax_backward(upstream, a), numeric, rtol=1e-4, atol=1e-7)


def test_leaky_relu_and_elu_take_their_slope():
    z = np.array([-2.0, 3.0])
    np.testing.assert_allclose(activations.get("leaky_relu", 0.2).fn(z), [-0.4, 3.0])
    np.testing.assert_allclose(activations.get("leaky_relu").fn(z), [-0.02, 3.0])
    np.testing.assert_allclose(activations.get("elu", 2.0).fn(z), [2.0 * np.expm1(-2.0), 3.0])


GRID = np.linspace(-6, 6, 1201)


@pytest.mark.parametrize("name", activations.NAMES)
def test_every_registry_entry_is_complete_and_true(name):
    """What the passes read of an activation agrees with its own function: derivative texts
    with its derivative, its range with its values, its kinks, flat zones and init."""
    from typing import get_args

    from nnfix.spec.expr import compile_expression
    from nnfix.spec.model import InitName

    act = activations.get(name)
    assert act.name == name and act.init in get_args(InitName)
    z = GRID.reshape(1, -1)
    a = act.fn(z)
    lo, hi = act.output_range
    assert np.all(a >= lo - 1e-12) and np.all(a <= hi + 1e-12)
    if hi == np.inf:
        assert a.max() > 5  # unbounded above: it grows with z
    if not act.elementwise:
        assert act.text_z is None and act.text_a is None
        return
    assert act.text_z is not None
    smooth = act.smooth(z.ravel())
    true = central(act.fn, z.ravel())[smooth]
    for variable, text, arg in (("z", act.text_z, z), ("a", act.text_a, a)):
        if text is None:
            assert variable == "a" and act.da is None
            continue
        expression = compile_expression(text, ("z", "a"))
        values = np.broadcast_to(expression(**{variable: arg.ravel()}), z.size)
        np.testing.assert_allclose(values[smooth], true, rtol=1e-5, atol=1e-7)
    for k in act.kinks:  # the derivative jumps there (or, for elu, its slope's slope does)
        left, right = act.dz(np.array([k - 1e-9])), act.dz(np.array([k + 1e-9]))
        assert name == "elu" or not np.allclose(left, right)
    if act.saturates_beyond is not None:
        peak = act.dz(GRID).max()
        assert act.dz(np.array([act.saturates_beyond]))[0] < 0.1 * peak
    if act.dead_below is not None:
        assert np.all(act.dz(GRID[act.dead_below > GRID]) == 0)
    assert (act.alpha is not None) == activations.takes_alpha(name)


def test_names_in_the_spec_are_the_registry():
    assert ACTIVATIONS == activations.NAMES
    assert set(activations.NAMES) >= {"sigmoid", "tanh", "relu", "softmax", "linear"}
