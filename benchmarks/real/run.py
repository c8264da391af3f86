"""Measure nnfix on the real-code corpus: public implementations nobody here wrote, copied from
local git mirrors, checked first by an independent truth (truthlib, NumPy only), then diagnosed
by nnfix as a newcomer would run it; one PASS/FAIL line per variant and the totals.

    python benchmarks/real/run.py [--mirror DIR] [--only NAMES] [--lines] [--jobs N]
                                  [--markdown] [--check] [--keep]

Never needs the network; a missing mirror is named with the fetch that brings it.
See benchmarks/real/README.md for a case's files.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = HERE / "cases"
WORK = HERE / ".work"
DEFAULT_MIRROR = Path(os.environ.get("NNFIX_MIRROR", "/work/.mirror"))
TRUTH_TIMEOUT = 300  # seconds for a case's truth.py
NNFIX_TIMEOUT = 600  # seconds for one nnfix diagnose

KINDS = ("dense", "cnn", "rnn", "norm", "autograd", "other")
SHAPES = ("A-dict", "A-args", "B-class", "C-layers", "D-step", "E-script", "E-notebook", "F-engine")
SHAPE_FLAGS = ("+lists", "+per-sample", "+inplace")
VARIANTS = ("as_written", "planted")

# Kept for an independent evaluation (issue 20): never a case here.
EXCLUDED = frozenset(
    s.lower()
    for s in """
    1999ADEK/CS231n-2019 777skyisblue777/Cat-image-Recognition-Neural-Network AKSoo/CS231n-2017
    ARJITA10/Simple-MNIST-NN-from-scratch-numpy-no-TF-Keras- AgainstEntropy/CS231n-assignment2021
    CyberKnight1803/Planar-Data-Classification Fullbaro/neural_network_framework
    HBevilacqua/neural_network_backprop_fromscratch Isaac-Edwards/MachineLearning
    MichalDanielDobrzanski/DeepLearningPython Moarcas/DNN-from-scratch Sentdex/nnfs_book
    TheIndependentCode/Neural-Network amanchadha/coursera-deep-learning-specialization
    arpita-sethii/Transformers-from-scratch casper-hansen/Neural-Network-From-Scratch
    ellowFlower/planar-data-classification eriklindernoren/ML-From-Scratch hganchev/python-learning
    horizon00/Min-Char-RNN iamtrask/Grokking-Deep-Learning jariasf/CS231n karpathy/micrograd
    makeyourownneuralnetwork/makeyourownneuralnetwork mantasu/cs231n
    oreilly-japan/deep-learning-from-scratch tscallioglu/Gradient-Checking
    vaibhavbaweja7/Coursera-CatvsNonCat vzhou842/cnn-from-scratch vzhou842/rnn-from-scratch
    """.split()  # noqa: SIM905 (a list of 30 names reads better as text)
)


class CaseError(Exception):
    """A case's own files are wrong (ours, not nnfix's): reported per case, never a traceback."""


# --- reading a case --------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    folder: Path
    source: dict[str, str]
    evidence: str
    expect: dict[str, Any]

    @property
    def repo(self) -> str:
        return self.source["repo"]

    @property
    def commit(self) -> str:
        return self.source["commit"]

    @property
    def files(self) -> list[str]:
        return self.source["files"].split()

    @property
    def kind(self) -> str:
        return self.source["kind"]

    @property
    def shape(self) -> str:
        return self.source["shape"]

    @property
    def real_bug(self) -> bool:
        truth = self.expect["as_written"].get("truth", {})
        return truth.get("verdict") not in ("correct", "convention", None)


def read_source(path: Path) -> tuple[dict[str, str], str]:
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition("\n\n")
    fields: dict[str, str] = {}
    for n, line in enumerate(head.splitlines(), 1):
        key, sep, value = line.partition(":")
        if not sep:
            raise CaseError(f"{path.name}:{n}: expected `key: value`, got {line!r}")
        fields[key.strip()] = value.strip()
    return fields, rest.strip()


def load_case(folder: Path) -> Case:
    """Read and validate one case folder; CaseError names the file and what is wrong."""
    for required in ("SOURCE.txt", "spec.yaml", "truth.py", "expect.yaml"):
        if not (folder / required).is_file():
            raise CaseError(f"missing {required}")
    source, evidence = read_source(folder / "SOURCE.txt")
    for key in ("repo", "commit", "files", "kind", "shape", "origin"):
        if not source.get(key):
            raise CaseError(f"SOURCE.txt: no `{key}:`")
    if not re.fullmatch(r"[0-9a-f]{40}", source["commit"]):
        raise CaseError(f"SOURCE.txt: commit {source['commit']!r} is not 40 hex digits")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", source["repo"]):
        raise CaseError(f"SOURCE.txt: repo {source['repo']!r} is not owner/name")
    if source["repo"].lower() in EXCLUDED:
        raise CaseError(f"{source['repo']} is kept for the independent evaluation")
    if source["kind"] not in KINDS:
        raise CaseError(f"SOURCE.txt: kind {source['kind']!r} is not one of {', '.join(KINDS)}")
    base, *flags = source["shape"].split("+")
    if base not in SHAPES or any("+" + f not in SHAPE_FLAGS for f in flags):
        raise CaseError(f"SOURCE.txt: shape {source['shape']!r}: {', '.join(SHAPES)} (+flags)")
    try:
        expect = yaml.safe_load((folder / "expect.yaml").read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise CaseError(f"expect.yaml: {e}") from None
    if not isinstance(expect, dict) or "as_written" not in expect:
        raise CaseError("expect.yaml: no `as_written:`")
    for variant, block in expect.items():
        if variant not in VARIANTS:
            raise CaseError(f"expect.yaml: unknown variant {variant!r}")
        for key in ("truth", "nnfix"):
            if not isinstance(block.get(key), dict):
                raise CaseError(f"expect.yaml: {variant}: no `{key}:` mapping")
        if "exit" not in block["nnfix"]:
            raise CaseError(f"expect.yaml: {variant}.nnfix: no `exit:`")
        if variant == "planted":
            edit = block.get("edit")
            if not isinstance(edit, dict) or set(edit) != {"file", "line", "replace", "with"}:
                raise CaseError("expect.yaml: planted.edit needs file, line, replace, with")
    case = Case(folder.name, folder, source, evidence, expect)
    if case.real_bug and "planted" in expect:
        raise CaseError("expect.yaml: a real bug as written needs no planted variant")
    if not case.real_bug and "planted" not in expect:
        raise CaseError("expect.yaml: code correct as written gets a planted one-line bug")
    if case.real_bug and not evidence:
        raise CaseError("SOURCE.txt: a real bug needs its evidence (the fix, issue or PR)")
    return case


def load_cases(
    only: list[str] | None, root: Path = CASES
) -> tuple[list[Case], list[tuple[str, str]]]:
    cases, broken = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if only and folder.name not in only:
            continue
        try:
            cases.append(load_case(folder))
        except CaseError as e:
            broken.append((folder.name, str(e)))
    if only:
        unknown = set(only) - {c.name for c in cases} - {b[0] for b in broken}
        for name in sorted(unknown):
            broken.append((name, "no such case"))
    return cases, broken


# --- the work folder -------------------------------------------------------------------------


def git_dir(mirror: Path, repo: str) -> Path | None:
    base = mirror / repo.replace("/", "+") / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def materialise(case: Case, variant: str, mirror: Path, work: Path = WORK) -> Path:
    """Copy their files at the pinned commit, our spec and truth into .work/<case>/<variant>."""
    gd = git_dir(mirror, case.repo)
    if gd is None:
        raise CaseError(f"no mirror of {case.repo} in {mirror} (fetch github:{case.repo})")
    git = ["git", f"--git-dir={gd}"]
    if subprocess.run(
        [*git, "cat-file", "-e", case.commit + "^{commit}"], capture_output=True
    ).returncode:
        raise CaseError(f"{case.repo} has no commit {case.commit[:12]} in its mirror")
    dest = work / case.name / variant
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(
        [*git, "archive", "--format=tar", case.commit, "--", *case.files], capture_output=True
    )
    if archive.returncode:
        raise CaseError(f"git archive: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    for ours in ("spec.yaml", "truth.py"):
        shutil.copy2(case.folder / ours, dest / ours)
    for extra in case.folder.iterdir():  # our own data files (csv/npz), if a case has any
        if extra.suffix in (".csv", ".npz", ".npy") and extra.is_file():
            shutil.copy2(extra, dest / extra.name)
    if variant == "planted":
        plant(dest, case.expect["planted"]["edit"])
    return dest


def plant(dest: Path, edit: dict[str, Any]) -> None:
    path = dest / edit["file"]
    if not path.is_file():
        raise CaseError(f"planted.edit: {edit['file']} is not among the copied files")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    n = int(edit["line"])
    if not 1 <= n <= len(lines) or edit["replace"] not in lines[n - 1]:
        raise CaseError(f"planted.edit: {edit['file']}:{n} has no {edit['replace']!r}")
    lines[n - 1] = lines[n - 1].replace(edit["replace"], edit["with"], 1)
    path.write_text("".join(lines), encoding="utf-8")


# --- running truth and nnfix -----------------------------------------------------------------


def last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                out = json.loads(line)
            except ValueError:
                return None
            return out if isinstance(out, dict) else None
    return None


def run_truth(dest: Path, variant: str) -> tuple[dict[str, Any] | None, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(HERE),
        "NNFIX_REAL_VARIANT": variant,
        "MPLBACKEND": "Agg",
    }
    try:
        done = subprocess.run(
            [sys.executable, "truth.py"],
            cwd=dest,
            env=env,
            capture_output=True,
            text=True,
            timeout=TRUTH_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"truth.py ran past {TRUTH_TIMEOUT} s"
    result = last_json(done.stdout)
    if result is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"truth.py printed no result ({tail[0][:120]})"
    return result, ""


def nospec_target(dest: Path) -> list[str]:
    """`--nospec`: their file as the case's spec points at it, given to `nnfix diagnose` with no
    spec (SPEC §3.7); `--data` only where the spec's data is a file (its shape is not guessed)."""
    import yaml

    spec = yaml.safe_load((dest / "spec.yaml").read_text(encoding="utf-8"))
    target = [str(spec["implementation"]["module"])]
    data = spec.get("data") or {}
    if data.get("source") in ("npz", "npy", "csv"):
        target += ["--data", str(data.get("path") or data.get("x"))]
    return target


