"""Files written whole, and folders held by one process: the package's one atomic write and one lock.

:func:`atomic_write` writes a temporary file in the destination's folder, flushes and fsyncs it,
then ``os.replace`` s it over the destination, so a reader sees the old file or the new one, never
a part.  :func:`write_text` and :func:`write_json` are the two shapes the package writes.

:func:`lock` is an exclusive ``fcntl.flock`` on a lock file, taken so that it can never damage a
file it did not create: the file is opened with ``O_NOFOLLOW | O_CREAT`` (a planted symbolic link is
refused, and its target is neither created nor touched), without ``O_TRUNC``; anything that is not
a regular file of one link, or that holds anything but a process id, is refused
(:class:`UnsafeLockFile`) before a byte is written.  The holder's pid is written into the file while
it holds the lock and cleared when it lets go, so a pid left behind belongs to a process that died
holding it (``kill -9``): the next taker says so in one line and takes the lock over.  The kernel
drops a dead process's ``flock`` by itself, so a stale lock never blocks.

This module imports nothing from the package: everything above it may use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["LockBusy", "UnsafeLockFile", "atomic_write", "lock", "write_json", "write_text"]

_PID = re.compile(rb"\s*(\d+)?\s*")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write ``path`` all-or-nothing: a temporary file in the same folder, fsync, then ``os.replace``.

    If the body raises, the temporary file is deleted and ``path`` is untouched.  The yielded file
    is binary or text as ``mode`` says (binary by default).  The parent folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """``text`` (UTF-8) into ``path`` through :func:`atomic_write`."""
    with atomic_write(path) as fh:
        fh.write(text.encode("utf-8"))
    return Path(path)


def write_json(path: str | os.PathLike, payload: Any, indent: int = 1) -> Path:
    """``payload`` as JSON (non-JSON values as ``str``) into ``path`` through :func:`atomic_write`."""
    return write_text(path, json.dumps(payload, indent=indent, default=str) + "\n")


# ----------------------------------------------------------------------------- the lock
class LockBusy(Exception):
    """Another live process holds the lock (``holder``: its pid as written in the file, or None)."""

    def __init__(self, path: Path, holder: int | None):
        self.path, self.holder = path, holder
        super().__init__(f"{path} is held by pid {holder if holder is not None else 'unknown'}")


class UnsafeLockFile(OSError):
    """The lock path is a link, a folder, a device, a file with other links, or holds something
    other than a pid: not a lock file this package made, so it is left exactly as it is."""


def _stderr(message: str) -> None:
    print(f"islp-ch10: {message}", file=sys.stderr, flush=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _refusal(path: Path, what: str) -> str:
    return f"{path} is {what}, not a lock file; it was left untouched: remove it"


def _open_lock_file(path: Path) -> int:
    """A read-write descriptor of the regular lock file at ``path`` (created 0644 if absent)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if os.path.islink(path):
            what = "a symbolic link"
        elif os.path.lexists(path) and not os.path.isfile(path):
            what = "a folder or special file"
        else:
            raise
        raise UnsafeLockFile(exc.errno, _refusal(path, what), str(path)) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        what = "a file with other hard links" if stat.S_ISREG(info.st_mode) else "a special file"
        raise UnsafeLockFile(0, _refusal(path, what), str(path))
    return fd


def _read_pid(fd: int, path: Path) -> int | None:
    match = _PID.fullmatch(os.pread(fd, 64, 0)) if os.fstat(fd).st_size <= 64 else None
    if match is None:
        raise UnsafeLockFile(0, _refusal(path, "a file that holds something other than a pid"), str(path))
    return int(match.group(1)) if match.group(1) else None


@contextlib.contextmanager
def lock(path: str | os.PathLike, *, wait: bool = True, log: Callable[[str], None] | None = _stderr) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the body (see the module's docstring).

    ``wait=False``: raise :class:`LockBusy` at once if another process holds it.  ``log`` gets the
    one-line message when a stale lock of a dead process is taken over (None: say nothing).
    Where ``fcntl`` does not exist (Windows) this is a no-op: the atomic writes alone keep each
    file whole.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _open_lock_file(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            try:
                holder = _read_pid(fd, path)
            except UnsafeLockFile:
                holder = None
            raise LockBusy(path, holder) from None
        left = _read_pid(fd, path)  # refuses foreign content before anything is written
        if left is not None and left != os.getpid() and log is not None:
            why = "no longer running" if not _alive(left) else "running but no longer holding it"
            log(f"taking over the stale lock {path} of pid {left} ({why})")
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # let go: a pid left in the file means its writer died holding it
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
