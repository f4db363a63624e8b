"""Plain data shared by every stage: papers, arXiv ids and months.

Parsers produce :class:`Paper` objects, the store persists them, the ranker reads
them.  Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from .errors import InputError

# New-style ids (0704.0001 onwards): YYMM.NNNN or YYMM.NNNNN, optional vN.
# re.ASCII: \d would also match full-width and other Unicode digits, keying one paper
# twice and filing it under a month no lookup finds.
# The version suffix is read whatever its case ("2505.01234V2", as some lists write it).
_NEW_ID = re.compile(r"^(?P<yymm>\d{4})\.(?P<num>\d{4,5})(?:[vV](?P<v>\d+))?$", re.ASCII)
# Old-style ids: archive(.SUBJ)?/YYMMNNN, optional vN (math/0601001, math.AG/0601001v2).
_OLD_ID = re.compile(
    r"^(?P<archive>[a-z][a-z\-]*(?:\.[A-Za-z\-]+)?)/(?P<yymm>\d{4})(?P<num>\d{3})(?:[vV](?P<v>\d+))?$",
    re.ASCII,
)
# What may come before an id: an abs/pdf/api URL of arxiv.org or one of its hosts
# (www., export.), with or without the scheme, an OAI identifier, or "arXiv:" (with or
# without a space after the colon, as reference lists write it).
_PREFIX = re.compile(
    r"^(?:(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|api)/|oai:arxiv\.org:|arxiv:\s*)",
    re.IGNORECASE | re.ASCII,
)
_MONTH = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})$", re.ASCII)
# The notice of a withdrawn paper, in its abstract or its comments: "The paper has been
# withdrawn by the authors.", "This article was withdrawn because ...", "Withdrawn due
# to ...", "Withdrawn: ...", "withdrawn, see ... instead", "Withdrawn.", "The authors
# have withdrawn this paper", "We withdraw this paper ...", "This paper has been removed
# by arXiv administrators ...", any of them after arXiv's "arXiv admin note:".  Only at
# the start, so an abstract about "withdrawn users" or a comment on "withdrawn
# baselines" is not taken for one; and never "withdrawn from" a venue ("withdrawn from
# NeurIPS, accepted at CVPR" is a paper very much alive), only from arXiv.
_PAPER_WORD = r"(?:paper|article|manuscript|submission|preprint|work|version|report)s?"
_NOT_FROM_A_VENUE = r"(?!\s+from\b(?!\s+(?:the\s+)?arxiv\b))"
_WITHDRAWN = re.compile(
    r"\s*(?:arxiv\s+admin\s+note\s*:\s*)?(?:"
    rf"(?:(?:the|this)\s+)?{_PAPER_WORD}"
    r"\s+(?:has\s+been\s+|had\s+been\s+|is\s+being\s+|was\s+|is\s+)?"
    rf"(?:withdrawn\b{_NOT_FROM_A_VENUE}|removed\s+by\s+arxiv\b)"
    r"|withdrawn\s*(?:[^\w\s]|$)"
    r"|withdrawn\s+(?:by|due|because|owing|since|as|for|pending|after|upon|at\s+the)\b"
    r"|(?:the\s+)?(?:authors?|submitter)\s+(?:has|have|had)\s+withdrawn\s+"
    rf"(?:this|the|our|his|her|their)\s+{_PAPER_WORD}\b"
    rf"|(?:we|i)\s+(?:have\s+)?(?:withdraw|withdrew|withdrawn)\s+(?:this|the|our|my)\s+{_PAPER_WORD}\b"
    r"|removed\s+by\s+arxiv\b)",
    re.IGNORECASE,
)
# (year, month) of the first new-style id (0704.0001) and of the first and last
# months that old-style ids (archive/YYMMNNN) were issued in.
NEW_STYLE_START = (2007, 4)
OLD_STYLE_START = (1991, 8)
OLD_STYLE_END = (2007, 3)
# New-style ids numbered papers within a month with 4 digits up to 1412 (December
# 2014) and with 5 digits from 1501 on.
FIVE_DIGITS_START = "1501"
# arXiv's archives today, the part of a category before the dot (cs.CV, math.AG, hep-th).
ARXIV_ARCHIVES = [
    "astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
    "hep-th", "math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin",
    "quant-ph", "stat",
]  # fmt: skip
# The archives old-style ids were issued in (the part before the slash, less any
# subject class: math.GT/0309136 is in math).
OLD_ARCHIVES = frozenset(
    {
        "acc-phys", "adap-org", "alg-geom", "ao-sci", "astro-ph", "atom-ph", "bayes-an",
        "chao-dyn", "chem-ph", "cmp-lg", "comp-gas", "cond-mat", "cs", "dg-ga", "funct-an",
        "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math", "math-ph", "mtrl-th", "nlin",
        "nucl-ex", "nucl-th", "patt-sol", "physics", "plasm-ph", "q-alg", "q-bio", "quant-ph",
        "solv-int", "supr-con",
    }
)  # fmt: skip
# The time zone furthest ahead (UTC+14): it is next month there up to 14 hours before
# it is in UTC, and an id of that month may already exist.
_EARLIEST_ZONE = timedelta(hours=14)
# arXiv keeps US Eastern time: submissions close at 14:00 (Monday to Friday) and each
# day's mailing is announced at 20:00, Friday's on the Sunday after.
ARXIV_TIMEZONE = ZoneInfo("America/New_York")
_ANNOUNCE_HOUR = 20


class InvalidArxivIdError(ValueError):
    """Text that is not an arXiv id; ``reason`` says why when it only looks like one.

    A ``ValueError`` so that callers that only care whether an id parses need not
    know this class; parsers use ``reason`` to tell the user what is wrong.
    """

    def __init__(self, raw: str, reason: str = "") -> None:
        super().__init__(f"not an arXiv identifier: {raw!r}" + (f" ({reason})" if reason else ""))
        self.raw = raw
        self.reason = reason


def _id_year(yymm: str, new_style: bool) -> int:
    """The year of an id's YYMM.

    New-style ids exist only from 2007 on, so their YY is always 20YY (``9912`` is
    December 2099, not 1999); old-style ids ran from 1991 to 2007, so theirs is 19YY
    from 91 on and 20YY below.
    """
    yy = int(yymm[:2])
    if new_style or yy < 91:
        return 2000 + yy
    return 1900 + yy


def _yymm_problem(yymm: str, new_style: bool) -> str | None:
    """Why the YYMM of an id names no month in which arXiv issued such ids, or None."""
    mm = int(yymm[2:])
    if not 1 <= mm <= 12:
        return f"month {yymm[2:]} in YYMM {yymm} does not exist"
    when = (_id_year(yymm, new_style), mm)
    if new_style and when < NEW_STYLE_START:
        return f"YYMM {yymm} is too early: ids like 0704.0001 start at 0704, April 2007"
    if not new_style and not OLD_STYLE_START <= when <= OLD_STYLE_END:
        return (
            f"YYMM {yymm} is out of range: ids like math/0601001 ran from 9108 to 0703, "
            "August 1991 to March 2007"
        )
    return None


def current_month(now: datetime | None = None) -> Month:
    """The latest month an arXiv id can belong to at ``now`` (default: the system clock).

    That is the month of ``now`` in UTC+14, the time zone furthest ahead, so that an
    id of next month is not refused on the last evening of a month in UTC.  Parsers
    take the result as ``latest`` (tests pass a fixed month), so that they stay
    deterministic and only their entry points read the clock.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC) + _EARLIEST_ZONE
    return Month(moment.year, moment.month)


