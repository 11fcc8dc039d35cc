"""Bad input to the library is refused before any training, with a ValueError naming the argument
and, where there is one, the first bad row.

Each case goes through the public entry points (``fit``, ``TrainConfig``, ``LabConfig``).  The
model is given as a factory that records being called: a refusal must come before the model is
built, i.e. before any training.  Without these checks each case failed late (a raw torch or
torchmetrics error, several after a whole training run) or not at all (``(n, 1)`` regression
targets trained on a broadcast n-by-n loss, ``validation=1.5`` split the data into -32 and 96
rows, ``epochs=-1`` trained forever).
"""

from __future__ import annotations

import re

import pytest
import torch

from islp_ch10.lab_defaults import LabConfig
from islp_ch10.training import RunSettings, TrainConfig, fit

N, P = 40, 4


class Factory:
    """A model factory that records whether ``fit`` built the model."""

    def __init__(self, out: int = 1):
        self.out, self.built = out, 0

    def __call__(self):
        self.built += 1
        layer = torch.nn.Linear(P, self.out)
        return layer if self.out > 1 else torch.nn.Sequential(layer, torch.nn.Flatten(0))


def _x(n: int = N) -> torch.Tensor:
    return torch.randn(n, P, generator=torch.Generator().manual_seed(0))


def refused(train, test, config, match: str, out: int = 1, **kw) -> None:
    """``fit`` raises a ValueError matching ``match`` without building the model."""
    factory = Factory(out)
    with pytest.raises(ValueError, match=match):
        fit(factory, train, test, config, **kw)
    assert factory.built == 0, "the model was built (training had started) before the refusal"


MULTI = TrainConfig(task="multiclass", num_classes=3, epochs=1)
BINARY = TrainConfig(task="binary", epochs=1)
REGRESSION = TrainConfig(task="regression", epochs=1)


def _labels(*changes: tuple[int, float], dtype=torch.int64, n: int = N) -> torch.Tensor:
    y = (torch.arange(n) % 3).to(dtype)
    for row, value in changes:
        y[row] = value
    return y


# ----------------------------------------------------------------------------- class labels
def test_class_label_beyond_num_classes_names_num_classes_and_row():
    y = _labels((5, 3), (9, 7))
    refused((_x(), y), (_x(), _labels()), MULTI, r"num_classes=3 .* train labels .* row 5 holds label 3.*at least 8", 3)


def test_test_labels_beyond_num_classes_name_the_test_set():
    refused((_x(), _labels()), (_x(), _labels((11, 4))), MULTI, r"num_classes=3 .* test labels .* row 11", 3)


def test_negative_class_label_names_the_row():
    refused((_x(), _labels((2, -1))), (_x(), _labels()), MULTI, r"train targets: row 2 holds class label -1", 3)


def test_float_class_labels_are_refused_naming_the_first_fractional_row():
    y = _labels((6, 1.5), dtype=torch.float32)
    refused((_x(), y), (_x(), _labels()), MULTI, r"train targets: class labels must be integers .* row 6 holds 1\.5", 3)


def test_integral_float_class_labels_are_refused_too():
    y = _labels(dtype=torch.float32)
    refused((_x(), y), (_x(), _labels()), MULTI, r"train targets: class labels must be integers .*float32", 3)


def test_binary_labels_outside_0_1_name_the_row():
    y = (torch.arange(N) % 2).float()
    y[4] = 2.0
    refused(
        (_x(), y), (_x(), (torch.arange(N) % 2).float()), BINARY, r"train targets: binary labels .* row 4 holds 2\.0"
    )


def test_binary_labels_of_an_integer_dtype_are_refused():
    y = torch.arange(N) % 2
    refused((_x(), y), (_x(), y.float()), BINARY, r"train targets of a binary task must be floating point")


# ----------------------------------------------------------------------------- shapes and sizes
def test_regression_targets_of_shape_n_by_1_are_refused():
    """An (n, 1) target against the model's (n,) output would train on a broadcast n-by-n loss."""
    y = torch.randn(N, 1)
    refused((_x(), y), (_x(), y[:, 0]), REGRESSION, r"train targets must hold one value per row, shape \(40,\)")


