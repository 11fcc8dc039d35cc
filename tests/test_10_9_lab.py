"""10.9 Lab: parameter counts, the ISLP workflow, determinism, Hitters and MNIST figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchinfo import summary

from islp_ch10 import claims, models
from islp_ch10.solvers import lambda_max
from islp_ch10.training import TrainConfig, evaluate, fit


def _linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# ----------------------------------------------------------------------------- parameter counts
@pytest.mark.claim("10.9/hitters-params")
def test_hitters_params():
    """50*19+50 in the hidden layer, 50+1 in the output: the book's 1,051, and torchinfo agrees."""
    model = models.HittersNet(19)
    assert _linear(19, 50) + _linear(50, 1) == claims.book_value("10.9/hitters-params")
    assert models.count_parameters(model) == claims.book_value("10.9/hitters-params")
    assert summary(model, input_size=(175, 19), verbose=0).total_params == claims.book_value("10.9/hitters-params")


@pytest.mark.claim("10.9/imdb-params")
def test_imdb_params():
    """Counts from the layer sizes: dense 10,003-16-16-1; LSTM = embedding + 4 gates + one logit."""
    vocab, emb, hidden = 10_003, 32, 32
    dense = _linear(vocab, 16) + _linear(16, 16) + _linear(16, 1)
    lstm_gates = 4 * (emb * hidden + hidden * hidden + 2 * hidden)  # torch keeps two bias vectors
    lstm = vocab * emb + lstm_gates + _linear(hidden, 1)
    assert models.count_parameters(models.IMDBDense()) == dense == 160_353
    assert models.count_parameters(models.IMDBLSTM()) == lstm == 328_577
    assert summary(models.IMDBLSTM(), input_data=torch.zeros(2, 500, dtype=torch.long), verbose=0).total_params == lstm


@pytest.mark.claim("10.9/nyse-params")
def test_nyse_params():
    """RNN 3->12: W (12x3), U (12x12) and torch's two bias vectors; Linear 12->1; nonlinear AR 20-32-1."""
    rnn = 12 * 3 + 12 * 12 + 2 * 12 + _linear(12, 1)
    nlar = _linear(20, 32) + _linear(32, 1)
    assert models.count_parameters(models.NYSERNN()) == rnn == 217
    assert models.count_parameters(models.NonlinearAR()) == nlar == 705


