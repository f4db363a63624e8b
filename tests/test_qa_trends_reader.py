"""QA as a research lead reading the trends: rising terms must be topics a reader can
act on, not fragments of a longer phrase or of a hyphenated compound, not one term twice
(nor its singular and plural), not a word whose papers share nothing else, and no LaTeX
markup.

Synthetic papers only (made-up titles and abstracts).
"""

from __future__ import annotations

import itertools
import random

import pytest

from synthetic import make_papers
from trenddigest import trends
from trenddigest.models import Paper
from trenddigest.rank import paper_text
from trenddigest.terms import TermCounts, document_terms, term_matrix
from trenddigest.trends import TrendOptions, emerging_topics, rising_terms

_next: dict[str, int] = {}


def paper(month: str, title: str, abstract: str) -> Paper:
    """A synthetic paper with the next free id of ``month`` (YYYY-MM)."""
    yymm = month[2:4] + month[5:7]
    _next[yymm] = _next.get(yymm, 0) + 1
    return Paper(id=f"{yymm}.{_next[yymm]:05d}", title=title, abstract=abstract, authors=["A. B"])


def filler(month: str, n: int) -> list[Paper]:
    """Papers on nothing in particular, each with a made-up word of its own: as in a
    real month, two of them have little in common."""
    words = ("".join(w) for w in itertools.product("bcdfghjklmnpqrtvwxz", repeat=3))
    return [paper(month, f"Notes on zq{next(words)}", "We look at nothing.") for _ in range(n)]


def counts_of(papers: list[Paper]) -> TermCounts:
    return TermCounts.from_texts([paper_text(p) for p in papers])


OPTIONS = TrendOptions(min_support=5, max_terms=20)
# Words to put beside a term so that, as in real abstracts, no one word always is.
VARIED = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
]


def test_a_phrase_that_only_occurs_inside_a_longer_phrase_is_no_rising_term():
    # "language action" is only ever the tail of "vision-language-action": a reader
    # shown it learns nothing the longer phrase would not say.
    before = [paper("2025-04", f"Vision-language models {i}", "We look.") for i in range(40)]
    before += filler("2025-04", 60)
    now = [
        paper("2025-05", f"Vision-Language-Action {i}", f"{VARIED[i % 12]} robots.")
        for i in range(20)
    ]
    now += filler("2025-05", 80)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert "language action" not in found
    assert "robots" in found  # a term that stands on its own still counts


def test_a_phrase_used_on_its_own_in_most_papers_stays_a_rising_term():
    before = filler("2025-04", 100)
    # "speech recognition" follows "automatic" in 10 of its 20 papers: a topic of its own.
    now = [paper("2025-05", f"Automatic speech recognition {i}", "We look.") for i in range(10)]
    now += [paper("2025-05", f"Robust speech recognition {i}", "We look.") for i in range(5)]
    now += [paper("2025-05", f"Speech recognition for kids {i}", "We look.") for i in range(5)]
    now += filler("2025-05", 80)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert "speech recognition" in found


def test_rising_terms_do_not_list_a_term_as_singular_and_plural():
    before = filler("2025-04", 100)
    now = [paper("2025-05", f"{VARIED[i % 12]} AI agent {i}", "We look.") for i in range(20)]
    now += [paper("2025-05", f"{VARIED[i % 12]} AI agents {i}", "We look.") for i in range(20)]
    now += filler("2025-05", 60)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert len({"ai agent", "ai agents"} & set(found)) == 1


def test_a_rising_term_written_both_ways_counts_the_papers_of_both():
    before = filler("2025-04", 100)
    now = [paper("2025-05", f"{VARIED[i % 12]} AI agent {i}", "We look.") for i in range(20)]
    now += [paper("2025-05", f"{VARIED[i % 12]} AI agents {i}", "We look.") for i in range(20)]
    now += filler("2025-05", 60)
    found = rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)
    (term,) = [r for r in found if r.term in ("ai agent", "ai agents")]
    assert term.support == 40


def test_a_word_only_ever_joined_into_a_hyphenated_compound_is_no_rising_term():
    # "sided" is only ever the tail of "two-sided" or "one-sided": shown alone it says
    # nothing, and "two" and "one" are stop words, so no phrase stands for the compound.
    before = filler("2025-04", 100)
    now = [
        paper(
            "2025-05",
            f"Two-sided {VARIED[i % 12]} markets {i}",
            f"Matching in {VARIED[(i + 5) % 12]} markets. Preferences are one-sided.",
        )
        for i in range(20)
    ]
    now += filler("2025-05", 80)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert "sided" not in found
    assert "markets" in found  # the word beside it stands on its own


