"""`nnfix fix` without its display: diagnose the spec, apply the fixes its findings carry round
by round, diagnose again after each round and keep only what helped; write nothing (the
command writes the result with --write).

A round applies the fixes of what the last diagnosis found (root causes first, a symptom's fix
only when no cause of it is being fixed). Its result is diagnosed: a change after which its
finding is still there, or that brought a new finding at the key it set, did not help — it is
undone, said so, and its key is not changed again. A fixed cause can uncover a finding its
symptoms hid, with a fix of its own: up to MAX_ROUNDS rounds run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nnfix.diagnose.config import Config, find_pyproject, from_pyproject, resolve
from nnfix.diagnose.findings import Finding, SpecReport
from nnfix.diagnose.pipeline import Selection
from nnfix.diagnose.run import _check_section, _check_selectors
from nnfix.errors import InputError, SpecPath
from nnfix.fix import usercode
from nnfix.fix.edit import EditError, set_value
from nnfix.fix.plan import Change, Skipped, choose, same_value, shown_value
from nnfix.fix.usercode import CodeChange
from nnfix.fix.verify import (
    NotTrained,
    Trained,
    appeared,
    diagnose_text,
    key,
    persists,
    train_briefly,
)
from nnfix.spec import source
from nnfix.spec.load import load_text

MAX_ROUNDS = 3  # a fix uncovers what its symptoms hid at most this many times over


@dataclass
class Failed:
    """A change undone: it did not help (its finding is still there) or made things worse."""

    change: Change | CodeChange
    why: str


@dataclass
class Refused:
    """A fix that could not be made: the text could not hold it, or the spec would be invalid."""

    change: Change
    why: str


@dataclass
class CodeFile:
    """A file of the user's code, as read and as fixed."""

    path: Path  # resolved
    shown: str  # as findings name it
    original: str
    text: str
    data: bytes  # as read, for the line breaks and the mode of the file when written


