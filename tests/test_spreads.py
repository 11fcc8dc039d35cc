"""Provenance of the catalogue's spreads: every per-seed figure it states comes from an artifact.

``islp-ch10 sweep EXPERIMENT --seeds ...`` writes ``docs/spreads/<experiment>__<machine>__t<n>.json``;
a claim (or part) names its artifacts in ``spread_values`` with the figures it quotes.  These tests
check that each quoted figure is the artifact's value (rounded to the digits the catalogue
shows), that the threshold sits on the right side of every traced seed, and that a claim with no
artifact yet is listed, with a reason, in ``docs/spreads/untraced.toml``.  Broken catalogues
(a figure that disagrees with its artifact, a threshold inside the spread) are rejected.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import pytest

from islp_ch10 import claims

ROOT = Path(__file__).resolve().parents[1]
UNTRACED_FILE = ROOT / "docs" / "spreads" / "untraced.toml"


def _label(cid: str, part: str | None) -> str:
    return cid if part is None else f"{cid}:{part}"


def judged_figures() -> list[tuple[str, str | None]]:
    """``(claim id, part)`` of every empirical figure the catalogue judges against a threshold."""
    return [
        (c.id, part)
        for c in claims.catalogue().values()
        if c.is_empirical
        for part in c.judged_parts()
        if c.criterion(part)[1] is not None
    ]


def untraced() -> dict[str, str]:
    """``{"claim" or "claim:part": reason}`` for the figures whose spread has no artifact yet."""
    return tomllib.loads(UNTRACED_FILE.read_text(encoding="utf-8"))["untraced"]


def artifact_values(path: Path, cid: str, part: str | None) -> dict[int, float]:
    """``{seed: value}`` of one claim (part) in a sweep artifact."""
    runs = json.loads(path.read_text(encoding="utf-8"))["runs"]
    return {r["seed"]: r["value"] for r in runs if r["claim"] == cid and r.get("part") == part}


def _decimals(x: float) -> int:
    text = repr(float(x))
    if "e" in text:
        mantissa, exp = text.split("e")
        return max(0, len(mantissa.partition(".")[2].rstrip("0")) - int(exp))
    return len(text.partition(".")[2].rstrip("0"))


def provenance_problems(claim: claims.Claim, part: str | None) -> list[str]:
    """Where the catalogue's per-seed figures disagree with their artifacts."""
    problems = []
    for stem, quoted in claim.spread_values(part).items():
        path = ROOT / "docs" / "spreads" / f"{stem}.json"
        if not path.exists():
            problems.append(f"{stem}: no artifact {path.relative_to(ROOT)}")
            continue
        measured = artifact_values(path, claim.id, part)
        for seed, value in quoted.items():
            if seed not in measured:
                problems.append(f"{stem}: seed {seed} is not in the artifact (it has {sorted(measured)})")
            elif round(measured[seed], _decimals(value)) != value:
                problems.append(f"{stem}: seed {seed} quoted {value}, artifact {measured[seed]}")
    return problems


def threshold_problems(claim: claims.Claim, part: str | None) -> list[str]:
    """Traced seeds that the claim's own threshold would fail: a threshold inside the spread."""
    _, threshold, direction = claim.criterion(part)
    return [
        f"{stem} seed {seed}: {value} does not meet {direction} {threshold}"
        for stem, quoted in claim.spread_values(part).items()
        for seed, value in quoted.items()
        if not claim.passes(value, part)
    ]


TRACED = [(cid, part) for cid, part in judged_figures() if claims.get(cid).spread_values(part)]


def test_every_judged_figure_is_traced_or_listed_untraced():
    """One place says which spreads have no artifact yet, and why; the list is printed."""
    listed = untraced()
    traced = {_label(*f) for f in TRACED}
    figures = {_label(*f) for f in judged_figures()}
    assert not set(listed) - figures, f"untraced.toml names unknown figures: {sorted(set(listed) - figures)}"
    assert not set(listed) & traced, f"traced and listed untraced: {sorted(set(listed) & traced)}"
    assert not figures - traced - set(listed), (
        f"spread neither traced nor listed untraced: {sorted(figures - traced - set(listed))}"
    )
    assert all(len(reason) > 20 for reason in listed.values())
    print(f"\n{len(traced)} figures traced to artifacts, {len(listed)} untraced:")
    for label, reason in sorted(listed.items()):
        print(f"  untraced {label}: {reason}")


@pytest.mark.parametrize("cid, part", TRACED, ids=[_label(*f) for f in TRACED])
def test_catalogue_figures_equal_their_artifacts(cid, part):
    assert not provenance_problems(claims.get(cid), part)


@pytest.mark.parametrize("cid, part", TRACED, ids=[_label(*f) for f in TRACED])
def test_threshold_is_met_by_every_traced_seed(cid, part):
    """A threshold set from the spread lies outside it: every traced seed passes (the worst one too)."""
    assert not threshold_problems(claims.get(cid), part)


def _tampered(claim: claims.Claim, part: str | None, change) -> claims.Claim:
    """A copy of ``claim`` whose spread_values (of ``part``) went through ``change``."""
    extra = json.loads(json.dumps(claim.extra))
    table = extra["parts"][part] if part else extra
    table["spread_values"] = change(table["spread_values"])
    return dataclasses.replace(claim, extra=extra)


def test_checks_reject_a_catalogue_that_disagrees_with_its_artifact():
    """Broken variants: a quoted seed nudged by 0.01, a seed the artifact lacks, a missing artifact,
    and a threshold moved past the worst traced seed."""
    assert TRACED, "no traced figure in the catalogue to tamper with"
    cid, part = TRACED[0]
    claim = claims.get(cid)

    def nudge(sv):
        stem = next(iter(sv))
        sv[stem]["values"][0] = round(sv[stem]["values"][0] + 0.01, 6)
        return sv

    def extra_seed(sv):
        stem = next(iter(sv))
        sv[stem]["seeds"].append(999)
        sv[stem]["values"].append(sv[stem]["values"][0])
        return sv

    def renamed(sv):
        return {f"{stem}__nowhere": v for stem, v in sv.items()}

    for change in (nudge, extra_seed, renamed):
        assert provenance_problems(_tampered(claim, part, change), part), change.__name__

    _, threshold, direction = claim.criterion(part)
    values = [v for q in claim.spread_values(part).values() for v in q.values()]
    inside = {">=": max(values) + 1, "<=": min(values) - 1, "==": threshold + 1}[direction]
    moved = (
        dataclasses.replace(claim, threshold=inside)
        if part is None
        else dataclasses.replace(
            claim, extra={**claim.extra, "parts": {**claim.parts, part: {**claim.parts[part], "threshold": inside}}}
        )
    )
    assert threshold_problems(moved, part)
