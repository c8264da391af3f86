"""The cost of pointing at the user's line (SPEC §3): one call of their backward as nnfix
makes it, beside the same call under the line tracer, and the whole search for the culprit
(tracer, true intermediates, comparison), side by side in one run, as ratios.

Run on every correct case of tests/usercode/ and on the largest: an MNIST-sized net (784 →
256 → 128 → 10, batch 32) written in the deeplearning.ai style, with a bug planted so the
search runs to the end.

    python benchmarks/bench_trace.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nnfix.diagnose.context import Context, Options  # noqa: E402
from nnfix.spec.load import load_spec  # noqa: E402
from nnfix.usercode.culprit import Judge, Search, trace_gradients  # noqa: E402
from nnfix.usercode.truth import Truth  # noqa: E402

CASES = ROOT / "tests" / "usercode"
LARGE = """
seed: 0
data: {source: blobs, samples: 256, features: 784, classes: 10}
model:
  init: he_normal
  layers:
    - {units: 256, activation: relu}
    - {units: 128, activation: relu}
    - {units: 10, activation: sigmoid}
loss: bce
train: {lr: 0.1, epochs: 1, batch_size: 32}
implementation:
  module: deep_nn.py
  forward: L_model_forward
  backward: L_model_backward
"""


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(spec: Path, runs: int) -> dict:
    cwd = os.getcwd()
    os.chdir(spec.parent)
    try:
        ctx = Context(load_spec(spec), Options(quick=True))
        model = ctx.user
        batch = ctx.user_batch
        plain = timed(lambda: model.gradients(batch), runs)
        traced = timed(lambda: trace_gradients(model, batch), runs)

        def search() -> None:
            trace = trace_gradients(model, batch)
            assert trace is not None
            b = trace.batch
            truth = Truth(model, ctx.network, ctx.loss, b.x, b.y, b.labels)
            found = Search(
                trace,
                truth,
                Judge(truth, 1.0, model.precision),
                {s.name: (s.layer, s.role) for s in ctx.network.slots},
            )
            found.gradient(ctx.network.slots[0].name)

        whole = timed(search, runs)
        steps = len(trace_gradients(model, batch).tracer.steps)  # type: ignore[union-attr]
    finally:
        os.chdir(cwd)
    return {"plain": plain, "traced": traced, "search": whole, "steps": steps}


def large_case(folder: Path) -> Path:
    """The deeplearning.ai case at MNIST size (the code is size-agnostic): ten sigmoid
    outputs with BCE, as that course's code has."""
    shutil.copytree(CASES / "dlai-deep-columns", folder)
    (folder / "spec.yaml").write_text(LARGE, encoding="utf-8")
    return folder / "spec.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    specs = sorted(CASES.glob("*/spec.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            rows.append({"case": spec.parent.name, **measure(spec, args.runs)})
        large = large_case(Path(tmp) / "mnist-sized")
        try:
            rows.append({"case": "mnist-sized (784-256-128-10)", **measure(large, args.runs)})
        except Exception as exc:  # the large case must not hide the others' figures
            print(f"mnist-sized case skipped: {exc}", file=sys.stderr)
    for r in rows:
        r["ratio"] = r["traced"] / r["plain"]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"one backward call vs the same call traced, median of {args.runs} runs")
    print(
        f"{'case':<32} {'plain ms':>9} {'traced ms':>10} {'ratio':>6} {'search ms':>10} {'lines':>6}"
    )
    for r in rows:
        print(
            f"{r['case']:<32} {r['plain'] * 1e3:>9.1f} {r['traced'] * 1e3:>10.1f} "
            f"{r['ratio']:>6.1f} {r['search'] * 1e3:>10.1f} {r['steps']:>6}"
        )


if __name__ == "__main__":
    main()
