"""Backpropagation layer by layer (10.7.1) through a network with two hidden layers, numpy only.

The network ``p -> K1 -> K2 -> 1`` (the shape of the MNIST network of 10.2, with one output)::

    Z1 = b1 + X W1^T,   A1 = g(Z1) * M1          (first hidden layer, dropout multipliers M1)
    Z2 = b2 + A1 W2^T,  A2 = g(Z2) * M2          (second hidden layer takes A1 as its inputs)
    f  = beta0 + A2 beta

is fitted by ``R = 1/2 sum_i (y_i - f(x_i))^2``.  The backward pass goes from the output to
the input, one layer at a time, each step reusing the previous one's result::

    dR/df_i   = -(y_i - f_i)
    dR/dbeta  = A2^T dR/df,             dR/dA2 = dR/df beta^T
    dR/dZ2    = dR/dA2 * M2 * g'(Z2),   dR/dW2 = (dR/dZ2)^T A1,   dR/db2 = column sums
    dR/dA1    = dR/dZ2 W2
    dR/dZ1    = dR/dA1 * M1 * g'(Z1),   dR/dW1 = (dR/dZ1)^T X,    dR/db1 = column sums

The dropout multipliers ``M`` (0 for a dropped unit, ``1/(1 - phi)`` for a kept one; all ones
without dropout) enter the backward pass exactly where they entered the forward pass, so a
dropped unit passes no gradient: the weights into it (its row of ``W``) and out of it (its
column of the next matrix) get nothing from that observation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from islp_ch10.reference.single_layer import ACTIVATIONS

__all__ = ["TwoLayerParams", "forward", "gradients"]

Activation = str | tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]


@dataclass(frozen=True)
class TwoLayerParams:
    """Weights of the two-hidden-layer network: ``W1`` ``(K1, p)``, ``b1`` ``(K1,)``, ``W2`` ``(K2, K1)``,
    ``b2`` ``(K2,)``, ``beta`` ``(K2,)``, ``beta0`` a float (the layout of torch's ``nn.Linear`` layers)."""

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    beta: np.ndarray
    beta0: float

    def __post_init__(self):
        arrays = {k: np.asarray(getattr(self, k), dtype=np.float64) for k in ("W1", "b1", "W2", "b2", "beta")}
        K1, _ = arrays["W1"].shape
        K2 = arrays["W2"].shape[0]
        expected = {"b1": (K1,), "W2": (K2, K1), "b2": (K2,), "beta": (K2,)}
        for name, shape in expected.items():
            if arrays[name].shape != shape:
                raise ValueError(
                    f"{name} must have shape {shape} for W1 {arrays['W1'].shape}, got {arrays[name].shape}"
                )
        for name, value in arrays.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "beta0", float(self.beta0))


def _activation(activation: Activation):
    if isinstance(activation, tuple):
        return activation
    try:
        return ACTIVATIONS[activation]
    except KeyError:
        raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}") from None


def _masks(masks, n: int, params: TwoLayerParams):
    if masks is None:
        return np.ones((n, params.W1.shape[0])), np.ones((n, params.W2.shape[0]))
    M1, M2 = (np.asarray(m, dtype=np.float64) for m in masks)
    if M1.shape != (n, params.W1.shape[0]) or M2.shape != (n, params.W2.shape[0]):
        raise ValueError(f"dropout masks must be (n, K1) and (n, K2), got {M1.shape} and {M2.shape}")
    return M1, M2


def _forward(X, params: TwoLayerParams, activation: Activation, masks):
    g, _ = _activation(activation)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != params.W1.shape[1]:
        raise ValueError(f"X must have shape (n, {params.W1.shape[1]}), got {X.shape}")
    M1, M2 = _masks(masks, X.shape[0], params)
    Z1 = params.b1 + X @ params.W1.T
    A1 = g(Z1) * M1
    Z2 = params.b2 + A1 @ params.W2.T
    A2 = g(Z2) * M2
    f = params.beta0 + A2 @ params.beta
    return X, Z1, A1, Z2, A2, f, M1, M2


def forward(X: np.ndarray, params: TwoLayerParams, activation: Activation = "relu", masks=None) -> np.ndarray:
    """``f(x_i)`` for every row of ``X`` (``(n,)``); ``masks = (M1, M2)`` are dropout multipliers."""
    return _forward(X, params, activation, masks)[5]


def gradients(
    X: np.ndarray, y: np.ndarray, params: TwoLayerParams, activation: Activation = "relu", masks=None
) -> dict[str, np.ndarray]:
    """Gradients of ``R = 1/2 sum_i (y_i - f(x_i))^2`` by the layer-by-layer backward pass.

    ``activation`` is a name from :data:`~islp_ch10.reference.single_layer.ACTIVATIONS` or a
    ``(g, g')`` pair.  Keys and shapes match :class:`TwoLayerParams`.
    """
    _, g_prime = _activation(activation)
    X, Z1, A1, Z2, A2, f, M1, M2 = _forward(X, params, activation, masks)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape != f.shape:
        raise ValueError(f"y must have {f.shape[0]} entries, got {y.shape}")
    d_f = -(y - f)  # (n,)
    d_A2 = d_f[:, None] * params.beta[None, :]  # (n, K2)
    d_Z2 = d_A2 * M2 * g_prime(Z2)
    d_A1 = d_Z2 @ params.W2  # (n, K1)
    d_Z1 = d_A1 * M1 * g_prime(Z1)
    return {
        "beta0": np.asarray(d_f.sum()),
        "beta": A2.T @ d_f,
        "W2": d_Z2.T @ A1,
        "b2": d_Z2.sum(axis=0),
        "W1": d_Z1.T @ X,
        "b1": d_Z1.sum(axis=0),
    }
