"""A spec written as text, comments and all: what `nnfix init --from` inferred (every key
with a comment saying how, other candidates commented out beside it), in the order and style of
SPEC §2, with the schema modeline on top."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import yaml

from nnfix.init.conclude import Inference, Key

WIDTH = 92  # comment lines are wrapped to this
MODELINE = "# yaml-language-server: $schema=nnfix-schema.json"
SCHEMA_NOTE = (
    "# (for completion in your editor: `nnfix schema > nnfix-schema.json` beside this file)"
)
CHOOSE = "CHOOSE"  # marks what nnfix could not decide
INDICATORS = "{[&*!|>'\"%@`-?:,]}"  # a plain scalar may not start with these
FLOW = "[]{},"  # nor hold these inside a flow collection


def scalar(value: Any, flow: bool = False) -> str:
    """A YAML scalar or flow collection that reads back as `value` (inside a flow collection,
    `flow`, a string with brackets, braces or commas is quoted)."""
    if isinstance(value, str):
        special = (
            "#" in value or value[:1] in INDICATORS or (flow and any(c in value for c in FLOW))
        )
        try:
            if not special and yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)  # 1e-05 too: nnfix reads such YAML text as the number it is
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {scalar(v, True)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(scalar(v, True) for v in value) + "]"
    return json.dumps(str(value))


def comment(text: str, indent: str) -> list[str]:
    width = max(40, WIDTH - len(indent) - 2)
    return [f"{indent}# {line}" for line in textwrap.wrap(text, width, break_on_hyphens=False)]


def entry(name: str, key: Key, indent: str) -> list[str]:
    """`name: value` with its how above it and its other candidates commented out below."""
    lines: list[str] = []
    how = key.how
    if key.choose and key.value is not None and key.others:
        how = f"{CHOOSE}: nnfix could not tell these apart; keep one. " + how
    elif key.choose:
        how = f"{CHOOSE}: " + how
    if how:
        lines += comment(how, indent)
    if key.value is None:  # nothing found: the key is the user's to write
        lines += [] if key.others else [f"{indent}# {name}: "]
    elif isinstance(key.value, list) and key.value and all(isinstance(v, str) for v in key.value):
        lines.append(f"{indent}{name}:")
        lines += [f"{indent}  - {scalar(v)}" for v in key.value]
    else:
        lines.append(f"{indent}{name}: {scalar(key.value)}")
    for other in key.others:
        lines.append(f"{indent}# {name}: {scalar(other)}")
    return lines


def relative(path: Path, base: Path) -> str:
    """`path` as the spec names it: relative to the spec's folder (POSIX separators)."""
    target, folder = path.resolve(), base.resolve()
    try:
        common = Path(os.path.commonpath([target, folder]))
        rel = os.path.relpath(target, folder)
    except ValueError:  # another drive
        return target.as_posix()
    if common == Path(common.anchor):  # nothing in common but the root: absolute reads better
        return target.as_posix()
    return Path(rel).as_posix()


def spec_text(inference: Inference, spec_path: Path, data: Key | None, command: str) -> str:
    """The whole spec for `spec_path`, every path in it relative to that file's folder."""
    base = spec_path.parent
    module = relative(inference.module, base)
    out = [MODELINE, SCHEMA_NOTE, "#"]
    out += comment(
        f"Written by `{command}`: nnfix called your code on a small batch and wrote down what "
        "it computed. Each key says how it was found"
        + ("; the ones marked CHOOSE are yours to settle" if inference.undecided else "")
        + f". Then: nnfix diagnose {spec_path.name}",
        "",
    )
    out += [f"name: {scalar(inference.module.stem)}", "seed: 0", ""]
    data = data or inference.data
    if data is not None:
        out += comment(data.how, "")
        out.append("data:")
        out += [f"  {k}: {scalar(v)}" for k, v in data.value.items()]
        out.append("")
    out += _model(inference)
    if inference.loss is not None:
        out += entry("loss", inference.loss, "")
        out.append("")
    if inference.train is not None:
        out += comment(inference.train.how, "")
        out.append("train:")
        out += [f"  {k}: {scalar(v)}" for k, v in inference.train.value.items()]
        out.append("")
    out += _implementation(inference, module)
    return "\n".join(out).rstrip() + "\n"


def _model(inference: Inference) -> list[str]:
    out = []
    if inference.units:
        sizes = f"layer sizes: {inference.sizes_how}" if inference.sizes_how else ""
        if not inference.activations:
            sizes = (sizes + ". " if sizes else "") + (
                f"{CHOOSE}: the activations (nnfix could not run your forward)"
            )
        out += comment(sizes, "") if sizes else []
    else:
        out += comment(
            f"{CHOOSE}: your layers' widths and activations (nnfix could not find them: run "
            "`nnfix init --from` again with --layers, or write them here)",
            "",
        )
    out.append("model:")
    if inference.init is not None:
        out += entry("init", inference.init, "  ")
    if inference.bias_init is not None:
        out += entry("bias_init", inference.bias_init, "  ")
    if inference.biases and not any(inference.biases):
        out += comment("your code has no bias arrays", "  ")
        out.append("  bias: false")
    out.append("  layers:")
    units = inference.units or [8, 1]
    for i, n in enumerate(units):
        act = inference.activations[i] if i < len(inference.activations) else None
        value = act.value if act is not None else ("tanh" if i < len(units) - 1 else "sigmoid")
        fields = f"units: {n}, activation: {scalar(value)}"
        if inference.biases and any(inference.biases) and not inference.biases[i]:
            fields += ", bias: false"
        how = act.how if act is not None else f"{CHOOSE}"
        line = f"    - {{{fields}}}"
        note = f"  # {how}"
        if len(line) + len(note) <= WIDTH + 8:
            out.append(line + note)
        else:
            out += comment(how, "    ")
            out.append(line)
    out.append("")
    return out


ORDER = (
    "model",
    "layers",
    "forward",
    "backward",
    "loss",
    "per_sample",
    "arguments",
    "params",
    "update_lr",
)


def _implementation(inference: Inference, module: str) -> list[str]:
    out = ["implementation:"]
    out.append(f"  module: {scalar(module)}")
    for name in ORDER:
        if name in inference.implementation:
            out += entry(name, inference.implementation[name], "  ")
    if inference.found:
        out += comment(
            "found by running your code (nothing to write down; `nnfix diagnose` finds "
            "it again and says so in its header):",
            "  ",
        )
        for line in inference.found:
            out += comment(line, "  ")
    for note in inference.notes:
        out += comment(note, "  ")
    if inference.skipped:
        count = len(inference.skipped)
        out += comment(
            f"{count} top-level statement{'s' * (count != 1)} of your module {'are' if count != 1 else 'is'} "
            "not run (a script that trains or plots): nnfix imports its definitions only",
            "  ",
        )
    return out
