"""The seed of a run reaches every fit an experiment makes (issue 15, item 1).

Each registered experiment is run through its own registry entry, on tiny seeded stand-in data
(the data loaders are replaced; the data are the same for every seed, so only the run's seed can
change a fit) with every network fit cut to one epoch: twice with seed 0 and once with seed 1.
Every fit it makes (each network's trained weights; the L-BFGS flatten network, the lasso path's
coefficients, the double-descent curves) must be bit-identical between the two seed-0 runs and
differ in the seed-1 run, and every network fit must have been handed the run's seed.  Broken
variants: a fit that ignores the seed it is given, and a fit that never seeds the RNGs.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from islp_ch10 import data, double_descent, experiments, training
from islp_ch10.lab_defaults import RunSettings


def registry() -> dict:
    """``name`` -> registry entry (the one place to re-point if the registry moves)."""
    return dict(experiments.EXPERIMENTS)


# Experiments no seed can reach, and why (a registered experiment is either here or seeded below).
NO_SEED = {
    "hitters-linear": "least squares and the lab's lasso CV with its fixed KFold(10, random_state=1): deterministic",
}


# ----------------------------------------------------------------------------- tiny stand-in data
def _g(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def fake_hitters():
    g = _g()
    X, Y = g.normal(size=(40, 19)), g.normal(500, 100, size=40)
    return SimpleNamespace(X_train=X[:30], X_test=X[30:], Y_train=Y[:30], Y_test=Y[30:])


def fake_nyse():
    g, n = _g(), 60
    x_lag = g.normal(size=(n, 15))
    x_day = np.hstack([x_lag, np.eye(5)[np.arange(n) % 5]])
    return SimpleNamespace(
        X_lag=x_lag,
        X_day=x_day,
        X_rnn=g.normal(size=(n, 5, 3)).astype(np.float32),
        Y=g.normal(size=n),
        train=np.arange(n) < 45,
    )


def fake_mnist():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(60, 1, 28, 28, generator=g), torch.randint(0, 10, (60,), generator=g)
    return SimpleNamespace(x_train=x[:50], y_train=y[:50], x_test=x[50:], y_test=y[50:])


def _imdb(n_train: int, n_test: int, n_words: int, density: float):
    g = _g()
    X = sp.random(n_train + n_test, n_words, density=density, format="csr", random_state=0, dtype=np.float32)
    X.data[:] = 1
    y = (X @ g.normal(size=n_words) + g.normal(size=n_train + n_test) > 0).astype(np.int64)
    S = g.integers(3, experiments.models.IMDB_VOCAB, size=(n_train + n_test, 12))
    return SimpleNamespace(
        X_train=X[:n_train],
        X_test=X[n_train:],
        y_train=y[:n_train],
        y_test=y[n_train:],
        S_train=S[:n_train],
        S_test=S[n_train:],
    )


def fake_imdb_networks():
    """40 training reviews over the lab's 10,003 columns (the networks' input width)."""
    return _imdb(40, 10, experiments.models.IMDB_VOCAB, 0.001)


def fake_imdb_lasso():
    """Enough training reviews for the lab's 2,000-review validation pick, over 20 words."""
    return _imdb(2030, 30, 20, 0.3)


def fake_cifar():
    g = torch.Generator().manual_seed(0)
    x, y = (
        torch.randint(0, 256, (24, 3, 32, 32), generator=g, dtype=torch.uint8),
        torch.randint(0, 100, (24,), generator=g),
    )
    return SimpleNamespace(x_train=x[:20], y_train=y[:20], x_test=x[20:], y_test=y[20:])


