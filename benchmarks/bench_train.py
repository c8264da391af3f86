"""Training throughput of nnfix's engine beside PyTorch on the CPU, in one process (SPEC §8).

What it measures
    Three networks (`--models`, default all), each trained with softmax + categorical
    cross-entropy, float32, plain SGD with lr 0.01, on 60 batches of N(0, 1) inputs with
    random labels (10 classes):
    - mlp: 784-256-128-10 (relu, relu, softmax), batch 128; target engine/torch >= 1.0 and
      >= 50 % of the matmul peak;
    - cnn: 1x28x28 images, conv 16@3x3 relu -> maxpool 2 -> conv 32@3x3 relu -> maxpool 2 ->
      flatten -> dense 10, batch 64; target engine/torch >= 0.5;
    - lstm: 32 steps of 32 features, LSTM hidden 128 (last state) -> dense 10, batch 32;
      target engine/torch >= 0.5.
    Both sides start from the same weights: nnfix's own he_normal initialisation, copied into
    torch (nnfix keeps a dense W as (n_in, n_out), nn.Linear as (n_out, n_in); conv filters
    are (F, C, k, k) in both; the LSTM's gate blocks are i, f, o, g in nnfix, i, f, g, o in
    nn.LSTM, whose second bias is zero).

    - nnfix: the network is built the way `nnfix train` builds it (a spec YAML and an .npz
      file in a temporary directory, `load_spec` + `prepare`), and one step is
      `Trainer.step(x, y, lr)` — what `Trainer.fit`, and so `nnfix train`, runs for every
      minibatch: forward, loss, backward, SGD update.
    - PyTorch: nn.Linear, nn.Conv2d, nn.MaxPool2d, nn.Flatten, nn.LSTM + nn.ReLU,
      nn.CrossEntropyLoss on the logits, torch.optim.SGD;
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
    GFLOP/s counts only the matmuls of a step (a convolution's as its im2col matmul, an LSTM's
    per step): forward, weight gradients, and input gradients of every layer but the first;
    elementwise work (bias, activations, pooling, softmax, loss, optimiser update) is not
    counted.

    The script always exits 0: it is a measurement, not a test.

How to run
    pip install -e '.[bench]'          # PyTorch (the CPU wheel); without it only nnfix runs
    python benchmarks/bench_train.py   # threads: --threads or NNFIX_BENCH_THREADS, else all
    python benchmarks/bench_train.py --threads 2 --steps 200 --repeats 5 --json
    python benchmarks/bench_train.py --models cnn,lstm --steps 50

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
from dataclasses import dataclass
from pathlib import Path

BATCHES = 60
LR = 0.01
SEED = 0
MATMUL_N = 2048
TARGET_SHARE = 0.5  # the MLP's (SPEC §8); the CNN and LSTM have only a ratio target


@dataclass(frozen=True)
class Model:
    """One benchmarked network: its spec's layers, one sample's shape, its batch, classes,
    the engine/torch ratio it must reach and the matmul FLOPs of one training step."""

    name: str
    title: str
    layers: str  # the spec's model.layers, as YAML flow mappings, one per line
    sample: tuple[int, ...]
    batch: int
    classes: int
    target_ratio: float
    flops: int
    target_share: float | None = None

    def spec_yaml(self) -> str:
        return (
            f"name: bench-{self.name}\n"
            f"seed: {SEED}\n"
            "data: {source: npz, path: data.npz}\n"
            "model:\n  init: he_normal\n  bias_init: zeros\n  layers:\n"
            + "".join(f"    - {line}\n" for line in self.layers.strip().splitlines())
            + "loss: cce\n"
            f"train: {{optimizer: sgd, lr: {LR}, batch_size: {self.batch}, dtype: float32}}\n"
        )


def dense_flops(batch: int, sizes: tuple[int, ...]) -> int:
    """Forward 2·B·Σ n_in·n_out, weight gradients the same, input gradients of every layer but
    the first."""
    pairs = [sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1)]
    return 2 * batch * (2 * sum(pairs) + sum(pairs[1:]))


def cnn_flops(batch: int) -> int:
    """conv 1→16 @3×3 on 28×28 (26×26 out), pool, conv 16→32 @3×3 (11×11 out), pool, dense
    800→10: forward, weight gradients, and input gradients of all but the first layer."""
    conv1 = 2 * batch * 26 * 26 * 16 * 1 * 9
    conv2 = 2 * batch * 11 * 11 * 32 * 16 * 9
    dense = 2 * batch * 800 * 10
    return 2 * (conv1 + conv2 + dense) + conv2 + dense


def lstm_flops(batch: int, steps: int, features: int, hidden: int, classes: int) -> int:
    """Per step x·Wx and h·Wh (4 gates) forward, their weight gradients, dL/dh through Wh;
    the dense layer on the last state: forward, weight and input gradients."""
    per_step = 2 * batch * 4 * hidden * (features + hidden)
    through_time = 2 * batch * 4 * hidden * hidden
    return steps * (2 * per_step + through_time) + 3 * 2 * batch * hidden * classes


MLP = Model(
    "mlp",
    "MLP 784-256-128-10 (relu, relu, softmax)",
    """
{units: 256, activation: relu}
{units: 128, activation: relu}
{units: 10, activation: softmax}
""",
    (784,),
    128,
    10,
    1.0,
    dense_flops(128, (784, 256, 128, 10)),
    TARGET_SHARE,
)
CNN = Model(
    "cnn",
    "CNN 1x28x28: conv 16@3x3 relu, maxpool 2, conv 32@3x3 relu, maxpool 2, dense 10",
    """
{type: conv2d, filters: 16, kernel: 3, activation: relu}
{type: maxpool2d, size: 2}
{type: conv2d, filters: 32, kernel: 3, activation: relu}
{type: maxpool2d, size: 2}
{type: flatten}
{units: 10, activation: softmax}
""",
    (1, 28, 28),
    64,
    10,
    0.5,
    cnn_flops(64),
)
LSTM = Model(
    "lstm",
    "LSTM hidden 128 over 32 steps of 32 features, last state, dense 10",
    """
{type: lstm, units: 128}
{units: 10, activation: softmax}
""",
    (32, 32),
    32,
    10,
    0.5,
    lstm_flops(32, 32, 32, 128, 10),
)
MODELS = {m.name: m for m in (MLP, CNN, LSTM)}

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
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        help=f"which networks, comma-separated (default: all of {','.join(MODELS)})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the figures as JSON, one object per model"
    )
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown or not args.models:
        parser.error(
            f"--models: unknown {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(MODELS)}"
        )
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


def build_engine(workdir: Path, model: Model):
    """nnfix's trainer and batches, built as `nnfix train` builds them, from a temporary spec."""
    import numpy as np

    from nnfix.engine.train import Trainer
    from nnfix.run import prepare
    from nnfix.spec.load import load_spec

    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((BATCHES * model.batch, *model.sample), dtype=np.float32)
    labels = rng.integers(0, model.classes, size=BATCHES * model.batch)
    np.savez(workdir / "data.npz", x=x, y=labels)
    (workdir / "bench.yaml").write_text(model.spec_yaml())
    loaded = load_spec(workdir / "bench.yaml")
    prepared = prepare.prepare(loaded)
    trainer = Trainer(prepared.network, prepared.loss, loaded.spec.train, prepared.batch_rng)
    x, y = prepared.data.x_train, prepared.y_train
    x = x.reshape(len(x), *model.sample)  # as the network takes them (a view)
    assert x.dtype == y.dtype == np.float32, (x.dtype, y.dtype)
    assert all(p.dtype == np.float32 for p in prepared.network.params)
    size = model.batch
    batches = [(x[k : k + size], y[k : k + size]) for k in range(0, len(x), size)]
    return trainer, batches


