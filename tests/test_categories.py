"""Curated categories: the packaged default, strict loading, TOML writing, Markdown import."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trenddigest.categories import (
    Category,
    Exemplar,
    Keyword,
    category_to_toml,
    default_categories_path,
    find_categories_file,
    import_markdown,
    load_categories,
    loads_categories,
)
from trenddigest.errors import ConfigError, InputError
from trenddigest.markdown import Fences

VALID = """
[[category]]
name = "Knowledge Distillation"
description = "Teacher to student transfer."
keywords = ["knowledge distillation", { term = "teacher-student", weight = 2.0 }]
papers = [{ id = "1503.02531", title = "Distilling the Knowledge in a Neural Network" }]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "categories.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    """The message load_categories raises for ``text``, which must be a single line
    naming the file by the path it was given (returned with just the file's name)."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_categories(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.replace(str(path), path.name, 1)


def seed_text(shared_dir: Path) -> str:
    seeds = sorted((shared_dir / "seeds").glob("00[0-4]_*.txt"))
    assert len(seeds) == 5, f"expected five seed lists in {shared_dir / 'seeds'}"
    return "\n".join(p.read_text(encoding="utf-8") for p in seeds)


def squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


# --------------------------------------------------------------------------- packaged default


def test_packaged_default_has_at_least_twenty_categories() -> None:
    assert len(load_categories()) >= 20


def test_every_default_category_has_a_paragraph_keywords_and_exemplars() -> None:
    for cat in load_categories():
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", cat.description) if s]
        assert 2 <= len(sentences) <= 4, cat.name
        assert 8 <= len(cat.keywords) <= 20, cat.name
        assert 2 <= len(cat.papers) <= 8, cat.name


def test_default_is_read_from_the_package_data_file() -> None:
    path = default_categories_path()
    assert path.name == "categories.toml" and path.is_file()
    assert load_categories(path) == load_categories(None)


def test_every_default_exemplar_id_appears_in_a_seed_list(shared_dir: Path) -> None:
    seeds = seed_text(shared_dir)
    missing = [p.id for c in load_categories() for p in c.papers if p.id not in seeds]
    assert missing == []


def test_every_default_exemplar_title_is_the_title_a_seed_list_gives_that_id(
    shared_dir: Path,
) -> None:
    # The seeds put a paper's title on its link's line (tables, bullets) or on a line of
    # its own just above (001's "- Title" then "- [Original Paper Link](...)", 002's
    # bare links); a line above that links a paper itself names that other paper.
    link = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})")
    lines = seed_text(shared_dir).splitlines()
    around: dict[str, str] = {}
    for number, line in enumerate(lines):
        above = lines[number - 1] if number and not link.search(lines[number - 1]) else ""
        for match in link.finditer(line):
            around[match.group(1)] = around.get(match.group(1), "") + "|" + squash(above + line)
    wrong = [
        (p.id, p.title)
        for c in load_categories()
        for p in c.papers
        if squash(p.title) not in around.get(p.id, "")
    ]
    assert wrong == []


# --------------------------------------------------------------------------- locating


def test_an_explicit_categories_path_wins(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "categories.toml").write_text(VALID, encoding="utf-8")
    explicit = tmp_path / "mine.toml"
    assert find_categories_file(explicit, cwd=tmp_path) == explicit


