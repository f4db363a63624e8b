"""Bytes in, dataclasses out: the parsers for every arXiv format trenddigest reads.

Nothing here does I/O.  Fetchers hand over the raw bytes they received, the file
importer hands over what it read, and both get the same :class:`~trenddigest.models.Paper`
objects back, so that a paper looks identical in the store whichever way it arrived.

Three formats are handled:

* arXiv query-API Atom pages (current 2025+ layout and the legacy one), through the
  ``arxiv`` package's own lxml parser, plus the checks that parser leaves out (error
  feeds, truncated bodies, entries it silently drops);
* arXiv's daily listing feeds (RSS 2.0 and Atom, 2024+ layout with
  ``arxiv:announce_type``), through ``feedparser``;
* JSON Lines records: the shared daily-crawl format and Kaggle's
  ``arxiv-metadata-oai-snapshot``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeGuard

import feedparser
from arxiv import _feed as arxiv_feed
from lxml import etree

from ..errors import InputError
from ..models import (
    ARXIV_ARCHIVES,
    FIVE_DIGITS_START,
    OLD_ARCHIVES,
    InvalidArxivIdError,
    Month,
    Paper,
    id_month,
    latest_month,
    split_id,
)

logger = logging.getLogger(__name__)
# arxiv's parser logs each entry it drops ("Skipping entry ... missing <published>");
# trenddigest reports every dropped entry itself, with the reason, so those lines
# would only repeat it (twice, when arxiv.Client parses the same page again).
_ARXIV_FEED_LOGGER = logging.getLogger(arxiv_feed.__name__)

_ATOM = "http://www.w3.org/2005/Atom"
_NS = {
    "atom": _ATOM,
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
    "dc": "http://purl.org/dc/elements/1.1/",
}
_ERROR_ID_PREFIXES = ("http://arxiv.org/api/errors", "https://arxiv.org/api/errors")
# "arXiv:2203.01250v3 Announce Type: replace-cross \nAbstract: ..." (listing feeds).
_LISTING_PREFIX = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?",
    re.IGNORECASE,
)
_SKIP_DAYS = re.compile(rb"<skipDays>(.*?)</skipDays>", re.DOTALL | re.IGNORECASE)
_DAY = re.compile(rb"<day>\s*([A-Za-z]+)\s*</day>", re.IGNORECASE)
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A bare new-style id without version: what split_id would return unchanged, when
# its YYMM is a possible month and its number fits it (checked separately: string
# comparisons are cheaper).  re.ASCII: \d would also match other scripts' digits, and
# the id would then skip split_id's check and key the paper a second time.
_BARE_NEW_ID = re.compile(r"\d{4}\.\d{4,5}", re.ASCII)
_ZERO_NUMBERS = frozenset({"0000", "00000"})
# Kaggle author strings: "A, B and C" or "A, B, and C" (", and " is one separator), once
# the parenthesised affiliations are out; some lists separate with semicolons.
_AUTHOR_SPLIT = re.compile(r"\s*[,;]\s*(?:and\s+)?|\s+and\s+")
# A parenthesised group with no parenthesis inside ("(1 and 2)", "(MIT, Cambridge)"):
# removed again and again, it takes out nested groups ("((1) CREST, (2) ...)") too.
_INNERMOST_GROUP = re.compile(r"\([^()]*\)")
# TeX accents as arXiv's metadata keeps them ("Bal\'azs", "Bal{\'a}zs", "\v{S}ime",
# "Fran\c cois", "D\'{\i}az"), each to its Unicode combining mark.  A letter accent
# (\c, \v, ...) takes a braced letter or one after a space, so that math such as
# "$\cdot$" or "$\vec{v}$" in a title is left alone.
_COMBINING = {
    "'": "\u0301", '"': "\u0308", "`": "\u0300", "^": "\u0302", "~": "\u0303",
    "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
    "c": "\u0327", "k": "\u0328", "r": "\u030a",
}  # fmt: skip
# TeX's letters without a Unicode accent ("{\O}bro", "Mei{\ss}ner", "Bj\o rn").
_TEX_LETTERS = {
    "ss": "\u00df", "aa": "\u00e5", "AA": "\u00c5", "ae": "\u00e6", "AE": "\u00c6",
    "oe": "\u0153", "OE": "\u0152", "o": "\u00f8", "O": "\u00d8", "l": "\u0142",
    "L": "\u0141", "i": "\u0131", "j": "\u0237",
}  # fmt: skip
_TEX = re.compile(
    r"(?P<open>\{\s*)?\\(?:"
    # an accent on a letter or on a dotless i or j, its argument braced or not
    r"(?:(?P<symbol>['\"`^~=.])|(?P<word>[cvuHkr])(?=\s*\{|\s+[A-Za-z\\]))\s*"
    r"(?P<brace>\{\s*)?(?:\\(?P<dotless>[ij])(?![A-Za-z])\s*|(?P<letter>[A-Za-z]))"
    r"(?(brace)\s*\})"
    # or a letter of its own: "\o{}", or "\o" and the spaces TeX swallows after it
    r"|(?P<special>ss|aa|AA|ae|AE|oe|OE|o|O|l|L|i|j)(?![A-Za-z])(?(open)|(?:\{\}|\s*))"
    r")(?(open)\s*\})",
    re.ASCII,
)
# Announce types whose date is when the paper itself was announced; for replacements
# the listing date is when the *update* was announced (arXiv RSS spec).
FIRST_ANNOUNCEMENTS = frozenset({"new", "cross"})
# A new version of a paper announced before: in a feed, an item without the paper's
# first announcement date, of any month (see ``poll`` and ``files``).
REPLACEMENTS = frozenset({"replace", "replace-cross"})


def announces_a_new_version(announce_type: str, version: int) -> bool:
    """Whether a listing item announces a new version of a paper announced before.

    So are replacements, and an item of no known type (a feed that lost the field)
    with a version above 1: stored as new, the v3 of a 2024 paper would sit in an old
    month as a stray nobody announced then.
    """
    if announce_type in REPLACEMENTS:
        return True
    return announce_type not in FIRST_ANNOUNCEMENTS and version > 1


# An arXiv category ("cs.CV", "hep-th", "cond-mat.stat-mech", old "chao-dyn"): the
# digest shows the primary one in a code span, so anything else (a backtick that
# closes the span and adds a link, a terminal escape, a newline) must not be stored.
# Only archives arXiv has (or had): an API entry's category terms also carry ACM and
# MSC classes ("I.2.6", "68T07"), and a hand-made file anything ("bogus").
_CATEGORY = r"[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)?"
_IS_CATEGORY = re.compile(_CATEGORY, re.ASCII).fullmatch
_ARCHIVES = frozenset(ARXIV_ARCHIVES) | OLD_ARCHIVES
# A Kaggle-style category string ("cs.CV cs.LG") made only of categories: the fast path.
_IS_CATEGORY_LIST = re.compile(rf"{_CATEGORY}(?: {_CATEGORY})*", re.ASCII).fullmatch
# What separates categories in other strings: blanks, commas ("cs.CV, cs.LG", "cs.CV,cs.LG").
_CATEGORY_SEPARATORS = re.compile(r"[\s,]+")


class _DropArxivSkips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Skipping entry")


@contextlib.contextmanager
def arxiv_skips_unlogged() -> Iterator[None]:
    """Silence arxiv's own "Skipping entry" warnings while arxiv parses API pages.

    Used around every call that makes arxiv parse a page; the entries it skips come
    back as ``ApiPage.rejected`` and are logged once, by :func:`parse_api_page`.  A
    filter per call, so nested uses each remove only their own.
    """
    quiet = _DropArxivSkips()
    _ARXIV_FEED_LOGGER.addFilter(quiet)
    try:
        yield
    finally:
        _ARXIV_FEED_LOGGER.removeFilter(quiet)


def _strict_parser() -> Any:
    # Strict (recover=False) so that a truncated body is an error rather than a
    # silently shortened document; no entity expansion or network access, because
    # the bytes come from outside.
    return etree.XMLParser(recover=False, resolve_entities=False, no_network=True)


def _collapse(text: str | None) -> str:
    """Collapse runs of whitespace: arXiv wraps titles and abstracts at ~80 columns.

    Same result as ``" ".join(text.split())``, two to three times faster on typical
    abstracts (this runs per record on multi-GB imports).  Once newlines are spaces,
    a string with no non-printable character has no whitespace left but single
    spaces, because every other whitespace character (ASCII or Unicode) is
    non-printable; for ASCII text a byte-level translate checks that quickly.
    """
    if not text:
        return ""
    flat = text.replace("\n", " ")
    if flat.isascii():
        printable = not flat.encode("ascii").translate(None, _PRINTABLE_ASCII)
    else:
        printable = flat.isprintable()
    if printable and "  " not in flat and flat[0] != " " and flat[-1] != " ":
        return flat
    # Control characters (a bell, a terminal colour code's ESC) are no text: written
    # raw they would reach the digest and, with --dry-run, the terminal.
    return " ".join(_CONTROL.sub(" ", text).split())


def _clean_names(names: list[Any]) -> list[str]:
    """Whitespace-collapsed non-empty author names, TeX accents in Unicode (see
    :func:`_untex`), with a fast path for clean lists."""
    try:
        joined = "|".join(names)
    except TypeError:  # a non-string in the list
        return [_untex(n) for a in names if isinstance(a, str) and (n := _collapse(a))]
    if (
        joined.isprintable()
        and "  " not in joined
        and " |" not in joined
        and "| " not in joined
        and "||" not in joined
        and joined[:1] not in (" ", "|")
        and joined[-1:] not in (" ", "|")
        and "\\" not in joined
    ):
        return list(names)
    return [_untex(n) for a in names if (n := _collapse(a))]


def _iso_utc(dt: datetime) -> str:
    """One timestamp spelling for every source, so the store compares like with like."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def _ends_with(content: bytes, closing: bytes) -> bool:
    return content.rstrip().endswith(closing)


