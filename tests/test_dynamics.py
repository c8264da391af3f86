"""The training probes: each rule fires on a spec planted with its problem, at the right layer,
and stays silent on every healthy config; the probe keeps to its budget and its seed."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.diagnose.context import Context, Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.diagnose.rules import training
from nnfix.spec.load import load_spec

from .conftest import CONFIGS

HEALTHY = ["xor", "moons", "circles", "spirals", "blobs", "bars", "regression", "cnn", "char-rnn"]
PROBE_CODES = {
    "T102",
    "T103",
    "T104",
    "T106",
    "T107",
    "T108",
    "M101",
    "M102",
    "M103",
    "M104",
    "Y102",
}


def run(path, budget=10.0, select=()):
    return diagnose(load_spec(path), Selection(list(select)), Options(budget=budget))


def codes(report):
    return [f.code for f in report.findings]


def by_code(report, code):
    hits = [f for f in report.findings if f.code == code]
    assert hits, f"{code} did not fire: {codes(report)}"
    return hits


def mlp(
    write_spec,
    layers,
    data="{source: moons, samples: 300}",
    init="he_normal",
    train="{}",
    loss="bce",
    extra="",
):
    body = "".join(f"    - {layer}\n" for layer in layers)
    return write_spec(
        f"seed: 0\ndata: {data}\nmodel:\n  init: {init}\n{extra}  layers:\n{body}loss: {loss}\ntrain: {train}\n"
    )


@pytest.mark.parametrize("name", HEALTHY)
def test_probes_are_silent_on_healthy_configs(name):
    report = run(CONFIGS / f"{name}.yaml")
    assert set(codes(report)) & PROBE_CODES == set()


def test_lr_far_too_high_diverges_and_names_the_layer(write_spec):
    path = mlp(
        write_spec,
        [
            "{units: 16, activation: relu}",
            "{units: 16, activation: relu}",
            "{units: 1, activation: linear}",
        ],
        data="{source: linear, features: 5, samples: 300}",
        loss="mse",
        train="{lr: 50.0}",
    )
    (t103,) = by_code(run(path), "T103")
    assert t103.location.layer is not None and t103.evidence["step"] < 50
    assert t103.fix.path == ("train", "lr") and t103.fix.value == 5.0


ONE_SAMPLE_STEPS = """
seed: {seed}
data: {{source: linear, features: 3, samples: 200, noise: 0.1}}
model:
  init: he_normal
  layers:
    - {{units: 16, activation: tanh}}
    - {{units: 1, activation: linear}}
loss: mse
train: {{lr: {lr}, epochs: 20, batch_size: 1, dtype: {dtype}}}
"""


def test_one_sample_steps_are_compared_like_with_like(write_spec):
    """Batch size 1, and the first sample happens to be fitted already (a loss of 6e-5): a
    later sample's ordinary 5.6 is no growth of the loss, let alone a divergence."""
    path = write_spec(ONE_SAMPLE_STEPS.format(seed=71, lr=0.01, dtype="float32"))
    ctx = Context(load_spec(path), Options(budget=60))
    probe = ctx.probe
    assert probe.loss[0] < 1e-4 and max(probe.loss) > 1e4 * probe.loss[0]  # the trap
    assert probe.window == 32
    init = ctx.network.astype("float32")  # the untrained net's mean over the training set
    x, y = ctx.data.x_train.astype("float32"), ctx.y_train.astype("float32")
    assert probe.start_loss() == pytest.approx(init.loss(init.forward(x), y, ctx.loss), rel=1e-4)
    assert probe.exploded_at(1e3) is None
    assert probe.healthy_steps(1e3) == len(probe.loss)
    assert "T103" not in codes(run(path))


