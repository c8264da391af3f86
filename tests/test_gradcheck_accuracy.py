"""Accuracy of the gradient check on networks built here, unlike the bundled configs: a correct
net is never called wrong (gradients below the finite-difference noise floor are G104, kinks are
left out), a planted bug is still found at its tensor and classified, a backward that is right up
to one constant is one G105 and no G101, and the public check of a large function is decided by
a global check when it is right and localises a bug when it is not."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import nnfix
from nnfix.diagnose.context import Options
from nnfix.diagnose.gradcheck import Target, check_target
from nnfix.diagnose.network_check import NetworkTarget
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.engine import activations
from nnfix.engine.losses import Loss
from nnfix.engine.network import LayerActivation, Network
from nnfix.spec.load import load_spec

from .conftest import sampled

# A learner's network in the deeplearning.ai style (columns layout, parameters dict, caches),
# with its hidden activation, output and the lines of its backward filled in per test.
NET = """\
import numpy as np

HIDDEN = "{hidden}"
OUTPUT = "{output}"


def act(Z):
    if HIDDEN == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if HIDDEN == "tanh":
        return np.tanh(Z)
    if HIDDEN == "relu":
        return np.maximum(0, Z)
    return np.where(Z > 0, Z, 0.01 * Z)


def act_grad(Z):
    if HIDDEN == "sigmoid":
        s = 1 / (1 + np.exp(-Z))
        return s * (1 - s)
    if HIDDEN == "tanh":
        return 1 - np.tanh(Z) ** 2
    if HIDDEN == "relu":
        return (Z > 0).astype(float)
    return np.where(Z > 0, 1.0, 0.01)


def out(Z):
    if OUTPUT == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if OUTPUT == "softmax":
        e = np.exp(Z - Z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)
    return Z


def forward(X, parameters):
    L = len(parameters) // 2
    A = X
    caches = []
    for l in range(1, L + 1):
        Z = parameters["W" + str(l)] @ A + parameters["b" + str(l)]
        caches.append((A, Z))
        A = out(Z) if l == L else act(Z)
    return A, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    if OUTPUT == "sigmoid":
        return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)
    if OUTPUT == "softmax":
        return float(-np.sum(Y * np.log(AL)) / m)
    return float({half}np.sum((AL - Y) ** 2) / m)


def backward(AL, Y, caches, parameters):
    m = Y.shape[1]
    L = len(caches)
    grads = {{}}
    dZ = {delta}
    for l in reversed(range(1, L + 1)):
        A_prev, Z = caches[l - 1]
        grads["dW" + str(l)] = {dW}
        grads["db" + str(l)] = {db}
        if l > 1:
            dZ = {propagate}
    return grads
"""
DELTA = {"sigmoid": "AL - Y", "softmax": "AL - Y", "linear": "2 * (AL - Y)"}
LOSS = {"sigmoid": "bce", "softmax": "cce", "linear": "mse"}
UNITS = {"sigmoid": 1, "softmax": 3, "linear": 1}
DATA = {
    "sigmoid": "{source: moons, samples: 120, noise: 0.2}",
    "softmax": "{source: spirals, classes: 3, samples: 120}",
    "linear": "{source: linear, features: 3, samples: 120, noise: 0.1}",
}
DW = "dZ @ A_prev.T / m"
DB = "np.sum(dZ, axis=1, keepdims=True) / m"
PROPAGATE = '(parameters["W" + str(l)].T @ dZ) * act_grad(caches[l - 2][1])'


def user_spec(
    folder,
    *,
    hidden="tanh",
    output="sigmoid",
    widths=(8, 6),
    init="xavier_normal",
    seed=0,
    loss=None,
    own_loss=False,
    half="",
    delta=None,
    dW=DW,
    db=DB,
    propagate=PROPAGATE,
):
    """A spec and the user's net.py it points at; `own_loss`: the spec names their cost."""
    code = NET.format(
        hidden=hidden,
        output=output,
        half=half,
        delta=delta or DELTA[output],
        dW=dW,
        db=db,
        propagate=propagate,
    )
    (folder / "net.py").write_text(code)
    name = "{name: leaky_relu, alpha: 0.01}" if hidden == "leaky_relu" else hidden
    layers = "".join(f"    - {{units: {w}, activation: {name}}}\n" for w in widths)
    layers += f"    - {{units: {UNITS[output]}, activation: {output}}}\n"
    spec = folder / "spec.yaml"
    spec.write_text(
        f"seed: {seed}\ndata: {DATA[output]}\nmodel:\n  init: {init}\n  layers:\n{layers}"
        f"loss: {loss or LOSS[output]}\n"
        "implementation:\n  module: net.py\n  forward: forward\n  backward: backward\n"
        + ("  loss: compute_cost\n" if own_loss else "")
    )
    return spec


