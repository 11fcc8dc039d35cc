"""The loaders refuse bad input loudly and never leave half-written files (fast tier).

Every test writes its own small files under ``tmp_path``; none needs the real data or the
network (``download`` is exercised with a fake fetch function).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import textwrap
import zipfile

import numpy as np
import pandas as pd
import pytest

from islp_ch10 import data
from islp_ch10.data import imdb as imdb_mod
from islp_ch10.data import mnist as mnist_mod
from islp_ch10.testing.fakes import child_env, register
from islp_ch10.testing.fakes import file_sha256 as sha256

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------- helpers
def idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    return struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()


def write_gz(path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw, mtime=0))


REVIEWS = {
    ("train", "pos"): [
        "A great movie.<br /><br />Great acting, great plot!",
        "Loved it; the cast was great.",
        "Wonderful film, wasn't it?",
    ],
    ("train", "neg"): ["A bad movie. Bad plot, bad acting.", "Boring and dull; the worst.", "Not good at all."],
    ("test", "pos"): ["Great fun, a great film.", "Superb and moving."],
    ("test", "neg"): ["Awful. Just bad.", "The plot was dull and the acting bad."],
}


def write_imdb_archive(path, drop: tuple[str, str] | None = None, mode="w:xz", extra=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tf:

        def add(name, text):
            blob = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))

        add("aclImdb/README", "toy")
        for (split, lab), texts in REVIEWS.items():
            if (split, lab) == drop:
                continue
            for i, text in enumerate(texts):
                rating = 9 if lab == "pos" else 2
                add(f"aclImdb/{split}/{lab}/{i * 10}_{rating}.txt", text)
        for name, text in (extra or {}).items():
            add(name, text)


@pytest.fixture
def mini_imdb(tmp_path, monkeypatch):
    """A tiny IMDB archive registered under the staged archive's key, and a private cache."""
    root = tmp_path / "data"
    key = "imdb/aclImdb_v1_nounsup.tar.xz"
    write_imdb_archive(root / key)
    register(monkeypatch, root, key)
    cache = tmp_path / "cache"
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    return root, cache


def load_mini(root):
    return data.load_imdb(root, num_words=8, maxlen=6)


def same_imdb(a: data.IMDBData, b: data.IMDBData) -> bool:
    return (
        (a.X_train != b.X_train).nnz == 0
        and (a.X_test != b.X_test).nnz == 0
        and np.array_equal(a.S_train, b.S_train)
        and np.array_equal(a.S_test, b.S_test)
        and np.array_equal(a.y_train, b.y_train)
        and a.vocab == b.vocab
        and a.lookup == b.lookup
    )


# ----------------------------------------------------------------------------- folders
def test_default_folders_follow_xdg_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.delenv(data.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.data_root() == tmp_path / "xdg" / "islp-ch10"
    assert data.cache_dir() == tmp_path / "xdg" / "islp-ch10" / "processed"
    assert data.cache_dir().is_dir()
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "ro"))
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "c"))
    assert data.data_root() == tmp_path / "ro" and data.cache_dir() == tmp_path / "c"


