"""Where the layer sizes of the user's network come from, for `nnfix init --from`: the
parameters their own init function or constructor creates (called as their script calls it,
with its defaults, or with the `--layers` widths), the layer objects their script chains, or
`--layers` alone. Each way gives a `Sizes`: the widths, the biases, their initial values and
how they were found."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnfix.engine.layers import Dense, Layer
from nnfix.engine.network import LayerActivation, Network
from nnfix.init import roles
from nnfix.usercode import objects, sandbox, survey
from nnfix.usercode.fit import Chain, chain, which
from nnfix.usercode.loader import LoadedModule
from nnfix.usercode.model import CONSTRUCT_BATCH, seed_numpy
from nnfix.usercode.objects import Ref
from nnfix.usercode.sandbox import Broken, UserCallError

Array = np.ndarray
DEFAULT_INPUTS = 2  # the input width where nothing fixes it (the generated 2-D data sets)


@dataclass
class Request:
    """What the command line gives: the `--layers` widths and the `--data` arrays."""

    layers: list[int] | None = None
    x: Array | None = None  # inputs, (m, n_in)
    y: Array | None = None  # targets as read: labels (m,) or values (m, k)

    @property
    def inputs(self) -> int:
        return self.x.shape[1] if self.x is not None else DEFAULT_INPUTS


@dataclass
class Sizes:
    """One way the user's network is built, with the widths it gives."""

    shape: str  # "functions" | "object" | "layers"
    sizes: list[int]  # n_in, then each layer's units
    biases: list[bool]  # per layer: it has a bias
    how: str  # for the spec's comment: where the sizes come from
    weights: list[Array] | None = None  # their initial weights (rows layout), where theirs exist
    bias_values: list[Array] = field(default_factory=list)  # their initial biases
    model: str | None = None  # object: the constructor call
    layers: list[str] | None = None  # layer objects: their calls, in order
    losses: list[str] = field(default_factory=list)  # layer objects: calls of loss objects
    params: dict[str, str] | None = None  # functions: `params:` where W{l}/b{l} are not theirs
    uses_data: bool = False  # the constructor takes the data
    known_lr: float | None = None  # a learning rate the call that built it gives
    source: str | None = None  # the function or class that built it
    kind: type | None = None  # object: its class
    bias_form: str | None = None  # how their own biases are shaped, where theirs exist
    choices: list[str] = field(default_factory=list)  # what nnfix picked among equals

    def network(self, seed: int = 0) -> Network:
        """A network of these sizes (activations still unknown: linear), random weights."""
        rng = np.random.default_rng(seed)
        layers: list[Layer] = []
        for n_in, n_out, bias in zip(self.sizes[:-1], self.sizes[1:], self.biases, strict=True):
            W = rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_in, n_out))
            layers.append(Dense(W, np.zeros((1, n_out)) if bias else None, LINEAR))
        return Network(layers)


def linear_activation() -> LayerActivation:
    from nnfix.engine import activations

    act = activations.get("linear")
    return LayerActivation("linear", act.fn, act.derivative, act, False)


LINEAR = linear_activation()


# --- from arrays --------------------------------------------------------------------------------


def _refs(root: Any, name: str, skip: set[int] = frozenset()) -> list[Ref]:  # type: ignore[assignment]
    if isinstance(root, np.ndarray):
        return [Ref(name, [root], 0, "item")] if root.dtype.kind == "f" else []
    return [r for r in objects.walk(root, name) if id(r.get()) not in skip]


def _rows(array: Array, columns: bool) -> Array:
    return np.asarray(array.T if columns and array.ndim == 2 else array, dtype=np.float64)


def from_refs(refs: list[Ref]) -> tuple[Chain, list[Ref]] | None:
    shapes = [tuple(np.shape(r.get())) for r in refs]
    found = chain(shapes, [r.path for r in refs])
    if found is None:
        return None
    return found, refs


