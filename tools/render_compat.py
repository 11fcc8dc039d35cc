"""Render ``docs/compat.md`` from the matrix artifacts ``docs/compat/*.json`` (never typed by hand).

    python tools/render_compat.py            # rewrite docs/compat.md
    python tools/render_compat.py --check    # exit 1 when docs/compat.md is not what the artifacts give

``tests/test_compat.py`` renders the same way and fails when the committed table and the artifacts
disagree, or when a catalogue claim is missing from the table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPAT = REPO / "docs" / "compat"
TABLE = REPO / "docs" / "compat.md"
# Column order: the lab's releases first, then the user sets, then this project's own.
ORDER = ("lab-v2.2", "lab-v2.2.3", "colab", "newest", "lower", "py311-torch214")
BASELINE = "py311-torch214"  # the README's pins: benchmark ratios are against it
PACKAGES = (
    ("python", None),
    ("torch", "torch"),
    ("torchvision", "torchvision"),
    ("Lightning", "pytorch-lightning"),
    ("torchmetrics", "torchmetrics"),
    ("torchinfo", "torchinfo"),
    ("scikit-learn", "scikit-learn"),
    ("numpy", "numpy"),
    ("pandas", "pandas"),
    ("scipy", "scipy"),
    ("ISLP", "islp"),
    ("setuptools", "setuptools"),
)
TEST_STAGES = ("fast", "data")
EXPERIMENT_STAGES = ("quick", "book", "slow")
REMOVAL = re.compile(r"(?:removed|removal)\s+(?:in|from)\s+(?:version\s+)?v?(\d+\.\d+(?:\.\d+)?)", re.I)


def load_artifacts(folder: Path = COMPAT) -> dict[str, dict]:
    arts = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    return {env: arts[env] for env in sorted(arts, key=lambda e: (ORDER.index(e) if e in ORDER else 99, e))}


def catalogue_ids() -> list[str]:
    from islp_ch10 import claims

    return sorted(claims.catalogue(), key=_claim_key)


def _claim_key(cid: str):
    section, name = cid.split("/", 1)
    return (tuple(int(x) for x in section.split(".")), name)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.1f}"
    return str(value)


def _gb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e9:.2f}"


# ----------------------------------------------------------------------------- per-claim outcome
def _node(row: dict) -> str:
    """The test of tests/test_experiments.py that judges this figure (the id pytest gives it)."""
    case = row["claim"] + (f"-{row['part']}" if row.get("part") else "")
    return f"tests/test_experiments.py::test_measurement_meets_its_claim[{case}]"


def known_for(art: dict) -> set[str]:
    """Node ids of experiment figures the known-incompatibilities table expects to fail in this
    environment (by its recorded package versions); a figure so listed that passes is a stale entry
    and shows as a failure, as the strict xfail does in pytest."""
    from islp_ch10.testing import plugin_known

    packages = {k.lower(): v for k, v in art.get("packages", {}).items()}
    nodes = set()
    for entry in plugin_known.load():
        if entry.test and entry.applies(lambda name: packages.get(name.lower())):
            nodes.add(entry.test)
    return nodes


def verdict(row: dict) -> str | None:
    """The measured figure judged by today's catalogue (an artifact may predate a threshold change);
    the verdict recorded at measurement time where today's catalogue cannot judge it."""
    try:
        from islp_ch10 import claims

        claim = claims.catalogue().get(row["claim"])
        if claim is not None and isinstance(row.get("median"), (int, float)):
            return "pass" if claim.passes(row["median"], row.get("part")) else "fail"
    except (ValueError, KeyError, TypeError):
        pass
    return row.get("verdict")