# ----------------------------------------------------------------------------- IDX / gzip
def test_gz_with_bad_crc_is_refused(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write_gz(path, idx_bytes(np.arange(10) % 10, mnist_mod.LABEL_MAGIC))
    blob = bytearray(path.read_bytes())
    blob[-8] ^= 0xFF  # the CRC32 field of the gzip trailer
    path.write_bytes(bytes(blob))
    with pytest.raises(data.DataFormatError, match=r"t10k-labels-idx1-ubyte\.gz") as info:
        data.read_idx(path, mnist_mod.LABEL_MAGIC)
    assert "CRC" in str(info.value) or "crc" in str(info.value).lower()


def test_gz_cut_short_is_refused(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    write_gz(path, idx_bytes(np.arange(1000) % 10, mnist_mod.LABEL_MAGIC))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(data.DataFormatError, match=r"train-labels-idx1-ubyte\.gz"):
        data.read_idx(path, mnist_mod.LABEL_MAGIC)


def test_idx_wrong_magic_names_the_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    write_gz(path, idx_bytes(np.zeros((2, 28, 28)), mnist_mod.IMAGE_MAGIC))  # an image file under a label name
    with pytest.raises(data.DataFormatError, match="magic") as info:
        data.read_idx(path, mnist_mod.LABEL_MAGIC)
    assert str(path) in str(info.value) and "0x00000803" in str(info.value)


def test_idx_truncated_payload(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    raw = idx_bytes(np.zeros((5, 28, 28)), mnist_mod.IMAGE_MAGIC)
    write_gz(path, raw[:-784])  # the header promises 5 images, 4 are there
    with pytest.raises(data.DataFormatError, match="truncated") as info:
        data.read_idx(path, mnist_mod.IMAGE_MAGIC)
    assert str(path) in str(info.value)
    with pytest.raises(data.DataFormatError, match="header"):
        data.parse_idx(raw[:10], mnist_mod.IMAGE_MAGIC, "x")


def test_load_mnist_reports_corrupt_member(tmp_path, monkeypatch):
    """A file whose digest is right (e.g. registered) but whose content is not IDX still fails clearly."""
    rng = np.random.default_rng(0)
    for key, rel in mnist_mod.FILES.items():
        if key.endswith("images"):
            write_gz(tmp_path / rel, idx_bytes(rng.integers(0, 256, (3, 28, 28)), mnist_mod.IMAGE_MAGIC))
        else:
            write_gz(tmp_path / rel, idx_bytes(np.arange(3), mnist_mod.IMAGE_MAGIC))  # wrong magic
        register(monkeypatch, tmp_path, rel)
    with pytest.raises(data.DataFormatError, match=r"train-labels-idx1-ubyte\.gz"):
        data.load_mnist(tmp_path)


def test_gz_refusal_names_the_error_and_the_remedy(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"not a gzip stream at all")
    with pytest.raises(data.DataFormatError) as info:
        data.read_idx(path, mnist_mod.LABEL_MAGIC)
    msg = str(info.value)
    assert msg.startswith(f"{path}: not a valid gzip file or corrupt (BadGzipFile: ")
    assert msg.endswith("); CRC or length check failed, re-download or re-copy it")


def test_idx_refusals_say_what_is_wrong():
    """Each IDX refusal is one line naming the file (``<bytes>`` for bare bytes), what was found
    and what was expected."""
    with pytest.raises(data.DataFormatError, match=r"^<bytes>: too short for an IDX header \(5 bytes\)$"):
        data.parse_idx(b"\0" * 5, mnist_mod.LABEL_MAGIC)
    cases = [
        (
            idx_bytes(np.zeros(3), mnist_mod.LABEL_MAGIC),
            mnist_mod.IMAGE_MAGIC,
            "0x00000801, expected 0x00000803 (images",
        ),
        (
            idx_bytes(np.zeros((1, 28, 28)), mnist_mod.IMAGE_MAGIC),
            mnist_mod.LABEL_MAGIC,
            "0x00000803, expected 0x00000801 (labels",
        ),
        (b"\xff" * 12, mnist_mod.LABEL_MAGIC, "0xffffffff, expected 0x00000801 (labels"),  # the magic is unsigned
    ]
    for raw, magic, found in cases:
        with pytest.raises(data.DataFormatError) as info:
            data.parse_idx(raw, magic, "f.gz")
        assert str(info.value) == f"f.gz: wrong IDX magic number {found} file); wrong file or corrupt"
    raw = idx_bytes(np.zeros((5, 28, 28)), mnist_mod.IMAGE_MAGIC)[:-784]
    with pytest.raises(data.DataFormatError) as info:
        data.parse_idx(raw, mnist_mod.IMAGE_MAGIC, "f.gz")
    assert str(info.value) == (
        "f.gz: IDX payload has 3136 bytes but the header (5, 28, 28) needs 3920; the file is truncated or corrupt"
    )


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (
            np.zeros((3, 27, 28)),
            np.arange(3),
            r"^MNIST train: images \(3, 27, 28\), labels \(3,\); expected \(n, 28, 28\) images and n labels$",
        ),
        (np.zeros((3, 28, 28)), np.arange(4), r"^MNIST train: images \(3, 28, 28\), labels \(4,\); expected"),
        (np.zeros((3, 28, 28)), np.array([0, 10, 3]), r"^MNIST train: label 10 outside 0\.\.9$"),
    ],
)
def test_load_mnist_refuses_shapes_and_labels_it_cannot_use(tmp_path, monkeypatch, images, labels, message):
    """Images must be 28x28, one label per image, labels digits 0..9; each refusal names the split."""
    good = {"images": np.zeros((2, 28, 28)), "labels": np.arange(2)}
    for key, rel in mnist_mod.FILES.items():
        split, kind = key.split("_")
        arr = {"images": images, "labels": labels}[kind] if split == "train" else good[kind]
        magic = mnist_mod.IMAGE_MAGIC if kind == "images" else mnist_mod.LABEL_MAGIC
        write_gz(tmp_path / rel, idx_bytes(arr, magic))
        register(monkeypatch, tmp_path, rel)
    with pytest.raises(data.DataFormatError, match=message):
        data.load_mnist(tmp_path)


# ----------------------------------------------------------------------------- checksums
def test_sha256_mismatch_names_file_and_both_hashes(tmp_path):
    key = "mnist/train-labels-idx1-ubyte.gz"
    path = tmp_path / key
    write_gz(path, idx_bytes(np.arange(60) % 10, mnist_mod.LABEL_MAGIC))
    with pytest.raises(data.ChecksumError) as info:
        data.verify(path, key)
    err = info.value
    expected = dict(data.KNOWN_FILES[key].digests)["sha256"]
    actual = sha256(path)
    assert str(path) in str(err) and expected in str(err) and actual in str(err)
    assert err.path == str(path) and expected in err.expected and actual in err.actual
    assert isinstance(err, ValueError)
    # the loaders check before reading: the other three files are absent, the bad one is found first
    for rel in mnist_mod.FILES.values():
        if rel != key:
            write_gz(tmp_path / rel, b"")
    with pytest.raises((data.ChecksumError, data.DataFormatError)):
        data.load_mnist(tmp_path)
    clone = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes; crosses pytest-xdist process boundaries intact
    assert str(clone) == str(err) and clone.expected == err.expected


def test_hashes_are_memoised_by_path_size_mtime(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 100)
    first = data.file_digests(path)["sha256"]
    st = path.stat()
    path.write_bytes(b"b" * 100)  # same size; restore the mtime: the memo cannot see the change
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert data.file_digests(path)["sha256"] == first
    path.write_bytes(b"b" * 101)  # a size change is seen without clearing
    assert data.file_digests(path)["sha256"] == hashlib.sha256(b"b" * 101).hexdigest()
    data.clear_hash_memo()


# ----------------------------------------------------------------------------- missing data
@pytest.mark.parametrize(
    "loader, name, dataset",
    [
        (data.load_mnist, "train-images-idx3-ubyte.gz", "mnist"),
        (data.load_imdb, "aclImdb_v1_nounsup.tar.xz", "imdb"),
        (data.load_cifar100, "cifar-100-python.tar.gz", "cifar100"),
        (data.load_imagenet_classes, "imagenet_class_index.json", "imagenet"),
    ],
)
def test_missing_data_says_what_and_how(tmp_path, loader, name, dataset):
    with pytest.raises(data.DataMissing) as info:
        loader(tmp_path)
    msg = str(info.value)
    assert name in msg and str(tmp_path) in msg
    assert f"islp-ch10 download {dataset}" in msg and "ISLP_CH10_DATA" in msg
    assert isinstance(info.value, FileNotFoundError)
    clone = pickle.loads(pickle.dumps(info.value))  # noqa: S301 - our own bytes
    assert str(clone) == msg and clone.missing == info.value.missing


# ----------------------------------------------------------------------------- archives
def test_imdb_tar_with_a_folder_missing(tmp_path):
    path = tmp_path / "aclImdb_v1_nounsup.tar.xz"
    write_imdb_archive(path, drop=("test", "neg"))
    with pytest.raises(data.DataFormatError, match="aclImdb/test/neg/") as info:
        imdb_mod.read_archive(path)
    assert str(path) in str(info.value)


def test_imdb_archive_not_a_tar(tmp_path):
    path = tmp_path / "aclImdb_v1_nounsup.tar.xz"
    path.write_bytes(b"\xfd7zXZ\x00 not really")
    with pytest.raises(data.DataFormatError, match="cannot read"):
        imdb_mod.read_archive(path)


def test_imdb_archive_order_and_official_layout(tmp_path):
    """Reviews come neg then pos by numeric id; the official .tar.gz (with unsup/) reads the same."""
    path = tmp_path / "aclImdb_v1.tar.gz"
    write_imdb_archive(
        path, mode="w:gz", extra={"aclImdb/train/unsup/0_0.txt": "unlabelled", "aclImdb/train/labeledBow.feat": "0 1:1"}
    )
    reviews = imdb_mod.read_archive(path)
    tr = reviews["train"]
    assert tr.labels.tolist() == [0, 0, 0, 1, 1, 1] and tr.ids.tolist() == [0, 10, 20, 0, 10, 20]
    assert tr.texts[0] == REVIEWS[("train", "neg")][0] and tr.ratings.tolist() == [2, 2, 2, 9, 9, 9]
    assert "unlabelled" not in tr.texts and len(reviews["test"].texts) == 4


def test_cifar_tar_with_a_member_missing(tmp_path):
    path = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for m in ("train", "test"):
            blob = pickle.dumps(
                {b"data": np.zeros((1, 3072), np.uint8), b"fine_labels": [0], b"coarse_labels": [0]}, protocol=2
            )
            info = tarfile.TarInfo(f"cifar-100-python/{m}")
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    with pytest.raises(data.DataFormatError, match="cifar-100-python/meta") as info:
        data.read_cifar100_archive(path)
    assert str(path) in str(info.value)


def test_cifar_folder_with_a_file_missing(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(b"x")
    with pytest.raises(data.DataMissing, match="test"):
        data.load_cifar100(tmp_path)


# ----------------------------------------------------------------------------- processed cache
def test_imdb_cache_built_then_hit(mini_imdb):
    root, cache = mini_imdb
    first = load_mini(root)
    assert imdb_mod.last_cache_status == "built"
    files = list(cache.glob("imdb-*.npz"))
    assert len(files) == 1 and f"tok{data.TOKENIZER_VERSION}-w8-l6" in files[0].name
    second = load_mini(root)
    assert imdb_mod.last_cache_status == "hit" and same_imdb(first, second)
    assert first.X_train.shape == (6, 11) and first.S_train.shape == (6, 6)
    assert first.lookup[3] == "great"  # 4 occurrences in the training reviews, the most frequent
    # no temporary files are left beside the cache
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_imdb_cache_from_older_tokenizer_is_rebuilt(mini_imdb):
    root, cache = mini_imdb
    good = load_mini(root)
    (path,) = cache.glob("imdb-*.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"][()]))
    meta["tokenizer_version"] = data.TOKENIZER_VERSION - 1
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    arrays["S_train"] = np.zeros_like(arrays["S_train"])  # what an old tokenizer might have produced
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.warns(UserWarning, match="stale"):
        again = load_mini(root)
    assert imdb_mod.last_cache_status == "rebuilt" and same_imdb(good, again)
    # an obsolete cache file of an older tokenizer version (its own key) is removed on rebuild
    old = path.with_name(path.name.replace(f"tok{data.TOKENIZER_VERSION}", "tok0"))
    old.write_bytes(path.read_bytes())
    path.unlink()
    load_mini(root)
    assert not old.exists() and path.exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flip", "drop-array"])
