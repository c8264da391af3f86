"""Finding the way round the user's code: calls parsed without evaluating anything, arguments
bound by name, gradients read from any nesting, and every ambiguity or unusable entry an exit-2
error at its spec line that says what settles it."""

import textwrap

import numpy as np
import pytest

from nnfix.diagnose.context import Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.engine.network import Slot
from nnfix.errors import ModuleError
from nnfix.spec.load import load_spec
from nnfix.usercode import grads
from nnfix.usercode.calls import (
    BindingError,
    CallSyntaxError,
    Placeholder,
    bind,
    parse_call,
    role_of,
    word_role,
)
from nnfix.usercode.grads import Param
from nnfix.usercode.layout import Layout
from nnfix.usercode.objects import Ref, compress, walk

# --- calls -----------------------------------------------------------------------------------


def test_calls_take_literals_and_the_data_placeholders():
    call = parse_call("Network([2, 30, 1], cost='quadratic', seed=None)")
    assert call.name == "Network" and call.args == ([2, 30, 1],)
    assert call.kwargs == {"cost": "quadratic", "seed": None}
    data = parse_call("NeuralNetwork(X, Y, lr=0.5)")
    assert data.uses_data and data.args == (Placeholder("X"), Placeholder("Y"))
    assert data.arguments({"X": "xs", "Y": "ys"}) == (["xs", "ys"], {"lr": 0.5})
    assert parse_call("layers.Dense").name == "layers.Dense"


@pytest.mark.parametrize(
    "text", ["Network(np.ones(3))", "Network(__import__('os'))", "Network(*sizes)", "1 + 2", "Net("]
)
def test_anything_but_a_call_with_literal_arguments_is_refused(text):
    with pytest.raises(CallSyntaxError):
        parse_call(text)


def test_parameters_are_bound_by_their_names():
    def backward(AL, Y, caches, lambd=0.0):
        return AL, Y, caches, lambd

    values = {"output": "out", "Y": "y", "cache": "c", "X": "x", "params": "p"}
    args, kwargs = bind(backward, "backward", values, depth=3)
    assert backward(*args, **kwargs) == ("out", "y", "c", 0.0)
    assert role_of("A3", "backward", 3) == "output" and role_of("A0", "forward", 3) == "X"
    assert role_of("a", "forward", 3) == "X" and role_of("a", "backward", 3) == "output"


def test_a_parameter_nnfix_cannot_supply_names_the_key_that_settles_it():
    def train(pixels, classes):
        return pixels, classes

    with pytest.raises(BindingError, match="cannot tell what to pass as 'pixels'"):
        bind(train, "backward", {"X": 1, "Y": 2}, depth=2)
    args, kwargs = bind(
        train,
        "backward",
        {"X": 1, "Y": 2},
        depth=2,
        arguments={"pixels": "X", "classes": "Y"},
    )
    assert train(*args, **kwargs) == (1, 2)


def test_a_word_of_a_parameters_name_says_its_role():
    """`train(inputs_list, targets_list)` (SPEC §3.2 D) and `backward(data_train, labels_train)`:
    one word of the name says the role; a name whose words say two roles says none."""

    def train(inputs_list, targets_list):
        return inputs_list, targets_list

    args, kwargs = bind(train, "backward", {"X": 1, "Y": 2}, depth=2)
    assert train(*args, **kwargs) == (1, 2)
    assert word_role("data_train") == "X" and word_role("labels_train") == "Y"
    assert word_role("X_val") == "X" and word_role("y_batch2") == "Y"
    assert word_role("input_labels") is None and word_role("a_prev") is None
    assert word_role("training_outputs") is None  # the targets, by the outputs they should be


# --- gradients in any container ---------------------------------------------------------------


def params_2x3(columns=True):
    """W1 (3, 2), b1 (3, 1), W2 (1, 3), b2 (1, 1) as a columns layout holds them."""
    shapes = {"W1": (2, 3), "b1": (1, 3), "W2": (3, 1), "b2": (1, 1)}
    layout = Layout(columns, "column" if columns else "row")
    out = []
    for name, rows in shapes.items():
        slot = Slot(name, int(name[1]), "weight" if name[0] == "W" else "bias")
        array = np.zeros(layout.shape(slot, rows))
        out.append(Param(slot, Ref(f"self.{name}", object(), name, "attr"), array.shape))
    return out, layout


