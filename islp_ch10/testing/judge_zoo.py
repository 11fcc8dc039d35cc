"""Deliberately broken variants of the judge (the networks have :mod:`islp_ch10.testing.zoo`).

Each variant is a realistic slip in one function of :mod:`islp_ch10.judge` or
:mod:`islp_ch10.testing.empirical`, registered under the function it replaces with the name of
the check in ``tests/test_judge.py`` that must reject it.  That test also shows the real
function passes every check of its kind: a check no variant fails would be a check that cannot fail.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from islp_ch10 import judge


@dataclass(frozen=True)
class Variant:
    target: str  # the function it replaces: "meets", "criterion", "passes", "claim_status", "statistic", ...
    fn: Callable
    rejected_by: str  # the check (a function of tests/test_judge.py) that must reject it
    slip: str


ZOO: dict[str, Variant] = {}


def broken(target: str, rejected_by: str):
    """Register the decorated function as a broken variant of ``target``; its docstring is the slip."""

    def register(fn: Callable) -> Callable:
        ZOO[fn.__name__] = Variant(target, fn, rejected_by, (fn.__doc__ or "").strip())
        return fn

    return register


# ----------------------------------------------------------------------------- meets
@broken("meets", "check_boundary_meets")
def meets_strict(value, threshold, direction, tolerance=None):
    """Strict inequalities: a figure exactly at its threshold fails."""
    if direction == "==":
        return abs(value - threshold) < tolerance
    return value > threshold if direction == ">=" else value < threshold


@broken("meets", "check_direction")
def meets_reversed(value, threshold, direction, tolerance=None):
    """The two directions swapped (a floor read as a ceiling)."""
    if direction == "==":
        return abs(value - threshold) <= tolerance
    return value <= threshold if direction == ">=" else value >= threshold


@broken("meets", "check_direction")
def meets_floor_only(value, threshold, direction, tolerance=None):
    """Every threshold read as a floor: an MAE bound passes any MAE above it."""
    if direction == "==":
        return abs(value - threshold) <= tolerance
    return value >= threshold


@broken("meets", "check_tolerance")
def meets_relative_tolerance(value, threshold, direction, tolerance=None):
    """``==`` judged with a relative tolerance (|v - t| <= tol * |t|): 259.7 +- 0.013 becomes +- 3.4."""
    if direction == "==":
        return abs(value - threshold) <= tolerance * max(1.0, abs(threshold))
    return judge.meets(value, threshold, direction, tolerance)


@broken("meets", "check_tolerance")
def meets_tolerance_on_floors(value, threshold, direction, tolerance=None):
    """The tolerance of an ``==`` figure also loosens a floor's threshold."""
    slack = tolerance or 0.0
    if direction == ">=":
        return value >= threshold - slack
    if direction == "<=":
        return value <= threshold + slack
    return abs(value - threshold) <= slack


@broken("meets", "check_tolerance")
def meets_missing_tolerance_is_zero(value, threshold, direction, tolerance=None):
    """``==`` without a tolerance silently means exact equality instead of an error."""
    if direction == "==":
        return abs(value - threshold) <= (tolerance or 0.0)
    return judge.meets(value, threshold, direction, tolerance)


# ----------------------------------------------------------------------------- criterion
@broken("criterion", "check_part_lookup")
def criterion_claim_threshold_for_parts(claim, part=None):
    """A part judged by the claim's own threshold (the lstm and rnn parts by one floor)."""
    c = judge.criterion(claim, part)
    return judge.Criterion(c.book_value, claim.threshold, c.direction, c.tolerance)


@broken("criterion", "check_part_lookup")
def criterion_part_threshold_falls_back(claim, part=None):
    """A part without a threshold inherits the claim's, so a part that is only reported gets judged."""
    c = judge.criterion(claim, part)
    threshold = c.threshold if c.threshold is not None else claim.threshold
    return judge.Criterion(c.book_value, threshold, c.direction, c.tolerance)


@broken("criterion", "check_part_lookup")
def criterion_claim_direction_for_parts(claim, part=None):
    """A part's direction ignored: the network's MAE ceiling judged as the claim's floor."""
    c = judge.criterion(claim, part)
    return judge.Criterion(c.book_value, c.threshold, claim.direction, c.tolerance)


@broken("criterion", "check_part_lookup")
def criterion_claim_tolerance_for_parts(claim, part=None):
    """A part's tolerance ignored in favour of the claim's."""
    c = judge.criterion(claim, part)
    return judge.Criterion(c.book_value, c.threshold, c.direction, claim.tolerance)


# ----------------------------------------------------------------------------- band / two-sided verdict
@broken("passes", "check_two_sided")
def passes_threshold_only(claim, value, part=None):
    """One-sided: the threshold alone, so a leak that lifts the figure passes."""
    c = judge.criterion(claim, part)
    return judge.meets(value, c.threshold, c.direction, c.tolerance)


@broken("passes", "check_two_sided")
def passes_band_only(claim, value, part=None):
    """The band alone, so a claim's own threshold stricter than the band is ignored."""
    b = judge.claim_band(claim, part)
    return b is None or b[0] <= value <= b[1]


@broken("band", "check_band_rule")
def band_without_floor(values, k=judge.K, rel_floor=judge.REL_FLOOR):
    """No width floor: a deterministic figure's band has width 0, and the last float digit fails it."""
    lo, hi = min(values), max(values)
    return lo - k * (hi - lo), hi + k * (hi - lo)


