"""One writer per run: the lock is exclusive across processes, re-entrant within one, records
its holder, is released by its outermost holder and taken over when its holder died."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pushforward.errors import RunDirError
from pushforward.run import Layout
from pushforward.run.lock import RunLock, holder

HOLD = textwrap.dedent("""
    import sys, time
    from pushforward.run.lock import RunLock
    with RunLock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.readline()  # hold until the test writes a line
""")


@pytest.fixture()
def other_process(tmp_path):
    """A second process holding the lock on tmp_path/run until the fixture ends."""
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "held"
    yield run, proc.pid
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=60) == 0


def test_the_lock_creates_the_folder_and_records_this_process(tmp_path):
    run = tmp_path / "a" / "run"
    with RunLock(run):
        assert run.is_dir() and Layout(run).lock.is_file()
        pid, started = Layout(run).lock.read_text().split()
        assert int(pid) == os.getpid() == holder(run)
        assert started[4] == "-" and started[10] == "T"  # an ISO time stamp


def test_holder_is_none_without_a_readable_pid(tmp_path):
    assert holder(tmp_path) is None  # no lock file
    Layout(tmp_path).lock.write_text("")
    assert holder(tmp_path) is None
    Layout(tmp_path).lock.write_text("not-a-pid 2020-01-01T00:00:00\n")
    assert holder(tmp_path) is None
    Layout(tmp_path).lock.write_text("42 2020-01-01T00:00:00\n")
    assert holder(tmp_path) == 42


def test_a_second_process_is_refused_with_the_holders_pid(other_process):
    run, pid = other_process
    with pytest.raises(RunDirError, match=f"being written by process {pid}.*another --out"):
        RunLock(run).acquire()
    assert holder(run) == pid  # the refused writer did not overwrite the record


def test_the_lock_is_re_entrant_and_only_the_outermost_release_frees_it(tmp_path):
    run = tmp_path / "run"
    outer = RunLock(run).acquire()
    inner = RunLock(run).acquire()  # same process: no deadlock, no error
    inner.release()
    code = "import sys; from pushforward.run.lock import RunLock; RunLock(sys.argv[1]).acquire()"
    still = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True)
    assert still.returncode != 0 and "being written by process" in still.stderr
    outer.release()
    outer.release()  # releasing a lock not held is a no-op
    free = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True)
    assert free.returncode == 0, free.stderr


def test_a_lock_file_of_a_dead_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    Layout(run).lock.write_text("999999999 2020-01-01T00:00:00\n")  # its writer was killed
    with RunLock(run):
        assert holder(run) == os.getpid()
        assert Layout(run).lock.read_text().count("\n") == 1  # the old record is replaced
