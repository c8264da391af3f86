"""The plots of a training run, saved in its run directory (SPEC §6): `loss.svg`, the train and
validation loss and accuracy per epoch, and `gradients.svg`, each layer's ‖dW‖ per epoch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from nnfix.engine.train import History
from nnfix.report.plots import common, gradients, loss

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def loss_svg(
    history: History, loss_label: str, prior: float | None = None, loss_name: str = ""
) -> str:
    """Loss (and accuracy, for classification) per epoch, train solid and validation dashed;
    `loss_label` says what one value is (`bce, mean over the batch`); `prior` is the loss of
    the best constant prediction in the same units, drawn as the label-prior plateau."""
    with common.style():
        return common.svg(_loss(history, loss_label, prior, loss_name), "loss")


def gradients_svg(history: History, layers: list[str], numbers: list[int] | None = None) -> str:
    """Each weight layer's ‖dW‖ per epoch (averaged over the epoch's steps), log scale; `layers`
    are their activations as the spec names them, `numbers` their layer numbers (default 1, 2…)."""
    with common.style():
        fig = common.figure(6.4, max(3.4, gradients.height(len(layers))))
        ax = fig.add_subplot()
        ax.set_gid("nnfix-gradients")
        common.title(fig, "Gradient norm per layer over training")
        norms = np.array([r.grad_norms for r in history.epochs], float)
        if len(norms):
            gradients.lines(ax, norms.reshape(len(norms), -1), layers, "epoch", numbers=numbers)
            _marks(ax, history)
        else:
            _nothing(ax)
        return common.svg(fig, "gradients")


def _loss(history: History, loss_label: str, prior: float | None, loss_name: str) -> Figure:
    epochs = history.epochs
    accuracy = any(r.accuracy is not None for r in epochs)
    fig = common.figure(9.6 if accuracy else 6.4, 3.4)
    axes = fig.subplots(1, 2 if accuracy else 1, squeeze=False)[0]
    ax = axes[0]
    ax.set_gid("nnfix-loss")
    ax.set_title("Loss over training")
    if not epochs:
        _nothing(ax)
        return fig
    x = np.array([r.epoch for r in epochs])
    _pair(ax, x, [r.loss for r in epochs], [r.val_loss for r in epochs], "above")
    ax.set_ylabel(f"loss ({loss_label})")
    values = np.array([v for r in epochs for v in (r.loss, r.val_loss) if v is not None], float)
    prior = prior if prior is not None and np.isfinite(prior) else None
    values = np.append(values, [] if prior is None else [prior])
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() > loss.LOG_SPAN * values.min():
        ax.set_yscale("log")
    if prior is not None:
        loss.prior_line(ax, prior, loss_name)
    _marks(ax, history)
    if accuracy:
        acc = axes[1]
        acc.set_gid("nnfix-accuracy")
        acc.set_title("Accuracy over training")
        _pair(acc, x, [r.accuracy for r in epochs], [r.val_accuracy for r in epochs], "lower right")
        acc.set_ylim(-0.02, 1.02)
        acc.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        acc.set_ylabel("accuracy")
        _marks(acc, history)
    return fig


def _pair(
    ax: Axes,
    x: np.ndarray,
    train: list,
    validation: list,
    legend: Literal["above", "lower right"],
) -> None:
    """The train curve solid, the validation curve dashed (where there is one); the legend at
    `legend`, away from where the curves and labels go: a loss's above the axes, beside the
    title (the label-prior line runs near the top), an accuracy's lower right (it rises)."""
    marker = "o" if len(x) <= 30 else None
    ax.plot(x, _floats(train), color=common.LINE, lw=1.6, marker=marker, ms=3, label="train")
    if any(v is not None for v in validation):
        ax.plot(
            x,
            _floats(validation),
            color="#ff7f0e",
            lw=1.6,
            ls="--",
            marker=marker,
            ms=3,
            label="validation",
        )
    common.steps_axis(ax, "epoch")
    ax.set_xlim(x[0] - 0.5 if len(x) == 1 else x[0], x[-1] + 0.5 if len(x) == 1 else x[-1])
    if legend == "above":
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, borderaxespad=0.2)
    else:
        ax.legend(loc=legend)


def _floats(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], float)


def _marks(ax: Axes, history: History) -> None:
    """Where the loss went non-finite, or the run was interrupted."""
    if history.diverged_at is not None:
        common.diverged(ax, history.diverged_at[0], "epoch")
    elif history.stopped == "interrupted":
        ax.annotate(
            "interrupted",
            xy=(0.99, 0.02),
            xycoords="axes fraction",
            ha="right",
            va="bottom",
            color=common.BAD,
            fontsize=9,
        )


def _nothing(ax: Axes) -> None:
    ax.text(0.5, 0.5, "no epoch finished", transform=ax.transAxes, ha="center", color=common.DEAD)
    ax.set_xticks([])
    ax.set_yticks([])
