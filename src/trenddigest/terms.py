"""Words and two-word phrases of papers, counted as arrays rather than token by token.

The trends of a month (rising terms, emerging topics, examples) all start from the
same question: which terms does each paper use?  A term is a *word* (2+ characters,
not all digits, not an English stop word) or two words next to each other with only
spaces, hyphens or slashes between them ("vision-language" is the phrase "vision
language"; "images, videos" is no phrase).  A pair that cuts a hyphenated compound in
two is no phrase either: "on-policy self-distillation" gives "on policy" and "self
distillation" but not "policy self", "multi-agent reinforcement" no "agent
reinforcement", "supervised fine-tuning" no "supervised fine".  A compound made with a
modifier ("model-based", "task-aware") does not cut: "language model-based" keeps
"language model".

Counting that per token in Python (a string per bigram, a set per paper) cost more
than ranking the month.  Here each paper is tokenized once with one regex, tokens are
numbered at C speed, and unigrams and bigrams become integer keys counted with numpy:
a paper x term matrix in a fraction of the time, from which document frequencies,
cluster inputs and "papers using this term" are slices.  Term strings are made only
for the terms someone asks about.

A term's singular and plural are one term ("diffusion model" and "diffusion models",
"agent" and "agents"): document frequencies count the papers using either form once,
and a term is shown in the form the month's papers use most (see :func:`number_key`).
The matrix itself keeps the forms apart (clustering and topic names read the words as
written); :meth:`TermMatrix.rows_using` finds either.
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .tfidf import WordIds, english_stop_words

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

# Words, the punctuation that ends a phrase (hyphens and slashes do not break one), and
# the hyphens that join two words into a compound ("on-policy").
TOKEN_OR_JOINT = re.compile(r"\w+|[.,;:!?()\[\]{}\"]|(?<=\w)-+(?=\w)")
# Second parts of compounds that modify the phrase before them ("language model-based").
MODIFIERS = frozenset(
    """based aware driven free guided level wise specific like agnostic efficient oriented
    centric scale grained dependent independent invariant conditioned enhanced assisted
    augmented informed constrained preserving friendly only style""".split()  # noqa: SIM905
)
# English stop words, the fragments a tokenizer leaves of contractions ("don't" ->
# "don"), and the pieces of links.
STOP_WORDS = frozenset(
    english_stop_words()
    | {"https", "http", "www", "com", "org", "io", "html"}
    | {"don", "doesn", "didn", "isn", "aren", "wasn", "weren", "won", "wouldn", "shouldn"}
    | {"couldn", "haven", "hasn", "hadn", "ll", "ve", "re"}
)


# A LaTeX command ("\mathbb", "\log"): markup, not a word of the paper.  Abstracts
# about codes over $\mathbb{F}_q$ otherwise name a topic "Mathbb".
LATEX_COMMAND = re.compile(r"\\[a-z]+")


def without_latex(text: str) -> str:
    """``text`` (lower case) with each LaTeX command made a phrase break: a formula
    between two words ("graph $\\mathcal{G}$ neural") does not join them into a phrase
    the text never has (and that a search of the text would not find)."""
    return LATEX_COMMAND.sub(" . ", text) if "\\" in text else text


# Words that end like a plural but are no plural of a shorter word: "news" is not
# "new"s, "lens" not "len"s, "SARS" not "SAR"s (radar imagery), "PACS" (image
# archives) not "PAC"s (learning); and -ss, -us, -is and -ics words are singular
# ("loss", "corpus", "analysis", "robotics": "dynamics" is not "dynamic"s)...
_NOT_PLURAL = frozenset(
    """news means series species lens bias atlas canvas alias gas chaos ethos pathos
    kudos odds sars mars aids mcts pacs adas smiles""".split()  # noqa: SIM905
)
_SINGULAR_ENDINGS = ("ss", "us", "is", "ics")
# ... except these plurals: of -ic nouns ("evaluation metric(s)"), and of the
# three-letter acronyms and -i/-u nouns arXiv writes both ways ("GPU(s)", "API(s)").
_PLURAL_EXCEPTIONS = frozenset(
    """metrics topics heuristics critics clinics rubrics tactics characteristics
    apis gpus cpus tpus npus imus mris rois wsis hsis guis kpis emojis""".split()  # noqa: SIM905
)
# Plurals in -ies of an -ie singular, not of a -y one ("movies" is no "movy").
_IE_PLURALS = frozenset(["movies", "cookies", "selfies", "zombies", "rookies"])
_SIBILANT = ("s", "x", "z", "ch", "sh")
# Three-letter words whose -es plural is theirs alone ("gases", "buses"): see number_key.
_SHORT_SES_SINGULARS = frozenset(["gas", "bus"])


@functools.lru_cache(maxsize=1 << 17)  # asked of the same few thousand words all month
def number_key(word: str) -> str:
    """The key a (lower-case) word's singular and plural share, so that "agent" and
    "agents", "study" and "studies", "class" and "classes", "response" and
    "responses" count as one term.

    Not a stemmer: only the plural -s/-es/-ies goes, and an -e after a sibilant
    ("response" and "responses" both give "respons"), so the key need not be a word.
    Words of three letters or fewer are kept as they are: their plurals are mostly
    acronyms whose singular is another acronym ("gps" is no "gp").  For the same
    reason an -e after "s" stays when only three letters would be left: "pose",
    "rise" and "case" are no forms of "POS", "RIS" and "CAS" ("poses" and "pose" meet
    at "pose"; of the three-letter words ending in "s", only "gas" and "bus" take the
    -es plural of "gases" and "buses").  After x, z, ch and sh the -e goes whatever
    is left ("box" and "boxes").  The key depends on the word alone, so every month's
    counts, cached or not, fold the same words together.  A missed pair
    ("matrix"/"matrices") only stays two terms; a wrong merge would join two topics,
    hence the exceptions above.
    """
    if word in _PLURAL_EXCEPTIONS or word in _IE_PLURALS:
        return word[:-1]
    singular = (
        len(word) <= 3
        or not word.endswith("s")
        or word in _NOT_PLURAL
        or word.endswith(_SINGULAR_ENDINGS)
    )
    if singular:
        key = word
    elif word.endswith("ies") and len(word) > 4:
        key = word[:-3] + "y"
    else:
        key = word[:-1]
    if key.endswith("e") and key[:-1].endswith(_SIBILANT) and len(key) > 3:
        stem = key[:-1]
        if not stem.endswith("s") or len(stem) > 3 or stem in _SHORT_SES_SINGULARS:
            key = stem
    return key


def term_key(term: str) -> str:
    """The key of a term's singular and plural forms: each word's :func:`number_key`."""
    return " ".join(number_key(w) for w in term.split(" "))


def is_word(token: str) -> bool:
    """Whether a (lower-case) token can be part of a term.  A token that starts or
    ends with "_" is a LaTeX subscript ("_q" of "\\mathbb{F}_q") or emphasis markup."""
    return (
        len(token) > 1
        and token not in STOP_WORDS
        and not token.isdigit()
        and token[0] != "_"
        and token[-1] != "_"
    )


def term_stream(text: str) -> list[str]:
    """Unigrams and bigrams of ``text`` in order, repeats kept: the definition of a term
    that :func:`term_matrix` computes in bulk (kept for single texts and tests)."""
    tokens = TOKEN_OR_JOINT.findall(without_latex(text.lower()))

    def joint(i: int) -> bool:
        return 0 <= i < len(tokens) and tokens[i][0] == "-"

    out: list[str] = []
    for i, token in enumerate(tokens):
        if joint(i) or not is_word(token):
            continue
        out.append(token)
        joined = joint(i - 1)
        j = i - 2 if joined else i - 1
        if j < 0 or not is_word(tokens[j]):
            continue
        ends_compound = joint(j - 1)
        starts_compound = joint(i + 1) and tokens[i + 2] not in MODIFIERS
        if joined or not (ends_compound or starts_compound):
            out.append(f"{tokens[j]} {token}")
    return out


def document_terms(text: str) -> set[str]:
    """The distinct unigrams and bigrams of a text."""
    return set(term_stream(text))


class _Vocabulary:
    """A term <-> integer key mapping over one corpus's tokens.

    Key ``w`` (< V) is the unigram of token ``w``; key ``V + a * V + b`` the bigram
    "a b".  Keys sort unigrams first, then bigrams by their words' ids.
    """

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.size = len(tokens)
        self._ids: dict[str, int] | None = None
        # number_key -> the first token with it, and each token's such first token.
        self._firsts: dict[str, int] | None = None
        self._canonical: np.ndarray | None = None

    def term(self, key: int) -> str:
        v = self.size
        if key < v:
            return self.tokens[key]
        first, second = divmod(key - v, v)
        return f"{self.tokens[first]} {self.tokens[second]}"

    def terms(self, keys: Iterable[int]) -> list[str]:
        return [self.term(int(k)) for k in keys]

    def key(self, term: str) -> int | None:
        if self._ids is None:
            self._ids = {t: i for i, t in enumerate(self.tokens)}
        return self._key_of([self._ids.get(w) for w in term.split(" ")])

    def _key_of(self, ids: list[int | None]) -> int | None:
        """The key of a term of one or two words given their token ids (None: no such
        term in the vocabulary)."""
        if None in ids or len(ids) > 2:
            return None
        if len(ids) == 1:
            return ids[0]
        return self.size + ids[0] * self.size + ids[1]  # type: ignore[operator]

    def _fold(self) -> tuple[dict[str, int], np.ndarray]:
        if self._firsts is None or self._canonical is None:
            firsts: dict[str, int] = {}
            self._canonical = np.fromiter(
                (firsts.setdefault(number_key(t), i) for i, t in enumerate(self.tokens)),
                dtype=np.int64,
                count=self.size,
            )
            self._firsts = firsts
        return self._firsts, self._canonical

    def folded_key(self, term: str) -> int | None:
        """The key that :meth:`fold` gives every singular/plural form of ``term``, or
        None if no form of one of its words is in the vocabulary."""
        firsts, _ = self._fold()
        return self._key_of([firsts.get(number_key(w)) for w in term.split(" ")])

    def alphabetical(self, keys: np.ndarray) -> np.ndarray:
        """A number per term key that sorts as the terms' strings do: words are word
        characters, all after the space between them, so "a b" sorts as (a, b)."""
        v = self.size
        rank = np.empty(v, dtype=np.int64)
        rank[sorted(range(v), key=self.tokens.__getitem__)] = np.arange(v, dtype=np.int64)
        first, second = self.word_ids(keys)
        bigram = second >= 0
        return rank[first] * (v + 1) + np.where(bigram, rank[second] + 1, 0)

    def fold(self, keys: np.ndarray) -> np.ndarray:
        """Each term key with every word replaced by the first token of its number
        key: one key for all singular/plural forms of a term."""
        _, canonical = self._fold()
        v = self.size
        first, second = self.word_ids(keys)
        bigram = second >= 0
        return np.where(
            bigram, v + canonical[first] * v + canonical[np.maximum(second, 0)], canonical[first]
        )

    def word_ids(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The token ids of each term key's first and second word (-1 for a single word)."""
        keys = np.asarray(keys, dtype=np.int64)
        v = self.size
        first, second = np.divmod(keys - v, v)
        unigram = keys < v
        return np.where(unigram, keys, first), np.where(unigram, -1, second)


