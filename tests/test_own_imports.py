"""SPEC §3.3 "Imports": a package the user's code imports that is not installed never stops
nnfix; their code is checked as long as the code nnfix calls does not use it, and where it does
the U101 names the package, its pip install and the user's line. Written as learners write:
a helper module beside the net that brings in a plotting or dataset package, a torch class kept
beside a NumPy net."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from nnfix.cli import main
from tests.own_cases import diagnose

MISSING = "nnfix_test_not_installed"  # a package no environment has

HELPERS = f"""
import numpy as np
import {MISSING}.datasets
from {MISSING}.special import expit
import {MISSING}.pyplot as plt


def load_planar_dataset(m=400):
    X, Y = {MISSING}.datasets.make_moons(m, noise=0.2)
    return X.T, Y.reshape(1, -1)


def plot_decision_boundary(model, X, y):
    plt.contourf(X[0], X[1], model(X))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
"""

NET = """
import numpy as np
from helpers import sigmoid, expit, load_planar_dataset


def initialize_parameters(n_x, n_h, n_y):
    rng = np.random.default_rng(2)
    return {
        "W1": rng.normal(size=(n_h, n_x)) * 0.5,
        "b1": np.zeros((n_h, 1)) + 0.05,
        "W2": rng.normal(size=(n_y, n_h)) * 0.5,
        "b2": np.zeros((n_y, 1)),
    }


def forward_propagation(X, parameters):
    Z1 = parameters["W1"] @ X + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = parameters["W2"] @ A1 + parameters["b2"]
    A2 = sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(A2, Y):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m)


def backward_propagation(parameters, cache, X, Y):
    m = X.shape[1]
    dZ2 = cache["A2"] - Y
    dW2 = dZ2 @ cache["A1"].T / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = parameters["W2"].T @ dZ2 * (1 - cache["A1"] ** 2)
    dW1 = dZ1 @ X.T / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


X, Y = load_planar_dataset()
parameters = initialize_parameters(2, 4, 1)
"""

TORCH_BESIDE = f"""
import numpy as np
import {MISSING} as torch
import {MISSING}.nn as nn


class Net(nn.Module):
    criterion = nn.BCELoss()

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 4)

    @torch.no_grad()
    def predict(self, x):
        return self.hidden(x)
"""

SPEC = """
seed: 0
data: {source: moons, samples: 32}
loss: bce
implementation:
  module: net.py
  model: initialize_parameters(2, 4, 1)
  forward: forward_propagation
  backward: backward_propagation
  loss: compute_cost
"""


def write(folder: Path, net: str, helpers: str = HELPERS) -> Path:
    (folder / "helpers.py").write_text(textwrap.dedent(helpers).lstrip(), encoding="utf-8")
    (folder / "net.py").write_text(textwrap.dedent(net).lstrip(), encoding="utf-8")
    (folder / "spec.yaml").write_text(textwrap.dedent(SPEC).lstrip(), encoding="utf-8")
    return folder / "spec.yaml"


def findings(report: dict, code: str) -> list[dict]:
    return [f for f in report["specs"][0]["findings"] if f["code"] == code]


def test_a_helper_that_imports_a_missing_package_is_checked_clean(tmp_path):
    code, report = diagnose(write(tmp_path, NET))
    assert code == 0, report["specs"][0]["findings"]
    about = " ".join(report["specs"][0]["about"])
    assert f"not installed: {MISSING} (helpers.py, line 2), skipped until used" in about
    assert MISSING not in sys.modules  # the placeholder never outlives the calls of their code


def test_a_planted_bug_beside_a_missing_package_is_found(tmp_path):
    net = NET.replace('* (1 - cache["A1"] ** 2)', '* (1 - cache["Z1"] ** 2)')
    code, report = diagnose(write(tmp_path, net))
    assert code == 1
    roots = [f for f in findings(report, "G101") if f["root_cause"]]
    assert roots and roots[0]["location"]["parameter"] == "b1"


def test_a_missing_package_the_forward_uses_is_a_u101_at_their_line(tmp_path):
    net = NET.replace("A2 = sigmoid(Z2)", "A2 = expit(Z2)")
    code, report = diagnose(write(tmp_path, net))
    assert code == 1
    (u101,) = findings(report, "U101")
    assert f"{MISSING} is not installed (pip install {MISSING})" in u101["message"]
    source = u101["location"]["source"]
    assert (Path(source["file"]).name, source["line"]) == ("net.py", 19)
    assert source["code"] == "A2 = expit(Z2)"
    assert not findings(report, "G101")


def test_a_missing_package_a_helper_uses_points_at_the_helpers_line(tmp_path):
    helpers = HELPERS.replace("return 1 / (1 + np.exp(-z))", "return expit(z)")
    code, report = diagnose(write(tmp_path, NET, helpers))
    assert code == 1
    (u101,) = findings(report, "U101")
    assert f"pip install {MISSING}" in u101["message"]
    source = u101["location"]["source"]
    assert (Path(source["file"]).name, source["code"]) == ("helpers.py", "return expit(z)")


def test_a_torch_class_beside_a_numpy_net_is_checked_clean(tmp_path):
    net = NET.replace("from helpers import sigmoid, expit, load_planar_dataset\n", "") + (
        "\n\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n\n\ndef load_planar_dataset():\n"
        "    return np.zeros((2, 4)), np.zeros((1, 4))\n"
    )
    net = textwrap.dedent(TORCH_BESIDE).lstrip() + textwrap.dedent(net).replace(
        "import numpy as np\n", "", 1
    )
    code, report = diagnose(write(tmp_path, net))
    assert code == 0, report["specs"][0]["findings"]
    about = " ".join(report["specs"][0]["about"])
    assert f"not installed: {MISSING} (net.py, line 2)" in about


def test_init_from_the_module_notes_the_missing_package(tmp_path):
    write(tmp_path, NET)
    out = tmp_path / "written.yaml"
    result = CliRunner().invoke(main, ["init", "--from", str(tmp_path / "net.py"), str(out)])
    assert result.exit_code == 0, result.output
    assert f"# not installed: {MISSING} (helpers.py, line 2), skipped until used" in out.read_text()


def test_a_model_built_on_a_missing_base_class_is_a_u101_at_its_line(tmp_path):
    net = textwrap.dedent(TORCH_BESIDE).lstrip()
    (tmp_path / "net.py").write_text(net, encoding="utf-8")
    spec = textwrap.dedent(SPEC).lstrip().replace("initialize_parameters(2, 4, 1)", "Net()")
    (tmp_path / "spec.yaml").write_text(spec.replace("forward_propagation", "predict"))
    code, report = diagnose(tmp_path / "spec.yaml")
    assert code == 1
    (u101,) = findings(report, "U101")
    assert f"pip install {MISSING}" in u101["message"] and f"{MISSING}.nn.Module" in u101["message"]
    assert u101["location"]["source"]["code"] == "super().__init__()"


# a module inside a package of theirs (mylib/nets/net.py, __init__.py files), importing a sibling
# relatively, with a model that makes its arrays on its first forward (from the input's width)
PACKAGE_ACTS = """
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
"""

PACKAGE_NET = """
import numpy as np

