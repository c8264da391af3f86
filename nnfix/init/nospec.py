"""A spec read off the user's module in memory (SPEC §3.7, `nnfix diagnose my_net.py`): the
candidates (nospec_candidates) each tried as `nnfix diagnose` will run it, on a batch of the
width the code accepts (nospec_try), and the first that runs kept; else `nnfix init --from`'s
conclusion, or the one question that settles what the values could not."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nnfix.init import nospec_try
from nnfix.init.nospec_candidates import DEFAULT_HIDDEN, Candidate, candidates
from nnfix.init.nospec_try import SAMPLES, Question
from nnfix.usercode.loader import LoadedModule

FITTED = ("sigmoid", "softmax")  # outputs whose usual loss (bce, cce) is a safe guess


@dataclass
class Inferred:
    """The spec nnfix found for a module: its YAML data, what was inferred, one line each."""

    spec: dict[str, Any] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)
    question: Question | None = None

    def text(self) -> str:
        return yaml.safe_dump(self.spec, sort_keys=False, width=100, allow_unicode=True)


def infer(module: Path, data: dict[str, Any] | None = None, request: Any = None) -> Inferred:
    """The spec of `module` (run in nnfix's worker): the first candidate nnfix's diagnosis can
    call, with the data `data` (a spec's `data:` value, its arrays in `request`) or the data it
    accepts; else what `nnfix init --from` concludes with the widths nothing in it fixes."""
    from nnfix.usercode.build import load_guarded

    loaded = load_guarded(module, key=())
    at = spec_path(module)
    first_failure = ""
    own, later = candidates(loaded)
    asked: list[Question] = []  # a role the exploration could not decide
    # an init function nnfix gives widths runs as the module's own calls would (the line search
    # of the code as the network, every bug in one run); a class the module never builds goes
    # after init --from's exploration, which tells code that takes one sample at a time
    functions = [c for c in later if "model" in c.impl and c.shape == "functions"]
    rest = [c for c in later if c not in functions]
    for c in [*own, *functions, None, *rest]:
        if c is None:  # nothing the module builds itself runs: init --from's exploration
            explored = _explored(loaded, at, data, request, asked)
            if explored is not None:
                return explored
            continue
        for (value, k), keys in (
            (d, v) for v in nospec_try.variants(c) for d in nospec_try.datas(c, data)
        ):
            spec: dict[str, Any] = {"seed": 0}
            if value is not None:
                spec["data"] = value
            impl = {"module": module.name, **keys}
            spec["implementation"] = impl
            if impl.get("script"):
                spec["loss"] = "mse"
            if impl.get("engine"):  # their graph ends at the output: nnfix's loss of it
                spec["loss"] = "mse" if k <= 1 else "cce"
            tried = nospec_try.try_spec(spec, at)
            if tried.ok and impl.get("script"):
                loss = nospec_try.script_loss(tried.net)
                if loss is not None and loss != "mse":
                    spec["loss"] = loss
                    tried = nospec_try.try_spec(spec, at)
            if not tried.ok:
                first_failure = first_failure or f"{nospec_try.describe(c.impl)}: {tried.why}"
                if "loss your backward differentiates" in tried.why and not asked:
                    asked.append(nospec_try.loss_question(c, module))
                continue
            return Inferred(spec, nospec_try.said(c, spec, tried))
    if asked:
        question = asked[0]
    elif not own and not later:
        question = Question(
            f"nnfix found no forward and backward, model, layer objects or training loop in "
            f"{module.name} that it could call: which function or class is your network?",
            "implementation: forward/backward, model, layers or script",
        )
    else:
        question = Question(
            f"nnfix could not call your code on any data it could guess (first tried: "
            f"{first_failure}): what data does your network take?",
            "--data PATH (or data: in a spec)",
        )
    return Inferred(question=question)


def _explored(
    loaded: LoadedModule, at: Path, data: dict[str, Any] | None, request: Any, asked: list
) -> Inferred | None:
    """`nnfix init --from`'s conclusion (`infer`, `conclude`) where the module itself makes no
    call that fixes its network: the widths it cannot read are nnfix's, and said so. Two
    functions it could not tell apart by their values are a question, put in `asked`."""
    from nnfix.init import conclude, render
    from nnfix.init import infer as exploring
    from nnfix.init.conclude import Key
    from nnfix.init.sizes import Request

    key = Key(data, "your data") if data is not None else None
    # three outputs first: kept where they are a softmax, which one output cannot show; two
    # hidden layers, then one (an init function of three widths)
    tries: list[list[int] | None] = [
        [*hidden, k] for hidden in (DEFAULT_HIDDEN, DEFAULT_HIDDEN[:1]) for k in (3, 1)
    ]
    if request is not None and request.x is not None:
        tries.insert(0, None)
    for layers in tries:
        given = Request(layers, request.x, request.y) if request is not None else Request(layers)
        with np.errstate(all="ignore"):
            verdicts, sizes = exploring.search_all(loaded, given)
            inference = conclude.conclude(verdicts, sizes, loaded, given)
        if not inference.complete:
            asked.extend(
                nospec_try.role_question(inference.undecided, loaded.path) if not asked else []
            )
            continue
        output = inference.activations[-1].value if inference.activations else None
        if layers is not None and layers[-1] == 3 and output != "softmax":
            continue
        guessed = inference.loss is not None and inference.loss.how.startswith("the usual")
        if guessed and inference.gradients_right is False and output not in FITTED:
            # a loss only guessed for a linear or relu output, which their gradients are not
            # of: diagnosing against it would call correct code wrong
            if not asked:
                keys = {k: v.value for k, v in inference.implementation.items()}
                asked.append(nospec_try.loss_question(Candidate(keys, ""), loaded.path))
            continue
        spec = yaml.safe_load(render.spec_text(inference, at, key, "nnfix diagnose"))
        spec.pop("name", None)
        spec["diagnose"] = {"ignore": ["T1"]}  # nnfix's lr, data and widths, not their code's
        if "data" in spec and data is None:
            spec["data"]["samples"] = min(spec["data"].get("samples", SAMPLES), SAMPLES)
        tried = nospec_try.try_spec(spec, at)
        if not tried.ok:
            continue
        c = Candidate(spec["implementation"], inference.shape or "functions")
        fixed = layers is not None and not inference.sizes_how
        if layers is not None:
            c.assumed = (
                f"nothing in {loaded.path.name} fixes the layer sizes: nnfix chose "
                f"{inference.units} (settle them in model: of the saved spec)"
            )
        said = nospec_try.said(c, spec, tried)
        said.append(
            "not run: the training probes (T1xx): the learning rate, data and widths they "
            "would train are nnfix's choice, not your code's (save the spec, set them)"
        )
        if fixed or inference.sizes_how:
            said.insert(2, f"layer sizes: {inference.units} ({inference.sizes_how or 'chosen'})")
        acts = [
            a.value if isinstance(a.value, str) else str(a.value) for a in inference.activations
        ]
        if acts:
            said.insert(2, f"activations: {', '.join(acts)} (read off what your forward computed)")
        return Inferred(spec, said)
    return None


CODE_SUFFIXES = (".py", ".ipynb")
TIMEOUT = 30.0  # seconds for one call of their code while nnfix explores it


def is_code(path: Path) -> bool:
    """A .py file or notebook given where a spec goes (SPEC §3.7)."""
    return Path(path).suffix.lower() in CODE_SUFFIXES


def check_data(paths: list[Path], data: Path | None) -> None:
    """--data goes with a module given without a spec: a spec has its own `data:`."""
    from nnfix.errors import CommandLineError, Problem

    if data is not None and not any(is_code(p) for p in paths):
        raise CommandLineError(
            [
                Problem(
                    "--data goes with a .py file or notebook given without a spec; "
                    "a spec's data is its data: key"
                )
            ]
        )


def spec_path(module: Path) -> Path:
    """Where the inferred spec stands: beside the module, so its paths are the module's."""
    return module.parent / f"{module.stem}.nnfix.yaml"


def save_command(module: Path, data: Path | None) -> str:
    """The one command that writes what was inferred as a spec."""
    import shlex

    words = ["nnfix", "init", "--from", str(module)]
    words += ["--data", str(data)] if data is not None else []
    return " ".join(shlex.quote(w) for w in [*words, "spec.yaml"])


def run(module: Path, data: Path | None = None) -> tuple[Inferred, Any]:
    """The spec of `module` found in nnfix's worker (their code can neither end nor hang nnfix),
    with what their code printed; a ModuleError (exit 2) with the one question where no spec
    could be found."""
    from nnfix.errors import ModuleError, Problem
    from nnfix.init.command import read_data
    from nnfix.usercode import sandbox

    module = Path(module)
    if not module.is_file():
        raise ModuleError([Problem(f"{module}: no such file", file=module)])
    request, value = read_data(data, spec_path(module), None)
    try:
        result = sandbox.run(
            _task, module.resolve(), value.value if value else None, request, timeout=TIMEOUT
        )
    except sandbox.WorkerDied as exc:
        role = f" ({exc.role})" if exc.role else ""
        raise ModuleError(
            [Problem(f"{module.name}: your code{role} {exc}: nnfix could not explore it")]
        ) from None
    inferred: Inferred = result.value
    if inferred.question is not None:
        q = inferred.question
        raise ModuleError([Problem(q.text, file=module, hint=f"answer it with {q.key}")])
    return inferred, result.output


def load(
    module: Path, assignments: tuple[str, ...] | list[str] = (), data: Path | None = None
) -> tuple[Any, list[str]]:
    """The spec `nnfix init --from` would write for the module, loaded in memory as
    `nnfix diagnose` and `nnfix train` load a spec (LoadedSpec), and what nnfix says it inferred
    — the last line the command that saves it."""
    from nnfix.spec.load import load_text

    inferred, _printed = run(module, data)
    spec = {"name": Path(module).stem, **inferred.spec}
    text = yaml.safe_dump(spec, sort_keys=False, width=100, allow_unicode=True)
    loaded = load_text(text, spec_path(Path(module)), assignments)
    return loaded, [*inferred.said, f"save it as a spec: {save_command(Path(module), data)}"]


def at_module(exc: Any, module: Path, data: Path | None = None) -> Any:
    """An input error of the spec nnfix inferred, said of the module (the spec is no file):
    each problem at the module's line where it has one, the key it concerns in its message,
    and the command that writes the spec to settle it in."""
    from nnfix.errors import CommandLineError, InputError, OutputError, Problem, format_path

    if not isinstance(exc, InputError) or isinstance(exc, CommandLineError | OutputError):
        return exc
    problems = []
    for p in exc.problems:
        if p.file is not None and p.file != getattr(exc.source, "path", None):
            problems.append(p)
            continue
        key = format_path(p.path)
        message = f"{key}: {p.message}" if key and not p.message.startswith(key) else p.message
        hint = p.hint or f"write the spec to settle it: {save_command(module, data)}"
        problems.append(Problem(message, file=module, hint=hint, detail=p.detail))
    out = type(exc)(problems)
    out.__dict__.update({k: v for k, v in exc.__dict__.items() if k not in ("problems", "source")})
    return out


def _task(emit, module: Path, data: dict[str, Any] | None, request: Any) -> Inferred:
    return infer(module, data, request)
