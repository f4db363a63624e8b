"""What the package declares for its build, checked without building (no network)."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_license_is_an_spdx_string_with_a_backend_that_reads_one() -> None:
    # setuptools deprecates `license = { text = ... }` and stops building such
    # projects after 2027-02-18; the unpinned backend pip fetches would then fail
    # every `pip install .` (the workflow's install step included).  A plain SPDX
    # string needs setuptools 77 or later.
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))

    assert data["project"]["license"] == "MIT"
    assert "setuptools>=77" in data["build-system"]["requires"]
