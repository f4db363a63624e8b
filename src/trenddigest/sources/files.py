"""Importing arXiv metadata from local files: sniff, stream, parse, store in batches.

Files come from users (a Kaggle snapshot of several GB, a saved API page, a feed
downloaded by hand), so the importer trusts neither extensions nor content: gzip is
detected by its magic bytes, the format by the first bytes, and one bad record costs
one record, never the file.  JSON Lines are streamed line by line so memory stays
flat whatever the file size.  An API page saved as JSON together with its request
(``{"url", "status_code", "body"}``, the way recorders keep responses) is imported
from its body.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import gzip
import io
import json
import logging
import os
import queue
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from ..errors import InputError
from ..models import Month, Paper, latest_month
from .parse import _parse_api, _parse_listing, announces_a_new_version, parse_jsonl_record

logger = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 16 * 1024
_LEADING_NOISE = b"\xef\xbb\xbf \t\r\n"  # a UTF-8 byte order mark and blank space
# A JSON document spread over several lines (not JSON Lines) is read whole to see what
# it is; anything larger is taken for JSON Lines with a broken first line.
_MAX_JSON_DOCUMENT = 64 * 1024 * 1024
_READ_BUFFER = 1024 * 1024
# The longest JSON Lines record read: the largest arXiv records (collaborations with
# thousands of authors) are a few hundred KB, so a longer line is a corrupt or foreign
# file, and reading it whole (a gzip of zeros inflates to GBs) would exhaust memory.
MAX_LINE_BYTES = 16 * 1024 * 1024
# The largest API page or listing feed read: they are read whole and parsed as one
# tree, and the largest real ones (2,000 API results, a busy day of cs.LG) are a few MB.
MAX_XML_BYTES = 64 * 1024 * 1024
# Rejections kept per file for the report; the counts stay exact beyond this, the
# cap only stops a file of garbage from filling memory with reasons.
MAX_REJECTED_KEPT = 1000
# What a file none of whose records could be read should have been.
READABLE_FORMATS = (
    "trenddigest reads arXiv API Atom, listing RSS/Atom and JSON Lines with an id per record"
)


class FileFormat(enum.Enum):
    """What :func:`sniff_format` recognised."""

    JSONL = "JSON Lines"
    API_ATOM = "arXiv API Atom"
    # {"url": ..., "status_code": ..., "body": "<feed ...>"}: an API response saved with
    # its request, as the arxiv package's test recordings (and many scrapers) keep them.
    API_RECORDING = "arXiv API response saved as JSON"
    LISTING_RSS = "listing RSS"
    LISTING_ATOM = "listing Atom"


@dataclass(slots=True)
class Parsed:
    """A paper read from a file, with the line (JSONL), entry (API page) or item (feed)
    number it came from."""

    line: int
    paper: Paper
    announce_type: str | None = None


def _locate(unit: str, number: int, ref: str) -> str:
    """Where a rejection is: "line 3", "entry 2 (http://arxiv.org/abs/2505.01002v1)"."""
    return f"{unit} {number} ({ref})" if ref else f"{unit} {number}"


@dataclass(slots=True)
class Rejected:
    """A record that could not be used; the rest of the file is still read.

    ``line`` counts what ``unit`` names: lines of JSON Lines, ``"entry"`` of an API
    page, ``"item"`` of a listing feed (a whole page can sit on one line); ``ref`` is
    the entry's or item's id as the file gives it, when it has one.
    """

    line: int
    reason: str
    unit: str = "line"
    ref: str = ""

    def __str__(self) -> str:
        return f"{_locate(self.unit, self.line, self.ref)}: {self.reason}"


Record = Parsed | Rejected


def _open(path: Path, *, background: bool = False) -> IO[bytes]:
    """Open for binary reading, gunzipping when the content (not the name) says gzip.

    ``background=True`` inflates in a helper thread (:class:`_BackgroundGunzip`), for
    the long sequential reads of a bulk import.
    """
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic != _GZIP_MAGIC:
        return open(path, "rb", buffering=_READ_BUFFER)
    if background:
        return io.BufferedReader(_BackgroundGunzip(path), buffer_size=_READ_BUFFER)
    # GzipFile's own line reading is slow; a large C buffer in front halves it.
    return io.BufferedReader(gzip.open(path, "rb"), buffer_size=_READ_BUFFER)


# Compressed bytes per zlib call and the most one call may produce: big enough that
# the helper thread takes the GIL rarely, small enough that memory stays flat.
_INFLATE_IN = 256 * 1024
_INFLATE_OUT = 1024 * 1024
_INFLATE_QUEUE = 8


def _inflate(stream: IO[bytes]) -> Iterator[bytes]:
    """The uncompressed bytes of a gzip stream (all members), checked like ``gzip``.

    zlib in gzip mode (``wbits=31``) reads the header and verifies each member's CRC
    and length; zero padding between members is skipped as ``gzip`` does.
    """
    decomp = zlib.decompressobj(31)
    in_member = False
    while data := stream.read(_INFLATE_IN):
        while data:
            if not in_member:
                data = data.lstrip(b"\0")
                if not data:
                    break
                in_member = True
            out = decomp.decompress(data, _INFLATE_OUT)
            if out:
                yield out
            if decomp.eof:
                data = decomp.unused_data
                decomp = zlib.decompressobj(31)
                in_member = False
            else:
                data = decomp.unconsumed_tail
    if in_member:
        while out := decomp.decompress(decomp.unconsumed_tail, _INFLATE_OUT):
            yield out
        if not decomp.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")


class _BackgroundGunzip(io.RawIOBase):
    """A gzip file inflated by a helper thread while the caller parses.

    zlib releases the GIL while it inflates, so on two cores decompression (about a
    third of a JSON Lines import) overlaps with parsing instead of adding to it.
    Errors (truncated or corrupt files) are raised in the reading thread, as
    ``gzip`` would raise them.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(_INFLATE_QUEUE)
        self._stop = threading.Event()
        self._pending = memoryview(b"")
        self._finished = False
        stream = open(path, "rb")  # noqa: SIM115 - closed by the helper thread
        self._thread = threading.Thread(
            target=self._run, args=(stream,), name=f"gunzip {path.name}", daemon=True
        )
        self._thread.start()

    def _put(self, item: bytes | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._chunks.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, stream: IO[bytes]) -> None:
        try:
            with stream:
                for chunk in _inflate(stream):
                    if not self._put(chunk):
                        return
            self._put(None)
        except BaseException as exc:  # handed to the reader, who raises it
            self._put(exc)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._finished:
                return 0
            item = self._chunks.get()
            if item is None or isinstance(item, BaseException):
                self._finished = True
                if item is None:
                    return 0
                raise item
            self._pending = memoryview(item)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._stop.set()
            while self._thread.is_alive():
                with contextlib.suppress(queue.Empty):
                    self._chunks.get(timeout=0.05)
            self._pending = memoryview(b"")
        super().close()


