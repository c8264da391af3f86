"""The three shapes of SPEC §3 behind one face (model.UserModel): functions over a params dict
or module globals (A), an object with methods (B), layer objects chained in order (C). Each
finds its parameters — by the spec's shapes in either layout, confirmed by what moves the
output — and how to call forward and backward."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from nnfix.engine.network import Network, Slot
from nnfix.usercode import chain, objects, sandbox
from nnfix.usercode import grads as G
from nnfix.usercode.grads import Gradients, Param
from nnfix.usercode.layout import Layout, candidates
from nnfix.usercode.model import (
    CONSTRUCT_BATCH,
    Batch,
    CaseInsensitiveDict,
    SetupError,
    UserModel,
    call_spec,
    resolve,
)
from nnfix.usercode.objects import Ref
from nnfix.usercode.sandbox import UserCallError

Array = np.ndarray
DEFAULT_PATTERNS = {"weight": "W{l}", "bias": "b{l}"}


def _patterns(impl) -> dict[str, str] | None:
    if impl.params is not None:
        return {k: v for k, v in (("weight", impl.params.weight), ("bias", impl.params.bias)) if v}
    if impl.names is not None:
        return {"weight": impl.names.weight, "bias": impl.names.bias}
    return None


def _grad_patterns(impl) -> dict[str, str] | None:
    if impl.grads is not None:
        return {k: v for k, v in (("weight", impl.grads.weight), ("bias", impl.grads.bias)) if v}
    if impl.names is not None:
        return {"weight": impl.names.grad_weight, "bias": impl.names.grad_bias}
    return None


def _fill(pattern: str, slot: Slot) -> str:
    return pattern.format(l=slot.layer, i=slot.layer - 1)


def _is_path(pattern: str) -> bool:
    return any(c in pattern for c in "[.")


def path_ref(root: Any, path: str, name: str = "self") -> Ref:
    """A Ref to `path` under `root`: "weights[0]", "params['W1']", "layers[2].weights"."""
    text = path.strip()
    if text.startswith(name + "."):
        text = text[len(name) + 1 :]
    parts = re.findall(r"\.?([A-Za-z_]\w*)|\[([^\]]+)\]", text)
    owner: Any = root
    key: Any = None
    kind = "attr"
    for i, (attr, item) in enumerate(parts):
        if i:
            owner = getattr(owner, key) if kind == "attr" else owner[key]
        if attr:
            key, kind = attr, "attr"
        else:
            import ast

            key, kind = ast.literal_eval(item), "item"
    if key is None:
        raise KeyError(path)
    ref = Ref(f"{name}.{text}" if name else text, owner, key, kind)
    ref.get()  # raises when the path names nothing
    return ref


# --- matching arrays to the spec's parameters ------------------------------------------------


def _wanted(slot: Slot, rows_shape: tuple[int, ...], columns: bool) -> list[tuple[int, ...]]:
    if slot.role == "weight":
        return [rows_shape[::-1] if columns else rows_shape]
    n = rows_shape[-1]
    return [(n, 1), (n,)] if columns else [(1, n), (n,)]


def match(
    refs: list[Ref], network: Network, columns: bool, slots: list[Slot] | None = None
) -> tuple[dict[str, Ref], dict[str, list[Ref]]]:
    """Each slot's array among `refs`, in walk order (the k-th array of a shape goes to the
    k-th slot that wants it, in layer order); and the other arrays each slot could be."""
    slots = slots if slots is not None else list(network.slots)
    shapes = {s.name: p.shape for s, p in zip(network.slots, network.params, strict=True)}
    chosen: dict[str, Ref] = {}
    extra: dict[str, list[Ref]] = {}
    for ref in refs:
        shape = np.shape(ref.get())
        fits = [s for s in slots if shape in _wanted(s, shapes[s.name], columns)]
        free = [s for s in fits if s.name not in chosen]
        if free:
            chosen[free[0].name] = ref
        elif fits:
            extra.setdefault(fits[0].name, []).append(ref)
    return chosen, extra


def _bias_form(refs: dict[str, Ref], columns: bool) -> str:
    for name, ref in refs.items():
        if name.startswith("b"):
            shape = np.shape(ref.get())
            return "vector" if len(shape) == 1 else "column" if shape[1] == 1 and columns else "row"
    return "column" if columns else "row"


def _params(network: Network, chosen: dict[str, Ref], layout: Layout) -> list[Param]:
    out = []
    for slot in network.slots:
        if slot.name in chosen:
            ref = chosen[slot.name]
            out.append(Param(slot, ref, tuple(np.shape(ref.get()))))
    return out


class Discovered(UserModel):
    """Shapes B and C: parameters found by walking the user's objects."""

    roots: list[tuple[Any, str]]  # (object, its name in paths)

    def _refs(self) -> list[Ref]:
        data = {id(a) for a in self._data_arrays()}
        return [
            r
            for root, name in self.roots
            for r in objects.walk(root, name)
            if id(r.get()) not in data
        ]

    def _data_arrays(self) -> list[Array]:
        return []

    def _locate(self, batch: Batch) -> None:
        """Find the parameters: declared paths, or arrays of the spec's shapes."""
        patterns = _patterns(self.impl)
        network = self.network
        if patterns:
            chosen = {}
            for slot in network.slots:
                pattern = patterns.get(slot.role)
                if pattern is None:
                    continue
                chosen[slot.name] = self._declared(pattern, slot)
            columns = self._orientation(chosen)
            self._settle(chosen, columns)
            return
        refs = self._refs()
        options = []
        for columns in (
            (True, False) if self.impl.layout == "auto" else (self.impl.layout == "columns",)
        ):
            # parameters are the arrays that move the output; zeroed gradient buffers, caches
            # and optimiser state of the same shapes do not
            moving = self._moving(refs, batch, columns)
            chosen, extra = match(moving if moving else refs, network, columns)
            weights = sum(name.startswith("W") for name in chosen)
            options.append((weights, len(chosen), columns, chosen, extra))
        options.sort(key=lambda o: (o[0], o[1]), reverse=True)
        best = options[0]
        if best[0] < self.depth:
            raise SetupError(self._not_found(refs, best[3]), self._key, hint=self._hint())
        ties = [o for o in options if (o[0], o[1]) == (best[0], best[1])]
        for _, _, columns, chosen, extra in ties:
            self._settle(chosen, columns)
            if self._resolve_extra(extra, batch) and self._confirms(batch):
                return
        self._settle(best[3], best[2])
        self._resolve_extra(best[4], batch)

    def _moving(self, refs: list[Ref], batch: Batch, columns: bool) -> list[Ref] | None:
        """The arrays whose change moves the forward's output, with the values the code holds
        and the data in this layout; None when there is no forward that runs so."""
        self.layout = Layout(columns, "column" if columns else "row")
        saved = [r.get().copy() for r in refs]
        rng = np.random.default_rng(7)
        for r in refs:  # random values: a zero weight below would hide the layer above
            r.get()[...] = rng.normal(0.0, 0.5, r.get().shape)
        try:
            if self.forward(batch.x) is None:
                return None
            return [r for r in refs if self._moves_output(r, batch)]
        except (UserCallError, SetupError):
            return None
        finally:
            for r, value in zip(refs, saved, strict=True):
                current = r.get()
                if isinstance(current, np.ndarray) and current.shape == value.shape:
                    current[...] = value  # in place: other references to it see it too
                else:
                    r.set(value)  # the forward put another array there

    def _declared(self, pattern: str, slot: Slot) -> Ref:
        raise NotImplementedError

    @property
    def _key(self) -> str:
        return "model"

    def _hint(self) -> str:
        return 'params: {weight: "weights[{i}]", bias: "biases[{i}]"}'

    def _orientation(self, chosen: dict[str, Ref]) -> bool:
        if self.impl.layout != "auto":
            return self.impl.layout == "columns"
        for slot, p in zip(self.network.slots, self.network.params, strict=True):
            if slot.role == "weight" and slot.name in chosen and p.shape[0] != p.shape[1]:
                return np.shape(chosen[slot.name].get()) == p.shape[::-1]
        return True

    def _settle(self, chosen: dict[str, Ref], columns: bool) -> None:
        self.layout = Layout(columns, _bias_form(chosen, columns))
        self.params = _params(self.network, chosen, self.layout)
        missing = [s.name for s in self.network.slots if s.name not in chosen]
        if missing:
            raise SetupError(
                f"no array for {', '.join(missing)} in your code"
                + (
                    " (your layers have no bias: say so in the model)"
                    if all(n.startswith("b") for n in missing)
                    else ""
                ),
                self._key if not all(n.startswith("b") for n in missing) else "model",
                hint="model: {bias: false}"
                if all(n.startswith("b") for n in missing)
                else self._hint(),
            )

    def _not_found(self, refs: list[Ref], chosen: dict[str, Ref]) -> str:
        want = ", ".join(
            f"{s.name} {p.shape if self.impl.layout != 'columns' else p.shape[::-1]}"
            for s, p in zip(self.network.slots, self.network.params, strict=True)
            if s.role == "weight" and s.name not in chosen
        )
        seen = ", ".join(f"{r.path} {np.shape(r.get())}" for r in refs[:8]) or "no arrays"
        return (
            f"cannot find the weights {want} (or their transposes) in your code's objects; "
            f"found {seen}"
        )

    def _resolve_extra(self, extra: dict[str, list[Ref]], batch: Batch) -> bool:
        """Where several arrays could be one parameter, the one that moves the output is; true
        when every slot is settled."""
        chosen = {p.slot.name: p.ref for p in self.params}
        for name, others in extra.items():
            pool = [chosen[name], *others]
            moving = [r for r in pool if self._moves_output(r, batch)]
            if len(moving) == 1:
                chosen[name] = moving[0]
            elif len(moving) != 1:
                paths = ", ".join(r.path for r in pool)
                raise SetupError(
                    f"several arrays could be {name}: {paths}",
                    self._key,
                    hint=self._hint(),
                )
        self.params = _params(self.network, chosen, self.layout)
        return True

    def _moves_output(self, ref: Ref, batch: Batch) -> bool:
        """Does changing this array change the forward's output? (True when there is no
        forward of their own to ask.)"""
        try:
            before = self.forward(batch.x)
        except UserCallError:
            return True
        if before is None:
            return True
        array = ref.get()
        saved = array.copy()
        array += np.random.default_rng(0).normal(0, 1, array.shape).astype(array.dtype)
        try:
            after = self.forward(batch.x)
        except UserCallError:
            after = None
        finally:
            array[...] = saved
        return after is None or not np.allclose(before, after)

    def _confirms(self, batch: Batch) -> bool:
        """With nnfix's values in their arrays, does their forward give the spec's output?"""
        values = self.probe_values()
        self.set_params(values)
        try:
            out = self.forward(batch.x)
        except UserCallError:
            return False
        return out is None or self.matches(out, batch.x, values)


