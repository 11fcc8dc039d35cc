"""Fitting by gradient descent (section 10.7), in numpy, on least squares.

Least squares is the smallest problem on which the chapter's fitting ideas can be
stated exactly::

    R(theta)       = 1/2 ||y - X theta||^2
    grad R(theta)  = -X^T (y - X theta)
    theta^{m+1}    = theta^m - rho grad R(theta^m)          (gradient descent)

With fewer observations than unknowns many ``theta`` fit ``y`` exactly.  Gradient
descent started at zero only ever moves within the row space of ``X`` (every gradient
is ``X^T`` times something), so it ends at the interpolating solution of smallest
Euclidean norm, ``pinv(X) y``: the sense in which (stochastic) gradient descent acts
like a ridge penalty.

Also here: the minibatch gradient of SGD, the number of steps in an epoch, an
early-stopping rule written to the same rules as Lightning's ``EarlyStopping``, and
inverted dropout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EarlyStoppingResult",
    "classic_dropout",
    "dropout_mask",
    "early_stopping",
    "expected_over_masks",
    "gradient_descent",
    "group_l2_penalty",
    "group_l2_penalty_gradient",
    "inverted_dropout",
    "l1_penalty",
    "l1_penalty_gradient",
    "l2_penalty",
    "l2_penalty_gradient",
    "least_squares_gradient",
    "least_squares_loss",
    "lipschitz_constant",
    "minibatch_gradient",
    "row_space_projector",
    "steps_per_epoch",
]


# ----------------------------------------------------------------------------- least squares
def least_squares_loss(X: np.ndarray, y: np.ndarray, theta: np.ndarray) -> float:
    """``R(theta) = 1/2 ||y - X theta||^2``."""
    r = np.asarray(y, dtype=np.float64) - np.asarray(X, dtype=np.float64) @ np.asarray(theta, dtype=np.float64)
    return 0.5 * float(r @ r)


def least_squares_gradient(X: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``grad R(theta) = -X^T (y - X theta)``, a vector like ``theta``."""
    X = np.asarray(X, dtype=np.float64)
    return -X.T @ (np.asarray(y, dtype=np.float64) - X @ np.asarray(theta, dtype=np.float64))


def lipschitz_constant(X: np.ndarray) -> float:
    """Largest eigenvalue of ``X^T X``: any step ``rho < 2 / L`` makes gradient descent on R descend."""
    s = np.linalg.norm(np.asarray(X, dtype=np.float64), ord=2)
    return float(s * s)