def found(spec, select=("G", "U", "A")):
    return diagnose(load_spec(spec), Selection(list(select)), Options(quick=True)).findings


def errors(findings):
    return [
        (f.code, f.location.parameter, f.message) for f in findings if f.severity.value == "error"
    ]


U01 = "{name: uniform, low: 0, high: 1}"

# --- healthy nets: nothing at error level ----------------------------------------------------


@pytest.mark.parametrize(
    ("options", "unverifiable"),
    [
        # 12 sigmoid layers from uniform [0, 1) weights: saturated units, gradients of 1e-9 down
        # to 1e-25 below layer 9, an output at 1 − 1e-7 that their own cost takes the log of
        (dict(hidden="sigmoid", widths=(24,) * 11, init=U01, own_loss=True), True),
        (dict(hidden="sigmoid", widths=(16,) * 11, init=U01, seed=3), True),
        (dict(hidden="sigmoid", widths=(10,) * 9, init="{name: normal, std: 0.05}"), True),
        # ReLU nets with zero biases: the spirals' samples at the origin sit on every kink
        (dict(hidden="relu", output="softmax", widths=(32,) * 10, init="he_normal"), False),
        (dict(hidden="leaky_relu", output="softmax", widths=(5,) * 7, seed=16), False),
        (dict(hidden="relu", output="linear", widths=(3, 3, 3), init="he_normal", seed=11), False),
        (dict(hidden="tanh", output="softmax", widths=(40,), own_loss=True), False),
    ],
)
def test_a_correct_user_backward_is_never_wrong(tmp_path, options, unverifiable):
    findings = found(user_spec(tmp_path, **options))
    assert errors(findings) == []
    assert not [f for f in findings if f.code == "G105"]
    if unverifiable:  # said, as G104: below the noise floor, never "wrong"
        (g104,) = [f for f in findings if f.code == "G104"]
        assert g104.evidence["unverifiable"] and "noise floor" in g104.message


def layer(name):
    act = activations.get(name)
    return LayerActivation(name, act.fn, act.derivative if act.elementwise else None, act)


def deep_sigmoid(depth=12, width=10, std=0.05, seed=0, m=32):
    """Sigmoid layers whose gradients shrink ~40x a layer: exact, and below the noise floor
    from about layer depth - 5 down."""
    rng = np.random.default_rng(seed)
    sizes = [2] + [width] * (depth - 1) + [1]
    W = [rng.normal(0, std, (a, b)) for a, b in itertools.pairwise(sizes)]
    b = [rng.normal(0, 0.1, (1, n)) for n in sizes[1:]]
    net = Network.dense(W, b, [layer("sigmoid")] * depth)
    x = rng.normal(size=(m, 2))
    y = rng.integers(0, 2, (m, 1)).astype(float)
    return net, x, y


@pytest.mark.parametrize("depth", [1, 3, 7, 12])
def test_deep_sigmoid_network_vanishing_gradients_are_unverifiable_never_wrong(depth):
    net, x, y = deep_sigmoid(depth)
    result = NetworkTarget(net, x, y, Loss("bce")).check()
    assert result.ok, result.table()
    below = [t.name for t in result.tensors if t.unverifiable]
    assert bool(below) == (depth > 6), result.table()
    assert all(np.linalg.norm(t.analytic) < 1e-6 for t in result.tensors if t.unverifiable)


def test_noise_above_the_floor_is_told_from_a_bug_by_a_second_step():
    """A loss computed with more rounding than its size suggests (noise 1e-12 on a loss of 1:
    10 000 times the floor): its differences at eps do not keep their value at 10·eps, so a
    tensor whose gradient is comparable is unverifiable, not wrong; one far above it is judged."""
    rng = np.random.default_rng(0)
    small, large = np.ones(20), np.ones(20)

    def loss(_):
        return 1 + 1e-6 * small.sum() + 1e-2 * large.sum() + 1e-12 * rng.standard_normal()

    def check(scale):
        grads = [np.full(20, 1e-6), np.full(20, 1e-2 * scale)]
        return check_target(Target([small, large], grads, ["small", "large"], loss), mode="full")

    right = check(1)
    assert right.ok and right.tensors[0].unverifiable and right.tensors[0].confirmed
    assert not right.tensors[1].unverifiable, right.table()
    bug = check(2)
    assert [t.name for t in bug.wrong] == ["large"] and bug.wrong[0].classification.startswith(
        "scaled by a constant 2"
    )