def test_empty_training_set_is_refused():
    refused((_x(0), torch.zeros(0)), (_x(), torch.zeros(N)), REGRESSION, r"^train is empty")


def test_empty_test_set_is_refused():
    refused((_x(), torch.zeros(N)), (_x(0), torch.zeros(0)), REGRESSION, r"^test is empty")


def test_zero_length_sequences_are_refused():
    tokens = torch.zeros(N, 0, dtype=torch.int64)
    y = torch.zeros(N)
    refused((tokens, y), (torch.zeros(N, 5, dtype=torch.int64), y), BINARY, r"train inputs have rows of length zero")


def test_validation_count_not_smaller_than_the_training_set_is_refused():
    config = TrainConfig(task="regression", epochs=1, validation=N)
    refused((_x(), torch.zeros(N)), (_x(), torch.zeros(N)), config, rf"validation={N} would hold out all {N}")


# ----------------------------------------------------------------------------- the configuration
@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("epochs", 0, r"epochs must be an integer >= 1, got 0"),
        ("epochs", -1, r"epochs must be an integer >= 1, got -1"),
        ("epochs", 2.5, r"epochs must be an integer >= 1"),
        ("batch_size", 0, r"batch_size must be an integer >= 1, got 0"),
        ("validation", 1.5, r"validation as a fraction must lie strictly between 0 and 1, got 1\.5"),
        ("validation", 0.0, r"validation as a fraction"),
        ("validation", -3, r"validation as a count must be >= 1"),
        ("validation", "train", r"validation must be None, 'test'"),
        ("num_classes", 1, r"num_classes must be an integer >= 2"),
    ],
)
def test_configuration_is_checked_when_built(field, value, match):
    """TrainConfig and LabConfig refuse the same bad values, naming the argument."""
    base = dict(task="multiclass", num_classes=3, epochs=1, batch_size=8, validation=None)
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{**base, field: value})
    with pytest.raises(ValueError, match=match):
        LabConfig(**{**base, field: value}, metric="accuracy", source="notes 1")


def test_the_lab_route_checks_the_data_too():
    """A LabConfig handed to fit with the run's settings goes through the same data checks."""
    lab = LabConfig(
        task="multiclass", num_classes=3, epochs=1, batch_size=8, validation=0.2, metric="accuracy", source="notes 1"
    )
    refused((_x(), _labels((3, 5))), (_x(), _labels()), lab, r"num_classes=3 .* row 3", 3, run=RunSettings())


def test_valid_input_still_trains():
    """The checks refuse only what is wrong: the edge cases that are right pass and train."""
    factory = Factory(3)
    config = TrainConfig(task="multiclass", num_classes=3, epochs=1, batch_size=N, validation=N - 1)
    result = fit(factory, (_x(), _labels()), (_x(1), _labels(n=1)), config)
    assert factory.built == 1 and len(result.history) == 1


# ----------------------------------------------------------------------------- edges of the configuration
@pytest.mark.parametrize("value", [0, -2, 1.5])
def test_max_steps_is_minus_one_or_a_positive_count(value):
    """``max_steps``: -1 (no limit) or an integer >= 1, in a TrainConfig and as fit's argument."""
    match = rf"max_steps must be -1 \(no limit\) or an integer >= 1, got {value}"
    with pytest.raises(ValueError, match=match):
        TrainConfig(task="regression", max_steps=value)
    refused((_x(), torch.zeros(N)), (_x(), torch.zeros(N)), REGRESSION, match, max_steps=value)


def test_the_edges_that_are_right_are_accepted():
    """One held-out row, a fraction just under 1, two classes, one step and no limit are valid;
    a fraction of exactly 1 is not."""
    for kw in ({"validation": 1}, {"validation": 0.999}, {"max_steps": 1}, {"max_steps": -1}):
        TrainConfig(task="regression", **kw)
    TrainConfig(task="multiclass", num_classes=2)
    with pytest.raises(ValueError, match=r"validation as a fraction must lie strictly between 0 and 1, got 1\.0"):
        TrainConfig(task="regression", validation=1.0)
    with pytest.raises(ValueError, match=r"^task 'multiclass' needs num_classes$"):
        TrainConfig(task="multiclass")
    x, y = _x(), torch.zeros(N)
    assert len(fit(Factory(), (x, y), (x, y), REGRESSION, max_steps=-1).history) == 1


