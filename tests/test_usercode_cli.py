"""`nnfix diagnose` and `nnfix train` on user code that misbehaves, as a real process: the exit
code is nnfix's, --format json stays one JSON document, what their code printed is reported
beside it, and bad `implementation:` entries are exit 2 at their line."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

CASE = Path(__file__).parent / "usercode" / "dlai-deep-columns"
BACKWARD = "def L_model_backward(AL, Y, caches):\n"


def case(tmp_path: Path, first_line: str = "", spec_extra: str = "") -> Path:
    folder = tmp_path / "case"
    shutil.copytree(CASE, folder)
    code = folder / "deep_nn.py"
    text = "import os, sys, time, threading\n" + code.read_text(encoding="utf-8")
    if first_line:
        text = text.replace(BACKWARD, BACKWARD + f"    {first_line}\n", 1)
    code.write_text(text, encoding="utf-8")
    spec = folder / "spec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + spec_extra, encoding="utf-8")
    return spec


def nnfix(*args: str, timeout: float = 120) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "nnfix", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, done.stdout, done.stderr


def diagnose_json(spec: Path, *args: str) -> tuple[int, dict, str]:
    code, out, err = nnfix("diagnose", str(spec), "--format", "json", "--budget", "60", *args)
    return code, json.loads(out), err  # one JSON document, nothing else on stdout


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("sys.exit(0)", "called sys.exit(0), which would end the process"),
        ("os._exit(3)", "called os._exit(3), which would end the process"),
        ("input()", "raised EOFError"),
        ("raise GeneratorExit('x')", "raised GeneratorExit: x"),
        ("os.kill(os.getpid(), 9)", "was killed by signal SIGKILL"),
    ],
)
def test_a_backward_that_ends_the_process_is_a_finding_and_exit_1(tmp_path, line, message):
    code, report, err = diagnose_json(case(tmp_path, line))
    assert code == 1, err
    (u101,) = [f for f in report["specs"][0]["findings"] if f["code"] == "U101"]
    assert message in u101["message"] and u101["location"]["spec_path"] == "implementation.backward"


def test_a_backward_that_hangs_is_a_finding_within_its_timeout(tmp_path):
    start = time.perf_counter()
    code, report, _ = diagnose_json(case(tmp_path, "while True: pass", "  timeout: 1\n"))
    assert code == 1 and time.perf_counter() - start < 30
    (u101,) = [f for f in report["specs"][0]["findings"] if f["code"] == "U101"]
    assert u101["message"] == "backward did not return within 1 s"
    assert "while True: pass" in u101["evidence"]["traceback"]


@pytest.mark.parametrize(
    "line",
    [
        "threading.Thread(target=time.sleep, args=(1000,)).start()",
        "sys.stdout.close()",
        "os.chdir('/')",
    ],
)
def test_threads_chdir_and_closed_stdout_change_nothing(tmp_path, line):
    code, report, err = diagnose_json(case(tmp_path, line))
    assert code == 0, err
    assert [f for f in report["specs"][0]["findings"] if f["severity"] == "error"] == []


def test_what_the_code_prints_is_reported_not_mixed_into_json(tmp_path):
    code, report, err = diagnose_json(case(tmp_path, "print('cost', 0.5)"))
    assert code == 0, err
    printed = report["specs"][0]["printed"]
    assert printed["lines"] > 0 and printed["first"][0] == "cost 0.5"
    code, out, _ = nnfix("diagnose", str(case(tmp_path / "again", "print('cost', 0.5)")), "--quick")
    assert "your code printed" in out and "│ cost 0.5" in out


def test_the_header_says_what_was_found(tmp_path):
    _, report, _ = diagnose_json(case(tmp_path), "--quick")
    about = report["specs"][0]["about"]
    assert any(line.startswith("parameters: a params dict nnfix builds") for line in about)
    assert any(line.startswith("gradients: L_model_backward's return value") for line in about)
    assert any(line.startswith("layout: columns") for line in about)


@pytest.mark.parametrize(
    ("section", "problem", "key"),
    [
        (
            "forward: L_model_forward\n  backward: L_model_backwrd",
            "'L_model_backwrd' is not defined",
            "backward",
        ),
        ("model: Nework([2, 3])\n  backward: fit", "'Nework' is not defined", "model"),
        ("model: Network(np.ones(3))\n  backward: fit", "arguments must be literals", "model"),
    ],
)
def test_bad_implementation_entries_are_exit_2_at_their_line(tmp_path, section, problem, key):
    spec = case(tmp_path)
    text = spec.read_text(encoding="utf-8")
    head = text[: text.index("implementation:")]
    spec.write_text(
        head + f"implementation:\n  module: deep_nn.py\n  {section}\n", encoding="utf-8"
    )
    code, out, err = nnfix("diagnose", str(spec), "--quick")
    assert code == 2, out + err
    assert problem in err and "Traceback" not in err and "internal error" not in err
    lines = spec.read_text(encoding="utf-8").splitlines()
    start = lines.index("implementation:")
    number = next(
        i for i, ln in enumerate(lines, 1) if i > start and ln.strip().startswith(f"{key}:")
    )
    assert f"spec.yaml:{number}:" in err


def test_a_notebook_that_is_not_json_is_exit_2(tmp_path):
    spec = case(tmp_path)
    (spec.parent / "net.ipynb").write_text("{not json", encoding="utf-8")
    spec.write_text(spec.read_text().replace("module: deep_nn.py", "module: net.ipynb"))
    code, _, err = nnfix("diagnose", str(spec), "--quick")
    assert code == 2 and "net.ipynb" in err and "Traceback" not in err


def test_train_keeps_nnfix_alive_when_the_code_exits(tmp_path):
    code, _, err = nnfix(
        "train", str(case(tmp_path, "os._exit(3)")), "--epochs", "2", "--out", str(tmp_path / "run")
    )
    assert code == 2 and "called os._exit(3)" in err and "Traceback" not in err.split("os._exit")[0]
