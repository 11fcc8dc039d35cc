"""Deliberately broken variants of the chapter's networks (scikit-learn's zoo of broken estimators).

Each variant is a realistic slip (a dropout rate that is not the lab's, a missing ReLU, a
softmax inside ``forward`` ...).  It is registered with the spec of the network it breaks:
the same book table, dropout rates, task and claims, only ``factory`` builds the broken class.
``tests/test_model_zoo.py`` names, for each variant, the check of
:mod:`islp_ch10.testing.model_checks` that must reject it, and shows the real network passes
that check.  A check no variant fails would be a check that cannot fail.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torch.nn import functional as F

from islp_ch10 import models
from islp_ch10.models import MODELS, ModelSpec

#: variant name -> spec (the real network's, with the broken factory).
ZOO: dict[str, ModelSpec] = {}


def broken_variant(of: str):
    """Class decorator: register ``cls`` as a broken variant of the registered network ``of``."""

    def register(cls: type) -> type:
        ZOO[cls.__name__] = dataclasses.replace(MODELS[of], factory=cls)
        return cls

    return register


# ----------------------------------------------------------------------------- dropout
@broken_variant("HittersNet")
class HittersDropout02(models.HittersNet):
    """Dropout 0.2 where the lab has 0.4."""

    def __init__(self):
        super().__init__(dropout=0.2)


@broken_variant("MNISTMLP")
class MNISTDropoutSwapped(models.MNISTMLP):
    """The two dropout rates in the wrong order (0.3 then 0.4)."""

    def __init__(self):
        super().__init__(dropout1=0.3, dropout2=0.4)


@broken_variant("MNISTMLP")
class MNISTNoSecondDropout(models.MNISTMLP):
    """The second hidden layer lost its dropout."""

    def __init__(self):
        super().__init__()
        self.layer2 = nn.Sequential(nn.Linear(256, 128), nn.ReLU())


@broken_variant("NYSERNN")
class NYSEDropout03(models.NYSERNN):
    """Dropout 0.3 where the lab has 0.1."""

    def __init__(self):
        super().__init__(dropout=0.3)


@broken_variant("NonlinearAR")
class NonlinearARFunctionalDropout(models.NonlinearAR):
    """Keeps the registered nn.Dropout(0.5) but drops at 0.3 through F.dropout in forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flatten, hidden, relu, _, output = self._forward
        a = relu(hidden(flatten(x)))
        return torch.flatten(output(F.dropout(a, 0.3, self.training)))


@broken_variant("HittersNet")
class HittersInputNoise(models.HittersNet):
    """Adds noise to the inputs in training (randomness that is not the table's dropout)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            x = x + 0.01 * torch.randn_like(x)
        return super().forward(x)


# ----------------------------------------------------------------------------- activations
@broken_variant("IMDBDense")
class IMDBDenseMissingReLU(models.IMDBDense):
    """The second dense layer without its ReLU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        val = self.activation(self.dense1(x))
        return torch.flatten(self.output(self.dense2(val)))


@broken_variant("CIFARCNN")
class CIFARMissingReLU(models.CIFARCNN):
    """The 512-unit layer without its ReLU."""

    def __init__(self):
        super().__init__()
        self.output = nn.Sequential(nn.Dropout(0.5), nn.Linear(1024, 512), nn.Linear(512, 100))


@broken_variant("NonlinearAR")
class NonlinearARMissingReLU(models.NonlinearAR):
    """No ReLU: the "nonlinear" AR is a linear one."""

    def __init__(self):
        super().__init__()
        self._forward = nn.Sequential(nn.Flatten(), nn.Linear(20, 32), nn.Dropout(0.5), nn.Linear(32, 1))


@broken_variant("NYSERNN")
class NYSERNNReLU(models.NYSERNN):
    """The recurrence with ReLU instead of tanh: same layer type, same parameters."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 12, batch_first=True, nonlinearity="relu")


# ----------------------------------------------------------------------------- outputs
@broken_variant("MNISTMLP")
class MNISTSoftmaxInside(models.MNISTMLP):
    """Returns softmax probabilities, so the cross-entropy loss gets probabilities, not logits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(super().forward(x), dim=1)


@broken_variant("IMDBDense")
class IMDBDenseSigmoidInside(models.IMDBDense):
    """Returns Pr(positive) instead of its logit."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(super().forward(x))


@broken_variant("IMDBLSTM")
class IMDBLSTMFirstPosition(models.IMDBLSTM):
    """Reads the LSTM's first position instead of its last (O_1 instead of O_L)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.recurrent(self.embedding(x))
        return torch.flatten(self.dense(out[:, 0]))


# ----------------------------------------------------------------------------- architecture
@broken_variant("MNISTMLP")
class MNISTWidths238x194(models.MNISTMLP):
    """Hidden layers of 238 and 194 units: the book's 235,146 parameters, the wrong network."""

    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Flatten(), nn.Linear(784, 238), nn.ReLU(), nn.Dropout(0.4))
        self.layer2 = nn.Sequential(nn.Linear(238, 194), nn.ReLU(), nn.Dropout(0.3))
        self.output = nn.Linear(194, 10)


@broken_variant("IMDBLSTM")
class IMDBGRU(models.IMDBLSTM):
    """A GRU where the lab has an LSTM."""

    def __init__(self):
        super().__init__()
        self.recurrent = nn.GRU(32, 32, batch_first=True)


@broken_variant("HittersNet")
class HittersZeroBias(models.HittersNet):
    """Initialises every bias at zero: the same network, a different seeded start."""

    def __init__(self):
        super().__init__()
        for module in self.sequential:
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)


# ----------------------------------------------------------------------------- inputs
@broken_variant("HittersNet")
class HittersCastsInput(models.HittersNet):
    """Casts any input to float32 before checking it (a silent cast of float64/float16)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float())
