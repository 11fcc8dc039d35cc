"""Training the chapter's networks with Lightning: the book's path and a fast path.

Two ways to fit the same model with the same configuration, both on a Lightning ``Trainer``:

``path="islp"``  the lab's own workflow, through ``ISLP.torch``: ``SimpleDataModule`` over a
                 ``TensorDataset``, ``SimpleModule.regression/binary_classification/classification``,
                 ``ErrorTracker`` and ``Trainer.test``.  It proves the book's code runs on today's
                 torch/Lightning.  Lightning drives every minibatch (hooks, per-step logging of
                 metric objects, collation of single samples), which at the lab's sizes costs
                 more than the arithmetic.
``path="fast"``  :class:`FastModule`: Lightning drives whole *epochs*.  Its loaders
                 (:class:`EpochLoader`) hand the Trainer one item per epoch, the iterator over that
                 epoch's minibatches, and the module's ``training_step`` runs the minibatches with
                 manual optimisation (plain torch calls on one device, ``manual_backward`` under
                 DDP so that gradients are all-reduced).  Predictions are kept and scored once
                 per epoch over the whole set.  Callbacks get the epoch-level hooks (not the
                 per-batch ones) and the Trainer's ``optimizers``, ``train_dataloader``,
                 ``max_epochs``, ``callback_metrics`` as on the book's path.  The loaders
                 are ordinary ``DataLoader`` s with ``shuffle=True`` and ``batch_size`` as the
                 lab's, so their ``RandomSampler`` draws from the global RNG exactly as the book's
                 path does: with the same seed both paths see the same minibatches in the same
                 order and end with the same weights (``tests/test_10_9_lab.py``).  Its cost per
                 step is close to a hand-written torch loop (benchmark ``train-epoch-paths``).

Both return a :class:`FitResult` with the per-epoch history (kept in memory by
:class:`HistoryRecorder`), test metrics computed over the whole test set, and the wall time.
``accelerator``, ``devices`` and ``strategy`` go to Lightning unchanged, so the same entry points
run DDP.  A fit writes files only when ``TrainConfig.log_dir`` names a folder (Lightning's CSV
logs); otherwise whatever Lightning needs on disk lives in a temporary folder removed on exit.

What a fit reads comes in two halves, never merged: *what to train* (task, epochs, batch size,
optimiser, validation: a lab cell's :class:`~islp_ch10.lab_defaults.LabConfig`, or a free-form
:class:`TrainConfig`) and *how to run it here* (:class:`RunSettings`: seed, path, device).  An
experiment hands ``fit`` its LabConfig and the run's RunSettings as they are; a
:class:`TrainConfig` carries both halves for a free-form fit.  Both halves are checked when they
are built, and the data against them before any training (:func:`check_data`).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import math
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset, random_split

from islp_ch10.errors import Terminated
from islp_ch10.machine import ACCELERATORS
from islp_ch10.models import TASKS

# the loss each ISLP.torch SimpleModule constructor uses (notes lines 735, 931, 1396, 1765)
TASK_LOSS = {"regression": "MSELoss", "binary": "BCEWithLogitsLoss", "multiclass": "CrossEntropyLoss"}


# ----------------------------------------------------------------------------- seeding
def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch (Lightning's helper) and ask torch for deterministic kernels."""
    try:
        pl.seed_everything(seed, workers=True, verbose=False)
    except TypeError:  # Lightning < 2.3 has no `verbose`
        pl.seed_everything(seed, workers=True)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


# ----------------------------------------------------------------------------- configuration
OPTIMIZERS = ("rmsprop", "sgd", "adam")
PATHS = ("fast", "islp")