# --- planted bugs: found at their tensor, classified ------------------------------------------


@pytest.mark.parametrize(
    ("options", "tensor", "kind"),
    [
        (  # the sign of one layer's gradients flipped, in a sigmoid net with tiny lower layers
            dict(
                hidden="sigmoid",
                widths=(10,) * 7,
                init="{name: normal, std: 0.3}",
                dW=f"(-1 if l == 7 else 1) * {DW}",
                db=f"(-1 if l == 7 else 1) * {DB}",
            ),
            "W7",
            "sign flipped",
        ),
        (  # a missing / m on one bias of a ReLU regression
            dict(
                hidden="relu",
                output="linear",
                widths=(16, 16, 16),
                init="he_normal",
                db="np.sum(dZ, axis=1, keepdims=True) / (1 if l == 3 else m)",
            ),
            "b3",
            "scaled by the batch size (",
        ),
        (  # a transposed square weight gradient
            dict(
                hidden="tanh",
                output="softmax",
                widths=(12, 12, 12),
                dW=f"({DW}).T if l == 3 else {DW}",
            ),
            "W3",
            "transposed",
        ),
        (  # a zeroed bias gradient in a leaky ReLU net
            dict(
                hidden="leaky_relu",
                widths=(6,) * 5,
                init="he_normal",
                db=f"0 * Z[:, :1] if l == 4 else {DB}",
            ),
            "b4",
            "zero",
        ),
        (  # the sign flipped where dZ is carried down from layer 3: every tensor below is wrong
            dict(
                hidden="tanh",
                output="linear",
                widths=(8, 8, 8, 8),
                propagate=f"(-1 if l == 3 else 1) * {PROPAGATE}",
            ),
            "W2",
            "sign flipped",
        ),
    ],
)
def test_a_planted_bug_is_found_at_its_tensor(tmp_path, options, tensor, kind):
    findings = found(user_spec(tmp_path, **options))
    g101 = [f for f in findings if f.code == "G101"]
    (first,) = [f for f in g101 if f.evidence["first_wrong"]]
    assert first.location.parameter == tensor, [f.message for f in g101]
    assert first.evidence["classification"].startswith(kind)
    assert not [f for f in findings if f.code == "G105"]


def test_a_bug_above_the_noise_floor_is_caught_while_the_tensors_below_it_are_unverifiable():
    net, x, y = deep_sigmoid(12, std=0.3, seed=2)
    target = NetworkTarget(net, x, y, Loss("bce"))
    i = net.names.index("W9")
    target.grads[i] = -target.grads[i]
    result = target.check()
    assert [t.name for t in result.wrong] == ["W9"], result.table()
    assert result.wrong[0].classification.startswith("sign flipped")
    assert any(t.unverifiable for t in result.tensors)


# --- conventions: one G105, no G101 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "factor", "says"),
    [
        (  # the quadratic cost ½‖a − y‖², differentiated: a − y
            dict(output="linear", delta="AL - Y", widths=(16, 8)),
            lambda m: 0.5,
            "a factor ½",
        ),
        (  # ... in a deep sigmoid net whose lower layers are below the noise floor
            dict(
                hidden="sigmoid",
                output="linear",
                delta="AL - Y",
                widths=(10,) * 11,
                init="{name: normal, std: 0.3}",
            ),
            lambda m: 0.5,
            "a factor ½",
        ),
        (  # the descent direction, for an update W += lr·dW, in a ReLU net with kinks
            dict(hidden="relu", output="softmax", delta="Y - AL", widths=(32,) * 5),
            lambda m: -1.0,
            "descent direction −∇L",
        ),
        (  # a sum over the samples where the loss is a mean (with spirals at the origin: on a kink)
            dict(
                hidden="leaky_relu",
                widths=(5,) * 6,
                dW="dZ @ A_prev.T",
                db="np.sum(dZ, axis=1, keepdims=True)",
            ),
            lambda m: m,
            "the sum over the",
        ),
        (  # the mean taken twice
            dict(hidden="tanh", output="softmax", widths=(8, 8), dW=f"{DW} / m", db=f"{DB} / m"),
            lambda m: 1 / m,
            "samples taken twice",
        ),
    ],
)
def test_a_backward_right_up_to_one_constant_is_one_g105(tmp_path, options, factor, says):
    findings = found(user_spec(tmp_path, **options))
    assert errors(findings) == []
    (g105,) = [f for f in findings if f.code == "G105"]
    m = g105.evidence["batch_size"]  # the samples not on a ReLU kink, of the 32 checked
    assert 16 <= m <= 32 and g105.evidence["factor"] == pytest.approx(factor(m), rel=1e-4)
    assert says in g105.message