def test_imdb_corrupt_cache_is_rebuilt(mini_imdb, damage):
    root, cache = mini_imdb
    good = load_mini(root)
    (path,) = cache.glob("imdb-*.npz")
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(blob)))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "flip":  # one bit inside a stored array: the zip member's CRC catches it
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("S_train.npy")
        offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
        ba = bytearray(blob)
        ba[min(offset, len(ba) - 30)] ^= 0x01
        path.write_bytes(bytes(ba))
    else:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files if k != "X_test_indices"}
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
    with pytest.warns(UserWarning, match="stale or corrupt"):
        again = load_mini(root)
    assert imdb_mod.last_cache_status == "rebuilt" and same_imdb(good, again)
    assert load_mini(root) is not None and imdb_mod.last_cache_status == "hit"


def test_interrupted_cache_write_leaves_nothing(mini_imdb, monkeypatch):
    root, cache = mini_imdb

    def crash(fh, **arrays):
        fh.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(imdb_mod.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        load_mini(root)
    assert not list(cache.glob("imdb-*.npz")) and not list(cache.glob(".*tmp"))
    monkeypatch.undo()
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    register(monkeypatch, root, "imdb/aclImdb_v1_nounsup.tar.xz")
    load_mini(root)
    assert imdb_mod.last_cache_status == "built"


def test_atomic_write_exception_leaves_no_file(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), data.atomic_write(target) as fh:
        fh.write(b"partial")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), data.atomic_write(target) as fh:
        fh.write(b"new but partial")
        raise RuntimeError("crash")
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_data_root_is_never_written(mini_imdb):
    root, _ = mini_imdb
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    load_mini(root)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_two_processes_build_the_cache_safely(mini_imdb):
    """Two workers that start together (as pytest-xdist's do) both get the same, complete cache."""
    root, cache = mini_imdb
    key = "imdb/aclImdb_v1_nounsup.tar.xz"
    script = textwrap.dedent(f"""
        import json, sys
        from islp_ch10 import data
        from islp_ch10.data import imdb
        data.KNOWN_FILES[{key!r}] = data.FileSpec((("sha256", {sha256(root / key)!r}),))
        d = data.load_imdb({str(root)!r}, num_words=8, maxlen=6)
        print(json.dumps({{"status": imdb.last_cache_status, "S": d.S_train.tolist(), "v": d.vocab}}))
    """)
    env = child_env(pythonpath=[REPO], **{data.CACHE_ENV: str(cache)})
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        for _ in range(2)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert outs[0]["S"] == outs[1]["S"] and outs[0]["v"] == outs[1]["v"]
    assert sorted(o["status"] for o in outs) in (["built", "hit"], ["built", "built"])
    assert len(list(cache.glob("imdb-*.npz"))) == 1 and not list(cache.glob(".*tmp"))


