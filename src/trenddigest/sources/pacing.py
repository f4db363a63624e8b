"""arXiv's spacing across processes: the store remembers when the next request may go.

One client spaces its own requests; a command run right after another one (``fetch``
then ``poll`` in a script, a retry started by hand after a failure) is a new client
that knows nothing of the last request, nor of a ``Retry-After`` arXiv sent.  The
store every command opens (under its lock, so one at a time) carries that moment.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3

from ..errors import StoreError
from ..store import ARXIV_NOT_BEFORE_KEY, Store
from .client import ArxivClient

log = logging.getLogger(__name__)


def resume_pacing(store: Store, client: ArxivClient) -> None:
    """Make ``client`` wait for what the last command on this store left."""
    value = store.get_meta(ARXIV_NOT_BEFORE_KEY)
    with contextlib.suppress(TypeError, ValueError):
        client.not_before = float(value) if value else None


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
