"""File import: format sniffing, streaming JSON Lines, rejected records, batched upserts."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import tracemalloc
from collections.abc import Iterable
from pathlib import Path

import pytest

from arxiv_server import Listing, render_rss_listing
from trenddigest.errors import InputError
from trenddigest.models import Paper, current_month
from trenddigest.sources.files import (
    FileFormat,
    FileSummary,
    ImportSummary,
    Parsed,
    Rejected,
    import_files,
    iter_file,
    sniff_format,
)
from trenddigest.store import Store, UpsertCounts

FIXTURES = Path(__file__).parent / "fixtures"


class RecordingSink:
    """A store stand-in that remembers each batch (one call = one transaction)."""

    def __init__(self) -> None:
        self.batches: list[list[Paper]] = []

    def upsert_papers(self, papers: Iterable[Paper]) -> UpsertCounts:
        batch = list(papers)
        self.batches.append(batch)
        return UpsertCounts(new=len(batch))

    def get_paper(self, arxiv_id: str) -> Paper | None:
        return next((p for b in self.batches for p in b if p.id == arxiv_id), None)


@pytest.fixture
def store() -> Iterable[Store]:
    with Store.open(":memory:") as s:
        yield s


def gzipped_copy(src: Path, dest: Path) -> Path:
    dest.write_bytes(gzip.compress(src.read_bytes(), mtime=0))
    return dest


# ------------------------------------------------------------------ sniffing


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("papers.jsonl", FileFormat.JSONL),
        ("kaggle.jsonl", FileFormat.JSONL),
        ("api_page.xml", FileFormat.API_ATOM),
        ("api_page_legacy.xml", FileFormat.API_ATOM),
        ("api_error.xml", FileFormat.API_ATOM),
        ("listing_rss.xml", FileFormat.LISTING_RSS),
        ("listing_rss_empty.xml", FileFormat.LISTING_RSS),
        ("listing_atom.xml", FileFormat.LISTING_ATOM),
    ],
)
def test_format_is_sniffed_from_content(name: str, expected: FileFormat) -> None:
    assert sniff_format(FIXTURES / name) is expected


def test_unknown_format_raises_input_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("id,title\n2505.01001,Something\n")
    with pytest.raises(InputError, match="notes.txt: unrecognised format; expected arXiv API"):
        sniff_format(path)


def test_missing_file_raises_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read .*absent.jsonl"):
        list(iter_file(tmp_path / "absent.jsonl"))


def test_gzip_is_detected_by_magic_bytes_not_extension(tmp_path: Path) -> None:
    path = gzipped_copy(FIXTURES / "papers.jsonl", tmp_path / "papers.txt")
    assert list(iter_file(path)) == list(iter_file(FIXTURES / "papers.jsonl"))


def test_file_named_gz_but_not_compressed_is_read_as_is(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl.gz"
    shutil.copy(FIXTURES / "papers.jsonl", path)
    assert len([r for r in iter_file(path) if isinstance(r, Parsed)]) == 3


def test_gzipped_xml_is_sniffed_after_decompression(tmp_path: Path) -> None:
    path = gzipped_copy(FIXTURES / "listing_rss.xml", tmp_path / "feed.bin")
    assert sniff_format(path) is FileFormat.LISTING_RSS


# --------------------------------------------------------------- JSON Lines


def test_jsonl_bad_lines_are_rejected_with_their_line_numbers() -> None:
    rejected = [r for r in iter_file(FIXTURES / "papers.jsonl") if isinstance(r, Rejected)]
    assert [(r.line, r.reason.split(" (")[0]) for r in rejected] == [
        (3, "invalid JSON"),
        (4, "missing title"),
    ]


def test_rejected_record_reads_as_line_and_reason() -> None:
    assert str(Rejected(17, "invalid JSON")) == "line 17: invalid JSON"


def test_jsonl_good_lines_around_bad_ones_are_kept_and_blank_lines_skipped() -> None:
    parsed = [r for r in iter_file(FIXTURES / "papers.jsonl") if isinstance(r, Parsed)]
    assert [(r.line, r.paper.id) for r in parsed] == [
        (1, "2505.01001"),
        (2, "2505.01002"),
        (6, "2506.00005"),
    ]


def test_jsonl_line_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text('{"id": "2505.01001", "title": "T"}\n[1, 2]\n')
    assert list(iter_file(path))[1] == Rejected(2, "not a JSON object")


def test_jsonl_line_with_an_unterminated_string_names_its_column_once(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text('{"id": "2505.01001", "title": "T}')  # the last line, cut short
    assert list(iter_file(path)) == [
        Rejected(1, "invalid JSON (Unterminated string starting at column 31)")
    ]


def test_jsonl_line_that_is_not_utf8_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"id": "2505.01001", "title": "T"}\n{"id": "2505.01002", "title": "\xe9"}\n')
    assert list(iter_file(path))[1] == Rejected(2, "invalid JSON (not UTF-8)")


def test_kaggle_jsonl_file_yields_three_papers_including_old_style_id() -> None:
    records = list(iter_file(FIXTURES / "kaggle.jsonl"))
    assert [r.paper.id for r in records if isinstance(r, Parsed)] == [
        "2505.01001",
        "math/0601001",
        "0704.9999",
    ]


def test_truncated_gzip_raises_input_error(tmp_path: Path) -> None:
    data = b"".join(
        json.dumps({"id": f"2505.{i:05d}", "title": f"Paper {i}"}).encode() + b"\n"
        for i in range(1, 5001)
    )
    path = tmp_path / "cut.jsonl.gz"
    compressed = gzip.compress(data, mtime=0)
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(InputError, match="cannot read .*cut.jsonl.gz: .* ended"):
        list(iter_file(path))


def test_jsonl_is_streamed_in_constant_memory(tmp_path: Path) -> None:
    line = json.dumps({"id": "2505.00001", "title": "T", "abstract": "x" * 4000}) + "\n"
    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        for i in range(5_000):  # about 20 MB
            fh.write(line.replace("00001", f"{i:05d}"))
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_file(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 5_000
    assert peak < 4_000_000


# ------------------------------------------------------------ XML files


def test_api_file_records_are_numbered_by_entry() -> None:
    records = list(iter_file(FIXTURES / "api_page.xml"))
    assert [(type(r).__name__, r.line) for r in records] == [
        ("Parsed", 1),
        ("Parsed", 2),
        ("Parsed", 3),
        ("Rejected", 4),
    ]


def test_api_error_file_raises_input_error_with_arxiv_message() -> None:
    with pytest.raises(InputError, match="incorrect id format for not-an-id"):
        list(iter_file(FIXTURES / "api_error.xml"))


def test_truncated_api_file_raises_input_error() -> None:
    with pytest.raises(InputError, match="api_truncated.xml: malformed arXiv API response"):
        list(iter_file(FIXTURES / "api_truncated.xml"))


def test_listing_file_records_carry_their_announce_type() -> None:
    records = list(iter_file(FIXTURES / "listing_atom.xml"))
    assert [(r.line, r.announce_type) for r in records if isinstance(r, Parsed)] == [
        (1, "new"),
        (2, "replace-cross"),
    ]


def test_empty_weekend_feed_file_yields_nothing() -> None:
    assert list(iter_file(FIXTURES / "listing_rss_empty.xml")) == []


def test_truncated_listing_file_raises_input_error_naming_the_file(tmp_path: Path) -> None:
    body = (FIXTURES / "listing_rss.xml").read_bytes()
    path = tmp_path / "cut.xml"
    path.write_bytes(body[: len(body) // 2])
    with pytest.raises(InputError, match="cut.xml: malformed listing feed"):
        list(iter_file(path))


# ------------------------------------------------------ saved API responses


def recording(path: Path, body: str, status: int = 200) -> Path:
    """An API response saved with its request, pretty-printed like arxiv.py's fixtures."""
    url = "https://export.arxiv.org/api/query?search_query=cat:cs.CV&start=0&max_results=4"
    path.write_text(json.dumps({"url": url, "status_code": status, "body": body}, indent=2))
    return path


