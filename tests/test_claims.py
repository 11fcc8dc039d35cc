"""The catalogue, CLAIMS.md and the tests agree: every claim is covered by a test that exists.

Reads files and parses test modules with ``ast``; imports no test module.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from islp_ch10 import claims, judge

ROOT = Path(__file__).resolve().parents[1]
VENDORED_SPEC = ROOT / "spec" / "CLAIMS.md"
SHARED_SPEC = ROOT.parent / "shared" / "spec" / "CLAIMS.md"
SPEC = SHARED_SPEC if SHARED_SPEC.exists() else VENDORED_SPEC

# Where CLAIMS.md lists an erratum, the claim whose test checks the corrected statement, and a
# word of the correct form its catalogue entry must contain.
ERRATA = {
    "10.7/backprop": "g(z_ik)",
    "10.7/dropout": "inverted",
    "10.5/rnn-formula": "K",
    "10.2/softmax": "qualitative",
    "10.9/mnist-mlr": "logistic",
    # revision 2
    "10.4/sparsity": "mostly zeros",
    "10.9/hitters-layer-params": "no parameters",
    "10.9/mnist-batches": "training data",
    "10.9/error-tracker": "turns dropout off",
    "10.5/doc-rnn-params": "vanishing and exploding",
}
EXPECTED_ERRATA = 10


def _claim_markers(path: Path) -> dict[str, list[str]]:
    """test function name -> claim IDs of its ``@pytest.mark.claim(...)`` decorators."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ids = []
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and ast.unparse(deco.func).endswith("mark.claim"):
                    ids += [a.value for a in deco.args if isinstance(a, ast.Constant)]
            found[node.name] = ids
    return found


@functools.cache  # read-only for its callers; the test files are parsed once per process
def _test_functions() -> dict[str, dict[str, list[str]]]:
    found = {str(p.relative_to(ROOT)): _claim_markers(p) for p in sorted((ROOT / "tests").glob("test_*.py"))}
    # the judged test of test_experiments.py is parametrized over the experiment registry: its claim
    # markers are the claims the experiments declare
    from islp_ch10 import experiments

    declared = sorted({claim for e in experiments.EXPERIMENTS.values() for claim in e.claims})
    found["tests/test_experiments.py"]["test_measurement_meets_its_claim"] = declared
    return found


def test_catalogue_ids_equal_claims_md_ids():
    spec_ids = set(claims.claims_md_ids(SPEC))
    cat_ids = set(claims.catalogue())
    assert spec_ids, f"no claim rows parsed from {SPEC}"
    assert not spec_ids - cat_ids, f"IDs in CLAIMS.md missing from the catalogue: {sorted(spec_ids - cat_ids)}"
    assert not cat_ids - spec_ids, f"catalogue IDs not in CLAIMS.md: {sorted(cat_ids - spec_ids)}"


@pytest.mark.skipif(not SHARED_SPEC.exists(), reason="no ../shared/spec/CLAIMS.md beside the checkout to compare")
def test_vendored_spec_is_current():
    assert VENDORED_SPEC.read_text(encoding="utf-8") == SHARED_SPEC.read_text(encoding="utf-8"), (
        "spec/CLAIMS.md differs from ../shared/spec/CLAIMS.md: copy the new spec in and update the catalogue"
    )


def test_every_catalogue_test_exists():
    functions = _test_functions()
    missing = []
    for claim in claims.catalogue().values():
        assert claim.tests, f"{claim.id} names no test"
        for node in claim.tests:
            file, _, name = node.partition("::")
            name = name.split("[")[0].split("::")[-1]
            if file not in functions or name not in functions[file]:
                missing.append(f"{claim.id} -> {node}")
    assert not missing, "catalogue points at tests that do not exist:\n" + "\n".join(missing)


def test_claim_markers_and_catalogue_agree():
    """A test marked with a claim is listed under it, and a listed test carries the marker."""
    listed = {(cid, node.split("[")[0]) for cid, c in claims.catalogue().items() for node in c.tests}
    marked = {
        (cid, f"{file}::{fn}") for file, fns in _test_functions().items() for fn, ids in fns.items() for cid in ids
    }
    assert not marked - listed, f"marked but not in the catalogue: {sorted(marked - listed)}"
    assert not listed - marked, f"in the catalogue but the test lacks the claim marker: {sorted(listed - marked)}"


def _number_forms(value) -> set[str]:
    if isinstance(value, bool):
        return set()
    if isinstance(value, int):
        return {str(value), f"{value:,}"}
    if isinstance(value, float):
        return {repr(value), f"{value:g}", f"{value:.2f}", f"{value:.0%}", f"{value * 100:g}%"}
    return set()


