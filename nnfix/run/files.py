"""Atomic file writes (SPEC §6): a temporary file beside the target, then a rename, so a crash or
Ctrl-C never leaves a half-written file, and the file gets the permissions any file the user
creates gets (their umask), never a private 0600."""

from __future__ import annotations

import io
import os
import secrets
import stat
from pathlib import Path

import numpy as np

TMP_SUFFIX = ".tmp"  # nnfix's temporary files are `.<target name>.<8 hex digits>.tmp`


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new temporary file beside `path`, created with mode 0666 so that the kernel applies the
    umask (and a default ACL) exactly as for any file the user creates — what tempfile.mkstemp's
    0600 would not, and what reading the umask (os.umask sets it to read it: a race with other
    threads) need not. The target's name is shortened so the temporary name stays a valid one."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name[:200]}.{secrets.token_hex(4)}{TMP_SUFFIX}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def write_atomic(path: Path, content: str | bytes, mode: int | None = None) -> None:
    """Write `content` to `path` whole or not at all. A symbolic link is written through (the file
    it names is replaced, the link kept); a device or pipe (/dev/stdout) is written directly,
    since nothing can be renamed onto it. Missing parent directories are created. `mode` (the
    permission bits of a file being edited in place) is given to the new file before it takes
    the old one's place. On any error (or Ctrl-C) the temporary file is removed and the error
    raised."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        with open(path, "wb") as f:
            f.write(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path)
    try:
        try:
            _write_all(fd, data)
            if mode is not None:
                os.fchmod(fd, stat.S_IMODE(mode))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    write_atomic(path, buffer.getvalue())


def shown(path: str | Path) -> str:
    """A path as the user would type it: quoted for the shell where needed (`''`, spaces),
    control characters escaped so that a name cannot drive the terminal."""
    import shlex

    text = str(path)
    if not text.isprintable():
        return repr(text)
    return shlex.quote(text)


def _access(path: Path, mode: int) -> bool:
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):
        return False


def uncreatable_in(directory: Path) -> str | None:
    """Why nothing can be created in `directory`, which need not exist yet (its missing parents
    would be created); None when, as far as can be told without writing, it can."""
    try:
        ancestor = directory
        while not ancestor.exists():
            if os.path.lexists(ancestor):
                return f"{shown(ancestor)} is a broken symbolic link"
            if ancestor.parent == ancestor:
                return f"{shown(ancestor)} does not exist"
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            return f"{shown(ancestor)} is a file, not a directory"
        if not _access(ancestor, os.W_OK | os.X_OK):
            why = "a read-only file system" if _read_only_fs(ancestor) else "permission denied"
            return f"cannot create anything in {shown(ancestor)}: {why}"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def unwritable_file(path: str | Path) -> str | None:
    """Why `path` cannot be written as a file by `write_atomic` (None when it can, as far as can
    be told before writing): checked before the work whose result goes there, so that none of
    it is wasted. An existing read-only file is refused: replacing it would go around the
    protection its owner gave it."""
    if str(path) == "":
        return "an empty path is not a file name"
    if str(path).endswith(("/", os.sep)):
        return "names a directory, not a file"
    target = Path(path)
    try:
        if target.is_symlink():
            target = Path(os.path.realpath(target))
        if target.is_dir() or target.name in ("", ".", ".."):
            return "is a directory, not a file"
        if target.exists():
            if not _access(target, os.W_OK):
                return "is read-only"
            if not stat.S_ISREG(target.stat().st_mode):
                return None  # a device or a pipe: written directly
    except OSError as exc:
        return exc.strerror or str(exc)
    return uncreatable_in(target.parent)
