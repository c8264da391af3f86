"""Every registered layer type is complete and its backward is its forward's derivative; and a
layer type is one file plus one registration: a type defined in this test alone trains and is
diagnosed, clean when right, and its planted mistake found at its own layer."""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from nnfix.cli import main
from nnfix.diagnose.context import Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.engine.initializers import initialize
from nnfix.engine.layers import LAYERS, register, unregister
from nnfix.engine.layers.layer import Array, Base, LayerActivation, Param, Shape, ShapeError
from nnfix.engine.specs import InitSpec, Weighted
from nnfix.errors import SpecError
from nnfix.run.build import layer_activation
from nnfix.run.prepare import prepare
from nnfix.spec.load import load_spec
from nnfix.spec.model import ModelSpec

SHAPES = [(4,), (2, 6, 6), (5, 3)]  # one sample: features, an image (C, H, W), a sequence (T, F)
BATCH = 3
H = 1e-6  # central differences' step, in float64
RTOL, ATOL = 1e-5, 1e-8


def example(layer_type) -> BaseModel:
    """An entry of this type as a spec writes it: each key its documented example, where the
    key has no default."""
    values: dict = {"type": layer_type.type}
    for name, field in layer_type.Spec.model_fields.items():
        if name != "type" and field.is_required():
            assert field.examples, f"{layer_type.type}.{name}: a required key needs an example"
            values[name] = field.examples[0]
    return layer_type.Spec.model_validate(values)


def built(layer_type, seed: int = 0):
    """The type built from its example on the first sample shape it takes, and that shape."""
    spec = example(layer_type)
    act = None
    if getattr(spec, "activation", None) is not None:
        act = layer_activation(0, spec, {})
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        try:
            layer = layer_type.build(
                spec,
                shape,
                act,
                InitSpec(name="normal", std=0.5),
                InitSpec(name="normal"),
                rng,
                "float64",
            )
        except ShapeError:
            continue
        return layer, shape
    raise AssertionError(f"{layer_type.type} takes none of the sample shapes {SHAPES}")


def run(layer, x: Array) -> Array:
    """A training pass, with the same mask (a fresh generator of one seed) every time."""
    rng = np.random.default_rng(7) if layer.random else None
    return layer.forward(x, True, rng)[0]


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_registered_type_is_complete(name):
    layer_type = LAYERS[name]
    assert layer_type.type == name
    assert issubclass(layer_type.Spec, BaseModel)
    assert typing.get_args(layer_type.Spec.model_fields["type"].annotation) == (name,)
    assert isinstance(layer_type.mistakes, tuple)
    layer, shape = built(layer_type)
    params, info = layer.params(), layer.param_info()
    assert len(params) == len(info)
    assert len({p.name for p in info}) == len(info)
    for p, i in zip(params, info, strict=True):
        assert isinstance(i, Param) and i.role in ("weight", "bias", "scale", "shift", "recurrent")
        assert 0 <= i.unit_axis < p.ndim, (name, i)
        assert p.dtype == np.float64
    assert isinstance(layer.buffers(), dict)
    fan_in, fan_out = layer.fans(shape)
    assert fan_in >= 1 and fan_out >= 1
    x = np.random.default_rng(1).normal(size=(BATCH, *shape))
    out, cache = layer.forward(x, False)
    assert out.shape == (BATCH, *layer.output_shape(shape))
    grads, dx = layer.backward(np.ones_like(out), cache)
    assert dx is not None and dx.shape == x.shape
    assert [g.shape for g in grads] == [p.shape for p in params]
    again = layer.with_params([p + 1 for p in params])
    assert all(np.array_equal(a, p + 1) for a, p in zip(again.params(), params, strict=True))
    assert type(again) is type(layer) and again.act is layer.act


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_registered_backward_is_the_derivative_of_its_forward(name):
    """dL/dparams and dL/dx of L = Σ out · R against central differences, in float64."""
    layer, shape = built(LAYERS[name])
    rng = np.random.default_rng(2)
    x = rng.normal(size=(BATCH, *shape))
    out, cache = layer.forward(x, True, np.random.default_rng(7) if layer.random else None)
    R = rng.normal(size=out.shape)
    grads, dx = layer.backward(R, cache)
    assert dx is not None

    def loss(params: list[Array], inputs: Array) -> float:
        return float(np.sum(run(layer.with_params(params), inputs) * R))

    params = [p.copy() for p in layer.params()]
    for k, (p, g) in enumerate(zip(params, grads, strict=True)):
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            keep = p[i]
            p[i] = keep + H
            plus = loss(params, x)
            p[i] = keep - H
            minus = loss(params, x)
            p[i] = keep
            numeric[i] = (plus - minus) / (2 * H)
        np.testing.assert_allclose(g, numeric, rtol=RTOL, atol=ATOL, err_msg=f"{name} {k}")
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + H
        plus = loss(params, x)
        x[i] = keep - H
        minus = loss(params, x)
        x[i] = keep
        numeric[i] = (plus - minus) / (2 * H)
    np.testing.assert_allclose(dx, numeric, rtol=RTOL, atol=ATOL, err_msg=f"{name} dx")


