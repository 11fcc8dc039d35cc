"""Every empirical figure of the chapter, measured by its registered experiment and judged against
the catalogue.

One test per ``(experiment, claim, part)`` that :data:`islp_ch10.experiments.EXPERIMENTS`
declares (``@experiment(..., claims=...)``), so a new experiment is judged by declaring it.  Its
tier follows the declaration: ``data`` where the experiment reads a data set (skipped with the
loader's instructions where it is absent), ``slow`` where it is declared slow (every network
trained in the lab's configuration, the IMDB lasso path, and the simulated double descent,
whose claims the fast tier judges on the same functions in ``tests/test_10_8_double_descent.py``).
The tests after it add what one threshold cannot say: figures compared across parts, and checks
of a figure by a second route.  Each experiment runs once per process (``run_or_skip`` caches it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from islp_ch10 import claims, experiments
from islp_ch10.solvers import l1_path_problems
from islp_ch10.testing.empirical import assert_meets_claim, pick, run_or_skip
from islp_ch10.testing.fakes import load_tool
from islp_ch10.training import RunSettings


def _tier(entry: experiments.Experiment) -> list:
    marks = [pytest.mark.data] if entry.data else []
    if entry.slow:
        marks.append(pytest.mark.slow)
    return marks


def _declared():
    for name, entry in experiments.EXPERIMENTS.items():
        for claim, part in entry.measures():
            yield pytest.param(
                name,
                claim,
                part,
                marks=[*_tier(entry), pytest.mark.claim(claim)],
                id=claim + (f"-{part}" if part else ""),
            )


def _parts(claim: str) -> list[str | None]:
    """The parts of ``claim`` the registered experiments measure."""
    return [p for e in experiments.EXPERIMENTS.values() for c, p in e.measures() if c == claim]


def measured(claim: str, part: str | None = None, settings: RunSettings | None = None):
    """The measurement of ``claim`` (``part``) by the experiment the registry says measures it."""
    return pick(run_or_skip(experiments.measuring(claim, part), settings), claim, part)


@pytest.mark.parametrize(("name", "claim", "part"), list(_declared()))
def test_measurement_meets_its_claim(name, claim, part):
    """The experiment's figure for the claim (seed 0, the lab's configuration) meets its threshold."""
    assert_meets_claim(pick(run_or_skip(name), claim, part))


# ----------------------------------------------------------------------------- beyond one threshold
@pytest.mark.data
@pytest.mark.claim("10.9/hitters-mae")
def test_hitters_linear_figures_are_exact():
    """Least squares (259.7153) and the lab's cross-validated lasso (235.68) are deterministic given
    the data: each is judged as the book's figure within the rounding of its printed digits."""
    for part in ("least-squares", "lasso"):
        assert claims.get("10.9/hitters-mae").criterion(part)[2] == "=="
        assert_meets_claim(measured("10.9/hitters-mae", part))


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.4/imdb-lasso")
def test_imdb_lasso_choice_and_sparsity():
    """The lambda chosen on held-out reviews is within 1 point of the path's best test accuracy,
    and the path is an L1 path: a few words at the largest penalty, more as it falls."""
    m = measured("10.4/imdb-lasso")
    assert m.raw["test_at_chosen"] >= m.value - 0.01
    assert not l1_path_problems(m.details["nonzero"], m.details["n_features"])


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.5/imdb-rnn")
def test_simple_rnn_trails_the_lstm():
    """The lab's configuration (20 epochs each; about 15 minutes together on 2 CPU cores): each
    model meets its threshold (above), and the simple RNN trails the LSTM."""
    lstm, rnn = measured("10.5/imdb-rnn", "lstm"), measured("10.5/imdb-rnn", "rnn")
    assert rnn.value < lstm.value, f"simple RNN {rnn.value:.4f} should trail the LSTM {lstm.value:.4f}"


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.gpu
@pytest.mark.claim("10.5/imdb-rnn")
@pytest.mark.parametrize("part", _parts("10.5/imdb-rnn"))
def test_imdb_rnn_book_epochs_on_gpu(part):
    """The same figures with the training on a GPU (about 2 minutes per model on an H100)."""
    assert_meets_claim(measured("10.5/imdb-rnn", part, RunSettings(accelerator="gpu")))


