"""Training the chapter's networks with Lightning: the book's path and a fast path.

Two ways to fit the same model with the same configuration:

``path="islp"``  the lab's own workflow, through ``ISLP.torch``: ``SimpleDataModule`` over a
                 ``TensorDataset``, ``SimpleModule.regression/binary_classification/classification``,
                 ``ErrorTracker`` and ``Trainer.test``.  It proves the book's code runs on today's
                 torch/Lightning.  Its DataLoaders index one sample at a time and collate; it
                 also runs ``trainer.test`` with the ErrorTracker, as the lab does.
``path="fast"``  :class:`ChapterModule` with :class:`InMemoryBatches`: the sampler yields whole
                 index batches and the dataset slices the stored tensors once per batch.  The
                 batches are drawn by the same ``RandomSampler`` from the same global RNG, so with
                 the same seed both paths see the same minibatches in the same order and end with
                 the same weights (``tests/test_10_9_lab.py`` checks this).  Lightning's per-step
                 work dominates both paths at the lab's sizes, so the gain is modest (the
                 ``train-epoch-islp-vs-fast`` benchmark measures it).

Both return a :class:`FitResult` with the per-epoch history (from ``CSVLogger``), test metrics
computed over the whole test set, and the wall time.  ``accelerator``, ``devices`` and
``strategy`` go to Lightning unchanged, so the same entry points run DDP.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler, TensorDataset, random_split

TASKS = ("regression", "binary", "multiclass")


# ----------------------------------------------------------------------------- seeding
def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch (Lightning's helper) and ask torch for deterministic kernels."""
    try:
        pl.seed_everything(seed, workers=True, verbose=False)
    except TypeError:  # Lightning < 2.3 has no `verbose`
        pl.seed_everything(seed, workers=True)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