@pytest.mark.parametrize(
    "returned",
    [
        lambda g: {"dW1": g[0], "db1": g[1], "dW2": g[2], "db2": g[3], "dA1": np.ones((3, 5))},
        lambda g: {"grad_w1": g[0], "grad_b1": g[1], "grad_w2": g[2], "grad_b2": g[3]},
        lambda g: ([g[1], g[3]], [g[0], g[2]]),  # (nabla_b, nabla_w)
        lambda g: [(g[0], g[1]), (g[2], g[3])],  # [(dW, db), ...]
        lambda g: (0.69, {"W1": g[0], "b1": g[1], "W2": g[2], "b2": g[3]}),  # (loss, grads)
        lambda g: [g[0], g[1], g[2], g[3]],
    ],
)
def test_gradients_are_read_from_any_container(returned):
    params, layout = params_2x3()
    g = [np.full(p.shape, float(i + 1)) for i, p in enumerate(params)]
    found = grads.from_value(returned(g), params, layout)
    assert found is not None and not found.wrong and not found.missing
    for i, p in enumerate(params):
        np.testing.assert_array_equal(found.arrays[p.slot.name], layout.to_rows(p.slot, g[i]))


def test_a_bias_gradient_not_summed_is_kept_with_its_wrong_shape():
    params, layout = params_2x3()
    value = {
        "dW1": np.zeros((3, 2)),
        "db1": np.zeros((3, 16)),
        "dW2": np.zeros((1, 3)),
        "db2": np.zeros((1, 1)),
    }
    found = grads.from_value(value, params, layout)
    assert found.wrong == {"b1": ((3, 16), (3, 1), "['db1']")}
    assert found.extra == [] and found.missing == []


def test_a_gradient_of_a_layer_that_does_not_exist_is_named():
    params, layout = params_2x3()
    value = {
        "dW1": np.zeros((3, 2)),
        "db1": np.zeros((3, 1)),
        "dW2": np.zeros((1, 3)),
        "db2": np.zeros((1, 1)),
    }
    value["dW3"] = np.zeros((1, 1))
    assert grads.from_value(value, params, layout).extra == ["dW3"]


# --- objects ---------------------------------------------------------------------------------


def test_the_walk_names_arrays_by_their_paths():
    class Layer:
        def __init__(self):
            self.weights = np.zeros((2, 3))
            self.cache = {"a": np.ones((4, 3))}

    class Net:
        def __init__(self):
            self.layers = [Layer(), "relu", Layer()]
            self.lr = 0.1

    paths = [r.path for r in walk(Net())]
    assert paths == [
        "self.layers[0].weights",
        "self.layers[0].cache['a']",
        "self.layers[2].weights",
        "self.layers[2].cache['a']",
    ]
    assert (
        compress(["w[0]", "w[1]", "w[2]"]) == "w[0..2]" and compress(["w[0]", "w[2]"]) == "w[0,2]"
    )


# --- through diagnose --------------------------------------------------------------------------

SPEC = """
data: {{source: moons, samples: 80}}
model:
  init: xavier_normal
  layers:
    - {{units: 4, activation: tanh}}
    - {{units: 1, activation: sigmoid}}
loss: bce
implementation:
  module: net.py
{implementation}
"""

CLASS = """
import numpy as np

def sig(z):
    return 1 / (1 + np.exp(-z))

class Net:
    def __init__(self, n_in=2, n_hidden=4):
        {init}
        self.b1 = np.zeros((1, n_hidden))
        self.W2 = np.random.randn(n_hidden, 1) * 0.5
        self.b2 = np.zeros((1, 1))
        {extra}

    def forward(self, X):
        self.A1 = np.tanh(X @ self.W1 + self.b1)
        self.A2 = sig(self.A1 @ self.W2 + self.b2)
        self.out = self.A2

    def backward(self, X, Y):
        m = len(X)
        dZ2 = (self.A2 - Y) / m
        self.dW2, self.db2 = self.A1.T @ dZ2, dZ2.sum(0, keepdims=True)
        dZ1 = dZ2 @ self.W2.T * (1 - self.A1**2)
        self.dW1, self.db1 = X.T @ dZ1, dZ1.sum(0, keepdims=True)
"""


