"""Training the MNIST network (Figure 10.4, lab 10.9.2): one step, and one epoch two ways.

Group ``train-step-mnist``: one RMSprop step of ``MNISTMLP`` on a batch of 256 (forward,
cross-entropy, backward, ``optimizer.step()``), as the lab's ``SimpleModule`` does it.  After
timing, the step is checked against RMSprop's update written out by hand.

Group ``train-epoch-islp-vs-fast``: one epoch of the same network on the same data through
``islp_ch10.training.fit`` with ``path="islp"`` (the book's ``SimpleDataModule`` /
``SimpleModule``: one sample at a time, collated) and ``path="fast"`` (whole-batch slicing).
The data are a deterministic synthetic MNIST-shaped set (12,000 training images, 20% held out
for validation, 2,000 test images): ten random prototype digits plus noise, so no download is
needed and one epoch must learn it.  Each timed call is a whole ``fit`` (Trainer set-up, the
epoch with its validation pass, test evaluation; the ISLP path also runs ``trainer.test`` as
the lab does); ``extra_info["fit_wall_time_min"]`` is the ``trainer.fit`` part alone.  The
ratio islp/fast is printed at the end of a timed run and stored in the JSON.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from islp_ch10.benchmarking import synchronize
from islp_ch10.models import MNISTMLP
from islp_ch10.testing import cpu_and_cuda

STEP_BATCH = 256
LR, ALPHA, EPS = 0.01, 0.99, 1e-8  # torch.optim.RMSprop defaults, lr as in ISLP's SimpleModule
SYNTHETIC = dict(n_train=12_000, n_test=2_000, classes=10, seed=0)
EPOCH_ROUNDS = 3


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
        torch.testing.assert_close(p.detach(), expected, rtol=1e-5, atol=1e-6,
                                   msg=lambda m, name=name: f"RMSprop step of {name}: {m}")


@pytest.mark.benchmark(group="train-step-mnist", min_rounds=10, max_time=1.0, warmup=True, warmup_iterations=5)
@pytest.mark.parametrize("device", cpu_and_cuda())
def test_mnist_train_step(benchmark, describe, device):
    model, x, y = _step_objects(device)
    model.train()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    describe(device, dtype="float32", batch=STEP_BATCH, input_shape=(1, 28, 28), classes=10,
             optimizer=f"RMSprop(lr={LR}, alpha={ALPHA}, eps={EPS})", loss="CrossEntropyLoss",
             step="zero_grad, forward (train mode, dropout on), loss, backward, optimizer.step")

    loss = benchmark(_make_step(model, x, y, device))

    assert loss.ndim == 0 and torch.isfinite(loss)
    for name, p in model.named_parameters():
        assert p.grad is not None, f"MNISTMLP on {device}: no gradient reached {name}"
        assert torch.isfinite(p).all(), f"MNISTMLP on {device}: non-finite weights in {name}"
        assert not torch.equal(p.detach(), before[name]), f"MNISTMLP on {device}: the step left {name} unchanged"
    _check_step_is_rmsprop(model, x, y, device)


# ----------------------------------------------------------------------------- one epoch, two paths
def synthetic_mnist(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` MNIST-shaped images ``(n, 1, 28, 28)`` in [0, 1] and labels 0-9, deterministic.

    Like MNIST's digits the images are mostly background: each class has a fixed random
    "stroke" mask covering about 20% of the pixels (drawn with seed 0, shared by every call);
    an image keeps each stroke pixel with probability 0.8 at an intensity in [0.5, 1] and adds
    speckle noise on about 5% of all pixels.  ``seed`` draws labels, dropped pixels and noise.
    """
    strokes = torch.rand((SYNTHETIC["classes"], 1, 28, 28), generator=torch.Generator().manual_seed(0)) < 0.2
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, SYNTHETIC["classes"], (n,), generator=g)
    keep = torch.rand((n, 1, 28, 28), generator=g) < 0.8
    ink = 0.5 + 0.5 * torch.rand((n, 1, 28, 28), generator=g)
    speckle = (torch.rand((n, 1, 28, 28), generator=g) < 0.05) * torch.rand((n, 1, 28, 28), generator=g)
    x = torch.maximum(strokes[y] * keep * ink, speckle)
    return x, y


@pytest.fixture(scope="module")
def mnist_like():
    train = synthetic_mnist(SYNTHETIC["n_train"], seed=SYNTHETIC["seed"] + 1)
    test = synthetic_mnist(SYNTHETIC["n_test"], seed=SYNTHETIC["seed"] + 2)
    return train, test


@pytest.mark.benchmark(group="train-epoch-islp-vs-fast")
@pytest.mark.parametrize("device", cpu_and_cuda())
@pytest.mark.parametrize("path", ["islp", "fast"])
def test_train_epoch_islp_vs_fast(benchmark, describe, mnist_like, path, device, tmp_path):
    pytest.importorskip("ISLP.torch", reason="the ISLP package (ISLP.torch) is needed for the book's path")
    from islp_ch10.reference.optim import steps_per_epoch
    from islp_ch10.training import TrainConfig, fit

    train, test = mnist_like
    config = TrainConfig(task="multiclass", num_classes=10, epochs=1, batch_size=256, validation=0.2,
                         accelerator="gpu" if device.startswith("cuda") else "cpu",
                         log_dir=str(tmp_path))
    n_valid = int(0.2 * SYNTHETIC["n_train"])
    describe(device, variant=path, dtype="float32", data="synthetic MNIST-shaped (see synthetic_mnist)",
             n_train=SYNTHETIC["n_train"] - n_valid, n_valid=n_valid, n_test=SYNTHETIC["n_test"],
             batch_size=256, epochs=1, model="MNISTMLP", rounds=EPOCH_ROUNDS,
             train_steps=steps_per_epoch(SYNTHETIC["n_train"] - n_valid, 256),
             timed="whole fit(): Trainer set-up, 1 epoch + validation, test evaluation "
                   "(islp also runs trainer.test as the lab does)")
    fit_times: list[float] = []

    def one_epoch():
        result = fit(MNISTMLP, train, test, config, path=path)
        synchronize(device)
        fit_times.append(result.wall_time)
        return result

    result = benchmark.pedantic(one_epoch, rounds=EPOCH_ROUNDS, warmup_rounds=1, iterations=1)

    benchmark.extra_info["fit_wall_time_min"] = min(fit_times)
    benchmark.extra_info["test_accuracy"] = result.test["accuracy"]
    assert math.isfinite(result.test["loss"])
    # Ten well-separated prototypes: one epoch must get far beyond chance (0.1).
    assert result.test["accuracy"] > 0.8, f"{path} path on {device}: test accuracy {result.test['accuracy']:.3f}"
    for name, p in result.model.named_parameters():
        assert torch.isfinite(p).all(), f"{path} path: non-finite weights in {name}"
