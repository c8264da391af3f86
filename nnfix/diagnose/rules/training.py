"""T: training dynamics — the loss at init (T101), over the training probe (T102–T104, T107,
T108, T109), the schedule (T105) and whether the net can memorise a handful of samples (T106)."""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.plateau import GROWTH_MIN, GROWTH_SE, LATE, LEAVE_SHARE, Leave, leave
from nnfix.diagnose.probe import (
    LIKE_SAMPLES,
    START_SAMPLES,
    STILL_LEARNING,
    ProbeRecord,
    overfit,
)
from nnfix.diagnose.rules.init import IDENTICAL, similarity
from nnfix.diagnose.rules.rule import (
    ERROR,
    INFO,
    INIT_STATISTICS,
    OVERFIT_PROBE,
    STATIC,
    TRAINING_PROBE,
    WARNING,
    Becomes,
    Cause,
    Rule,
    caused_by,
    check,
    prose,
    yaml_block,
)
from nnfix.engine import activations
from nnfix.engine.losses import Loss, best_constant
from nnfix.engine.network import Network
from nnfix.engine.schedules import learning_rate
from nnfix.usercode.network import PENALTY_AGREE
from nnfix.usercode.sandbox import UserCallError

FAMILY = "T", "training dynamics"  # the code prefix, and what its rules cover

LOSS_OFF, LOSS_SLACK = 2.0, 0.05  # T101: loss at init above 2× what an untrained net gives + 0.05
PLATEAU = 0.02  # T102/T109: final loss within 2 % of the best constant prediction's
STILL = 0.01  # T102/T109: and falling by less than 1 % over the last quarter
SMALL_INIT = 0.5  # T109: a hidden layer starting under half the suited init's norm is small
EXPLODED = 1e3  # T103: a loss this many times its start counts as diverged
RISING = 1.10  # T104: last quarter's mean loss above 1.1× the best quarter's
EARLY, EARLY_LR = 0.02, 0.5  # T105: lr at 2 % of the steps at most half the initial lr
TENTH, TENTH_LR = 0.1, 0.01  # T105: or lr at 10 % of the steps at most 1/100 of it
OVERFIT_SAMPLES = 8  # T106: a handful of samples
OVERFIT_LRS = (1e-2, 3e-3, 3e-2)  # T106: Adam at these learning rates, in turn
OVERFIT_STEPS = 400  # T106: full-batch steps per learning rate
OVERFIT_LOSS = 0.05  # T106: "near zero" for BCE and CCE
OVERFIT_SHARE = 0.01  # T106: ... and for MSE/MAE, this share of the best constant's loss
OVERFIT_BUDGET = 0.3  # T106: share of --budget
DEAD_SHARE = 0.2  # T107: more than 20 % of a layer's ReLU units dead on every sample
SATURATED_SHARE = 0.5  # T108: |z| past the saturation point for most samples in most units
SATURATES = activations.get("sigmoid").saturates_beyond
Trained = TypeVar("Trained")  # what the probes train: nnfix's net, or the user's code
BROKEN = ("A101", "A102", "A103", "G101", "G102", "D103", "D104", "Y101", "Y102")  # T109 -> T102


T101 = Rule(
    code="T101",
    name="loss-at-init-off",
    severity=WARNING,
    summary="loss at init far from what an untrained net should give (ln 2 for balanced BCE, ln C for CCE, k·ln 2 for k sigmoid outputs)",
    detects=prose("""
        The loss of the initialised net on the training data, before any update, far above
        what an untrained net gives: ln 2 = 0.693 for one sigmoid output with BCE; k · ln 2
        for k sigmoid outputs (6.93 for ten); ln C for a C-class softmax with CCE (2.30 for
        ten); for MSE and MAE, the loss of the outputs an untrained net gives, every output
        unit at z = 0 — the mean of y² summed over the outputs for a linear output, of
        (0.5 − y)² for a sigmoid one. Both numbers are said in the spec's own loss: times its
        `scale` (0.5 for ½‖a − y‖²) and, with `reduction: sum`, summed over a batch of the
        spec's batch size.
        """),
    why=prose("""
        An untrained net should be unsure: with small weights the outputs sit near z = 0, a
        sigmoid at 0.5 and a softmax near uniform, and the loss is that of a coin flip per
        output. A much larger loss means outputs start saturated and confidently wrong —
        large weights, unscaled inputs, a large output bias. A BCE term at a = 0.99 for
        y = 0 is 4.6 instead of 0.69, the saturated units pass back little gradient, and the
        first epochs go into undoing the init.
        """),
    fix=prose("""
        A scaled init (`he_normal`, `xavier_normal`), inputs near unit scale (`data.scale`),
        zero biases (`bias_init: zeros`).
        """),
    before=yaml_block("""
        model:
          init: {name: normal, std: 1.0}
          layers:
            - {units: 64, activation: tanh}
            - {units: 10, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          init: xavier_normal
          layers:
            - {units: 64, activation: tanh}
            - {units: 10, activation: sigmoid}
        """),
    thresholds=prose(f"""
        Fires when the loss at init (the plain per-sample mean) exceeds {LOSS_OFF:g} × the
        expected value + {LOSS_SLACK:g}; the bundled healthy configs start within 1.4 × of it.
        """),
    causes=caused_by("D102", "Y104", "Y103", "D103"),
)


