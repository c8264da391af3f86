"""The user's math in a spec — expressions and `file.py:function` references — compiled once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nnfix.errors import Problem, SpecPath
from nnfix.spec import usercode
from nnfix.spec.expr import ExpressionError, compile_expression
from nnfix.spec.model import ACTIVATIONS


@dataclass(frozen=True)
class UserFunction:
    """A function the user wrote: an expression, or a function in their own file."""

    text: str  # as written in the spec
    kind: str  # "expression" | "file"
    fn: Callable  # expression: called with keyword arrays; file: the user's own function
    variables: frozenset[str]  # the variables an expression names (empty for files)


def _compile(text: str, allowed: tuple[str, ...], base_dir: Path, path: SpecPath) -> UserFunction:
    if usercode.is_ref(text):
        file, name = usercode.check_ref(text, base_dir)
        return UserFunction(text, "file", usercode.FileFunction(file, name, path), frozenset())
    expression = compile_expression(text, allowed)
    return UserFunction(text, "expression", expression, expression.variables)


def _strings(raw: dict) -> list[tuple[SpecPath, str, tuple[str, ...]]]:
    """The user-math strings of a raw spec mapping (read even where other keys are invalid)."""
    found: list[tuple[SpecPath, str, tuple[str, ...]]] = []
    model = raw.get("model")
    layers = model.get("layers") if isinstance(model, dict) else None
    for i, layer in enumerate(layers if isinstance(layers, list) else ()):
        act = layer.get("activation") if isinstance(layer, dict) else None
        path = ("model", "layers", i, "activation")
        act = {"name": act} if isinstance(act, str) else act
        if not isinstance(act, dict):
            continue
        if isinstance(act.get("name"), str) and act["name"] not in ACTIVATIONS:
            found.append(((*path, "name"), act["name"], ("z",)))
        if isinstance(act.get("derivative"), str):
            found.append(((*path, "derivative"), act["derivative"], ("z", "a")))
    loss = raw.get("loss")
    if isinstance(loss, dict) and isinstance(loss.get("gradient"), str):
        found.append((("loss", "gradient"), loss["gradient"], ("a", "y", "z")))
    return found


def user_functions(raw: dict, base_dir: Path) -> tuple[dict[SpecPath, UserFunction], list[Problem]]:
    """Every expression and reference in the spec, compiled, keyed by its spec path."""
    wanted = _strings(raw)
    functions: dict[SpecPath, UserFunction] = {}
    problems: list[Problem] = []
    for path, text, allowed in wanted:
        try:
            functions[path] = _compile(text, allowed, base_dir, path)
        except ExpressionError as exc:
            hint = exc.hint
            if path[-1] == "name" and hint is None and text.strip().isidentifier():
                from nnfix.errors import did_you_mean

                hint = did_you_mean(text.strip(), ACTIVATIONS)
            if path[-1] == "name" and text.strip().isidentifier():
                message = f"unknown activation '{text.strip()}': use one of {', '.join(ACTIVATIONS)}, an expression in z, or file.py:function"
            else:
                message = str(exc)
            problems.append(Problem(message, path=path, hint=hint, offset=exc.offset))
        except usercode.RefError as exc:
            problems.append(Problem(str(exc), path=path, hint=exc.hint))
    return functions, problems