def test_a_word_joined_into_compounds_in_exactly_the_share_is_a_fragment():
    using = [paper("2025-05", f"Two-sided {VARIED[i]} matching", "") for i in range(4)]
    using.append(paper("2025-05", f"Sided {VARIED[4]} flows", ""))
    assert trends._is_fragment(using, "sided", 0.8)


def test_a_word_always_followed_by_a_version_number_is_no_fragment():
    using = [paper("2025-05", f"COVID-19 {VARIED[i]} outcomes", "") for i in range(5)]
    assert not trends._is_fragment(using, "covid", 0.8)


def test_a_word_after_a_number_joined_to_it_is_still_a_fragment():
    # "3-sided" as "two-sided": the number counts the sides, "sided" alone says nothing.
    using = [paper("2025-05", f"3-sided {VARIED[i]} markets", "") for i in range(5)]
    assert trends._is_fragment(using, "sided", 0.8)


def test_a_word_beside_a_term_across_a_compound_makes_it_no_fragment():
    # "policy self distillation" cuts "on-policy" in two: it is no term that could be
    # listed instead of "self distillation".
    using = [paper("2025-05", f"On-policy self-distillation for {VARIED[i]}", "") for i in range(5)]
    assert not trends._is_fragment(using, "self distillation", 0.8)


def test_a_word_beside_a_term_in_no_listable_phrase_makes_it_no_fragment():
    # "novel view" is boilerplate, never listed: "view synthesis" is the topic.
    using = [paper("2025-05", f"Novel view synthesis of {VARIED[i]} scenes", "") for i in range(5)]
    assert not trends._is_fragment(using, "view synthesis", 0.8)


def test_a_model_always_written_with_its_version_number_can_rise():
    # A release month: every paper writes "GPT-5" (never "GPT" alone).  No phrase can
    # stand for the compound ("5" is no word), so dropping "gpt" as a hyphen fragment
    # would drop the month's topic altogether; the same holds for "COVID-19".
    before = filler("2025-04", 100)
    now = [
        paper(
            "2025-05",
            f"GPT-5 for {VARIED[i % 12]} reasoning {i}",
            f"We probe GPT-5 on {VARIED[(i + 5) % 12]} puzzles and chess.",
        )
        for i in range(20)
    ]
    # Five more, so that "gpt" ranks above the words of its 20 papers (which it repeats).
    now += [paper("2025-05", f"GPT-5 on {VARIED[i]}", "We look.") for i in range(5)]
    now += filler("2025-05", 75)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert "gpt" in found


def test_a_word_written_as_x_based_still_rises():
    # "-based", "-driven"... modify the word before them: "Mamba-based" is about Mamba.
    mods = ["based", "driven", "guided", "aware", "enhanced"]
    before = filler("2025-04", 100)
    now = [
        paper("2025-05", f"Mamba-{mods[i % 5]} {VARIED[i % 12]} {i}", f"On {VARIED[(i + 5) % 12]}.")
        for i in range(20)
    ]
    now += filler("2025-05", 80)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert "mamba" in found


def test_a_word_always_written_as_x_based_rises_as_the_word():
    # "Mamba-based" says no more than "Mamba": the word is listed, not "mamba based".
    before = filler("2025-04", 100)
    now = [
        paper("2025-05", f"Mamba-based {VARIED[i % 12]} {i}", f"On {VARIED[(i + 5) % 12]}.")
        for i in range(20)
    ]
    now += filler("2025-05", 80)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert "mamba" in found
    assert "mamba based" not in found


@pytest.mark.parametrize("adverb", ["rapidly", "jointly", "directly", "explicitly", "strongly"])
def test_an_adverb_of_any_ending_is_no_rising_term(adverb):
    # Not only "-ally", "-ously"...: "Rapidly ..." titles made "rapidly" a rising term.
    before = filler("2025-04", 100)
    now = [
        paper("2025-05", f"{adverb.title()} {VARIED[i % 12]} {i}", "We look.") for i in range(20)
    ]
    now += filler("2025-05", 80)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert adverb not in found


