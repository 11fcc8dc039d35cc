"""2-D convolution as the chapter defines it (10.3.1), numpy only.

What deep-learning libraries call "convolution" (and the chapter too) is cross-correlation:
the filter is slid over the image without flipping, and each output entry is the sum of the
elementwise product of the filter with the patch under it.  With no padding and stride 1 an
``H x W`` image and an ``h x w`` filter give an ``(H - h + 1) x (W - w + 1)`` map.

Every function here works on object arrays too (Python ints, fractions ...), which lets a
test check the chapter's symbolic 4x3 example exactly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["compose_kernels", "conv2d", "conv2d_multichannel", "patches", "shift2d", "zero_pad"]


def _check_fits(image_hw: tuple[int, int], kernel_hw: tuple[int, int]) -> None:
    (H, W), (h, w) = image_hw, kernel_hw
    if h < 1 or w < 1 or h > H or w > W:
        raise ValueError(f"a {h}x{w} filter does not fit a {H}x{W} image (need 1 <= h <= H, 1 <= w <= W)")


def conv2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Valid 2-D cross-correlation of an ``(H, W)`` image with an ``(h, w)`` filter.

    ``out[i, j] = sum_{u, v} kernel[u, v] * image[i + u, j + v]``, shape ``(H-h+1, W-w+1)``.
    Computed as a sum over filter entries of the filter weight times a shifted image window,
    so each output entry is accumulated exactly as the formula reads.
    """
    image, kernel = np.asarray(image), np.asarray(kernel)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"conv2d expects a 2-D image and a 2-D filter, got shapes {image.shape}, {kernel.shape}")
    _check_fits(image.shape, kernel.shape)
    (H, W), (h, w) = image.shape, kernel.shape
    Ho, Wo = H - h + 1, W - w + 1
    out = np.zeros((Ho, Wo), dtype=np.result_type(image, kernel))
    for u in range(h):
        for v in range(w):
            out = out + kernel[u, v] * image[u : u + Ho, v : v + Wo]
    return out


def patches(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """Every ``h x w`` patch of ``image``: shape ``(H-h+1, W-w+1, h, w)``; ``[i, j]`` is the patch
    whose top-left corner is ``(i, j)``, i.e. the one that ``conv2d(...)[i, j]`` sees."""
    image = np.asarray(image)
    _check_fits(image.shape, (h, w))
    H, W = image.shape
    return np.array([[image[i : i + h, j : j + w] for j in range(W - w + 1)] for i in range(H - h + 1)])


def zero_pad(x: np.ndarray, pad: int) -> np.ndarray:
    """Pad the last two axes with ``pad`` zeros on every side (``padding='same'`` for a
    ``(2 pad + 1)``-square filter)."""
    x = np.asarray(x)
    widths = [(0, 0)] * (x.ndim - 2) + [(pad, pad), (pad, pad)]
    return np.pad(x, widths)


def conv2d_multichannel(
    x: np.ndarray, kernels: np.ndarray, bias: np.ndarray | None = None, padding: int = 0
) -> np.ndarray:
    """K filters over a C-channel image: ``(C, H, W) x (K, C, h, w) -> (K, H', W')``.

    Output channel ``k`` is the sum over input channels ``c`` of ``conv2d(x[c], kernels[k, c])``
    plus ``bias[k]``: one 2-D map per filter, however many channels the image has.
    ``padding`` zeros are added on every side first.
    """
    x, kernels = np.asarray(x), np.asarray(kernels)
    if x.ndim != 3 or kernels.ndim != 4:
        raise ValueError(f"expected image (C, H, W) and filters (K, C, h, w), got {x.shape}, {kernels.shape}")
    if kernels.shape[1] != x.shape[0]:
        raise ValueError(f"filters have {kernels.shape[1]} channels but the image has {x.shape[0]}")
    if padding:
        x = zero_pad(x, padding)
    maps = []
    for k in range(kernels.shape[0]):
        total = sum(conv2d(x[c], kernels[k, c]) for c in range(x.shape[0]))
        maps.append(total + (0 if bias is None else bias[k]))
    return np.stack(maps)


def compose_kernels(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The single filter equal to ``first`` followed by ``second`` (no activation in between).

    Two valid cross-correlations in a row, ``conv2d(conv2d(x, first), second)``, read
    ``sum_{s,t} second[s,t] sum_{u,v} first[u,v] x[i+s+u, j+t+v]``; collecting the terms with
    ``s + u = a`` and ``t + v = b`` gives one filter of size ``(h1 + h2 - 1) x (w1 + w2 - 1)``::

        K[a, b] = sum_{u, v} first[u, v] * second[a - u, b - v]

    (the full 2-D convolution of the two filters).  Two 3x3 filters make one 5x5 filter, whose
    receptive field is the 5x5 patch: the reason stacked convolutions see more of the image.
    """
    first, second = np.asarray(first), np.asarray(second)
    if first.ndim != 2 or second.ndim != 2:
        raise ValueError(f"compose_kernels expects two 2-D filters, got shapes {first.shape}, {second.shape}")
    (h1, w1), (h2, w2) = first.shape, second.shape
    out = np.zeros((h1 + h2 - 1, w1 + w2 - 1), dtype=np.result_type(first, second))
    for u in range(h1):
        for v in range(w1):
            out[u : u + h2, v : v + w2] = out[u : u + h2, v : v + w2] + first[u, v] * second
    return out


def shift2d(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved down by ``dy`` and right by ``dx`` rows/columns (negative: up/left),
    with zeros coming in at the edges: ``out[i, j] = image[i - dy, j - dx]`` where that exists."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"shift2d expects a 2-D image, got shape {image.shape}")
    H, W = image.shape
    out = np.zeros_like(image)
    if abs(dy) >= H or abs(dx) >= W:
        return out
    out[max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = image[
        max(-dy, 0) : H + min(-dy, 0), max(-dx, 0) : W + min(-dx, 0)
    ]
    return out
