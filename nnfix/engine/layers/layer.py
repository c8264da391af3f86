"""What every layer type shares: the activation it applies (the true function and the
derivative backward uses), the parameter slots it names, and the interface the Network
chains layers through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from nnfix.engine.activations import Activation
from nnfix.spec.model import InitSpec

Array = np.ndarray


@dataclass(frozen=True)
class LayerActivation:
    """What one layer computes: the true forward function and the derivative backward uses."""

    name: str  # as the spec writes it: 'tanh', 'z * sigmoid(z)', 'acts.py:gelu'
    forward: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array] | None  # (z, a) -> da/dz; None for softmax
    builtin: Activation | None = None  # the built-in the forward pass is, if it is one
    declared: bool = False  # the derivative is the user's, not the true one

    @property
    def builtin_name(self) -> str | None:
        return self.builtin.name if self.builtin is not None else None


@dataclass(frozen=True)
class Slot:
    """One parameter tensor of the net: its name (W1, b1), its layer (from 1) and its role."""

    name: str
    layer: int
    role: str  # "weight" | "bias"


class Layer(Protocol):
    """A layer in the rows layout: samples along axis 0."""

    W: Array  # its weight matrix (n_in, n_out): what init, update-ratio and symmetry rules read
    b: Array | None  # its bias (1, n_out), if it has one
    act: LayerActivation

    @classmethod
    def build(
        cls,
        n_in: int,
        n_out: int,
        act: LayerActivation,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> Layer:
        """A new layer, initialised from `rng` (no bias when `bias_init` is None)."""
        ...

    def params(self) -> list[Array]:
        """Its parameter arrays, in the order of `slots`."""
        ...

    def slots(self, layer: int) -> list[Slot]:
        """Names and roles of its parameters, as layer `layer` (from 1) of a net."""
        ...

    def with_params(self, params: list[Array]) -> Layer:
        """The same layer holding `params` instead."""
        ...

    def forward(self, a_prev: Array) -> tuple[Array, Array]:
        """(z, a) from the layer below's output."""
        ...

    def backward(
        self, dZ: Array, a_prev: Array, need_input: bool
    ) -> tuple[list[Array], Array | None]:
        """Its parameter gradients (in the order of `params`) from its dL/dz, and dL/da of the
        layer below when `need_input`."""
        ...
