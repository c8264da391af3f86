"""The gradient check: `nnfix diagnose`'s check of a spec's network, and the public
`nnfix.gradcheck` beside PyTorch's (SPEC §8).

network: the check in `auto` mode on MLPs of 1e3 to 1e6 parameters. For each size: the time of
one full check (median of 3), the loss evaluations (forward passes) it spends, and how often it
catches a bug planted in one random tensor's gradient (sign flipped, scaled by the batch size or
its inverse, doubled, zeroed, or noise of the gradient's own size added), over `--tries` tries.
The bug must be reported in exactly the tensor it was planted in. Target: 1e6 parameters within
2 s on a 2-core machine, 100 % detection.

public: a user's loss and gradient functions of 987,210 parameters (a 784-1000-200-10 tanh MLP
with softmax cross-entropy on 64 samples, written in NumPy over a dict of arrays: no layer
structure for nnfix to see). `nnfix.gradcheck(f, grad_f, params)` against
`torch.autograd.gradcheck(fast_mode=True)` on a torch.autograd.Function whose forward and
backward call the same two NumPy functions — the same function, checked by each — timed
interleaved (`--repeats`, median; a pause between runs lets BLAS and OpenMP threads settle).
Then a bug planted in each tensor in turn (sign flipped, scaled by the batch size, zeroed,
noise): nnfix's time and whether it names that tensor and that kind; torch's check on one of
them, in a child process stopped after `--torch-timeout` seconds (on a mismatch it computes the
full Jacobian, two evaluations per parameter). Target: nnfix at least as fast as torch on the
correct function (ratio torch/nnfix >= 1), and the planted bugs localised in seconds.

    pip install -e '.[bench]'                     # PyTorch, for the public comparison
    python benchmarks/bench_gradcheck.py [--tries 100] [--repeats 5] [--only public] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import statistics
import time

import numpy as np

import nnfix
from nnfix.diagnose.network_check import NetworkTarget
from nnfix.engine import activations
from nnfix.engine.losses import Loss
from nnfix.engine.network import LayerActivation, Network

SIZES = {  # ~parameters: layer widths, input first
    "1e3": (20, 40, 10, 3),
    "1e4": (100, 80, 20, 10),
    "1e5": (300, 300, 40, 10),
    "1e6": (784, 1000, 200, 10),
}
BATCH = 64


def layer(name: str) -> LayerActivation:
    act = activations.get(name)
    return LayerActivation(name, act.fn, act.derivative if act.elementwise else None, act)


def problem(widths, seed=0):
    rng = np.random.default_rng(seed)
    W = [rng.normal(0, np.sqrt(2 / a), (a, b)) for a, b in itertools.pairwise(widths)]
    b = [rng.normal(0, 0.05, (1, n)) for n in widths[1:]]
    acts = [layer("tanh")] * (len(widths) - 2) + [layer("softmax")]
    x = rng.normal(size=(BATCH, widths[0]))
    y = np.eye(widths[-1])[rng.integers(0, widths[-1], BATCH)]
    return Network.dense(W, b, acts), x, y


BUGS = {
    "sign flipped": lambda g, rng: -g,
    "times m": lambda g, rng: g * BATCH,
    "divided by m": lambda g, rng: g / BATCH,
    "doubled": lambda g, rng: 2 * g,
    "zero": lambda g, rng: np.zeros_like(g),
    "noise": lambda g, rng: g + rng.normal(size=g.shape) * (np.linalg.norm(g) / np.sqrt(g.size)),
}


def run(net, x, y, bug=None, target=None, rng=None):
    """One check as `nnfix diagnose` runs it, with a bug planted in tensor `target`'s gradient."""
    problem = NetworkTarget(net, x, y, Loss("cce"))
    if bug is not None:
        problem.grads[target] = BUGS[bug](problem.grads[target], rng)
    return problem.check(seed=int(rng.integers(1 << 30)) if rng is not None else 0)


def network(tries: int) -> list[dict]:
    rows = []
    for label, widths in SIZES.items():
        net, x, y = problem(widths)
        params = sum(p.size for p in net.params)
        times, evaluations = [], 0
        for _ in range(3):
            start = time.perf_counter()
            result = run(net, x, y)
            times.append(time.perf_counter() - start)
            evaluations = result.evaluations
        assert result.ok, result.table()
        rng = np.random.default_rng(1)
        caught = 0
        missed = []
        for _ in range(tries):
            target = int(rng.integers(len(net.params)))
            bug = list(BUGS)[int(rng.integers(len(BUGS)))]
            found = run(net, x, y, bug, target, rng)
            if [t.name for t in found.wrong] == [net.names[target]]:
                caught += 1
            else:
                missed.append((bug, net.names[target], [t.name for t in found.wrong]))
        rows.append(
            {
                "size": label,
                "parameters": params,
                "seconds": statistics.median(times),
                "evaluations": evaluations,
                "detected": caught / tries,
                "missed": missed[:5],
            }
        )
    return rows


