"""What `nnfix init --from` reads off numbers, piece by piece: layer sizes from a list of arrays
(`usercode.fit.chain`), activations from what a forward left behind or from its output alone
(`usercode.fit.fit`), the calls a module's script makes (`usercode.survey`), and the init
scheme and loss behind values (`init.guess`)."""

from __future__ import annotations

import itertools
import textwrap

import numpy as np
import pytest

from nnfix.engine import activations
from nnfix.init import guess
from nnfix.usercode import survey
from nnfix.usercode.fit import chain, closest, fit
from nnfix.usercode.loader import load_module

RNG = np.random.default_rng(0)

# --- layer sizes ------------------------------------------------------------------------------


def test_a_rows_chain_with_its_biases():
    found = chain([(2, 16), (1, 16), (16, 8), (1, 8), (8, 1), (1, 1)])
    assert found.sizes == [2, 16, 8, 1] and not found.columns
    assert found.weights == [0, 2, 4] and found.biases == [1, 3, 5]


def test_biases_listed_before_the_weights_are_not_weights():
    """Nielsen's lists: biases (n, 1) first; a chain from a bias column would start at 1 input."""
    found = chain([(12, 1), (10, 1), (3, 1), (12, 2), (10, 12), (3, 10)])
    assert found.sizes == [2, 12, 10, 3] and found.columns
    assert found.biases == [0, 1, 2]


def test_a_missing_bias_goes_by_the_layer_numbers():
    found = chain([(12, 2), (12, 1), (12, 12), (1, 12), (1, 1)], ["W1", "b1", "W2", "W3", "b3"])
    assert found.sizes == [2, 12, 12, 1] and found.biases == [1, None, 4]


def test_no_hidden_layer_of_one_unit():
    found = chain([(3, 1), (1, 1), (1, 4)])
    assert found.sizes == [3, 1]


# --- activations ------------------------------------------------------------------------------------


def _net(sizes, acts, alpha=None):
    weights = [RNG.normal(0, 1 / np.sqrt(a), (a, b)) for a, b in itertools.pairwise(sizes)]
    biases = [RNG.normal(0, 0.5, (1, b)) for b in sizes[1:]]
    x = RNG.normal(size=(13, sizes[0]))
    a, cache = x, []
    for W, b, name in zip(weights, biases, acts, strict=True):
        z = a @ W + b
        a = activations.get(name, alpha if name in ("leaky_relu", "elu") else None).fn(z)
        cache += [z.T, a.T]  # a columns-layout cache: (n, m)
    return x, weights, biases, a, cache


def test_activations_are_read_off_the_cache_slopes_too():
    x, W, b, out, cache = _net([2, 8, 6, 3], ["leaky_relu", "tanh", "softmax"], alpha=0.2)
    found = fit(out, x, W, b, cache)
    assert [a.name for a in found.activations] == ["leaky_relu", "tanh", "softmax"]
    assert found.activations[0].alpha == 0.2 and found.read == [True, True, False]


def test_activations_are_searched_from_the_output_alone():
    x, W, b, out, _ = _net([3, 6, 5, 4, 1], ["relu", "elu", "sigmoid", "sigmoid"])
    found = fit(out, x, W, b, [])
    assert [a.name for a in found.activations] == ["relu", "elu", "sigmoid", "sigmoid"]


def test_a_cache_of_pre_activations_does_not_read_as_linear_layers():
    x, W, b, out, cache = _net([2, 6, 6, 1], ["tanh", "tanh", "sigmoid"])
    zs = cache[0::2]
    found = fit(out, x, W, b, zs)  # only Z1, Z2, Z3 left behind
    assert [a.name for a in found.activations] == ["tanh", "tanh", "sigmoid"]


def test_an_output_no_built_in_gives_has_only_a_nearest():
    """A softmax over the batch axis: the hidden layer is still read off the cache."""
    x, W, b, _, cache = _net([2, 6, 3], ["relu", "linear"])
    z = cache[2].T
    wrong = np.exp(z) / np.exp(z).sum(axis=0, keepdims=True)  # normalised over the samples
    assert fit(wrong, x, W, b, cache[:2]) is None
    near = closest(wrong, x, W, b, cache[:2])
    assert near is not None and [a.name for a in near.activations][:1] == ["relu"]
    assert near.read == [True, False]


# --- the module's own calls ---------------------------------------------------------------------


