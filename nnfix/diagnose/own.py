"""The diagnosis of a spec without `model:` (SPEC §3.1): the user's code is the network. Their
gradients are checked against central differences of their own loss of their own forward, tensor
by tensor (G101, G103, G105, G104, U101), and their initial values for units that start and stay
tied (Y101, own_init.py); the passes that need a declared network (derivatives, init statistics,
the probes) are said to be skipped, never run on a guess."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from nnfix.data import load_dataset
from nnfix.diagnose import own_init
from nnfix.diagnose.context import Options
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.gradcheck import Target, check_target
from nnfix.diagnose.own_lines import locate, locate_shapes, samples_kept
from nnfix.diagnose.rules.gradients import (
    G101,
    G103,
    G104,
    G105,
    budget_finding,
    gradient_findings,
    not_checked,
    unreliable,
)
from nnfix.diagnose.rules.init import Y101, Y104
from nnfix.diagnose.rules.rule import USER_CODE, Check
from nnfix.diagnose.rules.usercode import U101, _climbs, source, user_error
from nnfix.run.prepare import seeds
from nnfix.spec.load import LoadedSpec
from nnfix.spec.model import LossSpec
from nnfix.usercode import absent
from nnfix.usercode.build import load_guarded
from nnfix.usercode.chainparts import culprit, gradient_line, judge
from nnfix.usercode.engine import EngineNet
from nnfix.usercode.loader import add_import_roots
from nnfix.usercode.model import SetupError, seed_numpy
from nnfix.usercode.needed import rerun
from nnfix.usercode.objects import ListRef
from nnfix.usercode.own import SAMPLES, OwnNet
from nnfix.usercode.sandbox import Broken, UserCallError
from nnfix.usercode.script import ScriptNet

PATH = ("implementation", "backward")
STEP_PATH = ("implementation", "step")
LAYERS_PATH = ("implementation", "layers")
SKIPPED = "no model: in the spec"  # the passes that need a declared network


class OwnContext:
    """What the check of a spec without `model:` shares: the data, their module, their net."""

    def __init__(self, loaded: LoadedSpec, options: Options):
        self.loaded, self.spec, self.options = loaded, loaded.spec, options
        impl = self.spec.implementation
        assert impl is not None  # a spec without model: has implementation: (spec/load.py)
        self.x, self.y = self._batch()
        add_import_roots(Path(loaded.base_dir) / impl.module, Path(loaded.base_dir))
        self.module = load_guarded(
            Path(loaded.base_dir) / impl.module,
            run_module=impl.run_module,
            cells=impl.cells,
            source=loaded.source,
        )
        seed_numpy(self.spec.seed)  # the parameters a re-run statement makes: the code's, seeded
        self.rerun = rerun(self.module, _called(impl))
        self.net: OwnNet
        if impl.script:  # a top-level training loop (SPEC §3.2 E); without data:, its own data
            classes = getattr(self.spec.data, "classes", None)
            self.net = ScriptNet(
                impl, self.module, self.x, self.y, self.spec.loss, self.spec.seed, classes
            )
        else:
            assert self.x is not None and self.y is not None
            kind = EngineNet if impl.engine else OwnNet  # F: their own autograd engine
            self.net = kind(
                impl, self.module.module, self.x, self.y, self.spec.loss, self.spec.seed
            )

    def _batch(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The spec's batch (none without data:, where a script trains on its own)."""
        if self.spec.data is None:
            return None, None
        data_rng, _, _ = seeds(self.spec.seed)
        data = load_dataset(
            self.spec.data,
            base_dir=self.loaded.base_dir,
            rng=data_rng,
            dtype="float64",
            source=self.loaded.source,
        )
        x = data.shaped(data.x_train[:SAMPLES])  # images keep (C, H, W), sequences (T,)
        x = x if data.tokens is not None else np.asarray(x, dtype=np.float64)
        return x, np.asarray(data.y_train[:SAMPLES])

    def about(self) -> list[str]:
        lines = [*self.loaded.notes, *self.net.found.lines]
        if self.rerun:
            shown = ", ".join(f"line {s.place.line}" for s in self.rerun[:3])
            more = ", …" if len(self.rerun) > 3 else ""
            lines.insert(
                0,
                f"run: {len(self.rerun)} skipped top-level statements your functions need "
                f"({shown}{more})",
            )
        skipped = self.module.skipped
        if self.spec.implementation and self.spec.implementation.script:  # it ran them, said so
            skipped = [s for s in skipped if "import" in s.why or "magic" in s.why]
        if skipped:
            shown = ", ".join(f"line {s.place.line}" for s in skipped[:3])
            more = ", …" if len(skipped) > 3 else ""
            lines.append(
                f"not run: {len(skipped)} top-level statements of {self.module.path.name} "
                f"({shown}{more}; `run_module: true` runs them)"
            )
        if self.module.missing:
            lines.append(absent.note(self.module.missing))
        lines.append(
            "not run: the derivative and training checks (they need the network declared as the "
            "spec's `model:`; your gradients are checked against your own loss, your initial "
            "values for symmetric units)"
        )
        return lines


