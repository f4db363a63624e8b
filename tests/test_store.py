"""The SQLite store: one row per paper, newest version wins, idempotent upserts."""

import dataclasses
import errno
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from arxiv_server import Listing, render_api_feed, render_rss_listing
from trenddigest import store as store_module
from trenddigest.categories import Category, Keyword
from trenddigest.errors import StoreError
from trenddigest.lock import store_lock
from trenddigest.models import Month, Paper
from trenddigest.rank import rank_papers
from trenddigest.render import build_digest, render_markdown
from trenddigest.sources.parse import parse_api_page, parse_listing_feed
from trenddigest.store import MIGRATIONS, Store


def paper(pid="2505.01234", **kw):
    base = dict(
        id=pid,
        title="A study of things",
        abstract="We study things.",
        authors=["Ada Lovelace"],
        categories=["cs.CV", "cs.LG"],
        primary_category="cs.CV",
        version=1,
        published="2025-05-02T10:00:00+00:00",
        updated="2025-05-02T10:00:00+00:00",
        source="api",
    )
    base.update(kw)
    return Paper(**base)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "store.sqlite3") as s:
        yield s


def test_new_store_records_its_migrations(store):
    rows = store.conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert [r[0] for r in rows] == [v for v, _, _ in MIGRATIONS]
    assert store.schema_version == MIGRATIONS[-1][0]


def test_store_uses_wal_mode(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_a_store_does_not_rerun_migrations(tmp_path):
    path = tmp_path / "s.sqlite3"
    Store.open(path).close()
    with Store.open(path) as again:
        count = again.conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
    assert count == len(MIGRATIONS)


@pytest.mark.parametrize("missing_from", [1, MIGRATIONS[-1][0]], ids=["new store", "upgrade"])
def test_a_migration_another_process_applied_meanwhile_is_not_applied_again(
    tmp_path, monkeypatch, missing_from
):
    """Read-only commands open a store without its lock, so another process may
    migrate it between this one reading which migrations are done and applying them."""
    path = tmp_path / "s.sqlite3"
    if missing_from > 1:
        with Store.open(path) as old:
            old.conn.execute("DELETE FROM schema_migrations WHERE version >= ?", (missing_from,))
    real_transaction = Store.transaction
    interleaved = []

    def transaction_after_another_process_migrated(self):
        if not interleaved:  # the other process opens (and so migrates) the store right now
            interleaved.append(True)
            monkeypatch.setattr(Store, "transaction", real_transaction)
            Store.open(path).close()
        return real_transaction(self)

    monkeypatch.setattr(Store, "transaction", transaction_after_another_process_migrated)
    with Store.open(path) as store:
        versions = store.conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert interleaved
    assert [v for (v,) in versions] == [v for v, _, _ in MIGRATIONS]


def test_a_store_from_a_newer_trenddigest_is_refused(tmp_path):
    path = tmp_path / "s.sqlite3"
    with Store.open(path) as s:
        s.conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'now')")
    with pytest.raises(StoreError, match="newer than this trenddigest understands"):
        Store.open(path)


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path):
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(StoreError, match="cannot open store"):
        Store.open(path)


def test_upsert_inserts_then_reports_unchanged_on_repeat(store):
    first = store.upsert_papers([paper(), paper("2505.05678")])
    second = store.upsert_papers([paper(), paper("2505.05678")])
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 2)
    assert store.count_papers() == 2


def test_newer_version_replaces_the_stored_paper(store):
    store.upsert_papers([paper(title="Old title")])
    counts = store.upsert_papers([paper(title="New title", version=2, updated="2025-06-01")])
    stored = store.get_paper("2505.01234")
    assert counts.updated == 1
    assert (stored.title, stored.version) == ("New title", 2)
    assert store.count_papers() == 1


def test_older_version_never_overwrites_a_newer_one(store):
    store.upsert_papers([paper(title="v2 title", version=2, updated="2025-06-01")])
    counts = store.upsert_papers([paper(title="v1 title", version=1)])
    assert store.get_paper("2505.01234").title == "v2 title"
    assert counts.unchanged == 1


