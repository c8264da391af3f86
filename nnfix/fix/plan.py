"""Which fixes a round applies, and in what order: the root causes' first (as the report orders
them), one value per spec key, the first root cause's value where two disagree."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from nnfix.diagnose.findings import Finding, SpecReport
from nnfix.errors import SpecPath, format_path
from nnfix.fix.edit import MISSING, number, value_at


@dataclass
class Change:
    """One value set in the spec, for the findings whose fix it is (the first is the one that
    chose it; the others ask for the same)."""

    path: SpecPath
    value: object
    findings: list[Finding]
    round: int = 1
    old: object = MISSING  # what the spec said before

    @property
    def codes(self) -> list[str]:
        return list(dict.fromkeys(f.code for f in self.findings))

    @property
    def where(self) -> str:
        return format_path(self.path)

    def shown(self) -> str:
        """`train.lr: 0.1 → 0.03333`."""
        old = "(not set)" if self.old is MISSING else shown_value(self.old)
        return f"{self.where}: {old} → {shown_value(self.value)}"


@dataclass
class Skipped:
    """A fix not applied, and why."""

    finding: Finding
    reason: str


@dataclass
class Choice:
    changes: list[Change] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def shown_value(value: object) -> str:
    if isinstance(value, float):
        return number(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {shown_value(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def same_value(a: object, b: object) -> bool:
    """Equal as a spec value: floats to the four digits a fix is written with."""
    if isinstance(a, float | int) and isinstance(b, float | int):
        if isinstance(a, bool) or isinstance(b, bool):
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-3)
    if isinstance(a, dict) and isinstance(b, str):  # {name: x} is the shorthand x
        return a == {"name": b}
    if isinstance(b, dict) and isinstance(a, str):
        return b == {"name": a}
    return a == b


def _overlap(a: SpecPath, b: SpecPath) -> bool:
    """One path is the other or lies under it: setting both would clash."""
    n = min(len(a), len(b))
    return tuple(a[:n]) == tuple(b[:n])


def choose(
    report: SpecReport,
    text: str,
    wanted: Callable[[Finding], bool],
    blocked: dict[SpecPath, str],
    fixed_elsewhere: set[str] = frozenset(),  # type: ignore[assignment]
    round_: int = 1,
) -> Choice:
    """The spec changes of one round, from the findings of `report` (the spec as `text` says):

    - in the report's order, root causes first, so fixes that depend on each other (a key set
      inside a mapping another fix makes) are made in order;
    - a symptom's fix waits while a cause of it is being fixed (its own finding may go with
      its cause: the next round sees);
    - two fixes of one key: the first root cause's value; the other is skipped, saying so;
    - a key whose fix did not help (`blocked`) is not changed again.
    `fixed_elsewhere`: codes fixed this round in the user's code."""
    candidates = [f for f in report.ordered() if f.fix and f.fix.path and wanted(f)]
    choice = Choice()
    open_: list[Finding] = []
    for finding in candidates:
        assert finding.fix is not None and finding.fix.path is not None
        stop = next((b for b in blocked if _overlap(b, tuple(finding.fix.path))), None)
        if stop is None:
            open_.append(finding)
        else:
            choice.skipped.append(Skipped(finding, blocked[stop]))
    fixing = {f.code for f in open_} | set(fixed_elsewhere)
    waiting = [f for f in open_ if f.caused_by and any(c in fixing for c in f.caused_by)]
    ready = [f for f in open_ if f not in waiting]
    if not ready and not fixed_elsewhere:  # they explain each other: in the report's order
        ready = waiting
    for finding in ready:
        _add(choice, finding, text, round_)
    return choice


def _add(choice: Choice, finding: Finding, text: str, round_: int) -> None:
    """The finding's fix as a change of this round, merged with one that sets the same value,
    or skipped (a clash with an earlier change, or what the spec already says)."""
    assert finding.fix is not None and finding.fix.path is not None
    path, value = tuple(finding.fix.path), finding.fix.value
    same = next((c for c in choice.changes if c.path == path), None)
    if same is not None and same_value(same.value, value):
        same.findings.append(finding)
        return
    clash = same or next((c for c in choice.changes if _overlap(c.path, path)), None)
    if clash is not None:
        choice.skipped.append(
            Skipped(
                finding,
                f"{format_path(path)}: {shown_value(value)} conflicts with the fix of "
                f"{clash.codes[0]} ({clash.where}: {shown_value(clash.value)}), made first",
            )
        )
        return
    old = value_at(text, path)
    if old is not MISSING and same_value(old, value):
        choice.skipped.append(
            Skipped(finding, f"the spec already says {format_path(path)}: {shown_value(old)}")
        )
        return
    choice.changes.append(Change(path, value, [finding], round_, old))
