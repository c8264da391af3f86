"""The plots of one spec's diagnosis, in the order a reader goes through them — loss, gradient
norms, pre-activations at init, gradient check — each drawn as SVG or, where its pass did not
run, the reason in its place."""

from __future__ import annotations

from dataclasses import dataclass

from nnfix.diagnose.findings import SpecReport
from nnfix.report.plots import common, gradcheck, gradients, loss, preactivations

KINDS = (  # each plot, and the part of the series it draws (for the reason it is missing)
    ("loss", loss, "probe"),
    ("gradients", gradients, "probe"),
    ("preactivations", preactivations, "init"),
    ("gradcheck", gradcheck, "gradcheck"),
)
NOTHING = "nothing was recorded for this plot"


@dataclass
class Plot:
    key: str  # loss, gradients, preactivations, gradcheck
    title: str
    caption: str  # how to read it
    svg: str | None  # the plot as an SVG document (no XML prolog); None when not drawn
    note: str | None = None  # why it was not drawn


def plots(spec: SpecReport, prefix: str) -> list[Plot]:
    """Every plot of `spec`, its SVG ids starting with `prefix` (unique within a page)."""
    series = spec.series
    out = []
    with common.style():
        for key, module, part in KINDS:
            fig = module.draw(series) if series is not None else None
            if fig is None:
                why = series.why.get(part) if series is not None else None
                out.append(Plot(key, module.TITLE, module.CAPTION, None, why or NOTHING))
            else:
                out.append(
                    Plot(key, module.TITLE, module.CAPTION, common.svg(fig, f"{prefix}-{key}"))
                )
    return out
