"""Loading the user's .py files and notebooks without running their top-level scripts."""

from __future__ import annotations

import json
import pickle
import shutil
import sys
import textwrap
import traceback
import types
from pathlib import Path

import numpy as np
import pytest

from nnfix.usercode import absent, loader
from nnfix.usercode.loader import LoadError, Place, is_users, load_module, place_of, user_traceback

FIXTURES = Path(__file__).parent / "usercode"  # the user-code cases: their code is what is loaded
NNFIX_DIR = str(Path(loader.__file__).resolve().parents[1])
MISSING = "nnfix_test_not_installed"  # a package no environment has


@pytest.fixture(autouse=True)
def _restore_import_state():
    """Each test leaves sys.path and the user modules in sys.modules as it found them."""
    path = list(sys.path)
    modules = set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if name.startswith(loader.MODULE_PREFIX) or is_users(file):
            del sys.modules[name]


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def copy_case(name: str, tmp_path: Path) -> Path:
    return shutil.copytree(FIXTURES / name, tmp_path / name)


def notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """Write a notebook of (cell_type, source) cells."""
    nbformat = pytest.importorskip("nbformat")
    new = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}
    sources = [(kind, textwrap.dedent(src).lstrip("\n")) for kind, src in cells]
    nb = nbformat.v4.new_notebook(cells=[new[kind](src) for kind, src in sources])
    nbformat.write(nb, str(path))
    return path


def raised(fn, *args) -> BaseException:
    with pytest.raises(BaseException) as info:
        fn(*args)
    return info.value


# A script: what runs and what is skipped


def test_script_that_trains_at_import_loads_without_training(tmp_path, capsys):
    path = copy_case("script-globals", tmp_path) / "train_net.py"
    loaded = load_module(path)
    ns = vars(loaded.module)
    assert ns["param"] == {} and ns["grad"] == {} and ns["cache"] == {}  # init_params() not run
    assert "X" not in ns and "predictions" not in ns
    assert capsys.readouterr().out == ""  # the prints at the bottom did not run
    assert ns["layer_dims"] == [2, 8, 8, 8, 1] and ns["L"] == 4 and ns["learning_rate"] == 0.5
    assert callable(ns["forward"]) and callable(ns["backward"])
    assert [(s.place.line, s.code) for s in loaded.skipped] == [
        (8, "np.random.seed(1)"),
        (77, "X, Y = make_moons(400)"),
        (78, "init_params()"),
        (80, "for i in range(num_iterations + 1):"),
        (90, "predictions = forward(X) > 0.5"),
        (91, 'print("train accuracy:", np.mean(predictions == Y))'),
    ]
    assert loaded.skipped[0] == loader.Skipped(
        Place(path.resolve(), 8, None, 1), "np.random.seed(1)", "a top-level statement (a call)"
    )
    assert loaded.skipped[3].why == "a top-level statement (a loop)"
    assert loaded.missing == []


def test_the_loaded_functions_work_on_the_kept_globals(tmp_path):
    ns = vars(load_module(copy_case("script-globals", tmp_path) / "train_net.py").module)
    ns["init_params"]()
    out = ns["forward"](np.zeros((2, 5)))
    assert out.shape == (1, 5)
    assert sorted(ns["param"]) == ["W1", "W2", "W3", "W4", "b1", "b2", "b3", "b4"]


def test_side_effects_at_import_do_not_happen(tmp_path):
    out = tmp_path / "written.txt"
    path = write(
        tmp_path / "side.py",
        f"""
        import numpy as np
        counter = 0
        open({str(out)!r}, "w").write("trained")
        with open({str(out)!r}, "w") as f:
            f.write("x")
        counter += 1
        weights = np.random.randn(3, 3)
        if __name__ == "__main__":
            counter = 100
        """,
    )
    loaded = load_module(path)
    assert not out.exists()
    assert loaded.module.counter == 0 and not hasattr(loaded.module, "weights")
    assert [s.why for s in loaded.skipped] == [
        "a top-level statement (a call)",
        "a top-level statement (a with block)",
        "a top-level statement (an augmented assignment)",
        "a top-level statement (an assignment from a call)",
        'the `if __name__ == "__main__":` block',
    ]


