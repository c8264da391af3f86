"""The run directory of SPEC §6: runs/<name>/<n>/ with the resolved spec, weights,
per-epoch metrics and the summary."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import yaml

from nnfix.engine.train import History
from nnfix.run.files import write_atomic, write_npz
from nnfix.spec.load import LoadedSpec
from nnfix.spec.usercode import REF


def new_run_dir(root: Path, name: str) -> Path:
    """runs/<name>/<n>/ with n one past the highest so far (created, so two runs never share)."""
    parent = root / name
    parent.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name) for p in parent.iterdir() if p.is_dir() and p.name.isdigit()]
    n = max(taken, default=0) + 1
    while True:
        try:
            (parent / str(n)).mkdir()
            return parent / str(n)
        except FileExistsError:
            n += 1


def resolved_spec(loaded: LoadedSpec) -> dict:
    """The spec as run: overrides applied, file paths made absolute so it runs from anywhere."""
    raw = json.loads(json.dumps(loaded.raw))
    base = loaded.base_dir
    data = raw.get("data", {})
    for key in ("path", "x", "y"):
        if isinstance(data.get(key), str) and not (
            data.get("source") == "npz" and key in ("x", "y")
        ):
            data[key] = str((base / data[key]).resolve())
    impl = raw.get("implementation")
    if isinstance(impl, dict) and isinstance(impl.get("module"), str):
        impl["module"] = str((base / impl["module"]).resolve())

    def absolute(node):
        if isinstance(node, dict):
            return {k: absolute(v) for k, v in node.items()}
        if isinstance(node, list):
            return [absolute(v) for v in node]
        if isinstance(node, str) and (match := REF.match(node)):
            return f"{(base / match['file']).resolve()}:{match['function']}"
        return node

    return absolute(raw)


def _number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def metrics_csv(history: History, depth: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    layers = [f"grad_norm_W{l}" for l in range(1, depth + 1)]
    writer.writerow(["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", *layers])
    for r in history.epochs:
        cells = [r.loss, r.accuracy, r.val_loss, r.val_accuracy, r.lr, *r.grad_norms]
        writer.writerow([r.epoch, *("" if c is None else f"{c:.8g}" for c in cells)])
    return out.getvalue()


def save_run(
    directory: Path,
    loaded: LoadedSpec,
    weights: dict[str, np.ndarray],
    history: History,
    summary: dict,
) -> None:
    """Every file of the run, each written atomically; the summary last, as the run's seal."""
    header = f"# resolved spec of run {directory} (overrides applied, paths absolute)\n"
    write_atomic(
        directory / "spec.yaml", header + yaml.safe_dump(resolved_spec(loaded), sort_keys=False)
    )
    write_npz(directory / "weights.npz", weights)
    write_atomic(directory / "metrics.csv", metrics_csv(history, len(loaded.spec.model.layers)))
    write_atomic(directory / "summary.json", json.dumps(summary, indent=2) + "\n")
