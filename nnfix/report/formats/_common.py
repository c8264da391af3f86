"""What the machine-readable formats share: JSON-safe values and one wording of a fix."""

from __future__ import annotations

import math

from nnfix.diagnose.findings import Finding, Fix


def plain(value: object) -> object:
    """`value` as JSON can hold it: numpy scalars and arrays to Python numbers and lists,
    non-finite floats to None, tuples and sets to lists, anything else unknown to its str."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=repr)
    if hasattr(value, "tolist"):  # numpy scalar or array
        return plain(value.tolist())
    return str(value)


def value_text(value: object) -> str:
    """A fix's value or an evidence figure as a person reads it (YAML-like scalars)."""
    value = plain(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def change_text(fix: Fix) -> str | None:
    """The spec change a fix makes, `path: value`, or None when it is only a sentence."""
    return f"{fix.spec_path}: {value_text(fix.value)}" if fix.spec_path else None


def fix_text(fix: Fix) -> str:
    """`model.layers[0].derivative: 1 - a**2 — use the derivative in a`, or the sentence alone."""
    change = change_text(fix)
    return f"{change} — {fix.description}" if change else fix.description


def evidence_text(f: Finding) -> str:
    """The measured numbers on one line (a traceback is left to the caller)."""
    return "; ".join(f"{k} {value_text(v)}" for k, v in f.evidence.items() if k != "traceback")


def where(spec: str, f: Finding) -> str:
    """`spec.yaml:14:7`, `spec.yaml:14` or `spec.yaml`, as far as the location is known."""
    if not f.location.line:
        return spec
    return f"{spec}:{f.location.line}" + (f":{f.location.col}" if f.location.col else "")


def counted(counts: dict[str, int]) -> str:
    """`4 errors, 1 warning, 1 info`: the findings of each severity, counted in words."""
    return ", ".join(
        f"{n} {severity}{'' if n == 1 or severity == 'info' else 's'}"
        for severity, n in counts.items()
    )