T102 = Rule(
    code="T102",
    name="loss-plateau-at-prior",
    severity=ERROR,
    summary="loss stuck at the best constant prediction (the label-prior entropy: 0.693, 3.25 …): the output ignores the input, and it will not escape — no gradient reaches the hidden layers, or what reaches them carries no information",
    detects=prose("""
        A training loss that settles at the loss of the best constant prediction, worked out
        from the labels: the label-prior entropy for BCE and CCE — ln 2 = 0.693 for balanced
        binary labels, 10 · H(0.1) = 3.25 for ten one-vs-rest sigmoid outputs on ten
        balanced classes, ln C for C balanced classes with softmax — and the targets'
        variance (summed over the outputs) for MSE; and that stays there for a reason the
        probe can see: no gradient reaches a hidden layer, its units are identical, all dead
        or saturated, or the math is broken (a wrong derivative or gradient, targets the
        output cannot represent) — or because nothing is taking it off: the probe measures no
        growth of the hidden layers, or a growth too slow for the spec's own learning-rate
        schedule and epochs (lr divided by the epoch leaves a 2,000-epoch run the sum of
        learning rates of about 8 epochs). A correct net whose measured growth leaves the
        plateau within the run is T109, not this.
        """),
    why=prose("""
        That is the loss a net reaches by learning the class frequencies through its output
        biases and nothing else: the output does not depend on the input. Either no gradient
        reaches the hidden layers, or they carry no information — symmetric or dead units, a
        wrong derivative, saturated inputs. More epochs or another learning rate will not
        move it. Or the hidden layers could learn but the run stops them first: gradient
        descent moves weights by lr · gradient, and a schedule that shrinks lr fast (or too
        few epochs) ends the run before the weights have grown enough to use the input.
        """),
    fix=prose("""
        Fix the root cause the finding links to (Y101, A102, T107, T105 …). Without one, check
        that gradients reach the first layer (`nnfix diagnose --select M101,G`); where the
        schedule or the epochs end the run first, a constant or slowly decaying lr, more
        epochs, or the init that suits the activation.
        """),
    before=yaml_block("""
        model:
          init: zeros
          layers:
            - {units: 64, activation: tanh}
            - {units: 10, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          init: xavier_normal
          layers:
            - {units: 64, activation: tanh}
            - {units: 10, activation: sigmoid}
        """),
    thresholds=prose(f"""
        The probe's final training loss within {PLATEAU:.0%} of the best constant prediction's
        loss, and falling by less than {STILL:.0%} of it over the last quarter of the probe;
        and one of: a hidden layer whose weights no update moved (never further from their
        start than one float rounding of their size per step — ε of the training dtype, 1.2e-7
        in float32 —: no gradient reaches it that moves a weight); a hidden layer whose units' weights
        are identical after the probe (similarity above {IDENTICAL:g}: within {1 - IDENTICAL:.0%} of their mean unit, as Y102);
        a hidden layer whose units are all dead (as T107) or mostly saturated (as T108) after
        the probe; or, beside the plateau, a finding that the math is broken or the targets
        cannot be represented ({", ".join(BROKEN)}): such a plateau is reported here, caused
        by it, even where the hidden layers move as a slow start's do. Where none of these
        holds, T109's measure decides: no significant growth of the hidden layers' gradients
        (as T109 measures it), or a growth that needs more than {LATE:g} × the sum of learning
        rates the rest of the run's schedule gives, is this finding, not T109.
        """),
    causes=(
        *caused_by(
            "Y101",
            "Y102",
            "A102",
            "A103",
            "A101",
            "G102",
            "G101",
            "G105",
            "T107",
            "T108",
            "D102",
            "D103",
            "D104",
            "Y103",
        ),
        # a plateau nothing holds but the run's schedule or learning rate
        Cause(("T105", "M103"), when=lambda f: "stuck" not in f.evidence),
    ),
    suppressed_by=("T103",),
)


T103 = Rule(
    code="T103",
    name="loss-diverged",
    severity=ERROR,
    summary="loss NaN/inf or exploding; names the first layer whose values went non-finite and the step",
    detects=prose("""
        A training loss that becomes NaN or inf, or grows by orders of magnitude, during the
        probe. The finding names the step and the first layer whose activations or gradients
        went non-finite.
        """),
    why=prose("""
        On a loss with curvature λ along some direction, a gradient step multiplies the
        error along it by (1 − lr · λ): once lr > 2/λ the error grows every step, by
        orders of magnitude within tens of steps, until it overflows. Once a weight is NaN,
        everything after it is NaN. The other common source is a custom function that
        overflows: exp(z) is inf above z ≈ 88.7 in float32 and 709.8 in float64.
        """),
    fix=prose("""
        Lower `train.lr` (by 10× to start with), scale the inputs, and prefer the built-in
        losses: with a built-in sigmoid or softmax output they compute BCE and CCE from the
        logits, without overflow.
        """),
    before=yaml_block("""
        train:
          optimizer: sgd
          lr: 50.0
        """),
    after=yaml_block("""
        train:
          optimizer: sgd
          lr: 0.1
        """),
    thresholds=prose(f"""
        A probe loss that is NaN or inf, or more than {EXPLODED:g} × its start, like with like:
        the mean loss over a window of steps that covers {LIKE_SAMPLES} samples (all of them in
        a smaller set) against the untrained net's mean loss over up to {START_SAMPLES} training
        samples — with large batches each step, with a batch of 1 the mean of {LIKE_SAMPLES}
        steps, since one sample's tiny loss is no start for another's. The probe stops at that step and reports the first layer, from the input, whose weights,
        pre-activations or activations are not finite.
        """),
    causes=caused_by("G101", "G102", "A102", "A103", "A101", "G105", "M104", "D102", "Y103"),
)


T104 = Rule(
    code="T104",
    name="loss-rising",
    severity=WARNING,
    summary="loss rising or oscillating over training: lr too high",
    detects=prose("""
        A training loss that trends upward over the probe, or swings up and down by large
        fractions from one evaluation to the next.
        """),
    why=prose("""
        With lr between 1/λ and 2/λ for the steepest curvature λ, each step overshoots the
        bottom of the valley and lands on the other side: the loss zigzags. Beyond 2/λ the
        overshoot grows and the loss climbs; mini-batch noise makes both worse.
        """),
    fix="Lower `train.lr` by 3–10×, or add a schedule that decays it (`schedule: cosine`).",
    before=yaml_block("""
        train:
          optimizer: sgd
          lr: 5.0
        """),
    after=yaml_block("""
        train:
          optimizer: sgd
          lr: 0.5
        """),
    thresholds=prose(f"""
        The mean loss of the probe's last quarter above its first quarter's and more than
        {RISING:g} × the lowest mean over any quarter-long window: the loss came down and went back
        up, which minibatch noise alone does not do over a quarter of the run.
        """),
    causes=caused_by("G101", "G102", "A101", "A102", "A103", "G105", "M104"),
    suppressed_by=("T103",),
)


