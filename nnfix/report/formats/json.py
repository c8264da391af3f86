"""The JSON report: stable and versioned (docs/report-schema.md); `load` reads it back."""

from __future__ import annotations

import json

from nnfix import __version__
from nnfix.diagnose.findings import (
    Finding,
    Fix,
    InputProblem,
    Location,
    PassRun,
    Report,
    Severity,
    Source,
    SpecReport,
)
from nnfix.errors import SpecPath
from nnfix.report.formats._common import plain

SCHEMA_VERSION = 1  # `nnfix_report`: bumped when a field is removed, renamed or changes meaning

SUFFIXES = (".json",)  # --output names that ask for this format


def finding_document(f: Finding) -> dict:
    return {
        "code": f.code,
        "name": f.name,
        "severity": f.severity.value,
        "message": f.message,
        "root_cause": f.is_root_cause,
        "caused_by": list(f.caused_by),
        "location": {
            "layer": f.location.layer,
            "parameter": f.location.parameter,
            "spec_path": f.location.spec_path or None,
            "path": plain(f.location.path),
            "line": f.location.line,
            "col": f.location.col,
            "source": None if f.location.source is None else _source(f.location.source),
        },
        "evidence": plain(f.evidence),
        "fix": None
        if f.fix is None
        else {
            "description": f.fix.description,
            "spec_path": f.fix.spec_path,
            "path": plain(f.fix.path) if f.fix.path else None,
            "value": plain(f.fix.value),
        },
    }


def _source(s: Source) -> dict:
    out: dict = {"file": s.file, "line": s.line, "col": s.col, "code": s.code}
    if s.cell is not None:
        out["cell"] = s.cell
    return out


def _pass_document(p: PassRun) -> dict:
    return {
        "name": p.name,
        "seconds": round(p.seconds, 4),
        "skipped": p.skipped,
        "codes": list(getattr(p, "codes", ())),
    }


def spec_document(s: SpecReport) -> dict:
    inferred = {"inferred": list(s.inferred)} if s.inferred else {}  # a .py without a spec
    return {
        "spec": s.spec,
        "name": s.name,
        "fail_on": s.fail_on,
        "verdict": s.verdict,
        "passes": [_pass_document(p) for p in s.passes],
        "layers": plain(s.layers),
        "about": list(s.about),
        **inferred,
        "printed": {"lines": s.printed_lines, "first": list(s.printed)},
        "findings": [finding_document(f) for f in s.ordered()],
    }


def error_document(e: InputProblem) -> dict:
    return {
        "spec": e.spec,
        "file": e.file,
        "line": e.line,
        "col": e.col,
        "path": e.path or None,
        "message": e.message,
        "what": e.what,
    }


def document(report: Report) -> dict:
    """The report as the JSON document's Python value (plain dicts, lists and scalars)."""
    return {
        "nnfix_report": SCHEMA_VERSION,
        "version": __version__,
        "verdict": report.verdict,
        "fail_on": report.fail_on,
        "counts": report.counts(),
        "specs": [spec_document(s) for s in report.specs],
        "errors": [error_document(e) for e in report.errors],
    }


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, allow_nan=False) + "\n"


def _spec_path(path: list | None, text: str | None) -> SpecPath:
    """A spec path back from the document: its `path` array, else its dotted `spec_path`."""
    if path:
        return tuple(path)
    if not text:
        return ()
    from nnfix.spec.overrides import parse_key

    try:
        return parse_key(text)
    except ValueError:
        return (text,)


def _read_source(s: dict | None) -> Source | None:
    if not s:
        return None
    return Source(
        s["file"], int(s["line"]), int(s.get("col") or 1), s.get("code") or "", s.get("cell")
    )


def _finding(f: dict) -> Finding:
    loc = f.get("location") or {}
    fix = f.get("fix")
    return Finding(
        code=f["code"],
        name=f["name"],
        severity=Severity(f["severity"]),
        message=f["message"],
        location=Location(
            loc.get("layer"),
            loc.get("parameter"),
            _spec_path(loc.get("path"), loc.get("spec_path")),
            loc.get("line"),
            loc.get("col"),
            _read_source(loc.get("source")),
        ),
        evidence=dict(f.get("evidence") or {}),
        fix=None
        if fix is None
        else Fix(
            fix["description"],
            _spec_path(fix.get("path"), fix.get("spec_path")) or None,
            fix.get("value"),
        ),
        caused_by=list(f.get("caused_by") or []),
    )


def _pass(p: dict) -> PassRun:
    run = PassRun(p["name"], p["seconds"], p.get("skipped"))
    if hasattr(run, "codes"):
        run.codes = tuple(p.get("codes") or ())
    return run


def load(text: str) -> Report:
    """A report back from its JSON (the inverse of `render`; non-finite evidence comes back
    as None). Raises ValueError for a document that is not an `nnfix_report` 1."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("nnfix_report") != SCHEMA_VERSION:
        raise ValueError(f"not an nnfix report of schema version {SCHEMA_VERSION}")
    specs = [
        SpecReport(
            spec=s["spec"],
            name=s["name"],
            fail_on=s.get("fail_on", data.get("fail_on", "error")),
            findings=[_finding(f) for f in s["findings"]],
            passes=[_pass(p) for p in s.get("passes", [])],
            layers=list(s.get("layers") or []),
            about=list(s.get("about") or []),
            inferred=list(s.get("inferred") or []),
            printed=list((s.get("printed") or {}).get("first") or []),
            printed_lines=int((s.get("printed") or {}).get("lines") or 0),
        )
        for s in data["specs"]
    ]
    errors = [
        InputProblem(
            spec=e["spec"],
            file=e["file"],
            line=e.get("line"),
            col=e.get("col"),
            path=e.get("path") or "",
            message=e["message"],
            what=e.get("what", "the spec"),
        )
        for e in data.get("errors") or []
    ]
    return Report(specs, fail_on=data.get("fail_on", "error"), errors=errors)
