"""One trenddigest process per store at a time.

Two processes writing the same store would not corrupt SQLite, but they would
fetch the same arXiv pages twice (against arXiv's one-connection rule) and race on
the digest files.  So every run, poll and fetch takes an exclusive ``flock`` on
``<store path>.lock`` first.  The kernel drops the lock when the process dies, so
a crash or ``kill -9`` never leaves a stale lock behind; the pid written into the
file is only there to make the error message useful.

The lock file may be removed (a failed run discards the store it made, lock file
and all).  A process that was waiting on the removed file would then hold a lock
nobody else can see, beside a newcomer that created and locked a new file; so a lock
only counts once the locked file is still the one at the lock path, else the file
is opened again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import LockError, StoreError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10.0
POLL_INTERVAL_SECONDS = 0.2


def lock_path_for(store_path: str | Path) -> Path | None:
    """The lock file of a store, or ``None`` for an in-memory store (nothing to share)."""
    text = str(store_path)
    if text == ":memory:":
        return None
    # The real path: a store reached through a symlink (or "..") and through its own
    # path is one store, so both must lock one file.
    return Path(os.path.realpath(os.path.expanduser(text)) + ".lock")


def _try_lock(fh: IO[str]) -> bool:
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def _holder_pid(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


def _is_at(fh: IO[str], path: Path) -> bool:
    """Whether the open file ``fh`` is still the file at ``path`` (not removed or replaced)."""
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fh.fileno())
    return (held.st_ino, held.st_dev) == (at_path.st_ino, at_path.st_dev)


# The folders the opening of each lock held in this process made (lock file -> them,
# outermost first): a store session that fails having stored nothing removes them with
# its new store (see Store.session), also one made again after another run removed it.
_FOLDERS_MADE: dict[Path, list[Path]] = {}


def folders_made(lock_file: Path | None) -> list[Path]:
    """The folders that taking the lock held on ``lock_file`` made, outermost first."""
    return list(_FOLDERS_MADE.get(lock_file, [])) if lock_file is not None else []


def not_yet_there(path: Path) -> list[Path]:
    """``path`` and the folders above it that do not exist yet, outermost first."""
    missing = []
    for item in [path, *path.parents]:
        if item.exists() or item.is_symlink():
            break
        missing.append(item)
    return list(reversed(missing))


def file_in_the_way(folder: Path) -> Path | None:
    """The file standing where ``folder`` or a folder above it should be, if any."""
    for item in [folder, *folder.parents]:
        if item.exists():
            return None if item.is_dir() else item
    return None


def _open_lock_file(path: Path, made: list[Path]) -> IO[str] | None:
    """The lock file, opened (and made if missing, with its folders, which are added to
    ``made``); ``None`` on a read-only file system."""
    try:
        missing = not_yet_there(path.parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        made.extend(folder for folder in missing if folder not in made)
        # "a+" so that opening never truncates the holder's pid before we own the lock.
        return open(path, "a+", encoding="ascii")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        # Not "another run holds the store" (exit 6): the store's folder is the problem,
        # unless it is on a read-only file system (see store_lock).
        if exc.errno == errno.EROFS:
            return None
        if blocker := file_in_the_way(path.parent):
            raise StoreError(
                f"cannot create the store's folder {path.parent}: {blocker} is a file, not a "
                "folder; move it, or choose another --store"
            ) from exc
        raise StoreError(
            f"cannot create lock file {path}: {exc.strerror or exc}; "
            "check that the store's folder can be written (or choose one with --store)"
        ) from exc


def _acquire(
    path: Path,
    store_path: str | Path,
    timeout: float,
    poll_interval: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    made: list[Path],
) -> IO[str] | None:
    """The lock file, open and locked by this process (``None``: read-only file system)."""
    fh = _open_lock_file(path, made)
    deadline = clock() + timeout
    try:
        while fh is not None:
            if _try_lock(fh):
                if _is_at(fh, path):
                    return fh
                # Locked a lock file that was removed (or replaced) meanwhile: whoever
                # locks the file now at the path would hold the store too.  Open that one.
                log.info("lock file %s was replaced while waiting; opening it again", path)
                fh.close()
                fh = None
                fh = _open_lock_file(path, made)
                continue
            if clock() >= deadline:
                raise LockError(
                    f"another trenddigest process is using the store {store_path} "
                    f"(pid {_holder_pid(path)}); try again when it finishes"
                )
            log.info("store %s is locked by another process; waiting", store_path)
            sleep(poll_interval)
    except BaseException:
        if fh is not None:
            fh.close()
        raise
    return None


@contextmanager
def store_lock(
    store_path: str | Path,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    poll_interval: float = POLL_INTERVAL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Path | None]:
    """Hold the store's lock for the ``with`` block; yields the lock file's path
    (``None`` when there is nothing to lock: an in-memory store, or one on a
    read-only file system).

    A second process waits up to ``timeout`` seconds (a cron run that starts while
    the scheduler's daily poll finishes should just go through), then raises
    :class:`LockError` naming the holder's pid.  ``sleep`` and ``clock`` are
    injectable so tests never really wait.
    """
    path = lock_path_for(store_path)
    if path is None:
        yield None
        return
    made: list[Path] = []
    fh = _acquire(path, store_path, timeout, poll_interval, sleep, clock, made)
    if fh is None:
        # A store on a read-only file system cannot be changed by any process, so there
        # is nothing to keep apart: reading it needs no lock (and a write is refused by
        # the store itself, naming the problem).
        log.info("store %s is on a read-only file system; not locking it", store_path)
        yield None
        return
    _FOLDERS_MADE[path] = made
    try:
        _note_pid(fh, f"{os.getpid()}\n")
        try:
            yield path
        finally:
            _FOLDERS_MADE.pop(path, None)
            # Empty the pid before unlocking so a later reader never blames a dead process.
            _note_pid(fh, "")
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        with contextlib.suppress(OSError):  # a full disk can refuse the last flush
            fh.close()


def _note_pid(fh: IO[str], text: str) -> None:
    """Write the holder's pid (or nothing) into the lock file.

    The pid only names the holder in another run's "locked by" message; the lock is
    the flock.  A full disk refusing it is not a reason to stop: the store's own first
    write then says the disk is full, in the store's words, instead of this crashing.
    """
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(text)
        fh.flush()
    except OSError as exc:
        log.debug("cannot write the pid into the lock file: %s", exc)
