"""10.3 Convolutional networks: the chapter's convolution and pooling arithmetic, checked
against the numpy references in ``islp_ch10.reference`` and against torch in float64,
and the lab CNN's shapes, parameter count and layer freezing.

Tolerances: torch and numpy both compute the same sums of products in float64, in
different orders, so values agree to a few ulps of the sums; ``ATOL`` = 1e-12 for inputs of
size O(1) leaves ample room for that and none for a wrong index or a flipped filter.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from islp_ch10 import claims
from islp_ch10.models import CIFARCNN, BuildingBlock, count_parameters
from islp_ch10.reference.conv import compose_kernels, conv2d, conv2d_multichannel, patches, shift2d, zero_pad
from islp_ch10.reference.params import transfer_head
from islp_ch10.reference.pool import avg_pool2d, max_pool2d

ATOL = 1e-12


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def _torch_conv2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """F.conv2d on one single-channel image with one filter, back to a 2-D numpy array."""
    return F.conv2d(_t(image)[None, None], _t(kernel)[None, None])[0, 0].numpy()


# ----------------------------------------------------------------------------- 10.3/conv-example
LETTERS = "abcdefghijkl"  # the 4x3 image, row by row
GREEK = "αβγδ"  # the 2x2 filter, row by row

# The convolved image exactly as the chapter writes it (a literal: this *is* the claim).
BOOK_CONVOLVED = [
    ["aα + bβ + dγ + eδ", "bα + cβ + eγ + fδ"],
    ["dα + eβ + gγ + hδ", "eα + fβ + hγ + iδ"],
    ["gα + hβ + jγ + kδ", "hα + iβ + kγ + lδ"],
]


def _decode(value: int) -> str:
    """Read a symbolic sum back from an integer built with letter i = 1000**i and Greek
    symbol g = 1, 2, 3, 4: base-1000 digit i is the filter symbol that multiplies letter i."""
    terms = []
    for i, letter in enumerate(LETTERS):
        digit = (value // 1000**i) % 1000
        if digit:
            assert 1 <= digit <= 4, f"letter {letter} multiplied by {digit}, not by one filter entry"
            terms.append(f"{letter}{GREEK[digit - 1]}")
    return " + ".join(terms)


@pytest.mark.claim("10.3/conv-example")
def test_conv_example():
    """The 4x3 example, symbol by symbol: letter i is encoded as 1000**i (a Python int, so
    the object-array arithmetic is exact) and alpha..delta as 1..4, so every output entry
    decodes uniquely into the sum of letter-symbol products that produced it."""
    image = np.array([1000**i for i in range(12)], dtype=object).reshape(4, 3)
    kernel = np.array([1, 2, 3, 4], dtype=object).reshape(2, 2)
    out = conv2d(image, kernel)
    assert out.shape == (3, 2)
    assert [[_decode(int(v)) for v in row] for row in out] == BOOK_CONVOLVED


@pytest.mark.claim("10.3/conv-example")
def test_conv_example_numeric():
    """The same six formulas with random real values, computed by hand, by the numpy
    reference and by torch's F.conv2d (float64)."""
    rng = np.random.default_rng(10_3)
    a, b, c, d, e, f, g, h, i, j, k, l = rng.standard_normal(12)
    al, be, ga, de = rng.standard_normal(4)
    image = np.array([[a, b, c], [d, e, f], [g, h, i], [j, k, l]])
    kernel = np.array([[al, be], [ga, de]])
    by_hand = np.array(
        [
            [a * al + b * be + d * ga + e * de, b * al + c * be + e * ga + f * de],
            [d * al + e * be + g * ga + h * de, e * al + f * be + h * ga + i * de],
            [g * al + h * be + j * ga + k * de, h * al + i * be + k * ga + l * de],
        ]
    )
    np.testing.assert_allclose(conv2d(image, kernel), by_hand, rtol=0, atol=ATOL)
    np.testing.assert_allclose(_torch_conv2d(image, kernel), by_hand, rtol=0, atol=ATOL)


def test_conv2d_takes_one_2d_image_and_one_2d_filter():
    """conv2d is the chapter's single-channel convolution: one 2-D image, one 2-D filter."""
    with pytest.raises(ValueError, match=r"conv2d expects a 2-D image and a 2-D filter, got shapes \(5,\), \(3, 3\)"):
        conv2d(np.zeros(5), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"got shapes \(5, 5\), \(3,\)"):
        conv2d(np.zeros((5, 5)), np.zeros(3))