# ----------------------------------------------------------------------------- configuration
@dataclass
class TrainConfig:
    """The lab's knobs for one fit (defaults are ``ISLP.torch.SimpleModule``'s: RMSprop, lr 0.01).

    ``validation`` is a fraction or a count of the training set held out with ISLP's seeded
    ``random_split``, ``"test"`` to validate on the test set (the lab does this for Hitters and
    NYSE), or ``None``.
    """

    task: str
    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.01
    optimizer: str = "rmsprop"
    weight_decay: float = 0.0
    validation: float | int | str | None = None
    num_classes: int | None = None
    seed: int = 0
    accelerator: str = "cpu"
    devices: int | str = 1
    strategy: str = "auto"
    log_dir: str | None = None
    name: str = "run"
    progress: bool = False
    max_steps: int = -1

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.task == "multiclass" and not self.num_classes:
            raise ValueError("task 'multiclass' needs num_classes")
        if self.optimizer not in ("rmsprop", "sgd", "adam"):
            raise ValueError(f"optimizer must be 'rmsprop', 'sgd' or 'adam', got {self.optimizer!r}")

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        cls = {"rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD, "adam": torch.optim.Adam}[self.optimizer]
        return cls(params, lr=self.lr, weight_decay=self.weight_decay)


@dataclass
class FitResult:
    """What a fit leaves: the trained model, per-epoch history, whole-test-set metrics, timings."""

    model: nn.Module
    history: list[dict[str, float]]
    test: dict[str, float]
    wall_time: float
    path: str
    config: TrainConfig
    log_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- losses & metrics
def make_loss(task: str) -> nn.Module:
    return {"regression": nn.MSELoss(), "binary": nn.BCEWithLogitsLoss(),
            "multiclass": nn.CrossEntropyLoss()}[task]


def make_metrics(task: str, num_classes: int | None = None) -> dict[str, Any]:
    """The lab's metric per task: MAE and R^2 for regression, accuracy for classification."""
    import torchmetrics as tm

    if task == "regression":
        return {"mae": tm.MeanAbsoluteError(), "r2": tm.R2Score()}
    if task == "binary":
        return {"accuracy": tm.Accuracy(task="binary")}
    return {"accuracy": tm.Accuracy(task="multiclass", num_classes=num_classes)}


def _metric_target(task: str, y: torch.Tensor) -> torch.Tensor:
    return y.int() if task == "binary" else y


@torch.no_grad()
def evaluate(model: nn.Module, x, y: torch.Tensor, task: str,
             num_classes: int | None = None, batch_size: int = 4096,
             device: torch.device | str | None = None) -> dict[str, float]:
    """Loss and metrics of ``model`` in eval mode over a whole data set, by hand (no Lightning).

    Batches run on ``device`` (default: where the model is); the model is returned to where it was.
    """
    was_training = model.training
    model.eval()
    home = next(model.parameters()).device
    device = torch.device(device) if device is not None else home
    model.to(device)
    preds, targets = [], []
    for i in range(0, len(y), batch_size):
        preds.append(model(_as_tensor(x[i:i + batch_size]).to(device)).cpu())
        targets.append(y[i:i + batch_size])
    model.train(was_training)
    model.to(home)
    pred, target = torch.cat(preds), torch.cat(targets)
    out = {"loss": float(make_loss(task)(pred, target))}
    for name, metric in make_metrics(task, num_classes).items():
        out[name] = float(metric(pred, _metric_target(task, target)))
    return out


def _as_tensor(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if hasattr(x, "toarray"):  # scipy sparse rows
        return torch.from_numpy(np.asarray(x.toarray(), dtype=np.float32))
    return torch.as_tensor(x)


# ----------------------------------------------------------------------------- fast path data
class InMemoryBatches(Dataset):
    """A data set indexed by whole batches: ``ds[[i, j, ...]]`` slices the stored arrays once.

    ``x`` may be a tensor or a scipy sparse matrix (rows densified per batch, so the 10,003-column
    IMDB matrix never has to be dense in memory).
    """

    def __init__(self, x, y: torch.Tensor):
        if len(y) != x.shape[0]:
            raise ValueError(f"x has {x.shape[0]} rows but y has {len(y)}")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index):
        if isinstance(index, int):
            index = [index]
        idx = torch.as_tensor(index)
        if isinstance(self.x, torch.Tensor):
            return self.x[idx], self.y[idx]
        return _as_tensor(self.x[np.asarray(index)]), self.y[idx]


def batch_loader(ds: InMemoryBatches, batch_size: int, shuffle: bool) -> DataLoader:
    """A DataLoader whose sampler yields index lists, so each batch is one slice.

    With ``shuffle`` it draws its permutation exactly as ``DataLoader(shuffle=True)`` does (a
    ``RandomSampler`` seeded from the global torch RNG), hence the same batches as the ISLP path.
    """
    inner = RandomSampler(range(len(ds))) if shuffle else SequentialSampler(range(len(ds)))
    return DataLoader(ds, sampler=BatchSampler(inner, batch_size, drop_last=False), batch_size=None)


def _eval_device(config: TrainConfig) -> torch.device:
    """Where to evaluate after a fit: the GPU when training asked for one and one is present."""
    if config.accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def _split_indices(n: int, validation, seed: int) -> tuple[list[int], list[int]]:
    """ISLP's split: ``random_split`` with ``Generator().manual_seed(seed)``."""
    if validation is None:
        nval = 0
    elif isinstance(validation, float):
        nval = int(validation * n)
    else:
        nval = int(validation)
    train, valid = random_split(range(n), [n - nval, nval], generator=torch.Generator().manual_seed(seed))
    return list(train.indices), list(valid.indices)


# ----------------------------------------------------------------------------- fast path module
class ChapterModule(pl.LightningModule):
    """Loss, optimiser and whole-epoch metrics for one chapter model (the fast path's module).

    Metrics are torchmetrics objects updated every batch and computed at epoch end, so the logged
    validation and test figures are over the whole set (what ISLP's ErrorTracker is for), not
    averages of batch figures.
    """

    def __init__(self, model: nn.Module, config: TrainConfig):
        super().__init__()
        self.model, self.config = model, config
        self.loss = make_loss(config.task)
        self.metrics = nn.ModuleDict({
            stage: nn.ModuleDict(make_metrics(config.task, config.num_classes))
            for stage in ("train_", "valid_", "test_")
        })

    def forward(self, x):
        return self.model(x)

    def _step(self, batch, stage: str):
        x, y = batch
        pred = self(x)
        loss = self.loss(pred, y)
        self.log(f"{stage}loss", loss, on_step=False, on_epoch=True, batch_size=len(y), sync_dist=True)
        for name, metric in self.metrics[stage].items():
            metric.update(pred.detach(), _metric_target(self.config.task, y))
            self.log(f"{stage}{name}", metric, on_step=False, on_epoch=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train_")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "valid_")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test_")

    def configure_optimizers(self):
        return self.config.make_optimizer(self.model.parameters())


def make_module(model: nn.Module, config: TrainConfig) -> ChapterModule:
    """The fast path's LightningModule for ``model`` under ``config``."""
    return ChapterModule(model, config)


# ----------------------------------------------------------------------------- trainer
def make_trainer(config: TrainConfig, callbacks: Sequence = (), log_dir: str | None = None):
    """A ``Trainer`` configured as the lab's (deterministic, CSV logs), with device passthrough."""
    from pytorch_lightning.loggers import CSVLogger

    logger = CSVLogger(log_dir, name=config.name) if log_dir else False
    return pl.Trainer(
        # bit-identical on the CPU; CUDA has ops without deterministic kernels, so there only warn
        deterministic=True if config.accelerator == "cpu" else "warn",
        max_epochs=config.epochs,
        max_steps=config.max_steps,
        accelerator=config.accelerator,
        devices=config.devices,
        strategy=config.strategy,
        logger=logger,
        callbacks=list(callbacks),
        enable_checkpointing=False,
        enable_progress_bar=config.progress,
        enable_model_summary=False,
    )


def _history(log_dir: str | None) -> list[dict[str, float]]:
    """Per-epoch rows from CSVLogger's metrics.csv (train and valid columns merged by epoch)."""
    if not log_dir:
        return []
    path = Path(log_dir) / "metrics.csv"
    if not path.exists():
        return []
    import pandas as pd

    frame = pd.read_csv(path)
    if "epoch" not in frame:
        return []
    frame = frame.groupby("epoch").first().reset_index()
    frame = frame.rename(columns=lambda c: c.removesuffix("_epoch"))
    cols = [c for c in frame.columns if c.startswith(("train_", "valid_"))]
    frame = frame.dropna(how="all", subset=cols)  # the row trainer.test() adds after the last epoch
    return frame[["epoch", *cols]].to_dict(orient="records")


class _quiet:
    """Silence Lightning's chatter about workers, logging intervals and sanity checks."""

    def __enter__(self):
        import logging

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        for pattern in (".*does not have many workers.*", ".*number of training batches.*",
                        ".*LeafSpec.*", ".*isinstance.*treespec.*", ".*sync_dist.*",
                        ".*_pytree.*", ".*GPU available but not used.*", ".*deterministic.*",
                        ".*across ranks is zero.*", ".*log_every_n_steps.*"):
            warnings.filterwarnings("ignore", message=pattern)
        self._loggers = [logging.getLogger(n) for n in ("pytorch_lightning", "lightning.pytorch",
                                                         "lightning_fabric", "lightning")]
        self._levels = [lg.level for lg in self._loggers]
        for lg in self._loggers:
            lg.setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc):
        for lg, level in zip(self._loggers, self._levels):
            lg.setLevel(level)
        return self._cm.__exit__(*exc)


