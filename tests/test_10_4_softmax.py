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
    Z = layer(torch.from_numpy(A))                        # (n, 2): Z_0, Z_1
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
@pytest.mark.claim("10.4/softmax-redundancy")
@given(z=hs.logit_vectors(bound=30.0), shift=hs.bounded_floats(bound=30.0))
@example(z=np.array([1.0, 2.0, 3.0]), shift=100.0)
def test_softmax_redundancy(z, shift):
    """Adding one number to every class score changes no probability."""
    np.testing.assert_allclose(ref.softmax(z + shift), ref.softmax(z), rtol=1e-10, atol=1e-15)
    torch.testing.assert_close(torch.softmax(torch.from_numpy(z + shift), 0), torch.from_numpy(ref.softmax(z)),
                               rtol=1e-10, atol=1e-15)


def _check_coefficient_redundancy(A: np.ndarray, B: np.ndarray, b0: np.ndarray, v: np.ndarray, v0: float):
    P = torch.softmax(_output_layer(B, b0)(torch.from_numpy(A)), dim=1)
    # the same vector (v0, v) added to every class's coefficients
    shifted = torch.softmax(_output_layer(B + v[None, :], b0 + v0)(torch.from_numpy(A)), dim=1)
    torch.testing.assert_close(shifted, P, **TIGHT)
    # so one class can be pinned to zero: K - 1 free coefficient sets give the same model
    reduced_B, reduced_b0 = B - B[-1], b0 - b0[-1]
    assert not reduced_B[-1].any() and reduced_b0[-1] == 0.0
    reduced = torch.softmax(_output_layer(reduced_B, reduced_b0)(torch.from_numpy(A)), dim=1)
    torch.testing.assert_close(reduced, P, **TIGHT)
    # and the reference agrees
    torch.testing.assert_close(P, torch.from_numpy(ref.softmax(b0 + A @ B.T)), **TIGHT)


@pytest.mark.claim("10.4/softmax-redundancy")
def test_softmax_redundancy_coefficients():
    rng = np.random.default_rng(1)
    A = np.maximum(0.0, rng.normal(size=(5, 4)))
    _check_coefficient_redundancy(A, rng.normal(size=(10, 4)), rng.normal(size=10), rng.normal(size=4), 0.7)


@pytest.mark.claim("10.4/softmax-redundancy")
@given(case=_output_layers(), v=hs.float_arrays((5,), bound=3.0), v0=hs.bounded_floats(bound=3.0))
def test_softmax_redundancy_coefficients_hypothesis(case, v, v0):
    A, B, b0 = case
    _check_coefficient_redundancy(A, B, b0, v[: B.shape[1]], v0)
