"""The double-descent experiment of section 10.8, small enough to run in the fast tier.

Setting (as in the chapter): n = 20 training points, x ~ U(-5, 5), y = sin(x) + eps with
eps ~ N(0, 0.3^2).  For each number of degrees of freedom d (columns of the design,
intercept included) we fit a natural cubic spline

* by minimum-norm least squares (``pinv``): an ordinary least-squares fit while d < 20,
  the unique interpolant at d = 20, and, for d > 20, the interpolant whose coefficient
  vector has least Euclidean norm;
* by ridge regression with one fixed penalty ``ridge_lambda`` over the same bases.

The spline basis is :class:`islp_ch10.reference.splines.NaturalSpline` with the design
interval [-5, 5]; its columns are orthonormal on a grid over that interval, so the
coefficient norm measures the fitted curve's L2 size.  A single draw is noisy (two
training points that happen to lie close together decide how violent the d = 20
interpolant is), so the experiment runs over several seeds and the claims are judged on
the per-d median.  The whole default run (9 seeds x 49 values of d, both fits) takes about
two seconds on one core.  The minimum-norm coefficients' norm is recorded too
(10.8/min-norm-shrinks), and :func:`spike_by_noise` repeats the d = 20 fit over noise levels
(10.8/signal-to-noise).  ``python tools/double_descent_spreads.py`` prints the per-seed figures the
catalogue's spread fields quote.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from islp_ch10.reference.min_norm import min_norm_lstsq, ridge
from islp_ch10.reference.splines import NaturalSpline

# ``simulator(seed, config) -> (x, y, x_test, y_test)``, as :func:`simulate`.
Simulator = Callable[[int, "DoubleDescentConfig"], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]

__all__ = [
    "DoubleDescentConfig",
    "DoubleDescentResult",
    "double_descent_figure",
    "fit_curves",
    "norm_ratio",
    "norm_trend",
    "peak_ratio",
    "plot_double_descent",
    "run_double_descent",
    "simulate",
    "spike_by_noise",
]


@dataclass(frozen=True)
class DoubleDescentConfig:
    """The numbers of the experiment (the chapter's, except where a comment says otherwise)."""

    n_train: int = 20
    n_test: int = 1_000  # our choice: enough to make the test MSE's own noise small
    noise_sd: float = 0.3
    interval: tuple[float, float] = (-5.0, 5.0)
    dfs: tuple[int, ...] = tuple(range(2, 51))
    ridge_lambda: float = 1.0  # penalty on ||coef||^2, i.e. on the curve's mean square on [-5, 5]
    seeds: tuple[int, ...] = tuple(range(9))


@dataclass
class DoubleDescentResult:
    """Mean squared errors and the minimum-norm coefficient norm, shape ``(len(seeds), len(dfs))`` each."""

    config: DoubleDescentConfig
    train_error: np.ndarray
    test_error: np.ndarray
    ridge_train_error: np.ndarray
    ridge_test_error: np.ndarray
    coef_norm: np.ndarray  # ||pinv(B) y||, the Euclidean norm of the minimum-norm coefficients
    dfs: np.ndarray = field(init=False)

    def __post_init__(self):
        self.dfs = np.asarray(self.config.dfs)

    def index(self, d: int) -> int:
        hits = np.flatnonzero(self.dfs == d)
        if not hits.size:
            raise ValueError(f"d={d} is not on the grid {self.config.dfs}")
        return int(hits[0])

    def median(self, which: str = "test_error") -> np.ndarray:
        """Per-d median over seeds of one of the four error arrays."""
        return np.median(getattr(self, which), axis=0)

    def at(self, which: str, d: int) -> np.ndarray:
        """Per-seed values of one error array at ``d``."""
        return getattr(self, which)[:, self.index(d)]


def simulate(
    seed: int, config: DoubleDescentConfig = DoubleDescentConfig()
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One seeded draw: ``(x, y, x_test, y_test)``."""
    rng = np.random.default_rng(seed)
    lo, hi = config.interval
    x = rng.uniform(lo, hi, config.n_train)
    y = np.sin(x) + rng.normal(0.0, config.noise_sd, config.n_train)
    x_test = rng.uniform(lo, hi, config.n_test)
    y_test = np.sin(x_test) + rng.normal(0.0, config.noise_sd, config.n_test)
    return x, y, x_test, y_test


def fit_curves(x, y, x_test, y_test, config: DoubleDescentConfig = DoubleDescentConfig(), solver=min_norm_lstsq):
    """For every d: train and test MSE of the min-norm and of the ridge fit, and the min-norm
    coefficients' Euclidean norm: a ``(5, len(dfs))`` array in :class:`DoubleDescentResult`'s order.

    ``solver(B, y)`` is the interpolating fit (``pinv`` by default); a test passes another to
    show that the claims about the minimum-norm solution depend on it being minimum norm.
    """
    out = np.empty((5, len(config.dfs)))
    for j, d in enumerate(config.dfs):
        spline = NaturalSpline.fit(x, d, interval=config.interval)
        B, B_test = spline.basis(x), spline.basis(x_test)  # (n, d), (n_test, d)
        min_norm = solver(B, y)
        for k, coef in enumerate((min_norm, ridge(B, y, config.ridge_lambda))):
            out[2 * k, j] = np.mean((y - B @ coef) ** 2)
            out[2 * k + 1, j] = np.mean((y_test - B_test @ coef) ** 2)
        out[4, j] = np.linalg.norm(min_norm)
    return out


def _single_threaded_blas():
    """Every matrix here is at most 1,000 x 50: BLAS threads only add overhead, and on a busy
    machine (pytest-xdist workers, torch threads) a threaded QR of that size was measured 40x
    slower than a single-threaded one.  threadpoolctl comes with scikit-learn; without it the
    experiment still runs, only without the limit."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn (hence threadpoolctl) is a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def run_double_descent(
    config: DoubleDescentConfig = DoubleDescentConfig(),
    *,
    simulator: Simulator | None = None,
    solver=min_norm_lstsq,
) -> DoubleDescentResult:
    """The experiment over ``config.seeds``.

    ``simulator(seed, config)`` (default :func:`simulate`) and ``solver`` are there so a test can
    substitute a broken variant and show that a check rejects it.
    """
    simulator = simulate if simulator is None else simulator
    with _single_threaded_blas():
        per_seed = np.stack(
            [fit_curves(*simulator(s, config), config, solver=solver) for s in config.seeds]
        )  # (S, 5, D)
    return DoubleDescentResult(config, *(per_seed[:, i] for i in range(5)))


def peak_ratio(curve: np.ndarray, dfs, window: tuple[int, int] = (18, 22), below: int = 8, above: int = 40) -> float:
    """``max(curve over d in window) / max(curve(below), curve(above))``.

    The criterion for an interpolation peak, fixed before looking at the ridge curve:
    above 1 means the error near the interpolation threshold (d within ``window``, the
    chapter's "near d = 20"; ``window=(20, 20)`` for d = 20 alone) exceeds the error on
    *both* sides, far below (``below``) and far above (``above``) it, and the size says by
    how much.  Dividing by the worse of the two sides keeps a curve that merely rises or
    falls with d from counting as a peak.
    """
    dfs = list(dfs)
    lo, hi = window
    inside = [curve[dfs.index(d)] for d in range(lo, hi + 1)]
    return float(max(inside) / max(curve[dfs.index(below)], curve[dfs.index(above)]))


def norm_trend(result: DoubleDescentResult) -> float:
    """Spearman rank correlation between d and the per-d median of ``||minimum-norm coefficients||``
    over ``d >= n_train`` (the interpolation regime): -1 when the norm falls at every step of d."""
    from scipy.stats import spearmanr

    inside = result.dfs >= result.config.n_train
    if inside.sum() < 3:
        raise ValueError(f"need at least 3 values of d >= {result.config.n_train} on the grid, got {inside.sum()}")
    return float(spearmanr(result.dfs[inside], result.median("coef_norm")[inside])[0])


def norm_ratio(result: DoubleDescentResult, high: int) -> float:
    """Median coefficient norm at ``d = n_train`` divided by the one at ``d = high``."""
    med = result.median("coef_norm")
    return float(med[result.index(result.config.n_train)] / med[result.index(high)])


def spike_by_noise(
    noise_sds, config: DoubleDescentConfig = DoubleDescentConfig(), d: int | None = None, simulator=None
) -> np.ndarray:
    """For each noise sd: the median over ``config.seeds`` of the minimum-norm fit's test MSE at
    ``d`` (default ``n_train``, the interpolation threshold) minus the irreducible ``sd^2``,
    i.e. the part of the test error the interpolating fit itself adds."""
    import dataclasses

    d = config.n_train if d is None else d
    out = []
    for sd in noise_sds:
        cfg = dataclasses.replace(config, noise_sd=float(sd), dfs=(d,))
        out.append(run_double_descent(cfg, simulator=simulator).median("test_error")[0] - sd**2)
    return np.array(out)


def double_descent_figure(result: DoubleDescentResult):
    """The training and test error curves (per seed faint, median bold) as a matplotlib figure.

    Two panels (training error, test error); in each, for the minimum-norm fit and then the
    ridge fit, one faint line per seed followed by the bold median line (its label ends in
    "(median)").  Errors are floored at 1e-16 for the log scale.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    panels = (("train_error", "ridge_train_error", "training error"), ("test_error", "ridge_test_error", "test error"))
    for ax, (mn, rg, title) in zip(axes, panels):
        for name, colour, label in (
            (mn, "tab:blue", "minimum norm"),
            (rg, "tab:orange", f"ridge, lambda={result.config.ridge_lambda:g}"),
        ):
            # interpolating fits have training MSE ~1e-29; floor it so the plot stays readable
            errors = np.maximum(getattr(result, name), 1e-16)
            ax.plot(result.dfs, errors.T, color=colour, alpha=0.15, lw=0.8)
            ax.plot(result.dfs, np.median(errors, axis=0), color=colour, lw=2, label=f"{label} (median)")
        ax.axvline(result.config.n_train, color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("degrees of freedom d")
        ax.set_title(
            f"{title}, {len(result.config.seeds)} seeds" + (" (floored at 1e-16)" if mn == "train_error" else "")
        )
    axes[1].legend()
    fig.tight_layout()
    return fig


def plot_double_descent(result: DoubleDescentResult, path) -> Path:
    """Save :func:`double_descent_figure` as a PNG at ``path``."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig = double_descent_figure(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
