"""The judge's own checks: each function of :mod:`islp_ch10.judge` (and the two test helpers of
:mod:`islp_ch10.testing.empirical`) passes its checks, and every broken variant of
:mod:`islp_ch10.testing.judge_zoo` is rejected by the check it names.

A check returns the list of its problems with a candidate function (empty: the candidate is right).
"""

from __future__ import annotations

import re
import warnings
from types import SimpleNamespace

import pytest

from islp_ch10 import claims, judge
from islp_ch10.testing import empirical
from islp_ch10.testing.judge_zoo import ZOO

pytestmark = pytest.mark.fast


def _claim(threshold=None, direction=None, tolerance=None, parts=None, spread=None, cid="10.9/judge-example"):
    extra = {}
    if parts:
        extra["parts"] = parts
    if spread:
        extra["spread_values"] = {"toy__machine__t1": {"seeds": list(range(len(spread))), "values": list(spread)}}
    return claims.Claim(
        id=cid,
        kind="empirical",
        statement="a claim built for the judge's checks",
        tests=(),
        threshold=threshold,
        direction=direction,
        tolerance=tolerance,
        extra=extra,
    )


def _spread(*values):
    return {"toy__machine__t1": {"seeds": list(range(len(values))), "values": list(values)}}


# ----------------------------------------------------------------------------- checks
def check_boundary_meets(meets) -> list[str]:
    """A figure exactly at its threshold meets it, in each direction (the catalogue says >=, <=)."""
    cases = [((0.82, 0.82, ">="), True), ((300.0, 300.0, "<="), True), ((0.5, 0.25, "==", 0.25), True)]
    return [f"meets{args} is {not want}" for args, want in cases if meets(*args) != want]


def check_direction(meets) -> list[str]:
    """A floor rejects what is under it, a ceiling what is over it."""
    cases = [
        ((0.90, 0.82, ">="), True),
        ((0.70, 0.82, ">="), False),
        ((250.0, 300.0, "<="), True),
        ((350.0, 300.0, "<="), False),
    ]
    return [f"meets{args} is {not want}" for args, want in cases if meets(*args) != want]


def check_tolerance(meets) -> list[str]:
    """``==`` is an absolute tolerance that loosens nothing else, and cannot be used without one."""
    problems = []
    cases = [
        ((259.72, 259.7153, "==", 5e-5), False),
        ((259.71532, 259.7153, "==", 5e-5), True),
        ((0.80, 0.82, ">=", 0.05), False),
        ((310.0, 300.0, "<=", 20.0), False),
    ]
    problems += [f"meets{args} is {not want}" for args, want in cases if meets(*args) != want]
    try:
        meets(1.0, 1.0, "==", None)
        problems.append("'==' without a tolerance was judged instead of refused")
    except ValueError:
        pass
    except Exception as exc:  # noqa: BLE001 - any other failure is not the clear refusal asked for
        problems.append(f"'==' without a tolerance raised {type(exc).__name__}, not ValueError")
    return problems


PARTED = _claim(
    threshold=0.6,
    direction=">=",
    tolerance=0.1,
    parts={
        "lstm": {"threshold": 0.82},
        "mae": {"threshold": 300.0, "direction": "<="},
        "ar": {"threshold": 0.41, "direction": "==", "tolerance": 0.005},
        "reported": {"book_value": 1.0},
    },
)


def check_part_lookup(criterion) -> list[str]:
    """A part judges by its own threshold (none: not judged); direction and tolerance fall back."""
    want = {
        None: (0.6, ">=", 0.1),
        "lstm": (0.82, ">=", 0.1),
        "mae": (300.0, "<=", 0.1),
        "ar": (0.41, "==", 0.005),
        "reported": (None, ">=", 0.1),
    }
    problems = []
    for part, expected in want.items():
        c = criterion(PARTED, part)
        got = (c.threshold, c.direction, c.tolerance)
        if got != expected:
            problems.append(f"part {part}: {got}, want {expected}")
    return problems