def test_first_version_date_is_kept_when_a_later_version_arrives(store):
    store.upsert_papers([paper(published="2025-05-02T10:00:00+00:00")])
    store.upsert_papers([paper(version=3, published=None, updated="2025-07-01")])
    assert store.get_paper("2505.01234").published == "2025-05-02T10:00:00+00:00"


def test_announce_date_from_a_feed_is_added_to_an_api_record(store):
    store.upsert_papers([paper()])
    counts = store.upsert_papers([paper(announced="2025-05-05", source="feed")])
    assert counts.updated == 1
    assert store.get_paper("2505.01234").announced == "2025-05-05"


def test_duplicates_inside_one_batch_become_one_row(store):
    counts = store.upsert_papers([paper(), paper(version=2, title="v2")])
    assert counts.new == 1
    assert store.get_paper("2505.01234").title == "v2"


def test_old_style_ids_are_stored_and_found_by_month(store):
    store.upsert_papers([paper("math/0601001", categories=["math.AG"])])
    assert [p.id for p in store.papers_for_month("2006-01")] == ["math/0601001"]


def test_month_selection_uses_first_submission(store):
    store.upsert_papers([paper("2504.09999"), paper("2505.00001"), paper("2506.00001")])
    assert [p.id for p in store.papers_for_month("2025-05")] == ["2505.00001"]


def test_month_selection_by_announce_date(store):
    store.upsert_papers(
        [paper("2504.09999", announced="2025-05-01"), paper("2505.00001", announced="2025-05-02")]
    )
    ids = [p.id for p in store.papers_for_month("2025-05", by="announced")]
    assert ids == ["2504.09999", "2505.00001"]


def test_round_trip_keeps_every_field(store):
    original = paper(comment="12 pages", announced="2025-05-05", authors=["A. B", "Ç. Ð"])
    store.upsert_papers([original])
    assert store.get_paper(original.id) == original


def test_fingerprint_changes_when_a_paper_of_the_month_changes(store):
    store.upsert_papers([paper()])
    before = store.month_fingerprint("2025-05")
    store.upsert_papers([paper()])
    unchanged = store.month_fingerprint("2025-05")
    store.upsert_papers([paper(version=2, title="new", updated="2025-06-01")])
    assert before == unchanged != store.month_fingerprint("2025-05")


def test_failed_batch_writes_nothing(store):
    bad = dataclasses.replace(paper("2505.00002"), title=None)  # NOT NULL violation
    with pytest.raises(sqlite3.IntegrityError):
        store.upsert_papers([paper("2505.00001"), bad])
    assert store.count_papers() == 0


# --------------------------------------------------------------------------- comments

WITHDRAWN = "This paper has been withdrawn by the author"


def test_a_newer_version_stating_no_comment_clears_the_stored_one(store):
    store.upsert_papers([paper(version=2, updated="2025-06-01", comment=WITHDRAWN)])
    counts = store.upsert_papers([paper(version=3, updated="2025-07-01", comment="")])
    stored = store.get_paper("2505.01234")
    assert counts.updated == 1
    assert (stored.version, stored.comment, stored.withdrawn) == (3, "", False)


def test_a_newer_version_whose_comment_is_unknown_keeps_the_stored_one(store):
    store.upsert_papers([paper(version=2, updated="2025-06-01", comment=WITHDRAWN)])
    feed = paper(version=3, published=None, updated=None, comment=None, source="feed")
    counts = store.upsert_papers([feed])
    stored = store.get_paper("2505.01234")
    assert counts.updated == 1
    assert (stored.version, stored.comment) == (3, WITHDRAWN)


def test_a_record_of_the_same_version_stating_no_comment_clears_one_kept_from_an_older_version(
    store,
):
    store.upsert_papers([paper(version=2, updated="2025-06-01", comment=WITHDRAWN)])
    store.upsert_papers([paper(version=3, updated=None, comment=None, source="feed")])
    counts = store.upsert_papers([paper(version=3, updated="2025-07-01", comment="")])
    assert counts.updated == 1
    assert store.get_paper("2505.01234").comment == ""


def test_an_older_version_stating_no_comment_leaves_the_stored_one(store):
    store.upsert_papers([paper(version=2, updated="2025-06-01", comment=WITHDRAWN)])
    counts = store.upsert_papers([paper(version=1, comment="")])
    assert counts.unchanged == 1
    assert store.get_paper("2505.01234").comment == WITHDRAWN