def test_a_saved_api_response_is_recognised_and_its_body_imported(tmp_path: Path) -> None:
    body = (FIXTURES / "api_page.xml").read_text(encoding="utf-8")
    path = recording(tmp_path / "page.json", body)
    assert sniff_format(path) is FileFormat.API_RECORDING
    from_recording = [r.paper for r in iter_file(path) if isinstance(r, Parsed)]
    from_xml = [r.paper for r in iter_file(FIXTURES / "api_page.xml") if isinstance(r, Parsed)]
    assert from_recording == from_xml and len(from_xml) >= 2


def test_a_saved_api_response_decoded_as_latin1_gets_its_accents_back(tmp_path: Path) -> None:
    body = (FIXTURES / "api_page.xml").read_text(encoding="utf-8")
    body = body.replace("Ada Example", "Ada Exämple")
    mangled = body.encode("utf-8").decode("latin-1")  # "ExÃ¤mple", as some recorders store it
    papers = [
        r.paper for r in iter_file(recording(tmp_path / "m.json", mangled)) if isinstance(r, Parsed)
    ]
    assert papers[0].authors[0] == "Ada Exämple"


def test_a_saved_api_response_with_correct_accents_is_kept_as_is(tmp_path: Path) -> None:
    body = (FIXTURES / "api_page.xml").read_text(encoding="utf-8")
    body = body.replace("Ada Example", "Ada Exämple")
    papers = [
        r.paper for r in iter_file(recording(tmp_path / "ok.json", body)) if isinstance(r, Parsed)
    ]
    assert papers[0].authors[0] == "Ada Exämple"


def test_a_saved_api_error_response_is_one_clear_error(tmp_path: Path) -> None:
    body = (FIXTURES / "api_error.xml").read_text(encoding="utf-8")
    path = recording(tmp_path / "error.json", body, status=400)
    with pytest.raises(InputError, match=r"error.json: arXiv API error feed: .*no papers in it"):
        list(iter_file(path))


