"""Research trends: what is gaining ground, not only this month's list.

For a month M, from the papers the store already holds:

* category momentum: each category's count and share of M's papers against the
  pooled share of the trailing 3 and 12 months;
* rising terms: unigrams and bigrams whose document frequency grew most against the
  trailing months (with a minimum support and additive smoothing, so a term going
  from 1 to 3 papers does not outrank one going from 40 to 120), a singular and its
  plural counted as one term; words that name no topic are left out: boilerplate,
  pieces of longer phrases or hyphenated compounds, and words whose papers have
  nothing else in common; nor is a term whose papers are mostly those of a term
  listed above it and a good part of that term's ("rl" below "reinforcement
  learning"): it would say the same twice, where a narrower topic ("verifiable
  rewards") says more; a phrase replaces its listed word ("closed loop" for "loop"),
  even a phrase ranked just past the end of the list, and the terms left out as
  repeats of that word are checked again;
* emerging topics: NMF clusters of the papers that fit no category, each offered as
  a ready-to-paste ``[[category]]`` entry;
* top picks: the month's best papers, diversified across categories and with near
  duplicates removed;
* the category volume series behind the charts in :mod:`trenddigest.chart`.

Ranking a month costs seconds, so the per-month category counts, term document
frequencies and emerging topics are cached in the store's ``cache`` table, keyed by
month and invalidated by the month's fingerprint (any paper added or changed) plus a
hash of everything else they depend on (categories, rank settings, ranker code).

Months the store holds only a sliver of (fewer papers than ``partial_ratio`` of the
busiest month around M, e.g. the late-March papers first announced in April) are
left out of baselines and charts and named in the notes, since a 300-paper month
next to 5,000-paper months reads as a collapse that never happened.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import warnings
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jinja2
import numpy as np

from . import rank as rank_module
from .cache import code_version, digest, read_cached, write_cached
from .categories import Category, Exemplar, Keyword, category_to_toml
from .chart import VolumeSeries, legend_markdown, mermaid_xychart, render_png
from .config import RankConfig
from .errors import InputError
from .models import PARTIAL_RATIO, Month, Paper, papers_of
from .rank import RankedPaper, Ranking, paper_text, rank_papers
from .store import Store
from .terms import (
    MODIFIERS,
    TOKEN_OR_JOINT,
    TermCounts,
    TermMatrix,
    document_terms,
    is_word,
    number_key,
    term_key,
    term_matrix,
    without_latex,
)
from .tfidf import TfidfVectorizer

log = logging.getLogger(__name__)

TEMPLATE_NAME = "trends.md.j2"
# How the packaged template starts a standalone report (what `trends` may replace).
TREND_REPORT_HEADING = "# Research trends: "
# Bump when cached category counts change meaning.  (Term and topic caches are keyed by
# this module's code, category counts by the ranker's code: those follow on their own.)
CACHE_VERSION = "1"

# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class TrendOptions:
    """Knobs of the trend analysis; the defaults suit ~5,000 papers a month."""

    term_window: int = 3  # trailing months the rising terms are measured against
    min_support: int = 15  # a rising term must occur in at least this many papers of M
    smoothing: float = 10.0  # pseudo-papers added to both sides of the growth ratio
    max_terms: int = 10
    term_examples: int = 2
    min_title_papers: int = 2  # a rising term stands in at least this many titles
    title_share: float = 1 / 12  # ... and in at least this share of its papers' titles
    fragment_share: float = 0.8  # a term beside the same word in this share of its papers
    # is a fragment of a longer phrase ("language action" of "vision language action"),
    # and one joined by a hyphen in this share a piece of a compound ("sided", "two-sided")
    min_cohesion: float = 1.1  # the papers using a rising term are this many times as
    # alike as two papers of the month: a word they share and nothing else is no topic
    repeat_share: float = 0.5  # a term with this share of its papers using a term listed
    # above it repeats that term ("rl" of "reinforcement learning", 90% in 2025-05): on
    # the real months repeats share 60% or more, distinct topics at most 42%...
    repeat_cover: float = 1 / 3  # ... when they are also this share of that term's papers:
    # a narrower topic inside a broad one is no repeat.  In 2025-05 the repeats cover 48%
    # ("rl"), 50% ("clinical decision") to 79% of the upper term's papers, the narrower
    # topics 8% ("verifiable rewards"), 19% ("policy optimization"), 21% ("grpo") of
    # "reinforcement learning"'s: a third is well clear of both.  Word forms as far apart
    # in size ("cited", 21% of "citation"'s papers) are then listed apart too.
    rename_window: int = 10  # candidates past the end of a full list still looked at, each
    # only as a phrase to replace its listed word ("closed loop", the 2nd past
    # the end in 2025-07, for "loop"); one further down grew too little to stand for it
    # ("tabular data", x1.55 and 25th past the end in 2025-06, for "tabular", x1.86)
    partial_ratio: float = PARTIAL_RATIO  # a month under this share of the busiest one
    max_topics: int = 16  # NMF components asked for, at most
    papers_per_topic: int = 40  # unmatched papers per NMF component asked for
    shown_topics: int = 8  # coherent clusters reported: fastest growing (else largest) first
    min_topic_lift: float = 4.0  # share * lift of a topic's most telling term, at least
    min_unmatched: int = 30  # fewer unmatched papers than this: no clustering
    min_topic_size: int = 10
    min_topic_coverage: float = 0.5  # share of members that must contain a name term
    topic_terms: int = 6
    topic_examples: int = 3
    top_picks: int = 10
    picks_per_category: int = 3
    duplicate_similarity: float = 0.8
    chart_series: int = 6


DEFAULT_OPTIONS = TrendOptions()

# --------------------------------------------------------------------------- terms

# Words that say a paper is a paper, not what it is about.  Topic names and rising
# terms skip terms made of them.
_BOILERPLATE = frozenset(
    """propose proposed proposes novel approach approaches method methods paper results
    result demonstrate demonstrates experiments experimental extensive existing state art
    outperforms outperform achieves achieve achieving significantly significant code
    available publicly furthermore however address introduce introduces present presents
    leverage leverages leveraging various superior show shows work effectively exhibit
    exhibits findings reveal reveals insights""".split()  # noqa: SIM905
)
# Words too general to name a topic alone; a phrase of them and another word may
# ("tabular data").
_GENERIC = frozenset(
    """model models data learning framework performance task tasks dataset datasets
    benchmark benchmarks based using use used new study effective improve improves improved
    key challenges challenge large high information training method different real world
    ai artificial intelligence problem problems system systems quality specific complex""".split()  # noqa: SIM905
)
# The verbs titles frame a claim with ("Rethinking X", "Unlocking X", "When X Hurts
# Y", "Why X Matters"): they stand in titles as much as the subject does, so the
# title rule does not stop them, but they name no topic.
_FRAMING = frozenset(
    """rethinking revisiting revisited unveiling unleashing unlocking uncovering tackling
    overcoming bridging empowering harnessing advancing improving enhancing exploring
    examining investigating beats does happens helps hurts lets matters needs""".split()  # noqa: SIM905
)
# Spelled-out Greek letters name a formula's symbols ("phi-divergence", "alpha = 0.5",
# the LaTeX of a plain-text abstract), ordinals a place ("1st place") and v1, v2... a
# version: none is a topic alone.
_GREEK = frozenset(
    """alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi
    rho sigma tau upsilon phi chi psi omega""".split()  # noqa: SIM905
)
_ORDINAL_OR_VERSION = re.compile(r"\d+(?:st|nd|rd|th)|v\d+")
# An adverb says how, never what ("mechanistically", "temporally consistent",
# "rapidly"): a word of over six letters ending in -ly is one, unless it ends like
# these nouns and adjectives that name a thing, a method or a group ("anomaly" and
# methods named after it, "Dinomaly"; "self assembly", "homophily", "cardiomegaly",
# "elderly"), checked against the -ly words of the real 2025 and 2026 samples, or in
# -fly (insects and names such as "OpenFly"), but for "briefly", "chiefly", "stiffly".
# Shorter -ly words are too often nouns ("family", "supply").
_NOT_ADVERBS = tuple(
    """omaly ssembly family supply opoly megaly phily fly elderly scholarly""".split()  # noqa: SIM905
)
_FLY_ADVERBS = ("iefly", "ffly")
# Singular or plural ("frameworks" as "framework").
_NOT_ALONE = frozenset(number_key(w) for w in _GENERIC | _FRAMING | _GREEK)


def _free_name(name: str, month: str, taken: set[str]) -> str:
    """``name``, or ``name (month)``, ``name (month, 2)``... whichever no category or
    earlier candidate has: a lab that pasted "X" and then "X (2025-05)" must be offered
    a name its categories file can take a third time."""
    candidate, n = name, 1
    while candidate.casefold() in taken:
        candidate = f"{name} ({month})" if n == 1 else f"{name} ({month}, {n})"
        n += 1
    return candidate


@functools.lru_cache(maxsize=1 << 16)  # asked of the same terms for every month
def _is_topical(term: str) -> bool:
    """False for boilerplate ("propose", "state art") and generic words ("model"): the
    words the emerging topics are clustered by."""
    words = term.split(" ")
    if len(words) == 1:
        return term not in _BOILERPLATE and term not in _GENERIC
    return not any(w in _BOILERPLATE for w in words) and not all(w in _GENERIC for w in words)


@functools.lru_cache(maxsize=1 << 16)
def _names_a_topic(term: str) -> bool:
    """Whether a reader shown ``term`` as a rising term or a topic's term learns what
    papers are about: :func:`_is_topical`, and no adverb ("mechanistically",
    "temporally consistent"), nor a generic word in either number ("frameworks"), a
    framing verb ("hurts") or a symbol ("phi", "v2") alone, nor "X based", which says
    no more than X ("Mamba-based" papers are Mamba papers).  Boilerplate is matched
    as written: "code" is, "codes" (of coding theory) is not.

    Clustering keeps the plainer rule: among thousands of features an adverb such as
    "clinically" still helps group papers, and the clusters would move with any change
    to their features."""
    words = term.split(" ")
    if not _is_topical(term) or any(_is_adverb(w) for w in words) or words[-1:] == ["based"]:
        return False
    return not all(number_key(w) in _NOT_ALONE or _ORDINAL_OR_VERSION.fullmatch(w) for w in words)


def _is_adverb(word: str) -> bool:
    if len(word) <= 6 or not word.endswith("ly"):
        return False
    return word.endswith(_FLY_ADVERBS) or not word.endswith(_NOT_ADVERBS)


def month_terms(papers: Sequence[Paper]) -> TermMatrix:
    """The month's paper x term matrix over title + abstract (rows in ``papers`` order)."""
    return term_matrix([paper_text(p) for p in papers])


