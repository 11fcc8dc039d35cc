"""CIFAR-100 (claim 10.3/cifar-shape) and the lab's ImageNet example images.

CIFAR-100 is not staged: the data test skips with instructions, and the miniature tests write
ten images in the real ``cifar-100-python`` pickle layout to check the reader (fast tier).
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest
import torch

from islp_ch10 import claims, data
from islp_ch10.testing.fakes import register


# ----------------------------------------------------------------------------- miniature CIFAR
def cifar_pickles(n_train=10, n_test=4, seed=0):
    """Bytes of train/test/meta in the layout of the Toronto files (bytes keys, protocol 2)."""
    rng = np.random.default_rng(seed)
    out, arrays = {}, {}
    for name, n in (("train", n_train), ("test", n_test)):
        img = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine = rng.integers(0, 100, n).tolist()
        coarse = [f // 5 for f in fine]
        arrays[name] = (img, fine, coarse)
        out[name] = pickle.dumps(
            {
                b"filenames": [f"img_{i}.png".encode() for i in range(n)],
                b"batch_label": f"{name} batch".encode(),
                b"fine_labels": fine,
                b"coarse_labels": coarse,
                b"data": img,
            },
            protocol=2,
        )
    out["meta"] = pickle.dumps(
        {
            b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
        },
        protocol=2,
    )
    return out, arrays


def write_tar(path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))


def check_cifar(c: data.CIFARData, arrays) -> None:
    for split, x, y, z in (
        ("train", c.x_train, c.y_train, c.coarse_train),
        ("test", c.x_test, c.y_test, c.coarse_test),
    ):
        img, fine, coarse = arrays[split]
        n = len(fine)
        assert tuple(x.shape) == (n, *claims.get("10.3/cifar-shape").extra["image_shape"])
        assert x.dtype == torch.uint8  # 8-bit channels
        # row layout: 1024 red values, then green, then blue, each a row-major 32x32 image
        assert torch.equal(x[0, 0], torch.from_numpy(img[0, :1024].reshape(32, 32)))
        assert torch.equal(x[-1, 2], torch.from_numpy(img[-1, 2048:].reshape(32, 32)))
        assert y.tolist() == fine and z.tolist() == coarse and y.dtype == torch.int64
    extra = claims.get("10.3/cifar-shape").extra
    assert len(c.fine_names) == extra["fine_classes"] and len(c.coarse_names) == extra["coarse_classes"]
    assert c.fine_names[7] == "fine7" and c.coarse_names[19] == "coarse19"
    f = c.as_float(c.x_train)
    assert f.dtype == torch.float32 and f.min() >= 0 and f.max() <= 1


@pytest.mark.claim("10.3/cifar-shape")
def test_cifar_shape_miniature_archive(tmp_path, monkeypatch):
    blobs, arrays = cifar_pickles()
    key = "cifar100/cifar-100-python.tar.gz"
    write_tar(tmp_path / key, {f"cifar-100-python/{m}": b for m, b in blobs.items()})
    register(monkeypatch, tmp_path, key)
    check_cifar(data.load_cifar100(tmp_path), arrays)


@pytest.mark.claim("10.3/cifar-shape")
def test_cifar_shape_miniature_folder(tmp_path, monkeypatch):
    blobs, arrays = cifar_pickles(n_train=6, n_test=3, seed=1)
    folder = tmp_path / "cifar-100-python"  # torchvision's root layout
    folder.mkdir()
    for m, b in blobs.items():
        (folder / m).write_bytes(b)
        # torchvision's layout is checked against the digests of the canonical keys
        sha = hashlib.sha256(b).hexdigest()
        monkeypatch.setitem(data.KNOWN_FILES, f"cifar100/cifar-100-python/{m}", data.FileSpec((("sha256", sha),)))
    check_cifar(data.load_cifar100(tmp_path), arrays)


@pytest.mark.data
@pytest.mark.claim("10.3/cifar-shape")
def test_cifar_shape(cifar100):
    n_train, n_test = claims.book_value("10.3/cifar-shape")
    extra = claims.get("10.3/cifar-shape").extra
    assert tuple(cifar100.x_train.shape) == (n_train, *extra["image_shape"])
    assert tuple(cifar100.x_test.shape) == (n_test, *extra["image_shape"])
    assert cifar100.x_train.dtype == torch.uint8
    assert cifar100.y_train.unique().numel() == extra["fine_classes"]
    assert cifar100.coarse_train.unique().numel() == extra["coarse_classes"]
    # every fine class lies in exactly one superclass, five fine classes per superclass
    pairs = torch.unique(torch.stack([cifar100.y_train, cifar100.coarse_train]), dim=1)
    assert pairs.shape[1] == extra["fine_classes"]
    assert torch.bincount(pairs[1]).tolist() == [5] * extra["coarse_classes"]


def test_cifar_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(data.DataMissing) as info:
        data.load_cifar100(tmp_path)
    msg = str(info.value)
    assert "cifar-100-python.tar.gz" in msg and str(tmp_path / "cifar100") in msg
    assert "islp-ch10 download cifar100" in msg and "ISLP_CH10_DATA" in msg


def test_cifar_pickle_with_code_is_refused(tmp_path, monkeypatch):
    """A pickle that would import anything but numpy arrays is rejected, not executed."""
    blobs, _ = cifar_pickles()
    blobs["meta"] = pickle.dumps({"fine_label_names": [], "x": print}, protocol=2)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for m, b in blobs.items():
        (folder / m).write_bytes(b)
    with pytest.raises(data.DataFormatError, match="meta"):
        data.read_cifar100_folder(folder)


# ----------------------------------------------------------------------------- lab images
def test_preprocess_image_constant():
    L = 200
    img = torch.full((3, 300, 400), L, dtype=torch.uint8)
    x = data.preprocess_image(img)
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    expected = (L / 255 - mean) / std
    torch.testing.assert_close(x, expected[:, None, None].expand(3, 224, 224))
    with pytest.raises(ValueError, match="uint8"):
        data.preprocess_image(img.float())


def test_book_images_fall_back_to_the_islp_package(tmp_path):
    """Without islp_book_images/ in the data root, the copies inside the ISLP wheel are used."""
    files = data.book_image_files(tmp_path)
    assert [n for n, _ in files] == sorted(
        k.split("/")[1] for k in data.KNOWN_FILES if k.startswith("islp_book_images/")
    )
    assert all("ISLP" in str(p) for _, p in files)


@pytest.mark.data
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torchvision 0.29 deprecates read_image (the lab's call)
def test_book_images():
    try:
        images = data.load_book_images()
    except data.DataMissing as exc:
        pytest.skip(str(exc))
    names = [n for n, _ in images]
    assert names == [
        "Cape_Weaver.jpg",
        "Flamingo.jpg",
        "Hawk_Fountain.jpg",
        "Hawk_cropped.jpg",
        "Lhasa_Apso.jpg",
        "Sleeping_Cat.jpg",
    ]
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    for _, x in images:
        assert x.shape == (3, 224, 224) and x.dtype == torch.float32
        pixels = x * std[:, None, None] + mean[:, None, None]
        assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    # the lab's own pipeline (read_image, Resize((232, 232)), CenterCrop(224), /255, Normalize)
    from torchvision.io import read_image
    from torchvision.transforms import CenterCrop, Normalize, Resize

    path = data.data_root() / "islp_book_images" / "Flamingo.jpg"
    if path.is_file():
        ref = Normalize(mean.tolist(), std.tolist())(
            torch.div(CenterCrop(224)(Resize((232, 232), antialias=True)(read_image(str(path)))), 255)
        )
        torch.testing.assert_close(dict(images)["Flamingo.jpg"], ref)


@pytest.mark.data
def test_imagenet_classes():
    try:
        names = data.load_imagenet_classes()
    except data.DataMissing as exc:
        pytest.skip(str(exc))
    assert len(names) == 1000 and names[0] == "tench" and names[999] == "toilet_tissue"
    assert len(set(names)) == 998  # the Keras file repeats "crane" and "maillot"