FLOOR = _claim(threshold=0.82, direction=">=", spread=[0.8502, 0.8495, 0.8443])  # band [0.8384, 0.8561]
STRICT = _claim(threshold=0.846, direction=">=", spread=[0.8502, 0.8495, 0.8443])  # threshold inside the band
CEILING = _claim(threshold=259.7, direction="<=", spread=[244.79, 208.08, 213.63])  # band [171.4, 281.5]


def check_two_sided(passes) -> list[str]:
    """Threshold and band both judge: a leak above the band fails, so does a miss of a strict threshold."""
    cases = [
        (FLOOR, 0.848, True),
        (FLOOR, 0.95, False),  # above the band: leakage
        (FLOOR, 0.80, False),
        (STRICT, 0.840, False),  # inside the band, under the claim's threshold
        (CEILING, 230.0, True),
        (CEILING, 120.0, False),  # an MAE far under every seed: leakage
        (CEILING, 270.0, False),
    ]
    return [f"{c.threshold} {c.direction}: {v} judged {not want}" for c, v, want in cases if passes(c, v) != want]


def check_band_rule(band) -> list[str]:
    """The band holds every traced value of every machine, and a deterministic figure's has width."""
    problems = []
    two_machines = [0.70, 0.71, 0.72, 0.80, 0.81, 0.82]
    lo, hi = band(two_machines)
    if not all(lo <= v <= hi for v in two_machines):
        problems.append(f"band [{lo}, {hi}] leaves out traced values {two_machines}")
    if (lo, hi) != pytest.approx((0.70 - judge.K * 0.12, 0.82 + judge.K * 0.12)):
        problems.append(f"band [{lo}, {hi}] is not the documented rule")
    lo, hi = band([0.4129, 0.4129, 0.4129])
    if not (lo < 0.4129 - 1e-5 and hi > 0.4129 + 1e-5):
        problems.append(f"deterministic figure's band [{lo}, {hi}] has no room for float noise")
    if (lo, hi) != pytest.approx((0.4129 - judge.K * 1e-4, 0.4129 + judge.K * 1e-4)):
        problems.append(f"deterministic band [{lo}, {hi}] is not the floor's")
    return problems


def check_statistic(statistic) -> list[str]:
    """The median over seeds: neither one collapsed seed nor one lucky seed decides."""
    cases = [([0.10, 0.90, 0.91], 0.90), ([0.50, 0.50, 0.99], 0.50), ([0.95, 0.50, 0.50], 0.50)]
    return [f"{vals} -> {statistic(vals)}, want {want}" for vals, want in cases if statistic(vals) != want]


def _r(test, outcome):
    return {"test": test, "outcome": outcome}


def check_rollup(claim_status) -> list[str]:
    """``passed`` only when every listed test ran and every case passed."""
    a, b = "tests/x.py::test_a", "tests/x.py::test_b"
    cases = [
        ([a, b], [_r(a, "passed"), _r(b, "passed")], "passed"),
        ([a, b], [_r(a, "passed"), _r(b, "skipped")], "incomplete"),
        ([a, b], [_r(a, "passed")], "incomplete"),  # b never ran (deselected)
        ([a], [_r(a + "[0]", "passed"), _r(a + "[1]", "skipped")], "incomplete"),
        ([a], [_r(a, "passed"), _r(a + "[x]", "error")], "failed"),
        ([a, b], [_r(a, "passed"), _r(b, "xfailed")], "xfailed"),
        ([a], [_r(a, "skipped")], "skipped"),
        ([a], [], "not run"),
    ]
    return [
        f"{[r['outcome'] for r in recs]} of {tests} -> {got}, want {want}"
        for tests, recs, want in cases
        if (got := claim_status(tests, recs)) != want
    ]


def _raiser(exc):
    def runner(name, settings):
        raise exc

    return runner


