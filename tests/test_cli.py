"""The command line: what a user types, the exit code, and the exact message."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import make_papers, write_jsonl
from trenddigest.cli import main
from trenddigest.store import Store

CATEGORIES = """
[[category]]
name = "Knowledge Distillation"
description = "Transferring what a large teacher network knows into a small student network."
keywords = ["knowledge distillation", { term = "teacher", weight = 2.0 }, "student", "distill"]
papers = [{ id = "1503.02531", title = "Distilling the Knowledge in a Neural Network" }]

[[category]]
name = "Object Detection"
description = "Locating and classifying objects in images with bounding boxes."
keywords = ["object detection", { term = "bounding box", weight = 2.0 }, "detector", "anchor"]
papers = [{ id = "1506.01497", title = "Faster R-CNN: Towards Real-Time Object Detection" }]

[[category]]
name = "Medical Imaging"
description = "Medical image analysis: MRI and CT segmentation, registration and diagnosis."
keywords = ["medical image", "mri", "ct", { term = "registration", weight = 2.0 }, "clinical"]
papers = [{ id = "1809.05231", title = "VoxelMorph: Deformable Medical Image Registration" }]
"""


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A user's folder: relative paths (store, digests) land here."""
    monkeypatch.chdir(tmp_path)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_ARXIV_API_URL"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "cats.toml").write_text(CATEGORIES)
    write_jsonl(tmp_path / "papers.jsonl.gz", make_papers("2025-05"), gz=True)
    return tmp_path


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def imported(capsys):
    return run_cli(capsys, "import", "papers.jsonl.gz")


def test_import_reports_new_then_zero_new_on_repeat(workdir, capsys):
    code, out, _ = imported(capsys)
    assert code == 0
    assert "60 new" in out
    code, out, _ = imported(capsys)
    assert code == 0
    assert "0 new" in out and "60 unchanged" in out


def test_offline_run_writes_the_digest_where_the_pattern_says(workdir, capsys):
    imported(capsys)
    code, out, _ = run_cli(
        capsys, "run", "--month", "2025-05", "--offline", "--categories", "cats.toml"
    )
    digest = workdir / "digests" / "2025" / "2025-05.md"
    assert code == 0
    assert digest.is_file() and (workdir / "digests" / "2025" / "2025-05.json").is_file()
    assert "wrote digests/2025/2025-05.md" in out
    text = digest.read_text()
    assert text.startswith("# Research Trends: May, 2025")
    kd = text[text.index("## Knowledge Distillation") : text.index("## Object Detection")]
    assert "Knowledge Distillation" in kd and "Distillation" in kd.split("1. ", 1)[1].split("\n")[0]


def test_offline_run_is_byte_identical_when_repeated(workdir, capsys):
    imported(capsys)
    args = ("run", "--month", "2025-05", "--offline", "--categories", "cats.toml")
    run_cli(capsys, *args)
    first = (workdir / "digests/2025/2025-05.md").read_bytes()
    run_cli(capsys, *args)
    assert (workdir / "digests/2025/2025-05.md").read_bytes() == first


def test_json_format_with_top_n(workdir, capsys):
    imported(capsys)
    code, _, _ = run_cli(
        capsys,
        "run",
        "--month",
        "2025-05",
        "--offline",
        "--format",
        "json",
        "--top",
        "2",
        "--categories",
        "cats.toml",
    )
    data = json.loads((workdir / "digests/2025/2025-05.json").read_text())
    assert code == 0
    assert data["month"] == "2025-05"
    assert [c["name"] for c in data["categories"]] == [
        "Knowledge Distillation",
        "Object Detection",
        "Medical Imaging",
    ]
    assert all(len(c["papers"]) <= 2 for c in data["categories"])
    assert set(data["categories"][0]["papers"][0]) >= {"id", "title", "score", "why"}
    assert not (workdir / "digests/2025/2025-05.md").exists()


def test_dry_run_prints_and_writes_nothing(workdir, capsys):
    imported(capsys)
    code, out, _ = run_cli(
        capsys, "run", "--month", "2025-05", "--offline", "--dry-run", "--categories", "cats.toml"
    )
    assert code == 0
    assert out.startswith("# Research Trends: May, 2025")
    assert not (workdir / "digests").exists()


def test_from_file_fills_the_month_then_runs(workdir, capsys):
    code, _, _ = run_cli(
        capsys,
        "run",
        "--month",
        "2025-05",
        "--from",
        "papers.jsonl.gz",
        "--categories",
        "cats.toml",
    )
    assert code == 0
    assert (workdir / "digests/2025/2025-05.md").is_file()


def test_bad_month_is_one_line_and_exit_2(workdir, capsys):
    code, out, err = run_cli(capsys, "run", "--month", "2025-13", "--offline")
    assert code == 2
    assert err == (
        "trenddigest: error: invalid month '2025-13': use YYYY-MM with a month from 01 to 12, "
        "e.g. 2025-05\n"
    )
    assert not (workdir / "data").exists()