@dataclass(frozen=True)
class RunSettings:
    """How to run a fit on this machine: nothing here changes what the lab trains.

    ``seed`` seeds the global RNGs before the model is built (initial weights, minibatch order,
    dropout masks) and ISLP's validation split; what it means for each experiment is declared
    with the experiment (:func:`islp_ch10.experiments.experiment`).
    """

    seed: int = 0
    path: str = "fast"  # training path: "fast" or "islp"
    accelerator: str = "cpu"
    devices: int | str = 1
    strategy: str = "auto"
    progress: bool = False

    def __post_init__(self):
        if self.path not in PATHS:
            raise ValueError(f"path must be 'fast' or 'islp', got {self.path!r}")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_recipe(
    task: str, epochs, batch_size, validation, num_classes, optimizer: str | None = None, max_steps: int = -1
) -> None:
    """Refuse a training configuration that cannot train, naming the argument (``ValueError``):
    the task, ``epochs >= 1``, ``batch_size >= 1``, ``validation`` (``None``, ``"test"``, a
    fraction ``0 < v < 1`` or a count ``>= 1``; :func:`check_data` checks the count against the
    training set), ``num_classes >= 2`` for a multiclass task, the optimiser's name."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if not _is_int(epochs) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not _is_int(max_steps) or max_steps < -1 or max_steps == 0:
        raise ValueError(f"max_steps must be -1 (no limit) or an integer >= 1, got {max_steps!r}")
    if validation is None or validation == "test":
        pass
    elif isinstance(validation, (float, np.floating)):
        if not 0 < validation < 1:
            raise ValueError(f"validation as a fraction must lie strictly between 0 and 1, got {validation!r}")
    elif _is_int(validation):
        if validation < 1:
            raise ValueError(f"validation as a count must be >= 1 (None for no validation set), got {validation!r}")
    else:
        raise ValueError(f"validation must be None, 'test', a fraction in (0, 1) or a count, got {validation!r}")
    if task == "multiclass":
        if num_classes is None:
            raise ValueError("task 'multiclass' needs num_classes")
        if not _is_int(num_classes) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if optimizer is not None and optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be 'rmsprop', 'sgd' or 'adam', got {optimizer!r}")


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """The torch optimiser ``name`` (``rmsprop``, ``sgd``, ``adam``) over ``params``."""
    cls = {"rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD, "adam": torch.optim.Adam}[name]
    return cls(params, lr=lr, weight_decay=weight_decay)


@dataclass
class TrainConfig:
    """A free-form fit's knobs, both halves in one object (defaults are ``ISLP.torch.SimpleModule``'s:
    RMSprop, lr 0.01).  The lab's experiments do not build one: they hand ``fit`` their
    :class:`~islp_ch10.lab_defaults.LabConfig` and :class:`RunSettings` directly.

    ``validation`` is a fraction or a count of the training set held out with ISLP's seeded
    ``random_split``, ``"test"`` to validate on the test set (the lab does this for Hitters and
    NYSE), or ``None``.  ``log_dir`` asks for Lightning's CSV logs there (nothing is written
    otherwise).
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
        check_recipe(
            self.task, self.epochs, self.batch_size, self.validation, self.num_classes, self.optimizer, self.max_steps
        )

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        """The configured torch optimiser over ``params``."""
        return make_optimizer(self.optimizer, params, self.lr, self.weight_decay)

    def settings(self, path: str = "fast") -> RunSettings:
        """The run half of this configuration, on training path ``path``."""
        return RunSettings(
            seed=self.seed,
            path=path,
            accelerator=self.accelerator,
            devices=self.devices,
            strategy=self.strategy,
            progress=self.progress,
        )


@dataclass
class FitResult:
    """What a fit leaves: the trained model, per-epoch history, whole-test-set metrics, timings.

    ``history`` has one dict per epoch with ``epoch`` (from 0) and the ``train_*`` / ``valid_*``
    figures of that epoch; ``config`` what was trained (the LabConfig or TrainConfig given) and
    ``run`` how; ``log_dir`` is the CSV log folder, or ``None`` when none was asked for.
    """

    model: nn.Module
    history: list[dict[str, float]]
    test: dict[str, float]
    wall_time: float
    path: str
    config: Any
    run: RunSettings
    log_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- losses & metrics
def make_loss(task: str) -> nn.Module:
    """The lab's loss per task: MSE, binary cross-entropy on logits, cross-entropy."""
    return getattr(nn, TASK_LOSS[task])()


def make_metrics(task: str, num_classes: int | None = None) -> dict[str, Any]:
    """The lab's metric objects per task (for ``SimpleModule``): MAE and R^2, or accuracy."""
    import torchmetrics as tm

    if task == "regression":
        return {"mae": tm.MeanAbsoluteError(), "r2": tm.R2Score()}
    if task == "binary":
        return {"accuracy": tm.Accuracy(task="binary")}
    return {"accuracy": tm.Accuracy(task="multiclass", num_classes=num_classes)}


def scores(task: str, pred: torch.Tensor, target: torch.Tensor, num_classes: int | None = None) -> dict[str, float]:
    """Loss and the lab's metrics (those of :func:`make_metrics`) of ``pred`` against ``target``.

    Computed once over the whole set given, never as an average of batch figures.
    """
    from torchmetrics import functional as tmf

    out = {"loss": float(make_loss(task)(pred, target))}
    if task == "regression":
        out["mae"] = float(tmf.mean_absolute_error(pred, target))
        out["r2"] = float(tmf.r2_score(pred, target))
    elif task == "binary":
        out["accuracy"] = float(tmf.accuracy(pred, target.int(), task="binary"))
    else:
        out["accuracy"] = float(tmf.accuracy(pred, target, task="multiclass", num_classes=num_classes))
    return out


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x,
    y: torch.Tensor,
    task: str,
    num_classes: int | None = None,
    batch_size: int = 4096,
    device: torch.device | str | None = None,
) -> dict[str, float]:
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
        preds.append(model(_as_tensor(x[i : i + batch_size]).to(device)).cpu())
        targets.append(y[i : i + batch_size])
    model.train(was_training)
    model.to(home)
    return scores(task, torch.cat(preds), torch.cat(targets), num_classes)


