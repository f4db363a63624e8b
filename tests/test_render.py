"""Rendering a ranked month: Markdown that cannot be broken, JSON, atomic writes."""

import errno
import json
import os
import time
from pathlib import Path

import pytest

from trenddigest.errors import InputError
from trenddigest.models import Month, Paper
from trenddigest.rank import RankedPaper, Ranking
from trenddigest.render import (
    build_digest,
    check_output_file,
    check_output_pattern,
    counted,
    digest_to_json,
    github_anchor,
    heading_slugs,
    md_escape,
    output_path,
    page_headings,
    render_json,
    render_markdown,
    short_authors,
    template_environment,
    template_errors,
    write_atomic,
    write_files_atomic,
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
        "(https://arxiv.org/abs/2505.00003)** ([PDF](https://arxiv.org/pdf/2505.00003))\\\n"
        "   \\- Dash Start, 1. Numbered · `cs.CV` · score 0.500 · why: a\\|b\n"
    ) in text
    assert "<script>" not in text


def test_authors_are_shortened_past_three():
    assert short_authors(["A", "B", "C"]) == "A, B, C"
    assert short_authors(["A", "B", "C", "D"]) == "A, B, C et al."


def test_anchor_matches_github_heading_ids():
    assert github_anchor("Explainable AI (XAI)") == "explainable-ai-xai"
    assert github_anchor("Semi-/Weakly Supervised") == "semi-weakly-supervised"


def digest_of_categories(names, trends_markdown=""):
    """A digest whose categories are ``names``, one paper in each."""
    by_category = {
        name: [ranked(f"2505.{i:05d}", f"Paper {i}", name, 0.5)] for i, name in enumerate(names)
    }
    ranking = Ranking(considered=len(names), by_category=by_category, unmatched=0)
    return build_digest(
        Month.parse("2025-05"),
        ranking,
        {},
        top=10,
        by="submitted",
        arxiv_categories=["cs.CV"],
        trends_markdown=trends_markdown,
    )


def test_overview_links_a_category_named_like_a_fixed_heading_to_its_own_section():
    text = render_markdown(digest_of_categories(["Overview"]))
    # GitHub numbers a repeated heading's anchor: the digest's own Overview comes first.
    assert "| [Overview](#overview-1) | 1 |" in text


def test_categories_whose_names_differ_only_in_punctuation_link_to_their_own_sections():
    text = render_markdown(digest_of_categories(["Self-Supervised", "Self Supervised"]))
    assert "| [Self-Supervised](#self-supervised) | 1 |" in text
    assert "| [Self Supervised](#self-supervised-1) | 1 |" in text


def test_a_trends_heading_named_like_a_category_does_not_take_the_category_anchor():
    trends = "## Rising terms\n\nsome terms\n"
    text = render_markdown(digest_of_categories(["Rising Terms"], trends_markdown=trends))
    assert "| [Rising Terms](#rising-terms-1) | 1 |" in text


def test_headings_inside_code_fences_are_not_counted_for_anchors():
    trends = "```toml\n# Overview\n```\n"
    text = render_markdown(digest_of_categories(["Detection"], trends_markdown=trends))
    assert "| [Detection](#detection) | 1 |" in text


def test_a_shorter_fence_inside_a_longer_one_does_not_end_it_for_anchors():
    assert page_headings("````md\n```\n# Detection\n````\n## Overview\n") == ["Overview"]


def test_heading_slugs_number_repeats_as_github_does():
    assert heading_slugs(["A", "A", "A-1", "a"]) == ["a", "a-1", "a-1-1", "a-2"]


def test_digest_has_month_heading_overview_and_one_section_per_category():
    text = render_markdown(sample_digest())
    assert text.startswith("# Research Trends: May, 2025\n")
    assert "5 arXiv papers from 2025-05 (by arXiv id) were ranked; 2 matched" in text
    assert "| [Knowledge Distillation](#knowledge-distillation) | 2 |" in text
    assert "| No category | 3 |" in text
    assert "## Knowledge Distillation\n" in text
    assert "## Object Detection\n" in text
    assert "No paper this month cleared this category's threshold." in text


