"""The ranker places papers under the category they are about, says why, and forces nothing."""

from __future__ import annotations

import random
import sys
from dataclasses import replace

import pytest

from trenddigest.categories import Category, Exemplar, Keyword
from trenddigest.config import RankConfig
from trenddigest.errors import ConfigError
from trenddigest.models import Paper
from trenddigest.rank import Ranking, category_scores, rank_papers

DISTILLATION = Category(
    "Knowledge Distillation",
    "Transferring what a large teacher network knows into a small student.",
    [
        Keyword("knowledge distillation", 3.0),
        Keyword("distillation", 1.5),
        Keyword("teacher-student", 2.0),
        Keyword("student model", 2.0),
    ],
    exclude=["dataset distillation"],
)
DETECTION = Category(
    "Object Detection",
    "Locating objects with bounding boxes.",
    [Keyword("object detection", 3.0), Keyword("bounding box", 2.0), Keyword("detector", 1.5)],
)
SEGMENTATION = Category(
    "Segmentation",
    "Labeling every pixel.",
    [Keyword("semantic segmentation", 3.0), Keyword("segmentation mask", 2.0)],
)
CATEGORIES = [DISTILLATION, DETECTION, SEGMENTATION]

# Filler papers make the month realistic: each topic phrase is rare, as in a real month.
FILLER = [
    "We study {} with a new benchmark and report results on several public datasets.",
    "A survey of {} covering recent methods, open problems and evaluation protocols.",
    "This work revisits {} and shows that simple baselines remain strong.",
]
FILLER_TOPICS = [
    "speech recognition",
    "protein folding",
    "tax law",
    "crop yields",
    "music generation",
    "traffic forecasting",
    "legal question answering",
    "weather prediction",
    "chess engines",
    "database indexing",
    "compiler optimization",
    "power grids",
]


def filler(count: int = 60) -> list[Paper]:
    papers = []
    for i in range(count):
        topic = FILLER_TOPICS[i % len(FILLER_TOPICS)]
        papers.append(
            Paper(
                id=f"2505.{90000 + i}",
                title=f"Notes on {topic} {i}",
                abstract=FILLER[i % len(FILLER)].format(topic),
            )
        )
    return papers


DISTILLED = Paper(
    id="2505.00001",
    title="Compact Students via Knowledge Distillation",
    abstract=(
        "We distill a large teacher network into a compact student model. Our knowledge "
        "distillation loss aligns the soft targets of teacher and student, and the distilled "
        "student closes most of the gap to the teacher."
    ),
)
DETECTOR = Paper(
    id="2505.00002",
    title="Anchor-Free Object Detection",
    abstract=(
        "We propose an object detector that predicts each bounding box without anchors. "
        "Object detection accuracy improves on COCO."
    ),
)
OFF_TOPIC = Paper(
    id="2505.00003",
    title="Forecasting Wheat Prices from Rainfall",
    abstract="Farmers record rainfall and soil moisture; we forecast weekly wheat prices.",
)
DATASET_DISTILLATION = Paper(
    id="2505.00004",
    title="Dataset Distillation with Knowledge Distillation Losses",
    abstract=(
        "Dataset distillation condenses a training set into a few synthetic images; we use "
        "knowledge distillation losses and a teacher-student setup with a student model."
    ),
)


def month(*papers: Paper) -> list[Paper]:
    return [*papers, *filler()]


def placed_in(ranking: Ranking, paper: Paper) -> str | None:
    for name, ranked in ranking.by_category.items():
        if any(rp.paper.id == paper.id for rp in ranked):
            return name
    return None


def test_a_distillation_paper_lands_under_knowledge_distillation():
    ranking = rank_papers(month(DISTILLED, DETECTOR), CATEGORIES)
    assert placed_in(ranking, DISTILLED) == "Knowledge Distillation"
    assert placed_in(ranking, DETECTOR) == "Object Detection"


def test_why_names_the_matching_keywords_and_prefers_the_phrase():
    ranking = rank_papers(month(DISTILLED), CATEGORIES)
    (entry,) = ranking.by_category["Knowledge Distillation"]
    assert "knowledge distillation" in entry.why
    assert "distillation" not in entry.why  # shown as part of the phrase instead
    assert "student model" in entry.why
    assert 1 <= len(entry.why) <= 5


