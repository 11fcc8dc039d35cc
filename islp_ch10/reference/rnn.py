"""The simple recurrent network of section 10.5, numpy only, in the book's parameterisation.

For an input sequence X_1, ..., X_L (each X_l has p entries) and K hidden units::

    A_l = g(W [1; X_l] + U A_{l-1}),      A_0 = 0
    O_l = B [1; A_l] = beta_0 + sum_k beta_k A_lk

with W of shape K x (p+1) (column 0 holds the biases w_k0), U of shape K x K (row k holds
u_k1..u_kK, so that (U A)_k = sum_s u_ks A_s) and B with K+1 entries (beta_0 first).
The same W, U, B serve every position l (weight sharing).

Erratum in the notes: they write A_l^T = (A_l1, ..., A_lp); the hidden vector has K entries.

torch's ``nn.RNN`` stores ``weight_ih`` (K x p), ``weight_hh`` (K x K) and *two* bias
vectors, ``bias_ih`` and ``bias_hh``, which only ever appear as their sum: that sum is the
book's column w_k0, so torch has K more parameters than the book's count for the same
function.  :func:`book_params_from_torch` does the mapping on plain arrays (this module
never imports torch).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "book_output_weights",
    "book_param_count",
    "book_params_from_torch",
    "rnn_forward",
    "rnn_outputs",
    "torch_param_count",
]


def _augment(x: np.ndarray) -> np.ndarray:
    """Prepend a 1 to the last axis: [1; x]."""
    return np.concatenate([np.ones((*x.shape[:-1], 1), dtype=x.dtype), x], axis=-1)


def rnn_forward(
    X: np.ndarray,
    W: np.ndarray,
    U: np.ndarray,
    g: Callable[[np.ndarray], np.ndarray] = np.tanh,
    A0: np.ndarray | None = None,
) -> np.ndarray:
    """Hidden activations A_1..A_L.

    ``X`` has shape ``(L, p)`` or ``(n, L, p)``; the result has shape ``(L, K)`` or ``(n, L, K)``.
    """
    X, W, U = np.asarray(X, dtype=float), np.asarray(W, dtype=float), np.asarray(U, dtype=float)
    K, p1 = W.shape
    if U.shape != (K, K):
        raise ValueError(f"U must be K x K = {K} x {K}, got {U.shape}")
    if X.shape[-1] + 1 != p1:
        raise ValueError(f"W is K x (p+1) = {W.shape} but X_l has {X.shape[-1]} entries")
    batch = X.shape[:-2]
    A = np.zeros((*batch, K)) if A0 is None else np.asarray(A0, dtype=float)
    steps = []
    for l in range(X.shape[-2]):
        X1 = _augment(X[..., l, :])  # (..., p+1)
        A = g(X1 @ W.T + A @ U.T)  # (..., K): g(W [1; X_l] + U A_{l-1})
        steps.append(A)
    return np.stack(steps, axis=-2)  # (..., L, K)


def rnn_outputs(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """O_l = beta_0 + sum_k beta_k A_lk for every l: shape ``A.shape[:-1]``."""
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    if B.shape != (A.shape[-1] + 1,):
        raise ValueError(f"B must have K+1 = {A.shape[-1] + 1} entries, got shape {B.shape}")
    return _augment(A) @ B


def book_params_from_torch(weight_ih, weight_hh, bias_ih, bias_hh) -> tuple[np.ndarray, np.ndarray]:
    """The book's (W, U) from torch's ``nn.RNN`` layer parameters (as numpy arrays).

    W = [bias_ih + bias_hh | weight_ih]  (K x (p+1));  U = weight_hh  (K x K).
    """
    weight_ih, weight_hh = np.asarray(weight_ih, dtype=float), np.asarray(weight_hh, dtype=float)
    bias = np.asarray(bias_ih, dtype=float) + np.asarray(bias_hh, dtype=float)
    return np.column_stack([bias, weight_ih]), weight_hh.copy()


def book_output_weights(weight, bias) -> np.ndarray:
    """The book's B = (beta_0, beta_1..beta_K) from a ``Linear(K, 1)`` layer's weight (1 x K) and bias (1,)."""
    weight, bias = np.asarray(weight, dtype=float).reshape(-1), np.asarray(bias, dtype=float).reshape(-1)
    return np.concatenate([bias, weight])


def book_param_count(p: int, K: int) -> dict[str, int]:
    """Entries of W, U and B in the book's parameterisation."""
    return {"W": K * (p + 1), "U": K * K, "B": K + 1}


def torch_param_count(p: int, K: int) -> int:
    """Parameters of one ``nn.RNN(p, K)`` layer: the book's W and U plus the second bias (K)."""
    return K * p + K * K + 2 * K
