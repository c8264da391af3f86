"""A spec read off the user's module in memory (SPEC §3.7, `nnfix diagnose my_net.py`): the
shapes of §3.2 the module could be — the object or parameters built by the call the module
itself makes (at top level, under `if __name__ == "__main__":`, in a notebook cell), its
functions or methods ranked for each role, its top-level training loop — each tried as
`nnfix diagnose` will run it, on a batch of the width the code accepts, and the first that runs
kept; or the one question that settles what the values could not."""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nnfix.init import roles
from nnfix.usercode import survey
from nnfix.usercode.calls import CallSyntaxError, parse_call
from nnfix.usercode.loader import LoadedModule

SAMPLES = 64  # a generated source: enough for the probes, small for the calls
DEFAULT_HIDDEN = [8, 8]  # hidden widths where nothing in the module fixes them
TRIED = 6  # candidates of one role tried, best named first
DATA_WORDS = ("x", "y", "data", "input", "label", "target", "train", "test", "image")
BUILDERS = ("add", "set", "compile", "finalize", "finalise", "build", "initialise", "initialize")


@dataclass
class Question:
    """What the values could not settle: the one question, and the spec key that answers it."""

    text: str
    key: str


@dataclass
class Inferred:
    """The spec nnfix found for a module: its YAML data, what was inferred, one line each."""

    spec: dict[str, Any] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)
    question: Question | None = None

    def text(self) -> str:
        return yaml.safe_dump(self.spec, sort_keys=False, width=100, allow_unicode=True)


@dataclass
class Candidate:
    """One way the module could be called: its `implementation:` keys and what they mean."""

    impl: dict[str, Any]
    shape: str  # "A functions", "B object", ...
    widths: list[tuple[int, int]] = field(default_factory=list)  # (inputs, outputs) to try
    assumed: str = ""  # what nnfix chose where the module fixes nothing


# --- the module's own calls ---------------------------------------------------------------------


def _blocks(loaded: LoadedModule) -> Iterator[tuple[list[ast.stmt], int | None]]:
    """The statement blocks the module runs as a script: the top level of each cell and the
    body of `if __name__ == "__main__":` (and of a top-level `def main()` it calls)."""
    for tree, cell in loaded.trees:
        yield tree.body, cell
        for stmt in tree.body:
            if isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test):
                yield stmt.body, cell
            if isinstance(stmt, ast.FunctionDef) and stmt.name == "main":
                yield stmt.body, cell


