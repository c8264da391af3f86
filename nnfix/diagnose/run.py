"""`nnfix diagnose` without its display: each spec loaded, configured and diagnosed, into one
report; a spec that cannot be read is kept aside as an input error (exit 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nnfix.diagnose import rules
from nnfix.diagnose.config import Config, find_pyproject, from_pyproject, resolve
from nnfix.diagnose.context import Options
from nnfix.diagnose.findings import Report
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.errors import CommandLineError, InputError, Problem, SpecError
from nnfix.init import nospec
from nnfix.report.errors import input_problems
from nnfix.spec.load import LoadedSpec, load_spec
from nnfix.spec.model import DiagnoseSpec


@dataclass
class Outcome:
    report: Report
    config: Config  # as flags and pyproject give it (each spec may add its own diagnose:)
    errors: list[InputError] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The worst: 2 a spec could not be read, 1 a finding at or above fail-on, else 0."""
        if self.errors:
            return 2
        return 1 if self.report.failed else 0


def run(
    paths: list[Path],
    flags: dict,
    assignments: tuple[str, ...] = (),
    quick: bool = False,
    data: Path | None = None,
) -> Outcome:
    try:
        project = from_pyproject(find_pyproject(Path.cwd()))
        _check_selectors(flags)
        nospec.check_data(paths, data)
    except InputError as exc:  # nothing can be diagnosed: still one report, in its format
        base = resolve(flags, DiagnoseSpec(), {})
        outcome = Outcome(Report([], fail_on=base.fail_on), base, [exc])
        outcome.report.errors += input_problems(exc, "")
        return outcome
    base = resolve(flags, DiagnoseSpec(), project)
    outcome = Outcome(Report([], fail_on=base.fail_on), base)
    for path in paths:
        try:
            inferred: list[str] = []
            if nospec.is_code(path):  # a .py or notebook without a spec (SPEC §3.7)
                loaded, inferred = nospec.load(path, assignments, data)
            else:
                loaded = load_spec(path, assignments)
            _check_section(loaded)
            config = resolve(flags, loaded.spec.diagnose, project)
            selection = Selection(config.select, config.ignore)
            options = Options(quick=quick, budget=config.budget, gradcheck=config.gradcheck)
            spec_report = diagnose(loaded, selection, options)
        except InputError as exc:
            if nospec.is_code(path):
                exc = nospec.at_module(exc, path, data)
            outcome.errors.append(exc)
            outcome.report.errors += input_problems(exc, str(path))
            continue
        spec_report.fail_on = config.fail_on
        if inferred:
            spec_report.inferred = inferred
            _at_their_lines(spec_report, path)
        ran = {c for p in spec_report.passes if not p.skipped for c in p.codes}
        outcome.report.checked = (outcome.report.checked or set()) | {
            c for c in ran if c in selection
        }
        outcome.report.specs.append(spec_report)
    return outcome


def _check_selectors(flags: dict) -> None:
    """--select and --ignore name rules, codes or prefixes: exit 2 naming the option if not."""
    problems = [
        Problem(f"--{key} {selector!r}: {why}")
        for key in ("select", "ignore")
        for selector in flags.get(key) or ()
        if (why := rules.unknown(selector))
    ]
    if problems:
        raise CommandLineError(problems)


def _check_section(loaded: LoadedSpec) -> None:
    """The spec's own diagnose.select / diagnose.ignore, at their lines."""
    section = loaded.spec.diagnose
    problems = [
        Problem(why, path=("diagnose", key, i))
        for key in ("select", "ignore")
        for i, selector in enumerate(getattr(section, key))
        if (why := rules.unknown(selector))
    ]
    if problems:
        raise SpecError(problems, loaded.source)


def _at_their_lines(report, path: Path) -> None:
    """Findings of an inferred spec point at the module: at their line, else at no line (the
    spec they would be located in is not a file)."""
    report.spec = str(path)
    for f in report.findings:
        source = f.location.source
        f.location.line = source.line if source is not None else None
        f.location.col = source.col if source is not None else None
