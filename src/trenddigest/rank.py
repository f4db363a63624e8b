"""Ranking a month's papers against the curated categories.

A category is a weighted query: its keywords, matched as whole phrases ("knowledge
distillation" must appear as those two words in a row), each word stemmed so that
"distillation" also finds "distilled" and "distilling".  A paper is scored per
category with BM25F over title and abstract (a title word counts ``title_weight``
times), and the words of a multi-word keyword count again as weak evidence
(``word_weight``), which helps categories written with generic phrases.  An
abbreviation a paper defines for a keyword phrase ("knowledge distillation (KD)")
counts as the phrase wherever that paper uses it (``acronyms``): a paper about a
topic names it once and then writes "KD", and without this it would look like a
paper that mentions distillation once.

Only papers that contain at least one keyword of a category can be placed in it, an
``exclude`` term vetoes a category, a category with ``require`` terms takes only papers
holding one of them (a medical topic whose keywords are not medical), a paper
withdrawn or removed by arXiv (its notice in the abstract or the comments) is never
placed, and a paper goes to the category it scores highest in among those whose
threshold its score clears; the rest are counted as unmatched rather than forced
somewhere.  Every placed paper carries up to five terms that
contributed most ("why"): its matched keywords as the category spells them, a phrase
instead of its own words, then rare single words of keywords ("logit", never
"learning").  The score is ``raw / (raw + 10)``, 0..1; the default threshold 0.6 was
calibrated on months of 4,000-7,000 papers, where a category's keyword appears in a
few percent of them (the idf depends on that share, not on the month's size).

Why this design and these defaults: ``benchmarks/quality.py`` measures them on real
months against a keyword filter and arxiv-sanity-lite's TF-IDF cosine (results and
the ablation of each idea in ``benchmarks/results/quality.md``).  Ideas that did not
pay for themselves there are off by default but kept as settings: pseudo-relevance
feedback, LSA (which, like ``method = "tfidf"``, imports scikit-learn; the default
path never does), an idf fitted on earlier months, per-category relative thresholds
and near-duplicate demotion.

Speed: a month of ~6,000 abstracts is tokenized once with ``bytes.translate`` and
``split`` (C speed), words become integer ids, and everything after that is numpy /
scipy array work over the few hundred keyword terms, so ranking takes a fraction of
a second.  The function does no I/O; earlier months (``background``) are read only
with ``background_idf``, and the pipeline passes none.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .categories import Category, weight_problem
from .config import RankConfig, check_rank
from .errors import ConfigError
from .models import Paper
from .tfidf import WordIds, english_stop_words

if TYPE_CHECKING:  # pragma: no cover
    from scipy.sparse import csr_matrix

log = logging.getLogger(__name__)

# score = raw / (raw + SCORE_SCALE): maps BM25 sums to 0..1 so thresholds read as shares.
SCORE_SCALE = 10.0
MIN_IDF_PAPERS = 1000
WHY_TERMS = 5
WHY_WORD_SHARE = 0.02  # most papers a keyword's single word may occur in to be shown as why
DIVERSITY_WINDOW = 20
_CHUNK = 2048  # papers tokenized at a time
_PRF_TERMS = 20
_LSA_SEED = 0


@dataclass
class RankedPaper:
    paper: Paper
    category: str
    score: float
    why: list[str] = field(default_factory=list)


@dataclass
class Ranking:
    """The month's papers placed under categories, each list best first."""

    considered: int
    by_category: dict[str, list[RankedPaper]]
    unmatched: int

    def all_ranked(self) -> list[RankedPaper]:
        return [rp for papers in self.by_category.values() for rp in papers]


def paper_text(paper: Paper) -> str:
    return f"{paper.title}. {paper.abstract}"


def _sparse() -> Any:
    """scipy.sparse, imported on first use: a digest served from cache never needs it."""
    import scipy.sparse

    return scipy.sparse


# --------------------------------------------------------------------------- words

_SEP = b"\x01"
# Lowercased ASCII letters and digits are word bytes; punctuation, hyphens and every
# non-ASCII byte separate words ("vision-language" is two words, as in a keyword).
_TABLE = bytes(
    c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122 or c == 1) else 32
    for c in range(256)
)
_STOP = frozenset(w.encode() for w in english_stop_words())
# Suffixes stripped from a keyword word before prefix matching, longest first.
_SUFFIXES = (
    b"ations",
    b"ation",
    b"ability",
    b"ibility",
    b"ities",
    b"ity",
    b"ness",
    b"ings",
    b"ing",
    b"ions",
    b"ion",
    b"ive",
    b"ed",
    b"es",
    b"s",
    b"e",
)
_MIN_STEM = 4
_MAX_EXTRA = 6  # a prefix stem matches words at most this many letters longer


def _words(text: str) -> list[bytes]:
    return text.encode("utf-8", "replace").translate(_TABLE).split()


Key = tuple[bytes, bool]  # (stem, exact)