def check_run_or_skip(run_or_skip) -> list[str]:
    """Only a missing data set skips; any other error, a missing file included, fails the test."""
    from islp_ch10.data import DataMissing

    problems = []
    if run_or_skip("toy", None, runner=lambda name, settings: ("m1", "m2")) != ["m1", "m2"]:
        problems.append("the measurements did not come back")
    try:
        run_or_skip("toy", None, runner=_raiser(DataMissing("toy", "toy.csv", "/nowhere", "fetch it")))
        problems.append("missing data gave no skip")
    except pytest.skip.Exception:
        pass
    for exc in (ValueError("diverged"), FileNotFoundError("checkpoint.ckpt"), RuntimeError("shape mismatch")):
        try:
            run_or_skip("toy", None, runner=_raiser(exc))
            problems.append(f"{type(exc).__name__} was swallowed")
        except pytest.skip.Exception:
            problems.append(f"{type(exc).__name__} became a skip")
        except type(exc):
            pass
    return problems


LSTM_LIKE = _claim(
    threshold=0.6,
    direction=">=",
    parts={"lstm": {"threshold": 0.82, "spread_values": _spread(0.8502, 0.8495, 0.8443)}},
    cid="10.5/judge-example",
)


def _measured(value, part="lstm"):
    return SimpleNamespace(
        claim=LSTM_LIKE.id, part=part, metric="accuracy", value=value, seed=0, epochs=20, path="fast"
    )


def check_assert_meets_claim(assert_meets_claim) -> list[str]:
    """Passes a figure in its part's band; fails a miss and a leak, and says 'leakage' for the leak."""
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            assert_meets_claim(_measured(0.848), LSTM_LIKE)
        except AssertionError as exc:
            problems.append(f"an in-band figure failed: {exc}")
        for value, why in ((0.70, "under the part's threshold"), (0.95, "above the band")):
            try:
                assert_meets_claim(_measured(value), LSTM_LIKE)
                problems.append(f"{value} ({why}) passed")
            except AssertionError as exc:
                if value > 0.9 and "leakage" not in str(exc):
                    problems.append(f"a leak's message does not name leakage: {exc}")
    return problems


CHECKS = {
    "meets": (judge.meets, ["check_boundary_meets", "check_direction", "check_tolerance"]),
    "criterion": (judge.criterion, ["check_part_lookup"]),
    "passes": (judge.passes, ["check_two_sided"]),
    "band": (judge.band, ["check_band_rule"]),
    "statistic": (judge.statistic, ["check_statistic"]),
    "claim_status": (judge.claim_status, ["check_rollup"]),
    "run_or_skip": (empirical.run_or_skip, ["check_run_or_skip"]),
    "assert_meets_claim": (empirical.assert_meets_claim, ["check_assert_meets_claim"]),
}


@pytest.mark.parametrize("target", sorted(CHECKS))
def test_the_judge_passes_its_checks(target):
    real, names = CHECKS[target]
    for name in names:
        assert globals()[name](real) == [], name


@pytest.mark.parametrize("variant", sorted(ZOO))
def test_broken_judge_is_rejected(variant):
    v = ZOO[variant]
    assert v.rejected_by in CHECKS[v.target][1], f"{variant}: {v.rejected_by} is not a check of {v.target}"
    assert globals()[v.rejected_by](v.fn), f"{variant} ({v.slip}) passed {v.rejected_by}"


def test_every_check_rejects_some_variant():
    """A check no broken variant fails would be a check that cannot fail."""
    used = {v.rejected_by for v in ZOO.values()}
    assert {n for _, names in CHECKS.values() for n in names} <= used


def test_verdict_judges_the_statistic(monkeypatch):
    """The report's verdict judges :func:`judge.statistic` of the seeds: a broken statistic changes it."""
    seeds = [0.30, 0.848, 0.849]  # one collapsed seed; the median is in the band
    assert judge.verdict(FLOOR, seeds) == "pass"
    monkeypatch.setattr(judge, "statistic", ZOO["statistic_mean"].fn)
    assert judge.verdict(FLOOR, seeds) == "FAIL"
    assert judge.verdict(_claim(), seeds) == "n/a"


def test_claims_judge_through_the_judge():
    """``Claim.passes``/``criterion``/``band`` are the judge's (one judging code for tests and report)."""
    assert FLOOR.passes(0.848) and not FLOOR.passes(0.95) and not FLOOR.passes(0.80)
    assert PARTED.criterion("mae") == (None, 300.0, "<=")
    assert FLOOR.band() == judge.band([0.8502, 0.8495, 0.8443])
    assert _claim(threshold=1.0, direction=">=").band() is None