# ----------------------------------------------------------------------------- download
PAYLOAD = b"islp-ch10 test payload\n" * 100


@pytest.fixture
def toy_dataset(monkeypatch):
    key = "toy/payload.bin"
    spec = data.FileSpec(
        (("sha256", hashlib.sha256(PAYLOAD).hexdigest()),),
        ("https://primary.invalid/payload.bin", "https://mirror.invalid/payload.bin"),
    )
    monkeypatch.setitem(data.KNOWN_FILES, key, spec)
    monkeypatch.setitem(data.DATASETS, "toy", (key,))
    return key


def test_download_good_file_is_put_in_place(tmp_path, toy_dataset, monkeypatch):
    calls = []

    def fake_fetch(url, out):
        calls.append(url)
        for i in range(0, len(PAYLOAD), 100):
            out.write(PAYLOAD[i : i + 100])

    monkeypatch.setattr(data._core, "fetch", fake_fetch)  # where download_file looks it up
    (path,) = data.download("toy", tmp_path)
    assert path == tmp_path / toy_dataset and path.read_bytes() == PAYLOAD
    assert calls == ["https://primary.invalid/payload.bin"]
    data.download("toy", tmp_path)  # present and verified: not fetched again
    assert len(calls) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["payload.bin"]


def test_download_bad_hash_leaves_nothing(tmp_path, toy_dataset):
    def evil_fetch(url, out):
        out.write(PAYLOAD[:-1] + b"?")

    with pytest.raises(data.ChecksumError) as info:
        data.download("toy", tmp_path, fetch=evil_fetch)
    assert "payload.bin" in str(info.value) and hashlib.sha256(PAYLOAD).hexdigest() in str(info.value)
    folder = tmp_path / "toy"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_download_failure_mid_write_leaves_nothing_and_tries_mirrors(tmp_path, toy_dataset):
    tried = []

    def flaky_fetch(url, out):
        tried.append(url)
        out.write(PAYLOAD[:500])
        raise ConnectionResetError("connection dropped")

    with pytest.raises(OSError, match=r"could not download toy/payload\.bin"):
        data.download("toy", tmp_path, fetch=flaky_fetch)
    assert len(tried) == 2
    assert list((tmp_path / "toy").iterdir()) == []

    def second_mirror_works(url, out):
        if "primary" in url:
            out.write(b"junk")
            raise TimeoutError("slow")
        out.write(PAYLOAD)

    (path,) = data.download("toy", tmp_path, fetch=second_mirror_works)
    assert path.read_bytes() == PAYLOAD