class _LazyTerms:
    """The month's term matrix, built on first use: the counts, the topics and the
    rising terms all need it, but a month whose counts and topics are cached and that
    has no earlier month to compare with needs none."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.papers = papers
        self.built: TermMatrix | None = None

    def __call__(self) -> TermMatrix:
        if self.built is None:
            self.built = month_terms(self.papers)
        return self.built


# --------------------------------------------------------------------------- cache


def _own_code_hash() -> str:
    """This module's code version: cached counts, terms and topics depend on it."""
    return code_version(__name__)


def ranking_fingerprint(
    categories: Sequence[Category], settings: RankConfig | None, min_score: float = 0.0
) -> str:
    """Everything besides the papers that decides a month's category counts."""
    return digest(
        {
            "v": CACHE_VERSION,
            "categories": [dataclasses.asdict(c) for c in categories],
            "settings": dataclasses.asdict(settings) if settings is not None else None,
            "min_score": min_score,
            "ranker": code_version(rank_module.__name__),
        }
    )


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class MonthCounts:
    """How a month's papers fell into categories (the cached unit)."""

    month: str
    total: int
    counts: dict[str, int]
    unmatched: int

    @classmethod
    def from_ranking(cls, month: str, ranking: Ranking) -> MonthCounts:
        counts = {name: len(ranked) for name, ranked in ranking.by_category.items()}
        return cls(month, ranking.considered, counts, ranking.considered - sum(counts.values()))


@dataclass(frozen=True)
class Baseline:
    """The trailing months a comparison pools (only those the store really has)."""

    span: int
    months: tuple[str, ...]
    papers: int

    @property
    def available(self) -> bool:
        return bool(self.months)

    @property
    def label(self) -> str:
        """ "2025-04 to 2025-05 (2 of the previous 3 months, 9,893 papers)" or n/a."""
        if not self.months:
            # "in full": the store may hold a sliver of one, left out as partial.
            return f"n/a (none of the previous {self.span} months is in the store in full)"
        first, last = self.months[0], self.months[-1]
        period = first if first == last else f"{first} to {last}"
        held = "all" if len(self.months) == self.span else f"{len(self.months)} of the"
        papers = f"{self.papers:,} paper{'' if self.papers == 1 else 's'}"
        return f"{period} ({held} previous {self.span} months, {papers})"


@dataclass(frozen=True)
class CategoryTrend:
    """One category's month against its baselines; shares are fractions of all papers."""

    name: str
    count: int
    share: float
    share_3: float | None = None
    share_12: float | None = None
    avg_3: float | None = None  # mean papers per baseline month
    avg_12: float | None = None

    @property
    def change_3(self) -> float | None:
        return None if self.share_3 is None else self.share - self.share_3

    @property
    def change_12(self) -> float | None:
        return None if self.share_12 is None else self.share - self.share_12


@dataclass(frozen=True)
class ExamplePaper:
    id: str
    title: str

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @classmethod
    def of(cls, paper: Paper) -> ExamplePaper:
        return cls(paper.id, " ".join(paper.title.split()))


@dataclass(frozen=True)
class RisingTerm:
    """A term whose share of papers grew against the baseline months.

    ``growth`` is ``(support + a) / (expected + a)`` where ``expected`` is the
    baseline's rate scaled to this month's paper count and ``a`` the smoothing.
    """

    term: str
    support: int  # papers of the month containing the term
    papers: int  # papers of the month
    baseline_support: int  # papers of the baseline months containing it
    baseline_papers: int
    growth: float
    examples: tuple[ExamplePaper, ...] = ()
    # How the month's papers write it ("NTIRE", "LMs"); ``term`` is the folded key.
    shown: str = ""

    @property
    def label(self) -> str:
        return self.shown or self.term

    @property
    def rate(self) -> float:
        """Papers per 1,000 this month."""
        return 1000.0 * self.support / self.papers if self.papers else 0.0

    @property
    def baseline_rate(self) -> float:
        if not self.baseline_papers:
            return 0.0
        return 1000.0 * self.baseline_support / self.baseline_papers


@dataclass(frozen=True)
class EmergingTopic:
    """A cluster of uncategorised papers, offered as a candidate category."""

    name: str
    terms: tuple[str, ...]  # the name's terms first, then the others, best first
    size: int
    paper_ids: tuple[str, ...]
    term_support: dict[str, int]  # members containing each term
    examples: tuple[ExamplePaper, ...]
    toml: str
    growth: float | None = None  # of the lead term, as for rising terms
    named: int = 3  # how many of ``terms`` make the name

    @property
    def also(self) -> tuple[str, ...]:
        """The topic's terms that are not in its name."""
        return self.terms[self.named :]


def _silent(trend: CategoryTrend) -> bool:
    return trend.count == 0 and not trend.share_3 and not trend.share_12


@dataclass
class TrendsSection:
    """Everything the trends part of a month's digest shows."""

    month: Month
    by: str
    papers: int
    unmatched: int
    categories: list[CategoryTrend]  # display order: gaining most first
    no_category: CategoryTrend
    baseline_3: Baseline
    baseline_12: Baseline
    term_baseline: Baseline
    rising: list[RisingTerm]
    emerging: list[EmergingTopic]
    top_picks: list[RankedPaper]
    volume: VolumeSeries
    notes: list[str] = field(default_factory=list)
    options: TrendOptions = DEFAULT_OPTIONS
    # The unmatched papers the emerging topics are looked for in: withdrawn ones aside.
    clustered: int | None = None
    # The month's ranking the section was built from (not rendered; for callers/tests).
    ranking: Ranking | None = field(default=None, repr=False, compare=False)

    @property
    def active_categories(self) -> list[CategoryTrend]:
        """The momentum table's rows: a category with no paper this month nor in the
        months before says nothing there (a big categories file has dozens)."""
        return [t for t in self.categories if not _silent(t)]

    @property
    def silent_categories(self) -> list[str]:
        """The categories left out of the momentum table, named in one line instead."""
        return [t.name for t in self.categories if _silent(t)]

    @property
    def chart_title(self) -> str:
        months = self.volume.months
        span = months[0] if len(months) < 2 else f"{months[0]} to {months[-1]}"
        return f"Papers per category, {span}"


@dataclass(frozen=True)
class ReportRow:
    name: str
    counts: tuple[int, ...]
    shares: tuple[float, ...]
    # The months (indices) the change compares, the first and the last full month of
    # the range; None: the first and the last month.
    compared: tuple[int, int] | None = None

    @property
    def ends(self) -> tuple[float, float] | None:
        """(first, last) share the change compares, or None with fewer than 2 months."""
        first, last = self.compared if self.compared is not None else (0, len(self.shares) - 1)
        if first >= last:
            return None
        return self.shares[first], self.shares[last]

    @property
    def change(self) -> float | None:
        """Share in the last compared month minus share in the first (None for one)."""
        ends = self.ends
        return None if ends is None else ends[1] - ends[0]


@dataclass
class TrendReport:
    """A standalone trend report over a range of months (``trenddigest trends``)."""

    start: Month
    end: Month
    by: str
    sections: list[TrendsSection]  # one per month with papers, oldest first
    rows: list[ReportRow]  # categories by their change over the range, then no category
    volume: VolumeSeries
    missing: list[str] = field(default_factory=list)  # months of the range not in the store
    # Months of the range with papers, but under ``partial_ratio`` of the busiest one's:
    # shown, but left out of the change and the chart (a sliver reads as a collapse).
    partial: list[str] = field(default_factory=list)
    partial_ratio: float = DEFAULT_OPTIONS.partial_ratio

    @property
    def months(self) -> list[str]:
        return [str(s.month) for s in self.sections]

    @property
    def active_rows(self) -> list[ReportRow]:
        """The rows with a paper in some month of the range (the last, "no category",
        always); the others are named in one line (:attr:`silent_rows`)."""
        return [r for r in self.rows[:-1] if any(r.counts)] + self.rows[-1:]

    @property
    def silent_rows(self) -> list[str]:
        return [r.name for r in self.rows[:-1] if not any(r.counts)]

    @property
    def compared(self) -> tuple[str, str] | None:
        """The first and last full month, which the change column compares."""
        full = [m for m in self.months if m not in self.partial]
        return (full[0], full[-1]) if len(full) > 1 else None

    @property
    def partial_note(self) -> str:
        """One sentence naming the partial months and what is left out for them."""
        if not self.partial:
            return ""
        papers = {str(s.month): s.papers for s in self.sections}
        named = [f"{m} ({papers[m]:,} paper{'' if papers[m] == 1 else 's'})" for m in self.partial]
        listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        one = len(named) == 1
        return (
            f"{listed} {'holds' if one else 'hold'} under {self.partial_ratio:.0%} of the "
            f"papers of the range's busiest month: {'it is' if one else 'they are'} likely "
            f"partial, so the change and the chart leave {'it' if one else 'them'} out."
        )

    @property
    def chart_title(self) -> str:
        months = self.volume.months
        if not months:
            return f"Papers per category, {self.start} to {self.end}"
        span = months[0] if len(months) < 2 else f"{months[0]} to {months[-1]}"
        return f"Papers per category, {span}"


# --------------------------------------------------------------------------- months


def _trailing(month: Month, span: int) -> list[str]:
    """The ``span`` months before ``month``, oldest first."""
    return [str(month.shift(-i)) for i in range(span, 0, -1)]


@dataclass(frozen=True)
class _Coverage:
    """Which months around M count, from the store's per-month totals."""

    totals: dict[str, int]
    floor: int  # a month needs at least this many papers to count

    def usable(self, month: str) -> bool:
        return self.totals.get(month, 0) >= self.floor

    def partial(self, month: str) -> bool:
        return 0 < self.totals.get(month, 0) < self.floor


