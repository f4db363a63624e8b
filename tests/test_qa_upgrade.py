"""Upgrading in place: a store, caches and fetch progress written by an older release.

A lab runs trenddigest unattended for months, then installs a newer release over it
and carries on with the same store.  Nothing the older release recorded may make the
newer one skip papers or reuse results its own code would not produce.  Old-shaped
stores are built from the shipped migrations (never edited once released), so they
are what an older release really left behind.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from arxiv_server import ArxivTestServer, FakeClock, fast_arxiv_config, synthetic_papers
from trenddigest import cache, trends
from trenddigest.categories import Category, Keyword
from trenddigest.config import RankConfig
from trenddigest.errors import StoreError
from trenddigest.rank import rank_papers
from trenddigest.sources.backfill import fetch_month
from trenddigest.sources.client import ArxivClient
from trenddigest.store import MIGRATIONS, Store

# What the releases before the week-early API window (schema 3) left in their stores.
OLD_SCHEMA = 3


def old_release_store(path: Path, schema: int = OLD_SCHEMA) -> sqlite3.Connection:
    """A store file as a release whose newest migration was ``schema`` created it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE schema_migrations ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    for version, description, script in MIGRATIONS:
        if version > schema:
            break
        if callable(script):
            script(conn)
        else:
            conn.executescript(script)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, '2025-01-01T00:00:00+00:00')",
            (version, description),
        )
    return conn


# ------------------------------------------------------------------ fetch progress


def lead_in_paper() -> dict[str, object]:
    """Submitted on 29 April after April's last announcement cutoff: arXiv first
    announced it in May, so it carries a 2505 id and belongs to May's digest."""
    return {
        "id": "2505.20001",
        "version": 1,
        "submitted": "2025-04-29T19:00:00Z",
        "categories": ["cs.CV"],
        "title": "An Invented Method Submitted Late In April",
        "abstract": "Synthetic abstract of a paper announced in the month after it was sent.",
        "authors": ["Late Example"],
        "comment": "",
    }


@pytest.fixture
def lead_in_server() -> Iterator[ArxivTestServer]:
    with ArxivTestServer([*synthetic_papers(4, month="2025-05"), lead_in_paper()]) as srv:
        yield srv


def test_a_month_an_older_release_fetched_complete_still_gets_its_lead_in_papers(
    tmp_path: Path, lead_in_server: ArxivTestServer
) -> None:
    # The older release asked for 1-31 May only and recorded the window complete
    # an hour before the upgrade: a complete window checked that recently is
    # normally not asked about again.
    path = tmp_path / "store.sqlite3"
    old = old_release_store(path)
    old.execute(
        "INSERT INTO fetch_progress VALUES ('cs.CV', '2025-05', 4, 4, 1, "
        "'2025-06-01T23:00:00+00:00')"
    )
    old.close()
    clock = FakeClock()  # 2025-06-02T00:00Z
    config = fast_arxiv_config(lead_in_server, categories=["cs.CV"])
    client = ArxivClient(config, sleep=clock.sleep, clock=clock, wall_clock=clock.time)
    with Store.open(path) as store:
        fetch_month(store, config, "2025-05", client=client)
        ids = [p.id for p in store.papers_for_month("2025-05")]
    assert "2505.20001" in ids
    assert len(ids) == 5


def test_a_complete_window_of_this_release_is_only_checked_once_after_the_upgrade(
    tmp_path: Path, lead_in_server: ArxivTestServer
) -> None:
    path = tmp_path / "store.sqlite3"
    old_release_store(path).close()
    clock = FakeClock()
    clock.advance(12 * 3600)  # when arXiv's API holds all of May (its last mailing + 10 h)
    config = fast_arxiv_config(lead_in_server, categories=["cs.CV"])
    client = ArxivClient(config, sleep=clock.sleep, clock=clock, wall_clock=clock.time)
    with Store.open(path) as store:
        fetch_month(store, config, "2025-05", client=client)
    before = len(lead_in_server.api_requests)
    with Store.open(path) as store:
        summary = fetch_month(store, config, "2025-05", client=client)
    assert len(lead_in_server.api_requests) == before
    assert summary.counts.new == 0


