"""The claim catalogue: every claim ID of chapter 10, read from data files.

The catalogue lives in ``islp_ch10/catalogue/*.toml`` (one file per book section, each a
list of ``[[claim]]`` tables).  Fields:

``id``            the ID used in ``CLAIMS.md`` (e.g. ``"10.3/maxpool-example"``)
``kind``          ``exact``, ``property`` or ``empirical`` (as in CLAIMS.md; ``"exact + empirical"`` allowed)
``statement``     one line, our own words
``tests``         pytest node ids (``tests/test_10_3_cnn.py::test_maxpool_example``) that check it
``book_value``    optional: the figure the book states (number or string)
``tolerance``     optional: absolute tolerance for a comparison with ``book_value``
``erratum``       optional: what the source notes get wrong; the tests check the corrected statement
``threshold``     empirical only: the figure the test asserts (``direction`` says >=, <= or ==;
                  ``==`` is for a deterministic figure, judged within ``tolerance`` of the threshold)
``judged``        empirical only: what is judged (which epoch, which seed or median), in words
``seeds``         empirical only: the seeds whose spread was measured
``spread``        empirical only: the measured figures per seed, or their range, in words
``spread_values`` optional: the per-seed figures as data, one table per artifact of
                  ``docs/spreads/`` (``{"<artifact stem>": {seeds = [...], values = [...]}}``);
                  ``tests/test_spreads.py`` checks them against the artifact files.  A traced
                  figure is judged two-sided: inside the band :func:`islp_ch10.judge.band` derives
                  from these values (one rule for every figure), as well as against its threshold
``margin_why``    empirical only: why the threshold sits where it does relative to the spread
``deviation``     optional: where the book's figure does not reproduce, what does
``reference``     optional, traced floors/ceilings: a stricter figure the threshold is held to than
                  the band's edge: ``"book"``, another figure ``"ID[:part]"`` (its traced median)
                  or a number the statement defines (:func:`islp_ch10.judge.derived_threshold`)
``parts``         optional: ``[claim.parts.NAME]`` tables (book_value, threshold, direction,
                  tolerance, spread_values) for a claim that states several figures

Tests read book figures through :func:`get`; the catalogue is the only place they live.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from islp_ch10 import judge

KINDS = {"exact", "property", "empirical"}
ID_PATTERN = re.compile(r"^10\.\d/[a-z0-9][a-z0-9-]*$")
FIGURE_PATTERN = re.compile(r"^10\.\d/[a-z0-9][a-z0-9-]*(:[a-z0-9-]+)?$")


@dataclass(frozen=True)
class Claim:
    id: str
    kind: str
    statement: str
    tests: tuple[str, ...]
    book_value: Any = None
    tolerance: float | None = None
    erratum: str | None = None
    threshold: float | None = None
    direction: str | None = None
    seeds: tuple[int, ...] = ()
    spread: Any = None
    margin_why: str | None = None
    deviation: str | None = None
    judged: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def section(self) -> str:
        return self.id.split("/")[0]

    @property
    def kinds(self) -> set[str]:
        return {k.strip() for k in re.split(r"[+/]", self.kind)}

    @property
    def is_empirical(self) -> bool:
        return "empirical" in self.kinds

    @property
    def parts(self) -> dict[str, dict]:
        """Sub-figures of a claim that states several (``[claim.parts.NAME]`` tables)."""
        return self.extra.get("parts", {})

    def criterion(self, part: str | None = None) -> tuple[Any, float | None, str | None]:
        """``(book_value, threshold, direction)`` for the claim or one of its parts (``None`` where unset)."""
        c = judge.criterion(self, part)
        return c.book_value, c.threshold, c.direction

    def _field(self, name: str, part: str | None):
        if part in self.parts and name in self.parts[part]:
            return self.parts[part][name]
        return self.extra.get(name, getattr(self, name, None))

    def passes(self, measured: float, part: str | None = None) -> bool:
        """Whether a measured figure meets this empirical claim's (or part's) threshold and lies in its band."""
        return judge.passes(self, measured, part)

    def band(self, part: str | None = None) -> tuple[float, float] | None:
        """The two-sided band around the traced per-seed figures (:func:`islp_ch10.judge.band`'s rule)."""
        return judge.claim_band(self, part)

    def reference_value(self, part: str | None = None) -> float | None:
        """The figure named by ``reference`` (the book's, another traced figure's median, or a number)."""
        ref = self._field("reference", part)
        if ref is None:
            return None
        if ref == "book":
            return float(self.criterion(part)[0])
        if isinstance(ref, str):
            cid, _, other = ref.partition(":")
            return judge.statistic(judge.traced_values(get(cid), other or None))
        return float(ref)

    def derived_threshold(self, part: str | None = None) -> float | None:
        """The threshold the band rule gives this traced floor/ceiling (None for an untraced or ``==`` figure)."""
        b, direction = self.band(part), self.criterion(part)[2]
        if b is None or direction not in (">=", "<="):
            return None
        return judge.derived_threshold(b, direction, self.reference_value(part))

    def spread_values(self, part: str | None = None) -> dict[str, dict[int, float]]:
        """Per-seed figures of the claim (or part) by artifact stem: ``{stem: {seed: value}}``."""
        source = self.parts.get(part, self.extra) if part is not None else self.extra
        table = source.get("spread_values", {})
        out = {}
        for stem, entry in table.items():
            seeds, values = entry.get("seeds", []), entry.get("values", [])
            if len(seeds) != len(values):
                raise ValueError(
                    f"claim {self.id} [{part}]: spread_values.{stem} has {len(seeds)} seeds but {len(values)} values"
                )
            out[stem] = dict(zip(seeds, values))
        return out

    def judged_parts(self) -> list[str | None]:
        """The parts with their own threshold, or ``[None]`` for a claim judged as a whole."""
        parts: list[str | None] = [name for name, p in self.parts.items() if "threshold" in p]
        return parts or [None]


DIRECTIONS = judge.DIRECTIONS
_KNOWN = {f for f in Claim.__dataclass_fields__ if f != "extra"}


def _claim_from_table(table: dict, source: str) -> Claim:
    missing = {"id", "kind", "statement", "tests"} - table.keys()
    if missing:
        raise ValueError(f"{source}: claim {table.get('id', '?')} lacks {sorted(missing)}")
    cid = table["id"]
    if not ID_PATTERN.match(cid):
        raise ValueError(f"{source}: malformed claim id {cid!r}")
    kinds = {k.strip() for k in re.split(r"[+/]", table["kind"])}
    if not kinds <= KINDS:
        raise ValueError(f"{source}: claim {cid} has unknown kind {table['kind']!r}")
    for where, t in [("", table), *((f" part {k}", v) for k, v in table.get("parts", {}).items())]:
        if t.get("direction") not in (None, *DIRECTIONS):
            raise ValueError(f"{source}: claim {cid}{where} direction must be one of {DIRECTIONS}")
        if t.get("direction") == "==" and "tolerance" not in t:
            raise ValueError(f"{source}: claim {cid}{where} has direction '==' but no tolerance")
        ref = t.get("reference")
        if ref is not None and not (
            ref == "book" or isinstance(ref, int | float) or (isinstance(ref, str) and FIGURE_PATTERN.match(ref))
        ):
            raise ValueError(f"{source}: claim {cid}{where} reference must be 'book', a number or 'ID[:part]'")
    known = {k: v for k, v in table.items() if k in _KNOWN}
    known["tests"] = tuple(known["tests"])
    known["seeds"] = tuple(known.get("seeds", ()))
    extra = {k: v for k, v in table.items() if k not in _KNOWN}
    return Claim(**known, extra=extra)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Claim]:
    """Every claim, keyed by ID, from all ``catalogue/*.toml`` files (validated)."""
    claims: dict[str, Claim] = {}
    folder = resources.files("islp_ch10") / "catalogue"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for table in data.get("claim", []):
            claim = _claim_from_table(table, entry.name)
            if claim.id in claims:
                raise ValueError(f"claim {claim.id} is defined twice (second time in {entry.name})")
            claims[claim.id] = claim
    return claims


