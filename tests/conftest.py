"""Shared pytest fixtures."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trenddigest.store import Store

# The local arXiv stand-in's fixtures (arxiv_server, clock, no_arxiv_waits) for every
# test module.
pytest_plugins = ["arxiv_server"]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def store() -> Iterator[Store]:
    """A real, empty SQLite store in memory (modules needing a filled one define theirs)."""
    with Store.open(":memory:") as st:
        yield st


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder with real arXiv data (never copied into the repo).

    Skipped when absent on a developer machine; under CI it must be there, so its
    absence fails instead of silently skipping.
    """
    path = Path(os.environ.get("TRENDDIGEST_SHARED", REPO.parent / "shared"))
    if not path.is_dir():
        message = f"shared data not found at {path} (set TRENDDIGEST_SHARED)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``main()`` configures logging at the entry point, pointing it at the test's
    captured stderr; put the root logger back so later tests never log to a closed
    stream (which shows up as a "--- Logging error ---" in some other test's output)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # main() also sets the levels of a few loggers (the client's and the scheduler's
    # shown at INFO, libraries' quietened): a later test must not inherit them.
    named = {name: logging.getLogger(name).level for name in _LOGGERS_MAIN_SETS}
    yield
    root.handlers[:], root.level = handlers, level
    for name, old in named.items():
        logging.getLogger(name).setLevel(old)


_LOGGERS_MAIN_SETS = (
    "trenddigest.sources.client",
    "trenddigest.schedule",
    "urllib3",
    "arxiv",
    "apscheduler.executors",
    "matplotlib",
)
