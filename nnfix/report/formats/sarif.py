"""SARIF 2.1.0 for code scanning: the rule catalog with its help, results at spec lines or, for
the user's own code, at their line (the spec line as a related location)."""

from __future__ import annotations

import json
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

from nnfix import __version__
from nnfix.diagnose.findings import GRADIENTS_CHECKED, Finding, Report, Source
from nnfix.report.formats._common import fix_text, plain

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}

SUFFIXES = (".sarif",)  # --output names that ask for this format


def rule_descriptor(rule) -> dict:
    """A `reportingDescriptor` for one rule of the catalog, its help as `nnfix explain` has it."""
    text = f"{rule.detects}\n\nWhy it breaks training: {rule.why}\n\nHow to fix it: {rule.fix}"
    markdown = (
        f"**{rule.code} {rule.name}** ({rule.severity.value}): {rule.summary}\n\n"
        f"{rule.detects}\n\n"
        f"**Why it breaks training.** {rule.why}\n\n"
        f"**How to fix it.** {rule.fix}\n\n"
        f"Before:\n\n```yaml\n{rule.before.rstrip()}\n```\n\n"
        f"After:\n\n```yaml\n{rule.after.rstrip()}\n```\n"
    )
    if rule.thresholds:
        text += f"\n\nWhen it fires: {rule.thresholds}"
        markdown += f"\n**When it fires.** {rule.thresholds}\n"
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.detects},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[rule.severity.value]},
    }


def artifact_location(spec: str) -> dict:
    """The spec file as a URI reference: relative paths stay relative (forward slashes, to the
    checkout root `%SRCROOT%`), absolute ones become file: URIs."""
    if PurePosixPath(spec).is_absolute() or PureWindowsPath(spec).is_absolute():
        path = PureWindowsPath(spec) if PureWindowsPath(spec).drive else PurePosixPath(spec)
        return {"uri": path.as_uri()}
    relative = spec.replace("\\", "/")
    while relative.startswith("./"):
        relative = relative[2:]
    # `:` always escaped (a first segment with one would read as a scheme), spaces and the like too
    return {"uri": quote(relative, safe="/!$&'()*+,;=@"), "uriBaseId": "%SRCROOT%"}


def _spec_location(spec: str, f: Finding) -> dict:
    physical: dict = {"artifactLocation": artifact_location(spec)}
    if f.location.line:
        physical["region"] = {"startLine": f.location.line}
        if f.location.col:
            physical["region"]["startColumn"] = f.location.col
    return physical


def _source_location(source: Source) -> dict:
    """The user's line: a .py file's region with its text; a notebook cell's line has no
    region in the .ipynb file, so the cell and line go in the properties."""
    physical: dict = {"artifactLocation": artifact_location(source.file)}
    if source.cell is None:
        physical["region"] = {
            "startLine": source.line,
            "startColumn": source.col,
            "snippet": {"text": source.code},
        }
    return physical


def result(spec: str, f: Finding, index: dict[str, int]) -> dict:
    source = f.location.source
    physical = _spec_location(spec, f)
    message = f.message
    if f.caused_by:
        message += f" (caused by {', '.join(f.caused_by)})"
    if f.fix is not None:
        message += f". Fix: {fix_text(f.fix)}"
    out: dict = {"ruleId": f.code}
    if f.code in index:
        out["ruleIndex"] = index[f.code]
    out |= {
        "level": LEVEL[f.severity.value],
        "message": {"text": message},
        "locations": [
            {"physicalLocation": _source_location(source) if source is not None else physical}
        ],
        "properties": plain(
            {
                "layer": f.location.layer,
                "parameter": f.location.parameter,
                "specPath": f.location.spec_path or None,
                "evidence": f.evidence,
                "causedBy": f.caused_by,
            }
        ),
    }
    if source is not None:  # the spec line stays beside it
        out["relatedLocations"] = [
            {"id": 0, "physicalLocation": physical, "message": {"text": "the spec"}}
        ]
        if source.cell is not None:
            out["properties"]["cell"] = source.cell
            out["properties"]["cellLine"] = source.line
    return out


def _invocation(report: Report) -> dict:
    """Whether every spec could be read; each problem of one that could not, as a tool
    execution notification at its file and line (SARIF 2.1.0 §3.20, §3.58), and, as a warning,
    each spec whose gradients could not be checked."""
    notes = []
    for e in report.errors:
        physical: dict = {"artifactLocation": artifact_location(e.file)}
        if e.line:
            physical["region"] = {"startLine": e.line} | ({"startColumn": e.col} if e.col else {})
        notes.append(
            {
                "level": "error",
                "message": {"text": f"{e.path}: {e.message}" if e.path else e.message},
                "locations": [{"physicalLocation": physical}],
            }
        )
    for spec in report.specs:  # a check that verified nothing: said beside the results
        for f in spec.findings:
            if f.evidence.get(GRADIENTS_CHECKED) is False:
                notes.append(
                    {
                        "level": "warning",
                        "message": {"text": f"{spec.spec}: {f.message}"},
                        "locations": [{"physicalLocation": _spec_location(spec.spec, f)}],
                    }
                )
    return {"executionSuccessful": not report.errors, "toolExecutionNotifications": notes}


def render(report: Report) -> str:
    from nnfix.diagnose.rules import RULES

    catalog = list(RULES.values())
    index = {rule.code: i for i, rule in enumerate(catalog)}
    document = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nnfix",
                        "version": __version__,
                        "rules": [rule_descriptor(r) for r in catalog],
                    }
                },
                "results": [
                    result(spec.spec, f, index) for spec in report.specs for f in spec.ordered()
                ],
                "invocations": [_invocation(report)],
            }
        ],
    }
    return json.dumps(document, indent=2, allow_nan=False) + "\n"
