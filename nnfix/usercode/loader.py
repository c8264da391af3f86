"""Loading the user's .py file or notebook: its definitions run, its top-level script does not."""

from __future__ import annotations
import __future__

import ast
import contextlib
import functools
import importlib
import importlib.util
import io
import itertools
import json
import linecache
import os
import re
import site
import sys
import sysconfig
import tokenize
import traceback
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nnfix.errors import did_you_mean
from nnfix.usercode import absent
from nnfix.usercode.absent import Absent, Missing, pip_name

SUFFIXES = (".py", ".ipynb")
MODULE_PREFIX = "nnfix_loaded_"  # sys.modules names of the modules load_module made
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}  # %%magics whose body is Python

_NOTEBOOK_CELL = re.compile(r"^<notebook (?P<path>.+) cell (?P<cell>\d+)>$")
_SHELL_OR_MAGIC = re.compile(r"^\s*([!%]|\w+\s*=\s*[!%])")  # !pip, %matplotlib, files = !ls
_CELL_MAGIC = re.compile(r"^\s*%%(?P<name>\w+)")
_NNFIX_DIR = os.path.join(str(Path(__file__).resolve().parents[1]), "")
_INSTALLED = tuple(
    os.path.join(p, "")
    for p in {
        *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")),
        *site.getsitepackages(),
        site.getusersitepackages(),
    }
)
_roots: set[str] = set()  # folders (ending in os.sep) of the files load_module loaded
_notebooks: set[str] = set()  # the notebooks load_module loaded
_counter = itertools.count()
_substitutes: dict[Path, bytes] = {}  # resolved path -> the text to load in place of the file's


@contextlib.contextmanager
def substituted(files: dict[Path, bytes]) -> Iterator[None]:
    """Load these .py files from the given bytes instead of from disk (`nnfix fix` checks a
    change to the user's line before, or without, writing it); tracebacks and the line tracer
    show the same text."""
    resolved = {Path(path).resolve(): data for path, data in files.items()}
    _substitutes.update(resolved)
    try:
        yield
    finally:
        for path in resolved:
            _substitutes.pop(path, None)
            linecache.cache.pop(str(path), None)


@dataclass(frozen=True)
class Place:
    """Where a statement or frame is in the user's code."""

    file: Path  # the .py or .ipynb file
    line: int  # 1-based; within the cell for a notebook
    cell: int | None = None  # notebook cell index as nbformat numbers all cells (from 0)
    col: int | None = None  # 1-based where known

    def __str__(self) -> str:
        cell = f"cell {self.cell}, " if self.cell is not None else ""
        return f"{self.file.name}, {cell}line {self.line}"


@dataclass(frozen=True)
class Skipped:
    """A top-level statement or notebook line that load_module did not run, and why."""

    place: Place
    code: str  # the statement's first line, as written
    why: str  # "a top-level statement (a call)", "a shell or magic line", ...


@dataclass
class LoadedModule:
    """The user's module with its definitions run, and what was left out."""

    module: types.ModuleType  # registered in sys.modules under a unique name
    path: Path
    skipped: list[Skipped] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)  # packages not installed, where imported
    trees: list[tuple[ast.Module, int | None]] = field(default_factory=list)  # (code, cell)