# experiment -> {loader in islp_ch10.data: stand-in}; experiments absent here read no data
FAKE_DATA: dict[str, dict[str, Callable]] = {
    "hitters-net": {"load_hitters": fake_hitters},
    "nyse-linear": {"load_nyse": fake_nyse},
    "nyse-rnn": {"load_nyse": fake_nyse},
    "nyse-nlar": {"load_nyse": fake_nyse},
    "mnist-mlr": {"load_mnist": fake_mnist},
    "mnist-mlp": {"load_mnist": fake_mnist},
    "mnist-regularise": {"load_mnist": fake_mnist},
    "imdb-dense": {"load_imdb": fake_imdb_networks},
    "imdb-lasso": {"load_imdb": fake_imdb_lasso},
    "imdb-lstm": {"load_imdb": fake_imdb_networks},
    "imdb-rnn": {"load_imdb": fake_imdb_networks},
    "cifar-cnn": {"load_cifar100": fake_cifar},
    "double-descent": {},
}
# experiments that simulate their own data run a smaller simulation (its seeds are still the run's):
# double descent on 100 test points and the 9 of its 49 values of d that its judges read (the peak
# window 18-22, the flanks 8 and 40, the norm ratio's 50): 0.36 s a run and three runs a case before,
# now under 0.1 s a run
SMALL_SIMULATION: dict[str, dict[str, Callable]] = {
    "double-descent": {
        "DoubleDescentConfig": functools.partial(
            double_descent.DoubleDescentConfig, n_test=100, dfs=(2, 8, 18, 19, 20, 21, 22, 40, 50)
        )
    },
}
# every experiment that trains a network runs on the book's ISLP.torch path too (SimpleDataModule,
# SimpleModule, Trainer): on the stand-in data it is as cheap as the fast path
ISLP_PATH = tuple(name for name, entry in registry().items() if entry.labs)


# ----------------------------------------------------------------------------- what each fit leaves
def _arrays(obj) -> list[np.ndarray]:
    if isinstance(obj, torch.nn.Module):
        return [t.detach().cpu().numpy().copy() for t in obj.state_dict().values()]
    return [np.asarray(obj).copy()]


class FitSpy:
    """Records every fit an experiment makes: the seed handed to each network fit, and the fitted
    parameters of every fit (networks shrunk to one epoch on the stand-in data)."""

    def __init__(self, monkeypatch, fit: Callable = training.fit):
        self.fits: list[list[np.ndarray]] = []
        self.seeds: list[int] = []
        self._fit = fit
        monkeypatch.setattr(experiments, "fit", self.network_fit)
        lbfgs, lasso = experiments.lbfgs_fit, experiments.lasso_path
        monkeypatch.setattr(experiments, "lbfgs_fit", lambda *a, **k: self._keep(lbfgs(*a, **k)))
        monkeypatch.setattr(experiments, "lasso_path", lambda *a, **k: self._keep_path(lasso(*a, **k)))

    def network_fit(self, model, train, test, config, path=None, callbacks=(), *, run=None, **kw):
        self.seeds.append(run.seed if run is not None else config.seed)
        small = isinstance(config.validation, int) and not isinstance(config.validation, bool)
        config = dataclasses.replace(config, epochs=1, validation=4 if small else config.validation)
        result = self._fit(model, train, test, config, path=path, callbacks=callbacks, run=run, **kw)
        self.fits.append(_arrays(result.model))
        return result

    def _keep(self, model):
        self.fits.append(_arrays(model))
        return model

    def _keep_path(self, path):
        self.fits.append([np.concatenate([m.coef_.ravel(), m.intercept_.ravel()]) for m in path])
        return path


def run_and_record(name: str, seed: int, path: str, monkeypatch, fit: Callable = training.fit) -> FitSpy:
    """Run the registered experiment ``name`` at ``seed`` on its stand-in data; what its fits left."""
    with monkeypatch.context() as m:
        for loader, fake in FAKE_DATA[name].items():
            m.setattr(data, loader, fake)
        for config, small in SMALL_SIMULATION.get(name, {}).items():
            m.setattr(double_descent, config, small)
        spy = FitSpy(m, fit)
        measurements = registry()[name].run(RunSettings(seed=seed, path=path))
    # fits that leave their result in the measurements (double descent: one result, several figures)
    results = {id(r): r for m in measurements if (r := m.in_memory.get("double_descent")) is not None}
    spy.fits.extend([r.test_error, r.ridge_test_error, r.coef_norm] for r in results.values())
    return spy


