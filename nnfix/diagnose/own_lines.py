"""The line of each G101 when the user's code is the network (SPEC §3.6): the culprits
usercode.lines finds, put on the findings (location.source, the message, evidence.culprit), and
the independent bugs behind the first culprit as findings of their own."""

from __future__ import annotations

import dataclasses
import linecache
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.rules.gradients import G101
from nnfix.diagnose.rules.usercode import source
from nnfix.usercode import state
from nnfix.usercode.grads import Gradients
from nnfix.usercode.lines import Culprit, made_at, search
from nnfix.usercode.own import OwnNet
from nnfix.usercode.stepsize import reshaped_at


def locate(net: OwnNet, grads: Gradients, found: list[Finding], seed: int = 0) -> list[Finding]:
    """Point the G101 findings at their lines; returns the findings of the bugs found behind
    them. The line is a help, not the finding: a failure to find it loses no finding."""
    wrong = [f for f in found if f.code == "G101" and f.location.parameter in grads.raw]
    if not wrong:
        return []
    try:
        with _float64(net), _one_sample(net):
            lines = search(net, grads, [str(f.location.parameter) for f in wrong], seed)
    except Exception:
        if os.environ.get("NNFIX_DEBUG"):
            raise
        return []
    net.found.say(
        f"lines: the gradients of {lines.measured} values of your forward measured "
        f"({lines.runs} runs) and compared with your backward's arrays"
        + (f"; not measured: {'; '.join(lines.unmeasured)}" if lines.unmeasured else "")
    )
    for f in wrong:
        culprit = lines.by_tensor.get(str(f.location.parameter))
        if culprit is not None:
            _point(f, culprit, "your backward first goes wrong at")
        if lines.unmeasured:
            f.evidence["unmeasured"] = list(lines.unmeasured)
    more = []
    by_name = {str(f.location.parameter): f for f in wrong}
    before = [c.place for c in lines.by_tensor.values()]
    for culprit, still in lines.more:
        name = still[0] if still and still[0] in by_name else str(wrong[0].location.parameter)
        like = by_name[name]
        after = ", ".join(dict.fromkeys(f"{p.file.name}:{p.line}" for p in before))
        extra = G101.finding(
            f"another bug: with the value of {after} replaced by the true one, "
            f"{', '.join(still) or name} {'are' if len(still) > 1 else 'is'} still wrong",
            layer=like.location.layer,
            parameter=name,
            path=like.location.path,
            evidence={"first_wrong": False, "independent": True},
            fix=like.fix,
        )
        _point(extra, culprit, "it goes wrong at")
        more.append(extra)
        before.append(culprit.place)
    return more


def locate_shapes(net: OwnNet, grads: Gradients, found: list[Finding]) -> None:
    """Point each G103 of a gradient of the wrong shape at the statement that computed the
    array their backward gave (the `db = ...` line, not an upstream line that computed the
    per-sample delta right): no measurement is needed, one traced call of their backward."""
    wrong = [f for f in found if f.code == "G103" and f.location.parameter in grads.wrong]
    if not wrong:
        return
    if grads.from_update:  # no array of theirs is the gradient: the update that reshaped it
        _reshaped_by(net, wrong)
        return
    try:
        with _float64(net), _one_sample(net):
            made = made_at(net, [str(f.location.parameter) for f in wrong])
    except Exception:
        if os.environ.get("NNFIX_DEBUG"):
            raise
        return
    for f in wrong:
        step = made.get(str(f.location.parameter))
        if step is not None:
            f.location.source = source(step.place, step.col, step.code)
            f.message += f"; it is made at {step.place.file.name}:{step.place.line}"
            f.evidence["culprit"] = {"line": f"{step.place.file.name}:{step.place.line}"}


