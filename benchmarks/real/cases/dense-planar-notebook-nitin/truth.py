"""Truth for dense-planar-notebook-nitin: the notebook's definitions and setup cells (8 and 9) run on
a batch of 4 samples (columns) in place of load_data()'s 400, then one pass of cell 10's training
loop body; the gradient is -Δparameter / learning_rate (in-place updates), the loss is the loop's own
cost line (binary cross-entropy averaged over m = X.shape[1]) evaluated by its forward statements.
W2 is redrawn at unit scale after the setup (its 0.01 scale makes dW1 tiny; any point checks)."""

import ast

import numpy as np
from truthlib import Param, load_defs, report, seed_everything, source_of

NB = "Single Layer NN.ipynb"
tree = ast.parse(source_of(NB))
loop = next(n for n in tree.body if isinstance(n, ast.For))
forward = [s for s in loop.body if not isinstance(s, ast.If) and s.lineno < loop.lineno + 12]


def setup(node) -> bool:  # cells 8 and 9 (before the loop), not `X, y = load_data()`
    return (
        isinstance(node, ast.Assign)
        and node.lineno < loop.lineno
        and not (
            isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "load_data"
        )
    )


seed_everything(0)
rng = np.random.default_rng(10)
X = rng.normal(size=(2, 4))
y = np.array([[1.0, 0.0, 0.0, 1.0]])
ns = load_defs(NB, keep=setup, X=X, y=y)
ns["W2"] = rng.normal(size=ns["W2"].shape)
ns["b1"] = 0.1 * rng.normal(size=ns["b1"].shape)
ns["b2"] = 0.1 * rng.normal(size=ns["b2"].shape)
names = ["W1", "b1", "W2", "b2"]
before = {k: ns[k].copy() for k in names}
ns["epoch"] = 0
exec(compile(ast.Module(body=loop.body, type_ignores=[]), NB, "exec"), ns)
grads = {k: -(ns[k] - before[k]) / ns["learning_rate"] for k in names}
params = {k: before[k].copy() for k in names}


def loss() -> float:
    env = dict(ns, **params, cost=[0.0], epoch=0)
    exec(compile(ast.Module(body=forward, type_ignores=[]), NB, "exec"), env)
    return float(env["cost"][0])


report([Param(k, params[k], grads[k]) for k in names], loss)
