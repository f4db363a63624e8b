"""A stand-in for arXiv on 127.0.0.1: the query API and the listing feeds.

Serves synthetic papers (``tests/fixtures/arxiv_server/papers.json`` by default) in
arXiv's own formats, honouring ``search_query`` (``cat:`` and ``submittedDate:[..]``),
``start``, ``max_results`` and sort order, and conditional GETs on the feeds.  Faults
are injected per request (:meth:`ArxivTestServer.fail`): HTTP errors with
Retry-After, truncated bodies, slow answers, connection resets, error feeds, empty
pages, oversized bodies; ``overcount`` makes ``totalResults`` larger than what is served.

Reuse it from any test module::

    from arxiv_server import ArxivTestServer, FakeClock, fast_arxiv_config

or as pytest fixtures (``pytest_plugins = ["arxiv_server"]`` in a conftest, or
import the fixture names): ``arxiv_server`` (a started server) and
``no_arxiv_waits`` (every :class:`ArxivClient` built during the test waits on a fake
clock, so a CLI run against the server never really sleeps).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest

from trenddigest.config import ArxivConfig
from trenddigest.sources import client as client_module

FIXTURES = Path(__file__).parent / "fixtures" / "arxiv_server"
# 2025-06-02T00:00:00Z: May 2025 is over, so its papers are all there.
DEFAULT_NOW = 1748822400.0

_QUERY_CAT = re.compile(r"cat:(\S+)")
_QUERY_DATES = re.compile(r"submittedDate:\[(\d{12})\s+TO\s+(\d{12})\]")


def load_papers(path: Path | None = None) -> list[dict[str, Any]]:
    """The synthetic papers: dicts with id, version, submitted, categories, title..."""
    data = json.loads((path or FIXTURES / "papers.json").read_text(encoding="utf-8"))
    return list(data["papers"])


def synthetic_papers(
    count: int,
    *,
    month: str = "2025-05",
    categories: tuple[str, ...] = ("cs.CV",),
    first_number: int = 10001,
) -> list[dict[str, Any]]:
    """``count`` generated papers spread over ``month``, for paging-heavy tests."""
    year, mon = (int(p) for p in month.split("-"))
    papers = []
    for i in range(count):
        day = 1 + i % 28
        papers.append(
            {
                "id": f"{year % 100:02d}{mon:02d}.{first_number + i:05d}",
                "version": 1,
                "submitted": f"{year:04d}-{mon:02d}-{day:02d}T{(i * 7) % 24:02d}:{i % 60:02d}:00Z",
                "categories": list(categories),
                "title": f"Generated Paper Number {i} on Invented Topics",
                "abstract": f"Synthetic abstract {i}: a made-up method on a made-up benchmark.",
                "authors": [f"Author {i} Example"],
                "comment": "",
            }
        )
    return papers


def unused_port() -> int:
    """A local port nothing listens on: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeClock:
    """A clock that only moves when slept on; records every requested wait.

    Usable as ``clock`` (call it), ``sleep``, ``wall_clock`` (:meth:`time`), or as a
    stand-in for the ``time`` module (``monotonic``, ``time``, ``sleep``).
    """

    def __init__(self, now: float = DEFAULT_NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fast_arxiv_config(server: ArxivTestServer, **overrides: Any) -> ArxivConfig:
    """An ArxivConfig pointing at ``server`` (real delays; waits are faked by the clock)."""
    values: dict[str, Any] = {
        "api_url": server.api_url,
        "feed_url": server.feed_url,
        "categories": ["cs.CV", "cs.LG", "cs.CL"],
        "page_size": 5,
        "timeout_seconds": 0.2,
    }
    values.update(overrides)
    return ArxivConfig(**values)


# ------------------------------------------------------------------------ faults


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]
    raw_query: str = ""  # the query string as sent, parameter order included

    @property
    def start(self) -> int:
        return int(self.params.get("start", "0"))

    @property
    def max_results(self) -> int:
        return int(self.params.get("max_results", "10"))

    @property
    def query(self) -> str:
        return self.params.get("search_query", "")


