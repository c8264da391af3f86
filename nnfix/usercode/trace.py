"""A line tracer for one call of the user's code: for every statement their files execute, the
arrays it read (the names, attributes and items its source refers to, as they were before it
ran) and the arrays it set or changed (locals, globals it names, attributes of `self`, items of
their dicts and lists), with where each is held; a `return` line sets the value it returns.

sys.settrace is used (sys.monitoring exists only from Python 3.12, and the cost here is the
copies of the arrays, not the trace calls). Nothing is called while tracing: references are
read from frames and `__dict__`s, never through properties or `__getitem__` overrides."""

from __future__ import annotations

import ast
import hashlib
import inspect
import linecache
import operator
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType, ModuleType
from typing import Any

import numpy as np

from nnfix.usercode.loader import Place, is_users, place_of
from nnfix.usercode.objects import float_list

Array = np.ndarray
MAX_STEPS = 20_000  # statements recorded at most: a backward pass on one batch runs far fewer
MAX_SIZE = 2_000_000  # arrays larger than this are not copied (nor judged)
SAMPLE = 16_384  # arrays larger than this are compared on a strided sample of their elements
Holder = tuple[int, Any]  # (id of what holds it: a frame's serial, a dict, a list, an object), key


def fingerprint(value: Array) -> tuple:
    """Equal arrays (same shape, dtype and bytes) have equal fingerprints; a large array's is
    taken from a strided sample of its elements and its sum (arrays of a net differ throughout,
    not in a few elements)."""
    if value.size > 4 * SAMPLE:
        flat = value.reshape(-1)
        data = np.ascontiguousarray(flat[:: flat.size // 4096])
        total = float(np.sum(flat, dtype=np.float64)) if value.dtype.kind != "b" else 0.0
        digest = hashlib.blake2b(data.tobytes(), digest_size=12).digest()
        return value.shape, value.dtype.str, digest, total
    data = np.ascontiguousarray(value)
    return value.shape, value.dtype.str, hashlib.blake2b(data.tobytes(), digest_size=12).digest()


@dataclass
class Output:
    """An array a statement set or changed."""

    name: str  # as the statement's frame sees it: dZ, grads['dW1'], self.W1, return[0]
    value: Array  # a copy, as it was after the statement
    holder: Holder  # where it is kept
    passed: bool = False  # an array the frame already held, unchanged: passed on, not computed
    mark: tuple = ()  # its fingerprint
    inplace: bool = False  # the array it held before, changed in place (`dx[...] += ...`)

    def __post_init__(self) -> None:
        if not self.mark:
            self.mark = fingerprint(self.value)


@dataclass
class Step:
    """One execution of one statement of the user's code."""

    serial: int  # in the order statements started
    place: Place
    code: str  # the statement's first line, as written
    col: int  # 1-based column where the statement starts
    frame: int  # the serial of the call it ran in
    depth: int  # calls deep from the traced call (0: the function nnfix called)
    parent: int | None  # the serial of the caller's statement under way, if the caller is theirs
    start: int  # clock when it started ...
    end: int = -1  # ... and when it finished (nested calls' steps fall in between)
    loops: tuple[tuple[int, str, int], ...] = ()  # enclosing for/while headers (line, code, col)
    inputs: dict[str, Array] = field(default_factory=dict)  # what it read, by its source text
    outputs: list[Output] = field(default_factory=list)
    returns: bool = False  # a return statement
    raised: bool = False  # an exception left it
    adds_to: str | None = None  # an augmented assignment's target, as written (`dc` of `dc += dy`)
    pure: Pure | None = None  # `v = E` of NumPy calls: E, to tap its sub-expressions (trace.pure)

    def output(self, mark: tuple) -> Output | None:
        return next((o for o in self.outputs if o.mark == mark), None)


# --- the user's source: the statement at each line ----------------------------------------------

_COMPOUND = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.If,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
)


@dataclass
class _Line:
    statement: ast.stmt
    loops: tuple[tuple[int, str, int], ...]
    lines: list[str]  # the file's lines, to quote references as written
    texts: dict[int, str]  # id of a node of the file's tree -> its text (shared by the file)


class _Sources:
    """The statement at each line of the user's files, parsed once per file."""

    def __init__(self) -> None:
        self.files: dict[str, dict[int, _Line]] = {}

    def at(self, filename: str, line: int) -> _Line | None:
        if filename not in self.files:
            self.files[filename] = self._parse(filename)
        return self.files[filename].get(line)

    @staticmethod
    def _parse(filename: str) -> dict[int, _Line]:
        lines = linecache.getlines(filename)
        source = "".join(lines)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return {}
        table: dict[int, _Line] = {}
        texts: dict[int, str] = {}

        def visit(node: ast.AST, loops: tuple) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                    inner: tuple = ()  # a function's loops are its own
                elif isinstance(child, ast.For | ast.While | ast.AsyncFor):
                    text = lines[child.lineno - 1] if child.lineno <= len(lines) else ""
                    inner = ((child.lineno, text.strip(), child.col_offset + 1), *loops)
                else:
                    inner = loops
                if isinstance(child, ast.stmt):
                    if isinstance(child, _COMPOUND):
                        body = getattr(child, "body", None) or [child]
                        last = max(child.lineno, body[0].lineno - 1)
                        span = range(child.lineno, last + 1)
                    else:
                        span = range(child.lineno, (child.end_lineno or child.lineno) + 1)
                    for number in span:
                        table[number] = _Line(child, loops, lines, texts)
                visit(child, inner)

        visit(tree, ())
        return table


# --- what a statement reads -----------------------------------------------------------------------


class _Unknown(Exception):
    """A reference nnfix cannot read without calling the user's code."""


_SCOPES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)


