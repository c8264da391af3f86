"""`nnfix train` without its display: prepare, fit (Ctrl-C stops cleanly), save, summarise."""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnfix.engine.losses import best_constant
from nnfix.engine.network import Network
from nnfix.engine.train import EpochRecord, History, Trainable, Trainer
from nnfix.errors import ModuleError, OutputError, Problem, SpecError
from nnfix.interrupts import check_lost, deferred_sigint
from nnfix.run.files import shown
from nnfix.run.prepare import Prepared, prepare
from nnfix.run.rundir import RunSlot, _number, reserve_run_dir, save_run
from nnfix.spec.load import LoadedSpec, uses_user_code
from nnfix.spec.overrides import role_path
from nnfix.usercode import sandbox


@dataclass
class Fitted:
    """A finished (or stopped) run, in plain data: what is saved and shown."""

    history: History
    summary: dict
    weights: dict[str, np.ndarray]  # the trained parameters by name, rows layout
    prepared: Prepared | None = None  # the data and trained network, when fitted here


@dataclass
class TrainResult:
    prepared: Prepared | None  # None when the run was fitted in a worker (the user's code)
    history: History
    summary: dict
    run_dir: Path
    interrupted: bool = False  # Ctrl-C stopped the training, or arrived while it was saved


class Interrupt:
    """First Ctrl-C asks the loop to stop after its current step; a second one aborts."""

    def __init__(self):
        self.requested = False

    def __call__(self) -> bool:
        return self.requested


@contextlib.contextmanager
def graceful_interrupt() -> Iterator[Interrupt]:
    check_lost()  # a Ctrl-C lost on the way here stops the run before it starts
    flag = Interrupt()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # started with Ctrl-C ignored
    ):
        yield flag
        return

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


PRIOR_PLATEAU = 0.02  # a run ends on the label-prior plateau within 2 % of the prior's loss
NO_GAIN = 0.01  # a run is no better than its start when its loss fell by less than 1 %


def _weighted_layers(net) -> list[int]:
    """The layers (from 0) whose weights the history's gradient norms follow, in order."""
    if isinstance(net, Network):
        return [s.layer - 1 for s in net.slots if s.role == "weight"]
    return list(range(net.depth))


def did_not_learn(
    start: float | None, end: float | None, prior: float | None, diverged: bool
) -> str | None:
    """Why a run did not learn, from the training set's loss at init and at the end and the
    best constant prediction's: "diverged", "label_prior" (it ends on the prior's plateau: it
    predicts the class frequencies, or a regression's mean), "no_better" (than its start);
    None when it learned."""
    if diverged or end is None:
        return "diverged"
    if prior is not None and prior > 0 and abs(end - prior) <= PRIOR_PLATEAU * prior:
        return "label_prior"
    if start is not None and end > start * (1 - NO_GAIN):
        return "no_better"
    return None


def prior_loss(prepared: Prepared) -> float | None:
    """The loss of the best constant prediction (the label prior) on the training set, as
    the trainer evaluates a loss there (the spec's scale and reduction applied)."""
    y, loss = prepared.y_train, prepared.loss
    if y is None or len(y) == 0:
        return None
    with np.errstate(all="ignore"):
        value = best_constant(loss.name, y) * loss.factor
    return _number(value * len(y) if loss.reduction == "sum" else value)


