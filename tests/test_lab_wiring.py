"""Every registered lab configuration reaches the objects Lightning trains with, on both paths.

For each :class:`~islp_ch10.lab_defaults.LabConfig` of :data:`islp_ch10.experiments.EXPERIMENTS`,
handed to ``fit`` as the experiments hand it (the LabConfig and the run's RunSettings, unmerged),
a short fit on synthetic data (a one-layer stand-in for the network: the wiring does not depend
on it) records, at the first training batch, the optimiser Lightning steps (class, lr, weight
decay, the parameters it owns), the loss module, the batch drawn, the train and validation set
sizes and ``max_epochs``, and compares them with the LabConfig.  Broken wiring (weight decay
dropped by the optimiser factory, the batch size and split lost on the way to the trainer) is
rejected by the same comparison.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from islp_ch10 import experiments
from islp_ch10.lab_defaults import LabConfig, RunSettings
from islp_ch10.training import fit

N_TEST = 40
N_FEATURES = 4


def _registered_labs() -> dict[LabConfig, str]:
    """Each distinct registered LabConfig, with the experiment:part names that use it."""
    labs: dict[LabConfig, list[str]] = {}
    for name, exp in experiments.EXPERIMENTS.items():
        for part, lab in exp.labs.items():
            labs.setdefault(lab, []).append(f"{name}:{part}")
    return {lab: ",".join(names) for lab, names in labs.items()}


LABS = _registered_labs()


class WiringProbe(pl.Callback):
    """Records what the trainer actually trains with, at its first training batch."""

    def __init__(self):
        self.seen: dict | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.seen is not None:
            return
        optimiser = trainer.optimizers[0]
        groups = optimiser.param_groups
        owned = {id(p) for g in groups for p in g["params"]}
        self.seen = {
            "optimizer": type(optimiser).__name__.lower(),
            "lr": [g["lr"] for g in groups],
            "weight_decay": [g["weight_decay"] for g in groups],
            "optimises_every_parameter": owned == {id(p) for p in pl_module.parameters()},
            "loss": type(pl_module.loss).__name__,
            # the book's path hands the callback a minibatch; the fast path one epoch's iterator over
            # minibatches, drawn by the DataLoader whose batch_size this reads
            "batch_size": len(batch[1]) if isinstance(batch, (tuple, list)) else trainer.train_dataloader.batch_size,
            "n_train": len(trainer.train_dataloader.dataset),
            "n_valid": _n_samples(trainer.val_dataloaders),
            "max_epochs": trainer.max_epochs,
        }


def _n_samples(loaders) -> int:
    """Samples behind a trainer's dataloader(s): one loader, a list of them, or none."""
    if loaders is None:
        return 0
    if isinstance(loaders, (list, tuple)):
        return sum(len(dl.dataset) for dl in loaders)
    return len(loaders.dataset)


def _sizes(lab: LabConfig) -> tuple[int, int, int]:
    """``(n rows given to fit, expected train size, expected validation size)``: two full batches
    and a ragged one stay for training after the validation split."""
    keep = 2 * lab.batch_size + 3
    if lab.validation in (None, "test"):
        return keep, keep, (N_TEST if lab.validation == "test" else 0)
    if isinstance(lab.validation, float):
        n = math.ceil(keep / (1 - lab.validation)) + 1
        return n, n - int(lab.validation * n), int(lab.validation * n)
    return keep + lab.validation, keep, lab.validation


def _data(lab: LabConfig, n: int):
    g = torch.Generator().manual_seed(0)
    x, x_test = torch.randn(n, N_FEATURES, generator=g), torch.randn(N_TEST, N_FEATURES, generator=g)
    if lab.task == "multiclass":
        return (x, torch.randint(0, lab.num_classes, (n,), generator=g)), (
            x_test,
            torch.randint(0, lab.num_classes, (N_TEST,), generator=g),
        )
    if lab.task == "binary":
        return (x, torch.randint(0, 2, (n,), generator=g).float()), (
            x_test,
            torch.randint(0, 2, (N_TEST,), generator=g).float(),
        )
    return (x, torch.randn(n, generator=g)), (x_test, torch.randn(N_TEST, generator=g))


def _stand_in(lab: LabConfig):
    if lab.task == "multiclass":
        return lambda: nn.Linear(N_FEATURES, lab.num_classes)
    return lambda: nn.Sequential(nn.Linear(N_FEATURES, 1), nn.Flatten(0))


def probe_fit(lab: LabConfig, path: str, handed=None) -> dict:
    """What Lightning trains with when ``fit`` is given this lab configuration (two steps);
    ``handed`` is the configuration that reaches ``fit`` when a broken route changes it."""
    n, _, _ = _sizes(lab)
    train, test = _data(lab, n)
    probe = WiringProbe()
    fit(_stand_in(lab), train, test, handed or lab, run=RunSettings(path=path), max_steps=2, callbacks=[probe])
    assert probe.seen is not None, "the probe saw no training batch"
    return probe.seen


