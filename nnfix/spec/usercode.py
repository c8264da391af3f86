"""`file.py:function` references in a spec: checked where they stand without running anything
(the file exists, is Python, defines the name at top level), and imported only when first
called — inside the worker that contains the user's code (SPEC §2, §7)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from nnfix.errors import SpecPath, did_you_mean, format_path

REF = re.compile(r"^\s*(?P<file>[^:\s]+\.py):(?P<function>[A-Za-z_]\w*)\s*$")


class RefError(ValueError):
    """A reference that names a missing file or function; `key` is the spec key that named what
    is missing (`module` for a file), where the caller knows it."""

    def __init__(self, message: str, hint: str | None = None, key: str | None = None):
        super().__init__(message)
        self.hint = hint
        self.key = key


def is_ref(text: str) -> bool:
    return bool(REF.match(text))


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def check_ref(text: str, base_dir: Path) -> tuple[Path, str]:
    """The file and function a reference names, checked without running the file."""
    match = REF.match(text)
    if not match:
        raise RefError(f"not a file.py:function reference: {text!r}")
    path = (base_dir / match["file"]).resolve()
    name = match["function"]
    if not path.is_file():
        near = [p.name for p in path.parent.glob("*.py")] if path.parent.is_dir() else []
        raise RefError(f"file not found: {path}", did_you_mean(path.name, near))
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise RefError(f"{path.name}, line {exc.lineno}: {exc.msg}") from None
    except (OSError, ValueError) as exc:
        raise RefError(f"cannot read {path.name}: {exc}") from None
    names = _top_level_names(tree)
    if name not in names:
        raise RefError(f"'{name}' is not defined in {path.name}", did_you_mean(name, names))
    return path, name


class FileFunction:
    """A user's function, loaded (with their module's definitions only) on first call and
    called contained: what it raises or does is a UserCallError naming the spec path."""

    def __init__(self, path: Path, name: str, spec_path: SpecPath):
        self.path, self.name, self.spec_path = path, name, spec_path
        self._fn: Any = None

    def _load(self):
        from nnfix.usercode.loader import LoadError, load_module
        from nnfix.usercode.sandbox import UserCallError

        if self._fn is None:
            try:
                module = load_module(self.path).module
            except LoadError as exc:
                raise UserCallError(self.role, exc.message, exc.trace) from None
            fn = getattr(module, self.name, None)
            if not callable(fn):
                raise UserCallError(
                    self.role, f"'{self.name}' in {self.path.name} is not a function"
                )
            self._fn = fn
        return self._fn

    @property
    def role(self) -> str:
        return format_path(self.spec_path)

    def __call__(self, *args, **kwargs):
        from nnfix.usercode import sandbox

        try:
            return sandbox.call(self.role, self._load(), *args, **kwargs)
        except sandbox.UserCallError as exc:
            exc.path = self.spec_path
            raise

    def __reduce__(self):
        return FileFunction, (self.path, self.name, self.spec_path)