def test_a_stemmed_keyword_matches_other_forms_of_the_word():
    paper = Paper(
        "2505.00010",
        "Distilling Detectors",
        "We distill detectors; the distilled student beats its teacher.",
    )
    category = Category("KD", "d", [Keyword("distillation", 3.0)])
    ranking = rank_papers(month(paper), [category], RankConfig(threshold=0.0))
    assert placed_in(ranking, paper) == "KD"
    assert ranking.by_category["KD"][0].why == ["distillation"]


def test_a_keyword_ending_in_y_matches_its_ies_plural():
    paper = Paper(
        "2505.00011",
        "Finding Anomalies in Factories",
        "We flag anomalies on assembly lines; flagged anomalies are checked by hand.",
    )
    category = Category("Anomalies", "d", [Keyword("anomaly", 3.0)])
    ranking = rank_papers(month(paper), [category], RankConfig(threshold=0.0))
    assert placed_in(ranking, paper) == "Anomalies"


def test_an_exclude_term_ending_in_y_vetoes_its_ies_plural():
    registries = Paper(
        "2505.00012",
        "Image Registration of Brain MRI from Patient Registries",
        "We predict a deformation field for image registration of MRI from registries.",
    )
    category = replace(REGISTRATION, exclude=["registry"])
    ranking = rank_papers(month(registries), [category])
    assert placed_in(ranking, registries) is None


def test_another_categorys_plural_acronym_does_not_stop_a_singular_keyword_matching_it():
    llm = Category("LLM", "Large language models.", [Keyword("LLM", 2.0)])
    multimodal = Category("Multimodal", "Vision and language.", [Keyword("multimodal LLMs", 3.0)])
    paper = Paper("2505.00900", "Scaling LLMs for code", "We scale LLMs to write code.")
    alone = category_scores(month(paper), [llm])
    together = category_scores(month(paper), [llm, multimodal])
    assert alone[0, 0] > 0 and together[0, 0] > 0


def test_a_phrase_keyword_needs_its_words_next_to_each_other():
    scattered = Paper(
        "2505.00011",
        "Knowledge Graphs",
        "Knowledge graphs store facts. Water distillation is unrelated chemistry.",
    )
    category = Category("KD", "d", [Keyword("knowledge distillation", 3.0)])
    ranking = rank_papers(month(scattered), [category], RankConfig(threshold=0.0))
    assert placed_in(ranking, scattered) is None


def test_an_excluded_term_vetoes_the_category():
    ranking = rank_papers(month(DISTILLED, DATASET_DISTILLATION), CATEGORIES)
    assert placed_in(ranking, DISTILLED) == "Knowledge Distillation"
    assert placed_in(ranking, DATASET_DISTILLATION) is None


REGISTRATION = Category(
    "Medical Image Registration",
    "Aligning medical images.",
    [Keyword("image registration", 3.0), Keyword("deformation field", 2.5)],
    require=["MRI", "tumor", "medical"],
)
BRAIN_REGISTRATION = Paper(
    "2505.00020",
    "Deformable Image Registration of Brain Scans",
    "We predict a deformation field that aligns two brain MRI volumes; image registration "
    "accuracy improves on public data.",
)
SPORTS_REGISTRATION = Paper(
    "2505.00021",
    "Sports Field Image Registration",
    "We predict a deformation field that aligns broadcast frames to a sports field model; "
    "image registration accuracy improves on public data.",
)


def test_a_category_with_require_terms_takes_only_papers_holding_one():
    ranking = rank_papers(month(BRAIN_REGISTRATION, SPORTS_REGISTRATION), [REGISTRATION])
    assert placed_in(ranking, BRAIN_REGISTRATION) == "Medical Image Registration"
    assert placed_in(ranking, SPORTS_REGISTRATION) is None


UNSAID_ABSTRACT = "We predict a deformation field; image registration accuracy improves."


