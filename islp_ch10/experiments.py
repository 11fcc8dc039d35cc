"""Every empirical experiment of the chapter and its lab, shared by the slow tests, the report and
``islp-ch10 sweep`` (there is no second implementation).

Each experiment declares itself with :func:`experiment` where it is defined, as networks do with
``@register_model``: its name, the claims (and parts) it measures, the
:class:`~islp_ch10.lab_defaults.LabConfig` of each network it trains, the data set it reads,
whether ``islp-ch10 reproduce`` runs it by default (``quick``), and what the run's seed means for
it.  :data:`EXPERIMENTS` is the registry those declarations fill (read-only), in declaration order.

An experiment takes a :class:`~islp_ch10.training.RunSettings` (seed, device, training path) and
returns one :class:`Measurement` per figure, each tied to a claim ID (and a ``part`` where one
claim holds several figures); :func:`run` refuses a measurement its experiment did not declare.
A measurement's ``value`` is what its claim is judged on; ``raw`` holds the figures it was
computed from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from islp_ch10 import models
from islp_ch10.lab_defaults import (
    CIFAR_CNN,
    HITTERS_NET,
    IMDB_DENSE,
    IMDB_LSTM,
    IMDB_RNN,
    MNIST_MLP,
    MNIST_MLR,
    NYSE_NLAR,
    NYSE_RNN,
    REGULARISE,
    LabConfig,
)
from islp_ch10.solvers import l1_logistic, lambda_max, lbfgs_fit
from islp_ch10.training import FitResult, RunSettings, fit

# What the run's seed means, shared by the experiments it describes.
SEED_TRAINS = "seeds the network's initial weights, the minibatch order and the dropout masks (seed_everything)"
SEED_TRAINS_AND_SPLITS = SEED_TRAINS + ", and ISLP's random_split of the validation rows"


# ----------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Experiment:
    """A registry entry: the function, what it measures, the lab configuration of each network it
    trains, and what the seed means for it.

    ``claims``  claim ID -> the parts measured (``(None,)`` for a claim of one figure)
    ``labs``    part -> :class:`~islp_ch10.lab_defaults.LabConfig` of each network trained
    ``data``    the data set read (``None``: simulated)
    ``quick``   part of ``islp-ch10 reproduce``'s default (a few CPU minutes)
    ``slow``    its judged test belongs to the slow tier (every experiment that trains a network,
                and those that take long without one)
    """

    run: Callable[[RunSettings], list[Measurement]]
    labs: Mapping[str, LabConfig] = field(default_factory=lambda: MappingProxyType({}))
    quick: bool = False
    claims: Mapping[str, tuple[str | None, ...]] = field(default_factory=lambda: MappingProxyType({}))
    data: str | None = None
    seed_meaning: str = ""
    name: str = ""
    slow: bool = False

    @property
    def summary(self) -> str:
        """The first sentence of the function's docstring."""
        text = " ".join((self.run.__doc__ or "").split("\n\n")[0].split())
        return text.split("; ")[0].split(". ")[0].rstrip(".") + "."

    @property
    def trains(self) -> bool:
        """Whether it trains a network (with the lab's configuration)."""
        return bool(self.labs)

    @property
    def config(self) -> LabConfig:
        """The one LabConfig of an experiment that trains one network (``ValueError`` otherwise)."""
        if len(self.labs) != 1:
            raise ValueError(f"experiment {self.name!r} trains {len(self.labs)} networks: read .labs")
        return next(iter(self.labs.values()))

    def measures(self) -> list[tuple[str, str | None]]:
        """Every ``(claim, part)`` it measures, in declaration order."""
        return [(claim, part) for claim, parts in self.claims.items() for part in parts]


_REGISTRY: dict[str, Experiment] = {}
EXPERIMENTS: Mapping[str, Experiment] = MappingProxyType(_REGISTRY)


