"""IMDB movie reviews (sections 10.4-10.5, lab 10.9.4) from the raw Large Movie Review archive.

The Keras integer encoding that ISLP uses is not reproducible offline (see the data README), so
the reviews are tokenized here, with a documented tokenizer, and encoded the way the book
describes:

Tokenizer (:data:`TOKENIZER_VERSION` = 1), :func:`tokenize`
    lower-case the text; replace the HTML line breaks ``<br />`` (any ``<br>`` variant) by a
    space; a token is a maximal run of letters (any Unicode letter, no digits or ``_``), where
    an apostrophe *between* letters stays inside the word (``don't``, ``director's``); every
    other character separates tokens (so ``well-known`` is two words, ``'quoted'`` is
    ``quoted``, and numbers are dropped).

Vocabulary, :func:`build_vocab`
    the ``num_words`` (10,000) most frequent tokens of the **training** reviews only, counted
    over all their occurrences; ties are broken alphabetically so the result is deterministic.
    Index 0 = ``<PAD>``, 1 = ``<START>``, 2 = ``<UNK>`` (any token outside the vocabulary), and
    the words take 3 .. num_words + 2 in order of frequency: 10,003 columns, as in the book.

Sequence of a review
    ``[1] + [id of each token]``; :func:`sequences` keeps the **last** ``maxlen`` (500) ids
    (so a long review loses its start token, as Keras' ``pad_sequences`` does) and pads
    shorter ones with 0 at the **front**.

Bag of words, :func:`bag_of_words`
    ``X[i, j] = 1`` iff id ``j`` occurs in the full (untruncated) sequence of review ``i``:
    so column 1 (start) is 1 for every review, column 2 marks reviews with an unknown word,
    column 0 (padding) is always 0.  Binary, float32, ``scipy.sparse`` CSR.

Order of the reviews (both splits)
    all ``neg`` reviews (label 0) then all ``pos`` reviews (label 1), each in increasing
    numeric review id (the ``<id>`` of ``<id>_<rating>.txt``).

Processed arrays are cached in :func:`cache_dir` as one ``.npz`` per (archive sha256,
tokenizer version, num_words, maxlen), written atomically under a file lock; a cache that
cannot be read, is inconsistent, or records other settings is rebuilt, never trusted.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    import torch

from islp_ch10.fileio import atomic_write, lock

from ._core import DataFormatError, DataMissing, _root, cache_dir, file_digests, verify

TOKENIZER_VERSION = 1
CACHE_FORMAT = 1
PAD, START, UNK = 0, 1, 2
SPECIAL = {PAD: "<PAD>", START: "<START>", UNK: "<UNK>"}
ARCHIVES = ("imdb/aclImdb_v1_nounsup.tar.xz", "imdb/aclImdb_v1.tar.gz")  # staged first, then official
SPLITS = ("train", "test")
LABELS = (("neg", 0), ("pos", 1))
_MEMBER = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")

#: what the last :func:`load_imdb` call did with the cache: "hit", "built" or "rebuilt"
last_cache_status: str | None = None


# ----------------------------------------------------------------------------- text -> tokens
def tokenize(text: str) -> list[str]:
    """Tokens of one review (see the module docstring for the exact rule)."""
    return _WORD.findall(_BR.sub(" ", text.lower()))


def _tokens(doc: str | Sequence[str]) -> Sequence[str]:
    return tokenize(doc) if isinstance(doc, str) else doc


def build_vocab(docs: Iterable[str | Sequence[str]], num_words: int = 10_000) -> dict[str, int]:
    """``{word: index}`` for the ``num_words`` most frequent tokens of ``docs`` (ties alphabetical).

    ``docs`` are raw texts or already tokenized lists.  Indices start at 3 (0-2 are reserved).
    """
    counts: Counter[str] = Counter()
    for doc in docs:
        counts.update(_tokens(doc))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:num_words]
    return {word: i + 3 for i, (word, _) in enumerate(ranked)}


def encode(doc: str | Sequence[str], vocab: dict[str, int]) -> list[int]:
    """The full id sequence of a document: start token, then each token's id (2 if unknown)."""
    get = vocab.get
    return [START] + [get(w, UNK) for w in _tokens(doc)]


def _ncols(vocab: dict[str, int]) -> int:
    return max(vocab.values(), default=2) + 1


def _bag_from_ids(encoded: Sequence[Sequence[int]], ncols: int) -> sp.csr_matrix:
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    cols = np.fromiter((i for e in encoded for i in e), dtype=np.int32, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(encoded), dtype=np.int32), lengths)
    X = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(encoded), ncols))
    X.sum_duplicates()
    X.data[:] = 1.0
    X.indices = X.indices.astype(np.int32, copy=False)
    X.indptr = X.indptr.astype(np.int32, copy=False)
    return X


