"""Truth for dense-twolayer-script-jcjohnson: the script's sizes and weight setup, a batch of 4
random samples in place of its 64 (x (4, 1000) at scale 0.05, y (4, 10)), then one pass of its training loop
body; the gradient is -Δw / learning_rate (the script updates in place), the loss is the script's
own loss line np.square(y_pred - y).sum() evaluated by its forward statements."""

import ast
from pathlib import Path

import numpy as np
from truthlib import Param, load_defs, report, seed_everything

SCRIPT = "tensor/two_layer_net_numpy.py"
tree = ast.parse(Path(SCRIPT).read_text(encoding="utf-8"))
loop = next(n for n in tree.body if isinstance(n, ast.For))
forward = [s for s in loop.body if s.lineno <= 35]  # h, h_relu, y_pred, loss


def weights(node) -> bool:  # w1, w2 = np.random.randn(...): not the data x, y
    return (
        isinstance(node, ast.Assign)
        and node.lineno < loop.lineno
        and any(isinstance(t, ast.Name) and t.id in ("w1", "w2") for t in node.targets)
    )


seed_everything(0)
rng = np.random.default_rng(9)
x, y = (
    0.05 * rng.normal(size=(4, 1000)),
    rng.normal(size=(4, 10)),
)  # small x keeps the loss O(10): clean differences
ns = load_defs(SCRIPT, keep=weights, x=x, y=y)
names = ["w1", "w2"]
before = {k: ns[k].copy() for k in names}
ns["t"] = 0
exec(compile(ast.Module(body=loop.body, type_ignores=[]), SCRIPT, "exec"), ns)
grads = {k: -(ns[k] - before[k]) / ns["learning_rate"] for k in names}
params = {k: before[k].copy() for k in names}


def loss() -> float:
    env = {"np": np, "x": x, "y": y, **params}
    exec(compile(ast.Module(body=forward, type_ignores=[]), SCRIPT, "exec"), env)
    return float(env["loss"])


report([Param(k, params[k], grads[k]) for k in names], loss)
