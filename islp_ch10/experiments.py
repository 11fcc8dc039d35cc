"""Every empirical experiment of the chapter and its lab, shared by the slow tests, the report and
``islp-ch10 sweep`` (there is no second implementation).

:data:`EXPERIMENTS` is the registry: per experiment, the function that runs it and the
:class:`~islp_ch10.lab_defaults.LabConfig` of each network it trains (the lab's configuration,
with the notes lines it comes from).  An experiment takes a
:class:`~islp_ch10.lab_defaults.RunSettings` (seed, device, training path, log folder) and returns
one :class:`Measurement` per figure, each tied to a claim ID (and a ``part`` where one claim
holds several figures).  A measurement's ``value`` is what its claim is judged on; ``raw`` holds
the figures it was computed from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from islp_ch10 import models
from islp_ch10.lab_defaults import LabConfig, RunSettings
from islp_ch10.solvers import l1_logistic, lambda_max, lbfgs_fit
from islp_ch10.training import FitResult, fit


@dataclass
class Measurement:
    """One measured figure of a claim.

    ``value``   what the claim is judged on (its metric named by ``metric``)
    ``raw``     the figures it comes from: a network's whole-test-set metrics, or the inputs of a
                derived value (e.g. both R^2 of a difference)
    ``solver``  ``None`` for a network trained on ``run.path``; else the non-network fit
    ``in_memory`` by-products for the report (plots), never serialised
    """

    claim: str
    metric: str
    value: float
    run: RunSettings
    raw: dict[str, float] = field(default_factory=dict)
    part: str | None = None
    solver: str | None = None
    epochs: int | None = None
    wall_time: float = 0.0
    history: list[dict] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    in_memory: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def seed(self) -> int:
        return self.run.seed

    @property
    def path(self) -> str:
        """How the figure was obtained: the training path, or the solver of a non-network fit."""
        return self.solver or self.run.path

    def to_json(self) -> dict:
        out = asdict(self)
        del out["in_memory"]
        return {**out, "seed": self.seed, "path": self.path}


def _trained(result: FitResult, claim: str, metric: str, run: RunSettings, part: str | None = None) -> Measurement:
    return Measurement(
        claim=claim,
        metric=metric,
        value=float(result.test[metric]),
        run=run,
        raw=dict(result.test),
        part=part,
        epochs=result.config.epochs,
        wall_time=result.wall_time,
        history=result.history,
    )


def _fit(lab: LabConfig, name: str, factory: Callable, train: tuple, test: tuple, run: RunSettings) -> FitResult:
    return fit(factory, train, test, lab.train_config(run, name), path=run.path)


# ----------------------------------------------------------------------------- Hitters (10.9.1)
HITTERS_NET = LabConfig(
    task="regression",
    epochs=50,
    batch_size=32,
    validation="test",
    metric="mae",
    source="notes 721-727 (batch 32, validation=hit_test), 735-736 (SimpleModule.regression, "
    "no optimiser, MAE), 752-753 (max_epochs=50)",
)


def _hitters_tensors():
    from islp_ch10.data import load_hitters

    d = load_hitters()
    t = lambda a: torch.tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    return d, (t(d.X_train), t(d.Y_train)), (t(d.X_test), t(d.Y_test))


def hitters_linear(run: RunSettings) -> list[Measurement]:
    """Test MAE of least squares and of the lasso cross-validated on the lab's grid (deterministic)."""
    from sklearn.linear_model import Lasso, LinearRegression
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from islp_ch10.data import load_hitters

    d = load_hitters()
    start = time.perf_counter()
    ls = LinearRegression().fit(d.X_train, d.Y_train)
    ls_mae = float(np.abs(ls.predict(d.X_test) - d.Y_test).mean())
    # notes 603-619: standardised lasso, 100 penalties from lam_max down to 0.01 lam_max, 10-fold CV
    lam = lambda_max(StandardScaler().fit_transform(d.X_train), d.Y_train)
    grid = GridSearchCV(
        Pipeline([("scaler", StandardScaler()), ("lasso", Lasso(warm_start=True, max_iter=30000))]),
        {"lasso__alpha": np.exp(np.linspace(0, np.log(0.01), 100)) * lam},
        cv=KFold(10, shuffle=True, random_state=1),
        scoring="neg_mean_absolute_error",
    )
    grid.fit(d.X_train, d.Y_train)
    lasso_mae = float(np.abs(grid.best_estimator_.predict(d.X_test) - d.Y_test).mean())
    wall = time.perf_counter() - start
    return [
        Measurement(
            "10.9/hitters-mae",
            "mae",
            ls_mae,
            run,
            raw={"mae": ls_mae},
            part="least-squares",
            solver="least-squares",
            wall_time=wall,
        ),
        Measurement(
            "10.9/hitters-mae",
            "mae",
            lasso_mae,
            run,
            raw={"mae": lasso_mae},
            part="lasso",
            solver="lasso-cv",
            wall_time=wall,
            details={"alpha": float(grid.best_params_["lasso__alpha"]), "lambda_max": lam},
        ),
    ]