from .acts import sigmoid


class LazyNet:
    def __init__(self, hidden, out):
        self.hidden, self.out = hidden, out
        self.W1 = None

    def _build(self, n_in):
        rng = np.random.default_rng(0)
        self.W1 = rng.normal(0, 0.5, (n_in, self.hidden))
        self.b1 = np.zeros(self.hidden)
        self.W2 = rng.normal(0, 0.5, (self.hidden, self.out))
        self.b2 = np.zeros(self.out)

    def forward(self, X):
        if self.W1 is None:
            self._build(X.shape[1])
        self.X = X
        self.h = np.tanh(X @ self.W1 + self.b1)
        self.p = sigmoid(self.h @ self.W2 + self.b2)
        return self.p

    def backward(self, y):
        d2 = (self.p - y) / self.X.shape[0]
        d1 = (d2 @ self.W2.T) * (1 - self.h ** 2)
        return {"W2": self.h.T @ d2, "b2": d2.sum(0), "W1": self.X.T @ d1, "b1": d1.sum(0)}
"""

PACKAGE_SPEC = """
seed: 0
data: {source: moons, samples: 32, noise: 0.1}
loss: bce
implementation:
  module: mylib/nets/net.py
  model: LazyNet(6, 1)
  forward: forward
  backward: backward
"""


def _package(tmp_path: Path, net: str) -> Path:
    nets = tmp_path / "mylib" / "nets"
    nets.mkdir(parents=True)
    (tmp_path / "mylib" / "__init__.py").write_text("", encoding="utf-8")
    (nets / "__init__.py").write_text("", encoding="utf-8")
    (nets / "acts.py").write_text(textwrap.dedent(PACKAGE_ACTS).lstrip(), encoding="utf-8")
    (nets / "net.py").write_text(textwrap.dedent(net).lstrip(), encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(PACKAGE_SPEC).lstrip(), encoding="utf-8")
    return tmp_path / "spec.yaml"


def test_a_module_inside_their_package_imports_relatively_and_a_lazy_model_is_built(tmp_path):
    """SPEC §3.2: pkg/sub/net.py is imported as pkg.sub.net, so `from .acts import sigmoid`
    works; a model whose arrays appear on its first forward is called once first (§3.3)."""
    code, report = diagnose(_package(tmp_path, PACKAGE_NET))
    assert code == 0, report["specs"][0]["findings"] if report.get("specs") else report
    assert "4 arrays that move the loss" in " ".join(report["specs"][0]["about"])


def test_a_bug_in_a_module_inside_their_package_is_found_at_its_line(tmp_path):
    buggy = PACKAGE_NET.replace("* (1 - self.h ** 2)", "* (1 - self.h)")
    code, report = diagnose(_package(tmp_path, buggy))
    assert code == 1
    roots = [f for f in report["specs"][0]["findings"] if f["code"] == "G101" and f["root_cause"]]
    assert roots and roots[0]["location"]["parameter"] == "b1"
    source = roots[0]["location"]["source"]
    written = textwrap.dedent(buggy).lstrip().splitlines()
    line = next(n for n, text in enumerate(written, 1) if text.strip().startswith("d1 = "))
    assert source["file"].endswith("net.py") and source["line"] == line
    # one bug, one root cause: its true value there is dL/dz of a sub-expression nnfix does not
    # tap (`X @ W1 + b1` inside np.tanh), and the right line reading it is no second bug
    lines = {(f["location"].get("source") or {}).get("line") for f in roots}
    assert lines == {line}, [f["message"] for f in roots]
