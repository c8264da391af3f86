"""What the user's module offers before nnfix knows their network (`nnfix init --from`): their
own functions and classes, and the calls with literal arguments their own code makes —
`MLP([2, 8, 8, 1])` in their script, `initialize_parameters_deep(layers_dims)` after
`layers_dims = [2, 20, 7, 5, 1]` — written as calls `calls.parse_call` reads back, the names of
their data standing as X and Y."""

from __future__ import annotations

import ast
import inspect
import operator
import sys
import types
from dataclasses import dataclass
from typing import Any

from nnfix.usercode.calls import role_of
from nnfix.usercode.loader import MODULE_PREFIX, LoadedModule, is_users

_UNRESOLVED = object()
_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
}
_LITERALS = (int, float, str, bool, type(None))
_SPLITS = ("train", "test", "val", "valid", "dev", "all", "batch", "data")  # X_dev, y_all


@dataclass(frozen=True)
class Data:
    """A name of the user's data, standing for the batch in a call (X or Y)."""

    name: str  # "X" | "Y"

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class LiteralCall:
    """A call the user's code makes, with arguments nnfix can give again."""

    name: str  # the callee as written: "MLP", "layers.Dense"
    text: str  # the call with literal arguments (X and Y for their data)
    line: int
    cell: int | None
    block: int  # calls in one block of statements share it, numbered in order: a script's layers
    order: int
    args: tuple = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def where(self) -> str:
        return (
            f"cell {self.cell}, line {self.line}" if self.cell is not None else f"line {self.line}"
        )

    @property
    def uses_data(self) -> bool:
        return any(isinstance(v, Data) for v in (*self.args, *dict(self.kwargs).values()))


def users(obj: Any) -> bool:
    """Defined in the user's files (the module, a notebook cell, a sibling it imports)."""
    if isinstance(obj, types.FunctionType):
        return obj.__name__ != "<lambda>" and is_users(obj.__code__.co_filename)
    if isinstance(obj, type):
        if obj.__module__.startswith(MODULE_PREFIX):  # the module itself (a notebook too)
            return True
        module = sys.modules.get(obj.__module__)
        file = getattr(module, "__file__", None)
        return isinstance(file, str) and is_users(file)
    return False


def functions(loaded: LoadedModule) -> dict[str, types.FunctionType]:
    """The user's own module-level functions, by name, in definition order."""
    return {
        name: value
        for name, value in vars(loaded.module).items()
        if isinstance(value, types.FunctionType) and users(value)
    }


def classes(loaded: LoadedModule) -> dict[str, type]:
    """The user's own classes, by name, in definition order."""
    return {
        name: value
        for name, value in vars(loaded.module).items()
        if isinstance(value, type) and users(value)
    }


def methods(cls: type) -> dict[str, Any]:
    """A class's public methods and `__call__` (its own and inherited from the user's classes)."""
    out = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not users(klass):
            continue
        for name, value in vars(klass).items():
            private = name.startswith("_") and name != "__call__"
            if private or not callable(getattr(cls, name, None)):
                continue
            if isinstance(value, property | type):
                continue
            out[name] = value
    return out


def literal(value: Any) -> bool:
    if isinstance(value, _LITERALS):
        return True
    if isinstance(value, list | tuple):
        return all(literal(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, _LITERALS) and literal(v) for k, v in value.items())
    return False


