"""`nnfix init` without its display: the arguments checked, a template or the user's module
explored in nnfix's worker (their code can neither end nor hang nnfix), the spec checked as
`nnfix diagnose` will load it, and written atomically — never over an existing file without
`--force`."""

from __future__ import annotations

import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnfix.errors import CommandLineError, DataError, InputError, ModuleError, OutputError, Problem
from nnfix.init import templates
from nnfix.init.conclude import Inference, Key
from nnfix.init.sizes import Request
from nnfix.run.files import shown, unwritable_file, write_atomic

TIMEOUT = 10.0  # seconds one call of the user's code may take while init explores it
DATA_SUFFIXES = (".csv", ".npz", ".npy")


@dataclass
class Outcome:
    """What `nnfix init` did, for the summary and the exit code."""

    path: Path
    template: str | None = None
    inference: Inference | None = None
    data: Key | None = None
    problems: list[str] = field(default_factory=list)  # the written spec did not load or run
    printed: Any = None  # what the user's code printed (sandbox.Output)
    text: str = ""  # the spec written
    again: str = ""  # the command that would settle what is missing, where one would
    inferred: list[str] | None = None  # written as `nnfix diagnose my_net.py` infers it

    @property
    def exit_code(self) -> int:
        """0 written and ready for `nnfix diagnose`; 1 written with something to settle."""
        if self.inference is not None and (not self.inference.complete or self.problems):
            return 1
        return 0


