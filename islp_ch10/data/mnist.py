"""MNIST (section 10.2 and lab 10.9.2) from the four gzip-compressed IDX files.

IDX format: a big-endian header ``0x00 0x00 <type> <ndim>`` (magic 0x00000801 for the
label files, 0x00000803 for the image files; type 0x08 = unsigned byte), then one big-endian
uint32 per dimension, then the payload.  :func:`read_idx` checks the magic number, that the
payload has exactly the advertised size, and the gzip CRC; each failure raises
:class:`DataFormatError` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported when a loader runs, so `import islp_ch10.data` stays light
    import torch

from islp_ch10.fileio import atomic_write, lock

from ._core import DataFormatError, cache_dir, file_digests, locate

FILES = {
    "train_images": "mnist/train-images-idx3-ubyte.gz",
    "train_labels": "mnist/train-labels-idx1-ubyte.gz",
    "test_images": "mnist/t10k-images-idx3-ubyte.gz",
    "test_labels": "mnist/t10k-labels-idx1-ubyte.gz",
}
IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801


@dataclass
class MNISTData:
    """The 70,000 MNIST digits as tensors (pixels scaled to [0, 1] like ``ToTensor``)."""

    x_train: torch.Tensor  # float32 (60000, 1, 28, 28) in [0, 1]
    y_train: torch.Tensor  # int64 (60000,)
    x_test: torch.Tensor  # float32 (10000, 1, 28, 28)
    y_test: torch.Tensor  # int64 (10000,)


def _gunzip(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataFormatError(
            f"{path}: not a valid gzip file or corrupt ({type(exc).__name__}: {exc}); "
            "CRC or length check failed, re-download or re-copy it"
        ) from exc


def parse_idx(raw: bytes, expected_magic: int, name: str = "<bytes>") -> np.ndarray:
    """Decode uncompressed IDX bytes into a uint8 array; check magic number and size."""
    if len(raw) < 8:
        raise DataFormatError(f"{name}: too short for an IDX header ({len(raw)} bytes)")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        raise DataFormatError(
            f"{name}: wrong IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"({'images' if expected_magic == IMAGE_MAGIC else 'labels'} file); "
            "wrong file or corrupt"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(f"{name}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    n = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != n:
        raise DataFormatError(
            f"{name}: IDX payload has {len(raw) - header} bytes but the header "
            f"{dims} needs {n}; the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_idx(path: str | os.PathLike, expected_magic: int) -> np.ndarray:
    """Read one ``.gz`` IDX file (no checksum check: :func:`load_mnist` does that first)."""
    path = Path(path)
    return parse_idx(_gunzip(path), expected_magic, str(path))


def _read_checked(root, key: str, magic: int) -> np.ndarray:
    path = locate(FILES[key], root, "mnist")
    return read_idx(path, magic)


def load_mnist(root: str | os.PathLike | None = None) -> MNISTData:
    """The MNIST train and test sets from ``<root>/mnist/*.gz`` (checked, then decoded).

    Raises :class:`DataMissing` if a file is absent, :class:`ChecksumError` if one is not the
    recorded file, :class:`DataFormatError` if one cannot be decoded.
    """
    import torch

    arrays = {}
    for key in FILES:
        magic = IMAGE_MAGIC if key.endswith("images") else LABEL_MAGIC
        arrays[key] = _read_checked(root, key, magic)
    for split in ("train", "test"):
        imgs, labs = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        n = len(labs)
        if imgs.shape != (n, 28, 28) or labs.ndim != 1:
            raise DataFormatError(
                f"MNIST {split}: images {imgs.shape}, labels {labs.shape}; expected (n, 28, 28) images and n labels"
            )
        if n and labs.max() > 9:
            raise DataFormatError(f"MNIST {split}: label {int(labs.max())} outside 0..9")

    def images(a: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(a.copy()).unsqueeze(1)
        return t.to(torch.float32).div_(255.0)

    def labels(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.int64))

    return MNISTData(
        images(arrays["train_images"]),
        labels(arrays["train_labels"]),
        images(arrays["test_images"]),
        labels(arrays["test_labels"]),
    )


MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    """A fresh sha256 of ``path`` (not memoised: the cache is checked as it is now)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _cached_ok(path: Path, manifest: dict[str, str]) -> bool:
    """Whether an unpacked cache file is byte-for-byte the one written from the checked gz file."""
    return path.is_file() and manifest.get(path.name) == _sha256(path)


def torchvision_root(root: str | os.PathLike | None = None) -> Path:
    """A folder laid out as torchvision expects (``<dir>/MNIST/raw/<name>`` uncompressed).

    Built in :func:`cache_dir` (keyed by the gz files' digests) from the checked gz files, with a
    ``manifest.json`` of each unpacked file's sha256.  Every call checks the unpacked files
    against the manifest and rebuilds any that differ (a flipped label byte, a truncated file),
    so the cache is verified like the raw files are.
    """
    paths = {k: locate(v, root, "mnist") for k, v in FILES.items()}
    tag = "".join(file_digests(p, ("sha256",))["sha256"][:8] for p in paths.values())
    base = cache_dir() / f"mnist-torchvision-{tag}"
    raw = base / "MNIST" / "raw"
    with lock(cache_dir() / f".mnist-torchvision-{tag}.lock"):
        try:
            manifest = json.loads((base / MANIFEST).read_text())
            manifest = manifest if isinstance(manifest, dict) else {}
        except (OSError, ValueError):
            manifest = {}
        changed = False
        for key, path in paths.items():
            out = raw / path.name[:-3]
            if _cached_ok(out, manifest):
                continue
            data = _gunzip(path)
            parse_idx(data, IMAGE_MAGIC if key.endswith("images") else LABEL_MAGIC, str(path))
            with atomic_write(out) as fh:
                fh.write(data)
            manifest[out.name] = hashlib.sha256(data).hexdigest()
            changed = True
        if changed:
            with atomic_write(base / MANIFEST) as fh:
                fh.write(json.dumps(manifest, indent=1).encode())
    return base


def mnist_torchvision(root: str | os.PathLike | None = None, train: bool = True):
    """torchvision's ``MNIST`` data set (``ToTensor`` transform) read from the same checked files.

    This is the lab's route (``MNIST(root=..., train=train, download=True, transform=ToTensor())``)
    without the download: the gz files are unpacked into a cache folder that torchvision accepts.
    """
    from torchvision.datasets import MNIST
    from torchvision.transforms import ToTensor

    return MNIST(root=str(torchvision_root(root)), train=train, download=False, transform=ToTensor())
