"""Static and init-statistics rules: each fires on a spec with its problem, at the right layer,
parameter and spec line, and stays silent on every healthy bundled config."""

import numpy as np
import pytest

from nnfix.diagnose.context import Options
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.spec.load import load_spec

from .conftest import CONFIGS

HEALTHY = ["xor", "moons", "circles", "spirals", "blobs", "bars", "regression", "cnn", "char-rnn"]
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


def words(folder, rows=60, empty=(0, 3, 6, 20, 33)):
    """A bag-of-words csv: word-presence features, the label whether any of the first three
    words is there; the rows in `empty` (and any the draw left empty) have no word at all, so
    their label is 0. Returns the file lines of the empty rows."""
    rng = np.random.default_rng(1)
    x = (rng.random((rows, 6)) < 0.3).astype(int)
    x[list(empty)] = 0
    y = (x[:, :3].sum(axis=1) > 0).astype(int)
    text = [
        "f1,f2,f3,f4,f5,f6,y",
        *(",".join(map(str, [*r, t])) for r, t in zip(x, y, strict=True)),
    ]
    (folder / "words.csv").write_text("\n".join(text) + "\n")
    return [int(i) + 2 for i in np.flatnonzero(x.sum(axis=1) == 0)]  # line 1 is the header


BIAS_FREE = """
seed: 0
data: {{source: csv, path: words.csv}}
model:
  init: xavier_normal
  bias: {bias}
  layers:
    - {{units: 8, activation: {hidden}{layer}}}
    - {{units: 1, activation: {out}{layer}}}
loss: {loss}
train: {{epochs: 20}}
"""


def bias_free(hidden="tanh", bias="false", layer="", out="sigmoid", loss="bce"):
    return BIAS_FREE.format(hidden=hidden, bias=bias, layer=layer, out=out, loss=loss)


@pytest.mark.parametrize("hidden", ["tanh", "relu", "leaky_relu", "elu", "swish", "linear"])
def test_d103_a_net_without_biases_cannot_reach_its_all_zero_inputs(write_spec, tmp_path, hidden):
    """No bias: layer 1 maps x = 0 to z = 0·W1 = 0 for every W1, f(0) = 0 passes the zero on,
    and the output is σ(0) = 0.5 whatever the weights: a label 0 there is out of reach."""
    lines = words(tmp_path)
    (hit,) = only(findings(write_spec(bias_free(hidden))), "D103")
    assert hit.evidence["rows"] == lines and hit.evidence["numbered"] == "lines of words.csv"
    assert hit.evidence["fixed_output"] == [0.5] and hit.evidence["targets"] == [0.0]
    assert hit.location.spec_path == "model.bias" and hit.location.line == 5
    assert hit.fix.path == ("model", "bias") and hit.fix.value is True


def test_d103_without_biases_on_every_layer_asks_for_the_output_layers(write_spec, tmp_path):
    words(tmp_path)
    path = write_spec(bias_free(bias="true", layer=", bias: false"))
    (hit,) = only(findings(path), "D103")
    assert hit.fix.path == ("model", "layers", 1, "bias") and hit.fix.value is True


def test_d103_a_softmax_without_biases_gives_every_class_one_in_c(write_spec, tmp_path):
    words(tmp_path)
    path = write_spec(bias_free(out="softmax", loss="cce").replace("units: 1,", "units: 2,"))
    (hit,) = only(findings(path), "D103")
    assert hit.evidence["fixed_output"] == [0.5, 0.5]


@pytest.mark.parametrize(
    ("hidden", "bias", "layer"),
    [
        ("tanh", "true", ""),  # the biases move the output at 0
        ("sigmoid", "false", ""),  # σ(0) = ½ in layer 1, times W2: the weights move it
        ("softplus", "false", ""),  # ln 2 times W2, likewise
    ],
)
def test_d103_silent_where_the_weights_move_the_output_at_zero(
    write_spec, tmp_path, hidden, bias, layer
):
    words(tmp_path)
    path = write_spec(bias_free(hidden, bias, layer))
    assert "D103" not in [f.code for f in findings(path)]