def _sparse() -> Any:
    import scipy.sparse

    return scipy.sparse


@dataclass
class TermMatrix:
    """How often each paper (row, input order) uses each term (column, by key)."""

    vocabulary: _Vocabulary
    keys: np.ndarray  # int64, sorted, one per column
    counts: csr_matrix  # int32 term frequencies, duplicates summed
    _by_column: Any = field(default=None, repr=False, compare=False)
    _folded: Any = field(default=None, repr=False, compare=False)  # fold(keys), on demand

    @property
    def papers(self) -> int:
        return int(self.counts.shape[0])

    def column(self, term: str) -> int | None:
        key = self.vocabulary.key(term)
        if key is None:
            return None
        j = int(np.searchsorted(self.keys, key))
        return j if j < len(self.keys) and int(self.keys[j]) == key else None

    def terms(self, columns: Iterable[int]) -> list[str]:
        return self.vocabulary.terms(self.keys[list(columns)])

    def rows_using(self, term: str) -> np.ndarray:
        """The rows (papers) that use ``term`` in its singular or plural, ascending."""
        key = self.vocabulary.folded_key(term)
        if key is None:
            return np.zeros(0, dtype=np.int64)
        if self._folded is None:
            self._folded = self.vocabulary.fold(self.keys)
        if self._by_column is None:
            self._by_column = self.counts.tocsc()
        by_column = self._by_column
        rows = [
            by_column.indices[by_column.indptr[j] : by_column.indptr[j + 1]]
            for j in np.flatnonzero(self._folded == key)
        ]
        if not rows:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(rows)).astype(np.int64)

    def rows(self, rows: Sequence[int]) -> TermMatrix:
        """The same terms for a subset of the papers (rows in the given order)."""
        return TermMatrix(self.vocabulary, self.keys, self.counts[np.asarray(rows, dtype=np.int64)])

    def document_counts(self) -> TermCounts:
        """Papers using each term, its singular and plural counted as one."""
        counts = self.counts
        surface = np.bincount(counts.indices, minlength=len(self.keys))
        folded = self.vocabulary.fold(self.keys)
        keys, group = np.unique(folded, return_inverse=True)
        group = group.ravel()
        size = np.bincount(group, minlength=len(keys))
        df = np.bincount(group, weights=surface, minlength=len(keys)).astype(np.int64)
        shared = size[group] > 1  # columns of a term written in more than one form
        if shared.any():
            # A paper using both forms counts once: the entries of those columns, moved
            # to their term's column, with each paper's duplicates merged (in C).
            in_shared = shared[counts.indices]
            per_paper = np.diff(np.r_[0, np.cumsum(in_shared)][counts.indptr])
            merged = _sparse().csr_matrix(
                (
                    np.ones(int(in_shared.sum()), dtype=np.int32),
                    group[counts.indices[in_shared]],
                    np.r_[0, np.cumsum(per_paper)],
                ),
                shape=(counts.shape[0], len(keys)),
            )
            merged.sum_duplicates()
            union = np.bincount(merged.indices, minlength=len(keys))
            df[size > 1] = union[size > 1]
        # The form shown: the one most papers use; of forms used equally, the one that
        # sorts first ("agent" before "agents"), whatever order the papers came in.
        order = np.lexsort((self.vocabulary.alphabetical(self.keys), -surface, group))
        firsts = order[np.r_[True, group[order][1:] != group[order][:-1]][: len(order)]]
        shown = self.keys[firsts]
        return TermCounts(self.papers, self.vocabulary, keys, df.astype(np.int32), shown)


