"""The user's code as written, in every shape of tests/usercode/ (functions, objects, layer
objects, notebooks, scripts, per-sample code): the correct code of each case gives nothing at
error level and names no line of it, and each bug planted in it is found with the right rule
at the right tensor, pointed at the line the bug is on, with the mistake named where one of
the usual ones reproduces it."""

import shutil
from pathlib import Path

import pytest
import yaml

from nnfix.diagnose.context import Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.spec.load import load_spec

from .conftest import sampled
from .own_cases import lines_with, plant

CASES = Path(__file__).parent / "usercode"
MANIFESTS = sorted(CASES.glob("*/case.yaml"))
BUGS = [
    (m.parent.name, bug)
    for m in MANIFESTS
    for bug in yaml.safe_load(m.read_text(encoding="utf-8"))["bugs"]
]


def manifest(case: str) -> dict:
    return yaml.safe_load((CASES / case / "case.yaml").read_text(encoding="utf-8"))


# The mistake a finding names, by the kind of bug planted (G101 and G103): what the value the
# user's line made is, compared with the truth. A wrong helper is wrong in its own way.
MISTAKES = {
    "wrong-derivative-argument": ("written in",),
    "other-activation-derivative": ("derivative",),
    "sign-flipped": ("sign is flipped",),
    "missing-1-over-m": ("1/m",),
    "bias-not-summed": ("it is dZ",),
    "wrong-axis": ("summed over", "it is dZ"),
    "swapped-keys": ("it holds", "stored as"),
    "off-by-one-layer-count": ("loop",),
    "weight-not-transposed": ("transposed",),
    "wrong-layer-cache": ("where",),
    "softmax-gradient-without-onehot": ("labels",),
}
# `dx[:, y] -= 1` subtracts 1 in every row at every column some label names: no usual mistake
# reproduces it; the line is still named.
NO_MISTAKE = {("cs231n-fc-net-class", "softmax-loss-subtracts-columns")}


def report(spec: Path, quick: bool):
    return diagnose(load_spec(spec), Selection(), Options(quick=quick, budget=60))


def test_the_cases_cover_every_shape_and_both_layouts():
    found = [manifest(m.parent.name) for m in MANIFESTS]
    assert {m["shape"] for m in found} == {"A", "B", "C"}
    assert {m["layout"] for m in found} == {"columns", "rows"}
    assert len(found) >= 10
    kinds = {bug["kind"] for _, bug in BUGS}
    assert len(kinds) >= 12, kinds


@pytest.mark.parametrize("case", sampled([m.parent.name for m in MANIFESTS], every=3))
def test_correct_code_has_nothing_at_error_level(case):
    spec = CASES / case / "spec.yaml"
    result = report(spec, quick=False)
    errors = [(f.code, f.message) for f in result.findings if f.severity.value == "error"]
    assert errors == []
    assert [f.location.source for f in result.findings if f.location.source] == []
    assert any(line.startswith("parameters: ") for line in result.about), result.about


@pytest.mark.parametrize(
    ("case", "bug"), sampled(BUGS, every=3, ids=[f"{c}-{b['id']}" for c, b in BUGS])
)
def test_planted_bug_is_found_with_its_rule_at_its_tensor(tmp_path, case, bug):
    folder = tmp_path / case
    shutil.copytree(CASES / case, folder)
    file = folder / manifest(case)["file"]
    plant(file, bug["find"], bug["replace"])
    expect = bug["expect"]
    found = report(folder / "spec.yaml", quick=True).findings
    codes = [f.code for f in found]
    assert expect["code"] in codes, [(f.code, f.message) for f in found]
    finding = next(f for f in found if f.code == expect["code"])
    if expect["code"] == "G101" and expect.get("tensor"):
        # the first G101 is the first wrong tensor, from the output
        assert finding.location.parameter == expect["tensor"], finding.message
    if expect["code"] == "G103" and expect.get("tensor"):
        finding = next(f for f in found if f.location.parameter == expect["tensor"])

    # the line of their code where the bug is (SPEC §3)
    source = finding.location.source
    assert source is not None, finding.message
    assert Path(source.file).name == file.name
    culprit = (source.cell, source.line)
    wanted = lines_with(file, expect["line_contains"])
    if expect["code"] == "U101" and culprit not in wanted:
        # the value that raises may come from an int nnfix cannot judge (README: four bugs
        # raise on a later line): then the deepest line of their traceback, where it raised
        frames = [l for l in finding.evidence["traceback"].splitlines() if "line " in l]
        wanted = {(source.cell, int(frames[-1].split("line ")[1].split(",")[0]))}
    assert culprit in wanted, (finding.message, expect["line_contains"])
    assert source.code.strip() in (
        file.read_text(encoding="utf-8") if file.suffix == ".py" else source.code
    )

    # the mistake, where one of the usual ones reproduces the wrong value
    words = MISTAKES.get(bug["kind"])
    if expect["code"] in ("G101", "G103") and words and (case, bug["id"]) not in NO_MISTAKE:
        mistake = finding.evidence["culprit"].get("mistake") or ""
        assert any(w in mistake for w in words), (bug["kind"], finding.message)
