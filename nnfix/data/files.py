"""Readers for the data files a spec names: csv, npz, npy and idx (MNIST's), gzipped or not."""

from __future__ import annotations

import ast
import csv
import gzip
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Collection
from pathlib import Path

import numpy as np

from nnfix.data import limits
from nnfix.errors import DataError, InputError, Problem, SpecPath, did_you_mean
from nnfix.spec.source import Source

MAX_SHOWN = 10  # bad cells reported one by one; the rest are counted
MAX_COLUMNS_SHOWN = 20  # columns or arrays listed when the spec names none of them

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _fail(
    message: str,
    key: SpecPath,
    file: Path | None,
    line: int | None = None,
    source: Source | None = None,
    **kw,
) -> DataError:
    return DataError([Problem(message, path=key, file=file, line=line, **kw)], source)


def resolve(name: str, base_dir: Path, key: SpecPath, source: Source | None = None) -> Path:
    """The file `name` (relative to the spec's folder), or an error saying where it looked."""
    try:
        given = Path(name).expanduser()
        file = given if given.is_absolute() else (base_dir / given).resolve()
        kind = "file" if file.is_file() else "folder" if file.is_dir() else None
        exists = file.exists()
    except (OSError, RuntimeError, ValueError) as e:  # a symlink loop, a NUL in the name
        message = f"cannot follow the path {name!r:.200}: {e}"
        raise _fail(message, key, None, source=source) from None
    if kind == "file":
        return file
    if kind == "folder":
        raise _fail(f"{file} is a folder; expected a data file", key, None, source=source)
    if exists:
        message = f"{file} is not a regular file (a pipe or a device?); expected a data file"
        raise _fail(message, key, None, source=source)
    where = "" if given.is_absolute() else " (paths are relative to the spec's folder)"
    try:
        hint = did_you_mean(file.name, [f.name for f in file.parent.iterdir()])
    except FileNotFoundError:
        hint = f"the folder {file.parent} does not exist"
    except OSError:
        hint = None
    raise _fail(f"file not found: {file}{where}", key, None, hint=hint, source=source)


def _read_bytes(
    file: Path, key: SpecPath, source: Source | None = None, per_byte: int = 1
) -> bytes:
    """The file's bytes, gunzipped when they start with gzip's magic number; refused before
    reading when the file (or what it unzips to), `per_byte` bytes of memory a byte, would not
    fit in the data budget."""
    limit = limits.budget() // per_byte
    try:
        too_big = file.stat().st_size > limit
        raw = b"" if too_big else file.read_bytes()
    except OSError as e:
        raise _fail(f"could not read {file}: {e.strerror or e}", key, file, source=source) from None
    except MemoryError:
        raise _fail(f"{file.name} does not fit in memory", key, file, source=source) from None
    if too_big:
        raise _fail(_too_big(file, file.stat().st_size, per_byte), key, file, source=source)
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unzipped:
            out = unzipped.read(limit + 1)
    except (OSError, EOFError, zlib.error, ValueError) as e:
        raise _fail(
            f"{file.name} is gzip-compressed but does not decompress ({e})",
            key,
            file,
            source=source,
        ) from None
    except MemoryError:
        raise _fail(f"{file.name} does not fit in memory", key, file, source=source) from None
    if len(out) > limit:
        message = f"{file.name} decompresses to more than {limits.size(limit)}"
        if per_byte > 1:
            message += f"; reading it would take more than {limits.size(limit * per_byte)}"
        raise _fail(f"{message}, {limits.held()}", key, file, source=source)
    return out


def _too_big(file: Path, nbytes: int, per_byte: int) -> str:
    """'train.csv is 900 MiB; reading it takes about 14 GiB, more than the 4 GiB of data …'."""
    message = f"{file.name} is {limits.size(nbytes)}"
    if per_byte > 1:
        message += f"; reading it takes about {limits.size(nbytes * per_byte)}"
    return f"{message}, more than {limits.held()}"


