"""The `nnfix` command line: parse, call, render, exit. Heavy imports wait until needed."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path

import click

from nnfix import __version__
from nnfix.report.formats import NAMES as FORMATS

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _guarded(command):
    """Bad input becomes a located message and exit 2; Ctrl-C exit 130; never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from nnfix.errors import InputError
        from nnfix.report.console import stderr
        from nnfix.report.errors import render_input_error

        # NumPy's RuntimeWarnings (an all-NaN slice, an overflow) are what nnfix measures and
        # reports as findings (D101, T103, G101 non-finite), never lines of its own output
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return command(*args, **kwargs)
        except InputError as exc:
            render_input_error(exc, stderr())
            sys.exit(EXIT_INPUT)
        except KeyboardInterrupt:
            stderr().print("interrupted", style="yellow")
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            from nnfix.interrupts import interrupted_by

            if interrupted_by(exc):  # a Ctrl-C, come out as another exception
                stderr().print("interrupted", style="yellow")
                sys.exit(EXIT_INTERRUPTED)
            if os.environ.get("NNFIX_DEBUG"):
                raise
            stderr().print(
                f"nnfix: internal error: {type(exc).__name__}: {exc}\n"
                "This is a bug in nnfix, not in your spec. Run again with NNFIX_DEBUG=1 for the traceback.",
                style="bold red",
                highlight=False,
            )
            sys.exit(EXIT_INPUT)

    return wrapper


class _Group(click.Group):
    """Click's standalone mode turns Ctrl-C into "Aborted!" and exit 1; nnfix's contract is
    "interrupted" and exit 130 wherever the signal lands, also while click parses or a command
    imports what it needs. The rest of standalone mode is click's, unchanged."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        from nnfix.interrupts import exit_interrupted, interrupted_by

        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.Abort as exc:
            if not isinstance(exc.__cause__, KeyboardInterrupt):
                click.echo("Aborted!", err=True)
                sys.exit(1)
            exit_interrupted()
        except KeyboardInterrupt:
            exit_interrupted()
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except Exception as exc:  # from a command's imports, before it could guard itself
            if interrupted_by(exc):
                exit_interrupted()
            raise
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)  # an int: the code of a click Exit


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="nnfix")
def main() -> None:
    """nnfix: find out why your from-scratch neural network does not learn."""


set_option = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a spec key by dotted path, e.g. --set train.lr=0.01 (repeatable).",
)


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@set_option
@click.option(
    "--epochs", type=click.IntRange(min=1), help="Train this many epochs instead of train.epochs."
)
@click.option("--seed", type=int, help="Use this seed instead of the spec's.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),  # a str: '' must stay '' to be refused as such
    help="Run directory, new or empty (default runs/<name>/<n>/).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar or progress lines.")
@click.option(
    "--format", "fmt", type=click.Choice(["rich", "json"]), default="rich", show_default=True
)
@click.option(
    "--compare",
    is_flag=True,
    help="With an implementation: also train nnfix's engine from the same init and show where the curves part.",
)
@click.option(
    "--data",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A csv/npz/npy data file for a .py or notebook given without a spec.",
)
@_guarded
def train(spec: Path, assignments, epochs, seed, out, no_progress, fmt, compare, data) -> None:
    """Train SPEC (or your .py / notebook, without one) with nnfix's engine; save a run directory."""
    import json

    from nnfix.errors import InputError, ModuleError, Problem, UserFunctionError
    from nnfix.init import nospec
    from nnfix.report.console import stderr, stdout
    from nnfix.report.progress import TrainProgress
    from nnfix.report.train_summary import error_json, render_summary
    from nnfix.run.training import train as run_training
    from nnfix.spec.load import load_spec
    from nnfix.usercode.sandbox import UserCallError

    # --epochs and --seed are overrides like any other, so the saved spec reproduces the run
    extra = ([f"train.epochs={epochs}"] if epochs else []) + (
        [f"seed={seed}"] if seed is not None else []
    )
    try:
        nospec.check_data([spec], data)
        if nospec.is_code(spec):  # a .py or notebook without a spec (SPEC §3.7)
            loaded, inferred = nospec.load(spec, [*assignments, *extra], data)
            if fmt != "json":
                for line in inferred:
                    stderr().print(f"inferred: {line}", style="dim", highlight=False)
        else:
            loaded = load_spec(spec, [*assignments, *extra])
        with TrainProgress(stderr(), enabled=not no_progress) as progress:
            try:
                result = run_training(
                    loaded,
                    out=out,
                    compare=compare,
                    on_start=lambda total: progress.start(total, loaded.name),
                    on_epoch=progress.epoch,
                )
            except UserFunctionError as exc:
                raise ModuleError([exc.problem()], loaded.source) from None
            except UserCallError as exc:
                problem = Problem(str(exc), path=("implementation", exc.function), detail=exc.trace)
                raise ModuleError([problem], loaded.source) from None
    except InputError as exc:
        if nospec.is_code(spec):  # the inferred spec is no file: said of their module
            exc = nospec.at_module(exc, spec, data)
        if fmt == "json":  # stdout stays one JSON document for the script that reads it
            click.echo(error_json(exc, str(spec)))
        raise exc from None
    if fmt == "json":
        click.echo(json.dumps(result.summary, indent=2))
    else:
        render_summary(result.summary, stdout())
    if result.interrupted:
        sys.exit(EXIT_INTERRUPTED)


