"""The seed corpus: the bundled configs and examples, plus one healthy spec per data-file
format and one that names the user's own derivatives as `file.py:function`."""

from __future__ import annotations

import io
import struct
from functools import cache
from pathlib import Path

import numpy as np

from tests.fuzz.case import Case

REPO = Path(__file__).resolve().parents[2]

SMALL_NET = """model:
  layers:
    - {units: 8, activation: tanh}
    - {units: UNITS, activation: OUT}
loss: LOSS
train: {lr: 0.1, epochs: 20, batch_size: 32}
"""

DERIVATIVES_PY = '''"""The user's own derivatives, named in the spec as file.py:function."""

import numpy as np


def my_tanh(z):
    return np.tanh(z)


def dtanh(a):
    return 1 - a**2


def dsigmoid(a):
    return a * (1 - a)


def dbce(a, y):
    return -(y / a - (1 - y) / (1 - a))
'''

DERIVATIVES_SPEC = """name: refs
seed: 0
data: {source: moons, samples: 200, noise: 0.1}
model:
  layers:
    - units: 8
      activation: {name: deriv.py:my_tanh, derivative: deriv.py:dtanh, derivative_of: a}
    - units: 1
      activation: {name: sigmoid, derivative: deriv.py:dsigmoid, derivative_of: a}
loss: {name: bce, gradient: deriv.py:dbce}
train: {lr: 0.1, epochs: 20, batch_size: 32}
"""


def _net(units: int, out: str, loss: str) -> str:
    return SMALL_NET.replace("UNITS", str(units)).replace("OUT", out).replace("LOSS", loss)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (MNIST's format) of a uint8 array."""
    head = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return head + array.astype(np.uint8).tobytes()


def _data_seeds() -> list[Case]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3)).round(4)
    label = (x[:, 0] + x[:, 1] > 0).astype(int)
    rows = "\n".join(f"{a},{b},{c},{y}" for (a, b, c), y in zip(x, label, strict=True))
    csv = f"x1,x2,x3,label\n{rows}\n".encode()
    spec = "name: csv\nseed: 0\ndata: {source: csv, path: data/train.csv, target: label}\n"
    seeds = [Case((spec + _net(1, "sigmoid", "bce")).encode(), {"data/train.csv": csv})]
    spec = "name: npy\nseed: 0\ndata: {source: npy, x: data/x.npy, y: data/y.npy}\n"
    files = {"data/x.npy": _npy(x), "data/y.npy": _npy(label.astype(np.int64))}
    seeds.append(Case((spec + _net(1, "sigmoid", "bce")).encode(), files))
    images = rng.integers(0, 256, size=(90, 4, 4))
    classes = images.reshape(90, -1).argmax(axis=1) % 3
    spec = "name: idx\nseed: 0\ndata: {source: idx, x: data/x.idx, y: data/y.idx, scale: minmax}\n"
    files = {"data/x.idx": idx_bytes(images), "data/y.idx": idx_bytes(classes)}
    seeds.append(Case((spec + _net(3, "softmax", "cce")).encode(), files))
    for case, name in zip(seeds, ("csv", "npy", "idx"), strict=True):
        case.origin = f"data:{name}"
    return seeds


@cache
def corpus() -> tuple[Case, ...]:
    """Every seed, in a fixed order."""
    bars = (REPO / "configs/data/bars.npz").read_bytes()
    seeds = []
    for path in sorted((REPO / "configs").glob("*.yaml")):
        files = {"data/bars.npz": bars} if "bars.npz" in path.read_text() else {}
        seeds.append(Case(path.read_bytes(), files, origin=f"configs/{path.name}"))
    seeds += implementations()
    seeds += _data_seeds()
    seeds.append(Case(DERIVATIVES_SPEC.encode(), {"deriv.py": DERIVATIVES_PY.encode()}))
    seeds[-1].origin = "refs"
    from tests.fuzz.mutators import shapes  # (the mutators import the corpus)

    seeds += shapes.seeds()  # the code as the network: a step, a script, lists of floats
    return tuple(seeds)


@cache
def implementations() -> tuple[Case, ...]:
    """The examples/ specs with their modules: the user's own forward and backward."""
    seeds = []
    for folder in sorted(p for p in (REPO / "examples").iterdir() if p.is_dir()):
        files = {p.name: p.read_bytes() for p in folder.glob("*.py")}
        spec = (folder / "spec.yaml").read_bytes()
        seeds.append(Case(spec, files, origin=f"examples/{folder.name}"))
    return tuple(seeds)


def by_origin(origin: str) -> Case:
    return next(c for c in corpus() if c.origin == origin)
