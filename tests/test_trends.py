"""Research trends: category momentum, rising terms, emerging topics, top picks.

Small synthetic corpora pin down each rule; the real 2025-04..07 sample in ../shared
checks that what the report claims (supports, growth order, cluster members) matches
counts made independently here.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from trenddigest import trends
from trenddigest.categories import Category, Keyword, loads_categories
from trenddigest.config import RankConfig
from trenddigest.errors import InputError
from trenddigest.models import Month, Paper
from trenddigest.rank import RankedPaper, Ranking, paper_text
from trenddigest.store import Store
from trenddigest.terms import MODIFIERS, TermMatrix, number_key, term_key, term_matrix, term_stream
from trenddigest.trends import (
    MonthCounts,
    RisingTerm,
    TermCounts,
    TrendOptions,
    build_trend_report,
    build_trends_section,
    category_trends,
    document_terms,
    emerging_topics,
    example_papers,
    month_category_counts,
    render_trend_report,
    render_trends_section,
    rising_terms,
    top_picks,
    unmatched_papers,
)

# --------------------------------------------------------------------------- helpers

_ids: dict[str, int] = {}


def paper(month: str, title: str, abstract: str = "", pid: str | None = None) -> Paper:
    """A synthetic paper with the next free id of ``month`` (YYYY-MM)."""
    if pid is None:
        yymm = month[2:4] + month[5:7]
        _ids[yymm] = _ids.get(yymm, 0) + 1
        pid = f"{yymm}.{_ids[yymm]:05d}"
    return Paper(id=pid, title=title, abstract=abstract, authors=["A. Author"])


def filler(month: str, n: int) -> list[Paper]:
    """Papers whose only terms ("notes", "look") every month's papers share."""
    return [paper(month, f"Notes {i}", "We look at nothing.") for i in range(n)]


def with_term(month: str, term: str, n: int) -> list[Paper]:
    """Papers like :func:`filler` that also use ``term`` (as a phrase of its own)."""
    return [paper(month, f"Notes {i}", f"We look at {term}.") for i in range(n)]


def unrelated(month: str, n: int) -> list[Paper]:
    return [
        paper(month, f"An unrelated study number {i}", "Nothing to see here.") for i in range(n)
    ]


def counts_of(papers: list[Paper]) -> TermCounts:
    return TermCounts.from_texts([paper_text(p) for p in papers])


CATEGORIES = [
    Category(
        "Detection",
        "Object detection with bounding boxes.",
        [Keyword("object detection", 3.0), Keyword("bounding boxes")],
        threshold=0.05,
    ),
    Category(
        "Segmentation",
        "Semantic segmentation of pixels into masks.",
        [Keyword("semantic segmentation", 3.0), Keyword("masks")],
        threshold=0.05,
    ),
]


def detection(month: str, i: int) -> Paper:
    return paper(month, f"Object detection trick {i}", "Object detection with bounding boxes.")


def segmentation(month: str, i: int) -> Paper:
    return paper(month, f"Semantic segmentation trick {i}", "Semantic segmentation masks.")


def store_with(papers: list[Paper]) -> Store:
    store = Store.open(":memory:")
    store.upsert_papers(papers)
    return store


# --------------------------------------------------------------------------- terms


def test_document_terms_pair_adjacent_words_across_hyphens_but_not_punctuation():
    terms = document_terms("Vision-language, images. The 3D scene in 2025")
    assert {"vision language", "3d scene"} <= terms
    assert "models images" not in terms  # a comma ends the phrase
    assert "images 3d" not in terms  # so does a full stop (and "the" between)
    assert not terms & {"the", "in", "2025"}  # stop words and bare numbers


def test_a_pair_that_cuts_a_hyphenated_compound_in_two_is_no_term():
    terms = document_terms("On-policy self-distillation for multi-agent reinforcement learning")
    assert {"self distillation", "multi agent", "reinforcement learning"} <= terms
    assert not terms & {"policy self", "agent reinforcement", "distillation multi"}
    assert "supervised fine" not in document_terms("Supervised fine-tuning")
    assert "language models" not in document_terms("Vision-language models")


def test_a_modifier_compound_keeps_the_phrase_it_modifies():
    terms = document_terms("A language model-based agent")
    assert {"language model", "model based"} <= terms
    assert "based agent" not in terms  # the compound's tail starts no phrase


def test_term_matrix_cuts_no_compound_in_two_as_the_term_definition_says():
    assert_rows_count_the_term_stream(
        [
            "On-policy self-distillation for multi-agent reinforcement learning",
            "Supervised fine-tuning of a language model-based, task-aware agent",
            "State-of-the-art vision--language models - and model - data splits",
            "Naïve-Bayes état-de-l'art self-supervised models",
            "a-b c-d-e f\x02g-h",
        ]
    )


def test_term_counts_count_papers_not_occurrences():
    counts = counts_of([paper("2025-05", "Foo foo foo"), paper("2025-05", "foo bar")])
    assert counts.papers == 2
    assert counts.get("foo") == 2
    assert counts.get("foo foo") == 1
    assert counts.get("missing") == 0


def test_term_counts_survive_a_round_trip_through_bytes():
    counts = counts_of([paper("2025-05", "Gaussian splatting"), paper("2025-05", "splatting")])
    again = TermCounts.from_bytes(counts.to_bytes())
    assert again.papers == counts.papers == 2
    assert again.as_dict() == counts.as_dict() == {
        "gaussian": 1, "splatting": 2, "gaussian splatting": 1,
    }  # fmt: skip


def assert_rows_count_the_term_stream(texts: list[str]) -> TermMatrix:
    """Each row of the bulk matrix holds exactly the terms term_stream gives its text."""
    matrix = term_matrix(texts)
    for row, text in enumerate(texts):
        expected = Counter(term_stream(text))
        got = {term: int(matrix.counts[row, matrix.column(term)]) for term in expected}
        assert got == expected, text
        assert int(matrix.counts[row].sum()) == sum(expected.values()), text
    return matrix


def test_term_matrix_counts_what_the_term_definition_says():
    texts = [
        "Vision-language models see images, videos; and 3D scenes (in 2025).",
        "Images of images: vision-language again",
        "",
        "Don't stop: the model/data split is a_b_c and __init__ 42x",
    ]
    matrix = assert_rows_count_the_term_stream(texts)
    # A term's singular and plural ("models", "model") are one, counted in the texts
    # using either and shown in the form most of them use (ties: the one sorting first).
    used = {t: sum(t in document_terms(x) for x in texts) for x in texts for t in document_terms(x)}
    docs = [{term_key(t) for t in document_terms(x)} for x in texts]
    forms: dict[str, list[str]] = {}
    for term in sorted(used):
        forms.setdefault(term_key(term), []).append(term)
    assert matrix.document_counts().as_dict() == {
        min(terms, key=lambda t: (-used[t], t)): sum(key in doc for doc in docs)
        for key, terms in forms.items()
    }


def test_term_matrix_splits_non_ascii_and_control_characters_as_the_term_definition_does():
    assert_rows_count_the_term_stream(
        [
            "Naïve Bayes — état-of-the-art “quoted” models’ Übersicht",
            "İstanbul ŞEHİR and ﬁne ligatures",
            "a\x01separator inside\x01 a title",
            "tabs\tand\nnewlines; and 2×2 grids",
        ]
    )


def test_contraction_fragments_are_not_words():
    assert "don" not in document_terms("Don't forget")
    assert "forget" in document_terms("Don't forget")


def test_term_matrix_finds_the_papers_using_a_term():
    matrix = term_matrix(["graph rewiring works", "no graph here", "Graph-rewiring again"])
    assert matrix.rows_using("graph rewiring").tolist() == [0, 2]
    assert matrix.rows_using("absent term").tolist() == []


@pytest.mark.parametrize(
    ("singular", "plural"),
    [("agent", "agents"), ("study", "studies"), ("class", "classes"), ("box", "boxes"),
     ("patch", "patches"), ("response", "responses"), ("cache", "caches"), ("bias", "biases"),
     ("metric", "metrics"), ("llm", "llms"), ("diffusion model", "diffusion models"),
     ("pose", "poses"), ("case", "cases"), ("gas", "gases"), ("lens", "lenses")],
)  # fmt: skip
def test_a_singular_and_its_plural_share_one_key(singular, plural):
    assert term_key(singular) == term_key(plural)