def latest_month(latest: Month | str | None = None) -> Month:
    """``latest`` as a :class:`Month`: a month, ``"YYYY-MM"``, or None for :func:`current_month`."""
    if latest is None:
        return current_month()
    if isinstance(latest, Month):
        return latest
    return Month.parse(latest)


def _future_problem(yymm: str, latest: Month | str | None) -> str | None:
    """Why a new-style YYMM is after ``latest`` (no such id exists yet), or None."""
    when = Month(_id_year(yymm, new_style=True), int(yymm[2:]))
    limit = latest_month(latest)
    if (when.year, when.month) <= (limit.year, limit.month):
        return None
    return (
        f"YYMM {yymm} is {when.spelled}, after the current month ({limit.spelled}): "
        "arXiv has issued no such id yet"
    )


def _number_problem(yymm: str, num: str, new_style: bool) -> str | None:
    """Why a paper number cannot follow its YYMM (digit count, or zero), or None."""
    # A 5-digit number before 1501 is not one arXiv issued, but it names a real month
    # and harms nothing: the benchmark's store of all of arXiv (13,500 papers a month
    # for 200 months) numbers its synthetic papers that way.  A 4-digit number from
    # 1501 on is refused, so a truncated id is not taken for another paper.
    if new_style and yymm >= FIVE_DIGITS_START and len(num) == 4:
        return (
            f"YYMM {yymm} takes a 5-digit number, as in {yymm}.00001: 4-digit numbers "
            "ended at 1412, December 2014"
        )
    if not num.strip("0"):
        return f"number {num} does not exist: numbering starts at {num[:-1]}1"
    return None


