"""YAML structure: keys deleted, duplicated, renamed; types swapped; lists and maps
exchanged; empty values; anchors, aliases and merge keys; alias bombs; recursive aliases;
tags; deep nesting; huge documents; documents that are not one mapping."""

from __future__ import annotations

import random
import re

from tests.fuzz.case import Case
from tests.fuzz.mutators import mutator
from tests.fuzz.mutators.tree import delete, edit_spec, get, leaves, paths, pick, put

SECTIONS = ("name", "seed", "data", "model", "loss", "train", "diagnose", "implementation")


def _key_lines(text: str) -> list[int]:
    """Indices of the lines that start a `key:` entry."""
    lines = text.split("\n")
    return [i for i, line in enumerate(lines) if re.match(r"^\s*(- )?[A-Za-z_]\w*:", line)]


@mutator("structure")
def delete_key(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        found = [p for p in paths(data) if isinstance(p[-1], str)]
        if found:
            delete(data, pick(rng, found))

    return edit_spec(case, rng, edit)


@mutator("structure", level=2)
def duplicate_key(rng: random.Random, case: Case) -> Case:
    text = case.text()
    if text is None or not _key_lines(text):
        return case
    lines = text.split("\n")
    i = pick(rng, _key_lines(text))
    lines.insert(i + 1, lines[i].replace("- ", "  ", 1))
    return case.but(spec="\n".join(lines).encode())


def _misspell(rng: random.Random, word: str) -> str:
    choices = [
        word[:-1],
        word + rng.choice("sx_"),
        word.upper(),
        word.replace("_", "-"),
        word[::-1],
        "",
        " " + word,
        word + "\u200b",
        rng.choice(["__class__", "0", "null", "true", "<<", "?", "!!", "~"]),
    ]
    return pick(rng, [c for c in choices if c != word]) or word + "x"


@mutator("structure")
def rename_key(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        found = [p for p in paths(data) if isinstance(p[-1], str)]
        if not found:
            return
        path = pick(rng, found)
        parent = get(data, path[:-1])
        parent[_misspell(rng, path[-1])] = parent.pop(path[-1])

    return edit_spec(case, rng, edit)


def other_type(rng: random.Random, value):
    options = [
        [value],
        {"name": value},
        str(value),
        None,
        True,
        0,
        -1,
        3.5,
        [],
        {},
        "",
        [1, 2, 3],
        {"a": {"b": 1}},
        "1e-3",
        "12abc",
    ]
    return pick(rng, [o for o in options if o != value or type(o) is not type(value)])


@mutator("structure")
def swap_type(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        path = pick(rng, paths(data))
        if path:
            put(data, path, other_type(rng, get(data, path)))

    return edit_spec(case, rng, edit)


@mutator("structure")
def list_map_swap(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        found = [p for p in paths(data) if isinstance(get(data, p), dict | list)]
        path = pick(rng, found)
        if path is None:
            return
        value = get(data, path)
        if isinstance(value, list):
            swapped = (
                {i: v for i, v in enumerate(value)} if rng.random() < 0.5 else {"items": value}
            )
        else:
            swapped = (
                list(value.values()) if rng.random() < 0.5 else [{k: v} for k, v in value.items()]
            )
        put(data, path, swapped)

    return edit_spec(case, rng, edit)


@mutator("structure")
def empty_value(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        path = pick(rng, paths(data)) or (pick(rng, list(data)),)
        put(data, path, pick(rng, [None, "", [], {}, " ", "~"]))

    return edit_spec(case, rng, edit)


@mutator("structure", level=2)
def anchors_aliases(rng: random.Random, case: Case) -> Case:
    """Reuse one section through an anchor and alias, or a merge key `<<: *base`."""
    text = case.text()
    if text is None:
        return case
    kind = rng.randrange(4)
    if kind == 0:  # a merge key in a layer
        extra = "_base: &base {units: 4, activation: tanh}\n"
        text = extra + re.sub(r"- \{units:", "- {<<: *base, units:", text, count=1)
    elif kind == 1:  # the model's layers reused as the data section
        text = re.sub(r"^model:", "model: &m", text, count=1, flags=re.M)
        text += "\ndiagnose: *m\n"
    elif kind == 2:  # an alias to an anchor that does not exist
        text = re.sub(r"^loss: .*$", "loss: *nowhere", text, count=1, flags=re.M)
    else:  # merge a whole section into another
        text = re.sub(r"^train:", "train: &t", text, count=1, flags=re.M)
        text += "\ndiagnose:\n  <<: *t\n  budget: 1\n"
    return case.but(spec=text.encode())


@mutator("structure", level=2)
def alias_bomb(rng: random.Random, case: Case) -> Case:
    """Billion laughs: a few hundred bytes that expand to billions of nodes, under unknown
    top-level keys or inside a key nnfix reads (diagnose.select, a list of strings)."""
    depth = rng.randint(6, 12)
    chain = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    chain += [f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, depth)]
    text = re.sub(r"^diagnose:.*\n(  .*\n)*", "", case.text() or "", flags=re.M)
    if rng.random() < 0.5:
        bomb = "".join(f"_l{i}: {line}\n" for i, line in enumerate(chain))
        return case.but(spec=(bomb + text).encode())
    bomb = "".join(f"    - {line}\n" for line in chain)
    return case.but(spec=(text.rstrip("\n") + f"\ndiagnose:\n  select:\n{bomb}").encode())


@mutator("structure", level=2)
def recursive_alias(rng: random.Random, case: Case) -> Case:
    text = case.text() or ""
    target = rng.choice(["name", "layers", "top"])
    if target == "name":
        text = re.sub(r"^name: .*$", "name: &r [*r]", text, count=1, flags=re.M)
        if not text.startswith("name") and "name: &r" not in text:
            text = "name: &r [*r]\n" + text
    elif target == "layers":
        text = re.sub(r"^  layers:", "  layers: &r\n    - *r\n  _x:", text, count=1, flags=re.M)
    else:
        text = "_r: &r {a: *r}\n" + text
    return case.but(spec=text.encode())


TAGS = [
    "!!python/name:os.system",
    "!!python/object/apply:os.system ['echo pwned']",
    "!!python/object/new:dict",
    "!!python/tuple",
    "!!binary",
    "!!set",
    "!!omap",
    "!!timestamp",
    "!!float",
    "!!int",
    "!!str",
    "!!null",
    "!!bool",
    "!custom",
    "!<tag:yaml.org,2002:python/none>",
    "!!map",
    "!!seq",
]


@mutator("structure", level=2)
def tag(rng: random.Random, case: Case) -> Case:
    """A tag before a value: PyYAML's python tags, standard tags on the wrong kind, unknown ones."""
    text = case.text()
    if text is None:
        return case
    lines = text.split("\n")
    found = [i for i, line in enumerate(lines) if re.match(r"^\s*(- )?[\w]+: \S", line)]
    if not found:
        return case
    i = pick(rng, found)
    lines[i] = re.sub(r": (\S)", lambda m: f": {pick(rng, TAGS)} {m[1]}", lines[i], count=1)
    return case.but(spec="\n".join(lines).encode())


@mutator("structure", level=2)
def deep_nesting(rng: random.Random, case: Case) -> Case:
    depth = rng.choice([100, 500, 1000, 5000, 20000])
    opening, closing = rng.choice([("[", "]"), ("{a: ", "}"), ("- ", "")])
    if opening == "- ":  # block style: one more indentation per level
        value = "\n" + "".join("  " * (i + 1) + "- \n" for i in range(min(depth, 2000)))
        value = value.rstrip("\n") + " 1"
    else:
        value = opening * depth + "1" + closing * depth
    text = case.text() or ""
    key = rng.choice(["name", "seed", "_deep", "loss"])
    text = re.sub(rf"^{key}:.*$\n", "", text, flags=re.M)
    return case.but(spec=f"{key}: {value}\n{text}".encode())


@mutator("structure", level=2)
def huge_document(rng: random.Random, case: Case) -> Case:
    """A spec of megabytes: a long comment, many keys, a long string or many layers."""
    size = rng.choice([1, 2, 4, 8]) * 1_000_000
    text = case.text() or ""
    kind = rng.randrange(4)
    if kind == 0:
        text = "#" + "x" * size + "\n" + text
    elif kind == 1:
        text += "".join(f"k{i}: {i}\n" for i in range(size // 12))
    elif kind == 2:
        text = re.sub(r"^name:.*\n", "", text, flags=re.M)
        text = "name: " + "n" * size + "\n" + text
    else:
        text += "\n" * size
    return case.but(spec=text.encode())


@mutator("structure", level=2)
def not_one_mapping(rng: random.Random, case: Case) -> Case:
    """A document that is a list or a scalar, or several documents."""
    text = case.text() or ""
    options = [
        "- " + text.replace("\n", "\n  "),
        "just a string\n",
        "42\n",
        text + "\n---\n" + text,
        "---\n...\n",
        "--- !!str\n" + text,
        "%YAML 1.2\n---\n" + text,
        "%TAG ! tag:evil.com,2000:\n---\n" + text,
        "? [a, b]\n: c\n" + text,
        "[1, 2]: x\n" + text,
    ]
    return case.but(spec=pick(rng, options).encode())


@mutator("structure")
def drop_section(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        present = [k for k in SECTIONS if k in data]
        if present:
            del data[pick(rng, present)]

    return edit_spec(case, rng, edit)


@mutator("structure")
def scalar_to_leaf_junk(rng: random.Random, case: Case) -> Case:
    """A scalar replaced by a nested structure of the wrong kind."""

    def edit(rng, data):
        path = pick(rng, leaves(data))
        if path:
            put(data, path, pick(rng, [[[[]]], {"x": [None]}, [{"units": 1}], {1: 2}]))

    return edit_spec(case, rng, edit)
