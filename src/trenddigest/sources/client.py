"""The one object that talks to arXiv: pacing, retries, timeouts, User-Agent.

arXiv's terms of use for its legacy APIs (query API, RSS feeds, OAI-PMH) ask for no
more than one request every three seconds over a single connection.  Everything
that goes over the network in trenddigest goes through one :class:`ArxivClient`, so
that those rules hold in one place whatever the caller does.

Waiting is injected (``sleep``, ``clock``, ``wall_clock``) so that tests run the real
retry and pacing logic against local servers without ever sleeping.

Failure policy (see README, "Talking to arXiv"):

* HTTP 429 and 5xx: retried up to ``max_retries`` times; the wait is the server's
  ``Retry-After`` (seconds or HTTP-date) when given, otherwise exponential backoff
  from ``backoff_seconds``; both capped at ``max_backoff_seconds``.
* Timeouts, connection resets, truncated or malformed bodies: retried the same way.
* No connection at all (name resolution failed, connection refused, connect
  timeout): at most :data:`UNREACHABLE_RETRIES` retries, so that a machine without
  network gets one clear line in well under a minute instead of minutes of backoff.
* HTTP 400 with an arXiv error feed: :class:`~trenddigest.errors.ArxivAPIError`
  with arXiv's message, never retried (the same query would fail again).
* Any other 4xx: :class:`~trenddigest.errors.FetchError` at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit

import arxiv
import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from ..config import ArxivConfig
from ..errors import ArxivAPIError, FetchError
from .parse import ApiPage, parse_api_page

log = logging.getLogger(__name__)

# Retries for "no connection could be made at all"; a lower bound than max_retries
# because backing off cannot fix a missing network, and cron should hear about it soon.
UNREACHABLE_RETRIES = 2
# Connecting to arXiv takes well under a second; a read may legitimately take a
# minute for a 2000-entry page, so the two timeouts differ.
MAX_CONNECT_TIMEOUT = 10.0
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class UnreachableError(FetchError):
    """No connection to the endpoint could be made (network down, wrong host)."""


class RetriesExhaustedError(FetchError):
    """The endpoint answered, but kept failing until the retries ran out."""

    def __init__(self, message: str, *, endpoint: str, tries: int, last: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.tries = tries
        self.last = last


@dataclass(frozen=True)
class HttpResult:
    """One successful HTTP exchange (2xx, or 304 for a conditional GET)."""

    url: str
    status: int
    body: bytes
    headers: Mapping[str, str]

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class _Failure:
    """Why an attempt failed and how long the server asked us to wait (if it did)."""

    reason: str
    retry_after: float | None = None
    unreachable: bool = False


def endpoint_of(url: str) -> str:
    """The URL without its query string: what a user recognises from the config."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (requests nests urllib3 nests socket)."""
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        stack.extend([current.__cause__, current.__context__])
        stack.extend(a for a in current.args if isinstance(a, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return seen


def _classify(exc: requests.RequestException) -> _Failure:
    chain = _chain(exc)
    if any(isinstance(e, urllib3.exceptions.NameResolutionError) for e in chain):
        return _Failure("name resolution failed", unreachable=True)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return _Failure("connection refused", unreachable=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return _Failure("TLS handshake failed", unreachable=True)
    if isinstance(exc, requests.ConnectTimeout):
        return _Failure("connect timed out", unreachable=True)
    if any(isinstance(e, urllib3.exceptions.NewConnectionError) for e in chain):
        return _Failure("could not connect", unreachable=True)
    if isinstance(exc, requests.Timeout) or any(
        isinstance(e, urllib3.exceptions.ReadTimeoutError | TimeoutError) for e in chain
    ):
        return _Failure("timed out")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return _Failure("truncated response body")
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return _Failure("connection reset")
    return _Failure(f"connection error ({type(exc).__name__})")


class ArxivClient:
    """A polite HTTP client for arXiv's query API and listing feeds.

    One ``requests.Session`` with a single pooled connection per host, used from one
    thread: requests never overlap.  The minimum interval is measured from the end of
    the previous response, the stricter reading of "one request every 3 seconds".
    """

    def __init__(
        self,
        config: ArxivConfig,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        wall_clock: Callable[[], float] | None = None,
        timeout: float | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.config = config
        # Looked up now rather than bound as defaults, so tests can swap ``time``.
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        self.wall_clock = wall_clock or time.time
        self.timeout = config.timeout_seconds if timeout is None else timeout
        self.requests_made = 0
        self._last_done: float | None = None
        self._session = session or self._new_session()

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        # One pooled connection per host, reused; requests are serial because one
        # thread drives the client (pool_block would risk a hang on a leaked socket).
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ArxivClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- pacing and backoff ------------------------------------------------------

    def _wait_turn(self) -> None:
        if self._last_done is None:
            return
        remaining = self.config.delay_seconds - (self.clock() - self._last_done)
        if remaining > 0:
            log.debug("waiting %.1f s between requests (arXiv terms of use)", remaining)
            self.sleep(remaining)

    def _backoff(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            wait = retry_after
        else:
            wait = self.config.backoff_seconds * 2 ** (failures - 1)
        return max(0.0, min(wait, self.config.max_backoff_seconds))

    def _retry_after(self, value: str | None) -> float | None:
        """``Retry-After`` in seconds; it may be a number or an HTTP-date (RFC 9110)."""
        if not value:
            return None
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            log.debug("ignoring unparseable Retry-After %r", value)
            return None
        return max(0.0, when.timestamp() - self.wall_clock())

    # -- one GET with retries ----------------------------------------------------

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        what: str = "arXiv API",
        setting: str = "api_url",
        check: Callable[[HttpResult], str | None] | None = None,
    ) -> HttpResult:
        """GET ``url``; return the first usable answer or raise a FetchError.

        ``check`` inspects a 2xx body and returns why it is unusable (retried) or
        None.  A 304 is returned as is (the caller sent the conditional headers).
        HTTP 400 is returned unchecked: only the caller knows how to read the error.
        """
        endpoint = endpoint_of(url)
        budget = self.config.max_retries
        failures = 0
        while True:
            failure = self._attempt(url, headers, check, what, setting)
            if isinstance(failure, HttpResult):
                return failure
            failures += 1
            if failure.unreachable:
                budget = min(budget, UNREACHABLE_RETRIES)
            if failures > budget:
                if failure.unreachable:
                    raise UnreachableError(
                        f"cannot reach {what} at {endpoint} ({failure.reason}): check the "
                        f"network or set [arxiv] {setting}; use --offline or --from FILE to "
                        "work without arXiv"
                    )
                raise RetriesExhaustedError(
                    f"{what} at {endpoint} kept failing after {failures} tries "
                    f"(last: {failure.reason})",
                    endpoint=endpoint,
                    tries=failures,
                    last=failure.reason,
                )
            wait = self._backoff(failures, failure.retry_after)
            # INFO, not WARNING: retries are routine with arXiv, and if they run out the
            # error says so in one line; -v shows each one.
            log.info(
                "%s: %s; retry %d of %d in %.0f s", endpoint, failure.reason, failures, budget, wait
            )
            if wait > 0:
                self.sleep(wait)

    def _attempt(
        self,
        url: str,
        headers: Mapping[str, str] | None,
        check: Callable[[HttpResult], str | None] | None,
        what: str,
        setting: str,
    ) -> HttpResult | _Failure:
        self._wait_turn()
        self.requests_made += 1
        log.debug("GET %s", url)
        try:
            resp = self._session.get(
                url,
                headers={"User-Agent": self.config.user_agent, **(headers or {})},
                timeout=(min(self.timeout, MAX_CONNECT_TIMEOUT), self.timeout),
            )
            body = resp.content
        except requests.RequestException as exc:
            return _classify(exc)
        finally:
            self._last_done = self.clock()
        result = HttpResult(
            url=resp.url or url, status=resp.status_code, body=body, headers=resp.headers
        )
        status = resp.status_code
        if status in _RETRY_STATUSES:
            retry_after = self._retry_after(resp.headers.get("Retry-After"))
            return _Failure(f"HTTP {status}", retry_after=retry_after)
        if status == 304 or status == 400:
            return result
        if not 200 <= status < 300:
            answer = f"HTTP {status} {resp.reason or ''}".rstrip()
            raise FetchError(
                f"{what} at {endpoint_of(url)} answered {answer}: check [arxiv] {setting} "
                "and the category names"
            )
        problem = check(result) if check else None
        return _Failure(problem) if problem else result

    # -- the query API -----------------------------------------------------------

    def search_url(self, search: arxiv.Search, start: int, max_results: int) -> str:
        """The query URL, built like ``arxiv.Client._format_url`` but from public fields.

        ``api_url`` comes from the config, so a mirror or a test server can stand in.
        """
        args = {
            "search_query": search.query,
            "id_list": ",".join(search.id_list),
            "sortBy": search.sort_by.value,
            "sortOrder": search.sort_order.value,
            "start": str(start),
            "max_results": str(max_results),
        }
        base = self.config.api_url
        return f"{base}{'&' if '?' in base else '?'}{urlencode(args)}"

    def fetch_api_page(self, search: arxiv.Search, start: int, max_results: int) -> ApiPage:
        """One parsed page of results; truncated or malformed bodies are retried.

        Raises :class:`ArxivAPIError` with arXiv's own message for an error feed.
        """
        url = self.search_url(search, start, max_results)
        parsed: dict[str, ApiPage] = {}

        def usable(result: HttpResult) -> str | None:
            page = parse_api_page(result.body)
            parsed["page"] = page
            if page.malformed:
                return f"malformed response ({page.malformed_reason})"
            return None

        result = self.get(url, what="arXiv API", check=usable)
        if result.status == 400:
            page = parse_api_page(result.body)
            message = page.error or "HTTP 400 without an arXiv error entry"
            raise ArxivAPIError(
                f"arXiv API rejected the query {search.query!r}: {message} ({endpoint_of(url)})"
            )
        page = parsed["page"]
        if page.error:
            raise ArxivAPIError(f"arXiv API rejected the query {search.query!r}: {page.error}")
        for ref, why in page.rejected:
            log.warning("skipped an entry of %s: %s (%s)", endpoint_of(url), why, ref)
        return page

    # -- listing feeds -----------------------------------------------------------

    def fetch_feed(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        check: Callable[[HttpResult], str | None] | None = None,
    ) -> HttpResult:
        """GET a listing feed conditionally; a 304 result means nothing changed.

        ``check`` says why a 200 body is unusable (truncated, not a feed): retried.
        """
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        result = self.get(url, headers=headers, what="arXiv feed", setting="feed_url", check=check)
        if result.status == 400:
            raise FetchError(f"arXiv feed at {endpoint_of(url)} answered HTTP 400")
        return result
