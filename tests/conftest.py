"""Shared helpers: writing a spec to a temporary folder and loading it."""

from __future__ import annotations

import textwrap
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