def _as_tensor(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if hasattr(x, "toarray"):  # scipy sparse rows
        return torch.from_numpy(np.asarray(x.toarray(), dtype=np.float32))
    return torch.as_tensor(x)


# ----------------------------------------------------------------------------- input checks
def _first_non_finite(a) -> tuple[int, int, tuple[int, ...], float, int] | None:
    """``(row, column, position in the row, value, count)`` of the first non-finite entry, or None.

    Rows are the first axis; the column counts through the rest of a row in C order (for a
    ``(1, 28, 28)`` image, ``position`` gives the index in each axis).
    """
    if hasattr(a, "tocoo"):  # scipy sparse: only stored entries can be non-finite
        if np.isfinite(a.data).all():
            return None
        coo = a.tocoo()
        bad = ~np.isfinite(coo.data)
        rows, cols, vals = coo.row[bad], coo.col[bad], coo.data[bad]
        first = np.lexsort((cols, rows))[0]
        return int(rows[first]), int(cols[first]), (int(cols[first]),), float(vals[first]), int(bad.sum())
    t = _as_tensor(a)
    if not (t.is_floating_point() or t.is_complex()) or t.numel() == 0:
        return None
    bad = ~torch.isfinite(t)
    if not bool(bad.any()):
        return None
    flat = bad.reshape(t.shape[0], -1)
    row, col = (int(i) for i in flat.nonzero()[0])
    position = tuple(int(i) for i in np.unravel_index(col, t.shape[1:])) if t.ndim > 1 else (0,)
    return row, col, position, float(t.reshape(t.shape[0], -1)[row, col]), int(bad.sum())


def check_finite(x, y, what: str = "training") -> None:
    """Raise ``ValueError`` naming the first row and column of ``x`` or ``y`` that is NaN or infinite."""
    for name, array in (("inputs", x), ("targets", y)):
        found = _first_non_finite(array)
        if found is None:
            continue
        row, col, position, value, count = found
        shape = tuple(array.shape[1:])
        where = f"row {row}, column {col}" + (f" (index {position} of each {shape} row)" if len(shape) > 1 else "")
        raise ValueError(
            f"{what} {name} hold {count} non-finite value(s), the first ({value}) at {where}; "
            "remove or impute them before fitting"
        )


def _first(mask: torch.Tensor) -> int:
    return int(mask.nonzero()[0][0])


def check_targets(y, config, what: str = "train") -> None:
    """Refuse targets the task cannot train on (``ValueError`` naming ``what`` and the first bad row).

    Every task: one value per row, shape ``(n,)`` (a regression target of shape ``(n, 1)`` would
    meet the model's ``(n,)`` output in a broadcast n-by-n loss).  Regression and binary targets
    are floating point (the losses are MSE and BCE on logits), binary ones 0 or 1; multiclass
    labels are integers in ``0..num_classes-1``.
    """
    t = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    n = t.shape[0] if t.ndim else 0
    if t.ndim != 1:
        raise ValueError(
            f"{what} targets must hold one value per row, shape ({n},), got shape {tuple(t.shape)}; pass y.reshape(-1)"
        )
    if config.task == "multiclass":
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            fractional = t != t.round() if t.is_floating_point() else torch.ones_like(t, dtype=torch.bool)
            row = _first(fractional) if bool(fractional.any()) else 0
            raise ValueError(
                f"{what} targets: class labels must be integers (torch.int64), got {t.dtype}; "
                f"row {row} holds {t[row].item()!r}"
            )
        if bool((t < 0).any()):
            row = _first(t < 0)
            raise ValueError(
                f"{what} targets: row {row} holds class label {int(t[row])}; labels lie in "
                f"0..{config.num_classes - 1} (num_classes={config.num_classes})"
            )
        if bool((t >= config.num_classes).any()):
            row = _first(t >= config.num_classes)
            raise ValueError(
                f"num_classes={config.num_classes} is smaller than the {what} labels need: row {row} holds "
                f"label {int(t[row])}, outside 0..{config.num_classes - 1}; num_classes must be at least "
                f"{int(t.max()) + 1}"
            )
        return
    if not t.is_floating_point():
        raise ValueError(
            f"{what} targets of a {config.task} task must be floating point (torch.float32), got {t.dtype}; "
            "pass y.float()"
        )
    if config.task == "binary":
        bad = (t != 0) & (t != 1)
        if bool(bad.any()):
            row = _first(bad)
            raise ValueError(f"{what} targets: binary labels must be 0 or 1, row {row} holds {float(t[row])!r}")


def check_data(train: tuple, test: tuple, config) -> None:
    """Everything about the data that would make a fit fail or mislead, checked before any training.

    ``ValueError`` naming the argument (``train``, ``test``, ``validation``, ``num_classes``) and,
    where there is one, the first bad row: x and y of different lengths, an empty set, rows of
    length zero (a sequence of no tokens), NaN or infinite values, targets the task cannot use
    (:func:`check_targets`), a validation count not smaller than the training set.
    """
    (x_train, y_train), (x_test, y_test) = train, test
    if x_train.shape[0] != len(y_train) or x_test.shape[0] != len(y_test):
        raise ValueError(
            f"x and y disagree in length: train {x_train.shape[0]} vs {len(y_train)}, "
            f"test {x_test.shape[0]} vs {len(y_test)}"
        )
    for what, x in (("train", x_train), ("test", x_test)):
        if x.shape[0] == 0:
            raise ValueError(f"{what} is empty: 0 rows (shape {tuple(x.shape)}); fit needs at least one row")
        if any(d == 0 for d in x.shape[1:]):
            raise ValueError(
                f"{what} inputs have rows of length zero (shape {tuple(x.shape)}), e.g. sequences of no tokens; "
                "every row needs at least one element"
            )
    check_finite(x_train, y_train, "training")
    check_finite(x_test, y_test, "test")
    check_targets(y_train, config, "train")
    check_targets(y_test, config, "test")
    n = x_train.shape[0]
    if _is_int(config.validation) and config.validation >= n:
        raise ValueError(
            f"validation={config.validation} would hold out all {n} training rows; give a count smaller than "
            f"{n} or a fraction"
        )


# ----------------------------------------------------------------------------- data
class InMemoryBatches(Dataset):
    """A data set that slices its stored arrays once per minibatch (``__getitems__``).

    ``x`` may be a tensor or a scipy sparse matrix (rows densified per batch, so the 10,003-column
    IMDB matrix never has to be dense in memory).
    """

    def __init__(self, x, y: torch.Tensor):
        if len(y) != x.shape[0]:
            raise ValueError(f"x has {x.shape[0]} rows but y has {len(y)}")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int):
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]):
        idx = torch.as_tensor(indices)
        if isinstance(self.x, torch.Tensor):
            return self.x[idx], self.y[idx]
        return _as_tensor(self.x[np.asarray(indices)]), self.y[idx]


