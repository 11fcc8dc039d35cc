"""MNIST: the data of section 10.2 and lab 10.9.2 (claims 10.2/mnist-shape, 10.9/mnist-batches).

Data-marked tests read the staged IDX files; the miniature tests write tiny IDX files in the
same format (fast tier) so the loaders and the torchvision route are checked without data.
"""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from islp_ch10 import claims, data
from islp_ch10.data import mnist as mnist_mod
from islp_ch10.testing.fakes import register

# class counts of the staged files (shared/data/README.md, verified there against the originals)
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ----------------------------------------------------------------------------- miniature files
def write_idx_gz(path, arr: np.ndarray, magic: int) -> None:
    header = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def make_mini_mnist(root, monkeypatch, n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays["train_images"][0, 0, 0], arrays["train_images"][0, 0, 1] = 0, 255
    for key, rel in mnist_mod.FILES.items():
        magic = mnist_mod.IMAGE_MAGIC if key.endswith("images") else mnist_mod.LABEL_MAGIC
        write_idx_gz(root / rel, arrays[key], magic)
        register(monkeypatch, root, rel)
    return arrays


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv(data.CACHE_ENV, str(path))
    return path


# ----------------------------------------------------------------------------- 10.2/mnist-shape
@pytest.mark.data
@pytest.mark.claim("10.2/mnist-shape")
def test_mnist_shape(mnist):
    n_train, n_test = claims.book_value("10.2/mnist-shape")
    extra = claims.get("10.2/mnist-shape").extra
    side = round(extra["pixels"] ** 0.5)
    assert side * side == extra["pixels"] == 784
    assert tuple(mnist.x_train.shape) == (n_train, 1, side, side)
    assert tuple(mnist.x_test.shape) == (n_test, 1, side, side)
    assert mnist.x_train.dtype == torch.float32 and mnist.y_train.dtype == torch.int64
    assert mnist.x_train[0].numel() == extra["pixels"]
    # grey levels: the [0, 1] values are exactly k/255 for integers k in 0..255, both ends used
    lo, hi = extra["grey_levels"]
    for x in (mnist.x_train, mnist.x_test):
        levels = x * hi
        assert torch.equal(levels, levels.round())
        assert levels.min().item() == lo and levels.max().item() == hi
    assert torch.bincount(mnist.y_train, minlength=extra["classes"]).tolist() == TRAIN_COUNTS
    assert torch.bincount(mnist.y_test, minlength=extra["classes"]).tolist() == TEST_COUNTS


@pytest.mark.data
@pytest.mark.claim("10.2/mnist-shape")
def test_mnist_shape_raw_idx():
    root = data.data_root()
    try:
        path = data.locate(mnist_mod.FILES["train_images"], root, "mnist")
    except data.DataMissing as exc:
        pytest.skip(str(exc))
    raw = data.read_idx(path, mnist_mod.IMAGE_MAGIC)
    assert raw.dtype == np.uint8
    assert raw.shape == (claims.book_value("10.2/mnist-shape")[0], 28, 28)
    assert raw.min() == 0 and raw.max() == 255


@pytest.mark.claim("10.2/mnist-shape")
def test_mnist_shape_miniature(tmp_path, monkeypatch):
    arrays = make_mini_mnist(tmp_path, monkeypatch)
    m = data.load_mnist(tmp_path)
    assert tuple(m.x_train.shape) == (12, 1, 28, 28) and tuple(m.x_test.shape) == (5, 1, 28, 28)
    assert m.x_train.dtype == torch.float32 and m.y_train.dtype == torch.int64
    np.testing.assert_array_equal((m.x_train[:, 0] * 255).round().to(torch.uint8).numpy(), arrays["train_images"])
    np.testing.assert_array_equal(m.y_test.numpy(), arrays["test_labels"])
    assert m.x_train.min() == 0.0 and m.x_train.max() == 1.0


def test_mnist_torchvision_miniature_equals_loader(tmp_path, tmp_cache, monkeypatch):
    """The book's torchvision route (MNIST + ToTensor) gives the loader's tensors."""
    make_mini_mnist(tmp_path / "data", monkeypatch)
    m = data.load_mnist(tmp_path / "data")
    for train, (x, y) in ((True, (m.x_train, m.y_train)), (False, (m.x_test, m.y_test))):
        ds = data.mnist_torchvision(tmp_path / "data", train=train)
        assert len(ds) == len(y)
        for i in range(len(ds)):
            img, label = ds[i]
            assert torch.equal(img, x[i]) and label == int(y[i])
    # the unpacked files live in the cache folder, not the (possibly read-only) data root
    assert list(tmp_cache.glob("mnist-torchvision-*/MNIST/raw/train-images-idx3-ubyte"))
    assert not (tmp_path / "data" / "MNIST").exists()


def test_mnist_torchvision_rebuilds_truncated_raw(tmp_path, tmp_cache, monkeypatch):
    make_mini_mnist(tmp_path / "data", monkeypatch)
    data.mnist_torchvision(tmp_path / "data", train=False)
    (raw,) = tmp_cache.glob("mnist-torchvision-*/MNIST/raw/t10k-images-idx3-ubyte")
    raw.write_bytes(raw.read_bytes()[:100])  # a crash left half a file behind
    ds = data.mnist_torchvision(tmp_path / "data", train=False)
    assert len(ds) == 5 and tuple(ds[4][0].shape) == (1, 28, 28)


def _corrupt_cached_label(tmp_cache, value=200):
    """Set the first training label of the unpacked torchvision cache to ``value`` (in place)."""
    (raw,) = tmp_cache.glob("mnist-torchvision-*/MNIST/raw/train-labels-idx1-ubyte")
    blob = bytearray(raw.read_bytes())
    blob[8] = value  # the IDX label header is 8 bytes; the first label follows
    raw.write_bytes(bytes(blob))
    data.clear_hash_memo()


def test_mnist_torchvision_rebuilds_corrupted_label(tmp_path, tmp_cache, monkeypatch):
    """A label byte set to 200 in the torchvision cache is detected and rebuilt from the checked gz file."""
    arrays = make_mini_mnist(tmp_path / "data", monkeypatch)
    data.mnist_torchvision(tmp_path / "data", train=True)
    _corrupt_cached_label(tmp_cache)
    ds = data.mnist_torchvision(tmp_path / "data", train=True)
    assert [int(ds[i][1]) for i in range(len(ds))] == arrays["train_labels"].tolist()


def test_mnist_torchvision_corruption_passes_without_verification(tmp_path, tmp_cache, monkeypatch):
    """The broken variant: a cache trusted without its manifest check hands out label 200."""
    make_mini_mnist(tmp_path / "data", monkeypatch)
    data.mnist_torchvision(tmp_path / "data", train=True)
    _corrupt_cached_label(tmp_cache)
    monkeypatch.setattr(mnist_mod, "_cached_ok", lambda path, manifest: path.is_file())
    assert int(data.mnist_torchvision(tmp_path / "data", train=True)[0][1]) == 200


# ----------------------------------------------------------------------------- 10.9/mnist-batches
def _first_batches(train_ds, test_ds, k=2):
    from ISLP.torch import SimpleDataModule

    dm = SimpleDataModule(train_ds, test_ds, validation=0.2, batch_size=256)
    shapes = []
    for idx, (X_, Y_) in enumerate(dm.train_dataloader()):
        shapes.append((list(X_.shape), list(Y_.shape), X_.dtype, Y_.dtype))
        if idx >= k - 1:
            break
    return dm, shapes


@pytest.mark.data
@pytest.mark.claim("10.9/mnist-batches")
def test_mnist_batches(mnist, tmp_cache):
    mnist_train, mnist_test = [data.mnist_torchvision(train=train) for train in (True, False)]
    assert len(mnist_train) == len(mnist.y_train) and len(mnist_test) == len(mnist.y_test)
    img, label = mnist_test[0]
    assert torch.equal(img, mnist.x_test[0]) and label == int(mnist.y_test[0])
    dm, shapes = _first_batches(mnist_train, mnist_test)
    assert len(dm.train_dataset) == 48_000 and len(dm.validation_dataset) == 12_000
    batch = claims.book_value("10.9/mnist-batches")
    for x_shape, y_shape, x_dtype, y_dtype in shapes:
        assert x_shape == batch and y_shape == batch[:1]
        assert x_dtype == torch.float32 and y_dtype == torch.int64


@pytest.mark.claim("10.9/mnist-batches")
def test_mnist_batches_miniature(tmp_path, tmp_cache, monkeypatch):
    make_mini_mnist(tmp_path / "data", monkeypatch, n_train=700, n_test=10)
    mnist_train, mnist_test = [data.mnist_torchvision(tmp_path / "data", train=t) for t in (True, False)]
    dm, shapes = _first_batches(mnist_train, mnist_test)
    assert len(dm.train_dataset) == 560 and len(dm.validation_dataset) == 140
    batch = claims.book_value("10.9/mnist-batches")
    assert [s[:2] for s in shapes] == [(batch, batch[:1])] * 2


# ----------------------------------------------------------------------------- the loaders' contract
def test_idx_header_only_files_are_empty_arrays():
    """A header whose counts are 0 is a whole IDX file without items (8 bytes for labels, 16 for
    images), not a truncated one."""
    labels = data.parse_idx(struct.pack(">II", mnist_mod.LABEL_MAGIC, 0), mnist_mod.LABEL_MAGIC)
    assert labels.shape == (0,) and labels.dtype == np.uint8
    images = data.parse_idx(struct.pack(">IIII", mnist_mod.IMAGE_MAGIC, 0, 28, 28), mnist_mod.IMAGE_MAGIC)
    assert images.shape == (0, 28, 28)


def test_mnist_torchvision_defaults_to_the_training_set(tmp_path, tmp_cache, monkeypatch):
    """As torchvision's ``MNIST``, the data set is the training set unless ``train=False``."""
    arrays = make_mini_mnist(tmp_path / "data", monkeypatch)
    ds = data.mnist_torchvision(tmp_path / "data")
    assert [int(ds[i][1]) for i in range(len(ds))] == arrays["train_labels"].tolist()


def _cache_files(base):
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in base.rglob("*") if p.is_file()}