def _header(statement: ast.stmt) -> list[ast.AST]:
    """The parts of a statement its line event runs: a compound statement's header only."""
    if isinstance(statement, ast.For | ast.AsyncFor):
        return [statement.iter]
    if isinstance(statement, ast.While | ast.If):
        return [statement.test]
    if isinstance(statement, ast.With | ast.AsyncWith):
        return [item.context_expr for item in statement.items]
    if isinstance(statement, _COMPOUND):
        return []
    if isinstance(statement, ast.Assign | ast.AnnAssign):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        parts: list[ast.AST] = [statement.value] if statement.value is not None else []
        for target in targets:  # what a store into an item or attribute reads: its owner, index
            for node in ast.walk(target):
                if isinstance(node, ast.Subscript):
                    parts += [node.value, node.slice]
                elif isinstance(node, ast.Attribute):
                    parts.append(node.value)
        return parts
    if isinstance(statement, ast.AugAssign):
        return [statement.target, statement.value]
    return [statement]


def _text(node: ast.AST, line: _Line) -> str:
    """A reference as the user wrote it (found once per node: the file's tree is kept)."""
    text = line.texts.get(id(node))
    if text is None:
        text = _segment(line.lines, node) or ast.unparse(node)
        line.texts[id(node)] = text
    return text


def _segment(lines: list[str], node: ast.AST) -> str | None:
    """The source of a node, from the file's lines (ast.get_source_segment splits the whole
    file on every call)."""
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    col, end_col = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
    if start is None or end is None or col is None or end_col is None or end > len(lines):
        return None
    chunk = [line.encode() for line in lines[start - 1 : end]]
    if len(chunk) == 1:
        return chunk[0][col:end_col].decode(errors="replace")
    chunk[0], chunk[-1] = chunk[0][col:], chunk[-1][:end_col]
    return b"".join(chunk).decode(errors="replace")


def _reads(statement: ast.stmt, frame: FrameType, line: _Line) -> Iterator[tuple[str, Array]]:
    """The arrays a statement reads, by the text that names them, outermost reference first:
    `activations[-2]` in `np.dot(delta, activations[-2].transpose())`."""
    seen: set[str] = set()
    stack = list(reversed(_header(statement)))
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
            try:
                value = _evaluate(node, frame)
            except (_Unknown, Exception):
                value = None
            if _floats(value):  # a pure-Python net's list of floats: read as an array
                value = np.asarray(value, dtype=np.float64)
            if isinstance(value, np.ndarray | np.generic):
                text = _text(node, line)
                if text not in seen and _numeric(value):
                    seen.add(text)
                    yield text, np.array(value)
                continue
            if _ids(value):  # a sequence's token ids or targets as a list: `dy[targets[t]] -= 1`
                text = _text(node, line)
                if text not in seen:
                    seen.add(text)
                    yield text, np.array(value)
                continue
        stack += reversed(list(ast.iter_child_nodes(node)))


def _ids(value: Any) -> bool:
    """A plain list of integers (token ids, class labels), as nnfix gives one sample's."""
    return (
        type(value) is list
        and 0 < len(value) <= 4096
        and all(type(v) is int or isinstance(v, np.integer) for v in value)
    )


