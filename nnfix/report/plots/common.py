"""What every plot shares: matplotlib, imported on first use; one style; the colours; and the
figure as SVG text — deterministic (no date, a fixed hash salt: the same numbers give the same
file) and with its ids prefixed, so that several plots can share one document."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

from nnfix.report.plots import INSTALL, PlotsUnavailable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = {
    "svg.fonttype": "none",  # text stays text: searchable, selectable, small
    "svg.hashsalt": "nnfix",  # clip-path and marker ids from the content alone: reproducible
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "figure.dpi": 100,
    "figure.facecolor": "white",
}
NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}

LINE = "#1f77b4"  # a measured curve
FAINT = "#9ecae1"  # its raw, noisy steps under a smoothed line
PRIOR = "#333333"  # the label-prior plateau
BAD = "#d62728"  # divergence, a wrong tensor
RIGHT = "#8c8c8c"  # tensors that match
SATURATED = "#ff7f0e"  # an activation's flat zone
DEAD = "#6b6b6b"  # ... and its dead zone
WRONG = ("#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#2ca02c")

_library = None


def library():
    """matplotlib, imported now (PlotsUnavailable, saying how to install it, when it cannot)."""
    global _library
    if _library is None:
        try:
            import matplotlib
            import matplotlib.figure  # the object API: no pyplot, no global figure
        except ImportError:
            raise PlotsUnavailable(
                f"the plots need matplotlib, which is not installed: {INSTALL}"
            ) from None
        except Exception as exc:  # an install that is there but broken
            raise PlotsUnavailable(
                f"the plots need matplotlib, which failed to import "
                f"({type(exc).__name__}: {exc}): reinstall it with {INSTALL}"
            ) from None
        _library = matplotlib
    return _library


@contextlib.contextmanager
def style() -> Iterator[None]:
    """nnfix's look, for the figures drawn and saved inside (matplotlib reads its settings then);
    matplotlib's own warnings there (a layout it could not fit, an overflow of an extreme value)
    are about the drawing, not the user's net: never a line of nnfix's output."""
    with library().rc_context(STYLE), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def figure(width: float, height: float) -> Figure:
    """A new figure of `width` × `height` inches, laid out so that nothing overlaps."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def title(fig, text: str) -> None:
    """A figure's title, left-aligned above everything in it (axes, legends beside them)."""
    fig.suptitle(text, x=0.01, ha="left", fontsize=STYLE["axes.titlesize"])


def steps_axis(ax, label: str) -> None:
    """An x axis of whole steps or epochs."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.set_xlabel(label)


def diverged(ax, at: int, what: str) -> None:
    """A dotted line at x = `at`, where the loss went non-finite, saying so."""
    ax.axvline(at, color=BAD, ls=":", lw=1.2)
    ax.annotate(
        f"loss not finite from {what} {at}",
        xy=(at, 0.97),
        xycoords=("data", "axes fraction"),
        xytext=(-3, 0),
        textcoords="offset points",
        ha="right",
        va="top",
        color=BAD,
        fontsize=9,
    )


def short(value: str, limit: int = 24) -> str:
    """`value` cut to `limit` characters with an ellipsis (a label in a legend)."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def text(value: str) -> str:
    """Text as matplotlib shows it literally (a `$` would start mathematics), its control
    characters escaped (they would drive a terminal, or break the SVG's XML)."""
    from nnfix.report.controls import escape_controls

    return escape_controls(value).replace("$", r"\$")


_ID = re.compile(r'(\bid=")([^"]+)(")')
_REF = re.compile(r'((?:xlink:)?href="#|url\(#)([^")]+)')


def svg(fig: Figure, prefix: str) -> str:
    """The figure as an SVG document (without the XML prolog) whose ids all start with
    `prefix`, so that it can sit beside other plots in one page or file."""
    buffer = io.StringIO()
    with style():
        fig.savefig(buffer, format="svg", metadata=NO_METADATA)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = _ID.sub(lambda m: f"{m[1]}{prefix}-{m[2]}{m[3]}", text)
    return _REF.sub(lambda m: f"{m[1]}{prefix}-{m[2]}", text)


_SIZE = re.compile(r'<svg\b[^>]*?\bwidth="([\d.]+)pt"[^>]*?\bheight="([\d.]+)pt"')


def size(svg_text: str) -> tuple[float, float]:
    """The width and height of an SVG document from `svg`, in pt."""
    match = _SIZE.search(svg_text)
    if match is None:
        raise ValueError("not an SVG document of matplotlib's (its size in pt)")
    return float(match[1]), float(match[2])


def moving_average(values, window: int):
    """The mean of each value with the `window` − 1 before it (fewer at the start); NaN stays NaN
    only where a window holds nothing finite."""
    import numpy as np

    v = np.asarray(values, float)
    finite = np.isfinite(v)
    sums = np.cumsum(np.where(finite, v, 0.0))
    counts = np.cumsum(finite)
    lagged = lambda a: np.concatenate([np.zeros(window), a[:-window]])  # noqa: E731
    total, n = sums - lagged(sums)[: len(v)], counts - lagged(counts)[: len(v)]
    with np.errstate(all="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)
