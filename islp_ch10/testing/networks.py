"""Torch twins of the numpy reference networks, holding the same parameters (for reference tests)."""

from __future__ import annotations

import torch
from torch import nn

from islp_ch10.reference import single_layer as ref

TORCH_ACTIVATION = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "identity": nn.Identity}


def single_layer_torch(params: ref.SingleLayerParams, activation: str) -> nn.Sequential:
    """``nn.Linear(p, K) -> g -> nn.Linear(K, 1)`` in float64, holding ``params``."""
    net = nn.Sequential(nn.Linear(params.p, params.K), TORCH_ACTIVATION[activation](),
                        nn.Linear(params.K, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(params.W))
        net[0].bias.copy_(torch.from_numpy(params.w0))
        net[2].weight.copy_(torch.from_numpy(params.beta)[None, :])
        net[2].bias.fill_(params.beta0)
    return net
