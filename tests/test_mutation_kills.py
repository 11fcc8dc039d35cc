"""Checks added after mutation testing (docs/mutation.md).

Each test states a property of the chapter's numpy references that the rest of the suite did
not pin, found because a mutant that breaks it survived ``tox -e mutation``.  They are numpy
only and run in milliseconds (fast tier).  Invalid-input tests match the one-line message, so
that an error still names what is wrong and what it got.
"""

import os
from pathlib import Path

import numpy as np
import pytest

import islp_ch10
from islp_ch10.reference import (
    backprop,
    conv,
    min_norm,
    networks,
    optim,
    params,
    pool,
    rnn,
    series,
    single_layer,
    softmax,
    splines,
)


def test_mutation_run_imports_the_mutated_copy():
    """Inside a mutmut run the package under test is the copy in mutants/, not the checkout."""
    if "MUTANT_UNDER_TEST" not in os.environ:
        pytest.skip("not inside a mutmut run: the package is wherever the user installed it")
    assert "mutants" in Path(islp_ch10.__file__).resolve().parts


# ---------------------------------------------------------------------------- 10.5 RNN
def test_rnn_hidden_state_carries_over_between_sequence_pieces():
    """A_l depends on A_{l-1}: running X_1..X_L in two pieces, the second starting from the
    first piece's last state A0, gives the same activations as one run."""
    rng = np.random.default_rng(0)
    X, W, U = rng.normal(size=(2, 6, 3)), rng.normal(size=(4, 4)), 0.5 * rng.normal(size=(4, 4))
    whole = rnn.rnn_forward(X, W, U)
    first = rnn.rnn_forward(X[:, :2], W, U)
    second = rnn.rnn_forward(X[:, 2:], W, U, A0=first[:, -1])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-12)
    assert not np.allclose(rnn.rnn_forward(X[:, 2:], W, U), whole[:, 2:])  # A0 matters


def test_rnn_shape_errors_name_the_shapes():
    """W must be K x (p+1) for inputs with p entries, U K x K, B K+1 entries."""
    W, U = np.zeros((4, 4)), np.zeros((4, 4))
    with pytest.raises(ValueError, match=r"W is K x \(p\+1\) = \(4, 4\) but X_l has 5 entries"):
        rnn.rnn_forward(np.zeros((6, 5)), W, U)
    with pytest.raises(ValueError, match=r"U must be K x K = 4 x 4, got \(3, 3\)"):
        rnn.rnn_forward(np.zeros((6, 3)), W, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"B must have K\+1 = 5 entries, got shape \(4,\)"):
        rnn.rnn_outputs(np.zeros((6, 4)), np.zeros(4))


# ---------------------------------------------------------------------------- 10.5 series
def test_white_noise_band_is_two_over_root_T():
    """The approximate 95% band for white-noise autocorrelations is +-2/sqrt(T), for every T >= 1."""
    assert series.white_noise_band(100) == pytest.approx(0.2, rel=1e-15)
    assert series.white_noise_band(1) == pytest.approx(2.0, rel=1e-15)
    with pytest.raises(ValueError, match="need T >= 1, got 0"):
        series.white_noise_band(0)