@pytest.mark.parametrize("noun", ["anomaly", "assembly", "homophily", "elderly", "monopoly"])
def test_a_word_ending_in_ly_that_names_a_thing_can_rise(noun):
    before = filler("2025-04", 100)
    now = [
        paper("2025-05", f"{noun.title()} {VARIED[i % 12]} {i}", f"On {VARIED[(i + 5) % 12]}.")
        for i in range(20)
    ]
    now += filler("2025-05", 80)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert noun in found


def test_a_seven_letter_adverb_is_no_rising_term():
    before = filler("2025-04", 100)
    now = [paper("2025-05", f"Notably {VARIED[i % 12]} {i}", "We look.") for i in range(20)]
    now += filler("2025-05", 80)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert "notably" not in found


SPLATTING = [
    "Gaussian splatting renders radiance fields with anisotropic splats.",
    "Splat opacity and covariance are densified per training view.",
    "Novel view synthesis of splats runs in real time on a laptop.",
    "Pruning splats shrinks the scene without blurring its texture.",
]


def test_a_word_whose_papers_share_nothing_else_is_no_rising_term():
    # "sundry" spreads over papers of every topic, like "finite" (finite elements,
    # finite samples, finite automata): it grew, but gathers no topic.  "Gaussian
    # splatting" grew as much, in papers that share more than the phrase.
    rng = random.Random(11)
    before = make_papers("2025-04", per_topic=20, seed=1)
    now = make_papers("2025-05", per_topic=20, seed=2)
    now = [
        paper("2025-05", f"Sundry {p.title}", f"{p.abstract} Also sundry.") if i % 5 == 0
        else paper("2025-05", p.title, p.abstract)
        for i, p in enumerate(now)
    ]  # fmt: skip
    now += [
        paper("2025-05", f"Gaussian splatting {VARIED[i % 12]}", " ".join(rng.sample(SPLATTING, 2)))
        for i in range(20)
    ]
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert "gaussian splatting" in found
    assert not [term for term in found if "sundry" in term.split(" ")]


def test_a_latex_command_between_two_words_does_not_join_them_into_a_phrase():
    texts = [rf"A graph {cmd} neural model." for cmd in (r"\quad", "and")] * 3
    assert "graph neural" not in document_terms(texts[0])
    matrix = term_matrix(texts)
    assert matrix.rows_using("graph neural").tolist() == []


def test_latex_commands_are_not_terms():
    text = r"Codes over $\mathbb{F}_q$ reach the bound $\mathcal{O}(n \log n)$ for \textbf{all} n."
    terms = document_terms(text)
    assert not {"mathbb", "mathcal", "log", "textbf", "_q", "_q reach"} & terms
    assert {"codes", "bound"} <= terms
    matrix = term_matrix([text])
    assert set(matrix.terms(range(len(matrix.keys)))) == terms


def test_emerging_topic_names_carry_no_latex_command():
    # Papers about codes over finite fields write \mathbb{F}_q in nearly every abstract.
    unmatched = [
        paper(
            "2025-05",
            f"Linear codes and decoding bounds {i}",
            r"We construct linear codes over $\mathbb{F}_q$ with minimum distance "
            r"$d \geq \mathbb{N}$ and decoding of parity checks.",
        )
        for i in range(30)
    ]
    unmatched += [
        paper("2025-05", f"Crop yield forecasting {i}", "Farmers record soil moisture and rain.")
        for i in range(30)
    ]
    topics = emerging_topics(unmatched, "2025-05", TrendOptions(min_unmatched=10))
    assert topics
    for topic in topics:
        # Neither a LaTeX command nor a subscript ("_q" of "\mathbb{F}_q") names a topic.
        assert not [t for t in topic.terms if "mathbb" in t or t.startswith("_")], topic.terms
        assert "_" not in topic.name and "mathbb" not in topic.name.lower()


def rising_with(titles: list[str]) -> list[str]:
    """The rising terms of a month of ``titles`` (plus filler) against a filler month."""
    before = filler("2025-04", 100)
    now = [paper("2025-05", t, f"On {VARIED[(i + 5) % 12]}.") for i, t in enumerate(titles)]
    now += filler("2025-05", 100 - len(now))
    return [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]


