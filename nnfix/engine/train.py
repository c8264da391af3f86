"""The training loop: minibatches, the schedule, the optimiser, and a record per epoch.

One loop for everything that trains — `nnfix train` and the diagnostic probes — with hooks
for what each wants to watch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from nnfix.engine.losses import Loss
from nnfix.engine.metrics import accuracy, target_kind
from nnfix.engine.network import Cache, LayerActivation, Network
from nnfix.engine.optimizers import Optimizer
from nnfix.engine.schedules import learning_rate

if TYPE_CHECKING:  # a type only: the engine does not import the spec package
    from nnfix.spec.model import TrainSpec


class Trainable(Protocol):
    """What the Trainer trains: nnfix's Network, or the user's own code behind the same face."""

    params: list[np.ndarray]  # updated in place by the optimiser

    @property
    def depth(self) -> int: ...

    @property
    def names(self) -> list[str]: ...

    @property
    def activations(self) -> list[LayerActivation]: ...

    @property
    def weights(self) -> list[np.ndarray]: ...

    def weight_grads(self, grads: list[np.ndarray]) -> list[np.ndarray]: ...

    def forward(self, x: np.ndarray) -> Cache: ...

    def loss(self, cache: Cache, y: np.ndarray, loss: Loss, l2: float = 0.0) -> float: ...

    def loss_and_grads(
        self, x: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0
    ) -> tuple[float, list[np.ndarray], Cache]: ...


@dataclass
class EpochRecord:
    epoch: int  # from 1
    loss: float  # mean of the epoch's minibatch losses
    accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    grad_norms: list[float]  # per weight tensor (per layer in a dense stack): ‖dW‖, averaged
    seconds: float


@dataclass
class History:
    epochs: list[EpochRecord] = field(default_factory=list)
    steps: int = 0
    stopped: str | None = None  # None (ran to the end) | "interrupted" | "diverged" | "stopped"
    diverged_at: tuple[int, int] | None = None  # (epoch, step) where the loss went non-finite


@dataclass
class StepInfo:
    """What a step hook sees: enough for the probes to measure anything they need."""

    epoch: int
    step: int
    lr: float
    loss: float
    grads: list[np.ndarray]  # aligned with network.params
    network: Trainable  # after this step's update


class Trainer:
    def __init__(self, network: Trainable, loss: Loss, train: TrainSpec, rng: np.random.Generator):
        self.network = network
        self.loss = loss
        self.train = train
        self.rng = rng
        self.optimizer = Optimizer(train.optimizer)
        self.steps = 0  # updates made: with `noise`, the seed of each step's dropout masks
        seq = getattr(rng.bit_generator, "seed_seq", None)  # the spec's seed, not a draw from rng
        self.noise = int(seq.generate_state(1)[0]) if seq is not None else 0

    def step(
        self, x: np.ndarray, y: np.ndarray, lr: float
    ) -> tuple[float, list[np.ndarray], Cache]:
        """One update on one minibatch: its loss (before the update), the gradients and the
        forward cache. A non-finite loss updates nothing, so NaN never reaches the weights."""
        net = self.network
        if isinstance(net, Network):  # nnfix's own: masks from the seed, running statistics
            seed = self.noise + self.steps
            value, grads, cache = net.loss_and_grads(x, y, self.loss, self.train.l2, seed=seed)
            if math.isfinite(value):
                net.update_buffers(cache)
        else:
            value, grads, cache = net.loss_and_grads(x, y, self.loss, self.train.l2)
        self.steps += 1
        if math.isfinite(value):
            self.optimizer.step(net.params, grads, lr)
        return value, grads, cache

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
        """Loss and accuracy on a whole set (None, None when it is empty)."""
        if len(x) == 0:
            return None, None
        cache = self.network.forward(x)
        value = self.network.loss(cache, y, self.loss, self.train.l2)
        return value, accuracy(cache.a[-1], y, target_kind(y))

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        epochs: int | None = None,
        on_epoch: Callable[[EpochRecord], None] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> History:
        epochs = epochs or self.train.epochs
        m = len(x)
        batch = m if self.train.batch_size == "full" else min(self.train.batch_size, m)
        per_epoch = math.ceil(m / batch)
        kind = target_kind(y)
        history = History()
        depth = len(self.network.weights)  # one norm per weight tensor
        for epoch in range(epochs):
            start = time.perf_counter()
            order = self.rng.permutation(m)
            total = 0.0
            correct = 0.0
            norms = np.zeros(depth)
            steps = 0
            lr = self.train.lr
            for k in range(per_epoch):
                index = order[k * batch : (k + 1) * batch]
                xb, yb = x[index], y[index]
                lr = learning_rate(
                    self.train.schedule, self.train.lr, epoch, history.steps, epochs, per_epoch
                )
                value, grads, cache = self.step(xb, yb, lr)
                if kind is not None:
                    correct += (accuracy(cache.a[-1], yb, kind) or 0.0) * len(xb)
                norms += [float(np.linalg.norm(g)) for g in self.network.weight_grads(grads)]
                if on_step is not None:  # after the update: the weights are the new ones
                    on_step(StepInfo(epoch + 1, history.steps, lr, value, grads, self.network))
                history.steps += 1
                steps += 1
                total += value * len(xb)
                if not math.isfinite(value):
                    history.stopped, history.diverged_at = "diverged", (epoch + 1, history.steps)
                    break
                if should_stop is not None and should_stop():
                    history.stopped = "interrupted"
                    break
            seen = min(steps * batch, m)
            val_loss, val_acc = (
                self.evaluate(x_val, y_val)
                if x_val is not None and y_val is not None
                else (None, None)
            )
            record = EpochRecord(
                epoch=epoch + 1,
                loss=total / seen,
                accuracy=correct / seen if kind is not None else None,
                val_loss=val_loss,
                val_accuracy=val_acc,
                lr=lr,
                grad_norms=(norms / max(steps, 1)).tolist(),
                seconds=time.perf_counter() - start,
            )
            history.epochs.append(record)
            if on_epoch is not None:
                on_epoch(record)
            if history.stopped:
                break
        return history
