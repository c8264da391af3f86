"""Hostile data files: every refusal is exit 2 at a line (the csv's, else the spec's line of the
key that names the file), nothing is allocated before its size is checked, never an internal
error or a traceback; non-finite data stays a D101 finding."""

from __future__ import annotations

import gzip
import io
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.data import files, generated, limits
from nnfix.data.dataset import load_dataset
from nnfix.spec.model import DataSpec

ROOT = Path(__file__).resolve().parents[1]
MODEL = """\
model:
  layers:
    - {units: 4, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
train:
  epochs: 2
"""


def spec_text(**data) -> str:
    """A spec whose `data:` keys stand one a line from line 3, in the order given."""
    lines = ["seed: 0", "data:"] + [f"  {key}: {value}" for key, value in data.items()]
    return "\n".join(lines) + "\n" + MODEL


def line_of(key: str, **data) -> int:
    return 3 + list(data).index(key)


def diagnose(tmp_path: Path, monkeypatch, files_: dict[str, bytes], *extra: str, **data):
    """Write the spec and files into tmp_path, run `nnfix diagnose spec.yaml --quick`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(spec_text(**data))
    for name, raw in files_.items():
        (tmp_path / name).write_bytes(raw)
    result = CliRunner().invoke(main, ["diagnose", "spec.yaml", "--quick", *extra])
    return result.exit_code, result.stderr


def refused(code: int, err: str, where: str) -> None:
    """Exit 2, located at `where` (e.g. 'spec.yaml:4:'), no internal error, no traceback."""
    assert code == 2, err
    assert where in err, err
    assert "internal error" not in err and "Traceback" not in err, err


def npy(array, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npy_header(descr: str, shape: str, body: bytes = b"", fortran: str = "False") -> bytes:
    """A .npy file with a header written by hand, so it can lie."""
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + body


def npz(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for key, raw in members.items():
            archive.writestr(f"{key}.npy", raw)
    return buffer.getvalue()


NPY = {"source": "npy", "x": "x.npy", "y": "y.npy"}  # data.x on line 4, data.y on line 5
NPZ = {"source": "npz", "path": "d.npz"}  # data.path on line 4
X, Y = np.ones((8, 2)), np.array([0, 1] * 4)


# --- 1. whole-file problems at the spec's line of the key that names the file -------------


def test_a_file_that_is_not_numpy_is_at_the_spec_line_of_data_x(tmp_path, monkeypatch):
    code, err = diagnose(tmp_path, monkeypatch, {"x.npy": b"", "y.npy": npy(Y)}, **NPY)
    refused(code, err, "spec.yaml:4:6: data.x: x.npy is not a NumPy file")
    assert "4 │   x: x.npy" in err  # the snippet of the spec's line


def test_mismatched_sample_counts_name_both_files_at_data_y(tmp_path, monkeypatch):
    raw = {"x.npy": npy(np.ones((5, 2))), "y.npy": npy(Y)}
    code, err = diagnose(tmp_path, monkeypatch, raw, **NPY)
    refused(code, err, "spec.yaml:5:6: data.y: the inputs (x.npy) have 5 samples")
    assert "the targets (y.npy) have 8" in err


def test_npz_shape_problem_names_the_archive_at_data_path(tmp_path, monkeypatch):
    raw = {"d.npz": npz({"x": npy(X), "y": npy(Y[:3])})}
    code, err = diagnose(tmp_path, monkeypatch, raw, **NPZ)
    refused(code, err, "spec.yaml:4:9: data.path: d.npz: the inputs have 8 samples")


def test_csv_target_out_of_range_and_name_without_header_are_at_data_target(tmp_path, monkeypatch):
    csv = b"0.1,0.2,1\n0.3,0.4,0\n"
    data = {"source": "csv", "path": "t.csv", "target": -99}
    code, err = diagnose(tmp_path, monkeypatch, {"t.csv": csv}, **data)
    refused(code, err, "spec.yaml:5:11: data.target: target column -99 is out of range: t.csv")
    data["target"] = "label"
    code, err = diagnose(tmp_path, monkeypatch, {"t.csv": csv}, **data)
    refused(code, err, "spec.yaml:5:11: data.target: t.csv has no header row")


def test_csv_cells_stay_at_the_csv_line_and_the_rest_are_counted_from_a_line(tmp_path, monkeypatch):
    rows = ["x1,x2,label"] + [f"0.{i},bad,1" for i in range(1, 15)]
    data = {"source": "csv", "path": "t.csv"}
    code, err = diagnose(tmp_path, monkeypatch, {"t.csv": "\n".join(rows).encode()}, **data)
    refused(code, err, "t.csv:2:5: data.path: line 2, column 'x2': expected a number")
    assert "t.csv:12: data.path: and 4 more cells or rows like these in t.csv, from line 12" in err


def test_csv_fields_past_csvs_limit_control_characters_and_odd_targets(tmp_path, monkeypatch):
    data = {"source": "csv", "path": "t.csv"}
    long_quote = b'a,b,label\n"' + b"x" * 200_000 + b",1,0\n1,2,0\n"
    code, err = diagnose(tmp_path, monkeypatch, {"t.csv": long_quote}, **data)
    refused(code, err, "t.csv:2: data.path: line 2, column 'a': expected a number")
    assert len(err) < 2000
    code, err = diagnose(tmp_path, monkeypatch, {"t.csv": b"a,b,label\n1,\x002,0\n"}, **data)
    refused(code, err, "t.csv:2:3: data.path: line 2, column 'b': expected a number, found")
    assert "'\\x002'" in err
    wide = ",".join(f"c{i}" for i in range(3000)) + "\n" + ",".join(["1"] * 3000) + "\n"
    for target in ["'--5'", "'²'", "'" + "9" * 5000 + "'", "nope"]:
        data["target"] = target
        code, err = diagnose(tmp_path, monkeypatch, {"t.csv": wide.encode()}, **data)
        refused(code, err, "t.csv:1: data.target: no column")
        assert "(3000 in all)" in err and len(err) < 3000


def test_non_regular_files_are_refused_at_their_key(tmp_path, monkeypatch):
    os.symlink("/dev/zero", tmp_path / "x.npy")
    code, err = diagnose(tmp_path, monkeypatch, {"y.npy": npy(Y)}, **NPY)
    refused(code, err, "spec.yaml:4:6: data.x: ")
    assert "not a regular file" in err


# --- 2. object arrays, damaged archives and streams, lying headers --------------------------


def test_object_arrays_are_refused_without_unpickling(tmp_path, monkeypatch):
    objects = np.empty(8, dtype=object)
    objects[:] = [[1, 2]] * 8
    raw = {"d.npz": npz({"x": npy(objects, allow_pickle=True), "y": npy(Y)})}
    code, err = diagnose(tmp_path, monkeypatch, raw, **NPZ)
    refused(code, err, "spec.yaml:4:9: data.path: array 'x' of d.npz holds Python objects")
    raw = {"x.npy": npy(objects, allow_pickle=True), "y.npy": npy(Y)}
    code, err = diagnose(tmp_path, monkeypatch, raw, **NPY)
    refused(code, err, "spec.yaml:4:6: data.x: x.npy holds Python objects")


def test_a_damaged_deflate_stream_in_an_npz(tmp_path, monkeypatch):
    whole = npz({"x": npy(np.arange(4000.0).reshape(2000, 2)), "y": npy(Y)}, zipfile.ZIP_DEFLATED)
    start = whole.index(b"x.npy") + 40  # inside x's compressed data
    broken = whole[:start] + bytes(range(256)) * 2 + whole[start + 512 :]
    code, err = diagnose(tmp_path, monkeypatch, {"d.npz": broken}, **NPZ)
    refused(code, err, "spec.yaml:4:9: data.path: ")
    assert "d.npz" in err


@pytest.mark.parametrize(
    "raw, says",
    [
        (npz({"x": npy(X), "y": npy(Y)})[:60], "could not read d.npz as an .npz archive"),
        (b"PK\x03\x04" + b"\0" * 30, "could not read d.npz as an .npz archive"),
        (gzip.compress(npz({"x": npy(X), "y": npy(Y)}))[:-20], "does not decompress"),
        (npz({"x": b"not an npy", "y": npy(Y)}), "array 'x' of d.npz is not a .npy array"),
    ],
)
def test_damaged_npz_archives(tmp_path, monkeypatch, raw, says):
    code, err = diagnose(tmp_path, monkeypatch, {"d.npz": raw}, **NPZ)
    refused(code, err, "spec.yaml:4:9: data.path: ")
    assert says in err


@pytest.mark.parametrize(
    "raw, says",
    [
        (npy_header("<f8", "(8, 2)", b"\0" * 128, fortran="'yes'"), "fortran_order is 'yes'"),
        (npy_header("<f8", "(2**40,)"), "written as plain Python literals"),
        (npy_header("<f8", "(8, -2)"), "has a negative size"),
        (npy_header("<f8", "(1.5, 2)"), "not a tuple of whole numbers"),
        (npy_header("<f8", "'abc'"), "not a tuple of whole numbers"),
        (npy_header("bogus", "(8, 2)"), "'bogus' is not a NumPy dtype"),
        (npy_header("<f8", "(9" + "9" * 4300 + ",)"), "damaged .npy header"),
        (npy_header("<f8", "(8, 2)", b"\0" * 100), "but only 100 bytes follow the header"),
        (npy(X)[:30], "cut short inside its .npy header"),
        (b"\x93NUMPY\x03\x07" + npy(X)[8:], "format version 3.7"),
        (b"\x93NUMPY\x01\x00\xff\xff" + b" " * 70000, "its .npy header claims 65535 bytes"),
    ],
)
def test_npy_headers_that_lie(tmp_path, monkeypatch, raw, says):
    code, err = diagnose(tmp_path, monkeypatch, {"x.npy": npy(X), "y.npy": raw}, **NPY)
    refused(code, err, "spec.yaml:5:6: data.y: y.npy")
    assert says in err


def test_npy_reads_what_numpy_writes():
    for array in [
        np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        np.arange(6, dtype=">i4").reshape(2, 3),
        np.zeros((0, 3)),
        np.array(2.5),
        np.array([True, False]),
    ]:
        read = files._npy(npy(array), "a.npy")
        assert read.shape == array.shape and read.dtype == array.dtype
        np.testing.assert_array_equal(read, array)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.arange(5.0), version=(2, 0))
    np.testing.assert_array_equal(files._npy(buffer.getvalue(), "v2.npy"), np.arange(5.0))


def test_zero_samples_are_refused_before_training(tmp_path, monkeypatch):
    raw = {"x.npy": npy(np.ones((0, 2))), "y.npy": npy(np.ones(0))}
    code, err = diagnose(tmp_path, monkeypatch, raw, **NPY)
    refused(code, err, "spec.yaml:4:6: data.x: ")
    assert "at least one sample" in err


def test_running_out_of_memory_while_reading_is_located(tmp_path, monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(files, "_npy", exhausted)
    code, err = diagnose(tmp_path, monkeypatch, {"x.npy": npy(X), "y.npy": npy(Y)}, **NPY)
    refused(code, err, "spec.yaml:4:6: data.x: ")
    assert "does not fit in memory" in err


# --- 3. sizes checked before anything is allocated ----------------------------------------


def test_a_header_claiming_tebibytes_is_refused_without_allocating(tmp_path):
    """745 GiB claimed by a file of a few hundred bytes, under a 1 GiB address-space limit."""
    (tmp_path / "spec.yaml").write_text(spec_text(**NPY))
    (tmp_path / "x.npy").write_bytes(npy_header("<f8", "(100000000, 1000)", b"\0" * 64))
    (tmp_path / "y.npy").write_bytes(npy(Y))

    def limit():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "nnfix", "diagnose", "spec.yaml", "--quick"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=limit,
        timeout=120,
    )
    refused(proc.returncode, proc.stderr, "spec.yaml:4:6: data.x: x.npy: its header says shape")
    assert "745 GiB" in proc.stderr


def test_a_file_larger_than_the_budget_is_not_read(tmp_path, monkeypatch):
    big = tmp_path / "x.npy"
    with big.open("wb") as f:  # sparse: 1 TiB on paper, nothing on disk
        f.write(npy_header("<f8", "(137438953472,)"))
        f.truncate(1 << 40)
    code, err = diagnose(tmp_path, monkeypatch, {"y.npy": npy(Y)}, **NPY)
    refused(code, err, "spec.yaml:4:6: data.x: x.npy is 1 TiB, more than the ")


@pytest.fixture
def small_budget(monkeypatch):
    """Data may take 4 KiB."""
    monkeypatch.setattr(limits, "budget", lambda: 4096)


def test_an_array_over_the_budget_says_its_size(tmp_path, monkeypatch, small_budget):
    raw = {"x.npy": npy(np.ones((400, 2), dtype=np.uint8)), "y.npy": npy(Y)}
    code, err = diagnose(tmp_path, monkeypatch, raw, **NPY)
    refused(code, err, "spec.yaml:4:6: data.x: x.npy holds shape (400, 2) of uint8: as float64")
    assert "6.25 KiB, more than the 4 KiB of data nnfix holds here" in err


def test_an_npz_member_over_the_budget(tmp_path, monkeypatch, small_budget):
    raw = {"d.npz": npz({"x": npy(np.ones((400, 2))), "y": npy(Y)}, zipfile.ZIP_DEFLATED)}
    code, err = diagnose(tmp_path, monkeypatch, raw, **NPZ)
    refused(code, err, "spec.yaml:4:9: data.path: array 'x' of d.npz unzips to 6.38 KiB")


def test_idx_dimensions_are_checked_against_the_bytes_and_the_budget(
    tmp_path, monkeypatch, small_budget
):
    huge = bytes([0, 0, 8, 3]) + struct.pack(">3I", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    y = bytes([0, 0, 8, 1]) + struct.pack(">I", 8) + bytes([0, 1] * 4)
    data = {"source": "idx", "x": "x.idx", "y": "y.idx"}
    code, err = diagnose(tmp_path, monkeypatch, {"x.idx": huge + b"\0" * 64, "y.idx": y}, **data)
    refused(code, err, "spec.yaml:4:6: data.x: x.idx: its header says shape")
    x = bytes([0, 0, 8, 2]) + struct.pack(">2I", 8, 100) + b"\0" * 800
    code, err = diagnose(tmp_path, monkeypatch, {"x.idx": x, "y.idx": y}, **data)
    refused(code, err, "spec.yaml:4:6: data.x: x.idx holds shape (8, 100) of uint8")


def test_csv_size_and_gzip_bombs_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "budget", lambda: 64 << 10)  # a csv of up to 4 KiB
    data = {"source": "csv", "path": "t.csv"}
    code, err = diagnose(tmp_path, monkeypatch, {"t.csv": b"0.5,1\n" * 1000}, **data)
    refused(code, err, "spec.yaml:4:9: data.path: t.csv is 5.86 KiB; reading it takes about")
    bomb = gzip.compress(b"0,0\n" * 100_000)
    code, err = diagnose(tmp_path, monkeypatch, {"t.csv": bomb}, **data)
    refused(code, err, "spec.yaml:4:9: data.path: t.csv decompresses to more than 4 KiB")


@pytest.mark.parametrize(
    "data, key",
    [
        ({"source": "moons", "samples": 10**12}, "samples"),
        ({"source": "blobs", "samples": 10, "features": 10**11}, "features"),
        ({"source": "blobs", "samples": 10, "classes": 10**10}, "classes"),
        ({"source": "linear", "samples": 2**40}, "samples"),
        ({"source": "moons", "noise": ".inf"}, "noise"),
        ({"source": "images", "shape": "[3, 100000, 100000]"}, "shape"),
        ({"source": "images", "samples": 10**9, "shape": "[1, 28, 28]"}, "samples"),
        ({"source": "images", "samples": 10, "classes": 10**9}, "classes"),
        ({"source": "sequences", "vocab": 10**6}, "vocab"),
        ({"source": "sequences", "samples": 10, "length": 10**12}, "length"),
        ({"source": "sequences", "noise": 1.5}, "noise"),
        ({"source": "text", "samples": 10**6}, "samples"),
        ({"source": "text", "length": 10**6}, "length"),
    ],
)
def test_generated_sources_that_cannot_be_generated(tmp_path, monkeypatch, data, key):
    code, err = diagnose(tmp_path, monkeypatch, {}, **data)
    refused(code, err, f"spec.yaml:{line_of(key, **data)}:")
    assert f"data.{key}: " in err


@pytest.mark.parametrize("value", ["-1", ".nan", "-.inf"])
def test_negative_and_nan_generator_values_are_spec_errors(tmp_path, monkeypatch, value):
    data = {"source": "spirals", "noise": value}
    code, err = diagnose(tmp_path, monkeypatch, {}, **data)
    refused(code, err, "spec.yaml:4:10: data.noise")


def test_memory_error_while_generating_is_located(tmp_path, monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setitem(generated.GENERATORS, "moons", exhausted)
    code, err = diagnose(tmp_path, monkeypatch, {}, source="moons", samples=100)
    refused(code, err, "spec.yaml:4:12: data.samples: the data does not fit in memory")


# --- 4. non-finite data is a finding, not a refusal ----------------------------------------


@pytest.mark.parametrize("quick", [True, False])
def test_all_nan_inputs_are_a_d101_finding(tmp_path, monkeypatch, quick):
    raw = {"x.npy": npy(np.full((8, 2), np.nan)), "y.npy": npy(Y)}
    extra = ("--budget", "1") if not quick else ()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(spec_text(**NPY))
    for name, content in raw.items():
        (tmp_path / name).write_bytes(content)
    args = ["diagnose", "spec.yaml", *(["--quick"] if quick else []), *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.stderr
    assert "D101" in result.stdout and "internal error" not in result.stderr


def test_generated_data_loads_under_the_budget():
    d = load_dataset(
        DataSpec(source="blobs", samples=50), base_dir=Path("."), rng=np.random.default_rng(0)
    )
    assert d.x_train.shape == (50, 2)


def test_targets_too_wide_for_memory_are_refused_at_the_output_units(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "budget", lambda: 1 << 20)  # 1 MiB of data
    monkeypatch.chdir(tmp_path)
    text = spec_text(source="moons", samples=100).replace("units: 1,", "units: 2000,")
    (tmp_path / "spec.yaml").write_text(text.replace("sigmoid", "softmax").replace("bce", "cce"))
    result = CliRunner().invoke(main, ["diagnose", "spec.yaml", "--quick"])
    refused(result.exit_code, result.stderr, "spec.yaml:8:15: model.layers[1].units: targets")
    assert "100 samples × 2000 output units of float64 are 1.53 MiB" in result.stderr


def test_a_single_sample_on_a_relu_kink_is_gradient_checked(tmp_path, monkeypatch):
    """One spirals sample is the origin, where every ReLU sits on its kink: the gradient check
    keeps it rather than checking zero samples (a division by zero in the loss)."""
    monkeypatch.chdir(tmp_path)
    text = spec_text(source="spirals", samples=1, classes=3).replace("tanh", "relu")
    text = text.replace("units: 1, activation: sigmoid", "units: 3, activation: softmax")
    (tmp_path / "spec.yaml").write_text(text.replace("loss: bce", "loss: cce"))
    result = CliRunner().invoke(main, ["diagnose", "spec.yaml", "--quick"])
    assert result.exit_code in (0, 1), result.stderr
    assert "internal error" not in result.stderr


def test_symlink_loops_and_odd_names_are_refused_at_their_key(tmp_path, monkeypatch):
    os.symlink("x.npy", tmp_path / "x.npy")  # a link to itself
    code, err = diagnose(tmp_path, monkeypatch, {"y.npy": npy(Y)}, **NPY)
    refused(code, err, "spec.yaml:4:6: data.x: ")
    data = {**NPY, "x": '"a\\0b.npy"'}  # a NUL in the name
    code, err = diagnose(tmp_path, monkeypatch, {}, **data)
    refused(code, err, "spec.yaml:4:7: data.x: cannot follow the path")
