"""Every format renders the same findings, parses, and escapes what it must."""

import json as jsonlib
import re
import xml.etree.ElementTree as ET

import numpy as np

from nnfix.diagnose.findings import Finding, Fix, Location, PassRun, Report, Severity, SpecReport
from nnfix.report.formats import github, json, junit, markdown, sarif


def report() -> Report:
    root = Finding(
        "A102",
        "derivative-wrong-argument",
        Severity.ERROR,
        "`1 - z**2` is tanh's derivative in a | fed z",
        Location(2, None, ("model", "layers", 1, "activation", "derivative"), 14, 7),
        {"max_error": np.float64(3.5)},
        Fix("say what it is given", ("model", "layers", 1, "activation", "derivative_of"), "a"),
    )
    symptom = Finding(
        "G101",
        "gradient-mismatch",
        Severity.ERROR,
        "W2 is off",
        Location(2, "W2", ("model", "layers", 1), 12, 5),
        {"relative_error": float("nan"), "ratio": np.float32(-1.0), "worst": np.array([1, 2])},
        None,
        ["A102"],
    )
    info = Finding("D105", "class-imbalance", Severity.INFO, "class 1: 3%", Location(), {}, None)
    first = SpecReport(
        "configs/a.yaml",
        "a",
        "error",
        [symptom, root, info],
        [PassRun("static", 0.01, None, ("A102", "G101", "D105"))],
    )
    clean = SpecReport(
        "configs/b.yaml",
        "b",
        "error",
        [],
        [PassRun("static", 0.01, None, ("A102", "G101", "D105"))],
    )
    return Report([first, clean])


def test_json_round_trips_and_is_valid_json():
    text = json.render(report())
    data = jsonlib.loads(text)  # NaN would make this invalid JSON
    assert data["nnfix_report"] == 1 and data["verdict"] == "fail"
    findings = data["specs"][0]["findings"]
    assert [f["code"] for f in findings] == ["A102", "G101", "D105"]  # root cause first
    assert findings[1]["evidence"] == {"relative_error": None, "ratio": -1.0, "worst": [1, 2]}
    back = json.load(text)
    assert [
        (f.code, f.caused_by, f.location.line, f.location.path) for f in back.specs[0].ordered()
    ] == [
        (f.code, f.caused_by, f.location.line, f.location.path) for f in report().specs[0].ordered()
    ]
    assert back.specs[0].ordered()[0].fix.path == (
        "model",
        "layers",
        1,
        "activation",
        "derivative_of",
    )
    assert back.failed and back.counts() == {"error": 2, "warning": 0, "info": 1}


def test_junit_parses_with_a_suite_per_spec():
    root = ET.fromstring(junit.render(report(), {"A102", "G101", "D105"}))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["configs/a.yaml", "configs/b.yaml"]
    assert root.get("tests") == "6" and root.get("failures") == "2"
    cases = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert cases["A102 derivative-wrong-argument"].find("failure").get("type") == "error"
    assert "caused by: A102" in cases["G101 gradient-mismatch"].find("failure").text
    assert cases["D105 class-imbalance"].find("failure") is None  # info: reported, not failed
    assert "class 1" in cases["D105 class-imbalance"].find("system-out").text
    assert all(c.find("failure") is None for c in suites[1].findall("testcase"))


def test_sarif_rules_and_results():
    doc = jsonlib.loads(sarif.render(report()))
    assert doc["version"] == "2.1.0" and "sarif-2.1.0" in doc["$schema"]
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) == 30 and all(
        r["shortDescription"]["text"] and r["help"]["text"] for r in rules
    )
    first = run["results"][0]
    assert first["ruleId"] == "A102" and rules[first["ruleIndex"]]["id"] == "A102"
    assert first["level"] == "error"
    assert first["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 14,
        "startColumn": 7,
    }
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "configs/a.yaml"
    assert (
        run["results"][2]["level"] == "note"
        and "region" not in run["results"][2]["locations"][0]["physicalLocation"]
    )
    assert run["results"][1]["properties"]["causedBy"] == ["A102"]


def test_github_escapes_properties_and_messages():
    r = report()
    r.specs[0].spec = "dir:a,b/spec.yaml"
    r.specs[0].findings[1].message = "50% done,\nnext: x"
    lines = github.render(r).splitlines()
    assert lines[0].startswith(
        "::error file=dir%3Aa%2Cb/spec.yaml,line=14,col=7,title=nnfix A102 derivative-wrong-argument::"
    )
    assert "::50%25 done,%0Anext: x" in lines[0]
    assert lines[0].count("\n") == 0 and len(lines) == 3
    assert lines[2].startswith("::notice file=") and "line=" not in lines[2]


def test_markdown_table_is_valid():
    text = markdown.render(report())
    rows = [line for line in text.splitlines() if line.startswith("|")]
    cells = [len(re.findall(r"(?<!\\)\|", row)) for row in rows]
    assert len(set(cells)) == 1  # every row has the same number of cells
    assert re.fullmatch(r"\|( --- \|)+", rows[1])
    assert "in a \\| fed z" in text  # a '|' inside a message is escaped
    assert "↳ G101" in text and "No findings." in text
    assert "`model.layers[1].activation.derivative_of: a`" in text


def test_every_format_names_the_same_findings():
    r = report()
    codes = ["A102", "G101", "D105"]
    assert [f["code"] for f in jsonlib.loads(json.render(r))["specs"][0]["findings"]] == codes
    assert [x["ruleId"] for x in jsonlib.loads(sarif.render(r))["runs"][0]["results"]] == codes
    assert [
        re.search(r"nnfix (\w+)", line).group(1) for line in github.render(r).splitlines()
    ] == codes
    assert all(code in markdown.render(r) for code in codes)