# ----------------------------------------------------------------------------- 10.3/conv-size
@st.composite
def image_and_filter_sizes(draw, max_side: int = 12):
    """(H, W, h, w) with 1 <= h <= H <= max_side and 1 <= w <= W <= max_side."""
    H = draw(st.integers(1, max_side))
    W = draw(st.integers(1, max_side))
    return H, W, draw(st.integers(1, H)), draw(st.integers(1, W))


@pytest.mark.claim("10.3/conv-size")
@given(sizes=image_and_filter_sizes(), seed=st.integers(0, 2**32 - 1))
@example(sizes=(4, 3, 2, 2), seed=0)  # the chapter's 4x3 image, 2x2 filter -> 3x2
@example(sizes=(32, 32, 3, 3), seed=0)  # a CIFAR image and a 3x3 filter -> 30x30
def test_conv_size(sizes, seed):
    H, W, h, w = sizes
    rng = np.random.default_rng(seed)
    image, kernel = rng.uniform(-1, 1, (H, W)), rng.uniform(-1, 1, (h, w))
    expected = (H - h + 1, W - w + 1)
    ours, theirs = conv2d(image, kernel), _torch_conv2d(image, kernel)
    assert ours.shape == expected
    assert theirs.shape == expected
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=ATOL)


def test_conv2d_filter_must_fit_the_image_in_each_direction():
    """A filter taller or wider than the image, or empty, is refused (1 <= h <= H, 1 <= w <= W):
    the output (H - h + 1) x (W - w + 1) would be empty."""
    image = np.zeros((5, 5))
    for h, w in ((6, 3), (3, 6), (0, 3), (3, 0)):
        with pytest.raises(ValueError, match=rf"a {h}x{w} filter does not fit a 5x5 image"):
            conv2d(image, np.zeros((h, w)))


