"""The judge: how a measured figure is compared with its claim, and how test outcomes roll up.

Every verdict the suite and the report give goes through these functions, so each has broken
variants in :mod:`islp_ch10.testing.judge_zoo` that ``tests/test_judge.py`` rejects by name.
The module imports nothing from the package: a claim is read through its attributes only
(``parts``, ``book_value``, ``threshold``, ``direction``, ``tolerance``, ``extra``, ``tests``).

- :func:`meets`: one figure against one threshold. ``>=`` and ``<=`` include the boundary;
  ``==`` is ``|value - threshold| <= tolerance`` (boundary included) and needs a tolerance.
- :func:`criterion`: the part-versus-claim lookup. A part's own ``threshold`` is the only one
  that judges it (a part without one is not judged); its ``book_value``, ``direction`` and
  ``tolerance`` fall back to the claim's.
- :func:`band`: the two-sided band around a figure's traced per-seed values (the rule below).
- :func:`judge` / :func:`passes`: threshold *and* band; a figure on the good side of the band
  fails with a message naming leakage as the likely cause.
- :func:`claim_status`: a claim's roll-up from its tests' outcomes.
- :func:`statistic` / :func:`verdict`: the report judges the median over seeds.

**The band rule** (stated once here; the catalogue's header and ``spec`` docs cite it).  For the
traced per-seed figures v of one judged figure, over every artifact (machine, thread count)::

    w = max(max(v) - min(v), REL_FLOOR * max(1, max|v|))
    band = [min(v) - K * w, max(v) + K * w]

``REL_FLOOR = 1e-4``: a deterministic figure (every seed equal) gets a width of one unit in the
fourth significant decimal, the precision to which the same code agreed across CPU vendors (AMD
EPYC and Intel Xeon, ``../shared/measurements/README.md``).  ``K`` is derived from the figures
traced in more than one configuration (machine, torch threads): for each configuration with at
least two seeds, the band built from its seeds alone with K = 1 must be stretched by a factor
``need`` to hold every other configuration's seeds; ``K`` is the smallest whole number covering
the largest ``need``.  ``tests/test_spreads.py::test_band_factor_follows_from_the_traced_configurations``
recomputes it from the artifacts: the largest need is 1.35 (MNIST weight decay's error increase,
AMD EPYC 1 thread -> 2 threads; the IMDB LSTM and simple RNN, AMD EPYC -> Intel Xeon, need 0.42
and 0.40), so K = 2.  A new artifact that needs more fails that test and raises K.

**Thresholds of traced figures** follow from the band: a floor (``>=``) is the band's lower
edge, a ceiling (``<=``) its upper edge (rounded outward to four decimals), unless the claim
names a ``reference`` that is stricter: the book's figure (``"book"``), another traced figure it
is ordered against (``"10.9/hitters-mae:least-squares"``: the median of that figure's traced
seeds), or a number the claim's statement defines (a shape criterion such as a peak ratio of 2).
See :func:`derived_threshold`; ``tools/trace_spreads.py`` writes them, ``tests/test_spreads.py``
checks them.  ``==`` figures are judged against the book's figure within its rounding, and
inside their band.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DIRECTIONS = (">=", "<=", "==")
#: The band's half-width in units of the traced spread (see the module docstring for its derivation).
K = 2
#: Width floor for a deterministic figure, relative to its size (four significant decimals).
REL_FLOOR = 1e-4

LEAK_HINT = (
    "better than every traced seed by more than the band allows: the likely cause is leakage "
    "(test rows in the training data, a vocabulary or scaler fitted on the test split, a validation "
    "split that overlaps the test set)"
)


# ----------------------------------------------------------------------------- one comparison
def meets(value: float, threshold: float, direction: str, tolerance: float | None = None) -> bool:
    """Whether ``value`` meets ``threshold`` in ``direction``; the boundary itself meets it."""
    if direction == ">=":
        return value >= threshold
    if direction == "<=":
        return value <= threshold
    if direction == "==":
        if tolerance is None:
            raise ValueError("direction '==' needs a tolerance")
        return abs(value - threshold) <= tolerance
    raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")


# ----------------------------------------------------------------------------- the lookup
@dataclass(frozen=True)
class Criterion:
    book_value: Any
    threshold: float | None
    direction: str | None
    tolerance: float | None


def criterion(claim, part: str | None = None) -> Criterion:
    """The criterion that judges ``claim`` (or its ``part``): a part judges by its own threshold."""
    if part is not None and part in claim.parts:
        p = claim.parts[part]
        return Criterion(
            p.get("book_value", claim.book_value),
            p.get("threshold"),
            p.get("direction", claim.direction),
            p.get("tolerance", claim.tolerance),
        )
    return Criterion(claim.book_value, claim.threshold, claim.direction, claim.tolerance)


def traced_values(claim, part: str | None = None) -> list[float]:
    """Every traced per-seed figure of the claim (or part), over all artifacts."""
    source = claim.parts.get(part, {}) if part is not None else claim.extra
    return [v for entry in source.get("spread_values", {}).values() for v in entry.get("values", [])]


# ----------------------------------------------------------------------------- the band
def band(values: Sequence[float], k: float = K, rel_floor: float = REL_FLOOR) -> tuple[float, float] | None:
    """``[min - k*w, max + k*w]`` with ``w`` the spread, floored for deterministic figures; None if no values."""
    if not values:
        return None
    lo, hi = min(values), max(values)
    width = max(hi - lo, rel_floor * max(1.0, max(abs(v) for v in values)))
    return lo - k * width, hi + k * width


def claim_band(claim, part: str | None = None) -> tuple[float, float] | None:
    """The band of a claim's (or part's) traced figures, None for an untraced figure."""
    return band(traced_values(claim, part))


def _outward(x: float, up: bool) -> float:
    scaled = x * 10**4
    return (math.ceil(scaled - 1e-9) if up else math.floor(scaled + 1e-9)) / 10**4


def derived_threshold(band_: tuple[float, float], direction: str, reference: float | None = None) -> float:
    """The threshold of a traced ``>=``/``<=`` figure: its band's edge on the failing side (rounded
    outward to four decimals), or ``reference`` where that is stricter."""
    if direction == ">=":
        edge = _outward(band_[0], up=False)
        return edge if reference is None else max(edge, reference)
    if direction == "<=":
        edge = _outward(band_[1], up=True)
        return edge if reference is None else min(edge, reference)
    raise ValueError(f"only a floor or a ceiling is derived from a band, not {direction!r}")


def config_needs(per_config: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """For each configuration with two or more seeds: how many of its own band widths (K = 1 units)
    the other configurations' figures lie beyond its seeds' range (0 when all lie inside)."""
    needs = {}
    for name, values in per_config.items():
        if len(values) < 2:
            continue
        lo, hi = min(values), max(values)
        width = max(hi - lo, REL_FLOOR * max(1.0, max(abs(v) for v in values)))
        others = [v for other, vs in per_config.items() if other != name for v in vs]
        needs[name] = max([0.0] + [(lo - v) / width for v in others] + [(v - hi) / width for v in others])
    return needs


# ----------------------------------------------------------------------------- the verdict on one figure
@dataclass(frozen=True)
class Judgement:
    ok: bool
    reason: str  # "" when ok; else why, in one line

    def __bool__(self) -> bool:
        return self.ok


def judge(claim, value: float, part: str | None = None) -> Judgement:
    """Threshold first, then the band: a figure must meet the claim and lie inside its band."""
    c = criterion(claim, part)
    if c.threshold is None or c.direction not in DIRECTIONS:
        raise ValueError(f"claim {claim.id} (part {part}) has no threshold/direction to judge by")
    if not meets(value, c.threshold, c.direction, c.tolerance):
        tol = f" within {c.tolerance}" if c.direction == "==" else ""
        return Judgement(False, f"misses the threshold {c.direction} {c.threshold}{tol}")
    b = claim_band(claim, part)
    if b is None:
        return Judgement(True, "")
    lo, hi = b
    where = f"outside the band [{lo:.6g}, {hi:.6g}] of its traced seeds"
    if (c.direction == ">=" and value > hi) or (c.direction == "<=" and value < lo):
        return Judgement(False, f"{where}: {LEAK_HINT}")
    if c.direction == "==" and not lo <= value <= hi:
        return Judgement(False, f"{where}: a deterministic figure moved; a leak or a changed preprocessing")
    if not lo <= value <= hi:
        return Judgement(False, f"{where}: worse than every traced seed by more than the band allows")
    return Judgement(True, "")


def passes(claim, value: float, part: str | None = None) -> bool:
    return judge(claim, value, part).ok


# ----------------------------------------------------------------------------- the report's statistic
def statistic(values: Sequence[float]) -> float:
    """The figure the report judges: the median over seeds (one odd seed neither makes nor breaks it)."""
    if not values:
        raise ValueError("no values to judge")
    return statistics.median(values)


def verdict(claim, values: Sequence[float], part: str | None = None) -> str:
    """``pass``, ``FAIL`` or ``n/a`` (no threshold) for a report row's per-seed values."""
    if criterion(claim, part).threshold is None:
        return "n/a"
    return "pass" if passes(claim, statistic(values), part) else "FAIL"


# ----------------------------------------------------------------------------- the roll-up
STATUS_ORDER = ("passed", "failed", "xfailed", "incomplete", "skipped", "not run")


def claim_status(tests: Iterable[str], records: Sequence[Mapping] | None) -> str:
    """A claim's roll-up from its tests' outcome records (``{"test": node id, "outcome": ...}``).

    ``failed`` if any test failed or errored; ``xfailed`` if any was an expected failure;
    ``passed`` only when every listed test ran and every recorded case passed, so a skipped case or
    a listed test with no record never counts as passed (``incomplete`` when some passed);
    ``skipped`` / ``not run`` when nothing passed.
    """
    records = list(records or [])
    outcomes = [r["outcome"] for r in records]
    if "failed" in outcomes or "error" in outcomes:
        return "failed"
    if "xfailed" in outcomes:
        return "xfailed"
    passed = [r["test"] for r in records if r["outcome"] == "passed"]

    def ran(test: str) -> bool:
        return any(t == test or t.startswith(test + "[") for t in passed)

    if passed and all(ran(t) for t in tests) and all(o == "passed" for o in outcomes):
        return "passed"
    if passed:
        return "incomplete"
    return "skipped" if outcomes else "not run"
