"""Data files: csv with bad cells on known lines, wrong column counts, truncation and junk;
npz with object arrays, missing keys, odd dtypes; npy headers claiming huge shapes; idx with
bad magic, truncated bodies, huge dimensions; mismatched sample counts; odd paths."""

from __future__ import annotations

import gzip
import io
import random
import re
import struct
import zipfile

import numpy as np

from tests.fuzz.case import FIFO, LINK, Case
from tests.fuzz.corpus import by_origin, idx_bytes
from tests.fuzz.mutators import mutator
from tests.fuzz.mutators.tree import pick

SEEDS = {"csv": "data:csv", "npy": "data:npy", "idx": "data:idx", "npz": "configs/bars.yaml"}


def _source(case: Case, kind: str) -> Case:
    """`case` if it reads a `kind` data file, else the corpus seed that does."""
    data = case.data()
    section = data.get("data") if data else None
    reads = isinstance(section, dict) and section.get("source") == kind
    if reads and any(name.endswith(f".{kind}") for name in case.files):
        return case
    seed = by_origin(SEEDS[kind])
    return case.but(spec=seed.spec, files=dict(seed.files), origin=seed.origin)


def _pristine(name: str) -> bytes:
    """The seed corpus's version of the data file `name` (a mutator may have damaged the case's)."""
    return next(seed.files[name] for seed in map(by_origin, SEEDS.values()) if name in seed.files)


def _file(case: Case, suffix: str) -> str:
    return next(name for name in sorted(case.files) if name.endswith(suffix))


