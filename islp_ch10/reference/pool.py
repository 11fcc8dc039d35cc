"""Pooling (10.3.2), numpy only: each non-overlapping ``k x k`` block becomes its maximum
(max pooling) or its mean (average pooling)."""

from __future__ import annotations

import numpy as np

__all__ = ["avg_pool2d", "max_pool2d"]


def _blocks(x: np.ndarray, k: int, name: str) -> np.ndarray:
    """The non-overlapping ``k x k`` blocks of the last two axes: shape ``(..., H//k, k, W//k, k)``."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name} needs at least 2 axes, got shape {x.shape}")
    if k < 1:
        raise ValueError(f"pool size must be >= 1, got {k}")
    H, W = x.shape[-2] // k, x.shape[-1] // k
    if H == 0 or W == 0:
        raise ValueError(f"a {k}x{k} pool does not fit a {x.shape[-2]}x{x.shape[-1]} map")
    return x[..., : H * k, : W * k].reshape(*x.shape[:-2], H, k, W, k)


def max_pool2d(x: np.ndarray, k: int = 2) -> np.ndarray:
    """``k x k`` max pooling with stride ``k`` over the last two axes of ``x``.

    Shape ``(..., H, W) -> (..., H // k, W // k)``; trailing rows/columns that do not fill a
    whole block are dropped (as ``torch.nn.MaxPool2d`` does by default).
    """
    return _blocks(x, k, "max_pool2d").max(axis=(-3, -1))


def avg_pool2d(x: np.ndarray, k: int = 2) -> np.ndarray:
    """``k x k`` average pooling with stride ``k``: each block's sum divided by ``k * k``.

    Same shapes and dropped edges as :func:`max_pool2d` (and ``torch.nn.AvgPool2d(k)``).
    """
    blocks = _blocks(x, k, "avg_pool2d")
    return blocks.sum(axis=(-3, -1)) / (k * k)
