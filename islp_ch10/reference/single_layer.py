"""The single-hidden-layer network of section 10.1, and its gradients (10.7.1), in numpy.

The network maps ``p`` inputs through ``K`` hidden units to one output::

    z_k(X) = w_k0 + sum_j w_kj X_j                (pre-activation of unit k)
    A_k    = g(z_k)                               (activation of unit k)
    f(X)   = b_0 + sum_k b_k A_k

Fitting a regression network minimises ``R = sum_i R_i`` with
``R_i = 1/2 (y_i - f(x_i))^2``.  The chain rule gives, with the residual
``r_i = y_i - f(x_i)``::

    dR_i/db_0  = -r_i
    dR_i/db_k  = -r_i g(z_ik)
    dR_i/dw_k0 = -r_i b_k g'(z_ik)
    dR_i/dw_kj = -r_i b_k g'(z_ik) x_ij

Erratum (10.7.1 of the notes): the notes give ``dR_i/db_k = -r_i g'(z_ik)``.  Since
``f`` depends on ``b_k`` through the product ``b_k g(z_ik)``, the factor is the
activation ``g(z_ik)`` itself, not its derivative; :func:`gradients` uses the correct
factor, and the tests show that the notes' version disagrees with autograd.

Shapes: ``X`` is ``(n, p)``; ``W`` is ``(K, p)`` (row ``k`` holds ``w_k1..w_kp``),
``w0`` is ``(K,)``, ``beta`` is ``(K,)`` and ``beta0`` a scalar -- the layout of a torch
``nn.Linear(p, K)`` followed by ``nn.Linear(K, 1)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "SingleLayerParams",
    "forward",
    "gradients",
    "hidden_activations",
    "identity",
    "per_observation_gradients",
    "pre_activations",
    "relu",
    "sigmoid",
    "sigmoid_ratio_form",
    "squared_loss",
]


# ----------------------------------------------------------------------------- activations
def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + e^{-z})``, evaluated without overflow for any ``z``.

    Uses ``log(1 + e^{-z}) = logaddexp(0, -z)``, so large negative ``z`` gives a tiny
    positive number instead of an overflow warning.
    """
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def sigmoid_ratio_form(z: np.ndarray) -> np.ndarray:
    """The same function written as the book's first form, ``e^z / (1 + e^z)``.

    Kept separately so the two algebraic forms can be checked against each other; it
    overflows for ``z`` above about 709, so use it on moderate inputs only.
    """
    ez = np.exp(np.asarray(z, dtype=np.float64))
    return ez / (1.0 + ez)


def _sigmoid_prime(z: np.ndarray) -> np.ndarray:
    s = sigmoid(z)
    return s * (1.0 - s)


def relu(z: np.ndarray) -> np.ndarray:
    """Rectified linear unit ``(z)_+ = max(0, z)``."""
    return np.maximum(0.0, np.asarray(z, dtype=np.float64))


def _relu_prime(z: np.ndarray) -> np.ndarray:
    # The kink at 0 gets slope 0, the convention of torch's autograd.
    return (np.asarray(z) > 0).astype(np.float64)


def identity(z: np.ndarray) -> np.ndarray:
    """The identity "activation": with it the network collapses to a linear model."""
    return np.asarray(z, dtype=np.float64)


def _identity_prime(z: np.ndarray) -> np.ndarray:
    return np.ones_like(np.asarray(z, dtype=np.float64))


#: name -> (g, g') for every activation the reference knows.
ACTIVATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "sigmoid": (sigmoid, _sigmoid_prime),
    "relu": (relu, _relu_prime),
    "identity": (identity, _identity_prime),
}


def _activation(name: str):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None


# ----------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class SingleLayerParams:
    """Weights of ``f(X) = b_0 + sum_k b_k g(w_k0 + sum_j w_kj X_j)``.

    ``W`` is ``(K, p)``, ``w0`` and ``beta`` are ``(K,)``, ``beta0`` is a float.
    """

    W: np.ndarray
    w0: np.ndarray
    beta: np.ndarray
    beta0: float

    def __post_init__(self):
        W = np.asarray(self.W, dtype=np.float64)
        if W.ndim != 2:
            raise ValueError(f"W must be a (K, p) matrix, got shape {W.shape}")
        K = W.shape[0]
        w0 = np.asarray(self.w0, dtype=np.float64).reshape(-1)
        beta = np.asarray(self.beta, dtype=np.float64).reshape(-1)
        if w0.shape != (K,) or beta.shape != (K,):
            raise ValueError(f"w0 and beta must have K = {K} entries, got {w0.shape} and {beta.shape}")
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "w0", w0)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "beta0", float(self.beta0))

    @property
    def K(self) -> int:
        """Number of hidden units."""
        return self.W.shape[0]

    @property
    def p(self) -> int:
        """Number of inputs."""
        return self.W.shape[1]

    def permuted(self, order) -> SingleLayerParams:
        """The same network with its hidden units relabelled in ``order`` (a permutation of 0..K-1)."""
        order = np.asarray(order)
        return SingleLayerParams(self.W[order], self.w0[order], self.beta[order], self.beta0)

    def vector(self) -> np.ndarray:
        """All parameters as one vector theta: ``(W row by row, w0, beta, beta0)``."""
        return np.concatenate([self.W.ravel(), self.w0, self.beta, [self.beta0]])

    @classmethod
    def from_vector(cls, theta: np.ndarray, K: int, p: int) -> SingleLayerParams:
        """Inverse of :meth:`vector`."""
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (K * p + 2 * K + 1,):
            raise ValueError(f"theta must have K*p + 2K + 1 = {K * p + 2 * K + 1} entries, got {theta.shape}")
        W = theta[: K * p].reshape(K, p)
        w0 = theta[K * p : K * p + K]
        beta = theta[K * p + K : K * p + 2 * K]
        return cls(W, w0, beta, theta[-1])