def claim_cells(art: dict) -> dict[str, str]:
    """``{claim id: cell}``: fail (with the measured value) beats xfail beats deviation beats pass."""
    stages = art.get("stages", {})
    tests: dict[str, list[str]] = {}
    for stage in TEST_STAGES:
        for cid, records in (stages.get(stage) or {}).get("claims", {}).items():
            tests.setdefault(cid, []).extend(r["outcome"] for r in records)
    figures: dict[str, list[dict]] = {}
    for stage in EXPERIMENT_STAGES:
        for row in ((stages.get(stage) or {}).get("results") or {}).get("summary") or []:
            figures.setdefault(row["claim"], []).append({**row, "stage": stage})
    known = known_for(art)
    cells = {}
    for cid in set(tests) | set(figures):
        outcomes, rows = tests.get(cid, []), figures.get(cid, [])
        stale = [r for r in rows if verdict(r) == "pass" and _node(r) in known]
        failed_rows = [r for r in rows if verdict(r) not in ("pass", None) and _node(r) not in known] + stale
        known_rows = [r for r in rows if verdict(r) not in ("pass", None) and _node(r) in known]
        if "failed" in outcomes or "error" in outcomes or failed_rows:
            shown = "; ".join(
                dict.fromkeys(
                    f"{r.get('part') or '-'} {_fmt(r.get('median'))} vs {r.get('direction', '')}"
                    f"{_fmt(r.get('threshold'))}"
                    for r in failed_rows
                )
            )
            n_failed = sum(o in ("failed", "error") for o in outcomes)
            cell = (
                "**fail**"
                + (f" {shown}" if shown else "")
                + (f" ({n_failed} test{'s' * (n_failed > 1)})" if n_failed else "")
            )
        elif "xfailed" in outcomes or known_rows:
            cell = "xfail (known)" + "".join(f" {r.get('part') or '-'} {_fmt(r.get('median'))}" for r in known_rows[:1])
        elif rows and any(r.get("deviation") for r in rows):
            cell = "deviation " + ", ".join(_fmt(r.get("median")) for r in rows if r["stage"] != "book")
        elif rows:
            cell = "pass " + ", ".join(_fmt(r.get("median")) for r in rows if r["stage"] != "book")
        elif outcomes and all(o == "skipped" for o in outcomes):
            cell = "skipped"
        elif outcomes:
            cell = "pass"
        else:
            continue
        cells[cid] = cell.strip()
    return cells


# ----------------------------------------------------------------------------- sections
def environments_section(arts: dict[str, dict]) -> list[str]:
    envs = list(arts)
    lines = ["## Release sets", "", "| | " + " | ".join(f"`{e}`" for e in envs) + " |", "|---" * (len(envs) + 1) + "|"]
    for label, dist in PACKAGES:
        vals = [arts[e].get("python") if dist is None else arts[e].get("packages", {}).get(dist, "-") for e in envs]
        lines.append(f"| {label} | " + " | ".join(str(v or "-") for v in vals) + " |")
    rows = {
        "install: seconds": lambda a: _fmt(a.get("install", {}).get("seconds")),
        "install: GB received": lambda a: _gb(a.get("install", {}).get("downloaded_bytes")),
        "install: GB on disk": lambda a: _gb(a.get("install", {}).get("disk_bytes")),
        "machine": lambda a: (
            f"{a.get('machine', {}).get('cpu', '-')}, {a.get('machine', {}).get('cores_usable', '-')} cores"
        ),
    }
    for stage in ("probes", "fast", "data", "quick", "book", "slow", "bench"):
        rows[f"{stage}: result (s)"] = lambda a, s=stage: _stage_summary(a, s)
        rows[f"{stage}: commit"] = lambda a, s=stage: (a.get("stages", {}).get(s) or {}).get("commit", "-")
    for label, fn in rows.items():
        lines.append(f"| {label} | " + " | ".join(fn(arts[e]) for e in envs) + " |")
    return [*lines, ""]


def _stage_summary(art: dict, stage: str) -> str:
    st = art.get("stages", {}).get(stage)
    if not st:
        return "not run"
    if st.get("skipped"):
        return "not budgeted"
    secs = f" ({st.get('seconds', 0):.0f})"
    if "counts" in st and stage in TEST_STAGES:
        c = st["counts"]
        parts = [f"{c.get(k, 0)} {k}" for k in ("passed", "failed", "error", "skipped", "xfailed") if c.get(k)]
        return ", ".join(parts) + secs
    if stage == "bench":
        return f"{len(st.get('benchmarks', {}))} timed, exit {st.get('exit')}" + secs
    if stage == "probes":
        states = [p["status"] for p in st.get("probes", {}).values()]
        return ", ".join(f"{states.count(s)} {s}" for s in ("ok", "warns", "differs", "breaks") if s in states) + secs
    res = st.get("results") or {}
    verdicts = [verdict(r) for r in res.get("summary") or []]
    if not res:
        return f"exit {st.get('exit')}: {(st.get('tail') or '').splitlines()[-1:] or ''}" + secs
    return f"{verdicts.count('pass')} pass, {len(verdicts) - verdicts.count('pass')} not" + secs


def claims_section(arts: dict[str, dict], ids: list[str]) -> list[str]:
    envs = list(arts)
    per_env = {e: claim_cells(a) for e, a in arts.items()}
    lines = [
        "## Claims by environment",
        "",
        "A cell is `pass` (with the measured figure for an empirical claim: quick, slow stages), `deviation`",
        "(the figure passes the test, and the catalogue records where it departs from the book's),",
        "`**fail**` (with the measured figure against its threshold, or the count of failed tests),",
        "`xfail (known)` (an entry of the known-incompatibilities table), `skipped` (data or weights",
        "absent) or `-` (no stage of this environment measures it).",
        "",
        "| claim | " + " | ".join(f"`{e}`" for e in envs) + " |",
        "|---" * (len(envs) + 1) + "|",
    ]
    for cid in ids:
        lines.append(f"| {cid} | " + " | ".join(per_env[e].get(cid, "-") for e in envs) + " |")
    unknown = sorted({c for cells in per_env.values() for c in cells} - set(ids))
    if unknown:
        lines += ["", "Outcomes recorded for IDs the catalogue does not have: " + ", ".join(unknown)]
    return [*lines, ""]


