"""The local paper store: one SQLite database (stdlib ``sqlite3``), WAL mode.

One row per paper keyed by the arXiv id without version; the newest version wins.
The schema is versioned: each migration runs once and is recorded in
``schema_migrations``, so an old store opened by a newer trenddigest is upgraded in
place and never rebuilt.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from json.encoder import encode_basestring, encode_basestring_ascii
from pathlib import Path
from typing import Any

from .errors import StoreError
from .lock import file_in_the_way, folders_made, not_yet_there
from .models import InvalidArxivIdError, Month, Paper, split_id

log = logging.getLogger(__name__)


# Each migration is (version, description, SQL script).  Append only: never edit a
# migration that has shipped, add a new one.
def _drop_impossible_ids(conn: sqlite3.Connection) -> None:
    """Papers under ids arXiv cannot have issued (a month in the future, a number of the
    wrong length, an archive arXiv never had), let in before ids were checked."""
    bad = []
    for (pid,) in conn.execute("SELECT id FROM papers"):
        try:
            split_id(pid)
        except InvalidArxivIdError:
            bad.append((pid,))
    conn.executemany("DELETE FROM papers WHERE id = ?", bad)
    conn.execute("DELETE FROM cache WHERE key LIKE 'month_counts:%'")
    if bad:
        log.warning("dropped %d stored paper(s) whose arXiv id cannot exist", len(bad))


def _add_last_id(conn: sqlite3.Connection) -> None:
    """Add ``fetch_progress.last_id`` unless it is there (a migration must be safe to
    apply again to a store whose record of it was lost)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(fetch_progress)")}
    if "last_id" not in columns:
        conn.execute("ALTER TABLE fetch_progress ADD COLUMN last_id TEXT")


