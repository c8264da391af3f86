"""What every layer type shares: the activation the network applies after it, its parameters'
facts (Param), the slots a net names them by, and the `Layer` protocol a type implements —
everything any pass (training, gradient check, init and unit rules, line tracer) needs to know
about it. A layer type is one module of `nnfix/engine/layers/` plus its line in `LAYERS`."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
from pydantic import BaseModel

from nnfix.engine.activations import Activation
from nnfix.engine.specs import InitSpec

Array = np.ndarray
Shape = tuple[int, ...]  # one sample's shape: (features,), (C, H, W), (T, features)


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
class Param:
    """What a pass needs to know about one parameter of a layer type."""

    name: (
        str  # layer-local: 'W', 'b', 'gamma', 'beta', 'Wx', 'Wh' (the net's slot: f"{name}{layer}")
    )
    role: str  # 'weight' | 'bias' | 'scale' | 'shift' | 'recurrent'
    unit_axis: int  # the axis indexing units: dense W (n_in, n_out): 1; conv W (F, C, k, k): 0
    l2: bool  # weight decay applies
    symmetric: bool  # the symmetry and zero-init rules apply (units that start equal stay equal)


@dataclass(frozen=True)
class Slot:
    """One parameter tensor of the net: its name (W1, b1), its layer (from 1), its role and, for
    the engine's own layers, the facts of its type (`param`; None for a user's code tensor)."""

    name: str
    layer: int
    role: str  # as Param.role
    param: Param | None = None


@dataclass(frozen=True)
class Kinks:
    """Where a layer's own function has no derivative (max-pool ties), for the gradient check:
    `pattern` is the discrete choice every output made (two evaluations whose patterns differ
    straddle a kink, their difference says nothing), `margin` per sample how far the input is
    from changing that choice (a sample closer than the check's step is left out)."""

    pattern: Array  # integers, any shape (max-pool: the argmax of every window)
    margin: Array  # (batch,): the distance to the nearest kink, in input units


@dataclass(frozen=True)
class Mistake:
    """A usual mistake in this type's backward, for the line tracer: its words and the
    gradients the mistaken backward gives, (dout, cache) -> (grads, dx) as `Layer.backward`."""

    words: str  # "the bias gradient is not summed over the samples"
    backward: Callable[[Any, Array, object], tuple[list[Array], Array]]  # (layer, dout, cache)


class ShapeError(ValueError):
    """A layer spec that cannot take the input shape it is given: build reports it as a spec
    error at `key` of that layer (None: the layer itself), e.g. a dense layer on (C, H, W)."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


class Layer(Protocol):
    """One layer type. Samples are along axis 0 of every array it is given; shapes it is told
    (`in_shape`, `output_shape`) are one sample's. `forward` and `backward` are pure: the
    network keeps each layer's cache, and running statistics change only by `update_buffers`,
    so a gradient check in train mode sees them frozen."""

    type: ClassVar[str]  # 'dense', 'conv2d', ...: the registry key and the spec's `type:`
    Spec: ClassVar[
        builtins.type[BaseModel]
    ]  # its spec entry's pydantic model, `type: Literal["<type>"]` first
    mistakes: ClassVar[tuple[Mistake, ...]]  # its usual backward mistakes (may be empty)
    random: ClassVar[bool]  # forward draws from `rng` in train mode (dropout); Base: False

    @property
    def act(self) -> LayerActivation | None:
        """What the NETWORK applies to forward's output (None: nothing; rnn and lstm apply
        theirs inside). A plain attribute in a type."""
        ...

    @property
    def activation(self) -> LayerActivation | None:
        """The elementwise function the layer's spec names, wherever it is applied — the one a
        declared derivative is of and the init, saturation and dead-unit rules read: `act` for
        most types, the cell for rnn (applied inside each step); None for a type with none.
        Base: `act`."""
        ...

    def activation_input(self, out: Array, cache: object) -> Array:
        """The values `activation` was applied to on the pass that gave `out` (its z), batch
        first: `out` itself where the network applies `act` to it; the rnn's z of every step
        (batch, T, units). Base: `out`."""
        ...

    def unit_axis(self, ndim: int) -> int:
        """The axis that indexes units in a batch-first array of `ndim` axes this layer outputs
        (or its `activation_input`): a dense unit, a conv filter's channel, a sequence's
        feature. Base: `unit_axis` below (1, but the last for (batch, T, features))."""
        ...

    @classmethod
    def build(
        cls,
        spec: Any,
        in_shape: Shape,
        act: LayerActivation | None,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> Layer:
        """A new layer of `spec` (an instance of `Spec`) on inputs of `in_shape`, initialised
        from `rng` (weights by `init`, the bias by `bias_init`; None: no bias); `act` is built
        from the spec's `activation` where it has one (None where it has none). ShapeError for
        an input it cannot take."""
        ...

    def output_shape(self, in_shape: Shape) -> Shape:
        """One sample's output shape for one sample's input shape."""
        ...

    def fans(self, in_shape: Shape) -> tuple[int, int]:
        """(fan_in, fan_out) of its weights, as the init schemes read them ((1, 1): none)."""
        ...

    def params(self) -> list[Array]:
        """Its parameter arrays, in the order of `param_info`."""
        ...

    def param_info(self) -> list[Param]:
        """The facts of each of its parameters, aligned with `params`."""
        ...

    def buffers(self) -> dict[str, Array]:
        """Its running statistics (batchnorm's mean and variance); {} for most types."""
        ...

    def with_params(self, params: list[Array]) -> Layer:
        """The same layer (activation, options) holding `params` instead, with its own copy of
        the buffers (a copy of a net trains without moving the original's statistics)."""
        ...

    def forward(
        self, x: Array, train: bool, rng: np.random.Generator | None = None
    ) -> tuple[Array, object]:
        """x (batch, *in_shape) -> (out, cache): out (batch, *output_shape) is what the network
        applies `act` to. `train` says training (dropout drops, batchnorm uses the batch's
        statistics); `rng` is the generator a random layer draws from, given by the network
        from its seed so the same seed gives the same mask (None: none drawn, as in eval)."""
        ...

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        """dL/dout (before `act`) -> (the gradients aligned with `params`, dL/dx; None when not
        `need_dx`: the first layer's is never used). dx must be an array the network may scale
        in place: never one of the grads, a parameter or a cached array."""
        ...

    def update_buffers(self, cache: object) -> None:
        """After a training step: fold the pass's statistics into the buffers (in place)."""
        ...

    def kinks(self, cache: object) -> Kinks | None:
        """Where its own function (not `act`, whose kinks the network knows) has no
        derivative on this pass; None for a smooth type."""
        ...


def unit_axis(ndim: int) -> int:
    """The axis of a batch-first array in the engine's layouts that indexes units: channels of
    images (N, C, H, W), features of sequences (N, T, features), units of flat samples (N, n)."""
    return 2 if ndim == 3 else 1


def by_unit(values: Array, axis: int) -> Array:
    """`values` as (observations, units): the unit axis last, every other (samples, positions,
    steps) flattened, so a conv filter is one unit seen at every position of every sample."""
    moved = np.moveaxis(values, axis, -1)
    return moved.reshape(-1, moved.shape[-1])


class Base:
    """Defaults for the protocol members most types need none of: no buffers, no kinks, no
    known mistakes, fans (1, 1), the activation the network applies after it. A type overrides
    what it has."""

    mistakes: ClassVar[tuple[Mistake, ...]] = ()
    random: ClassVar[bool] = False

    @property
    def activation(self) -> LayerActivation | None:
        return getattr(self, "act", None)

    def activation_input(self, out: Array, cache: object) -> Array:
        return out

    def unit_axis(self, ndim: int) -> int:
        return unit_axis(ndim)

    def fans(self, in_shape: Shape) -> tuple[int, int]:
        return 1, 1

    def buffers(self) -> dict[str, Array]:
        return {}

    def update_buffers(self, cache: object) -> None:
        return None

    def kinks(self, cache: object) -> Kinks | None:
        return None