# ----------------------------------------------------------------------------- entry point
def fit(model: nn.Module | Callable[[], nn.Module], train: tuple, test: tuple, config: TrainConfig,
        path: str = "fast", callbacks: Sequence = ()) -> FitResult:
    """Fit a model on ``train = (x, y)`` and measure it on ``test = (x, y)``.

    ``model`` is best given as a factory (a model class or a function): it is then built after the
    global RNG is seeded with ``config.seed``, so its initial weights are part of the seeded run
    and two calls with the same seed give bit-identical results on the CPU.  ``path`` is
    ``"fast"`` (in-memory batches, :func:`make_module`) or ``"islp"`` (the book's ``ISLP.torch``
    objects).
    """
    if path not in ("fast", "islp"):
        raise ValueError(f"path must be 'fast' or 'islp', got {path!r}")
    x_train, y_train = train
    x_test, y_test = test
    if x_train.shape[0] != len(y_train) or x_test.shape[0] != len(y_test):
        raise ValueError(f"x and y disagree in length: train {x_train.shape[0]} vs {len(y_train)}, "
                         f"test {x_test.shape[0]} vs {len(y_test)}")
    log_dir = config.log_dir or tempfile.mkdtemp(prefix="islp-ch10-logs-")
    seed_everything(config.seed)
    if not isinstance(model, nn.Module):
        model = model()
    start = time.perf_counter()
    with _quiet():
        if path == "fast":
            module, dm = _fast_objects(model, config, x_train, y_train, x_test, y_test)
        else:
            module, dm = _islp_objects(model, config, x_train, y_train, x_test, y_test)
            callbacks = [*callbacks, _error_tracker()]
        trainer = make_trainer(config, callbacks, log_dir)
        trainer.fit(module, datamodule=dm)
        wall = time.perf_counter() - start
        extra = {}
        if path == "islp":  # the book reads its test figures from trainer.test + ErrorTracker
            extra["islp_test"] = {k: float(v) for k, v in trainer.test(module, datamodule=dm, verbose=False)[0].items()}
    model = module.model.cpu()
    test_metrics = evaluate(model, x_test, y_test, config.task, config.num_classes, device=_eval_device(config))
    run_dir = trainer.logger.log_dir if trainer.logger else None
    return FitResult(model=model, history=_history(run_dir), test=test_metrics, wall_time=wall,
                     path=path, config=config, log_dir=run_dir, extra=extra)


