"""A fuzz case: a spec, the files beside it and the command line that runs it."""

from __future__ import annotations

import os
import shlex
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

SPEC = "spec.yaml"
ROOT_MARK = "@ROOT@"  # replaced, when the case is written, by the folder above the case's folder
FIFO = b"@FIFO@"  # a file with this content is written as a named pipe nobody writes to
LINK = b"@LINK@"  # a file with content @LINK@/some/path is written as a symlink to that path


@contextmanager
def _any_digits():
    """Integers of thousands of digits are among the values: let them through str/int."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(limit)


@dataclass
class Case:
    """What one run of nnfix gets: everything a user could hand it."""

    spec: bytes
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content
    args: list[str] = field(default_factory=list)  # extra arguments (--set …)
    command: str = "diagnose"  # diagnose | train
    quick: bool = True  # diagnose --quick
    out: bool = True  # train --out out (else the default run directory, runs/<name>/<n>/)
    stdin: str = "closed"  # closed (/dev/null) | open (a pipe nobody writes to, like a terminal)
    hostile_exit: int | None = None  # the exit code the user's code tries to force
    expect_finding: bool = False  # the user's code misbehaves where a finding must say so
    waits: bool = False  # the user's code waits (sleep, input, a thread) without using a CPU
    lineless: bool = False  # the spec is no file one can read (a pipe, a device): no line to name
    origin: str = ""  # the corpus entry it started from
    mutators: list[str] = field(default_factory=list)  # what was applied, in order
    notes: list[str] = field(default_factory=list)  # what a mutator chose (body, role, value)

    def but(self, **changes) -> Case:
        """A copy with some fields changed (files and lists copied, never shared)."""
        base = replace(self, files=dict(self.files), args=list(self.args))
        base.mutators, base.notes = list(self.mutators), list(self.notes)
        return replace(base, **changes)

    # --- the spec as data, for mutators that work on keys and values ----------------------

    def data(self):
        """The spec parsed (None when it is no longer valid YAML or not a mapping)."""
        try:
            with _any_digits():
                data = yaml.safe_load(self.spec.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError, RecursionError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def with_data(self, data) -> Case:
        with _any_digits():
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=4096)
        return self.but(spec=text.encode("utf-8"))

    def text(self) -> str | None:
        try:
            return self.spec.decode("utf-8")
        except UnicodeDecodeError:
            return None

    # --- running it ------------------------------------------------------------------------

    @property
    def json_stdout(self) -> bool:
        """Whether stdout must be one JSON document (with --output the terminal gets the rich
        report and the file the JSON)."""
        return "--output" not in self.args

    def argv(self, root: str = ROOT_MARK) -> list[str]:
        """nnfix's arguments, relative to the case's folder (the root mark resolved)."""
        extra = [a.replace(ROOT_MARK, root) for a in self.args]
        if self.command == "train":
            base = ["train", SPEC, "--epochs", "1", "--no-progress", "--format", "json"]
            return [*base, *(["--out", "out"] if self.out else []), *extra]
        quick = ["--quick"] if self.quick else []
        return ["diagnose", SPEC, *quick, "--budget", "2", "--format", "json", *extra]

    def write(self, folder: Path) -> None:
        """Write the spec and its files into `folder` (created), the root mark resolved."""
        folder.mkdir(parents=True, exist_ok=True)
        root = str(folder.parent).encode()
        for name, content in {SPEC: self.spec, **self.files}.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if content == FIFO:
                os.mkfifo(path)
            elif content.startswith(LINK):
                path.symlink_to(content[len(LINK) :].decode())
            else:
                path.write_bytes(content.replace(ROOT_MARK.encode(), root))

    def reproducer(self, folder: Path) -> str:
        """One shell line that runs the case again from its saved folder."""
        stdin = "sleep 3600 | " if self.stdin == "open" else ""
        tail = "" if self.stdin == "open" else " < /dev/null"
        args = " ".join(shlex.quote(a) for a in self.argv(str(folder.parent)))
        return f"cd {shlex.quote(str(folder))} && {stdin}python -m nnfix {args}{tail}"
