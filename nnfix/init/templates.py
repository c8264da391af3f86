"""The starter specs `nnfix init --template` writes: `spec` (a network with its own math
declared, runnable as written) and `columns` / `rows` (a skeleton for the user's own code in
either layout, pointing at `my_net.py`). Every key is commented; the schema modeline is on top."""

from __future__ import annotations

HEAD = """\
# yaml-language-server: $schema=nnfix-schema.json
# (for completion in your editor: `nnfix schema > nnfix-schema.json` beside this file)
"""

SPEC = (
    HEAD
    + """#
# A network described with the math your own code uses: nnfix trains it with its NumPy engine,
# using the derivatives you declare, and `nnfix diagnose {file}` says why it does not learn.
name: {name}                 # a label for reports and runs/ (default: the file's stem)
seed: 0                      # one seed drives data, init and batching

data:
  source: moons              # xor | moons | circles | spirals | blobs | linear (generated)
                             # csv | npz | npy | idx (your files: path:, or x: and y:)
  samples: 400
  noise: 0.1
  # path: train.csv          # csv/npz: the file, relative to this spec
  # target: label            # csv: the target column (default: the last)
  # scale: standard          # none (default) | standard | minmax
  # validation: 0.2          # a fraction held out

model:
  init: xavier_normal        # zeros | constant | uniform | normal | xavier_uniform | xavier_normal
                             #   | he_uniform | he_normal | lecun_normal, or {{name: normal, std: 0.01}}
  # bias_init: zeros
  layers:
    - units: 8
      activation:            # the math your code uses, so nnfix trains exactly what you train
        name: tanh           # sigmoid | tanh | relu | leaky_relu | elu | softplus | swish | linear
        derivative: "1 - a**2"   # the derivative your backward pass uses (an expression or file.py:function)
        derivative_of: a     # z: it is given the pre-activation; a: the activation's output
    - units: 1
      activation: sigmoid    # softmax for several classes (with loss: cce)

loss: bce                    # bce | cce | mse | mae, or a mapping:
# loss:
#   name: bce
#   gradient: "(a - y) / (a * (1 - a))"   # the dL/da your code uses
#   reduction: mean          # mean | sum
#   scale: 1.0               # 0.5 for the quadratic cost ½‖a − y‖²

train:
  optimizer: sgd             # sgd | momentum | nesterov | rmsprop | adam
  lr: 0.5
  epochs: 200
  batch_size: 32             # or full
  # schedule: constant       # constant | step | exponential | inverse_time | cosine
  # l2: 0.0
  # dtype: float32

# diagnose:                  # defaults for `nnfix diagnose` on this spec
#   fail_on: error           # error | warning | info | never
#   ignore: []
#   budget: 10               # seconds for the training probes
"""
)

_USER = (
    HEAD
    + """#
# Your own forward and backward code, checked as written, in {layout_text}
# Change the model to the widths and activations your code computes, and the names in
# `implementation:` to your functions. Or let nnfix read them off your code:
#   nnfix init --from my_net.py {file}
# Then: nnfix diagnose {file}
name: {name}
seed: 0

data:
  source: moons              # generated 2-D data; or source: csv with path: your_data.csv
  samples: 400
  noise: 0.1

model:                       # the network your code computes (U102 says where it parts)
  init: he_normal            # nnfix puts these initial values into your arrays
  layers:
    - {{units: 16, activation: relu}}
    - {{units: 8, activation: relu}}
    - {{units: 1, activation: sigmoid}}

loss: bce                    # the loss your backward differentiates: bce | cce | mse | mae

train:
  optimizer: sgd
  lr: 0.5
  epochs: 200
  batch_size: full

implementation:
  module: my_net.py          # your file, relative to this spec (a .py file or a .ipynb notebook)
{implementation}  layout: {layout}# {layout_short} (auto: found)
  # params: {{weight: "W{{l}}", bias: "b{{l}}"}}   # the keys of your params dict, if not W1, b1, …
  # grads: {{weight: "dW{{l}}", bias: "db{{l}}"}}  # where backward leaves the gradients, if nnfix cannot tell
  # per_sample: false        # true: forward/backward take one sample at a time
  # update_lr: 0.1           # a backward that updates the parameters itself: its step size
  # init: spec               # yours: keep the initial values your code creates
  # run_module: false        # true: run the whole module, its script too
  # timeout: 30              # seconds one call of your code may take
"""
)

COLUMNS = _USER.replace(
    "{implementation}",
    """\
  forward: L_model_forward   # L_model_forward(X, parameters) -> AL, or (AL, caches)
  backward: L_model_backward # L_model_backward(AL, Y, caches) -> {{"dW1": …, "db1": …, …}}
  # loss: compute_cost       # optional: compute_cost(AL, Y) -> the loss, as a float
""",
)
ROWS = _USER.replace(
    "{implementation}",
    """\
  forward: forward           # forward(params, X) -> A, or (A, cache)
  backward: backward         # backward(params, cache, X, Y) -> {{"dW1": …, "db1": …, …}}
  # loss: loss               # optional: loss(A, Y) -> the loss, as a float
""",
)

TEMPLATES = {
    "spec": (SPEC, {}),
    "columns": (
        COLUMNS,
        {
            "layout": "columns         ",
            "layout_short": "X (features, samples), W (n_out, n_in), b (n, 1)",
            "layout_text": "the columns layout (deeplearning.ai):\n# samples are columns, "
            "X is (features, samples), Z = W @ A + b, W (n_l, n_{{l-1}}), b (n_l, 1).",
        },
    ),
    "rows": (
        ROWS,
        {
            "layout": "rows            ",
            "layout_short": "X (samples, features), W (n_in, n_out), b (1, n)",
            "layout_text": "the rows layout:\n# samples are rows, "
            "X is (samples, features), Z = A @ W + b, W (n_{{l-1}}, n_l), b (1, n_l).",
        },
    ),
}
NAMES = tuple(TEMPLATES)


def text(template: str, file: str, name: str) -> str:
    """The template `template` for a spec file named `file`."""
    body, fields = TEMPLATES[template]
    return body.format(file=file, name=name, **{k: v.format() for k, v in fields.items()})
