"""Running the user's code contained: a forked worker process whose stdin is closed, whose
output is captured, and whose every call into user code is timed out — so that code which
exits, hangs, reads stdin, starts threads, changes directory or closes stdout ends up as a
finding, never as nnfix's own end, hang or garbled output.

In the worker, nnfix's own code runs the task (a diagnosis, a training run) and calls user
code only through `call`, which arms a timer, catches every BaseException (SystemExit,
os._exit, GeneratorExit, …) and turns it into a UserCallError with the user's traceback. A
watchdog thread beats a shared heartbeat while no call has outlived its timeout; the parent
kills a worker whose heartbeat stops (a call stuck in C code, or one that ignores the timer)
and says which call it was in."""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import signal
import struct
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnfix.usercode import absent
from nnfix.usercode.loader import deepest, user_traceback

GRACE = 5.0  # seconds past a call's timeout before its worker counts as hung
BEAT = 0.2  # seconds between heartbeats
SHOWN = 5  # lines of the user's output kept for the report
_REAL_EXIT = os._exit
_STATUS = struct.Struct("<Qbd96s")  # heartbeat, in a call, call start (monotonic), call role


class CallTimeout(BaseException):
    """Raised inside a user call that ran past its timeout (by the worker's timer)."""


class ExitCalled(BaseException):
    """os._exit called by user code inside a call: intercepted, so the worker lives on."""

    def __init__(self, code: int):
        super().__init__(f"os._exit({code})")
        self.code = code


class UserCallError(Exception):
    """A call into the user's code raised, exited, hung, or returned something unusable."""

    def __init__(
        self,
        role: str,
        message: str,
        trace: str | None = None,
        path: tuple | None = None,
        where: tuple | None = None,
    ):
        super().__init__(message)
        self.role = role  # what was called: "backward", "model", "layers[2].backward"
        self.trace = trace
        self.path = path  # the spec path of a `file.py:function` the call was
        self.where = where  # (Place, code) of the deepest frame in the user's files, if any

    @property
    def function(self) -> str:  # the spec key it belongs to
        return self.role.split(".")[0].split("[")[0]

    def __reduce__(self):
        return UserCallError, (self.role, str(self), self.trace, self.path, self.where)


class Broken(Exception):
    """A call nnfix skips: the same user function already ended or hung the worker."""


class Status:
    """A small block of memory shared by the parent and its forked worker."""

    def __init__(self) -> None:
        self.block = mmap.mmap(-1, _STATUS.size)
        self._write(0, False, 0.0, "")

    def _read(self) -> tuple[int, int, float, bytes]:
        return _STATUS.unpack_from(self.block, 0)

    def _write(self, beat: int, busy: bool, started: float, role: str) -> None:
        _STATUS.pack_into(self.block, 0, beat, busy, started, role.encode()[:96])

    @property
    def heartbeat(self) -> int:
        return self._read()[0]

    def call(self) -> tuple[str, float] | None:
        """(role, seconds so far) of the user call under way, or None."""
        _, busy, started, role = self._read()
        if not busy:
            return None
        return role.rstrip(b"\0").decode(errors="replace"), time.monotonic() - started

    def beat(self) -> None:
        beat, busy, started, role = self._read()
        _STATUS.pack_into(self.block, 0, beat + 1, busy, started, role)

    def enter(self, role: str) -> None:
        self._write(self.heartbeat, True, time.monotonic(), role)

    def leave(self) -> None:
        self._write(self.heartbeat, False, 0.0, "")