def test_simple_assignments_lambdas_and_attribute_references_are_kept(tmp_path):
    path = write(
        tmp_path / "simple.py",
        '''
        """My network."""
        import numpy as np
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from collections.abc import Callable

        try:
            import nnfix_test_not_installed as fast
        except ImportError:
            fast = None

        LR = 1e-3
        EPS = -1.5
        SIZES = (2, [3, 4], {"a": None, "b": True}, {1, 2})
        HALF = 1 / 2
        relu = np.maximum
        relu_prime = lambda z: (z > 0).astype(float)
        ACTIVATIONS = {"relu": relu, "tanh": np.tanh}
        alias = LR
        n: int = 3
        m: "np.ndarray"
        a, (b, *c) = 1, (2, 3, 4)


        def f(x):
            return relu(x, 0)


        class Net:
            size = 3
        ''',
    )
    loaded = load_module(path)
    m = loaded.module
    assert loaded.skipped == []
    assert m.__doc__ == "My network."
    assert m.fast is None and m.LR == 1e-3 and m.EPS == -1.5 and m.HALF == 0.5
    sizes = m.SIZES
    assert sizes == (2, [3, 4], {"a": None, "b": True}, {1, 2})
    assert m.relu is np.maximum and m.ACTIVATIONS["tanh"] is np.tanh and m.alias == 1e-3
    assert m.relu_prime(np.array([-1.0, 2.0])).tolist() == [0.0, 1.0]
    assert (m.n, m.a, m.b, m.c) == (3, 1, 2, [3, 4]) and m.__annotations__["m"] == "np.ndarray"
    assert m.f(np.array([-1.0])).tolist() == [0.0] and m.Net.size == 3


def test_assignments_that_compute_or_use_skipped_names_are_skipped(tmp_path):
    path = write(
        tmp_path / "computed.py",
        """
        import numpy as np
        config = {}
        X = np.ones((2, 3))
        X_norm = X / 2
        shape = X.shape
        config["lr"] = 0.1
        np.seterr_setting = 1
        labels = [y for y in range(3)]
        """,
    )
    loaded = load_module(path)
    assert [(s.place.line, s.why) for s in loaded.skipped] == [
        (3, "a top-level statement (an assignment from a call)"),
        (4, "a top-level statement (uses 'X', which a skipped statement sets)"),
        (5, "a top-level statement (uses 'X', which a skipped statement sets)"),
        (6, "a top-level statement (an assignment to an attribute or item)"),
        (7, "a top-level statement (an assignment to an attribute or item)"),
        (8, "a top-level statement (an assignment from a call)"),
    ]
    assert loaded.module.config == {} and not hasattr(np, "seterr_setting")


def test_run_module_runs_everything_but_the_main_block(tmp_path, capsys):
    out = tmp_path / "written.txt"
    path = write(
        tmp_path / "script.py",
        f"""
        import numpy as np
        trained = False
        weights = np.ones(3)
        trained = True
        print("training")
        open({str(out)!r}, "w").write("done")
        if __name__ == "__main__":
            as_main = True
        """,
    )
    loaded = load_module(path, run_module=True)
    assert loaded.module.trained is True and loaded.module.weights.tolist() == [1, 1, 1]
    assert out.read_text() == "done" and capsys.readouterr().out == "training\n"
    assert loaded.skipped == [] and not hasattr(loaded.module, "as_main")


def test_loading_twice_gives_a_fresh_module(tmp_path):
    path = write(tmp_path / "net.py", "state = {}\n")
    first, second = load_module(path), load_module(path)
    first.module.state["W1"] = 1
    assert first.module is not second.module and second.module.state == {}
    assert sys.modules[first.module.__name__] is first.module
    assert first.module.__name__ != second.module.__name__


def test_dataclasses_and_pickling_work_in_the_loaded_module(tmp_path):
    path = write(
        tmp_path / "layers.py",
        """
        from dataclasses import dataclass

        @dataclass
        class Dense:
            n_in: int
            n_out: int = 1
        """,
    )
    module = load_module(path).module
    layer = module.Dense(2, 3)
    assert pickle.loads(pickle.dumps(layer)) == layer


def test_future_annotations_apply_to_later_statements(tmp_path):
    path = write(
        tmp_path / "typed.py",
        """
        from __future__ import annotations

        def forward(x: Undefined) -> Undefined:
            return x
        """,
    )
    assert load_module(path).module.forward.__annotations__["x"] == "Undefined"


def test_nnfix_future_flags_do_not_leak_into_the_users_code(tmp_path):
    path = write(tmp_path / "untyped.py", "def forward(x: Undefined):\n    return x\n")
    error = raised(load_module, path)
    assert isinstance(error, LoadError) and "NameError" in error.message