@pytest.mark.parametrize("name", ["dinomaly", "objectomaly"])
def test_an_anomaly_detection_method_named_like_anomaly_can_rise(name):
    # Method names of the real samples: they end in "-omaly", not in "anomaly".
    assert name in rising_with([f"{name.title()} for {VARIED[i % 12]} {i}" for i in range(20)])


@pytest.mark.parametrize("name", ["openfly", "agentfly", "spatialfly", "whitefly"])
def test_a_name_ending_in_fly_can_rise(name):
    # Benchmarks and agents ("OpenFly", "AgentFly") and pests ("whitefly"): of the -fly
    # words only "briefly" and "chiefly" are adverbs.
    assert name in rising_with([f"{name.title()} for {VARIED[i % 12]} {i}" for i in range(20)])


def test_briefly_is_still_an_adverb():
    assert "briefly" not in rising_with([f"Briefly {VARIED[i % 12]} {i}" for i in range(20)])


def test_gpu_and_gpus_rise_as_one_term_counting_both():
    # Split 10/10 between "GPU" and "GPUs", neither rose; written all one way, it did.
    before = filler("2025-04", 100)
    now = [paper("2025-05", f"{VARIED[i % 12]} on a GPU {i}", "We look.") for i in range(10)]
    now += [paper("2025-05", f"{VARIED[i % 12]} on GPUs {i}", "We look.") for i in range(10)]
    now += filler("2025-05", 80)
    found = rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)
    assert [r.support for r in found if r.term in ("gpu", "gpus")] == [20]


@pytest.mark.parametrize("noun", ["cardiomegaly", "butterfly", "scholarly", "superfamily"])
def test_more_nouns_ending_in_ly_can_rise(noun):
    assert noun in rising_with([f"{noun.title()} {VARIED[i % 12]} {i}" for i in range(20)])


@pytest.mark.parametrize("phrase", ["weakly supervised", "doubly robust"])
def test_a_six_letter_ly_word_is_no_adverb(phrase):
    # Only words of over six letters are taken for adverbs: these name methods.
    assert phrase in rising_with([f"{phrase.title()} {VARIED[i % 12]} {i}" for i in range(20)])


def test_a_word_before_an_x_based_compound_still_makes_a_fragment():
    # "vision transformer-based": "-based" starts no compound, so "vision transformer"
    # is a term and "transformer" its fragment.
    title = "Vision transformer-based {} tracking"
    using = [paper("2025-05", title.format(VARIED[i]), "") for i in range(5)]
    assert trends._is_fragment(using, "transformer", 0.8)


def test_a_hyphen_joined_neighbour_counts_even_inside_a_longer_compound():
    # "vision" beside "language action" in all five papers, three written
    # "vision-language-action": the phrase is a fragment in every one of them.
    using = [paper("2025-05", f"Vision-language-action {VARIED[i]}", "") for i in range(3)]
    using += [paper("2025-05", f"Vision language action {VARIED[i]}", "") for i in range(3, 5)]
    assert trends._is_fragment(using, "language action", 0.8)


def reinforcement_month(shared_with_tabular: int) -> tuple[list[Paper], list[Paper]]:
    """A filler month, and one where 24 papers on "reinforcement learning" (ranked
    first) say "RL" in 16 of them, 2 other papers say "RL" too (16 of its 18 papers,
    89%, repeat the phrase; "rl" ranks second), and 16 papers on "tabular" data (ranked
    third) include ``shared_with_tabular`` of the reinforcement learning papers."""
    before = filler("2025-04", 100)
    now = [
        paper(
            "2025-05",
            f"Reinforcement learning for {VARIED[i % 12]} {i}"
            + (" on tabular data" if i < shared_with_tabular else ""),
            "We look at RL." if i < 16 else "We look.",
        )
        for i in range(24)
    ]
    now += [paper("2025-05", f"RL with {VARIED[(i + 3) % 12]} {i}", "We look.") for i in range(2)]
    now += [
        paper("2025-05", f"Tabular {VARIED[(i + 6) % 12]} data {i}", "We look.")
        for i in range(16 - shared_with_tabular)
    ]
    return before, now + filler("2025-05", 150 - len(now))


def rising_of(before: list[Paper], now: list[Paper], max_terms: int) -> list[str]:
    options = TrendOptions(min_support=10, max_terms=max_terms)
    return [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, options)]


