"""A repeated run of an unchanged month reuses its saved digest; anything it depends on
changing makes the run build the digest again."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import make_papers
from trenddigest import pipeline, trends
from trenddigest.cli import main
from trenddigest.config import Config, DigestConfig
from trenddigest.errors import EmptyMonthError, InputError
from trenddigest.models import Month
from trenddigest.pipeline import RunOptions, run_month
from trenddigest.store import Store

MAY = Month(2025, 5)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def store(workdir: Path):
    with Store.open(workdir / "store.sqlite3") as s:
        s.upsert_papers(make_papers("2025-04", per_topic=10) + make_papers("2025-05"))
        yield s


@pytest.fixture
def config(workdir: Path) -> Config:
    return Config(digest=DigestConfig(output=str(workdir / "out/{year}-{month}.md")))


class Builds:
    """Counts the digests really built (ranked, trended, rendered)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = pipeline.build_month_digest

        def counting(*args, **kwargs):
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(pipeline, "build_month_digest", counting)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Builds:
    return Builds(monkeypatch)


def run(store: Store, config: Config, **kw) -> pipeline.RunResult:
    return run_month(store, config, RunOptions(month=MAY, offline=True, **kw))


def test_a_repeated_run_reuses_the_saved_digest_byte_for_byte(store, config, builds, workdir):
    first = run(store, config)
    markdown = (workdir / "out/2025-05.md").read_bytes()
    json_twin = (workdir / "out/2025-05.json").read_bytes()
    (workdir / "out/2025-05.md").unlink()
    second = run(store, config)
    assert builds.count == 1
    assert second.digest is None  # nothing was ranked or rendered
    assert (workdir / "out/2025-05.md").read_bytes() == markdown
    assert (workdir / "out/2025-05.json").read_bytes() == json_twin
    assert second.summary == first.summary
    assert second.summary.considered == 60 and second.text == markdown.decode()


def test_a_reused_digest_equals_one_built_from_scratch(store, config, workdir):
    run(store, config)
    reused = run(store, config).text
    store.conn.execute("DELETE FROM cache")
    store.conn.commit()
    assert run(store, config).text == reused


def test_a_changed_paper_of_the_month_builds_the_digest_again(store, config, builds):
    run(store, config)
    paper = store.papers_for_month("2025-05")[0]
    store.upsert_papers([dataclasses.replace(paper, title="A Retitled Paper", version=2)])
    run(store, config)
    assert builds.count == 2


def test_a_new_paper_in_a_trailing_month_builds_the_digest_again(store, config, builds):
    run(store, config)
    store.upsert_papers(make_papers("2025-03", per_topic=1))  # a baseline month of May
    run(store, config)
    assert builds.count == 2


def test_papers_of_a_later_month_leave_the_saved_digest_valid(store, config, builds):
    run(store, config)
    store.upsert_papers(make_papers("2025-07", per_topic=2))
    run(store, config)
    run(store, config)
    assert builds.count == 1


def test_other_settings_build_the_digest_again(store, config, builds):
    run(store, config)
    run(store, dataclasses.replace(config, digest=dataclasses.replace(config.digest, top_picks=3)))
    assert builds.count == 2


def test_an_edited_categories_file_builds_the_digest_again(store, config, builds, workdir):
    source = Path(pipeline.find_categories_file(None)).read_text(encoding="utf-8")
    (workdir / "config").mkdir()
    local = workdir / "config/categories.toml"
    local.write_text(source, encoding="utf-8")
    run(store, config)
    run(store, config)
    local.write_text(source.replace("Knowledge Distillation", "Distillation"), encoding="utf-8")
    text = run(store, config).text
    assert builds.count == 2
    assert "## Distillation" in text


def test_with_background_idf_a_new_paper_in_the_earliest_months_background_builds_it_again(
    store, config, builds
):
    config.rank.background_idf = True  # the ranking of 2024-05 reads 2024-03 and 2024-04
    run(store, config)
    store.upsert_papers(make_papers("2024-03", per_topic=1))
    run(store, config)
    assert builds.count == 2


