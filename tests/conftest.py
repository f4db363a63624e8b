"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The local arXiv stand-in's fixtures (arxiv_server, no_arxiv_waits) for every test module.
pytest_plugins = ["arxiv_server"]

REPO = Path(__file__).resolve().parent.parent


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