def wiring_mismatches(lab: LabConfig, seen: dict) -> list[str]:
    """Where the trained objects differ from the lab configuration (empty: wired as the lab)."""
    optimizer, lr = lab.resolved_optimizer()
    _, n_train, n_valid = _sizes(lab)
    expected = {
        "optimizer": optimizer,
        "lr": [lr] * len(seen["lr"]),
        "weight_decay": [lab.weight_decay] * len(seen["weight_decay"]),
        "optimises_every_parameter": True,
        "loss": lab.loss,
        "batch_size": lab.batch_size,
        "n_train": n_train,
        "n_valid": n_valid,
        "max_epochs": lab.epochs,
    }
    return [f"{k}: trained with {seen[k]!r}, the lab sets {v!r}" for k, v in expected.items() if seen[k] != v]


@pytest.mark.parametrize("path", ["fast", "islp"])
@pytest.mark.parametrize("lab", list(LABS), ids=list(LABS.values()))
def test_lab_configuration_reaches_the_trainer(lab, path):
    """Optimiser, lr, weight decay, loss, batch size, split and epochs are the lab's."""
    assert not wiring_mismatches(lab, probe_fit(lab, path))


def test_every_trained_experiment_registers_its_lab_configuration():
    """An experiment that trains a network states how (a LabConfig citing the notes' lines)."""
    trained = [name for name, exp in experiments.EXPERIMENTS.items() if exp.labs]
    assert len(trained) >= 10
    for lab in LABS:
        assert lab.source.startswith("notes ") and any(ch.isdigit() for ch in lab.source)


def _first_lab(capability) -> LabConfig:
    return next(lab for lab in LABS if capability(lab))


@pytest.mark.parametrize("path", ["fast", "islp"])
def test_wiring_check_rejects_an_optimiser_that_drops_weight_decay(monkeypatch, path):
    """Broken variant: an optimiser factory that forgets weight decay (the regulariser is a no-op)."""
    lab = _first_lab(lambda lab: lab.weight_decay > 0)

    def forgetful(self, params):
        return torch.optim.RMSprop(params, lr=self.resolved_optimizer()[1])

    monkeypatch.setattr(LabConfig, "make_optimizer", forgetful)
    problems = wiring_mismatches(lab, probe_fit(lab, path))
    assert [p for p in problems if p.startswith("weight_decay")], problems


@pytest.mark.parametrize("path", ["fast", "islp"])
def test_wiring_check_rejects_a_lost_batch_size_and_split(path):
    """Broken variant: a route from the lab to ``fit`` that drops the batch size and validation
    split (as a configuration copied field by field can)."""
    lab = _first_lab(lambda lab: lab.batch_size != 32 and lab.validation not in (None, "test"))
    lossy = dataclasses.replace(lab, batch_size=32, validation=None)
    problems = wiring_mismatches(lab, probe_fit(lab, path, handed=lossy))
    assert {p.split(":")[0] for p in problems} >= {"batch_size", "n_train", "n_valid"}, problems


def test_registry_is_read_only_data():
    """The registry is filled only by the ``@experiment`` declarations: it cannot be written to
    afterwards, and a lab configuration cannot be changed."""
    with pytest.raises(TypeError):
        experiments.EXPERIMENTS["new"] = experiments.EXPERIMENTS["mnist-mlp"]
    lab = next(iter(LABS))
    with pytest.raises(dataclasses.FrozenInstanceError):
        lab.epochs = 1


def test_lab_configuration_rejects_incomplete_entries():
    """An optimiser without its lr, or a source that cites no notes line, is refused with the fix."""
    with pytest.raises(ValueError, match="together"):
        LabConfig(
            task="binary",
            epochs=1,
            batch_size=1,
            validation=None,
            metric="accuracy",
            source="notes 1",
            optimizer="rmsprop",
        )
    with pytest.raises(ValueError, match="cite the notes"):
        LabConfig(task="binary", epochs=1, batch_size=1, validation=None, metric="accuracy", source="the lab")


def _rng_moves(read) -> bool:
    import torch

    before = torch.random.get_rng_state()
    read()
    return not torch.equal(before, torch.random.get_rng_state())


def test_reading_simple_modules_default_optimiser_leaves_the_seeded_stream_alone():
    """The first read of SimpleModule's default can happen inside a seeded fit (configure_optimizers):
    it must draw nothing from the global RNG, or a run's figures would depend on whether an earlier
    experiment had read it first (MNIST MLP seed 0 moved from 0.9633 to 0.9686 that way)."""
    from islp_ch10 import lab_defaults

    lab_defaults.simple_module_optimizer.cache_clear()
    assert not _rng_moves(lab_defaults.simple_module_optimizer)


def test_a_default_reader_that_draws_from_the_rng_is_caught():
    """Broken variant: building the probe module outside a forked RNG moves the stream."""
    import torch
    from ISLP.torch import SimpleModule

    assert _rng_moves(lambda: SimpleModule.binary_classification(torch.nn.Linear(1, 1)).configure_optimizers())
