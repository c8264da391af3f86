"""How nnfix calls the user's code: a spec's `model: Network([2, 30, 1])` parsed into a call of
a name with literal arguments (X and Y standing for the batch, nothing evaluated), and each
function's parameters bound by their names — `L_model_forward(X, parameters)`,
`backprop(self, x, y)`, `compute_cost(AL, Y)` work as written."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDERS = ("X", "Y")


class CallSyntaxError(ValueError):
    """A `model:`, `layers:` or `loss:` entry that is not a call with literal arguments."""

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class CallSpec:
    """`Network([2, 30, 1], cost=Quadratic)`: a name, literal arguments, and which of them are
    the placeholders X and Y."""

    text: str
    name: str  # dotted: "Network" or "layers.Dense"
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def arguments(
        self, values: dict[str, Any], resolve: Callable[[Any], Any] | None = None
    ) -> tuple[list, dict]:
        """The arguments with the placeholders replaced by `values` ({"X": …, "Y": …}), and
        names and nested calls of the module (parsed with `names=True`) by `resolve(part)`,
        given a NameRef or a CallSpec, inside lists, tuples and dicts too."""

        def fill(v):
            if isinstance(v, Placeholder):
                return values[v.name]
            if isinstance(v, NameRef | CallSpec):
                assert resolve is not None, "a call parsed with names=True needs a resolver"
                return resolve(v)
            if isinstance(v, list | tuple):
                return type(v)(fill(x) for x in v)
            if isinstance(v, dict):
                return {k: fill(x) for k, x in v.items()}
            return v

        return [fill(a) for a in self.args], {k: fill(v) for k, v in self.kwargs.items()}

    @property
    def uses_data(self) -> bool:
        return any(isinstance(v, Placeholder) for v in (*self.args, *self.kwargs.values()))


@dataclass(frozen=True)
class Placeholder:
    name: str  # "X" | "Y"


@dataclass(frozen=True)
class NameRef:
    """A name of the user's module given as an argument: `cost=CrossEntropyCost`, `sigmoid`."""

    name: str  # dotted


def _value(node: ast.expr, text: str) -> Any:
    """An argument that may also name the module's objects or call its functions (nested)."""
    if isinstance(node, ast.Name) and node.id in PLACEHOLDERS:
        return Placeholder(node.id)
    if isinstance(node, ast.Name) and node.id in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.id]
    if isinstance(node, ast.Name | ast.Attribute) and _dotted(node):
        return NameRef(_dotted(node) or "")
    if isinstance(node, ast.Call):
        return _call(node, text, names=True)
    if isinstance(node, ast.List | ast.Tuple):
        items = [_value(e, text) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        return {
            _literal(k, text): _value(v, text)
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
        }
    return _literal(node, text)


def _literal(node: ast.expr, text: str) -> Any:
    if isinstance(node, ast.Name) and node.id in PLACEHOLDERS:
        return Placeholder(node.id)
    if isinstance(node, ast.Name) and node.id in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.id]
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise CallSyntaxError(
            f"arguments must be literals (numbers, strings, lists, dicts) or X / Y, not "
            f"{ast.get_source_segment(text, node)!r}",
            node.col_offset,
        ) from None


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def parse_call(text: str, names: bool = False) -> CallSpec:
    """`Name(args)` or `module.Name(args)` with literal arguments; a bare `Name` is a call with
    no arguments. `names`: the arguments may also be names of the module and calls of them,
    nested (`CNN(make_layers((3, 8, 8), 10))`, `Network([4, 3], cost=CrossEntropyCost)`).
    Raises CallSyntaxError with the offending column."""
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise CallSyntaxError(f"not a call such as Network([2, 30, 1]): {exc.msg}") from None
    if isinstance(tree, ast.Name | ast.Attribute) and _dotted(tree):
        return CallSpec(source, _dotted(tree) or "")
    if not isinstance(tree, ast.Call) or _dotted(tree.func) is None:
        raise CallSyntaxError("expected a call of a class or function, such as Network([2, 30, 1])")
    return _call(tree, source, names)


def _call(tree: ast.Call, source: str, names: bool) -> CallSpec:
    if _dotted(tree.func) is None:
        raise CallSyntaxError("expected a call of a class or function", tree.col_offset)
    if any(isinstance(a, ast.Starred) for a in tree.args) or any(
        k.arg is None for k in tree.keywords
    ):
        raise CallSyntaxError("*args and **kwargs cannot be given here")
    read = _value if names else _literal
    args = tuple(read(a, source) for a in tree.args)
    kwargs = {k.arg: read(k.value, source) for k in tree.keywords if k.arg}
    text = ast.get_source_segment(source, tree) or source
    return CallSpec(text, _dotted(tree.func) or "", args, kwargs)


# --- binding parameters by name ------------------------------------------------------------

# what a parameter's name says it wants, by the kind of function; case-insensitive
NAMES = {
    "params": ("params", "parameters", "param", "weights_and_biases", "theta"),
    "X": (
        "x",
        "inputs",
        "input",
        "input_data",
        "x_train",
        "x_batch",
        "xb",
        "a0",
        "a_0",
        "data",
        "features",
    ),
    "Y": (
        "y",
        "labels",
        "label",
        "targets",
        "target",
        "y_train",
        "y_true",
        "y_batch",
        "yb",
        "t",
        "truth",
    ),
    "cache": ("cache", "caches", "memory", "forward_cache", "activations_cache", "stored"),
    "output": (
        "al",
        "a_l",
        "y_hat",
        "yhat",
        "y_pred",
        "ypred",
        "output",
        "outputs",
        "out",
        "pred",
        "preds",
        "predicted",
        "prediction",
        "predictions",
        "probs",
        "scores",
        "a_last",
        "a_out",
    ),
}
ROLES = ("params", "X", "Y", "cache", "output", "grad", "zeros")
UNDERSTOOD = (
    "params/parameters, X/x/inputs, Y/y/labels/targets, cache/caches, AL/Y_hat/output, and "
    "each parameter or value your code names (W1, the Z1 your forward returns)"
)


