"""A generated sweep (issue 13): random healthy specs — depth 1–6, widths, activations with the
inits that suit them, optimisers, data sources — must give no error-level finding; random
specs with one planted bug must each be caught by the rule that names it. Seeded, so a failure
is reproducible: the assertion message holds the spec."""

from __future__ import annotations

import random

import pytest
import yaml

from nnfix.diagnose.context import Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.spec.load import load_spec

from .conftest import sampled

HEALTHY = 24  # specs in the healthy sweep
BUGGY = 24  # specs in the single-bug sweep
SEED = 2026

HIDDEN = {  # activation -> inits that suit it
    "tanh": ("xavier_normal", "xavier_uniform", "lecun_normal"),
    "sigmoid": ("xavier_normal", "xavier_uniform"),
    "relu": ("he_normal", "he_uniform"),
    "leaky_relu": ("he_normal", "he_uniform"),
    "elu": ("he_normal", "lecun_normal"),
    "softplus": ("xavier_normal", "he_normal"),
    "swish": ("he_normal", "xavier_normal"),
}
TASKS = {  # data source -> (output units, output activation, loss, extra data keys)
    "moons": (1, "sigmoid", "bce", {"noise": 0.1}),
    "circles": (1, "sigmoid", "bce", {"noise": 0.05}),
    "xor": (1, "sigmoid", "bce", {}),
    "blobs": (3, "softmax", "cce", {"classes": 3}),
    "linear": (1, "linear", "mse", {"noise": 0.1}),
}
OPTIMIZERS = (("sgd", 0.1), ("momentum", 0.05), ("adam", 0.01), ("rmsprop", 0.005))
REGRESSION = (("sgd", 0.01), ("adam", 0.005))  # MSE on unbounded targets: smaller steps


def healthy(rng: random.Random) -> dict:
    """A correct spec: built-in math throughout, an init that suits each activation."""
    source = rng.choice(sorted(TASKS))
    units, output, loss, extra = TASKS[source]
    activation = rng.choice(sorted(HIDDEN))
    depth = rng.randint(1, 6)
    layers = [
        {"units": rng.choice((4, 8, 12, 16, 24, 32)), "activation": activation}
        for _ in range(depth)
    ]
    layers.append({"units": units, "activation": output})
    optimizer, lr = rng.choice(REGRESSION if loss == "mse" else OPTIMIZERS)
    return {
        "name": f"sweep-{source}-{activation}-{depth}",
        "seed": rng.randrange(1000),
        "data": {"source": source, "samples": rng.choice((200, 300, 400)), **extra},
        "model": {"init": rng.choice(HIDDEN[activation]), "layers": layers},
        "loss": loss,
        "train": {
            "optimizer": optimizer,
            "lr": lr,
            "epochs": 50,
            "batch_size": rng.choice((16, 32, "full")),
        },
    }


def _hidden(spec: dict) -> list[int]:
    return list(range(len(spec["model"]["layers"]) - 1))


# each bug plants itself in a healthy spec (None when it does not apply to that spec)


def wrong_argument(spec, rng):  # tanh's derivative 1 - z**2 fed z instead of a
    i = rng.choice(_hidden(spec))
    spec["model"]["layers"][i]["activation"] = {
        "name": "tanh",
        "derivative": "1 - z**2",
        "derivative_of": "z",
    }
    spec["model"]["init"] = "xavier_normal"
    return spec


def other_activation(spec, rng):  # tanh's derivative declared on a sigmoid layer
    i = rng.choice(_hidden(spec))
    spec["model"]["layers"][i]["activation"] = {
        "name": "sigmoid",
        "derivative": "1 - a**2",
        "derivative_of": "a",
    }
    spec["model"]["init"] = "xavier_normal"
    return spec


def wrong_derivative(spec, rng):  # relu's derivative written as 1 everywhere
    i = rng.choice(_hidden(spec))
    spec["model"]["layers"][i]["activation"] = {"name": "relu", "derivative": "1 + 0*z"}
    spec["model"]["init"] = "he_normal"
    return spec


