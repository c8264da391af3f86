"""The HTML and SVG reports in a real headless browser (chromium, driven by tests/cdp.py): they
load from the file alone with no error in the console or the log, ask for nothing but the file,
and every plot is laid out with a size. Skipped where chromium is not installed — except on CI
(CI=true), where that fails."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnfix.cli import main

from . import cdp
from .conftest import CONFIGS

SPECS = [CONFIGS / "story-derivatives.yaml", CONFIGS / "story-zero-init.yaml"]
KEYS = ["loss", "gradients", "preactivations", "gradcheck"]
TIMEOUT = 60.0  # seconds for any one answer of the browser (a loaded CI machine)

SIZES = """JSON.stringify([...document.querySelectorAll(%r)].map(e => {
    const r = e.getBoundingClientRect();
    return {id: e.id || e.closest('[id]').id, width: r.width, height: r.height};
}))"""


@pytest.fixture(scope="module")
def browser():
    executable = cdp.chromium()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: the browser tests must run on CI")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with cdp.browser(executable, timeout=TIMEOUT) as b:
        yield b


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reports")
    out = {}
    for suffix in ("html", "svg"):
        out[suffix] = folder / f"report.{suffix}"
        args = ["diagnose", *map(str, SPECS), "--output", str(out[suffix])]
        assert CliRunner().invoke(main, args).exit_code == 1
    return out


def sizes(browser: cdp.Browser, selector: str) -> list[dict]:
    return json.loads(browser.evaluate(SIZES % selector))


def keep(shot: Path) -> None:
    """A copy of a screenshot where NNFIX_SCREENSHOTS names a folder (to look at it)."""
    folder = os.environ.get("NNFIX_SCREENSHOTS")
    if folder:
        shutil.copy(shot, Path(folder) / shot.name)


def test_the_html_report_loads_alone_and_every_plot_has_a_size(browser, reports, tmp_path):
    browser.events.clear()
    browser.open(reports["html"].as_uri())
    assert browser.errors() == []
    assert browser.requests() == [reports["html"].as_uri()]  # nothing from anywhere else
    figures = sizes(browser, "figure.plot svg")
    assert [f["id"] for f in figures] == [f"s{i}-{k}" for i in (1, 2) for k in KEYS]
    assert all(f["width"] > 100 and f["height"] > 100 for f in figures), figures
    axes = sizes(
        browser, "figure.plot svg g[id$='-nnfix-loss'], figure.plot svg g[id$='-nnfix-gradcheck']"
    )
    assert len(axes) == 4 and all(a["width"] > 50 and a["height"] > 50 for a in axes), axes
    assert "symmetric-init" in browser.evaluate("document.querySelector('pre.report').innerText")
    shot = tmp_path / "report-html.png"
    browser.screenshot(shot)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000
    keep(shot)


def test_the_svg_report_loads_alone_and_every_plot_has_a_size(browser, reports, tmp_path):
    browser.events.clear()
    browser.open(reports["svg"].as_uri())
    assert browser.errors() == []
    assert browser.requests() == [reports["svg"].as_uri()]
    groups = sizes(browser, "g.nnfix-plot")
    assert [g["id"] for g in groups] == [f"s{i}-{k}" for i in (1, 2) for k in KEYS]
    assert all(g["width"] > 100 and g["height"] > 100 for g in groups), groups
    tops = browser.evaluate(
        "[...document.querySelectorAll('g.nnfix-plot')].map(g => g.getBoundingClientRect().top)"
    )
    assert tops == sorted(tops) and len(set(tops)) == len(tops)  # stacked, none on another
    shot = tmp_path / "report-svg.png"
    browser.screenshot(shot)
    assert shot.read_bytes().startswith(b"\x89PNG")
    keep(shot)


OUTSIDE = """JSON.stringify([...document.querySelectorAll('text')].filter(t => {
    const box = t.closest('svg').getBoundingClientRect(), r = t.getBoundingClientRect();
    return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1
        || r.top < box.top - 1 || r.bottom > box.bottom + 1);
}).map(t => t.textContent))"""


@pytest.fixture(scope="module")
def narrow(tmp_path_factory) -> dict[str, Path]:
    """One spec's SVG report (the narrowest a report gets) under the longest headline (another
    spec could not be read), and a run's loss.svg."""
    folder = tmp_path_factory.mktemp("narrow")
    out = {"report": folder / "report.svg", "loss": folder / "run" / "loss.svg"}
    args = ["diagnose", str(SPECS[1]), str(folder / "missing.yaml"), "--output", str(out["report"])]
    assert CliRunner().invoke(main, args).exit_code == 2
    args = ["train", str(SPECS[1]), "--no-progress", "--out", str(folder / "run")]
    assert CliRunner().invoke(main, args).exit_code == 0
    return out


@pytest.mark.parametrize("file", ["html", "svg"])
def test_every_text_of_a_report_is_whole_inside_its_plot(browser, reports, narrow, file):
    """Titles, headlines, labels: each drawn inside the picture it belongs to, none cut at its
    edge (the SVG report's headline was, at one spec's width)."""
    for page in [reports[file], *([narrow["report"]] if file == "svg" else [])]:
        browser.events.clear()
        browser.open(page.as_uri())
        assert json.loads(browser.evaluate(OUTSIDE)) == [], page.name


def test_a_runs_loss_plot_shows_the_label_prior(browser, narrow, tmp_path):
    browser.events.clear()
    browser.open(narrow["loss"].as_uri())
    assert browser.errors() == [] and browser.requests() == [narrow["loss"].as_uri()]
    words = browser.evaluate("document.documentElement.textContent")
    assert "label prior 3.251 (best constant prediction)" in " ".join(words.split())
    assert json.loads(browser.evaluate(OUTSIDE)) == []
    shot = tmp_path / "run-loss.png"
    browser.screenshot(shot)
    keep(shot)


def test_the_browser_check_sees_errors_and_requests(browser, tmp_path):
    """What the tests above find empty is really watched: a page that throws, logs an error and
    asks for a resource from elsewhere shows all three."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body><img src='http://127.0.0.1:9/x.png'>"
        "<script>console.error('logged'); throw new Error('thrown');</script></body></html>"
    )
    browser.events.clear()
    browser.open(page.as_uri())
    errors = browser.errors()
    assert any("thrown" in e for e in errors) and any("logged" in e for e in errors), errors
    assert "http://127.0.0.1:9/x.png" in browser.requests()
