"""Values: zero, negative, huge integers of thousands of digits, 1e308, inf, nan, strings where
numbers go, unicode, ESC bytes, names that look like paths; huge nets and data."""

from __future__ import annotations

import random

from tests.fuzz.case import ROOT_MARK, Case
from tests.fuzz.mutators import mutator
from tests.fuzz.mutators.tree import edit_spec, layer, layers, leaves, pick, put

NUMERIC = [
    ("seed",),
    ("data", "samples"),
    ("data", "noise"),
    ("data", "classes"),
    ("data", "features"),
    ("data", "validation"),
    ("data", "limit"),
    ("train", "lr"),
    ("train", "epochs"),
    ("train", "batch_size"),
    ("train", "l2"),
    ("diagnose", "budget"),
    ("diagnose", "gradcheck", "eps"),
    ("diagnose", "gradcheck", "samples"),
    ("model", "init", "std"),
    ("model", "init", "low"),
    ("model", "init", "high"),
    ("model", "init", "value"),
    ("train", "optimizer", "beta1"),
    ("train", "optimizer", "eps"),
    ("train", "schedule", "every"),
    ("train", "schedule", "gamma"),
    ("train", "schedule", "decay"),
]


def huge_int(rng: random.Random) -> int:
    """An integer of up to 20,000 digits (built without int(str), which stops at 4,300)."""
    return 10 ** rng.choice([20, 400, 4300, 5000, 20000]) - 1


def hostile(rng: random.Random):
    """A value no sane spec holds."""
    return pick(
        rng,
        [
            0,
            -1,
            -(10 ** rng.randint(1, 30)),
            huge_int(rng),
            -huge_int(rng),
            2**63,
            2**64,
            1e308,
            -1e308,
            5e-324,
            float("inf"),
            float("-inf"),
            float("nan"),
            "abc",
            "1e999",
            "-.inf",
            "0x1F",
            "1_000",
            "１２",
            "ünïcødé ✓ 🙂",
            "\x1b[31mred\x1b[0m\x1b]0;title\x07",
            "",
            " ",
            True,
            None,
            "../../../../etc/passwd",
            "/dev/zero",
            "a\nb",
            "x" * 100_000,
        ],
    )


def _ensure(data, path: tuple) -> None:
    """Create the mappings above `path` (turning shorthand strings into {name: …})."""
    node = data
    for part in path[:-1]:
        child = node.get(part) if isinstance(node, dict) else None
        if isinstance(child, str):
            child = node[part] = {"name": child}
        elif not isinstance(child, dict):
            child = node[part] = {}
        node = child


@mutator("values")
def hostile_leaf(rng: random.Random, case: Case) -> Case:
    """Any scalar of the spec replaced by a hostile value."""

    def edit(rng, data):
        path = pick(rng, leaves(data))
        if path:
            put(data, path, hostile(rng))

    return edit_spec(case, rng, edit)


@mutator("values")
def hostile_number(rng: random.Random, case: Case) -> Case:
    """A numeric key (present or not) set to a hostile value."""

    def edit(rng, data):
        path = pick(rng, NUMERIC)
        if path[0] == "model" and rng.random() < 0.5:
            layer(rng, data)["units"] = hostile(rng)
            return
        _ensure(data, path)
        put(data, path, hostile(rng))

    return edit_spec(case, rng, edit)


@mutator("values")
def huge_net(rng: random.Random, case: Case) -> Case:
    """Layers too wide for memory, or too many of them."""

    def edit(rng, data):
        kind = rng.randrange(3)
        if kind == 0:
            layer(rng, data)["units"] = pick(rng, [10**5, 10**6, 10**9, 10**12, 2**31, 2**63 - 1])
        elif kind == 1:
            count = pick(rng, [100, 300, 1000, 3000])
            layers(data)[:-1] = [{"units": 2, "activation": "tanh"} for _ in range(count)]
        else:
            for item in layers(data):
                if isinstance(item, dict):
                    item["units"] = 20_000

    return edit_spec(case, rng, edit)


