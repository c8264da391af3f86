"""The pass pipeline: ordered passes over one shared context, each timed, their findings
filtered by --select/--ignore and located at spec lines."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnfix.diagnose import rules
from nnfix.diagnose.context import Context, Options
from nnfix.diagnose.findings import Finding, Fix, Location, PassRun, Severity, SpecReport
from nnfix.errors import SpecPath, UserFunctionError
from nnfix.implementation.adapter import UserCallError
from nnfix.spec.load import LoadedSpec


@dataclass(frozen=True)
class Pass:
    """A diagnostic pass: the rules it can report, its checks (run in order, each seeing what
    the ones before found), and whether --quick skips it."""

    name: str
    codes: tuple[str, ...]
    checks: tuple[Callable[[Context], list[Finding]], ...]
    probe: bool = False  # a training probe: skipped by --quick


def finding(
    code: str,
    message: str,
    *,
    layer: int | None = None,
    parameter: str | None = None,
    path: SpecPath = (),
    evidence: dict | None = None,
    fix: Fix | None = None,
    caused_by: list[str] | None = None,
    severity: Severity | None = None,
) -> Finding:
    """A finding of rule `code`, its name and default severity taken from the catalog."""
    rule = rules.RULES[code]
    return Finding(
        code=code,
        name=rule.name,
        severity=severity or rule.severity,
        message=message,
        location=Location(layer=layer, parameter=parameter, path=path),
        evidence=evidence or {},
        fix=fix,
        caused_by=caused_by or [],
    )


class Selection:
    """--select / --ignore: codes, code prefixes (G, T1) and rule names."""

    def __init__(
        self, select: list[str] | tuple[str, ...] = (), ignore: list[str] | tuple[str, ...] = ()
    ):
        self.select = self._codes(select) if select else set(rules.RULES)
        self.ignore = self._codes(ignore)

    @staticmethod
    def _codes(selectors) -> set[str]:
        from nnfix.errors import InputError, Problem, did_you_mean

        codes: set[str] = set()
        problems = []
        for selector in selectors:
            matched = rules.matching(selector)
            if not matched:
                names = [*rules.RULES, *(r.name for r in rules.RULES.values())]
                problems.append(
                    Problem(
                        f"unknown rule or prefix '{selector}'", hint=did_you_mean(selector, names)
                    )
                )
            codes |= {r.code for r in matched}
        if problems:
            raise InputError(problems, kind="command line")
        return codes

    def __contains__(self, code: str) -> bool:
        return code in self.select and code not in self.ignore


def _user_error(exc: UserFunctionError) -> Finding:
    return finding(
        "U101",
        f"{exc.text!r} {exc}",
        path=exc.path,
        evidence={"traceback": exc.trace} if exc.trace else {},
    )


def _locate(f: Finding, loaded: LoadedSpec) -> None:
    if not f.location.path:
        return
    _, mark = loaded.source.locate(tuple(f.location.path))
    if mark is not None:
        f.location.line, f.location.col = mark.line, mark.col


def diagnose(
    loaded: LoadedSpec, passes: list[Pass], selection: Selection, options: Options
) -> SpecReport:
    """Run the passes in order over one context; a pass none of whose rules are selected is skipped."""
    with np.errstate(all="ignore"):  # non-finite values are findings (D101, T103), not warnings
        return _diagnose(loaded, passes, selection, options)


def _diagnose(
    loaded: LoadedSpec, passes: list[Pass], selection: Selection, options: Options
) -> SpecReport:
    report = SpecReport(spec=str(loaded.path), name=loaded.name)
    ctx = Context(loaded, options)
    for p in passes:
        if not any(code in selection for code in p.codes):
            report.passes.append(PassRun(p.name, 0.0, "not selected", p.codes))
            continue
        if p.probe and options.quick:
            report.passes.append(PassRun(p.name, 0.0, "--quick", p.codes))
            continue
        start = time.perf_counter()
        for check in p.checks:
            try:
                ctx.findings += check(ctx)
            except UserFunctionError as exc:
                ctx.findings.append(_user_error(exc))
            except UserCallError as exc:  # the user's implementation, run by a probe
                if not ctx.has("U101") and not ctx.has("G103"):  # a wrong shape is G103's already
                    evidence = {"traceback": exc.trace} if exc.trace else {}
                    ctx.findings.append(
                        finding(
                            "U101",
                            str(exc),
                            path=("implementation", exc.function),
                            evidence=evidence,
                        )
                    )
        report.passes.append(PassRun(p.name, time.perf_counter() - start, None, p.codes))
    known = {f.code for f in ctx.findings}
    for f in ctx.findings:
        f.caused_by = [c for c in f.caused_by if c in known and c in selection]
        _locate(f, loaded)
    report.findings = [f for f in ctx.findings if f.code in selection]
    report.layers = layer_table(ctx)
    return report


def layer_table(ctx: Context) -> list[dict]:
    """Per-layer figures at init for the report's table."""
    rows = []
    init = ctx.init
    for l, layer in enumerate(ctx.spec.model.layers, start=1):
        row = {
            "layer": l,
            "units": layer.units,
            "activation": layer.activation.name,
            "init": (layer.init or ctx.spec.model.init).name,
        }
        if init is not None:
            z, a, g = init.cache.z[l - 1], init.cache.a[l - 1], init.grads[2 * (l - 1)]
            row |= {
                "z_std": float(z.std()),
                "a_std": float(a.std()),
                "grad_norm": float((g * g).sum() ** 0.5),
            }
        rows.append(row)
    return rows