# --- csv ---------------------------------------------------------------------------------


def _is_number(cell: str) -> bool:
    cell = cell.strip()
    if not cell or "_" in cell:  # float() takes "1_000"; np.loadtxt does not
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _cells(line: str) -> list[str]:
    try:
        return next(csv.reader([line]))
    except csv.Error:  # a quoted field past csv's field size limit: split it plainly
        return line.split(",")


def _shown(cell: str) -> str:
    """A cell for a message: quoted, control characters escaped, cut at 40 characters."""
    text = f"'{cell}'" if cell.isprintable() else repr(cell)
    return text if len(text) <= 40 else text[:37] + "…"


def _column_name(header: list[str] | None, index: int) -> str:
    return f"column {_shown(header[index])}" if header else f"column index {index}"


def _target_column(
    target: str | int | None,
    header: list[str] | None,
    ncol: int,
    file: Path,
    line: int | None,
    source: Source | None = None,
    text: str = "",
) -> int:
    """The index of the target column named by `data.target` (default: the last column); a
    name the header (`text`, at `line`) repeats is an error at its second cell."""
    key = ("data", "target")
    if target is None:
        return ncol - 1
    if isinstance(target, str):
        if header and target in header:
            same = [i for i, name in enumerate(header) if name == target]
            if len(same) > 1:
                message = (
                    f"the header of {file.name} names {len(same)} columns {_shown(target)} "
                    f"(column indices {_listed_indices(same)}), so data.target {_shown(target)} "
                    "could be any of them"
                )
                how = f"rename one, or give data.target as a column index ({same[0]} is the first)"
                col = _cell_col(text, same[1])
                raise _fail(message, key, file, line, source, col=col, hint=how)
            return header.index(target)
        if re.fullmatch(r"-?[0-9]{1,20}", target.strip()):
            target = int(target)
        elif header:
            shown = ", ".join(_shown(h) for h in header[:MAX_COLUMNS_SHOWN])
            if len(header) > MAX_COLUMNS_SHOWN:
                shown += f", … ({len(header)} in all)"
            hint = did_you_mean(target, header)
            message = (
                f"no column {_shown(target)} in {file.name}; expected one of its columns: {shown}"
            )
            raise _fail(message, key, file, line, hint=hint, source=source)
        else:
            message = (
                f"{file.name} has no header row, so data.target must be a column index "
                f"(0 to {ncol - 1}, or -1 for the last), not {_shown(target)}"
            )
            raise _fail(message, key, file, source=source)
    if -ncol <= target < ncol:
        return target % ncol
    message = (
        f"target column {target} is out of range: {file.name} has {ncol} columns "
        f"(0 to {ncol - 1}, or -{ncol} to -1)"
    )
    raise _fail(message, key, file, source=source)


