"""`nnfix fix --write`: the fixed spec and the user's rewritten lines written in place, each
file atomically and with the mode it had, Ctrl-C held until all are; a file that cannot be
written is a located exit 2, found before any is written."""

from __future__ import annotations

from pathlib import Path

from nnfix.errors import OutputError, Problem
from nnfix.fix.run import Repair
from nnfix.interrupts import deferred_sigint
from nnfix.run.files import shown, unwritable_file, write_atomic


def check_writable(path: Path) -> None:
    """An OutputError naming the file when it could not be written in place (checked before the
    diagnosis, and again with every file just before writing)."""
    reason = unwritable_file(path) if path.exists() else None
    if reason is not None:
        raise OutputError(
            [Problem(f"{shown(path)} {reason}: it cannot be fixed in place", file=path)],
            outcome="nothing was written",
        )


def write(result: Repair) -> None:
    """Write every changed file, or (when one of them cannot be written) none."""
    targets: list[tuple[Path, bytes]] = []
    if result.text != result.original:
        targets.append((result.path, result.encoded()))
    for file in result.files.values():
        if file.text != file.original:  # read as UTF-8 bytes, so its line breaks are its own
            targets.append((file.path, file.text.encode("utf-8")))
    for path, _ in targets:
        check_writable(path)
    with deferred_sigint():  # a Ctrl-C waits until every file is written (then exit 130)
        for path, data in targets:
            try:
                write_atomic(path, data, mode=path.stat().st_mode)
            except OSError as exc:
                problem = Problem(f"{shown(path)}: {exc.strerror or exc}", file=path)
                raise OutputError([problem], outcome="it was not fixed in place") from None
