"""Torch twins of the numpy reference networks, holding the same parameters (for reference tests)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from islp_ch10.reference import single_layer as ref

TORCH_ACTIVATION = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "identity": nn.Identity}


def single_layer_torch(params: ref.SingleLayerParams, activation: str) -> nn.Sequential:
    """``nn.Linear(p, K) -> g -> nn.Linear(K, 1)`` in float64, holding ``params``."""
    hidden, output = nn.Linear(params.p, params.K), nn.Linear(params.K, 1)
    net = nn.Sequential(hidden, TORCH_ACTIVATION[activation](), output).double()  # .double() works in place
    with torch.no_grad():
        hidden.weight.copy_(torch.from_numpy(params.W))
        hidden.bias.copy_(torch.from_numpy(params.w0))
        output.weight.copy_(torch.from_numpy(params.beta)[None, :])
        output.bias.fill_(params.beta0)
    return net


def two_layer_torch(params, activation: str, dropout: float = 0.0) -> nn.Sequential:
    """``Linear(p, K1) -> g [-> Dropout] -> Linear(K1, K2) -> g [-> Dropout] -> Linear(K2, 1)`` in
    float64, holding a :class:`islp_ch10.reference.backprop.TwoLayerParams`."""

    def block(n_in, n_out):
        layers = [nn.Linear(n_in, n_out), TORCH_ACTIVATION[activation]()]
        return layers + ([nn.Dropout(dropout)] if dropout else [])

    K1, p = params.W1.shape
    K2 = params.W2.shape[0]
    net = nn.Sequential(*block(p, K1), *block(K1, K2), nn.Linear(K2, 1)).double()
    linears = [m for m in net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for layer, (W, b) in zip(
            linears, ((params.W1, params.b1), (params.W2, params.b2), (params.beta[None, :], np.array([params.beta0])))
        ):
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
            layer.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))
    return net


def linear_grads(net: nn.Sequential) -> dict[str, np.ndarray]:
    """The gradients of a :func:`two_layer_torch` network under the reference's names."""
    l1, l2, out = [m for m in net if isinstance(m, nn.Linear)]
    g = lambda t: t.grad.detach().numpy()  # noqa: E731
    return {
        "W1": g(l1.weight),
        "b1": g(l1.bias),
        "W2": g(l2.weight),
        "b2": g(l2.bias),
        "beta": g(out.weight)[0],
        "beta0": g(out.bias)[0],
    }