def _key(word: bytes, stemming: str) -> Key:
    """How a keyword word matches text words: exactly (plus plural) or by stem prefix.

    Short words, stop words and words with digits ("ViT", "3D", "of") only match
    themselves or their plural, so "gan" never matches "organ".
    """
    if stemming != "prefix" or len(word) <= 4 or word in _STOP or any(48 <= c <= 57 for c in word):
        plural = len(word) > 4 and word.endswith(b"s") and not word.endswith(b"ss")
        return (word[:-1], True) if plural and stemming != "none" else (word, True)
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            if suffix == b"s" and word.endswith(b"ss"):
                continue
            return word[: -len(suffix)], False
    return word, False


@dataclass
class _Corpus:
    """Every word of every paper as integer ids; text 2*d is paper d's title, 2*d+1 its abstract."""

    n: int
    vocab: list[bytes]
    ids: np.ndarray  # word ids in text order; 0 separates texts
    text: np.ndarray  # the text each position belongs to (-1 for separators)
    counts: csr_matrix  # (2n, len(vocab)) word counts per text
    index: dict[bytes, int]  # word -> id


def _corpus(papers: Sequence[Paper]) -> _Corpus:
    """Tokenize in chunks: the word objects of a 13,500-paper month at once would hold
    a few hundred MB; the integer ids of all of them hold a few tens."""
    sp = _sparse()
    index = WordIds({_SEP: 0})
    parts: list[np.ndarray] = []
    for start in range(0, len(papers), _CHUNK):
        texts = [t for p in papers[start : start + _CHUNK] for t in (p.title, p.abstract)]
        # Every text, the chunk's last included, is followed by a separator.
        joined = "".join(t.replace("\x01", " ") + " \x01 " for t in texts)
        tokens = joined.encode("utf-8", "replace").translate(_TABLE).split()
        parts.append(np.fromiter(map(index.__getitem__, tokens), np.int32, len(tokens)))
    ids = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    sep = ids == 0
    text = (np.cumsum(sep) - sep).astype(np.int32)  # a separator closes its text
    words = ~sep
    counts = sp.csr_matrix(
        (np.ones(int(words.sum()), np.float32), (text[words], ids[words])),
        shape=(2 * len(papers), len(index)),
    )
    counts.sum_duplicates()
    return _Corpus(len(papers), list(index), ids, np.where(sep, -1, text), counts, dict(index))


def _key_matrix(vocab: list[bytes], keys: list[Key]) -> np.ndarray:
    """Boolean (len(vocab), len(keys)): which vocabulary words each key matches."""
    prefix = {stem: i for i, (stem, exact) in enumerate(keys) if not exact}
    exact = {stem: i for i, (stem, is_exact) in enumerate(keys) if is_exact}
    heads = {stem[:_MIN_STEM] for stem in prefix}
    out = np.zeros((len(vocab), len(keys)), dtype=bool, order="F")  # read column by column
    for v, word in enumerate(vocab):
        # Every key the word is, or is the plural of: "llms" is both the key "llms"
        # (another category's "multimodal LLMs") and the plural of the key "llm".
        forms = [word]
        if word.endswith(b"s"):
            forms.append(word[:-1])
            if word.endswith(b"es"):
                forms.append(word[:-2])
        # "anomalies" is the plural of "anomaly", as a key matched exactly or by stem.
        singular = word[:-3] + b"y" if word.endswith(b"ies") and len(word) > 4 else None
        if singular is not None:
            forms.append(singular)
            j = prefix.get(singular)
            if j is not None:
                out[v, j] = True
        for form in forms:
            i = exact.get(form)
            if i is not None:
                out[v, i] = True
        if word[:_MIN_STEM] in heads:
            for length in range(len(word), _MIN_STEM - 1, -1):
                j = prefix.get(word[:length])
                if j is not None and len(word) - length <= _MAX_EXTRA:
                    out[v, j] = True
    return out


