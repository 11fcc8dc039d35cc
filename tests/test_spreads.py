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
import math
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from islp_ch10 import claims, judge
from islp_ch10.testing import empirical
from islp_ch10.testing.fakes import load_tool

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


# ----------------------------------------------------------------------------- two-sided judgement
FLOORS = [(cid, part) for cid, part in TRACED if claims.get(cid).criterion(part)[2] in (">=", "<=")]


def _configuration(stem: str) -> str:
    """``machine__tN`` of an artifact stem (the experiment name stripped)."""
    return stem.split("__", 1)[1]


def per_configuration(claim: claims.Claim, part: str | None) -> dict[str, list[float]]:
    """The traced figures of one claim (part) grouped by configuration (machine, torch threads)."""
    out: dict[str, list[float]] = {}
    for stem, quoted in claim.spread_values(part).items():
        out.setdefault(_configuration(stem), []).extend(quoted.values())
    return out


def band_factor(needs: list[float]) -> int:
    """The rule for K (islp_ch10.judge): the smallest whole number covering every measured need."""
    return max(1, math.ceil(max(needs, default=0.0) - 1e-9))


def all_needs() -> dict[str, float]:
    return {
        f"{_label(cid, part)} from {config}": need
        for cid, part in TRACED
        for config, need in judge.config_needs(per_configuration(claims.get(cid), part)).items()
    }


def test_band_factor_follows_from_the_traced_configurations():
    """K is recomputed from the artifacts: a band built from one configuration's seeds must hold
    every other configuration's; the largest need, rounded up to a whole number, is K."""
    needs = all_needs()
    assert any(v > 0 for v in needs.values()), "no figure traced in two configurations that differ"
    worst = max(needs, key=needs.get)
    print(f"\nlargest need {needs[worst]:.3f} ({worst}); K = {judge.K}")
    for label, need in sorted(needs.items(), key=lambda kv: -kv[1])[:6]:
        print(f"  {need:.3f}  {label}")
    assert band_factor(list(needs.values())) == judge.K


def test_band_factor_rule_rejects_a_factor_the_figures_do_not_support():
    """Broken variants: K = 1 (the IMDB bands from the AMD seeds miss the Intel seeds once
    threads vary too), and a new configuration whose figures lie 2.3 widths out must raise K."""
    needs = list(all_needs().values())
    assert band_factor(needs) != 1
    assert band_factor([*needs, 2.3]) == 3 != judge.K


ONE_MACHINE_FILE = ROOT / "docs" / "spreads" / "one_machine.toml"


def machines_of(cid: str, part: str | None) -> set[str]:
    """The machine kinds (artifact tags) a traced figure's per-seed figures come from."""
    return {config.split("__")[0] for config in per_configuration(claims.get(cid), part)}


def one_machine_problems(machines: dict[str, set[str]], listed: dict[str, str]) -> list[str]:
    """Where ``one_machine.toml`` and the artifacts disagree about which figures rest on one machine kind."""
    single = {label for label, ms in machines.items() if len(ms) < 2}
    return [
        f"{label}: on one machine kind and not listed in one_machine.toml" for label in sorted(single - set(listed))
    ] + [
        f"{label}: listed in one_machine.toml but traced on {sorted(machines.get(label, set()))}"
        for label in sorted(set(listed) - single)
    ]


def test_figures_resting_on_one_machine_are_listed_as_such():
    """Printed: each traced figure's configurations.  Which figures still rest on one machine kind is
    data (docs/spreads/one_machine.toml, strict both ways), not a sentence that drifts."""
    machines = {}
    for cid, part in TRACED:
        machines[_label(cid, part)] = machines_of(cid, part)
        print(f"  {_label(cid, part)}: {', '.join(sorted(per_configuration(claims.get(cid), part)))}")
    listed = tomllib.loads(ONE_MACHINE_FILE.read_text(encoding="utf-8"))["one_machine"]
    print(f"{sum(len(ms) > 1 for ms in machines.values())} of {len(machines)} traced figures on two machine kinds")
    assert one_machine_problems(machines, listed) == []
    assert all(len(reason) > 20 for reason in listed.values())


