"""The expression language: what it computes, and everything it refuses without running it."""

import numpy as np
import pytest

from nnfix.spec.expr import ExpressionError, compile_expression


@pytest.mark.parametrize(
    ("text", "z", "expected"),
    [
        ("1 - z**2", [0.5, 2.0], [0.75, -3.0]),
        ("where(z > 0, 1, 0.01)", [-1.0, 2.0], [0.01, 1.0]),
        ("sigmoid(z) * (1 - sigmoid(z))", [0.0], [0.25]),
        ("-z % 3", [1.0], [2.0]),
        ("clip(z, -1, 1) + maximum(z, 0) - minimum(z, 0)", [-2.0, 0.5], [1.0, 1.0]),
        ("exp(log(abs(z))) * sign(z) + pi - pi + e - e", [-3.0], [-3.0]),
        ("(0 < z) * (z < 1)", [-0.5, 0.5, 1.5], [0.0, 1.0, 0.0]),
        ("0 < z < 1", [-0.5, 0.5, 1.5], [0.0, 1.0, 0.0]),
        ("power(z, 2) + sqrt(z*z) + log1p(0*z) + sin(0*z) + cos(0*z) + tanh(0*z)", [2.0], [7.0]),
    ],
)
def test_expressions_compute_vectorised(text, z, expected):
    expr = compile_expression(text)
    np.testing.assert_allclose(expr(z=np.array(z)), expected)


def test_variables_are_reported():
    assert compile_expression("-(y/a - (1 - y)/(1 - a))").variables == {"a", "y"}
    assert compile_expression("2").variables == set()


@pytest.mark.parametrize(
    ("text", "fragment", "offset"),
    [
        ("__import__('os').system('touch PWNED')", "attribute access", None),
        ("__import__('os')", "unknown function '__import__'", 0),
        ("z.__class__", "attribute access", 0),
        ("z[0]", "subscripts", 0),
        ("__builtins__", "unknown name '__builtins__'", 0),
        ("lambda: 1", "lambdas", 0),
        ("open('x')", "unknown function 'open'", 0),
        ("'text'", "only numbers", 0),
        ("1 + q", "unknown name 'q'", 4),
        ("tanhh(z)", "unknown function 'tanhh'", 0),
        ("z // 2", "operator '//'", 0),
        ("[z for z in (1,)]", "not allowed", 0),
        ("exp(z, 2)", "takes 1 argument", 0),
        ("exp(x=z)", "positional", 0),
        ("1 - * z", "invalid syntax", 4),
        ("z if z else 1", "not allowed", 0),
    ],
)
def test_everything_outside_the_whitelist_is_refused(text, fragment, offset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert fragment in str(caught.value)
    if offset is not None:
        assert caught.value.offset == offset
    assert not (tmp_path / "PWNED").exists()


def test_misspelt_function_gets_a_suggestion():
    with pytest.raises(ExpressionError) as caught:
        compile_expression("sigmod(z)")
    assert caught.value.hint == "did you mean 'sigmoid'?"


def test_integer_constants_compute_as_real_numbers():
    import numpy as np

    z = np.array([1.0, 2.0])
    assert compile_expression("2**-1 * z")(z=z).tolist() == [0.5, 1.0]  # not a ValueError
    assert compile_expression("2**64 * z")(z=z)[0] == 2.0**64  # no wrap-around to 0
