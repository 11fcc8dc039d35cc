"""docs/compat.md is what the matrix artifacts say, and it covers every claim of the catalogue.

The table is rendered by ``tools/render_compat.py`` from ``docs/compat/*.json`` (written by
``tools/matrix.py``); nobody types it.  These tests re-render it and compare, and show that the
comparison rejects a tampered artifact and a table that lost a claim.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from islp_ch10.testing.fakes import load_tool

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "docs" / "compat.md"
ARTIFACTS = REPO / "docs" / "compat"


render_compat = load_tool(REPO / "tools" / "render_compat.py")
needs_artifacts = pytest.mark.skipif(
    not TABLE.exists() or not list(ARTIFACTS.glob("*.json")),
    reason="no matrix artifacts: run `python tools/matrix.py` (docs/tox.md)",
)


def missing_claims(table_text: str, ids: list[str]) -> list[str]:
    rows = {line.split("|")[1].strip() for line in table_text.splitlines() if line.startswith("| 10.")}
    return [cid for cid in ids if cid not in rows]


@needs_artifacts
def test_the_committed_table_is_what_the_artifacts_render():
    rendered = render_compat.render(render_compat.load_artifacts(ARTIFACTS), render_compat.catalogue_ids())
    assert TABLE.read_text() == rendered, "docs/compat.md differs from docs/compat/*.json: run tools/render_compat.py"


@needs_artifacts
def test_every_catalogue_claim_has_a_row():
    assert missing_claims(TABLE.read_text(), render_compat.catalogue_ids()) == []


@needs_artifacts
def test_every_artifact_names_its_environment_machine_and_versions():
    for path in ARTIFACTS.glob("*.json"):
        art = json.loads(path.read_text())
        assert art["env"] == path.stem
        assert art["python"] and art["packages"]["torch"] and art["machine"]["cpu"]
        assert "seconds" in art["install"] and "downloaded_bytes" in art["install"]
        for name, stage in art.get("stages", {}).items():
            assert stage["source_digest"] and stage["commit"] and "seconds" in stage, (path.name, name)


@needs_artifacts
def test_a_tampered_artifact_no_longer_matches_the_table():
    arts = render_compat.load_artifacts(ARTIFACTS)
    env = next(e for e, a in arts.items() if a.get("packages", {}).get("torch"))
    tampered = copy.deepcopy(arts)
    tampered[env]["packages"]["torch"] = "9.9.9"
    assert render_compat.render(tampered, render_compat.catalogue_ids()) != TABLE.read_text()


def test_a_changed_figure_changes_the_table():
    """A synthetic artifact: the claim's cell carries the measured figure, so a moved figure shows."""
    art = {
        "env": "x",
        "stages": {
            "quick": {
                "results": {
                    "summary": [{"claim": "10.9/hitters-mae", "part": "network", "median": 250.0, "verdict": "pass"}]
                }
            }
        },
    }
    moved = copy.deepcopy(art)
    moved["stages"]["quick"]["results"]["summary"][0]["median"] = 320.0
    moved["stages"]["quick"]["results"]["summary"][0]["verdict"] = "fail"
    assert render_compat.claim_cells(art)["10.9/hitters-mae"] == "pass 250"
    assert render_compat.claim_cells(moved)["10.9/hitters-mae"].startswith("**fail** network 320")


def test_a_skipped_or_xfailed_test_never_reads_as_pass():
    def cells(*outcomes):
        records = [{"test": f"t{i}", "outcome": o} for i, o in enumerate(outcomes)]
        return render_compat.claim_cells({"stages": {"fast": {"claims": {"10.1/x": records}}}})["10.1/x"]

    assert cells("passed", "failed") == "**fail** (1 test)"
    assert cells("passed", "xfailed") == "xfail (known)"
    assert cells("skipped") == "skipped"
    assert cells("passed", "passed") == "pass"


def test_a_table_that_lost_a_claim_is_reported():
    ids = ["10.1/a", "10.2/b"]
    text = "| 10.1/a | pass |\n| 10.2/b | pass |\n"
    assert missing_claims(text, ids) == []
    assert missing_claims(text.replace("| 10.2/b | pass |\n", ""), ids) == ["10.2/b"]


def test_a_known_incompatibility_marks_its_figure_only_where_it_applies():
    """The table applies the strict-xfail data as pytest does: by the environment's recorded
    versions, and a listed figure that passes is a stale entry, shown as a failure."""
    row = {"claim": "10.9/hitters-mae", "part": "network", "median": 336.8, "threshold": 259.7, "direction": "<="}

    def cell(torch_version, median):
        art = {
            "packages": {"torch": torch_version},
            "stages": {"quick": {"results": {"summary": [{**row, "median": median}]}}},
        }
        return render_compat.claim_cells(art)["10.9/hitters-mae"]

    assert cell("2.3.0", 336.8).startswith("xfail (known)")
    assert cell("2.10.0", 336.8).startswith("**fail**")
    assert cell("2.3.0", 244.8).startswith("**fail**"), "a listed figure that passes is a stale entry"
