"""The machine-readable reports (json, junit, sarif, github, markdown) of one hand-built
diagnosis: an A102 root cause with a G101 symptom in one spec, a clean second spec."""

from __future__ import annotations

import json as stdjson
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from nnfix import __version__
from nnfix.diagnose.findings import Finding, Fix, Location, PassRun, Report, Severity, SpecReport
from nnfix.diagnose.rules import RULES
from nnfix.report.formats import github, junit, markdown, sarif
from nnfix.report.formats import json as jsonfmt

DERIVATIVE = ("model", "layers", 0, "derivative")


def a102() -> Finding:
    return Finding(
        code="A102",
        name="derivative-wrong-argument",
        severity=Severity.ERROR,
        message="derivative '1 - z**2' matches tanh' only when given a, but it is called on z",
        location=Location(layer=1, parameter="W1", path=DERIVATIVE, line=14, col=7),
        evidence={"max_error": np.float64(0.42), "points": np.int64(200)},
        fix=Fix("use the derivative in terms of a", DERIVATIVE, "1 - a**2"),
    )


def g101() -> Finding:
    return Finding(
        code="G101",
        name="gradient-mismatch",
        severity=Severity.ERROR,
        message="dW1 differs from finite differences | relative error 0.31",
        location=Location(layer=1, parameter="W1", path=DERIVATIVE, line=14, col=7),
        evidence={
            "relative_error": np.float32(0.31),
            "worst": float("nan"),
            "ratio": float("inf"),
            "norms": np.array([1.0, np.nan, 3.0]),
        },
        caused_by=["A102"],
    )


def make_report() -> Report:
    broken = SpecReport(
        spec="configs/broken.yaml",
        name="broken",
        # the symptom first, to see ordered() put the root cause ahead of it
        findings=[g101(), a102()],
        passes=[
            PassRun("static", 0.0123, None, ("D101", "D102")),
            PassRun("derivatives", 0.5, None, ("A101", "A102", "A103", "G102")),
            PassRun("gradcheck", 1.25, None, ("G101", "G103", "G104")),
            PassRun("overfit", 0.0, "--quick", ("T106",)),
        ],
        layers=[
            {
                "layer": 1,
                "units": 8,
                "activation": "tanh",
                "init": "xavier_normal",  # as the pipeline's layer table has it (rich shows it)
                "std_z": np.float64(0.9),
            }
        ],
    )
    clean = SpecReport(spec="configs/xor.yaml", name="xor", passes=[PassRun("static", 0.01)])
    return Report([broken, clean])


# --- json ------------------------------------------------------------------------------------


def test_json_is_valid_versioned_and_nan_becomes_null():
    text = jsonfmt.render(make_report())
    assert "NaN" not in text and "Infinity" not in text
    doc = stdjson.loads(text)  # strict: the document holds no NaN
    assert doc["nnfix_report"] == 1
    assert doc["version"] == __version__
    assert doc["verdict"] == "fail"
    assert doc["fail_on"] == "error"
    assert doc["counts"] == {"error": 2, "warning": 0, "info": 0}
    broken, clean = doc["specs"]
    assert [f["code"] for f in broken["findings"]] == ["A102", "G101"]  # root cause first
    root, symptom = broken["findings"]
    assert root["root_cause"] is True and root["caused_by"] == []
    assert symptom["root_cause"] is False and symptom["caused_by"] == ["A102"]
    assert symptom["evidence"]["worst"] is None
    assert symptom["evidence"]["ratio"] is None
    assert symptom["evidence"]["norms"] == [1.0, None, 3.0]
    assert symptom["evidence"]["relative_error"] == pytest.approx(0.31)
    assert root["evidence"] == {"max_error": 0.42, "points": 200}
    assert root["location"] == {
        "layer": 1,
        "parameter": "W1",
        "spec_path": "model.layers[0].derivative",
        "path": ["model", "layers", 0, "derivative"],
        "line": 14,
        "col": 7,
        "source": None,
    }
    assert root["fix"] == {
        "description": "use the derivative in terms of a",
        "spec_path": "model.layers[0].derivative",
        "path": ["model", "layers", 0, "derivative"],
        "value": "1 - a**2",
    }
    assert symptom["fix"] is None
    assert broken["passes"][0] == {
        "name": "static",
        "seconds": 0.0123,
        "skipped": None,
        "codes": ["D101", "D102"],
    }
    assert broken["passes"][3]["skipped"] == "--quick"
    assert broken["layers"][0]["std_z"] == 0.9
    assert clean == {
        "spec": "configs/xor.yaml",
        "name": "xor",
        "fail_on": "error",
        "verdict": "pass",
        "passes": [{"name": "static", "seconds": 0.01, "skipped": None, "codes": []}],
        "layers": [],
        "about": [],
        "printed": {"lines": 0, "first": []},
        "findings": [],
    }