def test_a_saved_api_response_on_one_line_is_recognised_and_its_body_imported(
    tmp_path: Path,
) -> None:
    # json.dump without indent, jq -c: one line, which is not JSON Lines of papers.
    body = (FIXTURES / "api_page.xml").read_text(encoding="utf-8")
    path = tmp_path / "page.json"
    url = "https://export.arxiv.org/api/query?search_query=cat:cs.CV&start=0&max_results=4"
    path.write_text(json.dumps({"url": url, "status_code": 200, "body": body}) + "\n")
    assert sniff_format(path) is FileFormat.API_RECORDING
    from_recording = [r.paper for r in iter_file(path) if isinstance(r, Parsed)]
    from_xml = [r.paper for r in iter_file(FIXTURES / "api_page.xml") if isinstance(r, Parsed)]
    assert from_recording == from_xml


@pytest.mark.parametrize(
    "keys",
    [
        ("method", "url", "status_code", "body"),
        ("body", "status_code", "url"),
        ("headers", "body"),
        ("request_id", "body"),  # 20 KB before the body: past the bytes sniffed
    ],
)
def test_a_saved_api_response_on_one_line_is_recognised_whatever_its_key_order(
    tmp_path: Path, keys: tuple[str, ...]
) -> None:
    body = (FIXTURES / "api_page.xml").read_text(encoding="utf-8")
    values = {
        "method": "GET",
        "url": "https://export.arxiv.org/api/query?search_query=cat:cs.CV",
        "status_code": 200,
        "headers": {"content-type": "application/atom+xml"},
        "request_id": "x" * 20_000,
        "body": body,
    }
    path = tmp_path / "page.json"
    path.write_text(json.dumps({key: values[key] for key in keys}) + "\n")
    assert sniff_format(path) is FileFormat.API_RECORDING
    from_recording = [r.paper for r in iter_file(path) if isinstance(r, Parsed)]
    from_xml = [r.paper for r in iter_file(FIXTURES / "api_page.xml") if isinstance(r, Parsed)]
    assert from_recording == from_xml


def test_a_saved_response_of_a_busy_arxiv_is_one_error_naming_its_status(tmp_path: Path) -> None:
    path = recording(tmp_path / "busy.json", "<html><body>Service unavailable</body></html>", 503)
    with pytest.raises(InputError) as info:
        list(iter_file(path))
    assert str(info.value) == (
        f"{path}: the saved response is HTTP 503, not a page of results; "
        "fetch the page again and save it once arXiv answers 200"
    )


def test_a_pretty_printed_json_document_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"id": "2505.01001", "title": "One record"}, indent=2))
    with pytest.raises(InputError) as info:
        sniff_format(path)
    assert str(info.value) == (
        f"{path}: one JSON document over several lines, not JSON Lines; "
        "write one JSON object per line (e.g. jq -c . FILE)"
    )


def test_json_lines_with_a_broken_first_line_are_still_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "broken-first.jsonl"
    good = json.dumps({"id": "2505.01001", "title": "Kept"})
    path.write_text('{"id": "2505.0\n' + good + "\n")
    records = list(iter_file(path))
    assert isinstance(records[0], Rejected) and records[0].line == 1
    assert isinstance(records[1], Parsed) and records[1].paper.title == "Kept"


def test_an_empty_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(gzip.compress(b"\n"))
    with pytest.raises(InputError) as info:
        sniff_format(path)
    assert str(info.value) == f"{path}: the file is empty; nothing to import"


def test_a_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        sniff_format(tmp_path)
    assert str(info.value) == (
        f"cannot read {tmp_path}: it is a folder; name the files in it, e.g. {tmp_path}/*.jsonl.gz"
    )


# ------------------------------------------------------------------ import