# ----------------------------------------------------------------------------- the judge's contract, case by case
AR_LIKE = _claim(threshold=0.4129, direction="==", tolerance=0.01, spread=[0.4129, 0.4129])  # band [0.4127, 0.4131]
LOOSE_FLOOR = _claim(threshold=0.5, direction=">=", spread=[0.8502, 0.8495, 0.8443])  # band [0.8325, 0.8620]
LOOSE_CEILING = _claim(threshold=400.0, direction="<=", spread=[244.79, 208.08, 213.63])  # band [134.7, 318.2]


def test_a_figure_worse_than_its_band_fails_although_it_meets_a_loose_threshold():
    """The band judges the failing side too: a floor's figure under every traced seed (by more than
    the band allows) fails even where the threshold is looser, and says it is worse, not a leak."""
    for claim, value in ((LOOSE_FLOOR, 0.80), (LOOSE_CEILING, 330.0)):
        assert judge.meets(value, claim.threshold, claim.direction)
        verdict = judge.judge(claim, value)
        assert verdict.ok is False and judge.passes(claim, value) is False
        assert "worse than every traced seed" in verdict.reason and "leakage" not in verdict.reason
        assert verdict.reason.startswith("outside the band [")
    assert judge.passes(LOOSE_FLOOR, 0.85) and judge.passes(LOOSE_CEILING, 230.0)


def test_a_deterministic_figure_outside_its_band_fails_as_moved():
    """An ``==`` figure within its tolerance but outside the band of its (identical) traced seeds
    fails, and the reason says a deterministic figure moved; the band's edges themselves pass."""
    lo, hi = judge.claim_band(AR_LIKE)
    assert lo < 0.4129 < hi
    for value in (hi + 1e-4, lo - 1e-4):
        verdict = judge.judge(AR_LIKE, value)
        assert verdict.ok is False and judge.passes(AR_LIKE, value) is False
        assert "deterministic figure moved" in verdict.reason
        assert verdict.reason.startswith(f"outside the band [{lo:.6g}, {hi:.6g}]")
    assert judge.passes(AR_LIKE, lo) and judge.passes(AR_LIKE, hi)


def test_the_judges_reason_is_empty_on_a_pass_and_names_the_missed_threshold():
    """``Judgement.reason`` is "" when the figure passes (with or without a band); a miss names the
    direction and threshold, and the tolerance only for an ``==`` figure."""
    assert judge.judge(FLOOR, 0.848).reason == ""
    assert judge.judge(_claim(threshold=0.82, direction=">="), 0.9).reason == ""
    assert judge.judge(FLOOR, 0.80).reason == "misses the threshold >= 0.82"
    assert judge.judge(AR_LIKE, 0.5).reason == "misses the threshold == 0.4129 within 0.01"


def test_a_claim_without_a_threshold_cannot_be_judged():
    """A direction without a threshold is refused with one line naming the claim, not a TypeError."""
    with pytest.raises(ValueError, match=r"10\.9/judge-example \(part None\) has no threshold"):
        judge.judge(_claim(direction=">="), 0.9)


def test_the_judges_refusals_say_what_is_wrong():
    """Bad input to the judge is refused with a one-line message naming the problem."""
    with pytest.raises(ValueError, match=r"^direction '==' needs a tolerance$"):
        judge.meets(1.0, 1.0, "==")
    with pytest.raises(ValueError, match=r"direction must be one of .* not '>'"):
        judge.meets(1.0, 1.0, ">")
    with pytest.raises(ValueError, match=r"^no values to judge$"):
        judge.statistic([])
    with pytest.raises(ValueError, match="only a floor or a ceiling is derived from a band, not '=='"):
        judge.derived_threshold((0.1, 0.2), "==")


