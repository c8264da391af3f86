"""The user's code behind the Trainer's face: their forward and backward with nnfix's optimiser
updating their own arrays — or, for a backward that updates the parameters itself, their own
update, which nnfix keeps (`nnfix train` and the probes say so)."""

from __future__ import annotations

import numpy as np

from nnfix.engine.losses import Loss
from nnfix.engine.network import Cache, LayerActivation, Network
from nnfix.usercode.model import Batch, UserModel
from nnfix.usercode.sandbox import UserCallError

Array = np.ndarray
PENALTY_AGREE = 1e-6  # their loss's extra term, the same (relatively) whatever the targets
PENALTY_TINY = 1e-12  # ... and more than this: a penalty


def batch(x: Array, y: Array) -> Batch:
    """A batch with integer labels beside one-hot targets, for code that indexes with them."""
    labels = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else None
    return Batch(x, y, labels)


class UserNetwork:
    """Looks like engine.Network to the Trainer (params, forward, loss, loss_and_grads)."""

    def __init__(
        self,
        model: UserModel,
        reference: Network,
        start: dict[str, Array],
        data_term: bool = False,
    ):
        self.model = model
        self.data_term = data_term  # train their data term alone: their penalty's gradient out
        self.reference = reference  # the spec's net: its activations, and the truth's forward
        self.start = start  # the initial values every copy starts from
        have = {p.slot.name for p in model.params}
        self.slots = [s for s in reference.slots if s.name in have]
        self.names = [s.name for s in self.slots]
        self.weight_index = [i for i, s in enumerate(self.slots) if s.role == "weight"]
        self.activations: list[LayerActivation] = reference.activations
        self.updates_itself = model.update_lr is not None
        self._bind()

    def _bind(self) -> None:
        views = self.model.views()
        self.params = [views[n] for n in self.names]  # their arrays: the optimiser updates them

    @property
    def depth(self) -> int:
        return self.reference.depth

    @property
    def weights(self) -> list[Array]:
        return self.weight_grads(self.params)

    def weight_grads(self, grads: list[Array]) -> list[Array]:
        return [grads[i] for i in self.weight_index]

    def copy(self) -> UserNetwork:
        """A net at the initial values again (their code holds one set of parameters)."""
        self.model.set_params(self.start)
        return UserNetwork(self.model, self.reference, self.start, self.data_term)

    def as_network(self) -> Network:
        """Their current values in nnfix's network, to look inside the layers."""
        values = self.model.get_params()
        return self.reference.with_params(
            [
                values.get(n, np.zeros_like(p))
                for n, p in zip(self.reference.names, self.reference.params, strict=True)
            ]
        )

    def forward(self, x: Array) -> Cache:
        out = self.model.forward(x)
        if out is None:  # no forward of their own: the spec's network with their values
            out = self.as_network().forward(x.astype(np.float64)).a[-1]
        else:  # their scores through the spec's output activation, where they return scores
            out = self.model.reading(out)[1]
        return Cache(x, [], [out.astype(x.dtype, copy=False)])

    def loss(self, cache: Cache, y: Array, loss: Loss, l2: float = 0.0) -> float:
        out = cache.a[-1]
        value = loss.value(out, out, y, None)
        if l2:
            value += 0.5 * l2 * sum(float(np.sum(w * w)) for w in self.weights)
        return value

    def penalty(self, x: Array, y: Array, loss: Loss) -> float:
        """What their own loss adds to the spec's loss of their output, at the current values,
        where it is a penalty on the parameters alone (an L2 term with `lambd`): the same with
        the targets replaced by the outputs, where only the penalty is left to pay. 0 where
        their code has no loss of its own, adds nothing, or adds something that depends on the
        targets (then it is no penalty: a loss of another form, or labels it indexes with)."""
        if self.updates_itself:  # a backward that steps the parameters: called once a step
            return 0.0
        out = np.asarray(self.forward(x).a[-1], np.float64)
        extras = []
        for targets in (y, out):
            theirs = self.model.loss(batch(x, targets))
            if theirs is None or not np.isfinite(theirs):
                return 0.0
            extras.append(float(theirs) - loss.value(out, out, targets, None))
        extra, left = extras
        size = max(abs(extra), abs(left), 1e-300)
        if not (abs(extra - left) <= PENALTY_AGREE * size and extra > PENALTY_TINY):
            return 0.0
        return extra

    def without_penalty(self, x: Array, y: Array, loss: Loss) -> tuple[UserNetwork, float]:
        """Their code trained on its data term alone, where their loss carries a penalty (the
        gradient their backward returns with the targets at the outputs taken out of every
        step), and that penalty at the current values; themselves and 0 where it has none."""
        value = self.penalty(x, y, loss)
        if not value:
            return self, 0.0
        return UserNetwork(self.model, self.reference, self.start, data_term=True), value

    def _gradients(self, x: Array, y: Array) -> list[Array]:
        found = self.model.gradients(batch(x, y), keep_update=self.updates_itself)
        grads = []
        for name, p in zip(self.names, self.params, strict=True):
            g = found.arrays.get(name)
            if g is None:
                shape = found.wrong.get(name, (None,))[0]
                what = f"has shape {shape}, {name} has {p.shape}" if shape else "is missing"
                raise UserCallError(
                    "backward", f"your gradient of {name} {what}; `nnfix diagnose` says more"
                )
            grads.append(np.ascontiguousarray(g, dtype=p.dtype))
        return grads

    def loss_and_grads(
        self, x: Array, y: Array, loss: Loss, l2: float = 0.0
    ) -> tuple[float, list[Array], Cache]:
        cache = self.forward(x)
        value = self.loss(cache, y, loss, l2)
        grads = self._gradients(x, y)
        if self.data_term:  # with the targets at the outputs only the penalty's gradient is left
            grads = [g.copy() for g in grads]  # before their backward runs again
            out = cache.a[-1].astype(y.dtype, copy=False)
            grads = [g - p for g, p in zip(grads, self._gradients(x, out), strict=True)]
        if l2:
            for i in self.weight_index:
                grads[i] = grads[i] + l2 * self.params[i]
        self._bind()  # a backward may have put new arrays in place of the old
        return value, grads, cache
