"""Setting one value of a spec in its YAML text, every other character kept: comments, quoting,
key order, flow or block style, blank lines, line endings.

ruamel.yaml's round-trip parser gives each node's place in the text and its style; the edit
replaces only the characters of the value being set (or inserts one `key: value` line, or one
`, key: value` pair in a `{…}` mapping), written in the style of what it replaces. ruamel then
reads the result back: it must be the old data with that one value set, or the edit is
refused. (ruamel's own dump of the whole document is not used: it re-indents `- ` lists,
drops `---` and `~`, turns CRLF into LF and re-spaces `key:   value` and `{ a: 1 }` — lines
the user wrote, changed for nothing.)"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nnfix.errors import SpecPath, format_path

_MERGE = "tag:yaml.org,2002:merge"
_NULL = "tag:yaml.org,2002:null"


class EditError(Exception):
    """The value cannot be set by editing the text (the message says why)."""


def set_value(text: str, path: SpecPath, value: object) -> str:
    """`text` with the value at `path` set to `value`. Where the path goes on through a scalar
    (`activation: tanh` given `activation.derivative`), the scalar becomes the `name` of a
    `{…}` mapping, as nnfix reads the shorthand; missing keys are added."""
    if not path:
        raise EditError("the whole spec cannot be replaced")
    root = _compose(text)
    start, end, new = _splice(text, root, path, value)
    edited = text[:start] + new + text[end:]
    _check(text, edited, path, value)
    return edited


def value_at(text: str, path: SpecPath) -> object:
    """The value at `path` as ruamel reads it (`_MISSING` when the path is not in the text)."""
    node: Any = _load(text)
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, str) and part != "name" and isinstance(part, str):
            return MISSING  # the shorthand `activation: tanh` has only a name
        elif isinstance(node, str) and part == "name":
            return node
        else:
            return MISSING
    return node


class _Missing:
    def __repr__(self) -> str:
        return "(not set)"


MISSING: Any = _Missing()


# --- reading --------------------------------------------------------------------------------


def _yaml() -> YAML:
    return YAML(typ="rt", pure=True)


def _compose(text: str) -> MappingNode:
    try:
        node = _yaml().compose(text)
    except YAMLError as exc:
        raise EditError(f"ruamel.yaml cannot read the spec: {_reason(exc)}") from None
    if not isinstance(node, MappingNode):
        raise EditError("the spec is not a mapping")
    return node


def _load(text: str) -> Any:
    try:
        return _plain(_yaml().load(text))
    except YAMLError as exc:
        raise EditError(f"ruamel.yaml cannot read the spec: {_reason(exc)}") from None


def _reason(exc: YAMLError) -> str:
    return str(getattr(exc, "problem", None) or str(exc).splitlines()[0])


def _plain(data: Any) -> Any:
    """ruamel's round-trip containers and scalars as plain dicts, lists, str, int, float."""
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    if isinstance(data, bool) or data is None:
        return data
    if isinstance(data, int):
        return int(data)
    if isinstance(data, float):
        return float(data)
    if isinstance(data, str):
        return str(data)
    return data


# --- where to edit ----------------------------------------------------------------------------


def _content_end(node: Node) -> int:
    """Where a node's own text ends: a block collection's end mark lies past the comments and
    blank lines after it, which belong to what follows."""
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1][1])
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1])
    end = node.end_mark.index
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        text = node.end_mark.buffer
        while end > node.start_mark.index and text[end - 1] in "\r\n":
            end -= 1
    return end


def _is_block(node: Node) -> bool:
    return isinstance(node, MappingNode | SequenceNode) and not node.flow_style


def _empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL and node.value in ("", "~", "null")


def _after_colon(text: str, key: Node) -> int:
    """The index just after the `:` that follows a key."""
    at = text.find(":", key.end_mark.index)
    if at < 0:
        raise EditError("cannot find the ':' after a key")
    return at + 1