def test_a_local_config_folder_wins_over_the_packaged_default(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    local = tmp_path / "config" / "categories.toml"
    local.write_text(VALID, encoding="utf-8")
    assert find_categories_file(None, cwd=tmp_path) == local


def test_without_a_local_file_the_packaged_default_applies(tmp_path: Path) -> None:
    assert find_categories_file(None, cwd=tmp_path) == default_categories_path()


# --------------------------------------------------------------------------- loading


def test_a_valid_file_loads_into_dataclasses(tmp_path: Path) -> None:
    [cat] = load_categories(write(tmp_path, VALID))
    assert cat == Category(
        name="Knowledge Distillation",
        description="Teacher to student transfer.",
        keywords=[Keyword("knowledge distillation", 1.0), Keyword("teacher-student", 2.0)],
        exclude=[],
        papers=[Exemplar("1503.02531", "Distilling the Knowledge in a Neural Network")],
        threshold=None,
    )


def test_unknown_key_error_names_file_category_key_and_the_likely_fix(tmp_path: Path) -> None:
    text = (
        VALID
        + VALID.replace("Knowledge Distillation", "Semi-Supervised")
        + ('[[category]]\nname = "Object Detection"\ndescription = "Boxes."\nkeywrds = ["yolo"]\n')
    )
    assert config_error(tmp_path, text) == (
        "categories.toml: category 3 (\"Object Detection\"): unknown key 'keywrds' "
        "(did you mean 'keywords'?)"
    )


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    message = config_error(tmp_path, VALID + 'colour = "red"\n')
    assert message == (
        "categories.toml: category 1 (\"Knowledge Distillation\"): unknown key 'colour' "
        "(allowed keys: name, description, keywords, exclude, require, papers, threshold)"
    )


def test_require_terms_load_with_their_whitespace_folded(tmp_path: Path) -> None:
    [cat] = load_categories(write(tmp_path, VALID + 'require = ["MRI", " x-ray\\tscans "]\n'))
    assert cat.require == ["MRI", "x-ray scans"]


def test_require_that_is_not_an_array_is_refused_in_one_line(tmp_path: Path) -> None:
    assert config_error(tmp_path, VALID + 'require = "MRI"\n') == (
        "categories.toml: category 1 (\"Knowledge Distillation\"): 'require' must be an array, "
        "got a string"
    )


def test_an_empty_require_term_is_refused_with_its_position(tmp_path: Path) -> None:
    assert config_error(tmp_path, VALID + 'require = ["MRI", "  "]\n') == (
        'categories.toml: category 1 ("Knowledge Distillation"): require[2] is empty; remove it'
    )


def test_a_term_both_required_and_excluded_is_refused(tmp_path: Path) -> None:
    text = VALID + 'exclude = ["CT scans"]\nrequire = ["MRI", "CT scan"]\n'
    assert config_error(tmp_path, text) == (
        'categories.toml: category 1 ("Knowledge Distillation"): require[2]: "CT scan" is '
        'also excluded ("CT scans"); remove it from one of the two lists'
    )


def test_misspelt_top_level_table_is_reported_with_a_suggestion(tmp_path: Path) -> None:
    message = config_error(tmp_path, VALID.replace("[[category]]", "[[categories]]"))
    assert message == "categories.toml: unknown key 'categories' (did you mean 'category'?)"


def test_wrong_type_is_named_in_toml_terms(tmp_path: Path) -> None:
    text = VALID.replace(
        'keywords = ["knowledge distillation", { term = "teacher-student", weight = 2.0 }]',
        'keywords = "knowledge distillation"',
    )
    assert config_error(tmp_path, text) == (
        'categories.toml: category 1 ("Knowledge Distillation"): '
        "'keywords' must be an array, got a string"
    )


def test_missing_description_says_which_key_to_add(tmp_path: Path) -> None:
    text = VALID.replace('description = "Teacher to student transfer."\n', "")
    message = config_error(tmp_path, text)
    assert message.startswith(
        'categories.toml: category 1 ("Knowledge Distillation"): missing required key '
        "'description'; add description = "
    )


def test_missing_name_is_reported_by_category_number(tmp_path: Path) -> None:
    message = config_error(tmp_path, VALID.replace('name = "Knowledge Distillation"\n', ""))
    assert message.startswith("categories.toml: category 1: missing required key 'name'")


def test_empty_keyword_list_is_rejected(tmp_path: Path) -> None:
    text = re.sub(r"keywords = \[.*\]", "keywords = []", VALID)
    assert "'keywords' is empty" in config_error(tmp_path, text)


def test_duplicate_category_names_are_rejected_ignoring_case(tmp_path: Path) -> None:
    text = VALID + VALID.replace("Knowledge Distillation", "knowledge distillation")
    assert config_error(tmp_path, text) == (
        'categories.toml: category 2 ("knowledge distillation"): duplicate name, already used '
        "by category 1; give each category a unique name"
    )


@pytest.mark.parametrize("weight", ["0", "-1.5", "inf", "nan"])
def test_keyword_weights_must_be_positive_finite_numbers(tmp_path: Path, weight: str) -> None:
    text = VALID.replace("weight = 2.0", f"weight = {weight}")
    message = config_error(tmp_path, text)
    assert "keywords[2] ('teacher-student'): 'weight' must be a positive number" in message


@pytest.mark.parametrize("weight", ['"2"', "true"])
def test_keyword_weight_of_another_type_is_rejected(tmp_path: Path, weight: str) -> None:
    text = VALID.replace("weight = 2.0", f"weight = {weight}")
    assert "'weight' must be a positive number, got a" in config_error(tmp_path, text)


def test_integer_weight_is_accepted_as_a_float(tmp_path: Path) -> None:
    [cat] = load_categories(write(tmp_path, VALID.replace("weight = 2.0", "weight = 3")))
    assert cat.keywords[1] == Keyword("teacher-student", 3.0)


def test_misspelt_keyword_field_gets_a_suggestion(tmp_path: Path) -> None:
    message = config_error(tmp_path, VALID.replace("weight = 2.0", "wieght = 2.0"))
    assert message.endswith("keywords[2]: unknown key 'wieght' (did you mean 'weight'?)")


def test_exemplar_ids_are_stored_without_version(tmp_path: Path) -> None:
    [cat] = load_categories(write(tmp_path, VALID.replace('"1503.02531"', '"arXiv:1503.02531v9"')))
    assert cat.papers[0].id == "1503.02531"


def test_exemplar_id_that_is_not_an_arxiv_id_is_rejected(tmp_path: Path) -> None:
    message = config_error(tmp_path, VALID.replace('"1503.02531"', '"15-03-02531"'))
    assert message.endswith(
        'papers[1]: "15-03-02531" is not an arXiv id; write it like "1503.02531" or "math/0601001"'
    )


@pytest.mark.parametrize("value", ["1.5", "-0.1", '"high"'])
def test_threshold_must_be_a_similarity_between_zero_and_one(tmp_path: Path, value: str) -> None:
    assert "'threshold' must be" in config_error(tmp_path, VALID + f"threshold = {value}\n")


def test_threshold_inside_range_is_kept(tmp_path: Path) -> None:
    [cat] = load_categories(write(tmp_path, VALID + "threshold = 0.2\n"))
    assert cat.threshold == 0.2


def test_toml_syntax_error_becomes_a_one_line_config_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, VALID + "name = \n")
    assert message == (
        "categories.toml: TOML syntax error: Invalid value (at line 7, column 8); "
        "fix the syntax at that position"
    )


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="categories file not found"):
        load_categories(tmp_path / "nope.toml")