def _whole_batch(batch):
    """``collate_fn`` for :class:`InMemoryBatches`: the slice is the batch already."""
    return batch


class EpochLoader(DataLoader):
    """A ``DataLoader`` that yields one item per epoch: the iterator over that epoch's minibatches.

    Everything else is ``DataLoader``'s: ``batch_size``, the ``RandomSampler`` that ``shuffle=True``
    builds (and its draw from the global RNG when the epoch starts), and Lightning's swap of the
    sampler for a ``DistributedSampler`` under DDP.  Lightning thus runs its per-batch machinery
    once per epoch, and :class:`FastModule` runs the minibatches.
    """

    def __iter__(self):
        yield super().__iter__()

    def __len__(self) -> int:
        return 1 if super().__len__() > 0 else 0


def _split_indices(n: int, validation, seed: int) -> tuple[list[int], list[int]]:
    """ISLP's split: ``random_split`` with ``Generator().manual_seed(seed)``."""
    if validation is None:
        nval = 0
    elif isinstance(validation, float):
        nval = int(validation * n)
    else:
        nval = int(validation)
    # A range serves as the dataset (random_split only needs len() and indexing); the cast says so
    # to torch's hints, which ask for a Dataset.
    indices = cast("Dataset[int]", range(n))
    train, valid = random_split(indices, [n - nval, nval], generator=torch.Generator().manual_seed(seed))
    return list(train.indices), list(valid.indices)


def _take(x, idx):
    return x[torch.as_tensor(idx)] if isinstance(x, torch.Tensor) else x[np.asarray(idx)]


def _eval_device(run: RunSettings) -> torch.device:
    """Where to evaluate after a fit: the GPU when training asked for one and one is present."""
    if run.accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


