"""The spec's building blocks that layer types share with the model (their home is
nnfix/engine/specs.py, which the engine imports without the spec package)."""

from nnfix.engine.specs import (
    ACTIVATIONS,
    INIT_EXAMPLES,
    ActivationSpec,
    InitName,
    InitSpec,
    Named,
    Strict,
    Weighted,
)

__all__ = [
    "ACTIVATIONS",
    "INIT_EXAMPLES",
    "ActivationSpec",
    "InitName",
    "InitSpec",
    "Named",
    "Strict",
    "Weighted",
]
