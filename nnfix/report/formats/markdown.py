"""Markdown for a pull-request comment or $GITHUB_STEP_SUMMARY: the verdict and counts, per
spec a table of its root causes (where, message, fix, what each explains), then every finding
in a folded table."""

from __future__ import annotations

import re

from nnfix.diagnose.findings import Finding, Report, SpecReport
from nnfix.report.causes import Cause, causes
from nnfix.report.controls import escape_controls

SEVERITY = {"error": "🔴 error", "warning": "🟡 warning", "info": "🔵 info"}
COLUMNS = ("severity", "code", "name", "location", "message")
CAUSE_COLUMNS = ("root cause", "location", "message", "fix", "explains")

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")

SUFFIXES = (".md", ".markdown")  # --output names that ask for this format
VERDICT = {
    "error": "⛔ error",
    "fail": "❌ fail",
    "unchecked": "⚠️ unchecked: the gradients were not checked",
    "pass": "✅ pass",
}


def text(value: object) -> str:
    """Plain text inside a table cell or list item: markdown punctuation escaped (so `z**2`
    stays `z**2` and `|` does not end the cell), line breaks folded into spaces."""
    one_line = " ".join(str(value).split("\n")).replace("\r", "")
    return _SPECIAL.sub(r"\\\1", one_line)


def code(value: object, *, cell: bool = True) -> str:
    """An inline code span that holds any text: a fence longer than its backtick runs; in a
    table cell `|` escaped (GitHub unescapes it there, inside code spans too)."""
    raw = " ".join(str(value).split("\n")).replace("\r", "")
    longest = max((len(run) for run in re.findall(r"`+", raw)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if raw.startswith("`") or raw.endswith("`") else ""
    if cell:
        raw = raw.replace("|", "\\|")
    return f"{fence}{pad}{raw}{pad}{fence}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 or word == 'info' else 's'}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _location(spec: str, f: Finding) -> str:
    at = f"{spec}:{f.location.line}" if f.location.line else spec
    parts = [code(at)]
    if f.location.spec_path:
        parts.append(code(f.location.spec_path))
    if f.location.parameter:
        parts.append(text(f.location.parameter))
    if f.location.source is not None:  # the user's line
        parts.append("<br>" + code(str(f.location.source)) + " " + code(f.location.source.code))
    return " ".join(parts)


def _code(f: Finding) -> str:
    if f.is_root_cause:
        return f"**{f.code}**"
    return f"{f.code}<br>↳ caused by {', '.join(f.caused_by)}"


def _cause_row(spec: str, cause: Cause) -> str:
    first = cause.first
    where = _location(spec, first) + (f" {text(cause.where())}" if len(cause.findings) > 1 else "")
    change = cause.change()
    fix = ""
    if change is not None:
        key, why = change
        fix = (f"{code(key)} — " if key else "") + text(why)
    explains = ", ".join(f"{c} ×{n}" if n > 1 else c for c, n, _ in cause.explained())
    head = f"{SEVERITY[first.severity.value]} **{first.code}** {text(first.name)}"
    return _row([head, where, text(first.message), fix, explains])


def _spec(spec: SpecReport) -> list[str]:
    findings = spec.ordered()
    title = code(spec.spec, cell=False) + (f" ({text(spec.name)})" if spec.name else "")
    if not findings:
        return [f"### ✅ {title}: no findings", ""]
    mark = "❌" if spec.failed else "⚠️"
    if spec.unchecked and not spec.failed:
        title += " — the gradients were not checked"
    counts = {s: sum(f.severity.value == s for f in findings) for s in SEVERITY}
    entries = causes(spec)
    summary = _plural(len(entries), "root cause") + " · "
    summary += ", ".join(_plural(n, s) for s, n in counts.items() if n)
    out = [f"### {mark} {title}: {summary}", ""]
    out += [_row(list(CAUSE_COLUMNS)), _row(["---"] * len(CAUSE_COLUMNS))]
    out += [_cause_row(spec.spec, cause) for cause in entries]
    out += [
        "",
        f"<details><summary>every finding ({len(findings)})</summary>",
        "",
        _row(list(COLUMNS)),
        _row(["---"] * len(COLUMNS)),
    ]
    for f in findings:
        out.append(
            _row(
                [
                    SEVERITY[f.severity.value],
                    _code(f),
                    text(f.name),
                    _location(spec.spec, f),
                    text(f.message),
                ]
            )
        )
    return [*out, "", "</details>", ""]


def _errors(report: Report) -> list[str]:
    """The specs that could not be read, each problem at its file and line."""
    out = ["### ⛔ could not be read (nothing was diagnosed for these)", ""]
    for e in report.errors:
        at = e.file + (f":{e.line}" if e.line else "") + (f":{e.col}" if e.line and e.col else "")
        key = f" {code(e.path, cell=False)}" if e.path else ""
        out.append(f"- {code(at, cell=False)}{key}: {text(e.message)}")
    return [*out, ""]


def render(report: Report) -> str:
    counts = report.counts()
    verdict = VERDICT[report.verdict]
    tally = ", ".join(_plural(counts[s], s) for s in ("error", "warning", "info"))
    out = [
        f"## nnfix diagnose: {verdict} — {tally}",
        "",
        f"{_plural(len(report.specs), 'spec')} diagnosed; fails on: {text(report.fail_on)}.",
        "",
    ]
    if report.errors:
        out += _errors(report)
    for spec in report.specs:
        out += _spec(spec)
    return escape_controls("\n".join(out).rstrip("\n") + "\n")
