"""`nnfix fix` on findings in the user's own code: the certain rewrite of a bias gradient's
line (derived from the line's syntax tree), a diff of their file, --write that changes that
line only, and suggestions that are shown and never written."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.diagnose.findings import Finding, Location, Severity, Source
from nnfix.fix.run import repair
from nnfix.fix.usercode import apply, propose

from .conftest import ROOT, sampled
from .test_usercode_cases import BUGS, CASES, manifest, plant


def g103(tmp_path: Path, code: str, line: int, shape, expected, m: int, code_="G103") -> tuple:
    path = tmp_path / "net.py"
    text = textwrap.dedent(code).lstrip()
    path.write_text(text)
    statement = text.splitlines()[line - 1].strip()
    finding = Finding(
        code_,
        "gradient-shape-mismatch",
        Severity.ERROR,
        "…",
        Location(parameter="b1", source=Source(str(path), line, 5, statement)),
        {"shape": list(shape), "expected": list(expected), "samples": m},
    )
    return finding, text


COLUMNS = """
    import numpy as np

    def linear_backward(dZ, cache):
        A_prev, W, b = cache
        m = A_prev.shape[1]
        dW = dZ @ A_prev.T / m
        db = dZ / m  # not summed
        return W.T @ dZ, dW, db
"""


def test_not_summed_over_the_samples_with_a_number_for_m(tmp_path):
    finding, text = g103(tmp_path, COLUMNS, 7, (16, 32), (16, 1), 32)
    change = propose(finding, text)
    assert change is not None and change.line == 7
    assert change.new == "    db = np.sum(dZ, axis=1, keepdims=True) / m  # not summed"
    assert apply(text, change).splitlines()[6] == change.new


def test_m_that_may_be_an_array_stays_inside_the_sum(tmp_path):
    code = """
        import numpy as npy

        def backward(dZ, m):
            db = dZ / m
            return db
    """
    finding, text = g103(tmp_path, code, 4, (16, 32), (16, 1), 32)
    change = propose(finding, text)
    assert change is not None
    assert change.new == "    db = npy.sum(dZ / m, axis=1, keepdims=True)"


def test_rows_layout_vector_biases_and_no_numpy_import(tmp_path):
    code = """
        class Layer:
            def backward(self, dZ):
                self.db = dZ * (1 / len(dZ))
                return dZ @ self.W.T
    """
    finding, text = g103(tmp_path, code, 3, (32, 8), (1, 8), 32)
    change = propose(finding, text)
    assert change is not None
    assert change.new == "        self.db = dZ.sum(axis=0, keepdims=True) * (1 / len(dZ))"
    finding, text = g103(tmp_path, code, 3, (32, 8), (8,), 32)
    change = propose(finding, text)
    assert change is not None and change.new == "        self.db = dZ.sum(axis=0) * (1 / len(dZ))"


def test_summed_over_the_other_axis(tmp_path):
    code = """
        import numpy as np

        def backward(delta, grads_b, i):
            grads_b[i] = delta.sum(axis=1, keepdims=True)
            grads_b[i + 1] = np.sum(delta, 1, keepdims=True) / 2
    """
    finding, text = g103(tmp_path, code, 4, (32, 1), (1, 8), 32)
    change = propose(finding, text)
    assert change is not None and change.new == "    grads_b[i] = delta.sum(axis=0, keepdims=True)"
    finding, text = g103(tmp_path, code, 5, (32, 1), (1, 8), 32)
    change = propose(finding, text)
    assert change is not None
    assert change.new == "    grads_b[i + 1] = np.sum(delta, 0, keepdims=True) / 2"


@pytest.mark.parametrize(
    "code, line",
    [
        # the value is computed with later: changing it would change dW too
        (
            """
            def backward(A, Y, m):
                delta = (A - Y) / m
                dW = A.T @ delta
                return dW, delta
            """,
            2,
        ),
        # a statement over several lines
        (
            """
            def backward(dZ, m):
                db = (
                    dZ / m
                )
                return db
            """,
            2,
        ),
        # set in two places: a use may be of the other value
        (
            """
            def backward(dZ, m):
                db = dZ / m
                db = db * 1
                return db
            """,
            2,
        ),
    ],
    ids=["computed-with", "several-lines", "set-twice"],
)
def test_anything_uncertain_is_no_rewrite(tmp_path, code, line):
    finding, text = g103(tmp_path, code, line, (16, 32), (16, 1), 32)
    assert propose(finding, text) is None


def test_only_a_shape_finding_in_a_py_file_is_rewritten(tmp_path):
    finding, text = g103(tmp_path, COLUMNS, 7, (16, 32), (16, 1), 32, code_="G101")
    assert propose(finding, text) is None  # a wrong value: no certain rewrite
    finding, text = g103(tmp_path, COLUMNS, 7, (16, 32), (16, 8), 32)
    assert propose(finding, text) is None  # a shape no sum over the samples makes
    finding, text = g103(tmp_path, COLUMNS, 7, (16, 32), (16, 1), 32)
    assert finding.location.source is not None
    finding.location.source.cell = 3  # a notebook cell
    assert propose(finding, text) is None


def test_apply_keeps_the_line_break_and_every_other_line():
    from nnfix.fix.usercode import CodeChange

    text = "a = 1\r\nb = 2  # two\r\nc = 3"
    change = CodeChange(Path("x.py"), "x.py", 2, "b = 2  # two", "b = 20  # two")
    assert apply(text, change) == "a = 1\r\nb = 20  # two\r\nc = 3"


def copy_example(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(ROOT / "examples" / name, folder)
    return folder


def test_columns_buggy_is_fixed_at_its_line_and_diagnosed_clean(tmp_path):
    folder = copy_example(tmp_path, "columns-buggy")
    original = (folder / "my_net.py").read_text().splitlines(keepends=True)
    result = CliRunner().invoke(main, ["fix", str(folder / "spec.yaml"), "--write", "--quick"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "my_net.py\n@@ -45,7 +45,7 @@" in out
    assert "-    db = dZ / m  # the bug" in out
    assert "+    db = np.sum(dZ, axis=1, keepdims=True) / m  # the bug" in out
    written = (folder / "my_net.py").read_text().splitlines(keepends=True)
    assert len(written) == len(original)
    assert [n for n, (a, b) in enumerate(zip(original, written, strict=True), 1) if a != b] == [48]
    again = CliRunner().invoke(main, ["diagnose", str(folder / "spec.yaml"), "--format", "json"])
    assert again.exit_code == 0
    assert json.loads(again.stdout)["specs"][0]["findings"] == []


def test_class_buggy_rewrites_the_sum_not_the_line_that_only_looks_like_it(tmp_path):
    """Its three G103s point at two lines: the sum over the wrong axis (certain) and the line
    that makes delta (computed with later: a suggestion); the first fixes all three."""
    folder = copy_example(tmp_path, "class-buggy")
    original = (folder / "mlp.py").read_text().splitlines(keepends=True)
    result = CliRunner().invoke(main, ["fix", str(folder / "spec.yaml"), "--write", "--quick"])
    assert result.exit_code == 0, result.output
    written = (folder / "mlp.py").read_text().splitlines(keepends=True)
    assert [n for n, (a, b) in enumerate(zip(original, written, strict=True), 1) if a != b] == [39]
    assert "delta.sum(axis=0, keepdims=True)" in written[38]


def test_a_suggestion_is_shown_and_never_written(tmp_path):
    folder = copy_example(tmp_path, "rows-buggy")
    result = CliRunner().invoke(main, ["fix", str(folder / "spec.yaml"), "--write", "--quick"])
    assert result.exit_code == 1
    out = result.output
    assert "in your code (suggestions, never written):" in out
    assert "net.py:27:5  G101 gradient-mismatch  W3" in out
    assert "27 | dZ = dA3 * Z3 * (1 - Z3)" in out
    assert "sigmoid's derivative is written in A3 and given Z3" in " ".join(out.split())
    assert "written:" not in out and "---" not in out
    for name in ("net.py", "spec.yaml"):
        assert (folder / name).read_bytes() == (ROOT / "examples/rows-buggy" / name).read_bytes()


SHAPE_BUGS = [(c, b) for c, b in BUGS if b["expect"]["code"] == "G103"]


@pytest.mark.parametrize(
    ("case", "bug"),
    sampled(SHAPE_BUGS, every=3, ids=[f"{c}-{b['id']}" for c, b in SHAPE_BUGS]),
)
def test_planted_shape_bugs_are_rewritten_only_where_certain(tmp_path, case, bug):
    """Every bias gradient planted in a .py file of tests/usercode/ unsummed or summed over the
    units is rewritten, and the rewrite clears it; in a notebook, and for every other G103
    (swapped keys, a loop that skips a layer, the wrong cache), nothing is rewritten."""
    folder = tmp_path / case
    shutil.copytree(CASES / case, folder)
    file = folder / manifest(case)["file"]
    plant(file, bug["find"], bug["replace"])
    result = repair(folder / "spec.yaml", {}, quick=True)
    certain = bug["kind"] in ("bias-not-summed", "wrong-axis") and file.suffix == ".py"
    if not certain:
        assert result.code == [] and not result.changed
        return
    assert len(result.code) == 1 and result.failed == []
    change = result.code[0]
    assert bug["expect"]["line_contains"] in change.old
    assert [f for f in result.after.findings if f.code in ("G103", "G101")] == []


# --- diagnose's fix text is the line `nnfix fix` writes --------------------------------------

# rows layout (X is (m, 2)), the output delta divided by m where it is made, as many books do
DELTA_MEAN = """
import numpy as np

