"""Hostile or odd spec files (SPEC §7): every refusal is exit 2 with `spec.yaml:LINE[:COL]`,
never an internal error, never a recursion to death, never memory eaten."""

import os
import re
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.errors import SpecError
from nnfix.spec import source
from nnfix.spec.expr import (
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    ExpressionError,
    compile_expression,
)
from nnfix.spec.load import load_spec

GOOD = """name: t
data:
  source: moons
  samples: 64
model:
  layers:
    - {units: 4, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
train:
  epochs: 2
"""


@pytest.fixture
def spec(tmp_path, monkeypatch):
    """Write the spec (text or bytes) as spec.yaml in a fresh working directory."""
    monkeypatch.chdir(tmp_path)

    def write(content: str | bytes) -> Path:
        path = tmp_path / "spec.yaml"
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogatepass")
        path.write_bytes(content)
        return path

    return write


def run(*args: str) -> tuple[int, str, str]:
    args = (*args, "--no-progress") if args[0] == "train" else (*args, "--quick")
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stderr, result.stdout


def refused(line: int, fragment: str, col: int | None = None, command: str = "diagnose") -> str:
    """Run nnfix on ./spec.yaml: exit 2, the message at spec.yaml:LINE[:COL], no traceback."""
    code, err, _ = run(command, "spec.yaml")
    where = f"spec.yaml:{line}:{col}: " if col else f"spec.yaml:{line}:\\d+: "
    assert code == 2, err
    assert re.search(where + ".*" + re.escape(fragment), err), err
    assert "internal error" not in err and "Traceback" not in err
    return err


def problems(path: Path) -> list:
    with pytest.raises(SpecError) as caught:
        source.read(path)
    return caught.value.problems


# --- the file itself ------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkfifo("spec.yaml")
    code, err, _ = run("diagnose", "spec.yaml")
    assert code == 2 and "spec.yaml: the spec is a named pipe, not a file" in err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_is_refused_without_reading_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").symlink_to("/dev/zero")
    code, err, _ = run("train", "spec.yaml")
    assert code == 2 and "spec.yaml: the spec is a device, not a file" in err


def test_a_folder_and_a_link_to_itself_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").mkdir()
    code, err, _ = run("diagnose", "spec.yaml")
    assert code == 2 and "the spec is a folder, not a file" in err
    Path("spec.yaml").rmdir()
    Path("spec.yaml").symlink_to("spec.yaml")
    code, err, _ = run("diagnose", "spec.yaml")
    assert code == 2 and "cannot read spec file" in err and "internal error" not in err


def test_a_spec_over_the_size_cap_is_refused_before_it_is_parsed(spec):
    lines = (source.MAX_SPEC_BYTES + 100) // 50
    spec("#" + "x" * 48 + "\n" + ("k: " + "v" * 46 + "\n") * lines)
    err = refused(source.MAX_SPEC_BYTES // 50 + 1, "more than the 2.0 MB a spec may be")
    assert "the spec is 2.0 MB" in err


# --- bytes and characters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: b"\xef\xbb\xbf" + t.encode(),
        lambda t: b"\xef\xbb\xbf\xef\xbb\xbf" + t.encode(),  # an editor's doubled mark
        lambda t: t.encode("utf-16"),  # with its byte-order mark, as PowerShell writes
        lambda t: t.encode("utf-32"),
    ],
    ids=["utf8-bom", "utf8-double-bom", "utf16-bom", "utf32-bom"],
)
def test_byte_order_marks_say_the_encoding_and_the_spec_loads(spec, encode):
    path = spec(encode(GOOD))
    assert source.read(path).data == yaml.safe_load(GOOD)


def test_a_byte_that_is_not_utf8_is_located_at_its_line_and_column(spec):
    spec(GOOD.replace("samples: 64", "sam\udce9ples: 64").encode("utf-8", "surrogateescape"))
    err = refused(4, "the spec is not UTF-8: byte 0xe9", col=6)
    assert "save it as UTF-8" in err


