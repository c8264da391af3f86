"""The spec's YAML text parsed into plain data, keeping every node's line and column.

A spec is small text a person wrote, so reading one refuses, with a located exit-2 error, what
no person writes and what would make PyYAML (or what comes after it) misbehave: anything but a
regular file, more than `MAX_SPEC_BYTES`, text that is not Unicode, control characters, YAML
tags, more than `MAX_DEPTH` levels of nesting, more than `MAX_VALUES` values once aliases are
expanded (an alias bomb), an alias inside its own anchor, and numbers too long to convert.
Merge keys (`<<: *base`) work as in PyYAML's safe loader.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.reader import Reader

from nnfix.errors import Problem, SpecError, SpecPath

# YAML 1.1 reads `1e-7` (no dot) as a string; SPEC §2 says such numbers are numbers. (One way
# to match each string, so a long run of digits that is no number fails in linear time.)
_FLOAT = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")

MAX_SPEC_BYTES = 2 * 1024 * 1024  # a spec is a page of YAML; data belongs in data files
MAX_DEPTH = 64  # nesting levels; a spec uses about 6 (spec > model > layers > [i] > activation)
MAX_VALUES = 100_000  # nodes once aliases are expanded; a spec has hundreds, 3,000 layers ~15,000
MAX_INTEGER_DIGITS = 100  # an integer's characters; counts and seeds have at most 20
MAX_LISTED = 10  # lines with control characters listed one by one before "and N more"

_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"  # `=`, which the safe loader cannot construct: kept as text
_INT = "tag:yaml.org,2002:int"
_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")  # what YAML counts as a new line
_NON_PRINTABLE = Reader.NON_PRINTABLE  # what PyYAML's reader refuses
_CHAR_NAMES = {
    "\x00": "NUL",
    "\x07": "BEL",
    "\x08": "backspace",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x1b": "ESC",
    "\x7f": "DEL",
    "\ufffe": "a non-character",
    "\uffff": "a non-character",
}
_BOMS = (  # longest first: the UTF-32-LE mark starts with the UTF-16-LE one
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
)


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
        """The mark of `path`, or of its nearest ancestor that is in the file (a section at its
        key, the line that names what the missing key belongs in; a scalar at its value)."""
        for n in range(len(path), -1, -1):
            prefix = tuple(path[:n])
            section = n < len(path) and prefix in self.keys and prefix not in self.styles
            table = self.keys if (on_key and n == len(path)) or section else self.values
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


# --- positions and characters ---------------------------------------------------------------


def _position(text: str, index: int) -> tuple[int, int]:
    """The 1-based (line, column) of `text[index]`, counting lines as YAML does (in C: no
    Python loop over the lines of a 2 MB text)."""
    count = text.count
    breaks = count("\n", 0, index) + count("\r", 0, index) - count("\r\n", 0, index)
    breaks += count("\x85", 0, index) + count("\u2028", 0, index) + count("\u2029", 0, index)
    start = max(text.rfind(c, 0, index) for c in "\n\r\x85\u2028\u2029") + 1
    return breaks + 1, index - start + 1


def _escaped(char: str) -> str:
    """A character as an escape, never raw: '\\x7f', '\\ufffe'."""
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


_PICTURES = {c: 0x2400 + c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)} | {0x7F: 0x2421}


def _visible(text: str) -> str:
    """`text` with each character YAML refuses replaced by one printable character (a control
    picture, or U+FFFD), so a snippet neither prints raw control characters nor moves columns."""
    text = text.translate(_PICTURES)  # control pictures: ␀ … ␟, ␡
    return _NON_PRINTABLE.sub("\ufffd", text)


def _mark(node: yaml.Node | yaml.Event) -> Mark:
    start = node.start_mark
    assert start is not None  # the parser marks every node and event
    return Mark(start.line + 1, start.column + 1)


def _at(thing: yaml.Node | yaml.Event, message: str) -> Problem:
    mark = _mark(thing)
    return Problem(message, line=mark.line, col=mark.col)


# --- reading the file -----------------------------------------------------------------------


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB" if count >= 1024 * 1024 else f"{count:,} bytes"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; a SpecError for anything but a regular file of at most MAX_SPEC_BYTES.
    Opened without blocking, then checked on the open file, so a named pipe cannot hang us and
    a device (/dev/zero) or a growing file is never read past the cap."""
    src = Source(path=path, text="", data=None)  # names the file in the message
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SpecError([Problem(f"spec file not found: {path}")]) from None
    except OSError as exc:
        raise SpecError([Problem(f"cannot read spec file {path}: {exc.strerror}")], src) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            message = f"the spec is {_kind(info.st_mode)}, not a file: give the path of a YAML file"
            raise SpecError([Problem(message)], src)
        if info.st_size > MAX_SPEC_BYTES:
            raise _too_large(fd, info.st_size, src)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_SPEC_BYTES:  # st_size may lie (/proc) or the file may grow
            chunk = os.read(fd, MAX_SPEC_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_SPEC_BYTES:
            raise _too_large(fd, size, src)
        return b"".join(chunks)
    except OSError as exc:
        raise SpecError([Problem(f"cannot read spec file {path}: {exc.strerror}")], src) from None
    finally:
        os.close(fd)


def _too_large(fd: int, size: int, src: Source) -> SpecError:
    """The spec is over the cap: say where in it the cap is passed (pasted data, often)."""
    os.lseek(fd, 0, os.SEEK_SET)
    head = os.read(fd, MAX_SPEC_BYTES).decode("utf-8", "replace")
    line, col = _position(head, len(head))
    message = (
        f"the spec is {_size(size)}, more than the {_size(MAX_SPEC_BYTES)} a spec may be; it "
        "passes that here. A spec describes the network: put data in a data file (data.path)"
    )
    return SpecError([Problem(message, line=line, col=col)], src)  # no snippet: lines may be huge


def _decode(data: bytes, path: Path) -> str:
    """The file's text. UTF-8, with or without a byte-order mark. UTF-16 and UTF-32 are read
    too when a byte-order mark says which (YAML requires parsers to accept them, and Windows
    tools such as PowerShell's `>` write UTF-16 with a mark): the mark leaves no doubt, and
    refusing a file the user's editor shows as fine would only puzzle. Without a mark anything
    but UTF-8 is refused at the line and column of the first byte that is not UTF-8."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            try:
                return body.decode(codec).lstrip("\ufeff")  # an editor's doubled mark too
            except UnicodeDecodeError as exc:
                text = body[: exc.start].decode(codec)
                line, col = _position(text, len(text))
                message = f"the spec starts with a {name} byte-order mark but is not {name} text here; save it as UTF-8"
                src = Source(path=path, text=_visible(text), data=None)
                raise SpecError([Problem(message, line=line, col=col)], src) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        line, col = _position(good, len(good))
        byte = data[exc.start]
        guess = " (it may be in Latin-1 or Windows-1252)" if byte >= 0x80 else ""
        message = (
            f"the spec is not UTF-8: byte 0x{byte:02x} cannot be read here ({exc.reason}); "
            f"save it as UTF-8{guess}"
        )
        src = Source(path=path, text=_visible(data.decode("utf-8", "replace")), data=None)
        raise SpecError([Problem(message, line=line, col=col)], src) from None


def _control_characters(text: str) -> list[Problem]:
    """A problem for each of the first MAX_LISTED lines with characters YAML refuses, then one
    that counts the rest."""
    match = _NON_PRINTABLE.search(text)
    if match is None:
        return []
    nuls = text.count("\x00")
    if nuls >= 4 and nuls * 3 >= len(text):  # UTF-16 or UTF-32 without a byte-order mark
        line, col = _position(text, match.start())
        message = (
            "the spec has NUL bytes (\\x00) between its characters: it looks like UTF-16 or "
            "UTF-32 saved without a byte-order mark; save it as UTF-8"
        )
        return [Problem(message, line=line, col=col)]
    problems: list[Problem] = []
    while match is not None and len(problems) < MAX_LISTED:
        line, col = _position(text, match.start())
        found = _BREAK.search(text, match.start())
        end = found.start() if found else len(text)
        chars = _NON_PRINTABLE.findall(text, match.start(), end)
        distinct = list(dict.fromkeys(chars))
        names = ", ".join(
            f"'{_escaped(c)}'" + (f" ({_CHAR_NAMES[c]})" if c in _CHAR_NAMES else "")
            for c in distinct
        )
        several = len(distinct) > 1
        message = (
            f"control character{'s' if several else ''} {names} "
            f"{'are' if several else 'is'} not allowed in YAML"
            + (f" ({len(chars):,} on this line)" if len(chars) > 1 else "")
            + f"; delete {'them' if len(chars) > 1 else 'it'}"
        )
        problems.append(Problem(message, line=line, col=col))
        match = _NON_PRINTABLE.search(text, end)
    if match is not None:
        rest = len(_NON_PRINTABLE.findall(text, match.start()))
        line, col = _position(text, match.start())
        message = f"… and {rest:,} more control character{'s' if rest > 1 else ''} from here on"
        problems.append(Problem(message, line=line, col=col))
    return problems


# --- parsing with limits --------------------------------------------------------------------


class _Refused(Exception):
    """The event stream goes past a limit: stop parsing at once."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def _tag_name(tag: str) -> str:
    shown = "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag
    shown = _NON_PRINTABLE.sub(lambda m: _escaped(m[0]), shown)
    return shown if len(shown) <= 60 else shown[:57] + "…"


class _Frame:
    """An open collection: its anchor, its size so far (expanded), the levels below it."""

    __slots__ = ("anchor", "height", "size")

    def __init__(self, anchor: str | None):
        self.anchor = anchor
        self.size = 1
        self.height = 1


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader whose composer is fed only events within the limits: each event is
    checked as the composer takes it, in one pass, so the composer (which recurses once per
    level) never goes deeper than MAX_DEPTH and aliases are counted, never expanded."""

    def __init__(self, text: str):
        super().__init__(text)
        self.tag_problems: list[Problem] = []
        self.open: list[_Frame] = []
        self.anchored: dict[str, tuple[int, int]] = {}  # anchor -> (expanded size, height)
        self.total = 0

    def get_event(self):
        event = super().get_event()
        self._check(event)
        return event

    def _count(self, size: int, event: yaml.Event, alias: str | None = None) -> None:
        self.total += size
        if self.total <= MAX_VALUES:
            return
        if alias is not None:
            message = (
                f"alias '*{alias}' stands for {size:,} values, which takes the spec past "
                f"{MAX_VALUES:,} (an alias bomb?); a spec needs a few hundred"
            )
        else:
            message = (
                f"the spec has more than {MAX_VALUES:,} values; a spec needs a few hundred: "
                "data belongs in a data file"
            )
        raise _Refused(_at(event, message))

    def _in_parent(self, size: int, height: int) -> None:
        if self.open:
            parent = self.open[-1]
            parent.size += size
            parent.height = max(parent.height, height + 1)

    def _check(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.anchored, self.open = {}, []
        if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent) and event.tag:
            message = (
                f"YAML tags are not supported here ('{_tag_name(event.tag)}'): write the plain "
                "value (quoted, for text)"
            )
            self.tag_problems.append(_at(event, message))
        if isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                self.anchored[event.anchor] = (1, 0)
            self._count(1, event)
            self._in_parent(1, 0)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(self.open) >= MAX_DEPTH:
                message = (
                    f"the spec nests more than {MAX_DEPTH} levels deep here; a spec needs about 6"
                )
                raise _Refused(_at(event, message))
            self._count(1, event)
            self.open.append(_Frame(event.anchor))
        elif isinstance(event, yaml.CollectionEndEvent):
            frame = self.open.pop()
            if frame.anchor is not None:
                self.anchored[frame.anchor] = (frame.size, frame.height)
            self._in_parent(frame.size, frame.height)
        elif isinstance(event, yaml.AliasEvent):
            name = event.anchor
            if any(frame.anchor == name for frame in self.open):
                message = (
                    f"alias '*{name}' is inside its own anchor '&{name}': the value would "
                    "contain itself for ever"
                )
                raise _Refused(_at(event, message))
            if name not in self.anchored:
                return  # the composer says "found undefined alias"
            size, height = self.anchored[name]
            if len(self.open) + height > MAX_DEPTH:
                message = (
                    f"alias '*{name}' nests the spec more than {MAX_DEPTH} levels deep here; "
                    "a spec needs about 6"
                )
                raise _Refused(_at(event, message))
            self._count(size, event, alias=name)
            self._in_parent(size, height)


class _SyntaxError(SpecError):
    """Text that is not YAML (a `--set` value such as this is kept as text)."""


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's message; a composer's error says what in `context` and only "but found …" or
    "second occurrence" in `problem`, so both are needed."""
    context, problem = exc.context, exc.problem
    if not isinstance(exc, yaml.composer.ComposerError) or not (context and problem):
        return str(problem or context)
    if context.endswith("; first occurrence") and exc.context_mark:
        return f"{context.removesuffix('; first occurrence')} (first on line {exc.context_mark.line + 1})"
    return f"{context}, {problem}"


def _compose(text: str, src: Source) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except _Refused as exc:
        raise SpecError([exc.problem], src) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = Problem(
            f"YAML syntax error: {_syntax_message(exc)}",
            line=mark.line + 1 if mark else None,
            col=mark.column + 1 if mark else None,
        )
        raise _SyntaxError([problem], src) from None
    except yaml.reader.ReaderError as exc:  # _control_characters found them first; in case
        line, col = _position(text, exc.position)
        problem = Problem(f"YAML cannot read this: {exc.reason}", line=line, col=col)
        raise SpecError([problem], src) from None
    finally:
        loader.dispose()
    if loader.tag_problems:
        raise SpecError(loader.tag_problems, src)
    return node


# --- nodes to data --------------------------------------------------------------------------


class _Builder:
    """Plain data from a composed node, recording marks; aliases expanded (within the limits
    the loader checked), merge keys applied."""

    def __init__(self, src: Source):
        self.src = src
        self.constructor = yaml.SafeLoader("")
        self.problems: list[Problem] = []

    def scalar(self, node: yaml.ScalarNode) -> object:
        if node.tag in (_MERGE, _VALUE):  # `<<` or `=` where no merge is meant: text
            return node.value
        if node.tag == _INT and len(node.value.replace("_", "")) > MAX_INTEGER_DIGITS:
            message = f"number too large: {len(node.value):,} digits (a spec's numbers have at most {MAX_INTEGER_DIGITS})"
            self.problems.append(_at(node, message))
            return None
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError) as exc:
            what = {_INT: "integer", "tag:yaml.org,2002:timestamp": "date"}.get(node.tag, "value")
            reason = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else exc
            self.problems.append(_at(node, f"cannot read this {what}: {reason}"))
            return None
        if isinstance(value, str) and node.style is None and _FLOAT.match(value):
            return float(value)
        return value

    def key(self, node: yaml.Node) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            kind = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
            self.problems.append(_at(node, f"a key must be a name, not a {kind}"))
            return None
        key = self.scalar(node)
        return key if isinstance(key, str) else str(key)

    def pairs(self, node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node, bool]]:
        """The mapping's (key, value, merged) pairs in the order PyYAML's merge gives: merged
        pairs first, each later one winning over an earlier one with the same key."""
        merged: list[tuple[yaml.Node, yaml.Node, bool]] = []
        own: list[tuple[yaml.Node, yaml.Node, bool]] = []
        for key_node, value_node in node.value:
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE):
                own.append((key_node, value_node, False))
                continue
            if isinstance(value_node, yaml.MappingNode):
                merged += [(k, v, True) for k, v, _ in self.pairs(value_node)]
            elif isinstance(value_node, yaml.SequenceNode) and all(
                isinstance(item, yaml.MappingNode) for item in value_node.value
            ):
                for item in reversed(value_node.value):  # earlier mappings win
                    merged += [(k, v, True) for k, v, _ in self.pairs(item)]
            else:
                message = "a merge key '<<' takes a mapping or a list of mappings, such as *base or [*a, *b]"
                self.problems.append(_at(value_node, message))
        return merged + own

    def build(self, node: yaml.Node, path: SpecPath) -> object:
        src = self.src
        src.values[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            chosen: dict[str, tuple[yaml.Node, yaml.Node]] = {}
            own: dict[str, yaml.Node] = {}
            for key_node, value_node, merged in self.pairs(node):
                key = self.key(key_node)
                if key is None:
                    continue
                if not merged:
                    if key in own:
                        first = _mark(own[key])
                        message = f"duplicate key '{key}' (first given on line {first.line})"
                        problem = _at(key_node, message)
                        problem.path = (*path, key)
                        self.problems.append(problem)
                        continue
                    own[key] = key_node
                chosen[key] = (key_node, value_node)
            out: dict = {}
            for key, (key_node, value_node) in chosen.items():
                child = (*path, key)
                src.keys[child] = _mark(key_node)
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                src.keys[(*path, i)] = _mark(item)
                items.append(self.build(item, (*path, i)))
            return items
        assert isinstance(node, yaml.ScalarNode)
        src.styles[path] = node.style
        return self.scalar(node)


# --- the public functions -------------------------------------------------------------------


def parse(text: str, path: Path) -> Source:
    """Parse YAML text; a syntax error, a duplicate key or anything past the limits above is a
    SpecError with its line and column."""
    text = text.lstrip("\ufeff")
    src = Source(path=path, text=text, data=None)
    problems = _control_characters(text)
    if problems:
        src.text = _visible(text)
        raise SpecError(problems, src)
    node = _compose(text, src)
    if node is None or (isinstance(node, yaml.ScalarNode) and not node.value and not node.style):
        message = "the spec is empty: it needs at least data, model and loss"
        raise SpecError([Problem(message, line=1, col=1)], src)
    builder = _Builder(src)
    src.data = builder.build(node, ())
    if builder.problems:
        raise SpecError(builder.problems, src)
    if not isinstance(src.data, dict):
        problem = _at(node, "the spec must be a YAML mapping (key: value lines)")
        raise SpecError([problem], src)
    return src


def value(text: str) -> object:
    """A `--set` value read as YAML with the same limits as a spec file: its text when it is
    not YAML (`--set name=a: b`); a ValueError saying what is refused (a tag, an alias bomb)."""
    src = Source(path=Path("--set"), text=text, data=None)
    try:
        problems = _control_characters(text)
        if problems:
            raise SpecError(problems, src)
        node = _compose(text, src)
        if node is None:
            return None
        builder = _Builder(src)
        data = builder.build(node, ())
        if builder.problems:
            raise SpecError(builder.problems, src)
    except _SyntaxError:
        return text
    except SpecError as exc:
        raise ValueError(exc.problems[0].message) from None
    return data


def encoding(data: bytes) -> tuple[bytes, str]:
    """The byte-order mark a spec file starts with (b"" for none) and the codec of its text, as
    `read` decodes it: what a file edited in place is written back in."""
    for bom, codec, _ in _BOMS:
        if data.startswith(bom):
            return bom, codec
    return b"", "utf-8"


def read(path: Path) -> Source:
    """Read and parse a spec file (see the module's docstring for what is refused)."""
    return parse(_decode(_read_bytes(path), path), path)
