"""A `model:` given as a list of building statements (SPEC §3.2 B): run in order, as the
user's script runs them, in a namespace over their module's globals with X and Y bound to
nnfix's batch, seeded and contained. A statement that raises is a U101 at the statement (or at
their line inside it); one that is not Python is exit 2 at the spec's line of it.

The root (what the forward is a method of, or the container it takes) is the value bound by the
first statement that has the forward as a method; where none has it, the value bound by the
first statement. Every name the statements bind is kept, for `step:` calls to use."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

from nnfix.usercode import sandbox
from nnfix.usercode.model import SetupError, seed_numpy


class StatementError(SetupError):
    """A building statement that is not Python: exit 2, at its item of the spec's list."""

    def __init__(self, message: str, key: str, index: int, hint: str | None = None):
        super().__init__(message, key, hint)
        self.index = index

    def problem(self):
        problem = super().problem()
        problem.path = ("implementation", self.key, self.index)
        return problem

    def __reduce__(self):
        return StatementError, (str(self), self.key, self.index, self.hint)


@dataclass
class Built:
    """What the statements made: the root, its name, and every name they bound (in order)."""

    root: Any
    name: str
    names: dict[str, Any] = field(default_factory=dict)


def run_statements(
    statements: list[str],
    module: types.ModuleType,
    values: dict[str, Any],
    seed: int,
    forward: str | None,
    key: str = "model",
) -> Built:
    """Run `statements` in order over `module`'s globals with `values` (X, Y) bound."""
    codes = []
    for i, text in enumerate(statements):
        try:
            codes.append(compile(text, f"<implementation.{key}[{i}]>", "exec"))
        except SyntaxError as exc:
            raise StatementError(
                f"{key}[{i}] is not a Python statement: {exc.msg} ({text!r})", key, i
            ) from None
    namespace: dict[str, Any] = dict(vars(module))
    namespace.update(values)
    bound: list[str] = []
    seed_numpy(seed)
    for i, code in enumerate(codes):
        before = {k: id(v) for k, v in namespace.items()}
        sandbox.call(f"{key}[{i}]", exec, code, namespace)
        bound += [
            k
            for k, v in namespace.items()
            if k not in bound and (k not in before or before[k] != id(v)) and k != "__builtins__"
        ]
    names = {k: namespace[k] for k in bound}
    if not names:
        raise SetupError(
            f"the statements of {key}: bind no name: nnfix cannot tell what they built",
            key,
            hint=f'{key}: ["net = MyNet(…)", …] — the first statement binds the model',
        )
    chosen = next(
        (k for k in bound if forward and _has(namespace[k], forward)),
        bound[0],
    )
    return Built(names[chosen], chosen, names)


def _has(value: Any, name: str) -> bool:
    for part in name.split("."):
        try:
            value = getattr(value, part)
        except Exception:
            return False
    return callable(value)