# Notebooks


def kaggle_like(path: Path) -> Path:
    return notebook(
        path,
        [
            ("markdown", "# A net from scratch"),  # cell 0
            ("code", "!pip install numpy --quiet"),  # 1
            ("code", "%matplotlib inline\nimport numpy as np\nimport json"),  # 2
            ("code", "%%bash\necho hi > out.txt\nls"),  # 3
            (  # 4
                "code",
                """
                %%time
                def relu(z):
                    return np.maximum(z, 0)


                def forward(params, X):
                    if X.ndim != 2:
                        raise ValueError("X must be 2-D")
                    return relu(params["W1"] @ X)
                """,
            ),
            ("markdown", "## Training"),  # 5
            ("code", "history = []\nfor i in range(3):\n    history.append(i)\nLR = 0.1"),  # 6
        ],
    )


def test_notebook_loads_its_definitions_and_skips_magics_and_training(tmp_path):
    path = kaggle_like(tmp_path / "net.ipynb")
    loaded = load_module(path)
    m = loaded.module
    assert m.forward({"W1": np.eye(2)}, np.array([[-1.0], [2.0]])).ravel().tolist() == [0.0, 2.0]
    assert m.history == [] and m.LR == 0.1  # the loop did not run; the assignments did
    assert not (tmp_path / "out.txt").exists()
    assert [(s.place.cell, s.place.line, s.code, s.why) for s in loaded.skipped] == [
        (1, 1, "!pip install numpy --quiet", "a shell or magic line"),
        (2, 1, "%matplotlib inline", "a shell or magic line"),
        (3, 1, "%%bash", "a %%bash cell (not Python)"),
        (4, 1, "%%time", "a shell or magic line"),
        (6, 2, "for i in range(3):", "a top-level statement (a loop)"),
    ]
    assert all(s.place.file == path.resolve() for s in loaded.skipped)


def test_a_percent_line_inside_brackets_is_python_not_a_magic(tmp_path):
    path = notebook(
        tmp_path / "fmt.ipynb",
        [("code", "message = ('%d steps'\n   % 3)\ndef f():\n    %ls\n    return 1\n")],
    )
    loaded = load_module(path)
    assert loaded.module.message == "3 steps" and loaded.module.f() == 1
    assert [(s.place.line, s.code) for s in loaded.skipped] == [(4, "%ls")]


def test_cells_selects_code_cells(tmp_path):
    path = kaggle_like(tmp_path / "net.ipynb")
    m = load_module(path, cells=[2, 4]).module
    assert callable(m.forward) and not hasattr(m, "LR")
    assert "not installed" not in repr(m.np)
    for bad, words in [([0], "is a markdown cell"), ([99], "has no cell 99"), ([-1], "no cell -1")]:
        with pytest.raises(LoadError, match=words):
            load_module(path, cells=bad)


def test_place_of_maps_a_notebook_frame_to_its_cell_and_line(tmp_path):
    path = kaggle_like(tmp_path / "net.ipynb")
    m = load_module(path).module
    error = raised(m.forward, {"W1": np.eye(2)}, np.zeros(2))
    assert isinstance(error, ValueError)
    frame = traceback.extract_tb(error.__traceback__)[-1]
    assert place_of(frame.filename, frame.lineno) == Place(path.resolve(), 8, 4)
    assert frame.line == 'raise ValueError("X must be 2-D")'  # the cell's text is in linecache
    trace = user_traceback(error)
    assert f'File "{path.resolve()}", cell 4, line 8, in forward' in trace
    assert NNFIX_DIR not in trace and "test_loader" not in trace


def test_the_kaggle_notebook_fixture(tmp_path):
    path = copy_case("kaggle-notebook", tmp_path) / "net.ipynb"
    loaded = load_module(path)
    m = loaded.module
    assert {m.package for m in loaded.missing} <= {"matplotlib"}  # a placeholder where missing
    assert not hasattr(m, "X_train") and not hasattr(m, "params")  # data and training skipped
    params = m.init_params()
    X, Y = np.random.default_rng(0).normal(size=(2, 5)), np.array([0, 1, 2, 0, 1])
    A2, cache = m.forward_prop(params, X)
    assert A2.shape == (3, 5) and set(m.backward_prop(params, cache, X, Y)) == {
        "dW1",
        "db1",
        "dW2",
        "db2",
    }
    first = {(s.place.cell, s.place.line): s.code for s in loaded.skipped}
    assert first[(1, 1)].startswith("!pip") and first[(2, 1)] == "%matplotlib inline"
    assert first[(11, 1)].startswith("params, history = gradient_descent(")


