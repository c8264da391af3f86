"""Training throughput of nnfix's engine beside PyTorch on the CPU, in one process (SPEC §8).

What it measures
    The MLP 784-256-128-10 (relu, relu, softmax output with categorical cross-entropy),
    batch 128, float32, plain SGD with lr 0.01, on 60 batches of N(0, 1) inputs with random
    labels. Both sides start from the same weights: nnfix's own he_normal initialisation,
    copied into torch (nnfix keeps W as (n_in, n_out), nn.Linear as (n_out, n_in)).

    - nnfix: the network is built the way `nnfix train` builds it (a spec YAML and an .npz
      file in a temporary directory, `load_spec` + `prepare`), and one step is
      `Trainer.step(x, y, lr)` — what `Trainer.fit`, and so `nnfix train`, runs for every
      minibatch: forward, loss, backward, SGD update.
    - PyTorch: nn.Linear + nn.ReLU, nn.CrossEntropyLoss on the logits, torch.optim.SGD;
      one step is zero_grad, forward, loss, backward, optimiser step, loss.item() (the
      engine's step also returns its loss as a Python float).

    After a warm-up, `--repeats` blocks of `--steps` steps are timed for each side,
    interleaved (engine, torch, engine, torch, ...) so that machine noise hits both; the
    figure is the median steps/s. Each block starts after a pause (`--pause`, 0.3 s): after
    its last call OpenBLAS keeps its worker threads spinning for about 0.1 s (and torch's
    OpenMP threads spin too), so a torch block started straight after an engine block
    shares a core with them. Measured on 2 cores: torch 662 steps/s with no pause, 976
    with 0.1 s, ~980 from 0.1 s on; the engine did not change.

    The machine's float32 matmul peak is the median GFLOP/s of a 2048x2048 NumPy matmul at
    the same thread count (three after each round, so noise hits it too). The engine's
    GFLOP/s counts only the matmuls of a step: forward 2·B·Σ n_in·n_out, weight gradients
    2·B·Σ n_in·n_out and input gradients of every layer but the first 2·B·Σ_{l>1} n_in·n_out;
    elementwise work (bias, activations, softmax, loss, optimiser update) is not counted.

    Targets (SPEC §8): engine/torch ratio >= 1.0, engine share of the matmul peak >= 50 %.
    The script always exits 0: it is a measurement, not a test.

How to run
    pip install -e '.[bench]'          # PyTorch (the CPU wheel); without it only nnfix runs
    python benchmarks/bench_train.py   # threads: --threads or NNFIX_BENCH_THREADS, else all
    python benchmarks/bench_train.py --threads 2 --steps 200 --repeats 5 --json

NumPy is imported only after the thread limits are set (OpenBLAS reads them when it loads),
which is why the functions below import it themselves.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

SIZES = (784, 256, 128, 10)
BATCH = 128
BATCHES = 60
LR = 0.01
SEED = 0
MATMUL_N = 2048
TARGET_RATIO = 1.0
TARGET_SHARE = 0.5

SPEC_YAML = f"""\
name: bench-mlp
seed: {SEED}
data: {{source: npz, path: data.npz}}
model:
  init: he_normal
  bias_init: zeros
  layers:
    - {{units: {SIZES[1]}, activation: relu}}
    - {{units: {SIZES[2]}, activation: relu}}
    - {{units: {SIZES[3]}, activation: softmax}}
