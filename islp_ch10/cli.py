"""``islp-ch10``: reproduce the chapter, list its claims, fetch its data.

    islp-ch10 reproduce [--full] [--seeds 0,1,2] [--only a,b] [--out reports/latest]
    islp-ch10 claims [--results reports/latest/results.json] [--tests reports/claims.json]
    islp-ch10 download {mnist,imdb,cifar100,all}
    islp-ch10 data
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from islp_ch10 import claims


def _parse_seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes comma-separated integers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="islp-ch10", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser("reproduce", help="run the chapter's experiments and write a report")
    rep.add_argument("--full", action="store_true",
                     help="every experiment the data allows (default: a quick subset, a few CPU minutes)")
    rep.add_argument("--only", default=None, help="comma-separated experiment names (see --list)")
    rep.add_argument("--list", action="store_true", help="list the experiments and exit")
    rep.add_argument("--seeds", type=_parse_seeds, default=[0], help="e.g. 0,1,2 (default 0)")
    rep.add_argument("--path", choices=("fast", "islp"), default="fast",
                     help="training path: in-memory batches (fast) or the book's ISLP.torch objects")
    rep.add_argument("--accelerator", default="cpu", help="passed to Lightning (cpu, gpu, auto)")
    rep.add_argument("--devices", default="1", help="passed to Lightning")
    rep.add_argument("--strategy", default="auto", help="passed to Lightning (e.g. ddp)")
    rep.add_argument("--out", default="reports/latest", help="output folder (default reports/latest)")
    rep.add_argument("--progress", action="store_true", help="show Lightning's progress bars")

    cl = sub.add_parser("claims", help="print the claim catalogue with each claim's status")
    cl.add_argument("--results", default="reports/latest/results.json",
                    help="results.json of a reproduce run (measured values and verdicts)")
    cl.add_argument("--tests", default="reports/claims.json",
                    help="outcomes written by `pytest --claims-report PATH`")
    cl.add_argument("--section", default=None, help="only this section, e.g. 10.3")

    dl = sub.add_parser("download", help="download a data set (needs the internet), verified by checksum")
    dl.add_argument("name", help="mnist, imdb, cifar100 or all")
    dl.add_argument("--root", default=None, help="data folder (default: $ISLP_CH10_DATA or the user cache)")

    sub.add_parser("data", help="where the data is looked for and which data sets are present")

    sw = sub.add_parser("sweep", help="one experiment over seeds -> docs/spreads/ artifact (catalogue spreads)")
    sw.add_argument("experiment", help="an experiment name (see `reproduce --list`)")
    sw.add_argument("--seeds", type=_parse_seeds, default=[0, 1, 2], help="default 0,1,2")
    sw.add_argument("--out", default=None, help="artifact folder (default: docs/spreads of the checkout)")
    sw.add_argument("--fresh", action="store_true", help="ignore seeds already in the artifact")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"reproduce": cmd_reproduce, "claims": cmd_claims, "download": cmd_download,
                "data": cmd_data, "sweep": cmd_sweep}[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# ----------------------------------------------------------------------------- reproduce
def cmd_reproduce(args) -> int:
    from islp_ch10 import experiments, report
    from islp_ch10.data import DataMissing
    from islp_ch10.lab_defaults import RunSettings

    if args.list:
        for name, exp in experiments.EXPERIMENTS.items():
            quick = " (quick)" if name in experiments.QUICK else ""
            print(f"{name:18s}{quick:9s}{exp.summary}")
        return 0
    names = (args.only.split(",") if args.only else
             list(experiments.EXPERIMENTS) if args.full else list(experiments.QUICK))
    unknown = [n for n in names if n not in experiments.EXPERIMENTS]
    if unknown:
        print(f"unknown experiment(s): {', '.join(unknown)}; see `islp-ch10 reproduce --list`", file=sys.stderr)
        return 2
    threads = os.environ.get("ISLP_CH10_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    out = Path(args.out)
    devices = int(args.devices) if args.devices.isdigit() else args.devices
    measurements, skipped = [], []
    start = time.perf_counter()
    total = len(names) * len(args.seeds)
    step = 0
    for name in names:
        for seed in args.seeds:
            step += 1
            settings = RunSettings(seed=seed, path=args.path, accelerator=args.accelerator, devices=devices,
                                   strategy=args.strategy, log_dir=str(out / "logs"), progress=args.progress)
            print(f"[{step}/{total}] {name} seed {seed} ({args.path} path) ...", flush=True)
            t0 = time.perf_counter()
            try:
                got = experiments.run(name, settings)
            except DataMissing as exc:
                print(f"    skipped: {exc}", flush=True)
                skipped.append({"experiment": name, "reason": str(exc)})
                break
            measurements += got
            for m in got:
                label = f"{m.claim}" + (f" [{m.part}]" if m.part else "")
                print(f"    {label}: {m.metric} = {m.value:.4f}", flush=True)
            print(f"    done in {time.perf_counter() - t0:.1f} s", flush=True)

    dd = next((m.in_memory["double_descent"] for m in measurements if "double_descent" in m.in_memory), None)
    path = report.write(measurements, out, double_descent=dd, wall_time=time.perf_counter() - start,
                        skipped=skipped)
    failed = [r for r in report.summarise(measurements) if r["verdict"] == "FAIL"]
    print(f"wrote {path} and {out / 'results.json'} in {time.perf_counter() - start:.0f} s; "
          f"{len(measurements)} measurements, {len(failed)} below threshold, {len(skipped)} skipped for data")
    return 1 if failed else 0


# ----------------------------------------------------------------------------- claims
def cmd_claims(args) -> int:
    results = _load_json(args.results)
    tests = _load_json(args.tests)
    measured: dict[str, list[str]] = {}
    for row in (results or {}).get("summary", []):
        label = f"{row['median']:.4g}" + (f" ({row['part']})" if row["part"] else "")
        measured.setdefault(row["claim"], []).append(f"{label} {row['verdict']}")
    header = f"{'claim':28s} {'kind':18s} {'book':>12s}  {'tests':10s} {'measured':30s} statement"
    print(header)
    print("-" * len(header))
    for cid, claim in claims.catalogue().items():
        if args.section and claim.section != args.section:
            continue
        outcome = _test_status((tests or {}).get(cid))
        book = "" if claim.book_value is None else str(claim.book_value)
        flag = " [erratum]" if claim.erratum else ""
        print(f"{cid:28s} {claim.kind:18s} {book[:12]:>12s}  {outcome:10s} "
              f"{'; '.join(measured.get(cid, [])) [:30]:30s} {claim.statement}{flag}")
    if tests is None:
        print(f"\n(no test outcomes: run `pytest --claims-report {args.tests}` to fill the tests column)")
    return 0


def _test_status(records) -> str:
    if not records:
        return "not run"
    outcomes = {r["outcome"] for r in records}
    for state in ("failed", "skipped", "xfailed"):
        if state in outcomes:
            return state
    return "passed"


def _load_json(path: str):
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else None


# ----------------------------------------------------------------------------- sweep
def cmd_sweep(args) -> int:
    from islp_ch10 import experiments
    from islp_ch10.sweep import run_sweep

    if args.experiment not in experiments.EXPERIMENTS:
        print(f"unknown experiment {args.experiment!r}; see `islp-ch10 reproduce --list`", file=sys.stderr)
        return 2
    threads = os.environ.get("ISLP_CH10_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    path = run_sweep(args.experiment, args.seeds, Path(args.out) if args.out else None, resume=not args.fresh,
                     log=lambda msg: print(msg, flush=True))
    print(f"wrote {path}")
    return 0


# ----------------------------------------------------------------------------- data
def cmd_download(args) -> int:
    from islp_ch10 import data

    names = ["mnist", "imdb", "cifar100"] if args.name == "all" else [args.name]
    for name in names:
        print(f"downloading {name} ...", flush=True)
        data.download(name, root=args.root)
    return 0


def cmd_data(args) -> int:
    from islp_ch10 import data

    print(f"data root: {data.data_root()}  (set ISLP_CH10_DATA to change)")
    print(f"cache:     {data.cache_dir()}  (set ISLP_CH10_CACHE to change)")
    for name, loader in (("mnist", data.load_mnist), ("nyse", data.load_nyse), ("hitters", data.load_hitters),
                         ("cifar100", data.load_cifar100)):
        try:
            loader()
            print(f"  {name:9s} present")
        except data.DataMissing as exc:
            print(f"  {name:9s} missing: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
