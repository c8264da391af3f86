"""The spec's pydantic model: every key of SPEC §2, its defaults, and the JSON Schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

from pydantic import (
    AfterValidator,
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Tag,
)

from nnfix.engine.layers import LAYERS, dense, on_change
from nnfix.engine.specs import ACTIVATIONS as ACTIVATIONS  # re-exported for the spec's readers
from nnfix.engine.specs import INIT_EXAMPLES, InitSpec, Weighted
from nnfix.engine.specs import InitName as InitName
from nnfix.engine.specs import Named as _Named
from nnfix.engine.specs import Strict as _Strict

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


class DataSpec(_Strict):
    """Where the samples come from: a generated set or a file."""

    source: SourceName = Field(examples=["moons", "images", "csv"])
    """xor | moons | circles | spirals | blobs | linear (generated, 2-D); images | sequences |
    text (generated, SPEC §3.1); csv | npz | npy | idx (files; npz/npy of any rank)."""
    samples: PositiveInt = 512
    """Generated sources: how many samples."""
    noise: float = Field(0.1, ge=0)
    """Generated sources: the noise added to the points."""
    classes: int = Field(2, ge=2)
    """spirals, blobs, images, sequences (target: label): how many classes."""
    features: PositiveInt = 2
    """blobs, linear: how many input features."""
    shape: list[PositiveInt] | None = Field(
        None, min_length=2, max_length=3, examples=[[1, 12, 12]]
    )
    """images: one sample's shape, [C, H, W] or [H, W, C] (or [H, W]); default [1, 12, 12]."""
    vocab: int | None = Field(None, ge=2, examples=[20])
    """sequences: how many distinct tokens (ids 0 to vocab - 1); default 20."""
    length: PositiveInt | None = Field(None, examples=[10])
    """sequences, text: tokens (characters) per sample; default 10."""
    path: str | None = Field(None, examples=["train.csv"])
    """csv/npz: the file, relative to the spec. npy/idx: use x and y instead."""
    x: str | None = Field(None, examples=["images.idx"])
    """npy/idx: the inputs' file; npz: the key of the inputs (default "x")."""
    y: str | None = Field(None, examples=["labels.idx"])
    """npy/idx: the targets' file; npz: the key of the targets (default "y")."""
    target: str | int | None = Field(None, examples=["label", "next"])
    """csv: the target column, by name or index (default: the last). sequences: next (the
    token that follows, default) | shifted (the sequence shifted by one: a target per step) |
    label (a class per sequence, `classes:` of them). text: next (default) | shifted."""
    scale: Literal["none", "standard", "minmax"] = "none"
    """none | standard | minmax (none by default, so unscaled data can be diagnosed)."""
    validation: float = Field(0.0, ge=0, lt=1)
    """The fraction of the samples held out for validation."""
    limit: PositiveInt | None = None
    """Use only the first N samples."""

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


def _layer_union() -> Any:
    """Every registered layer type's spec, told apart by `type:` (SPEC §2)."""
    specs = tuple(Annotated[t.Spec, Tag(name)] for name, t in LAYERS.items())
    return Annotated[Union[specs], Discriminator(lambda v: _layer_type(v))]  # noqa: UP007


def _layer_type(value: Any) -> str | None:
    """A layer entry's type: its `type:` (default dense)."""
    if isinstance(value, dict):
        return value.get("type", "dense")
    return getattr(value, "type", None)


if TYPE_CHECKING:
    LayerSpec = Any
else:
    LayerSpec = _layer_union()  # one entry of model.layers, of any registered type
DenseSpec = dense.DenseSpec