loss: cce
train: {{optimizer: sgd, lr: {LR}, batch_size: {BATCH}, dtype: float32}}
"""

_limiter = None  # threadpoolctl's limits stay in force while this object lives
ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("nnfix") is None and (ROOT / "nnfix").is_dir():
    sys.path.insert(0, str(ROOT))  # run from a checkout without `pip install -e .`


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_threads = int(os.environ.get("NNFIX_BENCH_THREADS") or os.cpu_count() or 1)
    parser.add_argument(
        "--threads",
        type=int,
        default=default_threads,
        help="threads for both NumPy's BLAS and torch (default: $NNFIX_BENCH_THREADS, else "
        f"os.cpu_count() = {os.cpu_count()})",
    )
    parser.add_argument("--steps", type=int, default=200, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per side")
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps per side first")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.3,
        help="seconds of idle before each timed block, so the other side's spinning BLAS/OpenMP "
        "threads have gone to sleep (default 0.3)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if min(args.threads, args.steps, args.repeats) < 1 or min(args.warmup, args.pause) < 0:
        parser.error(
            "--threads, --steps and --repeats must be at least 1, --warmup and --pause >= 0"
        )
    return args


def limit_threads(n: int) -> str:
    """Limit BLAS/OpenMP to n threads: env vars (before NumPy loads), threadpoolctl if there."""
    global _limiter
    how = []
    if "numpy" not in sys.modules:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(n)
        how.append("OPENBLAS/OMP/MKL_NUM_THREADS")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        _limiter = threadpool_limits(limits=n)
        how.append("threadpoolctl")
    return " + ".join(how) or "nothing (NumPy was already imported and threadpoolctl is missing)"


def step_flops() -> int:
    """Matmul FLOPs of one training step (elementwise work not counted)."""
    pairs = [SIZES[i] * SIZES[i + 1] for i in range(len(SIZES) - 1)]
    return 2 * BATCH * (sum(pairs) + sum(pairs) + sum(pairs[1:]))


def matmul_operands():
    """Two N x N float32 matrices and an output buffer for the peak measurement."""
    import numpy as np

    rng = np.random.default_rng(1)
    a = rng.standard_normal((MATMUL_N, MATMUL_N), dtype=np.float32)
    b = rng.standard_normal((MATMUL_N, MATMUL_N), dtype=np.float32)
    return a, b, np.empty_like(a)


def matmul_rates(operands, repeats: int) -> list[float]:
    """GFLOP/s of `repeats` N x N float32 NumPy matmuls."""
    import numpy as np

    a, b, out = operands
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        rates.append(2 * MATMUL_N**3 / (time.perf_counter() - start) / 1e9)
    return rates


def build_engine(workdir: Path):
    """nnfix's trainer and batches, built as `nnfix train` builds them, from a temporary spec."""
    import numpy as np

    from nnfix.engine.train import Trainer
    from nnfix.run import prepare
    from nnfix.spec.load import load_spec

    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((BATCHES * BATCH, SIZES[0]), dtype=np.float32)
    labels = rng.integers(0, SIZES[-1], size=BATCHES * BATCH)
    np.savez(workdir / "data.npz", x=x, y=labels)
    (workdir / "bench.yaml").write_text(SPEC_YAML)
    loaded = load_spec(workdir / "bench.yaml")
    prepared = prepare.prepare(loaded)
    trainer = Trainer(prepared.network, prepared.loss, loaded.spec.train, prepared.batch_rng)
    x, y = prepared.data.x_train, prepared.y_train
    assert x.dtype == y.dtype == np.float32, (x.dtype, y.dtype)
    assert all(p.dtype == np.float32 for p in prepared.network.params)
    batches = [(x[k : k + BATCH], y[k : k + BATCH]) for k in range(0, len(x), BATCH)]
    return trainer, batches


def build_torch(network, batches, threads: int):
    """The same MLP in torch, from the engine's current weights, and one training step."""
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    layers: list[nn.Module] = []
    for i, layer in enumerate(network.layers):
        W, b = layer.W, layer.b
        linear = nn.Linear(*W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b.reshape(-1)))
        layers.append(linear)
        if i < network.depth - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    criterion = nn.CrossEntropyLoss()
    tbatches = [(torch.from_numpy(x), torch.from_numpy(y.argmax(axis=1))) for x, y in batches]

    def step(x, y) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step, tbatches


def agreement(trainer, batches, threads: int, steps: int = 5) -> float:
    """Largest |loss difference| over a few steps from the same weights: the same computation."""
    from nnfix.engine.train import Trainer

    engine = Trainer(trainer.network.copy(), trainer.loss, trainer.train, trainer.rng)
    torch_step, tbatches = build_torch(engine.network, batches, threads)
    diffs = []
    for (x, y), (tx, ty) in zip(batches[:steps], tbatches[:steps], strict=True):
        ours, _, _ = engine.step(x, y, LR)
        diffs.append(abs(ours - torch_step(tx, ty)))
    return max(diffs)


def rate(step, batches, steps: int, pause: float = 0.0) -> float:
    """Steps per second over `steps` steps cycling through `batches`, after `pause` seconds idle."""
    time.sleep(pause)
    n = len(batches)
    start = time.perf_counter()
    for i in range(steps):
        x, y = batches[i % n]
        step(x, y)
    return steps / (time.perf_counter() - start)


