"""What the tests of the spec-less path (the user's code is the network, tests/test_own_*.py)
share: diagnosing a spec through the CLI as a user would, and reading its JSON report."""

from __future__ import annotations

import json
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
