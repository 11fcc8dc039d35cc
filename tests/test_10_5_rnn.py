"""10.5 Recurrent networks: torch's RNN layers against the book's recurrence computed in
numpy (``islp_ch10.reference.rnn``), the parameter shapes, weight sharing, the loss on O_L
only, embeddings as matrix products, the variants' shapes, and AR as a flattened RNN input.

Everything runs in float64; ``ATOL`` = 1e-12 covers the different summation order of torch
and numpy for O(1) activations (tanh keeps them in [-1, 1]).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from islp_ch10 import claims
from islp_ch10.models import IMDBLSTM, IMDBRNN, NYSERNN, LinearAR, count_parameters
from islp_ch10.reference.ar import ar_design, ar_response, flat_to_design_order, lag_array
from islp_ch10.reference.conv import conv2d
from islp_ch10.reference.params import doc_rnn_blocks
from islp_ch10.reference.rnn import (
    book_output_weights,
    book_param_count,
    book_params_from_torch,
    rnn_forward,
    rnn_outputs,
    torch_param_count,
)
from islp_ch10.reference.series import autocorrelation, review_word_counts, share_shorter_than, white_noise_band
from islp_ch10.solvers import lbfgs_fit

ATOL = 1e-12

# 10.5/last-output runs on each recurrent model, small where the property does not depend on
# size: name -> (build the model, draw a batch for it, the attribute holding its recurrent
# layer).  Built in this order after one seed, so every run sees the same weights and inputs.
LAST_OUTPUT_MODELS = {
    "NYSERNN": (NYSERNN, lambda: torch.randn(5, 5, 3, dtype=torch.float64), "rnn"),
    "IMDBLSTM": (
        lambda: IMDBLSTM(vocab=50, embedding_dim=8, hidden=6),
        lambda: torch.randint(0, 50, (5, 9)),
        "recurrent",
    ),
    "IMDBRNN": (
        lambda: IMDBRNN(vocab=50, embedding_dim=8, hidden=6),
        lambda: torch.randint(0, 50, (5, 9)),
        "recurrent",
    ),
}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _book_WU(rnn: nn.RNN, layer: int = 0, suffix: str = ""):
    """The book's (W, U) for one layer/direction of a torch nn.RNN."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return book_params_from_torch(*(_np(getattr(rnn, f"{n}_l{layer}{suffix}")) for n in names))


# ----------------------------------------------------------------------------- 10.5/rnn-formula
@pytest.mark.claim("10.5/rnn-formula")
@pytest.mark.parametrize("nonlinearity, g", [("tanh", np.tanh), ("relu", lambda z: np.maximum(z, 0.0))])
def test_rnn_formula(nonlinearity, g):
    """nn.RNN's hidden sequence equals A_l = g(W [1; X_l] + U A_{l-1}) computed in numpy."""
    torch.manual_seed(0)
    n, L, p, K = 4, 7, 3, 5
    rnn = nn.RNN(p, K, nonlinearity=nonlinearity, batch_first=True).double()
    X = torch.randn(n, L, p, dtype=torch.float64)
    with torch.no_grad():
        out, h_n = rnn(X)  # (n, L, K), (1, n, K)
    W, U = _book_WU(rnn)
    A = rnn_forward(X.numpy(), W, U, g=g)
    np.testing.assert_allclose(_np(out), A, rtol=0, atol=ATOL)
    np.testing.assert_allclose(_np(h_n[0]), A[:, -1], rtol=0, atol=ATOL)


@pytest.mark.claim("10.5/rnn-formula")
def test_rnn_formula_scalar_sums():
    """The matrix form in the reference is the chapter's scalar formula: A_lk = g(w_k0 +
    sum_j w_kj X_lj + sum_s u_ks A_{l-1,s}) and O_l = b_0 + sum_k b_k A_lk, written as loops."""
    rng = np.random.default_rng(5)
    L, p, K = 4, 2, 3
    X, W, U, B = (rng.standard_normal(s) for s in ((L, p), (K, p + 1), (K, K), (K + 1,)))
    A = np.zeros((L + 1, K))  # A[0] is A_0 = 0
    O = np.zeros(L + 1)
    for l in range(1, L + 1):
        for k in range(K):
            z = W[k, 0] + sum(W[k, j] * X[l - 1, j - 1] for j in range(1, p + 1))
            z += sum(U[k, s] * A[l - 1, s] for s in range(K))
            A[l, k] = np.tanh(z)
        O[l] = B[0] + sum(B[k + 1] * A[l, k] for k in range(K))
    np.testing.assert_allclose(rnn_forward(X, W, U), A[1:], rtol=0, atol=ATOL)
    np.testing.assert_allclose(rnn_outputs(A[1:], B), O[1:], rtol=0, atol=ATOL)


