"""`trenddigest run` with arXiv: filled from a local arXiv stand-in, or failing clearly."""

import json
import os
import re
import socket
from datetime import UTC, datetime

import pytest

from arxiv_server import ArxivTestServer, unused_port
from synthetic import make_papers
from trenddigest.cli import main
from trenddigest.lock import store_lock
from trenddigest.sources import client as client_module
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


def test_a_month_arxiv_has_no_papers_for_is_one_line_that_does_not_blame_offline(
    workdir,
    monkeypatch,
    capsys,
    arxiv_server: ArxivTestServer,
    no_arxiv_waits,
):
    monkeypatch.setenv("TRENDDIGEST_ARXIV_API_URL", arxiv_server.api_url)
    code = main(["run", "--month", "2025-02", "-q"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: arXiv lists no papers from 2025-02 (by arXiv id) in the "
        "categories cs.CV, cs.LG, cs.AI, cs.CL, stat.ML, eess.IV; check --month and "
        "[arxiv] categories\n"
    )
    assert not (workdir / "digests").exists()


def test_second_run_of_a_complete_month_asks_arxiv_nothing(
    workdir,
    monkeypatch,
    capsys,
    arxiv_server: ArxivTestServer,
    no_arxiv_waits,
):
    monkeypatch.setenv("TRENDDIGEST_ARXIV_API_URL", arxiv_server.api_url)
    no_arxiv_waits.advance(12 * 3600)  # when arXiv's API holds all of May
    assert main(["run", "--month", "2025-05", "-q"]) == 0
    before = len(arxiv_server.api_requests)
    assert main(["run", "--month", "2025-05", "-q"]) == 0
    assert len(arxiv_server.api_requests) == before


# A log line on stderr when it is no terminal (cron, a CI log, captured here).
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING) [\w.]+: (.*)")


def messages(err: str) -> list[str]:
    """stderr's lines, log lines without their time stamp, level and logger."""
    return [m.group(2) if (m := LOG_LINE.fullmatch(line)) else line for line in err.splitlines()]


def test_a_retry_is_one_stderr_line_saying_what_arxiv_answered_and_how_long_it_waits(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    use_arxiv(
        monkeypatch, workdir, arxiv_server, '[arxiv]\ncategories = ["cs.CV"]\npage_size = 5\n'
    )
    arxiv_server.fail("status", status=503, headers={"Retry-After": "27"})
    code = main(["run", "--month", "2025-05"])
    _, err = capsys.readouterr()
    assert code == 0
    line = (
        f"INFO trenddigest.sources.client: arXiv API at {arxiv_server.api_url}: HTTP 503; "
        "retrying in 27 s, as arXiv asked (retry 1 of 5)"
    )
    first, *progress = err.splitlines()
    # Not on a terminal (cron, CI), a log line is time-stamped: when arXiv was in trouble.
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} " + re.escape(line), first)
    assert progress == [
        "cs.CV 2025-05: fetching (13 papers)",
        "cs.CV 2025-05: 5/13 papers",
        "cs.CV 2025-05: 10/13 papers",
        "cs.CV 2025-05: 13/13 papers",
        "cs.CV 2025-05: 13/13 papers (fetched)",
    ]
    assert no_arxiv_waits.sleeps == [27.0, 3.0, 3.0]


