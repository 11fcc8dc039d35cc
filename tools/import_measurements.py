"""Convert a measurement file made elsewhere into sweep artifacts (a one-off converter).

    python tools/import_measurements.py FILE [--out DIR]

``FILE`` holds ``runs`` of ``{model, lr, seed, test_accuracy}`` (and optionally ``seconds``,
``valid_accuracy_by_epoch``) with the machine under ``machine``.  Each model maps to the
registered experiment that trains it; the claim, part, metric and epochs come from that
experiment's declaration and LabConfig (``islp_ch10.experiments``), not from this file.  Runs
whose learning rate is not the lab's are left out and listed under ``provenance.excluded``; the
artifact keeps the source's name, checksum and notes under ``provenance``.  The source is not
modified.  ``tools/trace_spreads.py`` then copies every artifact's figures into the catalogue.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from islp_ch10 import experiments, fileio, machine, sweep  # noqa: E402

# the model a measurement file names -> the experiment that trains it
MODEL_EXPERIMENT = {"IMDBLSTM": "imdb-lstm", "IMDBRNN": "imdb-rnn"}


def import_measurements(source: Path, out_dir: Path | None = None) -> list[Path]:
    """Write one sweep artifact per experiment found in ``source``; return their paths."""
    source = Path(source)
    text = source.read_text()
    data = json.loads(text)
    threads = data["machine"]["torch_threads"]
    by_experiment: dict[str, list] = {}
    excluded = []
    for r in data["runs"]:
        name = MODEL_EXPERIMENT.get(r["model"])
        if name is None:
            raise ValueError(f"{source}: no experiment trains model {r['model']!r}; known: {sorted(MODEL_EXPERIMENT)}")
        entry = experiments.get(name)
        ((claim, part),) = entry.measures()
        lab = entry.config
        _, lab_lr = lab.resolved_optimizer()
        if r["lr"] != lab_lr:
            excluded.append(
                f"{r['model']} lr {r['lr']} seed {r['seed']} ({r['test_accuracy']}): not the lab's lr {lab_lr}"
            )
            continue
        by_experiment.setdefault(name, []).append(
            {
                "seed": r["seed"],
                "claim": claim,
                "part": part,
                "metric": lab.metric,
                "value": r["test_accuracy"],
                "epochs": lab.epochs,
                "seconds": r.get("seconds"),
                "valid_by_epoch": r.get("valid_accuracy_by_epoch", []),
            }
        )
    paths = []
    for name, runs in by_experiment.items():
        tag = machine.tag(data["machine"]["cpu"])
        payload = {
            "experiment": name,
            "runs": sorted(runs, key=lambda r: r["seed"]),
            "command": f"python tools/import_measurements.py {source.name}",
            "machine": {"cpu": data["machine"]["cpu"], "tag": tag, "torch_threads": threads, "cuda": None},
            "versions": data.get("versions", {}),
            "code": data.get("code"),
            "provenance": {
                "source": source.name,
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "what": data.get("what"),
                "how": data.get("how"),
                "note": data.get("note"),
                "excluded": excluded,
            },
        }
        path = (out_dir or sweep.SPREADS_DIR) / f"{name}__{tag}__t{threads}.json"
        fileio.write_json(path, payload)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/import_measurements.py", description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="the measurement JSON file to convert")
    parser.add_argument("--out", type=Path, default=None, help="artifact folder (default: docs/spreads)")
    args = parser.parse_args(argv)
    for p in import_measurements(args.source, args.out):
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