@pytest.mark.claim("10.5/rnn-formula")
def test_rnn_formula_nyse_model():
    """NYSERNN in evaluation mode returns O_L = B [1; A_L] of the reference recurrence."""
    torch.manual_seed(1)
    model = NYSERNN().double().eval()
    X = torch.randn(6, 5, 3, dtype=torch.float64)
    with torch.no_grad():
        pred = model(X)  # (6,)
    W, U = _book_WU(model.rnn)
    B = book_output_weights(_np(model.dense.weight), _np(model.dense.bias))
    O = rnn_outputs(rnn_forward(X.numpy(), W, U), B)  # (6, 5): O_1..O_5
    np.testing.assert_allclose(_np(pred), O[:, -1], rtol=0, atol=ATOL)


def test_rnn_hidden_state_carries_over_between_sequence_pieces():
    """A_l depends on A_{l-1}: running X_1..X_L in two pieces, the second starting from the
    first piece's last state A0, gives the same activations as one run."""
    rng = np.random.default_rng(0)
    X, W, U = rng.normal(size=(2, 6, 3)), rng.normal(size=(4, 4)), 0.5 * rng.normal(size=(4, 4))
    whole = rnn_forward(X, W, U)
    first = rnn_forward(X[:, :2], W, U)
    second = rnn_forward(X[:, 2:], W, U, A0=first[:, -1])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-12)
    assert not np.allclose(rnn_forward(X[:, 2:], W, U), whole[:, 2:])  # A0 matters


def test_rnn_weights_must_have_the_books_shapes():
    """W is K x (p+1) for inputs with p entries, U K x K, B K+1 entries; the errors name the shapes."""
    W, U = np.zeros((4, 4)), np.zeros((4, 4))
    with pytest.raises(ValueError, match=r"W is K x \(p\+1\) = \(4, 4\) but X_l has 5 entries"):
        rnn_forward(np.zeros((6, 5)), W, U)
    with pytest.raises(ValueError, match=r"U must be K x K = 4 x 4, got \(3, 3\)"):
        rnn_forward(np.zeros((6, 3)), W, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"B must have K\+1 = 5 entries, got shape \(4,\)"):
        rnn_outputs(np.zeros((6, 4)), np.zeros(4))


# ----------------------------------------------------------------------------- 10.5/rnn-shapes
@pytest.mark.claim("10.5/rnn-shapes")
@pytest.mark.parametrize("p, K", [(3, 12), (32, 32), (1, 4)])
def test_rnn_shapes(p, K):
    """W is K x (p+1), U is K x K, B has K+1 entries.  torch stores W's bias column twice
    (bias_ih and bias_hh, only their sum matters), so nn.RNN has K more parameters than W and U."""
    torch.manual_seed(2)
    rnn, dense = nn.RNN(p, K, batch_first=True).double(), nn.Linear(K, 1).double()
    shapes = {n: tuple(t.shape) for n, t in rnn.named_parameters()}
    assert shapes == {"weight_ih_l0": (K, p), "weight_hh_l0": (K, K), "bias_ih_l0": (K,), "bias_hh_l0": (K,)}
    W, U = _book_WU(rnn)
    B = book_output_weights(_np(dense.weight), _np(dense.bias))
    counts = book_param_count(p, K)
    assert (W.shape, U.shape, B.shape) == ((K, p + 1), (K, K), (K + 1,))
    assert (W.size, U.size, B.size) == (counts["W"], counts["U"], counts["B"])
    assert count_parameters(rnn) == counts["W"] + counts["U"] + K == torch_param_count(p, K)
    assert count_parameters(dense) == counts["B"]
    # only the sum of the two biases matters: move all of bias_hh into bias_ih, same function
    X = torch.randn(2, 6, p, dtype=torch.float64)
    with torch.no_grad():
        before, _ = rnn(X)
        rnn.bias_ih_l0 += rnn.bias_hh_l0
        rnn.bias_hh_l0.zero_()
        after, _ = rnn(X)
    torch.testing.assert_close(after, before, rtol=0, atol=ATOL)


@pytest.mark.claim("10.5/rnn-shapes")
def test_rnn_shapes_nyse_model():
    """NYSERNN (p = 3, K = 12): book count 12*4 + 12*12 + 13 = 205; torch has 12 more (217)."""
    counts = book_param_count(3, 12)
    assert sum(counts.values()) == 205
    assert count_parameters(NYSERNN()) == 205 + 12 == 217


