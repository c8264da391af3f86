"""The plots: what a diagnosis records for them (the series, against what the checks measured),
the SVG and HTML reports drawn from it, the run's loss.svg and gradients.svg, and what happens
without matplotlib. The pages in a real browser: tests/test_browser.py."""

from __future__ import annotations

import functools
import json
import math
import os
import re
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Report
from nnfix.diagnose.run import run
from nnfix.engine.train import EpochRecord, History
from nnfix.report.formats import html, svg
from nnfix.report.plots import training
from nnfix.spec.load import load_spec

from .conftest import CONFIGS, ROOT

SVG = "{http://www.w3.org/2000/svg}"
DERIVATIVES = CONFIGS / "story-derivatives.yaml"  # every gradient wrong (G101 on all 8)
ZERO = CONFIGS / "story-zero-init.yaml"  # the loss stuck at the label prior (T102)
UNIFORM = CONFIGS / "story-uniform-init.yaml"  # sigmoid layers saturated at init
MOONS = CONFIGS / "moons.yaml"  # healthy
SPIRALS = CONFIGS / "spirals.yaml"  # relu layers
ROWS_BUGGY = ROOT / "examples" / "rows-buggy" / "spec.yaml"  # the user's code, wrong gradients
TINY = """
name: tiny
data: {source: xor, samples: 200, validation: 0.25}
model:
  layers:
    - {units: 6, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
train: {optimizer: adam, lr: 0.02, epochs: 4, batch_size: 16}
"""


@functools.cache
def diagnosed(path: Path, quick: bool = False) -> Report:
    """One diagnosis per spec for the whole module (each takes about a second)."""
    return run([path], {}, quick=quick).report


def words(element: ET.Element) -> str:
    """The text of an SVG element, its lines joined by single spaces."""
    return " ".join(" ".join(element.itertext()).split())


def findings(report: Report, code: str) -> list:
    return [f for f in report.specs[0].findings if f.code == code]


# --- the series, against what the checks measured --------------------------------------------


def test_the_loss_curve_is_the_probe_the_plateau_rule_read():
    report = diagnosed(ZERO)
    series = report.specs[0].series
    (t102,) = findings(report, "T102")
    steps = t102.evidence["steps"]
    assert len(series.loss) == len(series.grad_norm) == steps
    assert {len(row) for row in series.grad_norm} == {2}  # one ‖dW‖ per layer per step
    quarter = steps // 4
    assert np.mean(series.loss[-quarter:]) == pytest.approx(t102.evidence["final_loss"])
    assert series.prior == pytest.approx(t102.evidence["prior_loss"])
    assert series.prior == pytest.approx(
        10 * -(0.1 * math.log(0.1) + 0.9 * math.log(0.9)), rel=0.01
    )


def test_the_label_prior_of_a_balanced_binary_set_is_ln2_and_a_summed_loss_scales_it():
    assert diagnosed(DERIVATIVES).specs[0].series.prior == pytest.approx(math.log(2))
    summed = Context(load_spec(DERIVATIVES, ["loss.reduction=sum"]))
    assert summed.prior_loss == pytest.approx(64 * math.log(2))  # per step: a batch of 64


@pytest.mark.parametrize("spec", [DERIVATIVES, MOONS, ROWS_BUGGY])
def test_the_gradcheck_pairs_are_marked_wrong_exactly_where_g101_fires(spec):
    report = diagnosed(spec)
    series = report.specs[0].series
    g101 = {f.location.parameter for f in findings(report, "G101")}
    assert {t.name for t in series.gradcheck if t.wrong} == g101
    assert len(series.gradcheck) == len(load_spec(spec).spec.model.layers) * 2  # W and b each
    assert all(len(t.backprop) == len(t.numeric) > 0 for t in series.gradcheck)
    if spec == MOONS:
        assert not g101
        right = [t for t in series.gradcheck if not t.verdict.startswith("unverifiable")]
        assert all(
            np.allclose(t.backprop, t.numeric, rtol=1e-4, atol=1e-9) for t in right
        )  # healthy: the pairs lie on y = x
    else:
        assert len(g101) == len(series.gradcheck)  # every tensor of these is wrong


