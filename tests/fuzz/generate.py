"""Cases from a seed: random stacks of mutators over random seeds of the corpus, and a fixed
matrix of every hostile user-code body and return value."""

from __future__ import annotations

import random
from collections.abc import Iterator

from tests.fuzz.case import Case
from tests.fuzz.corpus import by_origin, corpus
from tests.fuzz.mutators import REGISTRY
from tests.fuzz.mutators.shapes import SHAPES, make_shape
from tests.fuzz.mutators.usercode import (
    BROKEN,
    HANGS,
    HOSTILE,
    MISNAMED,
    RETURNS,
    WHOLE,
    make_hostile,
    make_misnamed,
    make_returns,
    make_unimportable,
)

FAMILIES = {  # how often each family is drawn
    "structure": 22,
    "encoding": 10,
    "values": 20,
    "expressions": 10,
    "setargs": 10,
    "datafiles": 16,
    "usercode": 12,
}


def _draw(rng: random.Random, hangs: bool, families: dict[str, int]) -> str:
    family = rng.choices(list(families), weights=list(families.values()))[0]
    names = sorted(
        e.name for e in REGISTRY.values() if e.family == family and (hangs or not e.hangs)
    )
    return rng.choice(names)


def make_case(seed: int, index: int, hangs: bool = True, user_code: bool = True) -> Case:
    """Case `index` of `seed`: the same arguments give the same case, always. Without
    `user_code`, only the spec, its data files and the command line are mutated."""
    rng = random.Random(f"nnfix-fuzz:{seed}:{index}")
    families = {f: w for f, w in FAMILIES.items() if user_code or f != "usercode"}
    count = rng.choices([1, 2, 3], weights=[70, 25, 5])[0]
    names = [_draw(rng, hangs, families) for _ in range(count)]
    names.sort(key=lambda n: REGISTRY[n].level)
    base = rng.choice(corpus())
    roll = rng.random()
    command, quick = ("train", True) if roll < 0.1 else ("diagnose", roll >= 0.2)
    case = base.but(command=command, quick=quick, out=roll >= 0.05, origin=base.origin)
    for name in names:
        case = REGISTRY[name].fn(rng, case)
    if len(names) > 1:  # another mutator may have unhooked the user's code: expect nothing
        case.expect_finding = False
    return case


def random_cases(
    seed: int, count: int, hangs: bool = True, user_code: bool = True
) -> Iterator[tuple[int, Case]]:
    for index in range(count):
        yield index, make_case(seed, index, hangs, user_code)


# --- the user-code matrix -------------------------------------------------------------------

ROLES = [  # (corpus seed, file, function): the user's functions nnfix calls
    ("examples/columns", "my_net.py", "L_model_backward"),
    ("refs", "deriv.py", "dtanh"),
    ("examples/rows", "net.py", "forward"),
    ("refs", "deriv.py", "dbce"),
    ("examples/columns", "my_net.py", "compute_cost"),
    ("refs", "deriv.py", "my_tanh"),
]
HANG_ROLES = {  # each way of never returning once, in a different place
    "while_true": ROLES[0],
    "sleep": ROLES[1],
    "input_open_stdin": ROLES[2],
    "non_daemon_thread": ROLES[4],
}


def matrix(start: int = 100_000, hangs: bool = True) -> Iterator[tuple[int, Case]]:
    """Every user-code mutation once: each hostile body, bad return value, broken module and
    misnamed function or module, the roles taking turns (the user's backward, a derivative
    given as file.py:function, their forward, a loss gradient, their loss, an activation);
    two hostile bodies at import; and, with `hangs`, each way of never returning. Indices
    from `start`, so they never collide with random cases."""
    combos = [
        *((make_hostile, name) for name in sorted(HOSTILE)),
        *((make_returns, name) for name in sorted(RETURNS) + sorted(WHOLE)),
        *((make_unimportable, name) for name in sorted(BROKEN)),
        *((make_misnamed, name) for name in sorted(MISNAMED)),
    ]
    cases = []
    for n, (make, name) in enumerate(combos):
        origin, file, function = ROLES[n % len(ROLES)]
        cases.append(make(by_origin(origin).but(origin=origin), file, function, name))
        if name == "chdir":  # where do the run directory and --out go after it?
            cases[-1] = cases[-1].but(command="train")
    for name in ("sys_exit_0", "print_flood"):
        origin, file, function = ROLES[0]
        cases.append(make_hostile(by_origin(origin).but(origin=origin), file, function, name, True))
    for name in sorted(HANGS) if hangs else ():
        origin, file, function = HANG_ROLES[name]
        cases.append(make_hostile(by_origin(origin).but(origin=origin), file, function, name))
    cases += [make_shape(name) for name in sorted(SHAPES)]
    for n, case in enumerate(cases):
        kind = case.notes[0].split()[0]
        family = next(k for k, table in KINDS.items() if kind in table)
        case.mutators = [f"matrix:{family}"]
        yield start + n, case


KINDS = {
    "hostile": HOSTILE,
    "hang": HANGS,
    "returns": {**RETURNS, **WHOLE},
    "unimportable": BROKEN,
    "misnamed": MISNAMED,
    "shapes": SHAPES,
}