def test_quiet_retries_without_a_line(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    use_arxiv(monkeypatch, workdir, arxiv_server, '[arxiv]\ncategories = ["cs.CV"]\n')
    assert main(["fetch", "--month", "2025-05"]) == 0  # not quiet: the logger says INFO
    arxiv_server.fail("status", status=503, headers={"Retry-After": "27"})
    no_arxiv_waits.advance(12 * 3600)  # the month is checked again
    capsys.readouterr()
    code = main(["fetch", "--month", "2025-05", "-q"])
    _, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert 27.0 in no_arxiv_waits.sleeps


def test_a_command_right_after_another_waits_out_the_spacing_without_a_line(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    monkeypatch.setenv("TRENDDIGEST_ARXIV_FEED_URL", arxiv_server.feed_url)
    write_config(workdir, '[arxiv]\ncategories = ["cs.CV"]\n')
    arxiv_server.set_listing("cs.CV", "2025-05-14", [{"id": "2505.00107", "type": "new"}])
    assert main(["poll"]) == 0
    assert main(["poll"]) == 0  # `poll` twice in a script: the second waits 3 s first
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[1] == (
        "polled 1 arXiv feed (1 not modified): 0 new, 0 updated, 0 unchanged papers"
    )
    assert no_arxiv_waits.sleeps == [3.0]


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
    # Its quick retries print nothing: the one line says what is wrong and what to do.
    assert err == (
        f"trenddigest: error: cannot reach arXiv API at {url} (connection refused): check "
        "the network or set [arxiv] api_url; use --offline or --from FILE to work without "
        "arXiv\n"
    )
    assert not (workdir / "digests").exists()


def write_config(workdir, text: str) -> None:
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config" / "trenddigest.toml").write_text(text)


# A port number no URL can have: the config check refuses it before any request.
BAD_FEED_URL = "http://127.0.0.1:99999/rss/"
BAD_FEED_URL_ERROR = (
    "trenddigest: error: [arxiv] feed_url is not a valid URL: "
    f"'{BAD_FEED_URL}cs.CV'; correct it in the config file or $TRENDDIGEST_ARXIV_FEED_URL\n"
)


def poll_with_a_bad_feed_url(monkeypatch, capsys) -> tuple[int, str]:
    """``trenddigest poll`` with that feed URL: its exit code and stderr."""
    monkeypatch.setenv("TRENDDIGEST_ARXIV_FEED_URL", BAD_FEED_URL)
    code = main(["poll"])
    return code, capsys.readouterr().err


def use_arxiv(monkeypatch, workdir, server: ArxivTestServer, config_text: str) -> None:
    """Point the commands at the local arXiv stand-in, with this config file."""
    monkeypatch.setenv("TRENDDIGEST_ARXIV_API_URL", server.api_url)
    write_config(workdir, config_text)


def test_default_endpoint_without_network_fails_within_seconds(
    workdir, monkeypatch, capsys, no_arxiv_waits
):
    # The default export.arxiv.org, on a machine where name lookups fail (offline).
    monkeypatch.delenv("TRENDDIGEST_ARXIV_API_URL", raising=False)
    real = socket.getaddrinfo

    def offline(host, *args, **kwargs):
        if host == "export.arxiv.org":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    code = main(["run", "--month", "2025-05"])
    _, err = capsys.readouterr()
    assert code == 4
    assert err == (
        "trenddigest: error: cannot reach arXiv API at https://export.arxiv.org/api/query "
        "(name resolution failed): check the network or set [arxiv] api_url; use --offline "
        "or --from FILE to work without arXiv\n"
    )
    assert no_arxiv_waits.sleeps == [3.0]  # one quick retry, not half a minute of backoff


def test_endpoints_come_from_the_config_file(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    monkeypatch.delenv("TRENDDIGEST_ARXIV_API_URL", raising=False)
    write_config(
        workdir,
        f'[arxiv]\ncategories = ["cs.CL"]\napi_url = "{arxiv_server.api_url}"\n'
        f'feed_url = "{arxiv_server.feed_url}"\n',
    )
    arxiv_server.set_listing("cs.CL", "2025-05-14", [{"id": "2505.00112", "type": "new"}])
    assert main(["fetch", "--month", "2025-05", "-q"]) == 0
    assert main(["poll", "-q"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        "fetched 2025-05 from arXiv: 3 new, 0 updated, 0 unchanged papers in 1 category "
        "(1 request)",
        # The listing adds the announce date to the paper the API brought: an update.
        "polled 1 arXiv feed (1 stored): 0 new, 1 updated, 0 unchanged papers",
    ]
    assert [s.path for s in arxiv_server.seen] == ["/api/query", "/rss/cs.CL"]


def test_feed_url_from_the_environment_overrides_the_config(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    write_config(workdir, '[arxiv]\ncategories = ["cs.CV"]\nfeed_url = "http://127.0.0.1:9/x/"\n')
    monkeypatch.setenv("TRENDDIGEST_ARXIV_FEED_URL", arxiv_server.atom_feed_url)
    arxiv_server.set_listing("cs.CV", "2025-05-14", [{"id": "2505.00107", "type": "new"}])
    assert main(["poll", "-q"]) == 0
    with Store.open(workdir / "data/trenddigest.sqlite3") as store:
        paper = store.get_paper("2505.00107")
    assert paper is not None and paper.announced == "2025-05-14"


def test_fetch_shows_plain_progress_lines_when_not_on_a_terminal(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    use_arxiv(
        monkeypatch, workdir, arxiv_server, '[arxiv]\ncategories = ["cs.CV"]\npage_size = 5\n'
    )
    assert main(["fetch", "--month", "2025-05"]) == 0
    _, err = capsys.readouterr()  # captured stderr is not a terminal, as under cron
    assert err.splitlines() == [
        "cs.CV 2025-05: fetching (13 papers)",
        "cs.CV 2025-05: 5/13 papers",
        "cs.CV 2025-05: 10/13 papers",
        "cs.CV 2025-05: 13/13 papers",
        "cs.CV 2025-05: 13/13 papers (fetched)",
    ]
    assert "\r" not in err


def test_fetch_counts_a_paper_listed_in_two_categories_once_as_new(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    # 13 papers in cs.CV, 10 in cs.LG, 3 of them in both: 20 papers, all new.
    use_arxiv(
        monkeypatch,
        workdir,
        arxiv_server,
        '[arxiv]\ncategories = ["cs.CV", "cs.LG"]\npage_size = 5\n',
    )
    code = main(["fetch", "--month", "2025-05", "-q"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == (
        "fetched 2025-05 from arXiv: 20 new, 0 updated, 0 unchanged papers in 2 categories "
        "(5 requests)\n"
    )


def test_a_response_over_the_size_cap_is_one_line_naming_the_endpoint(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    monkeypatch.setattr(client_module, "MAX_RESPONSE_BYTES", 65536)
    use_arxiv(monkeypatch, workdir, arxiv_server, '[arxiv]\ncategories = ["cs.CV"]\n')
    arxiv_server.fail("huge", size=8 * 1024 * 1024)
    code = main(["fetch", "--month", "2025-05"])
    out, err = capsys.readouterr()
    assert (code, out) == (4, "")
    assert err == (
        f"trenddigest: error: arXiv API at {arxiv_server.api_url} sent more than 65,536 "
        "bytes (uncompressed), more than any arXiv page or feed holds; check that [arxiv] "
        "api_url points at arXiv\n"
    )
    assert len(arxiv_server.api_requests) == 1


def test_arxiv_failing_midway_is_one_line_and_keeps_the_pages_received(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    use_arxiv(
        monkeypatch,
        workdir,
        arxiv_server,
        '[arxiv]\ncategories = ["cs.CV"]\npage_size = 5\nmax_retries = 2\n',
    )
    arxiv_server.fail("status", times=3, status=503, when=lambda seen: seen.start == 10)
    code = main(["run", "--month", "2025-05", "-q"])
    _, err = capsys.readouterr()
    assert code == 4
    assert err == (
        f"trenddigest: error: arXiv API at {arxiv_server.api_url} kept failing after 3 tries "
        "(last: HTTP 503); 10 papers received by this run are stored; run again later to resume\n"
    )
    with Store.open(workdir / "data/trenddigest.sqlite3") as store:
        assert store.count_papers() == 10
    assert not (workdir / "digests").exists()


def test_arxiv_error_feed_is_one_line_with_arxivs_message(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    use_arxiv(monkeypatch, workdir, arxiv_server, '[arxiv]\ncategories = ["cs.XX"]\n')
    arxiv_server.fail("error", message="unknown category cs.XX")
    code = main(["fetch", "--month", "2025-05"])
    _, err = capsys.readouterr()
    assert code == 4
    assert err == (
        "trenddigest: error: arXiv API rejected the query 'cat:cs.XX AND "
        "submittedDate:[202504240000 TO 202505312359]': unknown category cs.XX "
        f"({arxiv_server.api_url})\n"
    )


@pytest.mark.parametrize(
    "command", [["run", "--month", "2025-05"], ["fetch", "--month", "2025-05"], ["poll"]]
)
def test_second_process_on_the_same_store_stops_with_a_clear_message(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits, command
):
    use_arxiv(monkeypatch, workdir, arxiv_server, "[store]\nlock_timeout_seconds = 0\n")
    store_path = workdir / "data" / "trenddigest.sqlite3"
    with store_lock(store_path, timeout=0):  # another run holds the store
        code = main(command)
    _, err = capsys.readouterr()
    assert code == 6
    assert err == (
        f"trenddigest: error: another trenddigest process is using the store "
        f"data/trenddigest.sqlite3 (pid {os.getpid()}); try again when it finishes\n"
    )
    assert arxiv_server.seen == []  # nothing fetched, so nothing written twice
    assert not (workdir / "digests").exists()


def test_a_feed_that_fails_is_one_stderr_line_with_its_reason(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    write_config(workdir, '[arxiv]\ncategories = ["cs.CV", "cs.LG"]\n')
    monkeypatch.setenv("TRENDDIGEST_ARXIV_FEED_URL", arxiv_server.feed_url)
    arxiv_server.set_listing("cs.LG", "2025-05-14", [{"id": "2505.00108", "type": "new"}])
    code = main(["poll"])  # no cs.CV listing: the server answers 404
    _, err = capsys.readouterr()
    assert code == 4
    assert err == (
        "trenddigest: error: 1 of 2 arXiv feeds failed: cs.CV (arXiv feed at "
        f"{arxiv_server.feed_url}cs.CV answered HTTP 404 Not Found: check [arxiv] feed_url "
        "and the category names); the other feed was read (1 stored): 1 new, 0 updated, "
        "0 unchanged papers\n"
    )


def test_a_mistyped_feed_url_is_one_config_error_line_and_leaves_the_store_alone(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    write_config(workdir, '[arxiv]\ncategories = ["cs.CV", "cs.LG"]\n')
    monkeypatch.setenv("TRENDDIGEST_ARXIV_FEED_URL", arxiv_server.feed_url)
    arxiv_server.set_listing("cs.CV", "2025-05-14", [{"id": "2505.00107", "type": "new"}])
    arxiv_server.set_listing("cs.LG", "2025-05-14", [{"id": "2505.00108", "type": "new"}])
    assert main(["poll", "-q"]) == 0
    store = workdir / "data/trenddigest.sqlite3"
    before = store.read_bytes()
    assert poll_with_a_bad_feed_url(monkeypatch, capsys) == (2, BAD_FEED_URL_ERROR)
    assert no_arxiv_waits.sleeps == [] or max(no_arxiv_waits.sleeps) <= 3.0
    assert store.read_bytes() == before


# -- a failed first run leaves the machine as it was -----------------------------------------


def unreachable_arxiv(monkeypatch) -> str:
    """Point the API at a closed local port (no network): the error line it gives."""
    url = f"http://127.0.0.1:{unused_port()}/api/query"
    monkeypatch.setenv("TRENDDIGEST_ARXIV_API_URL", url)
    return (
        f"trenddigest: error: cannot reach arXiv API at {url} (connection refused): check "
        "the network or set [arxiv] api_url; use --offline or --from FILE to work without "
        "arXiv\n"
    )


@pytest.mark.parametrize(
    "command",
    [["run", "--month", "2025-05"], ["fetch", "--month", "2025-05"]],
    ids=["run", "fetch"],
)
def test_without_network_a_first_run_leaves_no_store_behind(
    workdir, monkeypatch, capsys, no_arxiv_waits, command
):
    message = unreachable_arxiv(monkeypatch)
    code = main(command)
    _, err = capsys.readouterr()
    assert (code, err) == (4, message)
    assert list(workdir.iterdir()) == []  # no store, no -wal, -shm or lock file, no data/


@pytest.mark.parametrize("papers", [3, 0], ids=["filled", "empty"])
def test_without_network_a_run_keeps_the_store_that_was_there_with_all_it_held(
    workdir, monkeypatch, capsys, no_arxiv_waits, papers
):
    path = workdir / "data" / "trenddigest.sqlite3"
    with Store.open(path) as store:
        store.upsert_papers(make_papers("2025-05")[:papers])
        before = list(store.iter_papers())
    message = unreachable_arxiv(monkeypatch)
    code = main(["run", "--month", "2025-05"])
    _, err = capsys.readouterr()
    assert (code, err) == (4, message)
    assert path.is_file()
    with Store.open(path) as store:
        assert list(store.iter_papers()) == before


def test_an_arxiv_outage_at_the_first_fetch_leaves_no_store_behind(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    use_arxiv(
        monkeypatch, workdir, arxiv_server, '[arxiv]\ncategories = ["cs.CV"]\nmax_retries = 2\n'
    )
    arxiv_server.fail("status", times=3, status=503)
    code = main(["fetch", "--month", "2025-05", "-q"])
    _, err = capsys.readouterr()
    assert code == 4
    assert err == (
        f"trenddigest: error: arXiv API at {arxiv_server.api_url} kept failing after 3 tries "
        "(last: HTTP 503); run again later to resume\n"
    )
    assert sorted(p.name for p in workdir.iterdir()) == ["config"]


def test_a_first_run_arxiv_lists_no_papers_for_keeps_what_it_learnt(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    """Not a paper, but fetch progress: the next run need not read the month again."""
    use_arxiv(monkeypatch, workdir, arxiv_server, '[arxiv]\ncategories = ["cs.CV"]\n')
    code = main(["run", "--month", "2025-02", "-q"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == (
        "trenddigest: error: arXiv lists no papers from 2025-02 (by arXiv id) in the "
        "categories cs.CV; check --month and [arxiv] categories\n"
    )
    with Store.open(workdir / "data/trenddigest.sqlite3") as store:
        assert store.query_one("SELECT category, month, total, complete FROM fetch_progress") == (
            "cs.CV",
            "2025-02",
            0,
            1,
        )


def test_a_config_error_found_after_the_store_was_opened_leaves_no_new_store(
    workdir, monkeypatch, capsys, no_arxiv_waits
):
    assert poll_with_a_bad_feed_url(monkeypatch, capsys) == (2, BAD_FEED_URL_ERROR)
    assert list(workdir.iterdir()) == []


def test_a_first_run_told_to_wait_keeps_its_store_so_the_next_run_waits_too(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    # The store holds nothing but arXiv's Retry-After: removing it would let a retry
    # by hand a minute later ask arXiv again within the hour it asked for.
    use_arxiv(monkeypatch, workdir, arxiv_server, '[arxiv]\ncategories = ["cs.CV"]\n')
    arxiv_server.fail("status", times=1, status=503, headers={"Retry-After": "3600"})
    assert main(["fetch", "--month", "2025-05", "-q"]) == 4
    assert (workdir / "data" / "trenddigest.sqlite3").is_file()
    no_arxiv_waits.advance(60)
    assert main(["fetch", "--month", "2025-05", "-q"]) == 4
    _, err = capsys.readouterr()
    assert "arXiv asked an earlier run to wait until" in err
    assert len(arxiv_server.api_requests) == 1


@pytest.mark.parametrize(("retry_after", "kept"), [("60", True), ("2", False)])
def test_a_first_fetch_told_to_wait_longer_than_the_spacing_keeps_its_store(
    workdir, monkeypatch, arxiv_server: ArxivTestServer, no_arxiv_waits, retry_after, kept
):
    # A Retry-After within the longest backoff, slept through by the client's retry and
    # sent again with the last 503, is still a wait for the next run; one within the
    # 3 s spacing is not worth a store.
    use_arxiv(
        monkeypatch, workdir, arxiv_server, '[arxiv]\ncategories = ["cs.CV"]\nmax_retries = 1\n'
    )
    arxiv_server.fail("status", times=2, status=503, headers={"Retry-After": retry_after})
    assert main(["fetch", "--month", "2025-05", "-q"]) == 4
    store_file = workdir / "data" / "trenddigest.sqlite3"
    assert store_file.is_file() is kept
    if kept:
        with Store.open(store_file) as store:
            left = float(store.get_meta("arxiv_not_before") or 0) - no_arxiv_waits.time()
        assert left > 55
    else:
        assert sorted(p.name for p in workdir.iterdir()) == ["config"]


def test_a_first_poll_told_to_wait_keeps_its_store_so_the_next_poll_waits_too(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    monkeypatch.setenv("TRENDDIGEST_ARXIV_FEED_URL", arxiv_server.feed_url)
    write_config(workdir, '[arxiv]\ncategories = ["cs.CV", "cs.LG"]\n')
    arxiv_server.fail("status", path="/rss/", status=503, headers={"Retry-After": "3600"})
    assert main(["poll", "-q"]) == 4
    assert (workdir / "data" / "trenddigest.sqlite3").is_file()
    no_arxiv_waits.advance(60)
    assert main(["poll", "-q"]) == 4
    _, err = capsys.readouterr()
    assert err.splitlines()[-1].startswith(
        "trenddigest: error: arXiv asked an earlier run to wait until"
    )
    assert len(arxiv_server.feed_requests) == 1


def test_a_fetch_told_to_wait_an_hour_says_until_when(
    workdir, monkeypatch, capsys, arxiv_server: ArxivTestServer, no_arxiv_waits
):
    use_arxiv(monkeypatch, workdir, arxiv_server, '[arxiv]\ncategories = ["cs.CV"]\n')
    arxiv_server.fail("status", times=1, status=503, headers={"Retry-After": "3600"})
    until = datetime.fromtimestamp(no_arxiv_waits.time() + 3600, UTC)
    assert main(["fetch", "--month", "2025-05", "-q"]) == 4
    _, err = capsys.readouterr()
    assert err == (
        f"trenddigest: error: arXiv API at {arxiv_server.api_url} asked to wait 3600 s "
        "before asking again (HTTP 503), longer than [arxiv] max_backoff_seconds = 300; "
        f"run again after {until:%Y-%m-%d %H:%M:%S} UTC to resume\n"
    )