# ----------------------------------------------------------------------------- 10.5/weight-sharing
@pytest.mark.claim("10.5/weight-sharing")
@given(L=st.integers(1, 40), seed=st.integers(0, 2**16))
@example(L=5, seed=0)  # the lab's five lags
def test_weight_sharing(L, seed):
    """One set of W, U (and B) for every position: the parameter count does not depend on L,
    and running the layer over L positions equals applying the same one-step map L times."""
    torch.manual_seed(seed)
    model = NYSERNN(lags=L).double().eval()
    assert count_parameters(model) == count_parameters(NYSERNN(lags=5)) == 217
    X = torch.randn(3, L, 3, dtype=torch.float64)
    with torch.no_grad():
        whole, _ = model.rnn(X)  # (3, L, 12)
        h = torch.zeros(1, 3, 12, dtype=torch.float64)
        steps = []
        for l in range(L):  # the same module at every position
            step_out, h = model.rnn(X[:, l : l + 1], h)
            steps.append(step_out)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, rtol=0, atol=ATOL)


@pytest.mark.claim("10.5/weight-sharing")
def test_weight_sharing_gradient_sums_over_positions():
    """Because W is shared, dLoss/dW is the sum of the per-position contributions: with the
    recurrence cut (U = 0) and a loss summing all outputs, it equals the sum of the gradients
    of L independent one-step problems."""
    torch.manual_seed(3)
    L, p, K = 6, 3, 4
    rnn = nn.RNN(p, K, batch_first=True).double()
    with torch.no_grad():
        rnn.weight_hh_l0.zero_()
    X = torch.randn(2, L, p, dtype=torch.float64)
    out, _ = rnn(X)
    (grad_seq,) = torch.autograd.grad(out.sum(), rnn.weight_ih_l0)
    grad_steps = sum(torch.autograd.grad(rnn(X[:, l : l + 1])[0].sum(), rnn.weight_ih_l0)[0] for l in range(L))
    torch.testing.assert_close(grad_seq, grad_steps, rtol=1e-12, atol=ATOL)


# ----------------------------------------------------------------------------- 10.5/last-output
def _capture_recurrent_output(module: nn.Module, store: dict):
    """Forward hook keeping the recurrent layer's full output sequence, with its gradient."""

    def hook(_module, _inputs, output):
        seq = output[0]
        seq.retain_grad()
        store["seq"] = seq

    return module.register_forward_hook(hook)


@pytest.mark.claim("10.5/last-output")
@pytest.mark.parametrize("name", list(LAST_OUTPUT_MODELS))
def test_last_output(name):
    """The squared-error loss sees only the last position: its gradient with respect to the
    recurrent layer's outputs at positions 1..L-1 is exactly zero (they matter only through
    the recurrence), and the prediction is the dense layer applied to A_L."""
    build, batch, layer_name = LAST_OUTPUT_MODELS[name]
    torch.manual_seed(4)
    model = build().double().eval()
    x, layer = batch(), getattr(model, layer_name)
    store: dict = {}
    handle = _capture_recurrent_output(layer, store)
    pred = model(x)
    handle.remove()
    seq = store["seq"]  # (B, L, K)
    torch.testing.assert_close(pred, model.dense(seq[:, -1]).flatten(), rtol=0, atol=ATOL)
    y = torch.randn_like(pred)
    ((y - pred) ** 2).sum().backward()
    assert torch.count_nonzero(seq.grad[:, :-1]) == 0
    assert torch.count_nonzero(seq.grad[:, -1]) > 0


@pytest.mark.claim("10.5/last-output")
def test_last_output_earlier_inputs_act_through_recurrence():
    """Earlier inputs X_1..X_{L-1} reach O_L only through U: with U = 0 changing them leaves
    the prediction unchanged; with the trained-from-init U they do change it."""
    torch.manual_seed(5)
    model = NYSERNN().double().eval()
    X = torch.randn(4, 5, 3, dtype=torch.float64)
    X_early_changed = X.clone()
    X_early_changed[:, :-1] += torch.randn(4, 4, 3, dtype=torch.float64)
    with torch.no_grad():
        assert not torch.allclose(model(X), model(X_early_changed))
        model.rnn.weight_hh_l0.zero_()
        torch.testing.assert_close(model(X), model(X_early_changed), rtol=0, atol=0)


