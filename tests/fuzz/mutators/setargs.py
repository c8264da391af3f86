"""Command-line overrides: `--set` with malformed keys, indices out of range, type changes and
hostile values, and junk in --select/--ignore."""

from __future__ import annotations

import random

from tests.fuzz.case import ROOT_MARK, Case
from tests.fuzz.mutators import mutator
from tests.fuzz.mutators.tree import pick

KEYS = [
    "seed",
    "name",
    "train.lr",
    "train.epochs",
    "train.batch_size",
    "train.optimizer",
    "train.optimizer.beta1",
    "train.schedule.every",
    "data.noise",
    "data.samples",
    "data.source",
    "data.path",
    "data.target",
    "data.validation",
    "model.init",
    "model.init.std",
    "model.layers[0].units",
    "model.layers[0].activation",
    "model.layers.1.activation.derivative",
    "model.layers[99].units",
    "model.layers[0][0]",
    "model.layers",
    "model",
    "loss",
    "loss.gradient",
    "diagnose.budget",
    "diagnose.select",
    "implementation.module",
    "implementation.backward",
    "implementation.names.bias",
    "unknown.key",
    "seed.x",
]

VALUES = [
    "-1",
    "0",
    "1e-7",
    ".inf",
    "-.inf",
    ".nan",
    "1e999",
    "9" * 5000,
    "abc",
    "",
    "null",
    "~",
    "[]",
    "{}",
    "[1, 2",
    "{name: adam, beta1: 2}",
    "&a [*a]",
    "*nowhere",
    "!!python/name:os.system",
    "\x1b[31m",
    "ünï",
    "../../x",
    f"{ROOT_MARK}/leak",
    "/dev/zero",
    "b{l}{0}",
    "W{",
    "{units: 3}",
    "full",
    "yes",
    "0x10",
]

MALFORMED = [
    "=1",
    "train.lr",
    "..=1",
    "train..lr=1",
    ".lr=1",
    "train.lr.=1",
    "model.layers[-1].units=3",
    "model.layers[x].units=3",
    "model.layers[1=3",
    "model.layers[999999999999999999999].units=3",
    "model.layers[0].units.deep.er=3",
    "train lr=1",
    "train.lr==1",
    "ünï=1",
    "\x1b=1",
    "seed=1=2",
    "1=1",
    "__class__=1",
    "model.layers[0]=5",
    "data=moons",
    " = ",
]


@mutator("setargs")
def set_override(rng: random.Random, case: Case) -> Case:
    """One to three `--set KEY=VALUE` with a real or unknown key and a hostile value."""
    args = list(case.args)
    for _ in range(rng.choice([1, 1, 2, 3])):
        if rng.random() < 0.3:
            args += ["--set", pick(rng, MALFORMED)]
        else:
            args += ["--set", f"{pick(rng, KEYS)}={pick(rng, VALUES)}"]
    return case.but(args=args)


@mutator("setargs")
def set_known_traps(rng: random.Random, case: Case) -> Case:
    """The overrides an earlier review saw fail."""
    trap = pick(
        rng,
        [
            "seed=-1",
            "seed=18446744073709551616",
            "data.noise=.inf",
            "data.noise=.nan",
            "train.lr=.nan",
            "model.layers[0].units=1000000000",
            "model.layers[5].units=3",
            "implementation.names.bias=b{l}{0}",
            "model.init={name: uniform, low: -1e308, high: 1e308}",
        ],
    )
    return case.but(args=[*case.args, "--set", trap])


@mutator("setargs")
def rule_codes(rng: random.Random, case: Case) -> Case:
    """Junk in --select/--ignore/--fail-on (diagnose only; train keeps its arguments)."""
    if case.command != "diagnose":
        return case
    flag = pick(rng, ["--select", "--ignore"])
    value = pick(rng, ["", ",", "NOPE", "G", "g101", "G101,,T1", "\x1b", "*", "9" * 1000])
    return case.but(args=[*case.args, flag, value])


@mutator("setargs")
def output_target(rng: random.Random, case: Case) -> Case:
    """An output nnfix cannot write (a folder, a path under a file, a missing folder) or one
    drawn instead of written (.svg, .html): said plainly, never a traceback. Paths stay inside
    the case's folder (never /dev: as root, an atomic write would replace the device)."""
    if case.command == "train":
        target = pick(rng, ["spec.yaml", "spec.yaml/sub", ""])
        return case.but(out=False, args=[*case.args, "--out", target], lineless=True)
    target = pick(rng, [".", "spec.yaml/r.json", "no/such/dir/r.json", "r.svg", "r.html", ""])
    return case.but(args=[*case.args, "--output", target], lineless=True)
