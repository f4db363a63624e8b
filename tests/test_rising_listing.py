"""The rising terms' listing rules (repeats, phrases renaming words, places, the
re-check of repeats after a rename), tested apart from tokenising, fragments and
cohesion: each candidate term is given the set of papers (rows) using it.  A few
cases are also told in text, through test_qa_trends_reader's months."""

from __future__ import annotations

import numpy as np

from test_qa_trends_reader import (
    CONTROL,
    QUASAR,
    rising_past_the_end,
)
from trenddigest import trends
from trenddigest.models import Paper
from trenddigest.trends import TrendOptions, rising_terms

# ----------------------------------------------------------------- abstract harness


class _Counts:
    def __init__(self, support: dict[str, int], papers: int) -> None:
        self.support, self.papers = support, papers

    def at_least(self, n: int) -> list[tuple[str, int]]:
        return [(t, s) for t, s in self.support.items() if s >= n]

    def get(self, term: str) -> int:
        return self.support.get(term, 0)


class _Matrix:
    def __init__(self, rows: dict[str, np.ndarray]) -> None:
        self.rows = rows

    def rows_using(self, term: str) -> np.ndarray:
        return self.rows[term]


class _FakeCohesion:
    def __init__(self, matrix: _Matrix) -> None:
        self.matrix = matrix

    def of(self, rows: np.ndarray, term: str) -> None:
        return None


def listed(
    monkeypatch, terms: dict[str, range | list[int]], max_terms: int = 10, **opt
) -> list[str]:
    """rising_terms over candidates given as {term: rows}, ranked by their number of
    papers (given in growth order), every term cohesive and no fragment."""
    sizes = [len(r) for r in terms.values()]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    monkeypatch.setattr(trends, "_Cohesion", _FakeCohesion)
    monkeypatch.setattr(trends, "_is_fragment", lambda *a, **k: False)
    n = 400
    papers = [
        Paper(id=f"2505.{i:05d}", title=f"p{i}", abstract="", authors=["A"]) for i in range(n)
    ]
    rows = {t: np.array(sorted(r), dtype=np.int64) for t, r in terms.items()}
    current = _Counts({t: len(r) for t, r in rows.items()}, n)
    base = _Counts({}, n)
    options = TrendOptions(min_support=1, max_terms=max_terms, **opt)
    found = rising_terms(current, [base], papers, options, matrix=_Matrix(rows))
    for r in found:  # each term's examples are papers using it
        assert {e.id for e in r.examples} <= {papers[i].id for i in rows[r.term]}, r.term
    return [r.term for r in found]


def rng(*parts: range) -> list[int]:
    return [i for p in parts for i in p]


def test_a_repeat_of_a_word_a_phrase_replaces_is_listed_beside_the_phrase(monkeypatch):
    # loop (43), feedback (23, all in loop: a repeat), closed loop (20) renames loop.
    terms = {"loop": range(0, 43), "feedback": range(20, 43), "closed loop": range(0, 20)}
    assert listed(monkeypatch, terms) == ["feedback", "closed loop"]


def test_a_freed_term_is_listed_over_a_slower_listed_term_that_repeats_it(monkeypatch):
    terms = {
        "loop": range(0, 45),
        "feedback": rng(range(0, 23), range(100, 116)),  # 39: 23 in loop -> repeat of loop
        "signal": range(100, 116),  # 16, all feedback: a repeat of feedback, none in loop
        "closed loop": range(0, 12),
    }
    # A month without "loop" lists feedback and leaves signal out as its repeat; a
    # rename of "loop" must not turn that round.
    assert listed(monkeypatch, terms) == ["feedback", "closed loop"]


