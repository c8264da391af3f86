"""Each layer's weight-gradient norm ‖dW‖ over the training probe, on a log scale, one line per
layer: a layer far below the others gets (almost) no gradient; one that climbs is exploding."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from nnfix.diagnose.series import Series
from nnfix.report.plots import common

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TITLE = "Gradient norm per layer over the training probe"
CAPTION = (
    "‖dW‖ of each layer at each probe step, log scale. Layers far below the others get (almost) "
    "no gradient and do not learn; a norm that climbs step after step is exploding. A gradient "
    "of exactly 0 is drawn on the dotted line at the bottom."
)


def draw(series: Series) -> Figure | None:
    if not series.grad_norm:
        return None
    norms = np.asarray(series.grad_norm, float)  # steps × layers
    fig = common.figure(6.4, height(norms.shape[1] if norms.ndim == 2 else 0))
    ax = fig.add_subplot()
    ax.set_gid("nnfix-gradients")
    lines(ax, norms, series.layers, "probe step (minibatch updates)", numbers=series.weight_layers)
    if series.diverged_at is not None:
        common.diverged(ax, series.diverged_at + 1, "step")
    common.title(fig, TITLE)  # over the legend beside the axes too
    return fig


COLUMNS = 3  # of the legend below the axes


def height(depth: int) -> float:
    """Inches of a figure with a legend of `depth` layers below its axes."""
    return 3.2 + 0.2 * math.ceil(depth / COLUMNS)


def lines(
    ax: Axes,
    norms: np.ndarray,
    layers: list[str],
    xlabel: str,
    start: int = 1,
    numbers: list[int] | None = None,
) -> None:
    """One line per layer with weights (columns of `norms`, rows from x = `start`; `numbers`
    their layer numbers, default 1, 2, …) on a log scale, colours from the input layer (dark)
    to the output layer (light); zeros on a dotted floor line."""
    from matplotlib import colormaps

    x = np.arange(start, start + len(norms))
    depth = norms.shape[1] if norms.ndim == 2 else 0
    positive = norms[np.isfinite(norms) & (norms > 0)]
    ax.set_xlim(start, max(start + len(norms) - 1, start + 1))
    common.steps_axis(ax, xlabel)
    ax.set_ylabel("‖dW‖ (Frobenius norm)")
    if not positive.size:  # nothing for a log scale: say it
        ax.axhline(0.0, color=common.DEAD, lw=1.5)
        ax.set_ylim(-1, 1)
        ax.set_yticks([0.0])
        ax.text(
            0.5,
            0.6,
            "‖dW‖ = 0 for every layer at every step:\nno weight gets a gradient",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color=common.BAD,
        )
        return
    floor = 10.0 ** (np.floor(np.log10(positive.min())) - 1)
    colours = colormaps["viridis"](np.linspace(0.0, 0.85, max(depth, 2)))
    for l in range(depth):
        column = norms[:, l]
        zero = np.isfinite(column) & (column <= 0)
        drawn = np.where(zero, floor, column)
        name = layers[l] if l < len(layers) else ""
        number = numbers[l] if numbers and l < len(numbers) else l + 1
        label = f"layer {number}" + (f" ({common.text(common.short(name))})" if name else "")
        if zero.all():
            label += ": 0 throughout"
        ax.plot(x, drawn, color=colours[l], lw=1.3, label=label)
    if (np.isfinite(norms) & (norms <= 0)).any():
        ax.axhline(floor, color=common.DEAD, ls=":", lw=1)
        ax.annotate(
            "‖dW‖ = 0",
            xy=(0.01, floor),
            xycoords=("axes fraction", "data"),
            va="bottom",
            fontsize=9,
            color=common.DEAD,
        )
    ax.set_yscale("log")
    ax.figure.legend(
        loc="outside lower center", ncols=min(depth, COLUMNS)
    )  # the axes keep the width
