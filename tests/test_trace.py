"""The line tracer: for each statement of the user's files, what it read and what it set, with
where each array is held, nested calls placed under the line that made them, loops, the line
an exception left, and nothing of the user's called while reading their values."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nnfix.usercode import loader
from nnfix.usercode.loader import is_users, load_module
from nnfix.usercode.trace import Tracer, fingerprint


@pytest.fixture(autouse=True)
def _restore_import_state():
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if name.startswith(loader.MODULE_PREFIX) or is_users(file):
            del sys.modules[name]


def module(tmp_path: Path, source: str):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return load_module(path).module


def run(fn, *args):
    tracer = Tracer()
    result = tracer.run(fn, *args)
    return tracer, result


def step_at(tracer: Tracer, code: str, nth: int = 0):
    return [s for s in tracer.steps if s.code.startswith(code)][nth]


def test_each_statement_records_what_it_read_and_what_it_set(tmp_path):
    net = module(
        tmp_path,
        """
        import numpy as np

        def backward(params, cache, Y):
            m = Y.shape[1]
            dZ2 = cache["A2"] - Y
            grads = {}
            grads["dW2"] = dZ2 @ cache["A1"].T / m
            dA1 = params["W2"].T @ dZ2
            dA1 *= 2.0
            return grads
        """,
    )
    A1, A2, Y, W2 = np.ones((3, 4)), np.full((1, 4), 0.5), np.zeros((1, 4)), np.ones((1, 3))
    tracer, grads = run(net.backward, {"W2": W2}, {"A1": A1, "A2": A2}, Y)

    dz = step_at(tracer, "dZ2 =")
    assert set(dz.inputs) == {'cache["A2"]', "Y"}
    (out,) = dz.outputs
    assert out.name == "dZ2" and np.array_equal(out.value, A2 - Y) and not out.passed
    assert dz.place.line == 5 and dz.col == 5

    store = step_at(tracer, 'grads["dW2"]')
    assert set(store.inputs) == {"dZ2", 'cache["A1"]'}  # `.T` is a read of the array itself
    (out,) = store.outputs
    assert out.name == "grads['dW2']" and out.holder == (id(grads), "dW2")

    scaled = step_at(tracer, "dA1 *= 2.0")
    assert "dA1" in scaled.inputs  # an augmented assignment reads its target
    assert np.array_equal(scaled.inputs["dA1"], W2.T @ (A2 - Y))  # as it was before
    assert np.array_equal(scaled.outputs[0].value, 2 * W2.T @ (A2 - Y))  # changed in place

    returned = step_at(tracer, "return grads")
    (out,) = returned.outputs
    assert out.name == "return['dW2']" and out.passed  # passed on, not computed


def test_a_helper_s_lines_are_placed_under_the_line_that_called_it(tmp_path):
    net = module(
        tmp_path,
        """
        import numpy as np

        def relu_backward(dA, Z):
            dZ = np.array(dA, copy=True)
            dZ[Z <= 0] = 0
            return dZ

        def backward(dA, Z):
            for layer in range(2):
                dA = relu_backward(dA, Z)
            return dA
        """,
    )
    Z = np.array([[1.0, -1.0], [-2.0, 3.0]])
    tracer, _ = run(net.backward, np.ones((2, 2)), Z)
    call = step_at(tracer, "dA = relu_backward")
    mask = step_at(tracer, "dZ[Z <= 0] = 0")
    assert mask.parent == call.serial and mask.depth == call.depth + 1
    assert call.start < mask.start and mask.end < call.end
    assert set(mask.inputs) == {"dZ", "Z"}  # a store into an item reads its owner and index
    assert call.loops[0][:2] == (9, "for layer in range(2):")
    assert mask.loops == ()  # the helper's own lines are in no loop of the helper
    assert len([s for s in tracer.steps if s.code.startswith("dZ[Z")]) == 2  # once per pass
    assert tracer.given[mask.frame][0].shape == (2, 2)  # what the helper was given


def test_keys_written_the_usual_ways_are_read_without_calling_anything(tmp_path):
    net = module(
        tmp_path,
        """
        class Net:
            def __init__(self, W):
                self.params = {"W1": W}
                self.calls = 0

            @property
            def weights(self):
                self.calls += 1
                return self.params["W1"]

            def backward(self, dZ):
                l = 1
                a = self.params["W" + str(l)] @ dZ
                b = self.params[f"W{l}"] @ dZ
                c = self.weights @ dZ
                return a + b + c
        """,
    )
    obj = net.Net(np.eye(2))
    tracer, _ = run(obj.backward, np.ones((2, 1)))
    assert 'self.params["W" + str(l)]' in step_at(tracer, "a =").inputs
    assert 'self.params[f"W{l}"]' in step_at(tracer, "b =").inputs
    assert obj.calls == 1  # the property ran once, for the user's own line, never for nnfix
    assert "self.weights" not in step_at(tracer, "c =").inputs


def test_globals_a_function_writes_and_numpy_scalars_are_outputs(tmp_path):
    net = module(
        tmp_path,
        """
        import numpy as np
        grad = {}

        def backward(dZ):
            grad["db"] = np.sum(dZ)
        """,
    )
    tracer, _ = run(net.backward, np.ones((2, 3)))
    (out,) = step_at(tracer, 'grad["db"]').outputs
    assert out.name == "grad['db']" and out.value.shape == () and float(out.value) == 6.0
    assert out.holder == (id(net.grad), "db")


def test_the_line_an_exception_left_is_recorded_and_the_trace_is_removed(tmp_path):
    net = module(
        tmp_path,
        """
        import numpy as np

        def helper(a, b):
            return a @ b

        def backward(a, b):
            c = a * 2
            return helper(c, b)
        """,
    )
    tracer = Tracer()
    with pytest.raises(ValueError):
        tracer.run(net.backward, np.ones((2, 3)), np.ones((2, 3)))
    assert tracer.raised is not None and tracer.raised.code == "return a @ b"  # the deepest
    assert sys.gettrace() is None


def test_the_same_value_has_the_same_fingerprint_and_another_does_not():
    a = np.arange(6.0).reshape(2, 3)
    assert fingerprint(a) == fingerprint(a.copy())
    assert fingerprint(a) != fingerprint(a.T.copy())  # same bytes in another shape
    assert fingerprint(a) != fingerprint(a.astype(np.float32))