def _called(impl) -> list[str]:
    """The names of the module's functions and classes nnfix calls (`model:`'s callee too)."""
    names = [v for v in (impl.forward, impl.backward, impl.loss_call) if isinstance(v, str)]
    if isinstance(impl.model, str):
        names += re.findall(r"[A-Za-z_][\w.]*(?=\s*\()", impl.model)[:1]
    for text in [*(impl.layers or []), *(impl.loss if isinstance(impl.loss, list) else [])]:
        names += re.findall(r"[A-Za-z_][\w.]*", text)[:1]  # a layer's class, a loss function
    return names


def own_network(ctx: OwnContext) -> list[Finding]:
    """Their gradients against central differences of their own loss (SPEC §3.1, §3.5)."""
    net = ctx.net
    path = ("implementation", "script") if net.impl.script else PATH
    try:
        net.build()
    except UserCallError as exc:
        return [user_error(exc)]
    except Broken:
        return []
    init = own_init.findings(net, ctx.module, _init_path(net))  # on the values it starts from
    try:
        grads = net.gradients()
    except UserCallError as exc:
        return [*init, user_error(exc)]
    except Broken:
        return init
    except SetupError as exc:  # zero gradients nnfix cannot tell apart: the tie says why
        tied = [f.location.parameter for f in init if f.code == "Y101"]
        if not tied:
            raise
        return [
            *init,
            not_checked(
                f"{exc} — with {', '.join(map(str, tied))} tied at init "
                "(Y101) their gradients are zero or alike and cannot be told apart",
                {},
                Fix("break the symmetry of your init (Y101), then diagnose again"),
            ),
        ]
    if grads.loss is not None:  # (loss, grads): the loss their backward differentiates
        net.loss_by_backward = True
    layer_of = {p.slot.name: p.slot.layer for p in net.tensors}
    path = LAYERS_PATH if net.chain is not None else STEP_PATH if grads.from_update else PATH
    found: list[Finding] = list(init)
    for name in grads.missing:
        found.append(
            G103.finding(
                f"no gradient for {name} (such as 'd{name}') in "
                f"{grads.where or 'what your backward returns or sets'}",
                parameter=name,
                layer=layer_of[name],
                path=path,
                evidence={"found": sorted(grads.paths.values())},
            )
        )
    for name, (shape, want, where) in grads.wrong.items():
        found.append(
            G103.finding(
                f"the gradient of {name} ({grads.shown(where)}) has shape {shape}, {name} has "
                f"{want}"
                + (
                    "; it is not summed over the samples"
                    if samples_kept(shape, want, net.m)
                    else ""
                ),
                layer=layer_of[name],
                parameter=name,
                path=path,
                evidence={"shape": list(shape), "expected": list(want), "samples": net.m},
            )
        )
    if net.chain is not None:  # the line of the layer's backward that writes it
        _point_shapes(net, found, grads.paths)
    else:
        locate_shapes(net, grads, found)  # the line that made each gradient of the wrong shape
    for name, value in grads.arrays.items():
        if not np.all(np.isfinite(value)):
            found.append(
                G101.finding(
                    f"the gradient of {name} holds non-finite values (NaN or inf)",
                    layer=layer_of[name],
                    parameter=name,
                    path=path,
                    evidence={"first_wrong": True},
                    fix=Fix("find where your backward divides by zero or overflows"),
                )
            )
    checked = [
        p
        for p in net.tensors
        if p.slot.name in grads.arrays and np.all(np.isfinite(grads.arrays[p.slot.name]))
    ]
    if not checked:
        return found
    try:
        result = _check(ctx, checked, grads.arrays)
    except UserCallError as exc:
        return [*found, user_error(exc)]
    judged, read = gradient_findings(
        result,
        batch_size=net.m,
        loss=ctx.spec.loss or LossSpec(name="mse"),
        layer_of=layer_of.__getitem__,
        path_of=lambda layer: path,
        what="your step's update" if grads.from_update else "your backward",
    )
    c = read.c
    if grads.from_update and read.convention is not None and read.c < 0:  # no convention (§3.5)
        judged = _climbs(judged, read, layer_of, path, net.step_size)
        c = 1.0  # the update is the bug: nothing carries a convention
    if ctx.spec.loss is None:  # their own loss: no spec key to change for a convention
        for f in judged:
            if f.code == "G105" and f.fix is not None:
                f.fix = Fix(f.fix.description.split(":")[0])
    more = []  # the line of each G101 (SPEC §3.6), and the bugs behind the first ones
    if isinstance(net, EngineNet):  # each operation of their engine on its own (SPEC §3.6)
        from nnfix.diagnose.engine import op_findings

        found = op_findings(net, judged) + found
    elif net.chain is not None:  # each part of their chain on its own (chainparts.py)
        _point_chain(net, judged, c)
    elif ctx.options.worked() > 0:
        more = locate(net, grads, judged, ctx.spec.seed)
    else:
        for f in judged:
            f.evidence["line"] = "not searched: --budget ran out"
    return found + judged + more + budget_finding(result) + unreliable(result)