def _term_counts(
    corpus: _Corpus, terms: list[tuple[Key, ...]], acronyms: bool = False
) -> csr_matrix:
    """(2n, len(terms)) occurrences of each term per text; a phrase needs its words in a row.

    With ``acronyms``, an abbreviation a paper defines for a phrase keyword ("knowledge
    distillation (KD)") counts as the phrase wherever that paper uses it: papers about
    a topic name it once and then write the abbreviation, so without this the paper
    that is most about distillation looks like it mentions it once.
    """
    sp = _sparse()
    rows = 2 * corpus.n
    if not terms:
        return sp.csr_matrix((rows, 0))
    keys = sorted({k for term in terms for k in term})
    kidx = {k: i for i, k in enumerate(keys)}
    km = _key_matrix(corpus.vocab, keys)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (row, term, count)
    single = [i for i, term in enumerate(terms) if len(term) == 1]
    if single:
        words, cols = np.nonzero(km[:, [kidx[terms[i][0]] for i in single]])
        pick = sp.csr_matrix(
            (np.ones(len(words)), (words, np.asarray(single)[cols])),
            shape=(km.shape[0], len(terms)),
        )
        uni = (corpus.counts @ pick).tocoo()
        parts.append((uni.row, uni.col, uni.data))
    multi = [i for i, term in enumerate(terms) if len(term) > 1]
    defined: list[tuple[int, np.ndarray]] = []  # (term, positions of its abbreviation)
    if multi:
        ids, text = corpus.ids, corpus.text
        firsts = sorted({kidx[terms[i][0]] for i in multi})
        # Positions of every word that can start a phrase, grouped by word id.
        can_start = np.any(km[:, firsts], axis=1)
        pos_all = np.flatnonzero(can_start[ids])
        pos_all = pos_all[np.argsort(ids[pos_all], kind="stable")]
        bounds = np.searchsorted(ids[pos_all], np.arange(len(corpus.vocab) + 1))
        starts: dict[int, np.ndarray] = {}
        last = len(ids) - 1
        for i in multi:
            ks = [kidx[k] for k in terms[i]]
            if ks[0] not in starts:
                found = [pos_all[bounds[v] : bounds[v + 1]] for v in np.flatnonzero(km[:, ks[0]])]
                starts[ks[0]] = np.sort(np.concatenate(found)) if found else np.zeros(0, np.int64)
            pos = starts[ks[0]]
            for step, k in enumerate(ks[1:], start=1):
                pos = pos[pos + step <= last]
                nxt = pos + step
                pos = pos[km[ids[nxt], k] & (text[nxt] == text[pos])]
            if not len(pos):
                continue
            hit_rows, hit_counts = np.unique(text[pos], return_counts=True)
            parts.append((hit_rows, np.full(len(hit_rows), i), hit_counts))
            if acronyms:
                after = _abbreviation_after(corpus, pos, terms[i])
                if len(after):
                    defined.append((i, after))
    if defined:
        parts.append(_abbreviation_counts(corpus, defined, len(terms)))
    if not parts:
        return sp.csr_matrix((rows, len(terms)))
    # A phrase and its abbreviation in one text are two entries of one cell: summed.
    return sp.csr_matrix(
        (
            np.concatenate([p[2] for p in parts]).astype(np.float64),
            (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])),
        ),
        shape=(rows, len(terms)),
    )


def _abbreviation_after(corpus: _Corpus, pos: np.ndarray, term: tuple[Key, ...]) -> np.ndarray:
    """Positions right after a phrase that hold its initials ("... distillation kd"),
    i.e. where the paper defines an abbreviation; stop words ("is", "in") never count."""
    initials = bytes(stem[0] for stem, _ in term)
    candidates = [
        corpus.index[w] for w in (initials, initials + b"s") if w in corpus.index and w not in _STOP
    ]
    if not candidates:
        return np.zeros(0, np.int64)
    nxt = pos + len(term)
    nxt = nxt[nxt < len(corpus.ids)]
    word = corpus.ids[nxt]
    match = word == candidates[0]
    for c in candidates[1:]:
        match |= word == c
    nxt = nxt[match]
    return nxt[corpus.text[nxt] == corpus.text[nxt - len(term)]]


