"""arXiv's spacing across processes: the store remembers when the next request may go.

One client spaces its own requests; a command run right after another one (``fetch``
then ``poll`` in a script, a retry started by hand after a failure) is a new client
that knows nothing of the last request, nor of a ``Retry-After`` arXiv sent.  The
store every command opens (under its lock, so one at a time) carries that moment.
"""

from __future__ import annotations

import logging
import math
import sqlite3

from ..errors import StoreError
from ..store import ARXIV_NOT_BEFORE_KEY, Store
from .client import MAX_REMEMBERED_WAIT_SECONDS, ArxivClient, utc_text

log = logging.getLogger(__name__)


def resume_pacing(store: Store, client: ArxivClient) -> None:
    """Make ``client`` wait for what the last command on this store left.

    At most :data:`~trenddigest.sources.client.MAX_REMEMBERED_WAIT_SECONDS` from now,
    the cap a wait gets when it is written: a moment further off was written by a
    clock that was ahead (and since set right) or by hand, and taken as it stands
    it would stop every fetch and poll until then, weeks maybe.  It is cut to the
    cap rather than ignored: the two clocks cannot be told apart from here, and a
    long wait arXiv asked for, read by a clock now slightly behind, must not
    become a request at once.  The next command on the store then hears a moment
    within the cap, so the wait ends a day later at the latest; the warning says
    why nothing is asked until then.  An unreadable value is ignored.
    """
    value = store.get_meta(ARXIV_NOT_BEFORE_KEY)
    try:
        moment = float(value) if value else None
    except (TypeError, ValueError):
        moment = math.nan
    if moment is not None and not math.isfinite(moment):
        log.debug("ignoring an unreadable %s in the store: %r", ARXIV_NOT_BEFORE_KEY, value)
        return
    latest = client.wall_clock() + MAX_REMEMBERED_WAIT_SECONDS
    if moment is not None and moment > latest:
        log.warning(
            "the store says not to ask arXiv before %s, more than %.0f hours away (a clock "
            "that was ahead?); waiting until %s at most",
            utc_text(moment),
            MAX_REMEMBERED_WAIT_SECONDS / 3600,
            utc_text(latest),
        )
        moment = latest
    client.not_before = moment


def record_pacing(store: Store, client: ArxivClient) -> None:
    """Leave the next command on this store the moment it may ask arXiv again.

    A moment further off than the request spacing is a wait arXiv asked for
    (Retry-After): the store must then outlive this command even when it failed
    having stored nothing (a first run told to come back in an hour), or the next
    run, a retry by hand, would ask again at once."""
    moment = client.next_allowed()
    if moment is None:
        return
    try:
        store.set_meta(ARXIV_NOT_BEFORE_KEY, f"{moment:.3f}")
    except (StoreError, sqlite3.Error) as exc:  # a read-only store: only politeness lost
        log.debug("cannot record arXiv's pacing in %s: %s", store.path, exc)
        return
    if moment - client.wall_clock() > client.config.delay_seconds:
        store.must_outlive_failure = True
