"""The run directory of SPEC §6: runs/<label>/<n>/ (or --out) with the resolved spec, weights,
per-epoch metrics and the summary.

A run appears whole or not at all. Its directory is reserved before training as a hidden
`.<n>.nnfix-partial` (`.<dir>.nnfix-partial` beside --out), which also proves the place is
writable before any time is spent; the files are written into it and it is renamed to its
name in one step at the end. Readers (and the next run's numbering) never see half a run, and
what a kill -9 in the middle of the save leaves — the partial directory with a temporary file
in it — is hidden and is removed by the next run in the same place. Of the two ways to keep
the leftovers of a kill -9 away (this one, or deleting stray `.*.tmp` files beside the run
later) it is the one that also keeps an incomplete run from looking like a run. A partial
directory is locked (flock) by the run that owns it for as long as it lives, so a next run
removes only one whose owner has died; where locks are not available (Windows, some network
file systems) nothing is removed.

An existing --out that holds anything is refused, never overwritten or numbered: a run
directory holds trained weights, and nothing a user trained may be lost to a reused option
(pytest's --basetemp deletes, ruff's --output-file and torch.save overwrite — for a report or
a cache that is fine, for a day of training it is not). Numbering would save the run where
the user does not look for it.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import yaml

from nnfix.engine.train import History
from nnfix.errors import OutputError, Problem
from nnfix.run.files import shown, uncreatable_in, write_atomic, write_npz
from nnfix.spec.load import LoadedSpec
from nnfix.spec.model import Spec
from nnfix.spec.usercode import REF

try:
    import fcntl
except ImportError:  # Windows: no locks, so no partial directory is ever taken for stale
    fcntl = None  # type: ignore[assignment]

PARTIAL = ".nnfix-partial"  # a run being written: `.<its name>.nnfix-partial`
_PARTIAL_NAME = re.compile(r"^\.(.+)" + re.escape(PARTIAL) + r"$")
STALE_AFTER = 10.0  # seconds: an unlocked partial directory this old has lost its run
_UNSAFE = set('/\\<>:"|?*')  # separators, and what Windows does not allow in a name
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(10)),
    *(f"LPT{i}" for i in range(10)),
}
LABEL_MAX = 100  # characters of a label kept in the directory name


def run_label(name: str) -> str:
    """The directory a run labelled `name` goes in, under runs/: `name:` is a label, never a path
    (SPEC §7), so it becomes one safe directory name, the same on every system. Path separators
    and the characters Windows forbids become `_`, as do control and invisible characters (a
    name must not drive the terminal or hide what it is); leading dots become `_` (a run is
    never hidden: `..` is `__`), and an empty or blank name is `_`. Long labels are cut to
    LABEL_MAX characters. The summary keeps the label as written."""
    kept = "".join(
        "_" if ch in _UNSAFE or not (ch.isprintable() or ch == " ") else ch
        for ch in unicodedata.normalize("NFC", name)
    ).strip()[:LABEL_MAX]
    stripped = kept.lstrip(".")
    kept = "_" * (len(kept) - len(stripped)) + stripped
    kept = kept.rstrip(". ") or "_"  # Windows drops trailing dots and spaces
    if kept.split(".")[0].upper() in _RESERVED:
        kept = "_" + kept
    return kept


def _problem(message: str, hint: str | None = None) -> OutputError:
    return OutputError([Problem(message, hint=hint)])


class RunSlot:
    """Where a run is going: `final` (as the user named it, for the summary), reserved as the
    hidden, locked `partial` directory (made with the user's umask, like any directory they
    make) until `commit`. The paths it works on are absolute: a chdir by the user's code
    while it trains moves nothing."""

    def __init__(self, final: Path, partial: Path, numbered: bool):
        self.final, self.numbered = final, numbered
        self.partial = partial.absolute()
        self._lock: int | None = _lock(self.partial)

    def commit(self) -> Path:
        """Rename the partial directory to its name; if that was taken meanwhile (by something
        other than nnfix), to the next free one: the run is never dropped. Returns where it
        is."""
        for shown_as in self._candidates():
            try:
                os.rename(self.partial, self.partial.with_name(shown_as.name))
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                    continue
                raise
            self._unlock()
            return shown_as
        raise AssertionError("unreachable")  # pragma: no cover

    def discard(self) -> None:
        """Remove the partial directory and whatever is in it (the run failed or was aborted)."""
        shutil.rmtree(self.partial, ignore_errors=True)
        self._unlock()

    def _candidates(self) -> Iterator[Path]:
        yield self.final
        k = 2
        while True:
            if self.numbered:
                yield self.final.with_name(str(int(self.final.name) + k - 1))
            else:
                yield self.final.with_name(f"{self.final.name}-{k}")
            k += 1

    def _unlock(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock)
            self._lock = None


def _lock(directory: Path) -> int | None:
    """Hold an exclusive lock on `directory` for as long as this process lives (None where
    locks are not available); the kernel lets go of it when the process dies, however."""
    if fcntl is None:
        return None
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def remove_stale_partials(parent: Path) -> None:
    """Remove the partial directories in `parent` whose run has died (killed during its save):
    unlocked, and older than STALE_AFTER seconds — the age covers the instant between a run
    making its directory and locking it."""
    if fcntl is None:
        return
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        if not _PARTIAL_NAME.match(entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if time.time() - entry.stat(follow_symlinks=False).st_mtime < STALE_AFTER:
                continue
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its run is alive (or this file system cannot tell): keep it
            os.close(fd)
            continue
        try:
            shutil.rmtree(entry.path, ignore_errors=True)
        finally:
            os.close(fd)


def _run_number(name: str) -> int | None:
    """The run number a directory name in runs/<label>/ takes: `3`, or `.3.nnfix-partial`."""
    match = _PARTIAL_NAME.match(name)
    digits = match[1] if match else name
    return int(digits) if digits.isdigit() and digits.isascii() else None


def _make_parent(parent: Path, what: str) -> None:
    reason = uncreatable_in(parent)
    if reason is None:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or str(exc)
    if reason is not None:
        raise _problem(f"{what}: {reason}")


def reserve_run_dir(out: str | Path | None, root: Path, name: str) -> RunSlot:
    """Reserve the run's directory before training: runs/<label>/<n> (n one past the highest
    so far, finished or being written) or `out`. An OutputError (exit 2) when it cannot be
    made, or when `out` exists and holds anything."""
    if out is None:
        parent = root / run_label(name)
        _make_parent(parent, f"cannot save the run under {shown(parent)}")
        remove_stale_partials(parent)
        try:
            names = [p.name for p in parent.iterdir()]
        except OSError as exc:
            raise _problem(f"cannot save the run under {shown(parent)}: {exc.strerror}") from None
        n = 1 + max((k for name in names if (k := _run_number(name)) is not None), default=0)
        while True:
            partial = parent / f".{n}{PARTIAL}"
            try:
                partial.mkdir()
            except FileExistsError:
                n += 1
                continue
            except OSError as exc:
                raise _problem(
                    f"cannot save the run under {shown(parent)}: {exc.strerror or exc}"
                ) from None
            return RunSlot(parent / str(n), partial, numbered=True)
    given = f"--out {shown(out)}"
    if str(out) == "":
        raise _problem(f"{given}: an empty path; the run needs a directory of its own")
    final = Path(out)
    if final.is_symlink():
        final = Path(os.path.realpath(final))
    if final.name in ("", ".", ".."):
        raise _problem(
            f"{given}: names a directory in use; the run needs a new directory of its own"
        )
    try:
        if final.exists() and not final.is_dir():
            raise _problem(f"{given}: is a file, not a directory")
        if final.exists() and any(final.iterdir()):
            raise _problem(
                f"{given}: already holds files; nnfix does not overwrite a run",
                hint="choose another directory, or remove this one first",
            )
    except OSError as exc:
        raise _problem(f"{given}: {exc.strerror or exc}") from None
    _make_parent(final.parent, given)
    remove_stale_partials(final.parent)
    partial = final.parent / f".{final.name[:200]}{PARTIAL}"
    try:
        partial.mkdir()
    except FileExistsError:
        raise _problem(
            f"{given}: another nnfix run is writing there now (or was killed there just now)"
        ) from None
    except OSError as exc:
        raise _problem(f"{given}: {exc.strerror or exc}") from None
    return RunSlot(final, partial, numbered=False)


def resolved_spec(loaded: LoadedSpec) -> dict:
    """The spec as run: overrides applied, file paths made absolute so it runs from anywhere."""
    raw = json.loads(json.dumps(loaded.raw))
    base = loaded.base_dir
    data = raw.get("data", {})
    for key in ("path", "x", "y"):
        if isinstance(data.get(key), str) and not (
            data.get("source") == "npz" and key in ("x", "y")
        ):
            data[key] = str((base / data[key]).resolve())
    impl = raw.get("implementation")
    if isinstance(impl, dict) and isinstance(impl.get("module"), str):
        impl["module"] = str((base / impl["module"]).resolve())

    def absolute(node):
        if isinstance(node, dict):
            return {k: absolute(v) for k, v in node.items()}
        if isinstance(node, list):
            return [absolute(v) for v in node]
        if isinstance(node, str) and (match := REF.match(node)):
            return f"{(base / match['file']).resolve()}:{match['function']}"
        return node

    return absolute(raw)


def _number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def metrics_csv(history: History, depth: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    layers = [f"grad_norm_W{l}" for l in range(1, depth + 1)]
    writer.writerow(["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", *layers])
    for r in history.epochs:
        cells = [r.loss, r.accuracy, r.val_loss, r.val_accuracy, r.lr, *r.grad_norms]
        writer.writerow([r.epoch, *("" if c is None else f"{c:.8g}" for c in cells)])
    return out.getvalue()


def save_run(
    directory: Path,
    loaded: LoadedSpec,
    weights: dict[str, np.ndarray],
    history: History,
    summary: dict,
    *,
    name: Path | None = None,
) -> None:
    """Every file of the run, each written atomically, into `directory` (the partial one, to be
    renamed `name`); the summary last, as the run's seal."""
    header = (
        f"# resolved spec of run {shown(name or directory)} (overrides applied, paths absolute)\n"
    )
    write_atomic(
        directory / "spec.yaml", header + yaml.safe_dump(resolved_spec(loaded), sort_keys=False)
    )
    write_npz(directory / "weights.npz", weights)
    write_atomic(directory / "metrics.csv", metrics_csv(history, len(loaded.spec.net_model.layers)))
    write_plots(directory, loaded, history, summary)
    write_atomic(directory / "summary.json", json.dumps(summary, indent=2) + "\n")


