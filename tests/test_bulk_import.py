"""The bulk-import fast paths behave exactly like the plain ones.

Insert-first upserts (only conflicting ids are read back) and gzip inflated in a
helper thread are speed-ups; these tests pin down that nothing else changes.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
import sqlite3
import threading
import tracemalloc
import zlib
from pathlib import Path

import pytest

from synthetic import make_papers, write_jsonl
from trenddigest.errors import InputError
from trenddigest.sources.files import _BackgroundGunzip, import_files, iter_file
from trenddigest.store import Store


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store.sqlite3") as s:
        yield s


# ------------------------------------------------------------------ upserts


def test_a_batch_of_new_changed_and_unchanged_papers_is_counted_exactly(store):
    old = make_papers("2025-05", per_topic=2)
    store.upsert_papers(old)
    changed = dataclasses.replace(old[0], version=2, updated="2025-06-01", title="Retitled")
    new = make_papers("2025-06", per_topic=1)
    counts = store.upsert_papers([changed, *old[1:], *new])
    assert (counts.new, counts.updated, counts.unchanged) == (len(new), 1, len(old) - 1)
    assert store.get_paper(old[0].id).title == "Retitled"
    assert store.count_papers() == len(old) + len(new)


def test_a_repeated_batch_writes_nothing_and_keeps_the_fingerprint(store):
    papers = make_papers("2025-05", per_topic=2)
    store.upsert_papers(papers)
    before = store.month_fingerprint("2025-05")
    counts = store.upsert_papers(papers)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, len(papers))
    assert store.month_fingerprint("2025-05") == before


def test_a_row_stored_with_other_json_spacing_is_still_recognised_as_unchanged(store):
    paper = make_papers("2025-05", per_topic=1)[0]
    store.upsert_papers([paper])
    spaced = json.dumps(paper.authors, indent=1)
    store.conn.execute("UPDATE papers SET authors = ? WHERE id = ?", (spaced, paper.id))
    counts = store.upsert_papers([paper])
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 1)


def test_an_older_record_of_a_stored_paper_is_merged_not_inserted(store):
    paper = make_papers("2025-05", per_topic=1)[0]
    newer = dataclasses.replace(paper, version=3, updated="2025-07-01", title="v3")
    store.upsert_papers([newer])
    counts = store.upsert_papers([dataclasses.replace(paper, announced="2025-05-06")])
    stored = store.get_paper(paper.id)
    assert counts.updated == 1
    assert (stored.title, stored.version, stored.announced) == ("v3", 3, "2025-05-06")


def test_a_same_version_record_with_a_later_update_time_replaces_the_stored_one(store):
    paper = make_papers("2025-05", per_topic=1)[0]
    store.upsert_papers([paper])
    fixed = dataclasses.replace(paper, title="Fixed", updated="2025-06-01T00:00:00+00:00")
    counts = store.upsert_papers([fixed])
    assert (counts.updated, store.get_paper(paper.id).title) == (1, "Fixed")


def test_a_same_version_record_with_an_earlier_update_time_is_unchanged(store):
    paper = make_papers("2025-05", per_topic=1)[0]
    store.upsert_papers([paper])
    stale = dataclasses.replace(paper, title="Stale", updated="2025-04-30T00:00:00+00:00")
    counts = store.upsert_papers([stale])
    assert (counts.unchanged, store.get_paper(paper.id).title) == (1, paper.title)


def test_a_same_version_record_without_an_update_time_does_not_replace_one_with_it(store):
    paper = make_papers("2025-05", per_topic=1)[0]  # has an update time
    store.upsert_papers([paper])
    undated = dataclasses.replace(paper, title="From a feed", updated=None, source="feed")
    counts = store.upsert_papers([undated])
    assert (counts.unchanged, store.get_paper(paper.id).title) == (1, paper.title)


def test_a_same_version_record_with_the_same_update_time_replaces_the_stored_one(store):
    paper = make_papers("2025-05", per_topic=1)[0]
    store.upsert_papers([paper])
    counts = store.upsert_papers([dataclasses.replace(paper, title="Fixed")])
    assert (counts.updated, store.get_paper(paper.id).title) == (1, "Fixed")


def test_the_same_paper_from_another_source_is_unchanged_and_keeps_its_source(store):
    paper = make_papers("2025-05", per_topic=1)[0]
    store.upsert_papers([paper])
    counts = store.upsert_papers([dataclasses.replace(paper, source="kaggle", comment="")])
    assert (counts.unchanged, store.get_paper(paper.id)) == (1, paper)


# ------------------------------------------------------------------ gzip


def test_gzip_read_in_the_background_gives_the_same_records_as_plain_text(tmp_path):
    papers = make_papers("2025-05", per_topic=20)
    plain = write_jsonl(tmp_path / "p.jsonl", papers)
    packed = write_jsonl(tmp_path / "p.jsonl.gz", papers, gz=True)
    assert [r.paper for r in iter_file(packed)] == [r.paper for r in iter_file(plain)]


def test_every_member_of_a_multi_member_gzip_is_read_padding_included(tmp_path):
    first, second = make_papers("2025-05", per_topic=3), make_papers("2025-06", per_topic=3)
    a = gzip.compress(write_jsonl(tmp_path / "a.jsonl", first).read_bytes())
    b = gzip.compress(write_jsonl(tmp_path / "b.jsonl", second).read_bytes())
    path = tmp_path / "joined.jsonl.gz"
    path.write_bytes(a + b"\0" * 16 + b)
    assert [r.paper.id for r in iter_file(path)] == [p.id for p in first + second]


def test_a_gzip_with_a_bad_checksum_is_an_input_error(tmp_path):
    data = gzip.compress(write_jsonl(tmp_path / "a.jsonl", make_papers()).read_bytes())
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(data[:-8] + bytes(4) + data[-4:])  # CRC32 zeroed
    with pytest.raises(InputError, match="cannot read"):
        list(iter_file(path))


def test_a_truncated_gzip_keeps_the_records_before_the_cut_and_then_fails(tmp_path, store):
    lines = b"".join(
        json.dumps({"id": f"2505.{i:05d}", "title": f"Paper {i}"}).encode() + b"\n"
        for i in range(1, 60001)  # well past the 1 MB read by sniffing
    )
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(lines, mtime=0)[:-5000])
    with pytest.raises(InputError, match="ended"):
        import_files(store, [path], batch_size=1000)
    assert 0 < store.count_papers() < 60000


def cut_gzip(yymm: str, count: int) -> bytes:
    """``count`` records of about 1.5 kB, gzipped and cut at 80%: past the first MB
    sniffing reads, so the cut is found while importing."""
    lines = b"".join(
        json.dumps(
            {"id": f"{yymm}.{i:05d}", "title": f"Paper {i}", "abstract": f"word{i} " * 150}
        ).encode()
        + b"\n"
        for i in range(1, count + 1)
    )
    data = gzip.compress(lines, mtime=0)
    return data[: len(data) * 4 // 5]


def test_a_truncated_gzip_stores_every_record_read_before_the_cut_not_only_whole_batches(
    tmp_path, store
):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(cut_gzip("2505", 1500))  # fewer than one batch
    with pytest.raises(InputError) as err:
        import_files(store, [path])
    read = int(re.search(r"after line (\d+)", str(err.value))[1])
    assert 0 < read < 1500
    assert store.count_papers() == read
    assert str(err.value).endswith(
        f"; {read:,} records read before it are stored ({read:,} new, 0 updated, "
        "0 unchanged); import it again once it is whole"
    )


def test_a_truncated_gzip_after_a_whole_file_says_the_file_before_it_was_imported(tmp_path, store):
    papers = make_papers("2025-05", per_topic=2)
    whole = write_jsonl(tmp_path / "whole.jsonl", papers)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(cut_gzip("2506", 1500))
    with pytest.raises(InputError) as err:
        import_files(store, [whole, cut])
    assert str(err.value).endswith(f"; the 1 file before it was imported ({len(papers)} new)")


def test_closing_early_stops_the_helper_thread(tmp_path):
    lines = b"".join(
        json.dumps({"id": f"2505.{i:05d}", "title": "T", "abstract": "x" * 500}).encode() + b"\n"
        for i in range(20000)
    )
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress(lines, compresslevel=1))
    before = threading.active_count()
    records = iter_file(path)
    next(records)
    records.close()
    assert threading.active_count() == before


def test_background_gzip_reading_uses_bounded_memory(tmp_path):
    line = json.dumps({"id": "2505.00001", "title": "T", "abstract": "x" * 4000}) + "\n"
    path = tmp_path / "big.jsonl.gz"
    with gzip.open(path, "wt", compresslevel=1) as fh:
        for i in range(10_000):  # about 40 MB uncompressed
            fh.write(line.replace("00001", f"{i:05d}"))
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_file(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 10_000
    assert peak < 16_000_000


def test_the_background_reader_reports_corrupt_data_as_zlib_errors(tmp_path):
    path = tmp_path / "junk.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(6) + b"not deflate data at all" * 10)
    reader = _BackgroundGunzip(path)
    with pytest.raises(zlib.error):
        reader.read()
    reader.close()


# ------------------------------------------------------------------ month counts


def test_month_counts_follow_every_write_of_papers(store):
    store.upsert_papers(make_papers("2025-05", per_topic=2))
    assert store.month_counts() == {"2025-05": 10}
    store.upsert_papers(make_papers("2025-06", per_topic=1))
    assert store.month_counts() == {"2025-05": 10, "2025-06": 5}
    assert store.month_counts(by="announced") == {}


def test_month_counts_are_read_from_the_cache_until_papers_change(store):
    store.upsert_papers(make_papers("2025-05", per_topic=2))
    store.month_counts()
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    assert store.month_counts() == {"2025-05": 10}
    store.conn.set_trace_callback(None)
    assert not any("GROUP BY" in s for s in statements)


def test_month_counts_work_on_a_read_only_store(tmp_path):
    path = tmp_path / "store.sqlite3"
    with Store.open(path) as s:
        s.upsert_papers(make_papers("2025-05", per_topic=1))
    readonly = Store(sqlite3.connect(f"file:{path}?mode=ro", uri=True), str(path))
    assert readonly.month_counts() == {"2025-05": 5}
    readonly.close()


def test_an_import_restores_the_usual_checkpoint_interval(tmp_path, store):
    path = write_jsonl(tmp_path / "p.jsonl", make_papers("2025-05", per_topic=3))
    summary = import_files(store, [path], batch_size=4)
    assert summary.new == 15
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000


def test_bulk_writes_restore_the_checkpoint_interval_after_an_error(store):
    with pytest.raises(RuntimeError), store.bulk_writes():
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 10_000
        raise RuntimeError("import failed")
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000


@pytest.mark.parametrize(
    "authors",
    [[], ["Ada Lovelace"], ['Zoë "Q" O\'Neil\\', "李 小龍", "tab\tand\nnewline", "\u2028"]],
)
def test_authors_and_categories_are_stored_exactly_as_json_dumps_writes_them(store, authors):
    paper = dataclasses.replace(make_papers(per_topic=1)[0], authors=authors)
    store.upsert_papers([paper])
    stored = store.conn.execute(
        "SELECT authors, categories FROM papers WHERE id = ?", (paper.id,)
    ).fetchone()
    assert stored == (
        json.dumps(authors, ensure_ascii=False),
        json.dumps(paper.categories),
    )
    assert store.get_paper(paper.id) == paper
