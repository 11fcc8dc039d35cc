"""The catalogue, CLAIMS.md and the tests agree: every claim is covered by a test that exists.

Reads files and parses test modules with ``ast``; imports no test module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from islp_ch10 import claims

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