def _callee(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return f"{func.value.id}.{func.attr}"
    return None


class _Literals(ast.NodeTransformer):
    """A call as the module makes it, with the names it bound to literals put in, and its data
    (`X_train`, `y`) standing as X and Y."""

    def __init__(self, env: dict[str, Any]):
        self.env = env

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.env:
            return ast.copy_location(ast.parse(repr(self.env[node.id]), mode="eval").body, node)
        data = _data_name(node.id)
        return ast.copy_location(ast.Name(data, ast.Load()), node) if data else node


def _data_name(name: str) -> str | None:
    low = name.lower()
    if low in ("x", "inputs", "features", "images") or low.startswith(("x_", "train_x")):
        return "X"
    if low in ("y", "labels", "targets") or low.startswith(("y_", "train_y")):
        return "Y"
    return None


def _env(stmts: list[ast.stmt]) -> dict[str, Any]:
    """Names a block binds to literals (`layers_dims = [2, 20, 7, 5, 1]`), as it binds them."""
    env: dict[str, Any] = {}
    for stmt in stmts:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                try:
                    env[target.id] = ast.literal_eval(_Literals(env).visit(stmt.value))
                except (ValueError, SyntaxError, TypeError):
                    env.pop(target.id, None)
    return env


@dataclass
class _Made:
    """`name = Callee(...)` in a block the module runs, and the building calls after it."""

    name: str
    callee: str
    call: str  # the call, with literals and X, Y
    statements: list[str]  # the call and the building calls on the object after it
    line: int
    ints: list[list[int]]  # the integers of each call inside it, in order


def _ints(node: ast.expr) -> list[list[int]]:
    """The positive integers each call inside `node` is given (in lists too), call by call."""
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            found = [
                n.value
                for a in [*sub.args, *(k.value for k in sub.keywords)]
                for n in ([a] if isinstance(a, ast.Constant) else getattr(a, "elts", []))
                if isinstance(n, ast.Constant) and type(n.value) is int and n.value > 0
            ]
            if found:
                out.append(found)
    return out


def made(loaded: LoadedModule, names: set[str]) -> list[_Made]:
    """Every `target = f(...)` with f one of `names`, in a block the module runs as a script."""
    out: list[_Made] = []
    for stmts, _cell in _blocks(loaded):
        env = _env(stmts)
        for i, stmt in enumerate(stmts):
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
                continue
            target, callee = stmt.targets[0], _callee(stmt.value)
            if not isinstance(target, ast.Name) or callee is None:
                continue
            if callee.split(".")[-1] not in names:
                continue
            value = _Literals(env).visit(ast.parse(ast.unparse(stmt.value), mode="eval").body)
            call = ast.unparse(value)
            statements = [f"{target.id} = {call}"]
            for after in stmts[i + 1 :]:
                if not isinstance(after, ast.Expr):
                    continue
                called = _callee(after.value)
                if called is None or not called.startswith(target.id + "."):
                    continue
                method = called.split(".", 1)[1]
                if roles.words(method).startswith(BUILDERS):
                    text = ast.unparse(_Literals(env).visit(after.value))
                    statements.append(text)
            out.append(_Made(target.id, callee, call, statements, stmt.lineno, _ints(value)))
    return out


def _parses(call: str) -> bool:
    try:
        parse_call(call, names=True)
    except CallSyntaxError:
        return False
    return True


def _model_key(m: _Made) -> str | list[str]:
    if len(m.statements) == 1 and _parses(m.call):
        return m.call
    return m.statements


def _widths(ints: list[list[int]]) -> list[tuple[int, int]]:
    """(inputs, outputs) the integers of a model's calls could mean: a list of sizes gives its
    ends; layer calls, a width of the first and a width of the last."""
    if not ints:
        return []
    first, last = ints[0], ints[-1]
    pairs = [(first[0], last[-1])]
    pairs += [(a, b) for a in first[:2] for b in last[:2]]
    if len(ints) == 1 and len(first) > 1:
        pairs.insert(1, (first[0], first[-1]))
    return list(dict.fromkeys(p for p in pairs if p[0] > 0 and p[1] > 0))[:6]


# --- candidates of each shape -------------------------------------------------------------------


def _ranked(items: dict[str, Any], role: str) -> list[str]:
    return [name for name, _ in roles.ranked(items, role) if not roles.avoided(name, role)]


def _losses(items: dict[str, Any]) -> list[str]:
    """The one function or method whose name says loss or cost, if any (never a forward)."""
    return [n for n in _ranked(items, "loss") if roles.tier(n, "loss") == 0][:1]


def _training(name: str) -> bool:
    low = roles.words(name)
    return any(w in low for w in ("train", "fit", "learn", "sgd", "epoch"))


def _steps(items: dict[str, Any]) -> list[str]:
    avoid = ("save", "plot", "load", "print", "test", "evaluate", "show")
    low = {n: roles.words(n) for n in items}
    return [n for n in items if _training(n) and not any(w in low[n] for w in avoid)]


def _objects(loaded: LoadedModule, classes: dict[str, type], assumed: bool = False) -> list:
    """An object (§3.2 B, D) built by the call the module makes; or (`assumed`), for a class the
    module never builds, built with nnfix's widths as its constructor takes them."""
    builds: list[tuple[type, str | list[str], list[tuple[int, int]], str, str]] = []
    if not assumed:
        for m in made(loaded, set(classes)):
            cls = classes.get(m.callee.split(".")[-1])
            if cls is not None:
                builds.append((cls, _model_key(m), _widths(m.ints), "", m.call))
    else:
        from nnfix.init.sizes import _size_calls

        for name, cls in roles.ranked(classes, "model")[:3]:
            for n_in, k in ((4, 3), (2, 1)):
                for hidden in (DEFAULT_HIDDEN[:1], DEFAULT_HIDDEN):
                    for args, kwargs in _size_calls(cls, [n_in, *hidden, k])[:1]:
                        call = survey.call_text(name, tuple(args), kwargs)
                        said = f"nothing in {loaded.path.name} builds a {name}: nnfix built {call}"
                        builds.append((cls, call, [(n_in, k)], said, call))
    out = []
    for cls, model, widths, said, call in builds:
        if roles.is_layer(cls) or roles.is_loss(cls):
            continue
        methods = survey.methods(cls)
        forwards = _ranked(methods, "forward")[:TRIED]
        losses = _losses(methods)
        backwards = [
            n for n in _ranked(methods, "backward") if not _training(n) and n not in losses
        ][:TRIED]
        steps = _steps(methods)[:TRIED]
        for forward in [*forwards] or [""]:
            for role, fn in [*(("backward", b) for b in backwards), *(("step", s) for s in steps)]:
                if fn == forward:
                    continue
                impl: dict[str, Any] = {"model": model}
                if forward:
                    impl["forward"] = forward
                impl[role] = fn
                for loss in [*losses, None]:
                    one = dict(impl, loss=loss) if loss else impl
                    out.append(Candidate(one, f"an object: {call}", widths, said))
    return out


def _inits(
    loaded: LoadedModule, functions: dict[str, Any], assumed: bool
) -> list[tuple[str, list, str]]:
    """The calls that create the parameters as the module makes them; or (`assumed`), where it
    makes none, an init function given nnfix's widths (said as assumed)."""
    found = [
        (m.call, _widths(m.ints), "")
        for m in made(loaded, set(functions))
        if not roles.avoided(m.callee, "init") and roles.tier(m.callee, "init") == 0
    ]
    if not assumed or found:
        return [] if assumed else found
    from nnfix.init.sizes import _size_calls

    out = []
    for name in _ranked(functions, "init")[:2]:
        if roles.tier(name, "init") != 0:
            continue
        for n_in, k in ((4, 3), (2, 1)):
            sizes = [n_in, *DEFAULT_HIDDEN, k]
            for args, kwargs in _size_calls(functions[name], sizes)[:1]:
                call = survey.call_text(name, tuple(args), kwargs)
                out.append(
                    (
                        call,
                        [(n_in, k)],
                        f"nothing in {loaded.path.name} calls {name}: nnfix called it for "
                        f"{n_in} inputs, {k} output{'s' * (k != 1)} and hidden widths "
                        f"{DEFAULT_HIDDEN}",
                    )
                )
    return out


def _initialises(name: str) -> bool:
    return roles.words(name).startswith(("init", "initiali"))


def _functions(
    loaded: LoadedModule, functions: dict[str, Any], assumed: bool = False
) -> list[Candidate]:
    """Module functions (§3.2 A) over the parameters its own init call creates; `assumed`: over
    those of an init function it never calls, given nnfix's widths."""
    named = {n: f for n, f in functions.items() if not _initialises(n)}
    forwards = _ranked(named, "forward")[:TRIED]
    backwards = [n for n in _ranked(named, "backward") if not _training(n)][:TRIED]
    steps = _steps(named)[:2]
    losses = _losses(named)
    inits = _inits(loaded, functions, assumed)
    if not inits:
        return []
    out = []
    for model, widths, said in inits:
        for forward in forwards:
            for role, fn in [*(("backward", b) for b in backwards), *(("step", s) for s in steps)]:
                if fn == forward or fn in losses:
                    continue
                impl: dict[str, Any] = {"forward": forward, role: fn}
                if model:
                    impl = {"model": model, **impl}
                for loss in [*losses, None]:
                    one = dict(impl, loss=loss) if loss else impl
                    out.append(Candidate(one, "functions", widths, said))
    return out


def _chained(loaded: LoadedModule, classes: dict[str, type]) -> list[Candidate]:
    """Layer objects the script makes one by one (`dense1 = Layer_Dense(2, 64)`), chained as
    its own forward calls chain them: the first takes the data, each next takes the one
    before's `.output` (a layer its forward leaves out of the chain stays out)."""
    made_by = {
        m.name: m for m in made(loaded, set(classes)) if len(m.statements) == 1
    }  # fmt: skip
    takes: dict[str, str] = {}  # layer variable -> what its forward is given
    for tree, _cell in loaded.trees:
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if not (isinstance(owner, ast.Name) and owner.id in made_by and node.args):
                continue
            if node.func.attr == "forward" and owner.id not in takes:
                takes[owner.id] = ast.unparse(node.args[0])
    layer = {
        v: classes[made_by[v].callee.split(".")[-1]]
        for v in takes
        if made_by[v].callee.split(".")[-1] in classes
    }
    chain = [
        v for v, given in takes.items() if _data_name(given) == "X" and roles.is_layer(layer[v])
    ]
    while chain:
        nxt = [v for v, given in takes.items() if given == f"{chain[-1]}.output" and v not in chain]
        used = set(takes.values())  # a layer whose output nothing takes is a dead end
        nxt.sort(key=lambda v: f"{v}.output" not in used)
        if not nxt or not roles.is_layer(layer[nxt[0]]):
            break
        chain.append(nxt[0])
    if len(chain) < 2:
        return []
    impl: dict[str, Any] = {"layers": [made_by[v].call for v in chain]}
    losses = [m.call for v, m in made_by.items() if roles.is_loss(classes.get(m.callee, object))]
    if losses:
        impl["loss"] = losses[0]
    return [Candidate(impl, "layer objects, chained as your loop chains them")]


def _layers(loaded: LoadedModule, classes: dict[str, type], functions: dict) -> list[Candidate]:
    calls = survey.literal_calls(loaded, set(classes))
    by_block: dict[int, list[survey.LiteralCall]] = {}
    for c in calls:
        by_block.setdefault(c.block, []).append(c)
    out = []
    for block in by_block.values():
        layer_calls = [
            c for c in block if (cls := classes.get(c.name)) is not None and roles.is_layer(cls)
        ]
        loss_calls = [
            c for c in block if (cls := classes.get(c.name)) is not None and roles.is_loss(cls)
        ]
        if len(layer_calls) < 2:
            continue
        impl: dict[str, Any] = {"layers": [c.text for c in layer_calls]}
        pairs = [(n, n + "_prime") for n in functions if n + "_prime" in functions]
        pairs += [(n, n + "_derivative") for n in functions if n + "_derivative" in functions]
        if loss_calls:
            impl["loss"] = loss_calls[0].text
        elif pairs:
            impl["loss"] = list(pairs[0])
        ints = [list(c.args) for c in layer_calls if all(type(a) is int for a in c.args)]
        out.append(Candidate(impl, "layer objects", _widths([i for i in ints if i])))
    return out


def _script(loaded: LoadedModule) -> list[Candidate]:
    loops = [
        s
        for stmts, _ in _blocks(loaded)
        for s in stmts
        if isinstance(s, ast.For | ast.While)
        and any(isinstance(n, ast.AugAssign | ast.Assign) for n in ast.walk(s))
    ]
    return [Candidate({"script": True}, "a script: its top-level training loop")] if loops else []


def _engines(loaded: LoadedModule, classes: dict[str, type]) -> list[Candidate]:
    """An autograd engine of the user's own (§3.2 F): a class whose operations keep
    `_backward` closures and `.grad`, and a model class with `parameters()` built by the call
    the module makes — or, where it makes none, given nnfix's widths (said as assumed)."""
    out = []
    for name, cls in classes.items():
        source = _source(cls)
        if not ("backward" in dir(cls) and "_backward" in source and "grad" in source):
            continue
        models = {
            n: c for n, c in classes.items() if n != name and "parameters" in dir(c)
        }  # fmt: skip
        builds = [
            (_model_key(m), _widths(m.ints), "")
            for m in made(loaded, set(models))
        ]  # fmt: skip
        if not builds:
            for model_name, _ in roles.ranked(models, "model")[:2]:
                for n_in, k in ((3, 1), (4, 3)):
                    call = f"{model_name}({n_in}, {[*DEFAULT_HIDDEN[:1], k]})"
                    said = (
                        f"nothing in {loaded.path.name} builds a {model_name}: nnfix built {call}"
                    )
                    builds.append((call, [(n_in, k)], said))
        for model, widths, said in builds:
            cls_name = (model if isinstance(model, str) else model[0]).split("(")[0]
            model_cls = models.get(cls_name.split("=")[-1].strip())
            methods = survey.methods(model_cls) if model_cls is not None else {}
            forward = "forward" if "forward" in methods else "__call__"
            impl = {"engine": name, "model": model, "forward": forward}
            shape = f"an autograd engine of your own: {name}"
            out.append(Candidate(impl, shape, widths, said))
            out.append(Candidate(dict(impl, per_sample="vector"), shape, widths, said))
    return out


def _source(obj: Any) -> str:
    import inspect

    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def candidates(loaded: LoadedModule) -> tuple[list[Candidate], list[Candidate]]:
    """The shapes the module could be, the likeliest first: those its own calls build, and
    those tried after init --from's exploration (nnfix's widths, its top-level loop)."""
    functions = survey.functions(loaded)
    classes = survey.classes(loaded)
    own = [
        *_engines(loaded, classes),
        *_chained(loaded, classes),
        *_layers(loaded, classes, functions),
        *_objects(loaded, classes),
        *_functions(loaded, functions),
    ]
    later = [
        *_objects(loaded, classes, assumed=True),
        *_functions(loaded, functions, assumed=True),
        *_script(loaded),
    ]
    return own, later


# --- trying them --------------------------------------------------------------------------------


def _generated(n_in: int, k: int) -> dict[str, Any]:
    from nnfix.init.guess import generated

    value = dict(generated(n_in, k, "bce" if k == 1 else "cce", "sigmoid").value)
    value["samples"] = SAMPLES
    return value


@dataclass
class _Tried:
    ok: bool
    why: str = ""
    net: Any = None
    grads: Any = None


def _try(spec: dict[str, Any], at: Path) -> _Tried:
    """The spec run as `nnfix diagnose` builds it: its code called, its gradients read."""
    from nnfix.diagnose.context import Options
    from nnfix.diagnose.own import OwnContext
    from nnfix.errors import InputError
    from nnfix.spec.load import load_text
    from nnfix.usercode.model import SetupError
    from nnfix.usercode.sandbox import Broken, UserCallError

    text = yaml.safe_dump(spec, sort_keys=False)
    try:
        with np.errstate(all="ignore"):
            loaded = load_text(text, at)
            if loaded.spec.model is not None:  # a declared network: built as diagnose builds it
                return _declared(loaded)
            ctx = OwnContext(loaded, Options(quick=True))
            ctx.net.build()
            grads = ctx.net.gradients()
    except InputError as exc:
        return _Tried(False, "; ".join(p.message for p in exc.problems))
    except (SetupError, UserCallError, Broken) as exc:
        return _Tried(False, str(exc))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError) as exc:
        return _Tried(False, f"{type(exc).__name__}: {exc}")
    tensors = [p.slot.name for p in ctx.net.tensors]
    if not tensors or len(grads.missing) >= len(tensors):
        return _Tried(False, "no gradient of its parameters found")
    if len(grads.wrong) >= len(tensors):  # no gradient of its shape: misread, not their bug
        return _Tried(False, "no gradient has its parameter's shape")
    return _Tried(True, net=ctx.net, grads=grads)


