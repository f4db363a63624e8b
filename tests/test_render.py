"""Rendering a ranked month: Markdown that cannot be broken, JSON, atomic writes."""

import json
import os
import time

import pytest

from trenddigest.models import Month, Paper
from trenddigest.rank import RankedPaper, Ranking
from trenddigest.render import (
    build_digest,
    digest_to_json,
    github_anchor,
    md_escape,
    output_path,
    render_json,
    render_markdown,
    short_authors,
    write_atomic,
)


def ranked(pid, title, category, score, authors=("Ada Lovelace",), why=("distillation",)):
    paper = Paper(
        id=pid,
        title=title,
        abstract="abstract",
        authors=list(authors),
        categories=["cs.CV"],
        primary_category="cs.CV",
    )
    return RankedPaper(paper, category, score, list(why))


def sample_digest(top=10):
    kd = [
        ranked(
            "2505.00002",
            "Tiny students, big teachers",
            "Knowledge Distillation",
            0.61,
            authors=["A One", "B Two", "C Three", "D Four", "E Five"],
            why=["knowledge distillation", "teacher", "student"],
        ),
        ranked(
            "2505.00001",
            "Distilling [the] *knowledge* of $\\alpha$ <nets>",
            "Knowledge Distillation",
            0.42,
        ),
    ]
    ranking = Ranking(
        considered=5,
        by_category={"Knowledge Distillation": kd, "Object Detection": []},
        unmatched=3,
    )
    descriptions = {"Knowledge Distillation": "Teacher to student.", "Object Detection": "Boxes."}
    return build_digest(
        Month.parse("2025-05"),
        ranking,
        descriptions,
        top=top,
        by="submitted",
        arxiv_categories=["cs.CV", "cs.LG"],
        top_picks=kd[:1],
    )


def test_markdown_special_characters_in_titles_are_escaped():
    assert md_escape("Distilling [the] *knowledge* of $x_1$ <b>") == (
        "Distilling \\[the\\] \\*knowledge\\* of \\$x\\_1\\$ \\<b\\>"
    )


def test_newlines_in_titles_cannot_end_the_list_item():
    assert md_escape("A title\n\n# that breaks") == "A title # that breaks"


def test_brackets_emphasis_html_pipes_and_backticks_are_escaped():
    assert md_escape("a] *b* <script>x</script> | `c`") == (
        "a\\] \\*b\\* \\<script\\>x\\</script\\> \\| \\`c\\`"
    )


def test_text_that_would_open_a_block_at_line_start_is_escaped():
    # The author line of an entry starts with this text: it must not become a list,
    # a heading or a setext underline.
    assert md_escape("- Dash") == "\\- Dash"
    assert md_escape("+ Plus") == "\\+ Plus"
    assert md_escape("# Hash") == "\\# Hash"
    assert md_escape("1. One") == "1\\. One"
    assert md_escape("2) Two") == "2\\) Two"
    assert md_escape("2.5D Detection at #SMM4H") == "2.5D Detection at #SMM4H"


def test_only_an_ampersand_that_starts_an_entity_is_escaped():
    assert md_escape("R&D &amp; &#35;") == "R&D \\&amp; \\&#35;"


def test_hostile_title_and_authors_stay_inside_their_entry():
    hostile = ranked(
        "2505.00003",
        "Evil ] title * <script>alert(1)</script> | `x`\n- not a list",
        "Knowledge Distillation",
        0.5,
        authors=["- Dash Start", "1. Numbered"],
        why=["a|b"],
    )
    ranking = Ranking(1, {"Knowledge Distillation": [hostile]}, 0)
    text = render_markdown(
        build_digest(
            Month.parse("2025-05"),
            ranking,
            {},
            top=10,
            by="submitted",
            arxiv_categories=["cs.CV"],
        )
    )
    assert (
        "1. **[Evil \\] title \\* \\<script\\>alert(1)\\</script\\> \\| \\`x\\` - not a list]"
        "(https://arxiv.org/abs/2505.00003)** ([PDF](https://arxiv.org/pdf/2505.00003))  \n"
        "   \\- Dash Start, 1. Numbered · `cs.CV` · score 0.500 · why: a\\|b\n"
    ) in text
    assert "<script>" not in text


def test_authors_are_shortened_past_three():
    assert short_authors(["A", "B", "C"]) == "A, B, C"
    assert short_authors(["A", "B", "C", "D"]) == "A, B, C et al."


