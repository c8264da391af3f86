"""The 2-D convolution over (C, H, W) samples, batch first (NCHW), as one matmul on the
im2col patches: z = W.reshape(F, C·k·k) @ patches + b; W (F, C, k, k), b (F,). Patches and
outputs are channel-major in memory (F, N, Ho, Wo) and returned as (N, F, Ho, Wo) views, so
every copy and every pool above reads whole rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import BaseModel, Field, NonNegativeInt, PositiveInt

from nnfix.engine.initializers import initialize
from nnfix.engine.layers.layer import (
    Array,
    Base,
    LayerActivation,
    Mistake,
    Param,
    Shape,
    ShapeError,
)
from nnfix.engine.specs import ActivationSpec, InitSpec, Weighted


class Conv2dSpec(Weighted):
    """A 2-D convolution: {type: conv2d, filters: 8, kernel: 3, stride: 1, padding: 1,
    activation: relu}; its input (C, H, W)."""

    type: Literal["conv2d"]
    """conv2d."""
    filters: PositiveInt = Field(examples=[8])
    """How many filters (output channels)."""
    kernel: PositiveInt = Field(examples=[3])
    """The side of each square filter."""
    stride: PositiveInt = 1
    """The step between two filter positions."""
    padding: NonNegativeInt = 0
    """Zeros added on each side of H and W."""
    activation: ActivationSpec = Field(examples=["relu"])
    """As a dense layer's: applied to every output."""


FILTERS = Param("W", "weight", unit_axis=0, l2=True, symmetric=True)  # W (F, C, k, k): per filter
BIAS = Param("b", "bias", unit_axis=0, l2=False, symmetric=True)  # b (F,)


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """How many filter positions fit along a side of `size` (0 when none does)."""
    return max(0, (size + 2 * padding - kernel) // stride + 1)


def patches(x: Array, kernel: int, stride: int, padding: int) -> Array:
    """The im2col matrix of x (N, C, H, W): (C·k·k, N·Ho·Wo), a column per output position."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(x, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, ho, wo = windows.shape[:4]
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kernel * kernel, n * ho * wo)


def fold(dpatches: Array, x_shape: Shape, kernel: int, stride: int) -> Array:
    """col2im: the gradient of x (N, C, H, W; padded already) from that of its patches,
    summing where windows overlap (a loop over the k·k kernel offsets; every pixel at once);
    channel-major (C, N, H, W) in memory."""
    n, c, h, w = x_shape
    ho, wo = out_size(h, kernel, stride, 0), out_size(w, kernel, stride, 0)
    d = dpatches.reshape(c, kernel, kernel, n, ho, wo)
    dx = np.zeros((c, n, h, w), dpatches.dtype)
    for i in range(kernel):
        for j in range(kernel):
            dx[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += d[:, i, j]
    return dx.transpose(1, 0, 2, 3)


def _backward(
    layer: Conv2d, dout: Array, cache: Any, need_dx: bool = True, crop: int | None = None
) -> tuple[list[Array], Array | None]:
    """The gradients of W, b and x; `crop`: where dx is cut from the padded input's gradient
    (its padding, unless a mistake says otherwise)."""
    cols, x_shape = cache
    f, p = layer.W.shape[0], layer.padding
    dz = dout.transpose(1, 0, 2, 3).reshape(f, -1)  # a view when dout is channel-major
    dW = (dz @ cols.T).reshape(layer.W.shape)
    grads = [dW] if layer.b is None else [dW, dz.sum(axis=1)]
    if not need_dx:
        return grads, None
    n, c, h, w = x_shape
    padded = (n, c, h + 2 * p, w + 2 * p)
    dxp = fold(
        np.ascontiguousarray(layer.W.reshape(f, -1).T) @ dz, padded, layer.kernel, layer.stride
    )
    at = p if crop is None else crop
    return grads, dxp[:, :, at : at + h, at : at + w]


def _dx_cropped_at_zero(layer: Conv2d, dout: Array, cache: object) -> tuple[list[Array], Array]:
    """The usual mistake: dx cropped at (0, 0) of the padded gradient."""
    grads, dx = _backward(layer, dout, cache, crop=0)
    assert dx is not None
    return grads, dx


@dataclass
class Conv2d(Base):
    Spec: ClassVar[type[BaseModel]] = Conv2dSpec
    type: ClassVar[str] = "conv2d"
    mistakes: ClassVar[tuple[Mistake, ...]] = (
        Mistake(
            "the input gradient is cut from the padded one at (0, 0), not past the padding",
            _dx_cropped_at_zero,
        ),
    )

    W: Array  # (F, C, k, k)
    b: Array | None  # (F,)
    act: LayerActivation | None
    stride: int = 1
    padding: int = 0

    @classmethod
    def build(
        cls,
        spec: Conv2dSpec,
        in_shape: Shape,
        act: LayerActivation | None,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> Conv2d:
        """Initialised from `rng`: the filters by `init` (fan_in C·k·k, fan_out F·k·k), then
        the bias."""
        if len(in_shape) != 3:
            raise ShapeError(f"conv2d takes (C, H, W) samples, not shape {in_shape}")
        k, s, p = spec.kernel, spec.stride, spec.padding
        c, h, w = in_shape
        if min(out_size(h, k, s, p), out_size(w, k, s, p)) < 1:
            raise ShapeError(
                f"a {k}x{k} kernel with padding {p} does not fit in a {h}x{w} input", "kernel"
            )
        fan_in, fan_out = c * k * k, spec.filters * k * k
        W = initialize(init, (spec.filters, c, k, k), fan_in, fan_out, rng).astype(dtype)
        b = None
        if bias_init is not None:
            b = initialize(bias_init, (spec.filters,), fan_in, fan_out, rng).astype(dtype)
        return cls(W, b, act, spec.stride, spec.padding)

    @property
    def kernel(self) -> int:
        return self.W.shape[2]

    def output_shape(self, in_shape: Shape) -> Shape:
        _, h, w = in_shape
        k, s, p = self.kernel, self.stride, self.padding
        return (self.W.shape[0], out_size(h, k, s, p), out_size(w, k, s, p))

    def fans(self, in_shape: Shape) -> tuple[int, int]:
        f, c, k, _ = self.W.shape
        return c * k * k, f * k * k

    def params(self) -> list[Array]:
        return [self.W] if self.b is None else [self.W, self.b]

    def param_info(self) -> list[Param]:
        return [FILTERS] if self.b is None else [FILTERS, BIAS]

    def with_params(self, params: list[Array]) -> Conv2d:
        return replace(self, W=params[0], b=params[1] if self.b is not None else None)

    def forward(
        self, x: Array, train: bool, rng: np.random.Generator | None = None
    ) -> tuple[Array, object]:
        n = x.shape[0]
        f = self.W.shape[0]
        _, ho, wo = self.output_shape(x.shape[1:])
        cols = patches(x, self.kernel, self.stride, self.padding)
        z = self.W.reshape(f, -1) @ cols
        if self.b is not None:
            z += self.b[:, None]
        return z.reshape(f, n, ho, wo).transpose(1, 0, 2, 3), (cols, x.shape)

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        return _backward(self, dout, cache, need_dx)