def _abbreviation_counts(
    corpus: _Corpus, defined: list[tuple[int, np.ndarray]], n_terms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every use of a defined abbreviation in its paper's title and abstract, as extra
    occurrences of the phrase: (row, term, count), the defining mentions left out."""
    term = np.concatenate([np.full(len(p), i, np.int64) for i, p in defined])
    pos = np.concatenate([p for _, p in defined])
    word = corpus.ids[pos].astype(np.int64)
    text = corpus.text[pos].astype(np.int64)
    n_words = len(corpus.vocab)
    # Occurrences of the abbreviations, per (text, word).
    used = np.unique(word)
    at = np.flatnonzero(np.isin(corpus.ids, used))
    occ_keys, occ = np.unique(
        corpus.text[at].astype(np.int64) * n_words + corpus.ids[at], return_counts=True
    )
    # Defining mentions, per (text, term, word): already counted as the phrase.
    def_keys, defs = np.unique((text * n_terms + term) * n_words + word, return_counts=True)

    def lookup(keys: np.ndarray, table: np.ndarray, values: np.ndarray) -> np.ndarray:
        i = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        return np.where(table[i] == keys, values[i], 0)

    pairs = np.unique(np.stack([text // 2, term, word], axis=1), axis=0)
    paper, term, word = pairs[:, 0], pairs[:, 1], pairs[:, 2]
    rows, cols, data = [], [], []
    for row in (2 * paper, 2 * paper + 1):
        extra = lookup(row * n_words + word, occ_keys, occ) - lookup(
            (row * n_terms + term) * n_words + word, def_keys, defs
        )
        keep = extra > 0
        rows.append(row[keep])
        cols.append(term[keep])
        data.append(extra[keep])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(data)


# --------------------------------------------------------------------------- queries


@dataclass
class _Queries:
    """All categories as weights over one shared list of terms."""

    terms: list[tuple[Key, ...]]
    labels: list[str]  # how each term is shown in "why": the keyword as the category wrote it
    padded: list[str]  # " words of the label ", for "is this word part of that phrase"
    strong: np.ndarray  # (T, C) keyword weights: a match here makes a paper eligible
    weak: np.ndarray  # (T, C) weights of keyword words: re-rank only
    excluded: list[list[int]]  # per category, terms that veto it
    required: list[list[int]]  # per category, terms of which a paper must hold one (if any)
    # per category, the keyword phrase each weak word comes from: "law" alone in a
    # "why" reads like noise, "law (of scaling law)" says what it stands for
    origins: list[dict[int, str]] = field(default_factory=list)


def _queries(categories: Sequence[Category], settings: RankConfig) -> _Queries:
    terms: list[tuple[Key, ...]] = []
    labels: list[str] = []
    index: dict[tuple[Key, ...], int] = {}

    def term(text: str, stemming: str = settings.stemming) -> int | None:
        words = _words(text)
        if not words:
            return None
        keys = tuple(_key(w, stemming) for w in words)
        if keys not in index:
            index[keys] = len(terms)
            terms.append(keys)
            labels.append(" ".join(text.split()))
        return index[keys]

    strong: list[dict[int, float]] = []
    weak: list[dict[int, float]] = []
    origins: list[dict[int, str]] = []
    excluded: list[list[int]] = []
    required: list[list[int]] = []
    for cat in categories:
        origin: dict[int, str] = {}
        s: dict[int, float] = {}
        for kw in cat.keywords:
            i = term(kw.term)
            if i is not None:
                s[i] = max(s.get(i, 0.0), kw.weight)
        w: dict[int, float] = {}
        if settings.word_weight > 0:
            for kw in cat.keywords:
                words = _words(kw.term)
                if len(words) < 2:
                    continue
                for word in words:
                    if word in _STOP or len(word) < 3 or word.isdigit():
                        continue
                    i = term(word.decode())
                    if i is not None and i not in s:
                        w[i] = max(w.get(i, 0.0), settings.word_weight * kw.weight)
                        origin.setdefault(i, " ".join(kw.term.split()))
        strong.append(s)
        weak.append(w)
        origins.append(origin)
        # An exclude vetoes the words as written (or their plural), not every word
        # sharing their stem: "distilled" (water) must not veto "distillation".
        literal = "none" if settings.stemming == "none" else "plural"
        vetoes = (term(text, literal) for text in cat.exclude)
        excluded.append([i for i in vetoes if i is not None])
        needs = (term(text, literal) for text in cat.require)
        required.append([i for i in needs if i is not None])
    shape = (len(terms), len(categories))
    s_matrix, w_matrix = np.zeros(shape), np.zeros(shape)
    for j, (s, w) in enumerate(zip(strong, weak, strict=True)):
        for i, weight in s.items():
            s_matrix[i, j] = weight
        for i, weight in w.items():
            w_matrix[i, j] = weight
    padded = [" " + " ".join(w.decode() for w in _words(label)) + " " for label in labels]
    return _Queries(terms, labels, padded, s_matrix, w_matrix, excluded, required, origins)


# --------------------------------------------------------------------------- scoring


def _check(settings: RankConfig, categories: Sequence[Category] = ()) -> None:
    check_rank(settings)  # settings built in code never went through the config file
    # Nor did categories built in code: a weight near the float limit overflows the
    # scores to nan (and the profile text to a list of that many copies).
    for category in categories:
        for kw in category.keywords:
            problem = weight_problem(kw.weight)
            if problem:
                raise ConfigError(f"category {category.name!r}: keyword {kw.term!r}: {problem}")


def _saturate(tf: csr_matrix, lengths: np.ndarray, k1: float, b: float) -> csr_matrix:
    """BM25's term-frequency saturation with document-length normalisation."""
    tf = tf.tocsr(copy=True).astype(np.float64)
    avg = float(lengths.mean()) or 1.0
    rows = np.repeat(np.arange(tf.shape[0]), np.diff(tf.indptr))
    norm = k1 * (1 - b + b * lengths[rows] / avg)
    tf.data = tf.data * (k1 + 1) / (tf.data + norm)
    return tf


def _idf(df: np.ndarray, n: float) -> np.ndarray:
    return np.log(1 + (n - df + 0.5) / (df + 0.5))


def _document_frequency(counts: csr_matrix) -> np.ndarray:
    """Papers containing each column, from (2n, X) per-text counts."""
    present = (counts[0::2] + counts[1::2]).tocsc()
    return np.diff(present.indptr).astype(np.float64)


@dataclass
class _Scored:
    """Every paper's raw score in every category, with what explaining it needs."""

    raw: np.ndarray  # (papers, categories); 0 where a paper may not be placed
    corpus: _Corpus
    queries: _Queries
    sat: csr_matrix  # saturated keyword-term frequencies per paper
    strong_q: np.ndarray  # keyword weights per (term, category), idf included
    idf: np.ndarray
    df: np.ndarray
    n_docs: float


def _score(
    papers: list[Paper],
    categories: Sequence[Category],
    settings: RankConfig,
    background: Sequence[Paper] | None,
) -> _Scored:
    queries = _queries(categories, settings)
    corpus = _corpus(papers)
    counts = _term_counts(corpus, queries.terms, settings.acronyms)
    tw = settings.title_weight
    tf = (counts[0::2] * tw + counts[1::2]).tocsr()
    text_len = np.asarray(corpus.counts.sum(axis=1)).ravel()
    doc_len = text_len[0::2] * tw + text_len[1::2]
    # A small month (a file of a few papers, a store filled on the 2nd) would make every
    # keyword look common; its idf is taken as if the month had at least MIN_IDF_PAPERS
    # papers, the others without the keyword (real months have thousands: no change).
    df, n_docs = _document_frequency(counts), float(max(len(papers), MIN_IDF_PAPERS))
    if background and settings.background_idf:
        bg = _corpus(background)
        df = df + _document_frequency(_term_counts(bg, queries.terms, settings.acronyms))
        n_docs += bg.n
    idf = _idf(df, n_docs)
    sat = _saturate(tf, doc_len, settings.k1, settings.b)
    strong_q = queries.strong * idf[:, None]
    raw = np.asarray(sat @ strong_q)
    eligible = raw > 0
    if queries.weak.any():
        raw = raw + np.asarray(sat @ (queries.weak * idf[:, None]))
    present = (counts[0::2] + counts[1::2]).tocsc()
    for j, terms in enumerate(queries.excluded):
        for i in terms:
            eligible[present[:, i].indices, j] = False
    for j, terms in enumerate(queries.required):
        # Categories built in code skip the loader's checks: a require list none of whose
        # terms the ranker can read (no ASCII word) is met by no paper, not by all.
        if categories[j].require:
            holds = np.zeros(len(papers), dtype=bool)
            for i in terms:
                holds[present[:, i].indices] = True
            eligible[~holds, j] = False
    # A withdrawn paper (arXiv's notice in abstract or comments) is nothing to recommend,
    # however well its title matches.
    eligible[[d for d, paper in enumerate(papers) if paper.withdrawn]] = False
    raw = np.where(eligible, raw, 0.0)
    if settings.profile_weight > 0:
        raw = raw + settings.profile_weight * _profile_cosine(corpus, categories) * _scale(raw)
        raw = np.where(eligible, raw, 0.0)
    if (settings.prf_docs > 0 and settings.prf_weight > 0) or (
        settings.lsa_components > 0 and settings.lsa_weight > 0
    ):
        unit = _unit_vectors(corpus, doc_len, settings)
        if settings.prf_docs > 0 and settings.prf_weight > 0:
            raw = raw + _feedback(unit, raw, settings)
        if settings.lsa_components > 0 and settings.lsa_weight > 0:
            raw = raw + _lsa(unit, raw, settings)
        raw = np.where(eligible, raw, 0.0)
    return _Scored(raw, corpus, queries, sat, strong_q, idf, df, n_docs)


def category_scores(
    papers: Sequence[Paper],
    categories: Sequence[Category],
    settings: RankConfig | None = None,
    *,
    background: Sequence[Paper] | None = None,
) -> np.ndarray:
    """(papers, categories) scores on the digest's 0..1 scale, before any placement.

    :func:`rank_papers` puts each paper under its best category only; this is every
    category's full ordering, for evaluating the ranking apart from that placement
    (0 where a paper holds no keyword of the category, holds an ``exclude`` term, or
    holds none of its ``require`` terms).
    """
    settings = settings or RankConfig()
    _check(settings, categories)
    if settings.method == "tfidf":
        raise ConfigError('category_scores needs method = "bm25"')
    if not papers or not categories:
        return np.zeros((len(papers), len(categories)))
    raw = _score(list(papers), categories, settings, background).raw
    return raw / (raw + SCORE_SCALE)


def rank_papers(
    papers: Sequence[Paper],
    categories: Sequence[Category],
    settings: RankConfig | None = None,
    *,
    background: Sequence[Paper] | None = None,
    min_score: float = 0.0,
) -> Ranking:
    """Place each paper under its best category (or none) and rank every category.

    The best category is the highest-scoring one whose threshold (its own, else
    ``settings.threshold``, at least ``min_score``) the paper clears.

    ``background``: papers of earlier months; used only for the idf and only when
    ``settings.background_idf`` is on.  ``min_score``: an extra lower bound on every
    threshold (the digest's ``threshold`` setting).  Papers are never modified; ties
    are broken by arXiv id, so the same input always gives the same ranking.
    """
    settings = settings or RankConfig()
    _check(settings, categories)
    papers = list(papers)
    by_category: dict[str, list[RankedPaper]] = {c.name: [] for c in categories}
    if not papers or not categories:
        return Ranking(len(papers), by_category, len(papers))
    if settings.method == "tfidf":
        return _rank_tfidf_cosine(papers, categories, min_score)
    scored = _score(papers, categories, settings, background)
    raw, corpus, queries, sat = scored.raw, scored.corpus, scored.queries, scored.sat
    strong_q, idf, df, n_docs = scored.strong_q, scored.idf, scored.df, scored.n_docs
    thresholds = np.array(
        [
            max(min_score, c.threshold if c.threshold is not None else settings.threshold)
            for c in categories
        ]
    )
    # A paper goes to the best category whose threshold it clears: a strict threshold
    # on one category keeps weak papers out of it, not out of the digest.  (With one
    # threshold for all, that is simply the best category.)
    clears = (raw > 0) & (raw / (raw + SCORE_SCALE) >= thresholds)
    best = np.argmax(np.where(clears, raw, -1.0), axis=1)
    rows = np.arange(len(papers))
    top = raw[rows, best]
    score = top / (top + SCORE_SCALE)
    placed = clears[rows, best]
    if settings.relative_threshold > 0:
        placed &= top >= settings.relative_threshold * _top_means(raw, best, placed)[best]
    ids = [p.id for p in papers]
    sat_rows = sat.tocsr()
    # A keyword's single word is shown as a reason only when it is rare ("logit", not
    # "learning"): common words add a little to the score but explain nothing.
    weak_shown = queries.weak * idf[:, None] * (df <= WHY_WORD_SHARE * n_docs)[:, None]
    for j, cat in enumerate(categories):
        members = np.flatnonzero(placed & (best == j))
        order = sorted(members.tolist(), key=lambda d: (-raw[d, j], ids[d]))
        if settings.diversity < 1.0 and len(order) > 1:
            order = _diversify(order, corpus, settings.diversity)
        ranked = by_category[cat.name]
        for d in order:
            why = _why(sat_rows, d, strong_q[:, j], weak_shown[:, j], queries, j)
            ranked.append(RankedPaper(papers[d], cat.name, round(float(score[d]), 4), why))
    unmatched = len(papers) - int(placed.sum())
    log.debug(
        "ranked %d papers into %d categories, %d unmatched", len(papers), len(categories), unmatched
    )
    return Ranking(len(papers), by_category, unmatched)


def _top_means(raw: np.ndarray, best: np.ndarray, placed: np.ndarray) -> np.ndarray:
    """Per category, the mean score of its ten best papers (a month-relative yardstick)."""
    means = np.zeros(raw.shape[1])
    for j in range(raw.shape[1]):
        col = np.sort(raw[placed & (best == j), j])[-10:]
        means[j] = col.mean() if len(col) else 0.0
    return means


def _why(
    sat: csr_matrix,
    d: int,
    strong: np.ndarray,
    weak: np.ndarray,
    queries: _Queries,
    category: int,
) -> list[str]:
    """The terms that added most to paper ``d``'s score; a phrase replaces its own words,
    and a word shown without its phrase names the phrase: "law (of scaling law)"."""
    lo, hi = sat.indptr[d], sat.indptr[d + 1]
    cols, values = sat.indices[lo:hi], sat.data[lo:hi]
    gain, weak_gain = values * strong[cols], values * weak[cols]
    # Keywords first, then words of keywords; within each, biggest contribution first.
    ranked: list[int] = []
    for g, keep in ((gain, gain > 0), (weak_gain, (weak_gain > 0) & ~(gain > 0))):
        c, v = cols[keep], g[keep]
        ranked += c[np.lexsort((c, -v))].tolist()
    padded = queries.padded
    chosen: list[int] = []
    for c in ranked:
        if any(padded[c] in padded[k] for k in chosen):
            continue  # a word of a phrase already shown
        chosen = [k for k in chosen if padded[k] not in padded[c]]  # the phrase wins
        chosen.append(c)
        if len(chosen) == WHY_TERMS:
            break
    origin = queries.origins[category]
    return [
        f"{_as_written_in(queries.labels[c], origin[c])} (of {origin[c]})"
        if strong[c] == 0 and c in origin
        else queries.labels[c]
        for c in chosen
    ]


def _as_written_in(word: str, phrase: str) -> str:
    """``word`` as the keyword ``phrase`` writes it: "ImageNet (of ImageNet
    classification)", not the folded "imagenet"."""
    return next((w for w in re.findall(r"[\w-]+", phrase) if w.lower() == word), word)


# --------------------------------------------------------------------------- options


def _unit_vectors(corpus: _Corpus, doc_len: np.ndarray, settings: RankConfig) -> csr_matrix:
    """Each paper as an L2-normalised BM25 x idf vector over its content words."""
    sp = _sparse()
    x = (corpus.counts[0::2] * settings.title_weight + corpus.counts[1::2]).tocsr()
    df = np.diff(x.tocsc().indptr).astype(np.float64)
    useful = np.array([len(w) > 2 and w not in _STOP and not w.isdigit() for w in corpus.vocab])
    useful &= (df >= 2) & (df <= 0.2 * corpus.n)
    idf = _idf(df, corpus.n) * useful
    weighted = _saturate(x, doc_len, settings.k1, settings.b) @ sp.diags(idf)
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    return (sp.diags(1 / np.maximum(norms, 1e-12)) @ weighted).tocsr()


def _top_papers(raw: np.ndarray, j: int, count: int) -> np.ndarray:
    order = np.argsort(-raw[:, j], kind="stable")[:count]
    return order[raw[order, j] > 0]


def _feedback(unit: csr_matrix, raw: np.ndarray, settings: RankConfig) -> np.ndarray:
    """Rocchio pseudo-relevance feedback: similarity to the centroid of each category's
    top papers, restricted to its strongest words, scaled to the category's top scores."""
    extra = np.zeros_like(raw)
    for j in range(raw.shape[1]):
        top = _top_papers(raw, j, settings.prf_docs)
        if len(top) == 0:
            continue
        centroid = np.asarray(unit[top].mean(axis=0)).ravel()
        keep = np.argsort(-centroid, kind="stable")[:_PRF_TERMS]
        query = np.zeros_like(centroid)
        query[keep] = centroid[keep]
        sims = unit @ query
        if sims.max() > 0:
            extra[:, j] = settings.prf_weight * raw[top, j].mean() * sims / sims.max()
    return extra


def _lsa(unit: csr_matrix, raw: np.ndarray, settings: RankConfig) -> np.ndarray:
    """Latent semantic analysis: cosine to each category's top papers in a truncated-SVD
    space, where words that co-occur (synonyms) share directions."""
    from sklearn.decomposition import TruncatedSVD

    k = min(settings.lsa_components, min(unit.shape) - 1)
    extra = np.zeros_like(raw)
    if k < 1:
        return extra
    z = TruncatedSVD(k, n_iter=3, random_state=_LSA_SEED).fit_transform(unit)
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    for j in range(raw.shape[1]):
        top = _top_papers(raw, j, max(settings.prf_docs, 20))
        if len(top) == 0:
            continue
        centroid = z[top].mean(axis=0)
        sims = np.clip(z @ centroid / max(float(np.linalg.norm(centroid)), 1e-12), 0, None)
        if sims.max() > 0:
            extra[:, j] = settings.lsa_weight * raw[top, j].mean() * sims / sims.max()
    return extra


def _diversify(order: list[int], corpus: _Corpus, cutoff: float) -> list[int]:
    """Within the top of a list, move a paper that nearly repeats a higher one further down.

    Similarity is the cosine of the abstracts' word counts (stop words out); the moved
    papers follow the top block, in their original order.
    """
    sp = _sparse()
    head = order[: DIVERSITY_WINDOW * 2]
    rows = corpus.counts[[2 * d + 1 for d in head]]
    useful = np.array([w not in _STOP and len(w) > 2 for w in corpus.vocab], dtype=np.float64)
    rows = (rows @ sp.diags(useful)).tocsr()
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    rows = sp.diags(1 / np.maximum(norms, 1e-12)) @ rows
    sims = (rows @ rows.T).toarray()
    kept: list[int] = []
    moved: list[int] = []
    for i in range(len(head)):
        if len(kept) < DIVERSITY_WINDOW and any(sims[i, k] >= cutoff for k in kept):
            moved.append(i)
        else:
            kept.append(i)
    top_block = [head[i] for i in kept[:DIVERSITY_WINDOW]]
    rest = [head[i] for i in kept[DIVERSITY_WINDOW:]]
    return top_block + [head[i] for i in moved] + rest + order[len(head) :]


# --------------------------------------------------------------------------- tfidf


def _profile_cosine(corpus: _Corpus, categories: Sequence[Category]) -> np.ndarray:
    """(papers, categories) TF-IDF cosine of each paper to each category's profile.

    The profile is the whole category as its curators wrote it (name, description,
    keywords repeated by weight, exemplar titles), so the words they used but did not
    list as keywords count too.  scikit-learn's ``TfidfTransformer`` (sublinear tf,
    smoothed idf fitted on the month, L2 norm) over the words the ranker has already
    read, stop words left out, so the month is not tokenized a second time.  (The
    digest loads scikit-learn anyway, for the emerging-topics clustering.)
    """
    from sklearn.feature_extraction.text import TfidfTransformer

    sp = _sparse()
    useful = np.flatnonzero([len(w) > 1 and w not in _STOP for w in corpus.vocab])
    if not len(useful):  # papers of one-letter words only: no profile to be near
        return np.zeros((corpus.n, len(categories)))
    column = np.full(len(corpus.vocab), -1)
    column[useful] = np.arange(len(useful))
    words = (corpus.counts[0::2] + corpus.counts[1::2]).tocsc()[:, useful].tocsr()
    rows, cols = [], []
    for j, category in enumerate(categories):
        for word in _words(_profile_text(category)):
            k = corpus.index.get(word)
            if k is not None and column[k] >= 0:
                rows.append(j)
                cols.append(column[k])
    profiles = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(categories), len(useful))
    )
    profiles.sum_duplicates()
    tfidf = TfidfTransformer(sublinear_tf=True).fit(words)
    return np.asarray((tfidf.transform(words) @ tfidf.transform(profiles).T).toarray())