# --------------------------------------------------------------------------- API


@dataclass
class ApiPage:
    """One page of an arXiv query-API response.

    ``malformed`` means the body cannot be trusted (truncated, not XML, not an API
    feed); ``papers`` is then empty so that a caller retries instead of storing
    half a page.  ``error`` is arXiv's own message from an error feed (HTTP 400).
    """

    total_results: int = 0
    start_index: int = 0
    items_per_page: int = 0
    papers: list[Paper] = field(default_factory=list)
    error: str | None = None
    malformed: bool = False
    malformed_reason: str | None = None
    rejected: list[tuple[str, str]] = field(default_factory=list)


def _header_int(root: Any, path: str) -> int:
    found = root.find(path, _NS)
    if found is None or found.text is None:
        return 0
    try:
        return int(found.text.strip())
    except ValueError:
        return 0


def _entry_ref(entry: Any, number: int) -> str:
    found = entry.find("atom:id", _NS)
    text = _collapse(found.text) if found is not None else ""
    return text or f"entry {number}"


def _why_skipped(entry: Any) -> str:
    """Reconstruct why arxiv's parser dropped an entry (it only logs it)."""
    for tag in ("id", "published", "updated"):
        found = entry.find(f"atom:{tag}", _NS)
        if found is None or not (found.text or "").strip():
            return f"missing <{tag}>"
    return "entry not understood by the arXiv API parser"


