"""The engine's layer types beyond dense (conv2d, max/avg pooling, batchnorm, rnn, lstm): their
shapes, their backward against float64 central differences on parameters and input, each
type's usual mistake failing that same check, batchnorm's two modes, max-pool's kinks, init
fans and determinism."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from nnfix.engine import activations
from nnfix.engine.layers.avgpool2d import AvgPool2d
from nnfix.engine.layers.batchnorm import BatchNorm
from nnfix.engine.layers.conv2d import Conv2d
from nnfix.engine.layers.layer import LayerActivation, ShapeError
from nnfix.engine.layers.lstm import LSTM
from nnfix.engine.layers.maxpool2d import MaxPool2d
from nnfix.engine.layers.rnn import RNN
from nnfix.engine.specs import InitSpec

EPS = 1e-6
TOL = 1e-7  # a right backward shows ~1e-10 here; each usual mistake above 1e-2


def act(name: str) -> LayerActivation:
    fn = activations.get(name)
    return LayerActivation(name, fn.fn, fn.derivative, fn)


def build(cls, spec: dict, in_shape, seed=0, init="he_normal", bias=True, dtype="float64"):
    """A layer of type `cls` from its spec entry, as the network builds it (a non-zero bias, so
    a wrong bias gradient shows)."""
    parsed = cls.Spec(**spec)
    activation = getattr(parsed, "activation", None)
    bias_init = InitSpec(name="normal", std=0.5) if bias else None
    return cls.build(
        parsed,
        tuple(in_shape),
        act(activation.name) if activation is not None else None,
        InitSpec(name=init),
        bias_init,
        np.random.default_rng(seed),
        dtype,
    )


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """‖a − n‖ / (‖a‖ + ‖n‖): 0 when they agree, 1 when they have nothing in common."""
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / scale) if scale else 0.0


def gradient_error(layer, x, train=True, backward=None, seed=1) -> float:
    """The largest relative error between `backward` (default: the layer's) and central
    differences of L = Σ out·R, over every parameter entry and every input entry."""
    R = np.random.default_rng(seed).normal(size=layer.forward(x, train)[0].shape)

    def loss() -> float:
        return float(np.sum(layer.forward(x, train)[0] * R))

    _, cache = layer.forward(x, train)
    grads, dx = (backward or type(layer).backward)(layer, R, cache)
    assert [g.shape for g in grads] == [p.shape for p in layer.params()]
    assert dx.shape == x.shape
    worst = 0.0
    for array, analytic in zip([*layer.params(), x], [*grads, dx], strict=True):
        numeric = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            keep = array[i]
            array[i] = keep + EPS
            up = loss()
            array[i] = keep - EPS
            down = loss()
            array[i] = keep
            numeric[i] = (up - down) / (2 * EPS)
        worst = max(worst, relative_error(analytic, numeric))
    return worst


def normal(*shape, seed=2) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


CONV = {"type": "conv2d", "filters": 3, "kernel": 3, "activation": "relu"}

# (type, spec, input of one sample, the output shape of one sample)
CASES: list[tuple[Any, dict, tuple[int, ...], tuple[int, ...]]] = [
    (Conv2d, {**CONV, "padding": 1}, (2, 6, 6), (3, 6, 6)),
    (Conv2d, {**CONV, "stride": 2}, (2, 7, 6), (3, 3, 2)),
    (Conv2d, {**CONV, "kernel": 2, "stride": 2, "padding": 1}, (1, 5, 5), (3, 3, 3)),
    (Conv2d, {**CONV, "kernel": 2, "stride": 3}, (2, 7, 8), (3, 2, 3)),  # windows gaps apart
    (MaxPool2d, {"type": "maxpool2d", "size": 2}, (2, 6, 6), (2, 3, 3)),
    (MaxPool2d, {"type": "maxpool2d", "size": 2, "stride": 3}, (1, 7, 8), (1, 2, 3)),
    (MaxPool2d, {"type": "maxpool2d", "size": 2, "stride": 1}, (2, 4, 5), (2, 3, 4)),
    (MaxPool2d, {"type": "maxpool2d", "size": 3, "stride": 2}, (1, 7, 6), (1, 3, 2)),
    (AvgPool2d, {"type": "avgpool2d", "size": 2}, (2, 5, 6), (2, 2, 3)),
    (AvgPool2d, {"type": "avgpool2d", "size": 3, "stride": 1}, (1, 5, 4), (1, 3, 2)),
    (BatchNorm, {"type": "batchnorm"}, (5,), (5,)),
    (BatchNorm, {"type": "batchnorm"}, (3, 4, 4), (3, 4, 4)),
    (BatchNorm, {"type": "batchnorm"}, (4, 3), (4, 3)),
    (RNN, {"type": "rnn", "units": 5}, (4, 3), (5,)),
    (RNN, {"type": "rnn", "units": 5, "sequence": "all"}, (4, 3), (4, 5)),
    (RNN, {"type": "rnn", "units": 4, "activation": "sigmoid"}, (4, 3), (4,)),
    (LSTM, {"type": "lstm", "units": 4}, (4, 3), (4,)),
    (LSTM, {"type": "lstm", "units": 4, "sequence": "all"}, (4, 3), (4, 4)),
]
IDS = [f"{cls.type}-{'-'.join(map(str, shape))}-{i}" for i, (cls, _, shape, _) in enumerate(CASES)]


@pytest.mark.parametrize(("cls", "spec", "in_shape", "out_shape"), CASES, ids=IDS)
def test_forward_gives_the_shape_it_states(cls, spec, in_shape, out_shape):
    layer = build(cls, spec, in_shape)
    assert layer.output_shape(in_shape) == out_shape
    out, _ = layer.forward(normal(3, *in_shape), True)
    assert out.shape == (3, *out_shape)
    assert len(layer.param_info()) == len(layer.params())


@pytest.mark.parametrize(("cls", "spec", "in_shape", "out_shape"), CASES, ids=IDS)
def test_backward_matches_central_differences_on_params_and_input(cls, spec, in_shape, out_shape):
    layer = build(cls, spec, in_shape)
    x = normal(3, *in_shape)  # continuous draws: no max-pool ties
    assert gradient_error(layer, x) < TOL


@pytest.mark.parametrize(("cls", "spec", "in_shape", "out_shape"), CASES, ids=IDS)
def test_without_need_dx_the_grads_are_the_same_and_dx_is_not_made(cls, spec, in_shape, out_shape):
    layer = build(cls, spec, in_shape)
    out, cache = layer.forward(normal(3, *in_shape), True)
    dout = normal(*out.shape, seed=5)
    grads, dx = layer.backward(dout, cache)
    alone, none = layer.backward(dout, cache, need_dx=False)
    assert none is None and dx is not None
    for g, h in zip(grads, alone, strict=True):
        assert np.array_equal(g, h)
    kept = [g.copy() for g in grads]
    dx *= 2  # the network scales dx in place: it must share memory with nothing else
    assert all(np.array_equal(g, k) for g, k in zip(grads, kept, strict=True))
    assert not any(np.shares_memory(dx, a) for a in [*layer.params(), *grads])


@pytest.mark.parametrize(
    ("cls", "spec", "in_shape"), [(c, s, i) for c, s, i, _ in CASES if c is Conv2d]
)
def test_conv_without_bias_matches_central_differences(cls, spec, in_shape):
    layer = build(cls, spec, in_shape, bias=False)
    assert [p.name for p in layer.param_info()] == ["W"]
    assert gradient_error(layer, normal(2, *in_shape)) < TOL


def test_batchnorm_in_eval_mode_matches_central_differences():
    layer = build(BatchNorm, {"type": "batchnorm"}, (3, 4, 4))
    layer.running_mean[:] = [0.5, -1.0, 2.0]
    layer.running_var[:] = [0.25, 4.0, 1.5]
    assert gradient_error(layer, normal(2, 3, 4, 4), train=False) < TOL


@pytest.mark.parametrize("sequence", ["last", "all"])
@pytest.mark.parametrize("cls", [RNN, LSTM])
def test_recurrent_layers_without_bias_match_central_differences(cls, sequence):
    layer = build(cls, {"type": cls.type, "units": 3, "sequence": sequence}, (4, 2), bias=False)
    assert [p.name for p in layer.param_info()] == ["Wx", "Wh"]
    assert gradient_error(layer, normal(2, 4, 2)) < TOL


# each type's usual mistake, on data where it matters: the check must catch it
MISTAKES: list[tuple[Any, dict, tuple[int, ...]]] = [
    (Conv2d, {**CONV, "padding": 1}, (2, 5, 5)),
    (BatchNorm, {"type": "batchnorm"}, (4,)),
    (BatchNorm, {"type": "batchnorm"}, (2, 3, 3)),
    (RNN, {"type": "rnn", "units": 3, "sequence": "last"}, (4, 2)),
    (LSTM, {"type": "lstm", "units": 3, "sequence": "last"}, (4, 2)),
    (LSTM, {"type": "lstm", "units": 3, "sequence": "all"}, (4, 2)),
]


@pytest.mark.parametrize(
    ("cls", "spec", "in_shape"), MISTAKES, ids=lambda v: getattr(v, "type", None)
)
def test_each_usual_mistake_fails_the_check_that_the_right_backward_passes(cls, spec, in_shape):
    layer = build(cls, spec, in_shape)
    x = normal(4, *in_shape)
    assert cls.mistakes, f"{cls.type} names no usual mistake"
    assert gradient_error(layer, x) < TOL
    for mistake in cls.mistakes:
        assert gradient_error(layer, x, backward=mistake.backward) > 1e-2, mistake.words


def test_batchnorm_train_mode_normalises_by_the_batch_and_eval_by_the_running_statistics():
    layer = build(BatchNorm, {"type": "batchnorm", "momentum": 0.8}, (3, 2, 2))
    x = (
        normal(16, 3, 2, 2) * np.array([1.0, 3.0, 0.5])[:, None, None]
        + np.array([2.0, -1.0, 0])[:, None, None]
    )
    out, cache = layer.forward(x, True)
    assert np.allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    assert np.allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)
    assert np.array_equal(layer.running_mean, np.zeros(3))  # forward is pure
    assert np.array_equal(layer.running_var, np.ones(3))

    layer.update_buffers(cache)
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    assert np.allclose(layer.running_mean, 0.2 * mean)
    assert np.allclose(layer.running_var, 0.8 + 0.2 * var)

    evaluated, eval_cache = layer.forward(x, False)
    rm, rv = layer.running_mean[None, :, None, None], layer.running_var[None, :, None, None]
    assert np.allclose(evaluated, (x - rm) / np.sqrt(rv + layer.eps))
    assert not np.allclose(evaluated, out)
    layer.update_buffers(eval_cache)  # eval moves nothing
    assert np.allclose(layer.running_mean, 0.2 * mean)


def test_batchnorm_after_dense_normalises_each_unit_and_copies_keep_their_own_statistics():
    layer = build(BatchNorm, {"type": "batchnorm"}, (4,))
    x = normal(32, 4) * 5 + 3
    out, cache = layer.forward(x, True)
    assert np.allclose(out.mean(axis=0), 0, atol=1e-12)
    copy = layer.with_params([p.copy() for p in layer.params()])
    copy.update_buffers(cache)
    assert np.array_equal(layer.running_mean, np.zeros(4))
    assert not np.array_equal(copy.running_mean, np.zeros(4))
    assert set(layer.buffers()) == {"running_mean", "running_var"}


def test_max_pool_sends_each_gradient_to_one_entry_and_reports_ties_as_kinks():
    layer = build(MaxPool2d, {"type": "maxpool2d", "size": 2}, (1, 4, 4))
    x = normal(3, 1, 4, 4)
    x[1, 0, 2, 2] = x[1, 0, 2:4, 2:4].max()  # a tie in sample 1's last window
    x[1, 0, 3, 3] = x[1, 0, 2, 2]
    out, cache = layer.forward(x, True)
    _, dx = layer.backward(np.ones_like(out), cache)
    assert dx.sum() == out.size and set(np.unique(dx)) <= {0.0, 1.0}
    kinks = layer.kinks(cache)
    assert kinks is not None
    assert kinks.margin[1] == 0
    assert kinks.margin[0] > EPS and kinks.margin[2] > EPS
    flat = x.reshape(3, 1, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(3, 1, 2, 2, 4)
    assert np.array_equal(kinks.pattern, flat.argmax(axis=-1))
    assert np.array_equal(out, flat.max(axis=-1))


def test_an_rnn_with_a_kinked_cell_reports_how_far_each_sample_is_from_a_kink():
    rnn = build(RNN, {"type": "rnn", "units": 3, "activation": "relu"}, (4, 2))
    x = normal(5, 4, 2)
    _, cache = rnn.forward(x, True)
    kinks = rnn.kinks(cache)
    assert kinks is not None
    h, zs = np.zeros((5, 3)), []
    for t in range(4):
        zs.append(x[:, t] @ rnn.Wx + h @ rnn.Wh + rnn.b)
        h = np.maximum(zs[-1], 0)
    z = np.stack(zs, axis=1)  # (batch, T, units)
    assert np.allclose(kinks.margin, np.abs(z).min(axis=(1, 2)))
    assert kinks.pattern.sum() == (z > 0).sum()


def test_smooth_types_report_no_kinks():
    for cls, spec, in_shape, _ in CASES:
        if cls is not MaxPool2d:
            layer = build(cls, spec, in_shape)
            assert layer.kinks(layer.forward(normal(2, *in_shape), True)[1]) is None


def test_conv_forward_is_the_sum_over_its_window():
    layer = build(Conv2d, {**CONV, "stride": 2, "padding": 1}, (2, 5, 5))
    x = normal(2, 2, 5, 5)
    out, _ = layer.forward(x, True)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, f, i, j = 1, 2, 1, 2  # output (i, j) reads rows 2i..2i+2, columns 2j..2j+2 of padded
    window = padded[n, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3]
    assert math.isclose(out[n, f, i, j], np.sum(window * layer.W[f]) + layer.b[f])


def test_recurrent_states_follow_their_update():
    rnn = build(RNN, {"type": "rnn", "units": 3, "sequence": "all"}, (4, 2))
    x = normal(2, 4, 2)
    out, _ = rnn.forward(x, True)
    h = np.zeros((2, 3))
    for t in range(4):
        h = np.tanh(x[:, t] @ rnn.Wx + h @ rnn.Wh + rnn.b)
        assert np.allclose(out[:, t], h)

    lstm = build(LSTM, {"type": "lstm", "units": 3}, (4, 2))
    out, _ = lstm.forward(x, True)
    sig = activations.logistic
    h, c = np.zeros((2, 3)), np.zeros((2, 3))
    for t in range(4):
        a = x[:, t] @ lstm.Wx + h @ lstm.Wh + lstm.b
        i, f, o, g = sig(a[:, :3]), sig(a[:, 3:6]), sig(a[:, 6:9]), np.tanh(a[:, 9:])
        c = f * c + i * g
        h = o * np.tanh(c)
    assert np.allclose(out, h)


def test_conv_init_reads_its_fans_per_filter():
    layer = build(Conv2d, {**CONV, "filters": 64, "kernel": 3}, (8, 5, 5))
    assert layer.fans((8, 5, 5)) == (8 * 9, 64 * 9)
    assert layer.W.shape == (64, 8, 3, 3)
    assert math.isclose(layer.W.std(), math.sqrt(2 / 72), rel_tol=0.05)
    assert [(p.name, p.role, p.unit_axis) for p in layer.param_info()] == [
        ("W", "weight", 0),
        ("b", "bias", 0),
    ]


@pytest.mark.parametrize("cls", [RNN, LSTM])
def test_recurrent_init_reads_input_and_state_fans(cls):
    layer = build(cls, {"type": cls.type, "units": 64}, (5, 32), init="lecun_normal")
    assert layer.fans((5, 32)) == (32, 64)
    assert math.isclose(layer.Wx.std(), math.sqrt(1 / 32), rel_tol=0.05)
    assert math.isclose(layer.Wh.std(), math.sqrt(1 / 64), rel_tol=0.05)
    assert [(p.name, p.role) for p in layer.param_info()] == [
        ("Wx", "weight"),
        ("Wh", "recurrent"),
        ("b", "bias"),
    ]


@pytest.mark.parametrize(("cls", "spec", "in_shape", "out_shape"), CASES, ids=IDS)
def test_same_seed_same_layer_and_output(cls, spec, in_shape, out_shape):
    a, b = build(cls, spec, in_shape, seed=7), build(cls, spec, in_shape, seed=7)
    for p, q in zip(a.params(), b.params(), strict=True):
        assert np.array_equal(p, q)
    x = normal(2, *in_shape)
    assert np.array_equal(a.forward(x, True)[0], b.forward(x, True)[0])
    if a.params() and cls is not BatchNorm:  # batchnorm starts at the identity whatever the seed
        other = build(cls, spec, in_shape, seed=8)
        assert not np.array_equal(a.params()[0], other.params()[0])


def test_float32_layers_compute_in_float32():
    for cls, spec, in_shape, _ in CASES:
        layer = build(cls, spec, in_shape, dtype="float32")
        out, cache = layer.forward(normal(2, *in_shape).astype(np.float32), True)
        assert out.dtype == np.float32, cls.type
        grads, dx = layer.backward(np.ones_like(out), cache)
        assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads), cls.type


@pytest.mark.parametrize(
    ("cls", "spec", "in_shape", "words"),
    [
        (Conv2d, CONV, (5,), "(C, H, W)"),
        (Conv2d, {**CONV, "kernel": 5}, (1, 4, 4), "does not fit"),
        (MaxPool2d, {"type": "maxpool2d", "size": 3}, (1, 2, 8), "does not fit"),
        (AvgPool2d, {"type": "avgpool2d", "size": 2}, (4, 4), "(C, H, W)"),
        (RNN, {"type": "rnn", "units": 2}, (1, 4, 4), "(T, features)"),
        (LSTM, {"type": "lstm", "units": 2}, (8,), "(T, features)"),
    ],
)
def test_an_input_a_type_cannot_take_is_a_shape_error(cls, spec, in_shape, words):
    with pytest.raises(ShapeError, match=words.replace("(", r"\(").replace(")", r"\)")):
        build(cls, spec, in_shape)


def test_an_rnn_refuses_softmax_as_its_cell():
    spec = RNN.Spec(type="rnn", units=2, activation="softmax")
    softmax = activations.get("softmax")
    cell = LayerActivation("softmax", softmax.fn, None, softmax)
    with pytest.raises(ShapeError) as raised:
        RNN.build(
            spec, (3, 2), cell, InitSpec(name="he_normal"), None, np.random.default_rng(), "float64"
        )
    assert raised.value.key == "activation"


def test_specs_take_their_documented_keys_and_refuse_others():
    assert MaxPool2d.Spec(type="maxpool2d", size=2).stride is None
    assert RNN.Spec(type="rnn", units=4).activation.name == "tanh"
    assert LSTM.Spec(type="lstm", units=4).sequence == "last"
    for cls, bad in [
        (Conv2d, {**CONV, "padding": -1}),
        (Conv2d, {**CONV, "dilation": 2}),
        (RNN, {"type": "rnn", "units": 4, "sequence": "first"}),
        (BatchNorm, {"type": "batchnorm", "momentum": 1.0}),
        (AvgPool2d, {"type": "maxpool2d", "size": 2}),
    ]:
        with pytest.raises(ValueError):
            cls.Spec(**bad)


# --- through the spec: the types train, are diagnosed clean, and their mistakes are found ------

CNN_SPEC = """\
seed: 0
data: {source: images, classes: 3, samples: 300}
model:
  layers:
    - {type: conv2d, filters: 4, kernel: 3, padding: 1, activation: relu}
    - {type: maxpool2d, size: 2}
    - {type: batchnorm}
    - {type: conv2d, filters: 6, kernel: 3, padding: 1, activation: relu}
    - {type: avgpool2d, size: 2}
    - {type: flatten}
    - {units: 3, activation: softmax}
loss: cce
train: {optimizer: adam, lr: 0.01, epochs: 10, batch_size: 32}
"""
SEQUENCE_SPEC = """\
seed: 0
data: {source: sequences, target: label, classes: 2, samples: 300, validation: 0.2}
model:
  init: xavier_uniform
  layers:
    - %s
    - {units: 2, activation: softmax}
loss: cce
train: {optimizer: adam, lr: 0.01, epochs: 10, batch_size: 32}
"""
SPECS = {
    "cnn": CNN_SPEC,
    "rnn": SEQUENCE_SPEC % "{type: rnn, units: 8}",
    "lstm": SEQUENCE_SPEC % "{type: lstm, units: 8, sequence: all}\n    - {type: flatten}",
}


def diagnosed(path, quick=True):
    """The report of `path`; `quick`: without the training probes (what T10x read)."""
    from nnfix.diagnose.context import Options
    from nnfix.diagnose.pipeline import Selection, diagnose
    from nnfix.spec.load import load_spec

    return diagnose(load_spec(path), Selection(), Options(quick=quick))


@pytest.mark.parametrize("name", list(SPECS))
def test_a_spec_of_the_types_trains_and_is_diagnosed_clean(name, write_spec):
    from nnfix.engine.train import Trainer
    from nnfix.run.prepare import prepare
    from nnfix.spec.load import load_spec

    path = write_spec(SPECS[name])
    prepared = prepare(load_spec(path))
    trainer = Trainer(
        prepared.network, prepared.loss, prepared.loaded.spec.train, prepared.batch_rng
    )
    history = trainer.fit(prepared.data.x_train, prepared.y_train)
    assert history.epochs[-1].accuracy > 0.9, [e.accuracy for e in history.epochs]
    report = diagnosed(path)
    assert not report.failed, [(f.code, f.message) for f in report.findings]


def mistaken(cls):
    """`cls` with its first usual mistake as its backward."""
    mistake = cls.mistakes[0]

    def backward(self, dout, cache, need_dx=True):
        return mistake.backward(self, dout, cache)

    return type(f"Mistaken{cls.__name__}", (cls,), {"backward": backward})


# (type, spec, its layer): rnn and lstm get their own gradients wrong; conv2d's and batchnorm's
# mistakes are in dL/dx: the gradients found wrong are those of the layers below them, and the
# check's comparison of each layer's dL/dx with the truth names the layer itself
PLANTED: list[tuple[Any, str, int]] = [
    (RNN, "rnn", 1),
    (LSTM, "lstm", 1),
    (Conv2d, "cnn", 4),
    (BatchNorm, "cnn", 3),
]


@pytest.mark.parametrize(("cls", "spec", "layer"), PLANTED, ids=[c.type for c, _, _ in PLANTED])
def test_a_planted_usual_mistake_is_found_by_diagnose(cls, spec, layer, write_spec):
    from nnfix.engine.layers import register

    path = write_spec(SPECS[spec])
    register(mistaken(cls))
    try:
        report = diagnosed(path)
    finally:
        register(cls)
    wrong = [f for f in report.findings if f.code == "G101"]
    assert report.failed and wrong, [(f.code, f.message) for f in report.findings]
    first = [f for f in wrong if f.evidence["first_wrong"]]
    assert [f.location.layer for f in first] == [layer], [(f.code, f.message) for f in wrong]
    if cls in (RNN, LSTM):
        assert {f.location.layer for f in wrong} == {layer}
    else:
        (root,) = first
        assert root.evidence["input_gradient"] and root.location.parameter is None
        assert f"the bug enters in layer {layer}'s input gradient" in root.message
        below = [f for f in wrong if f is not root]
        assert below and all(f.location.layer < layer for f in below)
        assert f"layer {layer}'s backward hands down" in below[0].message


TEXT_SPEC = """\
seed: 0
data: {source: text, length: 8, samples: 120, validation: %s}
model:
  init: xavier_uniform
  layers:
    - {type: rnn, units: 8}
    - {units: %d, activation: softmax}
loss: cce
train: {optimizer: adam, lr: 0.01, epochs: 2, batch_size: 32}
"""


@pytest.mark.parametrize("validation", [0, 0.2])
def test_token_data_with_or_without_a_validation_split_is_one_hot_of_its_vocabulary(
    validation, write_spec
):
    from nnfix.run.prepare import prepare
    from nnfix.spec.load import load_spec

    vocab = prepare(load_spec(write_spec(TEXT_SPEC % (validation, 2)))).data.x_train.shape[1] // 8
    healthy = prepare(load_spec(write_spec(TEXT_SPEC % (validation, vocab))))
    data = healthy.data
    assert healthy.network.in_shape == (8, vocab)
    assert data.x_val.shape == (round(120 * validation), 8 * vocab)
    assert np.all(data.x_train.reshape(-1, 8, vocab).sum(axis=2) == 1)
    assert not diagnosed(write_spec(TEXT_SPEC % (validation, vocab))).failed
    wrong = diagnosed(write_spec(TEXT_SPEC % (validation, vocab - 3)))
    assert [(f.code, f.location.layer) for f in wrong.findings if f.severity == "error"] == [
        ("D103", 2)
    ]


# --- the activation a pass reads is the one the layer type answers (the rnn's cell) ------------

RNN_CELL = SEQUENCE_SPEC % "{type: rnn, units: 8, activation: %s}"


@pytest.mark.parametrize(
    ("declared", "codes"),
    [
        ('{name: tanh, derivative: "1 - a**2", derivative_of: a}', []),
        ('{name: tanh, derivative: "1 - z**2"}', ["A102"]),  # tanh's, written in a, given z
        ('{name: tanh, derivative: "z * (1 - z)"}', ["A103"]),  # sigmoid's
    ],
)
def test_a_derivative_declared_on_an_rnn_cell_is_judged_against_the_cell(
    declared, codes, write_spec
):
    report = diagnosed(write_spec(RNN_CELL % declared))
    roots = [f for f in report.findings if f.code.startswith("A")]
    assert [(f.code, f.location.layer) for f in roots] == [(c, 1) for c in codes]
    assert all("linear" not in f.message for f in roots), [f.message for f in roots]
    if codes == ["A103"]:
        assert "sigmoid" in roots[0].message and "tanh" in roots[0].message


def test_the_train_table_names_an_rnn_layer_by_its_cell(write_spec, tmp_path):
    from nnfix.run.training import train
    from nnfix.spec.load import load_spec

    path = write_spec(RNN_CELL.replace("epochs: 10", "epochs: 1") % "sigmoid")
    layers = train(load_spec(path), out=tmp_path / "run").summary["layers"]
    assert [row["activation"] for row in layers] == ["sigmoid", "softmax"]


def test_an_rnn_relu_cell_dead_on_every_step_is_t107_at_the_rnn(write_spec):
    spec = RNN_CELL % "relu"
    assert "T107" not in {f.code for f in diagnosed(write_spec(spec), quick=False).findings}
    dead = spec.replace(
        "init: xavier_uniform", "init: xavier_uniform\n  bias_init: {name: constant, value: -20}"
    )
    found = [f for f in diagnosed(write_spec(dead), quick=False).findings if f.code == "T107"]
    assert [(f.location.layer, f.evidence["units"]) for f in found] == [(1, 8)]


# --- unit rules read each type's unit axis: a conv filter is one unit --------------------------

DEAD_CONV = CNN_SPEC.replace(
    "- {type: conv2d, filters: 4, kernel: 3, padding: 1, activation: relu}",
    "- {type: conv2d, filters: 4, kernel: 3, padding: 1, activation: relu,"
    " bias_init: {name: constant, value: -20}}",
)


def test_dead_relu_counts_conv_filters_not_output_positions(write_spec):
    assert "T107" not in {f.code for f in diagnosed(write_spec(CNN_SPEC), quick=False).findings}
    found = [f for f in diagnosed(write_spec(DEAD_CONV), quick=False).findings if f.code == "T107"]
    # layer 1's 4 filters; the conv above them (6 filters) then sees only zeros, dead as well
    filters = {1: 4, 4: 6}
    assert found and found[0].location.layer == 1
    for f in found:
        assert f.evidence["units"] == filters[f.location.layer], f.message
    assert (found[0].evidence["dead"], found[0].evidence["units"]) == (4, 4)
    assert "4 of layer 1's 4 relu units" in found[0].message


def test_by_unit_puts_a_conv_filter_in_one_column():
    from nnfix.engine.network import Network

    conv = build(Conv2d, CONV, (2, 5, 5))
    net = Network([conv], (2, 5, 5))
    z = net.forward(normal(3, 2, 5, 5)).z[0]  # (3, F, 3, 3)
    columns = net.by_unit(1, z)
    assert columns.shape == (3 * 3 * 3, 3)
    assert np.array_equal(np.sort(columns[:, 1]), np.sort(z[:, 1].ravel()))


# --- init statistics compare like with like: a batchnorm's output is not an init's explosion ---

LSTM_NORM = SEQUENCE_SPEC % "{type: lstm, units: 16}\n    - {type: batchnorm}"


def test_a_normalised_lstm_is_no_init_scale_mismatch(write_spec):
    healthy = diagnosed(write_spec(LSTM_NORM), quick=False)
    assert not [f for f in healthy.findings if f.severity in ("error", "warning")], [
        (f.code, f.message) for f in healthy.findings
    ]


def test_a_saturating_rnn_cell_under_a_batchnorm_is_y103_at_the_rnn(write_spec):
    """The batchnorm above hides the scale from the output; the cell's own z shows it (its
    input and recurrent weights both drawn at std 20), and the suited init redraws both."""
    spec = SEQUENCE_SPEC % "{type: rnn, units: 16}\n    - {type: batchnorm}"
    assert "Y103" not in {f.code for f in diagnosed(write_spec(spec)).findings}
    wild = spec.replace("init: xavier_uniform", "init: {name: normal, std: 20}")
    found = [f for f in diagnosed(write_spec(wild)).findings if f.code == "Y103"]
    assert [(f.location.layer, f.location.parameter) for f in found] == [(1, "Wx1")]
    assert "16 of layer 1's 16 units start saturated" in found[0].message
    assert "tanh units" in found[0].message


def test_a_layer_without_parameters_whose_dx_is_wrong_is_named_by_the_gradient_check(
    write_spec,
):
    from nnfix.engine.layers import register
    from nnfix.engine.layers.avgpool2d import AvgPool2d

    class Halved(AvgPool2d):  # dx half of the truth: 1/(2·k²) per window entry
        def backward(self, dout, cache, need_dx=True):
            grads, dx = super().backward(dout, cache, need_dx)
            return grads, (dx / 2 if dx is not None else None)

    path = write_spec(CNN_SPEC)
    register(Halved)
    try:
        report = diagnosed(path)
    finally:
        register(AvgPool2d)
    roots = [f for f in report.findings if f.code == "G101" and f.evidence["first_wrong"]]
    assert [(f.location.layer, f.evidence.get("input_gradient")) for f in roots] == [(5, True)]
    assert "every tensor above it matches (it has no parameters)" in roots[0].message
    assert {f.location.layer for f in report.findings if f.code == "G101"} >= {4, 5}


def test_a_wrong_declared_derivative_is_not_blamed_on_the_input_gradient_above_it(write_spec):
    """relu's derivative declared as 1 everywhere on the second conv: its own filters' gradients
    are wrong, which names it; no layer's dL/dx is blamed."""
    spec = CNN_SPEC.replace(
        "- {type: conv2d, filters: 6, kernel: 3, padding: 1, activation: relu}",
        '- {type: conv2d, filters: 6, kernel: 3, padding: 1, activation: {name: relu, derivative: "1 + 0*z"}}',
    )
    report = diagnosed(write_spec(spec))
    wrong = [f for f in report.findings if f.code == "G101"]
    assert [f.location.layer for f in wrong if f.evidence["first_wrong"]] == [4]
    assert not any("input_gradient" in f.evidence for f in wrong)
    assert ("A103", 4) in {(f.code, f.location.layer) for f in report.findings}