def test_a_required_term_counts_in_the_title():
    said = Paper("2505.00022", "Image Registration for Tumor Scans", UNSAID_ABSTRACT)
    unsaid = Paper("2505.00024", "Image Registration for Stamps", UNSAID_ABSTRACT)
    ranking = rank_papers(month(said, unsaid), [REGISTRATION])
    assert placed_in(ranking, said) == "Medical Image Registration"
    assert placed_in(ranking, unsaid) is None


def test_a_required_term_counts_in_the_plural():
    plural = Paper("2505.00022", "Image Registration", f"{UNSAID_ABSTRACT} Tumors are aligned too.")
    unsaid = Paper("2505.00024", "Image Registration", f"{UNSAID_ABSTRACT} Stamps too.")
    ranking = rank_papers(month(plural, unsaid), [REGISTRATION])
    assert placed_in(ranking, plural) == "Medical Image Registration"
    assert placed_in(ranking, unsaid) is None


def test_a_paper_refused_by_require_goes_to_another_category_it_matches():
    field_detector = Paper(
        "2505.00023",
        "Image Registration with a Deformation Field",
        "Image registration aligns the frames with a deformation field, and the image "
        "registration error falls; an object detector then predicts a bounding box.",
    )
    assert placed_in(rank_papers(month(field_detector), [REGISTRATION]), field_detector) is None
    ranking = rank_papers(month(field_detector), [REGISTRATION, DETECTION])
    assert placed_in(ranking, field_detector) == "Object Detection"


def test_an_off_topic_paper_is_unmatched_not_forced_into_a_category():
    papers = month(DISTILLED, DETECTOR, OFF_TOPIC)
    ranking = rank_papers(papers, CATEGORIES)
    assert placed_in(ranking, OFF_TOPIC) is None
    assert ranking.considered == len(papers)
    assert ranking.unmatched == len(papers) - len(ranking.all_ranked())
    assert ranking.unmatched >= 61  # the off-topic paper and all the filler


def test_each_paper_is_placed_at_most_once():
    both = Paper(
        "2505.00012",
        "Knowledge Distillation for Object Detection",
        "Knowledge distillation from a teacher detector improves object detection; the "
        "student model predicts every bounding box.",
    )
    ranking = rank_papers(month(both, DISTILLED, DETECTOR), CATEGORIES)
    ids = [rp.paper.id for rp in ranking.all_ranked()]
    assert len(ids) == len(set(ids))
    assert placed_in(ranking, both) in {"Knowledge Distillation", "Object Detection"}


BOTH = Paper(
    "2505.00013",
    "Knowledge Distillation for Object Detection",
    "Knowledge distillation from a teacher detector improves object detection; the "
    "student model predicts every bounding box.",
)


def test_category_scores_give_a_two_topic_paper_a_score_in_both_categories():
    papers = month(BOTH, DISTILLED)
    scores = category_scores(papers, CATEGORIES)
    row = scores[papers.index(BOTH)]
    assert row[0] > 0 and row[1] > 0  # distillation and detection, though placed once
    assert row[2] == 0  # no segmentation keyword: no score there


def test_category_scores_match_the_score_of_each_placed_paper():
    papers = month(BOTH, DISTILLED, DETECTOR)
    scores = category_scores(papers, CATEGORIES)
    ranking = rank_papers(papers, CATEGORIES)
    names = [c.name for c in CATEGORIES]
    placed = ranking.all_ranked()
    assert placed
    for rp in placed:
        row = scores[papers.index(rp.paper)]
        assert round(float(row[names.index(rp.category)]), 4) == rp.score
        assert row.argmax() == names.index(rp.category)


def test_category_scores_refuse_the_tfidf_method():
    with pytest.raises(ConfigError, match="bm25"):
        category_scores(month(DISTILLED), CATEGORIES, RankConfig(method="tfidf"))


