"""Write each traced figure's ``spread_values`` into the catalogue from the sweep artifacts.

    python tools/trace_spreads.py            # every (claim, part) that has artifacts in docs/spreads
    python tools/trace_spreads.py --check    # exit 1 if the catalogue would change
    python tools/trace_spreads.py --import PATH ...   # bring other machines' figures in first
    python tools/trace_spreads.py --import-quoted ../shared/measurements/README.md
    python tools/trace_spreads.py --bands    # print each traced figure's band and what it rests on

``--import`` takes a sweep artifact measured elsewhere (``../shared/measurements/<dir>/*.json``,
the sweep's own format) or a reproduction report folder (``results.json`` + ``measurements/``) and
writes it into ``docs/spreads/`` under its own machine/thread stem, with a ``provenance`` block
(source path, sha256, what it is); a seed already traced under that stem must agree to the
catalogue's four decimals (else it stops, naming the disagreement) and is not duplicated.

``--import-quoted`` takes the figures the measurements README quotes in a sentence rather than
ships as a file (the Intel Xeon's seed-0 figures of the quick experiments, "identical to the AMD
EPYC's to four decimals"): it reads the parenthesised list after that sentence, maps each label
through :data:`QUOTED_LABELS` to its experiment, claim and part, and takes the machine, versions
and commit from the sweep artifacts the README names for the same machine and commit.  A label it
does not know, or a sentence it cannot find, stops it with the reason.

For every artifact ``docs/spreads/<experiment>__<machine>__t<threads>.json`` and every judged
figure it holds, the catalogue entry (the claim's table, or its ``[claim.parts.NAME]`` table) gets
one ``spread_values`` line listing all artifacts of that figure, values rounded by
``islp_ch10.sweep.quoted`` (the one place the catalogue's spread_values are formatted); the figure's line in
``docs/spreads/untraced.toml`` is removed.  Nothing is typed by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from islp_ch10 import judge, machine  # noqa: E402
from islp_ch10.sweep import quoted  # noqa: E402

SPREADS = ROOT / "docs" / "spreads"
CATALOGUE = ROOT / "islp_ch10" / "catalogue"


def figures() -> dict[tuple[str, str | None], dict[str, dict]]:
    """``{(claim, part): {artifact stem: {"seeds": [...], "values": [...]}}}`` over every artifact."""
    out: dict[tuple[str, str | None], dict[str, dict]] = {}
    for path in sorted(SPREADS.glob("*.json")):
        runs = json.loads(path.read_text())["runs"]
        for r in sorted(runs, key=lambda r: r["seed"]):
            entry = out.setdefault((r["claim"], r.get("part")), {}).setdefault(path.stem, {"seeds": [], "values": []})
            entry["seeds"].append(r["seed"])
            entry["values"].append(quoted(r["value"]))
    return out


def _source(path: Path) -> dict:
    return {
        "source": os.path.relpath(path.resolve(), ROOT),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def _merge(stem: str, payload: dict, runs: list[dict], provenance: dict) -> str:
    """Add ``runs`` to the artifact ``stem`` (created from ``payload`` if absent); equal seeds must agree."""
    dest = SPREADS / f"{stem}.json"
    current = json.loads(dest.read_text()) if dest.exists() else {**payload, "runs": []}
    key = lambda r: (r["seed"], r["claim"], r.get("part"))  # noqa: E731
    have = {key(r): r for r in current["runs"]}
    added = 0
    for r in runs:
        if key(r) in have:
            if quoted(have[key(r)]["value"]) != quoted(r["value"]):
                raise SystemExit(
                    f"{stem}: seed {r['seed']} {r['claim']} [{r.get('part')}] is {have[key(r)]['value']} here "
                    f"but {r['value']} in {provenance['source']}"
                )
            continue
        current["runs"].append(r)
        added += 1
    if added:
        sources = current.setdefault("imported", [])
        if provenance not in sources:
            sources.append(provenance)
        dest.write_text(json.dumps(current, indent=1) + "\n")
    return f"{stem}: {added} run(s) added" + ("" if added else " (all already traced, and equal)")


def import_sweep_artifact(path: Path) -> str:
    """A sweep artifact from another machine, kept as it is plus where it came from."""
    payload = json.loads(path.read_text())
    machine = payload["machine"]
    stem = f"{payload['experiment']}__{machine['tag']}__t{machine['torch_threads']}"
    prov = {**_source(path), "what": "sweep artifact measured on another machine, copied as it is"}
    return _merge(stem, {k: v for k, v in payload.items() if k != "runs"}, payload["runs"], prov)


def _last_commit(path: Path) -> str:
    """The commit that last changed ``path`` (the report's measurements were made at or before it)."""
    import subprocess

    out = subprocess.run(
        ["git", "log", "-1", "--format=%h", "--", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout.strip()
    return f"{out} (the commit that last changed {os.path.relpath(path.resolve(), ROOT)})" if out else "unknown"


def import_report(folder: Path) -> list[str]:
    """A reproduction report's per-experiment measurement files (one seed each) as sweep runs."""
    results = json.loads((folder / "results.json").read_text())
    env = results["environment"]
    tag, threads = machine.tag(env["processor"]), env["torch_threads"]
    out = []
    for mpath in sorted((folder / "measurements").glob("*.json")):
        m = json.loads(mpath.read_text())
        runs = [
            {
                "seed": m["seed"],
                "claim": r["claim"],
                "part": r.get("part"),
                "metric": r["metric"],
                "value": r["value"],
                "raw": r.get("raw", {}),
                "epochs": r.get("epochs"),
                "seconds": r.get("wall_time"),
            }
            for r in m["measurements"]
        ]
        payload = {
            "experiment": m["experiment"],
            "command": "islp-ch10 reproduce (the sample report), imported by tools/trace_spreads.py --import",
            "machine": {"cpu": env["processor"], "tag": tag, "torch_threads": threads, "cuda": env.get("cuda")},
            "versions": {k: env[k] for k in ("python", "torch", "numpy", "pytorch_lightning", "sklearn", "ISLP")},
            "code": _last_commit(mpath),
        }
        prov = {**_source(mpath), "what": f"the sample reproduction report's seed {m['seed']} ({results['generated']})"}
        out.append(_merge(f"{m['experiment']}__{tag}__t{threads}", payload, runs, prov))
    return out


#: label in the measurements README's list of quoted quick-experiment figures ->
#: (experiment, claim, part, metric)
QUOTED_LABELS = {
    "Hitters lasso": ("hitters-linear", "10.9/hitters-mae", "lasso", "mae"),
    "least squares": ("hitters-linear", "10.9/hitters-mae", "least-squares", "mae"),
    "network": ("hitters-net", "10.9/hitters-mae", "network", "mae"),
    "NYSE AR": ("nyse-linear", "10.5/ar-vs-rnn", "ar", "r2"),
    "day-of-week": ("nyse-linear", "10.5/day-of-week", None, "r2"),
    "nonlinear AR": ("nyse-nlar", "10.5/nonlinear-ar", None, "r2"),
    "MNIST MLR": ("mnist-mlr", "10.9/mnist-mlr", None, "accuracy"),
}
_QUOTED_SENTENCE = re.compile(
    r"`(?P<folder>[^`]+)/`:.*?The same commit on this machine also gave, for the quick experiments,"
    r"[^(]*\((?P<figures>[^)]*)\)",
    flags=re.S,
)


def quoted_figures(text: str) -> tuple[str, dict[str, float]]:
    """The measurement folder a README entry names and ``{label: value}`` of its quoted list."""
    m = _QUOTED_SENTENCE.search(text)
    if m is None:
        raise SystemExit("no 'The same commit on this machine also gave, for the quick experiments, ... (...)' found")
    figures = {}
    for item in re.split(r"[;,]", " ".join(m["figures"].split())):
        label, _, value = item.strip().rpartition(" ")
        if label not in QUOTED_LABELS:
            raise SystemExit(f"quoted figure {item.strip()!r}: label {label!r} is not one of {sorted(QUOTED_LABELS)}")
        figures[label] = float(value)
    return m["folder"], figures


def import_quoted(readme: Path) -> list[str]:
    """The figures a measurements README quotes for the quick experiments, as seed-0 sweep runs of
    the machine whose artifacts sit in the folder it names (same machine, threads and commit)."""
    folder, figures = quoted_figures(readme.read_text())
    artifacts = sorted((readme.parent / folder).glob("*.json"))
    if not artifacts:
        raise SystemExit(f"{readme}: the folder {folder}/ it names holds no sweep artifact to take the machine from")
    sibling = json.loads(artifacts[0].read_text())
    prov = {
        **_source(readme),
        "what": f"figures quoted to four decimals in prose ({', '.join(figures)}), seed 0, same machine "
        f"and commit as {os.path.relpath(artifacts[0].resolve(), ROOT)}, whose machine block is used",
    }
    by_experiment: dict[str, list[dict]] = {}
    for label, value in figures.items():
        experiment, claim, part, metric = QUOTED_LABELS[label]
        run = {"seed": 0, "claim": claim, "part": part, "metric": metric, "value": value, "raw": {metric: value}}
        by_experiment.setdefault(experiment, []).append(run)
    out = []
    for experiment, runs in sorted(by_experiment.items()):
        payload = {
            "experiment": experiment,
            "command": "islp-ch10 reproduce --quick (as the README states it), quoted in "
            f"{os.path.relpath(readme.resolve(), ROOT)}; imported by tools/trace_spreads.py --import-quoted",
            "machine": sibling["machine"],
            "versions": sibling["versions"],
            "code": sibling["code"],
        }
        stem = f"{experiment}__{sibling['machine']['tag']}__t{sibling['machine']['torch_threads']}"
        out.append(_merge(stem, payload, runs, prov))
    return out


def _label(claim: str, part: str | None) -> str:
    """``claim`` or ``claim:part``, as the catalogue's lists and this tool's messages name a figure."""
    return claim + (f":{part}" if part else "")


def inline(table: dict[str, dict]) -> str:
    parts = [f'"{stem}" = {{ seeds = {t["seeds"]}, values = {t["values"]} }}' for stem, t in table.items()]
    return "spread_values = { " + ", ".join(parts) + " }"


def update(text: str, claim: str, part: str | None, line: str, key: str = "spread_values") -> str:
    """Put ``line`` (the ``key = ...`` line) into the claim's (or part's) table of one catalogue file's text."""
    start = text.index(f'id = "{claim}"')
    nxt = text.find("[[claim]]", start)
    end = len(text) if nxt < 0 else nxt
    block = text[start:end]
    if part is not None:
        head = f"[claim.parts.{part}]"
        if head not in block:
            raise KeyError(f"{claim}: no [claim.parts.{part}] table")
        p0 = block.index(head)
        p1 = block.find("\n[", p0 + len(head))
        p1 = len(block) if p1 < 0 else p1 + 1
        sub = block[p0:p1]
    else:
        p0 = 0
        p1 = block.find("\n[claim.parts.")
        p1 = len(block) if p1 < 0 else p1 + 1
        sub = block[p0:p1]
    if re.search(rf"^{key} = .*$", sub, flags=re.M):
        new_sub = re.sub(rf"^{key} = .*$", lambda _: line, sub, count=1, flags=re.M)
    else:
        m = re.search(r"^direction = .*$", sub, flags=re.M)
        if m is None:
            raise KeyError(f"{claim} [{part}]: no direction line to put spread_values after")
        new_sub = sub[: m.end()] + "\n" + line + sub[m.end() :]
    block = block[:p0] + new_sub + block[p1:]
    return text[:start] + block + text[end:]


def derive_thresholds(texts: dict[Path, str]) -> list[str]:
    """Set each traced floor's/ceiling's ``threshold`` to what the band rule gives (islp_ch10.judge)."""
    import tomllib

    from islp_ch10 import claims

    table = {}
    for path, text in texts.items():
        for t in tomllib.loads(text).get("claim", []):
            table[t["id"]] = (path, claims._claim_from_table(t, path.name))
    original = claims.get
    claims.get = lambda cid: table[cid][1]  # references resolve against the new texts
    changed = []
    try:
        for cid, (path, claim) in sorted(table.items()):
            for part in claim.judged_parts():
                derived = claim.derived_threshold(part)
                if derived is None or derived == claim.criterion(part)[1]:
                    continue
                texts[path] = update(texts[path], cid, part, f"threshold = {derived!r}", key="threshold")
                changed.append(f"{_label(cid, part)} threshold -> {derived}")
    finally:
        claims.get = original
    return changed


def bands_table() -> str:
    """Markdown: each traced figure, its judgement (direction, threshold, reference), its band by
    the one rule of :mod:`islp_ch10.judge`, and the per-seed figures of every configuration."""
    from islp_ch10 import claims

    rows = [
        f"| figure | judged | band (K = {judge.K}) | rests on (configuration: seed values) |",
        "|---|---|---|---|",
    ]
    for c in sorted(claims.catalogue().values(), key=lambda c: c.id):
        for part in c.judged_parts() if c.is_empirical else ():
            spread = c.spread_values(part)
            if not spread:
                continue
            _, threshold, direction = c.criterion(part)
            ref = c._field("reference", part)
            lo, hi = c.band(part)
            judged = f"{direction} {threshold}" + (f" (reference: {ref})" if ref is not None else "")
            rests = "; ".join(
                f"{stem.partition('__')[2]}: {', '.join(repr(v) for v in values.values())}"
                for stem, values in spread.items()
            )
            rows.append(f"| {_label(c.id, part)} | {judged} | [{lo:.6g}, {hi:.6g}] | {rests} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if "--bands" in argv:
        print(bands_table())
        return 0
    if "--import-quoted" in argv:
        i = argv.index("--import-quoted")
        print("\n".join(import_quoted(Path(argv[i + 1]))))
        argv = argv[:i] + argv[i + 2 :]
    if "--import" in argv:
        for arg in argv[argv.index("--import") + 1 :]:
            path = Path(arg)
            print("\n".join(import_report(path) if path.is_dir() else [import_sweep_artifact(path)]))
        argv = argv[: argv.index("--import")]
    check = "--check" in argv
    changed = []
    texts = {p: p.read_text() for p in CATALOGUE.glob("*.toml")}
    untraced_path = SPREADS / "untraced.toml"
    untraced = untraced_path.read_text()
    for (claim, part), table in sorted(figures().items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        path = next((p for p, t in texts.items() if f'id = "{claim}"' in t), None)
        if path is None:
            raise SystemExit(f"{claim}: not in the catalogue")
        try:
            new = update(texts[path], claim, part, inline(table))
        except KeyError as exc:  # a by-product figure the catalogue does not judge (e.g. 10.5/flatten's R^2 gap)
            print(f"not judged, left alone: {exc}")
            continue
        if new != texts[path]:
            texts[path] = new
            changed.append(_label(claim, part))
        key = f'"{_label(claim, part)}" = '
        untraced = "\n".join(line for line in untraced.splitlines() if not line.startswith(key)) + "\n"
    changed += derive_thresholds(texts)
    if check:
        print("\n".join(changed) or "catalogue up to date")
        return 1 if changed else 0
    for p, t in texts.items():
        p.write_text(t)
    untraced_path.write_text(untraced)
    print("updated: " + (", ".join(changed) or "nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
