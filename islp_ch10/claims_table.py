"""``islp-ch10 claims``: the catalogue as a table, each claim with its tests' roll-up and its measurements.

:func:`load_json` is the one reader of the two inputs (a reproduce run's ``results.json`` and the
outcomes ``pytest --claims-report`` writes); :func:`table` turns them into the lines printed, one
block per book section; the roll-up rule is :func:`islp_ch10.claims.claim_status`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from islp_ch10 import claims, schemas
from islp_ch10.errors import UsageError
from islp_ch10.report import fmt

HEAD = f"{'claim':28s} {'kind':9s} {'tests':10s} {'book':>10s} {'threshold':>10s} {'measured':>9s} {'deviation':>9s}"
INDENT = " " * 4


def load_json(path: Path, what: str, explicit: bool) -> dict | None:
    """The JSON object at ``path`` (``what``: the option that names it, ``--results`` or
    ``--tests``), checked against its schema (:class:`islp_ch10.schemas.Results`,
    :class:`islp_ch10.schemas.ClaimOutcomes`) before any table is printed; None when an implicit
    default path does not exist.  A missing explicit path or a folder is a UsageError; a
    truncated file, a wrong shape, a non-finite median or a claim ID not in the catalogue is a
    :class:`~islp_ch10.schemas.DamagedFile` naming the file (exit 4)."""
    if not path.exists():
        if explicit:
            raise UsageError(f"{what} {path} does not exist; pass an existing file")
        return None
    if path.is_dir():
        inside = path / ("results.json" if what == "--results" else "claims.json")
        tip = f"; did you mean {inside}?" if inside.is_file() else ""
        raise UsageError(f"{what} {path} is a folder, not a JSON file{tip}")
    if what == "--results":
        model, todo = schemas.Results, "pass the results.json an islp-ch10 reproduce run wrote, or rerun it"
    else:
        model, todo = schemas.ClaimOutcomes, "pass the file `pytest --claims-report PATH` wrote, or rerun it"
    return schemas.read(path, model, what, todo)


def _num(value) -> str:
    return fmt(value, missing="")


def _sections(catalogue: dict[str, claims.Claim]) -> list[str]:
    return sorted({c.section for c in catalogue.values()}, key=lambda s: tuple(map(int, s.split("."))))


def table(results: dict | None, tests: dict | None, section: str | None, width: int) -> list[str]:
    """The lines of the claims table: per section a heading with its tally, a header and each claim
    (its row, then its statement and notes wrapped to ``width``), and a closing total."""
    measured: dict[str, list[dict]] = {}
    for row in (results or {}).get("summary", []):
        measured.setdefault(row["claim"], []).append(row)
    catalogue = claims.catalogue()
    sections = _sections(catalogue)
    if section and section not in sections:
        raise UsageError(f"--section {section!r} is not a section of the catalogue; one of {', '.join(sections)}")
    counts: dict[str, int] = {}
    lines: list[str] = []
    for name in sections:
        if section and name != section:
            continue
        members = [c for c in catalogue.values() if c.section == name]
        statuses = {c.id: claims.claim_status(c, (tests or {}).get(c.id)) for c in members}
        tally = {s: list(statuses.values()).count(s) for s in claims.STATUS_ORDER if s in statuses.values()}
        lines += [f"\n== {name}: {len(members)} claims ({', '.join(f'{n} {s}' for s, n in tally.items())})", HEAD]
        for c in members:
            counts[statuses[c.id]] = counts.get(statuses[c.id], 0) + 1
            lines += _claim_lines(c, statuses[c.id], measured.get(c.id, []), width)
    total = sum(counts.values())
    lines.append(f"\n{total} claims: " + ", ".join(f"{counts[s]} {s}" for s in claims.STATUS_ORDER if s in counts))
    return lines


def _claim_lines(c: claims.Claim, status: str, rows: list[dict], width: int) -> list[str]:
    """One claim: its table row, then its statement and notes, indented and wrapped."""
    single = rows[0] if len(rows) == 1 else None
    book = _num(c.book_value)
    thr = f"{c.direction or ''}{_num(c.threshold)}" if c.threshold is not None else ""
    med = f"{single['median']:.4g}" if single else (f"{len(rows)} parts" if rows else "")
    dev = ""
    if single and isinstance(single.get("book_value"), (int, float)):
        dev = f"{single['median'] - single['book_value']:+.3g}"
    kind = c.kind.replace("empirical", "empir.").replace("property", "prop.").replace(" ", "")
    out = [
        f"{c.id:28.28s} {kind:9.9s} {status:10s} {book if len(book) <= 10 else '(below)':>10s} "
        f"{thr:>10.10s} {med:>9s} {dev:>9s}"
    ]
    notes = [c.statement + (" [erratum]" if c.erratum else "")]
    if len(book) > 10:
        notes.append(f"book: {book}")
    for r in rows if not single else ([single] if single["verdict"] == "FAIL" or single.get("part") else []):
        part = f" [{r['part']}]" if r.get("part") else ""
        t = f", threshold {r['direction']}{_num(r['threshold'])}" if r.get("threshold") is not None else ""
        b = f", book {_num(r['book_value'])}" if r.get("book_value") is not None else ""
        notes.append(f"measured{part}: {r['median']:.4g} ({r['verdict']}{t}{b})")
    if c.deviation:
        notes.append(f"deviation: {c.deviation}")
    out += [textwrap.fill(note, width, initial_indent=INDENT, subsequent_indent=INDENT + "  ") for note in notes]
    return out
