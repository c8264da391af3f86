"""The gradient check: planted bugs detected, localised and classified; healthy nets silent."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnfix
from nnfix.diagnose.context import Options
from nnfix.diagnose.gradcheck import band, classify, gradcheck, relative_error
from nnfix.diagnose.network_check import NetworkTarget
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.engine import activations
from nnfix.engine.losses import Loss
from nnfix.engine.network import LayerActivation, Network
from nnfix.spec.load import load_spec

from .conftest import CONFIGS


def layer(name):
    act = activations.get(name)
    return LayerActivation(name, act.fn, act.derivative if act.elementwise else None, act)


def net_and_batch(sizes=(4, 5, 5, 3), names=("tanh", "tanh", "softmax"), m=8, seed=0):
    rng = np.random.default_rng(seed)
    W = [rng.normal(0, 0.7, (a, b)) for a, b in itertools.pairwise(sizes)]
    b = [rng.normal(0, 0.1, (1, n)) for n in sizes[1:]]
    net = Network.dense(W, b, [layer(n) for n in names])
    x = rng.normal(size=(m, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], m)]
    return net, x, y


def check(net, x, y, corrupt=None, mode="full"):
    target = NetworkTarget(net, x, y, Loss("cce"))
    if corrupt:
        corrupt(target.grads)
    return target.check(mode=mode)


def test_correct_gradients_are_excellent_in_every_mode():
    net, x, y = net_and_batch()
    for mode in ("full", "directional", "sampled", "auto"):
        result = check(net, x, y, mode=mode)
        assert result.ok, result.table()
        assert all(t.band in ("excellent", "fine") for t in result.tensors), result.table()


@pytest.mark.parametrize(
    ("bug", "tensor", "kind"),
    [
        (lambda g: g.__setitem__(2, -g[2]), "W2", "sign flipped"),
        (lambda g: g.__setitem__(2, g[2] * 8), "W2", "scaled by the batch size (8)"),
        (lambda g: g.__setitem__(0, g[0] / 8), "W1", "divided by the batch size (8)"),
        (lambda g: g.__setitem__(4, g[4] * 3.5), "W3", "scaled by a constant 3.5"),
        (lambda g: g.__setitem__(2, g[2].T.copy()), "W2", "transposed"),
        (lambda g: g.__setitem__(2, np.zeros_like(g[2])), "W2", "zero"),
        (lambda g: g.__setitem__(3, g[3] + 0.3), "b2", "wrong in its pattern"),
    ],
)
def test_planted_bug_is_found_in_its_tensor_and_classified(bug, tensor, kind):
    net, x, y = net_and_batch()
    result = check(net, x, y, corrupt=bug)
    assert [t.name for t in result.wrong] == [tensor], result.table()
    assert result.wrong[0].classification.startswith(kind)
    assert [t.name for t in result.tensors][:2] == ["W3", "b3"]  # output layer first


def test_auto_mode_finds_a_scaled_tensor_in_a_large_net_cheaply():
    net, x, y = net_and_batch(sizes=(60, 80, 80, 10), names=("relu", "relu", "softmax"), m=16)
    result = check(net, x, y, corrupt=lambda g: g.__setitem__(2, g[2] * 16), mode="auto")
    assert [t.name for t in result.wrong] == ["W2"]
    assert result.wrong[0].classification.startswith("scaled by the batch size")
    # every entry of small tensors, 2 directions + 16 entries of large ones: not 2 per parameter;
    # the wrong tensor (W2) is measured once more at a 10x step, to tell a bug from noise
    budget = 1 + sum(2 * p.size if p.size <= 256 else 2 * (2 + 16) for p in net.params)
    budget += 2 * (2 + 16)
    assert result.evaluations == budget < 2 * sum(p.size for p in net.params) / 20


def test_public_api_and_assert_gradients():
    params = {"w": np.array([1.0, -2.0, 0.5])}
    f = lambda p: float(np.sum(p["w"] ** 3))  # noqa: E731
    right = lambda p: {"w": 3 * p["w"] ** 2}  # noqa: E731
    wrong = lambda p: {"w": 2 * p["w"] ** 2}  # noqa: E731
    assert nnfix.gradcheck(f, right, params).ok
    with pytest.raises(AssertionError, match="gradients of w do not match") as caught:
        nnfix.assert_gradients(f, wrong, params)
    assert "finite differences" in str(caught.value) and "wrong" in str(caught.value)
    assert params["w"].tolist() == [1.0, -2.0, 0.5]  # the caller's arrays are not touched


def test_bands_and_relative_error():
    assert [band(e) for e in (1e-9, 1e-6, 1e-4, 0.5)] == [
        "excellent",
        "fine",
        "suspicious",
        "wrong",
    ]
    assert relative_error([1, 1], [1, 1]) == 0 and relative_error([1], [-1]) == 1
    assert classify(np.array([2.0, 4.0]), np.array([-2.0, -4.0]), (2,), None)[0].startswith(
        "sign flipped"
    )


HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "swish", "linear"]


@given(
    widths=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    hidden=st.sampled_from(HIDDEN),
    head=st.sampled_from([("sigmoid", "bce", 1), ("softmax", "cce", 3), ("linear", "mse", 2)]),
    seed=st.integers(0, 10_000),
)
@settings(max_examples=40, deadline=None)
def test_healthy_specs_have_no_gradient_or_derivative_errors(
    tmp_path_factory, widths, hidden, head, seed
):
    out, loss, units = head
    layers = "".join(f"    - {{units: {w}, activation: {hidden}}}\n" for w in widths)
    data = (
        "{source: spirals, classes: 3, samples: 90}"
        if loss == "cce"
        else "{source: moons, samples: 90}"
    )
    if loss == "mse":
        data = "{source: linear, features: 3, samples: 90}"
        units = 1
    text = f"seed: {seed}\ndata: {data}\nmodel:\n  layers:\n{layers}    - {{units: {units}, activation: {out}}}\nloss: {loss}\n"
    path = tmp_path_factory.mktemp("spec") / "spec.yaml"
    path.write_text(text)
    report = diagnose(load_spec(path), Selection(["G", "A"]), Options(quick=True))
    assert [f.code for f in report.findings if f.severity.value == "error"] == []


def findings(path, select=("G", "A")):
    return diagnose(load_spec(path), Selection(list(select)), Options(quick=True)).findings


def test_failure_story_root_causes_and_symptoms():
    found = findings(CONFIGS / "story-derivatives.yaml")
    by = {}
    for f in found:
        by.setdefault(f.code, []).append(f)
    assert [f.location.layer for f in by["A102"]] == [1, 2, 3]
    assert [f.location.layer for f in by["A103"]] == [4] and by["A103"][0].evidence[
        "derivative_of"
    ] == "tanh"
    assert (
        by["A102"][0].fix.path == ("model", "layers", 0, "activation", "derivative_of")
        and by["A102"][0].fix.value == "a"
    )
    assert by["A103"][0].fix.value == "a * (1 - a)"
    (g102,) = by["G102"]
    assert g102.fix.value == "-(y/a - (1 - y)/(1 - a))"
    first = [f for f in by["G101"] if f.evidence["first_wrong"]]
    assert [f.location.parameter for f in first] == ["W4"]
    assert all(f.caused_by for f in by["G101"])
    assert by["G101"][0].caused_by[0] in ("A102", "A103")
    w1 = next(f for f in by["G101"] if f.location.parameter == "W1")
    assert w1.caused_by[0] == "A102" and "G102" in w1.caused_by


def spec(write_spec, hidden="tanh", output="sigmoid", loss="bce"):
    return write_spec(
        f"""
        data: {{source: moons, samples: 80}}
        model:
          init: xavier_normal
          layers:
            - units: 6
              activation: {hidden}
            - units: 6
              activation: tanh
            - units: 1
              activation: {output}
        loss: {loss}
        """
    )


def test_sign_flipped_derivative_in_one_layer(write_spec):
    found = findings(
        spec(write_spec, hidden='{name: tanh, derivative: "-(1 - a**2)", derivative_of: a}')
    )
    (a101,) = [f for f in found if f.code == "A101"]
    assert a101.location.layer == 1 and "sign is flipped" in a101.message
    wrong = [f.location.parameter for f in found if f.code == "G101"]
    assert wrong == ["W1", "b1"]  # layers 2 and 3 match: the bug enters at layer 1
    assert (
        next(f for f in found if f.code == "G101")
        .evidence["classification"]
        .startswith("sign flipped")
    )


def test_derivative_of_another_activation_in_z(write_spec):
    found = findings(
        spec(write_spec, hidden='{name: tanh, derivative: "sigmoid(z) * (1 - sigmoid(z))"}')
    )
    (a103,) = [f for f in found if f.code == "A103"]
    assert a103.evidence["derivative_of"] == "sigmoid" and a103.fix.value == "1 - tanh(z)**2"


def test_wrong_derivative_that_no_hypothesis_explains(write_spec):
    found = findings(spec(write_spec, hidden='{name: tanh, derivative: "1 - abs(z)"}'))
    (a101,) = [f for f in found if f.code == "A101"]
    assert a101.fix.value == "1 - tanh(z)**2" and len(a101.evidence["worst"]) == 3


@pytest.mark.parametrize(
    ("gradient", "fragment", "factor"),
    [
        ('"(y/a - (1 - y)/(1 - a))"', "its sign is flipped", -1.0),
        ('"-(y/a + (1 - y/1 - a))"', "at y = ", None),
        ('"-(y/a - (1 - y)/(1 - a)) / 80"', "the derivative times 0.0125", 0.0125),
    ],
)
def test_loss_gradient_errors(write_spec, gradient, fragment, factor):
    """A wrong declared loss gradient is G102; the gradients it makes wrong are its symptoms:
    G101 from the output layer down, or — when it is off by one constant — one G105."""
    found = findings(spec(write_spec, loss=f"{{name: bce, gradient: {gradient}}}"))
    (g102,) = [f for f in found if f.code == "G102"]
    assert fragment in g102.message
    if factor is None:
        assert "W3" in [f.location.parameter for f in found if f.code == "G101"]
    else:
        (g105,) = [f for f in found if f.code == "G105"]
        assert g105.evidence["factor"] == pytest.approx(factor, rel=1e-3)
        assert g105.caused_by == ["G102"] and not [f for f in found if f.code == "G101"]


def test_a_declared_factor_beside_a_wrong_derivative_is_a_g105_and_g101s_below_it(write_spec):
    """mse's gradient declared without its 2 (every tensor ½×) and layer 2's derivative given z:
    the ½ is read from the tensors above layer 2 — a G105 the G102 explains — and only layers
    2 and 1 are G101, explained by the A102 (SPEC §3.3)."""
    path = write_spec(
        """
        data: {source: linear, features: 3, samples: 90}
        model:
          init: {name: normal, std: 0.4}
          layers:
            - {units: 9, activation: tanh}
            - {units: 9, activation: {name: tanh, derivative: "1 - z**2"}}
            - {units: 9, activation: tanh}
            - {units: 1, activation: linear}
        loss: {name: mse, gradient: "a - y"}
        """
    )
    found = findings(path)
    (g105,) = [f for f in found if f.code == "G105"]
    assert g105.evidence["factor"] == pytest.approx(0.5, rel=1e-4)
    assert g105.evidence["tensors"] == ["W4", "b4", "W3", "b3"] and g105.caused_by == ["G102"]
    g101 = [f for f in found if f.code == "G101"]
    assert [f.location.parameter for f in g101] == ["W2", "b2", "W1", "b1"]
    assert all(f.caused_by[0] == "A102" for f in g101)  # the most direct cause first
    assert g101[0].message.startswith("W4, b4, W3 and b3 are 0.5 × the true gradient; W2 is")


def test_the_constant_is_read_from_the_tensors_nearest_the_output_that_agree():
    from nnfix.diagnose.conventions import reading

    net, x, y = net_and_batch(sizes=(4, 5, 5, 5, 3), names=("tanh",) * 3 + ("softmax",))

    def read(**factors):
        target = NetworkTarget(net, x, y, Loss("cce"))
        for name, factor in factors.items():
            target.grads[net.names.index(name)] *= factor
        return reading(target.check(mode="full"), lambda name: int(name[1:]))

    half = dict.fromkeys(net.names, 0.5)
    # the sign of the delta into layer 3 flipped, W2 twice the ½ the rest carries
    found = read(**half | {"W3": -0.5, "b3": -0.5, "W2": 1.0})
    assert found.c == pytest.approx(0.5, rel=1e-6)
    assert [t.name for t in found.off] == ["W3", "b3", "W2"]
    # a bug in the output layer alone: its factor is no convention, the rest agree on 1
    found = read(W4=3.0)
    assert found.c == 1.0 and [t.name for t in found.off] == ["W4"]
    # every weight m× (a shared dense layer's dW without its 1/m), every bias right: W4 and b4
    # disagree, so the output layer carries no convention; nor does any other
    found = read(**dict.fromkeys(["W4", "W3", "W2", "W1"], 8.0))
    assert found.c == 1.0 and [t.name for t in found.off] == ["W4", "W3", "W2", "W1"]
    # every tensor ½×: the convention alone; every tensor right: none
    found = read(**half)
    assert found.c == pytest.approx(0.5, rel=1e-6) and found.off == [] and found.convention
    assert read().convention is None and read().off == []


def test_right_declarations_are_silent(write_spec):
    path = spec(
        write_spec,
        hidden='{name: tanh, derivative: "1 - z**2", derivative_of: a}',
        output='{name: sigmoid, derivative: "a * (1 - a)"}',
        loss='{name: bce, gradient: "a - y", gradient_of: z}',
    )
    assert findings(path) == []


def test_relu_net_with_kinks_is_not_reported_wrong(write_spec):
    path = write_spec(
        """
        data: {source: moons, samples: 200}
        model:
          bias_init: zeros
          layers:
            - {units: 32, activation: relu}
            - {units: 32, activation: relu}
            - {units: 1, activation: sigmoid}
        loss: bce
        """
    )
    assert [f.code for f in findings(path) if f.code != "G104"] == []


def test_user_function_in_float32_is_g104(write_spec, tmp_path):
    (tmp_path / "mine.py").write_text(
        "import numpy as np\ndef d(a):\n    return (1 - a**2).astype(np.float32)\n"
    )
    found = findings(
        spec(write_spec, hidden="{name: tanh, derivative: 'mine.py:d', derivative_of: a}")
    )
    (g104,) = [f for f in found if f.code == "G104"]
    assert (
        g104.evidence["dtype"] == "float32"
        and g104.location.spec_path == "model.layers[0].activation.derivative"
    )
    assert not [
        f for f in found if f.severity.value == "error"
    ]  # float32 rounding is not a wrong gradient


def test_only_the_bias_wrong_is_said(write_spec, monkeypatch):
    right = NetworkTarget.__init__

    def summed_twice(self, *args, **kwargs):  # as if db were reduced over the wrong axis
        right(self, *args, **kwargs)
        self.grads[3] = self.grads[3] * 2

    monkeypatch.setattr(NetworkTarget, "__init__", summed_twice)
    (g101,) = [f for f in findings(spec(write_spec)) if f.code == "G101"]
    assert g101.location.parameter == "b2" and "only the bias of layer 2 is wrong" in g101.message
    assert "W3, b3 and W2 match;" in g101.message


def test_fortran_ordered_parameters_are_perturbed_for_real():
    w = np.asfortranarray(np.arange(6.0).reshape(2, 3))  # e.g. a transposed weight matrix
    result = gradcheck(lambda p: float(np.sum(p[0] ** 2)), [2 * w], [w], mode="full")
    assert result.ok and np.allclose(result.tensors[0].numeric, 2 * w.ravel())


# A bias followed by batchnorm: the normalisation cancels it, so its true gradient is zero


def _batchnorm_net(dtype=np.float64, seed=4):
    """A bias b1 before a batchnorm (its true gradient is zero), then tanh and a linear output
    with a squared loss: (names, arrays, loss of the arrays, backprop in `dtype`)."""
    rng = np.random.default_rng(seed)
    N, D, H = 8, 3, 5
    x, y = rng.normal(size=(N, D)), rng.normal(size=(N, 2))
    arrays = [
        rng.normal(size=(D, H)),
        3.0 + rng.normal(size=H),  # b1: moved by the batch mean, cancelled by batchnorm
        1.0 + 0.1 * rng.normal(size=H),
        0.1 * rng.normal(size=H),
        rng.normal(size=(H, 2)),
    ]

    def forward(W1, b1, gamma, beta, W2):
        z = x.astype(W1.dtype) @ W1 + b1
        var = z.var(axis=0)
        xhat = (z - z.mean(axis=0)) / np.sqrt(var + 1e-5)
        a = np.tanh(gamma * xhat + beta)
        return xhat, var, a, a @ W2

    def loss(ps):
        return float(0.5 * np.mean(np.sum((forward(*ps)[-1] - y) ** 2, axis=1)))

    def backprop(ps):
        ps = [np.asarray(p, dtype) for p in ps]
        _, _, gamma, _, W2 = ps
        xhat, var, a, out = forward(*ps)
        dout = (out - y.astype(dtype)) / N
        da = dout @ W2.T
        dy = da * (1 - a**2)
        dxhat = dy * gamma
        dz = (N * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) / (N * np.sqrt(var + 1e-5))
        grads = [x.astype(dtype).T @ dz, dz.sum(0), (dy * xhat).sum(0), dy.sum(0), a.T @ dout]
        return [np.asarray(g, np.float64) for g in grads]

    return ["W1", "b1", "gamma", "beta", "W2"], arrays, loss, backprop


def _check_batchnorm(grads_of, dtype=np.float64):
    from nnfix.diagnose.gradcheck import Target, check_target

    names, arrays, loss, backprop = _batchnorm_net(dtype)
    grads = grads_of(backprop(arrays))
    target = Target(arrays, grads, names, lambda _: loss(arrays))
    return {t.name: t for t in check_target(target, order=[4, 3, 2, 1, 0]).tensors}


def test_a_bias_before_batchnorm_whose_gradient_is_rounding_is_unverifiable_never_wrong():
    """Backprop in float32 leaves the bias's gradient at float32 rounding, above the float64
    loss's noise floor, where the finite differences stay: zero up to rounding, so not judged —
    while every other tensor, right to float32 precision, is judged right."""
    from nnfix.diagnose.gradcheck import ZERO_SHARE

    checks = _check_batchnorm(lambda g: g, dtype=np.float32)
    b1 = checks["b1"]
    assert not b1.wrong and b1.band == "unverifiable"
    assert b1.unverifiable is not None and b1.unverifiable.startswith(
        "gradient zero up to rounding"
    )
    top = max(np.linalg.norm(t.analytic) for t in checks.values())
    assert 0 < np.linalg.norm(b1.analytic) <= ZERO_SHARE * top
    assert not any(t.wrong for t in checks.values())
    assert all(t.unverifiable is None for n, t in checks.items() if n != "b1")


def test_a_bias_before_batchnorm_with_a_large_gradient_is_still_wrong():
    """Its true gradient is zero, but a backward that forgets batchnorm subtracts the mean
    gives it one: wrong, however small the truth."""

    def leak(grads):
        grads[1] = grads[1] + 1e-3 * np.linalg.norm(grads[0])
        return grads

    b1 = _check_batchnorm(leak)["b1"]
    assert b1.wrong and b1.unverifiable is None
    assert b1.classification is not None and b1.classification.startswith("not zero")


def test_a_true_gradient_given_as_zero_is_wrong_beside_a_bias_before_batchnorm():
    """A gradient a backward forgets (zero) whose differences measure a truth is wrong, not
    "zero up to rounding"."""

    def forget_gamma(grads):
        grads[2] = np.zeros_like(grads[2])
        return grads

    gamma = _check_batchnorm(forget_gamma)["gamma"]
    assert gamma.wrong and gamma.classification == "zero: backprop gives (almost) no gradient"


def test_a_loaded_machine_s_wall_time_leaves_no_tensor_unchecked(monkeypatch):
    """The budget counts the work this process did: wall time that passed while other
    processes ran (the clock jumps, the process's CPU time does not) skips no tensor — where the
    work itself, or far more wall time than the budget, still does."""
    import nnfix.diagnose.gradcheck as gc

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 2)), rng.normal(size=(2,)), rng.normal(size=(2, 2))]

    def loss(_):
        return float(sum(np.sum(np.tanh(a) ** 2) for a in arrays))

    grads = [2 * np.tanh(a) * (1 - np.tanh(a) ** 2) for a in arrays]
    grads[2] = grads[2] * -1  # a bug in the last tensor checked
    clock = {"wall": 100.0, "cpu": 5.0}
    monkeypatch.setattr(gc.time, "perf_counter", lambda: clock["wall"])
    monkeypatch.setattr(gc.time, "process_time", lambda: clock["cpu"])

    def evaluated(_):
        clock["wall"] += 2.0  # each evaluation: two seconds of wall time, little of it ours
        clock["cpu"] += 0.01
        return loss(_)

    def check(deadline):
        target = gc.Target(arrays, grads, ["W1", "b1", "W2"], evaluated)
        return gc.check_target(target, order=[0, 1, 2], deadline=deadline, mode="full")

    loaded = check(deadline=clock["wall"] + 20.0)
    assert not loaded.skipped
    assert [t.name for t in loaded.tensors] == ["W1", "b1", "W2"]
    assert loaded.tensors[2].wrong and not loaded.tensors[0].wrong
    clock["cpu"] = 5.0
    spent = check(deadline=clock["wall"] + 0.1)  # a budget the first tensor's work exceeds
    assert spent.skipped == ["b1", "W2"]


def test_the_budget_left_counts_the_work_done_not_the_wall_time(monkeypatch):
    """Past the wall deadline, a process that did 3 s of work of a 10 s budget has 7 s left."""
    import nnfix.diagnose.context as context

    monkeypatch.setattr(context.time, "perf_counter", lambda: 120.0)
    monkeypatch.setattr(context.time, "process_time", lambda: 3.0)
    options = context.Options(budget=10.0, deadline=115.0)
    assert options.remaining() == -5.0
    assert options.worked() == 7.0
    assert options.work_deadline() == 127.0
    monkeypatch.setattr(context.time, "process_time", lambda: 12.0)  # the work itself ran out
    assert options.worked() == -2.0
    assert context.Options(budget=10.0).work_deadline() is None
