"""`nnfix diagnose` on every bundled config, as a user runs it: the whole process (start-up,
imports, every pass with the default 10 s budget), median of several runs (SPEC §8).

Target: each config within 5 s on a 2-core machine.

    python benchmarks/bench_diagnose.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for config in sorted((ROOT / "configs").glob("*.yaml")):
        times, exit_code, findings = [], None, None
        for _ in range(args.runs):
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "nnfix", "diagnose", str(config), "--format", "json"],
                capture_output=True,
                text=True,
            )
            times.append(time.perf_counter() - start)
            exit_code = proc.returncode
            findings = [f["code"] for s in json.loads(proc.stdout)["specs"] for f in s["findings"]]
        rows.append(
            {
                "config": config.name,
                "seconds": statistics.median(times),
                "max": max(times),
                "exit": exit_code,
                "findings": findings,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"nnfix diagnose, whole process, median of {args.runs} runs")
    print(f"{'config':<26} {'median s':>9} {'max s':>7} {'exit':>5}  findings")
    for r in rows:
        print(
            f"{r['config']:<26} {r['seconds']:>9.2f} {r['max']:>7.2f} {r['exit']:>5}  {' '.join(sorted(set(r['findings']))) or '–'}"
        )
    worst = max(r["seconds"] for r in rows)
    print(
        f"target: every config within {TARGET:g} s: {'PASS' if worst <= TARGET else 'MISS'} (slowest {worst:.2f} s)"
    )


if __name__ == "__main__":
    main()