PUBLIC = (784, 1000, 200, 10)
PLANTED = {  # what each planted bug must be classified as
    "sign flipped": (lambda g: -g, "sign flipped"),
    "times m": (lambda g: g * BATCH, "scaled by the batch size"),
    "zero": (lambda g: np.zeros_like(g), "zero"),
    "noise": (
        lambda g: g + np.random.default_rng(7).normal(size=g.shape) * np.linalg.norm(g) / 1e3,
        "wrong in its pattern",
    ),
}


def user_functions(widths=PUBLIC, seed=0):
    """The user's loss and its hand-written gradient, over a dict of arrays."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (a, b) in enumerate(itertools.pairwise(widths), start=1):
        params[f"W{i}"] = rng.normal(0, np.sqrt(1 / a), (a, b))
        params[f"b{i}"] = rng.normal(0, 0.05, b)
    x = rng.normal(size=(BATCH, widths[0]))
    y = np.eye(widths[-1])[rng.integers(0, widths[-1], BATCH)]
    n = len(widths) - 1

    def f(p):
        a = x
        for i in range(1, n + 1):
            z = a @ p[f"W{i}"] + p[f"b{i}"]
            a = np.tanh(z) if i < n else z
        z = a - a.max(axis=1, keepdims=True)
        return float(-np.sum(y * (z - np.log(np.exp(z).sum(axis=1, keepdims=True)))) / BATCH)

    def grad(p):
        acts = [x]
        for i in range(1, n + 1):
            z = acts[-1] @ p[f"W{i}"] + p[f"b{i}"]
            acts.append(np.tanh(z) if i < n else z)
        e = np.exp(acts[-1] - acts[-1].max(axis=1, keepdims=True))
        d = (e / e.sum(axis=1, keepdims=True) - y) / BATCH
        out = {}
        for i in range(n, 0, -1):
            out[f"W{i}"], out[f"b{i}"] = acts[i - 1].T @ d, d.sum(axis=0)
            if i > 1:
                d = (d @ p[f"W{i}"].T) * (1 - acts[i - 1] ** 2)
        return out

    return f, grad, params


def planted(grad, tensor, bug):
    def wrong(p):
        g = grad(p)
        g[tensor] = PLANTED[bug][0](g[tensor])
        return g

    return wrong


def torch_check(f, grad, params):
    """torch.autograd.gradcheck(fast_mode=True) of the same NumPy functions, as a Function."""
    import torch

    names = list(params)

    class Same(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *tensors):
            ctx.save_for_backward(*tensors)
            values = {n: t.detach().numpy() for n, t in zip(names, tensors, strict=True)}
            return torch.tensor(f(values), dtype=torch.float64)

        @staticmethod
        def backward(ctx, out):
            values = {n: t.detach().numpy() for n, t in zip(names, ctx.saved_tensors, strict=True)}
            g = grad(values)
            return tuple(out * torch.from_numpy(np.asarray(g[n])) for n in names)

    inputs = tuple(torch.tensor(params[n], requires_grad=True) for n in names)
    return bool(torch.autograd.gradcheck(Same.apply, inputs, fast_mode=True, raise_exception=False))


def _child(queue, tensor, bug):
    f, grad, params = user_functions()
    start = time.perf_counter()
    ok = torch_check(f, planted(grad, tensor, bug), params)
    queue.put((ok, time.perf_counter() - start))


def torch_on_bug(tensor: str, bug: str, timeout: float) -> tuple[bool | None, float | None]:
    """torch's verdict and seconds on a planted bug, or (None, None) past `timeout`."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(queue, tensor, bug))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return None, None
    return queue.get()


