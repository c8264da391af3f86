"""`nnfix train`, `schema` and `--version` end to end: outputs, run directory, determinism, Ctrl-C."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import yaml
from click.testing import CliRunner

from nnfix.cli import main

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
    assert set(schema["required"]) == {"data"}
    # model and loss are required unless the user's code is the network (SPEC §3.1)
    assert schema["if"] == {"not": {"required": ["implementation"]}}
    assert set(schema["then"]["required"]) == {"model", "loss"}
    assert "LayerSpec" in schema["$defs"]


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
