"""Hostile or odd spec files (SPEC §7): every refusal is exit 2 with `spec.yaml:LINE[:COL]`,
never an internal error, never a recursion to death, never memory eaten."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.errors import SpecError
from nnfix.spec import source
from nnfix.spec.expr import (
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    ExpressionError,
    compile_expression,
)

GOOD = """name: t
data:
  source: moons
  samples: 64
model:
  layers:
    - {units: 4, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
train:
  epochs: 2
"""


@pytest.fixture
def spec(tmp_path, monkeypatch):
    """Write the spec (text or bytes) as spec.yaml in a fresh working directory."""
    monkeypatch.chdir(tmp_path)

    def write(content: str | bytes) -> Path:
        path = tmp_path / "spec.yaml"
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogatepass")
        path.write_bytes(content)
        return path

    return write


def run(*args: str) -> tuple[int, str, str]:
    args = (*args, "--no-progress") if args[0] == "train" else (*args, "--quick")
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stderr, result.stdout


def refused(line: int, fragment: str, col: int | None = None, command: str = "diagnose") -> str:
    """Run nnfix on ./spec.yaml: exit 2, the message at spec.yaml:LINE[:COL], no traceback."""
    code, err, _ = run(command, "spec.yaml")
    where = f"spec.yaml:{line}:{col}: " if col else f"spec.yaml:{line}:\\d+: "
    assert code == 2, err
    assert re.search(where + ".*" + re.escape(fragment), err), err
    assert "internal error" not in err and "Traceback" not in err
    return err


def problems(path: Path) -> list:
    with pytest.raises(SpecError) as caught:
        source.read(path)
    return caught.value.problems


# --- expressions ----------------------------------------------------------------------------


def with_derivative(expression: str) -> str:
    return GOOD.replace(
        "activation: tanh}", f'activation: {{name: tanh, derivative: "{expression}"}}}}'
    )


@pytest.mark.parametrize(
    "expression",
    [
        "z" + " + z" * 3000,
        "z" + "**z" * 3000,
        "-" * 1990 + "z",
        "1 - " * 400 + "z",
        "tanh(" * 150 + "z" + ")" * 150,
    ],
    ids=["3001-terms", "power-chain", "unary-chain", "nested-subtractions", "nested-calls"],
)
def test_huge_or_deep_expressions_are_located_spec_errors(spec, expression):
    spec(with_derivative(expression))
    err = refused(7, "model.layers[0].activation.derivative: expression", col=None)
    assert "too long" in err or "nested too deeply" in err


def test_expression_limits_keep_valid_expressions_meaning_the_same():
    import numpy as np

    z = np.array([-1.0, 0.5, 2.0])
    long_but_fine = " + ".join(["z"] * (MAX_EXPRESSION_DEPTH - 2))
    assert np.allclose(compile_expression(long_but_fine)(z=z), (MAX_EXPRESSION_DEPTH - 2) * z)
    assert np.allclose(compile_expression("1 - tanh(z)**2")(z=z), 1 - np.tanh(z) ** 2)
    compile_expression("9**9**9**9")  # nothing folded at compile time: no memory blown
    with pytest.raises(ExpressionError, match="too long"):
        compile_expression("z" * (MAX_EXPRESSION_CHARS + 1))
    with pytest.raises(ExpressionError, match="nested too deeply") as caught:
        compile_expression("  " + "-" * (MAX_EXPRESSION_DEPTH + 5) + "z")
    assert caught.value.offset == 2 + MAX_EXPRESSION_DEPTH
