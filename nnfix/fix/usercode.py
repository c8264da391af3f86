"""Changes to the user's own lines, for findings located in their code (`location.source`): a
rewrite of the line where the finding makes the change certain, a suggestion otherwise — and
the fix text `nnfix diagnose` shows for a G103 bias gradient, made here too so that both say
the same line.

Certain means: a G103 bias gradient whose shape says what is wrong with it — not summed over
the samples (`(n, m)` where the bias is `(n, 1)`), or summed over the other axis (`(m, 1)`
where it is `(1, n)`) — made on a one-line assignment whose value is the gradient as returned
(stored into a container or an attribute, or a local only passed on: returned, stored, put in
a tuple), or a local made on the line and then given as the gradient by a one-line alias
(`db = delta`). The rewrite comes from the line's syntax tree, never from names: the value
wrapped in the sum over the samples' axis (`db = np.sum(dZ, axis=1, keepdims=True) / m`, where
the divisor is a number — a literal, `len(…)`, `X.shape[1]`, or a local set once from one), or
the axis of its one sum call turned. Where the diagnosis measured the value summed over the
samples against the true gradient (evidence `summed`), the rewrite is certain only when that sum
is the gradient; a sum that still lacks the 1/m, or that divides by m twice, is a suggestion
that says so. Anything else is a suggestion: shown, never written."""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from nnfix.diagnose.findings import Finding, Source

_PASSING = (ast.Return, ast.Tuple, ast.List, ast.Dict, ast.Assign, ast.Yield)


@dataclass
class CodeChange:
    """One line of the user's file rewritten."""

    file: Path  # resolved
    shown: str  # the file as the finding names it
    line: int  # 1-based
    old: str  # the line as written, without its line break
    new: str
    findings: list[Finding] = field(default_factory=list)
    round: int = 1

    @property
    def codes(self) -> list[str]:
        return list(dict.fromkeys(f.code for f in self.findings))


def source_file(source: Source) -> Path:
    return Path(source.file).resolve()


SUMMED = ("right", "m times", "1/m")  # evidence `summed` of a G103: the value as given, summed
# over the samples, against the true gradient — it, m times it (no 1/m), or 1/m of it (twice)


@dataclass
class BiasLine:
    """The corrected line of a G103 bias gradient, or what the gradient should be instead."""

    line: int  # 1-based: the line rewritten, or the line whose value it sums
    old: str  # that line as written
    new: str  # the line rewritten; for a suggestion without one, the gradient's expression
    certain: bool  # a rewrite `nnfix fix` writes
    whole: bool = True  # `new` is a whole line (else an expression)
    note: str = ""  # what a suggestion adds ("m is the number of samples")


def propose(finding: Finding, text: str | None) -> CodeChange | None:
    """The certain rewrite of the line `finding` points at (or of the one-line alias that gives
    its value as the gradient), given the file's `text`; None when there is none (then the
    finding is a suggestion)."""
    src = finding.location.source
    if finding.code == "G101":
        return corrected_line(finding, text)
    fixed = bias_line(finding, text)
    if src is None or fixed is None or not fixed.certain:
        return None
    return CodeChange(source_file(src), src.file, fixed.line, fixed.old, fixed.new, [finding])


def corrected_line(finding: Finding, text: str | None) -> CodeChange | None:
    """A G101 whose line the diagnosis rewrote so that it gives the measured true value
    (evidence `culprit.corrected`, usercode.correct): that line, in the line's own indent and
    with its comment kept. Certain: the rewrite's value was checked against the truth."""
    src = finding.location.source
    culprit = finding.evidence.get("culprit")
    new = culprit.get("corrected") if isinstance(culprit, dict) else None
    if src is None or src.cell is not None or text is None or not isinstance(new, str):
        return None
    lines = text.splitlines()
    if not 0 < src.line <= len(lines):
        return None
    old = lines[src.line - 1]
    statement = _code(old)
    try:
        before = ast.parse(statement)
    except SyntaxError:
        return None
    if len(before.body) != 1 or not isinstance(before.body[0], ast.Assign):
        return None  # a statement over several lines, or not the assignment measured
    indent = old[: len(old) - len(old.lstrip())]
    comment = old.strip()[len(statement) :]
    return CodeChange(
        source_file(src), src.file, src.line, old, f"{indent}{new}{comment}", [finding]
    )


