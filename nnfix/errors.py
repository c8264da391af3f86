"""Errors in what the user gave nnfix (spec, data, their module): each is exit code 2."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nnfix.spec.source import Source

SpecPath = tuple[str | int, ...]


def format_path(path: SpecPath) -> str:
    """('model', 'layers', 1, 'activation') -> 'model.layers[1].activation'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Problem:
    """One thing wrong with the input, located as precisely as we know."""

    message: str
    path: SpecPath = ()  # where in the spec it comes from
    file: Path | None = None  # the file it is in, when that is not the spec (a data file, a module)
    line: int | None = None  # 1-based, in `file` (or in the spec when `file` is None)
    col: int | None = None  # 1-based
    hint: str | None = None  # "did you mean 'tanh'?"
    detail: str | None = None  # a longer block shown verbatim (the user's traceback)
    on_key: bool = False  # point at the key rather than its value (unknown keys)
    offset: int = 0  # characters into the value (the offending token of an expression)


class InputError(Exception):
    """Something the user gave nnfix could not be read: nothing was run (exit 2). `source` is
    the spec whose paths the problems name, given where the error is raised."""

    what = "the input"  # for "nnfix: 2 problems in the spec; nothing was run."
    outcome = "nothing was run"

    def __init__(self, problems: list[Problem], source: Source | None = None):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
        self.source = source

    def __reduce__(self):  # raised in a worker, re-raised here
        return type(self), (self.problems, self.source)


class SpecError(InputError):
    what = "the spec"


class DataError(InputError):
    what = "the data"


class ModuleError(InputError):
    what = "your module"


class CommandLineError(InputError):
    what = "the command line"


class ConfigError(InputError):
    what = "the configuration"


class OutputError(InputError):
    """Where nnfix was told to write (train's --out or runs/, diagnose's --output) cannot be
    written: refused before anything runs, or, when the write itself failed afterwards (a full
    disk), with `outcome` saying what was lost."""

    what = "the output location"

    def __init__(self, problems: list[Problem], outcome: str = "nothing was run"):
        super().__init__(problems)
        self.outcome = outcome

    def __reduce__(self):
        return type(self), (self.problems, self.outcome)


def did_you_mean(word: str, choices) -> str | None:
    """A 'did you mean' hint for a misspelt key or name, or None when nothing is close."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


class UserFunctionError(Exception):
    """A function the user wrote (expression or file) raised or returned the wrong thing."""

    def __init__(self, path: SpecPath, text: str, message: str, trace: str | None = None):
        super().__init__(message)
        self.path = path
        self.text = text
        self.trace = trace

    def __reduce__(self):  # raised in a worker, re-raised here
        return UserFunctionError, (self.path, self.text, str(self), self.trace)

    def problem(self) -> Problem:
        return Problem(f"{self.text!r}: {self}", path=self.path, detail=self.trace)
