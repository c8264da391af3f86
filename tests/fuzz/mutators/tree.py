"""Walking and editing a parsed spec: every node's path, and get/set/delete by path."""

from __future__ import annotations

import random

from tests.fuzz.case import Case

Path = tuple


def paths(node, prefix: Path = ()) -> list[Path]:
    """The path of every node below `node` (mappings by key, lists by index)."""
    out = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in items:
        out.append((*prefix, key))
        out += paths(child, (*prefix, key))
    return out


def leaves(node) -> list[Path]:
    """Paths of the scalars."""
    return [p for p in paths(node) if not isinstance(get(node, p), dict | list)]


def get(node, path: Path):
    for part in path:
        node = node[part]
    return node


def put(node, path: Path, value) -> None:
    get(node, path[:-1])[path[-1]] = value


def delete(node, path: Path) -> None:
    del get(node, path[:-1])[path[-1]]


def pick(rng: random.Random, options: list):
    return options[rng.randrange(len(options))] if options else None


def layers(data) -> list:
    """The spec's model.layers list (created if missing or not a list)."""
    model = data.setdefault("model", {})
    if not isinstance(model, dict):
        model = data["model"] = {}
    if not isinstance(model.get("layers"), list) or not model["layers"]:
        model["layers"] = [
            {"units": 4, "activation": "tanh"},
            {"units": 1, "activation": "sigmoid"},
        ]
    return model["layers"]


def layer(rng: random.Random, data) -> dict:
    """A random layer mapping of the spec (made a mapping if it was not one)."""
    items = layers(data)
    i = rng.randrange(len(items))
    if not isinstance(items[i], dict):
        items[i] = {"units": 4, "activation": "tanh"}
    return items[i]


def edit_spec(case: Case, rng: random.Random, fn) -> Case:
    """`case` with `fn(rng, data)` applied to its parsed spec (unchanged when unparsable)."""
    data = case.data()
    if data is None:
        return case
    fn(rng, data)
    return case.with_data(data)