class ModelSpec(_Strict):
    """The network: its layers from the input to the output, and their init."""

    init: InitSpec = Field(InitSpec(name="he_normal"), examples=INIT_EXAMPLES)
    """The weights' init, for every layer without its own."""
    bias_init: InitSpec = Field(InitSpec(name="zeros"), examples=INIT_EXAMPLES)
    """The biases' init, for every layer without its own: the same choices as init."""
    bias: bool = True
    """false: no layer has a bias (a layer's own `bias:` overrides it)."""
    layers: list[LayerSpec] = Field(
        min_length=1,
        examples=[[{"units": 5, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]],
    )
    """The layers, from the first hidden layer to the output."""


class LossSpec(_Named):
    """A loss: its name, or a mapping with the gradient your code uses."""

    name: LossName
    """bce | cce | mse | mae: summed over the output units, averaged over the samples."""
    gradient: str | None = Field(None, examples=["-(y/a + (1 - y/1 - a))"])
    """The dL/da your code uses (an expression in a, y and z, or file.py:function): one
    sample's elementwise derivative; nnfix applies the reduction."""
    gradient_of: Literal["a", "z"] = "a"
    """a: your gradient is dL/da (default); z: it is dL/dz of the output layer (the "A - Y"
    shortcut)."""
    reduction: Literal["mean", "sum"] = "mean"
    """mean (default): averaged over the samples; sum: summed over them."""
    scale: PositiveFloat = Field(1.0, examples=[0.5])
    """A constant factor: 0.5 for the quadratic cost ½‖a − y‖²."""


class OptimizerSpec(_Named):
    """An optimiser: its name, or a mapping with its options."""

    name: OptimizerName
    """sgd | momentum | nesterov | rmsprop | adam."""
    momentum: float = Field(0.9, ge=0, lt=1)
    """momentum, nesterov: the share of the previous step kept."""
    rho: float = Field(0.9, ge=0, lt=1)
    """rmsprop: the decay of the squared gradients' running average."""
    beta1: float = Field(0.9, ge=0, lt=1)
    """adam: the decay of the gradients' running average."""
    beta2: float = Field(0.999, ge=0, lt=1)
    """adam: the decay of the squared gradients' running average."""
    eps: PositiveFloat = 1e-8
    """rmsprop, adam: added to the denominator."""


class ScheduleSpec(_Named):
    """A learning-rate schedule: its name, or a mapping with its options."""

    name: ScheduleName
    """constant | step | exponential | inverse_time | cosine."""
    factor: PositiveFloat = 0.5
    """step: what lr is multiplied by at each tick."""
    every: PositiveInt | Literal["epoch", "step"] | None = Field(None, examples=[10, "step"])
    """The unit of t: epoch (default), step, or an integer N (t counts blocks of N epochs;
    step defaults to every: 10)."""
    gamma: PositiveFloat = 0.99
    """exponential: lr_t = lr · gamma^t."""
    decay: float = Field(1.0, ge=0)
    """inverse_time: lr_t = lr / (1 + decay·t)."""
    min_lr: float = Field(0.0, ge=0)
    """cosine: the rate it ends at."""


class TrainSpec(_Strict):
    """The training loop."""

    optimizer: OptimizerSpec = Field(
        OptimizerSpec(name="sgd"),
        examples=[
            "adam",
            {"name": "momentum", "momentum": 0.9},
            {"name": "rmsprop", "rho": 0.9},
            {"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1.0e-8},
        ],
    )
    """sgd | momentum | nesterov | rmsprop | adam, or a mapping with its options."""
    lr: PositiveFloat = 0.1
    """The learning rate."""
    schedule: ScheduleSpec = Field(
        ScheduleSpec(name="constant"),
        examples=[
            "cosine",
            {"name": "step", "factor": 0.5, "every": 10},
            {"name": "exponential", "gamma": 0.99},
            {"name": "inverse_time", "decay": 1.0},
            {"name": "cosine", "min_lr": 0},
        ],
    )
    """constant | step | exponential | inverse_time | cosine, or a mapping with its options;
    t counts epochs from 0 (every: epoch, default) or steps (every: step)."""
    epochs: PositiveInt = 100
    """How many passes over the training set."""
    batch_size: PositiveInt | Literal["full"] = Field(32, examples=[32, "full"])
    """Samples per step: an integer, or full (the whole training set)."""
    l2: float = Field(0.0, ge=0)
    """L2 weight decay: l2/2·Σ‖W‖² added to the loss, l2·W to each weight gradient (biases
    are not decayed)."""
    dtype: Literal["float32", "float64"] = "float32"
    """float32 | float64 (gradient checks always run in float64)."""


class GradcheckSpec(_Strict):
    """The gradient check."""

    mode: Literal["auto", "full", "directional", "sampled"] = "auto"
    """auto | full | directional | sampled: every entry, random directions, or random
    entries (auto: full for small tensors, directional and sampled for large ones)."""
    eps: PositiveFloat = 1e-6
    """The central difference's step."""
    samples: PositiveInt = 16
    """sampled: the entries checked per tensor."""


class DiagnoseSpec(_Strict):
    """Per-spec defaults for `nnfix diagnose` (its flags override them)."""

    fail_on: Literal["error", "warning", "info", "never"] = "error"
    """Exit 1 at findings of this severity or worse: error | warning | info | never."""
    ignore: list[str] = Field([], examples=[["D105"]])
    """Rules not to report: codes, prefixes (G, T1) or names."""
    select: list[str] = Field([], examples=[["G", "T1"]])
    """Only these rules: codes, prefixes (G, T1) or names; empty: all."""
    budget: PositiveFloat = 10.0
    """Seconds for the training probes."""
    gradcheck: GradcheckSpec = Field(
        GradcheckSpec(), examples=[{"mode": "auto", "eps": 1.0e-6, "samples": 16}]
    )
    """The gradient check's mode, step and samples."""


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
    """The earlier form of params/grads, still accepted: templates in which {l} counts layers
    from 1 and {i} from 0."""

    weight: Template = "W{l}"
    """Where each layer's weight is, as in params.weight."""
    bias: Template = "b{l}"
    """Where each layer's bias is, as in params.bias."""
    grad_weight: Template = "dW{l}"
    """Where each layer's weight gradient is, as in grads.weight."""
    grad_bias: Template = "db{l}"
    """Where each layer's bias gradient is, as in grads.bias."""


class PathsSpec(_Strict):
    """Where each layer's weight and bias are: keys of the params dict ("W{l}") or paths on the
    object ("weights[{i}]", "params['W{l}']", "layers[{i}].weights"); {l} counts layers from 1,
    {i} from 0."""

    weight: Template | None = Field(None, examples=["W{l}", "layers[{i}].weights"])
    """Each layer's weight (or its gradient, under grads): a key or a path with {l} or {i}."""
    bias: Template | None = Field(None, examples=["b{l}", "params['b{l}']"])
    """Each layer's bias (or its gradient, under grads): a key or a path with {l} or {i}."""


class ImplementationSpec(_Strict):
    """The user's own code (SPEC §3): module functions (A), an object (B) or layer objects (C)."""

    module: str = Field(examples=["my_net.py", "net.ipynb"])
    """Your code: a .py file or a .ipynb notebook (its code cells, in order), relative to the
    spec."""
    forward: str | None = Field(None, examples=["L_model_forward", "feedforward"])
    """A: the forward function; B: the forward method (optional: the spec's model is the
    truth)."""
    backward: str | None = Field(None, examples=["L_model_backward", "backprop"])
    """A: the backward function; B: the backward method: it returns or stores the gradients."""
    loss: str | list[str] | None = Field(
        None,
        examples=["compute_cost", "Loss_CategoricalCrossentropy()", ["mse", "mse_prime"]],
    )
    """A/B: the loss function or method; C: a call that makes the loss object; or two functions
    [loss, loss_prime]: the loss and its gradient dL/d(output)."""
    model: str | list[str] | None = Field(
        None,
        examples=[
            "initialize_parameters_deep([2, 4, 1])",
            "Network([2, 3, 1])",
            ["nn = NeuralNetwork()", "nn.add(Dense(16))"],
        ],
    )
    """B: the call that builds your object (or A: creates the parameters): names your module
    defines or imports, literals, and X, Y for the batch; or a list of statements that build
    it, as a script does."""
    layers: list[str] | None = Field(
        None, examples=[["Layer_Dense(2, 64)", "Activation_ReLU()", "Layer_Dense(64, 1)"]]
    )
    """C: calls that make your layer objects, chained in order (each with forward and
    backward)."""
    step: str | list[str] | None = Field(
        None,
        examples=[
            "train",
            ["backward_propagate_error(network, Y)", "update_weights(network, X, 0.5)"],
        ],
    )
    """D: the call that trains in place (forward, backward and update together), or a list of
    calls run in order; the gradient is read from the update."""
    script: bool = False
    """E: true when the training loop is top-level code: nnfix runs the set-up and one pass of
    the loop's body on its batch, and reads the gradient from the update."""
    engine: str | None = Field(None, examples=["Value", "Tensor"])
    """F: the class of your own autograd engine (micrograd-style values with _backward)."""
    layout: Literal["auto", "columns", "rows", "nchw", "nhwc"] = "auto"
    """auto | columns | rows: samples as columns (W @ X) or as rows (X @ W); conv code: nchw |
    nhwc; auto: found by calling your code."""
    params: PathsSpec | None = Field(None, examples=[{"weight": "W{l}", "bias": "b{l}"}])
    """Where each layer's weight and bias are, where nnfix cannot find them."""
    grads: PathsSpec | None = Field(None, examples=[{"weight": "dW{l}", "bias": "db{l}"}])
    """Where each layer's weight and bias gradients are, where nnfix cannot find them."""
    names: NamesSpec | None = None
    """The earlier form of params and grads, still accepted."""
    arguments: dict[str, Any] = Field(
        {}, examples=[{"x_train": "X", "y_train": "Y", "training": True, "lambd": 0}]
    )
    """Your functions' arguments nnfix cannot bind by itself: parameter name → X, Y, params,
    cache, output, or a YAML literal."""
    output: str | None = Field(None, examples=["output"])
    """Where a forward that returns None leaves its result."""
    per_sample: bool | Literal["column", "vector"] = False
    """true | column | vector: your code takes one sample at a time (as a column, or as a
    flat vector)."""
    update_lr: PositiveFloat | None = None
    """The step size of a backward that updates the parameters in place, where the code does
    not show it."""
    timeout: float = Field(30.0, gt=0, le=MAX_TIMEOUT)
    """Seconds one call of your code may take."""
    run_module: bool = False
    """true: run the module's top-level statements, all of them, when importing it."""
    cells: list[NonNegativeInt] | None = Field(None, examples=[[0, 2, 3]])
    """Notebooks: the code cells to use (indices from 0); default all."""
    init: Literal["spec", "yours"] = "spec"
    """spec: nnfix's init (the spec's model.init and seed) where it can place it; yours: the
    values your code created."""

    @property
    def shape(self) -> str:
        return "layers" if self.layers else "object" if self.model else "functions"

    @property
    def loss_call(self) -> str | None:
        """`loss:` as one name or call (None where it is absent or the pair [loss, loss_prime])."""
        return self.loss if isinstance(self.loss, str) else None

    @property
    def model_call(self) -> str | None:
        """`model:` as one call (None where it is absent or a list of building statements)."""
        return self.model if isinstance(self.model, str) else None


def has_bias(model: ModelSpec, layer: Any) -> bool:
    """Does this layer of the model have a bias (a type without weights has none)."""
    own = getattr(layer, "bias", None)
    if not isinstance(layer, Weighted):
        return False
    return model.bias if own is None else own


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
            # data may be left out only by a script, which trains on its own (§3.2 E)
            "anyOf": [
                {"required": ["data"]},
                {
                    "required": ["implementation"],
                    "properties": {
                        "implementation": {
                            "description": "A script's training loop, with data of its own.",
                            "required": ["script"],
                            "properties": {
                                "script": {
                                    "const": True,
                                    "description": "Without data:, the script's own data.",
                                }
                            },
                        }
                    },
                },
            ],
        },
    )

    name: str | None = Field(None, examples=["moons-tanh"])
    """The run's name (runs/<name>/); default: the spec file's stem."""
    seed: NonNegativeInt = 0
    """One seed drives the data, the init and the batches: same seed, same numbers."""
    data: DataSpec | None = None
    """The samples: a generated set (source, samples, noise…) or a file (path, or x and y);
    required but for a script (`implementation.script`), which trains on its own without it."""
    model: ModelSpec | None = None
    """The network: its layers, their activations (with the derivatives your code uses) and
    the init. Optional with `implementation:`: your code is then the network (SPEC §3.1)."""
    loss: LossSpec | None = Field(
        None, examples=["bce", {"name": "bce", "gradient": "-(y/a + (1 - y/1 - a))"}]
    )
    """bce | cce | mse | mae, or a mapping with the gradient your code uses. Optional with
    `implementation:` where your code computes its own loss."""
    train: TrainSpec = TrainSpec()
    """The training loop: optimiser, learning rate and schedule, epochs, batch size."""
    diagnose: DiagnoseSpec = DiagnoseSpec()
    """Per-spec defaults for `nnfix diagnose`."""
    implementation: ImplementationSpec | None = Field(
        None,
        examples=[
            {"module": "my_net.py", "forward": "L_model_forward", "backward": "L_model_backward"}
        ],
    )
    """Your own forward and backward code, checked as written (SPEC §3)."""

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


def _rebuild() -> None:
    """The registry changed: model.layers takes the types registered now."""
    ModelSpec.model_fields["layers"].annotation = list[_layer_union()]  # type: ignore[assignment, misc]
    ModelSpec.model_rebuild(force=True)
    Spec.model_rebuild(force=True)


on_change(_rebuild)


def json_schema() -> dict:
    """The JSON Schema of a spec (`nnfix schema`): every key with its description (its
    docstring, on one line) and, where SPEC §2 shows one, an example."""

    def joined(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: " ".join(v.split()) if k == "description" and isinstance(v, str) else joined(v)
                for k, v in node.items()
            }
        return [joined(v) for v in node] if isinstance(node, list) else node

    return joined(Spec.model_json_schema())
