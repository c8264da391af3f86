"""Markdown for a pull-request comment or $GITHUB_STEP_SUMMARY: verdict, a table per spec,
root causes first, then the fixes."""

from __future__ import annotations

from nnfix.diagnose.findings import Report

ICON = {"error": "🔴 error", "warning": "🟡 warning", "info": "🔵 info"}


def cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def render(report: Report) -> str:
    counts = report.counts()
    verdict = "❌ fail" if report.failed else "✅ pass"
    out = [
        f"## nnfix diagnose: {verdict}",
        "",
        f"{len(report.specs)} spec(s): {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info (fail on {report.fail_on})",
        "",
    ]
    for spec in report.specs:
        out.append(f"### `{spec.spec}`")
        out.append("")
        findings = spec.ordered()
        if not findings:
            out += ["No findings.", ""]
            continue
        out.append("| severity | code | name | location | message |")
        out.append("| --- | --- | --- | --- | --- |")
        for f in findings:
            where = f"`{spec.spec}:{f.location.line}`" if f.location.line else f"`{spec.spec}`"
            if f.location.spec_path:
                where += f" `{f.location.spec_path}`"
            code = f.code if f.is_root_cause else f"↳ {f.code}"
            message = f.message + (f" (caused by {', '.join(f.caused_by)})" if f.caused_by else "")
            out.append(
                f"| {ICON[f.severity.value]} | {code} | {cell(f.name)} | {cell(where)} | {cell(message)} |"
            )
        fixes = [f for f in findings if f.fix is not None]
        if fixes:
            out += ["", "**Fixes**", ""]
            for f in fixes:
                change = f"`{f.fix.spec_path}: {f.fix.value}` — " if f.fix.spec_path else ""
                out.append(f"- {f.code}: {change}{f.fix.description}")
        out.append("")
    return "\n".join(out)