# ----------------------------------------------------------------------------- the ISLP workflow
def _synthetic_classification(n=600, p=20, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p, generator=g)
    w = torch.randn(p, classes, generator=g)
    y = torch.argmax(x @ w + 0.5 * torch.randn(n, classes, generator=g), dim=1)
    return (x[: n * 2 // 3], y[: n * 2 // 3]), (x[n * 2 // 3 :], y[n * 2 // 3 :])


def _small_net():
    return torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(16, 3))


@pytest.mark.claim("10.9/error-tracker")
def test_error_tracker(tmp_path):
    """The book's test figures (ErrorTracker + trainer.test) equal the whole test set evaluated by hand."""
    train, test = _synthetic_classification()
    cfg = TrainConfig(task="multiclass", num_classes=3, epochs=2, batch_size=32, validation=0.2, log_dir=str(tmp_path))
    result = fit(_small_net, train, test, cfg, path="islp")
    by_hand = evaluate(result.model, *test, task="multiclass", num_classes=3)
    logged = result.extra["islp_test"]
    assert logged["test_accuracy"] == pytest.approx(by_hand["accuracy"], abs=1e-7)
    assert logged["test_loss"] == pytest.approx(by_hand["loss"], rel=1e-6)
    correct = (result.model.eval()(test[0]).argmax(1) == test[1]).float().mean().item()
    assert by_hand["accuracy"] == pytest.approx(correct, abs=1e-7)


@pytest.mark.claim("10.9/determinism")
def test_determinism(tmp_path):
    """seed_everything(0) + deterministic algorithms: two fits give bit-identical weights and curves."""
    train, test = _synthetic_classification()
    runs = []
    for i in range(2):
        cfg = TrainConfig(
            task="multiclass", num_classes=3, epochs=3, batch_size=32, validation=0.2, log_dir=str(tmp_path / f"run{i}")
        )
        runs.append(fit(_small_net, train, test, cfg))
    a, b = (r.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert runs[0].history == runs[1].history
    assert runs[0].test == runs[1].test


def test_different_seeds_give_different_fits(tmp_path):
    """The determinism test could fail: a different seed does change the weights."""
    train, test = _synthetic_classification()
    states = [
        fit(
            _small_net,
            train,
            test,
            TrainConfig(task="multiclass", num_classes=3, epochs=1, seed=s, log_dir=str(tmp_path / str(s))),
        ).model.state_dict()
        for s in (0, 1)
    ]
    assert not torch.equal(states[0]["0.weight"], states[1]["0.weight"])


def test_fast_path_matches_book_path(tmp_path):
    """The in-memory path draws the same minibatches as ISLP's SimpleDataModule: identical weights."""
    train, test = _synthetic_classification()
    results = {
        path: fit(
            _small_net,
            train,
            test,
            TrainConfig(
                task="multiclass", num_classes=3, epochs=2, batch_size=32, validation=0.2, log_dir=str(tmp_path / path)
            ),
            path=path,
        )
        for path in ("fast", "islp")
    }
    a, b = results["fast"].model.state_dict(), results["islp"].model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert results["fast"].test == results["islp"].test


def test_fit_rejects_mismatched_lengths():
    x, y = torch.zeros(10, 20), torch.zeros(9, dtype=torch.long)
    with pytest.raises(ValueError, match="disagree in length"):
        fit(_small_net, (x, y), (x, y[:10]), TrainConfig(task="multiclass", num_classes=3, epochs=1))


# ----------------------------------------------------------------------------- Hitters
@pytest.mark.data
@pytest.mark.claim("10.9/hitters-lambda-max")
def test_hitters_lambda_max(hitters):
    """At alpha = lam_max the lasso (on standardised predictors) is all zeros; just below, one is not."""
    from sklearn.linear_model import Lasso
    from sklearn.preprocessing import StandardScaler

    Xs = StandardScaler().fit_transform(hitters.X_train)
    lam_max = lambda_max(Xs, hitters.Y_train)
    at = Lasso(alpha=lam_max, max_iter=100_000, tol=1e-10).fit(Xs, hitters.Y_train)
    below = Lasso(alpha=0.99 * lam_max, max_iter=100_000, tol=1e-10).fit(Xs, hitters.Y_train)

    # "zero" up to the solver's rounding: scikit-learn 1.4's coordinate descent leaves 1e-13 at lam_max
    def active(coef):
        return int(np.sum(np.abs(coef) > 1e-8))

    assert active(at.coef_) == 0
    assert active(below.coef_) == 1 and np.abs(below.coef_).max() > 1e-3


# ----------------------------------------------------------------------------- every model family
FAMILY_TASKS = {  # model -> (task, classes): one per family the lab trains through ISLP.torch
    "HittersNet": ("regression", None),
    "MNISTMLP": ("multiclass", 10),
    "CIFARCNN": ("multiclass", 100),
    "IMDBDense": ("binary", None),
    "IMDBLSTM": ("binary", None),
    "NYSERNN": ("regression", None),
}


@pytest.mark.parametrize("name", list(FAMILY_TASKS))
def test_book_path_runs_for_every_model_family(name, tmp_path):
    """The lab's ISLP.torch objects train each family on today's torch/Lightning, and the fast
    path lands on the very same weights (one epoch of 96 synthetic examples, batch 32)."""
    from islp_ch10.models import MODELS

    spec, (task, classes) = MODELS[name], FAMILY_TASKS[name]
    g = torch.Generator().manual_seed(1)
    x, x_test = spec.example_input(96, generator=g), spec.example_input(32, generator=g)
    if task == "multiclass":
        y, y_test = torch.randint(0, classes, (96,), generator=g), torch.randint(0, classes, (32,), generator=g)
    else:
        y, y_test = torch.randint(0, 2, (96,), generator=g).float(), torch.randint(0, 2, (32,), generator=g).float()
    cfg = dict(task=task, num_classes=classes, epochs=1, batch_size=32, validation=0.25, lr=1e-3)
    book = fit(spec.factory, (x, y), (x_test, y_test), TrainConfig(**cfg, log_dir=str(tmp_path / "islp")), path="islp")
    fast = fit(spec.factory, (x, y), (x_test, y_test), TrainConfig(**cfg, log_dir=str(tmp_path / "fast")), path="fast")
    a, b = book.model.state_dict(), fast.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), f"{name}: the two paths disagree"
    torch.manual_seed(0)
    fresh = spec.build().state_dict()
    assert any(not torch.equal(a[k], fresh[k]) for k in a), f"{name}: weights did not move"
    assert set(book.extra["islp_test"]) >= {"test_loss"}
