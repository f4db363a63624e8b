"""The ranking cache: an unchanged month is ranked once; any change that matters re-ranks."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import zlib
from pathlib import Path

import pytest

from synthetic import make_papers
from trenddigest.cache import cached_ranking, decode_ranking, encode_ranking, ranking_key
from trenddigest.categories import Category, Keyword
from trenddigest.config import RankConfig
from trenddigest.rank import Ranking, rank_papers
from trenddigest.store import Store

CATEGORIES = [
    Category("Distillation", "Teachers and students.", [Keyword("knowledge distillation", 2.0)]),
    Category("Detection", "Boxes around objects.", [Keyword("object detection", 2.0)]),
    Category("Segmentation", "Masks for every pixel.", [Keyword("semantic segmentation", 2.0)]),
]


class CountingRanker:
    """rank_papers with the default settings, counting its calls.

    The settings given to the cache only key it here, so any object will do.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.__module__ = rank_papers.__module__

    def __call__(self, papers, categories, settings, *, min_score=0.0) -> Ranking:
        self.calls += 1
        return rank_papers(papers, categories, RankConfig(), min_score=min_score)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store.sqlite3") as s:
        s.upsert_papers(make_papers("2025-05") + make_papers("2025-06", per_topic=4))
        yield s


def rank_month(store: Store, ranker: CountingRanker, month: str = "2025-05", **kw) -> Ranking:
    categories = kw.pop("categories", CATEGORIES)
    settings = kw.pop("settings", RankConfig())
    papers = store.papers_for_month(month, by=kw.get("by", "submitted"))
    return cached_ranking(store, month, papers, categories, settings, ranker, **kw)


def test_a_second_run_of_an_unchanged_month_is_served_from_the_cache(store):
    ranker = CountingRanker()
    first = rank_month(store, ranker)
    second = rank_month(store, ranker)
    assert ranker.calls == 1
    assert second == first


def test_a_cached_ranking_equals_a_fresh_one_and_reuses_the_callers_papers(store):
    ranker = CountingRanker()
    rank_month(store, ranker)
    papers = store.papers_for_month("2025-05")
    cached = cached_ranking(store, "2025-05", papers, CATEGORIES, RankConfig(), ranker)
    fresh = rank_papers(papers, CATEGORIES, RankConfig())
    assert ranker.calls == 1
    assert cached == fresh
    by_id = {p.id: p for p in papers}
    assert all(rp.paper is by_id[rp.paper.id] for rp in cached.all_ranked())


def test_a_new_paper_in_the_month_invalidates_the_cache(store):
    ranker = CountingRanker()
    rank_month(store, ranker)
    extra = dataclasses.replace(make_papers("2025-05")[0], id="2505.09999")
    store.upsert_papers([extra])
    ranking = rank_month(store, ranker)
    assert ranker.calls == 2
    assert ranking.considered == len(store.papers_for_month("2025-05"))


def test_a_changed_paper_in_the_month_invalidates_the_cache(store):
    ranker = CountingRanker()
    rank_month(store, ranker)
    paper = store.papers_for_month("2025-05")[0]
    store.upsert_papers(
        [dataclasses.replace(paper, version=2, updated="2025-07-01", title="A new title")]
    )
    rank_month(store, ranker)
    assert ranker.calls == 2


def test_papers_of_another_month_leave_the_cache_valid(store):
    ranker = CountingRanker()
    rank_month(store, ranker)
    store.upsert_papers(make_papers("2025-07", per_topic=2))
    rank_month(store, ranker)
    assert ranker.calls == 1


def test_edited_categories_invalidate_the_cache(store):
    ranker = CountingRanker()
    rank_month(store, ranker)
    edited = [dataclasses.replace(CATEGORIES[0], description="Teachers, students, logits.")]
    rank_month(store, ranker, categories=edited + CATEGORIES[1:])
    assert ranker.calls == 2


def test_other_rank_settings_or_threshold_invalidate_the_cache(store):
    ranker = CountingRanker()
    rank_month(store, ranker)
    rank_month(store, ranker, min_score=0.2)
    rank_month(store, ranker, settings={"title_weight": 3.0})
    assert ranker.calls == 3