def test_one_sample_steps_that_blow_up_still_diverge(write_spec):
    path = write_spec(ONE_SAMPLE_STEPS.format(seed=71, lr=0.1, dtype="float64"))
    report = run(path)
    (t103,) = by_code(report, "T103")
    step = t103.evidence["step"]
    ctx = Context(load_spec(path), Options(budget=60))
    losses = ctx.probe.loss
    start = ctx.probe.start_loss()
    assert step < len(losses) and np.mean(losses[step : step + 32]) > 1e3 * start


def test_a_growth_over_a_windows_mean_is_found_at_its_first_step():
    from nnfix.diagnose.probe import ProbeRecord

    steady = [0.5, 1e-5, 2.0, 0.3] * 20  # one-sample losses, the untrained net's mean 0.7
    record = ProbeRecord(batch=1, samples=500, loss=steady + [1e6] * 40, initial_loss=0.7)
    assert record.window == 32 and record.start_loss() == 0.7
    assert record.exploded_at(1e3) == 80  # the first blown-up step of the first window over it
    assert record.healthy_steps(1e3) == 80
    record.initial_loss = float("nan")  # unknown: the median of the first 32 steps instead
    assert record.start_loss() == pytest.approx(0.4) and record.exploded_at(1e3) == 80
    big = ProbeRecord(batch=64, samples=500, loss=[0.7, 1e3, 0.7], initial_loss=0.7)
    assert big.window == 1 and big.exploded_at(1e3) == 1  # a step is a 64-sample mean already


def test_adam_with_a_tiny_lr_has_a_low_update_ratio(write_spec):
    path = mlp(
        write_spec,
        ["{units: 16, activation: tanh}", "{units: 1, activation: sigmoid}"],
        train="{optimizer: adam, lr: 1.0e-7}",
    )
    (m103,) = by_code(run(path), "M103")
    assert m103.evidence["median"] < 1e-5
    assert 1e-4 <= m103.fix.value <= 1e-1


def test_twelve_sigmoid_layers_with_a_small_init_vanish(write_spec):
    layers = ["{units: 16, activation: sigmoid}"] * 12 + ["{units: 1, activation: sigmoid}"]
    path = mlp(write_spec, layers, init="{name: normal, std: 0.05}")
    (m101,) = by_code(run(path), "M101")
    assert m101.location.layer == 1
    assert m101.evidence["grad_norm"]["W1"] < 1e-3 * m101.evidence["grad_norm"]["W13"]


def test_zero_init_plateaus_at_the_prior_caused_by_symmetry():
    report = run(CONFIGS / "story-zero-init.yaml")
    (t102,) = by_code(report, "T102")
    assert t102.evidence["prior_loss"] == pytest.approx(3.25, abs=0.01)
    assert t102.caused_by[0] == "Y101"
    (y102,) = by_code(report, "Y102")
    assert y102.location.layer == 1 and "Y101" in y102.caused_by
    assert "M102" not in codes(report)  # no gradient at all is not an explosion


def test_a_half_quadratic_cost_plateaus_at_half_the_targets_variance():
    """The probe reports ½‖a − y‖² where the spec says `scale: 0.5`: the best constant
    prediction's loss it is compared with is halved too, so a zero init's plateau is seen."""
    path = CONFIGS / "regression.yaml"
    overrides = ["model.init=zeros", "loss={name: mse, scale: 0.5}"]
    report = diagnose(load_spec(path, overrides), Selection([]), Options(budget=10))
    (t102,) = by_code(report, "T102")
    ctx = Context(load_spec(path, overrides))
    assert t102.evidence["prior_loss"] == pytest.approx(0.5 * float(np.var(ctx.y_train)))
    assert t102.caused_by[0] == "Y101"


def test_relu_with_bias_minus_five_is_dead(write_spec):
    path = mlp(
        write_spec,
        ["{units: 16, activation: relu}", "{units: 1, activation: sigmoid}"],
        extra="  bias_init: {name: constant, value: -5}\n",
    )
    (t107,) = by_code(run(path), "T107")
    assert t107.location.layer == 1 and t107.evidence["dead"] == 16


