"""Layer types, one module each, registered once in LAYERS below; the spec's `type:` (default
dense) is a key of LAYERS, and each type's `Spec` is its entry's model. A type added from
elsewhere (a test, a plugin) is one `register(cls)` call: the spec's model follows."""

from collections.abc import Callable

from nnfix.engine.layers import (
    avgpool2d,
    batchnorm,
    conv2d,
    dense,
    dropout,
    flatten,
    lstm,
    maxpool2d,
    rnn,
)
from nnfix.engine.layers.dense import Dense
from nnfix.engine.layers.layer import Layer, LayerActivation, Param, Slot

__all__ = ["LAYERS", "Dense", "Layer", "LayerActivation", "Param", "Slot", "register"]

LAYERS: dict[str, type[Layer]] = {
    "dense": dense.Dense,
    "flatten": flatten.Flatten,
    "dropout": dropout.Dropout,
    "conv2d": conv2d.Conv2d,
    "maxpool2d": maxpool2d.MaxPool2d,
    "avgpool2d": avgpool2d.AvgPool2d,
    "batchnorm": batchnorm.BatchNorm,
    "rnn": rnn.RNN,
    "lstm": lstm.LSTM,
}

_listeners: list[Callable[[], None]] = []  # what follows the registry (the spec's model)


def register(layer_type: type[Layer]) -> None:
    """Add (or replace) a layer type under its `type` name; the spec accepts it from now on."""
    LAYERS[layer_type.type] = layer_type
    _changed()


def unregister(name: str) -> None:
    """Remove a layer type (a test's own, when the test ends)."""
    LAYERS.pop(name, None)
    _changed()


def on_change(listener: Callable[[], None]) -> None:
    """Call `listener` whenever the registry changes."""
    _listeners.append(listener)


def _changed() -> None:
    for listener in _listeners:
        listener()