# --- a layer type of this test's own: y = x · s, one scale per unit ---------------------------


class ScaleSpec(Weighted):
    """y = x · s: one learned scale per unit."""

    type: Literal["scale"]


SCALE = Param("s", "scale", unit_axis=1, l2=False, symmetric=False)


@dataclass
class Scale(Base):
    Spec: ClassVar[type[BaseModel]] = ScaleSpec
    type: ClassVar[str] = "scale"
    s: Array
    act: LayerActivation | None = None
    wrong: ClassVar[bool] = False  # plant the usual mistake: ds without x

    @classmethod
    def build(cls, spec, in_shape: Shape, act, init: InitSpec, bias_init, rng, dtype) -> Scale:
        if len(in_shape) != 1:
            raise ShapeError("a scale layer takes one axis of features")
        n = in_shape[0]
        return cls(
            initialize(spec.init or InitSpec(name="constant", value=1.0), (1, n), n, n, rng).astype(
                dtype
            )
        )

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def params(self) -> list[Array]:
        return [self.s]

    def param_info(self) -> list[Param]:
        return [SCALE]

    def with_params(self, params: list[Array]) -> Scale:
        return type(self)(params[0], self.act)

    def forward(self, x: Array, train: bool, rng=None) -> tuple[Array, object]:
        return x * self.s, x

    def backward(self, dout: Array, cache, need_dx: bool = True):
        x = cache
        ds = (
            dout.sum(axis=0, keepdims=True) if self.wrong else (dout * x).sum(axis=0, keepdims=True)
        )
        return [ds], (dout * self.s if need_dx else None)


class WrongScale(Scale):
    wrong: ClassVar[bool] = True


SPEC = """\
seed: 0
data: {source: moons, samples: 256, noise: 0.1}
model:
  layers:
    - {units: 8, activation: tanh}
    - {type: scale%s}
    - {units: 1, activation: sigmoid}
loss: bce
train: {optimizer: adam, lr: 0.02, epochs: 30, batch_size: 32}
"""


@pytest.fixture
def scale_type():
    """The test's own type, registered by one call and removed after."""
    register(Scale)
    yield
    unregister("scale")


def test_an_unregistered_type_is_a_spec_error_with_a_suggestion(write_spec):
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(SPEC % ""))
    (problem,) = caught.value.problems
    assert problem.path == ("model", "layers", 1, "type") and "'scale'" in problem.message
    bad = SPEC.replace("{type: scale%s}", "{type: dropuot, rate: 0.2}")
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(bad))
    assert caught.value.problems[0].hint == "did you mean 'dropout'?"


def test_a_type_registered_in_a_test_trains(scale_type, write_spec):
    prepared = prepare(load_spec(write_spec(SPEC % "")))
    net = prepared.network
    assert [type(layer).__name__ for layer in net.layers] == ["Dense", "Scale", "Dense"]
    assert net.names == ["W1", "b1", "s2", "W3", "b3"]
    from nnfix.engine.train import Trainer

    trainer = Trainer(net, prepared.loss, prepared.loaded.spec.train, prepared.batch_rng)
    history = trainer.fit(prepared.data.x_train, prepared.y_train)
    assert history.epochs[-1].accuracy > 0.95
    assert not np.allclose(net.params[2], 1.0)  # the scales learned too


def test_a_type_registered_in_a_test_is_diagnosed_clean(scale_type, write_spec):
    report = diagnose(load_spec(write_spec(SPEC % "")), Selection(), Options(quick=True))
    assert not report.failed, [(f.code, f.message) for f in report.findings]


def test_a_registered_types_wrong_gradient_is_found_at_its_layer(write_spec):
    register(WrongScale)
    try:
        report = diagnose(load_spec(write_spec(SPEC % "")), Selection(), Options(quick=True))
    finally:
        unregister("scale")
    wrong = [f for f in report.findings if f.code == "G101"]
    assert wrong and wrong[0].location.layer == 2 and wrong[0].location.parameter == "s2"
    assert report.failed


def test_the_spec_follows_the_registry(scale_type):
    model = ModelSpec.model_validate(
        {"layers": [{"type": "scale"}, {"units": 1, "activation": "sigmoid"}]}
    )
    assert isinstance(model.layers[0], ScaleSpec)
    unregister("scale")
    with pytest.raises(ValueError):
        ModelSpec.model_validate({"layers": [{"type": "scale"}]})
    register(Scale)  # the fixture removes it again


# --- flatten and dropout in specs; the data's sample shape ---------------------------------

IMAGES = """\
seed: 0
data: {source: images, samples: 256}
model:
  layers:
%s
    - {units: 8, activation: relu}
    - {units: 1, activation: sigmoid}
loss: bce
train: {optimizer: adam, lr: 0.01, epochs: 10, batch_size: 32}
"""