def run_nnfix(
    dest: Path, nnfix_root: Path | None = None, nospec: bool = False
) -> tuple[int | None, dict[str, Any] | None, str, float]:
    """`nnfix diagnose spec.yaml --format json` in the work folder: the installed nnfix, or the
    source tree at `nnfix_root` (to measure another revision side by side); `nospec`: their
    file itself, without the spec."""
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    if nnfix_root is not None:
        env["PYTHONPATH"] = str(nnfix_root.resolve())
    target = nospec_target(dest) if nospec else ["spec.yaml"]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nnfix", "diagnose", *target, "--format", "json"],
            cwd=dest,
            env=env,
            capture_output=True,
            text=True,
            timeout=NNFIX_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, None, f"nnfix ran past {NNFIX_TIMEOUT} s", time.perf_counter() - start
    seconds = time.perf_counter() - start
    try:
        report = json.loads(done.stdout)
    except ValueError:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return done.returncode, None, f"no JSON report ({tail[0][:120]})", seconds
    return done.returncode, report, "", seconds


# --- judging ---------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def truth_agrees(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    wrong = []
    for key, want in expected.items():
        have = got.get(key)
        if isinstance(want, list) and isinstance(have, list):
            if {str(x) for x in want} != {str(x) for x in have}:
                wrong.append(f"{key}: {have} ≠ {want}")
        elif isinstance(want, float) and isinstance(have, int | float):
            if abs(have - want) > 1e-3 * max(1.0, abs(want)):
                wrong.append(f"{key}: {have:g} ≠ {want:g}")
        elif have != want:
            wrong.append(f"{key}: {have!r} ≠ {want!r}")
    return wrong