def test_the_order_is_deterministic_and_does_not_depend_on_input_order():
    twins = [
        Paper(
            f"2505.0002{i}", "Knowledge Distillation", "Knowledge distillation to a student model."
        )
        for i in range(4)
    ]
    papers = month(DISTILLED, DETECTOR, *twins)
    shuffled = papers[:]
    random.Random(3).shuffle(shuffled)

    def order(ranking: Ranking) -> dict[str, list[tuple[str, float, list[str]]]]:
        return {
            name: [(rp.paper.id, rp.score, rp.why) for rp in ranked]
            for name, ranked in ranking.by_category.items()
        }

    first = order(rank_papers(papers, CATEGORIES))
    assert first == order(rank_papers(papers, CATEGORIES))
    assert first == order(rank_papers(shuffled, CATEGORIES))
    tied = [pid for pid, _, _ in first["Knowledge Distillation"] if pid.startswith("2505.0002")]
    assert tied == sorted(tied)  # equal scores: ordered by arXiv id


def test_lists_are_best_first_with_scores_between_zero_and_one():
    ranking = rank_papers(month(DISTILLED, DETECTOR, DATASET_DISTILLATION), CATEGORIES)
    for ranked in ranking.by_category.values():
        scores = [rp.score for rp in ranked]
        assert scores == sorted(scores, reverse=True)
        assert all(0 < s < 1 for s in scores)


def test_an_empty_month_ranks_nothing():
    ranking = rank_papers([], CATEGORIES)
    assert ranking.considered == 0
    assert ranking.unmatched == 0
    assert ranking.by_category == {c.name: [] for c in CATEGORIES}


def test_no_categories_leaves_every_paper_unmatched():
    ranking = rank_papers(month(DISTILLED), [])
    assert ranking.by_category == {}
    assert ranking.unmatched == ranking.considered == 61


def test_a_category_threshold_and_min_score_raise_the_bar():
    strict = Category(
        DISTILLATION.name, DISTILLATION.description, DISTILLATION.keywords, threshold=0.99
    )
    assert placed_in(rank_papers(month(DISTILLED), [strict]), DISTILLED) is None
    assert placed_in(rank_papers(month(DISTILLED), CATEGORIES, min_score=0.99), DISTILLED) is None


def test_background_papers_are_accepted_and_never_ranked():
    background = [Paper("2504.00001", "Knowledge Distillation", "Knowledge distillation.")]
    settings = RankConfig(background_idf=True)
    ranking = rank_papers(month(DISTILLED), CATEGORIES, settings, background=background)
    assert placed_in(ranking, DISTILLED) == "Knowledge Distillation"
    assert all(not rp.paper.id.startswith("2504") for rp in ranking.all_ranked())


@pytest.mark.parametrize(
    "settings",
    [
        RankConfig(prf_docs=5, prf_weight=0.25),
        RankConfig(lsa_components=5, lsa_weight=0.25),
        RankConfig(diversity=0.4),
        RankConfig(relative_threshold=0.3),
        RankConfig(stemming="none", word_weight=0.0),
    ],
)
def test_optional_ideas_keep_the_clear_cases_right(settings):
    ranking = rank_papers(month(DISTILLED, DETECTOR, OFF_TOPIC), CATEGORIES, settings)
    assert placed_in(ranking, DISTILLED) == "Knowledge Distillation"
    assert placed_in(ranking, OFF_TOPIC) is None


def test_diversity_moves_a_near_duplicate_below_other_papers():
    text = "Knowledge distillation into a student model with a teacher-student loss."
    copy = [Paper(f"2505.0003{i}", "Knowledge Distillation", text) for i in range(2)]
    other = Paper(
        "2505.00039", "Distillation", "Knowledge distillation of language models, briefly."
    )
    settings = RankConfig(diversity=0.9, threshold=0.0)
    ranked = rank_papers(month(*copy, other), CATEGORIES, settings).by_category
    ids = [rp.paper.id for rp in ranked["Knowledge Distillation"]]
    assert ids.index("2505.00039") < ids.index("2505.00031")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (RankConfig(method="svm"), "method 'svm' is unknown"),
        (RankConfig(stemming="porter"), "stemming must be one of"),
        (RankConfig(title_weight=-1.0), r"title_weight must be 0 or more, not -1.0"),
        (RankConfig(b=2.0), r"b must be between 0 and 1, not 2.0"),
    ],
)
def test_bad_settings_are_a_config_error(settings, message):
    with pytest.raises(ConfigError, match=message):
        rank_papers(month(DISTILLED), CATEGORIES, settings)


