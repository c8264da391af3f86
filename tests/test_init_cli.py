"""`nnfix init` end to end: the templates diagnose as written, nothing is overwritten without
--force, files get the umask's permissions, a module nnfix cannot decide about still gets a
spec that says what to choose, and a module that exits, hangs or floods its output while it is
explored is an exit 2 at its line (or a note), never a traceback or a hang."""

from __future__ import annotations

import os
import stat
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from nnfix.cli import main

ROOT = Path(__file__).resolve().parents[1]
OWN = ROOT / "tests" / "init"


def nnfix(*args: str):
    return CliRunner().invoke(main, list(args))


def diagnose(spec: Path) -> int:
    return nnfix("diagnose", str(spec), "--quick").exit_code


# --- templates -------------------------------------------------------------------------------------


def test_the_spec_template_diagnoses_as_written(tmp_path):
    spec = tmp_path / "spec.yaml"
    result = nnfix("init", str(spec))
    assert result.exit_code == 0, result.output
    assert "next: nnfix diagnose" in result.output
    text = spec.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=nnfix-schema.json\n")
    assert "nnfix schema > nnfix-schema.json" in text
    assert diagnose(spec) in (0, 1)
    assert nnfix("diagnose", str(spec)).exit_code in (0, 1)  # the probes too


COLUMNS_NET = """
import numpy as np

def L_model_forward(X, parameters):
    caches, A = [], X
    L = len(parameters) // 2
    for l in range(1, L + 1):
        Z = parameters["W%d" % l] @ A + parameters["b%d" % l]
        caches.append((A, Z))
        A = np.maximum(Z, 0) if l < L else 1 / (1 + np.exp(-Z))
    return A, caches

def L_model_backward(AL, Y, caches):
    grads, m, L = {}, Y.shape[1], len(caches)
    dZ = AL - Y
    for l in range(L, 0, -1):
        A_prev, Z = caches[l - 1]
        grads["dW%d" % l] = dZ @ A_prev.T / m
        grads["db%d" % l] = dZ.sum(axis=1, keepdims=True) / m
        if l > 1:
            dZ = (PARAMS["W%d" % l].T @ dZ) * (caches[l - 2][1] > 0)
    return grads
"""

ROWS_NET = """
import numpy as np

def forward(params, X):
    cache, A = {"A0": X}, X
    for l in (1, 2, 3):
        Z = A @ params["W%d" % l] + params["b%d" % l]
        A = np.maximum(Z, 0) if l < 3 else 1 / (1 + np.exp(-Z))
        cache["Z%d" % l], cache["A%d" % l] = Z, A
    return A, cache

def backward(params, cache, X, Y):
    grads, m = {}, len(X)
    dZ = cache["A3"] - Y
    for l in (3, 2, 1):
        grads["dW%d" % l] = cache["A%d" % (l - 1)].T @ dZ / m
        grads["db%d" % l] = dZ.sum(axis=0, keepdims=True) / m
        if l > 1:
            dZ = (dZ @ params["W%d" % l].T) * (cache["Z%d" % (l - 1)] > 0)
    return grads
"""


@pytest.mark.parametrize("template", ["columns", "rows"])
def test_the_user_code_templates_diagnose_with_code_of_their_layout(template, tmp_path):
    """They point at my_net.py: with a correct module of that layout beside them, as written."""
    spec = tmp_path / f"{template}.yaml"
    result = nnfix("init", "--template", template, str(spec))
    assert result.exit_code == 0, result.output
    assert "my_net.py" in result.output
    text = spec.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=nnfix-schema.json\n")
    loaded = yaml.safe_load(text)
    assert loaded["implementation"]["layout"] == template
    code = COLUMNS_NET if template == "columns" else ROWS_NET
    if template == "columns":  # its backward reads the parameters it was given to forward
        code = code.replace("PARAMS[", "_params[").replace(
            "def L_model_forward(X, parameters):",
            "def L_model_forward(X, parameters):\n    global _params\n    _params = parameters",
        )
    (tmp_path / "my_net.py").write_text(textwrap.dedent(code), encoding="utf-8")
    assert diagnose(spec) == 0


# --- writing ---------------------------------------------------------------------------------------


