"""The output folders a run writes into: where they are, the checks before work, the lock, the rescue.

* :func:`default_reports_dir`: ``<checkout>/reports`` from a checkout, else the user's data folder.
* :func:`writable_folder` / :func:`check_cache`: create a folder and prove it writable (and roomy)
  before anything is trained.
* :func:`hold`: the folder's lock (``OUT/.islp-ch10.lock``, :func:`islp_ch10.fileio.lock`) for a
  whole run; a second run on the folder is refused with :class:`~islp_ch10.errors.BusyError`
  (exit 6), a planted link or foreign file with :class:`~islp_ch10.errors.StorageError` (exit 5).
* :func:`scratch`: the run's one folder for logs and temporary files, ``OUT/.logs-*``, removed on
  exit; stale ones left by a killed run are removed by the next run, under the lock.
* :func:`save_or_rescue`: one experiment's measurements into the folder, or, when the folder
  refuses them, into the temporary folder, named in the error.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from islp_ch10 import errors, fileio
from islp_ch10.errors import BusyError, StorageError, UsageError

LOCK_NAME = ".islp-ch10.lock"
REPORT_SPACE = 20 * 2**20  # bytes the report and plots need at most
REPO = Path(__file__).resolve().parent.parent


def default_reports_dir() -> Path:
    """``<checkout>/reports`` when the package runs from a checkout, else ``<user data>/islp-ch10/reports``.

    Never the current folder, so ``islp-ch10 claims`` finds the reports wherever it is started."""
    if (REPO / "pyproject.toml").is_file() and (REPO / "islp_ch10").is_dir():
        return REPO / "reports"
    base = os.environ.get("XDG_DATA_HOME")
    return (Path(base) if base else Path.home() / ".local" / "share") / "islp-ch10" / "reports"


def home_problem() -> str | None:
    """What is wrong with ``$HOME`` as a place for the default folders (None: nothing, or unset)."""
    home = os.environ.get("HOME")
    if home is None:
        return None  # Python falls back to the password database
    if not home.strip():
        return "is empty"
    if not os.path.isabs(home):
        return "is not an absolute path"
    if not os.path.isdir(home):
        return "is not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".islp-ch10-probe-", dir=home))
    except OSError as exc:
        return f"is not writable ({exc.strerror or exc})"
    return None


def check_home(command: str | None, argv: list[str]) -> None:
    """Refuse an unusable ``$HOME`` (:class:`UsageError`, exit 2) when ``command`` would put a
    default folder under it (the cache, the data folder, the reports); otherwise point matplotlib
    at a folder of its own, so its warnings about ``$HOME`` never precede the command's output.
    Runs before anything imports matplotlib."""
    problem = home_problem()
    if problem is None:
        return
    env = os.environ
    # islp_ch10.data's CACHE_ENV and DATA_ENV, spelled out: importing the data package here
    # would import torch and matplotlib, whose warnings this check is here to prevent
    CACHE_ENV, DATA_ENV = "ISLP_CH10_CACHE", "ISLP_CH10_DATA"
    uses = []
    if command in ("reproduce", "sweep", "data") and not (env.get(CACHE_ENV) or env.get("XDG_CACHE_HOME")):
        uses.append(f"the cache folder (or set {CACHE_ENV})")
    root_given = command == "download" and any(a == "--root" or a.startswith("--root=") for a in argv)
    if command in ("download", "data") and not (env.get(DATA_ENV) or env.get("XDG_CACHE_HOME") or root_given):
        uses.append(f"the data folder (or set {DATA_ENV})")
    in_checkout = (REPO / "pyproject.toml").is_file() and (REPO / "islp_ch10").is_dir()
    if command in ("reproduce", "claims") and not (in_checkout or env.get("XDG_DATA_HOME")):
        uses.append("the reports folder (or set XDG_DATA_HOME)")
    if uses:
        raise UsageError(
            f"HOME={env['HOME']!r} {problem}, and {', '.join(uses)} would be under it; set HOME to your home folder"
        )
    if not (env.get("MPLCONFIGDIR") or env.get("XDG_CONFIG_HOME")):
        base = env.get(CACHE_ENV) or env.get("XDG_CACHE_HOME")
        if base:
            env["MPLCONFIGDIR"] = str(Path(base).expanduser() / "matplotlib")
        else:
            folder = tempfile.mkdtemp(prefix="islp-ch10-matplotlib-")
            atexit.register(shutil.rmtree, folder, True)
            env["MPLCONFIGDIR"] = folder


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


@contextlib.contextmanager
def hold(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock for the body; refuse when another run holds it (exit 6) or when the lock
    path is not a lock file this package made (exit 5, the file left as it is)."""
    try:
        with fileio.lock(out / LOCK_NAME, wait=False):
            yield
    except fileio.LockBusy as exc:
        holder = exc.holder if exc.holder is not None else "unknown"
        raise BusyError(
            f"{out} is in use by another islp-ch10 run (pid {holder}); wait for it to finish or pass another --out"
        ) from None
    except fileio.UnsafeLockFile as exc:
        raise StorageError(f"{exc.strerror}, or pass another --out") from None


LOGS_PREFIX = ".logs-"


@contextlib.contextmanager
def scratch(out: Path) -> Iterator[str]:
    """A fresh ``OUT/.logs-*`` folder for the run's logs and temporary files (``tempfile`` and
    ``TMPDIR`` point into it meanwhile), removed on exit; stale ones of killed runs are removed
    first.  Call it under the folder's lock."""
    for stale in out.glob(LOGS_PREFIX + "*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=LOGS_PREFIX, dir=out)
    tmp = os.path.join(folder, "tmp")
    os.mkdir(tmp)
    saved = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir, os.environ["TMPDIR"] = tmp, tmp
    try:
        yield folder
    finally:
        tempfile.tempdir = saved[0]
        if saved[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[1]
        shutil.rmtree(folder, ignore_errors=True)


def save_or_rescue(
    out: Path, name: str, seed: int, records: list[dict], meta: dict, rescue_dir: str | None = None
) -> Path:
    """Save one experiment's measurements in ``out``; if ``out`` refuses them, keep them in
    ``rescue_dir`` (default: the temporary folder) and raise :class:`StorageError` naming where."""
    from islp_ch10 import report

    try:
        return report.save_measurements(out, name, seed, records, meta)
    except OSError as exc:
        rescue = Path(rescue_dir or tempfile.gettempdir()) / f"islp-ch10-rescued-{name}-seed{seed}-{os.getpid()}.json"
        try:
            fileio.write_json(rescue, {"experiment": name, "seed": seed, "measurements": records})
            kept = f"this measurement was saved to {rescue}"
        except OSError:
            kept = "this measurement could not be saved anywhere"
        raise StorageError(
            f"cannot write measurements of {name} seed {seed} ({errors.describe_os_error(exc)}); {kept}"
        ) from exc


def out_folder(given: str | None, default: Path, option: str = "--out") -> Path:
    """The folder an option names (``~`` expanded), or ``default`` when it is not given; an empty
    value is refused (it would silently mean the default)."""
    if given is None:
        return default
    if not given.strip():
        raise UsageError(f"{option} is empty; name a folder, or leave {option} out for the default {default}")
    return Path(given).expanduser()
