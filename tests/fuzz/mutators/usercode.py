"""User code: an `implementation:` module from examples/ or a `file.py:function` reference
made hostile (exits, BaseExceptions, hangs, input(), threads, closed stdout, chdir, floods of
output), returning NaN/inf/'abc'/None/wrong shapes, or not importable at all."""

from __future__ import annotations

import random
import re

from tests.fuzz.case import FIFO, LINK, Case
from tests.fuzz.corpus import by_origin, implementations
from tests.fuzz.mutators import mutator
from tests.fuzz.mutators.tree import pick

# name -> statements run when the function is called; the exit code they try to force
HOSTILE: dict[str, tuple[str, int | None]] = {
    "sys_exit_0": ("import sys\nsys.exit(0)", 0),
    "sys_exit_5": ("import sys\nsys.exit(5)", 5),
    "os_exit_3": ("import os\nos._exit(3)", 3),
    "quit": ("quit()", 0),
    "raise_SystemExit": ("raise SystemExit(7)", 7),
    "raise_GeneratorExit": ("raise GeneratorExit", None),
    "raise_KeyboardInterrupt": ("raise KeyboardInterrupt", None),
    "raise_BaseException": ("raise BaseException('boom')", None),
    "raise_StopIteration": ("raise StopIteration", None),
    "raise_MemoryError": ("import numpy\nnumpy.ones(10**12)", None),
    "infinite_recursion": ("def _again(n):\n    return _again(n + 1)\n_again(0)", None),
    "atexit_os_exit": ("import atexit, os\natexit.register(os._exit, 4)", 4),
    "input_closed_stdin": ("input('continue? ')", None),
    "close_stdout": ("import sys\nsys.stdout.close()", None),
    "close_fd_1": ("import os\nos.close(1)", None),
    "replace_stdout": ("import os, sys\nsys.stdout = open(os.devnull, 'w')", None),
    "chdir": ("import os\nos.chdir('@ROOT@')", None),  # a folder above the case's (never '/')
    "print_flood": ("for _i in range(20000):\n    print('spam', _i)", None),
    "print_stderr": (
        "import sys\nfor _i in range(2000):\n    print('warn', _i, file=sys.stderr)",
        None,
    ),
    "print_json": ("print('{\"nnfix_report\": 1}')", None),
    "print_escapes": ("print('\\x1b[2J\\x1b[31mred\\x07')", None),
    "warn": ("import warnings\nwarnings.warn('careful', RuntimeWarning)", None),
    "set_recursionlimit": ("import sys\nsys.setrecursionlimit(40)", None),
}
# the bodies that end the call with an exception or an exit: each must become a finding
ENDS_THE_CALL = {
    name
    for name in HOSTILE
    if name.startswith(("raise_", "sys_exit", "os_exit"))
    or name in ("quit", "infinite_recursion", "input_closed_stdin")
}
# statements that never return (while nnfix must): each runs past any timeout
WAITING = ("sleep", "input_open_stdin", "non_daemon_thread")  # those that use no CPU meanwhile
HANGS: dict[str, str] = {
    "while_true": "while True:\n    pass",
    "sleep": "import time\ntime.sleep(1000)",
    "input_open_stdin": "input('continue? ')",
    "non_daemon_thread": "import threading, time\nthreading.Thread(target=time.sleep, args=(1000,)).start()",
}
# what the function returns instead of its arrays: applied to every array (and float) it returns
RETURNS = {
    "nan": "_np.full_like(v, _np.nan)",
    "inf": "_np.full_like(v, _np.inf)",
    "huge": "_np.full_like(v, 1e308)",
    "abc": "'abc'",
    "none": "None",
    "transposed": "_np.asarray(v).T",
    "wrong_shape": "_np.zeros((3, 7))",
    "ints": "_np.asarray(v).astype(int)",
    "complex": "_np.asarray(v).astype(complex)",
    "object": "_np.array([None] * _np.size(v), dtype=object)",
    "scalar": "1.0",
}
WHOLE = {  # replacing what the function returns as a whole
    "return_None": "None",
    "return_str": "'abc'",
    "return_list": "list(out.values()) if isinstance(out, dict) else [out]",
    "return_empty": "{}",
    "return_generator": "(x for x in [out])",
    "return_self_nested": "_cycle()",
    "return_first_nan": "_first_nan(out)",
}

HELPERS = """

def _fuzz_map(v, f):
    if isinstance(v, dict):
        return {k: _fuzz_map(x, f) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return type(v)(_fuzz_map(x, f) for x in v)
    if isinstance(v, _np.ndarray | float):
        return f(v)
    return v


def _cycle():
    d = {}
    d["dW1"] = d
    return d


def _first_nan(out):
    if isinstance(out, dict):
        key = next((k for k in out if str(k).lower() in ("dw1", "w1")), next(iter(out), None))
        if key is not None:
            out = {**out, key: _np.full_like(_np.asarray(out[key], dtype=float), _np.nan)}
    return out


def _fuzz_out(out):
    return WHOLE


def _fuzz_value(v):
    return EACH
"""


