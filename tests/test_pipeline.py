"""The pipeline: findings linked once after every check (suppressed, explained), and the same
findings whatever --select and --ignore show."""

import pytest

from nnfix.diagnose.context import Options
from nnfix.diagnose.findings import Location
from nnfix.diagnose.pipeline import Selection, diagnose, link, needed
from nnfix.diagnose.rules import RULES
from nnfix.spec.load import load_spec

from .conftest import CONFIGS


def finding(code, layer=None):
    f = RULES[code].finding(f"{code} at {layer}", layer=layer)
    f.location = Location(layer=layer)
    return f


def test_a_suppressed_finding_is_dropped_whatever_came_first():
    for order in (["T104", "T103"], ["T103", "T104"]):
        kept = link([finding(code) for code in order])
        assert [f.code for f in kept] == ["T103"]


def test_layered_causes_link_the_nearest_derivative_at_or_above_first():
    found = [finding("A102", 1), finding("A103", 4), finding("G102", 4), finding("G101", 2)]
    (g101,) = [f for f in link(found) if f.code == "G101"]
    assert g101.caused_by == ["A103", "G102"]  # A102 is below layer 2: it does not explain W2
    low = link([finding("A102", 1), finding("A103", 4), finding("G101", 1)])
    (g101_low,) = [f for f in low if f.code == "G101"]
    assert g101_low.caused_by == ["A102", "A103"]  # nearest first


def test_a_cause_with_a_condition_links_only_where_it_holds():
    kinks = finding("G104")
    unverifiable = finding("G104")
    unverifiable.evidence["unverifiable"] = ["W1"]
    linked = link([finding("Y101", 1), kinks, unverifiable])
    assert [f.caused_by for f in linked if f.code == "G104"] == [[], ["Y101"]]


def test_needed_closes_over_causes_and_suppressors():
    assert {"T103", "M104", "G101", "A102"} <= needed({"T104"})
    assert needed({"D105"}) == {"D105"}


def _shown(report):
    return sorted(
        (f.code, f.location.layer, f.location.parameter, tuple(f.caused_by), f.severity.value)
        for f in report.findings
    )


@pytest.mark.parametrize("config", ["story-zero-init.yaml", "story-derivatives.yaml"])
def test_select_and_ignore_filter_what_is_shown_never_what_is_found(config):
    path = CONFIGS / config
    full = diagnose(load_spec(path), Selection(), Options(budget=4))
    codes = sorted({f.code for f in full.findings})
    assert codes
    for code in codes:
        alone = diagnose(load_spec(path), Selection(select=[code]), Options(budget=4))
        expected = [  # alone, a finding shows no causes: they are not selected
            (c, layer, p, (), s) for c, layer, p, _, s in _shown(full) if c == code
        ]
        assert _shown(alone) == expected, code
    rest = diagnose(load_spec(path), Selection(ignore=[codes[0]]), Options(budget=4))
    assert _shown(rest) == [
        (c, layer, p, tuple(x for x in causes if x != codes[0]), s)
        for c, layer, p, causes, s in _shown(full)
        if c != codes[0]
    ]


def test_a_rule_silenced_by_another_stays_silent_when_selected_alone():
    """Zero init: the layer's spread collapses because it is symmetric (Y101), so Y103 is not
    reported — also when only Y103 is selected and Y101 is not shown."""
    path = CONFIGS / "story-zero-init.yaml"
    report = diagnose(load_spec(path), Selection(select=["Y103"]), Options(quick=True))
    assert report.findings == []
