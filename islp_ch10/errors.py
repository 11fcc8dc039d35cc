"""The failures ``islp-ch10`` expects, each with its exit code and a one-line message.

Exit codes (also in ``islp-ch10 --help``):

====  =====================================================================================
 0    success
 1    a claim's measured figure is below its threshold (the report is written)
 2    usage: a bad option, environment value or name (nothing was run)
 3    data missing: a data file is absent (the message says how to get it)
 4    data corrupt: a data file fails its checksum or format, or a JSON file the package
      reads back (a measurement file, results.json, claim outcomes, a sweep artifact) is
      truncated or fails its schema (:mod:`islp_ch10.schemas`); the file is named
 5    I/O: a folder is not writable or creatable, permission denied, disk full
 6    busy: another ``islp-ch10`` run holds the output folder's lock
 70   internal error: a bug; ``--debug`` shows the traceback
 130  interrupted (Ctrl-C); the measurements taken so far are kept
 143  terminated (SIGTERM, as ``timeout``, CI and systemd send); the measurements so far are kept
====  =====================================================================================

:func:`classify` maps any exception to a :class:`CLIError`; the command line prints
``islp-ch10: <message>`` and returns its ``code``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
from collections.abc import Iterator

OK, BELOW_THRESHOLD, USAGE, DATA_MISSING, DATA_CORRUPT, IO, BUSY, INTERNAL, INTERRUPTED = (0, 1, 2, 3, 4, 5, 6, 70, 130)
TERMINATED = 128 + signal.SIGTERM  # 143: the shell's code for a process ended by SIGTERM

EXIT_CODES = {
    OK: "success",
    BELOW_THRESHOLD: "a claim's measured figure is below its threshold (report written)",
    USAGE: "bad option, environment value or name (nothing was run)",
    DATA_MISSING: "a data file is absent (the message says how to get it)",
    DATA_CORRUPT: "a data file fails its checksum or format, or a JSON file is damaged (named)",
    IO: "a folder is not writable/creatable, permission denied or disk full",
    BUSY: "another islp-ch10 run holds the output folder",
    INTERNAL: "internal error (a bug); rerun with --debug for the traceback",
    INTERRUPTED: "interrupted; the measurements taken so far are kept",
    TERMINATED: "terminated (SIGTERM); the measurements taken so far are kept",
}


def exit_code_table() -> str:
    """The exit codes as lines of text, for the command line's help."""
    return "\n".join(f"  {code:>3}  {what}" for code, what in EXIT_CODES.items())


class CLIError(Exception):
    """An expected failure: ``str(self)`` is the one line shown to the user, ``code`` the exit status."""

    code = INTERNAL

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class UsageError(CLIError):
    """A bad option, environment value or name."""

    code = USAGE


class DataMissingError(CLIError):
    code = DATA_MISSING


class DataCorruptError(CLIError):
    code = DATA_CORRUPT


class StorageError(CLIError):
    """A folder cannot be created or written, or the disk is full."""

    code = IO


class BusyError(CLIError):
    code = BUSY


class Interrupted(CLIError):
    """Ctrl-C (exit 130) or SIGTERM (exit 143): ``kept`` measurements were saved before it."""

    code = INTERRUPTED

    def __init__(
        self, kept: int, where: str | None = None, signum: int = signal.SIGINT, hint: str = "rerun with --resume"
    ):
        self.kept = kept
        word = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        msg = f"{word}; {kept} measurement{'s' if kept != 1 else ''} kept"
        if where:
            msg += f" in {where} ({hint} to continue)"
        super().__init__(msg, TERMINATED if signum == signal.SIGTERM else None)


class Terminated(KeyboardInterrupt):
    """Raised by :class:`InterruptGuard` on SIGTERM.  A ``KeyboardInterrupt`` so that every layer
    that stops cleanly on Ctrl-C (Lightning's fit included) stops the same way on SIGTERM."""


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def describe_os_error(exc: OSError) -> str:
    """``<path>: <reason>; <what to do>`` for an OS error on a file or folder.

    A permission error on an existing regular file is a read (every write of the package goes
    through a new temporary file beside its destination), so it says "not readable"."""
    where = exc.filename or "a file"
    reason = exc.strerror or str(exc)
    denied = isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    if exc.errno in _DISK_FULL:
        todo = "free some space or choose another folder (--out, ISLP_CH10_CACHE)"
    elif denied and exc.errno != errno.EROFS and exc.filename and os.path.isfile(exc.filename):
        todo = "not readable: check its permissions"
    elif denied:
        todo = "make it writable or choose another folder (--out, ISLP_CH10_CACHE)"
    else:
        todo = "check the path"
    return f"{where}: {reason}; {todo}"


@contextlib.contextmanager
def naming(path: str | os.PathLike) -> Iterator[None]:
    """Give an ``OSError`` raised in the body without a file name (a write or fsync that hit a
    full disk) the name of ``path``, so its message says which file."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = os.fspath(path)
        raise


def classify(exc: BaseException) -> CLIError:
    """The :class:`CLIError` for ``exc`` (itself if it already is one); unknown ones are internal."""
    if isinstance(exc, CLIError):
        return exc
    from islp_ch10.data import ChecksumError, DataFormatError, DataMissing
    from islp_ch10.schemas import DamagedFile

    if isinstance(exc, DamagedFile):
        return DataCorruptError(str(exc))
    if isinstance(exc, DataMissing):
        return DataMissingError(str(exc))
    if isinstance(exc, (ChecksumError, DataFormatError)):
        return DataCorruptError(str(exc))
    if isinstance(exc, OSError):
        return StorageError(describe_os_error(exc))
    if isinstance(exc, Terminated):
        return Interrupted(0, signum=signal.SIGTERM)
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted(0)
    first = (str(exc).splitlines() or [""])[0]
    return CLIError(f"internal error: {type(exc).__name__}: {first} (rerun with --debug for the traceback)")


class InterruptGuard:
    """Ctrl-C and SIGTERM handling that survives Lightning.

    Lightning 2.6 catches ``KeyboardInterrupt`` inside ``trainer.fit``, sets SIGINT to "ignore"
    and calls ``sys.exit(1)`` (``pytorch_lightning/trainer/call.py``); on SIGTERM it runs the
    handler it found installed after its own.  This guard's handlers record the signal before
    raising ``KeyboardInterrupt`` (:class:`Terminated` for SIGTERM), so the ``SystemExit`` that
    comes out of ``fit`` is recognised as the user's Ctrl-C or the ``timeout``/CI/systemd
    SIGTERM; the previous handlers are restored on exit.  :meth:`interrupted` builds the error.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.hit = False
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handler(self, signum, frame):
        self.hit = True
        self.signum = signum
        raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt

    def was_interrupt(self, exc: BaseException) -> bool:
        return isinstance(exc, KeyboardInterrupt) or (isinstance(exc, SystemExit) and self.hit)

    def interrupted(self, kept: int, where: str | None, exc: BaseException, hint: str = "rerun with --resume"):
        """The :class:`Interrupted` error (130 for Ctrl-C, 143 for SIGTERM) for ``exc``."""
        term = self.signum == signal.SIGTERM or isinstance(exc, Terminated)
        return Interrupted(kept, where, signal.SIGTERM if term else signal.SIGINT, hint)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handler) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous = {}
        return False