T105 = Rule(
    code="T105",
    name="lr-decays-too-fast",
    severity=WARNING,
    summary="a schedule that shrinks lr 100× within the first tenth of training (lr/epoch)",
    detects=prose("""
        A learning-rate schedule, worked out from the spec before training, that has cut lr
        by 100× within the first tenth of training, or halved it within the first 2 %. lr
        divided by the epoch number — `{name: inverse_time, decay: 1.0}`, lr_t = lr/(1 + t) —
        does the first whenever there are 1000 epochs or more, and halves lr after a single
        epoch.
        """),
    why=prose("""
        With lr/(1 + t) the total distance the weights can travel grows only like ln T. Over
        1000 epochs the lr is down to 1/100 by epoch 99, and the remaining 900 epochs
        together move the weights as much as about 2.3 epochs at the original rate
        (Σ 1/(1 + t) from 100 to 999 ≈ ln 10): most of the run is spent standing still,
        usually long before the net has found where to go.
        """),
    fix=prose("""
        Decay slowly: `schedule: cosine` over the whole run, `inverse_time` with a small
        decay (`{name: inverse_time, decay: 0.01}`), or a constant lr.
        """),
    before=yaml_block("""
        train:
          lr: 0.1
          epochs: 1000
          schedule: {name: inverse_time, decay: 1.0}
        """),
    after=yaml_block("""
        train:
          lr: 0.1
          epochs: 1000
          schedule: cosine
        """),
    thresholds=prose(f"""
        lr at {TENTH:.0%} of the training steps ≤ {TENTH_LR:g} × the initial lr, or lr at
        {EARLY:.0%} of the steps ≤ {EARLY_LR:g} × it.
        """),
)


T106 = Rule(
    code="T106",
    name="cannot-overfit-batch",
    severity=ERROR,
    summary="the net cannot drive the loss near zero on a handful of samples, even with Adam at a few learning rates: a bug, not tuning",
    detects=prose("""
        The overfit probe: nnfix trains the net on a handful of training samples with its own
        optimiser settings (Adam, a few learning rates). A correct net with a few units per
        sample memorises them; if no run gets the loss near zero, something in the model or
        its gradients is broken. "Near zero" is the data term: where the user's own cost
        carries a penalty on the parameters (an L2 term with `lambd`), that penalty and its
        gradient are taken out of what the probe trains and judges.
        """),
    why=prose("""
        Fitting a few samples needs no generalisation and no tuning — Karpathy's "overfit one
        batch" step of his recipe for training neural nets — so a failure cannot be blamed on
        the learning rate or the data. It points at the math: wrong derivatives, frozen or
        dead units, outputs that cannot represent the targets.
        """),
    fix=prose("""
        Look at the root causes listed with it, then check the derivatives and gradients
        directly: `nnfix diagnose --select A,G`.
        """),
    before=yaml_block("""
        model:
          layers:
            - units: 8
              activation: {name: relu, derivative: "where(z > 0, 0, 1)"}   # mask inverted
            - {units: 1, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          layers:
            - units: 8
              activation: {name: relu, derivative: "where(z > 0, 1, 0)"}
            - {units: 1, activation: sigmoid}
        """),
    thresholds=prose(f"""
        {OVERFIT_SAMPLES} training samples, full batch, Adam at lr
        {", ".join(f"{lr:g}" for lr in OVERFIT_LRS)} for up to {OVERFIT_STEPS} steps each, from
        the spec's own init and with its own derivatives: it fails when no run gets the mean
        loss under {OVERFIT_LOSS:g} (BCE, CCE) or under {OVERFIT_SHARE:.0%} of the best
        constant prediction's (MSE, MAE), within {OVERFIT_BUDGET:.0%} of the budget — and no run
        was still lowering it at the end (by more than {STILL_LEARNING:.0%} over its last
        quarter of steps: slow is not broken). Both in the spec's own loss (times its scale;
        summed over the samples with reduction: sum). A penalty of the user's own is what their
        cost adds to the spec's loss of their output when that addition is the same (to
        {PENALTY_AGREE:g}, relatively) with the targets replaced by the outputs — a term of the
        parameters alone; its gradient is what their backward returns with those targets, and
        is subtracted at every step.
        """),
    causes=(
        *caused_by("A101", "A102", "A103", "G102", "G101", "G105", "Y101"),
        Cause(
            ("D103",),
            note="but the targets cannot be reached whatever the weights (D103): that is what "
            "stops the fit, not a bug in the math",
        ),
        *caused_by("D104", "T108", "T107", "D102"),
    ),
)


T107 = Rule(
    code="T107",
    name="dead-relu",
    severity=WARNING,
    summary="ReLU units that are zero for every sample",
    detects=prose("""
        ReLU units whose pre-activation is ≤ 0 for every training sample, at init or after
        the probe.
        """),
    why=prose("""
        A unit that outputs 0 for every input has derivative 0 for every input: it gets no
        gradient, its weights never change, and it never comes back. Large negative biases,
        a learning rate that knocked the weights too far (CS231n notes up to 40 % of a
        network can die that way) and unscaled inputs kill units.
        """),
    fix=prose("""
        Zero biases (`bias_init: zeros`), a lower `train.lr`, inputs near unit scale; or
        `leaky_relu`, whose small negative slope keeps a gradient flowing.
        """),
    before=yaml_block("""
        model:
          bias_init: {name: constant, value: -5}
          layers:
            - {units: 32, activation: relu}
            - {units: 1, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          bias_init: zeros
          layers:
            - {units: 32, activation: relu}
            - {units: 1, activation: sigmoid}
        """),
    thresholds=prose(f"""
        A unit is dead when z ≤ 0 for every sample. Fires when more than {DEAD_SHARE:.0%} of a layer's
        units are: a He-initialised layer starts with none, and a few may die in healthy
        training.
        """),
    causes=(  # a wrong gradient trains the units dead wherever they are: the bug, not ReLU
        Cause(("G101", "G102", "A101", "A102", "A103")),
        *caused_by("D102", "M104", "T103"),
    ),
)


