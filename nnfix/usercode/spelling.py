"""How the user's code spells a value inside what one of its functions returns: `grads['db1']`
where it returns `grads`, `nabla_w[0]` for item [1][0] of `return (nabla_b, nabla_w)`, `db1`
for the 'db1' entry of `return {"db1": db1, ...}` — read from the function's return
statements, so that a message names the value as the user wrote it, never as a bare index."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from typing import Any

_STEP = re.compile(r"\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|-?\d+)\]")


def keys(path: str) -> list[Any] | None:
    """`['db1'][0]` -> ['db1', 0]; None when `path` is not a chain of literal subscripts."""
    found = list(_STEP.finditer(path))
    if not found or "".join(m.group(0) for m in found) != path:
        return None
    return [ast.literal_eval(m.group(1)) for m in found]


def returned(fn: Any) -> list[tuple[ast.expr, str]]:
    """The value of each `return` of `fn` (not of functions nested in it), with the source it
    was parsed from; none when its source cannot be read."""
    try:
        source = textwrap.dedent(inspect.getsource(inspect.unwrap(fn)))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, ValueError, IndentationError):
        return []
    top = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)), None
    )
    if top is None:
        return []
    out: list[tuple[ast.expr, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.Return) and child.value is not None:
                out.append((child.value, source))
            visit(child)

    visit(top)
    return out


def spell(path: str, fn: Any, name: str) -> str:
    """The value at `path` (`['db1']`, `[1][0]`) in what `fn` returns, as its code spells it;
    `name(…)` and the path where the return statements do not say one spelling."""
    fallback = f"{name}(…){path}"
    wanted = keys(path)
    if wanted is None:
        return fallback
    spelt = {_resolve(node, source, wanted) for node, source in returned(fn)}
    if len(spelt) == 1 and None not in spelt:
        return spelt.pop()  # type: ignore[return-value]
    return fallback


def _resolve(node: ast.expr, source: str, wanted: list[Any]) -> str | None:
    """Follow the subscripts `wanted` into a returned expression as far as its literals go."""
    rest = list(wanted)
    while rest:
        key = rest[0]
        if isinstance(node, ast.Tuple | ast.List) and isinstance(key, int):
            if not -len(node.elts) <= key < len(node.elts) or any(
                isinstance(e, ast.Starred) for e in node.elts
            ):
                return None
            node = node.elts[key]
        elif isinstance(node, ast.Dict):
            values = [
                v
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and k.value == key
            ]
            if len(values) != 1 or any(k is None for k in node.keys):
                return None
            node = values[0]
        else:
            break
        rest.pop(0)
    if not isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
        return None
    text = ast.get_source_segment(source, node)
    if text is None or "\n" in text:
        return None
    return text + "".join(f"[{k!r}]" for k in rest)
