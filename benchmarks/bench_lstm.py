"""Recurrent kernels of the chapter's sequence models (sections 10.5, lab 10.9.6).

Groups ``lstm-imdb-fwd`` and ``lstm-imdb-fwd-bwd``: ``IMDBLSTM`` (embedding 10,003 x 32, LSTM
32, one logit) on the lab's batch of 300 reviews of 500 tokens.  Groups ``rnn-nyse-fwd`` and
``rnn-nyse-fwd-bwd``: ``NYSERNN`` (RNN 3 -> 12 over 5 lags) on a batch of 64.  After timing the
output is checked (shape, finite, on CUDA equal to the CPU's, and for the NYSE network equal to
the numpy recurrence of ``islp_ch10.reference.rnn``) and every parameter must have received a
finite, non-zero gradient.

Group ``lstm-loop-vs-fused``: a Python loop over time steps of ``nn.LSTMCell`` against the
fused ``nn.LSTM`` holding the same weights, at the IMDB width (batch 300, 32 -> 32) but 100
steps instead of 500 so the loop stays affordable on two CPU cores, with TF32 off on CUDA.
The two must agree to 1e-5; the ratio loop/fused is printed at the end of a timed run and stored in the JSON.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from islp_ch10.benchmarking import synchronize
from islp_ch10.models import IMDB_VOCAB, IMDBLSTM, NYSERNN
from islp_ch10.reference import rnn as rnn_reference
from islp_ch10.testing import cpu_and_cuda

IMDB = dict(batch=300, length=500, embedding=32, hidden=32, vocab=IMDB_VOCAB)
NYSE = dict(batch=64, lags=5, series=3, hidden=12)
LOOP = dict(batch=300, length=100, input=32, hidden=32)  # length cut from 500: see module docstring

TIMING = dict(min_rounds=3, max_time=1.0, warmup=True, warmup_iterations=1)
TINY_TIMING = dict(min_rounds=20, max_time=0.5, warmup=True, warmup_iterations=50)

# float32 CPU against CUDA.  cuDNN's recurrent kernels may use TF32 tensor cores for float32
# (torch.backends.cudnn.allow_tf32 is True by default), about 1e-3 relative per product.
CROSS_DEVICE = {"cpu": dict(rtol=1e-5, atol=1e-5), "cuda": dict(rtol=2e-3, atol=2e-3)}


def _tol(device: str) -> dict:
    return CROSS_DEVICE["cuda" if device.startswith("cuda") else "cpu"]


def _check_grads(model: nn.Module, label: str) -> None:
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{label}: no gradient reached {name}"
        assert torch.isfinite(p.grad).all(), f"{label}: non-finite gradient in {name}"
        assert p.grad.abs().sum() > 0, f"{label}: gradient of {name} is identically zero"


def _same_on_cpu(model: nn.Module, x: torch.Tensor, out: torch.Tensor, device: str) -> None:
    """On CUDA, the output must equal the CPU's for the same weights and input."""
    if device == "cpu":
        return
    cpu_model = copy.deepcopy(model).cpu()
    with torch.no_grad():
        expected = cpu_model(x.cpu())
    torch.testing.assert_close(out.detach().cpu(), expected, **_tol(device))


# ----------------------------------------------------------------------------- IMDB LSTM
def _imdb(device: str):
    torch.manual_seed(0)
    model = IMDBLSTM().to(device)
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, IMDB["vocab"], (IMDB["batch"], IMDB["length"]), generator=g)
    labels = torch.randint(0, 2, (IMDB["batch"],), generator=g).float()
    return model, tokens.to(device), labels.to(device)


@pytest.mark.benchmark(group="lstm-imdb-fwd", **TIMING)
@pytest.mark.parametrize("device", cpu_and_cuda())
def test_imdb_lstm_forward(benchmark, describe, device):
    model, tokens, _ = _imdb(device)
    model.eval()
    describe(device, dtype="float32", tokens_shape=tokens.shape, **IMDB)

    def forward():
        with torch.no_grad():
            out = model(tokens)
        synchronize(device)
        return out

    out = benchmark(forward)

    assert out.shape == (IMDB["batch"],)
    assert torch.isfinite(out).all()
    _same_on_cpu(model, tokens, out, device)


@pytest.mark.benchmark(group="lstm-imdb-fwd-bwd", **TIMING)
@pytest.mark.parametrize("device", cpu_and_cuda())
def test_imdb_lstm_forward_backward(benchmark, describe, device):
    model, tokens, labels = _imdb(device)
    loss_fn = nn.BCEWithLogitsLoss()
    describe(device, dtype="float32", tokens_shape=tokens.shape, loss="BCEWithLogitsLoss", **IMDB)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(tokens), labels)
        loss.backward()
        synchronize(device)
        return loss

    loss = benchmark(forward_backward)

    assert loss.ndim == 0 and torch.isfinite(loss)
    _check_grads(model, f"IMDBLSTM on {device}")


# ----------------------------------------------------------------------------- NYSE RNN
def _nyse(device: str):
    torch.manual_seed(0)
    model = NYSERNN().to(device)
    g = torch.Generator().manual_seed(2)
    x = torch.randn((NYSE["batch"], NYSE["lags"], NYSE["series"]), generator=g)
    y = torch.randn((NYSE["batch"],), generator=g)
    return model, x.to(device), y.to(device)


