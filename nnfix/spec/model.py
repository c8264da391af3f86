"""The spec's pydantic model: every key of SPEC §2, its defaults, and the JSON Schema."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from nnfix.engine import activations

SourceName = Literal[
    "xor",
    "moons",
    "circles",
    "spirals",
    "blobs",
    "linear",
    "images",
    "sequences",
    "text",
    "csv",
    "npz",
    "npy",
    "idx",
]
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
LossName = Literal["bce", "cce", "mse", "mae"]
OptimizerName = Literal["sgd", "momentum", "nesterov", "rmsprop", "adam"]
ScheduleName = Literal["constant", "step", "exponential", "inverse_time", "cosine"]

FILE_SOURCES = ("csv", "npz", "npy", "idx")
GENERATED_SOURCES = tuple(s for s in get_args(SourceName) if s not in FILE_SOURCES)
TOKEN_SOURCES = ("sequences", "text")  # inputs are token ids (samples, length), not features
SEQUENCE_TARGETS = ("next", "shifted", "label")  # data.target of source: sequences
TEXT_TARGETS = ("next", "shifted")  # ... of source: text
IMAGE_SHAPE = (1, 12, 12)  # source: images without `shape:`, (C, H, W)
VOCAB = 20  # source: sequences without `vocab:`
LENGTH = 10  # source: sequences or text without `length:`
MAX_TIMEOUT = 24 * 3600.0  # seconds: a day, beyond which a timer is not a timeout
ACTIVATIONS = activations.NAMES  # the built-ins, as registered in nnfix/engine/activations/


class _Strict(BaseModel):
    # no infinities or NaNs anywhere: `noise: .inf` or `low: -.inf` is never meant
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Named(_Strict):
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


class DataSpec(_Strict):
    source: SourceName
    samples: PositiveInt = 512
    noise: float = Field(0.1, ge=0)
    classes: int = Field(2, ge=2)
    features: PositiveInt = 2
    shape: list[PositiveInt] | None = Field(
        None, min_length=2, max_length=3, examples=[[1, 12, 12]]
    )
    """images: one sample's shape, [C, H, W] or [H, W, C] (or [H, W]); default [1, 12, 12]."""
    vocab: int | None = Field(None, ge=2, examples=[20])
    """sequences: how many distinct tokens (ids 0 to vocab - 1); default 20."""
    length: PositiveInt | None = Field(None, examples=[10])
    """sequences, text: tokens (characters) per sample; default 10."""
    path: str | None = None
    x: str | None = None
    y: str | None = None
    target: str | int | None = None
    """csv: the target column, by name or index (default: the last). sequences: next (the
    token that follows, default) | shifted (the sequence shifted by one: a target per step) |
    label (a class per sequence, `classes:` of them). text: next (default) | shifted."""
    scale: Literal["none", "standard", "minmax"] = "none"
    validation: float = Field(0.0, ge=0, lt=1)
    limit: PositiveInt | None = None

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.shape) if self.shape is not None else IMAGE_SHAPE

    @property
    def sequence_length(self) -> int:
        return self.length if self.length is not None else LENGTH

    @property
    def tokens(self) -> int:
        """sequences: the vocabulary's size."""
        return self.vocab if self.vocab is not None else VOCAB

    @property
    def target_mode(self) -> str:
        """sequences, text: what a sample's target is (next, shifted or label)."""
        return self.target if isinstance(self.target, str) else "next"


class InitSpec(_Named):
    name: InitName
    low: float = -0.05  # uniform
    high: float = 0.05  # uniform
    mean: float = 0.0  # normal
    std: float = Field(0.01, ge=0)  # normal
    value: float = 0.0  # constant

    @model_validator(mode="after")
    def _range(self) -> InitSpec:
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) must not be above high ({self.high:g})")
        if not math.isfinite(self.high - self.low):
            raise ValueError(f"the range {self.low:g} to {self.high:g} is too wide to draw from")
        return self


class ActivationSpec(_Named):
    name: str  # a built-in, an expression in z, or file.py:function
    derivative: str | None = None  # the derivative the user's backward pass uses
    derivative_of: Literal["z", "a"] | None = (
        None  # what it is given; default: the variable it names
    )
    alpha: float | None = None  # leaky_relu slope (0.01), elu scale (1.0)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        schema = handler(core_schema)
        return {"anyOf": [{"type": "string", "examples": list(ACTIVATIONS)}, schema]}


class LayerSpec(_Strict):
    units: PositiveInt
    activation: ActivationSpec
    init: InitSpec | None = None  # default: model.init
    bias_init: InitSpec | None = None  # default: model.bias_init
    bias: bool | None = None  # false: this layer has no bias; default: model.bias


class ModelSpec(_Strict):
    init: InitSpec = InitSpec(name="he_normal")
    bias_init: InitSpec = InitSpec(name="zeros")
    bias: bool = True  # false: no layer has a bias (a layer's own `bias:` overrides it)
    layers: list[LayerSpec] = Field(min_length=1)


class LossSpec(_Named):
    name: LossName
    gradient: str | None = None  # the dL/da (or dL/dz) the user's code uses
    gradient_of: Literal["a", "z"] = "a"
    reduction: Literal["mean", "sum"] = "mean"
    scale: PositiveFloat = 1.0  # a constant factor: 0.5 for the quadratic cost ½‖a − y‖²


class OptimizerSpec(_Named):
    name: OptimizerName
    momentum: float = Field(0.9, ge=0, lt=1)  # momentum, nesterov
    rho: float = Field(0.9, ge=0, lt=1)  # rmsprop
    beta1: float = Field(0.9, ge=0, lt=1)  # adam
    beta2: float = Field(0.999, ge=0, lt=1)  # adam
    eps: PositiveFloat = 1e-8  # rmsprop, adam


