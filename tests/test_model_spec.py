"""The per-model spec (islp_ch10/testing/model_checks.py) applied to every registered chapter model,
and the machinery it rests on: the registry's own validation, the numpy evaluator of the book's
tables (which must fail for a wrong formula too), the snapshot files and the dtype policy."""

import ast
import dataclasses
import functools
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from islp_ch10 import models
from islp_ch10.models import MODELS
from islp_ch10.reference import networks
from islp_ch10.reference import rnn as _rnn_ref
from islp_ch10.testing import model_checks as mc
from islp_ch10.testing.model_checks import parametrize_with_model_checks

# Float models that by design also accept inputs other than (batch, *input_shape): model ->
# (the extra shapes it takes, as a test on (shape, spec)).
#   LinearAR: the (batch, L, p) lag array with L * p inputs, which it flattens (10.5/flatten).
OTHER_ACCEPTED_SHAPES = {
    "LinearAR": lambda shape, spec: len(shape) == 3 and shape[1] * shape[2] == spec.input_shape[0],
}


@parametrize_with_model_checks()
def test_model_spec(spec, check):
    check(spec)


def test_every_module_in_models_is_registered():
    """Nothing escapes the registry: each nn.Module class in models.py is a model or a named part."""
    source = Path(models.__file__).read_text(encoding="utf-8")
    classes = [n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)]
    modules = [
        c for c in classes if isinstance(getattr(models, c), type) and issubclass(getattr(models, c), torch.nn.Module)
    ]
    unregistered = set(modules) - set(models.list_models()) - set(models.COMPONENTS)
    assert not unregistered, f"nn.Modules in models.py without @register_model: {sorted(unregistered)}"
    assert set(models.list_models()) <= set(modules)


def test_token_models_reject_ids_outside_the_vocabulary():
    model = models.IMDBLSTM()
    with pytest.raises(ValueError, match=r"\[0, 10003\)"):
        model(torch.tensor([[1, 2, 10003]]))
    with pytest.raises(ValueError, match=r"\[0, 10003\)"):
        model(torch.tensor([[-1, 2, 3]]))


@given(
    name=st.sampled_from([n for n, s in MODELS.items() if s.input_kind == "float"]),
    shape=st.lists(st.integers(1, 40), min_size=1, max_size=5),
)
def test_float_models_refuse_every_wrong_shape(name, shape):
    """Any input whose shape is not (batch, *expected), nor one the model takes by design
    (OTHER_ACCEPTED_SHAPES), is refused with a ValueError naming the shape."""
    spec = MODELS[name]
    assume(tuple(shape[1:]) != spec.input_shape or len(shape) < 2)
    if name in OTHER_ACCEPTED_SHAPES:
        assume(not OTHER_ACCEPTED_SHAPES[name](shape, spec))
    # the shape without its memory (a stride-0 view of one zero; up to 40^5 floats otherwise):
    # the check reads the shape and the dtype only
    with pytest.raises(ValueError, match=r"shape"):
        _built(name)(torch.zeros(()).expand(shape))


@functools.cache
def _built(name):
    """One instance per model for the shape test: a refused input changes nothing in it."""
    return MODELS[name].build()


# ----------------------------------------------------------------------------- the registry
def test_spec_refuses_dropout_rates_that_do_not_fit_its_table():
    spec = MODELS["MNISTMLP"]
    with pytest.raises(ValueError, match=r"MNISTMLP: 2 Dropout rows but rates \(0\.4,\)"):
        dataclasses.replace(spec, dropout=(0.4,))
    with pytest.raises(ValueError, match=r"task 'ordinal'"):
        dataclasses.replace(spec, task="ordinal")


def test_register_model_refuses_a_second_model_of_the_same_name():
    spec = MODELS["LinearAR"]
    book = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec) if f.name not in ("name", "factory")}
    with pytest.raises(ValueError, match=r"'LinearAR' is registered twice"):
        models.register_model(**book)(models.LinearAR)
    assert MODELS["LinearAR"] is spec