def test_tfidf_method_ranks_by_scikit_learn_cosine_to_the_profile() -> None:
    from trenddigest.config import RankConfig as _RankConfig

    papers = make_synthetic_for_tfidf()
    cats = _tfidf_categories()
    ranking = rank_papers(papers, cats, _RankConfig(method="tfidf"))
    top = ranking.by_category["Knowledge Distillation"][0]
    assert "distill" in top.paper.title.lower()
    assert top.why and 0 < top.score <= 1


def _tfidf_kd_placed(exclude: list[str]) -> list[str]:
    from dataclasses import replace

    from trenddigest.config import RankConfig as _RankConfig

    cats = _tfidf_categories()
    cats[0] = replace(cats[0], exclude=exclude)
    ranking = rank_papers(make_synthetic_for_tfidf(), cats, _RankConfig(method="tfidf"))
    return [rp.paper.id for rp in ranking.by_category["Knowledge Distillation"]]


def test_tfidf_method_places_only_papers_holding_a_required_term() -> None:
    from trenddigest.config import RankConfig as _RankConfig

    papers = month(BRAIN_REGISTRATION, SPORTS_REGISTRATION)
    ranking = rank_papers(papers, [REGISTRATION], _RankConfig(method="tfidf"), min_score=0.05)
    assert placed_in(ranking, BRAIN_REGISTRATION) == "Medical Image Registration"
    assert placed_in(ranking, SPORTS_REGISTRATION) is None


def _registration_placed(require: list[str], text: str, method: str) -> bool:
    """Whether a registration paper whose abstract adds ``text`` joins a registration
    category requiring ``require`` (a second registration paper gives tfidf a vocabulary)."""
    paper = Paper(
        "2505.00027", "Deformable Image Registration", f"{BRAIN_REGISTRATION.abstract} {text}"
    )
    category = replace(REGISTRATION, require=require)
    settings = RankConfig(method=method)
    ranking = rank_papers(month(paper, SPORTS_REGISTRATION), [category], settings, min_score=0.05)
    return placed_in(ranking, paper) == "Medical Image Registration"


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("Alzheimer's", "The cohort has Alzheimer's disease."),
        ("Alzheimer's", "The cohort has Alzheimer\u2019s disease."),
        ("X-ray", "Chest X\u2010ray scans follow."),
        ("patch", "Skin patches follow."),
        ("CT", "Scans are \u00b5CT volumes."),
        ("surgery", "Two surgeries follow."),
        ("survey", "Two surveyes follow."),  # -es after -y, as bm25 reads any -es
    ],
)
@pytest.mark.parametrize("method", ["bm25", "tfidf"])
def test_both_methods_find_a_required_term_in_the_same_writings(
    term: str, text: str, method: str
) -> None:
    assert _registration_placed([term], text, method)


@pytest.mark.parametrize("method", ["bm25", "tfidf"])
def test_a_require_list_with_no_term_the_ranker_can_read_admits_no_paper(method: str) -> None:
    # Built in code, past the loader's check: "must hold one of none" holds for no paper.
    assert not _registration_placed(["\u8111"], "Brain MRI follows.", method)


def test_tfidf_method_excludes_words_as_written_not_their_stem() -> None:
    placed = _tfidf_kd_placed([])
    assert placed
    # No paper says "distil"; "distill" and "distillation" are other words.
    assert _tfidf_kd_placed(["distil"]) == placed


def test_tfidf_method_excludes_a_phrase_in_the_plural_and_across_a_hyphen() -> None:
    vetoed = _tfidf_kd_placed(["knowledge distillation"])
    assert vetoed != _tfidf_kd_placed([])
    assert _tfidf_kd_placed(["knowledge-distillation"]) == vetoed
    assert _tfidf_kd_placed(["knowledge distillations"]) == vetoed


def make_synthetic_for_tfidf():
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from synthetic import make_papers

    return make_papers("2025-05", per_topic=6)


