"""Running an experiment from a test and judging it against the catalogue.

The slow tests and ``islp-ch10 reproduce`` call the same functions in
:mod:`islp_ch10.experiments`; this module only adds what a test needs: a skip (with the loader's
instructions) when the data is absent, a per-process cache so an experiment that measures
several claims runs once, and an assertion message that states book figure, threshold and
measurement.
"""

from __future__ import annotations

from functools import cache

import pytest

from islp_ch10 import claims, experiments
from islp_ch10.lab_defaults import RunSettings


@cache
def _run_cached(name: str, settings: RunSettings):
    return tuple(experiments.run(name, settings))


def run_or_skip(name: str, settings: RunSettings | None = None) -> list:
    """The experiment's measurements; ``pytest.skip`` with the loader's message if data is absent."""
    from islp_ch10.data import DataMissing

    try:
        return list(_run_cached(name, settings or RunSettings()))
    except DataMissing as exc:
        pytest.skip(str(exc))
        raise  # not reached (pytest.skip raises); says so to mypy where pytest's hints are absent (tox -e type)


def pick(measurements: list, claim_id: str, part: str | None = None):
    """The one measurement of ``claim_id`` (and ``part``) among ``measurements``."""
    found = [m for m in measurements if m.claim == claim_id and m.part == part]
    assert len(found) == 1, f"expected one measurement of {claim_id} [{part}], got {len(found)}"
    return found[0]


def assert_meets_claim(measurement) -> None:
    """Fail unless the measurement meets its claim's threshold; the message carries the context."""
    claim = claims.get(measurement.claim)
    book, threshold, direction = claim.criterion(measurement.part)
    label = claim.id + (f" [{measurement.part}]" if measurement.part else "")
    assert claim.passes(measurement.value, measurement.part), (
        f"{label}: measured {measurement.metric} = {measurement.value:.6g} (seed {measurement.seed}, "
        f"{measurement.epochs} epochs, {measurement.path}); book {book}, threshold {direction} {threshold}"
    )
