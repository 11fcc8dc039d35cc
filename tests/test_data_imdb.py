"""IMDB encodings of sections 10.4-10.5 (bag of words, sparsity, n-grams, padding).

Toy and property tests check the encoders on hand-made text (fast tier); data-marked tests
check the real 50,000 reviews through the session fixture ``imdb``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given
from hypothesis import strategies as st

from islp_ch10 import claims, data

WORDS = st.lists(st.sampled_from(["good", "bad", "movie", "plot", "not", "very", "the", "zz"]), max_size=30)


def word(i: int) -> str:
    """A distinct all-letter token for each integer (the tokenizer drops digits)."""
    out = ""
    while True:
        i, r = divmod(i, 26)
        out += chr(ord("a") + r)
        if i == 0:
            return "w" + out


# ----------------------------------------------------------------------------- tokenizer
def test_tokenize_rules():
    text = "This movie<br /><br />wasn't GOOD.<br/>A well-known 'classic' from 1999, isn't it?"
    assert data.tokenize(text) == [
        "this",
        "movie",
        "wasn't",
        "good",
        "a",
        "well",
        "known",
        "classic",
        "from",
        "isn't",
        "it",
    ]
    assert data.tokenize("Café naïve") == ["café", "naïve"]
    assert data.tokenize("") == []


def test_build_vocab_frequency_then_alphabetical():
    docs = ["b a c a", "c b d", "e"]  # a:2 b:2 c:2 d:1 e:1
    assert data.build_vocab(docs, 4) == {"a": 3, "b": 4, "c": 5, "d": 6}
    assert data.build_vocab([["x", "y", "y"]], 1) == {"y": 3}


# ----------------------------------------------------------------------------- 10.4/bag-of-words
@pytest.mark.claim("10.4/bag-of-words")
def test_bag_of_words_toy():
    vocab = data.build_vocab(["the movie was good", "the plot was bad"], num_words=3)
    assert vocab == {"the": 3, "was": 4, "bad": 5}  # ties (count 1) broken alphabetically
    X = data.bag_of_words(["the the movie was bad", "terrible"], vocab)
    assert isinstance(X, sp.csr_matrix) and X.dtype == np.float32 and X.shape == (2, 6)
    dense = X.toarray()
    # columns: 0 pad, 1 start, 2 unknown, 3 the, 4 was, 5 bad; binary, not counts
    np.testing.assert_array_equal(dense, [[0, 1, 1, 1, 1, 1], [0, 1, 1, 0, 0, 0]])

    # a 10,000-word dictionary gives the book's 10,003 columns, out-of-dictionary -> column 2
    n_words = claims.book_value("10.4/bag-of-words")
    docs = [" ".join(word(i) for i in range(n_words + 5)), " ".join(word(i) for i in range(n_words))]
    vocab = data.build_vocab(docs, n_words)
    assert len(vocab) == n_words and sorted(vocab.values()) == list(range(3, n_words + 3))
    assert word(n_words + 4) not in vocab  # seen once only: outside the dictionary
    X = data.bag_of_words([f"{word(0)} {word(1)} {word(n_words + 4)} unseen"], vocab)
    assert X.shape == (1, claims.get("10.4/bag-of-words").extra["columns"])
    assert X[0, 2] == 1 and X.sum() == 4  # start + two known words + unknown (once)


@pytest.mark.claim("10.4/bag-of-words")
@given(docs=st.lists(WORDS, min_size=1, max_size=6), num_words=st.integers(1, 8))
def test_bag_of_words_property(docs, num_words):
    vocab = data.build_vocab(docs, num_words)
    X = data.bag_of_words(docs, vocab).toarray()
    assert set(np.unique(X)) <= {0.0, 1.0}
    for i, doc in enumerate(docs):
        ids = set(data.encode(doc, vocab))
        assert set(np.flatnonzero(X[i])) == ids
        assert (X[i, 2] == 1) == any(w not in vocab for w in doc)
    assert X[:, 0].sum() == 0 and X[:, 1].sum() == len(docs)


@pytest.mark.data
@pytest.mark.claim("10.4/bag-of-words")
def test_bag_of_words(imdb):
    n_words = claims.book_value("10.4/bag-of-words")
    cols = claims.get("10.4/bag-of-words").extra["columns"]
    for X, y in ((imdb.X_train, imdb.y_train), (imdb.X_test, imdb.y_test)):
        assert isinstance(X, sp.csr_matrix) and X.shape == (25_000, cols) and X.dtype == np.float32
        assert np.all(X.data == 1.0)
        col = np.asarray(X.sum(axis=0)).ravel()
        assert col[0] == 0 and col[1] == 25_000  # never padding; every review has its start token
        assert 0 < col[2] < 25_000  # some reviews have out-of-dictionary words
        np.testing.assert_array_equal(y, np.repeat([0, 1], 12_500))  # neg then pos
    assert len(imdb.vocab) == n_words and sorted(imdb.vocab.values()) == list(range(3, n_words + 3))
    assert [imdb.lookup[i] for i in range(3)] == ["<PAD>", "<START>", "<UNK>"]
    assert all(imdb.lookup[i] == w for w, i in imdb.vocab.items())
    assert imdb.lookup[3] == "the"  # the most frequent word of the training reviews
    # dictionary from training reviews only: every training column 3.. occurs in training
    assert np.all(np.asarray(imdb.X_train[:, 3:].sum(axis=0)).ravel() > 0)
    np.testing.assert_array_equal(
        np.bincount(imdb.rating_train, minlength=11)[[1, 2, 3, 4, 7, 8, 9, 10]],
        [5100, 2284, 2420, 2696, 2496, 3009, 2263, 4732],
    )


# ----------------------------------------------------------------------------- 10.4/sparsity
@pytest.mark.data
@pytest.mark.claim("10.4/sparsity")
def test_sparsity(imdb):
    book = claims.book_value("10.4/sparsity")
    for X in (imdb.X_train, imdb.X_test):
        zero_fraction = 1.0 - X.nnz / (X.shape[0] * X.shape[1])
        assert zero_fraction > book, f"zero fraction {zero_fraction:.5f}"
        csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
        dense_bytes = X.shape[0] * X.shape[1] * np.dtype(np.float32).itemsize  # not materialised
        assert csr_bytes * 20 < dense_bytes, (csr_bytes, dense_bytes)
    spread = claims.get("10.4/sparsity").spread
    assert 1 - imdb.X_train.nnz / (25_000 * 10_003) == pytest.approx(spread["train_zero_fraction"], abs=5e-5)


@pytest.mark.data
@pytest.mark.claim("10.4/sparsity")
def test_sparsity_torch_sparse(imdb):
    """The torch sparse forms hold the same matrix (checked on a slice that is cheap to densify)."""
    block = imdb.X_test[:64]
    dense = data.to_dense_tensor(block)
    assert dense.shape == (64, 10_003) and dense.dtype == torch.float32
    for layout in ("csr", "coo"):
        t = data.sparse_to_torch(block, layout)
        assert torch.equal(t.to_dense(), dense)
    full = data.sparse_to_torch(imdb.X_train)
    assert full.layout == torch.sparse_csr and full.values().numel() == imdb.X_train.nnz


# ----------------------------------------------------------------------------- 10.4/ngrams
@pytest.mark.claim("10.4/ngrams")
def test_ngrams():
    n = claims.get("10.4/ngrams").extra["n"]
    toks = data.tokenize("The movie was not good")
    assert data.ngrams(toks, n) == ["the movie", "movie was", "was not", "not good"]
    assert data.ngrams(toks, 1) == toks
    assert data.ngrams(["one"], 2) == []
    with pytest.raises(ValueError):
        data.ngrams(toks, 0)


@pytest.mark.claim("10.4/ngrams")
def test_ngrams_bag():
    """Unigrams cannot tell 'not good, bad' from 'good, not bad'; adjacent pairs can."""
    docs = ["this was not good it was bad", "this was good it was not bad"]
    uni, _ = data.bag_of_ngrams(docs, n=1)
    assert (uni[0] != uni[1]).nnz == 0
    X, vocab = data.bag_of_ngrams(docs, n=claims.get("10.4/ngrams").extra["n"])
    assert {"not good", "not bad", "was not", "was good"} <= set(vocab)
    assert (X[0] != X[1]).nnz > 0
    assert X[0, vocab["not good"]] == 1 and X[1, vocab["not good"]] == 0
    assert set(np.unique(X.toarray())) <= {0.0, 1.0}
    capped, vcap = data.bag_of_ngrams(docs, n=2, max_features=3)
    assert capped.shape == (2, 3) and len(vcap) == 3


# ----------------------------------------------------------------------------- 10.5/padding
@pytest.mark.claim("10.5/padding")
def test_padding_toy():
    vocab = {"a": 3, "b": 4}
    S = data.sequences(["a b", "a b a b a b", "zz"], vocab, maxlen=4)
    assert S.dtype == np.int64 and S.shape == (3, 4)
    np.testing.assert_array_equal(
        S,
        [
            [0, 1, 3, 4],  # short: zeros in front of start token
            [3, 4, 3, 4],  # long: the last 4 ids (start token dropped)
            [0, 0, 1, 2],
        ],
    )  # unknown word -> 2
    L = claims.book_value("10.5/padding")
    assert data.sequences(["a"], vocab, maxlen=L).shape == (1, L)


@pytest.mark.claim("10.5/padding")
@given(doc=WORDS, maxlen=st.integers(1, 40))
def test_padding_property(doc, maxlen):
    vocab = data.build_vocab([doc, ["good", "movie"]], 5)
    full = data.encode(doc, vocab)
    (row,) = data.sequences([doc], vocab, maxlen)
    keep = full[-maxlen:]
    np.testing.assert_array_equal(row[maxlen - len(keep) :], keep)
    assert np.all(row[: maxlen - len(keep)] == 0)


@pytest.mark.data
@pytest.mark.claim("10.5/padding")
def test_padding(imdb):
    L = claims.book_value("10.5/padding")
    for S, X in ((imdb.S_train, imdb.X_train), (imdb.S_test, imdb.X_test)):
        assert S.shape == (25_000, L) and S.dtype == np.int64
        assert S.min() == 0 and S.max() == 10_002
        nz = S != 0
        first = np.argmax(nz, axis=1)
        # zeros only in front: after the first id every entry is an id
        assert np.all(nz.sum(axis=1) == L - first)
        short = first > 0
        assert 0 < short.sum() < 25_000
        assert np.all(S[short, first[short]] == 1)  # padded reviews start with <START>
        long_rows = ~short
        assert np.all(S[long_rows, 0] != 0)  # truncated reviews: last 500 ids, no padding
        # the ids of a sequence are ids of the review's bag of words
        for i in range(0, 25_000, 2_500):
            ids = np.unique(S[i][S[i] > 0])
            assert set(ids) <= set(X[i].indices)
    # the lab's peek at a review: the first 12 ids of the first training review decode to words
    padded = imdb.S_train[0]
    sample = padded[padded > 0][:12]
    words = [imdb.lookup[i] for i in sample]
    assert len(words) == 12 and all(isinstance(w, str) and w for w in words)


@pytest.mark.data
def test_imdb_cached_load_is_fast(imdb):
    """After the session fixture built (or found) the cache, a load reads it in a second or two."""
    from islp_ch10.data import imdb as imdb_mod

    t0 = time.perf_counter()
    again = data.load_imdb()
    elapsed = time.perf_counter() - t0
    assert imdb_mod.last_cache_status == "hit"
    assert elapsed < 15, f"cached IMDB load took {elapsed:.1f}s"
    assert (again.X_train != imdb.X_train).nnz == 0 and np.array_equal(again.S_test, imdb.S_test)


# ----------------------------------------------------------------------------- the encoders' edges
def test_an_empty_vocabulary_still_has_the_three_reserved_columns():
    """With no dictionary words every token is unknown: columns pad, start and unknown only."""
    X = data.bag_of_words(["any words at all", ""], {})
    assert X.shape == (2, 3)
    np.testing.assert_array_equal(X.toarray(), [[0, 1, 1], [0, 1, 0]])


def test_sequences_of_length_zero_are_empty_rows():
    S = data.sequences(["a b", "a"], {"a": 3, "b": 4}, maxlen=0)
    assert S.shape == (2, 0) and S.dtype == np.int64


# ----------------------------------------------------------------------------- defaults and ranking
def test_bag_of_ngrams_defaults_to_words_and_adjacent_pairs():
    """Without ``n`` the bag holds the words and the adjacent pairs (the book's bigrams), no longer grams."""
    _, vocab = data.bag_of_ngrams(["not a good movie"])
    assert set(vocab) == {"not", "a", "good", "movie", "not a", "a good", "good movie"}


def test_bag_of_ngrams_ranks_by_frequency_then_alphabetically():
    """The built vocabulary's columns go by decreasing count, ties alphabetical (not by first
    appearance), and ``max_features`` keeps the top of that order."""
    X, vocab = data.bag_of_ngrams(["zz zz b", "a"], n=1)
    assert vocab == {"zz": 0, "a": 1, "b": 2}
    np.testing.assert_array_equal(X.toarray(), [[1, 0, 1], [0, 1, 0]])
    _, top = data.bag_of_ngrams(["zz zz b", "a"], n=1, max_features=2)
    assert top == {"zz": 0, "a": 1}


def test_build_vocab_keeps_the_books_10000_words_by_default():
    n_words = claims.book_value("10.4/bag-of-words")
    assert len(data.build_vocab([" ".join(word(i) for i in range(n_words + 1))])) == n_words


def test_build_defaults_are_the_books_and_its_settings_are_recorded():
    """``build`` encodes with the book's 10,000 words and 500 ids unless told otherwise, and the
    result records the settings it was built with."""
    from islp_ch10.data.imdb import IMDBReviews, build

    reviews = {
        s: IMDBReviews(["a good movie", "a bad one"], np.array([1, 0]), np.array([9, 2]), np.array([0, 1]))
        for s in ("train", "test")
    }
    n_words, L = claims.book_value("10.4/bag-of-words"), claims.book_value("10.5/padding")
    d = build(reviews)
    assert (d.num_words, d.maxlen) == (n_words, L)
    assert d.S_train.shape == (2, L) and d.X_test.shape == (2, n_words + 3)
    small = build(reviews, num_words=2, maxlen=3)
    assert (small.num_words, small.maxlen) == (2, 3)
    assert small.S_test.shape == (2, 3) and small.X_train.shape == (2, 5)


def test_ngrams_default_to_pairs_and_refuse_n_below_one():
    toks = ["not", "a", "good", "movie"]
    assert data.ngrams(toks) == ["not a", "a good", "good movie"]
    with pytest.raises(ValueError, match=r"^n must be >= 1, got 0$"):
        data.ngrams(toks, 0)


def test_sequences_default_to_the_books_500_ids():
    assert data.sequences(["a"], {"a": 3}).shape == (1, claims.book_value("10.5/padding"))


# ----------------------------------------------------------------------------- torch forms
def test_torch_forms_are_float32_quietly_in_both_layouts():
    """The sparse forms hold the matrix as float32 values with int64 indices, without torch's beta
    and invariant-check warnings; the dense form is float32 whatever the input's dtype; an unknown
    layout is refused with one line."""
    import warnings

    X = sp.csr_matrix(np.array([[0, 1, 0], [2, 0, 3]], dtype=np.float64))
    dense = data.to_dense_tensor(X)
    assert dense.dtype == torch.float32 and dense.tolist() == [[0, 1, 0], [2, 0, 3]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        csr, coo = data.sparse_to_torch(X), data.sparse_to_torch(X, "coo")
    assert [str(w.message) for w in caught] == []
    assert csr.layout == torch.sparse_csr and coo.layout == torch.sparse_coo
    assert csr.values().dtype == coo.values().dtype == torch.float32
    assert csr.col_indices().dtype == coo.indices().dtype == torch.int64
    assert torch.equal(csr.to_dense(), dense) and torch.equal(coo.to_dense(), dense)
    with pytest.raises(ValueError, match=r"^layout must be 'csr' or 'coo', got 'csc'$"):
        data.sparse_to_torch(X, "csc")