@pytest.mark.parametrize(
    "again",
    [
        dict(comment=None, updated=None, source="feed"),  # cannot know the comment
        dict(comment="", updated=None, source="jsonl"),  # states none, but without a date
        dict(comment="12 pages", updated=None, source="jsonl"),
    ],
    ids=["feed", "file without a comment", "file with the comment"],
)
def test_the_same_version_arriving_again_from_another_source_is_unchanged(store, again):
    store.upsert_papers([paper(comment="12 pages")])
    counts = store.upsert_papers([paper(**again)])
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 1)
    assert store.get_paper("2505.01234").comment == "12 pages"


def test_a_paper_only_listing_feeds_have_sent_is_stored_without_a_comment(store):
    feed = paper(updated=None, comment=None, source="feed")
    first = store.upsert_papers([feed, feed])
    again = store.upsert_papers([feed])
    assert (first.new, again.unchanged) == (1, 1)
    assert store.get_paper("2505.01234").comment == ""


def test_copies_in_one_batch_merge_their_comments_as_across_batches(store):
    store.upsert_papers(
        [
            paper("2505.00001", version=2, updated="2025-06-01", comment=WITHDRAWN),
            paper("2505.00001", version=3, updated=None, comment=None, source="feed"),
            paper("2505.00002", version=2, updated="2025-06-01", comment=WITHDRAWN),
            paper("2505.00002", version=3, updated="2025-07-01", comment=""),
        ]
    )
    comments = [store.get_paper(pid).comment for pid in ("2505.00001", "2505.00002")]
    assert comments == [WITHDRAWN, ""]


KD = "We distill a large teacher network into a compact student with knowledge distillation."


# A paper as the local arXiv stand-in (tests/arxiv_server.py) serves it.
SERVED = {
    "id": "2505.01234",
    "submitted": "2025-05-02T10:00:00Z",
    "categories": ["cs.CV"],
    "title": "Knowledge Distillation for Tiny Detectors",
    "abstract": KD,
    "authors": ["Ada Lovelace"],
}


def api_page(version, comment, updated):
    """The paper's version as the API returns it (no arxiv:comment when ``comment`` is None)."""
    entry = {**SERVED, "version": version, "updated": updated, "comment": comment}
    body = render_api_feed([entry], total=1, start=0, per_page=1, query="id:2505.01234")
    return parse_api_page(body, "2025-07").papers


def listing_page(version):
    """The daily listing feed announcing the paper's new version."""
    item = {"id": "2505.01234", "type": "replace", "version": version}
    body = render_rss_listing("cs.CV", Listing("2025-07-01", [item]), {"2505.01234": SERVED})
    return [i.paper for i in parse_listing_feed(body, "2025-07").papers]


def digest_of_may(store):
    category = Category("KD", "Teacher to student.", [Keyword("knowledge distillation")])
    ranking = rank_papers(store.papers_for_month("2025-05"), [category])
    digest = build_digest(
        Month(2025, 5), ranking, {}, top=10, by="submitted", arxiv_categories=["cs.CV"]
    )
    return render_markdown(digest)


def test_a_paper_withdrawn_in_v2_and_reinstated_by_a_v3_without_comment_is_in_the_digest(store):
    store.upsert_papers(api_page(2, WITHDRAWN, "2025-06-01T10:00:00Z"))
    assert "Tiny Detectors" not in digest_of_may(store)
    store.upsert_papers(api_page(3, None, "2025-07-01T10:00:00Z"))
    assert "Knowledge Distillation for Tiny Detectors" in digest_of_may(store)


def test_a_feeds_v3_of_a_withdrawn_paper_keeps_it_out_until_the_api_says_v3_has_no_comment(store):
    store.upsert_papers(api_page(2, WITHDRAWN, "2025-06-01T10:00:00Z"))
    store.upsert_papers(listing_page(3))
    assert store.get_paper("2505.01234").version == 3
    assert "Tiny Detectors" not in digest_of_may(store)
    store.upsert_papers(api_page(3, None, "2025-07-01T10:00:00Z"))
    assert "Knowledge Distillation for Tiny Detectors" in digest_of_may(store)