def test_a_store_upgraded_by_this_release_is_refused_by_the_release_before(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.sqlite3"
    old_release_store(path).close()
    Store.open(path).close()
    # The older release's own check, with its own (shorter) list of migrations.
    older = [m for m in MIGRATIONS if m[0] <= OLD_SCHEMA]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("trenddigest.store.MIGRATIONS", older)
        with pytest.raises(StoreError) as refused:
            Store.open(path)
    assert str(refused.value) == (
        f"store {path} has schema version {MIGRATIONS[-1][0]}, newer than this trenddigest "
        f"understands ({OLD_SCHEMA}); upgrade trenddigest"
    )


# ------------------------------------------------------------------------ caches


@pytest.fixture
def package_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """trenddigest's source files in a folder of their own, as the code-version hash
    reads them: a test edits one module as a newer release would."""
    copy = tmp_path / "trenddigest"
    shutil.copytree(Path(cache.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "_PACKAGE_DIR", copy)
    cache.code_version.cache_clear()
    yield copy
    cache.code_version.cache_clear()


def release_edits(package: Path, module: str) -> None:
    path = package.joinpath(*module.split(".")[1:]).with_suffix(".py")
    path.write_text(path.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    cache.code_version.cache_clear()


CATEGORIES = [
    Category(name="Invented Topic", description="A made-up topic.", keywords=[Keyword("made-up")])
]


@pytest.mark.parametrize("module", ["trenddigest.tfidf", "trenddigest.models"])
def test_cached_category_counts_are_stale_once_code_the_ranker_runs_changes(
    package_copy: Path, module: str
) -> None:
    before = trends.ranking_fingerprint(CATEGORIES, RankConfig())
    release_edits(package_copy, module)
    assert trends.ranking_fingerprint(CATEGORIES, RankConfig()) != before


@pytest.mark.parametrize("module", ["trenddigest.models", "trenddigest.config"])
def test_a_cached_ranking_is_stale_once_code_the_ranker_runs_changes(
    package_copy: Path, module: str
) -> None:
    with Store.open(":memory:") as store:
        before = cache.ranking_fingerprint(store, "2025-05", CATEGORIES, RankConfig(), rank_papers)
        release_edits(package_copy, module)
        after = cache.ranking_fingerprint(store, "2025-05", CATEGORIES, RankConfig(), rank_papers)
    assert after != before


def test_cached_term_counts_are_stale_once_the_tokeniser_changes(package_copy: Path) -> None:
    before = trends._terms_code_hash()
    release_edits(package_copy, "trenddigest.tfidf")
    assert trends._terms_code_hash() != before


def test_cached_results_are_stale_after_a_numeric_library_upgrade(
    package_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = cache.code_version("trenddigest.rank")
    upgraded = {**cache._library_versions(), "scikit-learn": "99.0"}
    monkeypatch.setattr(cache, "_library_versions", lambda: upgraded)
    cache.code_version.cache_clear()
    assert cache.code_version("trenddigest.rank") != before


def test_an_unchanged_release_keeps_its_cached_results(package_copy: Path) -> None:
    before = trends.ranking_fingerprint(CATEGORIES, RankConfig())
    release_edits(package_copy, "trenddigest.deliver")  # the ranker never runs it
    assert trends.ranking_fingerprint(CATEGORIES, RankConfig()) == before


def test_imports_inside_functions_and_over_several_lines_are_followed() -> None:
    source = (
        "import json\n"
        "from .store import Store  # the store\n"
        "def f():\n"
        "    from .sources import (\n"
        "        client,\n"
        "        poll as polling,\n"
        "    )\n"
        "    import trenddigest.terms\n"
    )
    found = cache._own_imports(source, "trenddigest.pipeline", is_package=False)
    assert set(found) == {
        "trenddigest.store",
        "trenddigest.sources",
        "trenddigest.sources.client",
        "trenddigest.sources.poll",
        "trenddigest.terms",
    }