def loss_gradient(spec, rng):  # BCE's derivative with a precedence error
    if spec["loss"] != "bce":
        return None
    spec["loss"] = {"name": "bce", "gradient": "-(y/a + (1 - y/1 - a))"}
    return spec


def zero_init(spec, rng):  # every hidden unit the same
    spec["model"]["init"] = "zeros"
    return spec


def diverging(spec, rng):  # a learning rate that throws the weights around
    spec["train"]["optimizer"] = "sgd"
    spec["train"]["lr"] = 1e4
    return spec


def output_loss(spec, rng):  # a tanh output under binary cross-entropy
    if spec["loss"] != "bce":
        return None
    spec["model"]["layers"][-1]["activation"] = "tanh"
    return spec


def lr_per_epoch(spec, rng):  # lr = lr0 / epoch
    spec["train"]["schedule"] = {"name": "inverse_time", "decay": 1.0, "every": "step"}
    spec["train"]["epochs"] = 100
    return spec


BUGS = {  # the bug -> (the rules that name it rightly, its planting)
    "wrong argument": ({"A102"}, wrong_argument),
    "other activation": ({"A103"}, other_activation),
    "wrong derivative": ({"A101", "A103"}, wrong_derivative),  # 1 is linear's derivative
    "loss gradient": ({"G102"}, loss_gradient),
    "zero init": ({"Y101"}, zero_init),
    "diverging": ({"T103"}, diverging),
    "output-loss": ({"D104"}, output_loss),
    "lr per epoch": ({"T105"}, lr_per_epoch),
}


def _diagnose(tmp_path, spec: dict, name: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return diagnose(load_spec(path), Selection(), Options(budget=60))


def _healthy_specs():
    rng = random.Random(SEED)
    return [healthy(rng) for _ in range(HEALTHY)]


def _buggy_specs():
    rng = random.Random(SEED + 1)
    out = []
    names = sorted(BUGS)
    while len(out) < BUGGY:
        name = names[len(out) % len(names)]
        codes, plant = BUGS[name]
        spec = plant(healthy(rng), rng)
        if spec is not None:
            out.append((codes, spec))
    return out


def _ends_at_the_prior(path) -> bool:
    """Whether the spec's own run, trained whole, ends with its loss still at the best constant
    prediction's (its last epoch's mean within T102's share of it): the truth a T102 claims."""
    from nnfix.diagnose.context import Context
    from nnfix.diagnose.rules.training import PLATEAU
    from nnfix.engine.train import Trainer

    ctx = Context(load_spec(path))
    dtype = ctx.spec.train.dtype
    x, y = ctx.data.x_train.astype(dtype), ctx.y_train.astype(dtype)
    trainer = Trainer(ctx.network.astype(dtype), ctx.loss, ctx.spec.train, ctx.batch_rng)
    final = trainer.fit(x, y).epochs[-1].loss
    return abs(final - ctx.prior_loss) <= PLATEAU * ctx.prior_loss


@pytest.mark.parametrize("index", sampled(range(HEALTHY), every=3))
def test_a_healthy_spec_has_no_error(tmp_path, index):
    """Correct math gives no error — but a correct net whose own run ends on the label-prior
    plateau (a deep sigmoid stack given 50 epochs) does not train, and that T102 is true: it is
    checked against the spec's run, trained whole."""
    spec = _healthy_specs()[index]
    report = _diagnose(tmp_path, spec, f"healthy{index}")
    errors = [(f.code, f.message) for f in report.findings if f.severity.value == "error"]
    if [code for code, _ in errors] == ["T102"]:
        assert _ends_at_the_prior(tmp_path / f"healthy{index}.yaml"), errors
        return
    assert not errors, f"{errors}\n\n{yaml.safe_dump(spec, sort_keys=False)}"


@pytest.mark.parametrize("index", sampled(range(BUGGY), every=3))
def test_a_planted_bug_is_caught_by_its_rule(tmp_path, index):
    expected, spec = _buggy_specs()[index]
    report = _diagnose(tmp_path, spec, f"buggy{index}")
    codes = sorted({f.code for f in report.findings})
    assert expected & set(codes), (
        f"none of {sorted(expected)} in {codes}\n\n{yaml.safe_dump(spec, sort_keys=False)}"
    )