def seed_problems(runs: dict[str, FitSpy], seed_of: dict[str, int]) -> list[str]:
    """What breaks "the seed reaches every fit" in three runs ``a`` (seed 0), ``a_again`` (seed 0)
    and ``b`` (seed 1) of one experiment; empty when every fit is seeded by the run."""
    a, again, b = runs["a"], runs["a_again"], runs["b"]
    problems = []
    if not a.fits:
        problems.append("no fit was recorded")
    if not len(a.fits) == len(again.fits) == len(b.fits):
        problems.append(f"the runs made {len(a.fits)}, {len(again.fits)}, {len(b.fits)} fits")
    for key, spy in runs.items():
        if any(s != seed_of[key] for s in spy.seeds):
            problems.append(f"run {key} (seed {seed_of[key]}) handed its fits the seeds {spy.seeds}")
    for i, (x, x2, y) in enumerate(zip(a.fits, again.fits, b.fits)):
        if not all(np.array_equal(u, v) for u, v in zip(x, x2, strict=True)):
            problems.append(f"fit {i}: two runs with seed 0 differ")
        if all(np.array_equal(u, v) for u, v in zip(x, y, strict=True)):
            problems.append(f"fit {i}: seeds 0 and 1 give identical parameters")
    return problems


SEEDS = {"a": 0, "a_again": 0, "b": 1}


def three_runs(name: str, path: str, monkeypatch, fit: Callable = training.fit) -> dict[str, FitSpy]:
    return {key: run_and_record(name, seed, path, monkeypatch, fit) for key, seed in SEEDS.items()}


# ----------------------------------------------------------------------------- the tests
def test_every_registered_experiment_is_seeded_here_or_exempt_with_a_reason():
    assert set(FAKE_DATA) | set(NO_SEED) == set(registry())
    assert not set(FAKE_DATA) & set(NO_SEED)
    assert not any(registry()[name].labs for name in NO_SEED), "an experiment that trains a network has a seed"


CASES = [(n, "fast") for n in FAKE_DATA] + [(n, "islp") for n in ISLP_PATH]


@pytest.mark.parametrize(("name", "path"), [pytest.param(n, p, id=f"{n}-{p}") for n, p in CASES])
def test_the_seed_reaches_every_fit(name, path, monkeypatch):
    """Equal seeds give bit-identical fits, a different seed different ones, in every fit."""
    runs = three_runs(name, path, monkeypatch)
    assert not seed_problems(runs, SEEDS)


def _ignores_the_seed(model, train, test, config, *, run=None, **kw):
    return training.fit(model, train, test, config, run=dataclasses.replace(run, seed=0), **kw)


def _never_seeds(model, train, test, config, **kw):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(training, "seed_everything", lambda *a, **k: None)
        return training.fit(model, train, test, config, **kw)


@pytest.mark.parametrize(
    ("broken", "says"),
    [(_ignores_the_seed, "seeds 0 and 1 give identical"), (_never_seeds, "two runs with seed 0 differ")],
    ids=["fit-ignores-the-seed", "fit-never-seeds"],
)
@pytest.mark.parametrize("name", ["hitters-net", "mnist-regularise"])
def test_a_fit_that_drops_the_seed_is_rejected(name, broken, says, monkeypatch):
    """Broken variants: a fit function that trains with seed 0 whatever it is given; one that never
    seeds the RNGs (its initial weights then follow whatever the global RNG holds)."""
    problems = seed_problems(three_runs(name, "fast", monkeypatch, broken), SEEDS)
    assert any(says in p for p in problems), problems


def test_an_experiment_that_drops_the_run_seed_is_rejected(monkeypatch):
    """Broken variant: an experiment that builds its fits' settings afresh (seed 0) instead of from the run."""
    original = registry()["nyse-nlar"].run
    monkeypatch.setitem(FAKE_DATA, "nyse-nlar-dropped", FAKE_DATA["nyse-nlar"])  # same data and fits, seed lost
    entry = dataclasses.replace(registry()["nyse-nlar"], run=lambda run: original(dataclasses.replace(run, seed=0)))
    monkeypatch.setattr(experiments, "EXPERIMENTS", {**registry(), "nyse-nlar-dropped": entry})
    problems = seed_problems(three_runs("nyse-nlar-dropped", "fast", monkeypatch), SEEDS)
    assert any("handed its fits the seeds" in p for p in problems), problems
    assert any("seeds 0 and 1 give identical" in p for p in problems), problems