def test_one_machine_listing_rejects_a_stale_or_missing_line():
    """Broken variants: a figure traced on two machines still listed; a one-machine figure left out."""
    machines = {"a": {"amd-epyc"}, "b": {"amd-epyc", "intel-r-xeon-r"}}
    assert one_machine_problems(machines, {"a": "why"}) == []
    assert one_machine_problems(machines, {"a": "why", "b": "stale"}) == [
        "b: listed in one_machine.toml but traced on ['amd-epyc', 'intel-r-xeon-r']"
    ]
    assert one_machine_problems(machines, {}) == ["a: on one machine kind and not listed in one_machine.toml"]


# ----------------------------------------------------------------------------- tools/trace_spreads.py
def _trace_tool():
    return load_tool(ROOT / "tools" / "trace_spreads.py")


def test_the_tracing_tool_finds_the_catalogue_up_to_date(capsys):
    """``python tools/trace_spreads.py --check`` runs (it once imported a name a refactor removed) and
    finds nothing to change: every spread line and traced threshold is what the artifacts give."""
    assert _trace_tool().main(["--check"]) == 0, capsys.readouterr().out


def test_the_tracing_tool_reports_a_tampered_spread_line(tmp_path, monkeypatch, capsys):
    """Broken variant: one catalogue spread value off in its last decimal."""
    tool = _trace_tool()
    for p in tool.CATALOGUE.glob("*.toml"):
        (tmp_path / p.name).write_text(p.read_text())
    target = tmp_path / "10_9.toml"
    target.write_text(target.read_text().replace("values = [235.6755]", "values = [235.6756]", 1))
    monkeypatch.setattr(tool, "CATALOGUE", tmp_path)
    assert tool.main(["--check"]) == 1
    assert "10.9/hitters-mae:lasso" in capsys.readouterr().out


def test_quoted_figures_are_read_from_the_measurements_readme():
    """The Intel Xeon's quick-experiment figures, quoted in prose, map to their claims; an unknown
    label stops the import (broken variant: a figure the map does not know)."""
    readme = ROOT.parent / "shared" / "measurements" / "README.md"
    if not readme.exists():
        pytest.skip(f"no {readme}: place the shared measurements folder beside the checkout")
    tool = _trace_tool()
    folder, figures = tool.quoted_figures(readme.read_text())
    assert (readme.parent / folder).is_dir() and set(figures) == set(tool.QUOTED_LABELS)
    for label, value in figures.items():
        experiment, cid, part, _ = tool.QUOTED_LABELS[label]
        assert claims.get(cid).spread_values(part)[f"{experiment}__intel-r-xeon-r__t2"] == {0: value}
    with pytest.raises(SystemExit, match="label 'NYSE RNN' is not one of"):
        tool.quoted_figures(readme.read_text().replace("day-of-week 0.4596", "NYSE RNN 0.4200"))


@pytest.mark.parametrize("cid, part", FLOORS, ids=[_label(*f) for f in FLOORS])
def test_threshold_follows_from_the_band_rule(cid, part):
    """A traced floor/ceiling is the band's edge, or the stricter figure its ``reference`` names."""
    claim = claims.get(cid)
    assert claim.criterion(part)[1] == claim.derived_threshold(part), (
        f"{_label(cid, part)}: threshold {claim.criterion(part)[1]}, the rule gives {claim.derived_threshold(part)} "
        "(python tools/trace_spreads.py writes it)"
    )


def test_threshold_rule_rejects_a_chosen_threshold():
    """Broken variant: the old hand-set imdb-dense floor 0.835 (3.6 seed ranges under the worst seed)."""
    claim = claims.get("10.4/imdb-dense")
    assert dataclasses.replace(claim, threshold=0.835).criterion()[1] != claim.derived_threshold()