def test_a_syntax_error_in_a_cell_reports_the_cell_and_line(tmp_path):
    path = notebook(
        tmp_path / "bad.ipynb",
        [("markdown", "# x"), ("code", "x = 1"), ("code", "def f(x):\n    return x +\n")],
    )
    with pytest.raises(LoadError) as info:
        load_module(path)
    error = info.value
    assert error.place is not None
    assert (error.place.file, error.place.cell, error.place.line) == (path.resolve(), 2, 2)
    assert error.place.col is not None
    assert error.message.startswith("bad.ipynb, cell 2, line 2: syntax error")


def test_a_syntax_error_in_a_script_reports_line_and_column(tmp_path):
    path = write(tmp_path / "bad.py", "x = 1\ny = (2,\n")
    error = raised(load_module, path)
    assert isinstance(error, LoadError) and error.place is not None
    assert (error.place.line, error.place.cell) == (2, None) and error.place.col == 5


@pytest.mark.parametrize(
    "text",
    ['{"cells": [1, 2', "[1, 2]", '{"cells": [], "nbformat": 4}', '{"nbformat": 9}', "no json"],
)
def test_a_file_that_is_not_a_notebook_is_a_one_line_error(tmp_path, text):
    pytest.importorskip("nbformat")
    path = tmp_path / "net.ipynb"
    path.write_text(text)
    error = raised(load_module, path)
    assert isinstance(error, LoadError) and "net.ipynb is not a" in error.message
    assert "\n" not in error.message and "Traceback" not in error.message
    assert len(error.message) < 300


def test_a_notebook_without_nbformat_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "net.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    monkeypatch.setitem(sys.modules, "nbformat", None)  # import nbformat raises ImportError
    with pytest.raises(LoadError, match="pip install nbformat"):
        load_module(path)


# Packages that are not installed


def test_a_missing_package_is_a_placeholder_until_the_code_uses_it(tmp_path):
    path = write(
        tmp_path / "net.py",
        f"""
        import numpy as np
        import {MISSING}.pyplot as plt
        from {MISSING} import thing, other as renamed

        def plot(x):
            return plt.plot(x)

        def use():
            return renamed(1)
        """,
    )
    loaded = load_module(path)
    assert [(m.package, m.module, m.place) for m in loaded.missing] == [
        (MISSING, MISSING, Place(path.resolve(), 2))
    ]
    assert loaded.skipped == []  # the imports ran: their names are placeholders
    error = raised(loaded.module.plot, [1, 2])
    assert isinstance(error, ModuleNotFoundError)
    assert str(error) == (
        f"{MISSING} is not installed (pip install {MISSING}); your code uses "
        f"{MISSING}.pyplot.plot here"
    )
    assert absent.used_package(f"forward raised ModuleNotFoundError: {error}") == MISSING
    places = [place_of(f.filename, f.lineno) for f in traceback.extract_tb(error.__traceback__)]
    assert [p for p in places if p is not None] == [Place(path.resolve(), 6)]
    assert NNFIX_DIR not in user_traceback(error)
    assert isinstance(raised(loaded.module.use), ModuleNotFoundError)
    assert MISSING not in sys.modules  # the placeholders leave sys.modules after the load


def test_using_a_placeholder_in_any_way_raises_naming_the_package(tmp_path):
    path = write(tmp_path / "net.py", f"import {MISSING} as sp\nvalue = sp.special\n")
    value = load_module(path).module.value
    for use in [
        lambda: value(1),
        lambda: value + 1,
        lambda: 2 * value,
        lambda: list(value),
        lambda: value[0],
        lambda: np.dot(np.ones(2), value),
        lambda: float(value),
    ]:
        error = raised(use)
        assert isinstance(error, ModuleNotFoundError) and f"pip install {MISSING}" in str(error)
    assert not isinstance(np.ones(2), value)  # nothing is an instance of a missing class
    assert "not installed" in repr(value)