@dataclass
class Fault:
    """What to do instead of (or before) answering one matching request.

    kinds: ``status`` (HTTP ``status`` with ``headers``), ``error`` (HTTP 400 arXiv
    error feed with ``message``), ``empty`` (a valid page without entries), ``zero``
    (a valid page saying there are no results at all), ``short``
    (a valid page with only the first half of its entries), ``bad-date`` (the first
    entry's ``<published>`` is not a timestamp),
    ``truncate`` (Content-Length says more than is sent), ``truncate-unframed`` (no
    Content-Length, the connection closes half-way), ``garbage`` (200 with an HTML
    body), ``delay`` (answer after ``delay`` seconds), ``reset`` (TCP reset),
    ``change`` (``action(server)`` changes the server's papers, then the request is
    answered from them: a paper listed late or withdrawn between two pages),
    ``repeat`` (the page starts one result early, so its first entry is the last of
    the page before and its own last one is left out: an unstable order of results),
    ``no-published`` (the first entry, or the ``entry`` with that id, has no
    ``<published>``: arxiv's parser skips it),
    ``hang`` (no answer at all: the request is held until the client hangs up),
    ``huge`` (200 with ``size`` bytes of filler, written 64 KiB at a time while the
    client keeps reading; :attr:`ArxivTestServer.streamed` counts what went out),
    ``gzip`` (the answer gzipped, with ``size`` bytes of filler appended before
    compressing: a small transfer that inflates to ``size`` bytes and more).
    """

    kind: str
    path: str = "/api/"
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.6
    size: int = 0
    message: str = "incorrect query"
    when: Callable[[Seen], bool] | None = None
    action: Callable[[ArxivTestServer], None] | None = None
    entry: str = ""  # ``no-published``: this id's entry instead of the page's first


# ---------------------------------------------------------------------- rendering


def _atom_time(iso: str) -> str:
    return (
        datetime.fromisoformat(iso.replace("Z", "+00:00"))
        .astimezone(UTC)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def render_api_feed(
    entries: list[dict[str, Any]], *, total: int, start: int, per_page: int, query: str
) -> bytes:
    """An arXiv query-API response in the current (2025+) layout."""
    out = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">',
        f"  <id>https://arxiv.org/api/{hashlib.sha1(query.encode()).hexdigest()[:27]}</id>",
        f"  <title>arXiv Query: {escape(f'search_query={query}&id_list=&start={start}')}"
        f"{escape(f'&max_results={per_page}')}</title>",
        "  <updated>2025-06-02T00:00:00Z</updated>",
        f"  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>",
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>",
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>",
    ]
    for p in entries:
        vid = f"{p['id']}v{p.get('version', 1)}"
        published = _atom_time(p["submitted"])
        updated = _atom_time(p.get("updated") or p["submitted"])
        out += [
            "  <entry>",
            f"    <id>http://arxiv.org/abs/{vid}</id>",
            f"    <title>{escape(p['title'])}</title>",
            f"    <updated>{updated}</updated>",
            f'    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>',
            f'    <link href="https://arxiv.org/pdf/{vid}" rel="related" '
            'type="application/pdf" title="pdf"/>',
            f"    <summary>{escape(p['abstract'])}</summary>",
        ]
        out += [
            f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>'
            for c in p["categories"]
        ]
        out.append(f"    <published>{published}</published>")
        if p.get("comment"):
            out.append(f"    <arxiv:comment>{escape(p['comment'])}</arxiv:comment>")
        out.append(f'    <arxiv:primary_category term="{p["categories"][0]}"/>')
        out += [
            f"    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in p["authors"]
        ]
        out.append("  </entry>")
    out.append("</feed>\n")
    return "\n".join(out).encode("utf-8")


def render_error_feed(message: str) -> bytes:
    """arXiv's HTTP 400 body: an Atom feed with one error entry."""
    anchor = re.sub(r"\W+", "_", message.lower()).strip("_")
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        "  <id>https://arxiv.org/</id>\n  <title>arXiv Search Results</title>\n"
        "  <updated>2025-06-02T00:00:00Z</updated>\n"
        "  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>\n"
        "  <opensearch:totalResults>1</opensearch:totalResults>\n"
        "  <opensearch:startIndex>0</opensearch:startIndex>\n"
        "  <entry>\n"
        f"    <id>https://arxiv.org/api/errors#{anchor}</id>\n    <title>Error</title>\n"
        "    <updated>2025-06-02T00:00:00Z</updated>\n"
        f'    <link href="https://arxiv.org/api/errors#{anchor}" rel="alternate" '
        'type="text/html"/>\n'
        f"    <summary>{escape(message)}</summary>\n"
        "    <author>\n      <name>arXiv api core</name>\n    </author>\n"
        "  </entry>\n</feed>\n"
    ).encode()