def _tfidf_categories():
    from trenddigest.categories import Category, Keyword

    return [
        Category(
            "Knowledge Distillation",
            "A teacher network's knowledge distilled into a student.",
            [Keyword("knowledge distillation", 2.0), Keyword("teacher")],
        ),
        Category(
            "Object Detection",
            "Detecting objects with bounding boxes.",
            [Keyword("object detection", 2.0), Keyword("bounding boxes")],
        ),
    ]


# --------------------------------------------------------------------------- abbreviations

ABBREVIATION_CATEGORY = Category("KD", "d", [Keyword("knowledge distillation", 3.0)])


def score_of(papers: list[Paper], paper: Paper, settings: RankConfig) -> float:
    ranking = rank_papers(month(*papers), [ABBREVIATION_CATEGORY], settings)
    return next(rp.score for rp in ranking.by_category["KD"] if rp.paper.id == paper.id)


def test_an_abbreviation_the_paper_defines_counts_as_its_phrase():
    defines = Paper(
        "2505.00050",
        "Compact Students",
        "We study knowledge distillation (KD) for detectors. KD transfers soft targets, "
        "and our KD loss beats plain KD.",
    )
    mentions = Paper(
        "2505.00051",
        "Compact Students",
        "We study knowledge distillation for detectors. It transfers soft targets, "
        "and our new loss beats the plain one.",
    )
    papers = [defines, mentions]
    # Keyword evidence alone: the profile cosine would also see the texts differ.
    on = RankConfig(threshold=0.0, profile_weight=0.0)
    off = RankConfig(threshold=0.0, profile_weight=0.0, acronyms=False)
    assert score_of(papers, defines, on) > score_of(papers, mentions, on)
    assert score_of(papers, defines, off) == score_of(papers, mentions, off)


def test_an_abbreviation_counts_only_in_the_paper_that_defines_it():
    defines = Paper("2505.00052", "KD", "Knowledge distillation (KD) helps. We use KD twice: KD.")
    borrows = Paper("2505.00053", "KD", "Knowledge distillation helps. We use KD twice: KD and KD.")
    papers = [defines, borrows]
    # Keyword evidence alone: the profile cosine would also see the texts differ.
    on = RankConfig(threshold=0.0, profile_weight=0.0)
    off = RankConfig(threshold=0.0, profile_weight=0.0, acronyms=False)
    assert score_of(papers, borrows, on) == score_of(papers, borrows, off)
    assert score_of(papers, defines, on) > score_of(papers, defines, off)


def test_a_stop_word_after_a_phrase_is_not_taken_for_its_abbreviation():
    # "instance segmentation is ..." has the initials "is": every "is" would count.
    category = Category("Seg", "d", [Keyword("instance segmentation", 3.0)])
    paper = Paper(
        "2505.00054",
        "Masks",
        "Instance segmentation is hard. It is what it is, and it is slow.",
    )

    def score(settings: RankConfig) -> float:
        ranking = rank_papers(month(paper), [category], settings)
        return ranking.by_category["Seg"][0].score

    assert score(RankConfig(threshold=0.0)) == score(RankConfig(threshold=0.0, acronyms=False))


# --------------------------------------------------------------------------- defaults


def test_the_packaged_rank_section_states_the_built_in_defaults():
    """Both places name the measured defaults: neither may drift from the other."""
    import dataclasses
    import tomllib

    from trenddigest.config import packaged_config_path

    with packaged_config_path().open("rb") as fh:
        section = tomllib.load(fh)["rank"]
    assert section == dataclasses.asdict(RankConfig())


# --------------------------------------------------------------------------- profile

PROFILED = Category(
    "Knowledge Distillation",
    "A compact student network learns from the soft targets of a large teacher network.",
    [Keyword("knowledge distillation", 3.0)],
    papers=[Exemplar("1503.02531", "Distilling the Knowledge in a Neural Network")],
)