def test_an_alias_of_a_missing_package_stays_missing(tmp_path):
    path = write(
        tmp_path / "net.py",
        f"import {MISSING}.functional as F\nrelu = F.relu\nact = lambda z: F.relu(z)\n",
    )
    loaded = load_module(path)
    assert [m.package for m in loaded.missing] == [MISSING]
    assert loaded.skipped == []
    assert f"pip install {MISSING}" in str(raised(loaded.module.relu, 1))
    assert f"pip install {MISSING}" in str(raised(loaded.module.act, 1))


def test_the_install_name_of_a_package_is_used(tmp_path, monkeypatch):
    monkeypatch.setitem(absent.PIP_NAMES, MISSING, "nnfix-test-package")
    path = write(tmp_path / "net.py", f"from {MISSING}.datasets import make_moons\n")
    loaded = load_module(path)
    assert [(m.package, m.module) for m in loaded.missing] == [("nnfix-test-package", MISSING)]
    assert "pip install nnfix-test-package" in str(raised(loaded.module.make_moons))


def test_a_class_on_a_missing_base_loads_and_fails_only_when_made(tmp_path):
    path = write(
        tmp_path / "net.py",
        f"""
        import numpy as np
        import {MISSING} as torch
        import {MISSING}.nn as nn

        class Net(torch.nn.Module):
            loss = nn.MSELoss()

            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 1)

        @torch.no_grad()
        def predict(x):
            return x * 2

        @torch.jit.script
        def double(x):
            return x + x

        def forward(W, X):
            return np.tanh(X @ W)
        """,
    )
    loaded = load_module(path)
    m = loaded.module
    assert [(r.package, r.place.line) for r in loaded.missing] == [(MISSING, 2)]
    assert m.predict(1.5) == 3.0 and m.double(2) == 4  # decorators leave the function as it is
    assert m.forward(np.eye(2), np.ones((1, 2))).shape == (1, 2)
    error = raised(m.Net)
    assert isinstance(error, ModuleNotFoundError) and f"pip install {MISSING}" in str(error)
    places = [place_of(f.filename, f.lineno) for f in traceback.extract_tb(error.__traceback__)]
    assert [p for p in places if p is not None] == [Place(path.resolve(), 9)]  # super().__init__()


def test_a_sibling_that_needs_a_missing_package_loads(tmp_path):
    write(
        tmp_path / "helpers.py",
        f"import numpy as np\nimport {MISSING}.datasets\nimport {MISSING}.linear_model\n"
        f"from {MISSING}.special import expit\n\n"
        "def load_data():\n"
        f"    return {MISSING}.datasets.make_moons(10)\n\n"
        "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n",
    )
    path = write(tmp_path / "net.py", "from helpers import load_data, sigmoid, expit\n")
    loaded = load_module(path)
    assert [(m.package, m.place) for m in loaded.missing] == [
        (MISSING, Place((tmp_path / "helpers.py").resolve(), 2))
    ]
    assert loaded.module.sigmoid(0.0) == 0.5
    error = raised(loaded.module.load_data)
    assert isinstance(error, ModuleNotFoundError)
    places = [place_of(f.filename, f.lineno) for f in traceback.extract_tb(error.__traceback__)]
    assert [p for p in places if p is not None] == [Place((tmp_path / "helpers.py").resolve(), 7)]


def test_a_notebook_that_imports_a_missing_package_loads_and_says_which_cell(tmp_path):
    path = notebook(
        tmp_path / "net.ipynb",
        [
            ("markdown", "# Planar data"),  # cell 0
            ("code", f"%matplotlib inline\nimport numpy as np\nimport {MISSING}.pyplot as plt"),
            (
                "code",
                f"""
                from {MISSING}.datasets import make_moons
                plt.style.use("ggplot")

                def layer(W, x):
                    return np.tanh(W @ x)

                def show(x):
                    plt.scatter(x[0], x[1])
                """,
            ),
        ],
    )
    loaded = load_module(path)
    assert [(m.package, m.place) for m in loaded.missing] == [
        (MISSING, Place(path.resolve(), 3, 1))
    ]
    assert loaded.module.layer(np.eye(2), np.zeros(2)).tolist() == [0.0, 0.0]
    error = raised(loaded.module.show, np.zeros((2, 3)))
    assert isinstance(error, ModuleNotFoundError)
    assert place_of(*_deepest_user_frame(error)) == Place(path.resolve(), 8, 2)


def _deepest_user_frame(error: BaseException) -> tuple[str, int]:
    frames = traceback.extract_tb(error.__traceback__)
    frame = next(f for f in reversed(frames) if place_of(f.filename, f.lineno or 0))
    return frame.filename, frame.lineno or 0


