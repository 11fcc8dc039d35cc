"""Softmax, cross-entropy and entropy in numpy (sections 10.2 and 10.4).

For class scores ``Z_0, ..., Z_{M-1}`` the softmax gives class probabilities::

    f_m(X) = Pr(Y = m | X) = e^{Z_m} / sum_l e^{Z_l}

and a classifier is fitted by minimising the cross-entropy
``-sum_i sum_m y_im log f_m(x_i)`` (``y_im`` is 1 when observation ``i`` is in class ``m``),
which is the negative log-likelihood of the multinomial model.

Every function works along the last axis, so a single score vector or an ``(n, M)``
matrix of scores can be passed.  Softmax and log-softmax subtract the largest score
first: the result is unchanged (softmax ignores a common shift) and ``exp`` never
overflows.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "binary_logistic_nll",
    "cross_entropy",
    "distribution_cross_entropy",
    "entropy",
    "kl_divergence",
    "log_softmax",
    "logsumexp",
    "multinomial_nll",
    "one_hot",
    "softmax",
    "softmax_direct",
]


def logsumexp(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log sum_l e^{z_l}`` along ``axis``, computed after subtracting the maximum."""
    z = np.asarray(z, dtype=np.float64)
    zmax = np.max(z, axis=axis, keepdims=True)
    return np.squeeze(zmax, axis=axis) + np.log(np.sum(np.exp(z - zmax), axis=axis))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``e^{z_m} / sum_l e^{z_l}`` along ``axis`` (stable: the maximum is subtracted first)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_direct(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """The book's formula as written, ``e^{z_m} / sum_l e^{z_l}``, with no shift.

    Kept to check the formula itself (e.g. that a common shift cancels in the ratio, which
    :func:`softmax` makes true by construction); ``exp`` overflows for scores above about 709,
    so use it on moderate scores only.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(np.asarray(z, dtype=np.float64))
        return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``z_m - log sum_l e^{z_l}``: the log of :func:`softmax`, without taking a log of a tiny number."""
    z = np.asarray(z, dtype=np.float64)
    return z - np.expand_dims(logsumexp(z, axis=axis), axis)


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The indicator matrix ``y_im = 1{label_i = m}``, shape ``(n, num_classes)``."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-d integer array, got dtype {labels.dtype}, shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    Y = np.zeros((labels.size, num_classes))
    Y[np.arange(labels.size), labels] = 1.0
    return Y


def _plogq(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``p log q`` entrywise with the convention ``0 log q = 0`` (even for ``q = 0``)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    out = np.zeros(np.broadcast(p, q).shape)
    nz = np.broadcast_to(p != 0, out.shape)
    pb, qb = np.broadcast_to(p, out.shape), np.broadcast_to(q, out.shape)
    with np.errstate(divide="ignore"):
        out[nz] = pb[nz] * np.log(qb[nz])
    return out


def cross_entropy(Y: np.ndarray, F: np.ndarray) -> float:
    """``-sum_i sum_m y_im log f_m(x_i)`` for indicators ``Y`` and probabilities ``F`` (same shape).

    This is the book's fitting criterion for a classification network, summed (not
    averaged) over observations.
    """
    Y = np.asarray(Y, dtype=np.float64)
    F = np.asarray(F, dtype=np.float64)
    if Y.shape != F.shape:
        raise ValueError(f"Y and F must have the same shape, got {Y.shape} and {F.shape}")
    return float(-np.sum(_plogq(Y, F)))


def multinomial_nll(labels: np.ndarray, Z: np.ndarray) -> float:
    """Negative log-likelihood ``-log prod_i Pr(Y = y_i | x_i)`` of a softmax model with scores ``Z``.

    ``labels`` is ``(n,)`` integer classes, ``Z`` is ``(n, M)``: each observation contributes
    the log-probability of its own class only.
    """
    Z = np.asarray(Z, dtype=np.float64)
    labels = np.asarray(labels)
    if Z.ndim != 2 or labels.shape != (Z.shape[0],):
        raise ValueError(f"Z must be (n, M) and labels (n,), got {Z.shape} and {labels.shape}")
    log_prob = log_softmax(Z)[np.arange(Z.shape[0]), labels]
    return float(-np.sum(log_prob))


def binary_logistic_nll(y: np.ndarray, eta: np.ndarray) -> float:
    """Negative log-likelihood of two-class logistic regression with log-odds ``eta``:

    ``-sum_i [y_i log sigma(eta_i) + (1 - y_i) log(1 - sigma(eta_i))] = sum_i [log(1 + e^{eta_i}) - y_i eta_i]``,
    written with ``logaddexp`` so that no ``exp`` overflows.  ``y`` holds 0/1 labels.
    """
    y = np.asarray(y, dtype=np.float64)
    eta = np.asarray(eta, dtype=np.float64)
    if y.shape != eta.shape:
        raise ValueError(f"y and eta must have the same shape, got {y.shape} and {eta.shape}")
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta))


def entropy(p: np.ndarray) -> np.ndarray:
    """``H(p) = -sum_x p(x) log p(x)`` (natural log, ``0 log 0 = 0``) along the last axis."""
    return -np.sum(_plogq(p, p), axis=-1)


def distribution_cross_entropy(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``H(p, q) = -sum_x p(x) log q(x)`` along the last axis; infinite where ``q = 0 < p``."""
    return -np.sum(_plogq(p, q), axis=-1)


def kl_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``sum_x p(x) log(p(x)/q(x))``, computed directly (not as a difference of the two entropies)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore"):
        ratio = np.divide(p, q, out=np.ones(np.broadcast(p, q).shape), where=(p != 0))
    return np.sum(_plogq(p, ratio), axis=-1)