def test_the_description_and_exemplars_order_papers_with_equal_keyword_evidence():
    on_topic = Paper(
        "2505.00060",
        "Knowledge distillation for compact students",
        "A compact student network learns from the soft targets of a teacher network.",
    )
    off_topic = Paper(
        "2505.00061",
        "Knowledge distillation for chemistry",
        "Fractional columns separate crude oil by boiling point in the refinery.",
    )
    ranking = rank_papers(month(on_topic, off_topic), [PROFILED], RankConfig(threshold=0.0))
    assert [rp.paper.id for rp in ranking.by_category[PROFILED.name]] == [
        on_topic.id,
        off_topic.id,
    ]
    keywords_only = RankConfig(threshold=0.0, profile_weight=0.0)
    flat = rank_papers(month(on_topic, off_topic), [PROFILED], keywords_only)
    scores = [rp.score for rp in flat.by_category[PROFILED.name]]
    assert scores[0] == pytest.approx(scores[1], rel=0.2)  # the keyword alone barely tells


def test_the_profile_never_places_a_paper_without_keyword_evidence():
    lookalike = Paper(
        "2505.00062",
        "Teachers and students",
        "A compact student network learns from the soft targets of a large teacher network.",
    )
    ranking = rank_papers(month(lookalike), [PROFILED], RankConfig(threshold=0.0))
    assert ranking.by_category[PROFILED.name] == []


def test_a_clear_paper_is_placed_even_in_a_month_of_three_papers():
    """The idf of a tiny month (a small --from file) is taken as of a real month's size,
    or every keyword would look common and nothing would clear the threshold."""
    papers = [
        Paper(
            "2505.00070",
            "Knowledge Distillation from a Teacher Network",
            "We study teacher-student training for compact models.",
        ),
        Paper("2505.00071", "Anchor-Free Object Detection", "Boxes without anchors."),
        Paper("2505.00072", "Sourdough", "Bread."),
    ]
    ranking = rank_papers(papers, [PROFILED], RankConfig())
    assert [rp.paper.id for rp in ranking.by_category[PROFILED.name]] == ["2505.00070"]
    assert ranking.unmatched == 2


def test_a_month_of_papers_without_a_usable_word_ranks_to_nothing():
    papers = [Paper("2505.12345", "T", "a"), Paper("2505.12346", "", "x y")]
    ranking = rank_papers(papers, CATEGORIES)
    assert ranking.unmatched == 2 and not ranking.all_ranked()


def test_a_word_of_a_phrase_shown_alone_in_why_is_written_as_the_phrase_writes_it():
    paper = Paper(
        "2505.00015",
        "Pretraining Without Labels",
        "We pretrain on imagenet images and transfer to detection.",
    )
    category = Category(
        "Pretraining", "d", [Keyword("ImageNet classification", 3.0), Keyword("pretrain", 2.0)]
    )
    ranking = rank_papers(month(paper), [category], RankConfig(threshold=0.0))
    (entry,) = ranking.by_category["Pretraining"]
    assert entry.why == ["pretrain", "ImageNet (of ImageNet classification)"]


def test_a_word_of_a_phrase_shown_alone_in_why_names_its_phrase():
    paper = Paper(
        "2505.00014",
        "A Teacher for Compact Students",
        "A teacher network guides the student through distillation of its soft targets.",
    )
    category = Category(
        "KD", "d", [Keyword("knowledge distillation", 3.0), Keyword("teacher", 2.0)]
    )
    ranking = rank_papers(month(paper), [category], RankConfig(threshold=0.0))
    (entry,) = ranking.by_category["KD"]
    assert entry.why == ["teacher", "distillation (of knowledge distillation)"]


def test_the_packaged_medical_image_registration_takes_medical_registration_only():
    from trenddigest.categories import load_categories

    categories = load_categories(None)
    garment = Paper(
        "2505.00025",
        "Neural Garment Deformation Field for Character Animation",
        "We learn a deformation field and non-rigid registration of garments to a moving "
        "character; the deformable registration runs in real time.",
    )
    lung = Paper(
        "2505.00026",
        "Unsupervised Deformable Registration of Lung CT",
        "We learn a deformation field for deformable registration of inhale and exhale CT "
        "scans; image registration accuracy improves on public data.",
    )
    ranking = rank_papers(month(garment, lung), categories)
    assert placed_in(ranking, lung) == "Medical Image Registration"
    assert placed_in(ranking, garment) != "Medical Image Registration"