@dataclass
class Guard:
    """How this process calls user code: with a timeout, every exception caught."""

    timeout: float = 30.0
    status: Status | None = None  # shared with the parent, in a worker
    broken: dict[str, str] = field(default_factory=dict)  # role -> what it did to a worker
    timer: bool = True  # SIGALRM can interrupt a call (main thread of a Unix process)
    worker: bool = False  # in a worker, where Ctrl-C is nnfix's to handle: a KeyboardInterrupt
    # can only come from the user's code
    threads: dict[str, str] = field(default_factory=dict)  # role -> a thread it left running

    def call(self, role: str, fn: Callable, *args, **kwargs) -> Any:
        if role in self.broken:
            raise Broken(self.broken[role])
        cwd = os.getcwd()
        streams = sys.stdin, sys.stdout, sys.stderr
        depth = sys.getrecursionlimit()  # their code may lower it below what nnfix needs
        if self.status is not None:
            self.status.enter(role)
        armed = self.timer and threading.current_thread() is threading.main_thread()
        if armed:
            previous = signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
        running = set(threading.enumerate())
        try:
            with absent.serving():  # a package their code imports that is not installed
                return fn(*args, **kwargs)
        except KeyboardInterrupt as exc:
            if not self.worker:
                raise
            raise UserCallError(
                role, "raised KeyboardInterrupt", user_traceback(exc), where=deepest(exc)
            ) from None
        except CallTimeout as exc:
            self.broken[role] = f"did not return within {self.timeout:g} s earlier"  # not again
            stopped = f"(stopped here: the call ran past its timeout of {self.timeout:g} s)"
            raise UserCallError(
                role,
                f"did not return within {self.timeout:g} s",
                user_traceback(exc, stopped),
                where=deepest(exc),
            ) from None
        except ExitCalled as exc:
            raise UserCallError(
                role,
                f"called os._exit({exc.code}), which would end the process",
                user_traceback(exc, f"os._exit({exc.code})"),
                where=deepest(exc),
            ) from None
        except SystemExit as exc:
            raise UserCallError(
                role,
                f"called sys.exit({exc.code!r}), which would end the process",
                user_traceback(exc),
                where=deepest(exc),
            ) from None
        except BaseException as exc:  # whatever the user's code raises is a finding
            raise UserCallError(
                role,
                f"raised {type(exc).__name__}: {exc}",
                user_traceback(exc),
                where=deepest(exc),
            ) from None
        finally:
            sys.setrecursionlimit(depth)  # first: the calls below need the stack back
            if role not in self.threads:
                self._left_running(role, running)
            if armed:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            if self.status is not None:
                self.status.leave()
            sys.stdin, sys.stdout, sys.stderr = streams
            with contextlib.suppress(OSError):
                if os.getcwd() != cwd:
                    os.chdir(cwd)

    def _left_running(self, role: str, before: set[threading.Thread]) -> None:
        """Note a non-daemon thread the call started and left running: a script that does
        this never ends (nnfix's worker ends it with the worker)."""
        for thread in threading.enumerate():
            if thread not in before and thread.is_alive() and not thread.daemon:
                target = getattr(thread, "_target", None)
                what = getattr(target, "__qualname__", None) or thread.name
                module = getattr(target, "__module__", None)
                self.threads[role] = f"{module}.{what}" if module else what
                return


def _alarm(signum, frame):
    raise CallTimeout()


GUARD = Guard()  # this process's; a worker sets its own up


def call(role: str, fn: Callable, *args, **kwargs) -> Any:
    """Call user code `fn` as `role` under this process's guard."""
    return GUARD.call(role, fn, *args, **kwargs)


# --- the worker ----------------------------------------------------------------------------


@dataclass
class Output:
    """What the user's code printed in a worker (stdout and stderr, Python and C level)."""

    lines: int = 0
    first: list[str] = field(default_factory=list)


class WorkerDied(Exception):
    """The worker ended without a result: the user's code ended the process or hung it."""

    def __init__(self, message: str, role: str | None):
        super().__init__(message)
        self.role = role


@dataclass
class Result:
    value: Any
    output: Output


def can_fork() -> bool:
    return hasattr(os, "fork")


