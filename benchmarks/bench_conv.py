"""Convolution kernels of the CIFAR-100 network (Figure 10.8, lab 10.9.3).

Groups ``conv-block{1..4}-fwd`` and ``conv-block{1..4}-fwd-bwd``: each ``BuildingBlock`` of
``CIFARCNN`` (3x3 'same' convolution, ReLU, 2x2 max pool) at the lab's batch of 128, on the
input it sees inside the network.  After timing, the output (and every gradient) is checked
against the same block run in float64 on the CPU.

Group ``conv-numpy-vs-torch``: the numpy reference (``conv2d_multichannel`` of
``islp_ch10.reference.conv``, valid cross-correlation, looped over the batch) against
``torch.nn.functional.conv2d`` on one CPU-affordable shape (batch 8 of 3x32x32, 32 filters
3x3), the same on both sides; both must agree to float32 precision.  The ratio numpy/torch is printed at the
end of a timed run and stored in the JSON.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from islp_ch10.benchmarking import synchronize
from islp_ch10.models import CIFARCNN
from islp_ch10.reference.conv import conv2d_multichannel
from islp_ch10.testing import cpu_and_cuda

BATCH = 128  # the lab's batch size for CIFAR-100

# block index -> (input shape without batch, output shape without batch)
BLOCKS = {
    1: ((3, 32, 32), (32, 16, 16)),
    2: ((32, 16, 16), (64, 8, 8)),
    3: ((64, 8, 8), (128, 4, 4)),
    4: ((128, 4, 4), (256, 2, 2)),
}

# float32 against float64.  On CUDA, cuDNN may run the convolution in TF32 (torch's default
# for convolutions), which keeps about 10 bits of mantissa: hence the looser tolerance.
TOL = {"cpu": dict(rtol=1e-4, atol=1e-4), "cuda": dict(rtol=1e-2, atol=1e-2)}
# Gradients are compared as a whole (relative Frobenius error), not entry by entry: where two
# inputs of a 2x2 pool window differ by less than float32 rounding, float32 and float64 may route
# the gradient through different winners, which moves single entries by O(1) but the whole
# tensor by far less than these bounds (measured: up to 1.4e-3 on the CPU; a wrong gradient is O(1)).
GRAD_TOL = {"cpu": 1e-2, "cuda": 5e-2}

# numpy reference against torch: a shape both can afford on the CPU in seconds.
REF_SHAPE = dict(batch=8, in_channels=3, height=32, width=32, filters=32, kernel=3)


def _block(index: int, device: str) -> torch.nn.Module:
    torch.manual_seed(index)
    return CIFARCNN().conv[index - 1].to(device)


def _input(index: int, device: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(100 + index)
    return torch.rand((BATCH, *BLOCKS[index][0]), generator=g).to(device)


def _cpu64(block: torch.nn.Module) -> torch.nn.Module:
    return copy.deepcopy(block).cpu().double()


def _kind(device: str) -> str:
    return "cuda" if device.startswith("cuda") else "cpu"


def _tol(device: str) -> dict:
    return TOL[_kind(device)]


def _relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """``||value - reference|| / ||reference||`` (Frobenius), in float64 on the CPU."""
    reference = reference.cpu().double()
    return float(
        torch.linalg.vector_norm(value.cpu().double() - reference)
        / torch.linalg.vector_norm(reference).clamp_min(1e-300)
    )


# Each round is 1 to 200 ms on two CPU cores: a few warm-up calls, then about a second.
TIMING = dict(min_rounds=5, max_time=1.0, warmup=True, warmup_iterations=2)


def _blocks(kind: str):
    """The four blocks as parameters, each carrying its benchmark group ``conv-block<i>-<kind>``."""
    return [
        pytest.param(i, id=f"block{i}", marks=pytest.mark.benchmark(group=f"conv-block{i}-{kind}", **TIMING))
        for i in sorted(BLOCKS)
    ]


def _block_info(index: int) -> dict:
    """What the JSON records about one block's benchmark: dtype, batch, shapes and which block."""
    return dict(
        dtype="float32",
        batch=BATCH,
        input_shape=BLOCKS[index][0],
        output_shape=BLOCKS[index][1],
        block=f"CIFARCNN.conv[{index - 1}]",
    )


