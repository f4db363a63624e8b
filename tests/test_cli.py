"""The command line: what a user types, the exit code, and the exact message."""

import dataclasses
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from synthetic import KD_CATEGORY_TOML, make_papers, refusing_repository, write_jsonl
from trenddigest import cli
from trenddigest.cli import main
from trenddigest.models import API_SETTLE, latest_complete_month
from trenddigest.render import md_escape
from trenddigest.store import Store

REPO = Path(__file__).resolve().parent.parent

CATEGORIES = (
    KD_CATEGORY_TOML
    + """
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
)


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


def not_begun_error(month: str, command: str = "fetch") -> str:
    """The refusal of a month after the current one (UTC), as of now: ``run`` names the
    last complete month whose last mailing arXiv's API holds, the other commands the
    current month."""
    now = datetime.now(UTC)
    latest = f"{latest_complete_month(now, API_SETTLE)} or earlier" if command == "run" else None
    return (
        f"trenddigest: error: {month} has not begun yet (today is {now:%Y-%m-%d} UTC); "
        f"give {latest or f'a month up to {now:%Y-%m}'}\n"
    )


def no_store_error(name: str) -> str:
    return (
        f"trenddigest: error: there is no store at {name}; check --store (or [store] path), "
        "or fill one first with 'trenddigest import FILE' or "
        "'trenddigest fetch --month YYYY-MM'\n"
    )


def test_import_reports_new_then_zero_new_on_repeat(workdir, capsys):
    assert imported(capsys) == (
        0,
        "papers.jsonl.gz (JSON Lines): 60 new, 0 updated, 0 unchanged, 0 rejected\n"
        "total 1 file: 60 new, 0 updated, 0 unchanged, 0 rejected\n",
        "",
    )
    assert imported(capsys) == (
        0,
        "papers.jsonl.gz (JSON Lines): 0 new, 0 updated, 60 unchanged, 0 rejected\n"
        "total 1 file: 0 new, 0 updated, 60 unchanged, 0 rejected\n",
        "",
    )


def test_offline_run_writes_the_digest_where_the_pattern_says(workdir, capsys):
    imported(capsys)
    code, out, _ = run_cli(
        capsys, "run", "--month", "2025-05", "--offline", "--categories", "cats.toml"
    )
    digest = workdir / "digests" / "2025" / "2025-05.md"
    assert code == 0
    assert digest.is_file() and (workdir / "digests" / "2025" / "2025-05.json").is_file()
    assert re.fullmatch(
        r"2025-05: 60 papers, (\d+) placed in 3 of 3 categories, (\d+) in none; "
        r"wrote digests/2025/2025-05\.md, digests/2025/2025-05\.json\n",
        out,
    )
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


def test_by_announced_selects_the_month_by_announce_date(workdir, capsys):
    april = make_papers("2025-04", per_topic=2)
    late = [dataclasses.replace(p, published="2025-05-02T00:00:00+00:00") for p in april[:3]]
    write_jsonl(workdir / "april.jsonl", late + april[3:])
    imported(capsys)
    run_cli(capsys, "import", "april.jsonl")
    args = ("run", "--month", "2025-05", "--offline", "--categories", "cats.toml", "--dry-run")
    code, out, _ = run_cli(capsys, *args, "--by", "announced", "--format", "json")
    assert code == 0 and json.loads(out)["considered"] == 60 + 3
    code, out, _ = run_cli(capsys, *args, "--by", "announced")
    assert "63 arXiv papers announced in 2025-05 were ranked" in out
    code, out, _ = run_cli(capsys, *args, "--format", "json")
    assert json.loads(out)["considered"] == 60


def test_a_digest_by_announce_date_names_the_listings_no_poll_read(workdir, capsys):
    imported(capsys)
    with Store.open(workdir / "data" / "trenddigest.sqlite3") as store:
        store.set_meta("feed_missed_listings", json.dumps({"2025-05-16": ["cs.CV", "cs.LG"]}))
    args = ("run", "--month", "2025-05", "--offline", "--categories", "cats.toml", "--dry-run")
    code, out, err = run_cli(capsys, *args, "--by", "announced")
    note = (
        "the listings of 2025-05-16 (cs.CV, cs.LG) were never read (no poll ran, or the "
        "feed failed): their papers are missing from this month"
    )
    assert code == 0 and f"**Note:** {note}.\n" in out
    code, out, _ = run_cli(capsys, *args, "--by", "announced", "--format", "json")
    assert json.loads(out)["notes"] == [note]
    code, out, _ = run_cli(capsys, *args)  # by arXiv id the API backfill is not affected
    assert "**Note:**" not in out


def test_a_listing_found_missed_after_a_digest_was_saved_is_named_when_run_again(workdir, capsys):
    imported(capsys)
    args = ("run", "--month", "2025-05", "--offline", "--categories", "cats.toml", "--dry-run")
    code, out, _ = run_cli(capsys, *args, "--by", "announced")
    assert code == 0 and "**Note:**" not in out
    with Store.open(workdir / "data" / "trenddigest.sqlite3") as store:
        store.set_meta("feed_missed_listings", json.dumps({"2025-05-30": ["cs.CV"]}))
    code, out, _ = run_cli(capsys, *args, "--by", "announced")
    assert code == 0 and "**Note:** the listings of 2025-05-30 (cs.CV) were never read" in out


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


def run_from_file(capsys, *extra):
    return run_cli(capsys, "run", "--month", "2025-05", "--from", "papers.jsonl.gz", *extra)


def test_a_broken_categories_file_is_refused_before_the_file_is_imported(workdir, capsys):
    Path("broken.toml").write_text("garbage[[\n")
    code, out, err = run_from_file(capsys, "--categories", "broken.toml")
    assert (code, out) == (2, "")
    assert err.startswith("trenddigest: error: broken.toml: TOML syntax error")
    assert err.count("\n") == 1
    assert not (workdir / "data").exists()  # nothing imported, no store left behind


def test_an_output_under_a_file_is_refused_before_the_file_is_imported(workdir, capsys):
    Path("notes").write_text("a file where the digests' folder would go\n")
    code, out, err = run_from_file(capsys, "--output", "notes/{year}-{month}.md")
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: cannot write notes/2025-05.md: notes is a file, not a folder; "
        "check the path and that its folder can be written\n"
    )
    assert not (workdir / "data").exists()


def test_an_output_under_a_dangling_link_is_refused_before_the_file_is_imported(workdir, capsys):
    Path("digests").symlink_to(workdir / "gone")
    code, out, err = run_from_file(capsys, "--output", "digests/{year}/{year}-{month}.md")
    assert (code, out) == (2, "")
    assert err == (
        f"trenddigest: error: cannot write digests/2025/2025-05.md: digests is a link to "
        f"{workdir / 'gone'}, which does not exist; check the path and that its folder can "
        "be written\n"
    )
    assert not (workdir / "data").exists()


def test_a_user_trends_template_that_does_not_compile_is_refused_before_the_file_is_imported(
    workdir, capsys
):
    Path("my").mkdir()
    Path("my/trends.md.j2").write_text("# {{ s.title }\n")
    Path("my.toml").write_text('[digest]\ntemplates_dir = "my"\n')
    code, out, err = run_cli(
        capsys, "--config", "my.toml", "run", "--month", "2025-05", "--from", "papers.jsonl.gz"
    )
    assert (code, out) == (2, "")
    assert err.startswith("trenddigest: error: template my/trends.md.j2 line 1: ")
    assert not (workdir / "data").exists()


def test_a_user_template_that_does_not_compile_is_refused_before_the_file_is_imported(
    workdir, capsys
):
    Path("my").mkdir()
    Path("my/digest.md.j2").write_text("# {{ d.title }\n")
    Path("my.toml").write_text('[digest]\ntemplates_dir = "my"\n')
    code, out, err = run_cli(
        capsys, "--config", "my.toml", "run", "--month", "2025-05", "--from", "papers.jsonl.gz"
    )
    assert (code, out) == (2, "")
    assert err.startswith("trenddigest: error: template my/digest.md.j2 line 1: ")
    assert err.endswith(
        "fix the template or remove [digest] templates_dir to use the packaged one\n"
    )
    assert not (workdir / "data").exists()


@pytest.mark.parametrize("month", ["2025-13", "25-05", "2025-00", "2025-5"])
def test_bad_month_is_one_line_and_exit_2(workdir, capsys, month):
    code, out, err = run_cli(capsys, "run", "--month", month, "--offline")
    assert code == 2
    assert err == (
        f"trenddigest: error: invalid month '{month}': use YYYY-MM with a month from 01 to 12, "
        "e.g. 2025-05\n"
    )
    assert not (workdir / "data").exists()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[digest]\npapers_per_categroy = 5\n",
            "bad.toml [digest]: unknown key 'papers_per_categroy' "
            "(did you mean 'papers_per_category'?)",
        ),
        (
            '[arxiv]\ncategories = "cs.CV"\n',
            "bad.toml [arxiv]: 'categories' must be a list of strings, not a string ('cs.CV')",
        ),
    ],
    ids=["wrong-key-with-a-suggestion", "wrong-type-named"],
)
def test_a_config_mistake_is_one_line_naming_it(workdir, capsys, toml, message):
    (workdir / "bad.toml").write_text(toml)
    code, _, err = run_cli(capsys, "--config", "bad.toml", "run", "--month", "2025-05", "--offline")
    assert code == 2
    assert err == f"trenddigest: error: {message}\n"


def test_top_below_one_is_refused_naming_the_flag(workdir, capsys):
    code, _, err = run_cli(capsys, "run", "--month", "2025-05", "--offline", "--top", "0")
    assert code == 2
    assert err == "trenddigest: error: --top must be at least 1, not 0\n"


def test_flags_override_the_config_file(workdir, capsys):
    imported(capsys)
    (workdir / "td.toml").write_text(
        '[digest]\npapers_per_category = 5\noutput = "a/{year}-{month}.md"\n'
    )
    args = ("--config", "td.toml", "run", "--month", "2025-05", "--offline")
    code, _, _ = run_cli(
        capsys, *args, "--categories", "cats.toml", "--top", "1", "--output", "b/{year}-{month}.md"
    )
    assert code == 0
    data = json.loads((workdir / "b/2025-05.json").read_text())
    assert [len(c["papers"]) for c in data["categories"]] == [1, 1, 1]
    assert not (workdir / "a").exists()


def test_environment_chooses_config_and_store_and_flags_beat_it(workdir, capsys, monkeypatch):
    (workdir / "env.toml").write_text('[store]\npath = "from-config.sqlite3"\n')
    monkeypatch.setenv("TRENDDIGEST_CONFIG", "env.toml")
    run_cli(capsys, "import", "papers.jsonl.gz", "-q")
    assert (workdir / "from-config.sqlite3").is_file()
    monkeypatch.setenv("TRENDDIGEST_STORE", "from-env.sqlite3")
    run_cli(capsys, "import", "papers.jsonl.gz", "-q")
    assert (workdir / "from-env.sqlite3").is_file()
    run_cli(capsys, "import", "papers.jsonl.gz", "--store", "from-flag.sqlite3", "-q")
    assert (workdir / "from-flag.sqlite3").is_file()
    (workdir / "other.toml").write_text('[store]\npath = "from-other.sqlite3"\n')
    monkeypatch.delenv("TRENDDIGEST_STORE")
    run_cli(capsys, "--config", "other.toml", "import", "papers.jsonl.gz", "-q")
    assert (workdir / "from-other.sqlite3").is_file()


def test_config_folder_in_the_working_folder_is_used_without_flags(workdir, capsys):
    imported(capsys)
    (workdir / "config").mkdir()
    (workdir / "config" / "trenddigest.toml").write_text(
        '[digest]\noutput = "local/{year}-{month}.md"\n'
    )
    (workdir / "config" / "categories.toml").write_text(CATEGORIES)
    (workdir / "templates").mkdir()
    (workdir / "templates" / "digest.md.j2").write_text(
        "{% for name, _d, total, _t in d.sections %}{{ name }}={{ total }}\n{% endfor %}"
    )
    code, _, _ = run_cli(capsys, "run", "--month", "2025-05", "--offline")
    assert code == 0
    text = (workdir / "local/2025-05.md").read_text()
    assert [line.split("=")[0] for line in text.splitlines()] == [
        "Knowledge Distillation",
        "Object Detection",
        "Medical Imaging",
    ]


def test_global_options_work_after_the_command_too(workdir, capsys):
    imported(capsys)
    code, _, err = run_cli(
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
    assert code == 3  # the option was read: that other store does not exist
    assert err == no_store_error("other.sqlite3")


def test_an_offline_run_on_a_missing_store_is_one_line_and_creates_nothing(workdir, capsys):
    code, out, err = run_cli(
        capsys, "run", "--month", "2025-05", "--offline", "--store", "typo/s.sqlite3"
    )
    assert (code, out) == (3, "")
    assert err == (
        "trenddigest: error: there is no store at typo/s.sqlite3; check --store (or [store] "
        "path), or fill one first with 'trenddigest import FILE' or 'trenddigest fetch "
        "--month YYYY-MM'\n"
    )
    assert not Path("typo").exists()


@pytest.mark.parametrize(
    ("flag", "what"),
    [
        ("--config", "a config file, e.g. config/trenddigest.toml"),
        ("--categories", "a categories file, e.g. config/categories.toml"),
    ],
)
def test_an_empty_config_or_categories_flag_is_refused_not_taken_as_the_default(
    workdir, capsys, flag, what
):
    argv = ["run", "--month", "2025-05", "--offline"]
    argv = [flag, "", *argv] if flag == "--config" else [*argv, flag, ""]
    code, out, err = run_cli(capsys, *argv)
    assert (code, out, err) == (2, "", f"trenddigest: error: {flag} is empty; give {what}\n")


@pytest.mark.parametrize("argv", [["import", "papers.jsonl.gz"], ["categories", "list"]])
def test_an_empty_store_flag_is_one_line_and_leaves_no_lock_file(workdir, capsys, argv):
    before = sorted(p.name for p in workdir.iterdir())
    code, out, err = run_cli(capsys, "--store", "", *argv)
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: --store is empty; give the store's file, "
        "e.g. data/trenddigest.sqlite3\n"
    )
    assert sorted(p.name for p in workdir.iterdir()) == before


def test_categories_list_without_a_store_lists_the_categories_and_creates_none(workdir, capsys):
    code, out, _ = run_cli(capsys, "categories", "list", "--categories", "cats.toml")
    assert code == 0
    assert "papers (no store yet)" in out.splitlines()[0]
    assert not Path("data").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--offline", "--from", "papers.jsonl"],
            "--offline and --from cannot be combined: --offline uses only what the store "
            "holds, --from imports the file first; drop one of them",
        ),
        (
            ["--dry-run", "--commit"],
            "--dry-run cannot be combined with --commit: a dry run prints the digest and "
            "writes or delivers nothing; drop one of them",
        ),
        (
            ["--dry-run", "--push", "--email"],
            "--dry-run cannot be combined with --push or --email: a dry run prints the "
            "digest and writes or delivers nothing; drop one of them",
        ),
    ],
)
def test_contradicting_run_flags_are_refused_before_anything_happens(
    workdir, capsys, flags, message
):
    Path("papers.jsonl").write_text("", encoding="utf-8")
    code, out, err = run_cli(capsys, "run", "--month", "2025-05", *flags)
    assert (code, out, err) == (2, "", f"trenddigest: error: {message}\n")
    assert not Path("data").exists()


def test_a_file_without_the_month_says_so_not_to_fetch_it(workdir, capsys):
    code, _, err = run_cli(capsys, "run", "--month", "2024-01", "--from", "papers.jsonl.gz", "-q")
    assert code == 2
    assert err == (
        "trenddigest: error: no papers from 2024-01 (by arXiv id) in papers.jsonl.gz or the "
        "store; check --month, or give the file that holds that month\n"
    )


@pytest.mark.parametrize("command", ["run", "fetch"])
def test_a_month_that_has_not_begun_is_refused_before_asking_arxiv(workdir, capsys, command):
    code, out, err = run_cli(capsys, command, "--month", "2099-01")
    assert (code, out) == (2, "")
    assert err == not_begun_error("2099-01", command)
    assert not Path("data").exists()


def test_run_of_a_month_not_begun_names_the_last_month_arxivs_api_holds_whole(
    workdir, capsys, monkeypatch
):
    class AfterNovembersLastMailing(datetime):  # Monday 2026-11-30, 20:30 US Eastern
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 - datetime's own signature
            return datetime(2026, 12, 1, 1, 30, tzinfo=UTC).astimezone(tz)

    monkeypatch.setattr(cli, "datetime", AfterNovembersLastMailing)
    code, out, err = run_cli(capsys, "run", "--month", "2099-01")
    assert (code, out) == (2, "")
    # November is announced, but arXiv's API has its last mailing only ten hours later.
    assert err == (
        "trenddigest: error: 2099-01 has not begun yet (today is 2026-12-01 UTC); "
        "give 2026-10 or earlier\n"
    )


def test_categories_list_for_a_month_that_has_not_begun_is_refused(workdir, capsys):
    imported(capsys)
    code, out, err = run_cli(capsys, "categories", "list", "--month", "2099-01")
    assert (code, out) == (2, "")
    assert err == not_begun_error("2099-01")


def test_empty_month_offline_says_how_to_fill_it(workdir, capsys):
    imported(capsys)
    code, _, err = run_cli(
        capsys, "run", "--month", "2024-01", "--offline", "--categories", "cats.toml"
    )
    assert code == 2
    assert err == (
        "trenddigest: error: the store data/trenddigest.sqlite3 has no papers from 2024-01 (by "
        "arXiv id); import a file (trenddigest import FILE), use --from FILE, or run without "
        "--offline to fetch the month from arXiv\n"
    )


def test_empty_month_by_announce_date_says_to_import_not_to_fetch(workdir, capsys):
    imported(capsys)
    argv = ("run", "--month", "2024-01", "--offline", "--by", "announced")
    code, _, err = run_cli(capsys, *argv, "--categories", "cats.toml")
    assert code == 2
    assert err == (
        "trenddigest: error: the store data/trenddigest.sqlite3 has no papers announced in "
        "2024-01; import a file with first_seen dates (trenddigest import FILE, or --from "
        "FILE), or use --by submitted\n"
    )


BROKEN_FEED = "<rss version='2.0'><channel><item><title>x</ti"
BROKEN_FEED_ERROR = (
    "trenddigest: error: broken.xml: malformed listing feed: unclosed token; "
    "the file is cut short or is not a feed: download it again\n"
)


def stored_rows(workdir):
    with Store.open(workdir / "data/trenddigest.sqlite3") as store:
        return [(p.id, p.version, p.title, p.announced) for p in store.iter_papers()]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["run", "--month", "2025-13", "--offline"],
            "trenddigest: error: invalid month '2025-13': use YYYY-MM with a month from 01 to "
            "12, e.g. 2025-05\n",
        ),
        (
            ["--config", "bad.toml", "run", "--month", "2025-05", "--offline"],
            "trenddigest: error: bad.toml [digest]: unknown key 'papers_per_categroy' "
            "(did you mean 'papers_per_category'?)\n",
        ),
        (["run", "--month", "2025-05", "--from", "broken.xml"], BROKEN_FEED_ERROR),
        (
            ["run", "--month", "2025-05", "--from", "nope.jsonl"],
            "trenddigest: error: cannot read nope.jsonl: no such file (given with --from)\n",
        ),
        (
            ["run", "--month", "2025-05", "--offline", "--categories", "broken.toml"],
            'trenddigest: error: broken.toml: category 1 ("X"): missing required key '
            "'description'; add description = \"A paragraph describing the topic.\"\n",
        ),
        (
            ["run", "--month", "2025-05", "--offline", "--output", "notes.txt/{year}-{month}.md"],
            "trenddigest: error: cannot write notes.txt/2025-05.md: notes.txt is a file, not a "
            "folder; check the path and that its folder can be written\n",
        ),
    ],
    ids=["bad-month", "config-key", "malformed-feed", "missing-file", "bad-categories", "output"],
)
def test_a_failed_run_leaves_the_store_and_the_earlier_digest_untouched(
    workdir, capsys, argv, message
):
    imported(capsys)
    (workdir / "config").mkdir()
    (workdir / "config" / "categories.toml").write_text(CATEGORIES)
    run_cli(capsys, "run", "--month", "2025-05", "--offline")
    digest = workdir / "digests/2025/2025-05.md"
    before, rows = digest.read_bytes(), stored_rows(workdir)
    (workdir / "bad.toml").write_text("[digest]\npapers_per_categroy = 5\n")
    (workdir / "broken.xml").write_text(BROKEN_FEED)
    (workdir / "broken.toml").write_text("[[category]]\nname = 'X'\n")
    (workdir / "notes.txt").write_text("not a folder\n")
    code, out, err = run_cli(capsys, *argv)
    assert (code, out, err) == (2, "", message)
    assert digest.read_bytes() == before
    assert stored_rows(workdir) == rows
    assert sorted(p.name for p in digest.parent.iterdir()) == ["2025-05.json", "2025-05.md"]


def test_a_categories_file_requiring_what_it_excludes_is_one_line_and_exit_2(workdir, capsys):
    imported(capsys)
    (workdir / "slip.toml").write_text(
        "[[category]]\nname = 'Registration'\ndescription = 'Aligning scans.'\n"
        "keywords = ['image registration']\nexclude = ['CT']\nrequire = ['MRI', 'CT']\n"
    )
    code, out, err = run_cli(
        capsys, "run", "--month", "2025-05", "--offline", "--categories", "slip.toml"
    )
    assert (code, out, err) == (
        2,
        "",
        'trenddigest: error: slip.toml: category 1 ("Registration"): require[2]: "CT" is also '
        'excluded ("CT"); remove it from one of the two lists\n',
    )


def test_import_of_a_missing_file_is_a_clear_error(workdir, capsys):
    code, _, err = run_cli(capsys, "import", "nope.jsonl")
    assert code == 2
    assert err == "trenddigest: error: cannot read nope.jsonl: no such file\n"


def test_import_of_a_folder_is_a_clear_error(workdir, capsys):
    (workdir / "feeds").mkdir()
    code, _, err = run_cli(capsys, "import", "feeds")
    assert code == 2
    assert err == (
        "trenddigest: error: cannot read feeds: it is a folder; name the files in it, "
        "e.g. feeds/*.jsonl.gz\n"
    )


def test_import_of_a_garbage_file_is_one_clear_error(workdir, capsys):
    (workdir / "notes.bin").write_bytes(bytes(range(256)) * 4)
    code, out, err = run_cli(capsys, "import", "notes.bin")
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: notes.bin: unrecognised format; expected arXiv API Atom, listing "
        "RSS/Atom or JSON Lines (optionally gzipped)\n"
    )


def test_import_of_a_malformed_feed_loses_nothing(workdir, capsys):
    imported(capsys)
    rows = stored_rows(workdir)
    (workdir / "broken.xml").write_text(BROKEN_FEED)
    code, out, err = run_cli(capsys, "import", "papers.jsonl.gz", "broken.xml")
    assert (code, out, err) == (2, "", BROKEN_FEED_ERROR)
    assert stored_rows(workdir) == rows


def test_run_help_says_what_from_imports_and_where_each_default_comes_from(capsys):
    with pytest.raises(SystemExit) as done:
        main(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert done.value.code == 0
    for says in [
        "--from FILE import a local file (all of it, every month in it) into the store "
        "instead of fetching from arXiv; may be given more than once",
        "--format {markdown,json} markdown writes the .md and its .json twin, json the .json "
        "only (default: markdown)",
        "--top N papers per category (default: [digest] papers_per_category)",
        "--by {submitted,announced} which papers belong to the month: submitted = by arXiv "
        "id, announced = by announce date (default: [digest] by)",
        "--output PATTERN where to write, with {year} and {month} (default: [digest] output)",
        "--commit, --no-commit git commit the digest, its .json twin and the README index; "
        "--no-commit: neither commit nor push (default: [git] commit)",
        "--push, --no-push commit as --commit does, then git push (default: [git] push)",
        "--email, --no-email email the digest as [email] says; --no-email: do not, even when "
        "[email] enabled is on (default: [email] enabled)",
    ]:
        assert says in help_text


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
    assert out.splitlines() == [
        "category                 papers in 2025-05  keywords  exemplars  exclude  require",
        "Knowledge Distillation                  12         4          1        0        0",
        "Object Detection                        12         4          1        0        0",
        "Medical Imaging                         12         5          1        0        0",
        "3 categories from cats.toml",
    ]


def test_categories_list_counts_each_categorys_exclude_and_require_terms(workdir, capsys):
    (workdir / "gated.toml").write_text(
        CATEGORIES.replace(
            'keywords = ["medical image", "mri", "ct", { term = "registration", weight = 2.0 }, '
            '"clinical"]',
            'keywords = ["medical image", "mri", "ct", { term = "registration", weight = 2.0 }, '
            '"clinical"]\nexclude = ["point cloud", "lidar"]\nrequire = ["patient"]',
        )
    )
    code, out, _ = run_cli(capsys, "categories", "list", "--categories", "gated.toml")
    assert code == 0
    assert out.splitlines()[0] == (
        "category                papers (no store yet)  keywords  exemplars  exclude  require"
    )
    assert out.splitlines()[3] == (
        "Medical Imaging                             -         5          1        2        1"
    )


def test_categories_list_takes_no_lock_and_so_writes_nothing_to_the_store(workdir, capsys):
    imported(capsys)
    with Store.open(workdir / "data" / "trenddigest.sqlite3") as store:
        cached = store.query_one("SELECT group_concat(key) FROM cache")
        code, _, _ = run_cli(capsys, "categories", "list", "--categories", "cats.toml")
        assert code == 0
        assert store.query_one("SELECT group_concat(key) FROM cache") == cached


def test_categories_list_shows_the_newest_month_not_the_sliver_a_fetch_stores_after_it(
    workdir, capsys
):
    imported(capsys)
    write_jsonl(workdir / "june.jsonl", make_papers("2025-06", per_topic=1))
    run_cli(capsys, "import", "june.jsonl", "-q")
    code, out, _ = run_cli(capsys, "categories", "list", "--categories", "cats.toml")
    assert code == 0 and "papers in 2025-05" in out.splitlines()[0]


def test_categories_list_names_the_packaged_file_when_no_other_applies(workdir, capsys):
    code, out, _ = run_cli(capsys, "categories", "list")
    assert code == 0
    assert out.splitlines()[-1] == "27 categories from the packaged categories.toml"


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


def test_categories_import_never_replaces_an_existing_file_unasked(workdir, capsys):
    (workdir / "list.md").write_text("## Detection\n- [A](https://arxiv.org/abs/1506.01497)\n")
    (workdir / "mine.toml").write_text("# my curated categories\n")
    code, out, err = run_cli(capsys, "categories", "import", "list.md", "-o", "mine.toml")
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: -o mine.toml exists (perhaps with your edits); give another "
        "file name, or add --force to replace it\n"
    )
    assert (workdir / "mine.toml").read_text() == "# my curated categories\n"
    code, out, _ = run_cli(capsys, "categories", "import", "list.md", "-o", "mine.toml", "--force")
    assert code == 0 and out == "wrote mine.toml\n"


def test_categories_import_reads_a_reading_list_saved_with_a_byte_order_mark(workdir, capsys):
    (workdir / "list.md").write_text(
        "## Object Detection\n- Faster R-CNN (https://arxiv.org/abs/1506.01497)\n",
        encoding="utf-8-sig",
    )
    code, out, _ = run_cli(capsys, "categories", "import", "list.md")
    assert code == 0 and 'name = "Object Detection"' in out


def test_categories_import_of_a_file_not_in_utf8_is_one_line(workdir, capsys):
    (workdir / "list.md").write_bytes("## Détection\n".encode("latin-1"))
    code, out, err = run_cli(capsys, "categories", "import", "list.md")
    assert (code, out) == (2, "")
    assert err == "trenddigest: error: list.md is not UTF-8 text (byte 4); save it as UTF-8\n"


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


def installed_copy(site: Path) -> Path:
    """Lay the package out as a wheel installs it, following pyproject.toml's mapping.

    ``[tool.setuptools]`` maps the top-level templates/ and config/ into the package;
    only the files its package-data globs select are copied, so a default that the
    wheel would leave out is missing here too.
    """
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs, data = settings["package-dir"], settings["package-data"]
    for package in settings["packages"]:
        source = REPO / dirs.get(package, Path(dirs[""], *package.split(".")))
        target = site.joinpath(*package.split("."))
        target.mkdir(parents=True)
        for pattern in ["*.py", *data.get(package, [])]:
            for file in source.glob(pattern):
                shutil.copy2(file, target / file.name)
    return site


def test_the_installed_package_works_outside_the_checkout(tmp_path):
    site = installed_copy(tmp_path / "site")
    work = tmp_path / "elsewhere"
    work.mkdir()
    write_jsonl(work / "papers.jsonl", make_papers("2025-05"))
    # -S: no site-packages hooks, so the editable install of the checkout stays out;
    # the dependencies come from this interpreter's site-packages on the path.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]]),
    }
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE"):
        env.pop(var, None)

    def trenddigest(*argv):
        return subprocess.run(
            [sys.executable, "-S", "-m", "trenddigest", *argv],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    where = subprocess.run(
        [sys.executable, "-S", "-c", "import trenddigest; print(trenddigest.__file__)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(site))
    assert trenddigest("import", "papers.jsonl").returncode == 0
    run = trenddigest("run", "--month", "2025-05", "--offline")
    assert (run.returncode, run.stderr) == (0, "")
    digest = (work / "digests/2025/2025-05.md").read_text()
    assert digest.startswith("# Research Trends: May, 2025\n")
    assert "## Knowledge Distillation\n" in digest  # the packaged categories
    listed = trenddigest("categories", "list")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) >= 21
    assert trenddigest("--help").stdout.startswith("usage: trenddigest")


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


def test_trends_for_a_range_the_store_holds_nothing_of_is_one_line_and_writes_nothing(
    workdir, capsys
):
    imported(capsys)
    code, out, err = run_cli(capsys, "trends", "--from", "2024-01", "--to", "2024-03")
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: the store data/trenddigest.sqlite3 has no papers from 2024-01 to "
        "2024-03 (by arXiv id); import a file (trenddigest import FILE) or fetch the months "
        "(trenddigest fetch --month M)\n"
    )
    assert not (workdir / "digests" / "trends-2024-01-to-2024-03.md").exists()


def test_trends_with_a_reversed_range_is_one_line(workdir, capsys):
    code, out, err = run_cli(capsys, "trends", "--from", "2025-06", "--to", "2025-05")
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: --from 2025-06 is after --to 2025-05; give the earlier month first\n"
    )


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("newdir/", "--output newdir/ names a folder; give a file name such as newdir/trends.md"),
        (
            "chart.png",
            "--output chart.png is where the report's PNG chart goes; give the report a .md name",
        ),
    ],
)
def test_trends_output_that_cannot_hold_the_report_is_refused_and_nothing_written(
    workdir, capsys, output, message
):
    imported(capsys)
    code, out, err = run_cli(
        capsys, "trends", "--from", "2025-05", "--to", "2025-06", "--output", output
    )
    assert (code, out, err) == (2, "", f"trenddigest: error: {message}\n")
    assert not Path("newdir").exists() and not Path("chart.png").exists()


def test_a_broken_user_trends_template_names_its_file_and_line(workdir, capsys):
    imported(capsys)
    Path("my").mkdir()
    Path("my/trends.md.j2").write_text("# Trends\n\n{{ report.nope.deeper }}\n")
    Path("my.toml").write_text('[digest]\ntemplates_dir = "my"\n')
    code, out, err = run_cli(
        capsys, "--config", "my.toml", "trends", "--from", "2025-05", "--to", "2025-06"
    )
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: template my/trends.md.j2 line 3: "
        "'trenddigest.trends.TrendReport object' has no attribute 'nope'; "
        "fix the template or remove [digest] templates_dir to use the packaged one\n"
    )
    assert not Path("digests/trends-2025-05-to-2025-06.md").exists()


def test_a_trend_report_that_would_overwrite_the_store_is_refused_and_the_store_kept(
    workdir, capsys
):
    assert run_cli(capsys, "import", "papers.jsonl.gz")[0] == 0
    store = Path("data/trenddigest.sqlite3")
    before = store.read_bytes()
    code, out, err = run_cli(
        capsys, "trends", "--from", "2025-05", "--to", "2025-05", "--output", str(store)
    )
    assert (code, out) == (2, "")
    assert err == (
        f"trenddigest: error: the output {store} is the store {store} (or one of its files); "
        "choose another --output or --store\n"
    )
    assert store.read_bytes() == before


def test_a_trend_report_that_would_overwrite_the_categories_file_is_refused(workdir, capsys):
    assert run_cli(capsys, "import", "papers.jsonl.gz")[0] == 0
    before = (workdir / "cats.toml").read_bytes()
    code, _, err = run_cli(
        capsys,
        *("trends", "--from", "2025-05", "--to", "2025-05"),
        *("--categories", "cats.toml", "--output", "cats.toml"),
    )
    assert code == 2
    assert err == (
        "trenddigest: error: the output cats.toml is the categories file cats.toml; "
        "choose another --output\n"
    )
    assert (workdir / "cats.toml").read_bytes() == before


def test_a_digest_that_would_overwrite_the_config_file_is_refused(workdir, capsys):
    # Say a config kept beside the digests, under a name a month's digest takes.
    (workdir / "2025-05.md").write_text('[digest]\noutput = "{year}-{month}.md"\n')
    assert run_cli(capsys, "import", "papers.jsonl.gz")[0] == 0
    argv = ("--config", "2025-05.md", "run", "--month", "2025-05", "--offline")
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert err == (
        "trenddigest: error: the output 2025-05.md is the config file 2025-05.md; "
        "choose another output pattern\n"
    )


def test_a_trend_report_does_not_replace_a_png_beside_it_that_it_did_not_write(workdir, capsys):
    assert run_cli(capsys, "import", "papers.jsonl.gz")[0] == 0
    (workdir / "notes.png").write_bytes(b"a photo")
    code, _, err = run_cli(
        capsys, "trends", "--from", "2025-05", "--to", "2025-05", "--output", "notes.md"
    )
    assert code == 2
    assert err == (
        "trenddigest: error: notes.png exists and trenddigest did not write it; this run "
        "would replace it: move it aside, or choose another --output\n"
    )
    assert (workdir / "notes.png").read_bytes() == b"a photo"
    assert not (workdir / "notes.md").exists()


def test_a_trend_report_replaces_a_png_its_report_beside_it_shows(workdir, capsys):
    # Written by a trends run of another store (a teammate's, the workflow's).
    write_jsonl(workdir / "april.jsonl", make_papers("2025-04"))  # two months: a chart
    files = ("papers.jsonl.gz", "april.jsonl")
    argv = ("trends", "--from", "2025-04", "--to", "2025-05", "--output", "notes.md")
    for store in ("data/trenddigest.sqlite3", "other.sqlite3"):
        assert run_cli(capsys, "--store", store, "import", *files)[0] == 0
    assert run_cli(capsys, "--store", "other.sqlite3", *argv)[0] == 0
    assert (workdir / "notes.png").is_file()
    code, out, err = run_cli(capsys, *argv)
    assert (code, err) == (0, "")
    assert out == "wrote notes.md and notes.png\n"


def test_a_note_of_ones_own_linking_a_png_of_the_reports_name_keeps_its_png(workdir, capsys):
    write_jsonl(workdir / "april.jsonl", make_papers("2025-04"))
    assert run_cli(capsys, "import", "papers.jsonl.gz", "april.jsonl")[0] == 0
    (workdir / "notes.md").write_text("# My lab notes\n\n![GPU hours](notes.png)\n")
    (workdir / "notes.png").write_bytes(b"my own chart")
    argv = ("trends", "--from", "2025-04", "--to", "2025-05", "--output", "notes.md")
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "notes.png exists and trenddigest did not write it" in err
    assert (workdir / "notes.png").read_bytes() == b"my own chart"


def test_a_trend_report_run_again_replaces_what_it_wrote(workdir, capsys):
    assert run_cli(capsys, "import", "papers.jsonl.gz")[0] == 0
    argv = ("trends", "--from", "2025-05", "--to", "2025-05", "--output", "notes.md")
    assert run_cli(capsys, *argv)[0] == 0
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and out.startswith("wrote notes.md")


def test_a_digest_that_would_overwrite_the_store_is_refused_and_the_store_kept(workdir, capsys):
    assert run_cli(capsys, "--store", "d/2025-05.json", "import", "papers.jsonl.gz")[0] == 0
    before = Path("d/2025-05.json").read_bytes()
    code, out, err = run_cli(
        capsys,
        *("--store", "d/2025-05.json", "run", "--month", "2025-05", "--offline"),
        *("--output", "d/{year}-{month}.md", "--categories", "cats.toml"),
    )
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: the output d/2025-05.json is the store d/2025-05.json (or one of "
        "its files); choose another output pattern or --store\n"
    )
    assert Path("d/2025-05.json").read_bytes() == before
    assert not Path("d/2025-05.md").exists()


def test_trends_up_to_a_month_that_has_not_begun_is_refused(workdir, capsys):
    imported(capsys)
    code, out, err = run_cli(capsys, "trends", "--from", "2025-05", "--to", "2099-01")
    assert (code, out) == (2, "")
    assert err == not_begun_error("2099-01")


def test_an_empty_file_given_as_the_store_of_an_offline_run_is_no_store(workdir, capsys):
    Path("empty.sqlite3").write_bytes(b"")
    code, _, err = run_cli(
        capsys, "--store", "empty.sqlite3", "run", "--month", "2025-05", "--offline"
    )
    assert code == 3
    assert err == no_store_error("empty.sqlite3")
    assert Path("empty.sqlite3").read_bytes() == b""


def test_sigterm_during_a_command_stops_it_in_one_line_with_exit_143(workdir, capsys, monkeypatch):
    def killed(args):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM should have stopped the command")

    def unhandled(signum, frame):
        # Without this, a command that installs no handler would kill pytest itself.
        raise AssertionError("the command left SIGTERM to the handler it found")

    monkeypatch.setattr(cli, "cmd_import", killed)
    before = signal.signal(signal.SIGTERM, unhandled)
    try:
        code, out, err = run_cli(capsys, "import", "papers.jsonl.gz")
        assert signal.getsignal(signal.SIGTERM) is unhandled
    finally:
        signal.signal(signal.SIGTERM, before)
    assert (code, out) == (143, "")
    assert err == "trenddigest: stopped (SIGTERM); everything received so far is saved\n"


def test_ctrl_c_during_a_command_is_exit_130(workdir, capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_import", interrupted)
    code, _, err = run_cli(capsys, "import", "papers.jsonl.gz")
    assert code == 130
    assert err == "trenddigest: interrupted; everything received so far is saved\n"


def test_import_of_a_file_whose_every_record_is_rejected_fails_after_its_report(workdir, capsys):
    (workdir / "wrong.jsonl").write_text('{"title": "no id"}\n{"id": "bad"}\n')
    code, out, err = run_cli(capsys, "import", "wrong.jsonl")
    assert code == 2
    assert (
        out.splitlines()[0] == "wrong.jsonl (JSON Lines): 0 new, 0 updated, 0 unchanged, 2 rejected"
    )
    assert err == (
        "trenddigest: error: no record of wrong.jsonl (2 rejected) could be imported; see the "
        "rejections above (trenddigest reads arXiv API Atom, listing RSS/Atom and JSON Lines "
        "with an id per record)\n"
    )


def test_import_with_some_records_rejected_still_succeeds(workdir, capsys):
    lines = workdir / "papers.jsonl.gz"
    (workdir / "mixed.jsonl").write_text(
        '{"id": "bad"}\n' + gzip.decompress(lines.read_bytes()).decode().splitlines()[0] + "\n"
    )
    code, out, _ = run_cli(capsys, "import", "mixed.jsonl")
    assert code == 0
    assert (
        out.splitlines()[0] == "mixed.jsonl (JSON Lines): 1 new, 0 updated, 0 unchanged, 1 rejected"
    )


def test_import_of_a_device_or_fifo_says_it_is_no_regular_file(workdir, capsys):
    os.mkfifo(workdir / "pipe")
    for name in ("pipe", "/dev/zero"):
        code, out, err = run_cli(capsys, "import", name)
        assert (code, out) == (2, "")
        assert err == (
            f"trenddigest: error: cannot read {name}: it is not a regular file; give the path "
            "of a saved file\n"
        )
    assert not (workdir / "data").exists()


def test_a_failed_delivery_still_says_what_was_written_before_its_error(workdir, capsys):
    refusing_repository(workdir)  # the digest is written, then git refuses the commit
    code, out, err = run_cli(
        capsys, "run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--commit", "-q"
    )
    assert code == 5
    imported, summary = out.splitlines()
    assert imported == "imported 1 file: 60 new, 0 updated, 0 unchanged, 0 rejected"
    assert summary.startswith("2025-05: 60 papers, ")
    assert summary.endswith("wrote digests/2025/2025-05.md, digests/2025/2025-05.json")
    assert err == (
        f"trenddigest: error: git commit failed in {workdir.resolve()}: commits are frozen\n"
    )


PARTIAL_MAY_NOTE = (
    "the store holds 5 papers from 2025-05 (by arXiv id), under 25% of the 60 of 2025-06: "
    "it may hold only part of the month; fetch it (trenddigest fetch --month 2025-05) or "
    "import a file that holds all of it"
)


def test_a_digest_of_a_month_the_store_holds_a_sliver_of_says_so(workdir, capsys):
    write_jsonl(workdir / "may.jsonl", make_papers("2025-05")[:5])
    write_jsonl(workdir / "june.jsonl", make_papers("2025-06", per_topic=12))
    assert run_cli(capsys, "import", "may.jsonl", "june.jsonl", "-q")[0] == 0
    argv = ("run", "--month", "2025-05", "--offline", "--categories", "cats.toml")
    code, out, err = run_cli(capsys, *argv)
    assert code == 0 and out.startswith("2025-05: 5 papers, ")
    assert err.endswith(f"2025-05: {PARTIAL_MAY_NOTE}\n")
    digest = Path("digests/2025/2025-05.md").read_text()
    assert f"**Note:** {md_escape(PARTIAL_MAY_NOTE)}.\n" in digest
    assert json.loads(Path("digests/2025/2025-05.json").read_text())["notes"] == [PARTIAL_MAY_NOTE]


def test_the_partial_note_of_a_month_by_announce_date_says_to_import_not_to_fetch(workdir, capsys):
    # The API backfill stores no announce dates and a poll reads only today's listing:
    # neither fills a past month.
    write_jsonl(workdir / "may.jsonl", make_papers("2025-05")[:5])
    write_jsonl(workdir / "june.jsonl", make_papers("2025-06", per_topic=12))
    assert run_cli(capsys, "import", "may.jsonl", "june.jsonl", "-q")[0] == 0
    argv = ("run", "--month", "2025-05", "--offline", "--by", "announced")
    code, _, err = run_cli(capsys, *argv, "--categories", "cats.toml")
    assert code == 0
    assert err.endswith(
        "2025-05: the store holds 5 papers announced in 2025-05, under 25% of the 60 of "
        "2025-06: it may hold only part of the month; import a file with first_seen dates "
        "that holds all of it, or use --by submitted\n"
    )


def test_a_saved_digest_gains_the_partial_note_once_a_fuller_month_is_stored_beside_it(
    workdir, capsys
):
    write_jsonl(workdir / "may.jsonl", make_papers("2025-05")[:5])
    assert run_cli(capsys, "import", "may.jsonl", "-q")[0] == 0
    argv = ("run", "--month", "2025-05", "--offline", "--categories", "cats.toml", "-q")
    assert run_cli(capsys, *argv)[0] == 0
    assert "**Note:**" not in Path("digests/2025/2025-05.md").read_text()  # nothing to tell
    write_jsonl(workdir / "june.jsonl", make_papers("2025-06", per_topic=12))
    assert run_cli(capsys, "import", "june.jsonl", "-q")[0] == 0
    assert run_cli(capsys, *argv)[0] == 0
    assert md_escape(PARTIAL_MAY_NOTE) in Path("digests/2025/2025-05.md").read_text()


def test_a_month_as_full_as_its_neighbours_gets_no_partial_note(workdir, capsys):
    write_jsonl(workdir / "june.jsonl", make_papers("2025-06", per_topic=12))
    imported(capsys)
    assert run_cli(capsys, "import", "june.jsonl", "-q")[0] == 0
    argv = ("run", "--month", "2025-05", "--offline", "--categories", "cats.toml")
    code, _, err = run_cli(capsys, *argv)
    assert (code, err) == (0, "")
    assert "**Note:**" not in Path("digests/2025/2025-05.md").read_text()


def test_a_json_only_run_says_when_it_left_an_earlier_markdown_digest_out_of_date(workdir, capsys):
    argv = ("run", "--month", "2025-05", "--offline", "--categories", "cats.toml", "-q")
    imported(capsys)
    assert run_cli(capsys, *argv)[0] == 0
    code, out, _ = run_cli(capsys, *argv, "--format", "json")  # same settings: same digest
    assert code == 0 and "no longer matches" not in out
    code, out, _ = run_cli(capsys, *argv, "--format", "json", "--top", "2")
    assert code == 0
    assert out.splitlines()[-1] == (
        "digests/2025/2025-05.md is an earlier run's and no longer matches the new .json; "
        "run again without --format json to bring it up to date"
    )


def test_no_commit_turns_off_the_commit_and_push_the_config_asks_for(workdir, capsys):
    (workdir / "td.toml").write_text("[git]\ncommit = true\npush = true\n")
    argv = ("--config", "td.toml", "run", "--month", "2025-05", "--from", "papers.jsonl.gz")
    code, _, err = run_cli(capsys, *argv, "--no-commit", "-q")  # workdir is no repository
    assert (code, err) == (0, "")
    assert (workdir / "digests" / "2025" / "2025-05.md").is_file()


def test_no_commit_with_push_is_refused_in_one_line(workdir, capsys):
    argv = ("run", "--month", "2025-05", "--offline", "--no-commit", "--push")
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: --no-commit cannot be combined with --push: a push sends the "
        "digest's commit; drop one of them\n"
    )


@pytest.mark.parametrize("flag", ["--commit", "--push"])  # a push commits first
def test_a_commit_sure_to_be_refused_stops_the_run_before_it_imports_or_writes(
    workdir, capsys, flag
):
    code, out, err = run_cli(
        capsys, "run", "--month", "2025-05", "--from", "papers.jsonl.gz", flag, "-q"
    )
    assert (code, out) == (5, "")
    assert err == (
        f"trenddigest: error: cannot commit the digest: {workdir} is not inside a git "
        "repository; run 'git init' there, or stop committing: --no-commit, or [git] commit and "
        "push off\n"
    )
    assert not (workdir / "digests").exists() and not (workdir / "data").exists()


def test_a_readme_setting_naming_a_folder_stops_a_committing_run_before_it_writes(workdir, capsys):
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    Path("digests").mkdir()
    Path("td.toml").write_text('[git]\nreadme = "digests"\n')
    argv = ("--config", "td.toml", "run", "--month", "2025-05", "--from", "papers.jsonl.gz")
    code, out, err = run_cli(capsys, *argv, "--commit")
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: [git] readme digests is a folder: it names the file the index "
        "of digests goes in; set it to a file such as README.md\n"
    )
    assert list(Path("digests").iterdir()) == [] and not (workdir / "data").exists()


# -- a failed import leaves no store behind ------------------------------------------------

REJECTED_ONLY_ERROR = (
    "no record of wrong.jsonl (2 rejected) could be imported; see the rejections above "
    "(trenddigest reads arXiv API Atom, listing RSS/Atom and JSON Lines with an id per record)"
)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param(
            "notes.bin",
            bytes(range(256)) * 4,
            "notes.bin: unrecognised format; expected arXiv API Atom, listing RSS/Atom or "
            "JSON Lines (optionally gzipped)",
            id="unrecognised-format",
        ),
        pytest.param(
            "broken.xml",
            BROKEN_FEED.encode(),
            "broken.xml: malformed listing feed: unclosed token; the file is cut short or is "
            "not a feed: download it again",
            id="malformed-feed",
        ),
        pytest.param(
            "empty.jsonl", b"", "empty.jsonl: the file is empty; nothing to import", id="empty"
        ),
        pytest.param(
            "wrong.jsonl",
            b'{"title": "no id"}\n{"id": "bad"}\n',
            REJECTED_ONLY_ERROR,
            id="every-record-rejected",
        ),
        pytest.param("nope.jsonl", None, "cannot read nope.jsonl: no such file", id="missing"),
    ],
)
def test_a_failed_import_leaves_no_new_store_behind(workdir, capsys, name, content, message):
    if content is not None:
        (workdir / name).write_bytes(content)
    code, _, err = run_cli(capsys, "import", name)
    assert code == 2
    assert err == f"trenddigest: error: {message}\n"
    # Neither the store nor its lock file, nor the folder they would go in.
    assert not (workdir / "data").exists()


def test_a_file_where_the_stores_folder_should_be_is_named(workdir, capsys):
    (workdir / "data").write_text("notes\n")
    code, _, err = run_cli(capsys, "import", "papers.jsonl.gz")
    assert code == 3
    assert err == (
        f"trenddigest: error: cannot create the store's folder {workdir / 'data'}: "
        f"{workdir / 'data'} is a file, not a folder; move it, or choose another --store\n"
    )
    assert (workdir / "data").read_text() == "notes\n"


def test_a_folder_given_as_the_store_is_refused_leaving_no_lock_file_beside_it(workdir, capsys):
    (workdir / "lab").mkdir()
    code, _, err = run_cli(capsys, "import", "papers.jsonl.gz", "--store", "lab")
    assert code == 3
    assert err == (
        "trenddigest: error: cannot open store lab: it is a folder; give the store's file, "
        "e.g. lab/trenddigest.sqlite3\n"
    )
    assert sorted(p.name for p in workdir.iterdir()) == ["cats.toml", "lab", "papers.jsonl.gz"]
    assert list((workdir / "lab").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("notes.bin", bytes(range(256)) * 4, id="unrecognised-format"),
        pytest.param("wrong.jsonl", b'{"title": "no id"}\n{"id": "bad"}\n', id="no-paper"),
    ],
)
def test_a_run_that_fails_on_its_file_before_storing_a_paper_leaves_no_new_store(
    workdir, capsys, name, content
):
    (workdir / name).write_bytes(content)
    code, _, err = run_cli(capsys, "run", "--month", "2025-05", "--from", name)
    assert code == 2 and err.count("\n") == 1
    assert not (workdir / "data").exists()


def test_a_run_from_a_file_none_of_whose_records_could_be_read_fails_though_the_store_has_the_month(
    workdir, capsys
):
    assert run_cli(capsys, "import", "papers.jsonl.gz")[0] == 0
    (workdir / "wrong.jsonl").write_bytes(b'{"id": "2513.00001", "title": "x"}\n{"foo": 1}\n')
    code, out, err = run_cli(capsys, "run", "--month", "2025-05", "--from", "wrong.jsonl")
    assert code == 2
    assert err == (
        "trenddigest: error: no record of wrong.jsonl (2 rejected) could be imported; the "
        "first: wrong.jsonl: line 1: bad id '2513.00001': month 13 in YYMM 2513 does not "
        "exist (trenddigest reads arXiv API Atom, listing RSS/Atom and JSON Lines with an "
        "id per record)\n"
    )
    assert out == ""
    assert not (workdir / "digests").exists()


def test_a_run_from_a_useless_file_after_a_good_one_quotes_the_useless_files_own_rejection(
    workdir, capsys
):
    (workdir / "partial.jsonl").write_bytes(b'{"id": "2505.99999", "title": "x"}\n{"id": "bad"}\n')
    (workdir / "useless.jsonl").write_bytes(b'{"title": "no id here"}\n')
    argv = ("run", "--month", "2025-05", "--from", "partial.jsonl", "--from", "useless.jsonl")
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.startswith(
        "trenddigest: error: no record of useless.jsonl (1 rejected) could be imported; the "
        "first: useless.jsonl: line 1: missing id ("
    )


def test_a_run_from_a_file_with_some_bad_records_logs_each_and_goes_on(workdir, capsys):
    papers = make_papers("2025-05", per_topic=1)
    path = write_jsonl(workdir / "may.jsonl", papers)
    path.write_text(path.read_text() + '{"title": "no id"}\n')
    code, out, err = run_cli(capsys, "run", "--month", "2025-05", "--from", "may.jsonl")
    assert code == 0
    assert out.splitlines()[0] == (
        f"imported 1 file: {len(papers)} new, 0 updated, 0 unchanged, 1 rejected"
    )
    assert err.endswith(
        f"WARNING trenddigest.pipeline: rejected may.jsonl: line {len(papers) + 1}: missing id\n"
    )


def test_a_run_whose_file_stored_papers_of_another_month_keeps_them(workdir, capsys):
    write_jsonl(workdir / "april.jsonl", make_papers("2025-04")[:3])
    code, _, err = run_cli(capsys, "run", "--month", "2025-05", "--from", "april.jsonl")
    assert code == 2
    assert err.startswith("trenddigest: error: no papers from 2025-05 (by arXiv id) in ")
    with Store.open(workdir / "data" / "trenddigest.sqlite3") as store:
        assert store.count_papers() == 3


def test_a_failed_import_leaves_an_existing_store_as_it_was(workdir, capsys):
    with Store.open(workdir / "data" / "trenddigest.sqlite3") as store:
        store.upsert_papers(make_papers("2025-05")[:3])
    before = {p.name: p.read_bytes() for p in (workdir / "data").iterdir()}
    (workdir / "wrong.jsonl").write_text('{"title": "no id"}\n{"id": "bad"}\n')
    code, _, err = run_cli(capsys, "import", "wrong.jsonl")
    assert code == 2
    assert err == f"trenddigest: error: {REJECTED_ONLY_ERROR}\n"
    assert {p.name: p.read_bytes() for p in (workdir / "data").iterdir()} == before


# F5 (+F4): _StoreOnFirstWrite.get_paper asks no store into being.
def test_an_import_of_new_versions_only_makes_no_store(workdir, capsys):
    text = (REPO / "tests" / "fixtures" / "listing_rss.xml").read_text(encoding="utf-8")
    new, cross = re.findall(r"    <item>.*?</item>\n", text, re.S)[:2]
    (workdir / "replaced.xml").write_text(text.replace(new, "").replace(cross, ""), "utf-8")
    assert run_cli(capsys, "import", "replaced.xml") == (
        0,
        "replaced.xml (listing RSS): 0 new, 0 updated, 0 unchanged, 0 rejected, "
        "2 new versions of papers not stored, skipped\n"
        "total 1 file: 0 new, 0 updated, 0 unchanged, 0 rejected, "
        "2 new versions of papers not stored, skipped\n",
        "",
    )
    assert not (workdir / "data").exists()


# P7: _differs is False for a Markdown digest that does not exist.
def test_a_first_json_only_run_names_no_markdown_digest_out_of_date(workdir, capsys):
    imported(capsys)
    argv = ("run", "--month", "2025-05", "--offline", "--categories", "cats.toml", "-q")
    code, out, err = run_cli(capsys, *argv, "--format", "json")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].endswith("; wrote digests/2025/2025-05.json")  # no note after
    assert not (workdir / "digests" / "2025" / "2025-05.md").exists()


# -- a full disk at the first import ---------------------------------------------------------


def fill_the_disk(monkeypatch, *, before_the_schema: bool) -> None:
    """The disk fills up as the store is created, or right after (SQLite then answers
    SQLITE_FULL, "database or disk is full", to the next write that needs a page)."""
    real_migrate = Store._migrate

    def migrate_on_a_filling_disk(self):
        if before_the_schema:
            self.conn.execute("PRAGMA max_page_count = 1")
        real_migrate(self)
        self.conn.execute("PRAGMA max_page_count = 1")  # no page beyond those it has

    monkeypatch.setattr(Store, "_migrate", migrate_on_a_filling_disk)


@pytest.mark.parametrize(
    "before_the_schema", [True, False], ids=["creating-the-store", "storing-the-first-papers"]
)
def test_a_full_disk_at_the_first_import_says_so_and_leaves_no_store(
    workdir, capsys, monkeypatch, before_the_schema
):
    fill_the_disk(monkeypatch, before_the_schema=before_the_schema)
    code, out, err = run_cli(capsys, "import", "papers.jsonl.gz")
    assert (code, out) == (3, "")
    assert err == (
        "trenddigest: error: cannot write to store data/trenddigest.sqlite3: database or disk "
        "is full; make the file and its folder writable (and the disk not full), or use "
        "another --store\n"
    )
    assert not (workdir / "data").exists()


# -- "~" in a path flag the shell did not expand (--opt=~/x, a quoted cron line) -----------


@pytest.fixture
def home(workdir, monkeypatch):
    home = workdir / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def test_a_tilde_in_import_files_and_store_flags_is_the_home_folder(workdir, home, capsys):
    shutil.copy(workdir / "papers.jsonl.gz", home / "papers.jsonl.gz")
    code, _, err = run_cli(capsys, "--store=~/s.sqlite3", "import", "~/papers.jsonl.gz")
    assert (code, err) == (0, "")
    assert (home / "s.sqlite3").is_file()
    assert not (workdir / "~").exists()


def test_a_tilde_in_the_config_flag_is_the_home_folder(workdir, home, capsys):
    (home / "cfg.toml").write_text('[digest]\ncategories_file = "~/cats.toml"\n')
    shutil.copy(workdir / "cats.toml", home / "cats.toml")
    code, out, _ = run_cli(capsys, "--config=~/cfg.toml", "categories", "list")
    assert code == 0
    assert out.splitlines()[-1].endswith(f"from {home / 'cats.toml'}")


def test_a_tilde_in_the_categories_import_output_is_the_home_folder(workdir, home, capsys):
    (workdir / "list.md").write_text("## Detection\n- [A](https://arxiv.org/abs/1506.01497)\n")
    code, out, _ = run_cli(capsys, "categories", "import", "list.md", "--output=~/mine.toml")
    assert code == 0
    assert (home / "mine.toml").is_file()
    assert not (workdir / "~").exists()


def test_a_tilde_in_the_trends_output_is_the_home_folder(workdir, home, capsys):
    assert run_cli(capsys, "import", "papers.jsonl.gz")[0] == 0
    code, out, _ = run_cli(
        capsys, "trends", "--from", "2025-05", "--to", "2025-05", "--output=~/tr.md"
    )
    assert code == 0
    assert (home / "tr.md").is_file()
    assert not (workdir / "~").exists()


def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _subparsers(sub))


def test_every_command_has_a_description_and_every_argument_a_help_line():
    missing = [
        f"{name} {action.dest}"
        for name, sub in _subparsers(cli.build_parser())
        for action in sub._actions
        if not action.help and action.dest != "help"
    ]
    undescribed = [name for name, sub in _subparsers(cli.build_parser()) if not sub.description]
    assert missing == []
    assert undescribed == []