def test_latin1_text_is_located_at_its_first_accented_letter(spec):
    spec(("# réseau\n" + GOOD).encode("latin-1"))
    refused(1, "byte 0xe9", col=4)


def test_utf16_without_a_byte_order_mark_is_named(spec):
    spec(GOOD.encode("utf-16-le"))
    refused(1, "looks like UTF-16 or UTF-32 saved without a byte-order mark", col=2)


@pytest.mark.parametrize(
    "text", ["", "\n\n", "   ", "# only a comment\n", "---\n", "--- # nothing\n...\n"]
)
def test_an_empty_spec_is_located_at_line_one(spec, text):
    spec(text)
    refused(1, "the spec is empty", col=1)


def test_control_characters_are_all_located_and_shown_escaped(spec):
    spec(GOOD.replace("name: t", "name: t\x7f").replace("epochs: 2", "epochs: \x1b[31m2"))
    err = refused(1, "control character '\\x7f' (DEL)", col=8)
    assert re.search(r"spec\.yaml:11:11: control character '\\x1b' \(ESC\)", err), err
    assert "\x7f" not in err and "\x1b" not in err  # never raw on the terminal


def test_many_control_characters_are_summed_up(spec):
    spec("name: t\n" + "k: \x01\n" * 50)
    found = problems(Path("spec.yaml"))
    assert len(found) == source.MAX_LISTED + 1
    assert found[-1].message.startswith("… and 40 more control characters")


# --- tags and scalars -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/name:os.system bce",
        "!!python/object/apply:os.system ['touch pwned']",
        "!!python/object/new:dict {}",
        "!!python/tuple [bce]",
        "!!omap [a: 1]",
        "!!binary YmNl",
        "!!set {bce}",
        "!custom bce",
        "!!str bce",
        "! bce",
        "!<tag:yaml.org,2002:python/none> bce",
    ],
)
def test_tags_are_refused_at_their_node_and_never_constructed(spec, tag):
    spec(GOOD.replace("loss: bce", f"loss: {tag}"))
    refused(9, "YAML tags are not supported here", col=7)
    assert not Path("pwned").exists()


def test_every_tag_is_reported_at_once(spec):
    spec(GOOD.replace("name: t", "name: !!str t").replace("epochs: 2", "epochs: !!int 2"))
    assert [(p.line, p.col) for p in problems(Path("spec.yaml"))] == [(1, 7), (11, 11)]


def test_an_integer_of_thousands_of_digits_is_a_located_error(spec):
    spec(GOOD + "seed: " + "7" * 5000 + "\n")
    refused(12, "number too large", col=7)


def test_an_impossible_date_is_a_located_error(spec):
    spec(GOOD + "seed: 2024-13-45\n")
    refused(12, "cannot read this date", col=7)


def test_a_list_as_a_key_is_a_located_error(spec):
    spec("? [a, b]\n: c\n" + GOOD)
    refused(1, "a key must be a name, not a list")


# --- merge keys -----------------------------------------------------------------------------

SHARED = """name: shared
data: {source: moons, samples: 64}
model:
  layers:
    - &hidden
      units: 8
      activation: {name: tanh, derivative: "1 - z**2"}
      init: {name: normal, std: 0.5}
    - <<: *hidden
      units: 4
    - {<<: [*hidden], units: 1, activation: sigmoid}
loss: bce
train: {epochs: 2}
"""

EXPANDED = """name: shared
data: {source: moons, samples: 64}
model:
  layers:
    - units: 8
      activation: {name: tanh, derivative: "1 - z**2"}
      init: {name: normal, std: 0.5}
    - units: 4
      activation: {name: tanh, derivative: "1 - z**2"}
      init: {name: normal, std: 0.5}
    - {units: 1, activation: sigmoid, init: {name: normal, std: 0.5}}
loss: bce
train: {epochs: 2}
"""


