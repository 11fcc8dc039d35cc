"""NYSE (section 10.5) and Hitters (lab 10.9.1): shapes and the lagged design matrices.

NYSE and Hitters ship inside the ISLP wheel, so the data-marked tests here never skip when
ISLP is installed; the lag-design claim is also checked on a synthetic frame (fast tier).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from islp_ch10 import claims, data
from islp_ch10.data.tabular import DAYS, SERIES
from islp_ch10.reference import ar


def synthetic_nyse(T=40, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.Categorical([DAYS[i % 5] for i in range(T)], categories=list(DAYS))
    return pd.DataFrame(
        {
            "day_of_week": days,
            "DJ_return": rng.normal(0, 0.01, T),
            "log_volume": rng.normal(0, 0.3, T),
            "log_volatility": rng.normal(-11, 0.5, T),
            "train": np.arange(T) < T * 0.7,
        },
        index=pd.Index([f"day{i:03d}" for i in range(T)], name="date"),
    )


def check_lag_design(d: data.NYSEData, L: int, p: int) -> None:
    n = len(d.series) - L
    assert d.X_rnn.shape == (n, L, p) and d.X_rnn.dtype == np.float32
    assert list(d.X_lag.columns) == data.lag_columns(L) and len(d.X_lag.columns) == L * p
    assert d.ordered_cols == data.rnn_columns(L)
    values = d.series[list(SERIES)].to_numpy()
    # X_rnn[i, l, j] is series j on day t_i - (L - l): position 0 is the oldest lag, L-1 yesterday
    for i in (0, 1, n // 2, n - 1):
        t = i + L
        for l in range(L):
            np.testing.assert_allclose(d.X_rnn[i, l], values[t - (L - l)], rtol=1e-6, atol=1e-7)
    # flattening the RNN input gives the AR design matrix with its lag columns reordered
    np.testing.assert_allclose(d.X_rnn.reshape(n, L * p), d.X_lag[d.ordered_cols].to_numpy(), rtol=1e-6, atol=1e-7)
    perm = [d.ordered_cols.index(c) for c in d.X_lag.columns]
    np.testing.assert_allclose(d.X_rnn.reshape(n, L * p)[:, perm], d.X_lag.to_numpy(), rtol=1e-6, atol=1e-7)
    # the response is today's standardised log volume
    np.testing.assert_array_equal(d.Y, values[L:, SERIES.index("log_volume")])
    # day-of-week design: the lag columns plus one 0/1 dummy per weekday
    assert list(d.X_day.columns) == data.lag_columns(L) + list(DAYS)
    np.testing.assert_array_equal(d.X_day[list(DAYS)].sum(axis=1).to_numpy(), np.ones(n))


def check_split(d: data.NYSEData, raw: pd.DataFrame) -> None:
    """The split is the data's own ``train`` column, counted from the raw frame: the first L days
    (they lack lags) are dropped, no other day is lost, and every training day precedes every test day."""
    L = d.lags
    assert len(d.train) == len(raw) - L
    assert d.train.sum() == raw["train"].to_numpy()[L:].sum() > 0
    assert (~d.train).sum() == (~raw["train"]).to_numpy()[L:].sum() > 0
    np.testing.assert_array_equal(d.train, raw["train"].to_numpy()[L:])
    assert d.dates[d.train].max() < d.dates[~d.train].min()


def test_split_counts_synthetic():
    frame = synthetic_nyse()
    check_split(data.nyse_features(frame, lags=5), frame)


def test_split_counts_reject_misaligned_split():
    """The broken variant: a train column aligned with the first rows instead of the lagged ones."""
    frame = synthetic_nyse()
    d = data.nyse_features(frame, lags=5)
    d.train = frame["train"].to_numpy()[:-5]
    with pytest.raises(AssertionError):
        check_split(d, frame)


# ----------------------------------------------------------------------------- 10.5/nyse-shape
@pytest.mark.data
@pytest.mark.claim("10.5/nyse-shape")
def test_nyse_shape(nyse):
    T = claims.book_value("10.5/nyse-shape")
    assert nyse.series.shape == (T, claims.get("10.5/nyse-shape").extra["series"])
    assert set(nyse.series.columns) == {"log_volume", "DJ_return", "log_volatility"}
    # standardised as the lab does: mean 0, population std 1 over all T days
    np.testing.assert_allclose(nyse.series.mean().to_numpy(), 0, atol=1e-10)
    np.testing.assert_allclose(nyse.series.std(ddof=0).to_numpy(), 1, atol=1e-10)
    raw = data.tabular.load_nyse_frame()
    assert len(raw) == T and raw.index[0] == "1962-12-03" and raw.index[-1] == "1986-12-31"
    check_split(nyse, raw)


# ----------------------------------------------------------------------------- 10.5/lag-design
@pytest.mark.claim("10.5/lag-design")
def test_lag_design_synthetic():
    L, p = claims.book_value("10.5/lag-design")
    d = data.nyse_features(synthetic_nyse(), lags=L)
    check_lag_design(d, L, p)
    for lags in (1, 3):
        check_lag_design(data.nyse_features(synthetic_nyse(T=12), lags=lags), lags, p)


@pytest.mark.claim("10.5/lag-design")
def test_lag_design_ar_matrix():
    """M has rows (1, v_{t-1}, ..., v_{t-L}) against y = (v_{L+1}, ..., v_T), as in the notes."""
    L, _ = claims.book_value("10.5/lag-design")
    v = np.arange(1.0, 13.0)  # v_1 .. v_12
    y, M = ar.ar_response(v, L), ar.ar_design(v, L)
    T = len(v)
    assert y.tolist() == v[L:].tolist() and M.shape == (T - L, L + 1)
    assert M[0].tolist() == [1, 5, 4, 3, 2, 1]  # 1, v_L, v_{L-1}, ..., v_1
    assert M[-1].tolist() == [1, 11, 10, 9, 8, 7]  # 1, v_{T-1}, ..., v_{T-L}
    # on the NYSE-style frame, M's lag columns are the log_volume columns of X_lag and X_rnn reversed
    d = data.nyse_features(synthetic_nyse(), lags=L)
    v = d.series["log_volume"].to_numpy()
    yv, Mv = ar.ar_response(v, L), ar.ar_design(v, L)
    np.testing.assert_array_equal(yv, d.Y)
    np.testing.assert_allclose(Mv[:, 1:], d.X_lag[[f"log_volume_{k}" for k in range(1, L + 1)]].to_numpy())
    np.testing.assert_allclose(Mv[:, 1:], d.X_rnn[:, ::-1, SERIES.index("log_volume")], rtol=1e-6, atol=1e-7)


@pytest.mark.data
@pytest.mark.claim("10.5/lag-design")
def test_lag_design(nyse):
    L, p = claims.book_value("10.5/lag-design")
    assert nyse.X_rnn.shape == (claims.get("10.5/lag-design").extra["rows"], L, p)
    check_lag_design(nyse, L, p)
    assert nyse.train.dtype == bool and 0 < nyse.train.sum() < len(nyse.train)
    # the lab's reference construction (insert lagged columns, dropna) gives the same matrices
    raw = data.tabular.load_nyse_frame()
    from sklearn.preprocessing import StandardScaler

    cols = list(SERIES)
    X = pd.DataFrame(
        StandardScaler(with_mean=True, with_std=True).fit_transform(raw[cols]), columns=cols, index=raw.index
    )
    for lag in range(1, L + 1):
        for col in cols:
            newcol = np.full(X.shape[0], np.nan)
            newcol[lag:] = X[col].values[:-lag]
            X.insert(len(X.columns), f"{col}_{lag}", newcol)
    X.insert(len(X.columns), "train", raw["train"])
    X = X.dropna()
    Y, train = X["log_volume"], X["train"]
    X = X.drop(columns=["train", *cols])
    pd.testing.assert_frame_equal(nyse.X_lag, X, check_dtype=False)
    np.testing.assert_array_equal(nyse.Y, Y.to_numpy())
    np.testing.assert_array_equal(nyse.train, train.to_numpy(dtype=bool))
    X_rnn = X.reindex(columns=data.rnn_columns(L)).to_numpy().reshape((-1, L, p))
    np.testing.assert_allclose(nyse.X_rnn, X_rnn.astype(np.float32))
    X_day = pd.concat([X, pd.get_dummies(raw["day_of_week"])], axis=1).dropna()
    np.testing.assert_allclose(nyse.X_day.to_numpy(), X_day.to_numpy(dtype=float))


# ----------------------------------------------------------------------------- 10.9/hitters-data
@pytest.mark.data
@pytest.mark.claim("10.9/hitters-data")
def test_hitters_data(hitters):
    n, p = claims.book_value("10.9/hitters-data")
    assert hitters.X.shape == (n, p) and hitters.Y.shape == (n,)
    assert len(hitters.feature_names) == p
    assert {"League[N]", "Division[W]", "NewLeague[N]"} <= set(hitters.feature_names)
    assert hitters.X_train.shape == (175, p) and hitters.X_test.shape == (n - 175, p)
    assert not np.isnan(hitters.X).any() and np.all(hitters.Y > 0)
    # the split is the lab's train_test_split(test_size=1/3, random_state=1)
    from sklearn.model_selection import train_test_split

    ref = train_test_split(hitters.X, hitters.Y, test_size=1 / 3, random_state=1)
    for mine, theirs in zip((hitters.X_train, hitters.X_test, hitters.Y_train, hitters.Y_test), ref):
        np.testing.assert_array_equal(mine, theirs)
    # 263 of the 322 players have a salary
    from ISLP import load_data

    full = load_data("Hitters")
    assert len(full) == 322 and full["Salary"].notna().sum() == n


# ----------------------------------------------------------------------------- the loaders' contract
def test_lag_helpers_default_to_the_labs_five_lags():
    """Without an argument the column helpers and the feature builder use the lab's L (5 days):
    15 lag columns, ``X_rnn`` of five steps."""
    L, p = claims.book_value("10.5/lag-design")
    assert data.lag_columns() == data.lag_columns(L) and len(data.lag_columns()) == L * p
    assert data.rnn_columns() == data.rnn_columns(L)
    d = data.nyse_features(synthetic_nyse())
    assert d.lags == L and d.X_rnn.shape[1:] == (L, p)


def test_nyse_features_record_their_lags_and_keep_the_days():
    """``NYSEData.lags`` is the L the matrices were built with, and the standardised series keeps
    the frame's days as its index (the lag matrices' index is a slice of it)."""
    frame = synthetic_nyse(T=15)
    for lags in (1, 3):
        d = data.nyse_features(frame, lags=lags)
        assert d.lags == lags and d.X_rnn.shape[1] == lags
        assert d.series.index.equals(frame.index)
        assert d.dates.equals(frame.index[lags:]) and d.X_day.index.equals(d.dates)


def test_nyse_lags_must_leave_at_least_one_day():
    """L may be at most T - 1 (one row of lagged features); the refusal names the range."""
    frame = synthetic_nyse(T=12)
    assert len(data.nyse_features(frame, lags=11).Y) == 1
    for lags in (12, 0):
        with pytest.raises(ValueError, match=rf"^lags must be in \[1, 11\], got {lags}$"):
            data.nyse_features(frame, lags=lags)


def test_nyse_nan_message_counts_the_places_shows_five_and_says_what_to_do():
    frame = synthetic_nyse(T=20)
    frame.iloc[2:8, frame.columns.get_loc("DJ_return")] = np.nan  # six days
    with pytest.raises(ValueError) as info:
        data.nyse_features(frame)
    msg = str(info.value)
    assert "NaN at 6 place(s)" in msg
    assert [f"day{i:03d}" in msg for i in range(2, 8)] == [True] * 5 + [False]  # the first five
    assert msg.endswith(": lagged features would be NaN; fix or drop those days explicitly")


@pytest.mark.data
def test_load_nyse_builds_the_lags_it_is_given():
    d = data.load_nyse(lags=2)
    T = claims.book_value("10.5/nyse-shape")
    assert d.lags == 2 and d.X_rnn.shape == (T - 2, 2, 3) and list(d.X_lag.columns) == data.lag_columns(2)


@pytest.mark.data
def test_load_hitters_is_quiet():
    """Loading Hitters shows no warning: ISLP's notice that ModelSpec will move (ISLP 0.6) is the
    library's news, not the user's, and is silenced where the design is built."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data.load_hitters()
    assert [str(w.message) for w in caught] == []
