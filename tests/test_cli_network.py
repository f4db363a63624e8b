"""`trenddigest run` with arXiv: filled from a local arXiv stand-in, or failing clearly."""

import json

import pytest

from arxiv_server import ArxivTestServer, unused_port
from trenddigest.cli import main
from trenddigest.store import Store


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_ARXIV_FEED_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_run_backfills_the_month_from_arxiv_and_renders_it(
    workdir,
    monkeypatch,
    capsys,
    arxiv_server: ArxivTestServer,
    no_arxiv_waits,
):
    monkeypatch.setenv("TRENDDIGEST_ARXIV_API_URL", arxiv_server.api_url)
    code = main(["run", "--month", "2025-05", "-q"])
    out, err = capsys.readouterr()
    assert code == 0, err
    with Store.open(workdir / "data/trenddigest.sqlite3") as store:
        stored = {p.id for p in store.papers_for_month("2025-05")}
    assert len(stored) == 22
    data = json.loads((workdir / "digests/2025/2025-05.json").read_text())
    listed = {p["id"] for c in data["categories"] for p in c["papers"]}
    assert data["considered"] == 22
    assert listed <= stored and listed
    text = (workdir / "digests/2025/2025-05.md").read_text()
    assert text.startswith("# Research Trends: May, 2025")
    assert (
        "[Distilling Large Vision Models into Tiny Students](https://arxiv.org/abs/2505.00104)"
        in text
    )
    assert no_arxiv_waits.sleeps  # paced on the fake clock, never for real


def test_second_run_of_a_complete_month_asks_arxiv_nothing(
    workdir,
    monkeypatch,
    capsys,
    arxiv_server: ArxivTestServer,
    no_arxiv_waits,
):
    monkeypatch.setenv("TRENDDIGEST_ARXIV_API_URL", arxiv_server.api_url)
    assert main(["run", "--month", "2025-05", "-q"]) == 0
    before = len(arxiv_server.api_requests)
    assert main(["run", "--month", "2025-05", "-q"]) == 0
    assert len(arxiv_server.api_requests) == before


def test_without_network_run_fails_in_one_clear_line(
    workdir,
    monkeypatch,
    capsys,
    no_arxiv_waits,
):
    url = f"http://127.0.0.1:{unused_port()}/api/query"
    monkeypatch.setenv("TRENDDIGEST_ARXIV_API_URL", url)
    code = main(["run", "--month", "2025-05"])
    _, err = capsys.readouterr()
    assert code == 4
    assert err.count("\n") == 1
    assert err.startswith(f"trenddigest: error: cannot reach arXiv API at {url}")
    assert "use --offline or --from FILE to work without arXiv" in err
    assert not (workdir / "digests").exists()
