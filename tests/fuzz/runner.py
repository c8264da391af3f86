"""Running cases: each in its own temporary folder, as a subprocess with a hard timeout, a
memory limit and stdin closed (or open and silent, like a terminal nobody types into)."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.case import SPEC, Case
from tests.fuzz.classify import Run, Verdict, classify, nnfix_traceback

NEST = (
    "a",
    "b",
    "c",
    "case",
)  # a case's folder sits this deep in its root, so `../..` stays inside
OUTPUT_CAP = 64_000_000  # bytes of stdout/stderr read (a 3,000-layer report is megabytes)
KEPT = 100_000  # characters of each kept once the run is classified


@dataclass
class Settings:
    timeout: float = 60.0
    slow: float = 20.0
    memory: int = 2 << 30  # bytes of address space
    keep: Path | None = None  # where the cases that fail are saved
    debug: bool = True  # run an internal error again with NNFIX_DEBUG=1 to say where it is


@dataclass
class Result:
    index: int
    case: Case
    run: Run
    verdict: Verdict
    saved: Path | None = None  # the saved case folder

    @property
    def cls(self) -> str:
        return self.verdict.cls

    @property
    def message(self) -> str:
        return self.verdict.flags.get(self.cls, "")


def _environment() -> dict[str, str]:
    drop = ("NNFIX_DEBUG", "PYTHONWARNINGS", "PYTHONUNBUFFERED")  # as a user's shell has it
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env |= {"COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb", "PYTHONDONTWRITEBYTECODE": "1"}
    env |= {"PYTHONFAULTHANDLER": "1"}  # so a run killed at the timeout says where it was
    env |= {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return env


def _escaped(root: Path, folder: Path) -> list[str]:
    """Files under `root` that are not under the case's `folder`."""
    out = []
    for path in root.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            continue
        if folder not in path.parents:
            out.append(str(path.relative_to(root)))
    return sorted(out)


def execute(case: Case, root: Path, settings: Settings, debug: bool = False) -> Run:
    """Write `case` under `root`, run nnfix on it, and say what happened. With `debug`, nnfix
    runs with NNFIX_DEBUG=1 (an internal error shows its traceback)."""
    folder = root.joinpath(*NEST)
    case.write(folder)
    memory = settings.memory

    def limits() -> None:  # in the child, before exec: keep it to plain system calls
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    argv = [sys.executable, "-m", "nnfix", *case.argv(str(folder.parent))]
    # "open": a pipe we hold open and never write to, as a terminal nobody types into
    # (communicate() would close a stdin=PIPE at once)
    silent, held = os.pipe() if case.stdin == "open" else (subprocess.DEVNULL, None)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=folder,
            stdin=silent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment() | ({"NNFIX_DEBUG": "1"} if debug else {}),
            preexec_fn=limits,  # the pool's threads only wait on children: no lock is held
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=settings.timeout)
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGABRT)  # faulthandler prints where each thread is
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=5)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the whole session: threads, children
            out, err = proc.communicate()
            returncode = None
    finally:
        if held is not None:
            os.close(silent)
            os.close(held)
    seconds = time.monotonic() - start
    decode = lambda b: b[:OUTPUT_CAP].decode("utf-8", "replace")  # noqa: E731
    escaped = _escaped(root, folder)
    return Run(returncode, decode(out), decode(err), seconds, escaped)


def _save(result: Result, keep: Path) -> Path:
    folder = keep / f"case-{result.index:05d}"
    if folder.exists():
        shutil.rmtree(folder)
    result.case.write(folder)
    run, verdict = result.run, result.verdict
    report = [
        f"class: {verdict.cls}",
        *(f"  {cls}: {message}" for cls, message in verdict.flags.items()),
        f"origin: {result.case.origin}",
        f"mutators: {' '.join(result.case.mutators)}",
        *(f"note: {note}" for note in result.case.notes),
        f"exit: {run.returncode}  seconds: {run.seconds:.1f}",
        f"reproduce: {result.case.reproducer(folder)}",
        "--- stderr ---",
        run.stderr[-20_000:],
        "--- stdout ---",
        run.stdout[-20_000:],
    ]
    folder.with_suffix(".txt").write_text("\n".join(report), encoding="utf-8")
    return folder


def run_one(index: int, case: Case, settings: Settings) -> Result:
    root = Path(tempfile.mkdtemp(prefix="nnfix-fuzz-"))
    try:
        run = execute(case, root, settings)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    names = {SPEC, *(Path(name).name for name in case.files)}
    verdict = classify(
        run,
        names,
        case.hostile_exit,
        settings.timeout,
        settings.slow,
        case.lineless,
        case.expect_finding,
        case.json_stdout,
    )
    run.stdout, run.stderr = run.stdout[-KEPT:], run.stderr[-KEPT:]
    if settings.debug and "internal-error" in verdict.flags:  # again with NNFIX_DEBUG=1
        root = Path(tempfile.mkdtemp(prefix="nnfix-fuzz-"))
        try:
            trace = nnfix_traceback(execute(case, root, settings, debug=True).stderr)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        if trace and " (at " in trace:
            verdict.flags["internal-error"] += " (at " + trace.rsplit(" (at ", 1)[1]
    result = Result(index, case, run, verdict)
    if settings.keep is not None and verdict.cls not in ("ok", "located-input-error"):
        result.saved = _save(result, settings.keep)
    return result


def run_all(
    cases: Iterable[tuple[int, Case]],
    settings: Settings,
    jobs: int = 2,
    progress: Callable[[Result], None] | None = None,
    deadline: float | None = None,
) -> list[Result]:
    """Every case, `jobs` at a time, in the order of the cases; those whose user code only
    waits (sleep, input, a thread: no CPU) start at once beside them. With a `deadline` (a
    time.monotonic() value), the cases whose turn comes after it are not run."""

    def one(index: int, case: Case) -> Result | None:
        if deadline is not None and time.monotonic() > deadline:
            return None
        return run_one(index, case, settings)

    cases = list(cases)
    waiting = [item for item in cases if item[1].waits]
    with (
        ThreadPoolExecutor(max_workers=jobs) as pool,
        ThreadPoolExecutor(max_workers=max(1, len(waiting))) as beside,
    ):
        futures = {index: beside.submit(one, index, case) for index, case in waiting}
        futures |= {index: pool.submit(one, index, case) for index, case in cases if not case.waits}
        results = []
        for index, _ in cases:
            result = futures[index].result()
            if result is not None:
                results.append(result)
                if progress:
                    progress(result)
    return results
