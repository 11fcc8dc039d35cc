"""10.8 Interpolation and double descent: the minimum-norm solution, and the natural-spline
experiment (``islp_ch10.double_descent``) judged on the median over seeds.

The experiment's thresholds, seeds and measured spread live in the catalogue
(``islp_ch10/catalogue/10_8.toml``); the tests read them from there.  The whole experiment
(9 seeds x 49 values of d, minimum-norm and ridge) runs once per module in about two seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from islp_ch10 import claims
from islp_ch10.double_descent import (
    DoubleDescentConfig,
    double_descent_figure,
    norm_ratio,
    norm_trend,
    peak_ratio,
    plot_double_descent,
    run_double_descent,
    simulate,
    spike_by_noise,
)
from islp_ch10.reference import splines
from islp_ch10.reference.min_norm import min_norm_closed_form, min_norm_lstsq, ridge


# ----------------------------------------------------------------------------- 10.8/min-norm
@pytest.mark.claim("10.8/min-norm")
def test_min_norm_example():
    """One equation, two unknowns: x1 + x2 = 2.  Every (t, 2 - t) solves it; the least norm
    is at t = 1, (1, 1) with norm sqrt(2) < 2 = ||(2, 0)||."""
    beta = min_norm_lstsq(np.array([[1.0, 1.0]]), np.array([2.0]))
    np.testing.assert_allclose(beta, [1.0, 1.0], rtol=0, atol=1e-15)
    t = np.linspace(-3, 5, 81)
    norms = np.hypot(t, 2 - t)
    assert t[np.argmin(norms)] == pytest.approx(1.0)
    assert np.linalg.norm(beta) == pytest.approx(norms.min())


@pytest.mark.claim("10.8/min-norm")
@given(n=st.integers(1, 8), extra=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
@example(n=20, extra=22, seed=0)  # the experiment's shape at d = 42
def test_min_norm(n, extra, seed):
    """Fewer equations (n) than unknowns (p = n + extra): pinv(X) y solves X beta = y, lies in
    the row space of X (orthogonal to every null-space direction, so any other solution
    beta + z has norm^2 = ||beta||^2 + ||z||^2), and equals X^T (X X^T)^{-1} y and lstsq's answer."""
    p = n + extra
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, p)), rng.uniform(-10, 10, n)  # full row rank with probability 1
    beta = min_norm_lstsq(X, y)
    scale = np.linalg.norm(y) + 1.0
    np.testing.assert_allclose(X @ beta, y, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(beta, min_norm_closed_form(X, y), rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(beta, np.linalg.lstsq(X, y, rcond=None)[0], rtol=0, atol=1e-9 * scale)
    null = np.linalg.svd(X)[2][n:]  # (p - n, p): basis of the null space
    np.testing.assert_allclose(null @ beta, 0.0, rtol=0, atol=1e-9 * scale)
    for z in rng.standard_normal((5, p - n)) @ null:
        other = beta + z
        np.testing.assert_allclose(X @ other, y, rtol=0, atol=1e-9 * scale)
        assert np.linalg.norm(other) > np.linalg.norm(beta)


def test_min_norm_closed_form_needs_n_at_most_p():
    """With n = p the closed form is the unique solution; n > p is refused (X X^T is singular)."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(4, 4)), rng.normal(size=4)
    np.testing.assert_allclose(min_norm_closed_form(X, y), np.linalg.solve(X, y), rtol=1e-10)
    with pytest.raises(ValueError, match=r"the closed form needs n <= p, got X of shape \(5, 4\)"):
        min_norm_closed_form(rng.normal(size=(5, 4)), rng.normal(size=5))


def test_min_norm_lstsq_rcond_cuts_small_singular_values():
    """By default every non-zero singular value counts (the exact minimum-norm solution); a
    cut-off rcond treats singular values below rcond * s_max as zero (pinv's rule)."""
    X, y = np.diag([1.0, 1e-3]), np.ones(2)
    np.testing.assert_allclose(min_norm_lstsq(X, y), [1.0, 1e3], rtol=1e-12)
    np.testing.assert_allclose(min_norm_lstsq(X, y, rcond=1e-2), [1.0, 0.0], atol=1e-15)


# ----------------------------------------------------------------------------- 10.8/double-descent
@pytest.fixture(scope="module")
def experiment():
    claim = claims.get("10.8/double-descent")
    config = DoubleDescentConfig(seeds=claim.seeds, ridge_lambda=claims.get("10.8/ridge-no-peak").extra["ridge_lambda"])
    return run_double_descent(config)


def _criterion(claim):
    extra = claim.extra
    return dict(window=tuple(extra["window"]), below=extra["below"], above=extra["above"])


@pytest.mark.claim("10.8/double-descent")
def test_double_descent(experiment):
    claim = claims.get("10.8/double-descent")
    crit, extra = _criterion(claim), claim.extra
    n = experiment.config.n_train
    assert n == 20 and experiment.config.noise_sd == 0.3 and experiment.config.interval == (-5.0, 5.0)
    dfs = experiment.dfs
    # training error: positive below d = n for every seed, zero (to rounding) from d = n on
    train = experiment.train_error
    assert np.all(train[:, dfs < n] > extra["train_positive_min"]), train[:, dfs < n].min()
    assert np.all(train[:, dfs >= n] < extra["train_zero_tol"]), train[:, dfs >= n].max()
    # test error (median over seeds): a peak near d = 20 above both d = 8 and d = 40 ...
    test = experiment.median("test_error")
    ratio = peak_ratio(test, dfs, **crit)
    assert claim.passes(ratio), (
        f"median test error near d=20 is only {ratio:.2f} x the worse of "
        f"d={crit['below']} and d={crit['above']}; threshold {claim.threshold}"
    )
    # ... d = 20 itself included ...
    assert peak_ratio(test, dfs, window=(n, n), below=crit["below"], above=crit["above"]) > 1.0
    # ... and it falls again: every d from `above` on is well below the peak
    peak = max(test[experiment.index(d)] for d in range(crit["window"][0], crit["window"][1] + 1))
    assert np.all(test[dfs >= crit["above"]] * extra["falls_factor"] <= peak)


PLOTTED = (("train_error", "ridge_train_error"), ("test_error", "ridge_test_error"))


def _check_plotted_data(fig, result) -> None:
    """Each panel shows, per fit, one line per seed and then the median over seeds, over the d grid."""
    seeds = len(result.config.seeds)
    for ax, names in zip(fig.axes, PLOTTED):
        lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == len(result.dfs)]
        assert len(lines) == 2 * (seeds + 1), f"{ax.get_title()}: {len(lines)} curves"
        for k, name in enumerate(names):
            errors = np.maximum(getattr(result, name), 1e-16)
            block = lines[k * (seeds + 1) : (k + 1) * (seeds + 1)]
            for line, per_seed in zip(block[:-1], errors):
                np.testing.assert_array_equal(line.get_xdata(), result.dfs)
                np.testing.assert_array_equal(line.get_ydata(), per_seed)
            assert block[-1].get_label().endswith("(median)")
            np.testing.assert_allclose(block[-1].get_ydata(), np.median(errors, axis=0), rtol=1e-15, atol=0)


@pytest.mark.claim("10.8/double-descent")
def test_double_descent_plot(experiment, tmp_path):
    """The figure plots the experiment's own per-seed and median curves; the PNG is written."""
    import matplotlib.pyplot as plt

    fig = double_descent_figure(experiment)
    try:
        _check_plotted_data(fig, experiment)
        assert fig.axes[1].get_yscale() == "log"
        # broken variant: a figure whose bold line is the mean over seeds fails the check
        for ax in fig.axes:
            ax.get_lines()[len(experiment.config.seeds)].set_ydata(np.mean(experiment.test_error, axis=0))
        with pytest.raises(AssertionError):
            _check_plotted_data(fig, experiment)
    finally:
        plt.close(fig)
    path = plot_double_descent(experiment, tmp_path / "double_descent.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.imread(path).shape[:2] == (400, 1000)  # figsize (10, 4) at dpi 100


# ----------------------------------------------------------------------------- 10.8/ridge-no-peak
@pytest.mark.claim("10.8/ridge-no-peak")
def test_ridge_no_peak(experiment):
    """Same bases, same draws, ridge instead of minimum norm: the median test error near d = 20
    does not exceed the worse of d = 8 and d = 40 (ratio <= 1), where the minimum-norm curve
    exceeds it many times over.  The criterion is the same peak_ratio as for the min-norm
    curve, so the two claims are judged by one yardstick."""
    claim = claims.get("10.8/ridge-no-peak")
    crit = _criterion(claims.get("10.8/double-descent"))
    ridge_ratio = peak_ratio(experiment.median("ridge_test_error"), experiment.dfs, **crit)
    min_norm_ratio = peak_ratio(experiment.median("test_error"), experiment.dfs, **crit)
    assert claim.passes(ridge_ratio), f"ridge peak ratio {ridge_ratio:.2f} > {claim.threshold}"
    assert min_norm_ratio > claims.get("10.8/double-descent").threshold  # same draws do show the spike
    # ridge never interpolates, so its training error stays positive past d = 20
    assert np.all(experiment.ridge_train_error > 0)


RIDGE_LAMBDAS = (0.01, 0.3, 1.0, 4.0, 100.0)


def _check_ridge(ridge_fn) -> None:
    """``ridge_fn(X, y, lam)`` equals the closed form (X^T X + lam I)^-1 X^T y at every lambda
    (not only at lambda = 1, where lambda and sqrt(lambda) agree), for tall and for wide X."""
    rng = np.random.default_rng(11)
    for n, p in ((30, 6), (20, 42)):
        X, y = rng.normal(size=(n, p)), rng.normal(size=n)
        for lam in RIDGE_LAMBDAS:
            closed = np.linalg.solve(X.T @ X + lam * np.eye(p), X.T @ y)
            np.testing.assert_allclose(ridge_fn(X, y, lam), closed, rtol=1e-9, atol=1e-12, err_msg=f"lam={lam}")


@pytest.mark.claim("10.8/ridge-no-peak")
def test_ridge_helper_closed_form():
    """The experiment's ridge fit (augmented least squares with rows sqrt(lambda) I) is the ridge
    solution at every penalty; a version that augments with lambda I is rejected."""
    _check_ridge(ridge)

    def lambda_for_sqrt(X, y, lam):  # broken variant: penalises lambda^2 ||b||^2
        p = X.shape[1]
        Xa, ya = np.vstack([X, lam * np.eye(p)]), np.concatenate([y, np.zeros(p)])
        return np.linalg.lstsq(Xa, ya, rcond=None)[0]

    np.testing.assert_allclose(lambda_for_sqrt(np.eye(3), np.ones(3), 1.0), ridge(np.eye(3), np.ones(3), 1.0))
    with pytest.raises(AssertionError):
        _check_ridge(lambda_for_sqrt)
    with pytest.raises(ValueError, match="lam > 0"):
        ridge(np.eye(2), np.ones(2), 0.0)


@pytest.mark.claim("10.8/double-descent")
@pytest.mark.parametrize("d", [2, 3, 8, 20, 42])
def test_double_descent_spline_basis(d):
    """The experiment's basis spans the natural cubic splines with d knots (checked against the
    ESL truncated-power basis), is orthonormal in L2 over [-5, 5], linear beyond the boundary
    knots and has a continuous second derivative."""
    from islp_ch10.reference.splines import NaturalSpline, truncated_power_basis

    rng = np.random.default_rng(d)
    x = rng.uniform(-5, 5, 20)
    spline = NaturalSpline.fit(x, d, interval=(-5.0, 5.0))
    grid = np.linspace(-5, 5, 4_001)
    grid = (grid[1:] + grid[:-1]) / 2  # midpoints: mean over [-5, 5]
    B = spline.basis(grid)  # (4000, d)
    assert B.shape == (len(grid), d)
    np.testing.assert_allclose(B.T @ B / len(grid), np.eye(d), rtol=0, atol=1e-4)
    # same space as the closed-form natural-spline basis on the same knots
    N = truncated_power_basis(spline._scale(grid, -5.0, 5.0), spline.knots)
    coef = np.linalg.lstsq(B, N, rcond=None)[0]
    np.testing.assert_allclose(B @ coef, N, rtol=0, atol=1e-9 * np.abs(N).max())
    # beyond the boundary knots every column is a straight line: second differences vanish
    knots = spline.knots_x()
    for side in (np.linspace(-5, knots[0], 7), np.linspace(knots[-1], 5, 7)):
        np.testing.assert_allclose(np.diff(spline.basis(side), n=2, axis=0), 0.0, atol=1e-10)

    # C2 at every knot.  On one cubic piece the one-sided second difference is exactly
    # f''(t) +- h f'''(t), so 2 D(h/2) - D(h) recovers f''(t) from each side; the two must agree.
    def one_sided(t, h, sign):
        pts = t + sign * h * np.arange(3)
        return np.diff(spline.basis(pts), 2, axis=0)[0] / h**2

    h = 1e-4  # well below half the closest knot gap
    assert h < np.diff(knots).min() / 2
    for t in knots:
        left = 2 * one_sided(t, h / 2, -1) - one_sided(t, h, -1)
        right = 2 * one_sided(t, h / 2, +1) - one_sided(t, h, +1)
        np.testing.assert_allclose(left, right, rtol=0, atol=1e-4 * max(1.0, np.abs(left).max()))


def test_truncated_power_basis_columns():
    """ESL's natural-spline basis: N_1 = 1, N_2 = x, and every N_{k+2} vanishes left of the first knot."""
    knots = np.array([0.0, 1.0, 2.0, 3.0])
    x = np.array([-2.0, -1.0, 0.5, 2.5, 4.0])
    N = splines.truncated_power_basis(x, knots)
    np.testing.assert_array_equal(N[:, 0], 1.0)
    np.testing.assert_array_equal(N[:, 1], x)
    np.testing.assert_array_equal(N[:2, 2:], 0.0)
    # N_3 at x = 0.5: D_1 - D_3 with D_1 = 0.5^3 / 3 and D_3 = 0 (x below xi_3 and xi_4)
    assert N[2, 2] == pytest.approx(0.125 / 3, rel=1e-12)


def test_natural_spline_knots_must_be_distinct():
    """Knots at quantiles of x with ties would coincide: refused, since the basis needs distinct knots."""
    with pytest.raises(ValueError, match="knots must be distinct"):
        splines.natural_spline_knots(np.array([0.0, 0.0, 0.0, 0.0, 1.0]), 3)
    np.testing.assert_array_equal(splines.natural_spline_knots(np.array([0.0, 1.0, 2.0]), 3), [0.0, 1.0, 2.0])


def test_natural_spline_default_interval_and_orthonormality():
    """Without an interval the basis lives on the data's range [min x, max x]; with any interval,
    the columns are orthonormal in L2 over it (mean of B_j B_k over the interval is delta_jk),
    also when the interval is narrower than the data and some knots fall outside it."""
    x = np.linspace(0.0, 10.0, 40) ** 1.3
    d = 6
    default = splines.NaturalSpline.fit(x, d)
    explicit = splines.NaturalSpline.fit(x, d, interval=(x.min(), x.max()))
    assert default.d == d and default.interval == explicit.interval
    np.testing.assert_allclose(default.basis(x), explicit.basis(x), rtol=1e-12, atol=1e-12)
    for spline in (default, splines.NaturalSpline.fit(x, d, interval=(2.0, 12.0))):
        lo, hi = spline.interval
        grid = lo + (hi - lo) * (np.arange(20000) + 0.5) / 20000  # midpoint rule
        B = spline.basis(grid)
        np.testing.assert_allclose(B.T @ B / grid.size, np.eye(d), atol=1e-3)


# ----------------------------------------------------------------------------- 10.8/min-norm-shrinks
def _check_norm_shrinks(result) -> None:
    claim = claims.get("10.8/min-norm-shrinks")
    trend = norm_trend(result)
    assert claim.passes(trend), f"rank correlation of d with the median coefficient norm is {trend:.3f}"
    ratio = norm_ratio(result, claim.extra["norm_ratio_high"])
    assert ratio >= claim.extra["norm_ratio_min"], f"median norm at d=20 only {ratio:.2f} x the one at d=50"


@pytest.mark.claim("10.8/min-norm-shrinks")
def test_min_norm_shrinks(experiment):
    """Judged on the 9-seed median: ||pinv(B) y|| falls with d over d = 20..50 (rank correlation
    <= -0.8) and is well below its d = 20 value at d = 50."""
    assert experiment.config.seeds == claims.get("10.8/min-norm-shrinks").seeds
    # the recorded norm is the fitted coefficients' norm: at d = n the interpolant is B^-1 y
    x, y, _, _ = simulate(experiment.config.seeds[0], experiment.config)
    from islp_ch10.reference.splines import NaturalSpline

    B = NaturalSpline.fit(x, 20, interval=experiment.config.interval).basis(x)
    assert experiment.coef_norm[0, experiment.index(20)] == pytest.approx(
        np.linalg.norm(np.linalg.solve(B, y)), rel=1e-8
    )
    _check_norm_shrinks(experiment)


@pytest.mark.claim("10.8/min-norm-shrinks")
def test_min_norm_shrinks_rejects_non_minimal_interpolant():
    """Broken variant: an interpolant that is not the minimum-norm one (gradient descent started
    at all ones instead of zero keeps the start's null-space part) has a norm that grows with d."""

    def from_ones(B, y):
        P = np.linalg.pinv(B)
        return P @ y + (np.eye(B.shape[1]) - P @ B) @ np.ones(B.shape[1])

    config = DoubleDescentConfig(seeds=claims.get("10.8/min-norm-shrinks").seeds, dfs=tuple(range(20, 51, 3)))
    broken = run_double_descent(config, solver=from_ones)
    np.testing.assert_allclose(broken.train_error, 0.0, atol=1e-10)  # it does interpolate
    with pytest.raises(AssertionError):
        _check_norm_shrinks(broken)


# ----------------------------------------------------------------------------- 10.8/signal-to-noise
def _check_spike_shrinks(spikes: np.ndarray) -> None:
    claim = claims.get("10.8/signal-to-noise")
    assert np.all(np.diff(spikes) < 0), f"excess test error at d=20 does not fall with the noise: {spikes}"
    assert claim.passes(spikes[0] / spikes[-1]), f"spike shrinks only {spikes[0] / spikes[-1]:.1f}-fold"


def _signal_to_noise_config():
    return DoubleDescentConfig(seeds=claims.get("10.8/signal-to-noise").seeds)


@pytest.mark.claim("10.8/signal-to-noise")
def test_signal_to_noise():
    """Median over seeds of the interpolant's excess test MSE at d = 20, for noise sd 0.3, 0.1,
    0.03, 0.01, 0: strictly falling, and over a hundred times smaller without noise."""
    sds = claims.get("10.8/signal-to-noise").extra["noise_sds"]
    assert sds[0] == 0.3 and sds[-1] == 0.0
    _check_spike_shrinks(spike_by_noise(sds, _signal_to_noise_config()))


@pytest.mark.claim("10.8/signal-to-noise")
def test_signal_to_noise_rejects_ignored_noise():
    """Broken variant: a simulation that always draws the chapter's sd 0.3, whatever the
    configuration says, shows no shrinking spike."""
    import dataclasses

    def fixed_noise(seed, config):
        return simulate(seed, dataclasses.replace(config, noise_sd=0.3))

    sds = claims.get("10.8/signal-to-noise").extra["noise_sds"]
    with pytest.raises(AssertionError):
        _check_spike_shrinks(spike_by_noise(sds, _signal_to_noise_config(), simulator=fixed_noise))
