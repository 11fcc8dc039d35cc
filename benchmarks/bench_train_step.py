"""Training the MNIST network (Figure 10.4, lab 10.9.2): one optimiser step.

Group ``train-step-mnist``: one RMSprop step of ``MNISTMLP`` on a batch of 256 (forward,
cross-entropy, backward, ``optimizer.step()``), as the lab's ``SimpleModule`` does it.  After
timing, the step is checked against RMSprop's update written out by hand.  Whole training
epochs, per model family and per training path, are ``bench_train_paths.py``.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from islp_ch10.benchmarking import synchronize
from islp_ch10.models import MNISTMLP
from islp_ch10.testing import cpu_and_cuda

STEP_BATCH = 256
LR, ALPHA, EPS = 0.01, 0.99, 1e-8  # torch.optim.RMSprop defaults, lr as in ISLP's SimpleModule


# ----------------------------------------------------------------------------- one step
def _step_objects(device: str):
    torch.manual_seed(0)
    model = MNISTMLP().to(device)
    g = torch.Generator().manual_seed(1)
    x = torch.rand((STEP_BATCH, 1, 28, 28), generator=g).to(device)
    y = torch.randint(0, 10, (STEP_BATCH,), generator=g).to(device)
    return model, x, y


def _make_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: str):
    optimizer = torch.optim.RMSprop(model.parameters(), lr=LR, alpha=ALPHA, eps=EPS)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        synchronize(device)
        return loss

    return step


def _check_step_is_rmsprop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: str) -> None:
    """From fresh optimiser state, one step must move each weight by -lr g / (sqrt((1-alpha) g^2) + eps)."""
    model = copy.deepcopy(model).eval()  # eval: no dropout, so the gradient below is the step's
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    probe = copy.deepcopy(model)
    nn.CrossEntropyLoss()(probe(x), y).backward()
    grads = {name: p.grad.detach().clone() for name, p in probe.named_parameters()}
    _make_step(model, x, y, device)()
    for name, p in model.named_parameters():
        g = grads[name]
        expected = start[name] - LR * g / (torch.sqrt((1 - ALPHA) * g * g) + EPS)
        torch.testing.assert_close(
            p.detach(), expected, rtol=1e-5, atol=1e-6, msg=lambda m, name=name: f"RMSprop step of {name}: {m}"
        )


@pytest.mark.benchmark(group="train-step-mnist", min_rounds=10, max_time=1.0, warmup=True, warmup_iterations=5)
@pytest.mark.parametrize("device", cpu_and_cuda())
def test_mnist_train_step(benchmark, describe, device):
    model, x, y = _step_objects(device)
    model.train()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    describe(
        device,
        dtype="float32",
        batch=STEP_BATCH,
        input_shape=(1, 28, 28),
        classes=10,
        optimizer=f"RMSprop(lr={LR}, alpha={ALPHA}, eps={EPS})",
        loss="CrossEntropyLoss",
        step="zero_grad, forward (train mode, dropout on), loss, backward, optimizer.step",
    )

    loss = benchmark(_make_step(model, x, y, device))

    assert loss.ndim == 0 and torch.isfinite(loss)
    for name, p in model.named_parameters():
        assert p.grad is not None, f"MNISTMLP on {device}: no gradient reached {name}"
        assert torch.isfinite(p).all(), f"MNISTMLP on {device}: non-finite weights in {name}"
        assert not torch.equal(p.detach(), before[name]), f"MNISTMLP on {device}: the step left {name} unchanged"
    _check_step_is_rmsprop(model, x, y, device)
