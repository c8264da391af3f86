"""Expressions (derivative, loss gradient, custom activation): long chains, deep parentheses,
unknown functions and names, attribute access, `__import__`, numbers that never finish."""

from __future__ import annotations

import random

from tests.fuzz.case import Case
from tests.fuzz.mutators import mutator
from tests.fuzz.mutators.tree import edit_spec, layer, pick


def hostile_expression(rng: random.Random) -> str:
    n = rng.choice([50, 500, 3001, 20000])
    return pick(
        rng,
        [
            "z" + " + z" * n,
            "1 - " * n + "z",
            "-" * n + "z",
            "(" * n + "z" + ")" * n,
            "tanh(" * n + "z" + ")" * n,
            "z" + "**z" * n,
            "foo(z)",
            "np.tanh(z)",
            "z.real",
            "z.__class__.__bases__",
            "z[0]",
            "__import__('os').system('echo pwned')",
            "lambda: 0",
            "exp(z)**9999999",
            "9**9**9**9",
            "10**100000",
            "1e999 * z",
            "1/0",
            "log(-1) + z",
            "z if z else a",
            "'z'",
            "",
            " ",
            "z @ z",
            "z // 2",
            "~z",
            "not z",
            "z and a",
            'f"{z}"',
            "ẑ",
            "z\x00",
            "z; import os",
            "z\n+ 1",
            "where(z)",
            "clip(z)",
            "maximum(z, 0, 1)",
            "exp(z=1)",
            "exp(*z)",
            "y",
            "a * y * z * q",
            "[z]",
            "{z: 1}",
            "z < a < y",
            "pi()",
            "e.real",
            "# comment",
            "z +",
            "1 - z**2 # tanh",
        ],
    )


@mutator("expressions")
def derivative_expression(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        item = layer(rng, data)
        act = item.get("activation")
        act = {"name": act} if isinstance(act, str) else act
        if not isinstance(act, dict):
            act = {"name": "tanh"}
        act["derivative"] = hostile_expression(rng)
        if rng.random() < 0.3:
            act["derivative_of"] = pick(rng, ["a", "z", "y", "both", None])
        item["activation"] = act

    return edit_spec(case, rng, edit)


@mutator("expressions")
def activation_expression(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        item = layer(rng, data)
        act = item.get("activation")
        if isinstance(act, dict):
            act["name"] = hostile_expression(rng)
        else:
            item["activation"] = hostile_expression(rng)

    return edit_spec(case, rng, edit)


@mutator("expressions")
def loss_gradient_expression(rng: random.Random, case: Case) -> Case:
    def edit(rng, data):
        loss = data.get("loss")
        loss = {"name": loss} if isinstance(loss, str) else loss
        if not isinstance(loss, dict):
            loss = {"name": "bce"}
        loss["gradient"] = hostile_expression(rng)
        if rng.random() < 0.3:
            loss["gradient_of"] = pick(rng, ["a", "z", "y"])
        data["loss"] = loss

    return edit_spec(case, rng, edit)
