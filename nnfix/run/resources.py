"""What a spec's network would take in memory, estimated before anything is allocated, against
what this machine can give: a net that would not fit is a located error (exit 2), never a
MemoryError or a machine brought to its knees (SPEC §7)."""

from __future__ import annotations

from nnfix.data.limits import memory, size
from nnfix.errors import Problem, SpecError
from nnfix.spec.load import LoadedSpec
from nnfix.spec.model import DenseSpec

SHARE = 0.5  # of the machine's memory (or of the process's address-space limit) nnfix may plan on
FLOOR = 1 << 30  # bytes: planned on when the machine does not say how much it has
COPIES = 6  # float64 copies of the parameters a run holds: weights, gradients, the optimiser's
# two moments, the diagnosis's own network and the probe's copy
PER_UNIT = 4  # arrays of a batch per unit: pre-activation, activation, their two gradients
BATCH = 1024  # samples of the largest batch a diagnosis pushes through at once
ITEM = 8  # bytes per float64


def memory_bound() -> int:
    """Bytes nnfix plans on for a network: SHARE of the memory it may use."""
    usable = memory()
    return int(SHARE * (FLOOR if usable is None else usable))


def network_bytes(inputs: int, units: list[int], batch: int) -> list[int]:
    """Bytes per layer: its parameters (COPIES times) and its share of a batch's arrays (the
    one-hot targets are the data's, bounded where the data is read)."""
    out = []
    fan_in = inputs
    for n in units:
        out.append(ITEM * (COPIES * (fan_in * n + n) + PER_UNIT * batch * n))
        fan_in = n
    return out


def check_network(loaded: LoadedSpec, inputs: int, samples: int) -> None:
    """A SpecError at the layer that weighs most when the net would not fit in memory."""
    spec = loaded.spec
    if not all(isinstance(layer, DenseSpec) for layer in spec.net_model.layers):
        return  # estimated for a stack of dense layers only; other types are not planned here
    units = [layer.units for layer in spec.net_model.layers]
    given = spec.train.batch_size
    batch = min(samples, BATCH if given == "full" else max(given, BATCH))
    per_layer = network_bytes(inputs, units, batch)
    need, bound = sum(per_layer), memory_bound()
    if need <= bound:
        return
    heaviest = max(range(len(units)), key=per_layer.__getitem__)
    params = sum(a * b + b for a, b in zip([inputs, *units[:-1]], units, strict=True))
    raise SpecError(
        [
            Problem(
                f"this net would need about {size(need)} ({params:,} parameters, "
                f"{inputs} inputs, batches of {batch}), more than the {size(bound)} nnfix "
                f"plans on here (half the memory this process may use); layer {heaviest + 1} takes "
                f"{size(per_layer[heaviest])} of it",
                path=("model", "layers", heaviest, "units"),
                hint="fewer units, or a machine with more memory",
            )
        ],
        loaded.source,
    )