def test_pixels_0_255_saturate_sigmoid_units():
    report = run(CONFIGS / "story-uniform-init.yaml")
    hits = by_code(report, "T108")
    assert hits[0].location.layer == 1
    assert "D102" in hits[0].caused_by


def test_wrong_derivatives_cannot_overfit_a_handful_of_samples():
    report = run(CONFIGS / "story-derivatives.yaml")
    (t106,) = by_code(report, "T106")
    assert {"A102", "G102"} <= set(t106.caused_by)
    assert t106.evidence["samples"] == 8


def test_a_net_without_biases_that_cannot_fit_empty_documents_is_d103_not_a_bug(
    write_spec, tmp_path
):
    """Without biases an all-zero input gets σ(0) = 0.5 whatever the weights: the 8 samples the
    overfit probe fits hold two such rows with label 0, so their loss stays at ln 2 — D103,
    which explains the T106; the same net with biases fits them."""
    from .test_diagnose_static import bias_free, words

    words(tmp_path)
    report = run(write_spec(bias_free()), budget=60)
    (d103,) = by_code(report, "D103")
    assert d103.is_root_cause and d103.evidence["count"] == 7
    (t106,) = by_code(report, "T106")
    assert t106.caused_by == ["D103"] and t106.severity.value == "error"
    assert "not a bug in the math" in t106.message
    assert min(t106.evidence["best_loss"].values()) > 2 * math.log(2) / 8 * 0.9
    healthy = run(write_spec(bias_free(bias="true"), "healthy.yaml"), budget=60)
    assert {"D103", "T106"} & set(codes(healthy)) == set()


def test_probe_respects_its_budget(write_spec):
    layers = ["{units: 256, activation: relu}"] * 4 + ["{units: 1, activation: sigmoid}"]
    path = mlp(
        write_spec,
        layers,
        data="{source: blobs, classes: 2, features: 50, samples: 5000}",
        train="{epochs: 1000, batch_size: 16, lr: 0.001}",  # no divergence to stop it first
    )
    ctx = Context(load_spec(path), Options(budget=0.02))
    probe = ctx.probe  # 70 % of the budget, far fewer steps than its cap of 600 need
    assert probe.stopped == "budget" and 0 < len(probe.loss) < 600


def test_quick_skips_the_probes_and_runs_are_deterministic():
    quick = CliRunner().invoke(
        main, ["diagnose", str(CONFIGS / "story-zero-init.yaml"), "--quick", "--format", "json"]
    )
    passes = {p["name"]: p["skipped"] for p in json.loads(quick.stdout)["specs"][0]["passes"]}
    assert passes["training probe"] == "--quick" and passes["overfit probe"] == "--quick"
    full = [
        CliRunner().invoke(
            main, ["diagnose", str(CONFIGS / "story-zero-init.yaml"), "--format", "json"]
        )
        for _ in range(2)
    ]
    first, second = (json.loads(r.stdout)["specs"][0]["findings"] for r in full)
    assert [(f["code"], f["evidence"]) for f in first] == [
        (f["code"], f["evidence"]) for f in second
    ]


def test_a_run_still_lowering_its_loss_is_no_verdict_for_t106():
    from nnfix.diagnose.probe import still_learning

    slow = [1.0 - 0.002 * step for step in range(400)]  # 0.2 lower over the last quarter
    stalled = [0.7] * 300 + [0.699] * 100
    assert still_learning(slow)
    assert not still_learning(stalled)
    assert not still_learning([float("nan")] * 400)


# --- a plateau: stuck (T102) or a slow start (T109) -------------------------------------------