# ----------------------------------------------------------------------------- 10.5/embedding
@pytest.mark.claim("10.5/embedding")
@given(vocab=st.integers(2, 60), dim=st.integers(1, 8), data=st.data())
@example(vocab=10_003, dim=32, data=None)  # the lab's IMDB embedding
def test_embedding(vocab, dim, data):
    """e_i = E v_i: nn.Embedding's weight is (vocab, dim), so E = weight^T (dim x vocab) and
    the lookup of word i equals E times the one-hot vector v_i, exactly."""
    if data is None:
        idx = [0, 1, 2, 9_999, 10_002]
    else:
        idx = data.draw(st.lists(st.integers(0, vocab - 1), min_size=1, max_size=10), label="word ids")
    torch.manual_seed(vocab * 31 + dim)
    emb = nn.Embedding(vocab, dim).double()
    E = _np(emb.weight).T  # (dim, vocab)
    ids = torch.tensor(idx)
    looked_up = _np(emb(ids))  # (len(idx), dim)
    for row, i in zip(looked_up, idx):
        v = np.zeros(vocab)
        v[i] = 1.0
        np.testing.assert_array_equal(E @ v, row)
    one_hot = F.one_hot(ids, vocab).double()  # (len(idx), vocab)
    torch.testing.assert_close(one_hot @ emb.weight, emb(ids), rtol=0, atol=0)


# ----------------------------------------------------------------------------- 10.5/variants
@pytest.mark.claim("10.5/variants")
def test_variants_conv1d():
    """A 1-D convolution over an embedded sequence (B, L, m): C filters of width k span all m
    embedding coordinates and slide along the sequence, giving (B, C, L - k + 1); each output
    is the 2-D valid convolution of the m x L embedded document with an m x k filter."""
    torch.manual_seed(6)
    B, L, vocab, m, C, k = 2, 11, 30, 4, 5, 3
    emb, conv = nn.Embedding(vocab, m).double(), nn.Conv1d(m, C, kernel_size=k).double()
    tokens = torch.randint(0, vocab, (B, L))
    with torch.no_grad():
        e = emb(tokens)  # (B, L, m)
        out = conv(e.transpose(1, 2))  # (B, C, L - k + 1)
    assert out.shape == (B, C, L - k + 1)
    weight, bias = _np(conv.weight), _np(conv.bias)  # (C, m, k), (C,)
    for b in range(B):
        for c in range(C):
            ref = conv2d(_np(e[b]).T, weight[c])  # (m, L) * (m, k) -> (1, L - k + 1)
            np.testing.assert_allclose(_np(out[b, c]), ref[0] + bias[c], rtol=0, atol=ATOL)


@pytest.mark.claim("10.5/variants")
def test_variants_stacked():
    """Stacked RNNs: the second layer reads the first layer's hidden sequence.  Two stacked
    nn.RNN layers equal the reference recurrence applied twice; nn.LSTM(num_layers=2) keeps
    the (B, L, K) output with one final state per layer."""
    torch.manual_seed(7)
    B, L, p, K = 3, 6, 4, 5
    rnn = nn.RNN(p, K, num_layers=2, batch_first=True).double()
    X = torch.randn(B, L, p, dtype=torch.float64)
    with torch.no_grad():
        out, h_n = rnn(X)
    A1 = rnn_forward(X.numpy(), *_book_WU(rnn, 0))
    A2 = rnn_forward(A1, *_book_WU(rnn, 1))
    assert out.shape == (B, L, K) and h_n.shape == (2, B, K)
    np.testing.assert_allclose(_np(out), A2, rtol=0, atol=ATOL)
    np.testing.assert_allclose(_np(h_n[0]), A1[:, -1], rtol=0, atol=ATOL)
    lstm = nn.LSTM(p, K, num_layers=2, batch_first=True)
    out, (h, c) = lstm(X.float())
    assert out.shape == (B, L, K) and h.shape == c.shape == (2, B, K)


@pytest.mark.claim("10.5/variants")
def test_variants_bidirectional():
    """A bidirectional RNN scans the sequence both ways: output (B, L, 2K), the first K units
    the forward recurrence, the last K the recurrence run on the reversed sequence (reversed back)."""
    torch.manual_seed(8)
    B, L, p, K = 2, 7, 3, 4
    rnn = nn.RNN(p, K, bidirectional=True, batch_first=True).double()
    X = torch.randn(B, L, p, dtype=torch.float64)
    with torch.no_grad():
        out, h_n = rnn(X)
    assert out.shape == (B, L, 2 * K) and h_n.shape == (2, B, K)
    forward = rnn_forward(X.numpy(), *_book_WU(rnn))
    backward = rnn_forward(X.numpy()[:, ::-1], *_book_WU(rnn, suffix="_reverse"))[:, ::-1]
    np.testing.assert_allclose(_np(out[..., :K]), forward, rtol=0, atol=ATOL)
    np.testing.assert_allclose(_np(out[..., K:]), backward, rtol=0, atol=ATOL)
    out, _ = nn.LSTM(p, K, bidirectional=True, batch_first=True)(X.float())
    assert out.shape == (B, L, 2 * K)


