"""Diagnostic accuracy of the derivative and output rules (issue 13): an activation written as
an expression is the built-in it computes, a derivative is never compared at a kink, fixes are
real spec values or sentences — on networks unlike the bundled configs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnfix.diagnose.context import Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.engine.activations import numeric
from nnfix.spec.expr import compile_expression
from nnfix.spec.load import load_spec


def fn(text):
    expression = compile_expression(text, ("z",))
    return lambda z: expression(z=z)


def run(write_spec, layers, init="he_normal", loss="bce", data=None, select=(), extra=""):
    data = data or "{source: moons, samples: 160, noise: 0.2}"
    text = (
        f"seed: 3\ndata: {data}\nmodel:\n  init: {init}\n  layers:\n"
        + "".join(f"    - {layer}\n" for layer in layers)
        + f"loss: {loss}\n{extra}"
    )
    report = diagnose(load_spec(write_spec(text)), Selection(list(select)), Options(quick=True))
    return report.findings


HIDDEN = "{units: 7, activation: relu}"


def errors(found):
    return [f for f in found if f.severity.value == "error"]


def assert_real_fix(finding):
    """A fix is a spec change whose value nnfix can read, or a sentence alone."""
    fix = finding.fix
    assert fix is not None and fix.description
    assert "None" not in fix.description
    if fix.path is None:
        assert fix.value is None
        return
    assert fix.value is not None
    if fix.path[-1] == "derivative":
        compile_expression(str(fix.value), ("z", "a"))  # raises if it is not valid
    if fix.path[-1] == "derivative_of":
        assert fix.value in ("z", "a")


# --- recognition -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "alpha"),
    [
        ("maximum(z, 0.01*z)", "leaky_relu", 0.01),
        ("where(z > 0, z, 0.2*z)", "leaky_relu", 0.2),
        ("1/(1+exp(-z))", "sigmoid", None),
        ("exp(z)/(1 + exp(z))", "sigmoid", None),
        ("(exp(z)-exp(-z))/(exp(z)+exp(-z))", "tanh", None),
        ("2*sigmoid(2*z) - 1", "tanh", None),
        ("z*(z>0)", "relu", None),
        ("maximum(z, 0)", "relu", None),
        ("log(1+exp(z))", "softplus", None),
        ("z*sigmoid(z)", "swish", None),
        ("where(z > 0, z, 0.5*(exp(z) - 1))", "elu", 0.5),
        ("z", "linear", None),
    ],
)
def test_an_expression_is_the_builtin_it_computes(text, name, alpha):
    act = numeric.recognise(fn(text))
    assert act is not None and act.name == name
    if alpha is not None:
        assert act.alpha == pytest.approx(alpha)


@pytest.mark.parametrize(
    "text",
    ["clip(z, -1, 1)", "2*z", "0.5*tanh(z) + 0.5", "z*tanh(log1p(exp(z)))", "maximum(z, 0) + 0.1"],
)
def test_a_look_alike_is_no_builtin(text):
    assert numeric.recognise(fn(text)) is None


def test_softmax_is_recognised_in_the_output_layer_only():
    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    assert numeric.recognise(softmax, output=True).name == "softmax"
    assert numeric.recognise(softmax, output=False) is None


def test_a_function_that_raises_is_not_recognised():
    def broken(z):
        raise ValueError("no")

    assert numeric.recognise(broken) is None and numeric.output_range(broken) is None


def test_kinks_are_found_numerically_wherever_they_are():
    """One-sided slopes disagree within a step of a kink, of any expression, and nowhere else."""
    z = np.array([0.0, 3e-6, -4e-6, 1e-4, 1.0, 1.0 + 5e-6, 2.0, -3.0])
    kinked = numeric.kinked(fn("maximum(z, 0) + 0.1*minimum(z - 1, 0)"), z, 5e-5, 5e-4)
    assert kinked.tolist() == [True, True, True, False, True, True, False, False]
    smooth = np.linspace(-30, 30, 601)
    for text in ("1/(1+exp(-z))", "tanh(z)", "log(1+exp(z))", "z*sigmoid(z)", "z**3 / 10"):
        assert not numeric.kinked(fn(text), smooth, 5e-5, 5e-4).any(), text


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("1/(1+exp(-z))", 0.0, 1.0),
        ("where(z > 0, z, exp(z) - 1)", -1.0, math.inf),
        ("clip(z, -1, 1)", -1.0, 1.0),
        ("3*z", -math.inf, math.inf),
        ("-log(1+exp(z))", -math.inf, 0.0),
        ("0.5*tanh(z) + 0.5", 0.0, 1.0),
    ],
)
def test_an_output_range_is_measured(text, lo, hi):
    got_lo, got_hi = numeric.output_range(fn(text))
    assert got_lo == pytest.approx(lo, abs=1e-9) and got_hi == pytest.approx(hi, abs=1e-9)


# --- G102 on an output written as an expression -------------------------------------------------

SIGMOID_OUT = '{units: 1, activation: "1/(1+exp(-z))"}'


@pytest.mark.parametrize("init", ["zeros", "lecun_normal"])
def test_g102_sigmoid_expression_output_is_the_fused_case(write_spec, init):
    """`a - y` is BCE's dL/dz for a sigmoid output however the sigmoid is written."""
    right = "{name: bce, gradient: 'a - y', gradient_of: z}"
    found = run(write_spec, [HIDDEN, SIGMOID_OUT], init=init, loss=right)
    assert {f.code for f in errors(found)} <= ({"Y101"} if init == "zeros" else set())
    wrong = "{name: bce, gradient: 'y - a', gradient_of: z}"
    (g102,) = [
        f for f in run(write_spec, [HIDDEN, SIGMOID_OUT], init=init, loss=wrong) if f.code == "G102"
    ]
    assert "sign is flipped" in g102.message and g102.fix.value == "a - y"
    assert_real_fix(g102)
