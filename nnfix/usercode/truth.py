"""The true intermediates of the user's network for one batch, in their layout: X, Y, every
layer's Z, A and da/dz, dL/dA and dL/dZ, and the parameter gradients — what the user's backward
should compute, line by line — and, for each, the wrong values that the usual mistakes give
(the derivative given the other argument, another activation's derivative, W untransposed, the
wrong layer's cache, …), so a wrong array can be explained as well as found."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from nnfix.engine.activations import BUILTINS, Activation
from nnfix.engine.losses import Loss, fused_delta, gradient
from nnfix.engine.network import Network
from nnfix.usercode.model import UserModel

Array = np.ndarray
GRADIENT_KINDS = ("dA", "dZ", "dW", "db")  # scale with the loss: a convention may rescale them


@dataclass(frozen=True)
class Known:
    """One true array, as the user's code holds it."""

    name: str  # as the report writes it: X, Y, Z2, A2, dA2, dZ2, dW2, db2, A3 − Y
    kind: str  # X Y labels error W b Z A slope mask dA dZ dW db
    layer: int  # 0 for X, Y and the labels
    value: Array  # in the user's layout, float64
    formula: str = ""  # what it is computed from: "dA2 · (1 − A2²)"

    @property
    def gradient(self) -> bool:
        return self.kind in GRADIENT_KINDS


@dataclass(frozen=True)
class Alternative:
    """A wrong value a known mistake gives in place of a known."""

    value: Array  # in the user's layout
    says: str  # "tanh's derivative is written in A2 and given Z2"
    needs: str | None = None  # the known the formula should have been given instead ("A2")


def pretty(text: str) -> str:
    """`1 - A2**2` as `1 − A2²`, `A2 * (1 - A2)` as `A2 · (1 − A2)`, `where(Z2 > 0, 1, 0)` as
    `(Z2 > 0)`."""
    text = re.sub(r"^where\((.*) > 0, 1, 0\)$", r"(\1 > 0)", text)
    text = text.replace("**2", "²").replace(" * ", " · ").replace(" - ", " − ")
    return re.sub(r"^-", "−", text)


def factor(text: str) -> str:
    """A derivative as a factor of a product: parenthesised where it is a sum."""
    depth, top = 0, False
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        top = top or (depth == 0 and ch in "+−-" and i > 0 and text[i - 1] == " ")
    return f"({text})" if top else text


def _in(text: str, variable: str, name: str) -> str:
    return pretty(re.sub(rf"\b{variable}\b", name, text))