SLOW_STARTS = [  # correct nets, small init: on the plateau after the probe, leaving later
    (  # two tanh hidden layers: the learned weights run away in finite time
        ["{units: 8, activation: tanh}", "{units: 8, activation: tanh}"],
        "{source: xor, samples: 400}",
        "{optimizer: sgd, lr: 1.0, epochs: 5000, batch_size: full}",
    ),
    (  # one sigmoid hidden layer: they grow geometrically
        ["{units: 16, activation: sigmoid}"],
        "{source: circles, samples: 400}",
        "{optimizer: sgd, lr: 2.0, epochs: 5000, batch_size: full}",
    ),
    (  # one tanh hidden layer whose gradients have stopped growing by the end of the probe:
        # its weights still move steadily on towards the leave (at about step 1,040)
        ["{units: 8, activation: tanh}"],
        "{source: xor, samples: 300}",
        "{optimizer: sgd, lr: 0.3, epochs: 3000, batch_size: full}",
    ),
]


def _leaves(path, steps):
    """The step at which the spec's own training takes the loss 2 % below the prior's."""
    from nnfix.engine.losses import best_constant
    from nnfix.engine.train import Trainer

    ctx = Context(load_spec(path), Options(budget=60))
    dtype = ctx.spec.train.dtype
    net = ctx.network.astype(dtype)
    prior = best_constant(ctx.spec.loss.name, ctx.y_train)
    losses = []
    trainer = Trainer(net, ctx.loss, ctx.spec.train, ctx.batch_rng)
    trainer.fit(
        ctx.data.x_train.astype(dtype),
        ctx.y_train.astype(dtype),
        on_step=lambda info: losses.append(info.loss),
        should_stop=lambda: len(losses) >= steps or np.mean(losses[-20:]) < 0.98 * prior,
    )
    return len(losses) if np.mean(losses[-20:]) < 0.98 * prior else None


@pytest.mark.parametrize(("hidden", "data", "train"), SLOW_STARTS)
def test_a_correct_net_with_a_small_init_is_a_slow_start_not_stuck(write_spec, hidden, data, train):
    path = mlp(
        write_spec,
        [*hidden, "{units: 1, activation: sigmoid}"],
        data=data,
        init="{name: normal, std: 0.01}",
        train=train,
    )
    report = run(path, budget=60)
    assert "T102" not in codes(report)
    assert [f for f in report.findings if f.severity.value == "error"] == []
    (t109,) = by_code(report, "T109")
    assert t109.severity.value == "info"
    step = t109.evidence["leave_step"]
    assert step > t109.evidence["steps"]  # still on the plateau at the end of the probe
    actual = _leaves(path, 4 * step)
    assert actual is not None and actual / 2 <= step <= 2 * actual, (step, actual)
    assert t109.fix.path == ("model", "init") and t109.fix.value == "xavier_normal"


SEED_003 = """
seed: 0
data: {{source: xor, samples: 400}}
model:
  init: {{name: uniform, low: 0, high: 1}}   # np.random.rand
  layers:
    - {{units: 5, activation: sigmoid}}
    - {{units: 5, activation: sigmoid}}
    - {{units: 1, activation: sigmoid}}
loss: bce
train: {{optimizer: sgd, lr: 1.0, schedule: {schedule}, epochs: 2000, batch_size: full}}
"""


def test_a_plateau_held_by_lr_per_epoch_is_stuck_not_a_slow_start(write_spec):
    """All sigmoid, uniform [0, 1) weights, lr divided by the epoch: the loss sits at ln 2 and,
    trained whole, never leaves it — the schedule leaves 2,000 epochs the learning rate of about
    8. It is a T102 (exit 1) that the schedule's T105 explains, never a slow start."""
    path = write_spec(SEED_003.format(schedule="{name: inverse_time, decay: 1.0}"))
    report = run(path, budget=60)
    assert "T109" not in codes(report)
    (t102,) = by_code(report, "T102")
    assert t102.severity.value == "error" and "T105" in t102.caused_by
    assert "stuck" not in t102.evidence  # nothing structural: the run's schedule holds it
    assert _leaves(path, 2000) is None  # the spec's own run ends on the plateau
    result = CliRunner().invoke(main, ["diagnose", str(path), "--select", "T102,T105"])
    assert result.exit_code == 1


