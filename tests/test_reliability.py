"""Issue 12's promises outside the spec reader and the run directory: user code that returns
non-finite values or breaks nnfix's stack is a finding; an exit 2 is one report in every
format, its problems at their line; the budget covers every pass and names what it left out;
control characters never reach the output raw; no NumPy warning leaks."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnfix.diagnose.context import Options
from nnfix.diagnose.gradcheck import Target, check_target
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.spec.load import load_spec

ROOT = Path(__file__).parent.parent
COLUMNS = ROOT / "examples" / "columns"


def nnfix(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "nnfix", *args],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )
    return done.returncode, done.stdout, done.stderr


def columns(tmp_path: Path, find: str, replace: str) -> Path:
    """examples/columns with one edit of its code."""
    folder = tmp_path / "columns"
    shutil.copytree(COLUMNS, folder)
    code = folder / "my_net.py"
    text = code.read_text(encoding="utf-8")
    assert find in text
    code.write_text(text.replace(find, replace, 1), encoding="utf-8")
    return folder / "spec.yaml"


def findings(spec: Path, **options):
    opts = Options(**({"quick": True, "budget": 60} | options))
    return diagnose(load_spec(spec), Selection(), opts).findings


# --- non-finite values from the user's code ------------------------------------------------


def test_a_nan_gradient_is_a_g101_at_its_tensor_and_line(tmp_path):
    spec = columns(
        tmp_path,
        "    return grads\n",
        "    grads['dW1'] = grads['dW1'] * np.nan\n    return grads\n",
    )
    found = [f for f in findings(spec) if f.code == "G101"]
    nan = [f for f in found if "non-finite" in f.message]
    assert len(nan) == 1, [f.message for f in found]
    assert nan[0].location.parameter == "W1" and nan[0].location.layer == 1
    assert nan[0].location.source is not None
    assert "np.nan" in nan[0].location.source.code  # the line that made it


def test_a_nan_output_is_a_u102_that_says_non_finite(tmp_path):
    spec = columns(tmp_path, "    return AL, caches\n", "    return AL * np.nan, caches\n")
    messages = [f.message for f in findings(spec) if f.code == "U102"]
    assert any("non-finite" in m for m in messages), messages


def test_the_correct_example_has_no_non_finite_finding():
    assert not [f for f in findings(COLUMNS / "spec.yaml") if "non-finite" in f.message]


REFS_SPEC = """\
name: refs
data: {source: moons, samples: 200, noise: 0.1}
model:
  layers:
    - units: 8
      activation: {name: tanh, derivative: deriv.py:dtanh, derivative_of: a}
    - {units: 1, activation: sigmoid}
