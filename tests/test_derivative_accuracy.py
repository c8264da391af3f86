"""Diagnostic accuracy of the derivative and output rules (issue 13): an activation written as
an expression is the built-in it computes, a derivative is never compared at a kink, fixes are
real spec values or sentences — on networks unlike the bundled configs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnfix.diagnose.context import Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.engine.activations import numeric
from nnfix.spec.expr import compile_expression
from nnfix.spec.load import load_spec


def fn(text):
    expression = compile_expression(text, ("z",))
    return lambda z: expression(z=z)


def run(write_spec, layers, init="he_normal", loss="bce", data=None, select=(), extra=""):
    data = data or "{source: moons, samples: 160, noise: 0.2}"
    text = (
        f"seed: 3\ndata: {data}\nmodel:\n  init: {init}\n  layers:\n"
        + "".join(f"    - {layer}\n" for layer in layers)
        + f"loss: {loss}\n{extra}"
    )
    report = diagnose(load_spec(write_spec(text)), Selection(list(select)), Options(quick=True))
    return report.findings


HIDDEN = "{units: 7, activation: relu}"


def errors(found):
    return [f for f in found if f.severity.value == "error"]


def assert_real_fix(finding):
    """A fix is a spec change whose value nnfix can read, or a sentence alone."""
    fix = finding.fix
    assert fix is not None and fix.description
    assert "None" not in fix.description
    if fix.path is None:
        assert fix.value is None
        return
    assert fix.value is not None
    if fix.path[-1] == "derivative":
        compile_expression(str(fix.value), ("z", "a"))  # raises if it is not valid
    if fix.path[-1] == "derivative_of":
        assert fix.value in ("z", "a")


# --- recognition -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "alpha"),
    [
        ("maximum(z, 0.01*z)", "leaky_relu", 0.01),
        ("where(z > 0, z, 0.2*z)", "leaky_relu", 0.2),
        ("1/(1+exp(-z))", "sigmoid", None),
        ("exp(z)/(1 + exp(z))", "sigmoid", None),
        ("(exp(z)-exp(-z))/(exp(z)+exp(-z))", "tanh", None),
        ("2*sigmoid(2*z) - 1", "tanh", None),
        ("z*(z>0)", "relu", None),
        ("maximum(z, 0)", "relu", None),
        ("log(1+exp(z))", "softplus", None),
        ("z*sigmoid(z)", "swish", None),
        ("where(z > 0, z, 0.5*(exp(z) - 1))", "elu", 0.5),
        ("z", "linear", None),
    ],
)
def test_an_expression_is_the_builtin_it_computes(text, name, alpha):
    act = numeric.recognise(fn(text))
    assert act is not None and act.name == name
    if alpha is not None:
        assert act.alpha == pytest.approx(alpha)


@pytest.mark.parametrize(
    "text",
    ["clip(z, -1, 1)", "2*z", "0.5*tanh(z) + 0.5", "z*tanh(log1p(exp(z)))", "maximum(z, 0) + 0.1"],
)
def test_a_look_alike_is_no_builtin(text):
    assert numeric.recognise(fn(text)) is None


def test_softmax_is_recognised_in_the_output_layer_only():
    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    assert numeric.recognise(softmax, output=True).name == "softmax"
    assert numeric.recognise(softmax, output=False) is None


def test_a_function_that_raises_is_not_recognised():
    def broken(z):
        raise ValueError("no")

    assert numeric.recognise(broken) is None and numeric.output_range(broken) is None


def test_kinks_are_found_numerically_wherever_they_are():
    """One-sided slopes disagree within a step of a kink, of any expression, and nowhere else."""
    z = np.array([0.0, 3e-6, -4e-6, 1e-4, 1.0, 1.0 + 5e-6, 2.0, -3.0])
    kinked = numeric.kinked(fn("maximum(z, 0) + 0.1*minimum(z - 1, 0)"), z, 5e-5, 5e-4)
    assert kinked.tolist() == [True, True, True, False, True, True, False, False]
    smooth = np.linspace(-30, 30, 601)
    for text in ("1/(1+exp(-z))", "tanh(z)", "log(1+exp(z))", "z*sigmoid(z)", "z**3 / 10"):
        assert not numeric.kinked(fn(text), smooth, 5e-5, 5e-4).any(), text


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("1/(1+exp(-z))", 0.0, 1.0),
        ("where(z > 0, z, exp(z) - 1)", -1.0, math.inf),
        ("clip(z, -1, 1)", -1.0, 1.0),
        ("3*z", -math.inf, math.inf),
        ("-log(1+exp(z))", -math.inf, 0.0),
        ("0.5*tanh(z) + 0.5", 0.0, 1.0),
    ],
)
def test_an_output_range_is_measured(text, lo, hi):
    got_lo, got_hi = numeric.output_range(fn(text))
    assert got_lo == pytest.approx(lo, abs=1e-9) and got_hi == pytest.approx(hi, abs=1e-9)


# --- correct nets: nothing at error level ----------------------------------------------------

LEAKY = '{name: "maximum(z, 0.01*z)", derivative: "where(z > 0, 1, 0.01)"}'
HEALTHY = {
    "leaky-z": [f"{{units: 9, activation: {LEAKY}}}"] * 3,
    "leaky-a": [
        '{units: 5, activation: {name: "where(z > 0, z, 0.1*z)", derivative: "where(a > 0, 1, '
        '0.1)", derivative_of: a}}',
        '{units: 12, activation: {name: "where(z > 0, z, 0.1*z)", derivative: "where(z > 0, '
        '1, 0.1)"}}',
    ],
    "relu": [
        '{units: 7, activation: {name: "z*(z>0)", derivative: "z > 0"}}',
        '{units: 4, activation: {name: "maximum(z, 0)", derivative: "where(a > 0, 1, 0)", '
        "derivative_of: a}}",
    ],
    "sigmoid": [
        '{units: 3, activation: {name: "1/(1+exp(-z))", derivative: "a*(1-a)", derivative_of: a}}',
        '{units: 6, activation: {name: "1/(1+exp(-z))", derivative: "exp(-z)/(1+exp(-z))**2"}}',
    ],
    "tanh": [
        '{units: 10, activation: {name: "(exp(z)-exp(-z))/(exp(z)+exp(-z))", derivative: '
        '"1 - a**2", derivative_of: a}}',
        '{units: 4, activation: {name: "tanh(z)", derivative: "1 - tanh(z)**2"}}',
    ],
    "softplus": [
        '{units: 8, activation: {name: "log(1+exp(z))", derivative: "1/(1+exp(-z))"}}',
        '{units: 8, activation: {name: "log1p(exp(z))", derivative: "1 - exp(-a)", '
        "derivative_of: a}}",
    ],
    "kinks-at-0-and-1": [
        '{units: 6, activation: {name: "maximum(z, 0) + 0.1*minimum(z - 1, 0)", derivative: '
        '"where(z > 0, 1, 0) + where(z < 1, 0.1, 0)"}}'
    ],
}
OUTPUT = '{units: 1, activation: {name: "1/(1+exp(-z))", derivative: "a*(1-a)", derivative_of: a}}'


@pytest.mark.parametrize("init", ["zeros", "{name: normal, std: 0.3}", "he_uniform"])
@pytest.mark.parametrize("net", sorted(HEALTHY))
def test_correct_expression_nets_are_silent(write_spec, net, init):
    """Zero init puts every z on ReLU's kink: only Y101 (the symmetric init) is an error there."""
    found = run(write_spec, [*HEALTHY[net], OUTPUT], init=init)
    allowed = {"Y101"} if init == "zeros" else set()
    assert {f.code for f in errors(found)} <= allowed, [(f.code, f.message) for f in errors(found)]
    assert not [f for f in found if f.code.startswith("A")]


