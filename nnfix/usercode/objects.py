"""Finding arrays in the user's objects: a walk over attributes, lists, tuples and dicts that
names every array by its path (`self.weights[0]`, `layers[2].dweights`, `params['W1']`), can
read and write it there, and tells what a call set or changed. A nested Python list of floats
(`network[0]`, `neuron['weights']`) is found too where asked (`lists=True`): read as an array,
written back into the same lists."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

DEPTH = 5  # how deep the walk goes from the root
NODES = 5000  # and how many containers and objects it visits at most


@dataclass
class Ref:
    """An array at a path in the user's objects."""

    path: str  # as the user would write it: "self.weights[0]"
    owner: Any  # the container or object it is found in
    key: Any  # its key, index or attribute name there
    kind: str  # "attr" | "item"

    def get(self) -> Any:
        return getattr(self.owner, self.key) if self.kind == "attr" else self.owner[self.key]

    def set(self, value: Any) -> None:
        if self.kind == "attr":
            setattr(self.owner, self.key, value)
        else:
            self.owner[self.key] = value

    @property
    def leaf(self) -> str:
        """The last name on the path: `weights` for self.weights[0], `W1` for params['W1']."""
        names = re.findall(r"[A-Za-z_]\w*", self.path.replace("self.", ""))
        return names[-1] if names else self.path


class ListRef(Ref):
    """A nested list of floats at a path, read as a float64 array (a copy) and written back
    value by value into the same lists, so the user's code that holds them sees the change."""

    def get(self) -> Any:
        return np.array(super().get(), dtype=np.float64)

    def set(self, value: Any) -> None:
        _fill(super().get(), np.asarray(value, dtype=np.float64))


def _fill(target: list, values: np.ndarray) -> None:
    for i, v in enumerate(values):
        if isinstance(target[i], list):
            _fill(target[i], v)
        else:
            target[i] = float(v)


def float_list(value: Any) -> bool:
    """A rectangular nested list of numbers with at least one float (a list of layer sizes,
    all ints, is not): what a pure-Python network holds its weights in."""
    if not isinstance(value, list) or not value:
        return False
    floats = False
    shape: list[int] = []

    def leaves(node: Any, level: int) -> bool:
        nonlocal floats
        if isinstance(node, list):
            if not node:
                return False
            if level == len(shape):
                shape.append(len(node))
            elif shape[level] != len(node):
                return False
            return all(leaves(v, level + 1) for v in node)
        if level != len(shape) or isinstance(node, bool):
            return False
        if isinstance(node, float | np.floating):
            floats = True
            return True
        return isinstance(node, int | np.integer)

    return len(value) <= 100_000 and leaves(value, 0) and floats


def is_float_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def first_number(value: Any) -> float | None:
    """A loss as a float: a number, a 0-d or one-element array, or the first of a tuple."""
    if isinstance(value, tuple | list) and value:
        value = value[0]
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 else None


def atomic(value: Any) -> bool:
    """What a walk never goes into: modules, functions, classes and immutable values."""
    return isinstance(
        value,
        types.ModuleType
        | types.FunctionType
        | types.BuiltinFunctionType
        | types.MethodType
        | type
        | str
        | bytes
        | int
        | float
        | complex
        | bool
        | type(None)
        | range,
    )


def _children(node: Any) -> Iterator[tuple[str, Any, Any, str]]:
    """(path suffix, key, value, kind) of what a node holds."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if isinstance(key, str | int) or (
                isinstance(key, tuple) and all(isinstance(k, str | int) for k in key)
            ):
                yield f"[{key!r}]", key, value, "item"
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield f"[{i}]", i, value, "item"
    elif isinstance(node, types.ModuleType):
        for key, value in list(vars(node).items()):
            if not key.startswith("__"):
                yield key, key, value, "attr"
    elif hasattr(node, "__dict__") and not isinstance(node, np.ndarray):
        for key, value in list(vars(node).items()):
            yield f".{key}", key, value, "attr"


def walk(
    root: Any,
    name: str = "self",
    depth: int = DEPTH,
    ranks: tuple[int, int] = (1, 2),
    lists: bool = False,
) -> list[Ref]:
    """Every float array reachable from `root` whose rank is within `ranks` (a dense net's
    vectors and matrices by default), in the order the walk meets them (attributes in
    definition order, items in index order), each once, at its first path; with `lists`,
    each nested list of floats too (a ListRef), whole where it is rectangular."""
    found: list[Ref] = []
    seen: set[int] = set()
    visits = 0

    def visit(node: Any, path: str, level: int) -> None:
        nonlocal visits
        if level > depth or visits > NODES or id(node) in seen:
            return
        seen.add(id(node))
        visits += 1
        for suffix, key, value, kind in _children(node):
            child = suffix if not path else (path + suffix if suffix[0] in "[." else suffix)
            if isinstance(value, np.ndarray):
                low, high = ranks
                if value.dtype.kind == "f" and low <= value.ndim <= high and id(value) not in seen:
                    seen.add(id(value))
                    found.append(Ref(child, node, key, kind))
            elif lists and float_list(value) and id(value) not in seen:
                seen.add(id(value))
                if ranks[0] <= np.ndim(value) <= ranks[1]:
                    found.append(ListRef(child, node, key, kind))
            elif not atomic(value):
                visit(value, child, level + 1)

    visit(root, name if not isinstance(root, types.ModuleType) else "", 0)
    return found


Snapshot = dict[str, tuple[int, np.ndarray, np.ndarray]]


def snapshot(refs: list[Ref]) -> Snapshot:
    """Each path's array identity, a copy of its values, and the array itself: held, so that
    no new array can take its identity while the snapshot lives (a call that sets an equal
    array in a freed one's place would otherwise look unchanged)."""
    out = {}
    for ref in refs:
        value = ref.get()
        if isinstance(value, np.ndarray):
            out[ref.path] = (id(value), value.copy(), value)
    return out


def changed(root: Any, before: Snapshot, name: str = "self") -> list[Ref]:
    """The arrays under `root` that a call set (a new array at a path) or changed in place."""
    out = []
    for ref in walk(root, name):
        value = ref.get()
        old = before.get(ref.path)
        if old is None or old[0] != id(value):
            out.append(ref)
        elif old[1].shape != value.shape or not np.array_equal(old[1], value, equal_nan=True):
            out.append(ref)
    return out


def compress(paths: list[str]) -> str:
    """`self.weights[0], self.weights[1]` -> `self.weights[0..1]`, for a report's header."""
    groups: dict[str, list[int]] = {}
    rest: list[str] = []
    for path in paths:
        match = re.fullmatch(r"(.*)\[(\d+)\](.*)", path)
        if match:
            groups.setdefault(f"{match[1]}[#]{match[3]}", []).append(int(match[2]))
        else:
            rest.append(path)
    out = []
    for pattern, numbers in groups.items():
        numbers = sorted(set(numbers))
        lo, hi = numbers[0], numbers[-1]
        contiguous = numbers == list(range(lo, hi + 1))
        span = str(lo) if lo == hi else f"{lo}..{hi}" if contiguous else ",".join(map(str, numbers))
        out.append(pattern.replace("[#]", f"[{span}]"))
    return ", ".join(out + rest)
