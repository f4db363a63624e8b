"""A badly behaved machine: crashed writers, symlinks, damaged and read-only stores, full disks.

Tests cannot mount file systems, so a read-only file system and a full disk are
simulated at the narrowest point (the ``os`` call that reports them); everything
else is real (files, SQLite, git, ``flock``).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from arxiv_server import ArxivTestServer
from synthetic import KD_CATEGORY_TOML, make_papers, write_jsonl
from trenddigest import lock as lock_module
from trenddigest import schedule as schedule_module
from trenddigest.cli import main
from trenddigest.errors import InputError, StoreError
from trenddigest.lock import store_lock
from trenddigest.models import Month
from trenddigest.render import write_atomic, write_files_atomic
from trenddigest.schedule import JobStopped
from trenddigest.store import Store, _read_only_fallback

# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's folder with a synthetic month to import and one category file."""
    monkeypatch.chdir(tmp_path)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_ARXIV_API_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Digest Bot")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "bot@example.org")
    (tmp_path / "cats.toml").write_text(KD_CATEGORY_TOML)
    write_jsonl(tmp_path / "papers.jsonl.gz", make_papers("2025-05"), gz=True)
    return tmp_path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def filled_store(path: Path) -> Path:
    """A closed store (its WAL folded into the file) holding May 2025's synthetic papers."""
    with Store.open(path) as store:
        store.upsert_papers(make_papers("2025-05"))
    assert not Path(f"{path}-wal").exists()
    return path


def damage_papers_table(path: Path) -> None:
    """Overwrite the root page of the papers table, as a crash or a bad copy can."""
    conn = sqlite3.connect(path)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'papers'").fetchone()
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(b"\xa5" * page_size)


class ReadOnlyFileSystem:
    """What ``os.statvfs`` says about a folder on a file system mounted read-only."""

    f_flag = os.ST_RDONLY


# -- temp files left by a killed writer ----------------------------------------------------


def test_a_temp_file_left_by_a_killed_write_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "2025-05.md"
    stale = tmp_path / ".2025-05.md.0a1b2c3d.tmp"  # kill -9 between write and rename
    stale.write_text("half of an earlier digest")
    os.utime(stale, (0, 0))
    (tmp_path / ".2025-05.md.notes").write_text("not ours")
    write_atomic(target, "digest\n")
    assert target.read_text() == "digest\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".2025-05.md.notes", "2025-05.md"]


