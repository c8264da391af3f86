"""Packages the user's code imports that are not installed (SPEC §3.3): while nnfix loads or
calls their code, an import of one in their files gives a placeholder module whose attributes
are placeholders too, so `from sklearn.datasets import make_moons`, `class Net(nn.Module)` or a
decorator costs nothing until the code nnfix calls really uses it (calls it, computes with it,
iterates it) — which raises ModuleNotFoundError naming the package and its pip install, the
U101 at their line. What was missing, and where it was imported, is recorded."""

from __future__ import annotations

import ast
import contextlib
import importlib.abc
import importlib.machinery
import inspect
import linecache
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

PIP_NAMES = {  # import name -> what to pip install, where they differ
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
}
_USED = re.compile(
    r"(?P<package>\S+) is not installed \(pip install (?P=package)\); your code uses"
)
_CATCHES_IMPORT = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def pip_name(module: str) -> str:
    """What to pip install for an import name: `sklearn.datasets` -> scikit-learn."""
    top = module.split(".")[0]
    return PIP_NAMES.get(top, top)


def message(package: str, name: str) -> str:
    """What using a placeholder raises (`used_package` reads it back)."""
    return f"{package} is not installed (pip install {package}); your code uses {name} here"


def used_package(text: str) -> str | None:
    """The package a user call's error says was used but is not installed, else None."""
    match = _USED.search(text)
    return match["package"] if match else None


@dataclass(frozen=True)
class Missing:
    """A package that an import in the user's code asked for and that is not installed."""

    package: str  # what to pip install: scikit-learn
    module: str  # the top-level name imported: sklearn
    place: Any  # loader.Place of the import statement, or None where not in their files


def note(missing: list[Missing]) -> str:
    """The report header's line: "not installed: scikit-learn (planar_utils.py, line 3),
    skipped until used"."""
    shown = [f"{m.package} ({m.place})" if m.place is not None else m.package for m in missing]
    return f"not installed: {', '.join(shown)}, skipped until used"


# --- the state: where placeholders are served, and how leniently ------------------------------

_lenient: list[bool] = []  # a stack, one per `serving` entered: True while their module loads
_served: set[str] = set()  # top-level names served as placeholders while serving
_made: list[str] = []  # the placeholder modules put in sys.modules while serving
RECORDS: list[Missing] = []  # every package found missing in this process, in order


def lenient() -> bool:
    """While their module loads, a placeholder called (a class attribute `nn.Linear(3, 4)`, a
    decorator) gives a placeholder; at any other time using it raises."""
    return bool(_lenient) and _lenient[-1]


@contextlib.contextmanager
def serving(*, loading: bool = False) -> Iterator[None]:
    """Serve placeholder modules for imports from the user's files of packages that are not
    installed, within this block (nested blocks share the finder; the innermost says whether
    their module is loading). The placeholders leave sys.modules with the outermost block, so
    no import of nnfix's or of another library ever sees them."""
    first = not _lenient
    if first:
        sys.meta_path.append(_FINDER)
    _lenient.append(loading)
    try:
        yield
    finally:
        _lenient.pop()
        if first:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(_FINDER)
            for name in _made:
                if isinstance(sys.modules.get(name), AbsentModule):
                    del sys.modules[name]
            _made.clear()
            _served.clear()


# --- placeholders -----------------------------------------------------------------------------


class Absent:
    """A value from a package that is not installed: its attributes are placeholders, and
    using it (calling, computing with, iterating, indexing) raises ModuleNotFoundError naming
    the package. Nothing is an instance of it (`isinstance(x, torch.Tensor)` is False), and
    it is a base class that fails only when an instance is made (`class Net(nn.Module)`)."""

    def __init__(self, name: str, package: str):
        vars(self)["_absent"] = (name, package)

    def _fail(self) -> NoReturn:
        name, package = vars(self).get("_absent", ("it", "a package"))
        raise ModuleNotFoundError(message(package, name), name=name.split(".")[0])

    def _use(self, what: str = "") -> Any:
        if lenient():
            name, package = vars(self)["_absent"]
            return Absent(f"{name}{what}", package)
        self._fail()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)  # protocol probes (copy, numpy, inspect) see a plain object
        name, package = vars(self)["_absent"]
        return Absent(f"{name}.{attr}", package)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        one = args[0] if len(args) == 1 and not kwargs else None
        decorated = inspect.isfunction(one) or inspect.isclass(one)
        if lenient() and decorated:
            return args[0]  # a decorator (`@jit`, `@torch.no_grad()`) leaves it as it is
        return self._use("()")

    def __mro_entries__(self, bases: tuple) -> tuple[type]:
        name = vars(self)["_absent"][0]

        def __init__(instance: Any, *args: Any, **kwargs: Any) -> None:
            if not lenient():
                self._fail()

        base = type(name.rsplit(".", 1)[-1], (), {"__init__": __init__, "__module__": name})
        return (base,)

    def __instancecheck__(self, instance: Any) -> bool:
        return False

    def __subclasscheck__(self, subclass: Any) -> bool:
        return False

    def __iter__(self) -> NoReturn:
        self._fail()

    def __len__(self) -> int:
        self._fail()

    def __getitem__(self, key: Any) -> Any:
        return self._use()  # `Optional[torch.Tensor]`-like annotations while loading

    def __setitem__(self, key: Any, value: Any) -> None:
        self._fail()

    def __array__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._fail()

    def __float__(self) -> float:
        self._fail()

    def __int__(self) -> int:
        self._fail()

    def __index__(self) -> int:
        self._fail()

    def __repr__(self) -> str:
        name, package = vars(self).get("_absent", ("?", "a package"))
        return f"<{name}: {package} is not installed>"


