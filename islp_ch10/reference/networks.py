"""The chapter's networks evaluated in numpy from a per-layer table and their weights.

A network is written down the way ``torchinfo.summary`` lists it: one :class:`Layer` per
leaf module in the order the forward pass calls it (type, output shape without the batch
dimension, number of parameters).  :func:`evaluate` walks such a table in float64, taking
each layer's formula from the other references of this package:

``Flatten``    rows become vectors
``Linear``     ``b + W a``, the hidden layer of 10.1 (:mod:`.single_layer`), identity activation
``ReLU``       ``max(0, z)`` (:func:`.single_layer.relu`)
``Dropout``    the identity: the network is evaluated as in eval mode
``Conv2d``     the 3x3 filters of 10.3.1 over every channel, 'same' zero padding (:mod:`.conv`)
``MaxPool2d``  non-overlapping k x k maxima (:mod:`.pool`), k read from the shapes
``Embedding``  row ``j`` of the embedding matrix for token ``j`` (10.5.1)
``RNN``        ``A_l = tanh(W [1; X_l] + U A_{l-1})`` (:mod:`.rnn`)
``LSTM``       the long short-term memory recurrence, :func:`lstm_forward`

Two steps of the lab's ``forward`` methods are not layers and happen between rows: a
recurrent layer's sequence feeds the next layer through its last position only (``O_L``,
the lab's ``val[:, -1]``), and a stack of feature maps is flattened before a dense layer
(the lab's ``torch.flatten(val, start_dim=1)``).

The weights are plain arrays in torch's layout and order (``Linear``: ``W`` (out, in), ``b``;
``Conv2d``: ``K`` (out, in, h, w), ``b``; ``Embedding``: ``E`` (vocab, dim); ``RNN``/``LSTM``:
``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``); this module never imports torch.
Every step checks its result against the table's shape and each layer's weights against its
parameter count, so a table that does not describe a network fails here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from islp_ch10.reference import rnn as rnn_ref
from islp_ch10.reference.conv import patches, zero_pad
from islp_ch10.reference.pool import max_pool2d
from islp_ch10.reference.single_layer import SingleLayerParams, hidden_activations, relu, sigmoid

__all__ = ["LAYER_KINDS", "Layer", "conv2d_same", "evaluate", "lstm_forward"]


class Layer(NamedTuple):
    """One row of a network's table: leaf layer type, output shape (no batch axis), parameters."""

    kind: str
    shape: tuple[int, ...]
    params: int


#: layer type -> number of weight arrays it holds, in torch's order.
LAYER_KINDS: dict[str, int] = {
    "Flatten": 0,
    "ReLU": 0,
    "Dropout": 0,
    "MaxPool2d": 0,
    "Linear": 2,
    "Conv2d": 2,
    "Embedding": 1,
    "RNN": 4,
    "LSTM": 4,
}
RECURRENT = ("RNN", "LSTM")


