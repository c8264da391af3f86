"""User code runs contained: whatever a call does — exit, hang, read stdin, print, start
threads, change directory, close stdout, kill its process — becomes a UserCallError or a
WorkerDied naming the call, and nnfix's process carries on with its own output and exit."""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import nnfix
from nnfix.usercode import sandbox


def hostile(kind):
    if kind == "sys.exit":
        sys.exit(5)
    if kind == "os._exit":
        os._exit(3)
    if kind == "loop":
        while True:
            pass
    if kind == "sleep":
        time.sleep(1000)
    if kind == "input":
        return input()
    if kind == "GeneratorExit":
        raise GeneratorExit("user")
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt
    if kind == "thread":
        threading.Thread(target=time.sleep, args=(1000,)).start()  # non-daemon
        return "started"
    if kind == "close":
        sys.stdout.close()
        return "closed"
    if kind == "chdir":
        os.chdir("/")
        return "moved"
    if kind == "print":
        print("from Python")
        os.write(1, b"from C level\n")
        return "printed"
    if kind == "kill":
        os.kill(os.getpid(), 9)
    if kind == "gil":  # a C loop holding the GIL: no timer can interrupt it
        return sum(range(10**12))
    raise AssertionError(kind)


def nnfix_frames(trace: str) -> list[str]:
    """The files of a traceback's frames that are nnfix's own modules (by the package's
    folder, whatever the checkout around it is called)."""
    package = Path(nnfix.__file__).resolve().parent
    files = [Path(f).resolve() for f in re.findall(r'^  File "([^"]+)"', trace, re.MULTILINE)]
    return [str(f) for f in files if f.is_relative_to(package)]


def call_task(emit, kind):
    emit(("calling", kind))
    try:
        return "returned", sandbox.call("backward", hostile, kind), os.getcwd()
    except sandbox.UserCallError as exc:
        return "error", exc.role, str(exc), exc.trace or ""


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("sys.exit", "called sys.exit(5), which would end the process"),
        ("os._exit", "called os._exit(3), which would end the process"),
        ("loop", "did not return within 0.5 s"),
        ("sleep", "did not return within 0.5 s"),
        ("input", "raised EOFError"),
        ("GeneratorExit", "raised GeneratorExit: user"),
        ("KeyboardInterrupt", "raised KeyboardInterrupt"),
    ],
)
def test_a_call_that_exits_hangs_or_raises_is_a_user_error(kind, message):
    events = []
    result = sandbox.run(call_task, kind, timeout=0.5, on_event=events.append)
    status, role, text, trace = result.value
    assert (status, role) == ("error", "backward") and text.startswith(message)
    assert events == [("calling", kind)]
    if kind == "loop":  # the traceback ends at their line, where the call was stopped
        assert "while True" in trace and "stopped here" in trace
        assert not nnfix_frames(trace), trace  # the user's frames only, none of nnfix's own


def test_a_timed_out_call_is_not_made_again():
    def task(emit):
        first = second = None
        try:
            sandbox.call("backward", hostile, "sleep")
        except sandbox.UserCallError as exc:
            first = str(exc)
        start = time.perf_counter()
        try:
            sandbox.call("backward", hostile, "sleep")
        except sandbox.Broken as exc:
            second = (str(exc), time.perf_counter() - start)
        return first, second

    first, (second, seconds) = sandbox.run(task, timeout=0.5).value
    assert first == "did not return within 0.5 s" and "earlier" in second and seconds < 0.1


@pytest.mark.parametrize(
    ("kind", "value"), [("thread", "started"), ("close", "closed"), ("chdir", "moved")]
)
def test_threads_closed_stdout_and_chdir_do_not_reach_nnfix(kind, value):
    start = time.perf_counter()
    result = sandbox.run(call_task, kind, timeout=5)
    assert result.value[:2] == ("returned", value)
    assert result.value[2] == os.getcwd()  # their chdir was undone after the call
    assert time.perf_counter() - start < 5  # a non-daemon thread does not keep it alive


def test_what_user_code_prints_is_captured_python_and_c_level(capfd):
    result = sandbox.run(call_task, "print", timeout=5)
    assert result.value[:2] == ("returned", "printed")
    assert result.output.lines == 2 and result.output.first == ["from Python", "from C level"]
    out, err = capfd.readouterr()
    assert "from" not in out + err  # nothing of theirs on nnfix's own streams


def test_a_call_that_kills_its_process_is_named(monkeypatch):
    with pytest.raises(sandbox.WorkerDied) as died:
        sandbox.run(call_task, "kill", timeout=5)
    assert died.value.role == "backward" and "SIGKILL" in str(died.value)


def test_a_call_stuck_in_c_code_is_stopped_by_nnfix(monkeypatch):
    monkeypatch.setattr(sandbox, "GRACE", 0.5)
    start = time.perf_counter()
    with pytest.raises(sandbox.WorkerDied) as died:
        sandbox.run(call_task, "gil", timeout=0.5)
    assert died.value.role == "backward" and "did not return within 0.5 s" in str(died.value)
    assert time.perf_counter() - start < 5


def test_nnfix_exceptions_in_the_worker_come_back_as_they_were():
    from nnfix.errors import ModuleError, Problem

    def task(emit):
        raise ModuleError([Problem("cannot bind", path=("implementation", "backward"))])

    with pytest.raises(ModuleError) as caught:
        sandbox.run(task, timeout=5)
    assert caught.value.problems[0].path == ("implementation", "backward")


def test_in_process_calls_are_guarded_too():
    with pytest.raises(sandbox.UserCallError, match=r"called sys.exit\(5\)"):
        sandbox.call("forward", hostile, "sys.exit")
    cwd = os.getcwd()
    sandbox.call("forward", hostile, "chdir")
    assert os.getcwd() == cwd


ORPHAN = """
import os, sys, time
from nnfix.usercode import sandbox

def task(emit, path):
    with open(path, "w") as f:
        f.write(str(os.getpid()))
    while True:  # a worker busy for ever, as user code stuck in a loop
        time.sleep(0.01)

sandbox.run(task, sys.argv[1], timeout=3600)
"""


def test_a_worker_whose_nnfix_was_killed_ends_too(tmp_path):
    """nnfix killed from outside (a CI timeout, the fuzzer's) leaves no worker running on."""
    script, pidfile = tmp_path / "orphan.py", tmp_path / "worker.pid"
    script.write_text(ORPHAN)
    parent = subprocess.Popen([sys.executable, str(script), str(pidfile)])
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.05)
        worker = int(pidfile.read_text())
        parent.kill()
        parent.wait()
        while _alive(worker):
            assert time.monotonic() < deadline, "the worker outlived nnfix"
            time.sleep(0.05)
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for its reaper is gone
        return f.read().split()[2] != "Z"
