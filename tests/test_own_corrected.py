"""The corrected line of a G101 culprit (SPEC §3.6): the line rewritten, in the user's own names,
so that it gives the measured true value, where a usual mistake undone does — and no line where
none does; `nnfix fix` proposes the same line. On code of our own (samples as rows, a dict of
arrays) and on seed 000's module (tests/stories)."""

from __future__ import annotations

from click.testing import CliRunner

from nnfix.cli import main
from tests.own_cases import diagnose, errors, write_case
from tests.test_stories import SEED_000, copy

NET = """
import numpy as np


def build():
    rng = np.random.default_rng(11)
    return {"W1": rng.normal(0, 0.6, (2, 5)), "b1": np.zeros((1, 5)),
            "W2": rng.normal(0, 0.6, (5, 1)), "b2": np.zeros((1, 1))}


def forward(params, X):
    z1 = X @ params["W1"] + params["b1"]
    h = np.tanh(z1)
    z2 = h @ params["W2"] + params["b2"]
    out = 1 / (1 + np.exp(-z2))
    return out, (X, z1, h, z2, out)


def cost(out, Y):
    return float(np.mean(-(Y * np.log(out) + (1 - Y) * np.log(1 - out))))


def backward(params, cache, Y):
    X, z1, h, z2, out = cache
    n = X.shape[0]
    dz2 = out - Y
    dW2 = h.T @ dz2 / n
    db2 = np.sum(dz2, axis=0, keepdims=True) / n
    dh = dz2 @ params["W2"].T
    dz1 = dh * (1 - h ** 2)
    dW1 = X.T @ dz1 / n
    db1 = np.sum(dz1, axis=0, keepdims=True) / n
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
"""

SPEC = """
seed: 0
data: {source: moons, samples: 32}
implementation:
  module: net.py
  model: build()
  forward: forward
  backward: backward
  loss: cost
"""

MISTAKES = {  # the mistake, as written -> the line nnfix should give
    "derivative given z": ("dz1 = dh * (1 - z1 ** 2)", "dz1 = dh * (1 - h ** 2)"),
    "sigmoid's derivative": ("dz1 = dh * h * (1 - h)", "dz1 = dh * (1 - h ** 2)"),
    "sign": ('dh = -dz2 @ params["W2"].T', "dh = dz2 @ params['W2'].T"),
    "missing 1/m": ("dW1 = X.T @ dz1", "dW1 = X.T @ dz1 / n"),
}


def _culprits(report: dict) -> list[dict]:
    return [f for f in errors(report) if f["code"] == "G101" and f["location"].get("source")]


def _case(tmp_path, mistake: str):
    right = {
        "derivative given z": "dz1 = dh * (1 - h ** 2)",
        "sigmoid's derivative": "dz1 = dh * (1 - h ** 2)",
        "sign": 'dh = dz2 @ params["W2"].T',
        "missing 1/m": "dW1 = X.T @ dz1 / n",
    }[mistake]
    return write_case(tmp_path, NET, SPEC, right, MISTAKES[mistake][0])


def test_the_network_as_written_is_clean(tmp_path):
    code, report = diagnose(write_case(tmp_path, NET, SPEC))
    assert code == 0 and not errors(report)


def test_each_usual_mistake_gets_its_corrected_line_and_nnfix_fix_writes_it(tmp_path):
    for mistake, (wrong, fixed) in MISTAKES.items():
        folder = tmp_path / mistake.replace(" ", "_").replace("'", "").replace("/", "")
        folder.mkdir()
        spec = _case(folder, mistake)
        code, report = diagnose(spec)
        assert code == 1, mistake
        line = spec.parent.joinpath("net.py").read_text().splitlines().index(f"    {wrong}") + 1
        found = [f for f in _culprits(report) if f["location"]["source"]["line"] == line]
        assert found, (mistake, [f["message"] for f in errors(report)])
        said = {f["evidence"]["culprit"].get("corrected") for f in found}
        assert said == {fixed}, (mistake, said)
        assert f"`{fixed}`" in found[0]["fix"]["description"]
        result = CliRunner().invoke(main, ["fix", str(spec)])
        assert f"+    {fixed}" in result.output, (mistake, result.output)


def test_no_line_is_proposed_where_no_edit_gives_the_true_value(tmp_path):
    wrong = "dz1 = dh * dh * (1 - h ** 2)"
    spec = write_case(tmp_path, NET, SPEC, "dz1 = dh * (1 - h ** 2)", wrong)
    code, report = diagnose(spec)
    assert code == 1
    found = _culprits(report)
    line = spec.parent.joinpath("net.py").read_text().splitlines().index(f"    {wrong}") + 1
    assert {f["location"]["source"]["line"] for f in found} == {line}  # still named
    assert all("corrected" not in f["evidence"]["culprit"] for f in found)
    assert all("write line" not in (f["fix"] or {}).get("description", "") for f in found)


def test_seed_000s_three_bugs_get_three_corrected_lines_in_one_run(tmp_path):
    spec = copy(tmp_path, "seed000")
    code, report = diagnose(spec)
    assert code == 1
    corrected = {
        f["location"]["source"]["line"]: f["evidence"]["culprit"].get("corrected")
        for f in _culprits(report)
        if f["root_cause"]
    }
    assert corrected == {
        54: "dAL = -(Y / AL - (1 - Y) / (1 - AL))",
        56: "dZL = dAL * (AL * (1 - AL))",
        62: "dZ = dA_prev * (1 - A ** 2)",
    }
    result = CliRunner().invoke(main, ["fix", str(spec)])
    for line in corrected.values():
        assert f"+    {line}" in result.output or f"+        {line}" in result.output
    assert "FAIL → PASS" in result.output
    assert len(SEED_000) == 3
