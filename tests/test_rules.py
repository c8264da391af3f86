"""The rule catalog: exactly SPEC §4's rules, each documented, with before/after fragments that
are valid spec syntax; look-up by code, name and prefix."""

from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from nnfix.diagnose import rules
from nnfix.diagnose.findings import Severity
from nnfix.diagnose.rules.rule import STAGES
from nnfix.spec import checks
from nnfix.spec.functions import user_functions
from nnfix.spec.model import Spec

# SPEC §4's table, each family's rules in code order (SPEC lists T109 beside T102)
TABLE = [
    ("D101", "non-finite-data", "error"),
    ("D102", "unscaled-inputs", "warning"),
    ("D103", "label-output-mismatch", "error"),
    ("D104", "output-loss-mismatch", "error"),
    ("D105", "class-imbalance", "info"),
    ("Y101", "symmetric-init", "error"),
    ("Y102", "units-stay-identical", "error"),
    ("Y103", "init-scale-mismatch", "warning"),
    ("Y104", "one-signed-init", "warning"),
    ("A101", "derivative-mismatch", "error"),
    ("A102", "derivative-wrong-argument", "error"),
    ("A103", "derivative-of-other-activation", "error"),
    ("G101", "gradient-mismatch", "error"),
    ("G102", "loss-gradient-mismatch", "error"),
    ("G103", "gradient-shape-mismatch", "error"),
    ("G104", "gradcheck-unreliable", "info"),
    ("G105", "gradient-convention", "warning"),
    ("M101", "vanishing-gradients", "warning"),
    ("M102", "exploding-gradients", "warning"),
    ("M103", "update-ratio-low", "warning"),
    ("M104", "update-ratio-high", "warning"),
    ("T101", "loss-at-init-off", "warning"),
    ("T102", "loss-plateau-at-prior", "error"),
    ("T103", "loss-diverged", "error"),
    ("T104", "loss-rising", "warning"),
    ("T105", "lr-decays-too-fast", "warning"),
    ("T106", "cannot-overfit-batch", "error"),
    ("T107", "dead-relu", "warning"),
    ("T108", "saturated-units", "warning"),
    ("T109", "slow-start", "info"),
    ("U101", "user-code-error", "error"),
    ("U102", "forward-mismatch", "warning"),
]
WITH_THRESHOLDS = [
    "D102",
    "D105",
    "Y103",
    "G101",
    "M101",
    "M102",
    "M103",
    "M104",
    "T101",
    "T102",
    "T104",
    "T105",
    "T107",
    "T108",
    "T109",
]
ALL = list(rules.RULES.values())


def test_registry_is_specs_table_in_order():
    assert [(r.code, r.name, r.severity.value) for r in ALL] == TABLE
    assert list(rules.RULES) == [code for code, _, _ in TABLE]
    assert all(code == rule.code for code, rule in rules.RULES.items())
    assert all(isinstance(r.severity, Severity) for r in ALL)


@pytest.mark.parametrize("rule", ALL, ids=lambda r: r.code)
def test_every_rule_is_documented(rule):
    for field in ("summary", "detects", "why", "fix", "before", "after"):
        assert getattr(rule, field).strip(), f"{rule.code}.{field} is empty"
    assert "\n" not in rule.summary
    assert "  " not in rule.detects + rule.why + rule.fix


@pytest.mark.parametrize("code", WITH_THRESHOLDS)
def test_rules_with_numeric_thresholds_state_them(code):
    assert any(ch.isdigit() for ch in rules.RULES[code].thresholds)


@pytest.mark.parametrize("rule", ALL, ids=lambda r: r.code)
def test_before_and_after_are_different_yaml_mappings(rule):
    before, after = yaml.safe_load(rule.before), yaml.safe_load(rule.after)
    assert isinstance(before, dict) and before
    assert isinstance(after, dict) and after
    assert rule.before != rule.after


@pytest.mark.parametrize("rule", ALL, ids=lambda r: r.code)
@pytest.mark.parametrize("which", ["before", "after"])
def test_fragments_are_valid_spec_sections(rule, which):
    """Each top-level key is a spec section that validates on its own, with no cross-key
    problem and only expressions the expression language accepts."""
    fragment = yaml.safe_load(getattr(rule, which))
    assert set(fragment) <= set(Spec.model_fields), set(fragment) - set(Spec.model_fields)
    sections = {
        key: TypeAdapter(Spec.model_fields[key].annotation).validate_python(value)
        for key, value in fragment.items()
    }
    assert checks.check(sections) == []
    _, problems = user_functions(fragment, Path.cwd())
    assert problems == []


