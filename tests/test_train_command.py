"""`nnfix train`, `schema` and `--version` end to end: outputs, run directory, determinism,
Ctrl-C; what train prints at the widths of people's terminals (nothing cut, each figure named,
a run that did not learn said so); the schema's descriptions and examples."""

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import typing

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel, TypeAdapter
from rich.cells import cell_len
from rich.console import Console

from nnfix.cli import main
from nnfix.engine.layers import LAYERS
from nnfix.engine.train import EpochRecord
from nnfix.report.progress import TrainProgress
from nnfix.report.sparkline import sparkline
from nnfix.report.train_summary import render_summary
from nnfix.run.training import did_not_learn
from nnfix.spec.model import Spec

from .conftest import CONFIGS

SPEC = """
name: tiny
data: {source: xor, samples: 200, validation: 0.25}
model:
  layers:
    - {units: 6, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
train: {optimizer: adam, lr: 0.02, epochs: 5, batch_size: 16}
"""


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_version_and_help():
    from nnfix import __version__

    assert invoke("--version").output.strip() == f"nnfix, version {__version__}"
    assert "train" in invoke("--help").output


def test_schema_is_a_json_schema_of_the_spec():
    schema = json.loads(invoke("schema").output)
    assert schema["title"] == "nnfix spec"
    assert "required" not in schema  # data: is required but for a script (SPEC §3.2 E)
    assert schema["anyOf"][0] == {"required": ["data"]}
    script = schema["anyOf"][1]["properties"]["implementation"]["properties"]["script"]
    assert script["const"] is True
    # model and loss are required unless the user's code is the network (SPEC §3.1)
    assert schema["if"] == {"not": {"required": ["implementation"]}}
    assert set(schema["then"]["required"]) == {"model", "loss"}
    # a layer entry is one of the registered types, told apart by `type:` (default dense)
    layers = schema["$defs"]["ModelSpec"]["properties"]["layers"]["items"]["oneOf"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in layers} == {
        t.Spec.__name__ for t in LAYERS.values()
    }
    assert "type" not in schema["$defs"]["DenseSpec"]["required"]


def test_train_json_summary_and_run_directory(write_spec, tmp_path):
    spec = write_spec(SPEC)
    out = tmp_path / "run"
    result = invoke(
        "train",
        str(spec),
        "--format",
        "json",
        "--no-progress",
        "--out",
        str(out),
        "--set",
        "train.epochs=3",
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["epochs"] == 3 and len(summary["loss_curve"]) == 3
    assert summary["validation"]["accuracy"] is not None
    assert [layer["units"] for layer in summary["layers"]] == [6, 1]
    assert json.loads((out / "summary.json").read_text()) == summary
    weights = np.load(out / "weights.npz")
    assert sorted(weights.files) == ["W1", "W2", "b1", "b2"] and weights["W1"].shape == (2, 6)
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "grad_norm_W1",
        "grad_norm_W2",
    } <= rows[0].keys()
    resolved = yaml.safe_load((out / "spec.yaml").read_text())
    assert resolved["train"]["epochs"] == 3  # the override is in the resolved spec


def test_run_directories_are_numbered(write_spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = write_spec(SPEC)
    for _ in range(2):
        assert invoke("train", str(spec), "--no-progress", "--epochs", "1").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "runs" / "tiny").iterdir()) == ["1", "2"]


def test_resolved_spec_runs_from_its_run_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (
        invoke(
            "train", str(CONFIGS / "bars.yaml"), "--no-progress", "--epochs", "1", "--out", "a"
        ).exit_code
        == 0
    )
    again = invoke("train", "a/spec.yaml", "--no-progress", "--out", "b")
    assert again.exit_code == 0, again.stderr
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["epochs"] == 1


