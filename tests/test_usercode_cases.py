"""The user's code as written, in every shape of tests/usercode/ (functions, objects, layer
objects, notebooks, scripts, per-sample code): the correct code of each case gives nothing at
error level, and each bug planted in it is found with the right rule at the right tensor."""

import shutil
from pathlib import Path

import pytest
import yaml

from nnfix.diagnose.context import Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.spec.load import load_spec

CASES = Path(__file__).parent / "usercode"
MANIFESTS = sorted(CASES.glob("*/case.yaml"))
BUGS = [
    (m.parent.name, bug)
    for m in MANIFESTS
    for bug in yaml.safe_load(m.read_text(encoding="utf-8"))["bugs"]
]


def manifest(case: str) -> dict:
    return yaml.safe_load((CASES / case / "case.yaml").read_text(encoding="utf-8"))


def report(spec: Path, quick: bool):
    return diagnose(load_spec(spec), Selection(), Options(quick=quick, budget=2))


def test_the_cases_cover_every_shape_and_both_layouts():
    found = [manifest(m.parent.name) for m in MANIFESTS]
    assert {m["shape"] for m in found} == {"A", "B", "C"}
    assert {m["layout"] for m in found} == {"columns", "rows"}
    assert len(found) >= 10
    kinds = {bug["kind"] for _, bug in BUGS}
    assert len(kinds) >= 12, kinds


@pytest.mark.parametrize("case", [m.parent.name for m in MANIFESTS])
def test_correct_code_has_nothing_at_error_level(case):
    spec = CASES / case / "spec.yaml"
    result = report(spec, quick=False)
    errors = [(f.code, f.message) for f in result.findings if f.severity.value == "error"]
    assert errors == []
    assert any(line.startswith("parameters: ") for line in result.about), result.about


@pytest.mark.parametrize(("case", "bug"), BUGS, ids=[f"{c}-{b['id']}" for c, b in BUGS])
def test_planted_bug_is_found_with_its_rule_at_its_tensor(tmp_path, case, bug):
    folder = tmp_path / case
    shutil.copytree(CASES / case, folder)
    file = folder / manifest(case)["file"]
    text = file.read_text(encoding="utf-8")
    assert text.count(bug["find"]) == 1
    file.write_text(text.replace(bug["find"], bug["replace"]), encoding="utf-8")
    expect = bug["expect"]
    found = report(folder / "spec.yaml", quick=True).findings
    codes = [f.code for f in found]
    assert expect["code"] in codes, [(f.code, f.message) for f in found]
    if expect["code"] == "G101" and expect.get("tensor"):
        first = next(
            f for f in found if f.code == "G101"
        )  # the first wrong tensor, from the output
        assert first.location.parameter == expect["tensor"], first.message
    if expect["code"] == "G103" and expect.get("tensor"):
        assert expect["tensor"] in [f.location.parameter for f in found if f.code == "G103"]
