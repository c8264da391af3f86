"""The plots nnfix draws with matplotlib (an optional extra, `pip install 'nnfix[plots]'`): one
module per plot of a diagnosis (loss, gradients, preactivations, gradcheck), the plots of a
training run (training), and what they share (common: the library, the style, SVG text).

matplotlib is imported only when a plot is drawn; `missing()` says, without drawing, whether it
can be, so a command that needs it can refuse before it spends any time."""

from __future__ import annotations

INSTALL = "pip install 'nnfix[plots]'"


class PlotsUnavailable(Exception):
    """matplotlib cannot be imported: the message says why and how to install it."""


def missing() -> str | None:
    """Why no plot can be drawn (matplotlib is not installed, or fails to import), or None."""
    from nnfix.report.plots import common

    try:
        common.library()
    except PlotsUnavailable as exc:
        return str(exc)
    return None