@pytest.mark.parametrize(
    ("word", "other"),
    [("news", "new"), ("dynamics", "dynamic"), ("lens", "len"), ("gps", "gp"),
     ("analysis", "analysi"), ("corpus", "corpu"), ("loss", "los")],
)  # fmt: skip
def test_a_word_that_only_ends_like_a_plural_keeps_its_own_key(word, other):
    assert number_key(word) == word != number_key(other)


@pytest.mark.parametrize(
    ("word", "acronym"),
    [("pose", "pos"), ("rise", "ris"), ("rose", "ros"), ("dose", "dos"), ("case", "cas"),
     ("sars", "sar"), ("mars", "mar"), ("aids", "aid"), ("pacs", "pac"), ("rmse", "rms")],
)  # fmt: skip
def test_a_word_and_a_shorter_acronym_are_not_one_term(word, acronym):
    # "pose" (human pose) is no form of "POS" (part-of-speech), "rise" none of "RIS"
    # (reconfigurable intelligent surfaces), "SARS" none of "SAR" (radar imagery).
    assert number_key(word) != number_key(acronym)


@pytest.mark.parametrize(("singular", "plural"), [("tie", "ties"), ("lie", "lies")])
def test_a_four_letter_ies_plural_shares_its_singulars_key(singular, plural):
    assert term_key(singular) == term_key(plural)


def test_use_and_us_stay_apart():
    assert number_key("use") != number_key("us")


def test_pos_tagging_papers_are_not_counted_as_pose_papers():
    counts = TermCounts.from_texts(["POS tagging of tweets"] * 3 + ["Human pose estimation"] * 2)
    assert (counts.get("pos"), counts.get("pose")) == (3, 2)


def test_a_three_word_term_is_counted_in_no_paper():
    counts = TermCounts.from_texts(["AI agents for x rays", "An AI agent"])
    assert counts.get("ai agent rays") == 0
    assert term_matrix(["An AI agent rays"]).rows_using("ai agent rays").tolist() == []


def test_cached_counts_show_the_most_used_form_not_the_first_seen():
    counts = TermCounts.from_texts(["An AI agent", "AI agents", "More AI agents"])
    assert "ai agents" in counts.as_dict()
    assert "ai agents" in TermCounts.from_bytes(counts.to_bytes()).as_dict()


def test_a_paper_using_a_term_in_singular_and_plural_counts_once_in_its_most_used_form():
    counts = counts_of(
        [
            paper("2025-05", "Diffusion models beat a diffusion model"),
            paper("2025-05", "Diffusion models"),
            paper("2025-05", "Diffusion models again"),
            paper("2025-05", "A diffusion model"),
        ]
    )
    assert counts.get("diffusion model") == counts.get("diffusion models") == 4
    as_dict = counts.as_dict()
    assert as_dict["diffusion models"] == 4 and "diffusion model" not in as_dict
    assert TermCounts.from_bytes(counts.to_bytes()).as_dict() == as_dict


def test_forms_used_by_as_many_papers_show_the_form_that_sorts_first():
    one_each = counts_of([paper("2025-05", "AI agents"), paper("2025-05", "An AI agent")])
    assert one_each.as_dict()["ai agent"] == 2


def test_term_matrix_finds_the_papers_using_either_form_of_a_term():
    matrix = term_matrix(["An AI agent", "AI agents and an AI agent", "no agent", "AI agents"])
    assert matrix.rows_using("ai agent").tolist() == [0, 1, 3]
    assert matrix.rows_using("ai agents").tolist() == [0, 1, 3]


# --------------------------------------------------------------------------- rising


def test_smoothing_keeps_a_one_to_three_term_below_a_forty_to_120_term():
    before = with_term("2025-04", "alphaterm", 1) + with_term("2025-04", "betaterm", 40)
    before += filler("2025-04", 200 - len(before))
    now = with_term("2025-05", "alphaterm", 3) + with_term("2025-05", "betaterm", 120)
    now += filler("2025-05", 200 - len(now))
    found = rising_terms(counts_of(now), [counts_of(before)], options=TrendOptions(min_support=1))
    order = [r.term for r in found]
    assert order.index("betaterm") < order.index("alphaterm")
    beta = found[order.index("betaterm")]
    assert (beta.support, beta.baseline_support) == (120, 40)
    assert beta.growth == pytest.approx((120 + 10) / (40 + 10))


def test_growth_compares_rates_so_a_bigger_month_alone_is_no_rise():
    before = with_term("2025-04", "steadyterm", 20) + filler("2025-04", 80)
    now = with_term("2025-05", "steadyterm", 40) + filler("2025-05", 160)
    found = rising_terms(counts_of(now), [counts_of(before)], options=TrendOptions(min_support=1))
    assert "steadyterm" not in [r.term for r in found]


def test_terms_below_the_minimum_support_are_not_reported():
    before = filler("2025-04", 100)
    now = with_term("2025-05", "rareterm", 14) + with_term("2025-05", "okterm", 15)
    now += filler("2025-05", 71)
    found = rising_terms(counts_of(now), [counts_of(before)], options=TrendOptions(min_support=15))
    assert [r.term for r in found] == ["okterm"]


def test_a_word_of_a_listed_phrase_is_dropped_but_the_phrase_stays():
    before = filler("2025-04", 100)
    now = with_term("2025-05", "gaussian splatting", 30) + filler("2025-05", 70)
    found = rising_terms(counts_of(now), [counts_of(before)], options=TrendOptions(min_support=5))
    terms = [r.term for r in found]
    assert "gaussian splatting" in terms
    assert "gaussian" not in terms and "splatting" not in terms


def test_a_rising_term_must_stand_in_enough_titles():
    before = filler("2025-04", 100)
    # "accompanied by" grows in abstracts only; "verifiable rewards" also in titles.
    now = with_term("2025-05", "accompanied", 30) + with_term("2025-05", "verifiable rewards", 28)
    now += [paper("2025-05", f"Verifiable rewards {i}", "We look at nothing.") for i in range(3)]
    now += filler("2025-05", 39)
    options = TrendOptions(min_support=5)
    titles = TermCounts.from_texts([p.title for p in now])
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], options=options)]
    assert {"accompanied", "verifiable rewards"} <= set(found)  # without titles: both
    found = rising_terms(counts_of(now), [counts_of(before)], options=options, titles=titles)
    assert [r.term for r in found] == ["verifiable rewards"]


def test_boilerplate_is_never_a_rising_term():
    before = filler("2025-04", 100)
    now = with_term("2025-05", "novel approach", 40) + filler("2025-05", 60)
    found = rising_terms(counts_of(now), [counts_of(before)], options=TrendOptions(min_support=5))
    assert not {"novel approach", "novel", "approach"} & {r.term for r in found}


def test_a_term_counts_the_papers_of_its_singular_and_its_plural_together():
    # 10 papers write "diffusion model", 8 "diffusion models" and 2 both: neither form
    # alone reaches 15 papers, the term does, in both months, shown as most write it.
    before = [paper("2025-04", "A diffusion model"), paper("2025-04", "Two diffusion models")]
    before.append(paper("2025-04", "A diffusion model", "Diffusion models."))
    before += filler("2025-04", 97)
    now = with_term("2025-05", "diffusion model", 10) + with_term("2025-05", "diffusion models", 8)
    now += with_term("2025-05", "diffusion model and diffusion models", 2)
    now += filler("2025-05", 80)
    options = TrendOptions(min_support=15)
    found = {r.term: r for r in rising_terms(counts_of(now), [counts_of(before)], options=options)}
    assert "diffusion models" not in found
    term = found["diffusion model"]
    assert (term.support, term.baseline_support) == (20, 3)


def test_example_papers_find_a_term_written_in_either_form():
    papers = [
        paper("2025-05", "Notes", "One AI agent."),
        paper("2025-05", "Many AI Agents Everywhere", "A study."),
    ]
    assert [e.id for e in example_papers(papers, "ai agent", 2)] == [papers[1].id, papers[0].id]