def test_each_paper_links_abstract_and_pdf_with_authors_category_score_and_why():
    text = render_markdown(sample_digest())
    assert (
        "1. **[Tiny students, big teachers](https://arxiv.org/abs/2505.00002)** "
        "([PDF](https://arxiv.org/pdf/2505.00002))\\\n"
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


# -- output patterns and paths ------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "field"),
    [
        ("out/{year}/{month}/{foo}.md", "{foo}"),
        ("out/{year}/{month}/{}.md", "{}"),
        ("out/{year}/{month}/{0}.md", "{0}"),
        ("out/{year.real}/{year}-{month}.md", "{year.real}"),
        ("out/{year}/{month!r}.md", "{month!r}"),
        ("out/{year:>6}/{month}.md", "{year:>6}"),
    ],
)
def test_an_output_pattern_with_any_field_but_year_and_month_is_refused(pattern, field):
    with pytest.raises(InputError) as caught:
        output_path(pattern, Month.parse("2025-06"))
    assert str(caught.value) == (
        f"output pattern '{pattern}' has an unknown field {field}: use only {{year}} and {{month}}"
    )


@pytest.mark.parametrize("pattern", ["out/{year}-{month}}.md", "out/{year-{month}.md", "x{"])
def test_an_output_pattern_with_a_stray_brace_says_to_double_it(pattern):
    with pytest.raises(InputError) as caught:
        check_output_pattern(pattern)
    assert str(caught.value) == (
        f"output pattern '{pattern}' has a stray brace: write {{{{ or }}}} for a literal "
        "{ or }, and use only {year} and {month} as fields"
    )


def test_doubled_braces_in_an_output_pattern_are_literal_braces():
    assert output_path("out/{{x}}/{year}-{month}.md", Month.parse("2025-06")) == Path(
        "out/{x}/2025-06.md"
    )


@pytest.mark.parametrize(
    ("pattern", "example"),
    [
        ("{year}/{month}/", "{year}/{month}/digest.md"),
        ("out/{year}-{month}/.", "out/{year}-{month}/./digest.md"),
    ],
)
def test_an_output_pattern_ending_in_a_folder_is_refused(pattern, example):
    with pytest.raises(InputError) as caught:
        output_path(pattern, Month.parse("2025-06"))
    assert str(caught.value) == (
        f"output pattern '{pattern}' names a folder; give a file name such as {example}"
    )


def test_an_output_pattern_naming_an_existing_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d" / "2025" / "06.md").mkdir(parents=True)
    with pytest.raises(InputError) as caught:
        output_path("d/{year}/{month}.md", Month.parse("2025-06"))
    assert str(caught.value) == (
        "output pattern 'd/{year}/{month}.md' names the folder d/2025/06.md for 2025-06; "
        "rename or remove that folder, or choose another output pattern"
    )


@pytest.mark.parametrize("pattern", ["out/{year}.{month}", "out/{year}/{month}", "x-{month}"])
def test_an_output_pattern_without_its_own_extension_is_refused(pattern):
    with pytest.raises(InputError) as caught:
        check_output_pattern(pattern)
    assert str(caught.value) == (
        f"output pattern '{pattern}' needs a file extension after its fields, such as .md "
        "(the JSON twin takes the same name with .json)"
    )


def test_an_output_pattern_ending_in_json_is_refused():
    with pytest.raises(InputError) as caught:
        check_output_pattern("d/{year}-{month}.json")
    assert str(caught.value) == (
        "output pattern 'd/{year}-{month}.json' ends in .json, the name of the digest's JSON "
        "twin; end it in .md (--format json writes the twin only)"
    )


def test_a_json_twin_that_is_a_folder_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "x-2025-06.json").mkdir(parents=True)
    pattern = "out/x-{year}-{month}.md"
    assert output_path(pattern, Month.parse("2025-06")) == Path("out/x-2025-06.md")
    with pytest.raises(InputError) as caught:
        output_path(pattern, Month.parse("2025-06"), "json")
    assert str(caught.value) == (
        "cannot write the JSON twin out/x-2025-06.json of the 2025-06 digest: it is a folder; "
        "rename or remove it, or choose another output pattern"
    )