def test_review_word_counts_truncated_reviews_count_maxlen():
    """Padding (0) and the start marker (1) are not words; a row that begins with a word id was
    cut to maxlen and counts maxlen."""
    S = np.array([[0, 0, 1, 5, 6], [7, 8, 9, 10, 11], [1, 2, 3, 4, 5], [0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(series.review_word_counts(S), [2, 5, 4, 0])
    with pytest.raises(ValueError, match=r"expected an \(n, maxlen\) array of ids, got shape \(5,\)"):
        series.review_word_counts(S[0])


def test_share_shorter_than_needs_counts():
    """The share of counts strictly below L is defined for one count or more."""
    assert series.share_shorter_than(np.array([3]), 4) == 1.0
    assert series.share_shorter_than(np.array([3, 4]), 4) == 0.5
    with pytest.raises(ValueError, match="no counts given"):
        series.share_shorter_than(np.array([]), 4)


# ---------------------------------------------------------------------------- 10.1 single layer
def test_single_layer_vector_round_trip():
    """theta = (W row by row, w0, beta, beta0) and from_vector inverts vector(), beta0 last."""
    K, p = 3, 2
    theta = np.arange(1.0, K * p + 2 * K + 2)
    par = single_layer.SingleLayerParams.from_vector(theta, K, p)
    assert par.beta0 == theta[-1]
    np.testing.assert_array_equal(par.beta, theta[K * p + K : K * p + 2 * K])
    np.testing.assert_array_equal(par.vector(), theta)
    with pytest.raises(ValueError, match=r"theta must have K\*p \+ 2K \+ 1 = 13 entries, got \(12,\)"):
        single_layer.SingleLayerParams.from_vector(theta[:-1], K, p)


# ---------------------------------------------------------------------------- 10.4 softmax
def test_softmax_direct_normalises_along_the_given_axis():
    """The book's unshifted formula normalises each row (axis=-1) or column (axis=0) separately,
    and agrees with the stable softmax on moderate scores."""
    Z = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    for axis in (-1, 0):
        P = softmax.softmax_direct(Z, axis=axis)
        assert P.shape == Z.shape
        np.testing.assert_allclose(P.sum(axis=axis), 1.0, rtol=1e-12)
        np.testing.assert_allclose(P, softmax.softmax(Z, axis=axis), rtol=1e-12)


# ---------------------------------------------------------------------------- 10.8 splines
def test_truncated_power_basis_columns():
    """ESL's natural-spline basis: N_1 = 1, N_2 = x, and every N_{k+2} vanishes left of the first knot."""
    knots = np.array([0.0, 1.0, 2.0, 3.0])
    x = np.array([-2.0, -1.0, 0.5, 2.5, 4.0])
    N = splines.truncated_power_basis(x, knots)
    np.testing.assert_array_equal(N[:, 0], 1.0)
    np.testing.assert_array_equal(N[:, 1], x)
    np.testing.assert_array_equal(N[:2, 2:], 0.0)
    # N_3 at x = 0.5: D_1 - D_3 with D_1 = 0.5^3 / 3 and D_3 = 0 (x below xi_3 and xi_4)
    assert N[2, 2] == pytest.approx(0.125 / 3, rel=1e-12)


# ---------------------------------------------------------------------------- 10.7 dropout
def test_classic_dropout_accepts_phi_zero_and_rejects_one():
    """phi = 0 keeps every unit (training output equals the input); phi must lie in [0, 1)."""
    a = np.arange(1.0, 7.0)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(optim.classic_dropout(a, 0.0, rng), a)
    np.testing.assert_array_equal(optim.classic_dropout(a, 0.0, rng, training=False), a)
    for phi in (1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=rf"dropout rate phi must lie in \[0, 1\), got {phi}"):
            optim.classic_dropout(a, phi, rng)


# ---------------------------------------------------------------------------- 10.3 convolution
def test_conv2d_multichannel_rejects_wrong_ranks_and_channels():
    """The image is (C, H, W) and the filters (K, C, h, w) with the image's C."""
    x, k = np.zeros((2, 5, 5)), np.zeros((4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"expected image \(C, H, W\) and filters \(K, C, h, w\), got \(5, 5\)"):
        conv.conv2d_multichannel(x[0], k)
    with pytest.raises(ValueError, match=r"got \(2, 5, 5\), \(2, 3, 3\)"):
        conv.conv2d_multichannel(x, k[0])
    with pytest.raises(ValueError, match="filters have 3 channels but the image has 2"):
        conv.conv2d_multichannel(x, np.zeros((4, 3, 2, 2)))  # 2x2 filters: C is axis 1, not 2


def test_compose_kernels_rejects_non_2d_filters():
    """Only two 2-D filters compose into one."""
    with pytest.raises(ValueError, match=r"two 2-D filters, got shapes \(3,\), \(3, 3\)"):
        conv.compose_kernels(np.zeros(3), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"got shapes \(3, 3\), \(3,\)"):
        conv.compose_kernels(np.zeros((3, 3)), np.zeros(3))


# ---------------------------------------------------------------------------- 10.8 min norm
def test_min_norm_closed_form_square_and_tall():
    """With n = p the closed form is the unique solution; n > p is refused (X X^T is singular)."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(4, 4)), rng.normal(size=4)
    np.testing.assert_allclose(min_norm.min_norm_closed_form(X, y), np.linalg.solve(X, y), rtol=1e-10)
    with pytest.raises(ValueError, match=r"the closed form needs n <= p, got X of shape \(5, 4\)"):
        min_norm.min_norm_closed_form(rng.normal(size=(5, 4)), rng.normal(size=5))


# ---------------------------------------------------------------------------- counts, pooling
@pytest.mark.parametrize("name", ["dictionary", "embed_dim", "hidden", "outputs"])
def test_doc_rnn_blocks_rejects_empty_blocks(name):
    """Every block size must be >= 1, and the error names the one that is not."""
    sizes = dict(dictionary=10, embed_dim=3, hidden=4, outputs=1) | {name: 0}
    with pytest.raises(ValueError, match=rf"^{name} must be >= 1, got 0$"):
        params.doc_rnn_blocks(**sizes)


@pytest.mark.parametrize("fn", [pool.max_pool2d, pool.avg_pool2d])
def test_pooling_errors_name_the_pool(fn):
    """A pool over fewer than 2 axes says which pool refused it."""
    with pytest.raises(ValueError, match=rf"^{fn.__name__} needs at least 2 axes, got shape \(4,\)$"):
        fn(np.zeros(4))


# ---------------------------------------------------------------------------- 10.7 fitting
def test_early_stopping_counts_epochs_without_improvement():
    """Lightning's rule: stop when `patience` (default 3) epochs in a row fail to beat the best by
    more than min_delta; epochs count from 0."""
    ES = optim.EarlyStoppingResult
    loss = [1.0, 0.8, 0.85, 0.9, 0.95, 0.7]
    assert optim.early_stopping(loss) == ES(stopped_epoch=4, best_epoch=1, epochs_run=5)
    assert optim.early_stopping(loss, patience=4) == ES(stopped_epoch=None, best_epoch=5, epochs_run=6)
    # mode="max": higher is better (an accuracy)
    acc = [0.5, 0.7, 0.6, 0.65, 0.69]
    assert optim.early_stopping(acc, mode="max") == ES(stopped_epoch=4, best_epoch=1, epochs_run=5)
    # min_delta: 0.95, 0.96, 0.97 do not beat 1.0 by more than 0.1, so patience runs out
    assert optim.early_stopping([1.0, 0.95, 0.96, 0.97], min_delta=0.1) == ES(3, 0, 4)
    # ... and in mode "max" it is measured on the values themselves: +0.05 is no improvement, +0.08 is
    assert optim.early_stopping([0.5, 0.55, 0.58], patience=2, min_delta=0.06, mode="max") == ES(None, 2, 3)
    # a non-finite value stops at once; before any finite value no epoch is best
    assert optim.early_stopping([1.0, float("nan")]) == ES(1, 0, 2)
    assert optim.early_stopping([float("nan")]) == ES(0, -1, 1)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'mean'"):
        optim.early_stopping(loss, mode="mean")


def test_steps_per_epoch_bounds():
    """No observations make no steps; a negative n or a batch size below 1 is refused."""
    assert optim.steps_per_epoch(0, 32) == 0
    assert optim.steps_per_epoch(1, 32) == 1
    for n, b in ((-1, 32), (10, 0)):
        with pytest.raises(ValueError, match=rf"need n >= 0 and batch_size >= 1, got n={n}, batch_size={b}"):
            optim.steps_per_epoch(n, b)


def test_gradient_descent_zero_steps_returns_the_start():
    """Zero iterations leave theta0 (the path is theta0 alone); negative counts are refused."""
    X, y, theta0 = np.eye(2), np.ones(2), np.array([3.0, -1.0])
    np.testing.assert_array_equal(optim.gradient_descent(X, y, theta0, 0.1, 0), theta0)
    np.testing.assert_array_equal(optim.gradient_descent(X, y, theta0, 0.1, 0, return_path=True), [theta0])
    with pytest.raises(ValueError, match="steps must be >= 0, got -1"):
        optim.gradient_descent(X, y, theta0, 0.1, -1)


def test_row_space_projector_ignores_rounding_level_singular_values():
    """u v^T has rank 1: its row-space projector is v v^T / |v|^2, although the SVD returns
    singular values of order 1e-17 besides the real one; the zero matrix projects onto {0}."""
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(5, 1)), rng.normal(size=(1, 4))
    P = optim.row_space_projector(u @ v)
    np.testing.assert_allclose(P, v.T @ v / (v @ v.T), atol=1e-12)
    np.testing.assert_array_equal(optim.row_space_projector(np.zeros((3, 4))), np.zeros((4, 4)))


def test_dropout_rates_bounds():
    """phi = 0 drops nothing (mask of ones, expectation unchanged); phi >= 1 or < 0 is refused."""
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(optim.dropout_mask((3, 4), 0.0, rng), np.ones((3, 4)))
    assert optim.expected_over_masks(np.sum, 3, 0.0, 1.0) == pytest.approx(3.0)
    for phi in (1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=rf"dropout rate phi must lie in \[0, 1\), got {phi}"):
            optim.dropout_mask((3,), phi, rng)
        with pytest.raises(ValueError, match=rf"dropout rate phi must lie in \[0, 1\), got {phi}"):
            optim.expected_over_masks(np.sum, 3, phi, 1.0)
    assert optim.expected_over_masks(lambda m: 7.0, 0, 0.5, 2.0) == 7.0  # K = 0: one empty mask
    with pytest.raises(ValueError, match="enumerating 2\\^K masks needs 0 <= K <= 16, got K = 17"):
        optim.expected_over_masks(np.sum, 17, 0.5, 2.0)


def test_classic_dropout_trains_by_default_with_independent_unit_masks():
    """Training is the default mode; each unit is kept (unchanged) or zeroed on its own draw."""
    a = np.arange(1.0, 201.0)
    out = optim.classic_dropout(a, 0.5, np.random.default_rng(0))
    kept = out != 0
    np.testing.assert_array_equal(out[kept], a[kept])
    assert 0 < kept.sum() < a.size


# ---------------------------------------------------------------------------- 10.4 entropy etc.
def test_logsumexp_rows_far_apart():
    """logsumexp along axis -1 shifts each row by its own maximum: rows at +-1000 are both finite."""
    Z = np.array([[1000.0, 1000.0], [-1000.0, -1000.0]])
    np.testing.assert_allclose(softmax.logsumexp(Z), [1000 + np.log(2), -1000 + np.log(2)], rtol=1e-15)


def test_information_measures_are_per_row():
    """Entropy, cross-entropy and KL divergence reduce the last axis only: one value per distribution."""
    p = np.array([[0.5, 0.5], [1.0, 0.0]])
    q = np.array([[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(softmax.entropy(p), [np.log(2), 0.0], rtol=1e-15)
    np.testing.assert_allclose(
        softmax.distribution_cross_entropy(p, q), [-0.5 * np.log(0.25) - 0.5 * np.log(0.75), np.log(2)], rtol=1e-15
    )
    np.testing.assert_allclose(
        softmax.kl_divergence(p, q), softmax.distribution_cross_entropy(p, q) - softmax.entropy(p), rtol=1e-12
    )


def test_multinomial_nll_shapes():
    """Scores are (n, M) with one label per row."""
    with pytest.raises(ValueError, match=r"Z must be \(n, M\) and labels \(n,\), got \(3,\) and \(3,\)"):
        softmax.multinomial_nll(np.array([0, 1, 2]), np.zeros(3))
    with pytest.raises(ValueError, match=r"got \(3, 2\) and \(2,\)"):
        softmax.multinomial_nll(np.array([0, 1]), np.zeros((3, 2)))


# ---------------------------------------------------------------------------- 10.8 min norm
def test_min_norm_lstsq_rcond_cuts_small_singular_values():
    """A cut-off rcond treats singular values below rcond * s_max as zero (pinv's rule)."""
    X, y = np.diag([1.0, 1e-3]), np.ones(2)
    np.testing.assert_allclose(min_norm.min_norm_lstsq(X, y), [1.0, 1e3], rtol=1e-12)
    np.testing.assert_allclose(min_norm.min_norm_lstsq(X, y, rcond=1e-2), [1.0, 0.0], atol=1e-15)


# ---------------------------------------------------------------------------- 10.5 AR design
def test_ar_lags_must_leave_a_target():
    """L lags of a length-T series leave T - L >= 1 targets: L = T is refused, L = T - 1 is not."""
    from islp_ch10.reference import ar

    s = np.arange(5.0)
    assert ar.lag_array(s, 4).shape == (1, 4, 1)
    with pytest.raises(ValueError, match="need 1 <= L < T, got L=5, T=5"):
        ar.lag_array(s, 5)
    with pytest.raises(ValueError, match=r"series must have shape \(T,\) or \(T, p\), got \(2, 2, 2\)"):
        ar.lag_array(np.zeros((2, 2, 2)), 1)


# ---------------------------------------------------------------------------- defaults
def test_default_activation_is_relu():
    """Chapter 10's networks use ReLU unless told otherwise: the references' default."""
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    one = single_layer.SingleLayerParams(rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=4), 0.3)
    np.testing.assert_array_equal(single_layer.forward(X, one), single_layer.forward(X, one, "relu"))
    np.testing.assert_array_equal(
        single_layer.hidden_activations(X, one), single_layer.hidden_activations(X, one, "relu")
    )
    for name, value in single_layer.per_observation_gradients(X, y, one).items():
        np.testing.assert_array_equal(value, single_layer.per_observation_gradients(X, y, one, "relu")[name])
    for name, value in single_layer.gradients(X, y, one).items():
        np.testing.assert_array_equal(value, single_layer.gradients(X, y, one, "relu")[name])
    two = backprop.TwoLayerParams(
        rng.normal(size=(4, 3)),
        rng.normal(size=4),
        rng.normal(size=(2, 4)),
        rng.normal(size=2),
        rng.normal(size=2),
        -0.2,
    )
    np.testing.assert_array_equal(backprop.forward(X, two), backprop.forward(X, two, "relu"))
    for name, value in backprop.gradients(X, y, two).items():
        np.testing.assert_array_equal(value, backprop.gradients(X, y, two, "relu")[name])


def test_default_pool_size_is_two():
    """max_pool2d and avg_pool2d pool 2x2 blocks unless told otherwise (the book's CNN)."""
    x = np.arange(36.0).reshape(6, 6)
    assert pool.max_pool2d(x).shape == pool.avg_pool2d(x).shape == (3, 3)


def test_doc_rnn_blocks_default_is_one_output():
    """The document classifier has one output unless told otherwise: B has K + 1 entries."""
    assert params.doc_rnn_blocks(10, 3, 4)["B"] == 5


# ---------------------------------------------------------------------------- 10.7 dropout in backprop
def test_two_layer_dropout_masks_reach_the_forward_pass():
    """Masks multiply the hidden activations: all-zero masks leave the intercept beta0 alone, and
    masks of ones are no dropout.  Each mask is (n, units of its layer)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 3))
    two = backprop.TwoLayerParams(
        rng.normal(size=(4, 3)),
        rng.normal(size=4),
        rng.normal(size=(2, 4)),
        rng.normal(size=2),
        rng.normal(size=2),
        -0.2,
    )
    zeros = (np.zeros((5, 4)), np.zeros((5, 2)))
    np.testing.assert_array_equal(backprop.forward(X, two, masks=zeros), np.full(5, -0.2))
    ones = (np.ones((5, 4)), np.ones((5, 2)))
    np.testing.assert_array_equal(backprop.forward(X, two, masks=ones), backprop.forward(X, two))
    with pytest.raises(ValueError, match=r"dropout masks must be \(n, K1\) and \(n, K2\), got \(5, 4\) and \(5, 4\)"):
        backprop.forward(X, two, masks=(np.ones((5, 4)), np.ones((5, 4))))
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\), got \(5,\)"):
        backprop.forward(X[:, 0], two)


# ---------------------------------------------------------------------------- 10.3 / 10.5 network references
def test_conv2d_same_keeps_the_map_size_for_any_odd_filter():
    """'same' padding pads (h - 1) / 2 on each side: a 5x5 filter keeps H x W as a 3x3 one does,
    and equals the multichannel convolution of the image padded by 2."""
    rng = np.random.default_rng(4)
    x, kernels, bias = rng.normal(size=(1, 2, 6, 6)), rng.normal(size=(3, 2, 5, 5)), rng.normal(size=3)
    out = networks.conv2d_same(x, kernels, bias)
    assert out.shape == (1, 3, 6, 6)
    np.testing.assert_allclose(out[0], conv.conv2d_multichannel(x[0], kernels, bias, padding=2), rtol=1e-12)
    for bad_x, bad_k in ((x[0], kernels), (x[:, :1], kernels), (x, kernels[..., :4, :]), (x, kernels[..., :4])):
        with pytest.raises(ValueError, match=r"expected images \(n, 2, H, W\) and odd filters|odd filters, got"):
            networks.conv2d_same(bad_x, bad_k, bias)


def test_lstm_forward_rejects_inconsistent_weights():
    """An LSTM layer of K units on p inputs has weights (4K, p), (4K, K) and biases (4K,)."""
    K, p = 2, 3
    good = dict(
        weight_ih=np.zeros((4 * K, p)), weight_hh=np.zeros((4 * K, K)), bias_ih=np.zeros(4 * K), bias_hh=np.zeros(4 * K)
    )
    X = np.zeros((1, 2, p))
    assert networks.lstm_forward(X, **good).shape == (1, 2, K)
    long_bias = np.zeros(4 * K + 1)
    for bad in (
        {"weight_ih": np.zeros((7, p))},
        {"weight_hh": np.zeros((4 * K, K + 1))},
        {"bias_ih": long_bias, "bias_hh": long_bias},
    ):
        with pytest.raises(ValueError, match=r"LSTM weights must be \(4K, p\), \(4K, K\), \(4K,\)"):
            networks.lstm_forward(X, **(good | bad))
    with pytest.raises(ValueError, match="for inputs of 4 entries"):
        networks.lstm_forward(np.zeros((1, 2, p + 1)), **good)


# ---------------------------------------------------------------------------- 10.1 ReLU at the kink
def test_relu_derivative_at_zero_is_zero():
    """At z = 0 the reference takes ReLU's derivative as 0, as torch's autograd does: with all
    hidden pre-activations at 0 the gradients of W and w0 vanish."""
    K, p = 3, 2
    par = single_layer.SingleLayerParams(np.zeros((K, p)), np.zeros(K), np.ones(K), 0.0)
    X, y = np.ones((4, p)), np.ones(4)
    g = single_layer.gradients(X, y, par, "relu")
    np.testing.assert_array_equal(g["W"], 0.0)
    np.testing.assert_array_equal(g["w0"], 0.0)


# ---------------------------------------------------------------------------- 10.3 conv2d
def test_conv2d_rejects_non_2d_inputs():
    """conv2d is for one 2-D image and one 2-D filter."""
    with pytest.raises(ValueError, match=r"conv2d expects a 2-D image and a 2-D filter, got shapes \(5,\), \(3, 3\)"):
        conv.conv2d(np.zeros(5), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"got shapes \(5, 5\), \(3,\)"):
        conv.conv2d(np.zeros((5, 5)), np.zeros(3))


# ---------------------------------------------------------------------------- 10.8 splines
def test_natural_spline_knots_must_be_distinct():
    """Knots at quantiles of x with ties would coincide: refused, since the basis needs distinct knots."""
    with pytest.raises(ValueError, match="knots must be distinct"):
        splines.natural_spline_knots(np.array([0.0, 0.0, 0.0, 0.0, 1.0]), 3)
    np.testing.assert_array_equal(splines.natural_spline_knots(np.array([0.0, 1.0, 2.0]), 3), [0.0, 1.0, 2.0])


def test_natural_spline_default_interval_and_orthonormality():
    """Without an interval the basis lives on [min x, max x]; with any interval, the columns are
    orthonormal in L2 over it (mean of B_j B_k over the interval is delta_jk), also when the
    interval is narrower than the data and some knots fall outside it."""
    x = np.linspace(0.0, 10.0, 40) ** 1.3
    d = 6
    default = splines.NaturalSpline.fit(x, d)
    explicit = splines.NaturalSpline.fit(x, d, interval=(x.min(), x.max()))
    assert default.d == d and default.interval == explicit.interval
    np.testing.assert_allclose(default.basis(x), explicit.basis(x), rtol=1e-12, atol=1e-12)
    for spline in (default, splines.NaturalSpline.fit(x, d, interval=(2.0, 12.0))):
        lo, hi = spline.interval
        grid = lo + (hi - lo) * (np.arange(20000) + 0.5) / 20000  # midpoint rule
        B = spline.basis(grid)
        np.testing.assert_allclose(B.T @ B / grid.size, np.eye(d), atol=1e-3)


# ---------------------------------------------------------------------------- model registry
def _spec(**changes):
    """A small valid regression spec (Linear-ReLU-Linear), with ``changes`` applied."""
    from islp_ch10.models import ModelSpec

    fields = dict(
        name="Tiny",
        factory=object,
        task="regression",
        lab_input=(8, 3),
        layers=[["Linear", [4], 16], ["ReLU", [4], 0], ["Linear", [1], 5]],
    )
    return ModelSpec(**(fields | changes))


def test_model_spec_normalises_its_table():
    """Table rows given as lists become Layer tuples with tuple shapes and int parameter counts."""
    from islp_ch10.models import Layer

    spec = _spec(layers=[["Linear", [4], 16.0], ["ReLU", [4], 0], ["Linear", [1], 5]])
    assert spec.layers == (Layer("Linear", (4,), 16), Layer("ReLU", (4,), 0), Layer("Linear", (1,), 5))
    assert all(
        isinstance(layer, Layer) and isinstance(layer.shape, tuple) and type(layer.params) is int
        for layer in spec.layers
    )
    assert spec.param_count == 21


def test_model_spec_rejects_inconsistent_book_entries():
    """A spec is refused, with every problem named, when a dropout rate is outside (0, 1), the
    last row is not the output Linear layer, or the vocabulary does not match the input kind."""
    drop = [["Linear", [4], 16], ["Dropout", [4], 0], ["Linear", [1], 5]]
    assert _spec(layers=drop, dropout=(0.5,)).dropout == (0.5,)
    for rate in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"1 Dropout rows but rates .* \(need one rate in \(0, 1\) per row\)"):
            _spec(layers=drop, dropout=(rate,))
    for layers in ([], [["Flatten", [3], 0], ["Linear", [4], 16], ["ReLU", [4], 0]]):
        with pytest.raises(ValueError, match=r"^ModelSpec Tiny: the last row must be the output Linear layer$"):
            _spec(layers=layers)
    assert _spec(input_kind="tokens", vocab=1).vocab == 1  # any vocabulary of at least one id
    with pytest.raises(ValueError, match=r"token models need vocab > 0 and float models vocab = 0"):
        _spec(vocab=5)
    with pytest.raises(ValueError, match=r"input_kind 'image' is not one of \('float', 'tokens'\); token models"):
        _spec(input_kind="image", vocab=5)  # two problems, both named


def test_model_spec_table_has_torchinfo_columns():
    """The printed table uses torchinfo's column titles, one line per row, '--' for a layer
    without parameters, and the total."""
    lines = _spec().table().split("\n")
    assert lines[1].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    assert lines[2].split() == ["Linear", "[8,", "4]", "16"]
    assert lines[3].split() == ["ReLU", "[8,", "4]", "--"]
    assert lines[-1] == "Total params: 21"
    assert len(lines) == 2 + 3 + 1


# ---------------------------------------------------------------------------- more reference edges
def test_least_squares_loss_is_half_the_rss():
    """R(theta) = 1/2 ||y - X theta||^2: at theta = 0 with y = (3, 4) it is 12.5."""
    assert optim.least_squares_loss(np.eye(2), np.array([3.0, 4.0]), np.zeros(2)) == 12.5


def test_conv2d_filter_must_fit_in_each_direction():
    """A filter taller or wider than the image, or empty, is refused (1 <= h <= H, 1 <= w <= W)."""
    image = np.zeros((5, 5))
    for h, w in ((6, 3), (3, 6), (0, 3), (3, 0)):
        with pytest.raises(ValueError, match=rf"a {h}x{w} filter does not fit a 5x5 image"):
            conv.conv2d(image, np.zeros((h, w)))


def test_transfer_head_counts_and_bounds():
    """A features -> classes head has features * classes + classes parameters; both must be >= 1."""
    assert params.transfer_head(1, 1) == 2
    assert params.transfer_head(2048, 10) == 20490
    for f, c in ((0, 5), (5, 0)):
        with pytest.raises(ValueError, match=rf"features and classes must be >= 1, got {f} and {c}"):
            params.transfer_head(f, c)


def test_autocorrelation_lags_and_constant_series():
    """Lags lie in [1, T - 1]; a constant series has no autocorrelation (zero variance)."""
    v = np.array([1.0, 3.0, 2.0, 5.0])
    assert series.autocorrelation(v, [3]).shape == (1,)
    for lags in ([0], [4], [], [1, 4]):
        with pytest.raises(ValueError, match=r"lags must lie in \[1, 3\] for a series of length 4"):
            series.autocorrelation(v, lags)
    with pytest.raises(ValueError, match="autocorrelation of a constant series is undefined"):
        series.autocorrelation(np.full(4, 2.0), [1])


def test_single_layer_params_store_float_arrays():
    """Parameters given as nested lists and ints are stored as float64 arrays and a float beta0;
    w0 and beta must each have K entries."""
    par = single_layer.SingleLayerParams([[1, 2]], [0], [3], 4)
    for value in (par.W, par.w0, par.beta):
        assert isinstance(value, np.ndarray) and value.dtype == np.float64
    assert type(par.beta0) is float and par.beta0 == 4.0
    two = backprop.TwoLayerParams(np.zeros((2, 1)), np.zeros(2), np.zeros((1, 2)), np.zeros(1), np.zeros(1), 1)
    assert type(two.beta0) is float
    for w0, beta in (([0, 0], [3]), ([0], [3, 3])):
        with pytest.raises(ValueError, match=r"w0 and beta must have K = 1 entries"):
            single_layer.SingleLayerParams([[1, 2]], w0, beta, 4)


def test_single_layer_inputs_have_p_columns():
    """X is (n, p): a 1-d X or one with p + 1 columns is refused with the expected shape."""
    par = single_layer.SingleLayerParams(np.ones((3, 2)), np.zeros(3), np.ones(3), 0.0)
    for X in (np.ones(2), np.ones((4, 3))):
        with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
            single_layer.forward(X, par)


def test_softmax_and_log_softmax_per_slice():
    """The stable softmax subtracts each slice's own maximum (rows at +-1000 both give 1/2, 1/2);
    log_softmax along axis 0 is the log of softmax along axis 0."""
    Z = np.array([[1000.0, 1000.0], [-1000.0, -1000.0]])
    np.testing.assert_allclose(softmax.softmax(Z), 0.5, rtol=1e-15)
    Z = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    np.testing.assert_allclose(softmax.log_softmax(Z, axis=0), np.log(softmax.softmax(Z, axis=0)), rtol=1e-12)


def test_one_hot_rejects_bad_labels():
    """Labels are a 1-d integer array in [0, num_classes)."""
    for labels in (np.array([[0, 1]]), np.array([0.0, 1.0])):
        with pytest.raises(ValueError, match="labels must be a 1-d integer array"):
            softmax.one_hot(labels, 3)
    for labels, lo, hi in ((np.array([0, 3]), 0, 3), (np.array([-1, 2]), -1, 2)):
        with pytest.raises(ValueError, match=rf"labels must lie in \[0, 3\), got \[{lo}, {hi}\]"):
            softmax.one_hot(labels, 3)


def test_information_measures_broadcast():
    """p and q broadcast against each other: several p against one q, or one p against several q."""
    P = np.array([[0.5, 0.5], [1.0, 0.0]])
    q = np.array([0.25, 0.75])
    rows = [softmax.distribution_cross_entropy(p, q) for p in P]
    np.testing.assert_allclose(softmax.distribution_cross_entropy(P, q), rows, rtol=1e-15)
    one = softmax.distribution_cross_entropy(q, P[0])
    np.testing.assert_allclose(softmax.distribution_cross_entropy(q, P[:1]), [one], rtol=1e-15)
    np.testing.assert_allclose(softmax.kl_divergence(P, q), [softmax.kl_divergence(p, q) for p in P], rtol=1e-15)
    np.testing.assert_allclose(softmax.kl_divergence(q, P[:1]), [softmax.kl_divergence(q, P[0])], rtol=1e-15)