def test_same_seed_same_numbers_and_another_seed_differs(write_spec, tmp_path):
    spec = write_spec(SPEC)
    runs = []
    for name, seed in [("a", "0"), ("b", "0"), ("c", "1")]:
        result = invoke(
            "train",
            str(spec),
            "--format",
            "json",
            "--no-progress",
            "--seed",
            seed,
            "--out",
            str(tmp_path / name),
        )
        runs.append(json.loads(result.stdout))
    assert runs[0]["loss_curve"] == runs[1]["loss_curve"] and runs[0]["train"] == runs[1]["train"]
    assert (tmp_path / "a" / "metrics.csv").read_text() == (
        tmp_path / "b" / "metrics.csv"
    ).read_text()
    assert runs[0]["loss_curve"] != runs[2]["loss_curve"]


def test_plain_progress_lines_when_not_a_terminal(write_spec, tmp_path):
    result = invoke("train", str(write_spec(SPEC)), "--out", str(tmp_path / "run"))
    assert "epoch 1/5" in result.stderr and "epoch 5/5" in result.stderr
    assert "loss" in result.stdout and "accuracy" in result.stdout


def test_ctrl_c_saves_complete_files_and_exits_130(write_spec, tmp_path):
    spec = write_spec(
        SPEC.replace("epochs: 5", "epochs: 100000").replace("samples: 200", "samples: 2000")
    )
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnfix", "train", str(spec), "--out", str(out), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and "epoch" not in (proc.stderr.readline() or ""):
        pass
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped"] == "interrupted"
    assert json.loads(stdout)["epochs"] == summary["epochs"] >= 1
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert len(rows) == summary["epochs"]
    assert set(np.load(out / "weights.npz").files) == {"W1", "b1", "W2", "b2"}
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


# --- what `nnfix train` prints, at the widths people's terminals have ---------------------------

WIDTHS = [60, 80, 120]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?%?")


def rendered(renderable, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), force_terminal=True, color_system=None)
    console.print(renderable)
    return console.file.getvalue().splitlines()


def assert_whole(lines: list[str], width: int) -> None:
    """Every line fits, nothing is cut: no "…" anywhere (a number, a time, a header)."""
    for line in lines:
        assert cell_len(line) <= width, (width, line)
        assert "…" not in line, (width, line)


def progress_lines(width: int, record: EpochRecord, name: str = "spirals") -> list[str]:
    console = Console(width=width, file=io.StringIO(), force_terminal=True, color_system=None)
    with TrainProgress(console) as progress:
        progress.start(200, name)
        progress.epoch(record)
        assert progress.progress is not None  # the live bar of a terminal
        return rendered(progress.progress.get_renderable(), width)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_progress_bar_reads_whole_at_each_width(width):
    record = EpochRecord(20, 0.025212, 0.992, 0.17461, 0.978, 0.1, [0.1], 0.01)
    lines = progress_lines(width, record)
    assert len(lines) == 1
    assert_whole(lines, width)
    line = lines[0]
    # what SPEC §1 shows in the bar (epoch, loss, accuracy, ETA), each figure whole
    assert " 20/200" in line and "loss 0.02521" in line and "acc 99.2%" in line
    assert re.search(r"eta (\d+:\d\d:\d\d|-:--:--)( |$)", line)  # -:--:-- before a speed
    if width >= 80:
        assert "val 0.1746 / 97.8%" in line
    if width >= 120:
        assert line.startswith("spirals · epoch") and "━" in line


@pytest.mark.parametrize("width", WIDTHS)
def test_long_figures_and_a_long_name_are_left_out_whole_not_cut(width):
    record = EpochRecord(20, 1.2345e-05, 1.0, 123456.7, 0.5, 0.1, [0.1], 0.01)
    lines = progress_lines(width, record, name="a-spec-with-a-rather-long-name-indeed")
    for line in lines:
        assert cell_len(line) <= width, line
        shown = line.replace("a-spec-with-a-rather-long-name-i…", "")  # the name may end in …
        assert "…" not in shown, line
    assert "loss 1.234e-05" in lines[0]