def experiment(
    name: str,
    *,
    claims: Mapping[str, tuple[str | None, ...] | str | None],
    seed_meaning: str,
    labs: Mapping[str, LabConfig] | None = None,
    data: str | None = None,
    quick: bool = False,
    slow: bool | None = None,
):
    """Register the decorated function as experiment ``name`` (see :class:`Experiment`).

    ``claims`` maps each claim ID to the part it measures, a tuple of parts, or ``None`` for a
    claim of one figure.  ``seed_meaning`` says what :attr:`RunSettings.seed` changes.  ``slow``
    defaults to whether it trains a network (``labs``).
    """
    if name in _REGISTRY:
        raise ValueError(f"experiment {name!r} is declared twice")
    if not seed_meaning:
        raise ValueError(f"experiment {name!r}: say what the seed means (seed_meaning)")
    table = {cid: parts if isinstance(parts, tuple) else (parts,) for cid, parts in claims.items()}

    def register(fn: Callable[[RunSettings], list[Measurement]]):
        _REGISTRY[name] = Experiment(
            fn,
            MappingProxyType(dict(labs or {})),
            quick,
            MappingProxyType(table),
            data,
            seed_meaning,
            name,
            bool(labs) if slow is None else slow,
        )
        return fn

    return register


def get(name: str) -> Experiment:
    """The registered experiment ``name``; a KeyError names the known ones."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None


def measuring(claim: str, part: str | None = None) -> str:
    """The name of the experiment that measures ``claim`` (and ``part``)."""
    found = [name for name, e in EXPERIMENTS.items() if (claim, part) in e.measures()]
    if len(found) != 1:
        raise KeyError(f"{len(found)} experiments measure {claim} [{part}]: {found}")
    return found[0]


def run(name: str, settings: RunSettings) -> list[Measurement]:
    """Run one registered experiment; a KeyError names the known ones.  A measurement of a claim
    or part the experiment did not declare is an error (the declaration is what tests, the report
    and sweeps read)."""
    entry = get(name)
    measurements = entry.run(settings)
    if entry.claims:
        undeclared = [(m.claim, m.part) for m in measurements if (m.claim, m.part) not in entry.measures()]
        if undeclared:
            raise RuntimeError(f"experiment {name!r} measured undeclared claim(s)/part(s) {undeclared}")
    return measurements


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


def _fit(lab: LabConfig, factory: Callable, train: tuple, test: tuple, run: RunSettings) -> FitResult:
    """The lab's fit: its configuration and the run's settings, handed to ``fit`` as they are."""
    return fit(factory, train, test, lab, run=run)


# ----------------------------------------------------------------------------- Hitters (10.9.1)
def _hitters_tensors():
    from islp_ch10.data import load_hitters

    d = load_hitters()
    t = lambda a: torch.tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    return d, (t(d.X_train), t(d.Y_train)), (t(d.X_test), t(d.Y_test))


@experiment(
    "hitters-linear",
    claims={"10.9/hitters-mae": ("least-squares", "lasso")},
    data="hitters",
    quick=True,
    seed_meaning="nothing: least squares is exact and the lasso's 10-fold CV uses the lab's fixed "
    "KFold(random_state=1); every seed gives the same figures",
)
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


@experiment(
    "hitters-net",
    claims={"10.9/hitters-mae": "network"},
    labs={"network": HITTERS_NET},
    data="hitters",
    quick=True,
    seed_meaning=SEED_TRAINS + " (the lab validates on the test set: no split)",
)
def hitters_net(run: RunSettings) -> list[Measurement]:
    """Test MAE of the 19-50-1 network on the lab split."""
    _, train, test = _hitters_tensors()
    result = _fit(HITTERS_NET, lambda: models.HittersNet(train[0].shape[1]), train, test, run)
    return [_trained(result, "10.9/hitters-mae", "mae", run, part="network")]


# ----------------------------------------------------------------------------- NYSE (10.9.6)
def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


@experiment(
    "nyse-linear",
    claims={"10.5/ar-vs-rnn": "ar", "10.5/day-of-week": None, "10.5/flatten": "network"},
    data="nyse",
    quick=True,
    seed_meaning="the initial weights of the L-BFGS network (10.5/flatten) only; the least-squares figures ignore it",
)
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


@experiment(
    "nyse-rnn",
    claims={"10.5/ar-vs-rnn": "rnn"},
    labs={"rnn": NYSE_RNN},
    data="nyse",
    seed_meaning=SEED_TRAINS + " (the lab validates on the test set: no split)",
)
def nyse_rnn(run: RunSettings) -> list[Measurement]:
    """The 12-unit RNN on the (n, 5, 3) lag array."""
    train, test = _nyse_split("X_rnn")
    return [_trained(_fit(NYSE_RNN, models.NYSERNN, train, test, run), "10.5/ar-vs-rnn", "r2", run, part="rnn")]


@experiment(
    "nyse-nlar",
    claims={"10.5/nonlinear-ar": None},
    labs={"nlar": NYSE_NLAR},
    data="nyse",
    quick=True,
    seed_meaning=SEED_TRAINS + " (the lab validates on the test set: no split)",
)
def nyse_nonlinear_ar(run: RunSettings) -> list[Measurement]:
    """Flatten-Linear(20,32)-ReLU-Dropout(0.5)-Linear on lags + day of week."""
    train, test = _nyse_split("X_day")
    n_features = train[0].shape[1]
    result = _fit(NYSE_NLAR, lambda: models.NonlinearAR(n_features=n_features), train, test, run)
    return [_trained(result, "10.5/nonlinear-ar", "r2", run)]


# ----------------------------------------------------------------------------- MNIST (10.9.2)
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


@experiment(
    "mnist-mlr",
    claims={"10.9/mnist-mlr": None},
    labs={"mlr": MNIST_MLR},
    data="mnist",
    quick=True,
    seed_meaning=SEED_TRAINS_AND_SPLITS,
)
def mnist_mlr(run: RunSettings) -> list[Measurement]:
    """Multinomial logistic regression as a network with no hidden layer, same configuration."""
    train, test = _mnist()
    return [_trained(_fit(MNIST_MLR, models.MNISTLogistic, train, test, run), "10.9/mnist-mlr", "accuracy", run)]


@experiment(
    "mnist-mlp",
    claims={"10.9/mnist-mlp": None},
    labs={"mlp": MNIST_MLP},
    data="mnist",
    seed_meaning=SEED_TRAINS_AND_SPLITS,
)
def mnist_mlp(run: RunSettings) -> list[Measurement]:
    """The 784-256-128-10 network with the lab's configuration (SimpleModule's optimiser)."""
    train, test = _mnist()
    return [_trained(_fit(MNIST_MLP, models.MNISTMLP, train, test, run), "10.9/mnist-mlp", "accuracy", run)]


@experiment(
    "mnist-regularise",
    claims={"10.2/regularise": ("none", "dropout", "ridge")},
    labs=REGULARISE,
    data="mnist",
    seed_meaning=SEED_TRAINS_AND_SPLITS + "; the three arms share it (same start, same batches)",
)
def mnist_regularise(run: RunSettings) -> list[Measurement]:
    """10.2/regularise: the MLP with neither regulariser, with the lab's dropout, and with weight decay.

    ``none`` is judged on its test accuracy (a healthy baseline); ``dropout`` and ``ridge`` on their
    test-error increase over ``none`` (= accuracy(none) - accuracy(part)).
    """
    train, test = _mnist()
    results = {part: _fit(lab, REGULARISE_MODELS[part], train, test, run) for part, lab in REGULARISE.items()}
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
def _imdb():
    from islp_ch10.data import load_imdb

    return load_imdb()


@experiment(
    "imdb-dense",
    claims={"10.4/imdb-dense": None},
    labs={"dense": IMDB_DENSE},
    data="imdb",
    seed_meaning=SEED_TRAINS_AND_SPLITS,
)
def imdb_dense(run: RunSettings) -> list[Measurement]:
    """The 10,003-16-16-1 bag-of-words network."""
    d = _imdb()
    y_tr, y_te = (torch.as_tensor(d.y_train, dtype=torch.float32), torch.as_tensor(d.y_test, dtype=torch.float32))
    result = _fit(
        IMDB_DENSE,
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


@experiment(
    "imdb-lasso",
    claims={"10.4/imdb-lasso": None},
    data="imdb",
    slow=True,  # 50 L1 fits over 23,000 reviews
    seed_meaning="the draw of the 2,000 validation reviews (numpy default_rng(seed)) and liblinear's random_state",
)
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


def _imdb_sequence(run: RunSettings, lab: LabConfig, factory: Callable, part: str) -> list[Measurement]:
    d = _imdb()
    s_tr, s_te = torch.as_tensor(d.S_train, dtype=torch.int64), torch.as_tensor(d.S_test, dtype=torch.int64)
    y_tr, y_te = (torch.as_tensor(d.y_train, dtype=torch.float32), torch.as_tensor(d.y_test, dtype=torch.float32))
    result = _fit(lab, factory, (s_tr, y_tr), (s_te, y_te), run)
    return [_trained(result, "10.5/imdb-rnn", "accuracy", run, part=part)]


@experiment(
    "imdb-lstm",
    claims={"10.5/imdb-rnn": "lstm"},
    labs={"lstm": IMDB_LSTM},
    data="imdb",
    seed_meaning=SEED_TRAINS_AND_SPLITS,
)
def imdb_lstm(run: RunSettings) -> list[Measurement]:
    """Embedding 10,003 x 32, LSTM 32, one logit; SimpleModule's default optimiser, batch 300."""
    return _imdb_sequence(run, IMDB_LSTM, models.IMDBLSTM, "lstm")