# ----------------------------------------------------------------------------- fast path module
class FastModule(pl.LightningModule):
    """The fast path: one Lightning step per epoch, minibatches run by hand, whole-set metrics.

    ``training_step`` receives the epoch's minibatch iterator (from :class:`EpochLoader`) and,
    per minibatch, does what ``SimpleModule`` under Lightning's automatic optimisation does:
    forward, loss, ``zero_grad``, backward, ``step``.  On one device these are the plain torch
    calls (Lightning's per-step hooks cost more than the lab's small networks compute); with
    several processes backward goes through ``manual_backward`` so that DDP all-reduces the
    gradients.  ``validation_step`` scores the whole validation set.

    The figures (``train_*`` / ``valid_*``: loss and the lab's metrics, see :func:`scores`) are
    computed once per epoch over the whole set and put in ``trainer.callback_metrics``, where
    callbacks read them, and sent to the Trainer's loggers at the end of the epoch; the module
    does not use ``self.log``, whose bookkeeping costs milliseconds per call.
    """

    def __init__(self, model: nn.Module, config, train: InMemoryBatches, valid: InMemoryBatches | None):
        super().__init__()
        self.automatic_optimization = False
        self.model, self.config = model, config
        self.loss = make_loss(config.task)
        self.train_set, self.valid_set = train, valid
        self.steps_done = 0
        self._figures: dict[str, float] = {}

    def forward(self, x):
        return self.model(x)

    def train_dataloader(self):
        return EpochLoader(self.train_set, batch_size=self.config.batch_size, shuffle=True, collate_fn=_whole_batch)

    def val_dataloader(self):
        if self.valid_set is None:
            return []
        return EpochLoader(self.valid_set, batch_size=self.config.batch_size, shuffle=False, collate_fn=_whole_batch)

    def configure_optimizers(self):
        return self.config.make_optimizer(self.model.parameters())

    def training_step(self, batches, batch_idx):
        distributed = self.trainer.world_size > 1
        optimizer = self.optimizers() if distributed else self.trainer.optimizers[0]
        backward = self.manual_backward if distributed else torch.Tensor.backward
        max_steps = self.trainer.max_steps
        preds, targets = [], []
        for x, y in batches:
            x, y = x.to(self.device), y.to(self.device)
            pred = self.model(x)
            loss = self.loss(pred, y)
            optimizer.zero_grad()
            backward(loss)
            optimizer.step()
            preds.append(pred.detach())
            targets.append(y)
            self.steps_done += 1
            if 0 <= max_steps <= self.steps_done:
                self.trainer.should_stop = True
                break
        self._record("train_", preds, targets)

    def validation_step(self, batches, batch_idx):
        preds, targets = [], []
        for x, y in batches:
            x, y = x.to(self.device), y.to(self.device)
            preds.append(self.model(x))
            targets.append(y)
        self._record("valid_", preds, targets)

    def on_train_epoch_end(self):
        if self.loggers and self._figures:
            for logger in self.loggers:
                logger.log_metrics({"epoch": self.current_epoch, **self._figures}, step=self.current_epoch)
        self._figures = {}

    def _record(self, prefix: str, preds: list, targets: list) -> None:
        if not preds:
            return
        pred, target = torch.cat(preds), torch.cat(targets)
        if self.trainer.world_size > 1:  # every rank scores the union of the ranks' samples
            # all_gather of a tensor is a tensor (its hints also cover dicts and lists of tensors)
            pred = cast(torch.Tensor, self.all_gather(pred)).flatten(0, 1)
            target = cast(torch.Tensor, self.all_gather(target)).flatten(0, 1)
        figures = {prefix + k: v for k, v in scores(self.config.task, pred, target, self.config.num_classes).items()}
        self._figures.update(figures)
        self.trainer.callback_metrics.update({k: torch.tensor(v) for k, v in figures.items()})


class EndProcessGroupAtExit(pl.Callback):
    """Each rank of a distributed fit destroys its process group when its process exits.

    Lightning does this for NCCL only.  A gloo rank that exits with its group alive can abort while
    the interpreter shuts down: gloo's threads still hold work that reaches into Python (SIGABRT,
    "terminate called without an active exception"; pytorch/pytorch#190489).  Seen here once in
    ten runs of ``tests/test_distributed.py`` on a loaded 2-core machine, in rank 1 of a
    ``ddp_spawn`` fit that had finished."""

    def setup(self, trainer, pl_module, stage: str) -> None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            _destroy_process_group_at_exit()


@functools.cache
def _destroy_process_group_at_exit() -> None:
    """Register, once per process, the exit handler that destroys the default process group."""
    atexit.register(_destroy_process_group)


def _destroy_process_group() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