def bias_form(found: Chain, refs: list[Ref]) -> str | None:
    """How their biases are shaped: "vector" (n,), "column" (n, 1) or "row" (1, n)."""
    for i, n in zip(found.biases, found.sizes[1:], strict=True):
        if i is not None and n > 1:
            shape = np.shape(refs[i].get())
            return "vector" if len(shape) == 1 else "column" if shape[-1] == 1 else "row"
    return None


def _values(found: Chain, refs: list[Ref]) -> tuple[list[Array], list[Array]]:
    weights = [_rows(refs[i].get(), found.columns) for i in found.weights]
    biases = [
        np.asarray(refs[i].get(), dtype=np.float64).ravel() for i in found.biases if i is not None
    ]
    return weights, biases


def _patterns(found: Chain, refs: list[Ref]) -> dict[str, str] | None:
    """`params:` patterns from where their arrays are (`W1` -> W{l}; `param['w0']` -> {i}),
    or None where nnfix's default W{l}/b{l} (read case-insensitively) is theirs."""
    out: dict[str, str] = {}
    for role, indices in (("weight", found.weights), ("bias", found.biases)):
        templates = set()
        for layer, i in enumerate(indices, start=1):
            if i is None:
                continue
            path = refs[i].path
            numbers = list(re.finditer(r"\d+", path))
            if not numbers:
                return None
            last = numbers[-1]
            n = int(last[0])
            mark = "{l}" if n == layer else "{i}" if n == layer - 1 else None
            if mark is None:
                return None
            templates.add(path[: last.start()] + mark + path[last.end() :])
        if len(templates) > 1:
            return None
        if templates:
            out[role] = templates.pop()
    bare = {k: re.sub(r"^\['(.*)'\]$", r"\1", v) for k, v in out.items()}
    if all("[" not in v and "." not in v for v in bare.values()):
        if (
            bare.get("weight", "W{l}").lower() == "w{l}"
            and bare.get("bias", "b{l}").lower() == "b{l}"
        ):
            return None
        return bare
    return out


# --- shape A: an init function ------------------------------------------------------------------


def _size_calls(fn: Any, sizes: list[int]) -> list[tuple[list, dict[str, Any]]]:
    """Ways of giving a function or constructor the widths `sizes` (n_in first): all of them
    as one list, one per parameter, or the hidden widths with the input and output widths
    given to the parameters whose names say so."""
    params = roles.parameters(fn)
    if params is None:
        return []
    required = [p for p in params if p.default is p.empty]
    n_in, hidden, k = sizes[0], sizes[1:-1], sizes[-1]
    out: list[tuple[list, dict[str, Any]]] = []
    if len(required) == 1:
        out += [([list(sizes)], {}), ([list(hidden)], _ends(params, n_in, k, required))]
    if len(required) == len(sizes):
        out.append((list(sizes), {}))
    if not required:
        ints = [p for p in params if isinstance(p.default, int) and not isinstance(p.default, bool)]
        sized = [p for p in params if isinstance(p.default, list | tuple)]
        if len(ints) >= len(sizes):
            out.append(([], {p.name: v for p, v in zip(ints, sizes, strict=False)}))
        for p in sized[:1]:
            out.append(([], {p.name: list(sizes)}))
    if len(required) == 3 and len(hidden) == 1:
        out.append(([n_in, hidden[0], k], {}))
    return out


_INPUT_WORDS = ("input", "n_x", "features", "in_dim", "dim_in", "n_in", "nin", "fan_in", "d_in")
_OUTPUT_WORDS = ("output", "class", "n_y", "out_dim", "dim_out", "n_out", "nout", "targets")


def _ends(params: list, n_in: int, k: int, skip: list) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in params:
        if p in skip or isinstance(p.default, bool) or not isinstance(p.default, int):
            continue
        low = p.name.lower()
        if any(w in low for w in _INPUT_WORDS) and "input" not in out.values():
            out.setdefault(p.name, n_in)
        elif any(w in low for w in _OUTPUT_WORDS):
            out.setdefault(p.name, k)
    return out


