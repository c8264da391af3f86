"""The packages import downwards only (CONTRIBUTING.md): the engine knows no spec, no user code
and no run; a run knows no diagnosis. Checked in a fresh interpreter, by what importing a
package actually loads."""

import ast
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


STATIC = {  # a package's files, and the packages no import of theirs may name (lazy ones too)
    "engine": ("nnfix.spec", "nnfix.usercode", "nnfix.run", "nnfix.diagnose", "nnfix.report"),
    "run": ("nnfix.diagnose",),
}


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an import statement names, with its line, but for those under
    `if TYPE_CHECKING:` (a type named in an annotation loads nothing)."""
    found = []
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skip |= {id(n) for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("package", list(STATIC))
def test_no_import_in_a_package_reaches_up(package):
    bad = []
    for path in sorted((ROOT / "nnfix" / package).rglob("*.py")):
        for line, module in _imports(ast.parse(path.read_text())):
            if module.startswith(STATIC[package]):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, bad
