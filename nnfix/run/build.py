"""From a loaded spec to the engine's objects: the network with its declared derivatives,
the loss with its declared gradient, initialised from the spec's seed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnfix.data.limits import size
from nnfix.engine import activations
from nnfix.engine.activations.numeric import recognise
from nnfix.engine.layers import LAYERS, Layer
from nnfix.engine.layers.layer import Shape, ShapeError
from nnfix.engine.losses import Loss
from nnfix.engine.network import LayerActivation, Network
from nnfix.errors import Problem, SpecError, SpecPath, UserFunctionError
from nnfix.run.resources import BATCH, COPIES, ITEM, PER_UNIT, memory_bound
from nnfix.spec.functions import UserFunction
from nnfix.spec.load import LoadedSpec
from nnfix.spec.model import has_bias
from nnfix.usercode.sandbox import UserCallError

Array = np.ndarray


def _checked(path: SpecPath, uf: UserFunction, call: Callable[[], object], like: Array) -> Array:
    """Call a user function; its result as an array shaped like `like`, or UserFunctionError."""
    try:
        out = call()
    except UserCallError as exc:  # a function of their file: contained, with their traceback
        raise UserFunctionError(path, uf.text, str(exc), exc.trace) from None
    except Exception as exc:
        raise UserFunctionError(path, uf.text, f"raised {type(exc).__name__}: {exc}") from None
    try:
        out = np.asarray(out, dtype=like.dtype)
    except (TypeError, ValueError):
        raise UserFunctionError(
            path, uf.text, f"returned {type(out).__name__}, not an array of numbers"
        ) from None
    if out.shape != like.shape:
        try:
            out = np.broadcast_to(out, like.shape)
        except ValueError:
            raise UserFunctionError(
                path, uf.text, f"returned shape {out.shape}, expected {like.shape}"
            ) from None
    return out


def argument_of(uf: UserFunction, derivative_of: str | None) -> str:
    """What a one-argument derivative is given: as declared, else the variable it names."""
    if derivative_of is not None:
        return derivative_of
    return "a" if uf.variables == {"a"} else "z"


def declared_derivative(
    path: SpecPath, uf: UserFunction, derivative_of: str | None
) -> Callable[[Array, Array], Array]:
    """The user's derivative as a function of (z, a), fed what their code feeds it."""
    arg = argument_of(uf, derivative_of)
    if uf.kind == "file":
        return lambda z, a: _checked(path, uf, lambda: uf.fn(z if arg == "z" else a), z)
    if uf.variables == {"z", "a"}:  # names both: each is what it says
        return lambda z, a: _checked(path, uf, lambda: uf.fn(z=z, a=a), z)
    (var,) = uf.variables or {"z"}
    return lambda z, a: _checked(path, uf, lambda: uf.fn(**{var: z if arg == "z" else a}), z)


def _numeric_derivative(forward: Callable[[Array], Array]) -> Callable[[Array, Array], Array]:
    """Central differences in float64, for a custom activation with no declared derivative."""

    def derivative(z: Array, a: Array) -> Array:
        z64 = z.astype(np.float64)
        h = 1e-5 * np.maximum(1.0, np.abs(z64))
        return ((forward(z64 + h) - forward(z64 - h)) / (2 * h)).astype(z.dtype)

    return derivative