def write(
    tmp_path, implementation, init="self.W1 = np.random.randn(n_in, n_hidden) * 0.5", extra=""
):
    code = CLASS.replace("{init}", init).replace("{extra}", extra)
    (tmp_path / "net.py").write_text(textwrap.dedent(code))
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(implementation=textwrap.indent(implementation.strip(), "  ")))
    return spec


def findings(spec):
    return diagnose(load_spec(spec), Selection(), Options(quick=True)).findings


def test_a_forward_that_returns_nothing_leaves_its_output_where_output_says(tmp_path):
    spec = write(tmp_path, "model: Net()\nforward: forward\nbackward: backward\noutput: out")
    assert [f for f in findings(spec) if f.severity.value == "error"] == []
    spec = write(tmp_path, "model: Net()\nforward: forward\nbackward: backward\noutput: nowhere")
    with pytest.raises(ModuleError, match="output: 'nowhere' names nothing"):
        findings(spec)


def test_the_init_rules_run_on_the_values_the_code_creates(tmp_path):
    spec = write(
        tmp_path,
        "model: Net()\nforward: forward\nbackward: backward",
        init="self.W1 = np.random.rand(n_in, n_hidden)",
    )
    (y104,) = [f for f in findings(spec) if f.code == "Y104"]
    assert y104.location.parameter == "W1" and "as your code creates them" in y104.message
    assert y104.fix.path is None and "in your code" in y104.fix.description  # not the spec's init
    spec = write(
        tmp_path,
        "model: Net()\nforward: forward\nbackward: backward\ninit: yours",
        init="self.W1 = np.zeros((n_in, n_hidden))",
    )
    (y101,) = [f for f in findings(spec) if f.code == "Y101"]  # the net itself starts from theirs
    assert (
        y101.location.spec_path == "implementation.init"
        and "as your code creates them" in y101.message
    )


def test_two_arrays_that_both_move_the_output_are_an_ambiguity_to_settle(tmp_path):
    spec = write(
        tmp_path,
        "model: Net()\nforward: forward\nbackward: backward",
        extra="self.W1_copy = self.W1\n        self.scale = np.ones((2, 4))",
    )
    code = (tmp_path / "net.py").read_text().replace("X @ self.W1", "X @ (self.W1 * self.scale)")
    (tmp_path / "net.py").write_text(code)
    with pytest.raises(ModuleError) as caught:
        findings(spec)
    problem = caught.value.problems[0]
    assert "several arrays could be W1: self.W1, self.scale" in problem.message
    assert problem.hint.startswith("params:")


def test_code_without_biases_needs_the_spec_to_say_so(tmp_path):
    spec = write(tmp_path, "model: Net()\nforward: forward\nbackward: backward")
    code = (tmp_path / "net.py").read_text()
    for old in ("self.b1 = np.zeros((1, n_hidden))", "self.b2 = np.zeros((1, 1))"):
        code = code.replace(old, "pass")
    code = code.replace(" + self.b1", "").replace(" + self.b2", "")
    (tmp_path / "net.py").write_text(code)
    with pytest.raises(ModuleError) as caught:
        findings(spec)
    assert caught.value.problems[0].hint == "model: {bias: false}"
    spec.write_text(
        spec.read_text().replace("  init: xavier_normal", "  init: xavier_normal\n  bias: false")
    )
    assert [f for f in findings(spec) if f.severity.value == "error"] == []


def test_a_constructor_that_raises_is_exit_2_with_its_traceback(tmp_path):
    spec = write(
        tmp_path,
        "model: Net(n_in=2)\nforward: forward\nbackward: backward",
        init="raise ValueError('no data file')",
    )
    with pytest.raises(ModuleError) as caught:
        findings(spec)
    problem = caught.value.problems[0]
    assert problem.path == ("implementation", "model") and "no data file" in problem.message
    assert "net.py" in problem.detail
