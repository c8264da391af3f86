"""Importing the user's own Python files (`file.py:function`), and showing their tracebacks."""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from nnfix.errors import did_you_mean

REF = re.compile(r"^\s*(?P<file>[^:\s]+\.py):(?P<function>[A-Za-z_]\w*)\s*$")
_NNFIX_DIR = str(Path(__file__).resolve().parents[1])
_modules: dict[tuple, ModuleType] = {}  # by (path, mtime, size): a file edited since is read again


class RefError(ValueError):
    """A reference that names a missing file or function; `key` is the spec key that named what
    is missing (`module` for a file), where the caller knows it."""

    def __init__(self, message: str, hint: str | None = None, key: str | None = None):
        super().__init__(message)
        self.hint = hint
        self.key = key


class UserCodeError(Exception):
    """The user's module raised while it was imported; `trace` holds only their frames."""

    def __init__(self, message: str, trace: str, missing_package: str | None = None):
        super().__init__(message)
        self.trace = trace
        self.missing_package = missing_package


def user_traceback(exc: BaseException) -> str:
    """The traceback of `exc` with nnfix's and importlib's frames left out."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(_NNFIX_DIR) and not f.filename.startswith("<frozen")
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def is_ref(text: str) -> bool:
    return bool(REF.match(text))


def import_module(path: Path) -> ModuleType:
    """Import the user's file once per process (its folder on sys.path while it imports)."""
    path = path.resolve()
    key: tuple[Path, int | None, int | None]
    try:
        stat = path.stat()
        key = (path, stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = (path, None, None)
    if key in _modules:
        return _modules[key]
    if not path.is_file():
        near = [p.name for p in path.parent.glob("*.py")] if path.parent.is_dir() else []
        raise RefError(f"file not found: {path}", did_you_mean(path.name, near), "module")
    stem = re.sub(r"\W", "_", path.stem)
    name = f"nnfix_user_{stem}_{len(_modules)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RefError(f"{path.name} cannot be imported as a Python module", key="module")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        raise UserCodeError(
            f"{path.name} imports '{missing}', which is not installed (pip install {missing})",
            user_traceback(exc),
            missing,
        ) from None
    except BaseException as exc:  # the user's module may raise anything
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise UserCodeError(
            f"importing {path.name} raised {type(exc).__name__}: {exc}", user_traceback(exc)
        ) from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    _modules[key] = module
    return module


def load_function(path: Path, function: str) -> Callable:
    """The function `function` of the user's file at `path`."""
    module = import_module(path)
    fn = getattr(module, function, None)
    if not callable(fn):
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        what = "is not a function" if fn is not None else "is not defined"
        raise RefError(f"'{function}' {what} in {path.name}", did_you_mean(function, names))
    return fn


def resolve_ref(text: str, base_dir: Path) -> Callable:
    """`file.py:function`, relative to `base_dir`, as a callable."""
    match = REF.match(text)
    if not match:
        raise RefError(f"not a file.py:function reference: {text!r}")
    return load_function(base_dir / match["file"], match["function"])
