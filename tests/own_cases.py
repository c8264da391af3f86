"""What the tests of the spec-less path (the user's code is the network, tests/test_own_*.py)
share: diagnosing a spec through the CLI as a user would, and reading its JSON report."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from nnfix.cli import main


def diagnose(spec: Path) -> tuple[int, dict]:
    """`nnfix diagnose SPEC --format json`: the exit code and the report (never an internal
    error)."""
    result = CliRunner().invoke(main, ["diagnose", str(spec), "--format", "json"])
    assert "internal error" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout)


def findings(report: dict) -> list[dict]:
    return report["specs"][0]["findings"]


def errors(report: dict) -> list[dict]:
    return [f for f in findings(report) if f["severity"] == "error"]


def write_case(tmp_path: Path, code: str, spec: str, find: str = "", replace: str = "") -> Path:
    """Their module as net.py (with `find`, which must be there once, replaced) beside the spec;
    the spec's path."""
    if find:
        assert code.count(find) == 1, find
        code = code.replace(find, replace)
    (tmp_path / "net.py").write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(spec).lstrip(), encoding="utf-8")
    return tmp_path / "spec.yaml"
