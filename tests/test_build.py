"""From spec to engine: declared derivatives fed z or a, custom activations, loss gradients."""

import numpy as np
import pytest

from nnfix.engine import activations
from nnfix.run.prepare import prepare
from nnfix.spec.load import load_spec

SPEC = """
data: {{source: moons, samples: 40}}
model:
  layers:
    - units: 5
      activation: {hidden}
    - units: 1
      activation: {output}
loss: {loss}
train: {{dtype: float64}}
"""


def grads(write_spec, hidden="tanh", output="sigmoid", loss="bce"):
    prepared = prepare(load_spec(write_spec(SPEC.format(hidden=hidden, output=output, loss=loss))))
    _, g, cache = prepared.network.loss_and_grads(
        prepared.data.x_train, prepared.y_train, prepared.loss
    )
    return g, cache


@pytest.mark.parametrize(
    "declared",
    [
        '{name: tanh, derivative: "1 - a**2"}',  # names a: fed a
        '{name: tanh, derivative: "1 - z**2", derivative_of: a}',  # the variable is the argument
        '{name: tanh, derivative: "1 - tanh(z)**2"}',
        '{name: tanh, derivative: "1 - a*a + 0*z"}',  # names both: each is what it says
    ],
)
def test_right_derivatives_reproduce_the_builtin_gradients(write_spec, declared):
    expected, _ = grads(write_spec)
    got, _ = grads(write_spec, hidden=declared)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)


def test_wrong_argument_changes_the_hidden_gradient_only(write_spec):
    expected, _ = grads(write_spec)
    got, _ = grads(write_spec, hidden='{name: tanh, derivative: "1 - z**2"}')
    np.testing.assert_allclose(got[2], expected[2])  # output layer: untouched
    assert not np.allclose(got[0], expected[0])  # W1: through 1 - z**2 instead of 1 - a**2


def test_user_file_derivative_is_fed_z_by_default(write_spec, tmp_path):
    (tmp_path / "mine.py").write_text(
        "import numpy as np\ndef d(x):\n    return 1 - np.tanh(x)**2\n"
    )
    expected, _ = grads(write_spec)
    got, _ = grads(write_spec, hidden="{name: tanh, derivative: 'mine.py:d'}")
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)


def test_custom_forward_without_derivative_gets_a_numeric_one(write_spec):
    expected, _ = grads(write_spec, hidden="swish")
    got, _ = grads(write_spec, hidden='"z * sigmoid(z)"')
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-10)


def test_loss_gradient_in_z_and_in_a(write_spec):
    expected, _ = grads(write_spec)
    in_z, _ = grads(write_spec, loss='{name: bce, gradient: "a - y", gradient_of: z}')
    in_a, _ = grads(write_spec, loss='{name: bce, gradient: "(a - y) / (a * (1 - a))"}')
    for e, z, a in zip(expected, in_z, in_a, strict=True):
        np.testing.assert_allclose(z, e, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-12)


def test_precedence_bug_in_the_loss_gradient_is_what_trains(write_spec):
    got, cache = grads(write_spec, loss='{name: bce, gradient: "-(y/a + (1 - y/1 - a))"}')
    a = cache.a[-1]
    prepared = prepare(
        load_spec(write_spec(SPEC.format(hidden="tanh", output="sigmoid", loss="bce")))
    )
    y = prepared.y_train
    dZ = -(y / a + (1 - y - a)) * a * (1 - a) / len(y)
    np.testing.assert_allclose(got[2], cache.a[0].T @ dZ, rtol=1e-12)


def test_float32_and_float64(write_spec):
    spec = write_spec(SPEC.format(hidden="relu", output="sigmoid", loss="bce"))
    p64 = prepare(load_spec(spec))
    p32 = prepare(load_spec(spec, ["train.dtype=float32"]))
    assert p64.network.weights[0].dtype == np.float64 and p32.network.weights[0].dtype == np.float32
    assert p32.data.x_train.dtype == np.float32 and p32.y_train.dtype == np.float32
    _, g32, _ = p32.network.loss_and_grads(p32.data.x_train, p32.y_train, p32.loss)
    assert all(g.dtype == np.float32 for g in g32)  # nothing silently upcast


def test_activation_alpha_reaches_the_engine(write_spec):
    prepared = prepare(
        load_spec(
            write_spec(
                SPEC.format(hidden="{name: leaky_relu, alpha: 0.2}", output="sigmoid", loss="bce")
            )
        )
    )
    act = prepared.network.activations[0]
    np.testing.assert_allclose(
        act.forward(np.array([-1.0, 2.0])),
        activations.get("leaky_relu", 0.2).fn(np.array([-1.0, 2.0])),
    )


NO_BIAS = """
data: {{source: moons, samples: 60}}
model:
  init: xavier_normal
  {model_bias}
  layers:
    - {{units: 6, activation: tanh{first_bias}}}
    - {{units: 4, activation: tanh}}
    - {{units: 1, activation: sigmoid}}
loss: bce
train: {{dtype: float64, epochs: 3}}
"""


@pytest.mark.parametrize(
    ("model_bias", "first_bias", "names"),
    [
        ("bias: false", "", ["W1", "W2", "W3"]),
        ("", ", bias: false", ["W1", "W2", "b2", "W3", "b3"]),
        ("bias: false", ", bias: true", ["W1", "b1", "W2", "W3"]),
    ],
)
def test_layers_without_bias_have_no_bias_parameter_and_correct_gradients(
    write_spec, model_bias, first_bias, names
):
    from nnfix.diagnose.network_check import NetworkTarget

    loaded = load_spec(write_spec(NO_BIAS.format(model_bias=model_bias, first_bias=first_bias)))
    prepared = prepare(loaded)
    net = prepared.network
    assert net.names == names
    assert [layer.b is None for layer in net.layers] == [f"b{l}" not in names for l in range(1, 4)]
    result = NetworkTarget(net, prepared.data.x_train, prepared.y_train, prepared.loss).check()
    assert result.ok and result.tensors[0].name == "W3", result.table()


def test_a_net_without_bias_trains_and_saves_only_weights(write_spec, tmp_path):
    from nnfix.run.training import train

    loaded = load_spec(write_spec(NO_BIAS.format(model_bias="bias: false", first_bias="")))
    result = train(loaded, out=tmp_path / "run")
    assert sorted(np.load(tmp_path / "run" / "weights.npz").files) == ["W1", "W2", "W3"]
    assert result.history.epochs[-1].loss < result.history.epochs[0].loss


def test_bias_init_on_a_layer_without_bias_is_a_spec_error(write_spec):
    from nnfix.errors import SpecError

    text = NO_BIAS.format(model_bias="bias: false", first_bias=", bias_init: zeros")
    with pytest.raises(SpecError, match="'bias_init' does not apply to a layer without bias"):
        load_spec(write_spec(text))
