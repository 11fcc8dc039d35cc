"""CIFAR-100 (section 10.3, lab 10.9.3), the lab's six ImageNet example images and class names.

CIFAR-100 "python version": three pickles ``train`` (50,000 images), ``test`` (10,000) and
``meta``; each image file holds ``data`` (uint8, ``(n, 3072)``: 1024 red, 1024 green, 1024 blue
values, row-major 32x32), ``fine_labels`` (0..99) and ``coarse_labels`` (0..19); ``meta`` holds
``fine_label_names`` and ``coarse_label_names``.  They are read either straight from the
Toronto archive ``cifar100/cifar-100-python.tar.gz`` or from an extracted
``cifar-100-python/`` folder (torchvision's layout), after a digest check, with an unpickler
that accepts nothing but plain containers and numpy arrays.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    import torch

from ._core import DataFormatError, DataMissing, _root, verify

CIFAR_ARCHIVE = "cifar100/cifar-100-python.tar.gz"
CIFAR_FOLDERS = ("cifar100/cifar-100-python", "cifar-100-python")
CIFAR_MEMBERS = ("train", "test", "meta")
# every folder layout is checked against the digests of the first (torchvision's root layout
# holds the same files), so the file table needs no alias entries

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: the ISLP wheel's names for the six lab images -> the names in ISLP_labs/book_images
ISLP_PACKAGE_NAMES = {
    "weaver.jpg": "Cape_Weaver.jpg",
    "flamingo.jpg": "Flamingo.jpg",
    "hawk.jpg": "Hawk_Fountain.jpg",
    "hawk_cropped.jpeg": "Hawk_cropped.jpg",
    "huey.jpg": "Lhasa_Apso.jpg",
    "kitty.jpg": "Sleeping_Cat.jpg",
}


# ----------------------------------------------------------------------------- CIFAR-100
@dataclass
class CIFARData:
    x_train: torch.Tensor  # uint8 (50000, 3, 32, 32)
    y_train: torch.Tensor  # int64 fine labels 0..99
    coarse_train: torch.Tensor  # int64 superclass labels 0..19
    x_test: torch.Tensor  # uint8 (10000, 3, 32, 32)
    y_test: torch.Tensor
    coarse_test: torch.Tensor
    fine_names: list
    coarse_names: list

    @staticmethod
    def as_float(x: torch.Tensor) -> torch.Tensor:
        """uint8 images as float32 in [0, 1] (what the lab's ``ToTensor`` gives)."""
        import torch

        return x.to(torch.float32).div_(255.0)


class _SafeUnpickler(pickle.Unpickler):
    _ALLOWED: ClassVar[frozenset] = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
        }
    )

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data pickle")