def _declared(loaded: Any) -> _Tried:
    from nnfix.run.prepare import prepare
    from nnfix.usercode.build import build
    from nnfix.usercode.network import batch

    prepared = prepare(loaded, "float64")
    if prepared.y_train is None:
        return _Tried(False, "the data's targets do not fit the output layer")
    rows = slice(0, 32)
    some = batch(prepared.data.x_train[rows], prepared.y_train[rows])
    model, _ = build(loaded, prepared.network, some)
    grads = model.gradients(some)  # their backward runs on this network, or it is not theirs
    if grads.missing and len(grads.missing) >= len(prepared.network.names):
        return _Tried(False, "no gradient of its parameters found")
    return _Tried(True, net=model, grads=grads)


def _script_loss(net: Any) -> Any:
    """The built-in loss whose value is a number one pass of their loop computes (the `loss`
    it prints), on the output and the targets it computed; else the one that goes with the
    output (ten sigmoid outputs: binary cross-entropy, never a cross-entropy D104 rejects)."""
    from nnfix.init import guess

    ns = net.ns
    try:
        out, y = net._value(net.out_name), net._value(net.target_name)
    except (KeyError, NameError, AttributeError, SyntaxError, TypeError):
        return None
    if not (isinstance(out, np.ndarray) and isinstance(y, np.ndarray)):
        return None
    out, y = np.asarray(out, dtype=float), np.asarray(y, dtype=float)
    if y.shape != out.shape:
        return None
    if out.ndim == 1:
        out, y = out[:, None], y[:, None]
    if net.columns:
        out, y = out.T, y.T
    output = _output_kind(out)
    bound = {
        t.id for stmt in net.body for n in ast.walk(stmt) if isinstance(n, ast.Assign)
        for t in n.targets if isinstance(t, ast.Name)
    }  # fmt: skip
    for name in sorted(bound, key=lambda n: not any(w in n.lower() for w in ("loss", "cost"))):
        value = ns.get(name)
        if isinstance(value, float | np.floating) or (
            isinstance(value, np.ndarray) and value.size == 1
        ):
            number = float(np.asarray(value).reshape(()))
            if math.isfinite(number) and number > 0:
                found = guess.by_value(number, out, y, output)
                if found:
                    return found[0].spec
    return guess.natural(output, out.shape[1]).spec