def torch_layers(network) -> list:
    """The engine's layers as torch modules holding the same weights (dense W (n_in, n_out) is
    nn.Linear's weight transposed; conv W (F, C, k, k) is nn.Conv2d's as it is; the LSTM's gate
    blocks i, f, o, g are nn.LSTM's i, f, g, o). The output layer's softmax is left to the loss."""
    import numpy as np
    import torch
    from torch import nn

    def tensor(a) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a))

    class LastState(nn.Module):
        """nn.LSTM over (batch, T, features) -> the last hidden state (batch, units)."""

        def __init__(self, lstm: nn.LSTM):
            super().__init__()
            self.lstm = lstm

        def forward(self, x):
            return self.lstm(x)[0][:, -1]

    modules: list[nn.Module] = []
    for i, layer in enumerate(network.layers):
        kind = layer.type
        if kind == "dense":
            module: nn.Module = nn.Linear(*layer.W.shape, bias=layer.b is not None)
            weights = [layer.W.T] + ([] if layer.b is None else [layer.b.reshape(-1)])
        elif kind == "conv2d":
            f, c, k, _ = layer.W.shape
            module = nn.Conv2d(
                c, f, k, stride=layer.stride, padding=layer.padding, bias=layer.b is not None
            )
            weights = [layer.W] + ([] if layer.b is None else [layer.b])
        elif kind == "maxpool2d":
            module, weights = nn.MaxPool2d(layer.size, layer.stride), []
        elif kind == "flatten":
            module, weights = nn.Flatten(), []
        elif kind == "lstm":
            assert layer.sequence == "last" and layer.b is not None
            u = layer.units
            order = np.r_[0 : 2 * u, 3 * u : 4 * u, 2 * u : 3 * u]  # i f o g -> i f g o
            lstm = nn.LSTM(layer.Wx.shape[0], u, batch_first=True)
            module = LastState(lstm)
            b = layer.b.reshape(-1)[order]
            weights = [layer.Wx[:, order].T, layer.Wh[:, order].T, b, np.zeros_like(b)]
        else:
            raise ValueError(f"no torch counterpart for a {kind} layer")
        with torch.no_grad():
            for param, value in zip(module.parameters(), weights, strict=True):
                param.copy_(tensor(value))
        modules.append(module)
        act = layer.act.name if layer.act is not None else None
        if act == "relu":
            modules.append(nn.ReLU())
        elif act not in (None, "linear") and i < network.depth - 1:
            raise ValueError(f"no torch counterpart for a {act} activation")
    return modules


