"""Top-level statements the loader skipped that the code nnfix calls needs (SPEC §3.4): a
min-char-rnn script makes its parameters at top level (`Wxh = np.random.randn(hidden_size,
vocab_size) * 0.01`, the vocabulary read from its own text file beside it) and lossFun reads
them as globals. The assignments that bind the globals those functions read — and, in turn,
those the assignments read — are run in their order; a loop, a statement for its effect, or an
assignment from a call that trains, plots, saves, downloads or asks for input never is."""

from __future__ import annotations

import ast
import os
import re
import types
from collections.abc import Iterable
from typing import Any

from nnfix.usercode import sandbox
from nnfix.usercode.loader import LoadedModule, Skipped

# the callees whose statements are never re-run: what trains, plots, writes, downloads or asks
EFFECTS = re.compile(
    r"(^|\.)(fit\w*|train\w*|plot\w*|show|imshow|save\w*|dump|write\w*|download\w*|"
    r"urlretrieve|urlopen|input|system|remove|unlink|rmtree|makedirs|mkdir|sleep)$"
    r"|^(plt|matplotlib|requests|urllib|subprocess|shutil|os)\."
)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _names_read(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _targets(stmt: ast.Assign | ast.AnnAssign) -> set[str] | None:
    """The names an assignment binds; None where it binds anything else (`a[0] = …`)."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    names: set[str] = set()
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif not isinstance(node, ast.Tuple | ast.List | ast.Starred | ast.expr_context):
                return None
    return names


def _read_in(stmt: ast.With) -> set[str] | None:
    """The names `with open('input.txt') as f: data = f.read()` binds: a with block that opens
    files for reading and only assigns names."""
    for item in stmt.items:
        call = item.context_expr
        if not (isinstance(call, ast.Call) and _dotted(call.func) == "open"):
            return None
        modes = [*call.args[1:2], *(k.value for k in call.keywords if k.arg == "mode")]
        if any(
            not (isinstance(m, ast.Constant) and set(str(m.value)) <= set("rbt")) for m in modes
        ):
            return None
    names: set[str] = set()
    for inner in stmt.body:
        bound = _targets(inner) if isinstance(inner, ast.Assign | ast.AnnAssign) else None
        if not bound:
            return None
        names |= bound
    return names


def _has_effect(stmt: ast.stmt) -> bool:
    return any(
        isinstance(n, ast.Call) and EFFECTS.search(_dotted(n.func)) is not None
        for n in ast.walk(stmt)
    )


def rerunnable(stmt: ast.stmt) -> bool:
    """May this skipped statement be run for a name later code needs: an assignment to names,
    or a with block that only reads files into names, that calls nothing that trains, plots,
    saves, downloads or asks for input."""
    targets = _targets(stmt) if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
    if isinstance(stmt, ast.With):
        targets = _read_in(stmt)
    return bool(targets) and not _has_effect(stmt)


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def globals_read(module: types.ModuleType, roots: Iterable[str]) -> set[str]:
    """The global names the module's functions and classes named in `roots` read, and those of
    the module's functions and classes they read in turn."""
    namespace = vars(module)
    seen: set[str] = set()
    todo = [r.split(".")[0] for r in roots if r]
    names: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        names.add(name)
        value = namespace.get(name)
        codes: list[types.CodeType] = []
        if isinstance(value, types.FunctionType):
            codes.append(value.__code__)
        elif isinstance(value, type):
            codes += [v.__code__ for v in vars(value).values() if isinstance(v, types.FunctionType)]
        for code in codes:
            found = _code_names(code)
            names |= found
            todo += [n for n in found if n not in seen]
    return names


def _filename(loaded: LoadedModule, cell: int | None) -> str:
    return str(loaded.path) if cell is None else f"<notebook {loaded.path} cell {cell}>"


def rerun(loaded: LoadedModule, roots: Iterable[str]) -> list[Skipped]:
    """Run the skipped top-level assignments that bind a global the code named by `roots` reads
    and that is not bound, with the skipped assignments they read from in turn, in their order;
    the ones run are taken off `loaded.skipped` and returned. One that raises ends the re-run
    (what then is missing is the error of the call that needs it, at its line)."""
    namespace: dict[str, Any] = vars(loaded.module)
    where = {(s.place.cell, s.place.line): s for s in loaded.skipped}
    candidates: list[tuple[ast.stmt, int | None, set[str], Skipped]] = []
    for tree, cell in loaded.trees:
        for stmt in tree.body:
            skipped = where.get((cell, stmt.lineno))
            if skipped is None:
                continue
            if not rerunnable(stmt):
                continue
            if isinstance(stmt, ast.With):
                targets = _read_in(stmt)
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                targets = _targets(stmt)
            candidates.append((stmt, cell, targets or set(), skipped))
    needed = {n for n in globals_read(loaded.module, roots) if n not in namespace}
    chosen: list[tuple[ast.stmt, int | None, Skipped]] = []
    for stmt, cell, targets, skipped in reversed(candidates):
        if targets & needed:
            chosen.append((stmt, cell, skipped))
            needed |= {n for n in _names_read(stmt) if n not in namespace}
    chosen.reverse()
    done: list[Skipped] = []
    folder = loaded.path.parent

    def beside(code: types.CodeType) -> None:  # `open('input.txt')` reads the one beside it
        os.chdir(folder)  # (the guard puts the working folder back after the call)
        exec(code, namespace)

    for stmt, cell, skipped in chosen:
        code = compile(ast.Module(body=[stmt], type_ignores=[]), _filename(loaded, cell), "exec")
        try:
            sandbox.call("module", beside, code)
        except sandbox.UserCallError:
            break
        done.append(skipped)
    loaded.skipped = [s for s in loaded.skipped if s not in done]
    return done
