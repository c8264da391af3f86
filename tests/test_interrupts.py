"""Ctrl-C wherever it lands (SPEC §1, §7): "interrupted" and exit 130, never a traceback or
click's "Aborted!"; held while a file must be written whole."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.interrupts import EXIT_INTERRUPTED, deferred_sigint

from .conftest import CONFIGS

ROOT = Path(__file__).resolve().parents[1]


def test_deferred_sigint_holds_the_signal_until_the_block_is_done():
    done = []
    with pytest.raises(KeyboardInterrupt), deferred_sigint():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        done.append(True)  # not cut short
    assert done == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_deferred_sigint_without_reraise_reports_it():
    with deferred_sigint(reraise=False) as seen:
        assert not seen.received
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
    assert seen.received
    with deferred_sigint(reraise=False) as quiet:
        pass
    assert not quiet.received


def test_deferred_sigint_restores_the_previous_handler():
    calls = []
    previous = signal.signal(signal.SIGINT, lambda *a: calls.append(1))
    try:
        with deferred_sigint(reraise=False):
            pass
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        assert calls == [1]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_deferred_sigint_outside_the_main_thread_does_nothing():
    errors = []

    def work():
        try:
            with deferred_sigint() as seen:
                assert not seen.received
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == []


def test_ctrl_c_while_click_parses_is_interrupted_and_130(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(main), "make_context", interrupted)
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == EXIT_INTERRUPTED
    assert "interrupted" in result.stderr and "Aborted" not in result.stderr
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # nothing left behind


def test_click_errors_and_exits_keep_their_codes():
    runner = CliRunner()
    assert runner.invoke(main, ["--version"]).exit_code == 0
    assert runner.invoke(main, ["nope"]).exit_code == 2
    assert runner.invoke(main, ["rules"]).exit_code == 0
    assert runner.invoke(main, ["explain", "nope"]).exit_code == 2


def test_a_lost_ctrl_c_is_raised_again_once(monkeypatch):
    from nnfix import interrupts

    monkeypatch.setattr(interrupts, "_raised", 0)
    interrupts.check_lost()  # nothing lost: nothing raised
    with pytest.raises(KeyboardInterrupt):
        interrupts.counting_handler(signal.SIGINT, None)
    assert interrupts.lost()
    with pytest.raises(KeyboardInterrupt):
        interrupts.check_lost()
    assert not interrupts.lost()


def test_an_exception_a_ctrl_c_became_is_an_interrupt(monkeypatch):
    from nnfix import interrupts

    monkeypatch.setattr(interrupts, "_raised", 0)
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:  # as Python 3.11 wraps one raised in __set_name__
            raise RuntimeError("Error calling __set_name__") from exc
    except RuntimeError as wrapped:
        assert interrupts.interrupted_by(wrapped)
    assert not interrupts.interrupted_by(ValueError("a bug"))
    monkeypatch.setattr(interrupts, "_raised", 1)  # a Ctrl-C went missing meanwhile
    assert interrupts.interrupted_by(ValueError("whatever came of it"))


def test_a_keyboard_interrupt_python_cannot_raise_is_not_printed(monkeypatch):
    from types import SimpleNamespace

    from nnfix import interrupts

    passed = []
    monkeypatch.setattr(sys, "__unraisablehook__", passed.append)
    interrupts.quiet_unraisable(SimpleNamespace(exc_type=KeyboardInterrupt))
    other = SimpleNamespace(exc_type=ValueError)
    interrupts.quiet_unraisable(other)
    assert passed == [other]


SWALLOW = """
import os, signal, sys, time
import {module} as target
original = target.{function}
def swallowing(*args, **kwargs):  # a Ctrl-C lost as CPython loses one inside an import
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    return original(*args, **kwargs)
target.{function} = swallowing
sys.argv[1:] = {args!r}
from nnfix.__main__ import run
run()
"""


@pytest.mark.parametrize(
    ("module", "function", "args"),
    [
        ("nnfix.spec.load", "load_spec", ["train", "spec.yaml", "--no-progress", "--out", "run"]),
        ("nnfix.diagnose.run", "run", ["diagnose", str(CONFIGS / "moons.yaml"), "--quick"]),
    ],
)
def test_a_ctrl_c_lost_on_the_way_still_ends_the_command_with_130(tmp_path, module, function, args):
    (tmp_path / "spec.yaml").write_text(TRAIN)
    script = SWALLOW.format(module=module, function=function, args=args)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == EXIT_INTERRUPTED, proc.stderr
    assert "interrupted" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()  # the training never started


# --- real processes, real signals, very early ------------------------------------------------


def _entry_point() -> str:
    """What the installed `nnfix` script runs, read from pyproject's [project.scripts], as pip's
    generated script does it."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["nnfix"].split(":")
    return f"import sys; from {module} import {function}; sys.exit({function}())"