@broken("band", "check_band_rule")
def band_one_machine(values, k=judge.K, rel_floor=judge.REL_FLOOR):
    """The band from the first artifact's seeds only (here: the first three values)."""
    return judge.band(list(values)[:3], k, rel_floor)


@broken("band", "check_band_rule")
def band_from_stdev(values, k=judge.K, rel_floor=judge.REL_FLOOR):
    """Half-width k standard deviations around the mean: narrower than the traced seeds' own range."""
    mean, sd = statistics.fmean(values), statistics.pstdev(values)
    width = max(sd, rel_floor * max(1.0, max(abs(v) for v in values)))
    return mean - k * width, mean + k * width


# ----------------------------------------------------------------------------- report statistic
@broken("statistic", "check_statistic")
def statistic_mean(values):
    """The mean over seeds: one collapsed seed drags a healthy median under its floor."""
    return statistics.fmean(values)


@broken("statistic", "check_statistic")
def statistic_best(values):
    """The best seed (max): a claim passes when one lucky seed does."""
    return max(values)


@broken("statistic", "check_statistic")
def statistic_first(values):
    """The first seed's figure, whatever the others say."""
    return values[0]


# ----------------------------------------------------------------------------- roll-up
def _ran(test, passed):
    return any(t == test or t.startswith(test + "[") for t in passed)


@broken("claim_status", "check_rollup")
def status_skip_counts_as_pass(tests, records):
    """A skipped case counts as passed (the data tier without data reports every claim passed)."""
    outcomes = [r["outcome"] for r in records or []]
    if "failed" in outcomes or "error" in outcomes:
        return "failed"
    return "passed" if outcomes and all(o in ("passed", "skipped") for o in outcomes) else "not run"


@broken("claim_status", "check_rollup")
def status_any_pass(tests, records):
    """Passed as soon as one test passed, though others listed for the claim never ran."""
    outcomes = [r["outcome"] for r in records or []]
    if "failed" in outcomes or "error" in outcomes:
        return "failed"
    return "passed" if "passed" in outcomes else ("skipped" if outcomes else "not run")


@broken("claim_status", "check_rollup")
def status_ignores_errors(tests, records):
    """An error in setup (a fixture that crashed) is not a failure."""
    outcomes = [r["outcome"] for r in records or []]
    if "failed" in outcomes:
        return "failed"
    passed = [r["test"] for r in records or [] if r["outcome"] == "passed"]
    if passed and all(_ran(t, passed) for t in tests):
        return "passed"
    return "incomplete" if passed else ("skipped" if outcomes else "not run")


@broken("claim_status", "check_rollup")
def status_xfail_counts_as_pass(tests, records):
    """An expected failure counts as a pass."""
    recs = [dict(r, outcome="passed" if r["outcome"] == "xfailed" else r["outcome"]) for r in records or []]
    return judge.claim_status(tests, recs)


# ----------------------------------------------------------------------------- run_or_skip
def _data_missing():
    from islp_ch10.data import DataMissing

    return DataMissing


@broken("run_or_skip", "check_run_or_skip")
def run_or_skip_any_error(name, settings=None, runner=None):
    """Any error becomes a skip: a crashing experiment reports 'data absent'."""
    try:
        return list(runner(name, settings))
    except Exception as exc:  # noqa: BLE001 - the slip itself
        pytest.skip(str(exc))


@broken("run_or_skip", "check_run_or_skip")
def run_or_skip_file_not_found(name, settings=None, runner=None):
    """Any missing file becomes a skip (DataMissing is a FileNotFoundError, but not every one is)."""
    try:
        return list(runner(name, settings))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@broken("run_or_skip", "check_run_or_skip")
def run_or_skip_returns_empty(name, settings=None, runner=None):
    """Missing data gives no measurements instead of a skip with the loader's instructions."""
    try:
        return list(runner(name, settings))
    except _data_missing():
        return []


# ----------------------------------------------------------------------------- assert_meets_claim
@broken("assert_meets_claim", "check_assert_meets_claim")
def assert_meets_threshold_only(measurement, claim=None):
    """Asserts the threshold only: a figure above its band (a leak) passes."""
    c = judge.criterion(claim, measurement.part)
    assert judge.meets(measurement.value, c.threshold, c.direction, c.tolerance), "below threshold"


@broken("assert_meets_claim", "check_assert_meets_claim")
def assert_meets_claim_level(measurement, claim=None):
    """Judges every part by the claim as a whole (part ignored)."""
    assert judge.passes(claim, measurement.value, None), "fails"


@broken("assert_meets_claim", "check_assert_meets_claim")
def assert_meets_no_leak_hint(measurement, claim=None):
    """Fails a leaking figure, but its message does not say why (no mention of leakage)."""
    assert judge.passes(claim, measurement.value, measurement.part), f"{claim.id}: {measurement.value} fails"


@broken("assert_meets_claim", "check_assert_meets_claim")
def assert_meets_warns(measurement, claim=None):
    """Reports a miss as a warning and carries on."""
    import warnings

    if not judge.passes(claim, measurement.value, measurement.part):
        warnings.warn(f"{claim.id} misses its claim", stacklevel=2)
