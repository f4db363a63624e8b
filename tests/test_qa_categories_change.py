"""A lab that curates its categories over the year: renames, splits, drops, pastes.

Each digest must reflect the categories file in force when it was made, the caches
must follow every change that decides a result (and be reused otherwise), the trends
must compare with earlier months ranked by the current categories, and a candidate
category pasted from the emerging topics must load and take its papers.  Synthetic
papers only (tests/synthetic.py); the CLI is driven as a user drives it.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from synthetic import KD_CATEGORY_TOML, make_papers, write_jsonl
from trenddigest import trends
from trenddigest.categories import find_categories_file, load_categories, loads_categories
from trenddigest.cli import main
from trenddigest.models import Paper
from trenddigest.trends import TrendOptions, emerging_topics

DETECTION_TOML = """
[[category]]
name = "Object Detection"
description = "Locating and classifying objects in images with bounding boxes."
keywords = ["object detection", { term = "bounding box", weight = 2.0 }, "detector"]
"""


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A lab's folder: its own config/categories.toml, three months of papers imported."""
    monkeypatch.chdir(tmp_path)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_ARXIV_API_URL"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "categories.toml").write_text(KD_CATEGORY_TOML + DETECTION_TOML)
    papers = [
        p for i, m in enumerate(("2025-03", "2025-04", "2025-05")) for p in make_papers(m, seed=i)
    ]
    write_jsonl(tmp_path / "papers.jsonl", papers)
    assert main(["-q", "import", "papers.jsonl"]) == 0
    return tmp_path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def digest_json(root: Path, month: str) -> dict:
    year = month[:4]
    return json.loads((root / "digests" / year / f"{month}.json").read_text(encoding="utf-8"))


def momentum(root: Path, month: str) -> dict[str, dict]:
    return {row["name"]: row for row in digest_json(root, month)["trends"]["categories"]}


# --------------------------------------------------------------------------- what held


def test_a_renamed_category_is_compared_with_its_own_earlier_papers(lab, capsys):
    """The months before are ranked with today's file: a rename is no new category."""
    assert run_cli(capsys, "run", "--month", "2025-05", "--offline")[0] == 0
    before = momentum(lab, "2025-05")["Knowledge Distillation"]
    assert before["share_3"] is not None and before["count"] > 0
    path = lab / "config" / "categories.toml"
    path.write_text(path.read_text().replace('"Knowledge Distillation"', '"Teacher-Student"'))
    assert run_cli(capsys, "run", "--month", "2025-05", "--offline")[0] == 0
    after = momentum(lab, "2025-05")
    assert "Knowledge Distillation" not in after
    assert after["Teacher-Student"]["share_3"] == before["share_3"]
    assert after["Teacher-Student"]["count"] == before["count"]


def test_reverting_the_categories_file_gives_back_the_first_digest_byte_for_byte(lab, capsys):
    path = lab / "config" / "categories.toml"
    original = path.read_text()
    assert run_cli(capsys, "run", "--month", "2025-05", "--offline")[0] == 0
    first = {p: p.read_bytes() for p in (lab / "digests" / "2025").iterdir()}
    # Split: detection loses "detector" to a category of its own.
    path.write_text(
        original.replace(', "detector"]', "]")
        + '\n[[category]]\nname = "Detectors"\ndescription = "Detector heads."\n'
        'keywords = ["detector"]\n'
    )
    assert run_cli(capsys, "run", "--month", "2025-05", "--offline")[0] == 0
    assert "Detectors" in momentum(lab, "2025-05")
    path.write_text(original)
    assert run_cli(capsys, "run", "--month", "2025-05", "--offline")[0] == 0
    assert {p: p.read_bytes() for p in first} == first


# --------------------------------------------------------------------------- categories file


def test_a_dangling_local_categories_link_is_reported_not_replaced_by_the_default(
    tmp_path, monkeypatch, capsys
):
    """A lab that links config/categories.toml to its shared copy, which moved, must
    not get digests of the packaged 27 categories without a word."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRENDDIGEST_CONFIG", raising=False)
    (tmp_path / "config").mkdir()
    link = tmp_path / "config" / "categories.toml"
    os.symlink(tmp_path / "shared" / "categories.toml", link)
    assert find_categories_file(None, cwd=tmp_path) == link
    code, out, err = run_cli(capsys, "--store", "none.sqlite3", "categories", "list")
    assert (code, out) == (2, "")
    assert err == (
        f"trenddigest: error: {link}: categories file not found; check the path, "
        "or omit it to use the packaged default\n"
    )


def test_a_categories_file_saved_with_a_byte_order_mark_loads(tmp_path):
    """Some editors start UTF-8 files with a BOM; it is invisible, so an error at
    "line 1, column 1" would send the curator looking for a mistake that is not there."""
    path = tmp_path / "categories.toml"
    path.write_bytes(b"\xef\xbb\xbf" + KD_CATEGORY_TOML.encode("utf-8"))
    assert load_categories(path) == loads_categories(KD_CATEGORY_TOML)


# --------------------------------------------------------------------------- caches


def _teacher_notes(month: str, n: int) -> list[Paper]:
    """Papers that use "teacher" and "student" in another sense (a classroom)."""
    yymm = month[2:4] + month[5:7]
    return [
        Paper(
            id=f"{yymm}.{500 + i:05d}",
            title=f"Classroom notes {i}",
            abstract="A teacher and a student in a classroom.",
            authors=["A. Author"],
        )
        for i in range(n)
    ]


def test_with_background_idf_a_digest_does_not_depend_on_which_months_ran_before(
    tmp_path, monkeypatch
):
    """With [rank] background_idf the idf of a month also counts the two months
    before it; 2025-05's own digest places fewer classroom papers than a ranking of
    2025-05 alone would.  2025-06's momentum must compare with the same counts
    whether or not 2025-05's digest was made first."""
    papers: list[Paper] = []
    for seed, month in enumerate(("2025-03", "2025-04", "2025-05", "2025-06")):
        busy = month in ("2025-03", "2025-04")
        papers += make_papers(month, seed=seed) + _teacher_notes(month, 60 if busy else 6)
    outputs = []
    for order in (["2025-06"], ["2025-05", "2025-06"]):
        root = tmp_path / "-".join(order)
        root.mkdir()
        monkeypatch.chdir(root)
        (root / "cats.toml").write_text(KD_CATEGORY_TOML)
        (root / "td.toml").write_text(
            '[rank]\nbackground_idf = true\n[digest]\ncategories_file = "cats.toml"\n'
        )
        write_jsonl(root / "papers.jsonl", papers)
        assert main(["-q", "--config", "td.toml", "import", "papers.jsonl"]) == 0
        for month in order:
            assert main(["-q", "--config", "td.toml", "run", "--month", month, "--offline"]) == 0
        outputs.append((root / "digests" / "2025" / "2025-06.md").read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]


