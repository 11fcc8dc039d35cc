"""10.5: recurrent networks on IMDB and the NYSE series, trained on the real data."""

import numpy as np
import pytest

from islp_ch10.lab_defaults import RunSettings
from islp_ch10.testing.empirical import assert_meets_claim, pick, run_or_skip


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.5/imdb-rnn")
def test_imdb_rnn():
    """The lab's configuration (20 epochs each; about 15 minutes together on 2 CPU cores): each
    model meets its threshold, and the simple RNN trails the LSTM."""
    lstm = pick(run_or_skip("imdb-lstm"), "10.5/imdb-rnn", "lstm")
    rnn = pick(run_or_skip("imdb-rnn"), "10.5/imdb-rnn", "rnn")
    assert_meets_claim(lstm)
    assert_meets_claim(rnn)
    assert rnn.value < lstm.value, f"simple RNN {rnn.value:.4f} should trail the LSTM {lstm.value:.4f}"


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.gpu
@pytest.mark.claim("10.5/imdb-rnn")
def test_imdb_rnn_book_epochs_on_gpu():
    """The same figures with the training on a GPU (about 2 minutes per model on an H100)."""
    on_gpu = RunSettings(accelerator="gpu")
    assert_meets_claim(pick(run_or_skip("imdb-lstm", on_gpu), "10.5/imdb-rnn", "lstm"))
    assert_meets_claim(pick(run_or_skip("imdb-rnn", on_gpu), "10.5/imdb-rnn", "rnn"))


@pytest.mark.data
@pytest.mark.claim("10.5/ar-vs-rnn")
def test_ar_vs_rnn_linear_part():
    """The AR(5) least-squares R^2 is exact given the data: the book's 0.41 (within its rounding)."""
    assert_meets_claim(pick(run_or_skip("nyse-linear"), "10.5/ar-vs-rnn", "ar"))


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.5/ar-vs-rnn")
def test_ar_vs_rnn():
    assert_meets_claim(pick(run_or_skip("nyse-rnn"), "10.5/ar-vs-rnn", "rnn"))


@pytest.mark.data
@pytest.mark.claim("10.5/day-of-week")
def test_day_of_week():
    """Day-of-week indicators raise the least-squares AR R^2 (the lab: about 0.46)."""
    ms = run_or_skip("nyse-linear")
    day, ar = pick(ms, "10.5/day-of-week"), pick(ms, "10.5/ar-vs-rnn", "ar")
    assert day.value > ar.value
    assert_meets_claim(day)


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.5/nonlinear-ar")
def test_nonlinear_ar():
    assert_meets_claim(pick(run_or_skip("nyse-nlar"), "10.5/nonlinear-ar"))


@pytest.mark.data
@pytest.mark.claim("10.5/flatten")
def test_flatten_nyse(nyse):
    """On the NYSE lags, the Flatten-Linear network fitted to convergence has least squares' R^2,
    here computed apart from the experiment (numpy lstsq with an intercept column)."""
    m = pick(run_or_skip("nyse-linear"), "10.5/flatten", "network")
    X, y, tr = np.asarray(nyse.X_lag, float), np.asarray(nyse.Y, float), np.asarray(nyse.train)
    design = np.column_stack([np.ones(len(y)), X])
    beta = np.linalg.lstsq(design[tr], y[tr], rcond=None)[0]
    resid = y[~tr] - design[~tr] @ beta
    r2 = 1 - resid @ resid / np.sum((y[~tr] - y[~tr].mean()) ** 2)
    assert abs(m.raw["network_r2"] - r2) <= 1e-6
    assert_meets_claim(m)  # |R^2(network) - R^2(least squares)| <= 1e-6
