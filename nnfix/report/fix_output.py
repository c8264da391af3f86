"""`nnfix fix` for a person: the unified diff of the spec (and of the user's file), what was
changed and for which finding, what did not help, what is left to do by hand, and with
--verify the diagnosis and a brief training before → after."""

from __future__ import annotations

import difflib
import io
import math
import tokenize
from pathlib import Path

from rich.console import Console
from rich.text import Text

from nnfix.diagnose.findings import Finding, SpecReport
from nnfix.errors import SpecError
from nnfix.fix.plan import Change
from nnfix.fix.run import Repair, by_hand, suggestions
from nnfix.fix.usercode import CodeChange
from nnfix.fix.verify import NotTrained, Trained, improved, key
from nnfix.report import snippet
from nnfix.report.diagnose_rich import VERDICT
from nnfix.spec import source

STYLE = {"error": "bold red", "warning": "yellow", "info": "blue"}


def shown_path(path: Path | str) -> str:
    """A path as the user would recognise it: relative to here when it is under it."""
    p = Path(path)
    if p.is_absolute():
        try:
            return p.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return p.as_posix()
    return p.as_posix()


def diff(before: str, after: str, name: str) -> list[Text]:
    """A unified diff with git's `a/` and `b/` headers, one Text per line, coloured."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        f"a/{name}".replace("a//", "a/"),
        f"b/{name}".replace("b//", "b/"),
    )
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        if line.startswith(("---", "+++")):
            out.append(Text(body, style="bold"))
        elif line.startswith("@@"):
            out.append(Text(body, style="cyan"))
        elif line.startswith("+"):
            out.append(Text(body, style="green"))
        elif line.startswith("-"):
            out.append(Text(body, style="red"))
        else:
            out.append(Text(body))
    return out


def _print_lines(console: Console, lines: list[Text]) -> None:
    for line in lines:
        console.print(line, soft_wrap=True)


def _para(console: Console, text: Text | str, indent: int, hang: int = 0) -> None:
    """Prose that wraps at word boundaries, its indentation kept on every line (`hang` more on
    the lines after the first), and no trailing spaces, as padding a renderable would leave."""
    text = text if isinstance(text, Text) else Text(text)
    first, rest = indent, indent + hang
    lines = text.wrap(console, max(20, console.width - rest))
    for n, line in enumerate(lines):
        line.rstrip()
        console.print(Text(" " * (first if n == 0 else rest)) + line, soft_wrap=True)


def _counts(report: SpecReport) -> str:
    counts = {s: sum(f.severity.value == s for f in report.findings) for s in STYLE}
    if not report.findings:
        return "no findings"
    parts = [f"{n} {s if s == 'info' or n == 1 else s + 's'}" for s, n in counts.items() if n]
    return ", ".join(parts)


def _verdict(report: SpecReport) -> Text:
    word, style = VERDICT[report.verdict]
    return Text(word, style=style)


def _codes(findings: list[Finding]) -> str:
    """`A102 ×3, A103, G102`."""
    seen: dict[str, int] = {}
    for f in findings:
        seen[f.code] = seen.get(f.code, 0) + 1
    return ", ".join(f"{c} ×{n}" if n > 1 else c for c, n in seen.items())


def _line_of(text: str, path: Path, spec_path) -> int | None:
    try:
        src = source.parse(text, path)
    except SpecError:  # it was read before it was diagnosed: only to be safe
        return None
    _, mark = src.locate(tuple(spec_path))
    return mark.line if mark else None


def _change(result: Repair, change: Change, name: str) -> tuple[Text, Text]:
    """`spec.yaml:16  A102 derivative-wrong-argument`, and `path: old → new` under it."""
    line = _line_of(result.text, result.path, change.path)
    return _head(f"{name}:{line}" if line else name, change.findings), Text(
        change.shown(), style="green"
    )


def _code_change(change: CodeChange) -> tuple[Text, Text]:
    head = _head(f"{shown_path(change.file)}:{change.line}", change.findings)
    return head, Text(_statement(change.new), style="green")


def _head(where: str, findings: list[Finding]) -> Text:
    first = findings[0]
    head = Text()
    head.append(where, style="bold")
    head.append("  ")
    head.append(_codes(findings), style=STYLE[first.severity.value])
    head.append(f" {first.name}", style=STYLE[first.severity.value])
    return head


def _statement(line: str) -> str:
    """A line of Python without its indentation and trailing comment."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError):
        return line.strip()
    comment = next((t for t in tokens if t.type == tokenize.COMMENT), None)
    return (line[: comment.start[1]] if comment else line).strip()