@pytest.mark.data
@pytest.mark.claim("10.5/day-of-week")
def test_day_of_week_raises_the_ar_r2():
    """Day-of-week indicators raise the least-squares AR R^2 (the lab: about 0.46)."""
    assert measured("10.5/day-of-week").value > measured("10.5/ar-vs-rnn", "ar").value


@pytest.mark.data
@pytest.mark.claim("10.5/flatten")
def test_flatten_nyse(nyse):
    """On the NYSE lags, the Flatten-Linear network fitted to convergence has least squares' R^2,
    here computed apart from the experiment (numpy lstsq with an intercept column)."""
    m = measured("10.5/flatten", "network")
    X, y, tr = np.asarray(nyse.X_lag, float), np.asarray(nyse.Y, float), np.asarray(nyse.train)
    design = np.column_stack([np.ones(len(y)), X])
    beta = np.linalg.lstsq(design[tr], y[tr], rcond=None)[0]
    resid = y[~tr] - design[~tr] @ beta
    r2 = 1 - resid @ resid / np.sum((y[~tr] - y[~tr].mean()) ** 2)
    assert abs(m.raw["network_r2"] - r2) <= 1e-6


# ----------------------------------------------------------------------------- the declarations
def test_every_empirical_claim_is_declared_by_an_experiment():
    """Each declared claim is in the catalogue, each declared part is one of its parts, and every
    catalogue claim judged on a training run or simulation (``judged``) has an experiment."""
    declared = {(c, p) for e in experiments.EXPERIMENTS.values() for c, p in e.measures()}
    catalogue = claims.catalogue()
    unknown = [
        (c, p)
        for c, p in declared
        if c not in catalogue or (p is not None and catalogue[c].parts and p not in catalogue[c].parts)
    ]
    assert not unknown, f"declared but not in the catalogue: {unknown}"
    judged = {cid for cid, c in catalogue.items() if c.judged}
    assert judged <= {c for c, _ in declared}, (
        f"judged claims no experiment declares: {judged - {c for c, _ in declared}}"
    )


def test_every_experiment_says_what_its_seed_means():
    for name, entry in experiments.EXPERIMENTS.items():
        assert entry.seed_meaning and entry.claims, name
        assert entry.name == name


def test_run_refuses_an_undeclared_measurement(monkeypatch):
    """Broken variant: an experiment that measures a claim it does not declare is refused, so the
    declarations the tests, the report and sweeps read cannot drift from what runs."""

    def stray(settings):
        return [experiments.Measurement("10.9/mnist-mlp", "accuracy", 0.9, run=settings)]

    entry = experiments.Experiment(stray, claims={"10.9/mnist-mlr": (None,)}, seed_meaning="-", name="stray")
    monkeypatch.setattr(experiments, "EXPERIMENTS", {**experiments.EXPERIMENTS, "stray": entry})
    with pytest.raises(RuntimeError, match=r"undeclared .*10\.9/mnist-mlp"):
        experiments.run("stray", RunSettings())


def test_a_name_cannot_be_declared_twice():
    with pytest.raises(ValueError, match="declared twice"):
        experiments.experiment("mnist-mlp", claims={"10.9/mnist-mlp": None}, seed_meaning="-")


def _tool(name: str):
    return load_tool(Path(__file__).resolve().parent.parent / "tools" / f"{name}.py")


def test_measurement_import_takes_claim_and_configuration_from_the_registry(tmp_path):
    """tools/import_measurements.py: each model's runs land in its experiment's artifact with the
    claim, part, metric and epochs its declaration and LabConfig state; a run at another lr is
    left out and listed."""
    tool = _tool("import_measurements")
    lab_lr = experiments.get("imdb-lstm").config.resolved_optimizer()[1]
    source = tmp_path / "external.json"
    source.write_text(
        json.dumps(
            {
                "machine": {"cpu": "Some CPU 9000 8-Core Processor", "torch_threads": 2},
                "runs": [
                    {"model": "IMDBLSTM", "lr": lab_lr, "seed": 1, "test_accuracy": 0.85},
                    {"model": "IMDBLSTM", "lr": lab_lr / 10, "seed": 0, "test_accuracy": 0.80},
                ],
            }
        )
    )
    (path,) = tool.import_measurements(source, tmp_path / "out")
    artifact = json.loads(path.read_text())
    (run,) = artifact["runs"]
    lab = experiments.get("imdb-lstm").config
    assert path.name.startswith("imdb-lstm__")
    assert (run["claim"], run["part"]) == experiments.get("imdb-lstm").measures()[0]
    assert (run["metric"], run["epochs"], run["value"]) == (lab.metric, lab.epochs, 0.85)
    assert len(artifact["provenance"]["excluded"]) == 1
    source.write_text(json.dumps({"machine": {"cpu": "x", "torch_threads": 1}, "runs": [{"model": "GRU", "lr": 1}]}))
    with pytest.raises(ValueError, match="no experiment trains model 'GRU'"):
        tool.import_measurements(source, tmp_path / "out")


