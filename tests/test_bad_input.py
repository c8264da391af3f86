"""Bad specs and data: exit 2, the right file and line, every problem at once, no traceback."""

import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from nnfix.cli import main

GOOD = """
data:
  source: moons
  samples: 64
model:
  layers:
    - {units: 4, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
train:
  epochs: 2
"""


def run(*args):
    result = CliRunner().invoke(
        main, [*args, "--no-progress"] if args[0] == "train" else list(args)
    )
    return result.exit_code, result.stderr, result.stdout


CASES = [
    # (spec text, extra files, expected exit, [regexes that must appear in stderr])
    ("data: [unclosed\n", {}, [r"spec\.yaml:\d+:\d+: YAML syntax error"]),
    (
        GOOD.replace("model:", "modle:"),
        {},
        [r"spec\.yaml:4:1: modle: unknown key 'modle'", "did you mean 'model'"],
    ),
    (
        GOOD.replace("activation: tanh", "activation: tanhh"),
        {},
        [r"spec\.yaml:6:30: .*unknown activation 'tanhh'", "did you mean 'tanh'"],
    ),
    (
        GOOD.replace("activation: tanh}", 'activation: {name: tanh, derivative: "1 - z.T**2"}}'),
        {},
        [r"spec\.yaml:6:60: model\.layers\[0\]\.activation\.derivative: attribute access"],
    ),
    (
        GOOD.replace("source: moons\n  samples: 64", "source: csv\n  path: nowhere.csv"),
        {},
        [r"spec\.yaml:\d+:\d+: data\.path: .*nowhere\.csv"],
    ),
    (
        GOOD.replace("source: moons\n  samples: 64", "source: csv\n  path: d.csv"),
        {"d.csv": "x1,x2,label\n0.1,0.2,1\n0.3,oops,0\n"},
        [r"d\.csv:3:\d+: .*oops"],
    ),
    (
        GOOD.replace("samples: 64", "samples: -1")
        .replace("epochs: 2", "epochs: two")
        .replace("loss: bce", "loss: bcee"),
        {},
        [
            r"spec\.yaml:3:12: data\.samples",
            r"spec\.yaml:10:11: train\.epochs",
            r"spec\.yaml:8:7: loss: unknown value 'bcee'",
            "3 problems",
        ],
    ),
    (
        GOOD.replace(
            "activation: tanh}", "activation: {name: tanh, derivative: 'acts.py:tanh_grad'}}"
        ),
        {"acts.py": "def tanh_gradient(z):\n    return 1 - z**2\n"},
        [r"'tanh_grad' is not defined in acts\.py", "did you mean 'tanh_gradient'"],
    ),
    (
        GOOD.replace("activation: tanh}", "activation: {name: tanh, derivative: 'acts.py:grad'}}"),
        {
            "acts.py": "import h5py_not_installed_here as h5\n"
            "def grad(z):\n    return h5.ones(z.shape) - z**2\n"
        },
        [r"h5py_not_installed_here is not installed \(pip install", r"acts\.py\", line 3"],
    ),
    (
        GOOD.replace("source: moons\n  samples: 64", "source: blobs\n  classes: 5")
        .replace("units: 1, activation: sigmoid", "units: 3, activation: softmax")
        .replace("loss: bce", "loss: cce"),
        {},
        [r"labels run 0.4 but the output layer has 3 units"],
    ),
    (
        "data:\n  source: moons\n  source: xor\n",
        {},
        [r"spec\.yaml:3:3: .*duplicate key 'source' \(first given on line 2\)"],
    ),
    (
        GOOD.replace("train:", "train:\n  optimizer: {name: adam, momentum: 0.5}"),
        {},
        [
            r"spec\.yaml:10:27: train\.optimizer\.momentum: 'momentum' does not apply to optimizer 'adam'"
        ],
    ),
    (
        GOOD.replace(
            "    - {units: 4, activation: tanh}\n", "    - {units: 4, activation: softmax}\n"
        ),
        {},
        ["softmax is allowed in the last layer only"],
    ),
    # the keys of images, sequences and text: each only where it applies, each value checked
    (
        GOOD.replace("samples: 64", "samples: 64\n  shape: [1, 8, 8]"),
        {},
        [
            r"spec\.yaml:4:3: data\.shape: 'shape' does not apply to source 'moons' \(only to images\)",
            r"did you mean source: images\?",
        ],
    ),
    (
        GOOD.replace("source: moons\n  samples: 64", "source: sequences\n  length: 12"),
        {},
        [
            r"spec\.yaml:2:11: data\.source: 'sequences' gives sequences of token ids of shape "
            r"\(samples, 12\) and the model's first layer is dense",
            r"needs a recurrent layer \(type: rnn\)",
            "1 problem",
        ],
    ),
    (
        GOOD.replace("source: moons\n  samples: 64", "source: text\n  vocab: 30\n  target: nxt"),
        {},
        [
            r"spec\.yaml:3:3: data\.vocab: 'vocab' does not apply to source 'text' \(only to sequences\)",
            r"the text's vocabulary is its own characters",
            r"spec\.yaml:4:11: data\.target: unknown target 'nxt' for source: text: expected next or shifted",
            r"did you mean 'next'\?",
            r"spec\.yaml:2:11: data\.source: 'text' gives windows of character ids",
            "3 problems",
        ],
    ),
    (
        GOOD.replace(
            "source: moons\n  samples: 64",
            "source: sequences\n  classes: 3\n  scale: standard\n  target: 2",
        ),
        {},
        [
            r"spec\.yaml:3:3: data\.classes: 'classes' applies to target: label; with target: next "
            r"the classes are the vocab's 20 tokens",
            r"did you mean target: label\?",
            r"spec\.yaml:4:3: data\.scale: 'scale' does not apply to source 'sequences': its inputs are "
            r"token ids",
            r"spec\.yaml:5:11: data\.target: unknown target 2 for source: sequences: expected next, "
            r"shifted or label \(a column index is a csv's target\)",
        ],
    ),
    (
        GOOD.replace("samples: 64", "samples: 99999").replace("moons", "text"),
        {},
        [
            r"spec\.yaml:3:12: data\.samples: the bundled text has [\d,]+ characters, so [\d,]+ "
            r"windows of 10 \(each followed by the character to predict\): expected samples ≤"
        ],
    ),
    (
        GOOD.replace("source: moons", "source: images\n  shape: [1, 8, 8, 2]"),
        {},
        [r"spec\.yaml:3:10: data\.shape: expected at most 3 item\(s\)"],
    ),
    (
        GOOD.replace("source: moons", "source: images\n  features: 64"),
        {},
        [
            r"spec\.yaml:3:3: data\.features: 'features' does not apply to source 'images'",
            r"an image's size is its 'shape', e\.g\. \[1, 12, 12\]",
        ],
    ),
]