def _partial_floor(busiest: int, ratio: float) -> int:
    """The fewest papers a month may hold and not be partial: ``ratio`` of the busiest
    month's, rounded up (at least one)."""
    return max(1, int(ratio * busiest + 0.999999))


def _coverage(store: Store, month: Month, by: str, options: TrendOptions) -> _Coverage:
    totals = store.month_counts(by)
    window = [*_trailing(month, 12), str(month)]
    busiest = max((totals.get(m, 0) for m in window), default=0)
    return _Coverage(totals, _partial_floor(busiest, options.partial_ratio))


# --------------------------------------------------------------------------- counts


class Ranker(Protocol):
    """How the trends rank a month (:class:`MonthRanker`, or the digest pipeline's)."""

    def rank(self, store: Store, month: str, papers: list[Paper]) -> Ranking: ...

    def inputs(self, store: Store, month: str) -> str: ...


class MonthRanker:
    """How the trends rank a month they compare with: here, the month's papers alone.

    The digest pipeline passes its own (:class:`trenddigest.pipeline.DigestRanker`),
    which ranks as the digest does (through the ranking cache, and with ``[rank]
    background_idf`` with the months before in the idf), so that every month counts
    the way its own digest shows it, whichever months were made first.
    """

    def __init__(
        self, categories: Sequence[Category], settings: RankConfig | None, min_score: float = 0.0
    ) -> None:
        self.categories = list(categories)
        self.settings = settings
        self.min_score = min_score

    def rank(self, store: Store, month: str, papers: list[Paper]) -> Ranking:
        return rank_papers(papers, self.categories, self.settings, min_score=self.min_score)

    def inputs(self, store: Store, month: str) -> str:
        """What besides the month's papers and the setup decides its ranking."""
        return ""


def month_category_counts(
    store: Store,
    month: Month | str,
    categories: Sequence[Category],
    settings: RankConfig | None,
    *,
    by: str = "submitted",
    min_score: float = 0.0,
    ranking: Ranking | None = None,
    setup: str | None = None,
    ranker: Ranker | None = None,
) -> MonthCounts:
    """A month's papers per category, from the cache or by ranking the month.

    Pass ``ranking`` when the month was just ranked anyway (the digest's own month):
    its counts are stored for the months that follow.  ``ranker`` ranks the others.
    """
    ranker = ranker or MonthRanker(categories, settings, min_score)
    key = f"catcounts:{by}:{month}"
    setup = setup or ranking_fingerprint(categories, settings, min_score)
    fingerprint = f"{store.month_fingerprint(month, by)}|{setup}|{ranker.inputs(store, str(month))}"
    if ranking is not None:
        counts = MonthCounts.from_ranking(str(month), ranking)
    else:
        cached = read_cached(store, key, fingerprint)
        if cached is not None:
            data = json.loads(cached)
            return MonthCounts(str(month), data["total"], data["counts"], data["unmatched"])
        papers = store.papers_for_month(month, by=by)
        log.info("ranking %s (%d papers) for category trends", month, len(papers))
        counts = MonthCounts.from_ranking(str(month), ranker.rank(store, str(month), papers))
    value = {"total": counts.total, "counts": counts.counts, "unmatched": counts.unmatched}
    write_cached(store, key, fingerprint, json.dumps(value, sort_keys=True).encode("utf-8"))
    return counts


def month_term_counts(
    store: Store,
    month: Month | str,
    *,
    by: str = "submitted",
    matrix: Callable[[], TermMatrix] | None = None,
) -> TermCounts:
    """A month's term document frequencies, from the cache or counted and cached.

    ``matrix`` gives the month's term matrix when the caller has one (the digest's
    month); it is only called when the counts are not cached.
    """
    key = f"termdf:{by}:{month}"
    fingerprint = f"{store.month_fingerprint(month, by)}|terms-{_terms_code_hash()}"
    cached = read_cached(store, key, fingerprint)
    if cached is not None:
        try:
            return TermCounts.from_bytes(cached)
        except (ValueError, KeyError, zlib.error) as exc:
            log.warning("ignoring unreadable cached term counts of %s: %s", month, exc)
    built = matrix() if matrix is not None else month_terms(store.papers_for_month(month, by=by))
    counts = built.document_counts()
    write_cached(store, key, fingerprint, counts.to_bytes())
    return counts


def _terms_code_hash() -> str:
    return code_version(__name__, "trenddigest.terms")


def _pooled(months: list[MonthCounts], name: str | None) -> tuple[float | None, float | None]:
    """(share, mean count per month) of a category over baseline months; None if none."""
    if not months:
        return None, None
    total = sum(m.total for m in months)
    count = sum(m.unmatched if name is None else m.counts.get(name, 0) for m in months)
    return (count / total if total else None), count / len(months)


def category_trends(
    current: MonthCounts,
    base_3: list[MonthCounts],
    base_12: list[MonthCounts],
    names: Sequence[str],
) -> tuple[list[CategoryTrend], CategoryTrend]:
    """Per-category trends (gaining most first) and the "no category" row."""

    def trend(label: str, name: str | None) -> CategoryTrend:
        count = current.unmatched if name is None else current.counts.get(name, 0)
        share_3, avg_3 = _pooled(base_3, name)
        share_12, avg_12 = _pooled(base_12, name)
        share = count / current.total if current.total else 0.0
        return CategoryTrend(label, count, share, share_3, share_12, avg_3, avg_12)

    rows = [trend(name, name) for name in names]
    # By the change the table shows (from the rounded shares), then the exact one, so
    # that the column reads in order: against the 3 months before, or the 12 when the
    # 3 are missing (a store with a gap), else by size.
    rows.sort(key=lambda t: (*_order_of_change(t), -t.count, t.name))
    return rows, trend("No category", None)


def _order_of_change(t: CategoryTrend) -> tuple[float, float]:
    base, change = (t.share_3, t.change_3) if t.share_3 is not None else (t.share_12, t.change_12)
    return -_shown_points(t.share, base), -(change or 0.0)


# --------------------------------------------------------------------------- rising


def _term_pattern(term: str, any_number: bool = False) -> re.Pattern[str]:
    """A fast pre-check for ``term`` in raw text: its words with non-breaking gaps;
    with ``any_number``, each word in its singular or plural (and any other ending: a
    check of the text's terms follows)."""
    gap = r"[^\w.,;:!?()\[\]{}\"]+"
    words = [_word_pattern(w) if any_number else re.escape(w) for w in term.split(" ")]
    return re.compile(r"\b" + gap.join(words) + r"\b", re.IGNORECASE)


def _word_pattern(word: str) -> str:
    """``word``'s number key less an -y that plurals change ("stud" of "study"), and
    any ending."""
    key = number_key(word)
    stem = key[:-1] if key.endswith("y") and len(key) > 3 else key
    return re.escape(stem) + r"\w*"


def _uses(text: str, term: str, pattern: re.Pattern[str]) -> bool:
    """Whether ``text`` uses ``term``, in its singular or plural."""
    if not pattern.search(text):
        return False
    key = term_key(term)
    return any(term_key(t) == key for t in document_terms(text))


def _papers_using(
    papers: Sequence[Paper], term: str, matrix: TermMatrix | None = None
) -> list[Paper]:
    """The papers using ``term`` (singular or plural); ``matrix`` (the term matrix of
    ``papers``, same order) answers without scanning texts."""
    if matrix is not None:
        return [papers[i] for i in matrix.rows_using(term)]
    pattern = _term_pattern(term, any_number=True)
    return [p for p in papers if _uses(paper_text(p), term, pattern)]


def example_papers(
    papers: Sequence[Paper],
    term: str,
    limit: int,
    matrix: TermMatrix | None = None,
    using: Sequence[Paper] | None = None,
) -> tuple[ExamplePaper, ...]:
    """Papers using ``term``, those with it in the title first (they show it best).

    Id order within each group, so the choice is stable.  ``matrix`` as in
    :func:`_papers_using`; ``using``, the papers using ``term`` when the caller has
    already found them.
    """
    if limit <= 0:
        return ()
    if using is None:
        using = _papers_using(papers, term, matrix)
    using = sorted(using, key=lambda p: p.id)
    pattern = _term_pattern(term, any_number=True)
    in_title = [p for p in using if _uses(p.title, term, pattern)][:limit]
    chosen = in_title + [p for p in using if p not in in_title][: limit - len(in_title)]
    return tuple(ExamplePaper.of(p) for p in chosen)


def _neighbours(text: str, words: list[str]) -> tuple[set[tuple[int, str]], bool]:
    """The words right before (-1) and after (+1) each use of the term ``words`` in
    ``text`` (singular or plural), as :func:`_stem` keys, each only where it makes with
    the term's word beside it a phrase that could be listed instead: a term (no stop
    word or punctuation in between, a joining hyphen being no gap, and no compound cut
    in two, as "probe GPT" of "probe GPT-5" or "agent reinforcement" of "multi-agent
    reinforcement") that names a topic (:func:`_names_a_topic`: not "mamba based",
    nor "novel mamba").  And whether every use is joined by a hyphen to what stands
    before or after it (to any token, a number or stop word too): "sided" in
    "two-sided" and "3-sided", "hop" in "multi-hop".  Two joins do not count: to a
    modifier after it ("Mamba-based"), and to a number after it, a version or variant
    ("GPT-5", "COVID-19"): the word names the thing, and no phrase could stand for it
    ("5" is no word)."""
    tokens: list[str] = []
    hyphen_before: list[bool] = []  # the token is joined to the one before it
    joined = False
    for token in TOKEN_OR_JOINT.findall(without_latex(text.lower())):
        if token[0] == "-":  # a joint: always between two words
            joined = True
            continue
        tokens.append(token)
        hyphen_before.append(joined)
        joined = False
    hyphen_before.append(False)

    def listable(j: int) -> bool:
        """Whether tokens ``j`` and ``j + 1`` make a term (see
        :func:`~trenddigest.terms.term_stream`) that names a topic."""
        if not is_word(tokens[j]) or not is_word(tokens[j + 1]):
            return False
        starts = hyphen_before[j + 2] and tokens[j + 2] not in MODIFIERS
        if not hyphen_before[j + 1] and (hyphen_before[j] or starts):
            return False
        return _names_a_topic(f"{tokens[j]} {tokens[j + 1]}")

    keys = [number_key(t) for t in tokens]
    target = [number_key(w) for w in words]
    n = len(words)
    found: set[tuple[int, str]] = set()
    uses = in_compounds = 0
    for i in range(len(tokens) - n + 1):
        if keys[i : i + n] != target:
            continue
        uses += 1
        after = i + n
        joined_after = (
            hyphen_before[after] and tokens[after] not in MODIFIERS and not tokens[after].isdigit()
        )
        in_compounds += hyphen_before[i] or joined_after
        if i > 0 and listable(i - 1):
            found.add((-1, _stem(tokens[i - 1])))
        if after < len(tokens) and listable(after - 1):
            found.add((1, _stem(tokens[after])))
    return found, uses > 0 and in_compounds == uses