def gradient_descent(
    X: np.ndarray, y: np.ndarray, theta0: np.ndarray, rho: float, steps: int, return_path: bool = False
):
    """Run ``steps`` iterations of ``theta <- theta - rho grad R(theta)`` from ``theta0``.

    Returns the final ``theta``, or with ``return_path=True`` the ``(steps + 1, p)`` array
    of every iterate, ``theta0`` first.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    theta = np.array(theta0, dtype=np.float64, copy=True)
    path: list[np.ndarray] = [theta.copy()] if return_path else []
    for _ in range(steps):
        theta = theta - rho * least_squares_gradient(X, y, theta)
        if return_path:
            path.append(theta.copy())
    return np.stack(path) if return_path else theta


def minibatch_gradient(X: np.ndarray, y: np.ndarray, theta: np.ndarray, batch: Sequence[int]) -> np.ndarray:
    """SGD's estimate of ``grad R`` from the rows in ``batch``: ``(n / |batch|) sum_{i in batch} grad R_i``.

    The factor ``n / |batch|`` makes the estimate unbiased for the full (summed) gradient
    when the batch is a uniformly drawn subset of the ``n`` rows.
    """
    X = np.asarray(X, dtype=np.float64)
    idx = np.asarray(batch, dtype=np.intp)
    if idx.size == 0:
        raise ValueError("a minibatch needs at least one row")
    n = X.shape[0]
    return (n / idx.size) * least_squares_gradient(X[idx], np.asarray(y)[idx], theta)


def row_space_projector(X: np.ndarray) -> np.ndarray:
    """``V_r V_r^T``, the orthogonal projector onto the row space of ``X`` (``p x p``).

    The rank ``r`` uses ``matrix_rank``'s tolerance (``s_max * max(n, p) * eps``): ``pinv``'s default
    cut-off (1e-15 relative) keeps rounding-level singular values of a rank-deficient ``X`` and
    returns a projector that is off by ~1e-7 (hypothesis found ``X`` = two rows of ones).
    """
    X = np.asarray(X, dtype=np.float64)
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    tol = (s.max() if s.size else 0.0) * max(X.shape) * np.finfo(np.float64).eps
    v = vt[s > tol]
    return v.T @ v


# ----------------------------------------------------------------------------- ridge penalty
def l2_penalty(theta: np.ndarray, lam: float) -> float:
    """``lambda sum_j theta_j^2``, the penalty the book adds to the cross-entropy."""
    theta = np.asarray(theta, dtype=np.float64).ravel()
    return float(lam * theta @ theta)


def l2_penalty_gradient(theta: np.ndarray, lam: float) -> np.ndarray:
    """``2 lambda theta``: so an optimiser's ``weight_decay = wd`` (which adds ``wd theta``) is ``lambda = wd / 2``."""
    return 2.0 * lam * np.asarray(theta, dtype=np.float64)


def group_l2_penalty(groups: Sequence[np.ndarray], lams: Sequence[float]) -> float:
    """``sum_g lambda_g ||theta_g||^2``: each weight group (e.g. each layer) with its own lambda."""
    if len(groups) != len(lams):
        raise ValueError(f"need one lambda per weight group, got {len(groups)} groups and {len(lams)} lambdas")
    return float(sum(l2_penalty(theta, lam) for theta, lam in zip(groups, lams)))


def group_l2_penalty_gradient(groups: Sequence[np.ndarray], lams: Sequence[float]) -> list[np.ndarray]:
    """``2 lambda_g theta_g`` for each group: an optimiser parameter group with
    ``weight_decay = 2 lambda_g`` adds exactly this to the gradient of its weights."""
    if len(groups) != len(lams):
        raise ValueError(f"need one lambda per weight group, got {len(groups)} groups and {len(lams)} lambdas")
    return [l2_penalty_gradient(theta, lam) for theta, lam in zip(groups, lams)]


def l1_penalty(theta: np.ndarray, lam: float) -> float:
    """``lambda sum_j |theta_j|``, the lasso penalty."""
    return float(lam * np.sum(np.abs(np.asarray(theta, dtype=np.float64))))


def l1_penalty_gradient(theta: np.ndarray, lam: float) -> np.ndarray:
    """``lambda sign(theta)``: the (sub)gradient of the L1 penalty, ``0`` taken at ``theta_j = 0``.

    Every non-zero weight is pulled towards zero by the same amount whatever its size (unlike
    the L2 penalty, whose pull ``2 lambda theta`` shrinks with the weight).
    """
    return lam * np.sign(np.asarray(theta, dtype=np.float64))