def test_adverbs_framing_verbs_symbols_and_a_generic_plural_are_never_rising_terms():
    noise = ["mechanistically", "semantically different", "hurts", "matters", "phi", "1st", "v2"]
    noise.append("frameworks")  # "framework" is too generic alone, and so is its plural
    before = filler("2025-04", 300)
    now = [p for term in noise for p in with_term("2025-05", term, 20)]
    now += with_term("2025-05", "okterm", 20) + filler("2025-05", 300 - len(now) - 20)
    found = rising_terms(counts_of(now), [counts_of(before)], options=TrendOptions(min_support=5))
    assert [r.term for r in found] == ["okterm"]


def test_examples_found_by_scanning_texts_match_an_ies_plural():
    papers = [paper("2025-05", "Rigid bodies in contact", "We simulate.")]
    assert [e.id for e in example_papers(papers, "rigid body", 2)] == [papers[0].id]


def test_rising_terms_are_empty_without_a_baseline_month():
    now = with_term("2025-05", "newterm", 30) + filler("2025-05", 70)
    assert rising_terms(counts_of(now), [], options=TrendOptions(min_support=5)) == []


def test_rising_terms_carry_examples_from_the_month():
    before = filler("2025-04", 50)
    now = with_term("2025-05", "graph rewiring", 20) + filler("2025-05", 30)
    titled = paper("2025-05", "Graph Rewiring Everywhere", "A study.")
    now.append(titled)
    found = rising_terms(
        counts_of(now), [counts_of(before)], now, TrendOptions(min_support=5, term_examples=2)
    )
    top = next(r for r in found if r.term == "graph rewiring")
    assert top.examples[0].id == titled.id  # a title match shows the term best
    assert len(top.examples) == 2


# Words around a term that differ from paper to paper, so that it is no fragment of a
# longer phrase.
NEIGHBOURS = [
    "apple",
    "brick",
    "cloud",
    "delta",
    "ember",
    "fjord",
    "grain",
    "harbor",
    "ivory",
    "jungle",
    "kettle",
    "lemon",
    "marble",
    "nectar",
    "orbit",
    "pepper",
    "quartz",
    "river",
    "saddle",
    "timber",
]


def rising_as_written(forms: list[str], term: str, at_start: bool = False) -> RisingTerm:
    """The rising term ``term`` of a month whose papers write it as ``forms`` (one
    paper each), inside a sentence or (``at_start``) opening one."""
    before = various("2025-04", 50)
    now = [
        paper(
            "2025-05",
            f"Notes {i}",
            # The papers share a topic besides the term, as real ones do, and the month's
            # others do not (a word's papers must be more alike than any two).
            f"{form} {NEIGHBOURS[i]} shapes benchmark reports."
            if at_start
            else f"The {NEIGHBOURS[i]} {form} {NEIGHBOURS[-1 - i]} shapes benchmark reports.",
        )
        for i, form in enumerate(forms)
    ]
    now += various("2025-05", 30)
    found = rising_terms(counts_of(now), [counts_of(before)], now, TrendOptions(min_support=5))
    return next(r for r in found if r.term == term)


def various(month: str, n: int) -> list[Paper]:
    """Papers that have little in common."""
    return [
        paper(
            month, f"Other {i}", f"A {NEIGHBOURS[i % 20]} note on {NEIGHBOURS[(i * 7 + 3) % 20]}."
        )
        for i in range(n)
    ]


def test_a_rising_term_is_shown_with_the_capitals_its_papers_write_it_with():
    rising = rising_as_written(["NTIRE"] * 20, "ntire")
    assert rising.label == "NTIRE" and rising.term == "ntire"


def test_a_proper_name_is_shown_with_its_capital_written_inside_sentences():
    assert rising_as_written(["Whisper"] * 20, "whisper").label == "Whisper"


def test_a_rising_term_written_only_at_sentence_starts_loses_that_capital():
    assert rising_as_written(["Empathy"] * 20, "empathy", at_start=True).label == "empathy"


@pytest.mark.parametrize(("form", "term"), [("NTIRE", "ntire"), ("LoRA", "lora")])
def test_an_acronym_written_only_at_sentence_starts_keeps_its_capitals(
    form: str, term: str
) -> None:
    assert rising_as_written([form] * 20, term, at_start=True).label == form


def test_a_rising_phrase_written_only_at_sentence_starts_loses_each_words_capital():
    assert rising_as_written(["Tree Search"] * 20, "tree search", at_start=True).label == (
        "tree search"
    )


def test_a_rising_term_does_not_take_the_capitals_of_a_longer_name_it_stands_in():
    forms = ["Monte Carlo Tree Search"] * 10 + ["tree search"] * 8
    assert rising_as_written(forms, "tree search").label == "tree search"


def test_a_rising_phrase_is_shown_with_the_hyphen_its_papers_write():
    assert rising_as_written(["long-tailed"] * 20, "long tailed").label == "long-tailed"


def test_example_papers_match_whole_terms_only():
    papers = [paper("2025-05", "Transformers", "Not the word transform alone.")]
    assert example_papers(papers, "transform", 2)[0].id == papers[0].id
    assert example_papers(papers, "trans", 2) == ()


# --------------------------------------------------------------------------- categories


def month_counts(month: str, total: int, **counts: int) -> MonthCounts:
    return MonthCounts(month, total, counts, total - sum(counts.values()))


def test_category_trends_compare_shares_with_the_pooled_baselines():
    current = month_counts("2025-06", 100, A=20, B=10)
    base = [month_counts("2025-05", 100, A=10, B=10), month_counts("2025-04", 300, A=30, B=30)]
    rows, none = category_trends(current, base, base, ["A", "B"])
    a = next(r for r in rows if r.name == "A")
    assert a.share == pytest.approx(0.20)
    assert a.share_3 == pytest.approx(40 / 400)
    assert a.change_3 == pytest.approx(0.10)
    assert a.avg_3 == pytest.approx(20)
    assert [r.name for r in rows] == ["A", "B"]  # gaining most first
    assert none.count == 70 and none.share_3 == pytest.approx(320 / 400)


def test_category_trends_gaining_most_on_twelve_months_come_first_when_the_three_are_missing():
    current = month_counts("2026-03", 1000, A=300, B=100)
    rows, _ = category_trends(current, [], [month_counts("2025-06", 1000, A=400, B=20)], ["A", "B"])
    assert [(r.name, round(r.change_12, 3)) for r in rows] == [("B", 0.08), ("A", -0.1)]


def test_category_trends_are_na_without_baseline_months():
    rows, _ = category_trends(month_counts("2025-06", 10, A=5), [], [], ["A"])
    assert rows[0].share_3 is None and rows[0].change_12 is None


def three_months() -> list[Paper]:
    papers = []
    # No category above half a month's papers: the ranker drops terms that common.
    plan = [("2025-04", 8, 8, 9), ("2025-05", 8, 8, 9), ("2025-06", 12, 6, 12)]
    for month, det, seg, other in plan:
        papers += [detection(month, i) for i in range(det)]
        papers += [segmentation(month, i) for i in range(seg)]
        papers += unrelated(month, other)
    return papers


def test_month_category_counts_are_cached_and_reused(monkeypatch):
    store = store_with(three_months())
    first = month_category_counts(store, "2025-04", CATEGORIES, RankConfig())
    assert first.counts == {"Detection": 8, "Segmentation": 8}
    assert first.total == 25 and first.unmatched == 9

    def no_ranking(*args, **kwargs):
        raise AssertionError("ranked again although the cache is valid")

    monkeypatch.setattr(trends, "rank_papers", no_ranking)
    assert month_category_counts(store, "2025-04", CATEGORIES, RankConfig()) == first
    row = store.conn.execute("SELECT value FROM cache WHERE key = 'catcounts:submitted:2025-04'")
    assert json.loads(row.fetchone()[0])["counts"] == first.counts


def test_month_category_counts_are_recomputed_when_the_month_changes():
    store = store_with(three_months())
    month_category_counts(store, "2025-04", CATEGORIES, RankConfig())
    store.upsert_papers([detection("2025-04", 99)])
    again = month_category_counts(store, "2025-04", CATEGORIES, RankConfig())
    assert again.counts["Detection"] == 9


