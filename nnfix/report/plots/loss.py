"""The training probe's loss per step, with the label-prior plateau marked: a net stuck on that
line predicts the class frequencies and ignores its input."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nnfix.diagnose.series import Series
from nnfix.report.plots import common

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TITLE = "Loss over the training probe"
CAPTION = (
    "The loss of each probe step (a minibatch update of the spec's own training loop), light, "
    "and its moving average. The dashed line is the loss of the best constant prediction (the "
    "label prior): a net that settles there has learned only the class frequencies (for a "
    "regression, only the targets' mean)."
)
LOG_SPAN = 100.0  # a loss spanning more than this factor is drawn on a log scale
CENTRE = {"mse": "mean", "mae": "median"}  # the best constant prediction of a regression loss


def draw(series: Series) -> Figure | None:
    if not series.loss:
        return None
    loss = np.asarray(series.loss, float)
    steps = np.arange(1, len(loss) + 1)
    finite = loss[np.isfinite(loss)]
    fig = common.figure(6.4, 3.2)
    ax = fig.add_subplot()
    ax.set_gid("nnfix-loss")
    window = max(1, len(loss) // 40)
    if window > 1:
        ax.plot(steps, loss, color=common.FAINT, lw=0.8, label="per step")
        ax.plot(
            steps,
            common.moving_average(loss, window),
            color=common.LINE,
            lw=1.6,
            label=f"moving average ({window} steps)",
        )
    else:
        ax.plot(steps, loss, color=common.LINE, lw=1.6, label="per step")
    if series.diverged_at is not None:
        common.diverged(ax, series.diverged_at + 1, "step")
    ax.set_xlim(1, max(len(loss), 2))
    shown = finite
    prior = series.prior if series.prior is not None and np.isfinite(series.prior) else None
    if prior is not None:
        shown = np.append(finite, prior)
    positive = shown[shown > 0]
    if len(positive) and len(positive) == len(shown) and positive.max() > LOG_SPAN * positive.min():
        ax.set_yscale("log")
    if prior is not None:
        prior_line(ax, prior, series.loss_name)
    ax.set_title(TITLE)
    common.steps_axis(ax, "probe step (minibatch updates)")
    ax.set_ylabel(f"loss ({series.loss_label})")
    if window > 1:  # above the axes, beside the title: never over the curve
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, borderaxespad=0.2)
    return fig


def prior_line(ax: Axes, prior: float, loss_name: str) -> None:
    """The label-prior plateau as a dashed line, labelled at its right end: above the line, or
    below it where the line runs along the top of the axes (where the legend is). For a
    regression it is the loss of predicting the targets' mean (median for mae), not a prior
    over labels."""
    ax.axhline(prior, color=common.PRIOR, ls="--", lw=1.2)
    lo, hi = ax.get_ylim()
    scale = np.log10 if ax.get_yscale() == "log" else (lambda v: v)
    top = (scale(prior) - scale(lo)) / max(scale(hi) - scale(lo), 1e-300) > 0.85
    ax.annotate(
        f"label prior {prior:.4g} (best constant prediction)"
        if loss_name in ("bce", "cce")
        else f"best constant prediction {prior:.4g} (the targets' {CENTRE.get(loss_name, 'mean')})",
        xy=(0.99, prior),
        xycoords=("axes fraction", "data"),
        xytext=(0, -3 if top else 3),
        textcoords="offset points",
        ha="right",
        va="top" if top else "bottom",
        color=common.PRIOR,
        fontsize=9,
        bbox={"boxstyle": "square,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
    )