@pytest.mark.parametrize(
    ("spec", "cause", "factor"),
    [
        (  # the quadratic cost's gradient declared without its 2, in a deep tanh net
            """
            data: {source: linear, features: 3, samples: 90}
            model:
              init: {name: normal, std: 0.4}
              layers:
                - {units: 9, activation: tanh}
                - {units: 9, activation: tanh}
                - {units: 9, activation: tanh}
                - {units: 9, activation: tanh}
                - {units: 9, activation: tanh}
                - {units: 1, activation: linear}
            loss: {name: mse, gradient: "a - y"}
            """,
            "G102",
            0.5,
        ),
        (  # the output's derivative declared twice too large
            """
            data: {source: circles, samples: 90}
            model:
              layers:
                - {units: 7, activation: relu}
                - {units: 7, activation: relu}
                - units: 1
                  activation: {name: sigmoid, derivative: "2 * a * (1 - a)", derivative_of: a}
            loss: bce
            """,
            "A101",
            2.0,
        ),
    ],
)
def test_a_declared_factor_is_the_root_cause_of_its_g105(write_spec, spec, cause, factor):
    findings = found(write_spec(spec), select=("G", "A"))
    assert not [f for f in findings if f.code == "G101"]
    (g105,) = [f for f in findings if f.code == "G105"]
    assert g105.evidence["factor"] == pytest.approx(factor, rel=1e-4)
    assert g105.caused_by == [cause]


# --- a convention beside a bug: the constant read from the output, only the others G101 -------

TANH_WITHOUT_SQUARE = (  # layer 2's delta takes 1 − tanh(Z) for tanh's derivative
    '(parameters["W" + str(l)].T @ dZ) * ((1 - np.tanh(caches[l - 2][1])) if l == 3 '
    "else act_grad(caches[l - 2][1]))"
)


@pytest.mark.parametrize(
    ("options", "constant", "wrong", "kind", "line"),
    [
        (  # SPEC §3.3: ½‖a − y‖² differentiated as a − y, and the hidden delta's sign flipped
            dict(
                output="linear",
                delta="AL - Y",
                widths=(8, 8),
                propagate=f"(-1 if l == 2 else 1) * {PROPAGATE}",
            ),
            0.5,
            ["W1", "b1"],
            "sign flipped",
            "dZ = (-1 if l == 2",
        ),
        (  # the descent direction returned, and a wrong derivative two layers down
            dict(output="softmax", delta="Y - AL", widths=(8, 8, 8), propagate=TANH_WITHOUT_SQUARE),
            -1.0,
            ["W2", "b2", "W1", "b1"],
            "wrong in its pattern",
            "dZ = (parameters",
        ),
        (  # a sum where the loss is a mean, and one bias divided by m
            dict(
                hidden="tanh",
                output="sigmoid",
                widths=(6, 6),
                dW="dZ @ A_prev.T",
                db="np.sum(dZ, axis=1, keepdims=True) / (m if l == 2 else 1)",
            ),
            "m",
            ["b2"],
            "divided by the batch size",
            'grads["db" + str(l)]',
        ),
    ],
)
def test_a_convention_beside_a_bug_names_only_the_wrong_tensors(
    tmp_path, options, constant, wrong, kind, line
):
    spec = user_spec(tmp_path, **options)
    findings = found(spec)
    (g105,) = [f for f in findings if f.code == "G105"]
    m = g105.evidence["batch_size"]
    c = m if constant == "m" else constant
    assert g105.evidence["factor"] == pytest.approx(c, rel=1e-4)
    g101 = [f for f in findings if f.code == "G101"]
    assert [f.location.parameter for f in g101] == wrong, [f.message for f in g101]
    assert all(f.evidence["convention"] == pytest.approx(c, rel=1e-4) for f in g101)
    first = g101[0]
    assert first.evidence["first_wrong"] and first.evidence["classification"].startswith(kind)
    assert f"the rest is {c:.4g} ×" in first.message or f"against {c:.4g} ×" in first.message
    source = first.location.source  # the line search judged their values against the same c
    assert source is not None and line in source.code, first.message
    assert not [f for f in findings if f.severity.value == "error" and f.code != "G101"]


# --- the public check: global first -----------------------------------------------------------