# ----------------------------------------------------------------------------- forward pass
def _check_X(X: np.ndarray, params: SingleLayerParams) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != params.p:
        raise ValueError(f"X must have shape (n, {params.p}), got {X.shape}")
    return X


def pre_activations(X: np.ndarray, params: SingleLayerParams) -> np.ndarray:
    """``z_ik = w_k0 + sum_j w_kj x_ij`` as an ``(n, K)`` matrix."""
    X = _check_X(X, params)
    return params.w0[None, :] + X @ params.W.T  # (n, K)


def hidden_activations(X: np.ndarray, params: SingleLayerParams, activation: str = "relu") -> np.ndarray:
    """``A_ik = g(z_ik)``, the ``(n, K)`` outputs of the hidden layer."""
    g, _ = _activation(activation)
    return g(pre_activations(X, params))


def forward(X: np.ndarray, params: SingleLayerParams, activation: str = "relu") -> np.ndarray:
    """``f(x_i) = b_0 + sum_k b_k A_ik`` for every row of ``X``: an ``(n,)`` vector."""
    A = hidden_activations(X, params, activation)  # (n, K)
    return params.beta0 + A @ params.beta  # (n,)


def squared_loss(y: np.ndarray, f: np.ndarray) -> float:
    """``R = 1/2 sum_i (y_i - f_i)^2``; twice this is the residual sum of squares."""
    r = np.asarray(y, dtype=np.float64) - np.asarray(f, dtype=np.float64)
    return 0.5 * float(r @ r)


# ----------------------------------------------------------------------------- backprop by hand
def per_observation_gradients(
    X: np.ndarray, y: np.ndarray, params: SingleLayerParams, activation: str = "relu"
) -> dict[str, np.ndarray]:
    """Gradients of each ``R_i = 1/2 (y_i - f(x_i))^2``, one row per observation.

    Returns a dict with ``beta0`` ``(n,)``, ``beta`` ``(n, K)``, ``w0`` ``(n, K)`` and
    ``W`` ``(n, K, p)``, following the chain rule written in the module docstring.
    """
    X = _check_X(X, params)
    g, g_prime = _activation(activation)
    Z = pre_activations(X, params)  # (n, K)
    A = g(Z)  # (n, K)
    f = params.beta0 + A @ params.beta  # (n,)
    r = np.asarray(y, dtype=np.float64).reshape(-1) - f  # residuals y_i - f(x_i)
    if r.shape != (X.shape[0],):
        raise ValueError(f"y must have {X.shape[0]} entries, got {np.shape(y)}")
    d_beta0 = -r  # dR_i/db_0
    d_beta = -r[:, None] * A  # dR_i/db_k = -r_i g(z_ik)   (not g'!)
    delta = -r[:, None] * params.beta[None, :] * g_prime(Z)  # dR_i/dz_ik, (n, K)
    d_w0 = delta  # dR_i/dw_k0
    d_W = delta[:, :, None] * X[:, None, :]  # dR_i/dw_kj, (n, K, p)
    return {"beta0": d_beta0, "beta": d_beta, "w0": d_w0, "W": d_W}


def gradients(
    X: np.ndarray, y: np.ndarray, params: SingleLayerParams, activation: str = "relu"
) -> dict[str, np.ndarray]:
    """Gradients of ``R = sum_i R_i``: the per-observation gradients summed over ``i``.

    Keys and shapes match :class:`SingleLayerParams`: ``W`` ``(K, p)``, ``w0`` ``(K,)``,
    ``beta`` ``(K,)``, ``beta0`` (0-d array).
    """
    return {k: v.sum(axis=0) for k, v in per_observation_gradients(X, y, params, activation).items()}