def hitters_net(run: RunSettings) -> list[Measurement]:
    """Test MAE of the 19-50-1 network on the lab split."""
    _, train, test = _hitters_tensors()
    result = _fit(HITTERS_NET, "hitters", lambda: models.HittersNet(train[0].shape[1]), train, test, run)
    return [_trained(result, "10.9/hitters-mae", "mae", run, part="network")]


# ----------------------------------------------------------------------------- MNIST (10.9.2)
MNIST_MLP = LabConfig(
    task="multiclass",
    num_classes=10,
    epochs=30,
    batch_size=256,
    validation=0.2,
    metric="accuracy",
    source="notes 853-857 (validation 0.2, batch 256), 931-932 (SimpleModule.classification, "
    "no optimiser), 939-940 (max_epochs=30)",
)
MNIST_MLR = LabConfig(
    task="multiclass",
    num_classes=10,
    epochs=30,
    batch_size=256,
    validation=0.2,
    metric="accuracy",
    source="notes 853-857 (the MLP's data module), 990-991 (no optimiser), 996-997 (max_epochs=30)",
)
# 10.2/regularise: the MLP's configuration; the ridge arm adds weight decay 1e-4 (the notes, line
# 409, leave lambda to "a small value or a validation search": 1e-4 is the project's choice)
RIDGE_WEIGHT_DECAY = 1e-4
REGULARISE = MappingProxyType(
    {
        "none": MNIST_MLP,
        "dropout": MNIST_MLP,
        "ridge": replace(
            MNIST_MLP,
            weight_decay=RIDGE_WEIGHT_DECAY,
            source=MNIST_MLP.source + "; weight decay 1e-4 on notes 405-409's L2 penalty",
        ),
    }
)
REGULARISE_MODELS = MappingProxyType(
    {
        "none": lambda: models.MNISTMLP(dropout1=0.0, dropout2=0.0),
        "dropout": models.MNISTMLP,  # the lab's dropout rates 0.4 / 0.3
        "ridge": lambda: models.MNISTMLP(dropout1=0.0, dropout2=0.0),
    }
)


def _mnist():
    from islp_ch10.data import load_mnist

    d = load_mnist()
    return (d.x_train, d.y_train), (d.x_test, d.y_test)


def mnist_mlp(run: RunSettings) -> list[Measurement]:
    """The 784-256-128-10 network with the lab's configuration (SimpleModule's optimiser)."""
    train, test = _mnist()
    return [
        _trained(_fit(MNIST_MLP, "mnist-mlp", models.MNISTMLP, train, test, run), "10.9/mnist-mlp", "accuracy", run)
    ]


def mnist_mlr(run: RunSettings) -> list[Measurement]:
    """Multinomial logistic regression as a network with no hidden layer, same configuration."""
    train, test = _mnist()
    return [
        _trained(
            _fit(MNIST_MLR, "mnist-mlr", models.MNISTLogistic, train, test, run), "10.9/mnist-mlr", "accuracy", run
        )
    ]


