"""The quality benchmark's metrics, labels and baselines, and one check on real data."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from trenddigest.categories import Category, Keyword, load_categories
from trenddigest.config import RankConfig
from trenddigest.models import Paper
from trenddigest.rank import Ranking

REPO = Path(__file__).resolve().parent.parent


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("quality", REPO / "benchmarks" / "quality.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["quality"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


quality = _load_benchmark()


def test_precision_counts_relevant_papers_in_the_first_k_places():
    ranked = ["a", "b", "c", "d"]
    assert quality.precision_at_k(ranked, {"a", "c"}, 2) == 0.5
    assert quality.precision_at_k(ranked, {"a", "c"}, 4) == 0.5


def test_precision_counts_the_empty_places_of_a_short_list_as_misses():
    assert quality.precision_at_k(["a", "b"], {"a", "b"}, 10) == 0.2
    assert quality.precision_at_k([], {"a"}, 10) == 0.0


def test_ndcg_of_a_perfect_list_is_one():
    assert quality.ndcg_at_k(["a", "b", "x"], {"a", "b"}, 10) == pytest.approx(1.0)


def test_ndcg_discounts_a_hit_by_the_log_of_its_place():
    # One relevant paper, found in second place: 1/log2(3) against an ideal of 1.
    assert quality.ndcg_at_k(["x", "a"], {"a"}, 10) == pytest.approx(1 / math.log2(3))
    # Hits at places 1 and 3 of two relevant: (1 + 1/2) / (1 + 1/log2(3)).
    expected = (1 + 0.5) / (1 + 1 / math.log2(3))
    assert quality.ndcg_at_k(["a", "x", "b"], {"a", "b"}, 10) == pytest.approx(expected)


def test_ndcg_ideal_uses_every_relevant_paper_of_the_month():
    # Three relevant papers exist but only one is listed: the ideal list has three hits.
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert quality.ndcg_at_k(["a"], {"a", "b", "c"}, 10) == pytest.approx(1 / ideal)
    assert quality.ndcg_at_k(["x"], set(), 10) == 0.0


def test_right_category_share_counts_labelled_papers_placed_under_a_label():
    labels = {"p1": {"A"}, "p2": {"A", "B"}, "p3": {"B"}, "p4": set()}
    assigned = {"p1": "A", "p2": "B", "p3": "A", "p4": "A"}
    assert quality.right_category_share(assigned, labels) == pytest.approx(2 / 3)


def test_placed_share_is_the_share_of_papers_in_some_category():
    assert quality.placed_share({"a": "X"}, ["a", "b"]) == 0.5
    assert quality.placed_share({}, []) == 0.0


def test_a_title_rule_needs_its_pattern_and_none_of_the_exceptions():
    rule = quality.TITLE_RULES["Knowledge Distillation"]
    assert rule.test("Progressive Class-level Distillation", ("cs.CV",))
    assert rule.test("Distilling Reasoning into Small LMs", ("cs.CL",))
    assert not rule.test("Dataset Distillation at Scale", ("cs.CV",))
    assert not rule.test("Score Distillation Sampling for 3D", ("cs.CV",))


def test_transformer_in_a_title_means_vision_transformer_only_for_image_papers():
    rule = quality.TITLE_RULES["Vision Transformers"]
    assert rule.test("Transformers for Crowd Counting", ("cs.CV",))
    assert not rule.test("Transformers for Machine Translation", ("cs.CL",))
    assert rule.test("A Faster ViT", ("cs.LG",))


def test_every_packaged_category_has_a_title_rule():
    names = {c.name for c in load_categories(None)}
    assert names <= set(quality.TITLE_RULES)


def test_methods_see_only_the_id_abstract_and_allowed_title():
    rec = quality.Record("2505.00001", "A Title", "An abstract.", ("cs.CV", "cs.LG"))
    hidden = quality.ranker_view(rec, title=False)
    shown = quality.ranker_view(rec, title=True)
    assert (hidden.title, hidden.categories, hidden.primary_category) == ("", [], "")
    assert (hidden.comment, hidden.authors) == ("", [])
    assert shown.title == "A Title" and shown.abstract == "An abstract."


def test_the_keyword_baseline_lists_every_match_newest_first():
    category = Category("KD", "d", [Keyword("distillation"), Keyword("teacher")])
    papers = [
        Paper("2505.00002", "", "A teacher and a student."),
        Paper("2505.00010", "", "Distillation methods."),
        Paper("2505.00003", "", "Weather forecasting."),
        Paper("2505.00001", "", "Self-distillation with a teacher."),
    ]
    out = quality.keyword_baseline(papers, [category])
    assert out.lists["KD"] == ["2505.00010", "2505.00002", "2505.00001"]
    assert "2505.00003" not in out.assigned


def test_splitting_keywords_drops_phrases_and_stop_words():
    category = Category("KD", "d", [Keyword("knowledge distillation", 3.0), Keyword("of the")])
    (split,) = quality.split_keywords([category])
    assert [(k.term, k.weight) for k in split.keywords] == [
        ("knowledge", 3.0),
        ("distillation", 3.0),
    ]


def test_task_a_hides_every_title_from_every_method():
    records = {
        "2505": [quality.Record("2505.00001", "Distilling ViTs", "We distill.", ("cs.CV",))],
        "2504": [quality.Record("2504.00001", "Pruning CNNs", "We prune.", ("cs.CV",))],
    }
    task = quality.curated_task(load_categories(None))
    papers, background = quality.method_inputs(task, records, "2025-05")
    assert [p.title for p in papers + background] == ["", ""]
    assert [p.abstract for p in papers + background] == ["We distill.", "We prune."]


def test_task_b_shows_titles_but_never_arxiv_classes():
    records = {"2505": [quality.Record("2505.00001", "Robot Hands", "Grasping.", ("cs.RO",))]}
    (paper,), _ = quality.method_inputs(quality.zero_shot_task(), records, "2025-05")
    assert paper.title == "Robot Hands"
    assert (paper.categories, paper.primary_category) == ([], "")


def test_ours_is_called_as_the_pipeline_calls_it(monkeypatch):
    calls = []

    def record(papers, categories, settings, **kwargs):
        calls.append(kwargs)
        return Ranking(len(papers), {c.name: [] for c in categories}, len(papers))

    monkeypatch.setattr(quality, "rank_papers", record)
    earlier = [Paper("2504.00001", "", "Older.")]
    papers = [Paper("2505.00001", "", "A paper.")]
    quality.ours(RankConfig())(papers, [], background=earlier)
    quality.ours(RankConfig(background_idf=True))(papers, [], background=earlier)
    assert calls == [{}, {"background": earlier}]


def test_off_topic_papers_count_as_kept_out_only_below_both_baselines():
    def scores(off_topic: float):
        return quality.Scores(off_topic=off_topic)

    results = {
        ("A", "2025-05", "keyword"): scores(0.4),
        ("A", "2025-05", "tfidf"): scores(1.0),
        ("A", "2025-05", "ours"): scores(0.15),
        ("B", "2025-05", "keyword"): scores(0.4),
        ("B", "2025-05", "tfidf"): scores(1.0),
        ("B", "2025-05", "ours"): scores(0.4),
    }
    assert quality._keeps_off_topic_out(results, "A", "2025-05")
    assert not quality._keeps_off_topic_out(results, "B", "2025-05")


def test_equal_hits_summed_in_another_order_are_a_tie_not_a_win():
    def scores(p10: list[float], ndcg10: float):
        per = {f"c{i}": {"p10": v, "ndcg10": ndcg10} for i, v in enumerate(p10)}
        return quality.Scores(per_category=per)

    # Ours is ahead on nDCG@10, so P@10 alone decides.  The two P@10 means differ by
    # 2e-13 on every interpreter (far above a float's last bit, far below the 1e-9 the
    # comparison rounds to): the kind of difference summation order makes (3.12's sum()
    # is compensated, so merely reordering the hits would tie exactly there).
    ours = scores([0.1, 0.2, 0.3, 0.6, 0.7], 0.9)
    tied = scores([0.1, 0.2, 0.3, 0.6, 0.7 - 1e-12], 0.5)
    weaker = scores([0.1, 0.2, 0.3, 0.6, 0.6], 0.5)
    results = {("B", "2025-06", "ours"): ours, ("B", "2025-06", "keyword"): weaker}
    results["B", "2025-06", "tfidf"] = tied
    assert ours.mean("p10") != tied.mean("p10")
    assert not quality._wins(results, "B", "2025-06")
    results["B", "2025-06", "tfidf"] = weaker
    assert quality._wins(results, "B", "2025-06")


def _per_category(values: dict[str, float]):
    return quality.Scores(per_category={c: {"p10": v, "ndcg10": v} for c, v in values.items()})


def test_a_change_made_by_one_category_has_an_interval_reaching_zero():
    base = {("B", "2025-04"): _per_category({f"c{i}": 0.5 for i in range(8)})}
    lucky = {("B", "2025-04"): _per_category({**{f"c{i}": 0.5 for i in range(7)}, "c7": 0.9})}
    low, high = quality.change_interval(base, lucky, resamples=2000)
    assert low == 0.0  # a resample without c7 shows no change at all
    assert high > 0.05


def test_a_change_every_category_shares_has_an_interval_above_zero():
    base = {(t, "2025-04"): _per_category({f"c{i}": 0.1 * i for i in range(8)}) for t in "AB"}
    better = {
        (t, "2025-04"): _per_category({f"c{i}": 0.1 * i + 0.02 for i in range(8)}) for t in "AB"
    }
    low, high = quality.change_interval(base, better, resamples=2000)
    assert low == pytest.approx(0.02) and high == pytest.approx(0.02)


def test_the_change_interval_weighs_the_tasks_equally_whatever_their_category_counts():
    # Task A: 27 categories gaining 0.1; task B: 8 categories unchanged.  Pooling the
    # categories would put the change near 0.08; the ablation's change is 0.05.
    base = {
        ("A", "2025-04"): _per_category({f"a{i}": 0.5 for i in range(27)}),
        ("B", "2025-04"): _per_category({f"b{i}": 0.5 for i in range(8)}),
    }
    variant = {
        ("A", "2025-04"): _per_category({f"a{i}": 0.6 for i in range(27)}),
        ("B", "2025-04"): _per_category({f"b{i}": 0.5 for i in range(8)}),
    }
    low, high = quality.change_interval(base, variant, resamples=500)
    assert low == pytest.approx(0.05) and high == pytest.approx(0.05)


@pytest.fixture(scope="module")
def may_2025(shared_dir):
    """May 2025's real abstracts as task A sees them, with their hidden labels."""
    records = quality.load_records(shared_dir / "data" / "arxiv", files=quality.DATA_FILES[:1])
    task = quality.curated_task(load_categories(None))
    recs = records["2505"]
    papers = [quality.ranker_view(r, title=False) for r in recs]
    labels = {r.id: task.label(r) for r in recs}
    off_topic = [r.id for r in recs if task.off_topic(r)]
    return task, papers, labels, off_topic


