"""Running an experiment from a test and judging it against the catalogue.

The slow tests and ``islp-ch10 reproduce`` call the same functions in
:mod:`islp_ch10.experiments`; this module only adds what a test needs: a skip (with the loader's
instructions) when the data is absent, a per-process cache so an experiment that measures
several claims runs once, and an assertion message that states book figure, threshold, band and
measurement.  Broken variants of both helpers live in :mod:`islp_ch10.testing.judge_zoo`.
"""

from __future__ import annotations

from functools import cache

import pytest

from islp_ch10 import claims, experiments, judge
from islp_ch10.lab_defaults import RunSettings


@cache
def _run_cached(name: str, settings: RunSettings):
    return tuple(experiments.run(name, settings))


def run_or_skip(name: str, settings: RunSettings | None = None, runner=None) -> list:
    """The experiment's measurements; ``pytest.skip`` with the loader's message if data is absent.

    Only :class:`islp_ch10.data.DataMissing` skips; any other error (a crash in the experiment, a
    missing file that is not a data set) propagates and fails the test.  ``runner`` replaces the
    cached :func:`islp_ch10.experiments.run` (the judge's zoo tests inject one).
    """
    from islp_ch10.data import DataMissing

    runner = runner or _run_cached
    try:
        return list(runner(name, settings or RunSettings()))
    except DataMissing as exc:
        pytest.skip(str(exc))
        raise  # not reached (pytest.skip raises); says so to mypy where pytest's hints are absent (tox -e type)


def pick(measurements: list, claim_id: str, part: str | None = None):
    """The one measurement of ``claim_id`` (and ``part``) among ``measurements``."""
    found = [m for m in measurements if m.claim == claim_id and m.part == part]
    assert len(found) == 1, f"expected one measurement of {claim_id} [{part}], got {len(found)}"
    return found[0]


def assert_meets_claim(measurement, claim=None) -> None:
    """Fail unless the measurement meets its claim's threshold and lies in the band of its traced
    seeds (:mod:`islp_ch10.judge`); the message carries book figure, threshold, band and the reason
    (leakage, for a figure better than the band allows).  ``claim`` defaults to the catalogue's."""
    claim = claim if claim is not None else claims.get(measurement.claim)
    c = judge.criterion(claim, measurement.part)
    b = judge.claim_band(claim, measurement.part)
    label = claim.id + (f" [{measurement.part}]" if measurement.part else "")
    verdict = judge.judge(claim, measurement.value, measurement.part)
    band = f", band [{b[0]:.6g}, {b[1]:.6g}]" if b else ", no traced band"
    assert verdict.ok, (
        f"{label}: measured {measurement.metric} = {measurement.value:.6g} (seed {measurement.seed}, "
        f"{measurement.epochs} epochs, {measurement.path}); book {c.book_value}, threshold {c.direction} "
        f"{c.threshold}{band}: {verdict.reason}"
    )