def test_month_category_counts_are_recomputed_when_the_categories_change():
    store = store_with(three_months())
    month_category_counts(store, "2025-04", CATEGORIES, RankConfig())
    only_detection = month_category_counts(store, "2025-04", CATEGORIES[:1], RankConfig())
    assert only_detection.counts == {"Detection": 8}


def test_trends_section_measures_the_month_against_earlier_months():
    store = store_with(three_months())
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    det = next(r for r in section.categories if r.name == "Detection")
    assert (det.count, det.share) == (12, pytest.approx(12 / 30))
    assert det.share_3 == pytest.approx(16 / 50)
    assert det.change_3 == pytest.approx(12 / 30 - 16 / 50)
    assert section.baseline_3.months == ("2025-04", "2025-05")
    assert section.volume.months == ["2025-04", "2025-05", "2025-06"]
    assert section.volume.series["Detection"] == [8, 8, 12]
    assert section.categories[0].name == "Detection"  # gained most


def test_momentum_names_categories_empty_now_and_before_in_one_line_not_as_rows():
    quiet = [
        Category(f"Quiet {n}", "Never used.", [Keyword(f"zqx{n} topic")], threshold=0.05)
        for n in (1, 2)
    ]
    store = store_with(three_months())
    section = build_trends_section(store, CATEGORIES + quiet, RankConfig(), Month(2025, 6))
    text = render_trends_section(section)
    assert "| Detection |" in text
    assert "| Quiet 1 |" not in text and "| Quiet 2 |" not in text
    assert "No papers this month or in the months before: Quiet 1, Quiet 2." in text
    assert {"Quiet 1", "Quiet 2"} <= {t.name for t in section.categories}  # data kept


def test_trend_report_names_categories_empty_over_the_range_in_one_line_not_as_rows():
    quiet = [Category("Quiet 1", "Never used.", [Keyword("zqx1 topic")], threshold=0.05)]
    store = store_with(three_months())
    report = build_trend_report(
        store, CATEGORIES + quiet, RankConfig(), Month(2025, 4), Month(2025, 6)
    )
    text = render_trend_report(report)
    assert "| Quiet 1 |" not in text
    assert "No papers in any of these months: Quiet 1." in text
    assert "| _No category_ |" in text


def test_trends_section_leaves_partial_months_out_and_says_so():
    papers = three_months() + [detection("2025-03", 0), segmentation("2025-03", 0)]
    store = store_with(papers)
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    assert section.baseline_3.months == ("2025-04", "2025-05")
    assert "2025-03" not in section.volume.months
    assert any("2025-03 (2 papers)" not in n and "stray" in n for n in section.notes)


def test_first_month_in_the_store_renders_na_baselines():
    store = store_with(three_months())
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 4))
    text = render_trends_section(section)
    assert "| Detection | 8 | 32.0% | n/a | n/a |" in text
    assert "n/a: none of the 3 months before 2025-04 is in the store in full" in text
    assert "```mermaid" not in text  # one month is no chart


def test_momentum_shows_one_comparison_while_both_baselines_are_the_same_months():
    store = store_with(three_months())
    text = render_trends_section(
        build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    )
    assert "| Category | Papers | Share | Share before | Change |" in text
    assert "| Detection | 12 | 40.0% | 32.0% | ▲ +8.0 pp |" in text
    assert "12-month share" not in text


def test_momentum_shows_3_and_12_month_columns_once_they_differ():
    papers = three_months()
    papers += [detection("2025-01", i) for i in range(2)] + unrelated("2025-01", 23)
    store = store_with(papers)
    text = render_trends_section(
        build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    )
    assert (
        "| Category | Papers | Share | 3-month share | Change | 12-month share | Change |" in text
    )
    # 3 months: 16 of 50 papers were Detection; 12 months: 18 of 75.
    assert "| Detection | 12 | 40.0% | 32.0% | ▲ +8.0 pp | 24.0% | ▲ +16.0 pp |" in text


def test_rendered_section_has_the_table_chart_terms_and_topics():
    store = store_with(three_months())
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    text = render_trends_section(section, heading_level=2)
    for heading in ("## Research trends", "### Category momentum", "### Papers per category",
                    "### Rising terms", "### Emerging topics"):  # fmt: skip
        assert f"\n{heading}\n" in f"\n{text}"
    assert "| Detection | 12 | 40.0% | 32.0% | ▲ +8.0 pp |" in text
    assert "| Segmentation | 6 | 20.0% | 32.0% | ▼ −12.0 pp |" in text
    assert '    line "Detection" [8, 8, 12]' in text
    assert "### Top picks" not in text  # the digest lists them itself


def test_rendered_section_can_show_a_png_instead_of_mermaid():
    store = store_with(three_months())
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    text = render_trends_section(section, chart="png", png_src="cid:trends")
    assert "```mermaid" not in text
    assert "](cid:trends)" in text


def test_trend_report_covers_the_range_and_names_months_the_store_lacks():
    store = store_with(three_months())
    report = build_trend_report(store, CATEGORIES, RankConfig(), Month(2025, 3), Month(2025, 6))
    assert report.months == ["2025-04", "2025-05", "2025-06"]
    assert report.missing == ["2025-03"]
    detection_row = next(r for r in report.rows if r.name == "Detection")
    assert detection_row.counts == (8, 8, 12)
    assert detection_row.change == pytest.approx(12 / 30 - 8 / 25)
    text = render_trend_report(report)
    assert text.startswith("# Research trends: March, 2025 to June, 2025\n")
    assert "The store holds no papers for 2025-03." in text
    assert "| Detection | 8 (32.0%) | 8 (32.0%) | 12 (40.0%) | ▲ +8.0 pp |" in text
    assert "\n## June, 2025\n" in text and "### Top picks" in text


def test_a_written_trend_report_has_its_png_chart_beside_it_and_no_temp_file(tmp_path):
    store = store_with(three_months())
    report = build_trend_report(store, CATEGORIES, RankConfig(), Month(2025, 4), Month(2025, 6))
    path = tmp_path / "trends.md"
    assert trends.write_trend_report(report, path) == [path, tmp_path / "trends.png"]
    assert "](trends.png)" in path.read_text() and "```mermaid" in path.read_text()
    assert (tmp_path / "trends.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trends.md", "trends.png"]