def test_numeric_book_values_appear_in_their_claims_md_row():
    """The catalogue cannot drift towards what the code produces: each book figure is the spec's."""
    rows = claims.claims_md_ids(SPEC)
    bad = []
    for claim in claims.catalogue().values():
        values = claim.book_value if isinstance(claim.book_value, list) else [claim.book_value]
        for value in values:
            forms = _number_forms(value)
            if forms and not any(f in rows.get(claim.id, "") for f in forms):
                bad.append(f"{claim.id}: {value!r}")
    assert not bad, "book_value not found in the CLAIMS.md row: " + ", ".join(bad)


def test_empirical_claims_record_threshold_and_seed_spread():
    incomplete = []
    for claim in claims.catalogue().values():
        if not claim.is_empirical:
            continue
        if claim.extra.get("unmeasured"):  # must say why and how it would be measured
            assert len(claim.extra["unmeasured"]) > 40, f"{claim.id}: 'unmeasured' needs a real reason"
            continue
        gaps = [f for f in ("threshold", "direction", "spread", "margin_why") if getattr(claim, f) is None]
        gaps += [f"{f} (still TBD)" for f in ("spread", "margin_why") if getattr(claim, f) == "TBD"]
        if len(claim.seeds) < 3 and not claim.extra.get("deterministic"):
            gaps.append("seeds (>= 3, or a 'deterministic' reason)")
        if gaps:
            incomplete.append(f"{claim.id}: {', '.join(gaps)}")
    assert not incomplete, "empirical claims without a justified threshold:\n" + "\n".join(incomplete)


@pytest.mark.parametrize("claim_id, correct_word", sorted(ERRATA.items()))
def test_errata_recorded(claim_id, correct_word):
    erratum = claims.get(claim_id).erratum
    assert erratum, f"{claim_id}: CLAIMS.md lists an erratum for it, the catalogue records none"
    assert correct_word in erratum, f"{claim_id}: erratum text should state the correct form ({correct_word})"


def _spec_errata_bullets() -> list[str]:
    """The bullet lines of CLAIMS.md's errata lists (the first list and revision 2's)."""
    bullets, inside = [], False
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        if line.startswith(("## Errata", "Errata found in revision")):
            inside = True
        elif line.startswith(("#", "|")):
            inside = False
        elif inside and line.startswith("- "):
            bullets.append(line)
    return bullets


def test_errata_count():
    """CLAIMS.md lists ten errata and each has its claim in ERRATA (test_errata_recorded checks them)."""
    assert len(_spec_errata_bullets()) == EXPECTED_ERRATA, _spec_errata_bullets()
    assert len(ERRATA) == EXPECTED_ERRATA


def test_quantitative_output_erratum_recorded():
    """10.2's 'quantitative output' slip is recorded on some 10.2 claim."""
    assert any(c.erratum and "qualitative" in c.erratum for c in claims.catalogue().values() if c.section == "10.2")


def test_reference_modules_never_import_torch():
    """The numpy references must stay independent of the code they check."""
    offenders = []
    for path in sorted((ROOT / "islp_ch10" / "reference").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(re.match(r"(torch|pytorch_lightning|lightning)\b", n) for n in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"reference modules import torch: {offenders}"


def test_unknown_claim_id_is_rejected():
    with pytest.raises(KeyError, match="not in the catalogue"):
        claims.get("10.3/no-such-claim")


# ----------------------------------------------------------------------------- the loader's and the Claim's contract
def _table(**fields):
    return {
        "id": "10.9/loader-example",
        "kind": "empirical",
        "statement": "a claim for the loader",
        "tests": ["t"],
    } | fields


def test_the_loader_refuses_a_claim_without_its_required_fields():
    """A catalogue entry without id, kind, statement or tests is refused, naming the file, the claim
    and every missing field."""
    table = _table()
    del table["statement"], table["tests"]
    with pytest.raises(ValueError, match=r"^x\.toml: claim 10\.9/loader-example lacks \['statement', 'tests'\]$"):
        claims._claim_from_table(table, "x.toml")
    with pytest.raises(ValueError, match=r"^x\.toml: claim \? lacks \['id'\]$"):
        claims._claim_from_table({k: v for k, v in _table().items() if k != "id"}, "x.toml")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": "10.9/Bad_Id"}, r"malformed claim id '10\.9/Bad_Id'"),
        ({"kind": "empirical + guess"}, r"claim 10\.9/loader-example has unknown kind 'empirical \+ guess'"),
        ({"direction": ">"}, r"claim 10\.9/loader-example direction must be one of"),
        ({"parts": {"lstm": {"direction": "=>"}}}, r"claim 10\.9/loader-example part lstm direction must be one of"),
        ({"direction": "==", "threshold": 1.0}, r"claim 10\.9/loader-example has direction '==' but no tolerance"),
        ({"parts": {"ar": {"direction": "=="}}}, r"10\.9/loader-example part ar has direction '==' but no tolerance"),
        ({"reference": "the book"}, r"10\.9/loader-example reference must be 'book', a number or 'ID\[:part\]'"),
        ({"parts": {"p": {"reference": "10.9/x:"}}}, r"loader-example part p reference must be 'book'"),
    ],
)
def test_the_loader_refuses_a_malformed_claim_with_one_line(fields, message):
    """Each malformed field is refused with one line that names the file, the claim and the field."""
    with pytest.raises(ValueError, match=r"^x\.toml: .*" + message):
        claims._claim_from_table(_table(**fields), "x.toml")