# ----------------------------------------------------------------------------- epochs
def steps_per_epoch(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Minibatch steps in one pass over ``n`` observations: ``ceil(n / batch_size)``.

    With ``drop_last=True`` an incomplete last batch is skipped: ``floor(n / batch_size)``.
    """
    if n < 0 or batch_size < 1:
        raise ValueError(f"need n >= 0 and batch_size >= 1, got n={n}, batch_size={batch_size}")
    return n // batch_size if drop_last else math.ceil(n / batch_size)


# ----------------------------------------------------------------------------- early stopping
@dataclass(frozen=True)
class EarlyStoppingResult:
    """Outcome of :func:`early_stopping` (epochs counted from 0).

    ``stopped_epoch`` is the epoch after whose validation training halts, or ``None``
    if the sequence runs out first; ``best_epoch`` is where the best value was last
    improved; ``epochs_run`` is how many epochs were trained.
    """

    stopped_epoch: int | None
    best_epoch: int
    epochs_run: int


def early_stopping(
    values: Sequence[float], patience: int = 3, min_delta: float = 0.0, mode: str = "min"
) -> EarlyStoppingResult:
    """Early stopping on a sequence of per-epoch validation values.

    An epoch *improves* when its value beats the best so far by more than ``min_delta``
    (lower is better for ``mode="min"``, higher for ``"max"``).  Each epoch that does not
    improve adds one to a counter that an improvement resets; training stops at the end of
    the epoch where the counter reaches ``patience``.  These are the rules of Lightning's
    ``EarlyStopping`` callback (without its optional thresholds).
    """
    if patience < 1:
        raise ValueError(f"patience must be >= 1, got {patience}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if min_delta < 0:
        raise ValueError(f"min_delta must be >= 0, got {min_delta}")
    sign = 1.0 if mode == "min" else -1.0
    best, best_epoch, wait = math.inf, -1, 0
    for epoch, value in enumerate(values):
        v = sign * float(value)
        if not math.isfinite(v):
            return EarlyStoppingResult(epoch, best_epoch, epoch + 1)
        if v < best - min_delta:
            best, best_epoch, wait = v, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return EarlyStoppingResult(epoch, best_epoch, epoch + 1)
    return EarlyStoppingResult(None, best_epoch, len(values))


# ----------------------------------------------------------------------------- dropout
def dropout_mask(shape: tuple[int, ...], phi: float, rng: np.random.Generator) -> np.ndarray:
    """Inverted-dropout multipliers: ``0`` with probability ``phi``, else ``1 / (1 - phi)``.

    Each multiplier has expectation exactly 1, so the layer's expected output is kept and
    nothing needs rescaling at evaluation time.
    """
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"dropout rate phi must lie in [0, 1), got {phi}")
    keep = rng.random(shape) >= phi
    return keep / (1.0 - phi)


def inverted_dropout(a: np.ndarray, phi: float, rng: np.random.Generator, training: bool = True) -> np.ndarray:
    """Dropout as torch does it: in training ``a * mask`` (see :func:`dropout_mask`), in evaluation ``a``."""
    a = np.asarray(a, dtype=np.float64)
    if not training:
        return a
    return a * dropout_mask(a.shape, phi, rng)


def classic_dropout(a: np.ndarray, phi: float, rng: np.random.Generator, training: bool = True) -> np.ndarray:
    """Dropout as first proposed: in training survivors are kept as they are (``a * keep``), and
    at test time every activation is multiplied by the keep probability ``1 - phi``."""
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"dropout rate phi must lie in [0, 1), got {phi}")
    a = np.asarray(a, dtype=np.float64)
    if not training:
        return (1.0 - phi) * a
    return a * (rng.random(a.shape) >= phi)


def expected_over_masks(f, K: int, phi: float, scale: float) -> float:
    """``E f(m)`` over dropout masks ``m`` of ``K`` units, computed exactly.

    Each unit is kept independently with probability ``1 - phi``; a kept unit's multiplier is
    ``scale`` (``1 / (1 - phi)`` for inverted dropout, ``1`` for classic dropout), a dropped
    unit's is 0.  All ``2^K`` masks are enumerated, so keep ``K`` small.
    """
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"dropout rate phi must lie in [0, 1), got {phi}")
    if not 0 <= K <= 16:
        raise ValueError(f"enumerating 2^K masks needs 0 <= K <= 16, got K = {K}")
    total = 0.0
    for bits in range(2**K):
        keep = np.array([(bits >> k) & 1 for k in range(K)], dtype=np.float64)
        prob = float(np.prod(np.where(keep == 1, 1.0 - phi, phi)))
        total += prob * float(f(keep * scale))
    return total
