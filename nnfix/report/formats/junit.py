"""JUnit XML: <testsuites> › a <testsuite> per spec › a <testcase> per rule checked, with a
<failure> where the rule fired at warning or error."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from nnfix.diagnose import rules
from nnfix.diagnose.findings import Finding, Report


def _details(f: Finding, spec: str) -> str:
    lines = [
        f"{spec}:{f.location.line or ''}:{f.location.col or ''} {f.code} {f.name}: {f.message}"
    ]
    if f.location.spec_path:
        lines.append(f"spec path: {f.location.spec_path}")
    if f.caused_by:
        lines.append(f"caused by: {', '.join(f.caused_by)}")
    if f.evidence:
        lines.append("evidence: " + "; ".join(f"{k} {v}" for k, v in f.evidence.items()))
    if f.fix is not None:
        lines.append(
            "fix: "
            + (f"{f.fix.spec_path}: {f.fix.value} — " if f.fix.spec_path else "")
            + f.fix.description
        )
    return "\n".join(lines)


def render(report: Report, checked: set[str] | None = None) -> str:
    codes = [c for c in rules.RULES if checked is None or c in checked]
    root = ET.Element("testsuites", name="nnfix")
    total = failures = 0
    for spec in report.specs:
        suite = ET.SubElement(root, "testsuite", name=spec.spec)
        seconds = sum(p.seconds for p in spec.passes)
        failed_here = 0
        for code in codes:
            rule = rules.RULES[code]
            case = ET.SubElement(suite, "testcase", classname=spec.name, name=f"{code} {rule.name}")
            hits = [f for f in spec.findings if f.code == code]
            serious = [f for f in hits if f.severity.value in ("error", "warning")]
            if serious:
                failure = ET.SubElement(
                    case, "failure", message=serious[0].message, type=serious[0].severity.value
                )
                failure.text = "\n\n".join(_details(f, spec.spec) for f in serious)
                failed_here += 1
            elif hits:
                ET.SubElement(case, "system-out").text = "\n\n".join(
                    _details(f, spec.spec) for f in hits
                )
        suite.set("tests", str(len(codes)))
        suite.set("failures", str(failed_here))
        suite.set("errors", "0")
        suite.set("time", f"{seconds:.3f}")
        total += len(codes)
        failures += failed_here
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
