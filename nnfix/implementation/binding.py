"""Binding the user's function arguments by name, so common signatures work as written:
`L_model_forward(X, parameters)`, `L_model_backward(AL, Y, caches)`, `compute_cost(AL, Y)`."""

from __future__ import annotations

import inspect
from collections.abc import Callable

ROLES = {
    "params": "params",
    "parameters": "params",
    "x": "X",
    "y": "Y",
    "cache": "cache",
    "caches": "cache",
    "al": "AL",
    "a": "AL",
    "y_hat": "AL",
    "yhat": "AL",
    "output": "AL",
}
UNDERSTOOD = "params/parameters, X, Y, cache/caches, AL/A/Y_hat/output"


class BindingError(TypeError):
    """A parameter of the user's function that nnfix cannot supply."""


def bind(
    fn: Callable, values: dict[str, object], fallback: tuple[str, ...] = ()
) -> tuple[list, dict]:
    """(args, kwargs) for `fn` from `values` keyed by role (params, X, Y, cache, AL).

    Parameters are matched by name, case-insensitively; where none is recognised, `fallback`
    gives the roles of the positional parameters in order (forward: params, X; loss: AL, Y)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return [values[r] for r in fallback], {}
    parameters = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    roles = [ROLES.get(p.name.lower()) for p in parameters]
    if fallback and not any(roles):
        required = [p for p in parameters if p.default is p.empty]
        if len(required) <= len(fallback):
            return [
                values[r]
                for r in fallback[: max(len(required), min(len(parameters), len(fallback)))]
            ], {}
    args, kwargs = [], {}
    for p, role in zip(parameters, roles, strict=True):
        if role is None or role not in values:
            if p.default is not p.empty:
                continue
            what = (
                f"'{p.name}'"
                if role is None
                else f"'{p.name}' ({role} is not available to this function)"
            )
            raise BindingError(
                f"{fn.__name__}{signature}: cannot tell what to pass as {what}; nnfix understands {UNDERSTOOD}"
            )
        if p.kind == p.POSITIONAL_ONLY:
            args.append(values[role])
        else:
            kwargs[p.name] = values[role]
    return args, kwargs