def _is_fragment(using: Sequence[Paper], term: str, share: float) -> bool:
    """Whether ``term`` is part of a longer phrase rather than a term of its own: in at
    least ``share`` of the papers ``using`` it, the same word stands beside it on the
    same side ("language action" is "vision language action" in 19 of 19 papers, while
    "speech recognition" follows "automatic" in 39 of 56 and stays), or every use is
    joined by a hyphen to another token (the "sided" of "two-sided" and "one-sided",
    the "hop" of "multi-hop", the "tf" of "tf-idf"): the compound is the term, listed
    as a phrase if it rises ("tf idf"), or not at all when a stop word or number in it
    leaves no phrase to stand for it ("3-sided").  A version number after the word
    makes no compound ("GPT-5", "COVID-19": see :func:`_neighbours`).  Plural and
    singular neighbours count as one ("supply chain" / "supply chains")."""
    if not using:
        return False
    words = term.split(" ")
    seen: dict[tuple[int, str], int] = {}
    in_compounds = 0
    for paper in using:
        near, compound_only = _neighbours(paper_text(paper), words)
        in_compounds += compound_only
        for key in near:
            seen[key] = seen.get(key, 0) + 1
    needed = share * len(using)
    return max(seen.values(), default=0) >= needed or in_compounds >= needed


class _Cohesion:
    """How alike the papers using a term are, against any two papers of the month.

    A word that names a topic gathers papers about it, which share more words than
    any two papers do ("whisper" papers say "speech", "asr", "large v3"); a word of
    many senses or of the prose ("finite", "interval", "paradox", "stop") gathers
    papers that share nothing else and are no more alike than the month at large.
    Each paper is the set of its terms (a word said twice in an abstract is no more
    its subject), weighted by inverse document frequency and made unit length;
    likeness is the mean cosine over all pairs.  The papers' own term is left out of
    their vectors (with every term sharing a word with it), or papers sharing a term
    would always be alike.  Deterministic: sums over the same matrix in one order.
    """

    def __init__(self, matrix: TermMatrix) -> None:
        counts = matrix.counts
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        idf = np.log((n + 1) / (df + 1)) + 1.0
        self.weights = counts.astype(np.float64)
        self.weights.data = idf[counts.indices]
        self.month = _mean_similarity(self.weights)
        self.matrix = matrix
        self.first, self.second = matrix.vocabulary.word_ids(matrix.keys)
        self._stems: np.ndarray | None = None
        self._stem_ids: dict[str, int] = {}

    def _stem_of_tokens(self) -> np.ndarray:
        if self._stems is None:
            ids = self._stem_ids
            self._stems = np.fromiter(
                (ids.setdefault(_stem(t), len(ids)) for t in self.matrix.vocabulary.tokens),
                dtype=np.int64,
                count=self.matrix.vocabulary.size,
            )
        return self._stems

    def of(self, rows: np.ndarray, term: str) -> float | None:
        """The mean likeness of the papers ``rows`` (which use ``term``) over that of
        two of the month's papers; None when there are not two papers to compare."""
        if self.month is None or self.month <= 0:
            return None
        stems = self._stem_of_tokens()
        own = [self._stem_ids[s] for s in _stem(term).split(" ") if s in self._stem_ids]
        sub = self.weights[rows]
        columns = sub.indices
        mine = np.isin(stems[self.first[columns]], own)
        second = self.second[columns]
        mine |= (second >= 0) & np.isin(stems[np.maximum(second, 0)], own)
        sub.data[mine] = 0.0
        mean = _mean_similarity(sub)
        return None if mean is None else mean / self.month


def _mean_similarity(weights: Any) -> float | None:
    """The mean cosine of two different rows of ``weights`` (rows with no weight
    left out), from the sum of the unit rows: its squared length is the sum of every
    pair's cosine, each row with itself (1) included.  None with fewer than 2 rows."""
    norms = np.sqrt(np.asarray(weights.multiply(weights).sum(axis=1)).ravel())
    used = norms > 0
    k = int(used.sum())
    if k < 2:
        return None
    scale = np.where(used, 1.0 / np.where(used, norms, 1.0), 0.0)
    total = np.asarray(weights.T @ scale).ravel()
    return float((total @ total - k) / (k * (k - 1)))


def term_growth(
    support: int, papers: int, baseline_support: int, baseline_papers: int, smoothing: float
) -> float:
    """Smoothed ratio of this month's count to the count the baseline rate predicts."""
    expected = baseline_support * papers / baseline_papers if baseline_papers else 0.0
    return (support + smoothing) / (expected + smoothing)


def _titled(term: str, support: int, titles: TermCounts | None, options: TrendOptions) -> bool:
    """Whether enough of the papers using ``term`` name it in their title.

    Titles say what a paper is about; abstracts also say how it is written.  Words
    like "accompanied" or "theoretical analysis" can grow in abstracts for no reason a
    reader cares about, but hardly ever stand in a title, while "verifiable rewards"
    or "vision language action" do.
    """
    if titles is None:
        return True
    in_titles = titles.get(term)
    return in_titles >= options.min_title_papers and in_titles >= options.title_share * support


def _repeats(rows: np.ndarray, upper: np.ndarray, options: TrendOptions) -> bool:
    """Whether a term used by the papers ``rows`` repeats a term listed above it, used
    by the papers ``upper``: at least ``options.repeat_share`` of its papers use that
    term, and they are at least ``options.repeat_cover`` of that term's papers.  Such
    a term shows the reader the same papers again, as an abbreviation ("rl",
    "reinforcement learning") or another word form.  Topics that merely meet stay
    apart: 8 of the 23 "egocentric video" papers of 2025-06 say "ego", which in 19 of
    its 33 papers means no camera wearer (the ego vehicle, ego-motion); so does a term
    whose papers several listed terms share out, none of them taking ``repeat_share``;
    and a narrower topic inside a broad one: 77 of the 97 "grpo" papers of 2025-05 say
    "reinforcement learning", but they are 21% of its 367 papers, a part of it the
    broad term does not show the reader."""
    if not len(rows) or not len(upper):
        return False
    shared = np.intersect1d(rows, upper, assume_unique=True).size
    return shared >= options.repeat_share * len(rows) and shared >= options.repeat_cover * len(
        upper
    )


class _Listing:
    """The rising terms listed so far and the checks a candidate must pass to join them
    (see :func:`rising_terms`).  Candidates are known by their rank in growth order.

    Each listed term holds a place: its rank, or for a phrase that replaced listed
    words the best place of theirs.  When the list grows past ``max_terms`` the term
    in the last place leaves it.
    """

    def __init__(
        self,
        candidates: Sequence[RisingTerm],
        papers: Sequence[Paper],
        cohesion: _Cohesion | None,
        options: TrendOptions,
    ) -> None:
        self.candidates = candidates
        self.stems = [_stem(c.term) for c in candidates]
        self.papers = papers
        self.cohesion = cohesion
        self.options = options
        self.places: dict[int, int] = {}  # listed rank -> the place it holds
        self.repeats: list[int] = []  # ranks left out as repeats, checked again on a rename
        self.made_way: set[int] = set()  # listed ranks that left for a faster term they repeat
        self._rows: dict[int, np.ndarray] = {}
        self._using: dict[int, list[Paper]] = {}

    def __len__(self) -> int:
        return len(self.places)

    def listed(self) -> list[RisingTerm]:
        """The listed terms, fastest growing first."""
        return [self.candidates[k] for k in sorted(self.places)]

    def renames(self, k: int) -> bool:
        """Whether candidate ``k`` is a phrase of a listed word ("closed loop", "loop")."""
        words = self.stems[k].split(" ")
        return len(words) > 1 and any(self.stems[j] in words for j in self.places)

    def rows(self, k: int) -> np.ndarray:
        if k not in self._rows:
            assert self.cohesion is not None
            self._rows[k] = self.cohesion.matrix.rows_using(self.candidates[k].term)
        return self._rows[k]

    def using(self, k: int) -> list[Paper] | None:
        """The papers using candidate ``k`` (None without the month's papers)."""
        if self.cohesion is None:
            return None
        if k not in self._using:
            self._using[k] = [self.papers[i] for i in self.rows(k)]
        return self._using[k]

    def refusal(self, k: int) -> str | None:
        """Why candidate ``k`` may not join the list as it stands; None if it may."""
        stem = self.stems[k]
        words = stem.split(" ")
        if any(stem == self.stems[j] for j in self.places):
            return "listed"  # "ai agents" after "ai agent": one term, listed once
        if len(words) == 1 and any(stem in self.stems[j].split(" ") for j in self.places):
            return "a word of a listed phrase"  # "splatting" under "gaussian splatting"
        if self.cohesion is None:
            return None
        rows, options = self.rows(k), self.options
        # A phrase takes the place of its listed words (below): it repeats none of them.
        # (A term checked again after a rename may rank above listed terms: those that
        # repeat it make way for it, in _place.)
        faster = [
            j for j in self.places if j < k and (len(words) == 1 or self.stems[j] not in words)
        ]
        if any(_repeats(rows, self.rows(j), options) for j in faster):
            return "a repeat"  # "rl" below "reinforcement learning": the same papers again
        using = self.using(k)
        assert using is not None
        if _is_fragment(using, self.candidates[k].term, options.fragment_share):
            return "a fragment"  # "language action", only inside "vision language action"
        alike = self.cohesion.of(rows, self.candidates[k].term)
        if alike is not None and alike < options.min_cohesion:
            return "incohesive"  # "finite": finite elements, finite samples, automata...
        return None

    def admit(self, k: int) -> None:
        """List candidate ``k``; a phrase replaces its listed words, and then the terms
        left out as repeats are checked again, best ranked first: they may have repeated
        a word no longer listed.  Each is checked against the list as it stands, a
        rename among them starting over.  A term enters the repeats at most twice (left
        out, then made way for once), so this ends."""
        renamed = self._place(k)
        while renamed:
            renamed = False
            for j in sorted(self.repeats):
                if self.refusal(j) is None:
                    self.repeats.remove(j)
                    log.debug("rising term %r listed after a rename", self.candidates[j].term)
                    if self._place(j):
                        renamed = True
                        break

    def _place(self, k: int) -> bool:
        """Put candidate ``k`` on the list in its place; whether it replaced words.

        A term checked again after a rename can rank above listed terms; one of them
        that repeats it leaves the list for it (as it would have been left out, had the
        renamed word never been listed) and joins the repeats, unless it left once
        before."""
        words = self.stems[k].split(" ")
        renamed = [j for j in self.places if len(words) > 1 and self.stems[j] in words]
        self.places[k] = min([k, *(self.places.pop(j) for j in renamed)])
        if self.cohesion is not None:
            rows = self.rows(k)
            for j in [
                j for j in self.places if j > k and _repeats(self.rows(j), rows, self.options)
            ]:
                del self.places[j]
                if j not in self.made_way:
                    self.made_way.add(j)
                    self.repeats.append(j)
        while len(self.places) > self.options.max_terms:
            del self.places[max(self.places, key=self.places.__getitem__)]
        return bool(renamed)


