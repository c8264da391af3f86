"""The diagnosis of one spec: every check, stage by stage over one shared context, each stage
timed; then the findings linked once — dropped where another finding makes them noise, each
given the findings that explain it — filtered by --select/--ignore and located at spec lines.

Every stage a selected rule depends on runs whatever is selected, so --select and --ignore
change what is shown, never what is found."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from nnfix.diagnose import own, rules
from nnfix.diagnose.context import Context, Options
from nnfix.diagnose.findings import Finding, Fix, PassRun, Severity, SpecReport
from nnfix.diagnose.linking import link
from nnfix.diagnose.rules.rule import STAGES, USER_CODE, Check, Stage
from nnfix.diagnose.rules.usercode import U101, user_error
from nnfix.diagnose.series import Series
from nnfix.diagnose.series import record as record_series
from nnfix.diagnose.table import layer_table
from nnfix.errors import ModuleError, UserFunctionError
from nnfix.spec.load import LoadedSpec, uses_user_code
from nnfix.spec.overrides import role_path
from nnfix.usercode import absent, sandbox
from nnfix.usercode.model import SetupError
from nnfix.usercode.sandbox import Broken, Output, UserCallError


class Selection:
    """--select / --ignore: codes, code prefixes (G, T1) and rule names."""

    def __init__(
        self, select: list[str] | tuple[str, ...] = (), ignore: list[str] | tuple[str, ...] = ()
    ):
        self.select = self._codes(select) if select else set(rules.RULES)
        self.ignore = self._codes(ignore)

    @staticmethod
    def _codes(selectors) -> set[str]:
        """The codes the selectors name (each was checked where it was written: the command
        line, the spec's diagnose: section, pyproject.toml)."""
        return {r.code for selector in selectors for r in rules.matching(selector)}

    def __contains__(self, code: str) -> bool:
        return code in self.select and code not in self.ignore

    def shown(self) -> set[str]:
        return {code for code in rules.RULES if code in self}


def needed(codes: set[str]) -> set[str]:
    """`codes` and every rule that can explain, drop or change one of them, transitively —
    with the rules whose findings can become one of them — what must be computed so that
    their findings come out as they would with nothing selected."""
    out, todo = set(), list(codes)
    while todo:
        code = todo.pop()
        if code in out:
            continue
        out.add(code)
        rule = rules.RULES[code]
        todo += [c for cause in rule.causes for c in cause.codes] + list(rule.suppressed_by)
        if rule.becomes is not None:
            todo += [rule.becomes.code, *rule.becomes.when]
        todo += [r.code for r in rules.RULES.values() if r.becomes and r.becomes.code == code]
    return out


def _stages(checks: tuple[Check, ...], codes: set[str]) -> dict[Stage, list[Check]]:
    """The checks that report any of `codes`, by stage, in order."""
    plan: dict[Stage, list[Check]] = {stage: [] for stage in STAGES}
    for c in checks:
        if any(r.code in codes for r in c.rules):
            plan[c.stage].append(c)
    return plan


def _user_error(exc: UserFunctionError) -> Finding:
    return U101.finding(
        f"{exc.text!r} {exc}",
        path=exc.path,
        evidence={"traceback": exc.trace} if exc.trace else {},
    )


def _met(check: Check, ctx: Context, found: list[Finding]) -> list[Finding]:
    """For a check the budget skips: the error the user's code already raised (or timed out
    with) while nnfix found its way round it, when that check reports it and no check has —
    an error met is never lost to the budget. Nothing is called."""
    met = ctx.__dict__.get("_user")  # cached by the first check that asked, if any did
    if U101 not in check.rules or met is None or met[1] is None:
        return []
    if any(f.code == "U101" and f.severity == Severity.ERROR for f in found):
        return []
    return [user_error(met[1])]


def _run(check: Check, ctx: Context, found: list[Finding]) -> list[Finding]:
    """A check's findings; a user function that raised inside it is a U101 finding."""
    try:
        return check(ctx)
    except SetupError as exc:  # their code cannot be called as the spec says: bad input
        raise ModuleError([exc.problem()], ctx.loaded.source) from None
    except UserFunctionError as exc:
        return [_user_error(exc)]
    except Broken:
        return []  # the call that broke the worker was reported where it did
    except UserCallError as exc:  # the user's implementation, run by a probe
        if any(f.code in ("U101", "G103") for f in found):
            return []  # already reported where their code was checked
        return [user_error(exc)]


@dataclass
class CheckRun:
    """What one check found, and how long it took (or why it did not run)."""

    check: str
    stage: str
    findings: list[Finding]
    seconds: float
    skipped: str | None = None


ALWAYS = ("static", "derivatives")  # stages cheap enough to run past the budget: they need no
# forward pass of the net, and what they find (a wrong derivative, a bad init) is the most sure


@dataclass
class Collected:
    """What the checks of one spec produced, as they ran (here or in a worker)."""

    runs: dict[str, CheckRun] = field(default_factory=dict)
    running: str | None = None  # the check under way
    layers: list[dict] = field(default_factory=list)
    about: list[str] = field(default_factory=list)  # what was found of the user's code
    printed: Output | None = None
    series: Series | None = None

    def __call__(self, event: tuple) -> None:
        kind, payload = event
        if kind == "start":
            self.running = payload
        elif kind == "check":
            self.runs[payload.check] = payload
            self.running = None
        elif kind == "layers":
            self.layers = payload
        elif kind == "about":
            self.about = payload
        elif kind == "series":
            self.series = payload


def run_checks(
    ctx: Context,
    plan: dict[Stage, list[Check]],
    done: set[str],
    emit: Callable[[tuple], None],
) -> None:
    """Run the planned checks not `done`, telling `emit` each one's start and findings."""
    found: list[Finding] = []
    for stage, checks in plan.items():
        if stage.probe and ctx.options.quick:
            continue
        for c in checks:
            if c.name in done:
                continue
            if stage.name not in ALWAYS and ctx.options.remaining() <= 0:
                met = _met(c, ctx, found)
                found += met
                emit(("check", CheckRun(c.name, stage.name, met, 0.0, "--budget ran out")))
                continue
            emit(("start", c.name))
            start = time.perf_counter()
            findings = _run(c, ctx, found)
            found += findings
            emit(("check", CheckRun(c.name, stage.name, findings, time.perf_counter() - start)))
    if sandbox.GUARD.threads:
        emit(("check", CheckRun("threads", "your code", _threads(sandbox.GUARD.threads), 0.0)))
    emit(("layers", _quietly(layer_table, ctx)))
    emit(("about", _quietly(about, ctx)))
    emit(("series", _recorded(ctx)))


def _threads(left: dict[str, str]) -> list[Finding]:
    """A U101 warning for each of the user's functions that left a thread running."""
    return [
        U101.finding(
            f"{role} started a thread that was still running when it returned ({target}): a "
            "script that calls it never ends, as Python waits for every non-daemon thread",
            path=role_path(role),
            evidence={"thread": target},
            severity=Severity.WARNING,
            fix=Fix("join the thread before returning, or start it with daemon=True"),
        )
        for role, target in left.items()
    ]


def _quietly(part: Callable[[Context], list], ctx: Context) -> list:
    """A part of the report's header, or nothing when the user's code fails in it (the checks
    that called it have already reported how, as U101)."""
    try:
        return part(ctx)
    except (UserFunctionError, UserCallError, Broken):
        return []


def _recorded(ctx: Context) -> Series | None:
    """What the plots draw, or nothing when the user's code fails in it (as in `_quietly`)."""
    try:
        return record_series(ctx)
    except (UserFunctionError, UserCallError, Broken):
        return None


def about(ctx: Context) -> list[str]:
    """What nnfix found of the user's code, for the report's header."""
    if ctx.spec.implementation is None:
        return []
    if ctx.y_train is None:  # no targets to call it with: the checks skipped it, D103 says why
        return ["not run: your code (the targets do not fit the output layer: see D103)"]
    model, _ = ctx._user
    lines = [*ctx.loaded.notes, *(model.found.lines() if model is not None else [])]
    module = ctx.user_module
    if module is not None and module.skipped:
        shown = ", ".join(f"line {s.place.line}" for s in module.skipped[:3])
        more = ", …" if len(module.skipped) > 3 else ""
        lines.append(
            f"not run: {len(module.skipped)} top-level statements of {module.path.name} "
            f"({shown}{more}; `run_module: true` runs them)"
        )
    if module is not None and module.missing:
        lines.append(absent.note(module.missing))  # SPEC §3.3
    return lines


def _worker_task(emit, loaded: LoadedSpec, plan, options: Options, done: set[str]) -> None:
    with np.errstate(all="ignore"):
        if loaded.spec.model is None:  # the user's code is the network (SPEC §3.1)
            own.run((loaded, options), done, emit)
        else:
            run_checks(Context(loaded, options), plan, done, emit)


RESTARTS = 5  # workers started at most for one spec, past calls that killed or hung one


def _contained(loaded: LoadedSpec, plan, options: Options, collected: Collected) -> None:
    """Run the checks in a worker; a call that ends or hangs it is a U101 finding for the
    check it was in, and a fresh worker carries on with the rest (skipping that call)."""
    impl = loaded.spec.implementation
    timeout = impl.timeout if impl is not None else 30.0
    broken: dict[str, str] = {}
    stage_of = {c.name: stage.name for stage, checks in plan.items() for c in checks}
    for _ in range(RESTARTS):
        try:
            result = sandbox.run(
                _worker_task,
                loaded,
                plan,
                options,
                set(collected.runs),
                timeout=timeout,
                broken=broken,
                on_event=collected,
            )
            collected.printed = result.output
            return
        except sandbox.WorkerDied as exc:
            role = exc.role or "your code"
            path = role_path(exc.role)
            finding = U101.finding(f"{role} {exc}", path=path)
            name = collected.running
            if name is None:  # not in a check: loading their code, or after the checks
                collected.runs["(loading your code)"] = CheckRun(
                    "loading", "your code", [finding], 0
                )
                return
            collected.runs[name] = CheckRun(name, stage_of.get(name, ""), [finding], 0.0)
            collected.running = None
            broken[exc.role or ""] = str(exc)


def diagnose(loaded: LoadedSpec, selection: Selection, options: Options) -> SpecReport:
    """Run the checks stage by stage over one context: in a worker process when the spec
    names the user's own code, so nothing it does can end, hang or garble nnfix."""
    if loaded.spec.model is None:  # their code is the network: only its own check runs
        plan = {stage: [own.OWN_CHECK] if stage == USER_CODE else [] for stage in STAGES}
    else:
        plan = _stages(rules.CHECKS, needed(selection.shown()))
    collected = Collected()
    if options.deadline is None:
        options = replace(options, deadline=time.perf_counter() + options.budget)
    with np.errstate(all="ignore"):  # non-finite values are findings (D101, T103), not warnings
        if uses_user_code(loaded) and sandbox.can_fork():
            _contained(loaded, plan, options, collected)
        else:
            _worker_task(collected, loaded, plan, options, set())
    return _assemble(loaded, selection, plan, options, collected)


def _assemble(
    loaded: LoadedSpec,
    selection: Selection,
    plan: dict[Stage, list[Check]],
    options: Options,
    collected: Collected,
) -> SpecReport:
    report = SpecReport(spec=str(loaded.path), name=loaded.name)
    shown = selection.shown()
    for stage, checks in plan.items():
        codes = tuple(r.code for c in checks for r in c.rules if r.code in shown)
        if not checks:
            why = "not selected" if loaded.spec.model is not None else own.SKIPPED
            report.passes.append(PassRun(stage.name, 0.0, why, codes))
        elif stage.probe and options.quick:
            report.passes.append(PassRun(stage.name, 0.0, "--quick", codes))
        else:
            runs = [r for r in collected.runs.values() if r.stage == stage.name]
            seconds = sum(r.seconds for r in runs)
            late = [r.check for r in runs if r.skipped]
            why = None
            if late and len(late) == len(runs):
                why = "--budget ran out"
            elif late:
                why = f"in part: --budget ran out before {', '.join(late)}"
            report.passes.append(PassRun(stage.name, seconds, why, codes))
    found = [f for run in collected.runs.values() for f in run.findings]
    findings = link(found)
    for f in findings:
        f.caused_by = [c for c in f.caused_by if c in shown]
        if f.location.path:
            _, mark = loaded.source.locate(tuple(f.location.path))
            if mark is not None:
                f.location.line, f.location.col = mark.line, mark.col
    report.findings = [f for f in findings if f.code in shown]
    report.layers = collected.layers
    report.about = collected.about
    report.series = collected.series
    if collected.printed is not None and collected.printed.lines:
        report.printed = collected.printed.first
        report.printed_lines = collected.printed.lines
    return report