def test_the_same_net_with_a_constant_lr_is_not_stuck(write_spec):
    path = write_spec(SEED_003.format(schedule="constant"))
    report = run(path, budget=60)
    assert "T102" not in codes(report)
    assert _leaves(path, 2000) is not None


def test_a_slow_start_whose_epochs_end_first_is_stuck(write_spec):
    """The third slow start with 700 epochs instead of 3,000: it would leave near step 1,040,
    after the run has ended, so the run ends on the plateau (T102, with the sums of learning
    rates it needs and has)."""
    path = mlp(
        write_spec,
        ["{units: 8, activation: tanh}", "{units: 1, activation: sigmoid}"],
        data="{source: xor, samples: 300}",
        init="{name: normal, std: 0.01}",
        train="{optimizer: sgd, lr: 0.3, epochs: 700, batch_size: full}",
    )
    report = run(path, budget=60)
    assert "T109" not in codes(report)
    (t102,) = by_code(report, "T102")
    e = t102.evidence
    assert e["lr_time_needed"] > training.LATE * e["lr_time_left"]
    assert e["lr_time_left"] == pytest.approx(0.3 * (700 - e["steps"]))
    assert _leaves(path, 700) is None


def test_a_layer_whose_updates_round_away_gets_no_gradient():
    """A gradient of 1e-12 moves no float32 weight of size 1 (its rounding is 1.2e-7): the
    floor is what moves a weight, not 1e-30."""
    from types import SimpleNamespace

    from nnfix.diagnose.probe import ProbeRecord

    trained = SimpleNamespace(weights=[np.ones((4, 4), np.float32)] * 2)  # norm 4 each
    record = ProbeRecord(network=trained, start_norm=[4.0, 4.0])  # type: ignore[arg-type]
    record.loss = [0.69] * 600
    record.moved = [[0.0, 1e-3 * step] for step in range(600)]
    assert training.unmoved(record, 1)  # never moved
    assert not training.unmoved(record, 2)  # moved 0.6: a gradient reaches it
    record.moved = [[1e-9 * step, 0.0] for step in range(600)]  # 6e-7 of 4 in 600 steps
    assert training.unmoved(record, 1)
    record.moved = [[1e-6 * step, 0.0] for step in range(600)]  # 6e-4: moved
    assert not training.unmoved(record, 1)


def test_a_slow_start_beside_broken_math_is_the_bugs_plateau(write_spec):
    """A wrong derivative that is almost right near 0 (tanh's `1 - z**2` fed z) leaves a small
    init's slow start looking the same: the wrong derivative makes it a T102, caused by it."""
    path = mlp(
        write_spec,
        [
            '{units: 8, activation: {name: tanh, derivative: "1 - z**2", derivative_of: z}}',
            "{units: 8, activation: tanh}",
            "{units: 1, activation: sigmoid}",
        ],
        data="{source: xor, samples: 400}",
        init="{name: normal, std: 0.01}",
        train="{optimizer: sgd, lr: 1.0, epochs: 5000, batch_size: full}",
    )
    report = run(path, budget=60)
    assert "T109" not in codes(report)
    (t102,) = by_code(report, "T102")
    assert t102.caused_by[0] == "A102"


STUCK = [
    (  # a zero-init hidden layer: no gradient reaches it or the layer below
        [
            "{units: 12, activation: relu}",
            "{units: 12, activation: relu, init: zeros}",
            "{units: 1, activation: sigmoid}",
        ],
        "",
        2,
        "no gradient reaches layer 2",
        "Y101",
    ),
    (  # a dead ReLU layer
        [
            "{units: 10, activation: relu, bias_init: {name: constant, value: -8}}",
            "{units: 10, activation: tanh}",
            "{units: 1, activation: sigmoid}",
        ],
        "",
        1,
        "are dead",
        "T107",
    ),
    (  # a hidden gradient cut by a derivative of 0, from a small init that would look slow
        [
            '{units: 6, activation: {name: tanh, derivative: "0 * z"}}',
            "{units: 1, activation: sigmoid}",
        ],
        "  init: {name: normal, std: 0.01}\n",
        1,
        "no gradient reaches layer 1",
        "A101",
    ),
]