def test_a_term_whose_papers_mostly_use_a_term_listed_above_it_is_not_listed():
    # "rl" is an abbreviation of "reinforcement learning" in 16 of its 18 papers:
    # listed beside it, it would show the reader the same papers twice.  The next
    # term moves up, so the list keeps its length.
    before, now = reinforcement_month(shared_with_tabular=0)
    assert rising_of(before, now, max_terms=2) == ["reinforcement learning", "tabular"]


def test_two_terms_sharing_few_papers_are_both_listed():
    # 4 of the 16 "tabular" papers (25%) are reinforcement learning papers: two
    # topics that meet, not one said twice.
    before, now = reinforcement_month(shared_with_tabular=4)
    assert rising_of(before, now, max_terms=3) == ["reinforcement learning", "tabular"]


def test_rising_terms_without_repeats_do_not_depend_on_the_papers_order():
    before, now = reinforcement_month(shared_with_tabular=4)
    expected = rising_of(before, now, max_terms=10)
    assert "rl" not in expected
    for seed in range(3):
        shuffled = now[:]
        random.Random(seed).shuffle(shuffled)
        assert rising_of(before, shuffled, max_terms=10) == expected


def test_a_phrase_takes_the_place_of_its_word_listed_above_it_rather_than_repeating_it():
    # All 18 "gaussian splatting" papers use "splatting", ranked above it (30 papers,
    # 12 without "gaussian"): the phrase says more and replaces the word, as it did
    # before the repeat rule.
    before = filler("2025-04", 100)
    now = [
        paper(
            "2025-05",
            f"Gaussian splatting for {VARIED[i % 12]} {i}",
            "We look." if i < 6 else "Radiance fields render in real time.",
        )
        for i in range(18)
    ]
    now += [
        paper("2025-05", f"Splatting {VARIED[(i + 4) % 12]} {i}", "We look.") for i in range(12)
    ]
    now += filler("2025-05", 70)
    found = [r.term for r in rising_terms(counts_of(now), [counts_of(before)], now, OPTIONS)]
    assert "gaussian splatting" in found
    assert "splatting" not in found


# A month's groups of papers: (how many, title, abstract), {v} in the title a word of
# VARIED (so that no other word reaches the support) and {i} the paper's number.
QUASAR = (30, "Quasar {v} survey {i}", "Telescopes image the sky.")
CONTROL = "A controller steers the plant."
CLOSED_LOOP = (20, "Closed loop {v} {i}", CONTROL)  # with LOOP: 20 of the 26 "loop" papers
LOOP = (6, "Loop {v} {i}", CONTROL)


def rising_past_the_end(
    *groups: tuple[int, str, str], max_terms: int = 2, rename_window: int = 10
) -> list[str]:
    """The rising terms of a month of ``groups`` (and filler, 200 papers in all)
    against a filler month, the title rule applied, ``max_terms`` listed."""
    before = filler("2025-04", 100)
    now = [
        paper("2025-05", title.format(v=VARIED[i % 12], i=i), abstract.format(i=i))
        for n, title, abstract in groups
        for i in range(n)
    ]
    now += filler("2025-05", 200 - len(now))
    options = TrendOptions(min_support=10, max_terms=max_terms, rename_window=rename_window)
    titles = TermCounts.from_texts([p.title for p in now])
    found = rising_terms(counts_of(now), [counts_of(before)], now, options, titles=titles)
    return [r.term for r in found]


def test_a_phrase_ranked_just_past_the_end_of_the_list_replaces_its_listed_word():
    # "quasar" (30 papers) and "loop" (26) fill the list; "closed loop" (20 of the
    # "loop" papers) ranks next but for "closed": 2025-07's "loop" (#6) and "closed
    # loop" (#11).  The reader is shown the phrase, not the vaguer word.
    assert rising_past_the_end(QUASAR, CLOSED_LOOP, LOOP) == ["quasar", "closed loop"]


def test_a_phrase_from_past_the_end_is_listed_after_the_terms_that_grew_more():
    # "loop" (32 papers) ranks above "quasar" (30); "closed loop" (24) replaces it but
    # is listed where its growth puts it, last: the list reads fastest first.
    closed_loop = (24, "Closed loop {v} {i}", CONTROL)
    loop = (8, "Loop {v} {i}", CONTROL)
    assert rising_past_the_end(QUASAR, closed_loop, loop) == ["quasar", "closed loop"]