def test_a_freed_term_is_listed_over_a_slower_repeat_of_it_told_in_text():
    found = rising_past_the_end(
        QUASAR,
        (12, "Closed loop {v} {i}", CONTROL),
        (10, "Loop {v} {i}", "Cycles repeat."),
        (23, "Feedback {v} {i}", "Outputs return through the loop."),
        (16, "Signal {v} {i}", "Feedback is measured."),
        (22, "Nebula {v} {i}", "Gas glows."),
        max_terms=10,
    )
    # "feedback" (39 papers, left out under "loop") comes back when "closed loop"
    # replaces "loop"; "signal", all of whose papers say "feedback", makes way for it.
    assert "feedback" in found and "signal" not in found


# Cascade: closed loop renames loop, freeing "ring buffer" (a repeat of loop), which
# renames ring, freeing "queue" (a repeat of ring); "fifo" repeats queue.
CASCADE = {
    "loop": range(0, 60),
    "ring": rng(range(200, 230), range(0, 25)),  # 55, 25 in loop: no repeat
    "queue": range(200, 228),  # 28, all in ring, 51% of ring's: a repeat of ring
    "ring buffer": range(0, 25),  # 25, all in loop, 42% of loop's: a repeat of loop
    "fifo": range(200, 220),  # 20: repeats ring, and queue (71% of queue's)
    "closed loop": range(30, 45),  # 15
}


def test_a_rename_among_the_rechecked_terms_rechecks_the_terms_before_it(monkeypatch):
    # kills "while renamed" -> "if renamed" (no cascade)
    assert "queue" in listed(monkeypatch, CASCADE)


def test_rechecked_terms_are_checked_best_ranked_first_after_each_rename(monkeypatch):
    # kills "break" removed and the repeats checked in reverse: "queue" (28) is
    # listed and "fifo", its repeat, left out, as in a month with "ring buffer" and
    # "closed loop" listed from the start.
    assert listed(monkeypatch, CASCADE) == ["queue", "ring buffer", "closed loop"]


def test_a_three_word_phrase_replaces_its_listed_word(monkeypatch):
    terms = {"action": range(0, 40), "vision language action": range(0, 20)}
    assert listed(monkeypatch, terms) == ["vision language action"]


def test_a_three_word_phrase_past_the_end_replaces_its_listed_word(monkeypatch):
    terms = {
        "action": range(0, 40),
        "quasar": range(100, 130),
        "vision language action": range(0, 20),
    }
    assert listed(monkeypatch, terms, max_terms=2) == ["quasar", "vision language action"]


def test_a_phrase_past_the_end_renaming_two_words_leaves_room_for_a_freed_repeat(monkeypatch):
    # speech (60), recognition (55, 20 shared: no repeat), asr (50, a repeat of
    # speech), quasar (45) fill a list of 3; "speech recognition" past the end renames
    # both words (one short), and "asr", freed, takes the room.
    terms = {
        "speech": range(0, 60),
        "recognition": rng(range(0, 20), range(300, 335)),
        "asr": range(30, 80),
        "quasar": range(100, 145),
        "nebula": range(200, 225),
        "speech recognition": range(0, 20),
    }
    assert listed(monkeypatch, terms, max_terms=3) == ["asr", "quasar", "speech recognition"]


def test_examples_follow_their_terms_after_renames_and_rechecks(monkeypatch):
    # the harness asserts every listed term's examples use it (kills an examples
    # zip over insertion order instead of rank order)
    listed(monkeypatch, CASCADE)
    listed(
        monkeypatch,
        {"loop": range(0, 43), "feedback": range(20, 43), "closed loop": range(0, 20)},
        max_terms=1,
    )


def test_a_phrase_past_the_end_left_out_as_a_repeat_of_a_renamed_word_is_checked_again():
    groups = (
        (20, "Closed loop {v} {i}", "A controller steers the plant around a ring."),
        (30, "Loop {v} {i}", "Cycles repeat."),
        (10, "Ring {v} {i}", "Bells sound."),
        (15, "Ring buffer {v} {i}", "Queues wrap."),
    )
    assert rising_past_the_end(*groups, max_terms=10) == ["closed loop", "ring buffer"]
    assert rising_past_the_end(*groups, max_terms=2) == ["closed loop", "ring buffer"]
