"""The fast TF-IDF vectorizer gives scikit-learn's vectors, bit for bit, on the same settings."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.feature_extraction.text import TfidfVectorizer as SklearnTfidf

from synthetic import make_papers
from trenddigest.tfidf import (
    FastTfidfVectorizer,
    TfidfVectorizer,
    english_stop_words,
)

RANKER_SETTINGS = dict(
    stop_words="english", ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_df=0.5
)

# Hand-written texts with the cases that matter: punctuation, digits, underscores,
# one-letter words, accents and other non-ASCII words, stop words only, empty.
TRICKY = [
    "Vision Transformers (ViT) split an image into 16x16 patches; self-attention follows.",
    "A vision transformer, the ViT-B/16, and a CNN_backbone: 3D U-Net vs. ResNet-50.",
    "Résumé of naïve Bayes for Ελληνικά text — with “quotes” and a façade.",
    "the of and to a in",
    "",
    "Knowledge distillation: a teacher network and a student network; distillation loss.",
    "x y z 1 2 3 αβ γ",
    "Self-attention and self-attention and SELF-ATTENTION again, vision transformer.",
]


def corpus() -> list[str]:
    return [f"{p.title}. {p.abstract}" for p in make_papers(per_topic=8)] + TRICKY


def assert_same(params: dict, fit_docs: list[str], other_docs: list[str]) -> None:
    reference = SklearnTfidf(**params).fit(fit_docs)
    fast = FastTfidfVectorizer(**params).fit(fit_docs)
    assert list(fast.get_feature_names_out()) == list(reference.get_feature_names_out())
    assert fast.vocabulary_ == reference.vocabulary_
    if params.get("use_idf", True):
        assert np.array_equal(fast.idf_, reference.idf_)
    for docs in (fit_docs, other_docs):
        expected, got = reference.transform(docs), fast.transform(docs)
        assert got.shape == expected.shape
        assert np.array_equal(got.indptr, expected.indptr)
        assert np.array_equal(got.indices, expected.indices)
        assert np.array_equal(got.data, expected.data)


@pytest.mark.parametrize(
    "params",
    [
        RANKER_SETTINGS,
        {},
        {"stop_words": "english", "sublinear_tf": True},
        {"ngram_range": (1, 2), "min_df": 0.05, "max_df": 6, "norm": None, "smooth_idf": False},
        {"lowercase": False, "use_idf": False, "stop_words": ["vision", "the"]},
    ],
)
def test_vectors_equal_scikit_learns(params):
    assert_same(params, corpus(), TRICKY + ["an unseen word: zyzzyva transformer"])


def test_fit_transform_equals_fit_then_transform():
    docs = corpus()
    a = FastTfidfVectorizer(**RANKER_SETTINGS).fit_transform(docs)
    b = FastTfidfVectorizer(**RANKER_SETTINGS).fit(docs).transform(docs)
    assert (a != b).nnz == 0


def test_transforming_a_prefix_of_the_fitted_texts_reuses_their_vectors():
    docs = corpus()
    fast = FastTfidfVectorizer(**RANKER_SETTINGS).fit(docs + ["background paper text"])
    reference = SklearnTfidf(**RANKER_SETTINGS).fit(docs + ["background paper text"])
    assert (fast.transform(docs) != reference.transform(docs)).nnz == 0


def test_a_list_changed_after_fitting_is_analysed_again():
    docs = corpus()
    fast = FastTfidfVectorizer(**RANKER_SETTINGS).fit(docs)
    docs[0] = "knowledge distillation teacher student"
    reference = SklearnTfidf(**RANKER_SETTINGS).fit(corpus())
    assert (fast.transform(docs) != reference.transform(docs)).nnz == 0


def test_scikit_learns_errors_are_kept():
    with pytest.raises(ValueError, match="empty vocabulary"):
        FastTfidfVectorizer(stop_words="english").fit(["the and of", ""])
    with pytest.raises(ValueError, match="no terms remain"):
        FastTfidfVectorizer(min_df=2).fit(["alpha beta", "gamma delta", "epsilon"])
    with pytest.raises(ValueError, match="max_df corresponds to < documents than min_df"):
        FastTfidfVectorizer(min_df=3, max_df=2).fit(["alpha beta", "gamma delta"])
    with pytest.raises(ValueError, match="not fitted"):
        FastTfidfVectorizer().transform(["alpha"])


def test_settings_it_does_not_implement_get_scikit_learns_vectorizer():
    assert isinstance(TfidfVectorizer(**RANKER_SETTINGS), FastTfidfVectorizer)
    assert isinstance(TfidfVectorizer(max_features=100), SklearnTfidf)
    assert isinstance(TfidfVectorizer(analyzer="char"), SklearnTfidf)
    assert isinstance(TfidfVectorizer(ngram_range=(1, 3)), SklearnTfidf)


def test_stop_words_are_scikit_learns_list():
    assert english_stop_words() == ENGLISH_STOP_WORDS


def test_importing_the_module_loads_neither_scikit_learn_nor_scipy():
    code = (
        "import sys, trenddigest.tfidf as t; t.english_stop_words(); "
        "print(any(m.split('.')[0] in ('sklearn', 'scipy') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.shared
def test_vectors_equal_scikit_learns_on_a_real_month(shared_dir: Path):
    path = shared_dir / "data/arxiv/daily-arxiv-ai-enhanced/derived"
    path = path / "papers_2025-04_to_2025-07.derived.jsonl.gz"
    docs = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record["id"].startswith("2504."):
                docs.append(f"{record['title']}. {record['abstract']}")
    assert len(docs) > 3000
    assert_same(RANKER_SETTINGS, docs, docs[:50] + TRICKY)