def rising_terms(
    current: TermCounts,
    baseline: Sequence[TermCounts],
    papers: Sequence[Paper] = (),
    options: TrendOptions = DEFAULT_OPTIONS,
    *,
    titles: TermCounts | None = None,
    matrix: TermMatrix | None = None,
) -> list[RisingTerm]:
    """The terms that grew most against ``baseline``, sub-phrases of listed phrases dropped.

    A term's singular and plural are one term, counted in the papers using either and
    shown as most of them write it (the counts do that).  Only terms that name a topic
    (:func:`_names_a_topic`: no boilerplate like "novel approach", no adverb...) in at
    least ``options.min_support`` papers this month qualify, and only those that grew
    (growth > 1).  With ``titles`` (the month's title-only counts) a term must also
    stand in enough titles (:func:`_titled`).  With ``papers`` (the month's, and their
    term ``matrix``, built here when not given) a term must also stand on its own
    (:func:`_is_fragment`), gather papers that have more in common than the term
    (:class:`_Cohesion`) and not repeat a term listed above it (:func:`_repeats`), and
    the papers supply the examples.

    A phrase that passes all this replaces its words listed above it ("gaussian
    splatting" for "splatting"): it names their topic better.  That holds
    past the end of the list too: once ``options.max_terms`` are listed, the next
    ``options.rename_window`` candidates are still looked at, each only as a phrase
    renaming a listed word (and checked as any other), never as a term of its own; so
    "closed loop", ranked just past the end of 2025-07's list, replaces the vague
    "loop".  A few candidates and not all: one far down grew too little to stand for
    the word, and the checks cost a pass over its papers each.  The phrase is listed
    where its growth puts it, after the terms that grew more (past the end: last), as
    within the list: each row shows the growth of its own term, and the list reads
    fastest first, so in the word's place "closed loop" (x1.72) would stand above
    "drug" (x1.75).  A phrase past the end that renames two listed words leaves the
    list one short: the candidates it passed over were never checked.

    A term left out as a repeat of a word that a phrase then replaces repeated a term
    no longer listed: the terms left out so are checked again (as any term, against
    the list as it now stands, the phrase included) and listed where their growth puts
    them.  "feedback", left out under "loop", is listed beside "closed loop" when its
    papers do not say "closed loop"; a slower listed term that repeats it makes way,
    so the list reads as it would have, had the word never been listed.  The phrase
    holds its word's place, so a full list makes room by dropping the terms that grew
    least, not the phrase.
    """
    base_papers = sum(b.papers for b in baseline)
    if not base_papers or not current.papers:
        return []
    candidates: list[RisingTerm] = []
    for term, support in current.at_least(options.min_support):
        if not _names_a_topic(term) or not _titled(term, support, titles, options):
            continue
        base_support = sum(b.get(term) for b in baseline)
        growth = term_growth(support, current.papers, base_support, base_papers, options.smoothing)
        if growth > 1.0:
            candidates.append(
                RisingTerm(term, support, current.papers, base_support, base_papers, growth)
            )
    candidates.sort(key=lambda r: (-r.growth, -r.support, r.term))
    if papers and matrix is None:
        matrix = month_terms(papers)
    cohesion = _Cohesion(matrix) if papers and matrix is not None else None
    listing = _Listing(candidates, papers, cohesion, options)
    past_end = 0  # candidates looked at since the list was full
    for k in range(len(candidates)):
        if past_end or len(listing) >= options.max_terms:
            past_end += 1
            if past_end > options.rename_window:
                break
            if not listing.renames(k):
                continue  # the list is full: a term past its end may only rename a word
        refusal = listing.refusal(k)
        if refusal is None:
            listing.admit(k)
            continue
        log.debug("rising term %r left out: %s", candidates[k].term, refusal)
        if refusal == "a repeat":
            listing.repeats.append(k)
    chosen = listing.listed()
    if papers:
        chosen = [
            dataclasses.replace(
                r,
                examples=example_papers(
                    papers, r.term, options.term_examples, matrix, listing.using(k)
                ),
                shown=_written_form(r.term, listing.using(k) or papers),
            )
            for k, r in zip(sorted(listing.places), chosen, strict=True)
        ]
    return chosen


def _written_form(term: str, papers: Sequence[Paper]) -> str:
    """``term`` as its papers' abstracts write it most often inside a sentence
    ("NTIRE", "LMs", "Whisper", "long-tailed" for "long tailed").

    At a sentence's start any word has a capital ("Empathy"), so such a form counts
    only when the term is never written elsewhere, and then without those capitals.
    Nor does a form in capitals only at its words' starts right after a capitalised
    word count: it is part of a longer name ("Monte Carlo Tree Search" is not how the
    papers write "tree search")."""
    pattern = _term_pattern(term)
    inside: dict[str, int] = {}
    first: dict[str, int] = {}
    for paper in papers:
        text = _without_links(paper.abstract)
        for match in pattern.finditer(text):
            form = match.group(0)
            before = text[: match.start()].rstrip()
            if not before or before[-1] in ".!?:":
                forms = first
            elif _only_initial_capitals(form) and before.rsplit(maxsplit=1)[-1][:1].isupper():
                continue
            else:
                forms = inside
            forms[form] = forms.get(form, 0) + 1
    if inside:
        return _commonest(inside) or term
    opening = _commonest(first)
    return term if opening is None else _SENTENCE_CAPITAL.sub(lambda m: m[1].lower(), opening)


def _only_initial_capitals(form: str) -> bool:
    """Whether ``form`` has capitals, each starting a word otherwise in lower case."""
    return form != form.lower() and _SENTENCE_CAPITAL.sub(lambda m: m[1].lower(), form) == (
        form.lower()
    )


# --------------------------------------------------------------------------- emerging


def unmatched_papers(papers: Sequence[Paper], ranking: Ranking) -> list[Paper]:
    """The month's papers that no category took (Ranking only counts them), less the
    withdrawn ones: counted as matching none, but no material for a new topic."""
    placed = {rp.paper.id for rp in ranking.all_ranked()}
    return [p for p in papers if p.id not in placed and not p.withdrawn]


_TOPIC_FEATURES = 3000
_TOPIC_MIN_DF = 3  # a term in fewer of the unmatched papers cannot mark a group
_TOPIC_MAX_DF = 0.5  # nor one in more than half of them


def _topic_features(matrix: TermMatrix) -> tuple[Any, list[str]]:
    """The clustering's input: term counts over the most used topical terms.

    Terms in fewer than 3 or more than half of the papers, and boilerplate, are left
    out; of the rest the ``_TOPIC_FEATURES`` most frequent (ties by name).  Columns
    come in term order, so the same papers always give the same matrix.
    """
    counts = matrix.counts
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    usable = np.flatnonzero((df >= _TOPIC_MIN_DF) & (df <= _TOPIC_MAX_DF * n))
    totals = np.asarray(counts.sum(axis=0)).ravel()
    named = [
        (int(j), t) for j, t in zip(usable, matrix.terms(usable), strict=True) if _is_topical(t)
    ]
    named.sort(key=lambda jt: (-totals[jt[0]], jt[1]))
    chosen = sorted(named[:_TOPIC_FEATURES], key=lambda jt: jt[1])
    if not chosen:
        return counts[:, []], []
    return counts[:, [j for j, _ in chosen]], [t for _, t in chosen]


def _distinctive_terms(
    present: Any,
    rows: np.ndarray,
    order: np.ndarray,
    vocab: list[str],
    doc_share: np.ndarray,
    options: TrendOptions,
) -> list[tuple[str, float]]:
    """A cluster's terms by how much they set it apart, or none for a grab-bag.

    For each of the component's strongest terms: ``share``, the part of the members
    using it, and ``lift``, that share over its share among all unmatched papers.  A
    term scores ``share * log2(lift)`` (its part of the members' information), so
    "retrieval augmented" beats "llms" in a RAG cluster although both are common
    there.  NMF also makes leftover piles such as "image / images / 3d" that no reader
    would call a topic: a cluster counts only when some term is both widely used in it
    and concentrated there, ``share * lift >= min_topic_lift`` (RAG: 0.8 * 16; a pile of
    vision papers: 0.35 * 5).  ``share * lift`` cannot exceed the unmatched papers per
    member, so for a large cluster among few papers the bar is lowered to 80% of that.
    """
    share = np.asarray(present[rows][:, order].mean(axis=0)).ravel()
    lift = share / np.maximum(doc_share[order], 1e-12)
    needed = min(options.min_topic_lift, 0.8 * present.shape[0] / len(rows))
    if not np.any(share * lift >= needed):
        return []
    scored = [
        (vocab[j], float(sh * np.log2(li)))
        for j, sh, li in zip(order, share, lift, strict=True)
        if li > 1.0
    ]
    scored.sort(key=lambda tw: (-tw[1], tw[0]))
    return scored