def layer_activation(
    i: int, layer: Any, functions: dict[SpecPath, UserFunction], output: bool = False
) -> LayerActivation:
    """Layer i's forward function (always the true one) and the derivative its backward uses.
    An expression or file function that computes a built-in is that built-in (`builtin`, its
    true derivative, its facts) while the forward pass stays the user's function; softmax is
    recognised only in the `output` layer, the one place it can be."""
    spec = layer.activation
    path = ("model", "layers", i, "activation")
    builtin: activations.Activation | None = None
    true_derivative: Callable[[Array, Array], Array] | None
    if spec.name in activations.NAMES:
        builtin = activations.get(spec.name, spec.alpha)
        forward, true_derivative = builtin.fn, builtin.derivative if builtin.elementwise else None
    else:
        uf = functions[(*path, "name")]
        call = (lambda z: uf.fn(z)) if uf.kind == "file" else (lambda z: uf.fn(z=z))
        name_path = (*path, "name")

        def forward(z: Array, uf=uf, call=call) -> Array:
            return _checked(name_path, uf, lambda: call(z), z)

        builtin = recognise(forward, output)
        if builtin is None:
            true_derivative = _numeric_derivative(forward)
        else:
            true_derivative = builtin.derivative if builtin.elementwise else None
    declared = functions.get((*path, "derivative"))
    derivative = (
        declared_derivative((*path, "derivative"), declared, spec.derivative_of)
        if declared is not None
        else true_derivative
    )
    return LayerActivation(spec.name, forward, derivative, builtin, declared is not None)


def build_loss(loaded: LoadedSpec) -> Loss:
    spec = loaded.spec.net_loss
    uf = loaded.functions.get(("loss", "gradient"))
    declared = None
    if uf is not None:
        path = ("loss", "gradient")
        if uf.kind == "file":
            declared = lambda a, y, z: _checked(path, uf, lambda: uf.fn(a, y), a)  # noqa: E731
        else:
            declared = lambda a, y, z: _checked(  # noqa: E731
                path,
                uf,
                lambda: uf.fn(
                    **{k: v for k, v in (("a", a), ("y", y), ("z", z)) if k in uf.variables}
                ),
                a,
            )
    return Loss(spec.name, spec.reduction, declared, spec.gradient_of, spec.scale)


def build_network(
    loaded: LoadedSpec, in_shape: int | Shape, rng: np.random.Generator, dtype: str = "float64"
) -> Network:
    """The spec's network on samples of `in_shape` (an int: that many features), each layer
    built by its registered type from the shape the layer below gives, initialised with `rng`
    (the spec's init and bias_init per layer). A layer that cannot take its input's shape is a
    SpecError at that layer."""
    model = loaded.spec.net_model
    shape: Shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
    first = shape
    layers: list[Layer] = []
    last = len(model.layers) - 1
    planned, bound = 0, memory_bound()  # for the types resources.check_network does not plan
    for i, layer in enumerate(model.layers):
        act = None
        if getattr(layer, "activation", None) is not None:
            act = layer_activation(i, layer, loaded.functions, i == last)
        bias_init = (layer.bias_init or model.bias_init) if has_bias(model, layer) else None
        init = getattr(layer, "init", None) or model.init
        try:
            built = LAYERS[layer.type].build(layer, shape, act, init, bias_init, rng, dtype)
            shape = tuple(built.output_shape(shape))
        except ShapeError as exc:
            path: SpecPath = ("model", "layers", i)
            path = (*path, exc.key) if exc.key else path
            raise SpecError([Problem(str(exc), path=path)], loaded.source) from None
        except MemoryError as exc:  # a type resources.check_network does not estimate ahead
            raise SpecError(
                [
                    Problem(
                        f"layer {i + 1} ({layer.type}) would not fit in memory: its parameters "
                        f"alone could not be allocated ({exc})",
                        path=("model", "layers", i),
                        hint="fewer units or filters, or a machine with more memory",
                    )
                ],
                loaded.source,
            ) from None
        planned += COPIES * sum(p.nbytes for p in built.params())
        planned += PER_UNIT * ITEM * BATCH * int(np.prod(shape))
        if planned > bound and layer.type != "dense":
            raise SpecError(
                [
                    Problem(
                        f"this net would need about {size(planned)} by layer {i + 1} "
                        f"({layer.type}), more than the {size(bound)} nnfix plans on here (half "
                        "the memory this process may use)",
                        path=("model", "layers", i),
                        hint="fewer units or filters, or a machine with more memory",
                    )
                ],
                loaded.source,
            )
        layers.append(built)
    return Network(layers, first)