def _init_path(net: OwnNet) -> tuple:
    """The spec key that says where their parameters are made."""
    impl = net.impl
    if impl.script:
        return ("implementation", "script")
    return ("implementation", "layers" if impl.layers else "model" if impl.model else "module")


def _point_chain(net: OwnNet, judged: list[Finding], c: float) -> None:
    """Each G101 of a layer chain at the line of theirs where it goes wrong: the part nearest
    it (its own layer, a layer above, the loss's gradient) whose gradient is wrong alone."""
    assert net.chain is not None
    parts = judge(net.chain, net.tensors, c)
    by_name = {p.slot.name: p for p in net.tensors}
    wrong = {n for f in judged if f.code == "G101" for n in _named(f)}
    right = [p for p in net.tensors if p.slot.name not in wrong]
    for finding in judged:
        name = finding.location.parameter
        if finding.code != "G101" or name not in by_name:
            continue
        found = culprit(parts, by_name[name], len(net.chain.objects), right)
        if found is None or found.place is None:
            continue
        place = found.place
        finding.location.source = source(place, place.col or 1, found.code)
        finding.message += f"; it goes wrong at {place.file.name}:{place.line}: {found.says}"
        finding.fix = Fix(f"correct {place.file.name}:{place.line}: {found.says}")
        finding.evidence["culprit"] = {
            "file": place.file.name,
            "line": place.line,
            "says": found.says,
        }


def _named(finding: Finding) -> list[str]:
    """The tensors a finding is about: its parameter, and those its evidence lists."""
    tensors = finding.evidence.get("tensors")
    more = [str(t) for t in tensors] if isinstance(tensors, list) else []
    return [n for n in [finding.location.parameter, *more] if n]