def parse_layers(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        widths = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        widths = []
    if not widths or any(w < 1 for w in widths):
        raise CommandLineError(
            [
                Problem(
                    f"--layers {text!r}: expected the widths of your hidden and output layers, "
                    "positive whole numbers separated by commas, e.g. --layers 16,8,1"
                )
            ]
        )
    return widths


def check_target(path: Path, force: bool) -> None:
    if path.exists() and not force and not path.is_dir():
        raise OutputError(
            [
                Problem(
                    f"{shown(path)} exists: nnfix init never overwrites a file; --force replaces it",
                    hint="--force",
                )
            ],
            outcome="nothing was written",
        )
    why = unwritable_file(path)
    if why is not None:
        raise OutputError([Problem(f"{shown(path)}: {why}")], outcome="nothing was written")


def run(
    path: Path,
    *,
    template: str | None = None,
    module: Path | None = None,
    data: Path | None = None,
    layers: str | None = None,
    force: bool = False,
    timeout: float = TIMEOUT,
) -> Outcome:
    if module is None and (data is not None or layers is not None):
        option = "--data" if data is not None else "--layers"
        raise CommandLineError([Problem(f"{option} goes with --from MODULE (the code to read)")])
    if module is not None and template is not None:
        raise CommandLineError(
            [Problem("--template and --from are two ways of starting: choose one")]
        )
    widths = parse_layers(layers)
    check_target(path, force)
    if module is None:
        name = template or "spec"
        from nnfix.init.render import scalar

        write_atomic(path, templates.text(name, path.name, scalar(path.stem)))
        return Outcome(path, template=name)
    request, data_key = read_data(data, path, widths)
    options = ["--from", str(module)] + (["--data", str(data)] if data else [])
    options += ["--layers", layers] if layers else []
    command = "nnfix init " + " ".join(shlex.quote(a) for a in [*options, str(path)])
    outcome = explore(path, Path(module), request, data_key, command, timeout)
    if outcome.exit_code != 0 and widths is None:  # as `nnfix diagnose my_net.py` reads it
        found = as_diagnose_reads(path, Path(module), data, command)
        if found is not None:
            write_atomic(path, found.text)
            return found
    if outcome.inference is not None and not outcome.inference.units:
        again = [*options, "--layers", "16,8,1", "--force", str(path)]
        outcome.again = "nnfix init " + " ".join(shlex.quote(a) for a in again)
    write_atomic(path, outcome.text)
    return outcome


def as_diagnose_reads(path: Path, module: Path, data: Path | None, command: str) -> Outcome | None:
    """The spec `nnfix diagnose MODULE` infers (init.nospec), written for `path`: where the
    exploration alone leaves something to choose, the module's own calls and nnfix's widths
    settle it as the diagnosis does; None where the diagnosis asks a question too."""
    import yaml

    from nnfix.init import nospec
    from nnfix.init.render import MODELINE, comment, relative

    try:
        inferred, printed = nospec.run(module, data)
    except ModuleError:
        return None
    spec = {"name": module.stem, **inferred.spec}
    base = nospec.spec_path(module).parent
    spec["implementation"]["module"] = relative(
        base / spec["implementation"]["module"], path.parent
    )
    for key in ("path", "x", "y"):
        if key in spec.get("data", {}):
            spec["data"][key] = relative(base / spec["data"][key], path.parent)
    lines = [MODELINE, "#"]
    lines += comment(
        f"Written by `{command}`: what `nnfix diagnose {module.name}` infers by calling your "
        f"code. Then: nnfix diagnose {path.name}",
        "",
    )
    lines += [f"# {line}" for line in inferred.said]
    text = "\n".join(lines) + "\n" + yaml.safe_dump(spec, sort_keys=False, width=100)
    return Outcome(path, text=text, printed=printed, inferred=inferred.said)


# --- data ---------------------------------------------------------------------------------------


def read_data(
    data: Path | None, spec_path: Path, widths: list[int] | None
) -> tuple[Request, Key | None]:
    """The --data file as the spec will read it: its inputs for exploring, its `data:` key."""
    if data is None:
        return Request(widths), None
    from nnfix.data.dataset import load_dataset
    from nnfix.init.render import relative
    from nnfix.spec.model import DataSpec

    file = Path(data)
    if file.suffix not in DATA_SUFFIXES:
        raise CommandLineError(
            [Problem(f"--data {shown(file)}: expected a .csv, .npz or .npy file")]
        )
    rel = relative(file, spec_path.parent)
    value: dict[str, Any] = {"source": file.suffix[1:]}
    how = f"your data, {file.name}"
    if file.suffix == ".npy":
        targets = _targets_beside(file)
        if targets is None:
            raise CommandLineError(
                [
                    Problem(
                        f"--data {shown(file)}: a .npy file holds one array; nnfix needs the targets "
                        "beside it (y.npy, labels.npy or targets.npy, or a name with x/X swapped for y/Y)"
                    )
                ]
            )
        value |= {"x": rel, "y": relative(targets, spec_path.parent)}
        how += f" and {targets.name}"
    else:
        value["path"] = rel
    try:
        spec = DataSpec(**value)
        dataset = load_dataset(
            spec, base_dir=spec_path.parent.resolve(), rng=np.random.default_rng(0), dtype="float64"
        )
    except InputError as exc:
        raise DataError(exc.problems) from None
    except (OSError, ValueError) as exc:
        raise DataError([Problem(f"--data {shown(file)}: {exc}")]) from None
    x, y = dataset.x_train, dataset.y_train
    return Request(widths, x, y), Key(value, how + f" ({dataset.description})")


def _targets_beside(file: Path) -> Path | None:
    names = ["y.npy", "labels.npy", "targets.npy", "Y.npy"]
    stem = file.stem
    for a, b in (("x", "y"), ("X", "Y"), ("X", "y"), ("inputs", "targets"), ("features", "labels")):
        if a in stem:
            names.insert(0, stem.replace(a, b, 1) + ".npy")
    for name in names:
        candidate = file.with_name(name)
        if candidate != file and candidate.is_file():
            return candidate
    return None


# --- the module, in the worker ------------------------------------------------------------------


def explore(
    path: Path, module: Path, request: Request, data: Key | None, command: str, timeout: float
) -> Outcome:
    from nnfix.usercode import sandbox

    try:
        result = sandbox.run(_task, module, request, path, data, command, timeout=timeout)
    except sandbox.WorkerDied as exc:
        role = f" ({exc.role})" if exc.role else ""
        raise ModuleError(
            [Problem(f"{module.name}: your code{role} {exc}: nnfix could not explore it")]
        ) from None
    inference, text, problems = result.value
    return Outcome(
        path, inference=inference, data=data, problems=problems, printed=result.output, text=text
    )


def _load(module: Path):
    """The module loaded with a timeout: its imports and definitions run (a sibling module
    may loop at import), and whatever it raises or how it exits is a located exit 2."""
    from nnfix.usercode.build import load_guarded

    return load_guarded(module, key=())


def _task(emit, module: Path, request: Request, path: Path, data: Key | None, command: str):
    from nnfix.init import conclude, infer, render

    loaded = _load(module)
    with np.errstate(all="ignore"):
        verdicts, found = infer.search_all(loaded, request)
        inference = conclude.conclude(verdicts, found, loaded, request)
    text = render.spec_text(inference, path, data, command)
    problems = verify(inference, path, data, command) if inference.complete else []
    return inference, text, problems


def verify(inference: Inference, path: Path, data: Key | None, command: str) -> list[str]:
    """Load the spec as `nnfix diagnose` will and find the user's code by it: what stops it."""
    from nnfix.init import render
    from nnfix.run.prepare import prepare
    from nnfix.spec.load import load_spec
    from nnfix.usercode.build import build
    from nnfix.usercode.network import batch
    from nnfix.usercode.sandbox import UserCallError

    with tempfile.TemporaryDirectory(prefix="nnfix-init-") as folder:
        spec = Path(folder) / path.name
        if data is not None:  # the data's path as seen from the folder the check runs in
            data = Key(
                {
                    k: (str((path.parent / v).resolve()) if k in ("path", "x", "y") else v)
                    for k, v in data.value.items()
                },
                data.how,
            )
        spec.write_text(render.spec_text(inference, spec, data, command), encoding="utf-8")
        try:
            loaded = load_spec(spec)
            prepared = prepare(loaded, "float64")
            assert prepared.y_train is not None
            rows = slice(0, 32)
            build(
                loaded, prepared.network, batch(prepared.data.x_train[rows], prepared.y_train[rows])
            )
        except InputError as exc:
            return [p.message for p in exc.problems]
        except UserCallError as exc:
            return [f"{exc.role}: {exc}"]
        except AssertionError:
            return ["the data's targets do not fit the output layer"]
    return []