def test_issue_13_leaky_relu_expression_in_a_zero_initialised_net(write_spec):
    found = run(
        write_spec,
        [f"{{units: 6, activation: {LEAKY}}}", "{units: 1, activation: sigmoid}"],
        init="zeros",
    )
    assert [f.code for f in errors(found)] == ["Y101"]
    (y101,) = errors(found)
    assert y101.fix.value == "he_normal"  # leaky ReLU's init, not a guess for an unknown function


# --- broken nets: still caught, at the right layer, with a fix one can apply ------------------


@pytest.mark.parametrize(
    ("layers", "code", "layer", "fix"),
    [
        (  # ReLU's step on an expression leaky ReLU: another activation's derivative
            [
                HIDDEN,
                '{units: 5, activation: {name: "maximum(z, 0.2*z)", derivative: '
                '"where(z > 0, 1, 0)"}}',
            ],
            "A103",
            2,
            "where(z > 0, 1, 0.2)",
        ),
        (  # tanh's derivative on a sigmoid written out
            [
                HIDDEN,
                HIDDEN,
                '{units: 4, activation: {name: "1/(1+exp(-z))", derivative: '
                '"1 - a**2", derivative_of: a}}',
            ],
            "A103",
            3,
            "a * (1 - a)",
        ),
        (  # tanh's derivative on the built-in sigmoid
            ['{units: 4, activation: {name: sigmoid, derivative: "1 - tanh(z)**2"}}', HIDDEN],
            "A103",
            1,
            "sigmoid(z) * (1 - sigmoid(z))",
        ),
        (  # 1 - z**2 called on z, the activation an expression
            [
                HIDDEN,
                '{units: 6, activation: {name: "(exp(z)-exp(-z))/(exp(z)+exp(-z))", '
                'derivative: "1 - z**2"}}',
            ],
            "A102",
            2,
            "a",
        ),
        (  # a slope that is wrong in a way no hypothesis explains
            [
                '{units: 8, activation: {name: "where(z > 0, z, 0.1*z)", derivative: '
                '"where(z > 0, 1, 0.5)"}}'
            ],
            "A101",
            1,
            "where(z > 0, 1, 0.1)",
        ),
        (  # a sign flip on an expression softplus
            [HIDDEN, '{units: 3, activation: {name: "log(1+exp(z))", derivative: "-sigmoid(z)"}}'],
            "A101",
            2,
            "sigmoid(z)",
        ),
        (  # a wrong derivative of a function that is no built-in: remove it, in a sentence
            [
                '{units: 5, activation: {name: "z*tanh(log1p(exp(z)))", derivative: '
                '"tanh(log1p(exp(z)))"}}'
            ],
            "A101",
            1,
            None,
        ),
    ],
)
@pytest.mark.parametrize("init", ["zeros", "xavier_normal"])
def test_wrong_derivatives_are_caught(write_spec, layers, code, layer, fix, init):
    found = run(write_spec, [*layers, "{units: 1, activation: sigmoid}"], init=init)
    hits = [f for f in found if f.code.startswith("A")]
    assert [(f.code, f.location.layer) for f in hits] == [(code, layer)], [
        (f.code, f.message) for f in hits
    ]
    (hit,) = hits
    assert_real_fix(hit)
    assert hit.fix.value == fix
    if "z > 0" in str(fix):  # a kink at 0: never evidence taken there
        assert all(abs(point["z"]) > 1e-6 for point in hit.evidence["worst"])
    g101 = [f for f in found if f.code == "G101"]
    assert all(code in f.caused_by for f in g101 if f.location.layer <= layer)


