"""The real-code corpus (benchmarks/real/): its case files hold together, none of their code is
committed, its independent truth (truthlib) judges gradients right, and its runner works end to
end on a local mirror and fails clearly without one."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REAL = Path(__file__).resolve().parents[1] / "benchmarks" / "real"
OURS = {"SOURCE.txt", "spec.yaml", "truth.py", "expect.yaml"}


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"real_{name}", REAL / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


run = _load("run")
truthlib = _load("truthlib")


# --- the corpus ------------------------------------------------------------------------------


def test_every_case_reads_and_the_corpus_is_spread_as_real_code_is():
    cases, broken = run.load_cases(None)
    assert broken == []
    kinds = [c.kind for c in cases]
    assert len(cases) >= 40
    assert kinds.count("dense") >= 20
    assert kinds.count("cnn") >= 5
    assert kinds.count("rnn") >= 5
    assert kinds.count("norm") >= 3
    assert kinds.count("autograd") >= 3
    assert sum(c.real_bug for c in cases) >= 12
    dense_shapes = {c.shape.split("+")[0] for c in cases if c.kind == "dense"}
    assert {"A-dict", "A-args", "B-class", "C-layers", "D-step", "E-script"} <= dense_shapes
    assert len({c.repo for c in cases}) >= 35  # mostly different people's code


def test_no_code_of_theirs_is_in_a_case_folder():
    for folder in (p for p in (REAL / "cases").iterdir() if p.is_dir()):
        extra = {p.name for p in folder.iterdir()} - OURS - {"__pycache__"}
        assert all(Path(n).suffix in (".csv", ".npz", ".npy") for n in extra), (folder, extra)
        tree = ast.parse((folder / "truth.py").read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        assert "nnfix" not in imported, folder  # the truth never comes from nnfix


def test_excluded_repositories_are_refused(tmp_path):
    case = _write_case(tmp_path / "cases", "dense-x", repo="karpathy/micrograd")
    with pytest.raises(run.CaseError, match="independent evaluation"):
        run.load_case(case)


# --- truthlib --------------------------------------------------------------------------------


def _net():
    rng = np.random.default_rng(0)
    W1, b1 = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    W2, b2 = rng.normal(size=(1, 3)), rng.normal(size=(1, 1))
    X, Y = rng.normal(size=(2, 5)), (rng.random((1, 5)) > 0.5).astype(float)

    def loss():
        A1 = np.tanh(W1 @ X + b1)
        A2 = 1 / (1 + np.exp(-(W2 @ A1 + b2)))
        return float(-np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)))

    def grads(hidden_derivative=lambda A1, Z1: 1 - A1**2, scale=1.0):
        Z1 = W1 @ X + b1
        A1 = np.tanh(Z1)
        A2 = 1 / (1 + np.exp(-(W2 @ A1 + b2)))
        dZ2 = (A2 - Y) / X.shape[1]
        dZ1 = (W2.T @ dZ2) * hidden_derivative(A1, Z1)
        g = [dZ1 @ X.T, dZ1.sum(1, keepdims=True), dZ2 @ A1.T, dZ2.sum(1, keepdims=True)]
        return [scale * x for x in g]

    return [W1, b1, W2, b2], loss, grads


def _params(values, grads):
    names = ["W1", "b1", "W2", "b2"]
    return [truthlib.Param(n, v, g) for n, v, g in zip(names, values, grads, strict=True)]


def test_truth_is_correct_on_a_correct_backward():
    values, loss, grads = _net()
    out = truthlib.judge(_params(values, grads()), loss)
    assert out["verdict"] == "correct" and out["wrong"] == []


def test_truth_names_the_wrong_tensors_and_the_first_from_the_output():
    values, loss, grads = _net()
    bad = grads(hidden_derivative=lambda A1, Z1: 1 - Z1**2)  # tanh's derivative given z
    out = truthlib.judge(_params(values, bad), loss)
    assert out["verdict"] == "wrong"
    assert out["wrong"] == ["W1", "b1"] and out["first_wrong"] == "b1"


def test_truth_calls_one_constant_everywhere_a_convention():
    values, loss, grads = _net()
    out = truthlib.judge(_params(values, grads(scale=-0.5)), loss)
    assert out["verdict"] == "convention"
    assert out["scale"] == pytest.approx(-0.5, rel=1e-4)


def test_truth_judges_shapes_missing_gradients_and_arrays_left_unchanged():
    values, loss, grads = _net()
    g = grads()
    g[1] = np.ones((3, 5))  # not summed over the samples
    g[3] = None
    before = [v.copy() for v in values]
    out = truthlib.judge(_params(values, g), loss)
    assert out["tensors"]["b1"]["status"] == "shape"
    assert out["tensors"]["b2"]["status"] == "missing"
    assert out["wrong"] == ["b1", "b2"]
    assert all(np.array_equal(a, b) for a, b in zip(before, values, strict=True))


def test_truth_reads_nested_lists_and_objects_holding_floats():
    class V:
        def __init__(self, data):
            self.data, self.grad = data, 0.0

    ws = [[0.3, -0.2], [0.5, 0.1]]  # pure-Python weights
    vs = [V(0.7), V(-1.2)]  # an autograd engine's values

    def loss():
        return sum(w * w for row in ws for w in row) + vs[0].data * vs[1].data

    for v, other in ((vs[0], vs[1]), (vs[1], vs[0])):
        v.grad = other.data
    good = truthlib.judge(
        [
            truthlib.Param("w", ws, [[2 * w for w in row] for row in ws]),
            truthlib.Param("v", vs, vs, attr="data", grad_attr="grad"),
        ],
        loss,
    )
    assert good["verdict"] == "correct"
    vs[1].grad = 0.0  # a gradient lost, as `self.grad = ...` instead of `+=` loses it
    bad = truthlib.judge([truthlib.Param("v", vs, vs, attr="data", grad_attr="grad")], loss)
    assert bad["wrong"] == ["v"]


def test_load_defs_skips_a_scripts_training_and_reads_notebook_cells(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import numpy as np\nK = 3\ndef f(x):\n    return K * x\nf(open('gone'))\n")
    ns = truthlib.load_defs(str(script))
    assert ns["f"](2) == 6
    nb = tmp_path / "n.ipynb"
    cells = [
        {
            "cell_type": "code",
            "source": ["%matplotlib inline\n", "def g(x):\n", "    return x + 1\n"],
        }
    ]
    nb.write_text(json.dumps({"cells": cells}))
    assert truthlib.load_defs(str(nb))["g"](1) == 2


# --- the runner ------------------------------------------------------------------------------

NET = textwrap.dedent(
    """\
    import numpy as np


    def forward(X, params):
        Z1 = params["W1"] @ X + params["b1"]
        A1 = np.tanh(Z1)
        Z2 = params["W2"] @ A1 + params["b2"]
        A2 = 1 / (1 + np.exp(-Z2))
        return A2, (X, Z1, A1, A2)


    def cost(A2, Y):
        return float(-np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)))


    def backward(params, cache, Y):
        X, Z1, A1, A2 = cache
        m = X.shape[1]
        dZ2 = A2 - Y
        dW2 = dZ2 @ A1.T / m
        db2 = np.sum(dZ2, axis=1, keepdims=True) / m
        dZ1 = (params["W2"].T @ dZ2) * (1 - A1 ** 2)
        dW1 = dZ1 @ X.T / m
        db1 = np.sum(dZ1, axis=1, keepdims=True) / m
        return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    """
)

TRUTH = textwrap.dedent(
    """\
    import numpy as np
    from net import backward, cost, forward
    from truthlib import Param, report

    rng = np.random.default_rng(0)
    p = {"W1": rng.normal(size=(4, 2)), "b1": np.zeros((4, 1)),
         "W2": rng.normal(size=(1, 4)), "b2": np.zeros((1, 1))}
    X, Y = rng.normal(size=(2, 6)), (rng.random((1, 6)) > 0.5).astype(float)
    A2, cache = forward(X, p)
    g = backward(p, cache, Y)
    report([Param(k, p[k], g["d" + k]) for k in ("W1", "b1", "W2", "b2")],
           loss=lambda: cost(forward(X, p)[0], Y))
    """
)

SPEC = textwrap.dedent(
    """\
    seed: 0
    data: {source: moons, samples: 64}
    model:
      layers: [{units: 4, activation: tanh}, {units: 1, activation: sigmoid}]
    loss: bce
    implementation: {module: net.py, forward: forward, backward: backward, loss: cost}
    """
)

EXPECT = textwrap.dedent(
    """\
    as_written:
      truth: {verdict: correct}
      nnfix: {exit: 0, must_not: [G101, G103, U101]}
    planted:
      edit: {file: net.py, line: 22, replace: "(1 - A1 ** 2)", with: "(1 - Z1 ** 2)"}
      truth: {verdict: wrong, wrong: [W1, b1]}
      nnfix: {exit: 1, must: [G101], first_wrong: [W1, b1], culprit: {file: net.py, line: 22}}
    """
)


def _write_case(cases: Path, name: str, repo: str = "someone/tiny-net", commit: str = "0" * 40):
    folder = cases / name
    folder.mkdir(parents=True)
    (folder / "SOURCE.txt").write_text(
        f"repo: {repo}\ncommit: {commit}\nfiles: net.py\nkind: dense\nshape: A-dict\n"
        "origin: a test of the runner\n\nOur own two-layer net, written for this test.\n"
    )
    (folder / "spec.yaml").write_text(SPEC)
    (folder / "truth.py").write_text(TRUTH)
    (folder / "expect.yaml").write_text(EXPECT)
    return folder


def _mirror(root: Path) -> str:
    """A local mirror as fetch lays it out (<owner>+<name>/repo/.git), holding net.py."""
    work = root / "someone+tiny-net" / "repo"
    work.mkdir(parents=True)
    (work / "net.py").write_text(NET)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "net.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "net"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REAL / "run.py"), *args], capture_output=True, text=True, timeout=600
    )


def test_runner_copies_their_code_plants_the_bug_and_judges_both_variants(tmp_path):
    commit = _mirror(tmp_path / "mirror")
    _write_case(tmp_path / "cases", "dense-tiny", commit=commit)
    out = tmp_path / "out.json"
    done = _run(
        "--cases", str(tmp_path / "cases"), "--mirror", str(tmp_path / "mirror"),
        "--work", str(tmp_path / "work"), "--json", str(out),
    )  # fmt: skip
    assert "Traceback" not in done.stdout + done.stderr
    results = {r["variant"]: r for r in json.loads(out.read_text())}
    assert results["as_written"]["truth"] and results["planted"]["truth"]  # truth agreed both
    assert results["as_written"]["right"], results["as_written"]["why"]
    assert results["planted"]["right"], results["planted"]["why"]
    assert results["planted"]["line"] is True
    assert "real: 1/1 right as written, lines 1/1, shapes 1/1 callable" in done.stdout
    assert done.returncode == 0
    assert not (tmp_path / "work" / "dense-tiny").exists() or not any(
        (tmp_path / "work" / "dense-tiny").iterdir()
    )


def test_runner_without_a_mirror_says_so_and_exits_2(tmp_path):
    _write_case(tmp_path / "cases", "dense-tiny")
    done = _run("--cases", str(tmp_path / "cases"), "--mirror", str(tmp_path / "none"))
    assert done.returncode == 2
    assert "no mirror" in done.stderr and "fetch" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_runner_names_a_missing_commit_and_a_planted_line_that_is_not_there(tmp_path):
    _mirror(tmp_path / "mirror")
    _write_case(tmp_path / "cases", "dense-tiny", commit="1" * 40)
    done = _run(
        "--cases", str(tmp_path / "cases"), "--mirror", str(tmp_path / "mirror"),
        "--work", str(tmp_path / "work"), "--variant", "as_written",
    )  # fmt: skip
    assert "has no commit 111111111111" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    case = run.load_case(tmp_path / "cases" / "dense-tiny")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "net.py").write_text(NET)
    with pytest.raises(run.CaseError, match="has no"):
        run.plant(tmp_path / "w", {**case.expect["planted"]["edit"], "line": 3})