T108 = Rule(
    code="T108",
    name="saturated-units",
    severity=WARNING,
    summary="sigmoid/tanh units saturated (|z| > 4) for most samples",
    detects=prose("""
        Sigmoid or tanh units whose pre-activation is beyond ±4 for most samples, at init or
        after the probe.
        """),
    why=prose("""
        Beyond |z| = 4 sigmoid's derivative is below 0.018 (1/14 of its peak 0.25) and tanh's
        below 0.0013 (1/750 of its peak 1): a saturated unit passes back almost nothing, and
        the weights into it and the layers below stop learning.
        """),
    fix=prose("""
        Scale the inputs (`data.scale: minmax` or `standard`), use the init that suits the
        activation (`xavier_normal`), lower `train.lr` if it happens during training.
        """),
    before=yaml_block("""
        data:
          source: npz
          path: pixels.npz      # values 0-255
        model:
          layers:
            - {units: 16, activation: sigmoid}
            - {units: 1, activation: sigmoid}
        """),
    after=yaml_block("""
        data:
          source: npz
          path: pixels.npz
          scale: minmax
        model:
          layers:
            - {units: 16, activation: sigmoid}
            - {units: 1, activation: sigmoid}
        """),
    thresholds=prose(f"""
        A unit is saturated when |z| > {SATURATES:g} (sigmoid, tanh) for more than
        {SATURATED_SHARE:.0%} of the samples; fires when more than {SATURATED_SHARE:.0%} of a
        layer's units are (saturation as DeepDiagnosis, Wardat et al. 2022, checks it, at
        SPEC's |z| > 4).
        """),
    causes=caused_by("D102", "Y104", "Y103"),
)


T109 = Rule(
    code="T109",
    name="slow-start",
    severity=INFO,
    summary="the loss is still near its starting value at the end of the probe although nothing is broken; says at which step the probe expects it to leave (extrapolated from the growth of the hidden layers' weights) and what would shorten it (init scale, learning rate)",
    detects=prose("""
        A loss still at the best constant prediction's at the end of the training probe, as
        T102 measures it, on a net in which the probe finds nothing stuck: gradient reaches
        every hidden layer, their units differ and are neither all dead nor mostly saturated,
        and no finding says the math is broken — and in which the probe measured the hidden
        layers' gradients growing at a rate that, under the spec's own learning-rate schedule
        and epochs, takes the loss off the plateau before the run ends. The finding says at
        which step — extrapolated from that growth — and what would shorten the wait (init
        scale, learning rate). Without measured growth, or when the schedule (lr divided by
        the epoch) or the epochs end the run first, the plateau is T102.
        """),
    why=prose("""
        From a small init the output barely depends on the input, and each layer's gradient
        is proportional to the weights of the layers above it, so the hidden layers barely
        learn at first. They still do: gradient descent grows their weights along the
        directions that fit the data, a little faster every step — geometrically with one
        hidden layer, faster still with more (Saxe et al. 2014 work this out for deep linear
        nets: the wait grows like the log of 1/init with one hidden layer, like a power of
        1/init with more). Until the weights are large enough the loss curve is flat, as if
        nothing were learned; then it drops fast. Nothing is broken: with enough epochs the
        run trains (a course net with std 0.01 and lr 1 can sit at ln 2 for hundreds of
        epochs, then reach 99 % accuracy).
        """),
    fix=prose("""
        Nothing needs fixing if the run is longer than the wait the finding names. To shorten
        it: the init that suits the activation (`xavier_normal` for tanh and sigmoid,
        `he_normal` for the ReLU family) instead of a small fixed std, or a larger learning
        rate.
        """),
    before=yaml_block("""
        model:
          init: {name: normal, std: 0.01}
          layers:
            - {units: 8, activation: tanh}
            - {units: 8, activation: tanh}
            - {units: 1, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          init: xavier_normal
          layers:
            - {units: 8, activation: tanh}
            - {units: 8, activation: tanh}
            - {units: 1, activation: sigmoid}
        """),
    thresholds=prose(f"""
        The plateau as T102 measures it (within {PLATEAU:.0%} of the best constant
        prediction's loss, falling by less than {STILL:.0%} of it over the last quarter),
        with none of T102's reasons. Time is counted as gradient descent sees it, in lr-time
        τ, the sum of the learning rates of the steps so far (for a constant lr, lr × steps).
        The probe fits the growth rate r per unit of τ of the hidden layers' gradient norm by
        least squares on its logarithm over the second half of the probe, and counts it when
        r is at least {GROWTH_SE:g} standard errors above 0 and amounts to {GROWTH_MIN:.0%} or
        more over that half. With one hidden layer the learned weights grow like e^(r·τ), and
        the loss leaves once the hidden weights have moved by {LEAVE_SHARE:g} × the norm the
        suited init gives them; with D ≥ 3 weight layers each layer's learned weights w grow
        like dw/dτ ∝ w^(D−1), which runs away in finite time, about (D − 1)/((D − 2) · r)
        after the end of the probe. Where the gradients do not grow, the hidden weights'
        distance from their start, at the speed of the probe's last quarter, reaches that
        {LEAVE_SHARE:g} × (a slow start only speeds up: the latest it leaves); weights that
        do not move away, or that have moved that far without leaving, are no slow start:
        T102. The τ still
        needed is then found on the spec's own schedule over the rest of its epochs: where it
        is more than {LATE:g} × the τ the rest of the run gives, the run ends on the plateau
        and it is T102; up to that the estimate's own error could account for it and it stays
        T109, naming the step. The figure is rough:
        on 43 small nets (one to three hidden layers of tanh, sigmoid or ReLU units, SGD or
        momentum) that left the plateau between 600 and 40 000 steps, it named a step for
        25, 22 of them within a factor of 2 of the step at which the loss left, the worst 5×
        too late. The fix is the suited init where a hidden layer starts under
        {SMALL_INIT:g} × its norm, else a larger learning rate. Where a finding beside it
        says the math is broken or the targets cannot be represented ({", ".join(BROKEN)}),
        the plateau is that bug's: it is reported as T102, caused by it.
        """),
    causes=caused_by("Y103", "M101", "M103"),
    suppressed_by=("T103",),
    becomes=Becomes("T102", BROKEN, lambda f: _broken_plateau(f)),
)