def test_a_trend_report_written_without_matplotlib_carries_its_mermaid_chart_only(
    tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    store = store_with(three_months())
    report = build_trend_report(store, CATEGORIES, RankConfig(), Month(2025, 4), Month(2025, 6))
    path = tmp_path / "trends.md"
    assert trends.write_trend_report(report, path) == [path]
    assert "```mermaid" in path.read_text() and ".png" not in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["trends.md"]


def test_a_digest_chart_over_a_gap_in_the_store_names_the_months_it_leaves_out():
    store = store_with([p for p in three_months() if not p.id.startswith("2505")])
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    assert section.volume.months == ["2025-04", "2025-06"]
    text = render_trends_section(section)
    assert "\nNot in the chart (the store holds none or only part of them): 2025-05.\n" in text


def test_emerging_topics_say_too_few_when_withdrawn_papers_leave_too_few_to_look_into():
    store = store_with(three_months())
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    section = dataclasses.replace(section, unmatched=35, clustered=29, emerging=[])
    text = render_trends_section(section)
    assert (
        "Only 29 papers (withdrawn ones aside) matched no category: too few to look for new "
        "topics." in text
    )


def test_trend_report_rejects_a_reversed_range():
    store = store_with(three_months())
    with pytest.raises(InputError, match="after"):
        build_trend_report(store, CATEGORIES, RankConfig(), Month(2025, 6), Month(2025, 4))


def test_section_json_is_plain_data_with_the_table_and_series():
    store = store_with(three_months())
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    data = json.loads(json.dumps(trends.section_to_json(section)))
    assert data["month"] == "2025-06" and data["papers"] == 30
    assert data["categories"][0] == {
        "name": "Detection",
        "count": 12,
        "share": 0.4,
        "share_3": 0.32,
        "change_3": 0.08,
        "share_12": 0.32,
        "change_12": 0.08,
    }
    assert data["categories"][-1]["name"] == "No category"
    assert data["volume"]["series"]["Detection"] == [8, 8, 12]


# --------------------------------------------------------------------------- emerging

TOPIC_SENTENCES = {
    "quantum": [
        "Quantum annealing solves the scheduling problem on a quantum annealer.",
        "We embed the problem into qubits of a quantum annealer.",
        "Quantum annealing schedules converge with fewer qubits.",
        "Our qubit embedding lowers the energy of quantum annealing.",
    ],
    "protein": [
        "Protein folding predicts the structure of amino acid chains.",
        "We model protein folding with residue contact maps.",
        "Amino acid residues guide protein folding predictions.",
        "Contact maps of residues improve protein folding accuracy.",
    ],
}


def topic_papers(month: str, per_topic: int = 25, seed: int = 3) -> list[Paper]:
    rng = random.Random(seed)
    papers = []
    for topic, sentences in TOPIC_SENTENCES.items():
        for i in range(per_topic):
            picked = rng.sample(sentences, 3)
            papers.append(paper(month, f"{topic.title()} study {i}", " ".join(picked)))
    return papers


def test_emerging_topics_separate_two_clear_clusters():
    papers = topic_papers("2025-05")
    topics = emerging_topics(papers, "2025-05", TrendOptions(min_unmatched=30))
    assert len(topics) == 2
    by_lead = {("quantum" if "quantum" in " ".join(t.terms) else "protein"): t for t in topics}
    assert set(by_lead) == {"quantum", "protein"}
    quantum_ids = {p.id for p in papers if p.title.startswith("Quantum")}
    assert set(by_lead["quantum"].paper_ids) == quantum_ids
    assert by_lead["quantum"].size == 25


def test_a_pile_of_papers_without_a_shared_subject_is_no_topic():
    rng = random.Random(5)
    vocabulary = [f"{a}{b}" for a in ("zor", "mel", "tak", "quil", "vesp") for b in "abcdefghij"]
    pile = [
        paper("2025-05", f"Miscellany {i}", " ".join(rng.sample(vocabulary, 12)) + ".")
        for i in range(60)
    ]
    papers = topic_papers("2025-05") + pile
    topics = emerging_topics(papers, "2025-05", TrendOptions(min_unmatched=30, max_topics=6))
    pile_ids = {p.id for p in pile}
    assert topics, "the two real topics are still found"
    for topic in topics:
        assert len(set(topic.paper_ids) & pile_ids) < 0.5 * topic.size, topic.name


def test_topic_terms_do_not_repeat_a_word_of_a_listed_phrase_in_its_plural():
    ranked = [("multi agent", 3.0), ("agents", 2.0), ("upper bound", 1.5), ("bounds", 1.0)]
    ranked.append(("game", 0.5))
    assert trends._distinct_terms(ranked, 6) == ["multi agent", "upper bound", "game"]


def test_topic_terms_keep_the_phrase_for_a_plural_word_when_the_list_fills():
    ranked = [("agents", 3.0), ("game", 2.0), ("multi agent", 1.6)]
    assert trends._distinct_terms(ranked, 2) == ["multi agent", "game"]


def test_emerging_topic_terms_include_no_adverb():
    papers = [
        paper("2025-05", f"Experimentally {p.title}", f"{p.abstract} Experimentally.")
        if p.title.startswith("Quantum") else p
        for p in topic_papers("2025-05")
    ]  # fmt: skip
    topics = emerging_topics(papers, "2025-05", TrendOptions(min_unmatched=30))
    assert topics
    for topic in topics:
        assert not [t for t in (*topic.terms, *topic.also) if "experimentally" in t]


def test_topic_names_do_not_repeat_a_word_or_its_plural():
    assert trends._name_terms(
        ["retrieval augmented", "augmented generation", "rag", "images", "image", "knowledge"]
    ) == ["retrieval augmented", "rag", "images"]
    assert trends._stem("fine tuned") == trends._stem("fine tuning")
    assert trends._stem("modalities") == trends._stem("modality")
    assert trends._stem("biases") == trends._stem("bias")


def test_emerging_topics_are_deterministic():
    papers = topic_papers("2025-05")
    options = TrendOptions(min_unmatched=30)
    assert emerging_topics(papers, "2025-05", options) == emerging_topics(
        papers, "2025-05", options
    )


def test_emerging_topic_toml_is_a_loadable_category_with_its_examples():
    topics = emerging_topics(topic_papers("2025-05"), "2025-05", TrendOptions(min_unmatched=30))
    for topic in topics:
        (category,) = loads_categories(topic.toml)
        assert category.name == topic.name
        assert [k.term for k in category.keywords] == list(topic.terms)
        assert [p.id for p in category.papers] == [e.id for e in topic.examples]


def test_withdrawn_papers_match_no_category_but_feed_no_emerging_topic():
    kept = paper("2025-05", "Quantum circuits", "Qubits on a chip.")
    withdrawn = paper("2025-05", "Quantum error mitigation", "This paper has been withdrawn.")
    ranking = Ranking(considered=2, by_category={}, unmatched=2)
    assert unmatched_papers([kept, withdrawn], ranking) == [kept]


def test_emerging_topics_need_enough_unmatched_papers():
    assert emerging_topics(topic_papers("2025-05", per_topic=5), "2025-05") == []


# --------------------------------------------------------------------------- picks


def ranked(category: str, score: float, title: str, abstract: str = "") -> RankedPaper:
    return RankedPaper(paper("2025-05", title, abstract), category, score)


def ranking_of(*lists: list[RankedPaper]) -> Ranking:
    by_category = {rps[0].category: rps for rps in lists}
    considered = sum(len(rps) for rps in lists)
    return Ranking(considered=considered, by_category=by_category, unmatched=0)


def test_top_picks_take_at_most_the_cap_per_category_round_robin():
    big = [ranked("Big", 0.9 - i / 100, f"Big topic paper {w}") for i, w in
           enumerate(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"])]  # fmt: skip
    small = [ranked("Small", 0.5, "Small topic gamma"), ranked("Small", 0.4, "Small topic omega")]
    picks = top_picks(ranking_of(big, small), limit=5, per_category=2)
    assert [rp.category for rp in picks] == ["Big", "Small", "Big", "Small"]


def test_top_picks_skip_a_near_duplicate_of_an_earlier_pick():
    text = "Sparse mixture of experts routing for efficient language model inference at scale"
    first = ranked("A", 0.9, "Sparse Experts Routing", text)
    twin = ranked("A", 0.8, "Sparse Experts Routing (v2)", text)
    other = ranked("A", 0.7, "Protein folding with contact maps", "Residues and amino acids.")
    picks = top_picks(ranking_of([first, twin, other]), limit=2, per_category=3)
    assert [rp.paper.id for rp in picks] == [first.paper.id, other.paper.id]


def test_top_picks_of_papers_made_only_of_stop_words_are_picked_without_comparing():
    lists = [[ranked("Systems", 0.9, "System"), ranked("Systems", 0.8, "The system")]]
    picks = top_picks(ranking_of(*lists), limit=10)
    assert [rp.paper.title for rp in picks] == ["System", "The system"]


def test_top_picks_are_deterministic():
    words = iter(
        ["amber", "basil", "cedar", "delta", "ember", "fjord"]
        + ["grove", "heron", "iris", "jade", "kelp", "lotus"]
    )
    lists = [
        [ranked(c, 0.9 - i / 10, f"Paper on {next(words)}") for i in range(4)]
        for c in ("A", "B", "C")
    ]
    ranking = ranking_of(*lists)
    assert top_picks(ranking, limit=10) == top_picks(ranking, limit=10)
    assert len(top_picks(ranking, limit=10, per_category=3)) == 9


# --------------------------------------------------------------------------- real data

REAL_CATEGORIES = """
[[category]]
name = "Object Detection"
description = "Detecting and localising objects in images and video with bounding boxes."
keywords = [{ term = "object detection", weight = 3.0 }, "detector", "bounding box", "detection"]
threshold = 0.08

[[category]]
name = "Segmentation"
description = "Semantic, instance and panoptic segmentation; pixel-level masks."
keywords = [{ term = "semantic segmentation", weight = 3.0 }, "instance segmentation", "mask"]
threshold = 0.08

[[category]]
name = "Self-supervised Learning"
description = "Learning representations without labels: contrastive learning, masked modeling."
keywords = [{ term = "self-supervised", weight = 3.0 }, "contrastive learning", "pretext task"]
threshold = 0.08

[[category]]
name = "Knowledge Distillation"
description = "Transferring knowledge from a teacher model to a smaller student model."
keywords = [{ term = "knowledge distillation", weight = 3.0 }, "teacher", "student"]
threshold = 0.08

[[category]]
name = "Medical Imaging"
description = "Medical image analysis: registration, MRI, CT, segmentation of organs and lesions."
keywords = [{ term = "medical image", weight = 3.0 }, "mri", "ct", "registration", "clinical"]
threshold = 0.08

[[category]]
name = "Image Generation"
description = "Diffusion models and GANs for image synthesis, editing and text-to-image."
keywords = [{ term = "diffusion models", weight = 3.0 }, "text-to-image", "image generation"]
threshold = 0.08
"""

# Independent of trenddigest's tokenizer: a phrase never spans these characters.
_BREAKS = re.compile(r"[.,;:!?()\[\]{}\"]")
_NOT_WORDS = (
    ENGLISH_STOP_WORDS
    | {"https", "http", "www", "com", "org", "io", "html"}
    | {"don", "doesn", "didn", "isn", "aren", "wasn", "weren", "won", "wouldn", "shouldn"}
    | {"couldn", "haven", "hasn", "hadn", "ll", "ve", "re"}
)


def recount_terms(text: str) -> set[str]:
    """Words (2+ chars, not stop words or numbers) and adjacent pairs, written anew.

    A pair joined by a hyphen counts; a pair of words next to each other counts unless
    the first ends a hyphenated compound or the second starts one (other than a
    modifier compound such as "model-based")."""
    found: set[str] = set()
    for fragment in _BREAKS.split(text.lower()):
        # Words with the text between each and the next.
        words = [(m.group(), m.end()) for m in re.finditer(r"\w+", fragment)]
        glue = [
            fragment[end : words[i + 1][1] - len(words[i + 1][0])] if i + 1 < len(words) else ""
            for i, (_, end) in enumerate(words)
        ]
        hyphen = [bool(re.fullmatch(r"-+", g)) for g in glue]  # joined to the next word
        for i, (word, _) in enumerate(words):
            if not (len(word) > 1 and word not in _NOT_WORDS and word.strip("_0123456789")):
                continue
            found.add(word)
            if i == 0:
                continue
            before, _ = words[i - 1]
            if not (len(before) > 1 and before not in _NOT_WORDS and before.strip("_0123456789")):
                continue
            if hyphen[i - 1]:
                found.add(f"{before} {word}")
                continue
            ends_compound = i >= 2 and hyphen[i - 2]
            starts_compound = hyphen[i] and words[i + 1][0] not in MODIFIERS
            if not (ends_compound or starts_compound):
                found.add(f"{before} {word}")
    return found


def read_real_papers(shared: Path) -> list[Paper]:
    path = shared / "data/arxiv/daily-arxiv-ai-enhanced/derived"
    papers = []
    with gzip.open(path / "papers_2025-04_to_2025-07.derived.jsonl.gz", "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            papers.append(
                Paper(
                    id=rec["id"],
                    title=rec["title"],
                    abstract=rec["abstract"],
                    authors=rec["authors"],
                    categories=rec["categories"],
                    primary_category=rec["primary_category"],
                )
            )
    return papers


@pytest.fixture(scope="module")
def real(shared_dir, tmp_path_factory):
    """A store of the 2025 sample and its trend report for 2025-04..07 (built once)."""
    store = Store.open(tmp_path_factory.mktemp("trends") / "store.sqlite3")
    store.upsert_papers(read_real_papers(shared_dir))
    categories = loads_categories(REAL_CATEGORIES)
    report = build_trend_report(store, categories, RankConfig(), Month(2025, 4), Month(2025, 7))
    sections = {str(s.month): s for s in report.sections}
    yield {
        "store": store,
        "categories": categories,
        "report": report,
        "sections": sections,
        "june": store.papers_for_month("2025-06"),
        "june_ranking": sections["2025-06"].ranking,
    }
    store.close()


def month_terms(store: Store, month: str) -> list[set[str]]:
    return [recount_terms(f"{p.title}. {p.abstract}") for p in store.papers_for_month(month)]


@pytest.mark.shared
def test_real_report_covers_the_four_months(real):
    assert [str(s.month) for s in real["report"].sections] == [
        "2025-04", "2025-05", "2025-06", "2025-07",
    ]  # fmt: skip
    text = render_trend_report(real["report"])
    for label in ("April, 2025", "May, 2025", "June, 2025", "July, 2025"):
        assert f"\n## {label}\n" in text
    assert '    x-axis ["2025-04", "2025-05", "2025-06", "2025-07"]' in text


@pytest.mark.shared
def test_real_rising_terms_match_an_independent_recount_and_growth_order(real):
    store, june = real["store"], real["sections"]["2025-06"]
    assert june.term_baseline.months == ("2025-04", "2025-05")
    now = month_terms(store, "2025-06")
    before = month_terms(store, "2025-04") + month_terms(store, "2025-05")
    assert june.rising, "expected rising terms in June 2025"

    def keyed(docs: list[set[str]]) -> list[set[str]]:
        """Each paper's terms, a singular and its plural as one (their term_key)."""
        return [{term_key(term) for term in doc} for doc in docs]

    def tally(docs: list[set[str]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for doc in docs:
            for term in doc:
                counts[term] = counts.get(term, 0) + 1
        return counts

    now_keys = keyed(now)
    support, base_support, forms = tally(now_keys), tally(keyed(before)), tally(now)

    def df(counts: dict[str, int], term: str) -> int:
        return counts.get(term_key(term), 0)

    def growth(support: int, base: int) -> float:
        expected = base * len(now) / len(before)
        return (support + 10) / (expected + 10)

    form_of: dict[str, list[str]] = {}  # the forms of every term in 15 papers or more
    for term in sorted(forms):
        if support[term_key(term)] >= 15:
            form_of.setdefault(term_key(term), []).append(term)
    for r in june.rising:
        assert r.support == df(support, r.term) >= 15, r.term
        assert r.baseline_support == df(base_support, r.term), r.term
        assert (r.papers, r.baseline_papers) == (len(now), len(before))
        assert r.growth == pytest.approx(growth(r.support, r.baseline_support))
        # Shown in the form most of its papers use; of forms used as much, the first.
        assert r.term == min(form_of[term_key(r.term)], key=lambda t: (-forms[t], t)), r.term
        for example in r.examples:
            doc = next(p for p in real["june"] if p.id == example.id)
            found = keyed([recount_terms(f"{doc.title}. {doc.abstract}")])[0]
            assert term_key(r.term) in found, r.term
    growths = [r.growth for r in june.rising]
    assert growths == sorted(growths, reverse=True)
    # Every listed term stands in the titles of at least 2 papers and 1 in 12 of its papers.
    titles = tally(keyed([recount_terms(p.title) for p in real["june"]]))
    for r in june.rising:
        assert df(titles, r.term) >= max(2, r.support / 12), r.term
    # No unreported term with the support grew faster than the last one listed, unless it
    # is a word of a listed phrase or another form of a listed term (stems alike),
    # boilerplate, hardly ever in a title, or, by the report's own rules, a piece of a
    # longer phrase or compound, a word whose papers share nothing else, or a term with
    # half its papers or more in one listed term that grew faster, a third or more of
    # that term's papers (a repeat of it).
    listed = {trends._stem(r.term) for r in june.rising}
    words_of_phrases = {w for t in listed for w in t.split(" ") if " " in t}
    floor = min(growths)
    papers, options = real["june"], trends.DEFAULT_OPTIONS
    matrix = trends.month_terms(papers)
    cohesion = trends._Cohesion(matrix)
    papers_of = {
        r.term: {i for i, doc in enumerate(now_keys) if term_key(r.term) in doc}
        for r in june.rising
    }
    for key, (term, *_) in form_of.items():
        n, stem = support[key], trends._stem(term)
        if stem in listed or stem in words_of_phrases or not trends._names_a_topic(term):
            continue
        if (
            titles.get(key, 0) < max(2, n / 12)
            or growth(n, base_support.get(key, 0)) <= floor + 1e-9
        ):
            continue
        rows = matrix.rows_using(term)
        assert rows.tolist() == [i for i, doc in enumerate(now_keys) if key in doc], term
        using = [papers[i] for i in rows]
        mine, rank = set(rows.tolist()), (-growth(n, base_support.get(key, 0)), -n, term)
        repeated = any(
            (-r.growth, -r.support, r.term) < rank
            and len(mine & papers_of[r.term]) >= options.repeat_share * n
            and len(mine & papers_of[r.term]) >= options.repeat_cover * len(papers_of[r.term])
            for r in june.rising
        )
        assert (
            trends._is_fragment(using, term, options.fragment_share)
            or cohesion.of(rows, term) < options.min_cohesion
            or repeated
        ), term


@pytest.mark.shared
def test_real_repeats_give_way_while_topics_that_meet_stay(real):
    # 2025-05's 40 fastest risers: "rl" (90% of its papers say "reinforcement
    # learning"), "asr" (64% say "speech recognition") repeat a term above them;
    # "reasoning chains" (42% in reinforcement learning papers) is a topic of its own.
    store = real["store"]
    papers = store.papers_for_month("2025-05")
    found = rising_terms(
        trends.month_term_counts(store, "2025-05"),
        [trends.month_term_counts(store, "2025-04")],
        papers,
        TrendOptions(max_terms=40),
        titles=TermCounts.from_texts([p.title for p in papers]),
    )
    terms = [r.term for r in found]
    assert {"reinforcement learning", "speech recognition", "reasoning chains"} <= set(terms)
    assert not {"rl", "asr"} & set(terms)


@pytest.mark.shared
def test_real_phrase_ranked_past_the_end_of_the_list_replaces_its_listed_word(real):
    # 2025-07: "loop" (120 papers, x1.77) came 6th and "closed loop" (32, x1.72) just
    # past the 10th; the phrase is listed, last, where its growth puts it.
    rising = real["sections"]["2025-07"].rising
    terms = [r.term for r in rising]
    assert "loop" not in terms
    assert terms[-1] == "closed loop" and len(terms) == 10
    growths = [r.growth for r in rising]
    assert growths == sorted(growths, reverse=True)


@pytest.mark.shared
def test_real_emerging_topics_are_unmatched_papers_that_share_their_terms(real):
    june = real["sections"]["2025-06"]
    ranking = real["june_ranking"]
    placed = {rp.paper.id for rp in ranking.all_ranked()}
    texts = {p.id: recount_terms(f"{p.title}. {p.abstract}") for p in real["june"]}
    assert june.unmatched == len(texts) - len(placed)
    assert june.emerging, "expected emerging topics among June's unmatched papers"
    seen: set[str] = set()
    for topic in june.emerging:
        members = set(topic.paper_ids)
        assert not members & placed and not members & seen
        seen |= members
        assert topic.size == len(members) >= 10
        for term, count in topic.term_support.items():
            assert count == sum(term in texts[i] for i in members), term
        covered = sum(any(t in texts[i] for t in topic.terms[:3]) for i in members)
        assert covered >= 0.5 * len(members)
        (category,) = loads_categories(topic.toml)
        assert {p.id for p in category.papers} <= members


@pytest.mark.shared
def test_real_baselines_pool_the_counts_of_the_earlier_months(real):
    sections = real["sections"]
    july = sections["2025-07"]
    earlier = [sections[m] for m in ("2025-04", "2025-05", "2025-06")]
    total = sum(s.papers for s in earlier)
    for row in july.categories:
        count = sum(next(r.count for r in s.categories if r.name == row.name) for s in earlier)
        assert row.share_3 == pytest.approx(count / total), row.name
    june_counts = {n: len(rps) for n, rps in real["june_ranking"].by_category.items()}
    assert {r.name: r.count for r in sections["2025-06"].categories} == june_counts


@pytest.mark.shared
def test_real_top_picks_are_diverse_and_not_near_duplicates(real):
    picks = real["sections"]["2025-06"].top_picks
    assert len(picks) == 10
    per_category: dict[str, int] = {}
    for rp in picks:
        per_category[rp.category] = per_category.get(rp.category, 0) + 1
    assert max(per_category.values()) <= 3
    vectors = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(
        [f"{rp.paper.title}. {rp.paper.abstract}" for rp in picks]
    )
    sims = (vectors @ vectors.T).toarray()
    for i in range(len(picks)):
        sims[i, i] = 0
    assert sims.max() <= 0.8


@pytest.mark.shared
def test_real_trends_for_a_month_come_from_the_caches_once_built(real, monkeypatch):
    """Earlier months are neither ranked nor counted again: their counts are cached."""

    def must_not_run(*args, **kwargs):
        raise AssertionError("recomputed what the cache holds")

    monkeypatch.setattr(trends, "rank_papers", must_not_run)
    monkeypatch.setattr(trends, "emerging_topics", must_not_run)
    counted: list[int] = []
    real_month_terms = trends.month_terms
    monkeypatch.setattr(
        trends,
        "month_terms",
        lambda papers: counted.append(len(papers)) or real_month_terms(papers),
    )
    section = build_trends_section(
        real["store"], real["categories"], RankConfig(), Month(2025, 6),
        ranking=real["june_ranking"], papers=real["june"],
    )  # fmt: skip
    # Counts and topics cached: only June's term matrix is built, which the rising
    # terms' cohesion compares their papers in; no earlier month is counted again.
    assert counted == [len(real["june"])]
    assert section.rising == real["sections"]["2025-06"].rising
    assert section.emerging == real["sections"]["2025-06"].emerging


def test_candidate_entry_with_case_only_duplicate_terms_loads_back() -> None:
    from trenddigest.categories import category_to_toml, loads_categories
    from trenddigest.trends import _candidate_category

    cat = _candidate_category(
        "RAG", ["RAG", "rag", "retrieval"], [3.0, 2.0, 1.0], [], 30, "2025-06", named=1, covered=30
    )
    assert [k.term for k in loads_categories(category_to_toml(cat))[0].keywords] == [
        "RAG",
        "retrieval",
    ]


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        (0.0, "±0.0 pp"),
        (0.0004, "▲ <0.1 pp"),
        (-0.0004, "▼ <0.1 pp"),
        (0.012, "▲ +1.2 pp"),
        (-0.012, "▼ −1.2 pp"),
    ],
)
def test_a_change_of_share_too_small_to_show_still_says_its_direction(change, shown):
    from trenddigest.trends import _pp

    assert _pp(change) == shown


# --------------------------------------------------------------------------- read as a reader


def section_with(**changes: object) -> trends.TrendsSection:
    """The 2025-06 section of :func:`three_months`, with some fields replaced."""
    import dataclasses

    store = store_with(three_months())
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    return dataclasses.replace(section, **changes)


def test_a_change_of_share_agrees_with_the_two_shares_shown_beside_it():
    from trenddigest.trends import _pp_between

    # 92 of 7,124 papers (1.29%) against 1.05%: shown as 1.3% and 1.0%, so +0.3, not +0.2.
    assert _pp_between(0.012914, 0.010493) == "▲ +0.3 pp"
    # 0.97% against 1.04%: both shown as 1.0%, so no visible change, only its direction.
    assert _pp_between(0.0097, 0.01039) == "▼ <0.1 pp"
    assert _pp_between(0.05, 0.05) == "±0.0 pp"
    assert _pp_between(0.05, None) == "n/a"


def test_momentum_rows_show_a_change_that_adds_up_with_their_shares():
    row = trends.CategoryTrend("Training", 92, 0.012914, 0.010493, 0.010493)
    text = render_trends_section(section_with(categories=[row]))
    assert "| Training | 92 | 1.3% | 1.0% | ▲ +0.3 pp |" in text


def test_momentum_rows_are_ordered_by_the_change_they_show():
    # A gains 0.26 points (1.34% from 1.08%: shown 1.3% and 1.1%, +0.2), B 0.24 points
    # (1.26% from 1.02%: shown 1.3% and 1.0%, +0.3): B is listed first.
    current = month_counts("2025-06", 10_000, A=134, B=126)
    base = [month_counts("2025-05", 10_000, A=108, B=102)]
    rows, _ = category_trends(current, base, base, ["A", "B"])
    assert [r.name for r in rows] == ["B", "A"]


def test_report_change_agrees_with_the_first_and_last_shares_shown():
    report_row = trends.ReportRow("A", (2, 81), (0.0047, 0.0114))
    assert report_row.change == pytest.approx(0.0114 - 0.0047)
    store = store_with(three_months())
    report = build_trend_report(store, CATEGORIES, RankConfig(), Month(2025, 4), Month(2025, 6))
    report.rows = [trends.ReportRow("A", (2, 80, 81), (0.0047, 0.0125, 0.0114)), *report.rows]
    assert "| A | 2 (0.5%) | 80 (1.2%) | 81 (1.1%) | ▲ +0.6 pp |" in render_trend_report(report)


def partial_first_month() -> list[Paper]:
    """:func:`three_months` and two papers of March: a month the store holds a sliver of."""
    return three_months() + [detection("2025-03", 0), segmentation("2025-03", 0)]


def test_trend_report_measures_change_between_full_months_only():
    store = store_with(partial_first_month())
    report = build_trend_report(store, CATEGORIES, RankConfig(), Month(2025, 3), Month(2025, 6))
    assert report.months == ["2025-03", "2025-04", "2025-05", "2025-06"]
    assert report.partial == ["2025-03"]
    detection_row = next(r for r in report.rows if r.name == "Detection")
    assert detection_row.counts == (1, 8, 8, 12)
    assert detection_row.change == pytest.approx(12 / 30 - 8 / 25)  # not 12/30 - 1/2


def test_trend_report_chart_leaves_a_partial_month_out_and_is_titled_by_its_months():
    store = store_with(partial_first_month())
    report = build_trend_report(store, CATEGORIES, RankConfig(), Month(2025, 3), Month(2025, 7))
    assert report.volume.months == ["2025-04", "2025-05", "2025-06"]
    assert report.chart_title == "Papers per category, 2025-04 to 2025-06"


def test_trend_report_says_which_months_are_partial_and_what_the_change_compares():
    store = store_with(partial_first_month())
    report = build_trend_report(store, CATEGORIES, RankConfig(), Month(2025, 3), Month(2025, 6))
    text = render_trend_report(report)
    assert "the change compares 2025-06's share with 2025-04's" in text
    assert (
        "2025-03 (2 papers) holds under 25% of the papers of the range's busiest month: "
        "it is likely partial, so the change and the chart leave it out." in text
    )
    march = text[text.index("\n## March, 2025\n") :]
    assert "2025-03 has only 2 papers" in march


def test_email_trends_carry_the_candidate_toml_without_raw_html():
    # The email renders the digest's Markdown with raw HTML shown as text, so a
    # <details> block would reach the reader as "<details><summary>…" literally.
    store = store_with(three_months() + topic_papers("2025-06"))
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    assert section.emerging
    for_email = render_trends_section(section, chart="none")
    assert "<details>" not in for_email and "</summary>" not in for_email
    assert "Add it to the categories file:\n\n```toml\n[[category]]" in for_email
    for_github = render_trends_section(section)
    assert "<details><summary>Add it to the categories file</summary>" in for_github


def test_emerging_topics_do_not_claim_growth_when_no_lead_term_grew():
    import dataclasses

    store = store_with(three_months() + topic_papers("2025-06"))
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    shrinking = [dataclasses.replace(t, growth=0.9) for t in section.emerging]
    text = render_trends_section(dataclasses.replace(section, emerging=shrinking))
    assert "fastest growing first" not in text
    assert "ordered by the growth of their lead term" in text
    assert "None of their lead terms grew against the months before.\n\n**1. " in text


def test_na_baselines_do_not_deny_the_partial_months_the_store_holds():
    store = store_with(partial_first_month())
    text = render_trends_section(
        build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 4))
    )
    assert "is in the store)" not in text and "the store holds no earlier month" not in text
    assert "Months before: n/a (none of the previous 3 months is in the store in full)." in text
    assert "n/a: none of the 3 months before 2025-04 is in the store in full" in text


def test_topic_names_read_as_headings_whatever_case_the_papers_use():
    # "Codes / upper bound / Linear" and "f1 score / Zero-Shot" mixed cases in one name.
    assert trends._name_form("upper bound", ["A new upper bound for codes"], []) == "Upper Bound"
    assert trends._name_form("f1 score", ["Raising the f1 score"], []) == "F1 Score"
    assert trends._name_form("llms", ["LLMs as judges", "Small LLMs"], []) == "LLMs"
    assert trends._name_form("multi agent", ["x"], ["Many multi-agent systems."]) == "Multi-Agent"


def test_a_topic_name_is_written_as_the_papers_write_the_word_not_as_their_links_do():
    abstracts = [
        "Code: https://github.com/lab/a.",
        "See github.com/lab/b for code.",
        "Code at www.github.com/lab/c.",
        "We mine GitHub issues at scale.",
    ]
    assert trends._name_form("github", ["x"], abstracts) == "GitHub"


def test_emerging_topic_names_are_capitalised_even_when_no_title_uses_their_terms():
    topics = emerging_topics(topic_papers("2025-05"), "2025-05", TrendOptions(min_unmatched=30))
    for topic in topics:
        for part in topic.name.split(" / "):
            assert part[:1].isupper() or not part[:1].isalpha(), topic.name
        assert loads_categories(topic.toml)[0].name == topic.name


def test_a_candidate_category_says_how_many_of_its_papers_use_its_name_terms():
    # "157 papers ... share the terms user, multi turn, dialogue" read as if every
    # paper used them all, while 22 used none of them: the count is now stated.
    papers = topic_papers("2025-05")
    by_id = {p.id: p for p in papers}
    for topic in emerging_topics(papers, "2025-05", TrendOptions(min_unmatched=30)):
        (category,) = loads_categories(topic.toml)
        named = topic.terms[: topic.named]
        using = sum(
            1 for pid in topic.paper_ids if document_terms(paper_text(by_id[pid])) & set(named)
        )
        listed = ", ".join(named[:-1]) + " or " + named[-1]
        assert category.description == (
            f"Candidate topic found in 2025-05: {topic.size} papers that matched no category, "
            f"{using} of them using {listed}. Review the name and keywords before use."
        )


# T3: build_trends_section records how many unmatched papers the emerging topics were
# looked for in (withdrawn ones aside), and the section says so.
def test_the_emerging_topics_count_the_unmatched_papers_looked_into_withdrawn_ones_aside():
    withdrawn = [
        paper("2025-06", f"Withdrawn study {i}", "This paper has been withdrawn.") for i in range(3)
    ]
    store = store_with(three_months() + withdrawn)
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    assert (section.unmatched, section.clustered) == (15, 12)
    assert "Only 12 papers (withdrawn ones aside) matched no category" in render_trends_section(
        section
    )


@pytest.mark.parametrize(
    ("singular", "plural"),
    [("api", "apis"), ("gpu", "gpus"), ("wsi", "wsis"), ("gui", "guis"), ("mri", "mris"),
     ("imu", "imus"), ("rubric", "rubrics"), ("movie", "movies"), ("metric", "metrics")],
)  # fmt: skip
def test_an_acronym_or_noun_and_its_plural_share_one_key(singular, plural):
    assert term_key(singular) == term_key(plural)


def test_smiles_strings_are_no_plural_of_smile():
    # SMILES (molecule strings) is an acronym, like SARS and PACS.
    assert number_key("smiles") != number_key("smile")


@pytest.mark.parametrize(("word", "other"), [("odds", "odd"), ("mcts", "mct"), ("adas", "ada")])
def test_an_acronym_ending_in_s_keeps_its_own_key(word, other):
    assert number_key(word) == word != number_key(other)


def test_bus_and_buses_share_one_key():
    assert number_key("buses") == number_key("bus")
