"""What containing the user's code costs: one call of a user function plain, through the guard
(timer armed, every exception caught, streams and directory restored) and inside the forked
worker, side by side in one run; and a gradient check of a user's loss, plain against guarded.

    python benchmarks/bench_sandbox.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from nnfix.diagnose.gradcheck import gradcheck
from nnfix.usercode import sandbox


def tiny(x):
    return x


def per_call(fn, calls: int) -> float:
    """Median of 5 runs, seconds per call."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls)
    return statistics.median(runs)


def in_worker(emit, calls: int) -> float:
    return per_call(lambda: sandbox.call("bench", tiny, 1), calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    guard = sandbox.Guard(timeout=30.0)
    plain = per_call(lambda: tiny(1), args.calls)
    guarded = per_call(lambda: guard.call("bench", tiny, 1), args.calls)
    worker = sandbox.run(in_worker, args.calls).value

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 20)), rng.normal(size=(64, 1))
    w = rng.normal(size=(20, 1))

    def loss(w):
        return float(((x @ w - y) ** 2).mean() / 2)

    def grad(w):
        return x.T @ (x @ w - y) / len(x)

    def timed(f, g) -> tuple[float, int]:
        calls = 0

        def counted(w):
            nonlocal calls
            calls += 1
            return f(w)

        start = time.perf_counter()
        gradcheck(counted, g, [w.copy()])
        return time.perf_counter() - start, calls

    check_plain, evaluations = timed(loss, grad)
    check_guarded, _ = timed(
        lambda w: guard.call("loss", loss, w), lambda w: guard.call("grad", grad, w)
    )
    print(f"one call of a trivial user function (median of 5 x {args.calls} calls)")
    print(f"  {'plain':<28}{plain * 1e6:8.2f} µs")
    print(
        f"  {'guarded (this process)':<28}{guarded * 1e6:8.2f} µs   +{(guarded - plain) * 1e6:.2f} µs"
    )
    print(
        f"  {'guarded (forked worker)':<28}{worker * 1e6:8.2f} µs   +{(worker - plain) * 1e6:.2f} µs"
    )
    print(f"gradient check of a 20-parameter loss ({evaluations} loss evaluations)")
    print(f"  {'plain':<28}{check_plain * 1e3:8.2f} ms")
    print(f"  {'guarded':<28}{check_guarded * 1e3:8.2f} ms   x{check_guarded / check_plain:.2f}")


if __name__ == "__main__":
    main()
