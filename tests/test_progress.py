"""The fetch progress bar and the log lines that share its terminal."""

from __future__ import annotations

import argparse
import io
import logging
import sys

import pytest

from trenddigest import cli
from trenddigest.progress import StreamReporter


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_breaking_a_half_drawn_bar_ends_its_line_and_the_next_update_draws_below() -> None:
    out = io.StringIO()
    reporter = StreamReporter(out, tty=True, width=10)
    reporter.start("cs.CV 2025-05", 20)
    reporter.break_line()
    reporter.update("cs.CV 2025-05", 10, 20)
    assert out.getvalue() == (
        "\rcs.CV 2025-05 [..........]   0% 0/20 papers\n"
        "\rcs.CV 2025-05 [#####.....]  50% 10/20 papers"
    )


def test_breaking_the_line_with_no_bar_drawn_writes_nothing() -> None:
    out = io.StringIO()
    reporter = StreamReporter(out, tty=True, width=10)
    reporter.break_line()
    reporter.start("cs.CV 2025-05", 20)
    reporter.finish("cs.CV 2025-05", 20, 20)
    reporter.break_line()
    assert out.getvalue().count("\n") == 1


def on_terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """stderr as a terminal; set in the test itself, since pytest puts its own capture
    back on sys.stderr between a fixture's setup and the test."""
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    return screen


def fetching_on_terminal(monkeypatch: pytest.MonkeyPatch) -> tuple[Terminal, StreamReporter]:
    """A run's logging and progress bar as the CLI sets them up on a terminal, with a
    bar for cs.CV 2025-05 (20 papers) drawn."""
    screen = on_terminal(monkeypatch)
    cli._configure_logging(verbose=0, quiet=False)
    reporter = cli._reporter(argparse.Namespace(quiet=False))
    reporter.width = 10
    reporter.start("cs.CV 2025-05", 20)
    return screen, reporter


def test_a_retry_logged_mid_fetch_starts_a_line_of_its_own_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal, reporter = fetching_on_terminal(monkeypatch)
    logging.getLogger("trenddigest.sources.client").info("HTTP 503; retrying in 27 s")
    reporter.update("cs.CV 2025-05", 10, 20)
    assert terminal.getvalue().split("\n") == [
        "\rcs.CV 2025-05 [..........]   0% 0/20 papers",
        "HTTP 503; retrying in 27 s",
        "\rcs.CV 2025-05 [#####.....]  50% 10/20 papers",
    ]


def test_scheduler_debug_lines_show_with_vv(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    cli._configure_logging(verbose=2, quiet=False)
    logging.getLogger("trenddigest.schedule").debug("next poll in 3 h")
    assert "next poll in 3 h" in terminal.getvalue()


def test_scheduler_outcomes_show_without_v_and_not_with_q(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    cli._configure_logging(verbose=0, quiet=False)
    logging.getLogger("trenddigest.schedule").info("digest 2025-05 written")
    cli._configure_logging(verbose=0, quiet=True)
    logging.getLogger("trenddigest.schedule").info("digest 2025-06 written")
    assert terminal.getvalue() == "digest 2025-05 written\n"


def test_two_lines_logged_mid_fetch_leave_no_blank_line_between_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen, _ = fetching_on_terminal(monkeypatch)
    client_log = logging.getLogger("trenddigest.sources.client")
    client_log.info("HTTP 503; retrying in 27 s")
    client_log.info("HTTP 503; retrying in 54 s")
    assert screen.getvalue().split("\n") == [
        "\rcs.CV 2025-05 [..........]   0% 0/20 papers",
        "HTTP 503; retrying in 27 s",
        "HTTP 503; retrying in 54 s",
        "",
    ]
