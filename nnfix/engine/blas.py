"""y += alpha·x in one multithreaded pass, through the BLAS that NumPy itself links.

NumPy has no axpy: `p -= lr * g` makes a temporary and walks memory five times, which on
the first layer of an MLP costs as much as a matmul. NumPy's wheels ship OpenBLAS with its
CBLAS symbols; where they cannot be found (another BLAS, another build), the NumPy
expression is used and only speed differs."""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np


def _load():
    folder = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_cblas_", "cblas_"):
            if hasattr(lib, f"{prefix}saxpy64_") and hasattr(lib, f"{prefix}daxpy64_"):
                found = {}
                for kind, ctype in (("s", ctypes.c_float), ("d", ctypes.c_double)):
                    fn = getattr(lib, f"{prefix}{kind}axpy64_")
                    fn.restype = None
                    fn.argtypes = [
                        ctypes.c_int64,
                        ctype,
                        ctypes.c_void_p,
                        ctypes.c_int64,
                        ctypes.c_void_p,
                        ctypes.c_int64,
                    ]
                    found[np.dtype(np.float32 if kind == "s" else np.float64)] = fn
                return found
    return {}


_AXPY = _load()


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """y += alpha * x, in place (x and y of one shape and dtype)."""
    fn = _AXPY.get(y.dtype)
    if (
        fn is not None
        and x.dtype == y.dtype
        and x.flags.c_contiguous
        and y.flags.c_contiguous
        and x.size == y.size
    ):
        fn(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)
    else:
        y += alpha * x
