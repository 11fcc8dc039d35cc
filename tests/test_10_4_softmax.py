"""10.4 Two-class softmax as logistic regression, and the redundancy of softmax coefficients.

The output layer is a ``nn.Linear`` on the last hidden activations ``A``: row ``m`` of its
weight with its bias entry holds class ``m``'s coefficients ``(beta_m0, beta_m1, ...)``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from islp_ch10.reference import softmax as ref
from islp_ch10.reference.single_layer import sigmoid
from islp_ch10.testing import strategies as hs

TIGHT = dict(rtol=1e-10, atol=1e-12)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _output_layer(B: np.ndarray, b0: np.ndarray) -> nn.Linear:
    """A float64 ``nn.Linear`` with weight ``B`` (classes x units) and bias ``b0``."""
    layer = nn.Linear(B.shape[1], B.shape[0]).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(B))
        layer.bias.copy_(torch.from_numpy(b0))
    return layer


@st.composite
def _output_layers(draw, *, min_classes=2, max_classes=6, max_units=5, max_rows=6):
    """Hidden activations A (n, K2) >= 0 and an output layer's coefficients (M, K2) and (M,)."""
    M = draw(st.integers(min_classes, max_classes))
    K2 = draw(st.integers(1, max_units))
    n = draw(st.integers(1, max_rows))
    A = np.abs(draw(hs.float_arrays((n, K2), bound=3.0)))  # ReLU outputs are non-negative
    B = draw(hs.float_arrays((M, K2), bound=3.0))
    b0 = draw(hs.float_arrays((M,), bound=3.0))
    return A, B, b0


# ----------------------------------------------------------------------------- 10.4/two-class-logit
def _check_two_class(A: np.ndarray, B: np.ndarray, b0: np.ndarray) -> None:
    layer = _output_layer(B, b0)
    Z = layer(torch.from_numpy(A))  # (n, 2): Z_0, Z_1
    P = torch.softmax(Z, dim=1)
    # log(Pr(Y=1)/Pr(Y=0)) = Z_1 - Z_0 ...
    log_odds = torch.log(P[:, 1]) - torch.log(P[:, 0])
    torch.testing.assert_close(log_odds, Z[:, 1] - Z[:, 0], **TIGHT)
    # ... = (beta_10 - beta_00) + sum_l (beta_1l - beta_0l) A_l: a logistic regression on A
    logit = (b0[1] - b0[0]) + A @ (B[1] - B[0])
    torch.testing.assert_close(log_odds, torch.from_numpy(logit), **TIGHT)
    torch.testing.assert_close(P[:, 1], torch.from_numpy(sigmoid(logit)), **TIGHT)
    # a one-logit network with the differenced coefficients gives the same Pr(Y=1) through a sigmoid
    one = _output_layer((B[1] - B[0])[None, :], np.array([b0[1] - b0[0]]))
    torch.testing.assert_close(torch.sigmoid(one(torch.from_numpy(A))).squeeze(1), P[:, 1], **TIGHT)


@pytest.mark.claim("10.4/two-class-logit")
def test_two_class_logit():
    rng = np.random.default_rng(0)
    A = np.maximum(0.0, rng.normal(size=(6, 16)))  # 16 units, as in the lab's IMDB network
    _check_two_class(A, rng.normal(size=(2, 16)), rng.normal(size=2))


@pytest.mark.claim("10.4/two-class-logit")
@given(case=_output_layers(min_classes=2, max_classes=2))
def test_two_class_logit_hypothesis(case):
    _check_two_class(*case)


# ----------------------------------------------------------------------------- 10.4/softmax-redundancy
def _check_shift_invariant(softmax_fn, z: np.ndarray, shift: float) -> None:
    """``softmax_fn(z + c) == softmax_fn(z)``: a common shift of the scores changes no probability."""
    np.testing.assert_allclose(softmax_fn(z + shift), softmax_fn(z), rtol=1e-10, atol=1e-15)


@pytest.mark.claim("10.4/softmax-redundancy")
@given(z=hs.logit_vectors(bound=30.0), shift=hs.bounded_floats(bound=30.0))
@example(z=np.array([1.0, 2.0, 3.0]), shift=100.0)
def test_softmax_redundancy(z, shift):
    """On the formula as written, e^{z_m + c} / sum_l e^{z_l + c} = e^{z_m} / sum_l e^{z_l}: the
    factor e^c cancels.  (The reference softmax subtracts the maximum, which would make this
    true by construction, so the raw formula is checked; torch's softmax likewise.)"""
    _check_shift_invariant(ref.softmax_direct, z, shift)
    _check_shift_invariant(lambda v: torch.softmax(torch.from_numpy(v), 0).numpy(), z, shift)
    np.testing.assert_allclose(ref.softmax(z), ref.softmax_direct(z), rtol=1e-12, atol=1e-300)


@pytest.mark.claim("10.4/softmax-redundancy")
def test_softmax_redundancy_rejects_extra_normaliser_term():
    """Broken variant: a 'softmax' with an extra 1 in the normaliser, e^{z_m} / (1 + sum_l e^{z_l})
    (K free scores plus a hidden zero class), is not shift invariant and fails the check."""

    def broken(z):
        e = np.exp(z)
        return e / (1.0 + e.sum())

    z = np.array([0.5, -1.0, 2.0])
    _check_shift_invariant(ref.softmax_direct, z, 3.0)
    with pytest.raises(AssertionError):
        _check_shift_invariant(broken, z, 3.0)


