"""`--set KEY=VALUE`: overriding any spec key by its dotted path, before validation."""

from __future__ import annotations

import re

import yaml

from nnfix.errors import Problem, SpecError, SpecPath
from nnfix.spec.source import _FLOAT, Source

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*|\d+)(?P<index>(\[\d+\])*)$")


def parse_key(key: str) -> SpecPath:
    """'model.layers[1].units' or 'model.layers.1.units' -> ('model', 'layers', 1, 'units')."""
    parts: list[str | int] = []
    for segment in key.split("."):
        match = _SEGMENT.match(segment)
        if not match:
            raise ValueError(key)
        name = match["name"]
        parts.append(int(name) if name.isdigit() else name)
        parts += [int(i) for i in re.findall(r"\[(\d+)\]", match["index"])]
    return tuple(parts)


def parse_value(text: str) -> object:
    """A value as YAML reads a scalar (or a flow mapping/list), numbers such as 1e-7 included."""
    if _FLOAT.match(text.strip()):
        return float(text) if any(c in text for c in ".eE") else int(text)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply(source: Source, assignments: tuple[str, ...] | list[str]) -> None:
    """Apply each `KEY=VALUE` to the source's data, remembering which paths came from where."""
    problems: list[Problem] = []
    for item in assignments:
        key, sep, text = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError(item)
            path = parse_key(key.strip())
        except ValueError:
            problems.append(
                Problem(f"--set {item!r}: expected KEY=VALUE, as in --set train.lr=0.01")
            )
            continue
        node = source.data
        for depth, part in enumerate(path[:-1]):
            parent_path = path[: depth + 1]
            if isinstance(node, dict):
                child = node.get(part)
                if child is None:
                    child = node[part] = {}
                elif isinstance(child, str) and not isinstance(path[depth + 1], int):
                    child = node[part] = {"name": child}  # a shorthand such as `optimizer: adam`
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                child = node[part]
            else:
                problems.append(
                    Problem(
                        f"--set {item}: there is no {'.'.join(map(str, parent_path))} to set a key in"
                    )
                )
                break
            node = child
        else:
            last = path[-1]
            if isinstance(node, dict) and isinstance(last, str):
                node[last] = parse_value(text)
            elif isinstance(node, list) and isinstance(last, int) and last < len(node):
                node[last] = parse_value(text)
            else:
                problems.append(Problem(f"--set {item}: cannot set {key} here"))
                continue
            source.overrides[path] = f"--set {item}"
    if problems:
        raise SpecError(problems, source)
