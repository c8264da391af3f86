"""Each layer's pre-activations z at init as a histogram, with its activation's flat zones
shaded — saturated (|z| past the point where the derivative is under a tenth of its peak) and
dead (no gradient at all) — and the share of values in them written."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from nnfix.diagnose.series import Preactivation, Series
from nnfix.report.plots import common

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TITLE = "Pre-activations z at init, per layer"
CAPTION = (
    "The values z = a·W + b of every unit on the samples of the pass at init. Shaded: where the "
    "activation is flat — orange, saturated (its derivative under a tenth of its peak); grey, "
    "dead (no gradient). Values beyond the axis are counted in its end bins."
)
COLUMNS = 4  # panels per row


def draw(series: Series) -> Figure | None:
    layers = series.preactivations
    if not layers:
        return None
    columns = min(COLUMNS, len(layers))
    rows = math.ceil(len(layers) / columns)
    fig = common.figure(max(6.4, 2.4 * columns), 0.4 + 2.3 * rows)
    fig.set_gid("nnfix-preactivations")
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(layers):
            panel(ax, layers[i], first=i % columns == 0)
        else:
            ax.set_visible(False)
    common.title(fig, TITLE)
    return fig


def panel(ax: Axes, p: Preactivation, first: bool) -> None:
    total = max(int(p.counts.sum()), 1)
    share = p.counts / total
    lo, hi = float(p.edges[0]), float(p.edges[-1])
    notes = []
    if p.saturates_beyond is not None:
        s = p.saturates_beyond
        ax.axvspan(lo, -s, color=common.SATURATED, alpha=0.18, lw=0)
        ax.axvspan(s, hi, color=common.SATURATED, alpha=0.18, lw=0)
        notes.append((f"saturated |z|>{s:g}: {p.saturated:.0%}", common.SATURATED))
    if p.dead_below is not None:
        ax.axvspan(lo, p.dead_below, color=common.DEAD, alpha=0.2, lw=0)
        notes.append((f"dead z≤{p.dead_below:g}: {p.dead:.0%}", common.DEAD))
    ax.stairs(share, p.edges, fill=True, color=common.LINE, alpha=0.85)
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, max(float(share.max()) * 1.3, 1e-3))
    for k, (note, colour) in enumerate(notes):
        ax.text(
            0.98,
            0.96 - 0.11 * k,
            note,
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8.5,
            color="black",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": colour, "lw": 0.8},
        )
    ax.set_title(
        f"layer {p.layer} · {common.text(common.short(p.activation, 16))} · "
        f"{p.units} unit{'s' if p.units != 1 else ''}",
        fontsize=9.5,
        loc="left",
    )
    spread = p.std if p.std > 1e-9 * max(abs(lo), abs(hi), 1.0) else 0.0  # rounding: none
    ax.set_xlabel(f"z (std {spread:.3g})", fontsize=9)
    ax.yaxis.set_major_formatter(_percent)
    if first:
        ax.set_ylabel("share of values")


def _percent(value: float, _position: float) -> str:
    return f"{value:.0%}" if np.isfinite(value) and value <= 1.0001 else ""
