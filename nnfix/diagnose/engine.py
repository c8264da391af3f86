"""The findings of the local checks of a user's own autograd engine (SPEC §3.6): each operation
whose backward disagrees with the derivative of its own forward, and each backward closure of
their network's graph that fails the dot-product test at its nodes, is a G101 at the line of the
closure that computed the wrong gradient (an operation's with how many nodes of the graph run
it)."""

from __future__ import annotations

import os
from pathlib import Path

from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.rules.gradients import G101
from nnfix.diagnose.rules.usercode import source
from nnfix.usercode.engine import EngineNet
from nnfix.usercode.engine_check import SCALARS, NodeCheck, OpCheck, check_graph, check_ops
from nnfix.usercode.loader import Place
from nnfix.usercode.model import SetupError
from nnfix.usercode.sandbox import UserCallError

PATH = ("implementation", "engine")


def op_findings(net: EngineNet, judged: list[Finding]) -> list[Finding]:
    """A G101 for each operation of their engine whose local backward is wrong; one their
    network runs is shown at the layer of the first wrong tensor (`judged`), ahead of those.
    An engine too unlike micrograd's for the local checks is said so, never an error."""
    try:
        return _op_findings(net, judged)
    except (UserCallError, SetupError, ArithmeticError, ValueError, TypeError, AttributeError) as e:
        if os.environ.get("NNFIX_DEBUG"):
            raise
        net.found.say(f"engine: the operations were not checked on their own ({e})")
        return []


def _op_findings(net: EngineNet, judged: list[Finding]) -> list[Finding]:
    checks = check_ops(net.engine)
    wrong = [c for c in checks if c.wrong]
    net.sync()
    counts = net.graph_codes() if wrong else {}
    top = max((f.location.layer or 0 for f in judged if f.code == "G101"), default=0)
    found = [_finding(net, c, counts.get(c.top, 0)) for c in wrong]
    closures = [c for c in check_graph(net, {c.top for c in wrong}) if c.nodes]
    found += [_node_finding(net, c) for c in closures if c.wrong]
    for f in found:
        if f.evidence["graph_nodes"] and top:
            f.location.layer = top
    cls = net.engine.cls.__name__
    calls = ", ".join(c.call for c in checks[:8]) + (", …" if len(checks) > 8 else "")
    net.found.say(
        f"engine: {len(checks)} operations of {cls} checked on their own ({calls}); "
        f"{len(closures)} backward closures of your network's graph checked at their nodes"
        if checks or closures
        else f"engine: no operation of {cls} could be checked on its own (no _backward "
        "closures nnfix recognises): only the gradients were checked"
    )
    return found


def _finding(net: EngineNet, c: OpCheck, used: int) -> Finding:
    cls = net.engine.cls.__name__
    how = (
        " where the result is used twice (a gradient set with = where it must be added with +=)"
        if c.twice
        else ""
    )
    graph = (
        f"; your network's graph runs it at {used} node{'s' if used > 1 else ''}, so every "
        "gradient that flows through it is wrong"
        if used
        else "; your network's graph does not use it"
        if c.top is not None
        else ""  # no closure on the result: where the graph uses it is not known
    )
    where = f" at {Path(c.file).name}:{c.line}" if c.file and c.line else ""
    call = c.call
    if c.set == len(SCALARS):
        call += " (b of shape (2,) broadcast against a of (2, 2))"
    gives = f"d/d{c.argument} ="
    if _array(net):
        gives = f"a gradient of {c.argument} that sums to"
    found = G101.finding(
        f"{cls}.{c.name}'s backward is wrong{where}: for {call} it gives "
        f"{gives} {c.got:.6g}{how}, the derivative of its own forward "
        f"{'sums to' if _array(net) else 'is'} {c.want:.6g}{graph}",
        path=PATH,
        evidence={
            "operation": c.name,
            "call": c.call,
            "operand": c.argument,
            "got": c.got,
            "expected": c.want,
            "used_twice": c.twice,
            "graph_nodes": used,
        },
        fix=Fix(
            f"make {c.name}'s _backward add to {c.argument}.{net.engine.grad} the derivative of "
            f"its forward times out.{net.engine.grad}"
        ),
    )
    if c.file and c.line:
        found.location.source = source(Place(Path(c.file), c.line), 1, c.text)
    return found


def _node_finding(net: EngineNet, c: NodeCheck) -> Finding:
    where = f" at {Path(c.file).name}:{c.line}" if c.file and c.line else ""
    found = G101.finding(
        f"the backward closure {c.name}{where} is wrong at {c.failed} of the {c.nodes} nodes of "
        "your network's graph it was checked at: the gradients it adds to its inputs do not "
        "match how its value moves with them",
        path=PATH,
        evidence={"closure": c.name, "failed": c.failed, "graph_nodes": c.nodes},
        fix=Fix(
            f"make {c.name} add to each input's {net.engine.grad} the derivative of its forward "
            f"times the node's {net.engine.grad}"
        ),
    )
    if c.file and c.line:
        found.location.source = source(Place(Path(c.file), c.line), 1, c.text)
    return found


def _array(net: EngineNet) -> bool:
    return net.held_arrays