def test_anchor_matches_github_heading_ids():
    assert github_anchor("Explainable AI (XAI)") == "explainable-ai-xai"
    assert github_anchor("Semi-/Weakly Supervised") == "semi-weakly-supervised"


def test_digest_has_month_heading_overview_and_one_section_per_category():
    text = render_markdown(sample_digest())
    assert text.startswith("# Research Trends: May, 2025\n")
    assert "5 arXiv papers first submitted in 2025-05 were ranked; 2 matched" in text
    assert "| [Knowledge Distillation](#knowledge-distillation) | 2 |" in text
    assert "| No category | 3 |" in text
    assert "## Knowledge Distillation\n" in text
    assert "## Object Detection\n" in text
    assert "No paper this month cleared this category's threshold." in text


def test_each_paper_links_abstract_and_pdf_with_authors_category_score_and_why():
    text = render_markdown(sample_digest())
    assert (
        "1. **[Tiny students, big teachers](https://arxiv.org/abs/2505.00002)** "
        "([PDF](https://arxiv.org/pdf/2505.00002))  \n"
        "   A One, B Two, C Three et al. · `cs.CV` · score 0.610 · "
        "why: knowledge distillation, teacher, student\n"
    ) in text


def test_escaped_title_is_rendered_inside_its_link():
    text = render_markdown(sample_digest())
    assert "**[Distilling \\[the\\] \\*knowledge\\* of \\$\\\\alpha\\$ \\<nets\\>]" in text


def test_top_picks_come_first_in_the_seed_style():
    text = render_markdown(sample_digest())
    picks = text.index("## Top picks")
    assert picks < text.index("## Overview")
    assert "- [Tiny students, big teachers](https://arxiv.org/abs/2505.00002) " in text
    assert "    - [Original Paper Link](https://arxiv.org/pdf/2505.00002)" in text


def test_section_says_how_many_papers_it_shows_when_cut():
    text = render_markdown(sample_digest(top=1))
    assert "Top 1 of 2 papers." in text


def test_same_digest_renders_byte_identical():
    assert render_markdown(sample_digest()) == render_markdown(sample_digest())
    assert render_json(sample_digest()) == render_json(sample_digest())


def test_json_has_the_documented_shape():
    data = json.loads(render_json(sample_digest()))
    assert data["month"] == "2025-05"
    first = data["categories"][0]
    assert first["name"] == "Knowledge Distillation"
    assert first["papers"][0]["id"] == "2505.00002"
    assert set(first["papers"][0]) >= {"id", "title", "score", "why"}
    assert data["unmatched"] == 3


def test_json_respects_top_n():
    data = digest_to_json(sample_digest(top=1))
    assert len(data["categories"][0]["papers"]) == 1
    assert data["categories"][0]["count"] == 2


def test_output_path_follows_the_pattern():
    month = Month.parse("2025-05")
    assert str(output_path("digests/{year}/{year}-{month}.md", month)) == "digests/2025/2025-05.md"
    assert str(output_path("digests/{year}/{year}-{month}.md", month, "json")) == (
        "digests/2025/2025-05.json"
    )


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "out" / "d.md"
    write_atomic(target, "first")
    write_atomic(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["d.md"]


def test_a_failed_write_leaves_the_earlier_file_and_no_temp_file(tmp_path):
    target = tmp_path / "d.md"
    write_atomic(target, "earlier digest\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "half written \udc80 cannot be encoded")
    assert target.read_text() == "earlier digest\n"
    assert [p.name for p in tmp_path.iterdir()] == ["d.md"]


def test_templates_in_the_working_folder_override_the_packaged_template(tmp_path, monkeypatch):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "digest.md.j2").write_text("local {{ d.month }}\n")
    monkeypatch.chdir(tmp_path)
    assert render_markdown(sample_digest()) == "local 2025-05\n"


def test_a_user_template_directory_overrides_the_packaged_template(tmp_path):
    (tmp_path / "digest.md.j2").write_text("custom {{ d.month }}\n")
    assert render_markdown(sample_digest(), tmp_path) == "custom 2025-05\n"


def test_an_edited_template_is_read_again_by_a_long_running_process(tmp_path):
    template = tmp_path / "digest.md.j2"
    template.write_text("first {{ d.month }}\n")
    assert render_markdown(sample_digest(), tmp_path) == "first 2025-05\n"
    template.write_text("second {{ d.month }}\n")
    os.utime(template, (time.time() + 5, time.time() + 5))  # a later mtime, as an edit has
    assert render_markdown(sample_digest(), tmp_path) == "second 2025-05\n"
