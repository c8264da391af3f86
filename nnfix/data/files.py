"""Readers for the data files a spec names: csv, npz, npy and idx (MNIST's), gzipped or not."""

from __future__ import annotations

import csv
import gzip
import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from nnfix.errors import DataError, InputError, Problem, SpecPath, did_you_mean
from nnfix.spec.source import Source

MAX_SHOWN = 10  # bad cells reported one by one; the rest are counted

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
    given = Path(name).expanduser()
    file = given if given.is_absolute() else (base_dir / given).resolve()
    if file.is_file():
        return file
    if file.is_dir():
        raise _fail(f"{file} is a folder; expected a data file", key, None, source=source)
    where = "" if given.is_absolute() else " (paths are relative to the spec's folder)"
    try:
        hint = did_you_mean(file.name, [f.name for f in file.parent.iterdir()])
    except FileNotFoundError:
        hint = f"the folder {file.parent} does not exist"
    except OSError:
        hint = None
    raise _fail(f"file not found: {file}{where}", key, None, hint=hint, source=source)


def _read_bytes(file: Path, key: SpecPath, source: Source | None = None) -> bytes:
    """The file's bytes, gunzipped when they start with gzip's magic number."""
    try:
        raw = file.read_bytes()
    except OSError as e:
        raise _fail(f"could not read {file}: {e.strerror or e}", key, file, source=source) from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise _fail(
            f"{file.name} is gzip-compressed but does not decompress ({e})",
            key,
            file,
            source=source,
        ) from None


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
    return next(csv.reader([line]))


def _column_name(header: list[str] | None, index: int) -> str:
    return f"column '{header[index]}'" if header else f"column index {index}"


def _target_column(
    target: str | int | None,
    header: list[str] | None,
    ncol: int,
    file: Path,
    line: int | None,
    source: Source | None = None,
) -> int:
    """The index of the target column named by `data.target` (default: the last column)."""
    key = ("data", "target")
    if target is None:
        return ncol - 1
    if isinstance(target, str):
        if header and target in header:
            return header.index(target)
        if target.strip().lstrip("-").isdigit():
            target = int(target)
        elif header:
            shown = ", ".join(f"'{h}'" for h in header)
            hint = did_you_mean(target, header)
            message = f"no column '{target}' in {file.name}; expected one of its columns: {shown}"
            raise _fail(message, key, file, line, hint=hint, source=source)
        else:
            message = (
                f"{file.name} has no header row, so data.target must be a column index "
                f"(0 to {ncol - 1}, or -1 for the last), not '{target}'"
            )
            raise _fail(message, key, file, source=source)
    if -ncol <= target < ncol:
        return target % ncol
    message = (
        f"target column {target} is out of range: {file.name} has {ncol} columns "
        f"(0 to {ncol - 1}, or -{ncol} to -1)"
    )
    raise _fail(message, key, file, source=source)


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
    for lineno, line in enumerate(lines[start:], start + 1):
        if not line.strip():
            continue
        cells = _cells(line)
        if len(cells) != ncol:
            bad += 1
            if len(problems) < MAX_SHOWN:
                origin = "the header" if header else "the first row"
                message = f"line {lineno}: expected {ncol} cells as in {origin}, found {len(cells)}"
                problems.append(Problem(message, path=key, file=file, line=lineno))
            continue
        for i, cell in enumerate(cells):
            if _is_number(cell):
                continue
            bad += 1
            if len(problems) < MAX_SHOWN:
                found = f"'{cell}'" if cell.strip() else "an empty cell"
                message = (
                    f"line {lineno}, {_column_name(header, i)}: expected a number, found {found}"
                )
                col = _cell_col(line, i)
                problems.append(Problem(message, path=key, file=file, line=lineno, col=col))
        rows.append([float(c) if _is_number(c) else np.nan for c in cells])
    if bad > len(problems):
        more = f"and {bad - len(problems)} more cells or rows like these in {file.name}"
        problems.append(Problem(more, path=key, file=file))
    if problems:
        raise DataError(problems, source)
    return np.array(rows, dtype=np.float64).reshape(len(rows), ncol)


def read_csv(
    file: Path,
    target: str | int | None,
    key: SpecPath = ("data", "path"),
    source: Source | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (every column but the target) and targets of a comma-separated file of numbers."""
    try:
        text = _read_bytes(file, key, source).decode("utf-8-sig")
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
    col = _target_column(target, header, ncol, file, first + 1 if has_header else None, source)
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
    return np.delete(table, col, axis=1), table[:, col]


# --- npy, npz, idx -----------------------------------------------------------------------


def _load_numpy(file: Path, key: SpecPath, source: Source | None = None):
    raw = _read_bytes(file, key, source)
    if not raw.startswith((b"\x93NUMPY", b"PK\x03\x04")):
        found = " ".join(f"{b:02x}" for b in raw[:6]) or "an empty file"
        message = (
            f"{file.name} is not a NumPy file: expected an .npy array (starting 93 'NUMPY') "
            f"or an .npz archive (starting 'PK'), found {found}"
        )
        raise _fail(message, key, file, source=source)
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as e:
        why = "it holds Python objects, not numbers" if "pickle" in str(e) else str(e)
        raise _fail(
            f"could not read {file.name} as a NumPy file: {why}", key, file, source=source
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise _fail(
            f"could not read {file.name} as a NumPy file: {e}", key, file, source=source
        ) from None


def read_npy(file: Path, key: SpecPath, source: Source | None = None) -> np.ndarray:
    """The array of a .npy file."""
    array = _load_numpy(file, key, source)
    if not isinstance(array, np.ndarray):
        keys = ", ".join(array.files)
        message = f"{file.name} is an .npz archive (arrays {keys}); expected one .npy array"
        raise _fail(message, key, file, hint="use source: npz with path:, x: and y:", source=source)
    return array


def read_npz(
    file: Path, names: dict[str, str], key: SpecPath, source: Source | None = None
) -> dict[str, np.ndarray]:
    """The arrays `names` maps to (spec key -> archive key) from an .npz archive."""
    archive = _load_numpy(file, key, source)
    if isinstance(archive, np.ndarray):
        message = f"{file.name} holds a single array; expected an .npz archive of named arrays"
        raise _fail(message, key, file, hint="use source: npy with x: and y: paths", source=source)
    with archive:
        keys = list(archive.files)
        problems = []
        for spec_key, name in names.items():
            if name not in keys:
                shown = ", ".join(f"'{k}'" for k in keys) or "none"
                message = (
                    f"no array '{name}' in {file.name}; expected one of the arrays it has: {shown}"
                )
                hint = did_you_mean(name, keys) or f"set data.{spec_key} to one of them"
                problems.append(Problem(message, path=("data", spec_key), file=file, hint=hint))
        if problems:
            raise DataError(problems, source)
        return {spec_key: archive[name] for spec_key, name in names.items()}


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
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - offset != expected:
        message = (
            f"{file.name}: its header says shape {shape} of {dtype.name}, {expected} bytes, "
            f"but {len(raw) - offset} bytes follow (a truncated download?)"
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
) -> tuple[np.ndarray, np.ndarray, str, Sources]:
    """Inputs, targets, a name for what was read, and where each came from, for a file source."""
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
            x, y = read_csv(file, data.target, key, source)
            return x, y, file.name, sources
        arrays = read_npz(file, {"x": data.x or "x", "y": data.y or "y"}, key, source)
        return arrays["x"], arrays["y"], file.name, sources
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
    return arrays["x"], arrays["y"], f"{files['x'].name} + {files['y'].name}", sources
