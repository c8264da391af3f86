"""What a spec's network would take in memory, estimated before anything is allocated, against
what this machine can give: a net that would not fit is a located error (exit 2), never a
MemoryError or a machine brought to its knees (SPEC §7)."""

from __future__ import annotations

import contextlib
import os
import resource

from nnfix.errors import Problem, SpecError
from nnfix.spec.load import LoadedSpec

SHARE = 0.5  # of the machine's memory (or of the process's address-space limit) nnfix may plan on
FLOOR = 1 << 30  # bytes: planned on when the machine does not say how much it has
COPIES = 6  # float64 copies of the parameters a run holds: weights, gradients, the optimiser's
# two moments, the diagnosis's own network and the probe's copy
PER_UNIT = 4  # arrays of a batch per unit: pre-activation, activation, their two gradients
BATCH = 1024  # samples of the largest batch a diagnosis pushes through at once
ITEM = 8  # bytes per float64


def memory_bound() -> int:
    """Bytes nnfix plans on using at most: SHARE of the physical memory, or of the
    address-space limit when one is set lower."""
    total = FLOOR
    with contextlib.suppress(ValueError, OSError, AttributeError):  # not every OS says
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft > 0:
        total = min(total, soft)
    return int(SHARE * total)


def size_text(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def network_bytes(inputs: int, units: list[int], samples: int, batch: int) -> list[int]:
    """Bytes per layer: its parameters (COPIES times), its share of a batch's arrays, and for
    the output layer the targets one-hot encoded over every sample."""
    out = []
    fan_in = inputs
    for n in units:
        out.append(ITEM * (COPIES * (fan_in * n + n) + PER_UNIT * batch * n))
        fan_in = n
    out[-1] += ITEM * samples * units[-1]
    return out


def check_network(loaded: LoadedSpec, inputs: int, samples: int) -> None:
    """A SpecError at the layer that weighs most when the net would not fit in memory."""
    spec = loaded.spec
    units = [layer.units for layer in spec.model.layers]
    size = spec.train.batch_size
    batch = min(samples, BATCH if size == "full" else max(size, BATCH))
    per_layer = network_bytes(inputs, units, samples, batch)
    need, bound = sum(per_layer), memory_bound()
    if need <= bound:
        return
    heaviest = max(range(len(units)), key=per_layer.__getitem__)
    params = sum(a * b + b for a, b in zip([inputs, *units[:-1]], units, strict=True))
    raise SpecError(
        [
            Problem(
                f"this net would need about {size_text(need)} ({params:,} parameters, "
                f"{inputs} inputs, batches of {batch}), more than the {size_text(bound)} nnfix "
                f"plans on here (half the memory this process may use); layer {heaviest + 1} takes "
                f"{size_text(per_layer[heaviest])} of it",
                path=("model", "layers", heaviest, "units"),
                hint="fewer units, or a machine with more memory",
            )
        ],
        loaded.source,
    )
