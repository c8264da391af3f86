"""Transitional: the spec entries the layer types derive from, whose home is now
nnfix/engine/specs.py (the engine must not load the spec package). Kept only so that layer
modules written against the PROTOCOL commit import; they should import nnfix.engine.specs, and
this file then goes."""

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
