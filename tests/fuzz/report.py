"""The summary of a fuzz run: counts per class and per mutator, the failures deduplicated by
message, and one reproducer line per case that is neither ok nor a located input error."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from tests.fuzz.classify import CLASSES
from tests.fuzz.runner import Result

SHORT = {
    "hang": "hang",
    "crash": "crash",
    "internal-error": "internal",
    "traceback": "tb",
    "unlocated-input-error": "unlocated",
    "bad-json": "json",
    "missed-finding": "missed",
    "leak": "leak",
    "slow": "slow",
    "located-input-error": "located",
    "ok": "ok",
}
ACCEPTED = ("ok", "located-input-error")


def signature(result: Result) -> str:
    """The failure with its numbers, paths and quoted values blurred, to group by."""
    text = re.sub(r"/\S*nnfix-fuzz-\S*", "<tmp>", result.message)
    text = re.sub(r"'[^']{12,}'", "'…'", text)
    text = re.sub(r"0x[0-9a-f]+", "0x…", text)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return f"{result.cls}: {text[:160]}"


def table(results: list[Result]) -> str:
    classes = Counter(r.cls for r in results)
    lines = [f"{'class':<24}{'runs':>6}", "-" * 30]
    lines += [f"{c:<24}{classes[c]:>6}" for c in CLASSES if classes[c]]
    lines.append(f"{'total':<24}{len(results):>6}")
    by_mutator: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        for name in dict.fromkeys(r.case.mutators or ["(none)"]):
            by_mutator[name][r.cls] += 1
    shown = [c for c in CLASSES if classes[c]]
    head = f"{'mutator':<26}" + "".join(f"{SHORT[c]:>10}" for c in shown)
    lines += ["", head, "-" * len(head)]
    for name in sorted(by_mutator):
        counts = by_mutator[name]
        lines.append(f"{name:<26}" + "".join(f"{counts[c] or '.':>10}" for c in shown))
    return "\n".join(lines)


def distinct(results: list[Result]) -> str:
    """One line per distinct failure: how many runs, the mutators, the first case."""
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        if r.cls not in ACCEPTED:
            groups[signature(r)].append(r)
    lines = []
    for sig, group in sorted(groups.items(), key=lambda kv: (CLASSES.index(kv[1][0].cls), kv[0])):
        mutators = Counter(m for r in group for m in r.case.mutators)
        top = ", ".join(m for m, _ in mutators.most_common(3))
        lines.append(f"{len(group):>4} × {sig}   [{top}]  e.g. #{group[0].index}")
    return "\n".join(lines)


def reproducers(results: list[Result], seed: int) -> str:
    lines = []
    for r in results:
        if r.cls in ACCEPTED:
            continue
        what = " ".join(r.case.mutators) + "".join(f" ({n})" for n in r.case.notes)
        lines.append(f"#{r.index} {r.cls}: {r.message}  [{r.case.origin}: {what}]")
        if r.saved is not None:
            lines.append(f"    {r.case.reproducer(r.saved)}")
        else:
            lines.append(f"    python -m tests.fuzz --seed {seed} --only {r.index} --keep DIR")
    return "\n".join(lines)


def write_jsonl(results: list[Result], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for r in results:
            record = {
                "index": r.index,
                "class": r.cls,
                "flags": r.verdict.flags,
                "origin": r.case.origin,
                "mutators": r.case.mutators,
                "notes": r.case.notes,
                "command": r.case.command,
                "exit": r.run.returncode,
                "seconds": round(r.run.seconds, 2),
                "saved": str(r.saved) if r.saved else None,
            }
            out.write(json.dumps(record) + "\n")
