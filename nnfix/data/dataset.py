"""The data a spec describes, loaded, limited, split for validation and scaled; target encoding."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nnfix.data.files import Sources, read_files
from nnfix.data.generated import generate
from nnfix.errors import DataError, InputError, Problem, SpecPath
from nnfix.spec.model import GENERATED_SOURCES, TOKEN_SOURCES
from nnfix.spec.source import Source

if TYPE_CHECKING:
    from nnfix.spec.model import DataSpec


@dataclass
class Dataset:
    """Inputs (m, n_features) in the training dtype — images and other arrays of higher rank
    flattened, their own shape kept in `shape` — or token ids (m, length) as int64; raw
    targets: (m,) labels, (m, k) floats, (m, length) token ids (a target per step), or an
    array of any rank as read (a one-hot sequence (m, T, V, 1), a conv's target map)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray  # 0 rows when validation is 0
    y_val: np.ndarray
    description: str  # "moons, 512 samples, 2 features"
    train_rows: np.ndarray  # each training sample's index in the data as read (0-based)
    val_rows: np.ndarray  # ... each validation sample's
    file: str | None = None  # the file a sample's number refers to (None: generated data)
    lines: np.ndarray | None = None  # a csv: the file line (from 1) of each sample as read
    shape: tuple[int, ...] = ()  # one sample's inputs as read or generated: (1, 12, 12), (10,)
    tokens: int | None = None  # inputs (and targets) are token ids 0 to tokens - 1
    alphabet: str | None = None  # text: character id i is alphabet[i]

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def flattened(self) -> bool:
        """The inputs were read (or generated) with a rank above (samples, features)."""
        return len(self.shape) > 1

    def shaped(self, x: np.ndarray) -> np.ndarray:
        """Inputs of this data set (any rows of x_train or x_val) in their own shape, as read:
        images (m, C, H, W) back from (m, C·H·W). A view: nothing is copied."""
        return x.reshape(len(x), *self.shape)


def _error(message: str, where: tuple[SpecPath, Path | None], source: Source | None) -> DataError:
    """A problem with the array read from `where`'s file (named in the message), or generated."""
    key, file = where
    if file is not None and file.name not in message:
        message = f"{file.name}: {message}"
    return DataError([Problem(message, path=key, file=file)], source)


def _numbers(
    a: np.ndarray, what: str, where: tuple[SpecPath, Path | None], source: Source | None
) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return a.astype(np.int64)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise _error(f"expected numbers for the {what}, found an array of {a.dtype}", where, source)
    return a


def _labels(y: np.ndarray) -> np.ndarray:
    """(m,) or (m, 1) whole-number targets as int64 labels (m,); anything else unchanged."""
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        return y
    flat = y.reshape(-1)
    if np.issubdtype(flat.dtype, np.integer):
        return flat.astype(np.int64)
    whole = np.all(np.isfinite(flat)) and np.all(flat == np.round(flat))
    if whole and np.all(np.abs(flat) < 2**53):
        return flat.astype(np.int64)
    return y


def _shaped(
    x: np.ndarray, y: np.ndarray, sources: Sources, source: Source | None
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Inputs as (m, features), targets as labels or (m, k), and one sample's shape as read;
    or a data error saying why not."""
    problems: list[Problem] = []
    shape: tuple[int, ...] = ()
    try:
        x = _numbers(x, "inputs", sources["x"], source)
        if x.ndim == 0:
            raise _error(
                "expected inputs of shape (samples, features), found a single number",
                sources["x"],
                source,
            )
        shape = tuple(int(n) for n in x.shape[1:])
        width = int(np.prod(shape))  # (m,) -> (m, 1); images (m, h, w) -> (m, h·w)
        x = x.reshape(len(x), width)
        if x.shape[1] == 0 or len(x) == 0:
            raise _error(
                f"expected at least one sample and one feature, found inputs of shape {x.shape}",
                sources["x"],
                source,
            )
    except InputError as e:
        problems += e.problems
    try:
        y = _numbers(y, "targets", sources["y"], source)
        if y.ndim == 0:  # targets of any rank (SPEC §3.1): a per-step target, an image's
            raise _error(  #   own target map; only a single number has no samples
                "expected targets of shape (samples, …), found a single number",
                sources["y"],
                source,
            )
    except InputError as e:
        problems += e.problems
    if not problems and len(x) != len(y):
        x_file, y_file = sources["x"][1], sources["y"][1]
        x_in = f" ({x_file.name})" if x_file is not None and x_file != y_file else ""
        y_in = f" ({y_file.name})" if y_file is not None and x_file != y_file else ""
        message = (
            f"the inputs{x_in} have {len(x)} samples, shape {x.shape}, but the targets{y_in} "
            f"have {len(y)}, shape {y.shape}: expected one target per sample"
        )
        problems.append(_error(message, sources["y"], source).problems[0])
    if problems:
        raise DataError(problems, source)
    return x, _labels(y), shape


def _scale(train: np.ndarray, val: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Standardise or min-max each feature, fitted on the finite training values only."""
    fit = np.where(np.isfinite(train), train, np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        if how == "standard":
            centre, spread = np.nanmean(fit, axis=0), np.nanstd(fit, axis=0)
        else:
            centre = np.nanmin(fit, axis=0)
            spread = np.nanmax(fit, axis=0) - centre
    centre = np.where(np.isnan(centre), 0.0, centre)
    spread = np.where(spread > 0, spread, 1.0)  # a constant (or empty) feature becomes 0, not NaN
    with np.errstate(all="ignore"):
        return (train - centre) / spread, (val - centre) / spread


def _split(m: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices (each in order): a random `fraction` held out, at least 1."""
    held = min(max(round(fraction * m), 1), m - 1) if fraction > 0 and m >= 2 else 0
    order = rng.permutation(m) if held else np.arange(m)
    return np.sort(order[held:]), np.sort(order[:held])


def load_dataset(
    data: DataSpec,
    *,
    base_dir: Path,
    rng: np.random.Generator,
    dtype: str = "float32",
    source: Source | None = None,
) -> Dataset:
    """Generate or read the data, keep the first `limit`, hold out `validation`, then `scale`."""
    generated = data.source in GENERATED_SOURCES
    try:
        return _load(data, Path(base_dir), rng, dtype, source)
    except MemoryError:
        key = "samples" if generated else "path" if data.path else "x"
        message = (
            f"the data does not fit in memory: nnfix ran out while "
            f"{'generating' if generated else 'reading'} it"
        )
        raise DataError([Problem(message, path=("data", key))], source) from None


def _load(
    data: DataSpec, base_dir: Path, rng: np.random.Generator, dtype: str, source: Source | None
) -> Dataset:
    alphabet = None
    if data.source in GENERATED_SOURCES:
        drawn = generate(data, rng)
        x, y, alphabet = drawn.x, drawn.y, drawn.alphabet
        name = str(data.source)
        sources: Sources = {"x": (("data", "source"), None), "y": (("data", "source"), None)}
        lines, file = None, None
    else:
        x, y, name, sources, lines = read_files(data, base_dir, source)
        file = name
    x, y, shape = _shaped(x, y, sources, source)
    tokens = None
    if data.source in TOKEN_SOURCES:
        tokens = len(alphabet) if alphabet is not None else data.tokens
    total = len(x)
    if data.limit is not None:
        x, y = x[: data.limit], y[: data.limit]
        lines = lines[: data.limit] if lines is not None else None
    train, val = _split(len(x), data.validation, rng)
    x_train, x_val = x[train], x[val]
    if data.scale != "none":
        x_train, x_val = _scale(x_train.astype(np.float64), x_val.astype(np.float64), data.scale)
    count = f"first {len(x)} of {total}" if len(x) < total else f"{total}"
    description = f"{name}, {_described(data, count, shape, tokens)}"
    if len(val):
        description += f", {len(val)} held out for validation"
    if tokens is None:  # token ids stay whole numbers
        with np.errstate(all="ignore"):  # float32 overflow becomes inf, reported by D101
            x_train, x_val = x_train.astype(dtype, copy=False), x_val.astype(dtype, copy=False)
    return Dataset(
        x_train,
        y[train],
        x_val,
        y[val],
        description,
        train,
        val,
        file,
        lines,
        shape=shape,
        tokens=tokens,
        alphabet=alphabet,
    )


def _described(data: DataSpec, count: str, shape: tuple[int, ...], tokens: int | None) -> str:
    """'512 samples, 2 features', '512 samples of shape (1, 12, 12), flattened to 144
    features', '512 sequences of 10 tokens (vocabulary 20), target: the next token'."""
    if tokens is not None:
        length = shape[0]
        what = "characters" if data.source == "text" else "tokens"
        unit = "windows" if data.source == "text" else "sequences"
        one = "character" if data.source == "text" else "token"
        target = {
            "next": f"the next {one}",
            "shifted": f"the next {one} at each step (the sequence shifted by one)",
            "label": f"one of {data.classes} classes",
        }[data.target_mode]
        return f"{count} {unit} of {length} {what} (vocabulary {tokens}), target: {target}"
    unit = "rows" if data.source == "csv" else "samples"
    features = math.prod(shape)
    width = f"{features} feature{'s' * (features != 1)}"
    if len(shape) > 1:
        return f"{count} {unit} of shape {tuple(shape)}, flattened to {width}"
    return f"{count} {unit}, {width}"


def encode_targets(
    y: np.ndarray, units: int, *, path: SpecPath = ("data",), source: Source | None = None
) -> np.ndarray:
    """Targets as (m, units) floats: labels one-hot when units > 1, others checked for width."""
    y = np.asarray(y)
    m = len(y)
    if y.ndim > 2:  # targets of rank 3 and up are read only where the code is the network
        message = (
            f"the targets have shape {y.shape} but the output layer has {units} units: "
            "expected targets of shape (samples,) or (samples, outputs)"
        )
        raise DataError([Problem(message, path=path)], source)
    floaty = y if np.issubdtype(y.dtype, np.floating) else y.astype(np.float64)
    if y.ndim == 2 and y.shape[1] != 1:
        if y.shape[1] == units:
            return floaty
        message = (
            f"the targets have {y.shape[1]} columns but the output layer has {units} units: "
            "expected them to match"
        )
        raise DataError([Problem(message, path=path)], source)
    if units == 1:
        return floaty.reshape(m, 1)
    flat = floaty.reshape(m)
    finite = np.isfinite(flat)
    labels = flat[finite]
    if np.any(labels != np.round(labels)):
        message = (
            f"the targets are continuous values but the output layer has {units} units: "
            f"expected class labels 0–{units - 1} or targets with {units} columns"
        )
        raise DataError([Problem(message, path=path)], source)
    if len(labels) and (labels.min() < 0 or labels.max() >= units):
        lo, hi = int(labels.min()), int(labels.max())
        hint = "the labels look 1-based: subtract 1" if (lo, hi) == (1, units) else None
        message = (
            f"labels run {lo}–{hi} but the output layer has {units} units: "
            f"expected labels 0–{units - 1}"
        )
        raise DataError([Problem(message, path=path, hint=hint)], source)
    out = np.zeros((m, units))
    out[np.flatnonzero(finite), labels.astype(np.int64)] = 1.0
    out[~finite] = np.nan  # a NaN label stays visible to the non-finite data check
    return out