def test_the_loader_keeps_known_fields_typed_and_the_rest_as_extra():
    """Known fields become attributes (tests and seeds as tuples), everything else goes to ``extra``;
    a direction, '==' with a tolerance and each accepted form of ``reference`` load."""
    claim = claims._claim_from_table(
        _table(
            kind="exact + empirical",
            seeds=[0, 1],
            threshold=0.4129,
            direction="==",
            tolerance=5e-5,
            reference="book",
            parts={"p": {"reference": "10.9/hitters-mae:least-squares"}, "q": {"reference": 2.0}},
        ),
        "x.toml",
    )
    assert claim.tests == ("t",) and claim.seeds == (0, 1)
    assert (claim.threshold, claim.direction, claim.tolerance) == (0.4129, "==", 5e-5)
    assert claim.kinds == {"exact", "empirical"}
    assert claim.extra["reference"] == "book" and set(claim.extra["parts"]) == {"p", "q"}
    assert "threshold" not in claim.extra
    assert claims._claim_from_table(_table(reference=1), "x.toml").extra["reference"] == 1


def _traced(**fields):
    return claims.Claim(
        id="10.9/traced-example",
        kind="empirical",
        statement="a traced claim",
        tests=(),
        book_value=fields.pop("book_value", None),
        threshold=fields.pop("threshold", None),
        direction=fields.pop("direction", None),
        extra=fields,
    )


def _sv(*values):
    return {"a__m__t1": {"seeds": list(range(len(values))), "values": list(values)}}


def test_reference_value_reads_the_book_a_traced_median_or_a_number():
    """``reference``: "book" is the claim's (or part's) book figure, "ID[:part]" the median of that
    figure's traced seeds in the catalogue, a number itself; no reference gives None."""
    assert _traced(book_value=0.97, reference="book").reference_value() == 0.97
    assert _traced(parts={"p": {"book_value": "0.76", "reference": "book"}}).reference_value("p") == 0.76
    assert _traced(reference=2).reference_value() == 2.0
    assert _traced().reference_value() is None
    lsq = claims.get("10.9/hitters-mae")
    want = judge.statistic(judge.traced_values(lsq, "least-squares"))
    assert _traced(reference="10.9/hitters-mae:least-squares").reference_value() == want
    whole = next(c for c in claims.catalogue().values() if judge.traced_values(c))
    assert _traced(reference=whole.id).reference_value() == judge.statistic(judge.traced_values(whole))


def test_derived_threshold_of_a_claim_is_the_judges_rule_with_its_reference():
    """A traced floor's threshold is its band's edge or the stricter reference; an untraced or
    ``==`` figure has none."""
    floor = _traced(threshold=0.8, direction=">=", spread_values=_sv(0.85, 0.849, 0.844))
    assert floor.derived_threshold() == judge.derived_threshold(judge.band([0.85, 0.849, 0.844]), ">=")
    stricter = _traced(threshold=0.8, direction=">=", spread_values=_sv(0.85, 0.849, 0.844), reference=0.84)
    assert stricter.derived_threshold() == 0.84
    part = _traced(parts={"p": {"threshold": 300.0, "direction": "<=", "spread_values": _sv(250.0, 260.0)}})
    assert part.derived_threshold("p") == judge.derived_threshold((230.0, 280.0), "<=")
    assert _traced(threshold=0.8, direction=">=").derived_threshold() is None
    assert _traced(threshold=0.41, direction="==", spread_values=_sv(0.41, 0.41)).derived_threshold() is None


