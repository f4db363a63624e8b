"""Odd but real-world categories files, reading lists and months (all synthetic).

A lab admin writes categories by hand, in any language, and sometimes with extreme
numbers; each case here once crashed, or silently gave a category that can never
match, instead of a clear one-line error or a sensible result.
"""

from __future__ import annotations

import math

import pytest

from synthetic import categories_error
from trenddigest.categories import (
    Category,
    Keyword,
    import_markdown,
    loads_categories,
)
from trenddigest.config import RankConfig
from trenddigest.errors import ConfigError
from trenddigest.models import Paper
from trenddigest.rank import category_scores, rank_papers

ONE = """
[[category]]
name = "Knowledge Distillation"
description = "Teacher to student transfer."
keywords = [{ term = "knowledge distillation", weight = WEIGHT }]
"""


def error_of(text: str) -> str:
    return categories_error(text, "my.toml")


def distillation_papers() -> list[Paper]:
    return [
        Paper("2505.00001", "Knowledge Distillation for Detectors", "Knowledge distillation."),
        Paper("2505.00002", "River Poetry", "We write about rivers and mountains."),
    ]


# --------------------------------------------------------------------------- weights


@pytest.mark.parametrize(("weight", "shown"), [("1e308", "1e+308"), ("1000.0", "1000.0")])
def test_a_keyword_weight_above_the_maximum_is_refused_with_the_range(
    weight: str, shown: str
) -> None:
    assert error_of(ONE.replace("WEIGHT", weight)) == (
        'my.toml: category 1 ("Knowledge Distillation"): '
        f"keywords[1] ('knowledge distillation'): 'weight' must be at most 100, got {shown}; "
        "use e.g. 0.5 for a weak term or 2.0 for a strong one"
    )


def test_the_largest_allowed_weight_loads() -> None:
    (category,) = loads_categories(ONE.replace("WEIGHT", "100"))
    assert category.keywords == [Keyword("knowledge distillation", 100.0)]


@pytest.mark.parametrize("weight", [1e300, float("nan"), 0.0, -1.0])
def test_ranking_refuses_a_category_built_in_code_with_an_impossible_weight(
    weight: float,
) -> None:
    category = Category("KD", "Teacher to student.", [Keyword("knowledge distillation", weight)])
    with pytest.raises(ConfigError, match=r"category 'KD': keyword 'knowledge distillation'"):
        rank_papers(distillation_papers(), [category])


def test_the_largest_allowed_weight_gives_finite_scores() -> None:
    category = Category("KD", "Teacher to student.", [Keyword("knowledge distillation", 100.0)])
    scores = category_scores(distillation_papers(), [category])
    assert all(math.isfinite(s) for s in scores.ravel())
    ranking = rank_papers(distillation_papers(), [category])
    assert [rp.paper.id for rp in ranking.by_category["KD"]] == ["2505.00001"]


# --------------------------------------------------------------------------- unmatchable terms


@pytest.mark.parametrize("term", ["知识蒸馏", "!!!", "🧪 —"])
def test_a_keyword_with_no_letter_or_digit_the_ranker_reads_is_refused(term: str) -> None:
    text = f"""
[[category]]
name = "蒸馏 🧪"
description = "Written in Chinese."
keywords = ["knowledge distillation", "{term}"]
"""
    message = error_of(text)
    assert message == (
        f'my.toml: category 1 ("蒸馏 🧪"): keywords[2]: "{term}" has no ASCII letter or '
        "digit, so it can never match (papers are ranked on their English title and "
        "abstract); write the term in English, or remove it"
    )


def test_an_exclude_term_with_no_letter_or_digit_the_ranker_reads_is_refused() -> None:
    text = """
[[category]]
name = "Distillation"
description = "Teacher to student."
keywords = ["knowledge distillation"]
exclude = ["精馏塔"]
"""
    assert error_of(text) == (
        'my.toml: category 1 ("Distillation"): exclude[1]: "精馏塔" has no ASCII letter or '
        "digit, so it can never match (papers are ranked on their English title and "
        "abstract); write the term in English, or remove it"
    )


def test_a_keyword_mixing_scripts_loads_and_matches_its_english_words() -> None:
    (category,) = loads_categories(
        """
[[category]]
name = "知识蒸馏 🧪"
description = "Chinese name, English keyword."
keywords = ["知识蒸馏 knowledge distillation"]
"""
    )
    ranking = rank_papers(distillation_papers(), [category])
    assert [rp.paper.id for rp in ranking.by_category["知识蒸馏 🧪"]] == ["2505.00001"]


# --------------------------------------------------------------------------- Markdown import