def _roles(case: Case) -> dict[str, tuple[str, str]]:
    """role -> (file, function) of the user's functions the spec names."""
    data = case.data() or {}
    impl = data.get("implementation")
    roles = {}
    if isinstance(impl, dict) and isinstance(impl.get("module"), str):
        for role in ("forward", "backward", "loss"):
            if isinstance(impl.get(role), str):
                roles[role] = (impl["module"], impl[role])
    for match in re.finditer(r"(\w+\.py):(\w+)", case.spec.decode("utf-8", "replace")):
        roles.setdefault(f"ref:{match[2]}", (match[1], match[2]))
    return {role: fn for role, fn in roles.items() if fn[0] in case.files}


def _user_case(rng: random.Random, case: Case, refs: float = 0.3) -> Case:
    """`case` if it runs user code, else an examples/ implementation or the reference seed."""
    if _roles(case):
        return case
    seed = by_origin("refs") if rng.random() < refs else pick(rng, list(implementations()))
    return case.but(spec=seed.spec, files=dict(seed.files), origin=seed.origin)


def _function_span(lines: list[str], name: str) -> tuple[int, int] | None:
    """(index of the first body line, index after the last) of top-level `def name`."""
    start = next((i for i, line in enumerate(lines) if line.startswith(f"def {name}(")), None)
    if start is None:
        return None
    body = start
    while not lines[body].rstrip().endswith(":"):
        body += 1
    end = body + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith((" ", "\t"))):
        end += 1
    return body + 1, end


def inject(source: str, name: str, statements: str) -> str:
    """`statements` run first thing in function `name` (at the top of the module if absent)."""
    lines = source.split("\n")
    span = _function_span(lines, name)
    if span is None:
        return source + "\n" + statements + "\n"
    indented = ["    " + line for line in statements.split("\n")]
    return "\n".join(lines[: span[0]] + indented + lines[span[0] :])


def wrap_returns(source: str, name: str, whole: str = "out", each: str = "v") -> str:
    """Every `return X` of function `name` returns _fuzz_out(X), with the helpers appended."""
    lines = source.split("\n")
    span = _function_span(lines, name)
    if span is None:
        return source
    for i in range(*span):
        lines[i] = re.sub(r"^(\s+)return (.+)$", r"\1return _fuzz_out(\2)", lines[i])
    helpers = HELPERS.replace("WHOLE", whole).replace("EACH", each)
    return "\n".join(lines) + "\nimport numpy as _np\n" + helpers


def _target(rng: random.Random, case: Case) -> tuple[Case, str, str]:
    """A user case, and the file and function of one of its roles, chosen at random."""
    case = _user_case(rng, case)
    roles = _roles(case)
    file, function = roles[pick(rng, sorted(roles))]
    return case, file, function


def _source(case: Case, file: str) -> str:
    return case.files[file].decode("utf-8", "replace")


def make_hostile(case: Case, file: str, function: str, name: str, at_import: bool = False) -> Case:
    """`case` with the statements HOSTILE[name] or HANGS[name] run by `function` in `file`
    (or at the end of the module when `at_import`)."""
    statements, exit_code = HOSTILE.get(name) or (HANGS[name], None)
    source = _source(case, file)
    if _function_span(source.split("\n"), function) is None:
        at_import = True  # not a function of the file (a class call): the module's end, as
        # inject would put it, where nnfix does not run top-level statements
    if at_import:
        source = source + "\n" + statements + "\n"
    else:
        source = inject(source, function, statements)
    stdin = "open" if name == "input_open_stdin" else case.stdin
    where = f"import of {file}" if at_import else f"{file}:{function}"
    return case.but(
        files={**case.files, file: source.encode()},
        hostile_exit=exit_code,
        stdin=stdin,
        waits=name in WAITING,
        expect_finding=not at_import and (name in ENDS_THE_CALL or name in HANGS),
        notes=[*case.notes, f"{name} in {where}"],
    )


def _gradient(case: Case, file: str, function: str) -> bool:
    """Whether `function` computes gradients: the implementation's backward, or a derivative
    or loss gradient given as file.py:function."""
    if _roles(case).get("backward") == (file, function):
        return True
    text = case.spec.decode("utf-8", "replace")
    return bool(re.search(rf"(derivative|gradient):\s*['\"]?{re.escape(file)}:{function}\b", text))


