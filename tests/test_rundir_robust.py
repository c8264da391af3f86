"""The train run directory (SPEC §6, §7) under stress: Ctrl-C and kill -9 during the save, the
umask, `name:` that looks like a path, a reused or unwritable --out, a full disk."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.run import files, rundir
from nnfix.run.rundir import PARTIAL, run_label

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's nnfix in the child processes

SPEC = """
name: tiny
data: {source: xor, samples: 200, validation: 0.25}
model:
  layers:
    - {units: 6, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
train: {optimizer: adam, lr: 0.02, epochs: 3, batch_size: 16}
"""
FILES = {"spec.yaml", "weights.npz", "metrics.csv", "loss.svg", "gradients.svg", "summary.json"}


def invoke(*args):
    return CliRunner().invoke(main, ["train", *args, "--no-progress"])


def assert_complete(run: Path) -> dict:
    """Every file of the run there, whole and loadable; no temporary file beside them."""
    assert {p.name for p in run.iterdir()} == FILES
    summary = json.loads((run / "summary.json").read_text())
    assert set(np.load(run / "weights.npz").files) == {"W1", "b1", "W2", "b2"}
    assert len((run / "metrics.csv").read_text().splitlines()) == summary["epochs"] + 1
    assert yaml.safe_load((run / "spec.yaml").read_text())["name"] == summary["name"]
    for plot in ("loss.svg", "gradients.svg"):
        assert ET.parse(run / plot).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    return summary


def leftovers(root: Path) -> list[str]:
    """Temporary files and partial directories anywhere under root."""
    return [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.name.endswith((files.TMP_SUFFIX, PARTIAL))
    ]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(SPEC).lstrip())
    return tmp_path


# --- Ctrl-C during the save -----------------------------------------------------------------


def _sigint_at(monkeypatch, target, attribute, call: int, times: int = 1) -> list[int]:
    """Send this process `times` real SIGINTs in the `call`-th call of target.attribute (the
    handler runs right there, inside the save), then let the call go on."""
    calls = [0]
    original = getattr(target, attribute)

    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, attribute, wrapped)
    return calls


@pytest.mark.parametrize("call", [1, 2, 3, 4, 5, 6])  # spec, weights, metrics, 2 plots, summary
def test_ctrl_c_while_each_file_is_written_keeps_the_whole_finished_run(in_tmp, monkeypatch, call):
    calls = _sigint_at(monkeypatch, files, "_write_all", call)
    result = invoke("spec.yaml", "--format", "json")
    assert calls[0] == len(FILES)
    assert result.exit_code == 130, result.output
    summary = assert_complete(in_tmp / "runs" / "tiny" / "1")
    assert summary["stopped"] != "interrupted" and summary["epochs"] == 3  # training had ended
    assert json.loads(result.stdout) == summary  # the summary is still shown
    assert leftovers(in_tmp) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_even_repeated_ctrl_c_during_the_save_cannot_cut_it_short(in_tmp, monkeypatch):
    _sigint_at(monkeypatch, files, "_write_all", 2, times=3)
    result = invoke("spec.yaml", "--out", "run")
    assert result.exit_code == 130
    assert_complete(in_tmp / "run")
    assert leftovers(in_tmp) == []


def test_ctrl_c_while_the_run_directory_is_renamed_keeps_it(in_tmp, monkeypatch):
    _sigint_at(monkeypatch, rundir.RunSlot, "commit", 1)
    result = invoke("spec.yaml")
    assert result.exit_code == 130
    assert_complete(in_tmp / "runs" / "tiny" / "1")
    assert leftovers(in_tmp) == []


def test_a_real_sigint_during_the_save_of_a_real_process(in_tmp):
    """The same in a process of its own, the signal sent by the kernel as Ctrl-C would be."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from nnfix.run import rundir
        original = rundir.write_npz
        def write_npz(*args):
            os.kill(os.getpid(), signal.SIGINT)
            original(*args)
        rundir.write_npz = write_npz
        sys.argv[1:] = ["train", "spec.yaml", "--no-progress", "--out", "run"]
        import runpy
        runpy.run_module("nnfix", run_name="__main__", alter_sys=True)  # python -m nnfix
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=ENV
    )
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert_complete(in_tmp / "run")
    assert leftovers(in_tmp) == []


def test_an_aborted_training_leaves_no_directory(in_tmp, monkeypatch):
    """A second Ctrl-C aborts the training: nothing is saved, and nothing reserved is left."""
    from nnfix.run import training

    def abort(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "fit", abort)
    assert invoke("spec.yaml").exit_code == 130
    assert list((in_tmp / "runs" / "tiny").iterdir()) == []


