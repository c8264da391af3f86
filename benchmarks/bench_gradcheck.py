"""The gradient check in `auto` mode on MLPs of 1e3 to 1e6 parameters (SPEC §8).

For each size: the time of one full check (median of 3), the loss evaluations (forward
passes) it spends, and how often it catches a bug planted in one random tensor's gradient
(sign flipped, scaled by the batch size or its inverse, doubled, zeroed, or noise of the
gradient's own size added), over `--tries` tries. The bug must be reported in exactly the
tensor it was planted in. Target: 1e6 parameters within 2 s on a 2-core machine, 100 %
detection.

    python benchmarks/bench_gradcheck.py [--tries 100] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time

import numpy as np

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
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
        for _ in range(args.tries):
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
                "detected": caught / args.tries,
                "missed": missed[:5],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"auto mode, batch {BATCH}, tanh MLPs with softmax + CCE; {args.tries} planted bugs per size"
    )
    print(f"{'size':>5} {'parameters':>11} {'seconds':>8} {'loss evaluations':>17} {'detected':>9}")
    for r in rows:
        print(
            f"{r['size']:>5} {r['parameters']:>11,} {r['seconds']:>8.3f} {r['evaluations']:>17} {r['detected']:>9.0%}"
        )
        for miss in r["missed"]:
            print(f"      missed: {miss}")
    big = rows[-1]
    print(
        f"target: 1e6 parameters within 2 s: {'PASS' if big['seconds'] <= 2 else 'MISS'} ({big['seconds']:.2f} s); "
        f"100 % detection: {'PASS' if all(r['detected'] == 1 for r in rows) else 'MISS'}"
    )


if __name__ == "__main__":
    main()