# --- B: an object --------------------------------------------------------------------------


class ObjectModel(Discovered):
    shape = "object"

    def __init__(self, impl, module, network):
        super().__init__(impl, module, network)
        assert impl.model_call is not None  # a list of statements is read without a spec model
        self.call = call_spec(impl.model_call, "model")
        self.cls = resolve(module, self.call.name, "model")
        self.obj: Any = None
        self.inputs: list[Ref] = []  # the object's attributes that hold the data it was built with
        self.targets: list[Ref] = []

    def _data_arrays(self) -> list[Array]:
        return [r.get() for r in self.inputs + self.targets]

    def build(self, batch: Batch, columns: bool) -> None:
        """Construct the object (X and Y, where its call names them, as a small batch)."""
        x = batch.x[:CONSTRUCT_BATCH]
        y = batch.y[:CONSTRUCT_BATCH]
        layout = Layout(columns, "column" if columns else "row")
        values = {"X": layout.samples(x), "Y": layout.samples(y)}
        args, kwargs = self.call.arguments(values)
        try:
            self.obj = sandbox.call("model", self.cls, *args, **kwargs)
        except UserCallError as exc:
            raise SetupError(f"{self.call.text} raised: {exc}", "model", trace=exc.trace) from None
        self.roots = [(self.obj, "self")]
        self.initial = {r.path: r.get().copy() for r in objects.walk(self.obj)}
        self.inputs, self.targets = [], []
        if self.call.uses_data:
            for ref in objects.walk(self.obj):
                value = ref.get()
                if value is values["X"] or (
                    value.shape == values["X"].shape and np.array_equal(value, values["X"])
                ):
                    self.inputs.append(ref)
                elif value is values["Y"] or (
                    value.shape == values["Y"].shape and np.array_equal(value, values["Y"])
                ):
                    self.targets.append(ref)

    def discover(self, batch: Batch) -> None:
        tries = (False, True) if self.call.uses_data else (self.impl.layout == "columns",)
        error: SetupError | None = None
        for columns in tries:
            self.build(batch, columns)
            try:
                self._locate(batch)
                self.found.parameters = objects.compress([p.ref.path for p in self.params])
                self.found.layout = self.layout.describe(
                    any(p.slot.role == "bias" for p in self.params)
                )
                return
            except SetupError as exc:
                error = error or exc
        assert error is not None
        raise error

    def _declared(self, pattern: str, slot: Slot) -> Ref:
        path = _fill(pattern, slot)
        try:
            return path_ref(self.obj, path)
        except (KeyError, IndexError, AttributeError, TypeError, ValueError):
            raise SetupError(
                f"params: {path!r} names no array on {self.call.text}", "params"
            ) from None

    def _method(self, name: str, key: str) -> Callable:
        attr = getattr(self.obj, name, None)
        if callable(attr):
            return attr
        fn = resolve(self.module, name, key)
        method = lambda *args, **kwargs: fn(self.obj, *args, **kwargs)  # noqa: E731
        method.__wrapped__ = fn  # type: ignore[attr-defined]  # its source, for messages
        return method

    def _set_data(self, x_user: Array, y_user: Array | None) -> None:
        for ref in self.inputs:
            ref.set(x_user)
        if y_user is not None:
            for ref in self.targets:
                ref.set(y_user)

    def forward(self, x: Array) -> Array | None:
        if not self.impl.forward:
            return None
        if self.per_sample and len(x) > 1:
            return np.vstack([self._forward_one(x[i : i + 1]) for i in range(len(x))])
        return self._forward_one(x)

    def _forward_one(self, x: Array) -> Array:
        assert self.impl.forward is not None
        fn = self._method(self.impl.forward, "forward")
        x_user = self.x_user(x)
        self._set_data(x_user, None)
        before = objects.snapshot(objects.walk(self.obj))
        value = self._call("forward", fn, "forward", {"X": x_user}, fallback=("X",))
        self.left_behind = [value, [r.get() for r in objects.changed(self.obj, before)]]
        if value is None:
            value = self._changed_output(before, len(x))
        return self.output(value, len(x), "forward")

    def _changed_output(self, before, m: int) -> Any:
        if self.impl.output:  # where the spec says it leaves its result
            try:
                return path_ref(self.obj, self.impl.output).get()
            except (KeyError, IndexError, AttributeError, TypeError, ValueError):
                raise SetupError(
                    f"output: {self.impl.output!r} names nothing on {self.call.text}", "output"
                ) from None
        for ref in objects.changed(self.obj, before):
            if self.layout.outputs(ref.get(), m, self.k) is not None:
                return ref.get()
        return None

    def _gradients(self, batch: Batch) -> Gradients:
        assert self.impl.backward is not None
        fn = self._method(self.impl.backward, "backward")
        x_user, y_user = self.x_user(batch.x), self.y_user(batch)
        output = None
        if self.impl.forward:
            out = self.forward(batch.x)
            output = self.output_user(out) if out is not None else None
        self._set_data(x_user, y_user)
        before_params = self.get_params()
        before = objects.snapshot(objects.walk(self.obj))
        values = {"X": x_user, "Y": y_user}
        if output is not None:
            values["output"] = output
        value = self._call("backward", fn, "backward", values)
        what = f"{self.impl.backward}'s return value"
        found = G.from_value(value, self.params, self.layout, _grad_patterns(self.impl), what)
        if found is not None:
            found.returned_by = (getattr(fn, "__wrapped__", fn), self.impl.backward)
        if found is None:
            found = G.from_changes(objects.changed(self.obj, before), self.params, self.layout)
            if found is not None and not self.keep_update:
                self.set_params(before_params)  # a backward may also have stepped them
        if found is None:
            found = self._in_place(before_params)
        return _nothing_found(found, value)

    def loss(self, batch: Batch) -> float | None:
        if not self.impl.loss:
            return None
        fn = self._method(self.impl.loss_call or "", "loss")
        values = {"X": self.x_user(batch.x), "Y": self.y_user(batch)}
        out = self.forward(batch.x)
        if out is not None:
            values["output"] = self.output_user(out)
        value = self._call("loss", fn, "loss", values, fallback=("output", "Y"))
        return _number(value, "loss")