def _version_problem(version: str | None) -> str | None:
    if version is not None and int(version) == 0:
        return "version v0 does not exist: versions start at v1"
    return None


def split_id(raw: str, latest: Month | str | None = None) -> tuple[str, int | None]:
    """Return ``(id_without_version, version)`` for any spelling arXiv uses.

    Accepts bare ids, ``arXiv:`` prefixes, OAI identifiers and abs/pdf/api URLs, so
    that every source keys the same paper the same way.  Raises
    :class:`InvalidArxivIdError` (a ValueError) for anything that is not an arXiv id,
    including ids shaped right that arXiv never issued: a YYMM that is no month
    (``2513.12345``: stored, it would file the paper under month 13) or outside the
    months of its style, a new-style YYMM after ``latest`` (``9107.00001`` would be
    July 2091; ``latest`` is a :class:`Month` or ``"YYYY-MM"``, by default
    :func:`current_month`), a 4-digit number from 1501 on (``2505.0001``, a
    truncated id) or number zero, version ``v0``, and an old-style
    archive arXiv never had (``foo/0601001``).
    """
    text = raw.strip()
    prefix = _PREFIX.match(text)
    if prefix:
        text = text[prefix.end() :]
    if text.endswith(".pdf"):
        text = text[:-4]
    m = _NEW_ID.match(text)
    if m:
        yymm, num = m["yymm"], m["num"]
        problem = (
            _yymm_problem(yymm, new_style=True)
            or _future_problem(yymm, latest)
            or _number_problem(yymm, num, new_style=True)
            or _version_problem(m["v"])
        )
        if problem:
            raise InvalidArxivIdError(raw, problem)
        return f"{yymm}.{num}", int(m["v"]) if m["v"] else None
    m = _OLD_ID.match(text)
    if m:
        archive = m["archive"].split(".")[0].lower()
        problem = (
            (
                f"archive {archive!r} is not an arXiv archive: old-style ids begin with "
                "one such as math, hep-th or cond-mat, as in math/0601001"
            )
            if archive not in OLD_ARCHIVES
            else None
        )
        problem = (
            problem
            or _yymm_problem(m["yymm"], new_style=False)
            or _number_problem(m["yymm"], m["num"], new_style=False)
            or _version_problem(m["v"])
        )
        if problem:
            raise InvalidArxivIdError(raw, problem)
        return f"{archive}/{m['yymm']}{m['num']}", int(m["v"]) if m["v"] else None
    raise InvalidArxivIdError(raw)


def papers_of(by: str, first: Month | str, last: Month | str | None = None) -> str:
    """How messages name the papers of a month (or a range of months) under ``by``:
    "from 2025-05 (by arXiv id)" or "announced in 2025-05"."""
    single = last is None or str(last) == str(first)
    span = f"{first}" if single else f"{first} to {last}"
    if by == "submitted":
        return f"from {span} (by arXiv id)"
    return f"announced {'in' if single else 'from'} {span}"


def id_month(arxiv_id: str) -> str:
    """The month (``YYYY-MM``) a canonical id was issued in: arXiv numbers a paper in the
    month of its mailing's 14:00 deadline (a paper submitted on the evening of the 31st
    is numbered in the next month; one in Friday the 30th's mailing keeps its month's
    id although arXiv announces it on Sunday the 1st).

    ``"2505.01234"`` -> ``"2025-05"``, ``"math/9108001"`` -> ``"1991-08"``.  Takes the
    id as :func:`split_id` returns it (no prefix or version): it runs for every paper
    stored, so it reads the YYMM directly.  Raises :class:`InvalidArxivIdError` for
    an id whose YYMM is not a possible month.
    """
    yymm = arxiv_id[:4]
    if arxiv_id[4:5] == "." and yymm.isdigit() and yymm >= "0704" and "01" <= yymm[2:] <= "12":
        return f"20{yymm[:2]}-{yymm[2:]}"  # the common case, as cheaply as it gets
    slash = arxiv_id.find("/")
    new_style = slash < 0
    yymm = arxiv_id[:4] if new_style else arxiv_id[slash + 1 : slash + 5]
    if len(yymm) != 4 or not (yymm.isascii() and yymm.isdigit()):
        raise InvalidArxivIdError(arxiv_id)
    problem = _yymm_problem(yymm, new_style)
    if problem:
        raise InvalidArxivIdError(arxiv_id, problem)
    return f"{_id_year(yymm, new_style)}-{yymm[2:]}"


