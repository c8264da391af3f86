"""What the tests of the spec-less path (the user's code is the network, tests/test_own_*.py,
test_usercode_cases.py, test_styles.py) share: diagnosing a spec through the CLI as a user would,
reading its JSON report, and planting a bug in a learner's file (a .py or a notebook)."""

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


def plant(file: Path, find: str, replace: str) -> None:
    """A planted bug: `find` (there once, in a .py file or across a notebook's code cells, never
    spanning two) replaced."""
    if file.suffix != ".ipynb":
        text = file.read_text(encoding="utf-8")
        assert text.count(find) == 1, find
        file.write_text(text.replace(find, replace), encoding="utf-8")
        return
    notebook = json.loads(file.read_text(encoding="utf-8"))
    found = 0
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and find in source:
            found += source.count(find)
            cell["source"] = source.replace(find, replace).splitlines(keepends=True)
    assert found == 1, find
    file.write_text(json.dumps(notebook), encoding="utf-8")


def lines_with(file: Path, text: str) -> list[tuple[int | None, int]]:
    """(cell, line) of each line of a .py file or of a notebook's cells that holds `text`."""
    sources: list[tuple[int | None, str]]
    if file.suffix == ".ipynb":
        cells = json.loads(file.read_text(encoding="utf-8"))["cells"]
        sources = [(i, "".join(c["source"])) for i, c in enumerate(cells)]
    else:
        sources = [(None, file.read_text(encoding="utf-8"))]
    return [
        (cell, number)
        for cell, source in sources
        for number, line in enumerate(source.splitlines(), start=1)
        if text in line
    ]
