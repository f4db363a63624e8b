"""QA as a lab member reading the digest on GitHub: what GitHub (cmark-gfm, its
heading anchors, its Mermaid) makes of the Markdown must be what the digest means.

Every case is synthetic; each asserts the exact Markdown (or Mermaid) text, whose
rendering was checked against cmark-gfm and mermaid 11 outside the suite.
"""

from __future__ import annotations

import pytest

from synthetic import KD_CATEGORY_TOML, make_papers, write_jsonl
from trenddigest.chart import VolumeSeries, mermaid_xychart
from trenddigest.cli import main
from trenddigest.models import Month, Paper
from trenddigest.rank import RankedPaper, Ranking
from trenddigest.render import build_digest, github_anchor, md_escape, render_markdown


def _digest_text(category: str, authors: list[str] | None = None) -> str:
    paper = Paper(
        id="2505.00001",
        title="A paper",
        abstract="abstract",
        authors=authors or ["Ada Lovelace"],
        categories=["cs.CV"],
        primary_category="cs.CV",
    )
    ranking = Ranking(
        considered=1, by_category={category: [RankedPaper(paper, category, 0.5, [])]}, unmatched=0
    )
    digest = build_digest(
        Month.parse("2025-05"), ranking, {}, top=10, by="submitted", arxiv_categories=["cs.CV"]
    )
    return render_markdown(digest)


def _chart(name: str) -> str:
    return mermaid_xychart(VolumeSeries(["2025-04", "2025-05"], {name: [3, 4]}), "Papers")


# -- Mermaid xychart labels --------------------------------------------------------------


def test_mermaid_label_with_double_percent_is_encoded_so_the_chart_still_parses():
    # Mermaid reads "%%" as the start of a comment or an %%{init}%% directive anywhere
    # in the block: a line label holding it made the whole chart a parse error.
    block = _chart("%%Farming %%{init}%%")
    assert '    line "#37;#37;Farming #37;#37;{init}#37;#37;" [3, 4]' in block
    assert "%%" not in block.split("\n", 2)[2]  # only the init directive line has it


def test_mermaid_label_hash_is_encoded_so_entity_codes_are_shown_as_written():
    # Mermaid decodes "#name;" and "#123;" in labels ("#1;" became a control character).
    block = _chart("C# #1; #quot;")
    assert '    line "C#35; #35;1; #35;quot;" [3, 4]' in block


# -- Heading anchors ---------------------------------------------------------------------


def test_heading_anchor_keeps_combining_marks_as_github_does():
    # GitHub keeps \p{Word} (letters, marks, decimal digits, connectors): the vowel
    # signs of Devanagari and a decomposed accent are part of the anchor.
    assert github_anchor("चिकित्सा") == "चिकित्सा"
    assert github_anchor("Me\u0301dical Imaging") == "me\u0301dical-imaging"


def test_heading_anchor_drops_superscript_digits_as_github_does():
    assert github_anchor("L² Regularisation") == "l-regularisation"


def test_overview_links_a_category_in_an_indic_script_to_its_heading():
    text = _digest_text("चिकित्सा इमेजिंग")
    assert "| [चिकित्सा इमेजिंग](#चिकित्सा-इमेजिंग) | 1 |" in text


# -- Text that GitHub would read as markup -----------------------------------------------


def test_trailing_hash_of_a_category_name_stays_in_its_heading():
    # "## Hashtags #": the " #" is an ATX closing sequence, so GitHub showed "Hashtags".
    text = _digest_text("Hashtags #")
    assert "\n## Hashtags \\#\n" in text
    assert "| [Hashtags \\#](#hashtags-) | 1 |" in text


def test_trailing_hash_run_is_escaped_only_after_a_space():
    assert md_escape("Topic ##") == "Topic \\##"
    assert md_escape("C#") == "C#"
    assert md_escape("#") == "\\#"


def test_web_addresses_in_authors_are_not_turned_into_links():
    # GitHub autolinks www. and http(s)/ftp:// in running text (the author line is not
    # inside the title's link); escaping the "." or ":" stops it and shows the same text.
    text = _digest_text("Detection", authors=["Lab www.example.org", "see https://x.org/a"])
    assert "   Lab www\\.example.org, see https\\://x.org/a · `cs.CV`" in text


def test_web_address_escapes_cover_upper_case_schemes_and_ftp():
    assert md_escape("HTTP://a.org Ftp://b.org") == "HTTP\\://a.org Ftp\\://b.org"


# -- The trend report's PNG chart --------------------------------------------------------


def test_trend_report_png_link_works_when_the_report_name_has_spaces_and_parentheses(
    tmp_path, monkeypatch, capsys
):
    # "![t](my trends (v2).png)" is no image in CommonMark (a destination cannot hold a
    # space): GitHub showed the Markdown source instead of the chart.
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "cats.toml").write_text(KD_CATEGORY_TOML)
    write_jsonl(tmp_path / "may.jsonl", make_papers("2025-05"))
    write_jsonl(tmp_path / "june.jsonl", make_papers("2025-06", per_topic=8, seed=3))
    assert main(["import", "may.jsonl", "june.jsonl"]) == 0
    argv = ["trends", "--from", "2025-05", "--to", "2025-06", "--categories", "cats.toml"]
    assert main([*argv, "--output", "out/my trends (v2).md"]) == 0
    capsys.readouterr()
    text = (tmp_path / "out" / "my trends (v2).md").read_text()
    assert (tmp_path / "out" / "my trends (v2).png").is_file()
    assert "![Papers per category, 2025-05 to 2025-06](my%20trends%20%28v2%29.png)\n" in text
