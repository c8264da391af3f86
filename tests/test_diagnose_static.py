"""Static and init-statistics rules: each fires on a spec with its problem, at the right layer,
parameter and spec line, and stays silent on every healthy bundled config."""

import numpy as np
import pytest

from nnfix.diagnose.context import Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.spec.load import load_spec

from .conftest import CONFIGS

HEALTHY = ["xor", "moons", "circles", "spirals", "blobs", "bars", "regression"]
CODES = {"D101", "D102", "D103", "D104", "D105", "Y101", "Y103", "Y104", "T101", "T105"}

BASE = """
seed: 0
data: {data}
model:
  init: {init}
  layers:
{layers}
loss: {loss}
train: {train}
"""


def spec_text(
    data="{source: moons, samples: 200}",
    init="he_normal",
    layers=None,
    loss="bce",
    train="{epochs: 20}",
):
    layers = layers or ["{units: 8, activation: tanh}", "{units: 1, activation: sigmoid}"]
    return BASE.format(
        data=data,
        init=init,
        layers="\n".join(f"    - {layer}" for layer in layers),
        loss=loss,
        train=train,
    )


def findings(path, select=()):
    report = diagnose(load_spec(path), Selection(select), Options(quick=True))
    return report.findings


def only(found, code):
    hits = [f for f in found if f.code == code]
    assert hits, f"{code} did not fire: {[f.code for f in found]}"
    return hits


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_configs_are_silent(name):
    found = findings(CONFIGS / f"{name}.yaml")
    assert [f.code for f in found if f.code in CODES and f.severity.value != "info"] == []


def test_d101_non_finite_rows(write_spec, tmp_path):
    x = np.random.default_rng(0).normal(size=(50, 2))
    x[[3, 17], 1] = np.nan
    x[40, 0] = np.inf
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, 0] > 0).astype(int))
    (hit,) = only(findings(write_spec(spec_text(data="{source: npz, path: d.npz}"))), "D101")
    assert hit.evidence["rows"] == [4, 18, 41]
    assert hit.location.spec_path == "data.path" and hit.location.line == 2


def test_d102_pixels_0_255_saturate_the_first_layer():
    found = findings(CONFIGS / "story-uniform-init.yaml")
    (hit,) = only(found, "D102")
    assert hit.evidence["max_abs"] == 255.0
    assert hit.evidence["first_layer_saturated"] > 0.9
    assert hit.fix.path == ("data", "scale") and hit.fix.value == "minmax"


def test_d103_labels_beyond_one_sigmoid_unit(write_spec):
    path = write_spec(spec_text(data="{source: blobs, classes: 4, samples: 200}"))
    (hit,) = only(findings(path), "D103")
    assert "labels 0–3" in hit.message
    assert hit.location.layer == 2 and hit.fix.value == 4


def test_d103_one_hot_width_not_units(write_spec):
    path = write_spec(
        spec_text(
            data="{source: blobs, classes: 5, samples: 200}",
            layers=["{units: 8, activation: relu}", "{units: 3, activation: softmax}"],
            loss="cce",
        )
    )
    (hit,) = only(findings(path), "D103")
    assert "3 units" in hit.message
    assert hit.location.spec_path == "model.layers[1].units" and hit.location.line == 7


@pytest.mark.parametrize(
    ("out", "loss", "units"),
    [("tanh", "bce", 1), ("linear", "bce", 1), ("softmax", "bce", 1), ("sigmoid", "cce", 3)],
)
def test_d104_output_and_loss_that_do_not_fit(write_spec, out, loss, units):
    data = (
        "{source: spirals, classes: 3, samples: 150}"
        if units == 3
        else "{source: moons, samples: 100}"
    )
    path = write_spec(
        spec_text(
            data=data,
            layers=["{units: 8, activation: relu}", f"{{units: {units}, activation: {out}}}"],
            loss=loss,
        )
    )
    (hit,) = only(findings(path, select=["D104"]), "D104")
    assert hit.location.layer == 2 and hit.location.spec_path == "model.layers[1].activation"


def test_d105_a_rare_class(write_spec, tmp_path):
    y = np.zeros(400, int)
    y[:12] = 1  # 3 %
    x = np.random.default_rng(0).normal(size=(400, 2))
    np.savez(tmp_path / "d.npz", x=x, y=y)
    (hit,) = only(findings(write_spec(spec_text(data="{source: npz, path: d.npz}"))), "D105")
    assert hit.evidence["classes"] == [1] and hit.severity.value == "info"


def test_y101_zero_init_story():
    found = findings(CONFIGS / "story-zero-init.yaml")
    (hit,) = only(found, "Y101")
    assert hit.location.layer == 1 and hit.location.parameter == "W1"
    assert hit.location.spec_path == "model.init" and hit.location.line == 15
    assert hit.fix.value == "xavier_normal"  # tanh layer
    assert not [f for f in found if f.code == "Y103"]  # the collapse is Y101's, not reported twice


