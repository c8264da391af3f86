"""Pointing at the user's line (SPEC §3) on a network written for this test in a style the
fixtures do not use (rows layout, caches in a list, derivative helpers written in A): the line
where the backward first goes wrong and the mistake, the caller named when the helper is right
in its other calls, nothing named on the correct code, and every report format carrying the
user's file and line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nnfix.diagnose.context import Options
from nnfix.diagnose.findings import Finding, Location, Report, Severity, Source, SpecReport
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.report.formats import github, junit, sarif
from nnfix.report.formats import json as json_format
from nnfix.report.snippet import caret, lines
from nnfix.spec.load import load_spec

CODE = """
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def tanh_grad(a):
    return 1 - a**2


def forward(params, X):
    caches = [X]
    h = np.tanh(X @ params["W1"] + params["b1"])
    caches.append(h)
    h2 = np.tanh(h @ params["W2"] + params["b2"])
    caches.append(h2)
    out = sigmoid(h2 @ params["W3"] + params["b3"])
    caches.append(out)
    return out, caches


def backward(params, caches, Y):
    X, h, h2, out = caches
    m = X.shape[0]
    d3 = (out - Y) / m
    g = {"W3": h2.T @ d3, "b3": d3.sum(0, keepdims=True)}
    d2 = (d3 @ params["W3"].T) * tanh_grad(h2)
    g["W2"] = h.T @ d2
    g["b2"] = d2.sum(0, keepdims=True)
    d1 = (d2 @ params["W2"].T) * tanh_grad(h)
    g["W1"] = X.T @ d1
    g["b1"] = d1.sum(0, keepdims=True)
    return g