# ----------------------------------------------------------------------------- history
class HistoryRecorder(pl.Callback):
    """Keeps the per-epoch history in memory: ``epoch`` and each ``train_*`` / ``valid_*`` figure.

    It reads ``trainer.callback_metrics`` at the end of every training epoch (after that epoch's
    validation), which holds what either path logged with ``on_epoch=True``.  Under a spawning
    strategy (``ddp_spawn``) the epochs run in worker processes; their rows come back to the
    main process as one tensor per column in ``callback_metrics`` (``history/<column>``), which
    Lightning's launcher returns; :meth:`history` reads them there.
    """

    PREFIX = "history/"

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        row: dict[str, float] = {"epoch": trainer.current_epoch}
        for key, value in trainer.callback_metrics.items():
            if key.endswith("_step") or not key.startswith(("train_", "valid_")):
                continue
            row[key.removesuffix("_epoch")] = float(value)
        self.rows.append(row)

    def on_train_end(self, trainer, pl_module):
        columns = dict.fromkeys(k for row in self.rows for k in row)
        for col in columns:
            values = [row.get(col, math.nan) for row in self.rows]
            trainer.callback_metrics[self.PREFIX + col] = torch.tensor(values, dtype=torch.float64)

    def history(self, trainer) -> list[dict[str, float]]:
        """The rows recorded here, or those a worker process sent back through ``trainer``."""
        if self.rows:
            return self.rows
        sent = {
            k[len(self.PREFIX) :]: v.tolist() for k, v in trainer.callback_metrics.items() if k.startswith(self.PREFIX)
        }
        if "epoch" not in sent:
            return []
        rows: list[dict[str, float]] = []
        for i, epoch in enumerate(sent["epoch"]):
            row: dict[str, float] = {"epoch": int(epoch)}
            row.update({k: v[i] for k, v in sent.items() if k != "epoch" and not math.isnan(v[i])})
            rows.append(row)
        return rows


# ----------------------------------------------------------------------------- trainer
def make_trainer(
    epochs: int,
    run: RunSettings,
    callbacks: Sequence = (),
    root_dir: str | None = None,
    sanity_check: bool = True,
    max_steps: int = -1,
    log_dir: str | None = None,
    name: str = "run",
):
    """A ``Trainer`` configured as the lab's (deterministic), with ``run``'s device passthrough.

    No logger, so Lightning writes no log folder, unless ``log_dir`` asks for CSV logs (under
    ``log_dir/name``).  ``root_dir`` is where Lightning may put files of its own (``ddp_spawn``
    passes the weights back through one).  ``sanity_check=False`` skips Lightning's validation
    dry run (it runs under ``isolate_rng``, so it changes no result).
    """
    from pytorch_lightning.loggers import CSVLogger

    logger = CSVLogger(log_dir, name=name) if log_dir else False
    return pl.Trainer(
        # bit-identical on the CPU; CUDA has ops without deterministic kernels, so there only warn
        deterministic=True if run.accelerator == "cpu" else "warn",
        max_epochs=epochs,
        max_steps=max_steps,
        accelerator=run.accelerator,
        devices=run.devices,
        strategy=run.strategy,
        logger=logger,
        callbacks=[*callbacks, EndProcessGroupAtExit()],
        default_root_dir=root_dir or log_dir,
        enable_checkpointing=False,
        enable_progress_bar=run.progress,
        enable_model_summary=False,
        num_sanity_val_steps=2 if sanity_check else 0,
    )


def check_devices(accelerator: str, devices: str, strategy: str) -> int | str | list[int]:
    """``--accelerator/--devices/--strategy`` as text, checked against this machine and by Lightning
    itself (nothing is trained); returns the ``devices`` that :func:`make_trainer` passes on.

    Raises ``ValueError`` with one line naming the option at fault."""
    acc = accelerator.strip().lower()
    _check_accelerator(acc, accelerator)
    parsed = _parse_devices(acc, devices)
    from pytorch_lightning.strategies import StrategyRegistry

    if strategy not in ["auto", "dp", *StrategyRegistry.available_strategies()]:
        raise ValueError(
            f"--strategy {strategy!r} is not a Lightning strategy; use auto, ddp, ddp_spawn, "
            "fsdp or another name in pytorch_lightning's StrategyRegistry"
        )
    import logging

    quiet = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:  # Lightning's own checks of the combination, without training anything
        pl.Trainer(
            accelerator=acc,
            devices=parsed,
            strategy=strategy,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
    except Exception as exc:  # noqa: BLE001 - Lightning raises several types for a bad combination
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ValueError(
            f"Lightning refuses --accelerator {accelerator} --devices {devices} --strategy {strategy}: {first}"
        ) from None
    finally:
        quiet.setLevel(level)
    return parsed


def _check_accelerator(acc: str, given: str) -> None:
    if acc not in ACCELERATORS:
        raise ValueError(f"--accelerator {given!r} is not one of {', '.join(ACCELERATORS)}")
    if acc in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"--accelerator {given}: this machine has no usable CUDA GPU "
            "(torch.cuda.is_available() is False); use --accelerator cpu or auto"
        )
    if acc == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--accelerator mps: Apple's MPS backend is not available here; use --accelerator cpu")


