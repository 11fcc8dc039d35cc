"""Natural cubic splines with ``d`` degrees of freedom (10.8), numpy/scipy only.

``d`` counts every column of the design, the intercept included.  A natural cubic spline
with ``d`` knots xi_1 < ... < xi_d (two boundary knots, ``d - 2`` interior ones) is cubic
between knots, has continuous second derivative, and is linear beyond the boundary knots;
these functions form a ``d``-dimensional space.  The knots sit at equally spaced quantiles
of the training ``x``, so the boundary knots are its extremes.

Two constructions of that space are given:

* :func:`truncated_power_basis`, the closed form of *Elements of Statistical Learning*
  (eq. 5.4-5.5): N_1 = 1, N_2 = x, N_{k+2} = D_k - D_{K-1} with
  D_k(x) = ((x - xi_k)_+^3 - (x - xi_K)_+^3) / (xi_K - xi_k).  Short and readable, but its
  columns grow nearly collinear as knots crowd (condition number ~1e9 at d = 50 on 20
  points), so it serves as an independent check only.
* :class:`NaturalSpline`, used by the experiment: cubic B-splines on the knots (well
  conditioned), restricted to the ``d``-dimensional subspace with zero second derivative at
  both boundary knots, extended linearly beyond them, and finally orthonormalised in
  L2 over the design interval (exact Gauss-Legendre quadrature on each knot interval).
  With that last step the Euclidean norm of a coefficient vector is the root-mean-square
  of the fitted curve over the interval, so "the minimum-norm coefficients" describe the
  curve rather than an arbitrary parameterisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import BSpline

__all__ = ["NaturalSpline", "natural_spline_knots", "truncated_power_basis"]

_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(4)  # exact up to degree 7


def natural_spline_knots(x: np.ndarray, d: int) -> np.ndarray:
    """``d`` knots at equally spaced quantiles of ``x`` (the extremes are the boundary knots)."""
    if d < 2:
        raise ValueError(f"a natural cubic spline needs d >= 2 degrees of freedom, got d={d}")
    knots = np.quantile(np.asarray(x, dtype=float), np.linspace(0.0, 1.0, d))
    if np.any(np.diff(knots) <= 0):
        raise ValueError("knots must be distinct; x has ties at the requested quantiles")
    return knots


def truncated_power_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """The ESL natural-spline basis, shape ``(len(x), len(knots))``: columns 1, x, N_3, ..., N_K."""
    x = np.asarray(x, dtype=float)
    knots = np.asarray(knots, dtype=float)
    K = len(knots)
    cube = np.maximum(x[:, None] - knots[None, :], 0.0) ** 3  # (n, K)
    D = (cube[:, :-1] - cube[:, -1:]) / (knots[-1] - knots[:-1])  # (n, K-1): D_1..D_{K-1}
    N = np.empty((len(x), K))
    N[:, 0], N[:, 1] = 1.0, x
    N[:, 2:] = D[:, : K - 2] - D[:, K - 2 :]  # N_{k+2} = D_k - D_{K-1}
    return N


class _NaturalBSplines:
    """Cubic B-splines on ``knots`` projected onto the natural subspace (f'' = 0 at both ends),
    evaluated with linear extension outside [knots[0], knots[-1]]."""

    def __init__(self, knots: np.ndarray):
        self.lo, self.hi = knots[0], knots[-1]
        t = np.concatenate([[self.lo] * 4, knots[1:-1], [self.hi] * 4])  # clamped knot vector
        n_b = len(t) - 4  # d + 2 B-splines
        self.spline = BSpline(t, np.eye(n_b), 3, extrapolate=False)  # all B-splines at once
        self.slope = self.spline.derivative(1)
        second = self.spline.derivative(2)(np.array([self.lo, self.hi]))  # (2, d+2): the constraints
        self.null = np.linalg.svd(second)[2][2:].T  # (d+2, d): f''(ends) = 0

    def __call__(self, z: np.ndarray) -> np.ndarray:
        inside = np.clip(z, self.lo, self.hi)
        values = self.spline(inside) + self.slope(inside) * (z - inside)[:, None]  # linear beyond
        return values @ self.null  # (n, d)


@dataclass
class NaturalSpline:
    """A natural cubic spline basis with ``d`` columns, knots fixed from training ``x``,
    orthonormal in L2 over ``interval`` (mean over the interval of B_j B_k is delta_jk)."""

    d: int
    knots: np.ndarray  # on the scaled axis [-1, 1]
    interval: tuple[float, float]
    transform: np.ndarray  # (d, d): natural B-splines -> orthonormal basis
    _raw: _NaturalBSplines = field(init=False, repr=False, compare=False)  # set by fit()

    @classmethod
    def fit(cls, x: np.ndarray, d: int, interval: tuple[float, float] | None = None) -> NaturalSpline:
        x = np.asarray(x, dtype=float)
        lo, hi = interval if interval is not None else (float(x.min()), float(x.max()))
        knots = natural_spline_knots(cls._scale(x, lo, hi), d)
        raw = _NaturalBSplines(knots)
        # Gauss-Legendre nodes on every piece of [-1, 1] cut at the knots: the Gram matrix of
        # piecewise cubics (products of degree 6) is then exact.
        cuts = np.unique(np.concatenate([[-1.0], np.clip(knots, -1.0, 1.0), [1.0]]))
        half, mid = np.diff(cuts)[:, None] / 2, (cuts[:-1] + cuts[1:])[:, None] / 2
        nodes = (mid + half * _GAUSS_NODES).ravel()
        weights = (half * _GAUSS_WEIGHTS).ravel() / 2.0  # mean over [-1, 1]
        _, r = np.linalg.qr(np.sqrt(weights)[:, None] * raw(nodes))
        transform = np.linalg.solve(r, np.eye(d))  # R^{-1}
        spline = cls(d=d, knots=knots, interval=(lo, hi), transform=transform)
        spline._raw = raw
        return spline

    @staticmethod
    def _scale(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return 2.0 * (x - lo) / (hi - lo) - 1.0

    def knots_x(self) -> np.ndarray:
        """The knots on the original x scale."""
        lo, hi = self.interval
        return lo + (self.knots + 1.0) * (hi - lo) / 2.0

    def basis(self, x: np.ndarray) -> np.ndarray:
        """The design matrix, shape ``(len(x), d)``."""
        z = self._scale(np.asarray(x, dtype=float), *self.interval)
        return self._raw(z) @ self.transform