def _unpickle(raw: bytes, name: str) -> dict:
    try:
        obj = _SafeUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except Exception as exc:
        raise DataFormatError(f"{name}: not a CIFAR pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict):
        raise DataFormatError(f"{name}: expected a dict, got {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _names(values) -> list[str]:
    return [v.decode("latin1") if isinstance(v, bytes) else str(v) for v in values]


def _split(d: dict, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    for key in ("data", "fine_labels", "coarse_labels"):
        if key not in d:
            raise DataFormatError(f"{name}: CIFAR-100 pickle lacks the key {key!r}")
    data = np.asarray(d["data"])
    fine = np.asarray(d["fine_labels"], dtype=np.int64)
    coarse = np.asarray(d["coarse_labels"], dtype=np.int64)
    n = len(fine)
    if data.dtype != np.uint8 or data.shape != (n, 3072) or coarse.shape != (n,):
        raise DataFormatError(
            f"{name}: data {data.dtype} {data.shape}, {n} fine and {len(coarse)} coarse "
            "labels; expected uint8 (n, 3072) and n labels of each kind"
        )
    if n and (fine.min() < 0 or fine.max() > 99 or coarse.min() < 0 or coarse.max() > 19):
        raise DataFormatError(f"{name}: labels out of range (fine 0..99, coarse 0..19)")
    import torch

    x = torch.from_numpy(data.reshape(n, 3, 32, 32).copy())
    return x, torch.from_numpy(fine), torch.from_numpy(coarse)


def _assemble(raw: dict[str, bytes], where: str) -> CIFARData:
    tr = _split(_unpickle(raw["train"], f"{where}/train"), f"{where}/train")
    te = _split(_unpickle(raw["test"], f"{where}/test"), f"{where}/test")
    meta = _unpickle(raw["meta"], f"{where}/meta")
    for key in ("fine_label_names", "coarse_label_names"):
        if key not in meta:
            raise DataFormatError(f"{where}/meta lacks {key!r}")
    return CIFARData(*tr, *te, _names(meta["fine_label_names"]), _names(meta["coarse_label_names"]))


def read_cifar100_archive(path: str | os.PathLike) -> CIFARData:
    """CIFAR-100 straight from ``cifar-100-python.tar.gz`` (no digest check; see :func:`load_cifar100`)."""
    path = Path(path)
    raw: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in CIFAR_MEMBERS:
                try:
                    member = tf.getmember(f"cifar-100-python/{m}")
                except KeyError:
                    raise DataFormatError(
                        f"{path}: the archive lacks the member cifar-100-python/{m}; it is incomplete (re-download it)"
                    ) from None
                fh = tf.extractfile(member)
                if fh is None:
                    raise DataFormatError(f"{path}: cifar-100-python/{m} is not a regular file")
                raw[m] = fh.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataFormatError(f"{path}: cannot read the CIFAR-100 archive ({type(exc).__name__}: {exc})") from exc
    return _assemble(raw, f"{path}:cifar-100-python")


def read_cifar100_folder(folder: str | os.PathLike) -> CIFARData:
    """CIFAR-100 from an extracted ``cifar-100-python/`` folder (no digest check)."""
    folder = Path(folder)
    raw = {}
    for m in CIFAR_MEMBERS:
        if not (folder / m).is_file():
            raise DataMissing("cifar100", m, folder)
        raw[m] = (folder / m).read_bytes()
    return _assemble(raw, str(folder))


def load_cifar100(root: str | os.PathLike | None = None) -> CIFARData:
    """CIFAR-100 from the data root: the archive if present, else an extracted folder (both checked).

    CIFAR-100 is not part of the staged data; without it this raises :class:`DataMissing`.
    """
    base = _root(root)
    archive = base / CIFAR_ARCHIVE
    if archive.is_file():
        verify(archive, CIFAR_ARCHIVE, "cifar100")
        return read_cifar100_archive(archive)
    for folder in CIFAR_FOLDERS:
        if (base / folder).is_dir():
            for m in CIFAR_MEMBERS:
                if not (base / folder / m).is_file():
                    raise DataMissing("cifar100", f"{folder}/{m}", base / folder)
            for m in CIFAR_MEMBERS:
                verify(base / folder / m, f"{CIFAR_FOLDERS[0]}/{m}", "cifar100")
            return read_cifar100_folder(base / folder)
    raise DataMissing(
        "cifar100",
        CIFAR_ARCHIVE,
        base / "cifar100",
        how=(
            "run `islp-ch10 download cifar100` on a machine with network access (fetches the 161 MB "
            "Toronto archive, md5-checked), or put cifar-100-python.tar.gz or its extracted "
            "cifar-100-python/ folder under <data root>/cifar100/; the project's staged data has no "
            "copy of CIFAR-100"
        ),
    )


# ----------------------------------------------------------------------------- ImageNet examples
def preprocess_image(img: torch.Tensor) -> torch.Tensor:
    """The lab's preprocessing of one uint8 (3, H, W) image: resize to 232x232 (antialiased),
    centre-crop 224, scale to [0, 1], normalise with the ImageNet mean and std."""
    import torch
    from torchvision.transforms import CenterCrop, Normalize, Resize

    if img.dtype != torch.uint8 or img.dim() != 3 or img.shape[0] != 3:
        raise ValueError(f"expected a uint8 RGB image of shape (3, H, W), got {img.dtype} {tuple(img.shape)}")
    x = CenterCrop(224)(Resize((232, 232), antialias=True)(img))
    return Normalize(IMAGENET_MEAN, IMAGENET_STD)(torch.div(x, 255))


def _read_rgb(path: Path) -> torch.Tensor:
    """A file as uint8 (3, H, W) RGB: torchvision's decoder as in the lab, PIL if that refuses it."""
    import torch

    with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders; the lab uses them
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        from torchvision.io import ImageReadMode, decode_image

        try:
            raw = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
            return decode_image(raw, mode=ImageReadMode.RGB)
        except RuntimeError:
            pass
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def book_image_files(root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """``(name, path)`` of the six lab images, sorted by name, each digest-checked.

    From ``<data root>/islp_book_images/`` if it holds them, else from the installed ISLP
    package's ``data/book_images`` (same files under other names).
    """
    from ._core import BOOK_IMAGES

    base = _root(root) / "islp_book_images"
    if all((base / n).is_file() for n in BOOK_IMAGES):
        files = {n: base / n for n in BOOK_IMAGES}
    else:
        files = {}
        try:
            from importlib import resources

            pkg = Path(str(resources.files("ISLP") / "data" / "book_images"))
            files = {canon: pkg / orig for orig, canon in ISLP_PACKAGE_NAMES.items() if (pkg / orig).is_file()}
        except (ImportError, ModuleNotFoundError, TypeError):
            pass
        if len(files) != len(BOOK_IMAGES):
            absent = next(n for n in sorted(BOOK_IMAGES) if not (base / n).is_file())
            raise DataMissing(
                "book_images",
                f"islp_book_images/{absent}",
                base,
                how="run `islp-ch10 download book_images`, `pip install ISLP` (it ships them), "
                "or use the staged copy in shared/data (set ISLP_CH10_DATA)",
            )
    out = []
    for name in sorted(files):
        verify(files[name], f"islp_book_images/{name}", "book_images")
        out.append((name, files[name]))
    return out


def load_book_images(root: str | os.PathLike | None = None) -> list[tuple[str, torch.Tensor]]:
    """The six lab images as ``(file name, float32 (3, 224, 224))`` after the lab's preprocessing,
    in the lab's order (sorted file names)."""
    return [(name, preprocess_image(_read_rgb(path))) for name, path in book_image_files(root)]


def load_imagenet_classes(root: str | os.PathLike | None = None) -> list[str]:
    """The 1,000 ImageNet class names by index (``imagenet/imagenet_class_index.json``, checked)."""
    key = "imagenet/imagenet_class_index.json"
    path = _root(root) / key
    if not path.is_file():
        raise DataMissing("imagenet", key, path.parent)
    verify(path, key, "imagenet")
    table = json.loads(path.read_text(encoding="utf-8"))
    if sorted(int(k) for k in table) != list(range(len(table))):
        raise DataFormatError(f"{path}: keys are not 0..{len(table) - 1}")
    return [table[str(i)][1] for i in range(len(table))]
