"""JUnit XML: <testsuites> › a <testsuite> per spec › a <testcase> per rule checked, with a
<failure> where the rule fired at warning or error (info findings go to <system-out>)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from nnfix.diagnose.findings import GRADIENTS_CHECKED, Finding, Report, SpecReport
from nnfix.report.formats._common import evidence_text, fix_text, where

# what XML 1.0 cannot hold even escaped (ANSI colour codes in a traceback, say)
_NOT_XML = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])

SUFFIXES = (".xml",)  # --output names that ask for this format
UNVERIFIED = ("G101", "G105")  # what a gradient check that verified no tensor could not find


def xml_text(text: str) -> str:
    return text.translate(_NOT_XML)


def details(spec: str, f: Finding) -> str:
    """A finding as the text of its <failure> or <system-out>: location, evidence, fix."""
    lines = [f"{where(spec, f)}: {f.code} {f.name} [{f.severity.value}] {f.message}"]
    if f.location.source is not None:
        lines.append(f"at: {f.location.source}: {f.location.source.code}")
    if f.location.spec_path:
        lines.append(f"spec path: {f.location.spec_path}")
    if f.location.parameter or f.location.layer:
        lines.append(f"parameter: {f.location.parameter or f'layer {f.location.layer}'}")
    if f.caused_by:
        lines.append(f"caused by: {', '.join(f.caused_by)}")
    if evidence := evidence_text(f):
        lines.append(f"evidence: {evidence}")
    if "traceback" in f.evidence:
        lines.append(str(f.evidence["traceback"]).rstrip("\n"))
    if f.fix is not None:
        lines.append(f"fix: {fix_text(f.fix)}")
    return "\n".join(lines)


def _codes(report: Report, checked: set[str] | None) -> list[tuple[str, str]]:
    """(code, name) of every test case: the rules checked in catalog order, then any code that
    fired without being in `checked` (a finding is never dropped)."""
    from nnfix.diagnose.rules import RULES

    names = {code: rule.name for code, rule in RULES.items()}
    codes = [c for c in RULES if checked is None or c in checked]
    for f in report.findings:
        names.setdefault(f.code, f.name)
        if f.code not in codes:
            codes.append(f.code)
    return [(c, names.get(c, "")) for c in codes]


def _skipped(spec: SpecReport, code: str) -> str | None:
    """Why `code` was not checked on this spec: every pass that checks it was skipped, or the
    gradient check behind it verified no tensor (never a passing test case: SPEC §3.5)."""
    if code in UNVERIFIED and spec.unchecked:
        return next(f.message for f in spec.findings if f.evidence.get(GRADIENTS_CHECKED) is False)
    covering = [p for p in spec.passes if code in getattr(p, "codes", ())]
    if covering and all(p.skipped for p in covering):
        return "; ".join(sorted({p.skipped for p in covering if p.skipped}))
    return None


def _suite(root: ET.Element, spec: SpecReport, codes: list[tuple[str, str]]) -> tuple[int, int]:
    suite = ET.SubElement(root, "testsuite", name=xml_text(spec.spec))
    failures = skipped = 0
    for code, name in codes:
        case = ET.SubElement(
            suite, "testcase", classname=xml_text(spec.name), name=f"{code} {name}".strip()
        )
        hits = sorted((f for f in spec.findings if f.code == code), key=lambda f: -f.severity.rank)
        serious = [f for f in hits if f.severity.value in ("error", "warning")]
        if serious:
            failure = ET.SubElement(
                case,
                "failure",
                message=xml_text(serious[0].message),
                type=serious[0].severity.value,
            )
            failure.text = xml_text("\n\n".join(details(spec.spec, f) for f in serious))
            failures += 1
            source = next((f.location.source for f in serious if f.location.source), None)
            if source is not None:  # as pytest's junit: the file and line the failure is at
                case.set("file", xml_text(source.file))
                if source.cell is None:
                    case.set("line", str(source.line))
        elif not hits and (reason := _skipped(spec, code)):
            ET.SubElement(case, "skipped", message=reason)
            skipped += 1
        if hits and not serious:
            out = ET.SubElement(case, "system-out")
            out.text = xml_text("\n\n".join(details(spec.spec, f) for f in hits))
    seconds = sum(p.seconds for p in spec.passes)
    suite.set("tests", str(len(codes)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    suite.set("time", f"{seconds:.3f}")
    return failures, skipped


def _unread(root: ET.Element, report: Report) -> int:
    """A suite per spec that could not be read, its one test in <error> (as pytest reports a
    test module that fails to import); the number of such specs."""
    specs = list(dict.fromkeys(e.spec for e in report.errors))
    for spec in specs:
        problems = [e for e in report.errors if e.spec == spec]
        suite = ET.SubElement(
            root, "testsuite", name=xml_text(spec), tests="1", failures="0", errors="1"
        )
        case = ET.SubElement(suite, "testcase", classname=xml_text(spec), name="read")
        first = problems[0]
        error = ET.SubElement(case, "error", message=xml_text(first.message), type="input")
        error.text = xml_text(
            "\n".join(
                f"{e.file}{f':{e.line}' if e.line else ''}{f':{e.col}' if e.line and e.col else ''}: "
                f"{e.path + ': ' if e.path else ''}{e.message}"
                for e in problems
            )
        )
        case.set("file", xml_text(first.file))
        if first.line:
            case.set("line", str(first.line))
    return len(specs)


def render(report: Report) -> str:
    checked = report.checked
    """`checked`: the codes that were selected (default: every rule of the catalog)."""
    codes = _codes(report, checked)
    root = ET.Element("testsuites", name="nnfix")
    failures = skipped = 0
    for spec in report.specs:
        failed, skip = _suite(root, spec, codes)
        failures += failed
        skipped += skip
    unread = _unread(root, report)
    root.set("tests", str(len(codes) * len(report.specs) + unread))
    root.set("failures", str(failures))
    root.set("errors", str(unread))
    root.set("skipped", str(skipped))
    root.set("time", f"{sum(p.seconds for s in report.specs for p in s.passes):.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
