"""Max pooling (10.3.2), numpy only: each non-overlapping ``k x k`` block becomes its maximum."""

from __future__ import annotations

import numpy as np

__all__ = ["max_pool2d"]


def max_pool2d(x: np.ndarray, k: int = 2) -> np.ndarray:
    """``k x k`` max pooling with stride ``k`` over the last two axes of ``x``.

    Shape ``(..., H, W) -> (..., H // k, W // k)``; trailing rows/columns that do not fill a
    whole block are dropped (as ``torch.nn.MaxPool2d`` does by default).
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"max_pool2d needs at least 2 axes, got shape {x.shape}")
    if k < 1:
        raise ValueError(f"pool size must be >= 1, got {k}")
    H, W = x.shape[-2] // k, x.shape[-1] // k
    if H == 0 or W == 0:
        raise ValueError(f"a {k}x{k} pool does not fit a {x.shape[-2]}x{x.shape[-1]} map")
    blocks = x[..., :H * k, :W * k].reshape(*x.shape[:-2], H, k, W, k)   # (..., H, k, W, k)
    return blocks.max(axis=(-3, -1))
