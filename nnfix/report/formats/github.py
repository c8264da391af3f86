"""GitHub Actions workflow commands: one annotation per finding, on its spec line."""

from __future__ import annotations

from nnfix.diagnose.findings import Report

LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    lines = []
    for spec in report.specs:
        for f in spec.ordered():
            props = [f"file={escape_property(spec.spec)}"]
            if f.location.line:
                props.append(f"line={f.location.line}")
                if f.location.col:
                    props.append(f"col={f.location.col}")
            props.append(f"title={escape_property(f'nnfix {f.code} {f.name}')}")
            message = f.message
            if f.caused_by:
                message += f" (caused by {', '.join(f.caused_by)})"
            if f.fix is not None:
                change = f"{f.fix.spec_path}: {f.fix.value}; " if f.fix.spec_path else ""
                message += f", fix: {change}{f.fix.description}"
            lines.append(f"::{LEVEL[f.severity.value]} {','.join(props)}::{escape_data(message)}")
    return "\n".join(lines) + ("\n" if lines else "")
