"""Claims about two of the lab's networks, checked on the registered models (10.2, 10.9.1)."""

import numpy as np
import pytest
import torch

from islp_ch10.models import MODELS
from islp_ch10.reference.single_layer import relu
from islp_ch10.testing.model_checks import export_weights, summary_rows

# float64 on both sides; only the order of summation differs (fan-in 784).
TIGHT = dict(rtol=1e-12, atol=1e-12)


@pytest.mark.claim("10.2/two-hidden-forward")
def test_two_hidden_forward():
    """The MNIST network in eval mode is A1 = g(W1 x + b1), A2 = g(W2 A1 + b2), Z = W3 A2 + b3 with
    g = ReLU and a linear output layer (the ten Z_m are the logits)."""
    spec = MODELS["MNISTMLP"]
    torch.manual_seed(0)
    model = spec.build().double().eval()
    x = torch.rand(6, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    W1, b1, W2, b2, W3, b3 = export_weights(model)
    assert (W1.shape, W2.shape, W3.shape) == ((256, 784), (128, 256), (10, 128))

    X = x.numpy().reshape(6, 784)
    A1 = relu(X @ W1.T + b1)  # (6, 256)
    A2 = relu(A1 @ W2.T + b2)  # (6, 128)
    Z = A2 @ W3.T + b3  # (6, 10): linear output, no softmax
    with torch.no_grad():
        got = model(x).numpy()
    np.testing.assert_allclose(got, Z, **TIGHT)
    # Both nonlinearities act on this input (some pre-activations are negative), so a network
    # missing either ReLU could not pass the comparison above.
    assert (X @ W1.T + b1 < 0).any() and (A1 @ W2.T + b2 < 0).any()


# The book (10.9.1): the first map has 50 x 19 + 50 parameters, ReLU and dropout have none, the last
# linear map 50 + 1.
BOOK_HITTERS_MAPS = [("Linear", 1_000), ("ReLU", 0), ("Dropout", 0), ("Linear", 51)]


@pytest.mark.claim("10.9/hitters-layer-params")
def test_hitters_layer_params():
    """The Hitters network's four maps Linear, ReLU, Dropout, Linear hold 1,000, 0, 0 and 51
    parameters, in the registered table and in torchinfo's summary of the built model."""
    spec = MODELS["HittersNet"]
    table = [(layer.kind, layer.params) for layer in spec.layers if layer.kind != "Flatten"]
    assert table == BOOK_HITTERS_MAPS

    model = spec.build()
    maps = summary_rows(model.sequential, torch.zeros(2, 19))
    assert [(row.kind, row.params) for row in maps] == BOOK_HITTERS_MAPS
    assert sum(p for _, p in BOOK_HITTERS_MAPS) == spec.param_count