def mnist_regularise(run: RunSettings) -> list[Measurement]:
    """10.2/regularise: the MLP with neither regulariser, with the lab's dropout, and with weight decay.

    ``none`` is judged on its test accuracy (a healthy baseline); ``dropout`` and ``ridge`` on their
    test-error increase over ``none`` (= accuracy(none) - accuracy(part)).
    """
    train, test = _mnist()
    results = {
        part: _fit(lab, f"mnist-regularise-{part}", REGULARISE_MODELS[part], train, test, run)
        for part, lab in REGULARISE.items()
    }
    baseline = results["none"].test["accuracy"]
    out = [_trained(results["none"], "10.2/regularise", "accuracy", run, part="none")]
    for part in ("dropout", "ridge"):
        m = _trained(results[part], "10.2/regularise", "accuracy", run, part=part)
        m.metric, m.value = "error-increase", baseline - m.raw["accuracy"]
        m.raw["baseline_accuracy"] = baseline
        m.details["weight_decay"] = REGULARISE[part].weight_decay
        out.append(m)
    return out


# ----------------------------------------------------------------------------- IMDB (10.9.5-6)
IMDB_DENSE = LabConfig(
    task="binary",
    epochs=30,
    batch_size=512,
    validation=2000,
    metric="accuracy",
    optimizer="rmsprop",
    lr=0.001,
    source="notes 1346-1350 (validation 2000, batch 512), 1395-1398 (RMSprop lr 0.001), 1409-1410 (max_epochs=30)",
)
IMDB_LSTM = LabConfig(
    task="binary",
    epochs=20,
    batch_size=300,
    validation=2000,
    metric="accuracy",
    source="notes 1548-1551 (validation 2000, batch 300), 1591 (SimpleModule.binary_classification, "
    "no optimiser), 1594-1595 (max_epochs=20)",
)
# the lab has no simple-RNN cell (the book quotes 76% from its text): the LSTM's configuration
IMDB_RNN = replace(IMDB_LSTM, source=IMDB_LSTM.source + "; the simple RNN reuses it (no lab cell of its own)")


def _imdb():
    from islp_ch10.data import load_imdb

    return load_imdb()


def imdb_dense(run: RunSettings) -> list[Measurement]:
    """The 10,003-16-16-1 bag-of-words network."""
    d = _imdb()
    y_tr, y_te = (torch.as_tensor(d.y_train, dtype=torch.float32), torch.as_tensor(d.y_test, dtype=torch.float32))
    result = _fit(
        IMDB_DENSE,
        "imdb-dense",
        models.IMDBDense,
        (d.X_train.astype(np.float32), y_tr),
        (d.X_test.astype(np.float32), y_te),
        run,
    )
    return [_trained(result, "10.4/imdb-dense", "accuracy", run)]


def lasso_path(X, y, lambdas, seed: int = 0) -> list:
    """L1 logistic regressions along ``lambdas`` (the notes' C = 1/(n lambda), lines 1445-1466)."""
    n = X.shape[0]
    return [l1_logistic(C=1 / (n * lam), random_state=seed, max_iter=1000).fit(X, y) for lam in lambdas]


def imdb_lasso(run: RunSettings, n_lambdas: int = 50) -> list[Measurement]:
    """L1 logistic regression over 50 penalties from lambda_max down to 1e-4 lambda_max; judged on the
    path's best test accuracy (the lab plots the whole path), with the 2,000-review validation pick."""
    d = _imdb()
    rng = np.random.default_rng(run.seed)
    val = rng.permutation(d.X_train.shape[0])[:2000]
    keep = np.setdiff1d(np.arange(d.X_train.shape[0]), val)
    X, y = d.X_train[keep], np.asarray(d.y_train)[keep]
    Xv, yv = d.X_train[val], np.asarray(d.y_train)[val]
    lams = lambda_max(X, y) * np.exp(np.linspace(np.log(1), np.log(1e-4), n_lambdas))
    start = time.perf_counter()
    path = lasso_path(X, y, lams, seed=run.seed)
    wall = time.perf_counter() - start
    val_acc = [float((m.predict(Xv) == yv).mean()) for m in path]
    test_acc = [float((m.predict(d.X_test) == np.asarray(d.y_test)).mean()) for m in path]
    best = int(np.argmax(val_acc))
    details = {
        "lambdas": lams.tolist(),
        "valid_accuracy": val_acc,
        "test_accuracy": test_acc,
        "nonzero": [int(np.count_nonzero(m.coef_)) for m in path],
        "n_features": X.shape[1],
        "chosen_lambda": float(lams[best]),
    }
    return [
        Measurement(
            "10.4/imdb-lasso",
            "accuracy",
            max(test_acc),
            run,
            raw={"accuracy": max(test_acc), "test_at_chosen": test_acc[best]},
            solver="liblinear-l1",
            wall_time=wall,
            details=details,
        )
    ]