class ScheduleSpec(_Named):
    name: ScheduleName
    factor: PositiveFloat = 0.5  # step
    every: PositiveInt | Literal["epoch", "step"] | None = None  # one tick of t; step: 10 epochs
    gamma: PositiveFloat = 0.99  # exponential
    decay: float = Field(1.0, ge=0)  # inverse_time
    min_lr: float = Field(0.0, ge=0)  # cosine


class TrainSpec(_Strict):
    optimizer: OptimizerSpec = OptimizerSpec(name="sgd")
    lr: PositiveFloat = 0.1
    schedule: ScheduleSpec = ScheduleSpec(name="constant")
    epochs: PositiveInt = 100
    batch_size: PositiveInt | Literal["full"] = 32
    l2: float = Field(0.0, ge=0)
    dtype: Literal["float32", "float64"] = "float32"


class GradcheckSpec(_Strict):
    mode: Literal["auto", "full", "directional", "sampled"] = "auto"
    eps: PositiveFloat = 1e-6
    samples: PositiveInt = 16


class DiagnoseSpec(_Strict):
    fail_on: Literal["error", "warning", "info", "never"] = "error"
    ignore: list[str] = []
    select: list[str] = []
    budget: PositiveFloat = 10.0
    gradcheck: GradcheckSpec = GradcheckSpec()


def _template(text: str | None) -> str | None:
    """A name or path template: only {l} (layers from 1) and {i} (from 0) are filled in."""
    if text is not None:
        try:
            text.format(l=1, i=0)
        except (IndexError, KeyError, ValueError) as exc:
            raise ValueError(
                f"{text!r} is not a template nnfix can fill in ({type(exc).__name__}: {exc}); "
                "use {l} for the layer counted from 1 and {i} from 0, as in 'W{l}'"
            ) from None
    return text


Template = Annotated[str, AfterValidator(_template)]


class NamesSpec(_Strict):
    """The earlier form of params/grads, still accepted."""

    weight: Template = "W{l}"
    bias: Template = "b{l}"
    grad_weight: Template = "dW{l}"
    grad_bias: Template = "db{l}"


class PathsSpec(_Strict):
    """Where each layer's weight and bias are: keys of the params dict ("W{l}") or paths on the
    object ("weights[{i}]", "params['W{l}']", "layers[{i}].weights"); {l} counts layers from 1,
    {i} from 0."""

    weight: Template | None = None
    bias: Template | None = None


class ImplementationSpec(_Strict):
    """The user's own code (SPEC §3): module functions (A), an object (B) or layer objects (C)."""

    module: str  # a .py file or a .ipynb notebook, relative to the spec
    forward: str | None = (
        None  # A: a function; B: a method (optional: the spec's model is the truth)
    )
    backward: str | None = None  # A: a function; B: a method
    loss: str | None = None  # A/B: a function or method; C: a loss object's call
    model: str | None = None  # B: a call of a class in the module, literal arguments, X/Y for data
    layers: list[str] | None = None  # C: calls of layer classes, chained in order
    layout: Literal["auto", "columns", "rows"] = "auto"
    params: PathsSpec | None = None
    grads: PathsSpec | None = None
    names: NamesSpec | None = None  # the earlier form of params/grads
    arguments: dict[str, Any] = {}  # parameter -> X, Y, params, cache, output, or a literal
    output: str | None = None  # where a forward that returns None leaves its result
    per_sample: bool | Literal["column", "vector"] = False
    update_lr: PositiveFloat | None = None  # step size of a backward that updates in place
    timeout: float = Field(30.0, gt=0, le=MAX_TIMEOUT)  # seconds one call of theirs may take
    run_module: bool = False  # import the module whole, top-level statements included
    cells: list[NonNegativeInt] | None = None  # notebooks: the code cells to use
    init: Literal["spec", "yours"] = "spec"  # yours: keep the values the user's code created

    @property
    def shape(self) -> str:
        return "layers" if self.layers else "object" if self.model else "functions"


def has_bias(model: ModelSpec, layer: LayerSpec) -> bool:
    return model.bias if layer.bias is None else layer.bias


class Spec(_Strict):
    """A whole nnfix spec file."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        title="nnfix spec",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            # model and loss may be left out only where the user's code is the network (§3.1)
            "if": {"not": {"required": ["implementation"]}},
            "then": {"required": ["model", "loss"]},
        },
    )

    name: str | None = None  # default: the file's stem
    seed: NonNegativeInt = 0  # as NumPy's generators take it
    data: DataSpec
    model: ModelSpec | None = None  # optional with implementation: (SPEC §3.1)
    loss: LossSpec | None = None  # optional where the code computes its own loss
    train: TrainSpec = TrainSpec()
    diagnose: DiagnoseSpec = DiagnoseSpec()
    implementation: ImplementationSpec | None = None

    @property
    def net_model(self) -> ModelSpec:
        """The declared network, on the paths that build one (a spec without `model:` has
        `implementation:` and is diagnosed as the user's own network, SPEC §3.1)."""
        if self.model is None:
            raise LookupError("this spec declares no model: its network is the user's code")
        return self.model

    @property
    def net_loss(self) -> LossSpec:
        """The declared loss, on the paths that need one (without `loss:`, the user's own)."""
        if self.loss is None:
            raise LookupError("this spec declares no loss: the user's code computes its own")
        return self.loss