def _results_by_entry(content: bytes, entries: list[Any]) -> list[Any]:
    """Return one ``arxiv.Result`` or a rejection reason (str) per ``<entry>``.

    ``arxiv._feed.parse`` is the parser of record, but it drops invalid entries
    without telling which, and one unparseable timestamp makes it raise for the
    whole page; both are recovered from here so one bad entry costs one paper.
    """
    with arxiv_skips_unlogged():
        try:
            results = arxiv_feed.parse(content).results
        except (ValueError, TypeError) as exc:
            # Not a warning: the entry that caused it is rejected, and that is logged.
            logger.debug("arXiv API page needs per-entry parsing: %s", exc)
            out: list[Any] = []
            for entry in entries:
                try:
                    built = arxiv_feed._build_result(entry)
                except (ValueError, TypeError) as entry_exc:
                    out.append(f"unparseable entry: {entry_exc}")
                    continue
                out.append(built if built is not None else _why_skipped(entry))
            return out
    # Results keep document order and only ever skip entries, so walk both in step.
    out = []
    pending = iter(results)
    current = next(pending, None)
    for entry in entries:
        found = entry.find("atom:id", _NS)
        entry_id = found.text if found is not None else None
        if current is not None and entry_id == current.entry_id:
            out.append(current)
            current = next(pending, None)
        else:
            out.append(_why_skipped(entry))
    return out


def _result_to_paper(result: Any, latest: Month) -> Paper:
    """Map an ``arxiv.Result``; raises ValueError with the reason it cannot be used."""
    try:
        arxiv_id, version = split_id(result.entry_id, latest)
    except InvalidArxivIdError as exc:
        reason = f": {exc.reason}" if exc.reason else ": not an arXiv id"
        raise ValueError(f"bad id {result.entry_id!r}{reason}") from None
    title = plain_title(_collapse(result.title))
    if not title:
        raise ValueError("missing title")
    categories = _arxiv_categories(result.categories)
    primary = result.primary_category
    return Paper(
        id=arxiv_id,
        version=version or 1,
        title=title,
        abstract=_collapse(result.summary),
        authors=[name for a in result.authors if (name := _collapse(a.name))],
        categories=categories,
        primary_category=primary if _is_category(primary) else _first(categories),
        comment=_collapse(result.comment),  # the API states it: no arxiv:comment is none
        published=_iso_utc(result.published),
        updated=_iso_utc(result.updated),
        source="api",
    )