def test_each_month_and_month_selection_has_its_own_entry(store):
    ranker = CountingRanker()
    rank_month(store, ranker, month="2025-05")
    rank_month(store, ranker, month="2025-06")
    rank_month(store, ranker, month="2025-05", by="announced")
    rank_month(store, ranker, month="2025-05")
    assert ranker.calls == 3
    keys = {k for (k,) in store.conn.execute("SELECT key FROM cache WHERE key LIKE 'ranking:%'")}
    assert keys == {
        ranking_key("2025-05"),
        ranking_key("2025-06"),
        ranking_key("2025-05", "announced"),
    }


def test_an_unreadable_cached_value_is_recomputed_not_an_error(store):
    ranker = CountingRanker()
    first = rank_month(store, ranker)
    store.conn.execute(
        "UPDATE cache SET value = ? WHERE key = ?", (b"garbage", ranking_key("2025-05"))
    )
    assert rank_month(store, ranker) == first
    assert ranker.calls == 2


def test_a_read_only_store_still_ranks(tmp_path: Path):
    path = tmp_path / "store.sqlite3"
    with Store.open(path) as s:
        s.upsert_papers(make_papers("2025-05"))
    readonly = Store(sqlite3.connect(f"file:{path}?mode=ro", uri=True), str(path))
    ranker = CountingRanker()
    ranking = rank_month(readonly, ranker)
    assert ranking.considered == len(make_papers("2025-05"))
    readonly.close()


def test_the_stored_value_holds_ids_scores_and_why_not_the_papers(store):
    ranking = rank_month(store, CountingRanker())
    (value,) = store.conn.execute(
        "SELECT value FROM cache WHERE key = ?", (ranking_key("2025-05"),)
    ).fetchone()
    text = zlib.decompress(value).decode()
    payload = json.loads(text)
    assert payload["ranking"] == {"considered": ranking.considered, "unmatched": ranking.unmatched}
    assert "teacher network into a compact student" not in text  # no abstracts
    assert len(value) < 40 * ranking.considered


def test_decoding_needs_every_ranked_paper():
    papers = make_papers("2025-05")
    # threshold 0: place every match, so the first paper is surely in the ranking.
    data = encode_ranking(rank_papers(papers, CATEGORIES, RankConfig(threshold=0.0)))
    with pytest.raises(KeyError):
        decode_ranking(data, papers[1:])


def test_encoding_is_deterministic():
    papers = make_papers("2025-05")
    ranking = rank_papers(papers, CATEGORIES, RankConfig())
    assert encode_ranking(ranking) == encode_ranking(
        decode_ranking(encode_ranking(ranking), papers)
    )


def test_background_idf_ranks_with_the_two_earlier_months_and_keys_the_cache_on_them(store):
    from trenddigest.config import Config
    from trenddigest.models import Month
    from trenddigest.pipeline import rank_month

    settings = RankConfig(background_idf=True)
    config = Config(rank=settings)
    june = store.papers_for_month("2025-06")
    may = store.papers_for_month("2025-05")
    ranking = rank_month(store, config, Month(2025, 6), june, CATEGORIES)
    assert ranking == rank_papers(june, CATEGORIES, settings, background=may)
    assert ranking != rank_papers(june, CATEGORIES, settings)  # the background counts
    changed = dataclasses.replace(may[0], abstract="Object detection everywhere.", version=2)
    store.upsert_papers([changed])
    again = rank_month(store, config, Month(2025, 6), june, CATEGORIES)
    assert again == rank_papers(june, CATEGORIES, settings, background=[changed, *may[1:]])
    assert again != ranking  # recomputed: the cached one had the old background


def test_a_read_only_store_is_warned_about_once_and_the_run_goes_on(store, caplog):
    store.conn.execute("PRAGMA query_only = ON")  # as a read-only file refuses writes
    ranker = CountingRanker()
    with caplog.at_level("WARNING", logger="trenddigest.cache"):
        first = rank_month(store, ranker, "2025-05")
        second = rank_month(store, ranker, "2025-06")
    assert first.considered and second.considered
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"not caching results in {store.path} this run: attempt to write a readonly database"
    ]
