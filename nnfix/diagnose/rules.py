"""The rule catalog: every rule of SPEC §4 defined once — code, name, default severity, and the
documentation `nnfix explain` and `nnfix rules` print."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from nnfix.diagnose.findings import Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


@dataclass(frozen=True)
class Rule:
    code: str  # "A102"
    name: str  # "derivative-wrong-argument"
    severity: Severity  # the default; a finding may carry another
    summary: str  # one line, for `nnfix rules`
    detects: str  # what it detects
    why: str  # why it breaks training
    fix: str  # how to fix it
    before: str  # a spec fragment with the problem
    after: str  # the same fragment fixed
    thresholds: str = ""  # numeric thresholds and where they come from


def _text(paragraph: str) -> str:
    """Prose written across source lines, as one line."""
    return " ".join(paragraph.split())


def _yaml(fragment: str) -> str:
    """A YAML fragment written indented in the source, flush left."""
    return textwrap.dedent(fragment).lstrip("\n")


_CATEGORIES = {
    "D": "data: inputs and targets",
    "Y": "initialisation",
    "A": "activation derivatives",
    "G": "gradients against finite differences",
    "M": "gradient magnitudes and update sizes",
    "T": "training dynamics",
    "U": "the user's own code",
}

_RULES = (
    # --- D: data -------------------------------------------------------------------------------
    Rule(
        code="D101",
        name="non-finite-data",
        severity=ERROR,
        summary="NaN or inf in the inputs or targets (with row numbers)",
        detects=_text("""
            Inputs or targets that are NaN or ±inf, in the training or the validation part. The
            finding lists the rows (numbered from 1 in the data as read, after `limit`) and the
            columns they are in, and how many NaNs and infs there are.
            """),
        why=_text("""
            One NaN in a batch makes that batch's pre-activations, its loss and every gradient
            NaN (NaN · 0 is still NaN), and the first update writes NaN into every weight. From
            then on the net outputs NaN for every input and never recovers. An inf does the same
            through inf − inf and 0 · inf. The usual sources are empty cells or markers such as
            `?` in a CSV, and a log or a division in the preprocessing.
            """),
        fix=_text("""
            Drop or impute the rows the finding lists before training (or fix the preprocessing
            that produced them), and point `data.path` at the cleaned file.
            """),
        before=_yaml("""
            data:
              source: csv
              path: houses.csv        # rows 17 and 240 have empty cells
            """),
        after=_yaml("""
            data:
              source: csv
              path: houses-clean.csv  # those rows dropped
            """),
    ),
    Rule(
        code="D102",
        name="unscaled-inputs",
        severity=WARNING,
        summary="inputs far from unit scale (e.g. pixels 0–255) that saturate the first layer",
        detects=_text("""
            With `data.scale: none`, an input feature whose root-mean-square is far above 1: raw
            pixels in 0–255, prices, counts. When the first layer is sigmoid or tanh, the finding
            also says what fraction of its pre-activations start beyond ±4, where the units are
            saturated.
            """),
        why=_text("""
            A first-layer unit computes z = Σ wᵢxᵢ + b, so z grows with x. Inits such as He and
            Xavier choose the weights' scale so that inputs of RMS ≈ 1 give z of about unit size;
            pixels of RMS ≈ 100 give |z| in the tens to hundreds. There sigmoid and tanh are flat:
            σ'(4) = 0.018, σ'(10) = 4.5e-5, tanh'(10) = 8e-9, so the first layer gets almost no
            gradient and the loss barely moves. ReLU layers do not saturate, but activations and
            gradients a hundred times too large make the usual learning rates diverge.
            """),
        fix=_text("""
            Set `data.scale: minmax` (each feature to [0, 1] by its own minimum and maximum; for
            pixels, close to dividing by 255) or `data.scale: standard` (zero mean, unit variance per feature; better for
            features with a sign or long tails). nnfix takes the statistics from the training part
            only and applies them to the validation part.
            """),
        before=_yaml("""
            data:
              source: idx
              x: train-images.idx     # pixels 0-255
              y: train-labels.idx
            """),
        after=_yaml("""
            data:
              source: idx
              x: train-images.idx
              y: train-labels.idx
              scale: minmax
            """),
        thresholds=_text("""
            Fires when a feature's RMS, √mean(x²), exceeds 10. Unit-scale data has RMS ≈ 1;
            MNIST's 0–255 pixels have RMS ≈ 85 over the image. A first-layer unit counts as
            saturated when |z| > 4.
            """),
    ),
    Rule(
        code="D103",
        name="label-output-mismatch",
        severity=ERROR,
        summary="targets the output layer cannot represent (labels 0–9 with one sigmoid unit; one-hot width ≠ units)",
        detects=_text("""
            Targets outside the range of the output activation — class labels 0–9 for one sigmoid
            unit, whose output lies in (0, 1); −1/+1 labels for a sigmoid; negative targets for a
            ReLU output — and targets whose width cannot match the output layer (a one-hot width,
            or a largest label, that does not fit the number of units).
            """),
        why=_text("""
            Training moves the outputs towards the targets, and the layer cannot get there. With
            labels 0–9 and one sigmoid unit, every label above 0 pulls the output towards 1 (with
            BCE the term −[y log a + (1 − y) log(1 − a)] for y = 7 even falls without bound as
            a → 1), so the unit saturates at 1 and the classes are never told apart. A one-hot
            target of width 10 cannot be compared entry by entry with 3 outputs.
            """),
        fix=_text("""
            For C classes: `units: C` with `softmax` and `loss: cce` (integer labels are one-hot
            encoded for you). For real-valued targets: a `linear` output with `loss: mse`, or
            rescale the targets into the activation's range.
            """),
        before=_yaml("""
            model:
              layers:
                - {units: 64, activation: relu}
                - {units: 1, activation: sigmoid}    # labels are 0..9
            loss: bce
            """),
        after=_yaml("""
            model:
              layers:
                - {units: 64, activation: relu}
                - {units: 10, activation: softmax}
            loss: cce
            """),
    ),
    Rule(
        code="D104",
        name="output-loss-mismatch",
        severity=ERROR,
        summary="output activation and loss that do not fit (tanh or linear with BCE, softmax on one unit, sigmoid with CCE)",
        detects=_text("""
            An output activation and a loss that do not fit together: BCE on an output that can
            leave (0, 1) (tanh, linear, ReLU and the like); softmax over a single unit (with BCE or
            anything else); CCE on outputs that are not a probability distribution (sigmoid,
            linear).
            """),
        why=_text("""
            BCE takes log a and log(1 − a), which exist only for a in (0, 1): a tanh output of −0.3
            gives log(−0.3) = NaN, and clipping a into (ε, 1 − ε) hides the NaN but leaves a zero
            gradient on the clipped side. Softmax over one unit is e^z / e^z = 1 for every input,
            so the output is constant and its gradient is zero. CCE, −Σ y log a, rewards only the
            true class's output; it is softmax's normalisation that pulls the other outputs down.
            With sigmoid outputs nothing does, so every output drifts towards 1 together and the
            argmax means little.
            """),
        fix=_text("""
            A sigmoid output with `loss: bce` (one unit per binary label), or a softmax output with
            `loss: cce` (one unit per class, at least two). For two classes, one sigmoid unit with
            BCE is the same model as two softmax units with CCE.
            """),
        before=_yaml("""
            model:
              layers:
                - {units: 16, activation: tanh}
                - {units: 1, activation: tanh}
            loss: bce
            """),
        after=_yaml("""
            model:
              layers:
                - {units: 16, activation: tanh}
                - {units: 1, activation: sigmoid}
            loss: bce
            """),
    ),
    Rule(
        code="D105",
        name="class-imbalance",
        severity=INFO,
        summary="a class under 5 % of the training samples",
        detects=_text("""
            A class (of binary or one-hot targets) that makes up less than 5 % of the training
            samples. The finding gives every small class's share.
            """),
        why=_text("""
            Not a bug, but it changes what the numbers mean. With 2 % positives, predicting
            "negative" for everything scores 98 % accuracy, and the positives contribute only 2 %
            of each batch's gradient, so the net can settle on the majority and stay there.
            """),
        fix=_text("""
            Judge the model by per-class recall or precision rather than accuracy; if the minority
            matters, oversample it (or undersample the majority) in the data file.
            """),
        before=_yaml("""
            data:
              source: csv
              path: fraud.csv            # 2 % positives
            """),
        after=_yaml("""
            data:
              source: csv
              path: fraud-balanced.csv   # positives oversampled to 30 %
            """),
        thresholds="A class's share of the training targets below 5 %.",
    ),
    # --- Y: initialisation ---------------------------------------------------------------------
    Rule(
        code="Y101",
        name="symmetric-init",
        severity=ERROR,
        summary="a hidden layer whose weights start constant (zeros): all its units stay one unit",
        detects=_text("""
            A hidden layer whose units all start with identical incoming weights and biases:
            `init: zeros` or `constant`, for the model or the layer. The output layer is exempt:
            its units are told apart by their different targets.
            """),
        why=_text("""
            Units with the same weights compute the same output, receive the same gradient and
            take the same step, so they stay identical for ever: gradient descent has no way to
            break the tie, and a layer of 64 units trains as one unit copied 64 times. Zeros are
            worse still: tanh and ReLU give a = 0, so the next layer's weights get no gradient and
            pass none back; only the output biases learn, and the loss settles at the label
            prior's entropy — 10·H(0.1) = 3.25 for MNIST with ten sigmoid outputs, ln 2 = 0.693
            for balanced binary labels.
            """),
        fix=_text("""
            A random init that breaks the tie and keeps the signal's scale: `he_normal` for
            ReLU-family layers, `xavier_normal` for tanh and sigmoid. Biases can stay zeros: once
            the weights differ, so do the units.
            """),
        before=_yaml("""
            model:
              init: zeros
              layers:
                - {units: 64, activation: tanh}
                - {units: 10, activation: sigmoid}
            """),
        after=_yaml("""
            model:
              init: xavier_normal
              layers:
                - {units: 64, activation: tanh}
                - {units: 10, activation: sigmoid}
            """),
    ),
    Rule(
        code="Y102",
        name="units-stay-identical",
        severity=ERROR,
        summary="after training, a layer's units still have (near) identical weights",
        detects=_text("""
            After the training probe, a hidden layer whose units' incoming weight vectors (with
            their biases) are still nearly parallel: the layer has not used its width.
            """),
        why=_text("""
            Units that never drifted apart compute the same feature, so the layer has the
            capacity of one unit and the net is far smaller than the spec says. The usual cause
            is a symmetric init (Y101); when the init was random, look for a backward pass that
            gives every unit the same gradient, such as a sum over the wrong axis.
            """),
        fix=_text("""
            Break the symmetry at init (`he_normal` for ReLU-family layers, `xavier_normal` for
            tanh and sigmoid) and check that your backward pass gives each unit its own gradient
            (`nnfix diagnose --select G101`).
            """),
        before=_yaml("""
            model:
              init: {name: constant, value: 0.1}
              layers:
                - {units: 32, activation: relu}
                - {units: 1, activation: sigmoid}
            """),
        after=_yaml("""
            model:
              init: he_normal
              layers:
                - {units: 32, activation: relu}
                - {units: 1, activation: sigmoid}
            """),
        thresholds=_text("""
            Mean pairwise cosine similarity of a layer's incoming weight vectors above 0.99 after
            the probe. Independent random vectors give about 0; even the all-positive uniform
            [0, 1) init gives only 0.75.
            """),
    ),
    Rule(
        code="Y103",
        name="init-scale-mismatch",
        severity=WARNING,
        summary="activation std collapsing or exploding through depth at init; names the init that fits the activation",
        detects=_text("""
            At init, on the training data, the standard deviation of the pre-activations z
            shrinking or growing by an order of magnitude from the first layer to the last hidden
            one, or exceeding 100 in any layer. The finding names the init that suits the layer's
            activation.
            """),
        why=_text("""
            Each layer multiplies the spread of the signal by about √n_in · std(W) times a factor
            of the activation (1 for tanh near 0, 1/√2 for ReLU, which zeroes half of it), and the
            backward pass scales gradients the same way. Below 1 the signal and the gradients
            fade with depth; above 1 tanh and sigmoid saturate and ReLU values blow up. With
            `normal, std: 0.01` and 128 tanh units each layer multiplies the spread by
            √128 · 0.01 = 0.11. The inits that keep the factor at 1: He, std √(2/n_in), for the
            ReLU family; Xavier/Glorot, std √(2/(n_in + n_out)), for tanh and sigmoid; LeCun,
            std √(1/n_in), for SELU-like self-normalising units.
            """),
        fix=_text("""
            Use the init that suits the activation, for the model or per layer: `he_normal` for
            relu, leaky_relu, elu, swish and softplus; `xavier_normal` for tanh and sigmoid;
            `lecun_normal` for a SELU-like activation written as an expression.
            """),
        before=_yaml("""
            model:
              init: {name: normal, std: 0.01}
              layers:
                - {units: 128, activation: tanh}
                - {units: 128, activation: tanh}
                - {units: 128, activation: tanh}
                - {units: 1, activation: sigmoid}
            """),
        after=_yaml("""
            model:
              init: xavier_normal
              layers:
                - {units: 128, activation: tanh}
                - {units: 128, activation: tanh}
                - {units: 128, activation: tanh}
                - {units: 1, activation: sigmoid}
            """),
        thresholds=_text("""
            std(z) of the last hidden layer below 0.1× or above 10× that of the first, or any
            layer's std(z) above 100. A well-initialised net keeps the ratio near 1 (the variance
            arguments of Glorot & Bengio 2010 and He et al. 2015).
            """),
    ),
    Rule(
        code="Y104",
        name="one-signed-init",
        severity=WARNING,
        summary="all initial weights of a layer share a sign (e.g. uniform [0, 1))",
        detects=_text("""
            A layer whose initial weights are all positive (or all negative), as `np.random.rand`
            — uniform on [0, 1) — gives. Constant weights are Y101's, not this rule's.
            """),
        why=_text("""
            Weights from [0, 1) have mean 0.5, so every unit adds up its inputs with the same sign
            and z has a large common offset: 0.5 · Σ xᵢ, about 51 for an MNIST image scaled to
            [0, 1]. Sigmoid and tanh units start saturated, and the units start out alike. Going
            back, a layer whose outgoing weights are all positive hands every unit an error
            signal of the same sign for a given sample, so the units are pushed up or down
            together instead of specialising.
            """),
        fix=_text("""
            An init centred on zero: `he_normal` for ReLU-family layers, `xavier_normal` for tanh
            and sigmoid (or at least `{name: uniform, low: -0.05, high: 0.05}`).
            """),
        before=_yaml("""
            model:
              init: {name: uniform, low: 0, high: 1}
              layers:
                - {units: 32, activation: sigmoid}
                - {units: 10, activation: sigmoid}
            """),
        after=_yaml("""
            model:
              init: xavier_normal
              layers:
                - {units: 32, activation: sigmoid}
                - {units: 10, activation: sigmoid}
            """),
    ),
    # --- A: activation derivatives -------------------------------------------------------------
    Rule(
        code="A101",
        name="derivative-mismatch",
        severity=ERROR,
        summary="a declared derivative that is not the derivative of its activation",
        detects=_text("""
            A layer's declared `derivative` that differs from the numerical derivative of its
            activation, on a grid of z and on the layer's actual pre-activations, in a way no
            known mistake explains (A102's wrong argument, A103's other activation). The finding
            shows the points where they differ most.
            """),
        why=_text("""
            Backprop multiplies the error arriving at a layer by the activation's derivative,
            dZ = dA ⊙ f'(z), and every layer below inherits the result. A wrong f' gives the
            layer and everything beneath it gradients of the wrong size or sign, so the weights
            move in directions that do not lower the loss.
            """),
        fix=_text("""
            Write the activation's true derivative (sigmoid: `sigmoid(z) * (1 - sigmoid(z))` in z,
            `a * (1 - a)` in a), or drop `derivative:` to let nnfix use the built-in one.
            """),
        before=_yaml("""
            model:
              layers:
                - units: 16
                  activation: {name: sigmoid, derivative: "sigmoid(z)"}
            """),
        after=_yaml("""
            model:
              layers:
                - units: 16
                  activation: {name: sigmoid, derivative: "sigmoid(z) * (1 - sigmoid(z))"}
            """),
    ),
    Rule(
        code="A102",
        name="derivative-wrong-argument",
        severity=ERROR,
        summary="a derivative that is right only if given the other argument (`1 - z**2` called on z instead of a)",
        detects=_text("""
            A declared derivative that is right when given the activation's output a but is given
            the pre-activation z, or the reverse. `1 - z**2` is tanh's derivative written in its
            output, 1 − a²; `z * (1 - z)` is sigmoid's, a(1 − a).
            """),
        why=_text("""
            tanh'(z) = 1 − tanh(z)² = 1 − a². Evaluated at z instead of a, 1 − z² is another
            function: right only at z = 0, 0 at |z| = 1 where the truth is 0.42, and negative
            beyond — at z = 2 it gives −3 instead of 0.07. Every gradient through a confident unit
            has its sign flipped and its size inflated, the layers below step uphill, and the loss
            stalls (near 0.693 on a balanced binary task).
            """),
        fix=_text("""
            Give the derivative the activation's output, as `dZ = dA * (1 - A**2)` does, and say
            so: `derivative_of: a`. Or keep z and write the derivative in z:
            `1 - tanh(z)**2`.
            """),
        before=_yaml("""
            model:
              layers:
                - units: 10
                  activation: {name: tanh, derivative: "1 - z**2", derivative_of: z}
            """),
        after=_yaml("""
            model:
              layers:
                - units: 10
                  activation: {name: tanh, derivative: "1 - z**2", derivative_of: a}
            """),
    ),
    Rule(
        code="A103",
        name="derivative-of-other-activation",
        severity=ERROR,
        summary="a derivative that belongs to another activation (tanh's on a sigmoid layer)",
        detects=_text("""
            A declared derivative that is exactly the derivative of an activation other than the
            layer's: tanh's 1 − a² on a sigmoid layer, sigmoid's a(1 − a) on a tanh layer,
            ReLU's step on a leaky ReLU. The finding names the activation it belongs to.
            """),
        why=_text("""
            Usually a backward step copied from another layer. Sigmoid's derivative is a(1 − a);
            tanh's 1 − a² on a sigmoid output is (1 + a)/a times too large: 3× at a = 0.5, 11× at
            a = 0.1, and as a → 0 it tends to 1 instead of 0, so units that should pass almost no
            gradient pass a full one. The error is different for every unit and sample, so no
            learning rate makes up for it.
            """),
        fix=_text("""
            Use the derivative of the layer's own activation (sigmoid: `a * (1 - a)` with
            `derivative_of: a`), or drop `derivative:`.
            """),
        before=_yaml("""
            model:
              layers:
                - units: 1
                  activation: {name: sigmoid, derivative: "1 - a**2", derivative_of: a}
            """),
        after=_yaml("""
            model:
              layers:
                - units: 1
                  activation: {name: sigmoid, derivative: "a * (1 - a)", derivative_of: a}
            """),
    ),
    # --- G: gradients against finite differences -----------------------------------------------
    Rule(
        code="G101",
        name="gradient-mismatch",
        severity=ERROR,
        summary="backprop gradient ≠ finite differences for a parameter tensor; names the first wrong tensor from the output and classifies it",
        detects=_text("""
            For each parameter tensor, the backprop gradient — nnfix's with your declared
            derivatives, or your own backward pass — against central finite differences of the
            loss in float64. Tensors are checked from the output down; each wrong one is
            classified: sign flipped (g ≈ −g_num), scaled by the batch size (g ≈ m·g_num or
            g_num/m), scaled by another constant (g ≈ c·g_num), transposed (g ≈ g_numᵀ), zero,
            or other, with its worst entries.
            """),
        why=_text("""
            Gradient descent lowers the loss only if it steps along the loss's gradient. A flipped
            sign climbs it; a factor of m turns lr = 0.1 into 25.6 at batch size 256 and ties the
            step to the batch size; a transposed gradient updates the wrong weights. Backprop
            computes each layer's gradient from the one above, so a mistake in one step corrupts
            every tensor below it: the first wrong tensor counting from the output is where the
            bug enters. Fix that one, re-check, then look at the rest.
            """),
        fix=_text("""
            Fix the derivative or backward step at the tensor the finding names; its `caused by`
            points at the A1xx or G102 finding that explains it, when there is one. In your own
            backward pass, look for a missing `/ m`, a missing transpose and a `+` that should be
            a `-`.
            """),
        before=_yaml("""
            loss:                  # sigmoid output
              name: bce
              gradient: "y - a"    # dL/dz, sign flipped
              gradient_of: z
            """),
        after=_yaml("""
            loss:
              name: bce
              gradient: "a - y"
              gradient_of: z
            """),
        thresholds=_text("""
            Relative error ‖g − g_num‖ / (‖g‖ + ‖g_num‖) per tensor: ≤ 1e-7 excellent,
            ≤ 1e-5 fine, ≤ 1e-3 suspicious, above 1e-3 wrong — the finding fires there
            (CS231n's bands for float64 central differences). Entries that cannot be verified
            are left to G104.
            """),
    ),
    Rule(
        code="G102",
        name="loss-gradient-mismatch",
        severity=ERROR,
        summary="a declared loss gradient that is not the loss's derivative (shows a point where they differ)",
        detects=_text("""
            A declared `loss.gradient` (dL/da, or dL/dz of the output layer with `gradient_of: z`)
            that differs from the derivative of the loss. The finding shows a point where they
            differ most (y, a, yours, the true value), and says when yours is only the true one
            with its sign flipped or times a constant (such as a mean over the samples taken a
            second time: nnfix applies `reduction` itself).
            """),
        why=_text("""
            The loss gradient starts backprop: every parameter's gradient is a product that
            begins with it. The precedence slip `-(y/a + (1 - y/1 - a))` reads as
            −(y/a + 1 − y − a), which is negative for y = 0 and for y = 1 alike: at y = 0,
            a = 0.2 it gives −0.8 where the truth is +1.25. Gradient descent then raises the
            output whatever the label, and the net learns nothing about the input.
            """),
        fix=_text("""
            Write the derivative with explicit parentheses — BCE's dL/da is
            `-(y/a - (1 - y)/(1 - a))` — or, with a sigmoid output, use the simpler and stabler
            `gradient: "a - y"` with `gradient_of: z`.
            """),
        before=_yaml("""
            loss:
              name: bce
              gradient: "-(y/a + (1 - y/1 - a))"
            """),
        after=_yaml("""
            loss:
              name: bce
              gradient: "-(y/a - (1 - y)/(1 - a))"
            """),
    ),
    Rule(
        code="G103",
        name="gradient-shape-mismatch",
        severity=ERROR,
        summary="a gradient whose shape is not its parameter's (bias gradient not summed over samples)",
        detects=_text("""
            A gradient returned by your backward pass whose shape is not its parameter's,
            typically db of shape (1, m) or (n, m) — not summed over the m samples — or W's
            gradient transposed; also a parameter with no gradient at all.
            """),
        why=_text("""
            NumPy broadcasting hides it: `b = b - lr * db` with b of shape (n, 1) and db of shape
            (n, m) silently makes b an (n, m) matrix, one bias per sample position in the batch.
            The forward pass broadcasts it back, so training seems to run while learning a bias
            for each position rather than one per unit; a batch of another size (the last partial
            batch, the test set) then crashes.
            """),
        fix=_text("""
            Sum over the samples: `db = np.sum(dZ, axis=1, keepdims=True) / m` in the columns
            layout, `np.sum(dZ, axis=0, keepdims=True) / m` in the rows layout.
            """),
        before=_yaml("""
            implementation:
              module: my_net.py
              forward: forward_propagation
              backward: backward_propagation
              layout: columns
            # my_net.py:  db = dZ / m
            """),
        after=_yaml("""
            implementation:
              module: my_net.py
              forward: forward_propagation
              backward: backward_propagation
              layout: columns
            # my_net.py:  db = np.sum(dZ, axis=1, keepdims=True) / m
            """),
    ),
    Rule(
        code="G104",
        name="gradcheck-unreliable",
        severity=INFO,
        summary="the check could not be trusted somewhere (kinks near ReLU's 0, float32 code, gradients below the noise floor) and why",
        detects=_text("""
            Places where a finite-difference check cannot give a verdict, and why: samples with a
            ReLU-family pre-activation within 1e-4 of 0, where the ±ε evaluations may straddle the
            kink (they are left out of the check); your code computing in float32; a tensor whose
            gradient is below the finite-difference noise floor (about 1e-9 of the loss). These are
            reported as unverifiable, never as wrong.
            """),
        why=_text("""
            Central differences (L(θ + ε) − L(θ − ε)) / 2ε assume a smooth function and exact
            arithmetic. Across a kink the two evaluations see two different slopes. Rounding adds
            an error of about ε_mach · |L| / ε: with ε = 1e-6 that is ~1e-10 · |L| in float64 but
            ~0.1 · |L| in float32, which swamps any real gradient. A gradient below that floor
            cannot be told from zero.
            """),
        fix=_text("""
            Usually nothing: a few kink entries in a ReLU net are expected. If your code casts to
            float32, let it compute in the dtype it is given (nnfix passes float64 for the check).
            """),
        before=_yaml("""
            implementation:
              module: my_net.py
              forward: forward_propagation
              backward: backward_propagation
            # my_net.py:  Z = (W @ A_prev + b).astype(np.float32)
            """),
        after=_yaml("""
            implementation:
              module: my_net.py
              forward: forward_propagation
              backward: backward_propagation
            # my_net.py:  Z = W @ A_prev + b    # float64 in, float64 out
            """),
    ),
    # --- M: gradient magnitudes and update sizes -----------------------------------------------
    Rule(
        code="M101",
        name="vanishing-gradients",
        severity=WARNING,
        summary="per-layer gradient norms falling by orders of magnitude toward the input, or tiny in absolute terms (1e-7)",
        detects=_text("""
            Per-layer weight-gradient norms, at init and during the training probe, that fall by
            orders of magnitude from the output layer to the first, or a layer whose mean |g| is
            below 1e-7.
            """),
        why=_text("""
            Going down, backprop multiplies the error by Wᵀ and by the activation's derivative at
            every layer. Sigmoid's derivative is at most 0.25, so with small weights the signal
            shrinks fast: with std 0.01 and 32 units each sigmoid layer scales it by about
            √32 · 0.01 · 0.25 ≈ 0.014, and three layers down only ~3e-6 of it is left. The first
            layers then barely move while the last ones fit what they can on top of near-random
            features.
            """),
        fix=_text("""
            ReLU-family activations in the hidden layers with `he_normal` (or `xavier_normal` if
            you keep tanh/sigmoid), inputs near unit scale (`data.scale`), fewer layers.
            """),
        before=_yaml("""
            model:
              init: {name: normal, std: 0.01}
              layers:
                - {units: 32, activation: sigmoid}
                - {units: 32, activation: sigmoid}
                - {units: 32, activation: sigmoid}
                - {units: 1, activation: sigmoid}
            """),
        after=_yaml("""
            model:
              init: he_normal
              layers:
                - {units: 32, activation: relu}
                - {units: 32, activation: relu}
                - {units: 32, activation: relu}
                - {units: 1, activation: sigmoid}
            """),
        thresholds=_text("""
            ‖g_first‖ / ‖g_last‖ < 1e-3 with ‖g_first‖ < 1e-4 (AutoTrainer's vanishing-gradient
            rule, Zhang et al., ICSE 2021), or a layer's mean |g| below 1e-7 — at lr 0.1 a step
            of 1e-8, about one float32 rounding step of a weight near 0.1.
            """),
    ),
    Rule(
        code="M102",
        name="exploding-gradients",
        severity=WARNING,
        summary="per-layer gradient norms growing toward the input, or norms above 1e3",
        detects=_text("""
            Per-layer weight-gradient norms, at init and during the training probe, that grow by
            orders of magnitude from the output layer to the first, or any layer's norm above 1e3.
        """),
        why=_text("""
            When each layer scales the backward signal by more than 1, the first layers get
            gradients orders of magnitude larger than the last: with `normal, std: 1.0` and 256
            ReLU units the factor is √(256/2) · 1 ≈ 11 per layer, about 1400 over three layers.
            One step at an ordinary learning rate then throws the first layers' weights far
            away, and the loss jumps or becomes NaN (T103).
            """),
        fix=_text("""
            An init scaled to the layer width (`he_normal` for ReLU-family layers,
            `xavier_normal` for tanh and sigmoid), inputs near unit scale, a lower `train.lr`.
            """),
        before=_yaml("""
            model:
              init: {name: normal, std: 1.0}
              layers:
                - {units: 256, activation: relu}
                - {units: 256, activation: relu}
                - {units: 256, activation: relu}
                - {units: 10, activation: softmax}
            """),
        after=_yaml("""
            model:
              init: he_normal
              layers:
                - {units: 256, activation: relu}
                - {units: 256, activation: relu}
                - {units: 256, activation: relu}
                - {units: 10, activation: softmax}
            """),
        thresholds=_text("""
            ‖g_first‖ / ‖g_last‖ > 1e3 (M101's ratio, the other way), or any layer's gradient
            norm above 1e3 — at lr 0.01 a step of 10, larger than any sensibly initialised weight
            tensor.
            """),
    ),
    Rule(
        code="M103",
        name="update-ratio-low",
        severity=WARNING,
        summary="lr·‖g‖/‖W‖ far below ~1e-3: the learning rate is too small to move the weights",
        detects=_text("""
            During the training probe, the size of each weight update relative to the weights,
            ‖ΔW‖ / ‖W‖ (lr · ‖g‖ / ‖W‖ for plain SGD; the optimiser's actual step otherwise), far
            below the ~1e-3 that trains well. The finding names a learning rate that would bring
            it there.
            """),
        why=_text("""
            At a ratio of 1e-6 the weights change by a tenth of their size only after 100 000
            steps: the loss looks stuck though nothing is wrong with the math. With Adam the step
            per weight is about lr whatever the gradient, so lr = 1e-7 against weights of size
            0.1 gives a ratio of about 1e-6.
            """),
        fix="Raise `train.lr` towards the value the finding names.",
        before=_yaml("""
            train:
              optimizer: adam
              lr: 1.0e-7
            """),
        after=_yaml("""
            train:
              optimizer: adam
              lr: 1.0e-3
            """),
        thresholds=_text("""
            Median ‖ΔW‖ / ‖W‖ of a weight tensor over the probe's steps below 1e-5, a hundred
            times under CS231n's rule of thumb of about 1e-3. Biases, which start at zero, are
            left out.
            """),
    ),
    Rule(
        code="M104",
        name="update-ratio-high",
        severity=WARNING,
        summary="lr·‖g‖/‖W‖ far above ~1e-3: the weights are being thrown around",
        detects=_text("""
            During the training probe, ‖ΔW‖ / ‖W‖ (lr · ‖g‖ / ‖W‖ for plain SGD) far above the
            ~1e-3 that trains well. The finding names a learning rate that would bring it there.
            """),
        why=_text("""
            At a ratio of 0.1 or more each step replaces a tenth of the weights, so ten steps can
            rewrite a layer entirely: the net forgets what the last steps learned, the loss
            oscillates or diverges, and ReLU units get knocked into the dead zone (T107).
            """),
        fix="Lower `train.lr` towards the value the finding names.",
        before=_yaml("""
            train:
              optimizer: sgd
              lr: 10.0
            """),
        after=_yaml("""
            train:
              optimizer: sgd
              lr: 0.1
            """),
        thresholds=_text("""
            Median ‖ΔW‖ / ‖W‖ of a weight tensor over the probe's steps above 1e-1, a hundred
            times over CS231n's rule of thumb of about 1e-3.
            """),
    ),
    # --- T: training dynamics ------------------------------------------------------------------
    Rule(
        code="T101",
        name="loss-at-init-off",
        severity=WARNING,
        summary="loss at init far from what an untrained net should give (ln 2 for balanced BCE, ln C for CCE, k·ln 2 for k sigmoid outputs)",
        detects=_text("""
            The loss of the initialised net on the training data, before any update, far above
            what an untrained net gives: ln 2 = 0.693 for one sigmoid output with BCE; k · ln 2
            for k sigmoid outputs (6.93 for ten); ln C for a C-class softmax with CCE (2.30 for
            ten); for MSE, the loss of predicting 0, the mean of y² summed over the outputs.
            """),
        why=_text("""
            An untrained net should be unsure: with small weights the outputs sit near z = 0, a
            sigmoid at 0.5 and a softmax near uniform, and the loss is that of a coin flip per
            output. A much larger loss means outputs start saturated and confidently wrong —
            large weights, unscaled inputs, a large output bias. A BCE term at a = 0.99 for
            y = 0 is 4.6 instead of 0.69, the saturated units pass back little gradient, and the
            first epochs go into undoing the init.
            """),
        fix=_text("""
            A scaled init (`he_normal`, `xavier_normal`), inputs near unit scale (`data.scale`),
            zero biases (`bias_init: zeros`).
            """),
        before=_yaml("""
            model:
              init: {name: normal, std: 1.0}
              layers:
                - {units: 64, activation: tanh}
                - {units: 10, activation: sigmoid}
            """),
        after=_yaml("""
            model:
              init: xavier_normal
              layers:
                - {units: 64, activation: tanh}
                - {units: 10, activation: sigmoid}
            """),
        thresholds=_text("""
            Fires when the loss at init exceeds 2 × the expected value + 0.05; the bundled
            healthy configs start within 1.4 × of it.
            """),
    ),
    Rule(
        code="T102",
        name="loss-plateau-at-prior",
        severity=ERROR,
        summary="loss stuck at the best constant prediction (the label-prior entropy: 0.693, 3.25 …): the output ignores the input",
        detects=_text("""
            A training loss that settles at the loss of the best constant prediction, worked out
            from the labels: the label-prior entropy for BCE and CCE — ln 2 = 0.693 for balanced
            binary labels, 10 · H(0.1) = 3.25 for ten one-vs-rest sigmoid outputs on ten
            balanced classes, ln C for C balanced classes with softmax — and the targets'
            variance (summed over the outputs) for MSE.
            """),
        why=_text("""
            That is the loss a net reaches by learning the class frequencies through its output
            biases and nothing else: the output does not depend on the input. Either no gradient
            reaches the hidden layers, or they carry no information — symmetric or dead units, a
            wrong derivative, saturated inputs. More epochs or another learning rate will not
            move it.
            """),
        fix=_text("""
            Fix the root cause the finding links to (Y101, A102, T107 …). Without one, check that
            gradients reach the first layer (`nnfix diagnose --select M101,G`).
            """),
        before=_yaml("""
            model:
              init: zeros
              layers:
                - {units: 64, activation: tanh}
                - {units: 10, activation: sigmoid}
            """),
        after=_yaml("""
            model:
              init: xavier_normal
              layers:
                - {units: 64, activation: tanh}
                - {units: 10, activation: sigmoid}
            """),
        thresholds=_text("""
            The probe's final training loss within 2 % of the best constant prediction's loss,
            and falling by less than 1 % over the last quarter of the probe.
            """),
    ),
    Rule(
        code="T103",
        name="loss-diverged",
        severity=ERROR,
        summary="loss NaN/inf or exploding; names the first layer whose values went non-finite and the step",
        detects=_text("""
            A training loss that becomes NaN or inf, or grows by orders of magnitude, during the
            probe. The finding names the step and the first layer whose activations or gradients
            went non-finite.
            """),
        why=_text("""
            On a loss with curvature λ along some direction, a gradient step multiplies the
            error along it by (1 − lr · λ): once lr > 2/λ the error grows every step, by
            orders of magnitude within tens of steps, until it overflows. Once a weight is NaN,
            everything after it is NaN. The other common source is a custom function that
            overflows: exp(z) is inf above z ≈ 88.7 in float32 and 709.8 in float64.
            """),
        fix=_text("""
            Lower `train.lr` (by 10× to start with), scale the inputs, and prefer the built-in
            losses: with a built-in sigmoid or softmax output they compute BCE and CCE from the
            logits, without overflow.
            """),
        before=_yaml("""
            train:
              optimizer: sgd
              lr: 50.0
            """),
        after=_yaml("""
            train:
              optimizer: sgd
              lr: 0.1
            """),
        thresholds=_text("""
            A probe loss that is NaN or inf, or more than 1e3 × the first step's loss. The probe
            stops at that step and reports the first layer, from the input, whose weights,
            pre-activations or activations are not finite.
            """),
    ),
    Rule(
        code="T104",
        name="loss-rising",
        severity=WARNING,
        summary="loss rising or oscillating over training: lr too high",
        detects=_text("""
            A training loss that trends upward over the probe, or swings up and down by large
            fractions from one evaluation to the next.
            """),
        why=_text("""
            With lr between 1/λ and 2/λ for the steepest curvature λ, each step overshoots the
            bottom of the valley and lands on the other side: the loss zigzags. Beyond 2/λ the
            overshoot grows and the loss climbs; mini-batch noise makes both worse.
            """),
        fix="Lower `train.lr` by 3–10×, or add a schedule that decays it (`schedule: cosine`).",
        before=_yaml("""
            train:
              optimizer: sgd
              lr: 5.0
            """),
        after=_yaml("""
            train:
              optimizer: sgd
              lr: 0.5
            """),
        thresholds=_text("""
            The mean loss of the probe's last quarter above its first quarter's and more than
            1.1 × the lowest mean over any quarter-long window: the loss came down and went back
            up, which minibatch noise alone does not do over a quarter of the run.
            """),
    ),
    Rule(
        code="T105",
        name="lr-decays-too-fast",
        severity=WARNING,
        summary="a schedule that shrinks lr 100× within the first tenth of training (lr/epoch)",
        detects=_text("""
            A learning-rate schedule, worked out from the spec before training, that has cut lr
            by 100× within the first tenth of training, or halved it within the first 2 %. lr
            divided by the epoch number — `{name: inverse_time, decay: 1.0}`, lr_t = lr/(1 + t) —
            does the first whenever there are 1000 epochs or more, and halves lr after a single
            epoch.
            """),
        why=_text("""
            With lr/(1 + t) the total distance the weights can travel grows only like ln T. Over
            1000 epochs the lr is down to 1/100 by epoch 99, and the remaining 900 epochs
            together move the weights as much as about 2.3 epochs at the original rate
            (Σ 1/(1 + t) from 100 to 999 ≈ ln 10): most of the run is spent standing still,
            usually long before the net has found where to go.
            """),
        fix=_text("""
            Decay slowly: `schedule: cosine` over the whole run, `inverse_time` with a small
            decay (`{name: inverse_time, decay: 0.01}`), or a constant lr.
            """),
        before=_yaml("""
            train:
              lr: 0.1
              epochs: 1000
              schedule: {name: inverse_time, decay: 1.0}
            """),
        after=_yaml("""
            train:
              lr: 0.1
              epochs: 1000
              schedule: cosine
            """),
        thresholds=_text("""
            lr at 10 % of the training steps ≤ 1/100 of the initial lr, or lr at 2 % of the steps
            ≤ 1/2 of it.
            """),
    ),
    Rule(
        code="T106",
        name="cannot-overfit-batch",
        severity=ERROR,
        summary="the net cannot drive the loss near zero on a handful of samples, even with Adam at a few learning rates: a bug, not tuning",
        detects=_text("""
            The overfit probe: nnfix trains the net on a handful of training samples with its own
            optimiser settings (Adam, a few learning rates). A correct net with a few units per
            sample memorises them; if no run gets the loss near zero, something in the model or
            its gradients is broken.
            """),
        why=_text("""
            Fitting a few samples needs no generalisation and no tuning — Karpathy's "overfit one
            batch" step of his recipe for training neural nets — so a failure cannot be blamed on
            the learning rate or the data. It points at the math: wrong derivatives, frozen or
            dead units, outputs that cannot represent the targets.
            """),
        fix=_text("""
            Look at the root causes listed with it, then check the derivatives and gradients
            directly: `nnfix diagnose --select A,G`.
            """),
        before=_yaml("""
            model:
              layers:
                - units: 8
                  activation: {name: relu, derivative: "where(z > 0, 0, 1)"}   # mask inverted
                - {units: 1, activation: sigmoid}
            """),
        after=_yaml("""
            model:
              layers:
                - units: 8
                  activation: {name: relu, derivative: "where(z > 0, 1, 0)"}
                - {units: 1, activation: sigmoid}
            """),
        thresholds=_text("""
            8 training samples, full batch, Adam at lr 1e-2, 3e-3 and 3e-2 for up to 400 steps
            each, from the spec's own init and with its own derivatives: it fails when no run
            gets the mean loss under 0.05 (BCE, CCE) or under 1 % of the targets' variance (MSE,
            MAE), within 30 % of the budget.
            """),
    ),
    Rule(
        code="T107",
        name="dead-relu",
        severity=WARNING,
        summary="ReLU units that are zero for every sample",
        detects=_text("""
            ReLU units whose pre-activation is ≤ 0 for every training sample, at init or after
            the probe.
            """),
        why=_text("""
            A unit that outputs 0 for every input has derivative 0 for every input: it gets no
            gradient, its weights never change, and it never comes back. Large negative biases,
            a learning rate that knocked the weights too far (CS231n notes up to 40 % of a
            network can die that way) and unscaled inputs kill units.
            """),
        fix=_text("""
            Zero biases (`bias_init: zeros`), a lower `train.lr`, inputs near unit scale; or
            `leaky_relu`, whose small negative slope keeps a gradient flowing.
            """),
        before=_yaml("""
            model:
              bias_init: {name: constant, value: -5}
              layers:
                - {units: 32, activation: relu}
                - {units: 1, activation: sigmoid}
            """),
        after=_yaml("""
            model:
              bias_init: zeros
              layers:
                - {units: 32, activation: relu}
                - {units: 1, activation: sigmoid}
            """),
        thresholds=_text("""
            A unit is dead when z ≤ 0 for every sample. Fires when more than 20 % of a layer's
            units are: a He-initialised layer starts with none, and a few may die in healthy
            training.
            """),
    ),
    Rule(
        code="T108",
        name="saturated-units",
        severity=WARNING,
        summary="sigmoid/tanh units saturated (|z| > 4) for most samples",
        detects=_text("""
            Sigmoid or tanh units whose pre-activation is beyond ±4 for most samples, at init or
            after the probe.
            """),
        why=_text("""
            Beyond |z| = 4 sigmoid's derivative is below 0.018 (1/14 of its peak 0.25) and tanh's
            below 0.0013 (1/750 of its peak 1): a saturated unit passes back almost nothing, and
            the weights into it and the layers below stop learning.
            """),
        fix=_text("""
            Scale the inputs (`data.scale: minmax` or `standard`), use the init that suits the
            activation (`xavier_normal`), lower `train.lr` if it happens during training.
            """),
        before=_yaml("""
            data:
              source: npz
              path: pixels.npz      # values 0-255
            model:
              layers:
                - {units: 16, activation: sigmoid}
                - {units: 1, activation: sigmoid}
            """),
        after=_yaml("""
            data:
              source: npz
              path: pixels.npz
              scale: minmax
            model:
              layers:
                - {units: 16, activation: sigmoid}
                - {units: 1, activation: sigmoid}
            """),
        thresholds=_text("""
            A unit is saturated when |z| > 4 for more than half the samples; fires when more
            than half of a layer's sigmoid/tanh units are (saturation as DeepDiagnosis, Wardat
            et al. 2022, checks it, at SPEC's |z| > 4).
            """),
    ),
    # --- U: the user's own code ----------------------------------------------------------------
    Rule(
        code="U101",
        name="user-code-error",
        severity=ERROR,
        summary="the user's function raised or returned the wrong type: shows their traceback, not nnfix's",
        detects=_text("""
            A function of yours — a `file.py:function` activation or derivative, or the
            `implementation:` forward, backward or loss — that raised, or returned something other
            than what nnfix expects (an array of z's shape, `AL` or `(AL, cache)`, a dict of
            gradients, a number). The finding shows your traceback with nnfix's frames left out.
            """),
        why=_text("""
            nnfix cannot check what it cannot run; the passes that do not need the function carry
            on.
            """),
        fix=_text("""
            Fix the function at the line the traceback points at; the message says what was
            expected.
            """),
        before=_yaml("""
            implementation:
              module: my_net.py
              forward: forward_propagation
              backward: backward_propagation
            # my_net.py: backward_propagation builds grads but ends without `return grads`
            """),
        after=_yaml("""
            implementation:
              module: my_net.py
              forward: forward_propagation
              backward: backward_propagation
            # my_net.py: backward_propagation ends with `return grads`
            """),
    ),
    Rule(
        code="U102",
        name="forward-mismatch",
        severity=WARNING,
        summary="the user's forward does not compute the network the spec declares",
        detects=_text("""
            Your forward function, given the same parameters and inputs as nnfix's reference
            forward pass, returns a different output. Where your cache shows the intermediates,
            the finding names the first layer where shapes or values part.
            """),
        why=_text("""
            If your code computes another network than the spec declares — an activation swapped,
            a layer skipped, W used untransposed — every other check compares your gradients and
            your training against the wrong model.
            """),
        fix=_text("""
            Make the spec describe the network your code computes, or fix your forward pass at
            the layer named.
            """),
        before=_yaml("""
            model:
              layers:
                - {units: 8, activation: relu}       # my_net.py uses np.tanh here
                - {units: 1, activation: sigmoid}
            implementation:
              module: my_net.py
              forward: forward_propagation
              backward: backward_propagation
            """),
        after=_yaml("""
            model:
              layers:
                - {units: 8, activation: tanh}
                - {units: 1, activation: sigmoid}
            implementation:
              module: my_net.py
              forward: forward_propagation
              backward: backward_propagation
            """),
    ),
)

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}
_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in _RULES}


def find(key: str) -> Rule | None:
    """A rule by code (any case) or by name."""
    key = key.strip()
    return RULES.get(key.upper()) or _BY_NAME.get(key.lower())


def matching(selector: str) -> list[Rule]:
    """The rules a selector names — a code, a code prefix (G, T1) or a rule name — in table
    order; [] when it names none."""
    rule = find(selector)
    if rule is not None:
        return [rule]
    prefix = selector.strip().upper()
    if not prefix or len(prefix) >= 4 or prefix[0] not in _CATEGORIES:
        return []
    return [rule for rule in _RULES if rule.code.startswith(prefix)]


def categories() -> dict[str, str]:
    """Each code prefix letter and what its rules cover."""
    return dict(_CATEGORIES)
