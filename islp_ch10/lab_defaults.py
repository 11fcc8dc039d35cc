"""The lab's training configuration per model, and the defaults it takes implicitly.

:class:`LabConfig` holds what one lab cell sets for a fit (task, loss, optimiser, batch size,
epochs, validation, the metric it reads) and the notes lines it comes from (``source``).  What
the lab leaves to library defaults is not typed here: where the notes build
``SimpleModule.<task>(model)`` with no optimiser (e.g. the IMDB LSTM, notes line 1591),
``optimizer`` and ``lr`` stay ``None`` and :func:`simple_module_optimizer` reads, at run time,
what the installed ISLP builds.

Every lab cell's LabConfig is a constant below (:data:`LAB_CONFIGS` lists them by name); each
experiment of :mod:`islp_ch10.experiments` names the ones it trains.  :class:`RunSettings`
(defined in :mod:`islp_ch10.training`, re-exported here) is the other half of a run, everything
the lab does not fix (seed, device, training path); ``training.fit`` takes both as they are,
never merged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from types import MappingProxyType

from islp_ch10.training import TASK_LOSS, RunSettings, check_recipe, make_optimizer

__all__ = ["LAB_CONFIGS", "TASK_LOSS", "LabConfig", "RunSettings", "simple_module_optimizer"]


@cache
def simple_module_optimizer() -> dict:
    """The optimiser ``SimpleModule`` builds when the lab passes none: class name and defaults.

    Returns ``{"optimizer": "rmsprop", "lr": 0.01, "weight_decay": 0, ...}`` as ISLP and torch
    define it in the installed versions.
    """
    import torch
    from ISLP.torch import SimpleModule

    # The probe layer's initialisation draws from the global RNG; fork it so that reading the
    # default never moves a seeded run's random stream (the first read may happen mid-fit, in
    # configure_optimizers, after the model was seeded and built).
    with torch.random.fork_rng(devices=[]):
        probe = SimpleModule.binary_classification(torch.nn.Linear(1, 1))
    opt = probe.configure_optimizers()
    if isinstance(opt, (list, tuple)):
        opt = opt[0]
    out = {"optimizer": type(opt).__name__.lower()}
    out.update({k: v for k, v in opt.defaults.items() if isinstance(v, (int, float, bool))})
    return out


@dataclass(frozen=True)
class LabConfig:
    """One lab fit's configuration, as the notes' code sets it (``source``: its line numbers).

    ``optimizer``/``lr`` ``None``: the lab passes no optimiser, so ``SimpleModule``'s default
    applies (read by :func:`simple_module_optimizer`).  ``validation`` is a fraction or count of
    the training set, or ``"test"`` where the lab validates on the test set.
    """

    task: str
    epochs: int
    batch_size: int
    validation: float | int | str | None
    metric: str
    source: str
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float = 0.0
    num_classes: int | None = None

    def __post_init__(self):
        check_recipe(self.task, self.epochs, self.batch_size, self.validation, self.num_classes, self.optimizer)
        if (self.optimizer is None) != (self.lr is None):
            raise ValueError("give optimizer and lr together, or neither (SimpleModule's default)")
        if not self.source.startswith("notes "):
            raise ValueError(f"source must cite the notes' lines ('notes 721-753 ...'), got {self.source!r}")

    @property
    def loss(self) -> str:
        """The loss class the lab's ``SimpleModule.<task>`` trains with."""
        return TASK_LOSS[self.task]

    def resolved_optimizer(self) -> tuple[str, float]:
        """``(optimizer, lr)``, with SimpleModule's default read from ISLP where the lab gives none."""
        if self.optimizer is not None and self.lr is not None:  # __post_init__: both or neither
            return self.optimizer, float(self.lr)
        default = simple_module_optimizer()
        return default["optimizer"], float(default["lr"])

    def make_optimizer(self, params):
        """The lab's torch optimiser over ``params`` (SimpleModule's default where the lab gives none)."""
        optimizer, lr = self.resolved_optimizer()
        return make_optimizer(optimizer, params, lr, self.weight_decay)


# ----------------------------------------------------------------------------- the lab's cells
# Hitters (10.9.1)
HITTERS_NET = LabConfig(
    task="regression",
    epochs=50,
    batch_size=32,
    validation="test",
    metric="mae",
    source="notes 721-727 (batch 32, validation=hit_test), 735-736 (SimpleModule.regression, "
    "no optimiser, MAE), 752-753 (max_epochs=50)",
)

# MNIST (10.9.2)
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
REGULARISE: Mapping[str, LabConfig] = MappingProxyType(
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

# IMDB (10.9.5-6)
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

# NYSE (10.9.6)
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

# CIFAR-100 (10.9.3)
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

# Every lab cell's configuration by name (the ridge arm of 10.2/regularise is the MLP's with weight decay).
LAB_CONFIGS: Mapping[str, LabConfig] = MappingProxyType(
    {
        "hitters-net": HITTERS_NET,
        "mnist-mlp": MNIST_MLP,
        "mnist-mlr": MNIST_MLR,
        "mnist-regularise-ridge": REGULARISE["ridge"],
        "imdb-dense": IMDB_DENSE,
        "imdb-lstm": IMDB_LSTM,
        "imdb-rnn": IMDB_RNN,
        "nyse-rnn": NYSE_RNN,
        "nyse-nlar": NYSE_NLAR,
        "cifar-cnn": CIFAR_CNN,
    }
)