@pytest.mark.benchmark(group="rnn-nyse-fwd", **TINY_TIMING)
@pytest.mark.parametrize("device", cpu_and_cuda())
def test_nyse_rnn_forward(benchmark, describe, device):
    model, x, _ = _nyse(device)
    model.eval()
    describe(device, dtype="float32", input_shape=x.shape, **NYSE)

    def forward():
        with torch.no_grad():
            out = model(x)
        synchronize(device)
        return out

    out = benchmark(forward)

    assert out.shape == (NYSE["batch"],)
    assert torch.isfinite(out).all()
    _same_on_cpu(model, x, out, device)
    # Independently: the book's recurrence A_l = tanh(W [1; X_l] + U A_{l-1}), O_L = B [1; A_L].
    numpy = {name: p.detach().cpu().numpy() for name, p in model.named_parameters()}
    W, U = rnn_reference.book_params_from_torch(
        numpy["rnn.weight_ih_l0"], numpy["rnn.weight_hh_l0"], numpy["rnn.bias_ih_l0"], numpy["rnn.bias_hh_l0"]
    )
    B = rnn_reference.book_output_weights(numpy["dense.weight"], numpy["dense.bias"])
    A = rnn_reference.rnn_forward(x.cpu().numpy(), W, U)
    expected = rnn_reference.rnn_outputs(A, B)[:, -1]  # O_L for every series in the batch
    torch.testing.assert_close(out.cpu().double(), torch.from_numpy(expected), **_tol(device))


@pytest.mark.benchmark(group="rnn-nyse-fwd-bwd", **TINY_TIMING)
@pytest.mark.parametrize("device", cpu_and_cuda())
def test_nyse_rnn_forward_backward(benchmark, describe, device):
    model, x, y = _nyse(device)
    model.train()  # dropout 0.1 active, as in training
    loss_fn = nn.MSELoss()
    describe(device, dtype="float32", input_shape=x.shape, loss="MSELoss", **NYSE)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        synchronize(device)
        return loss

    loss = benchmark(forward_backward)

    assert loss.ndim == 0 and torch.isfinite(loss)
    _check_grads(model, f"NYSERNN on {device}")


# ----------------------------------------------------------------------------- loop vs fused
def _lstm_pair(device: str) -> tuple[nn.LSTM, nn.LSTMCell]:
    """A fused LSTM and an LSTMCell holding the very same weights."""
    torch.manual_seed(3)
    fused = nn.LSTM(LOOP["input"], LOOP["hidden"], batch_first=True)
    cell = nn.LSTMCell(LOOP["input"], LOOP["hidden"])
    with torch.no_grad():
        cell.weight_ih.copy_(fused.weight_ih_l0)
        cell.weight_hh.copy_(fused.weight_hh_l0)
        cell.bias_ih.copy_(fused.bias_ih_l0)
        cell.bias_hh.copy_(fused.bias_hh_l0)
    return fused.to(device), cell.to(device)


def _run_loop(cell: nn.LSTMCell, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The recurrence written out: one ``LSTMCell`` call per time step."""
    batch, length, _ = x.shape
    h = x.new_zeros((batch, LOOP["hidden"]))
    c = x.new_zeros((batch, LOOP["hidden"]))
    outputs = []
    for t in range(length):
        h, c = cell(x[:, t], (h, c))  # (B, hidden) each
        outputs.append(h)
    return torch.stack(outputs, dim=1), h  # (B, L, hidden), (B, hidden)


def _run_fused(lstm: nn.LSTM, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out, (h_n, _) = lstm(x)
    return out, h_n[0]


@pytest.fixture
def full_fp32():
    """No TF32 on CUDA for this test (restored after), so that loop and fused can agree to 1e-5."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.benchmark(group="lstm-loop-vs-fused", **TIMING)
@pytest.mark.parametrize("device", cpu_and_cuda())
@pytest.mark.parametrize("variant", ["loop", "fused"])
def test_lstm_loop_vs_fused(benchmark, describe, full_fp32, variant, device):
    fused, cell = _lstm_pair(device)
    g = torch.Generator().manual_seed(4)
    x = torch.randn((LOOP["batch"], LOOP["length"], LOOP["input"]), generator=g).to(device)
    describe(
        device,
        variant=variant,
        dtype="float32",
        input_shape=x.shape,
        **LOOP,
        note="IMDB width (batch 300, 32 -> 32) at 100 steps instead of the lab's 500, "
        "to keep the Python loop affordable on the CPU; forward only, no_grad",
        tf32="off (cudnn and matmul) so both sides compute in full float32",
    )

    def run():
        with torch.no_grad():
            result = _run_loop(cell, x) if variant == "loop" else _run_fused(fused, x)
        synchronize(device)
        return result

    out, last = benchmark(run)

    with torch.no_grad():
        other_out, other_last = _run_fused(fused, x) if variant == "loop" else _run_loop(cell, x)
    assert out.shape == (LOOP["batch"], LOOP["length"], LOOP["hidden"])
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, other_out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(last, other_last, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(last, out[:, -1], rtol=0, atol=0)