def _evaluate(node: ast.expr, frame: FrameType) -> Any:
    """The value of a reference in a frame, read without calling anything of the user's."""
    if isinstance(node, ast.Name):
        for scope in (frame.f_locals, frame.f_globals):
            if node.id in scope:
                return scope[node.id]
        raise _Unknown(node.id)
    if isinstance(node, ast.Attribute):
        owner = _evaluate(node.value, frame)
        if isinstance(owner, np.ndarray):  # `W.T`: the read is of W
            raise _Unknown(node.attr)
        value = inspect.getattr_static(owner, node.attr)
        plain = not callable(value) and not hasattr(value, "__get__")  # no property, no method
        if isinstance(owner, ModuleType) or plain:
            return value
        raise _Unknown(node.attr)
    if isinstance(node, ast.Subscript):
        owner = _evaluate(node.value, frame)
        key = _key(node.slice, frame)
        if type(owner) in (dict, list, tuple) and isinstance(key, int | str):
            return owner[key]
        raise _Unknown("subscript")
    raise _Unknown(type(node).__name__)


_ARITHMETIC = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.MatMult: operator.matmul,
    ast.Pow: operator.pow,
}


class Pure:
    """A statement's expression of arrays and numbers combined by arithmetic and NumPy's own
    functions (`np.tanh(U @ x + b) * o`), read once at the statement's start without calling
    anything of the user's. Its leaves are kept, so that it can be computed again with one of
    its sub-expressions moved: how much the statement's value moves with it."""

    def __init__(self, node: ast.expr, frame: FrameType):
        self.node = node
        self.leaves: dict[int, Any] = {}
        self.values: dict[int, Any] = {}  # every computed sub-expression's value
        with np.errstate(all="ignore"):
            self.value = self._calc(node, frame, None)

    def _calc(self, node: ast.expr, frame: FrameType | None, moved: tuple[int, Any] | None) -> Any:
        if moved is not None and id(node) == moved[0]:
            return moved[1]
        out: Any
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            left = self._calc(node.left, frame, moved)
            out = _ARITHMETIC[type(node.op)](left, self._calc(node.right, frame, moved))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = self._calc(node.operand, frame, moved)
            out = -value if isinstance(node.op, ast.USub) else value
        elif isinstance(node, ast.Attribute) and node.attr == "T":
            owner = self._calc(node.value, frame, moved)
            if not isinstance(owner, np.ndarray):
                raise _Unknown("T")
            out = owner.T
        elif isinstance(node, ast.Call) and not node.keywords:
            fn = self.leaves[id(node.func)] if frame is None else _evaluate(node.func, frame)
            if not _numpys(fn):
                raise _Unknown("call")
            self.leaves[id(node.func)] = fn
            out = fn(*(self._calc(a, frame, moved) for a in node.args))
        elif frame is None:
            return self.leaves[id(node)]
        else:
            out = _evaluate(node, frame)
            if isinstance(out, np.ndarray) and out.dtype.kind in "fiu":
                out = np.array(out)
            elif type(out) not in (int, float):
                raise _Unknown("operand")
            self.leaves[id(node)] = out
            return out
        if moved is None:
            self.values[id(node)] = out
        return out

    def moved(self, sub: ast.expr, delta: Array) -> Array:
        """How the statement's value moves when `sub` moves by `delta` (to first order)."""
        at = np.asarray(self.values[id(sub)])
        with np.errstate(all="ignore"):
            up = self._calc(self.node, None, (id(sub), at + delta.reshape(at.shape)))
            down = self._calc(self.node, None, (id(sub), at - delta.reshape(at.shape)))
        return (np.asarray(up) - np.asarray(down)) / 2

    def subs(self) -> Iterator[ast.expr]:
        """The sub-expressions nothing binds whose gradient a backward may hold: the result of
        each NumPy function inside the expression (`np.tanh(c)` in `np.tanh(c) * o`) and each
        argument of one that is itself computed (`U @ x + b` in `np.tanh(U @ x + b)`)."""
        summed = {  # a term of a sum has the sum's gradient: the sum stands for it
            id(side)
            for node in ast.walk(self.node)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub)
            for side in (node.left, node.right)
        }
        for node in ast.walk(self.node):
            if not isinstance(node, ast.Call) or id(node) not in self.values:
                continue
            if node is not self.node and id(node) not in summed:
                yield node
            for arg in node.args:
                if isinstance(arg, ast.BinOp | ast.UnaryOp | ast.Call) and id(arg) not in summed:
                    yield arg
        for node in ast.walk(self.node):  # a product's computed factor: `r * h` in `U @ (r * h)`
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
                for side in (node.left, node.right):
                    if isinstance(side, ast.BinOp) and id(side) in self.values:
                        yield side