def bag_of_words(docs: Iterable[str | Sequence[str]], vocab: dict[str, int]) -> sp.csr_matrix:
    """Binary document-term matrix (CSR, float32) with ``max(vocab)+1`` columns (10,003 for 10,000 words)."""
    return _bag_from_ids([encode(d, vocab) for d in docs], _ncols(vocab))


def _pad(encoded: Sequence[Sequence[int]], maxlen: int) -> np.ndarray:
    S = np.zeros((len(encoded), maxlen), dtype=np.int64)
    for i, ids in enumerate(encoded):
        tail = ids[-maxlen:] if maxlen else []
        if tail:
            S[i, maxlen - len(tail) :] = tail
    return S


def sequences(docs: Iterable[str | Sequence[str]], vocab: dict[str, int], maxlen: int = 500) -> np.ndarray:
    """int64 ``(n, maxlen)``: the last ``maxlen`` ids of each document, zero-padded at the front."""
    return _pad([encode(d, vocab) for d in docs], maxlen)


def ngrams(tokens: Sequence[str], n: int = 2) -> list[str]:
    """The ``n``-grams of a token list, each joined by one space (``n=2``: adjacent word pairs)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def bag_of_ngrams(
    docs: Iterable[str | Sequence[str]],
    n: int = 2,
    vocab: dict[str, int] | None = None,
    max_features: int | None = None,
) -> tuple[sp.csr_matrix, dict[str, int]]:
    """Binary bag of 1- to ``n``-grams: ``(X, vocab)`` with ``vocab`` ``{gram: column}``.

    Without ``vocab`` one is built from ``docs``: grams by decreasing frequency, ties
    alphabetical, at most ``max_features`` of them, columns from 0.  Grams outside the vocabulary
    are ignored.
    """
    grams = []
    for doc in docs:
        toks = list(_tokens(doc))
        grams.append([g for k in range(1, n + 1) for g in ngrams(toks, k)])
    if vocab is None:
        counts = Counter(g for gs in grams for g in gs)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_features]
        vocab = {g: i for i, (g, _) in enumerate(ranked)}
    enc = [[vocab[g] for g in gs if g in vocab] for gs in grams]
    return _bag_from_ids(enc, len(vocab)), vocab


def to_dense_tensor(X: sp.spmatrix) -> torch.Tensor:
    """A (small!) sparse matrix as a dense float32 torch tensor.  25,000 x 10,003 would be 1 GB."""
    import torch

    return torch.from_numpy(np.asarray(X.toarray(), dtype=np.float32))


def sparse_to_torch(X: sp.spmatrix, layout: str = "csr") -> torch.Tensor:
    """A scipy sparse matrix as a torch sparse tensor (``layout`` ``"csr"`` or ``"coo"``), float32."""
    import torch

    if layout == "csr":
        X = sp.csr_matrix(X)
        with warnings.catch_warnings():  # "sparse CSR support is in beta" is not news to a caller
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(
                torch.from_numpy(X.indptr.astype(np.int64)),
                torch.from_numpy(X.indices.astype(np.int64)),
                torch.from_numpy(X.data.astype(np.float32)),
                size=X.shape,
                check_invariants=False,
            )
    if layout == "coo":
        C = sp.coo_matrix(X)
        idx = torch.from_numpy(np.vstack([C.row, C.col]).astype(np.int64))
        return torch.sparse_coo_tensor(
            idx, torch.from_numpy(C.data.astype(np.float32)), size=C.shape, check_invariants=False
        ).coalesce()
    raise ValueError(f"layout must be 'csr' or 'coo', got {layout!r}")


# ----------------------------------------------------------------------------- the archive
@dataclass
class IMDBReviews:
    """Raw reviews of one split in the documented order (neg then pos, by numeric id)."""

    texts: list[str]
    labels: np.ndarray  # int64 0/1
    ratings: np.ndarray  # int64 1..10
    ids: np.ndarray  # int64 review id within its folder


def read_archive(path: str | os.PathLike) -> dict[str, IMDBReviews]:
    """Reviews of both splits from an ``aclImdb`` tar archive (``.tar.xz`` or ``.tar.gz``).

    Raises :class:`DataFormatError` naming the archive if it cannot be read or if one of
    ``aclImdb/{train,test}/{pos,neg}/`` has no review in it.
    """
    path = Path(path)
    found: dict[tuple[str, str], list[tuple[int, int, str]]] = {(s, lab): [] for s in SPLITS for lab, _ in LABELS}
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                if not m.isfile():
                    continue
                hit = _MEMBER.match(m.name)
                if not hit:
                    continue
                split, lab, rid, rating = hit.groups()
                fh = tf.extractfile(m)
                text = fh.read().decode("utf-8") if fh is not None else ""
                found[(split, lab)].append((int(rid), int(rating), text))
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: cannot read the IMDB archive ({type(exc).__name__}: {exc})") from exc
    empty = [f"aclImdb/{s}/{lab}/" for (s, lab), v in found.items() if not v]
    if empty:
        raise DataFormatError(
            f"{path}: the archive has no reviews under {', '.join(empty)}; it is incomplete (re-download or re-copy it)"
        )
    out = {}
    for split in SPLITS:
        texts, labels, ratings, ids = [], [], [], []
        for lab, y in LABELS:
            for rid, rating, text in sorted(found[(split, lab)]):
                texts.append(text)
                labels.append(y)
                ratings.append(rating)
                ids.append(rid)
        out[split] = IMDBReviews(
            texts, np.array(labels, np.int64), np.array(ratings, np.int64), np.array(ids, np.int64)
        )
    return out


def find_archive(root: str | os.PathLike | None = None) -> tuple[Path, str]:
    """``(path, key)`` of the first IMDB archive present under the data root, checked."""
    base = _root(root)
    for key in ARCHIVES:
        path = base / key
        if path.is_file():
            verify(path, key, "imdb")
            return path, key
    raise DataMissing(
        "imdb",
        ARCHIVES[0],
        base / "imdb",
        how=(
            f"copy the staged {ARCHIVES[0]} (shared/data beside the checkout; set ISLP_CH10_DATA), "
            f"or run `islp-ch10 download imdb` online, which fetches the official {ARCHIVES[1]}"
        ),
    )


# ----------------------------------------------------------------------------- processed data
@dataclass
class IMDBData:
    """The IMDB reviews encoded as in the book (see the module docstring)."""

    X_train: sp.csr_matrix  # binary bag of words, float32 (25000, 10003)
    X_test: sp.csr_matrix
    S_train: np.ndarray  # int64 (25000, maxlen), last maxlen ids, zero-padded in front
    S_test: np.ndarray
    y_train: np.ndarray  # int64 0/1 (neg then pos)
    y_test: np.ndarray
    lookup: dict[int, str]  # index -> word, with 0 <PAD>, 1 <START>, 2 <UNK>
    vocab: dict[str, int]  # word -> index (3 ..)
    rating_train: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rating_test: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    id_train: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    id_test: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    num_words: int = 10_000
    maxlen: int = 500


def cache_path(archive_sha256: str, num_words: int, maxlen: int, tokenizer_version: int = TOKENIZER_VERSION) -> Path:
    return cache_dir() / f"imdb-{archive_sha256[:16]}-tok{tokenizer_version}-w{num_words}-l{maxlen}.npz"


def _meta(sha: str, num_words: int, maxlen: int) -> dict:
    return {
        "format": CACHE_FORMAT,
        "tokenizer_version": TOKENIZER_VERSION,
        "archive_sha256": sha,
        "num_words": num_words,
        "maxlen": maxlen,
    }


def build(reviews: dict[str, IMDBReviews], num_words: int = 10_000, maxlen: int = 500) -> IMDBData:
    """Encode raw reviews (vocabulary from the training split only)."""
    toks = {s: [tokenize(t) for t in reviews[s].texts] for s in SPLITS}
    vocab = build_vocab(toks["train"], num_words)
    ncols = num_words + 3
    enc = {s: [encode(t, vocab) for t in toks[s]] for s in SPLITS}
    lookup = dict(SPECIAL)
    lookup.update({i: w for w, i in vocab.items()})
    return IMDBData(
        X_train=_bag_from_ids(enc["train"], ncols),
        X_test=_bag_from_ids(enc["test"], ncols),
        S_train=_pad(enc["train"], maxlen),
        S_test=_pad(enc["test"], maxlen),
        y_train=reviews["train"].labels,
        y_test=reviews["test"].labels,
        lookup=lookup,
        vocab=vocab,
        rating_train=reviews["train"].ratings,
        rating_test=reviews["test"].ratings,
        id_train=reviews["train"].ids,
        id_test=reviews["test"].ids,
        num_words=num_words,
        maxlen=maxlen,
    )


def _save(path: Path, data: IMDBData, meta: dict) -> None:
    words = [data.lookup[i] for i in range(3, data.num_words + 3) if i in data.lookup]
    seq_dtype = np.uint16 if data.num_words + 3 <= np.iinfo(np.uint16).max else np.int32
    # Values typed Any: mypy matches `**arrays` below against np.savez's `allow_pickle: bool` keyword
    # too, though no key here is named so.
    arrays: dict[str, Any] = {"meta": np.array(json.dumps(meta, sort_keys=True)), "words": np.array(words, dtype=str)}
    for s in SPLITS:
        X = getattr(data, f"X_{s}")
        arrays[f"X_{s}_indptr"] = X.indptr.astype(np.int32)
        arrays[f"X_{s}_indices"] = X.indices.astype(np.int32)
        arrays[f"S_{s}"] = getattr(data, f"S_{s}").astype(seq_dtype)
        for name in ("y", "rating", "id"):
            arrays[f"{name}_{s}"] = getattr(data, f"{name}_{s}").astype(np.int32)
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)


class _StaleCache(Exception):
    pass


def _load(path: Path, meta: dict) -> IMDBData:
    """Read a cache file; raise _StaleCache if it is unreadable, inconsistent or for other settings."""
    try:
        return _load_unchecked(path, meta)
    except _StaleCache:
        raise
    except (KeyError, ValueError, IndexError, TypeError, AttributeError) as exc:
        raise _StaleCache(f"inconsistent ({type(exc).__name__}: {exc})") from exc


def _load_unchecked(path: Path, meta: dict) -> IMDBData:
    try:
        with np.load(path, allow_pickle=False) as z:
            stored = json.loads(str(z["meta"][()]))
            if stored != meta:
                raise _StaleCache(f"records {stored}, wanted {meta}")
            arrays = {k: z[k] for k in z.files}
    except _StaleCache:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise _StaleCache(f"unreadable ({type(exc).__name__}: {exc})") from exc
    num_words, maxlen = meta["num_words"], meta["maxlen"]
    words = [str(w) for w in arrays["words"]]
    ncols = num_words + 3
    out = {}
    for s in SPLITS:
        y = arrays[f"y_{s}"].astype(np.int64)
        n = len(y)
        indptr, indices = arrays[f"X_{s}_indptr"], arrays[f"X_{s}_indices"]
        S = arrays[f"S_{s}"]
        ok = (
            len(indptr) == n + 1
            and indptr[0] == 0
            and indptr[-1] == len(indices)
            and np.all(np.diff(indptr) >= 0)
            and (len(indices) == 0 or int(indices.max()) < ncols)
            and S.shape == (n, maxlen)
            and len(arrays[f"rating_{s}"]) == n
            and len(arrays[f"id_{s}"]) == n
            and (S.size == 0 or int(S.max()) < ncols)
        )
        if not ok:
            raise _StaleCache(f"inconsistent arrays for split {s}")
        out[f"X_{s}"] = sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(n, ncols))
        out[f"S_{s}"] = S.astype(np.int64)
        out[f"y_{s}"] = y
        out[f"rating_{s}"] = arrays[f"rating_{s}"].astype(np.int64)
        out[f"id_{s}"] = arrays[f"id_{s}"].astype(np.int64)
    if len(words) > num_words or len(set(words)) != len(words):
        raise _StaleCache("bad vocabulary")
    vocab = {w: i + 3 for i, w in enumerate(words)}
    lookup = dict(SPECIAL)
    lookup.update({i: w for w, i in vocab.items()})
    return IMDBData(lookup=lookup, vocab=vocab, num_words=num_words, maxlen=maxlen, **out)


def load_imdb(root: str | os.PathLike | None = None, num_words: int = 10_000, maxlen: int = 500) -> IMDBData:
    """The IMDB reviews encoded as in the book; built once, then read from the processed cache.

    Raises :class:`DataMissing` if no archive is present (never downloads).
    """
    global last_cache_status
    archive, _ = find_archive(root)
    sha = file_digests(archive, ("sha256",))["sha256"]
    path = cache_path(sha, num_words, maxlen)
    meta = _meta(sha, num_words, maxlen)
    status = "built"
    if path.is_file():
        try:
            data = _load(path, meta)
            last_cache_status = "hit"
            return data
        except _StaleCache:
            status = "rebuilt"
    with lock(path.with_suffix(".lock")):
        if path.is_file():  # another process may have built it while we waited
            try:
                data = _load(path, meta)
                last_cache_status = "hit"
                return data
            except _StaleCache as exc:
                warnings.warn(f"IMDB cache {path} is stale or corrupt ({exc}); rebuilding it", stacklevel=2)
                status = "rebuilt"
        data = build(read_archive(archive), num_words, maxlen)
        _save(path, data, meta)
        for old in path.parent.glob(f"imdb-{sha[:16]}-tok*-w{num_words}-l{maxlen}.npz"):
            if old != path:  # caches of older tokenizer versions are obsolete
                old.unlink(missing_ok=True)
    last_cache_status = status
    return data


__all__ = [
    "TOKENIZER_VERSION",
    "IMDBData",
    "IMDBReviews",
    "bag_of_ngrams",
    "bag_of_words",
    "build",
    "build_vocab",
    "cache_path",
    "encode",
    "find_archive",
    "load_imdb",
    "ngrams",
    "read_archive",
    "sequences",
    "sparse_to_torch",
    "to_dense_tensor",
    "tokenize",
]
