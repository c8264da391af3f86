"""nnfix/fix/edit.py: one value set in a spec's text, every other character kept."""

from __future__ import annotations

import difflib

import pytest

from nnfix.fix.edit import MISSING, EditError, number, set_value, value_at
from nnfix.spec import source

from .conftest import CONFIGS, ROOT


def changed(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines removed and the lines added, with their line breaks."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    removed, added = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
        if tag != "equal":
            removed += old[i1:i2]
            added += new[j1:j2]
    return removed, added


def test_a_flow_mapping_stays_flow_and_keeps_its_spacing():
    text = "data: { source: moons,  samples: 500 }  # two moons\nloss: bce\n"
    after = set_value(text, ("data", "scale"), "minmax")
    assert (
        after == "data: { source: moons,  samples: 500, scale: minmax }  # two moons\nloss: bce\n"
    )
    assert set_value("data: {}\n", ("data", "scale"), "minmax") == "data: {scale: minmax}\n"


def test_a_quoted_value_keeps_its_quotes():
    text = 'loss:\n  name: bce\n  gradient: "-(y/a + (1 - y/1 - a))"   # mine\n'
    after = set_value(text, ("loss", "gradient"), "-(y/a - (1 - y)/(1 - a))")
    assert after.splitlines()[2] == '  gradient: "-(y/a - (1 - y)/(1 - a))"   # mine'
    single = "model:\n  init: 'zeros'\n"
    assert (
        set_value(single, ("model", "init"), "xavier_normal") == "model:\n  init: 'xavier_normal'\n"
    )
    assert set_value("a: 'x'\n", ("a",), "it's") == "a: 'it''s'\n"


def test_a_plain_value_stays_plain_unless_it_would_read_back_otherwise():
    assert set_value("model: {init: zeros}\n", ("model", "init"), "he_normal") == (
        "model: {init: he_normal}\n"
    )
    # text that YAML would read as something else, or that would break the flow mapping
    assert set_value("a: {b: x}\n", ("a", "b"), "yes") == 'a: {b: "yes"}\n'
    assert set_value("a: {b: x}\n", ("a", "b"), "p, q: r") == 'a: {b: "p, q: r"}\n'
    assert set_value("a: x\n", ("a",), "1e-7") == 'a: "1e-7"\n'


def test_key_order_and_comments_are_kept_a_new_key_goes_last_in_its_mapping():
    text = (
        "# header\n"
        "data:\n"
        "  path: data/bars.npz   # the pixels\n"
        "  source: npz\n"
        "\n"
        "  # about the model\n"
        "model:\n"
        "  init: zeros\n"
    )
    after = set_value(text, ("data", "scale"), "minmax")
    removed, added = changed(text, after)
    assert removed == [] and added == ["  scale: minmax\n"]
    assert after.index("source: npz") < after.index("scale: minmax") < after.index("# about")


def test_crlf_line_endings_stay_crlf():
    text = "data:\r\n  source: moons\r\nmodel:\r\n  init: zeros\r\nloss: bce\r\n"
    after = set_value(set_value(text, ("model", "init"), "he_normal"), ("data", "noise"), 0.2)
    assert (
        after
        == "data:\r\n  source: moons\r\n  noise: 0.2\r\nmodel:\r\n  init: he_normal\r\nloss: bce\r\n"
    )
    assert "\n" not in after.replace("\r\n", "")


def test_a_last_line_without_a_line_break_gets_none_added_after_it():
    after = set_value("loss: bce\ntrain:\n  lr: 0.1", ("train", "epochs"), 5)
    assert after == "loss: bce\ntrain:\n  lr: 0.1\n  epochs: 5"


def test_a_shorthand_becomes_a_flow_mapping_with_its_name():
    text = "model:\n  layers:\n    - units: 3\n      activation: tanh   # hidden\n"
    after = set_value(text, ("model", "layers", 0, "activation", "derivative_of"), "a")
    assert after.splitlines()[3] == "      activation: {name: tanh, derivative_of: a}   # hidden"
    quoted = set_value("loss: 'bce'\n", ("loss", "scale"), 0.5)
    assert quoted == "loss: {name: 'bce', scale: 0.5}\n"


def test_a_block_replaced_by_a_scalar_and_a_missing_section_added():
    text = "train:\n  schedule:\n    name: step\n    every: 3\n  lr: 0.1\n"
    assert set_value(text, ("train", "schedule"), "cosine") == (
        "train:\n  schedule: cosine\n  lr: 0.1\n"
    )
    assert set_value("loss: bce\n# the end\n", ("train", "lr"), 0.01) == (
        "loss: bce\ntrain: {lr: 0.01}\n# the end\n"
    )
    assert set_value("train:\n  schedule:\n  lr: 0.1\n", ("train", "schedule"), "cosine") == (
        "train:\n  schedule: cosine\n  lr: 0.1\n"
    )


def test_shared_values_are_refused_rather_than_changed_in_several_places():
    anchored = "base: &b {units: 3, activation: tanh}\nmodel:\n  layers: [*b, *b]\n"
    with pytest.raises(EditError, match="anchor &b"):
        set_value(anchored, ("model", "layers", 0, "units"), 4)
    with pytest.raises(EditError, match="anchor &i"):
        set_value("model:\n  init: &i zeros\n  bias_init: *i\n", ("model", "init"), "he_normal")
    with pytest.raises(EditError, match="anchor &i"):
        set_value("model:\n  init: &i zeros\n  bias_init: *i\n", ("model", "bias_init"), "x")
    merged = "base: &b {units: 3}\nlayer:\n  <<: *b\n  activation: tanh\n"
    with pytest.raises(EditError, match="merge key"):
        set_value(merged, ("layer", "units"), 4)


def test_numbers_are_written_short_and_read_back_as_numbers():
    assert number(0.1 / 3) == "0.03333"
    assert number(1e-5) == "1.0e-05"
    assert number(3.0) == "3.0"
    for value in (0.1 / 3, 1e-5, 3.0, 2.5e10, -0.5):
        assert isinstance(source.value(number(value)), float)


@pytest.mark.parametrize(
    "spec",
    sorted(CONFIGS.glob("*.yaml")) + sorted((ROOT / "examples").glob("*/spec.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_every_bundled_spec_takes_a_new_value_on_one_line_only(spec):
    """Setting train.lr (present or not, block or flow) in every bundled spec changes the one
    line of that key, and nnfix reads the result with the new value and everything else as
    before."""
    text = spec.read_text(encoding="utf-8")
    after = set_value(text, ("train", "lr"), 0.0042)
    removed, added = changed(text, after)
    assert len(added) == 1 and "0.0042" in added[0] and len(removed) <= 1
    before_data, after_data = source.parse(text, spec).data, source.parse(after, spec).data
    assert isinstance(after_data, dict) and after_data["train"]["lr"] == 0.0042
    assert isinstance(before_data, dict)
    before_data.setdefault("train", {})["lr"] = 0.0042
    assert after_data == before_data
    assert value_at(after, ("train", "lr")) == 0.0042
    assert value_at(text, ("train", "nothing")) is MISSING
