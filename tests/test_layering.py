"""The packages import downwards only (CONTRIBUTING.md): the engine knows no spec, no user code
and no run; a run knows no diagnosis. Checked in a fresh interpreter, by what importing a
package actually loads."""

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

BELOW = {  # a package, and the packages it must not load
    "nnfix.engine.network": ("nnfix.spec", "nnfix.usercode", "nnfix.run", "nnfix.diagnose"),
    "nnfix.engine.train": ("nnfix.spec", "nnfix.usercode", "nnfix.run", "nnfix.diagnose"),
    "nnfix.engine.layers": ("nnfix.spec", "nnfix.usercode", "nnfix.run", "nnfix.diagnose"),
    "nnfix.run.training": ("nnfix.diagnose",),
    "nnfix.run.prepare": ("nnfix.diagnose", "nnfix.report"),
}


@pytest.mark.parametrize("module", list(BELOW))
def test_a_package_does_not_load_the_layers_above_it(module):
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded = json.loads(out.stdout)
    above = [m for m in loaded if m.startswith(BELOW[module])]
    assert not above, f"{module} loads {above}"