def _parse_api(
    content: bytes, latest: Month | str | None = None
) -> tuple[ApiPage, list[int], list[int]]:
    """:func:`parse_api_page` plus the 1-based entry number of each paper and rejection."""
    if not isinstance(content, bytes | bytearray):
        raise TypeError("parse_api_page expects bytes")
    limit = latest_month(latest)
    content = bytes(content)
    if not content.strip():
        return ApiPage(malformed=True, malformed_reason="empty body"), [], []
    try:
        root = etree.fromstring(content, parser=_strict_parser())
    except etree.XMLSyntaxError as exc:
        if not _ends_with(content, b"</feed>"):
            reason = f"truncated or not XML: {exc}"
            return ApiPage(malformed=True, malformed_reason=reason), [], []
        # Complete but with a defect (say, a stray control character): salvage it the
        # way arxiv's recovering parser would rather than refusing the whole page.
        logger.warning("arXiv API page is not well-formed XML, recovering: %s", exc)
        recovering = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
        root = etree.fromstring(content, parser=recovering)
        if root is None:
            return ApiPage(malformed=True, malformed_reason=f"not XML: {exc}"), [], []
    if root.tag != f"{{{_ATOM}}}feed":
        reason = f"not an Atom feed (root {root.tag})"
        return ApiPage(malformed=True, malformed_reason=reason), [], []
    if root.find("opensearch:totalResults", _NS) is None:
        reason = "no opensearch:totalResults header (not an arXiv API response)"
        return ApiPage(malformed=True, malformed_reason=reason), [], []

    page = ApiPage(
        total_results=_header_int(root, "opensearch:totalResults"),
        start_index=_header_int(root, "opensearch:startIndex"),
        items_per_page=_header_int(root, "opensearch:itemsPerPage"),
    )
    entries = list(root.iterfind("atom:entry", _NS))
    for entry in entries:
        if _entry_ref(entry, 0).startswith(_ERROR_ID_PREFIXES):
            summary = entry.find("atom:summary", _NS)
            message = _collapse(summary.text if summary is not None else "")
            page.error = message or "arXiv API error (no message)"
            return page, [], []

    paper_lines: list[int] = []
    rejected_lines: list[int] = []
    for number, (entry, outcome) in enumerate(
        zip(entries, _results_by_entry(content, entries), strict=True), start=1
    ):
        if not isinstance(outcome, str):
            try:
                page.papers.append(_result_to_paper(outcome, limit))
                paper_lines.append(number)
                continue
            except ValueError as exc:
                outcome = str(exc)
        page.rejected.append((_entry_ref(entry, number), outcome))
        rejected_lines.append(number)
        # The one line the user sees about it as it happens (arxiv's own is silenced).
        logger.warning("skipped an arXiv API entry: %s (%s)", outcome, page.rejected[-1][0])
    return page, paper_lines, rejected_lines


def parse_api_page(content: bytes, latest: Month | str | None = None) -> ApiPage:
    """Parse one arXiv query-API response body (current or legacy Atom layout).

    Never raises for bad input: a fetcher must decide between retrying (``malformed``),
    giving up (``error``) and storing (``papers``), so all three come back as data.
    An entry whose id arXiv cannot have issued by ``latest`` (see
    :func:`~trenddigest.models.split_id`; default: the current month) is rejected.
    """
    return _parse_api(content, latest)[0]


# ----------------------------------------------------------------- listing feeds


@dataclass
class FeedItem:
    """One listing entry: the paper plus what kind of announcement it was.

    ``announced`` is the item's listing date whatever its type; ``paper.announced``
    is only set for ``new``/``cross`` items, because for replacements that date is
    when the update (not the paper) was announced.
    """

    paper: Paper
    announce_type: str
    announced: str | None = None


@dataclass
class FeedPage:
    """One day's listing feed for one category."""

    papers: list[FeedItem] = field(default_factory=list)
    channel_date: str | None = None
    skip_days: list[str] = field(default_factory=list)
    is_empty: bool = True
    rejected: list[tuple[str, str]] = field(default_factory=list)


def _local_date(raw: str | None, parsed: Any = None) -> str | None:
    """The calendar date as written (arXiv dates listings in US Eastern time).

    Converting to UTC first would be harmless at midnight Eastern but wrong for any
    later hour, so the date is read in the timestamp's own offset.
    """
    if raw:
        text = raw.strip()
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            pass
        try:
            return parsedate_to_datetime(text).date().isoformat()
        except (TypeError, ValueError, IndexError):
            pass
    if parsed:
        return f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}"
    return None


def _raw_item_texts(content: bytes) -> dict[str, dict[str, str]]:
    """Exact title/abstract/creator text per item id, straight from the XML.

    feedparser treats an RSS ``<description>`` as HTML and "cleans" it, which eats
    LaTeX such as ``$k<n$`` out of abstracts; the XML text node is the real abstract.
    Returns an empty mapping when the document is not well-formed.
    """
    try:
        root = etree.fromstring(content, parser=_strict_parser())
    except etree.XMLSyntaxError:
        return {}
    texts: dict[str, dict[str, str]] = {}
    if root.tag == "rss":
        for item in root.iterfind("channel/item"):
            key = (item.findtext("guid") or item.findtext("link") or "").strip()
            texts[key] = {
                "title": item.findtext("title") or "",
                "description": item.findtext("description") or "",
                "creator": item.findtext("dc:creator", namespaces=_NS) or "",
            }
    else:
        for entry in root.iterfind("atom:entry", _NS):
            key = (entry.findtext("atom:id", namespaces=_NS) or "").strip()
            texts[key] = {
                "title": entry.findtext("atom:title", namespaces=_NS) or "",
                "description": entry.findtext("atom:summary", namespaces=_NS) or "",
                "creator": entry.findtext("dc:creator", namespaces=_NS) or "",
            }
    return texts


