"""A spec's findings as the report tells them: root causes, same-code ones on several layers as
one entry, each with the symptoms it explains (followed through chains of causes)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from nnfix.diagnose.findings import Finding, SpecReport
from nnfix.errors import format_path
from nnfix.report.formats._common import value_text


@dataclass
class Cause:
    """One entry of the report: findings of one code that nothing else present explains (a
    root cause, or a symptom whose causes were left out by --select), and what they explain."""

    findings: list[Finding]  # the same code, worst and nearest the input first
    symptoms: list[Finding] = field(default_factory=list)

    @property
    def first(self) -> Finding:
        return self.findings[0]

    @property
    def code(self) -> str:
        return self.first.code

    def where(self) -> str:
        """What the entry is located at: "layer 2", "layers 1–3", "W1", "W1, b1" or ""."""
        layers = sorted({f.location.layer for f in self.findings if f.location.layer})
        if len(self.findings) == 1:
            loc = self.first.location
            return loc.parameter or (f"layer {loc.layer}" if loc.layer else "")
        one_each = len(layers) == len(self.findings)  # one finding per layer: name the layers
        if layers and one_each and all(f.location.layer for f in self.findings):
            return ("layer " if len(layers) == 1 else "layers ") + spans(layers)
        named = [str(f.location.parameter or "") for f in self.findings]
        return ", ".join(dict.fromkeys(n for n in named if n))

    def explained(self) -> list[tuple[str, int, str]]:
        """(code, how many, worst severity) of the symptoms, in the order the report lists
        them: "explains: G101 ×6, T106, T104"."""
        counts = Counter(f.code for f in self.symptoms)
        worst: dict[str, Finding] = {}
        for f in self.symptoms:
            if f.code not in worst or f.severity.rank > worst[f.code].severity.rank:
                worst[f.code] = f
        return [(c, n, worst[c].severity.value) for c, n in counts.items()]

    @property
    def rank(self) -> int:
        """The worst severity among the entry's findings and what they explain."""
        return max(f.severity.rank for f in self.findings + self.symptoms)

    def change(self) -> tuple[str | None, str] | None:
        """The entry's fix as (spec change, why): one key for the same change on several
        layers (`model.layers[0–2].activation.derivative_of: a`), and the why without the value
        said again; (None, sentence) for a fix that is only a sentence; None without a fix."""
        fixes = [f.fix for f in self.findings if f.fix is not None]
        if not fixes:
            return None
        fix = fixes[0]
        if not fix.path:
            return None, fix.description
        value, key = value_text(fix.value), format_path(fix.path)
        if len(fixes) > 1 and all(
            _same_but_layer(f.path, fix.path) and f.value == fix.value for f in fixes
        ):
            layers = spans(sorted({int(f.path[2]) for f in fixes if f.path}))
            key = f"{format_path(fix.path[:2])}[{layers}].{format_path(fix.path[3:])}"
        why = fix.description
        for said in (f": {fix.path[-1]}: {value}", f": {value}"):
            if why.endswith(said) and len(why) > len(said):
                why = why[: -len(said)]
                break
        return f"{key}: {value}", why


def _same_but_layer(path, other) -> bool:
    """model.layers[i].x and model.layers[j].x: the same key on two layers."""
    return (
        path is not None
        and len(path) > 3
        and len(path) == len(other)
        and path[:2] == ("model", "layers") == other[:2]
        and isinstance(path[2], int)
        and isinstance(other[2], int)
        and path[3:] == other[3:]
    )


def spans(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1–3, 5"."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)


def causes(spec: SpecReport) -> list[Cause]:
    """The entries of a spec's report in order: worst first, each symptom under the entry its
    chain of first causes leads to (T106 caused by T108 caused by D102 sits under D102)."""
    ordered = spec.ordered()
    present = {f.code for f in ordered}
    top = [f for f in ordered if not any(c in present for c in f.caused_by)]
    entries: dict[str, Cause] = {}
    independent: list[Cause] = []  # a bug found behind another (SPEC §3.6): an entry of its own
    for f in top:
        if f.evidence.get("independent") and f.code in entries:
            independent.append(Cause([f]))
        elif f.code in entries:
            entries[f.code].findings.append(f)
        else:
            entries[f.code] = Cause([f])
    first_of: dict[str, Finding] = {}
    for f in ordered:
        first_of.setdefault(f.code, f)
    for f in ordered:
        if f in top:
            continue
        code, seen = _first_present(f, present), {f.code}
        while code not in entries and code not in seen:
            seen.add(code)
            code = _first_present(first_of[code], present)
        if code in entries:
            entries[code].symptoms.append(f)
        else:  # a cycle of causes with nothing outside it: the finding stands on its own
            entries.setdefault(f.code, Cause([])).findings.append(f)
    listed = [*entries.values(), *independent]
    return sorted(listed, key=lambda e: -e.rank)  # stable: the order above kept


def _first_present(f: Finding, present: set[str]) -> str:
    return next(c for c in f.caused_by if c in present)
