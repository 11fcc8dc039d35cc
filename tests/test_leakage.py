"""Direct leakage checks: nothing from the test split reaches a fit, except where the lab puts it.

A leak makes a model better than the lab's configuration can be, which a floor never catches;
the two-sided bands (``tests/test_spreads.py``) catch its effect on a figure, these checks its
cause.  Each check is a function returning its problems, passed by the project's code and failing
a leaking variant:

- IMDB: the vocabulary comes from the training reviews only, so a word that occurs only in test
  reviews is the unknown-word index (2) there (variant: the vocabulary built from both splits);
- validation rows are drawn from the training rows only, disjoint from the rows trained on, on
  the fast path and on ISLP's path (variants: validation from the test rows; validation rows also
  trained on); where the lab validates on the test set itself (``validation="test"``: Hitters,
  NYSE) that is the lab's choice and the rows trained on still exclude it;
- scalers: the Hitters lasso's scalers see training rows only (variant: a split whose training
  rows include the test rows), NYSE's series are standardised over all 6,051 days as the lab does
  (variant: a scaler fitted on the training days only).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from islp_ch10 import training
from islp_ch10.data import imdb
from islp_ch10.training import TrainConfig

# ----------------------------------------------------------------------------- IMDB vocabulary
TRAIN_TEXTS = ["a good film", "a bad film", "good acting good plot", "bad plot"]
TEST_TEXTS = ["a good zebraword film", "zebraword zebraword bad"]  # 'zebraword' only in test reviews


def _reviews(texts):
    n = len(texts)
    return imdb.IMDBReviews(
        texts=list(texts), labels=np.arange(n) % 2, ratings=np.full(n, 5), ids=np.arange(n, dtype=np.int64)
    )


REVIEWS = {"train": _reviews(TRAIN_TEXTS), "test": _reviews(TEST_TEXTS)}


def build_vocab_from_both_splits(reviews, num_words=20, maxlen=8):
    """Leaking variant: the vocabulary counts the test reviews too."""
    toks = {s: [imdb.tokenize(t) for t in reviews[s].texts] for s in imdb.SPLITS}
    vocab = imdb.build_vocab(toks["train"] + toks["test"], num_words)
    enc = [imdb.encode(t, vocab) for t in toks["test"]]
    return SimpleNamespace(vocab=vocab, S_test=imdb._pad(enc, maxlen))


def unknown_word_problems(build) -> list[str]:
    data = build(REVIEWS, num_words=20, maxlen=8)
    problems = []
    if "zebraword" in data.vocab:
        problems.append(f"a test-only word has vocabulary index {data.vocab['zebraword']}")
    # second test review: start, zebraword, zebraword, bad -> [.., 1, 2, 2, id(bad)]
    seq = [int(i) for i in data.S_test[1] if i != imdb.PAD]
    if seq[:3] != [imdb.START, imdb.UNK, imdb.UNK]:
        problems.append(f"'zebraword zebraword bad' encodes as {seq}, the test-only word is not UNK ({imdb.UNK})")
    if seq[-1] != data.vocab.get("bad"):
        problems.append("a training word lost its index in a test review")
    return problems


@pytest.mark.fast
def test_words_only_in_test_reviews_map_to_the_unknown_index():
    assert unknown_word_problems(imdb.build) == []


@pytest.mark.fast
def test_unknown_word_check_rejects_a_vocabulary_built_on_both_splits():
    assert unknown_word_problems(build_vocab_from_both_splits)


# ----------------------------------------------------------------------------- validation rows
N_TRAIN, N_TEST = 100, 40
X_TRAIN = torch.arange(1, N_TRAIN + 1, dtype=torch.float32).reshape(-1, 1)  # rows 1..100
X_TEST = -torch.arange(1, N_TEST + 1, dtype=torch.float32).reshape(-1, 1)  # rows -1..-40
Y_TRAIN, Y_TEST = torch.zeros(N_TRAIN), torch.zeros(N_TEST)


def _config(validation):
    return TrainConfig(task="regression", epochs=1, batch_size=10, validation=validation, seed=3)


def fast_path_rows(validation):
    """``(rows trained on, validation rows)`` of the fast path's module."""
    config = _config(validation)
    m = training._fast_module(nn.Linear(1, 1), config, config.settings(), X_TRAIN, Y_TRAIN, X_TEST, Y_TEST)
    return m.train_set.x[:, 0].tolist(), (m.valid_set.x[:, 0].tolist() if m.valid_set else [])


def islp_path_rows(validation):
    """``(rows trained on, validation rows)`` of ISLP's SimpleDataModule as the project builds it."""
    config = _config(validation)
    _, dm = training._islp_objects(nn.Linear(1, 1), config, config.settings("islp"), X_TRAIN, Y_TRAIN, X_TEST, Y_TEST)
    rows = lambda ds: [float(ds[i][0][0]) for i in range(len(ds))]  # noqa: E731
    return rows(dm.train_dataset), rows(dm.validation_dataset)


def validation_from_test_rows(validation):
    """Leaking variant: the held-out rows are taken from the test set."""
    n = int(validation * N_TRAIN) if isinstance(validation, float) else int(validation)
    return X_TRAIN[:, 0].tolist(), X_TEST[:n, 0].tolist()


def validation_also_trained_on(validation):
    """Leaking variant: the validation rows are drawn from the training rows but not removed from them."""
    _, valid = fast_path_rows(validation)
    return X_TRAIN[:, 0].tolist(), valid


