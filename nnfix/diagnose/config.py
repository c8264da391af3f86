"""Configuration of `nnfix diagnose`, highest first: flags > the spec's `diagnose:` section >
`[tool.nnfix]` in the nearest pyproject.toml above the working directory > defaults."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from nnfix.diagnose import rules
from nnfix.errors import ConfigError, Problem, did_you_mean
from nnfix.report.formats import NAMES as FORMATS
from nnfix.spec.model import DiagnoseSpec

KEYS = ("fail_on", "select", "ignore", "format", "budget", "gradcheck")


@dataclass(frozen=True)
class Config:
    fail_on: str = "error"
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    format: str = "rich"
    budget: float = 10.0
    gradcheck: dict = field(default_factory=dict)


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a [tool.nnfix] table."""
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if "nnfix" in data.get("tool", {}):
                return candidate
    return None


def from_pyproject(path: Path | None) -> dict:
    """[tool.nnfix] as validated overrides (an unknown key or value is an InputError)."""
    if path is None:
        return {}
    table = tomllib.loads(path.read_text(encoding="utf-8"))["tool"]["nnfix"]
    problems = []
    for key in table:
        if key not in KEYS:
            problems.append(
                Problem(
                    f"unknown key '{key}' in [tool.nnfix] (allowed: {', '.join(KEYS)})",
                    file=path,
                    hint=did_you_mean(key, KEYS),
                )
            )
    out = {k: v for k, v in table.items() if k in KEYS}
    text = path.read_text(encoding="utf-8")
    for key in ("select", "ignore"):
        for selector in out.get(key) or [] if isinstance(out.get(key), list) else []:
            if isinstance(selector, str) and (why := rules.unknown(selector)):
                problems.append(
                    Problem(f"[tool.nnfix] {key}: {why}", file=path, line=_line(text, selector))
                )
    if "format" in out and out["format"] not in FORMATS:
        problems.append(
            Problem(
                f"[tool.nnfix] format: unknown format '{out['format']}' (one of {', '.join(FORMATS)})",
                file=path,
            )
        )
    try:
        DiagnoseSpec.model_validate({k: v for k, v in out.items() if k != "format"})
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            problems.append(
                Problem(
                    f"[tool.nnfix] {where}: {err['msg'][0].lower()}{err['msg'][1:]} (got {err['input']!r})",
                    file=path,
                )
            )
    if problems:
        raise ConfigError(problems)
    return out


def resolve(flags: dict, section: DiagnoseSpec, project: dict) -> Config:
    """Merge the three layers over the defaults; each names only the keys it sets."""
    config = Config()
    spec_keys = {k: getattr(section, k) for k in section.model_fields_set}
    if "gradcheck" in spec_keys:
        spec_keys["gradcheck"] = section.gradcheck.model_dump(exclude_unset=True)
    for layer in (project, spec_keys, {k: v for k, v in flags.items() if v not in (None, ())}):
        values = dict(layer)
        for key in ("select", "ignore"):
            if key in values:
                values[key] = tuple(values[key])
        if "gradcheck" in values:
            values["gradcheck"] = {**config.gradcheck, **values["gradcheck"]}
        config = replace(config, **values)
    return config


def _line(text: str, value: str) -> int | None:
    """The first line of pyproject.toml that writes `value` as a string."""
    for n, line in enumerate(text.splitlines(), start=1):
        if f'"{value}"' in line or f"'{value}'" in line:
            return n
    return None
