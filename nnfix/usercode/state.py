"""Putting the user's objects back as they were: a record of every object's attributes, every
list's and dict's items and every array's values reachable from a few roots, restored after a
call that trains in place (SPEC §3.2 D) — the parameters, and a momentum, a step counter or a
cache the call left changed — with each object, list and array keeping its identity."""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from nnfix.usercode.objects import atomic

DEPTH = 6  # how deep the record goes from a root
NODES = 20_000  # and how many objects, lists, dicts and arrays it keeps at most
ARRAY_LIMIT = 2_000_000  # an array larger than this is data, not state: not copied


def _plain(value: Any) -> bool:
    """What is kept by reference only: functions, classes, modules, immutable values."""
    return atomic(value) or isinstance(value, np.generic)


class Kept:
    """What `keep` recorded; `restore()` puts it back (any number of times)."""

    def __init__(self) -> None:
        self._objects: list[tuple[Any, dict]] = []
        self._lists: list[tuple[list, list]] = []
        self._dicts: list[tuple[dict, dict]] = []
        self._arrays: list[tuple[np.ndarray, np.ndarray]] = []

    def restore(self) -> None:
        for obj, attrs in self._objects:
            try:
                state = vars(obj)
            except TypeError:
                continue
            for key in [k for k in state if k not in attrs]:
                del state[key]
            state.update(attrs)
        for items, saved in self._lists:
            items[:] = saved
        for mapping, saved_items in self._dicts:
            mapping.clear()
            mapping.update(saved_items)
        for array, values in self._arrays:
            if array.flags.writeable and array.shape == values.shape:
                array[...] = values


def keep(*roots: Any) -> Kept:
    """Record what is reachable from `roots` (a module's globals, not walking into its imports'
    objects) so that `restore()` undoes what a call changed in place."""
    kept = Kept()
    seen: set[int] = set()

    def visit(node: Any, level: int) -> None:
        if level > DEPTH or id(node) in seen or len(seen) > NODES or _plain(node):
            return
        seen.add(id(node))
        if isinstance(node, np.ndarray):
            if node.dtype != object and node.size <= ARRAY_LIMIT:
                kept._arrays.append((node, node.copy()))
            return
        if isinstance(node, list):
            kept._lists.append((node, list(node)))
            children = list(node)
        elif isinstance(node, dict):
            kept._dicts.append((node, dict(node)))
            children = list(node.values())
        elif isinstance(node, tuple):
            children = list(node)
        elif hasattr(node, "__dict__"):
            try:
                attrs = dict(vars(node))
            except TypeError:
                return
            kept._objects.append((node, attrs))
            children = list(attrs.values())
        else:
            return
        for child in children:
            visit(child, level + 1)

    for root in roots:
        if isinstance(root, types.ModuleType):
            # every global's value: their objects are often instances of classes of another of
            # their modules (`soft = Softmax.Softmax(...)`); modules, classes and functions are
            # kept by reference (_plain), so an import is never walked into
            for value in list(vars(root).values()):
                visit(value, 1)
            kept._dicts.append((vars(root), dict(vars(root))))
        else:
            visit(root, 0)
    return kept
