"""CIFAR-100 (claim 10.3/cifar-shape) and the lab's ImageNet example images.

CIFAR-100 is not staged: the data test skips with instructions, and the miniature tests write
ten images in the real ``cifar-100-python`` pickle layout to check the reader (fast tier).
"""

from __future__ import annotations

import hashlib
import io
import pathlib
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


# ----------------------------------------------------------------------------- the CIFAR reader's contract
def py2_meta(fine: list[bytes], coarse: list[bytes]) -> bytes:
    """A ``meta`` pickle as Python 2 wrote the Toronto files: keys and names are py2 ``str``
    (SHORT_BINSTRING), which Python 3 can only read with ``encoding="latin1"``."""

    def s(b: bytes) -> bytes:
        return b"U" + bytes([len(b)]) + b

    def names(items):
        return b"](" + b"".join(s(b) for b in items) + b"e"

    return b"\x80\x02}(" + s(b"fine_label_names") + names(fine) + s(b"coarse_label_names") + names(coarse) + b"u."


def cifar_folder(tmp_path, blobs) -> pathlib.Path:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for m, b in blobs.items():
        (folder / m).write_bytes(b)
    return folder


def split_pickle(img, fine, coarse) -> bytes:
    return pickle.dumps({b"data": img, b"fine_labels": fine, b"coarse_labels": coarse}, protocol=2)


def test_cifar_reads_python2_pickles_as_the_toronto_files_are(tmp_path):
    """The Toronto files are Python 2 pickles: byte strings are read as latin-1 text, so a name
    with a byte above 127 comes out as its latin-1 character."""
    blobs, _ = cifar_pickles()
    fine = [b"caf\xe9"] + [f"fine{i}".encode() for i in range(1, 100)]
    blobs["meta"] = py2_meta(fine, [b"na\xefve"] + [f"coarse{i}".encode() for i in range(1, 20)])
    c = data.read_cifar100_folder(cifar_folder(tmp_path, blobs))
    assert c.fine_names[:2] == ["café", "fine1"] and c.coarse_names[0] == "naïve"


def test_cifar_as_float_maps_255_to_one():
    x = data.CIFARData.as_float(torch.tensor([0, 51, 255], dtype=torch.uint8))
    assert x.dtype == torch.float32 and x.tolist() == [0.0, pytest.approx(0.2), 1.0]


@pytest.mark.parametrize(
    "fine, coarse, ok",
    [
        ([0, 99], [0, 19], True),  # both ends of both ranges are labels
        ([100, 0], [0, 0], False),
        ([-1, 0], [0, 0], False),
        ([0, 0], [20, 0], False),
        ([0, 0], [-1, 0], False),
    ],
)
def test_cifar_labels_are_fine_0_to_99_and_coarse_0_to_19(tmp_path, fine, coarse, ok):
    blobs, _ = cifar_pickles()
    blobs["train"] = split_pickle(np.zeros((2, 3072), np.uint8), fine, coarse)
    folder = cifar_folder(tmp_path, blobs)
    if ok:
        assert data.read_cifar100_folder(folder).y_train.tolist() == fine
        return
    with pytest.raises(data.DataFormatError) as info:
        data.read_cifar100_folder(folder)
    assert str(info.value) == f"{folder}/train: labels out of range (fine 0..99, coarse 0..19)"


@pytest.mark.parametrize(
    "img, coarse",
    [
        (np.zeros((2, 3071), np.uint8), [0, 0]),  # a pixel short
        (np.zeros((2, 3072), np.float64), [0, 0]),  # not 8-bit
        (np.zeros((2, 3072), np.uint8), [0]),  # a coarse label short
    ],
)
def test_cifar_split_shape_refusals_name_what_was_found(tmp_path, img, coarse):
    blobs, _ = cifar_pickles()
    blobs["test"] = split_pickle(img, [0, 0], coarse)
    folder = cifar_folder(tmp_path, blobs)
    with pytest.raises(data.DataFormatError) as info:
        data.read_cifar100_folder(folder)
    assert str(info.value) == (
        f"{folder}/test: data {img.dtype} {img.shape}, 2 fine and {len(coarse)} coarse labels; "
        "expected uint8 (n, 3072) and n labels of each kind"
    )


