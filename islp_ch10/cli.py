"""``islp-ch10``: reproduce the chapter, list its claims, fetch its data.

    islp-ch10 reproduce [--full] [--seeds 0,1,2] [--only a,b] [--out DIR] [--resume]
    islp-ch10 claims [--results DIR/results.json] [--tests reports/claims.json] [--section 10.3]
    islp-ch10 download {mnist,imdb,cifar100,...,all} [--root DIR]
    islp-ch10 data
    islp-ch10 sweep EXPERIMENT [--seeds 0,1,2]

Every expected failure prints one line, ``islp-ch10: <what> ...; <what to do>``, and exits
with the code of its class (``--debug`` adds the traceback):

    0 success; 1 a claim below its threshold; 2 usage (bad option, environment value or
    name, an unusable HOME); 3 data missing; 4 data corrupt (checksum, format, or a damaged
    JSON file: a measurement file, results.json, claim outcomes, a sweep artifact, each
    named); 5 I/O (permissions, disk full, download failed); 6 another run holds the output
    folder; 70 internal error; 130 interrupted (Ctrl-C) and 143 terminated (SIGTERM, as
    ``timeout``, CI and systemd send), each with "N measurements kept" and the --resume hint.

``reproduce`` checks everything before it trains (options, seeds within 0..2**32-1,
``ISLP_CH10_THREADS`` within 1..4 x the cores, the output and cache folders, ``$HOME`` where a
default folder would be under it, Lightning's accelerator/devices/strategy on this machine, and
every measurement file already in the output folder against its schema), takes a lock on the
output folder, writes each experiment's measurements the moment it ends
(``OUT/measurements/<experiment>-seed<N>.json``) and rebuilds the report from all of them.
``--resume`` skips a pair only when its file is whole and was measured with the same path,
accelerator and devices.  ``sweep`` holds the lock of its artifact folder the same way.
``python -m islp_ch10`` is this command.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import traceback

from islp_ch10 import errors
from islp_ch10.data_commands import cmd_data, cmd_download
from islp_ch10.errors import CLIError, InterruptGuard, UsageError
from islp_ch10.outdir import (
    REPORT_SPACE,
    check_cache,
    check_home,
    default_reports_dir,
    hold,
    out_folder,
    writable_folder,
)


# ----------------------------------------------------------------------------- parsing
class _Parser(argparse.ArgumentParser):
    """argparse whose errors are :class:`UsageError` s (one line, exit 2) instead of usage dumps."""

    def error(self, message):
        raise UsageError(f"{message}; see `{self.prog} --help`")


#: the largest seed every random generator of the stack accepts (numpy's legacy ``np.random.seed``
#: and Lightning's ``seed_everything`` take 0..2**32-1)
MAX_SEED = 2**32 - 1


def _parse_seeds(text: str) -> list[int]:
    parts = [s.strip() for s in text.split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError(f"{text!r} names no seed; give whole numbers like 0,1,2")
    seeds: list[int] = []
    for s in filter(None, parts):
        try:
            seed = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{s!r} is not a whole number; give comma-separated seeds like 0,1,2"
            ) from None
        if seed < 0:
            raise argparse.ArgumentTypeError(f"seed {seed} is negative; seeds are whole numbers >= 0")
        if seed > MAX_SEED:
            raise argparse.ArgumentTypeError(
                f"seed {seed} is above {MAX_SEED} (2**32-1), the largest seed numpy and Lightning accept"
            )
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

    _reproduce_options(command("reproduce", "run the chapter's experiments and write a report"))
    _claims_options(command("claims", "print the claim catalogue with each claim's status"))
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


def _reproduce_options(rep: argparse.ArgumentParser) -> None:
    from islp_ch10.machine import ACCELERATORS

    full_help = "every experiment the data allows (default: a quick subset, a few CPU minutes)"
    rep.add_argument("--full", action="store_true", help=full_help)
    rep.add_argument("--only", default=None, help="comma-separated experiment names (see --list)")
    rep.add_argument("--list", action="store_true", help="list the experiments and exit")
    rep.add_argument("--seeds", type=_parse_seeds, default=[0], help="e.g. 0,1,2 (default 0)")
    resume_help = "skip experiment/seed pairs already measured in the output folder"
    rep.add_argument("--resume", action="store_true", help=resume_help)
    path_help = "training path: in-memory batches (fast) or the book's ISLP.torch objects"
    rep.add_argument("--path", choices=("fast", "islp"), default="fast", help=path_help)
    rep.add_argument("--accelerator", default="cpu", help=f"Lightning accelerator: {', '.join(ACCELERATORS)}")
    rep.add_argument("--devices", default="1", help="Lightning devices: a count, GPU indices 0,1, -1 or auto")
    rep.add_argument("--strategy", default="auto", help="Lightning strategy (auto, ddp, ddp_spawn, ...)")
    rep.add_argument("--out", default=None, help=f"output folder (default {default_reports_dir() / 'latest'})")
    rep.add_argument("--progress", action="store_true", help="show Lightning's progress bars")


def _claims_options(cl: argparse.ArgumentParser) -> None:
    reports = default_reports_dir()
    results_help = f"results.json of a reproduce run (default {reports / 'latest/results.json'})"
    cl.add_argument("--results", default=None, help=results_help)
    tests_help = f"outcomes written by `pytest --claims-report PATH` (default {reports / 'claims.json'})"
    cl.add_argument("--tests", default=None, help=tests_help)
    cl.add_argument("--section", default=None, help="only this section, e.g. 10.3")
    cl.add_argument("--width", type=int, default=None, help="line width (default: the terminal's, at most 100)")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run one command; every failure ends here as one line and an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        command = next((a for a in argv if not a.startswith("-")), None)
        check_home(command, argv)  # before the parser imports matplotlib (through torch's stack)
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
    """The torch thread choice (:func:`islp_ch10.threads.choose_threads`); a bad value is a UsageError."""
    from islp_ch10.threads import choose_threads

    try:
        return choose_threads()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_lightning(accelerator: str, devices: str, strategy: str):
    """:func:`islp_ch10.training.check_devices`, its refusal a UsageError; returns Lightning's ``devices``."""
    from islp_ch10.training import check_devices

    try:
        return check_devices(accelerator, devices, strategy)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _apply_threads(choice) -> None:
    """Set torch's thread count to the choice and say which, and why (the report records it too)."""
    import torch

    torch.set_num_threads(choice.threads)
    print(f"threads: {choice}", flush=True)