def expected_initial_loss(ctx: Context) -> tuple[float, str]:
    """What an untrained net's loss should be, as a per-sample mean of the plain loss (the
    spec's scale and reduction are applied by `in_spec_units`), and how it was worked out: the
    loss of the outputs an untrained net gives, every output unit at z = 0 — a sigmoid at 0.5, a
    softmax uniform, a linear or tanh unit at 0. NaN where those outputs are no probabilities
    for BCE or CCE (D104 says why)."""
    assert ctx.init is not None
    y = np.asarray(ctx.init.y, float)
    act = ctx.network.activations[-1]
    loss = ctx.spec.net_loss.name
    z0 = np.zeros_like(y)
    with np.errstate(all="ignore"):
        a0 = np.asarray(act.forward(z0), float)
    if a0.shape != y.shape or not np.all(np.isfinite(a0)):
        return math.nan, ""
    if loss in ("bce", "cce") and not np.all((a0 > 0) & (a0 < 1)):
        return math.nan, ""
    k = y.shape[1]
    if loss == "cce" and act.builtin_name == "softmax":
        how = f"ln {k} (uniform softmax over {k} classes)"
    elif loss == "bce" and act.builtin_name == "sigmoid" and np.all(np.isin(y, (0.0, 1.0))):
        how = f"{k}·ln 2 ({k} sigmoid output{'s' if k > 1 else ''} at 0.5)"
    else:
        at = float(a0.flat[0]) if np.ptp(a0) == 0 else None
        value = f" = {at:.3g}" if at is not None else ""
        how = f"the loss of every output at z = 0 ({act.name}(0){value}, as an untrained net gives)"
    return Loss(loss).value(z0, a0, y, act.builtin_name), how


def in_spec_units(ctx: Context, per_sample: float) -> tuple[float, str]:
    """A per-sample mean of the plain loss in the spec's own loss — its `scale`, and summed
    over a batch of the spec's batch size where its reduction sums — and what was applied."""
    loss = ctx.loss
    m = int(ctx.finite_rows.sum())
    size = ctx.spec.train.batch_size
    batch = min(m, size) if size != "full" else m
    notes = [f"× {loss.factor:g} (loss.scale)"] if loss.factor != 1 else []
    notes += [f"summed over a batch of {batch}"] if loss.reduction == "sum" else []
    return loss.per_batch(per_sample, batch), "; ".join(notes)


@check(INIT_STATISTICS, T101)
def loss_at_init(ctx: Context) -> list[Finding]:
    """The loss at init far above what an untrained net gives."""
    if ctx.init is None:
        return []
    reference, how = expected_initial_loss(ctx)
    plain = ctx.network.loss(ctx.init.cache, ctx.init.y, Loss(ctx.spec.net_loss.name), 0.0)
    if not math.isfinite(reference) or not math.isfinite(plain):
        return []
    if plain <= LOSS_OFF * reference + LOSS_SLACK:
        return []
    expected, units = in_spec_units(ctx, reference)
    at_init, _ = in_spec_units(ctx, plain)
    how += f", {units}" if units else ""
    return [
        T101.finding(
            f"loss at init is {at_init:.4g}, {plain / reference:.1f}× the {expected:.4g} an "
            f"untrained net gives ({how}): the outputs start out confidently wrong",
            layer=ctx.network.depth,
            path=("loss",),
            evidence={
                "loss_at_init": at_init,
                "expected": expected,
                "ratio": plain / reference,
            },
            fix=Fix(
                "start from small outputs: a scaled init (he/xavier) and inputs near unit scale"
            ),
        )
    ]


