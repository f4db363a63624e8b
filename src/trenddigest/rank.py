"""Ranking a month's papers against the curated categories with TF-IDF.

Each category becomes a profile document (description, weighted keywords, exemplar
titles); each paper is title + abstract.  Cosine similarity in a shared TF-IDF space
decides which category a paper fits best; a paper goes there only when it clears the
category's threshold, and an excluded term vetoes it.  The terms shared by the
paper and the profile that weigh most in the product are kept as "why".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .categories import Category
from .config import RankConfig
from .models import Paper
from .tfidf import TfidfVectorizer, top_products

log = logging.getLogger(__name__)


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


def category_text(category: Category) -> str:
    parts = [category.name, category.description]
    for kw in category.keywords:
        parts.extend([kw.term] * max(1, round(kw.weight)))
    parts.extend(ex.title for ex in category.papers)
    return ". ".join(parts)


def rank_papers(
    papers: list[Paper],
    categories: list[Category],
    settings: RankConfig | None = None,
    *,
    background: list[Paper] | None = None,
    min_score: float = 0.0,
) -> Ranking:
    """Assign each paper to its best category and rank every category's papers."""
    by_category: dict[str, list[RankedPaper]] = {c.name: [] for c in categories}
    if not papers or not categories:
        return Ranking(considered=len(papers), by_category=by_category, unmatched=len(papers))
    vectorizer = TfidfVectorizer(
        stop_words="english", ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_df=0.5
    )
    docs = [paper_text(p) for p in papers]
    fit_docs = docs + [paper_text(p) for p in background or []]
    vectorizer.fit(fit_docs)
    paper_vecs = vectorizer.transform(docs)
    cat_vecs = vectorizer.transform([category_text(c) for c in categories])
    sims = (paper_vecs @ cat_vecs.T).toarray()
    vocab = vectorizer.get_feature_names_out()
    unmatched = 0
    needs_why: list[tuple[RankedPaper, int, int]] = []
    for i, paper in enumerate(papers):
        text = paper_text(paper).lower()
        order = np.argsort(-sims[i], kind="stable")
        placed = False
        for j in order:
            cat = categories[j]
            score = float(sims[i, j])
            threshold = max(min_score, cat.threshold or 0.0)
            if score <= 0 or score < threshold:
                break
            if any(term.lower() in text for term in cat.exclude):
                continue
            entry = RankedPaper(paper, cat.name, round(score, 4))
            by_category[cat.name].append(entry)
            needs_why.append((entry, i, int(j)))
            placed = True
            break
        if not placed:
            unmatched += 1
    # The why terms of all placed papers in one sparse product (per paper it was most
    # of the ranking time): the 4 terms weighing most in the paper x category product.
    whys = top_products(
        paper_vecs, cat_vecs, [i for _, i, _ in needs_why], [j for _, _, j in needs_why], 4
    )
    for (entry, _, _), columns in zip(needs_why, whys, strict=True):
        entry.why = [str(vocab[c]) for c in columns]
    for ranked in by_category.values():
        ranked.sort(key=lambda rp: (-rp.score, rp.paper.id))
    return Ranking(considered=len(papers), by_category=by_category, unmatched=unmatched)
