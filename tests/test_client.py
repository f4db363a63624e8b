"""ArxivClient: pacing, retries, Retry-After, timeouts and error reporting.

Every test talks to a real HTTP server on 127.0.0.1 (tests/arxiv_server.py); waits go
to a fake clock, so the requested sleeps are asserted instead of slept.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import arxiv
import pytest
import requests

from arxiv_server import (
    ArxivTestServer,
    FakeClock,
    fast_arxiv_config,
    logged,
    render_api_feed,
    unused_port,
)
from trenddigest.config import ArxivConfig
from trenddigest.errors import ArxivAPIError, ConfigError, FetchError
from trenddigest.sources import client as client_module
from trenddigest.sources.client import (
    ArxivClient,
    RetriesExhaustedError,
    UnreachableError,
    WaitRequestedError,
)
from trenddigest.sources.files import MAX_XML_BYTES
from trenddigest.sources.pacing import resume_pacing
from trenddigest.sources.parse import ApiPage
from trenddigest.store import ARXIV_NOT_BEFORE_KEY, Store

QUERY = "cat:cs.CV AND submittedDate:[202505010000 TO 202505312359]"


@pytest.fixture
def server() -> Iterator[ArxivTestServer]:
    with ArxivTestServer() as srv:
        yield srv


def make_client(
    server: ArxivTestServer,
    clock: FakeClock,
    *,
    max_body_bytes: int | None = None,
    **config: object,
) -> ArxivClient:
    return ArxivClient(
        fast_arxiv_config(server, **config),
        sleep=clock.sleep,
        clock=clock,
        wall_clock=clock.time,
        max_body_bytes=max_body_bytes,
    )


def search(query: str = QUERY) -> arxiv.Search:
    return arxiv.Search(
        query=query,
        sort_by=arxiv.SortCriterion.SubmittedDate,
        sort_order=arxiv.SortOrder.Ascending,
    )


# -- the happy path ----------------------------------------------------------------


def test_fetches_and_parses_one_page(server: ArxivTestServer, clock: FakeClock) -> None:
    page = make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert page.total_results == 13
    assert [p.id for p in page.papers][:2] == ["2505.00101", "2505.00103"]


def test_requests_are_spaced_by_delay_seconds(server: ArxivTestServer, clock: FakeClock) -> None:
    client = make_client(server, clock)
    for start in (0, 5, 10):
        client.fetch_api_page(search(), start, 5)
    assert clock.sleeps == [3.0, 3.0]


def test_spacing_counts_time_already_passed(server: ArxivTestServer, clock: FakeClock) -> None:
    client = make_client(server, clock)
    client.fetch_api_page(search(), 0, 5)
    clock.advance(2.0)
    client.fetch_api_page(search(), 5, 5)
    assert clock.sleeps == [pytest.approx(1.0)]


def test_sends_the_configured_user_agent(server: ArxivTestServer, clock: FakeClock) -> None:
    make_client(server, clock, user_agent="digest-bot/1.0 (mailto:me@example.org)").fetch_api_page(
        search(), 0, 5
    )
    assert server.seen[0].headers["User-Agent"] == "digest-bot/1.0 (mailto:me@example.org)"


def test_query_api_requests_are_made_by_the_arxiv_package_client(
    server: ArxivTestServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    results = arxiv.Client.results

    def spy(self: arxiv.Client, search: arxiv.Search, offset: int = 0):  # type: ignore[no-untyped-def]
        calls.append(offset)
        return results(self, search, offset)

    def real_sleep(seconds: float) -> None:
        raise AssertionError("arxiv.Client must not pace on the real clock")

    monkeypatch.setattr(arxiv.Client, "results", spy)
    monkeypatch.setattr(arxiv.time, "sleep", real_sleep)
    make_client(server, clock).fetch_api_page(search(), 10, 5)
    make_client(server, clock).fetch_api_page(search(), 5, 5)
    assert calls == [10, 5]
    reference = arxiv.Client()
    reference.query_url_format = server.api_url + "?{}"
    expected = urlsplit(reference._format_url(search(), 10, 5)).query
    assert server.seen[0].raw_query == expected


def test_query_pages_on_until_total_results_handing_over_each_page_first(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    handed: list[tuple[int, int, int]] = []

    def on_page(offset: int, page: ApiPage) -> bool:
        handed.append((offset, len(page.papers), len(server.api_requests)))
        return True

    make_client(server, clock).query(search(), 0, 5, on_page)
    # 13 results: three pages, each handed over before the next request is made.
    assert handed == [(0, 5, 1), (5, 5, 2), (10, 3, 3)]
    assert len(server.api_requests) == 3


def test_query_stops_when_the_handler_says_so(server: ArxivTestServer, clock: FakeClock) -> None:
    make_client(server, clock).query(search(), 0, 5, lambda offset, page: False)
    assert len(server.api_requests) == 1


def test_sends_search_paging_and_ascending_submission_order(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    make_client(server, clock).fetch_api_page(search(), 10, 1000)
    params = server.seen[0].params
    assert params["search_query"] == QUERY
    assert (params["start"], params["max_results"]) == ("10", "1000")
    assert (params["sortBy"], params["sortOrder"]) == ("submittedDate", "ascending")


def test_uses_one_connection_at_a_time(server: ArxivTestServer, clock: FakeClock) -> None:
    client = make_client(server, clock)
    for start in (0, 5, 10):
        client.fetch_api_page(search(), start, 5)
    assert server.max_open_connections == 1


# -- retried faults ----------------------------------------------------------------


def test_503_with_retry_after_seconds_waits_that_long(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", status=503, headers={"Retry-After": "10"})
    page = make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert len(page.papers) == 5
    assert clock.sleeps == [10.0]


def test_retry_after_as_http_date_is_honoured(server: ArxivTestServer, clock: FakeClock) -> None:
    when = datetime.fromtimestamp(clock.time() + 42, UTC)
    server.fail("status", status=503, headers={"Retry-After": format_datetime(when, usegmt=True)})
    make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert clock.sleeps == [pytest.approx(42.0)]


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo"])
def test_retry_after_in_the_asctime_form_is_gmt_whatever_the_machines_time_zone(
    server: ArxivTestServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tz: str
) -> None:
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        when = datetime.fromtimestamp(clock.time() + 42, UTC)
        server.fail(
            "status", status=503, headers={"Retry-After": when.strftime("%a %b %d %H:%M:%S %Y")}
        )
        make_client(server, clock).fetch_api_page(search(), 0, 5)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert clock.sleeps == [pytest.approx(42.0)]


def test_retry_after_up_to_max_backoff_is_waited_in_full(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", status=429, headers={"Retry-After": "120"})
    make_client(server, clock, max_backoff_seconds=120.0).fetch_api_page(search(), 0, 5)
    assert clock.sleeps == [120.0]


def test_retry_after_beyond_max_backoff_stops_instead_of_asking_early(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", status=503, headers={"Retry-After": "86400"})
    with pytest.raises(RetriesExhaustedError) as err:
        make_client(server, clock, max_backoff_seconds=120.0).fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} asked to wait 86400 s before asking again "
        "(HTTP 503), longer than [arxiv] max_backoff_seconds = 120"
    )
    assert clock.sleeps == []
    assert len(server.api_requests) == 1


def test_an_earlier_runs_wait_that_stops_the_command_is_kept_for_the_next_one(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    # What record_pacing leaves the next command: the wait was not honoured, so it stays.
    client = make_client(server, clock, max_backoff_seconds=120.0)
    client.not_before = clock.now + 3600
    with pytest.raises(RetriesExhaustedError) as stopped:
        client.fetch_api_page(search(), 0, 5)
    until = datetime.fromtimestamp(clock.now + 3600, UTC)
    assert str(stopped.value) == (
        f"arXiv asked an earlier run to wait until {until:%Y-%m-%d %H:%M:%S} UTC; "
        "run again after that"
    )
    assert (client.not_before, client.next_allowed()) == (clock.now + 3600, clock.now + 3600)
    assert (server.api_requests, clock.sleeps) == ([], [])


def test_an_earlier_runs_wait_once_honoured_is_not_waited_again(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    client = make_client(server, clock, max_backoff_seconds=120.0)
    client.not_before = clock.now + 60
    client.fetch_api_page(search(), 0, 5)
    client.fetch_api_page(search(), 5, 5)
    assert client.not_before is None
    assert clock.sleeps == [60.0, 3.0]


def test_short_retry_after_still_keeps_three_seconds_between_requests(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", status=503, headers={"Retry-After": "1"})
    make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert clock.sleeps == [1.0, 2.0]


def test_429_without_retry_after_backs_off_exponentially(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", times=3, status=429)
    make_client(server, clock, backoff_seconds=10.0).fetch_api_page(search(), 0, 5)
    assert clock.sleeps == [10.0, 20.0, 40.0]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 507, 520, 522, 524, 599])
def test_408_429_and_every_transient_5xx_is_retried(
    server: ArxivTestServer, clock: FakeClock, status: int
) -> None:
    # Proxies and CDNs in front of a server send more 5xx than 500-504.
    server.fail("status", status=status)
    page = make_client(server, clock, backoff_seconds=10.0).fetch_api_page(search(), 0, 5)
    assert len(page.papers) == 5
    assert len(server.api_requests) == 2
    assert clock.sleeps == [10.0]


@pytest.mark.parametrize(
    ("status", "answer"), [(501, "Not Implemented"), (505, "HTTP Version Not Supported")]
)
def test_501_and_505_say_the_same_of_every_try_and_are_not_retried(
    server: ArxivTestServer, clock: FakeClock, status: int, answer: str
) -> None:
    server.fail("status", status=status)
    with pytest.raises(FetchError) as err:
        make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} answered HTTP {status} {answer}: check [arxiv] "
        "api_url and the category names"
    )
    assert len(server.api_requests) == 1


@pytest.mark.parametrize(
    ("status", "answer"),
    [(407, "Proxy Authentication Required"), (511, "Network Authentication Required")],
)
def test_a_proxy_or_captive_portal_wanting_a_login_is_named_not_the_url(
    server: ArxivTestServer, clock: FakeClock, status: int, answer: str
) -> None:
    server.fail("status", status=status)
    with pytest.raises(FetchError) as err:
        make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} answered HTTP {status} {answer}: a proxy or the "
        "network wants a login before it lets requests through (sign in, or give the "
        "proxy's credentials in HTTPS_PROXY)"
    )
    assert err.value.transient is True  # an unattended job asks again within the hour
    assert len(server.api_requests) == 1


def test_a_403_says_the_server_refuses_this_client_and_names_the_user_agent(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", status=403)
    with pytest.raises(FetchError) as err:
        make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} answered HTTP 403 Forbidden: the server refuses "
        "this client; check that [arxiv] api_url points at arXiv and that [arxiv] "
        "user_agent names you (arXiv's terms of use)"
    )
    assert err.value.transient is False


def test_the_backoff_doubles_from_backoff_seconds_up_to_max_backoff_seconds(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    # Public: the backfill waits the same before asking again for an empty page.
    client = make_client(server, clock, backoff_seconds=10.0, max_backoff_seconds=100.0)
    assert [client.backoff(n) for n in range(1, 7)] == [10.0, 20.0, 40.0, 80.0, 100.0, 100.0]


def test_retries_without_retry_after_wait_the_backoff_capped_at_max_backoff_seconds(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", times=4, status=503)
    client = make_client(server, clock, backoff_seconds=10.0, max_backoff_seconds=30.0)
    client.fetch_api_page(search(), 0, 5)
    assert clock.sleeps == [client.backoff(n) for n in range(1, 5)] == [10.0, 20.0, 30.0, 30.0]


def client_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the client said at INFO: what a user sees without -v (see cli.py)."""
    return logged(caplog, "trenddigest.sources.client", logging.INFO)


