"""Where the data lives, how files are checked, and how they are fetched (the shared plumbing).

* :func:`data_root` / :func:`cache_dir`: the raw data (read-only is fine) and the writable
  folder for processed caches.
* :data:`KNOWN_FILES`: every raw file the loaders read, with the digests it may have.  A
  loader calls :func:`verify` before it reads a byte; a mismatch raises :class:`ChecksumError`.
  Hashing is memoised per process by (path, size, mtime), so a session hashes each file once.
* :func:`download`: the only code path that touches the network.  It writes to a temporary
  file in the destination folder, checks the digest, then ``os.replace`` s it into place; on
  any failure the temporary file is removed, so a half-written file never looks complete.
* Files are written through :func:`islp_ch10.fileio.atomic_write`, and the processed caches are
  built under :func:`islp_ch10.fileio.lock`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from islp_ch10.fileio import atomic_write

DATA_ENV = "ISLP_CH10_DATA"
CACHE_ENV = "ISLP_CH10_CACHE"

# The staged copy (see shared/data/README.md) sits beside the checkout; mentioned in messages.
_STAGED_HINT = "the project's staged copy lives in shared/data beside the checkout (set ISLP_CH10_DATA to that folder)"


# ----------------------------------------------------------------------------- folders
def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "islp-ch10"


def data_root() -> Path:
    """Folder holding the raw data sets: ``$ISLP_CH10_DATA``, else ``<user cache>/islp-ch10``.

    It may be read-only (the staged copy is); nothing is ever written here except by
    :func:`download`.
    """
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else _user_cache()


def cache_dir() -> Path:
    """Writable folder for processed caches: ``$ISLP_CH10_CACHE``, else ``<user cache>/islp-ch10/processed``.

    Independent of :func:`data_root`, so the caches work when the data folder is read-only.
    Created on first use.
    """
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else _user_cache() / "processed"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _root(root: str | os.PathLike | None) -> Path:
    return Path(root).expanduser() if root is not None else data_root()


# ----------------------------------------------------------------------------- errors
class DataMissing(FileNotFoundError):
    """A raw data file is absent.  The message says which, where it was looked for and how to get it."""

    def __init__(self, dataset: str, missing: str | os.PathLike, searched: str | os.PathLike, how: str | None = None):
        self.dataset = dataset
        self.missing = str(missing)
        self.searched = str(searched)
        env = os.environ.get(DATA_ENV)
        env_txt = f"{DATA_ENV}={env}" if env else f"{DATA_ENV} is not set, so the default was used"
        if how is None:
            how = (
                f"run `islp-ch10 download {dataset}` (or `python -m islp_ch10 download {dataset}`) "
                f"on a machine with network access, or {_STAGED_HINT}"
            )
        in_place = Path(self.searched) / Path(self.missing).name
        if in_place.is_dir():  # a folder where the file should be: say so, not "not found"
            msg = (
                f"{dataset}: {in_place} is a folder, not the data file {self.missing!r} ({env_txt}); "
                f"move the folder away, then get the file: {how}."
            )
        else:
            msg = (
                f"{dataset}: data file {self.missing!r} not found; searched {self.searched} ({env_txt}). "
                f"To get it: {how}."
            )
        super().__init__(msg)

    def __reduce__(self):  # picklable across pytest-xdist workers
        return (_rebuild_missing, (str(self), self.dataset, self.missing, self.searched))


def _rebuild_missing(msg, dataset, missing, searched):
    exc = DataMissing.__new__(DataMissing)
    FileNotFoundError.__init__(exc, msg)
    exc.dataset, exc.missing, exc.searched = dataset, missing, searched
    return exc


class ChecksumError(ValueError):
    """A file's digest is not one of those recorded for it."""

    def __init__(self, path: str | os.PathLike, expected: str, actual: str, hint: str = ""):
        self.path = str(path)
        self.expected = expected
        self.actual = actual
        msg = (
            f"checksum mismatch for {self.path}: expected {expected}, got {actual}; "
            "the file is corrupt, truncated or a different version"
        )
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)

    def __reduce__(self):
        return (_rebuild_checksum, (str(self), self.path, self.expected, self.actual))


def _rebuild_checksum(msg, path, expected, actual):
    exc = ChecksumError.__new__(ChecksumError)
    ValueError.__init__(exc, msg)
    exc.path, exc.expected, exc.actual = path, expected, actual
    return exc


class DataFormatError(ValueError):
    """A raw file has the right name but not the expected format (bad magic, truncated, bad CRC...)."""


# ----------------------------------------------------------------------------- the file table
@dataclass(frozen=True)
class FileSpec:
    """One raw file: accepted digests (any one may match) and where to fetch it."""

    digests: tuple[tuple[str, str], ...]  # (algorithm, hex) pairs; sha256 first where known
    urls: tuple[str, ...] = ()
    note: str = ""

    def describe(self) -> str:
        return " or ".join(f"{algo} {hexd}" for algo, hexd in self.digests)


_GH_ISLP_LABS = "https://raw.githubusercontent.com/intro-stat-learning/ISLP_labs/main/"
_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")