def summarize(
    prepared: Prepared,
    history: History,
    trainer: Trainer,
    seconds: float,
    start_loss: float | None = None,
) -> dict:
    """The summary of a run, as JSON-ready data (non-finite numbers as null): the training
    set's loss at init (`start_loss`) and at the end, the last epoch's means over its batches
    (what the progress bar showed), the validation set's at the end, and whether it learned."""
    data, net = prepared.data, trainer.network
    assert prepared.y_train is not None and prepared.y_val is not None
    with np.errstate(all="ignore"):
        train_loss, train_acc = trainer.evaluate(data.x_train, prepared.y_train)
        val_loss, val_acc = trainer.evaluate(data.x_val, prepared.y_val)
    last = history.epochs[-1] if history.epochs else None
    prior = prior_loss(prepared)
    norms = (
        np.array([r.grad_norms for r in history.epochs])
        if history.epochs
        else np.zeros((0, net.depth))
    )
    layers = []
    specs = prepared.loaded.spec.net_model.layers
    weighted = _weighted_layers(net)
    for l, act in enumerate(net.activations):
        k = weighted.index(l) if l in weighted else None  # its column of the weight norms
        column = norms[:, k] if len(norms) and k is not None else np.zeros(0)
        layers.append(
            {
                "layer": l + 1,
                "units": net.sizes[l + 1] if isinstance(net, Network) else specs[l].units,
                "activation": act.name if hasattr(specs[l], "activation") else specs[l].type,
                "declared_derivative": act.declared,
                "grad_norm": [_number(float(v)) for v in column],
            }
        )
    spec = prepared.loaded.spec
    return {
        "name": prepared.loaded.name,
        "spec": str(prepared.loaded.path),
        "run_dir": None,
        "seed": spec.seed,
        "data": data.description,
        "epochs": len(history.epochs),
        "steps": history.steps,
        "stopped": history.stopped,
        "diverged_at": (
            {"epoch": history.diverged_at[0], "step": history.diverged_at[1]}
            if history.diverged_at
            else None
        ),
        "seconds": round(seconds, 3),
        "samples": {"train": len(data.x_train), "validation": len(data.x_val)},
        "loss_name": spec.net_loss.name,
        "start_loss": _number(start_loss),
        "prior_loss": prior,
        "last_epoch": (
            {"epoch": last.epoch, "loss": _number(last.loss), "accuracy": last.accuracy}
            if last is not None
            else None
        ),
        "train": {"loss": _number(train_loss), "accuracy": train_acc},
        "validation": {"loss": _number(val_loss), "accuracy": val_acc} if len(data.x_val) else None,
        "loss_curve": [_number(r.loss) for r in history.epochs],
        "val_loss_curve": [_number(r.val_loss) for r in history.epochs]
        if len(data.x_val)
        else None,
        "layers": layers,
        "did_not_learn": (
            None  # an interrupted run was cut short, not judged
            if history.stopped == "interrupted"
            else did_not_learn(
                _number(start_loss),
                _number(train_loss),
                prior,
                history.diverged_at is not None,
            )
        ),
    }