DIVERGES = """
name: diverges
data: {source: linear, samples: 200}
model:
  layers:
    - {units: 8, activation: linear}
    - {units: 1, activation: linear}
loss: mse
train: {optimizer: sgd, lr: 10.0, epochs: 5, batch_size: 16}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    """The summaries of a healthy run, a run stuck on the label prior, one that ends worse than
    it began and one that diverges (trained once for the module)."""
    folder = tmp_path_factory.mktemp("runs")
    specs = {
        "healthy": folder / "tiny.yaml",
        "prior": CONFIGS / "story-zero-init.yaml",
        "worse": CONFIGS / "story-derivatives.yaml",
        "diverged": folder / "diverges.yaml",
    }
    specs["healthy"].write_text(SPEC)
    specs["diverged"].write_text(DIVERGES)
    out = {}
    for key, spec in specs.items():
        result = invoke(
            "train", str(spec), "--format", "json", "--no-progress", "--out", str(folder / key)
        )
        assert result.exit_code == 0, result.output  # training ran, whatever it learned
        out[key] = json.loads(result.stdout)
    return out


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("run", ["healthy", "prior", "worse", "diverged"])
def test_the_summary_reads_whole_at_each_width(runs, run, width):
    console = Console(width=width, file=io.StringIO(), force_terminal=True, color_system=None)
    render_summary(runs[run], console)
    lines = console.file.getvalue().splitlines()
    assert_whole(lines, width)
    summary = runs[run]
    # each gradient norm's first and last value is there whole, on its layer's row
    rows = [line.split() for line in lines if re.match(r"\s*\d+\s+\d+\s+\w", line)]
    assert len(rows) == len(summary["layers"])
    for row, layer in zip(rows, summary["layers"], strict=True):
        finite = [v for v in layer["grad_norm"] if v is not None]
        if finite:
            assert f"{finite[0]:.4g}" in row and f"{finite[-1]:.4g}" in row, row


def test_the_final_figures_are_named(runs):
    summary = runs["healthy"]
    console = Console(width=80, file=io.StringIO(), force_terminal=True, color_system=None)
    render_summary(summary, console)
    out = console.file.getvalue()
    last = summary["last_epoch"]
    # the last epoch's mean over its batches, as the bar and the loss curve end
    assert re.search(
        rf"epoch {last['epoch']}, batch mean +{last['loss']:.4g} +{last['accuracy']:.1%}", out
    )
    assert out.count(f"{last['loss']:.4g}") >= 2  # the curve ends on the same figure
    train, val = summary["train"], summary["validation"]
    assert re.search(rf"final, train set +{train['loss']:.4g} +{train['accuracy']:.1%}", out)
    assert re.search(rf"final, validation +{val['loss']:.4g} +{val['accuracy']:.1%}", out)
    assert last["loss"] != train["loss"]  # two different figures, two names


def test_zero_gradients_are_drawn_at_the_bottom():
    assert sparkline([0.0] * 5) == "▁" * 5  # no gradient: nothing, not mid-height
    assert sparkline([2.0] * 5) == "▄" * 5  # a constant gradient
    assert sparkline([0.0, 1.0]) == "▁█"


def test_a_layer_without_gradient_is_a_flat_bottom_line(runs):
    console = Console(width=100, file=io.StringIO(), force_terminal=True, color_system=None)
    render_summary(runs["prior"], console)  # all-zero init: no weight gets a gradient
    rows = [
        line for line in console.file.getvalue().splitlines() if re.match(r"\s+\d+\s+\d+\s", line)
    ]
    assert len(rows) == 2
    for row in rows:
        assert row.split()[-3:-1] == ["0", "0"] and set(row.split()[-1]) == {"▁"}, row


@pytest.mark.parametrize(
    ("run", "says"),
    [
        (
            "prior",
            r"the loss ends at 3\.25\d*, the best constant prediction's 3\.25\d* \(the label prior\)",
        ),
        ("worse", r"the loss ends at 1\.9\d*, no lower than at the start \(0\.6\d*\)"),
        ("diverged", r"the loss became non-finite at epoch 1 \(step \d+\)"),
    ],
)
def test_a_run_that_did_not_learn_says_so_in_one_line_naming_diagnose(runs, run, says):
    summary = runs[run]
    assert summary["did_not_learn"] == {"prior": "label_prior", "worse": "no_better"}.get(run, run)
    console = Console(width=400, file=io.StringIO(), force_terminal=True, color_system=None)
    render_summary(summary, console)
    last = console.file.getvalue().splitlines()[-1]
    assert re.fullmatch(rf"did not learn: {says}; run `nnfix diagnose \S+`", last), last
    assert last.endswith(f"nnfix diagnose {summary['spec']}`")


def test_a_run_that_learned_says_nothing_of_the_kind(runs):
    summary = runs["healthy"]
    assert summary["did_not_learn"] is None
    assert summary["train"]["loss"] < summary["start_loss"] < summary["prior_loss"] * 1.5
    console = Console(width=100, file=io.StringIO(), force_terminal=True, color_system=None)
    render_summary(summary, console)
    assert "did not learn" not in console.file.getvalue()


@pytest.mark.parametrize(
    ("start", "end", "prior", "diverged", "why"),
    [
        (0.70, 0.6935, 0.6931, False, "label_prior"),  # within 2 % of the prior
        (6.93, 3.252, 3.251, False, "label_prior"),  # fell from the start, onto the prior
        (0.70, 0.60, 0.6931, False, None),  # below the prior: it learned something
        (0.50, 0.499, 0.6931, False, "no_better"),  # fell by less than 1 %
        (0.50, 1.20, 0.6931, False, "no_better"),
        (0.50, 0.10, 0.6931, True, "diverged"),
        (0.50, None, 0.6931, False, "diverged"),  # the loss at the end is not finite
        (0.50, 0.10, None, False, None),  # no prior (no targets to take it from)
    ],
)
def test_whether_a_run_learned(start, end, prior, diverged, why):
    assert did_not_learn(start, end, prior, diverged) == why


# --- the schema: what an editor shows on hover --------------------------------------------------


def schema_properties(node, path=""):
    """(dotted path, property schema) of every property anywhere in the schema."""
    if isinstance(node, dict):
        for key, value in (node.get("properties") or {}).items():
            yield f"{path}.{key}", value
        for key, value in node.items():
            if key != "properties":
                yield from schema_properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for value in node:
            yield from schema_properties(value, path)


def test_every_key_of_the_schema_has_a_description():
    schema = json.loads(invoke("schema").output)
    properties = list(schema_properties(schema))
    assert len(properties) >= 95
    missing = [path for path, p in properties if not p.get("description")]
    assert not missing, f"keys without a description (a docstring under the field): {missing}"
    for path, p in properties:
        assert "\n" not in p["description"] and p["description"].strip() == p["description"], path


def model_fields(model=Spec, seen=None):
    """(model, name, field) of every field of the spec's models."""
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        yield model, name, field
        for inner in typing_args(field.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from model_fields(inner, seen)


def typing_args(annotation):
    yield annotation
    for arg in typing.get_args(annotation):
        yield from typing_args(arg)


def test_every_example_is_a_value_the_spec_accepts():
    examples = 0
    for *_, field in model_fields():
        kind = (
            typing.Annotated[field.annotation, *field.metadata]
            if field.metadata
            else field.annotation
        )
        for example in field.examples or ():
            TypeAdapter(kind).validate_python(example)  # raises if SPEC §2's example is refused
            examples += 1
    assert examples >= 40


def test_spec_2s_examples_are_shown():
    schema = json.loads(invoke("schema").output)
    defs = schema["$defs"]
    assert schema["properties"]["name"]["examples"] == ["moons-tanh"]
    assert "train.csv" in defs["DataSpec"]["properties"]["path"]["examples"]
    assert "1 - z**2" in defs["ActivationSpec"]["anyOf"][1]["properties"]["derivative"]["examples"]
    assert (
        "-(y/a + (1 - y/1 - a))"
        in defs["LossSpec"]["anyOf"][1]["properties"]["gradient"]["examples"]
    )
    assert {"name": "uniform", "low": 0, "high": 1} in defs["ModelSpec"]["properties"]["init"][
        "examples"
    ]
    assert "½‖a − y‖²" in defs["LossSpec"]["anyOf"][1]["properties"]["scale"]["description"]
