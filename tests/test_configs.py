"""The bundled configs: healthy ones learn with their defaults, the failure stories do not."""

import numpy as np
import pytest

from nnfix.run.training import train
from nnfix.spec.load import load_spec

from .conftest import CONFIGS

HEALTHY = ["xor", "moons", "circles", "spirals", "blobs", "bars", "cnn"]
STORIES = ["story-derivatives", "story-zero-init", "story-uniform-init"]


def test_every_config_is_covered():
    assert {p.stem for p in CONFIGS.glob("*.yaml")} == {
        *HEALTHY,
        *STORIES,
        "regression",
        "char-rnn",
    }


def test_char_rnn_reaches_the_accuracy_its_comment_states(tmp_path):
    """Next-character accuracy: 63 % on the training windows and 42 % on the held-out ones,
    where always guessing the commonest character gets 19 %."""
    result = train(load_spec(CONFIGS / "char-rnn.yaml"), out=tmp_path / "run")
    summary, labels = result.summary, result.prepared.data.y_train
    commonest = np.bincount(labels).max() / len(labels)
    assert commonest < 0.21
    assert summary["train"]["accuracy"] >= 0.62
    assert summary["validation"]["accuracy"] >= 0.41
    assert summary["loss_curve"][-1] < summary["loss_curve"][0] / 2


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_config_reaches_95_percent(name, tmp_path):
    result = train(load_spec(CONFIGS / f"{name}.yaml"), out=tmp_path / "run")
    summary = result.summary
    assert summary["train"]["accuracy"] >= 0.95
    if summary["validation"]:
        assert summary["validation"]["accuracy"] >= 0.95
    assert summary["loss_curve"][-1] < summary["loss_curve"][0]


def test_regression_explains_95_percent_of_the_variance(tmp_path):
    result = train(load_spec(CONFIGS / "regression.yaml"), out=tmp_path / "run")
    p = result.prepared
    for x, y in [(p.data.x_train, p.y_train), (p.data.x_val, p.y_val)]:
        mse = float(np.mean((p.network.predict(x) - y) ** 2))
        assert 1 - mse / float(np.var(y)) >= 0.95


@pytest.mark.parametrize("name", STORIES)
def test_failure_story_stays_near_chance(name, tmp_path):
    result = train(load_spec(CONFIGS / f"{name}.yaml"), out=tmp_path / "run")
    p = result.prepared
    labels = p.data.y_train
    prior = np.bincount(labels).max() / len(labels)  # what always guessing the majority gets
    assert result.summary["train"]["accuracy"] <= prior + 0.1


def test_zero_init_story_converges_to_the_label_prior_entropy(tmp_path):
    result = train(load_spec(CONFIGS / "story-zero-init.yaml"), out=tmp_path / "run")
    y = result.prepared.y_train
    p = y.mean(axis=0)
    prior_entropy = float(-np.sum(p * np.log(p) + (1 - p) * np.log(1 - p)))
    assert prior_entropy == pytest.approx(3.25, abs=0.01)
    assert result.summary["train"]["loss"] == pytest.approx(prior_entropy, abs=0.01)