def test_a_retry_after_wait_is_one_line_saying_what_arxiv_answered_and_how_long(
    server: ArxivTestServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail("status", status=503, headers={"Retry-After": "27"})
    with caplog.at_level(logging.INFO, logger="trenddigest.sources.client"):
        make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert client_lines(caplog) == [
        f"arXiv API at {server.api_url}: HTTP 503; retrying in 27 s, as arXiv asked (retry 1 of 5)"
    ]
    assert clock.sleeps == [27.0]


def test_each_backoff_is_its_own_line(
    server: ArxivTestServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail("status", times=2, status=429)
    with caplog.at_level(logging.INFO, logger="trenddigest.sources.client"):
        make_client(server, clock, backoff_seconds=10.0).fetch_api_page(search(), 0, 5)
    assert client_lines(caplog) == [
        f"arXiv API at {server.api_url}: HTTP 429; retrying in 10 s (retry 1 of 5)",
        f"arXiv API at {server.api_url}: HTTP 429; retrying in 20 s (retry 2 of 5)",
    ]


def test_a_retry_line_gives_the_whole_pause_when_the_spacing_outlasts_retry_after(
    server: ArxivTestServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail("status", status=503, headers={"Retry-After": "1"})
    with caplog.at_level(logging.INFO, logger="trenddigest.sources.client"):
        make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert client_lines(caplog) == [
        f"arXiv API at {server.api_url}: HTTP 503; retrying in 3 s (retry 1 of 5)"
    ]
    assert clock.sleeps == [1.0, 2.0]


def test_waiting_out_a_retry_after_that_ended_an_earlier_request_is_one_line(
    server: ArxivTestServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A poll's next feed after the one arXiv turned away.
    server.fail("status", status=503, headers={"Retry-After": "30"})
    client = make_client(server, clock, max_retries=0)
    with caplog.at_level(logging.INFO, logger="trenddigest.sources.client"):
        with pytest.raises(RetriesExhaustedError):
            client.fetch_api_page(search(), 0, 5)
        client.fetch_api_page(search(), 0, 5)
    assert client_lines(caplog) == [
        "waiting 30 s before asking arXiv again, as it asked (Retry-After)"
    ]
    assert clock.sleeps == [30.0]


def test_waiting_out_an_earlier_runs_retry_after_is_one_line(
    server: ArxivTestServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(server, clock, max_backoff_seconds=120.0)
    client.not_before = clock.now + 60  # longer than the spacing: arXiv asked for it
    with caplog.at_level(logging.INFO, logger="trenddigest.sources.client"):
        client.fetch_api_page(search(), 0, 5)
    assert client_lines(caplog) == [
        "waiting 60 s before asking arXiv again, as an earlier run was asked (Retry-After)"
    ]


def test_the_spacing_after_an_earlier_run_and_between_requests_is_waited_without_a_line(
    server: ArxivTestServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(server, clock)
    client.not_before = clock.now + 2.5  # `fetch` then `poll` in a script
    with caplog.at_level(logging.INFO, logger="trenddigest.sources.client"):
        client.query(search(), 0, 5, lambda offset, page: True)
    assert client_lines(caplog) == []
    assert clock.sleeps == [2.5, 3.0, 3.0]


class FirstReadTimeoutTiny(requests.Session):
    """A transport that sends its first request with a read timeout of one microsecond.

    Against a server that never answers that request, the socket's real read timeout
    runs out at the first wait for a byte (the kernel's poll rounds it up to a
    millisecond), and urllib3 raises its real ``ReadTimeoutError``: the path a slow
    arXiv takes, without waiting the configured timeout.  Every request's
    ``timeout`` as the client gave it is kept in ``timeouts``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[object] = []

    def request(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> requests.Response:
        self.timeouts.append(kwargs.get("timeout"))
        if len(self.timeouts) == 1:
            connect, _read = kwargs["timeout"]
            kwargs["timeout"] = (connect, 1e-6)
        return super().request(method, url, **kwargs)


def test_a_read_timeout_is_retried_after_the_backoff(
    server: ArxivTestServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail("hang")
    session = FirstReadTimeoutTiny()
    config = fast_arxiv_config(server, timeout_seconds=30.0)
    client = ArxivClient(
        config, sleep=clock.sleep, clock=clock, wall_clock=clock.time, session=session
    )
    with caplog.at_level(logging.INFO, logger="trenddigest.sources.client"):
        page = client.fetch_api_page(search(), 0, 5)
    assert len(page.papers) == 5
    assert session.timeouts == [(10.0, 30.0), (10.0, 30.0)]  # connect capped at 10 s
    assert [r.getMessage() for r in caplog.records] == [
        f"arXiv API at {server.api_url}: timed out; retrying in 10 s (retry 1 of 5)"
    ]
    assert clock.sleeps == [10.0]


def test_a_body_still_trickling_in_after_five_timeouts_is_a_timeout_and_retried(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every piece comes well within the read timeout (1 s), but the body as a whole
    # would take 14 s: the client gives up at 5 s, five timeouts.  The deadline is
    # kept on the real clock (time.monotonic), faked here and moved by the server.
    monkeypatch.setattr(client_module, "time", clock)
    body = render_api_feed([], total=0, start=0, per_page=5, query="x")
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    listener = socket.create_server(("127.0.0.1", 0))
    answered: list[str] = []

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(head)
                try:
                    for i in range(0, len(body), 20):
                        threading.Event().wait(0.005)  # a moment for the client to read
                        clock.advance(0.5)
                        conn.sendall(body[i : i + 20])
                    answered.append("trickled to the end")
                except OSError:
                    answered.append("hung up on")
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(head + body)
                answered.append("at once")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/query"
    config = ArxivConfig(api_url=url, categories=["cs.CV"], timeout_seconds=1.0)
    client = ArxivClient(config, sleep=clock.sleep, clock=clock, wall_clock=clock.time)
    with caplog.at_level(logging.INFO, logger="trenddigest.sources.client"):
        result = client.get(url + "?search_query=x")
    thread.join(timeout=10)
    assert result.body == body
    assert client_lines(caplog) == [
        f"arXiv API at {url}: timed out; retrying in 10 s (retry 1 of 5)"
    ]
    assert answered[-1] == "at once"


def test_connection_reset_is_retried(server: ArxivTestServer, clock: FakeClock) -> None:
    server.fail("reset")
    page = make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert len(page.papers) == 5
    assert len(server.api_requests) == 2


def test_body_shorter_than_content_length_is_retried(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("truncate")
    page = make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert len(page.papers) == 5
    assert len(server.api_requests) == 2


def test_body_cut_off_by_closed_connection_is_retried(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("truncate-unframed")
    page = make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert len(page.papers) == 5
    assert len(server.api_requests) == 2


# -- failures reported ---------------------------------------------------------------


def test_malformed_body_is_retried_then_reported(server: ArxivTestServer, clock: FakeClock) -> None:
    server.fail("truncate", times=3)
    with pytest.raises(RetriesExhaustedError) as err:
        make_client(server, clock, max_retries=2).fetch_api_page(search(), 0, 5)
    assert "kept failing after 3 tries (last: " in str(err.value)
    assert len(server.api_requests) == 3


def test_a_web_page_instead_of_xml_is_asked_once_more_then_names_the_setting(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("garbage", times=3)
    with pytest.raises(RetriesExhaustedError) as err:
        make_client(server, clock, max_retries=5).fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept failing after 2 tries (last: an HTML page, not "
        "arXiv's XML: check that [arxiv] api_url is right)"
    )
    assert len(server.api_requests) == 2


def test_a_web_page_once_is_a_notice_and_the_next_answer_is_used(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("garbage", times=1)
    page = make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert len(page.papers) == 5


def test_a_web_page_once_leaves_the_other_failures_their_whole_budget(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("garbage")  # a proxy's "please wait" page
    server.fail("status", times=3, status=503)
    page = make_client(server, clock, max_retries=5).fetch_api_page(search(), 0, 5)
    assert len(page.papers) == 5
    assert len(server.api_requests) == 5


def test_a_second_web_page_ends_the_request_whatever_failed_between(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("garbage")
    server.fail("status", status=503)
    server.fail("garbage")
    with pytest.raises(RetriesExhaustedError) as err:
        make_client(server, clock, max_retries=5).fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept failing after 3 tries (last: an HTML page, not "
        "arXiv's XML: check that [arxiv] api_url is right)"
    )


class FirstConnectionRefused(requests.Session):
    """Sends its first request to a local port nothing listens on: a real refused
    connection, then the following ones where they were meant to go."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def request(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> requests.Response:
        self.sent += 1
        if self.sent == 1:
            parts = urlsplit(str(url))
            url = parts._replace(netloc=f"127.0.0.1:{unused_port()}").geturl()
        return super().request(method, url, **kwargs)


def test_one_refused_connection_leaves_the_503s_after_it_their_whole_budget(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", times=3, status=503)
    config = fast_arxiv_config(server, max_retries=5, backoff_seconds=10.0)
    session = FirstConnectionRefused()
    client = ArxivClient(
        config, sleep=clock.sleep, clock=clock, wall_clock=clock.time, session=session
    )
    page = client.fetch_api_page(search(), 0, 5)
    assert len(page.papers) == 5
    assert (session.sent, len(server.api_requests)) == (5, 4)
    assert clock.sleeps == [10.0, 20.0, 40.0, 80.0]


def test_gives_up_after_max_retries_with_one_clear_line(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", times=6, status=503)
    with pytest.raises(FetchError) as err:
        make_client(server, clock, max_retries=5).fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept failing after 6 tries (last: HTTP 503)"
    )
    assert len(server.api_requests) == 6


def test_error_feed_raises_arxiv_api_error_with_arxivs_message(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("error", message="max_results must be less than or equal to 2000")
    with pytest.raises(ArxivAPIError, match="max_results must be less than or equal to 2000"):
        make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert len(server.api_requests) == 1


def test_other_http_errors_are_not_retried(server: ArxivTestServer, clock: FakeClock) -> None:
    server.fail("status", status=404)
    with pytest.raises(FetchError, match="answered HTTP 404"):
        make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert len(server.api_requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/api/query",  # no such port
        "http://exa mple.org/api/query",
        "http://[::1/api/query",
        "http:///api/query",
    ],
)
def test_a_url_that_is_not_one_is_a_config_error_at_once_not_retried(
    url: str, clock: FakeClock
) -> None:
    config = ArxivConfig(api_url=url, categories=["cs.CV"])
    client = ArxivClient(config, sleep=clock.sleep, clock=clock, wall_clock=clock.time)
    with pytest.raises(ConfigError) as err:
        client.fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"[arxiv] api_url is not a valid URL: {url!r}; correct it in the config file "
        "or $TRENDDIGEST_ARXIV_API_URL"
    )
    assert clock.sleeps == []


def test_connection_refused_fails_fast_with_one_clear_line(clock: FakeClock) -> None:
    from trenddigest.config import ArxivConfig

    url = f"http://127.0.0.1:{unused_port()}/api/query"
    client = ArxivClient(
        ArxivConfig(api_url=url, max_retries=5), sleep=clock.sleep, clock=clock, timeout=0.2
    )
    with pytest.raises(UnreachableError) as err:
        client.fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"cannot reach arXiv API at {url} (connection refused): check the network or set "
        "[arxiv] api_url; use --offline or --from FILE to work without arXiv"
    )
    assert clock.sleeps == [10.0, 20.0]  # two retries, not max_retries: ~30 s in real life


def test_name_resolution_failure_is_reported_as_unreachable(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trenddigest.config import ArxivConfig

    real = socket.getaddrinfo

    def no_dns(host: object, *args: object, **kwargs: object) -> object:
        if host == "export.arxiv.example":
            raise socket.gaierror(-2, "Name or service not known")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    client = ArxivClient(
        ArxivConfig(api_url="http://export.arxiv.example/api/query"),
        sleep=clock.sleep,
        clock=clock,
        timeout=0.2,
    )
    with pytest.raises(
        UnreachableError,
        match=r"^cannot reach arXiv API at "
        r"http://export.arxiv.example/api/query \(name resolution failed\)",
    ):
        client.fetch_api_page(search(), 0, 5)
    # One quick retry for a resolver hiccup, then the error: no network does not heal
    # in seconds, and a user at a terminal should not wait half a minute to hear it.
    assert clock.sleeps == [3.0]


# -- response size ----------------------------------------------------------------------


def too_large(what: str, url: str, cap: int, setting: str = "api_url") -> str:
    return (
        f"{what} at {url} sent more than {cap:,} bytes (uncompressed), more than any arXiv "
        f"page or feed holds; check that [arxiv] {setting} points at arXiv"
    )


def test_the_default_cap_on_a_response_is_the_64_mib_of_a_saved_page(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    assert make_client(server, clock).max_body_bytes == 64 * 1024 * 1024 == MAX_XML_BYTES


def test_a_response_over_the_cap_is_refused_once_the_cap_is_passed_and_not_retried(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    size = 32 * 1024 * 1024
    server.fail("huge", size=size)
    client = make_client(server, clock, max_body_bytes=65536)
    with pytest.raises(FetchError) as err:
        client.fetch_api_page(search(), 0, 5)
    assert str(err.value) == too_large("arXiv API", server.api_url, 65536)
    assert len(server.api_requests) == 1
    assert clock.sleeps == []
    # The client hung up after the cap: the server could not write the rest.
    assert server.streamed < size // 2


def test_the_cap_counts_the_bytes_of_a_gzipped_response_after_inflating(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    # A valid page with 1 MiB of blank space after it: a few KB on the wire.
    server.fail("gzip", size=1024 * 1024)
    client = make_client(server, clock, max_body_bytes=65536)
    with pytest.raises(FetchError) as err:
        client.fetch_api_page(search(), 0, 5)
    assert str(err.value) == too_large("arXiv API", server.api_url, 65536)


def test_a_response_of_exactly_the_cap_is_read_and_one_byte_more_is_refused(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.set_listing("cs.CV", "2025-05-14", [{"id": "2505.00101", "type": "new"}])
    url = server.feed_url + "cs.CV"
    size = len(make_client(server, clock).fetch_feed(url).body)

    assert len(make_client(server, clock, max_body_bytes=size).fetch_feed(url).body) == size
    with pytest.raises(FetchError) as err:
        make_client(server, clock, max_body_bytes=size - 1).fetch_feed(url)
    assert str(err.value) == too_large("arXiv feed", url, size - 1, "feed_url")


# -- listing feeds ------------------------------------------------------------------


def test_feed_request_sends_validators_and_returns_304(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.set_listing("cs.CV", "2025-05-14", [{"id": "2505.00101", "type": "new"}])
    client = make_client(server, clock)
    first = client.fetch_feed(server.feed_url + "cs.CV")
    again = client.fetch_feed(server.feed_url + "cs.CV", etag=first.headers["ETag"])
    assert (first.status, again.status, again.not_modified) == (200, 304, True)
    assert server.feed_requests[1].headers["If-None-Match"] == first.headers["ETag"]


# -- redirects --------------------------------------------------------------------------


def api_query(start: int, max_results: int) -> str:
    """The query string arxiv.Client sends for ``search()`` (parameter order included)."""
    reference = arxiv.Client()
    reference.query_url_format = "http://127.0.0.1/api/query?{}"
    return urlsplit(reference._format_url(search(), start, max_results)).query


def test_a_redirect_is_followed_as_a_request_of_its_own_after_the_spacing(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    times: list[tuple[str, float]] = []
    server.watchers.append(lambda seen: times.append((seen.path, clock.now)))
    # Relative, with the query: resolved against the URL asked, the query kept as given.
    server.fail("status", status=301, headers={"Location": "/api/moved?" + api_query(0, 5)})
    page = make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert len(page.papers) == 5
    assert [path for path, _ in times] == ["/api/query", "/api/moved"]
    assert times[1][1] - times[0][1] == 3.0
    assert server.api_requests[1].raw_query == api_query(0, 5)


def test_a_feed_redirect_is_paced_too_and_keeps_the_conditional_headers(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.set_listing("cs.CV", "2025-05-14", [{"id": "2505.00101", "type": "new"}])
    client = make_client(server, clock)
    etag = client.fetch_feed(server.atom_feed_url + "cs.CV").headers["ETag"]
    server.fail("status", path="/rss/", status=308, headers={"Location": "/atom/cs.CV"})
    before = len(clock.sleeps)
    result = client.fetch_feed(server.feed_url + "cs.CV", etag=etag)
    assert result.not_modified
    assert [seen.path for seen in server.feed_requests] == [
        "/atom/cs.CV",
        "/rss/cs.CV",
        "/atom/cs.CV",
    ]
    assert server.feed_requests[2].headers["If-None-Match"] == etag
    assert clock.sleeps[before:] == [3.0, 3.0]


def test_a_redirect_is_one_warning_naming_the_setting_to_change(
    server: ArxivTestServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    server.set_listing("cs.CV", "2025-05-14", [{"id": "2505.00101", "type": "new"}])
    server.set_listing("cs.LG", "2025-05-14", [{"id": "2505.00102", "type": "new"}])
    for category in ("cs.CV", "cs.LG"):
        moved = {"Location": f"{server.base_url}/atom/{category}"}
        server.fail("status", path=f"/rss/{category}", status=301, headers=moved)
    client = make_client(server, clock)
    with caplog.at_level(logging.WARNING, logger="trenddigest.sources.client"):
        client.fetch_feed(server.feed_url + "cs.CV")
        client.fetch_feed(server.feed_url + "cs.LG")
    assert logged(caplog, "trenddigest.sources.client", logging.WARNING) == [
        f"arXiv feed at {server.feed_url}cs.CV redirects to {server.atom_feed_url}cs.CV "
        f'(HTTP 301); if arXiv answers there now, set [arxiv] feed_url = "{server.atom_feed_url}" '
        "to save a request each time"
    ]


def test_a_redirect_loop_stops_after_five_redirects_in_one_line_without_a_retry(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", times=100, status=302, headers={"Location": "/api/query"})
    with pytest.raises(FetchError) as err:
        make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept redirecting (more than 5 times, last to "
        f"{server.api_url}): a redirect loop; check [arxiv] api_url"
    )
    assert len(server.api_requests) == 6
    assert clock.sleeps == [3.0] * 5


def test_a_redirect_to_something_not_http_is_reported_not_followed(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    server.fail("status", status=302, headers={"Location": "ftp://mirror.example/api/query"})
    with pytest.raises(FetchError) as err:
        make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} redirected to 'ftp://mirror.example/api/query', "
        "which is not an http(s) URL; check [arxiv] api_url"
    )
    assert len(server.api_requests) == 1


def test_a_retry_after_a_redirect_asks_the_url_asked_for_again(
    server: ArxivTestServer, clock: FakeClock
) -> None:
    # A 302 holds for the moment only: the retry starts over where the caller asked.
    server.fail("status", status=302, headers={"Location": "/api/elsewhere?" + api_query(0, 5)})
    server.fail("status", status=503)
    make_client(server, clock).fetch_api_page(search(), 0, 5)
    assert [seen.path for seen in server.api_requests] == [
        "/api/query",
        "/api/elsewhere",
        "/api/query",
    ]


# -- the wait an earlier command left ----------------------------------------------------


def test_a_stored_wait_more_than_a_day_ahead_holds_for_a_day_only(
    server: ArxivTestServer, clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Written by a run whose clock was 30 days ahead, since set right.
    store.set_meta(ARXIV_NOT_BEFORE_KEY, f"{clock.now + 30 * 86400:.3f}")
    client = make_client(server, clock)
    with caplog.at_level(logging.WARNING, logger="trenddigest.sources.pacing"):
        resume_pacing(store, client)
    assert client.not_before == clock.now + 86400
    assert logged(caplog, "trenddigest.sources.pacing", logging.WARNING) == [
        "the store says not to ask arXiv before 2025-07-02 00:00:00 UTC, more than 24 hours "
        "away (a clock that was ahead?); waiting until 2025-06-03 00:00:00 UTC at most"
    ]
    with pytest.raises(WaitRequestedError):
        client.fetch_api_page(search(), 0, 5)
    clock.advance(86400)
    assert len(client.fetch_api_page(search(), 0, 5).papers) == 5


def test_a_stored_wait_within_a_day_is_kept_as_it_is(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    store.set_meta(ARXIV_NOT_BEFORE_KEY, f"{clock.now + 86000:.3f}")
    client = make_client(server, clock)
    resume_pacing(store, client)
    assert client.not_before == clock.now + 86000


# -- pacing across clients -------------------------------------------------------------


def test_clients_on_the_real_clock_share_one_pacing(
    arxiv_server: ArxivTestServer, no_arxiv_waits: FakeClock
) -> None:
    # Two clients in one process (the scheduler's poll and digest jobs, a catch-up of
    # several months) still keep three seconds between their requests.
    config = fast_arxiv_config(arxiv_server)
    ArxivClient(config).fetch_api_page(search(), 0, 5)
    ArxivClient(config).fetch_api_page(search(), 5, 5)
    assert no_arxiv_waits.sleeps == [3.0]


# -- entries arXiv's parser skips -------------------------------------------------------


@pytest.fixture
def fixed_page_url() -> Iterator[str]:
    """An API endpoint on 127.0.0.1 that answers every query with tests/fixtures/api_page.xml.

    Its fourth entry has no ``<published>``: arxiv's parser logs "Skipping entry"
    for it each time it reads the page.
    """
    body = (Path(__file__).parent / "fixtures" / "api_page.xml").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/api/query"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_an_entry_arxiv_skips_is_logged_once_per_page(
    fixed_page_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = ArxivConfig(api_url=fixed_page_url, categories=["cs.CV"], timeout_seconds=0.5)
    client = ArxivClient(config, sleep=clock.sleep, clock=clock, wall_clock=clock.time)
    with caplog.at_level(logging.DEBUG):
        page = client.fetch_api_page(search(), 0, 4)
    assert page.rejected == [("http://arxiv.org/abs/2505.01004v1", "missing <published>")]
    assert [r.getMessage() for r in caplog.records if "2505.01004" in r.getMessage()] == [
        "skipped an arXiv API entry: missing <published> (http://arxiv.org/abs/2505.01004v1)"
    ]