@pytest.mark.parametrize(("layers", "extra", "layer", "why", "cause"), STUCK)
def test_a_structurally_stuck_net_still_plateaus_at_the_prior(
    write_spec, layers, extra, layer, why, cause
):
    body = "".join(f"    - {spec}\n" for spec in layers)
    path = write_spec(
        "seed: 3\ndata: {source: circles, samples: 300}\nmodel:\n"
        + (extra or "  init: he_normal\n")
        + f"  layers:\n{body}loss: bce\ntrain: {{optimizer: sgd, lr: 0.5, batch_size: 32}}\n"
    )
    report = run(path, budget=60)
    assert "T109" not in codes(report)
    (t102,) = by_code(report, "T102")
    assert t102.location.layer == layer and why in " / ".join(t102.evidence["stuck"])
    assert cause in t102.caused_by


# --- Y103: a layer without signal -------------------------------------------------------------


@pytest.mark.parametrize("select", [(), ("Y103",)])
def test_a_zero_init_layer_is_no_signal_for_y103_not_an_explosion(write_spec, select):
    """Zero weights with random biases: layer 1's z is its bias, the same for every sample, so
    its spread says nothing of the input's; the sigmoid layer above gets a signal from the
    biases' 0.5 ± … alone. Neither is an explosion, selected alone or not."""
    path = mlp(
        write_spec,
        [
            "{units: 16, activation: sigmoid, init: zeros}",
            "{units: 16, activation: tanh}",
            "{units: 1, activation: sigmoid}",
        ],
        extra="  bias_init: {name: normal, std: 0.001}\n",
    )
    report = diagnose(load_spec(path), Selection(list(select)), Options(quick=True))
    assert "Y103" not in codes(report)


def test_y103_still_measures_the_layers_before_one_without_signal(write_spec):
    layers = ["{units: 64, activation: tanh}"] * 3 + [  # layer 4: zeros, but not symmetric
        "{units: 16, activation: tanh, init: zeros, bias_init: {name: normal, std: 0.1}}",
        "{units: 1, activation: sigmoid}",
    ]
    path = mlp(write_spec, layers, init="{name: normal, std: 0.02}")
    report = diagnose(load_spec(path), Selection(["Y103"]), Options(quick=True))
    (y103,) = by_code(report, "Y103")
    assert "collapses" in y103.message and y103.location.layer == 3
    assert y103.evidence["no_signal_from_layer"] == 4


# --- M103/M104: the typical tensor's update ratio ---------------------------------------------


def _ratios_ctx(write_spec, rows, steps=None, loss=None, lr=0.1):
    """A context whose probe recorded these update ratios (one row per step, one per tensor)."""
    from nnfix.diagnose.probe import ProbeRecord

    layers = ["{units: 8, activation: tanh}"] * (len(rows[0]) - 1)
    path = mlp(write_spec, [*layers, "{units: 1, activation: sigmoid}"], train=f"{{lr: {lr}}}")
    ctx = Context(load_spec(path), Options(budget=60))
    n = len(rows)
    ctx.__dict__["probe"] = ProbeRecord(
        steps=list(range(n)),
        loss=loss or [0.69] * n,
        update_ratio=[list(r) for r in rows],
        ratio_steps=steps or list(range(n)),
        start_norm=[1.0] * len(rows[0]),
    )
    return ctx


def _update_findings(ctx):
    from nnfix.diagnose.rules.magnitudes import update_ratios

    return [f.code for f in update_ratios(ctx)]


