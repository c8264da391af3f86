"""`python -m nnfix` and the `nnfix` console script (pyproject's `[project.scripts]`) both
start here, so both behave the same."""


def run() -> None:
    """The command line, with Ctrl-C handled from its first line on: "interrupted" and exit
    130, never a traceback.

    Until the command line's modules have loaded, Ctrl-C is held (recorded by a handler that
    does not raise: a KeyboardInterrupt raised inside the import machinery can be swallowed
    there, or leave a module half-imported), then acted on; from then on the click group and
    the commands (`nnfix.cli`) handle it, and one that CPython lost on the way still ends the
    command with 130 (`interrupts.counting_handler`). `_signal` is the interpreter's own,
    already loaded: holding costs no import that could itself be interrupted."""
    import sys

    try:
        import _signal as signal  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - an interpreter without it
        import signal

    held: list[int] = []
    holding = signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not ignored
    if holding:
        try:
            signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
        except ValueError:  # not the main thread: signals are not ours to handle
            holding = False
    from nnfix import interrupts

    try:
        try:
            try:
                from nnfix.cli import main
            finally:
                if holding:
                    sys.unraisablehook = interrupts.quiet_unraisable
                    signal.signal(signal.SIGINT, interrupts.counting_handler)
            if held:
                raise KeyboardInterrupt
            main()
        except KeyboardInterrupt:
            interrupts.exit_interrupted()
    except KeyboardInterrupt:  # another Ctrl-C, while the first was being reported
        interrupts.end_interrupted()
    except Exception as exc:
        if interrupts.interrupted_by(exc):
            sys.stderr.write("interrupted\n")
            interrupts.end_interrupted()
        raise
    except SystemExit as exc:
        if exc.code == interrupts.EXIT_INTERRUPTED:
            interrupts.end_interrupted()
        if interrupts.lost():  # the command went on to its end all the same: still 130
            sys.stderr.write("interrupted\n")
            interrupts.end_interrupted()
        raise


if __name__ == "__main__":
    run()