def _finding_line(f: Finding, name: str, parameters: list[str] | None = None) -> Text:
    where = f.location.source or (f"{name}:{f.location.line}" if f.location.line else name)
    head = Text("  ")
    head.append(str(where), style="bold")
    head.append("  ")
    head.append(f"{f.code} {f.name}", style=STYLE[f.severity.value])
    names = [p for p in parameters or [f.location.parameter or ""] if p]
    if names:
        head.append(f"  {', '.join(names)}", style="cyan")
    elif f.location.layer:
        head.append(f"  layer {f.location.layer}", style="cyan")
    return head


def _suggestion(f: Finding, console: Console) -> None:
    console.print(_finding_line(f, ""), soft_wrap=True)
    src = f.location.source
    assert src is not None
    for line in snippet.lines(src, around=0):
        text = Text(f"      {line.number} | ", style="dim")
        text.append(line.text.strip(), style="bold")
        console.print(text, soft_wrap=True)
    _para(console, f.message, 6)
    if f.fix is not None and f.fix.description:
        _para(console, Text("suggestion: ", style="green") + Text(f.fix.description), 6)


def _figure(t: Trained | NotTrained, what: str) -> str:
    if isinstance(t, NotTrained):
        return "–"
    value = t.loss if what == "loss" else t.accuracy
    if value is None:
        return "diverged" if what == "loss" else "–"
    if what == "accuracy":
        return f"{value * 100:.1f} %"
    return f"{value:.4g}" if math.isfinite(value) else "diverged"


def _trained_note(t: Trained | NotTrained) -> str:
    if isinstance(t, NotTrained):
        return "could not train (below)"
    note = f"{t.epochs} epoch{'s' if t.epochs != 1 else ''}"
    if t.stopped == "time":
        note += f" of {t.planned} (stopped after {t.seconds:.0f} s)"
    elif t.stopped == "diverged":
        note += ", diverged"
    return note


def _rows(rows: list[tuple[str, Text | str, Text | str]], indent: int) -> list[Text]:
    """Three columns, padded between them only: no trailing spaces in plain text."""
    width = [max(len(str(r[i])) for r in rows) for i in range(2)]
    out = []
    for label, a, b in rows:
        line = Text(" " * indent)
        line.append(label.ljust(width[0] + 3), style="dim")
        cell = a if isinstance(a, Text) else Text(a)
        line.append_text(cell)
        line.append(" " * (width[1] - len(cell.plain) + 3))
        line.append_text(b if isinstance(b, Text) else Text(b))
        out.append(line)
    return out


def _verify(result: Repair, console: Console) -> None:
    before, after = result.before, result.after
    rows: list[tuple[str, Text | str, Text | str]] = [
        ("", Text("before", style="bold"), Text("after", style="bold")),
        ("verdict", _verdict(before), _verdict(after)),
        ("findings", _counts(before), _counts(after)),
    ]
    if result.training is not None:
        first, second = result.training
        rows.append(("loss", _figure(first, "loss"), _figure(second, "loss")))
        if any(isinstance(t, Trained) and t.accuracy is not None for t in result.training):
            rows.append(("accuracy", _figure(first, "accuracy"), _figure(second, "accuracy")))
        rows.append(("trained", _trained_note(first), _trained_note(second)))
    console.print(Text("before → after", style="bold"))
    _print_lines(console, _rows(rows, 2))
    for when, run in zip(("before", "after"), result.training or (), strict=False):
        if isinstance(run, NotTrained):
            _para(console, Text(f"{when}: could not train: {run.why}", style="dim"), 2, 2)
    gone = [f for f in before.findings if not _still(f, after)]
    fixed = [f for c in result.changes for f in c.findings] + [
        f for c in result.code for f in c.findings
    ]
    fixed_keys = {id(f) for f in fixed}
    explained = [f for f in gone if id(f) not in fixed_keys]
    if fixed:
        _para(console, Text("fixed: ", style="green") + Text(_codes(fixed)), 2)
    if explained:
        _para(console, Text("gone with them: ", style="green") + Text(_codes(explained)), 2)
    new = [f for f in after.findings if not _still(f, before)]
    if new:
        _para(console, Text("new: ", style="bold red") + Text(_codes(new)), 2)
    if result.training is not None and result.changed:
        better = improved(*result.training)
        if better is False:
            _para(
                console,
                Text("the fixes did not help: ", style="bold red")
                + Text("the loss after them is not lower than before"),
                2,
            )


