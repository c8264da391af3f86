"""The safe expression language of SPEC §2: parsed by `ast`, checked against a whitelist,
compiled to a tree of NumPy closures. Nothing in an expression is ever passed to `eval`."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

VARIABLES = ("z", "a", "y")
CONSTANTS = {"pi": math.pi, "e": math.e}

# An expression is a formula of a line; these bound what parsing, compiling and evaluating it
# (one closure call per level) cost: Python's own parser runs out of memory or recursion on a
# few thousand chained terms. Nothing is folded at compile time: `9**9**9**9` is computed by
# NumPy in fixed-width numbers when called, so no constant grows in memory.
MAX_EXPRESSION_CHARS = 2000  # the longest in the examples is under 100
MAX_EXPRESSION_NODES = 1000  # syntax-tree nodes: names, numbers, operators, calls
MAX_EXPRESSION_DEPTH = 100  # nesting of operators and calls: `1 - (1 - (…))`, `-(-(…))`


def _sigmoid(x):
    x = np.asarray(x)
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype if x.dtype.kind == "f" else float)


FUNCTIONS: dict[str, tuple[Callable, int, int]] = {  # name -> (function, min args, max args)
    "exp": (np.exp, 1, 1),
    "log": (np.log, 1, 1),
    "log1p": (np.log1p, 1, 1),
    "sqrt": (np.sqrt, 1, 1),
    "abs": (np.abs, 1, 1),
    "tanh": (np.tanh, 1, 1),
    "sigmoid": (_sigmoid, 1, 1),
    "maximum": (np.maximum, 2, 2),
    "minimum": (np.minimum, 2, 2),
    "where": (np.where, 3, 3),
    "clip": (np.clip, 3, 3),
    "sign": (np.sign, 1, 1),
    "power": (np.power, 2, 2),
    "sin": (np.sin, 1, 1),
    "cos": (np.cos, 1, 1),
}

_BINARY = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
    ast.Mod: np.mod,
}
_COMPARE = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
_SYMBOLS = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.FloorDiv: "//", ast.MatMult: "@"}


class ExpressionError(ValueError):
    """An expression outside the language; `offset` is the 0-based column of the token."""

    def __init__(self, message: str, offset: int = 0, hint: str | None = None):
        super().__init__(message)
        self.offset = offset
        self.hint = hint


@dataclass(frozen=True)
class Expression:
    """A compiled expression: call it with the variables it uses as keyword arrays."""

    text: str
    variables: frozenset[str]
    _fn: Callable[[dict], Any]

    def __call__(self, **values) -> np.ndarray:
        missing = self.variables - values.keys()
        if missing:
            raise TypeError(f"expression {self.text!r} needs {', '.join(sorted(missing))}")
        return self._fn(values)


def _too_deep() -> str:
    return f"expression nested too deeply (at most {MAX_EXPRESSION_DEPTH} levels of operators and calls)"


def _check_size(tree: ast.AST, lead: int) -> None:
    """Refuse a tree too big or too deep to compile and evaluate (walked without recursion)."""
    count = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_EXPRESSION_NODES:
            raise ExpressionError(f"expression too long: more than {MAX_EXPRESSION_NODES:,} terms")
        if depth > MAX_EXPRESSION_DEPTH:
            raise ExpressionError(_too_deep(), lead + getattr(node, "col_offset", 0))
        stack += [(child, depth + 1) for child in ast.iter_child_nodes(node)]


def compile_expression(text: str, allowed: tuple[str, ...] = VARIABLES) -> Expression:
    """Parse and compile `text`; raise ExpressionError naming the first offending token."""
    from nnfix.errors import did_you_mean

    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(
            f"expression too long: {len(text):,} characters (at most {MAX_EXPRESSION_CHARS:,})"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        offset = max((exc.offset or 1) - 1, 0) + (len(text) - len(text.lstrip()))
        raise ExpressionError(f"invalid syntax in expression {text!r}", offset) from None
    except ValueError:  # a NUL character (a YAML "\0")
        raise ExpressionError(f"invalid character in expression {text!r}") from None
    except (RecursionError, MemoryError):  # Python's parser gives up on deep nesting
        raise ExpressionError(_too_deep()) from None
    lead = len(text) - len(text.lstrip())
    _check_size(tree, lead)
    used: set[str] = set()

    def fail(node: ast.AST, message: str, hint: str | None = None) -> NoReturn:
        raise ExpressionError(message, lead + getattr(node, "col_offset", 0), hint)

    def build(node: ast.AST) -> Callable[[dict], Any]:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                fail(node, f"only numbers are allowed as constants, not {node.value!r}")
            try:  # as floats: 2**-1 is 0.5 and 2**64 * z does not wrap, as in the math
                value = float(node.value)
            except OverflowError:
                fail(node, f"the number {str(node.value)[:20]}… is too large for a float")
            return lambda env: value
        if isinstance(node, ast.Name):
            name = node.id
            if name in CONSTANTS:
                value = CONSTANTS[name]
                return lambda env: value
            if name in allowed:
                used.add(name)
                return lambda env: env[name]
            if name in FUNCTIONS:
                fail(node, f"'{name}' is a function: call it, as in {name}(z)")
            names = (*allowed, *CONSTANTS, *FUNCTIONS)
            fail(
                node,
                f"unknown name '{name}': expressions may use {', '.join(allowed)}",
                did_you_mean(name, names),
            )
        if isinstance(node, ast.BinOp):
            op = _BINARY.get(type(node.op))
            if op is None:
                symbol = _SYMBOLS.get(type(node.op), type(node.op).__name__)
                fail(node, f"operator '{symbol}' is not allowed (use + - * / ** %)")
            left, right, binary = build(node.left), build(node.right), op
            return lambda env: binary(left(env), right(env))
        if isinstance(node, ast.UnaryOp):
            operand = build(node.operand)
            if isinstance(node.op, ast.USub):
                return lambda env: np.negative(operand(env))
            if isinstance(node.op, ast.UAdd):
                return operand
            fail(node, f"unary operator '{type(node.op).__name__}' is not allowed")
        if isinstance(node, ast.Compare):
            parts = [build(node.left), *(build(c) for c in node.comparators)]
            ops = []
            for op_node in node.ops:
                op = _COMPARE.get(type(op_node))
                if op is None:
                    fail(node, f"comparison '{type(op_node).__name__}' is not allowed")
                ops.append(op)

            def compare(env):
                values = [p(env) for p in parts]
                result = ops[0](values[0], values[1])
                for i in range(1, len(ops)):
                    result = np.logical_and(result, ops[i](values[i], values[i + 1]))
                return result

            return compare
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                fail(
                    node,
                    "only the listed functions may be called (no attribute access, no methods)",
                )
            name = node.func.id
            if name not in FUNCTIONS:
                hint = did_you_mean(name, FUNCTIONS)
                fail(node, f"unknown function '{name}': allowed are {', '.join(FUNCTIONS)}", hint)
            if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
                fail(node, f"'{name}' takes plain positional arguments only")
            fn, lo, hi = FUNCTIONS[name]
            if not lo <= len(node.args) <= hi:
                fail(
                    node,
                    f"'{name}' takes {lo} argument{'s' if lo > 1 else ''}, not {len(node.args)}",
                )
            args = [build(arg) for arg in node.args]
            return lambda env: fn(*(arg(env) for arg in args))
        if isinstance(node, ast.Attribute):
            fail(node, "attribute access ('.') is not allowed in an expression")
        if isinstance(node, ast.Subscript):
            fail(node, "subscripts ('[…]') are not allowed in an expression")
        if isinstance(node, ast.Lambda):
            fail(node, "lambdas are not allowed in an expression")
        what = type(node).__name__.lower()
        fail(node, f"'{what}' is not allowed in an expression")

    fn = build(tree.body)
    return Expression(text=text, variables=frozenset(used), _fn=fn)