def _reshaped_by(net: OwnNet, wrong: list[Finding]) -> None:
    """Each parameter their step left in another shape, at the statement of their step that
    did it (one traced call of the step, their objects put back after)."""
    from nnfix.usercode.script import ScriptNet
    from nnfix.usercode.step import _roots

    names = [p.slot.name for p in net.tensors]
    if isinstance(net, ScriptNet):  # their pass ran with each step of another shape held back
        places = net.reshaped
    else:
        kept = state.keep(*_roots(net))
        try:
            places = reshaped_at(net.gradients, lambda: [p.ref.get() for p in net.tensors])
        finally:
            kept.restore()
    for f in wrong:
        name = str(f.location.parameter)
        found = places.get(names.index(name)) if name in names else None
        if found is None:
            continue
        update, made = found
        place = made or update
        text = linecache.getline(str(place.file), place.line)
        code, col = text.strip(), len(text) - len(text.lstrip()) + 1
        f.location.source = source(place, col, code)
        f.message += (
            f"; it is made at {place.file.name}:{place.line}, and your update at "
            f"{update.file.name}:{update.line} makes {name} so"
            if made is not None
            else f"; your update makes it so at {update.file.name}:{update.line}"
        )
        culprit = {"line": f"{place.file.name}:{place.line}"}
        if made is not None:
            culprit["update"] = f"{update.file.name}:{update.line}"
        f.evidence["culprit"] = culprit


def samples_kept(shape: tuple, want: tuple, m: int) -> bool:
    """A gradient that holds one entry per sample where its parameter has 1 (a bias gradient
    left as the per-sample delta, not summed over the samples)."""
    return (
        m > 1
        and len(shape) == len(want)
        and any(w == 1 and s == m for s, w in zip(shape, want, strict=True))
        and all(s == w or (w == 1 and s == m) for s, w in zip(shape, want, strict=True))
    )


def _point(finding: Finding, culprit: Culprit, lead: str) -> None:
    place, code, col = culprit.place, culprit.step.code, culprit.step.col
    if culprit.line is not None and culprit.line != place.line:
        text = linecache.getline(str(place.file), culprit.line)
        place = dataclasses.replace(place, line=culprit.line)
        code, col = text.strip(), len(text) - len(text.lstrip()) + 1
    finding.location.source = source(place, col, code)
    finding.message += f"; {lead} {place.file.name}:{place.line}: {culprit.says}"
    evidence: dict[str, object] = {"line": f"{place.file.name}:{place.line}"}
    named = [culprit.chosen] if culprit.chosen is not None else culprit.should
    if named:
        evidence["expected"] = " or ".join(f"the gradient of {m.tap.shown()}" for m in named[:2])
    if culprit.called_from is not None:
        evidence["called_from"] = f"{culprit.called_from.file.name}:{culprit.called_from.line}"
    if culprit.fixed is not None and place.line == culprit.place.line:
        evidence["corrected"] = culprit.fixed
        finding.message += f"; it gives the true value as `{culprit.fixed}`"
        finding.fix = Fix(f"write line {place.line} of {place.file.name} as `{culprit.fixed}`")
    finding.evidence["culprit"] = evidence


@contextmanager
def _float64(net: OwnNet) -> Iterator[None]:
    """Their parameters as float64 copies for the search, put back after."""
    kept = [(p.ref, p.ref.get()) for p in net.tensors]
    try:
        for p in net.tensors:
            p.ref.set(np.array(p.ref.get(), dtype=np.float64, order="C"))
        yield
    finally:
        for ref, original in kept:
            ref.set(original)


@contextmanager
def _one_sample(net: OwnNet) -> Iterator[None]:
    """Code that takes one sample at a time is searched on one sample alone (its backward
    gives that sample's gradient, the loss is that sample's): the first whose targets differ
    from its inputs (a sequence of one repeated token has the same ids as inputs and targets,
    and the gradient's flow from the targets could not be told from the inputs')."""
    if net.sample_form is None:
        yield
        return
    kept = net.x, net.y, net.m
    same = [x.shape == y.shape and np.array_equal(x, y) for x, y in zip(net.x, net.y, strict=True)]
    i = same.index(False) if False in same else 0
    net.x, net.y, net.m = net.x[i : i + 1], net.y[i : i + 1], 1
    try:
        yield
    finally:
        net.x, net.y, net.m = kept