@pytest.mark.shared
def test_the_default_ranker_beats_the_keyword_baseline_on_may_2025(may_2025):
    """A few seconds: ranks May's 5,800 real abstracts (titles hidden)."""
    task, papers, labels, _ = may_2025
    ours = quality.ours(RankConfig())(papers, task.categories, background=[])
    keyword = quality.keyword_baseline(papers, task.categories)

    def mean_p10(out) -> float:
        values = []
        for cat in task.categories:
            relevant = {pid for pid, names in labels.items() if cat.name in names}
            if len(relevant) >= quality.MIN_RELEVANT:
                values.append(quality.precision_at_k(out.lists[cat.name], relevant, 10))
        return sum(values) / len(values)

    assert mean_p10(ours) > mean_p10(keyword) + 0.2


@pytest.mark.shared
def test_the_default_ranker_keeps_most_off_topic_papers_out_on_may_2025(may_2025):
    """Pure-NLP papers have no place among the vision and learning categories."""
    task, papers, _, off_topic = may_2025
    assert len(off_topic) > 100
    ours = quality.ours(RankConfig())(papers, task.categories, background=[])
    keyword = quality.keyword_baseline(papers, task.categories)
    ours_share = quality.placed_share(ours.assigned, off_topic)
    assert ours_share < 0.25
    assert ours_share < quality.placed_share(keyword.assigned, off_topic) / 2


def _evaluation_table(text: str) -> list[str]:
    header = text.index("| Task | Month | P@10 keyword |")
    return text[header:].split("\n\n", 1)[0].splitlines()


def test_the_readme_evaluation_table_is_the_one_quality_md_holds():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    report = (REPO / "benchmarks" / "results" / "quality.md").read_text(encoding="utf-8")
    assert _evaluation_table(readme) == _evaluation_table(report)