def test_a_length_mismatch_in_the_training_set_alone_is_refused_with_both_counts():
    refused((_x(), torch.zeros(N - 1)), (_x(), torch.zeros(N)), REGRESSION, rf"train {N} vs {N - 1}, test {N} vs {N}")
    refused((_x(), torch.zeros(N)), (_x(5), torch.zeros(4)), REGRESSION, rf"train {N} vs {N}, test 5 vs 4")


def test_a_non_finite_value_is_located_in_the_rows_own_shape():
    """A 2-D row is located by column only; a row of shape (3, 4) also by its index in that shape."""
    from islp_ch10.training import check_finite

    x = torch.zeros(5, 4)
    x[2, 3] = float("nan")
    with pytest.raises(ValueError) as err:
        check_finite(x, torch.zeros(5))
    assert str(err.value) == (
        "training inputs hold 1 non-finite value(s), the first (nan) at row 2, column 3; "
        "remove or impute them before fitting"
    )
    maps = torch.zeros(5, 3, 4)
    maps[1, 2, 1] = float("inf")
    with pytest.raises(ValueError, match=r"at row 1, column 9 \(index \(2, 1\) of each \(3, 4\) row\);"):
        check_finite(maps, torch.zeros(5), "test")


def test_targets_are_checked_as_numpy_arrays_too():
    """``check_targets`` takes what ``fit`` is given: numpy labels are checked like tensors."""
    import numpy as np

    from islp_ch10.training import check_targets

    check_targets(np.arange(6) % 3, MULTI)
    with pytest.raises(
        ValueError, match=r"^train targets must hold one value per row, shape \(6,\), got shape \(6, 1\)"
    ):
        check_targets(np.zeros((6, 1), dtype=np.float32), REGRESSION)
    with pytest.raises(ValueError, match=r"^train targets must hold one value per row, shape \(0,\), got shape \(\)"):
        check_targets(torch.tensor(1.0), REGRESSION)


def test_class_labels_of_bool_or_integral_float_dtype_name_row_0():
    from islp_ch10.training import check_targets

    with pytest.raises(ValueError, match=r"class labels must be integers \(torch.int64\), got torch.bool; row 0 holds"):
        check_targets(torch.tensor([True, False]), MULTI)
    with pytest.raises(ValueError, match=r"got torch.float32; row 0 holds 1.0$"):
        check_targets(torch.tensor([1.0, 2.0]), MULTI)


def test_a_label_equal_to_num_classes_is_out_of_range():
    """Labels lie in 0..num_classes-1: a label of num_classes is refused, as is a negative one, and
    both messages give that range."""
    from islp_ch10.training import check_targets

    with pytest.raises(ValueError, match=r"row 1 holds label 3, outside 0\.\.2; num_classes must be at least 4$"):
        check_targets(torch.tensor([0, 3]), MULTI)
    with pytest.raises(ValueError, match=r"row 1 holds class label -1; labels lie in 0\.\.2 \(num_classes=3\)$"):
        check_targets(torch.tensor([0, -1]), MULTI)


# ----------------------------------------------------------------------------- devices
def test_a_device_combination_lightning_refuses_carries_lightnings_reason(capfd):
    """``dp`` is a name Lightning knows (it refuses it with its own reason, the first line of which
    the message carries); checking a combination prints nothing and leaves Lightning's logger as
    it was."""
    import logging

    from islp_ch10.training import check_devices

    chatter = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    level = chatter.level
    with pytest.raises(ValueError) as err:
        check_devices("cpu", "1", "dp")
    message = str(err.value)
    assert message.startswith("Lightning refuses --accelerator cpu --devices 1 --strategy dp: You selected an invalid")
    assert "\n" not in message
    assert check_devices("cpu", "1", "auto") == 1
    assert capfd.readouterr().err == "" and chatter.level == level