@pytest.mark.parametrize("cid, part", FLOORS, ids=[_label(*f) for f in FLOORS])
def test_a_figure_past_the_band_fails_and_names_leakage(cid, part):
    """A figure better than every traced seed by more than the band allows fails, and the message
    names leakage; one just inside the band on the same side passes its band."""
    claim = claims.get(cid)
    lo, hi = claim.band(part)
    direction = claim.criterion(part)[2]
    leak = hi + (hi - lo) if direction == ">=" else lo - (hi - lo)
    measured = SimpleNamespace(claim=cid, part=part, metric="m", value=leak, seed=0, epochs=1, path="fast")
    with pytest.raises(AssertionError, match="leakage"):
        empirical.assert_meets_claim(measured, claim)
    inside = hi if direction == ">=" else lo
    assert judge.judge(claim, inside, part).ok or "threshold" in judge.judge(claim, inside, part).reason


# ----------------------------------------------------------------------------- the book's orderings
def _median(cid: str, part: str | None = None, config: str | None = None) -> float:
    groups = per_configuration(claims.get(cid), part)
    values = groups[config] if config else [v for vs in groups.values() for v in vs]
    return judge.statistic(values)


ORDERINGS = [
    # (what the book says, smaller figure, larger figure)
    ("simple RNN < LSTM on IMDB", ("10.5/imdb-rnn", "rnn"), ("10.5/imdb-rnn", "lstm")),
    ("LSTM < bag-of-words network", ("10.5/imdb-rnn", "lstm"), ("10.4/imdb-dense", None)),
    ("LSTM < lasso logistic regression", ("10.5/imdb-rnn", "lstm"), ("10.4/imdb-lasso", None)),
    ("AR(5) < AR(5) + day of week", ("10.5/ar-vs-rnn", "ar"), ("10.5/day-of-week", None)),
    ("AR(5) < the 12-unit RNN (median of seeds)", ("10.5/ar-vs-rnn", "ar"), ("10.5/ar-vs-rnn", "rnn")),
    ("day-of-week AR <= nonlinear AR", ("10.5/day-of-week", None), ("10.5/nonlinear-ar", None)),
    (
        "network MAE < least squares (as the lab prints them)",
        ("10.9/hitters-mae", "network"),
        ("10.9/hitters-mae", "least-squares"),
    ),
    ("lasso MAE < least squares", ("10.9/hitters-mae", "lasso"), ("10.9/hitters-mae", "least-squares")),
    ("multinomial logistic regression < the MLP on MNIST", ("10.9/mnist-mlr", None), ("10.9/mnist-mlp", None)),
]


def ordering_problems(median=_median) -> list[str]:
    return [f"{what}: {median(*a):.4f} vs {median(*b):.4f}" for what, a, b in ORDERINGS if not median(*a) < median(*b)]


def test_book_orderings_hold_in_the_traced_figures():
    """The orderings the book states, on the median of every traced seed (the per-seed exceptions
    are deviations in the catalogue: the RNN's seed 0 is 0.0006 under the AR's 0.4129)."""
    assert ordering_problems() == []


def test_ordering_check_rejects_swapped_figures():
    """Broken variant: the LSTM's and the simple RNN's figures swapped (a mislabelled artifact)."""

    def swapped(cid, part=None, config=None):
        swap = {("10.5/imdb-rnn", "rnn"): "lstm", ("10.5/imdb-rnn", "lstm"): "rnn"}
        return _median(cid, swap.get((cid, part), part), config)

    assert ordering_problems(swapped)


def test_the_bands_table_has_a_row_per_traced_figure():
    """``trace_spreads.py --bands`` (the closing note's table): one row per traced figure, its band
    as the judge computes it."""
    rows = {line.split(" | ")[0].lstrip("| "): line for line in _trace_tool().bands_table().splitlines()[2:]}
    assert set(rows) == {_label(*f) for f in TRACED}
    for cid, part in TRACED:
        lo, hi = claims.get(cid).band(part)
        assert f"[{lo:.6g}, {hi:.6g}]" in rows[_label(cid, part)]