def test_an_import_the_code_guards_itself_is_left_to_it(tmp_path):
    path = write(
        tmp_path / "net.py",
        f"""
        try:
            import {MISSING} as xp
        except ImportError:
            import numpy as xp
        """,
    )
    loaded = load_module(path)
    assert loaded.module.xp is np and loaded.missing == []
    write(  # a sibling runs whole: its with block too
        tmp_path / "helpers.py",
        f"import contextlib\nplt = None\nwith contextlib.suppress(ImportError):\n"
        f"    import {MISSING}.pyplot as plt\n",
    )
    loaded = load_module(write(tmp_path / "net.py", "from helpers import plt\n"))
    assert loaded.module.plt is None and loaded.missing == []


def test_a_real_import_error_of_an_installed_package_keeps_its_message(tmp_path):
    path = write(tmp_path / "net.py", "import numpy as np\nfrom numpy import nnfix_nosuch\n")
    error = raised(load_module, path)
    assert isinstance(error, LoadError) and "ImportError: cannot import name" in error.message
    path = write(tmp_path / "net.py", "import numpy.nnfix_nosuch\n")
    error = raised(load_module, path)
    assert isinstance(error, LoadError) and "numpy.nnfix_nosuch" in error.message


def test_a_sibling_that_raises_is_an_error_not_a_skip(tmp_path):
    write(tmp_path / "helpers.py", "raise ValueError('broken helper')\n")
    path = write(tmp_path / "net.py", "import helpers\n")
    error = raised(load_module, path)
    assert isinstance(error, LoadError) and "ValueError: broken helper" in error.message
    assert error.trace is not None and "helpers.py" in error.trace and error.package is None


# Siblings


def test_a_star_import_from_a_sibling_works(tmp_path):
    folder = copy_case("dense-activation-inside", tmp_path)
    loaded = load_module(folder / "model.py")
    model = loaded.module.build_model()
    assert [type(layer).__name__ for layer in model] == ["Dense"] * 3
    assert loaded.module.BinaryCrossEntropy is not None
    assert is_users(str((folder / "layers.py").resolve()))
    error = raised(model[0].forward, np.zeros((5, 5)))  # W is (16, 2): a shape error in layers.py
    deepest = traceback.extract_tb(error.__traceback__)[-1]
    assert deepest.filename == str((folder / "layers.py").resolve())
    assert place_of(deepest.filename, deepest.lineno) == Place(
        (folder / "layers.py").resolve(), deepest.lineno
    )


def test_siblings_are_read_again_on_the_next_load(tmp_path):
    write(tmp_path / "layers.py", "SIZE = 1\n")
    path = write(tmp_path / "model.py", "from layers import SIZE\n")
    assert load_module(path).module.SIZE == 1
    write(tmp_path / "layers.py", "SIZE = 22\n")
    assert load_module(path).module.SIZE == 22


def test_a_sibling_of_the_same_name_in_another_folder_is_not_reused(tmp_path):
    for name, size in [("one", 1), ("two", 2)]:
        (tmp_path / name).mkdir()
        write(tmp_path / name / "layers.py", f"SIZE = {size}\n")
        write(tmp_path / name / "model.py", "from layers import SIZE\n")
    assert load_module(tmp_path / "one" / "model.py").module.SIZE == 1
    assert load_module(tmp_path / "two" / "model.py").module.SIZE == 2


def test_modules_registered_under_their_own_name_are_kept(tmp_path):
    own = types.ModuleType("nnfix_user_losses_0")  # as nnfix.spec.usercode registers losses.py
    own.__file__ = str(write(tmp_path / "losses.py", "SCALE = 1\n").resolve())
    sys.modules[own.__name__] = own
    path = write(tmp_path / "net.py", "x = 1\n")
    load_module(path)
    load_module(path)
    assert sys.modules.pop(own.__name__) is own


def test_sys_settrace_sees_the_users_real_lines(tmp_path):
    path = write(
        tmp_path / "net.py",
        """
        import numpy as np
        print("not run")


        def forward(x):
            y = x * 2
            return y + 1
        """,
    )
    forward = load_module(path).module.forward
    seen: list[Place] = []

    def tracer(frame, event, arg):
        place = place_of(frame.f_code.co_filename, frame.f_lineno)
        if event == "line" and place is not None:
            seen.append(place)
        return tracer

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        forward(1)
    finally:
        sys.settrace(old)
    assert seen == [Place(path.resolve(), 6), Place(path.resolve(), 7)]