def test_spread_values_pair_seeds_with_values_per_artifact():
    """``spread_values`` maps each artifact to ``{seed: value}`` for the claim or one part; a part
    without its own reads nothing of the claim's; seeds and values of unequal length are refused."""
    claim = _traced(
        spread_values={
            "a__m__t1": {"seeds": [3, 4], "values": [0.1, 0.2]},
            "b__m__t2": {"seeds": [5], "values": [0.3]},
        },
        parts={"p": {"spread_values": {"c__m__t1": {"seeds": [7], "values": [9.0]}}}, "q": {}},
    )
    assert claim.spread_values() == {"a__m__t1": {3: 0.1, 4: 0.2}, "b__m__t2": {5: 0.3}}
    assert claim.spread_values("p") == {"c__m__t1": {7: 9.0}}
    assert claim.spread_values("q") == {}
    bad = _traced(parts={"p": {"spread_values": {"a__m__t1": {"seeds": [0, 1], "values": [0.5]}}}})
    with pytest.raises(
        ValueError, match=r"^claim 10\.9/traced-example \[p\]: spread_values\.a__m__t1 has 2 seeds but 1 values$"
    ):
        bad.spread_values("p")


def test_judged_parts_are_the_parts_with_a_threshold():
    """A claim is judged per part where its parts carry thresholds, else as a whole."""
    assert _traced(parts={"a": {"threshold": 1.0}, "b": {"book_value": 2}, "c": {"threshold": 3.0}}).judged_parts() == [
        "a",
        "c",
    ]
    assert _traced(parts={"b": {"book_value": 2}}).judged_parts() == [None]
    assert _traced(threshold=1.0, direction=">=").judged_parts() == [None]


def test_a_claims_judgement_is_the_judges_for_the_part():
    """``Claim.passes``/``band``/``criterion`` judge the given part, not the claim as a whole."""
    claim = _traced(threshold=0.5, direction=">=", parts={"p": {"threshold": 0.8, "spread_values": _sv(0.85, 0.85)}})
    assert claim.passes(0.6) and not claim.passes(0.6, "p") and claim.passes(0.85, "p")
    assert claim.band("p") == judge.band([0.85, 0.85]) and claim.band() is None
    assert claim.criterion("p") == (None, 0.8, ">=")


def test_book_value_and_get_name_what_is_missing():
    """``book_value`` of a claim with none, and ``get`` of an unknown id, raise a KeyError naming it."""
    no_book = next(cid for cid, c in claims.catalogue().items() if c.book_value is None)
    with pytest.raises(KeyError, match=f"claim {re.escape(no_book)} has no book_value in the catalogue"):
        claims.book_value(no_book)
    some = next(cid for cid, c in claims.catalogue().items() if c.book_value is not None)
    assert claims.book_value(some) == claims.get(some).book_value
    with pytest.raises(
        KeyError, match=r"claim '10\.3/no-such-claim' is not in the catalogue \(islp_ch10/catalogue/\*\.toml\)"
    ):
        claims.get("10.3/no-such-claim")


def test_claims_md_rows_are_read_by_id(tmp_path):
    """Each ``| 10.x/id | claim | kind |`` row of CLAIMS.md maps its id to claim and kind; other lines are not rows."""
    path = tmp_path / "CLAIMS.md"
    path.write_text(
        "# Claims\n| id | claim | kind |\n|---|---|---|\n"
        "| 10.1/forward | f(X) = b0 + ... | exact |\n  | 10.3/pool | a | b | property |  \ntext 10.2/x\n",
        encoding="utf-8",
    )
    assert claims.claims_md_ids(path) == {"10.1/forward": " f(X) = b0 + ... |exact", "10.3/pool": " a | b |property"}


def test_a_claims_rollup_is_over_the_tests_the_catalogue_lists():
    """``claims.claim_status`` rolls up the records of the claim's own tests (the judge's rule)."""
    claim = claims.Claim(id="10.9/rollup-example", kind="empirical", statement="s", tests=("t::a", "t::b"))
    assert claims.claim_status(claim, [{"test": "t::a", "outcome": "passed"}]) == "incomplete"
    records = [{"test": "t::a", "outcome": "passed"}, {"test": "t::b", "outcome": "passed"}]
    assert claims.claim_status(claim, records) == "passed"
    assert claims.claim_status(claim, None) == "not run"


def test_a_claim_may_be_of_all_three_kinds():
    """Every combination of the three kinds loads, all three together included."""
    claim = claims._claim_from_table(_table(kind="exact + property + empirical"), "x.toml")
    assert claim.kinds == claims.KINDS


def test_spread_values_refuse_an_entry_missing_its_seeds_or_its_values():
    """An artifact entry that lists values without seeds (or seeds without values) is refused with
    the one-line count message, as any other mismatch."""
    no_seeds = _traced(spread_values={"a__m__t1": {"values": [0.5]}})
    with pytest.raises(ValueError, match=r"spread_values\.a__m__t1 has 0 seeds but 1 values$"):
        no_seeds.spread_values()
    no_values = _traced(spread_values={"a__m__t1": {"seeds": [0]}})
    with pytest.raises(ValueError, match=r"spread_values\.a__m__t1 has 1 seeds but 0 values$"):
        no_values.spread_values()
