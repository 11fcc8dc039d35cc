"""Distributed data-parallel training on the CPU: 2 processes (gloo) train to the single-process figure.

Each of the 2 ranks takes batches of 16, so the global batch (32) and the number of optimiser
steps per epoch equal the single-process run's; the ranks see different halves of each epoch, so
the two runs are not bit-identical, only equally good.  Tolerance: 0.03 accuracy.  Measured
(torch 2.14.1, 2 CPU cores) over seeds 0, 1, 2: single 0.978 / 0.970 / 0.970, DDP 0.966 / 0.972 /
0.974, gaps 0.012 / 0.002 / 0.004.  0.03 is 2.5 times the largest gap and far below the 0.6 gap
between this trained model and chance (1/3).
"""

import pytest
import torch
import torch.distributed as dist

from islp_ch10 import training
from islp_ch10.training import EndProcessGroupAtExit, RunSettings, TrainConfig, fit, make_trainer

TOLERANCE = 0.03


def _data(n=2000, p=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p, generator=g)
    w = torch.randn(p, 3, generator=g)
    y = torch.argmax(x @ w, dim=1)
    return (x[:1500], y[:1500]), (x[1500:], y[1500:])


def small_net():
    return torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


@pytest.mark.slow
def test_ddp_two_processes_matches_single_process(tmp_path):
    train, test = _data()
    single = fit(
        small_net,
        train,
        test,
        TrainConfig(
            task="multiclass", num_classes=3, epochs=5, batch_size=32, lr=0.01, log_dir=str(tmp_path / "single")
        ),
    )
    ddp = fit(
        small_net,
        train,
        test,
        TrainConfig(
            task="multiclass",
            num_classes=3,
            epochs=5,
            batch_size=16,
            lr=0.01,
            devices=2,
            strategy="ddp_spawn",
            log_dir=str(tmp_path / "ddp"),
        ),
    )
    assert single.test["accuracy"] > 0.9, "the single-process baseline did not train"
    assert abs(ddp.test["accuracy"] - single.test["accuracy"]) <= TOLERANCE, (
        f"DDP accuracy {ddp.test['accuracy']:.4f} vs single process {single.test['accuracy']:.4f}"
    )
    # the weights came back from the worker processes: they differ from a fresh initialisation
    torch.manual_seed(0)
    assert not torch.equal(ddp.model[0].weight, small_net()[0].weight)


# ----------------------------------------------------------------------------- a rank's exit
def exit_problems(callback, monkeypatch, store) -> list[str]:
    """What keeps ``callback`` from having a rank destroy its process group at exit: checked on a
    one-rank gloo group in this process (a file store, no network), with the exit handlers
    recorded instead of registered."""
    registered: list = []
    monkeypatch.setattr(training.atexit, "register", registered.append)
    training._destroy_process_group_at_exit.cache_clear()
    problems = []
    try:
        callback.setup(None, None, "fit")
        if registered:
            problems.append(f"registered {registered} with no process group")
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
        callback.setup(None, None, "fit")
        callback.setup(None, None, "validate")
        if len(registered) != 1:
            problems.append(f"{len(registered)} exit handlers registered for one process group")
        for handler in registered:
            handler()
        if dist.is_initialized():
            problems.append("the process group is alive after the exit handlers ran")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        training._destroy_process_group_at_exit.cache_clear()
    return problems


class _ForgetsTheGroup(EndProcessGroupAtExit):
    def setup(self, trainer, pl_module, stage):
        pass


@pytest.mark.parametrize(
    ("callback", "rejected"), [(EndProcessGroupAtExit(), False), (_ForgetsTheGroup(), True)], ids=["ours", "forgets"]
)
def test_a_rank_destroys_its_process_group_when_it_exits(monkeypatch, tmp_path, callback, rejected):
    """Once per process, and only where a process group exists; a callback that never registers
    the handler is rejected."""
    assert bool(exit_problems(callback, monkeypatch, tmp_path / "store")) is rejected


def test_every_trainer_has_the_exit_callback():
    trainer = make_trainer(1, RunSettings())
    assert sum(isinstance(c, EndProcessGroupAtExit) for c in trainer.callbacks) == 1