def test_file_without_categories_is_rejected(tmp_path: Path) -> None:
    assert "add at least one [[category]] table" in config_error(tmp_path, "# nothing yet\n")


# --------------------------------------------------------------------------- writing


def test_category_to_toml_round_trips_strings_that_need_escaping() -> None:
    cat = Category(
        name='Odd "Names" \\ Co',
        description="Tabs\tand unicode: Ünïcödé, 16×16 — and a bell \x07.",
        keywords=[Keyword("plain"), Keyword('quoted "term"', 2.5), Keyword("back\\slash", 0.5)],
        exclude=['say "no"'],
        papers=[Exemplar("math/0601001", 'A "Quoted" Title')],
        threshold=0.25,
    )
    [back] = loads_categories(category_to_toml(cat))
    assert back == Category(
        name=cat.name,
        description="Tabs and unicode: Ünïcödé, 16×16 — and a bell \x07.",  # whitespace folded
        keywords=cat.keywords,
        exclude=cat.exclude,
        papers=cat.papers,
        threshold=0.25,
    )


def test_a_require_term_holding_an_excluded_term_is_refused(tmp_path: Path) -> None:
    # Every paper saying "CT scans" says "CT", which vetoes it: the term admits nothing.
    text = VALID + 'exclude = ["CT"]\nrequire = ["MRI", "CT scans"]\n'
    assert config_error(tmp_path, text) == (
        'categories.toml: category 1 ("Knowledge Distillation"): require[2]: "CT scans" holds '
        'the excluded term "CT", so every paper it admits is vetoed; remove one of them'
    )


