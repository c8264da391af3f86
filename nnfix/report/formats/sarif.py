"""SARIF 2.1.0 for code scanning: the rule catalog with its help, results at spec lines."""

from __future__ import annotations

import json

from nnfix import __version__
from nnfix.diagnose import rules
from nnfix.diagnose.findings import Report
from nnfix.report.formats.json import plain

LEVEL = {"error": "error", "warning": "warning", "info": "note"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rule(rule: rules.Rule) -> dict:
    text = f"{rule.detects}\n\nWhy it breaks training: {rule.why}\n\nHow to fix it: {rule.fix}"
    markdown = (
        f"**{rule.code} {rule.name}**: {rule.summary}\n\n{rule.detects}\n\n"
        f"**Why it breaks training.** {rule.why}\n\n**How to fix it.** {rule.fix}\n\n"
        f"Before:\n\n```yaml\n{rule.before.rstrip()}\n```\n\nAfter:\n\n```yaml\n{rule.after.rstrip()}\n```\n"
    )
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.detects},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[rule.severity.value]},
        "properties": {"tags": [rules.categories()[rule.code[0]]]},
    }


def render(report: Report) -> str:
    catalog = list(rules.RULES.values())
    index = {rule.code: i for i, rule in enumerate(catalog)}
    results = []
    for spec in report.specs:
        for f in spec.ordered():
            region = {}
            if f.location.line:
                region["startLine"] = f.location.line
                if f.location.col:
                    region["startColumn"] = f.location.col
            physical = {"artifactLocation": {"uri": spec.spec.replace("\\", "/")}}
            if region:
                physical["region"] = region
            message = f.message
            if f.fix is not None:
                change = f"{f.fix.spec_path}: {f.fix.value} — " if f.fix.spec_path else ""
                message += f" Fix: {change}{f.fix.description}"
            results.append(
                {
                    "ruleId": f.code,
                    "ruleIndex": index[f.code],
                    "level": LEVEL[f.severity.value],
                    "message": {"text": message},
                    "locations": [{"physicalLocation": physical}],
                    "properties": plain(
                        {
                            "layer": f.location.layer,
                            "parameter": f.location.parameter,
                            "specPath": f.location.spec_path,
                            "evidence": f.evidence,
                            "causedBy": f.caused_by,
                        }
                    ),
                }
            )
    document = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nnfix",
                        "version": __version__,
                        "rules": [_rule(r) for r in catalog],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2, allow_nan=False)