def test_key_facts_of_the_examples():
    a102 = yaml.safe_load(rules.RULES["A102"].before)["model"]["layers"][0]["activation"]
    assert a102 == {"name": "tanh", "derivative": "1 - z**2", "derivative_of": "z"}
    fixed = yaml.safe_load(rules.RULES["A102"].after)["model"]["layers"][0]["activation"]
    assert fixed["derivative_of"] == "a"
    assert yaml.safe_load(rules.RULES["G102"].before)["loss"]["gradient"] == (
        "-(y/a + (1 - y/1 - a))"
    )
    assert yaml.safe_load(rules.RULES["G102"].after)["loss"]["gradient"] == (
        "-(y/a - (1 - y)/(1 - a))"
    )
    assert yaml.safe_load(rules.RULES["D102"].after)["data"]["scale"] in ("minmax", "standard")
    assert "3.25" in rules.RULES["T102"].detects
    assert "np.sum(dZ, axis=1, keepdims=True) / m" in rules.RULES["G103"].after


@pytest.mark.parametrize("key", ["A102", "a102", " A102 ", "derivative-wrong-argument"])
def test_find_by_code_or_name(key):
    assert rules.find(key) is rules.RULES["A102"]


def test_find_unknown_is_none():
    assert rules.find("A999") is None
    assert rules.find("no-such-rule") is None


@pytest.mark.parametrize(
    ("selector", "codes"),
    [
        ("A102", ["A102"]),
        ("g101", ["G101"]),
        ("G", ["G101", "G102", "G103", "G104", "G105"]),
        ("T1", [f"T10{i}" for i in range(1, 10)]),
        ("t10", [f"T10{i}" for i in range(1, 10)]),
        ("M10", ["M101", "M102", "M103", "M104"]),
        ("dead-relu", ["T107"]),
        ("Dead-ReLU", ["T107"]),
    ],
)
def test_matching(selector, codes):
    assert [r.code for r in rules.matching(selector)] == codes


@pytest.mark.parametrize(
    "selector", ["X", "Q", "Z101", "T2", "T9", "T199", "G1010", "relu", "", "  "]
)
def test_matching_unknown_selector_is_empty(selector):
    assert rules.matching(selector) == []


def test_categories_cover_every_code_prefix():
    cats = rules.CATEGORIES
    assert list(cats) == ["D", "Y", "A", "G", "M", "T", "U"]
    assert {r.code[0] for r in ALL} == set(cats)
    assert all(cats.values())
    with pytest.raises(TypeError):  # read-only: callers cannot edit the catalog
        cats["D"] = "changed"


def test_every_rule_is_reported_by_some_check_and_checks_report_catalog_rules():
    reported = {r.code for c in rules.CHECKS for r in c.rules}
    assert reported == set(rules.RULES)
    assert all(c.stage in STAGES for c in rules.CHECKS)
    assert [STAGES.index(c.stage) for c in rules.CHECKS] == sorted(
        STAGES.index(c.stage) for c in rules.CHECKS
    )


@pytest.mark.parametrize("rule", ALL, ids=lambda r: r.code)
def test_causes_and_suppressors_are_other_rules_of_the_catalog(rule):
    named = {c for cause in rule.causes for c in cause.codes} | set(rule.suppressed_by)
    if rule.becomes is not None:
        named |= {rule.becomes.code, *rule.becomes.when}
    assert named <= set(rules.RULES) and rule.code not in named


def test_thresholds_are_written_from_the_constants_the_checks_use():
    from nnfix.diagnose.rules import data, init, magnitudes, training

    facts = {
        "D102": [f"{data.UNSCALED_RMS:g}"],
        "Y102": [f"{init.IDENTICAL:g}"],
        "M103": [f"{magnitudes.RATIO_LOW:g}", f"{training.EXPLODED:g}"],
        "M104": [f"{magnitudes.RATIO_HIGH:g}", f"{training.EXPLODED:g}"],
        "T102": [f"{training.PLATEAU:.0%}", f"{init.IDENTICAL:g}", f"{training.LATE:g}"],
        "T109": [
            f"{training.PLATEAU:.0%}",
            f"{training.LATE:g}",
            f"{training.GROWTH_SE:g}",
            f"{training.GROWTH_MIN:.0%}",
            f"{training.LEAVE_SHARE:g}",
            f"{training.SMALL_INIT:g}",
        ],
        "Y103": [
            f"{init.COLLAPSE:g}",
            f"{init.EXPLODE:g}",
            f"{init.EXPLODED_STD:g}",
            f"{init.NO_SIGNAL:g}",
        ],
        "T106": [str(training.OVERFIT_SAMPLES), str(training.OVERFIT_STEPS)],
        "T107": [f"{training.DEAD_SHARE:.0%}"],
    }
    for code, values in facts.items():
        for value in values:
            assert value in rules.RULES[code].thresholds, (code, value)