@dataclass
class Repair:
    """What `nnfix fix` found, changed and proved for one spec."""

    path: Path  # the spec as given
    data: bytes  # the spec file's bytes as read
    original: str
    text: str  # the fixed spec
    config: Config
    before: SpecReport
    after: SpecReport
    changes: list[Change] = field(default_factory=list)
    code: list[CodeChange] = field(default_factory=list)
    files: dict[Path, CodeFile] = field(default_factory=dict)
    failed: list[Failed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    rounds: int = 0
    training: tuple[Trained | NotTrained, Trained | NotTrained] | None = None

    @property
    def changed(self) -> bool:
        return self.text != self.original or any(f.text != f.original for f in self.files.values())

    @property
    def exit_code(self) -> int:
        """As diagnose's, on what is left after the fixes."""
        return 1 if self.after.failed else 0

    def encoded(self) -> bytes:
        """The fixed spec in the file's own encoding (its byte-order mark kept)."""
        bom, codec = source.encoding(self.data)
        return bom + self.text.encode(codec)


def repair(
    path: Path,
    flags: dict,
    select: tuple[str, ...] = (),
    quick: bool = False,
    verify: bool = False,
) -> Repair:
    """Diagnose, fix round by round, and (with `verify`) train the spec before and after."""
    project = from_pyproject(find_pyproject(Path.cwd()))
    _check_selectors({"select": select})
    src = source.read(path)  # a located SpecError (exit 2) for a file that is not a spec
    data = path.read_bytes()
    loaded = load_text(src.text, path)
    _check_section(loaded)
    config = resolve(flags, loaded.spec.diagnose, project)
    wanted = Selection(select) if select else None
    job = _Job(path, src.text, config, quick)
    before = job.diagnose(src.text, {})
    result = Repair(path, data, src.text, src.text, config, before, before)
    job.run(result, lambda f: wanted is None or f.code in wanted)
    if verify and result.changed:  # nothing changed: nothing to train twice
        first = train_briefly(result.original, path, {})
        epochs = first.epochs if isinstance(first, Trained) else None
        second = train_briefly(result.text, path, job.code(result), epochs=epochs)
        result.training = (first, second)
    return result


class _Job:
    """The rounds of one repair, with every diagnosis made kept by what it diagnosed."""

    def __init__(self, path: Path, original: str, config: Config, quick: bool):
        self.path, self.original, self.config, self.quick = path, original, config, quick
        self.made: dict[tuple, SpecReport] = {}

    def diagnose(self, text: str, code: dict[Path, bytes]) -> SpecReport:
        memo = (text, tuple(sorted(code.items())))
        if memo not in self.made:
            self.made[memo] = diagnose_text(text, self.path, self.config, self.quick, code)
        return self.made[memo]

    def code(self, result: Repair) -> dict[Path, bytes]:
        """The user's files as fixed so far, as the loader should read them."""
        return {p: f.text.encode() for p, f in result.files.items() if f.text != f.original}

    def rebuild(self, result: Repair) -> None:
        """The fixed texts from the originals and the changes kept (in the order made); a
        change that relied on one undone is refused in turn."""
        text = self.original
        for change in list(result.changes):
            try:
                text = set_value(text, change.path, change.value)
            except EditError as exc:
                result.changes.remove(change)
                result.refused.append(Refused(change, str(exc)))
        result.text = text
        for file in result.files.values():
            file.text = file.original
        for code in result.code:
            file = result.files[code.file]
            file.text = usercode.apply(file.text, code)

    def run(self, result: Repair, wanted) -> None:
        report = result.before
        blocked: dict[SpecPath, str] = {}
        blocked_lines: set[tuple[Path, int]] = set()
        seen_skips: set[tuple] = set()
        while result.rounds < MAX_ROUNDS:
            round_ = result.rounds + 1
            new_code = self._code_changes(result, report, wanted, blocked_lines, round_)
            choice = choose(
                report,
                result.text,
                wanted,
                blocked,
                {c for change in new_code for c in change.codes},
                round_,
            )
            for skip in choice.skipped:
                if (key(skip.finding), skip.reason) not in seen_skips:
                    seen_skips.add((key(skip.finding), skip.reason))
                    result.skipped.append(skip)
            new: list[Change | CodeChange] = []
            for change in choice.changes:
                why = self._apply(result, change)
                if why is None:
                    new.append(change)
                else:
                    result.refused.append(Refused(change, why))
            for code in new_code:
                file = result.files[code.file]
                file.text = usercode.apply(file.text, code)
                result.code.append(code)
                new.append(code)
            if not new:
                break
            result.rounds = round_
            try:
                after = self.diagnose(result.text, self.code(result))
                failures: list[tuple[Change | CodeChange, str | None]] = [
                    (c, self._judge(c, report, after)) for c in new
                ]
            except InputError as exc:  # the fixed spec cannot be diagnosed: none of it stays
                reason = f"the fixed spec could not be diagnosed: {exc}"
                failures = [(c, reason) for c in new]
            undone = [(c, why) for c, why in failures if why is not None]
            for made, why in undone:
                result.failed.append(Failed(made, why))
                if isinstance(made, Change):
                    result.changes.remove(made)
                    blocked[made.path] = (
                        f"{made.where} is not changed again ({made.shown()} did not help "
                        f"{made.codes[0]})"
                    )
                else:
                    result.code.remove(made)
                    blocked_lines.add((made.file, made.line))
            if undone:
                self.rebuild(result)
            report = self.diagnose(result.text, self.code(result))
        result.after = report

    def _apply(self, result: Repair, change: Change) -> str | None:
        """Make one change in the spec's text; why not, when it cannot be made."""
        try:
            text = set_value(result.text, change.path, change.value)
            loaded = load_text(text, self.path)
        except EditError as exc:
            return str(exc)
        except InputError as exc:
            return f"the spec would not be valid: {exc}"
        got = _value(loaded.raw, change.path)
        if not same_value(got, change.value):
            return f"nnfix would read it as {shown_value(got)}"
        result.text = text
        result.changes.append(change)
        return None

    def _code_changes(
        self, result: Repair, report: SpecReport, wanted, blocked: set[tuple[Path, int]], round_
    ) -> list[CodeChange]:
        """This round's certain rewrites of the user's lines (one per line)."""
        out: list[CodeChange] = []
        for finding in report.ordered():
            src = finding.location.source
            if src is None or not wanted(finding):
                continue
            path = usercode.source_file(src)
            if (path, src.line) in blocked:
                continue
            if path not in result.files:
                try:
                    data = path.read_bytes()
                    text = data.decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                result.files[path] = CodeFile(path, src.file, text, text, data)
            change = usercode.propose(finding, result.files[path].text)
            if change is None:
                continue
            same = next((c for c in out if c.file == path and c.line == change.line), None)
            if same is None:
                change.round = round_
                out.append(change)
            elif same.new == change.new:
                same.findings.append(finding)
        for change in out:  # a rewritten line must clear every finding that points at it
            change.findings += [
                f
                for f in report.findings
                if f.location.source is not None
                and usercode.source_file(f.location.source) == change.file
                and f.location.source.line == change.line
                and f not in change.findings
            ]
        return out

    @staticmethod
    def _judge(change: Change | CodeChange, before: SpecReport, after: SpecReport) -> str | None:
        """Why a change did not help, or None when it did."""
        still = persists(change.findings, after)
        if still:
            f = still[0]
            return f"{f.code} {f.name} is still there"
        if isinstance(change, Change):
            brought = appeared(before, after, change.path)
            if brought:
                f = brought[0]
                return f"it brought {f.code} {f.name}"
        return None


def _value(data, path: SpecPath):
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        elif isinstance(data, str) and part == "name":
            return data
        else:
            return None
    return data


def suggestions(result: Repair) -> list[Finding]:
    """The findings left in the user's code with no certain rewrite: shown, never written."""
    return [f for f in result.after.ordered() if f.location.source is not None]


def by_hand(result: Repair, shown: list[Finding]) -> list[list[Finding]]:
    """Root causes left with no automatic fix (or none that helped), those of one rule at one
    spec line together; the user's code is left out where a line of it is `shown`."""
    groups: dict[tuple, list[Finding]] = {}
    for f in result.after.ordered():
        if not f.is_root_cause or f.location.source is not None or f.severity.rank < 2:
            continue
        if shown and f.location.path[:1] == ("implementation",):
            continue  # the line shown is where to start
        groups.setdefault((f.code, f.location.line), []).append(f)
    return list(groups.values())
