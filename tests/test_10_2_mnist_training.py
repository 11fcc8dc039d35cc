"""10.2: regularising the MNIST network (ridge / weight decay and dropout).

The slow test (``tests/test_experiments.py``, over the experiment registry) trains on the real
data and judges each regulariser's cost against the catalogue.  Its threshold alone cannot fail
for a regulariser that does nothing (an increase of 0 passes), so the fast tests here check, on
a short fit of the same configurations on a small MNIST-shaped synthetic set, that each
regulariser acts: weight decay shrinks the fitted weights against the unregularised fit at the
same seed, and dropout zeroes its share of units while training.
"""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from islp_ch10.experiments import REGULARISE_MODELS
from islp_ch10.lab_defaults import REGULARISE, LabConfig
from islp_ch10.training import fit

STEPS = 12


def _mnist_shaped(n=768, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    y = (x.mean(dim=(1, 2, 3)) * 10 * 7).long() % 10  # any fixed labelling will do
    return (x[:640], y[:640]), (x[640:], y[640:])


def _short_fit(part: str, callbacks=(), factory=None):
    """The ``part`` arm's lab configuration, stopped after a few steps, on the synthetic set."""
    train, test = _mnist_shaped()
    return fit(factory or REGULARISE_MODELS[part], train, test, REGULARISE[part], max_steps=STEPS, callbacks=callbacks)


@torch.no_grad()
def _weight_norm(model: nn.Module) -> float:
    return float(torch.sqrt(sum((p**2).sum() for n, p in model.named_parameters() if n.endswith("weight"))))


def weight_decay_shrinkage() -> float:
    """||W|| of the unregularised arm minus ||W|| of the ridge arm (same seed, same batches)."""
    return _weight_norm(_short_fit("none").model) - _weight_norm(_short_fit("ridge").model)


class DropoutMeter(pl.Callback):
    """Per Dropout module, the share of its non-zero inputs it zeroed in each training step."""

    def __init__(self):
        self.dropped: dict[str, list[float]] = {}
        self.rates: dict[str, float] = {}
        self._training_step = False

    def on_fit_start(self, trainer, pl_module):
        for name, module in pl_module.named_modules():
            if isinstance(module, nn.Dropout):
                self.rates[name] = module.p
                module.register_forward_hook(lambda mod, inp, out, name=name: self._record(name, inp[0], out))

    def _record(self, name, inp, out):
        if self._training_step:
            alive = inp != 0
            self.dropped.setdefault(name, []).append(float((out[alive] == 0).float().mean()))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._training_step = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._training_step = False


def dropout_problems(meter: DropoutMeter, tolerance: float = 0.02) -> list[str]:
    """Dropout modules that did not drop about their rate of units in the training steps."""
    if not meter.rates:
        return ["the trained model has no Dropout module"]
    problems = []
    for name, rate in meter.rates.items():
        seen = meter.dropped.get(name, [])
        dropped = sum(seen) / len(seen) if seen else 0.0
        if rate == 0 or abs(dropped - rate) > tolerance:
            problems.append(f"{name}: rate {rate}, dropped {dropped:.3f} of its inputs while training")
    return problems


@pytest.mark.claim("10.2/regularise")
def test_weight_decay_shrinks_the_weights():
    """The ridge arm (the lab's MLP without dropout, weight decay 1e-4) ends with smaller weights
    than the unregularised arm trained from the same start on the same batches."""
    assert weight_decay_shrinkage() > 0


@pytest.mark.claim("10.2/regularise")
def test_dropout_is_active_while_training():
    """In the dropout arm every Dropout module zeroes about its rate (0.4, 0.3) of units per step."""
    meter = DropoutMeter()
    _short_fit("dropout", callbacks=[meter])
    assert not dropout_problems(meter)


class _EvalWhileTraining(pl.Callback):
    """A pipeline bug: the model is left in eval mode during training, so dropout does nothing."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        pl_module.eval()


@pytest.mark.claim("10.2/regularise")
def test_regulariser_checks_reject_no_ops(monkeypatch):
    """Broken variants: training in eval mode (dropout inert), a dropout arm built with rate 0,
    and an optimiser that ignores weight decay; each check rejects its no-op."""
    meter = DropoutMeter()
    _short_fit("dropout", callbacks=[meter, _EvalWhileTraining()])
    assert dropout_problems(meter)

    meter = DropoutMeter()
    _short_fit("dropout", callbacks=[meter], factory=REGULARISE_MODELS["none"])
    assert dropout_problems(meter)

    monkeypatch.setattr(
        LabConfig, "make_optimizer", lambda self, params: torch.optim.RMSprop(params, lr=self.resolved_optimizer()[1])
    )
    assert weight_decay_shrinkage() == 0