@experiment(
    "imdb-rnn",
    claims={"10.5/imdb-rnn": "rnn"},
    labs={"rnn": IMDB_RNN},
    data="imdb",
    seed_meaning=SEED_TRAINS_AND_SPLITS,
)
def imdb_rnn(run: RunSettings) -> list[Measurement]:
    """The same with a simple (tanh) RNN in place of the LSTM."""
    return _imdb_sequence(run, IMDB_RNN, models.IMDBRNN, "rnn")


# ----------------------------------------------------------------------------- CIFAR-100 (10.9.3)
@experiment(
    "cifar-cnn",
    claims={"10.3/cnn-accuracy": None},
    labs={"cnn": CIFAR_CNN},
    data="cifar100",
    seed_meaning=SEED_TRAINS_AND_SPLITS,
)
def cifar_cnn(run: RunSettings) -> list[Measurement]:
    """The lab CNN on CIFAR-100."""
    from islp_ch10.data import load_cifar100

    d = load_cifar100()
    x_tr = torch.as_tensor(d.x_train, dtype=torch.float32) / 255
    x_te = torch.as_tensor(d.x_test, dtype=torch.float32) / 255
    y_tr = torch.as_tensor(d.y_train, dtype=torch.int64)
    y_te = torch.as_tensor(d.y_test, dtype=torch.int64)
    result = _fit(CIFAR_CNN, models.CIFARCNN, (x_tr, y_tr), (x_te, y_te), run)
    return [_trained(result, "10.3/cnn-accuracy", "accuracy", run)]


# ----------------------------------------------------------------------------- double descent (10.8)
DOUBLE_DESCENT_BLOCK = 9  # seeds per run: RunSettings.seed b draws the spline data with seeds 9b .. 9b+8


@experiment(
    "double-descent",
    claims={
        "10.8/double-descent": None,
        "10.8/ridge-no-peak": None,
        "10.8/min-norm-shrinks": None,
        "10.8/signal-to-noise": None,
    },
    quick=True,
    slow=True,  # seconds; its claims are judged in the fast tier on the same functions (test_10_8_double_descent.py)
    seed_meaning=f"a block of {DOUBLE_DESCENT_BLOCK} simulation seeds: seed b draws the spline data with "
    f"seeds {DOUBLE_DESCENT_BLOCK}b .. {DOUBLE_DESCENT_BLOCK}b+{DOUBLE_DESCENT_BLOCK - 1} and the claims are "
    "judged on their median",
)
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


# What `islp-ch10 reproduce` runs by default; --full runs all.
QUICK = tuple(name for name, e in EXPERIMENTS.items() if e.quick)