class _Seq2Seq(nn.Module):
    """Encoder LSTM reads n inputs; its final state starts a decoder LSTM that emits m outputs."""

    def __init__(self, p: int, q: int, K: int, n_out_classes: int):
        super().__init__()
        self.encoder = nn.LSTM(p, K, batch_first=True)
        self.decoder = nn.LSTM(q, K, batch_first=True)
        self.head = nn.Linear(K, n_out_classes)

    def forward(self, source: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(source)  # (1, B, K) twice: the "meaning"
        out, _ = self.decoder(target_in, state)  # (B, m, K)
        return self.head(out)  # (B, m, classes)


@pytest.mark.claim("10.5/variants")
@pytest.mark.parametrize("n, m", [(7, 3), (3, 7), (5, 5), (1, 4)])
def test_variants_seq2seq(n, m):
    """Sequence to sequence: n inputs in, m outputs out, for any n and m; the outputs depend on
    the inputs only through the encoder's final state."""
    torch.manual_seed(9)
    B, p, q, K, classes = 2, 4, 3, 6, 10
    model = _Seq2Seq(p, q, K, classes)
    source, target_in = torch.randn(B, n, p), torch.randn(B, m, q)
    with torch.no_grad():
        out = model(source, target_in)
        out_other = model(torch.randn(B, n, p), target_in)
    assert out.shape == (B, m, classes)
    assert not torch.allclose(out, out_other)


# ----------------------------------------------------------------------------- 10.5/flatten
def _synthetic_series(T: int = 300, p: int = 3, seed: int = 0) -> np.ndarray:
    """A stationary VAR(2)-like series (T, p): stands in for NYSE, which the data tests use."""
    rng = np.random.default_rng(seed)
    s = np.zeros((T, p))
    A1, A2 = 0.5 * np.eye(p) + 0.05 * rng.standard_normal((p, p)), -0.2 * np.eye(p)
    for t in range(2, T):
        s[t] = A1 @ s[t - 1] + A2 @ s[t - 2] + rng.standard_normal(p)
    return s


def _least_squares_linear_ar(series: np.ndarray, L: int):
    M, y = ar_design(series, L), ar_response(series, L, column=0)
    beta = np.linalg.lstsq(M, y, rcond=None)[0]
    weights = np.empty(L * series.shape[1])
    weights[flat_to_design_order(L, series.shape[1])] = beta[1:]  # design order -> flattened order
    return M, y, beta, weights


@pytest.mark.claim("10.5/flatten")
def test_flatten():
    """AR(L) on p series is the RNN's (n, L, p) input flattened into L*p predictors and one
    Linear layer: LinearAR carrying the least-squares coefficients reproduces M @ beta."""
    L, p = 5, 3
    series = _synthetic_series()
    M, _y, beta, weights = _least_squares_linear_ar(series, L)
    X = lag_array(series, L)  # (n, 5, 3), oldest lag first
    n = X.shape[0]
    np.testing.assert_array_equal(X.reshape(n, L * p)[:, flat_to_design_order(L, p)], M[:, 1:])
    model = LinearAR(L * p).double()
    with torch.no_grad():
        model.linear.weight.copy_(torch.from_numpy(weights)[None])
        model.linear.bias.fill_(beta[0])
        pred = model(torch.from_numpy(X))
    np.testing.assert_allclose(_np(pred), M @ beta, rtol=0, atol=ATOL)


@pytest.mark.claim("10.5/flatten")
@pytest.mark.parametrize("seed", claims.get("10.5/flatten").seeds)
def test_flatten_trained_matches_least_squares(seed):
    """Trained on the squared-error loss to convergence (full-batch L-BFGS, float64), a
    LinearAR reaches the least-squares coefficients: the loss is a convex quadratic with a
    unique minimiser since M has full column rank.  ``seed`` draws the series and the
    initial weights; the largest coefficient error must stay within the catalogue's
    threshold (coefficients are O(0.1-1); the optimiser stops on a gradient norm of 1e-12)."""
    claim = claims.get("10.5/flatten")
    L, p = 5, 3
    series = _synthetic_series(seed=seed)
    M, y, beta, weights = _least_squares_linear_ar(series, L)
    X, target = torch.from_numpy(lag_array(series, L)), torch.from_numpy(y)
    torch.manual_seed(seed)
    model = lbfgs_fit(LinearAR(L * p).double(), X, target)  # the experiments' fit (20-40 iterations needed)
    fitted = np.concatenate([_np(model.linear.bias), _np(model.linear.weight)[0]])
    error = np.abs(fitted - np.concatenate([[beta[0]], weights])).max()
    assert claim.passes(error), f"largest coefficient error {error:.2e} > {claim.threshold}"
    with torch.no_grad():
        np.testing.assert_allclose(_np(model(X)), M @ beta, rtol=0, atol=10 * claim.threshold)


def test_ar_lags_must_leave_a_target():
    """L lags of a length-T series leave T - L >= 1 targets: L = T is refused, L = T - 1 is not."""
    s = np.arange(5.0)
    assert lag_array(s, 4).shape == (1, 4, 1)
    with pytest.raises(ValueError, match="need 1 <= L < T, got L=5, T=5"):
        lag_array(s, 5)
    with pytest.raises(ValueError, match=r"series must have shape \(T,\) or \(T, p\), got \(2, 2, 2\)"):
        lag_array(np.zeros((2, 2, 2)), 1)


# ----------------------------------------------------------------------------- 10.5/doc-rnn-params
def _check_doc_rnn_counts(blocks_fn, D: int, m: int, K: int, outputs: int) -> None:
    """The book's blocks ``blocks_fn(D, m, K, outputs)`` match the tensors of Embedding(D, m) ->
    RNN(m, K) -> Linear(K, outputs); torch's second RNN bias adds K; E is the largest block
    whenever the dictionary is larger than the rest of the network."""
    embedding, rnn, head = nn.Embedding(D, m), nn.RNN(m, K, batch_first=True), nn.Linear(K, outputs)
    blocks = blocks_fn(D, m, K, outputs)
    assert blocks["E"] == embedding.weight.numel()
    assert blocks["W"] == rnn.weight_ih_l0.numel() + rnn.bias_ih_l0.numel()
    assert blocks["U"] == rnn.weight_hh_l0.numel()
    assert blocks["B"] == head.weight.numel() + head.bias.numel()
    total = sum(count_parameters(mod) for mod in (embedding, rnn, head))
    assert total == sum(blocks.values()) + K
    if blocks["W"] + blocks["U"] + blocks["B"] < D:
        assert blocks["E"] == max(blocks.values())


@pytest.mark.claim("10.5/doc-rnn-params")
def test_doc_rnn_params():
    """The lab's sizes: a 10,003-word dictionary embedded in m = 32 dimensions, K = 32 units.
    A two-unit softmax output has 2 (K + 1) = 66 weights; the lab's LSTM and simple RNN carry
    the 10,003 x 32 embedding, by far their largest tensor."""
    D, m = claims.book_value("10.5/doc-rnn-params")
    K = 32
    _check_doc_rnn_counts(doc_rnn_blocks, D, m, K, outputs=2)
    assert doc_rnn_blocks(D, m, K, outputs=2)["B"] == 66
    for model in (IMDBLSTM(), IMDBRNN()):
        tensors = dict(model.named_parameters())
        embeddings = [mod for mod in model.modules() if isinstance(mod, nn.Embedding)]
        assert len(embeddings) == 1 and tuple(embeddings[0].weight.shape) == (D, m)
        biggest = max(tensors.values(), key=lambda t: t.numel())
        assert biggest is embeddings[0].weight
        assert embeddings[0].weight.numel() > count_parameters(model) / 2
    # the simple RNN is exactly the book's blocks with one output unit, plus torch's second bias
    assert count_parameters(IMDBRNN()) == sum(doc_rnn_blocks(D, m, K, outputs=1).values()) + K


@pytest.mark.claim("10.5/doc-rnn-params")
@given(D=st.integers(1, 300), m=st.integers(1, 8), K=st.integers(1, 8), outputs=st.integers(1, 3))
def test_doc_rnn_params_hypothesis(D, m, K, outputs):
    _check_doc_rnn_counts(doc_rnn_blocks, D, m, K, outputs)


@pytest.mark.claim("10.5/doc-rnn-params")
def test_doc_rnn_params_rejects_broken_counts():
    """Broken variants: W without its bias column (K x m) and B without its bias (K per output)."""

    def no_w_bias(D, m, K, outputs):
        return {**doc_rnn_blocks(D, m, K, outputs), "W": K * m}

    def no_b_bias(D, m, K, outputs):
        return {**doc_rnn_blocks(D, m, K, outputs), "B": outputs * K}

    for broken in (no_w_bias, no_b_bias):
        with pytest.raises(AssertionError):
            _check_doc_rnn_counts(broken, 100, 4, 3, 2)


@pytest.mark.parametrize("name", ["dictionary", "embed_dim", "hidden", "outputs"])
def test_doc_rnn_block_sizes_must_be_positive(name):
    """Every block size must be >= 1, and the error names the one that is not."""
    sizes = dict(dictionary=10, embed_dim=3, hidden=4, outputs=1) | {name: 0}
    with pytest.raises(ValueError, match=rf"^{name} must be >= 1, got 0$"):
        doc_rnn_blocks(**sizes)


def test_doc_rnn_has_one_output_unless_told_otherwise():
    """The book's document classifier ends in one logit (chapter10-notes.zh.txt:1558, 1568),
    so one output is the default: B has K + 1 entries."""
    assert doc_rnn_blocks(10, 3, 4)["B"] == 5


# ----------------------------------------------------------------------------- 10.5/doc-lengths
def _toy_sequences(lengths):
    """Reviews of the given word counts, encoded and padded as the IMDB loader does (L = 500)."""
    from islp_ch10.data.imdb import build_vocab, sequences

    docs = [["good"] * n for n in lengths]
    return sequences(docs, build_vocab(docs), maxlen=claims.get("10.5/doc-lengths").extra["maxlen"])


def _check_counts_on_toy(count_fn) -> None:
    """Reviews of 3, 498, 499, 500 and 800 words: the first three are shorter than 500."""
    lengths = [3, 498, 499, 500, 800]
    counts = count_fn(_toy_sequences(lengths))
    assert [c < 500 for c in counts] == [n < 500 for n in lengths], list(counts)
    assert share_shorter_than(counts, 500) == pytest.approx(3 / 5)


@pytest.mark.claim("10.5/doc-lengths")
def test_doc_lengths_toy():
    _check_counts_on_toy(review_word_counts)
    np.testing.assert_array_equal(review_word_counts(_toy_sequences([3, 498, 499])), [3, 498, 499])


@pytest.mark.claim("10.5/doc-lengths")
def test_doc_lengths_rejects_counting_the_start_token():
    """Broken variant: counting every non-padding id counts the start marker as a word, so a
    499-word review looks like a 500-word one."""
    with pytest.raises(AssertionError):
        _check_counts_on_toy(lambda S: np.sum(S != 0, axis=1))


@pytest.mark.data
@pytest.mark.claim("10.5/doc-lengths")
def test_doc_lengths(imdb):
    """On the 25,000 training and the 25,000 test reviews, each, more than 90% have fewer than 500 words."""
    claim = claims.get("10.5/doc-lengths")
    for S in (imdb.S_train, imdb.S_test):
        assert S.shape == (25_000, claim.extra["maxlen"])
        share = share_shorter_than(review_word_counts(S), claim.extra["maxlen"])
        assert share > claim.book_value, f"only {share:.2%} of the reviews are shorter than 500 words"


def test_review_word_counts_truncated_reviews_count_maxlen():
    """Padding (0) and the start marker (1) are not words; a row that begins with a word id was
    cut to maxlen and counts maxlen."""
    S = np.array([[0, 0, 1, 5, 6], [7, 8, 9, 10, 11], [1, 2, 3, 4, 5], [0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(review_word_counts(S), [2, 5, 4, 0])
    with pytest.raises(ValueError, match=r"expected an \(n, maxlen\) array of ids, got shape \(5,\)"):
        review_word_counts(S[0])


def test_share_shorter_than_counts_strictly_below_L():
    """The share of counts strictly below L, defined for one count or more."""
    assert share_shorter_than(np.array([3]), 4) == 1.0
    assert share_shorter_than(np.array([3, 4]), 4) == 0.5
    with pytest.raises(ValueError, match="no counts given"):
        share_shorter_than(np.array([]), 4)


# ----------------------------------------------------------------------------- 10.5/autocorrelation
def _check_autocorrelated(acf_fn, v: np.ndarray) -> np.ndarray:
    """Lags 1..5 of ``acf_fn(v, lags)`` are positive and outside +-2/sqrt(T)."""
    lo, hi = claims.book_value("10.5/autocorrelation")
    r = np.asarray(acf_fn(v, np.arange(lo, hi + 1)))
    band = white_noise_band(len(v))
    assert np.all(r > band), f"autocorrelations {np.round(r, 4)} not all above the band {band:.4f}"
    return r


@pytest.mark.claim("10.5/autocorrelation")
def test_autocorrelation_example():
    """v = 1, 2, 3, 4, 5 by hand: centred values -2..2, sum of squares 10; lag 1: (2 + 0 + 0 + 2) / 10."""
    v = np.arange(1.0, 6.0)
    np.testing.assert_allclose(autocorrelation(v, [1, 2, 3, 4]), [0.4, -0.1, -0.4, -0.4], rtol=0, atol=1e-15)
    # broken variant: without centring, lag 1 would be (2 + 6 + 12 + 20) / 55
    uncentred = (v[:-1] @ v[1:]) / (v @ v)
    assert uncentred == pytest.approx(40 / 55) and abs(uncentred - 0.4) > 0.3


@pytest.mark.claim("10.5/autocorrelation")
@given(
    T=st.integers(3, 60),
    k=st.integers(1, 5),
    a=st.floats(0.1, 10.0),
    b=st.floats(-10.0, 10.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_autocorrelation_hypothesis(T, k, a, b, seed):
    """Equal to statsmodels' acf, within [-1, 1], and unchanged by v -> a v + b (a > 0)."""
    acf = pytest.importorskip("statsmodels.tsa.stattools").acf
    k = min(k, T - 1)
    v = np.cumsum(np.random.default_rng(seed).normal(size=T))
    r = autocorrelation(v, range(1, k + 1))
    np.testing.assert_allclose(r, acf(v, nlags=k, fft=False)[1:], rtol=0, atol=1e-12)
    assert np.all(np.abs(r) <= 1 + 1e-12)
    np.testing.assert_allclose(autocorrelation(a * v + b, range(1, k + 1)), r, rtol=0, atol=1e-9)


@pytest.mark.data
@pytest.mark.claim("10.5/autocorrelation")
def test_autocorrelation(nyse):
    """All 6,051 days of log trading volume (standardising does not change an autocorrelation)."""
    v = nyse.series["log_volume"].to_numpy()
    assert len(v) == claims.book_value("10.5/nyse-shape")
    r = _check_autocorrelated(autocorrelation, v)
    assert r.min() > 10 * white_noise_band(len(v))  # far outside, not at the edge


@pytest.mark.data
@pytest.mark.claim("10.5/autocorrelation")
def test_autocorrelation_rejects_shuffled_series(nyse):
    """Broken variant: the same days in a shuffled order (the time order lost, e.g. by a loader
    that sorts or shuffles rows) have no autocorrelation, and the check rejects them."""
    v = nyse.series["log_volume"].to_numpy()
    shuffled = np.random.default_rng(0).permutation(v)
    with pytest.raises(AssertionError):
        _check_autocorrelated(autocorrelation, shuffled)


def test_autocorrelation_lags_lie_in_1_to_T_minus_1_and_need_variance():
    """Lags lie in [1, T - 1]; a constant series has no autocorrelation (zero variance)."""
    v = np.array([1.0, 3.0, 2.0, 5.0])
    assert autocorrelation(v, [3]).shape == (1,)
    for lags in ([0], [4], [], [1, 4]):
        with pytest.raises(ValueError, match=r"lags must lie in \[1, 3\] for a series of length 4"):
            autocorrelation(v, lags)
    with pytest.raises(ValueError, match="autocorrelation of a constant series is undefined"):
        autocorrelation(np.full(4, 2.0), [1])


def test_white_noise_band_is_two_over_root_T():
    """The approximate 95% band for white-noise autocorrelations is +-2/sqrt(T), for every T >= 1."""
    assert white_noise_band(100) == pytest.approx(0.2, rel=1e-15)
    assert white_noise_band(1) == pytest.approx(2.0, rel=1e-15)
    with pytest.raises(ValueError, match="need T >= 1, got 0"):
        white_noise_band(0)


@pytest.mark.parametrize("seed", [0, 1])
def test_lbfgs_fit_reaches_least_squares_on_an_ill_conditioned_design(seed):
    """The AR fit's solver (10.5/flatten) minimises the squared error to convergence on any full-rank
    design, not only on well-conditioned lags: with columns on scales 0.1 to 100 and two of them
    correlated at 0.9999, the fitted RSS equals the least-squares RSS to 1e-10 relative (float64
    agrees to about 1e-14 there; without its line search L-BFGS stops 1e-4 to 1e-3 above it)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 6)) * np.array([1, 10, 100, 0.1, 1, 5])
    X[:, 4] = X[:, 0] + 0.01 * rng.normal(size=200)
    y = X @ rng.normal(size=6) + rng.normal(size=200)
    torch.manual_seed(seed)
    model = lbfgs_fit(nn.Sequential(nn.Linear(6, 1), nn.Flatten(0)).double(), torch.from_numpy(X), torch.from_numpy(y))
    A = np.c_[np.ones(len(y)), X]
    rss_ls = np.sum((A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2)
    with torch.no_grad():
        rss = np.sum((model(torch.from_numpy(X)).numpy() - y) ** 2)
    assert rss / rss_ls - 1 <= 1e-10, f"RSS {rss} vs least squares {rss_ls}"