def measure(args: argparse.Namespace, how: str) -> dict:
    import numpy as np

    try:
        import torch
    except ImportError:
        torch = None

    with tempfile.TemporaryDirectory(prefix="nnfix-bench-") as tmp:
        trainer, batches = build_engine(Path(tmp))
    figures: dict = {
        "threads": args.threads,
        "thread_limits": how,
        "numpy": np.__version__,
        "torch": torch.__version__ if torch else None,
        "sizes": list(SIZES),
        "batch": BATCH,
        "steps": args.steps,
        "repeats": args.repeats,
        "pause_s": args.pause,
        "step_mflop": step_flops() / 1e6,
    }

    def engine_step(x, y):
        return trainer.step(x, y, LR)

    sides = {"engine": (engine_step, batches)}
    if torch is not None:
        figures["loss_agreement"] = agreement(trainer, batches, args.threads)
        sides["torch"] = build_torch(trainer.network, batches, args.threads)
        figures["torch_threads"] = torch.get_num_threads()

    # warm up, then rounds of: engine block, torch block, a few peak matmuls
    operands = matmul_operands()
    matmul_rates(operands, 2)
    for step, data in sides.values():
        rate(step, data, args.warmup)
    rates: dict[str, list[float]] = {name: [] for name in sides}
    peak: list[float] = []
    for _ in range(args.repeats):
        for name, (step, data) in sides.items():
            rates[name].append(rate(step, data, args.steps, args.pause))
        time.sleep(args.pause)
        peak += matmul_rates(operands, 3)
    figures["matmul_peak_gflops"] = statistics.median(peak)
    figures["matmul_runs"] = peak

    engine = statistics.median(rates["engine"])
    figures["engine_steps_per_s"] = engine
    figures["engine_runs"] = rates["engine"]
    figures["engine_gflops"] = engine * step_flops() / 1e9
    figures["engine_share_of_peak"] = figures["engine_gflops"] / figures["matmul_peak_gflops"]
    if "torch" in rates:
        figures["torch_steps_per_s"] = statistics.median(rates["torch"])
        figures["torch_runs"] = rates["torch"]
        figures["ratio_engine_torch"] = engine / figures["torch_steps_per_s"]
    else:
        figures["torch_steps_per_s"] = figures["ratio_engine_torch"] = None
    figures["pass_ratio"] = (
        figures["ratio_engine_torch"] >= TARGET_RATIO
        if figures["ratio_engine_torch"] is not None
        else None
    )
    figures["pass_share"] = figures["engine_share_of_peak"] >= TARGET_SHARE
    return figures


def table(f: dict) -> str:
    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "MISS")

    def spread(runs: list[float] | None) -> str:
        return f"runs {min(runs):.0f}–{max(runs):.0f}" if runs else ""

    torch_rate = f["torch_steps_per_s"]
    ratio = f["ratio_engine_torch"]
    rows = [
        ("engine steps/s", f"{f['engine_steps_per_s']:.1f}", "", spread(f["engine_runs"])),
        (
            "torch steps/s",
            "n/a" if torch_rate is None else f"{torch_rate:.1f}",
            "",
            spread(f.get("torch_runs")),
        ),
        (
            "ratio engine/torch",
            "n/a" if ratio is None else f"{ratio:.2f}",
            f">= {TARGET_RATIO:.1f}",
            verdict(f["pass_ratio"]),
        ),
        ("matmul peak GFLOP/s", f"{f['matmul_peak_gflops']:.1f}", "", spread(f["matmul_runs"])),
        ("engine GFLOP/s", f"{f['engine_gflops']:.1f}", "", ""),
        (
            "share of peak",
            f"{100 * f['engine_share_of_peak']:.1f} %",
            f">= {100 * TARGET_SHARE:.0f} %",
            verdict(f["pass_share"]),
        ),
    ]
    lines = [
        f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float32, SGD lr {LR}; "
        f"{f['repeats']} x {f['steps']} steps per side, interleaved, "
        f"{f['pause_s']:g} s idle before each block, median",
        f"threads: {f['threads']} (limited by {f['thread_limits']}"
        + (f"; torch.get_num_threads() = {f['torch_threads']}" if f["torch"] else "")
        + ")",
        f"numpy {f['numpy']}, torch {f['torch'] or 'not installed'}; "
        f"matmul FLOPs per step {f['step_mflop']:.1f} M (elementwise work not counted)",
    ]
    if "loss_agreement" in f:
        lines.append(
            f"loss agreement over 5 steps from the same weights: {f['loss_agreement']:.2e}"
        )
    lines.append("")
    lines.append(f"{'':22}{'measured':>12}  {'target':>8}  result")
    lines += [
        f"{name:22}{value:>12}  {target:>8}  {result}" for name, value, target, result in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    how = limit_threads(args.threads)
    figures = measure(args, how)
    if figures["torch"] is None:
        print(
            "PyTorch is not installed, so only the engine was measured; "
            "install it with: pip install -e '.[bench]'",
            file=sys.stderr,
        )
    print(json.dumps(figures, indent=2) if args.json else table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