def _check_no_overflow(softmax_fn) -> None:
    """Scores near 1000 (e^1000 overflows float64) give the probabilities of the same scores
    shifted down, finite and summing to one."""
    z = np.array([1000.0, 999.0, 998.0, 1000.0 - 1e-3])
    with np.errstate(over="ignore", invalid="ignore"):
        p = np.asarray(softmax_fn(z))
    assert np.all(np.isfinite(p)), f"non-finite probabilities {p}"
    np.testing.assert_allclose(p, ref.softmax_direct(z - 1000.0), rtol=1e-12, atol=0)
    assert p.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.claim("10.4/softmax-redundancy")
def test_softmax_no_overflow_near_1000():
    """Redundancy is what lets softmax subtract the largest score before exponentiating."""
    _check_no_overflow(ref.softmax)
    _check_no_overflow(lambda z: torch.softmax(torch.from_numpy(z), 0).numpy())
    np.testing.assert_allclose(ref.log_softmax(np.array([1000.0, 0.0])), [0.0, -1000.0], rtol=0, atol=1e-12)


@pytest.mark.claim("10.4/softmax-redundancy")
def test_softmax_no_overflow_rejects_unshifted_formula():
    """Broken variant: the formula without the max subtraction gives inf / inf = nan near 1000."""
    with pytest.raises(AssertionError, match="non-finite"):
        _check_no_overflow(ref.softmax_direct)


def test_softmax_direct_normalises_along_the_given_axis():
    """The book's unshifted formula normalises each row (axis=-1, the default: classes last) or
    column (axis=0) separately, and agrees with the stable softmax on moderate scores."""
    Z = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    for axis in (-1, 0):
        P = ref.softmax_direct(Z, axis=axis)
        assert P.shape == Z.shape
        np.testing.assert_allclose(P.sum(axis=axis), 1.0, rtol=1e-12)
        np.testing.assert_allclose(P, ref.softmax(Z, axis=axis), rtol=1e-12)


def test_softmax_subtracts_each_slices_own_maximum():
    """The stable softmax subtracts each slice's own maximum (rows at +-1000 both give 1/2, 1/2);
    log_softmax along axis 0 is the log of softmax along axis 0."""
    Z = np.array([[1000.0, 1000.0], [-1000.0, -1000.0]])
    np.testing.assert_allclose(ref.softmax(Z), 0.5, rtol=1e-15)
    Z = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    np.testing.assert_allclose(ref.log_softmax(Z, axis=0), np.log(ref.softmax(Z, axis=0)), rtol=1e-12)


def test_logsumexp_shifts_each_row_by_its_own_maximum():
    """logsumexp along axis -1 shifts each row by its own maximum: rows at +-1000 are both finite."""
    Z = np.array([[1000.0, 1000.0], [-1000.0, -1000.0]])
    np.testing.assert_allclose(ref.logsumexp(Z), [1000 + np.log(2), -1000 + np.log(2)], rtol=1e-15)


def _reduced_probabilities(A: np.ndarray, B: np.ndarray, b0: np.ndarray, pin_bias: bool = True) -> torch.Tensor:
    """A model with only K - 1 coefficient sets: class m < K-1 scores (b0_m - b0_last) + A (B_m - B_last),
    the last class's score is fixed at 0.  ``pin_bias=False`` forgets to subtract the last intercept."""
    reduced = _output_layer(B[:-1] - B[-1], b0[:-1] - b0[-1] if pin_bias else b0[:-1])
    Z = reduced(torch.from_numpy(A))  # (n, K - 1)
    assert reduced.weight.shape[0] == B.shape[0] - 1
    return torch.softmax(torch.cat([Z, torch.zeros(Z.shape[0], 1, dtype=Z.dtype)], dim=1), dim=1)


def _check_coefficient_redundancy(
    A: np.ndarray, B: np.ndarray, b0: np.ndarray, v: np.ndarray, v0: float, reduce=_reduced_probabilities
):
    P = torch.softmax(_output_layer(B, b0)(torch.from_numpy(A)), dim=1)
    # the same vector (v0, v) added to every class's coefficients
    shifted = torch.softmax(_output_layer(B + v[None, :], b0 + v0)(torch.from_numpy(A)), dim=1)
    torch.testing.assert_close(shifted, P, **TIGHT)
    # so one class can be pinned to zero: K - 1 free coefficient sets give the same model
    torch.testing.assert_close(reduce(A, B, b0), P, **TIGHT)
    # and the reference agrees
    torch.testing.assert_close(P, torch.from_numpy(ref.softmax(b0 + A @ B.T)), **TIGHT)


@pytest.mark.claim("10.4/softmax-redundancy")
def test_softmax_redundancy_coefficients():
    rng = np.random.default_rng(1)
    A = np.maximum(0.0, rng.normal(size=(5, 4)))
    _check_coefficient_redundancy(A, rng.normal(size=(10, 4)), rng.normal(size=10), rng.normal(size=4), 0.7)
    # broken variant: a reduced model that pins the weights but not the intercept changes the probabilities
    with pytest.raises(AssertionError):
        _check_coefficient_redundancy(
            A,
            rng.normal(size=(10, 4)),
            rng.normal(size=10),
            rng.normal(size=4),
            0.7,
            reduce=lambda A, B, b0: _reduced_probabilities(A, B, b0, pin_bias=False),
        )


@pytest.mark.claim("10.4/softmax-redundancy")
@given(case=_output_layers(), v=hs.float_arrays((5,), bound=3.0), v0=hs.bounded_floats(bound=3.0))
def test_softmax_redundancy_coefficients_hypothesis(case, v, v0):
    A, B, b0 = case
    _check_coefficient_redundancy(A, B, b0, v[: B.shape[1]], v0)