def test_calls_with_literal_arguments_are_found_where_the_script_makes_them(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(
        textwrap.dedent(
            """
            import numpy as np
            SIZES = [2, 8, 1]

            class Net:
                def __init__(self, sizes, lr=0.1, data=None):
                    self.sizes = sizes

            def make(n):
                return Net([n, 4, 1])

            if __name__ == "__main__":
                hidden = 16
                X_train = np.zeros((5, 2))
                a = Net([2, hidden, 1], lr=3 * 0.1)
                b = Net(SIZES, data=X_train)
                c = Net(np.ones(3))
            """
        ),
        encoding="utf-8",
    )
    loaded = load_module(path)
    texts = [c.text for c in survey.literal_calls(loaded, {"Net"})]
    assert texts == ["Net([2, 16, 1], lr=0.30000000000000004)", "Net([2, 8, 1], data=X)"]
    first = survey.literal_calls(loaded, {"Net"})[0]
    assert first.line == 15 and not first.uses_data


# --- numbers behind values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        (lambda n_in, n_out: RNG.normal(0, np.sqrt(2 / n_in), (n_in, n_out)), "he_normal"),
        (lambda n_in, n_out: RNG.normal(0, np.sqrt(1 / n_in), (n_in, n_out)), "lecun_normal"),
        (
            lambda n_in, n_out: RNG.uniform(
                -np.sqrt(6 / (n_in + n_out)), np.sqrt(6 / (n_in + n_out)), (n_in, n_out)
            ),
            "xavier_uniform",
        ),
        (lambda n_in, n_out: RNG.random((n_in, n_out)), {"name": "uniform", "low": 0, "high": 1.0}),
        (lambda n_in, n_out: np.zeros((n_in, n_out)), "zeros"),
        (lambda n_in, n_out: RNG.normal(0, 1, (n_in, n_out)), {"name": "normal", "std": 1.0}),
        (
            lambda n_in, n_out: 0.01 * RNG.normal(size=(n_in, n_out)),
            {"name": "normal", "std": 0.01},
        ),
    ],
)
def test_the_init_scheme_behind_the_values(draw, expected):
    weights = [draw(a, b) for a, b in ((2, 32), (32, 16), (16, 3))]
    assert guess.init_scheme(weights).value == expected


def test_the_loss_behind_a_value():
    out = 1 / (1 + np.exp(-RNG.normal(size=(13, 1))))
    y = RNG.integers(0, 2, (13, 1)).astype(float)
    bce = -np.mean(y * np.log(out) + (1 - y) * np.log(1 - out))
    assert guess.by_value(bce, out, y, "sigmoid")[0] == guess.LossGuess("bce")
    half = 0.5 * np.sum((out - y) ** 2) / 13
    assert guess.by_value(half, out, y, "sigmoid")[0] == guess.LossGuess("mse", "mean", 0.5)
    logits = RNG.normal(size=(13, 3))
    labels = np.eye(3)[RNG.integers(0, 3, 13)]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    cce = -np.sum(labels * np.log(p)) / 13
    assert guess.by_value(cce, logits, labels, "linear")[0] == guess.LossGuess(
        "cce", output="softmax"
    )


@pytest.mark.parametrize(
    ("sizes", "draw", "expected"),
    [
        ((2, 16, 8, 1), lambda r, a, b: r.normal(0, np.sqrt(1 / a), (a, b)), "lecun_normal"),
        (
            (2, 12, 12, 1),
            lambda r, a, b: r.normal(0, np.sqrt(2 / (a + b)), (a, b)),
            "xavier_normal",
        ),
        ((2, 32, 32, 16, 8, 1), lambda r, a, b: r.normal(0, np.sqrt(2 / a), (a, b)), "he_normal"),
        (
            (2, 10, 3),
            lambda r, a, b: r.random((a, b)) - 0.5,
            {"name": "uniform", "low": -0.5, "high": 0.5},
        ),
        ((2, 6, 1), lambda r, a, b: r.random((a, b)), {"name": "uniform", "low": 0, "high": 1.0}),
    ],
)
def test_small_networks_are_read_right_most_of_the_time(sizes, draw, expected):
    """A layer of 8 values says little about its spread: the scheme that fits every layer
    within its own sampling noise is still found in at least 9 draws out of 10."""
    right = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        weights = [draw(rng, a, b) for a, b in itertools.pairwise(sizes)]
        right += guess.init_scheme(weights).value == expected
    assert right >= 45
