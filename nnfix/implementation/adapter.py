"""The user's implementation seen through nnfix's eyes: parameters built from the spec's model
in the user's layout and names, their functions called with copies, and their results turned
back into nnfix's order [W1, b1, …] in the rows layout — or into findings when they do not fit."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import numpy as np

from nnfix.engine.network import Network
from nnfix.errors import ModuleError, Problem
from nnfix.implementation.binding import bind
from nnfix.spec.load import LoadedSpec
from nnfix.spec.model import ImplementationSpec
from nnfix.spec.usercode import RefError, UserCodeError, load_function, user_traceback


class UserCallError(Exception):
    """The user's function raised, or returned something nnfix cannot use."""

    def __init__(self, function: str, message: str, trace: str | None = None):
        super().__init__(message)
        self.function = function
        self.trace = trace


@dataclass
class Gradients:
    """The user's gradients matched to nnfix's parameters, and what did not match."""

    arrays: dict[str, np.ndarray]  # by nnfix name (W1, b1, …), in the user's layout
    missing: list[str]  # nnfix names with no gradient
    extra: list[str]  # user keys that look like gradients of parameters that do not exist


def _load(module, name: str, key: str):
    """The function `name` of the user's module; a RefError names the spec key that named it."""
    try:
        return load_function(module, name)
    except RefError as exc:
        raise RefError(str(exc), exc.hint, exc.key or key) from None


def load_implementation(loaded: LoadedSpec, network: Network) -> Implementation:
    """The spec's implementation; a module or name that cannot be loaded is a ModuleError at
    the spec key that names it."""
    try:
        return Implementation(loaded, network)
    except RefError as exc:
        problem = Problem(str(exc), path=("implementation", exc.key or "module"), hint=exc.hint)
        raise ModuleError([problem], loaded.source) from None
    except UserCodeError as exc:
        problem = Problem(str(exc), path=("implementation", "module"), detail=exc.trace)
        raise ModuleError([problem], loaded.source) from None


class Implementation:
    def __init__(self, loaded: LoadedSpec, network: Network):
        assert loaded.spec.implementation is not None
        self.spec: ImplementationSpec = loaded.spec.implementation
        self.depth = network.depth
        module = loaded.base_dir / self.spec.module
        self.forward_fn = _load(module, self.spec.forward, "forward")
        self.backward_fn = _load(module, self.spec.backward, "backward")
        self.loss_fn = _load(module, self.spec.loss, "loss") if self.spec.loss else None
        self.columns = self.spec.layout == "columns"
        names = self.spec.names
        self.key = {f"W{l}": names.weight.format(l=l) for l in range(1, self.depth + 1)}
        self.key |= {f"b{l}": names.bias.format(l=l) for l in range(1, self.depth + 1)}
        self.grad_key = {f"W{l}": names.grad_weight.format(l=l) for l in range(1, self.depth + 1)}
        self.grad_key |= {f"b{l}": names.grad_bias.format(l=l) for l in range(1, self.depth + 1)}

    # --- layouts ---------------------------------------------------------------------------

    def params(self, network: Network, dtype=np.float64) -> dict[str, np.ndarray]:
        """The user's params dict: columns W{l} (n_l, n_{l-1}), b{l} (n_l, 1); rows as nnfix."""
        return {
            self.key[name]: np.array(p.T if self.columns else p, dtype=dtype, order="C")
            for name, p in zip(network.names, network.params, strict=True)
        }

    def samples(self, a: np.ndarray) -> np.ndarray:
        """Inputs, targets or outputs in the user's layout (columns: one sample per column)."""
        return np.ascontiguousarray(a.T) if self.columns else a

    def to_rows(self, a: np.ndarray) -> np.ndarray:
        return a.T if self.columns else a

    # --- calls ------------------------------------------------------------------------------

    def _call(self, role: str, fn, values: dict, fallback: tuple[str, ...] = ()):
        args, kwargs = bind(fn, values, fallback)
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise UserCallError(
                role, f"{fn.__name__} raised {type(exc).__name__}: {exc}", user_traceback(exc)
            ) from None

    def forward(self, params: dict, X: np.ndarray) -> tuple[np.ndarray, object]:
        """(AL, cache) from the user's forward, which may return AL alone."""
        out = self._call("forward", self.forward_fn, {"params": params, "X": X}, ("params", "X"))
        AL, cache = (out[0], out[1]) if isinstance(out, tuple) and len(out) == 2 else (out, None)
        if not isinstance(AL, np.ndarray) or AL.dtype.kind != "f":
            got = "None" if AL is None else type(AL).__name__
            raise UserCallError(
                "forward",
                f"{self.forward_fn.__name__} returned {got}; expected AL (an array of floats) or (AL, cache)",
            )
        return AL, cache

    def backward(self, params: dict, X: np.ndarray, Y: np.ndarray, AL: np.ndarray, cache) -> dict:
        values = {"params": params, "X": X, "Y": Y, "AL": AL, "cache": cache}
        out = self._call("backward", self.backward_fn, values)
        if not isinstance(out, dict):
            got = "None (no return statement?)" if out is None else type(out).__name__
            raise UserCallError(
                "backward",
                f"{self.backward_fn.__name__} returned {got}; expected a dict of gradients such as {{'dW1': …, 'db1': …}}",
            )
        return out

    def loss(self, AL: np.ndarray, Y: np.ndarray, spec_loss) -> float:
        """The user's loss if they gave one, else the spec's on the same outputs."""
        if self.loss_fn is not None:
            value = self._call("loss", self.loss_fn, {"AL": AL, "Y": Y}, ("AL", "Y"))
            try:
                return float(np.squeeze(value))
            except (TypeError, ValueError):
                raise UserCallError(
                    "loss",
                    f"{self.loss_fn.__name__} returned {type(value).__name__}; expected a number",
                ) from None
        a, y = self.to_rows(AL), self.to_rows(Y)
        return spec_loss.value(a, a, y, None)

    def gradients(self, grads: dict) -> Gradients:
        """Match the user's gradient keys to nnfix's names (case-insensitively)."""
        lower = {str(k).lower(): k for k in grads}
        arrays, missing = {}, []
        for name, key in self.grad_key.items():
            if key.lower() in lower:
                arrays[name] = np.asarray(grads[lower[key.lower()]], dtype=np.float64)
            else:
                missing.append(name)
        patterns = [self.spec.names.grad_weight, self.spec.names.grad_bias]
        extra = []
        for k in grads:
            for pattern in patterns:
                match = re.fullmatch(
                    re.escape(pattern).replace(r"\{l\}", r"(\d+)"), str(k), flags=re.IGNORECASE
                )
                if match and not 1 <= int(match[1]) <= self.depth:
                    extra.append(str(k))
        return Gradients(arrays, missing, extra)

    def snapshot(self, params: dict) -> dict:
        return copy.deepcopy(params)