def _parse_devices(acc: str, devices: str) -> int | str | list[int]:
    text = devices.strip()
    hint = "give a positive count, GPU indices such as 0,1, -1 (all) or auto"
    if text == "auto":
        return "auto"
    if "," in text:
        try:
            indices = [int(d) for d in text.split(",") if d.strip()]
        except ValueError:
            raise ValueError(f"--devices {devices!r}: {hint}") from None
        if acc not in ("gpu", "cuda") or not indices or min(indices) < 0:
            raise ValueError(f"--devices {devices!r}: a list of indices needs --accelerator gpu; {hint}")
        if max(indices) >= torch.cuda.device_count():
            raise ValueError(f"--devices {devices}: this machine has {torch.cuda.device_count()} GPU(s)")
        return indices
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"--devices {devices!r}: {hint}") from None
    if count == 0 or count < -1:
        raise ValueError(f"--devices {devices}: {hint}")
    if acc in ("gpu", "cuda") and count > torch.cuda.device_count():
        raise ValueError(f"--devices {count}: this machine has {torch.cuda.device_count()} GPU(s)")
    return count


class _quiet:
    """Silence Lightning's chatter about workers, logging intervals and sanity checks."""

    def __enter__(self):
        import logging

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        for pattern in (
            ".*does not have many workers.*",
            ".*number of training batches.*",
            ".*LeafSpec.*",
            ".*isinstance.*treespec.*",
            ".*sync_dist.*",
            ".*_pytree.*",
            ".*GPU available but not used.*",
            ".*deterministic.*",
            ".*across ranks is zero.*",
            ".*log_every_n_steps.*",
        ):
            warnings.filterwarnings("ignore", message=pattern)
        self._loggers = [
            logging.getLogger(n) for n in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning")
        ]
        self._levels = [lg.level for lg in self._loggers]
        for lg in self._loggers:
            lg.setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc):
        for lg, level in zip(self._loggers, self._levels):
            lg.setLevel(level)
        return self._cm.__exit__(*exc)


@contextlib.contextmanager
def _workers_tempdir(folder: str):
    """Point spawned workers' temporary files into ``folder`` (they read ``TMPDIR`` at start).

    Lightning's spawn launcher hands the weights back through ``mkdtemp()/.temp.ckpt`` and removes
    only the file; inside the fit's own temporary folder the empty folder goes too.
    """
    import os

    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = folder
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved


# ----------------------------------------------------------------------------- entry point
def _run_settings(config, run: RunSettings | None, path: str | None) -> RunSettings:
    """The run half of a fit: ``run`` as given, a TrainConfig's own, or the defaults on ``path``."""
    if run is not None:
        if path is not None and path != run.path:
            raise ValueError(f"path={path!r} contradicts run.path={run.path!r}; give one of them")
        return run
    if path is not None and path not in PATHS:
        raise ValueError(f"path must be 'fast' or 'islp', got {path!r}")
    if isinstance(config, TrainConfig):
        return config.settings(path or "fast")
    return RunSettings(path=path or "fast")


