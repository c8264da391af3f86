"""The JSON report: stable and versioned (docs/report-schema.md); `load` reads it back."""

from __future__ import annotations

import json
import math

from nnfix import __version__
from nnfix.diagnose.findings import Finding, Fix, Location, PassRun, Report, Severity, SpecReport

SCHEMA_VERSION = 1


def plain(value):
    """JSON-safe: numpy scalars and arrays to Python, non-finite floats to null."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def finding_dict(f: Finding) -> dict:
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
            "line": f.location.line,
            "col": f.location.col,
        },
        "evidence": plain(f.evidence),
        "fix": (
            {
                "description": f.fix.description,
                "spec_path": f.fix.spec_path,
                "value": plain(f.fix.value),
            }
            if f.fix
            else None
        ),
    }


def document(report: Report) -> dict:
    return {
        "nnfix_report": SCHEMA_VERSION,
        "version": __version__,
        "verdict": "fail" if report.failed else "pass",
        "fail_on": report.fail_on,
        "counts": report.counts(),
        "specs": [
            {
                "spec": s.spec,
                "name": s.name,
                "fail_on": s.fail_on,
                "verdict": "fail" if s.failed else "pass",
                "passes": [
                    {
                        "name": p.name,
                        "seconds": round(p.seconds, 4),
                        "skipped": p.skipped,
                        "codes": list(p.codes),
                    }
                    for p in s.passes
                ],
                "layers": plain(s.layers),
                "findings": [finding_dict(f) for f in s.ordered()],
            }
            for s in report.specs
        ],
    }


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, allow_nan=False)


def _path(text: str | None) -> tuple:
    if not text:
        return ()
    from nnfix.spec.overrides import parse_key

    return parse_key(text)


def load(text: str) -> Report:
    """A report back from its JSON (the inverse of `render`)."""
    data = json.loads(text)
    if data.get("nnfix_report") != SCHEMA_VERSION:
        raise ValueError(f"not an nnfix report of schema version {SCHEMA_VERSION}")
    specs = []
    for s in data["specs"]:
        findings = []
        for f in s["findings"]:
            loc = f["location"]
            fix = f["fix"]
            findings.append(
                Finding(
                    code=f["code"],
                    name=f["name"],
                    severity=Severity(f["severity"]),
                    message=f["message"],
                    location=Location(
                        loc["layer"],
                        loc["parameter"],
                        _path(loc["spec_path"]),
                        loc["line"],
                        loc["col"],
                    ),
                    evidence=f["evidence"],
                    fix=Fix(fix["description"], _path(fix["spec_path"]) or None, fix["value"])
                    if fix
                    else None,
                    caused_by=f["caused_by"],
                )
            )
        passes = [
            PassRun(p["name"], p["seconds"], p["skipped"], tuple(p["codes"])) for p in s["passes"]
        ]
        specs.append(
            SpecReport(
                s["spec"], s["name"], s.get("fail_on", "error"), findings, passes, s["layers"]
            )
        )
    return Report(specs, fail_on=data["fail_on"])