CHINESE_LIST = """
# 论文列表

## 目标检测

- [Anchor-Free Object Detection with Dense Queries](https://arxiv.org/abs/2001.00001)
- [Small Object Detection in Aerial Images](https://arxiv.org/abs/2001.00002)

## 语义分割

- [Boundary-Aware Semantic Segmentation](https://arxiv.org/abs/2001.00003)
- [Panoptic Semantic Segmentation with Queries](https://arxiv.org/abs/2001.00004)
"""


def test_import_keeps_topics_under_headings_in_another_script() -> None:
    categories = loads_categories(import_markdown(CHINESE_LIST, "awesome.md"))
    assert [c.name for c in categories] == ["目标检测", "语义分割"]
    assert "object detection" in [k.term for k in categories[0].keywords]
    assert "semantic segmentation" in [k.term for k in categories[1].keywords]


def test_import_leaves_out_a_section_it_can_derive_no_english_keyword_for() -> None:
    text = CHINESE_LIST + "\n## 其他\n\n- [一篇论文](https://arxiv.org/abs/2001.00005)\n"
    toml_text = import_markdown(text, "awesome.md")
    assert [c.name for c in loads_categories(toml_text)] == ["目标检测", "语义分割"]
    assert '# Left out: "其他" (1 paper): no English keyword could be derived' in toml_text


# --------------------------------------------------------------------------- method = "tfidf"


@pytest.mark.parametrize("count", [1, 2, 3])
def test_the_tfidf_method_ranks_a_month_of_a_few_papers(count: int) -> None:
    # Its words are in one paper only: a month this small keeps every word.
    kd = Paper("2505.00001", "Knowledge Distillation", "Knowledge distillation for students.")
    others = [
        Paper(f"2505.{i:05d}", "Protein Folding", "Protein folding on graphs.")
        for i in range(2, count + 1)
    ]
    category = Category("KD", "Teacher to student.", [Keyword("knowledge distillation")])
    ranking = rank_papers([kd, *others], [category], RankConfig(method="tfidf"))
    assert (ranking.considered, ranking.unmatched) == (count, count - 1)
    [placed] = ranking.by_category["KD"]
    assert (placed.paper.id, placed.why[:2]) == ("2505.00001", ["distillation", "knowledge"])


def test_the_tfidf_method_leaves_a_month_of_stop_words_unmatched() -> None:
    papers = [Paper("2505.00001", "The", "Of the."), Paper("2505.00002", "A", "And then.")]
    category = Category("KD", "Teacher to student.", [Keyword("knowledge distillation")])
    ranking = rank_papers(papers, [category], RankConfig(method="tfidf"))
    assert ranking.unmatched == 2
    assert ranking.by_category == {"KD": []}


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["🧪", "🔥 & 🧪", "***"])
def test_a_name_with_no_letter_or_digit_is_refused_since_it_gives_no_anchor(name: str) -> None:
    text = f"""
[[category]]
name = "{name}"
description = "Symbols only."
keywords = ["knowledge distillation"]
"""
    assert error_of(text) == (
        f"my.toml: category 1 (\"{name}\"): 'name' has no letter or digit, so the "
        "Overview cannot link to its section; add a word naming the topic"
    )


def test_a_name_in_another_script_with_an_emoji_loads() -> None:
    (category,) = loads_categories(
        """
[[category]]
name = "知识蒸馏 🧪"
description = "Chinese name."
keywords = ["knowledge distillation"]
"""
    )
    assert category.name == "知识蒸馏 🧪"


# --------------------------------------------------------------------------- withdrawn papers

WITHDRAWN_NOTICES = [
    "This paper has been withdrawn by the authors.",
    "  this article has been withdrawn because it was merged with another one.",
    "This manuscript was withdrawn due to an error in Section 3.",
    "Paper withdrawn due to a possible error in the numerical calculation.",
    "Withdrawn.",
]


@pytest.mark.parametrize("abstract", WITHDRAWN_NOTICES)
def test_an_abstract_replaced_by_a_withdrawal_notice_marks_the_paper_withdrawn(
    abstract: str,
) -> None:
    assert Paper("2505.00001", "Knowledge Distillation", abstract).withdrawn


@pytest.mark.parametrize(
    "abstract",
    [
        "Withdrawn users of social networks post less; we model why.",
        "We study knowledge distillation. This paper has been withdrawn from nothing.",
        "",
    ],
)
def test_an_abstract_that_only_mentions_withdrawal_is_not_a_notice(abstract: str) -> None:
    assert not Paper("2505.00001", "Knowledge Distillation", abstract).withdrawn


def test_a_withdrawn_paper_with_a_topical_title_is_not_placed() -> None:
    withdrawn = Paper(
        "2505.00003", "Knowledge Distillation for Detectors", "This paper has been withdrawn."
    )
    papers = [*distillation_papers(), withdrawn]
    category = Category("KD", "Teacher to student.", [Keyword("knowledge distillation")])
    ranking = rank_papers(papers, [category])
    assert [rp.paper.id for rp in ranking.by_category["KD"]] == ["2505.00001"]
    assert ranking.unmatched == 2
    assert category_scores(papers, [category])[2, 0] == 0.0