def test_a_wrong_derivative_of_a_file_function_activation(write_spec, tmp_path):
    (tmp_path / "acts.py").write_text(
        "import numpy as np\n\ndef leaky(z):\n    return np.where(z > 0, z, 0.05 * z)\n"
    )
    layers = [
        "{units: 6, activation: {name: 'acts.py:leaky', derivative: 'where(z > 0, 1, 0.05)'}}",
        "{units: 6, activation: {name: 'acts.py:leaky', derivative: 'where(z > 0, 1, 0)'}}",
        "{units: 1, activation: sigmoid}",
    ]
    found = run(write_spec, layers, init="zeros")
    (a103,) = [f for f in found if f.code.startswith("A")]
    assert a103.code == "A103" and a103.location.layer == 2
    assert a103.fix.value == "where(z > 0, 1, 0.05)" and "leaky_relu" in a103.message


# --- D104: the output's range against what the loss needs -------------------------------------


@pytest.mark.parametrize(
    ("out", "fires"),
    [
        ("elu", True),
        ("{name: elu, alpha: 0.5}", True),
        ("linear", True),
        ("tanh", True),
        ("relu", True),
        ("softplus", True),
        ("sigmoid", False),
        ('"where(z > 0, z, exp(z) - 1)"', True),  # elu written out
        ('"clip(z, -1, 1)"', True),  # no built-in: its range is measured
        ('"1/(1+exp(-z))"', False),
        ('"0.5*tanh(z) + 0.5"', False),  # in (0, 1) though no built-in
    ],
)
def test_d104_bce_needs_an_output_in_0_1(write_spec, out, fires):
    found = run(write_spec, [HIDDEN, f"{{units: 1, activation: {out}}}"], select=["D104"])
    hits = [f for f in found if f.code == "D104"]
    assert bool(hits) == fires, [f.message for f in hits]
    if fires:
        (hit,) = hits
        assert hit.location.layer == 2 and hit.location.spec_path == "model.layers[1].activation"
        assert hit.fix.value == "sigmoid" and "(0, 1)" in hit.message