def _same(a: Finding, b: Finding) -> bool:
    return key(a) == key(b)


def _still(f: Finding, report: SpecReport) -> bool:
    return any(_same(f, g) for g in report.findings)


def render(result: Repair, console: Console, written: bool = False) -> None:
    name = shown_path(result.path)
    if not result.changed:
        console.print(_nothing(result), soft_wrap=True)
        console.print()
    _diffs(result, name, console)
    _fixed(result, name, console)
    _failed(result, console)
    _not_applied(result, console)
    _left(result, name, console)
    if result.training is not None:
        _verify(result, console)
        console.print()
    _summary(result, written, console)


def _nothing(result: Repair) -> Text:
    if result.failed:
        n = len(result.failed)
        return Text(
            f"no change kept: {'the fix' if n == 1 else f'the {n} fixes'} tried did not help "
            "(below)",
            style="bold",
        )
    if not result.before.findings:
        return Text("nothing to fix: no findings", style="bold")
    return Text("nothing to fix automatically: no finding carries a fix that applies", style="bold")


def _diffs(result: Repair, name: str, console: Console) -> None:
    if result.text != result.original:
        _print_lines(console, diff(result.original, result.text, name))
        console.print()
    for file in result.files.values():
        if file.text != file.original:
            _print_lines(console, diff(file.original, file.text, shown_path(file.path)))
            console.print()


def _fixed(result: Repair, name: str, console: Console) -> None:
    if not (result.changes or result.code):
        return
    n = len(result.changes) + len(result.code)
    rounds = f", in {result.rounds} rounds" if result.rounds > 1 else ""
    console.print(Text(f"fixed ({n}{rounds}):", style="bold"))
    for head, what in [_change(result, c, name) for c in result.changes] + [
        _code_change(c) for c in result.code
    ]:
        _para(console, head, 2, 4)
        _para(console, what, 6, 4)
    console.print()


def _failed(result: Repair, console: Console) -> None:
    if not result.failed:
        return
    console.print(Text("did not help (undone):", style="bold red"))
    for failed in result.failed:
        c = failed.change
        what = c.shown() if isinstance(c, Change) else f"{shown_path(c.file)}:{c.line}"
        line = Text()
        line.append(what, style="bold")
        line.append(f" for {_codes(c.findings)}: {failed.why}")
        _para(console, line, 2, hang=2)
    console.print()


def _not_applied(result: Repair, console: Console) -> None:
    undone = [f for failed in result.failed for f in failed.change.findings]
    skipped = [
        s
        for s in result.skipped
        if _still(s.finding, result.after) and not any(_same(s.finding, f) for f in undone)
    ]
    if not (result.refused or skipped):
        return
    console.print(Text("not applied:", style="bold yellow"))
    for r in result.refused:
        _para(console, Text(f"{_codes(r.change.findings)} {r.change.shown()}: {r.why}"), 2, 2)
    for s in skipped:
        _para(console, Text(f"{s.finding.code} {s.finding.name}: {s.reason}"), 2, 2)
    console.print()


def _left(result: Repair, name: str, console: Console) -> None:
    located = suggestions(result)
    if located:
        console.print(Text("in your code (suggestions, never written):", style="bold"))
        for f in located:
            _suggestion(f, console)
        console.print()
    hand = by_hand(result, located)
    if hand:
        console.print(Text("left to fix by hand:", style="bold"))
        for group in hand:
            f = group[0]
            line = _finding_line(f, name, [g.location.parameter or "" for g in group])
            if f.fix is not None and f.fix.description:
                line.append(f" — {f.fix.description}", style="dim")
            _para(console, line, 0, 6)
        console.print()


def _summary(result: Repair, written: bool, console: Console) -> None:
    before, after = result.before, result.after
    text = Text()
    text.append_text(_verdict(before))
    text.append(" → ")
    text.append_text(_verdict(after))
    text.append(f"  left after the fixes: {_counts(after)} (fail on {after.fail_on})")
    console.print(text)
    if result.changed:
        files = [shown_path(result.path)] if result.text != result.original else []
        files += [shown_path(f.path) for f in result.files.values() if f.text != f.original]
        if written:
            console.print(Text(f"written: {', '.join(files)}", style="green"), soft_wrap=True)
        else:
            console.print(
                Text(f"nothing written: --write changes {', '.join(files)}", style="dim"),
                soft_wrap=True,
            )
