"""Ctrl-C, wherever it lands: "interrupted" and exit 130 (SPEC §1), and never in the middle of
writing what the user must keep.

Only the standard library, imported cheaply: the entry point loads this before anything else,
so that a Ctrl-C during the first imports is handled too.
"""

from __future__ import annotations

import contextlib
import signal
import sys

TYPE_CHECKING = False  # not `typing`'s: importing it costs more time than all of this module
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import NoReturn

EXIT_INTERRUPTED = 130


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


_raised = 0  # the Ctrl-Cs `counting_handler` turned into KeyboardInterrupt


def counting_handler(signum, frame) -> None:
    """SIGINT's handler while a command runs (installed by the entry point): KeyboardInterrupt,
    as Python's own handler raises it, but counted, because one can be lost — CPython swallows
    an exception raised inside a weakref callback ("Exception ignored in: <function
    _get_module_lock.<locals>.cb>"), which is where a Ctrl-C lands now and then while a module
    is imported; the user's code may swallow one too. `check_lost` and the entry point act on
    one that did not end the command."""
    global _raised
    _raised += 1
    raise KeyboardInterrupt


def quiet_unraisable(unraisable) -> None:
    """sys.unraisablehook while a command runs: a KeyboardInterrupt that CPython could not
    raise (see `counting_handler`) is not printed as an "Exception ignored" traceback — it is
    counted and acted on; anything else goes to Python's own hook."""
    if unraisable.exc_type is KeyboardInterrupt:
        return
    sys.__unraisablehook__(unraisable)


def lost() -> bool:
    """Whether a Ctrl-C was raised as KeyboardInterrupt and the command goes on regardless."""
    return _raised > 0


def interrupted_by(exc: BaseException) -> bool:
    """Whether `exc` is what became of a Ctrl-C: a KeyboardInterrupt among its causes (Python
    3.11 wraps one raised in a `__set_name__`, as while a dataclass is imported, in a
    RuntimeError), or any exception while a Ctrl-C is unaccounted for."""
    seen: BaseException | None = exc
    for _ in range(100):
        if seen is None:
            break
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return lost()


def check_lost() -> None:
    """Raise KeyboardInterrupt again for a Ctrl-C that was lost (see `counting_handler`):
    called before long work (training) begins, so that it still stops it."""
    global _raised
    if _raised:
        _raised = 0
        raise KeyboardInterrupt


def exit_interrupted(message: str = "interrupted") -> NoReturn:
    """Say so and exit 130 (SystemExit: in-process callers, tests among them, see an exit)."""
    with contextlib.suppress(Exception):
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    sys.exit(EXIT_INTERRUPTED)


def end_interrupted() -> NoReturn:
    """End the process with exit code 130 now, output flushed and atexit handlers run, but not
    through the interpreter's own ending: under `python -m`, CPython ends the process by SIGINT
    instead (-2 to its parent, not 130) once a KeyboardInterrupt has passed through an `exec`
    of source text — which dataclasses and namedtuple do while they are imported — even when
    nnfix handled it. Further Ctrl-Cs are ignored from here: they cannot turn the exit into a
    traceback."""
    import atexit
    import os

    if _in_main_thread():
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(EXIT_INTERRUPTED)


class Deferred:
    """What `deferred_sigint` saw: `received` is true when a Ctrl-C arrived inside the block."""

    def __init__(self) -> None:
        self.received = False


@contextlib.contextmanager
def deferred_sigint(*, reraise: bool = True) -> Iterator[Deferred]:
    """Hold Ctrl-C until the block is done: the signal is recorded, not raised, so what the
    block writes is written whole. The previous handler comes back afterwards; with `reraise`
    a Ctrl-C that arrived is raised then as KeyboardInterrupt, else it is left in `.received`
    for the caller. Signal handlers belong to the main thread: elsewhere this does nothing, as
    it does when Ctrl-C is ignored (started with it ignored, as background jobs are)."""
    seen = Deferred()
    if not _in_main_thread() or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        yield seen
        return

    def record(signum, frame) -> None:
        seen.received = True

    previous = signal.signal(signal.SIGINT, record)
    try:
        yield seen
    finally:  # None: a handler not set from Python; Python's own is the nearest to it
        signal.signal(
            signal.SIGINT, previous if previous is not None else signal.default_int_handler
        )
    if seen.received and reraise:
        raise KeyboardInterrupt