def test_a_require_term_that_is_a_common_word_in_any_case_is_refused(tmp_path: Path) -> None:
    # "US" (ultrasound) matches the "us" of "allows us": the category would be open to all.
    assert config_error(tmp_path, VALID + 'require = ["MRI", "US"]\n') == (
        'categories.toml: category 1 ("Knowledge Distillation"): require[2]: "US" reads as '
        'the common word "us" (terms match in any case), so it would admit papers that '
        'merely use it; spell the term out (e.g. "ultrasound" for "US") or remove it'
    )


def test_an_exclude_abbreviation_that_is_a_common_word_is_refused(tmp_path: Path) -> None:
    assert config_error(tmp_path, VALID + 'exclude = ["OR"]\n') == (
        'categories.toml: category 1 ("Knowledge Distillation"): exclude[1]: "OR" reads '
        'as the common word "or" (terms match in any case), so it would veto papers '
        'that merely use it; spell the term out (e.g. "ultrasound" for "US") or remove it'
    )


def test_a_keyword_abbreviation_that_is_a_common_word_is_refused(tmp_path: Path) -> None:
    text = VALID.replace('"knowledge distillation", ', '"knowledge distillation", "IT", ')
    assert config_error(tmp_path, text) == (
        'categories.toml: category 1 ("Knowledge Distillation"): keywords[2]: "IT" reads '
        'as the common word "it" (terms match in any case), so it would match papers '
        'that merely use it; spell the term out (e.g. "ultrasound" for "US") or remove it'
    )


def test_a_common_word_written_in_lower_case_is_taken_as_that_word(tmp_path: Path) -> None:
    [cat] = load_categories(write(tmp_path, VALID + 'exclude = ["fire"]\n'))
    assert cat.exclude == ["fire"]


def test_a_require_term_with_a_common_word_beside_a_rare_one_loads(tmp_path: Path) -> None:
    [cat] = load_categories(write(tmp_path, VALID + 'require = ["in vivo", "US imaging"]\n'))
    assert cat.require == ["in vivo", "US imaging"]


def test_a_require_term_listed_twice_is_refused(tmp_path: Path) -> None:
    assert config_error(tmp_path, VALID + 'require = ["MRI", "CT", "mri"]\n') == (
        'categories.toml: category 1 ("Knowledge Distillation"): require[3]: duplicate term '
        '"mri"; list each term once'
    )


def test_category_to_toml_writes_require_terms_back() -> None:
    cat = Category("X", "Y.", [Keyword("registration")], require=["MRI", 'say "CT"'])
    [back] = loads_categories(category_to_toml(cat))
    assert back.require == cat.require


def test_weight_one_keywords_are_written_as_plain_strings() -> None:
    text = category_to_toml(Category("X", "Y.", [Keyword("plain"), Keyword("strong", 2.0)]))
    assert '    "plain",\n' in text
    assert '    { term = "strong", weight = 2.0 },\n' in text


# --------------------------------------------------------------------------- importing

READING_LIST = """\
# My reading list

Some intro text with a [non-arXiv link](https://example.org).

## Knowledge Distillation
| Year | Paper |
| ---- | ----- |
| 2015 | [Distilling the Knowledge in a Neural Network](https://arxiv.org/abs/1503.02531) |
| 2019 | [Relational Knowledge Distillation](https://arxiv.org/pdf/1904.05068v2.pdf) |
| 2019 | [A Comprehensive Overhaul of Feature Distillation](https://arxiv.org/abs/1904.01866) |

**Object Detection**
- End-to-End Object Detection with Transformers (ECCV 2020)
    - [PDF](https://arxiv.org/pdf/2005.12872.pdf) / [code](https://github.com/facebookresearch/detr)
- Feature Pyramid Networks for Object Detection arXiv:1612.03144

## Research Trends
### June, 2022
- [SIoU Loss: More Powerful Learning for Bounding Box Regression](https://arxiv.org/abs/2205.12740)
### May, 2022
- [Align before Fuse](https://arxiv.org/abs/2107.07651)

## Self-supervised learning
- [Emerging Properties in Self-Supervised Vision Transformers](https://arxiv.org/abs/2104.14294)
### Wk13 - 2020.10.20
- [A Simple Framework for Contrastive Learning of Visual Representations](https://arxiv.org/abs/2002.05709)

## Resources
- [A blog post](https://example.org/blog)

## Knowledge distillation
- [2019 - **[BYOT]** Be Your Own Teacher: Self Distillation](https://arxiv.org/abs/1905.08094)
"""


