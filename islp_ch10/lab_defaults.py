"""The lab's training configuration per model, and the defaults it takes implicitly.

:class:`LabConfig` holds what one lab cell sets for a fit (task, loss, optimiser, batch size,
epochs, validation, the metric it reads) and the notes lines it comes from.  What the lab leaves
to library defaults is not typed here: where the notes build ``SimpleModule.<task>(model)`` with
no optimiser (e.g. the IMDB LSTM, notes line 1591), ``optimizer`` and ``lr`` stay ``None`` and
:func:`simple_module_optimizer` reads, at run time, what the installed ISLP builds.

:class:`RunSettings` is the other half of a run, everything the lab does not fix (seed, device,
training path, log folder); it is passed along beside the LabConfig, never merged into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from islp_ch10.training import TASKS, TrainConfig

# the loss each ISLP.torch SimpleModule constructor uses (notes lines 735, 931, 1396, 1765)
TASK_LOSS = {"regression": "MSELoss", "binary": "BCEWithLogitsLoss", "multiclass": "CrossEntropyLoss"}


@cache
def simple_module_optimizer() -> dict:
    """The optimiser ``SimpleModule`` builds when the lab passes none: class name and defaults.

    Returns ``{"optimizer": "rmsprop", "lr": 0.01, "weight_decay": 0, ...}`` as ISLP and torch
    define it in the installed versions.
    """
    import torch
    from ISLP.torch import SimpleModule

    probe = SimpleModule.binary_classification(torch.nn.Linear(1, 1))
    opt = probe.configure_optimizers()
    if isinstance(opt, (list, tuple)):
        opt = opt[0]
    out = {"optimizer": type(opt).__name__.lower()}
    out.update({k: v for k, v in opt.defaults.items() if isinstance(v, (int, float, bool))})
    return out


@dataclass(frozen=True)
class RunSettings:
    """How to run an experiment on this machine: nothing here changes what the lab trains."""

    seed: int = 0
    path: str = "fast"  # training path: "fast" or "islp" (see islp_ch10.training)
    accelerator: str = "cpu"
    devices: int | str = 1
    strategy: str = "auto"
    log_dir: str | None = None
    progress: bool = False

    def __post_init__(self):
        if self.path not in ("fast", "islp"):
            raise ValueError(f"path must be 'fast' or 'islp', got {self.path!r}")


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
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
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

    def train_config(self, run: RunSettings, name: str) -> TrainConfig:
        """The :class:`~islp_ch10.training.TrainConfig` that ``fit`` takes for this lab cell and run."""
        optimizer, lr = self.resolved_optimizer()
        return TrainConfig(
            task=self.task,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=lr,
            optimizer=optimizer,
            weight_decay=self.weight_decay,
            validation=self.validation,
            num_classes=self.num_classes,
            seed=run.seed,
            accelerator=run.accelerator,
            devices=run.devices,
            strategy=run.strategy,
            log_dir=run.log_dir,
            name=f"{name}-seed{run.seed}",
            progress=run.progress,
        )