def test_an_existing_file_is_never_replaced_without_force(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("mine\n", encoding="utf-8")
    result = nnfix("init", str(spec))
    assert result.exit_code == 2
    assert "exists" in result.output and "--force" in result.output
    assert spec.read_text(encoding="utf-8") == "mine\n"
    result = nnfix("init", "--from", str(OWN / "params_class.py"), str(spec))
    assert result.exit_code == 2 and spec.read_text(encoding="utf-8") == "mine\n"
    assert nnfix("init", "--force", str(spec)).exit_code == 0
    assert spec.read_text(encoding="utf-8").startswith("# yaml-language-server")


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_the_file_gets_the_umask_permissions(umask, tmp_path):
    spec = tmp_path / "spec.yaml"
    old = os.umask(umask)
    try:
        assert nnfix("init", str(spec)).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(spec.stat().st_mode) == 0o666 & ~umask
    assert not [p for p in tmp_path.iterdir() if p.name != "spec.yaml"]  # no temporary left


def test_paths_are_relative_to_the_spec(tmp_path):
    code = tmp_path / "src" / "net.py"
    code.parent.mkdir()
    code.write_text((OWN / "params_class.py").read_text(encoding="utf-8"), encoding="utf-8")
    spec = tmp_path / "specs" / "net.yaml"
    assert nnfix("init", "--from", str(code), str(spec)).exit_code == 0
    assert yaml.safe_load(spec.read_text())["implementation"]["module"] == "../src/net.py"
    assert diagnose(spec) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layers", "8,1"], "--layers goes with --from"),
        (["--from", "x.py", "--template", "rows"], "choose one"),
        (["--from", "x.py", "--layers", "8,zero"], "positive whole numbers"),
        (["--from", "x.py", "--layers", "8,0"], "positive whole numbers"),
        (["--from", "missing.py"], "file not found"),
        (["--from", "x.py", "--data", "data.txt"], "a .csv, .npz or .npy file"),
    ],
)
def test_bad_arguments_are_exit_2(args, message, tmp_path):
    (tmp_path / "x.py").write_text("import numpy as np\n", encoding="utf-8")
    os.chdir(tmp_path)
    result = nnfix("init", *args, "out.yaml")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.yaml").exists()


# --- --data ----------------------------------------------------------------------------------------


def _data(n_in: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, n_in))
    return x, rng.integers(0, k, 60)


