"""The rule catalog: every rule of SPEC §4 defined once — code, name, default severity,
summary, and the documentation `nnfix explain` prints."""

from __future__ import annotations

from dataclasses import dataclass

from nnfix.diagnose.findings import Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    detects: str
    why: str
    fix: str
    before: str
    after: str
    thresholds: str = ""


_CATEGORIES = {
    "D": "data: inputs and targets",
    "Y": "initialisation",
    "A": "activation derivatives",
    "G": "gradients against finite differences",
    "M": "gradient magnitudes and update sizes",
    "T": "training dynamics",
    "U": "the user's own code",
}

_RULES = [
    Rule(
        "D101",
        "non-finite-data",
        ERROR,
        "NaN or inf in the inputs or targets (with row numbers)",
        "Inputs or targets that are NaN or ±inf, reported with the rows (counted from 1, after `limit`) and columns they are in, for the training and the validation part.",
        "One NaN in a minibatch makes z, the loss and every gradient of that step NaN; after one update every weight is NaN and the net never recovers. An inf does the same through inf − inf.",
        "Remove or impute the rows before training (a missing-value marker such as an empty cell or `?` in a CSV often becomes NaN).",
        "data:\n  source: csv\n  path: houses.csv   # some rows have empty cells\n",
        "data:\n  source: csv\n  path: houses-clean.csv   # rows with missing values dropped\n",
    ),
    Rule(
        "D102",
        "unscaled-inputs",
        WARNING,
        "inputs far from unit scale (e.g. pixels 0–255) that saturate the first layer",
        "Input features whose root-mean-square is far above 1 — raw pixels 0–255, prices, counts — while `data.scale` is `none`. For a sigmoid or tanh first layer it also measures how many pre-activations start beyond ±4.",
        "A unit's pre-activation z = Σ wᵢxᵢ grows with the size of x. With pixels up to 255, z is in the hundreds: sigmoid and tanh sit flat at their limits, where their derivative is ~0 (σ'(4) = 0.018, σ'(10) = 4.5e-5), so the first layer gets no gradient. Even for ReLU, huge inputs make the first updates huge.",
        "Scale the inputs: `data.scale: minmax` (to [0, 1], natural for pixels) or `standard` (zero mean, unit variance per feature).",
        "data:\n  source: idx\n  x: train-images.idx\n  y: train-labels.idx\n",
        "data:\n  source: idx\n  x: train-images.idx\n  y: train-labels.idx\n  scale: minmax\n",
        "Fires when a feature's RMS exceeds 10 (unit-scale data has RMS ≈ 1; 0–255 pixels have RMS ≈ 100).",
    ),
    Rule(
        "D103",
        "label-output-mismatch",
        ERROR,
        "targets the output layer cannot represent (labels 0–9 with one sigmoid unit; one-hot width ≠ units)",
        "Targets outside the range of the output activation (class labels 0–9 for one sigmoid unit, whose output lies in (0, 1); −1/+1 labels for a sigmoid), or targets whose width cannot match the output layer (labels beyond the number of units, one-hot columns ≠ units).",
        "The loss can only be minimised by outputs the layer can produce. A sigmoid cannot reach 7, so the best it can do is saturate at 1 for every label above 0: the net learns nothing about the classes.",
        "One output unit per class with softmax and `loss: cce` (nnfix one-hot encodes integer labels for you), or an output activation whose range holds the targets (linear for regression).",
        "model:\n  layers:\n    - {units: 64, activation: relu}\n    - {units: 1, activation: sigmoid}   # labels are 0..9\nloss: bce\n",
        "model:\n  layers:\n    - {units: 64, activation: relu}\n    - {units: 10, activation: softmax}\nloss: cce\n",
    ),
    Rule(
        "D104",
        "output-loss-mismatch",
        ERROR,
        "an output activation and loss that do not fit (tanh or linear with BCE, softmax on one unit, sigmoid with CCE)",
        "Pairs of output activation and loss that do not fit: BCE on an output that can leave (0, 1) (tanh, linear, ReLU); softmax over a single unit; CCE on outputs that are not a distribution (sigmoid, linear).",
        "BCE takes log a and log(1 − a): outside (0, 1) they are undefined, and clipping hides it. Softmax over one unit is exp(z)/exp(z) = 1 whatever the input. CCE −Σ y log a only rewards the true class's output; without softmax's normalisation every output can rise to 1 together and the loss still falls.",
        "Sigmoid with BCE (one unit per binary label), softmax with CCE (one unit per class).",
        "model:\n  layers:\n    - {units: 16, activation: tanh}\n    - {units: 1, activation: tanh}\nloss: bce\n",
        "model:\n  layers:\n    - {units: 16, activation: tanh}\n    - {units: 1, activation: sigmoid}\nloss: bce\n",
    ),
    Rule(
        "D105",
        "class-imbalance",
        INFO,
        "a class under 5 % of the samples",
        "A class that makes up less than 5 % of the training samples.",
        "Always predicting the majority scores high accuracy, and the minority's gradient is a small share of each batch, so the net may never learn it. Not a bug — worth knowing when you read the accuracy.",
        "Resample or weight the classes, or judge the model by per-class recall rather than accuracy.",
        "data:\n  source: csv\n  path: fraud.csv   # 2 % positives\n",
        "data:\n  source: csv\n  path: fraud-balanced.csv   # positives oversampled\n",
        "A class share below 5 %.",
    ),
    Rule(
        "Y101",
        "symmetric-init",
        ERROR,
        "a hidden layer whose weights start constant (zeros): all its units stay one unit",
        "A hidden layer whose units all start with identical incoming weights and bias — zeros or a constant init.",
        "Identical units compute identical outputs and receive identical gradients, so every update keeps them identical: a layer of 64 units is one unit repeated 64 times. With tanh or ReLU and zeros, a = 0 and no gradient flows back at all; only the output biases learn, and the loss settles at the label prior's entropy (10·H(0.1) = 3.25 for ten one-vs-rest sigmoid outputs).",
        "A random init that breaks the symmetry and keeps the signal's scale: `he_normal` for ReLU-family layers, `xavier_normal` for tanh and sigmoid.",
        "model:\n  init: zeros\n  layers:\n    - {units: 64, activation: tanh}\n    - {units: 10, activation: sigmoid}\n",
        "model:\n  init: xavier_normal\n  layers:\n    - {units: 64, activation: tanh}\n    - {units: 10, activation: sigmoid}\n",
    ),
    Rule(
        "Y102",
        "units-stay-identical",
        ERROR,
        "after training, a layer's units still have (near) identical weights",
        "After the training probe, the units of a hidden layer whose incoming weight vectors are still nearly identical (pairwise cosine similarity ≈ 1).",
        "Units that never diverged are one unit: the layer's capacity is wasted and the net is far smaller than it looks. The usual cause is a symmetric init (Y101) or a custom backward that gives every unit the same gradient.",
        "Break the symmetry at init (`he_normal`/`xavier_normal`) and check the backward pass gives each unit its own gradient.",
        "model:\n  init: {name: constant, value: 0.1}\n  layers:\n    - {units: 32, activation: relu}\n    - {units: 1, activation: sigmoid}\n",
        "model:\n  init: he_normal\n  layers:\n    - {units: 32, activation: relu}\n    - {units: 1, activation: sigmoid}\n",
        "Mean pairwise cosine similarity of a layer's weight vectors above 0.99 after training.",
    ),
    Rule(
        "Y103",
        "init-scale-mismatch",
        WARNING,
        "activation std collapsing or exploding through depth at init; names the init that fits the activation",
        "At init, the standard deviation of the pre-activations z falling (collapse) or growing (explosion) by an order of magnitude from the first layer to the last hidden one, or exceeding 100 anywhere.",
        "Each layer multiplies the signal's spread by about √(n_in)·std(W)·gain. Too small, and deep layers see almost nothing and pass back vanishing gradients; too large, and tanh/sigmoid saturate or ReLU values blow up. He init (std √(2/n_in)) keeps ReLU layers at constant spread; Xavier/Glorot (std √(2/(n_in+n_out))) does so for tanh and sigmoid; LeCun (std √(1/n_in)) for SELU-like units.",
        "Use the init that suits the activation: `he_normal` for relu/leaky_relu/elu/swish, `xavier_normal` for tanh/sigmoid.",
        "model:\n  init: {name: normal, std: 0.01}\n  layers:\n    - {units: 128, activation: tanh}\n    - {units: 128, activation: tanh}\n    - {units: 128, activation: tanh}\n    - {units: 1, activation: sigmoid}\n",
        "model:\n  init: xavier_normal\n  layers:\n    - {units: 128, activation: tanh}\n    - {units: 128, activation: tanh}\n    - {units: 128, activation: tanh}\n    - {units: 1, activation: sigmoid}\n",
        "std(z) of the last hidden layer below 0.1× or above 10× that of the first; any std(z) above 100 (Glorot & Bengio 2010; He et al. 2015).",
    ),
    Rule(
        "Y104",
        "one-signed-init",
        WARNING,
        "all initial weights of a layer share a sign (e.g. uniform [0, 1))",
        "A layer whose initial weights are all positive (or all negative), as `np.random.rand` — uniform on [0, 1) — gives.",
        "With every weight positive, each unit sums its inputs with the same sign: the pre-activations have a large common mean that grows with the layer's width (n_in/2 for inputs near 1), sigmoid/tanh saturate, and the units start out nearly alike. Gradients for a layer's weights then share a sign too, so they can only move together.",
        "An init centred on zero: `he_normal` or `xavier_normal` (or `{name: uniform, low: -0.05, high: 0.05}`).",
        "model:\n  init: {name: uniform, low: 0, high: 1}\n",
        "model:\n  init: xavier_normal\n",
    ),
    Rule(
        "A101",
        "derivative-mismatch",
        ERROR,
        "a declared derivative that is not the derivative of its activation",
        "A layer's declared `derivative` that differs from the numerical derivative of its activation, on a grid of z and on the layer's actual pre-activations, and that no known mistake (A102, A103) explains. The finding shows the points where they differ most.",
        "Backprop multiplies the upstream gradient by the layer's derivative; a wrong derivative sends every layer below a gradient of the wrong size or sign, so the weights move in directions that do not lower the loss.",
        "Write the activation's true derivative, or drop `derivative:` and let nnfix use the built-in one.",
        'model:\n  layers:\n    - units: 16\n      activation: {name: sigmoid, derivative: "sigmoid(z)"}\n',
        'model:\n  layers:\n    - units: 16\n      activation: {name: sigmoid, derivative: "sigmoid(z) * (1 - sigmoid(z))"}\n',
    ),
    Rule(
        "A102",
        "derivative-wrong-argument",
        ERROR,
        "a derivative that is right only if given the other argument (`1 - z**2` called on z instead of a)",
        "A declared derivative that is right when fed the activation's output a but is fed the pre-activation z (or the reverse): `1 - z**2` is tanh's derivative written in its output, 1 − a², and `z * (1 - z)` is sigmoid's.",
        "tanh'(z) = 1 − tanh(z)² = 1 − a². Fed z instead of a, 1 − z² is negative for |z| > 1 and wrong everywhere else but 0: gradients flip sign for confident units, and the layers below learn the opposite of what they should. Typical symptom: the loss stalls near ln 2 = 0.693.",
        "Say what your derivative is given: `derivative_of: a` (or write it in z: `1 - tanh(z)**2`).",
        'model:\n  layers:\n    - units: 10\n      activation: {name: tanh, derivative: "1 - z**2", derivative_of: z}\n',
        'model:\n  layers:\n    - units: 10\n      activation: {name: tanh, derivative: "1 - z**2", derivative_of: a}\n',
    ),
    Rule(
        "A103",
        "derivative-of-other-activation",
        ERROR,
        "a derivative that belongs to another activation (tanh's on a sigmoid layer)",
        "A declared derivative that is exactly the derivative of a different activation than the layer's — for instance tanh's 1 − a² on a sigmoid layer, whose derivative is a(1 − a).",
        "Copy-pasting one layer's backward into another is common. For a sigmoid output a ∈ (0, 1), 1 − a² is between 1 and 4 times too large and does not vanish where it should, so the gradient is mis-scaled and its shape across units is wrong.",
        "Use the derivative of the layer's own activation (sigmoid: `a * (1 - a)` with `derivative_of: a`), or drop `derivative:`.",
        'model:\n  layers:\n    - units: 1\n      activation: {name: sigmoid, derivative: "1 - a**2", derivative_of: a}\n',
        'model:\n  layers:\n    - units: 1\n      activation: {name: sigmoid, derivative: "a * (1 - a)", derivative_of: a}\n',
    ),
    Rule(
        "G101",
        "gradient-mismatch",
        ERROR,
        "backprop gradient ≠ finite differences for a parameter tensor; names the first wrong tensor from the output and classifies it",
        "For each parameter tensor, the backprop gradient against central finite differences of the loss in float64, as the relative error ‖g_a − g_n‖ / (‖g_a‖ + ‖g_n‖). Tensors are reported in backprop order, output layer first: the first wrong tensor is where the bug enters, the ones below inherit it. Each wrong tensor is classified: sign flipped, scaled by the batch size m (or 1/m), scaled by another constant, transposed, zero, only the bias wrong, or other — with its worst entries.",
        "Gradient descent only lowers the loss if the gradient is the loss's gradient. A flipped sign climbs the loss; a factor of m makes the step size depend on the batch size; a transposed gradient updates the wrong weights.",
        "Fix the derivative or backward step the finding points at (its `caused by` names the A1xx/G102 finding that explains it).",
        'loss:\n  name: bce\n  gradient: "(y - a) / (a * (1 - a))"   # sign flipped\n',
        'loss:\n  name: bce\n  gradient: "(a - y) / (a * (1 - a))"\n',
        "Relative error ≤ 1e-7 excellent, ≤ 1e-5 fine, ≤ 1e-3 suspicious, above: wrong (CS231n); loosened near ReLU kinks.",
    ),
    Rule(
        "G102",
        "loss-gradient-mismatch",
        ERROR,
        "a declared loss gradient that is not the loss's derivative (shows a point where they differ)",
        "A declared `loss.gradient` (dL/da, or dL/dz with `gradient_of: z`) compared with the numerical derivative of the loss; the finding shows a point (y, a, yours, expected), and recognises a flipped sign and a missing reduction.",
        "The loss gradient starts backprop: every parameter's gradient is multiplied by it. A precedence slip such as `(1 - y/1 - a)` for `(1 - y)/(1 - a)` gives a gradient that is positive for y = 0 and y = 1 alike, so the output drifts one way whatever the label.",
        'Write the derivative with explicit parentheses: BCE\'s dL/da is `-(y/a - (1 - y)/(1 - a))`, or with a sigmoid output use `gradient: "a - y"` and `gradient_of: z`.',
        'loss:\n  name: bce\n  gradient: "-(y/a + (1 - y/1 - a))"\n',
        'loss:\n  name: bce\n  gradient: "-(y/a - (1 - y)/(1 - a))"\n',
    ),
    Rule(
        "G103",
        "gradient-shape-mismatch",
        ERROR,
        "a gradient whose shape is not its parameter's (bias gradient not summed over samples)",
        "A gradient returned by your backward pass whose shape differs from its parameter's: typically db of shape (1, m) or (n, m) — not summed over the samples — or a missing or extra gradient key.",
        "NumPy broadcasting makes `b -= lr * db` silently turn b into an (n, m) matrix: each sample gets its own bias, the forward pass broadcasts it back, and training seems to run while learning nothing sensible; with another batch size it crashes.",
        "Sum over the samples: `db = np.sum(dZ, axis=1, keepdims=True) / m` (columns layout; axis=0 for rows).",
        "implementation:\n  module: my_net.py\n  forward: forward_propagation\n  backward: backward_propagation\n# my_net.py:  db = dZ / m\n",
        "implementation:\n  module: my_net.py\n  forward: forward_propagation\n  backward: backward_propagation\n# my_net.py:  db = np.sum(dZ, axis=1, keepdims=True) / m\n",
    ),
    Rule(
        "G104",
        "gradcheck-unreliable",
        INFO,
        "the check could not be trusted somewhere (kinks, float32 code, gradients below the noise floor) and why",
        "Places where a finite-difference check cannot give a verdict: ReLU/leaky pre-activations within ε of 0 that flip between the two evaluations (a kink), user code that computes in float32, gradients smaller than the finite-difference noise floor. They are reported as unverifiable, never as wrong.",
        "Central differences assume a smooth function and exact arithmetic; at a kink the two evaluations straddle two slopes, and in float32 the rounding error of a difference is ~1e-7/ε.",
        "Usually nothing; where float32 code forces it, run your code in float64 for the check.",
        "model:\n  layers:\n    - {units: 64, activation: relu}\ntrain:\n  dtype: float32\n",
        "model:\n  layers:\n    - {units: 64, activation: relu}\ntrain:\n  dtype: float64\n",
    ),
    Rule(
        "M101",
        "vanishing-gradients",
        WARNING,
        "per-layer gradient norms falling by orders of magnitude toward the input, or tiny in absolute terms",
        "During the training probe, per-layer gradient norms that fall by orders of magnitude from the output to the input, or whose mean |g| is below 1e-7.",
        "Each layer multiplies the backward signal by Wᵀ and the activation's derivative; sigmoid's derivative is at most 0.25, so ten sigmoid layers scale it by ≤ 1e-6. The first layers then never learn.",
        "ReLU-family activations in hidden layers, an init that suits them (`he_normal`), inputs near unit scale; fewer layers.",
        "model:\n  init: {name: normal, std: 0.01}\n  layers:\n    - {units: 32, activation: sigmoid}\n    - {units: 32, activation: sigmoid}\n    - {units: 32, activation: sigmoid}\n    - {units: 1, activation: sigmoid}\n",
        "model:\n  init: he_normal\n  layers:\n    - {units: 32, activation: relu}\n    - {units: 32, activation: relu}\n    - {units: 32, activation: relu}\n    - {units: 1, activation: sigmoid}\n",
        "‖g_first‖/‖g_last‖ < 1e-3 with ‖g_first‖ < 1e-4 (AutoTrainer, Zhang et al. 2021), or mean |g| < 1e-7.",
    ),
    Rule(
        "M102",
        "exploding-gradients",
        WARNING,
        "per-layer gradient norms growing toward the input, or norms above 1e3",
        "During the training probe, per-layer gradient norms that grow by orders of magnitude toward the input, or exceed 1e3.",
        "When the backward signal grows layer by layer, updates of the first layers are huge; one step can throw the weights far away and the loss to NaN.",
        "A smaller init (`he_normal`/`xavier_normal`), scaled inputs, a lower learning rate.",
        "model:\n  init: {name: normal, std: 1.0}\n",
        "model:\n  init: he_normal\n",
        "‖g_first‖/‖g_last‖ > 1e3, or any layer's gradient norm above 1e3.",
    ),
    Rule(
        "M103",
        "update-ratio-low",
        WARNING,
        "lr·‖g‖/‖W‖ far below ~1e-3: the learning rate is too small to move the weights",
        "During the training probe, the ratio of each update's size to the weights' size, ‖ΔW‖/‖W‖, far below the ~1e-3 that works well; the finding names a learning rate that would bring it there.",
        "With updates a millionth of the weights, training is a million steps long: the loss looks stuck although nothing is wrong with the math.",
        "Raise `train.lr` towards the value the finding names.",
        "train:\n  optimizer: adam\n  lr: 1.0e-7\n",
        "train:\n  optimizer: adam\n  lr: 1.0e-3\n",
        "Median ‖ΔW‖/‖W‖ below 1e-5 (CS231n's rule of thumb: about 1e-3).",
    ),
    Rule(
        "M104",
        "update-ratio-high",
        WARNING,
        "lr·‖g‖/‖W‖ far above ~1e-3: the weights are being thrown around",
        "During the training probe, ‖ΔW‖/‖W‖ far above ~1e-3; the finding names a learning rate that would bring it there.",
        "If each step changes the weights by a tenth of their size, the net forgets what the last step learned; the loss oscillates or diverges.",
        "Lower `train.lr` towards the value the finding names.",
        "train:\n  optimizer: sgd\n  lr: 10.0\n",
        "train:\n  optimizer: sgd\n  lr: 0.1\n",
        "Median ‖ΔW‖/‖W‖ above 1e-1 (CS231n: about 1e-3).",
    ),
    Rule(
        "T101",
        "loss-at-init-off",
        WARNING,
        "loss at init far from what an untrained net should give (ln 2 for balanced BCE, ln C for CCE, k·ln 2 for k sigmoid outputs)",
        "The loss of the initialised net, before any update, against what an untrained net gives: ln 2 = 0.693 for one sigmoid output with BCE, k·ln 2 for k sigmoid outputs (6.93 for ten), ln C for a C-class softmax with CCE (2.30 for ten), the loss of predicting 0 for MSE (the targets' mean square).",
        "An untrained net should be unsure: small outputs, probabilities near uniform. A loss far above that means the outputs start saturated and confidently wrong — large weights, unscaled inputs — and the first steps are spent undoing it, with vanishing gradients through the saturated units.",
        "A scaled init (he/xavier), inputs near unit scale, a zero output bias.",
        "model:\n  init: {name: normal, std: 1.0}\n",
        "model:\n  init: xavier_normal\n",
        "Loss at init above 2× the expected value (the bundled healthy configs start at 0.7–1.4×).",
    ),
    Rule(
        "T102",
        "loss-plateau-at-prior",
        ERROR,
        "loss stuck at the best constant prediction (the label-prior entropy: 0.693, 3.25 …): the output ignores the input",
        "A training loss that settles at the loss of the best constant prediction, computed from the labels: the label-prior entropy for BCE/CCE (0.693 for balanced binary labels, 10·H(0.1) = 3.25 for ten one-vs-rest sigmoid outputs), the target variance for MSE.",
        "Reaching exactly the prior's entropy means the net learned the class frequencies through its output biases and nothing else: no gradient reaches the hidden layers, or they carry no information (symmetric or dead units, wrong derivatives).",
        "Fix the cause the finding links to (Y101, A102, T107 …); on its own, check that gradients reach the first layer.",
        "model:\n  init: zeros\n",
        "model:\n  init: xavier_normal\n",
        "Final probe loss within 2 % of the prior's loss, and no longer falling.",
    ),
    Rule(
        "T103",
        "loss-diverged",
        ERROR,
        "loss NaN/inf or exploding; names the first layer whose values went non-finite and the step",
        "A loss that becomes NaN or inf, or grows by orders of magnitude, during the probe; the finding names the step and the first layer whose activations or gradients went non-finite.",
        "Once a weight is NaN every later value is NaN. Usually the steps are too large for the loss surface (learning rate, unscaled inputs) or a custom function overflows (exp of a large z).",
        "Lower the learning rate; scale the inputs; use the stable built-in losses.",
        "train:\n  lr: 50.0\n",
        "train:\n  lr: 0.1\n",
    ),
    Rule(
        "T104",
        "loss-rising",
        WARNING,
        "loss rising or oscillating over training: lr too high",
        "A probe loss that trends upward, or swings up and down by large fractions from one evaluation to the next.",
        "With a step too large for the curvature, each update overshoots the valley; the loss bounces and creeps up.",
        "Lower `train.lr` (by 3–10×) or use a schedule that decays it.",
        "train:\n  optimizer: sgd\n  lr: 5.0\n",
        "train:\n  optimizer: sgd\n  lr: 0.5\n",
        "Loss at the end of the probe above its start, or half of its successive changes being rises of more than 10 %.",
    ),
    Rule(
        "T105",
        "lr-decays-too-fast",
        WARNING,
        "a schedule that shrinks lr 100× within the first tenth of training (lr/epoch)",
        "A learning-rate schedule that has cut lr by 100× by the first tenth of training, or halved it within the first 2 % — as lr/epoch (`inverse_time` with decay 1) does after a single epoch.",
        "With lr/t the total distance the weights can travel grows only like ln T: over 50 epochs the net gets 9 % of the learning it was given, and almost all of it in the first few epochs, before it has found where to go.",
        "Decay slowly: `schedule: cosine` over the whole run, `inverse_time` with a small decay (0.01), or a constant lr.",
        "train:\n  lr: 1.0\n  schedule: {name: inverse_time, decay: 1.0}\n",
        "train:\n  lr: 0.1\n  schedule: cosine\n",
        "lr at 10 % of the steps below 1/100 of the initial lr, or at 2 % below 1/2.",
    ),
    Rule(
        "T106",
        "cannot-overfit-batch",
        ERROR,
        "the net cannot drive the loss near zero on a handful of samples even with nnfix's own optimiser settings: a bug, not tuning",
        "The overfit probe: the net trained on a handful of samples with Adam at a few learning rates. A correct net with enough units memorises them; if none of the runs gets the loss near zero, something in the math is broken.",
        "Fitting a few samples needs no generalisation and no tuning (Karpathy's 'overfit one batch' recipe), so failure points at the model or its gradients: wrong derivatives, frozen or dead units, outputs that cannot represent the targets.",
        "Look at the root causes listed with it; check the gradients with `nnfix diagnose --select G,A`.",
        'model:\n  layers:\n    - units: 8\n      activation: {name: tanh, derivative: "z"}\n',
        "model:\n  layers:\n    - units: 8\n      activation: tanh\n",
    ),
    Rule(
        "T107",
        "dead-relu",
        WARNING,
        "ReLU units that are zero for every sample",
        "ReLU units whose pre-activation is negative for every training sample, at init or after the probe.",
        "A unit that outputs 0 everywhere has derivative 0 everywhere: it gets no gradient and never comes back. Large negative biases, a learning rate that threw the weights too far, or unscaled inputs kill units.",
        "Zero bias init, a lower learning rate, `leaky_relu`, scaled inputs.",
        "model:\n  bias_init: {name: constant, value: -5}\n  layers:\n    - {units: 32, activation: relu}\n",
        "model:\n  bias_init: zeros\n  layers:\n    - {units: 32, activation: relu}\n",
        "More than half of a layer's units dead on every sample.",
    ),
    Rule(
        "T108",
        "saturated-units",
        WARNING,
        "sigmoid/tanh units saturated (|z| > 4) for most samples",
        "Sigmoid or tanh units whose |z| exceeds 4 for most samples.",
        "Beyond |z| = 4 sigmoid's derivative is below 0.018 and tanh's below 0.0013: the unit passes back almost nothing, and the layers below stop learning.",
        "Scale the inputs; use an init that suits the activation (`xavier_normal`); a lower learning rate.",
        "data:\n  source: npz\n  path: pixels.npz   # values 0-255\nmodel:\n  layers:\n    - {units: 16, activation: sigmoid}\n",
        "data:\n  source: npz\n  path: pixels.npz\n  scale: minmax\nmodel:\n  layers:\n    - {units: 16, activation: sigmoid}\n",
        "|z| > 4 for more than half the samples in more than half of a layer's units (DeepDiagnosis, Wardat et al. 2022, uses |z| > 5).",
    ),
    Rule(
        "U101",
        "user-code-error",
        ERROR,
        "the user's function raised or returned the wrong type: shows their traceback, not nnfix's",
        "A function of yours (an activation or derivative in a `file.py:function` reference, or the `implementation:` forward, backward or loss) that raised or returned something other than what nnfix expects; the finding shows your traceback, with nnfix's frames left out.",
        "nnfix cannot check what it cannot run; the other passes carry on where they can.",
        "Fix the function the traceback points at; the message says what was expected (an array of z's shape, a dict of gradients …).",
        "implementation:\n  module: my_net.py\n  forward: forward_propagation\n  backward: backward_propagation\n# my_net.py: backward_propagation forgets to return grads\n",
        "implementation:\n  module: my_net.py\n  forward: forward_propagation\n  backward: backward_propagation\n# my_net.py: return grads\n",
    ),
    Rule(
        "U102",
        "forward-mismatch",
        WARNING,
        "the user's forward does not compute the network the spec declares",
        "Your forward function, given the same parameters and inputs as nnfix's reference forward pass, returns different outputs; the finding names the first layer where shapes or values part, where your cache shows the intermediates.",
        "If your code computes another network than the spec says (an activation swapped, a layer skipped, W not transposed), every other check compares against the wrong model.",
        "Make the spec describe the network your code computes, or fix the forward pass at the layer named.",
        "model:\n  layers:\n    - {units: 8, activation: relu}   # my_net.py uses tanh here\n    - {units: 1, activation: sigmoid}\n",
        "model:\n  layers:\n    - {units: 8, activation: tanh}\n    - {units: 1, activation: sigmoid}\n",
    ),
]

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}
_BY_NAME = {rule.name: rule for rule in _RULES}


def find(key: str) -> Rule | None:
    """A rule by code (any case) or by name."""
    key = key.strip()
    return RULES.get(key.upper()) or _BY_NAME.get(key.lower())


def matching(selector: str) -> list[Rule]:
    """The rules a selector names: a code, a code prefix (G, T1) or a rule name."""
    rule = find(selector)
    if rule is not None:
        return [rule]
    prefix = selector.strip().upper()
    if prefix and prefix[0] in _CATEGORIES and len(prefix) < 4:
        return [r for r in _RULES if r.code.startswith(prefix)]
    return []


def categories() -> dict[str, str]:
    """Each code prefix letter and what its rules cover."""
    return dict(_CATEGORIES)
