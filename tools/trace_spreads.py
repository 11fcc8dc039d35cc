"""Write each traced figure's ``spread_values`` into the catalogue from the sweep artifacts.

    python tools/trace_spreads.py            # every (claim, part) that has artifacts in docs/spreads
    python tools/trace_spreads.py --check    # exit 1 if the catalogue would change

For every artifact ``docs/spreads/<experiment>__<machine>__t<threads>.json`` and every judged
figure it holds, the catalogue entry (the claim's table, or its ``[claim.parts.NAME]`` table) gets
one ``spread_values`` line listing all artifacts of that figure, values rounded by
``islp_ch10.sweep.quoted`` (the one place the catalogue's spread_values are formatted); the figure's line in
``docs/spreads/untraced.toml`` is removed.  Nothing is typed by hand.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def inline(table: dict[str, dict]) -> str:
    parts = [f'"{stem}" = {{ seeds = {t["seeds"]}, values = {t["values"]} }}' for stem, t in table.items()]
    return "spread_values = { " + ", ".join(parts) + " }"


def update(text: str, claim: str, part: str | None, line: str) -> str:
    """Put ``line`` into the claim's (or part's) table of one catalogue file's text."""
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
    if re.search(r"^spread_values = .*$", sub, flags=re.M):
        new_sub = re.sub(r"^spread_values = .*$", line, sub, count=1, flags=re.M)
    else:
        m = re.search(r"^direction = .*$", sub, flags=re.M)
        if m is None:
            raise KeyError(f"{claim} [{part}]: no direction line to put spread_values after")
        new_sub = sub[: m.end()] + "\n" + line + sub[m.end() :]
    block = block[:p0] + new_sub + block[p1:]
    return text[:start] + block + text[end:]


def main(argv: list[str]) -> int:
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
            changed.append(f"{claim}" + (f":{part}" if part else ""))
        key = f'"{claim}' + (f":{part}" if part else "") + '" = '
        untraced = "\n".join(line for line in untraced.splitlines() if not line.startswith(key)) + "\n"
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