def test_mnist_torchvision_reuses_a_verified_cache(tmp_path, tmp_cache, monkeypatch):
    """The manifest records each unpacked file's sha256; a second call finds them all matching and
    rewrites nothing (neither a file nor the manifest)."""
    import hashlib
    import json

    make_mini_mnist(tmp_path / "data", monkeypatch)
    base = mnist_mod.torchvision_root(tmp_path / "data")
    raw = base / "MNIST" / "raw"
    manifest = json.loads((base / mnist_mod.MANIFEST).read_text())
    assert manifest == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in raw.iterdir()}
    assert len(manifest) == 4
    before = _cache_files(base)
    assert mnist_mod.torchvision_root(tmp_path / "data") == base
    assert _cache_files(base) == before


def test_mnist_torchvision_cache_is_keyed_by_the_files(tmp_path, tmp_cache, monkeypatch):
    """Two different sets of MNIST files never share an unpacked folder: the second set is not
    served the first one's digits."""
    make_mini_mnist(tmp_path / "a", monkeypatch, seed=0)
    data.mnist_torchvision(tmp_path / "a")
    other = make_mini_mnist(tmp_path / "b", monkeypatch, seed=1)
    ds = data.mnist_torchvision(tmp_path / "b")
    assert [int(ds[i][1]) for i in range(len(ds))] == other["train_labels"].tolist()
    assert len(list(tmp_cache.glob("mnist-torchvision-*/"))) == 2