@mutator("values")
def huge_data(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        section = data.get("data")
        if not isinstance(section, dict):
            section = data["data"] = {"source": "moons"}
        if section.get("source") not in ("moons", "xor", "circles", "spirals", "blobs", "linear"):
            section.clear()
            section["source"] = pick(rng, ["blobs", "linear"])
        key = pick(rng, ["samples", "features", "classes"])
        section[key] = pick(rng, [10**6, 10**8, 10**10, 2**40])
        if key == "classes":
            section["source"] = "blobs"

    return edit_spec(case, rng, edit)


@mutator("values")
def extreme_init(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        inits = [
            {"name": "uniform", "low": -1e308, "high": 1e308},
            {"name": "uniform", "low": 1, "high": -1},
            {"name": "uniform", "low": float("nan"), "high": 1},
            {"name": "normal", "std": 1e308},
            {"name": "normal", "mean": float("inf")},
            {"name": "constant", "value": float("nan")},
            {"name": "constant", "value": 1e300},
            {"name": "zeros", "value": 3},
        ]
        where = layer(rng, data) if rng.random() < 0.5 else data.setdefault("model", {})
        if isinstance(where, dict):
            where[pick(rng, ["init", "bias_init"])] = pick(rng, inits)

    return edit_spec(case, rng, edit)


@mutator("values")
def name_label(rng: random.Random, case: Case) -> Case:
    """`name:` is a label, never a path: traversal, absolute paths, escapes, odd characters;
    half the time trained into the default run directory, runs/<name>/<n>/."""

    def edit(rng, data):
        data["name"] = pick(
            rng,
            [
                "../../../leak",
                "../../..",
                f"{ROOT_MARK}/leak",
                "a/b/c",
                "..",
                ".",
                "",
                "\x1b[2J\x1b[31mred",
                "# heading\n<script>alert(1)</script>",
                "tab\there",
                "nul\x00byte",
                "con",
                "x" * 5000,
                "名前",
                "-rf",
                "~",
                "$HOME",
            ],
        )

    case = edit_spec(case, rng, edit)
    return case.but(command="train", out=False) if rng.random() < 0.5 else case


@mutator("values")
def wrong_choice(rng: random.Random, case: Case) -> Case:
    """A name that is none of the choices: source, activation, loss, optimizer, init, dtype…"""

    def edit(rng, data):
        bad = pick(
            rng, ["foo", "Tanh", "tanh ", "relu6", "", "1", "softmax", "float16", "half", "csv"]
        )
        target = rng.randrange(6)
        if target == 0:
            layer(rng, data)["activation"] = bad
        elif target == 1:
            data["loss"] = bad
        elif target == 2:
            _ensure(data, ("data", "source"))
            data["data"]["source"] = bad
        elif target == 3:
            _ensure(data, ("train", "optimizer"))
            data["train"][pick(rng, ["optimizer", "schedule", "dtype", "batch_size"])] = bad
        elif target == 4:
            data.setdefault("model", {})
            if isinstance(data["model"], dict):
                data["model"][pick(rng, ["init", "bias_init", "bias"])] = bad
        else:
            _ensure(data, ("data", "scale"))
            data["data"][pick(rng, ["scale", "target", "path", "x"])] = bad

    return edit_spec(case, rng, edit)


@mutator("values")
def edge_sizes(rng: random.Random, case: Case) -> Case:
    """Sizes at their edges: one sample, a validation split that leaves nothing, one class."""

    def edit(rng, data):
        _ensure(data, ("data", "samples"))
        section = data["data"]
        key, value = pick(
            rng,
            [
                ("samples", 1),
                ("samples", 2),
                ("limit", 1),
                ("validation", 0.999),
                ("validation", 0.5),
                ("classes", 1),
                ("features", 1),
                ("noise", 100.0),
            ],
        )
        section[key] = value
        if rng.random() < 0.3:
            _ensure(data, ("train", "batch_size"))
            data["train"]["batch_size"] = pick(rng, [1, 10**9, "full"])

    return edit_spec(case, rng, edit)
