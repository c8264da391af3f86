"""The spec entries the engine's own parts are built from — the strict base every entry derives
from, a named choice, an init, an activation, the keys every layer type with weights shares —
here, in the engine, so a layer type derives its spec without the engine importing the spec
package (which reads the registry)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nnfix.engine import activations

InitName = Literal[
    "zeros",
    "constant",
    "uniform",
    "normal",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
]
ACTIVATIONS = activations.NAMES  # the built-ins, as registered in nnfix/engine/activations/


class Strict(BaseModel):
    # no infinities or NaNs anywhere: `noise: .inf` or `low: -.inf` is never meant; each key's
    # docstring is its description in `nnfix schema` (an editor's hover), SPEC §2's comment
    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True
    )


class Named(Strict):
    """A choice written either as its name or as a mapping {name: …, option: …}."""

    name: str

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        schema = handler(core_schema)
        name = cls.model_fields["name"].annotation
        choices = list(getattr(name, "__args__", ()))
        short = {"type": "string", "enum": choices} if choices else {"type": "string"}
        return {"anyOf": [short, schema]}


class InitSpec(Named):
    """An init: its name, or a mapping {name: uniform, low: 0, high: 1} / {name: normal,
    std: 0.01} / {name: constant, value: 0.5}."""

    name: InitName
    """zeros | constant | uniform | normal | xavier_uniform | xavier_normal | he_uniform |
    he_normal | lecun_normal."""
    low: float = Field(-0.05, examples=[0])
    """uniform: the lowest value drawn."""
    high: float = Field(0.05, examples=[1])
    """uniform: the end of the range drawn from (not drawn itself)."""
    mean: float = 0.0
    """normal: the mean."""
    std: float = Field(0.01, ge=0)
    """normal: the standard deviation."""
    value: float = Field(0.0, examples=[0.5])
    """constant: every value."""

    @model_validator(mode="after")
    def _range(self) -> InitSpec:
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) must not be above high ({self.high:g})")
        if not math.isfinite(self.high - self.low):
            raise ValueError(f"the range {self.low:g} to {self.high:g} is too wide to draw from")
        return self


INIT_EXAMPLES = [
    "he_normal",
    {"name": "uniform", "low": 0, "high": 1},
    {"name": "normal", "std": 0.01},
    {"name": "constant", "value": 0.5},
]


class ActivationSpec(Named):
    """An activation: its name, or a mapping with the math your code uses."""

    name: str = Field(examples=["tanh", "maximum(z, 0.01*z)", "acts.py:my_tanh"])
    """The function in the forward pass: a built-in (sigmoid | tanh | relu | leaky_relu | elu |
    softplus | swish | linear | softmax, last layer only), an expression in z, or
    file.py:function."""
    derivative: str | None = Field(None, examples=["1 - z**2", "a * (1 - a)"])
    """The derivative your backward pass uses: an expression in z or a, or file.py:function."""
    derivative_of: Literal["z", "a"] | None = Field(None, examples=["z"])
    """What your derivative is given: z (the pre-activation) or a (the activation's output);
    default: the variable it names."""
    alpha: float | None = Field(None, examples=[0.01])
    """leaky_relu's slope (default 0.01), elu's scale (default 1.0)."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        schema = handler(core_schema)
        return {"anyOf": [{"type": "string", "examples": list(ACTIVATIONS)}, schema]}


class Weighted(Strict):
    """The keys every layer type with weights shares (dense, conv2d, rnn...): its own init,
    bias init and bias where they differ from the model's. A layer type's spec derives from it
    (or from Strict where it has no weights) and starts with `type: Literal["<type>"]`."""

    init: InitSpec | None = Field(None, examples=[{"name": "uniform", "low": 0, "high": 1}])
    """This layer's weight init (default: model.init)."""
    bias_init: InitSpec | None = None
    """This layer's bias init (default: model.bias_init)."""
    bias: bool | None = None
    """false: this layer has no bias (default: model.bias)."""