def test_derived_thresholds_round_outward_to_four_decimals():
    """A floor is the band's lower edge rounded down, a ceiling its upper edge rounded up (never
    inward, which would fail a traced seed), and a stricter reference replaces the edge."""
    band_ = (0.812345, 0.956789)
    assert judge.derived_threshold(band_, ">=") == 0.8123
    assert judge.derived_threshold(band_, "<=") == 0.9568
    assert judge.derived_threshold(band_, ">=", reference=0.83) == 0.83
    assert judge.derived_threshold(band_, "<=", reference=0.90) == 0.90
    assert judge.derived_threshold((0.8123, 0.9568), ">=") == 0.8123  # already on the grid: kept


def test_config_needs_counts_band_widths_outside_each_configuration():
    """``config_needs``: for every configuration with two or more seeds (the first one's absence
    does not stop the others), how many of its own widths the other configurations lie outside,
    with a deterministic configuration's width floored at REL_FLOOR of its size."""
    needs = judge.config_needs({"single": [1.0], "pair": [1.0, 1.2], "below": [0.9, 0.9]})
    assert set(needs) == {"pair", "below"}
    assert needs["pair"] == pytest.approx(0.5)  # 0.9 lies 0.1 under [1.0, 1.2]: half a width
    assert needs["below"] == pytest.approx(0.3 / (judge.REL_FLOOR * 1.0))
    large = judge.config_needs({"a": [100.0, 100.0], "b": [100.02]})
    assert large["a"] == pytest.approx(0.02 / (judge.REL_FLOOR * 100.0))
    small = judge.config_needs({"a": [0.5, 0.5], "b": [0.5002]})
    assert small["a"] == pytest.approx(0.0002 / judge.REL_FLOOR)
    assert judge.config_needs({"a": [1.0, 1.2], "b": [1.1, 1.15]}) == {"a": 0.0, "b": pytest.approx(0.1 / 0.05)}


def test_a_part_reports_its_own_book_figure_and_falls_back_to_the_claims():
    """A part's ``book_value`` is its own where it states one, else the claim's."""
    claim = claims.Claim(
        id="10.9/judge-example",
        kind="empirical",
        statement="a claim built for the judge's checks",
        tests=(),
        book_value=0.9,
        threshold=0.8,
        direction=">=",
        extra={"parts": {"own": {"book_value": 0.76, "threshold": 0.7}, "inherits": {"threshold": 0.7}}},
    )
    assert judge.criterion(claim, "own").book_value == 0.76
    assert judge.criterion(claim, "inherits").book_value == 0.9


def test_the_report_verdict_judges_a_part_by_the_parts_threshold():
    """A report row of a part is judged by that part's threshold, not the claim's."""
    claim = _claim(parts={"lstm": {"threshold": 0.82, "direction": ">="}})
    assert judge.verdict(claim, [0.85, 0.84, 0.86], "lstm") == "pass"
    assert judge.verdict(claim, [0.80, 0.79, 0.81], "lstm") == "FAIL"
    assert judge.verdict(claim, [0.85]) == "n/a"


def test_an_artifact_entry_without_values_adds_no_traced_figure():
    """``traced_values`` reads what the artifacts hold: an entry with no values contributes none
    (as :meth:`Claim.spread_values` reads it), the others all of theirs."""
    claim = _claim(threshold=0.8, direction=">=")
    claim.extra["spread_values"] = {"a__m__t1": {"seeds": []}, "b__m__t1": {"seeds": [0, 1], "values": [0.9, 0.91]}}
    assert judge.traced_values(claim) == [0.9, 0.91]


def test_the_rollup_needs_every_listed_test_and_reads_cases_of_a_test_as_that_test():
    """Passed cases of one test do not stand in for another listed test; every case of a
    parametrised test passing counts as that test passing; a failed case fails the claim."""
    a, b = "tests/x.py::test_a", "tests/x.py::test_b"
    assert judge.claim_status([a, b], [_r(a + "[0]", "passed"), _r(a + "[1]", "passed")]) == "incomplete"
    assert judge.claim_status([a], [_r(a + "[0]", "passed"), _r(a + "[1]", "passed")]) == "passed"
    assert judge.claim_status([a, b], [_r(a, "passed"), _r(b, "failed")]) == "failed"