def _options(
    fn: Any, name: str, calls: list[survey.LiteralCall], request: Request
) -> list[tuple[list, dict[str, Any], str, list[int] | None]]:
    """(args, kwargs, how, the sizes it must give) to call `fn` with: with the `--layers`
    widths where they are given (they must come out), as the user's code calls it, and with
    its defaults."""
    out: list[tuple[list, dict[str, Any], str, list[int] | None]] = []
    if request.layers:
        sizes = [request.inputs, *request.layers]
        for args, kwargs in _size_calls(fn, sizes):
            text = survey.call_text(name, tuple(args), kwargs)
            out.append((args, kwargs, f"{text}, with the widths --layers gives", sizes))
    for call in calls:
        if call.name.split(".")[-1] == name:
            how = f"{call.text} (your code, {call.where})"
            out.append((list(call.args), dict(call.kwargs), how, None))
    params = roles.parameters(fn)
    if params is not None and all(p.default is not p.empty for p in params):
        out.append(([], {}, f"{name}() with its defaults", None))
    return out


def _fill_data(args: list, kwargs: dict, x: Array, y: Array) -> tuple[list, dict]:
    def fill(v: Any) -> Any:
        if isinstance(v, survey.Data):
            return x if v.name == "X" else y
        return v

    return [fill(a) for a in args], {k: fill(v) for k, v in kwargs.items()}


def _known_lr(fn: Any, args: list, kwargs: dict[str, Any]) -> float | None:
    params = roles.parameters(fn)
    if params is None:
        return None
    bound: dict[str, Any] = {p.name: p.default for p in params if p.default is not p.empty}
    bound.update({p.name: a for p, a in zip(params, args, strict=False)})
    bound.update(kwargs)
    for name, value in bound.items():
        if roles.is_lr(name) and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def of_functions(
    loaded: LoadedModule, calls: list[survey.LiteralCall], request: Request
) -> list[Sizes]:
    """Sizes from each init function: what it returns, or what it puts in the module."""
    out: list[Sizes] = []
    for name, fn in roles.ranked(survey.functions(loaded), "init"):
        for args, kwargs, how, wanted in _options(fn, name, calls, request):
            before = objects.snapshot(objects.walk(loaded.module, ""))
            seed_numpy(0)  # their init draws from NumPy's global generator: the same each time
            try:
                value = sandbox.call(f"{name}", fn, *args, **kwargs)
            except (UserCallError, Broken):
                continue
            refs = _refs(value, "") if value is not None else []
            if any("." in r.path for r in refs):
                continue  # objects, not a params dict: a model or layers, tried as such
            in_module = False
            found = from_refs(refs) if refs else None
            if found is None:
                refs = objects.changed(loaded.module, before, "")
                found = from_refs(refs) if refs else None
                in_module = True
            if found is None:
                continue
            shape, refs = found
            if wanted is not None and shape.sizes != wanted:
                continue
            patterns = _patterns(shape, refs)
            if in_module and patterns is None:
                patterns = {"weight": "W{l}", "bias": "b{l}"}
            if (
                in_module
                and patterns is not None
                and not any("[" in v or "." in v for v in patterns.values())
            ):
                continue  # plain module globals W1, b1 are not a params dict nnfix can fill
            if not in_module and patterns is not None and any("[" in v for v in patterns.values()):
                continue  # a nesting nnfix's params dict cannot take
            weights, biases = _values(shape, refs)
            out.append(
                Sizes(
                    "functions",
                    shape.sizes,
                    [i is not None for i in shape.biases],
                    how,
                    weights,
                    biases,
                    params=patterns,
                    source=name,
                    bias_form=bias_form(shape, refs),
                )
            )
            break
    return out


# --- shape B: an object -------------------------------------------------------------------------


def _data(request: Request, n_in: int) -> tuple[Array, Array]:
    rng = np.random.default_rng(1)
    x = (
        request.x[:CONSTRUCT_BATCH]
        if request.x is not None
        else rng.normal(size=(CONSTRUCT_BATCH, n_in))
    )
    y = rng.integers(0, 2, (CONSTRUCT_BATCH, 1)).astype(np.float64)
    return np.asarray(x, dtype=np.float64), y