def _mnist(name: str, sha256: str, md5: str) -> FileSpec:
    return FileSpec((("sha256", sha256), ("md5", md5)), tuple(m + name for m in _MNIST_MIRRORS))


BOOK_IMAGES: dict[str, str] = {  # name in ISLP_labs/book_images -> sha256
    "Cape_Weaver.jpg": "e1d779cfbcf5609e3baa609d1af46df0b72ef2b44991696ec8a329b59336d495",
    "Flamingo.jpg": "c0b864c8ca35fa52e7933e11bed12e337a899e974c29d202804f51bfff030445",
    "Hawk_Fountain.jpg": "04328a1ef3b7748aa76fac994eba1eabb79bc1fa60d91ca34eceb85a2a45822b",
    "Hawk_cropped.jpg": "cd3f70ec4b10c455e834eb26cdcdf3ec214907b00c633518ceafc5c868fd7d5e",
    "Lhasa_Apso.jpg": "5edea0f97ab6e2b5ab9267740ef708fdff6b1250cf5bf6179982f35f5c6674c9",
    "Sleeping_Cat.jpg": "d889979a50bc6f7f7bca371ce292bc505153010e6c5584356bf76c72459ffe3a",
}

#: Every raw file a loader reads, keyed by its path relative to the data root (posix form).
#: sha256 sums are those recorded for the staged copy (shared/data/README.md); md5 sums are the
#: published ones (torchvision's tables, the Stanford/Toronto pages), used for the originals
#: that a download fetches and whose sha256 the staging did not record.  Built once here as
#: data; no module adds to it on import.
KNOWN_FILES: dict[str, FileSpec] = {
    # MNIST: the staged train-images.gz was recompressed (identical content, other gz bytes);
    # the original's published md5 is accepted too, so a downloaded original verifies.
    "mnist/train-images-idx3-ubyte.gz": FileSpec(
        (
            ("sha256", "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971"),
            ("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ),
        tuple(m + "train-images-idx3-ubyte.gz" for m in _MNIST_MIRRORS),
    ),
    "mnist/train-labels-idx1-ubyte.gz": _mnist(
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "d53e105ee54ea40749a09fcbcd1e9432",
    ),
    "mnist/t10k-images-idx3-ubyte.gz": _mnist(
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "9fb629c4189551a2d022fa330f9573f3",
    ),
    "mnist/t10k-labels-idx1-ubyte.gz": _mnist(
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
    # IMDB: the staged labelled-only archive, or the official one from Stanford.
    "imdb/aclImdb_v1_nounsup.tar.xz": FileSpec(
        (("sha256", "e92e0854ecb495db2a5b8d79e4cb067f44c2eaa065ab19a875c14fdcbc41ecab"),),
        note="staged copy only (labelled reviews); `download imdb` fetches aclImdb_v1.tar.gz instead",
    ),
    "imdb/aclImdb_v1.tar.gz": FileSpec(
        (("md5", "7c2ac02c03563afcf9b574c7e56c153a"),),
        ("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",),
    ),
    # CIFAR-100 (not staged): the Toronto archive, or its extracted folder.  The loader checks
    # torchvision's root layout (<root>/cifar-100-python/...) against these same keys.
    "cifar100/cifar-100-python.tar.gz": FileSpec(
        (("md5", "eb9058c3a382ffc7106e4002c42a8d85"),), ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",)
    ),
    "cifar100/cifar-100-python/train": FileSpec((("md5", "16019d7e3df5f24257cddd939b257f8d"),)),
    "cifar100/cifar-100-python/test": FileSpec((("md5", "f0ef6b0ae62326f3e7ffdfab6717acfc"),)),
    "cifar100/cifar-100-python/meta": FileSpec((("md5", "7973b15100ade9c7d40fb424638fde48"),)),
    # ImageNet class index and the lab's six images.
    "imagenet/imagenet_class_index.json": FileSpec(
        (
            ("sha256", "a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc"),
            ("md5", "c2c37ea517e94d9795004a39431a14cb"),
        ),
        (
            "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
            _GH_ISLP_LABS + "imagenet_class_index.json",
        ),
    ),
    **{
        f"islp_book_images/{name}": FileSpec((("sha256", sha),), (_GH_ISLP_LABS + "book_images/" + name,))
        for name, sha in BOOK_IMAGES.items()
    },
}

#: what ``download(NAME)`` fetches, by data set name
DATASETS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "mnist/train-images-idx3-ubyte.gz",
        "mnist/train-labels-idx1-ubyte.gz",
        "mnist/t10k-images-idx3-ubyte.gz",
        "mnist/t10k-labels-idx1-ubyte.gz",
    ),
    "imdb": ("imdb/aclImdb_v1.tar.gz",),
    "cifar100": ("cifar100/cifar-100-python.tar.gz",),
    "imagenet": ("imagenet/imagenet_class_index.json",),
    "book_images": tuple(f"islp_book_images/{n}" for n in BOOK_IMAGES),
}


# ----------------------------------------------------------------------------- hashing
_CHUNK = 1 << 20
_memo: dict[tuple[str, int, int], dict[str, str]] = {}
_memo_lock = threading.Lock()


def file_digests(path: str | os.PathLike, algorithms: tuple[str, ...] = ("sha256", "md5")) -> dict[str, str]:
    """Hex digests of ``path``, memoised per process by (real path, size, mtime_ns)."""
    path = Path(path)
    st = path.stat()
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    with _memo_lock:
        cached = _memo.get(key)
    if cached is not None and all(a in cached for a in algorithms):
        return cached
    hashers = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            for h in hashers.values():
                h.update(chunk)
    out = {a: h.hexdigest() for a, h in hashers.items()}
    with _memo_lock:
        _memo[key] = {**(cached or {}), **out}
    return out


def clear_hash_memo() -> None:
    """Forget memoised digests (tests that rewrite a file within one mtime tick use it)."""
    with _memo_lock:
        _memo.clear()


def _check_digests(path: Path, digests: dict[str, str], spec: FileSpec, hint: str = "") -> None:
    if any(digests.get(algo) == hexd.lower() for algo, hexd in spec.digests):
        return
    actual = " / ".join(f"{a} {digests[a]}" for a in ("sha256", "md5") if a in digests)
    raise ChecksumError(path, spec.describe(), actual, hint)


def verify(path: str | os.PathLike, key: str, dataset: str | None = None) -> Path:
    """Check ``path`` against ``KNOWN_FILES[key]``; return the path or raise :class:`ChecksumError`.

    A key not in the table is a programming error (KeyError): every raw file must be listed.
    """
    spec = KNOWN_FILES[key]
    path = Path(path)
    algos = tuple(dict.fromkeys(a for a, _ in spec.digests))
    digests = file_digests(path, algos)
    name = dataset or key.split("/")[0]
    _check_digests(path, digests, spec, hint=f"delete it and run `islp-ch10 download {name}`, or use the staged copy")
    return path


def locate(key: str, root: str | os.PathLike | None = None, dataset: str | None = None, how: str | None = None) -> Path:
    """Path of ``key`` under the data root, checked; :class:`DataMissing` if absent."""
    base = _root(root)
    path = base / key
    if not path.is_file():
        raise DataMissing(dataset or key.split("/")[0], key, path.parent, how)
    return verify(path, key, dataset)


# ----------------------------------------------------------------------------- network
def fetch(url: str, out: BinaryIO) -> None:
    """Stream ``url`` into the open binary file ``out`` (the only network access of the package).

    Tests replace it where :func:`download_file` looks it up
    (``monkeypatch.setattr(islp_ch10.data._core, "fetch", fake)``) or pass ``fetch=`` to :func:`download`.
    """
    import urllib.request

    req = urllib.request.Request(url, headers={"User-Agent": "islp-ch10"})  # noqa: S310 - the data sets' fixed URLs
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - as above
        shutil.copyfileobj(resp, out, _CHUNK)


def _module_fetch() -> Callable[[str, BinaryIO], None]:
    """This module's :func:`fetch`, looked up when a download starts (so a test's replacement counts)."""
    return fetch


class _HashingWriter:
    def __init__(self, fh: IO[bytes], algorithms: tuple[str, ...]):
        self.fh = fh
        self.hashers = {a: hashlib.new(a) for a in algorithms}

    def write(self, data) -> int:
        for h in self.hashers.values():
            h.update(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()


def download_file(
    key: str,
    root: str | os.PathLike | None = None,
    fetch: Callable[[str, BinaryIO], None] | None = None,
    force: bool = False,
) -> Path:
    """Fetch one table entry into ``root/key`` atomically; verify its digest before it appears."""
    spec = KNOWN_FILES[key]
    if not spec.urls:
        raise ValueError(f"{key} has no download source ({spec.note or 'staged copy only'})")
    dest = _root(root) / key
    if dest.is_file() and not force:
        try:
            return verify(dest, key)
        except ChecksumError:
            pass  # replace the bad copy below
    if fetch is None:
        fetch = _module_fetch()
    algos = tuple(dict.fromkeys(a for a, _ in spec.digests))
    errors = []
    for url in spec.urls:
        try:
            with atomic_write(dest) as fh:
                writer = _HashingWriter(fh, algos)
                fetch(url, writer)  # type: ignore[arg-type]  # it has the one method a fetch uses: write
                digests = {a: h.hexdigest() for a, h in writer.hashers.items()}
                _check_digests(dest, digests, spec, hint=f"downloaded from {url}; nothing was kept")
            return dest
        except ChecksumError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of one mirror means: try the next one
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
    raise OSError(f"could not download {key}: " + "; ".join(errors))


def download(
    name: str,
    root: str | os.PathLike | None = None,
    fetch: Callable[[str, BinaryIO], None] | None = None,
    force: bool = False,
) -> list[Path]:
    """Download data set ``name`` (one of :data:`DATASETS`) into ``root`` (default :func:`data_root`).

    Each file is written to a temporary file beside its destination, its digest checked, then
    moved into place; a mismatch deletes the temporary file and raises :class:`ChecksumError`.
    Files already present with a good digest are kept.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    return [download_file(key, root, fetch, force) for key in DATASETS[name]]