def _feed_item(
    entry: Any, raw: dict[str, str], channel_date: str | None, latest: Month
) -> FeedItem:
    """Map one feedparser entry; raises ValueError with the reason it cannot be used."""
    arxiv_id: str | None = None
    version: int | None = None
    impossible: InvalidArxivIdError | None = None
    for candidate in (entry.get("id"), entry.get("link")):
        if candidate:
            try:
                arxiv_id, version = split_id(candidate, latest)
                break
            except InvalidArxivIdError as exc:
                impossible = impossible or (exc if exc.reason else None)
                continue
    if arxiv_id is None:
        if impossible is not None:
            raise ValueError(f"bad id {impossible.raw!r}: {impossible.reason}")
        raise ValueError(f"no arXiv id in guid/link {entry.get('id') or entry.get('link')!r}")
    title = plain_title(_collapse(raw.get("title") or entry.get("title")))
    if not title:
        raise ValueError("missing title")

    description = raw.get("description") or entry.get("summary") or ""
    announce_type = (entry.get("arxiv_announce_type") or "").strip().lower()
    prefix = _LISTING_PREFIX.match(description)
    if prefix:
        description = description[prefix.end() :]
        announce_type = announce_type or prefix["type"].lower()
        if version is None:
            with contextlib.suppress(ValueError):
                version = split_id(prefix["id"], latest)[1]

    creators = raw.get("creator") or entry.get("author") or ""
    categories = _arxiv_categories(t.get("term") for t in entry.get("tags", []))
    listed = _local_date(entry.get("published"), entry.get("published_parsed")) or channel_date
    paper = Paper(
        id=arxiv_id,
        version=version or 1,
        title=title,
        abstract=_collapse(description),
        authors=[name for a in creators.split(",") if (name := _collapse(a))],
        categories=categories,
        primary_category=categories[0] if categories else "",
        comment=None,  # listing feeds carry no comments: unknown, not "none"
        # A cross-list of a paper announced years ago lists it again, but does not
        # announce it: only a date its id allows is its announce date.
        announced=_announce_date(listed, arxiv_id, latest)
        if announce_type in FIRST_ANNOUNCEMENTS and listed
        else None,
        source="feed",
    )
    return FeedItem(paper=paper, announce_type=announce_type, announced=listed)


def _bozo_reason(parsed: Any) -> str:
    """feedparser's complaint without expat's "<unknown>:2:42:" prefix.

    The position counts lines of feedparser's own rewrite of the document, not of
    the file, so it would send the user to the wrong place.
    """
    text = _collapse(str(parsed.get("bozo_exception") or "not well-formed"))
    return re.sub(r"^<unknown>:\d+:\d+:\s*", "", text) or "not well-formed"


def _parse_listing(
    content: bytes, latest: Month | str | None = None
) -> tuple[FeedPage, list[int], list[int]]:
    """:func:`parse_listing_feed` plus the 1-based item number of each paper and rejection."""
    if not isinstance(content, bytes | bytearray):
        raise TypeError("parse_listing_feed expects bytes")
    limit = latest_month(latest)
    content = bytes(content)
    parsed = feedparser.parse(content, sanitize_html=False, resolve_relative_uris=False)
    version = parsed.get("version") or ""
    is_rss = version.startswith("rss")
    closing = b"</rss>" if is_rss else b"</feed>"
    if not version:
        problem = _bozo_reason(parsed) if parsed.bozo else "not RSS or Atom"
        raise InputError(f"malformed listing feed: {problem}")
    if parsed.bozo:
        problem = _bozo_reason(parsed)
        if not _ends_with(content, closing):
            raise InputError(f"malformed listing feed: {problem}")
        logger.warning("listing feed is not well-formed, using what was recovered: %s", problem)

    channel = parsed.feed
    if is_rss:
        channel_date = _local_date(channel.get("published"), channel.get("published_parsed"))
    else:
        channel_date = None
        for entry in parsed.entries:
            channel_date = _local_date(entry.get("published"), entry.get("published_parsed"))
            if channel_date:
                break
    if channel_date is None:
        channel_date = _local_date(channel.get("updated"), channel.get("updated_parsed"))

    skip = _SKIP_DAYS.search(content)
    skip_days = [d.decode("ascii") for d in _DAY.findall(skip.group(1))] if skip else []

    raw_texts = _raw_item_texts(content) if parsed.entries else {}
    page = FeedPage(channel_date=channel_date, skip_days=skip_days)
    paper_lines: list[int] = []
    rejected_lines: list[int] = []
    for number, entry in enumerate(parsed.entries, start=1):
        raw = raw_texts.get((entry.get("id") or entry.get("link") or "").strip(), {})
        try:
            page.papers.append(_feed_item(entry, raw, channel_date, limit))
            paper_lines.append(number)
        except ValueError as exc:
            # The guid is printed as the rejection's name: no terminal escapes in it.
            ref = _collapse(entry.get("id")) or f"item {number}"
            page.rejected.append((ref, str(exc)))
            rejected_lines.append(number)
    page.is_empty = not parsed.entries
    return page, paper_lines, rejected_lines


def parse_listing_feed(content: bytes, latest: Month | str | None = None) -> FeedPage:
    """Parse an arXiv daily listing feed (RSS 2.0 or Atom, 2024+ layout).

    A weekend or holiday feed is valid and empty (``is_empty``); a feed that is cut
    short or is not a feed at all raises :class:`InputError`, because silently
    storing part of a day would make that day look complete.  An item whose id
    arXiv cannot have issued by ``latest`` (default: the current month) is rejected.
    """
    return _parse_listing(content, latest)[0]


