"""The ways a module could be called (SPEC §3.7), for `nnfix diagnose my_net.py`: the object or
parameters built by the call the module itself makes (at top level, under `if __name__ ==
"__main__":`, in a notebook cell), its functions or methods ranked for each role, its top-level
training loop, each a Candidate of `implementation:` keys."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nnfix.init import roles
from nnfix.usercode import survey
from nnfix.usercode.calls import CallSyntaxError, parse_call
from nnfix.usercode.loader import LoadedModule

DEFAULT_HIDDEN = [8, 8]  # hidden widths where nothing in the module fixes them
TRIED = 6  # candidates of one role tried, best named first
DATA_WORDS = ("x", "y", "data", "input", "label", "target", "train", "test", "image")
BUILDERS = ("add", "set", "compile", "finalize", "finalise", "build", "initialise", "initialize")


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