def _operation(self: Absent, *other: Any) -> Any:
    return self._use()


_OPERATIONS = (
    "add sub mul matmul truediv floordiv mod pow and or xor lshift rshift "
    "radd rsub rmul rmatmul rtruediv rfloordiv rmod rpow rand ror rxor "
    "neg pos abs invert lt le gt ge"
)
for _dunder in _OPERATIONS.split():  # computing with it
    setattr(Absent, f"__{_dunder}__", _operation)


class AbsentModule(types.ModuleType):
    """A module of a package that is not installed: every attribute is a placeholder, and its
    submodules are modules like it."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return Absent(f"{self.__name__}.{attr}", pip_name(self.__name__))

    def __repr__(self) -> str:
        return f"<module {self.__name__!r}: {pip_name(self.__name__)} is not installed>"


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = AbsentModule(spec.name)
        module.__path__ = []  # a package: `import scipy.special` finds its submodule here
        _made.append(spec.name)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class _Finder(importlib.abc.MetaPathFinder):
    """Last on sys.meta_path while serving: a top-level import that no other finder found,
    made by the user's own code outside a `try` that handles its ImportError, or a submodule
    of one already served."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        top = fullname.partition(".")[0]
        if top not in _served:
            if fullname != top:
                return None  # numpy.nosuch: a real import error, not a package missing
            importer = _importer()
            if importer is None:
                return None
            _served.add(top)
            from nnfix.usercode.loader import place_of

            RECORDS.append(Missing(pip_name(top), top, place_of(*importer)))
        return importlib.machinery.ModuleSpec(fullname, _LOADER, is_package=True)


_LOADER = _Loader()
_FINDER = _Finder()


def _importer() -> tuple[str, int] | None:
    """(file, line) of the import statement when it is the user's own and unguarded."""
    from nnfix.usercode.loader import is_users

    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return None
    filename, line = frame.f_code.co_filename, frame.f_lineno
    if not is_users(filename) or line in _guarded(filename):
        return None
    return filename, line


def _guarded(filename: str) -> frozenset[int]:
    """The lines of `filename` inside a `try:` whose handler catches ImportError (or a `with
    suppress(ImportError):`): their code has its own plan for a package that is missing
    (`except ImportError: import numpy as cp`)."""
    text = "".join(linecache.getlines(filename))
    key = (filename, hash(text))
    if key not in _GUARDED:
        lines: set[int] = set()
        with contextlib.suppress(SyntaxError, ValueError):
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.Try) and any(_catches(h.type) for h in node.handlers):
                    body = node.body
                elif isinstance(node, ast.With) and any(_suppresses(i) for i in node.items):
                    body = node.body
                else:
                    continue
                for stmt in body:
                    lines.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
        _GUARDED[key] = frozenset(lines)
    return _GUARDED[key]


_GUARDED: dict[tuple[str, int], frozenset[int]] = {}


def _catches(kind: ast.expr | None) -> bool:
    if kind is None:
        return True  # a bare `except:`
    if isinstance(kind, ast.Tuple):
        return any(_catches(k) for k in kind.elts)
    name = kind.attr if isinstance(kind, ast.Attribute) else getattr(kind, "id", "")
    return name in _CATCHES_IMPORT


def _suppresses(item: ast.withitem) -> bool:
    """`with contextlib.suppress(ImportError):`"""
    call = item.context_expr
    if not isinstance(call, ast.Call):
        return False
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return name == "suppress" and any(_catches(arg) for arg in call.args)