def test_images_keep_their_shape_for_a_first_layer_that_is_not_dense(write_spec):
    flat = prepare(load_spec(write_spec(IMAGES % "    - {type: flatten}")))
    assert flat.network.in_shape == (1, 12, 12) and flat.network.sizes[:2] == [144, 144]
    cache = flat.network.forward(flat.data.x_train[:5])
    assert cache.z[0].shape == (5, 144)
    dense = prepare(load_spec(write_spec(IMAGES % "")))  # a dense first layer: flattened, as before
    assert dense.network.in_shape == (144,)
    np.testing.assert_array_equal(flat.data.x_train, dense.data.x_train)


def test_a_dense_layer_on_images_without_flatten_is_a_spec_error_at_it(write_spec):
    with pytest.raises(SpecError) as caught:
        prepare(load_spec(write_spec(IMAGES % "    - {type: dropout, rate: 0.1}")))
    (problem,) = caught.value.problems
    assert problem.path == ("model", "layers", 1) and "flatten" in problem.message


def test_flatten_and_dropout_train_and_diagnose_clean(write_spec):
    spec = write_spec(IMAGES % "    - {type: flatten}\n    - {type: dropout, rate: 0.2}")
    report = diagnose(load_spec(spec), Selection(), Options(quick=True))
    assert not report.failed, [(f.code, f.message) for f in report.findings]
    assert [row["activation"] for row in report.layers] == ["flatten", "dropout", "relu", "sigmoid"]
    assert [row["units"] for row in report.layers] == [144, 144, 8, 1]
    assert report.series is not None  # the gradient plot's lines: the layers with weights
    assert (report.series.weight_layers, report.series.layers) == ([3, 4], ["relu", "sigmoid"])


def test_dropout_masks_come_from_the_seed_and_are_off_when_evaluating(write_spec):
    spec = write_spec(IMAGES % "    - {type: flatten}\n    - {type: dropout, rate: 0.5}")
    net = prepare(load_spec(spec)).network
    x = np.random.default_rng(0).normal(size=(16, 144))
    one = net.forward(x, train=True, seed=3).a[1]
    assert np.array_equal(one, net.forward(x, train=True, seed=3).a[1])
    assert not np.array_equal(one, net.forward(x, train=True, seed=4).a[1])
    kept = one != 0
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_allclose(one[kept], 2 * x[kept])  # kept values scaled by 1 / (1 - rate)
    np.testing.assert_array_equal(net.forward(x).a[1], x)  # evaluating: no dropout


def test_a_zero_init_behind_a_layer_without_weights_is_found_at_its_own_layer(write_spec):
    """Y101 reads the units along each type's unit axis, layer by layer: a flatten in front
    moves the dense layer's number, and the finding follows it."""
    layers = "    - {type: flatten}\n    - {type: dropout, rate: 0.1}"
    spec = write_spec(
        IMAGES.replace("{units: 8, activation: relu}", "{units: 8, activation: relu, init: zeros}")
        % layers
    )
    report = diagnose(load_spec(spec), Selection(select=["Y101"]), Options(quick=True))
    (y101,) = [f for f in report.findings if f.code == "Y101"]
    assert y101.location.layer == 3 and y101.location.parameter == "W3"
    assert y101.location.path == ("model", "layers", 2, "init")


@pytest.mark.parametrize(
    ("entry", "path", "words"),
    [
        ("{type: flatten, units: 3}", ("model", "layers", 0, "units"), "allowed: type"),
        ("{type: dropout, rate: 1.5}", ("model", "layers", 0, "rate"), "less than 1"),
        ("{type: [dense]}", ("model", "layers", 0, "type"), "['dense'] is no type"),
        ("{type: null, units: 2, activation: relu}", ("model", "layers", 0, "type"), "no type"),
        ("dense", ("model", "layers", 0), "expected a mapping"),
        ("{type: dense}", ("model", "layers", 0), "missing required key 'units'"),
    ],
)
def test_a_bad_layer_entry_is_a_spec_error_at_its_key(write_spec, entry, path, words):
    text = f"data: {{source: moons}}\nmodel:\n  layers: [{entry}, {{units: 1, activation: sigmoid}}]\nloss: bce\n"
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(text))
    problems = caught.value.problems
    assert any(p.path == path and words in p.message for p in problems), problems


def test_nnfix_train_reports_each_layer_by_its_type_and_width(write_spec, tmp_path):
    spec = write_spec(IMAGES % "    - {type: flatten}")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["train", str(spec), "--format", "json", "--no-progress", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    layers = json.loads(result.stdout)["layers"]
    assert [(row["units"], row["activation"]) for row in layers] == [
        (144, "flatten"),
        (8, "relu"),
        (1, "sigmoid"),
    ]
    assert layers[0]["grad_norm"] == [] and len(layers[1]["grad_norm"]) == 10
    svg = (out / "gradients.svg").read_text()
    assert "layer 2 (relu)" in svg and "layer 3 (sigmoid)" in svg and "layer 1" not in svg
