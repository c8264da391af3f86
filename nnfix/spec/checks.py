"""Rules the spec's types cannot say: keys that apply only to some choices, and the like."""

from __future__ import annotations

from collections.abc import Callable

from nnfix.data import generated
from nnfix.engine import activations
from nnfix.errors import Problem, SpecPath, did_you_mean
from nnfix.spec.model import (
    SEQUENCE_TARGETS,
    TEXT_TARGETS,
    TOKEN_SOURCES,
    DataSpec,
    DenseSpec,
    ImplementationSpec,
    InitSpec,
    LossSpec,
    ModelSpec,
    TrainSpec,
    has_bias,
)

# which optional keys each choice takes; a key set for another choice is an error
_TOY = ("xor", "moons", "circles", "spirals", "blobs", "linear")
_DATA_KEYS = {
    "samples": (*_TOY, "images", "sequences", "text"),
    "noise": (*_TOY, "images", "sequences"),
    "classes": ("spirals", "blobs", "images", "sequences"),
    "features": ("blobs", "linear"),
    "shape": ("images",),
    "vocab": ("sequences",),
    "length": ("sequences", "text"),
    "path": ("csv", "npz"),
    "x": ("npz", "npy", "idx"),
    "y": ("npz", "npy", "idx"),
    "target": ("csv", "sequences", "text"),
}
_DATA_HINTS = {  # what a key set for a source it does not apply to may have meant
    ("vocab", "text"): "the text's vocabulary is its own characters; remove 'vocab'",
    ("features", "images"): "an image's size is its 'shape', e.g. [1, 12, 12]",
    ("noise", "text"): "the text is as written; remove 'noise'",
}
_INIT_KEYS = {
    "low": ("uniform",),
    "high": ("uniform",),
    "mean": ("normal",),
    "std": ("normal",),
    "value": ("constant",),
}
_OPTIMIZER_KEYS = {
    "momentum": ("momentum", "nesterov"),
    "rho": ("rmsprop",),
    "beta1": ("adam",),
    "beta2": ("adam",),
    "eps": ("rmsprop", "adam"),
}
_SCHEDULE_KEYS = {
    "factor": ("step",),
    "gamma": ("exponential",),
    "decay": ("inverse_time",),
    "min_lr": ("cosine",),
    "every": ("step", "exponential", "inverse_time", "cosine"),
}


def _keys_apply(
    model, choice: str, table: dict, path, what: str, hints: dict | None = None
) -> list[Problem]:
    problems = []
    for key in sorted(model.model_fields_set & table.keys()):
        if choice not in table[key]:
            takes = ", ".join(table[key])
            hint = (hints or {}).get((key, choice))
            if hint is None and hints is not None and len(table[key]) == 1:
                hint = f"did you mean {what}: {table[key][0]}?"
            problems.append(
                Problem(
                    f"'{key}' does not apply to {what} '{choice}' (only to {takes})",
                    path=(*path, key),
                    on_key=True,
                    hint=hint,
                )
            )
    return problems


def check(sections: dict) -> list[Problem]:
    """Every cross-key problem of the sections that validated ({"data": DataSpec, …})."""
    checkers: dict[str, Callable] = {
        "data": _data,
        "model": _model,
        "loss": _loss,
        "train": _train,
        "implementation": _implementation,
    }
    problems = [
        p
        for key, section in sections.items()
        if section is not None and key in checkers
        for p in checkers[key](section)
    ]
    data, model = sections.get("data"), sections.get("model")
    if data is not None and model is not None:
        problems += _data_for_model(data, model)
    impl = sections.get("implementation")
    if impl is not None and model is not None:
        problems += _declared_with(impl)
    return problems


def _declared_with(impl: ImplementationSpec) -> list[Problem]:
    """The keys of SPEC §3.2 that are read only where the user's code is the network: with a
    declared `model:` nnfix calls the code in the shapes it compares with that network."""
    given = [
        key
        for key, value in (
            ("model", isinstance(impl.model, list) and impl.model),
            ("loss", isinstance(impl.loss, list) and impl.loss),
            ("step", impl.step),
            ("script", impl.script),
            ("engine", impl.engine),
            ("layout", impl.layout in ("nchw", "nhwc")),
        )
        if value
    ]
    return [
        Problem(
            f"implementation.{key} in this form is read where your code is the network: leave "
            "out the spec's top-level model: (nnfix then learns the network from your code)",
            path=("implementation", key),
            on_key=True,
        )
        for key in given
    ]