@pytest.mark.parametrize(
    ("per_tensor", "fires"),
    [
        ((1e-6, 1e-6, 1e-2), True),  # the typical tensor (the median) is far below 1e-5
        ((1e-6, 1e-2, 1e-2), False),  # one tensor alone is not the learning rate's fault
        ((1e-8, 1e-3), True),  # two: their geometric mean 3e-6, not their mean 5e-4
        ((3e-5, 1e-3), False),
    ],
)
def test_m103_judges_the_typical_tensor_as_documented(write_spec, per_tensor, fires):
    rows = [[v * f for v in per_tensor] for f in (0.5, 1.0, 2.0, 1.0, 1.0)]  # medians: per_tensor
    assert _update_findings(_ratios_ctx(write_spec, rows)) == (["M103"] if fires else [])


def test_update_ratios_leave_out_the_steps_after_the_loss_went_bad(write_spec):
    rows = [[0.5, 0.4], [0.3, 0.6], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]  # then the wreck
    loss = [1.0, 50.0, 5e4, math.inf, math.nan]
    assert _update_findings(_ratios_ctx(write_spec, rows, loss=loss)) == ["M104"]


def test_an_early_diverging_run_reports_its_update_ratios_as_the_cause(write_spec):
    """lr 50 saturates the tanh layers within two steps and the loss overflows a few steps
    later: from then on their update ratios are 0 (saturated units pass no gradient), which
    made the typical tensor's median 0; the first update's ratios, in the tens, are what threw
    the run away."""
    path = mlp(
        write_spec,
        ["{units: 8, activation: tanh}"] * 2 + ["{units: 1, activation: linear}"],
        data="{source: linear, features: 3, samples: 200}",
        loss="mse",
        train="{optimizer: sgd, lr: 50.0, batch_size: full}",
    )
    report = run(path, budget=60)
    (t103,) = by_code(report, "T103")
    assert t103.evidence["step"] < 10
    (m104,) = by_code(report, "M104")
    assert m104.evidence["median"] > 1e-1 and m104.fix.value < 50.0
    assert t103.caused_by == ["M104"]


def test_a_wrong_gradient_that_throws_the_weights_around_explains_the_update_ratios():
    """examples/rows-buggy: sigmoid's derivative fed z makes b3's gradient 39 times too large
    and of the wrong sign; the updates it drives are the wrong gradient's symptom, not the
    learning rate's fault."""
    report = run(CONFIGS.parent / "examples" / "rows-buggy" / "spec.yaml", budget=60)
    (m104,) = by_code(report, "M104")
    assert m104.caused_by == ["G101"]
    (t103,) = by_code(report, "T103")
    assert t103.caused_by == ["G101", "M104"]


def test_units_a_small_init_aligns_early_in_a_slow_start_are_not_identical(write_spec):
    """A correct sigmoid net from a tiny random init: its units drift along one shared direction
    during the slow start (each scaled by its own outgoing weight), so they point alike but are
    not alike; trained whole it leaves the plateau within its epochs. Neither Y102 nor T102."""
    path = mlp(
        write_spec,
        ["{units: 8, activation: sigmoid}", "{units: 1, activation: sigmoid}"],
        data="{source: xor, samples: 200, noise: 0.1}",
        init="{name: normal, std: 0.001}",
        train="{lr: 2, epochs: 2000, batch_size: full}",
    )
    report = run(path)
    assert "Y102" not in codes(report) and "T102" not in codes(report), codes(report)
    (t109,) = by_code(report, "T109")
    assert t109.evidence["leave_step"] < 2000


def test_similarity_tells_identical_units_from_units_that_only_point_alike():
    from nnfix.diagnose.rules.init import IDENTICAL, similarity

    rng = np.random.default_rng(0)
    shared, outgoing = rng.normal(size=(5, 1)), rng.normal(size=(1, 8))
    start = 1e-3 * rng.normal(size=(5, 8))
    assert similarity(start + shared @ outgoing) < 0.5  # parallel, each unit its own length
    assert similarity(start + shared @ np.ones((1, 8))) > IDENTICAL  # one gradient for all
    assert similarity(np.full((5, 8), 0.3)) == 1.0
    assert abs(similarity(rng.normal(size=(50, 40)))) < 0.35
