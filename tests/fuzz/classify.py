"""Classifying one run of nnfix: ok, located or unlocated input error, internal error, nnfix's
own traceback, hang, crash, bad JSON, slow, leak — with a short message to deduplicate by."""

from __future__ import annotations

import importlib.util
import json
import re
import signal
from dataclasses import dataclass
from pathlib import Path

# worst first: a run's class is the first of these it shows
CLASSES = (
    "hang",
    "crash",
    "internal-error",
    "traceback",
    "unlocated-input-error",
    "bad-json",
    "missed-finding",
    "leak",
    "slow",
    "located-input-error",
    "ok",
)
# every class worse than "slow" fails the fuzz test: a leaked warning or a file written outside
# the case's folder too (slow is reported, not failed: a user call may run to its timeout)
FAILURES = CLASSES[: CLASSES.index("slow")]
USER_CODES = ("U", "G", "A")  # the findings about the user's code and math

NNFIX_DIR = str(Path(importlib.util.find_spec("nnfix").origin).parent)
TRACEBACK = "Traceback (most recent call last)"
FRAME = re.compile(r'File \\?"([^"\\]+)\\?", line (\d+), in ([^\s\\]+)')
DUMP_FRAME = re.compile(r'File "([^"]+)", line (\d+) in (\S+)')  # faulthandler's
WARNING = re.compile(rf"({re.escape(NNFIX_DIR)}/\S+\.py):(\d+): (\w*Warning): (.*)")


@dataclass
class Run:
    """What one run of nnfix did."""

    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float
    escaped: list[str]  # files written outside the case's folder


@dataclass
class Verdict:
    cls: str  # the worst class
    flags: dict[str, str]  # every class it shows -> its message


def json_problem(stdout: str) -> str | None:
    """Why stdout is not exactly one strict JSON document (None when it is)."""
    if not stdout.strip():
        return "stdout is empty: no JSON document"

    def reject(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    try:
        json.loads(stdout, parse_constant=reject)
    except ValueError as exc:
        message = str(exc).split(":")[0]
        if "Extra data" in message:
            return "stdout holds more than one JSON document or text after it"
        if stdout.lstrip()[:1] not in "{[":
            return f"stdout is not JSON: {stdout.strip()[:60]!r}"
        return f"stdout is not valid JSON ({message})"
    return None


def nnfix_traceback(text: str) -> str | None:
    """A summary of the first traceback in `text` that is nnfix's own (it has a frame in nnfix's
    source) or that Python printed for an uncaught exception in a thread; None if none."""
    starts = [m.start() for m in re.finditer(re.escape(TRACEBACK), text)]
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(text)
        block = text[start : min(end, start + 50_000)]
        frames = FRAME.findall(block)
        ours = [f for f in frames if f[0].startswith(NNFIX_DIR + "/")]
        before = text[max(0, start - 300) : start]
        raw_thread = "Exception in thread" in before or "Exception ignored in" in before
        if not ours and not raw_thread:
            continue
        lines = [ln for ln in re.split(r"\n|\\n", block) if ln.strip()]
        raised = next(
            (ln for ln in lines[1:] if not ln.startswith((" ", "\\t", "\t", "File", "^", "~"))),
            "?",
        )
        if ours:
            file, line, function = ours[-1]
            where = f"{Path(file).relative_to(Path(NNFIX_DIR).parent)}:{line} in {function}"
        else:
            where = "a thread of the user's code (printed by Python, not in the report)"
        return f"{raised.strip()[:200]} (at {where})"
    return None


def _short(frame: tuple[str, str, str]) -> str:
    file, line, function = frame
    if file.startswith(NNFIX_DIR + "/"):
        file = str(Path(file).relative_to(Path(NNFIX_DIR).parent))
    else:
        file = Path(file).name
    return f"{file}:{line} in {function}"


def stuck(stderr: str) -> str:
    """Where the run was when it was stopped, from faulthandler's dump of its threads."""
    dump = stderr[stderr.rfind("Fatal Python error") :] if "Fatal Python error" in stderr else ""
    blocks = re.split(r"\n(?=(?:Current thread|Thread) 0x)", dump)[1:]
    if not blocks:
        return ""
    main = next((b for b in blocks if b.startswith("Current thread")), blocks[0])
    frames = DUMP_FRAME.findall(main)
    if not frames:  # the main thread has finished: other threads keep the process alive
        others = [DUMP_FRAME.findall(b) for b in blocks if b is not main]
        others = [f for f in others if f]
        where = f" (in {_short(others[0][0])})" if others else ""
        return f": the main thread is done, {len(others)} other threads still run{where}"
    ours = next((f for f in frames if f[0].startswith(NNFIX_DIR + "/")), None)
    where = f": in {_short(frames[0])}"
    return where + (f", called from {_short(ours)}" if ours and ours != frames[0] else "")


def located(stderr: str, names: set[str]) -> bool:
    """Whether stderr names `file:LINE` for one of the case's files."""
    for name in names:
        if re.search(rf"(?:^|[\s/'\"(]){re.escape(name)}:\d+", stderr, flags=re.M):
            return True
    return False


def first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "(nothing on stderr)")[:200]