def _listed_indices(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def _cell_col(line: str, index: int) -> int | None:
    """1-based character column of cell `index` in `line`, when the line has no quotes."""
    if '"' in line:
        return None
    return 1 + sum(len(c) + 1 for c in line.split(",")[:index])


def _parse_slowly(
    lines: list[str],
    start: int,
    ncol: int,
    header: list[str] | None,
    file: Path,
    key: SpecPath,
    source: Source | None = None,
) -> np.ndarray:
    """Parse cell by cell, collecting every bad cell and ragged row with its line number."""
    rows: list[list[float]] = []
    problems: list[Problem] = []
    bad = 0
    unshown: int | None = None  # the first line with a bad cell not shown one by one
    for lineno, line in enumerate(lines[start:], start + 1):
        if not line.strip():
            continue
        cells = _cells(line)
        if len(cells) != ncol:
            bad += 1
            if len(problems) >= MAX_SHOWN:
                unshown = unshown or lineno
            else:
                origin = "the header" if header else "the first row"
                message = f"line {lineno}: expected {ncol} cells as in {origin}, found {len(cells)}"
                problems.append(Problem(message, path=key, file=file, line=lineno))
            continue
        for i, cell in enumerate(cells):
            if _is_number(cell):
                continue
            bad += 1
            if len(problems) >= MAX_SHOWN:
                unshown = unshown or lineno
            else:
                found = _shown(cell) if cell.strip() else "an empty cell"
                message = (
                    f"line {lineno}, {_column_name(header, i)}: expected a number, found {found}"
                )
                col = _cell_col(line, i)
                problems.append(Problem(message, path=key, file=file, line=lineno, col=col))
        rows.append([float(c) if _is_number(c) else np.nan for c in cells])
    if bad > len(problems):
        more = (
            f"and {bad - len(problems)} more cells or rows like these in {file.name}, "
            f"from line {unshown} on"
        )
        problems.append(Problem(more, path=key, file=file, line=unshown))
    if problems:
        raise DataError(problems, source)
    return np.array(rows, dtype=np.float64).reshape(len(rows), ncol)


def read_csv(
    file: Path,
    target: str | int | None,
    key: SpecPath = ("data", "path"),
    source: Source | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Inputs (every column but the target) and targets of a comma-separated file of numbers,
    and the file line (from 1) each row was read from (None if that cannot be told)."""
    try:
        text = _read_bytes(file, key, source, limits.CSV_BYTES_PER_BYTE).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(
            f"{file.name} is not a text file; expected comma-separated numbers",
            key,
            file,
            source=source,
        ) from None
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise _fail(
            f"{file.name} is empty; expected rows of comma-separated numbers",
            key,
            file,
            source=source,
        )
    first_cells = _cells(lines[first])
    ncol = len(first_cells)
    has_header = any(c.strip() and not _is_number(c) for c in first_cells)
    header = [c.strip() for c in first_cells] if has_header else None
    start = first + 1 if has_header else first
    header_line = first + 1 if has_header else None
    col = _target_column(target, header, ncol, file, header_line, source, lines[first])
    if not any(line.strip() for line in lines[start:]):
        raise _fail(
            f"{file.name} has a header but no data rows", key, file, first + 1, source=source
        )
    if ncol < 2:
        message = f"{file.name} has a single column: no inputs are left once the target is taken"
        raise _fail(message, key, file, source=source)
    try:  # fast path in C; on any complaint, parse again in Python to say where and why
        table = np.loadtxt(
            lines[start:],
            delimiter=",",
            comments=None,
            quotechar='"' if '"' in text else None,  # quote handling costs a third
            ndmin=2,
            dtype=np.float64,
        )
        if table.shape[1] != ncol:
            raise ValueError("column count")
    except ValueError:
        table = _parse_slowly(lines, start, ncol, header, file, key, source)
    numbers = np.array([i + 1 for i in range(start, len(lines)) if lines[i].strip()], np.int64)
    row_lines = numbers if len(numbers) == len(table) else None  # blank lines are skipped
    return np.delete(table, col, axis=1), table[:, col], row_lines


# --- npy, npz, idx -----------------------------------------------------------------------

NPY_MAGIC, ZIP_MAGIC = b"\x93NUMPY", b"PK\x03\x04"
NPY_HEADER_MAX = 10_000  # numpy's own bound on the length of a .npy header
NPY_VERSIONS = {(1, 0): ("<H", "latin-1"), (2, 0): ("<I", "latin-1"), (3, 0): ("<I", "utf-8")}
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,  # a compression method zipfile lacks
    RuntimeError,  # an encrypted member
    struct.error,
)


class _Unreadable(Exception):
    """What is wrong with an array's bytes; the caller says which spec key and file."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _shape_text(shape: tuple) -> str:
    """A shape as text, numbers too long to print shortened to their digit count."""
    parts = [
        str(n) if abs(n).bit_length() < 64 else f"<a {n.bit_length()}-bit number>" for n in shape
    ]
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


def _npy_header(raw: bytes, name: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Shape, Fortran order, dtype and the data's offset of the .npy bytes `raw`, checked as
    numpy checks them, without numpy trusting the header."""
    version = (raw[6], raw[7]) if len(raw) >= 8 else None
    if version not in NPY_VERSIONS:
        shown = f"{version[0]}.{version[1]}" if version else "unknown"
        raise _Unreadable(
            f"{name} is not a .npy array nnfix can read: format version {shown} "
            "(expected 1.0, 2.0 or 3.0)"
        )
    length_format, encoding = NPY_VERSIONS[version]
    start = 8 + struct.calcsize(length_format)
    if len(raw) < start:
        raise _Unreadable(f"{name} is cut short inside its .npy header")
    (length,) = struct.unpack_from(length_format, raw, 8)
    if length > NPY_HEADER_MAX:
        raise _Unreadable(
            f"{name}: its .npy header claims {length} bytes; numpy writes at most "
            f"{NPY_HEADER_MAX} (a damaged file?)"
        )
    end = start + length
    if len(raw) < end:
        raise _Unreadable(
            f"{name} is cut short inside its .npy header ({len(raw) - start} of its "
            f"{length} bytes are there)"
        )
    damaged = f"{name} has a damaged .npy header"
    try:
        header = ast.literal_eval(raw[start:end].decode(encoding))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise _Unreadable(
            f"{damaged}: expected a dict of 'descr', 'fortran_order' and 'shape' written "
            "as plain Python literals"
        ) from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise _Unreadable(f"{damaged}: expected a dict of 'descr', 'fortran_order' and 'shape'")
    shape, fortran = header["shape"], header["fortran_order"]
    if not isinstance(shape, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in shape
    ):
        raise _Unreadable(f"{damaged}: its shape is not a tuple of whole numbers")
    if any(n < 0 for n in shape):
        raise _Unreadable(f"{damaged}: its shape {_shape_text(shape)} has a negative size")
    if not isinstance(fortran, bool):
        raise _Unreadable(f"{damaged}: its fortran_order is {fortran!r:.40}, not True or False")
    try:
        dtype = np.lib.format.descr_to_dtype(header["descr"])
    except (TypeError, ValueError, KeyError, IndexError, RecursionError, MemoryError):
        raise _Unreadable(
            f"{damaged}: its descr {header['descr']!r:.40} is not a NumPy dtype"
        ) from None
    return shape, fortran, dtype, end


def _npy(raw: bytes, name: str) -> np.ndarray:
    """The array of the .npy bytes `raw`: its header checked against the bytes that follow and
    the data budget before anything is allocated; object arrays (pickles) never loaded."""
    shape, fortran, dtype, offset = _npy_header(raw, name)
    if dtype.hasobject:
        raise _Unreadable(
            f"{name} holds Python objects (dtype {dtype}), not numbers; nnfix never loads "
            "pickled objects",
            hint="save an array of numbers: np.asarray(values, dtype=float)",
        )
    count = limits.elements(shape)
    need = count * dtype.itemsize
    described = f"shape {_shape_text(shape)} of {dtype}"
    if need > len(raw) - offset:
        raise _Unreadable(
            f"{name}: its header says {described}, {limits.size(need)}, but only "
            f"{limits.size(len(raw) - offset)} follow the header (a truncated or damaged file?)"
        )
    held = count * max(dtype.itemsize, limits.FLOAT_BYTES)  # as float64 (or wider)
    too_big = limits.over(held)
    if too_big:
        raise _Unreadable(
            f"{name} holds {described}: as float64 that is {limits.size(held)}, {too_big}"
        )
    try:
        array = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
        return array.reshape(shape, order="F" if fortran else "C")
    except (ValueError, TypeError) as e:
        raise _Unreadable(f"{name}: its {described} cannot be read ({e})") from None


def _archive(raw: bytes, name: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(raw))
    except _ZIP_ERRORS as e:
        raise _Unreadable(f"could not read {name} as an .npz archive: {e}") from None


def _members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's arrays by key, as np.load names them ('x' for the member x.npy)."""
    return {
        (info.filename[:-4] if info.filename.endswith(".npy") else info.filename): info
        for info in archive.infolist()
    }


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, name: str) -> np.ndarray:
    """The array `key` of the archive `name`: its claimed size checked before it is unzipped."""
    what = f"array '{key}' of {name}"
    too_big = limits.over(info.file_size)
    if too_big:
        raise _Unreadable(f"{what} unzips to {limits.size(info.file_size)}, {too_big}")
    try:
        with archive.open(info) as member:
            raw = member.read(info.file_size + 1)
    except _ZIP_ERRORS as e:
        raise _Unreadable(f"could not unzip {what} (a damaged archive?): {e}") from None
    except MemoryError:
        raise _Unreadable(f"{what} does not fit in memory") from None
    if not raw.startswith(NPY_MAGIC):
        raise _Unreadable(f"{what} is not a .npy array (it does not start with 93 'NUMPY')")
    return _npy(raw, what)


def _listed(names: list[str], quote: str = "'") -> str:
    """'x', 'y' — the first MAX_COLUMNS_SHOWN names, then how many there are; or none."""
    shown = ", ".join(f"{quote}{n[:40]}{quote}" for n in names[:MAX_COLUMNS_SHOWN]) or "none"
    return shown + (f", … ({len(names)} in all)" if len(names) > MAX_COLUMNS_SHOWN else "")


def _not_numpy(file: Path, raw: bytes) -> str:
    found = " ".join(f"{b:02x}" for b in raw[:6]) or "an empty file"
    return (
        f"{file.name} is not a NumPy file: expected an .npy array (starting 93 'NUMPY') "
        f"or an .npz archive (starting 'PK'), found {found}"
    )


def read_npy(file: Path, key: SpecPath, source: Source | None = None) -> np.ndarray:
    """The array of a .npy file."""
    raw = _read_bytes(file, key, source)
    try:
        if raw.startswith(NPY_MAGIC):
            return _npy(raw, file.name)
        if not raw.startswith(ZIP_MAGIC):
            raise _Unreadable(_not_numpy(file, raw))
        with _archive(raw, file.name) as archive:
            keys = _listed(list(_members(archive)), quote="")
        raise _Unreadable(
            f"{file.name} is an .npz archive (arrays {keys}); expected one .npy array",
            hint="use source: npz with path:, x: and y:",
        )
    except _Unreadable as e:
        raise _fail(str(e), key, file, hint=e.hint, source=source) from None


def read_npz(
    file: Path,
    names: dict[str, str],
    key: SpecPath,
    source: Source | None = None,
    given: Collection[str] = (),
) -> dict[str, np.ndarray]:
    """The arrays `names` maps to (spec key -> archive key) from an .npz archive; a problem
    with one is located at its spec key when the spec `given` it (data.x), else at `key`."""
    raw = _read_bytes(file, key, source)
    try:
        if raw.startswith(NPY_MAGIC):
            raise _Unreadable(
                f"{file.name} holds a single array; expected an .npz archive of named arrays",
                hint="use source: npy with x: and y: paths",
            )
        if not raw.startswith(ZIP_MAGIC):
            raise _Unreadable(_not_numpy(file, raw))
        archive = _archive(raw, file.name)
    except _Unreadable as e:
        raise _fail(str(e), key, file, hint=e.hint, source=source) from None
    with archive:
        members = _members(archive)
        problems = []
        arrays = {}
        for spec_key, name in names.items():
            at = ("data", spec_key) if spec_key in given else key
            if name not in members:
                shown = _listed(list(members))
                message = (
                    f"no array '{name}' in {file.name}; expected one of the arrays it has: {shown}"
                )
                hint = did_you_mean(name, list(members)) or f"set data.{spec_key} to one of them"
                problems.append(Problem(message, path=at, file=file, hint=hint))
                continue
            try:
                arrays[spec_key] = _member(archive, members[name], name, file.name)
            except _Unreadable as e:
                problems.append(Problem(str(e), path=at, file=file, hint=e.hint))
        if problems:
            raise DataError(problems, source)
        return arrays


def read_idx(file: Path, key: SpecPath, source: Source | None = None) -> np.ndarray:
    """The array of an IDX file: 00 00 <type> <ndim>, then big-endian uint32 dims, then data."""
    raw = _read_bytes(file, key, source)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_DTYPES:
        found = " ".join(f"{b:02x}" for b in raw[:4]) or "an empty file"
        message = (
            f"{file.name} is not an IDX file: expected it to start with 00 00, a type code "
            f"(08 09 0b 0c 0d 0e) and the number of dimensions, found {found}"
        )
        raise _fail(message, key, file, source=source)
    dtype, ndim = np.dtype(IDX_DTYPES[raw[2]]), raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise _fail(f"{file.name} is cut short inside its IDX header", key, file, source=source)
    shape = struct.unpack(f">{ndim}I", raw[4:offset])
    count = limits.elements(shape)
    expected = count * dtype.itemsize
    if len(raw) - offset != expected:
        message = (
            f"{file.name}: its header says shape {shape} of {dtype.name}, "
            f"{limits.size(expected)}, but {limits.size(len(raw) - offset)} follow "
            f"(a truncated download?)"
        )
        raise _fail(message, key, file, source=source)
    too_big = limits.over(count * limits.FLOAT_BYTES)
    if too_big:
        message = (
            f"{file.name} holds shape {shape} of {dtype.name}: as float64 that is "
            f"{limits.size(count * limits.FLOAT_BYTES)}, {too_big}"
        )
        raise _fail(message, key, file, source=source)
    array = np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _need(data, names: tuple[str, ...], problems: list[Problem]) -> None:
    """A problem for each file key the source needs and the spec lacks."""
    hint = None
    if data.source in ("npy", "idx") and data.path is not None:
        hint = f"{data.source} reads two files: name them in data.x and data.y, not data.path"
    for name in names:
        if getattr(data, name) is None:
            what = {"path": "the file", "x": "the inputs' file", "y": "the targets' file"}[name]
            message = f"source: {data.source} needs data.{name}, {what}"
            problems.append(Problem(message, path=("data", "source"), hint=hint))


Sources = dict[str, tuple[SpecPath, Path | None]]  # "x"/"y" -> spec key and file they came from


def read_files(
    data, base_dir: Path, source: Source | None = None
) -> tuple[np.ndarray, np.ndarray, str, Sources, np.ndarray | None]:
    """Inputs, targets, a name for what was read, where each came from, and for a csv the file
    line of each sample (None for arrays: a sample's number is its index)."""
    problems: list[Problem] = []
    keys = ("path",) if data.source in ("csv", "npz") else ("x", "y")
    _need(data, keys, problems)
    files: dict[str, Path] = {}
    for name in keys:
        if getattr(data, name) is not None:
            try:
                files[name] = resolve(getattr(data, name), base_dir, ("data", name), source)
            except InputError as e:
                problems += e.problems
    if problems:
        raise DataError(problems, source)
    if data.source in ("csv", "npz"):
        file, key = files["path"], ("data", "path")
        sources: Sources = {"x": (key, file), "y": (key, file)}
        if data.source == "csv":
            x, y, lines = read_csv(file, data.target, key, source)
            return x, y, file.name, sources, lines
        names = {"x": data.x or "x", "y": data.y or "y"}
        given = [name for name in names if getattr(data, name) is not None]
        arrays = read_npz(file, names, key, source, given)
        return arrays["x"], arrays["y"], file.name, sources, None
    reader = read_npy if data.source == "npy" else read_idx
    arrays = {}
    for name, file in files.items():
        try:
            arrays[name] = reader(file, ("data", name), source)
        except InputError as e:
            problems += e.problems
    if problems:
        raise DataError(problems, source)
    sources = {name: (("data", name), files[name]) for name in files}
    return arrays["x"], arrays["y"], f"{files['x'].name} + {files['y'].name}", sources, None