@pytest.mark.parametrize("given", ["newdir/", "sub/newdir/", ".", "existing"])
def test_an_output_file_that_names_a_folder_is_refused(tmp_path, monkeypatch, given):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    with pytest.raises(InputError) as caught:
        check_output_file(given, "trends.md")
    example = given + "trends.md" if given.endswith("/") else f"{given}/trends.md"
    assert str(caught.value) == (
        f"--output {given} names a folder; give a file name such as {example}"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            "report",
            "--output report needs a file extension, such as report.md "
            "(the PNG chart takes the same name with .png)",
        ),
        (
            "out/t.json",
            "--output out/t.json ends in .json, but the report is Markdown; give it a .md name "
            "such as out/t.md",
        ),
        (
            "t.JSON",
            "--output t.JSON ends in .json, but the report is Markdown; give it a .md name "
            "such as t.md",
        ),
        (
            "x.png",
            "--output x.png is where the report's PNG chart goes; give the report a .md name",
        ),
        (
            "x.PNG",
            "--output x.PNG is where the report's PNG chart goes; give the report a .md name",
        ),
    ],
    ids=["no extension", "json", "JSON", "png", "PNG"],
)
def test_an_output_file_the_report_cannot_use_is_refused(tmp_path, monkeypatch, given, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as caught:
        check_output_file(given, "trends.md")
    assert str(caught.value) == message
    assert list(tmp_path.iterdir()) == []


def test_an_output_file_is_returned_as_a_path(tmp_path):
    assert check_output_file(str(tmp_path / "new" / "t.md"), "trends.md") == (
        tmp_path / "new" / "t.md"
    )


# -- writing files together ---------------------------------------------------------------


@pytest.fixture
def umask_027():
    """A known umask for the test (not the developer's), restored afterwards."""
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


def test_files_written_together_all_appear_with_their_contents(tmp_path):
    md, js, png = tmp_path / "d" / "x.md", tmp_path / "d" / "x.json", tmp_path / "d" / "x.png"
    write_files_atomic({md: "# digest\n", js: "{}\n", png: b"\x89PNG"})
    assert (md.read_text(), js.read_text(), png.read_bytes()) == ("# digest\n", "{}\n", b"\x89PNG")
    assert sorted(p.name for p in md.parent.iterdir()) == ["x.json", "x.md", "x.png"]


def test_a_target_that_is_a_folder_fails_the_set_and_the_earlier_pair_stays(tmp_path):
    md, js = tmp_path / "x.md", tmp_path / "x.json"
    write_files_atomic({md: "earlier digest\n", js: "earlier json\n"})
    js.unlink()
    js.mkdir()
    with pytest.raises(InputError) as caught:
        write_files_atomic({md: "new digest\n", js: "new json\n"})
    assert str(caught.value) == (
        f"cannot write {js}: it is a folder; rename or remove it, or choose another file name"
    )
    assert md.read_text() == "earlier digest\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.md"]


def test_a_failure_on_a_later_file_leaves_the_earlier_ones_and_no_temp_or_new_folder(tmp_path):
    md = tmp_path / "x.md"
    write_files_atomic({md: "earlier digest\n"})
    (tmp_path / "blocker").write_text("a file where a folder should be\n")
    blocked = tmp_path / "blocker" / "x.png"
    with pytest.raises(InputError) as caught:
        write_files_atomic({md: "new digest\n", tmp_path / "new" / "x.json": "{}", blocked: b""})
    assert str(caught.value) == (
        f"cannot write {blocked}: {tmp_path / 'blocker'} is a file, not a folder; "
        "check the path and that its folder can be written"
    )
    assert md.read_text() == "earlier digest\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "x.md"]


def refuse_renames_onto(monkeypatch, refused):
    """``os.replace`` as on a file the system will not replace (immutable, in use):
    EBUSY for a rename onto ``refused``, every other rename done."""
    real_replace = os.replace

    def replace(src, dst, **kwargs):
        if Path(dst) == refused:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_a_rename_refused_on_a_later_file_puts_the_earlier_ones_back(tmp_path, monkeypatch):
    md, js = tmp_path / "x.md", tmp_path / "x.json"
    write_files_atomic({md: "earlier digest\n", js: "earlier json\n"})
    refuse_renames_onto(monkeypatch, js)
    with pytest.raises(InputError) as caught:
        write_files_atomic({md: "new digest\n", js: "new json\n"})
    assert str(caught.value) == (
        f"cannot write {js}: Device or resource busy; "
        "check the path and that its folder can be written"
    )
    assert (md.read_text(), js.read_text()) == ("earlier digest\n", "earlier json\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.md"]