def test_the_temp_file_of_a_write_still_in_progress_is_left_alone(tmp_path):
    target = tmp_path / "2025-05.md"
    other = tmp_path / ".2025-05.md.0a1b2c3d.tmp"  # another process is writing it now
    other.write_text("being written")
    os.utime(other, (0, 0))
    with open(other, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        write_atomic(target, "digest\n")
    assert other.read_text() == "being written"


def test_a_temp_file_created_a_moment_ago_and_not_yet_locked_is_left_alone(tmp_path):
    target = tmp_path / "2025-05.md"
    fresh = tmp_path / ".2025-05.md.0a1b2c3d.tmp"  # another writer is about to lock it
    fresh.write_text("being written")
    write_atomic(target, "digest\n")
    assert fresh.read_text() == "being written"


def test_a_killed_run_leaves_nothing_the_next_run_does_not_clean_up(workdir, capsys):
    args = ("run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--categories", "cats.toml")
    assert run_cli(capsys, *args)[0] == 0
    folder = workdir / "digests" / "2025"
    for name in ("2025-05.md", "2025-05.json"):
        stale = folder / f".{name}.deadbeef.tmp"
        stale.write_text("{")
        os.utime(stale, (0, 0))
    code, _, err = run_cli(
        capsys, "run", "--month", "2025-05", "--offline", "--categories", "cats.toml"
    )
    assert (code, err) == (0, "")
    assert sorted(p.name for p in folder.iterdir()) == ["2025-05.json", "2025-05.md"]


# -- symlinked outputs ----------------------------------------------------------------------


def test_a_symlinked_output_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "shared" / "2025-05.md"
    real.parent.mkdir()
    real.write_text("earlier\n")
    link = tmp_path / "digests" / "2025-05.md"
    link.parent.mkdir()
    link.symlink_to(Path("..") / "shared" / "2025-05.md")
    write_files_atomic({link: "later\n"})
    assert link.is_symlink() and os.readlink(link) == str(Path("..") / "shared" / "2025-05.md")
    assert real.read_text() == "later\n"
    assert sorted(p.name for p in real.parent.iterdir()) == ["2025-05.md"]
    assert sorted(p.name for p in link.parent.iterdir()) == ["2025-05.md"]


def test_a_symlinked_readme_is_committed_as_the_file_it_points_to(workdir, capsys):
    git(workdir, "init", "-q", "-b", "main")
    (workdir / "docs").mkdir()
    (workdir / "docs" / "README.md").write_text("# Our reading\n")
    (workdir / "README.md").symlink_to(Path("docs") / "README.md")
    git(workdir, "add", "README.md", "docs/README.md")
    git(workdir, "commit", "-q", "-m", "start")
    code, _, err = run_cli(
        capsys,
        "run",
        "--month",
        "2025-05",
        "--from",
        "papers.jsonl.gz",
        "--categories",
        "cats.toml",
        "--commit",
    )
    assert (code, err) == (0, "")
    assert (workdir / "README.md").is_symlink()
    assert "digests/2025/2025-05.md" in (workdir / "docs" / "README.md").read_text()
    assert git(workdir, "ls-tree", "HEAD", "README.md").split()[0] == "120000"
    assert git(workdir, "show", "HEAD:README.md") == "docs/README.md"
    assert "digests/2025/2025-05.md" in git(workdir, "show", "HEAD:docs/README.md")
    assert git(workdir, "status", "--porcelain", "--", "README.md", "docs") == ""


# -- a full disk ----------------------------------------------------------------------------


def test_a_full_disk_says_so_and_keeps_the_earlier_digest(tmp_path, monkeypatch):
    md, js = tmp_path / "2025-05.md", tmp_path / "2025-05.json"
    write_files_atomic({md: "earlier\n", js: "{}\n"})

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(InputError) as caught:
        write_files_atomic({md: "later\n", js: '{"later": 1}\n'})
    assert str(caught.value) == (
        f"cannot write {md}: No space left on device; free some space on its disk and run again"
    )
    assert (md.read_text(), js.read_text()) == ("earlier\n", "{}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025-05.json", "2025-05.md"]


# -- a damaged store --------------------------------------------------------------------------


def damaged_message(path: object, detail: str = "database disk image is malformed") -> str:
    return (
        f"store {path} is damaged ({detail}); restore it from a backup, or move it "
        "aside and fill a new one with 'trenddigest import FILE' or "
        "'trenddigest fetch --month YYYY-MM'"
    )


def test_reading_a_damaged_store_is_a_store_error_saying_how_to_recover(tmp_path):
    path = filled_store(tmp_path / "s.sqlite3")
    damage_papers_table(path)
    with Store.open(path) as store, pytest.raises(StoreError) as caught:
        store.papers_for_month("2025-05")
    assert str(caught.value) == damaged_message(path)


def test_writing_into_a_damaged_store_is_a_store_error_saying_how_to_recover(tmp_path):
    path = filled_store(tmp_path / "s.sqlite3")
    damage_papers_table(path)
    with Store.open(path) as store, pytest.raises(StoreError) as caught:
        store.upsert_papers(make_papers("2025-05"))
    assert str(caught.value) == damaged_message(path)


def test_trends_on_a_damaged_store_is_one_line_and_exit_3(workdir, capsys):
    filled_store(workdir / "s.sqlite3")
    damage_papers_table(workdir / "s.sqlite3")
    code, out, err = run_cli(
        capsys,
        "--store",
        "s.sqlite3",
        "trends",
        "--from",
        "2025-05",
        "--to",
        "2025-05",
        "--categories",
        "cats.toml",
    )
    assert (code, out) == (3, "")
    assert err == f"trenddigest: error: {damaged_message('s.sqlite3')}\n"


def test_a_truncated_store_is_called_damaged_not_a_foreign_file(tmp_path):
    path = filled_store(tmp_path / "s.sqlite3")
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert str(caught.value) == damaged_message(path)


# -- a store whose folder SQLite cannot write in ---------------------------------------------


def test_a_store_whose_wal_cannot_be_created_says_the_folder_must_be_writable(tmp_path):
    path = filled_store(tmp_path / "s.sqlite3")
    Path(f"{path}-wal").mkdir()  # SQLite cannot create its write-ahead log beside the store
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert str(caught.value) == (
        f"cannot open store {path}: unable to open database file; SQLite keeps {path}-wal "
        f"and {path}-shm beside it, so its folder must be writable: make {tmp_path} "
        "writable, or copy the store to a writable folder and use --store"
    )


def test_a_store_on_a_read_only_file_system_can_still_be_read(tmp_path, monkeypatch):
    path = filled_store(tmp_path / "s.sqlite3")
    Path(f"{path}-wal").mkdir()
    monkeypatch.setattr(os, "statvfs", lambda folder: ReadOnlyFileSystem())
    with Store.open(path) as store:
        assert len(store.papers_for_month("2025-05")) == 60


def test_a_read_only_store_whose_wal_holds_data_is_not_read_without_it(tmp_path, monkeypatch):
    path = filled_store(tmp_path / "s.sqlite3")
    wal = Path(f"{path}-wal")
    wal.mkdir()
    monkeypatch.setattr(os, "statvfs", lambda folder: ReadOnlyFileSystem())
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.OperationalError) as cantopen:
        conn.execute("SELECT COUNT(*) FROM papers")
    conn.close()
    wal.rmdir()
    wal.write_bytes(b"\x37\x7f\x06\x82" + bytes(28))  # writes not yet in the store file
    # Reading it as immutable would skip them and show an older store.
    assert _read_only_fallback(str(path), cantopen.value) is None
    wal.write_bytes(b"")
    fallback = _read_only_fallback(str(path), cantopen.value)
    assert fallback is not None
    fallback.close()