def test_device_options_name_what_is_accepted():
    """``--devices``: ``auto``, a positive count or -1 (all); 0 and counts below -1 are refused with
    the accepted forms; an unknown accelerator is refused with the known ones; ``cuda`` is a GPU
    and, like ``gpu``, needs one; ``mps`` needs Apple's backend (absent here)."""
    from islp_ch10.machine import ACCELERATORS
    from islp_ch10.training import _parse_devices, check_devices

    assert check_devices("cpu", "auto", "auto") == "auto"
    assert _parse_devices("cpu", "-1") == -1  # "all devices", which Lightning's own check refuses for the CPU:
    with pytest.raises(
        ValueError, match=r"^Lightning refuses --accelerator cpu --devices -1 --strategy auto: `devices`"
    ):
        check_devices("cpu", "-1", "auto")
    hint = "give a positive count, GPU indices such as 0,1, -1 (all) or auto"
    for bad in ("0", "-2", "two"):
        with pytest.raises(ValueError, match=rf"^--devices '?{bad}'?: {re.escape(hint)}$"):
            check_devices("cpu", bad, "auto")
    with pytest.raises(
        ValueError, match=rf"^--accelerator 'quantum' is not one of {re.escape(', '.join(ACCELERATORS))}$"
    ):
        check_devices("quantum", "1", "auto")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"^--accelerator cuda: this machine has no usable CUDA GPU"):
            check_devices("cuda", "1", "auto")
    if not torch.backends.mps.is_available():
        with pytest.raises(
            ValueError, match=r"^--accelerator mps: Apple's MPS backend is not available here; use --accelerator cpu$"
        ):
            check_devices("mps", "1", "auto")


def test_gpu_device_lists_and_counts_are_checked_against_the_gpus_present(monkeypatch):
    """On a machine with two GPUs (simulated: ``torch.cuda.device_count`` says 2): indices ``0,1``
    (a trailing comma allowed) and a count of 2 are accepted, for ``gpu`` and ``cuda``; index 2, a
    count of 3, a negative index, or indices with another accelerator are refused, naming why."""
    from islp_ch10.training import _parse_devices

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for acc in ("gpu", "cuda"):
        assert _parse_devices(acc, "0,1") == [0, 1] and _parse_devices(acc, " 1, ") == [1]
        assert _parse_devices(acc, "2") == 2
        with pytest.raises(ValueError, match=r"^--devices 0,2: this machine has 2 GPU\(s\)$"):
            _parse_devices(acc, "0,2")
        with pytest.raises(ValueError, match=r"^--devices 3: this machine has 2 GPU\(s\)$"):
            _parse_devices(acc, "3")
        with pytest.raises(ValueError, match=r"^--devices '-1,0': a list of indices needs --accelerator gpu; give a"):
            _parse_devices(acc, "-1,0")
        with pytest.raises(ValueError, match=r"^--devices '0,x': give a positive count"):
            _parse_devices(acc, "0,x")
    with pytest.raises(ValueError, match=r"^--devices '0,1': a list of indices needs --accelerator gpu"):
        _parse_devices("cpu", "0,1")
    with pytest.raises(ValueError, match=r"^--devices ',': a list of indices needs --accelerator gpu"):
        _parse_devices("gpu", ",")


def test_path_and_run_settings_must_agree():
    """``fit(path=...)`` with ``run=`` must name the run's own path; an unknown path is refused."""
    x, y = _x(), torch.zeros(N)
    assert fit(Factory(), (x, y), (x, y), REGRESSION, path="fast", run=RunSettings()).path == "fast"
    refused(
        (x, y),
        (x, y),
        REGRESSION,
        r"^path='islp' contradicts run.path='fast'; give one of them$",
        path="islp",
        run=RunSettings(),
    )
    refused((x, y), (x, y), REGRESSION, r"^path must be 'fast' or 'islp', got 'gpu'$", path="gpu")
