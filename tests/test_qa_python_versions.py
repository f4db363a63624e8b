"""Python versions: what pyproject.toml promises, and results that must not depend on one.

trenddigest supports Python 3.11 and later (``requires-python``); CI runs 3.11, so the
tools that check the code must check it against 3.11 too.  (3.12 changed ``sum()`` of
floats to compensated summation: see the tie test in test_quality.py.)
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _oldest_python() -> str:
    """The lowest version requires-python allows, as "3.11" (it must be a >= bound)."""
    (spec,) = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert spec.operator == ">="
    return spec.version


def test_requires_python_refuses_3_10_and_accepts_3_11_to_3_13():
    allowed = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert not allowed.contains("3.10.13")
    assert all(allowed.contains(v) for v in ("3.11.0", "3.12.1", "3.13.0"))


def test_ruff_and_mypy_check_against_the_oldest_python_requires_python_allows():
    oldest = _oldest_python()
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + oldest.replace(".", "")
    assert PYPROJECT["tool"]["mypy"]["python_version"] == oldest