loss: bce
"""


@pytest.mark.parametrize(
    "body, words",
    [
        ("sys.exit(0)", "sys.exit(0)"),
        ("raise GeneratorExit('x')", "GeneratorExit"),
        ("sys.setrecursionlimit(40)", "RecursionError"),
        ("return 'abc'", "not an array"),
    ],
)
def test_a_derivative_file_that_misbehaves_is_a_u101_and_exit_1(tmp_path, body, words):
    (tmp_path / "spec.yaml").write_text(REFS_SPEC, encoding="utf-8")
    (tmp_path / "deriv.py").write_text(
        f"import sys\n\n\ndef dtanh(a):\n    {body}\n    return 1 - a**2\n", encoding="utf-8"
    )
    code, out, err = nnfix("diagnose", "spec.yaml", "--quick", "--format", "json", cwd=tmp_path)
    assert code == 1, err
    report = json.loads(out)
    u101 = [f for s in report["specs"] for f in s["findings"] if f["code"] == "U101"]
    assert u101 and any(words in f["message"] for f in u101), u101
    assert u101[0]["location"]["line"] == 6  # the derivative's line in the spec
    assert "internal error" not in err and "Traceback" not in err


# --- exit 2: one report, in every format, each problem at its line ----------------------------

BAD_SPEC = """\
name: bad
seed: -1
data: {source: moons, samples: 100, noise: .inf}
model:
  init: {name: uniform, low: -1e308, high: 1e308}
  layers:
    - {units: 4, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
implementation:
  module: net.py
  names: {bias: "b{l}{0}"}
"""


def test_bad_values_are_located_exit_2_never_internal_errors(tmp_path):
    (tmp_path / "spec.yaml").write_text(BAD_SPEC, encoding="utf-8")
    (tmp_path / "net.py").write_text("def forward(X, params):\n    return X\n", encoding="utf-8")
    code, out, err = nnfix("diagnose", "spec.yaml", "--format", "json", cwd=tmp_path)
    assert code == 2 and "internal error" not in err
    report = json.loads(out)
    assert report["verdict"] == "error" and report["specs"] == []
    lines = {e["path"]: e["line"] for e in report["errors"]}
    assert lines["seed"] == 2
    assert lines["data.noise"] == 3
    assert lines["model.init"] == 5  # the range too wide to draw from
    assert lines["implementation.names.bias"] == 12
    for where in ("spec.yaml:2:", "spec.yaml:3:", "spec.yaml:5:", "spec.yaml:12:"):
        assert where in err


def test_every_format_carries_the_problems_of_an_unreadable_spec(tmp_path):
    (tmp_path / "spec.yaml").write_text("name: x\nseed: -1\n", encoding="utf-8")
    outputs = {}
    for fmt in ("github", "sarif", "junit", "markdown", "rich"):
        code, out, err = nnfix("diagnose", "spec.yaml", "--format", fmt, cwd=tmp_path)
        assert code == 2, (fmt, err)
        outputs[fmt] = out
    assert "::error file=spec.yaml,line=2" in outputs["github"]
    sarif = json.loads(outputs["sarif"])["runs"][0]["invocations"][0]
    assert sarif["executionSuccessful"] is False
    regions = [
        n["locations"][0]["physicalLocation"].get("region", {}).get("startLine")
        for n in sarif["toolExecutionNotifications"]
    ]
    assert 2 in regions
    assert '<error message="' in outputs["junit"] and 'errors="1"' in outputs["junit"]
    assert "`spec.yaml:2:7`" in outputs["markdown"] and "error" in outputs["markdown"]
    assert outputs["rich"].startswith("ERROR") and "PASS" not in outputs["rich"]


def test_train_json_on_a_bad_spec_is_one_json_document(tmp_path):
    (tmp_path / "spec.yaml").write_text("42\n", encoding="utf-8")
    code, out, _ = nnfix("train", "spec.yaml", "--format", "json", "--no-progress", cwd=tmp_path)
    assert code == 2
    document = json.loads(out)
    assert document["status"] == "error"
    assert document["errors"][0]["line"] == 1


# --- the budget covers every pass -------------------------------------------------------------


def test_past_the_deadline_the_gradient_check_names_what_it_left_out():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 3)) for _ in range(4)]

    def loss(_tensor):
        return float(sum((a**2).sum() for a in arrays)) / 2

    target = Target(arrays, [a.copy() for a in arrays], ["W1", "W2", "W3", "W4"], loss)
    result = check_target(target, deadline=0.0)  # long past: only the first tensor is checked
    assert [t.name for t in result.tensors] == ["W1"]
    assert result.skipped == ["W2", "W3", "W4"]
    assert result.ok
    whole = check_target(target)  # no deadline: every tensor
    assert len(whole.tensors) == 4 and whole.skipped == []


def test_a_spent_budget_skips_the_costly_passes_and_says_so(tmp_path):
    layers = "\n".join("    - {units: 8, activation: tanh}" for _ in range(6))
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "data: {source: moons, samples: 200}\nmodel:\n  layers:\n"
        f"{layers}\n    - {{units: 1, activation: sigmoid}}\nloss: bce\n",
        encoding="utf-8",
    )
    options = Options(budget=60, deadline=0.0)  # the budget was spent before it began
    report = diagnose(load_spec(spec), Selection(), options)
    skipped = {p.name: p.skipped for p in report.passes}
    assert skipped["static"] is None  # cheap: always run
    for name in ("gradient check", "training probe", "overfit probe"):
        assert skipped[name] and "--budget" in skipped[name], skipped
    g104 = [f for f in report.findings if f.code == "G104"]
    assert not g104 or all("--budget" in f.message for f in g104)


# --- control characters and warnings -----------------------------------------------------------


def test_control_characters_in_a_spec_name_are_escaped_in_every_format(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        'name: "evil\\e[31mred\\x07"\ndata: {source: xor, samples: 64}\n'
        "model:\n  layers:\n    - {units: 4, activation: tanh}\n"
        "    - {units: 1, activation: sigmoid}\nloss: bce\n"
        "train: {lr: 1.0e+9}\n",
        encoding="utf-8",
    )
    for fmt in ("rich", "markdown", "github", "junit", "json", "sarif"):
        code, out, err = nnfix("diagnose", "spec.yaml", "--quick", "--format", fmt, cwd=tmp_path)
        assert code in (0, 1), (fmt, err)
        raw = re.findall(r"[\x00-\x08\x0b-\x1f\x7f]", out + err)
        assert not raw, (fmt, raw)


def test_no_numpy_warning_reaches_stderr(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "data: {source: blobs, samples: 200, classes: 3}\nmodel:\n  layers:\n"
        "    - {units: 8, activation: relu}\n    - {units: 3, activation: softmax}\n"
        "loss: {name: cce, gradient: log(-1) + z, gradient_of: z}\n",
        encoding="utf-8",
    )
    code, _, err = nnfix("diagnose", "spec.yaml", "--budget", "3", cwd=tmp_path)
    assert code in (0, 1)
    assert "Warning" not in err, err


# --- a net that would not fit -------------------------------------------------------------------


def test_a_net_too_large_for_the_machine_is_refused_at_its_heaviest_layer(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "data: {source: moons, samples: 200}\nmodel:\n  layers:\n"
        "    - {units: 100000, activation: relu}\n"
        "    - {units: 100000, activation: relu}\n"
        "    - {units: 1, activation: sigmoid}\nloss: bce\n",
        encoding="utf-8",
    )
    code, out, err = nnfix("diagnose", "spec.yaml", "--quick", "--format", "json", cwd=tmp_path)
    assert code == 2 and "internal error" not in err
    (problem,) = json.loads(out)["errors"]
    assert problem["line"] == 5 and problem["path"] == "model.layers[1].units"
    assert "10,000,500,001 parameters" in problem["message"]


def test_the_estimate_counts_parameters_and_a_batch():
    from nnfix.run.resources import COPIES, ITEM, PER_UNIT, network_bytes

    per_layer = network_bytes(inputs=3, units=[4, 2], batch=5)
    assert per_layer[0] == ITEM * (COPIES * (3 * 4 + 4) + PER_UNIT * 5 * 4)
    assert per_layer[1] == ITEM * (COPIES * (4 * 2 + 2) + PER_UNIT * 5 * 2)


def test_an_unknown_rule_on_the_command_line_is_named_and_json_stays_one_document(tmp_path):
    (tmp_path / "spec.yaml").write_text(BAD_SPEC, encoding="utf-8")
    code, out, err = nnfix(
        "diagnose", "spec.yaml", "--select", "*", "--format", "json", cwd=tmp_path
    )
    assert code == 2
    assert "nnfix: --select '*': unknown rule or prefix '*'" in err
    (problem,) = json.loads(out)["errors"]
    assert problem["what"] == "the command line" and problem["line"] is None


def test_an_unknown_rule_in_the_spec_is_at_its_line(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "data: {source: xor}\nmodel:\n  layers:\n    - {units: 1, activation: sigmoid}\n"
        "loss: bce\ndiagnose:\n  ignore: [G1O1]\n",
        encoding="utf-8",
    )
    code, _, err = nnfix("diagnose", "spec.yaml", cwd=tmp_path)
    assert code == 2
    assert "spec.yaml:7:12: diagnose.ignore[0]: unknown rule or prefix 'G1O1'" in err
    assert "did you mean 'G101'" in err


def test_a_thread_left_running_by_their_backward_is_a_u101_warning(tmp_path):
    spec = columns(
        tmp_path,
        "def L_model_backward(AL, Y, caches):\n",
        "def L_model_backward(AL, Y, caches):\n"
        "    import threading, time\n"
        "    threading.Thread(target=time.sleep, args=(600,)).start()\n",
    )
    code, out, err = nnfix("diagnose", "spec.yaml", "--quick", "--format", "json", cwd=spec.parent)
    assert code in (0, 1), err  # and it returned: the thread did not keep nnfix alive
    found = [f for s in json.loads(out)["specs"] for f in s["findings"] if f["code"] == "U101"]
    assert len(found) == 1 and found[0]["severity"] == "warning"
    assert "thread" in found[0]["message"] and "sleep" in found[0]["message"]
    assert found[0]["location"]["spec_path"] == "implementation.backward"


def test_a_user_batch_with_every_sample_on_a_kink_is_checked_whole(monkeypatch):
    """Non-finite inputs can put every sample of the user batch on a ReLU kink; leaving them
    all out gave an empty batch and a ZeroDivisionError (found by fuzzing `nnfix fix`)."""
    from nnfix.diagnose.context import Context
    from nnfix.diagnose.rules import usercode

    ctx = Context(load_spec(COLUMNS / "spec.yaml"), Options(budget=60))
    monkeypatch.setattr(usercode, "smooth", lambda net, cache, m: (np.array([], int), m))
    batch, excluded = usercode._smooth_batch(ctx)
    assert batch.m == ctx.user_batch.m > 0 and excluded == 0


def test_a_module_whose_import_hangs_is_a_located_exit_2_not_a_hang_or_a_pass(tmp_path):
    """A sibling module that loops at import: diagnose hung forever (its load was not guarded),
    then, guarded, a check swallowed the ModuleError and the spec passed."""
    folder = tmp_path / "columns"
    shutil.copytree(COLUMNS, folder)
    code = folder / "my_net.py"
    code.write_text("import helper\n" + code.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "helper.py").write_text("while True:\n    pass\n", encoding="utf-8")
    spec = folder / "spec.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace(
            "implementation:\n", "implementation:\n  timeout: 2\n"
        ),
        encoding="utf-8",
    )
    code_, out, err = nnfix("diagnose", "spec.yaml", "--quick", "--format", "json", cwd=folder)
    assert code_ == 2, (out, err)
    report = json.loads(out)
    assert report["verdict"] == "error"
    (error,) = report["errors"]
    assert error["file"].endswith("helper.py") and error["line"] == 1
    assert "did not finish within 2 s" in error["message"]