@dataclass
class Listing:
    """One category's current listing feed: the announce date and its items.

    Each item is ``{"id", "type", "version"}`` plus optional overrides of the
    paper's fields (``title``, ``abstract``...) for revised versions.
    """

    date: str  # YYYY-MM-DD, US Eastern
    items: list[dict[str, Any]]


def _listing_item(server_papers: dict[str, dict[str, Any]], item: dict[str, Any]) -> dict[str, Any]:
    paper = dict(server_papers.get(item["id"], {}))
    paper.update(item)
    return paper


def render_rss_listing(category: str, listing: Listing, papers: dict[str, dict[str, Any]]) -> bytes:
    """arXiv's 2024+ RSS 2.0 listing feed (format-specs-arxiv-docs/rss_specifications.md)."""
    day = datetime.fromisoformat(listing.date)
    pub = day.strftime("%a, %d %b %Y 00:00:00 -0400")
    out = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">',
        "  <channel>",
        f"    <title>{category} updates on arXiv.org</title>",
        f"    <link>http://rss.arxiv.org/rss/{category}</link>",
        f"    <description>{category} updates on the arXiv.org e-print archive.</description>",
        f'    <atom:link href="http://rss.arxiv.org/rss/{category}" rel="self" '
        'type="application/rss+xml"/>',
        "    <docs>http://www.rssboard.org/rss-specification</docs>",
        "    <language>en-us</language>",
        f"    <lastBuildDate>{day.strftime('%a, %d %b %Y 04:00:12 +0000')}</lastBuildDate>",
        "    <managingEditor>rss-help@arxiv.org</managingEditor>",
        f"    <pubDate>{pub}</pubDate>",
        "    <skipDays>\n      <day>Saturday</day>\n      <day>Sunday</day>\n    </skipDays>",
    ]
    for item in listing.items:
        p = _listing_item(papers, item)
        vid = f"{p['id']}v{p.get('version', 1)}"
        out += [
            "    <item>",
            f"      <title>{escape(p['title'])}</title>",
            f"      <link>https://arxiv.org/abs/{p['id']}</link>",
            f"      <description>arXiv:{vid} Announce Type: {p['type']} \n"
            f"Abstract: {escape(p['abstract'])}</description>",
            f'      <guid isPermaLink="false">oai:arXiv.org:{vid}</guid>',
        ]
        out += [f"      <category>{c}</category>" for c in p["categories"]]
        out += [
            f"      <pubDate>{pub}</pubDate>",
            f"      <arxiv:announce_type>{p['type']}</arxiv:announce_type>",
            "      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>",
            f"      <dc:creator>{escape(', '.join(p['authors']))}</dc:creator>",
            "    </item>",
        ]
    out += ["  </channel>", "</rss>\n"]
    return "\n".join(out).encode("utf-8")


def render_atom_listing(
    category: str, listing: Listing, papers: dict[str, dict[str, Any]]
) -> bytes:
    """arXiv's 2024+ Atom listing feed (format-specs-arxiv-docs/atom_specifications.md)."""
    stamp = f"{listing.date}T04:00:31.941605+00:00"
    out = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xml:lang="en-us">',
        f"  <id>http://rss.arxiv.org/atom/{category}</id>",
        f"  <title>{category} updates on arXiv.org</title>",
        f"  <updated>{stamp}</updated>",
        f'  <link href="http://rss.arxiv.org/atom/{category}" rel="self" '
        'type="application/atom+xml"/>',
        f"  <subtitle>{category} updates on the arXiv.org e-print archive.</subtitle>",
    ]
    for item in listing.items:
        p = _listing_item(papers, item)
        vid = f"{p['id']}v{p.get('version', 1)}"
        out += [
            "  <entry>",
            f"    <id>oai:arXiv.org:{vid}</id>",
            f"    <title>{escape(p['title'])}</title>",
            f"    <updated>{stamp}</updated>",
            f'    <link href="https://arxiv.org/abs/{p["id"]}" rel="alternate" type="text/html"/>',
            f"    <summary>arXiv:{vid} Announce Type: {p['type']} \n"
            f"Abstract: {escape(p['abstract'])}</summary>",
        ]
        out += [
            f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>'
            for c in p["categories"]
        ]
        out += [
            f"    <published>{listing.date}T00:00:00-04:00</published>",
            f"    <arxiv:announce_type>{p['type']}</arxiv:announce_type>",
            "    <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>",
            f"    <dc:creator>{escape(', '.join(p['authors']))}</dc:creator>",
            "  </entry>",
        ]
    out.append("</feed>\n")
    return "\n".join(out).encode("utf-8")