# ------------------------------------------------------------------ JSON Lines


def _is_category(value: Any) -> TypeGuard[str]:
    """Whether ``value`` is spelt like an arXiv category (see ``_CATEGORY``)."""
    return (
        isinstance(value, str)
        and _IS_CATEGORY(value) is not None
        and value.partition(".")[0] in _ARCHIVES
    )


def _first(categories: list[str]) -> str:
    return categories[0] if categories else ""


def _arxiv_categories(values: Any) -> list[str]:
    """The values spelt like arXiv categories, in order; anything else is dropped.

    Categories are no free text: every source (API, feeds, files) could carry a
    backtick, markup or a terminal escape there, and the digest prints the primary
    category verbatim inside a code span.
    """
    return [c for c in values if _is_category(c)]


def _categories(value: Any) -> list[str]:
    """A record's categories: a string ("cs.CV cs.LG", "cs.CV, cs.LG") or a list."""
    if isinstance(value, str):
        if _IS_CATEGORY_LIST(value):
            return [c for c in value.split(" ") if c.partition(".")[0] in _ARCHIVES]
        return _arxiv_categories(_CATEGORY_SEPARATORS.split(value))
    if isinstance(value, list):
        return [c for v in value if isinstance(v, str) and _is_category(c := v.strip())]
    return []


def _untex(text: str) -> str:
    """``text`` with TeX accents and letters (see ``_TEX``) in Unicode, composed (NFC).

    arXiv's own metadata (the Kaggle snapshot, .abs files) keeps names and titles as
    the submitter typed them in TeX; the API and the feeds already give Unicode.
    """
    if "\\" not in text:
        return text
    plain = _TEX.sub(_tex_character, text)
    return unicodedata.normalize("NFC", plain) if plain != text else text