def _codes(values: tuple[str, ...]) -> tuple[str, ...]:
    """--select A,B --select C -> ('A', 'B', 'C')."""
    return tuple(c.strip() for v in values for c in v.split(",") if c.strip())


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--select",
    multiple=True,
    metavar="CODES",
    help="Only these rules: codes, prefixes (G, T1) or names, comma-separated.",
)
@click.option(
    "--ignore", multiple=True, metavar="CODES", help="Skip these rules: codes, prefixes or names."
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info", "never"]),
    help="Exit 1 at findings of this severity or worse [default: error].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    help="Report format [default: rich].",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),  # a str: '' must stay '' to be refused as such
    help="Write the report here, in --format or as its suffix asks (.json, .sarif, .html and .svg with plots, …); the terminal keeps the rich report.",
)
@click.option("--quick", is_flag=True, help="Skip the training probes.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Every symptom with its evidence, the per-layer table and the pass timings.",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds for the training probes [default: 10].",
)
@set_option
@click.option(
    "--data",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A csv/npz/npy data file for a .py or notebook given without a spec.",
)
@_guarded
def diagnose(
    specs, select, ignore, fail_on, fmt, output, quick, verbose, budget, assignments, data
) -> None:
    """Find out why SPEC (or your .py / notebook, without one) does not learn: one report."""
    from nnfix.diagnose.run import run
    from nnfix.report import diagnose_output
    from nnfix.report.console import stderr, stdout
    from nnfix.report.errors import render_input_error

    flags = {
        "select": _codes(select),
        "ignore": _codes(ignore),
        "fail_on": fail_on,
        "format": fmt,
        "budget": budget,
    }
    diagnose_output.check(output, fmt)  # before the diagnosis: none of it is run for nothing
    outcome = run(list(specs), flags, assignments, quick=quick, data=data)
    for error in outcome.errors:
        render_input_error(error, stderr())
    diagnose_output.emit(outcome, output, stdout(), verbose=verbose)
    sys.exit(outcome.exit_code)


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "--write", is_flag=True, help="Edit SPEC (and your code's mechanical fixes) in place."
)
@click.option(
    "--verify",
    is_flag=True,
    help="Show before → after: verdict, findings, and the loss and accuracy of both trained briefly.",
)
@click.option(
    "--select",
    multiple=True,
    metavar="CODES",
    help="Only the fixes of these rules: codes, prefixes (A, T1) or names, comma-separated.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info", "never"]),
    help="Exit 1 when findings of this severity or worse are left after the fixes [default: error].",
)
@click.option("--quick", is_flag=True, help="Diagnose without the training probes.")
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds for each diagnosis [default: 10].",
)
@_guarded
def fix(spec: Path, write, verify, select, fail_on, quick, budget) -> None:
    """Apply the fixes the diagnosis of SPEC carries: a diff, or --write it; --verify proves it."""
    from nnfix.fix import write as writing
    from nnfix.fix.run import repair
    from nnfix.report.console import stdout
    from nnfix.report.fix_output import render

    if write:
        writing.check_writable(spec)  # before the diagnosis: none of it is run for nothing
    result = repair(
        spec, {"fail_on": fail_on, "budget": budget}, _codes(select), quick=quick, verify=verify
    )
    if write:
        writing.write(result)
    render(result, stdout(), written=write)
    sys.exit(result.exit_code)


@main.command()
@click.argument("rule")
@_guarded
def explain(rule: str) -> None:
    """Document a rule: what it detects, why it breaks training, how to fix it."""
    from nnfix.diagnose import rules
    from nnfix.errors import CommandLineError, Problem, did_you_mean
    from nnfix.report.console import stdout
    from nnfix.report.rules import render_rule

    found = rules.find(rule)
    if found is None:
        names = [*rules.RULES, *(r.name for r in rules.RULES.values())]
        raise CommandLineError(
            [Problem(f"no rule '{rule}' (see `nnfix rules`)", hint=did_you_mean(rule, names))]
        )
    render_rule(found, stdout())


@main.command("rules")
def rules_command() -> None:
    """List every rule: code, name, severity, summary."""
    from nnfix.report.console import stdout
    from nnfix.report.rules import render_table

    render_table(stdout())


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--template",
    type=click.Choice(["spec", "columns", "rows"]),
    help="spec: a network with its own math declared [default]; columns, rows: your own code.",
)
@click.option(
    "--from",
    "module",
    metavar="MODULE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Your .py or .ipynb: nnfix calls it on a small batch and writes the spec it finds.",
)
@click.option(
    "--data",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A csv/npz/npy data file (with --from).",
)
@click.option(
    "--layers",
    metavar="N,N,…",
    help="Widths of your hidden and output layers, where your code does not fix them.",
)
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@click.option(
    "--timeout",
    metavar="SECONDS",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds one call of your code may take while nnfix explores it.",
)
@_guarded
def init(path, template, module, data, layers, force, timeout) -> None:
    """Write a commented starter spec to PATH, or one read off your code (--from)."""
    from nnfix.init.command import run
    from nnfix.report.console import stdout
    from nnfix.report.init_summary import render

    outcome = run(
        path,
        template=template,
        module=module,
        data=data,
        layers=layers,
        force=force,
        timeout=timeout,
    )
    render(outcome, stdout())
    sys.exit(outcome.exit_code)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the spec (for editors' YAML support)."""
    import json

    from nnfix.spec.model import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