def build_torch(network, batches, threads: int):
    """The same network in torch, from the engine's current weights, and one training step."""
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    model = nn.Sequential(*torch_layers(network))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    criterion = nn.CrossEntropyLoss()
    tbatches = [
        (torch.from_numpy(x.copy()), torch.from_numpy(y.argmax(axis=1))) for x, y in batches
    ]

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


def measure(args: argparse.Namespace, how: str, model: Model) -> dict:
    import numpy as np

    try:
        import torch
    except ImportError:
        torch = None

    with tempfile.TemporaryDirectory(prefix="nnfix-bench-") as tmp:
        trainer, batches = build_engine(Path(tmp), model)
    figures: dict = {
        "model": model.name,
        "title": model.title,
        "threads": args.threads,
        "thread_limits": how,
        "numpy": np.__version__,
        "torch": torch.__version__ if torch else None,
        "sample": list(model.sample),
        "batch": model.batch,
        "steps": args.steps,
        "repeats": args.repeats,
        "pause_s": args.pause,
        "step_mflop": model.flops / 1e6,
        "target_ratio": model.target_ratio,
        "target_share": model.target_share,
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
    figures["engine_gflops"] = engine * model.flops / 1e9
    figures["engine_share_of_peak"] = figures["engine_gflops"] / figures["matmul_peak_gflops"]
    if "torch" in rates:
        figures["torch_steps_per_s"] = statistics.median(rates["torch"])
        figures["torch_runs"] = rates["torch"]
        figures["ratio_engine_torch"] = engine / figures["torch_steps_per_s"]
        figures["pass_ratio"] = figures["ratio_engine_torch"] >= model.target_ratio
    else:
        figures["torch_steps_per_s"] = figures["ratio_engine_torch"] = None
        figures["pass_ratio"] = None
    figures["pass_share"] = (
        figures["engine_share_of_peak"] >= model.target_share
        if model.target_share is not None
        else None
    )
    return figures


def table(f: dict) -> str:
    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "MISS")

    def spread(runs: list[float] | None) -> str:
        return f"runs {min(runs):.0f}–{max(runs):.0f}" if runs else ""

    torch_rate = f["torch_steps_per_s"]
    ratio = f["ratio_engine_torch"]
    share = f["target_share"]
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
            f">= {f['target_ratio']:.1f}",
            verdict(f["pass_ratio"]),
        ),
        ("matmul peak GFLOP/s", f"{f['matmul_peak_gflops']:.1f}", "", spread(f["matmul_runs"])),
        ("engine GFLOP/s", f"{f['engine_gflops']:.1f}", "", ""),
        (
            "share of peak",
            f"{100 * f['engine_share_of_peak']:.1f} %",
            "" if share is None else f">= {100 * share:.0f} %",
            verdict(f["pass_share"]),
        ),
    ]
    lines = [
        f"{f['title']}, batch {f['batch']}, float32, SGD lr {LR}; "
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
    figures = {name: measure(args, how, MODELS[name]) for name in args.models}
    if all(f["torch"] is None for f in figures.values()):
        print(
            "PyTorch is not installed, so only the engine was measured; "
            "install it with: pip install -e '.[bench]'",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print("\n\n".join(table(f) for f in figures.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
