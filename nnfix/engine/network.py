"""A chain of layers: forward keeps each layer's cache, its output z and its activation a;
backward hands each layer its dL/dz and applies the layer below's *declared* derivative, so a
spec with the user's wrong derivative trains as their code does.

Parameters are addressed through slots (name, layer, role, the type's facts), never by
position arithmetic, so a layer may have no bias and another layer type its own parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nnfix.engine import activations
from nnfix.engine.layers import Dense, Layer, LayerActivation, Slot
from nnfix.engine.layers.layer import Shape, by_unit
from nnfix.engine.losses import Loss

Array = np.ndarray
__all__ = ["LINEAR", "Cache", "Dense", "LayerActivation", "Network", "Slot"]

_linear = activations.get("linear")
LINEAR = LayerActivation("linear", _linear.fn, _linear.derivative, _linear)
"""What a layer that the network applies no activation to (flatten, dropout) is read as."""


@dataclass
class Cache:
    """What the backward pass needs: the input, each layer's z (its output before the network's
    activation) and a (after it), and each layer's own cache."""

    x: Array
    z: list[Array]
    a: list[Array]
    user: object = None  # what the user's own forward returned, for their backward
    layers: list[object] = field(default_factory=list)  # each layer's forward cache


class Network:
    """Layers from the input up, samples along axis 0: x (samples, *in_shape)."""

    def __init__(self, layers: list[Layer], in_shape: Shape | None = None):
        self.layers = layers
        if in_shape is None:  # a stack of dense layers: their first weight says it
            in_shape = (layers[0].params()[0].shape[0],)
        self.in_shape = tuple(in_shape)
        self.shapes = [self.in_shape]  # one sample's shape at the input and after each layer
        for layer in layers:
            self.shapes.append(tuple(layer.output_shape(self.shapes[-1])))
        self.slots = [
            Slot(f"{p.name}{l}", l, p.role, p)
            for l, layer in enumerate(layers, start=1)
            for p in layer.param_info()
        ]
        self.params = [p for layer in layers for p in layer.params()]  # updated in place
        self.weight_index = [i for i, s in enumerate(self.slots) if s.role == "weight"]
        self.l2_index = [i for i, s in enumerate(self.slots) if s.param is not None and s.param.l2]

    @classmethod
    def dense(
        cls,
        weights: list[Array],
        biases: list[Array | None],
        activations: list[LayerActivation],
    ) -> Network:
        """A stack of dense layers from their weights, biases (None: no bias) and activations."""
        return cls(
            [Dense(W, b, act) for W, b, act in zip(weights, biases, activations, strict=True)]
        )

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def dense_only(self) -> bool:
        """Every layer is dense: what the rules reading W (n_in, n_out) per layer need."""
        return all(isinstance(layer, Dense) for layer in self.layers)

    @property
    def dense_layers(self) -> list[Dense]:
        """The layers as the dense layers they are, for what reads W and b (a dense stack)."""
        assert self.dense_only, "a dense stack only"
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.slots]

    @property
    def activations(self) -> list[LayerActivation]:
        """Each layer's activation as its type answers it (`Layer.activation`: the rnn's cell,
        applied inside it), LINEAR for a layer with none. Read with `preactivations`, its z."""
        return [act if (act := layer.activation) is not None else LINEAR for layer in self.layers]

    def preactivations(self, cache: Cache) -> list[Array]:
        """What each layer's activation was applied to on the pass of `cache`, batch first."""
        return [
            layer.activation_input(z, own)
            for layer, z, own in zip(self.layers, cache.z, cache.layers, strict=True)
        ]

    def by_unit(self, l: int, values: Array) -> Array:
        """Layer l's (from 1) output or preactivations as (observations, units), its type's
        unit axis last: a conv filter is one unit over every position of every sample."""
        return by_unit(values, self.layers[l - 1].unit_axis(values.ndim))

    @property
    def weights(self) -> list[Array]:
        """The weight tensors, from the input up (one per layer in a dense stack)."""
        return [self.params[i] for i in self.weight_index]

    @property
    def sizes(self) -> list[int]:
        """The width of the input and of each layer's output (values per sample)."""
        return [math.prod(shape) for shape in self.shapes]

    @property
    def weight_layers(self) -> list[int]:
        """The layer (from 1) of each weight tensor, aligned with `weights`."""
        return [self.slots[i].layer for i in self.weight_index]

    def weight_of(self, layer: int) -> int | None:
        """Where layer `layer`'s (from 1) weight tensor is in `weights` (None: it has none)."""
        layers = self.weight_layers
        return layers.index(layer) if layer in layers else None

    def units(self, k: int, tensor: Array | None = None) -> Array:
        """Weight tensor k of `weights` (or `tensor` shaped like it, e.g. its gradient) as a
        (values per unit, units) matrix: its type's unit axis last, the rest flattened, so a
        dense W is itself and a conv filter bank (F, C, kh, kw) is (C·kh·kw, F)."""
        slot = self.slots[self.weight_index[k]]
        W = self.params[self.weight_index[k]] if tensor is None else tensor
        axis = slot.param.unit_axis if slot.param is not None else W.ndim - 1
        moved = np.moveaxis(W, axis, -1)
        return moved.reshape(-1, moved.shape[-1])

    def weight_grads(self, grads: list[Array]) -> list[Array]:
        """The weight gradient of each layer, from a list aligned with `params`."""
        return [grads[i] for i in self.weight_index]

    def with_params(self, params: list[Array]) -> Network:
        """The same layers and activations holding `params` (aligned with `self.params`)."""
        layers, i = [], 0
        for layer in self.layers:
            n = len(layer.params())
            layers.append(layer.with_params(params[i : i + n]))
            i += n
        return Network(layers, self.in_shape)

    def copy(self) -> Network:
        return self.with_params([p.copy() for p in self.params])

    def astype(self, dtype) -> Network:
        return self.with_params([p.astype(dtype) for p in self.params])

    def forward(
        self,
        x: Array,
        start: int = 0,
        below: Cache | None = None,
        train: bool = False,
        seed: int = 0,
    ) -> Cache:
        """z and a of every layer; from layer `start` on, taking the layers under it from `below`.
        `train`: the training pass (dropout drops, from generators seeded by `seed` and the
        layer, so the same seed gives the same masks)."""
        if start and below is not None:
            cache = Cache(x, below.z[:start], below.a[:start], layers=below.layers[:start])
            a = cache.a[-1]
        else:  # rows of flat features are reshaped to the sample's shape (a view)
            a = x.reshape(len(x), *self.in_shape) if x.shape[1:] != self.in_shape else x
            cache = Cache(x, [], [])
        for l in range(start, self.depth):
            layer = self.layers[l]
            rng = np.random.default_rng([seed, l]) if train and layer.random else None
            z, own = layer.forward(a, train, rng)
            a = layer.act.forward(z) if layer.act is not None else z
            cache.z.append(z)
            cache.a.append(a)
            cache.layers.append(own)
        return cache

    def predict(self, x: Array) -> Array:
        return self.forward(x).a[-1]

    def backward(
        self, cache: Cache, dZ: Array, handed: dict[int, Array] | None = None
    ) -> list[Array]:
        """The gradients, aligned with `params`, from the output layer's dL/dz, through each
        layer's declared derivative. `handed`, if given, receives what each layer's backward
        hands down, dL/dx of its input, by its layer (from 2: the first's is not computed)."""
        per_layer: list[list[Array]] = [[] for _ in self.layers]
        for l in range(self.depth - 1, -1, -1):
            per_layer[l], dA = self.layers[l].backward(dZ, cache.layers[l], l > 0)
            if l == 0:
                break
            assert dA is not None
            if handed is not None:
                handed[l + 1] = dA.copy()
            below = self.layers[l - 1].act
            if below is not None:
                assert below.derivative is not None  # only an output layer (softmax) has none
                dA *= below.derivative(cache.z[l - 1], cache.a[l - 1])  # in place: dA is fresh
            dZ = dA
        return [g for grads in per_layer for g in grads]

    def update_buffers(self, cache: Cache) -> None:
        """After a training step: each layer folds the pass's statistics into its buffers."""
        for layer, own in zip(self.layers, cache.layers, strict=True):
            layer.update_buffers(own)

    def output_delta(self, cache: Cache, y: Array, loss: Loss) -> Array:
        out = self.layers[-1].act or LINEAR
        return loss.delta(
            cache.z[-1], cache.a[-1], y, out.builtin_name, out.derivative, out.declared
        )

    def loss(self, cache: Cache, y: Array, loss: Loss, l2: float = 0.0) -> float:
        out = self.layers[-1].act or LINEAR
        value = loss.value(cache.z[-1], cache.a[-1], y, out.builtin_name)
        if l2:
            value += (
                0.5
                * l2
                * sum(float(np.sum(w * w)) for w in (self.params[i] for i in self.l2_index))
            )
        return value

    def loss_and_grads(
        self, x: Array, y: Array, loss: Loss, l2: float = 0.0, seed: int = 0
    ) -> tuple[float, list[Array], Cache]:
        """One training forward (masks from `seed`) and backward pass: the loss, the gradients
        (aligned with `params`) and the cache."""
        cache = self.forward(x, train=True, seed=seed)
        value = self.loss(cache, y, loss, l2)
        grads = self.backward(cache, self.output_delta(cache, y, loss))
        if l2:
            for i in self.l2_index:
                grads[i] += l2 * self.params[i]
        return value, grads, cache