def test_cifar_pickle_refusals_name_the_member(tmp_path):
    """Each refusal names the member (``<folder>/train``, ``.../test``, ``.../meta``) and what is wrong."""
    good, _ = cifar_pickles()
    cases = [
        ("train", b"not a pickle", "train: not a CIFAR pickle (UnpicklingError: "),
        ("test", pickle.dumps([1, 2], protocol=2), "test: expected a dict, got list"),
        (
            "train",
            pickle.dumps({b"data": 0, b"fine_labels": []}, protocol=2),
            "train: CIFAR-100 pickle lacks the key 'coarse_labels'",
        ),
        ("meta", pickle.dumps({b"fine_label_names": []}, protocol=2), "meta lacks 'coarse_label_names'"),
        (
            "meta",
            pickle.dumps({"x": print}, protocol=2),
            "meta: not a CIFAR pickle (UnpicklingError: refusing to load __builtin__.print from a data pickle)",
        ),
    ]
    for member, blob, message in cases:
        folder = cifar_folder(tmp_path, {**good, member: blob})
        with pytest.raises(data.DataFormatError) as info:
            data.read_cifar100_folder(folder)
        assert str(info.value).startswith(f"{folder}/{message}"), str(info.value)


def test_cifar_archive_refusals_name_the_archive_and_member(tmp_path):
    good, _ = cifar_pickles()
    path = tmp_path / "cifar-100-python.tar.gz"
    write_tar(path, {**{f"cifar-100-python/{m}": b for m, b in good.items()}, "cifar-100-python/train": b"junk"})
    with pytest.raises(data.DataFormatError, match=rf"^{path}:cifar-100-python/train: not a CIFAR pickle"):
        data.read_cifar100_archive(path)
    with tarfile.open(path, "w:gz") as tf:  # meta is a folder, not a file
        for m in ("train", "test"):
            info = tarfile.TarInfo(f"cifar-100-python/{m}")
            info.size = len(good[m])
            tf.addfile(info, io.BytesIO(good[m]))
        folder = tarfile.TarInfo("cifar-100-python/meta")
        folder.type = tarfile.DIRTYPE
        tf.addfile(folder)
    with pytest.raises(data.DataFormatError, match=rf"^{path}: cifar-100-python/meta is not a regular file$"):
        data.read_cifar100_archive(path)
    path.write_bytes(b"not an archive")
    with pytest.raises(data.DataFormatError, match=rf"^{path}: cannot read the CIFAR-100 archive \(ReadError: "):
        data.read_cifar100_archive(path)


def test_cifar_missing_member_is_data_missing_for_cifar100(tmp_path):
    """A folder without one of its three files says which, where, and how to get CIFAR-100, in both
    the folder reader and the loader (which looks under ``<root>/cifar-100-python``)."""
    good, _ = cifar_pickles()
    folder = cifar_folder(tmp_path, {m: good[m] for m in ("train", "test")})
    with pytest.raises(data.DataMissing) as info:
        data.read_cifar100_folder(folder)
    err = info.value
    assert (err.dataset, err.missing, err.searched) == ("cifar100", "meta", str(folder))
    assert "islp-ch10 download cifar100" in str(err)
    with pytest.raises(data.DataMissing) as info:
        data.load_cifar100(tmp_path)
    err = info.value
    assert (err.dataset, err.missing, err.searched) == ("cifar100", "cifar-100-python/meta", str(folder))
    assert "islp-ch10 download cifar100" in str(err)


def test_cifar_absent_says_the_staged_data_has_none(tmp_path):
    """Without CIFAR-100 the message names the archive, where it was looked for, and sends the user
    to the download or the Toronto files, never to the staged copy (which has none)."""
    with pytest.raises(data.DataMissing) as info:
        data.load_cifar100(tmp_path)
    err = info.value
    assert (err.dataset, err.missing, err.searched) == (
        "cifar100",
        "cifar100/cifar-100-python.tar.gz",
        str(tmp_path / "cifar100"),
    )
    assert str(err).startswith("cifar100: data file 'cifar100/cifar-100-python.tar.gz' not found; searched ")
    assert str(err).endswith(
        "To get it: run `islp-ch10 download cifar100` on a machine with network access (fetches the 161 MB "
        "Toronto archive, md5-checked), or put cifar-100-python.tar.gz or its extracted "
        "cifar-100-python/ folder under <data root>/cifar100/; the project's staged data has no "
        "copy of CIFAR-100."
    )


def test_cifar_wrong_digest_says_how_to_get_cifar100(tmp_path):
    """A file that is not the recorded one (archive or folder member) is refused with the command
    that fetches CIFAR-100."""
    good, _ = cifar_pickles()
    write_tar(tmp_path / "cifar100/cifar-100-python.tar.gz", {f"cifar-100-python/{m}": b for m, b in good.items()})
    with pytest.raises(data.ChecksumError, match="islp-ch10 download cifar100"):
        data.load_cifar100(tmp_path)
    other = tmp_path / "other"
    cifar_folder(other, good)
    with pytest.raises(data.ChecksumError, match="islp-ch10 download cifar100"):
        data.load_cifar100(other)


