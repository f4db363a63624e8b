"""The one exception family of trenddigest.

Library code raises these; only the CLI turns them into a one-line message and a
non-zero exit code.  Each subclass carries its own exit code so that scripts (cron,
GitHub Actions) can tell a bad invocation from an arXiv outage.
"""

from __future__ import annotations


class TrendDigestError(Exception):
    """Base of every error a user can cause or must act on."""

    exit_code = 1


class ConfigError(TrendDigestError):
    """The configuration file, a category file or a flag value is wrong."""

    exit_code = 2


class InputError(TrendDigestError):
    """A file or argument given by the user cannot be used (bad month, unreadable file)."""

    exit_code = 2


class EmptyMonthError(InputError):
    """No paper belongs to the month: there is nothing to make a digest of.

    Apart from other input errors because the scheduler must not let such a month (a
    narrow category with a quiet month) hold back the months after it.
    """


class StoreError(TrendDigestError):
    """The SQLite store cannot be opened, migrated or written."""

    exit_code = 3


class FetchError(TrendDigestError):
    """arXiv (or the configured mirror) could not be reached or kept failing."""

    exit_code = 4
    # Whether asking again later may well succeed (no connection, arXiv busy or asking
    # for a wait): an unattended job retries those within the hour, and leaves an
    # answer no retry mends (a query arXiv rejects, a 404) for its next run.
    transient = False


class ArxivAPIError(FetchError):
    """arXiv answered with an error feed (HTTP 400 and an error entry)."""


class DeliveryError(TrendDigestError):
    """Committing, pushing or emailing a digest failed (the digest itself was written)."""

    exit_code = 5
    # The run's result (what was written), set by the pipeline for the CLI's summary.
    result: object = None


class EmailUnconfirmedError(DeliveryError):
    """The SMTP server took the whole digest but did not confirm it in time: it may
    have arrived, so it is recorded as sent and not sent again automatically."""


class LockError(TrendDigestError):
    """Another trenddigest process holds the store's lock."""

    exit_code = 6