def public(repeats: int, torch_timeout: float, pause: float) -> dict:
    try:
        import torch
    except ImportError:
        torch = None
    f, grad, params = user_functions()
    total = sum(p.size for p in params.values())
    mine, theirs = [], []
    evaluations = 0
    nnfix.gradcheck(f, grad, params)  # warm-up: imports, caches
    if torch is not None:
        torch_check(f, grad, params)
    for _ in range(repeats):
        time.sleep(pause)
        start = time.perf_counter()
        result = nnfix.gradcheck(f, grad, params)
        mine.append(time.perf_counter() - start)
        assert result.ok, result.table()
        evaluations = result.evaluations
        if torch is not None:
            time.sleep(pause)
            start = time.perf_counter()
            assert torch_check(f, grad, params)
            theirs.append(time.perf_counter() - start)
    bugs = []
    for tensor, bug in itertools.product(params, PLANTED):
        time.sleep(pause)
        start = time.perf_counter()
        found = nnfix.gradcheck(f, planted(grad, tensor, bug), params, batch_size=BATCH)
        seconds = time.perf_counter() - start
        right = [t.name for t in found.wrong] == [tensor] and bool(
            found.wrong[0].classification
            and found.wrong[0].classification.startswith(PLANTED[bug][1])
        )
        bugs.append(
            {
                "tensor": tensor,
                "bug": bug,
                "seconds": seconds,
                "evaluations": found.evaluations,
                "right": right,
            }
        )
    torch_bug = (None, None)
    if torch is not None:
        torch_bug = torch_on_bug("W2", "sign flipped", torch_timeout)
    return {
        "parameters": int(total),
        "nnfix_seconds": statistics.median(mine),
        "nnfix_evaluations": evaluations,
        "torch_seconds": statistics.median(theirs) if theirs else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "bugs": bugs,
        "torch_bug": {
            "tensor": "W2",
            "bug": "sign flipped",
            "caught": torch_bug[0],
            "seconds": torch_bug[1],
            "timeout": torch_timeout,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--torch-timeout", type=float, default=20.0)
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--only", choices=("network", "public"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = network(args.tries) if args.only != "public" else []
    compared = (
        public(args.repeats, args.torch_timeout, args.pause) if args.only != "network" else None
    )
    if args.json:
        print(json.dumps({"network": rows, "public": compared}, indent=2))
        return
    if rows:
        print(
            f"network: auto mode, batch {BATCH}, tanh MLPs with softmax + CCE; "
            f"{args.tries} planted bugs per size"
        )
        print(
            f"{'size':>5} {'parameters':>11} {'seconds':>8} {'loss evaluations':>17} {'detected':>9}"
        )
        for r in rows:
            print(
                f"{r['size']:>5} {r['parameters']:>11,} {r['seconds']:>8.3f} "
                f"{r['evaluations']:>17} {r['detected']:>9.0%}"
            )
            for miss in r["missed"]:
                print(f"      missed: {miss}")
        big = rows[-1]
        print(
            f"target: 1e6 parameters within 2 s: {'PASS' if big['seconds'] <= 2 else 'MISS'} "
            f"({big['seconds']:.2f} s); 100 % detection: "
            f"{'PASS' if all(r['detected'] == 1 for r in rows) else 'MISS'}"
        )
    if compared is not None:
        c = compared
        print(
            f"\npublic: nnfix.gradcheck vs torch.autograd.gradcheck(fast_mode=True) on the same "
            f"function, {c['parameters']:,} parameters, median of {args.repeats}, "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"  correct: nnfix {c['nnfix_seconds']:.3f} s ({c['nnfix_evaluations']} loss "
            "evaluations)"
            + (
                f", torch {c['torch_seconds']:.3f} s ({c['torch_threads']} threads): "
                f"torch/nnfix {c['torch_seconds'] / c['nnfix_seconds']:.2f} "
                f"({'PASS' if c['torch_seconds'] >= c['nnfix_seconds'] else 'MISS'} >= 1)"
                if c["torch_seconds"] is not None
                else " (torch not installed)"
            )
        )
        right = sum(b["right"] for b in c["bugs"])
        seconds = [b["seconds"] for b in c["bugs"]]
        print(
            f"  planted bugs: nnfix right on {right}/{len(c['bugs'])} (tensor and kind), "
            f"{statistics.median(seconds):.2f} s median, {max(seconds):.2f} s at most"
        )
        for b in c["bugs"]:
            if not b["right"]:
                print(f"      wrong: {b}")
        tb = c["torch_bug"]
        if tb["caught"] is None and c["torch_seconds"] is not None:
            print(
                f"  torch on {tb['bug']} in {tb['tensor']}: did not finish in {tb['timeout']:g} s"
            )
        elif tb["caught"] is not None:
            print(
                f"  torch on {tb['bug']} in {tb['tensor']}: "
                f"{'passed' if tb['caught'] else 'failed'} in {tb['seconds']:.1f} s"
            )


if __name__ == "__main__":
    main()
