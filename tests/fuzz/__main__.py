"""`python -m tests.fuzz --count N --seed S [--jobs 2] [--keep DIR]`: fuzz nnfix and report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tests.fuzz import report
from tests.fuzz.generate import make_case, matrix, random_cases
from tests.fuzz.runner import Result, Settings, run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--count", type=int, default=200, help="random cases (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument(
        "--keep", type=Path, help="save every failing case (and results.jsonl) here"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a hang")
    parser.add_argument("--slow", type=float, default=20.0, help="seconds before slow")
    parser.add_argument("--memory-gib", type=float, default=2.0, help="address-space limit")
    parser.add_argument("--matrix", action="store_true", help="also every user-code body")
    parser.add_argument("--no-hangs", action="store_true", help="skip bodies that never return")
    parser.add_argument("--only", help="comma-separated case indices (matrix ones from 100000)")
    args = parser.parse_args(argv)

    hangs = not args.no_hangs
    if args.only:
        wanted = {int(i) for i in args.only.split(",")}
        known = dict(matrix(hangs=hangs))
        cases = [
            (i, known[i] if i in known else make_case(args.seed, i, hangs)) for i in sorted(wanted)
        ]
    else:
        cases = list(random_cases(args.seed, args.count, hangs))
        if args.matrix:
            cases += list(matrix(hangs=hangs))
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        args.keep = args.keep.resolve()
    settings = Settings(args.timeout, args.slow, int(args.memory_gib * (1 << 30)), args.keep)

    started = time.monotonic()

    def progress(result: Result) -> None:
        if result.cls not in report.ACCEPTED:
            print(f"#{result.index} {result.cls}: {result.message[:120]}", file=sys.stderr)

    results = run_all(cases, settings, args.jobs, progress)
    print(report.table(results))
    print(f"\n{len(results)} runs in {time.monotonic() - started:.0f} s (seed {args.seed})")
    print("\nDistinct failures:\n" + (report.distinct(results) or "none"))
    print("\nReproducers:\n" + (report.reproducers(results, args.seed) or "none"))
    if args.keep:
        report.write_jsonl(results, args.keep / "results.jsonl")
    return 0 if all(r.cls in report.ACCEPTED for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