def test_json_round_trips():
    report = make_report()
    back = jsonfmt.load(jsonfmt.render(report))
    assert [s.spec for s in back.specs] == ["configs/broken.yaml", "configs/xor.yaml"]
    assert back.fail_on == "error" and back.failed
    before, after = report.specs[0].ordered(), back.specs[0].ordered()
    assert [f.code for f in after] == [f.code for f in before] == ["A102", "G101"]
    assert [f.caused_by for f in after] == [[], ["A102"]]
    assert [f.severity for f in after] == [Severity.ERROR, Severity.ERROR]
    for a, b in zip(before, after, strict=True):
        assert b.location == a.location  # the path tuple comes back, ints included
        assert b.message == a.message and b.name == a.name
    assert after[0].fix == Fix("use the derivative in terms of a", DERIVATIVE, "1 - a**2")
    assert after[1].evidence["worst"] is None
    assert back.specs[0].passes[3] == PassRun("overfit", 0.0, "--quick", ("T106",))
    assert back.specs[1].findings == []
    # and rendering what was loaded gives the same document
    assert jsonfmt.render(back) == jsonfmt.render(report)


def test_json_load_refuses_other_documents():
    with pytest.raises(ValueError, match="schema version 1"):
        jsonfmt.load('{"nnfix_report": 2, "specs": []}')


# --- junit -----------------------------------------------------------------------------------


def test_junit_one_suite_per_spec_and_a_testcase_per_rule():
    text = junit.render(make_report())
    assert text.startswith("<?xml version=")
    root = ET.fromstring(text)
    assert root.tag == "testsuites" and root.get("name") == "nnfix"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["configs/broken.yaml", "configs/xor.yaml"]
    n = len(RULES)
    assert root.get("tests") == str(2 * n)
    assert root.get("failures") == "2" and root.get("errors") == "0"
    broken, clean = suites
    assert broken.get("tests") == str(n) and broken.get("failures") == "2"
    assert clean.get("tests") == str(n) and clean.get("failures") == "0"
    cases = {c.get("name"): c for c in broken.findall("testcase")}
    assert len(cases) == n
    assert {c.get("classname") for c in broken.findall("testcase")} == {"broken"}
    failed = {name for name, c in cases.items() if c.find("failure") is not None}
    assert failed == {"A102 derivative-wrong-argument", "G101 gradient-mismatch"}
    failure = cases["A102 derivative-wrong-argument"].find("failure")
    assert failure.get("type") == "error"
    assert failure.get("message") == a102().message
    assert "configs/broken.yaml:14:7" in failure.text
    assert "model.layers[0].derivative" in failure.text
    assert "max_error 0.42" in failure.text
    assert "fix: model.layers[0].derivative: 1 - a**2 — use the derivative" in failure.text
    assert "caused by: A102" in cases["G101 gradient-mismatch"].find("failure").text
    # T106's only pass was skipped (--quick) on this spec: reported as skipped, not passed
    assert cases["T106 cannot-overfit-batch"].find("skipped").get("message") == "--quick"
    assert all(c.find("failure") is None for c in clean.findall("testcase"))