def _scale(raw: np.ndarray) -> np.ndarray:
    """Per category, the mean keyword score of its (up to) 10 best matching papers: puts
    a cosine (0..1) on the scale of that category's keyword scores."""
    top = -np.sort(-raw, axis=0)[:10]
    matched = np.maximum((top > 0).sum(axis=0), 1)
    return np.asarray(top.sum(axis=0) / matched)


def _profile_text(category: Category) -> str:
    parts = [category.name, category.description]
    for kw in category.keywords:
        parts.extend([kw.term] * max(1, round(kw.weight)))
    parts.extend(ex.title for ex in category.papers)
    return ". ".join(parts)


def _literal_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    """The tfidf method's match of exclude and require terms, to be searched in
    :func:`_literal_text`: as the bm25 method matches them, each word as written or in
    the plural ("patch" finds "patches", "surgery" "surgeries"; a term in -s also matches
    its singular, but one in -es or -ies does not: "patches" and "surgeries" cannot say
    whether "patche"/"patch" or "surgerie"/"surgery" is meant, so terms are written in
    the singular), the words of a phrase in a row, never part of a longer word
    ("distill" does not veto "distillation").  Matching the same ASCII words bm25
    reads, rather than the raw text, keeps "Alzheimer's", "X‐ray" (a Unicode hyphen)
    and "µCT" found by both."""
    alternatives = []
    for term in terms:
        words = _words(term)
        if not words:
            continue
        keys = (_key(w, "plural")[0].decode() for w in words)  # as bm25's exact keys
        alternatives.append(" ".join(_plural_pattern(k) for k in keys))
    if not alternatives:
        return None
    return re.compile(r"(?<= )(?:" + "|".join(alternatives) + r")(?= )")