def test_writing_to_a_store_on_a_read_only_file_system_is_a_store_error(tmp_path, monkeypatch):
    path = filled_store(tmp_path / "s.sqlite3")
    Path(f"{path}-wal").mkdir()
    monkeypatch.setattr(os, "statvfs", lambda folder: ReadOnlyFileSystem())
    with Store.open(path) as store, pytest.raises(StoreError, match="cannot write to store"):
        store.set_meta("key", "value")


def test_the_lock_of_a_store_on_a_read_only_file_system_is_not_needed(tmp_path, monkeypatch):
    def read_only(*args: object, **kwargs: object) -> object:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(lock_module, "open", read_only, raising=False)
    with store_lock(tmp_path / "s.sqlite3", timeout=0) as held:
        assert held is None


def test_an_offline_run_reads_a_store_on_a_read_only_file_system(workdir, capsys, monkeypatch):
    (workdir / "ro").mkdir()
    filled_store(workdir / "ro" / "s.sqlite3")
    Path("ro/s.sqlite3-wal").mkdir()
    real_statvfs, real_open = os.statvfs, open

    def statvfs(folder: object) -> object:
        on_ro = Path(str(folder)).resolve() == workdir / "ro"
        return ReadOnlyFileSystem() if on_ro else real_statvfs(folder)  # type: ignore[arg-type]

    def open_lock(file: object, *args: object, **kwargs: object) -> object:
        if str(file).endswith(".lock"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "statvfs", statvfs)
    monkeypatch.setattr(lock_module, "open", open_lock, raising=False)
    code, out, _ = run_cli(
        capsys,
        "--store",
        "ro/s.sqlite3",
        "run",
        "--month",
        "2025-05",
        "--offline",
        "--categories",
        "cats.toml",
    )
    assert code == 0
    assert out.endswith("wrote digests/2025/2025-05.md, digests/2025/2025-05.json\n")
    assert sorted(p.name for p in (workdir / "ro").iterdir()) == ["s.sqlite3", "s.sqlite3-wal"]


