"""What each of the user's functions, methods and classes could be, before calling it: a
forward, a backward, a loss, an init function; a model class, a layer, a loss object. Names
only order the candidates (what is called first) and keep nnfix away from what would save,
plot or train at length; what each one *is* is decided by calling it and reading the values."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from typing import Any

from nnfix.usercode import calls

# words in a name, by the role they suggest (the first tier tried first)
TIERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "forward": (
        ("forward", "feedforward", "feed_forward", "fprop"),
        ("predict_proba", "query", "output", "prop", "call", "run", "infer", "compute"),
        ("predict",),
    ),
    "backward": (
        ("backward", "backprop", "back_prop", "bprop", "gradient", "grad"),
        ("loss", "cost"),
        (),
        ("train", "update", "step", "fit", "learn"),
    ),
    "loss": (("loss", "cost", "entropy", "error", "criterion", "objective"),),
    "init": (
        ("init", "initialize", "initialise", "param", "weights", "setup", "build", "create"),
        ("model", "network", "net", "mlp"),
    ),
    "model": (("net", "model", "mlp", "perceptron", "classifier", "regressor"),),
}
# never called while exploring: what would write, plot, read or wait; for a forward, loss or
# init also what would train (a backward may be a `train` that takes one step)
AVOID = (
    "save", "load", "plot", "show", "draw", "write", "export", "download", "read", "open",
    "print", "visual", "animate", "main", "demo", "test", "evaluate", "summary", "accuracy",
    "score", "sleep", "wait", "dataset", "get_data", "make_", "generate", "spiral", "moons",
    "circles", "blobs", "one_hot", "onehot", "shuffle",
)  # fmt: skip
TRAINING = ("train", "fit", "sgd", "update", "step", "epoch", "optimi", "descent", "learn")
LR_NAMES = ("lr", "learning_rate", "learningrate", "eta", "step_size", "stepsize", "alpha_lr")


def words(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def avoided(name: str, role: str) -> bool:
    low = words(name)
    if any(w in low for w in AVOID):
        return True
    return role in ("forward", "loss", "init", "model") and any(w in low for w in TRAINING)


def tier(name: str, role: str) -> int:
    low = words(name)
    for i, group in enumerate(TIERS.get(role, ())):
        if any(w in low for w in group):
            return i
    return len(TIERS.get(role, ()))


def ranked(items: dict[str, Any], role: str) -> list[tuple[str, Any]]:
    """Candidates for `role` in the order they are tried: by the tier their name suggests, then
    as the user's code defines them; what is never called left out."""
    kept = [(n, v) for n, v in items.items() if not avoided(n, role)]
    return sorted(kept, key=lambda item: tier(item[0], role))


def tiers(items: Iterable[tuple[str, Any]], role: str) -> list[list[tuple[str, Any]]]:
    """`ranked` candidates grouped by tier."""
    out: dict[int, list[tuple[str, Any]]] = {}
    for name, value in items:
        out.setdefault(tier(name, role), []).append((name, value))
    return [out[k] for k in sorted(out)]


def parameters(fn: Any) -> list[inspect.Parameter] | None:
    return calls.parameters(fn)


def _method(cls: type, name: str) -> Any:
    method = getattr(cls, name, None)
    return method if callable(method) else None


def _required(fn: Any, skip_self: bool) -> int | None:
    params = parameters(fn)
    if params is None:
        return None
    if skip_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    return sum(p.default is p.empty for p in params)


def is_layer(cls: type) -> bool:
    """A layer of SPEC §3 shape C: forward(inputs) and backward(dvalues), one argument each."""
    forward, backward = _method(cls, "forward"), _method(cls, "backward")
    if forward is None or backward is None:
        return False
    params = parameters(backward)
    first = next((p.name for p in (params or [])[1:] if p.default is p.empty), "")
    wants_targets = calls.role_of(first, "backward", 0) in ("X", "Y")
    return _required(forward, True) == 1 and _required(backward, True) == 1 and not wants_targets


def is_loss(cls: type) -> bool:
    """A loss object: forward (or calculate) and backward of (predictions, targets)."""
    forward = _method(cls, "forward") or _method(cls, "calculate")
    backward = _method(cls, "backward")
    if forward is None or backward is None:
        return False
    return _required(forward, True) == 2 and _required(backward, True) == 2


def is_lr(name: str) -> bool:
    return words(name) in LR_NAMES


def like(name: str) -> str | None:
    """What a parameter nnfix does not bind by name probably is, from the words in it:
    `inputs_list` the inputs, `targets_list` the targets, `model` the parameters."""
    low = words(name)
    if any(w in low for w in ("input", "feature")) or re.match(r"x(_|\d|$)", low):
        return "X"
    if any(w in low for w in ("target", "label", "truth", "expected")) or re.match(
        r"y(_|\d|$)", low
    ):
        return "Y"
    if any(w in low for w in ("param", "model", "weights", "theta", "network")) or low == "net":
        return "params"
    return None


def binding(fn: Any, kind: str, available: set[str], depth: int) -> dict[str, str] | None:
    """How nnfix can call `fn` as `kind` (forward, backward, loss): the `arguments:` it needs
    for the parameters it does not bind by name ({} for none), or None when some required
    parameter can be given nothing it has."""
    params = parameters(fn)
    if params is None:
        return None
    if params and params[0].name == "self":
        params = params[1:]
    arguments: dict[str, str] = {}
    for p in params:
        role = calls.role_of(p.name, kind, depth)
        if role is not None:
            if role not in available and p.default is p.empty:
                return None
            continue
        if p.default is not p.empty:
            continue
        guess = like(p.name)
        if guess is None or guess not in available:
            return None
        arguments[p.name] = guess
    return arguments