def test_the_tfidf_method_does_not_place_a_withdrawn_paper_either() -> None:
    topics = ["rivers", "mountains", "forests", "deserts", "oceans", "glaciers"]
    papers = [
        Paper(f"2505.0000{i}", f"Poetry of {topic}", f"We write verse about {topic}.")
        for i, topic in enumerate(topics, start=1)
    ]
    papers.append(Paper("2505.00008", "Knowledge Distillation", "Knowledge distillation."))
    papers.append(Paper("2505.00009", "Knowledge Distillation", "This paper has been withdrawn."))
    category = Category("KD", "Teacher to student.", [Keyword("knowledge distillation")])
    ranking = rank_papers(papers, [category], RankConfig(method="tfidf"))
    assert [rp.paper.id for rp in ranking.by_category["KD"]] == ["2505.00008"]


# --------------------------------------------------------------------------- exclude vs keywords


@pytest.mark.parametrize(
    ("keyword", "exclude"),
    [
        ("object detection", "Object  Detection"),
        ("object detection", "detection"),
        ("object detection", "object detections"),  # read as its singular
        ("object detectors", "detector"),  # whose plural the keyword is
        ("image patches", "patch"),  # whose "-es" plural the keyword is
        ("case studies", "study"),  # whose "-ies" plural the keyword is
    ],
)
def test_an_exclude_term_inside_a_keyword_of_the_same_category_is_refused(
    keyword: str, exclude: str
) -> None:
    text = f"""
[[category]]
name = "Detection"
description = "Boxes."
keywords = ["bounding box", "{keyword}"]
exclude = ["anomaly detection", "{exclude}"]
"""
    shown = " ".join(exclude.split())
    assert error_of(text) == (
        f'my.toml: category 1 ("Detection"): exclude[2]: "{shown}" is part of keyword '
        f'"{keyword}", so every paper with that keyword is vetoed; remove one of them'
    )


def test_an_exclude_term_that_narrows_a_keyword_loads() -> None:
    (category,) = loads_categories(
        """
[[category]]
name = "Detection"
description = "Boxes."
keywords = ["detection"]
exclude = ["anomaly detection", "detections of gravitational waves"]
"""
    )
    assert category.exclude == ["anomaly detection", "detections of gravitational waves"]


# --------------------------------------------------------------- per-category thresholds

TWO_TOPICS = Paper(
    "2505.00001",
    "Knowledge Distillation for Object Detection",
    "We use knowledge distillation to train an object detector; object detection results.",
)


def test_a_paper_below_a_strict_categorys_threshold_goes_to_the_next_category_it_clears() -> None:
    strict = Category("Detection", "Boxes.", [Keyword("object detection")], threshold=0.99)
    lenient = Category(
        "KD", "Teacher to student.", [Keyword("knowledge distillation")], threshold=0.5
    )
    scores = category_scores([TWO_TOPICS], [strict, lenient])
    assert 0.5 <= scores[0, 1] < scores[0, 0] < 0.99  # best in Detection, clears only KD
    ranking = rank_papers([TWO_TOPICS], [strict, lenient])
    assert [rp.paper.id for rp in ranking.by_category["KD"]] == ["2505.00001"]
    assert ranking.by_category["KD"][0].score == round(float(scores[0, 1]), 4)
    assert ranking.unmatched == 0


def test_a_paper_that_clears_no_category_threshold_stays_unmatched() -> None:
    strict = Category("Detection", "Boxes.", [Keyword("object detection")], threshold=0.99)
    also = Category(
        "KD", "Teacher to student.", [Keyword("knowledge distillation")], threshold=0.99
    )
    ranking = rank_papers([TWO_TOPICS], [strict, also])
    assert ranking.unmatched == 1
    assert ranking.by_category == {"Detection": [], "KD": []}


def test_the_tfidf_method_also_places_a_paper_in_the_next_category_it_clears() -> None:
    filler = [
        Paper(f"2505.{i:05d}", f"Poetry of {topic}", f"We write verse about {topic}.")
        for i, topic in enumerate(["rivers", "mountains", "forests", "deserts"], start=2)
    ]
    strict = Category("Detection", "Boxes.", [Keyword("object detection")], threshold=0.99)
    lenient = Category("KD", "Teacher to student.", [Keyword("knowledge distillation")])
    twin = Paper("2505.00009", TWO_TOPICS.title, TWO_TOPICS.abstract)  # words in 2 papers
    papers = [TWO_TOPICS, twin, *filler]
    ranking = rank_papers(papers, [strict, lenient], RankConfig(method="tfidf"))
    assert ranking.by_category["Detection"] == []
    assert [rp.paper.id for rp in ranking.by_category["KD"]] == ["2505.00001", "2505.00009"]