def _builders(loaded: LoadedModule) -> list[tuple[str, Any]]:
    """What can build the user's model object: their classes (not layers or losses), then
    their functions that may return one (`build_model()`)."""
    classes = [
        (n, c)
        for n, c in roles.ranked(survey.classes(loaded), "model")
        if not roles.is_layer(c) and not roles.is_loss(c)
    ]
    functions = [(n, f) for n, f in roles.ranked(survey.functions(loaded), "model")]
    return classes + sorted(functions, key=lambda item: roles.tier(item[0], "init"))


def of_objects(
    loaded: LoadedModule, calls: list[survey.LiteralCall], request: Request
) -> list[Sizes]:
    """Sizes from each object the user's code (or nnfix, with defaults or `--layers`) builds:
    an instance of their class, made by the class or by a function of theirs."""
    out: list[Sizes] = []
    for name, builder in _builders(loaded):
        is_class = isinstance(builder, type)
        for args, kwargs, how, wanted in _options(builder, name, calls, request):
            x, y = _data(request, request.inputs)
            filled_args, filled_kwargs = _fill_data(args, kwargs, x, y)
            uses_data = any(isinstance(v, survey.Data) for v in (*args, *kwargs.values()))
            seed_numpy(0)
            try:
                obj = sandbox.call("model", builder, *filled_args, **filled_kwargs)
            except (UserCallError, Broken):
                continue
            if not is_class and not _model_object(obj):
                break  # a function that returns arrays or nothing: an init function, maybe
            data = {id(x), id(y)}
            refs = [
                r
                for r in _refs(obj, "self", data)
                if not (uses_data and CONSTRUCT_BATCH in np.shape(r.get()))
            ]
            found = from_refs(refs)
            if found is None:
                continue
            shape, refs = found
            if wanted is not None and shape.sizes != wanted:
                continue
            weights, biases = _values(shape, refs)
            text = survey.call_text(name, tuple(args), kwargs)
            out.append(
                Sizes(
                    "object",
                    shape.sizes,
                    [i is not None for i in shape.biases],
                    how,
                    weights,
                    biases,
                    model=text,
                    uses_data=uses_data,
                    source=name,
                    known_lr=_known_lr(builder, args, kwargs),
                    kind=type(obj),
                )
            )
            break
    return out


def _model_object(obj: Any) -> bool:
    """An instance of one of the user's classes that is no layer or loss object."""
    cls = type(obj)
    return survey.users(cls) and not roles.is_layer(cls) and not roles.is_loss(cls)


# --- shape C: layer objects ---------------------------------------------------------------------


def _build(cls: Any, args: list, kwargs: dict) -> Any:
    seed_numpy(0)
    try:
        return sandbox.call("layers", cls, *args, **kwargs)
    except (UserCallError, Broken):
        return None


def _weight(obj: Any) -> Array | None:
    for ref in objects.walk(obj):
        value = ref.get()
        if value.ndim == 2:
            return value
    return None


def _layer_run(objs: list[Any], texts: list[str], how: str, losses: list[str]) -> Sizes | None:
    weights = [(i, w) for i, obj in enumerate(objs) if (w := _weight(obj)) is not None]
    if not weights:
        return None
    shapes = [tuple(w.shape) for _, w in weights]
    found = chain(shapes)
    if found is None or len(found.weights) != len(weights):
        return None
    biases = []
    for i, _ in weights:
        arrays = [r.get() for r in objects.walk(objs[i])]
        biases.append(any(a.ndim == 1 or (a.ndim == 2 and 1 in a.shape) for a in arrays[1:]))
    values = [_rows(w, found.columns) for _, w in weights]
    return Sizes("layers", found.sizes, biases, how, values, layers=texts, losses=losses)