def findings_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for spec in report.get("specs", []) for f in spec.get("findings", [])]


@dataclass
class Outcome:
    case: Case
    variant: str
    truth_ok: bool = False
    right: bool = False
    line: bool | None = None  # None: no culprit line expected
    callable: bool = False
    reasons: list[str] = field(default_factory=list)
    exit: int | None = None
    codes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def judge(
    case: Case,
    variant: str,
    mirror: Path,
    keep: bool,
    work: Path = WORK,
    nnfix_root: Path | None = None,
    nospec: bool = False,
) -> Outcome:
    block = case.expect[variant]
    want = block["nnfix"]
    out = Outcome(case, variant, line=None if not want.get("culprit") else False)
    try:
        dest = materialise(case, variant, mirror, work)
    except CaseError as e:
        out.reasons.append(str(e))
        return out
    truth, why = run_truth(dest, variant)
    if truth is None:
        out.reasons.append(why)
    else:
        mismatch = truth_agrees(block["truth"], truth)
        out.truth_ok = not mismatch
        if mismatch:
            out.reasons.append("TRUTH ✗ " + "; ".join(mismatch))
    code, report, why, out.seconds = run_nnfix(dest, nnfix_root, nospec)
    out.exit = code
    if report is None:
        out.reasons.append(why or f"exit {code}")
        return _finish(out, dest, keep)
    findings = findings_of(report)
    out.codes = sorted({f["code"] for f in findings})
    expected_u101 = any("U101" in alt.split("|") for alt in want.get("must", []))
    out.callable = code in (0, 1) and ("U101" not in out.codes or expected_u101)
    problems = []
    if code != want["exit"]:
        detail = ""
        if code == 2:
            errs = report.get("errors") or []
            detail = f" ({errs[0].get('message', '')[:100]})" if errs else ""
        problems.append(f"exit {code}, expected {want['exit']}{detail}")
    for alts in want.get("must", []):
        if not set(alts.split("|")) & set(out.codes):
            problems.append(f"no {alts}")
    for banned in want.get("must_not", []):
        if banned in out.codes:
            problems.append(f"false {banned}")
    names = want.get("first_wrong")
    if names:
        names = [names] if isinstance(names, str) else names
        firsts = [
            f.get("location", {}).get("parameter")
            for f in findings
            if f["code"] in ("G101", "G103") and f.get("root_cause")
        ]
        got = next((p for p in firsts if p), None)
        if got is None or not any(
            _norm(got) == _norm(n) or _norm(got).endswith(_norm(n)) for n in names
        ):
            problems.append(f"first wrong {got!r}, expected {names[0]!r}")
    culprit = want.get("culprit")
    if culprit:
        lines = culprit["line"] if isinstance(culprit["line"], list) else [culprit["line"]]
        roots = [f for f in findings if f.get("root_cause")] or findings
        named = [(f.get("location") or {}).get("source") or {} for f in roots]
        out.line = any(
            s.get("file")
            and Path(s["file"]).as_posix().endswith(culprit["file"])
            and s.get("line") in lines
            for s in named
        )
    out.right = not problems and out.truth_ok
    out.reasons.extend(problems)
    if culprit and not out.line:  # the line is its own measure, not part of the verdict
        seen = [f"{Path(s['file']).name}:{s.get('line')}" for s in named if s.get("file")]
        out.reasons.append(f"line not named (named {', '.join(seen[:3]) or 'none'})")
    return _finish(out, dest, keep)