# ----------------------------------------------------------------------------- 10.3/conv-similarity
@pytest.mark.claim("10.3/conv-similarity")
@given(
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    n_patches=st.integers(1, 20),
    norm=st.floats(0.1, 10.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv_similarity(h, w, n_patches, norm, seed):
    """Each convolution value is <filter, patch>; over patches of one norm r the largest value,
    r * ||filter||, belongs to the patch parallel to the filter (Cauchy-Schwarz)."""
    rng = np.random.default_rng(seed)
    kernel = rng.uniform(-1, 1, (h, w))
    kernel[0, 0] += np.sign(kernel[0, 0]) + (kernel[0, 0] == 0)  # keep ||filter|| >= 1
    # 1. every entry of a convolution is a dot product with the patch under the filter
    image = rng.uniform(-1, 1, (h + 5, w + 5))
    dots = np.einsum("ijuv,uv->ij", patches(image, h, w), kernel)
    np.testing.assert_allclose(conv2d(image, kernel), dots, rtol=0, atol=ATOL)
    # 2. among patches of equal norm the one parallel to the filter scores highest
    candidates = rng.standard_normal((n_patches, h, w))
    candidates *= norm / np.linalg.norm(candidates, axis=(1, 2), keepdims=True)
    parallel = norm * kernel / np.linalg.norm(kernel)
    scores = np.array([conv2d(p, kernel)[0, 0] for p in candidates])
    best = conv2d(parallel, kernel)[0, 0]
    np.testing.assert_allclose(best, norm * np.linalg.norm(kernel), rtol=1e-12)
    assert np.all(scores <= best * (1 + 1e-12))
    # and the torch convolution ranks them the same way
    torch_scores = F.conv2d(_t(candidates)[:, None], _t(kernel)[None, None]).reshape(-1).numpy()
    np.testing.assert_allclose(torch_scores, scores, rtol=0, atol=ATOL * max(1.0, norm))


# ----------------------------------------------------------------------------- 10.3/edge-filters
VERTICAL_LINE = np.array([[-1.0, 2.0, -1.0]] * 3)  # responds to a one-pixel vertical line
HORIZONTAL_LINE = VERTICAL_LINE.T
SOBEL_VERTICAL_EDGE = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
SOBEL_HORIZONTAL_EDGE = SOBEL_VERTICAL_EDGE.T


@pytest.mark.claim("10.3/edge-filters")
@pytest.mark.parametrize("conv", [conv2d, _torch_conv2d], ids=["reference", "torch"])
def test_edge_filters(conv):
    vertical = np.zeros((8, 8))
    vertical[:, 4] = 1.0  # a vertical line in column 4
    horizontal = vertical.T.copy()  # a horizontal line in row 4
    # line detectors: strong response to their own orientation, none to the other
    v_on_v, h_on_v = conv(vertical, VERTICAL_LINE), conv(vertical, HORIZONTAL_LINE)
    v_on_h, h_on_h = conv(horizontal, VERTICAL_LINE), conv(horizontal, HORIZONTAL_LINE)
    assert v_on_v.max() == pytest.approx(6.0) and h_on_h.max() == pytest.approx(6.0)
    np.testing.assert_allclose(h_on_v, 0.0, atol=ATOL)
    np.testing.assert_allclose(v_on_h, 0.0, atol=ATOL)
    # the response sits on the line: column 3 of the output is the window centred on column 4
    assert set(np.flatnonzero(v_on_v.max(axis=0) == v_on_v.max())) == {3}
    # Sobel edge filters on step images: a vertical edge (left dark, right bright) and a horizontal one
    v_edge = np.zeros((8, 8))
    v_edge[:, 4:] = 1.0
    h_edge = v_edge.T.copy()
    assert np.abs(conv(v_edge, SOBEL_VERTICAL_EDGE)).max() == pytest.approx(4.0)
    assert np.abs(conv(h_edge, SOBEL_HORIZONTAL_EDGE)).max() == pytest.approx(4.0)
    np.testing.assert_allclose(conv(v_edge, SOBEL_HORIZONTAL_EDGE), 0.0, atol=ATOL)
    np.testing.assert_allclose(conv(h_edge, SOBEL_VERTICAL_EDGE), 0.0, atol=ATOL)


# ----------------------------------------------------------------------------- 10.3/multichannel
@pytest.mark.claim("10.3/multichannel")
def test_multichannel():
    """A 3x3x3 filter over a 32x32x3 image (channels first in torch: 3x32x32) gives one 30x30
    map, the sum of the three per-channel 2-D convolutions."""
    rng = np.random.default_rng(3)
    image = rng.uniform(0, 1, (3, 32, 32))
    kernel = rng.standard_normal((3, 3, 3))
    per_channel = [conv2d(image[c], kernel[c]) for c in range(3)]
    summed = per_channel[0] + per_channel[1] + per_channel[2]
    out = F.conv2d(_t(image)[None], _t(kernel)[None]).numpy()  # (1, 1, 30, 30)
    assert out.shape == (1, 1, 30, 30)
    np.testing.assert_allclose(out[0, 0], summed, rtol=0, atol=ATOL)
    np.testing.assert_allclose(conv2d_multichannel(image, kernel[None])[0], summed, rtol=0, atol=ATOL)


def test_multichannel_filters_have_the_images_channels():
    """The image is (C, H, W) and the filters (K, C, h, w) with the image's C; other ranks or
    channel counts are refused, naming the shapes."""
    x, k = np.zeros((2, 5, 5)), np.zeros((4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"expected image \(C, H, W\) and filters \(K, C, h, w\), got \(5, 5\)"):
        conv2d_multichannel(x[0], k)
    with pytest.raises(ValueError, match=r"got \(2, 5, 5\), \(2, 3, 3\)"):
        conv2d_multichannel(x, k[0])
    with pytest.raises(ValueError, match="filters have 3 channels but the image has 2"):
        conv2d_multichannel(x, np.zeros((4, 3, 2, 2)))  # 2x2 filters: C is axis 1, not 2


# ----------------------------------------------------------------------------- 10.3/k-filters
@pytest.mark.claim("10.3/k-filters")
@pytest.mark.parametrize("K", [1, 6, 32])
def test_k_filters(K):
    """nn.Conv2d(3, K, 3) turns a 3-channel image into a K-channel feature map; channel k is
    filter k's map (the multichannel sum) plus its bias."""
    torch.manual_seed(K)
    layer = nn.Conv2d(3, K, kernel_size=3).double()
    x = torch.rand(2, 3, 12, 12, dtype=torch.float64)
    with torch.no_grad():
        out = layer(x)
    assert out.shape == (2, K, 10, 10)
    weight, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    for b in range(2):
        ref = conv2d_multichannel(x[b].numpy(), weight, bias)
        assert ref.shape == (K, 10, 10)
        np.testing.assert_allclose(out[b].numpy(), ref, rtol=0, atol=ATOL)


# ----------------------------------------------------------------------------- 10.3/relu-detector
@pytest.mark.claim("10.3/relu-detector")
@given(seed=st.integers(0, 2**32 - 1), side=st.integers(3, 10), k=st.integers(1, 3))
def test_relu_detector(seed, side, k):
    """ReLU after a convolution keeps the positive responses unchanged and zeroes every other."""
    rng = np.random.default_rng(seed)
    image, kernel = rng.uniform(-1, 1, (side, side)), rng.uniform(-1, 1, (k, k))
    response = conv2d(image, kernel)
    detected = F.relu(F.conv2d(_t(image)[None, None], _t(kernel)[None, None]))[0, 0].numpy()
    assert np.all(detected >= 0)
    assert np.all(detected[response <= 0] == 0)
    np.testing.assert_allclose(detected[response > 0], response[response > 0], rtol=0, atol=ATOL)
    np.testing.assert_allclose(detected, np.maximum(response, 0.0), rtol=0, atol=ATOL)


# ----------------------------------------------------------------------------- 10.3/maxpool-example
@pytest.mark.claim("10.3/maxpool-example")
def test_maxpool_example():
    image = np.array([[1, 2, 5, 3], [3, 0, 1, 2], [2, 1, 3, 4], [1, 1, 2, 0]])
    pooled = np.array([[3, 5], [2, 4]])
    np.testing.assert_array_equal(max_pool2d(image, 2), pooled)
    torch_pooled = F.max_pool2d(torch.tensor(image, dtype=torch.float64)[None, None], kernel_size=2)
    np.testing.assert_array_equal(torch_pooled[0, 0].numpy(), pooled)


def test_pools_are_2x2_unless_told_otherwise():
    """The book pools 2x2 blocks (the max-pool example, chapter10-notes.zh.txt:165, and every
    MaxPool2d of the lab CNN, notes:1116), so the references' pool size defaults to 2."""
    x = np.arange(36.0).reshape(6, 6)
    assert max_pool2d(x).shape == avg_pool2d(x).shape == (3, 3)


@pytest.mark.parametrize("fn", [max_pool2d, avg_pool2d])
def test_pools_need_two_axes_and_say_which_pool_refused(fn):
    """A pool over fewer than 2 axes is refused by name."""
    with pytest.raises(ValueError, match=rf"^{fn.__name__} needs at least 2 axes, got shape \(4,\)$"):
        fn(np.zeros(4))


# ----------------------------------------------------------------------------- 10.3/padding-same
@pytest.mark.claim("10.3/padding-same")
def test_padding_same():
    """Trace CIFARCNN: each 3x3 'same' convolution keeps the side, each 2x2 pool halves it;
    32 -> 16 -> 8 -> 4 -> 2 with 32, 64, 128, 256 channels, flattened to 2*2*256 = 1,024."""
    torch.manual_seed(0)
    model = CIFARCNN().eval()
    seen: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o, name=name: seen.append((name, tuple(i[0].shape), tuple(o.shape))))
        for block in model.conv
        for name, m in (("conv", block.conv), ("pool", block.pool))
    ]
    with torch.no_grad():
        model(torch.rand(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    expected, side = [], 32
    for c_in, c_out in zip(CIFARCNN.channels[:-1], CIFARCNN.channels[1:]):
        expected.append(("conv", (2, c_in, side, side), (2, c_out, side, side)))  # 'same': side kept
        expected.append(("pool", (2, c_out, side, side), (2, c_out, side // 2, side // 2)))
        side //= 2
    assert seen == expected
    assert side == 2 and seen[-1][2] == (2, 256, 2, 2)
    assert model.output[1].in_features == 2 * 2 * 256 == 1024


@pytest.mark.claim("10.3/padding-same")
def test_padding_same_block_matches_reference():
    """One BuildingBlock (conv 'same' -> ReLU -> 2x2 max pool) equals zero-padding by 1, the
    multichannel reference convolution, max(0, .) and the reference pool, in float64."""
    torch.manual_seed(1)
    block = BuildingBlock(3, 4).double()
    x = torch.rand(1, 3, 10, 10, dtype=torch.float64)
    with torch.no_grad():
        out = block(x)[0].numpy()
    conv = conv2d_multichannel(
        x[0].numpy(), block.conv.weight.detach().numpy(), block.conv.bias.detach().numpy(), padding=1
    )
    assert conv.shape == (4, 10, 10)  # 'same': 10x10 stays 10x10
    assert zero_pad(x[0].numpy(), 1).shape == (3, 12, 12)
    np.testing.assert_allclose(out, max_pool2d(np.maximum(conv, 0.0), 2), rtol=0, atol=ATOL)


# ----------------------------------------------------------------------------- 10.3/params-cnn
@pytest.mark.claim("10.3/params-cnn")
def test_params_cnn():
    book = claims.book_value("10.3/params-cnn")
    model = CIFARCNN()
    # independently, layer by layer: a 3x3 conv has (9 c_in + 1) c_out, a Linear (in + 1) out
    ch = CIFARCNN.channels
    by_formula = sum((9 * c_in + 1) * c_out for c_in, c_out in itertools.pairwise(ch))
    by_formula += (1024 + 1) * 512 + (512 + 1) * 100
    assert count_parameters(model) == by_formula == book


# ----------------------------------------------------------------------------- 10.3/freezing
@pytest.mark.claim("10.3/freezing")
def test_freezing():
    """Freeze the first two building blocks; a few RMSprop steps (the lab's optimiser) on
    random data change every unfrozen tensor and leave every frozen one bit-identical."""
    torch.manual_seed(0)
    model = CIFARCNN()
    frozen = {f"conv.{i}.{n}" for i in (0, 1) for n, _ in model.conv[i].named_parameters()}
    for name, p in model.named_parameters():
        p.requires_grad_(name not in frozen)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    # every parameter goes to the optimiser: freezing must work through requires_grad alone
    optimiser = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    x, y = torch.rand(2, 3, 32, 32), torch.randint(0, 100, (2,))
    model.train()
    for _ in range(2):
        optimiser.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimiser.step()
    assert len(frozen) == 4
    for name, p in model.named_parameters():
        if name in frozen:
            assert p.grad is None, name
            assert torch.equal(p, before[name]), f"frozen {name} changed"
        else:
            assert not torch.equal(p, before[name]), f"unfrozen {name} did not change"
    n_frozen = sum(before[n].numel() for n in frozen)
    assert count_parameters(model, trainable_only=True) == count_parameters(model) - n_frozen


# ----------------------------------------------------------------------------- 10.3/augmentation
@pytest.mark.claim("10.3/augmentation")
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_augmentation(dtype):
    """Geometric, colour and erasing transforms (torchvision.transforms.v2) keep a 3x32x32
    image's shape and dtype and pass its label through unchanged.  (That augmentation acts as
    a regulariser is the empirical half of the claim; it needs CIFAR-100 and is not measured here.)"""
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    torch.manual_seed(0)
    raw = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    image = tv_tensors.Image(raw if dtype == torch.uint8 else raw.float() / 255)
    label = 42
    transforms = {
        "flip": v2.RandomHorizontalFlip(p=1.0),
        "crop": v2.RandomResizedCrop(32, scale=(0.5, 1.0), antialias=True),
        "rotate": v2.RandomRotation(20),
        "affine": v2.RandomAffine(degrees=0, translate=(0.1, 0.1), scale=(0.9, 1.1)),
        "colour": v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
        "erase": v2.RandomErasing(p=1.0),
    }
    transforms["all"] = v2.Compose(list(transforms.values()))
    for name, transform in transforms.items():
        out, out_label = transform(image, label)
        assert out.shape == (3, 32, 32), name
        assert out.dtype == dtype, name
        assert out_label == label and type(out_label) is int, name
        assert not torch.equal(out, image), f"{name} left the image unchanged"
    # the flip is the mirror image, so the check above cannot pass on a no-op
    torch.testing.assert_close(transforms["flip"](image), image.flip(-1), rtol=0, atol=0)


# ----------------------------------------------------------------------------- 10.3/pretrained
@pytest.mark.claim("10.3/pretrained")
def test_pretrained_param_count(resnet50_architecture):
    """The architecture's count only: ResNet50 built without weights (no download)."""
    assert count_parameters(resnet50_architecture) == claims.book_value("10.3/pretrained")


# ----------------------------------------------------------------------------- 10.3/avg-pool
BOOK_POOL_IMAGE = np.array(
    [[1, 2, 5, 3], [3, 0, 1, 2], [2, 1, 3, 4], [1, 1, 2, 0]]
)  # the max-pool worked example's image


def _check_avg_pool_example(pool) -> None:
    """``pool`` (a 2x2 pooling function on a 2-D array) gives the book's window means."""
    expected = np.array(claims.book_value("10.3/avg-pool"), dtype=np.float64).reshape(2, 2)
    np.testing.assert_array_equal(np.asarray(pool(BOOK_POOL_IMAGE), dtype=np.float64), expected)


def _torch_avg_pool(image: np.ndarray) -> np.ndarray:
    return nn.AvgPool2d(2)(_t(image)[None, None])[0, 0].numpy()


@pytest.mark.claim("10.3/avg-pool")
@pytest.mark.parametrize("pool", [lambda x: avg_pool2d(x, 2), _torch_avg_pool], ids=["reference", "torch"])
def test_avg_pool_example(pool):
    """[[1,2],[3,0]] -> 1.5, [[5,3],[1,2]] -> 2.75, [[2,1],[1,1]] -> 1.25, [[3,4],[2,0]] -> 2.25."""
    _check_avg_pool_example(pool)


@pytest.mark.claim("10.3/avg-pool")
def test_avg_pool_example_rejects_max_pool():
    """Broken variant: max pooling where average pooling is asked for fails the example."""
    with pytest.raises(AssertionError):
        _check_avg_pool_example(lambda x: max_pool2d(x, 2))
    with pytest.raises(AssertionError):
        _check_avg_pool_example(lambda x: nn.MaxPool2d(2)(_t(x)[None, None])[0, 0].numpy())


@pytest.mark.claim("10.3/avg-pool")
@given(
    C=st.integers(1, 3), H=st.integers(1, 9), W=st.integers(1, 9), k=st.integers(1, 3), seed=st.integers(0, 2**32 - 1)
)
def test_avg_pool_hypothesis(C, H, W, k, seed):
    """For any map and window: the reference equals torch's AvgPool2d, every pooled value lies
    between its window's min and max, and the pooled map keeps the mean of the part it covers."""
    if k > H or k > W:
        with pytest.raises(ValueError, match="does not fit"):
            avg_pool2d(np.zeros((C, H, W)), k)
        return
    x = np.random.default_rng(seed).normal(size=(C, H, W))
    pooled = avg_pool2d(x, k)
    np.testing.assert_allclose(pooled, nn.AvgPool2d(k)(_t(x)[None])[0].numpy(), rtol=0, atol=ATOL)
    covered = x[:, : (H // k) * k, : (W // k) * k]
    assert np.all(pooled <= max_pool2d(covered, k) + ATOL)
    assert np.all(pooled >= -max_pool2d(-covered, k) - ATOL)
    np.testing.assert_allclose(pooled.mean(), covered.mean(), rtol=0, atol=ATOL)


# ----------------------------------------------------------------------------- 10.3/stacked-conv
def _check_stacked_equals_single(stack, single, image: np.ndarray, first: np.ndarray, second: np.ndarray) -> None:
    """``stack(image, first, second)`` (two convolutions in a row) equals ``single(image, K)``
    with ``K = compose_kernels(first, second)``, entry by entry."""
    composed = compose_kernels(first, second)
    np.testing.assert_allclose(stack(image, first, second), single(image, composed), rtol=0, atol=1e-10)


def _reference_stack(image, first, second):
    return conv2d(conv2d(image, first), second)


def _torch_stack(image, first, second):
    """nn.Conv2d(1, 1, 3) twice, no bias, no activation in between: the layers as a network holds them."""
    layers = nn.Sequential(nn.Conv2d(1, 1, first.shape, bias=False), nn.Conv2d(1, 1, second.shape, bias=False)).double()
    with torch.no_grad():
        layers[0].weight.copy_(_t(first)[None, None])
        layers[1].weight.copy_(_t(second)[None, None])
        return layers(_t(image)[None, None])[0, 0].numpy()


@pytest.mark.claim("10.3/stacked-conv")
@pytest.mark.parametrize("stack", [_reference_stack, _torch_stack], ids=["reference", "torch"])
def test_stacked_conv(stack):
    """Two 3x3 filters in a row are one 5x5 filter on a 16x16 image (valid padding: 14x14, then 12x12),
    and the stacked layers' output at one position depends on exactly a 5x5 patch of the input."""
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    size = claims.book_value("10.3/stacked-conv")
    assert compose_kernels(first, second).shape == (size, size)
    image = rng.normal(size=(16, 16))
    _check_stacked_equals_single(stack, conv2d, image, first, second)
    _check_stacked_equals_single(stack, _torch_conv2d, image, first, second)
    # receptive field of the stack: the gradient of one output entry w.r.t. the image
    x = _t(image)[None, None].requires_grad_(True)
    out = F.conv2d(F.conv2d(x, _t(first)[None, None]), _t(second)[None, None])
    out[0, 0, 4, 7].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (4, 4 + size - 1, 7, 7 + size - 1)


@pytest.mark.claim("10.3/stacked-conv")
@given(
    h1=st.integers(1, 4),
    w1=st.integers(1, 4),
    h2=st.integers(1, 4),
    w2=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_stacked_conv_hypothesis(h1, w1, h2, w2, seed):
    """Any two filter sizes: one (h1+h2-1) x (w1+w2-1) filter does the work of both."""
    rng = np.random.default_rng(seed)
    first, second = rng.normal(size=(h1, w1)), rng.normal(size=(h2, w2))
    assert compose_kernels(first, second).shape == (h1 + h2 - 1, w1 + w2 - 1)
    _check_stacked_equals_single(_reference_stack, _torch_conv2d, rng.normal(size=(10, 9)), first, second)


@pytest.mark.claim("10.3/stacked-conv")
def test_stacked_conv_rejects_broken_compositions():
    """Broken variants: composing the filters by cross-correlation (second filter not flipped
    into the full convolution), or stacking 'same'-padded convolutions (the zeros padded in
    between change the border values), both fail the check."""
    rng = np.random.default_rng(4)
    first, second = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    image = rng.normal(size=(12, 12))

    def unflipped_single(img, composed):
        return conv2d(img, conv2d(zero_pad(first, 2), second))  # correlation of the filters

    def padded_stack(img, k1, k2):
        x = _t(img)[None, None]
        return F.conv2d(F.conv2d(x, _t(k1)[None, None], padding=1), _t(k2)[None, None], padding=1)[0, 0].numpy()

    def padded_single(img, composed):
        return F.conv2d(_t(img)[None, None], _t(composed)[None, None], padding=2)[0, 0].numpy()

    with pytest.raises(AssertionError):
        _check_stacked_equals_single(_reference_stack, unflipped_single, image, first, second)
    with pytest.raises(AssertionError):
        _check_stacked_equals_single(padded_stack, padded_single, image, first, second)


def test_only_two_2d_filters_compose():
    """Two stacked convolutions compose into one filter only for two 2-D filters."""
    with pytest.raises(ValueError, match=r"two 2-D filters, got shapes \(3,\), \(3, 3\)"):
        compose_kernels(np.zeros(3), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"got shapes \(3, 3\), \(3,\)"):
        compose_kernels(np.zeros((3, 3)), np.zeros(3))


# ----------------------------------------------------------------------------- 10.3/translation-equivariance
def _check_equivariant(feature_map, image: np.ndarray, kernel: np.ndarray, dy: int, dx: int) -> None:
    """Shifting the image by (dy, dx) shifts ``feature_map(image, kernel)`` by (dy, dx), wherever
    both positions are inside the map (away from the borders, where zeros come in)."""
    out = np.asarray(feature_map(image, kernel))
    moved = np.asarray(feature_map(shift2d(image, dy, dx), kernel))
    Ho, Wo = out.shape
    if abs(dy) >= Ho or abs(dx) >= Wo:
        return
    dst = (slice(max(dy, 0), Ho + min(dy, 0)), slice(max(dx, 0), Wo + min(dx, 0)))
    src = (slice(max(-dy, 0), Ho + min(-dy, 0)), slice(max(-dx, 0), Wo + min(-dx, 0)))
    np.testing.assert_allclose(moved[dst], out[src], rtol=0, atol=1e-10)


def _torch_conv_with_bias(image, kernel):
    conv = nn.Conv2d(1, 1, kernel.shape).double()
    with torch.no_grad():
        conv.weight.copy_(_t(kernel)[None, None])
        conv.bias.fill_(0.3)
        return conv(_t(image)[None, None])[0, 0].numpy()


@pytest.mark.claim("10.3/translation-equivariance")
def test_translation_equivariance_example():
    """A 3x3 cross drawn at two places in a 20x20 image: the filter matching it peaks at the
    cross's top-left corner both times, i.e. it finds the pattern wherever it is."""
    cross = np.array([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
    for conv in (conv2d, _torch_conv2d):
        for r, c in ((2, 3), (13, 11)):
            image = np.zeros((20, 20))
            image[r : r + 3, c : c + 3] = cross
            fmap = conv(image, cross)
            assert np.unravel_index(np.argmax(fmap), fmap.shape) == (r, c)
        _check_equivariant(conv, image, cross, -11, -8)


@pytest.mark.claim("10.3/translation-equivariance")
@given(
    H=st.integers(4, 12),
    W=st.integers(4, 12),
    h=st.integers(1, 3),
    w=st.integers(1, 3),
    dy=st.integers(-5, 5),
    dx=st.integers(-5, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_translation_equivariance(H, W, h, w, dy, dx, seed):
    rng = np.random.default_rng(seed)
    image, kernel = rng.normal(size=(H, W)), rng.normal(size=(h, w))
    for conv in (conv2d, _torch_conv2d, _torch_conv_with_bias):
        _check_equivariant(conv, image, kernel, dy, dx)


@pytest.mark.claim("10.3/translation-equivariance")
def test_translation_equivariance_rejects_location_dependent_filters():
    """Broken variant: a locally connected layer (the filter's weight changes with the output
    row) is not a convolution and fails the check."""
    rng = np.random.default_rng(5)
    image, kernel = rng.normal(size=(10, 10)), rng.normal(size=(3, 3))

    def locally_connected(img, k):
        out = conv2d(img, k)
        return out * (1.0 + 0.1 * np.arange(out.shape[0]))[:, None]

    _check_equivariant(conv2d, image, kernel, 2, -1)
    with pytest.raises(AssertionError):
        _check_equivariant(locally_connected, image, kernel, 2, -1)


# ----------------------------------------------------------------------------- 10.3/transfer-head
@pytest.fixture(scope="module")
def resnet50_architecture():
    """ResNet50 built without weights (the architecture only; nothing is downloaded).  Shared by
    the module's tests: those that change it work on a deep copy."""
    from torchvision.models import resnet50

    with torch.random.fork_rng(devices=[]):  # a module fixture: keep its seed out of later tests
        torch.manual_seed(0)
        return resnet50(weights=None)


def _replace_head_and_freeze(model: nn.Module, K: int) -> nn.Module:
    """The transfer-learning recipe: freeze every pretrained weight, then a new K-class last layer."""
    for p in model.parameters():
        p.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, K)
    return model


def _check_transfer_head(model: nn.Module, K: int) -> None:
    features = claims.book_value("10.3/transfer-head")
    assert model.fc.in_features == features
    assert count_parameters(model, trainable_only=True) == transfer_head(features, K)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias"}, sorted(trainable)


@pytest.mark.claim("10.3/transfer-head")
@pytest.mark.parametrize("K", [2, 10, 100])
def test_transfer_head(resnet50_architecture, K):
    """Only the new last layer trains: 2048 K + K parameters (4,098 for K = 2, 204,900 for
    K = 100), and a backward pass leaves every other tensor without a gradient."""
    import copy

    model = _replace_head_and_freeze(copy.deepcopy(resnet50_architecture), K)
    _check_transfer_head(model, K)
    # 32 x 32, the smallest side ResNet50's five halvings leave a 1 x 1 map for: which tensors
    # train does not depend on the image size
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, K)
    out.sum().backward()
    got_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert got_grad == {"fc.weight", "fc.bias"}


@pytest.mark.claim("10.3/transfer-head")
def test_transfer_head_rejects_broken_recipes(resnet50_architecture):
    """Broken variants: forgetting to freeze (everything trains) and freezing after the new
    head is in place (nothing trains) both fail the check."""
    import copy

    K = 10
    unfrozen = copy.deepcopy(resnet50_architecture)
    unfrozen.fc = nn.Linear(unfrozen.fc.in_features, K)
    with pytest.raises(AssertionError):
        _check_transfer_head(unfrozen, K)
    frozen_head = copy.deepcopy(resnet50_architecture)
    frozen_head.fc = nn.Linear(frozen_head.fc.in_features, K)
    for p in frozen_head.parameters():
        p.requires_grad_(False)
    with pytest.raises(AssertionError):
        _check_transfer_head(frozen_head, K)


def test_transfer_head_has_features_times_classes_plus_classes_parameters():
    """A features -> classes head has features * classes + classes parameters; both must be >= 1."""
    assert transfer_head(1, 1) == 2
    assert transfer_head(2048, 10) == 20490
    for f, c in ((0, 5), (5, 0)):
        with pytest.raises(ValueError, match=rf"features and classes must be >= 1, got {f} and {c}"):
            transfer_head(f, c)