def test_the_histograms_hold_every_pre_activation_and_the_shares_in_the_flat_zones():
    for spec, zone in ((UNIFORM, "saturated"), (SPIRALS, "dead")):
        series = diagnosed(spec, quick=True).specs[0].series
        init = Context(load_spec(spec)).init  # the same seed: the same values at init
        assert init is not None
        for layer, z in zip(series.preactivations, init.cache.z, strict=True):
            assert layer.counts.sum() == z.size
            assert len(layer.edges) == len(layer.counts) + 1
            if layer.activation in ("sigmoid", "tanh"):
                assert layer.saturated == pytest.approx(np.mean(np.abs(z) > 4.0))
                assert layer.edges[0] <= -4 and layer.edges[-1] >= 4  # the zones in sight
            if layer.activation == "relu":
                assert layer.dead == pytest.approx(np.mean(z <= 0.0))
                assert layer.saturated is None
        shares = [getattr(p, zone) for p in series.preactivations[:-1]]
        assert max(shares) > 0.3  # what the story is about: its hidden layers are flat
    assert diagnosed(UNIFORM, quick=True).specs[0].series.preactivations[0].saturated == 1.0


def test_quick_leaves_the_probe_plots_out_saying_why():
    report = diagnosed(ZERO, quick=True)
    series = report.specs[0].series
    assert series.loss == [] and series.grad_norm == []
    assert series.why["probe"] == "--quick skips the training probe"
    doc = ET.fromstring(svg.render(report))
    assert [g.get("data-plot") for g in plot_groups(doc)] == ["preactivations", "gradcheck"]
    notes = [g for g in doc.iter(f"{SVG}g") if g.get("class") == "nnfix-note"]
    assert len(notes) == 2
    assert all("not drawn — --quick skips the training probe." in words(g) for g in notes)
    page = html.render(report)
    assert page.count("Not drawn: --quick skips the training probe.") == 2
    assert page.count("<svg") == 2


# --- the SVG report ---------------------------------------------------------------------------


def plot_groups(doc: ET.Element) -> list[ET.Element]:
    return [g for g in doc.iter(f"{SVG}g") if g.get("class") == "nnfix-plot"]


def test_the_svg_is_one_document_with_a_group_per_plot_and_ids_of_its_own():
    report = Report(diagnosed(DERIVATIVES).specs + diagnosed(ZERO).specs)
    text = svg.render(report)
    doc = ET.fromstring(text)
    assert doc.tag == f"{SVG}svg"
    groups = plot_groups(doc)
    keys = ["loss", "gradients", "preactivations", "gradcheck"]
    assert [g.get("data-plot") for g in groups] == keys * 2
    assert all(len(g.findall(f"{SVG}svg")) == 1 for g in groups)  # each plot nested whole
    ids = [e.get("id") for e in doc.iter() if e.get("id")]
    assert len(ids) == len(set(ids))  # two specs' plots, no id twice
    refs = re.findall(r'(?:href="#|url\(#)([^")]+)', text)
    assert refs and set(refs) <= set(ids)  # every clip path and marker found in the document
    text = words(doc)
    assert "story-derivatives (" in text and "story-zero-init (" in text
    assert "A102 derivative-wrong-argument (layers 1, 2, 3)" in text
    assert "Y101 symmetric-init (W1)" in text
    assert "label prior 0.6931" in text  # the plateau is labelled, as text
    assert "8 of 8 tensors wrong" in text


def test_the_svg_headline_is_whole_and_counts_in_words():
    doc = ET.fromstring(svg.render(diagnosed(ZERO)))
    width = float(doc.get("viewBox").split()[2])
    head = [t for t in doc.findall(f"{SVG}text") if "font-weight: bold" in t.get("style")]
    lines = [t.text for t in head if "13px" in t.get("style")]
    assert (
        " ".join(lines)
        == "nnfix diagnose: FAIL — 1 spec: 4 errors, 1 warning, 1 info (fail on error)"
    )
    # wrapped where a bold 13 px line of DejaVu Sans (~0.62 em a character) would run out
    assert len(lines) == 2 and all(
        len(line) * 13 * 0.62 <= width - 2 * svg.MARGIN for line in lines
    )