def _nothing_found(found: Gradients, value: Any) -> Gradients:
    """A backward that returned nothing, set nothing and updated nothing is a U101."""
    if found.found:
        return found
    got = (
        "None (no return statement?)"
        if value is None
        else f"{type(value).__name__} with no gradient in it"
    )
    raise UserCallError(
        "backward",
        f"returned {got}, set no gradient arrays on your objects and updated no parameter",
    )


def _progress(exc: UserCallError) -> tuple[int, int]:
    """How far into the user's code a failed call got: frames deep, then lines in."""
    lines = re.findall(r"line (\d+), in", exc.trace or "")
    return len(lines), int(lines[-1]) if lines else 0


def _number(value: Any, role: str) -> float:
    if isinstance(value, tuple) and value and not isinstance(value[0], np.ndarray | tuple | list):
        value = value[0]
    try:
        array = np.asarray(value, dtype=float)
        return float(array.mean()) if array.size > 1 else float(array.reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise UserCallError(role, f"returned {type(value).__name__}; expected a number") from None


# --- A: functions --------------------------------------------------------------------------


class FunctionsModel(Discovered):
    """Module functions: over a params dict nnfix builds (its keys from `params:`, W{l}/b{l} by
    default, read case-insensitively), or over arrays the module itself holds."""

    shape = "functions"

    def __init__(self, impl, module, network):
        super().__init__(impl, module, network)
        self.forward_fn = resolve(module, impl.forward, "forward") if impl.forward else None
        self.backward_fn = resolve(module, impl.backward, "backward") if impl.backward else None
        self.loss_fn = resolve(module, impl.loss_call, "loss") if impl.loss_call else None
        self.patterns = _patterns(impl) or dict(DEFAULT_PATTERNS)
        self.globals = any(_is_path(p) for p in self.patterns.values())
        self.container: CaseInsensitiveDict | None = None
        self.roots = [(module, "")]
        self.dtype = np.float64

    @property
    def _key(self) -> str:
        return "params"

    def _hint(self) -> str:
        return 'params: {weight: "W{l}", bias: "b{l}"}'

    def _declared(self, pattern: str, slot: Slot) -> Ref:
        path = _fill(pattern, slot)
        try:
            return path_ref(self.module, path, "")
        except (KeyError, IndexError, AttributeError, TypeError, ValueError):
            raise SetupError(
                f"params: {path!r} names no array in your module (nnfix puts its values into "
                "arrays your code already holds: run the code that creates them at import, or "
                "pass the parameters as an argument)",
                "params",
            ) from None

    def _build(self, layout: Layout, patterns: dict[str, str]) -> None:
        """The parameters in `layout` with nnfix's probe values: in a params dict nnfix passes,
        or (declared paths) put where their module keeps them."""
        self.container = None if self.globals else CaseInsensitiveDict()
        self.layout = layout
        self.params = []
        self.labels = None  # found again for each way of calling tried
        values = self.probe_values()
        for slot in self.network.slots:
            pattern = patterns.get(slot.role)
            if pattern is None:
                continue
            key = _fill(pattern, slot)
            value = np.array(layout.to_user(slot, values[slot.name]), dtype=self.dtype)
            if self.container is not None:
                self.container[key] = value
                ref = Ref(f"params[{key!r}]", self.container, key, "item")
            else:
                ref = self._place(key, value)
            self.params.append(Param(slot, ref, tuple(value.shape)))

    def _place(self, path: str, value: Array) -> Ref:
        """Put `value` at a declared path in their module (creating the entry of a dict that
        their skipped script would have filled)."""
        try:
            ref = path_ref(self.module, path, "")
        except KeyError as exc:
            owner_path = path[: path.rindex("[")]
            owner = path_ref(self.module, owner_path, "").get() if "[" in owner_path else None
            if owner is None:
                owner = getattr(self.module, owner_path, None)
            if not isinstance(owner, dict):
                raise SetupError(
                    f"params: {path!r} names nothing in your module", "params"
                ) from exc
            key = exc.args[0] if exc.args else path
            owner[key] = value
            return Ref(path, owner, key, "item")
        except (IndexError, AttributeError, TypeError, ValueError):
            raise SetupError(f"params: {path!r} names nothing in your module", "params") from None
        ref.set(value)
        return ref

    def discover(self, batch: Batch) -> None:
        columns = None if self.impl.layout == "auto" else self.impl.layout == "columns"
        errors: list[UserCallError] = []
        partial: list[tuple[int, Layout, dict[str, str]]] = []  # weights fit, not every bias
        patterns = dict(self.patterns)
        for layout in candidates(columns):
            for _ in range(4):  # learning the keys their code reads, one KeyError at a time
                self._build(layout, patterns)
                try:
                    fits = self._probe(batch)
                    if fits == len(self.params):
                        self._done(patterns)
                        return
                    if fits >= 0:
                        partial.append((fits, layout, dict(patterns)))  # ran: another network
                    break
                except UserCallError as exc:
                    errors.append(exc)
                    learned = self._learn_key(exc, patterns)
                    if learned is None:
                        break
                    patterns = learned
                except sandbox.Broken:  # a call that hung or ended before: not tried again,
                    if errors:  # and what it did then is the error to report
                        raise max(errors, key=_progress) from None
                    raise
        if partial:  # ran, but no layout gives the spec's output (U102) or every gradient's
            _, layout, patterns = max(partial, key=lambda item: item[0])  # shape (G103)
            self._build(layout, patterns)
            self._done(patterns)
            return
        if errors:
            raise max(errors, key=_progress)  # the way of calling that got furthest
        self._build(candidates(columns)[0], self.patterns)
        self._done(self.patterns)  # their forward runs but gives another network: U102 says so

    def _done(self, patterns: dict[str, str]) -> None:
        keys = ", ".join(repr(p.ref.key) for p in self.params[:4])
        more = ", …" if len(self.params) > 4 else ""
        self.found.parameters = (
            objects.compress([p.ref.path for p in self.params])
            if self.globals
            else f"a params dict nnfix builds ({keys}{more})"
        )
        self.found.layout = self.layout.describe(any(p.slot.role == "bias" for p in self.params))
        if patterns != DEFAULT_PATTERNS and patterns != self.patterns:
            self.found.notes.append(
                f"keys read by your code: {patterns.get('weight')}, {patterns.get('bias')}"
            )

    def _probe(self, batch: Batch) -> int:
        """How well this layout and these keys work: every parameter (len(params)) when the
        forward gives the spec's output — or, with no forward, when the backward returns a
        gradient of each one's shape; else how many gradients fit, if every weight's does
        (a bias of the wrong shape may be the very bug to report); else 0."""
        if self.forward_fn is not None:
            out = self.forward(batch.x)
            fits = out is not None and self.matches(out, batch.x, self.probe_values())
            return len(self.params) if fits else 0 if out is not None else -1
        found = self.gradients(batch)
        weights = [p.slot.name for p in self.params if p.slot.role == "weight"]
        return len(found.arrays) if all(name in found.arrays for name in weights) else -1

    def _learn_key(self, exc: UserCallError, patterns: dict[str, str]) -> dict[str, str] | None:
        """From `KeyError: 'w1'`: the key pattern their code uses (w{l}), for the weight or,
        once the weight's is known, the bias."""
        match = re.search(r"KeyError: '([^']*\d[^']*)'", exc.trace or "")
        if not match:
            return None
        key = match[1]
        digits = re.search(r"\d+", key)
        assert digits is not None
        n = int(digits[0])
        pattern = key[: digits.start()] + ("{i}" if n == 0 else "{l}") + key[digits.end() :]
        role = "weight" if patterns.get("weight") == self.patterns.get("weight") else "bias"
        if patterns.get(role) == pattern:
            return None
        return {**patterns, role: pattern}

    def _values(self, x_user: Array) -> dict[str, Any]:
        values: dict[str, Any] = {"X": x_user}
        if self.container is not None:
            values["params"] = self.container
        return values

    def _run_forward(self, x: Array) -> tuple[Any, Any, Array]:
        """Their forward's raw return value, its cache (or None) and the output (rows)."""
        assert self.forward_fn is not None
        value = self._call(
            "forward", self.forward_fn, "forward", self._values(self.x_user(x)), ("params", "X")
        )
        cache = value[1] if isinstance(value, tuple) and len(value) > 1 else None
        self.left_behind = value
        return value, cache, self.output(value, len(x), "forward")

    def forward(self, x: Array) -> Array | None:
        if self.forward_fn is None:
            return None
        if self.per_sample and len(x) > 1:
            return np.vstack([self._run_forward(x[i : i + 1])[2] for i in range(len(x))])
        return self._run_forward(x)[2]

    def _gradients(self, batch: Batch) -> Gradients:
        assert self.backward_fn is not None
        values = self._values(self.x_user(batch.x))
        values["Y"] = self.y_user(batch)
        if self.forward_fn is not None:
            _, cache, out = self._run_forward(batch.x)
            values["cache"] = cache
            values["output"] = self.output_user(out)
        before_params = self.get_params()
        before = objects.snapshot(objects.walk(self.module, ""))
        value = self._call("backward", self.backward_fn, "backward", values)
        patterns = _grad_patterns(self.impl)
        declared = None
        if patterns and any(_is_path(p) for p in patterns.values()):
            declared = {
                s.name: path_ref(self.module, _fill(patterns[s.role], s), "")
                for s in self.network.slots
                if s.role in patterns
            }
            patterns = None
        what = f"{self.impl.backward}'s return value"
        found = None if declared else G.from_value(value, self.params, self.layout, patterns, what)
        if found is not None:
            found.returned_by = (self.backward_fn, self.impl.backward or "backward")
        if found is None:
            changed = objects.changed(self.module, before, "")
            found = G.from_changes(changed, self.params, self.layout, declared)
        if found is None:
            found = self._in_place(before_params)
        return _nothing_found(found, value)

    def loss(self, batch: Batch) -> float | None:
        if self.loss_fn is None:
            return None
        out = self.forward(batch.x)
        values: dict[str, Any] = {"Y": self.y_user(batch), **self._values(self.x_user(batch.x))}
        if out is not None:
            values["output"] = self.output_user(out)
        value = self._call("loss", self.loss_fn, "loss", values, ("output", "Y"))
        return _number(value, "loss")


# --- C: layer objects ----------------------------------------------------------------------


class LayersModel(Discovered):
    """Layer objects, chained: forward(inputs) from the first to the last, the loss object's
    backward, then backward(dvalues) from the last to the first."""

    shape = "layers"

    def __init__(self, impl, module, network):
        super().__init__(impl, module, network)
        self.calls = [call_spec(text, f"layers[{i}]") for i, text in enumerate(impl.layers or [])]
        self.classes = [resolve(module, c.name, "layers") for c in self.calls]
        self.loss_call = call_spec(impl.loss_call, "loss") if impl.loss_call else None
        self.loss_cls = resolve(module, self.loss_call.name, "loss") if self.loss_call else None
        self.objects: list[Any] = []
        self.loss_obj: Any = None

    @property
    def _key(self) -> str:
        return "layers"

    def _hint(self) -> str:
        return 'params: {weight: "weights", bias: "biases"}  # paths on each layer object'

    def discover(self, batch: Batch) -> None:
        self.objects = []
        for i, (call, cls) in enumerate(zip(self.calls, self.classes, strict=True)):
            args, kwargs = call.arguments({})
            try:
                self.objects.append(sandbox.call(f"layers[{i}]", cls, *args, **kwargs))
            except UserCallError as exc:
                raise SetupError(f"{call.text} raised: {exc}", "layers", trace=exc.trace) from None
        if self.loss_call is not None:
            args, kwargs = self.loss_call.arguments({})
            try:
                self.loss_obj = sandbox.call("loss", self.loss_cls, *args, **kwargs)
            except UserCallError as exc:
                raise SetupError(
                    f"{self.loss_call.text} raised: {exc}", "loss", trace=exc.trace
                ) from None
        self.roots = [(obj, f"layers[{i}]") for i, obj in enumerate(self.objects)]
        self.initial = {r.path: r.get().copy() for r in self._refs()}
        self._locate(batch)
        self.found.parameters = objects.compress([p.ref.path for p in self.params])
        self.found.layout = self.layout.describe(any(p.slot.role == "bias" for p in self.params))

    def _declared(self, pattern: str, slot: Slot) -> Ref:
        owners = [i for i, obj in enumerate(self.objects) if self._has(obj, pattern, slot)]
        if len(owners) < slot.layer:
            raise SetupError(
                f"params: {pattern!r} is found on {len(owners)} layer objects; the model has "
                f"{self.depth} layers",
                "params",
            )
        i = owners[slot.layer - 1]
        return path_ref(self.objects[i], _fill(pattern, slot), f"layers[{i}]")

    @staticmethod
    def _has(obj: Any, pattern: str, slot: Slot) -> bool:
        try:
            path_ref(obj, _fill(pattern, slot), "")
            return True
        except (KeyError, IndexError, AttributeError, TypeError, ValueError):
            return False

    def forward(self, x: Array) -> Array:
        a: Any = self.x_user(x)
        self._inputs = []
        for i, obj in enumerate(self.objects):
            self._inputs.append(a)
            before = chain.state(obj)
            name = chain.forward_name(obj) or "forward"
            fn = getattr(obj, name)
            value = self._call(f"layers[{i}].{name}", fn, "forward", {"X": a}, ("X",))
            a = chain.kept_output(obj, value, before, a)
            self.left_behind = [*self._inputs[1:], a]
            if a is None:
                raise UserCallError(
                    f"layers[{i}].forward",
                    f"{self.calls[i].text}.forward returned nothing and set no output array",
                )
        return self.output(a, len(x), f"layers[{len(self.objects) - 1}].forward")

    def loss(self, batch: Batch) -> float | None:
        if self.loss_obj is None:
            return None
        out = self.output_user(self.forward(batch.x))
        y = self.y_user(batch)
        method = getattr(self.loss_obj, "forward", None) or getattr(
            self.loss_obj, "calculate", None
        )
        if method is None:  # named otherwise: `loss`, `__call__`, `cost`
            names = chain._candidates(self.loss_obj, chain.VALUE, ("loss", "cost"))
            method = getattr(self.loss_obj, names[0]) if names else self.loss_obj.forward
        value = self._call("loss.forward", method, "loss", {"output": out, "Y": y}, ("output", "Y"))
        return _number(value, "loss")

    def _gradients(self, batch: Batch) -> Gradients:
        if self.loss_obj is None:
            raise SetupError(
                "layer objects need a loss object to start the backward pass",
                "loss",
                hint="loss: Loss_CategoricalCrossentropy()",
            )
        out = self.output_user(self.forward(batch.x))
        y = self.y_user(batch)
        before = [objects.snapshot(objects.walk(obj)) for obj in self.objects]
        loss_before = chain.state(self.loss_obj)
        value = self._call(
            "loss.backward",
            getattr(self.loss_obj, chain.prime_name(self.loss_obj) or "backward"),
            "loss",
            {"output": out, "Y": y},
            ("output", "Y"),
        )
        d = chain.kept_input_gradient(self.loss_obj, value, loss_before, out)
        for i in range(len(self.objects) - 1, -1, -1):
            if d is None:
                raise UserCallError(
                    f"layers[{i + 1}].backward" if i + 1 < len(self.objects) else "loss.backward",
                    "returned nothing and set no gradient array for the layer below",
                )
            obj = self.objects[i]
            snap = chain.state(obj)
            name = chain.backward_name(obj) or "backward"
            value = self._call(
                f"layers[{i}].{name}", getattr(obj, name), "layer", {"grad": d}, ("grad",)
            )
            d = chain.kept_input_gradient(obj, value, snap, self._inputs[i])
        changed = [
            r
            for i, obj in enumerate(self.objects)
            for r in objects.changed(obj, before[i], f"layers[{i}]")
        ]
        found = G.from_changes(changed, self.params, self.layout)
        return found or Gradients(missing=[p.slot.name for p in self.params])