_SEP = b"\x01"
_JOINT = b"\x02"  # a hyphen joining two words
_CHUNK = 2048  # texts tokenized at a time: bytes objects of a whole big month hold 100s of MB
# Phrase-breaking punctuation (the non-word alternatives of TOKEN_OR_JOINT), as bytes.
_BREAKS = tuple(bytes([c]) for c in b'.,;:!?()[]{}"')
# ASCII word characters (TOKEN_OR_JOINT's \w on lower-case ASCII), hyphens, the separator, the
# joint, the breaks and every non-ASCII byte (only present in texts already split by
# TOKEN_OR_JOINT) stay; the rest of ASCII (spaces, slashes, quotes...) becomes a space.
_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_-\x01\x02" + b"".join(_BREAKS))
_TABLE = bytes(c if (c in _KEEP or c >= 0x80) else 0x20 for c in range(256))


def _tokens(texts: Sequence[str]) -> list[bytes]:
    """TOKEN_OR_JOINT's matches of every lower-cased text, as bytes, each text followed
    by _SEP, with _JOINT for each joining hyphen.

    The same tokens as ``TOKEN_OR_JOINT.findall(text.lower())``, about four times
    faster: an ASCII text (nearly all of them) is split by byte translation, where
    ``\\w`` is ``[a-z0-9_]``; any other text goes through the regex and is joined back
    with spaces.
    """
    parts = []
    for text in texts:
        lower = without_latex(text.lower())
        if not lower.isascii():
            lower = " ".join("\x02" if t[0] == "-" else t for t in TOKEN_OR_JOINT.findall(lower))
        elif "\x01" in lower or "\x02" in lower:
            lower = lower.replace("\x01", " ").replace("\x02", " ")
        parts.append(lower)
    joined = b" " + " \x01 ".join(parts).encode("utf-8") + b" \x01"
    for mark in _BREAKS:
        if mark in joined:
            joined = joined.replace(mark, b" " + mark + b" ")
    joined = joined.translate(_TABLE)
    if b"-" in joined:
        joined = _joints(joined)
    return joined.split()


