"""The gradient check at init: each compared value's backprop against its finite difference, on
symmetric log axes; the tensors that match lie on y = x, the wrong ones are coloured and named."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nnfix.diagnose.series import Series, TensorPairs
from nnfix.report.plots import common

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TITLE = "Gradient check at init: backprop against finite differences"
CAPTION = (
    "Each point is one compared entry (or a random direction) of a parameter tensor: its "
    "gradient as backprop computes it against central finite differences of the loss, on "
    "symmetric log axes. Right gradients lie on the dashed line y = x; the tensors the check "
    "found wrong are coloured and named."
)
DECADES = 8  # the axes show at most this many decades below the largest value
NEAR = 3.0  # a tick within this factor of the largest point is one the points are read off
NAMED = 10  # wrong tensors with a colour and a legend entry of their own; the rest together


def draw(series: Series) -> Figure | None:
    tensors = [t for t in series.gradcheck if len(t.backprop)]
    if not tensors:
        return None
    from matplotlib.ticker import NullLocator

    wrong = [t for t in tensors if t.wrong]
    values = np.concatenate([np.r_[t.backprop, t.numeric] for t in tensors])
    values = np.abs(values[np.isfinite(values)])
    top = float(values.max()) if values.size else 1.0
    top = top if top > 0 else 1.0
    nonzero = values[values > 0]
    small = float(np.quantile(nonzero, 0.05)) if nonzero.size else top
    linthresh = max(small, top * 10.0**-DECADES)
    fig = common.figure(7.2, 4.6)
    grid = fig.add_gridspec(1, 2, width_ratios=(1.35, 1))
    ax, key = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    ax.set_gid("nnfix-gradcheck")
    limit = top * 2.0 if top < 1e300 else top
    ax.plot([-limit, limit], [-limit, limit], color=common.PRIOR, ls="--", lw=1, label="y = x")
    right = [t for t in tensors if not t.wrong and not t.verdict.startswith("unverifiable")]
    unverifiable = [t for t in tensors if t.verdict.startswith("unverifiable")]
    if right:
        _scatter(ax, right, common.RIGHT, f"right ({_names(right)})", filled=True)
    if unverifiable:
        _scatter(ax, unverifiable, common.RIGHT, f"unverifiable ({_names(unverifiable)})", False)
    named, rest = wrong[:NAMED], wrong[NAMED:]
    for k, t in enumerate(named):
        colour = common.WRONG[k % len(common.WRONG)]
        _scatter(ax, [t], colour, f"{t.name}: {_kind(t.verdict)}", filled=True, size=18)
    if rest:
        _scatter(ax, rest, common.BAD, f"also wrong: {_names(rest)}", filled=False, size=18)
    ticks = _ticks(linthresh, limit, top)
    for scale, axis in ((ax.set_xscale, ax.xaxis), (ax.set_yscale, ax.yaxis)):
        scale("symlog", linthresh=linthresh, linscale=0.6)
        axis.set_ticks(ticks, [_tick(v) for v in ticks])
        axis.set_minor_locator(NullLocator())
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("finite differences  ∂L/∂θ")
    ax.set_ylabel("backprop  ∂L/∂θ")
    count = len(series.gradcheck)
    verdict = (
        f"{len(wrong)} of {count} tensors wrong"
        if wrong
        else f"all {count} tensors checked agree"
        if not unverifiable
        else f"{count - len(unverifiable)} of {count} tensors agree, {len(unverifiable)} unverifiable"
        if len(unverifiable) < count
        else f"no tensor of {count} could be verified: the gradients were not checked"
    )
    if series.not_checked:
        verdict += f"; not checked (--budget): {', '.join(series.not_checked)}"
    common.title(fig, TITLE)
    ax.set_title(verdict, fontsize=10, color=common.BAD if wrong else "black")
    key.axis("off")  # the legend's own column: it never covers the points or gets cut off
    key.legend(
        *ax.get_legend_handles_labels(),
        loc="upper left",
        title="tensors (wrong ones in colour)" if wrong else "tensors",
        alignment="left",
    )
    return fig


def _ticks(linthresh: float, limit: float, top: float, per_side: int = 3) -> list[float]:
    """0 and ±10^k for at most `per_side` decades between the linear zone and the limit, and a
    tick among the largest points (`top` to one significant digit: 0.4 for 0.45) where no
    tick is within a factor NEAR of them (points between 0.34 and 0.45 are not read off
    ticks at 0.1)."""
    first, last = int(np.ceil(np.log10(linthresh))), int(np.floor(np.log10(limit)))
    first = min(first, last)  # a narrow range: its one decade, though in the linear zone
    decades = list(range(last, first - 1, -1))
    step = max(1, int(np.ceil(len(decades) / per_side)))
    kept = sorted(10.0**k for k in decades[::step])
    if not any(top / NEAR <= v <= top * NEAR for v in kept):
        unit = 10.0 ** np.floor(np.log10(top))
        kept = sorted([*kept, float(np.floor(top / unit) * unit)])
    return [-v for v in reversed(kept)] + [0.0] + kept


def _tick(value: float) -> str:
    if value == 0:
        return "0"
    exponent = int(np.floor(np.log10(abs(value)) + 1e-9))
    digit = round(abs(value) / 10.0**exponent)  # ticks have one significant digit
    magnitude = f"{abs(value):g}" if abs(exponent) <= 3 else f"{digit}e{exponent}"
    return ("−" if value < 0 else "") + magnitude


def _scatter(ax, tensors: list[TensorPairs], colour: str, label: str, filled: bool, size=10):
    x = np.concatenate([t.numeric for t in tensors])
    y = np.concatenate([t.backprop for t in tensors])
    shown = np.isfinite(x) & np.isfinite(y)
    x, y = x[shown], y[shown]
    ax.scatter(
        x,
        y,
        s=size,
        label=label,
        color=colour if filled else "none",
        edgecolors=colour,
        linewidths=0.6,
        alpha=0.85,
        zorder=3,
    )


def _names(tensors: list[TensorPairs]) -> str:
    names = [t.name for t in tensors]
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def _kind(verdict: str) -> str:
    """`wrong: sign flipped: backprop points uphill` -> `sign flipped`."""
    kind = verdict.split(": ", 1)[1] if ": " in verdict else verdict
    return common.text(kind.split(":")[0].split(" (")[0].split(", not only")[0])
