"""A spec, data file or module that could not be read is an error in every format, never a
pass (SPEC §5): JSON "verdict": "error" with the located problem, a failing JUnit testcase, an
unsuccessful SARIF run with an error notification, ERROR in rich; and report files get the
permissions of any file the user creates (the umask)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import sampled

ROOT = Path(__file__).resolve().parent.parent


def nnfix(*args: str, cwd: Path) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "nnfix", *args],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )
    return done.returncode, done.stdout, done.stderr


def unreadable_spec(folder: Path) -> tuple[str, int]:
    (folder / "spec.yaml").write_text(
        "data: {source: moons}\nmodel:\n  layers: [{units: -3, activation: tanh}]\nloss: bce\n"
    )
    return "spec.yaml", 3


def unreadable_data(folder: Path) -> tuple[str, int]:
    (folder / "points.csv").write_text("x1,x2,y\n0.1,0.2,1\n0.3,oops,0\n")
    (folder / "spec.yaml").write_text(
        "data:\n  source: csv\n  path: points.csv\n  target: y\nmodel:\n  layers: [{units: 1, activation: sigmoid}]\n"
        "loss: bce\n"
    )
    return "points.csv", 3


def unreadable_module(folder: Path) -> tuple[str, int]:
    (folder / "net.py").write_text("import numpy as np\n\ndef forward(X, params:\n    pass\n")
    (folder / "spec.yaml").write_text(
        "data: {source: moons, samples: 64}\nmodel:\n  layers: [{units: 4, activation: tanh}, "
        "{units: 1, activation: sigmoid}]\nloss: bce\nimplementation:\n  module: net.py\n  forward: forward\n"
        "  backward: backward\n"
    )
    return "net.py", 3


CASES = {"spec": unreadable_spec, "data": unreadable_data, "module": unreadable_module}


@pytest.mark.parametrize("case", sampled(CASES, every=3))
def test_an_unreadable_input_is_an_error_in_every_format(tmp_path, case):
    file, line = CASES[case](tmp_path)
    outputs = {}
    for fmt in ("json", "junit", "sarif", "rich", "github", "markdown"):
        code, out, err = nnfix("diagnose", "spec.yaml", "--format", fmt, cwd=tmp_path)
        assert code == 2, (fmt, out, err)
        assert "internal error" not in err
        outputs[fmt] = out

    doc = json.loads(outputs["json"])
    assert doc["verdict"] == "error" and doc["specs"] == []
    assert any(e["file"].endswith(file) and e["line"] == line for e in doc["errors"]), doc

    suite = ET.fromstring(outputs["junit"])
    failing = [c for c in suite.iter("testcase") if c.find("error") is not None]
    assert failing, outputs["junit"]  # a failing testcase, not tests="0"
    assert int(suite.get("errors") or suite.find("testsuite").get("errors")) >= 1

    run = json.loads(outputs["sarif"])["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any(n["level"] == "error" for n in notes)

    assert outputs["rich"].startswith("ERROR") and "PASS" not in outputs["rich"]
    assert f"file={file}" in outputs["github"] or f"file={tmp_path / file}" in outputs["github"]
    assert "pass" not in outputs["markdown"].lower().split("error")[0]


@pytest.mark.parametrize("mask", sampled([0o022, 0o077, 0o002], every=3))
def test_report_files_get_the_users_umask(tmp_path, mask):
    (tmp_path / "spec.yaml").write_text(
        (ROOT / "configs" / "story-zero-init.yaml").read_text(encoding="utf-8")
    )
    previous = os.umask(mask)
    try:
        for name in ("report.json", "report.sarif", "report.md"):
            code, _, err = nnfix("diagnose", "spec.yaml", "--quick", "--output", name, cwd=tmp_path)
            assert code == 1, err
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask
    finally:
        os.umask(previous)