def _point_shapes(net: OwnNet, found: list[Finding], paths: dict[str, str]) -> None:
    """Each G103 of a layer chain at the line of the layer's backward that writes it."""
    assert net.chain is not None
    for finding in found:
        name = finding.location.parameter
        if finding.code != "G103" or name not in paths:
            continue
        line = gradient_line(net.chain, paths[name])
        if line is not None:
            place, code = line
            finding.location.source = source(place, place.col or 1, code)


def _check(ctx: OwnContext, params, grads: dict[str, np.ndarray]):
    """Central differences of their loss, their own arrays perturbed in place (as float64),
    output side first; their arrays are put back after."""
    net = ctx.net
    kept = [(p.ref, p.ref.get()) for p in params]
    arrays = []
    values: list[tuple[np.ndarray, np.ndarray]] = []
    for p, (_, original) in zip(params, kept, strict=True):
        if _own(original, p.ref):  # perturbed in place: an array their layers share moves too
            working = original
            values.append((original, original.copy()))
        else:
            working = np.array(original, dtype=np.float64, order="C")
            p.ref.set(working)
        arrays.append(working)
    try:
        target = Target(
            arrays=arrays,
            grads=[
                np.asarray(grads[p.slot.name], dtype=np.float64).reshape(a.shape)
                for p, a in zip(params, arrays, strict=True)
            ],
            names=[p.slot.name for p in params],
            loss=lambda _tensor: _synced(params, arrays, net.loss),
            one_sided=True,  # their ReLUs and max-pools are not seen: kinks told by values
        )
        if isinstance(net, EngineNet):  # an engine that computes in float32
            target.precision = net.precision
        gc = ctx.spec.diagnose.gradcheck
        order = list(reversed(range(len(params))))
        if isinstance(net, EngineNet):  # output first; within a layer in their own order
            order = sorted(range(len(params)), key=lambda i: (-params[i].slot.layer, i))
        return check_target(
            target,
            order=order,
            eps=gc.eps,
            mode=gc.mode,
            samples=gc.samples,
            batch_size=net.m,
            deadline=ctx.options.work_deadline(),
        )
    finally:
        for ref, original in kept:
            ref.set(original)
        for array, saved in values:
            array[...] = saved


def _own(value, ref) -> bool:
    """An array nnfix can perturb where it is: float64, C-ordered, writeable, not a list's."""
    return (
        not isinstance(ref, ListRef)
        and isinstance(value, np.ndarray)
        and value.dtype == np.float64
        and value.flags.c_contiguous
        and value.flags.writeable
    )


def _synced(params, arrays, loss):
    """Their loss with the working arrays written into the lists of floats that hold them."""
    for p, array in zip(params, arrays, strict=True):
        if isinstance(p.ref, ListRef):
            p.ref.set(array)
    return loss()


OWN_CHECK = Check(USER_CODE, (G103, G101, G105, G104, U101, Y101, Y104), own_network)  # type: ignore[arg-type]


def run(ctx_args: tuple[LoadedSpec, Options], done: set[str], emit) -> None:
    """The check of a spec without `model:`, telling `emit` its start, findings and header."""
    import time

    from nnfix.diagnose.pipeline import CheckRun
    from nnfix.errors import ModuleError

    loaded, options = ctx_args
    ctx = OwnContext(loaded, options)
    if OWN_CHECK.name not in done:
        emit(("start", OWN_CHECK.name))
        start = time.perf_counter()
        try:
            findings = own_network(ctx)
        except SetupError as exc:  # their code cannot be called as the spec says: bad input
            raise ModuleError([exc.problem()], loaded.source) from None
        emit(
            (
                "check",
                CheckRun(OWN_CHECK.name, USER_CODE.name, findings, time.perf_counter() - start),
            )
        )
    emit(("about", ctx.about()))