def test_a_phrase_past_the_end_whose_words_are_not_listed_does_not_enter():
    # "nebula" (26 papers) takes the second place; "closed loop" (20) renames no
    # listed word ("loop" is not listed), so past the end it is no candidate at all.
    nebula = (26, "Nebula {v} {i}", "Gas glows.")
    assert rising_past_the_end(QUASAR, nebula, CLOSED_LOOP) == ["quasar", "nebula"]


def test_a_phrase_further_past_the_end_than_the_rename_window_does_not_replace_its_word():
    # "nebula", "pulsar", "magnetar" and "closed" come after the list's end before
    # "closed loop", the 5th: a window of 4 does not reach it, one of 5 does.
    others = [
        (25, "Nebula {v} {i}", "Gas glows."),
        (24, "Pulsar {v} {i}", "Stars spin."),
        (23, "Magnetar {v} {i}", "Fields twist."),
    ]
    month = (QUASAR, *others, CLOSED_LOOP, LOOP)
    assert rising_past_the_end(*month, rename_window=4) == ["quasar", "loop"]
    assert rising_past_the_end(*month, rename_window=5) == ["quasar", "closed loop"]


@pytest.mark.parametrize(
    "closed_loop",
    [
        # In abstracts only: it fails the title rule.
        (20, "Loop {v} {i}", "In closed loop, a controller steers the plant."),
        # Always "closed loop control": a fragment of a longer phrase.
        (20, "Closed loop control {v} {i}", CONTROL),
        # Papers with nothing else in common (a made-up word each): no cohesion.
        (20, "Closed loop {v} {i}", "We look at nothing, zq{i}x."),
    ],
    ids=["hardly-in-titles", "fragment", "no-cohesion"],
)
def test_a_phrase_past_the_end_failing_a_check_of_listed_terms_does_not_replace_its_word(
    closed_loop,
):
    assert rising_past_the_end(QUASAR, closed_loop, LOOP) == ["quasar", "loop"]


def test_a_phrase_past_the_end_repeating_a_listed_term_does_not_replace_its_word():
    # 12 of the 20 "closed loop" papers are "quasar" papers (60%), but only 12 of the 26
    # "loop" papers (46%): the word is a topic of its own, the phrase a repeat.
    quasar = (18, "Quasar {v} survey {i}", "Telescopes image the sky.")
    both = (12, "Closed loop {v} quasar {i}", CONTROL)
    closed_loop = (8, "Closed loop {v} {i}", CONTROL)
    assert rising_past_the_end(quasar, both, closed_loop, LOOP) == ["quasar", "loop"]


def test_renames_past_the_end_keep_the_list_within_its_length_whatever_the_papers_order():
    # "jets" (32 papers), "quasar" (30, 14 of them "quasar jets") and "loop" (26) fill
    # the list; past its end "closed loop" renames "loop" and "quasar jets" both
    # "quasar" and "jets": two terms are left, never four.  "nebula" (12), ranked
    # below them, does not fill the third place: the candidates passed over past the
    # end were never checked, and one of them might have grown more.
    groups = (
        (14, "Quasar jets {v} {i}", "Telescopes image the sky."),
        (16, "Quasar {v} {i}", "Telescopes image the sky."),
        (18, "Jets {v} {i}", "Telescopes image the sky."),
        CLOSED_LOOP,
        LOOP,
        (12, "Nebula {v} {i}", "Gas glows."),
    )
    expected = rising_past_the_end(*groups, max_terms=3)
    assert expected == ["closed loop", "quasar jets"]
    for seed in range(3):
        shuffled = list(groups)
        random.Random(seed).shuffle(shuffled)
        assert rising_past_the_end(*shuffled, max_terms=3) == expected


def reinforcement_and_rl(in_both: int, only_reinforcement: int = 12) -> list[str]:
    """The rising terms of a month where "reinforcement learning" is in
    ``only_reinforcement + in_both`` papers (ranked first) and "rl" in 20 papers,
    ``in_both`` of them also saying "reinforcement learning"."""
    return rising_past_the_end(
        (only_reinforcement, "Reinforcement learning for {v} {i}", "Agents act."),
        (in_both, "Robots {v} {i}", "Reinforcement learning and RL agents act."),
        (20 - in_both, "RL with {v} {i}", "We look."),
        max_terms=10,
    )