def test_wrong_config_key_is_one_line_with_a_suggestion(workdir, capsys):
    (workdir / "bad.toml").write_text("[digest]\ntop = 5\n")
    code, _, err = run_cli(capsys, "--config", "bad.toml", "run", "--month", "2025-05", "--offline")
    assert code == 2
    assert err.startswith("trenddigest: error: bad.toml [digest]: unknown key 'top'")
    assert err.count("\n") == 1


def test_global_options_work_after_the_command_too(workdir, capsys):
    imported(capsys)
    code, _, _ = run_cli(
        capsys,
        "run",
        "--month",
        "2025-05",
        "--offline",
        "--store",
        "other.sqlite3",
        "--categories",
        "cats.toml",
    )
    assert code == 2  # the other store is empty
    assert Path("other.sqlite3").exists()


def test_empty_month_offline_says_how_to_fill_it(workdir, capsys):
    code, _, err = run_cli(
        capsys, "run", "--month", "2024-01", "--offline", "--categories", "cats.toml"
    )
    assert code == 2
    assert err == (
        "trenddigest: error: the store data/trenddigest.sqlite3 has no papers first submitted "
        "in 2024-01; import a file (trenddigest import FILE), use --from FILE, or run without "
        "--offline to fetch the month from arXiv\n"
    )


def test_a_failed_run_leaves_the_earlier_digest_untouched(workdir, capsys):
    imported(capsys)
    run_cli(capsys, "run", "--month", "2025-05", "--offline", "--categories", "cats.toml")
    before = (workdir / "digests/2025/2025-05.md").read_bytes()
    (workdir / "broken.toml").write_text("[[category]]\nname = 'X'\n")
    code, _, err = run_cli(
        capsys, "run", "--month", "2025-05", "--offline", "--categories", "broken.toml"
    )
    assert code == 2 and err.count("\n") == 1
    assert (workdir / "digests/2025/2025-05.md").read_bytes() == before


def test_import_of_a_missing_file_is_a_clear_error(workdir, capsys):
    code, _, err = run_cli(capsys, "import", "nope.jsonl")
    assert code == 2
    assert err == "trenddigest: error: cannot read nope.jsonl: no such file\n"


def test_import_of_a_malformed_feed_loses_nothing(workdir, capsys):
    imported(capsys)
    (workdir / "broken.xml").write_text("<rss version='2.0'><channel><item><title>x</ti")
    code, _, err = run_cli(capsys, "import", "broken.xml")
    assert code != 0
    assert err.startswith("trenddigest: error: ") and err.count("\n") == 1
    with Store.open(workdir / "data/trenddigest.sqlite3") as store:
        assert store.count_papers() == 60


def test_unknown_option_is_one_line(workdir, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--month", "2025-05", "--bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "trenddigest: error: unrecognized arguments: --bogus (see 'trenddigest --help')\n"
    )


def test_categories_list_shows_counts_for_the_newest_month(workdir, capsys):
    imported(capsys)
    code, out, _ = run_cli(capsys, "categories", "list", "--categories", "cats.toml")
    assert code == 0
    assert "papers in 2025-05" in out
    line = next(line for line in out.splitlines() if line.startswith("Knowledge Distillation"))
    assert int(line.split()[2]) >= 10


def test_categories_import_turns_a_reading_list_into_a_loadable_file(workdir, capsys):
    (workdir / "list.md").write_text(
        "## Knowledge Distillation\n"
        "- [Distilling the Knowledge in a Neural Network](https://arxiv.org/abs/1503.02531)\n"
        "## Detection\n"
        "- Faster R-CNN [paper](https://arxiv.org/pdf/1506.01497.pdf)\n"
    )
    code, out, _ = run_cli(capsys, "categories", "import", "list.md", "-o", "mine.toml")
    assert code == 0 and "wrote mine.toml" in out
    code, out, _ = run_cli(capsys, "categories", "list", "--categories", "mine.toml")
    assert code == 0 and "Knowledge Distillation" in out


def test_python_dash_m_runs_without_traceback_on_error(workdir):
    proc = subprocess.run(
        [sys.executable, "-m", "trenddigest", "run", "--month", "May", "--offline"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "trenddigest: error: invalid month 'May': use YYYY-MM with a month from 01 to 12, "
        "e.g. 2025-05\n"
    )


def test_trends_command_writes_a_report_for_a_range(workdir, capsys):
    write_jsonl(workdir / "june.jsonl", make_papers("2025-06", per_topic=8, seed=3))
    imported(capsys)
    run_cli(capsys, "import", "june.jsonl")
    code, out, _ = run_cli(
        capsys, "trends", "--from", "2025-05", "--to", "2025-06", "--categories", "cats.toml"
    )
    report = workdir / "digests" / "trends-2025-05-to-2025-06.md"
    assert code == 0 and f"wrote {report.relative_to(workdir)}" in out
    text = report.read_text()
    assert "2025-05" in text and "2025-06" in text and "xychart-beta" in text


def test_trends_with_a_reversed_range_is_one_line(workdir, capsys):
    code, _, err = run_cli(capsys, "trends", "--from", "2025-06", "--to", "2025-05")
    assert code == 2 and err.count("\n") == 1
