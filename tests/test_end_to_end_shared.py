"""The real thing: a month of real arXiv metadata through import -> run -> digest.

Uses ../shared/data/arxiv (never copied into the repo); skipped when absent, required
under CI.  Three hand-picked papers whose titles leave no doubt about their topic must
land under the right heading.
"""

import json

import pytest

from trenddigest.categories import load_categories
from trenddigest.cli import main
from trenddigest.render import md_escape

OBVIOUS = {
    "2505.04380": "Medical Image Registration",  # Tetrahedron-Net for Medical Image Registration
    "2505.07162": "Knowledge Distillation",  # KDH-MLTC: Knowledge Distillation for ... Text
    "2505.15160": "Vision Transformers",  # Lossless Token Merging ... in Vision Transformers
}


@pytest.fixture(scope="module")
def may_2025(shared_dir, tmp_path_factory):
    data = shared_dir / "data/arxiv/daily-arxiv-ai-enhanced/derived"
    source = data / "papers_2025-04_to_2025-07.derived.jsonl.gz"
    work = tmp_path_factory.mktemp("e2e")
    store = str(work / "store.sqlite3")
    out = str(work / "digests/{year}/{year}-{month}.md")
    assert main(["import", str(source), "--store", store, "-q"]) == 0
    common = ["run", "--month", "2025-05", "--offline", "--store", store, "--output", out, "-q"]
    # Every placed paper listed, so that the Markdown shows where each one landed.
    assert main([*common, "--top", "100000"]) == 0
    assert main([*common, "--format", "json", "--top", "100000"]) == 0
    markdown = (work / "digests/2025/2025-05.md").read_text()
    ranking = json.loads((work / "digests/2025/2025-05.json").read_text())
    return markdown, ranking


def test_digest_has_the_month_heading_overview_and_every_category(may_2025):
    markdown, _ = may_2025
    assert markdown.startswith("# Research Trends: May, 2025\n")
    assert "## Overview" in markdown
    for category in load_categories(None):
        assert f"\n## {md_escape(category.name)}\n" in markdown


def test_every_month_paper_is_considered_once(may_2025):
    _, ranking = may_2025
    listed = [p["id"] for c in ranking["categories"] for p in c["papers"]]
    assert ranking["considered"] == 5811
    assert len(listed) == len(set(listed)) == ranking["matched"]
    assert ranking["matched"] + ranking["unmatched"] == 5811


def test_obvious_papers_land_under_the_right_heading(may_2025):
    markdown, ranking = may_2025
    placed = {p["id"]: c["name"] for c in ranking["categories"] for p in c["papers"]}
    assert {pid: placed.get(pid) for pid in OBVIOUS} == OBVIOUS
    sections = markdown.split("\n## ")
    headings = {
        pid: [s.split("\n", 1)[0] for s in sections if f"](https://arxiv.org/abs/{pid})**" in s]
        for pid in OBVIOUS
    }
    assert headings == {pid: [md_escape(name)] for pid, name in OBVIOUS.items()}


def test_listed_papers_are_of_the_month_with_their_authors(may_2025):
    markdown, ranking = may_2025
    papers = [p for c in ranking["categories"] for p in c["papers"]]
    assert {p["id"][:4] for p in papers} == {"2505"}
    assert all(p["authors"] and p["title"] for p in papers)
    first = ranking["categories"][0]["papers"][0]
    authors = ", ".join(first["authors"][:3]) + (" et al." if len(first["authors"]) > 3 else "")
    assert f"\n   {md_escape(authors)} · `{first['primary_category']}` · score " in markdown


def test_listed_papers_link_to_arxiv_and_carry_why_terms(may_2025):
    markdown, ranking = may_2025
    top = ranking["categories"][0]["papers"][0]
    assert f"(https://arxiv.org/abs/{top['id']})" in markdown
    assert f"(https://arxiv.org/pdf/{top['id']})" in markdown
    assert top["why"]