# ----------------------------------------------------------------------------- the test helpers' contract
def test_run_or_skip_runs_the_named_experiment_with_the_given_or_default_settings():
    """The runner gets the experiment's name and the settings given, or the default RunSettings."""
    from islp_ch10.lab_defaults import RunSettings

    seen = []
    runner = lambda name, settings: seen.append((name, settings)) or ("m",)  # noqa: E731
    assert empirical.run_or_skip("hitters", None, runner=runner) == ["m"]
    assert empirical.run_or_skip("nyse", RunSettings(seed=3), runner=runner) == ["m"]
    assert seen == [("hitters", RunSettings()), ("nyse", RunSettings(seed=3))]


def test_run_or_skip_skips_with_the_loaders_instructions():
    """A missing data set skips with the loader's own message (which file, where, how to get it)."""
    from islp_ch10.data import DataMissing

    missing = DataMissing("toy", "toy.csv", "/nowhere", "fetch it")
    with pytest.raises(pytest.skip.Exception) as info:
        empirical.run_or_skip("toy", None, runner=_raiser(missing))
    assert str(info.value) == str(missing) and "toy.csv" in str(missing) and "fetch it" in str(missing)


def test_pick_returns_the_one_measurement_of_a_claim_and_part():
    """``pick`` finds the measurement of a claim and part; none or two of them fail, saying how many."""
    whole, lstm, other = _measured(0.9, part=None), _measured(0.85), _measured(0.8, part="rnn")
    assert empirical.pick([whole, lstm, other], LSTM_LIKE.id, "lstm") is lstm
    assert empirical.pick([whole, lstm, other], LSTM_LIKE.id) is whole
    with pytest.raises(AssertionError, match=r"^expected one measurement of 10\.5/judge-example \[gru\], got 0$"):
        empirical.pick([whole, lstm], LSTM_LIKE.id, "gru")
    with pytest.raises(AssertionError, match=r"^expected one measurement of 10\.5/judge-example \[lstm\], got 2$"):
        empirical.pick([lstm, lstm], LSTM_LIKE.id, "lstm")


def test_assert_meets_claims_message_states_figure_book_threshold_band_and_reason():
    """A failed figure's message gives the claim and part, the metric and value, seed, epochs and
    path, the book figure, the threshold and the band, then the judge's reason."""
    lo, hi = judge.claim_band(LSTM_LIKE, "lstm")
    with pytest.raises(AssertionError) as info:
        empirical.assert_meets_claim(_measured(0.70), LSTM_LIKE)
    assert str(info.value).splitlines()[0] == (
        f"10.5/judge-example [lstm]: measured accuracy = 0.7 (seed 0, 20 epochs, fast); book None, "
        f"threshold >= 0.82, band [{lo:.6g}, {hi:.6g}]: misses the threshold >= 0.82"
    )
    untraced = _claim(threshold=0.5, direction=">=", cid="10.5/judge-example")
    with pytest.raises(AssertionError) as info:
        empirical.assert_meets_claim(_measured(0.4, part=None), untraced)
    assert str(info.value).splitlines()[0] == (
        "10.5/judge-example: measured accuracy = 0.4 (seed 0, 20 epochs, fast); book None, "
        "threshold >= 0.5, no traced band: misses the threshold >= 0.5"
    )


def test_assert_meets_claim_judges_by_the_catalogue_when_no_claim_is_given():
    """Without a claim, the measurement's own catalogue entry judges it."""
    cid = "10.9/hitters-mae"
    claim = claims.get(cid)
    part = claim.judged_parts()[0]
    c = judge.criterion(claim, part)
    lo, hi = judge.claim_band(claim, part) or (c.threshold, c.threshold)
    inside = (lo + hi) / 2 if judge.claim_band(claim, part) else c.threshold
    measured = SimpleNamespace(claim=cid, part=part, metric="mae", value=inside, seed=0, epochs=1, path="fast")
    empirical.assert_meets_claim(measured)
    far = SimpleNamespace(
        claim=cid, part=part, metric="mae", value=1e9 if c.direction == "<=" else -1e9, seed=0, epochs=1, path="fast"
    )
    with pytest.raises(AssertionError, match=re.escape(cid)):
        empirical.assert_meets_claim(far)