def test_a_broken_feed_among_the_files_fails_the_import_before_anything_is_written(
    tmp_path: Path,
) -> None:
    body = (FIXTURES / "listing_rss.xml").read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(body[: len(body) // 2])
    sink = RecordingSink()
    with pytest.raises(InputError, match="cut.xml: malformed listing feed"):
        import_files(sink, [FIXTURES / "papers.jsonl", FIXTURES / "listing_rss.xml", cut])
    assert sink.batches == []


def test_import_counts_new_papers_and_rejections(store: Store) -> None:
    summary = import_files(store, [FIXTURES / "papers.jsonl"])
    assert (summary.new, summary.updated, summary.unchanged, summary.rejected_count) == (3, 0, 0, 2)


def test_reimporting_the_same_file_changes_nothing(store: Store) -> None:
    import_files(store, [FIXTURES / "papers.jsonl"])
    summary = import_files(store, [FIXTURES / "papers.jsonl"])
    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 3)


def test_import_lists_rejections_with_file_and_line(store: Store) -> None:
    summary = import_files(store, [FIXTURES / "papers.jsonl"])
    assert [(Path(r.file).name, r.line) for r in summary.rejected] == [
        ("papers.jsonl", 3),
        ("papers.jsonl", 4),
    ]
    assert str(summary.rejected[1]).endswith("papers.jsonl: line 4: missing title")


def test_import_reports_per_file_and_total_counts(store: Store) -> None:
    summary = import_files(store, [FIXTURES / "papers.jsonl", FIXTURES / "kaggle.jsonl"])
    assert [(f.format, f.new, f.updated, f.rejected) for f in summary.files] == [
        ("JSON Lines", 3, 0, 2),
        ("JSON Lines", 2, 1, 0),  # 2505.01001 is in both files, v2 in the Kaggle one
    ]
    assert summary.describe() == "2 files: 5 new, 1 updated, 0 unchanged, 2 rejected"


def test_import_writes_one_batch_per_batch_size() -> None:
    sink = RecordingSink()
    import_files(sink, [FIXTURES / "papers.jsonl", FIXTURES / "kaggle.jsonl"], batch_size=2)
    assert [len(b) for b in sink.batches] == [2, 1, 2, 1]


def test_import_checks_every_file_before_writing(tmp_path: Path) -> None:
    sink = RecordingSink()
    bad = tmp_path / "notes.txt"
    bad.write_text("not arXiv data\n")
    with pytest.raises(InputError, match="unrecognised format"):
        import_files(sink, [FIXTURES / "papers.jsonl", bad])
    assert sink.batches == []


def test_import_reports_progress_after_each_batch() -> None:
    seen: list[int] = []

    def progress(file_summary: FileSummary) -> None:
        seen.append(file_summary.read)

    import_files(RecordingSink(), [FIXTURES / "kaggle.jsonl"], batch_size=2, on_progress=progress)
    assert seen == [2, 3]


def test_import_stores_announce_date_from_listing_feed(store: Store) -> None:
    import_files(store, [FIXTURES / "listing_rss.xml"])
    stored = store.get_paper("2505.01001")
    assert stored is not None and stored.announced == "2025-05-14"


def test_a_listing_import_skips_new_versions_of_papers_not_stored_as_the_poll_does(
    store: Store,
) -> None:
    summary = import_files(store, [FIXTURES / "listing_rss.xml"])
    assert (summary.new, summary.files[0].skipped) == (2, 2)
    assert store.get_paper("2504.00003") is None and store.get_paper("2409.00004") is None
    assert summary.describe() == (
        "1 file: 2 new, 0 updated, 0 unchanged, 0 rejected, 2 new versions of papers not "
        "stored, skipped"
    )


def test_a_listing_import_takes_the_new_version_of_a_stored_paper(store: Store) -> None:
    store.upsert_papers([Paper("2504.00003", "An older title", published="2025-04-02")])
    summary = import_files(store, [FIXTURES / "listing_rss.xml"])
    assert (summary.new, summary.updated, summary.files[0].skipped) == (2, 1, 1)
    stored = store.get_paper("2504.00003")
    assert stored is not None and stored.version == 2


def test_report_lines_name_each_file_and_the_total(store: Store) -> None:
    summary = import_files(store, [FIXTURES / "papers.jsonl"])
    lines = summary.report_lines()
    assert lines[0].endswith("papers.jsonl (JSON Lines): 3 new, 0 updated, 0 unchanged, 2 rejected")
    assert lines[-1] == "total 1 file: 3 new, 0 updated, 0 unchanged, 2 rejected"


def test_import_rejects_an_impossible_id_with_its_line_and_reason(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"id": "2505.10001", "title": "T"}\n{"id": "2513.12345", "title": "T"}\n')
    summary = import_files(store, [path])
    assert (summary.new, summary.rejected_count) == (1, 1)
    assert str(summary.rejected[0]) == (
        f"{path}: line 2: bad id '2513.12345': month 13 in YYMM 2513 does not exist"
    )


def test_an_impossible_id_never_reaches_the_store(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"id": "2513.12345", "title": "T"}\n{"id": "9999.99999", "title": "T"}\n')
    import_files(store, [path])
    assert store.count_papers() == 0


def test_import_rejects_every_id_arxiv_cannot_have_issued_each_with_its_line_and_reason(
    tmp_path: Path, store: Store
) -> None:
    ids = [
        "2611.00001",  # the current month: kept
        "9107.00001",
        "3001.00001",
        "2612.00001",
        "2505.0001",
        "2505.99999v0",
        "foo/0601001",
    ]
    path = write_jsonl(
        tmp_path / "b.jsonl", [{"id": i, "title": "T", "abstract": "a"} for i in ids]
    )
    summary = import_files(store, [path], latest="2026-11")
    future = "after the current month (November 2026): arXiv has issued no such id yet"
    assert [str(r) for r in summary.rejected] == [
        f"{path}: line 2: bad id '9107.00001': YYMM 9107 is July 2091, {future}",
        f"{path}: line 3: bad id '3001.00001': YYMM 3001 is January 2030, {future}",
        f"{path}: line 4: bad id '2612.00001': YYMM 2612 is December 2026, {future}",
        f"{path}: line 5: bad id '2505.0001': YYMM 2505 takes a 5-digit number, as in "
        "2505.00001: 4-digit numbers ended at 1412, December 2014",
        f"{path}: line 6: bad id '2505.99999v0': version v0 does not exist: versions start at v1",
        f"{path}: line 7: bad id 'foo/0601001': archive 'foo' is not an arXiv archive: "
        "old-style ids begin with one such as math, hep-th or cond-mat, as in math/0601001",
    ]
    assert store.month_counts() == {"2026-11": 1}


def test_an_import_reads_the_current_month_from_the_clock_by_default(
    tmp_path: Path, store: Store
) -> None:
    too_late = current_month().shift(1)
    path = write_jsonl(tmp_path / "b.jsonl", [{"id": f"{too_late.yymm}.00001", "title": "T"}])
    summary = import_files(store, [path])
    assert (summary.new, summary.rejected_count) == (0, 1)


def test_an_api_page_import_rejects_an_entry_after_the_current_month(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "page.xml"
    path.write_bytes((FIXTURES / "api_page.xml").read_bytes().replace(b"2505.01002", b"2506.01002"))
    summary = import_files(store, [path], latest="2025-05")
    assert [str(r) for r in summary.rejected] == [
        f"{path}: entry 2 (http://arxiv.org/abs/2506.01002v1): bad id "
        "'http://arxiv.org/abs/2506.01002v1': YYMM 2506 is June 2025, after the current "
        "month (May 2025): arXiv has issued no such id yet",
        f"{path}: entry 4 (http://arxiv.org/abs/2505.01004v1): missing <published>",
    ]


def test_a_listing_feed_import_rejects_an_item_after_the_current_month(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(
        (FIXTURES / "listing_rss.xml").read_bytes().replace(b"2505.01002", b"2506.01002")
    )
    summary = import_files(store, [path], latest="2025-05")
    assert [str(r) for r in summary.rejected] == [
        f"{path}: item 2 (oai:arXiv.org:2506.01002v1): bad id "
        "'oai:arXiv.org:2506.01002v1': YYMM 2506 is June 2025, after the current month "
        "(May 2025): arXiv has issued no such id yet"
    ]


def test_an_api_entry_without_an_id_is_named_by_its_entry_number(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "page.xml"
    body = (FIXTURES / "api_page.xml").read_text(encoding="utf-8")
    path.write_text(body.replace("<id>http://arxiv.org/abs/2505.01002v1</id>", ""))
    summary = import_files(store, [path], latest="2025-05")
    assert [str(r) for r in summary.rejected][0] == f"{path}: entry 2: missing <id>"


def test_a_listing_item_without_a_guid_or_link_is_named_by_its_item_number(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "feed.xml"
    body = (FIXTURES / "listing_rss.xml").read_text(encoding="utf-8")
    body = body.replace('<guid isPermaLink="false">oai:arXiv.org:2505.01002v1</guid>', "")
    path.write_text(body.replace("<link>https://arxiv.org/abs/2505.01002</link>", ""))
    summary = import_files(store, [path], latest="2025-05")
    assert [str(r) for r in summary.rejected] == [f"{path}: item 2: no arXiv id in guid/link None"]


def test_a_rejected_entry_reads_as_its_number_its_id_and_the_reason() -> None:
    rejected = Rejected(4, "missing <published>", unit="entry", ref="http://arxiv.org/abs/x")
    assert str(rejected) == "entry 4 (http://arxiv.org/abs/x): missing <published>"


def test_importing_an_api_page_logs_each_skipped_entry_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        summary = import_files(store, [FIXTURES / "api_page.xml"])
    assert summary.rejected_count == 1
    assert [r.getMessage() for r in caplog.records if "2505.01004" in r.getMessage()] == [
        "skipped an arXiv API entry: missing <published> (http://arxiv.org/abs/2505.01004v1)"
    ]


# ----------------------------------------------- papers repeated within a file


def write_jsonl(path: Path, records: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_a_record_with_an_authors_parsed_entry_that_is_not_text_is_rejected_alone(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "kaggle.jsonl"
    versions = [{"version": "v1", "created": "Fri, 2 May 2025 17:59:01 GMT"}]
    records = [
        {"id": "2505.00001", "title": "T", "versions": versions, "authors_parsed": [["Ex", 1, ""]]},
        {"id": "2505.00002", "title": "T", "versions": versions, "authors_parsed": [["Ex", ["A"]]]},
        {"id": "2505.00003", "title": "Kept", "versions": versions},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = import_files(store, [path], latest="2026-11")
    bad = "bad authors_parsed entry 1: expected [last name, first names, suffix] as text"
    assert [str(r) for r in summary.rejected] == [
        f"{path}: line 1: {bad}",
        f"{path}: line 2: {bad}",
    ]
    assert (summary.new, store.count_papers()) == (1, 1)


def test_a_first_seen_that_is_no_date_does_not_become_the_stored_announce_date(
    tmp_path: Path, store: Store
) -> None:
    # Stored, "06/02/2025" sorted before every real date: the store keeps the earliest
    # announce date, so the real one imported later never replaced it.
    record = {"id": "2505.00001", "title": "T", "categories": ["cs.CV"]}
    import_files(
        store, [write_jsonl(tmp_path / "a.jsonl", [{**record, "first_seen": "06/02/2025"}])]
    )
    import_files(
        store, [write_jsonl(tmp_path / "b.jsonl", [{**record, "first_seen": "2025-06-02"}])]
    )
    paper = store.get_paper("2505.00001")
    assert paper is not None and paper.announced == "2025-06-02"
    assert store.month_counts("announced") == {"2025-06": 1}


def test_a_first_seen_before_the_papers_id_gives_way_to_the_right_date_imported_later(
    tmp_path: Path, store: Store
) -> None:
    # Kept, the typo'd year would have stayed for good: the store keeps the earliest.
    record = {"id": "2505.00001", "title": "T", "categories": ["cs.CV"]}
    import_files(
        store, [write_jsonl(tmp_path / "a.jsonl", [{**record, "first_seen": "2015-05-05"}])]
    )
    import_files(
        store, [write_jsonl(tmp_path / "b.jsonl", [{**record, "first_seen": "2025-05-05"}])]
    )
    paper = store.get_paper("2505.00001")
    assert paper is not None and paper.announced == "2025-05-05"
    assert store.month_counts("announced") == {"2025-05": 1}


def test_every_record_of_a_file_with_repeats_is_counted(tmp_path: Path, store: Store) -> None:
    papers = [{"id": f"2505.1000{n}", "title": f"Paper {n}"} for n in range(1, 6)]
    path = write_jsonl(
        tmp_path / "repeats.jsonl",
        [
            *papers,
            papers[0],  # the same record again
            {"id": "2505.10006v1", "title": "First version"},
            {"id": "2505.10006v2", "title": "Second version"},
            {"title": "no id"},
        ],
    )
    summary = import_files(store, [path])
    assert summary.report_lines()[0] == (
        f"{path} (JSON Lines): 6 new, 1 updated, 1 unchanged, 1 rejected"
    )


def test_a_record_repeated_in_a_file_counts_as_unchanged(tmp_path: Path, store: Store) -> None:
    record = {"id": "2505.10001", "title": "Paper"}
    summary = import_files(store, [write_jsonl(tmp_path / "r.jsonl", [record, record])])
    assert (summary.new, summary.updated, summary.unchanged) == (1, 0, 1)


def test_v1_then_v2_in_one_file_counts_v2_as_updated_and_keeps_it(
    tmp_path: Path, store: Store
) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [{"id": "2505.10006v1", "title": "First"}, {"id": "2505.10006v2", "title": "Second"}],
    )
    summary = import_files(store, [path])
    stored = store.get_paper("2505.10006")
    assert (summary.new, summary.updated, summary.unchanged) == (1, 1, 0)
    assert stored is not None and (stored.version, stored.title) == (2, "Second")


def test_v2_then_v1_in_one_file_keeps_v2_and_counts_v1_as_unchanged(
    tmp_path: Path, store: Store
) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [{"id": "2505.10006v2", "title": "Second"}, {"id": "2505.10006v1", "title": "First"}],
    )
    summary = import_files(store, [path])
    stored = store.get_paper("2505.10006")
    assert (summary.new, summary.updated, summary.unchanged) == (1, 0, 1)
    assert stored is not None and (stored.version, stored.title) == (2, "Second")


def test_repeats_count_the_same_within_one_batch_as_across_batches(
    tmp_path: Path, store: Store
) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [
            {"id": "2505.10001", "title": "Paper"},
            {"id": "2505.10006v1", "title": "First"},
            {"id": "2505.10001", "title": "Paper"},
            {"id": "2505.10006v2", "title": "Second"},
            {"id": "2505.10006v2", "title": "Second"},
        ],
    )
    with Store.open(":memory:") as apart:
        one_by_one = import_files(apart, [path], batch_size=1)
    together = import_files(store, [path], batch_size=100)
    counts = [(s.new, s.updated, s.unchanged) for s in (one_by_one, together)]
    assert counts == [(2, 1, 2), (2, 1, 2)]


def test_a_corrected_record_of_the_same_version_later_in_a_file_replaces_the_earlier(
    tmp_path: Path, store: Store
) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [
            {"id": "2505.10001", "title": "Sparse Veiw"},
            {"id": "2505.10001", "title": "Sparse View"},
        ],
    )
    summary = import_files(store, [path])
    stored = store.get_paper("2505.10001")
    assert (summary.new, summary.updated, summary.unchanged) == (1, 1, 0)
    assert stored is not None and (stored.version, stored.title) == (1, "Sparse View")


def test_a_corrected_record_of_the_same_version_in_a_later_import_replaces_the_stored_one(
    tmp_path: Path, store: Store
) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [{"id": "2505.10001", "title": "Sparse Veiw"}])
    second = write_jsonl(tmp_path / "b.jsonl", [{"id": "2505.10001", "title": "Sparse View"}])
    import_files(store, [first])
    summary = import_files(store, [second])
    stored = store.get_paper("2505.10001")
    assert (summary.new, summary.updated, summary.unchanged) == (0, 1, 0)
    assert stored is not None and stored.title == "Sparse View"


def test_a_corrected_record_counts_the_same_within_one_batch_as_across_batches(
    tmp_path: Path, store: Store
) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [
            {"id": "2505.10001", "title": "Sparse Veiw"},
            {"id": "2505.10002", "title": "Other"},
            {"id": "2505.10001", "title": "Sparse View"},
        ],
    )
    with Store.open(":memory:") as apart:
        one_by_one = import_files(apart, [path], batch_size=1)
        kept_apart = apart.get_paper("2505.10001")
    together = import_files(store, [path], batch_size=100)
    kept_together = store.get_paper("2505.10001")
    counts = [(s.new, s.updated, s.unchanged) for s in (one_by_one, together)]
    assert counts == [(2, 1, 0), (2, 1, 0)]
    assert kept_apart is not None and kept_together is not None
    assert kept_apart.title == kept_together.title == "Sparse View"


# ----------------------------------------------------------------- comments

WITHDRAWN = "This paper has been withdrawn by the author"


def kaggle_v3() -> dict[str, object]:
    """A Kaggle snapshot record of a paper's third version."""
    created = [
        "Fri, 2 May 2025 10:00:00 GMT",
        "Sun, 1 Jun 2025 10:00:00 GMT",
        "Tue, 1 Jul 2025 10:00:00 GMT",
    ]
    versions = [{"version": f"v{n}", "created": c} for n, c in enumerate(created, start=1)]
    return {"id": "2505.10001", "title": "Paper", "versions": versions, "update_date": "2025-07-02"}


def import_v2_withdrawn_then(
    tmp_path: Path, store: Store, v3: dict[str, object]
) -> tuple[ImportSummary, Paper | None]:
    """Import a withdrawn v2 of a paper, then ``v3`` in a second file: the second
    import's summary and the stored paper."""
    v2 = {"id": "2505.10001v2", "title": "Paper", "comment": WITHDRAWN}
    import_files(store, [write_jsonl(tmp_path / "v2.jsonl", [v2])])
    summary = import_files(store, [write_jsonl(tmp_path / "v3.jsonl", [v3])])
    return summary, store.get_paper("2505.10001")


@pytest.mark.parametrize(
    "v3",
    [
        {"id": "2505.10001v3", "title": "Paper", "comment": ""},
        {"id": "2505.10001v3", "title": "Paper", "comment": None},
        {**kaggle_v3(), "comments": None},
    ],
    ids=["empty comment", "null comment", "Kaggle null comments"],
)
def test_a_newer_version_in_a_file_stating_no_comment_clears_the_stored_one(
    tmp_path: Path, store: Store, v3: dict[str, object]
) -> None:
    # Both real formats write the key for every paper, null for none (see the real-data
    # test below), so a present key is an answer: the withdrawal of v2 is over.
    summary, stored = import_v2_withdrawn_then(tmp_path, store, v3)
    assert (summary.new, summary.updated, summary.unchanged) == (0, 1, 0)
    assert stored is not None and (stored.version, stored.comment) == (3, "")
    assert not stored.withdrawn


@pytest.mark.parametrize(
    "v3",
    [{"id": "2505.10001v3", "title": "Paper"}, kaggle_v3()],
    ids=["crawl-style", "Kaggle-style"],
)
def test_a_newer_version_in_a_file_without_a_comment_key_keeps_the_stored_comment(
    tmp_path: Path, store: Store, v3: dict[str, object]
) -> None:
    summary, stored = import_v2_withdrawn_then(tmp_path, store, v3)
    assert (summary.new, summary.updated, summary.unchanged) == (0, 1, 0)
    assert stored is not None and (stored.version, stored.comment) == (3, WITHDRAWN)


def test_a_file_restating_a_stored_version_without_its_comment_counts_as_unchanged(
    tmp_path: Path, store: Store
) -> None:
    import_files(store, [FIXTURES / "api_page.xml"])  # 2505.01001v2, "12 pages, ..."
    title = "Synthetic Lattice Priors for Sparse-View Reconstruction"
    again = [
        {"id": "2505.01001v2", "title": title, "comment": None},
        {"id": "2505.01001v2", "title": title},
    ]
    summary = import_files(store, [write_jsonl(tmp_path / "again.jsonl", again)])
    stored = store.get_paper("2505.01001")
    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 2)
    assert stored is not None and stored.comment == "12 pages, 4 figures (synthetic)"


# ------------------------------------------------ real data in ../shared


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "without"),
    [
        ("daily-arxiv-ai-enhanced/derived/papers_2025-04_to_2025-07.derived.jsonl.gz", 10_325),
        ("arxiv-browse/abs-0704/papers_0704.derived.jsonl.gz", 99),
    ],
    ids=["crawl", "abs files"],
)
def test_every_record_of_the_real_files_states_its_comment(
    shared_dir: Path, name: str, without: int
) -> None:
    # What makes a present key with null an answer: real files write it for every
    # paper, null where the paper has no comment.
    comments = [
        r.paper.comment
        for r in iter_file(shared_dir / "data/arxiv" / name)
        if isinstance(r, Parsed)
    ]
    assert None not in comments
    assert comments.count("") == without


