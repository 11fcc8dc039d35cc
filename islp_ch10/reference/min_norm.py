"""Least squares when there are fewer equations than unknowns (10.8), numpy only.

With ``n < p`` and ``X`` of full row rank, ``X beta = y`` has infinitely many solutions;
the Moore-Penrose pseudo-inverse picks the one of least Euclidean norm,
``beta = X^+ y = X^T (X X^T)^{-1} y``, which lies in the row space of ``X``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["min_norm_closed_form", "min_norm_lstsq", "ridge"]


def min_norm_lstsq(X: np.ndarray, y: np.ndarray, rcond: float | None = None) -> np.ndarray:
    """``pinv(X) @ y``: the least-squares solution of least norm (any shape of ``X``)."""
    X = np.asarray(X, dtype=float)
    pinv = np.linalg.pinv(X) if rcond is None else np.linalg.pinv(X, rcond=rcond)
    return pinv @ np.asarray(y, dtype=float)


def min_norm_closed_form(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``X^T (X X^T)^{-1} y`` for a wide ``X`` of full row rank (an independent formula)."""
    X = np.asarray(X, dtype=float)
    if X.shape[0] > X.shape[1]:
        raise ValueError(f"the closed form needs n <= p, got X of shape {X.shape}")
    return X.T @ np.linalg.solve(X @ X.T, np.asarray(y, dtype=float))


def ridge(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Ridge coefficients ``argmin ||y - X b||^2 + lam ||b||^2`` (every coefficient penalised)."""
    X = np.asarray(X, dtype=float)
    if lam <= 0:
        raise ValueError(f"ridge needs lam > 0, got {lam}")
    # Augmented least squares: stable even when X^T X is singular (d > n).
    p = X.shape[1]
    Xa = np.vstack([X, np.sqrt(lam) * np.eye(p)])
    ya = np.concatenate([np.asarray(y, dtype=float), np.zeros(p)])
    return np.linalg.lstsq(Xa, ya, rcond=None)[0]
