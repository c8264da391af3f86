"""The spec's `implementation:` made into a UserModel: the module loaded, the shape chosen,
the parameters and calls found on a batch — or a ModuleError (exit 2) at the spec key that
names what could not be used."""

from __future__ import annotations

from pathlib import Path

from nnfix.engine.network import Network
from nnfix.errors import ModuleError, Problem
from nnfix.spec.load import LoadedSpec
from nnfix.usercode.loader import LoadedModule, LoadError, load_module
from nnfix.usercode.model import Batch, SetupError, UserModel, seed_numpy
from nnfix.usercode.shapes import FunctionsModel, LayersModel, ObjectModel

SHAPES: dict[str, type[UserModel]] = {
    "functions": FunctionsModel,
    "object": ObjectModel,
    "layers": LayersModel,
}


def load(loaded: LoadedSpec) -> LoadedModule:
    impl = loaded.spec.implementation
    assert impl is not None
    path = Path(loaded.base_dir) / impl.module
    try:
        return load_module(path, run_module=impl.run_module, cells=impl.cells)
    except LoadError as exc:
        raise ModuleError([load_problem(exc)], loaded.source) from None


def load_problem(exc: LoadError, path: tuple = ("implementation", "module")) -> Problem:
    """A module that could not be loaded, at its own line where there is one (a .py file),
    else at the spec key that names it."""
    place = exc.place
    if place is not None and place.file.suffix == ".py":
        return Problem(
            exc.message,
            path=path,
            file=place.file,
            line=place.line,
            col=place.col,
            hint=exc.hint,
            detail=exc.trace,
        )
    where = (
        f" (cell {place.cell}, line {place.line})"
        if place is not None and place.cell is not None
        else ""
    )
    return Problem(exc.message + where, path=path, hint=exc.hint, detail=exc.trace)


def build(loaded: LoadedSpec, network: Network, batch: Batch) -> tuple[UserModel, LoadedModule]:
    """The user's code, its parameters found and holding nnfix's initial values (or, with
    `init: yours`, the values their code created)."""
    impl = loaded.spec.implementation
    assert impl is not None
    seed_numpy(loaded.spec.seed)
    module = load(loaded)
    try:
        model = SHAPES[impl.shape](impl, module.module, network)
        model.discover(batch)
    except SetupError as exc:
        raise ModuleError([exc.problem()], loaded.source) from None
    if impl.init == "yours":
        values = model.initial_values()
        if values is None:
            problem = Problem(
                "init: yours keeps the values your code creates, but nnfix builds the "
                "parameters of functions over a params dict itself: there are none of yours",
                path=("implementation", "init"),
                hint="init: spec",
            )
            raise ModuleError([problem], loaded.source)
        model.set_params(values)
    else:
        model.set_params(dict(zip(network.names, network.params, strict=True)))
    return model, module
