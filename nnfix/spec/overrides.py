"""`--set KEY=VALUE`: overriding any spec key by its dotted path, before validation."""

from __future__ import annotations

import re

from nnfix.errors import Problem, SpecError, SpecPath
from nnfix.spec.source import _FLOAT, MAX_INTEGER_DIGITS, Source
from nnfix.spec.source import value as yaml_value

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
    """A value as YAML reads a scalar (or a flow mapping/list), numbers such as 1e-7 included;
    a ValueError for what a spec file may not hold either (tags, alias bombs, deep nesting)."""
    if _FLOAT.match(text.strip()):
        if any(c in text for c in ".eE"):
            return float(text)
        if len(text.strip().lstrip("+-")) > MAX_INTEGER_DIGITS:
            raise ValueError(
                f"number too large (a spec's numbers have at most {MAX_INTEGER_DIGITS} digits)"
            )
        return int(text)
    return yaml_value(text)


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
            try:
                value = parse_value(text)
            except ValueError as exc:  # shown as `--set KEY=VALUE: KEY: what is refused`
                source.overrides[path] = f"--set {item}"
                problems.append(Problem(str(exc), path=path))
                continue
            if isinstance(node, dict) and isinstance(last, str):
                node[last] = value
            elif isinstance(node, list) and isinstance(last, int) and last < len(node):
                node[last] = value
            else:
                problems.append(Problem(f"--set {item}: cannot set {key} here"))
                continue
            source.overrides[path] = f"--set {item}"
    if problems:
        raise SpecError(problems, source)


def role_path(role: str | None) -> tuple:
    """The spec path of what a worker was calling: `backward` -> implementation.backward;
    `model.layers[0].activation.derivative` (a file.py:function) -> that path."""
    if not role:
        return ("implementation",)
    if role.startswith(("model.", "loss.")):
        try:
            return parse_key(role)
        except ValueError:
            pass
    return ("implementation", role.split(".")[0].split("[")[0])