@pytest.mark.shared
def test_real_shared_jsonl_file_parses_every_record(shared_dir: Path) -> None:
    path = (
        shared_dir
        / "data/arxiv/daily-arxiv-ai-enhanced/derived/papers_2025-04_to_2025-07.derived.jsonl.gz"
    )
    parsed = rejected = 0
    relisted = []  # first seen 3 or more months after their id's month: not announced then
    for record in iter_file(path):
        if isinstance(record, Parsed):
            parsed += 1
            assert record.paper.primary_category
            if not record.paper.announced:
                relisted.append(record.paper.id)
        else:
            rejected += 1
    assert (parsed, rejected) == (19_682, 0)
    assert len(relisted) == 14 and all(pid < "2505" for pid in relisted)


@pytest.mark.shared
def test_real_saved_api_responses_import_with_their_accents_repaired(
    shared_dir: Path, store: Store
) -> None:
    folder = shared_dir / "data/arxiv/arxivpy-fixtures/api-json"
    paths = sorted(p for p in folder.glob("*.json") if not p.name.startswith("id_abc"))
    summary = import_files(store, paths)
    assert {f.format for f in summary.files} == {FileFormat.API_RECORDING.value}
    assert (summary.new, summary.rejected_count) == (105, 0)
    assert summary.new + summary.unchanged == 221  # the entries of all recorded pages
    assert import_files(store, paths).new == 0
    paper = store.get_paper("gr-qc/0103067")
    assert paper is not None and "C. Lämmerzahl" in paper.authors