def bias_fix(finding: Finding, text: str | None, layout_axis: int | None = None) -> str:
    """The fix text of a G103 bias gradient not summed over the samples (or summed over the
    other axis): the line `nnfix fix` writes, or the sum it should be, in the user's names and
    on their samples' axis, divided by m only where the value given is not already."""
    fixed = bias_line(finding, text)
    src = finding.location.source
    if fixed is not None and src is not None:
        where = f" (line {fixed.line})" if fixed.line != src.line and fixed.whole else ""
        if fixed.whole:
            said = f"`{_code(fixed.new)}`{where}"
        else:
            said = f"give `{fixed.new}` as the gradient"
        return f"sum over the samples: {said}{f'; {fixed.note}' if fixed.note else ''}"
    found = _evidence(finding)
    axis = summed_axis(*found) if found is not None else None
    if axis is None:
        if layout_axis is None:
            return "sum the gradient over the samples, to the bias's shape"
        axis = layout_axis, True
    k, keepdims = axis
    expr, note = _scaled(_sum("np", "dZ", k, keepdims), finding.evidence.get("summed"), "dZ")
    return f"sum over the samples: `{expr}`{f'; {note}' if note else ''}"


def _code(line: str) -> str:
    """A line's statement, without its indent and its comment."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line.strip()).readline))
    except (tokenize.TokenError, SyntaxError):
        return line.strip()
    comment = next((t for t in tokens if t.type == tokenize.COMMENT), None)
    return line.strip()[: comment.start[1]].rstrip() if comment else line.strip()


def bias_line(finding: Finding, text: str | None) -> BiasLine | None:
    """The corrected line of the G103 bias gradient `finding` points at, given the file's text
    (see the module's docstring); None where the line is not an assignment nnfix can read."""
    src = finding.location.source
    found = _evidence(finding)
    if finding.code != "G103" or src is None or src.cell is not None or text is None:
        return None
    if found is None or not _utf8(text):
        return None
    shape, expected, m = found
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    lines = text.splitlines()
    if not 0 < src.line <= len(lines):
        return None
    made = _statement(tree, src.line)
    if made is None:
        return None
    stmt, scope = made
    summed = finding.evidence.get("summed")
    numpy = _numpy_name(tree)
    if not _passed_on(stmt.targets[0], scope, stmt):
        alias = _alias(stmt, scope)
        if alias is None:  # a value computed with too: the gradient is its sum, given elsewhere
            axis = summed_axis(shape, expected, m)
            line = lines[src.line - 1]
            if axis is None:
                return None
            name = _text(line, stmt.targets[0])
            expr, note = _scaled(_sum(numpy, name, *axis), summed, name)
            return BiasLine(src.line, line, expr, False, whole=False, note=note)
        stmt = alias
    line = lines[stmt.lineno - 1]
    args = (line, shape, expected, m, numpy, scope)
    rewrite = _other_axis(stmt.value, *args)
    if rewrite is not None:
        return BiasLine(stmt.lineno, line, rewrite, rewrite != line)
    if summed == "1/m":  # divided by m twice: the sum of what the line divides
        rewrite, certain = _undivided(stmt.value, *args), False
    else:
        rewrite, certain = _not_summed(stmt.value, *args), summed in (None, "right")
    if rewrite is None or rewrite == line:
        return None
    note = ""
    if summed == "m times":
        rewrite, note = rewrite + " / m", "m is the number of samples: the 1/m is missing too"
    elif summed == "1/m":
        note = "it divides by m twice: once is enough"
    return BiasLine(stmt.lineno, line, rewrite, certain, note=note)


def _evidence(finding: Finding) -> tuple[tuple, tuple, int] | None:
    shape, expected, m = (finding.evidence.get(k) for k in ("shape", "expected", "samples"))
    if not (isinstance(shape, list) and isinstance(expected, list) and isinstance(m, int)):
        return None
    return tuple(shape), tuple(expected), m


def _scaled(expr: str, summed: object, name: str) -> tuple[str, str]:
    """The sum `expr` as the gradient, given how the value summed compares with it."""
    if summed == "right":
        return expr, ""
    if summed == "m times":
        return f"{expr} / m", "m is the number of samples"
    if summed == "1/m":
        return f"{expr} * m", f"{name} is divided by m twice: once is enough"
    return expr, f"divided by the number of samples where {name} is not already"


def _alias(stmt: ast.Assign, scope: ast.AST) -> ast.Assign | None:
    """The one-line assignment that gives the local `stmt` makes, unchanged, as the gradient
    (`db = delta`), where that local is made on `stmt`'s line only."""
    target = stmt.targets[0]
    if not isinstance(target, ast.Name):
        return None
    stores = [
        n
        for n in ast.walk(scope)
        if isinstance(n, ast.Name) and n.id == target.id and isinstance(n.ctx, ast.Store)
    ]
    if any(n.lineno != stmt.lineno for n in stores):
        return None
    aliases = [
        n
        for n in ast.walk(scope)
        if isinstance(n, ast.Assign)
        and n.lineno > stmt.lineno
        and n.end_lineno == n.lineno
        and len(n.targets) == 1
        and isinstance(n.targets[0], ast.Name | ast.Subscript | ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id == target.id
        and _passed_on(n.targets[0], scope, n)
    ]
    return aliases[0] if len(aliases) == 1 else None


def apply(text: str, change: CodeChange) -> str:
    """`text` with the change's line replaced, its line break and every other line kept."""
    lines = text.splitlines(keepends=True)
    old = lines[change.line - 1]
    body = old.rstrip("\r\n")
    if body != change.old:
        raise ValueError(f"{change.shown}:{change.line} is no longer the line the finding names")
    lines[change.line - 1] = change.new + old[len(body) :]
    return "".join(lines)


def _utf8(text: str) -> bool:
    """No coding cookie that names another encoding (the file is read and written as UTF-8)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(text.encode()).readline)
    except SyntaxError:
        return False
    return encoding in ("utf-8", "utf-8-sig")


# --- the statement and where its value goes ---------------------------------------------------


def _parents(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]


def _statement(tree: ast.Module, line: int) -> tuple[ast.Assign, ast.AST] | None:
    """The one-line, one-target assignment on `line`, and the function (or module) around it."""
    _parents(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and node.lineno == line
            and node.end_lineno == line
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name | ast.Subscript | ast.Attribute)
        ):
            scope: ast.AST = node
            while not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
                scope = scope.parent  # type: ignore[attr-defined]
            return node, scope
    return None


def _passed_on(target: ast.expr, scope: ast.AST, stmt: ast.Assign) -> bool:
    """Whether the assigned value is the gradient as returned: stored into a container or an
    attribute, or a local whose every other use only passes it on (returned, stored, put in a
    tuple, list or dict) — never computed with, so changing it changes nothing else."""
    if isinstance(target, ast.Subscript | ast.Attribute):
        return True
    assert isinstance(target, ast.Name)
    for node in ast.walk(scope):
        if not (isinstance(node, ast.Name) and node.id == target.id) or node is target:
            continue
        if isinstance(node.ctx, ast.Store):
            if node.lineno != stmt.lineno:
                return False  # set elsewhere too: its uses may be of the other value
            continue
        if not _only_passes(node):
            return False
    return True


def _only_passes(node: ast.AST) -> bool:
    parent = getattr(node, "parent", None)
    while isinstance(parent, ast.Tuple | ast.List | ast.Dict):
        if isinstance(parent, ast.Dict) and node in parent.keys:
            return False
        node, parent = parent, getattr(parent, "parent", None)
    if isinstance(parent, ast.Return | ast.Yield):
        return True
    return isinstance(parent, ast.Assign) and parent.value is node


# --- numbers, numpy and the rewrites ----------------------------------------------------------


def _numpy_name(tree: ast.Module) -> str | None:
    """What the module calls numpy (`np` for `import numpy as np`), if it imports it."""
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.name == "numpy":
                    return alias.asname or "numpy"
    return None


def _scalar(node: ast.expr, scope: ast.AST, depth: int = 0) -> bool:
    """Whether `node` is certainly a number: a literal, len/int/float(…), `X.shape[k]`, an
    arithmetic of those, or a local set once from one."""
    if depth > 5:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _scalar(node.operand, scope, depth + 1)
    if isinstance(node, ast.BinOp):
        return _scalar(node.left, scope, depth + 1) and _scalar(node.right, scope, depth + 1)
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in ("len", "int", "float")
    if isinstance(node, ast.Subscript):
        return (
            isinstance(node.value, ast.Attribute)
            and node.value.attr == "shape"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        )
    if isinstance(node, ast.Name):
        sets = [
            n
            for n in ast.walk(scope)
            if isinstance(n, ast.Name) and n.id == node.id and isinstance(n.ctx, ast.Store)
        ]
        if len(sets) != 1:
            return False
        stmt = getattr(sets[0], "parent", None)
        if not (isinstance(stmt, ast.Assign) and stmt.targets == [sets[0]]):
            return False
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) and node.id in {
            a.arg for a in ast.walk(scope.args) if isinstance(a, ast.arg)
        }:
            return False
        return _scalar(stmt.value, scope, depth + 1)
    return False


def _text(line: str, node: ast.expr) -> str:
    """The characters of `node` on its line (ast columns count UTF-8 bytes)."""
    data = line.encode()
    assert node.end_col_offset is not None
    return data[node.col_offset : node.end_col_offset].decode()


def _operand(line: str, node: ast.expr) -> str:
    """An operand's text, in parentheses unless it is atomic (ast spans leave them out)."""
    text = _text(line, node)
    atomic = (ast.Name, ast.Constant, ast.Attribute, ast.Subscript, ast.Call)
    return text if isinstance(node, atomic) else f"({text})"


def _replaced(line: str, node: ast.expr, new: str) -> str:
    data = line.encode()
    assert node.end_col_offset is not None
    return (data[: node.col_offset] + new.encode() + data[node.end_col_offset :]).decode()


def _sum(numpy: str | None, operand: str, axis: int, keepdims: bool) -> str:
    keep = ", keepdims=True" if keepdims else ""
    if numpy is not None:
        return f"{numpy}.sum({operand}, axis={axis}{keep})"
    simple = operand.replace("_", "a").replace(".", "a").isalnum()
    return f"{operand if simple else f'({operand})'}.sum(axis={axis}{keep})"


def summed_axis(shape: tuple, expected: tuple, m: int) -> tuple[int, bool] | None:
    """The axis to sum over (and whether to keep it) that turns `shape` into `expected`: the
    samples' axis, the one of size m."""
    if len(shape) == len(expected):
        axes = [
            k
            for k in range(len(shape))
            if shape[k] == m
            and expected[k] == 1
            and all(shape[j] == expected[j] for j in range(len(shape)) if j != k)
        ]
        return (axes[0], True) if len(axes) == 1 else None
    if len(shape) == len(expected) + 1:
        axes = [
            k for k in range(len(shape)) if shape[k] == m and shape[:k] + shape[k + 1 :] == expected
        ]
        return (axes[0], False) if len(axes) == 1 else None
    return None


_OPS = {ast.Div: "/", ast.Mult: "*"}


def _not_summed(
    value: ast.expr,
    line: str,
    shape: tuple,
    expected: tuple,
    m: int,
    numpy: str | None,
    scope: ast.AST,
) -> str | None:
    """`db = dZ / m` -> `db = np.sum(dZ, axis=1, keepdims=True) / m`: the value summed over
    the samples (a number that divides or multiplies it stays outside the sum)."""
    found = summed_axis(shape, expected, m)
    if found is None or _has_sum(value):
        return None  # a value already summed somewhere is summed over the wrong axis
    axis, keepdims = found
    if isinstance(value, ast.BinOp) and type(value.op) in _OPS:
        op = _OPS[type(value.op)]
        if _scalar(value.right, scope):
            inner = _sum(numpy, _text(line, value.left), axis, keepdims)
            return _replaced(line, value, f"{inner} {op} {_operand(line, value.right)}")
        if op == "*" and _scalar(value.left, scope):
            inner = _sum(numpy, _text(line, value.right), axis, keepdims)
            return _replaced(line, value, f"{_operand(line, value.left)} * {inner}")
    return _replaced(line, value, _sum(numpy, _text(line, value), axis, keepdims))


def _undivided(
    value: ast.expr,
    line: str,
    shape: tuple,
    expected: tuple,
    m: int,
    numpy: str | None,
    scope: ast.AST,
) -> str | None:
    """`db = delta / m` where delta is already divided by m -> `db = np.sum(delta, axis=0)`:
    the sum of what the line divides (or multiplies) by a number, the number left out."""
    found = summed_axis(shape, expected, m)
    if found is None or _has_sum(value) or not isinstance(value, ast.BinOp):
        return None
    op = _OPS.get(type(value.op))
    if op is not None and _scalar(value.right, scope):
        inner = value.left
    elif op == "*" and _scalar(value.left, scope):
        inner = value.right
    else:
        return None
    return _replaced(line, value, _sum(numpy, _text(line, inner), *found))


def _is_sum(node: ast.AST) -> bool:
    """`np.sum(…)` or `x.sum(…)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "sum"
    )


def _has_sum(value: ast.expr) -> bool:
    return any(_is_sum(node) for node in ast.walk(value))


def _sum_call(value: ast.expr, scope: ast.AST) -> ast.Call | None:
    """The value's sum call, when the value is the sum (or the sum times or over a number)."""
    if isinstance(value, ast.BinOp) and type(value.op) in _OPS:
        if _scalar(value.right, scope):
            value = value.left
        elif isinstance(value.op, ast.Mult) and _scalar(value.left, scope):
            value = value.right
    return value if isinstance(value, ast.Call) and _is_sum(value) else None


def _other_axis(
    value: ast.expr,
    line: str,
    shape: tuple,
    expected: tuple,
    m: int,
    numpy: str | None,
    scope: ast.AST,
) -> str | None:
    """A 2-D value summed over the units instead of the samples -> the other axis: with
    keepdims, `delta.sum(axis=1, keepdims=True)` of shape (m, 1) where the bias is (1, n);
    without, `dz.sum(axis=1)` of shape (m,) where the bias is (n,)."""
    call = _sum_call(value, scope)
    if call is None:
        return None
    keywords = {k.arg: k.value for k in call.keywords}
    keep = keywords.get("keepdims")
    kept = isinstance(keep, ast.Constant) and keep.value is True
    if keep is not None and not (isinstance(keep, ast.Constant) and keep.value in (True, False)):
        return None
    func = call.func
    module_call = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
    module_call = module_call and func.value.id == numpy  # type: ignore[attr-defined]
    axis = keywords.get("axis")
    if axis is None and module_call and len(call.args) == 2:
        axis = call.args[1]
    if not (
        isinstance(axis, ast.Constant) and isinstance(axis.value, int) and axis.value in (0, 1)
    ):
        return None
    k = axis.value
    j = 1 - k
    if kept:
        if len(shape) != 2 or len(expected) != 2:
            return None
        if not (shape[k] == 1 and shape[j] == m and expected[j] == 1):
            return None
    elif not (len(shape) == 1 and len(expected) == 1 and shape[0] == m):
        return None
    return _replaced(line, axis, str(j))
