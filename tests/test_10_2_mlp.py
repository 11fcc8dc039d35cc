"""10.2 Multilayer network for MNIST: parameter counts, softmax, cross-entropy, entropy.

Book figures (235,146; 200,960; 1,290; "about 4 times") come from the catalogue.
Softmax and the losses are checked against the numpy reference in float64.
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
from islp_ch10.models import MNISTMLP, count_parameters
from islp_ch10.reference import softmax as ref
from islp_ch10.testing import strategies as hs

TIGHT = dict(rtol=1e-12, atol=1e-12)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _linear_count(layer: nn.Linear) -> int:
    return layer.weight.numel() + layer.bias.numel()


# ----------------------------------------------------------------------------- parameter counts
@pytest.mark.claim("10.2/params-mlp")
def test_params_mlp():
    model = MNISTMLP()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    # (784 + 1) * 256 + (256 + 1) * 128 + (128 + 1) * 10, written from the layer sizes
    sizes = [(lin.in_features, lin.out_features) for lin in linears]
    assert sizes == [(784, 256), (256, 128), (128, 10)]
    by_formula = sum((n_in + 1) * n_out for n_in, n_out in sizes)
    assert count_parameters(model) == by_formula == claims.book_value("10.2/params-mlp")


@pytest.mark.claim("10.2/params-w1")
def test_params_w1():
    first = MNISTMLP().layer1[1]
    assert isinstance(first, nn.Linear)
    p, L1 = first.in_features, first.out_features
    assert _linear_count(first) == (p + 1) * L1 == claims.book_value("10.2/params-w1")
    # W1 as the book draws it: a (p+1) x L1 matrix, the bias as an extra row
    W1 = torch.cat([first.bias[None, :], first.weight.T], dim=0)
    assert tuple(W1.shape) == (785, 256)


@pytest.mark.claim("10.2/params-out")
def test_params_out():
    out = MNISTMLP().output
    assert (out.in_features, out.out_features) == (128, 10)
    assert _linear_count(out) == (128 + 1) * 10 == claims.book_value("10.2/params-out")


@pytest.mark.claim("10.2/overparam")
def test_overparam():
    claim = claims.get("10.2/overparam")
    n_train = claim.extra["training_images"]
    ratio = count_parameters(MNISTMLP()) / n_train
    assert ratio == pytest.approx(claim.book_value, abs=claim.tolerance)
    assert ratio > 1  # more parameters than training images: the point of the claim


# ----------------------------------------------------------------------------- 10.2/softmax
@pytest.mark.claim("10.2/softmax")
@given(z=hs.logit_vectors(bound=100.0))
@example(z=np.zeros(10))
@example(z=np.array([100.0, -100.0, 0.0]))
def test_softmax(z):
    f = ref.softmax(z)
    assert np.all(f > 0)
    assert f.sum() == pytest.approx(1.0, abs=1e-12)
    torch.testing.assert_close(torch.softmax(torch.from_numpy(z), dim=0), torch.from_numpy(f), **TIGHT)
    # f_m = e^{Z_m} / sum_l e^{Z_l}, written out where it cannot overflow
    if np.max(np.abs(z)) <= 50:
        np.testing.assert_allclose(f, np.exp(z) / np.exp(z).sum(), rtol=1e-11, atol=1e-300)


@pytest.mark.claim("10.2/softmax")
def test_softmax_mnist_logits():
    """The MNIST network's ten outputs, passed through softmax, are probabilities for each image."""
    torch.manual_seed(0)
    model = MNISTMLP().double().eval()
    x = torch.rand(5, 1, 28, 28, dtype=torch.float64)
    probs = torch.softmax(model(x), dim=1)
    assert probs.shape == (5, 10)
    torch.testing.assert_close(probs, torch.from_numpy(ref.softmax(model(x).detach().numpy())), **TIGHT)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(5, dtype=torch.float64), **TIGHT)


# ----------------------------------------------------------------------------- 10.2/cross-entropy
def _check_cross_entropy(Z: np.ndarray, labels: np.ndarray) -> None:
    n, M = Z.shape
    book = ref.cross_entropy(ref.one_hot(labels, M), ref.softmax(Z))  # -sum_i sum_m y_im log f_m(x_i)
    nll = ref.multinomial_nll(labels, Z)
    Zt, yt = torch.from_numpy(Z), torch.from_numpy(labels)
    assert book == pytest.approx(nll, rel=1e-9, abs=1e-9)
    torch.testing.assert_close(
        F.cross_entropy(Zt, yt, reduction="sum"), torch.tensor(nll, dtype=torch.float64), rtol=1e-9, atol=1e-9
    )
    # nn.CrossEntropyLoss averages by default: n times it is the book's sum
    torch.testing.assert_close(
        n * nn.CrossEntropyLoss()(Zt, yt), torch.tensor(nll, dtype=torch.float64), rtol=1e-9, atol=1e-9
    )


