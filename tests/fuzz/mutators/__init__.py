"""The mutators, each `(rng, case) -> case`, registered by family; importing this package
registers them all."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tests.fuzz.case import Case

Mutator = Callable[[random.Random, Case], Case]


@dataclass(frozen=True)
class Entry:
    name: str
    family: str
    fn: Mutator
    level: int  # order: 0 picks its own seed (data files, user code), 1 keys and values, 2 text, 3 bytes
    hangs: bool  # its cases may legitimately run up to a user-code timeout


REGISTRY: dict[str, Entry] = {}


def mutator(family: str, level: int = 1, hangs: bool = False):
    """Register a mutator under its function name (without a leading underscore)."""

    def register(fn: Mutator) -> Mutator:
        name = fn.__name__.lstrip("_")

        def apply(rng: random.Random, case: Case) -> Case:
            out = fn(rng, case)
            out.mutators = [*case.mutators, name]
            return out

        REGISTRY[name] = Entry(name, family, apply, level, hangs)
        return fn

    return register


from tests.fuzz.mutators import (  # noqa: E402  (they register themselves)
    datafiles,
    encoding,
    expressions,
    setargs,
    shapes,
    structure,
    usercode,
    values,
)

__all__ = [
    "REGISTRY",
    "Entry",
    "datafiles",
    "encoding",
    "expressions",
    "mutator",
    "setargs",
    "shapes",
    "structure",
    "usercode",
    "values",
]