def test_the_modules_folder_stays_first_on_sys_path(tmp_path):
    path = write(tmp_path / "net.py", "x = 1\n")
    load_module(path)
    assert sys.path[0] == str(tmp_path.resolve())


def test_only_the_users_files_are_the_users(tmp_path):
    path = write(tmp_path / "net.py", "x = 1\n")
    load_module(path)
    assert is_users(str(path.resolve())) and place_of(str(path.resolve()), 3) == Place(
        path.resolve(), 3
    )
    assert not is_users(np.__file__) and not is_users(loader.__file__)
    assert not is_users(str(tmp_path.parent / "elsewhere.py"))
    assert place_of(np.__file__, 10) is None and place_of("<string>", 1) is None
    assert place_of(f"<notebook {tmp_path / 'never.ipynb'} cell 1>", 1) is None


# Errors while loading


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ("import sys\nclass Net:\n    sys.exit(3)\n", "SystemExit: 3"),
        ("class Net:\n    raise GeneratorExit\n", "GeneratorExit"),
        ("class Net:\n    size = 1 / 0\n", "ZeroDivisionError: division by zero"),
    ],
)
def test_what_a_kept_statement_raises_is_a_load_error(tmp_path, body, name):
    path = write(tmp_path / "net.py", body)
    error = raised(load_module, path)
    assert isinstance(error, LoadError) and f"net.py, line {body.count(chr(10))}: {name}" in (
        error.message
    )
    assert error.trace is not None and error.trace.startswith("Traceback")
    assert NNFIX_DIR not in error.trace and "test_loader" not in error.trace


def test_keyboard_interrupt_is_not_swallowed(tmp_path):
    path = write(tmp_path / "net.py", "class Net:\n    raise KeyboardInterrupt\n")
    assert isinstance(raised(load_module, path), KeyboardInterrupt)


def test_a_skipped_assignment_a_kept_def_needs_is_run_first(tmp_path):
    """SPEC §3.4: a skipped statement later code needs is re-run — here a def's default
    (`def backward(..., p=params)` after `params = init(...)`, skipped as a call)."""
    path = write(
        tmp_path / "net.py",
        "import numpy as np\nX = np.ones(3)\nsize = len(X)\n\ndef train(data=X, n=size):\n"
        "    return data, n\n",
    )
    loaded = load_module(path)
    data, n = loaded.module.train()
    assert data.tolist() == [1.0, 1.0, 1.0] and n == 3
    assert not [s for s in loaded.skipped if s.place.line in (2, 3)]  # they ran: not skipped


def test_a_name_set_by_a_skipped_statement_that_trains_gets_a_hint(tmp_path):
    path = write(
        tmp_path / "net.py",
        "import numpy as np\n\ndef fit(x):\n    return x\n\nX = fit(np.ones(3))\n\n"
        "def train(data=X):\n    return data\n",
    )
    error = raised(load_module, path)
    assert isinstance(error, LoadError) and error.place == Place(path.resolve(), 8, col=1)
    assert error.hint is not None and "'X' is set by a top-level statement" in error.hint
    assert "net.py, line 6" in error.hint and "run_module: true" in error.hint


def test_a_file_that_is_not_python_or_a_notebook(tmp_path):
    path = write(tmp_path / "net.txt", "x = 1\n")
    with pytest.raises(LoadError, match=r"net.txt: expected a \.py file or a \.ipynb notebook"):
        load_module(path)
    with pytest.raises(LoadError, match="is a folder"):
        load_module(tmp_path)


def test_a_missing_file_says_where_it_looked_and_what_is_close(tmp_path):
    write(tmp_path / "my_net.py", "x = 1\n")
    error = raised(load_module, tmp_path / "my_nets.py")
    assert isinstance(error, LoadError)
    assert error.message == f"file not found: {(tmp_path / 'my_nets.py').resolve()}"
    assert error.hint == "did you mean 'my_net.py'?"
    error = raised(load_module, tmp_path / "nowhere" / "net.py")
    assert isinstance(error, LoadError) and "does not exist" in error.message


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "net.py"
    path.write_bytes(b"x = 1\ns = '\xe9t\xe9'\n")
    error = raised(load_module, path)
    assert isinstance(error, LoadError) and "not UTF-8" in error.message
    assert error.place == Place(path.resolve(), 2)
