"""Whole training runs three ways, per model family the lab trains (group ``train-epoch-paths``).

For each family (Hitters, MNIST multinomial logistic regression, MNIST MLP, IMDB dense, IMDB
LSTM on a slice, NYSE RNN, nonlinear AR), in one run:

``islp``   ``islp_ch10.training.fit(path="islp")``: the book's ``SimpleDataModule`` /
           ``SimpleModule`` / ``ErrorTracker`` and ``trainer.test``, as the lab runs them;
``fast``   ``fit(path="fast")``: :class:`~islp_ch10.training.FastModule` on the same Trainer;
``plain``  :func:`plain_fit` below: a hand-written torch loop over in-memory tensors, no Lightning.

All three do the same work: seed, build the model, train with the lab's optimiser, batch size and
epochs, score the training epoch and the validation set once per epoch over the whole set (loss
and the lab's metrics), and score the test set at the end.  They also draw the same minibatches:
the plain loop takes from the global RNG exactly what the Lightning paths' ``DataLoader`` s take
(see :func:`plain_fit`), so on the CPU all three end with bit-identical weights, which each
benchmark asserts; the ratios therefore compare the same computation.  Each timed call is a whole
fit.  The ratios ``fast/plain`` and ``islp/fast`` per family go to the terminal and the JSON.

The data are synthetic, shaped like each family's (feature shape, dtype, sparsity), trained with
the family's :class:`~islp_ch10.lab_defaults.LabConfig` (the lab's optimiser, learning rate,
batch size, loss) with fewer samples and epochs, so that the run stays short: see
:data:`FAMILIES` (what each shortens) and each benchmark's ``extra_info``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from islp_ch10 import lab_defaults, models
from islp_ch10.benchmarking import synchronize
from islp_ch10.testing import cpu_and_cuda
from islp_ch10.training import (
    RunSettings,
    _as_tensor,
    _split_indices,
    _take,
    evaluate,
    fit,
    make_loss,
    scores,
    seed_everything,
)

ROUNDS = 3


# ----------------------------------------------------------------------------- data per family
def _regression(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    w = torch.randn(x[0].numel(), generator=g)
    signal = x.reshape(len(x), -1) @ w
    return (signal / signal.std() + 0.5 * torch.randn(len(x), generator=g)).float()


def _mnist_like(n: int, g: torch.Generator):
    """Ten fixed random "stroke" masks (about 20% of the pixels) with dropped pixels and speckle."""
    strokes = torch.rand((10, 1, 28, 28), generator=torch.Generator().manual_seed(0)) < 0.2
    y = torch.randint(0, 10, (n,), generator=g)
    keep = torch.rand((n, 1, 28, 28), generator=g) < 0.8
    speckle = (torch.rand((n, 1, 28, 28), generator=g) < 0.05) * torch.rand((n, 1, 28, 28), generator=g)
    return torch.maximum(strokes[y] * keep * 0.9, speckle), y


def _bag_of_words(n: int, g: torch.Generator):
    """A float32 CSR matrix of 0/1 word indicators, about 2% of 10,003 columns per row (like IMDB's)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=g)))
    x = sp.random(n, models.IMDB_VOCAB, density=0.02, format="csr", dtype=np.float32, random_state=rng)
    x.data[:] = 1.0
    weights = rng.standard_normal(models.IMDB_VOCAB).astype(np.float32)
    y = torch.as_tensor(np.asarray(x @ weights).ravel() > 0, dtype=torch.float32)
    return x, y


def _tokens(n: int, g: torch.Generator, length: int = 500):
    x = torch.randint(0, models.IMDB_VOCAB, (n, length), generator=g)
    return x, (x[:, -1] % 2).float()


def _lagged(shape: tuple[int, ...]):
    def make(n: int, g: torch.Generator):
        x = torch.randn((n, *shape), generator=g)
        return x, _regression(x, g)

    return make


def _hitters(n: int, g: torch.Generator):
    x = torch.randn((n, 19), generator=g)
    return x, _regression(x, g)


@dataclass(frozen=True)
class Family:
    """One model family: how to build the model and data, the lab's configuration, and what the
    benchmark shortens (``epochs``, and ``validation`` where the lab's count exceeds the slice)."""

    factory: Callable[[], nn.Module]
    data: Callable[[int, torch.Generator], tuple]
    n_train: int
    n_test: int
    lab: lab_defaults.LabConfig
    epochs: int
    note: str
    validation: float | int | str | None = None  # None: the lab's

    @property
    def config(self) -> lab_defaults.LabConfig:
        """The lab's configuration with this benchmark's epochs (and validation count)."""
        validation = self.lab.validation if self.validation is None else self.validation
        return dataclasses.replace(self.lab, epochs=self.epochs, validation=validation)

    @property
    def description(self) -> str:
        return f"{self.note}, {self.epochs} of the lab's {self.lab.epochs} epochs"


FAMILIES: dict[str, Family] = {
    "hitters": Family(
        lambda: models.HittersNet(19),
        _hitters,
        176,
        87,
        lab_defaults.HITTERS_NET,
        epochs=lab_defaults.HITTERS_NET.epochs,
        note="Hitters' own sizes (176 train / 87 test, 19 predictors)",
    ),
    "mnist-mlr": Family(
        models.MNISTLogistic,
        _mnist_like,
        12_000,
        2_000,
        lab_defaults.MNIST_MLR,
        epochs=3,
        note="MNIST-shaped images, a fifth of MNIST's training set",
    ),
    "mnist-mlp": Family(
        models.MNISTMLP,
        _mnist_like,
        12_000,
        2_000,
        lab_defaults.MNIST_MLP,
        epochs=2,
        note="MNIST-shaped images, a fifth of MNIST's training set",
    ),
    "imdb-dense": Family(
        models.IMDBDense,
        _bag_of_words,
        4_000,
        1_000,
        lab_defaults.IMDB_DENSE,
        epochs=3,
        validation=1_000,
        note="sparse 0/1 rows over 10,003 words (2% density), 4,000 reviews, 1,000 of them validation",
    ),
    "imdb-lstm": Family(
        models.IMDBLSTM,
        _tokens,
        900,
        300,
        lab_defaults.IMDB_LSTM,
        epochs=1,
        validation=300,
        note="500-token reviews, a slice of 900 (2 training batches of 300, 300 validation)",
    ),
    "nyse-rnn": Family(
        models.NYSERNN,
        _lagged((5, 3)),
        2_000,
        800,
        lab_defaults.NYSE_RNN,
        epochs=10,
        note="(5 lags, 3 series), 2,000 days",
    ),
    "nyse-nlar": Family(
        models.NonlinearAR,
        _lagged((20,)),
        2_000,
        800,
        lab_defaults.NYSE_NLAR,
        epochs=10,
        note="20 features (lags + day of week), 2,000 days",
    ),
}


# ----------------------------------------------------------------------------- the plain loop
def _draw() -> int:
    """One draw from the global torch RNG, as ``DataLoader`` and ``RandomSampler`` make it."""
    return int(torch.empty((), dtype=torch.int64).random_().item())


def _rows(x, idx: torch.Tensor) -> torch.Tensor:
    return x[idx] if isinstance(x, torch.Tensor) else _as_tensor(x[idx.numpy()])


def plain_fit(
    factory: Callable[[], nn.Module],
    train: tuple,
    test: tuple,
    config: lab_defaults.LabConfig,
    run: RunSettings,
    device: str = "cpu",
) -> tuple[nn.Module, list[dict], dict]:
    """The lab's training written as a plain torch loop: returns (model, history, test scores).

    It consumes the global RNG as the Lightning paths do, so it draws their minibatches and
    dropout masks: each epoch opens the training loader (``DataLoader``'s base-seed draw, then
    the ``RandomSampler``'s seed for that epoch's permutation) and then the validation loader
    (one base-seed draw).  Lightning's sanity check opens the validation loader too, but inside
    ``isolate_rng``, so it leaves the global RNG as it found it.  Batches are moved to
    ``device`` one by one, as the fast path moves them.
    """
    seed_everything(run.seed)
    model = factory().to(device)
    optimizer = config.make_optimizer(model.parameters())
    loss_fn = make_loss(config.task)
    (x_train, y_train), (x_test, y_test) = train, test
    if config.validation == "test":
        valid = (x_test, y_test)
    else:
        tr, va = _split_indices(len(y_train), config.validation, run.seed)
        valid = (_take(x_train, va), y_train[va]) if va else None
        x_train, y_train = _take(x_train, tr), y_train[tr]
    n, batch = len(y_train), config.batch_size
    history = []
    for epoch in range(config.epochs):
        _draw()
        order = torch.randperm(n, generator=torch.Generator().manual_seed(_draw()))
        model.train()
        preds, targets = [], []
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            x, y = _rows(x_train, idx).to(device), y_train[idx].to(device)
            pred = model(x)
            loss = loss_fn(pred, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            preds.append(pred.detach())
            targets.append(y)
        row = {"epoch": epoch}
        row.update(
            {
                f"train_{k}": v
                for k, v in scores(config.task, torch.cat(preds), torch.cat(targets), config.num_classes).items()
            }
        )
        if valid is not None:
            _draw()
            model.eval()
            with torch.no_grad():
                vx, vy = valid
                vpred = torch.cat(
                    [
                        model(_rows(vx, torch.arange(i, min(i + batch, len(vy)))).to(device))
                        for i in range(0, len(vy), batch)
                    ]
                )
            row.update(
                {f"valid_{k}": v for k, v in scores(config.task, vpred, vy.to(device), config.num_classes).items()}
            )
        history.append(row)
    model = model.cpu()
    return model, history, evaluate(model, x_test, y_test, config.task, config.num_classes, device=device)


# ----------------------------------------------------------------------------- benchmarks
@pytest.fixture(scope="module")
def family_data():
    """Data per family, built once per module on first use."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            fam = FAMILIES[name]
            g = torch.Generator().manual_seed(sorted(FAMILIES).index(name))
            x, y = fam.data(fam.n_train + fam.n_test, g)
            train = (x[: fam.n_train], y[: fam.n_train])
            test = (x[fam.n_train :], y[fam.n_train :])
            cache[name] = train, test
        return cache[name]

    return get


_FINAL_WEIGHTS: dict[tuple[str, str], dict[str, dict[str, torch.Tensor]]] = {}


@pytest.mark.benchmark(group="train-epoch-paths")
@pytest.mark.parametrize("device", cpu_and_cuda())
@pytest.mark.parametrize("variant", ["plain", "fast", "islp"])
@pytest.mark.parametrize("family", list(FAMILIES))  # closest: a family's variants run one after another
def test_train_epoch_paths(benchmark, describe, family_data, variant, family, device):
    if variant == "islp":
        pytest.importorskip("ISLP.torch", reason="the ISLP package (ISLP.torch) is needed for the book's path")
    fam = FAMILIES[family]
    train, test = family_data(family)
    config = fam.config
    optimizer, lr = config.resolved_optimizer()
    n_valid = len(test[1]) if config.validation == "test" else len(_split_indices(fam.n_train, config.validation, 0)[1])
    n_fit = fam.n_train - (0 if config.validation == "test" else n_valid)
    describe(
        device,
        variant=variant,
        case=family,
        model=type(fam.factory()).__name__,
        data=fam.description,
        n_train=n_fit,
        n_valid=n_valid,
        n_test=fam.n_test,
        batch_size=config.batch_size,
        epochs=config.epochs,
        steps_per_epoch=-(-n_fit // config.batch_size),
        optimizer=optimizer,
        lr=lr,
        rounds=ROUNDS,
        timed="one whole fit: seed, build, train, per-epoch whole-set train/valid "
        "scores, test scores (islp also runs trainer.test, as the lab does)",
    )

    def run():
        if variant == "plain":
            model, history, scored = plain_fit(fam.factory, train, test, config, RunSettings(), device)
        else:
            settings = RunSettings(path=variant, accelerator="gpu" if device.startswith("cuda") else "cpu")
            result = fit(fam.factory, train, test, config, run=settings)
            model, history, scored = result.model, result.history, result.test
        synchronize(device)
        return model, history, scored

    model, history, scored = benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1, iterations=1)

    assert len(history) == config.epochs and {"train_loss"} <= set(history[-1])
    assert all(np.isfinite(v) for v in scored.values()), f"{family}/{variant}: {scored}"
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    seen = _FINAL_WEIGHTS.setdefault((family, device), {})
    seen[variant] = weights
    if device == "cpu":  # CUDA kernels need not be bit-reproducible; the CPU ones are
        for other, theirs in seen.items():
            differ = [k for k in weights if not torch.equal(weights[k], theirs[k])]
            assert not differ, f"{family}: {variant} and {other} end with different weights in {differ}"