def _finish(out: Outcome, dest: Path, keep: bool) -> Outcome:
    if not keep:
        shutil.rmtree(dest, ignore_errors=True)
    return out


# --- the command -----------------------------------------------------------------------------


def summary(outcomes: list[Outcome], cases: list[Case]) -> list[str]:
    written = [o for o in outcomes if o.variant == "as_written"]
    planted = [o for o in outcomes if o.variant == "planted"]
    with_line = [o for o in outcomes if o.line is not None]
    lines = [
        f"real: {sum(o.right for o in written)}/{len(written)} right as written, "
        f"lines {sum(bool(o.line) for o in with_line)}/{len(with_line)}, "
        f"shapes {sum(o.callable for o in written)}/{len(written)} callable",
        f"planted: {sum(o.right for o in planted)}/{len(planted)} right; "
        f"truth: {sum(o.truth_ok for o in outcomes)}/{len(outcomes)} variants agree with expect.yaml",
    ]
    by_kind: dict[str, list[Outcome]] = {}
    for o in written:
        by_kind.setdefault(o.case.kind, []).append(o)
    lines.append(
        "by kind (as written): "
        + ", ".join(f"{k} {sum(o.right for o in v)}/{len(v)}" for k, v in sorted(by_kind.items()))
    )
    return lines