def _plural_pattern(word: str) -> str:
    """A word and its plurals as :func:`_key_matrix` finds them: -s, -es, and -ies for -y
    (a word in -y takes -s and -es too: bm25 reads any -es word as a plural)."""
    if word.endswith("y") and len(word) > 2:
        return re.escape(word[:-1]) + "(?:ies|y(?:e?s)?)"
    return re.escape(word) + "(?:e?s)?"


def _literal_text(paper: Paper) -> str:
    """A paper's title and abstract as the words bm25 reads, one space apart; a "."
    between the two, so no phrase runs from the title into the abstract."""
    title, abstract = (
        " ".join(w.decode() for w in _words(t)) for t in (paper.title, paper.abstract)
    )
    return f" {title} . {abstract} "


def _rank_tfidf_cosine(
    papers: list[Paper], categories: Sequence[Category], min_score: float
) -> Ranking:
    """``method = "tfidf"``: plain scikit-learn TF-IDF and cosine to a profile document.

    The profile is the category's description, weighted keywords and exemplar titles.
    Kept as the transparent reference the measured default is compared with; it places
    a paper when the cosine clears ``min_score`` or the category's own threshold.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer as SkTfidf

    by_category: dict[str, list[RankedPaper]] = {c.name: [] for c in categories}
    # A month of fewer than 4 papers cannot have a word in 2 papers and in at most half
    # of them (scikit-learn refuses such a vocabulary), so it keeps every word.
    few = len(papers) < 4
    vectorizer = SkTfidf(
        stop_words="english",
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=1 if few else 2,
        max_df=1.0 if few else 0.5,
    )
    try:
        paper_vecs = vectorizer.fit_transform([paper_text(p) for p in papers])
    except ValueError:  # no word left (stop words only, or all pruned): nothing can match
        log.debug("tfidf: no vocabulary in %d papers; none matched", len(papers))
        return Ranking(len(papers), by_category, len(papers))
    cat_vecs = vectorizer.transform([_profile_text(c) for c in categories])
    sims = (paper_vecs @ cat_vecs.T).toarray()
    vocab = vectorizer.get_feature_names_out()
    unmatched = 0
    # As with BM25, a paper goes to the best category whose own threshold it clears.
    thresholds = [max(min_score, c.threshold or 0.0) for c in categories]
    floor = min(thresholds)
    vetoes = [_literal_pattern(cat.exclude) for cat in categories]
    needs = [_literal_pattern(cat.require) for cat in categories]
    for i, paper in enumerate(papers):
        if paper.withdrawn:  # nothing to recommend, however well its title matches
            unmatched += 1
            continue
        text = _literal_text(paper)
        placed = False
        for j in np.argsort(-sims[i], kind="stable"):
            cat, score = categories[j], float(sims[i, j])
            if score <= 0 or score < floor:
                break
            if score < thresholds[j]:
                continue
            if vetoes[j] is not None and vetoes[j].search(text):
                continue
            # A require list with no term the ranker can read admits nothing, as in bm25.
            if cat.require and (needs[j] is None or not needs[j].search(text)):
                continue
            contrib = paper_vecs[i].multiply(cat_vecs[j]).tocoo()
            top = sorted(zip(contrib.data, contrib.col, strict=True), key=lambda t: (-t[0], t[1]))
            why = [str(vocab[c]) for _, c in top[:4]]
            by_category[cat.name].append(RankedPaper(paper, cat.name, round(score, 4), why))
            placed = True
            break
        unmatched += not placed
    for ranked in by_category.values():
        ranked.sort(key=lambda rp: (-rp.score, rp.paper.id))
    return Ranking(len(papers), by_category, unmatched)
