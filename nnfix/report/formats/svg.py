"""The plots of a diagnosis as one SVG document: the verdict, then per spec a heading (its
verdict and root causes) and its plots stacked, each a group of class `nnfix-plot`; a plot whose
pass did not run is a line saying why, and a spec that could not be read is a line saying so."""

from __future__ import annotations

import re
import textwrap
from xml.sax.saxutils import escape, quoteattr

from nnfix.diagnose.findings import Report, SpecReport
from nnfix.report.controls import escape_controls
from nnfix.report.formats._common import counted
from nnfix.report.plots import common

SUFFIXES = (".svg",)  # --output names that ask for this format
DRAWS = True  # needs the plotting library (nnfix[plots])
MARGIN = 12.0  # pt, around the document
LINE = 15.0  # pt, one line of text
GAP = 10.0  # pt, between plots
MIN_WIDTH = 460.0  # pt: the text has room even with no plot
CHAR = 5.6  # pt, the width of an average character of 10 px text, for wrapping
BOLD = 1.15  # how much wider a bold character is
FONT = "font-family: 'DejaVu Sans', Verdana, Arial, sans-serif"

_ROOT = re.compile(r"<svg\b[^>]*>")


def render(report: Report) -> str:
    from nnfix.report.plots.diagnosis import plots

    common.library()  # PlotsUnavailable, saying how to install it, before anything is drawn
    drawn = [(spec, plots(spec, f"s{i}")) for i, spec in enumerate(report.specs, start=1)]
    sizes = [common.size(p.svg) for _, ps in drawn for p in ps if p.svg is not None]
    width = max([MIN_WIDTH, *(w for w, _ in sizes)]) + 2 * MARGIN
    page = _Page(width)
    page.line(_headline(report), size=13, weight="bold")
    for problem in report.errors:
        where = ":".join(str(x) for x in (problem.file, problem.line, problem.col) if x)
        page.line(f"ERROR {where}: {problem.message}", colour="#c62828")
    for index, (spec, spec_plots) in enumerate(drawn, start=1):
        page.space(GAP)
        page.heading(spec, index)
        for plot in spec_plots:
            if plot.svg is None:
                page.note(plot, index)
            else:
                page.plot(plot.svg, f"s{index}-{plot.key}", plot.key)
    return page.document()


def _headline(report: Report) -> str:
    counts, n = report.counts(), len(report.specs)
    found = f"{counted(counts)} (fail on {report.fail_on})"
    if report.errors:  # exit 2: not everything asked for was diagnosed
        unread = len({e.spec for e in report.errors})
        what = f"{unread} spec{'s' if unread != 1 else ''} could not be read"
        return f"nnfix diagnose: ERROR — {what}" + (f"; {n} diagnosed: {found}" if n else "")
    verdict = report.verdict.upper()
    if report.verdict == "unchecked":
        verdict += " (the gradients were not checked)"
    return f"nnfix diagnose: {verdict} — {n} spec{'s' if n != 1 else ''}: {found}"


class _Page:
    """The document being laid out, top to bottom, in pt."""

    def __init__(self, width: float):
        self.width, self.y = width, MARGIN
        self.parts: list[str] = []

    def space(self, height: float) -> None:
        self.y += height

    def line(self, text: str, size: float = 10, weight: str = "normal", colour: str = "#222"):
        # a wider font wraps sooner: CHAR is a 10 px regular character's width
        char = CHAR * size / 10 * (BOLD if weight == "bold" else 1.0)
        columns = int((self.width - 2 * MARGIN) / char)
        for row in textwrap.wrap(escape_controls(text), columns, break_on_hyphens=False):
            self.y += LINE * size / 10
            self.parts.append(
                f'<text x="{MARGIN}" y="{self.y:.1f}" style="{FONT}; font-size: {size}px; '
                f'font-weight: {weight}; fill: {colour}">{escape(row)}</text>'
            )
        self.y += 4

    def heading(self, spec: SpecReport, index: int) -> None:
        verdict = spec.verdict.upper()
        if spec.verdict == "unchecked":
            verdict += " (the gradients were not checked)"
        self.parts.append(f'<g class="nnfix-spec" id="s{index}">')
        self.line(f"{spec.name} ({spec.spec}): {verdict}", size=12, weight="bold")
        roots: dict[tuple[str, str], list[str]] = {}
        for f in spec.ordered():
            if f.is_root_cause:
                where = roots.setdefault((f.code, f.name), [])
                if f.location.parameter or f.location.layer:
                    where.append(f.location.parameter or f"layer {f.location.layer}")
        if roots:
            shown = ", ".join(f"{code} {name}{_at(where)}" for (code, name), where in roots.items())
            self.line(f"root causes: {shown}", colour="#444")
        else:
            self.line("no findings", colour="#444")
        self.parts.append("</g>")

    def note(self, plot, index: int) -> None:
        self.parts.append(f'<g class="nnfix-note" id="s{index}-{plot.key}">')
        self.line(f"{plot.title}: not drawn — {plot.note}.", colour="#666")
        self.parts.append("</g>")

    def plot(self, svg: str, gid: str, key: str) -> None:
        """A plot's SVG document nested at the current height (its own units kept: pt)."""
        width, height = common.size(svg)
        root = _ROOT.search(svg)
        assert root is not None
        tag = (
            f'<svg x="{MARGIN}" y="{self.y:.1f}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">'
        )
        self.parts.append(
            f'<g class="nnfix-plot" id={quoteattr(gid)} data-plot="{key}">'
            f"{tag}{svg[root.end() :].strip()}</g>"
        )
        self.y += height + GAP

    def document(self) -> str:
        height = self.y + MARGIN
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'version="1.1" width="{self.width:.1f}pt" height="{height:.1f}pt" '
            f'viewBox="0 0 {self.width:.1f} {height:.1f}">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(self.parts)
            + "\n</svg>\n"
        )


def _at(where: list[str]) -> str:
    """` (layers 1, 2)`, ` (W3, b3)` or nothing."""
    if not where:
        return ""
    if len(where) > 1 and all(w.startswith("layer ") for w in where):
        return " (layers " + ", ".join(w.removeprefix("layer ") for w in where) + ")"
    return " (" + ", ".join(where) + ")"