def mlp(widths=(300, 400, 100, 10), m=32, seed=0):
    """A loss and its hand-written gradient over a dict of arrays: no layers for nnfix to see."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (a, b) in enumerate(itertools.pairwise(widths), start=1):
        params[f"W{i}"] = rng.normal(0, np.sqrt(1 / a), (a, b))
        params[f"b{i}"] = rng.normal(0, 0.05, b)
    x = rng.normal(size=(m, widths[0]))
    y = np.eye(widths[-1])[rng.integers(0, widths[-1], m)]
    n = len(widths) - 1

    def f(p):
        a = x
        for i in range(1, n + 1):
            z = a @ p[f"W{i}"] + p[f"b{i}"]
            a = np.tanh(z) if i < n else z
        z = a - a.max(axis=1, keepdims=True)
        return float(-np.sum(y * (z - np.log(np.exp(z).sum(axis=1, keepdims=True)))) / m)

    def grad(p):
        acts = [x]
        for i in range(1, n + 1):
            z = acts[-1] @ p[f"W{i}"] + p[f"b{i}"]
            acts.append(np.tanh(z) if i < n else z)
        e = np.exp(acts[-1] - acts[-1].max(axis=1, keepdims=True))
        d = (e / e.sum(axis=1, keepdims=True) - y) / m
        out = {}
        for i in range(n, 0, -1):
            out[f"W{i}"], out[f"b{i}"] = acts[i - 1].T @ d, d.sum(axis=0)
            if i > 1:
                d = (d @ p[f"W{i}"].T) * (1 - acts[i - 1] ** 2)
        return out

    return f, grad, params


def test_a_correct_large_function_is_decided_by_the_global_check():
    f, grad, params = mlp()
    assert sum(p.size for p in params.values()) > 150_000
    result = nnfix.gradcheck(f, grad, params)
    assert result.ok and result.evaluations == 4  # 2 directions, 2 evaluations each
    assert {t.mode for t in result.tensors} == {"screened"}
    assert [t.name for t in result.tensors] == list(params)


BUGS = {
    "sign flipped": lambda g, m: -g,
    "scaled by the batch size": lambda g, m: m * g,
    "zero": lambda g, m: 0 * g,
    "wrong in its pattern": lambda g, m: (
        g + np.random.default_rng(1).normal(size=g.shape) * np.linalg.norm(g) / np.sqrt(g.size)
    ),
}


@pytest.mark.parametrize(
    ("tensor", "bug"),
    sampled([("W1", "sign flipped"), ("b2", "scaled by the batch size"), ("W3", "zero")], every=3),
)
@pytest.mark.parametrize("what", ["bug", "wrong in its pattern"])
def test_a_bug_in_a_large_function_is_localised_and_classified(tensor, bug, what):
    f, grad, params = mlp()
    bug = bug if what == "bug" else what

    def wrong(p):
        g = grad(p)
        g[tensor] = BUGS[bug](g[tensor], 32)
        return g

    result = nnfix.gradcheck(f, wrong, params, batch_size=32)
    assert [t.name for t in result.wrong] == [tensor], result.table()
    assert result.wrong[0].classification.startswith(bug)
    assert result.evaluations < 1000  # the other tensors: one directional derivative each
    with pytest.raises(AssertionError, match=f"gradients of {tensor} do not match"):
        nnfix.assert_gradients(f, wrong, params, batch_size=32)


@pytest.mark.parametrize("seed", range(5))
def test_the_global_check_sees_a_bug_in_a_tensor_a_million_times_smaller(seed):
    """A tensor whose gradient is 1e-6 of another's, its sign flipped: weighted per tensor, its
    error still shows in the directions over all parameters (unweighted, it would hide within
    the larger tensor's share of the tolerance)."""
    rng = np.random.default_rng(seed)
    params = {"big": rng.normal(size=5000), "small": rng.normal(size=50)}

    def f(p):
        return float(np.sum(np.sin(p["big"])) + 1e-6 * np.sum(np.cos(p["small"])))

    def grad(p):
        return {"big": np.cos(p["big"]), "small": 1e-6 * np.sin(p["small"])}

    result = nnfix.gradcheck(f, grad, params, seed=seed)
    assert [t.name for t in result.wrong] == ["small"], result.table()
    assert result.wrong[0].classification.startswith("sign flipped")


def test_the_table_says_what_the_global_check_did():
    f, grad, params = mlp(widths=(20, 10, 3))
    text = nnfix.gradcheck(f, grad, params).table()
    assert "checked at once along 2 random directions" in text and "screened" in text
    # the other modes keep their meaning: per tensor, no global check
    for mode in ("full", "directional", "sampled"):
        result = nnfix.gradcheck(f, grad, params, mode=mode)
        assert result.ok and {t.mode for t in result.tensors} == {mode}
