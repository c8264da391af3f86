"""Layouts: how the user's arrays are laid out against nnfix's rows layout — samples as
columns or rows, weights (n_out, n_in) or (n_in, n_out), biases (n, 1), (1, n) or (n,)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnfix.engine.network import Slot

Array = np.ndarray
BIAS_FORMS = ("column", "row", "vector")


@dataclass(frozen=True)
class Layout:
    columns: bool  # X is (features, samples) and W is (n_out, n_in), as deeplearning.ai
    bias: str  # "column" (n, 1) | "row" (1, n) | "vector" (n,)

    @property
    def name(self) -> str:
        return "columns" if self.columns else "rows"

    def describe(self, biases: bool = True) -> str:
        shape = {"column": "(n, 1)", "row": "(1, n)", "vector": "(n,)"}[self.bias]
        data = "X (features, samples)" if self.columns else "X (samples, features)"
        weights = "W (n_out, n_in)" if self.columns else "W (n_in, n_out)"
        return f"{self.name}: {data}, {weights}" + (f", b {shape}" if biases else ", no biases")

    def shape(self, slot: Slot, rows_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape the user's array for `slot` has, given nnfix's (rows) shape."""
        if slot.role == "weight":
            return rows_shape[::-1] if self.columns else rows_shape
        n = rows_shape[-1]
        return {"column": (n, 1), "row": (1, n), "vector": (n,)}[self.bias]

    def to_user(self, slot: Slot, value: Array) -> Array:
        """nnfix's value of `slot` (rows layout) as the user's code holds it."""
        if slot.role == "weight":
            return value.T if self.columns else value
        flat = value.reshape(-1)
        return {"column": flat[:, None], "row": flat[None, :], "vector": flat}[self.bias]

    def to_rows(self, slot: Slot, value: Array) -> Array:
        """The user's array for `slot` in nnfix's rows layout (a view where it can be)."""
        if slot.role == "weight":
            return value.T if self.columns else value
        return value.reshape(1, -1)

    def samples(self, a: Array) -> Array:
        """Inputs, targets or outputs (rows layout) as the user's code takes them."""
        return np.ascontiguousarray(a.T) if self.columns else a

    def sample(self, a: Array, i: int, form: str) -> Array:
        """Sample i of `a` (rows layout) alone: a column (n, 1), a row (1, n) or a vector (n,)."""
        row = a[i]
        return {"column": row[:, None], "row": row[None, :], "vector": row}[form].copy()

    def outputs(self, out: Array, m: int, k: int) -> Array | None:
        """The user's output as nnfix's (m, k), or None when its shape is neither layout's."""
        out = np.asarray(out)
        if out.shape == (m, k) and not self.columns:
            return out
        if out.shape == (k, m) and self.columns:
            return out.T
        if out.ndim == 1 and out.shape == (m,) and k == 1:
            return out[:, None]
        if out.ndim == 1 and m == 1 and out.shape == (k,):  # one sample, as a vector
            return out[None, :]
        if out.shape == (m, k):
            return out
        if out.shape == (k, m):
            return out.T
        return None


def candidates(columns: bool | None = None) -> list[Layout]:
    """Layouts to try, most common first."""
    out = []
    for cols in (True, False) if columns is None else (columns,):
        for bias in ("column", "vector") if cols else ("row", "vector"):
            out.append(Layout(cols, bias))
    return out
