"""TF-IDF vectors exactly as scikit-learn's ``TfidfVectorizer`` makes them, several times faster.

Ranking a month means turning 5,000-15,000 abstracts into TF-IDF vectors, and with
scikit-learn that is nearly all of a run: its analyzer builds every unigram and
bigram as a Python string and counts them in a dict per document, twice when
``fit`` and ``transform`` are called separately, and ``import sklearn`` alone costs
over a second of every cold run.  Here the same tokens are found (by the same
regular expression, or for ASCII text by an equivalent byte split), each distinct
word becomes an integer once, and stop words, bigrams, counts, document frequencies
and pruning are numpy array operations over a few thousand documents at a time; a
bigram's text is only built for the terms that survive pruning.

The result is the same vocabulary (same column order), the same idf and the same
vectors: the arithmetic is done in the same order on the same float types, and the
tests compare both implementations on real abstracts.  Only the common settings are
implemented; :func:`TfidfVectorizer` hands any other setting to scikit-learn, so a
caller never gets a silently different model.  numpy and scipy are imported on first
use, not at import time, so a run served from the cache never loads them.
"""

from __future__ import annotations

import importlib.util
import re
from array import array
from collections.abc import Iterable, Sequence
from functools import cache
from numbers import Integral
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from scipy.sparse import csr_matrix

DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
# Documents analysed at a time: bounds the token-level arrays (a 13,500-paper month
# would otherwise hold several hundred MB of them at once).
_CHUNK_DOCS = 2048
# bytes.translate table: ASCII word characters kept, everything else a space.
_ASCII_NON_WORD = bytes(
    b if chr(b).isascii() and (chr(b).isalnum() or chr(b) == "_") else 0x20 for b in range(256)
)

# What FastTfidfVectorizer implements; every other keyword goes to scikit-learn.
_DEFAULTS: dict[str, Any] = {
    "lowercase": True,
    "stop_words": None,
    "token_pattern": DEFAULT_TOKEN_PATTERN,
    "ngram_range": (1, 1),
    "min_df": 1,
    "max_df": 1.0,
    "norm": "l2",
    "use_idf": True,
    "smooth_idf": True,
    "sublinear_tf": False,
}


def TfidfVectorizer(**params: Any) -> Any:  # noqa: N802 - a drop-in for the sklearn class
    """A vectorizer for ``params``: the fast one when it supports them, else scikit-learn's."""
    if FastTfidfVectorizer.supports(params):
        return FastTfidfVectorizer(**params)
    from sklearn.feature_extraction.text import TfidfVectorizer as SklearnTfidf

    return SklearnTfidf(**params)


@cache
def english_stop_words() -> frozenset[str]:
    """scikit-learn's English stop-word list, read without importing scikit-learn.

    ``import sklearn`` runs its package initialisation (over a second); the list is a
    plain module inside the installed package, so it is loaded from its file.
    """
    spec = importlib.util.find_spec("sklearn")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = f"{location}/feature_extraction/_stop_words.py"
        module_spec = importlib.util.spec_from_file_location("_trenddigest_stop_words", path)
        if module_spec is None or module_spec.loader is None:
            continue
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except OSError:
            continue
        return frozenset(module.ENGLISH_STOP_WORDS)
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


class WordIds(dict[Any, int]):
    """word -> id, numbering new words in order of first sight (at C speed via map)."""

    def __missing__(self, word: Any) -> int:
        self[word] = index = len(self)
        return index