def _npy(array, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _npz(arrays: dict, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, array in arrays.items():
            data = array if isinstance(array, bytes) else _npy(array, allow_pickle)
            archive.writestr(zipfile.ZipInfo(f"{key}.npy", (1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def npy_header(descr: str, shape: str, body: bytes = b"", fortran: str = "False") -> bytes:
    """A .npy file with a header we write by hand (so it can lie)."""
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + body


LYING_HEADERS = [
    ("<f8", "(100000000000, 1000)"),
    ("<f8", "(1000000, 100000)"),
    ("<f8", "(2**40,)"),
    ("<f8", "(-1, 2)"),
    ("<f8", "(120, -3)"),
    ("|O", "(120, 3)"),
    ("<U10", "(120, 3)"),
    ("V8", "(120,)"),
    ("<c16", "(120, 3)"),
    ("<M8[s]", "(120, 3)"),
    ("<f8", "(120, 3, 0)"),
    ("<f8", "()"),
    ("<f8", "(0, 3)"),
    ("<f2", "(120, 3)"),
    ("<q", "(120, 3)"),
    ("bogus", "(120, 3)"),
    ("<f8", "'abc'"),
    ("<f8", "(1.5, 2)"),
    ("<f8", "(9" + "9" * 4300 + ",)"),
]


# --- csv --------------------------------------------------------------------------------


BAD_CELLS = [
    "abc",
    "",
    " ",
    "nan",
    "inf",
    "-inf",
    "1e999",
    "1,5",
    "0x10",
    "１",
    "1_000",
    '"',
    "\x00",
    "é",
]


@mutator("datafiles", level=0)
def csv_bad_cell(rng: random.Random, case: Case) -> Case:
    """One cell of a known line replaced by something that is not a plain number."""
    case = _source(case, "csv")
    name = _file(case, ".csv")
    lines = case.files[name].decode("utf-8", "replace").split("\n")
    i = rng.randrange(1, max(2, len(lines) - 1))
    cells = lines[i].split(",")
    cells[rng.randrange(len(cells))] = pick(rng, BAD_CELLS)
    lines[i] = ",".join(cells)
    return case.but(files={**case.files, name: "\n".join(lines).encode()})


@mutator("datafiles", level=0)
def csv_ragged(rng: random.Random, case: Case) -> Case:
    """A row with a cell too many or too few."""
    case = _source(case, "csv")
    name = _file(case, ".csv")
    lines = case.files[name].decode("utf-8", "replace").split("\n")
    for _ in range(rng.choice([1, 1, 3, 50])):
        i = rng.randrange(0, max(1, len(lines) - 1))
        lines[i] = lines[i] + ",0.5" if rng.random() < 0.5 else lines[i].rsplit(",", 1)[0]
    return case.but(files={**case.files, name: "\n".join(lines).encode()})


@mutator("datafiles", level=0)
def csv_damage(rng: random.Random, case: Case) -> Case:
    """The csv cut short, garbled with bytes, NULs, stray quotes, or in another encoding."""
    case = _source(case, "csv")
    name = _file(case, ".csv")
    raw = case.files[name]
    at = rng.randrange(max(1, len(raw)))
    kind = rng.randrange(7)
    if kind == 0:
        raw = raw[:at]
    elif kind == 1:
        raw = raw[:at] + bytes(rng.randrange(256) for _ in range(rng.choice([1, 8, 64]))) + raw[at:]
    elif kind == 2:
        raw = raw[:at] + b"\x00" + raw[at:]
    elif kind == 3:
        raw = raw[:at] + b'"' + raw[at:]
    elif kind == 4:
        raw = raw.decode().encode(pick(rng, ["utf-16", "utf-32"]))
    elif kind == 5:
        raw = b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n")
    else:
        raw = b"\x1f\x8b" + raw[2:]  # gzip's magic, but not gzip
    return case.but(files={**case.files, name: raw})


@mutator("datafiles", level=0)
def csv_shape(rng: random.Random, case: Case) -> Case:
    """Empty, header only, one column, one row, a thousand columns, duplicate headers, or a
    target column that is not there."""
    case = _source(case, "csv")
    name = _file(case, ".csv")
    text = case.files[name].decode()
    lines = text.split("\n")
    options = [
        "",
        lines[0] + "\n",
        "\n".join(line.split(",")[0] for line in lines),
        "\n".join(lines[:2]) + "\n",
        "x1,x1,x1,label\n" + "\n".join(lines[1:]),
        ",".join(f"c{i}" for i in range(3000)) + "\n" + ",".join(["1"] * 3000) + "\n",
        "\n".join(lines[1:]),
        text.replace(",", ";"),
        text.replace(",", "\t"),
        "\n".join(",".join(["1e308"] * 4) for _ in range(50)),
        text + "\n" * 5 + "1,2,3,4\n",
    ]
    case = case.but(files={**case.files, name: pick(rng, options).encode()})
    if rng.random() < 0.3:
        target = pick(rng, ["nope", 99, -99, "label ", 1.5, "", "9" * 400, "3"])
        spec = re.sub(rb"target: [^,}\n]+", b"target: " + repr(target).encode(), case.spec)
        case = case.but(spec=spec)
    return case


# --- npz, npy, idx ------------------------------------------------------------------------


def _odd_array(rng: random.Random, n: int):
    return pick(
        rng,
        [
            np.array([["a", "b"]] * n),
            np.ones((n, 2), dtype=complex),
            np.ones((n, 2), dtype=bool),
            np.zeros((n, 2), dtype="datetime64[s]"),
            np.zeros(n, dtype=[("a", "<f8"), ("b", "<i4")]),
            np.array(3.0),
            np.ones((n, 2, 2)),
            np.ones((0, 2)),
            np.full((n, 2), np.nan),
            np.full((n, 2), 1e308),
            np.ones((n, 2), dtype=np.float16),
            np.ones((n, 2), dtype=np.uint64) * (2**64 - 1),
            np.ones((n - 7, 64)),
            np.ones((n, 5)),
        ],
    )


@mutator("datafiles", level=0)
def npz_content(rng: random.Random, case: Case) -> Case:
    """An .npz with object arrays, missing or extra keys, odd dtypes and shapes."""
    case = _source(case, "npz")
    name = _file(case, ".npz")
    with np.load(io.BytesIO(_pristine(name))) as archive:
        arrays = {k: archive[k] for k in archive.files}
    n = len(arrays["y"])
    kind = rng.randrange(5)
    if kind == 0:
        objects = np.empty(n, dtype=object)
        objects[:] = [[1, 2]] * n
        return case.but(files={**case.files, name: _npz({"x": objects, "y": arrays["y"]}, True)})
    if kind == 1:
        arrays.pop(pick(rng, ["x", "y"]))
        arrays[pick(rng, ["X", "images", "a/b", ""])] = np.ones(3)
    elif kind == 2:
        arrays[pick(rng, ["x", "y"])] = _odd_array(rng, n)
    elif kind == 3:
        arrays["y"] = arrays["y"][: rng.choice([0, 1, n // 2])]
    else:
        member = npy_header(*pick(rng, LYING_HEADERS), body=b"\0" * 64)
        return case.but(files={**case.files, name: _npz({"x": member, "y": arrays["y"]})})
    return case.but(files={**case.files, name: _npz(arrays)})


@mutator("datafiles", level=0)
def npz_damage(rng: random.Random, case: Case) -> Case:
    """An .npz cut short, with junk, or a zip of something else."""
    case = _source(case, "npz")
    name = _file(case, ".npz")
    raw = case.files[name]
    options = [
        raw[: rng.randrange(max(1, len(raw)))],
        raw[:100] + bytes(rng.randrange(256) for _ in range(200)) + raw[300:],
        _npz({"x": b"not an npy", "y": b"\x93NUMPY garbage"}),
        b"PK\x03\x04" + b"\0" * 30,
        gzip.compress(raw, mtime=0),
        b"\x1f\x8b\x08" + raw[:50],
    ]
    return case.but(files={**case.files, name: pick(rng, options)})


@mutator("datafiles", level=0)
def npy_header_lies(rng: random.Random, case: Case) -> Case:
    """An .npy whose header claims a huge, negative or odd shape, or an object dtype."""
    case = _source(case, "npy")
    name = pick(rng, [n for n in sorted(case.files) if n.endswith(".npy")])
    descr, shape = pick(rng, LYING_HEADERS)
    body = b"\0" * pick(rng, [0, 8, 120 * 3 * 8])
    fortran = pick(rng, ["False", "False", "True", "'yes'"])
    return case.but(files={**case.files, name: npy_header(descr, shape, body, fortran)})


@mutator("datafiles", level=0)
def npy_content(rng: random.Random, case: Case) -> Case:
    """A valid .npy of the wrong kind, cut short, or not an .npy at all; or x and y whose
    sample counts differ."""
    case = _source(case, "npy")
    name = pick(rng, [n for n in sorted(case.files) if n.endswith(".npy")])
    raw = case.files[name]
    options = [
        _npy(_odd_array(rng, 120)),
        raw[: rng.randrange(max(1, len(raw)))],
        b"\x93NUMPY\x03\x00" + raw[8:],
        b"\x93NUMPX" + raw[6:],
        _npy(np.ones(50)),
        _npz({"x": np.ones((120, 3)), "y": np.ones(120)}),
        b"",
    ]
    return case.but(files={**case.files, name: pick(rng, options)})


@mutator("datafiles", level=0)
def idx_damage(rng: random.Random, case: Case) -> Case:
    """IDX files with bad magic, a truncated header or body, lying or huge dimensions."""
    case = _source(case, "idx")
    name = pick(rng, [n for n in sorted(case.files) if n.endswith(".idx")])
    raw = _pristine(name)
    ndim = raw[3]
    body = raw[4 + 4 * ndim :]
    options = [
        b"\x00\x01" + raw[2:],
        b"\x00\x00\x07" + raw[3:],
        b"\x00\x00\x08\xff" + raw[4:],
        b"\x00\x00\x08\x00" + body,
        raw[: rng.randrange(1, 4 + 4 * ndim)],
        raw[: rng.randrange(4 + 4 * ndim, len(raw))],
        bytes([0, 0, 8, 3]) + struct.pack(">3I", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + body,
        bytes([0, 0, 8, 2]) + struct.pack(">2I", 2**31, 2**31) + body,
        bytes([0, 0, 0x0D, 1]) + struct.pack(">I", len(body) // 4) + body[: len(body) // 4 * 4],
        bytes([0, 0, 0x0E, 2]) + struct.pack(">2I", 10, 1) + np.full(10, np.nan, ">f8").tobytes(),
        idx_bytes(np.zeros((0, 4, 4))),
        idx_bytes(np.zeros((45, 4, 4))),
        gzip.compress(raw, mtime=0)[:-8],
    ]
    return case.but(files={**case.files, name: pick(rng, options)})


@mutator("datafiles", level=0)
def data_path(rng: random.Random, case: Case) -> Case:
    """The data file is a folder, a device, a named pipe, a dangling link, or outside."""
    kind = pick(rng, ["csv", "npy", "idx", "npz"])
    case = _source(case, kind)
    name = pick(rng, sorted(case.files))
    target = pick(
        rng,
        [
            FIFO,
            LINK + b"/dev/zero",
            LINK + b"/dev/urandom",
            LINK + b"/dev/null",
            LINK + b"/nonexistent/file",
            LINK + b".",
            LINK + name.rsplit("/", 1)[-1].encode(),
        ],
    )
    return case.but(files={**case.files, name: target})
