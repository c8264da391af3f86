"""Truth for dense-planar-script-yinanericxue: the script's definitions and its parameter setup run
on a batch of 4 samples (columns) in place of the flower dataset, then one pass of its training loop
body; the gradient is -Δparameter / learning_rate (back_propagation returns the updated
parameters), the loss is the script's compute_cost of forward_propagation. W2 is redrawn at unit
scale after the setup (its 0.01 scale makes dW1 tiny; any point checks). sklearn (imported by
planar_utils) is stubbed when it is not installed."""

import ast
import sys
import types
from pathlib import Path

import numpy as np
from truthlib import Param, load_defs, report, seed_everything

try:
    import sklearn.linear_model  # noqa: F401
except ImportError:
    for name in ("sklearn", "sklearn.datasets", "sklearn.linear_model"):
        sys.modules[name] = types.ModuleType(name)

SCRIPT = "BinaryClassificationHardCode.py"
seed_everything(0)
rng = np.random.default_rng(8)
X = rng.normal(size=(2, 4))
Y = np.array([[0.0, 1.0, 1.0, 0.0]])


def setup(
    node,
) -> bool:  # the parameter setup and sampleSize (before the loop), not the data loading
    return (
        isinstance(node, ast.Assign)
        and node.lineno < 45
        and not (
            isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", "") == "load_planar_dataset"
        )
    )


ns = load_defs(SCRIPT, keep=setup, X=X, Y=Y)
ns["W2"] = rng.normal(size=ns["W2"].shape)
ns["b1"] = 0.1 * rng.normal(size=ns["b1"].shape)
ns["b2"] = 0.1 * rng.normal(size=ns["b2"].shape)
loop = next(
    n for n in ast.parse(Path(SCRIPT).read_text(encoding="utf-8")).body if isinstance(n, ast.For)
)
names = ["W1", "b1", "W2", "b2"]
before = {k: ns[k].copy() for k in names}
ns["i"] = 0
exec(compile(ast.Module(body=loop.body, type_ignores=[]), SCRIPT, "exec"), ns)
grads = {k: -(ns[k] - before[k]) / ns["learning_rate"] for k in names}
params = {k: before[k].copy() for k in names}


def loss() -> float:
    A2, _ = ns["forward_propagation"](X, params["W1"], params["W2"], params["b1"], params["b2"])
    return float(ns["compute_cost"](A2, Y, X.shape[1]))


report([Param(k, params[k], grads[k]) for k in names], loss)