@pytest.mark.parametrize(("text", "files", "patterns"), CASES, ids=range(len(CASES)))
def test_bad_spec_exits_2_at_the_right_line(tmp_path, monkeypatch, text, files, patterns):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(text.lstrip("\n"))
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    code, err, _ = run("train", "spec.yaml")
    assert code == 2, err
    assert "Traceback" not in err or "acts.py" in err  # only the user's own traceback
    assert "nnfix/" not in err.replace("nnfix: ", "")
    for pattern in patterns:
        assert re.search(pattern, err), f"{pattern!r} not in:\n{err}"


def test_set_override_is_validated_like_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(GOOD)
    code, err, _ = run(
        "train", "spec.yaml", "--set", "train.lr=fast", "--set", "model.layers[0].units=0"
    )
    assert code == 2
    # at the spec's line of the key (or of the section it goes in), naming the --set
    assert (
        "spec.yaml:10:1: train.lr: expected a number (got 'fast') (from --set train.lr=fast)" in err
    )
    assert (
        "spec.yaml:7:15: model.layers[0].units: expected a number greater than 0 (got 0) "
        "(from --set model.layers[0].units=0)" in err
    )
    code, err, _ = run("train", "spec.yaml", "--set", "nonsense")
    assert code == 2 and "expected KEY=VALUE" in err


def test_missing_spec_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err, _ = run("train", "absent.yaml")
    assert code == 2 and "spec file not found" in err


def test_npz_with_mismatched_lengths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "d.npz", x=np.zeros((10, 2)), y=np.zeros(9))
    (tmp_path / "spec.yaml").write_text(
        GOOD.replace("source: moons\n  samples: 64", "source: npz\n  path: d.npz")
    )
    code, err, _ = run("train", "spec.yaml")
    assert code == 2
    assert "10" in err and "9" in err


def test_no_traceback_from_a_real_process(tmp_path):
    (tmp_path / "spec.yaml").write_text(GOOD.replace("tanh", "tanhh"))
    proc = subprocess.run(
        [sys.executable, "-m", "nnfix", "train", str(tmp_path / "spec.yaml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "did you mean 'tanh'" in proc.stderr


def test_user_function_that_raises_during_training_is_exit_2_with_their_traceback(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acts.py").write_text("def grad(z):\n    raise ValueError('my bug')\n")
    (tmp_path / "spec.yaml").write_text(
        GOOD.replace("activation: tanh}", "activation: {name: tanh, derivative: 'acts.py:grad'}}")
    )
    code, err, _ = run("train", "spec.yaml")
    assert code == 2
    assert "raised ValueError: my bug" in err
    assert 'acts.py", line 2, in grad' in err


RNN_OF = """
seed: 0
data: {{source: text, length: 4, samples: 64, target: next}}
model:
  layers:
    - {{type: rnn, units: {units}}}
    - {{units: 41, activation: softmax}}
loss: cce
"""


@pytest.mark.parametrize("command", ["train", "diagnose"])
def test_a_layer_type_too_big_for_memory_is_a_spec_error_at_its_layer(
    tmp_path, monkeypatch, command
):
    """Types the memory estimate does not plan (an rnn of 10^12 units: 298 TiB of weights) are
    refused where their parameters are allocated: exit 2 at the layer, never an internal error;
    the same layer at a sane width runs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(RNN_OF.format(units=10**12).lstrip("\n"))
    code, err, out = run(command, "spec.yaml")
    assert code == 2, err + out
    assert "spec.yaml:5:" in err and "layer 1 (rnn) would not fit in memory" in err
    assert "internal error" not in err + out
    (tmp_path / "spec.yaml").write_text(RNN_OF.format(units=4).lstrip("\n"))
    code, err, out = run(command, "spec.yaml")
    assert code in (0, 1) and "would not fit" not in err + out