def _output_kind(out: np.ndarray) -> str:
    if np.all((out > 0) & (out < 1)):
        return "softmax" if out.shape[1] > 1 and np.allclose(out.sum(axis=1), 1) else "sigmoid"
    return "linear"


def _datas(c: Candidate, data: dict[str, Any] | None) -> list[tuple[dict[str, Any] | None, int]]:
    """The data to call a candidate on, with the outputs it has: theirs, or generated of the
    widths its calls give (none for a script, which makes its own)."""
    if data is not None:
        return [(data, 0)]
    if c.impl.get("script"):
        return [(None, 0)]
    widths = c.widths or [(2, 1), (4, 3), (2, 3), (4, 1)]
    return [(_generated(n_in, k), k) for n_in, k in widths]


def _variants(c: Candidate) -> list[dict[str, Any]]:
    """The candidate's keys, then as code that takes one sample at a time (a vector, then a
    column) where it takes no batch."""
    if c.impl.get("script") or c.impl.get("per_sample") or c.impl.get("layers"):
        return [c.impl]
    return [c.impl, {**c.impl, "per_sample": "vector"}, {**c.impl, "per_sample": "column"}]


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
        for (value, k), keys in ((d, v) for v in _variants(c) for d in _datas(c, data)):
            spec: dict[str, Any] = {"seed": 0}
            if value is not None:
                spec["data"] = value
            impl = {"module": module.name, **keys}
            spec["implementation"] = impl
            if impl.get("script"):
                spec["loss"] = "mse"
            if impl.get("engine"):  # their graph ends at the output: nnfix's loss of it
                spec["loss"] = "mse" if k <= 1 else "cce"
            tried = _try(spec, at)
            if tried.ok and impl.get("script"):
                loss = _script_loss(tried.net)
                if loss is not None and loss != "mse":
                    spec["loss"] = loss
                    tried = _try(spec, at)
            if not tried.ok:
                first_failure = first_failure or f"{_describe(c.impl)}: {tried.why}"
                if "loss your backward differentiates" in tried.why and not asked:
                    asked.append(_loss_question(c, module))
                continue
            return Inferred(spec, _said(c, spec, tried))
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
            asked.extend(_role_question(inference.undecided, loaded.path) if not asked else [])
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
                asked.append(_loss_question(Candidate(keys, ""), loaded.path))
            continue
        spec = yaml.safe_load(render.spec_text(inference, at, key, "nnfix diagnose"))
        spec.pop("name", None)
        spec["diagnose"] = {"ignore": ["T1"]}  # nnfix's lr, data and widths, not their code's
        if "data" in spec and data is None:
            spec["data"]["samples"] = min(spec["data"].get("samples", SAMPLES), SAMPLES)
        tried = _try(spec, at)
        if not tried.ok:
            continue
        c = Candidate(spec["implementation"], inference.shape or "functions")
        fixed = layers is not None and not inference.sizes_how
        if layers is not None:
            c.assumed = (
                f"nothing in {loaded.path.name} fixes the layer sizes: nnfix chose "
                f"{inference.units} (settle them in model: of the saved spec)"
            )
        said = _said(c, spec, tried)
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