def test_y101_per_layer_constant_init_points_at_the_layer(write_spec):
    path = write_spec(
        spec_text(
            layers=[
                "{units: 8, activation: relu, init: {name: constant, value: 0.5}}",
                "{units: 1, activation: sigmoid}",
            ]
        )
    )
    (hit,) = only(findings(path), "Y101")
    assert hit.location.spec_path == "model.layers[0].init" and hit.fix.value == "he_normal"


def test_y104_uniform_zero_one():
    found = findings(CONFIGS / "story-uniform-init.yaml")
    hits = only(found, "Y104")
    assert [h.location.layer for h in hits] == [1, 2, 3]
    assert all(h.evidence["min"] >= 0 for h in hits)


def test_t105_lr_one_over_epoch():
    (hit,) = only(findings(CONFIGS / "story-uniform-init.yaml"), "T105")
    assert hit.location.spec_path == "train.schedule"
    assert hit.evidence["lr_at_2pct"] == pytest.approx(0.5)


def test_t105_silent_for_gentle_schedules(write_spec):
    for schedule in [
        "cosine",
        "{name: step, factor: 0.5, every: 10}",
        "{name: exponential, gamma: 0.99}",
    ]:
        path = write_spec(spec_text(train=f"{{epochs: 100, schedule: {schedule}}}"))
        assert "T105" not in [f.code for f in findings(path)], schedule


def test_y103_deep_sigmoid_with_small_init_collapses(write_spec):
    layers = ["{units: 32, activation: tanh}"] * 8 + ["{units: 1, activation: sigmoid}"]
    path = write_spec(spec_text(init="{name: normal, std: 0.05}", layers=layers))
    (hit,) = only(findings(path), "Y103")
    assert hit.location.layer == 8 and "collapses" in hit.message
    assert hit.fix.value == "xavier_normal"


def test_y103_he_on_deep_relu_is_silent(write_spec):
    layers = ["{units: 64, activation: relu}"] * 8 + ["{units: 1, activation: sigmoid}"]
    assert "Y103" not in [
        f.code for f in findings(write_spec(spec_text(init="he_normal", layers=layers)))
    ]


def test_t101_loss_at_init_caused_by_unscaled_inputs():
    (hit,) = only(findings(CONFIGS / "story-uniform-init.yaml"), "T101")
    assert hit.evidence["expected"] == pytest.approx(np.log(2))
    assert "D102" in hit.caused_by


def test_t101_silent_at_ten_ln2_for_the_zero_init_story():
    assert "T101" not in [f.code for f in findings(CONFIGS / "story-zero-init.yaml")]


QUADRATIC_COST = dict(  # Nielsen's book: ten sigmoid outputs and C = ½‖a − y‖²
    data="{source: blobs, classes: 10, features: 4, samples: 400}",
    layers=["{units: 16, activation: sigmoid}", "{units: 10, activation: sigmoid}"],
    loss="{name: mse, scale: 0.5}",
    train="{lr: 1.0, batch_size: 16}",
)


def test_t101_an_untrained_sigmoid_output_sits_at_a_half_not_0(write_spec):
    """Ten sigmoid outputs at 0.5 against one-hot targets cost Σ(0.5 − y)² = 2.5 a sample, not
    the Σ y² = 1 of predicting 0: a correct xavier-initialised net is not "confidently wrong"."""
    path = write_spec(spec_text(init="xavier_normal", **QUADRATIC_COST))
    assert "T101" not in [f.code for f in findings(path)]


def test_t101_says_its_numbers_in_the_specs_own_loss(write_spec):
    """½‖a − y‖² summed over a batch of 16: what an untrained net gives is 0.5 × 16 × 2.5 = 20,
    and the loss at init is said in the same units, as the user's own code prints it."""
    cost = QUADRATIC_COST | {"loss": "{name: mse, scale: 0.5, reduction: sum}"}
    path = write_spec(spec_text(init="{name: normal, std: 8.0}", **cost))
    (hit,) = only(findings(path), "T101")
    assert hit.evidence["expected"] == pytest.approx(0.5 * 16 * 2.5)
    plain = hit.evidence["loss_at_init"] / (0.5 * 16)  # per sample, factor 1
    assert hit.evidence["ratio"] == pytest.approx(plain / 2.5)
    assert "× 0.5 (loss.scale); summed over a batch of 16" in hit.message


def test_select_and_ignore(write_spec):
    path = CONFIGS / "story-uniform-init.yaml"
    by_prefix = {f.code for f in findings(path, select=["Y"])}
    assert "Y104" in by_prefix and all(c.startswith("Y") for c in by_prefix)
    assert {f.code for f in findings(path, select=["one-signed-init"])} == {"Y104"}
    report = diagnose(load_spec(path), Selection((), ["D", "T105"]), Options(quick=True))
    assert not {f.code for f in report.findings} & {"D102", "T105"}