# ----------------------------------------------------------------------------- the lab images' contract
def test_preprocess_image_refuses_anything_but_rgb():
    for img in (torch.zeros((4, 8, 8), dtype=torch.uint8), torch.zeros((8, 8), dtype=torch.uint8)):
        with pytest.raises(ValueError) as info:
            data.preprocess_image(img)
        assert str(info.value) == f"expected a uint8 RGB image of shape (3, H, W), got torch.uint8 {tuple(img.shape)}"


def _image_bytes(arr: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(arr).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "BMP"])  # torchvision decodes PNG; BMP goes to the PIL fallback
def test_read_rgb_gives_uint8_channels_first(tmp_path, fmt):
    from islp_ch10.data.images import _read_rgb

    rgb = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3) * 10
    path = tmp_path / f"rgb.{fmt.lower()}"
    path.write_bytes(_image_bytes(rgb, fmt))
    x = _read_rgb(path)
    assert x.dtype == torch.uint8
    np.testing.assert_array_equal(x.numpy(), rgb.transpose(2, 0, 1))
    grey = np.arange(6, dtype=np.uint8).reshape(2, 3) * 40  # a one-channel file is read as RGB
    path.write_bytes(_image_bytes(grey, fmt))
    np.testing.assert_array_equal(_read_rgb(path).numpy(), np.stack([grey] * 3))


def _six_images(tmp_path, monkeypatch):
    """Six small registered PNGs under the lab images' names, in ``<root>/islp_book_images``."""
    from islp_ch10.data._core import BOOK_IMAGES

    rng = np.random.default_rng(0)
    for name in BOOK_IMAGES:
        path = tmp_path / "islp_book_images" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(_image_bytes(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8), "PNG"))
        register(monkeypatch, tmp_path, f"islp_book_images/{name}")
    return sorted(BOOK_IMAGES)


def test_book_images_are_read_from_the_data_root_first(tmp_path, monkeypatch):
    names = _six_images(tmp_path, monkeypatch)
    files = data.book_image_files(tmp_path)
    assert files == [(n, tmp_path / "islp_book_images" / n) for n in names]
    images = data.load_book_images(tmp_path)
    assert [n for n, _ in images] == names and all(x.shape == (3, 224, 224) for _, x in images)
    (tmp_path / "islp_book_images" / names[2]).write_bytes(b"not that image")  # checked before use
    with pytest.raises(data.ChecksumError, match=r"run `islp-ch10 download book_images`"):
        data.book_image_files(tmp_path)


def test_book_images_missing_everywhere_names_the_first_absent_file(tmp_path, monkeypatch):
    """Without the ISLP package's copies, a data root holding some of the six names the first one
    it lacks, where it looked and how to get them."""
    import importlib.resources

    def no_islp(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(importlib.resources, "files", no_islp)
    folder = tmp_path / "islp_book_images"
    folder.mkdir()
    (folder / "Cape_Weaver.jpg").write_bytes(b"x")
    with pytest.raises(data.DataMissing) as info:
        data.book_image_files(tmp_path)
    err = info.value
    assert (err.dataset, err.missing, err.searched) == ("book_images", "islp_book_images/Flamingo.jpg", str(folder))
    assert str(err).endswith(
        "To get it: run `islp-ch10 download book_images`, `pip install ISLP` (it ships them), "
        "or use the staged copy in shared/data (set ISLP_CH10_DATA)."
    )


def test_imagenet_classes_are_the_names_by_index(tmp_path, monkeypatch):
    key = "imagenet/imagenet_class_index.json"
    path = tmp_path / key
    path.parent.mkdir()
    path.write_text('{"1": ["n01443537", "goldfish"], "0": ["n01440764", "tench"]}', encoding="utf-8")
    with pytest.raises(data.ChecksumError, match="islp-ch10 download imagenet"):
        data.load_imagenet_classes(tmp_path)
    register(monkeypatch, tmp_path, key)
    assert data.load_imagenet_classes(tmp_path) == ["tench", "goldfish"]
    path.write_text('{"0": ["a", "x"], "2": ["b", "y"]}', encoding="utf-8")
    register(monkeypatch, tmp_path, key)
    with pytest.raises(data.DataFormatError) as info:
        data.load_imagenet_classes(tmp_path)
    assert str(info.value) == f"{path}: keys are not 0..1"
