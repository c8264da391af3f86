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

from nnfix.engine.train import EpochRecord, History, Trainable, Trainer
from nnfix.implementation.adapter import load_implementation
from nnfix.implementation.network import UserNetwork
from nnfix.run.prepare import Prepared, prepare
from nnfix.run.rundir import _number, new_run_dir, save_run
from nnfix.spec.load import LoadedSpec


@dataclass
class TrainResult:
    prepared: Prepared
    history: History
    summary: dict
    run_dir: Path


class Interrupt:
    """First Ctrl-C asks the loop to stop after its current step; a second one aborts."""

    def __init__(self):
        self.requested = False

    def __call__(self) -> bool:
        return self.requested


@contextlib.contextmanager
def graceful_interrupt() -> Iterator[Interrupt]:
    flag = Interrupt()
    if threading.current_thread() is not threading.main_thread():
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


def summarize(
    prepared: Prepared, history: History, trainer: Trainer, seconds: float, run_dir: Path
) -> dict:
    """The summary of a run, as JSON-ready data (non-finite numbers as null)."""
    data, net = prepared.data, trainer.network
    assert prepared.y_train is not None and prepared.y_val is not None
    with np.errstate(all="ignore"):
        train_loss, train_acc = trainer.evaluate(data.x_train, prepared.y_train)
        val_loss, val_acc = trainer.evaluate(data.x_val, prepared.y_val)
    norms = (
        np.array([r.grad_norms for r in history.epochs])
        if history.epochs
        else np.zeros((0, net.depth))
    )
    layers = []
    for l, act in enumerate(net.activations):
        column = norms[:, l] if len(norms) else np.zeros(0)
        layers.append(
            {
                "layer": l + 1,
                "units": prepared.loaded.spec.model.layers[l].units,
                "activation": act.name,
                "declared_derivative": act.declared,
                "grad_norm": [_number(float(v)) for v in column],
            }
        )
    spec = prepared.loaded.spec
    return {
        "name": prepared.loaded.name,
        "spec": str(prepared.loaded.path),
        "run_dir": str(run_dir),
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
        "train": {"loss": _number(train_loss), "accuracy": train_acc},
        "validation": {"loss": _number(val_loss), "accuracy": val_acc} if len(data.x_val) else None,
        "loss_curve": [_number(r.loss) for r in history.epochs],
        "val_loss_curve": [_number(r.val_loss) for r in history.epochs]
        if len(data.x_val)
        else None,
        "layers": layers,
    }


def train(
    loaded: LoadedSpec,
    *,
    out: Path | None = None,
    compare: bool = False,
    runs_root: Path = Path("runs"),
    on_start: Callable[[Prepared, int], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Train the spec and save its run directory (also when Ctrl-C stopped it early)."""
    prepared = prepare(loaded)
    if prepared.target_error is not None:
        raise prepared.target_error
    assert prepared.y_train is not None and prepared.y_val is not None
    total = loaded.spec.train.epochs
    if on_start is not None:
        on_start(prepared, total)
    reference = prepared.network.copy() if compare else None
    network: Trainable = prepared.network
    if loaded.spec.implementation is not None:  # the user's forward/backward, nnfix's optimiser
        network = UserNetwork(load_implementation(loaded, prepared.network), prepared.network)
    data = prepared.data
    x_val, y_val = (data.x_val, prepared.y_val) if len(data.x_val) else (None, None)
    batch_state = prepared.batch_rng.bit_generator.state
    trainer = Trainer(network, prepared.loss, loaded.spec.train, prepared.batch_rng)
    start = time.perf_counter()
    with graceful_interrupt() as interrupted, np.errstate(all="ignore"):
        history = trainer.fit(
            data.x_train,
            prepared.y_train,
            x_val,
            y_val,
            epochs=total,
            on_epoch=on_epoch,
            should_stop=interrupted,
        )
        compared = None
        if reference is not None and not interrupted():  # nnfix's engine, same init, same batches
            rng = np.random.default_rng()
            rng.bit_generator.state = batch_state
            ref_trainer = Trainer(reference, prepared.loss, loaded.spec.train, rng)
            compared = ref_trainer.fit(
                data.x_train,
                prepared.y_train,
                x_val,
                y_val,
                epochs=len(history.epochs),
                should_stop=interrupted,
            )
    seconds = time.perf_counter() - start
    run_dir = out if out is not None else new_run_dir(runs_root, loaded.name)
    summary = summarize(prepared, history, trainer, seconds, run_dir)
    if compared is not None:
        summary["reference_loss_curve"] = [_number(r.loss) for r in compared.epochs]
        summary["parted_at_epoch"] = parted_at(history, compared)
    trained = network.as_network() if isinstance(network, UserNetwork) else prepared.network
    save_run(run_dir, loaded, trained, history, summary)
    return TrainResult(prepared, history, summary, run_dir)


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