@pytest.mark.shared
def test_real_saved_api_error_response_is_one_clear_error(shared_dir: Path, store: Store) -> None:
    [path] = (shared_dir / "data/arxiv/arxivpy-fixtures/api-json").glob("id_abc_*.json")
    with pytest.raises(InputError, match="arXiv API error feed: incorrect id format for abc"):
        import_files(store, [path])
    assert store.count_papers() == 0


@pytest.mark.shared
def test_real_recorded_legacy_api_file_imports(shared_dir: Path, store: Store) -> None:
    path = shared_dir / "data/arxiv/arxivpy-fixtures/api-xml-legacy/search_query_au_del_maestro.xml"
    summary = import_files(store, [path])
    assert (summary.new, summary.rejected_count) == (10, 0)


# F2: _stray_version's batch.holds: a replacement of a paper announced earlier in the
# same import (still in the unwritten batch) is taken, not skipped as a stray.
def test_a_listing_import_takes_a_new_version_of_a_paper_announced_earlier_in_it(
    tmp_path: Path, store: Store
) -> None:
    # The fixture's "replace" item (v2) now updates the paper its first item announces.
    text = (FIXTURES / "listing_rss.xml").read_text(encoding="utf-8")
    listing = tmp_path / "listing.xml"
    listing.write_text(text.replace("2504.00003", "2505.01001"), encoding="utf-8")
    summary = import_files(store, [listing])
    assert summary.files[0].skipped == 1  # only 2409.00004, a paper the store lacks
    assert summary.files[0].skipped_note == ", 1 new version of a paper not stored, skipped"
    stored = store.get_paper("2505.01001")
    assert stored is not None and stored.version == 2