def missed(stdout: str) -> str | None:
    """Why the report has no finding about the user's code (None when it has one)."""
    try:
        report = json.loads(stdout)
        codes = [f["code"] for spec in report["specs"] for f in spec["findings"]]
    except (ValueError, KeyError, TypeError):
        return None  # not a report: bad-json says so
    if any(code.startswith(USER_CODES) for code in codes):
        return None
    return f"no U/G/A finding about the user's code (findings: {', '.join(codes) or 'none'})"


def classify(
    run: Run,
    files: set[str],
    hostile_exit: int | None,
    timeout: float,
    slow: float,
    lineless: bool = False,
    expect_finding: bool = False,
    json_stdout: bool = True,
) -> Verdict:
    """The run's classes. `files` are the names a located error may cite; with `lineless` the
    problem is no spec's or data file's (a spec that is a pipe or a device, an unwritable
    output path), so an exit 2 needs no line; with `expect_finding` the user's code misbehaved
    and a clean report missed it; `json_stdout`: stdout must be one JSON document."""
    flags: dict[str, str] = {}
    if run.returncode is None:
        flags["hang"] = f"no exit within {timeout:.0f} s{stuck(run.stderr)}"
        return Verdict("hang", flags)
    rc = run.returncode
    stderr, stdout = run.stderr, run.stdout
    bad_json = json_problem(stdout) if json_stdout else None
    if rc < 0:
        flags["crash"] = f"killed by {signal.Signals(-rc).name}"
    elif rc not in (0, 1, 2):
        flags["crash"] = f"exit code {rc}" + (" (the user's code's)" if rc == hostile_exit else "")
    elif rc == hostile_exit and bad_json:
        flags["crash"] = f"exit code {rc}, the user's code's, with no report"
    for stream in (stderr, stdout):
        found = re.search(r"internal error.*", stream)
        if found and "internal-error" not in flags:
            flags["internal-error"] = found[0][:200]
    tb = nnfix_traceback(stderr) or nnfix_traceback(stdout)
    if tb:
        flags["traceback"] = tb
    if rc == 2:
        # an option of the command line has no line: its message names the option instead
        options = re.search(r"^nnfix: --[a-z-]+ ", stderr, flags=re.M) is not None
        if lineless or options or located(stderr, files):
            flags["located-input-error"] = first_line(stderr)
        else:
            flags["unlocated-input-error"] = first_line(stderr)
    if bad_json:
        flags["bad-json"] = bad_json
    elif expect_finding and rc in (0, 1) and missed(stdout):
        flags["missed-finding"] = f"exit {rc}: {missed(stdout)}"
    warning = WARNING.search(stderr)
    if warning:
        file = Path(warning[1]).relative_to(Path(NNFIX_DIR).parent)
        flags["leak"] = f"{warning[3]} at {file}:{warning[2]}: {warning[4][:120]}"
    elif run.escaped:
        flags["leak"] = f"wrote outside its folder: {', '.join(run.escaped[:3])}"
    if run.seconds > slow:
        flags["slow"] = f"took {run.seconds:.0f} s"
    cls = next((c for c in CLASSES if c in flags), "ok")
    return Verdict(cls, flags)
