"""The rich report a person reads: by default the verdict and one entry per root cause (its
line, message, fix, "explains: …"), same-code findings merged, wrapped to the width with
nothing cut off; -v every finding with its evidence, the layer table and the pass timings."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from nnfix.diagnose.findings import Finding, Fix, Location, Report, Severity, SpecReport
from nnfix.diagnose.run import run
from nnfix.report import diagnose_rich
from nnfix.report.causes import Cause, causes, spans
from nnfix.report.controls import SafeConsole

from .conftest import sampled

ROOT = Path(__file__).resolve().parent.parent
STORIES = sorted((ROOT / "configs").glob("story-*.yaml"))
BUGGY = sorted((ROOT / "examples").glob("*-buggy/spec.yaml"))


@pytest.fixture(scope="module")
def reports() -> dict[Path, Report]:
    """Each diagnosed as a user in the project's folder would (relative paths in the report)."""
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        return {
            path: run([path.relative_to(ROOT)], {"budget": 60}).report for path in STORIES + BUGGY
        }
    finally:
        os.chdir(here)


@pytest.fixture(autouse=True)
def _in_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def text(report: Report, width: int, verbose: bool = False, **kw) -> str:
    out = io.StringIO()
    console = SafeConsole(file=out, width=width, highlight=False, **kw)
    diagnose_rich.render(report, console, verbose)
    return out.getvalue()


def roots(spec: SpecReport) -> list[Finding]:
    present = {f.code for f in spec.findings}
    return [f for f in spec.findings if not any(c in present for c in f.caused_by)]


@pytest.mark.parametrize("story", STORIES, ids=lambda p: p.stem)
def test_default_report_reads_in_ten_seconds(reports, story):
    report = reports[story]
    spec = report.specs[0]
    out = text(report, 100)
    lines = out.splitlines()
    assert lines[0].startswith("FAIL")
    assert len(lines) <= 15, out
    assert all(len(line) <= 100 for line in lines), out
    for root in roots(spec):
        assert f": {root.code} {root.name}" in out
        if root.fix is not None:
            assert root.fix.description.split(":")[0] in re.sub(r"\s+", " ", out)
    symptoms = [f for f in spec.findings if f not in roots(spec)]
    if symptoms:  # every symptom is counted under the root cause it follows from
        explained = " ".join(line for line in lines if "explains:" in line)
        for f in symptoms:
            assert f.code in explained
    assert "evidence" not in out and "passes:" not in out  # -v only


def test_three_root_causes_and_merged_layers(reports):
    out = text(reports[ROOT / "configs" / "story-derivatives.yaml"], 100)
    lines = out.splitlines()
    assert "3 root causes" in lines[0]
    heads = [line for line in lines if line.startswith("configs/")]
    assert len(heads) == 3, out
    assert heads[0].endswith("A102 derivative-wrong-argument  layers 1–3")
    assert "model.layers[0–2].activation.derivative_of: a" in out
    assert "explains: G101 ×6, T106, T104" in out