def forward(params, X):
    h = np.tanh(X @ params["W1"] + params["b1"])
    out = 1.0 / (1.0 + np.exp(-(h @ params["W2"] + params["b2"])))
    return out, (X, h, out)

def backward(params, cache, y):
    X, h, out = cache
    m = X.shape[0]
    delta2 = (out - y) / m
    grad_W2 = h.T @ delta2
    grad_b2 = np.sum(delta2, axis=0, keepdims=True)
    delta1 = (delta2 @ params["W2"].T) * (1 - h ** 2)
    grad_W1 = X.T @ delta1
    grad_b1 = np.sum(delta1, axis=0, keepdims=True)
    return {"W1": grad_W1, "b1": grad_b1, "W2": grad_W2, "b2": grad_b2}
"""

DELTA_SPEC = """
data: {source: moons, samples: 80}
model:
  layers:
    - {units: 5, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: bce
implementation: {module: net.py, forward: forward, backward: backward, layout: rows}
"""


def _diagnosed(tmp_path: Path, code: str):
    from nnfix.diagnose.context import Options
    from nnfix.diagnose.pipeline import Selection, diagnose
    from nnfix.spec.load import load_spec

    (tmp_path / "net.py").write_text(textwrap.dedent(code))
    (tmp_path / "spec.yaml").write_text(DELTA_SPEC)
    report = diagnose(load_spec(tmp_path / "spec.yaml"), Selection(["G", "U"]), Options(quick=True))
    return report.findings, (tmp_path / "net.py").read_text()


def _line_of(text: str, code: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.strip() == code)


def test_delta_already_divided_by_m_is_summed_alone_and_diagnose_says_the_line_fix_writes(
    tmp_path,
):
    """`grad_b1 = delta1` where delta1 already holds the 1/m: the gradient is its sum, nothing
    more. Diagnose used to say `np.sum(dZ, axis=0, keepdims=True) / m` (dividing twice); now it
    shows the line `nnfix fix` writes, on the alias that gives delta1 as the gradient."""
    code = DELTA_MEAN.replace("grad_b1 = np.sum(delta1, axis=0, keepdims=True)", "grad_b1 = delta1")
    found, text = _diagnosed(tmp_path, code)
    (g103,) = [f for f in found if f.code == "G103"]
    assert g103.evidence["summed"] == "right"
    line = _line_of(text, "grad_b1 = delta1")
    want = "grad_b1 = np.sum(delta1, axis=0, keepdims=True)"
    assert g103.fix.description == f"sum over the samples: `{want}` (line {line})"
    change = propose(g103, text)
    assert change is not None and change.line == line and change.new.strip() == want
    assert "['" not in g103.message and "(grad_b1)" in g103.message  # their name, no repr


def test_a_line_that_divides_by_m_twice_is_told_to_sum_without_the_second_division(tmp_path):
    code = DELTA_MEAN.replace(
        "grad_b1 = np.sum(delta1, axis=0, keepdims=True)", "grad_b1 = delta1 / m"
    )
    found, text = _diagnosed(tmp_path, code)
    (g103,) = [f for f in found if f.code == "G103"]
    assert g103.evidence["summed"] == "1/m"
    assert "`grad_b1 = np.sum(delta1, axis=0, keepdims=True)`" in g103.fix.description
    assert "/ m`" not in g103.fix.description and "twice" in g103.fix.description
    assert propose(g103, text) is None  # dropping a divisor is a suggestion, never written


def test_a_delta_without_the_1_over_m_is_summed_and_divided(tmp_path):
    code = (
        DELTA_MEAN.replace("delta2 = (out - y) / m", "delta2 = out - y")
        .replace("grad_W2 = h.T @ delta2", "grad_W2 = h.T @ delta2 / m")
        .replace("keepdims=True)\n    delta1", "keepdims=True) / m\n    delta1")
        .replace("grad_W1 = X.T @ delta1", "grad_W1 = X.T @ delta1 / m")
        .replace("grad_b1 = np.sum(delta1, axis=0, keepdims=True)", "grad_b1 = delta1")
    )
    found, text = _diagnosed(tmp_path, code)
    assert [f.code for f in found if f.severity.value == "error"] == ["G103"]
    (g103,) = [f for f in found if f.code == "G103"]
    assert g103.evidence["summed"] == "m times"
    assert "`grad_b1 = np.sum(delta1, axis=0, keepdims=True) / m`" in g103.fix.description
    assert propose(g103, text) is None


def test_the_same_code_summed_right_has_no_shape_finding(tmp_path):
    found, _ = _diagnosed(tmp_path, DELTA_MEAN)
    assert [f for f in found if f.severity.value == "error"] == []


def test_a_value_computed_with_is_named_in_the_suggestion(tmp_path):
    """delta1 given as the gradient in the dict itself: no line to rewrite, the sum named in
    the user's names on their samples' axis."""
    code = DELTA_MEAN.replace('"b1": grad_b1', '"b1": delta1')
    found, text = _diagnosed(tmp_path, code)
    (g103,) = [f for f in found if f.code == "G103"]
    assert g103.fix.description == (
        "sum over the samples: give `np.sum(delta1, axis=0, keepdims=True)` as the gradient"
    )
    assert propose(g103, text) is None


def test_a_sum_over_the_units_gets_the_line_fix_writes_as_its_fix_in_diagnose(tmp_path):
    """class-buggy sums delta over the units: diagnose had no fix for it while `nnfix fix`
    turned the axis; now both say the same line (without its comment)."""
    from nnfix.diagnose.context import Options
    from nnfix.diagnose.pipeline import Selection, diagnose
    from nnfix.spec.load import load_spec

    folder = copy_example(tmp_path, "class-buggy")
    report = diagnose(load_spec(folder / "spec.yaml"), Selection(["G"]), Options(quick=True))
    text = (folder / "mlp.py").read_text()
    at = [f for f in report.findings if f.code == "G103" and f.location.source.line == 39]
    assert at  # b1, b2 and b3 are all made on that line
    for g103 in at:
        change = propose(g103, text)
        assert change is not None and change.new.strip().startswith(
            "grads_b[i] = delta.sum(axis=0, keepdims=True)"
        )
        assert g103.fix.description == (
            "sum over the samples: `grads_b[i] = delta.sum(axis=0, keepdims=True)`"
        )
        assert "grads_b[" in g103.message and "(['" not in g103.message and "([" not in g103.message