def fit(
    model: nn.Module | Callable[[], nn.Module],
    train: tuple,
    test: tuple,
    config,
    path: str | None = None,
    callbacks: Sequence = (),
    *,
    run: RunSettings | None = None,
    max_steps: int | None = None,
) -> FitResult:
    """Fit a model on ``train = (x, y)`` and measure it on ``test = (x, y)``.

    ``config`` says what to train: a lab cell's :class:`~islp_ch10.lab_defaults.LabConfig` or a
    :class:`TrainConfig`; ``run`` (:class:`RunSettings`) how to run it here (seed, path, device).
    A TrainConfig carries its own run settings, used when ``run`` is not given; ``path``
    (``"fast"``: :class:`FastModule`, ``"islp"``: the book's ``ISLP.torch`` objects) picks the
    training path where ``run`` does not.  ``max_steps`` stops the fit early (a TrainConfig's own
    ``max_steps`` otherwise).

    ``model`` is best given as a factory (a model class or a function): it is then built after the
    global RNG is seeded with ``run.seed``, so its initial weights are part of the seeded run and
    two calls with the same seed give bit-identical results on the CPU.  ``callbacks`` are
    Lightning callbacks for the ``Trainer``.  Before any training the data is checked against the
    configuration (:func:`check_data`): a ``ValueError`` names the argument and the first bad row.
    """
    run = _run_settings(config, run, path)
    if max_steps is None:
        max_steps = getattr(config, "max_steps", -1)
    elif not isinstance(max_steps, int) or max_steps < -1 or max_steps == 0:
        raise ValueError(f"max_steps must be -1 (no limit) or an integer >= 1, got {max_steps!r}")
    check_data(train, test, config)
    x_train, y_train = train
    x_test, y_test = test
    seed_everything(run.seed)
    if not isinstance(model, nn.Module):
        model = model()
    recorder = HistoryRecorder()
    log_dir = getattr(config, "log_dir", None)  # a free-form fit may ask for CSV logs; the lab's never do
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="islp-ch10-fit-"))
        root_dir = log_dir or scratch
        stack.enter_context(_quiet())
        if "spawn" in str(run.strategy):
            stack.enter_context(_workers_tempdir(scratch))
        start = time.perf_counter()
        if run.path == "fast":
            module, dm = _fast_module(model, config, run, x_train, y_train, x_test, y_test), None
        else:
            module, dm = _islp_objects(model, config, run, x_train, y_train, x_test, y_test)
            callbacks = [*callbacks, _error_tracker()]
        # The sanity check is the book's habit; on the fast path it would score the whole validation set once more.
        trainer = make_trainer(
            config.epochs,
            run,
            [*callbacks, recorder],
            root_dir,
            sanity_check=run.path == "islp",
            max_steps=max_steps,
            log_dir=log_dir,
            name=getattr(config, "name", "run"),
        )
        trainer.fit(module, datamodule=dm)
        if trainer.received_sigterm:
            # Lightning (2.2 to 2.6) notes a SIGTERM in this flag and raises SIGTERMException after
            # the batch it arrived in; one that arrives once the last epoch is over (its end hooks)
            # leaves fit to return with the flag set: the run was terminated, not finished.
            raise Terminated(f"terminated (SIGTERM) after {trainer.current_epoch} epoch(s)")
        if trainer.interrupted:
            # Lightning < 2.4 catches Ctrl-C inside fit, stops "gracefully" and returns as if the fit had
            # ended: the truncated model would be measured as the lab's.  Re-raise instead.
            raise KeyboardInterrupt(f"training interrupted after {trainer.current_epoch} epoch(s)")
        wall = time.perf_counter() - start
        extra = {}
        if run.path == "islp":  # the book reads its test figures from trainer.test + ErrorTracker
            extra["islp_test"] = {k: float(v) for k, v in trainer.test(module, datamodule=dm, verbose=False)[0].items()}
        history = recorder.history(trainer)
        run_dir = trainer.logger.log_dir if trainer.logger else None
    model = module.model.cpu()
    test_metrics = evaluate(model, x_test, y_test, config.task, config.num_classes, device=_eval_device(run))
    return FitResult(
        model=model,
        history=history,
        test=test_metrics,
        wall_time=wall,
        path=run.path,
        config=config,
        run=run,
        log_dir=run_dir,
        extra=extra,
    )


def _fast_module(model, config, run: RunSettings, x_train, y_train, x_test, y_test) -> FastModule:
    """The fast path's module, its training and validation sets split as ISLP splits them."""
    valid_ds: InMemoryBatches | None
    if config.validation == "test":
        train_ds, valid_ds = InMemoryBatches(x_train, y_train), InMemoryBatches(x_test, y_test)
    else:
        tr_idx, va_idx = _split_indices(len(y_train), config.validation, run.seed)
        train_ds = InMemoryBatches(_take(x_train, tr_idx), y_train[tr_idx])
        valid_ds = InMemoryBatches(_take(x_train, va_idx), y_train[va_idx]) if va_idx else None
    return FastModule(model, config, train_ds, valid_ds)


def _islp_objects(model, config, run: RunSettings, x_train, y_train, x_test, y_test):
    """The lab's objects: TensorDatasets, SimpleDataModule, SimpleModule.<task>."""
    from ISLP.torch import SimpleDataModule, SimpleModule

    train_ds = TensorDataset(_as_tensor(x_train), y_train)
    test_ds = TensorDataset(_as_tensor(x_test), y_test)
    validation = test_ds if config.validation == "test" else config.validation
    dm = SimpleDataModule(
        train_ds, test_ds, batch_size=config.batch_size, num_workers=0, validation=validation, seed=run.seed
    )
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