@pytest.mark.parametrize("device", cpu_and_cuda())
@pytest.mark.parametrize("index", _blocks("fwd"))
def test_block_forward(benchmark, describe, index, device):
    """One ``BuildingBlock`` of ``CIFARCNN``, forward under ``no_grad``, batch 128."""
    block, x = _block(index, device), _input(index, device)
    describe(device, **_block_info(index))

    def forward():
        with torch.no_grad():
            out = block(x)
        synchronize(device)
        return out

    out = benchmark(forward)

    assert out.shape == (BATCH, *BLOCKS[index][1])
    assert torch.isfinite(out).all()
    with torch.no_grad():
        expected = _cpu64(block)(x.cpu().double())
    torch.testing.assert_close(out.cpu().double(), expected, **_tol(device))


@pytest.mark.parametrize("device", cpu_and_cuda())
@pytest.mark.parametrize("index", _blocks("fwd-bwd"))
def test_block_forward_backward(benchmark, describe, index, device):
    """The same block, forward and backward from a fixed upstream gradient, batch 128."""
    block, x = _block(index, device), _input(index, device)
    g = torch.Generator().manual_seed(200 + index)
    upstream = torch.randn((BATCH, *BLOCKS[index][1]), generator=g).to(device)
    x.requires_grad_(True)
    describe(
        device,
        **_block_info(index),
        backward="out.backward(fixed random upstream gradient); grads zeroed each round",
    )

    def forward_backward():
        block.zero_grad(set_to_none=True)
        x.grad = None
        out = block(x)
        out.backward(upstream)
        synchronize(device)
        return out

    out = benchmark(forward_backward)

    assert out.shape == (BATCH, *BLOCKS[index][1])
    ref_block = _cpu64(block)
    ref_x = x.detach().cpu().double().requires_grad_(True)
    ref_block(ref_x).backward(upstream.cpu().double())
    grads = [
        (f"{name}.grad", p.grad, ref_p.grad)
        for (name, p), (_, ref_p) in zip(block.named_parameters(), ref_block.named_parameters())
    ]
    for what, grad, ref in [*grads, ("input.grad", x.grad, ref_x.grad)]:
        assert grad is not None, f"block{index}: no gradient reached {what}"
        assert torch.isfinite(grad).all(), f"block{index}: non-finite {what}"
        err = _relative_error(grad, ref)
        assert err < GRAD_TOL[_kind(device)], f"block{index} {what}: relative error {err:.2e} against float64"


# ----------------------------------------------------------------------------- numpy vs torch
def numpy_conv_batch(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The numpy reference over a batch: ``conv2d_multichannel`` takes one ``(C, H, W)`` image."""
    return np.stack([conv2d_multichannel(image, w, b) for image in x])


def _reference_operands():
    s = REF_SHAPE
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s["batch"], s["in_channels"], s["height"], s["width"])).astype(np.float32)
    w = rng.standard_normal((s["filters"], s["in_channels"], s["kernel"], s["kernel"])).astype(np.float32)
    b = rng.standard_normal(s["filters"]).astype(np.float32)
    return x, w, b


def _out_shape():
    s = REF_SHAPE
    k = s["kernel"]
    return (s["batch"], s["filters"], s["height"] - k + 1, s["width"] - k + 1)


@pytest.mark.benchmark(group="conv-numpy-vs-torch", min_rounds=3, max_time=1.0, warmup=True, warmup_iterations=1)
@pytest.mark.parametrize("variant", ["numpy", "torch"])
def test_conv_numpy_vs_torch(benchmark, describe, variant):
    """Same operands, same 'valid' cross-correlation; CPU only (the reference is numpy)."""
    x, w, b = _reference_operands()
    describe(
        "cpu",
        variant=variant,
        dtype="float32",
        input_shape=x.shape,
        weight_shape=w.shape,
        output_shape=_out_shape(),
        padding="valid",
        reference="islp_ch10.reference.conv.conv2d_multichannel, one image at a time",
        note="CPU-affordable shape chosen for the numpy loop; torch side is F.conv2d on the same operands",
    )
    tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))

    def run_numpy():
        return numpy_conv_batch(x, w, b)

    def run_torch():
        with torch.no_grad():
            return torch.nn.functional.conv2d(tx, tw, tb).numpy()

    out = benchmark(run_numpy if variant == "numpy" else run_torch)

    other = run_torch() if variant == "numpy" else run_numpy()
    assert out.shape == _out_shape()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, other, rtol=1e-4, atol=1e-4)
