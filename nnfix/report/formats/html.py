"""The report as one self-contained HTML page: the report a person reads on the terminal, then
each spec's plots inline as SVG, then (folded) every finding with its evidence, as -v prints it. No script, no font, no stylesheet or image from elsewhere: it
opens the same with no network."""

from __future__ import annotations

import html
import io
import re

from nnfix.diagnose.findings import Report, SpecReport
from nnfix.report.controls import SafeConsole, escape_controls
from nnfix.report.plots import common

SUFFIXES = (".html", ".htm")  # --output names that ask for this format
DRAWS = True  # needs the plotting library (nnfix[plots])
WIDTH = 100  # columns of the report's text

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #222; background: #fff; max-width: 1280px; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.35rem; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 2rem 0 0.75rem; border-bottom: 1px solid #ddd; }
h2 .path { font-weight: normal; color: #666; font-size: 0.9rem; margin-left: 0.5rem; }
.verdict { font-weight: bold; padding: 0 0.4rem; border-radius: 3px; color: #fff; }
.verdict.fail, .verdict.error { background: #c62828; }
.verdict.pass { background: #2e7d32; }
.verdict.unchecked { background: #b26a00; }
pre.report { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 12.5px; line-height: 1.35; background: #fafafa; border: 1px solid #e5e5e5;
  padding: 0.75rem 1rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(540px, 1fr));
  gap: 1.25rem; }
figure.plot { margin: 0; border: 1px solid #e5e5e5; border-radius: 4px; padding: 0.5rem; }
figure.plot.wide { grid-column: 1 / -1; }
figure.plot svg { display: block; width: 100%; height: auto; margin: 0 auto; }
figcaption { font-size: 0.85rem; color: #555; margin-top: 0.35rem; }
figcaption strong { color: #222; }
.note { color: #666; font-style: italic; margin: 0.5rem 0; }
details.verbose { margin-top: 2rem; }
details.verbose summary { cursor: pointer; font-weight: bold; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<h1>{title}</h1>
<pre class="report"><code>{report}</code></pre>
{sections}
<details class="verbose"><summary>Every finding with its evidence (as <code>-v</code> prints it)</summary>
<pre class="report"><code>{verbose}</code></pre>
</details>
</body>
</html>
"""

WIDE = 700  # px: a plot wider than this takes a whole row of the grid
_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


def render(report: Report) -> str:
    common.library()  # PlotsUnavailable, saying how to install it, before anything is drawn
    sections = "\n".join(_section(spec, i) for i, spec in enumerate(report.specs, start=1))
    return PAGE.format(
        title=f"nnfix diagnose: {_verdict(report)}",
        style=STYLE,
        report=_text(report, verbose=False),
        sections=sections,
        verbose=_text(report, verbose=True),
    )


def _verdict(report: Report) -> str:
    return report.verdict.upper()


def _text(report: Report, verbose: bool) -> str:
    """The rich report as HTML (its colours inline), without a page around it."""
    from nnfix.report import diagnose_rich

    console = SafeConsole(
        record=True,
        width=WIDTH,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        no_color=False,
        highlight=False,
    )
    diagnose_rich.render(report, console, verbose)
    return console.export_html(inline_styles=True, code_format="{code}").rstrip("\n")


def _escape(value: str) -> str:
    return html.escape(escape_controls(value))


def _section(spec: SpecReport, index: int) -> str:
    from nnfix.report.plots.diagnosis import plots

    verdict = spec.verdict
    head = (
        f'<h2 id="spec-{index}">{_escape(spec.name)}<span class="path">{_escape(spec.spec)}'
        f'</span> <span class="verdict {verdict}">{verdict.upper()}</span></h2>'
    )
    figures = []
    for plot in plots(spec, f"s{index}"):
        width = common.size(plot.svg)[0] * 4 / 3 if plot.svg is not None else 0  # pt to px
        wide = " wide" if width > WIDE else ""
        caption = f"<figcaption><strong>{_escape(plot.title)}.</strong> {_escape(plot.caption)}"
        if plot.svg is None:
            figures.append(
                f'<figure class="plot missing{wide}" data-plot="{plot.key}">'
                f'<p class="note">Not drawn: {_escape(plot.note or "")}.</p>{caption}</figcaption>'
                "</figure>"
            )
            continue
        figures.append(
            f'<figure class="plot{wide}" id="s{index}-{plot.key}" data-plot="{plot.key}">'
            f"{_inline(plot.svg, plot.title, width)}{caption}</figcaption></figure>"
        )
    return (
        f'<section class="spec">{head}\n<div class="plots">\n'
        + "\n".join(figures)
        + "\n</div></section>"
    )


def _inline(svg: str, title: str, width: float) -> str:
    """An SVG document as an element of the page, never wider than it was drawn: the namespace
    declarations, which HTML does not need, left out; a label for screen readers."""
    start = svg.index("<svg")
    end = svg.index(">", start)
    tag = _NAMESPACES.sub("", svg[start:end])
    label = _escape(title)
    return f'{tag} style="max-width: {width:.0f}px" role="img" aria-label="{label}"{svg[end:]}'
