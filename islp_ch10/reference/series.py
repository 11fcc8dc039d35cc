"""Sample autocorrelation of a time series (10.5.2), and review lengths from padded sequences (10.5.1),
numpy only.

Autocorrelation at lag k of ``v_1, ..., v_T`` with mean ``vbar``::

    r_k = sum_{t=1}^{T-k} (v_t - vbar)(v_{t+k} - vbar) / sum_{t=1}^{T} (v_t - vbar)^2

(the usual estimator: one denominator for every lag).  For a series without autocorrelation
``r_k`` is roughly ``N(0, 1/T)``, so about 95% of the ``r_k`` fall inside ``+-2/sqrt(T)``; an
``r_k`` well outside that band says that yesterday's value carries information about today's,
which is what an autoregression exploits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["autocorrelation", "review_word_counts", "share_shorter_than", "white_noise_band"]


def autocorrelation(v: np.ndarray, lags) -> np.ndarray:
    """``r_k`` for each ``k`` in ``lags`` (each ``1 <= k < T``), as defined in the module docstring."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"autocorrelation expects a 1-d series, got shape {v.shape}")
    lags = np.atleast_1d(np.asarray(lags, dtype=int))
    T = v.size
    if lags.size == 0 or lags.min() < 1 or lags.max() >= T:
        raise ValueError(f"lags must lie in [1, {T - 1}] for a series of length {T}, got {lags.tolist()}")
    c = v - v.mean()
    denom = c @ c
    if denom == 0:
        raise ValueError("autocorrelation of a constant series is undefined")
    return np.array([(c[: T - k] @ c[k:]) / denom for k in lags])


def white_noise_band(T: int) -> float:
    """``2 / sqrt(T)``: the half-width of the approximate 95% band for ``r_k`` of white noise."""
    if T < 1:
        raise ValueError(f"need T >= 1, got {T}")
    return 2.0 / np.sqrt(T)


def review_word_counts(S: np.ndarray, pad: int = 0, start: int = 1) -> np.ndarray:
    """Words per review from sequences padded at the front to a common length ``maxlen``.

    A row holds ``[start] + word ids`` (its last ``maxlen`` entries), zeros in front.  Padding
    and the start marker are not words, so a review that fits counts its word ids exactly.
    A row that begins with a word id was truncated: the review had at least ``maxlen`` words,
    and ``maxlen`` is returned for it (a lower bound, which decides "fewer than maxlen" correctly).
    """
    S = np.asarray(S)
    if S.ndim != 2:
        raise ValueError(f"expected an (n, maxlen) array of ids, got shape {S.shape}")
    maxlen = S.shape[1]
    words = np.sum((pad != S) & (start != S), axis=1)
    truncated = (S[:, 0] != pad) & (S[:, 0] != start)
    return np.where(truncated, maxlen, words)


def share_shorter_than(counts: np.ndarray, L: int) -> float:
    """Fraction of the counts that are strictly below ``L``."""
    counts = np.asarray(counts)
    if counts.size == 0:
        raise ValueError("no counts given")
    return float(np.mean(counts < L))
