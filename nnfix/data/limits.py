"""How much data nnfix agrees to hold, so data that would not fit is refused before allocation.

SPEC §7: a spec whose data would not fit in memory is a located exit-2 error before anything
is allocated. Every reader compares what a file claims (a .npy header's shape, an IDX header's
dimensions, a csv's size, a generated source's samples × features) with `budget()` first."""

from __future__ import annotations

import contextlib
import math
import os

MEMORY_SHARE = 4  # the data may take a quarter of the memory nnfix may use: it is copied a few
#   times on the way in (read, split, scaled, converted to the training dtype)
MAX_DATA_BYTES = 16 << 30  # and never more than 16 GiB, however large the machine
FLOAT_BYTES = 8  # every number ends up a float64 at some point (scaling, the gradient check)
CSV_BYTES_PER_BYTE = 16  # a csv's text, its lines and its parsed rows take ~16 bytes a byte


def memory() -> int | None:
    """Bytes nnfix may use: physical memory, or less when an address-space limit is set."""
    limits = []
    with contextlib.suppress(AttributeError, ValueError, OSError):
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    with contextlib.suppress(ImportError, AttributeError, ValueError, OSError):
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft > 0:
            limits.append(soft)
    return min(limits) if limits else None


def budget() -> int:
    """Bytes one array of data (inputs or targets, as float64) may take."""
    usable = memory()
    return MAX_DATA_BYTES if usable is None else min(MAX_DATA_BYTES, usable // MEMORY_SHARE)


def size(nbytes: int) -> str:
    """2.5 GiB, 745 GiB, 12 MiB, 300 bytes (about 2^4000 bytes for what a lying header claims)."""
    if nbytes >= 1 << 100:
        return f"about 2^{nbytes.bit_length() - 1} bytes"
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{int(nbytes)} bytes"


def over(nbytes: int) -> str | None:
    """Why `nbytes` of data is refused ("more than the 512 MiB of data nnfix holds here …"),
    or None when it fits."""
    return None if nbytes <= budget() else f"more than {held()}"


def held() -> str:
    """'the 512 MiB of data nnfix holds here (1/4 of the memory it may use, at most 16 GiB)'."""
    return (
        f"the {size(budget())} of data nnfix holds here "
        f"(1/{MEMORY_SHARE} of the memory it may use, at most {size(MAX_DATA_BYTES)})"
    )


def elements(shape) -> int:
    """The number of elements of `shape`, exactly (no int64 overflow)."""
    return math.prod(int(n) for n in shape)