def of_layers(
    loaded: LoadedModule, calls: list[survey.LiteralCall], request: Request
) -> list[Sizes]:
    """Sizes from the layer objects the user's code chains (a block of calls in their script,
    a list their function builds), or from their layer classes and `--layers`."""
    classes = survey.classes(loaded)
    layer_classes = {n for n, c in classes.items() if roles.is_layer(c)}
    loss_classes = {n for n, c in classes.items() if roles.is_loss(c)}
    if not layer_classes:
        return []
    losses = [c.text for c in calls if c.name.split(".")[-1] in loss_classes and not c.uses_data]
    for name in loss_classes:
        params = roles.parameters(classes[name])
        if params is not None and all(p.default is not p.empty for p in params):
            losses.append(f"{name}()")
    losses = list(dict.fromkeys(losses))
    out: list[Sizes] = []
    blocks: dict[int, list[survey.LiteralCall]] = {}
    for call in calls:
        if call.name.split(".")[-1] in layer_classes and not call.uses_data:
            blocks.setdefault(call.block, []).append(call)
    for run in blocks.values():
        objs = [_build(classes[c.name.split(".")[-1]], list(c.args), dict(c.kwargs)) for c in run]
        if any(o is None for o in objs):
            continue
        first = run[0]
        how = f"the layers your code chains ({first.where})"
        found = _layer_run(objs, [c.text for c in run], how, losses)
        if found is not None:
            out.append(found)
    if request.layers and not out:
        found = _from_widths(classes, layer_classes, request, losses)
        if found is not None:
            out.append(found)
    return out


def _from_widths(
    classes: dict[str, Any], layer_classes: set[str], request: Request, losses: list[str]
) -> Sizes | None:
    """A chain built from `--layers`: the user's dense layer class between each pair of
    widths, their activation layer that fits after each (the choice said where it is one)."""
    assert request.layers is not None
    sizes = [request.inputs, *request.layers]
    dense = None
    for name in layer_classes:
        obj = _build(classes[name], [sizes[0], sizes[1]], {})
        w = _weight(obj) if obj is not None else None
        if w is not None and sorted(w.shape) == sorted(sizes[:2]):
            dense = name
            break
    if dense is None:
        return None
    acts = _activation_layers(classes, layer_classes - {dense})
    hidden = [n for n, a in acts.items() if a != "softmax"]
    k = sizes[-1]
    last = next((n for n, a in acts.items() if a == ("softmax" if k > 1 else "sigmoid")), None)
    texts: list[str] = []
    objs = []
    for l, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        texts.append(f"{dense}({n_in}, {n_out})")
        objs.append(_build(classes[dense], [n_in, n_out], {}))
        act = hidden[0] if l < len(sizes) - 2 and hidden else last if l == len(sizes) - 2 else None
        if act is not None:
            texts.append(f"{act}()")
            objs.append(_build(classes[act], [], {}))
    how = f"--layers, with your {dense} class"
    found = _layer_run(objs, texts, how, losses)
    if found is not None and len(hidden) > 1:
        found.how += f" and {hidden[0]} between them"
        others = " or ".join(f"{h}()" for h in hidden[1:])
        found.choices = [f"{hidden[0]}() between the layers, or {others}"]
    return found


def _activation_layers(classes: dict[str, Any], names: set[str]) -> dict[str, str]:
    """The user's parameterless layers that compute a built-in activation, by what they
    compute (in definition order)."""
    out: dict[str, str] = {}
    z = np.random.default_rng(3).normal(0.0, 2.0, (5, 4))
    for name in [n for n in classes if n in names]:
        obj = _build(classes[name], [], {})
        if obj is None or objects.walk(obj):
            continue
        try:
            a = sandbox.call(f"{name}.forward", obj.forward, z.copy())
        except (UserCallError, Broken):
            continue
        if isinstance(a, np.ndarray) and a.shape == z.shape:
            found = which(z, a.astype(np.float64), True, 1e-6)
            if found:
                out[name] = found[0].name
    return out