# TeX markup submitters type in titles ("M$^3$-VQA", "\\textit{4DSurf}", "Time $\\times$
# Channel"): the API, the feeds and crawls pass it on, and a reader sees it raw (the
# digest escapes "$", so GitHub does not typeset it either).  Text styles lose their
# markup; a short $...$ made only of superscripts, subscripts and the symbols below
# becomes Unicode, and anything else is left as written.
_TEXT_STYLE = re.compile(
    r"\\(?:text(?:it|bf|rm|tt|sf|sc|up|sl|normal)|emph|math(?:rm|bf|it|sf|tt))\s*\{([^{}$\\]*)\}"
)
_TEXT_SUPERSCRIPT = re.compile(r"\\textsuperscript\s*\{([^{}$\\]*)\}")
_INLINE_MATH = re.compile(r"\$([^$\s](?:[^$]{0,38}[^$\s])?)\$")
_MATH_SYMBOLS = {
    "times": "×", "circ": "°", "pm": "±", "cdot": "·", "infty": "∞", "le": "≤", "leq": "≤",
    "ge": "≥", "geq": "≥", "to": "→", "rightarrow": "→", "approx": "≈", "sim": "∼",
    "star": "⋆", "ast": "∗", "prime": "′", "alpha": "α", "beta": "β", "gamma": "γ",
    "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ", "eta": "η", "theta": "θ",
    "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ",
    "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Pi": "Π",
    "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}  # fmt: skip
_MATH_COMMAND = re.compile(r"\\([A-Za-z]+)")
_WORD = re.compile(r"[A-Za-z]{2,}")
_BINARY = re.compile(r"(?<=[\w)²³¹⁰-⁹₀-₉])([×·±≤≥→≈∼=<>+])(?=[\w(])")
_SCRIPT = re.compile(r"([\^_])(?:\{([^{}]*)\}|(.))")
_SUPERSCRIPTS = dict(zip("0123456789+-=()ni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ", strict=True))
_SUBSCRIPTS = dict(zip("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎", strict=True))


def plain_title(title: str) -> str:
    """``title`` with the TeX markup above turned into the text it shows."""
    if "\\" not in title and "$" not in title:
        return title
    title = _untex(title)
    for _ in range(3):  # nested: \textbf{\emph{Bold}}
        title, styled = _TEXT_STYLE.subn(r"\1", title)
        if not styled:
            break
    title = _TEXT_SUPERSCRIPT.sub(lambda m: _scripted(m[1], _SUPERSCRIPTS) or f"^{m[1]}", title)
    return _INLINE_MATH.sub(lambda m: _plain_math(m[1]) or m[0], title)


def _scripted(text: str, table: dict[str, str]) -> str | None:
    """``text`` in superscript (or subscript) characters, None if one has none."""
    if text == "°":  # ^\circ
        return text
    out = [table.get(char) for char in text]
    return "".join(c for c in out if c) if all(out) and text else None


def _plain_math(math: str) -> str | None:
    """A short formula as Unicode text, or None when it is more than scripts and
    symbols (it is then left as written)."""
    unknown = False

    def symbol(match: re.Match[str]) -> str:
        nonlocal unknown
        name = match[1]
        if name not in _MATH_SYMBOLS:
            unknown = True
            return match[0]
        return _MATH_SYMBOLS[name]

    text = _MATH_COMMAND.sub(symbol, math)

    def script(match: re.Match[str]) -> str:
        nonlocal unknown
        body = match[2] if match[2] is not None else match[3]
        done = _scripted(body, _SUPERSCRIPTS if match[1] == "^" else _SUBSCRIPTS)
        if done is None:
            unknown = True
            return match[0]
        return done

    text = _SCRIPT.sub(script, text)
    if unknown or any(char in text for char in "\\^_{}"):
        return None
    if _WORD.search(text):  # words set in math (\textit{Don't Guess}): as typed
        return text
    # As TeX sets a formula: spaces typed in it do not show, a binary operator between
    # two operands gets one on each side ("7 × 6", "n ≥ 3", "αβ").
    return _BINARY.sub(r" \1 ", "".join(text.split()))


def _tex_character(match: re.Match[str]) -> str:
    if match["special"]:
        return _TEX_LETTERS[match["special"]]
    accent = _COMBINING[match["symbol"] or match["word"]]
    return (match["letter"] or match["dotless"]) + accent


def _split_authors(text: str) -> list[str]:
    """The names in an author string, without their affiliations.

    arXiv's author field reads "A. One (1 and 2), B. Two (1) ((1) Lab, Town, (2) ...)"
    or "A. One (MIT), B. Two, and C. Three": a comma or an "and" inside parentheses
    separates no authors, so parenthesised groups go first (one left open runs to the
    end), then the string is split between names.
    """
    text = _collapse(text)
    if "(" in text or ")" in text:
        while True:
            text, found = _INNERMOST_GROUP.subn(" ", text)
            if not found:
                break
        text = _collapse(text.split("(", 1)[0].replace(")", " "))
    return [_untex(n) for a in _AUTHOR_SPLIT.split(text) if (n := a.strip())]


def _kaggle_authors(obj: dict[str, Any]) -> list[str]:
    """Raises ValueError for an ``authors_parsed`` entry that is not made of strings."""
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for index, parts in enumerate(parsed, start=1):
            # [last, first, suffix, ...]: the string form keeps affiliations, this one
            # is already split by arXiv (TeX accents are still in it).
            if isinstance(parts, list) and parts:
                last, first, suffix = (list(parts[:3]) + ["", ""])[:3]
                try:
                    name = _collapse(" ".join(p for p in (first, last, suffix) if p))
                except TypeError:  # a number or a list where a name belongs
                    raise ValueError(
                        f"bad authors_parsed entry {index}: "
                        "expected [last name, first names, suffix] as text"
                    ) from None
                if name:
                    names.append(_untex(name))
        if names:
            return names
    text = obj.get("authors")
    if isinstance(text, list):
        return _clean_names(text)
    if isinstance(text, str):
        return _split_authors(text)
    return []


def _version_dates(versions: Any) -> tuple[int, str | None, str | None]:
    """``(version, published, updated)`` from Kaggle or .abs-derived version lists."""
    if not isinstance(versions, list) or not versions:
        return 1, None, None
    dates: list[str] = []
    for item in versions:
        if not isinstance(item, dict):
            raise ValueError("bad versions list")
        raw = item.get("created") or item.get("date")
        if not isinstance(raw, str):
            raise ValueError("version without a date")
        try:
            if raw[:4].isdigit():  # ISO (.abs-derived) vs RFC 2822 (Kaggle)
                dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            else:
                dt = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"bad version date {raw!r}") from exc
        dates.append(_iso_utc(dt))
    label = versions[-1].get("version")
    number = len(versions)
    if isinstance(label, str) and label[1:].isdigit():
        number = int(label[1:])
        if number == 0:
            raise ValueError("version v0 does not exist: versions start at v1")
    return number, dates[0], dates[-1]


@functools.lru_cache(maxsize=8)
def _new_style_bound(latest: Month) -> str:
    """The last new-style YYMM issued by ``latest``, for comparing YYMMs as strings.

    New-style YYMMs are 20YY: up to 9912 from 2100 on, none before 2000 (the empty
    string is below every YYMM, so those go to :func:`split_id` for the reason).
    """
    if latest.year >= 2100:
        return "9912"
    return latest.yymm if latest.year >= 2000 else ""