def test_a_term_with_exactly_half_its_papers_in_a_listed_term_repeats_it():
    # "half its papers or more" (README): 10 of 20 is half (and 10 of the 22
    # "reinforcement learning" papers, over a third of them).
    assert reinforcement_and_rl(10) == ["reinforcement learning"]


def test_a_term_with_55_percent_of_its_papers_in_a_listed_term_repeats_it():
    assert reinforcement_and_rl(11) == ["reinforcement learning"]


def test_a_term_with_45_percent_of_its_papers_in_a_listed_term_is_listed():
    assert reinforcement_and_rl(9) == ["reinforcement learning", "rl"]


def test_a_term_sharing_exactly_a_third_of_the_listed_terms_papers_repeats_it():
    # 15 of the 20 "rl" papers are 15 of the 45 "reinforcement learning" papers.
    assert "rl" not in reinforcement_and_rl(15, only_reinforcement=30)


def test_a_term_sharing_under_a_third_of_the_listed_terms_papers_is_listed():
    # 14 of the 20 "rl" papers (70%) are only 14 of the 44 "reinforcement learning"
    # papers (32%): a part of the broad topic, not the same papers again.
    assert "rl" in reinforcement_and_rl(14, only_reinforcement=30)


def test_a_narrower_topic_a_small_part_of_a_broad_term_listed_above_it_is_listed():
    # All 20 "verifiable rewards" papers say "reinforcement learning" (80 papers,
    # ranked first), but they are a quarter of them: the phrase names a narrower topic
    # the broad term does not show.  Real 2025-05: 28 of the 29 "verifiable rewards"
    # papers say "reinforcement learning" (8% of its 367).
    found = rising_past_the_end(
        (60, "Reinforcement learning for {v} {i}", "Agents act."),
        (20, "Verifiable rewards in {v} {i}", "Reinforcement learning with verifiable rewards."),
        (22, "Nebula {v} {i}", "Gas glows."),
        max_terms=10,
    )
    assert "verifiable rewards" in found


# "loop" (43 papers: 20 "closed loop", 23 "feedback") ranks first; "feedback" (23, all
# of them saying "loop", none "closed loop") is left out as a repeat of "loop"; "closed
# loop" (20) then replaces "loop", and "feedback" repeats no listed term any more.
FEEDBACK_MONTH = (
    QUASAR,
    (20, "Closed loop {v} {i}", CONTROL),
    (23, "Feedback {v} {i}", "Signals return through the loop."),
    (22, "Nebula {v} {i}", "Gas glows."),
)


def test_a_repeat_of_a_word_a_phrase_replaces_within_the_list_is_listed_in_its_rank():
    assert rising_past_the_end(*FEEDBACK_MONTH, max_terms=10) == [
        "quasar",
        "feedback",
        "nebula",
        "closed loop",
    ]


def test_a_repeat_of_a_word_a_phrase_past_the_end_replaces_is_listed():
    found = rising_past_the_end(*FEEDBACK_MONTH, max_terms=3)
    assert "closed loop" in found and "loop" not in found
    assert "feedback" in found


def test_a_term_listed_again_in_a_full_list_displaces_the_slowest_term_not_the_phrase():
    # "closed loop" holds the place of "loop" (1st); "feedback" (3rd) outgrew
    # "nebula" (4th), which gives way.
    for seed in range(3):
        shuffled = list(FEEDBACK_MONTH)
        random.Random(seed).shuffle(shuffled)
        found = rising_past_the_end(*shuffled, max_terms=3)
        assert found == ["quasar", "feedback", "closed loop"]


def test_a_repeat_of_a_replaced_word_and_the_phrase_repeating_each_other_list_the_faster():
    # 12 of the 23 "feedback" papers say "closed loop" (12 of its 20 papers): each
    # repeats the other.  Once the phrase replaces "loop", "feedback", which grew
    # faster, is listed and the phrase makes way, as in a month where "loop" was never
    # listed.
    month = (
        QUASAR,
        (12, "Feedback {v} {i}", "A controller steers the plant in closed loop."),
        (11, "Feedback {v} {i}", "Signals return through the loop."),
        (8, "Closed loop {v} {i}", CONTROL),
        (22, "Nebula {v} {i}", "Gas glows."),
    )
    assert rising_past_the_end(*month, max_terms=10) == ["quasar", "feedback", "nebula"]