# ------------------------------------------------------------------------ server


def _minute(stamp: str) -> str:
    """``2025-05-01T09:12:00Z`` -> ``202505010912`` (arXiv's submittedDate precision)."""
    return stamp[:4] + stamp[5:7] + stamp[8:10] + stamp[11:13] + stamp[14:16]


class ArxivTestServer:
    """A threaded HTTP server that answers like export.arxiv.org and rss.arxiv.org."""

    def __init__(self, papers: list[dict[str, Any]] | None = None) -> None:
        self.papers = load_papers() if papers is None else papers
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        # Called with every request as it arrives (before any fault), e.g. to note the
        # fake clock's time of each request.
        self.watchers: list[Callable[[Seen], None]] = []
        self.overcount = 0
        self.listings: dict[str, Listing] = {}
        self.open_connections = 0
        self.max_open_connections = 0
        self.streamed = 0  # bytes of the last ``huge`` body written so far
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> ArxivTestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ArxivTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/query"

    @property
    def feed_url(self) -> str:
        return f"{self.base_url}/rss/"

    @property
    def atom_feed_url(self) -> str:
        return f"{self.base_url}/atom/"

    # -- scripting ---------------------------------------------------------------

    def fail(self, kind: str, times: int = 1, **options: Any) -> None:
        """Inject ``times`` faults of ``kind`` (see :class:`Fault`) for coming requests."""
        with self._lock:
            self.faults.extend(Fault(kind, **options) for _ in range(times))

    def set_listing(self, category: str, date: str, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self.listings[category] = Listing(date, items)

    @property
    def api_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith("/api/")]

    @property
    def feed_requests(self) -> list[Seen]:
        return [s for s in self.seen if not s.path.startswith("/api/")]

    def matching(self, query: str) -> list[dict[str, Any]]:
        """The papers arXiv would return for ``query``, in submission order."""
        cat = _QUERY_CAT.search(query)
        dates = _QUERY_DATES.search(query)
        found = []
        for paper in self.papers:
            if cat and cat.group(1) not in paper["categories"]:
                continue
            if dates and not dates.group(1) <= _minute(paper["submitted"]) <= dates.group(2):
                continue
            found.append(paper)
        return sorted(found, key=lambda p: (p["submitted"], p["id"]))

    def _take_fault(self, seen: Seen) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if seen.path.startswith(fault.path) and (fault.when is None or fault.when(seen)):
                    return self.faults.pop(i)
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ArxivTestServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets and timed-out clients are the point of some tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle plus
        # delayed ACKs add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        owner = self.server.owner
        with owner._lock:
            owner.open_connections += 1
            owner.max_open_connections = max(owner.max_open_connections, owner.open_connections)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        owner = self.server.owner
        with owner._lock:
            owner.open_connections -= 1

    # -- responses ---------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _stream_filler(self, size: int) -> None:
        """200 with ``size`` bytes, 64 KiB per write, until done or the client hangs up."""
        owner = self.server.owner
        owner.streamed = 0
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b" " * 65536
        try:
            while owner.streamed < size:
                piece = chunk[: size - owner.streamed]
                self.wfile.write(piece)
                owner.streamed += len(piece)
        except OSError:  # the client stopped reading and closed the connection
            pass
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        owner = self.server.owner
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        seen = Seen(parts.path, params, dict(self.headers.items()), parts.query)
        with owner._lock:
            owner.seen.append(seen)
            watchers = list(owner.watchers)
        for watch in watchers:
            watch(seen)
        fault = owner._take_fault(seen)
        if fault is not None and fault.kind == "delay":
            threading.Event().wait(fault.delay)  # not time.sleep: tests may fake ``time``
            fault = None
        if fault is not None and fault.kind == "change":
            if fault.action is not None:
                with owner._lock:
                    fault.action(owner)
            fault = None
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "status":
            body = b"<html><body>Service unavailable (test server)</body></html>"
            self._send(fault.status, body, "text/html", fault.headers)
            return
        if fault is not None and fault.kind == "error":
            self._send(400, render_error_feed(fault.message), "application/atom+xml")
            return
        if fault is not None and fault.kind == "garbage":
            self._send(200, b"<html><body>Please wait</body></html>", "text/html")
            return
        if fault is not None and fault.kind == "hang":
            self.rfile.read(1)  # returns when the client gives up and closes
            self.close_connection = True
            return
        if fault is not None and fault.kind == "huge":
            self._stream_filler(fault.size)
            return
        if parts.path.startswith("/api/"):
            kind = fault.kind if fault is not None else ""
            body, ctype, headers = self._api(
                seen,
                empty=kind in ("empty", "zero"),
                short=kind == "short",
                zero=kind == "zero",
                repeat=kind == "repeat",
            )
        elif parts.path.startswith(("/rss/", "/atom/")):
            answer = self._listing(parts.path)
            if answer is None:
                return
            body, ctype, headers = answer
        else:
            self._send(404, b"not found", "text/plain")
            return
        if fault is not None and fault.kind == "no-published":
            after = (
                re.escape(f"/abs/{fault.entry}v".encode()) + rb"[^<]*</id>" if fault.entry else b""
            )
            body = re.sub(
                rb"(" + after + rb".*?)\s*<published>[^<]*</published>",
                rb"\1",
                body,
                count=1,
                flags=re.S,
            )
        if fault is not None and fault.kind == "bad-date":
            body = re.sub(
                rb"<published>[^<]*</published>", b"<published>soon</published>", body, count=1
            )
        if fault is not None and fault.kind == "gzip":
            squeezed = gzip.compress(body + b" " * fault.size, compresslevel=1)
            self._send(200, squeezed, ctype, {**headers, "Content-Encoding": "gzip"})
            return
        if fault is not None and fault.kind == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault is not None and fault.kind == "truncate-unframed":
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(200, body, ctype, headers)

    def _api(
        self, seen: Seen, *, empty: bool, short: bool, zero: bool, repeat: bool = False
    ) -> tuple[bytes, str, dict[str, str]]:
        owner = self.server.owner
        found = owner.matching(seen.query)
        if seen.params.get("sortOrder") == "descending":
            found.reverse()
        total = 0 if zero else len(found) + owner.overcount
        first = max(0, seen.start - 1) if repeat else seen.start
        entries = [] if empty else found[first : first + seen.max_results]
        if short:
            entries = entries[: len(entries) // 2]
        body = render_api_feed(
            entries, total=total, start=seen.start, per_page=seen.max_results, query=seen.query
        )
        return body, "application/atom+xml; charset=utf-8", {}

    def _listing(self, path: str) -> tuple[bytes, str, dict[str, str]] | None:
        owner = self.server.owner
        kind, _, category = path.strip("/").partition("/")
        listing = owner.listings.get(category)
        if listing is None:
            self._send(404, b"no such feed", "text/plain")
            return None
        papers = {p["id"]: p for p in owner.papers}
        render = render_rss_listing if kind == "rss" else render_atom_listing
        body = render(category, listing, papers)
        etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        modified = format_datetime(
            datetime.fromisoformat(listing.date).replace(hour=4, tzinfo=UTC), usegmt=True
        )
        if self.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in self.headers
            and self.headers.get("If-Modified-Since") == modified
        ):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        ctype = "application/rss+xml" if kind == "rss" else "application/atom+xml"
        return body, ctype, {"ETag": etag, "Last-Modified": modified}


# ----------------------------------------------------------------------- fixtures


@pytest.fixture
def arxiv_server() -> Iterator[ArxivTestServer]:
    """A started :class:`ArxivTestServer` with the synthetic papers."""
    with ArxivTestServer() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when waited on: no test really sleeps."""
    return FakeClock()


@pytest.fixture
def no_arxiv_waits(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Every ArxivClient made during the test paces and backs off on a fake clock.

    The pacing such clients share is fresh for each test, so no test inherits the
    last request time of another.
    """
    clock = FakeClock()
    monkeypatch.setattr(client_module, "time", clock)
    monkeypatch.setattr(client_module, "_PROCESS_PACING", client_module._Pacing())
    return clock


def logged(caplog: pytest.LogCaptureFixture, logger: str, level: int) -> list[str]:
    """What ``logger`` said at ``level`` or above during the test, in order."""
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno >= level]
