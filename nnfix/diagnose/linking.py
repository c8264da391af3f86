"""Findings linked once every check has run: a symptom turned into the rule its cause makes
of it, noise dropped, each finding given the codes of the findings that explain it (the rules
declare both: `causes=`, `suppressed_by=`, `becomes=`)."""

from __future__ import annotations

from nnfix.diagnose import rules
from nnfix.diagnose.findings import Finding, Severity


def link(findings: list[Finding]) -> list[Finding]:
    """Turn the findings another one shows to be a bug's symptom into that symptom's rule; drop
    the findings another one makes noise of; give each the codes of the findings that explain
    it, most direct first (for layered causes, the nearest layer first)."""
    present = {f.code for f in findings}
    findings = [_became(f, present) for f in findings]
    present = {f.code for f in findings}
    kept = [f for f in findings if not present & set(rules.RULES[f.code].suppressed_by)]
    kept = _once_per_function(kept)
    for f in kept:
        codes: list[str] = []
        notes: list[str | None] = []
        for cause in rules.RULES[f.code].causes:
            if cause.when is not None and not cause.when(f):
                continue
            matches = [g for g in kept if cause.explains(g, f)]
            matches.sort(key=lambda g: (g.location.layer or 0) - (f.location.layer or 0))
            codes += [g.code for g in matches]
            notes += [cause.note] if matches else []
        f.caused_by = list(dict.fromkeys(codes))
        if notes and all(notes):
            f.message += "; " + "; ".join(dict.fromkeys(n for n in notes if n))
        if f.code == "T106" and not f.caused_by and "G104" not in present:
            _slow_not_broken(f)
    return kept


def _slow_not_broken(f: Finding) -> None:
    """A T106 the gradient check contradicts: every gradient was checked and found right, so
    failing to memorise a few samples is the optimisation's difficulty (a deep stack of
    saturating units, a regression target to 1 %), not a bug — a warning, not an error."""
    f.severity = Severity.WARNING
    f.message += (
        "; but the gradient check found every gradient right, so this is how hard the net is "
        "to optimise (depth, saturating units), not a bug in its math"
    )


def _became(f: Finding, present: set[str]) -> Finding:
    becomes = rules.RULES[f.code].becomes
    if becomes is None or not present & set(becomes.when):
        return f
    return becomes.make(f)


def _once_per_function(findings: list[Finding]) -> list[Finding]:
    """One U101 per function of the user's (the first check that called it reports it; the
    others met the same error again)."""
    seen: set[tuple] = set()
    out = []
    for f in findings:
        key = (f.code, tuple(f.location.path), f.location.parameter)
        if f.code == "U101" and f.severity.value == "error":
            if key in seen:
                continue
            seen.add(key)
        out.append(f)
    return out
