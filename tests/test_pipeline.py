"""The pipeline: findings linked once after every check (suppressed, explained), and the same
findings whatever --select and --ignore show."""

import pytest

from nnfix.diagnose.context import Options
from nnfix.diagnose.findings import Location
from nnfix.diagnose.linking import link
from nnfix.diagnose.pipeline import Selection, diagnose, needed
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


def test_a_t106_that_unreachable_targets_alone_explain_says_it_is_no_bug():
    (alone,) = [f for f in link([finding("D103", 2), finding("T106")]) if f.code == "T106"]
    assert alone.caused_by == ["D103"] and "not a bug in the math" in alone.message
    both = link([finding("D103", 2), finding("G101", 1), finding("T106")])
    (t106,) = [f for f in both if f.code == "T106"]
    assert t106.caused_by == ["G101", "D103"] and "not a bug" not in t106.message


def test_dead_units_and_gradient_norms_are_symptoms_of_a_wrong_gradient():
    """A wrong gradient anywhere trains units dead anywhere (the forward carries the wrong
    weights up, the backward carries them down); a gradient norm is the bug's only at its
    layer and below."""
    linked = link([finding("G101", 1), finding("T107", 2)])
    assert [(f.code, f.caused_by) for f in linked] == [("G101", []), ("T107", ["G101"])]
    (above,) = [f for f in link([finding("G101", 1), finding("M101", 3)]) if f.code == "M101"]
    assert above.caused_by == []  # W3's gradient is computed before the bug at layer 1 enters
    (m101,) = [f for f in link([finding("G101", 3), finding("M101", 3)]) if f.code == "M101"]
    assert m101.caused_by == ["G101"]
    (m102,) = [f for f in link([finding("A102", 2), finding("M102", 1)]) if f.code == "M102"]
    assert m102.caused_by == ["A102"]


def test_needed_closes_over_causes_and_suppressors():
    assert {"T103", "M104", "G101", "A102"} <= needed({"T104"})
    assert needed({"D105"}) == {"D105"}


def test_needed_closes_over_what_turns_one_finding_into_another():
    """A T109 beside a broken derivative is a T102: selecting either computes both, and what
    turns one into the other."""
    broken = set(RULES["T109"].becomes.when)
    assert {"T109"} | broken <= needed({"T102"})
    assert {"T102"} | broken <= needed({"T109"})


def test_a_slow_start_beside_broken_math_becomes_its_plateau():
    slow = RULES["T109"].finding(
        "slow", evidence={"final_loss": 0.693, "prior_loss": 0.693, "steps": 600}
    )
    (t102,) = [f for f in link([finding("A102", 1), slow]) if f.code.startswith("T")]
    assert t102.code == "T102" and t102.severity.value == "error"
    assert t102.caused_by == ["A102"] and t102.evidence["steps"] == 600
    assert [f.code for f in link([finding("Y103", 1), slow])] == ["Y103", "T109"]


def _shown(report):
    return sorted(
        (f.code, f.location.layer, f.location.parameter, tuple(f.caused_by), f.severity.value)
        for f in report.findings
    )


@pytest.mark.parametrize("config", ["story-zero-init.yaml", "story-derivatives.yaml"])
def test_select_and_ignore_filter_what_is_shown_never_what_is_found(config):
    path = CONFIGS / config
    full = diagnose(load_spec(path), Selection(), Options(budget=120))
    codes = sorted({f.code for f in full.findings})
    assert codes
    for code in codes:
        alone = diagnose(load_spec(path), Selection(select=[code]), Options(budget=120))
        expected = [  # alone, a finding shows no causes: they are not selected
            (c, layer, p, (), s) for c, layer, p, _, s in _shown(full) if c == code
        ]
        assert _shown(alone) == expected, code
    rest = diagnose(load_spec(path), Selection(ignore=[codes[0]]), Options(budget=120))
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


INDEPENDENCE = {  # nets unlike the bundled configs, each with findings that others explain
    "slow start": """
        seed: 2
        data: {source: xor, samples: 300}
        model:
          init: {name: normal, std: 0.01}
          layers:
            - {units: 6, activation: tanh}
            - {units: 6, activation: tanh}
            - {units: 1, activation: sigmoid}
        loss: bce
        train: {optimizer: sgd, lr: 1.0, epochs: 3000, batch_size: full}
        """,
    "broken slow start": """
        seed: 2
        data: {source: xor, samples: 300}
        model:
          init: {name: normal, std: 0.01}
          layers:
            - {units: 6, activation: {name: tanh, derivative: "1 - z**2", derivative_of: z}}
            - {units: 6, activation: tanh}
            - {units: 1, activation: sigmoid}
        loss: bce
        train: {optimizer: sgd, lr: 1.0, epochs: 3000, batch_size: full}
        """,
    "zero weights, random biases": """
        seed: 4
        data: {source: blobs, samples: 300, classes: 3, features: 5}
        model:
          init: zeros
          bias_init: {name: normal, std: 0.001}
          layers:
            - {units: 8, activation: sigmoid}
            - {units: 8, activation: tanh}
            - {units: 3, activation: softmax}
        loss: cce
        train: {optimizer: sgd, lr: 0.1, epochs: 20}
        """,
    "diverges at once": """
        seed: 5
        data: {source: moons, samples: 200}
        model:
          init: he_normal
          layers:
            - {units: 10, activation: relu}
            - {units: 10, activation: relu}
            - {units: 1, activation: sigmoid}
        loss: bce
        train: {optimizer: sgd, lr: 80.0, batch_size: full}
        """,
}


def _messages(report, codes=None):
    return sorted(
        (f.code, f.location.layer, f.location.parameter, f.severity.value, f.message)
        for f in report.findings
        if codes is None or f.code in codes
    )


@pytest.mark.parametrize("name", INDEPENDENCE)
def test_what_a_selection_shows_is_what_the_full_run_found_for_it(write_spec, name):
    path = write_spec(INDEPENDENCE[name])
    options = Options(budget=60)
    full = diagnose(load_spec(path), Selection(), options)
    found = sorted({f.code for f in full.findings})
    assert len(found) >= 2, found
    for select in [[code] for code in found] + [["T"], ["Y1", "M"]]:
        selection = Selection(select=select)
        alone = diagnose(load_spec(path), selection, Options(budget=60))
        assert _messages(alone) == _messages(full, selection.shown()), (name, select)


def test_a_t106_the_gradient_check_contradicts_is_a_warning():
    from nnfix.diagnose.linking import link
    from nnfix.diagnose.rules.gradients import G101
    from nnfix.diagnose.rules.training import T106

    alone = link([T106.finding("the net cannot fit 8 samples")])
    assert alone[0].severity.value == "warning" and "not a bug" in alone[0].message
    with_bug = link(
        [T106.finding("the net cannot fit 8 samples"), G101.finding("W1 wrong", layer=1)]
    )
    t106 = next(f for f in with_bug if f.code == "T106")
    assert t106.severity.value == "error" and t106.caused_by == ["G101"]