class Truth:
    """The knowns of one batch and the alternatives to each."""

    def __init__(
        self,
        model: UserModel,
        network: Network,
        loss: Loss,
        x: Array,
        y: Array,
        labels: Array | None,
        l2: float = 0.0,
    ):
        self.model = model
        self.network = network
        self.loss = dataclasses.replace(loss, declared=None)  # the true loss, never theirs
        self.m = len(x)
        self.columns = model.layout.columns
        self.knowns: list[Known] = []
        self._rows: dict[str, Array] = {}  # name -> value in nnfix's rows layout
        self._alternatives: dict[str, list[Alternative]] = {}
        self._build(x, y, labels, l2)
        self.by_name = {k.name: k for k in self.knowns}

    # --- the knowns -----------------------------------------------------------------------

    def _sample(self, name: str, kind: str, layer: int, rows: Array, formula: str = "") -> None:
        """A per-sample array (m, n) in the rows layout, added as the user's code holds it."""
        self._rows[name] = rows
        value = np.asarray(self.model.output_user(rows), dtype=np.float64)
        self.knowns.append(Known(name, kind, layer, value, formula))

    def _param(self, name: str, kind: str, layer: int, rows: Array, formula: str = "") -> None:
        self._rows[name] = rows
        slot = next(s for s in self.network.slots if s.layer == layer and s.role == _ROLE[kind])
        value = np.asarray(self.model.layout.to_user(slot, rows), dtype=np.float64)
        self.knowns.append(Known(name, kind, layer, value, formula))

    def a_name(self, layer: int) -> str:
        return "X" if layer == 0 else f"A{layer}"

    def activation(self, layer: int) -> Activation | None:
        return self.network.activations[layer - 1].builtin

    def slope_text(self, layer: int) -> str | None:
        """The layer's da/dz as the report writes it: in A where A alone fixes it, else in Z."""
        act = self.activation(layer)
        if act is None:
            return None
        if act.text_a is not None:
            return _in(act.text_a, "a", f"A{layer}")
        if act.text_z is not None:
            return _in(act.text_z, "z", f"Z{layer}")
        return None

    def _slope(self, layer: int, z: Array, a: Array) -> Array | None:
        act = self.network.activations[layer - 1]
        if act.builtin is not None:
            return None if not act.builtin.elementwise else act.builtin.derivative(z, a)
        if act.derivative is not None and not act.declared:
            return act.derivative(z, a)
        return None

    def _build(self, x: Array, y: Array, labels: Array | None, l2: float) -> None:
        net, L = self.network, self.network.depth
        cache = net.forward(x)
        self._sample("X", "X", 0, x)
        self._sample("Y", "Y", 0, y)
        if labels is not None and self.model.labels:
            self.knowns.append(Known("y", "labels", 0, labels.astype(np.float64)))
        for l in range(1, L + 1):
            layer = net.dense_layers[l - 1]
            prev, plus = self.a_name(l - 1), f" + b{l}" if layer.b is not None else ""
            self._sample(
                f"Z{l}",
                "Z",
                l,
                cache.z[l - 1],
                f"W{l} · {prev}{plus}" if self.columns else f"{prev} · W{l}{plus}",
            )
            self._sample(f"A{l}", "A", l, cache.a[l - 1], f"{layer.act.name}(Z{l})")
            self._param(f"W{l}", "W", l, layer.W)
            if layer.b is not None:
                self._param(f"b{l}", "b", l, layer.b)
        out = net.activations[-1]
        z, a = cache.z[-1], cache.a[-1]
        scale = self.loss.reduce(self.m) * self.loss.factor
        self._sample("A − Y", "error", 0, a - y)
        self._sample(
            f"dA{L}", "dA", L, gradient(self.loss.name, a, y) * scale, _LOSS[self.loss.name]
        )
        fused = fused_delta(self.loss.name, out.builtin_name, a, y)
        if fused is not None:
            delta = fused * scale
            formula = f"(A{L} − Y) / m" if self.loss.reduction == "mean" else f"A{L} − Y"
        else:
            delta = None
            slope = self._slope(L, z, a)
            if slope is not None:
                delta = self._rows[f"dA{L}"] * slope
                self._sample(f"da{L}/dz{L}", "slope", L, slope, self.slope_text(L) or "")
            formula = f"dA{L} · {factor(self.slope_text(L) or '')}"
        if delta is None:
            return  # an output whose derivative nnfix does not know: nothing below is known
        self._sample(f"dZ{L}", "dZ", L, delta, formula)
        dZ = delta
        for l in range(L, 0, -1):
            a_prev = cache.a[l - 2] if l > 1 else x
            layer = net.dense_layers[l - 1]
            dW = a_prev.T @ dZ + l2 * layer.W
            prev = self.a_name(l - 1)
            self._param(
                f"dW{l}",
                "dW",
                l,
                dW,
                f"dZ{l} · {prev}ᵀ" if self.columns else f"{prev}ᵀ · dZ{l}",
            )
            if layer.b is not None:
                self._param(
                    f"db{l}",
                    "db",
                    l,
                    dZ.sum(axis=0, keepdims=True),
                    f"dZ{l} summed over the samples",
                )
            if l == 1:
                break
            dA = dZ @ layer.W.T
            self._sample(
                f"dA{l - 1}",
                "dA",
                l - 1,
                dA,
                f"W{l}ᵀ · dZ{l}" if self.columns else f"dZ{l} · W{l}ᵀ",
            )
            z, a = cache.z[l - 2], cache.a[l - 2]
            slope = self._slope(l - 1, z, a)
            if slope is None:
                return
            self._sample(
                f"da{l - 1}/dz{l - 1}", "slope", l - 1, slope, self.slope_text(l - 1) or ""
            )
            if set(np.unique(slope)) <= {0.0, 1.0}:  # a relu's: the mask where it passes
                self._sample(f"(Z{l - 1} ≤ 0)", "mask", l - 1, 1.0 - slope)
            dZ = dA * slope
            self._sample(
                f"dZ{l - 1}", "dZ", l - 1, dZ, f"dA{l - 1} · {factor(self.slope_text(l - 1) or '')}"
            )

    # --- the usual mistakes -----------------------------------------------------------------

    def alternatives(self, known: Known) -> list[Alternative]:
        """The values the usual mistakes give in place of `known`, most telling first."""
        if known.name not in self._alternatives:
            self._alternatives[known.name] = [
                Alternative(
                    np.asarray(self.in_user(known, item[0]), dtype=np.float64),
                    item[1],
                    item[2] if len(item) > 2 else None,
                )
                for item in self._mistakes(known)
            ]
        return self._alternatives[known.name]

    def _mistakes(self, known: Known) -> list[tuple]:
        """(value in the rows layout, says[, needs]) of each usual mistake for `known`."""
        out: list[tuple] = []
        rows, l, L = self._rows, known.layer, self.network.depth
        if known.kind in ("dZ", "slope"):
            out += self._derivatives(known)
        if known.kind == "dZ" and l == L:
            out += self._labels(known)
        if known.kind == "dZ" and l < L and f"da{l}/dz{l}" in rows:  # dA's mistake in one line
            upstream = self.by_name.get(f"dA{l}")
            if upstream is not None:
                slope = rows[f"da{l}/dz{l}"]
                out += [(item[0] * slope, *item[1:]) for item in self._mistakes(upstream)]
        if known.kind == "dA" and l < L:
            dZ, W = rows[f"dZ{l + 1}"], rows[f"W{l + 1}"]
            if W.shape[0] == W.shape[1]:
                out.append((dZ @ W, f"W{l + 1} is used untransposed"))
            for j in range(1, L + 1):
                Wj = rows[f"W{j}"]
                if j != l + 1 and Wj.shape == W.shape:
                    out.append(
                        (dZ @ Wj.T, f"it uses W{j}, layer {j}'s weights, where W{l + 1} belongs")
                    )
            for j in range(1, L + 1):
                other = rows.get(f"dZ{j}")
                if j != l + 1 and other is not None and other.shape == dZ.shape:
                    out.append((other @ W.T, f"it uses dZ{j} where dZ{l + 1} belongs"))
            dA = rows.get(f"dA{l + 1}")
            if dA is not None:
                out.append(
                    (
                        dA @ W.T,
                        f"it uses dA{l + 1} where dZ{l + 1} belongs: layer {l + 1}'s activation "
                        "derivative is left out",
                    )
                )
        if known.kind in ("dW", "db"):
            out += self._parameter(known)
        return out

    def rows(self, name: str) -> Array | None:
        """A known's value in nnfix's rows layout."""
        return self._rows.get(name)

    def in_user(self, known: Known, rows: Array) -> Array:
        """A value shaped like `known` in nnfix's rows layout, as the user's code holds it (a
        value of another shape, as it is: it is compared with their arrays squeezed)."""
        if known.kind in ("db", "b") and rows.shape != self._rows[known.name].shape:
            return rows
        if known.kind in ("dW", "db", "W", "b"):
            slot = next(
                s
                for s in self.network.slots
                if s.layer == known.layer and s.role == _ROLE[known.kind]
            )
            return self.model.layout.to_user(slot, rows)
        return self.model.output_user(rows)

    def _derivatives(self, known: Known) -> list[tuple]:
        """dZ (or da/dz) with the derivative given the other argument, or another activation's."""
        l = known.layer
        own = self.activation(l)
        if own is None:
            return []
        z, a = self._rows[f"Z{l}"], self._rows[f"A{l}"]
        upstream = self._rows.get(f"dA{l}") if known.kind == "dZ" else None
        factor = upstream if upstream is not None else 1.0
        out: list[tuple] = []
        if upstream is not None:
            out.append((upstream, f"the activation's derivative is missing: dZ{l} = dA{l}"))
        for builder in BUILTINS.values():
            other = builder(own.alpha) if own.alpha is not None and builder().alpha else builder()
            if not other.elementwise:
                continue
            for form, fn in (("z", other.dz), ("a", other.da)):
                if fn is None:
                    continue
                for given, value in (("z", z), ("a", a)):
                    if other.name == own.name and form == given:
                        continue  # the truth
                    with np.errstate(all="ignore"):
                        slope = fn(value)
                    if not np.all(np.isfinite(slope)):
                        continue
                    written, name = form.upper(), given.upper()
                    needs = None
                    if other.name == own.name:
                        says = (
                            f"{own.name}'s derivative is written in {written}{l} and given "
                            f"{name}{l}"
                        )
                        needs = f"{written}{l}"
                    elif form == given:
                        says = f"it is {other.name}'s derivative, but layer {l} is {own.name}"
                    else:
                        says = (
                            f"it is {other.name}'s derivative written in {written}{l} and given "
                            f"{name}{l}; layer {l} is {own.name}"
                        )
                    out.append((factor * slope, says, needs))
        return out

    def _labels(self, known: Known) -> list[tuple]:
        """The output's dZ with integer labels where the one-hot targets belong."""
        labels = next((k.value for k in self.knowns if k.kind == "labels"), None)
        a = self._rows[f"A{known.layer}"]
        if labels is None or a.shape[1] < 2:
            return []
        scale = self.loss.reduce(self.m) * self.loss.factor
        says = "Y holds integer labels where the one-hot targets belong"
        out = []
        if a.shape[0] == a.shape[1] or not self.columns:
            with np.errstate(all="ignore"):
                out.append(((a - labels[:, None]) * scale, says))
        if self.columns:
            out.append(((a.T - labels[None, :]).T * scale, says))
        return [(v, s) for v, s in out if v.shape == a.shape]

    def _parameter(self, known: Known) -> list[tuple]:
        """dW and db from the wrong cache, or from dA where dZ belongs."""
        rows, l = self._rows, known.layer
        dZ = rows.get(f"dZ{l}")
        if dZ is None:
            return []
        dA = rows.get(f"dA{l}")
        prev = self.a_name(l - 1)
        out: list[tuple] = []
        if known.kind == "db":
            if dA is not None:
                out.append((dA.sum(axis=0, keepdims=True), f"it sums dA{l} where dZ{l} belongs"))
            out.append((dZ.sum(axis=1), "it is summed over the units instead of the samples"))
            out.append((dZ.sum(), "it is summed over the samples and the units: one number"))
            return out
        a_prev = rows[prev]
        for j in range(0, self.network.depth + 1):
            for kind in ("A", "Z"):
                if j == 0 and kind == "Z":
                    continue
                name = self.a_name(j) if kind == "A" else f"Z{j}"
                if name == prev:
                    continue
                what = "before the activation" if kind == "Z" else f"layer {j}'s output"
                what = "the input" if j == 0 else what
                out.append((rows[name].T @ dZ, f"it uses {name} ({what}) where {prev} belongs"))
        if dA is not None:
            out.append(
                (a_prev.T @ dA, f"it uses dA{l} where dZ{l} belongs (no activation derivative)")
            )
        return out


_ROLE = {"W": "weight", "dW": "weight", "b": "bias", "db": "bias"}
_LOSS = {
    "bce": "(A − Y) / (A · (1 − A)), over m",
    "cce": "−Y / A, over m",
    "mse": "2 · (A − Y), over m",
    "mae": "sign(A − Y), over m",
}
