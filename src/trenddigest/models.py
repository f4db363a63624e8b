"""Plain data shared by every stage: papers, arXiv ids and months.

Parsers produce :class:`Paper` objects, the store persists them, the ranker reads
them.  Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from .errors import InputError

# New-style ids (0704.0001 onwards): YYMM.NNNN or YYMM.NNNNN, optional vN.
_NEW_ID = re.compile(r"^(?P<yymm>\d{4})\.(?P<num>\d{4,5})(?:v(?P<v>\d+))?$")
# Old-style ids: archive(.SUBJ)?/YYMMNNN, optional vN (math/0601001, math.AG/0601001v2).
_OLD_ID = re.compile(
    r"^(?P<archive>[a-z][a-z\-]*(?:\.[A-Za-z\-]+)?)/(?P<yymm>\d{4})(?P<num>\d{3})(?:v(?P<v>\d+))?$"
)
_PREFIXES = (
    "https://arxiv.org/abs/",
    "http://arxiv.org/abs/",
    "https://arxiv.org/pdf/",
    "http://arxiv.org/pdf/",
    "https://export.arxiv.org/abs/",
    "http://export.arxiv.org/abs/",
    "http://arxiv.org/api/",
    "https://arxiv.org/api/",
    "oai:arxiv.org:",
    "arxiv:",
)
_MONTH = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})$")


def split_id(raw: str) -> tuple[str, int | None]:
    """Return ``(id_without_version, version)`` for any spelling arXiv uses.

    Accepts bare ids, ``arXiv:`` prefixes, OAI identifiers and abs/pdf/api URLs, so
    that every source keys the same paper the same way.  Raises :class:`ValueError`
    for anything that is not an arXiv id.
    """
    text = raw.strip()
    lowered = text.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :]
            break
    if text.endswith(".pdf"):
        text = text[:-4]
    m = _NEW_ID.match(text)
    if m:
        base = f"{m['yymm']}.{m['num']}"
        return base, int(m["v"]) if m["v"] else None
    m = _OLD_ID.match(text)
    if m:
        archive = m["archive"].split(".")[0].lower()
        return f"{archive}/{m['yymm']}{m['num']}", int(m["v"]) if m["v"] else None
    raise ValueError(f"not an arXiv identifier: {raw!r}")


def id_yymm(arxiv_id: str) -> str:
    """The YYMM embedded in an id: when the paper was first submitted."""
    tail = arxiv_id.split("/")[-1]
    return tail[:4]


def yymm_to_month(yymm: str) -> str:
    """``"2505"`` -> ``"2025-05"``; ids from 1991..2090 are unambiguous."""
    yy, mm = int(yymm[:2]), yymm[2:]
    year = 1900 + yy if yy >= 91 else 2000 + yy
    return f"{year}-{mm}"


@dataclass(frozen=True)
class Month:
    """A calendar month, the unit a digest covers."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        m = _MONTH.match(text.strip())
        if not m or not 1 <= int(m["m"]) <= 12 or int(m["y"]) < 1991:
            raise InputError(
                f"invalid month {text!r}: use YYYY-MM with a month from 01 to 12, e.g. 2025-05"
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
    def label(self) -> str:
        """Heading text in the style of the seed lists: ``"May, 2025"``."""
        return f"{self.first_day.strftime('%B')}, {self.year}"


@dataclass
class Paper:
    """One arXiv paper as the store keeps it (newest version wins).

    Dates are ISO-8601 strings (``YYYY-MM-DD`` or full timestamps in UTC) so that
    they round-trip through SQLite and JSON unchanged.
    """

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str = ""
    comment: str = ""
    version: int = 1
    published: str | None = None  # first version (v1) submission time
    updated: str | None = None  # newest version's time
    announced: str | None = None  # announce date (listing feeds, crawls)
    source: str = ""

    @property
    def month(self) -> str:
        """The month the paper was first submitted (``YYYY-MM``).

        New-style ids carry it; for old-style ids it is also the id's YYMM.  The v1
        date is used when an id does not parse (it always should).
        """
        try:
            return yymm_to_month(id_yymm(self.id))
        except (ValueError, IndexError):
            return (self.published or "")[:7]

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}"