def lab_calls_section(arts: dict[str, dict]) -> list[str]:
    envs = [e for e in arts if "probes" in arts[e].get("stages", {})]
    if not envs:
        return ["## The lab's calls", "", "No environment has run the probes yet.", ""]
    names = list(next(iter(arts[e]["stages"]["probes"]["probes"] for e in envs)))
    lines = [
        "## The lab's calls",
        "",
        "Each of the lab's library calls (tools/lab_calls.py, notes lines given) run once per environment:",
        "`ok`, `warns`, `breaks` (raises) or `differs` (runs, but not as the lab expects).",
        "",
        "| call (notes lines) | " + " | ".join(f"`{e}`" for e in envs) + " |",
        "|---" * (len(envs) + 1) + "|",
    ]
    for name in names:
        cells = []
        for e in envs:
            p = arts[e]["stages"]["probes"]["probes"].get(name, {})
            cells.append(p.get("status", "-"))
        notes = arts[envs[0]]["stages"]["probes"]["probes"][name].get("notes_lines", "")
        lines.append(f"| {name} ({notes}) | " + " | ".join(cells) + " |")
    lines += ["", "What breaks, differs or warns, where, and since and until which release:", ""]
    found: dict[tuple, dict] = {}
    for e in envs:
        for name, p in arts[e]["stages"]["probes"]["probes"].items():
            if p.get("error"):
                key = (name, p["status"], p["error"])
                found.setdefault(key, {"envs": [], "dist": p.get("dist")})["envs"].append(e)
            for w in p.get("warnings", []):
                key = (name, w["category"], w["message"], w["library"])
                found.setdefault(key, {"envs": [], "where": f"{w['file']}:{w['line']}"})["envs"].append(e)
    for key, info in sorted(found.items()):
        name = key[0]
        where = info.get("where")
        present = info["envs"]
        text = key[2]
        library = key[3] if len(key) == 4 else None
        lib_dist = _dist_of(library) if library else info.get("dist")
        since = _since(arts, envs, present, lib_dist) if lib_dist else ""
        removal = REMOVAL.search(text)
        until = f"; the library announces removal in {removal.group(1)}" if removal else ""
        kind = key[1]
        lines.append(
            f"- **{name}**: {kind}" + (f" from `{library}` ({where})" if where else "") + f': "{text}" '
            f"- in {', '.join(f'`{e}`' for e in present)}{since}{until}"
        )
    return [*lines, ""]


def _dist_of(library: str) -> str:
    return {
        "sklearn": "scikit-learn",
        "pytorch_lightning": "pytorch-lightning",
        "lightning_fabric": "pytorch-lightning",
        "ISLP": "islp",
        "lightning_utilities": "lightning-utilities",
    }.get(library, library)


def _since(arts: dict, envs: list[str], present: list[str], dist: str) -> str:
    """'; X and later here, not Y': the lowest release where it appears and the highest below it where not."""
    from packaging.version import InvalidVersion, Version

    def ver(e):
        try:
            return Version(arts[e].get("packages", {}).get(dist, ""))
        except InvalidVersion:
            return None

    seen = [v for e in present if (v := ver(e)) is not None]
    absent = [v for e in envs if e not in present and (v := ver(e)) is not None]
    if not seen:
        return ""
    low, high = min(seen), max(seen)
    text = f"; here with {dist} {low}" + (f" to {high}" if high != low else "")
    below = [v for v in absent if v < low]
    above = [v for v in absent if v > high]
    if below:
        text += f", not with {max(below)}"
    if above:
        text += f", gone with {min(above)}"
    return text


def warnings_section(arts: dict[str, dict]) -> list[str]:
    """Warnings raised while the experiments ran, by library: what a user of each release set sees."""
    rows: dict[tuple, dict] = {}
    for e, a in arts.items():
        for stage in EXPERIMENT_STAGES:
            for w in (a.get("stages", {}).get(stage) or {}).get("warnings", []):
                key = (w["library"], w["category"], w["message"])
                info = rows.setdefault(key, {"envs": set(), "where": f"{w['file']}:{w['line']}", "count": 0})
                info["envs"].add(e)
                info["count"] += w["count"]
    lines = ["## Warnings raised while the experiments ran", ""]
    if not rows:
        return [*lines, "None recorded.", ""]
    lines += ["| library | category | message | raised at | environments | times |", "|---|---|---|---|---|---|"]
    for (lib, cat, msg), info in sorted(rows.items()):
        msg = msg.replace("|", "\\|")[:160]
        envs = ", ".join(f"`{e}`" for e in arts if e in info["envs"])
        lines.append(f"| {lib} | {cat} | {msg} | {info['where']} | {envs} | {info['count']} |")
    return [*lines, ""]