def test_a_new_file_renamed_in_before_a_later_rename_is_refused_is_removed(tmp_path, monkeypatch):
    md, js = tmp_path / "x.md", tmp_path / "x.json"
    write_files_atomic({js: "earlier json\n"})
    refuse_renames_onto(monkeypatch, js)
    with pytest.raises(InputError):
        write_files_atomic({md: "new digest\n", js: "new json\n"})
    assert js.read_text() == "earlier json\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_without_hard_links_the_earlier_file_is_copied_aside_and_put_back(tmp_path, monkeypatch):
    md, js = tmp_path / "x.md", tmp_path / "x.json"
    write_files_atomic({md: "earlier digest\n", js: "earlier json\n"})
    md.chmod(0o604)

    def no_hard_links(src, dst, **kwargs):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))  # as on FAT or some FUSE mounts

    monkeypatch.setattr(os, "link", no_hard_links)
    refuse_renames_onto(monkeypatch, js)
    with pytest.raises(InputError):
        write_files_atomic({md: "new digest\n", js: "new json\n"})
    assert (md.read_text(), js.read_text()) == ("earlier digest\n", "earlier json\n")
    assert md.stat().st_mode & 0o777 == 0o604
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.md"]


def test_new_files_get_the_mode_the_umask_gives_any_new_file(tmp_path, umask_027):
    md, png = tmp_path / "x.md", tmp_path / "x.png"
    write_files_atomic({md: "text\n", png: b"\x89PNG"})
    assert md.stat().st_mode & 0o777 == 0o640
    assert png.stat().st_mode & 0o777 == 0o640


def test_a_replaced_file_keeps_its_own_mode(tmp_path, umask_027):
    md = tmp_path / "x.md"
    md.write_text("earlier\n")
    md.chmod(0o664)
    write_atomic(md, "later\n")
    assert md.read_text() == "later\n"
    assert md.stat().st_mode & 0o777 == 0o664