def test_meta_values_round_trip(store):
    store.set_meta("k", "v1")
    store.set_meta("k", "v2")
    assert store.get_meta("k") == "v2"
    assert store.get_meta("missing") is None


def test_a_folder_given_as_the_store_is_named_as_such(tmp_path):
    with pytest.raises(StoreError) as raised:
        Store.open(tmp_path)
    assert str(raised.value) == (
        f"cannot open store {tmp_path}: it is a folder; give the store's file, "
        f"e.g. {tmp_path / 'trenddigest.sqlite3'}"
    )


def test_a_store_in_a_missing_folder_on_a_read_only_file_system_is_one_clear_line(
    tmp_path, monkeypatch
):
    # The lock is not taken there (nothing can change), so the store meets it first.
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    path = tmp_path / "new" / "s.sqlite3"
    with pytest.raises(StoreError) as raised:
        Store.open(path)
    assert str(raised.value) == (
        f"cannot create store {path}: {path.parent} cannot be made (a read-only file "
        "system), or choose another --store"
    )


def test_a_new_store_in_a_folder_on_a_read_only_file_system_does_not_advise_permissions(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(store_module, "_on_read_only_file_system", lambda path: True)
    refused = sqlite3.OperationalError("unable to open database file")
    refused.sqlite_errorcode = sqlite3.SQLITE_CANTOPEN
    error = store_module._cannot_open(str(tmp_path / "s.sqlite3"), refused)
    assert str(error) == (
        f"cannot create store {tmp_path / 's.sqlite3'}: unable to open database file; "
        f"{tmp_path} is on a read-only file system: choose another --store"
    )


def test_a_store_whose_folder_is_a_file_names_the_file(tmp_path):
    (tmp_path / "data").write_text("notes\n")
    path = tmp_path / "data" / "stores" / "s.sqlite3"
    with pytest.raises(StoreError) as raised:
        Store.open(path)
    assert str(raised.value) == (
        f"cannot create store {path}: {tmp_path / 'data'} is a file, not a folder; move it, "
        "or choose another --store"
    )


def test_a_write_refused_on_a_read_only_file_system_does_not_advise_permissions(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(store_module, "_on_read_only_file_system", lambda path: True)
    error = store_module._cannot_write(
        str(tmp_path / "s.sqlite3"),
        sqlite3.OperationalError("attempt to write a readonly database"),
    )
    assert str(error) == (
        f"cannot write to store {tmp_path / 's.sqlite3'}: attempt to write a readonly "
        "database; it is on a read-only file system: copy it to a writable folder and use "
        "--store (commands that only read work as is)"
    )


def test_a_database_of_another_program_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "customers.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as err:
        Store.open(path)
    assert str(err.value) == (
        f"cannot use {path} as a store: it is an SQLite database of another program "
        "(tables: customers); give --store a new file name"
    )
    assert path.read_bytes() == before
    assert not (tmp_path / "customers.db-wal").exists()


def test_an_empty_sqlite_file_becomes_a_store(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with Store.open(path) as store:
        assert store.schema_version == MIGRATIONS[-1][0]


def test_writing_to_a_read_only_store_is_a_store_error_saying_how_to_fix_it(store):
    store.conn.execute("PRAGMA query_only = ON")  # what a read-only file does to writes
    with pytest.raises(StoreError) as err:
        store.upsert_papers([paper()])
    assert str(err.value) == (
        f"cannot write to store {store.path}: attempt to write a readonly database; make the "
        "file and its folder writable (and the disk not full), or use another --store"
    )
    store.conn.execute("PRAGMA query_only = OFF")
    assert store.count_papers() == 0


def test_papers_of_impossible_months_stored_before_ids_were_checked_are_dropped(tmp_path):
    path = tmp_path / "old.sqlite3"
    with Store.open(path) as store:
        store.upsert_papers([paper("2505.01234")])
        store.conn.execute(  # what an older trenddigest let in from an id like 2513.12345
            "INSERT INTO papers (id, title, month, stored_at) "
            "VALUES ('2513.12345', 'T', '2025-13', '2025-05-01')"
        )
        store.conn.execute("DELETE FROM schema_migrations WHERE version >= 2")
        assert set(store.month_counts()) == {"2025-05", "2025-13"}
    with Store.open(path) as store:
        assert store.month_counts() == {"2025-05": 1}
        assert store.schema_version == MIGRATIONS[-1][0]


def test_papers_under_ids_arxiv_cannot_have_issued_are_dropped_when_the_store_upgrades(
    tmp_path,
):
    path = tmp_path / "old.sqlite3"
    with Store.open(path) as store:
        store.upsert_papers([paper("2505.01234")])
        for pid, month in [("9107.00001", "2091-07"), ("2505.0001", "2025-05")]:
            store.conn.execute(  # let in by an older trenddigest
                "INSERT INTO papers (id, title, month, stored_at) VALUES (?, 'T', ?, '2025')",
                (pid, month),
            )
        store.conn.execute("DELETE FROM schema_migrations WHERE version >= 3")
    with Store.open(path) as store:
        assert [p.id for p in store.papers_for_month("2025-05")] == ["2505.01234"]
        assert store.month_counts() == {"2025-05": 1}


def test_announce_dates_no_release_should_have_stored_are_forgotten_when_the_store_upgrades(
    tmp_path,
):
    path = tmp_path / "old.sqlite3"
    kept = "2505.00004"
    with Store.open(path) as store:
        store.upsert_papers([paper(f"2505.0000{n}", announced="2025-05-05") for n in range(1, 6)])
        for pid, announced, month in [  # as older releases stored a crawl's first_seen
            ("2505.00001", "06/02/2025", "06/02/2"),
            ("2505.00002", "1970-01-01", "1970-01"),  # an epoch placeholder
            ("2505.00003", "2015-05-05", "2015-05"),  # a typo'd year, before the id
            ("2505.00005", "2026-04-09", "2026-04"),  # a re-listing the crawl first saw
        ]:
            store.conn.execute(
                "UPDATE papers SET announced = ?, announced_month = ? WHERE id = ?",
                (announced, month, pid),
            )
        store.month_counts("announced")  # cached, as a run would have
        store.conn.execute("DELETE FROM schema_migrations WHERE version >= 6")
    with Store.open(path) as store:
        assert store.month_counts("announced") == {"2025-05": 1}
        assert [p.id for p in store.papers_for_month("2025-05", by="announced")] == [kept]
        assert store.get_paper("2505.00002").announced is None
        assert store.get_paper("2505.00005").announced is None
        assert store.month_counts() == {"2025-05": 5}


# -- a command that fails leaves no store it created and stored nothing in ------------------


def new_store_path(tmp_path):
    """A store in folders that do not exist yet, as on a first run."""
    return tmp_path / "data" / "stores" / "s.sqlite3"


def locked(path):
    return lambda: store_lock(path, timeout=0)


def test_a_failed_session_removes_the_store_it_created_its_lock_file_and_folders(tmp_path):
    path = new_store_path(tmp_path)
    with pytest.raises(RuntimeError), Store.session(path, lock=locked(path)) as store:
        store.set_meta("arxiv_not_before", "1796075538.261")  # a note, not data
        raise RuntimeError("arXiv unreachable")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_a_session_creates_the_store_leaves_nothing(tmp_path, monkeypatch):
    path = new_store_path(tmp_path)
    real_migrate = Store._migrate

    def migrate_on_a_full_disk(self):
        self.conn.execute("PRAGMA max_page_count = 1")  # SQLite then reports SQLITE_FULL
        real_migrate(self)

    monkeypatch.setattr(Store, "_migrate", migrate_on_a_full_disk)
    with pytest.raises(StoreError) as raised, Store.session(path, lock=locked(path)):
        pass
    assert str(raised.value) == (
        f"cannot write to store {path}: database or disk is full; make the file and its "
        "folder writable (and the disk not full), or use another --store"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "received",
    [
        pytest.param(lambda s: s.upsert_papers([paper()]), id="a paper"),
        pytest.param(
            lambda s: s.conn.execute(
                "INSERT INTO fetch_progress (category, month, total, received, complete, "
                "updated_at) VALUES ('cs.CV', '2025-05', 40, 20, 0, '2025')"
            ),
            id="fetch progress",
        ),
        pytest.param(
            lambda s: s.conn.execute("INSERT INTO job_runs (job) VALUES ('poll')"),
            id="a job record",
        ),
    ],
)
def test_a_failed_session_keeps_a_store_it_created_once_it_received_data(tmp_path, received):
    path = new_store_path(tmp_path)
    with pytest.raises(RuntimeError), Store.session(path, lock=locked(path)) as store:
        received(store)
        raise RuntimeError("arXiv failed midway")
    with Store.open(path) as store:
        assert store.holds_data()


def test_a_failed_session_never_removes_a_store_that_was_there_before_even_empty(tmp_path):
    path = new_store_path(tmp_path)
    Store.open(path).close()
    before = path.read_bytes()
    with pytest.raises(RuntimeError), Store.session(path, lock=locked(path)):
        raise RuntimeError("arXiv unreachable")
    assert path.read_bytes() == before


def test_a_successful_session_keeps_the_store_it_created_even_empty(tmp_path):
    path = new_store_path(tmp_path)
    with Store.session(path, lock=locked(path)) as store:
        assert not store.holds_data()
    assert path.is_file()


def test_a_folder_made_for_a_new_store_stays_when_something_else_was_put_in_it(tmp_path):
    path = new_store_path(tmp_path)
    with pytest.raises(RuntimeError), Store.session(path, lock=locked(path)):
        (path.parent.parent / "notes.txt").write_text("mine\n")
        raise RuntimeError("arXiv unreachable")
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["notes.txt"]


def test_a_store_removed_by_a_failed_session_is_gone_before_its_lock_file(tmp_path, monkeypatch):
    # A run starting between the two would lock a new lock file, open the old store
    # file and store papers into a file about to be unlinked.
    path = new_store_path(tmp_path)
    unlinked: list[str] = []
    real_unlink = Path.unlink

    def unlink(self, *args, **kwargs):
        unlinked.append(self.name)
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(RuntimeError), Store.session(path, lock=locked(path)):
        raise RuntimeError("arXiv unreachable")
    assert unlinked.index("s.sqlite3") < unlinked.index("s.sqlite3.lock")


def test_a_session_that_waited_for_a_run_that_removed_its_store_removes_its_own(tmp_path):
    # B looked when A's store was there, then waited for A's lock; A failed and
    # removed it; B made a new one and failed too: B's store goes as well.
    path = new_store_path(tmp_path)
    a_open, b_waiting, a_done = threading.Event(), threading.Event(), threading.Event()

    def b_sleep(_seconds: float) -> None:  # B's lock, polling while A holds it
        b_waiting.set()
        a_done.wait(5)

    def a() -> None:
        with pytest.raises(RuntimeError), Store.session(path, lock=locked(path)):
            a_open.set()
            b_waiting.wait(5)
            raise RuntimeError("A: arXiv unreachable")
        a_done.set()

    def b() -> None:
        a_open.wait(5)
        lock = lambda: store_lock(path, timeout=5, sleep=b_sleep)  # noqa: E731
        with pytest.raises(RuntimeError), Store.session(path, lock=lock):
            raise RuntimeError("B: arXiv unreachable")

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert b_waiting.is_set() and a_done.is_set()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []


def test_a_failed_session_keeps_a_store_it_created_once_it_holds_a_feed_state(tmp_path):
    path = new_store_path(tmp_path)
    with pytest.raises(RuntimeError), Store.session(path) as store:
        store.conn.execute(
            "INSERT INTO feed_state (url) VALUES ('https://rss.arxiv.org/rss/cs.CV')"
        )
        raise RuntimeError("the next feed failed")
    assert path.is_file()


def test_a_failed_session_removes_a_rollback_journal_beside_its_new_store(tmp_path):
    path = new_store_path(tmp_path)
    with pytest.raises(RuntimeError), Store.session(path):
        Path(f"{path}-journal").write_bytes(b"")
        raise RuntimeError("arXiv unreachable")
    assert list(tmp_path.iterdir()) == []


def test_a_dangling_symlink_given_as_the_store_is_not_removed(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "link.sqlite3"
    link.symlink_to(tmp_path / "elsewhere" / "target.sqlite3")
    with pytest.raises(RuntimeError), Store.session(link):
        raise RuntimeError("arXiv unreachable")
    assert link.is_symlink()


def test_a_failed_session_through_a_dangling_link_removes_the_store_made_at_its_target(
    tmp_path,
):
    link = tmp_path / "link.sqlite3"
    link.symlink_to(tmp_path / "target" / "x.sqlite3")
    with pytest.raises(RuntimeError), Store.session(link, lock=locked(link)):
        raise RuntimeError("arXiv unreachable")
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.sqlite3"]


def test_a_failed_session_keeps_a_new_store_it_cannot_read(tmp_path, monkeypatch):
    path = new_store_path(tmp_path)

    def unreadable(self):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(Store, "holds_data", unreadable)
    with pytest.raises(RuntimeError), Store.session(path):
        raise RuntimeError("arXiv unreachable")
    assert path.is_file()


def test_a_store_made_by_the_run_a_session_waited_for_is_not_removed(tmp_path):
    # B looked before A made the store, then waited for A's lock; A made the store and
    # ended well; B fails: A's store stays.
    path = new_store_path(tmp_path)
    b_waiting, a_done = threading.Event(), threading.Event()
    failed: list[str] = []

    def b_sleep(_seconds: float) -> None:
        b_waiting.set()
        a_done.wait(5)

    def b() -> None:
        lock = lambda: store_lock(path, timeout=5, sleep=b_sleep)  # noqa: E731
        with pytest.raises(RuntimeError), Store.session(path, lock=lock):
            failed.append("B")
            raise RuntimeError("B: arXiv unreachable")

    with store_lock(path, timeout=0):  # A
        thread = threading.Thread(target=b)
        thread.start()
        b_waiting.wait(5)
        Store.open(path).close()
    a_done.set()
    thread.join(10)
    assert failed == ["B"]
    assert path.is_file()


def test_a_folder_another_failed_run_removed_and_this_sessions_lock_made_again_goes_too(
    tmp_path,
):
    # Run A (a first run) made data/ and held the lock when this session looked, so
    # data/ was there; A failed and removed it; this session's lock made it again for
    # its lock file.  This session fails too: data/ is its own and goes with its store.
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "trenddigest.sqlite3"

    @contextmanager
    def lock():
        folder.rmdir()  # run A failed meanwhile and removed what it made
        with store_lock(path, timeout=0) as held:  # makes data/ again for the lock file
            yield held

    with pytest.raises(RuntimeError), Store.session(path, lock=lock):
        raise RuntimeError("arXiv unreachable")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_was_there_stays_after_a_failed_first_session(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "trenddigest.sqlite3"
    with pytest.raises(RuntimeError), Store.session(path, lock=locked(path)):
        raise RuntimeError("arXiv unreachable")
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []


def test_a_failed_first_session_keeps_a_store_the_scheduler_recorded_its_start_in(tmp_path):
    # The scheduler's digest job reads and notes its starting month before it takes the
    # lock; a command that created the store and then failed must not remove that note.
    path = new_store_path(tmp_path)
    with pytest.raises(RuntimeError), Store.session(path, lock=locked(path)):
        with Store.open(path) as scheduler_side:
            scheduler_side.set_meta("digest_job_start", "2026-10")
        raise RuntimeError("arXiv unreachable")
    with Store.open(path) as store:
        assert store.get_meta("digest_job_start") == "2026-10"


def test_a_write_refused_for_a_read_only_companion_file_names_that_file(tmp_path, monkeypatch):
    # As a store opened for reading while it was read-only leaves its -shm file: making
    # the store writable again does not make that one so.  (Simulated: tests run as
    # root, for whom every file is writable.)
    path = tmp_path / "s.sqlite3"
    Store.open(path).close()
    shm = tmp_path / "s.sqlite3-shm"
    shm.write_bytes(b"")
    real_access = os.access
    monkeypatch.setattr(
        "trenddigest.store.os.access",
        lambda p, mode: False if Path(p) == shm else real_access(p, mode),
    )
    error = store_module._cannot_write(
        str(path), sqlite3.OperationalError("attempt to write a readonly database")
    )
    assert str(error) == (
        f"cannot write to store {path}: attempt to write a readonly database; {shm}, the file "
        "SQLite keeps beside it, is read-only: make it writable by the user running "
        "trenddigest (do not delete it)"
    )
