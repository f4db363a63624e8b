"""Counting the papers of one fetch or poll, each paper once.

The store counts what one call did to the ids it was given, and a fetch makes many
calls (a page at a time, a category at a time).  A paper listed in two categories,
or on a page read again after arXiv's results moved, comes twice: counted per call
it would be new the first time and unchanged the second, and the summary a user
reads would count it twice.  A :class:`PaperTally` counts each paper once, as what
it was to the store at the start: new if the fetch stored it first, else updated
if the fetch changed it, else unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..store import UpsertCounts


class PaperTally:
    """Every paper one fetch or poll stored, once, with what the fetch did to it."""

    def __init__(self) -> None:
        self._status: dict[str, str] = {}
        self._counts = UpsertCounts()

    def add(self, outcome: Mapping[str, str]) -> None:
        """Count what one ``Store.upsert_papers(papers, outcome)`` did, once it is
        committed (a write rolled back stored nothing to count)."""
        for pid, status in outcome.items():
            before = self._status.get(pid)
            if before is None:
                self._status[pid] = status
                if status == "new":
                    self._counts.new += 1
                elif status == "updated":
                    self._counts.updated += 1
                else:
                    self._counts.unchanged += 1
            elif before == "unchanged" and status == "updated":
                # Revised between two sightings (arXiv published a new version meanwhile).
                self._status[pid] = status
                self._counts.unchanged -= 1
                self._counts.updated += 1

    @property
    def counts(self) -> UpsertCounts:
        """New, updated and unchanged papers; each paper counts once."""
        return UpsertCounts(self._counts.new, self._counts.updated, self._counts.unchanged)

    @property
    def stored(self) -> int:
        """Distinct papers stored (written or confirmed unchanged)."""
        return len(self._status)
