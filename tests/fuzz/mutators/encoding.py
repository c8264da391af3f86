"""The spec's bytes: control characters, BOM, CRLF, non-UTF-8 and UTF-16 encodings, empty
files, binary junk, truncation."""

from __future__ import annotations

import random
import re

from tests.fuzz.case import FIFO, LINK, Case
from tests.fuzz.mutators import mutator
from tests.fuzz.mutators.tree import pick

CONTROL = [
    "\x00",
    "\x01",
    "\x07",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x7f",
    "\x85",
    "\ufffe",
    "\ud800",
]


@mutator("encoding", level=2)
def control_chars(rng: random.Random, case: Case) -> Case:
    """A control character inside a value, a key or a comment."""
    text = case.text()
    if text is None:
        return case
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    at = rng.randint(0, len(lines[i]))
    char = pick(rng, CONTROL)
    lines[i] = lines[i][:at] + char * rng.choice([1, 1, 3]) + lines[i][at:]
    return case.but(spec="\n".join(lines).encode("utf-8", "surrogatepass"))


@mutator("encoding", level=3)
def bom(rng: random.Random, case: Case) -> Case:
    marks = [b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]
    return case.but(spec=pick(rng, marks) + case.spec)


@mutator("encoding", level=3)
def line_endings(rng: random.Random, case: Case) -> Case:
    ending = pick(rng, [b"\r\n", b"\r", b"\n\r", b"\x0b", "\u2028".encode()])
    spec = case.spec.replace(b"\n", ending)
    return case.but(spec=spec if rng.random() < 0.7 else spec.replace(b"\t", b" ") + b"\t\n")


@mutator("encoding", level=3)
def non_utf8(rng: random.Random, case: Case) -> Case:
    """Latin-1 or cp1252 text with accented letters, or one stray invalid byte."""
    text = case.text()
    if text is None:
        return case
    kind = rng.randrange(3)
    if kind == 0:
        text = re.sub(r"^(name: ).*$", r"\1réseau-café", text, count=1, flags=re.M)
        return case.but(spec=("# réseau à deux couches\n" + text).encode("latin-1", "replace"))
    if kind == 1:
        return case.but(spec=("# “smart quotes” – dash\n" + text).encode("cp1252", "replace"))
    at = rng.randint(0, len(case.spec))
    return case.but(
        spec=case.spec[:at]
        + pick(rng, [b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80"])
        + case.spec[at:]
    )


@mutator("encoding", level=3)
def utf16(rng: random.Random, case: Case) -> Case:
    text = case.text()
    if text is None:
        return case
    return case.but(spec=text.encode(pick(rng, ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])))


@mutator("encoding", level=3)
def empty_file(rng: random.Random, case: Case) -> Case:
    spec = pick(
        rng, [b"", b"\n\n", b"   ", b"# only a comment\n", b"---\n", b"...\n", b"\x00", b"~\n"]
    )
    return case.but(spec=spec)


@mutator("encoding", level=3)
def binary_junk(rng: random.Random, case: Case) -> Case:
    """Random bytes instead of, inside or after the spec; or the spec cut short."""
    junk = bytes(rng.randrange(256) for _ in range(rng.choice([1, 16, 512, 4096])))
    kind = rng.randrange(4)
    if kind == 0:
        return case.but(spec=junk)
    at = rng.randint(0, len(case.spec))
    if kind == 1:
        return case.but(spec=case.spec[:at] + junk + case.spec[at:])
    if kind == 2:
        return case.but(spec=case.spec + junk)
    return case.but(spec=case.spec[:at])


@mutator("encoding", level=3)
def special_spec_file(rng: random.Random, case: Case) -> Case:
    """The spec is a named pipe, a device, a folder, or a link to nowhere or to itself: nnfix
    must say so (no line to name) rather than wait or read for ever."""
    targets = [b"/dev/zero", b"/dev/urandom", b"/dev/null", b".", b"/nonexistent", b"spec.yaml"]
    spec = FIFO if rng.random() < 0.25 else LINK + pick(rng, targets)
    return case.but(spec=spec, lineless=True)