@pytest.mark.parametrize("kind", ["csv", "npz", "npy"])
def test_data_files_give_the_inputs_and_the_data_key(kind, tmp_path):
    x, y = _data(4, 3)
    if kind == "csv":
        rows = ["a,b,c,d,label"] + [
            ",".join(map(str, [*r, int(t)])) for r, t in zip(x, y, strict=True)
        ]
        (tmp_path / "train.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        data = tmp_path / "train.csv"
    elif kind == "npz":
        np.savez(tmp_path / "train.npz", x=x, y=y)
        data = tmp_path / "train.npz"
    else:
        np.save(tmp_path / "x_train.npy", x)
        np.save(tmp_path / "y_train.npy", y)
        data = tmp_path / "x_train.npy"
    spec = tmp_path / "spec.yaml"
    result = nnfix("init", "--from", str(OWN / "params_class.py"), "--data", str(data), str(spec))
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(spec.read_text())
    assert written["data"]["source"] == kind
    if kind == "npy":
        assert written["data"] == {"source": "npy", "x": "x_train.npy", "y": "y_train.npy"}
    else:
        assert written["data"]["path"] == data.name
    assert diagnose(spec) == 0


def test_data_of_another_width_than_the_code_is_said(tmp_path):
    """The code builds 4 inputs; data of 2 columns: the spec still loads, diagnose says why."""
    x, y = _data(2, 3)
    np.savez(tmp_path / "train.npz", x=x, y=y)
    spec = tmp_path / "spec.yaml"
    result = nnfix(
        "init",
        "--from",
        str(OWN / "params_class.py"),
        "--data",
        str(tmp_path / "train.npz"),
        str(spec),
    )
    assert result.exit_code in (0, 1)
    assert "Traceback" not in result.output


# --- what init cannot decide -------------------------------------------------------------------


def test_two_forwards_and_no_sizes_give_a_spec_that_says_what_to_choose(tmp_path):
    spec = tmp_path / "spec.yaml"
    result = nnfix("init", "--from", str(OWN / "two_forwards.py"), str(spec))
    assert result.exit_code == 1  # written, with choices left
    assert "--layers" in result.output
    assert "forward or forward_pass" in result.output
    text = spec.read_text(encoding="utf-8")
    assert "# forward: forward_pass" in text and "forward: forward\n" in text
    assert text.count("CHOOSE") >= 3  # the sizes, the forward, the backward
    yaml.safe_load(text)  # valid YAML all the same


def test_two_forwards_with_sizes_run_and_the_choice_stays(tmp_path):
    spec = tmp_path / "spec.yaml"
    result = nnfix("init", "--from", str(OWN / "two_forwards.py"), "--layers", "6,1", str(spec))
    assert result.exit_code == 1
    assert "forward or forward_pass" in result.output
    assert "both do the same" in result.output
    loaded = yaml.safe_load(spec.read_text())
    assert loaded["implementation"]["forward"] == "forward"
    assert [l["activation"] for l in loaded["model"]["layers"]] == ["tanh", "sigmoid"]
    assert diagnose(spec) == 0  # either is right: the spec runs as written


# --- hostile modules -------------------------------------------------------------------------------


def _module(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("code", "line", "words"),
    [
        ("import sys\nclass Net:\n    sys.exit(3)\n", 3, "SystemExit: 3"),
        ("import os\nclass Net:\n    os._exit(4)\n", 3, "os._exit(4)"),
        ("import numpy as np\nx = undefined + 1\n", 2, "NameError"),
        ("import numpy as np\ndef f(:\n    pass\n", 2, "syntax error"),
    ],
)
def test_a_module_that_ends_or_raises_at_import_is_a_located_exit_2(code, line, words, tmp_path):
    module = _module(tmp_path, "net.py", code)
    spec = tmp_path / "spec.yaml"
    result = nnfix("init", "--from", str(module), str(spec))
    assert result.exit_code == 2, result.output
    assert f"net.py:{line}:" in result.output and words in result.output
    assert "internal error" not in result.output
    assert not spec.exists()


def test_a_module_that_hangs_at_import_stops_within_its_timeout(tmp_path):
    _module(tmp_path, "helper.py", "while True:\n    pass\n")
    module = _module(tmp_path, "net.py", "import numpy as np\nimport helper\n")
    started = time.monotonic()
    result = nnfix("init", "--from", str(module), "--timeout", "1", str(tmp_path / "spec.yaml"))
    assert time.monotonic() - started < 15
    assert result.exit_code == 2
    assert "helper.py:1:" in result.output and "did not finish within 1 s" in result.output


def test_code_that_hangs_or_exits_when_called_is_left_out(tmp_path):
    """Exploring calls their functions: one that loops or exits is a candidate less, with the
    spec still written from the ones that work."""
    source = (OWN / "two_forwards.py").read_text(encoding="utf-8")
    source += textwrap.dedent(
        """
        import os, sys

        def init_params(n_in=2, n_h=6, n_out=1):
            rng = np.random.default_rng(0)
            return {"W1": rng.normal(size=(n_in, n_h)), "b1": np.zeros((1, n_h)),
                    "W2": rng.normal(size=(n_h, n_out)), "b2": np.zeros((1, n_out))}

        def forward_forever(params, X):
            while True:
                pass

        def backprop_and_quit(params, X, Y):
            os._exit(1)

        def cost(AL, Y):
            print("cost!\\n" * 10000)
            sys.exit(0)
        """
    )
    module = _module(tmp_path, "net.py", source)
    spec = tmp_path / "spec.yaml"
    result = nnfix("init", "--from", str(module), "--timeout", "1", str(spec))
    assert result.exit_code == 1, result.output  # forward or forward_pass: still to choose
    loaded = yaml.safe_load(spec.read_text())
    assert loaded["implementation"]["backward"] == "backward"
    assert loaded["implementation"]["forward"] in ("forward", "forward_pass")
    assert "your code printed" in result.output


def test_layer_classes_chained_from_layers_say_which_activation_was_picked(tmp_path):
    spec = tmp_path / "spec.yaml"
    result = nnfix("init", "--from", str(OWN / "layer_classes.py"), "--layers", "8,1", str(spec))
    assert result.exit_code == 1  # written; the activation between the layers is a choice
    assert "Tanh() between the layers, or ReLU() or Sigmoid()" in result.output
    loaded = yaml.safe_load(spec.read_text())
    assert loaded["implementation"]["layers"] == [
        "Dense(2, 8)",
        "Tanh()",
        "Dense(8, 1)",
        "Sigmoid()",
    ]
    assert loaded["implementation"]["loss"] == "BCE()"
    assert diagnose(spec) == 0