def imported(text: str = READING_LIST) -> list[Category]:
    return loads_categories(import_markdown(text, "list.md"), "imported.toml")


def test_import_makes_one_category_per_heading_with_arxiv_links() -> None:
    assert [c.name for c in imported()] == [
        "Knowledge Distillation",
        "Object Detection",
        "Self-supervised learning",
    ]


def test_import_reads_abs_pdf_and_arxiv_prefix_links_without_versions() -> None:
    ids = {c.name: [p.id for p in c.papers] for c in imported()}
    assert ids["Knowledge Distillation"][:3] == ["1503.02531", "1904.05068", "1904.01866"]
    assert ids["Object Detection"] == ["2005.12872", "1612.03144"]


def test_import_titles_come_from_link_text_or_the_item_a_bare_link_belongs_to() -> None:
    titles = {p.id: p.title for c in imported() for p in c.papers}
    assert titles["1904.05068"] == "Relational Knowledge Distillation"
    assert titles["2005.12872"] == "End-to-End Object Detection with Transformers"
    assert titles["1612.03144"] == "Feature Pyramid Networks for Object Detection"
    assert titles["1905.08094"] == "BYOT: Be Your Own Teacher: Self Distillation"


def test_import_files_papers_under_dated_headings_in_the_enclosing_topic() -> None:
    ssl = next(c for c in imported() if c.name == "Self-supervised learning")
    assert [p.id for p in ssl.papers] == ["2104.14294", "2002.05709"]


def test_import_leaves_out_a_section_whose_papers_all_sit_under_dated_headings() -> None:
    text = import_markdown(READING_LIST, "list.md")
    assert "2205.12740" not in text and "2107.07651" not in text
    assert (
        '# Left out: "Research Trends" (2 papers, all under dated headings such as '
        '"June, 2022"): a list by date, not a topic.\n'
    ) in text


def test_import_of_a_list_only_by_date_is_an_input_error() -> None:
    text = "## Weekly picks\n### Wk1 - 2020.06.22\n- [A](https://arxiv.org/abs/1905.08094)\n"
    with pytest.raises(InputError) as caught:
        import_markdown(text, "log.md")
    assert str(caught.value) == (
        'log.md: every arXiv link sits under a dated heading (such as "Wk1 - 2020.06.22"), '
        "a list by date rather than by topic; put the papers under topical headings "
        "(# Topic or **Topic**) to import them"
    )


def test_import_merges_sections_that_share_a_name() -> None:
    kd = imported()[0]
    assert [p.id for p in kd.papers][-1] == "1905.08094"
    assert len(kd.papers) == 4


def test_import_keywords_come_from_the_heading_and_shared_title_phrases() -> None:
    kd = imported()[0]
    assert kd.keywords[0] == Keyword("knowledge distillation", 2.0)
    assert "distillation" in [k.term for k in kd.keywords]
    assert kd.description.startswith(
        "Papers the list groups under 'Knowledge Distillation' in list.md."
    )