def _imdb_sequence(run: RunSettings, lab: LabConfig, name: str, factory: Callable, part: str) -> list[Measurement]:
    d = _imdb()
    s_tr, s_te = torch.as_tensor(d.S_train, dtype=torch.int64), torch.as_tensor(d.S_test, dtype=torch.int64)
    y_tr, y_te = (torch.as_tensor(d.y_train, dtype=torch.float32), torch.as_tensor(d.y_test, dtype=torch.float32))
    result = _fit(lab, name, factory, (s_tr, y_tr), (s_te, y_te), run)
    return [_trained(result, "10.5/imdb-rnn", "accuracy", run, part=part)]


def imdb_lstm(run: RunSettings) -> list[Measurement]:
    """Embedding 10,003 x 32, LSTM 32, one logit; SimpleModule's default optimiser, batch 300."""
    return _imdb_sequence(run, IMDB_LSTM, "imdb-lstm", models.IMDBLSTM, "lstm")


def imdb_rnn(run: RunSettings) -> list[Measurement]:
    """The same with a simple (tanh) RNN in place of the LSTM."""
    return _imdb_sequence(run, IMDB_RNN, "imdb-rnn", models.IMDBRNN, "rnn")


# ----------------------------------------------------------------------------- NYSE (10.9.6)
NYSE_RNN = LabConfig(
    task="regression",
    epochs=200,
    batch_size=64,
    validation="test",
    metric="r2",
    optimizer="rmsprop",
    lr=0.001,
    source="notes 1738-1742 (validation=nyse_test, batch 64), 1763-1767 (RMSprop lr 0.001, "
    "R^2), 1775-1776 (max_epochs=200)",
)
NYSE_NLAR = LabConfig(
    task="regression",
    epochs=20,
    batch_size=64,
    validation="test",
    metric="r2",
    optimizer="rmsprop",
    lr=0.001,
    source="notes 1800-1804 (validation=day_test, batch 64), 1826-1830 (RMSprop lr 0.001, "
    "R^2), 1833-1834 (max_epochs=20)",
)


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def nyse_linear(run: RunSettings) -> list[Measurement]:
    """Least-squares AR(5) on the three lagged series, then with day-of-week indicators (test R^2),
    and the AR model as a Flatten-Linear network fitted by full-batch L-BFGS (10.5/flatten)."""
    from sklearn.linear_model import LinearRegression

    from islp_ch10.data import load_nyse

    d = load_nyse()
    tr, te = d.train, ~d.train
    X_lag, X_day, Y = np.asarray(d.X_lag, float), np.asarray(d.X_day, float), np.asarray(d.Y, float)
    start = time.perf_counter()
    ar_r2 = _r2(Y[te], LinearRegression().fit(X_lag[tr], Y[tr]).predict(X_lag[te]))
    day_r2 = _r2(Y[te], LinearRegression().fit(X_day[tr], Y[tr]).predict(X_day[te]))
    wall = time.perf_counter() - start
    with torch.random.fork_rng():
        torch.manual_seed(run.seed)  # the network's initial weights
        net = lbfgs_fit(
            models.LinearAR(n_features=X_lag.shape[1]).double(), torch.from_numpy(X_lag[tr]), torch.from_numpy(Y[tr])
        )
    with torch.no_grad():
        net_r2 = _r2(Y[te], net(torch.from_numpy(X_lag[te])).numpy())
    return [
        Measurement(
            "10.5/ar-vs-rnn", "r2", ar_r2, run, raw={"r2": ar_r2}, part="ar", solver="least-squares", wall_time=wall
        ),
        Measurement(
            "10.5/day-of-week",
            "r2",
            day_r2,
            run,
            raw={"r2": day_r2, "ar_r2": ar_r2},
            solver="least-squares",
            wall_time=wall,
        ),
        Measurement(
            "10.5/flatten",
            "r2-gap",
            abs(net_r2 - ar_r2),
            run,
            part="network",
            solver="lbfgs",
            raw={"least_squares_r2": ar_r2, "network_r2": net_r2},
        ),
    ]


