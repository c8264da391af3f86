"""The seed stories (tests/stories/, README.md there): each, as its poster wrote it and with the
spec a newcomer writes from SPEC §3, gives every root cause at its line in one run; each story
with its lines fixed is clean."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests import own_cases

STORIES = Path(__file__).parent / "stories"


def copy(tmp_path: Path, story: str, name: str = "", fixes: list[tuple[str, str]] = ()) -> Path:
    """The story in a folder of its own; `fixes` in file `name`: (a line as written, as fixed)."""
    folder = tmp_path / story
    shutil.copytree(STORIES / story, folder)
    for wrong, right in fixes:
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert text.count(wrong) == 1, wrong
        path.write_text(text.replace(wrong, right), encoding="utf-8")
    return folder / "spec.yaml"


def diagnose(spec: Path) -> tuple[int, list[dict]]:
    code, report = own_cases.diagnose(spec)
    assert code in (0, 1), report
    return code, own_cases.findings(report)


def line_of(spec: Path, name: str, text: str) -> int:
    lines = (spec.parent / name).read_text(encoding="utf-8").splitlines()
    (number,) = [i for i, line in enumerate(lines, 1) if line.strip() == text]
    return number


def at(finding: dict) -> tuple[str, int] | None:
    """(file name, line) of the user's line a finding names."""
    source = finding["location"].get("source")
    return (Path(source["file"]).name, source["line"]) if source else None


def errors(findings: list[dict]) -> list[dict]:
    return [f for f in findings if f["severity"] == "error"]


# --- seed 000: three bugs on one path, a loop over same-shaped layers, a shared helper ----------

SEED_000 = {
    "precedence": ("dAL = -(Y / AL + (1 - Y / 1 - AL))", "dAL = -(Y / AL - (1 - Y) / (1 - AL))"),
    "output": ("dZL = dAL * (1 - AL**2)", "dZL = dAL * AL * (1 - AL)"),
    "hidden": ("dZ = dA_prev * (1 - Z**2)", "dZ = dA_prev * (1 - A**2)"),
}


def test_seed_000s_three_bugs_are_three_root_causes_at_their_lines(tmp_path):
    spec = copy(tmp_path, "seed000")
    code, findings = diagnose(spec)
    assert code == 1
    lines = {("deep_net.py", line_of(spec, "deep_net.py", wrong)) for wrong, _ in SEED_000.values()}
    assert lines == {("deep_net.py", 54), ("deep_net.py", 56), ("deep_net.py", 62)}
    found = errors(findings)
    assert found and all(f["code"] == "G101" for f in found), found
    assert {at(f) for f in found if f["root_cause"]} == lines  # the helper's line 44 is right
    assert all(at(f) in lines for f in found), [at(f) for f in found]
    first = [f for f in found if f["evidence"].get("first_wrong")]
    assert first and {at(f) for f in first} == {("deep_net.py", 54)}
    assert "gradient of AL (" in first[0]["message"], first[0]["message"]  # the output, no bias
    behind = [f for f in found if f["evidence"].get("independent")]
    assert sorted(at(f)[1] for f in behind) == [56, 62]


def test_seed_000_fixed_is_clean(tmp_path):
    code, findings = diagnose(copy(tmp_path, "seed000", "deep_net.py", list(SEED_000.values())))
    assert code == 0, errors(findings)
    assert not [f for f in findings if at(f)]


# --- seed 002: a script, its values in dicts, ten sigmoid outputs -------------------------------

SEED_002 = ('dz1 = da1 * (1 - np.tanh(cache["a1"]) ** 2)', 'dz1 = da1 * (1 - cache["a1"] ** 2)')


def test_seed_002s_hidden_derivative_is_a_g101_on_the_hidden_layer_at_its_line(tmp_path):
    spec = copy(tmp_path, "seed002")
    code, findings = diagnose(spec)
    assert code == 1
    found = errors(findings)
    assert found and all(f["code"] == "G101" for f in found), found
    assert {f["location"]["parameter"] for f in found} == {"param['w1']", "param['b1']"}
    roots = [f for f in found if f["root_cause"]]
    assert roots and all(
        f["location"]["parameter"] in ("param['w1']", "param['b1']") for f in roots
    )
    line = line_of(spec, "train.py", SEED_002[0])
    assert {at(f) for f in roots} == {("train.py", line)}
    assert not [
        f for f in findings if f["location"].get("parameter") in ("param['w2']", "param['b2']")
    ]


def test_seed_002_fixed_is_clean(tmp_path):
    code, findings = diagnose(copy(tmp_path, "seed002", "train.py", [SEED_002]))
    assert code == 0, errors(findings)


# --- seed 003: layer objects, its own train(X, Y, epochs), lr = 1 / epoch ------------------------

SEED_003 = ("db = delta", "db = np.sum(delta, axis=1, keepdims=True)")


def test_seed_003s_bias_gradient_per_sample_is_a_g103_at_its_line(tmp_path):
    spec = copy(tmp_path, "seed003")
    code, findings = diagnose(spec)
    assert code == 1
    found = errors(findings)
    assert found and all(f["code"] == "G103" for f in found), found  # no G101 on the weights
    assert {f["location"]["parameter"] for f in found} == {f"layers[{i}].b" for i in range(3)}
    assert all(f["root_cause"] for f in found)
    assert all("not summed over the samples" in f["message"] for f in found)
    line = line_of(spec, "network.py", SEED_003[0])
    assert {at(f) for f in found} == {("network.py", line)}


def test_seed_003s_step_size_is_read_as_its_update_ran(tmp_path):
    spec = copy(tmp_path, "seed003", "network.py", [SEED_003])
    code, report = own_cases.diagnose(spec)
    assert code == 0, own_cases.errors(report)
    about = " ".join(report["specs"][0]["about"])
    line = line_of(spec, "network.py", "layer.W = layer.W - lr * dW")
    assert f"step size: 1 (lr at network.py:{line} when it ran)" in about