class LoadError(Exception):
    """The user's file could not be loaded; `trace` holds only the user's frames."""

    def __init__(
        self,
        message: str,
        place: Place | None = None,
        trace: str | None = None,
        package: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.place = place
        self.trace = trace
        self.package = package  # the package to install, when one is missing
        self.hint = hint  # "did you mean 'net.py'?"


# Which frames are the user's


def is_users(filename: str) -> bool:
    """True for code in a file or notebook load_module loaded, or in a .py file beside it."""
    return _is_users(filename)


@functools.lru_cache(maxsize=4096)
def _is_users(filename: str) -> bool:
    match = _NOTEBOOK_CELL.match(filename)
    if match:
        return match["path"] in _notebooks
    if not filename.endswith(".py"):
        return False
    filename = os.path.abspath(filename)
    return (
        any(filename.startswith(root) for root in _roots)
        and not filename.startswith((_NNFIX_DIR, *_INSTALLED))
        and not {"site-packages", "dist-packages"} & set(Path(filename).parts)
    )


def place_of(filename: str, line: int) -> Place | None:
    """Map a code object's filename and line (from a traceback frame or sys.settrace) back to the
    user's file, cell and line; None for frames that are not the user's loaded code."""
    if not is_users(filename):
        return None
    match = _NOTEBOOK_CELL.match(filename)
    if match:
        return Place(Path(match["path"]), line, int(match["cell"]))
    return Place(Path(os.path.abspath(filename)), line)


def user_traceback(exc: BaseException, last: str | None = None) -> str:
    """`exc`'s traceback through the user's own files only (notebook cells named; where none
    of their files is known, every frame but nnfix's); `last` replaces the exception's own
    line (a timeout says where the call was stopped, not nnfix's class)."""
    lines = ["Traceback (most recent call last):\n"]
    frames = traceback.extract_tb(exc.__traceback__)
    places = [place_of(f.filename, f.lineno or 0) for f in frames]
    if any(places):
        for frame, place in zip(frames, places, strict=True):
            if place is not None:
                cell = f", cell {place.cell}" if place.cell is not None else ""
                lines.append(f'  File "{place.file}"{cell}, line {place.line}, in {frame.name}\n')
                if frame.line:
                    lines.append(f"    {frame.line}\n")
    else:
        kept = [
            f
            for f in frames
            if not f.filename.startswith(_NNFIX_DIR) and not f.filename.startswith("<frozen")
        ]
        lines += traceback.format_list(kept)
    lines += [last + "\n"] if last else traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def deepest(exc: BaseException) -> tuple[Place, str] | None:
    """(Place with its column, code) of the deepest frame of `exc` in the user's files."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        place = place_of(frame.filename, frame.lineno or 0)
        if place is not None:
            line = linecache.getline(frame.filename, frame.lineno or 0)
            col = len(line) - len(line.lstrip()) + 1 if line.strip() else 1
            return replace(place, col=col), (frame.line or "").strip()
    return None


# Reading the file into chunks of Python: the .py file, or each code cell


@dataclass
class _Chunk:
    """Python source compiled under one filename: a .py file or one notebook cell."""

    path: Path
    filename: str  # what compile() and tracebacks see
    text: str  # the source with shell and magic lines blanked
    cell: int | None = None
    tree: ast.Module = field(default_factory=lambda: ast.Module(body=[], type_ignores=[]))

    def place(self, line: int, col: int | None = None) -> Place:
        return Place(self.path, line, self.cell, col)

    def place_of_node(self, node: ast.stmt) -> Place:
        return self.place(node.lineno, _char_col(self.line(node.lineno), node.col_offset))

    def code(self, stmt: ast.stmt) -> str:
        """A statement's first line, as written."""
        line = self.line(stmt.lineno)
        return line[_char_col(line, stmt.col_offset) - 1 :].rstrip()

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    @functools.cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def _char_col(line: str, byte_offset: int) -> int:
    """1-based character column of an ast col_offset (which counts UTF-8 bytes)."""
    return len(line.encode()[:byte_offset].decode(errors="ignore")) + 1


def _find(path: Path) -> Path:
    path = Path(path).resolve()
    if path.is_dir():
        raise LoadError(f"{path} is a folder: expected a .py file or a .ipynb notebook")
    if not path.is_file():
        if not path.parent.is_dir():
            raise LoadError(f"file not found: {path} (the folder {path.parent} does not exist)")
        near = [p.name for p in path.parent.iterdir() if p.suffix in SUFFIXES]
        raise LoadError(f"file not found: {path}", hint=did_you_mean(path.name, near))
    if path.suffix not in SUFFIXES:
        raise LoadError(f"{path.name}: expected a .py file or a .ipynb notebook")
    return path


def _decode(path: Path, data: bytes, encoding: str = "utf-8") -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LoadError(
            f"{path.name} is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line}",
            Place(path, line),
        ) from None


def _py_chunks(path: Path) -> list[_Chunk]:
    substitute = _substitutes.get(path)
    data = path.read_bytes() if substitute is None else substitute
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise LoadError(f"{path.name}: {exc.msg}", Place(path, exc.lineno or 1)) from None
    text = _decode(path, data, encoding)
    if substitute is not None:
        linecache.cache[str(path)] = (len(text), None, text.splitlines(True), str(path))
    return [_Chunk(path, str(path), text)]


def _read_notebook(path: Path) -> Any:
    try:
        import nbformat  # type: ignore[import-not-found, unused-ignore]  # typed; optional
    except ImportError:
        raise LoadError(
            f"reading the notebook {path.name} needs nbformat: pip install nbformat",
            package="nbformat",
        ) from None
    text = _decode(path, path.read_bytes())
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        where = Place(path, exc.lineno, None, exc.colno)
        raise LoadError(
            f"{path.name} is not a notebook: not valid JSON ({exc.msg})", where
        ) from None
    if not isinstance(content, dict) or not {"cells", "worksheets"} & content.keys():
        raise LoadError(f"{path.name} is not a notebook: a JSON object with 'cells' expected")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises ValidationError, NBFormatError, KeyError, ...
        summary = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise LoadError(f"{path.name} is not a valid notebook: {summary}") from None


def _notebook_chunks(path: Path, cells: list[int] | None) -> tuple[list[_Chunk], list[Skipped]]:
    notebook = _read_notebook(path)
    language = notebook.metadata.get("language_info", {}).get("name", "python")
    if str(language).lower() != "python":
        raise LoadError(f"{path.name} is a notebook in {language}: nnfix reads Python notebooks")
    every = notebook.cells
    for index in cells or []:
        if not 0 <= index < len(every):
            raise LoadError(
                f"cells: {path.name} has no cell {index} (its cells are 0 to {len(every) - 1})"
            )
        if every[index].cell_type != "code":
            raise LoadError(
                f"cells: cell {index} of {path.name} is a {every[index].cell_type} cell"
            )
    wanted = sorted(set(cells)) if cells is not None else range(len(every))
    chunks: list[_Chunk] = []
    skipped: list[Skipped] = []
    for index in wanted:
        if every[index].cell_type == "code":
            source = every[index].source
            filename = f"<notebook {path} cell {index}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            chunk = _Chunk(path, filename, "", index)
            chunk.text = _blank_magics(source, chunk, skipped)
            chunks.append(chunk)
    return chunks, skipped


def _blank_magics(source: str, chunk: _Chunk, skipped: list[Skipped]) -> str:
    """The cell's Python: shell and magic lines blanked, a non-Python %%cell left out whole."""
    lines = source.splitlines(True)
    magic = _CELL_MAGIC.match(source)
    if magic and magic["name"] not in PYTHON_CELL_MAGICS:
        first = next(i for i, line in enumerate(lines) if line.strip())
        why = f"a %%{magic['name']} cell (not Python)"
        skipped.append(Skipped(chunk.place(first + 1), lines[first].strip(), why))
        return ""
    for i, line in enumerate(lines):
        if _SHELL_OR_MAGIC.match(line) and not _continues(lines[:i]):
            skipped.append(Skipped(chunk.place(i + 1), line.strip(), "a shell or magic line"))
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = f"{indent}pass\n" if indent else "\n"  # keeps an indented block a block
    return "".join(lines)


def _continues(lines: list[str]) -> bool:
    """Whether the code in `lines` ends inside brackets, a string or a backslash continuation."""
    try:
        for _ in tokenize.generate_tokens(io.StringIO("".join(lines)).readline):
            pass
    except tokenize.TokenError:
        return True
    except SyntaxError:
        return False
    return False


def _parse(chunk: _Chunk) -> None:
    try:
        chunk.tree = ast.parse(chunk.text, chunk.filename)
    except SyntaxError as exc:
        raise _syntax_error(exc, chunk) from None


def _syntax_error(exc: SyntaxError, chunk: _Chunk) -> LoadError:
    place = chunk.place(exc.lineno or 1, exc.offset)
    return LoadError(f"{place}: syntax error: {exc.msg}", place)


# Which top-level statements run


def _why_skipped(stmt: ast.stmt, unset: dict[str, Place]) -> str | None:
    """None for a statement load_module runs; else why it is skipped. `unset` holds the names
    that skipped statements set."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    if isinstance(stmt, (ast.ClassDef, ast.Pass)) or _is_type_alias(stmt):
        return None
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return None  # a docstring, or `...`
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and _is_simple_assignment(stmt):
        used = [n for n in _names_read(stmt.value) if n in unset]
        if not used:
            return None
        return f"a top-level statement (uses '{used[0]}', which a skipped statement sets)"
    if isinstance(stmt, ast.Try) and _all_kept(_try_body(stmt), unset):
        return None
    if isinstance(stmt, ast.If) and _is_type_checking(stmt.test) and _all_kept(stmt.orelse, unset):
        return None
    if isinstance(stmt, ast.If) and _is_main_guard(stmt.test):
        return 'the `if __name__ == "__main__":` block'
    return f"a top-level statement ({_kind(stmt)})"


def _all_kept(stmts: list[ast.stmt], unset: dict[str, Place]) -> bool:
    return all(_why_skipped(s, unset) is None for s in stmts)


def _try_body(stmt: ast.Try) -> list[ast.stmt]:
    handled = [s for handler in stmt.handlers for s in handler.body]
    return [*stmt.body, *handled, *stmt.orelse, *stmt.finalbody]


def _is_type_alias(stmt: ast.stmt) -> bool:
    alias = getattr(ast, "TypeAlias", None)  # `type X = ...`, Python 3.12+
    return alias is not None and isinstance(stmt, alias)


def _is_simple_assignment(stmt: ast.Assign | ast.AnnAssign) -> bool:
    return _assigns_names(stmt) and (stmt.value is None or _is_simple(stmt.value))


def _assigns_names(stmt: ast.Assign | ast.AnnAssign) -> bool:
    """Only names are bound (`a = …`, `a, b = …`), and an annotation makes no call."""
    if isinstance(stmt, ast.AnnAssign):
        calls = any(isinstance(n, ast.Call) for n in ast.walk(stmt.annotation))
        return isinstance(stmt.target, ast.Name) and not calls
    return all(_is_name_target(t) for t in stmt.targets)


def _is_name_target(target: ast.expr) -> bool:
    if isinstance(target, ast.Starred):
        return _is_name_target(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_is_name_target(t) for t in target.elts)
    return isinstance(target, ast.Name)


def _is_simple(value: ast.expr) -> bool:
    """Literals, names, attribute references, lambdas, arithmetic and containers of those."""
    if isinstance(value, (ast.Constant, ast.Name, ast.Lambda)):
        return True
    if isinstance(value, ast.Attribute):
        return _is_simple(value.value)
    if isinstance(value, ast.UnaryOp):
        return _is_simple(value.operand)
    if isinstance(value, ast.BinOp):
        return _is_simple(value.left) and _is_simple(value.right)
    if isinstance(value, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_simple(e) for e in value.elts)
    if isinstance(value, ast.Dict):
        keys_simple = all(k is not None and _is_simple(k) for k in value.keys)
        return keys_simple and all(_is_simple(v) for v in value.values)
    return False


def _names_read(value: ast.AST | None) -> list[str]:
    """The names an expression reads when it is evaluated (not those inside a lambda)."""
    if value is None or isinstance(value, ast.Lambda):
        return []
    if isinstance(value, ast.Name):
        return [value.id]
    return [n for child in ast.iter_child_nodes(value) for n in _names_read(child)]


def _names_set(stmt: ast.stmt) -> set[str]:
    """The names a statement may bind at top level (generously: nested ones too)."""
    names: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(_import_names(node))
    return names


def _import_names(stmt: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [a.asname or a.name.split(".")[0] for a in stmt.names]
    return [a.asname or a.name for a in stmt.names if a.name != "*"]


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _is_main_guard(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.comparators) != 1:
        return False
    sides = [test.left, test.comparators[0]]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    constants = {s.value for s in sides if isinstance(s, ast.Constant)}
    return names == {"__name__"} and constants == {"__main__"}


_KINDS: dict[type, str] = {
    ast.Assign: "an assignment",
    ast.AnnAssign: "an assignment",
    ast.AugAssign: "an augmented assignment",
    ast.For: "a loop",
    ast.AsyncFor: "a loop",
    ast.While: "a loop",
    ast.If: "an if block",
    ast.With: "a with block",
    ast.AsyncWith: "a with block",
    ast.Try: "a try block that runs code",
    ast.Assert: "an assert",
    ast.Delete: "a del",
    ast.Raise: "a raise",
    ast.Global: "a global declaration",
    ast.Match: "a match block",
}


def _kind(stmt: ast.stmt) -> str:
    """What a skipped statement is, in a few words: "a call", "a loop", ..."""
    if isinstance(stmt, ast.Expr):
        return "a call" if isinstance(stmt.value, ast.Call) else "an expression"
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        if not _assigns_names(stmt):
            return "an assignment to an attribute or item"
        calls = stmt.value is not None and any(
            isinstance(n, ast.Call) for n in ast.walk(stmt.value)
        )
        return "an assignment from a call" if calls else "an assignment of a computed value"
    return _KINDS.get(type(stmt), f"a {type(stmt).__name__.lower()} statement")


# Running the kept statements


class _Runner:
    """Runs chunks' statements, one at a time, in one module's namespace."""

    def __init__(self, loaded: LoadedModule):
        self.loaded = loaded
        self.namespace = vars(loaded.module)
        self.flags = 0  # compiler flags of the `from __future__` imports run so far
        self.unset: dict[str, Place] = {}  # names set by skipped statements -> where
        self.held: dict[str, tuple[ast.stmt, _Chunk, Skipped]] = {}  # name -> the skipped one

    def run_whole(self, chunk: _Chunk) -> None:
        self._exec(chunk.tree, chunk, chunk.place(1))

    def run_kept(self, chunk: _Chunk) -> None:
        for stmt in chunk.tree.body:
            place = chunk.place_of_node(stmt)
            why = _why_skipped(stmt, self.unset)
            if why is not None:
                skipped = Skipped(place, chunk.code(stmt), why)
                self.loaded.skipped.append(skipped)
                self.unset.update(dict.fromkeys(_names_set(stmt), place))
                self.held.update(dict.fromkeys(_names_set(stmt), (stmt, chunk, skipped)))
                continue
            for name in _names_set(stmt):
                self.unset.pop(name, None)
                self.held.pop(name, None)
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self._import(stmt, chunk, place)
            elif not isinstance(stmt, ast.Expr):  # an Expr kept is a docstring: nothing to run
                self._exec_needing(stmt, chunk, place)

    def _exec_needing(self, stmt: ast.stmt, chunk: _Chunk, place: Place, depth: int = 0) -> None:
        """Run a kept statement; where it needs a name a skipped assignment binds (a def whose
        default is `p=params`, `params = init_lstm(...)` skipped as a call), that assignment is
        run first (SPEC §3.4) — one that trains, plots, saves, downloads or asks never is."""
        tree = ast.Module(body=[stmt], type_ignores=[])
        code = self._compile(tree, chunk)
        try:
            exec(code, self.namespace)
            return
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the user's code may raise anything, SystemExit included
            if _guards(exc):
                raise
            needed = self.held.get(exc.name or "") if isinstance(exc, NameError) else None
            if needed is None or depth > 8 or not self._rerunnable(needed[0]):
                raise self._error(exc, place) from None
        held, held_chunk, skipped = needed
        self._exec_needing(held, held_chunk, skipped.place, depth + 1)
        self.loaded.skipped = [s for s in self.loaded.skipped if s is not skipped]
        for name in _names_set(held):
            self.unset.pop(name, None)
            self.held.pop(name, None)
        self._exec_needing(stmt, chunk, place, depth + 1)

    @staticmethod
    def _rerunnable(stmt: ast.stmt) -> bool:
        from nnfix.usercode.needed import rerunnable  # the one home of what may be re-run

        return rerunnable(stmt)

    def _import(self, stmt: ast.Import | ast.ImportFrom, chunk: _Chunk, place: Place) -> None:
        """Run an import; one of a package that is not installed binds placeholders instead."""
        code = self._compile(ast.Module(body=[stmt], type_ignores=[]), chunk)
        try:
            exec(code, self.namespace)
        except KeyboardInterrupt:
            raise
        except ModuleNotFoundError as exc:
            if not _not_installed(exc):
                raise self._error(exc, place) from None
            name = exc.name or ""
            package = pip_name(name)
            why = f"import failed: no module named '{name}'"
            self.loaded.skipped.append(Skipped(place, chunk.code(stmt), why))
            self.loaded.missing.append(Missing(package, name, place))
            for bound in _import_names(stmt):
                self.namespace[bound] = Absent(bound, package)
        except BaseException as exc:
            if _guards(exc):
                raise
            raise self._error(exc, place) from None
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            for alias in stmt.names:
                self.flags |= getattr(__future__, alias.name).compiler_flag

    def _exec(self, tree: ast.Module, chunk: _Chunk, place: Place) -> None:
        code = self._compile(tree, chunk)
        try:
            exec(code, self.namespace)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the user's code may raise anything, SystemExit included
            if _guards(exc):
                raise
            raise self._error(exc, place) from None

    def _compile(self, tree: ast.Module, chunk: _Chunk) -> types.CodeType:
        try:
            return compile(tree, chunk.filename, "exec", flags=self.flags, dont_inherit=True)
        except SyntaxError as exc:  # found only by the compiler: `nonlocal x` at top of a def
            raise _syntax_error(exc, chunk) from None

    def _error(self, exc: BaseException, statement: Place) -> LoadError:
        found = deepest(exc)
        place = found[0] if found is not None else statement
        trace = user_traceback(exc)
        if isinstance(exc, ModuleNotFoundError) and _missing_package(exc):
            package = pip_name(exc.name or "")
            message = f"{place} needs {package}, which is not installed (pip install {package})"
            return LoadError(message, place, trace, package)
        hint = None
        if isinstance(exc, NameError) and exc.name in self.unset:
            hint = (
                f"'{exc.name}' is set by a top-level statement nnfix skipped "
                f"({self.unset[exc.name]}); `run_module: true` runs the module whole"
            )
        text = f": {exc}" if str(exc) else ""
        return LoadError(f"{place}: {type(exc).__name__}{text}", place, trace, hint=hint)


def _guards(exc: BaseException) -> bool:
    """The guard's own signals through the user's code (a call past its timeout, an os._exit
    intercepted), for the guard that loads the module to report (`sandbox`, which imports
    this module, so they are known by name)."""
    kind = type(exc)
    return kind.__module__ == "nnfix.usercode.sandbox" and kind.__name__ in (
        "CallTimeout",
        "ExitCalled",
    )


def _not_installed(exc: ModuleNotFoundError) -> bool:
    """True when the import failed for a package that is not installed, not inside the user's
    own sibling modules (whose frames would be in the traceback below the import statement)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return _missing_package(exc) and sum(is_users(f.filename) for f in frames) <= 1


def _missing_package(exc: ModuleNotFoundError) -> bool:
    """The import failed because its package is not installed: not `numpy.nosuch` (numpy is
    installed; that is an error of the import itself)."""
    if not exc.name:
        return False
    top = exc.name.split(".")[0]
    try:
        return top not in sys.modules and importlib.util.find_spec(top) is None
    except (ImportError, ValueError):
        return False


# Loading


def _register(path: Path) -> None:
    """Mark `path` and its folder as the user's, put the folder first on sys.path, and forget
    sibling modules imported from an earlier load so they are read again."""
    folder = str(path.parent)
    _roots.add(os.path.join(folder, ""))
    if path.suffix == ".ipynb":
        _notebooks.add(str(path))
    _is_users.cache_clear()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and is_users(file) and _imported_by_name(name, file):
            del sys.modules[name]
    importlib.invalidate_caches()
    if not sys.path or sys.path[0] != folder:
        sys.path.insert(0, folder)


def add_import_roots(module: Path, top: Path) -> None:
    """Put the folders from `module`'s up to `top` (the spec's) on the import path, nearest
    last, and count them as the user's: `from utils.layers import *` in a module two folders
    below the spec finds their own `utils` (SPEC §3.2: the spec's folder and the package's root
    are on the import path)."""
    folder, top = module.resolve().parent, top.resolve()
    chain = [folder]
    while chain[-1] != top and top in chain[-1].parents:
        chain.append(chain[-1].parent)
    for path in reversed(chain[1:]):
        text = str(path)
        _roots.add(os.path.join(text, ""))
        if text not in sys.path:
            sys.path.insert(0, text)
    _is_users.cache_clear()


def _imported_by_name(name: str, file: str) -> bool:
    """Whether module `name` is `file` imported from a user's folder on sys.path (`layers` for
    layers.py, `pkg.sub` for pkg/sub.py), not a module registered under a name of its own."""
    stem = os.path.splitext(os.path.abspath(file))[0]
    for root in _roots:
        parts = os.path.relpath(stem, root).split(os.sep)
        if parts[-1] == "__init__":
            parts.pop()
        if parts == name.split("."):
            return True
    return False


def _new_module(path: Path) -> types.ModuleType:
    stem = re.sub(r"\W", "_", path.stem)
    name = f"{MODULE_PREFIX}{stem}_{next(_counter)}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # pickle and dataclasses look classes up here
    package = _package_of(path)
    if package:  # pkg/sub/net.py: `from .acts import sigmoid` resolves inside pkg.sub (SPEC §3.2)
        module.__package__ = package
    return module


def _package_of(path: Path) -> str:
    """The dotted package a file inside folders with __init__.py belongs to (`pkg.sub` for
    pkg/sub/net.py), its root put on the import path and counted as the user's; "" for a file
    outside any package."""
    parts: list[str] = []
    folder = path.resolve().parent
    while (folder / "__init__.py").is_file() and folder.name.isidentifier():
        parts.insert(0, folder.name)
        folder = folder.parent
    if not parts:
        return ""
    root = str(folder)
    _roots.add(os.path.join(root, ""))
    if root not in sys.path:
        sys.path.insert(0, root)
    _is_users.cache_clear()
    return ".".join(parts)


def load_module(
    path: Path, *, run_module: bool = False, cells: list[int] | None = None
) -> LoadedModule:
    """Load the user's .py file or notebook (its code cells, or `cells`, in order): imports,
    definitions and simple assignments run; other top-level statements are skipped and listed.
    `run_module` runs everything. Raises LoadError."""
    path = _find(path)
    skipped: list[Skipped] = []
    if path.suffix == ".ipynb":
        chunks, skipped = _notebook_chunks(path, cells)
    else:
        chunks = _py_chunks(path)
    _register(path)
    for chunk in chunks:
        _parse(chunk)
    loaded = LoadedModule(_new_module(path), path, skipped)
    loaded.trees = [(chunk.tree, chunk.cell) for chunk in chunks]
    runner = _Runner(loaded)
    start = len(absent.RECORDS)
    with absent.serving(loading=True):  # a package not installed is a placeholder until used
        for chunk in chunks:
            if run_module:
                runner.run_whole(chunk)
            else:
                runner.run_kept(chunk)
    for record in absent.RECORDS[start:]:
        if record.package not in {m.package for m in loaded.missing}:
            loaded.missing.append(record)
    if path.suffix == ".py":
        loaded.module.__doc__ = ast.get_docstring(chunks[0].tree, clean=False)
    loaded.skipped.sort(key=lambda s: (s.place.cell or 0, s.place.line, s.place.col or 0))
    return loaded