def _nyse_split(features: str) -> tuple[tuple, tuple]:
    """``((x_train, y_train), (x_test, y_test))`` float32 tensors of one NYSE design, split by the
    data's own ``train`` column."""
    from islp_ch10.data import load_nyse

    d = load_nyse()
    x = torch.tensor(np.asarray(getattr(d, features), dtype=np.float32))
    y = torch.tensor(np.asarray(d.Y, dtype=np.float32))
    tr = torch.as_tensor(np.asarray(d.train))
    return (x[tr], y[tr]), (x[~tr], y[~tr])


def nyse_rnn(run: RunSettings) -> list[Measurement]:
    """The 12-unit RNN on the (n, 5, 3) lag array."""
    train, test = _nyse_split("X_rnn")
    return [
        _trained(_fit(NYSE_RNN, "nyse-rnn", models.NYSERNN, train, test, run), "10.5/ar-vs-rnn", "r2", run, part="rnn")
    ]


def nyse_nonlinear_ar(run: RunSettings) -> list[Measurement]:
    """Flatten-Linear(20,32)-ReLU-Dropout(0.5)-Linear on lags + day of week."""
    train, test = _nyse_split("X_day")
    n_features = train[0].shape[1]
    result = _fit(NYSE_NLAR, "nyse-nlar", lambda: models.NonlinearAR(n_features=n_features), train, test, run)
    return [_trained(result, "10.5/nonlinear-ar", "r2", run)]


# ----------------------------------------------------------------------------- CIFAR-100 (10.9.3)
CIFAR_CNN = LabConfig(
    task="multiclass",
    num_classes=100,
    epochs=30,
    batch_size=128,
    validation=0.2,
    metric="accuracy",
    optimizer="rmsprop",
    lr=0.001,
    source="notes 1059-1063 (validation 0.2, batch 128), 1168-1172 (RMSprop lr 0.001), 1179-1180 (max_epochs=30)",
)


def cifar_cnn(run: RunSettings) -> list[Measurement]:
    """The lab CNN on CIFAR-100."""
    from islp_ch10.data import load_cifar100

    d = load_cifar100()
    x_tr = torch.as_tensor(d.x_train, dtype=torch.float32) / 255
    x_te = torch.as_tensor(d.x_test, dtype=torch.float32) / 255
    y_tr = torch.as_tensor(d.y_train, dtype=torch.int64)
    y_te = torch.as_tensor(d.y_test, dtype=torch.int64)
    result = _fit(CIFAR_CNN, "cifar-cnn", models.CIFARCNN, (x_tr, y_tr), (x_te, y_te), run)
    return [_trained(result, "10.3/cnn-accuracy", "accuracy", run)]


# ----------------------------------------------------------------------------- double descent (10.8)
DOUBLE_DESCENT_BLOCK = 9  # seeds per run: RunSettings.seed b draws the spline data with seeds 9b .. 9b+8


