"""What `nnfix init --from` concludes from the explored roles (`infer`): the spec's keys, each
with how it was found and the other candidates where the values could not tell them apart,
checked as `nnfix diagnose` will run them — or, where nothing worked, the candidates and what
would settle them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnfix.engine.network import Network
from nnfix.init import guess, roles
from nnfix.init.infer import (
    Attempt,
    Verdict,
    activation_value,
    callables_of,
    probe_batch,
    read_gradients,
    role_candidates,
)
from nnfix.init.sizes import Request, Sizes
from nnfix.usercode import absent, survey
from nnfix.usercode.loader import LoadedModule

CHOOSE_LOSS = "CHOOSE: the loss your backward differentiates; this is the usual one for"


# --- the result ---------------------------------------------------------------------------------


@dataclass
class Key:
    """One key of the spec: its value, how it was found, the other candidates."""

    value: Any
    how: str = ""
    others: list[Any] = field(default_factory=list)
    choose: bool = False  # nnfix could not decide: the user should


@dataclass
class Inference:
    """What `nnfix init --from` found, ready to be written as a spec."""

    module: Path
    shape: str | None = None
    data: Key | None = None
    inputs: int = 0
    units: list[int] = field(default_factory=list)
    sizes_how: str = ""
    activations: list[Key] = field(default_factory=list)
    biases: list[bool] = field(default_factory=list)
    init: Key | None = None
    bias_init: Key | None = None
    loss: Key | None = None
    train: Key | None = None
    implementation: dict[str, Key] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)  # discovery's header lines
    undecided: list[str] = field(default_factory=list)  # what the user should choose
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # top-level statements not run
    gradients_right: bool | None = None  # their gradients matched the spec's loss at init

    @property
    def complete(self) -> bool:
        return bool(self.units) and self.shape is not None and not self.undecided


# --- the conclusion ---------------------------------------------------------------------------------


def _final(v: Verdict, loaded: LoadedModule, request: Request) -> tuple[dict[str, Any], list[str]]:
    """The implementation keys diagnose will run, checked as it will run them: a forward that
    returns logits is left out (the spec's network is then the forward), and so is one that
    hides their vector biases from nnfix (a params dict it builds takes the bias form the
    forward accepts first, and (1, n) works wherever (n,) does)."""
    a = v.attempt
    impl = dict(a.impl)
    notes: list[str] = []
    logits = v.loss.output is not None
    if logits and "forward" in impl:
        notes.append(
            f"forward: {impl['forward']} returns the scores before the {v.loss.output} (your loss "
            "applies it): not the network's output, so the spec's network is the forward"
        )
        impl.pop("forward")
    if not impl.get("per_sample"):
        impl.pop("per_sample", None)
    if a.in_place and v.update_lr is not None:
        impl["update_lr"] = v.update_lr
    if "backward" not in impl and not (a.sizes.shape == "layers" and "loss" in impl):
        return impl, notes
    batch = probe_batch(a.sizes.sizes, request)
    checked = read_gradients(
        Attempt(a.sizes, impl, network=a.network, fitted=a.fitted), loaded, batch
    )
    if "forward" in impl and checked.grads is not None and checked.grads.wrong:
        bare = {k: val for k, val in impl.items() if k != "forward"}
        again = read_gradients(
            Attempt(a.sizes, bare, network=a.network, fitted=a.fitted), loaded, batch
        )
        if again.complete_grads:
            notes.append(
                f"forward: {impl['forward']} is left out: with it nnfix would hold your biases as "
                "(1, n) where your code has (n,); without it, your backward's gradients say which"
            )
            impl, checked = bare, again
    a.found = checked.found or a.found
    return impl, notes


def conclude(
    verdicts: list[Verdict], found: list[Sizes], loaded: LoadedModule, request: Request
) -> Inference:
    """The spec's keys from the best verdict, the others where they tie."""
    inference = Inference(loaded.path)
    inference.skipped = [f"{s.place}: {s.code}" for s in loaded.skipped]
    if loaded.missing:  # SPEC §3.3: imports of packages that are not installed
        inference.notes.append(absent.note(loaded.missing))
    if not verdicts:
        return _undecided(inference, found, loaded, request)
    best = verdicts[0]
    a = best.attempt
    assert a.network is not None and a.fitted is not None
    s = a.sizes
    impl, notes = _final(best, loaded, request)
    inference.notes += notes
    inference.shape = s.shape
    inference.inputs = s.sizes[0]
    inference.units = s.sizes[1:]
    inference.biases = list(s.biases)
    inference.sizes_how = s.how
    inference.found = a.found
    inference.gradients_right = best.gradients_right if a.grads is not None else None
    for layer, (act, read) in enumerate(zip(a.network.activations, [*a.fitted.read], strict=True)):
        builtin = act.builtin
        assert builtin is not None
        last = layer == len(a.network.activations) - 1
        if last and best.loss.output is not None:
            how = f"your loss applies {best.loss.output} to the scores your forward returns"
        elif read:
            how = "read off what your forward left behind for this layer"
        elif last:
            how = "the output your forward returned"
        else:
            how = "the only built-in that reproduces your forward's output here"
        inference.activations.append(Key(activation_value(builtin), how))
    inference.implementation = _implementation_keys(impl, best, s)
    if "backward" not in impl and s.shape != "layers":
        names = [
            n
            for n, _, _ in role_candidates(s, "backward", callables_of(s, loaded), len(s.sizes) - 1)
        ]
        inference.implementation["backward"] = Key(
            None,
            "no function of yours gave gradients for nnfix's batch: name your backward",
            names[:3],
            choose=True,
        )
        inference.undecided.append(
            "backward: nothing in your module gave gradients for nnfix's batch"
            + (f" (tried {', '.join(names[:3])})" if names else "")
        )
    ties = [
        v
        for v in verdicts[1:]
        if v.score == best.score and _roles(v.attempt.impl) != _roles(a.impl)
    ]
    for tie in ties:
        for key, value in _roles(tie.attempt.impl).items():
            if key in inference.implementation and value != impl.get(key):
                entry = inference.implementation[key]
                if value not in entry.others:
                    entry.others.append(value)
                    entry.choose = True
    inference.undecided += [f"layers: {choice}" for choice in s.choices]
    for key, entry in inference.implementation.items():
        if entry.choose and entry.value is not None and entry.others:
            others = ", ".join(map(str, entry.others))
            inference.undecided.append(
                f"{key}: {entry.value} or {others} — both do the same on nnfix's batch"
            )
    inference.init, inference.bias_init = _init(s, a.network)
    inference.loss = Key(best.loss.spec, best.loss_how, [g.spec for g in best.loss_others[:2]])
    if a.grads is not None and not best.gradients_right:
        inference.notes.append(
            "your gradients do not match the loss at init: `nnfix diagnose` says where"
        )
    output = a.network.activations[-1].name
    if request.x is None:
        data = guess.generated(s.sizes[0], s.sizes[-1], best.loss.name, output)
        inference.data = Key(data.value, data.how)
    inference.train = _train(loaded, s)
    return inference


def _roles(impl: dict[str, Any]) -> dict[str, Any]:
    return {k: impl[k] for k in ("model", "layers", "forward", "backward", "loss") if k in impl}


def _implementation_keys(impl: dict[str, Any], v: Verdict, s: Sizes) -> dict[str, Key]:
    a = v.attempt
    out: dict[str, Key] = {}
    if "model" in impl:
        out["model"] = Key(impl["model"], f"builds your network: {s.how}")
    if "layers" in impl:
        out["layers"] = Key(impl["layers"], s.how, choose=bool(s.choices))
    if "forward" in impl:
        out["forward"] = Key(
            impl["forward"], "returned your network's output for a batch nnfix gave it"
        )
    if "backward" in impl:
        grads = a.grads
        where = grads.where if grads is not None and grads.where else "its gradients"
        how = f"gives the gradients: {where}"
        if a.in_place:
            how = "updates your parameters in place: nnfix reads the gradient off the update"
        out["backward"] = Key(impl["backward"], how)
    if "loss" in impl:
        if s.shape == "layers":
            out["loss"] = Key(
                impl["loss"],
                v.loss_how
                if a.loss_value is not None
                else "the loss object your backward pass starts from",
            )
        elif a.loss_value is not None:
            out["loss"] = Key(
                impl["loss"], f"returned {a.loss_value:.6g}, a built-in loss of the output"
            )
    if impl.get("per_sample"):
        how = {
            "vector": "your code takes one sample at a time, as a vector (n,)",
            "column": "your code takes one sample at a time, as a column (n, 1): on a batch its "
            "gradients are the samples' summed, with the biases' not summed",
        }[impl["per_sample"]]
        out["per_sample"] = Key(impl["per_sample"], how)
    if impl.get("arguments"):
        names = ", ".join(impl["arguments"])
        out["arguments"] = Key(
            impl["arguments"], f"{names}: names nnfix does not bind by itself, read by their words"
        )
    if impl.get("params"):
        out["params"] = Key(impl["params"], "where your init function puts the parameters")
    if "update_lr" in impl:
        known = s.known_lr is not None and math.isclose(impl["update_lr"], s.known_lr, rel_tol=1e-3)
        how = (
            "the learning rate your constructor is given"
            if known
            else f"the step that makes the update −update_lr × {v.loss.text()}'s gradient"
        )
        out["update_lr"] = Key(impl["update_lr"], how)
    return out


def _init(s: Sizes, network: Network) -> tuple[Key | None, Key | None]:
    if s.weights:
        found = guess.init_scheme(s.weights)
        weight = Key(found.value, f"from your code's initial values: {found.how}")
        bias = guess.bias_scheme(s.bias_values)
        return weight, Key(
            bias.value, f"from your code's initial biases: {bias.how}"
        ) if bias else None
    first = network.activations[0].builtin
    name = first.init if first is not None else "xavier_normal"
    return Key(
        name,
        f"your code creates no parameters nnfix could read: the init that suits "
        f"{network.activations[0].name}",
    ), None


def _train(loaded: LoadedModule, s: Sizes) -> Key:
    value: dict[str, Any] = {"optimizer": "sgd", "lr": 0.1, "epochs": 100, "batch_size": 32}
    if s.known_lr is not None and 0 < s.known_lr <= 10:
        value["lr"] = s.known_lr
        return Key(value, "lr: the learning rate your constructor is given")
    rates = learning_rates(loaded)
    if len(set(rates.values())) == 1:
        rate = next(iter(rates.values()))
        value["lr"] = rate
        where = ", ".join(rates)
        return Key(value, f"lr: the learning rate your code uses ({where})")
    how = "lr: nnfix's default"
    if rates:
        how += " (your code has several: " + ", ".join(f"{k} {v:g}" for k, v in rates.items()) + ")"
    return Key(value, how)


def learning_rates(loaded: LoadedModule) -> dict[str, float]:
    """The learning rates the user's code gives as defaults: `where -> value`."""
    out: dict[str, float] = {}
    pool: dict[str, Any] = dict(survey.functions(loaded))
    for cname, cls in survey.classes(loaded).items():
        pool.update({f"{cname}.{m}": fn for m, fn in survey.methods(cls).items()})
        pool[f"{cname}()"] = cls
    for where, fn in pool.items():
        for p in roles.parameters(fn) or []:
            default = p.default
            number = isinstance(default, int | float) and not isinstance(default, bool)
            if roles.is_lr(p.name) and number and 0 < default <= 10:
                out[f"{where}'s {p.name}"] = float(default)
    return out


def _undecided(
    inference: Inference, found: list[Sizes], loaded: LoadedModule, request: Request
) -> Inference:
    """No set of roles worked: the candidates, and what would settle it."""
    if not found:
        inference.undecided.append(
            "the layer sizes: nothing in your module creates parameters that nnfix can call "
            "(an init function or a constructor with its arguments); run init again with "
            "--layers, the widths of your hidden and output layers (e.g. --layers 16,8,1)"
        )
    else:
        inference.undecided.append(
            "the roles: nothing in your module computed a network of the sizes "
            + "; ".join(f"{s.sizes} ({s.how})" for s in found[:3])
            + " that nnfix could read"
        )
    how = "picked by its name: without the layer sizes nnfix could not call it"
    models = [
        (n, c)
        for n, c in roles.ranked(survey.classes(loaded), "model")
        if not roles.is_layer(c) and not roles.is_loss(c) and roles.tier(n, "model") == 0
    ]
    if models:  # a model class: its constructor, with its parameters to fill in
        name, cls = models[0]
        params = [p.name for p in roles.parameters(cls) or [] if p.default is p.empty]
        call = f"{name}({', '.join(params)})"
        inference.implementation["model"] = Key(
            call,
            f"{how}; write its arguments as literal values (the layer sizes: [2, 16, 1] …)",
            [n for n, _ in models[1:]],
            choose=True,
        )
        pool = {m: getattr(cls, m) for m in survey.methods(cls)}
    else:
        pool = dict(survey.functions(loaded))
    for role in ("forward", "backward", "loss"):
        names = [n for n, _ in roles.ranked(pool, role) if roles.tier(n, role) == 0]
        if names:
            inference.implementation[role] = Key(names[0], how, names[1:], choose=True)
            if len(names) > 1:
                inference.undecided.append(f"{role}: {' or '.join(names)}")
    if request.layers:
        inference.units = list(request.layers)
        inference.inputs = request.inputs
    k = inference.units[-1] if inference.units else 1
    data = guess.generated(request.inputs, k, "bce", "sigmoid")
    if request.x is None:
        inference.data = Key(data.value, data.how)
    natural = "bce" if k == 1 else "cce"
    inference.loss = Key(
        natural, f"{CHOOSE_LOSS} {'one sigmoid output' if k == 1 else 'softmax outputs'}"
    )
    inference.train = _train(loaded, Sizes("functions", [request.inputs, k], [True], ""))
    return inference