# ----------------------------------------------------------------------------- the registry's helpers, case by case
def test_r2_is_one_minus_rss_over_the_total_sum_of_squares():
    """The lab's R^2 (10.9.6): 1 - RSS/TSS, with TSS about the mean of the observed series; 1 for a
    perfect fit, 0 for the mean, negative for a fit worse than the mean."""
    y = np.array([1.0, 2.0, 4.0, 7.0])
    pred = np.array([1.5, 2.0, 3.0, 7.5])
    assert experiments._r2(y, pred) == pytest.approx(1 - 1.5 / 21.0, rel=1e-15)
    assert experiments._r2(y, y) == 1.0
    assert experiments._r2(y, np.full(4, y.mean())) == 0.0
    assert experiments._r2(y, -y) == pytest.approx(1 - 280.0 / 21.0, rel=1e-15)


def test_a_measurement_serialises_with_its_seed_and_path_and_without_in_memory_by_products():
    """``to_json`` writes every field but ``in_memory`` (plots are never serialised), plus the seed
    and the path the figure was obtained on (the solver for a non-network fit)."""
    m = experiments.Measurement(
        claim="10.9/hitters-mae",
        metric="mae",
        value=250.0,
        run=RunSettings(seed=4),
        part="least-squares",
        solver="lstsq",
        in_memory={"figure": object()},
    )
    out = m.to_json()
    assert "in_memory" not in out
    assert (out["seed"], out["path"], out["claim"], out["value"], out["part"]) == (4, "lstsq", m.claim, 250.0, m.part)
    assert json.loads(json.dumps(out, default=str))["seed"] == 4


def test_unknown_or_ambiguous_experiment_names_are_refused_with_the_known_ones():
    """``get`` of an unknown experiment names the registered ones; ``measuring`` of a figure no
    experiment measures says how many do."""
    with pytest.raises(KeyError, match=r"unknown experiment 'nope'; known: " + ", ".join(experiments.EXPERIMENTS)):
        experiments.get("nope")
    with pytest.raises(KeyError, match=r"0 experiments measure 10\.9/nope \[None\]: \[\]"):
        experiments.measuring("10.9/nope")


def test_a_trained_networks_measurement_carries_the_fits_figures():
    """A network's measurement holds the test metric it is judged on, every test metric as raw,
    the run (hence seed and path), the lab's epoch count, the wall time and the history."""
    from types import SimpleNamespace

    result = SimpleNamespace(
        test={"accuracy": 0.86, "loss": 0.33},
        config=SimpleNamespace(epochs=20),
        wall_time=12.5,
        history=[{"epoch": 0, "valid_accuracy": 0.8}],
    )
    m = experiments._trained(result, "10.5/imdb-rnn", "accuracy", RunSettings(seed=5), part="lstm")
    assert (m.claim, m.metric, m.value, m.part) == ("10.5/imdb-rnn", "accuracy", 0.86, "lstm")
    assert m.raw == {"accuracy": 0.86, "loss": 0.33} and m.run == RunSettings(seed=5)
    assert (m.seed, m.path, m.epochs, m.wall_time) == (5, "fast", 20, 12.5)
    assert m.history == [{"epoch": 0, "valid_accuracy": 0.8}]


def test_run_hands_the_experiment_its_settings(monkeypatch):
    """``run`` calls the registered experiment with the settings given (seed and path reach it)."""
    seen = []

    def toy(settings):
        seen.append(settings)
        return [experiments.Measurement(claim="10.9/toy", metric="mae", value=1.0, run=settings)]

    monkeypatch.setitem(
        experiments._REGISTRY, "toy", experiments.Experiment(toy, claims={"10.9/toy": (None,)}, seed_meaning="x")
    )
    (m,) = experiments.run("toy", RunSettings(seed=7, path="islp"))
    assert seen == [RunSettings(seed=7, path="islp")] and (m.seed, m.path) == (7, "islp")