"""

SPEC = """
seed: 3
data: {source: moons, samples: 200, noise: 0.1}
model:
  init: xavier_normal
  layers:
    - {units: 8, activation: tanh}
    - {units: 8, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
train: {lr: 0.5, epochs: 5, batch_size: full}
implementation:
  module: mlp.py
  forward: forward
  backward: backward
"""


def write_case(folder: Path, find: str = "", replace: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    code = CODE.lstrip("\n")
    if find:
        assert code.count(find) == 1
        code = code.replace(find, replace)
    (folder / "mlp.py").write_text(code, encoding="utf-8")
    (folder / "spec.yaml").write_text(textwrap.dedent(SPEC).lstrip(), encoding="utf-8")
    return folder / "spec.yaml"


def line_of(spec: Path, text: str) -> int:
    lines_ = (spec.parent / "mlp.py").read_text(encoding="utf-8").splitlines()
    (number,) = [n for n, line in enumerate(lines_, start=1) if text in line]
    return number


def first_g101(spec: Path) -> Finding:
    report = diagnose(load_spec(spec), Selection(), Options(quick=True, budget=60))
    return next(f for f in report.findings if f.code == "G101")


def test_the_correct_code_has_no_finding_and_no_line(tmp_path):
    spec = write_case(tmp_path)
    report = diagnose(load_spec(spec), Selection(), Options(quick=True, budget=60))
    assert [f.code for f in report.findings if f.severity.value == "error"] == []
    assert all(f.location.source is None for f in report.findings)


@pytest.mark.parametrize(
    ("find", "replace", "line", "tensor", "mistake"),
    [
        (  # Z where the helper is written in A: the helper is right for layer 1, so the call
            "tanh_grad(h2)",
            "tanh_grad(np.arctanh(h2))",
            "d2 = ",
            "W2",
            "tanh's derivative is written in A2 and given Z2",
        ),
        ("d2 = (d3", "d2 = 2 * (d3", "d2 = ", "W2", "twice the true value"),
        ('(d2 @ params["W2"].T)', '(d2 @ params["W2"])', "d1 = ", "W1", "W2 is used untransposed"),
        ("d3 = (out - Y) / m", "d3 = (Y - out) / m", "d3 = ", "W3", None),  # every tensor: G105
    ],
)
def test_the_line_where_the_backward_first_goes_wrong(
    tmp_path, find, replace, line, tensor, mistake
):
    spec = write_case(tmp_path, find, replace)
    report = diagnose(load_spec(spec), Selection(), Options(quick=True, budget=60))
    if mistake is None:  # the sign of every gradient: a convention, no line of theirs to blame
        assert [f.code for f in report.findings if f.code.startswith("G")] == ["G105"]
        assert all(f.location.source is None for f in report.findings)
        return
    finding = next(f for f in report.findings if f.code == "G101")
    assert finding.location.parameter == tensor
    source = finding.location.source
    assert source is not None and Path(source.file).name == "mlp.py"
    assert source.line == line_of(spec, line), finding.message
    assert source.code.startswith(line.strip())
    assert mistake in finding.evidence["culprit"]["mistake"]
    assert f"mlp.py:{source.line}" in finding.message


def test_a_helper_wrong_in_every_call_is_named_itself(tmp_path):
    spec = write_case(tmp_path, "return 1 - a**2", "return 1 - a")
    finding = first_g101(spec)
    assert finding.location.source.line == line_of(spec, "return 1 - a")
    assert finding.evidence["culprit"]["called_from"].startswith("mlp.py:")


# --- the formats ----------------------------------------------------------------------------------

SOURCE = Source("src/my_net.py", 47, 9, "dZ3 = dA3 * (1 - Z3**2)")


def report_with(source: Source) -> Report:
    finding = Finding(
        "G101",
        "gradient-mismatch",
        severity=Severity.ERROR,
        message="W3's gradient is wrong",
        location=Location(3, "W3", ("implementation", "backward"), 20, 13, source),
    )
    return Report([SpecReport("spec.yaml", "spec", findings=[finding])])


def test_github_annotates_the_user_s_file_and_line():
    text = github.render(report_with(SOURCE))
    assert text.startswith("::error file=src/my_net.py,line=47,col=9,")
    assert "(spec.yaml:20:13)" in text  # the spec line stays in the message
    cell = github.render(report_with(Source("net.ipynb", 3, 5, "dZ = dA", cell=4)))
    assert cell.startswith("::error file=net.ipynb,title=")  # no line of the .ipynb file
    assert "cell 4, line 3: " in cell


def test_sarif_puts_the_result_on_the_user_s_line_and_the_spec_beside_it():
    result = json.loads(sarif.render(report_with(SOURCE)))["runs"][0]["results"][0]
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "src/my_net.py"
    assert physical["region"] == {
        "startLine": 47,
        "startColumn": 9,
        "snippet": {"text": "dZ3 = dA3 * (1 - Z3**2)"},
    }
    related = result["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"] == "spec.yaml"
    assert related["region"]["startLine"] == 20


def test_junit_names_the_user_s_file_and_line_on_the_test_case():
    root = ET.fromstring(junit.render(report_with(SOURCE)))
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith("G101"))
    assert (case.get("file"), case.get("line")) == ("src/my_net.py", "47")
    assert "at: src/my_net.py:47:9: dZ3 = dA3 * (1 - Z3**2)" in case.find("failure").text


def test_json_carries_the_source_and_reads_it_back():
    text = json_format.render(report_with(SOURCE))
    location = json.loads(text)["specs"][0]["findings"][0]["location"]
    assert location["source"] == {
        "file": "src/my_net.py",
        "line": 47,
        "col": 9,
        "code": "dZ3 = dA3 * (1 - Z3**2)",
    }
    (back,) = json_format.load(text).findings
    assert back.location.source == SOURCE


# --- the snippet ------------------------------------------------------------------------------------


def test_the_snippet_shows_the_lines_around_with_a_caret(tmp_path):
    (tmp_path / "net.py").write_text("a = 1\nb = 2\n    dZ = dA * 2\nc = 3\n", encoding="utf-8")
    shown = lines(Source(str(tmp_path / "net.py"), 3, 5, "dZ = dA * 2"))
    assert [(l.number, l.marked) for l in shown] == [(1, False), (2, False), (3, True), (4, False)]
    assert caret(shown[2], 5) == "    ^^^^^^^^^^^"
    changed = lines(Source(str(tmp_path / "net.py"), 3, 5, "something else"))
    assert [(l.number, l.text.strip()) for l in changed] == [(3, "something else")]
    gone = lines(Source(str(tmp_path / "gone.py"), 3, 5, "dZ = dA * 2"))
    assert len(gone) == 1 and gone[0].marked


def test_the_snippet_reads_a_notebook_cell(tmp_path):
    cells = [
        {"cell_type": "markdown", "source": ["# t"]},
        {"cell_type": "code", "source": ["x = 1\n", "y = x\n"]},
    ]
    (tmp_path / "n.ipynb").write_text(json.dumps({"cells": cells}), encoding="utf-8")
    shown = lines(Source(str(tmp_path / "n.ipynb"), 2, 1, "y = x", cell=1))
    assert [(l.number, l.text, l.marked) for l in shown] == [
        (1, "x = 1", False),
        (2, "y = x", True),
    ]


def test_the_terminal_report_shows_the_user_s_line(tmp_path):
    spec = write_case(tmp_path, "tanh_grad(h2)", "tanh_grad(np.arctanh(h2))")
    done = subprocess.run(
        [sys.executable, "-m", "nnfix", "diagnose", str(spec), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1, done.stderr
    number = line_of(spec, "d2 = ")
    assert f"at mlp.py:{number}:5  d2 = (d3 @ params" in done.stdout  # the line, by default
    verbose = subprocess.run(
        [sys.executable, "-m", "nnfix", "diagnose", str(spec), "--quick", "-v"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert f"at mlp.py:{number}:5" in verbose.stdout  # -v: the lines around it, a caret
    assert f"> {number} |     d2 = (d3 @ params" in verbose.stdout
    assert "|     ^^^^" in verbose.stdout


def test_the_line_search_judges_each_value_once(tmp_path, monkeypatch):
    """Every search walks the values its backward made; each is judged against the truth once
    (a net of many same-shaped layers otherwise judged them again per finding, for minutes)."""
    from collections import Counter

    from nnfix.usercode import culprit
    from nnfix.usercode.trace import fingerprint

    log = tmp_path / "judged.txt"  # the search runs in nnfix's worker process: counted there
    original = culprit.Judge._judged

    def counting(self, value):
        with log.open("a") as f:
            f.write(repr((fingerprint(value), self.c, self.sign)) + "\n")
        return original(self, value)

    monkeypatch.setattr(culprit.Judge, "_judged", counting)
    spec = write_case(tmp_path / "case", "d1 = (d2", "d1 = 3 * (d2")
    report = diagnose(load_spec(spec), Selection(), Options(quick=True, budget=60))
    assert next(f for f in report.findings if f.code == "G101").location.source is not None
    judged = Counter(log.read_text().splitlines())
    assert judged and max(judged.values()) == 1


def test_a_line_search_past_the_budget_leaves_the_finding_and_says_why(tmp_path, monkeypatch):
    import time

    from nnfix.diagnose.rules import usercode

    original = usercode._search

    def late(ctx, *args):  # the budget runs out while the line search is being set up
        found = original(ctx, *args)
        ctx.options.deadline = time.perf_counter() - 1
        return found

    monkeypatch.setattr(usercode, "_search", late)
    spec = write_case(tmp_path, "d1 = (d2", "d1 = 3 * (d2")
    report = diagnose(load_spec(spec), Selection(), Options(quick=True, budget=60))
    g101 = next(f for f in report.findings if f.code == "G101")
    assert g101.location.parameter == "W1" and g101.location.source is None
    assert g101.evidence["line"] == "not searched: --budget ran out"
