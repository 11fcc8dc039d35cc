"""Lagged designs for autoregression (10.5.2), numpy only.

For series s_1(t), ..., s_p(t), t = 1..T, and L lags, there is one row per target time
t = L+1, ..., T (n = T - L rows).

* :func:`ar_design` is the notes' matrix M extended to p series: a column of ones, then
  lag 1 of every series, then lag 2 of every series, ..., lag L (newest lag first, as M
  writes v_{t-1}, v_{t-2}, ..., v_{t-L}).
* :func:`lag_array` is the RNN's input: shape (n, L, p), position 0 the oldest lag
  (X_1 = values at t-L, ..., X_L = values at t-1).

Flattening the lag array row-major gives the same predictors as ``M[:, 1:]`` with the lag
blocks in reverse order: an AR model is the RNN's input flattened (see :func:`flat_to_design_order`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ar_design", "ar_response", "flat_to_design_order", "lag_array"]


def _as_2d(series: np.ndarray, L: int) -> np.ndarray:
    s = np.asarray(series, dtype=float)
    s = s[:, None] if s.ndim == 1 else s
    if s.ndim != 2:
        raise ValueError(f"series must have shape (T,) or (T, p), got {np.shape(series)}")
    if not 1 <= L < s.shape[0]:
        raise ValueError(f"need 1 <= L < T, got L={L}, T={s.shape[0]}")
    return s


def lag_array(series: np.ndarray, L: int) -> np.ndarray:
    """``out[i, j, c] = series[i + j, c]``: row i predicts time ``i + L`` (0-based) from its L
    previous values, oldest first.  Shape ``(T - L, L, p)``."""
    s = _as_2d(series, L)
    n = s.shape[0] - L
    return np.stack([s[j : j + n] for j in range(L)], axis=1)


def ar_design(series: np.ndarray, L: int, intercept: bool = True) -> np.ndarray:
    """The design matrix M: ``[1, lag 1 of each series, ..., lag L of each series]``, shape
    ``(T - L, 1 + L p)`` (or ``L p`` columns without the intercept)."""
    s = _as_2d(series, L)
    T = s.shape[0]
    blocks = [s[L - lag : T - lag] for lag in range(1, L + 1)]  # lag-th block: values at t - lag
    cols = ([np.ones((T - L, 1))] if intercept else []) + blocks
    return np.hstack(cols)


def ar_response(series: np.ndarray, L: int, column: int = 0) -> np.ndarray:
    """y = (s(L+1), ..., s(T)) for the chosen series column."""
    return _as_2d(series, L)[L:, column]


def flat_to_design_order(L: int, p: int) -> np.ndarray:
    """Index ``idx`` with ``lag_array(s, L).reshape(n, L*p)[:, idx] == ar_design(s, L, intercept=False)``."""
    # design column (lag, c) = flat position (L - lag) * p + c
    return np.array([(L - lag) * p + c for lag in range(1, L + 1) for c in range(p)])