# ----------------------------------------------------------------------------- reproduce
def _selection(args) -> list[str]:
    from islp_ch10 import experiments

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


def cmd_reproduce(args) -> int:
    from islp_ch10 import experiments
    from islp_ch10.lab_defaults import RunSettings
    from islp_ch10.reproduce import Reproduction, plan

    if args.list:
        for name, exp in experiments.EXPERIMENTS.items():
            print(f"{name:18s}{' (quick)' if name in experiments.QUICK else '':9s}{exp.summary}")
        return 0
    # --- everything is checked before the first experiment starts
    names = _selection(args)
    threads = threads_from_env()
    devices = check_lightning(args.accelerator, args.devices, args.strategy)
    out = out_folder(args.out, default_reports_dir() / "latest")
    writable_folder(out, "output folder", "pass another --out", REPORT_SPACE)
    check_cache()
    settings = RunSettings(
        path=args.path, accelerator=args.accelerator, devices=devices, strategy=args.strategy, progress=args.progress
    )
    with hold(out):
        pairs = [(n, s) for n in names for s in args.seeds]
        todo = plan(out, pairs, settings, args.resume, log=lambda msg: print(msg, flush=True))
        _apply_threads(threads)
        run = Reproduction(out, settings, resumed=len(pairs) - len(todo))
        run.measure(todo)
        return run.finish()


# ----------------------------------------------------------------------------- claims, sweep, data
def cmd_claims(args) -> int:
    from islp_ch10 import claims_table

    reports = default_reports_dir()
    results_path = out_folder(args.results, reports / "latest" / "results.json", "--results")
    tests_path = out_folder(args.tests, reports / "claims.json", "--tests")
    results = claims_table.load_json(results_path, "--results", args.results is not None)
    tests = claims_table.load_json(tests_path, "--tests", args.tests is not None)
    width = max(args.width or min(100, shutil.get_terminal_size((100, 24)).columns), 72)
    for line in claims_table.table(results, tests, args.section, width):
        print(line)
    if tests is None:
        print(f"(no test outcomes at {tests_path}: run `pytest --claims-report {tests_path}` to fill the tests column)")
    if results is None:
        print(f"(no measurements at {results_path}: run `islp-ch10 reproduce` to fill the measured column)")
    return 0


def cmd_sweep(args) -> int:
    from islp_ch10 import experiments, sweep

    if args.experiment not in experiments.EXPERIMENTS:
        raise UsageError(f"unknown experiment {args.experiment!r}; see `islp-ch10 reproduce --list`")
    threads = threads_from_env()
    check_lightning(args.accelerator, "1", "auto")
    out = out_folder(args.out, sweep.SPREADS_DIR)
    writable_folder(out, "artifact folder", "pass another --out", 2**20)
    check_cache()
    artifact = sweep.artifact_path(args.experiment, threads.threads, out, args.accelerator)
    before = 0 if args.fresh else len((sweep.read_artifact(artifact) or {"runs": []})["runs"])  # damaged: exit 4
    _apply_threads(threads)
    try:
        with InterruptGuard() as guard:
            log = lambda msg: print(msg, flush=True)  # noqa: E731
            path = sweep.run_sweep(args.experiment, args.seeds, out, not args.fresh, log, args.accelerator)
    except BaseException as exc:
        if guard.was_interrupt(exc):
            kept = max(0, sweep.runs_in(artifact) - before)
            raise guard.interrupted(kept, str(artifact), exc, "rerun the same sweep: it skips the seeds kept") from exc
        raise
    print(f"wrote {path}")
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