def _unreadable(path: Path, exc: BaseException) -> InputError:
    detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return InputError(f"cannot read {path}: {detail}")


def _classify(head: bytes) -> FileFormat | None:
    head = head.lstrip(_LEADING_NOISE)
    if head.startswith(b"{"):
        return FileFormat.JSONL
    if not head.startswith(b"<"):
        return None
    if b"<rss" in head:
        return FileFormat.LISTING_RSS
    if b"<feed" in head:
        # Decide on the feed header only: an abstract may mention anything.
        preamble = head.split(b"<entry", 1)[0]
        if b"opensearch" in preamble or b"arxiv.org/api/" in preamble:
            return FileFormat.API_ATOM
        if b"arxiv.org/schemas/atom" in preamble or b"rss.arxiv.org" in preamble:
            return FileFormat.LISTING_ATOM
    return None


def sniff_format(path: str | os.PathLike[str]) -> FileFormat:
    """Recognise a file's format from its first bytes (after gunzipping).

    Raises :class:`InputError` for an unreadable, empty or unrecognised file, so an
    import can check every file before writing anything.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(
            f"cannot read {p}: it is a folder; name the files in it, e.g. {p}/*.jsonl.gz"
        )
    try:
        with _open(p) as stream:
            head = stream.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise _unreadable(p, exc) from exc
    if not head.strip(_LEADING_NOISE):
        raise InputError(f"{p}: the file is empty; nothing to import")
    fmt = _classify(head)
    if fmt is None:
        raise InputError(
            f"{p}: unrecognised format; expected arXiv API Atom, listing RSS/Atom or "
            "JSON Lines (optionally gzipped)"
        )
    if fmt is FileFormat.JSONL and _json_document(p, head) is not None:
        return FileFormat.API_RECORDING
    return fmt


def _json_document(path: Path, head: bytes) -> dict[str, Any] | None:
    """The file as one JSON object when it is a pretty-printed document, not JSON Lines.

    Only the first line decides cheaply: a JSON Lines file starts with a complete
    object.  When it does not and the whole file parses as one object, that object is
    an API recording (``body`` holds the Atom page) or a mistake worth one clear error
    instead of a rejection per line.  Returns ``None`` for JSON Lines.
    """
    first, newline, _rest = head.lstrip(_LEADING_NOISE).partition(b"\n")
    if b'"body"' in first or not newline:
        # A response saved on one line (json.dump without indent, jq -c), its keys in
        # any order, parses as one JSON Lines record, but it is a page of papers, not
        # a paper.  Only a first line that may hold a "body" key is read whole.
        with contextlib.suppress(ValueError):
            line = _first_line(path)
            document = json.loads(line)
            if _is_recording(document):
                return document
    if not newline:
        return None  # one line longer than the sniffed bytes: a JSON Lines record
    with contextlib.suppress(ValueError):
        json.loads(first)
        return None
    try:
        with _open(path) as stream:
            content = stream.read(_MAX_JSON_DOCUMENT + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise _unreadable(path, exc) from exc
    if len(content) > _MAX_JSON_DOCUMENT:
        return None
    try:
        document = json.loads(content)
    except ValueError:
        return None  # JSON Lines whose first record is broken: rejected line by line
    if _is_recording(document):
        return document
    raise InputError(
        f"{path}: one JSON document over several lines, not JSON Lines; "
        "write one JSON object per line (e.g. jq -c . FILE)"
    )


def _is_recording(document: Any) -> bool:
    """``{"url", "status_code", "body"}`` in any order, maybe with more keys (a
    request's method or headers): a response saved with its request, not a paper,
    which has an "id"."""
    return (
        isinstance(document, dict)
        and isinstance(document.get("body"), str)
        and "id" not in document
    )


def _first_line(path: Path) -> bytes:
    """The file's first line (after any byte order mark), up to the largest document."""
    try:
        with _open(path) as stream:
            line = stream.readline(_MAX_JSON_DOCUMENT + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise _unreadable(path, exc) from exc
    return line.lstrip(_LEADING_NOISE)


def _recorded_body(path: Path) -> bytes:
    """The Atom bytes inside an API recording, as arXiv sent them.

    Recorders that decoded the UTF-8 response as Latin-1 (requests does for some
    content types) store "LÃ¤mmerzahl" for "Lämmerzahl"; such text re-encodes to
    Latin-1 as valid UTF-8, which correct text with accents practically never does.
    """
    with _open(path) as stream:
        head = stream.read(_SNIFF_BYTES)
    document = _json_document(path, head)
    if document is None:  # pragma: no cover - sniffed as a recording just before
        raise InputError(f"{path}: not an arXiv API recording")
    status = document.get("status_code")
    if isinstance(status, int) and status not in (200, 400):  # 400: an error feed, read below
        raise InputError(
            f"{path}: the saved response is HTTP {status}, not a page of results; "
            "fetch the page again and save it once arXiv answers 200"
        )
    body: str = document["body"]
    try:
        raw = body.encode("latin-1")
        raw.decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return body.encode("utf-8")
    return raw


def _iter_jsonl(path: Path, latest: Month) -> Iterator[Record]:
    loads = json.loads
    lineno = 0
    cap = MAX_LINE_BYTES
    try:
        with _open(path, background=True) as stream:
            read_line = functools.partial(stream.readline, cap + 1)
            for lineno, line in enumerate(iter(read_line, b""), start=1):
                if len(line) > cap and not line.endswith(b"\n"):
                    _skip_rest_of_line(stream, cap)
                    yield Rejected(
                        lineno,
                        f"line longer than {cap:,} bytes: no arXiv record is that long "
                        "(a corrupt or foreign file?)",
                    )
                    continue
                if line.isspace():
                    continue
                try:
                    obj = loads(line)
                except json.JSONDecodeError as exc:
                    yield Rejected(lineno, f"invalid JSON ({_json_problem(exc)})")
                    continue
                except UnicodeDecodeError:
                    yield Rejected(lineno, "invalid JSON (not UTF-8)")
                    continue
                if not isinstance(obj, dict):
                    yield Rejected(lineno, "not a JSON object")
                    continue
                try:
                    yield Parsed(lineno, parse_jsonl_record(obj, latest))
                except ValueError as exc:
                    yield Rejected(lineno, str(exc))
    except (OSError, EOFError, zlib.error) as exc:
        # A truncated .gz or a disk error: what was read is valid, the rest is lost.
        raise InputError(f"cannot read {path}: {exc} (after line {lineno})") from exc


def _json_problem(exc: json.JSONDecodeError) -> str:
    """json's message with its column: "Expecting ',' delimiter at column 12", and
    "Unterminated string starting at column 31" (that message ends in "at" already)."""
    at = "" if exc.msg.endswith(" at") else " at"
    return f"{exc.msg}{at} column {exc.colno}"


def _skip_rest_of_line(stream: IO[bytes], chunk: int) -> None:
    """Read past the end of an overlong line, ``chunk`` bytes at a time."""
    while (piece := stream.readline(chunk)) and not piece.endswith(b"\n"):
        pass


def _read_xml(path: Path) -> bytes:
    """A feed or API page whole, refusing one larger than :data:`MAX_XML_BYTES`."""
    cap = MAX_XML_BYTES
    with _open(path) as stream:
        content = stream.read(cap + 1)
    if len(content) > cap:
        raise InputError(
            f"{path}: more than {cap:,} bytes (uncompressed); an arXiv API page or listing "
            "feed is a few MB at most: is it the right file?"
        )
    return content


def _iter_xml(path: Path, fmt: FileFormat, latest: Month) -> Iterator[Record]:
    # Feeds and API pages are small (one page, one day), so they are read whole.
    try:
        if fmt is FileFormat.API_RECORDING:
            content = _recorded_body(path)
            inner = _classify(content)
            if inner is None or inner is FileFormat.JSONL:
                raise InputError(
                    f"{path}: the recorded body is not an arXiv API or listing feed; "
                    "import the feed itself"
                )
            fmt = inner
        else:
            content = _read_xml(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise _unreadable(path, exc) from exc
    records: list[Record] = []
    if fmt is FileFormat.API_ATOM:
        page, paper_entries, rejected_entries = _parse_api(content, latest)
        if page.malformed:
            raise InputError(
                f"{path}: malformed arXiv API response ({page.malformed_reason}); "
                "the file is cut short or is not an API page: download it again"
            )
        if page.error:
            raise InputError(
                f"{path}: arXiv API error feed: {page.error}; the request was refused, "
                "so there are no papers in it to import"
            )
        records += (Parsed(n, p) for n, p in zip(paper_entries, page.papers, strict=True))
        rejected = page.rejected
        unit = "entry"
    else:
        try:
            feed, paper_entries, rejected_entries = _parse_listing(content, latest)
        except InputError as exc:
            raise InputError(
                f"{path}: {exc}; the file is cut short or is not a feed: download it again"
            ) from exc
        records += (
            Parsed(n, item.paper, item.announce_type)
            for n, item in zip(paper_entries, feed.papers, strict=True)
        )
        rejected = feed.rejected
        unit = "item"
    # Numbered by entry or item: a page or feed saved on one line (or inside a JSON
    # recording) has no line to point at.  The parsers name one without an id
    # "entry 3" or "item 3", which the number already says.
    records += (
        Rejected(n, reason, unit, "" if ref == f"{unit} {n}" else ref)
        for n, (ref, reason) in zip(rejected_entries, rejected, strict=True)
    )
    records.sort(key=lambda r: r.line)
    yield from records


def iter_file(path: str | os.PathLike[str], latest: Month | str | None = None) -> Iterator[Record]:
    """Yield every record of a metadata file, good (:class:`Parsed`) or bad (:class:`Rejected`).

    Raises :class:`InputError` when the file as a whole cannot be used (unreadable,
    unknown format, truncated gzip, malformed API page or feed).  A record whose id
    arXiv cannot have issued by ``latest`` (default: the current month) is rejected.
    """
    p = Path(path)
    limit = latest_month(latest)
    fmt = sniff_format(p)
    if fmt is FileFormat.JSONL:
        yield from _iter_jsonl(p, limit)
    else:
        yield from _iter_xml(p, fmt, limit)


# --------------------------------------------------------------------- import


class _Counts(Protocol):
    new: int
    updated: int
    unchanged: int


class PaperSink(Protocol):
    """What the importer needs from the store (``trenddigest.store.Store`` fits)."""

    def upsert_papers(self, papers: Iterable[Paper]) -> _Counts: ...

    def get_paper(self, arxiv_id: str) -> Paper | None: ...


@dataclass
class RejectedRecord:
    """One unusable record, located for the user to fix or ignore (see :class:`Rejected`)."""

    file: str
    line: int
    reason: str
    unit: str = "line"
    ref: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {_locate(self.unit, self.line, self.ref)}: {self.reason}"


@dataclass
class FileSummary:
    """Counts for one imported file; ``rejected`` counts every rejection, even past the cap."""

    path: str
    format: str
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    # Listing items announcing a new version of a paper the store does not hold: as
    # the poll does, left out (no first announcement, a stray in an old month).
    skipped: int = 0

    @property
    def skipped_note(self) -> str:
        if not self.skipped:
            return ""
        if self.skipped == 1:
            return ", 1 new version of a paper not stored, skipped"
        return f", {self.skipped} new versions of papers not stored, skipped"


@dataclass
class ImportSummary:
    """Per-file and total outcome of :func:`import_files`."""

    files: list[FileSummary] = field(default_factory=list)
    rejected: list[RejectedRecord] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.files)

    @property
    def updated(self) -> int:
        return sum(f.updated for f in self.files)

    @property
    def unchanged(self) -> int:
        return sum(f.unchanged for f in self.files)

    @property
    def rejected_count(self) -> int:
        return sum(f.rejected for f in self.files)

    def describe(self) -> str:
        """One line for run notes and logs."""
        files = f"{len(self.files)} file{'s' if len(self.files) != 1 else ''}"
        skipped = FileSummary("", "", skipped=sum(f.skipped for f in self.files)).skipped_note
        return (
            f"{files}: {self.new:,} new, {self.updated:,} updated, {self.unchanged:,} "
            f"unchanged, {self.rejected_count:,} rejected{skipped}"
        )

    def rejection_lines(self, max_rejected: int = 20) -> list[str]:
        """The first rejections, located, and how many more there were."""
        lines = [f"rejected {r}" for r in self.rejected[:max_rejected]]
        hidden = self.rejected_count - min(len(self.rejected), max_rejected)
        if hidden > 0:
            lines.append(f"... and {hidden:,} more rejected records")
        return lines

    def report_lines(self, max_rejected: int = 20) -> list[str]:
        """What ``trenddigest import`` prints: per file, the first rejections, the total."""
        lines = [
            f"{f.path} ({f.format}): {f.new:,} new, {f.updated:,} updated, "
            f"{f.unchanged:,} unchanged, {f.rejected:,} rejected{f.skipped_note}"
            for f in self.files
        ]
        lines += [f"  {line}" for line in self.rejection_lines(max_rejected)]
        lines.append(f"total {self.describe()}")
        return lines

    def _useless(self) -> list[FileSummary]:
        return [f for f in self.files if f.rejected and not (f.new + f.updated + f.unchanged)]

    def useless_files(self) -> str:
        """The files none of whose records could be read, as "a.jsonl (2 rejected)", or
        "": the wrong file, which must not pass for a quiet success (a cron job would
        never hear of it)."""
        return ", ".join(f"{f.path} ({f.rejected:,} rejected)" for f in self._useless())

    def first_useless_rejection(self) -> RejectedRecord | None:
        """The first rejection of a file none of whose records could be read: why it
        is the wrong file (another file's rejections say nothing about it)."""
        useless = {f.path for f in self._useless()}
        return next((r for r in self.rejected if r.file in useless), None)


def _stray_version(record: Parsed, store: PaperSink, batch: _Batch) -> bool:
    """A listing item announcing a new version of a paper neither stored nor read
    before it in this import."""
    kind = record.announce_type
    if kind is None or not announces_a_new_version(kind, record.paper.version):
        return False  # (None: not a listing item)
    if batch.holds(record.paper.id):
        return False
    return store.get_paper(record.paper.id) is None


class _Batch:
    """Papers waiting to be written, a paper repeated within them kept apart.

    The store merges the records of one id within a call and counts them as one, so
    a paper that appears twice in a file (the same record again, or v1 then v2)
    would vanish from the counts.  Each repeat goes to a later layer instead, written
    after the layers before it, so the store counts it as updated or unchanged
    against the copy before it, exactly as when the copies fall in different
    batches; the store's merge keeps the newest version whatever the order.  A file
    without repeats has one layer: one call, one transaction per batch.
    """

    def __init__(self) -> None:
        self.layers: list[list[Paper]] = []
        self._seen: dict[str, int] = {}
        self.size = 0

    def holds(self, arxiv_id: str) -> bool:
        return arxiv_id in self._seen

    def add(self, paper: Paper) -> None:
        layer = self._seen.get(paper.id, 0)
        self._seen[paper.id] = layer + 1
        if layer == len(self.layers):
            self.layers.append([])
        self.layers[layer].append(paper)
        self.size += 1

    def flush(self, store: PaperSink, summary: FileSummary) -> None:
        for layer in self.layers:
            counts = store.upsert_papers(layer)
            summary.new += counts.new
            summary.updated += counts.updated
            summary.unchanged += counts.unchanged
        self.layers.clear()
        self._seen.clear()
        self.size = 0


def import_files(
    store: PaperSink,
    paths: Sequence[str | os.PathLike[str]],
    batch_size: int = 2000,
    on_progress: Callable[[FileSummary], None] | None = None,
    latest: Month | str | None = None,
) -> ImportSummary:
    """Stream files into the store, one transaction per ``batch_size`` papers.

    Every file is sniffed (and every feed or API page parsed) before anything is
    written, so a typo or a broken feed anywhere fails the command up front.  A JSON
    Lines file that turns out cut short mid-way (a truncated download) has every record
    read before the cut written, and the error says how many; upserts are idempotent,
    so importing it again once whole is safe.
    ``on_progress`` gets the running :class:`FileSummary` after each batch.  A sink
    with ``bulk_writes()`` (the store) is told a bulk write is under way.  Records
    whose ids arXiv cannot have issued by ``latest`` (a :class:`Month` or
    ``"YYYY-MM"``; default: the current month, read once for the whole import) are
    rejected like any other unusable record.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    limit = latest_month(latest)
    formats = [(Path(p), sniff_format(p)) for p in paths]
    # Feeds and API pages are small and fail as a whole (cut short, error feed): parse
    # each up front, so that a bad one fails the import before anything is written,
    # and keep what was read: parsing again would log every skipped entry twice.
    # Only a JSON Lines file cut short mid-way leaves what was read before it stored.
    sources = [
        (path, fmt, None if fmt is FileFormat.JSONL else list(_iter_xml(path, fmt, limit)))
        for path, fmt in formats
    ]
    summary = ImportSummary()
    bulk = getattr(store, "bulk_writes", None)
    with bulk() if bulk is not None else contextlib.nullcontext():
        _import_all(store, sources, summary, batch_size, on_progress, limit)
    return summary


def _import_all(
    store: PaperSink,
    sources: list[tuple[Path, FileFormat, list[Record] | None]],
    summary: ImportSummary,
    batch_size: int,
    on_progress: Callable[[FileSummary], None] | None,
    latest: Month,
) -> None:
    """The body of :func:`import_files`: every file in turn, in batches.

    ``sources`` holds each file with its format and, for feeds and API pages, the
    records already read from it (JSON Lines files are streamed here).
    """
    for path, fmt, read in sources:
        file_summary = FileSummary(path=str(path), format=fmt.value)
        summary.files.append(file_summary)
        records: Iterable[Record] = _iter_jsonl(path, latest) if read is None else read
        try:
            _import_records(store, records, file_summary, summary, batch_size, on_progress)
        except InputError as exc:  # cut short: what it held before the cut is stored
            raise InputError(f"{exc}; {_stored_before(summary)}") from exc
        logger.info(
            "imported %s (%s): %d new, %d updated, %d unchanged, %d rejected",
            path,
            fmt.value,
            file_summary.new,
            file_summary.updated,
            file_summary.unchanged,
            file_summary.rejected,
        )


def _stored_before(summary: ImportSummary) -> str:
    """What an import cut short by a broken file stored, file by file: the records
    read before the cut are written, and the files before it whole."""
    *earlier, broken = summary.files
    parts = [
        f"{broken.new + broken.updated + broken.unchanged:,} records read before it are "
        f"stored ({broken.new:,} new, {broken.updated:,} updated, {broken.unchanged:,} "
        "unchanged); import it again once it is whole"
    ]
    if earlier:
        count = sum(f.new for f in earlier)
        parts.append(
            f"the {len(earlier)} file{'' if len(earlier) == 1 else 's'} before it "
            f"{'was' if len(earlier) == 1 else 'were'} imported ({count:,} new)"
        )
    return "; ".join(parts)


def _import_records(
    store: PaperSink,
    records: Iterable[Record],
    file_summary: FileSummary,
    summary: ImportSummary,
    batch_size: int,
    on_progress: Callable[[FileSummary], None] | None,
) -> None:
    """One file's records into the store, in batches; the batch under way is written
    also when the file turns out cut short, so every record read is stored."""
    path = file_summary.path
    kept = 0
    batch = _Batch()
    try:
        for record in records:
            if isinstance(record, Rejected):
                file_summary.rejected += 1
                if kept < MAX_REJECTED_KEPT:
                    summary.rejected.append(
                        RejectedRecord(path, record.line, record.reason, record.unit, record.ref)
                    )
                    kept += 1
                continue
            if _stray_version(record, store, batch):
                file_summary.skipped += 1
                continue
            batch.add(record.paper)
            file_summary.read += 1
            if batch.size >= batch_size:
                batch.flush(store, file_summary)
                if on_progress:
                    on_progress(file_summary)
    except InputError:
        if batch.size:
            batch.flush(store, file_summary)
        raise
    if batch.size:
        batch.flush(store, file_summary)
    if on_progress:
        on_progress(file_summary)
    if file_summary.rejected > kept:
        logger.warning(
            "%s: %d rejected records, only the first %d listed",
            path,
            file_summary.rejected,
            kept,
        )