def lstm_forward(
    X: np.ndarray, weight_ih: np.ndarray, weight_hh: np.ndarray, bias_ih: np.ndarray, bias_hh: np.ndarray
) -> np.ndarray:
    """Hidden states ``h_1..h_L`` of an LSTM layer with zero initial state.

    For each position ``l``, with ``z_l = W_ih x_l + b_ih + W_hh h_{l-1} + b_hh`` split into four
    blocks of ``K`` (input gate, forget gate, candidate, output gate, torch's order)::

        i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_g)   o = sigmoid(z_o)
        c_l = f * c_{l-1} + i * g
        h_l = o * tanh(c_l)

    ``X`` has shape ``(n, L, p)``; ``weight_ih`` ``(4K, p)``, ``weight_hh`` ``(4K, K)``, biases
    ``(4K,)``.  Returns ``(n, L, K)``.
    """
    X = np.asarray(X, dtype=np.float64)
    weight_ih, weight_hh = np.asarray(weight_ih, np.float64), np.asarray(weight_hh, np.float64)
    bias = np.asarray(bias_ih, np.float64) + np.asarray(bias_hh, np.float64)
    four_k, p = weight_ih.shape
    K = four_k // 4
    if four_k != 4 * K or weight_hh.shape != (4 * K, K) or bias.shape != (4 * K,) or X.shape[-1] != p:
        raise ValueError(
            f"LSTM weights must be (4K, p), (4K, K), (4K,) for inputs of {X.shape[-1]} "
            f"entries; got {weight_ih.shape}, {weight_hh.shape}, {bias.shape}"
        )
    n, L = X.shape[0], X.shape[1]
    h, c = np.zeros((n, K)), np.zeros((n, K))
    states = []
    for l in range(L):
        z = X[:, l] @ weight_ih.T + h @ weight_hh.T + bias  # (n, 4K)
        i, f, g, o = (z[:, j * K : (j + 1) * K] for j in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        states.append(h)
    return np.stack(states, axis=1)  # (n, L, K)


def conv2d_same(x: np.ndarray, kernels: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """:func:`.conv.conv2d_multichannel` with 'same' padding for a batch ``(n, C, H, W)``.

    Output ``[i, k]`` is ``bias[k] + sum_c sum_{u,v} kernels[k, c, u, v] * x[i, c, r + u, s + v]``
    over the zero-padded image: the same sum, taken over :func:`.conv.patches` at once
    instead of filter by filter (the filter-by-filter loop takes seconds on a CIFAR image).
    """
    x, kernels = np.asarray(x, np.float64), np.asarray(kernels, np.float64)
    _K, C, h, w = kernels.shape
    if x.ndim != 4 or x.shape[1] != C or h % 2 == 0 or w % 2 == 0:
        raise ValueError(f"expected images (n, {C}, H, W) and odd filters, got {x.shape} and {kernels.shape}")
    if h != w:
        raise ValueError(f"'same' padding here needs square filters, got {h}x{w}")
    padded = zero_pad(x, h // 2)
    out = []
    for image in padded:
        P = np.stack([patches(channel, h, w) for channel in image])  # (C, H, W, h, w)
        out.append(np.einsum("crsuv,kcuv->krs", P, kernels) + np.asarray(bias)[:, None, None])
    return np.stack(out)  # (n, K, H, W)


def _dense(a: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``b + W a`` for every row of ``a``: the pre-activations of 10.1's hidden layer."""
    params = SingleLayerParams(W=W, w0=b, beta=np.zeros(len(b)), beta0=0.0)
    return hidden_activations(a, params, "identity")


def _feed(a: np.ndarray, kind: str) -> np.ndarray:
    """Glue between rows: a sequence gives its last position to a non-recurrent layer; feature
    maps are flattened before a dense layer."""
    if a.ndim == 3 and kind not in RECURRENT:
        return a[:, -1]  # O_L only
    if a.ndim == 4 and kind in ("Linear", "Dropout", "Flatten"):
        return a.reshape(a.shape[0], -1)
    return a


def _apply(kind: str, a: np.ndarray, w: Sequence[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    if kind == "Flatten":
        return a.reshape(a.shape[0], -1)
    if kind == "Linear":
        return _dense(a, *w)
    if kind == "ReLU":
        return relu(a)
    if kind == "Dropout":
        return a
    if kind == "Conv2d":
        return conv2d_same(a, *w)
    if kind == "MaxPool2d":
        k = a.shape[-1] // shape[-1]
        return max_pool2d(a, k)
    if kind == "Embedding":
        tokens = np.asarray(a)
        if not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError(f"an Embedding layer takes integer token ids, got dtype {tokens.dtype}")
        return np.asarray(w[0], np.float64)[tokens]  # (n, L, dim)
    if kind == "RNN":
        W, U = rnn_ref.book_params_from_torch(*w)
        return rnn_ref.rnn_forward(a, W, U, g=np.tanh)
    if kind == "LSTM":
        return lstm_forward(a, *w)
    raise ValueError(f"no numpy formula for layer type {kind!r}; known: {', '.join(LAYER_KINDS)}")


def evaluate(layers: Sequence[Layer], weights: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """The network described by ``layers`` with ``weights``, on a batch ``x`` (float64, eval mode).

    ``weights`` are consumed in order, ``LAYER_KINDS[kind]`` arrays per row.  Raises
    :class:`ValueError` when a row's weights do not hold its parameter count, when a step's
    output does not have the row's shape, or when weights are left over.
    """
    a = np.asarray(x) if np.issubdtype(np.asarray(x).dtype, np.integer) else np.asarray(x, np.float64)
    weights = [np.asarray(w) for w in weights]
    position = 0
    for row, layer in enumerate(layers):
        kind = layer.kind
        if kind not in LAYER_KINDS:
            raise ValueError(f"row {row}: no numpy formula for layer type {kind!r}; known: {', '.join(LAYER_KINDS)}")
        w = weights[position : position + LAYER_KINDS[kind]]
        position += LAYER_KINDS[kind]
        held = sum(int(v.size) for v in w)
        if len(w) != LAYER_KINDS[kind] or held != layer.params:
            raise ValueError(
                f"row {row} ({kind}): the table says {layer.params} parameters, the weights "
                f"hold {held} in {len(w)} arrays"
            )
        a = _apply(kind, _feed(a, kind), w, tuple(layer.shape))
        if tuple(a.shape[1:]) != tuple(layer.shape):
            raise ValueError(
                f"row {row} ({kind}): output shape {tuple(a.shape[1:])}, the table says {tuple(layer.shape)}"
            )
    if position != len(weights):
        raise ValueError(f"{len(weights) - position} weight arrays left over after the last row of the table")
    return a
