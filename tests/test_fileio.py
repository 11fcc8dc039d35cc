"""The one atomic write and the one lock (islp_ch10.fileio), and the output folder's lock through the CLI.

A lock must never damage what it did not make: a planted symbolic link, a hard link, a folder or
a file with other content at the lock path is refused and left byte-identical; a live holder
refuses a second taker (exit 6 through the command line); a pid left by a dead process is taken
over with one line.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from islp_ch10 import cli, errors, fileio, outdir

VICTIM = b"someone else's data\n"


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ----------------------------------------------------------------------------- atomic write
def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "sub" / "f.json"
    fileio.write_json(target, {"a": 1})
    assert target.read_text() == '{\n "a": 1\n}\n'
    with pytest.raises(RuntimeError), fileio.atomic_write(target) as fh:
        fh.write(b"half a fi")
        raise RuntimeError("disk on fire")
    assert target.read_text() == '{\n "a": 1\n}\n'
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.json"]  # no temporary left


# ----------------------------------------------------------------------------- lock: what it refuses
def test_planted_symlink_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM)
    link = tmp_path / "out" / ".lock"
    link.parent.mkdir()
    link.symlink_to(victim)
    with pytest.raises(fileio.UnsafeLockFile, match="symbolic link"), fileio.lock(link):
        pytest.fail("the body must not run")
    assert victim.read_bytes() == VICTIM
    assert link.is_symlink()


def test_dangling_symlink_does_not_create_its_target(tmp_path):
    target = tmp_path / "would-be-created"
    link = tmp_path / ".lock"
    link.symlink_to(target)
    with pytest.raises(fileio.UnsafeLockFile), fileio.lock(link):
        pass
    assert not target.exists()


def test_hard_link_folder_and_foreign_content_are_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM)
    hard = tmp_path / "hard.lock"
    os.link(victim, hard)
    folder = tmp_path / "folder.lock"
    folder.mkdir()
    foreign = tmp_path / "foreign.lock"
    foreign.write_bytes(VICTIM)
    for path, says in ((hard, "other hard links"), (folder, "folder or special file"), (foreign, "other than a pid")):
        with pytest.raises(fileio.UnsafeLockFile, match=says), fileio.lock(path):
            pytest.fail("the body must not run")
    assert victim.read_bytes() == VICTIM and foreign.read_bytes() == VICTIM


# ----------------------------------------------------------------------------- lock: holders
def test_holder_pid_is_written_and_cleared(tmp_path):
    path = tmp_path / ".lock"
    with fileio.lock(path, wait=False):
        assert path.read_text() == str(os.getpid())
    assert path.read_bytes() == b""  # a pid left behind would mean its writer died holding the lock


def test_live_holder_refuses_a_second_taker(tmp_path):
    path = tmp_path / ".lock"
    with fileio.lock(path, wait=False):
        with pytest.raises(fileio.LockBusy) as busy, fileio.lock(path, wait=False):
            pytest.fail("the body must not run")
        assert busy.value.holder == os.getpid()
        assert path.read_text() == str(os.getpid())  # the refused taker wrote nothing


def test_stale_lock_of_a_dead_process_is_taken_over_with_one_line(tmp_path, dead_pid):
    path = tmp_path / ".lock"
    path.write_text(str(dead_pid))
    said: list[str] = []
    with fileio.lock(path, wait=False, log=said.append):
        assert path.read_text() == str(os.getpid())
    assert said == [f"taking over the stale lock {path} of pid {dead_pid} (no longer running)"]


def test_an_empty_lock_file_is_taken_silently(tmp_path):
    path = tmp_path / ".lock"
    path.touch()
    said: list[str] = []
    with fileio.lock(path, wait=False, log=said.append):
        pass
    assert said == []


# ----------------------------------------------------------------------------- through the command line
def test_cli_refuses_a_planted_lock_link_and_leaves_its_target(tmp_path, capsys, monkeypatch):
    from islp_ch10 import experiments

    monkeypatch.setattr(experiments, "QUICK", ())
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM)
    out = tmp_path / "out"
    out.mkdir()
    (out / outdir.LOCK_NAME).symlink_to(victim)
    monkeypatch.setenv("ISLP_CH10_CACHE", str(tmp_path / "cache"))
    code = cli.main(["reproduce", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == errors.IO, err
    assert err.strip() == (
        f"islp-ch10: {out / outdir.LOCK_NAME} is a symbolic link, not a lock file; it was left untouched: "
        "remove it, or pass another --out"
    )
    assert victim.read_bytes() == VICTIM