def test_d103_silent_without_biases_where_no_input_is_zero_or_its_target_is_reached(
    write_spec, tmp_path
):
    """moons has no all-zero input; a linear output without biases gives 0 at x = 0, which is
    the target there."""
    no_zero = write_spec(bias_free().replace("{source: csv, path: words.csv}", "{source: moons}"))
    assert "D103" not in [f.code for f in findings(no_zero)]
    x = np.random.default_rng(2).normal(size=(40, 3))
    x[:4] = 0
    np.savez(tmp_path / "r.npz", x=x, y=x @ [1.0, -2.0, 0.5])
    reached = write_spec(
        bias_free(out="linear", loss="mse").replace(
            "{source: csv, path: words.csv}", "{source: npz, path: r.npz}"
        )
    )
    assert "D103" not in [f.code for f in findings(reached)]


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


def _stack(act, depth, units=32):
    return [f"{{units: {units}, activation: {act}}}"] * depth + ["{units: 1, activation: sigmoid}"]


def test_y103_deep_sigmoid_stack_whose_signal_fades_over_the_samples(write_spec):
    """Six sigmoid layers from normal(0, 0.05): z of every layer is ~0.13 in size — each unit's
    offset 0.5·ΣW — while what it varies by over the samples falls ×0.07 a layer, to 1e-7; the
    gradients vanish with it. Xavier keeps ~1e-3 of the signal there (sigmoid's slope is ¼), so
    the init is 400× worse than the one that fits, and Y103 says so at the last layer."""
    path = write_spec(spec_text(init="{name: normal, std: 0.05}", layers=_stack("sigmoid", 6)))
    report = diagnose(load_spec(path), Selection([]), Options(budget=20))
    (hit,) = only(report.findings, "Y103")
    assert "collapses" in hit.message and hit.location.layer == 6
    assert hit.fix.value == "xavier_normal" and hit.location.spec_path == "model.init"
    assert hit.evidence["signal_kept"] < 1e-5 < 1e-4 < hit.evidence["signal_kept_xavier_normal"]
    assert hit.evidence["z_size"]["layer 6"] > 0.1  # the offsets: z looks large, its signal is gone
    (m101,) = only(report.findings, "M101")  # the vanishing gradients are its symptom
    assert m101.caused_by[0] == "Y103"


def test_y103_deep_sigmoid_stack_that_starts_saturated(write_spec):
    """normal(0, 2) on 32-wide sigmoid layers: from layer 2 on most units sit past |z| = 4 for
    most samples (their offsets 0.5·ΣW alone put them there), where Xavier's sit near 0."""
    path = write_spec(spec_text(init="{name: normal, std: 2.0}", layers=_stack("sigmoid", 6)))
    (hit,) = only(findings(path, ["Y103"]), "Y103")
    assert "saturated" in hit.message and hit.location.layer == 2
    assert hit.evidence["saturated_share"]["layer 2"] > 0.5 and hit.fix.value == "xavier_normal"


@pytest.mark.parametrize(
    ("act", "init"),
    [
        ("sigmoid", "xavier_normal"),  # fades by itself (slope ¼): not its init's fault
        ("sigmoid", "xavier_uniform"),
        ("tanh", "xavier_normal"),
        ("relu", "he_normal"),
        ("leaky_relu", "he_uniform"),
        ("elu", "he_normal"),
        ("softplus", "he_normal"),
        ("swish", "he_normal"),
    ],
)
@pytest.mark.parametrize("depth", [2, 6, 10])
def test_y103_silent_on_the_init_that_suits_the_activation(write_spec, act, init, depth):
    path = write_spec(spec_text(init=init, layers=_stack(act, depth)))
    assert "Y103" not in [f.code for f in findings(path, ["Y103"])]


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
