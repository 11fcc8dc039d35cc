"""NYSE (section 10.5, lab 10.9.6) and Hitters (lab 10.9.1), both shipped inside the ISLP wheel.

NYSE preprocessing, as in the lab:

1. standardise ``DJ_return``, ``log_volume``, ``log_volatility`` over all 6,051 days
   (``StandardScaler(with_mean=True, with_std=True)``: subtract the mean, divide by the
   population standard deviation);
2. lag each by 1..L = 5 days into columns ``<series>_<lag>`` (lag-major order:
   ``DJ_return_1, log_volume_1, log_volatility_1, DJ_return_2, ...``), drop the first L
   days (they lack lags): 6,046 rows;
3. response ``Y`` = standardised ``log_volume`` on day t; ``train`` = the data's own column;
4. ``X_day`` = the 15 lag columns plus the 5 ``day_of_week`` dummies (mon .. fri);
5. ``X_rnn`` = the lag columns reordered oldest first (``*_5, *_4, ..., *_1``) and reshaped to
   ``(n, L, 3)``: ``X_rnn[i, l, j]`` is series ``j`` on day ``t_i - (L - l)``.

Steps 2, 3 and 5 call :mod:`islp_ch10.reference.ar` (``ar_design``, ``ar_response``,
``lag_array``): the data layer does not rebuild lags itself.

The lab's ``dropna()`` would silently remove days with a missing value; here a missing value
anywhere in the three series is an error (:class:`ValueError` naming the days and columns).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from islp_ch10.reference import ar

SERIES = ("DJ_return", "log_volume", "log_volatility")
DAYS = ("mon", "tues", "wed", "thur", "fri")


@dataclass
class NYSEData:
    series: pd.DataFrame  # the 6,051 standardised days: DJ_return, log_volume, log_volatility
    X_lag: pd.DataFrame  # (n, 15) lag columns in the lab's order, no intercept (as the lab)
    X_day: pd.DataFrame  # (n, 20) X_lag + day-of-week dummies (float 0/1)
    X_rnn: np.ndarray  # float32 (n, L, 3), oldest lag first
    Y: np.ndarray  # float64 (n,) standardised log_volume at t
    train: np.ndarray  # bool (n,)
    dates: pd.Index  # the n days (index of X_lag)
    ordered_cols: list  # the X_lag columns in X_rnn order (oldest first)
    lags: int = 5


def lag_columns(lags: int = 5) -> list[str]:
    """The lab's lag column names, lag-major: ``DJ_return_1, log_volume_1, log_volatility_1, ...``."""
    return [f"{c}_{lag}" for lag in range(1, lags + 1) for c in SERIES]


def rnn_columns(lags: int = 5) -> list[str]:
    """Lag columns oldest first (the lab's ``ordered_cols``), the order of ``X_rnn``'s flattening."""
    return [f"{c}_{lag}" for lag in range(lags, 0, -1) for c in SERIES]


def nyse_features(df: pd.DataFrame, lags: int = 5) -> NYSEData:
    """The lab's NYSE design matrices from a frame with the ISLP ``NYSE`` columns."""
    from sklearn.preprocessing import StandardScaler

    missing_cols = [c for c in (*SERIES, "train", "day_of_week") if c not in df.columns]
    if missing_cols:
        raise ValueError(f"NYSE frame lacks columns {missing_cols}")
    if lags < 1 or lags >= len(df):
        raise ValueError(f"lags must be in [1, {len(df) - 1}], got {lags}")
    bad = df[list(SERIES)].isna()
    if bad.to_numpy().any():
        where = [(str(idx), col) for idx, row in bad.iterrows() for col in SERIES if row[col]]
        raise ValueError(
            f"NYSE features contain NaN at {len(where)} place(s), e.g. {where[:5]}: "
            "lagged features would be NaN; fix or drop those days explicitly"
        )
    std = pd.DataFrame(
        StandardScaler(with_mean=True, with_std=True).fit_transform(df[list(SERIES)]),
        columns=list(SERIES),
        index=df.index,
    )
    values = std.to_numpy()
    # the lag matrix and the RNN array come from the numpy reference (one implementation)
    X = pd.DataFrame(ar.ar_design(values, lags, intercept=False), columns=lag_columns(lags), index=df.index[lags:])
    Y = ar.ar_response(values, lags, column=SERIES.index("log_volume"))
    train = df["train"].to_numpy()[lags:].astype(bool)
    dummies = pd.get_dummies(df["day_of_week"]).iloc[lags:].astype(np.float64)
    X_day = pd.concat([X, dummies], axis=1)
    X_rnn = ar.lag_array(values, lags).astype(np.float32)
    return NYSEData(
        series=std,
        X_lag=X,
        X_day=X_day,
        X_rnn=X_rnn,
        Y=Y,
        train=train,
        dates=X.index,
        ordered_cols=rnn_columns(lags),
        lags=lags,
    )


def load_nyse_frame() -> pd.DataFrame:
    from ISLP import load_data

    return load_data("NYSE")


def load_nyse(lags: int = 5) -> NYSEData:
    """ISLP's NYSE data (6,051 days, bundled with the ISLP package) with the lab's features."""
    return nyse_features(load_nyse_frame(), lags)


@dataclass
class HittersData:
    X_train: np.ndarray  # float64 (175, 19)
    X_test: np.ndarray  # float64 (88, 19)
    Y_train: np.ndarray  # salary, thousands of dollars
    Y_test: np.ndarray
    feature_names: list
    X: np.ndarray  # all 263 rows, in the data's order
    Y: np.ndarray


def load_hitters(test_size: float = 1 / 3, random_state: int = 1) -> HittersData:
    """Hitters without missing salaries (263 players), the lab's 19-column design and its split."""
    from ISLP import load_data
    from ISLP.models import ModelSpec
    from sklearn.model_selection import train_test_split

    hitters = load_data("Hitters").dropna()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ModelSpec will move")
        spec = ModelSpec(hitters.columns.drop("Salary"), intercept=False)
        design = spec.fit_transform(hitters)
    X = design.to_numpy(dtype=np.float64)
    Y = hitters["Salary"].to_numpy(dtype=np.float64)
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=test_size, random_state=random_state)
    return HittersData(X_train, X_test, Y_train, Y_test, list(design.columns), X, Y)