def get(claim_id: str) -> Claim:
    """One claim by ID; a KeyError names the unknown ID."""
    try:
        return catalogue()[claim_id]
    except KeyError:
        raise KeyError(f"claim {claim_id!r} is not in the catalogue (islp_ch10/catalogue/*.toml)") from None


def book_value(claim_id: str) -> Any:
    value = get(claim_id).book_value
    if value is None:
        raise KeyError(f"claim {claim_id} has no book_value in the catalogue")
    return value


_ROW = re.compile(r"^\|\s*(10\.\d/[a-z0-9-]+)\s*\|(.*)\|\s*([^|]+?)\s*\|\s*$")


def claims_md_ids(path: str | Path) -> dict[str, str]:
    """IDs of a CLAIMS.md file mapped to the text of their row (claim and kind)."""
    rows: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line.strip())
        if m:
            rows[m.group(1)] = m.group(2) + "|" + m.group(3)
    return rows


# ----------------------------------------------------------------------------- roll-up of test outcomes
STATUS_ORDER = ("passed", "failed", "xfailed", "incomplete", "skipped", "not run")


def claim_status(claim: Claim, records: list[dict] | None) -> str:
    """A claim's roll-up from its test outcomes (``pytest --claims-report`` records): the judge's
    rule, :func:`islp_ch10.judge.claim_status`, over the tests the catalogue lists for it."""
    return judge.claim_status(claim.tests, records)