def role_of(name: str, kind: str, depth: int) -> str | None:
    """What a parameter called `name` wants in a `kind` function (forward, backward, loss)."""
    low = name.lower()
    for role, names in NAMES.items():
        if low in names:
            return role
    number = re.fullmatch(r"a_?(\d+)", low)
    if number:  # A0 is the input, A{L} the output
        n = int(number[1])
        return "X" if n == 0 else "output" if n == depth else None
    if low == "a":  # Nielsen's feedforward(a) takes the input; backward(a, y) the output
        return "X" if kind == "forward" else "output"
    return None


def word_role(name: str) -> str | None:
    """The role one word of a name says, where exactly one role is said: `data_train` and
    `X_batch` are X, `labels_train` and `train_targets` are Y. A word for the output says
    nothing (`training_outputs` are the targets the outputs should be)."""
    words = [w for w in re.split(r"[_\d]+", name.lower()) if w]
    if any(w in NAMES["output"] for w in words):  # `training_outputs` are the targets: unsaid
        return None
    roles = {role for w in words for role, names in NAMES.items() if w in names and len(w) > 1}
    if len(words) > 1 and name[:1].lower() in "xy" and re.match(r"[xy](_|$)", name.lower()):
        roles.add(name[:1].upper())  # X_batch, y_val
    return roles.pop() if len(roles) == 1 else None


class BindingError(TypeError):
    """A parameter of the user's function that nnfix cannot supply: bad input, exit 2."""

    def __init__(self, message: str, parameter: str):
        super().__init__(message)
        self.parameter = parameter


def parameters(fn: Callable) -> list[inspect.Parameter] | None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
    return [p for p in signature.parameters.values() if p.kind in kinds]


def bind(
    fn: Callable,
    kind: str,
    values: dict[str, Any],
    *,
    depth: int,
    arguments: dict[str, Any] | None = None,
    fallback: tuple[str, ...] = (),
    named: dict[str, Any] | None = None,
    record: dict[str, str] | None = None,
) -> tuple[list, dict]:
    """(args, kwargs) for `fn` from `values` keyed by role (params, X, Y, cache, output).

    Parameters are matched by name (case-insensitive); `arguments` (the spec's
    `implementation.arguments`: parameter -> role or literal) settles the others; a parameter
    with a default nnfix does not recognise keeps its default; where no parameter is
    recognised at all, `fallback` gives the roles of the positional parameters in order.
    `named` (values by the names the code gives them: what the forward returned, the model's
    arrays) binds a parameter of the same name before its role: the code's own names are
    the surest; spelt otherwise (`Z_1` for `Z1`, `w1` for `W1`) after its role, then a word of
    the name says one (`data_train`). `record` gets what each was given."""
    params = parameters(fn)
    if params is None:
        return [values[r] for r in fallback if r in values], {}
    arguments = arguments or {}
    named = named or {}
    folded = {k.lower().replace("_", ""): k for k in named}  # A_1 is the A1 it returned
    roles: list[tuple[str | None, Any]] = []
    for p in params:
        given = arguments.get(p.name, arguments.get(p.name.lower(), _MISSING))
        role = role_of(p.name, kind, depth)
        own = folded.get(p.name.lower().replace("_", ""))
        if given is not _MISSING:
            roles.append(("role", given) if given in ROLES else ("literal", given))
        elif p.name in named or (own is not None and role is None):
            roles.append(("named", p.name if p.name in named else own))
        else:
            role = role or word_role(p.name)
            roles.append(("role", role) if role else (None, None))
    if fallback and not any(r[0] for r in roles):
        required = [p for p in params if p.default is p.empty]
        count = max(len(required), min(len(params), len(fallback)))
        if len(required) <= len(fallback):
            given = [r for r in fallback[:count] if r in values]
            if record is not None:
                record.update({p.name: r for p, r in zip(params, given, strict=False)})
            return [values[r] for r in given], {}
    # the fallback's unused roles fill the required parameters no name settles, in order
    spare = [r for r in fallback if r in values and ("role", r) not in roles]
    if any(how == "named" for how, _ in roles):  # it takes the parameters one by one
        spare = [r for r in spare if r != "params"]
    for i, (p, (how, _)) in enumerate(zip(params, roles, strict=True)):
        if how is None and p.default is p.empty and spare:
            roles[i] = ("role", spare.pop(0))
    args: list = []
    kwargs: dict = {}
    for p, (how, what) in zip(params, roles, strict=True):
        if how == "literal":
            value = what
        elif how == "named":
            value = named[what]
        elif how == "role" and what in values:
            value = values[what]
        elif p.default is not p.empty:
            continue
        else:
            wanted = f"'{p.name}' ({what} is not available to {kind})" if what else f"'{p.name}'"
            raise BindingError(
                f"{getattr(fn, '__qualname__', fn)}{inspect.signature(fn)}: cannot tell what to "
                f"pass as {wanted}; nnfix understands {UNDERSTOOD}",
                p.name,
            )
        if p.kind == p.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[p.name] = value
        if record is not None:
            record[p.name] = "arguments:" if how == "literal" else str(what)
    return args, kwargs


_MISSING = object()