# --- kill -9 during the save ----------------------------------------------------------------


def test_what_a_kill_9_during_the_save_leaves_is_hidden_and_removed_by_the_next_run(in_tmp):
    script = textwrap.dedent(
        """
        import os, signal, sys
        from nnfix.run import files
        def _write_all(fd, data):
            os.write(fd, data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        files._write_all = _write_all
        sys.argv[1:] = ["train", "spec.yaml", "--no-progress"]
        import runpy
        runpy.run_module("nnfix", run_name="__main__", alter_sys=True)  # python -m nnfix
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120, env=ENV)
    assert proc.returncode == -signal.SIGKILL
    runs = in_tmp / "runs" / "tiny"
    (partial,) = runs.iterdir()
    assert partial.name == f".1{PARTIAL}"  # no visible, incomplete run
    assert [p.name.endswith(files.TMP_SUFFIX) for p in partial.iterdir()] == [True]
    old = time.time() - 2 * rundir.STALE_AFTER
    os.utime(partial, (old, old))
    assert invoke("spec.yaml").exit_code == 0
    assert [p.name for p in runs.iterdir()] == ["1"]
    assert_complete(runs / "1")


def test_a_partial_directory_of_a_live_run_is_kept_and_numbered_past(in_tmp):
    import fcntl

    runs = in_tmp / "runs" / "tiny"
    live = runs / f".1{PARTIAL}"
    live.mkdir(parents=True)
    old = time.time() - 2 * rundir.STALE_AFTER
    os.utime(live, (old, old))
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the run that owns it holds it
        assert invoke("spec.yaml").exit_code == 0
    finally:
        os.close(fd)
    assert sorted(p.name for p in runs.iterdir()) == [f".1{PARTIAL}", "2"]


# --- permissions ----------------------------------------------------------------------------


@contextlib.contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize(
    ("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_run_files_get_the_users_umask(in_tmp, mask, file_mode, dir_mode):
    with umask(mask):
        assert invoke("spec.yaml").exit_code == 0
    run = in_tmp / "runs" / "tiny" / "1"
    assert stat.S_IMODE(run.stat().st_mode) == dir_mode
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in run.iterdir()} == dict.fromkeys(
        FILES, file_mode
    )


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_write_atomic_gives_new_and_replaced_files_the_umask(tmp_path, mask, mode):
    target = tmp_path / "f.txt"
    with umask(mask):
        files.write_atomic(target, "one")
        assert stat.S_IMODE(target.stat().st_mode) == mode
        files.write_atomic(target, "two")
    assert stat.S_IMODE(target.stat().st_mode) == mode and target.read_text() == "two"


def test_write_atomic_failure_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "_write_all", full)
    with pytest.raises(OSError, match="No space left"):
        files.write_atomic(target, "new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["f.txt"]


def test_write_atomic_writes_through_a_symbolic_link(tmp_path):
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to("real.json")
    files.write_atomic(tmp_path / "link.json", "new")
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "real.json").read_text() == "new"


# --- name: is a label -----------------------------------------------------------------------

NAMES = ["../../x", "/tmp/nnfix-escape", "a/b", "..", ".", "", " ", "a\\b", "a\x00b",
         "a\x1b[31mb", "\u202egpj.exe", "CON", "x" * 300, "C:\\Windows", "ok-name 1"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_a_label_becomes_one_safe_directory_name(name):
    label = run_label(name)
    assert label and label.isprintable() and len(label) <= rundir.LABEL_MAX
    assert not set(label) & set('/\\<>:"|?*') and not label.startswith(".")
    assert Path(label).name == label and label not in (".", "..")
    assert run_label(label) == label


def test_an_ordinary_label_is_kept():
    assert run_label("mnist-sigmoid v2") == "mnist-sigmoid v2"
    assert run_label("..") == "__" and run_label("a/b") == "a_b"


@pytest.mark.parametrize("name", ["../../x", "/tmp/nnfix-escape-test", "a/b", "..", "a\x00b\x1b"])
def test_the_run_lands_under_runs_whatever_the_name(in_tmp, name):
    spec = in_tmp / "spec.yaml"
    spec.write_text(SPEC.replace("name: tiny", f"name: {json.dumps(name)}"))
    before = set(in_tmp.parent.iterdir())
    result = invoke("spec.yaml", "--format", "json")
    assert result.exit_code == 0, result.output
    (label,) = (in_tmp / "runs").iterdir()
    assert label.name == run_label(name)
    assert_complete(label / "1")
    assert sorted(p.name for p in in_tmp.iterdir()) == ["runs", "spec.yaml"]
    assert set(in_tmp.parent.iterdir()) == before and not Path("/tmp/nnfix-escape-test").exists()
    summary = json.loads(result.stdout)
    assert summary["name"] == name and summary["run_dir"] == f"runs/{label.name}/1"


def test_the_summary_shows_the_label_escaped(in_tmp):
    (in_tmp / "spec.yaml").write_text(SPEC.replace("name: tiny", 'name: "a\\e[31m[b]"'))
    result = invoke("spec.yaml")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "a\\x1b[31m[b]" in result.stdout


# --- --out and runs/ ------------------------------------------------------------------------


def test_a_reused_out_is_refused_and_left_as_it_was(in_tmp):
    assert invoke("spec.yaml", "--out", "run").exit_code == 0
    before = {p.name: p.read_bytes() for p in (in_tmp / "run").iterdir()}
    result = invoke("spec.yaml", "--out", "run", "--seed", "7")
    assert result.exit_code == 2
    assert "--out run: already holds files" in result.stderr
    assert "choose another directory, or remove this one" in result.stderr
    assert "epoch" not in result.stderr  # refused before training
    assert {p.name: p.read_bytes() for p in (in_tmp / "run").iterdir()} == before
    assert leftovers(in_tmp) == []


def test_an_empty_existing_out_is_used(in_tmp):
    (in_tmp / "run").mkdir()
    assert invoke("spec.yaml", "--out", "run").exit_code == 0
    assert_complete(in_tmp / "run")


def test_a_new_out_with_missing_parents_is_made(in_tmp):
    assert invoke("spec.yaml", "--out", "a/b/run").exit_code == 0
    assert_complete(in_tmp / "a" / "b" / "run")


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("", "--out '': an empty path"),
        (".", "--out .: names a directory in use"),
        ("spec.yaml/run", "--out spec.yaml/run: spec.yaml is a file, not a directory"),
        ("spec.yaml", "'--out'"),  # click's own check: Directory 'spec.yaml' is a file
    ],
)
def test_an_out_that_cannot_be_a_run_directory_is_exit_2(in_tmp, out, says):
    result = invoke("spec.yaml", "--out", out)
    assert result.exit_code == 2, result.output
    assert says in result.stderr + result.output
    assert "internal error" not in result.output + result.stderr
    assert "epoch" not in result.stderr
    assert sorted(os.listdir(in_tmp)) == ["spec.yaml"]


def test_runs_that_is_a_file_is_exit_2_before_training(in_tmp):
    (in_tmp / "runs").write_text("")
    result = invoke("spec.yaml")
    assert result.exit_code == 2
    assert "cannot save the run under runs/tiny: runs is a file, not a directory" in result.stderr
    assert "epoch" not in result.stderr


def test_an_unwritable_runs_is_exit_2_before_training(in_tmp, monkeypatch):
    (in_tmp / "runs").mkdir()
    monkeypatch.setattr(files, "_access", lambda path, mode: Path(path).name != "runs")
    result = invoke("spec.yaml")
    assert result.exit_code == 2
    assert "cannot create anything in runs: permission denied" in result.stderr
    assert "epoch" not in result.stderr and os.listdir(in_tmp / "runs") == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_a_read_only_runs_is_exit_2_before_training(in_tmp):
    (in_tmp / "runs").mkdir(mode=0o555)
    result = invoke("spec.yaml")
    assert result.exit_code == 2 and "permission denied" in result.stderr


def test_a_full_disk_during_the_save_is_exit_2_and_leaves_nothing(in_tmp, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "_write_all", full)
    result = invoke("spec.yaml", "--out", "run")
    assert result.exit_code == 2
    assert "could not save the run to run: No space left on device" in result.stderr
    assert "the trained run was not saved" in result.stderr
    assert sorted(os.listdir(in_tmp)) == ["spec.yaml"]


def test_a_run_whose_number_was_taken_meanwhile_gets_the_next(in_tmp, monkeypatch):
    from nnfix.run import training

    original = training.save_run

    def squat(directory, *args, **kwargs):  # something else makes runs/tiny/1 while it trains
        (in_tmp / "runs" / "tiny" / "1").mkdir(exist_ok=True)
        (in_tmp / "runs" / "tiny" / "1" / "mine").write_text("")
        original(directory, *args, **kwargs)

    monkeypatch.setattr(training, "save_run", squat)
    result = invoke("spec.yaml", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["run_dir"] == "runs/tiny/2"
    assert json.loads((in_tmp / "runs/tiny/2/summary.json").read_text())["run_dir"] == "runs/tiny/2"
    assert os.listdir(in_tmp / "runs" / "tiny" / "1") == ["mine"]
