"""The diagnosis of one spec: every check, stage by stage over one shared context, each stage
timed; then the findings linked once — dropped where another finding makes them noise, each
given the findings that explain it — filtered by --select/--ignore and located at spec lines.

Every stage a selected rule depends on runs whatever is selected, so --select and --ignore
change what is shown, never what is found."""

from __future__ import annotations

import time

import numpy as np

from nnfix.diagnose import rules
from nnfix.diagnose.context import Context, Options
from nnfix.diagnose.findings import Finding, PassRun, SpecReport
from nnfix.diagnose.rules.rule import STAGES, Check, Stage
from nnfix.diagnose.rules.usercode import U101
from nnfix.errors import CommandLineError, Problem, UserFunctionError, did_you_mean
from nnfix.implementation.adapter import UserCallError
from nnfix.spec.load import LoadedSpec


class Selection:
    """--select / --ignore: codes, code prefixes (G, T1) and rule names."""

    def __init__(
        self, select: list[str] | tuple[str, ...] = (), ignore: list[str] | tuple[str, ...] = ()
    ):
        self.select = self._codes(select) if select else set(rules.RULES)
        self.ignore = self._codes(ignore)

    @staticmethod
    def _codes(selectors) -> set[str]:
        codes: set[str] = set()
        problems = []
        for selector in selectors:
            matched = rules.matching(selector)
            if not matched:
                names = [*rules.RULES, *(r.name for r in rules.RULES.values())]
                hint = did_you_mean(selector, names)
                problems.append(Problem(f"unknown rule or prefix '{selector}'", hint=hint))
            codes |= {r.code for r in matched}
        if problems:
            raise CommandLineError(problems)
        return codes

    def __contains__(self, code: str) -> bool:
        return code in self.select and code not in self.ignore

    def shown(self) -> set[str]:
        return {code for code in rules.RULES if code in self}


def needed(codes: set[str]) -> set[str]:
    """`codes` and every rule that can explain or drop one of them, transitively: what must be
    computed so that their findings come out as they would with nothing selected."""
    out, todo = set(), list(codes)
    while todo:
        code = todo.pop()
        if code in out:
            continue
        out.add(code)
        rule = rules.RULES[code]
        todo += [c for cause in rule.causes for c in cause.codes] + list(rule.suppressed_by)
    return out


def _stages(checks: tuple[Check, ...], codes: set[str]) -> dict[Stage, list[Check]]:
    """The checks that report any of `codes`, by stage, in order."""
    plan: dict[Stage, list[Check]] = {stage: [] for stage in STAGES}
    for c in checks:
        if any(r.code in codes for r in c.rules):
            plan[c.stage].append(c)
    return plan


def link(findings: list[Finding]) -> list[Finding]:
    """Drop the findings another one makes noise of; give each the codes of the findings that
    explain it, most direct first (for layered causes, the nearest layer first)."""
    present = {f.code for f in findings}
    kept = [f for f in findings if not present & set(rules.RULES[f.code].suppressed_by)]
    for f in kept:
        codes: list[str] = []
        for cause in rules.RULES[f.code].causes:
            if cause.when is not None and not cause.when(f):
                continue
            matches = [g for g in kept if cause.explains(g, f)]
            matches.sort(key=lambda g: (g.location.layer or 0) - (f.location.layer or 0))
            codes += [g.code for g in matches]
        f.caused_by = list(dict.fromkeys(codes))
    return kept


def _user_error(exc: UserFunctionError) -> Finding:
    return U101.finding(
        f"{exc.text!r} {exc}",
        path=exc.path,
        evidence={"traceback": exc.trace} if exc.trace else {},
    )


def _run(check: Check, ctx: Context, found: list[Finding]) -> list[Finding]:
    """A check's findings; a user function that raised inside it is a U101 finding."""
    try:
        return check(ctx)
    except UserFunctionError as exc:
        return [_user_error(exc)]
    except UserCallError as exc:  # the user's implementation, run by a probe
        if any(f.code in ("U101", "G103") for f in found):
            return []  # already reported where their code was checked
        evidence = {"traceback": exc.trace} if exc.trace else {}
        return [U101.finding(str(exc), path=("implementation", exc.function), evidence=evidence)]


def diagnose(loaded: LoadedSpec, selection: Selection, options: Options) -> SpecReport:
    """Run the checks stage by stage over one context."""
    with np.errstate(all="ignore"):  # non-finite values are findings (D101, T103), not warnings
        return _diagnose(loaded, selection, options)


def _diagnose(loaded: LoadedSpec, selection: Selection, options: Options) -> SpecReport:
    report = SpecReport(spec=str(loaded.path), name=loaded.name)
    ctx = Context(loaded, options)
    shown = selection.shown()
    found: list[Finding] = []
    for stage, checks in _stages(rules.CHECKS, needed(shown)).items():
        codes = tuple(r.code for c in checks for r in c.rules if r.code in shown)
        if not checks:
            report.passes.append(PassRun(stage.name, 0.0, "not selected", codes))
            continue
        if stage.probe and options.quick:
            report.passes.append(PassRun(stage.name, 0.0, "--quick", codes))
            continue
        start = time.perf_counter()
        for c in checks:
            found += _run(c, ctx, found)
        report.passes.append(PassRun(stage.name, time.perf_counter() - start, None, codes))
    findings = link(found)
    for f in findings:
        f.caused_by = [c for c in f.caused_by if c in shown]
        if f.location.path:
            _, mark = loaded.source.locate(tuple(f.location.path))
            if mark is not None:
                f.location.line, f.location.col = mark.line, mark.col
    report.findings = [f for f in findings if f.code in shown]
    report.layers = layer_table(ctx)
    return report


def layer_table(ctx: Context) -> list[dict]:
    """Per-layer figures at init for the report's table."""
    rows = []
    init = ctx.init
    weight_grads = ctx.network.weight_grads(init.grads) if init is not None else []
    for l, layer in enumerate(ctx.spec.model.layers, start=1):
        row = {
            "layer": l,
            "units": layer.units,
            "activation": layer.activation.name,
            "init": ctx.init_name(l),
        }
        if init is not None:
            z, a, g = init.cache.z[l - 1], init.cache.a[l - 1], weight_grads[l - 1]
            row |= {
                "z_std": float(z.std()),
                "a_std": float(a.std()),
                "grad_norm": float((g * g).sum() ** 0.5),
            }
        rows.append(row)
    return rows