def parse_jsonl_record(obj: dict[str, Any], latest: Month | str | None = None) -> Paper:
    """Map one JSON Lines record (shared crawl format or Kaggle snapshot) to a Paper.

    Raises :class:`ValueError` with a short reason for a record that cannot be used,
    so that the importer can reject that line and carry on; that includes an id arXiv
    cannot have issued by ``latest`` (default: the current month; an importer passes
    one :class:`Month` for the whole file).  Kept lean: it runs once per line of
    multi-GB files.
    """
    raw_id = obj.get("id")
    if raw_id is not None and not isinstance(raw_id, str):
        raise ValueError(f'id must be a string such as "2505.01234", got {raw_id!r}')
    if not raw_id:
        raise ValueError("missing id")
    limit = latest if isinstance(latest, Month) else latest_month(latest)
    yymm = raw_id[:4]
    if (  # the common case: already canonical, of a possible month, its number fitting it
        _BARE_NEW_ID.fullmatch(raw_id)
        and "0704" <= yymm <= _new_style_bound(limit)
        and "01" <= raw_id[2:4] <= "12"
        and (len(raw_id) == 10 or yymm < FIVE_DIGITS_START)
        and raw_id[5:] not in _ZERO_NUMBERS
    ):
        arxiv_id, id_version = raw_id, None
    else:
        try:
            arxiv_id, id_version = split_id(raw_id, limit)
        except InvalidArxivIdError as exc:
            reason = (
                exc.reason or "not an arXiv id such as 2505.01234, 2505.01234v2 or math/0601001"
            )
            raise ValueError(f"bad id {raw_id!r}: {reason}") from None
    title_raw = obj.get("title")
    title = plain_title(_collapse(title_raw)) if isinstance(title_raw, str) else ""
    if not title:
        raise ValueError("missing title")
    categories = _categories(obj.get("categories"))
    raw_primary = obj.get("primary_category")
    primary = raw_primary if _is_category(raw_primary) else _first(categories)
    abstract = obj.get("abstract")
    if abstract is None:
        abstract = obj.get("summary")
    comment = _stated_comment(obj)

    if "versions" in obj:  # Kaggle snapshot (or the .abs-derived files)
        version, published, updated = _version_dates(obj["versions"])
        return Paper(
            id=arxiv_id,
            version=id_version or version,
            title=title,
            abstract=_collapse(abstract) if isinstance(abstract, str) else "",
            authors=_kaggle_authors(obj),
            categories=categories,
            primary_category=primary,
            comment=comment,
            published=published,
            updated=updated,
            source="kaggle" if "update_date" in obj else "jsonl",
        )

    authors = obj.get("authors")
    if isinstance(authors, list):
        author_list = _clean_names(authors)
    elif isinstance(authors, str):
        author_list = _split_authors(authors)
    else:
        author_list = []
    return Paper(
        id=arxiv_id,
        version=id_version or 1,
        title=title,
        abstract=_collapse(abstract) if isinstance(abstract, str) else "",
        authors=author_list,
        categories=categories,
        primary_category=primary,
        comment=comment,
        announced=_first_seen_date(obj.get("first_seen"), arxiv_id, limit),
        source="jsonl",
    )


def _stated_comment(obj: dict[str, Any]) -> str | None:
    """A record's comment (``comment``, else Kaggle's ``comments``): ``""`` when the
    record says the paper has none, ``None`` when it does not say.

    Both formats write the key for every paper, null for none: the shared crawl
    (arXiv's API answer, ``null`` where it had no ``arxiv:comment``) and Kaggle's
    snapshot (``"comments": null``).  A key present with ``null`` or ``""`` therefore
    states "no comment", and a newer version's record clears a stored withdrawal
    notice; a record without either key (a hand-made file, another exporter) knows
    nothing about comments and must not wipe one.  A value that is no text says
    nothing either.
    """
    stated = False
    for key in ("comment", "comments"):
        value = obj.get(key)
        if isinstance(value, str):
            if text := _collapse(value):
                return text
            stated = True
        elif value is None and key in obj:
            stated = True
    return "" if stated else None


# How many months after the month of its id a paper can first be announced: arXiv
# announces a submission within days, a Friday's mailing on the 1st of the next
# month, and a moderation hold rarely lasts weeks.  A crawl that first saw a paper
# later saw it listed again (a cross-list, a new version), not announced.
ANNOUNCE_MONTHS_AFTER_ID = 2


def _first_seen_date(value: Any, arxiv_id: str, latest: Month) -> str | None:
    """A crawl's ``first_seen`` as an ISO date, or None when it is no date or not one
    the paper can have been announced on: before the month of its id (arXiv numbers a
    paper when it is submitted, and announces it after), more than
    :data:`ANNOUNCE_MONTHS_AFTER_ID` months after it, or after ``latest``.

    A paper is still good without it.  Kept, a wrong date would stay the paper's
    announce date for good, since the store keeps the earliest one: "06/02/2025"
    sorts before every real date, and a typo'd year or an epoch placeholder
    ("1970-01-01") files the paper under a month decades before it existed; a
    re-listing two years on would list a 2024 paper as announced this month.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        day = date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None
    return _announce_date(day, arxiv_id, latest)


def _announce_date(day: str, arxiv_id: str, latest: Month) -> str | None:
    """``day`` (ISO) if a paper of ``arxiv_id`` can have been announced then (see
    :func:`_first_seen_date`), else None."""
    issued = id_month(arxiv_id)  # "YYYY-MM"; compared as text, it runs once per record
    year, month = int(issued[:4]), int(issued[5:7]) + ANNOUNCE_MONTHS_AFTER_ID
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    last = min(f"{year:04d}-{month:02d}", str(latest))
    return day if issued <= day[:7] <= last else None