def _joints(data: bytes) -> bytes:
    """Hyphens between two word characters become _JOINT tokens, the rest spaces.

    After translation a hyphen's neighbours are word bytes, spaces or hyphens, so
    plain replacements do what ``(?<=\\w)-+(?=\\w)`` does, at a fraction of its cost.
    """
    while b"--" in data:
        data = data.replace(b"--", b"-")
    data = data.replace(b" -", b"  ").replace(b"- ", b"  ")
    return data.replace(b"-", b" \x02 ")


def term_matrix(texts: Sequence[str]) -> TermMatrix:
    """The paper x term count matrix of ``texts`` (see the module docstring)."""
    index = WordIds({_SEP: 0, _JOINT: 1})
    modifiers = [m.encode() for m in MODIFIERS]
    token_parts: list[np.ndarray] = []
    doc_parts: list[np.ndarray] = []
    tail_parts: list[np.ndarray] = []  # the token ends a compound ("policy" of "on-policy")
    head_parts: list[np.ndarray] = []  # it starts one that is no modifier compound
    for start in range(0, len(texts), _CHUNK):
        tokens = _tokens(texts[start : start + _CHUNK])
        # Token ids in order of first sight; id 0, the separator, closes each text, and
        # id 1 is a joining hyphen.
        ids = np.fromiter(map(index.__getitem__, tokens), np.int32, len(tokens))
        del tokens
        sep, joint = ids == 0, ids == 1
        tail = np.zeros(len(ids), dtype=bool)
        tail[1:] = joint[:-1]
        head = np.zeros(len(ids), dtype=bool)
        head[:-1] = joint[1:]
        # A joint is always followed by a word, and every chunk ends with a separator.
        at = np.flatnonzero(head)
        mod_ids = [index[m] for m in modifiers if m in index]
        head[at[np.isin(ids[at + 2], mod_ids)]] = False
        words = ~(sep | joint)
        doc_parts.append((np.cumsum(sep, dtype=np.int32) - sep + start)[words])
        token_parts.append(ids[words] - 2)
        tail_parts.append(tail[words])
        head_parts.append(head[words])
    # int32 throughout: a 13,500-paper month has ~3.5M tokens, and every array of them
    # in int64 would add ~30 MB to the run's peak.
    token = np.concatenate(token_parts) if token_parts else np.zeros(0, np.int32)
    doc = np.concatenate(doc_parts) if doc_parts else np.zeros(0, np.int32)
    tail = np.concatenate(tail_parts) if tail_parts else np.zeros(0, bool)
    head = np.concatenate(head_parts) if head_parts else np.zeros(0, bool)
    del token_parts, doc_parts, tail_parts, head_parts
    vocabulary = _Vocabulary([w.decode("utf-8") for w in list(index)[2:]])
    v = vocabulary.size
    wordy = np.fromiter((is_word(t) for t in vocabulary.tokens), dtype=bool, count=v)
    keep = wordy[token] if v else np.zeros(0, dtype=bool)
    # Two words next to each other in one text, joined by a hyphen or cutting no
    # compound in two (see the module docstring).
    joined = tail[1:]
    cuts = tail[:-1] | head[1:]
    pair = keep[:-1] & keep[1:] & (doc[:-1] == doc[1:]) & (joined | ~cuts)
    del tail, head, joined, cuts
    first = token[:-1][pair].astype(np.int64)
    keys = np.concatenate([token[keep].astype(np.int64), v + first * v + token[1:][pair]])
    del first
    rows = np.concatenate([doc[keep], doc[:-1][pair]])
    del token, doc, keep, pair
    unique, column = np.unique(keys, return_inverse=True)
    del keys
    sparse = _sparse()
    counts = sparse.csr_matrix(
        (np.ones(len(column), dtype=np.int32), (rows, column.ravel())),
        shape=(len(texts), len(unique)),
    )
    counts.sum_duplicates()
    return TermMatrix(vocabulary, unique.astype(np.int64), counts)


