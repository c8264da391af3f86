"""`nnfix diagnose` on the user's own code of three architectures, as a user runs it (SPEC §8):
the whole process with the default budget, median of several runs, correct and with a planted
bug whose line must be named; and, side by side in one run, what measuring the intermediates'
truth costs against the parameter gradient check (CPU time of nnfix's worker, and its runs of
the forward and loss): the values' directional derivatives that judge the backward's arrays
(`truth`), and apart (`full`) the whole true gradients that replace each culprit to find the
bugs behind it (SPEC §3.6, every bug in one run).

Targets: the dense deeplearning.ai-style module within 5 s; the naive-loop CNN (one 3x3 conv of
4 filters, a 2x2 max-pool, a dense softmax output, 1x12x12 inputs) and the character RNN with
BPTT (hidden 16, vocabulary 20, 10 steps) within 15 s each, the planted bug's line named; the
intermediates' truth at most 3x the parameter check. The networks are ours, in
benchmarks/usercode/.

    python benchmarks/bench_usercode.py [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETS = ROOT / "benchmarks" / "usercode"
# (name, spec, seconds allowed, the planted bug: file, the line as written, as planted)
CASES = [
    ("dense", "dense.yaml", 5.0, ("dense.py", "dZ = dA * (1 - A**2)", "dZ = dA * (1 - Z**2)")),
    (
        "cnn",
        "cnn.yaml",
        15.0,
        (
            "cnn.py",
            "+= mask * share",
            "+= share",
        ),
    ),
    (
        "rnn",
        "rnn.yaml",
        15.0,
        ("rnn.py", "dhraw = (1 - hs[t] * hs[t]) * dh", "dhraw = (1 - hs[t]) * dh"),
    ),
]
RATIO = 3.0
COSTS = "NNFIX_BENCH_COSTS"  # where the worker writes the truth's costs (--costs mode)


def planted(tmp: Path, name: str, bug: tuple[str, str, str] | None) -> Path:
    """A copy of the network's files in `tmp`, the bug planted when given; its spec."""
    folder = tmp / name
    folder.mkdir()
    for path in NETS.glob(f"{name}.*"):
        shutil.copy(path, folder / path.name)
    if bug is not None:
        file, before, after = bug
        text = (folder / file).read_text(encoding="utf-8")
        assert text.count(before) == 1, before
        (folder / file).write_text(text.replace(before, after), encoding="utf-8")
    return folder / f"{name}.yaml"


def line_of(path: Path, text: str) -> int:
    (number,) = [i for i, s in enumerate(path.read_text().splitlines(), 1) if text in s]
    return number


def diagnose(spec: Path, env: dict[str, str] | None = None) -> tuple[float, int, dict]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "nnfix", "diagnose", str(spec), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
    )
    return time.perf_counter() - start, proc.returncode, json.loads(proc.stdout or "{}")


def roots(report: dict) -> set[tuple[str, int]]:
    return {
        (Path(f["location"]["source"]["file"]).name, f["location"]["source"]["line"])
        for s in report.get("specs", [])
        for f in s["findings"]
        if f["code"] == "G101" and f.get("root_cause") and f["location"].get("source")
    }


def timed(spec: Path, runs: int) -> tuple[list[float], int, dict]:
    times, code, report = [], 0, {}
    for _ in range(runs):
        seconds, code, report = diagnose(spec)
        times.append(seconds)
    return times, code, report


