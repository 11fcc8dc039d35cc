"""10.1 Single-layer network: torch's Linear-activation-Linear against the book's formula.

The numpy reference (:mod:`islp_ch10.reference.single_layer`) computes
``f(X) = b0 + sum_k b_k g(w_k0 + sum_j w_kj X_j)`` directly; every torch result is
compared with it in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from islp_ch10 import claims
from islp_ch10.reference import backprop as ref_bp
from islp_ch10.reference import single_layer as ref
from islp_ch10.testing import strategies as hs
from islp_ch10.testing.networks import single_layer_torch

EXACT = dict(rtol=1e-12, atol=1e-12)  # float64, same arithmetic up to summation order


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def book_network(seed: int = 0) -> tuple[ref.SingleLayerParams, np.ndarray]:
    """The shape of Figure 10.1: p = 4 inputs, K = 5 hidden units, with seeded weights and 20 rows."""
    rng = np.random.default_rng(seed)
    params = ref.SingleLayerParams(
        W=rng.normal(size=(5, 4)), w0=rng.normal(size=5), beta=rng.normal(size=5), beta0=rng.normal()
    )
    return params, rng.normal(size=(20, 4))


# ----------------------------------------------------------------------------- 10.1/forward
@pytest.mark.claim("10.1/forward")
@pytest.mark.parametrize("activation", sorted(ref.ACTIVATIONS))
def test_forward(activation):
    params, X = book_network()
    net = single_layer_torch(params, activation)
    got = net(torch.from_numpy(X)).squeeze(1)
    expected = ref.forward(X, params, activation)
    # and once more by the scalar formula, unit by unit, without any matrix product
    g, _ = ref.ACTIVATIONS[activation]
    by_hand = np.array(
        [
            params.beta0
            + sum(params.beta[k] * g(params.w0[k] + sum(params.W[k, j] * x[j] for j in range(4))) for k in range(5))
            for x in X
        ]
    )
    np.testing.assert_allclose(expected, by_hand, **EXACT)
    torch.testing.assert_close(got, torch.from_numpy(expected), **EXACT)


@pytest.mark.claim("10.1/forward")
@given(case=hs.small_networks())
def test_forward_hypothesis(case):
    net = single_layer_torch(case.params, case.activation)
    got = net(torch.from_numpy(case.X)).squeeze(1).detach()
    torch.testing.assert_close(
        got, torch.from_numpy(ref.forward(case.X, case.params, case.activation)), rtol=1e-10, atol=1e-10
    )


def test_parameter_vector_is_W_w0_beta_beta0():
    """theta = (W row by row, w0, beta, beta0), and from_vector inverts vector() with beta0 last;
    a vector of the wrong length K*p + 2K + 1 is refused, naming both lengths."""
    K, p = 3, 2
    theta = np.arange(1.0, K * p + 2 * K + 2)
    par = ref.SingleLayerParams.from_vector(theta, K, p)
    assert par.beta0 == theta[-1]
    np.testing.assert_array_equal(par.beta, theta[K * p + K : K * p + 2 * K])
    np.testing.assert_array_equal(par.vector(), theta)
    with pytest.raises(ValueError, match=r"theta must have K\*p \+ 2K \+ 1 = 13 entries, got \(12,\)"):
        ref.SingleLayerParams.from_vector(theta[:-1], K, p)


def test_parameters_are_float64_arrays_with_K_entries():
    """Parameters given as nested lists and ints are stored as float64 arrays and a float beta0
    (so the references compute in the float64 the torch comparisons use); w0 and beta must each
    have K entries."""
    par = ref.SingleLayerParams([[1, 2]], [0], [3], 4)
    for value in (par.W, par.w0, par.beta):
        assert isinstance(value, np.ndarray) and value.dtype == np.float64
    assert type(par.beta0) is float and par.beta0 == 4.0
    two = ref_bp.TwoLayerParams(np.zeros((2, 1)), np.zeros(2), np.zeros((1, 2)), np.zeros(1), np.zeros(1), 1)
    assert type(two.beta0) is float
    for w0, beta in (([0, 0], [3]), ([0], [3, 3])):
        with pytest.raises(ValueError, match=r"w0 and beta must have K = 1 entries"):
            ref.SingleLayerParams([[1, 2]], w0, beta, 4)


def test_forward_takes_n_rows_of_p_inputs():
    """X is (n, p): a 1-d X or one with p + 1 columns is refused with the expected shape."""
    par = ref.SingleLayerParams(np.ones((3, 2)), np.zeros(3), np.ones(3), 0.0)
    for X in (np.ones(2), np.ones((4, 3))):
        with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
            ref.forward(X, par)


# ----------------------------------------------------------------------------- 10.1/sigmoid
@pytest.mark.claim("10.1/sigmoid")
@given(z=hs.float_arrays(st.integers(1, 20), bound=30.0))
@example(z=np.array([-30.0, -1.0, 0.0, 1.0, 30.0]))
def test_sigmoid(z):
    g = ref.sigmoid(z)
    # the two forms of the book agree
    np.testing.assert_allclose(g, ref.sigmoid_ratio_form(z), rtol=1e-12, atol=1e-300)
    # values strictly inside (0, 1)
    assert np.all(g > 0.0) and np.all(g < 1.0)
    # torch's sigmoid is the same function
    torch.testing.assert_close(torch.sigmoid(torch.from_numpy(z)), torch.from_numpy(g), rtol=1e-12, atol=1e-300)
    # the logistic-regression link: the log-odds of g(z) is z
    moderate = np.abs(z) <= 15.0
    log_odds = np.log(g[moderate]) - np.log1p(-g[moderate])
    np.testing.assert_allclose(log_odds, z[moderate], rtol=0, atol=1e-6)


@pytest.mark.claim("10.1/sigmoid")
def test_sigmoid_values():
    np.testing.assert_allclose(ref.sigmoid(np.array([0.0, np.log(3.0)])), [0.5, 0.75], rtol=1e-15)
    assert 0.0 < ref.sigmoid(-700.0) < 1e-300  # no overflow for very negative z


# ----------------------------------------------------------------------------- 10.1/relu
@pytest.mark.claim("10.1/relu")
@given(z=hs.float_arrays(st.integers(1, 20), bound=100.0))
@example(z=np.array([-2.0, -0.0, 0.0, 3.5]))
def test_relu(z):
    g = ref.relu(z)
    np.testing.assert_array_equal(g, np.where(z < 0, 0.0, z))
    torch.testing.assert_close(torch.relu(torch.from_numpy(z)), torch.from_numpy(g), rtol=0, atol=0)
    assert np.all(g >= 0)


@pytest.mark.claim("10.1/relu")
@given(w=st.floats(0.1, 5.0), w0=hs.bounded_floats(bound=5.0), x=hs.bounded_floats(bound=20.0))
@example(w=1.0, w0=2.0, x=-1.0)
def test_relu_bias_moves_threshold(w, w0, x):
    """A unit g(w0 + w x) with w > 0 switches on exactly above x = -w0 / w."""
    threshold = -w0 / w
    unit = float(ref.relu(w0 + w * x))
    if x > threshold + 1e-9:
        assert unit > 0.0
    elif x < threshold - 1e-9:
        assert unit == 0.0


def test_relu_is_the_default_activation():
    """ReLU is the book's default: the chapter names it as the activation modern networks use
    (chapter10-notes.zh.txt:41) and every lab network uses it (notes:663, 891, 1115).  The
    references take it unless told otherwise: single layer (10.1), two hidden layers (10.7)."""
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    one = ref.SingleLayerParams(rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=4), 0.3)
    np.testing.assert_array_equal(ref.forward(X, one), ref.forward(X, one, "relu"))
    np.testing.assert_array_equal(ref.hidden_activations(X, one), ref.hidden_activations(X, one, "relu"))
    for name, value in ref.per_observation_gradients(X, y, one).items():
        np.testing.assert_array_equal(value, ref.per_observation_gradients(X, y, one, "relu")[name])
    for name, value in ref.gradients(X, y, one).items():
        np.testing.assert_array_equal(value, ref.gradients(X, y, one, "relu")[name])
    two = ref_bp.TwoLayerParams(
        rng.normal(size=(4, 3)),
        rng.normal(size=4),
        rng.normal(size=(2, 4)),
        rng.normal(size=2),
        rng.normal(size=2),
        -0.2,
    )
    np.testing.assert_array_equal(ref_bp.forward(X, two), ref_bp.forward(X, two, "relu"))
    for name, value in ref_bp.gradients(X, y, two).items():
        np.testing.assert_array_equal(value, ref_bp.gradients(X, y, two, "relu")[name])


# ----------------------------------------------------------------------------- 10.1/nonlinearity
def _least_squares_residual(X: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, float]:
    design = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(design, f, rcond=None)
    r = f - design @ coef
    return coef, float(r @ r)


@pytest.mark.claim("10.1/nonlinearity")
def test_nonlinearity():
    params, X = book_network(seed=1)
    X = np.random.default_rng(2).uniform(-3, 3, size=(200, params.p))
    # identity g: f is linear in X, with intercept b0 + beta.w0 and slopes W^T beta
    f_id = single_layer_torch(params, "identity")(torch.from_numpy(X)).squeeze(1).detach().numpy()
    coef, rss = _least_squares_residual(X, f_id)
    assert rss < 1e-20
    np.testing.assert_allclose(
        coef, np.r_[params.beta0 + params.beta @ params.w0, params.W.T @ params.beta], rtol=1e-9, atol=1e-10
    )
    # ReLU / sigmoid: the best linear fit leaves a clearly non-zero residual
    for g in ("relu", "sigmoid"):
        f = single_layer_torch(params, g)(torch.from_numpy(X)).squeeze(1).detach().numpy()
        np.testing.assert_allclose(f, ref.forward(X, params, g), rtol=1e-12, atol=1e-12)
        _, rss = _least_squares_residual(X, f)
        assert rss > 1e-3 * float(np.sum((f - f.mean()) ** 2)), g


@pytest.mark.claim("10.1/nonlinearity")
@given(case=hs.small_networks(activation="identity", max_rows=3))
def test_nonlinearity_identity_hypothesis(case):
    X = np.random.default_rng(0).uniform(-3, 3, size=(30, case.params.p))
    _, rss = _least_squares_residual(X, ref.forward(X, case.params, "identity"))
    assert rss <= 1e-18 * (1.0 + float(np.sum(ref.forward(X, case.params, "identity") ** 2)))


# ----------------------------------------------------------------------------- 10.1/squared-loss
@pytest.mark.claim("10.1/squared-loss")
def test_squared_loss():
    params, X = book_network(seed=3)
    y = np.random.default_rng(4).normal(size=len(X))
    net = single_layer_torch(params, "relu")
    # the loss torch minimises is the residual sum of squares of the formula
    loss = nn.MSELoss(reduction="sum")(net(torch.from_numpy(X)).squeeze(1), torch.from_numpy(y))
    rss = 2.0 * ref.squared_loss(y, ref.forward(X, params, "relu"))
    assert loss.item() == pytest.approx(rss, rel=1e-12)
    # with the hidden layer held fixed, the output layer that minimises the RSS is least
    # squares on the activations: there autograd's gradient vanishes and any move raises the RSS
    A = ref.hidden_activations(X, params, "relu")
    design = np.column_stack([np.ones(len(X)), A])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    best = ref.SingleLayerParams(params.W, params.w0, coef[1:], coef[0])
    net = single_layer_torch(best, "relu")
    loss = nn.MSELoss(reduction="sum")(net(torch.from_numpy(X)).squeeze(1), torch.from_numpy(y))
    loss.backward()
    torch.testing.assert_close(net[2].weight.grad, torch.zeros_like(net[2].weight), rtol=0, atol=1e-9)
    torch.testing.assert_close(net[2].bias.grad, torch.zeros_like(net[2].bias), rtol=0, atol=1e-9)
    rss_best = 2.0 * ref.squared_loss(y, ref.forward(X, best, "relu"))
    rng = np.random.default_rng(5)
    for _ in range(10):
        moved = ref.SingleLayerParams(
            best.W, best.w0, best.beta + 1e-2 * rng.normal(size=best.K), best.beta0 + 1e-2 * rng.normal()
        )
        assert 2.0 * ref.squared_loss(y, ref.forward(X, moved, "relu")) > rss_best


# ------------------------------------------------------------------- parameter-free layers (erratum of 10.9.1)
PARAMETER_FREE = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Dropout, nn.Flatten, nn.MaxPool2d, nn.AvgPool2d, nn.Identity)


def _check_parameter_free_layers(model: nn.Module) -> int:
    """Every activation, dropout, flatten and pooling module of ``model`` holds no parameter;
    returns how many such modules there are."""
    free = [(name, m) for name, m in model.named_modules() if isinstance(m, PARAMETER_FREE)]
    offenders = {name: sum(p.numel() for p in m.parameters()) for name, m in free if any(True for _ in m.parameters())}
    assert not offenders, f"{type(model).__name__}: parameter-free layers hold parameters {offenders}"
    return len(free)


def _chapter_networks() -> list[nn.Module]:
    """One instance of every network class in ``islp_ch10.models`` that builds with its defaults."""
    import inspect

    from islp_ch10 import models

    built = []
    for _, cls in inspect.getmembers(models, inspect.isclass):
        if issubclass(cls, nn.Module) and cls.__module__ == models.__name__:
            try:
                built.append(cls())
            except TypeError:  # needs arguments: a building block, not a chapter network
                continue
    return built


@pytest.mark.claim("10.9/hitters-layer-params")
def test_activation_and_dropout_layers_have_no_parameters():
    """The notes give the Hitters network's ReLU/Dropout map 50 parameters; such layers have none.
    Checked on the lab's Hitters layers (Linear, ReLU, Dropout, Linear: 1,000, 0, 0, 51) and on
    every chapter network; a ReLU with a learned parameter is rejected."""
    hitters = nn.Sequential(nn.Linear(19, 50), nn.ReLU(), nn.Dropout(0.4), nn.Linear(50, 1))
    assert [sum(p.numel() for p in m.parameters()) for m in hitters] == claims.book_value("10.9/hitters-layer-params")
    assert _check_parameter_free_layers(hitters) == 2
    networks = _chapter_networks()
    assert len(networks) >= 5
    assert sum(_check_parameter_free_layers(net) for net in networks) > len(networks)

    class ScaledReLU(nn.ReLU):  # broken variant: an activation with a learned scale
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(50))

    with pytest.raises(AssertionError, match="hold parameters"):
        _check_parameter_free_layers(nn.Sequential(nn.Linear(19, 50), ScaledReLU(), nn.Dropout(0.4)))