def test_a_damaged_store_met_outside_the_stores_own_reads_is_one_line_and_exit_3(
    workdir, capsys, monkeypatch
):
    """A cache or fetch-progress read straight from the store's connection."""
    import sqlite3

    from trenddigest import pipeline

    def damaged(*args, **kwargs):
        exc = sqlite3.DatabaseError("database disk image is malformed")
        exc.sqlite_errorcode = sqlite3.SQLITE_CORRUPT
        raise exc

    filled_store(workdir / "s.sqlite3")
    monkeypatch.setattr(pipeline, "category_counts", damaged)
    code, out, err = run_cli(capsys, "--store", "s.sqlite3", "categories", "list")
    assert (code, out) == (3, "")
    assert err == f"trenddigest: error: {damaged_message('s.sqlite3')}\n"


# -- a service manager stopping `trenddigest schedule` -------------------------------------


def test_the_schedule_commands_jobs_end_their_arxiv_and_lock_waits_when_stopped(
    tmp_path, monkeypatch
):
    """SIGTERM sets the scheduler's stop request: the command's jobs must wait for arXiv
    and for the store's lock through it, or a stop waits out minutes of backoff."""
    monkeypatch.delenv("TRENDDIGEST_STORE", raising=False)
    store = tmp_path / "s.sqlite3"
    outcome: list[str] = []

    def build_scheduler(config, path, run_digest, poll, *, lock, stop):
        return lambda: (stop, poll, lock, run_digest)

    def ends_stopped(wait: Callable[[], object]) -> str:
        try:
            wait()
        except JobStopped:
            return "stopped"
        except Exception as exc:  # the real wait ran out instead
            return type(exc).__name__
        return "returned"

    def hold(lock: Callable[[], AbstractContextManager[object]]) -> None:
        with lock():
            pass

    def run_scheduler(scheduler) -> None:
        stop, poll, lock, run_digest = scheduler()
        stop.set()  # what the SIGTERM handler does
        outcome.append(ends_stopped(poll))  # its feed answers 503: arXiv's backoff
        outcome.append(ends_stopped(lambda: run_digest(Month(2025, 5))))  # the API's 503
        with store_lock(store, timeout=0):  # another run holds the store
            outcome.append(ends_stopped(lambda: hold(lock)))

    monkeypatch.setattr(schedule_module, "build_scheduler", build_scheduler)
    monkeypatch.setattr(schedule_module, "run_scheduler", run_scheduler)
    with ArxivTestServer() as server:
        server.fail("status", times=10, path="/rss/cs.LG", status=503)
        server.fail("status", times=10, path="/api/query", status=503)
        config = tmp_path / "trenddigest.toml"
        config.write_text(
            f'[store]\npath = "{store}"\nlock_timeout_seconds = 0.02\n'
            f'[arxiv]\napi_url = "{server.api_url}"\nfeed_url = "{server.feed_url}"\n'
            'categories = ["cs.LG"]\nmax_retries = 1\n'
            "backoff_seconds = 0.01\nmax_backoff_seconds = 10\n",
            encoding="utf-8",
        )
        schedule_log = logging.getLogger("trenddigest.schedule")
        level = schedule_log.level  # the command sets INFO for the rest of the process
        try:
            assert main(["--config", str(config), "schedule"]) == 0
        finally:
            schedule_log.setLevel(level)
    assert outcome == ["stopped", "stopped", "stopped"]