def test_merge_keys_load_to_the_same_data_as_the_expanded_spec(spec, tmp_path):
    expanded = tmp_path / "expanded.yaml"
    expanded.write_text(EXPANDED)
    loaded = load_spec(spec(SHARED))
    assert loaded.raw == load_spec(expanded).raw == yaml.safe_load(SHARED)
    assert set(loaded.functions) == {
        ("model", "layers", i, "activation", "derivative") for i in (0, 1)
    }


def test_merged_values_are_marked_where_they_are_written(spec):
    src = source.read(spec(SHARED))
    assert src.keys[("model", "layers", 1, "units")] == source.Mark(10, 7)  # the explicit key
    assert src.values[("model", "layers", 1, "init")] == source.Mark(8, 13)  # in the anchor
    assert src.values[("model", "layers", 2, "activation")].line == 11


def test_a_bad_value_reached_through_a_merge_points_into_the_anchor(spec):
    spec(SHARED.replace("std: 0.5", "std: lots"))
    err = refused(8, "model.layers[1].init.std: expected a number", col=33)
    assert "model.layers[2].init.std" in err


def test_merge_order_follows_yaml_explicit_keys_win_then_earlier_mappings(spec):
    text = "a: &a {x: 1, y: 1}\nb: &b {x: 2, y: 2, z: 2}\nc: {y: 3, <<: [*a, *b]}\n"
    assert source.parse(text, Path("s.yaml")).data == yaml.safe_load(text)
    assert source.parse(text, Path("s.yaml")).data["c"] == {"x": 1, "y": 3, "z": 2}


def test_a_merge_of_a_scalar_is_a_located_error(spec):
    spec(GOOD.replace("train:\n", "train:\n  <<: 3\n"))
    refused(11, "a merge key '<<' takes a mapping", col=7)


# --- aliases and nesting --------------------------------------------------------------------


def bomb(levels: int) -> str:
    chain = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    chain += [f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "".join(f"    - {line}\n" for line in chain)


def test_an_alias_bomb_is_refused_at_the_alias_that_passes_the_cap(spec):
    spec(GOOD + "diagnose:\n  select:\n" + bomb(12))  # 537 bytes, 10^11 values expanded
    err = refused(19, "alias '*l4' stands for 66,430 values", col=12, command="train")
    assert f"past {source.MAX_VALUES:,}" in err


def test_a_spec_with_too_many_plain_values_is_refused(spec, monkeypatch):
    monkeypatch.setattr(source, "MAX_VALUES", 50)
    spec(GOOD + "".join(f"k{i}: {i}\n" for i in range(40)))
    refused(22, "the spec has more than 50 values", col=6)


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("name: &r [*r]\n" + GOOD.replace("name: t\n", ""), 1, 11),
        ("_r: &r {a: *r}\n" + GOOD, 1, 12),
        (GOOD.replace("  layers:", "  layers: &r\n    - *r\n  _x:"), 7, 7),
    ],
)
def test_an_alias_inside_its_own_anchor_is_refused(spec, text, line, col):
    spec(text)
    refused(line, "is inside its own anchor", col=col)


@pytest.mark.parametrize(
    "value",
    [
        "[" * 500 + "1" + "]" * 500,
        "{a: " * 500 + "1" + "}" * 500,
        "\n" + "".join("  " * (i + 1) + "- \n" for i in range(500)).rstrip("\n") + " 1",
    ],
    ids=["flow-list", "flow-mapping", "block"],
)
def test_deep_nesting_is_refused_before_the_composer_recurses(spec, value):
    spec(f"_deep: {value}\n" + GOOD)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)  # the composer recursing 500 levels would fail here
    try:
        err = refused(
            1 if value.startswith(("[", "{")) else source.MAX_DEPTH + 1, "nests more than"
        )
    finally:
        sys.setrecursionlimit(limit)
    assert f"more than {source.MAX_DEPTH} levels" in err


