"""The store lock: one trenddigest process per store, checked with a real second process."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from trenddigest.errors import LockError, StoreError
from trenddigest.lock import lock_path_for, store_lock

# A second process that takes the lock, says so, and keeps it until its stdin closes.
HOLDER = """
import sys
from trenddigest.lock import store_lock
with store_lock(sys.argv[1], timeout=0):
    print("locked", flush=True)
    sys.stdin.read()
"""


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    store = str(tmp_path / "store.sqlite3")
    proc = start_holder(store)
    yield proc, store
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=10)


def test_lock_file_sits_next_to_the_store(tmp_path: Path) -> None:
    assert lock_path_for(tmp_path / "td.sqlite3") == tmp_path / "td.sqlite3.lock"


def test_in_memory_store_takes_no_lock() -> None:
    assert lock_path_for(":memory:") is None
    with store_lock(":memory:") as path, store_lock(":memory:", timeout=0) as again:
        assert path is None and again is None


def test_lock_is_free_again_after_the_block(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    with store_lock(store, timeout=0):
        pass
    with store_lock(store, timeout=0) as path:
        assert path is not None and path.is_file()


def test_second_process_gives_up_after_the_timeout_naming_the_holder(holder) -> None:
    proc, store = holder
    fake = FakeTime()
    with (
        pytest.raises(LockError) as caught,
        store_lock(store, timeout=10, poll_interval=0.5, sleep=fake.sleep, clock=fake.clock),
    ):
        pytest.fail("the lock must not be granted while another process holds it")
    message = str(caught.value)
    assert message == (
        f"another trenddigest process is using the store {store} (pid {proc.pid}); "
        "try again when it finishes"
    )
    assert sum(fake.sleeps) == pytest.approx(10)


def test_waiting_process_gets_the_lock_once_the_holder_finishes(holder) -> None:
    proc, store = holder
    fake = FakeTime()

    def sleep_while_holder_finishes(seconds: float) -> None:
        fake.sleep(seconds)
        release(proc)

    with store_lock(store, timeout=10, sleep=sleep_while_holder_finishes, clock=fake.clock):
        assert Path(store + ".lock").read_text().strip() == str(os.getpid())
    assert len(fake.sleeps) == 1


def test_lock_is_released_when_the_holder_dies(holder) -> None:
    proc, store = holder
    proc.kill()
    proc.wait(timeout=10)
    with store_lock(store, timeout=0) as path:  # timeout=0: granted at once or LockError
        assert path is not None
        assert path.read_text().strip() == str(os.getpid())


def test_a_lock_file_that_cannot_be_created_is_a_store_error_not_a_busy_store(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    with pytest.raises(StoreError) as caught, store_lock(blocker / "store.sqlite3"):
        pass
    assert caught.value.exit_code == 3
    assert str(caught.value) == (
        f"cannot create the store's folder {blocker}: {blocker} is a file, not a folder; "
        "move it, or choose another --store"
    )


def start_holder(store: str) -> subprocess.Popen[str]:
    """A second process that holds the store's lock until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, store],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_lock_file_deleted_while_waiting_is_not_held_beside_a_newcomers(holder) -> None:
    """The holder finishes and its lock file is removed (a failed run discarding the
    store it made) while this process waits; a newcomer then creates and locks a new
    lock file.  The lock this process gets on the deleted file must not count."""
    proc, store = holder
    fake = FakeTime()
    newcomer: list[subprocess.Popen[str]] = []

    def sleep_while_the_lock_file_is_replaced(seconds: float) -> None:
        fake.sleep(seconds)
        if not newcomer:
            release(proc)
            Path(store + ".lock").unlink()
            newcomer.append(start_holder(store))

    try:
        with (
            pytest.raises(LockError) as caught,
            store_lock(
                store, timeout=1, sleep=sleep_while_the_lock_file_is_replaced, clock=fake.clock
            ),
        ):
            pytest.fail("the lock must not be granted while the newcomer holds the lock file")
        assert f"(pid {newcomer[0].pid})" in str(caught.value)
    finally:
        for other in newcomer:
            release(other)


def test_a_lock_file_deleted_while_waiting_is_made_again_and_locked(holder) -> None:
    proc, store = holder
    fake = FakeTime()

    def sleep_while_the_lock_file_is_removed(seconds: float) -> None:
        fake.sleep(seconds)
        release(proc)
        Path(store + ".lock").unlink()

    with store_lock(
        store, timeout=10, sleep=sleep_while_the_lock_file_is_removed, clock=fake.clock
    ):
        assert Path(store + ".lock").read_text().strip() == str(os.getpid())
    assert len(fake.sleeps) == 1


def test_a_store_reached_through_a_symlink_shares_the_lock_of_its_real_path(tmp_path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    through_link = tmp_path / "link" / "store.sqlite3"
    assert lock_path_for(through_link) == tmp_path / "real" / "store.sqlite3.lock"
    with (
        store_lock(tmp_path / "real" / "store.sqlite3", timeout=0),
        pytest.raises(LockError),
        store_lock(through_link, timeout=0),
    ):
        pytest.fail("the store is already locked through its real path")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_a_full_disk_leaves_the_pid_unwritten_but_the_lock_held(tmp_path: Path) -> None:
    # /dev/full answers every write with ENOSPC, as a full disk does.  The pid is only
    # a hint for the "locked by pid N" message; the store's own write then says the
    # disk is full, rather than the lock crashing with an internal error.
    store = tmp_path / "store.sqlite3"
    os.symlink("/dev/full", f"{store}.lock")
    with store_lock(store, timeout=0) as held:
        assert held == lock_path_for(store)
        with open(f"{store}.lock", "a+") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