def double_descent(run: RunSettings) -> list[Measurement]:
    """Minimum-norm and ridge spline fits over d (numpy, under a second); judged on peak_ratio of the
    per-d median test error over one block of nine seeds (block ``run.seed``)."""
    from islp_ch10 import claims
    from islp_ch10.double_descent import (
        DoubleDescentConfig,
        norm_ratio,
        norm_trend,
        peak_ratio,
        run_double_descent,
        spike_by_noise,
    )

    spec = claims.get("10.8/double-descent").extra
    block = tuple(range(DOUBLE_DESCENT_BLOCK * run.seed, DOUBLE_DESCENT_BLOCK * (run.seed + 1)))
    start = time.perf_counter()
    result = run_double_descent(DoubleDescentConfig(seeds=block))
    wall = time.perf_counter() - start
    kw = dict(window=tuple(spec["window"]), below=spec["below"], above=spec["above"])
    out = []
    for claim, curve in (("10.8/double-descent", "test_error"), ("10.8/ridge-no-peak", "ridge_test_error")):
        median = result.median(curve)
        ratio = peak_ratio(median, result.dfs, **kw)
        out.append(
            Measurement(
                claim,
                "peak-ratio",
                ratio,
                run,
                solver="numpy",
                wall_time=wall,
                raw={"peak_ratio": ratio, f"median_{curve}_at_20": float(median[result.index(20)])},
                details={"seeds": list(block)},
                in_memory={"double_descent": result},
            )
        )
    shrink = claims.get("10.8/min-norm-shrinks").extra
    trend = norm_trend(result)
    out.append(
        Measurement(
            "10.8/min-norm-shrinks",
            "norm-trend",
            trend,
            run,
            solver="numpy",
            wall_time=wall,
            raw={"norm_trend": trend, "norm_ratio": norm_ratio(result, shrink["norm_ratio_high"])},
            details={"seeds": list(block)},
        )
    )
    sds = claims.get("10.8/signal-to-noise").extra["noise_sds"]
    spikes = spike_by_noise(sds, DoubleDescentConfig(seeds=block))
    out.append(
        Measurement(
            "10.8/signal-to-noise",
            "spike-ratio",
            float(spikes[0] / spikes[-1]),
            run,
            solver="numpy",
            raw={f"excess_at_sd_{sd:g}": float(v) for sd, v in zip(sds, spikes)},
            details={"seeds": list(block), "noise_sds": list(sds)},
        )
    )
    return out


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Experiment:
    """A registry entry: the function and the lab configuration of each network it trains."""

    run: Callable[[RunSettings], list[Measurement]]
    labs: Mapping[str, LabConfig] = field(default_factory=lambda: MappingProxyType({}))
    quick: bool = False  # part of `islp-ch10 reproduce`'s default (a few CPU minutes)

    @property
    def summary(self) -> str:
        """The first sentence of the function's docstring."""
        text = " ".join((self.run.__doc__ or "").split("\n\n")[0].split())
        return text.split("; ")[0].split(". ")[0].rstrip(".") + "."


EXPERIMENTS: Mapping[str, Experiment] = MappingProxyType(
    {
        "hitters-linear": Experiment(hitters_linear, quick=True),
        "hitters-net": Experiment(hitters_net, MappingProxyType({"network": HITTERS_NET}), quick=True),
        "nyse-linear": Experiment(nyse_linear, quick=True),
        "nyse-rnn": Experiment(nyse_rnn, MappingProxyType({"rnn": NYSE_RNN})),
        "nyse-nlar": Experiment(nyse_nonlinear_ar, MappingProxyType({"nlar": NYSE_NLAR}), quick=True),
        "mnist-mlr": Experiment(mnist_mlr, MappingProxyType({"mlr": MNIST_MLR}), quick=True),
        "mnist-mlp": Experiment(mnist_mlp, MappingProxyType({"mlp": MNIST_MLP})),
        "mnist-regularise": Experiment(mnist_regularise, REGULARISE),
        "imdb-dense": Experiment(imdb_dense, MappingProxyType({"dense": IMDB_DENSE})),
        "imdb-lasso": Experiment(imdb_lasso),
        "imdb-lstm": Experiment(imdb_lstm, MappingProxyType({"lstm": IMDB_LSTM})),
        "imdb-rnn": Experiment(imdb_rnn, MappingProxyType({"rnn": IMDB_RNN})),
        "cifar-cnn": Experiment(cifar_cnn, MappingProxyType({"cnn": CIFAR_CNN})),
        "double-descent": Experiment(double_descent, quick=True),
    }
)

# What `islp-ch10 reproduce` runs by default; --full runs all.
QUICK = tuple(name for name, e in EXPERIMENTS.items() if e.quick)


def run(name: str, settings: RunSettings) -> list[Measurement]:
    """Run one registered experiment; a KeyError names the known ones."""
    try:
        experiment = EXPERIMENTS[name]
    except KeyError:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None
    return experiment.run(settings)