def test_aliases_cannot_nest_deeper_than_the_cap_either(spec):
    deep = "[" * 40 + "1" + "]" * 40
    text = f"a: &a {deep}\nb: &b [[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
    spec(text + GOOD)
    refused(2, "alias '*a' nests the spec more than", col=34)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: &x 1\nb: &x 2\n" + GOOD, 2, "found duplicate anchor 'x' (first on line 1)"),
        (GOOD + "---\n" + GOOD, 12, "expected a single document in the stream, but found another"),
    ],
)
def test_composer_errors_say_what_is_wrong_not_only_where(spec, text, line, message):
    spec(text)
    refused(line, f"YAML syntax error: {message}")


def test_normal_anchors_and_aliases_still_work(spec):
    text = GOOD.replace("train:\n", "train: &t\n") + "diagnose: {select: &s [G, T], ignore: *s}\n"
    assert source.read(spec(text)).data["diagnose"] == {"select": ["G", "T"], "ignore": ["G", "T"]}


# --- expressions ----------------------------------------------------------------------------


def with_derivative(expression: str) -> str:
    return GOOD.replace(
        "activation: tanh}", f'activation: {{name: tanh, derivative: "{expression}"}}}}'
    )


@pytest.mark.parametrize(
    "expression",
    [
        "z" + " + z" * 3000,
        "z" + "**z" * 3000,
        "-" * 1990 + "z",
        "1 - " * 400 + "z",
        "tanh(" * 150 + "z" + ")" * 150,
    ],
    ids=["3001-terms", "power-chain", "unary-chain", "nested-subtractions", "nested-calls"],
)
def test_huge_or_deep_expressions_are_located_spec_errors(spec, expression):
    spec(with_derivative(expression))
    err = refused(7, "model.layers[0].activation.derivative: expression", col=None)
    assert "too long" in err or "nested too deeply" in err


def test_expression_limits_keep_valid_expressions_meaning_the_same():
    import numpy as np

    z = np.array([-1.0, 0.5, 2.0])
    long_but_fine = " + ".join(["z"] * (MAX_EXPRESSION_DEPTH - 2))
    assert np.allclose(compile_expression(long_but_fine)(z=z), (MAX_EXPRESSION_DEPTH - 2) * z)
    assert np.allclose(compile_expression("1 - tanh(z)**2")(z=z), 1 - np.tanh(z) ** 2)
    compile_expression("9**9**9**9")  # nothing folded at compile time: no memory blown
    with pytest.raises(ExpressionError, match="too long"):
        compile_expression("z" * (MAX_EXPRESSION_CHARS + 1))
    with pytest.raises(ExpressionError, match="nested too deeply") as caught:
        compile_expression("  " + "-" * (MAX_EXPRESSION_DEPTH + 5) + "z")
    assert caught.value.offset == 2 + MAX_EXPRESSION_DEPTH


# --- the same through --set, and in JSON -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("&a [*a]", "inside its own anchor"),
        ("!!python/name:os.system", "YAML tags are not supported"),
        ("[" * 3000 + "]" * 3000, "nests more than"),
        ("1" + "0" * 5000, "number too large"),
    ],
)
def test_set_values_go_through_the_same_limits(spec, value, fragment):
    spec(GOOD)
    code, err, _ = run("diagnose", "spec.yaml", "--set", f"name={value}")
    assert code == 2 and fragment in err and "internal error" not in err
    assert err.startswith("spec.yaml:1:7: name: ") and "(from --set name=" in err


def test_json_diagnose_of_a_hostile_spec_exits_2_with_the_located_message(spec):
    spec(GOOD + "diagnose:\n  select:\n" + bomb(9))
    code, err, out = run("diagnose", "spec.yaml", "--format", "json")
    assert code == 2 and "spec.yaml:19:12: alias" in err
    assert "internal error" not in err and "Traceback" not in out
