"""``islp-ch10``: reproduce the chapter, list its claims, fetch its data.

    islp-ch10 reproduce [--full] [--seeds 0,1,2] [--only a,b] [--out DIR] [--resume]
    islp-ch10 claims [--results DIR/results.json] [--tests reports/claims.json] [--section 10.3]
    islp-ch10 download {mnist,imdb,cifar100,...,all} [--root DIR]
    islp-ch10 data
    islp-ch10 sweep EXPERIMENT [--seeds 0,1,2]

Every expected failure prints one line, ``islp-ch10: <what> ...; <what to do>``, and exits
with the code of its class (``--debug`` adds the traceback):

    0 success; 1 a claim below its threshold; 2 usage (bad option, environment value or
    name); 3 data missing; 4 data corrupt (checksum, format, unreadable JSON); 5 I/O
    (permissions, disk full, download failed); 6 another run holds the output folder;
    70 internal error; 130 interrupted, with "interrupted; N measurements kept".

``reproduce`` checks everything before it trains (options, ``ISLP_CH10_THREADS``, the output
and cache folders, Lightning's accelerator/devices/strategy on this machine), takes a lock on
the output folder, writes each experiment's measurements the moment it ends
(``OUT/measurements/<experiment>-seed<N>.json``) and rebuilds the report from all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from islp_ch10 import claims, errors
from islp_ch10.errors import BusyError, CLIError, Interrupted, StorageError, UsageError

THREADS_ENV = "ISLP_CH10_THREADS"
REPORT_SPACE = 20 * 2**20  # bytes the report and plots need at most
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
LOCK_NAME = ".islp-ch10.lock"
REPO = Path(__file__).resolve().parent.parent


def default_reports_dir() -> Path:
    """``<checkout>/reports`` when the package runs from a checkout, else ``<user data>/islp-ch10/reports``.

    Never the current folder, so ``islp-ch10 claims`` finds the reports wherever it is started."""
    if (REPO / "pyproject.toml").is_file() and (REPO / "islp_ch10").is_dir():
        return REPO / "reports"
    base = os.environ.get("XDG_DATA_HOME")
    return (Path(base) if base else Path.home() / ".local" / "share") / "islp-ch10" / "reports"


# ----------------------------------------------------------------------------- parsing
class _Parser(argparse.ArgumentParser):
    """argparse whose errors are :class:`UsageError` s (one line, exit 2) instead of usage dumps."""

    def error(self, message):
        raise UsageError(f"{message}; see `{self.prog} --help`")


def _parse_seeds(text: str) -> list[int]:
    parts = [s.strip() for s in text.split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError(f"{text!r} names no seed; give whole numbers like 0,1,2")
    seeds = []
    for s in parts:
        if not s:
            continue
        try:
            seed = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{s!r} is not a whole number; give comma-separated seeds like 0,1,2"
            ) from None
        if seed < 0:
            raise argparse.ArgumentTypeError(f"seed {seed} is negative; seeds are whole numbers >= 0")
        if seed in seeds:
            raise argparse.ArgumentTypeError(f"seed {seed} is given twice")
        seeds.append(seed)
    return seeds


def build_parser() -> argparse.ArgumentParser:
    """The ``islp-ch10`` argument parser (exit codes in the epilog)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of a failure"
    )
    epilog = "exit codes:\n" + errors.exit_code_table()
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="islp-ch10", description=__doc__.split("\n")[0], epilog=epilog, formatter_class=fmt, parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        # Every subcommand shares the --debug flag, the exit-code epilog and its formatter.
        # typeshed wants the parents to be of the subparsers' class (_Parser); argparse takes any
        # ArgumentParser as a parent, and `common` is one only to lend its arguments.
        parents = [common]
        return sub.add_parser(name, help=help, parents=parents, epilog=epilog, formatter_class=fmt)  # type: ignore[arg-type]

    rep = command("reproduce", "run the chapter's experiments and write a report")
    rep.add_argument(
        "--full",
        action="store_true",
        help="every experiment the data allows (default: a quick subset, a few CPU minutes)",
    )
    rep.add_argument("--only", default=None, help="comma-separated experiment names (see --list)")
    rep.add_argument("--list", action="store_true", help="list the experiments and exit")
    rep.add_argument("--seeds", type=_parse_seeds, default=[0], help="e.g. 0,1,2 (default 0)")
    rep.add_argument(
        "--resume", action="store_true", help="skip experiment/seed pairs already measured in the output folder"
    )
    rep.add_argument(
        "--path",
        choices=("fast", "islp"),
        default="fast",
        help="training path: in-memory batches (fast) or the book's ISLP.torch objects",
    )
    rep.add_argument("--accelerator", default="cpu", help=f"Lightning accelerator: {', '.join(ACCELERATORS)}")
    rep.add_argument("--devices", default="1", help="Lightning devices: a count, GPU indices 0,1, -1 or auto")
    rep.add_argument("--strategy", default="auto", help="Lightning strategy (auto, ddp, ddp_spawn, ...)")
    rep.add_argument("--out", default=None, help=f"output folder (default {default_reports_dir() / 'latest'})")
    rep.add_argument("--progress", action="store_true", help="show Lightning's progress bars")

    cl = command("claims", "print the claim catalogue with each claim's status")
    cl.add_argument(
        "--results",
        default=None,
        help=f"results.json of a reproduce run (default {default_reports_dir() / 'latest/results.json'})",
    )
    cl.add_argument(
        "--tests",
        default=None,
        help=f"outcomes written by `pytest --claims-report PATH` (default {default_reports_dir() / 'claims.json'})",
    )
    cl.add_argument("--section", default=None, help="only this section, e.g. 10.3")
    cl.add_argument("--width", type=int, default=None, help="line width (default: the terminal's, at most 100)")

    dl = command("download", "download a data set (needs the internet), verified by checksum")
    dl.add_argument("name", help="a data set name (see `islp-ch10 data`) or all")
    dl.add_argument("--root", default=None, help="data folder (default: $ISLP_CH10_DATA or the user cache)")

    command("data", "where the data is looked for and which data sets are present")

    sw = command("sweep", "one experiment over seeds -> docs/spreads/ artifact (catalogue spreads)")
    sw.add_argument("experiment", help="an experiment name (see `reproduce --list`)")
    sw.add_argument("--seeds", type=_parse_seeds, default=[0, 1, 2], help="default 0,1,2")
    sw.add_argument("--out", default=None, help="artifact folder (default: docs/spreads of the checkout)")
    sw.add_argument("--fresh", action="store_true", help="ignore seeds already in the artifact")
    sw.add_argument("--accelerator", default="cpu", help="passed to Lightning (cpu or gpu; default cpu)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: run one command; every failure ends here as one line and an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except SystemExit as exc:  # argparse's --help, or a library calling sys.exit
        if exc.code in (0, None):
            return 0
        err = CLIError(f"internal error: exit({exc.code}) from a library (rerun with --debug)")
        failure: BaseException = exc
    except BaseException as exc:  # noqa: BLE001 - the one top-level handler
        err, failure = errors.classify(exc), exc
    if debug:
        traceback.print_exception(failure)
    print(f"islp-ch10: {err}", file=sys.stderr, flush=True)
    return err.code


# ----------------------------------------------------------------------------- checks before work
def threads_from_env():
    """The torch thread choice (:func:`islp_ch10.threads.choose_threads`): ``ISLP_CH10_THREADS`` when
    set, else one per core this process may run on; a bad value is a UsageError."""
    from islp_ch10.threads import choose_threads

    try:
        return choose_threads()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def writable_folder(path: Path, what: str, hint: str, need_bytes: int = 0) -> Path:
    """Create ``path`` if needed and prove it writable (a probe file) with ``need_bytes`` free."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StorageError(f"{what} {path} exists and is not a folder; {hint}") from None
    except OSError as exc:
        raise StorageError(f"{what} {path} cannot be created ({exc.strerror or exc}); {hint}") from None
    if not path.is_dir():
        raise StorageError(f"{what} {path} is not a folder; {hint}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StorageError(f"{what} {path} is not writable ({exc.strerror or exc}); {hint}") from None
    if need_bytes:
        free = shutil.disk_usage(path).free
        if free < need_bytes:
            raise StorageError(
                f"only {free / 2**20:.1f} MB free for {what} {path}, which needs about "
                f"{need_bytes / 2**20:.0f} MB; free some space or {hint}"
            )
    return path


def check_cache() -> Path:
    """The processed-data cache folder, created and proved writable."""
    from islp_ch10 import data

    hint = f"set {data.CACHE_ENV} to a writable folder"
    try:
        path = data.cache_dir()
    except OSError as exc:
        raise StorageError(f"cache folder cannot be created ({errors.describe_os_error(exc)}); {hint}") from None
    return writable_folder(path, "cache folder", hint)


def check_lightning(accelerator: str, devices: str, strategy: str):
    """Accelerator, devices and strategy checked against this machine; returns Lightning's ``devices``."""
    import torch

    acc = accelerator.strip().lower()
    if acc not in ACCELERATORS:
        raise UsageError(f"--accelerator {accelerator!r} is not one of {', '.join(ACCELERATORS)}")
    if acc in ("gpu", "cuda") and not torch.cuda.is_available():
        raise UsageError(
            f"--accelerator {accelerator}: this machine has no usable CUDA GPU "
            "(torch.cuda.is_available() is False); use --accelerator cpu or auto"
        )
    if acc == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--accelerator mps: Apple's MPS backend is not available here; use --accelerator cpu")
    text = devices.strip()
    hint = "give a positive count, GPU indices such as 0,1, -1 (all) or auto"
    if text == "auto":
        parsed: int | str | list = "auto"
    elif "," in text:
        try:
            parsed = [int(d) for d in text.split(",") if d.strip()]
        except ValueError:
            raise UsageError(f"--devices {devices!r}: {hint}") from None
        if acc not in ("gpu", "cuda") or not parsed or min(parsed) < 0:
            raise UsageError(f"--devices {devices!r}: a list of indices needs --accelerator gpu; {hint}")
        if max(parsed) >= torch.cuda.device_count():
            raise UsageError(f"--devices {devices}: this machine has {torch.cuda.device_count()} GPU(s)")
    else:
        try:
            parsed = int(text)
        except ValueError:
            raise UsageError(f"--devices {devices!r}: {hint}") from None
        if parsed == 0 or parsed < -1:
            raise UsageError(f"--devices {devices}: {hint}")
        if acc in ("gpu", "cuda") and parsed > torch.cuda.device_count():
            raise UsageError(f"--devices {parsed}: this machine has {torch.cuda.device_count()} GPU(s)")
    from pytorch_lightning.strategies import StrategyRegistry

    known = ["auto", "dp", *StrategyRegistry.available_strategies()]
    if strategy not in known:
        raise UsageError(
            f"--strategy {strategy!r} is not a Lightning strategy; use auto, ddp, ddp_spawn, "
            "fsdp or another name in pytorch_lightning's StrategyRegistry"
        )
    import pytorch_lightning as pl

    quiet = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:  # Lightning's own checks of the combination, without training anything
        pl.Trainer(
            accelerator=acc,
            devices=parsed,
            strategy=strategy,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
    except Exception as exc:  # noqa: BLE001 - Lightning raises several types for a bad combination
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise UsageError(
            f"Lightning refuses --accelerator {accelerator} --devices {devices} --strategy {strategy}: {first}"
        ) from None
    finally:
        quiet.setLevel(level)
    return parsed


@contextlib.contextmanager
def output_lock(out: Path):
    """Hold ``out/.islp-ch10.lock`` (fcntl) for the run; a second run on the same folder is refused."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the atomic writes still keep each file whole
        yield
        return
    path = out / LOCK_NAME
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise BusyError(
                f"{out} is in use by another islp-ch10 run (pid {holder}); wait for it to finish or pass another --out"
            ) from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class InterruptGuard:
    """Ctrl-C handling that survives Lightning.

    Lightning 2.6 catches ``KeyboardInterrupt`` inside ``trainer.fit``, sets SIGINT to "ignore"
    and calls ``sys.exit(1)`` (``pytorch_lightning/trainer/call.py``).  This guard's handler
    records the signal before raising ``KeyboardInterrupt``, so the ``SystemExit`` that comes out
    of ``fit`` is recognised as the user's Ctrl-C; the previous handler is restored on exit.
    """

    def __init__(self):
        self.hit = False
        self._previous = None

    def _handler(self, signum, frame):
        self.hit = True
        raise KeyboardInterrupt

    def was_interrupt(self, exc: BaseException) -> bool:
        return isinstance(exc, KeyboardInterrupt) or (isinstance(exc, SystemExit) and self.hit)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


# ----------------------------------------------------------------------------- experiments
def _experiments():
    from islp_ch10 import experiments

    return experiments


def run_experiment(name: str, seed: int, args) -> tuple[list[dict], dict]:
    """The command line's one use of the experiment API: build the run settings, run, return the
    measurements as dicts and their by-products for the report's plots (never stored)."""
    experiments = _experiments()
    from islp_ch10.lab_defaults import RunSettings

    settings = RunSettings(
        seed=seed,
        path=args.path,
        accelerator=args.accelerator,
        devices=args.lightning_devices,
        strategy=args.strategy,
        progress=args.progress,
    )
    measurements = experiments.run(name, settings)
    by_products = {k: v for m in measurements for k, v in m.in_memory.items()}
    return [m.to_json() for m in measurements], by_products


def _selection(args) -> list[str]:
    experiments = _experiments()
    if args.only is not None:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        if not names:
            raise UsageError(f"--only {args.only!r} names no experiment; see `islp-ch10 reproduce --list`")
    else:
        names = list(experiments.EXPERIMENTS) if args.full else list(experiments.QUICK)
    unknown = [n for n in names if n not in experiments.EXPERIMENTS]
    if unknown:
        raise UsageError(f"unknown experiment(s): {', '.join(unknown)}; see `islp-ch10 reproduce --list`")
    return list(dict.fromkeys(names))


def _apply_threads(choice) -> None:
    """Set torch's thread count to the choice and say which, and why (the report records it too)."""
    import torch

    torch.set_num_threads(choice.threads)
    print(f"threads: {choice}", flush=True)


def _save(out: Path, name: str, seed: int, records: list[dict], meta: dict) -> None:
    """Save one experiment's measurements; if ``out`` refuses them, keep them in the temp folder."""
    from islp_ch10 import report

    try:
        report.save_measurements(out, name, seed, records, meta)
    except OSError as exc:
        rescue = Path(tempfile.gettempdir()) / f"islp-ch10-rescued-{name}-seed{seed}-{os.getpid()}.json"
        try:
            rescue.write_text(json.dumps({"experiment": name, "seed": seed, "measurements": records}, default=str))
            kept = f"this measurement was saved to {rescue}"
        except OSError:
            kept = "this measurement could not be saved anywhere"
        raise StorageError(
            f"cannot write measurements of {name} seed {seed} ({errors.describe_os_error(exc)}); {kept}"
        ) from exc


def cmd_reproduce(args) -> int:
    from islp_ch10 import report

    experiments = _experiments()
    if args.list:
        for name, exp in experiments.EXPERIMENTS.items():
            quick = " (quick)" if name in experiments.QUICK else ""
            print(f"{name:18s}{quick:9s}{exp.summary}")
        return 0
    # --- everything is checked before the first experiment starts
    names = _selection(args)
    threads = threads_from_env()
    args.lightning_devices = check_lightning(args.accelerator, args.devices, args.strategy)
    out = Path(args.out).expanduser() if args.out else default_reports_dir() / "latest"
    writable_folder(out, "output folder", "pass another --out", REPORT_SPACE)
    check_cache()
    with output_lock(out):
        done = report.measured(out) if args.resume else set()
        todo = [(n, s) for n in names for s in args.seeds if (n, s) not in done]
        return _reproduce(args, out, names, todo, len(done & {(n, s) for n in names for s in args.seeds}), threads)


def _reproduce(
    args, out: Path, names: list[str], todo: list[tuple[str, int]], resumed: int, threads: int | None
) -> int:
    from islp_ch10 import report
    from islp_ch10.data import DataMissing

    _apply_threads(threads)
    by_products: dict = {}  # e.g. the double-descent curves, plotted when that experiment runs now
    start = time.perf_counter()
    if resumed:
        print(f"resuming: {resumed} experiment/seed pair(s) already measured in {out / report.MEASUREMENTS}")
    skipped, missing, new = [], set(), 0
    failure: BaseException | None = None
    with InterruptGuard() as guard:
        for step, (name, seed) in enumerate(todo, 1):
            if name in missing:
                continue
            print(f"[{step}/{len(todo)}] {name} seed {seed} ({args.path} path) ...", flush=True)
            t0 = time.perf_counter()
            try:
                records, extra = run_experiment(name, seed, args)
                by_products.update(extra)
            except DataMissing as exc:
                print(f"    skipped: {exc}", flush=True)
                skipped.append({"experiment": name, "reason": str(exc)})
                missing.add(name)
                continue
            except BaseException as exc:
                if guard.was_interrupt(exc):
                    raise Interrupted(new, str(out / report.MEASUREMENTS)) from exc
                failure = exc
                print(f"    failed: {type(exc).__name__}: {exc}", flush=True)
                break
            _save(out, name, seed, records, {"path": args.path, "wall_time_s": time.perf_counter() - t0})
            new += len(records)
            for r in records:
                label = r["claim"] + (f" [{r['part']}]" if r.get("part") else "")
                print(f"    {label}: {r['metric']} = {r['value']:.4f}", flush=True)
            print(f"    done in {time.perf_counter() - t0:.1f} s", flush=True)
    if not new and not resumed:
        if failure is not None:
            raise failure
        if skipped:
            raise errors.DataMissingError(
                f"no experiment could run, data missing for "
                f"{', '.join(s['experiment'] for s in skipped)}: {skipped[0]['reason']}"
            )
    dd = by_products.get("double_descent")
    path = report.rebuild(out, double_descent=dd, wall_time=time.perf_counter() - start, skipped=skipped)
    rows = report.summarise(report.load_measurements(out))
    failed = report.below_threshold(rows)
    if failure is not None:
        err = errors.classify(failure)
        err.args = (
            f"{err} -- {new} measurement(s) of this run kept in {out / report.MEASUREMENTS}, "
            f"report rebuilt; fix it and rerun with --resume",
        )
        raise err from failure
    print(
        f"wrote {path} and {out / 'results.json'} in {time.perf_counter() - start:.0f} s; {new} new "
        f"measurement(s), {len(rows)} figure(s), {len(failed)} below threshold, {len(skipped)} skipped for data"
    )
    return errors.BELOW_THRESHOLD if failed else errors.OK


# ----------------------------------------------------------------------------- claims
STATUS_ORDER = ("passed", "failed", "xfailed", "incomplete", "skipped", "not run")


def claim_status(claim, records: list[dict] | None) -> str:
    """A claim's roll-up from its test outcomes: ``passed`` only when every test listed for it ran
    and passed; ``failed`` if any failed; ``incomplete`` when some passed but others were skipped
    or did not run (deselected); ``skipped`` / ``not run`` when none ran."""
    records = records or []
    outcomes = [r["outcome"] for r in records]
    if "failed" in outcomes or "error" in outcomes:
        return "failed"
    if "xfailed" in outcomes:
        return "xfailed"
    passed = [r["test"] for r in records if r["outcome"] == "passed"]

    def ran(test: str) -> bool:
        return any(t == test or t.startswith(test + "[") for t in passed)

    if passed and all(ran(t) for t in claim.tests) and all(o == "passed" for o in outcomes):
        return "passed"
    if passed:
        return "incomplete"
    return "skipped" if outcomes else "not run"


def _load_json(path: Path, what: str, explicit: bool):
    if not path.exists():
        if explicit:
            raise UsageError(f"{what} {path} does not exist; pass an existing file")
        return None
    if path.is_dir():
        inside = path / ("results.json" if what == "--results" else "claims.json")
        tip = f"; did you mean {inside}?" if inside.is_file() else ""
        raise UsageError(f"{what} {path} is a folder, not a JSON file{tip}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise errors.DataCorruptError(
            f"{what} {path} is not valid JSON ({exc}); it is truncated or damaged: rerun the command that writes it"
        ) from None


def _num(value) -> str:
    from islp_ch10.report import fmt

    return fmt(value, missing="")


def cmd_claims(args) -> int:
    import textwrap

    reports = default_reports_dir()
    results_path = Path(args.results) if args.results else reports / "latest" / "results.json"
    tests_path = Path(args.tests) if args.tests else reports / "claims.json"
    results = _load_json(results_path, "--results", args.results is not None)
    tests = _load_json(tests_path, "--tests", args.tests is not None)
    for what, value in (("--results", results), ("--tests", tests)):
        if value is not None and not isinstance(value, dict):
            raise errors.DataCorruptError(
                f"{what} file holds {type(value).__name__}, not an object; "
                "pass the file written by islp-ch10 reproduce / pytest --claims-report"
            )
    width = args.width or min(100, shutil.get_terminal_size((100, 24)).columns)
    width = max(width, 72)
    measured: dict[str, list[dict]] = {}
    for row in (results or {}).get("summary", []):
        measured.setdefault(row["claim"], []).append(row)
    catalogue = claims.catalogue()
    sections = sorted({c.section for c in catalogue.values()}, key=lambda s: tuple(map(int, s.split("."))))
    if args.section and args.section not in sections:
        raise UsageError(f"--section {args.section!r} is not a section of the catalogue; one of {', '.join(sections)}")
    head = (
        f"{'claim':28s} {'kind':9s} {'tests':10s} {'book':>10s} {'threshold':>10s} {'measured':>9s} {'deviation':>9s}"
    )
    counts: dict[str, int] = {}
    indent = " " * 4
    for section in sections:
        if args.section and section != args.section:
            continue
        members = [c for c in catalogue.values() if c.section == section]
        statuses = {c.id: claim_status(c, (tests or {}).get(c.id)) for c in members}
        tally = {s: list(statuses.values()).count(s) for s in STATUS_ORDER if s in statuses.values()}
        print(f"\n== {section}: {len(members)} claims ({', '.join(f'{n} {s}' for s, n in tally.items())})")
        print(head)
        for c in members:
            status = statuses[c.id]
            counts[status] = counts.get(status, 0) + 1
            rows = measured.get(c.id, [])
            single = rows[0] if len(rows) == 1 else None
            book = _num(c.book_value)
            thr = f"{c.direction or ''}{_num(c.threshold)}" if c.threshold is not None else ""
            med = f"{single['median']:.4g}" if single else (f"{len(rows)} parts" if rows else "")
            dev = ""
            if single and isinstance(single.get("book_value"), (int, float)):
                dev = f"{single['median'] - single['book_value']:+.3g}"
            kind = c.kind.replace("empirical", "empir.").replace("property", "prop.").replace(" ", "")
            print(
                f"{c.id:28.28s} {kind:9.9s} {status:10s} {book if len(book) <= 10 else '(below)':>10s} "
                f"{thr:>10.10s} {med:>9s} {dev:>9s}"
            )
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
            for note in notes:
                print(textwrap.fill(note, width, initial_indent=indent, subsequent_indent=indent + "  "))
    total = sum(counts.values())
    print(f"\n{total} claims: " + ", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if s in counts))
    if tests is None:
        print(f"(no test outcomes at {tests_path}: run `pytest --claims-report {tests_path}` to fill the tests column)")
    if results is None:
        print(f"(no measurements at {results_path}: run `islp-ch10 reproduce` to fill the measured column)")
    return 0


# ----------------------------------------------------------------------------- sweep
def cmd_sweep(args) -> int:
    from islp_ch10 import sweep

    experiments = _experiments()
    if args.experiment not in experiments.EXPERIMENTS:
        raise UsageError(f"unknown experiment {args.experiment!r}; see `islp-ch10 reproduce --list`")
    threads = threads_from_env()
    check_lightning(args.accelerator, "1", "auto")
    out = Path(args.out).expanduser() if args.out else sweep.SPREADS_DIR
    writable_folder(out, "artifact folder", "pass another --out", 2**20)
    check_cache()
    _apply_threads(threads)
    import torch

    artifact = sweep.artifact_path(args.experiment, torch.get_num_threads(), out, args.accelerator)
    before = _runs_in(artifact)
    try:
        with InterruptGuard() as guard:
            path = sweep.run_sweep(
                args.experiment,
                args.seeds,
                out,
                resume=not args.fresh,
                log=lambda msg: print(msg, flush=True),
                accelerator=args.accelerator,
            )
    except BaseException as exc:
        if guard.was_interrupt(exc):
            raise Interrupted(max(0, _runs_in(artifact) - before), str(artifact)) from exc
        raise
    print(f"wrote {path}")
    return 0


def _runs_in(path: Path) -> int:
    try:
        return len(json.loads(path.read_text())["runs"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


# ----------------------------------------------------------------------------- data
def cmd_download(args) -> int:
    """``islp-ch10 download NAME`` (also ``python -m islp_ch10.data download NAME``): the one download path."""
    from islp_ch10 import data

    choices = sorted(data.DATASETS)
    if args.name != "all" and args.name not in data.DATASETS:
        raise UsageError(f"unknown data set {args.name!r}; choose one of {', '.join(choices)} or all")
    root = Path(args.root).expanduser() if args.root else data.data_root()
    writable_folder(root, "data folder", f"pass another --root or set {data.DATA_ENV}")
    for name in choices if args.name == "all" else [args.name]:
        print(f"downloading {name} into {root} ...", flush=True)
        try:
            for path in data.download(name, root=root):
                print(f"    {path}", flush=True)
        except OSError as exc:
            if exc.errno is None:  # every mirror failed: a network problem, not a file problem
                raise StorageError(
                    f"{exc}; check the network connection, or copy the files by hand (README 'Data')"
                ) from exc
            raise
    return 0


def cmd_data(args) -> int:
    from islp_ch10 import data

    print(f"data root: {data.data_root()}  (set {data.DATA_ENV} to change)")
    print(f"cache:     {data.cache_dir()}  (set {data.CACHE_ENV} to change)")
    for name, loader in (
        ("mnist", data.load_mnist),
        ("nyse", data.load_nyse),
        ("hitters", data.load_hitters),
        ("cifar100", data.load_cifar100),
    ):
        try:
            loader()
            print(f"  {name:9s} present")
        except data.DataMissing as exc:
            print(f"  {name:9s} missing: {exc}")
        except (data.ChecksumError, data.DataFormatError) as exc:
            print(f"  {name:9s} corrupt: {exc}")
    print(f"download names: {', '.join(sorted(data.DATASETS))}, all")
    return 0


COMMANDS = {
    "reproduce": cmd_reproduce,
    "claims": cmd_claims,
    "download": cmd_download,
    "data": cmd_data,
    "sweep": cmd_sweep,
}

if __name__ == "__main__":
    sys.exit(main())