PLOTS = ("loss.svg", "gradients.svg")


def _per_batch(prior: float | None, spec: Spec, samples: dict | None) -> float | None:
    """The best constant prediction's loss over the training set (the summary's) in the units
    of the loss curve, the mean over an epoch's batches: the same for a mean over the samples,
    a batch's share of it for a sum."""
    if prior is None or spec.net_loss.reduction == "mean":
        return prior
    if not samples or not samples.get("train"):
        return None
    m, batch = samples["train"], spec.train.batch_size
    return prior if batch == "full" else prior * min(batch, m) / m


def write_plots(directory: Path, loaded: LoadedSpec, history: History, summary: dict) -> None:
    """loss.svg and gradients.svg, each written atomically; where they cannot be drawn (the
    plotting library is missing), a note in the summary says so and how to get them."""
    from nnfix.report.plots import PlotsUnavailable, training

    spec = loaded.spec
    weighted = [  # the layers whose ‖dW‖ the history follows (the summary's, with a norm)
        (row["layer"], row["activation"]) for row in summary.get("layers", []) if row["grad_norm"]
    ]
    try:
        drawn = {
            "loss.svg": training.loss_svg(
                history,
                f"{spec.net_loss.name}, {spec.net_loss.reduction} over the batch",
                _per_batch(summary.get("prior_loss"), spec, summary.get("samples")),
                spec.net_loss.name,
            ),
            "gradients.svg": training.gradients_svg(
                history,
                [name for _, name in weighted],
                [n for n, _ in weighted],
            ),
        }
    except PlotsUnavailable as exc:
        note = f"{' and '.join(PLOTS)} were not drawn: {exc}"
        notes = summary.setdefault("notes", [])
        if note not in notes:
            notes.append(note)
        return
    for name, text in drawn.items():
        write_atomic(directory / name, text)