@check(STATIC, T105)
def lr_decays_too_fast(ctx: Context) -> list[Finding]:
    """A schedule that kills the learning rate early in training."""
    train = ctx.spec.train
    m = len(ctx.data.x_train)
    batch = m if train.batch_size == "full" else min(train.batch_size, max(m, 1))
    per_epoch = max(1, math.ceil(m / batch))
    epochs, total = train.epochs, train.epochs * per_epoch

    def lr(step: int) -> float:
        return learning_rate(train.schedule, train.lr, step // per_epoch, step, epochs, per_epoch)

    tenth, early = max(1, int(total * TENTH)), max(1, int(total * EARLY))
    at_tenth, at_early = lr(tenth) / train.lr, lr(early) / train.lr
    if at_tenth > TENTH_LR and at_early > EARLY_LR:
        return []
    stride = max(1, total // 1000)
    budget = sum(lr(s) for s in range(0, total, stride)) * stride / (train.lr * total)
    return [
        T105.finding(
            f"the {train.schedule.name} schedule cuts lr to {at_early:.2g}× within the first "
            f"{EARLY:.0%} of training and {at_tenth:.2g}× by the first tenth: the rest of "
            f"training moves the weights with {budget:.0%} of the learning rate it was given",
            path=("train", "schedule"),
            evidence={
                "lr": train.lr,
                "lr_at_2pct": lr(early),
                "lr_at_10pct": lr(tenth),
                "lr_at_end": lr(total - 1),
                "lr_budget_used": budget,
            },
            fix=Fix(
                "decay slowly: a cosine schedule over the whole run (or constant)",
                ("train", "schedule"),
                "cosine",
            ),
        )
    ]


def _quarters(loss: list[float]) -> tuple[float, float, float]:
    """Mean loss of the first and last quarter, and of the best quarter-length window."""
    w = max(1, len(loss) // 4)
    values = np.asarray(loss, float)
    windows = np.convolve(values, np.ones(w) / w, mode="valid")
    return float(values[:w].mean()), float(values[-w:].mean()), float(windows.min())


@check(TRAINING_PROBE, T103)
def divergence(ctx: Context) -> list[Finding]:
    """The loss went non-finite or exploded; the first layer whose values went bad."""
    probe = ctx.probe
    if probe is None or not probe.loss:
        return []
    start = probe.start_loss()
    grown = probe.exploded_at(EXPLODED)
    if probe.diverged_at is None and grown is None:
        return []
    step = probe.diverged_at if probe.diverged_at is not None else probe.steps[grown or 0]
    layer, where = _first_bad_layer(ctx)
    lr = ctx.spec.train.lr
    how = (
        "became non-finite"
        if probe.diverged_at is not None
        else f"grew over {EXPLODED:g}× its start"
        + (
            f" (a mean over {probe.window} steps of {probe.batch} sample"
            f"{'s' if probe.batch > 1 else ''} against the untrained net's mean loss, {start:.3g})"
            if probe.window > 1
            else ""
        )
    )
    return [
        T103.finding(
            f"the loss {how} at step {step}"
            + (
                f"; the first layer whose values went non-finite is layer {layer} ({where})"
                if layer
                else ""
            ),
            layer=layer,
            path=("train", "lr"),
            evidence={
                "step": step,
                "loss_start": start,
                "loss_last_finite": next(
                    (v for v in reversed(probe.loss) if math.isfinite(v)), None
                ),
                "layer": layer,
                "where": where,
            },
            fix=Fix("a smaller learning rate", ("train", "lr"), lr / 10),
        )
    ]


def _first_bad_layer(ctx: Context) -> tuple[int | None, str]:
    """The first layer, from the input, whose pre-activations, activations or weights are not finite."""
    net = ctx.probe_network()
    cache = ctx.probe_forward()
    for l in range(net.depth):
        if not all(np.all(np.isfinite(p)) for p in net.layers[l].params()):
            return l + 1, "weights"
        if not np.all(np.isfinite(cache.z[l])):
            return l + 1, "pre-activations z"
        if not np.all(np.isfinite(cache.a[l])):
            return l + 1, "activations a"
    return None, ""


@check(TRAINING_PROBE, T104)
def loss_rising(ctx: Context) -> list[Finding]:
    """The loss rises (or swings) over the probe instead of falling."""
    probe = ctx.probe
    if probe is None or len(probe.loss) < 8:
        return []
    first, last, best = _quarters(probe.loss)
    if not (math.isfinite(last) and last > RISING * best and last > first):
        return []
    return [
        T104.finding(
            f"the loss rises during training: from {first:.4g} (first quarter of the probe) to "
            f"{last:.4g} (last quarter), after reaching {best:.4g}",
            path=("train", "lr"),
            evidence={
                "first_quarter": first,
                "last_quarter": last,
                "best_window": best,
                "steps": len(probe.loss),
            },
            fix=Fix("a smaller learning rate", ("train", "lr"), ctx.spec.train.lr / 3),
        )
    ]


def _plateau(ctx: Context) -> tuple[float, float] | None:
    """The probe's final loss and the best constant prediction's, where the loss sits at the
    latter and no longer falls (None otherwise)."""
    probe = ctx.probe
    prior = ctx.prior_loss
    if probe is None or len(probe.loss) < 8 or prior is None:
        return None
    w = max(1, len(probe.loss) // 4)
    final = float(np.mean(probe.loss[-w:]))
    earlier = float(np.mean(probe.loss[-2 * w : -w])) if len(probe.loss) >= 2 * w else final
    if prior > 0 and abs(final - prior) <= PLATEAU * prior and earlier - final <= STILL * prior:
        return final, prior
    return None


def _stuck(ctx: Context) -> list[tuple[int, str]]:
    """Why the hidden layers cannot take the loss off the plateau, as the probe sees them:
    (layer, reason) for each layer that gets no gradient, has identical, all-dead or mostly
    saturated units. [] when nothing is stuck."""
    probe = ctx.probe
    assert probe is not None
    net = ctx.probe_network()
    zs = net.preactivations(ctx.probe_forward())
    reasons = []
    for l, act in enumerate(net.activations[:-1], start=1):
        z = net.by_unit(l, zs[l - 1])
        dead = _dead(act, z)
        if dead is not None and dead.all():
            reasons.append((l, f"all {dead.size} {act.name} units of layer {l} are dead"))
        share = _saturated(act, z)
        if share is not None and share > SATURATED_SHARE:
            reasons.append((l, f"{share:.0%} of layer {l}'s {act.name} units are saturated"))
        k = net.weight_of(l)
        same = similarity(net.units(k)) if k is not None else None
        if same is not None and same > IDENTICAL:
            reasons.append((l, f"layer {l}'s {z.shape[1]} units are identical"))
    cut = [l for l in range(1, net.depth) if unmoved(probe, l)]
    if cut:  # said last: the reasons above say why no gradient gets through
        top = cut[-1]
        below = " (nor below it)" if top > 1 else ""
        reasons.append((top, f"no gradient reaches layer {top}{below}"))
    return reasons


def unmoved(probe: ProbeRecord, layer: int) -> bool:
    """Whether no gradient moved layer `layer`'s weights over the probe: they never got further
    from their start than one float rounding of their size per step (ε of the dtype they train
    in), which is what an update too small to change a weight leaves — whatever the optimiser."""
    assert probe.network is not None
    k = _weight_of(probe.network, layer)
    if k is None:  # a layer without weights (flatten, pooling) has nothing to move
        return False
    weights = probe.network.weights[k]
    eps = float(np.finfo(weights.dtype).eps) if weights.dtype.kind == "f" else 0.0
    moved = np.nan_to_num(np.asarray(probe.moved, float)[:, k], nan=np.inf)
    return bool(moved.max(initial=0.0) <= len(probe.loss) * eps * probe.start_norm[k])


def _weight_of(net, layer: int) -> int | None:
    """Where layer `layer`'s weights are in the net's `weights` (the user's code: one a layer)."""
    return net.weight_of(layer) if isinstance(net, Network) else layer - 1


@check(TRAINING_PROBE, T102, T109)
def plateau_at_prior(ctx: Context) -> list[Finding]:
    """The loss settles at the loss of the best constant prediction: stuck (T102) where the
    probe sees why, or where the growth it measured does not take the loss off within the
    spec's own schedule and epochs; a slow start (T109) where it does."""
    plateau = _plateau(ctx)
    if plateau is None:
        return []
    final, prior = plateau
    probe = ctx.probe
    assert probe is not None
    evidence: dict[str, object] = {
        "final_loss": final,
        "prior_loss": prior,
        "steps": len(probe.loss),
    }
    head = (
        f"the loss settles at {final:.4g}, the {prior:.4g} of the best constant prediction "
        "(the label prior): the output ignores the input, and will go on doing so — "
    )
    reasons = _stuck(ctx)
    if reasons:
        layer, why = reasons[0]
        return [
            T102.finding(
                head + why,
                layer=layer,
                path=("loss",),
                evidence=evidence | {"stuck": [reason for _, reason in reasons]},
            )
        ]
    hidden = ctx.network.weight_layers[:-1]  # the weight layers below the output's
    target = LEAVE_SHARE * math.sqrt(sum(suited_norm(ctx, l) ** 2 for l in hidden))
    when = leave(probe, len(hidden) + 1, target, ctx.spec.train, steps_per_epoch(ctx))
    total = total_steps(ctx)
    evidence |= {"train_steps": total, "lr_at_end_of_probe": probe.lr[-1] if probe.lr else None}
    if when is None:
        why = (
            f"over the probe's {len(probe.loss)} steps the hidden layers' gradients did not grow "
            "and their weights did not move on from where they were: nothing is carrying the "
            "loss off it" + _lr_now(ctx, probe)
        )
        return [T102.finding(head + why, path=("loss",), evidence=evidence | {"growth": None})]
    evidence |= {
        "growth_per_100_steps": when.per_100,
        "leave_step": when.step,
        "lr_time_needed": when.needed,
        "lr_time_left": when.left,
    }
    if not when.in_time:
        return [T102.finding(head + _too_late(when, total), path=("loss",), evidence=evidence)]
    return [_slow_start(ctx, final, prior, when, evidence)]


def _lr_now(ctx: Context, probe: ProbeRecord) -> str:
    """What the schedule has done to the learning rate by the end of the probe, where it has."""
    lr = ctx.spec.train.lr
    now = probe.lr[-1] if probe.lr else lr
    if now >= 0.5 * lr:
        return ""
    return f" (the {ctx.spec.train.schedule.name} schedule has taken lr from {lr:g} to {now:.2g})"


def _too_late(when: Leave, total: int) -> str:
    """Why a measured growth does not take the loss off the plateau within the run."""
    rest = (
        f"the rest of the run's schedule gives {when.left:.3g}"
        if when.left > 0
        else "the run ends with the probe"
    )
    return (
        f"{_pace(when)}, but leaving the plateau at that pace needs a sum of learning rates of {when.needed:.3g} more, and "
        f"{rest}: the {total:,} steps the spec trains for end first"
    )


def _pace(when: Leave) -> str:
    """How the probe saw the hidden layers move."""
    if when.per_100 > 1:
        return f"the hidden layers' gradients grow ×{when.per_100:.3g} every 100 steps"
    return (
        f"the hidden layers' weights have moved {when.moved:.2g} from their start of the "
        f"{when.target:.2g} a leave takes, at a steady pace (their gradients do not grow)"
    )


def _broken_plateau(slow: Finding) -> Finding:
    """A T109 beside a finding of broken math: the plateau is that bug's (a T102)."""
    e = slow.evidence
    final, prior = float(e["final_loss"]), float(e["prior_loss"])  # type: ignore[arg-type]
    return T102.finding(
        f"the loss settles at {final:.4g}, the {prior:.4g} of the best constant prediction "
        "(the label prior): the output ignores the input, and with the math behind it broken "
        "it is not the slow start it looks like",
        path=("loss",),
        evidence={k: e[k] for k in ("final_loss", "prior_loss", "steps")},
    )


def steps_per_epoch(ctx: Context) -> int:
    """The minibatches of one epoch of the spec's training."""
    train = ctx.spec.train
    m = len(ctx.data.x_train)
    batch = m if train.batch_size == "full" else min(train.batch_size, max(m, 1))
    return max(1, math.ceil(m / batch))


def total_steps(ctx: Context) -> int:
    """The steps the spec trains for: its epochs times the minibatches per epoch."""
    return ctx.spec.train.epochs * steps_per_epoch(ctx)


def suited_norm(ctx: Context, layer: int) -> float:
    """The norm layer `layer`'s weights get from the init that suits its activation."""
    k = ctx.network.weight_of(layer)
    assert k is not None  # asked of layers with weights
    n_in, n_out = ctx.network.units(k).shape
    name = ctx.suited_init(layer)
    var = {"he_normal": 2 / n_in, "lecun_normal": 1 / n_in}.get(name, 2 / (n_in + n_out))
    return math.sqrt(var * n_in * n_out)


def _slow_start(ctx: Context, final: float, prior: float, when: Leave, evidence: dict) -> Finding:
    probe = ctx.probe
    assert probe is not None
    total = total_steps(ctx)
    suited = ctx.suited_init(1)
    net = ctx.network
    small = any(
        probe.start_norm[k] < SMALL_INIT * suited_norm(ctx, l)
        for k, l in enumerate(net.weight_layers[:-1])
    )
    shorten = (
        f"a larger init ({suited}) or learning rate shortens the wait"
        if small
        else "a larger learning rate shortens the wait"
    )
    fix = (
        Fix(f"{suited} starts the net off the plateau", ctx.init_path(1), suited)
        if small
        else Fix("a larger learning rate", ("train", "lr"), ctx.spec.train.lr * 3)
    )
    step = int(float(f"{when.step:.2g}")) if when.step is not None else None
    where = (
        f"around step {step:,} (within the {total:,} steps the spec trains for)"
        if step is not None and when.step is not None and when.step <= total
        else f"around step {step:,}, after the {total:,} steps the spec trains for, though "
        "within what the estimate can tell: the run may end on it"
        if step is not None
        else f"near the end of the {total:,} steps the spec trains for: the run may end on it"
    )
    message = (
        f"the loss is still {final:.4g}, the {prior:.4g} of the best constant prediction, "
        f"after {len(probe.loss)} steps, though nothing is stuck: {_pace(when)}, and at that "
        f"pace the loss should leave the plateau {where}; {shorten}"
    )
    evidence = evidence | {"leave_step": step}
    return T109.finding(message, path=fix.path or ("model",), evidence=evidence, fix=fix)


def _dead(act, z: np.ndarray) -> np.ndarray | None:
    """Per unit (z as `Network.by_unit` gives it: a column per unit, a conv filter's at every
    position): is its pre-activation in the activation's dead zone for every sample?"""
    if act.builtin is None or act.builtin.dead_below is None:
        return None
    return np.all(z <= act.builtin.dead_below, axis=0)


def _saturated(act, z: np.ndarray) -> float | None:
    """The share of units (z by unit, as `_dead`'s) past the activation's saturation point for
    most samples."""
    builtin = act.builtin
    beyond = builtin.saturates_beyond if builtin is not None else None
    if builtin is None or beyond is None:
        return None
    return float((np.mean(np.abs(z) > beyond, axis=0) > SATURATED_SHARE).mean())


@check(TRAINING_PROBE, T107)
def dead_relu(ctx: Context) -> list[Finding]:
    """ReLU units that output 0 for every sample."""
    if ctx.probe is None:
        return []
    net = ctx.network
    zs = net.preactivations(ctx.probe_forward())
    found = []
    for l, act in enumerate(net.activations[:-1], start=1):
        dead = _dead(act, net.by_unit(l, zs[l - 1]))
        if dead is None:
            continue
        share = float(dead.mean())
        if share > DEAD_SHARE:
            found.append(
                T107.finding(
                    f"{int(dead.sum())} of layer {l}'s {dead.size} {act.name} units are 0 for "
                    "every sample: they get no gradient and never recover",
                    layer=l,
                    path=ctx.layer_path(l, "activation"),
                    evidence={
                        "dead": int(dead.sum()),
                        "units": int(dead.size),
                        "share": share,
                        "bias_init": ctx.bias_init_name(l),
                    },
                    fix=Fix(
                        "leaky_relu keeps a gradient below 0 (or start biases at zeros)",
                        ctx.layer_path(l, "activation"),
                        "leaky_relu",
                    ),
                )
            )
    return found


@check(TRAINING_PROBE, T108)
def saturated_units(ctx: Context) -> list[Finding]:
    """Units past their saturation point for most samples."""
    if ctx.probe is None:
        return []
    net = ctx.network
    zs = net.preactivations(ctx.probe_forward())
    found = []
    for l, act in enumerate(net.activations[:-1], start=1):
        z = net.by_unit(l, zs[l - 1])
        share = _saturated(act, z)
        builtin = act.builtin
        if share is not None and share > SATURATED_SHARE and builtin is not None:
            beyond = float(builtin.saturates_beyond or 0.0)
            units = z.shape[1]
            count = round(share * units)
            slope = float(builtin.dz(np.array([beyond]))[0])
            suggestion = ctx.suited_init(l)
            found.append(
                T108.finding(
                    f"{count} of layer {l}'s {units} {act.name} units sit "
                    f"beyond |z| > {beyond:g} for most samples, where their derivative is under "
                    f"{slope:.2g}",
                    layer=l,
                    path=ctx.layer_path(l, "activation"),
                    evidence={
                        "saturated": count,
                        "units": units,
                        "share": share,
                    },
                    fix=Fix(f"scale the inputs and use {suggestion}", ctx.init_path(l), suggestion),
                )
            )
    return found


@check(OVERFIT_PROBE, T106)
def cannot_overfit(ctx: Context) -> list[Finding]:
    """The net cannot memorise a handful of samples even with Adam."""
    rows = np.flatnonzero(ctx.finite_rows)[:OVERFIT_SAMPLES]
    if ctx.y_train is None or not len(rows):  # no finite sample to fit: D101 says so
        return []
    dtype = ctx.spec.train.dtype
    x, y = ctx.data.x_train[rows].astype(dtype), ctx.y_train[rows].astype(dtype)
    name = ctx.spec.net_loss.name
    prior = best_constant(name, ctx.y_train[ctx.finite_rows])
    near_zero = OVERFIT_LOSS if name in ("bce", "cce") else OVERFIT_SHARE * max(prior, 1e-12)
    target = ctx.loss.per_batch(near_zero, len(rows))  # as the loss the probe trains reports it
    net, penalty = _data_term(ctx.trainable(dtype), x, y, ctx.loss)
    ok, tried = overfit(
        net,
        ctx.loss,
        ctx.spec.train,
        x,
        y,
        ctx.batch_rng,
        budget=min(OVERFIT_BUDGET * ctx.options.budget, ctx.options.remaining()),
        target=target,
        rates=OVERFIT_LRS,
        steps=OVERFIT_STEPS,
    )
    if ok is not False:  # it fitted, or the budget ran out before a verdict
        return []
    best = min(tried.values()) if tried else math.nan
    rates = ", ".join(f"{lr:g}" for lr in tried)
    return [
        T106.finding(
            f"the net cannot fit {len(rows)} samples: with Adam at lr {rates} the loss gets no "
            f"lower than {best:.3g} (near zero would be under {target:.2g}"
            + (
                f"; judged on the data term, your loss's own penalty of {penalty:.3g} and its "
                "gradient taken out"
                if penalty
                else ""
            )
            + "); a correct net of this size memorises them, so something in its math is broken",
            path=("model",),
            evidence={
                "samples": len(rows),
                "best_loss": {f"lr {lr:g}": v for lr, v in tried.items()},
                "target": target,
                "loss_name": name,
            }
            | ({"penalty_at_start": penalty} if penalty else {}),
        )
    ]


def _data_term(net: Trained, x: np.ndarray, y: np.ndarray, loss: Loss) -> tuple[Trained, float]:
    """What the overfit probe trains: the user's code without the penalty their own loss
    carries (an L2 term with `lambd`), so that it is judged on the data term — a penalty keeps
    their loss off zero and, on a handful of samples, pulls the weights back far harder than on
    their whole set — and that penalty's value at the start (0: none, or nnfix's own net)."""
    strip = getattr(net, "without_penalty", None)
    if strip is None:
        return net, 0.0
    try:
        with np.errstate(all="ignore"):
            return strip(x, y, loss)
    except UserCallError:  # their code raised: a U101 says so, and the probe meets it too
        return net, 0.0