def validation_problems(rows_of) -> list[str]:
    problems = []
    for validation, size in ((0.2, 20), (15, 15)):
        train, valid = rows_of(validation)
        if len(valid) != size:
            problems.append(f"validation={validation}: {len(valid)} rows held out, not {size}")
        if any(v < 0 for v in valid):
            problems.append(f"validation={validation}: test rows among the validation rows")
        if set(train) & set(valid):
            problems.append(f"validation={validation}: {len(set(train) & set(valid))} validation rows also trained on")
        if any(v < 0 for v in train) or set(train) | set(valid) != set(X_TRAIN[:, 0].tolist()):
            problems.append(f"validation={validation}: training + validation rows are not the training set")
    return problems


@pytest.mark.fast
@pytest.mark.parametrize("path", [fast_path_rows, islp_path_rows], ids=["fast", "islp"])
def test_validation_rows_come_from_the_training_rows_only(path):
    assert validation_problems(path) == []


@pytest.mark.fast
@pytest.mark.parametrize("leak", [validation_from_test_rows, validation_also_trained_on])
def test_validation_check_rejects_leaking_splits(leak):
    assert validation_problems(leak)


@pytest.mark.fast
def test_validating_on_the_test_set_is_only_what_the_lab_asks():
    """``validation="test"`` (the lab's Hitters and NYSE fits) scores the test rows and trains on
    every training row, and no test row."""
    train, valid = fast_path_rows("test")
    assert sorted(train) == X_TRAIN[:, 0].tolist() and sorted(valid) == sorted(X_TEST[:, 0].tolist())


# ----------------------------------------------------------------------------- scalers
class ScalerSpy:
    """Records the rows every StandardScaler is fitted on."""

    def __init__(self, monkeypatch):
        from sklearn.preprocessing import StandardScaler

        self.fitted: list[np.ndarray] = []
        real_fit = StandardScaler.fit
        spy = self

        def fit(self, X, y=None, sample_weight=None):
            spy.fitted.append(np.asarray(X))
            return real_fit(self, X, y, sample_weight)

        monkeypatch.setattr(StandardScaler, "fit", fit)


def rows_of_the_test_set_in_scaler_fits(fitted: list[np.ndarray], X_test: np.ndarray) -> list[str]:
    test_rows = {tuple(r) for r in np.round(X_test, 9)}
    return [
        f"scaler fit {i}: {n} test row(s) among its {len(X)} rows"
        for i, X in enumerate(fitted)
        if (n := sum(tuple(r) in test_rows for r in np.round(X, 9)))
    ]


def hitters_scaler_problems(monkeypatch, load_hitters) -> list[str]:
    """Run the lab's least-squares + CV lasso with ``load_hitters`` and a spy on every scaler fit."""
    from islp_ch10 import data, experiments
    from islp_ch10.lab_defaults import RunSettings

    spy = ScalerSpy(monkeypatch)
    monkeypatch.setattr(data, "load_hitters", load_hitters)
    experiments.hitters_linear(RunSettings())
    true_test = data.tabular.load_hitters().X_test
    if not spy.fitted:
        return ["no scaler was fitted: the lasso is not standardised as the lab does"]
    return rows_of_the_test_set_in_scaler_fits(spy.fitted, true_test)


@pytest.mark.data
def test_hitters_scalers_see_training_rows_only(monkeypatch):
    """The lasso's scalers (lambda_max's and each CV fold's pipeline) are fitted on training rows."""
    from islp_ch10.data import tabular

    assert hitters_scaler_problems(monkeypatch, tabular.load_hitters) == []


@pytest.mark.data
def test_hitters_scaler_check_rejects_test_rows_in_training(monkeypatch):
    """Leaking variant: a split whose training rows include the test rows."""
    from islp_ch10.data import tabular

    def leaky():
        d = tabular.load_hitters()
        d.X_train, d.Y_train = np.vstack([d.X_train, d.X_test]), np.concatenate([d.Y_train, d.Y_test])
        return d

    assert hitters_scaler_problems(monkeypatch, leaky)


def nyse_scaling_problems(features) -> list[str]:
    """NYSE series standardised over all days, as the lab's ``StandardScaler`` on the whole frame."""
    from islp_ch10.data import tabular

    d = features(tabular.load_nyse_frame())
    series = d.series.to_numpy()
    problems = []
    if not np.allclose(series.mean(axis=0), 0, atol=1e-12):
        problems.append(f"series means over all days {series.mean(axis=0)}, not 0")
    if not np.allclose(series.std(axis=0), 1, atol=1e-12):
        problems.append(f"series population sd over all days {series.std(axis=0)}, not 1")
    return problems


def nyse_scaled_on_training_days(df, lags=5):
    """Variant: the scaler fitted on the training days only, then applied to every day."""
    from sklearn.preprocessing import StandardScaler

    from islp_ch10.data import tabular

    cols = list(tabular.SERIES)
    scaler = StandardScaler().fit(df.loc[df["train"].astype(bool), cols])
    out = df.copy()
    out[cols] = scaler.transform(df[cols])
    d = tabular.nyse_features(out, lags)
    d.series = out[cols]
    return d


@pytest.mark.data
def test_nyse_is_standardised_where_the_lab_standardises_it():
    from islp_ch10.data import tabular

    assert nyse_scaling_problems(tabular.nyse_features) == []


@pytest.mark.data
def test_nyse_scaling_check_rejects_a_scaler_fitted_elsewhere():
    assert nyse_scaling_problems(nyse_scaled_on_training_days)
