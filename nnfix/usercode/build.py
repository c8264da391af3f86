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
    return load_guarded(path, run_module=impl.run_module, cells=impl.cells, source=loaded.source)


def load_guarded(
    module: Path,
    *,
    run_module: bool = False,
    cells=None,
    key: tuple = ("implementation", "module"),
    source=None,
) -> LoadedModule:
    """The module loaded under the user-code guard: its imports and definitions run (a sibling
    module may loop, exit or raise at import), and whatever happens is a located ModuleError
    (exit 2) — never a hang."""
    from nnfix.usercode import sandbox

    def attempt() -> LoadedModule | LoadError:
        try:
            return load_module(module, run_module=run_module, cells=cells)
        except LoadError as exc:
            return exc

    try:
        result = sandbox.call("import", attempt)
    except sandbox.UserCallError as exc:
        what = str(exc).replace("did not return within", "did not finish within")
        if exc.where is not None:
            place, _ = exc.where
            problem = Problem(
                f"importing your module {what}",
                path=key,
                file=place.file,
                line=place.line,
                col=place.col,
                detail=exc.trace,
            )
        else:
            problem = Problem(
                f"{module.name}: importing your module {what}", path=key, detail=exc.trace
            )
        raise ModuleError([problem], source) from None
    if isinstance(result, LoadError):
        problem = load_problem(result, path=key)
        if problem.file is None and not key:
            problem.message = f"{module.name}: {problem.message}"
        raise ModuleError([problem], source)
    return result


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
        model.loss_name = loaded.spec.net_loss.name
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
