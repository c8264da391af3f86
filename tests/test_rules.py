"""The rule catalog: exactly SPEC §4's rules, each documented, looked up by code, prefix or name."""

import pytest
import yaml

from nnfix.diagnose import rules

SPEC_TABLE = """
D101 non-finite-data error
D102 unscaled-inputs warning
D103 label-output-mismatch error
D104 output-loss-mismatch error
D105 class-imbalance info
Y101 symmetric-init error
Y102 units-stay-identical error
Y103 init-scale-mismatch warning
Y104 one-signed-init warning
A101 derivative-mismatch error
A102 derivative-wrong-argument error
A103 derivative-of-other-activation error
G101 gradient-mismatch error
G102 loss-gradient-mismatch error
G103 gradient-shape-mismatch error
G104 gradcheck-unreliable info
M101 vanishing-gradients warning
M102 exploding-gradients warning
M103 update-ratio-low warning
M104 update-ratio-high warning
T101 loss-at-init-off warning
T102 loss-plateau-at-prior error
T103 loss-diverged error
T104 loss-rising warning
T105 lr-decays-too-fast warning
T106 cannot-overfit-batch error
T107 dead-relu warning
T108 saturated-units warning
U101 user-code-error error
U102 forward-mismatch warning
"""


def test_catalog_is_exactly_spec_section_4():
    expected = [tuple(line.split()) for line in SPEC_TABLE.strip().splitlines()]
    assert [(r.code, r.name, r.severity.value) for r in rules.RULES.values()] == expected


@pytest.mark.parametrize("rule", rules.RULES.values(), ids=lambda r: r.code)
def test_every_rule_is_documented_with_a_before_and_after(rule):
    for text in (rule.summary, rule.detects, rule.why, rule.fix):
        assert len(text) > 20
    before, after = yaml.safe_load(rule.before), yaml.safe_load(rule.after)
    assert isinstance(before, dict) and isinstance(after, dict)
    assert rule.before != rule.after


def test_lookup_by_code_prefix_and_name():
    assert rules.find("A102").name == "derivative-wrong-argument"
    assert rules.find("a102").code == "A102"
    assert rules.find("derivative-wrong-argument").code == "A102"
    assert rules.find("nothing") is None
    assert [r.code for r in rules.matching("G")] == ["G101", "G102", "G103", "G104"]
    assert len(rules.matching("T1")) == 8
    assert [r.code for r in rules.matching("dead-relu")] == ["T107"]
    assert rules.matching("Q") == [] and rules.matching("T9") == []
    assert set(rules.categories()) == {r.code[0] for r in rules.RULES.values()}