def test_the_gradient_check_has_a_tick_where_its_points_are():
    """The zero-init story's values all lie between 0.34 and 0.45, beyond its decade ticks
    (±0.1): a tick among them says where they are."""
    from nnfix.report.plots import gradcheck

    series = diagnosed(ZERO).specs[0].series
    values = np.abs(np.concatenate([np.r_[t.backprop, t.numeric] for t in series.gradcheck]))
    top = values.max()
    fig = gradcheck.draw(series)
    ax = fig.axes[0]
    for ticks, (lo, hi) in ((ax.get_xticks(), ax.get_xlim()), (ax.get_yticks(), ax.get_ylim())):
        assert all(lo <= t <= hi for t in ticks)
        near = [t for t in ticks if top / gradcheck.NEAR <= abs(t) <= top]
        assert len(near) == 2, ticks  # one on each side of 0
    assert [t.get_text() for t in ax.get_xticklabels()] == ["−0.4", "−0.1", "0", "0.1", "0.4"]


@pytest.mark.parametrize(
    ("linthresh", "limit", "top", "ticks"),
    [
        (0.34, 0.906, 0.453, [0.1, 0.4]),  # the zero-init story: a tick among the points
        (1e-3, 1.51, 0.755, [0.01, 1.0]),  # 1 is within a factor 3 of the largest point
        (2e-4, 0.306, 0.153, [0.001, 0.01, 0.1]),  # 0.1, too
        (1e-9, 8e-5, 4e-5, [1e-9, 1e-7, 1e-5, 4e-5]),  # decades thinned to three, and the top
    ],
)
def test_gradient_check_ticks(linthresh, limit, top, ticks):
    from nnfix.report.plots import gradcheck

    got = gradcheck._ticks(linthresh, limit, top)
    assert got == pytest.approx([-v for v in reversed(ticks)] + [0.0] + ticks)


def test_the_svg_is_reproducible_and_undated():
    report = diagnosed(DERIVATIVES)
    first, second = svg.render(report), svg.render(report)
    assert first == second
    assert "dc:date" not in first and "<metadata" not in first


def test_a_spec_that_could_not_be_read_is_an_error_in_the_svg(write_spec):
    bad = write_spec("name: x\nmodel: {layers: []}\n")
    report = run([bad], {}, quick=True).report
    text = words(ET.fromstring(svg.render(report)))
    assert text.startswith("nnfix diagnose: ERROR — 1 spec could not be read")
    assert f"ERROR {bad}:2:" in text


# --- the HTML report --------------------------------------------------------------------------


def test_the_html_page_is_self_contained_with_the_report_and_every_plot(tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["diagnose", str(ZERO), "--output", str(out)])
    assert result.exit_code == 1
    assert "Y101 symmetric-init" in result.stdout  # the terminal keeps the rich report
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page  # no resource, no namespace URL
    assert not re.search(r"<(script|link|img|iframe|object)\b|@import|\bsrc=", page)
    assert {m for m in re.findall(r'href="([^"]*)"', page)} <= {
        m for m in re.findall(r'href="(#[^"]+)"', page)
    }  # only links within the page
    assert "Y101" in page and "symmetric-init" in page  # the report's text
    figures = re.findall(r'<figure class="plot[^"]*"[^>]*data-plot="(\w+)"', page)
    assert figures == ["loss", "gradients", "preactivations", "gradcheck"]
    assert page.count("<svg") == 4 and "Not drawn" not in page


def test_format_html_and_svg_go_to_stdout():
    for fmt, start in (("html", "<!DOCTYPE html>"), ("svg", "<svg")):
        result = CliRunner().invoke(main, ["diagnose", str(ZERO), "--quick", "--format", fmt])
        assert result.exit_code == 1
        assert result.stdout.startswith(start)


# --- the run's plots --------------------------------------------------------------------------