def _splice(text: str, root: MappingNode, path: SpecPath, value: object) -> tuple[int, int, str]:
    """(start, end, new text): the characters to replace so that `path` holds `value`."""
    node: Node = root
    flow = False
    for i, part in enumerate(path):
        where = format_path(path[: i + 1])
        if getattr(node, "anchor", None):
            raise EditError(
                f"{format_path(path[:i]) or 'the spec'} is shared through the anchor "
                f"&{node.anchor}: change it by hand"
            )
        rest = path[i + 1 :]
        if isinstance(node, MappingNode):
            if not isinstance(part, str):
                raise EditError(f"{format_path(path[:i])} is a mapping, not a list")
            pair = next(
                ((k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == part),
                None,
            )
            if pair is None:
                if any(k.tag == _MERGE for k, _ in node.value):
                    raise EditError(f"{where} would come from a merge key (<<): set it by hand")
                return _insert(text, node, part, _nested(rest, value, where))
            key, child = pair
            if getattr(child, "anchor", None):
                raise EditError(
                    f"{where} is shared through the anchor &{child.anchor}: change it by hand"
                )
            if not rest:
                return _replace(text, key, child, value, flow or bool(node.flow_style))
            flow = flow or bool(node.flow_style)
            node = child
            if isinstance(child, ScalarNode):  # a shorthand that must become a mapping
                if isinstance(rest[0], int):
                    raise EditError(f"{format_path(path[: i + 1])} is not a list")
                mapping = {} if _empty(child) else {"name": _Raw(_source(text, child))}
                mapping.update(_nested(rest, value, where))
                start, end = _span(text, key, child)
                return start, end, _lead(text, start) + _render(mapping, True)
        elif isinstance(node, SequenceNode):
            if not isinstance(part, int) or not 0 <= part < len(node.value):
                raise EditError(f"{where}: there is no such item")
            child = node.value[part]
            if getattr(child, "anchor", None):
                raise EditError(
                    f"{where} is shared through the anchor &{child.anchor}: change it by hand"
                )
            if not rest:
                if _is_block(child):
                    raise EditError(f"{where} is a block; replace it by hand")
                new = _render(value, flow or bool(node.flow_style), _style(child))
                return child.start_mark.index, _content_end(child), new
            flow = flow or bool(node.flow_style)
            node = child
            if isinstance(child, ScalarNode):
                raise EditError(f"{where} is a single value, not a mapping")
        else:
            raise EditError(f"{format_path(path[:i])} is a single value")
    raise EditError(f"{format_path(path)}: nothing to set")


class _Raw(str):
    """Text copied from the spec as written (a scalar kept with its quotes)."""


def _source(text: str, node: Node) -> str:
    return text[node.start_mark.index : _content_end(node)]


def _nested(rest: SpecPath, value: object, where: str) -> Any:
    """`value` under the keys of `rest`: (a, b) -> {a: {b: value}}."""
    out: Any = value
    for part in reversed(rest):
        if isinstance(part, int):
            raise EditError(f"{where} has no list to add an item to")
        out = {part: out}
    return out


def _span(text: str, key: Node, child: Node) -> tuple[int, int]:
    """The characters a key's value takes: the value itself, or for a block (and an empty
    value) everything from just after the `:` to the block's end."""
    if _empty(child) and child.end_mark.index == child.start_mark.index:
        at = _after_colon(text, key)  # nothing written: its mark is where the next token is
        return at, at
    if _is_block(child):
        return _after_colon(text, key), _content_end(child)
    return child.start_mark.index, _content_end(child)


def _lead(text: str, start: int) -> str:
    """A space before a value written right after its `:`."""
    return " " if start > 0 and text[start - 1] == ":" else ""


def _style(node: Node) -> str | None:
    return node.style if isinstance(node, ScalarNode) and node.style in ("'", '"') else None


def _replace(text: str, key: Node, child: Node, value: object, flow: bool) -> tuple[int, int, str]:
    start, end = _span(text, key, child)
    return start, end, _lead(text, start) + _render(value, flow, _style(child))


def _insert(text: str, mapping: MappingNode, key: str, value: object) -> tuple[int, int, str]:
    """A new `key: value` at the end of a mapping: one more line of a block, or one more pair
    of a `{…}` mapping."""
    if mapping.flow_style:
        if not mapping.value:
            at = text.index("{", mapping.start_mark.index) + 1
            return at, at, f"{key}: {_render(value, True)}"
        at = _content_end(mapping.value[-1][1])
        return at, at, f", {key}: {_render(value, True)}"
    if not mapping.value:
        raise EditError("cannot add a key to an empty mapping")
    newline = "\r\n" if "\r\n" in text else "\n"
    indent = mapping.value[0][0].start_mark.column
    end = _content_end(mapping.value[-1][1])
    found = re.compile(r"\r\n|\n|\r").search(text, end)
    line = " " * indent + f"{key}: {_render(value, False)}"
    if found is None:  # the last line, without a line break: the new one has none either
        return len(text), len(text), newline + line
    return found.end(), found.end(), line + newline


# --- writing values ---------------------------------------------------------------------------


def _render(value: object, flow: bool, quote: str | None = None) -> str:
    """A value as YAML text: a scalar in the quoting of the one it replaces (plain where that
    reads back the same), a mapping or list as `{…}` / `[…]` on one line."""
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_render(v, True)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render(v, True) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number(value)
    text = str(value)
    if quote == "'":
        return "'" + text.replace("'", "''") + "'"
    if quote == '"' or not _plain_reads_back(text, flow):
        return json.dumps(text, ensure_ascii=False)
    return text


def number(value: float) -> str:
    """A float as a person writes it, four significant digits, read back as a float by any YAML
    reader (`0.03333`, `1.0e-05`, `.inf`)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(float(f"{value:.4g}"))
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + (f"e{exponent}" if e else "")


def _plain_reads_back(text: str, flow: bool) -> bool:
    """Whether `text` written unquoted reads back as the same text, in ruamel (YAML 1.2) and in
    nnfix's own reader (PyYAML's YAML 1.1 with numbers like `1e-7` read as numbers)."""
    if not text or text != text.strip() or "\n" in text:
        return False
    from nnfix.spec import source

    document = f"{{k: {text}}}" if flow else f"k: {text}"
    try:
        theirs = _plain(_yaml().load(document))
        ours = source.value(document)
    except (YAMLError, ValueError):
        return False
    return theirs == {"k": text} and ours == {"k": text}


# --- checking the result ----------------------------------------------------------------------


def _check(before: str, after: str, path: SpecPath, value: object) -> None:
    """The edited text must read as the old data with the one value set, nothing else."""
    expected = _load(before)
    node = expected
    for i, part in enumerate(path[:-1]):
        child = node.get(part) if isinstance(node, dict) else node[part]
        if child is None and isinstance(node, dict):
            child = node[part] = {}
        elif isinstance(child, str) and isinstance(node, dict):
            child = node[part] = {"name": child}
        if not isinstance(child, dict | list):
            raise EditError(f"{format_path(path[: i + 1])} cannot hold keys")
        node = child
    node[path[-1]] = _plain(value)
    got = _load(after)
    if not _same(got, expected):
        raise EditError(f"setting {format_path(path)} would change more than that value")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-3) or (math.isnan(a) and math.isnan(b))
    return bool(a == b and type(a) is type(b))