# -- user templates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("# Digest\n\n{% for x in %}\n", "Expected an expression, got 'end of statement block'"),
        ("# {{ d.month }}\n\n{{ month }}\n", "'month' is undefined"),
    ],
    ids=["syntax error", "undefined name"],
)
def test_an_error_in_a_user_template_names_its_file_and_line(
    tmp_path, monkeypatch, template, error
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my").mkdir()
    (tmp_path / "my" / "digest.md.j2").write_text(template)
    with pytest.raises(InputError) as caught:
        render_markdown(sample_digest(), "my")
    assert str(caught.value) == (
        f"template my/digest.md.j2 line 3: {error}; "
        "fix the template or remove [digest] templates_dir to use the packaged one"
    )


def test_a_broken_template_in_the_working_folder_says_to_move_it_away(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "digest.md.j2").write_text("{{ d.nope }}\n")
    with pytest.raises(InputError) as caught:
        render_markdown(sample_digest())
    assert str(caught.value) == (
        "template templates/digest.md.j2 line 1: 'trenddigest.render.Digest object' has no "
        "attribute 'nope'; fix the template or move templates/digest.md.j2 away to use the "
        "packaged one"
    )


def test_an_error_in_a_user_macro_called_from_python_names_the_macro_line(tmp_path):
    (tmp_path / "m.j2").write_text("{% macro show(x) %}\nvalue\n{{ x.missing }}\n{% endmacro %}\n")
    with pytest.raises(InputError) as caught, template_errors(tmp_path):
        template_environment(tmp_path).get_template("m.j2").module.show(sample_digest())
    assert str(caught.value).startswith(f"template {tmp_path / 'm.j2'} line 3: ")


FIX = "; fix the template or remove [digest] templates_dir to use the packaged one"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"digest.md.j2": b"# Digest\n{{ 1 // 0 }}\n"},
            "template my/digest.md.j2 line 2: ZeroDivisionError: integer division or modulo "
            "by zero",
        ),
        (
            {"digest.md.j2": b'{{ d.month.shift("x") }}\n'},
            "template my/digest.md.j2 line 1: TypeError: unsupported operand type(s) for +: "
            "'int' and 'str'",
        ),
        (
            {"digest.md.j2": b'# Digest\n{% include "digest.md.j2" %}\n'},
            "template my/digest.md.j2 line 2: it includes or calls itself without end "
            "(RecursionError)",
        ),
        (
            {"digest.md.j2": b"{% macro m() %}\n{{ m() }}\n{% endmacro %}\n{{ m() }}\n"},
            "template my/digest.md.j2 line 2: it includes or calls itself without end "
            "(RecursionError)",
        ),
        (
            {"digest.md.j2": b"\xff\xfe# {{ d.month }}\n"},
            "template my/digest.md.j2 is not UTF-8 text: 'utf-8' codec can't decode byte 0xff "
            "in position 0: invalid start byte",
        ),
        (
            {"digest.md.j2": b'# Digest\n{% include "part.j2" %}\n', "part.j2": b"caf\xe9\n"},
            "template my/part.j2 is not UTF-8 text: 'utf-8' codec can't decode byte 0xe9 "
            "in position 3: invalid continuation byte",
        ),
        (
            {"digest.md.j2": b"{{ " + b"(" * 3000 + b"1" + b")" * 3000 + b" }}\n"},
            "template my/digest.md.j2 nests too deeply to be compiled (RecursionError)",
        ),
    ],
    ids=[
        "division by zero",
        "wrong argument type",
        "self-inclusion",
        "self-calling macro",
        "not utf-8",
        "included file not utf-8",
        "nested too deeply",
    ],
)
def test_any_exception_in_a_user_template_is_an_input_error_naming_the_file(
    tmp_path, monkeypatch, files, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my").mkdir()
    for name, body in files.items():
        (tmp_path / "my" / name).write_bytes(body)
    with pytest.raises(InputError) as caught:
        render_markdown(sample_digest(), "my")
    assert str(caught.value) == message + FIX


def test_a_user_template_that_cannot_be_read_says_why(tmp_path, monkeypatch):
    import jinja2.loaders

    def refuse(file, *args, **kwargs):
        raise PermissionError(13, "Permission denied", file)

    monkeypatch.chdir(tmp_path)
    (tmp_path / "my").mkdir()
    (tmp_path / "my" / "digest.md.j2").write_text("# {{ d.month }}\n")
    monkeypatch.setattr(jinja2.loaders, "open", refuse, raising=False)  # what a chmod 000 does
    with pytest.raises(InputError) as caught:
        render_markdown(sample_digest(), "my")
    assert str(caught.value) == "template my/digest.md.j2 cannot be read: Permission denied" + FIX


def test_an_exception_raised_only_in_packaged_templates_stays_a_bug(tmp_path):
    (tmp_path / "unrelated.j2").write_text("not the digest template\n")
    digest = sample_digest()
    digest.considered = "many"  # a bug in our own data, not in any user template
    with pytest.raises(ValueError, match="Cannot specify ',' with 's'"):
        render_markdown(digest, tmp_path)


class _Raising:
    """A template variable whose attribute raises ``error`` when the template reads it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    @property
    def value(self):
        raise self.error


@pytest.mark.parametrize(
    "error",
    [KeyboardInterrupt(), SystemExit(3), InputError("month 'x' is not YYYY-MM")],
    ids=["keyboard interrupt", "system exit", "trenddigest error"],
)
def test_interrupts_and_trenddigest_errors_in_a_user_template_pass_unchanged(tmp_path, error):
    (tmp_path / "digest.md.j2").write_text("{{ d.value }}\n")
    template = template_environment(tmp_path).get_template("digest.md.j2")
    with pytest.raises(type(error)) as caught, template_errors(tmp_path):
        template.render(d=_Raising(error))
    assert caught.value is error


# -- counts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "text"), [(0, "0 papers"), (1, "1 paper"), (2, "2 papers"), (1234, "1,234 papers")]
)
def test_a_count_and_its_noun_agree(number, text):
    assert counted(number, "paper") == text


def test_a_month_of_one_paper_says_one_paper_was_ranked():
    only = ranked("2505.00001", "Alone", "Knowledge Distillation", 0.9)
    digest = build_digest(
        Month.parse("2025-05"),
        Ranking(considered=1, by_category={"Knowledge Distillation": [only]}, unmatched=0),
        {},
        top=10,
        by="submitted",
        arxiv_categories=["cs.CV"],
    )
    assert "**May, 2025**: 1 arXiv paper from 2025-05 (by arXiv id) was ranked; " in (
        render_markdown(digest)
    )


def test_a_template_error_outside_any_user_template_stays_a_jinja_error():
    import jinja2

    with pytest.raises(jinja2.UndefinedError), template_errors("my"):
        raise jinja2.UndefinedError("'x' is undefined")


def test_a_paper_without_authors_leaves_no_dangling_separator():
    # A file import can carry a paper with no authors: no " / " before nothing in the
    # top picks and no line opening with " · " in its section.
    anonymous = ranked("2505.00003", "Nobody wrote this", "Knowledge Distillation", 0.9, ())
    digest = build_digest(
        Month.parse("2025-05"),
        Ranking(considered=1, by_category={"Knowledge Distillation": [anonymous]}, unmatched=0),
        {},
        top=10,
        by="submitted",
        arxiv_categories=["cs.CV"],
        top_picks=[anonymous],
    )
    text = render_markdown(digest)
    assert "    - [Original Paper Link](https://arxiv.org/pdf/2505.00003)\n" in text
    assert "\n   `cs.CV` · score 0.900 · why: distillation\n" in text
    assert " / \n" not in text and "\n    · " not in text and "\n   · " not in text


# N2: _backup falls back to a copy where hard links are refused, so the write succeeds.
# (The existing test_without_hard_links_the_earlier_file_is_copied_aside_and_put_back
# passes even when the fallback raises: the write then fails before any rename, which
# also leaves the earlier files as they were.)
def test_without_hard_links_a_write_still_replaces_the_files(tmp_path, monkeypatch):
    md, js = tmp_path / "x.md", tmp_path / "x.json"
    write_files_atomic({md: "earlier digest\n", js: "earlier json\n"})

    def no_hard_links(src, dst, **kwargs):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))  # as on FAT or some FUSE mounts

    monkeypatch.setattr(os, "link", no_hard_links)
    write_files_atomic({md: "new digest\n", js: "new json\n"})
    assert (md.read_text(), js.read_text()) == ("new digest\n", "new json\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.md"]


def test_no_line_of_a_digest_or_its_trends_ends_in_blanks_that_a_whitespace_hook_strips():
    # A pre-commit "trailing-whitespace" hook strips Markdown's two-space hard breaks
    # and fails the commit: every digest commit would be refused.  The line breaks
    # inside an entry are a backslash instead (CommonMark, shown the same on GitHub).
    import dataclasses

    from test_trends import CATEGORIES, store_with, three_months
    from trenddigest.config import RankConfig
    from trenddigest.trends import (
        ExamplePaper,
        RisingTerm,
        build_trend_report,
        build_trends_section,
        render_trend_report,
        render_trends_section,
    )

    store = store_with(three_months())
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    term = RisingTerm(
        "distillation", 6, 30, 2, 50, 2.5, (ExamplePaper("2506.00001", "A paper that uses it"),)
    )
    section = dataclasses.replace(section, rising=[term])
    report = build_trend_report(store, CATEGORIES, RankConfig(), Month(2025, 4), Month(2025, 6))
    pages = [
        render_markdown(sample_digest()),
        render_trends_section(section, include_top_picks=True),
        render_trend_report(report),
    ]
    assert "e.g. [A paper that uses it](https://arxiv.org/abs/2506.00001)" in pages[1]
    assert "### Top picks" in pages[1] and "### Top picks" in pages[2]
    for text in pages:
        assert [line for line in text.splitlines() if line != line.rstrip()] == []


def test_a_rising_term_with_examples_breaks_its_line_with_a_backslash():
    import dataclasses

    from test_trends import CATEGORIES, store_with, three_months
    from trenddigest.config import RankConfig
    from trenddigest.trends import (
        ExamplePaper,
        RisingTerm,
        build_trends_section,
        render_trends_section,
    )

    store = store_with(three_months())
    section = build_trends_section(store, CATEGORIES, RankConfig(), Month(2025, 6))
    term = RisingTerm("distillation", 6, 30, 2, 50, 2.5, (ExamplePaper("2506.00001", "P"),))
    text = render_trends_section(dataclasses.replace(section, rising=[term]))
    assert "\\\n   e.g. [P](https://arxiv.org/abs/2506.00001)\n" in text


def test_the_footer_credits_arxiv_and_links_no_one_elses_project():
    # pypi.org/project/trenddigest is another project's page.
    text = render_markdown(digest_of_categories(["Detection"]))
    assert text.rstrip("\n").splitlines()[-1] == (
        "Generated by trenddigest from arXiv metadata. Thank you to arXiv for use of its "
        "open access interoperability."
    )