def test_table_renders_with_the_lab_batch():
    text = MODELS["NYSERNN"].table()
    assert "[1770, 5, 12]" in text and "Total params: 217" in text


def _spec(**changes):
    """A small valid regression spec (Linear-ReLU-Linear), with ``changes`` applied."""
    fields = dict(
        name="Tiny",
        factory=object,
        task="regression",
        lab_input=(8, 3),
        layers=[["Linear", [4], 16], ["ReLU", [4], 0], ["Linear", [1], 5]],
    )
    return models.ModelSpec(**(fields | changes))


def test_model_spec_normalises_its_table():
    """Table rows given as lists become Layer tuples with tuple shapes and int parameter counts."""
    Layer = models.Layer
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


# ----------------------------------------------------------------------------- the numpy evaluator
def _weights(spec):
    torch.manual_seed(0)
    return mc.export_weights(spec.build())


def test_evaluator_refuses_a_table_that_does_not_fit_the_weights():
    spec = MODELS["HittersNet"]
    x = np.zeros((2, 19))
    wrong_params = list(spec.layers)
    wrong_params[1] = networks.Layer("Linear", (50,), 999)
    with pytest.raises(ValueError, match=r"row 1 \(Linear\): the table says 999 parameters"):
        networks.evaluate(wrong_params, _weights(spec), x)
    wrong_shape = list(spec.layers)
    wrong_shape[4] = networks.Layer("Linear", (2,), 51)
    with pytest.raises(ValueError, match=r"row 4 \(Linear\): output shape \(1,\), the table says \(2,\)"):
        networks.evaluate(wrong_shape, _weights(spec), x)
    with pytest.raises(ValueError, match=r"2 weight arrays left over"):
        networks.evaluate(spec.layers[:-1], _weights(spec), x)


def test_conv_same_is_the_filter_by_filter_sum():
    """The evaluator's convolution equals the literal multichannel formula of reference/conv.py."""
    from islp_ch10.reference.conv import conv2d_multichannel

    rng = np.random.default_rng(0)
    x, K, b = rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    got = networks.conv2d_same(x, K, b)
    expected = np.stack([conv2d_multichannel(image, K, b, padding=1) for image in x])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_conv2d_same_keeps_the_map_size_for_any_odd_filter():
    """'same' padding pads (h - 1) / 2 on each side: a 5x5 filter keeps H x W as a 3x3 one does,
    and equals the multichannel convolution of the image padded by 2."""
    from islp_ch10.reference.conv import conv2d_multichannel

    rng = np.random.default_rng(4)
    x, kernels, bias = rng.normal(size=(1, 2, 6, 6)), rng.normal(size=(3, 2, 5, 5)), rng.normal(size=3)
    out = networks.conv2d_same(x, kernels, bias)
    assert out.shape == (1, 3, 6, 6)
    np.testing.assert_allclose(out[0], conv2d_multichannel(x[0], kernels, bias, padding=2), rtol=1e-12)
    for bad_x, bad_k in ((x[0], kernels), (x[:, :1], kernels), (x, kernels[..., :4, :]), (x, kernels[..., :4])):
        with pytest.raises(ValueError, match=r"expected images \(n, 2, H, W\) and odd filters|odd filters, got"):
            networks.conv2d_same(bad_x, bad_k, bias)


def test_lstm_forward_weights_are_4K_by_p_4K_by_K_and_4K():
    """An LSTM layer of K units on p inputs has weights (4K, p), (4K, K) and biases (4K,); the
    evaluator refuses others, and inputs whose length is not p."""
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


def _lstm_gates_swapped(X, w_ih, w_hh, b_ih, b_hh):
    """A wrong LSTM: input and forget gates exchanged."""
    K = w_hh.shape[1]
    order = np.r_[K : 2 * K, 0:K, 2 * K : 4 * K]
    return _REAL_LSTM(X, w_ih[order], w_hh[order], b_ih[order], b_hh[order])


_REAL_LSTM = networks.lstm_forward