def moving_figures_section(arts: dict[str, dict]) -> list[str]:
    table: dict[tuple, dict[str, float]] = {}
    for e, a in arts.items():
        for stage in EXPERIMENT_STAGES:
            for row in ((a.get("stages", {}).get(stage) or {}).get("results") or {}).get("summary") or []:
                if isinstance(row.get("median"), (int, float)):
                    table.setdefault((row["claim"], row.get("part") or "", stage), {})[e] = row["median"]
    envs = list(arts)
    lines = [
        "## Figures across environments",
        "",
        "Seed 0, 2 CPU threads, the lab's configuration; `book` is the same experiment through ISLP.torch.",
        "The last column is the largest minus the smallest figure over the environments that measured it.",
        "",
        "| claim | part | stage | " + " | ".join(f"`{e}`" for e in envs) + " | spread |",
        "|---|---|---" + "|---" * (len(envs) + 1) + "|",
    ]
    for (cid, part, stage), vals in sorted(table.items(), key=lambda kv: (_claim_key(kv[0][0]), kv[0][1], kv[0][2])):
        cells = [_fmt(vals.get(e)) for e in envs]
        spread = max(vals.values()) - min(vals.values()) if len(vals) > 1 else None
        lines.append(f"| {cid} | {part or '-'} | {stage} | " + " | ".join(cells) + f" | {_fmt(spread)} |")
    return [*lines, ""]


def bench_section(arts: dict[str, dict]) -> list[str]:
    envs = [e for e in arts if arts[e].get("stages", {}).get("bench", {}).get("benchmarks")]
    lines = ["## Kernel and training-step timings", ""]
    if not envs:
        return [*lines, "No environment has run the benchmark stage yet.", ""]
    base = arts.get(BASELINE, {}).get("stages", {}).get("bench", {}).get("benchmarks", {})
    names = sorted({n for e in envs for n in arts[e]["stages"]["bench"]["benchmarks"]})
    lines += [
        "Median seconds per call (pytest-benchmark, CPU, one matrix run on one machine), and in brackets the",
        f"ratio to `{BASELINE}` (the README's pins): above 1 is slower.",
        "",
        "| benchmark | " + " | ".join(f"`{e}`" for e in envs) + " |",
        "|---" * (len(envs) + 1) + "|",
    ]
    for n in names:
        cells = []
        for e in envs:
            b = arts[e]["stages"]["bench"]["benchmarks"].get(n)
            if not b:
                cells.append("-")
                continue
            ratio = f" ({b['median_s'] / base[n]['median_s']:.2f})" if n in base and base[n]["median_s"] else ""
            cells.append(f"{b['median_s']:.3g}{ratio}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def known_section() -> list[str]:
    from islp_ch10.testing import plugin_known

    entries = plugin_known.load()
    lines = ["## Known incompatibilities (strict xfail)", ""]
    if not entries:
        return [*lines, "None: every failure above is open.", ""]
    lines += ["| test or claim | when | reason |", "|---|---|---|"]
    for e in entries:
        lines.append(f"| `{e.test or e.claim}` | {', '.join(e.when)} | {e.reason} |")
    return [*lines, ""]


def render(arts: dict[str, dict], ids: list[str]) -> str:
    head = [
        "# Compatibility matrix: which claims of chapter 10 hold on which release set",
        "",
        "Generated by `python tools/render_compat.py` from `docs/compat/*.json`, which `python tools/matrix.py`",
        "writes (see docs/tox.md); do not edit by hand: `tests/test_compat.py` fails when this file and the",
        "artifacts disagree or a catalogue claim is missing.",
        "",
    ]
    body = (
        environments_section(arts)
        + claims_section(arts, ids)
        + lab_calls_section(arts)
        + moving_figures_section(arts)
        + warnings_section(arts)
        + bench_section(arts)
        + known_section()
    )
    return "\n".join(head + body).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    text = render(load_artifacts(), catalogue_ids())
    if args.check:
        ok = TABLE.exists() and TABLE.read_text() == text
        print(
            "docs/compat.md matches the artifacts"
            if ok
            else "docs/compat.md differs from the artifacts: rerun tools/render_compat.py"
        )
        return 0 if ok else 1
    TABLE.write_text(text)
    print(f"wrote {TABLE.relative_to(REPO)} from {len(load_artifacts())} artifacts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