# F4: report_lines name each file's skipped new versions (what `trenddigest import` prints).
def test_report_lines_name_the_new_versions_each_listing_file_skipped(store: Store) -> None:
    summary = import_files(store, [FIXTURES / "listing_rss.xml"])
    assert summary.report_lines()[0].endswith(
        "listing_rss.xml (listing RSS): 2 new, 0 updated, 0 unchanged, 0 rejected, "
        "2 new versions of papers not stored, skipped"
    )


def test_import_counts_are_written_with_thousands_separators_as_the_digest_line_is() -> None:
    summary = ImportSummary(files=[FileSummary("big.jsonl.gz", "jsonl", new=20153, rejected=1200)])
    assert summary.describe() == "1 file: 20,153 new, 0 updated, 0 unchanged, 1,200 rejected"
    assert summary.report_lines()[0] == (
        "big.jsonl.gz (jsonl): 20,153 new, 0 updated, 0 unchanged, 1,200 rejected"
    )


def test_an_imported_feed_item_of_no_announce_type_with_a_later_version_is_skipped(
    tmp_path: Path, store: Store
) -> None:
    fields = {"title": "T", "abstract": "A", "categories": ["cs.CV"], "authors": ["A B"]}
    listing = Listing(
        "2025-05-14",
        [
            {"id": "2401.00077", "type": "", "version": 3, **fields},
            {"id": "2505.00107", "type": "new", "version": 1, **fields},
        ],
    )
    path = tmp_path / "cs.CV.rss"
    path.write_bytes(render_rss_listing("cs.CV", listing, {}))
    summary = import_files(store, [path], latest="2025-05")
    assert (summary.new, summary.files[0].skipped) == (1, 1)
    assert store.get_paper("2401.00077") is None