def test_a_trend_report_over_digested_months_ranks_no_month_again(lab, capsys, monkeypatch):
    """Re-running `trends` after the months' digests costs lookups, not rankings."""
    for month in ("2025-03", "2025-04", "2025-05"):
        assert run_cli(capsys, "run", "--month", month, "--offline")[0] == 0

    def must_not_rank(*args, **kwargs):
        raise AssertionError("ranked a month whose ranking the store holds")

    monkeypatch.setattr(trends, "rank_papers", must_not_rank)
    code, out, err = run_cli(capsys, "trends", "--from", "2025-03", "--to", "2025-05", "--dry-run")
    assert (code, err) == (0, "")
    assert "Knowledge Distillation" in out


# --------------------------------------------------------------------------- candidates

_TOPICS = {
    "quantum": [
        "Quantum circuits compile variational ansatz layers onto superconducting qubits.",
        "Our quantum error mitigation lowers the noise of qubit readout.",
        "Variational quantum circuits are trained with parameter shift gradients.",
        "Entangled qubits encode the quantum state of the circuit.",
    ],
    "protein": [
        "Protein folding predicts the structure of amino acid chains.",
        "Our protein language model embeds amino acid sequences.",
        "Binding affinity of protein ligands is predicted from folding features.",
        "Residue contacts constrain the predicted protein structure.",
    ],
}


def _cluster_papers(month: str, per_topic: int = 25) -> list[Paper]:
    rng = random.Random(3)
    yymm = month[2:4] + month[5:7]
    papers = []
    for topic, sentences in _TOPICS.items():
        for i in range(per_topic):
            papers.append(
                Paper(
                    id=f"{yymm}.{len(papers) + 1:05d}",
                    title=f"{topic.title()} study {i}",
                    abstract=" ".join(rng.sample(sentences, 3)),
                    authors=["A. Author"],
                )
            )
    return papers


def test_a_candidate_is_never_named_like_a_category_the_file_already_has():
    """A lab that pasted "X" and, on a re-run of the month, "X (2025-05)" must be
    offered a third name it can paste too, not a duplicate the loader refuses."""
    papers = _cluster_papers("2025-05")
    options = TrendOptions(min_unmatched=30)
    first = emerging_topics(papers, "2025-05", options)[0].name
    taken = [first, f"{first} (2025-05)"]
    topics = emerging_topics(papers, "2025-05", options, existing=taken)
    file = "".join(
        f'[[category]]\nname = "{name}"\ndescription = "Pasted."\nkeywords = ["qubit"]\n'
        for name in taken
    )
    for topic in topics:
        assert topic.name.casefold() not in {n.casefold() for n in taken}
        assert len(loads_categories(file + "\n" + topic.toml)) == 3


# --------------------------------------------------------------------------- import


def test_categories_import_refuses_to_write_over_the_list_it_reads(tmp_path, capsys):
    reading_list = tmp_path / "list.md"
    text = (
        "# Our list\n\n## Knowledge Distillation\n"
        "- [Distilling the Knowledge in a Neural Network](https://arxiv.org/abs/1503.02531)\n"
    )
    reading_list.write_text(text)
    code, out, err = run_cli(
        capsys, "categories", "import", str(reading_list), "-o", str(reading_list)
    )
    assert (code, out) == (2, "")
    assert err == (
        f"trenddigest: error: -o {reading_list} is the reading list being imported; "
        "give another file name\n"
    )
    assert reading_list.read_text() == text


# --------------------------------------------------------------------------- excludes


def test_an_exclude_word_vetoes_papers_using_it_not_every_word_sharing_its_stem():
    """A curator who adds exclude = ["distilled"] (distilled water, distilled spirits)
    must not find the distillation category emptied: its papers never say "distilled"."""
    from trenddigest.config import RankConfig
    from trenddigest.rank import rank_papers

    papers = make_papers("2025-05")
    assert not any("distilled" in f"{p.title} {p.abstract}".lower() for p in papers)
    plain = loads_categories(KD_CATEGORY_TOML)
    excluding = loads_categories(
        KD_CATEGORY_TOML.replace("papers =", 'exclude = ["distilled"]\npapers =')
    )
    assert excluding[0].exclude == ["distilled"]
    placed = [
        [
            rp.paper.id
            for rp in rank_papers(papers, cats, RankConfig()).by_category["Knowledge Distillation"]
        ]
        for cats in (plain, excluding)
    ]
    assert placed[0], "the synthetic distillation papers are placed without the exclude"
    assert placed[1] == placed[0]
