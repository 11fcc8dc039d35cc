"""Named hypothesis strategies for the chapter's property tests.

Every float is finite and bounded and every size is capped, so that each property is
true in float64 arithmetic and not only on paper, and so that a test body stays fast.
Bounds are keyword-only arguments with defaults chosen for the chapter's checks.

Strategies return numpy arrays (float64) or the reference's own types; tests convert to
torch themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from islp_ch10.reference.single_layer import ACTIVATIONS, SingleLayerParams

__all__ = [
    "SmallNetworkCase",
    "activations",
    "batch_sizes",
    "bounded_floats",
    "dropout_rates",
    "float_arrays",
    "labelled_logits",
    "least_squares_problems",
    "logit_matrices",
    "logit_vectors",
    "probability_vectors",
    "small_networks",
]


def bounded_floats(*, bound: float = 10.0) -> st.SearchStrategy[float]:
    """Finite float64 numbers in ``[-bound, bound]``."""
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=64)


def float_arrays(shape, *, bound: float = 10.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of a given shape (or shape strategy) with entries in ``[-bound, bound]``."""
    return hnp.arrays(np.float64, shape, elements=bounded_floats(bound=bound))


def logit_vectors(*, min_size: int = 2, max_size: int = 12, bound: float = 50.0) -> st.SearchStrategy[np.ndarray]:
    """Class scores ``Z`` (1-d, length in ``[min_size, max_size]``, entries in ``[-bound, bound]``).

    The default bound keeps every ``e^{Z_m - max Z}`` far above float64's smallest number,
    so softmax probabilities are strictly positive.
    """
    return float_arrays(st.integers(min_size, max_size), bound=bound)


def logit_matrices(
    *, max_rows: int = 8, min_classes: int = 2, max_classes: int = 10, bound: float = 30.0
) -> st.SearchStrategy[np.ndarray]:
    """Score matrices ``(n, M)``: ``n`` observations in ``[1, max_rows]``, ``M`` classes."""
    shapes = st.tuples(st.integers(1, max_rows), st.integers(min_classes, max_classes))
    return float_arrays(shapes, bound=bound)


@st.composite
def labelled_logits(draw, *, max_rows: int = 8, max_classes: int = 10, bound: float = 30.0):
    """A score matrix ``Z`` ``(n, M)`` and integer labels ``(n,)`` in ``[0, M)``."""
    Z = draw(logit_matrices(max_rows=max_rows, max_classes=max_classes, bound=bound))
    n, M = Z.shape
    labels = np.array(draw(st.lists(st.integers(0, M - 1), min_size=n, max_size=n)), dtype=np.int64)
    return Z, labels


@st.composite
def probability_vectors(
    draw,
    *,
    min_size: int = 2,
    max_size: int = 10,
    size: int | None = None,
    allow_zeros: bool = False,
    min_weight: float = 1e-3,
):
    """A probability vector: non-negative entries summing to 1.

    Drawn as weights in ``[min_weight, 1]`` (or exactly 0 when ``allow_zeros``, never all
    zero) and normalised.  Pass ``size`` to fix the length, e.g. to draw ``q`` to match ``p``.
    """
    n = size if size is not None else draw(st.integers(min_size, max_size))
    weight = st.floats(min_weight, 1.0, allow_nan=False, width=64)
    if allow_zeros:
        weight = st.one_of(st.just(0.0), weight)
    w = np.array(draw(st.lists(weight, min_size=n, max_size=n)), dtype=np.float64)
    if not np.any(w > 0):
        w[draw(st.integers(0, n - 1))] = 1.0
    return w / w.sum()


def activations() -> st.SearchStrategy[str]:
    """Names of the activations the single-layer reference knows."""
    return st.sampled_from(sorted(ACTIVATIONS))


@dataclass(frozen=True)
class SmallNetworkCase:
    """A single-hidden-layer network with a data set to evaluate it on."""

    params: SingleLayerParams
    X: np.ndarray  # (n, p)
    y: np.ndarray  # (n,)
    activation: str


@st.composite
def small_networks(
    draw,
    *,
    max_inputs: int = 5,
    min_hidden: int = 1,
    max_hidden: int = 6,
    max_rows: int = 8,
    bound: float = 3.0,
    activation: str | None = None,
) -> SmallNetworkCase:
    """A random network ``p -> K -> 1`` plus inputs ``X`` ``(n, p)`` and responses ``y``.

    ``K`` lies in ``[min_hidden, max_hidden]``; weights and data lie in ``[-bound, bound]``;
    ``activation`` fixes g, otherwise it is drawn.
    """
    p = draw(st.integers(1, max_inputs))
    K = draw(st.integers(min_hidden, max_hidden))
    n = draw(st.integers(1, max_rows))
    params = SingleLayerParams(
        W=draw(float_arrays((K, p), bound=bound)),
        w0=draw(float_arrays((K,), bound=bound)),
        beta=draw(float_arrays((K,), bound=bound)),
        beta0=draw(bounded_floats(bound=bound)),
    )
    X = draw(float_arrays((n, p), bound=bound))
    y = draw(float_arrays((n,), bound=bound))
    g = activation if activation is not None else draw(activations())
    return SmallNetworkCase(params, X, y, g)


@st.composite
def least_squares_problems(
    draw, *, min_rows: int = 1, max_rows: int = 8, min_cols: int = 1, max_cols: int = 8, bound: float = 3.0
):
    """A least-squares problem ``(X, y)`` with ``X`` ``(n, p)`` and ``y`` ``(n,)``, entries bounded."""
    n = draw(st.integers(min_rows, max_rows))
    p = draw(st.integers(min_cols, max_cols))
    return draw(float_arrays((n, p), bound=bound)), draw(float_arrays((n,), bound=bound))


def dropout_rates(*, low: float = 0.05, high: float = 0.9) -> st.SearchStrategy[float]:
    """Dropout rates ``phi`` in ``[low, high]``."""
    return st.floats(low, high, allow_nan=False, width=64)


def batch_sizes(*, max_size: int = 512) -> st.SearchStrategy[int]:
    """Minibatch sizes in ``[1, max_size]``."""
    return st.integers(1, max_size)