def _numpys(fn: Any) -> bool:
    """A function of NumPy's own (a ufunc such as np.tanh, or np.dot)."""
    return isinstance(fn, np.ufunc) or (
        callable(fn) and str(getattr(fn, "__module__", "") or "").startswith("numpy")
    )


def pure(statement: ast.stmt, frame: FrameType) -> Pure | None:
    """`v = E` with E of NumPy calls and arithmetic (Pure), read at the statement's start."""
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
        return None
    node = statement.value
    if not any(isinstance(n, ast.Call) for n in ast.walk(node)):
        return None
    try:
        found = Pure(node, frame)
    except Exception:
        return None
    return found if isinstance(found.value, np.ndarray) else None


def _key(node: ast.expr, frame: FrameType) -> int | str:
    """A dict key or list index as code writes it: `l`, `-1`, `l - 1`, `'W' + str(l)`, f'W{l}'."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | str):
        return node.value
    if isinstance(node, ast.Name):
        value = _evaluate(node, frame)
        if isinstance(value, int | str) and not isinstance(value, bool):
            return value
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _key(node.operand, frame)
        if isinstance(value, int):
            return -value
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult):
        left, right = _key(node.left, frame), _key(node.right, frame)
        if isinstance(node.op, ast.Add) and type(left) is type(right):
            return left + right  # type: ignore[operator]
        if isinstance(left, int) and isinstance(right, int):
            return left - right if isinstance(node.op, ast.Sub) else left * right
    elif isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
            elif isinstance(part, ast.FormattedValue) and part.format_spec is None:
                parts.append(str(_key(part.value, frame)))
            else:
                raise _Unknown("format")
        return "".join(parts)
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("str", "int")
        and len(node.args) == 1
        and not node.keywords
        and node.func.id not in frame.f_locals
        and node.func.id not in frame.f_globals
    ):
        value = _key(node.args[0], frame)
        return str(value) if node.func.id == "str" else int(value)
    raise _Unknown("key")


# --- what a statement sets ------------------------------------------------------------------------


Seen = dict[str, tuple[int, Array, Holder, Any, bool]]
# name -> (id of the array, what tells a change (a copy, or a sample of a large one), where it
# is held, the array itself, changed since the last snapshot). The array is held so that no new
# array takes its identity while the snapshot lives.


def _check(value: Any) -> Array:
    """What later tells whether `value` changed in place: a copy, or for a large array a copy
    of a strided sample (an update or an accumulation changes every element; a mask is applied
    to per-sample arrays, below SAMPLE)."""
    if value.size > SAMPLE:
        return np.array(value.reshape(-1)[:: value.size // 4096])
    return np.array(value)


def _same(check: Array, value: Any) -> bool:
    """Is `value` unchanged since `check` was taken of it?"""
    now = value.reshape(-1)[:: value.size // 4096] if value.size > SAMPLE else value
    if check.shape != np.shape(now):
        return False
    # equal_nan costs ten times as much: only where the plain comparison fails
    return bool(np.array_equal(check, now) or np.array_equal(check, now, equal_nan=True))


def _arrays(frame: FrameType, serial: int, before: Seen | None = None) -> Seen:
    """The arrays a frame can see and change: its locals, the globals its code names and the
    attributes of `self`, two levels into their dicts, lists and tuples ([(dW, db), ...]). An
    array unchanged since `before` keeps its copy there (no copy is made again)."""
    out: Seen = {}
    previous = before or {}

    def add(name: str, value: Any, holder: Holder, depth: int) -> None:
        if isinstance(value, np.ndarray | np.generic):  # a NumPy scalar too: np.sum(dZ)
            if value.dtype.kind in "fiub" and value.size <= MAX_SIZE:
                old = previous.get(name)
                if old is not None and old[0] == id(value) and _same(old[1], value):
                    out[name] = (old[0], old[1], holder, value, False)
                else:
                    out[name] = (id(value), _check(value), holder, value, True)
        elif _floats(value):  # a nested list of floats: an array their code keeps as a list
            array = np.asarray(value, dtype=np.float64)
            old = previous.get(name)
            if old is not None and old[0] == id(value) and _same(old[1], array):
                out[name] = (old[0], old[1], holder, value, False)
            else:
                out[name] = (id(value), _check(array), holder, value, True)
        elif depth and type(value) is dict:
            for k, v in list(value.items())[:64]:
                if isinstance(k, str | int) or _plain_key(k):  # cs231n's grads[('W', 1)]
                    add(f"{name}[{k!r}]", v, (id(value), k), depth - 1)
        elif depth and type(value) in (list, tuple):
            for i, v in enumerate(value[:64]):
                add(f"{name}[{i}]", v, (id(value), i), depth - 1)

    names = frame.f_locals
    for key, value in list(names.items()):
        if key == "self" and hasattr(value, "__dict__"):
            for attr, v in list(vars(value).items()):
                add(f"self.{attr}", v, (id(value), attr), 2)
        else:
            add(key, value, (serial, key), 2)
    scope = frame.f_globals
    for key in frame.f_code.co_names:
        if key in scope and key not in names:
            add(key, scope[key], (id(scope), key), 2)
    return out


def _plain_key(key: Any) -> bool:
    """A tuple of strings and integers, as a dict key."""
    return type(key) is tuple and all(isinstance(k, str | int) for k in key)


def _changed(before: Seen, after: Seen) -> Iterator[tuple[str, Array, Holder, bool, bool]]:
    """What a statement set or changed: (name, value, holder, passed on unchanged, changed in
    place)."""
    held = {entry[0] for entry in before.values()}
    for name, (ident, _, holder, value, changed) in after.items():
        if not changed:
            continue
        old = before.get(name)
        rebound = old is None or old[0] != ident  # else changed in place: never passed on
        yield name, value, holder, rebound and ident in held, not rebound


def _returned(value: Any, serial: int, name: str = "return", depth: int = 2):
    """The arrays in a return value: itself, or inside the tuples, lists and dicts it holds."""
    if _numeric(value):
        yield name, value, (serial, "return")
    elif depth and type(value) is dict:
        for k, v in value.items():
            if _numeric(v):
                yield f"{name}[{k!r}]", v, (id(value), k)
            else:
                yield from _returned(v, serial, f"{name}[{k!r}]", depth - 1)
    elif depth and type(value) in (list, tuple):
        for i, v in enumerate(value):
            if _numeric(v):
                yield f"{name}[{i}]", v, (id(value), i)
            else:
                yield from _returned(v, serial, f"{name}[{i}]", depth - 1)


def _numeric(value: Any) -> bool:
    """An array (or NumPy scalar) of numbers, small enough to copy; or a list of floats."""
    return (
        isinstance(value, np.ndarray | np.generic)
        and value.dtype.kind in "fiub"
        and value.size <= MAX_SIZE
    ) or _floats(value)


def _floats(value: Any) -> bool:
    """A (nested) list of floats, small: a pure-Python net's vector or matrix (a dataset of rows
    the code keeps as lists is not walked at every statement)."""
    if type(value) is not list or not value:
        return False
    size, node = 1, value
    while isinstance(node, list) and node:  # its size, from its first entries' lengths
        size *= len(node)
        node = node[0]
    return size <= SAMPLE and float_list(value)


# --- the tracer -----------------------------------------------------------------------------------


@dataclass
class _Frame:
    serial: int
    depth: int
    parent: int | None  # the caller's step under way
    step: Step | None = None  # the statement under way
    seen: Seen = field(default_factory=dict)  # its arrays as they were when that step started
    line: _Line | None = None


class Tracer:
    """`Tracer().run(fn, *args)`: fn's result; `steps` then holds every statement of the
    user's files it ran, in the order they started, and `raised` the one an exception left."""

    def __init__(self, users: Callable[[str], bool] = is_users):
        self.users = users
        self.steps: list[Step] = []
        self.raised: Step | None = None
        self.full = False  # MAX_STEPS was reached: later statements are not recorded
        self.inner = False  # read the sub-expressions nothing binds (Step.pure)
        self.given: dict[int, list[Array]] = {}  # frame serial -> the arrays it was given
        self.visible: dict[int, list[Array]] = {}  # ... every array it saw or made
        self._sources = _Sources()
        self._frames: dict[int, _Frame] = {}
        self._clock = 0
        self._serials = 0
        self._exception: Any = None
        self._copies: dict[
            int, tuple[Array, tuple, Any, Array]
        ] = {}  # id -> copy, mark, array, check

    def run(self, fn: Callable, *args, **kwargs) -> Any:
        previous = sys.gettrace()
        sys.settrace(self._global)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.settrace(previous)
            self._frames.clear()

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def _global(self, frame: FrameType, event: str, arg: Any):
        if event != "call" or not self.users(frame.f_code.co_filename):
            return None
        caller = self._frames.get(id(frame.f_back)) if frame.f_back is not None else None
        self._serials += 1
        self._frames[id(frame)] = _Frame(
            self._serials,
            caller.depth + 1 if caller is not None else 0,
            caller.step.serial if caller is not None and caller.step is not None else None,
        )
        return self._local

    def _local(self, frame: FrameType, event: str, arg: Any):
        state = self._frames.get(id(frame))
        if state is None:
            return None
        if event == "line":
            line = self._sources.at(frame.f_code.co_filename, frame.f_lineno)
            if state.step is not None and line is not None and line is state.line:
                return self._local  # another line of the same statement
            self._finish(frame, state)
            self._start(frame, state, line)
        elif event == "exception":
            if state.step is not None:
                state.step.raised = True
                if arg[1] is not self._exception:  # the frame it was raised in, not a caller
                    self._exception = arg[1]
                    self.raised = state.step
        elif event == "return":
            self._finish(frame, state, returned=arg)
            del self._frames[id(frame)]
        return self._local

    def _start(self, frame: FrameType, state: _Frame, line: _Line | None) -> None:
        state.step, state.line = None, line
        if len(self.steps) >= MAX_STEPS:
            self.full = True
            return
        filename, number = frame.f_code.co_filename, frame.f_lineno
        statement = line.statement if line is not None else None
        first = statement.lineno if statement is not None else number
        place = place_of(filename, first)
        if place is None:
            return
        text = linecache.getline(filename, first)
        col = statement.col_offset + 1 if statement is not None else 1
        col = len(text.encode()[: col - 1].decode(errors="ignore")) + 1
        step = Step(
            serial=len(self.steps),
            place=place,
            code=text.strip(),
            col=col,
            frame=state.serial,
            depth=state.depth,
            parent=state.parent,
            start=self._tick(),
            loops=line.loops if line is not None else (),
            returns=isinstance(statement, ast.Return),
        )
        if isinstance(statement, ast.AugAssign) and line is not None:
            step.adds_to = _text(statement.target, line)
        if self.inner and statement is not None:
            step.pure = pure(statement, frame)
        if statement is not None:
            assert line is not None
            for name, value in _reads(statement, frame, line):
                step.inputs[name] = value
        if not state.seen:  # the frame's first statement: what it was given
            state.seen = _arrays(frame, state.serial)
            code = frame.f_code
            given = set(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]) - {"self"}
            self.given[state.serial] = [
                entry[3] for name, entry in state.seen.items() if name.split("[")[0] in given
            ]
            self.visible[state.serial] = [e[3] for e in state.seen.values()]
        state.step = step
        self.steps.append(step)

    def _finish(self, frame: FrameType, state: _Frame, returned: Any = None) -> None:
        step = state.step
        if step is None:
            return
        step.end = self._tick()
        after = _arrays(frame, state.serial, state.seen)
        for name, value, holder, passed, inplace in _changed(state.seen, after):
            out = self._output(name, value, holder, passed)
            out.inplace = inplace
            step.outputs.append(out)
        if step.returns and not step.raised:
            held = {entry[0] for entry in state.seen.values()}
            for name, value, holder in _returned(returned, state.serial):
                step.outputs.append(self._output(name, value, holder, id(value) in held))
        state.seen = after
        self.visible.setdefault(state.serial, []).extend(o.value for o in step.outputs)
        state.step = None

    def _output(self, name: str, value: Any, holder: Holder, passed: bool) -> Output:
        """An output with a copy of its value; an array passed on unchanged shares the copy
        made when it was last recorded (a cache or a tuple passes a weight matrix many times)."""
        array = np.asarray(value, dtype=np.float64) if type(value) is list else value
        kept = self._copies.get(id(value))
        if kept is not None and kept[2] is value and _same(kept[3], array):
            return Output(name, kept[0], holder, passed, kept[1])
        out = Output(name, np.array(array), holder, passed)
        self._copies[id(value)] = (out.value, out.mark, value, _check(array))
        return out

    # --- reading the trace -------------------------------------------------------------------

    def by_serial(self, serial: int | None) -> Step | None:
        return self.steps[serial] if serial is not None and serial < len(self.steps) else None