@pytest.mark.parametrize("story", STORIES + BUGGY, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_verbose_shows_every_finding_with_its_evidence(reports, story):
    report = reports[story]
    out = text(report, 120, verbose=True)
    flat = re.sub(r"\s+", " ", out)
    for f in report.specs[0].findings:
        line = f":{f.location.line}:{f.location.col}:" if f.location.line else ":"
        assert f"{line} {f.code} {f.name}" in flat
        assert re.sub(r"\s+", " ", f.message) in flat
    assert "passes:" in out
    if report.specs[0].layers:
        assert "z spread" in out


WIDTHS = [60, 80, 100, 120]
CUT = re.compile(r"\w…")  # a word or a number cut short (a list's own "…" follows ", ")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("verbose", [False, True])
def test_words_wrap_to_the_width_with_indentation_kept(reports, width, verbose):
    for path in [*STORIES, *BUGGY]:
        out = text(reports[path], width, verbose)
        for line in out.splitlines():
            assert len(line) <= width, line
            assert line == line.rstrip()
            assert not CUT.search(line), line
        # nothing is lost by wrapping: every message is there, word for word
        flat = re.sub(r"\s+", " ", out)
        for entry in causes(reports[path].specs[0]):  # by default, one message per entry
            assert re.sub(r"\s+", " ", entry.first.message) in flat
        if not verbose:  # a message's continuation lines keep its indentation
            body = [
                ln for ln in out.splitlines()[1:] if ln and not re.match(r"\S+:\d*:?\d*:? ", ln)
            ]
            assert all(ln.startswith("    ") for ln in body), out


def test_plain_without_colour_or_terminal(reports):
    report = reports[ROOT / "configs" / "story-zero-init.yaml"]
    assert "\x1b[" not in text(report, 100)  # not a terminal
    assert "\x1b[" not in text(report, 100, force_terminal=True, no_color=True, color_system=None)
    coloured = text(report, 100, force_terminal=True, color_system="standard")
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == text(report, 100)


def test_user_code_entry_shows_the_line_and_the_fix(reports):
    report = reports[ROOT / "examples" / "columns-buggy" / "spec.yaml"]
    out = text(report, 100)
    source = report.specs[0].findings[0].location.source
    assert source is not None
    assert f"at {source}  {source.code.strip()}"[:60] in out
    # the line `nnfix fix` writes: db = dZ / m -> the sum of dZ, m kept outside
    assert "fix: sum over the samples: `db = np.sum(dZ, axis=1, keepdims=True) / m`" in out
    assert out.splitlines()[1].endswith("G103 gradient-shape-mismatch  layers 1–3")  # one entry


def _finding(code, caused_by=(), layer=None, severity=Severity.ERROR, fix=None) -> Finding:
    return Finding(
        code,
        code.lower(),
        severity,
        f"{code} at {layer}",
        Location(layer=layer),
        fix=fix,
        caused_by=list(caused_by),
    )


def test_symptoms_follow_their_chain_of_causes_to_the_root():
    spec = SpecReport("s.yaml", "s")
    spec.findings = [
        _finding("D102", severity=Severity.WARNING),
        _finding("T108", ["D102"], 1, Severity.WARNING),
        _finding("T106", ["T108", "D102"]),
        _finding("T102", ["T108"]),
        _finding("Y104", layer=1, severity=Severity.WARNING),
        _finding("Y104", layer=2, severity=Severity.WARNING),
        _finding("Y104", layer=3, severity=Severity.WARNING),
        _finding("M101", ["Y103"]),  # its cause was not selected: it stands on its own
    ]
    entries = causes(spec)
    assert [e.code for e in entries] == ["D102", "M101", "Y104"]  # errors (explained) first
    d102 = next(e for e in entries if e.code == "D102")
    assert sorted(f.code for f in d102.symptoms) == ["T102", "T106", "T108"]
    y104 = next(e for e in entries if e.code == "Y104")
    assert len(y104.findings) == 3 and y104.where() == "layers 1–3"


def test_a_cycle_of_causes_still_shows_each_finding_once():
    spec = SpecReport("s.yaml", "s")
    spec.findings = [_finding("A", ["B"]), _finding("B", ["A"])]
    entries = causes(spec)
    shown = [f for e in entries for f in e.findings + e.symptoms]
    assert sorted(f.code for f in shown) == ["A", "B"]


def test_one_fix_key_for_several_layers():
    path = ("model", "layers", 0, "activation", "derivative_of")
    same = [
        _finding(
            "A102",
            layer=i + 1,
            fix=Fix("say what it is given: derivative_of: a", (*path[:2], i, *path[3:]), "a"),
        )
        for i in (0, 1, 2, 4)
    ]
    plain = diagnose_rich.fix_text(Cause(same)).plain
    assert plain == "fix: model.layers[0–2, 4].activation.derivative_of: a — say what it is given"
    assert spans([1, 2, 3, 5, 7, 8]) == "1–3, 5, 7–8"
    differ = [*same[:2], _finding("A102", layer=9, fix=Fix("other", path, "z"))]
    assert Cause(differ).change() == (
        "model.layers[0].activation.derivative_of: a",
        "say what it is given",
    )
    sentence = Cause([_finding("G101", fix=Fix("fix the backward step of layer 3"))])
    assert sentence.change() == (None, "fix the backward step of layer 3")


def test_what_the_user_code_printed_is_shown_by_default():
    spec = SpecReport("s.yaml", "s", printed=["epoch 1 loss 0.69"], printed_lines=40)
    out = text(Report([spec]), 80)
    assert "your code printed 40 lines (the first 1):" in out
    assert "│ epoch 1 loss 0.69" in out


OTHERS = [  # the bundled configs and examples the tests above do not diagnose
    p
    for p in sorted((ROOT / "configs").glob("*.yaml"))
    + sorted((ROOT / "examples").glob("*/spec.yaml"))
    if p not in STORIES + BUGGY
]


@pytest.mark.parametrize(
    "path", sampled(OTHERS, every=4), ids=lambda p: p.parent.name + "/" + p.stem
)
def test_every_bundled_report_fits_each_width(path):
    """Healthy nets too: their -v layer table (names, spreads like 7.652e-14) wraps or fits,
    never cut."""
    report = run([path.relative_to(ROOT)], {"budget": 60}).report
    for width in WIDTHS:
        for verbose in (False, True):
            for line in text(report, width, verbose).splitlines():
                assert len(line) <= width and not CUT.search(line), (width, verbose, line)
