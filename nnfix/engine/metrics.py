"""Accuracy, decided by what the targets look like rather than by the loss's name."""

from __future__ import annotations

import numpy as np


def target_kind(y: np.ndarray) -> str | None:
    """'onehot', 'binary' (0/1 or ±1 in one column), 'multilabel', or None (regression)."""
    if y.ndim != 2 or y.shape[0] == 0 or not np.all(np.isfinite(y)):
        return None
    values = np.unique(y)
    if y.shape[1] == 1:
        if set(values.tolist()) <= {0.0, 1.0} or set(values.tolist()) <= {-1.0, 1.0}:
            return "binary"
        return None
    if not set(values.tolist()) <= {0.0, 1.0}:
        return None
    return "onehot" if np.all(y.sum(axis=1) == 1) else "multilabel"


def accuracy(a: np.ndarray, y: np.ndarray, kind: str | None) -> float | None:
    """The fraction of samples predicted right (of labels, for multi-label targets)."""
    if kind is None or len(y) == 0:
        return None
    if kind == "onehot":
        return float(np.mean(a.argmax(axis=1) == y.argmax(axis=1)))
    if kind == "binary":
        threshold = 0.0 if y.min() < 0 else 0.5
        predicted = np.where(a > threshold, 1.0, 0.0 if threshold == 0.5 else -1.0)
        return float(np.mean(predicted == y))
    return float(np.mean((a > 0.5) == (y > 0.5)))
