"""Progress of long fetches, for people at a terminal and for cron logs alike.

A month backfill can take minutes (arXiv allows one request every three seconds), so
silence would look like a hang.  The core never prints: it calls a reporter it was
given.  :class:`StreamReporter` draws a one-line bar (redrawn with ``\\r``) when its
stream is a terminal, and writes plain lines otherwise, so a cron mail or CI log holds
readable progress instead of carriage-return noise.
"""

from __future__ import annotations

import logging
import sys
from typing import Protocol, TextIO


class Reporter(Protocol):
    """What fetchers call; ``label`` names one unit of work, e.g. ``"cs.CV 2025-05"``."""

    def start(self, label: str, total: int | None) -> None: ...

    def update(self, label: str, done: int, total: int | None) -> None: ...

    def finish(self, label: str, done: int, total: int | None, note: str = "") -> None: ...


class NullReporter:
    """Reports nothing: the default for library callers and tests."""

    def start(self, label: str, total: int | None) -> None:
        pass

    def update(self, label: str, done: int, total: int | None) -> None:
        pass

    def finish(self, label: str, done: int, total: int | None, note: str = "") -> None:
        pass


def _papers(count: int) -> str:
    return "paper" if count == 1 else "papers"


def _count(done: int, total: int | None) -> str:
    """``5/13 papers``; the noun agrees with the total (``1/1 paper``)."""
    if total is None:
        return f"{done}/? papers"
    return f"{done}/{total} {_papers(total)}"


class StreamReporter:
    """A bar on a terminal, plain lines elsewhere (``tty`` overrides the detection)."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None, width: int = 30):
        self.stream = stream if stream is not None else sys.stderr
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.width = width
        self._drawn = 0  # length of the bar line currently on screen

    def _bar(self, label: str, done: int, total: int | None) -> str:
        if total:
            filled = min(self.width, self.width * done // total)
            percent = f"{min(100, 100 * done // total):3d}%"
        else:
            filled, percent = 0, "  ?%"
        bar = "#" * filled + "." * (self.width - filled)
        return f"{label} [{bar}] {percent} {_count(done, total)}"

    def _draw(self, text: str) -> None:
        pad = " " * max(0, self._drawn - len(text))
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()
        self._drawn = len(text)

    def break_line(self) -> None:
        """End a half-drawn bar, so that what is written next starts a line of its own
        (the next update draws the bar again below it)."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def start(self, label: str, total: int | None) -> None:
        if self.tty:
            self._draw(self._bar(label, 0, total))
        else:
            self._line(
                f"{label}: fetching ({total} {_papers(total)})" if total else f"{label}: fetching"
            )

    def update(self, label: str, done: int, total: int | None) -> None:
        if self.tty:
            self._draw(self._bar(label, done, total))
        else:
            self._line(f"{label}: {_count(done, total)}")

    def finish(self, label: str, done: int, total: int | None, note: str = "") -> None:
        suffix = f" ({note})" if note else ""
        if self.tty:
            self._draw(self._bar(label, done, total) + suffix)
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0
        else:
            self._line(f"{label}: {_count(done, total)}{suffix}")


class BarBreaker(logging.Filter):
    """A log handler's filter that ends the reporter's half-drawn bar before a record
    is written: a retry line logged mid-fetch would otherwise be glued to the bar."""

    def __init__(self, reporter: StreamReporter) -> None:
        super().__init__()
        self.reporter = reporter

    def filter(self, record: logging.LogRecord) -> bool:
        self.reporter.break_line()
        return True