def test_junit_only_the_checked_rules_and_info_is_not_a_failure():
    report = make_report()
    report.specs[1].findings.append(
        Finding("D105", "class-imbalance", Severity.INFO, "class 3: 2.0 % of the samples")
    )
    report.checked = {"A102", "D105"}
    root = ET.fromstring(junit.render(report))
    broken, clean = root.findall("testsuite")
    # G101 fired although not in `checked`: its finding is kept, as a test case of its own
    assert [c.get("name") for c in broken.findall("testcase")] == [
        "D105 class-imbalance",
        "A102 derivative-wrong-argument",
        "G101 gradient-mismatch",
    ]
    imbalance = clean.find("testcase[@name='D105 class-imbalance']")
    assert imbalance.find("failure") is None
    assert "class 3: 2.0 % of the samples" in imbalance.find("system-out").text
    assert clean.get("failures") == "0"
    assert root.get("tests") == "6" and root.get("failures") == "2"


# --- sarif -----------------------------------------------------------------------------------


def test_sarif_rules_and_results():
    doc = stdjson.loads(sarif.render(make_report()))
    assert doc["version"] == "2.1.0"
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "nnfix" and driver["version"] == __version__
    assert "informationUri" not in driver
    rules = driver["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    for rule in rules:
        source = RULES[rule["id"]]
        assert rule["name"] == source.name
        assert rule["shortDescription"]["text"] == source.summary
        assert rule["fullDescription"]["text"] == source.detects
        assert source.why in rule["help"]["text"]
        assert "```yaml\n" + source.before.rstrip() + "\n```" in rule["help"]["markdown"]
        assert "```yaml\n" + source.after.rstrip() + "\n```" in rule["help"]["markdown"]
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in rules}
    assert levels["A102"] == "error" and levels["D102"] == "warning" and levels["D105"] == "note"

    results = run["results"]
    assert [r["ruleId"] for r in results] == ["A102", "G101"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["level"] == "error"
        physical = r["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "configs/broken.yaml"
        assert physical["region"] == {"startLine": 14, "startColumn": 7}
    root, symptom = results
    assert "Fix: model.layers[0].derivative: 1 - a**2" in root["message"]["text"]
    assert "fixes" not in root
    assert symptom["properties"]["causedBy"] == ["A102"]
    assert symptom["properties"]["specPath"] == "model.layers[0].derivative"
    assert symptom["properties"]["parameter"] == "W1" and symptom["properties"]["layer"] == 1
    assert symptom["properties"]["evidence"]["worst"] is None


def test_sarif_region_only_when_known():
    report = make_report()
    report.specs[0].findings[0].location.line = None
    results = stdjson.loads(sarif.render(report))["runs"][0]["results"]
    g = next(r for r in results if r["ruleId"] == "G101")
    assert "region" not in g["locations"][0]["physicalLocation"]


# --- github ----------------------------------------------------------------------------------


def test_github_one_command_per_finding():
    lines = github.render(make_report()).splitlines()
    assert lines == [
        "::error file=configs/broken.yaml,line=14,col=7,title=nnfix A102 derivative-wrong-argument"
        "::derivative '1 - z**2' matches tanh' only when given a, but it is called on z, "
        "fix: model.layers[0].derivative: 1 - a**2 — use the derivative in terms of a",
        "::error file=configs/broken.yaml,line=14,col=7,title=nnfix G101 gradient-mismatch"
        "::dW1 differs from finite differences | relative error 0.31 (caused by A102)",
    ]


def test_github_escapes_properties_and_messages():
    finding = Finding(
        "T104",
        "loss-rising",
        Severity.WARNING,
        "50% done,\nnext: x\r",
        location=Location(line=3, col=None),
    )
    info = Finding("D105", "class-imbalance", Severity.INFO, "rare", location=Location())
    report = Report([SpecReport("dir:a,b/spec.yaml", "s", findings=[finding, info])])
    warning, notice = github.render(report).splitlines()
    assert warning == (
        "::warning file=dir%3Aa%2Cb/spec.yaml,line=3,title=nnfix T104 loss-rising"
        "::50%25 done,%0Anext: x%0D"
    )
    # no line or column known: neither property is written
    assert notice == "::notice file=dir%3Aa%2Cb/spec.yaml,title=nnfix D105 class-imbalance::rare"


def test_github_clean_report_is_empty():
    assert github.render(Report([SpecReport("configs/xor.yaml", "xor")])) == ""


# --- markdown --------------------------------------------------------------------------------


def cells(row: str) -> list[str]:
    """A table row's cells, splitting on the pipes that are not escaped."""
    assert row.startswith("|") and row.endswith("|"), row
    return [c.strip() for c in re.split(r"(?<!\\)\|", row[1:-1])]


def tables(text: str) -> list[list[str]]:
    """The markdown's tables, each its contiguous `|` lines."""
    out: list[list[str]] = []
    previous = ""
    for line in text.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                assert previous == "", "a GFM table needs a blank line before it"
                out.append([])
            out[-1].append(line)
        previous = line
    return out


def test_markdown_table():
    text = markdown.render(make_report())
    lines = text.splitlines()
    assert lines[0] == "## nnfix diagnose: ❌ fail — 2 errors, 0 warnings, 0 info"
    causes_table, every = tables(text)
    header, separator, *rows = causes_table
    assert cells(header) == ["root cause", "location", "message", "fix", "explains"]
    assert all(re.fullmatch(r":?-{3,}:?", c) for c in cells(separator))
    (root,) = (cells(r) for r in rows)  # G101 is explained by A102: one root cause
    assert root[0] == "🔴 error **A102** derivative-wrong-argument"
    assert root[1] == "`configs/broken.yaml:14` `model.layers[0].derivative` W1"
    assert "1 - z\\*\\*2" in root[2]  # not bold
    assert root[3] == "`model.layers[0].derivative: 1 - a**2` — use the derivative in terms of a"
    assert root[4] == "G101"
    assert "3 root cause" not in text and ": 1 root cause · 2 errors" in text

    header, separator, *rows = every
    assert cells(header) == ["severity", "code", "name", "location", "message"]
    assert len(rows) == 2 and all(len(cells(r)) == 5 for r in rows)
    start = lines.index(header)
    assert lines[start - 2].startswith("<details><summary>every finding (2)")
    first, symptom = (cells(r) for r in rows)
    assert first[1] == "**A102**" and first[2] == "derivative-wrong-argument"
    assert symptom[1].startswith("G101") and "↳ caused by A102" in symptom[1]
    assert symptom[4] == "dW1 differs from finite differences \\| relative error 0.31"
    assert "</details>" in lines[start + len(every) :]
    assert "### ✅ `configs/xor.yaml` (xor): no findings" in lines


def test_markdown_newlines_in_a_message_stay_in_their_cell():
    finding = Finding("T104", "loss-rising", Severity.WARNING, "a\nb | c")
    text = markdown.render(Report([SpecReport("s.yaml", "s", findings=[finding])]))
    row = tables(text)[1][2]
    assert cells(row)[4] == "a b \\| c"
    assert cells(row)[3] == "`s.yaml`"
    assert text.splitlines()[0] == "## nnfix diagnose: ✅ pass — 0 errors, 1 warning, 0 info"


# --- all of them -----------------------------------------------------------------------------


def test_every_format_names_the_same_findings_in_the_same_order():
    report = make_report()
    report.specs[0].findings.append(
        Finding("D105", "class-imbalance", Severity.INFO, "class 1: 3 %", Location())
    )
    codes = ["A102", "G101", "D105"]
    doc = stdjson.loads(jsonfmt.render(report))
    assert [f["code"] for f in doc["specs"][0]["findings"]] == codes
    results = stdjson.loads(sarif.render(report))["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == codes
    assert results[2]["level"] == "note"
    lines = github.render(report).splitlines()
    assert [re.search(r"title=nnfix (\w+)", line)[1] for line in lines] == codes
    assert lines[2].startswith("::notice file=configs/broken.yaml,title=")
    rows = tables(markdown.render(report))[1][2:]
    assert [cells(r)[1].split("<br>")[0] for r in rows] == ["**A102**", "G101", "**D105**"]


def test_sarif_uri_is_a_valid_relative_reference():
    report = Report([SpecReport("dir:a,b/my spec.yaml", "s", findings=[a102()])])
    (r,) = stdjson.loads(sarif.render(report))["runs"][0]["results"]
    location = r["locations"][0]["physicalLocation"]["artifactLocation"]
    # a `:` in the first segment would read as a URI scheme; a space is not allowed in a URI
    assert location == {"uri": "dir%3Aa,b/my%20spec.yaml", "uriBaseId": "%SRCROOT%"}


def test_junit_holds_a_traceback_with_terminal_colours():
    crash = Finding(
        "U101",
        "user-code-error",
        Severity.ERROR,
        "my_net.backward raised ValueError",
        evidence={"traceback": "Traceback:\n  \x1b[31mValueError\x1b[0m: shapes <1> & <2>"},
    )
    text = junit.render(Report([SpecReport("s.yaml", "s", findings=[crash])], checked={"U101"}))
    failure = ET.fromstring(text).find("testsuite/testcase/failure")
    assert failure.get("message") == "my_net.backward raised ValueError"
    assert "[31mValueError[0m: shapes <1> & <2>" in failure.text


def test_every_registered_format_renders_and_names_its_suffixes(tmp_path):
    """A format is one module plus its name in FORMATS: the command line, the configuration
    and --output's suffixes all come from there."""
    from nnfix.diagnose.config import FORMATS as CONFIGURABLE
    from nnfix.report import formats

    assert tuple(CONFIGURABLE) == ("rich", *formats.FORMATS)
    for name in formats.FORMATS:
        module = formats.module(name)
        assert module.render(make_report()).strip()
        for suffix in module.SUFFIXES:
            assert formats.by_suffix(tmp_path / f"report{suffix}") == name


# --- a gradient check that verified nothing: never a pass ------------------------------------


def unchecked_report() -> Report:
    """One spec whose gradient check could verify no tensor (a G104 warning says why), with
    nothing at error level: exit 0, but no format may call it a pass (SPEC §3.5)."""
    g104 = Finding(
        code="G104",
        name="gradcheck-unreliable",
        severity=Severity.WARNING,
        message="the gradients were not checked: no tensor could be verified — W2, W1: the "
        "loss is not finite, or saturated, where the check moves the parameters",
        location=Location(path=("implementation", "backward"), line=12, col=3),
        evidence={"unverifiable": ["W2", "W1"], "gradients_checked": False},
    )
    spec = SpecReport(
        spec="logits.yaml",
        name="logits",
        findings=[g104],
        passes=[PassRun("your code", 0.2, None, ("G101", "G103", "G104", "G105"))],
    )
    clean = SpecReport(spec="configs/xor.yaml", name="xor", passes=[PassRun("static", 0.01)])
    return Report([spec, clean])


def test_every_format_says_the_gradients_were_not_checked():
    report = unchecked_report()
    assert not report.failed and report.verdict == "unchecked"
    doc = stdjson.loads(jsonfmt.render(report))
    assert doc["verdict"] == "unchecked"
    assert [s["verdict"] for s in doc["specs"]] == ["unchecked", "pass"]
    assert jsonfmt.load(jsonfmt.render(report)).verdict == "unchecked"  # it round-trips

    headline = markdown.render(report).splitlines()[0]
    assert "unchecked" in headline and "not checked" in headline and "pass" not in headline

    (annotation,) = github.render(report).splitlines()
    assert annotation.startswith("::warning ") and "the gradients were not checked" in annotation

    root = ET.fromstring(junit.render(report))
    suite = root.find("testsuite[@name='logits.yaml']")
    case = suite.find("testcase[@name='G101 gradient-mismatch']")
    assert "not checked" in case.find("skipped").get("message")  # never a passing G101
    assert suite.find("testcase[@name='G104 gradcheck-unreliable']/failure") is not None

    (invocation,) = stdjson.loads(sarif.render(report))["runs"][0]["invocations"]
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "warning" and "not checked" in note["message"]["text"]

    from nnfix.report import diagnose_rich

    line = diagnose_rich.verdict(report).plain
    assert line.startswith("UNCHECKED") and "the gradients were not checked (logits.yaml)" in line


def test_the_html_and_svg_verdicts_say_the_gradients_were_not_checked():
    pytest.importorskip("matplotlib")
    from nnfix.report.formats import html, svg

    report = unchecked_report()
    page = html.render(report)
    assert "<title>nnfix diagnose: UNCHECKED" in page and '"verdict unchecked">UNCHECKED' in page
    drawn = svg.render(report)
    # the headline as it reads: its lines joined (it wraps to the document's width)
    headline = " ".join(re.findall(r"font-size: 13px[^>]*>([^<]*)</text>", drawn))
    assert "UNCHECKED (the gradients were not checked)" in headline and "PASS —" not in drawn
