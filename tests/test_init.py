"""`nnfix init --from` on user code of every shape: the spec it writes diagnoses as the
hand-written one does — the same verdict and the same error codes — on every example, every
case of tests/usercode/ and bugs planted in them, a notebook, and code in styles none of
those have (tests/init/: a Keras-like Sequential built by a function, a class keeping one
params dict, a script over a module-level dict)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from nnfix.diagnose.run import run as diagnose
from nnfix.init.command import run as init

from .conftest import sampled
from .test_usercode_cases import BUGS, plant

ROOT = Path(__file__).resolve().parents[1]
USERCODE = ROOT / "tests" / "usercode"
OWN = ROOT / "tests" / "init"

# --layers only where the module alone does not fix the layer sizes: no init function or
# constructor it calls with literal arguments or defaults (its sizes are an argument, or
# the code takes any widths)
LAYERS = {
    "examples/columns": "16,8,1",  # L_model_forward reads whatever params it is given
    "examples/columns-buggy": "16,8,1",
    "examples/rows": "8,8,1",
    "examples/rows-buggy": "8,8,1",
    "examples/class": "8,8,1",  # MLP(sizes), never called in the module
    "examples/class-buggy": "8,8,1",
    "examples/layers": "32,3",  # Dense(n_in, n_out), never chained in the module
    "examples/layers-buggy": "32,3",
    "cs231n-fc-net-class": "20,20,3",  # FullyConnectedNet(hidden_dims, ...)
    "cs231n-two-layer-functions": "24,3",  # init_two_layer_model(input, hidden, output)
    "dlai-deep-columns": "20,7,5,1",  # initialize_parameters_deep(layer_dims)
    "mlp-layer-list": "24,24,4",  # MLP(sizes)
    "nielsen-network": "12,10,3",  # Network(sizes)
    "per-sample-vector": "16,16,3",  # init_network(sizes)
    "planar-class-half-mse": "6,1",  # ShallowNN(n_x, n_h, n_y)
}


def _module(spec: Path) -> Path:
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    return spec.parent / data["implementation"]["module"]


FOLDERS = sorted((ROOT / "examples").glob("*/spec.yaml")) + sorted(USERCODE.glob("*/spec.yaml"))
CASES = [
    pytest.param(
        spec,
        LAYERS.get(
            f"examples/{spec.parent.name}" if "examples" in spec.parts else spec.parent.name
        ),
        id=spec.parent.name,
    )
    for spec in FOLDERS
]


def verdict(spec: Path, quick: bool = True, budget: float | None = None) -> tuple[str, set[str]]:
    """("pass" | "fail" | "error", the codes of the findings at error level)."""
    flags = {"budget": budget} if budget else {}
    outcome = diagnose([spec], flags, (), quick=quick)
    if outcome.errors:
        return "error", set()
    codes = {f.code for s in outcome.report.specs for f in s.findings if f.severity == "error"}
    return ("fail" if outcome.report.failed else "pass"), codes


def written(tmp_path: Path, module: Path, layers: str | None = None, **options) -> Path:
    out = tmp_path / f"{module.parent.name}-{module.stem}.yaml"
    outcome = init(out, module=module, layers=layers, **options)
    assert outcome.exit_code == 0, (outcome.inference.undecided, outcome.problems)
    return out


@pytest.mark.parametrize(("spec", "layers"), sampled(CASES, every=3))
def test_the_written_spec_diagnoses_as_the_hand_written_one(spec, layers, tmp_path):
    mine = written(tmp_path, _module(spec), layers)
    assert verdict(mine) == verdict(spec)


# one planted bug per shape and per code the manifests expect, through init: the bug is in
# their code, and init must not explain it away (a loss, a layout or a per-sample reading
# that would make a wrong gradient look right)
PLANTED = {
    ("dlai-deep-columns", "db-not-summed"),  # functions, columns, G103
    ("rows-lowercase-keys", "w2-not-transposed"),  # functions, a backward that raises: U101
    ("kaggle-notebook", "softmax-normalised-over-batch"),  # notebook, a wrong forward (U102)
    ("nielsen-network", "sigmoid-prime-given-activation"),  # per-sample object, G101
    ("blog-in-place-update", "weights2-minus-equals"),  # in-place update with a bug
    ("rashid-per-sample-train", "who-update-with-inputs"),  # per-sample in-place, U101
    ("nnfs-layer-objects", "dbiases-not-summed"),  # layer objects, G103
    ("deep-elu-float32", "loop-skips-output-layer"),  # float32 object, U101
    ("per-sample-vector", "outer-product-reversed"),  # per-sample vectors, G101 and G103
}
BUG_CASES = [
    pytest.param(case, bug, id=f"{case}/{bug['id']}")
    for case, bug in BUGS
    if (case, bug["id"]) in PLANTED
]


@pytest.mark.parametrize(("case", "bug"), sampled(BUG_CASES, every=3))
def test_a_planted_bug_is_found_through_the_written_spec(case, bug, tmp_path):
    work = shutil.copytree(USERCODE / case, tmp_path / case)
    manifest = yaml.safe_load((work / "case.yaml").read_text(encoding="utf-8"))
    plant(work / manifest["file"], bug["find"], bug["replace"])
    out = work / "init.yaml"
    init(out, module=_module(work / "spec.yaml"), layers=LAYERS.get(case))
    hand = verdict(work / "spec.yaml")
    assert hand[0] == "fail"
    assert verdict(out) == hand


@pytest.mark.parametrize(
    ("folder", "layers"),
    sampled(
        [
            ("examples/class", "8,8,1"),
            ("examples/layers", "32,3"),
            ("tests/usercode/nielsen-network", "12,10,3"),
        ],
        every=3,
    ),
)
def test_the_probes_agree_too(folder, layers, tmp_path):
    """With the training probes (a few shapes; every case passes so, see the README)."""
    spec = ROOT / folder / "spec.yaml"
    mine = written(tmp_path, _module(spec), layers)
    assert verdict(mine, quick=False, budget=3)[0] == verdict(spec, quick=False, budget=3)[0]


# --- what init writes, key by key --------------------------------------------------------------


def keys(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_a_deeplearning_ai_module_gives_its_own_network(tmp_path):
    case = USERCODE / "dlai-deep-columns"
    spec = keys(written(tmp_path, case / "deep_nn.py", "20,7,5,1"))
    layers = spec["model"]["layers"]
    assert [(l["units"], l["activation"]) for l in layers] == [
        (20, "relu"),
        (7, "relu"),
        (5, "relu"),
        (1, "sigmoid"),
    ]
    assert spec["loss"] == "bce"
    impl = spec.pop("implementation")
    assert (tmp_path / impl.pop("module")).resolve() == (case / "deep_nn.py").resolve()
    assert impl == {
        "forward": "L_model_forward",
        "backward": "L_model_backward",
        "loss": "compute_cost",
    }
    assert spec["model"]["init"] == "lecun_normal"  # randn / sqrt(n_prev), as the course does


def test_conventions_are_read_off_the_values(tmp_path):
    """Nielsen: one sample at a time and ½·squared error; a blog: an in-place step of the summed
    squared error, no biases; cs231n: a forward that returns scores before the softmax."""
    nielsen = keys(written(tmp_path, USERCODE / "nielsen-network" / "network.py", "12,10,3"))
    assert nielsen["implementation"]["per_sample"] == "column"
    assert nielsen["loss"] == {"name": "mse", "scale": 0.5}
    assert nielsen["model"]["init"] == {"name": "normal", "std": 1.0}  # np.random.randn
    blog = keys(written(tmp_path, USERCODE / "blog-in-place-update" / "neural_network.py"))
    assert blog["implementation"]["model"] == "NeuralNetwork(X, Y)"
    assert blog["implementation"]["update_lr"] == 1.0
    assert blog["loss"] == {"name": "mse", "reduction": "sum"}
    assert blog["model"]["bias"] is False
    assert blog["model"]["init"] == {"name": "uniform", "low": 0, "high": 1.0}  # np.random.rand
    fc = keys(written(tmp_path, USERCODE / "cs231n-fc-net-class" / "fc_net.py", "20,20,3"))
    assert (
        fc["implementation"]["model"] == "FullyConnectedNet([20, 20], input_dim=2, num_classes=3)"
    )
    assert "forward" not in fc["implementation"]  # loss(X) gives scores: the spec's net is it
    assert fc["model"]["layers"][-1]["activation"] == "softmax" and fc["loss"] == "cce"
    rashid = keys(written(tmp_path, USERCODE / "rashid-per-sample-train" / "make_your_own_nn.py"))
    assert rashid["implementation"]["arguments"] == {"inputs_list": "X", "targets_list": "Y"}
    assert rashid["implementation"]["update_lr"] == 0.3  # the rate its script gives
    assert rashid["loss"] == {"name": "mse", "scale": 0.5}


def test_slopes_and_missing_biases(tmp_path):
    attrs = keys(written(tmp_path, USERCODE / "attrs-forward-backward" / "neural_net.py"))
    assert attrs["model"]["layers"][0]["activation"] == {"name": "leaky_relu", "alpha": 0.1}
    middle = keys(written(tmp_path, USERCODE / "bias-free-middle" / "net.py"))
    assert [l.get("bias", True) for l in middle["model"]["layers"]] == [True, False, True]


def test_every_inferred_key_says_how(tmp_path):
    text = written(tmp_path, USERCODE / "mlp-layer-list" / "mlp.py", "24,24,4").read_text()
    lines = text.splitlines()
    assert lines[0] == "# yaml-language-server: $schema=nnfix-schema.json"
    for key in ("model:", "forward:", "backward:", "loss:", "init:"):
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(key))
        above = lines[index - 1].strip()
        assert above.startswith("#") or "#" in lines[index], key  # a comment above or beside
    assert "found by running your code" in text


# --- a notebook, and styles of our own --------------------------------------------------------------


def test_a_notebook(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    source = (OWN / "params_class.py").read_text(encoding="utf-8")
    body, script = source.split('if __name__ == "__main__":')
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# A two-layer net"),
        nbformat.v4.new_code_cell("%matplotlib inline\nimport numpy as np"),
        nbformat.v4.new_code_cell(body),
        nbformat.v4.new_code_cell("\n".join(line[4:] for line in script.splitlines())),
    ]
    path = tmp_path / "net.ipynb"
    nbformat.write(notebook, path)
    spec = written(tmp_path, path)
    assert keys(spec)["implementation"]["model"] == "TwoLayerNet(4, 10, 3)"  # from the last cell
    assert verdict(spec) == ("pass", set())


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (
            "keras_like.py",
            {"model": "build_model()", "forward": "predict", "backward": "backward"},
        ),
        (
            "params_class.py",
            {
                "model": "TwoLayerNet(4, 10, 3)",
                "forward": "forward",
                "backward": "backward",
                "loss": "compute_loss",
            },
        ),
        (
            "script_style.py",
            {"forward": "forward", "backward": "backward"},
        ),
    ],
)
def test_styles_of_our_own(module, expected, tmp_path):
    spec = written(tmp_path, OWN / module)
    impl = keys(spec)["implementation"]
    assert {k: v for k, v in impl.items() if k in expected} == expected
    assert verdict(spec) == ("pass", set())


def test_our_styles_with_a_bug_fail(tmp_path):
    """The same styles with a bug: the written spec catches it (G101) rather than absorbing it."""
    work = tmp_path / "keras_like.py"
    text = (OWN / "keras_like.py").read_text(encoding="utf-8")
    work.write_text(
        text.replace(
            '"tanh": (np.tanh, lambda z, a: 1.0 - a**2)',
            '"tanh": (np.tanh, lambda z, a: 1.0 - z**2)',
        )
    )
    assert verdict(written(tmp_path, work)) == ("fail", {"G101"})
    script = tmp_path / "script_style.py"
    text = (OWN / "script_style.py").read_text(encoding="utf-8")
    script.write_text(text.replace('"b2": d_out.sum(axis=0, keepdims=True)', '"b2": d_out'))
    assert verdict(written(tmp_path, script)) == ("fail", {"G103"})