STARTS = {
    "python -m nnfix": [sys.executable, "-m", "nnfix"],
    "the nnfix script": [sys.executable, "-c", _entry_point()],
}

TRAIN = """
data: {source: xor, samples: 2000}
model: {layers: [{units: 8, activation: tanh}, {units: 1, activation: sigmoid}]}
loss: bce
train: {epochs: 100000}
"""


def _ours(stderr: str) -> bool:
    """Whether a traceback went through nnfix's own code (not only Python's start-up)."""
    return bool(re.search(r'File ".*[/\\]nnfix[/\\]', stderr))


def _landed_before_nnfix(returncode: int, stderr: str) -> bool:
    """The signal came before nnfix's first line could run: while Python itself starts (its
    "Fatal Python error: init_…", "Could not import runpy module", the default action of
    SIGINT before Python installs its handler) or in the one-line launcher, where no program
    can handle it. nnfix's entry point is on the stack of anything raised after that."""
    if "Fatal Python error: init_" in stderr:
        return True
    if _ours(stderr):
        return False
    return returncode == -signal.SIGINT or (returncode == 1 and "Traceback" in stderr)


@pytest.mark.parametrize("start", list(STARTS))
@pytest.mark.parametrize("command", ["train", "diagnose"])
def test_an_early_ctrl_c_is_interrupted_and_exit_130(tmp_path, start, command):
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # what children inherit
    spec = tmp_path / "spec.yaml"
    spec.write_text(TRAIN)
    args = (
        ["train", str(spec), "--no-progress", "--out", str(tmp_path / "run")]
        if command == "train"
        else ["diagnose", str(CONFIGS / "moons.yaml")]
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    judged = 0
    for delay in (0.0, 0.05, 0.1, 0.2, 0.3):
        for _ in range(3):  # again, when the signal landed before nnfix could see it
            proc = subprocess.Popen(
                [*STARTS[start], *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=tmp_path,
            )
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=60)
            if _landed_before_nnfix(proc.returncode, stderr):
                continue
            if proc.returncode == 0 and command == "diagnose":  # done before the signal
                break
            judged += 1
            said = f"after {delay} s: exit {proc.returncode}\n{stderr}"
            assert proc.returncode == EXIT_INTERRUPTED, said
            assert "Traceback" not in stderr and "Aborted" not in stderr, said
            assert "interrupted" in stdout + stderr, said
            break
        if command == "train":
            import shutil

            shutil.rmtree(tmp_path / "run", ignore_errors=True)
    if judged == 0:
        pytest.skip("every signal landed while Python itself was starting")


def test_a_run_started_with_ctrl_c_ignored_ignores_it(tmp_path):
    """A background job of a script starts with SIGINT ignored: nnfix leaves it so."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(TRAIN.replace("epochs: 100000", "epochs: 40"))
    proc = subprocess.Popen(
        [*STARTS["python -m nnfix"], "train", str(spec), "--no-progress", "--out", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    for delay in (0.05, 0.3, 0.6, 1.0):
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs"] == 40