ROLES = ("forward", "backward", "loss", "step")
FITTED = ("sigmoid", "softmax")  # outputs whose usual loss (bce, cce) is a safe guess


def _loss_question(c: Candidate, module: Path) -> Question:
    """Code whose backward nnfix can call but whose loss it cannot find or read off."""
    return Question(
        f"nnfix can call your code ({_describe(c.impl)}) but finds no loss function whose "
        "gradient your backward computes: which loss does it differentiate?",
        f"loss: (bce | cce | mse, with scale: 0.5 for ½‖a − y‖²) in the spec "
        f"`nnfix init --from {module.name} spec.yaml` writes",
    )


def _role_question(undecided: list[str], module: Path) -> list[Question]:
    """`forward: forward or forward_pass — both do the same on nnfix's batch` as the question
    of which one is meant, answered by that key of the spec `init --from` writes."""
    for text in undecided:
        role, _, rest = text.partition(": ")
        if role in ROLES and " or " in rest:
            choices, _, why = rest.partition(" — ")
            because = f" ({why})" if why else ""
            return [
                Question(
                    f"which is your {role}: {choices}?{because}",
                    f"implementation.{role} in the spec `nnfix init --from {module.name} spec.yaml` "
                    "writes",
                )
            ]
    return []


def _describe(impl: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in impl.items() if k != "module")


