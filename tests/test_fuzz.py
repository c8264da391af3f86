"""The fuzzer (tests/fuzz) on a fixed seed: mutated specs, data files and user code must
never make nnfix hang, crash, print a traceback or "internal error", break its JSON, exit 2
without naming a line, or pass user code that raised or returned NaN gradients without a
finding. Run alone with `pytest -m fuzz`."""

from __future__ import annotations

import time

import pytest

from tests.fuzz import report
from tests.fuzz.classify import FAILURES
from tests.fuzz.generate import matrix, random_cases
from tests.fuzz.mutators.usercode import HANGS
from tests.fuzz.runner import Settings, run_all

SEED = 1
COUNT = 300  # random cases: mutated specs, data files and --set arguments
TIMEOUT = 60.0  # seconds per run: well beyond the 30 s one call of the user's code may take
# (plus nnfix's 5 s grace), so a busy machine is not taken for a hang
MEMORY = 1 << 30  # bytes of address space per run (an alias bomb fails sooner)
DEADLINE = 900.0  # seconds after which no case starts: ~3.5 minutes on an idle 2-core
# machine; the margin is for a busy one, where a case may take several times as long


def _never_returns(item) -> bool:
    return any(note.split()[0] in HANGS for note in item[1].notes)


@pytest.mark.fuzz
def test_fuzz_finds_nothing(tmp_path):
    # every user-code mutation (the endless ones first, so they overlap with the rest), then
    # the random cases
    user_code = sorted(matrix(), key=lambda item: not _never_returns(item))
    cases = [*user_code, *random_cases(SEED, COUNT, user_code=False)]
    keep = tmp_path / "cases"
    keep.mkdir()
    started = time.monotonic()
    settings = Settings(timeout=TIMEOUT, memory=MEMORY, keep=keep, debug=False)
    results = run_all(cases, settings, jobs=2, deadline=started + DEADLINE)
    seconds = time.monotonic() - started
    report.write_jsonl(results, keep / "results.jsonl")
    failing = [r for r in results if any(c in r.verdict.flags for c in FAILURES)]
    summary = (
        f"{len(failing)} of {len(results)} runs failed in {seconds:.0f} s; cases in {keep}\n\n"
        f"{report.table(results)}\n\nDistinct failures:\n{report.distinct(results)}\n\n"
        f"Reproducers:\n{report.reproducers(results, SEED)}"
    )
    assert not failing, summary
    assert len(results) == len(cases), (
        f"only {len(results)} of {len(cases)} cases ran before the {DEADLINE:.0f} s deadline: "
        f"nnfix is too slow on them\n\n{summary}"
    )