def _stem(term: str) -> str:
    """A crude key that plural and -ing/-ed forms share ("images" ~ "image",
    "fine tuned" ~ "fine tuning"), so a topic is not named twice for one thing: the
    words' :func:`~trenddigest.terms.number_key` less an -ing or -ed."""
    out = []
    for word in term.split(" "):
        word = number_key(word)
        for suffix in ("ing", "ed"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        out.append(word)
    return " ".join(out)


def _distinct_terms(ranked: Sequence[tuple[str, float]], limit: int) -> list[str]:
    """The best ``limit`` terms of a topic, phrases preferred, without repeats.

    A word gives way to the strongest phrase containing it when that phrase carries at
    least half the word's weight ("fine" -> "fine tuning"); a word inside an already
    chosen phrase is skipped, and a phrase takes the place of a chosen word it contains.
    """
    chosen: list[str] = []
    for term, weight in ranked:
        if " " not in term:
            stem = _stem(term)
            phrases = [
                (w, p)
                for p, w in ranked
                if " " in p and stem in _stem(p).split(" ") and w >= weight / 2
            ]
            if phrases:
                term = max(phrases)[1]
        stem = _stem(term)
        words = stem.split(" ")
        if len(words) == 1 and any(stem in _stem(c).split(" ") for c in chosen):
            continue  # "agents" after "multi agent", "bounds" after "upper bound"
        if any(stem == _stem(c) for c in chosen):
            continue  # "images" after "image"
        inside = [i for i, c in enumerate(chosen) if _stem(c) in words]
        if inside:
            chosen[inside[0]] = term
            chosen = [c for c in chosen if _stem(c) not in words or c == term]
        else:
            chosen.append(term)
        if len(chosen) == limit:
            break
    return chosen


def _name_terms(terms: list[str], count: int = 3) -> list[str]:
    """The terms a topic is named by: its best ones, each adding a new word
    ("retrieval augmented / RAG", not "retrieval augmented / augmented generation")."""
    chosen: list[str] = []
    used: set[str] = set()
    for term in terms:
        words = {_stem(w) for w in term.split(" ")}
        if words & used:
            continue
        chosen.append(term)
        used |= words
        if len(chosen) == count:
            break
    return chosen


# A web address in an abstract ("github.com/lab/code"): its words are written in lower
# case for the address's sake, not as the papers write the word ("GitHub").
_LINK = re.compile(r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:com|org|io|net|ai)(?:/\S*)?", re.I)


def _without_links(text: str) -> str:
    return _LINK.sub(" ", text) if "." in text else text


def _most_used_form(term: str, texts: Iterable[str]) -> str | None:
    """How the papers write ``term`` most often ("llms" -> "LLMs", "3d" -> "3D"), not
    counting web addresses."""
    pattern = _term_pattern(term)
    forms: dict[str, int] = {}
    for text in map(_without_links, texts):
        for match in pattern.finditer(text):
            forms[match.group(0)] = forms.get(match.group(0), 0) + 1
    return _commonest(forms)


def _commonest(forms: dict[str, int]) -> str | None:
    """The form counted most often (ties: the first in code-point order), or None."""
    return min(forms, key=lambda f: (-forms[f], f)) if forms else None


_WORD_START = re.compile(r"(?<![\w'])([a-z])")
# A capital that starts a word otherwise in lower case: what a sentence's start gives
# any word ("Empathy"), unlike the capitals of "NTIRE" or "LoRA".
_SENTENCE_CAPITAL = re.compile(r"(?<![\w'])([A-Z])(?=[a-z]*(?![\w']))")


def _name_form(term: str, titles: Sequence[str], abstracts: Sequence[str]) -> str:
    """``term`` as a part of a topic's name: as the members' titles write it, else as
    their abstracts do ("multi agent" -> "Multi-Agent"), with each word capitalised
    when the papers write it in lower case.  A name is a heading: "Codes / upper
    bound / Linear" reads as three things of different kinds."""
    form = _most_used_form(term, titles) or _most_used_form(term, abstracts) or term
    if form == form.lower():
        form = _WORD_START.sub(lambda m: m[1].upper(), form)
    return form


def _candidate_category(
    name: str,
    terms: list[str],
    weights: list[float],
    examples: Sequence[ExamplePaper],
    size: int,
    month: str,
    *,
    named: int,
    covered: int,
) -> Category:
    """The ``[[category]]`` a topic is offered as.  Its description says how many of
    the ``size`` papers use one of the ``named`` name terms (``covered``): "share the
    terms" would claim every paper uses them all."""
    top = max(weights, default=0.0)
    keywords: list[Keyword] = []
    seen: set[str] = set()
    for term, w in zip(terms, weights, strict=True):
        if term.lower() in seen:  # the categories loader rejects case-only duplicates
            continue
        seen.add(term.lower())
        keywords.append(Keyword(term, round(1.0 + w / top, 1) if top > 0 else 1.0))
    name_terms = terms[:named]
    listed = (
        name_terms[0]
        if len(name_terms) == 1
        else ", ".join(name_terms[:-1]) + " or " + name_terms[-1]
    )
    description = (
        f"Candidate topic found in {month}: {size} papers that matched no category, "
        f"{covered} of them using {listed}. Review the name and keywords before use."
    )
    papers = [Exemplar(e.id, e.title) for e in examples]
    return Category(name, description, keywords, [], papers)


def emerging_topics(
    unmatched: Sequence[Paper],
    month: Month | str,
    options: TrendOptions = DEFAULT_OPTIONS,
    existing: Iterable[str] = (),
    matrix: TermMatrix | None = None,
) -> list[EmergingTopic]:
    """Clusters (NMF over TF-IDF, fixed seed) of the papers that fit no category.

    Each paper joins its strongest component; a cluster is kept when it has at least
    ``min_topic_size`` members and most members contain one of its name terms (an
    incoherent cluster is not a topic).  Largest first.  ``matrix`` is the term
    matrix of ``unmatched`` (same rows) when the caller has it.
    """
    if len(unmatched) < max(options.min_unmatched, 2):
        return []
    # Imported here: scikit-learn takes most of a second to import, and a run whose
    # topics are cached (or too few to cluster) never needs it.
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfTransformer
    from threadpoolctl import threadpool_limits

    if matrix is None:
        matrix = month_terms(unmatched)
    counts, vocab = _topic_features(matrix)
    if not vocab:
        return []
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    n_topics = max(2, min(options.max_topics, len(unmatched) // options.papers_per_topic))
    n_topics = min(n_topics, tfidf.shape[0], tfidf.shape[1])
    if n_topics < 2:
        return []
    # tol 1e-3: the error is flat to 5 digits well before the default tol stops it.
    model = NMF(n_components=n_topics, init="nndsvda", random_state=0, max_iter=300, tol=1e-3)
    # sklearn takes the square root of a rounding-negative 0 in its error; and a
    # fit that stops at max_iter is still a fixed, usable factorisation.
    # One BLAS thread: for a few thousand papers x 3,000 terms, threads cost more in
    # hand-offs than they save (measured: 2-3x the CPU time for the same wall time).
    with (
        np.errstate(invalid="ignore"),
        warnings.catch_warnings(),
        threadpool_limits(limits=1, user_api="blas"),
    ):
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        weights = model.fit_transform(tfidf)
    column = {t: j for j, t in enumerate(vocab)}
    present = (counts > 0).tocsc()  # counts are per paper, so this is "paper uses term"
    doc_share = np.asarray(present.mean(axis=0)).ravel()
    strongest = weights.argmax(axis=1)
    has_topic = weights.max(axis=1) > 0
    taken = {name.casefold() for name in existing}
    topics: list[EmergingTopic] = []
    for k in range(n_topics):
        members = [i for i in range(len(unmatched)) if has_topic[i] and strongest[i] == k]
        if len(members) < options.min_topic_size:
            continue
        rows = np.asarray(members)
        order = np.argsort(-model.components_[k], kind="stable")[:40]
        ranked = _distinctive_terms(present, rows, order, vocab, doc_share, options)
        ranked = [(t, w) for t, w in ranked if _names_a_topic(t)]
        terms = _distinct_terms(ranked, options.topic_terms)
        if not terms:
            continue
        support = {t: int(present[rows, column[t]].sum()) for t in terms}
        name_terms = _name_terms(terms)
        terms = name_terms + [t for t in terms if t not in name_terms]
        in_name = np.zeros(len(members), dtype=bool)
        for t in name_terms:
            in_name |= present[rows, column[t]].toarray().ravel()
        if in_name.sum() < options.min_topic_coverage * len(members):
            continue
        members.sort(key=lambda i: (-weights[i, k], unmatched[i].id))
        examples = tuple(ExamplePaper.of(unmatched[i]) for i in members[: options.topic_examples])
        titles = [unmatched[i].title for i in members]
        abstracts = [unmatched[i].abstract for i in members]
        name = " / ".join(_name_form(t, titles, abstracts) for t in name_terms)
        name = _free_name(name, str(month), taken)
        taken.add(name.casefold())
        weight_of = dict(ranked)
        category = _candidate_category(
            name, terms, [weight_of.get(t, 0.0) for t in terms], examples, len(members),
            str(month), named=len(name_terms), covered=int(in_name.sum()),
        )  # fmt: skip
        topics.append(
            EmergingTopic(
                name=name,
                terms=tuple(terms),
                size=len(members),
                paper_ids=tuple(sorted(unmatched[i].id for i in members)),
                term_support=support,
                examples=examples,
                toml=category_to_toml(category),
                named=len(name_terms),
            )
        )
    topics.sort(key=lambda t: (-t.size, t.name))
    return topics


def _topics_to_json(topics: list[EmergingTopic]) -> bytes:
    return json.dumps([dataclasses.asdict(t) for t in topics], sort_keys=True).encode("utf-8")


def _topics_from_json(data: bytes) -> list[EmergingTopic]:
    topics = []
    for raw in json.loads(data):
        raw["terms"] = tuple(raw["terms"])
        raw["paper_ids"] = tuple(raw["paper_ids"])
        raw["examples"] = tuple(ExamplePaper(**e) for e in raw["examples"])
        topics.append(EmergingTopic(**raw))
    return topics


# --------------------------------------------------------------------------- picks


def top_picks(
    ranking: Ranking,
    limit: int = 10,
    per_category: int = 3,
    duplicate_similarity: float = 0.8,
) -> list[RankedPaper]:
    """The month's best papers across categories, diversified.

    Round-robin over the categories (the one with the best paper first), each taking
    its next best paper, at most ``per_category`` each; a paper whose title+abstract
    TF-IDF cosine with an already picked one exceeds ``duplicate_similarity`` is a
    near duplicate (a paper series, a resubmission) and skipped.  Deterministic.
    """
    queues = {name: ranked for name, ranked in ranking.by_category.items() if ranked}
    order = sorted(queues, key=lambda name: (-queues[name][0].score, name))
    depth = per_category * 5  # room for skipped duplicates
    pool = [rp for name in order for rp in queues[name][:depth]]
    if not pool or limit <= 0:
        return []
    try:
        vectors = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(
            [paper_text(rp.paper) for rp in pool]
        )
    except ValueError:  # no word left but stop words ("System"): nothing to compare
        vectors = None
    row = {id(rp): i for i, rp in enumerate(pool)}
    picks: list[RankedPaper] = []
    picked_rows: list[int] = []
    taken = dict.fromkeys(order, 0)
    cursor = dict.fromkeys(order, 0)
    while len(picks) < limit:
        progressed = False
        for name in order:
            if len(picks) >= limit or taken[name] >= per_category:
                continue
            candidates = queues[name][:depth]
            while cursor[name] < len(candidates):
                rp = candidates[cursor[name]]
                cursor[name] += 1
                i = row[id(rp)]
                if picked_rows and vectors is not None:
                    sims = (vectors[picked_rows] @ vectors[i].T).toarray().ravel()
                    if float(sims.max()) > duplicate_similarity:
                        log.debug("top picks: %s skipped as a near duplicate", rp.paper.id)
                        continue
                picks.append(rp)
                picked_rows.append(i)
                taken[name] += 1
                progressed = True
                break
        if not progressed:
            break
    return picks


# --------------------------------------------------------------------------- section


def build_trends_section(
    store: Store,
    categories: Sequence[Category],
    rank_settings: RankConfig | None,
    month: Month,
    *,
    ranking: Ranking | None = None,
    papers: list[Paper] | None = None,
    by: str = "submitted",
    min_score: float = 0.0,
    options: TrendOptions = DEFAULT_OPTIONS,
    ranker: Ranker | None = None,
) -> TrendsSection:
    """The trends of ``month`` from the store (see the module docstring).

    ``ranking`` and ``papers`` are the month's, when the caller has them already (the
    digest pipeline does); otherwise they are read and ranked here.  Earlier months'
    counts come from the cache, ranked by ``ranker`` and cached on first use.
    """
    ranker = ranker or MonthRanker(categories, rank_settings, min_score)
    if papers is None:
        papers = store.papers_for_month(month, by=by)
    setup = ranking_fingerprint(categories, rank_settings, min_score)
    if ranking is None:
        ranking = ranker.rank(store, str(month), papers)
    names = [c.name for c in categories]
    notes: list[str] = []
    coverage = _coverage(store, month, by, options)

    current = month_category_counts(
        store, month, categories, rank_settings, by=by, min_score=min_score,
        ranking=ranking, setup=setup, ranker=ranker,
    )  # fmt: skip

    def counts(m: str) -> MonthCounts:
        return month_category_counts(
            store, m, categories, rank_settings, by=by, min_score=min_score, setup=setup,
            ranker=ranker,
        )  # fmt: skip

    history = {m: counts(m) for m in _trailing(month, 12) if coverage.usable(m)}
    partial = [m for m in _trailing(month, 12) if coverage.partial(m)]
    if partial:
        notes.append(_partial_note(partial, coverage, options))
    if current.total < coverage.floor:
        notes.append(_incomplete_note(month, current.total))
    base_3 = [history[m] for m in _trailing(month, 3) if m in history]
    base_12 = [history[m] for m in _trailing(month, 12) if m in history]
    rows, no_category = category_trends(current, base_3, base_12, names)

    term_months = [m for m in _trailing(month, options.term_window) if m in history]
    matrix = _LazyTerms(papers)
    current_terms = month_term_counts(store, month, by=by, matrix=matrix)
    baseline_terms = [month_term_counts(store, m, by=by) for m in term_months]
    titles = TermCounts.from_texts([p.title for p in papers])
    # The month's term matrix even when its counts are cached: the rising terms'
    # cohesion compares the papers using them with all of the month's.
    rising = rising_terms(
        current_terms,
        baseline_terms,
        papers,
        options,
        titles=titles,
        matrix=matrix() if baseline_terms else matrix.built,
    )

    unmatched = unmatched_papers(papers, ranking)
    emerging = _cached_emerging(store, month, by, setup, unmatched, names, options, matrix, papers)
    emerging = _emerging_first(emerging, current_terms, baseline_terms, options)

    volume_months = [*[m for m in _trailing(month, 11) if m in history], str(month)]
    by_month = {**history, str(month): current}
    volume = VolumeSeries(
        months=volume_months,
        series={n: [by_month[m].counts.get(n, 0) for m in volume_months] for n in names},
        totals=[by_month[m].total for m in volume_months],
    )
    return TrendsSection(
        month=month,
        by=by,
        papers=current.total,
        unmatched=current.unmatched,
        clustered=len(unmatched),
        categories=rows,
        no_category=no_category,
        baseline_3=_baseline(3, base_3),
        baseline_12=_baseline(12, base_12),
        term_baseline=_baseline(options.term_window, [history[m] for m in term_months]),
        rising=rising,
        emerging=emerging,
        top_picks=top_picks(
            ranking, options.top_picks, options.picks_per_category, options.duplicate_similarity
        ),
        volume=volume,
        notes=notes,
        options=options,
        ranking=ranking,
    )


def _incomplete_note(month: Month | str, total: int) -> str:
    return (
        f"{month} has only {total:,} paper{'' if total == 1 else 's'} so far, fewer than "
        "the months around it: it may be incomplete."
    )


def _partial_note(partial: list[str], coverage: _Coverage, options: TrendOptions) -> str:
    """Name the partial months left out; months of a few stray papers are only counted."""
    named = [m for m in partial if coverage.totals[m] >= _STRAY_PAPERS]
    stray = len(partial) - len(named)
    parts = [f"{m} ({coverage.totals[m]:,} papers)" for m in named]
    if stray:
        parts.append(f"{stray} month{'s' if stray > 1 else ''} with only a few stray papers")
    return (
        f"Left out of the comparisons as partial (under {options.partial_ratio:.0%} of the "
        f"busiest month's papers): {', '.join(parts)}."
    )


_STRAY_PAPERS = 10


def _baseline(span: int, months: list[MonthCounts]) -> Baseline:
    return Baseline(span, tuple(m.month for m in months), sum(m.total for m in months))


def _cached_emerging(
    store: Store,
    month: Month,
    by: str,
    setup: str,
    unmatched: list[Paper],
    names: list[str],
    options: TrendOptions,
    matrix: Callable[[], TermMatrix],
    papers: Sequence[Paper],
) -> list[EmergingTopic]:
    key = f"emerging:{by}:{month}"
    ids = digest(sorted(p.id for p in unmatched))
    settings = digest([dataclasses.asdict(options), _own_code_hash()])
    fingerprint = f"{store.month_fingerprint(month, by)}|{setup}|{ids}|{settings}"
    cached = read_cached(store, key, fingerprint)
    if cached is not None:
        return _topics_from_json(cached)
    row = {p.id: i for i, p in enumerate(papers)}
    rows = matrix().rows([row[p.id] for p in unmatched])
    topics = emerging_topics(unmatched, month, options, existing=names, matrix=rows)
    write_cached(store, key, fingerprint, _topics_to_json(topics))
    return topics


def _emerging_first(
    topics: list[EmergingTopic],
    current: TermCounts,
    baseline: Sequence[TermCounts],
    options: TrendOptions,
) -> list[EmergingTopic]:
    """The topics to report: each with the growth of its lead term (as for rising
    terms), fastest growing first, at most ``shown_topics``.  Without earlier months
    to compare with, the largest first."""
    base_papers = sum(b.papers for b in baseline)
    if base_papers:
        topics = [
            dataclasses.replace(
                topic,
                growth=term_growth(
                    current.get(topic.terms[0]), current.papers,
                    sum(b.get(topic.terms[0]) for b in baseline), base_papers, options.smoothing,
                ),
            )
            for topic in topics
        ]  # fmt: skip
    topics.sort(key=lambda t: (-(t.growth or 0.0), -t.size, t.name))
    return topics[: options.shown_topics]


# --------------------------------------------------------------------------- report


def month_span(start: Month, end: Month) -> int:
    """How many months from ``start`` to ``end`` inclusive; a reversed range is an error."""
    if (end.year, end.month) < (start.year, start.month):
        raise InputError(f"--from {start} is after --to {end}; give the earlier month first")
    return (end.year - start.year) * 12 + end.month - start.month + 1


def build_trend_report(
    store: Store,
    categories: Sequence[Category],
    rank_settings: RankConfig | None,
    start: Month,
    end: Month,
    *,
    by: str = "submitted",
    min_score: float = 0.0,
    options: TrendOptions = DEFAULT_OPTIONS,
    ranker: Ranker | None = None,
) -> TrendReport:
    """Trends for every month from ``start`` to ``end`` (inclusive) the store holds.

    Months are built oldest first, so each month's counts are cached before the next
    month's baselines need them; ``ranker`` as in :func:`build_trends_section`.
    """
    span = month_span(start, end)
    held = store.month_counts(by)
    if not any(held.get(str(start.shift(offset))) for offset in range(span)):
        raise InputError(
            f"the store {store.path} has no papers {papers_of(by, start, end)}; import "
            "a file (trenddigest import FILE) or fetch the months (trenddigest fetch --month M)"
        )
    sections: list[TrendsSection] = []
    missing: list[str] = []
    for offset in range(span):
        month = start.shift(offset)
        if not held.get(str(month)):
            missing.append(str(month))
            continue
        sections.append(
            build_trends_section(
                store, categories, rank_settings, month, by=by, min_score=min_score,
                options=options, ranker=ranker,
            )
        )  # fmt: skip
    # A month of the range with a sliver of the busiest one's papers (the late days
    # of a month announced with the next one, a month still being fetched) would make
    # every share's change and the chart's lines about that sliver.
    busiest = max(s.papers for s in sections)
    floor = _partial_floor(busiest, options.partial_ratio)
    partial = [str(s.month) for s in sections if s.papers < floor]
    for s in sections:
        note = _incomplete_note(s.month, s.papers)
        if str(s.month) in partial and note not in s.notes:
            s.notes.append(note)
    full = [i for i, s in enumerate(sections) if str(s.month) not in partial]
    compared = (full[0], full[-1]) if len(full) > 1 else None
    names = [c.name for c in categories]
    rows = [
        ReportRow(
            name,
            tuple(_count_of(s, name) for s in sections),
            tuple(_count_of(s, name) / s.papers if s.papers else 0.0 for s in sections),
            compared,
        )
        for name in names
    ]
    rows.sort(key=lambda r: (-_row_shown_change(r), -(r.change or 0.0), -sum(r.counts), r.name))
    rows.append(
        ReportRow(
            "No category",
            tuple(s.unmatched for s in sections),
            tuple(s.unmatched / s.papers if s.papers else 0.0 for s in sections),
            compared,
        )
    )
    charted = [sections[i] for i in full]
    volume = VolumeSeries(
        months=[str(s.month) for s in charted],
        series={name: [_count_of(s, name) for s in charted] for name in names},
        totals=[s.papers for s in charted],
    )
    return TrendReport(
        start, end, by, sections, rows, volume, missing, partial, options.partial_ratio
    )


def _row_shown_change(row: ReportRow) -> float:
    ends = row.ends
    return 0.0 if ends is None else _shown_points(ends[1], ends[0])


def _count_of(section: TrendsSection, name: str) -> int:
    for row in section.categories:
        if row.name == name:
            return row.count
    return 0


# --------------------------------------------------------------------------- json


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def section_to_json(section: TrendsSection) -> dict[str, Any]:
    """The section as plain JSON data (for the digest's JSON twin); stable key order."""

    def category(row: CategoryTrend) -> dict[str, Any]:
        return {
            "name": row.name,
            "count": row.count,
            "share": _num(row.share),
            "share_3": _num(row.share_3),
            "change_3": _num(row.change_3),
            "share_12": _num(row.share_12),
            "change_12": _num(row.change_12),
        }

    def examples(items: Iterable[ExamplePaper]) -> list[dict[str, str]]:
        return [{"id": e.id, "title": e.title, "abs_url": e.abs_url} for e in items]

    return {
        "month": str(section.month),
        "by": section.by,
        "papers": section.papers,
        "unmatched": section.unmatched,
        "baselines": {
            "3": list(section.baseline_3.months),
            "12": list(section.baseline_12.months),
            "terms": list(section.term_baseline.months),
        },
        "categories": [category(r) for r in [*section.categories, section.no_category]],
        "rising_terms": [
            {
                "term": r.term,
                "shown": r.label,
                "support": r.support,
                "papers": r.papers,
                "baseline_support": r.baseline_support,
                "baseline_papers": r.baseline_papers,
                "growth": _num(r.growth),
                "examples": examples(r.examples),
            }
            for r in section.rising
        ],
        "emerging_topics": [
            {
                "name": t.name,
                "terms": list(t.terms),
                "size": t.size,
                "growth": _num(t.growth),
                "examples": examples(t.examples),
                "paper_ids": list(t.paper_ids),
                "toml": t.toml,
            }
            for t in section.emerging
        ],
        "volume": {
            "months": section.volume.months,
            "series": section.volume.series,
            "totals": section.volume.totals,
        },
        "notes": list(section.notes),
    }


# --------------------------------------------------------------------------- render


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def _pp(value: float | None) -> str:
    """A change of share in percentage points, with a direction mark."""
    if value is None:
        return "n/a"
    points = 100 * value
    if abs(points) < 1e-9:
        return "±0.0 pp"
    mark = "▲" if points > 0 else "▼"
    if round(points, 1) == 0:
        # Shares shown as 1.6% and 1.5% can differ by 0.04 pp: "±0.0" would read as if
        # the two numbers beside it were wrong.
        return f"{mark} <0.1 pp"
    return f"{mark} {points:+.1f} pp".replace("-", "−")


def _shown_points(share: float, base: float | None) -> float:
    """The change in points between two shares as the page shows them (0.0 for none)."""
    if base is None:
        return 0.0
    return float(_pct(share).rstrip("%")) - float(_pct(base).rstrip("%"))


def _pp_between(share: float | None, base: float | None) -> str:
    """The change from ``base`` to ``share`` as :func:`_pp` writes it, but from the two
    shares as rounded on the page: "1.3%" beside "1.0%" is "+0.3 pp", even when the
    exact change is 0.24.  Two shares shown alike keep only the exact direction
    ("▲ <0.1 pp"), or "±0.0 pp" when they are equal."""
    if share is None or base is None:
        return "n/a"
    shown = _shown_points(share, base)
    if round(shown, 1) == 0:
        if share == base:
            return "±0.0 pp"
        return "▲ <0.1 pp" if share > base else "▼ <0.1 pp"
    return _pp(shown / 100)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"×{value:.1f}"


def _per_thousand(value: float) -> str:
    return f"{value:.1f}"


def _environment(templates_dir: str | Path | None) -> jinja2.Environment:
    from .render import template_environment

    return template_environment(templates_dir, setup=_trend_filters)


def _trend_filters(env: jinja2.Environment) -> None:
    env.filters["pct"] = _pct
    env.filters["pp"] = _pp
    env.filters["pp_from"] = _pp_between
    env.filters["ratio"] = _ratio
    env.filters["per1000"] = _per_thousand
    env.globals["mermaid_xychart"] = mermaid_xychart
    env.globals["chart_legend"] = legend_markdown


_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"


def render_trends_section(
    section: TrendsSection,
    *,
    templates_dir: str | Path | None = None,
    heading_level: int = 2,
    chart: str = "mermaid",
    png_src: str | None = None,
    include_top_picks: bool = False,
    chart_series: int = DEFAULT_OPTIONS.chart_series,
    collapsible: bool | None = None,
) -> str:
    """The Markdown of a month's trends (the ``section`` macro of trends.md.j2).

    ``chart``: ``"mermaid"`` (GitHub), ``"png"`` (e-mail: an image at ``png_src``),
    ``"both"`` or ``"none"``.  Top picks are off by default because the digest page
    lists them itself.  ``collapsible``: whether the candidate categories' TOML may
    fold away in a ``<details>`` block; by default only beside a Mermaid chart, that
    is on GitHub.  The e-mail renders the Markdown with raw HTML shown as text (paper
    titles are not ours), where the tags would reach the reader literally.
    """
    from .render import template_errors

    _check_chart(chart)
    with template_errors(templates_dir):
        template = _environment(templates_dir).get_template(TEMPLATE_NAME)
        module = template.make_module({"collapsible": _collapsible(chart, collapsible)})
        text = module.section(  # type: ignore[attr-defined]
            section, heading_level, chart, png_src, include_top_picks, chart_series
        )
    return _tidy(str(text))


def check_template(templates_dir: str | Path | None = None) -> None:
    """Compile the trends part's template (the user's own first, with the filters it
    is rendered with), raising the :class:`InputError` rendering would."""
    from .render import template_errors

    with template_errors(templates_dir):
        _environment(templates_dir).get_template(TEMPLATE_NAME)


def render_trend_report(
    report: TrendReport,
    *,
    templates_dir: str | Path | None = None,
    chart: str = "mermaid",
    png_src: str | None = None,
    chart_series: int = DEFAULT_OPTIONS.chart_series,
    collapsible: bool | None = None,
) -> str:
    """The standalone report's Markdown (the body of trends.md.j2); ``chart`` and
    ``collapsible`` as in :func:`render_trends_section`."""
    from .render import resolve_anchors, template_errors

    _check_chart(chart)
    with template_errors(templates_dir):
        template = _environment(templates_dir).get_template(TEMPLATE_NAME)
        text = template.render(
            report=report,
            chart=chart,
            png_src=png_src,
            chart_series=chart_series,
            collapsible=_collapsible(chart, collapsible),
        )
    return _tidy(resolve_anchors(text))


def _collapsible(chart: str, collapsible: bool | None) -> bool:
    """Raw HTML (``<details>``) only in Markdown meant for GitHub (see
    :func:`render_trends_section`)."""
    return chart in {"mermaid", "both"} if collapsible is None else collapsible


def _check_chart(chart: str) -> None:
    if chart not in {"mermaid", "png", "both", "none"}:
        raise ValueError(f"chart must be mermaid, png, both or none, not {chart!r}")


def write_trend_report(
    report: TrendReport, path: Path, *, templates_dir: str | Path | None = None
) -> list[Path]:
    """Write the report with its chart as a PNG beside it (same name, ``.png``), both
    or neither; returns what was written.  Without matplotlib the report carries its
    mermaid chart only."""
    from .render import write_files_atomic

    png_path = path.with_suffix(".png")
    png = render_png(report.volume, report.chart_title)
    text = render_trend_report(
        report,
        templates_dir=templates_dir,
        chart="both" if png else "mermaid",
        png_src=png_path.name if png else None,
    )
    files: dict[Path, str | bytes] = {path: text}
    if png is not None:
        files[png_path] = png
    write_files_atomic(files)
    return list(files)