def _said(c: Candidate, spec: dict[str, Any], tried: _Tried) -> list[str]:
    impl = spec["implementation"]
    net = tried.net
    lines = [f"shape: {c.shape}"]
    role_keys = ("model", "layers", "engine", "forward", "backward", "step", "loss")
    roles_text = " · ".join(
        f"{k}: {_short(impl[k])}" for k in role_keys if k in impl and k != "layers"
    )
    if "layers" in impl:
        roles_text = f"layers: {', '.join(impl['layers'])}" + (
            f" · {roles_text}" if roles_text else ""
        )
    if roles_text:
        lines.append(f"roles: {roles_text}")
    names = [p.slot.name for p in net.tensors] if hasattr(net, "tensors") else []
    if names:
        shown = ", ".join(names[:6]) + (", …" if len(names) > 6 else "")
        lines.append(f"parameters: {len(names)} arrays that move the loss ({shown})")
    if "model" in spec:
        widths = [layer.get("units") for layer in spec["model"].get("layers", [])]
        lines.append(
            f"parameters: the weights and biases of {len(widths)} layers, as model: declares"
        )
    if "data" in spec:
        d = spec["data"]
        lines.append(f"data: {_flow(d)}")
    else:
        lines.append("data: the data your script makes itself")
    if isinstance(spec.get("loss"), str | dict):
        lines.append(f"loss: {_flow(spec['loss'])}")
    if c.assumed:
        lines.append(f"assumed: {c.assumed}")
    return lines


def _flow(value: Any) -> str:
    """A spec value as one line of YAML: `{name: mse, scale: 0.5}`."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text[:-4].strip() if text.endswith("...") else text


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


# --- the entry: in nnfix's worker, for `nnfix diagnose` and `nnfix train` -------------------------

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