def markdown(outcomes: list[Outcome]) -> str:
    """One row per implementation: its verdict as written and planted, the culprit line (for the
    variant that has the bug), whether nnfix could call it, and why the first variant failed."""
    by_case: dict[str, dict[str, Outcome]] = {}
    for o in outcomes:
        by_case.setdefault(o.case.name, {})[o.variant] = o
    rows = [
        "| implementation | kind | shape | bug | as written | planted | line | callable | why |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, v in by_case.items():
        first = next(iter(v.values()))
        case = first.case
        buggy = v.get("planted") or v.get("as_written") or first
        line = "—" if buggy.line is None else ("yes" if buggy.line else "no")
        planted = v.get("planted")
        why = next((o.reasons[0] for o in v.values() if o.reasons and not o.right), "")
        rows.append(
            " | ".join(
                [
                    f"| {name}",
                    case.kind,
                    case.shape,
                    "real" if case.real_bug else "planted",
                    "—" if "as_written" not in v else ("PASS" if v["as_written"].right else "FAIL"),
                    "—" if planted is None else ("PASS" if planted.right else "FAIL"),
                    line,
                    "yes" if first.callable else "no",
                    why.replace("|", "\\|")[:90] + " |",
                ]
            )
        )
    return "\n".join(rows)


def census(cases: list[Case]) -> str:
    kinds = {k: sum(c.kind == k for c in cases) for k in KINDS}
    real = sum(c.real_bug for c in cases)
    return (
        f"{len(cases)} implementations: "
        + ", ".join(f"{k} {n}" for k, n in kinds.items() if n)
        + f"; {real} with a real bug, {len(cases) - real} correct with a planted one"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mirror", type=Path, default=DEFAULT_MIRROR, help="where the git mirrors are"
    )
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--cases", type=Path, default=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=WORK, help=argparse.SUPPRESS)
    parser.add_argument(
        "--nnfix-root", type=Path, help="run nnfix from this source tree (e.g. a worktree of main)"
    )
    parser.add_argument(
        "--lines", action="store_true", help="only the variants with a culprit line"
    )
    parser.add_argument("--variant", choices=VARIANTS, help="only this variant")
    parser.add_argument("--jobs", type=int, default=1, help="variants run at once")
    parser.add_argument("--markdown", action="store_true", help="print the README table too")
    parser.add_argument("--json", type=Path, help="write every outcome to this file")
    parser.add_argument("--check", action="store_true", help="only validate the case files")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument(
        "--nospec",
        action="store_true",
        help="diagnose their file with no spec (SPEC §3.7), judged by the same expect.yaml",
    )
    args = parser.parse_args(argv)

    only = [s.strip() for s in args.only.split(",") if s.strip()] or None
    cases, broken = load_cases(only, args.cases)
    for name, why in broken:
        print(f"BROKEN  {name}: {why}")
    print(census(cases))
    if args.check:
        return 1 if broken else 0

    missing = sorted({c.repo for c in cases if git_dir(args.mirror, c.repo) is None})
    if missing and len(missing) == len({c.repo for c in cases}):
        print(
            f"error: no mirror in {args.mirror} for any case ({len(missing)} repositories); "
            "bring them with the search tool's fetch (github:OWNER/NAME) or pass --mirror DIR",
            file=sys.stderr,
        )
        return 2
    for repo in missing:
        print(f"MISSING mirror of {repo}: fetch github:{repo}")

    jobs = [
        (c, v)
        for c in cases
        if c.repo not in missing
        for v in VARIANTS
        if v in c.expect
        if (not args.variant or v == args.variant)
        and (not args.lines or c.expect[v]["nnfix"].get("culprit"))
    ]
    outcomes: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(
                judge, c, v, args.mirror, args.keep, args.work, args.nnfix_root, args.nospec
            )
            for c, v in jobs
        ]
        for fut in futures:
            o = fut.result()
            outcomes.append(o)
            mark = "PASS" if o.right else "FAIL"
            line = "" if o.line is None else (" line ✓" if o.line else " line ✗")
            why = "; ".join(o.reasons) or "as expected"
            print(f"{mark}  {o.case.name} [{o.variant}]{line}  {o.seconds:.1f}s  {why}", flush=True)
    print()
    for line in summary(outcomes, cases):
        print(("no spec, " if args.nospec else "") + line)
    if args.markdown:
        print()
        print(markdown(outcomes))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "case": o.case.name,
                        "kind": o.case.kind,
                        "shape": o.case.shape,
                        "variant": o.variant,
                        "right": o.right,
                        "line": o.line,
                        "callable": o.callable,
                        "truth": o.truth_ok,
                        "exit": o.exit,
                        "codes": o.codes,
                        "seconds": round(o.seconds, 2),
                        "why": o.reasons,
                    }
                    for o in outcomes
                ],
                indent=1,
            )
        )
    return 0 if all(o.right for o in outcomes) and not broken else 1


if __name__ == "__main__":
    sys.exit(main())
