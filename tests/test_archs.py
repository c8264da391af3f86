"""Any architecture is checked as the user's own forward measured (SPEC §3.1, §3.5, §3.6): one
folder per network under tests/archs/, written as learners write it (cs231n-style layer functions,
classes updating themselves, a min-char-rnn `lossFun`, ...), correct as it is, and its planted
bugs in `bugs.yaml` — each a one-line edit the test applies to a copy, that must be a G101 on the
tensor it makes wrong, named at the edited line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.own_cases import diagnose, errors, findings

ARCHS = Path(__file__).parent / "archs"
NETS = sorted(p.name for p in ARCHS.iterdir() if (p / "spec.yaml").is_file())
BUGS = [
    pytest.param(net, bug, id=f"{net}:{bug['name']}", marks=[pytest.mark.slow] if k else [])
    for net in NETS
    for k, bug in enumerate(yaml.safe_load((ARCHS / net / "bugs.yaml").read_text()))
]


def copy(tmp_path: Path, net: str) -> Path:
    shutil.copytree(ARCHS / net, tmp_path / net)
    return tmp_path / net


def plant(folder: Path, bug: dict) -> int:
    """The edit made in the copy; the line it is on."""
    path = folder / bug["file"]
    text = path.read_text(encoding="utf-8")
    assert text.count(bug["find"]) == 1, bug["find"]
    text = text.replace(bug["find"], bug["replace"])
    path.write_text(text, encoding="utf-8")
    (line,) = [i for i, s in enumerate(text.splitlines(), 1) if bug["replace"] in s]
    return line


def test_every_network_has_at_least_two_planted_bugs():
    assert NETS
    for net in NETS:
        bugs = yaml.safe_load((ARCHS / net / "bugs.yaml").read_text())
        assert len(bugs) >= 2, net
        assert {"name", "file", "find", "replace", "wrong"} <= set(bugs[0]), net


@pytest.mark.parametrize("net", NETS)
def test_a_correct_network_is_clean(tmp_path, net):
    code, report = diagnose(copy(tmp_path, net) / "spec.yaml")
    assert code == 0, errors(report)
    assert not errors(report)
    assert not [f for f in findings(report) if f["location"].get("source")]


@pytest.mark.parametrize(("net", "bug"), BUGS)
def test_a_planted_bug_is_g101_on_its_tensor_at_its_line(tmp_path, net, bug):
    folder = copy(tmp_path, net)
    line = plant(folder, bug)
    code, report = diagnose(folder / "spec.yaml")
    assert code == 1, findings(report)
    g101 = [f for f in errors(report) if f["code"] == "G101"]
    named = {f["location"]["parameter"] for f in g101}
    assert named & set(bug["wrong"]), named
    assert not named & set(bug.get("right", [])), named
    roots = [
        (Path(src["file"]).name, src["line"])
        for f in g101
        if f["root_cause"] and (src := f["location"].get("source"))
    ]
    if "gap" in bug:  # a line nnfix does not find yet, said in bugs.yaml with the reason
        assert (bug["file"], line) not in roots, "found now: remove its `gap:`"
        pytest.xfail(bug["gap"])
    assert (bug["file"], line) in roots, roots
    if "says" in bug:  # the usual mistake, named
        assert any(bug["says"] in f["message"] for f in g101), [f["message"] for f in g101]


def test_a_fill_is_a_store_into_a_piece_that_does_not_read_the_array():
    from nnfix.usercode.lines import _fills

    assert _fills("cols[:, col] = xp[n, :, i:i + k, j:j + k].reshape(-1)", "cols")
    assert _fills("dx[:, :, i:i + 2, j:j + 2] += share", "dx")
    assert _fills("self.out[n, f] = np.sum(self.x[n] * self.W[f])", "self.out")
    assert not _fills("s[t] = np.tanh(U[:, x[t]] + W.dot(s[t - 1]))", "s")
    assert not _fills("self.h[t] = np.tanh(self.W @ self.h[t - 1])", "self.h")
    assert not _fills("out = x[:, i]", "out")


def _bench_cases() -> list:
    """The networks benchmarks/bench_usercode.py times (our code, in benchmarks/usercode/)."""
    import importlib.util

    path = ARCHS.parents[1] / "benchmarks" / "bench_usercode.py"
    spec = importlib.util.spec_from_file_location("bench_usercode", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [(module, case) for case in module.CASES]


@pytest.mark.slow
@pytest.mark.parametrize(("bench", "case"), _bench_cases(), ids=lambda c: getattr(c, "__name__", c))
def test_the_benchmark_s_networks_are_clean_and_their_planted_line_is_named(tmp_path, bench, case):
    """The naive-loop CNN's conv gradient adds up over 8 samples, 4 filters and 10x10 windows:
    its wrong array is walked back through thousands of runs of one line."""
    name, _, _, bug = case
    (tmp_path / "clean").mkdir()
    (tmp_path / "bug").mkdir()
    code, report = diagnose(bench.planted(tmp_path / "clean", name, None))
    assert code == 0, errors(report)
    spec = bench.planted(tmp_path / "bug", name, bug)
    code, report = diagnose(spec)
    assert code == 1
    line = bench.line_of(spec.parent / bug[0], bug[2])
    assert (bug[0], line) in bench.roots(report)


RECURRENT = [b for b in BUGS if b.values[0] in ("min-char-gru", "class-rnn-bptt")]


@pytest.mark.parametrize(("net", "bug"), RECURRENT)
def test_a_recurrent_net_s_planted_bug_is_its_only_root_cause(tmp_path, net, bug):
    """After the culprit's value is replaced by the true one, the bugs behind it are looked for:
    the replacement is the gradient of what the value it reads the gradient of was made from, at
    that time step (`dz = dh * (hs[t - 1] - hcs[t])` gets dL/dzs[t], not hcs[t]'s of the same
    shape), and where none is known, nothing more is said — no line that is right is named as
    another bug."""
    folder = copy(tmp_path, net)
    line = plant(folder, bug)
    code, report = diagnose(folder / "spec.yaml")
    assert code == 1
    roots = {
        (Path(src["file"]).name, src["line"])
        for f in errors(report)
        if f["code"] == "G101" and f["root_cause"] and (src := f["location"].get("source"))
    }
    assert roots == {(bug["file"], line)}, roots
