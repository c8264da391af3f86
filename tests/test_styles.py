"""The user's code as learners write it, one style per folder of tests/styles/ (a script, separate
arguments, train loops, a package, a lazy model, `.add()` calls, lists of floats, a forward that
needs Y, a cache passed to a method, a notebook with an unused torch class, a per-sample `train`,
a two-call step — SPEC §3.2–§3.4), each with the fewest keys: the correct code exits 0 with
nothing at error level, and each bug planted in it (a small textual edit of the folder's copy) is
the right code at the right tensor and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.own_cases import diagnose, errors, findings, lines_with, plant

STYLES = Path(__file__).parent / "styles"
NAMES = sorted(p.parent.name for p in STYLES.glob("*/style.yaml"))


def manifest(style: str) -> dict:
    return yaml.safe_load((STYLES / style / "style.yaml").read_text(encoding="utf-8"))


# the usual mistakes (issue 22): what each planted bug is
KINDS = {
    "derivative-of-wrong-variable",
    "not-summed-over-samples",
    "transposed-product",
    "sign-error",
    "missing-1-over-m",
    "wrong-lr-schedule",
    "zero-init",
    "gradient-after-update",
}
BUGS = [(style, {"slow": False, **bug}) for style in NAMES for bug in manifest(style)["bugs"]]


def about(report: dict) -> str:
    return "\n".join(report["specs"][0]["about"])


def test_there_are_twelve_styles_each_with_two_kinds_of_bug():
    assert len(NAMES) >= 12, NAMES
    for style in NAMES:
        bugs = manifest(style)["bugs"]
        assert len({b["kind"] for b in bugs}) >= 2, style
        assert {b["kind"] for b in bugs} <= KINDS, style


@pytest.mark.parametrize("style", NAMES)
def test_the_correct_code_exits_0_with_nothing_at_error_level(style):
    code, report = diagnose(STYLES / style / "spec.yaml")
    assert errors(report) == [], [(f["code"], f["message"]) for f in errors(report)]
    assert code == 0, findings(report)
    assert "parameters:" in about(report), about(report)


@pytest.mark.parametrize(
    ("style", "bug"),
    [  # a bug whose line search takes several seconds runs with `-m slow`
        pytest.param(style, bug, id=f"{style}-{bug['id']}", marks=[pytest.mark.slow] * bug["slow"])
        for style, bug in BUGS
    ],
)
def test_a_planted_bug_is_its_code_at_its_tensor_and_line(tmp_path, style, bug):
    folder = shutil.copytree(STYLES / style, tmp_path / style)
    file = folder / manifest(style)["file"]
    plant(file, bug["find"], bug["replace"])
    code, report = diagnose(folder / "spec.yaml")
    said = [(f["code"], f["location"].get("parameter"), f["message"]) for f in findings(report)]
    assert code == 1, said
    hits = [
        f
        for f in errors(report)
        if f["code"] == bug["code"] and f["location"].get("parameter") == bug["tensor"]
    ]
    assert hits, said
    source = hits[0]["location"].get("source")
    assert source, said
    assert Path(source["file"]).name == file.name, source
    wanted = lines_with(file, bug["line"])
    assert len(wanted) == 1, bug["line"]
    assert (source.get("cell"), source["line"]) in wanted, (source, bug["line"])


def test_the_header_says_how_each_call_was_bound():
    """Issue 22: the header's "your code:" lines say how nnfix called the code of each style."""
    for style in NAMES:
        _, report = diagnose(STYLES / style / "spec.yaml")
        text = about(report)
        for said in manifest(style)["said"]:
            assert said in text, (style, said, text)