def costs(spec: Path) -> dict:
    """One diagnosis with the parameter check and the line search's measurements timed (in
    process time of nnfix's worker, where they run) and counted in forward-and-loss runs."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = Path(out.name)
    env = {**os.environ, COSTS: str(path)}
    proc = subprocess.run(
        [sys.executable, __file__, "--costs-of", str(spec)], capture_output=True, text=True, env=env
    )
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return {"error": proc.stderr[-400:]}
    finally:
        path.unlink(missing_ok=True)


def _costs_of(spec: str) -> None:
    """--costs-of SPEC: run the CLI in this process with the two costs wrapped; nnfix's worker is
    forked from here, so the wrappers run where the checks run and write their totals."""
    import nnfix.diagnose.own as own
    import nnfix.usercode.lines as lines
    from nnfix.cli import main

    totals = {
        "param_seconds": 0.0,
        "param_runs": 0,
        "truth_seconds": 0.0,
        "truth_runs": 0,
        "full_seconds": 0.0,
        "full_runs": 0,
    }
    runs = {"n": 0}

    def counted(fn, seconds: str, count: str):
        def wrapper(*args, **kwargs):
            start, before = time.process_time(), runs["n"]
            try:
                return fn(*args, **kwargs)
            finally:
                totals[seconds] += time.process_time() - start
                totals[count] += runs["n"] - before
                Path(os.environ[COSTS]).write_text(json.dumps(totals))

        return wrapper

    from nnfix.usercode.own import OwnNet

    loss = OwnNet.loss

    def counting_loss(self, *args, **kwargs):
        runs["n"] += 1
        return loss(self, *args, **kwargs)

    OwnNet.loss = counting_loss  # type: ignore[method-assign]
    own._check = counted(own._check, "param_seconds", "param_runs")
    lines.Runs.measure = counted(lines.Runs.measure, "truth_seconds", "truth_runs")
    lines.Runs.full = counted(lines.Runs.full, "full_seconds", "full_runs")
    sys.argv = ["nnfix", "diagnose", spec, "--format", "json"]
    with contextlib.suppress(SystemExit):
        main()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--costs-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.costs_of:
        _costs_of(args.costs_of)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, _, target, bug in CASES:
            base = Path(tmp) / f"clean-{name}"
            base.mkdir()
            clean = planted(base, name, None)
            buggy_dir = Path(tmp) / f"bug-{name}"
            buggy_dir.mkdir()
            buggy = planted(buggy_dir, name, bug)
            line = (bug[0], line_of(buggy.parent / bug[0], bug[2]))
            t_clean, code_clean, _ = timed(clean, args.runs)
            t_bug, code_bug, report = timed(buggy, args.runs)
            cost = costs(buggy)
            param, truth = cost.get("param_seconds", 0.0), cost.get("truth_seconds", 0.0)
            full = cost.get("full_seconds", 0.0)
            rows.append(
                {
                    "net": name,
                    "target_s": target,
                    "clean_s": statistics.median(t_clean),
                    "clean_exit": code_clean,
                    "bug_s": statistics.median(t_bug),
                    "bug_exit": code_bug,
                    "line_named": line in roots(report),
                    "line": f"{line[0]}:{line[1]}",
                    "param_check_s": param,
                    "truth_s": truth,
                    "ratio": truth / param if param else None,
                    "full_s": full,
                    "ratio_with_full": (truth + full) / param if param else None,
                    "param_runs": cost.get("param_runs"),
                    "truth_runs": cost.get("truth_runs"),
                    "full_runs": cost.get("full_runs"),
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"nnfix diagnose on user code, whole process, median of {args.runs} runs")
    print(
        f"{'net':<6} {'target':>6} {'clean s':>8} {'bug s':>7} {'exit':>5} {'line':>5}  "
        f"{'param s':>8} {'truth s':>8} {'ratio':>6} {'+full s':>8} {'ratio':>6} {'runs p/t/f':>13}"
    )
    for r in rows:
        ratio = f"{r['ratio']:.1f}x" if r["ratio"] is not None else "–"
        both = f"{r['ratio_with_full']:.1f}x" if r["ratio_with_full"] is not None else "–"
        print(
            f"{r['net']:<6} {r['target_s']:>6.0f} {r['clean_s']:>8.2f} {r['bug_s']:>7.2f} "
            f"{r['clean_exit']}/{r['bug_exit']:<3} {'yes' if r['line_named'] else 'NO':>5}  "
            f"{r['param_check_s']:>8.2f} {r['truth_s']:>8.2f} {ratio:>6} {r['full_s']:>8.2f} "
            f"{both:>6} {r['param_runs']}/{r['truth_runs']}/{r['full_runs']}"
        )
    within = all(max(r["clean_s"], r["bug_s"]) <= r["target_s"] for r in rows)
    named = all(r["line_named"] for r in rows)
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    cheap = bool(ratios) and max(ratios) <= RATIO
    print(f"time targets (5 s dense, 15 s cnn and rnn): {'PASS' if within else 'MISS'}")
    print(f"planted bug's line named: {'PASS' if named else 'MISS'}")
    print(
        f"intermediates' truth at most {RATIO:g}x the parameter check: "
        f"{'PASS' if cheap else 'MISS'} (worst {max(ratios, default=float('nan')):.1f}x)"
    )


if __name__ == "__main__":
    main()
