"""GitHub Actions workflow commands: one annotation per finding, on its spec line or, for the
user's own code, on their file and line."""

from __future__ import annotations

from nnfix.diagnose.findings import Finding, InputProblem, Report
from nnfix.report.controls import escape_controls
from nnfix.report.formats._common import fix_text, where

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}

SUFFIXES = (".txt",)  # --output names that ask for this format


def escape_data(text: str) -> str:
    """As @actions/core escapes a command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """As @actions/core escapes a property value (file, title): also `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(spec: str, f: Finding) -> str:
    """`::error file=spec.yaml,line=14,col=7,title=nnfix A102 …::message, fix: …`; a finding
    about the user's own code goes on their .py file and line (a notebook: the file, with the
    cell and line in the message), and names the spec line in its message."""
    source = f.location.source
    message = f.message
    if source is not None:
        props = [f"file={escape_property(source.file)}"]
        if source.cell is None:
            props += [f"line={source.line}", f"col={source.col}"]
        else:
            message = f"cell {source.cell}, line {source.line}: {message}"
        message += f" ({where(spec, f)})"
    else:
        props = [f"file={escape_property(spec)}"]
        if f.location.line:
            props.append(f"line={f.location.line}")
            if f.location.col:
                props.append(f"col={f.location.col}")
        if not f.location.line and f.location.spec_path:
            message = f"{f.location.spec_path}: {message}"  # no line to point at: name the key
    props.append(f"title={escape_property(f'nnfix {f.code} {f.name}')}")
    if f.caused_by:
        message += f" (caused by {', '.join(f.caused_by)})"
    if f.fix is not None:
        message += f", fix: {fix_text(f.fix)}"
    return f"::{COMMAND[f.severity.value]} {','.join(props)}::{escape_data(message)}"


def error_annotation(e: InputProblem) -> str:
    """`::error file=spec.yaml,line=3,col=9,title=nnfix: the spec could not be read::…`"""
    props = [f"file={escape_property(e.file)}"]
    if e.line:
        props.append(f"line={e.line}")
        if e.col:
            props.append(f"col={e.col}")
    props.append(f"title={escape_property(f'nnfix: {e.what} could not be read')}")
    message = f"{e.path}: {e.message}" if e.path else e.message
    return f"::error {','.join(props)}::{escape_data(message)}"


def render(report: Report) -> str:
    lines = [error_annotation(e) for e in report.errors]
    lines += [annotation(spec.spec, f) for spec in report.specs for f in spec.ordered()]
    return escape_controls("".join(line + "\n" for line in lines))