def run(
    task: Callable[..., Any],
    *args,
    timeout: float = 30.0,
    broken: dict[str, str] | None = None,
    on_event: Callable[[Any], None] | None = None,
    stop_signal: Callable[[], bool] | None = None,
) -> Result:
    """Run `task(emit, *args)` in a forked worker and return its value; `emit(event)` in the
    worker reaches `on_event` here as it happens. A worker that dies or hangs raises
    WorkerDied naming the user call it was in; an exception of nnfix's task is re-raised here.
    `stop_signal()`, polled here, asks the worker to stop gracefully (SIGUSR1) when true."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    status = Status()
    capture = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the worker ends
    process = context.Process(
        target=_worker,
        args=(task, args, sender, status, capture.fileno(), timeout, dict(broken or {})),
        daemon=True,
    )
    process.start()
    sender.close()
    stopping = False
    try:
        beat, changed = status.heartbeat, time.monotonic()
        while True:
            if receiver.poll(BEAT):
                try:
                    kind, payload = receiver.recv()
                except (EOFError, OSError):
                    raise _died(process, status) from None
                if kind == "event":
                    if on_event is not None:
                        on_event(payload)
                    continue
                if kind == "done":
                    return Result(payload, _output(capture))
                if kind == "raise":
                    raise payload
                raise RuntimeError(f"nnfix's worker failed: {payload}")
            if not process.is_alive() and not receiver.poll():
                raise _died(process, status)
            if stop_signal is not None and not stopping and stop_signal():
                stopping = True
                with contextlib.suppress(OSError, TypeError):
                    os.kill(process.pid or 0, signal.SIGUSR1)
            now = time.monotonic()
            if status.heartbeat != beat:
                beat, changed = status.heartbeat, now
            elif now - changed > timeout + GRACE:
                call_info = status.call()
                _kill(process)
                role = call_info[0] if call_info else None
                raise WorkerDied(f"did not return within {timeout:g} s (nnfix stopped it)", role)
    finally:
        _kill(process)
        receiver.close()
        capture.close()


def _died(process, status: Status) -> WorkerDied:
    process.join(1.0)
    code = process.exitcode
    info = status.call()
    role = info[0] if info else None
    if code is not None and code < 0:
        how = f"was killed by signal {signal.Signals(-code).name}"
    else:
        how = f"ended the process with exit code {code}"
    return WorkerDied(how, role)


def _kill(process) -> None:
    if process.is_alive():
        with contextlib.suppress(OSError, ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(OSError, ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
    process.join(1.0)


def _output(capture) -> Output:
    out = Output()
    capture.seek(0)
    for raw in capture:
        out.lines += 1
        if len(out.first) < SHOWN:
            out.first.append(raw.decode("utf-8", errors="replace").rstrip("\n")[:300])
    return out


def _worker(task, args, sender, status, capture_fd, timeout, broken) -> None:
    """The worker's life: contain, run the task, send its value, end (threads and all)."""
    global GUARD
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # its own group: the terminal's Ctrl-C goes to nnfix, which decides
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _stop_requested)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(capture_fd, 1)
    os.dup2(capture_fd, 2)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdin, kept open
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), line_buffering=True)  # noqa: SIM115
    sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), line_buffering=True)  # noqa: SIM115
    warnings.simplefilter("ignore")
    os._exit = _intercepted_exit  # type: ignore[assignment]
    GUARD = Guard(timeout, status, broken, worker=True)
    parent = os.getppid()
    threading.Thread(target=_watchdog, args=(status, timeout, parent), daemon=True).start()

    def emit(event) -> None:
        sender.send(("event", event))

    try:
        message: tuple = ("done", task(emit, *args))
    except BaseException as exc:  # nnfix's own exception: hand it to the parent
        message = ("raise", exc)
    try:
        sender.send(message)
    except Exception:
        sender.send(("failed", "".join(traceback.format_exception(message[1]))[-4000:]))
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    _REAL_EXIT(0)


def _intercepted_exit(code: int = 0) -> None:
    if GUARD.status is not None and GUARD.status.call() is not None:
        raise ExitCalled(code)
    _REAL_EXIT(code)


def _watchdog(status: Status, timeout: float, parent: int) -> None:
    while True:
        time.sleep(BEAT)
        if os.getppid() != parent:  # nnfix itself was killed: nobody is left to read the result
            _REAL_EXIT(1)
        call_info = status.call()
        if call_info is None or call_info[1] < timeout + GRACE:
            status.beat()


STOP = threading.Event()  # set in a worker when nnfix asks it to stop gracefully


def _stop_requested(signum, frame) -> None:
    STOP.set()
