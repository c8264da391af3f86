"""The spec's YAML text parsed into plain data, keeping every node's line and column."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nnfix.errors import Problem, SpecError, SpecPath

# YAML 1.1 reads `1e-7` (no dot) as a string; SPEC §2 says such numbers are numbers.
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class Source:
    """A spec file: its text, its data, and where each key and value stands in the text."""

    path: Path
    text: str
    data: object
    keys: dict[SpecPath, Mark] = field(default_factory=dict)  # where the key of a path stands
    values: dict[SpecPath, Mark] = field(default_factory=dict)  # where its value starts
    styles: dict[SpecPath, str | None] = field(default_factory=dict)  # scalar quote style
    overrides: dict[SpecPath, str] = field(default_factory=dict)  # path -> "--set k=v"

    def locate(self, path: SpecPath, on_key: bool = False) -> tuple[SpecPath, Mark | None]:
        """The mark of `path`, or of its nearest ancestor that is in the file."""
        for n in range(len(path), -1, -1):
            prefix = tuple(path[:n])
            table = self.keys if on_key and n == len(path) else self.values
            if prefix in table:
                return prefix, table[prefix]
            if prefix in self.keys:
                return prefix, self.keys[prefix]
        return (), None

    def override_for(self, path: SpecPath) -> str | None:
        """The `--set` that gave the value at `path` (or one of its ancestors), if any."""
        for n in range(len(path), 0, -1):
            if tuple(path[:n]) in self.overrides:
                return self.overrides[tuple(path[:n])]
        return None


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _scalar(node: yaml.ScalarNode, loader: yaml.SafeLoader) -> object:
    value = loader.construct_object(node, deep=True)
    if isinstance(value, str) and node.style is None and _FLOAT.match(value):
        return float(value)
    return value


def _build(node: yaml.Node, path: SpecPath, src: Source, loader, problems: list[Problem]):
    src.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, loader) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if key in out:
                first = src.keys[child]
                problems.append(
                    Problem(
                        f"duplicate key '{key}' (first given on line {first.line})",
                        path=child,
                        line=key_node.start_mark.line + 1,
                        col=key_node.start_mark.column + 1,
                    )
                )
                continue
            src.keys[child] = _mark(key_node)
            out[key] = _build(value_node, child, src, loader, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            src.keys[(*path, i)] = _mark(item)
            items.append(_build(item, (*path, i), src, loader, problems))
        return items
    assert isinstance(node, yaml.ScalarNode)
    src.styles[path] = node.style
    return _scalar(node, loader)


def parse(text: str, path: Path) -> Source:
    """Parse YAML text; a syntax error or duplicate key is an InputError with its line."""
    src = Source(path=path, text=text, data=None)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = Problem(
            f"YAML syntax error: {exc.problem or exc.context}",
            line=mark.line + 1 if mark else None,
            col=mark.column + 1 if mark else None,
        )
        raise SpecError([problem], src) from None
    finally:
        loader.dispose()
    if node is None:
        raise SpecError([Problem("the spec is empty: it needs at least data, model and loss")], src)
    problems: list[Problem] = []
    src.data = _build(node, (), src, loader, problems)
    if problems:
        raise SpecError(problems, src)
    if not isinstance(src.data, dict):
        raise SpecError(
            [Problem("the spec must be a YAML mapping (key: value lines)", line=1, col=1)], src
        )
    return src


def read(path: Path) -> Source:
    """Read and parse a spec file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(f"spec file not found: {path}")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(f"cannot read spec file {path}: {exc}")]) from None
    return parse(text, path)
