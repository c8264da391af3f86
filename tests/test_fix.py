"""`nnfix fix` on the bundled stories: the diff, --write that changes only the fixed values,
--verify that turns each story from FAIL to PASS with the loss figures, a fix that does not
help said so, and what is (never) written."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.run import files
from nnfix.spec import source

from .conftest import CONFIGS, ROOT

STORIES = sorted(CONFIGS.glob("story-*.yaml"))


def invoke(*args: str):
    return CliRunner().invoke(main, ["fix", *args], env={"COLUMNS": "400"})


@pytest.fixture
def configs(tmp_path) -> Path:
    """A copy of configs/ (the stories and the data they read)."""
    shutil.copytree(CONFIGS, tmp_path / "configs")
    return tmp_path / "configs"


def line_of(text: str, path: Path, spec_path: tuple) -> int | None:
    src = source.parse(text, path)
    mark = src.values.get(spec_path)
    return mark.line if mark is not None else None


@pytest.mark.parametrize("story", STORIES, ids=lambda p: p.stem)
def test_write_changes_exactly_the_lines_of_the_fixed_values(story, configs):
    spec = configs / story.name
    before = spec.read_bytes()
    result = invoke(str(spec), "--write", "--quick")
    assert result.exit_code in (0, 1), result.output
    after = spec.read_bytes()
    assert after != before, result.output
    old_text, new_text = before.decode(), after.decode()
    # the fixed paths, as the output lists them: `file:LINE  CODE name`, then `path: old → new`
    paths = re.findall(r"^  \S+:(\d+)  [A-Z]\d{3}.*\n      (\S+): .+ → .+$", result.output, re.M)
    assert paths, result.output
    new_lines = {int(line) for line, _ in paths}
    old_lines = set()
    for _, dotted in paths:
        key = tuple(int(p) if p.isdigit() else p for p in re.split(r"\.|\[|\]\.?", dotted) if p)
        found = line_of(old_text, spec, key)
        if found is not None:
            old_lines.add(found)
    old, new = old_text.splitlines(keepends=True), new_text.splitlines(keepends=True)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
        if tag == "equal":
            continue
        assert set(range(i1 + 1, i2 + 1)) <= old_lines, (tag, old[i1:i2])
        assert set(range(j1 + 1, j2 + 1)) <= new_lines, (tag, new[j1:j2])
    # every comment line and every other line is there, byte for byte
    kept = [line for n, line in enumerate(old, 1) if n not in old_lines]
    assert all(line in new for line in kept)
    assert [c for c in old if c.lstrip().startswith("#")] == [
        c for c in new if c.lstrip().startswith("#")
    ]


@pytest.mark.parametrize("story", STORIES, ids=lambda p: p.stem)
def test_verify_turns_each_story_from_fail_to_pass_with_the_loss_figures(story, configs):
    spec = configs / story.name
    assert CliRunner().invoke(main, ["diagnose", str(spec)]).exit_code == 1  # FAIL before
    result = invoke(str(spec), "--verify")
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"^  verdict\s+FAIL\s+PASS$", out, re.M), out
    loss = re.search(r"^  loss\s+(\S+)\s+(\S+)$", out, re.M)
    assert loss is not None, out
    before, after = loss.groups()
    assert before == "diverged" or float(after) < float(before) / 10  # 0.69 → 0.007 and so on
    accuracy = re.search(r"^  accuracy\s+([\d.]+) %\s+([\d.]+) %$", out, re.M)
    assert accuracy is not None and float(accuracy[2]) > 95 > float(accuracy[1])
    assert "FAIL → PASS" in out
    assert spec.read_bytes() == story.read_bytes()  # verified in memory: nothing written


def test_without_write_nothing_is_written(configs):
    spec = configs / "story-zero-init.yaml"
    os.utime(spec, (1_000_000_000, 1_000_000_000))
    before = spec.read_bytes()
    result = invoke(str(spec), "--quick")
    assert result.exit_code == 0
    assert "-  init: zeros\n+  init: xavier_normal\n" in result.output
    assert f"--- a/{spec.as_posix()}".replace("a//", "a/") in result.output
    assert "nothing written: --write changes" in result.output
    assert spec.read_bytes() == before and spec.stat().st_mtime == 1_000_000_000
    assert sorted(p.name for p in configs.iterdir()) == sorted(
        p.name for p in CONFIGS.iterdir()
    )  # no temporary file left either


def test_write_keeps_the_files_mode_byte_order_mark_and_crlf_line_endings(configs):
    spec = configs / "story-uniform-init.yaml"
    spec.write_bytes(b"\xef\xbb\xbf" + spec.read_bytes().replace(b"\n", b"\r\n"))
    spec.chmod(0o640)
    result = invoke(str(spec), "--write", "--quick")
    assert result.exit_code == 0, result.output
    data = spec.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf# Failure story 3")
    assert data.count(b"\n") == data.count(b"\r\n") > 20
    assert b"  scale: minmax\r\n" in data and b"  init: xavier_normal\r\n" in data
    assert stat.S_IMODE(spec.stat().st_mode) == 0o640


def test_an_unwritable_spec_is_a_located_exit_2_before_the_diagnosis(configs, monkeypatch):
    spec = configs / "story-zero-init.yaml"
    before = spec.read_bytes()
    monkeypatch.setattr(files, "_access", lambda path, mode: Path(path).name != spec.name)
    result = invoke(str(spec), "--write")
    assert result.exit_code == 2
    assert f"{spec}: " in result.stderr and "is read-only" in result.stderr
    assert "nothing was written" in result.stderr
    assert result.stdout == "" and spec.read_bytes() == before


def test_a_full_disk_while_writing_is_exit_2_and_leaves_the_file(configs, monkeypatch):
    spec = configs / "story-zero-init.yaml"
    before = spec.read_bytes()

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "_write_all", full)
    result = invoke(str(spec), "--write", "--quick")
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert spec.read_bytes() == before
    assert not [p for p in configs.iterdir() if p.name.endswith(files.TMP_SUFFIX)]


def test_an_unreadable_spec_is_exit_2(tmp_path):
    assert invoke(str(tmp_path / "none.yaml")).exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {source: moonz}\nmodel: {layers: [{units: 1}]}\nloss: bce\n")
    result = invoke(str(bad))
    assert result.exit_code == 2 and "unknown value 'moonz'" in result.stderr
    assert invoke(str(CONFIGS / "moons.yaml"), "--select", "Q9").exit_code == 2


def test_a_healthy_spec_has_nothing_to_fix(tmp_path):
    spec = tmp_path / "moons.yaml"
    shutil.copy(CONFIGS / "moons.yaml", spec)
    before = spec.read_bytes()
    result = invoke(str(spec), "--write", "--quick")
    assert result.exit_code == 0
    assert result.output.startswith("nothing to fix: no findings")
    assert "---" not in result.output and spec.read_bytes() == before


def test_select_applies_only_those_fixes_and_the_exit_code_counts_what_is_left(configs):
    spec = configs / "story-derivatives.yaml"
    result = invoke(str(spec), "--select", "A102", "--quick")
    assert result.exit_code == 1  # A103 and G102 are left, at error level
    assert result.output.count("derivative_of: z → a") == 3
    assert "loss.gradient:" not in result.output and "A103" in result.output
    everything = invoke(str(spec), "--select", "A1,G102", "--quick")
    assert everything.exit_code == 0 and "FAIL → PASS" in everything.output


def test_fail_on_decides_the_exit_code_on_what_is_left(configs):
    spec = configs / "story-derivatives.yaml"
    result = invoke(str(spec), "--select", "A103", "--quick", "--fail-on", "never")
    assert result.exit_code == 0


def test_a_fix_that_does_not_help_is_said_so_and_undone(tmp_path):
    """rows-buggy: the bug is sigmoid's derivative fed Z in the user's backward; the spec's
    learning-rate fixes (the probes' M104/T103, symptoms of it) cannot reach it."""
    folder = tmp_path / "rows-buggy"
    shutil.copytree(ROOT / "examples" / "rows-buggy", folder)
    before = (folder / "spec.yaml").read_bytes()
    result = invoke(str(folder / "spec.yaml"), "--write")
    assert result.exit_code == 1
    out = result.output
    assert "did not help (undone):" in out
    assert re.search(r"train\.lr: 0\.5 → [\d.e-]+ for (M104|T103)", out), out
    assert "is not changed again" in out  # the other lr fix is not tried after it
    assert "net.py:27:5  G101 gradient-mismatch" in out  # where the bug really is
    assert (folder / "spec.yaml").read_bytes() == before  # nothing that did not help is written
    assert (folder / "net.py").read_bytes() == (ROOT / "examples/rows-buggy/net.py").read_bytes()


def test_a_loss_that_is_not_lower_after_the_fixes_is_said_so(configs):
    from rich.console import Console

    from nnfix.fix.run import repair
    from nnfix.fix.verify import Trained
    from nnfix.report.fix_output import render

    result = repair(configs / "story-zero-init.yaml", {}, quick=True)
    assert result.changed
    result.training = (Trained(0.693, 0.5, 50, 50, 1.0), Trained(0.701, 0.5, 50, 50, 1.0))
    console = Console(record=True, width=100)
    render(result, console)
    text = console.export_text()
    assert "the fixes did not help: the loss after them is not lower than before" in text
    assert re.search(r"^  loss\s+0\.693\s+0\.701$", text, re.M)
    result.training = (Trained(0.693, 0.5, 50, 50, 1.0), Trained(0.01, 1.0, 50, 50, 1.0))
    console = Console(record=True, width=100)
    render(result, console)
    assert "did not help" not in console.export_text()