@dataclass
class TermCounts:
    """Document frequency of every term in one month's papers (the cached unit), a
    term's singular and plural forms counted as one (see :func:`number_key`)."""

    papers: int
    vocabulary: _Vocabulary
    keys: np.ndarray  # int64, sorted: folded keys (_Vocabulary.fold), one per term
    df: np.ndarray  # int32, papers using any form of each key's term
    shown: np.ndarray  # int64, the key of the form most of those papers use

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> TermCounts:
        return term_matrix(texts).document_counts()

    def get(self, term: str) -> int:
        """Papers using ``term`` in its singular or its plural."""
        key = self.vocabulary.folded_key(term)
        if key is None:
            return 0
        j = int(np.searchsorted(self.keys, key))
        return int(self.df[j]) if j < len(self.keys) and int(self.keys[j]) == key else 0

    def at_least(self, support: int) -> list[tuple[str, int]]:
        """(term in its most used form, papers) for every term in at least ``support``
        papers, by key."""
        where = np.flatnonzero(self.df >= support)
        return list(
            zip(self.vocabulary.terms(self.shown[where]), self.df[where].tolist(), strict=True)
        )

    def as_dict(self) -> dict[str, int]:
        """Every term (in its most used form) and its count (for tests and small
        corpora: makes every string)."""
        return dict(zip(self.vocabulary.terms(self.shown), self.df.tolist(), strict=True))

    def to_bytes(self) -> bytes:
        """Compact: the tokens once, keys as deltas and the shown forms as offsets from
        their keys (nearly all 0: small, so they compress well)."""
        header = json.dumps(
            {"papers": self.papers, "tokens": len(self.vocabulary.tokens), "terms": len(self.keys)}
        ).encode("ascii")
        tokens = "\n".join(self.vocabulary.tokens).encode("utf-8")
        deltas = np.diff(self.keys, prepend=np.int64(0)).astype(np.int64)
        body = b"".join(
            [
                len(header).to_bytes(4, "little"),
                header,
                len(tokens).to_bytes(8, "little"),
                tokens,
                deltas.tobytes(),
                self.df.astype(np.int32).tobytes(),
                (self.shown - self.keys).astype(np.int64).tobytes(),
            ]
        )
        return zlib.compress(body, 1)

    @classmethod
    def from_bytes(cls, data: bytes) -> TermCounts:
        body = zlib.decompress(data)
        size = int.from_bytes(body[:4], "little")
        header = json.loads(body[4 : 4 + size])
        at = 4 + size
        length = int.from_bytes(body[at : at + 8], "little")
        at += 8
        text = body[at : at + length].decode("utf-8")
        at += length
        tokens = text.split("\n") if header["tokens"] else []
        if len(tokens) != header["tokens"]:
            raise ValueError("cached term counts: token list does not match its header")
        n = header["terms"]
        if len(body) != at + 20 * n:
            raise ValueError("cached term counts: arrays do not match their header")
        keys = np.cumsum(np.frombuffer(body, dtype=np.int64, count=n, offset=at))
        df = np.frombuffer(body, dtype=np.int32, count=n, offset=at + 8 * n).copy()
        shown = keys + np.frombuffer(body, dtype=np.int64, count=n, offset=at + 12 * n)
        return cls(int(header["papers"]), _Vocabulary(tokens), keys, df, shown)