class FastTfidfVectorizer:
    """The part of ``sklearn.feature_extraction.text.TfidfVectorizer`` trenddigest uses.

    Word n-grams (1 or 1-2) of ``token_pattern`` matches, optional lowercasing and stop
    words, ``min_df``/``max_df`` pruning, smooth idf, sublinear tf and l2 norm.  The
    matrices are ``scipy.sparse.csr_matrix`` of float64 with sorted indices, as
    scikit-learn returns them.
    """

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(_DEFAULTS)
        if unknown:
            raise TypeError(f"unsupported TfidfVectorizer settings: {sorted(unknown)}")
        settings = {**_DEFAULTS, **params}
        self.lowercase: bool = settings["lowercase"]
        self.stop_words = settings["stop_words"]
        self.token_pattern: str = settings["token_pattern"]
        self.ngram_range: tuple[int, int] = tuple(settings["ngram_range"])
        self.min_df: int | float = settings["min_df"]
        self.max_df: int | float = settings["max_df"]
        self.norm: str | None = settings["norm"]
        self.use_idf: bool = settings["use_idf"]
        self.smooth_idf: bool = settings["smooth_idf"]
        self.sublinear_tf: bool = settings["sublinear_tf"]
        self._findall = re.compile(self.token_pattern).findall
        self._stop = _stop_list(self.stop_words)
        self._fitted_docs: Sequence[str] | None = None
        self._fitted_matrix: csr_matrix | None = None

    @staticmethod
    def supports(params: dict[str, Any]) -> bool:
        """True when every setting in ``params`` is implemented here."""
        if set(params) - set(_DEFAULTS):
            return False
        ngram = tuple(params.get("ngram_range", (1, 1)))
        stop = params.get("stop_words")
        pattern = params.get("token_pattern", DEFAULT_TOKEN_PATTERN)
        return (
            ngram in ((1, 1), (1, 2))
            and (stop is None or stop == "english" or not isinstance(stop, str))
            and isinstance(pattern, str)
            and re.compile(pattern).groups == 0
            and params.get("norm", "l2") in ("l2", None)
        )

    # ------------------------------------------------------------------ public API

    def fit(self, raw_documents: Iterable[str], y: Any = None) -> FastTfidfVectorizer:
        docs = _as_list(raw_documents)
        self._fitted_matrix = self._fit(docs)
        # Kept so that transform() of the same texts (rank_papers fits on the month,
        # then transforms it) reuses the vectors instead of analysing them again.
        self._fitted_docs = list(docs)
        return self

    def fit_transform(self, raw_documents: Iterable[str], y: Any = None) -> csr_matrix:
        matrix = self._fit(_as_list(raw_documents))
        self._fitted_docs, self._fitted_matrix = None, None
        return matrix

    def transform(self, raw_documents: Iterable[str]) -> csr_matrix:
        if not hasattr(self, "idf_"):
            raise ValueError("The TF-IDF vectorizer is not fitted")
        docs = _as_list(raw_documents)
        fitted, matrix = self._fitted_docs, self._fitted_matrix
        if fitted is not None and matrix is not None and docs == fitted[: len(docs)]:
            return matrix[: len(docs)].copy()
        words = WordIds(self._words)
        pairs = self._pairs(docs, words, len(self._words))
        return self._weigh(self._matrix(*pairs, len(docs)))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        import numpy as np

        return np.asarray(self._feature_names, dtype=object)

    @property
    def vocabulary_(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self._feature_names)}

    # ------------------------------------------------------------------ analysis

    def _tokenize(self, docs: list[str], words: WordIds) -> tuple[np.ndarray, np.ndarray]:
        """Word ids of every token of every document, in order, and tokens per document.

        Words are keyed by their UTF-8 bytes.  With the default token pattern an ASCII
        document (most abstracts) is split by ``bytes.translate`` + ``split``, several
        times faster than the regular expression and the same tokens: in ASCII text
        ``\\b\\w\\w+\\b`` matches the runs of ``[A-Za-z0-9_]``; a run of one character is
        a word here and is dropped with the stop words in :meth:`_pairs`.  Other
        documents go through the regular expression.
        """
        import numpy as np

        ids = array("i")
        lengths = array("q")
        findall, word_id, lower = self._findall, words.__getitem__, self.lowercase
        split_ascii = self.token_pattern == DEFAULT_TOKEN_PATTERN
        for doc in docs:
            if isinstance(doc, bytes):
                doc = doc.decode("utf-8")
            if lower:
                doc = doc.lower()
            if split_ascii and doc.isascii():
                tokens = doc.encode("ascii").translate(_ASCII_NON_WORD).split()
            else:
                tokens = [t.encode("utf-8") for t in findall(doc)]
            ids.extend(map(word_id, tokens))
            lengths.append(len(tokens))
        return np.frombuffer(ids, dtype=np.intc), np.frombuffer(lengths, dtype=np.int64)

    def _pairs(
        self, docs: list[str], words: WordIds, known: int | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Distinct (document, term code) pairs and their counts, by document then code.

        A unigram's code is its word id; a bigram of words a, b is ``known + a*known + b``
        where ``known`` is the number of words of the fitted vocabulary (``None`` when
        fitting: all words seen).  Stop words are dropped before bigrams are formed, as
        scikit-learn does; an n-gram with a word outside the first ``known`` words
        (unseen when fitting) cannot be in the vocabulary and is dropped after.  The
        token arrays are processed a few thousand documents at a time, so memory
        stays near the size of the result.  Returns the pairs and ``known``.
        """
        import numpy as np

        tokens, lengths = self._tokenize(docs, words)
        if known is None:
            known = len(words)
        # Stop words, and the one-character words of the ASCII split (never tokens).
        stop = self._stop
        dropped = np.fromiter(
            (len(w) < 2 or w in stop for w in words), dtype=bool, count=len(words)
        )
        code_space = known + known * known
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for first_doc in range(0, len(lengths), _CHUNK_DOCS):
            last_doc = min(first_doc + _CHUNK_DOCS, len(lengths))
            chunk = tokens[offsets[first_doc] : offsets[last_doc]]
            owner = np.repeat(
                np.arange(last_doc - first_doc, dtype=np.int64), lengths[first_doc:last_doc]
            )
            keep = ~dropped[chunk]
            chunk, owner = chunk[keep].astype(np.int64), owner[keep]
            codes, owners = [], []
            if self.ngram_range[0] == 1:
                seen = chunk < known
                codes.append(chunk[seen])
                owners.append(owner[seen])
            if self.ngram_range[1] == 2:
                same_doc = owner[1:] == owner[:-1]
                left, right = chunk[:-1][same_doc], chunk[1:][same_doc]
                seen = (left < known) & (right < known)
                codes.append(known + left[seen] * known + right[seen])
                owners.append(owner[1:][same_doc][seen])
            local, found, counts = _distinct(
                np.concatenate(owners), np.concatenate(codes), code_space
            )
            parts.append(((local + first_doc).astype(np.int32), found, counts.astype(np.int32)))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty.astype(np.int32), empty, empty.astype(np.int32), known
        columns = [list(column) for column in zip(*parts, strict=True)]
        del parts
        joined = []
        for column in columns:  # one column at a time, freeing its parts
            joined.append(np.concatenate(column))
            column.clear()
        return joined[0], joined[1], joined[2], known

    # ------------------------------------------------------------------ fitting

    def _fit(self, docs: list[str]) -> csr_matrix:
        import numpy as np

        words = WordIds()
        pair_docs, pair_codes, pair_counts, known = self._pairs(docs, words, None)
        if len(pair_codes) == 0:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        n_docs = len(docs)
        # Document frequency: the distinct (document, term) pairs of each term.
        terms, df = _run_lengths(np.sort(pair_codes))
        high = self.max_df if isinstance(self.max_df, Integral) else self.max_df * n_docs
        low = self.min_df if isinstance(self.min_df, Integral) else self.min_df * n_docs
        if high < low:
            raise ValueError("max_df corresponds to < documents than min_df")
        kept = (df <= high) & (df >= low)
        if not kept.any():
            raise ValueError(
                "After pruning, no terms remain. Try a lower min_df or a higher max_df."
            )
        kept_codes, kept_df = terms[kept], df[kept]
        del terms, df, kept
        word_list = list(words)
        names = _term_texts(kept_codes, known, word_list)
        # scikit-learn numbers the features in the (code point) order of their text.
        order = sorted(range(len(names)), key=names.__getitem__)
        column = np.empty(len(names), dtype=np.int64)
        column[order] = np.arange(len(names))
        self._words: dict[bytes, int] = {w: i for i, w in enumerate(word_list)}
        self._codes = kept_codes  # sorted, for searchsorted lookups
        self._code_columns = column
        self._feature_names = [names[i] for i in order]
        self.idf_ = self._idf(kept_df[order], n_docs)
        counts = self._matrix(pair_docs, pair_codes, pair_counts, known, n_docs)
        del pair_docs, pair_codes, pair_counts
        return self._weigh(counts)

    def _idf(self, df: np.ndarray, n_docs: int) -> np.ndarray:
        # The operations of TfidfTransformer.fit, in its order, for identical floats.
        import numpy as np

        dfs = df.astype(np.float64)
        dfs += float(self.smooth_idf)
        n_samples = n_docs + int(self.smooth_idf)
        idf = np.full_like(dfs, fill_value=n_samples, dtype=np.float64)
        idf /= dfs
        np.log(idf, out=idf)
        idf += 1.0
        return idf

    # ------------------------------------------------------------------ matrices

    def _matrix(
        self, docs: np.ndarray, codes: np.ndarray, counts: np.ndarray, known: int, n_docs: int
    ) -> csr_matrix:
        """The count matrix from distinct (document, term code, count), sorted by document.

        Built a few thousand documents at a time, like the pairs.  Within a document
        the columns ascend (scikit-learn sorts indices): one sort of (document,
        column, count) packed into an int64.
        """
        import numpy as np
        from scipy.sparse import csr_matrix

        n_features = len(self._codes)
        width = max(n_features, 1)
        bounds = np.searchsorted(docs, np.arange(0, n_docs + _CHUNK_DOCS, _CHUNK_DOCS))
        data_parts, column_parts, row_parts = [], [], []
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            chunk_codes = codes[lo:hi]
            where = np.searchsorted(self._codes, chunk_codes)
            where[where == n_features] = 0
            found = self._codes[where] == chunk_codes if n_features else where < 0
            chunk_docs = docs[lo:hi][found].astype(np.int64)
            chunk_counts = counts[lo:hi][found].astype(np.int64)
            columns = self._code_columns[where[found]]
            if len(chunk_counts) == 0:
                continue
            first = int(chunk_docs[0])
            bits = int(chunk_counts.max()).bit_length()
            if (int(chunk_docs[-1]) - first + 1) * width < 2 ** (62 - bits):
                packed = (((chunk_docs - first) * width + columns) << bits) | chunk_counts
                packed.sort()
                chunk_counts = packed & ((1 << bits) - 1)
                local, columns = np.divmod(packed >> bits, width)
                chunk_docs = local + first
            else:  # pragma: no cover - vocabularies of billions of terms
                order = np.lexsort((columns, chunk_docs))
                chunk_docs, columns = chunk_docs[order], columns[order]
                chunk_counts = chunk_counts[order]
            row_parts.append(chunk_docs.astype(np.int32))
            data_parts.append(chunk_counts.astype(np.float64))
            column_parts.append(columns.astype(np.int32 if n_features < 2**31 else np.int64))
        rows = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.int32)
        row_counts = np.bincount(rows, minlength=n_docs)
        nnz = len(rows)
        del rows
        index_type = np.int32 if nnz < 2**31 and n_features < 2**31 else np.int64
        indptr = np.zeros(n_docs + 1, dtype=index_type)
        np.cumsum(row_counts, out=indptr[1:])
        data = np.concatenate(data_parts) if data_parts else np.zeros(0)
        indices = (
            np.concatenate(column_parts).astype(index_type)
            if column_parts
            else np.zeros(0, dtype=index_type)
        )
        return csr_matrix((data, indices, indptr), shape=(n_docs, n_features))

    def _weigh(self, matrix: csr_matrix) -> csr_matrix:
        """TfidfTransformer.transform: sublinear tf, idf, l2 norm (same operation order)."""
        import numpy as np

        data = matrix.data
        if self.sublinear_tf:
            np.log(data, data)
            data += 1.0
        if self.use_idf:
            data *= self.idf_[matrix.indices]
        if self.norm == "l2":
            rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int32), np.diff(matrix.indptr))
            # bincount adds in index order, like scikit-learn's row loop.
            norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=matrix.shape[0]))
            norms[norms == 0.0] = 1.0
            data /= norms[rows]
        matrix.has_sorted_indices = True
        return matrix


def _distinct(
    owner: np.ndarray, codes: np.ndarray, code_space: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (owner, code) pairs with their counts, ordered by owner then code.

    One sort of ``owner * code_space + code``: numpy's sort is much faster than
    ``np.unique`` (hash based since numpy 2.3) on these arrays.
    """
    import numpy as np

    owners = int(owner.max()) + 1 if len(owner) else 0
    if owners and code_space > (2**62) // owners:  # pragma: no cover - huge vocabularies
        # Too many owners x codes for one int64 key: compact the codes first.
        terms, inverse = np.unique(codes, return_inverse=True)
        local, index, counts = _distinct(owner, inverse.astype(np.int64), len(terms))
        return local, terms[index], counts
    keys = owner * code_space + codes
    keys.sort()
    unique, counts = _run_lengths(keys)
    local, found = np.divmod(unique, code_space)
    return local, found, counts


def _run_lengths(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how often each occurs."""
    import numpy as np

    if len(ordered) == 0:
        return ordered, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    counts = np.diff(np.append(starts, len(ordered)))
    return ordered[starts], counts


def _stop_list(stop_words: Any) -> frozenset[bytes]:
    """The stop words as UTF-8 bytes, the form words are keyed by."""
    if stop_words is None:
        return frozenset()
    if stop_words == "english":
        words: Iterable[str] = english_stop_words()
    elif isinstance(stop_words, str):
        raise ValueError(f"not a built-in stop list: {stop_words}")
    else:
        words = stop_words
    return frozenset(w.encode("utf-8") for w in words)


def _term_texts(codes: np.ndarray, known: int, words: list[bytes]) -> list[str]:
    """The text of each term code (see :meth:`FastTfidfVectorizer._pairs`)."""
    import numpy as np

    text = np.empty(len(words), dtype=object)
    text[:] = [w.decode("utf-8") for w in words]
    out = np.empty(len(codes), dtype=object)
    single = codes < known
    out[single] = text[codes[single]]
    first, second = np.divmod(codes[~single] - known, known)
    out[~single] = text[first] + " " + text[second]
    return list(out)


def _as_list(raw_documents: Iterable[str]) -> list[str]:
    if isinstance(raw_documents, str):
        raise ValueError("Iterable over raw text documents expected, string object received.")
    return raw_documents if isinstance(raw_documents, list) else list(raw_documents)