def _data(data: DataSpec) -> list[Problem]:
    problems = _keys_apply(data, data.source, _DATA_KEYS, ("data",), "source", _DATA_HINTS)
    problems += _token_keys(data)
    problems += generated.problems(data)
    if data.source in ("csv", "npz") and data.path is None:
        problems.append(
            Problem(f"source '{data.source}' needs 'path' (the file to read)", path=("data",))
        )
    if data.source in ("npy", "idx"):
        for key in ("x", "y"):
            if getattr(data, key) is None:
                problems.append(
                    Problem(
                        f"source '{data.source}' needs '{key}' (the file of {'inputs' if key == 'x' else 'targets'})",
                        path=("data",),
                    )
                )
    return problems


def _token_keys(data: DataSpec) -> list[Problem]:
    """The keys whose meaning sequences and text give their own: `target` (what a sample's
    target is, not a csv column), `classes` (only with `target: label`), `scale` (token ids are
    not scaled)."""
    if data.source not in TOKEN_SOURCES:
        return []
    problems = []
    modes = SEQUENCE_TARGETS if data.source == "sequences" else TEXT_TARGETS
    target = data.target
    if target is not None and target not in modes:
        expected = ", ".join(modes[:-1]) + f" or {modes[-1]}"
        shown = f"'{target}'" if isinstance(target, str) else str(target)
        message = f"unknown target {shown} for source: {data.source}: expected {expected}"
        if not isinstance(target, str):
            message += " (a column index is a csv's target)"
        hint = did_you_mean(str(target), list(modes))
        if hint is None and data.source == "text" and target == "label":
            hint = "a text has no classes: use source: sequences with target: label"
        problems.append(Problem(message, path=("data", "target"), hint=hint))
    if "classes" in data.model_fields_set and data.target_mode != "label":
        tokens = "characters" if data.source == "text" else f"the vocab's {data.tokens} tokens"
        message = (
            f"'classes' applies to target: label; with target: {data.target_mode} the classes "
            f"are {tokens}"
        )
        problems.append(
            Problem(
                message,
                path=("data", "classes"),
                on_key=True,
                hint="did you mean target: label?" if data.source == "sequences" else None,
            )
        )
    if data.scale != "none":
        message = (
            f"'scale' does not apply to source '{data.source}': its inputs are token ids "
            "(categories, not measurements)"
        )
        problems.append(Problem(message, path=("data", "scale"), on_key=True))
    return problems


def _data_for_model(data: DataSpec, model: ModelSpec) -> list[Problem]:
    """Data nnfix's engine cannot feed the model: token ids into a dense first layer (images
    are flattened, as a dense layer takes them; another first layer takes tokens one-hot)."""
    if data.source not in TOKEN_SOURCES or not isinstance(model.layers[0], DenseSpec):
        return []
    what = "windows of character ids" if data.source == "text" else "sequences of token ids"
    message = (
        f"'{data.source}' gives {what} of shape (samples, {data.sequence_length}) and the "
        "model's first layer is dense: nnfix's engine would read each id as a number. A "
        "sequence model needs a recurrent layer (type: rnn) first: it takes the tokens one-hot"
    )
    hint = "for a dense model, use a 2-D source (moons, blobs, …) or images (flattened)"

    return [Problem(message, path=("data", "source"), hint=hint)]


