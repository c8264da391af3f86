"""nnfix/fix/plan.py: which fixes a round makes, in what order, and which it skips and why."""

from __future__ import annotations

from nnfix.diagnose.findings import Finding, Fix, Location, Severity, SpecReport
from nnfix.fix.plan import choose

SPEC = """\
data: {source: moons}
model:
  init: zeros
  layers:
    - {units: 4, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
train: {lr: 0.5}
"""


def finding(code, severity, path, value, caused_by=(), layer=None) -> Finding:
    return Finding(
        code,
        code.lower(),
        Severity(severity),
        "…",
        Location(layer=layer, path=path),
        fix=Fix("…", path, value),
        caused_by=list(caused_by),
    )


def report(*findings: Finding) -> SpecReport:
    return SpecReport("spec.yaml", "spec", findings=list(findings))


def everything(f: Finding) -> bool:
    return True


def test_root_causes_first_and_one_value_per_key_the_first_wins():
    lr_low = finding("M103", "warning", ("train", "lr"), 5.0)
    lr_high = finding("T103", "error", ("train", "lr"), 0.05)
    init = finding("Y101", "error", ("model", "init"), "xavier_normal", layer=1)
    choice = choose(report(lr_low, lr_high, init), SPEC, everything, {})
    assert [(c.path, c.value) for c in choice.changes] == [
        (("train", "lr"), 0.05),  # errors before warnings, as the report orders them
        (("model", "init"), "xavier_normal"),
    ]
    assert [
        (s.finding.code, "conflicts with the fix of T103" in s.reason) for s in choice.skipped
    ] == [("M103", True)]
    assert [c.old for c in choice.changes] == [0.5, "zeros"]


def test_the_same_value_asked_twice_is_one_change():
    a = finding("Y104", "warning", ("model", "init"), "xavier_normal", layer=1)
    b = finding("Y104", "warning", ("model", "init"), "xavier_normal", layer=2)
    choice = choose(report(a, b), SPEC, everything, {})
    assert len(choice.changes) == 1 and choice.changes[0].findings == [a, b]
    assert choice.changes[0].codes == ["Y104"]


def test_a_symptoms_fix_waits_for_its_cause_unless_nothing_fixes_the_cause():
    cause = finding("A102", "error", ("model", "layers", 0, "activation", "derivative_of"), "a")
    symptom = finding("T104", "warning", ("train", "lr"), 0.1, caused_by=["G101", "A102"])
    choice = choose(report(cause, symptom), SPEC, everything, {})
    assert [c.findings[0].code for c in choice.changes] == ["A102"] and choice.skipped == []
    # its only cause carries no spec fix (a bug in the user's code): the symptom's fix is made
    alone = finding("T104", "warning", ("train", "lr"), 0.1, caused_by=["G101"])
    assert [c.findings[0].code for c in choose(report(alone), SPEC, everything, {}).changes] == [
        "T104"
    ]
    # fixed in the user's code this round: the symptom waits
    assert choose(report(alone), SPEC, everything, {}, fixed_elsewhere={"G101"}).changes == []


def test_findings_that_explain_each_other_are_still_fixed_in_order():
    a = finding("T103", "error", ("train", "lr"), 0.05, caused_by=["M104"])
    b = finding("M104", "warning", ("train", "lr"), 0.001, caused_by=["T103"])
    choice = choose(report(a, b), SPEC, everything, {})
    assert [(c.findings[0].code, c.value) for c in choice.changes] == [("T103", 0.05)]


def test_a_blocked_key_an_unselected_rule_and_a_value_already_there_are_not_changed():
    lr = finding("T104", "warning", ("train", "lr"), 0.1)
    init = finding("Y101", "error", ("model", "init"), "zeros")
    blocked = {("train", "lr"): "train.lr is not changed again"}
    choice = choose(report(lr, init), SPEC, lambda f: f.code != "Y101", blocked)
    assert choice.changes == []
    assert [(s.finding.code, s.reason) for s in choice.skipped] == [
        ("T104", "train.lr is not changed again")
    ]
    choice = choose(report(init), SPEC, everything, {})
    assert choice.changes == [] and "already says model.init: zeros" in choice.skipped[0].reason


def test_a_key_inside_one_being_set_clashes_with_it():
    schedule = finding("T105", "warning", ("train", "schedule"), "cosine")
    inner = finding("T109", "info", ("train", "schedule", "min_lr"), 0.0)
    choice = choose(report(schedule, inner), SPEC, everything, {})
    assert [c.path for c in choice.changes] == [("train", "schedule")]
    assert choice.skipped[0].finding is inner
