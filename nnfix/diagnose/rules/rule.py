"""What a rule is — its code, name, severity, documentation, and the findings that explain or
silence it — and what a check is: a function of the shared context, run at one stage of the
diagnosis, that reports findings of the rules it declares."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nnfix.diagnose.findings import Finding, Fix, Location, Severity
from nnfix.errors import SpecPath

if TYPE_CHECKING:
    from nnfix.diagnose.context import Context

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


def prose(paragraph: str) -> str:
    """Prose written across source lines, as one line."""
    return " ".join(paragraph.split())


def yaml_block(fragment: str) -> str:
    """A YAML fragment written indented in the source, flush left."""
    return textwrap.dedent(fragment).lstrip("\n")


@dataclass(frozen=True)
class Cause:
    """Findings of `codes` explain a finding of the rule that lists this cause (they are its
    root cause), when `layers` relates them and `when` holds of the finding. `note` is what the
    finding means when causes with notes are all that explain it (a T106 that unreachable
    targets explain is no bug): added to its message."""

    codes: tuple[str, ...]
    layers: str = "any"  # "any" | "at_or_above": the cause's layer at or above the finding's
    when: Callable[[Finding], bool] | None = None
    note: str | None = None

    def explains(self, cause: Finding, f: Finding) -> bool:
        if cause.code not in self.codes or cause is f:
            return False
        if self.layers == "at_or_above":
            return (cause.location.layer or 0) >= (f.location.layer or 0)
        return True


@dataclass(frozen=True)
class Becomes:
    """A finding of the rule that declares this is a finding of rule `code` instead, built by
    `make` from it, wherever a finding of `when` stands beside it: what looks benign alone
    (a slow start) is the symptom of the bug those report (a wrong derivative)."""

    code: str
    when: tuple[str, ...]
    make: Callable[[Finding], Finding]


def caused_by(*codes: str) -> tuple[Cause, ...]:
    """One cause per code, most direct first."""
    return tuple(Cause((code,)) for code in codes)


@dataclass(frozen=True)
class Rule:
    code: str  # "A102"
    name: str  # "derivative-wrong-argument"
    severity: Severity  # the default; a finding may carry another
    summary: str  # one line, for `nnfix rules`
    detects: str  # what it detects
    why: str  # why it breaks training
    fix: str  # how to fix it
    before: str  # a spec fragment with the problem
    after: str  # the same fragment fixed
    thresholds: str = ""  # numeric thresholds, written from the constants the check uses
    causes: tuple[Cause, ...] = ()  # findings that explain this one, most direct first
    suppressed_by: tuple[str, ...] = ()  # findings that make this one noise: it is dropped
    becomes: Becomes | None = None  # findings that turn this one into another rule's

    def finding(
        self,
        message: str,
        *,
        layer: int | None = None,
        parameter: str | None = None,
        path: SpecPath = (),
        evidence: dict | None = None,
        fix: Fix | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of this rule; its causes are linked once every check has run."""
        return Finding(
            code=self.code,
            name=self.name,
            severity=severity or self.severity,
            message=message,
            location=Location(layer=layer, parameter=parameter, path=path),
            evidence=evidence or {},
            fix=fix,
        )


@dataclass(frozen=True)
class Stage:
    """A step of the diagnosis; checks run stage by stage in the order of STAGES."""

    name: str
    probe: bool = False  # trains the net: --quick skips it


STATIC = Stage("static")
DERIVATIVES = Stage("derivatives")
GRADIENT_CHECK = Stage("gradient check")
USER_CODE = Stage("your code")
INIT_STATISTICS = Stage("init statistics")
TRAINING_PROBE = Stage("training probe", probe=True)
OVERFIT_PROBE = Stage("overfit probe", probe=True)
STAGES = (
    STATIC,
    DERIVATIVES,
    GRADIENT_CHECK,
    USER_CODE,
    INIT_STATISTICS,
    TRAINING_PROBE,
    OVERFIT_PROBE,
)


@dataclass(frozen=True)
class Check:
    """A function of the context that reports findings of `rules`, run at `stage`."""

    stage: Stage
    rules: tuple[Rule, ...]
    run: Callable[[Context], list[Finding]] = field(compare=False)

    @property
    def name(self) -> str:
        return self.run.__name__

    def __call__(self, ctx: Context) -> list[Finding]:
        return self.run(ctx)


def check(stage: Stage, *rules: Rule) -> Callable[[Callable[[Context], list[Finding]]], Check]:
    """Declare a function as a check: `@check(STATIC, D101)` above `def non_finite_data(ctx)`."""

    def declare(fn: Callable[[Context], list[Finding]]) -> Check:
        return Check(stage, rules, fn)

    return declare