def test_mnist_torchvision_manifest_that_is_not_a_table_is_rebuilt(tmp_path, tmp_cache, monkeypatch):
    """A manifest that parses but is not a JSON object (a list, say) counts as no manifest."""
    arrays = make_mini_mnist(tmp_path / "data", monkeypatch)
    base = mnist_mod.torchvision_root(tmp_path / "data")
    (base / mnist_mod.MANIFEST).write_text("[]")
    ds = data.mnist_torchvision(tmp_path / "data", train=False)
    assert [int(ds[i][1]) for i in range(len(ds))] == arrays["test_labels"].tolist()
    assert isinstance(__import__("json").loads((base / mnist_mod.MANIFEST).read_text()), dict)


def test_mnist_torchvision_refuses_a_bad_member_by_name(tmp_path, tmp_cache, monkeypatch):
    """A checked .gz file whose content is not the IDX file it should be is refused, named, before
    anything is unpacked from it."""
    root = tmp_path / "data"
    make_mini_mnist(root, monkeypatch)
    rel = mnist_mod.FILES["train_labels"]
    write_idx_gz(root / rel, np.zeros((2, 28, 28)), mnist_mod.IMAGE_MAGIC)  # an image file under a label name
    register(monkeypatch, root, rel)
    with pytest.raises(data.DataFormatError, match=rf"^{root / rel}: wrong IDX magic"):
        data.mnist_torchvision(root)


def test_mnist_torchvision_without_files_says_how_to_get_them(tmp_path, tmp_cache):
    with pytest.raises(data.DataMissing, match="islp-ch10 download mnist"):
        data.mnist_torchvision(tmp_path)
