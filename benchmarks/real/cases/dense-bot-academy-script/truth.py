"""Truth for dense-bot-academy-script: one pass of nn.py's loop body on one sample (a random
image in [0, 1]^784 and a one-hot label), run from the script's own statements; the gradient is
-Δparameter / learn_rate (the script updates in place), the loss is the script's own cost line
e = 1/len(o) · Σ(o − l)² evaluated by the script's own forward statements."""

import ast
from pathlib import Path

import numpy as np
from truthlib import Param, report, seed_everything

tree = ast.parse(Path("nn.py").read_text(encoding="utf-8"))
outer = next(n for n in tree.body if isinstance(n, ast.For))  # for epoch in range(epochs)
inner = next(n for n in outer.body if isinstance(n, ast.For))  # for img, l in zip(...)
body = inner.body
forward = [s for s in body if s.lineno < 34]  # up to the cost line
init = [
    n
    for n in tree.body
    if isinstance(n, ast.Assign)
    and n.lineno < outer.lineno
    and not (isinstance(n.value, ast.Call) and getattr(n.value.func, "id", "") == "get_mnist")
]


def run(stmts, ns):
    exec(compile(ast.Module(body=stmts, type_ignores=[]), "nn.py", "exec"), ns)


seed_everything(0)
ns = {"np": np}
run(init, ns)  # w_i_h, w_h_o, b_i_h, b_h_o, learn_rate, ...
rng = np.random.default_rng(1)
img0 = rng.uniform(0, 1, size=784)
l0 = np.eye(10)[3]
names = ["w_i_h", "b_i_h", "w_h_o", "b_h_o"]
before = {k: ns[k].copy() for k in names}

step = dict(ns, img=img0.copy(), l=l0.copy())
run(body, step)  # one pass: forward, cost, backward + updates
lr = ns["learn_rate"]
grads = {k: -(step[k] - before[k]) / lr for k in names}

params = {k: before[k].copy() for k in names}


def loss() -> float:
    env = dict(ns, **params, img=img0.copy(), l=l0.copy())
    run(forward, env)
    return float(np.squeeze(env["e"]))


report([Param(k, params[k], grads[k]) for k in names], loss)
