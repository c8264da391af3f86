"""Unicode sparklines: a curve in one line of text."""

from __future__ import annotations

import math

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], width: int = 40) -> str:
    """Values bucketed to at most `width` characters; a non-finite bucket shows as '×'. A
    flat line sits at the bottom where it is zero (a layer that gets no gradient), mid-height
    elsewhere."""
    if not values:
        return ""
    n = len(values)
    buckets: list[float | None] = []
    for i in range(min(width, n)):
        chunk = values[i * n // min(width, n) : (i + 1) * n // min(width, n)] or [values[-1]]
        numbers = [v for v in chunk if v is not None and math.isfinite(v)]
        buckets.append(sum(numbers) / len(numbers) if len(numbers) == len(chunk) else None)
    finite = [b for b in buckets if b is not None]
    if not finite:
        return "×" * len(buckets)
    lo, hi = min(finite), max(finite)
    span = hi - lo
    out = []
    for b in buckets:
        if b is None:
            out.append("×")
        elif span <= 1e-12 * max(1.0, abs(hi)):
            out.append(BLOCKS[0] if hi == 0 else BLOCKS[3])
        else:
            out.append(BLOCKS[min(len(BLOCKS) - 1, int((b - lo) / span * len(BLOCKS)))])
    return "".join(out)