def _true_convolution(x, kernels, bias):
    """A wrong convolution: filters flipped (mathematical convolution, not the chapter's)."""
    return _REAL_CONV(x, kernels[..., ::-1, ::-1], bias)


_REAL_CONV = networks.conv2d_same


def _rnn_relu(X, W, U, g=np.tanh, A0=None):
    return _REAL_RNN(X, W, U, g=lambda z: np.maximum(z, 0), A0=A0)


_REAL_RNN = _rnn_ref.rnn_forward


@pytest.mark.parametrize(
    "model, target, broken",
    [
        ("IMDBLSTM", (networks, "lstm_forward"), _lstm_gates_swapped),
        ("CIFARCNN", (networks, "conv2d_same"), _true_convolution),
        ("NYSERNN", (_rnn_ref, "rnn_forward"), _rnn_relu),
    ],
)
def test_forward_check_rejects_a_wrong_reference(model, target, broken, monkeypatch):
    """The numpy side can fail too: with a wrong formula in the reference, the real model is rejected."""
    monkeypatch.setattr(*target, broken)
    with pytest.raises(AssertionError, match="differs from the numpy evaluation"):
        mc.check_forward_matches_numpy(MODELS[model])


# ----------------------------------------------------------------------------- snapshots
def test_missing_snapshot_fails_with_the_command_to_create_it(tmp_path, monkeypatch):
    monkeypatch.setattr(mc, "EXPECT_DIR", tmp_path)
    monkeypatch.delenv(mc.ACCEPT_ENV, raising=False)
    with pytest.raises(
        AssertionError,
        match=r"ISLP_CH10_ACCEPT=1 python -m pytest "
        r"'tests/test_model_spec.py::test_model_spec\[HittersNet-check_expected_output\]'",
    ):
        mc.check_expected_output(MODELS["HittersNet"])


def test_accept_writes_a_snapshot_that_then_passes(tmp_path, monkeypatch):
    monkeypatch.setattr(mc, "EXPECT_DIR", tmp_path)
    monkeypatch.setenv(mc.ACCEPT_ENV, "1")
    mc.check_expected_output(MODELS["NYSERNN"])
    assert (tmp_path / "NYSERNN.npz").stat().st_size < mc.MAX_EXPECT_BYTES
    monkeypatch.delenv(mc.ACCEPT_ENV)
    mc.check_expected_output(MODELS["NYSERNN"])


def test_snapshots_over_the_size_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(mc, "EXPECT_DIR", tmp_path)
    monkeypatch.setenv(mc.ACCEPT_ENV, "1")
    noise = torch.rand(200, 100, generator=torch.Generator().manual_seed(0))  # ~75 KB compressed
    with pytest.raises(AssertionError, match=r"snapshot of .* bytes refused \(limit 50,000\)"):
        mc.assert_expected(noise, "Big")
    assert not (tmp_path / "Big.npz").exists()
    (tmp_path / "Big.npz").write_bytes(b"0" * (mc.MAX_EXPECT_BYTES + 1))
    monkeypatch.delenv(mc.ACCEPT_ENV)
    with pytest.raises(AssertionError, match=r"over the 50,000-byte limit"):
        mc.assert_expected(noise, "Big")


def test_committed_snapshots_are_exactly_the_registered_models():
    names = {p.stem for p in mc.EXPECT_DIR.glob("*.npz")}
    assert names == set(MODELS)
    assert all(p.stat().st_size <= mc.MAX_EXPECT_BYTES for p in mc.EXPECT_DIR.glob("*.npz"))


# ----------------------------------------------------------------------------- dtype policy
def test_a_model_cast_by_the_caller_takes_its_own_dtype():
    """The policy's one exception: after model.double() float64 input is the right dtype (and
    float32 is then refused, naming the weights' dtype)."""
    model = models.HittersNet().double()
    assert model(torch.zeros(3, 19, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(ValueError, match=r"HittersNet expects torch\.float64 input .* got dtype torch\.float32"):
        model(torch.zeros(3, 19))
