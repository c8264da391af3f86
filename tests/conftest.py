"""Shared helpers: writing a spec to a temporary folder and loading it; the cases of a long
sweep, sampled for the default run."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@pytest.fixture
def write_spec(tmp_path):
    """write_spec(yaml_text, name='spec.yaml') -> Path of the written spec."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


def sampled(cases: Iterable, every: int, ids: list[str] | None = None) -> list:
    """The parameters of a sweep over many cases: every `every`-th case (from the first) runs
    by default, the others are marked `slow` and run with `-m slow` (CI runs them all), so the
    default `python -m pytest` stays within minutes while every case is still checked."""
    out = []
    for i, case in enumerate(cases):
        if isinstance(case, type(pytest.param(None))):  # already a pytest.param
            values, marks, name = case.values, list(case.marks), case.id
        else:
            values, marks, name = (case if isinstance(case, tuple) else (case,)), [], None
        if ids is not None:
            name = ids[i]
        if i % every:
            marks.append(pytest.mark.slow)
        out.append(pytest.param(*values, marks=marks, id=name))
    return out