def last_announcement(month: Month) -> datetime:
    """When arXiv announces the last papers whose ids carry ``month`` (20:00 US Eastern).

    arXiv numbers a mailing in the month of its 14:00 deadline and announces it at
    20:00 the same day, except Friday's, which comes out on Sunday: in a month that
    ends on a Friday or a Saturday, its last ids are announced on the Sunday after it,
    the 1st or 2nd of the next month.  (May 2025 ended on a Saturday; its last ids,
    2505.23783 to 2505.24878, were in the listing of Monday, June 2, announced on the
    evening of Sunday, June 1, while June's numbering began the day after.)  A holiday
    only makes it earlier: a mailing arXiv skips is numbered in the month it is
    announced in.
    """
    day = month.next_first_day - timedelta(days=1)
    while day.weekday() >= 5:  # no deadline on Saturday or Sunday
        day -= timedelta(days=1)
    if day.weekday() == 4:  # Friday's mailing is announced on Sunday
        day += timedelta(days=2)
    return datetime(day.year, day.month, day.day, _ANNOUNCE_HOUR, tzinfo=ARXIV_TIMEZONE)


# arXiv's API lags its announcements: ten hours after the last one of a month (20:00 ET,
# so 06:00 ET the next morning) its papers can be asked for.
API_SETTLE = timedelta(hours=10)

# A month with fewer papers than this share of the busiest month near it is taken to be
# held only in part: the trends leave it out of their comparisons, a digest of it says so.
PARTIAL_RATIO = 0.25


def latest_complete_month(now: datetime, settle: timedelta = timedelta(0)) -> Month:
    """The newest month whose last announcement (see :func:`last_announcement`) was at
    least ``settle`` before ``now``: arXiv will announce no more papers of it.

    The month just ended in New York is not always complete: one that ended on a
    Friday or a Saturday still has a mailing to come on the Sunday after it.
    ``settle`` leaves arXiv's API time to catch up with an announcement.
    """
    local = now.astimezone(ARXIV_TIMEZONE)
    month = Month(local.year, local.month)
    while now < last_announcement(month) + settle:
        month = month.shift(-1)
    return month


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, the unit a digest covers (ordered by time)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        m = _MONTH.match(text.strip())
        if not m or not 1 <= int(m["m"]) <= 12:
            raise InputError(
                f"invalid month {text!r}: use YYYY-MM with a month from 01 to 12, e.g. 2025-05"
            )
        if (int(m["y"]), int(m["m"])) < OLD_STYLE_START:
            raise InputError(
                f"invalid month {text!r}: arXiv began in August 1991; give 1991-08 or later"
            )
        return cls(int(m["y"]), int(m["m"]))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def yymm(self) -> str:
        return f"{self.year % 100:02d}{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next_first_day(self) -> date:
        return self.shift(1).first_day

    def shift(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    @property
    def spelled(self) -> str:
        """The month in words: ``"May 2025"``."""
        return f"{self.first_day.strftime('%B')} {self.year}"

    @property
    def label(self) -> str:
        """Heading text in the style of the seed lists: ``"May, 2025"``."""
        return f"{self.first_day.strftime('%B')}, {self.year}"


@dataclass
class Paper:
    """One arXiv paper as the store keeps it (newest version wins).

    Dates are ISO-8601 strings (``YYYY-MM-DD`` or full timestamps in UTC) so that
    they round-trip through SQLite and JSON unchanged.

    ``comment`` is the version's comments field, ``""`` when the source says it has
    none.  ``None`` is a record from a source that cannot tell (the listing feeds carry
    no comments; a file without the key): when the store merges records, a stated
    comment of a newer version replaces the stored one even when empty (a withdrawal
    notice of v2 must not outlive v3), while an unknown one never wipes it.  The store
    keeps ``""`` for a comment never stated, so papers it returns always have a string.
    """

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str = ""
    comment: str | None = ""  # None: unknown to the source (see above)
    version: int = 1
    published: str | None = None  # first version (v1) submission time
    updated: str | None = None  # newest version's time
    announced: str | None = None  # announce date (listing feeds, crawls)
    source: str = ""

    @property
    def month(self) -> str:
        """The month arXiv first announced the paper in (``YYYY-MM``), from its id.

        Both id styles carry it in their YYMM.  The v1 date is used when an id does
        not parse (the parsers reject such records, so it should not happen).
        """
        try:
            return id_month(self.id)
        except ValueError:
            return (self.published or "")[:7]

    @property
    def withdrawn(self) -> bool:
        """The authors retracted the paper, or arXiv removed it.

        arXiv says so with a notice in place of the abstract or, as often, in the
        comments of the withdrawn version (whose abstract stays as it was), so both
        are read.  Its title still names the topic, so the ranker would otherwise
        recommend it.
        """
        return any(text and _WITHDRAWN.match(text) for text in (self.abstract, self.comment))

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}"