def _model(model: ModelSpec) -> list[Problem]:
    problems = []
    inits: list[tuple[SpecPath, InitSpec]] = [
        (("model", "init"), model.init),
        (("model", "bias_init"), model.bias_init),
    ]
    layers = model.layers
    for i, layer in enumerate(layers):
        path: SpecPath = ("model", "layers", i)
        inits += [
            ((*path, key), getattr(layer, key))
            for key in ("init", "bias_init")
            if getattr(layer, key, None) is not None
        ]
        if getattr(layer, "bias_init", None) is not None and not has_bias(model, layer):
            problems.append(
                Problem(
                    "'bias_init' does not apply to a layer without bias",
                    path=(*path, "bias_init"),
                    on_key=True,
                )
            )
        act = getattr(layer, "activation", None)
        if act is None:  # a type the network applies no activation after (flatten, dropout)
            continue
        apath = (*path, "activation")
        if act.name == "softmax" and i != len(layers) - 1:
            problems.append(
                Problem("softmax is allowed in the last layer only", path=(*apath, "name"))
            )
        if act.name == "softmax" and act.derivative is not None:
            problems.append(
                Problem(
                    "softmax's derivative is a Jacobian, not an elementwise function: declare the loss "
                    "gradient with `gradient_of: z` (the 'A - Y' shortcut) instead",
                    path=(*apath, "derivative"),
                )
            )
        if act.alpha is not None and not (
            act.name in activations.NAMES and activations.takes_alpha(act.name)
        ):
            takes = [n for n in activations.NAMES if activations.takes_alpha(n)]
            problems.append(
                Problem(
                    f"'alpha' applies to {' and '.join(takes)}, not to '{act.name}'",
                    path=(*apath, "alpha"),
                    on_key=True,
                )
            )
        if act.derivative_of is not None and act.derivative is None:
            problems.append(
                Problem(
                    "'derivative_of' says what a declared 'derivative' is given, but none is declared",
                    path=(*apath, "derivative_of"),
                    on_key=True,
                )
            )
    for path, init in inits:
        problems += _keys_apply(init, init.name, _INIT_KEYS, path, "init")
        if init.name == "uniform" and init.low >= init.high:
            problems.append(
                Problem(
                    f"uniform init needs low < high (got low {init.low}, high {init.high})",
                    path=path,
                )
            )
    return problems


def _loss(loss: LossSpec) -> list[Problem]:
    problems = []
    if "gradient_of" in loss.model_fields_set and loss.gradient is None:
        problems.append(
            Problem(
                "'gradient_of' says what a declared 'gradient' is, but none is declared",
                path=("loss", "gradient_of"),
                on_key=True,
            )
        )
    return problems


def _train(train: TrainSpec) -> list[Problem]:
    opt, sched = train.optimizer, train.schedule
    problems = _keys_apply(opt, opt.name, _OPTIMIZER_KEYS, ("train", "optimizer"), "optimizer")
    return problems + _keys_apply(
        sched, sched.name, _SCHEDULE_KEYS, ("train", "schedule"), "schedule"
    )


def _implementation(impl: ImplementationSpec) -> list[Problem]:
    problems = []
    where = ("implementation",)
    if impl.model and impl.layers:
        problems.append(
            Problem(
                "'model' (an object) and 'layers' (layer objects) are two shapes of code: give one",
                path=(*where, "layers"),
                on_key=True,
            )
        )
    trains = impl.step or impl.script or impl.engine  # the gradient is read from their update
    if impl.shape == "functions" and not impl.backward and not trains:
        problems.append(
            Problem(
                "missing 'backward': the function of your module that computes the gradients "
                "(or 'model:' for a class, 'layers:' for layer objects)",
                path=where,
            )
        )
    if impl.shape == "object" and not impl.backward and not trains:
        problems.append(
            Problem(
                "missing 'backward': the method of your model that computes the gradients",
                path=where,
            )
        )
    if impl.shape == "layers" and impl.forward:
        problems.append(
            Problem(
                "'forward' does not apply to layer objects: nnfix chains their forward() in order",
                path=(*where, "forward"),
                on_key=True,
            )
        )
    if impl.names is not None and (impl.params is not None or impl.grads is not None):
        problems.append(
            Problem(
                "'names' is the earlier form of 'params' and 'grads': give one or the other",
                path=(*where, "names"),
                on_key=True,
            )
        )
    if impl.names is not None:
        for key in ("weight", "bias", "grad_weight", "grad_bias"):
            pattern = getattr(impl.names, key)
            if "{l}" not in pattern and "{i}" not in pattern:
                problems.append(
                    Problem(
                        f"name pattern {pattern!r} needs '{{l}}' (or '{{i}}') where the layer number goes",
                        path=(*where, "names", key),
                    )
                )
    for section in ("params", "grads"):
        paths = getattr(impl, section)
        for key in ("weight", "bias"):
            pattern = getattr(paths, key) if paths is not None else None
            if pattern is None:
                continue
            try:
                pattern.format(l=1, i=0)
            except (KeyError, IndexError, ValueError):
                problems.append(
                    Problem(
                        f"{pattern!r}: only {{l}} (layers from 1) and {{i}} (from 0) may be filled in",
                        path=(*where, section, key),
                    )
                )
            else:
                if impl.shape != "layers" and "{l}" not in pattern and "{i}" not in pattern:
                    problems.append(
                        Problem(
                            f"{pattern!r} needs '{{l}}' or '{{i}}' where the layer number goes",
                            path=(*where, section, key),
                        )
                    )
    return problems