@pytest.mark.data
def test_nyse_designs_are_float32_and_split_by_the_train_column():
    """The NYSE experiments train on float32 tensors (the networks' dtype), inputs and response
    alike, split by the data's own ``train`` column."""
    from islp_ch10.data import DataMissing, load_nyse

    try:
        d = load_nyse()
    except DataMissing as exc:
        pytest.skip(str(exc))
    import torch

    (x_tr, y_tr), (x_te, y_te) = experiments._nyse_split("X_day")
    assert {t.dtype for t in (x_tr, y_tr, x_te, y_te)} == {torch.float32}
    assert len(y_tr) == int(np.sum(d.train)) and len(y_tr) + len(y_te) == len(d.Y)


def test_an_imdb_sequence_measurement_is_of_its_run_and_part(monkeypatch):
    """The IMDB LSTM/RNN experiments hand the fit int64 word ids (whatever integer type the loader
    gives) and float32 labels, and their measurement is of the run they were given (its seed) and
    of their part of 10.5/imdb-rnn."""
    from types import SimpleNamespace

    from islp_ch10.lab_defaults import IMDB_LSTM

    data = SimpleNamespace(
        S_train=np.array([[0, 4, 5]], dtype=np.int32),
        S_test=np.array([[3, 2, 1]], dtype=np.int32),
        y_train=np.array([1]),
        y_test=np.array([0]),
    )
    seen = {}

    def fake_fit(lab, factory, train, test, run):
        seen.update(train=train, test=test, run=run)
        return SimpleNamespace(
            test={"accuracy": 0.5}, config=SimpleNamespace(epochs=lab.epochs), wall_time=0.0, history=[]
        )

    monkeypatch.setattr(experiments, "_imdb", lambda: data)
    monkeypatch.setattr(experiments, "_fit", fake_fit)
    (m,) = experiments._imdb_sequence(RunSettings(seed=3), IMDB_LSTM, None, "lstm")
    assert (m.claim, m.part, m.seed, m.epochs) == ("10.5/imdb-rnn", "lstm", 3, 20)
    assert [str(t.dtype) for t in (*seen["train"], *seen["test"])] == ["torch.int64", "torch.float32"] * 2


def test_the_registry_declares_data_speed_and_tier_as_its_docstring_says():
    """Each experiment on the lab's data names its data set (only the simulated double descent
    names none); every one that trains a network belongs to the slow tier; ``reproduce``'s quick
    default holds the lab's non-network fits (seconds) and leaves out the IMDB sequence models and
    the CIFAR CNN (many CPU minutes each)."""
    registry = experiments.EXPERIMENTS
    assert {e.data for e in registry.values()} == {"hitters", "nyse", "mnist", "imdb", "cifar100", None}
    assert [n for n, e in registry.items() if e.data is None] == ["double-descent"]
    assert all(e.slow for e in registry.values() if e.trains)
    assert registry["hitters-linear"].quick and registry["nyse-linear"].quick
    assert not any(registry[n].quick for n in ("imdb-lstm", "imdb-rnn", "cifar-cnn"))


def test_slow_without_a_network_is_declared_and_kept():
    """``slow`` defaults to whether the experiment trains a network, but an explicit declaration
    wins: the IMDB lasso (50 L1 fits over 23,000 reviews) and the double-descent sweep train none
    and are slow."""
    registry = experiments.EXPERIMENTS
    assert [n for n, e in registry.items() if e.slow and not e.trains] == ["imdb-lasso", "double-descent"]
    assert [n for n, e in registry.items() if not e.slow] == ["hitters-linear", "nyse-linear"]


def test_an_experiment_must_say_what_its_seed_means():
    """Declaring an experiment without ``seed_meaning`` is refused, naming it (nothing is registered)."""
    with pytest.raises(ValueError, match=r"^experiment 'toy-unseeded': say what the seed means \(seed_meaning\)$"):
        experiments.experiment("toy-unseeded", claims={}, seed_meaning="")
    assert "toy-unseeded" not in experiments.EXPERIMENTS
