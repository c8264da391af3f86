"""What a diagnosis produces: findings (one per problem found) gathered into a report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from nnfix.errors import SpecPath, format_path

if TYPE_CHECKING:
    from nnfix.diagnose.series import Series


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: error 3, warning 2, info 1."""
        return {"error": 3, "warning": 2, "info": 1}[self.value]


FAIL_ON_RANK = {"error": 3, "warning": 2, "info": 1, "never": 99}
GRADIENTS_CHECKED = "gradients_checked"  # evidence: False where a gradient check verified nothing
VERDICTS = ("error", "fail", "unchecked", "pass")  # as the JSON report writes them, worst first


@dataclass
class Source:
    """A line of the user's own code that a finding points at (SPEC §3)."""

    file: str  # relative to the working directory where the file is under it, else absolute
    line: int  # 1-based; within the cell for a notebook
    col: int  # 1-based, where the statement starts
    code: str  # the statement's first line, as written
    cell: int | None = None  # the notebook cell, numbered as nbformat numbers them (from 0)

    def __str__(self) -> str:
        cell = f"[cell {self.cell}]" if self.cell is not None else ""
        return f"{self.file}{cell}:{self.line}:{self.col}"


@dataclass
class Location:
    """Where a finding points: a layer and parameter of the net, the spec line behind it and,
    for the user's own code, the line of theirs."""

    layer: int | None = None  # 1-based, as W1/b1
    parameter: str | None = None  # "W2", "b3"
    path: SpecPath = ()  # spec path, e.g. ("model", "layers", 1, "activation")
    line: int | None = None  # filled in from the spec's positions
    col: int | None = None
    source: Source | None = None  # the line of the user's code it points at

    @property
    def spec_path(self) -> str:
        return format_path(self.path)


@dataclass
class Fix:
    """A concrete change: set the spec key at `path` to `value` (where one exists), and why."""

    description: str
    path: SpecPath | None = None
    value: object = None

    @property
    def spec_path(self) -> str | None:
        return format_path(self.path) if self.path else None


@dataclass
class Finding:
    code: str
    name: str
    severity: Severity
    message: str  # one sentence, with the numbers
    location: Location = field(default_factory=Location)
    evidence: dict[str, object] = field(default_factory=dict)  # the measured numbers
    fix: Fix | None = None
    caused_by: list[str] = field(default_factory=list)  # codes of the findings that explain it

    @property
    def is_root_cause(self) -> bool:
        return not self.caused_by


@dataclass
class PassRun:
    name: str
    seconds: float
    skipped: str | None = None  # why it did not run (--quick, not selected)
    codes: tuple[str, ...] = ()  # the rules it checks


@dataclass
class SpecReport:
    """The diagnosis of one spec."""

    spec: str  # the spec file as given
    name: str
    fail_on: str = "error"  # this spec's threshold (flags > its diagnose: > pyproject > default)
    findings: list[Finding] = field(default_factory=list)
    passes: list[PassRun] = field(default_factory=list)
    layers: list[dict] = field(default_factory=list)  # per-layer figures for the table
    about: list[str] = field(default_factory=list)  # what was found of the user's code
    inferred: list[str] = field(default_factory=list)  # a .py given without a spec (SPEC §3.7)
    printed: list[str] = field(default_factory=list)  # the first lines the user's code printed
    printed_lines: int = 0  # how many lines it printed
    series: Series | None = None  # what the plots draw (html, svg); not in the JSON report

    @property
    def failed(self) -> bool:
        threshold = FAIL_ON_RANK[self.fail_on]
        return any(f.severity.rank >= threshold for f in self.findings)

    @property
    def unchecked(self) -> bool:
        """A gradient check verified no tensor (a G104 says why): whatever else passed, the
        gradients were not checked, and the verdict must not read as a pass (SPEC §3.5)."""
        return any(f.evidence.get(GRADIENTS_CHECKED) is False for f in self.findings)

    @property
    def verdict(self) -> str:
        """ "fail", "unchecked" or "pass": what every format says of this spec."""
        return "fail" if self.failed else "unchecked" if self.unchecked else "pass"

    def ordered(self) -> list[Finding]:
        """Root causes first (worst first), each followed by the symptoms it explains."""
        roots = sorted((f for f in self.findings if f.is_root_cause), key=_order)
        out: list[Finding] = []
        for root in roots:
            out.append(root)
            out += sorted(  # each symptom under its first, most direct, cause
                (
                    f
                    for f in self.findings
                    if f.caused_by and f.caused_by[0] == root.code and f not in out
                ),
                key=_order,
            )
        out += sorted((f for f in self.findings if f not in out), key=_order)
        return out


def _order(f: Finding) -> tuple:
    """Worst first; gradient mismatches from the output down (the first wrong tensor is where
    the bug enters), everything else from the input up."""
    layer = f.location.layer or 0
    return (-f.severity.rank, -layer if f.code == "G101" else layer, f.code)


@dataclass(frozen=True)
class InputProblem:
    """Something a spec, its data or the user's module could not be read for (exit 2), as
    located for every format: the file shown, its line and column where known."""

    spec: str  # the spec file as given
    file: str  # where the problem is: the spec, a data file, the user's module
    line: int | None
    col: int | None
    path: str  # the spec key it concerns ("data.path"), or ""
    message: str
    what: str = "the spec"  # the spec, the data, your module, the command line


@dataclass
class Report:
    """One `nnfix diagnose` call: every spec it diagnosed, and the problems of those it could
    not read."""

    specs: list[SpecReport]
    fail_on: str = "error"
    checked: set[str] | None = None  # the rules a stage that ran checked (None: not known)
    errors: list[InputProblem] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.specs for f in s.findings]

    @property
    def failed(self) -> bool:
        """Some spec has a finding at or above its `fail_on`."""
        return any(s.failed for s in self.specs)

    @property
    def verdict(self) -> str:
        """ "error" (a spec could not be read: exit 2), "fail" (exit 1), "unchecked" (no finding
        at `fail_on`, but some spec's gradients could not be checked: exit 0, not a pass) or
        "pass" (exit 0)."""
        if self.errors:
            return "error"
        return min((s.verdict for s in self.specs), key=VERDICTS.index, default="pass")

    def counts(self) -> dict[str, int]:
        return {s.value: sum(f.severity == s for f in self.findings) for s in Severity}