def make_returns(case: Case, file: str, function: str, name: str) -> Case:
    """`case` with `function` returning RETURNS[name] for each array, or WHOLE[name]."""
    if name in RETURNS:
        source = wrap_returns(
            _source(case, file), function, "_fuzz_map(out, _fuzz_value)", RETURNS[name]
        )
    else:
        source = wrap_returns(_source(case, file), function, WHOLE[name])
    note = f"{name} returned by {file}:{function}"
    # gradients that are not numbers, not finite or of the wrong shape must become findings
    # (a complex array or a list in layer order may pass as a convention)
    dicts = _roles(case).get("backward") == (file, function)
    bad = name not in ("complex", "return_list") and (dicts or name != "return_first_nan")
    return case.but(
        files={**case.files, file: source.encode()},
        expect_finding=bad and _gradient(case, file, function),
        notes=[*case.notes, note],
    )


@mutator("usercode", level=0)
def code_hostile(rng: random.Random, case: Case) -> Case:
    """A hostile statement first thing in one of the user's functions (or at import)."""
    case, file, function = _target(rng, case)
    return make_hostile(case, file, function, pick(rng, sorted(HOSTILE)), rng.random() < 0.15)


@mutator("usercode", level=0, hangs=True)
def code_hang(rng: random.Random, case: Case) -> Case:
    """A statement that never returns, in one of the user's functions (or at import)."""
    case, file, function = _target(rng, case)
    return make_hostile(case, file, function, pick(rng, sorted(HANGS)), rng.random() < 0.15)


@mutator("usercode", level=0)
def code_returns(rng: random.Random, case: Case) -> Case:
    """One of the user's functions returns NaN, inf, 'abc', None, wrong shapes, a list…"""
    case, file, function = _target(rng, case)
    return make_returns(case, file, function, pick(rng, sorted(RETURNS) + sorted(WHOLE)))


# name -> a line that makes the module unimportable (or, "_in_function", fail when called)
BROKEN: dict[str, bytes] = {
    "syntax_error": b"def (:\n",
    "unclosed_paren": b"x = (1,\n",
    "tab_error": b"if True:\n\tx = 1\n        y = 2\n",
    "nul_byte": b"\x00\n",
    "latin1_byte": b"# caf\xe9 in latin-1\n",
    "unknown_coding": b"# -*- coding: nope -*-\n",
    "missing_package": b"import nnfix_fuzz_missing_package\n",
    "missing_name": b"from numpy import nnfix_fuzz_missing_name\n",
    "return_outside": b"return 1\n",
    "braces": b"from __future__ import braces\n",
    "missing_package_in_function": b"import nnfix_fuzz_missing_package",
}
# name -> how the spec misnames the function, or what the module file really is
MISNAMED = {
    "function_misspelt": None,
    "function_np": "np",
    "function_builtins": "__builtins__",
    "function_print": "print",
    "module_txt": ".txt",
    "module_no_suffix": "",
    "module_ipynb": ".ipynb",
    "module_pyc": ".pyc",
    "module_fifo": FIFO,
    "module_dev_zero": LINK + b"/dev/zero",
    "module_folder": LINK + b".",
    "module_empty": b"",
}


def make_unimportable(case: Case, file: str, function: str, name: str) -> Case:
    """`file` with the line BROKEN[name] at its top (or first thing in `function`)."""
    broken = BROKEN[name]
    if name.endswith("_in_function"):
        content = inject(_source(case, file), function, broken.decode()).encode()
    else:
        content = broken + case.files[file]
    note = f"{name} in {file}"
    return case.but(files={**case.files, file: content}, notes=[*case.notes, note])


def make_misnamed(case: Case, file: str, function: str, name: str) -> Case:
    """The spec names a function that is not one, or a module that is no Python file."""
    what, spec = MISNAMED[name], case.spec.decode("utf-8", "replace")
    notes = [*case.notes, f"{name} for {file}:{function}"]
    if name.startswith("function"):
        spec = re.sub(rf"\b{function}\b", what or function[:-1], spec, count=1)
        return case.but(spec=spec.encode(), notes=notes)
    if isinstance(what, str):
        new = file.rsplit(".", 1)[0] + what
        files = {n: c for n, c in case.files.items() if n != file}
        files[new] = case.files[file]
        return case.but(spec=spec.replace(file, new).encode(), files=files, notes=notes)
    return case.but(files={**case.files, file: what}, notes=notes)


@mutator("usercode", level=0)
def code_unimportable(rng: random.Random, case: Case) -> Case:
    """The user's module has a syntax error, a missing import, or bytes Python cannot read;
    or imports a missing package inside a function, where it fails only when called."""
    case, file, function = _target(rng, case)
    return make_unimportable(case, file, function, pick(rng, sorted(BROKEN)))


@mutator("usercode", level=0)
def code_names(rng: random.Random, case: Case) -> Case:
    """The spec names a function or module that is not there or not a Python file."""
    case, file, function = _target(rng, case)
    return make_misnamed(case, file, function, pick(rng, sorted(MISNAMED)))