def test_d104_cce_needs_a_distribution(write_spec, tmp_path):
    (tmp_path / "out.py").write_text(
        "import numpy as np\n\ndef softmax(z):\n"
        "    e = np.exp(z - z.max(axis=1, keepdims=True))\n"
        "    return e / e.sum(axis=1, keepdims=True)\n"
    )
    data = "{source: spirals, classes: 3, samples: 150}"
    for out, fires in [
        ("softmax", False),
        ("'out.py:softmax'", False),
        ("sigmoid", True),
        ('"1/(1+exp(-z))"', True),
        ("linear", True),
    ]:
        layers = [HIDDEN, f"{{units: 3, activation: {out}}}"]
        found = run(write_spec, layers, loss="cce", data=data, select=["D104"])
        assert bool([f for f in found if f.code == "D104"]) == fires, out


# --- D101: the rows of the user's data ---------------------------------------------------------


def test_d101_names_csv_lines_with_a_validation_split(write_spec, tmp_path):
    rng = np.random.default_rng(5)
    lines = ["a,b,c,label"]
    for _ in range(60):
        x = rng.normal(size=3)
        lines.append(f"{x[0]:.4f},{x[1]:.4f},{x[2]:.4f},{int(x[0] > 0)}")
    lines.insert(20, "")  # a blank line: skipped, but it still counts as a line of the file
    nan_lines = [7, 18, 31, 60]  # 1-based file lines (the header is line 1)
    for n in nan_lines:
        cells = lines[n - 1].split(",")
        cells[1] = "nan"
        lines[n - 1] = ",".join(cells)
    lines[46 - 1] = "inf," + lines[46 - 1].split(",", 1)[1]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    data = "{source: csv, path: d.csv, validation: 0.2}"
    found = run(write_spec, [HIDDEN, "{units: 1, activation: sigmoid}"], data=data)
    (hit,) = [f for f in found if f.code == "D101"]
    assert hit.evidence["rows"] == [7, 18, 31, 46, 60]
    assert "lines 7, 18, 31, 46, 60" in hit.message and "d.csv" in hit.message
    assert hit.evidence["sets"] == {"training": 2, "validation": 3}  # as the split fell
    assert hit.evidence["nan"] == 4 and hit.evidence["inf"] == 1


def test_d101_npy_rows_with_a_validation_split_and_limit(write_spec, tmp_path):
    x = np.random.default_rng(1).normal(size=(80, 2))
    y = (x[:, 0] > 0).astype(float)
    x[[2, 35, 61], 0] = np.nan
    y[70] = np.inf  # beyond `limit`: not read
    y[20] = np.nan
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    data = "{source: npy, x: x.npy, y: y.npy, validation: 0.2, limit: 65}"
    found = run(write_spec, [HIDDEN, "{units: 1, activation: sigmoid}"], data=data)
    by_part = {f.evidence["part"]: f for f in found if f.code == "D101"}
    assert by_part["inputs"].evidence["rows"] == [3, 36, 62]
    assert by_part["inputs"].evidence["indices"] == [2, 35, 61]
    assert by_part["inputs"].evidence["sets"] == {"training": 2, "validation": 1}
    assert by_part["targets"].evidence["rows"] == [21]
    assert by_part["targets"].evidence["sets"] == {"validation": 1}
    assert "rows 3, 36, 62" in by_part["inputs"].message


# --- G102 on an output written as an expression -------------------------------------------------

SIGMOID_OUT = '{units: 1, activation: "1/(1+exp(-z))"}'


@pytest.mark.parametrize("init", ["zeros", "lecun_normal"])
def test_g102_sigmoid_expression_output_is_the_fused_case(write_spec, init):
    """`a - y` is BCE's dL/dz for a sigmoid output however the sigmoid is written."""
    right = "{name: bce, gradient: 'a - y', gradient_of: z}"
    found = run(write_spec, [HIDDEN, SIGMOID_OUT], init=init, loss=right)
    assert {f.code for f in errors(found)} <= ({"Y101"} if init == "zeros" else set())
    wrong = "{name: bce, gradient: 'y - a', gradient_of: z}"
    (g102,) = [
        f for f in run(write_spec, [HIDDEN, SIGMOID_OUT], init=init, loss=wrong) if f.code == "G102"
    ]
    assert "sign is flipped" in g102.message and g102.fix.value == "a - y"
    assert_real_fix(g102)
