"""Trying a candidate as `nnfix diagnose` will run it (SPEC §3.7): the data it is given, the spec
tried, what the one that runs says of the module, and the question asked where values could not
settle it."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nnfix.init.nospec_candidates import Candidate

SAMPLES = 64  # a generated source: enough for the probes, small for the calls


@dataclass
class Question:
    """What the values could not settle: the one question, and the spec key that answers it."""

    text: str
    key: str


def _generated(n_in: int, k: int) -> dict[str, Any]:
    from nnfix.init.guess import generated

    value = dict(generated(n_in, k, "bce" if k == 1 else "cce", "sigmoid").value)
    value["samples"] = SAMPLES
    return value


@dataclass
class Tried:
    ok: bool
    why: str = ""
    net: Any = None
    grads: Any = None


def try_spec(spec: dict[str, Any], at: Path) -> Tried:
    """The spec run as `nnfix diagnose` builds it: its code called, its gradients read."""
    from nnfix.diagnose.context import Options
    from nnfix.diagnose.own import OwnContext
    from nnfix.errors import InputError
    from nnfix.spec.load import load_text
    from nnfix.usercode.model import SetupError
    from nnfix.usercode.sandbox import Broken, UserCallError

    text = yaml.safe_dump(spec, sort_keys=False)
    try:
        with np.errstate(all="ignore"):
            loaded = load_text(text, at)
            if loaded.spec.model is not None:  # a declared network: built as diagnose builds it
                return _declared(loaded)
            ctx = OwnContext(loaded, Options(quick=True))
            ctx.net.build()
            grads = ctx.net.gradients()
    except InputError as exc:
        return Tried(False, "; ".join(p.message for p in exc.problems))
    except (SetupError, UserCallError, Broken) as exc:
        return Tried(False, str(exc))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError) as exc:
        return Tried(False, f"{type(exc).__name__}: {exc}")
    tensors = [p.slot.name for p in ctx.net.tensors]
    if not tensors or len(grads.missing) >= len(tensors):
        return Tried(False, "no gradient of its parameters found")
    if len(grads.wrong) >= len(tensors):  # no gradient of its shape: misread, not their bug
        return Tried(False, "no gradient has its parameter's shape")
    return Tried(True, net=ctx.net, grads=grads)


def _declared(loaded: Any) -> Tried:
    from nnfix.run.prepare import prepare
    from nnfix.usercode.build import build
    from nnfix.usercode.network import batch

    prepared = prepare(loaded, "float64")
    if prepared.y_train is None:
        return Tried(False, "the data's targets do not fit the output layer")
    rows = slice(0, 32)
    some = batch(prepared.data.x_train[rows], prepared.y_train[rows])
    model, _ = build(loaded, prepared.network, some)
    grads = model.gradients(some)  # their backward runs on this network, or it is not theirs
    if grads.missing and len(grads.missing) >= len(prepared.network.names):
        return Tried(False, "no gradient of its parameters found")
    return Tried(True, net=model, grads=grads)


def script_loss(net: Any) -> Any:
    """The built-in loss whose value is a number one pass of their loop computes (the `loss`
    it prints), on the output and the targets it computed; else the one that goes with the
    output (ten sigmoid outputs: binary cross-entropy, never a cross-entropy D104 rejects)."""
    from nnfix.init import guess

    ns = net.ns
    try:
        out, y = net._value(net.out_name), net._value(net.target_name)
    except (KeyError, NameError, AttributeError, SyntaxError, TypeError):
        return None
    if not (isinstance(out, np.ndarray) and isinstance(y, np.ndarray)):
        return None
    out, y = np.asarray(out, dtype=float), np.asarray(y, dtype=float)
    if y.shape != out.shape:
        return None
    if out.ndim == 1:
        out, y = out[:, None], y[:, None]
    if net.columns:
        out, y = out.T, y.T
    output = _output_kind(out)
    bound = {
        t.id for stmt in net.body for n in ast.walk(stmt) if isinstance(n, ast.Assign)
        for t in n.targets if isinstance(t, ast.Name)
    }  # fmt: skip
    for name in sorted(bound, key=lambda n: not any(w in n.lower() for w in ("loss", "cost"))):
        value = ns.get(name)
        if isinstance(value, float | np.floating) or (
            isinstance(value, np.ndarray) and value.size == 1
        ):
            number = float(np.asarray(value).reshape(()))
            if math.isfinite(number) and number > 0:
                found = guess.by_value(number, out, y, output)
                if found:
                    return found[0].spec
    return guess.natural(output, out.shape[1]).spec


def _output_kind(out: np.ndarray) -> str:
    if np.all((out > 0) & (out < 1)):
        return "softmax" if out.shape[1] > 1 and np.allclose(out.sum(axis=1), 1) else "sigmoid"
    return "linear"


def datas(c: Candidate, data: dict[str, Any] | None) -> list[tuple[dict[str, Any] | None, int]]:
    """The data to call a candidate on, with the outputs it has: theirs, or generated of the
    widths its calls give (none for a script, which makes its own)."""
    if data is not None:
        return [(data, 0)]
    if c.impl.get("script"):
        return [(None, 0)]
    widths = c.widths or [(2, 1), (4, 3), (2, 3), (4, 1)]
    return [(_generated(n_in, k), k) for n_in, k in widths]


def variants(c: Candidate) -> list[dict[str, Any]]:
    """The candidate's keys, then as code that takes one sample at a time (a vector, then a
    column) where it takes no batch."""
    if c.impl.get("script") or c.impl.get("per_sample") or c.impl.get("layers"):
        return [c.impl]
    return [c.impl, {**c.impl, "per_sample": "vector"}, {**c.impl, "per_sample": "column"}]


ROLES = ("forward", "backward", "loss", "step")


def loss_question(c: Candidate, module: Path) -> Question:
    """Code whose backward nnfix can call but whose loss it cannot find or read off."""
    return Question(
        f"nnfix can call your code ({describe(c.impl)}) but finds no loss function whose "
        "gradient your backward computes: which loss does it differentiate?",
        f"loss: (bce | cce | mse, with scale: 0.5 for ½‖a − y‖²) in the spec "
        f"`nnfix init --from {module.name} spec.yaml` writes",
    )


def role_question(undecided: list[str], module: Path) -> list[Question]:
    """`forward: forward or forward_pass — both do the same on nnfix's batch` as the question
    of which one is meant, answered by that key of the spec `init --from` writes."""
    for text in undecided:
        role, _, rest = text.partition(": ")
        if role in ROLES and " or " in rest:
            choices, _, why = rest.partition(" — ")
            because = f" ({why})" if why else ""
            return [
                Question(
                    f"which is your {role}: {choices}?{because}",
                    f"implementation.{role} in the spec `nnfix init --from {module.name} spec.yaml` "
                    "writes",
                )
            ]
    return []


def describe(impl: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in impl.items() if k != "module")


def said(c: Candidate, spec: dict[str, Any], tried: Tried) -> list[str]:
    impl = spec["implementation"]
    net = tried.net
    lines = [f"shape: {c.shape}"]
    role_keys = ("model", "layers", "engine", "forward", "backward", "step", "loss")
    roles_text = " · ".join(
        f"{k}: {_short(impl[k])}" for k in role_keys if k in impl and k != "layers"
    )
    if "layers" in impl:
        roles_text = f"layers: {', '.join(impl['layers'])}" + (
            f" · {roles_text}" if roles_text else ""
        )
    if roles_text:
        lines.append(f"roles: {roles_text}")
    names = [p.slot.name for p in net.tensors] if hasattr(net, "tensors") else []
    if names:
        shown = ", ".join(names[:6]) + (", …" if len(names) > 6 else "")
        lines.append(f"parameters: {len(names)} arrays that move the loss ({shown})")
    if "model" in spec:
        widths = [layer.get("units") for layer in spec["model"].get("layers", [])]
        lines.append(
            f"parameters: the weights and biases of {len(widths)} layers, as model: declares"
        )
    if "data" in spec:
        d = spec["data"]
        lines.append(f"data: {_flow(d)}")
    else:
        lines.append("data: the data your script makes itself")
    if isinstance(spec.get("loss"), str | dict):
        lines.append(f"loss: {_flow(spec['loss'])}")
    if c.assumed:
        lines.append(f"assumed: {c.assumed}")
    return lines


def _flow(value: Any) -> str:
    """A spec value as one line of YAML: `{name: mse, scale: 0.5}`."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text[:-4].strip() if text.endswith("...") else text


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


# --- the entry: in nnfix's worker, for `nnfix diagnose` and `nnfix train` -------------------------