class InMemoryDataModule(pl.LightningDataModule):
    """Train / validation / test :class:`InMemoryBatches` behind Lightning's DataModule interface."""

    def __init__(self, train: InMemoryBatches, valid: InMemoryBatches | None, test: InMemoryBatches,
                 batch_size: int):
        super().__init__()
        self.train_ds, self.valid_ds, self.test_ds, self.batch_size = train, valid, test, batch_size

    def train_dataloader(self):
        return batch_loader(self.train_ds, self.batch_size, shuffle=True)

    def val_dataloader(self):
        return batch_loader(self.valid_ds, self.batch_size, shuffle=False) if self.valid_ds is not None else []

    def test_dataloader(self):
        return batch_loader(self.test_ds, self.batch_size, shuffle=False)


def _fast_objects(model, config, x_train, y_train, x_test, y_test):
    if config.validation == "test":
        train_ds, val = InMemoryBatches(x_train, y_train), InMemoryBatches(x_test, y_test)
    else:
        tr_idx, va_idx = _split_indices(len(y_train), config.validation, config.seed)
        train_ds = InMemoryBatches(_take(x_train, tr_idx), y_train[tr_idx])
        val = InMemoryBatches(_take(x_train, va_idx), y_train[va_idx]) if va_idx else None
    dm = InMemoryDataModule(train_ds, val, InMemoryBatches(x_test, y_test), config.batch_size)
    return make_module(model, config), dm


def _take(x, idx):
    return x[torch.as_tensor(idx)] if isinstance(x, torch.Tensor) else x[np.asarray(idx)]


def _islp_objects(model, config, x_train, y_train, x_test, y_test):
    """The lab's objects: TensorDatasets, SimpleDataModule, SimpleModule.<task>."""
    from ISLP.torch import SimpleDataModule, SimpleModule

    train_ds = TensorDataset(_as_tensor(x_train), y_train)
    test_ds = TensorDataset(_as_tensor(x_test), y_test)
    validation = test_ds if config.validation == "test" else config.validation
    dm = SimpleDataModule(train_ds, test_ds, batch_size=config.batch_size, num_workers=0,
                          validation=validation, seed=config.seed)
    optimizer = config.make_optimizer(model.parameters())
    if config.task == "regression":
        module = SimpleModule.regression(model, optimizer=optimizer, metrics=make_metrics("regression"))
    elif config.task == "binary":
        module = SimpleModule.binary_classification(model, optimizer=optimizer)
    else:
        module = SimpleModule.classification(model, num_classes=config.num_classes, optimizer=optimizer)
    return module, dm


def _error_tracker():
    from ISLP.torch import ErrorTracker

    return ErrorTracker()