# (version, description, SQL script or a function of the connection)
MIGRATIONS: list[tuple[int, str, str | Callable[[sqlite3.Connection], None]]] = [
    (
        1,
        "papers, metadata, fetch progress, feed state, job runs, caches",
        """
        CREATE TABLE papers (
            id TEXT PRIMARY KEY,
            version INTEGER NOT NULL DEFAULT 1,
            title TEXT NOT NULL,
            abstract TEXT NOT NULL DEFAULT '',
            authors TEXT NOT NULL DEFAULT '[]',
            categories TEXT NOT NULL DEFAULT '[]',
            primary_category TEXT NOT NULL DEFAULT '',
            comment TEXT NOT NULL DEFAULT '',
            published TEXT,
            updated TEXT,
            announced TEXT,
            source TEXT NOT NULL DEFAULT '',
            month TEXT NOT NULL,
            announced_month TEXT,
            stored_at TEXT NOT NULL,
            rev INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX papers_month ON papers(month, id);
        CREATE INDEX papers_announced_month ON papers(announced_month, id);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE fetch_progress (
            category TEXT NOT NULL,
            month TEXT NOT NULL,
            total INTEGER,
            received INTEGER NOT NULL DEFAULT 0,
            complete INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (category, month)
        );
        CREATE TABLE feed_state (
            url TEXT PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            last_checked TEXT
        );
        CREATE TABLE job_runs (
            job TEXT PRIMARY KEY,
            last_success TEXT,
            last_target TEXT,
            detail TEXT
        );
        CREATE TABLE cache (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            value BLOB NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        "drop papers whose id names no real month (stored before ids were checked)",
        """
        DELETE FROM papers WHERE CAST(substr(month, 6, 2) AS INTEGER) NOT BETWEEN 1 AND 12;
        DELETE FROM cache WHERE key LIKE 'month_counts:%'
        """,
    ),
    (3, "drop papers whose id arXiv cannot have issued", _drop_impossible_ids),
    # Releases before the API window started a week before the month recorded their
    # month-only windows under the same key: one taken as complete and checked within
    # the last 12 hours would be trusted and its lead-in week (papers with the month's
    # id submitted just before it) never asked for.  Dating every check to the epoch
    # makes each complete window be checked once (one request), which reads it again
    # when arXiv's total for the wider window differs.
    (
        4,
        "check fetched windows again (the API window now starts a week before the month)",
        "UPDATE fetch_progress SET updated_at = '1970-01-01T00:00:00+00:00' WHERE complete = 1",
    ),
    # A backfill resumed after an interruption asks again for the last result it had
    # received and checks that it is still that paper: when one paper left the window
    # and another joined it meanwhile, arXiv's total is unchanged but the offsets moved.
    (5, "remember the last paper each unfinished window received", _add_last_id),
    # Releases before 0f180ce stored a crawl's first_seen as given ("10/05/2026"), and
    # later ones any ISO date, also one before the paper's id was issued (a typo'd
    # year, an epoch placeholder) or years after it (a re-listing the crawl first
    # saw).  The store keeps the earliest announce date, so no import could mend
    # them, and a run by announce date read "10/05/2" as a month (see
    # sources/parse.py, ANNOUNCE_MONTHS_AFTER_ID).
    (
        6,
        "forget announce dates that are no date, before the paper's id or long after it",
        """
        UPDATE papers SET announced = NULL, announced_month = NULL
        WHERE announced IS NOT NULL AND (
            announced NOT GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]*'
            OR date(substr(announced, 1, 10)) IS NULL
            OR announced_month IS NOT substr(announced, 1, 7)
            OR announced_month < month
            OR announced_month > strftime('%Y-%m', month || '-01', '+2 months')
            OR announced_month > strftime('%Y-%m', 'now')
        );
        DELETE FROM cache WHERE key LIKE 'month_counts:%'
        """,
    ),
]

# The tables a command fills with what it received or did.  The others annotate those
# (``meta``) or are computed from them (``cache``).
_DATA_TABLES = ("papers", "fetch_progress", "feed_state", "job_runs")
# ``meta`` notes any command leaves, even one that failed having stored nothing: when
# arXiv may be asked again (sources/pacing.py; a wait arXiv asked for keeps the store
# through Store.must_outlive_failure) and the papers' revision.  Any other note (the
# scheduler's starting month, the listing dates read, an email sent) is data.
ARXIV_NOT_BEFORE_KEY = "arxiv_not_before"
_ROUTINE_NOTES = (ARXIV_NOT_BEFORE_KEY, "paper_rev")
# The files SQLite keeps beside a store (WAL mode, or a rollback journal before it).
_COMPANIONS = ("-wal", "-shm", "-journal")

_BUSY_TIMEOUT_MS = 30_000
_CHECKPOINT_PAGES = 1000  # SQLite's default
_BULK_CHECKPOINT_PAGES = 10_000

_PAPER_COLUMNS = (
    "id, version, title, abstract, authors, categories, primary_category, comment, "
    "published, updated, announced, source"
)


@dataclass
class UpsertCounts:
    """What one batch of upserts did.

    ``new + updated + unchanged`` is the number of distinct ids in the batch: copies
    of one id within a batch are merged first (the importer sends a file's repeats
    as separate batches, so that each of its records is counted).
    """

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _row_to_paper(row: sqlite3.Row | tuple) -> Paper:
    (pid, version, title, abstract, authors, cats, primary, comment, pub, upd, ann, src) = row
    return Paper(
        id=pid,
        version=version,
        title=title,
        abstract=abstract,
        authors=json.loads(authors),
        categories=json.loads(cats),
        primary_category=primary,
        comment=comment,
        published=pub,
        updated=upd,
        announced=ann,
        source=src,
    )


def _encode_authors(names: list[str]) -> str:
    """``json.dumps(names, ensure_ascii=False)``, a few times faster for a list of strings.

    Called twice per paper in bulk imports, where building an encoder per call was a
    measurable share of the time; anything but a list of strings takes the slow path.
    """
    if all(type(n) is str for n in names):
        return "[" + ", ".join(map(encode_basestring, names)) + "]"
    return json.dumps(names, ensure_ascii=False)


def _encode_categories(categories: list[str]) -> str:
    """``json.dumps(categories)``, likewise."""
    if all(type(c) is str for c in categories):
        return "[" + ", ".join(map(encode_basestring_ascii, categories)) + "]"
    return json.dumps(categories)


def _paper_values(p: Paper) -> tuple:
    return (
        p.id,
        p.version,
        p.title,
        p.abstract,
        _encode_authors(p.authors),
        _encode_categories(p.categories),
        p.primary_category,
        "" if p.comment is None else p.comment,  # never stated: stored as none
        p.published,
        p.updated,
        p.announced,
        p.source,
    )


def _merge(old: Paper, new: Paper) -> Paper:
    """Combine a stored paper with an incoming record of the same id.

    The newer version's content wins.  Within one version the record with the later
    ``updated`` time wins (one with a time beats one without); when neither is later,
    the incoming record wins: it is the correction (a fixed title in a newer crawl or
    snapshot, a later line of the same file).  Facts only one source knows (the v1
    date from the API, the announce date from a listing feed) are kept whichever side
    has them.  An incoming record that would change nothing but ``source`` leaves the
    stored row as it is, so the same paper arriving from another source is unchanged.

    The comment is the one field where empty is an answer: it belongs to a version, so
    the winning record's comment stands whenever its source states one, even ``""``
    (arXiv withdraws a paper with a v2 whose comment says so, and reinstates it with a
    v3 without one).  Only a record that cannot know it (``None``: a listing feed)
    leaves the other's.  That holds within one version too: a feed's v3 keeps v2's
    comment for want of v3's, and the API's v3 must then be able to clear it.
    """
    if new.version != old.version:
        incoming_wins = new.version > old.version
    else:
        incoming_wins = (new.updated or "") >= (old.updated or "")
    base, other = (new, old) if incoming_wins else (old, new)
    published = min(filter(None, [old.published, new.published]), default=None)
    announced = min(filter(None, [old.announced, new.announced]), default=None)
    merged = Paper(
        id=old.id,
        version=max(old.version, new.version),
        title=base.title or other.title,
        abstract=base.abstract or other.abstract,
        authors=base.authors or other.authors,
        categories=base.categories or other.categories,
        primary_category=base.primary_category or other.primary_category,
        comment=other.comment if base.comment is None else base.comment,
        published=published,
        updated=max(filter(None, [old.updated, new.updated]), default=None),
        announced=announced,
        source=base.source or other.source,
    )
    if merged.source != old.source and replace(merged, source=old.source) == old:
        return old
    return merged


def _refuse_foreign(conn: sqlite3.Connection, path: str) -> None:
    """Never migrate (write into) a database of another program given as --store by
    mistake: one with tables but no trenddigest schema history is left untouched."""
    tables = sorted(
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith("sqlite_")
    )
    if tables and "schema_migrations" not in tables:
        conn.close()
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreError(
            f"cannot use {path} as a store: it is an SQLite database of another program "
            f"(tables: {shown}); give --store a new file name"
        )


def _primary_code(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code of an error (its extended code's low byte)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_damaged_store(exc: sqlite3.Error) -> bool:
    """Whether SQLite found the file itself broken (a crash, a truncated or bad copy)."""
    return _primary_code(exc) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def damaged_store_error(path: str | None, exc: sqlite3.Error) -> StoreError:
    """How to recover from a damaged store (``path`` None: the store the command used)."""
    which = f"store {path}" if path else "the store"
    return StoreError(
        f"{which} is damaged ({exc}); restore it from a backup, or move it aside and "
        "fill a new one with 'trenddigest import FILE' or 'trenddigest fetch --month YYYY-MM'"
    )


def _cannot_write(path: str, exc: sqlite3.Error) -> StoreError:
    """A write SQLite refused: a read-only file, a full disk.  The user's to fix.

    The file SQLite keeps beside the store can be the read-only one: a store opened
    for reading while it was read-only leaves its shared-memory file so, and making
    the store writable again does not change that one.  That file is to be made
    writable, not deleted: a -wal or -journal file can hold what the store lacks."""
    blocker = next(
        (
            companion
            for suffix in _COMPANIONS
            if (companion := Path(f"{path}{suffix}")).is_file()
            and not os.access(companion, os.W_OK)
        ),
        None,
    )
    if blocker is not None and os.access(path, os.W_OK):
        # Never advise removing it: a -wal or -journal file can hold papers the store
        # file does not yet (or the way back from a half-done write).
        return StoreError(
            f"cannot write to store {path}: {exc}; {blocker}, the file SQLite keeps beside "
            "it, is read-only: make it writable by the user running trenddigest (do not "
            "delete it)"
        )
    if _on_read_only_file_system(path):  # no permission change helps there
        return StoreError(
            f"cannot write to store {path}: {exc}; it is on a read-only file system: copy "
            "it to a writable folder and use --store (commands that only read work as is)"
        )
    return StoreError(
        f"cannot write to store {path}: {exc}; make the file and its folder "
        "writable (and the disk not full), or use another --store"
    )


def _cannot_open(path: str, exc: sqlite3.Error) -> StoreError:
    """Why SQLite could not open a store, and what to do about it."""
    code = _primary_code(exc)
    if code == sqlite3.SQLITE_CORRUPT:
        return damaged_store_error(path, exc)
    if code == sqlite3.SQLITE_FULL:  # creating or migrating it: a write like any other
        return _cannot_write(path, exc)
    if code == sqlite3.SQLITE_CANTOPEN:
        folder = Path(path).parent
        if not Path(path).exists():
            if _on_read_only_file_system(path):  # no permission change helps there
                return StoreError(
                    f"cannot create store {path}: {exc}; {folder} is on a read-only file "
                    "system: choose another --store"
                )
            return StoreError(
                f"cannot create store {path}: {exc}; make {folder} writable, "
                "or choose another --store"
            )
        if Path(path).is_file():
            # The file is there: what SQLite could not create is its WAL or shared memory.
            return StoreError(
                f"cannot open store {path}: {exc}; SQLite keeps {path}-wal and {path}-shm "
                f"beside it, so its folder must be writable: make {folder} "
                "writable, or copy the store to a writable folder and use --store"
            )
    return StoreError(f"cannot open store {path}: {exc} (is it a trenddigest SQLite file?)")


def _make_folder(path: str) -> None:
    """The store's folder, made if missing: a lock on a read-only file system is not
    taken (nothing there can change), so this is where such a file system is met."""
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if blocker := file_in_the_way(folder):
            why = f"{blocker} is a file, not a folder; move it"
        elif exc.errno == errno.EROFS:
            why = f"{folder} cannot be made (a read-only file system)"
        else:
            why = f"{folder} cannot be made ({exc.strerror or exc}); make its parent writable"
        raise StoreError(f"cannot create store {path}: {why}, or choose another --store") from exc


def _on_read_only_file_system(path: str) -> bool:
    """Whether ``path`` lies on a file system mounted read-only (no one can change it)."""
    try:
        return bool(os.statvfs(Path(path).parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _read_only_fallback(path: str, exc: sqlite3.OperationalError) -> sqlite3.Connection | None:
    """A read-only connection to a store that SQLite could not open normally, when that
    is safe: the store is on a read-only file system, where SQLite cannot create the
    WAL's shared memory, but where no process can change the file either, so it can be
    read as immutable.  Not when a WAL file holds data: immutable reads would skip it."""
    wal = Path(f"{path}-wal")
    if (
        _primary_code(exc) != sqlite3.SQLITE_CANTOPEN
        or not Path(path).is_file()
        or not _on_read_only_file_system(path)
        or (wal.is_file() and wal.stat().st_size > 0)
    ):
        return None
    uri = f"file:{urllib.parse.quote(path)}?immutable=1"
    log.info("store %s is on a read-only file system: reading it only", path)
    return sqlite3.connect(uri, uri=True, isolation_level=None)


def _refuse_folder(path_str: str) -> None:
    """A folder given as the store: SQLite would say "unable to open database file"."""
    if path_str != ":memory:" and Path(path_str).is_dir():
        raise StoreError(
            f"cannot open store {path_str}: it is a folder; give the store's file, "
            f"e.g. {Path(path_str) / 'trenddigest.sqlite3'}"
        )


class Store:
    """A trenddigest SQLite database.

    Use :meth:`open`; the object is a context manager that closes the connection.
    ``":memory:"`` gives a private in-memory store (tests, dry runs).
    """

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        # Cleared after a cache write fails (a read-only store): the run goes on
        # without offering further results to the cache.
        self.caching = True
        # Set when what this command leaves must survive its failure though no data
        # was stored (a wait arXiv asked for: see sources/pacing.py and session()).
        self.must_outlive_failure = False

    @classmethod
    def open(cls, path: str | Path) -> Store:
        path_str = str(path) if str(path) == ":memory:" else str(Path(path).expanduser())
        _refuse_folder(path_str)
        read_only = False
        try:
            if path_str != ":memory:":
                _make_folder(path_str)
            conn = sqlite3.connect(path_str, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            try:
                _refuse_foreign(conn, path_str)
            except sqlite3.OperationalError as exc:
                fallback = _read_only_fallback(path_str, exc)
                if fallback is None:
                    raise
                conn.close()
                conn, read_only = fallback, True
                _refuse_foreign(conn, path_str)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            store = cls(conn, path_str)
            store.caching = not read_only
            store._migrate()
        except sqlite3.DatabaseError as exc:
            raise _cannot_open(path_str, exc) from exc
        return store

    @classmethod
    @contextmanager
    def session(
        cls,
        path: str | Path,
        *,
        lock: Callable[[], AbstractContextManager[Path | None]] | None = None,
    ) -> Iterator[Store]:
        """The store for one command, opened under ``lock`` (when given) and closed after.

        A command that creates the store and then fails before storing anything (arXiv
        unreachable on a first run, a refused file, a full disk at the first write)
        removes it again, with SQLite's files beside it, the lock file ``lock`` yields
        and the folders made for it: the user asked for a digest, not for an empty
        database in a new folder, and the machine is left as it was.  A store that was
        there before is never removed, and one that received anything (a page of papers,
        fetch progress, a feed's state, a job's record) is kept: a failed fetch resumes
        from it; so is one holding a wait arXiv asked for (:attr:`must_outlive_failure`).
        The removal happens while the lock is held, store files first and its lock file
        last, so a run waiting for the lock finds its lock file gone and makes its own
        (see :mod:`.lock`), and none can open the store file on its way out.

        Whether the store is this command's to remove is decided once the lock is held:
        a run this one waited for may have made the store meanwhile (then it is not), or
        made it and removed it again (then the one this command makes is, with the
        folders its lock made again: :func:`.lock.folders_made`).
        """
        path_str = str(path) if str(path) == ":memory:" else str(Path(path).expanduser())
        _refuse_folder(path_str)  # before the lock, whose file would be left beside it
        # A link the user gave to a store not made yet: what is made is its target.
        made_at = os.path.realpath(path_str) if Path(path_str).is_symlink() else path_str
        missing = [] if made_at == ":memory:" else not_yet_there(Path(made_at))
        with lock() if lock is not None else contextlib.nullcontext() as lock_file:
            created = _made_here(made_at, missing, folders_made(lock_file))
            store: Store | None = None
            try:
                store = cls.open(path_str)
                yield store
            except BaseException:
                if created and (store is None or not store._worth_keeping()):
                    if store is not None:
                        store.close()  # before its files go
                    log.info("removing the store %s this failed command created", path_str)
                    _remove_new_store(made_at, created, lock_file)
                raise
            finally:
                if store is not None:
                    store.close()  # (closing twice is harmless)

    def holds_data(self) -> bool:
        """Whether anything was stored beyond the schema: a paper, fetch progress, a
        feed's state, a job's record, or a note in ``meta`` other than the routine ones
        (the scheduler's starting month, the listing dates read, an email sent: each
        says what was done and must outlive a failed command).  Caches do not count."""
        routine = ", ".join("?" for _ in _ROUTINE_NOTES)
        with self._reading():
            return any(
                self.conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                for table in _DATA_TABLES
            ) or bool(
                self.conn.execute(
                    f"SELECT 1 FROM meta WHERE key NOT IN ({routine}) LIMIT 1", _ROUTINE_NOTES
                ).fetchone()
            )

    def _worth_keeping(self) -> bool:
        """:meth:`holds_data`, but a store that cannot be read is kept, and so is one
        that must outlive a failure: only a store known to hold nothing is removed."""
        if self.must_outlive_failure:
            return True
        try:
            return self.holds_data()
        except (sqlite3.Error, StoreError) as exc:
            log.debug("keeping the store %s: cannot tell what it holds: %s", self.path, exc)
            return True

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------

    def _migrate(self) -> None:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = {v for (v,) in self.conn.execute("SELECT version FROM schema_migrations")}
        latest = max(v for v, _, _ in MIGRATIONS)
        if done and max(done) > latest:
            raise StoreError(
                f"store {self.path} has schema version {max(done)}, newer than this "
                f"trenddigest understands ({latest}); upgrade trenddigest"
            )
        for version, description, script in MIGRATIONS:
            if version in done:
                continue
            with self.transaction():
                # Read-only commands open a store without its lock, so another process
                # may have applied this migration since ``done`` was read; only inside the
                # write transaction is the answer sure to stay true.
                if self.conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
                ).fetchone():
                    log.debug("store %s already has schema %d", self.path, version)
                    continue
                log.debug("migrating store %s to schema %d: %s", self.path, version, description)
                if callable(script):
                    script(self.conn)
                else:
                    for statement in filter(str.strip, script.split(";")):
                        self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, description, _now())
                )

    @property
    def schema_version(self) -> int:
        row = self.conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """Many upserts in a row (an import): checkpoint the WAL rarely, once at the end.

        SQLite copies the write-ahead log into the database (and syncs both) every
        1,000 pages by default, i.e. after almost every batch of an import; every
        10,000 pages saves about a fifth of an import's time.  Durability is
        unchanged: every batch is still its own committed transaction.
        """
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {_BULK_CHECKPOINT_PAGES}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {_CHECKPOINT_PAGES}")
            with contextlib.suppress(sqlite3.Error):  # busy readers: done later
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back whole on any error.

        Inside an open transaction this joins it, so that a caller can make several
        writes (say, a page of papers and the fetch progress it advances) atomic.
        """
        if self.conn.in_transaction:
            yield self.conn
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if is_damaged_store(exc):
                raise damaged_store_error(self.path, exc) from exc
            if not isinstance(exc, sqlite3.OperationalError):
                raise
            # A read-only file, a full disk: the user's to fix, not a crash.
            raise _cannot_write(self.path, exc) from exc

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Reads of a damaged store (a crash, a truncated copy) end in a StoreError
        saying how to recover, not in an internal error."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if is_damaged_store(exc):
                raise damaged_store_error(self.path, exc) from exc
            raise

    def query_one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        """One row of a read by another module (the cache, fetch progress, feed and
        job state), a damaged store reported as such like the store's own reads."""
        with self._reading():
            row: tuple[Any, ...] | None = self.conn.execute(sql, params).fetchone()
            return row

    # -- papers -----------------------------------------------------------------

    def upsert_papers(
        self, papers: Iterable[Paper], outcome: dict[str, str] | None = None
    ) -> UpsertCounts:
        """Insert or update papers in one transaction; idempotent.

        A record equal to what is stored counts as unchanged and writes nothing, so
        importing the same file twice reports ``0 new, 0 updated``.  ``outcome``, when
        given, receives what happened to each id (``"new"``, ``"updated"`` or
        ``"unchanged"``), for callers that count papers over several calls (a fetch
        sees a paper listed in two categories twice).

        Bulk imports are mostly new papers, so every row is first offered to a plain
        ``INSERT ... ON CONFLICT DO NOTHING``; only the ids that were already stored
        are read back and merged.  A stored row whose columns equal the incoming
        record is unchanged without decoding it.
        """
        counts = UpsertCounts()
        batch: dict[str, Paper] = {}
        for paper in papers:
            prior = batch.get(paper.id)
            batch[paper.id] = _merge(prior, paper) if prior else paper
        if not batch:
            return counts
        stamp = _now()
        with self.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'paper_rev'").fetchone()
            rev = int(row[0]) + 1 if row else 1
            values = {pid: _paper_values(paper) for pid, paper in batch.items()}
            before = conn.total_changes
            conn.executemany(
                f"INSERT INTO papers ({_PAPER_COLUMNS}, month, announced_month, stored_at, rev) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING",
                [
                    (*values[pid], paper.month, _month_of(paper), stamp, rev)
                    for pid, paper in batch.items()
                ],
            )
            counts.new = conn.total_changes - before
            if outcome is not None:
                outcome.update(dict.fromkeys(batch, "new"))  # corrected below for stored ids
            updates = []
            if counts.new < len(batch):
                # Rows this batch inserted carry ``rev``; every other id was stored before.
                for stored in self._get_raw(conn, list(batch), older_than=rev):
                    pid = stored[0]
                    if stored == values[pid]:
                        counts.unchanged += 1
                        if outcome is not None:
                            outcome[pid] = "unchanged"
                        continue
                    old = _row_to_paper(stored)
                    merged = _merge(old, batch[pid])
                    if merged == old:
                        counts.unchanged += 1
                        if outcome is not None:
                            outcome[pid] = "unchanged"
                    else:
                        new_values = _paper_values(merged)[1:]
                        updates.append(
                            (*new_values, merged.month, _month_of(merged), stamp, rev, pid)
                        )
                        if outcome is not None:
                            outcome[pid] = "updated"
            conn.executemany(
                "UPDATE papers SET version=?, title=?, abstract=?, authors=?, categories=?, "
                "primary_category=?, comment=?, published=?, updated=?, announced=?, source=?, "
                "month=?, announced_month=?, stored_at=?, rev=? WHERE id=?",
                updates,
            )
            counts.updated = len(updates)
            if counts.new or updates:
                conn.execute(
                    "INSERT INTO meta VALUES ('paper_rev', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (str(rev),),
                )
        return counts

    @staticmethod
    def _get_raw(conn: sqlite3.Connection, ids: list[str], older_than: int) -> Iterator[tuple]:
        """Stored rows (undecoded, in ``_PAPER_COLUMNS`` order) of ``ids`` with rev < older_than."""
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            yield from conn.execute(
                f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id IN ({marks}) AND rev < ?",
                (*chunk, older_than),
            )

    @staticmethod
    def _get_many(conn: sqlite3.Connection, ids: list[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = _row_to_paper(row)
        return found

    def get_paper(self, arxiv_id: str) -> Paper | None:
        with self._reading():
            return self._get_many(self.conn, [arxiv_id]).get(arxiv_id)

    def papers_for_month(self, month: Month | str, by: str = "submitted") -> list[Paper]:
        """The month's papers, ordered by id (stable, so digests are deterministic).

        ``by="submitted"`` selects by first submission (the id's YYMM, or the v1 date);
        ``by="announced"`` by the announce date, for papers whose announce date is known.
        """
        column = {"submitted": "month", "announced": "announced_month"}.get(by)
        if column is None:
            raise ValueError(f"by must be 'submitted' or 'announced', not {by!r}")
        with self._reading():
            rows = self.conn.execute(
                f"SELECT {_PAPER_COLUMNS} FROM papers WHERE {column} = ? ORDER BY id",
                (str(month),),
            )
            return [_row_to_paper(r) for r in rows]

    def iter_papers(self, months: Iterable[str] | None = None) -> Iterator[Paper]:
        """Every stored paper (optionally of some months), in id order, streamed."""
        if months is None:
            with self._reading():
                rows = self.conn.execute(f"SELECT {_PAPER_COLUMNS} FROM papers ORDER BY id")
                yield from (_row_to_paper(r) for r in rows)
            return
        for month in sorted(set(months)):
            yield from self.papers_for_month(month)

    def count_papers(self) -> int:
        with self._reading():
            return int(self.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0])

    def month_counts(self, by: str = "submitted") -> dict[str, int]:
        """Papers per month, oldest first.

        Counting reads the whole month index (a few hundred ms at millions of papers),
        so the answer is kept in the ``cache`` table until the next write of papers:
        a run then costs in proportion to its month, not to the store.
        """
        column = {"submitted": "month", "announced": "announced_month"}[by]
        key, revision = f"month_counts:{by}", self.get_meta("paper_rev") or "0"
        with self._reading():
            row = self.conn.execute(
                "SELECT fingerprint, value FROM cache WHERE key = ?", (key,)
            ).fetchone()
            if row is not None and row[0] == revision:
                return {m: int(n) for m, n in json.loads(row[1])}
            rows = self.conn.execute(
                f"SELECT {column}, COUNT(*) FROM papers WHERE {column} IS NOT NULL "
                f"GROUP BY {column} ORDER BY {column}"
            ).fetchall()
        self._remember(key, revision, json.dumps(rows).encode("utf-8"))
        return {m: n for m, n in rows}

    def _remember(self, key: str, fingerprint: str, value: bytes) -> None:
        """Best-effort cache write from a read: skipped, not waited for, if the store is
        busy (another process importing) or read-only."""
        if not self.caching:
            return
        try:
            self.conn.execute("PRAGMA busy_timeout = 50")
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO cache (key, fingerprint, value, created_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint,"
                    " value = excluded.value, created_at = excluded.created_at",
                    (key, fingerprint, value, _now()),
                )
        except (sqlite3.Error, StoreError) as exc:
            log.debug("not caching %s in %s: %s", key, self.path, exc)
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")

    def month_fingerprint(self, month: Month | str, by: str = "submitted") -> str:
        """Changes whenever any paper of the month is added or changed (cache keys)."""
        column = {"submitted": "month", "announced": "announced_month"}[by]
        with self._reading():
            row = self.conn.execute(
                f"SELECT COUNT(*), MAX(rev) FROM papers WHERE {column} = ?",
                (str(month),),
            ).fetchone()
        return f"{row[0]}:{row[1]}"

    # -- small key/value metadata ----------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._reading():
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )


def _made_here(path: str, missing: list[Path], made_by_lock: list[Path]) -> list[Path]:
    """What a command is about to make for its store, decided once it holds the lock:
    the folders that were ``missing`` when it started or that taking the lock made
    (again, after a run it waited for removed them), outermost first, and the store
    file unless it exists now (made by a run this one waited for).  ``path`` is where
    the file is made: the target of a link the user gave."""
    store = Path(path)
    if path == ":memory:" or store.exists() or store.is_symlink():
        return []
    folders = {folder for folder in [*missing, *made_by_lock] if folder != store}
    return [*sorted(folders, key=lambda folder: len(folder.parts)), store]


def _remove_new_store(path: str, created: list[Path], lock_file: Path | None) -> None:
    """Remove what opening a new store made: its file and SQLite's beside it, then its
    lock file (the caller holds the lock; unlinked last, so that no run can lock a new
    one and open the store file on its way out) and the folders in ``created``,
    innermost first and only while empty (anything else put there stays)."""
    leftovers = [Path(path + suffix) for suffix in _COMPANIONS]
    for leftover in [*leftovers, Path(path), *([lock_file] if lock_file is not None else [])]:
        with contextlib.suppress(OSError):
            leftover.unlink(missing_ok=True)
    for folder in reversed(created[:-1]):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _month_of(paper: Paper) -> str | None:
    return paper.announced[:7] if paper.announced else None