def test_a_local_template_builds_the_digest_again(store, config, builds, workdir):
    run(store, config)
    (workdir / "templates").mkdir()
    (workdir / "templates/digest.md.j2").write_text("Only {{ d.month }}\n", encoding="utf-8")
    assert run(store, config).text == "Only 2025-05\n"
    assert builds.count == 2


def test_an_edited_file_a_local_template_includes_builds_the_digest_again(
    store, config, builds, workdir
):
    (workdir / "templates" / "parts").mkdir(parents=True)
    (workdir / "templates/digest.md.j2").write_text('{% include "parts/head.md" %}\n')
    (workdir / "templates/parts/head.md").write_text("HEADER V1")
    assert run(store, config).text == "HEADER V1"
    (workdir / "templates/parts/head.md").write_text("HEADER V2")
    assert run(store, config).text == "HEADER V2"
    assert builds.count == 2


def test_an_emailed_run_builds_the_digest_for_its_chart(store, config, builds, monkeypatch):
    sent = []
    monkeypatch.setattr(
        pipeline, "deliver", lambda store, config, opts, result: sent.append(result)
    )
    monkeypatch.setattr(pipeline, "_check_delivery", lambda *args: None)  # no SMTP set up
    run(store, config)
    result = run(store, config, email=True)
    assert builds.count == 2
    assert result.trends is not None and result.digest is not None


def test_the_saved_digest_is_reused_without_loading_the_ranker(store, config, monkeypatch):
    run(store, config)

    def must_not_run(*args, **kwargs):
        raise AssertionError("the saved digest should have been reused")

    monkeypatch.setattr(trends, "build_trends_section", must_not_run)
    monkeypatch.setattr(pipeline, "build_month_digest", must_not_run)
    assert run(store, config).summary.considered == 60


def test_a_new_paper_twelve_months_back_builds_the_digest_again(store, config, builds):
    run(store, config)
    store.upsert_papers(make_papers("2024-05", per_topic=1))  # the oldest month May compares with
    run(store, config)
    assert builds.count == 2


def test_papers_thirteen_months_back_leave_the_saved_digest_valid(store, config, builds):
    run(store, config)
    store.upsert_papers(make_papers("2024-04", per_topic=1))  # older than the digest reads
    run(store, config)
    assert builds.count == 1


def test_upgraded_code_builds_the_digest_again(store, config, builds, monkeypatch):
    from trenddigest import cache

    run(store, config)
    monkeypatch.setattr(cache, "_package_code_version", lambda: "the next release")
    run(store, config)
    assert builds.count == 2


def test_an_edited_trends_template_builds_the_digest_again(store, config, builds, workdir):
    from trenddigest.render import template_search_path

    packaged = Path(template_search_path(None)[-1])
    (workdir / "templates").mkdir()
    for name in ("digest.md.j2", "trends.md.j2"):
        (workdir / "templates" / name).write_bytes((packaged / name).read_bytes())
    run(store, config)
    trends_template = workdir / "templates/trends.md.j2"
    text = trends_template.read_text(encoding="utf-8")
    trends_template.write_text(text.replace("Category momentum", "Momentum"), encoding="utf-8")
    assert " Momentum\n" in run(store, config).text
    assert builds.count == 2


def test_a_month_without_papers_is_an_empty_month_error(store, config):
    # The scheduler tells it apart from other input errors (see test_schedule.py).
    with pytest.raises(EmptyMonthError, match="has no papers from 2024-01 "):
        run_month(store, config, RunOptions(month=Month.parse("2024-01"), offline=True))


def test_a_repeated_run_loads_none_of_the_heavy_libraries(store, config, workdir):
    run(store, config)  # saves the digest
    code = (
        "import sys; from trenddigest.cli import main; "
        f"code = main(['--store', {str(workdir / 'store.sqlite3')!r}, 'run', '--month', "
        f"'2025-05', '--offline', '--output', {config.digest.output!r}, '-q']); "
        "heavy = ('numpy', 'scipy', 'sklearn', 'jinja2', 'feedparser', 'arxiv', 'requests'); "
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=workdir
    )
    assert out.stdout.strip().splitlines()[-1] == "0 []"