def test_download_replaces_a_corrupt_existing_file(tmp_path, toy_dataset):
    dest = tmp_path / toy_dataset
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"corrupt")
    data.download("toy", tmp_path, fetch=lambda url, out: out.write(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD


def test_download_table_is_complete():
    """Every data set has a source and every listed file a digest; md5 where only md5 is published."""
    with pytest.raises(KeyError, match="unknown data set"):
        data.download("nope")
    for _name, keys in data.DATASETS.items():
        for key in keys:
            spec = data.KNOWN_FILES[key]
            assert spec.urls and spec.digests, key
            assert all(algo in ("sha256", "md5") and len(h) in (32, 64) for algo, h in spec.digests)
    assert data.KNOWN_FILES["imdb/aclImdb_v1_nounsup.tar.xz"].digests[0][0] == "sha256"


def test_download_md5_spec(tmp_path, monkeypatch):
    md5_of_payload = hashlib.md5(PAYLOAD).hexdigest()  # noqa: S324 - a source that publishes only md5
    key = "toy/md5.bin"
    monkeypatch.setitem(
        data.KNOWN_FILES,
        key,
        data.FileSpec((("md5", md5_of_payload),), ("https://x.invalid/md5.bin",)),
    )
    path = data.download_file(key, tmp_path, fetch=lambda url, out: out.write(PAYLOAD))
    assert data.verify(path, key) == path


# ----------------------------------------------------------------------------- NYSE
def nyse_frame(T=30):
    rng = np.random.default_rng(1)
    days = ["mon", "tues", "wed", "thur", "fri"]
    return pd.DataFrame(
        {
            "day_of_week": pd.Categorical([days[i % 5] for i in range(T)], categories=days),
            "DJ_return": rng.normal(size=T),
            "log_volume": rng.normal(size=T),
            "log_volatility": rng.normal(size=T),
            "train": np.arange(T) < 20,
        },
        index=[f"d{i}" for i in range(T)],
    )


@pytest.mark.parametrize("row, col", [(0, "DJ_return"), (12, "log_volume"), (29, "log_volatility")])
def test_nyse_nan_raises(row, col):
    df = nyse_frame()
    assert data.nyse_features(df).X_rnn.shape == (25, 5, 3)
    bad = df.copy()
    bad.iloc[row, bad.columns.get_loc(col)] = np.nan
    with pytest.raises(ValueError, match="NaN") as info:
        data.nyse_features(bad)
    assert f"d{row}" in str(info.value) and col in str(info.value)


def test_nyse_bad_arguments():
    with pytest.raises(ValueError, match="lags"):
        data.nyse_features(nyse_frame(), lags=0)
    with pytest.raises(ValueError, match="lacks columns"):
        data.nyse_features(nyse_frame().drop(columns=["train"]))


# ----------------------------------------------------------------------------- the plumbing's contract
def test_default_data_root_is_the_home_cache_without_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.data_root() == tmp_path / ".cache" / "islp-ch10"


def test_data_missing_says_where_the_root_came_from(tmp_path, monkeypatch):
    """The message says whether ``ISLP_CH10_DATA`` named the folder searched, or the default was used."""
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert f"({data.DATA_ENV}={tmp_path})" in str(data.DataMissing("mnist", "a.gz", tmp_path))
    monkeypatch.delenv(data.DATA_ENV)
    assert f"({data.DATA_ENV} is not set, so the default was used)" in str(data.DataMissing("mnist", "a.gz", tmp_path))


def test_data_missing_when_a_folder_sits_where_the_file_should_be(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    (tmp_path / "a.gz").mkdir()
    msg = str(data.DataMissing("mnist", "mnist/a.gz", tmp_path, how="do this"))
    assert msg == (
        f"mnist: {tmp_path / 'a.gz'} is a folder, not the data file 'mnist/a.gz' ({data.DATA_ENV}={tmp_path}); "
        "move the folder away, then get the file: do this."
    )


def test_checksum_error_message_and_digest_list(tmp_path):
    """Without a hint the message ends at the diagnosis; a spec's digests read 'algo hex or algo hex'."""
    err = data.ChecksumError("f.gz", "sha256 aa", "sha256 bb")
    assert str(err) == (
        "checksum mismatch for f.gz: expected sha256 aa, got sha256 bb; "
        "the file is corrupt, truncated or a different version"
    )
    assert data.FileSpec((("sha256", "aa"), ("md5", "bb"))).describe() == "sha256 aa or md5 bb"


def test_verify_reports_every_digest_and_the_data_set_to_download(tmp_path, monkeypatch):
    """A mismatch lists the file's sha256 and md5 (the algorithms its spec records) and, with no
    data set named, tells the user to download the data set the key's folder names."""
    path = tmp_path / "x.gz"
    path.write_bytes(b"abc")
    spec = data.FileSpec((("sha256", "0" * 64), ("md5", "0" * 32)))
    monkeypatch.setitem(data.KNOWN_FILES, "mnist/x.gz", spec)
    with pytest.raises(data.ChecksumError) as info:
        data.verify(path, "mnist/x.gz")
    md5 = hashlib.md5(b"abc").hexdigest()  # noqa: S324 - the digest the spec records
    assert info.value.actual == f"sha256 {sha256(path)} / md5 {md5}"
    assert str(info.value).endswith("(delete it and run `islp-ch10 download mnist`, or use the staged copy)")


def test_locate_names_the_data_set_and_passes_the_how_on(tmp_path, monkeypatch):
    """``locate`` names the data set (the key's folder unless one is given) in both refusals, and a
    caller's own instructions replace the default ones."""
    with pytest.raises(data.DataMissing) as info:
        data.locate("mnist/absent.gz", tmp_path)
    assert (info.value.dataset, info.value.missing) == ("mnist", "mnist/absent.gz")
    with pytest.raises(data.DataMissing) as info:
        data.locate("mnist/absent.gz", tmp_path, how="ask the lab")
    assert str(info.value).endswith("To get it: ask the lab.")
    key = "islp_book_images/x.jpg"
    (tmp_path / "islp_book_images").mkdir()
    (tmp_path / key).write_bytes(b"not the image")
    monkeypatch.setitem(data.KNOWN_FILES, key, data.FileSpec((("sha256", "0" * 64),)))
    with pytest.raises(data.ChecksumError, match=r"islp-ch10 download book_images`"):
        data.locate(key, tmp_path, "book_images")


def test_fetch_streams_the_url_naming_itself_with_a_timeout(tmp_path, monkeypatch):
    """``fetch`` asks for the URL as ``islp-ch10`` (some hosts refuse Python's default agent), with a
    finite timeout (a stalled mirror must fail, so the next one is tried), and copies every byte."""
    import urllib.request

    seen = {}

    def fake_urlopen(req, timeout=None):
        seen.update(url=req.full_url, agent=req.get_header("User-agent"), timeout=timeout)
        return io.BytesIO(PAYLOAD)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    out = io.BytesIO()
    data.fetch("https://example.invalid/f.bin", out)
    assert out.getvalue() == PAYLOAD
    assert seen["url"] == "https://example.invalid/f.bin" and seen["agent"] == "islp-ch10"
    assert seen["timeout"] is not None and 0 < seen["timeout"] <= 600


def test_download_file_keeps_a_good_copy_unless_forced(tmp_path, toy_dataset):
    calls = []

    def fetch(url, out):
        calls.append(url)
        out.write(PAYLOAD)

    data.download_file(toy_dataset, tmp_path, fetch=fetch)
    data.download_file(toy_dataset, tmp_path, fetch=fetch)
    assert len(calls) == 1  # present and verified: kept
    data.download("toy", tmp_path, fetch=fetch, force=True)
    assert len(calls) == 2  # forced: fetched again


def test_download_file_without_a_source_says_why(monkeypatch):
    with pytest.raises(ValueError) as info:
        data.download_file("imdb/aclImdb_v1_nounsup.tar.xz")
    note = data.KNOWN_FILES["imdb/aclImdb_v1_nounsup.tar.xz"].note
    assert str(info.value) == f"imdb/aclImdb_v1_nounsup.tar.xz has no download source ({note})"
    monkeypatch.setitem(data.KNOWN_FILES, "toy/local.bin", data.FileSpec((("sha256", "0" * 64),)))
    with pytest.raises(ValueError, match=r"^toy/local\.bin has no download source \(staged copy only\)$"):
        data.download_file("toy/local.bin")


def test_download_refusals_name_the_file_the_mirror_and_the_error(tmp_path, toy_dataset):
    with pytest.raises(data.ChecksumError) as info:
        data.download("toy", tmp_path, fetch=lambda url, out: out.write(b"wrong"))
    assert info.value.path == str(tmp_path / toy_dataset)
    assert str(info.value).endswith("(downloaded from https://primary.invalid/payload.bin; nothing was kept)")

    def drop(url, out):
        raise ConnectionResetError("connection dropped")

    with pytest.raises(OSError) as info:
        data.download("toy", tmp_path, fetch=drop)
    assert str(info.value) == (
        "could not download toy/payload.bin: "
        "https://primary.invalid/payload.bin: ConnectionResetError: connection dropped; "
        "https://mirror.invalid/payload.bin: ConnectionResetError: connection dropped"
    )


# ----------------------------------------------------------------------------- the IMDB cache's contract
def _rewrite_cache(path, change) -> None:
    """Rewrite one cache file with ``change(arrays)`` applied, its recorded settings untouched."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _set(key, value):
    return lambda a: a.__setitem__(key, value(a[key]) if callable(value) else value)


INCONSISTENT = {
    "sequences of another width": _set("S_train", lambda seq: seq[:, :-1]),
    "a sequence id past the columns": _set("S_test", lambda seq: np.where(seq == seq.max(), 11, seq)),
    "a bag-of-words column past the columns": _set("X_train_indices", lambda i: np.where(i == i.max(), 11, i)),
    "rows out of order": _set("X_test_indptr", lambda p: np.r_[p[:1], p[2:3], p[1:2], p[3:]]),
    "row pointers not from 0": _set("X_train_indptr", lambda p: p + 1),
    "row pointers short of the entries": _set("X_train_indptr", lambda p: np.r_[p[:-1], p[-1] - 1]),
    "a rating missing": _set("rating_test", lambda r: r[:-1]),
    "an id missing": _set("id_train", lambda r: r[:-1]),
    "a label missing": _set("y_train", lambda r: r[:-1]),
    "a word twice": _set("words", lambda w: np.r_[w[:-1], w[:1]]),
    "more words than asked for": _set("words", lambda w: np.r_[w, ["x" * k for k in range(1, 9)]]),
}


@pytest.mark.parametrize("damage", sorted(INCONSISTENT))
def test_imdb_inconsistent_cache_is_rebuilt(mini_imdb, damage):
    """A cache whose arrays do not fit together (each case breaks one check) is stale: it is rebuilt
    from the archive, with a warning saying why, and never handed out."""
    root, cache = mini_imdb
    good = load_mini(root)
    (path,) = cache.glob("imdb-*.npz")
    _rewrite_cache(path, INCONSISTENT[damage])
    reason = "bad vocabulary" if damage.startswith(("a word", "more words")) else r"inconsistent arrays for split \w+"
    with pytest.warns(UserWarning, match=rf"stale or corrupt \({reason}\); rebuilding it$"):
        again = load_mini(root)
    assert imdb_mod.last_cache_status == "rebuilt" and same_imdb(good, again)


def test_imdb_stale_cache_warnings_say_why(mini_imdb):
    """The warning names the reason: other recorded settings, an unreadable file, or an array
    missing (with the error that found it)."""
    root, cache = mini_imdb
    load_mini(root)
    (path,) = cache.glob("imdb-*.npz")
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.warns(UserWarning, match=r"stale or corrupt \(unreadable \(BadZipFile: "):
        load_mini(root)

    def other_settings(arrays):
        meta = json.loads(str(arrays["meta"][()]))
        arrays["meta"] = np.array(json.dumps({**meta, "maxlen": 7}, sort_keys=True))

    path.write_bytes(blob)
    _rewrite_cache(path, other_settings)
    with pytest.warns(UserWarning, match=r"stale or corrupt \(records \{.*'maxlen': 7.*\}, wanted \{.*'maxlen': 6"):
        load_mini(root)
    _rewrite_cache(path, lambda a: a.pop("rating_train"))
    with pytest.warns(UserWarning, match=r"stale or corrupt \(inconsistent \(KeyError: "):
        load_mini(root)


def test_imdb_cache_hit_has_the_built_types(mini_imdb):
    """Read back from the cache, every array has the type and shape a fresh build gives (labels,
    ratings, ids and sequences int64; the bag of words float32 CSR with all 11 columns, also those
    no review of a split uses), and the settings it was built with."""
    root, _ = mini_imdb
    built = load_mini(root)
    hit = load_mini(root)
    assert imdb_mod.last_cache_status == "hit"
    for d in (built, hit):
        for s in ("train", "test"):
            for name in ("y", "rating", "id", "S"):
                assert getattr(d, f"{name}_{s}").dtype == np.int64, (name, s)
            assert getattr(d, f"X_{s}").dtype == np.float32
    assert np.array_equal(hit.rating_train, built.rating_train) and np.array_equal(hit.id_test, built.id_test)
    assert hit.X_train.shape == (6, 11) and hit.X_test.shape == (4, 11)
    assert (hit.num_words, hit.maxlen) == (built.num_words, built.maxlen) == (8, 6)


def test_imdb_cache_keeps_word_ids_that_need_more_than_16_bits(tmp_path, monkeypatch):
    """The cache stores sequences in 16 bits only while every id fits; with a vocabulary of more
    than 65,533 words (ids past 65,535) a cache hit still gives the sequences that were built."""
    key = "imdb/aclImdb_v1.tar.gz"
    words = ["w" + "".join(chr(ord("a") + int(d)) for d in f"{i:05d}") for i in range(65_540)]
    write_imdb_archive(tmp_path / key, mode="w:gz", extra={"aclImdb/train/pos/99_9.txt": " ".join(words)})
    register(monkeypatch, tmp_path, key)
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    built = data.load_imdb(tmp_path, num_words=65_537, maxlen=65_541)
    assert built.S_train.max() > np.iinfo(np.uint16).max
    hit = data.load_imdb(tmp_path, num_words=65_537, maxlen=65_541)
    assert imdb_mod.last_cache_status == "hit" and np.array_equal(hit.S_train, built.S_train)


def test_imdb_cache_records_its_settings_and_the_archive(mini_imdb):
    """The cache file records the archive's sha256, the tokenizer version, the cache format and
    both settings, which are what a later load compares."""
    root, cache = mini_imdb
    load_mini(root)
    (path,) = cache.glob("imdb-*.npz")
    with np.load(path) as z:
        meta = json.loads(str(z["meta"][()]))
    key = "imdb/aclImdb_v1_nounsup.tar.xz"
    assert meta == {
        "format": imdb_mod.CACHE_FORMAT,
        "tokenizer_version": data.TOKENIZER_VERSION,
        "archive_sha256": sha256(root / key),
        "num_words": 8,
        "maxlen": 6,
    }


def test_imdb_cache_finished_by_another_process_while_waiting_is_used(mini_imdb, monkeypatch):
    """A cache that another process wrote while this one waited for the lock is read, not rebuilt;
    a stale one that another process removed meanwhile is rebuilt and reported so."""
    import contextlib

    root, cache = mini_imdb
    good = load_mini(root)
    (path,) = cache.glob("imdb-*.npz")
    blob = path.read_bytes()
    real_lock = imdb_mod.lock

    def lock_while(action):
        @contextlib.contextmanager
        def patched(p):
            with real_lock(p):
                action()
                yield

        return patched

    path.unlink()
    monkeypatch.setattr(imdb_mod, "lock", lock_while(lambda: path.write_bytes(blob)))
    with monkeypatch.context() as m:
        m.setattr(imdb_mod, "read_archive", lambda *a: pytest.fail("rebuilt although the cache was there"))
        again = load_mini(root)
    assert imdb_mod.last_cache_status == "hit" and same_imdb(good, again)
    path.write_bytes(b"stale")
    monkeypatch.setattr(imdb_mod, "lock", lock_while(path.unlink))
    again = load_mini(root)
    assert imdb_mod.last_cache_status == "rebuilt" and same_imdb(good, again)


def test_imdb_stale_cache_warning_points_at_the_caller(mini_imdb):
    """The warning is reported at the line that called ``load_imdb`` (``stacklevel=2``)."""
    if "MUTANT_UNDER_TEST" in os.environ:  # see docs/mutation.md, "### data/"
        pytest.skip("inside a mutmut run a trampoline frame sits between load_imdb and its caller")
    root, cache = mini_imdb
    load_mini(root)
    (path,) = cache.glob("imdb-*.npz")
    path.write_bytes(b"stale")
    with pytest.warns(UserWarning, match="stale or corrupt") as caught:
        data.load_imdb(root, num_words=8, maxlen=6)
    assert caught[0].filename == __file__


def test_imdb_archive_absent_or_changed_says_how_to_get_it(tmp_path):
    """Without an archive the message names the staged file, where it looked, and both ways to get
    one; an archive that is not the recorded file names the IMDB download."""
    with pytest.raises(data.DataMissing) as info:
        imdb_mod.find_archive(tmp_path)
    err = info.value
    assert (err.dataset, err.missing, err.searched) == (
        "imdb",
        "imdb/aclImdb_v1_nounsup.tar.xz",
        str(tmp_path / "imdb"),
    )
    assert str(err).endswith(
        "To get it: copy the staged imdb/aclImdb_v1_nounsup.tar.xz (shared/data beside the checkout; set "
        "ISLP_CH10_DATA), or run `islp-ch10 download imdb` online, which fetches the official "
        "imdb/aclImdb_v1.tar.gz."
    )
    write_imdb_archive(tmp_path / "imdb" / "aclImdb_v1.tar.gz", mode="w:gz")
    with pytest.raises(data.ChecksumError, match=r"run `islp-ch10 download imdb`"):
        imdb_mod.find_archive(tmp_path)


def test_imdb_archive_with_folder_entries_is_read_whole(tmp_path):
    """Real tar archives list their folders before the files in them; every review is still read."""
    path = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for folder in ("aclImdb", "aclImdb/train", "aclImdb/test"):
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
        for (split, lab), texts in REVIEWS.items():
            for i, text in enumerate(texts):
                blob = text.encode()
                info = tarfile.TarInfo(f"aclImdb/{split}/{lab}/{i}_{9 if lab == 'pos' else 2}.txt")
                info.size = len(blob)
                tf.addfile(info, io.BytesIO(blob))
    reviews = imdb_mod.read_archive(path)
    assert len(reviews["train"].texts) == 6 and len(reviews["test"].texts) == 4


def test_imdb_archive_refusals_name_the_error_and_every_empty_folder(tmp_path):
    path = tmp_path / "aclImdb_v1_nounsup.tar.xz"
    path.write_bytes(b"\xfd7zXZ\x00 not really")
    with pytest.raises(data.DataFormatError, match=rf"^{path}: cannot read the IMDB archive \(ReadError: "):
        imdb_mod.read_archive(path)
    with tarfile.open(path, "w:xz") as tf:
        for split in ("train",):
            for lab in ("pos", "neg"):
                info = tarfile.TarInfo(f"aclImdb/{split}/{lab}/0_9.txt")
                info.size = 1
                tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(data.DataFormatError) as info:
        imdb_mod.read_archive(path)
    assert str(info.value) == (
        f"{path}: the archive has no reviews under aclImdb/test/neg/, aclImdb/test/pos/; "
        "it is incomplete (re-download or re-copy it)"
    )


def test_imdb_cache_hit_keeps_columns_no_review_of_a_split_uses(mini_imdb):
    """Read back from the cache, a split's bag of words has ``num_words + 3`` columns even when its
    reviews never use the last ones (the shape is the dictionary's, not the data's)."""
    root, cache = mini_imdb
    load_mini(root)
    (path,) = cache.glob("imdb-*.npz")

    def drop_highest_column(arrays):
        indptr, indices = arrays["X_test_indptr"], arrays["X_test_indices"]
        keep = indices < indices.max()
        per_row = [keep[indptr[i] : indptr[i + 1]].sum() for i in range(len(indptr) - 1)]
        arrays["X_test_indices"] = indices[keep]
        arrays["X_test_indptr"] = np.r_[0, np.cumsum(per_row)].astype(np.int32)

    _rewrite_cache(path, drop_highest_column)
    hit = load_mini(root)
    assert imdb_mod.last_cache_status == "hit" and hit.X_test.shape == (4, 11)