@pytest.mark.claim("10.2/cross-entropy")
def test_cross_entropy():
    # four images, ten digit classes
    rng = np.random.default_rng(0)
    Z = rng.normal(scale=3.0, size=(4, 10))
    labels = np.array([7, 2, 1, 0])
    _check_cross_entropy(Z, labels)
    # by the definition: minus the log of the product of each image's own-class probability
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    assert ref.multinomial_nll(labels, Z) == pytest.approx(-np.log(np.prod(P[np.arange(4), labels])), rel=1e-12)


@pytest.mark.claim("10.2/cross-entropy")
@given(case=hs.labelled_logits())
def test_cross_entropy_hypothesis(case):
    _check_cross_entropy(*case)


def test_multinomial_nll_takes_n_by_M_scores_and_one_label_per_row():
    """Scores are (n, M) with one label per row; other shapes are refused, naming both."""
    with pytest.raises(ValueError, match=r"Z must be \(n, M\) and labels \(n,\), got \(3,\) and \(3,\)"):
        ref.multinomial_nll(np.array([0, 1, 2]), np.zeros(3))
    with pytest.raises(ValueError, match=r"got \(3, 2\) and \(2,\)"):
        ref.multinomial_nll(np.array([0, 1]), np.zeros((3, 2)))


def test_one_hot_takes_integer_labels_in_range():
    """Labels are a 1-d integer array in [0, num_classes); the error names the range found."""
    for labels in (np.array([[0, 1]]), np.array([0.0, 1.0])):
        with pytest.raises(ValueError, match="labels must be a 1-d integer array"):
            ref.one_hot(labels, 3)
    for labels, lo, hi in ((np.array([0, 3]), 0, 3), (np.array([-1, 2]), -1, 2)):
        with pytest.raises(ValueError, match=rf"labels must lie in \[0, 3\), got \[{lo}, {hi}\]"):
            ref.one_hot(labels, 3)


# ----------------------------------------------------------------------------- 10.2/entropy
@st.composite
def _distribution_pairs(draw):
    p = draw(hs.probability_vectors(allow_zeros=True))
    same = draw(st.booleans())
    q = p.copy() if same else draw(hs.probability_vectors(size=len(p)))
    return p, q


@pytest.mark.claim("10.2/entropy")
@given(pq=_distribution_pairs())
@example(pq=(np.array([0.5, 0.5]), np.array([0.9, 0.1])))
@example(pq=(np.array([1.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0])))
def test_entropy(pq):
    p, q = pq
    H_p = ref.entropy(p)
    H_pq = ref.distribution_cross_entropy(p, q)
    kl = ref.kl_divergence(p, q)
    # H(p,q) - H(p) is the Kullback-Leibler divergence, and by Pinsker it is at least
    # 1/2 ||p - q||_1^2: so H(p,q) >= H(p), with equality only when q = p
    assert H_pq - H_p == pytest.approx(kl, abs=1e-9)
    assert kl >= 0.5 * np.abs(p - q).sum() ** 2 - 1e-12
    if np.array_equal(p, q):
        assert H_pq == pytest.approx(H_p, abs=1e-12)
    # torch: entropy of a categorical distribution; cross-entropy loss with probability targets
    torch.testing.assert_close(
        torch.distributions.Categorical(probs=torch.from_numpy(p)).entropy(),
        torch.tensor(H_p, dtype=torch.float64),
        rtol=1e-9,
        atol=1e-12,
    )
    if np.all(q > 0):
        got = F.cross_entropy(torch.log(torch.from_numpy(q))[None, :], torch.from_numpy(p)[None, :])
        torch.testing.assert_close(got, torch.tensor(H_pq, dtype=torch.float64), rtol=1e-9, atol=1e-12)


@pytest.mark.claim("10.2/entropy")
def test_entropy_values():
    # a fair coin has entropy log 2; a certain outcome has none; ten equal digits, log 10
    assert ref.entropy(np.array([0.5, 0.5])) == pytest.approx(np.log(2), rel=1e-15)
    assert ref.entropy(np.array([0.0, 1.0])) == 0.0
    assert ref.entropy(np.full(10, 0.1)) == pytest.approx(np.log(10), rel=1e-14)
    # coding a fair coin with a 0.9/0.1 code costs -(log 0.9 + log 0.1)/2 > log 2
    assert ref.distribution_cross_entropy(np.array([0.5, 0.5]), np.array([0.9, 0.1])) == pytest.approx(
        -(np.log(0.9) + np.log(0.1)) / 2, rel=1e-15
    )