def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple:
    """``trenddigest run`` of May from the store alone, as a user types it."""
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE"):
        monkeypatch.delenv(var, raising=False)
    argv = ["--store", "store.sqlite3", "run", "--month", "2025-05", "--offline"]
    code = main([*argv, "--output", "out/{year}-{month}.md"])
    out, err = capsys.readouterr()
    return code, out, err


SUMMARY = "2025-05: 60 papers, 48 placed in 5 of 27 categories, 12 in none; "


def test_a_repeated_run_says_its_digest_is_unchanged_and_a_first_one_that_it_wrote_it(
    store, workdir, capsys, monkeypatch
):
    assert run_cli(capsys, monkeypatch) == (
        0,
        f"{SUMMARY}wrote out/2025-05.md, out/2025-05.json\n",
        "",
    )
    assert run_cli(capsys, monkeypatch) == (
        0,
        f"{SUMMARY}unchanged: out/2025-05.md, out/2025-05.json\n",
        "",
    )


def test_a_repeated_run_writes_again_only_the_file_no_longer_as_it_made_it(
    store, workdir, capsys, monkeypatch
):
    run_cli(capsys, monkeypatch)
    (workdir / "out/2025-05.md").unlink()
    assert run_cli(capsys, monkeypatch) == (
        0,
        f"{SUMMARY}wrote out/2025-05.md; unchanged: out/2025-05.json\n",
        "",
    )


def test_a_repeated_run_counts_as_unchanged_only_the_files_that_already_held_the_digest(
    store, config, workdir
):
    run(store, config)
    json_twin = workdir / "out/2025-05.json"
    (workdir / "out/2025-05.md").unlink()
    result = run(store, config)
    assert result.unchanged == [json_twin]
    assert result.written == [workdir / "out/2025-05.md", json_twin]  # what git commits
    assert (workdir / "out/2025-05.md").read_text(encoding="utf-8") == result.text


def test_a_digest_changed_since_the_run_wrote_it_is_refused_not_overwritten(store, config, workdir):
    run(store, config)
    digest = workdir / "out/2025-05.md"
    annotated = digest.read_text(encoding="utf-8") + "\n> Editor's note: read 2505.00001 first.\n"
    digest.write_text(annotated, encoding="utf-8")
    with pytest.raises(InputError) as err:
        run(store, config)
    assert str(err.value) == (
        f"{digest} was changed after this store's run wrote it (by hand, or by another "
        "run's output arriving through git), and this run would overwrite it: keep a change "
        "you want elsewhere, or delete the file to have it written again"
    )
    assert digest.read_text(encoding="utf-8") == annotated


def test_a_digest_file_no_run_of_this_store_wrote_is_written_over(store, config, workdir):
    # An older release's digest, or one another store's run wrote: nothing to judge by.
    (workdir / "out").mkdir()
    (workdir / "out/2025-05.md").write_text("an older release's digest\n", encoding="utf-8")
    result = run(store, config)
    assert (workdir / "out/2025-05.md").read_text(encoding="utf-8") == result.text


def test_a_digest_git_checked_out_with_crlf_line_ends_is_not_taken_for_an_edit(
    store, config, workdir
):
    run(store, config)
    digest = workdir / "out/2025-05.md"
    digest.write_bytes(digest.read_bytes().replace(b"\n", b"\r\n"))  # core.autocrlf
    result = run(store, config)
    assert digest.read_text(encoding="utf-8") == result.text


def test_a_digest_edited_in_both_files_is_refused_too(store, config, workdir):
    # An edit made to the Markdown and its JSON twin together (or one on top of a
    # teammate's run arriving by git pull) is as much an edit as one to the Markdown.
    run(store, config)
    for name in ("out/2025-05.md", "out/2025-05.json"):
        path = workdir / name
        path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(InputError):
        run(store, config)
