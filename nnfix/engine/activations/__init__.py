"""The built-in activations, one module each, registered once in BUILTINS below."""

from __future__ import annotations

from collections.abc import Callable

from nnfix.engine.activations import (
    elu,
    leaky_relu,
    linear,
    relu,
    sigmoid,
    softmax,
    softplus,
    swish,
    tanh,
)
from nnfix.engine.activations.activation import Activation, logistic

__all__ = ["BUILTINS", "NAMES", "Activation", "get", "logistic", "takes_alpha"]

BUILTINS: dict[str, Callable[..., Activation]] = {
    module.build().name: module.build
    for module in (sigmoid, tanh, relu, leaky_relu, elu, softplus, swish, linear, softmax)
}
NAMES = tuple(BUILTINS)


def get(name: str, alpha: float | None = None) -> Activation:
    """The built-in activation `name` (leaky_relu and elu take their slope `alpha`)."""
    return BUILTINS[name](alpha)


def takes_alpha(name: str) -> bool:
    return BUILTINS[name]().alpha is not None