def test_information_measures_are_per_distribution():
    """Entropy, cross-entropy and KL divergence reduce the last axis only: one value per
    distribution (row), and KL = cross-entropy - entropy row by row."""
    p = np.array([[0.5, 0.5], [1.0, 0.0]])
    q = np.array([[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(ref.entropy(p), [np.log(2), 0.0], rtol=1e-15)
    np.testing.assert_allclose(
        ref.distribution_cross_entropy(p, q), [-0.5 * np.log(0.25) - 0.5 * np.log(0.75), np.log(2)], rtol=1e-15
    )
    np.testing.assert_allclose(
        ref.kl_divergence(p, q), ref.distribution_cross_entropy(p, q) - ref.entropy(p), rtol=1e-12
    )


def test_information_measures_broadcast_p_against_q():
    """p and q broadcast against each other: several p against one q, or one p against several q."""
    P = np.array([[0.5, 0.5], [1.0, 0.0]])
    q = np.array([0.25, 0.75])
    rows = [ref.distribution_cross_entropy(p, q) for p in P]
    np.testing.assert_allclose(ref.distribution_cross_entropy(P, q), rows, rtol=1e-15)
    one = ref.distribution_cross_entropy(q, P[0])
    np.testing.assert_allclose(ref.distribution_cross_entropy(q, P[:1]), [one], rtol=1e-15)
    np.testing.assert_allclose(ref.kl_divergence(P, q), [ref.kl_divergence(p, q) for p in P], rtol=1e-15)
    np.testing.assert_allclose(ref.kl_divergence(q, P[:1]), [ref.kl_divergence(q, P[0])], rtol=1e-15)


# ----------------------------------------------------------------------------- 10.2/binary-cross-entropy
def _log_odds(Z: np.ndarray) -> np.ndarray:
    return Z[:, 1] - Z[:, 0]


def _check_binary_cross_entropy(Z: np.ndarray, labels: np.ndarray, log_odds=_log_odds) -> None:
    """The M = 2 multinomial cross-entropy of scores ``Z`` (n, 2) equals the logistic negative
    log-likelihood with log-odds ``log_odds(Z)``, in numpy and in torch."""
    assert Z.shape[1] == claims.book_value("10.2/binary-cross-entropy")
    tol = claims.get("10.2/binary-cross-entropy").tolerance
    multinomial = ref.cross_entropy(ref.one_hot(labels, 2), ref.softmax(Z))
    logistic = ref.binary_logistic_nll(labels, log_odds(Z))
    np.testing.assert_allclose(multinomial, logistic, rtol=tol, atol=tol)
    torch_multinomial = F.cross_entropy(torch.from_numpy(Z), torch.from_numpy(labels), reduction="sum")
    torch_logistic = F.binary_cross_entropy_with_logits(
        torch.from_numpy(log_odds(Z)), torch.from_numpy(labels).double(), reduction="sum"
    )
    torch.testing.assert_close(torch_multinomial, torch_logistic, rtol=tol, atol=tol)
    np.testing.assert_allclose(torch_multinomial.item(), multinomial, rtol=tol, atol=tol)


@pytest.mark.claim("10.2/binary-cross-entropy")
def test_binary_cross_entropy():
    """Three observations by hand: log-odds 0, -3 and 4.5 for labels 1, 0, 1 cost
    log 2 + log(1 + e^-3) + log(1 + e^-4.5)."""
    Z = np.array([[0.0, 0.0], [2.0, -1.0], [-3.0, 1.5]])
    labels = np.array([1, 0, 1])
    by_hand = np.log(2.0) + np.log1p(np.exp(-3.0)) + np.log1p(np.exp(-4.5))
    assert ref.binary_logistic_nll(labels, _log_odds(Z)) == pytest.approx(by_hand, rel=1e-14)
    _check_binary_cross_entropy(Z, labels)


@pytest.mark.claim("10.2/binary-cross-entropy")
@given(case=hs.labelled_logits(max_classes=2))
def test_binary_cross_entropy_hypothesis(case):
    Z, labels = case
    _check_binary_cross_entropy(Z, labels)


@pytest.mark.claim("10.2/binary-cross-entropy")
def test_binary_cross_entropy_rejects_wrong_log_odds():
    """Broken variants: taking Z1 alone as the log-odds, or Z0 - Z1, fails the check."""
    Z = np.array([[0.5, 0.0], [2.0, -1.0], [-3.0, 1.5]])
    labels = np.array([1, 0, 1])
    for broken in (lambda Z: Z[:, 1], lambda Z: Z[:, 0] - Z[:, 1]):
        with pytest.raises(AssertionError):
            _check_binary_cross_entropy(Z, labels, broken)