def text_of(value: Any) -> str:
    """A literal as Python source (X and Y as their names)."""
    if isinstance(value, Data):
        return value.name
    if isinstance(value, list):
        return "[" + ", ".join(text_of(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(text_of(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def call_text(name: str, args: tuple, kwargs: dict[str, Any]) -> str:
    parts = [text_of(a) for a in args] + [f"{k}={text_of(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


class _Resolver:
    """Arguments of a call as values: literals, arithmetic of literals, names a literal was
    assigned to earlier in the same block or at module level, and names of data."""

    def __init__(self, namespace: dict[str, Any], env: dict[str, Any]):
        self.namespace = namespace
        self.env = env

    def value(self, node: ast.expr) -> Any:
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            found = self.namespace.get(node.id, _UNRESOLVED)
            if found is not _UNRESOLVED and literal(found):
                return found
            role = role_of(node.id, "backward", 0)
            low = node.id.lower()
            if role is None and low[:2] in ("x_", "y_") and low[2:] in _SPLITS:
                role = low[0].upper()
            return Data(role) if role in ("X", "Y") else _UNRESOLVED
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, int | float) and isinstance(right, int | float):
                try:
                    result = _OPERATORS[type(node.op)](left, right)
                except (ArithmeticError, ValueError):
                    return _UNRESOLVED
                if isinstance(result, int | float) and abs(result) < 1e12:
                    return result
            return _UNRESOLVED
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.value(e) for e in node.elts]
            if any(i is _UNRESOLVED or isinstance(i, Data) for i in items):
                return _UNRESOLVED
            return items if isinstance(node, ast.List) else tuple(items)
        return _UNRESOLVED


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


_BLOCKS = ("body", "orelse", "finalbody", "handlers")


def _calls_in(stmt: ast.stmt) -> list[ast.Call]:
    """The calls of one statement outside the blocks it holds, in source order."""
    found: list[ast.Call] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            return
        if isinstance(node, ast.Call):
            found.append(node)
        for name, child in ast.iter_fields(node):
            if node is stmt and name in _BLOCKS:
                continue
            for item in child if isinstance(child, list) else [child]:
                if isinstance(item, ast.AST):
                    visit(item)

    visit(stmt)
    return sorted(found, key=lambda c: (c.lineno, c.col_offset))


def literal_calls(loaded: LoadedModule, names: set[str]) -> list[LiteralCall]:
    """The calls of `names` (the user's classes and functions) their code makes with arguments
    nnfix can give again — in the script nnfix does not run, in functions, anywhere."""
    namespace = vars(loaded.module)
    out: list[LiteralCall] = []
    blocks = 0

    def block(stmts: list[ast.stmt], cell: int | None, env: dict[str, Any]) -> None:
        nonlocal blocks
        blocks += 1
        number = blocks
        env = dict(env)
        order = 0
        for stmt in stmts:
            resolver = _Resolver(namespace, env)
            for call in _calls_in(stmt):
                name = _dotted(call.func)
                if name is None or name.split(".")[-1] not in names:
                    continue
                args = tuple(resolver.value(a) for a in call.args)
                kwargs = {k.arg: resolver.value(k.value) for k in call.keywords if k.arg}
                starred = any(isinstance(a, ast.Starred) for a in call.args)
                if starred or len(kwargs) != len(call.keywords):
                    continue
                if any(v is _UNRESOLVED for v in (*args, *kwargs.values())):
                    continue
                out.append(
                    LiteralCall(
                        name,
                        call_text(name, args, kwargs),
                        call.lineno,
                        cell,
                        number,
                        order,
                        args,
                        tuple(kwargs.items()),
                    )
                )
                order += 1
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target = stmt.targets[0]
                if isinstance(target, ast.Name):
                    value = resolver.value(stmt.value)
                    if value is not _UNRESOLVED and not isinstance(value, Data):
                        env[target.id] = value
                    else:
                        env.pop(target.id, None)
            for field in _BLOCKS:
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner:
                    if field == "handlers":
                        for handler in inner:
                            block(handler.body, cell, env)
                    elif isinstance(inner[0], ast.stmt):
                        block(inner, cell, {} if _scope(stmt) else env)

    for tree, cell in loaded.trees:
        block(tree.body, cell, {})
    return out


def _scope(stmt: ast.stmt) -> bool:
    """A statement whose body is a scope of its own (names assigned outside are not its)."""
    return isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)


def signature(fn: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None