def test_train_writes_loss_and_gradient_plots_with_the_umask(write_spec, tmp_path):
    spec = write_spec(TINY)
    previous = os.umask(0o027)
    try:
        result = CliRunner().invoke(
            main, ["train", str(spec), "--no-progress", "--out", str(tmp_path / "run")]
        )
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    loss = ET.parse(tmp_path / "run" / "loss.svg").getroot()
    gradients = ET.parse(tmp_path / "run" / "gradients.svg").getroot()
    for plot in ("loss.svg", "gradients.svg"):
        assert stat.S_IMODE((tmp_path / "run" / plot).stat().st_mode) == 0o666 & ~0o027
    gids = {g.get("id") for g in loss.iter(f"{SVG}g")}
    assert {"loss-nnfix-loss", "loss-nnfix-accuracy"} <= gids  # loss and accuracy
    assert "train" in words(loss) and "validation" in words(loss)
    assert "layer 1 (tanh)" in words(gradients) and "layer 2 (sigmoid)" in words(gradients)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({}, "label prior {:.4g} (best constant prediction)"),
        # summed over a batch of 16 of the 150 training samples: the curve's units are a batch's
        ({"loss": {"name": "bce", "reduction": "sum"}}, "label prior {:.4g} (best constant"),
        (
            {
                "data": {"source": "linear", "samples": 200},
                "model": {
                    "layers": [
                        {"units": 4, "activation": "tanh"},
                        {"units": 1, "activation": "linear"},
                    ]
                },
                "loss": "mse",
            },
            "best constant prediction {:.4g} (the targets' mean)",
        ),
    ],
)
def test_train_draws_the_label_prior_on_its_loss_plot(write_spec, tmp_path, changes, says):
    """As diagnose's loss plot does: the loss a net that ignores its input settles at."""
    spec = yaml.safe_load(TINY) | changes
    path = write_spec(yaml.safe_dump(spec))
    result = CliRunner().invoke(
        main,
        ["train", str(path), "--no-progress", "--format", "json", "--out", str(tmp_path / "r")],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    prior = summary["prior_loss"]  # over the whole training set, as the summary's train loss
    if isinstance(spec["loss"], dict):  # reduction: sum, a batch's share of it
        prior *= 16 / summary["samples"]["train"]
    assert says.format(prior) in words(ET.parse(tmp_path / "r" / "loss.svg").getroot())


def test_a_run_without_an_epoch_or_with_a_divergence_is_still_drawn():
    empty = ET.fromstring(training.loss_svg(History(), "bce, mean over the batch"))
    assert "no epoch finished" in words(empty)
    assert "no epoch finished" in words(ET.fromstring(training.gradients_svg(History(), ["tanh"])))
    records = [
        EpochRecord(1, 0.7, 0.5, 0.7, 0.5, 0.1, [0.3, 0.2], 0.01),
        EpochRecord(2, math.nan, None, None, None, 0.1, [math.inf, 0.0], 0.01),
    ]
    diverged = History(records, steps=20, stopped="diverged", diverged_at=(2, 13))
    for text in (
        training.loss_svg(diverged, "bce, mean over the batch"),
        training.gradients_svg(diverged, ["tanh", "sigmoid"]),
    ):
        assert "loss not finite from epoch 2" in words(ET.fromstring(text))


# --- without matplotlib -----------------------------------------------------------------------


def without_matplotlib(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`nnfix ARGS` in a process where importing matplotlib fails, as where it is not installed."""
    script = (
        "import sys; sys.modules['matplotlib'] = None; "
        f"sys.argv = ['nnfix', *{list(args)!r}]; "
        "from nnfix.__main__ import run; run()"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_matplotlib_diagnose_refuses_plots_before_it_diagnoses(tmp_path):
    for args in (("--output", "report.html"), ("--output", "report.svg"), ("--format", "svg")):
        done = without_matplotlib("diagnose", str(ZERO), "--quick", *args, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        assert f"{args[0]} {args[1]}: the plots need matplotlib" in done.stderr
        assert "pip install 'nnfix[plots]'" in done.stderr
        assert done.stdout == ""  # refused before the diagnosis: no report was made
    assert list(tmp_path.iterdir()) == []
    other = without_matplotlib("diagnose", str(ZERO), "--quick", "--output", "r.json", cwd=tmp_path)
    assert other.returncode == 1 and json.loads((tmp_path / "r.json").read_text())


def test_without_matplotlib_train_saves_the_run_and_says_so_in_one_line(tmp_path):
    (tmp_path / "spec.yaml").write_text(TINY)
    done = without_matplotlib("train", "spec.yaml", "--no-progress", "--out", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "metrics.csv",
        "spec.yaml",
        "summary.json",
        "weights.npz",
    ]
    said = [line for line in done.stdout.splitlines() if "nnfix[plots]" in line]
    assert said == [
        "loss.svg and gradients.svg were not drawn: the plots need matplotlib, which is not "
        "installed: pip install 'nnfix[plots]'"
    ]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["notes"] == said


def test_hostile_numbers_and_names_are_drawn_not_crashed_on():
    """Non-finite losses and gradients, values near the float limit, zero spread, a name that
    would start matplotlib's mathematics or hold a control character, and a deep net with many
    wrong tensors: every plot is still drawn and the documents stay well-formed."""
    from nnfix.diagnose.findings import SpecReport
    from nnfix.diagnose.series import Series, TensorPairs, preactivation
    from nnfix.engine.activations import get
    from nnfix.engine.layers.layer import LayerActivation

    depth = 20
    weird = LayerActivation("acts.py:$x$\x1b[31m", np.tanh, None, get("tanh"))
    z = [np.full((8, 3), 1e300), np.full((8, 3), np.nan), np.zeros((8, 1))]
    pairs = [
        TensorPairs(
            f"W{l}",
            l,
            np.array([1e300, -np.inf, 1.0]),
            np.array([1.0, 2.0, np.nan]),
            True,
            "wrong: zero: x",
        )
        for l in range(1, depth + 1)
    ]
    series = Series(
        loss_name="bce",
        loss=[np.nan, np.inf, 1e308, 0.5],
        grad_norm=[[np.inf] * depth, [0.0] * depth, [np.nan] * depth, [1e-300] * depth],
        prior=0.69,
        diverged_at=0,
        preactivations=[preactivation(l, weird, v) for l, v in enumerate(z, start=1)],
        gradcheck=pairs,
        layers=[weird.name] * depth,
    )
    report = Report([SpecReport("weird <&> \x1b.yaml", "we\x1bird", series=series)])
    doc = ET.fromstring(svg.render(report))
    assert len(plot_groups(doc)) == 4
    text = words(doc)
    assert "\x1b" not in text and "\\x1b" in text  # escaped, as everywhere else
    assert "acts.py:$x$" in text  # shown as written, not as mathematics
    assert "also wrong: W11, W12" in text  # ten wrong tensors named, the rest together
    page = html.render(report)
    assert page.count("<svg") == 4 and "\x1b" not in page


@pytest.mark.parametrize(
    "z",
    [
        np.full((4, 2), 1e20),  # all the same, far from 0: bins of width 0 in floating point
        np.array([[-1e308, 1e308]]),  # a range wider than the largest float
        np.array([[1e20, 1e20 + 1e6]]),  # a spread below the values' rounding
        np.zeros((3, 3)),
        np.array([[np.nan, np.inf, 1.0]]),
    ],
)
@pytest.mark.parametrize("name", ["linear", "relu", "tanh"])
def test_a_histogram_is_made_of_any_finite_pre_activations(name, z):
    """What an extreme init gives (the fuzzer's `init: {name: normal, std: 1e308}`)."""
    from nnfix.diagnose.series import preactivation
    from nnfix.engine.activations import get
    from nnfix.engine.layers.layer import LayerActivation

    with np.errstate(all="ignore"):
        p = preactivation(1, LayerActivation(name, np.tanh, None, get(name)), z)
    assert p.counts.sum() == np.isfinite(z).sum()
    assert np.all(np.isfinite(p.edges)) and np.all(np.diff(p.edges) > 0)


def test_an_extreme_init_is_diagnosed_and_drawn(write_spec, tmp_path):
    spec = write_spec(TINY.replace("model:\n", "model:\n  init: {name: normal, std: 1e308}\n"))
    out = tmp_path / "report.svg"
    result = CliRunner().invoke(main, ["diagnose", str(spec), "--quick", "--output", str(out)])
    assert result.exit_code in (0, 1), result.stderr
    doc = ET.parse(out).getroot()
    assert [g.get("data-plot") for g in plot_groups(doc)] == ["preactivations"]
    assert (
        "gradient check at init: backprop against finite differences: not drawn — the loss at init is not finite"
        in words(doc).lower()
    )