@pytest.mark.parametrize(
    ("heading", "terms"),
    [
        ("Semantic & Instance Segmentation", ["semantic segmentation", "instance segmentation"]),
        ("Image/Video Generation", ["image generation", "video generation"]),
        (
            "Biomedical Segmentation/Classification + Limited Annotation Techniques",
            ["biomedical segmentation", "biomedical classification", "limited annotation"],
        ),
        ("Detection & Segmentation", ["detection", "segmentation"]),
        ("GANs & Diffusion Models", ["gans", "diffusion models"]),
        ("Object Detection & Tracking", ["object detection", "tracking"]),
        ("June 2022 (continued)", ["june 2022"]),
        (
            "Supervised / Unsupervised Segmentation",
            ["supervised segmentation", "unsupervised segmentation"],
        ),
    ],
)
def test_import_gives_a_coordinated_heading_word_the_phrase_it_shares(
    heading: str, terms: list[str]
) -> None:
    text = f"## {heading}\n- [A paper](https://arxiv.org/abs/1905.08094)\n"
    (category,) = imported(text)
    assert [k.term for k in category.keywords if k.weight == 2.0] == terms


@pytest.mark.parametrize(
    ("heading", "terms"), [("IT & Security", ["security"]), ("The Rest", ["rest"])]
)
def test_import_takes_no_heading_term_made_only_of_common_words(
    heading: str, terms: list[str]
) -> None:
    # "it" or "the" would match nearly every paper (and "IT" written so is refused).
    text = f"## {heading}\n- [A paper](https://arxiv.org/abs/1905.08094)\n"
    (category,) = imported(text)
    assert [k.term for k in category.keywords if k.weight == 2.0] == terms


def test_import_leaves_out_a_section_whose_heading_is_only_a_common_word() -> None:
    text = "## IT\n- [Attention Is All You Need](https://arxiv.org/abs/1706.03762)\n"
    text += "## Detection\n- [Faster R-CNN](https://arxiv.org/abs/1506.01497)\n"
    toml_text = import_markdown(text, "list.md")
    assert [c.name for c in loads_categories(toml_text)] == ["Detection"]
    assert '# Left out: "IT" (1 paper): no English keyword could be derived' in toml_text


def test_import_reads_the_links_after_a_code_block_that_quotes_another_fence() -> None:
    text = (
        "## Detection\n"
        "~~~\n```\n~~~\n"  # a tilde block quoting a backtick fence: closed at its own ~~~
        "- [A paper](https://arxiv.org/abs/1905.08094)\n"
    )
    (category,) = imported(text)
    assert [p.id for p in category.papers] == ["1905.08094"]


def test_markdown_fences_close_only_with_the_same_character_and_length() -> None:
    fences = Fences()
    lines = ["````", "```", "~~~", "````  ", "text"]
    assert [fences.inside(line) for line in lines] == [True, True, True, True, False]


def test_import_is_deterministic() -> None:
    assert import_markdown(READING_LIST, "list.md") == import_markdown(READING_LIST, "list.md")


def test_import_of_a_list_without_arxiv_links_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no heading with an arXiv link"):
        import_markdown("# Topic\n- [Blog](https://example.org)\n", "empty.md")


@pytest.mark.parametrize(
    ("prefix", "at_least"), [("000", 10), ("001", 1), ("002", 30), ("003", 15)]
)
def test_a_seed_reading_list_imports_into_a_loadable_file(
    shared_dir: Path, prefix: str, at_least: int
) -> None:
    [seed] = (shared_dir / "seeds").glob(f"{prefix}_*.txt")
    text = seed.read_text(encoding="utf-8")
    categories = imported(text)
    assert len(categories) >= at_least
    assert all(c.papers and c.keywords for c in categories)
    assert all(p.id in text for c in categories for p in c.papers)


def test_the_seed_lists_monthly_research_trends_are_not_made_a_category(shared_dir: Path) -> None:
    [seed] = (shared_dir / "seeds").glob("001_*.txt")
    text = import_markdown(seed.read_text(encoding="utf-8"), seed.name)
    assert [c.name for c in loads_categories(text, "imported.toml")] == ["Computer Vision"]
    assert '# Left out: "Research Trends" (27 papers' in text


def test_the_seed_list_without_arxiv_links_is_one_clear_error(shared_dir: Path) -> None:
    [seed] = (shared_dir / "seeds").glob("004_*.txt")
    with pytest.raises(InputError, match=r"^004_\w+\.txt: no heading with an arXiv link found"):
        import_markdown(seed.read_text(encoding="utf-8"), seed.name)