def fit(
    loaded: LoadedSpec,
    *,
    compare: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    on_start: Callable[[int], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> Fitted:
    """Prepare and train the spec (the user's code where it names it, nnfix's optimiser loop —
    or their own in-place update, kept); with `compare`, nnfix's engine beside it from the
    same init and batches."""
    prepared = prepare(loaded)
    if prepared.target_error is not None:
        raise prepared.target_error
    assert prepared.y_train is not None and prepared.y_val is not None
    total = loaded.spec.train.epochs
    if on_start is not None:
        on_start(total)
    reference = prepared.network.copy() if compare else None
    network: Trainable = prepared.network
    if loaded.spec.implementation is not None:
        network = _user_network(loaded, prepared)
    data = prepared.data
    x_val, y_val = (data.x_val, prepared.y_val) if len(data.x_val) else (None, None)
    batch_state = prepared.batch_rng.bit_generator.state
    trainer = Trainer(network, prepared.loss, loaded.spec.train, prepared.batch_rng)
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        start_loss, _ = trainer.evaluate(data.x_train, prepared.y_train)  # before any update
        history = trainer.fit(
            data.x_train,
            prepared.y_train,
            x_val,
            y_val,
            epochs=total,
            on_epoch=on_epoch,
            should_stop=should_stop,
        )
        compared = None
        if reference is not None and not should_stop():  # same init, same batches
            rng = np.random.default_rng()
            rng.bit_generator.state = batch_state
            ref_trainer = Trainer(reference, prepared.loss, loaded.spec.train, rng)
            compared = ref_trainer.fit(
                data.x_train,
                prepared.y_train,
                x_val,
                y_val,
                epochs=len(history.epochs),
                should_stop=should_stop,
            )
    summary = summarize(prepared, history, trainer, time.perf_counter() - start, start_loss)
    if compared is not None:
        summary["reference_loss_curve"] = [_number(r.loss) for r in compared.epochs]
        summary["parted_at_epoch"] = parted_at(history, compared)
    if getattr(network, "updates_itself", False):
        summary["notes"] = ["your backward updates the parameters itself: nnfix kept its update"]
    trained = network.as_network() if hasattr(network, "as_network") else prepared.network
    weights = dict(zip(trained.names, trained.params, strict=True))
    return Fitted(history, summary, weights, prepared)


def _user_network(loaded: LoadedSpec, prepared: Prepared) -> Trainable:
    """The user's code, found on a few training samples, holding the spec's initial values."""
    from nnfix.usercode.build import build
    from nnfix.usercode.network import UserNetwork, batch

    assert prepared.y_train is not None
    x, y = prepared.data.x_train[:32].astype(np.float64), prepared.y_train[:32].astype(np.float64)
    reference = prepared.network.astype(np.float64)
    model, _ = build(loaded, reference, batch(x, y))
    start = dict(zip(reference.names, reference.params, strict=True))
    return UserNetwork(model, reference, start)


def _fit_task(emit, loaded: LoadedSpec, compare: bool) -> Fitted:
    """`fit` in a worker: epochs reported as they end, stopping when nnfix asks."""
    fitted = fit(
        loaded,
        compare=compare,
        should_stop=sandbox.STOP.is_set,
        on_start=lambda total: emit(("start", total)),
        on_epoch=lambda record: emit(("epoch", record)),
    )
    fitted.prepared = None  # data and network stay here: only plain data goes back
    return fitted


def train(
    loaded: LoadedSpec,
    *,
    out: str | Path | None = None,
    compare: bool = False,
    runs_root: Path = Path("runs"),
    on_start: Callable[[int], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Train the spec and save its run directory (also when Ctrl-C stopped it early). The
    directory is reserved first (an OutputError, exit 2, when it cannot be made: nothing is
    trained for nothing). A Ctrl-C during the save is held until the run is saved whole; it
    shows in `interrupted`. A spec that names the user's code trains in a worker: what their
    code does cannot end nnfix."""
    if loaded.spec.model is None:  # their code is the network: diagnosed, not trained (yet)
        raise SpecError(
            [
                Problem(
                    "nnfix train trains the network the spec declares, and this spec declares "
                    "none (`model:`): `nnfix diagnose` checks your code without one",
                    path=("implementation",),
                    hint="add the spec's `model:` (its layers) to train it with nnfix",
                )
            ],
            loaded.source,
        )
    with deferred_sigint(reraise=False) as early:
        slot = reserve_run_dir(out, runs_root, loaded.name)
    if early.received:  # Ctrl-C before training: nothing is left behind
        slot.discard()
        raise KeyboardInterrupt
    try:
        with graceful_interrupt() as interrupted:
            if uses_user_code(loaded) and sandbox.can_fork():
                fitted = _fit_contained(loaded, compare, interrupted, on_start, on_epoch)
            else:
                fitted = fit(
                    loaded,
                    compare=compare,
                    should_stop=interrupted,
                    on_start=on_start,
                    on_epoch=on_epoch,
                )
            with deferred_sigint(reraise=False) as late:
                run_dir = _save(slot, loaded, fitted)
    except BaseException:
        slot.discard()  # failed or aborted (a second Ctrl-C): no half run is left
        raise
    stopped = fitted.history.stopped == "interrupted" or interrupted.requested or late.received
    return TrainResult(fitted.prepared, fitted.history, fitted.summary, run_dir, stopped)


def _save(slot: RunSlot, loaded: LoadedSpec, fitted: Fitted) -> Path:
    """Save the run into its reserved directory and give it its name. A failed write (a full
    disk) is an OutputError: the run could not be kept."""
    try:
        fitted.summary["run_dir"] = str(slot.final)
        save_run(
            slot.partial,
            loaded,
            fitted.weights,
            fitted.history,
            fitted.summary,
            name=slot.final,
        )
        run_dir = slot.commit()
        if run_dir != slot.final:  # its place was taken while it trained: say where it is
            fitted.summary["run_dir"] = str(run_dir)
            save_run(run_dir, loaded, fitted.weights, fitted.history, fitted.summary)
    except OSError as exc:
        problem = Problem(f"could not save the run to {shown(slot.final)}: {exc.strerror or exc}")
        raise OutputError([problem], outcome="the trained run was not saved") from None
    return run_dir


def _fit_contained(loaded, compare, interrupted, on_start, on_epoch) -> Fitted:
    epochs: list[EpochRecord] = []

    def event(e) -> None:
        kind, payload = e
        if kind == "start" and on_start is not None:
            on_start(payload)
        elif kind == "epoch":
            epochs.append(payload)
            if on_epoch is not None:
                on_epoch(payload)

    impl = loaded.spec.implementation
    try:
        result = sandbox.run(
            _fit_task,
            loaded,
            compare,
            timeout=impl.timeout if impl is not None else 30.0,
            on_event=event,
            stop_signal=interrupted,
        )
    except sandbox.WorkerDied as exc:
        where = f" after {len(epochs)} epochs" if epochs else ""
        problem = Problem(
            f"{exc.role or 'your code'} {exc}{where}; nothing could be saved of the run",
            path=role_path(exc.role),
        )
        raise ModuleError([problem], loaded.source) from None
    return result.value


def parted_at(mine: History, reference: History, tolerance: float = 1e-3) -> int | None:
    """The first epoch whose training loss differs from the reference engine's by more than
    `tolerance` relative (None when they agree throughout)."""
    for a, b in zip(mine.epochs, reference.epochs, strict=False):
        if not (math.isfinite(a.loss) and math.isfinite(b.loss)) or abs(
            a.loss - b.loss
        ) > tolerance * max(abs(b.loss), 1e-12):
            return a.epoch
    return None


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
