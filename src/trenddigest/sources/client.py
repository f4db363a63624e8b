"""The one object that talks to arXiv: pacing, retries, timeouts, User-Agent.

arXiv's terms of use for its legacy APIs (query API, RSS feeds, OAI-PMH) ask for no
more than one request every three seconds over a single connection.  Everything
that goes over the network in trenddigest goes through an :class:`ArxivClient`, so
that those rules hold in one place whatever the caller does.  Query-API requests are
made by the ``arxiv`` package's own ``arxiv.Client`` (it builds the query URLs and
pages through the results); it is handed a session whose GETs go through
:meth:`ArxivClient.get`, so pacing, retries, timeouts and the User-Agent apply to them
too.  The package's own pacing and retries are switched off: it sleeps on the real
clock and cannot read ``Retry-After``.

Waiting is injected (``sleep``, ``clock``, ``wall_clock``) so that tests run the real
retry and pacing logic against local servers without ever sleeping.  Clients built
without an injected clock share one pacing record, so that two clients in one
process (the scheduler's poll and digest, or a catch-up of several months) still
keep three seconds apart.

Failure policy (see README, "Talking to arXiv"):

* HTTP 408, 429 and every 5xx but 501, 505 and 511 (see :func:`_retried_status`):
  retried up to ``max_retries`` times; the wait is the server's ``Retry-After``
  (seconds or HTTP-date) when given, otherwise exponential backoff from
  ``backoff_seconds`` capped at ``max_backoff_seconds``.  A ``Retry-After`` longer
  than ``max_backoff_seconds`` ends the retries at once (asking again sooner would
  ignore what arXiv said).
* Timeouts (also a body still arriving after :data:`BODY_DEADLINE_TIMEOUTS` times
  the read timeout), connection resets, truncated or malformed bodies: retried the
  same way.
* No connection at all (connection refused, connect timeout): at most
  :data:`UNREACHABLE_RETRIES` retries; a failed name lookup (no network, wrong host)
  only :data:`NAME_RESOLUTION_RETRIES`, after ``delay_seconds``, because waiting does
  not bring a network back: a machine without network gets one clear line within
  seconds.  Such a lower budget counts only the failures of its own kind: one
  refused connection or proxy notice among 503s leaves the rest of ``max_retries``.
* Redirects (301, 302, 303, 307, 308 with a ``Location``) are followed by the
  client, not by requests: each follow-up is a request of its own, after the
  spacing like any other.  At most :data:`MAX_REDIRECTS` per try, then a
  :class:`~trenddigest.errors.FetchError` (a loop; not retried).  A warning, once
  per new address, names it and the setting to point there.  A retry starts again
  from the URL asked for (a 302 is only for the moment).
* HTTP 400 with an arXiv error feed: :class:`~trenddigest.errors.ArxivAPIError`
  with arXiv's message, never retried (the same query would fail again).
* Any other 4xx: :class:`~trenddigest.errors.FetchError` at once.
* A configured URL that is not one (no host, a port above 65535, a space in the
  host): :class:`~trenddigest.errors.ConfigError` before any request or wait.
* A body larger than ``max_body_bytes`` (default :data:`MAX_RESPONSE_BYTES`, counted
  after gunzipping): :class:`~trenddigest.errors.FetchError` as soon as the cap is
  passed, never retried.  Bodies are read in chunks, so a runaway answer (a wrong
  endpoint streaming a file, a gzip bomb) costs at most the cap in memory.
* A ``Retry-After`` is kept for every later request of the client, also after the
  request it answered gave up (the next feed of a poll waits for it too), and for the
  next command on the store; at most :data:`MAX_REMEMBERED_WAIT_SECONDS` of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urldefrag, urljoin, urlsplit

import arxiv
import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.utils import requote_uri

from ..config import ArxivConfig
from ..errors import ArxivAPIError, ConfigError, FetchError
from ..models import Month, current_month
from .files import MAX_XML_BYTES
from .parse import ApiPage, arxiv_skips_unlogged, parse_api_page

log = logging.getLogger(__name__)

# Retries for "a connection could not be made" (refused, connect timeout): fewer
# than max_retries because backing off rarely fixes them, and cron should hear soon.
UNREACHABLE_RETRIES = 2
# A failed name lookup means no network or a wrong host: one quick retry covers a
# resolver hiccup; anything longer only delays the error.
NAME_RESOLUTION_RETRIES = 1
# Connecting to arXiv takes well under a second; a read may legitimately take a
# minute for a 2000-entry page, so the two timeouts differ.
MAX_CONNECT_TIMEOUT = 10.0
# Redirects followed for one try.  arXiv redirects once at most (http to https, a
# moved path); a chain longer than this is a loop, or a proxy sending everything
# to its login page.
MAX_REDIRECTS = 5
# The longest Retry-After kept for later requests and runs.  arXiv asks for seconds
# or minutes; a proxy in the way that says "the year 9999" must not leave an
# unattended installation refusing to run ever after.
MAX_REMEMBERED_WAIT_SECONDS = 24 * 3600
# The largest response body read (uncompressed): the same cap as for a saved API page
# or feed, which the largest real ones (2,000 API results, a busy day of cs.LG) stay
# far below.  Bodies are read whole to be parsed, so without a cap a wrong endpoint
# streaming hundreds of MB would take that much memory, and more.
MAX_RESPONSE_BYTES = MAX_XML_BYTES
# Bytes per read of a response body: large enough for few Python-level iterations,
# small enough that the cap is overshot by little.
_BODY_CHUNK = 64 * 1024
# How many times ``timeout_seconds`` a whole response body may take to arrive.  The
# read timeout bounds each wait for the next bytes, so a server trickling a few
# bytes just within it would hold a request open for ever; the largest arXiv page
# (2,000 results, a few MB) arrives in seconds on any working link.
BODY_DEADLINE_TIMEOUTS = 5


class UnreachableError(FetchError):
    """No connection to the endpoint could be made (network down, wrong host)."""

    transient = True


class RetriesExhaustedError(FetchError):
    """The endpoint answered, but kept failing until the retries ran out."""

    transient = True

    def __init__(self, message: str, *, endpoint: str, tries: int, last: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.tries = tries
        self.last = last


def utc_text(moment: float) -> str:
    """A wall-clock moment as the messages give it: ``2025-06-02 01:00:00 UTC``."""
    try:
        return f"{datetime.fromtimestamp(moment, UTC):%Y-%m-%d %H:%M:%S} UTC"
    except (OverflowError, OSError, ValueError):  # past the year 9999: a broken value
        return f"{moment:.0f} s after 1970-01-01 UTC"


class WaitRequestedError(RetriesExhaustedError):
    """arXiv asked for a wait longer than ``max_backoff_seconds``: nothing may be asked
    of it before ``until`` (wall-clock time), by this run or the next."""

    def __init__(self, message: str, *, endpoint: str, tries: int, last: str, until: float) -> None:
        super().__init__(message, endpoint=endpoint, tries=tries, last=last)
        self.until = until


@dataclass(frozen=True)
class HttpResult:
    """One successful HTTP exchange (2xx, or 304 for a conditional GET)."""

    url: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    response: requests.Response = field(repr=False, compare=False)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class _Failure:
    """Why an attempt failed, and what that means for retrying it."""

    reason: str
    retry_after: float | None = None
    unreachable: bool = False
    # A lower retry budget for failures of ``kind``: it counts only those, so that
    # one of them among ordinary failures does not cut the whole request short.
    max_retries: int | None = None
    kind: str = ""
    wait: float | None = None  # a fixed wait instead of the backoff


@dataclass
class _Pacing:
    """When the last response arrived (on the client's clock)."""

    last_done: float | None = None


# Shared by every client that runs on the real clock: the terms of use count
# requests per machine, not per client object.
_PROCESS_PACING = _Pacing()


def endpoint_of(url: str) -> str:
    """The URL without its query string: what a user recognises from the config."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL (an unclosed "[", say): the error must still name it
        return url.split("?", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _not_a_url(url: str, setting: str) -> ConfigError:
    """A configured endpoint requests cannot even parse: a typo, not an outage."""
    return ConfigError(
        f"[arxiv] {setting} is not a valid URL: {endpoint_of(url)!r}; correct it in the "
        f"config file or $TRENDDIGEST_ARXIV_{setting.upper()}"
    )


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


@dataclass(frozen=True)
class _Redirect:
    """A 3xx naming where to ask instead: the next request goes there, paced."""

    status: int
    location: str  # absolute, as the server gave it (its query included)


def _retried_status(status: int) -> bool:
    """Whether an HTTP status means "not now" and is worth asking again after a wait.

    408 (the server tired of waiting for the request), 429 and every 5xx: the
    proxies and CDNs in front of a server answer with more of them than 500-504
    (507, Cloudflare's 520-524...).  Not 501 Not Implemented nor 505 HTTP Version
    Not Supported: they say the same of every later try.  Nor 511 Network
    Authentication Required: a captive portal waits for a person to sign in.
    """
    return status in (408, 429) or (500 <= status <= 599 and status not in (501, 505, 511))


# HTTP statuses of a proxy or captive portal that wants a login (not retried at once).
_NETWORK_LOGIN = (407, 511)


def _advice(status: int, setting: str) -> str:
    """What to check after an HTTP error status no retry mends.

    Most (404, 410) mean a wrong URL or category.  401 and 403 are a refusal of this
    client (arXiv refuses clients without a telling User-Agent, or ones that asked too
    often), and 407 and 511 come from the network in between (a proxy or a captive
    portal wanting a login): the URL is not at fault, so it is not what to check.
    """
    if status in _NETWORK_LOGIN:
        return (
            "a proxy or the network wants a login before it lets requests through (sign "
            "in, or give the proxy's credentials in HTTPS_PROXY)"
        )
    if status in (401, 403):
        return (
            f"the server refuses this client; check that [arxiv] {setting} points at "
            "arXiv and that [arxiv] user_agent names you (arXiv's terms of use)"
        )
    return f"check [arxiv] {setting} and the category names"


def _followable(url: str) -> bool:
    """Whether a redirect's target is an http(s) URL requests can send."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return False
    try:
        requests.Request("GET", url).prepare()
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, ValueError):
        return False
    return True


def _setting_for(configured: str, asked: str, location: str) -> str:
    """The value of the setting that would ask ``location`` directly.

    A feed's URL is ``feed_url`` with the category appended; the category is taken
    off the new address again when it ends with it, so the advice fits every feed.
    """
    base, old, new = endpoint_of(configured), endpoint_of(asked), endpoint_of(location)
    tail = old[len(base) :] if old.startswith(base) else ""
    if tail and new.endswith(tail):
        return new[: len(new) - len(tail)]
    return new


def _unreachable(reason: str) -> _Failure:
    return _Failure(reason, unreachable=True, max_retries=UNREACHABLE_RETRIES, kind="unreachable")


def _classify(exc: requests.RequestException, delay: float) -> _Failure:
    chain = _chain(exc)
    if any(isinstance(e, urllib3.exceptions.NameResolutionError) for e in chain):
        return _Failure(
            "name resolution failed",
            unreachable=True,
            max_retries=NAME_RESOLUTION_RETRIES,
            kind="name resolution",
            wait=delay,
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return _unreachable("connection refused")
    if isinstance(exc, requests.exceptions.SSLError):
        return _unreachable("TLS handshake failed")
    if isinstance(exc, requests.ConnectTimeout):
        return _unreachable("connect timed out")
    if any(isinstance(e, urllib3.exceptions.NewConnectionError) for e in chain):
        return _unreachable("could not connect")
    if isinstance(exc, requests.Timeout) or any(
        isinstance(e, urllib3.exceptions.ReadTimeoutError | TimeoutError) for e in chain
    ):
        return _Failure("timed out")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return _Failure("truncated response body")
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return _Failure("connection reset")
    return _Failure(f"connection error ({type(exc).__name__})")


def _arriving(resp: requests.Response) -> Iterator[bytes]:
    """The body, gunzipped, in the pieces it arrives in, with urllib3's errors turned
    into requests' as ``iter_content`` turns them.

    Not ``iter_content``: it waits for a whole chunk however slowly the bytes come,
    so nothing could be checked in between.  ``read1`` (urllib3 2.3 and later) makes
    one read of the socket at most.
    """
    raw = resp.raw
    read = getattr(raw, "read1", None) or raw.read
    try:
        while chunk := read(_BODY_CHUNK, decode_content=True):
            yield chunk
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc
    resp._content_consumed = True  # read to its end: closing it keeps the connection


def _read_body(
    resp: requests.Response, cap: int, clock: Callable[[], float], deadline: float
) -> bytes | None:
    """The body, gunzipped, read as it arrives; None as soon as it passes ``cap``.

    Raises :class:`requests.ReadTimeout` (retried as a timeout) once reading it has
    taken more than ``deadline`` seconds on ``clock``.
    """
    started = clock()
    chunks: list[bytes] = []
    size = 0
    for chunk in _arriving(resp):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if clock() - started > deadline:
            raise requests.exceptions.ReadTimeout(f"body still arriving after {deadline:g} s")
    return b"".join(chunks)


def _query_url_format(api_url: str) -> str:
    """``arxiv.Client.query_url_format`` for a configured endpoint (``{}`` takes the query)."""
    escaped = api_url.replace("{", "{{").replace("}", "}}")
    return f"{escaped}{'&' if '?' in api_url else '?'}{{}}"


def _param(url: str, name: str) -> str:
    values = parse_qs(urlsplit(url).query, keep_blank_values=True).get(name)
    return values[0] if values else ""


PageHandler = Callable[[int, ApiPage], bool]


class _ArxivPackageSession(requests.Session):
    """The session given to ``arxiv.Client``: its GETs go through :meth:`ArxivClient.get`.

    ``arxiv.Client`` would otherwise send its requests through a plain session: no
    timeout, its own User-Agent, and retries without regard to ``Retry-After``.
    """

    def __init__(self, owner: ArxivClient) -> None:
        super().__init__()
        self.owner = owner
        self.on_page: Callable[[int, ApiPage], None] | None = None
        # True from handing a body to arxiv until it yields a result from it: an
        # error in between is arxiv's parser failing, not the caller's handler.
        self.arxiv_parsing = False

    def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return self.owner._api_response(url.decode() if isinstance(url, bytes) else url, self)


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
        max_body_bytes: int | None = None,
    ) -> None:
        self.config = config
        # Looked up now rather than bound as defaults, so tests can swap ``time``.
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        self.wall_clock = wall_clock or time.time
        self.timeout = config.timeout_seconds if timeout is None else timeout
        # Looked up now, like the clocks: tests lower the cap without allocating 64 MiB.
        self.max_body_bytes = MAX_RESPONSE_BYTES if max_body_bytes is None else max_body_bytes
        self.requests_made = 0  # every HTTP request, a redirect's follow-up too
        self.failed_tries = 0  # tries that ended in a failure (a redirect is none)
        self._pacing = _Pacing() if clock is not None else _PROCESS_PACING
        # Wall-clock time before which no request may go: what another process (an
        # earlier command on the same store) left for this one; see :meth:`next_allowed`.
        self.not_before: float | None = None
        self._asked_to_wait_until: float | None = None  # from arXiv's Retry-After
        self._redirects_told: set[tuple[str, str]] = set()  # (setting, new value) warned of
        self._session = session or self._new_session()
        self._arxiv_session = _ArxivPackageSession(self)
        self._arxiv = arxiv.Client(page_size=config.page_size, delay_seconds=0.0, num_retries=0)
        self._arxiv._session.close()
        self._arxiv._session = self._arxiv_session
        self._arxiv.query_url_format = _query_url_format(config.api_url)

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
        self._arxiv_session.close()

    def __enter__(self) -> ArxivClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- pacing and backoff ------------------------------------------------------

    def next_allowed(self) -> float | None:
        """Wall-clock time before which nobody should ask arXiv again: the end of the
        3-second spacing after this client's last response, or a wait arXiv asked for
        (Retry-After), whichever is later.  None before the first request."""
        times = [t for t in (self.not_before, self._asked_to_wait_until) if t is not None]
        last = self._pacing.last_done
        if last is not None:
            spacing = self.config.delay_seconds - (self.clock() - last)
            times.append(self.wall_clock() + max(0.0, spacing))
        return max(times) if times else None

    def _wait_until(self, until: float, whom: str, why: str, *, routine: bool = False) -> None:
        """Sleep until ``until`` (wall clock), or stop the command when that is further
        away than the longest backoff: a wait of hours is better told than slept.

        A wait arXiv asked for is said at INFO, which a user sees without -v (see
        cli.py): a pause of seconds or minutes must not look like a hang.  A
        ``routine`` one (the spacing) is not, nor the rounding left of a Retry-After
        that a retry has just slept through."""
        remaining = until - self.wall_clock()
        if remaining > self.config.max_backoff_seconds:
            raise WaitRequestedError(
                f"arXiv asked {whom}to wait until {utc_text(until)}; run again after that",
                endpoint=endpoint_of(self.config.api_url),
                tries=0,
                last="Retry-After",
                until=until,
            )
        if remaining > 0:
            level = logging.DEBUG if routine or remaining < 1 else logging.INFO
            log.log(level, "waiting %.0f s before asking arXiv again, %s", remaining, why)
            self.sleep(remaining)

    def _wait_turn(self) -> None:
        """Wait until the next request may go: what an earlier run left, what arXiv's
        last ``Retry-After`` asked for (also when the request it answered gave up, so
        that the next feed of a poll keeps it too), and the spacing."""
        if self.not_before is not None:
            # What an earlier run left is its spacing (at most delay_seconds: `fetch`
            # then `poll` in a script), or else a Retry-After it was sent.
            routine = self.not_before - self.wall_clock() <= self.config.delay_seconds
            why = (
                "as an earlier run asked it moments ago"
                if routine
                else "as an earlier run was asked (Retry-After)"
            )
            self._wait_until(self.not_before, "an earlier run ", why, routine=routine)
            self.not_before = None  # honoured; a wait that stops the command keeps it
        if self._asked_to_wait_until is not None:
            self._wait_until(self._asked_to_wait_until, "", "as it asked (Retry-After)")
        remaining = self._spacing_left()
        if remaining > 0:
            log.debug("waiting %.1f s between requests (arXiv terms of use)", remaining)
            self.sleep(remaining)

    def _spacing_left(self) -> float:
        """Seconds until the spacing after the last response has passed (0 when it has)."""
        last = self._pacing.last_done
        if last is None:
            return 0.0
        return max(0.0, self.config.delay_seconds - (self.clock() - last))

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, ...) when arXiv named no
        wait: ``backoff_seconds``, doubled for each retry before it, at most
        ``max_backoff_seconds``.  Public because asking again for a page arXiv sent
        empty is a retry too (see backfill.py): one policy for both, one client
        owning it."""
        wait = self.config.backoff_seconds * 2 ** (retry - 1)
        return max(0.0, min(wait, self.config.max_backoff_seconds))

    def _backoff(self, failures: int, failure: _Failure) -> float:
        if failure.wait is not None:
            wait = failure.wait
        elif failure.retry_after is not None:
            wait = failure.retry_after
        else:
            return self.backoff(failures)
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
        if when.tzinfo is None:  # asctime form or "-0000": an HTTP-date is always GMT
            when = when.replace(tzinfo=UTC)
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
        try:  # before any wait: a typo in the URL is not mended by asking again
            requests.Request("GET", url).prepare()
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise _not_a_url(url, setting) from exc
        endpoint = endpoint_of(url)
        failures = 0
        of_kind: dict[str, int] = {}  # failures of each kind that has a budget of its own
        while True:
            failure = self._follow(url, headers, check, what, setting)
            if isinstance(failure, HttpResult):
                return failure
            failures += 1
            self.failed_tries += 1
            if failure.retry_after is not None:  # remembered for the next command too
                kept = min(failure.retry_after, MAX_REMEMBERED_WAIT_SECONDS)
                self._asked_to_wait_until = self.wall_clock() + kept
            # The most tries this request may still come to: max_retries, or fewer
            # when failures of this kind alone would pass their own budget first
            # (an offline machine, a wrong endpoint: they must fail fast).
            budget = self.config.max_retries
            if failure.max_retries is not None:
                same = of_kind[failure.kind] = of_kind.get(failure.kind, 0) + 1
                budget = min(budget, failures - same + failure.max_retries)
            if failures > budget:
                if failure.unreachable:
                    # The way around it only exists for the API (the digest can be
                    # built from the store or a file); the poll has nothing to fall back on.
                    fallback = (
                        "; use --offline or --from FILE to work without arXiv"
                        if setting == "api_url"
                        else ""
                    )
                    raise UnreachableError(
                        f"cannot reach {what} at {endpoint} ({failure.reason}): check the "
                        f"network or set [arxiv] {setting}{fallback}"
                    )
                raise RetriesExhaustedError(
                    f"{what} at {endpoint} kept failing after {failures} tries "
                    f"(last: {failure.reason})",
                    endpoint=endpoint,
                    tries=failures,
                    last=failure.reason,
                )
            limit = self.config.max_backoff_seconds
            if failure.retry_after is not None and failure.retry_after > limit:
                raise WaitRequestedError(
                    f"{what} at {endpoint} asked to wait {failure.retry_after:.0f} s before "
                    f"asking again ({failure.reason}), longer than [arxiv] "
                    f"max_backoff_seconds = {limit:g}",
                    endpoint=endpoint,
                    tries=failures,
                    last=failure.reason,
                    until=self._asked_to_wait_until or self.wall_clock(),
                )
            wait = self._backoff(failures, failure)
            # One line per retry at INFO, which the CLI shows unless -q (a person at a
            # terminal or a cron log should hear why nothing happens for a while), but
            # not WARNING: retries are routine with arXiv, and if they run out the
            # error says so.  The pause given is the whole of it: the spacing still
            # applies after a short Retry-After.  Not for an endpoint that cannot be
            # reached at all (no network, a wrong api_url): its few quick retries end
            # in the one-line error that says what to do, which is all it should print.
            pause = max(wait, self._spacing_left())
            asked = ", as arXiv asked" if failure.retry_after is not None and wait >= pause else ""
            log.log(
                logging.DEBUG if failure.unreachable else logging.INFO,
                "%s at %s: %s; retrying in %.0f s%s (retry %d of %d)",
                what,
                endpoint,
                failure.reason,
                pause,
                asked,
                failures,
                budget,
            )
            if wait > 0:
                self.sleep(wait)

    def _follow(
        self,
        url: str,
        headers: Mapping[str, str] | None,
        check: Callable[[HttpResult], str | None] | None,
        what: str,
        setting: str,
    ) -> HttpResult | _Failure:
        """One try at ``url``, following its redirects as requests of their own.

        requests would follow them inside one paced request, back to back (and a
        loop up to 30 times); here each goes through :meth:`_attempt`, so the
        spacing holds for every request that leaves the machine.  The conditional
        headers of a feed go along.
        """
        current = url
        followed = 0
        while True:
            answer = self._attempt(current, headers, check, what, setting)
            if not isinstance(answer, _Redirect):
                return answer
            if followed == MAX_REDIRECTS:  # asking again would loop the same way
                raise FetchError(
                    f"{what} at {endpoint_of(url)} kept redirecting (more than {MAX_REDIRECTS} "
                    f"times, last to {endpoint_of(answer.location)}): a redirect loop; check "
                    f"[arxiv] {setting}"
                )
            if not _followable(answer.location):
                raise FetchError(
                    f"{what} at {endpoint_of(url)} redirected to {answer.location!r}, which is "
                    f"not an http(s) URL; check [arxiv] {setting}"
                )
            self._tell_redirect(url, answer, what, setting)
            current = answer.location
            followed += 1

    def _tell_redirect(self, url: str, redirect: _Redirect, what: str, setting: str) -> None:
        """Warn, once per new address, that every request there costs two."""
        value = _setting_for(getattr(self.config, setting), url, redirect.location)
        if (setting, value) in self._redirects_told:
            return
        self._redirects_told.add((setting, value))
        # A warning, not INFO: nothing fails, but each request now waits out the
        # spacing twice, and only the user can point the setting at the new place.
        log.warning(
            "%s at %s redirects to %s (HTTP %d); if arXiv answers there now, set "
            '[arxiv] %s = "%s" to save a request each time',
            what,
            endpoint_of(url),
            endpoint_of(redirect.location),
            redirect.status,
            setting,
            value,
        )

    def _attempt(
        self,
        url: str,
        headers: Mapping[str, str] | None,
        check: Callable[[HttpResult], str | None] | None,
        what: str,
        setting: str,
    ) -> HttpResult | _Failure | _Redirect:
        self._wait_turn()
        self.requests_made += 1
        log.debug("GET %s", url)
        cap = self.max_body_bytes
        try:
            resp = self._session.get(
                url,
                headers={"User-Agent": self.config.user_agent, **(headers or {})},
                timeout=(min(self.timeout, MAX_CONNECT_TIMEOUT), self.timeout),
                stream=True,
                allow_redirects=False,  # followed by _follow, each one paced
            )
            # Closing drops the connection when the body was not read to its end (the
            # cap was passed); a body read whole leaves it pooled for the next request.
            with resp:
                # The deadline runs on the real clock, as the socket's timeouts do,
                # not on the injected one: that paces requests, and a test's may
                # jump ahead at every look.
                deadline = BODY_DEADLINE_TIMEOUTS * self.timeout
                body = _read_body(resp, cap, time.monotonic, deadline)
        except requests.RequestException as exc:
            return _classify(exc, self.config.delay_seconds)
        finally:
            self._pacing.last_done = self.clock()
        if body is None:
            # The same endpoint would send the same again: no retry.
            raise FetchError(
                f"{what} at {endpoint_of(url)} sent more than {cap:,} bytes (uncompressed), "
                f"more than any arXiv page or feed holds; check that [arxiv] {setting} "
                "points at arXiv"
            )
        # arxiv.Client reads the body of the response it is handed from ``content``.
        resp._content = body
        result = HttpResult(
            url=resp.url or url,
            status=resp.status_code,
            body=body,
            headers=resp.headers,
            response=resp,
        )
        status = resp.status_code
        target = self._session.get_redirect_target(resp)  # only for 301/302/303/307/308
        if target is not None:
            # Resolved against the URL asked (a Location may be relative); its own
            # query is kept as given, the fragment is not sent.
            location = urldefrag(urljoin(resp.url or url, requote_uri(target))).url
            return _Redirect(status, location)
        if _retried_status(status):
            retry_after = self._retry_after(resp.headers.get("Retry-After"))
            return _Failure(f"HTTP {status}", retry_after=retry_after)
        if status == 304 or status == 400:
            return result
        if not 200 <= status < 300:
            answer = f"HTTP {status} {resp.reason or ''}".rstrip()
            error = FetchError(
                f"{what} at {endpoint_of(url)} answered {answer}: {_advice(status, setting)}"
            )
            # A login to the network may come within the hour; a wrong URL will not.
            error.transient = status in _NETWORK_LOGIN
            raise error
        if resp.headers.get("Content-Type", "").lower().startswith("text/html"):
            # arXiv's API and feeds answer in XML.  A web page is a proxy's notice (worth
            # one more try) or a URL pointing at arXiv's HTML pages (no try mends that).
            reason = f"an HTML page, not arXiv's XML: check that [arxiv] {setting} is right"
            return _Failure(reason, max_retries=1, kind="html")
        problem = check(result) if check else None
        return _Failure(problem) if problem else result

    def latest_month(self) -> Month:
        """The latest month an arXiv id can belong to, by this client's wall clock.

        Pages and feeds it fetches are parsed against it (an id of a later month is
        rejected), on the injected clock so that tests can move it.
        """
        return current_month(datetime.fromtimestamp(self.wall_clock(), UTC))

    # -- the query API -----------------------------------------------------------

    def query(self, search: arxiv.Search, start: int, page_size: int, on_page: PageHandler) -> None:
        """Page through ``search`` from result ``start`` with ``arxiv.Client.results``.

        ``arxiv.Client`` builds each URL from the configured ``api_url``, asks for the
        next page at the offset of the results received so far, and stops at the
        first page's ``opensearch:totalResults`` or at an empty page.  Each page is
        handed to ``on_page(offset, page)`` as soon as it has arrived and passed the
        checks (before arxiv reads it), so the caller can store it before the next
        request; ``on_page`` returns False to stop paging.  Whether the results are
        complete is the caller's to judge: an empty page ends this call either way.
        ``search.max_results`` is ignored (paging is bounded by the total and by
        ``on_page``).
        """
        wanted = True

        def receive(offset: int, page: ApiPage) -> None:
            nonlocal wanted
            wanted = on_page(offset, page)

        unbounded = arxiv.Search(
            query=search.query,
            id_list=search.id_list,
            max_results=None,
            sort_by=search.sort_by,
            sort_order=search.sort_order,
        )
        session = self._arxiv_session
        self._arxiv.page_size = page_size
        session.on_page = receive
        try:
            # arxiv parses each page again after parse_api_page has (which logged
            # every entry it skipped): its own lines about them would repeat those.
            with arxiv_skips_unlogged():
                for _result in self._arxiv.results(unbounded, offset=start):
                    session.arxiv_parsing = False
                    if not wanted:
                        break
        except arxiv.UnexpectedEmptyPageError:
            pass  # already handed to on_page, which decides what an empty page means
        except (ValueError, TypeError) as exc:
            if not session.arxiv_parsing:
                raise
            # arxiv's parser gives up on a whole page for one bad timestamp; the page
            # was already read entry by entry and handed over (the bad entry logged
            # as skipped), so paging ends here and the caller goes on from the
            # results it has.
            log.debug("arxiv could not parse a page (%s); its other entries were kept", exc)
        finally:
            session.on_page = None
            session.arxiv_parsing = False

    def fetch_api_page(self, search: arxiv.Search, start: int, max_results: int) -> ApiPage:
        """One page of results (``max_results`` of them from ``start``): one request.

        Truncated or malformed bodies are retried; raises :class:`ArxivAPIError` with
        arXiv's own message for an error feed.
        """
        pages: list[ApiPage] = []

        def first(offset: int, page: ApiPage) -> bool:
            pages.append(page)
            return False

        self.query(search, start, max_results, first)
        return pages[0]

    def _api_response(self, url: str, session: _ArxivPackageSession) -> requests.Response:
        """Answer one of ``arxiv.Client``'s GETs: paced, retried, checked, error feeds read."""
        parsed: dict[str, ApiPage] = {}

        def usable(result: HttpResult) -> str | None:
            page = parse_api_page(result.body, self.latest_month())
            if page.malformed:
                return f"malformed response ({page.malformed_reason})"
            parsed["page"] = page
            return None

        result = self.get(url, what="arXiv API", check=usable)
        query = _param(url, "search_query")
        if result.status == 400:
            message = parse_api_page(result.body).error or "HTTP 400 without an arXiv error entry"
            raise ArxivAPIError(
                f"arXiv API rejected the query {query!r}: {message} ({endpoint_of(url)})"
            )
        page = parsed["page"]
        if page.error:
            raise ArxivAPIError(f"arXiv API rejected the query {query!r}: {page.error}")
        session.arxiv_parsing = False
        if session.on_page is not None:
            session.on_page(int(_param(url, "start") or 0), page)
        session.arxiv_parsing = True
        return result.response

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
