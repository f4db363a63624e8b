"""QA of the emailed digest as a lab's mail server sees it: real SMTP servers on
127.0.0.1 (aiosmtpd), the message checked as the bytes that crossed the wire."""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from synthetic import refusing_repository
from test_email import (
    PNG,
    RUN_EMAIL,
    Recorder,
    config,
    email_config_file,
    free_port,
    scheduled_run,
    self_signed,
    server_context,
    smtp_server,
    workdir,
)
from trenddigest.cli import main
from trenddigest.deliver import (
    EMAIL_HTML_LIMIT,
    email_html,
    email_subject,
    render_email_html,
    send_digest_email,
)
from trenddigest.errors import DeliveryError
from trenddigest.models import Month, Paper
from trenddigest.rank import RankedPaper
from trenddigest.render import Digest, render_markdown
from trenddigest.store import Store

# Fixtures shared with test_email: the certificate, the SMTP server, the work folder.
__all__ = ["self_signed", "smtp_server", "workdir"]

DIGEST = "# Research trends, May 2025\n\n- [A paper](https://arxiv.org/abs/2505.00001)\n"


@pytest.fixture
def server() -> Iterator[tuple[Recorder, Controller]]:
    """A plain SMTP server that keeps every message it accepts."""
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield recorder, controller
    controller.stop()


def received(recorder: Recorder, index: int = 0) -> EmailMessage:
    """The message as the server got it on the wire."""
    raw = recorder.envelopes[index].original_content
    return email.message_from_bytes(raw, policy=default_policy)


@pytest.mark.parametrize(
    "sender",
    [
        "Trend Bot <digest@lab.example.org>",
        "digest@lab.example.org (Trend Bot)",
        '"Lab, Digest" <digest@lab.example.org>',
    ],
)
def test_message_id_takes_its_domain_from_the_sender_address_not_its_display_name(
    server: tuple[Recorder, Controller], sender: str
) -> None:
    recorder, controller = server
    send_digest_email(config(controller.port, sender=sender), "Digest", DIGEST, env={})
    header = received(recorder)["Message-ID"]
    assert header.defects == ()
    assert re.fullmatch(r"<[^<>@\s()]+@lab\.example\.org>", str(header))


def test_each_message_gives_its_chart_a_content_id_of_its_own(
    server: tuple[Recorder, Controller],
) -> None:
    recorder, controller = server
    for _ in range(2):
        send_digest_email(config(controller.port), "Digest", DIGEST, png_attachment=PNG, env={})
    cids = []
    for index in range(2):
        _plain, related = received(recorder, index).get_payload()
        html, image = related.get_payload()
        cid = image["Content-ID"].strip("<>")
        assert f'src="cid:{cid}"' in html.get_content()
        cids.append(cid)
    assert cids[0] != cids[1]  # RFC 2045: a Content-ID is world-unique


def test_related_part_names_the_html_as_its_root_type(
    server: tuple[Recorder, Controller],
) -> None:
    recorder, controller = server
    send_digest_email(config(controller.port), "Digest", DIGEST, png_attachment=PNG, env={})
    _plain, related = received(recorder).get_payload()
    assert related.get_content_type() == "multipart/related"
    assert related.get_param("type") == "text/html"  # RFC 2387: required


def test_a_non_ascii_address_the_server_cannot_take_is_named_with_the_fix() -> None:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=False)
    controller.start()
    try:
        cfg = config(controller.port, to=["Zoë <zoë@lab.example.org>", "ben@lab.example.org"])
        with pytest.raises(DeliveryError) as caught:
            send_digest_email(cfg, "Digest", DIGEST, env={})
    finally:
        controller.stop()
    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{controller.port} does not accept internationalized "
        "addresses (no SMTPUTF8), and [email] sender or to has one: Zoë "
        "<zoë@lab.example.org>; write those addresses in ASCII"
    )
    assert recorder.envelopes == []


@pytest.fixture
def tls_server(self_signed: tuple[Path, Path]) -> Iterator[tuple[Recorder, Controller]]:
    """An implicit-TLS SMTP server whose certificate is self-signed."""
    cert, key = self_signed
    recorder = Recorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=server_context(cert, key),
    )
    controller.start()
    yield recorder, controller
    controller.stop()


def test_an_untrusted_certificate_says_how_to_trust_it(
    tls_server: tuple[Recorder, Controller],
) -> None:
    recorder, controller = tls_server
    with pytest.raises(DeliveryError) as caught:
        send_digest_email(config(controller.port, security="ssl"), "Digest", DIGEST, env={})
    assert str(caught.value) == (
        f"TLS with SMTP server 127.0.0.1:{controller.port} failed: self-signed certificate; "
        "the server's certificate is not trusted here: set [email] ca_file to a PEM file "
        "with the certificate of the CA that signed it (or the server's own, if self-signed)"
    )
    assert recorder.envelopes == []


def test_a_server_certificate_signed_by_the_configured_ca_file_is_trusted(
    self_signed: tuple[Path, Path], tls_server: tuple[Recorder, Controller]
) -> None:
    recorder, controller = tls_server
    cfg = config(controller.port, security="ssl", ca_file=str(self_signed[0]))
    accepted = send_digest_email(cfg, "Digest", DIGEST, env={})
    assert accepted == ["ana@example.org", "ben@example.org"]
    assert len(recorder.envelopes) == 1


class AnswersLate(Recorder):
    """Takes the message but answers only after the client has stopped waiting."""

    def __init__(self) -> None:
        super().__init__()
        import asyncio

        self.release = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        await self.release.wait()
        return "250 Message accepted"


def test_a_server_that_answers_too_late_says_so_and_that_the_digest_may_have_arrived() -> None:
    recorder = AnswersLate()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        cfg = config(controller.port, timeout_seconds=0.2)
        with pytest.raises(DeliveryError) as caught:
            send_digest_email(cfg, "Digest", DIGEST, env={})
    finally:
        controller.loop.call_soon_threadsafe(recorder.release.set)
        controller.stop()
    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{controller.port} did not answer within 0.2 s after the "
        "digest was sent, so it may have arrived; ask a recipient before sending again, "
        "and raise [email] timeout_seconds if the server is slow"
    )
    assert len(recorder.envelopes) == 1


def test_a_digest_the_server_may_have_taken_is_not_sent_again_by_the_scheduler(
    workdir: Path,
) -> None:
    recorder = AnswersLate()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        email_config_file(workdir, controller.port, "timeout_seconds = 0.2\n")
        refusing_repository(workdir)
        for _attempt in range(2):  # the scheduler's retries (the commit fails every time)
            with pytest.raises(DeliveryError) as caught:
                scheduled_run(workdir)
    finally:
        controller.loop.call_soon_threadsafe(recorder.release.set)
        controller.stop()
    assert len(recorder.envelopes) == 1
    assert "commits are frozen" in str(caught.value)
    assert "may have arrived" not in str(caught.value)  # the second attempt sent nothing
    with Store.open(workdir / "store.sqlite3") as store:
        recorded = store.get_meta("emailed:2025-05")
    assert recorded is not None
    assert recorded.endswith(" to ana@example.org, unconfirmed by the server")


def test_a_run_by_hand_that_emails_a_month_again_says_so(
    workdir: Path, smtp_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder, port, server = smtp_server
    server["start"]()
    email_config_file(workdir, port)
    assert main(RUN_EMAIL) == 0
    first = capsys.readouterr().out.splitlines()[-1]
    assert main(RUN_EMAIL) == 0
    again = capsys.readouterr().out.splitlines()[-1]
    assert first == "emailed to ana@example.org"
    assert again.startswith("emailed to ana@example.org again (first sent ")
    assert again.endswith(" to ana@example.org)")
    assert len(recorder.envelopes) == 2


# -- the HTML part as a reader sees it: the chart's place, Gmail's 102 KB ------------------


def html_of(message: EmailMessage) -> str:
    """The text/html part, wherever the message's structure puts it (with \\n line ends)."""
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/html"]
    return str(part.get_content()).replace("\r\n", "\n")


def test_emailed_digest_shows_its_title_first_and_the_chart_in_its_trends_part(
    workdir: Path, server: tuple[Recorder, Controller], capsys: pytest.CaptureFixture[str]
) -> None:
    recorder, controller = server
    email_config_file(workdir, controller.port)
    assert main(RUN_EMAIL) == 0, capsys.readouterr().err
    html = html_of(received(recorder))
    chart = html.index('<img alt="Papers per category, month by month" class="chart" src="cid:')
    # As in the written digest: the momentum table, then the chart, then the rising terms.
    assert (
        html.index('<h1 id="research-trends-may-2025">')
        < html.index('<h2 id="research-trends">')
        < html.index('<h3 id="category-momentum">')
        < html.index('<h3 id="papers-per-category">Papers per category</h3>\n<p><img')
        < chart
        < html.index('<h3 id="rising-terms">')
    )


def test_email_chart_of_a_digest_without_a_trends_part_follows_its_title_and_intro(
    server: tuple[Recorder, Controller],
) -> None:
    recorder, controller = server
    text = "# Research trends, May 2025\n\n1,234 papers were ranked.\n\n## Overview\n\nTable.\n"
    send_digest_email(config(controller.port), "Digest", text, png_attachment=PNG, env={})
    html = html_of(received(recorder))
    assert (
        html.index("<h1 ")
        < html.index("<p>1,234 papers were ranked.</p>")
        < html.index('class="chart" src="cid:')
        < html.index('<h2 id="overview">')
    )


def synthetic_digest(categories: int, papers: int, *, short_last: bool = False) -> str:
    """A digest rendered by the real template from made-up papers: ``papers`` in each of
    ``categories`` categories (the last one only 2 with ``short_last``)."""
    sections = []
    number = 0
    for c in range(categories):
        name = f"Synthetic Topic {c:02d}"
        top = []
        for i in range(2 if short_last and c == categories - 1 else papers):
            number += 1
            paper = Paper(
                id=f"2505.{number:05d}",
                title=f"A Made-Up Study {number} of Synthetic Topic {c:02d} with a Long Title",
                authors=["Ada Example", "Ben Sample", "Cy Placeholder", "Dee Fixture"],
                primary_category="cs.LG",
            )
            top.append(RankedPaper(paper, name, 0.9 - i / 100, ["made-up term", "another"]))
        sections.append((name, f"Made-up papers about topic {c:02d}.", 4 * len(top), top))
    digest = Digest(
        month=Month(2025, 5),
        considered=3 * number,
        unmatched=number,
        by="submitted",
        arxiv_categories=["cs.LG"],
        sections=sections,
    )
    return render_markdown(digest)


SUBJECT = email_subject(Month(2025, 5))
CATEGORY_HEADING = re.compile(r'<h2 id="synthetic-topic-(\d\d)">Synthetic Topic \1</h2>')


def abs_links(text: str) -> list[str]:
    """The abstract pages linked from ``text`` (Markdown or HTML), in order."""
    return re.findall(r"https://arxiv\.org/abs/2505\.\d{5}", text)


def category_sections(html: str) -> dict[str, str]:
    """Each synthetic category's part of the HTML, by its number."""
    marks = list(CATEGORY_HEADING.finditer(html))
    ends = [m.start() for m in marks[1:]] + [html.index("<hr>")]
    return {m[1]: html[m.start() : end] for m, end in zip(marks, ends, strict=True)}


def test_a_digest_too_long_for_gmail_still_names_every_category_within_the_limit(
    server: tuple[Recorder, Controller],
) -> None:
    recorder, controller = server
    text = synthetic_digest(30, 10)
    assert len(render_email_html(SUBJECT, text, None, limit=10**9).encode()) > 102_000
    send_digest_email(config(controller.port), SUBJECT, text, png_attachment=PNG, env={})
    message = received(recorder)
    html = html_of(message)
    assert len(html.encode()) <= EMAIL_HTML_LIMIT
    # What Gmail measures is the part as sent (quoted-printable adds a little).
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/html"]
    assert len(part.get_payload().encode()) < 102_000
    sections = category_sections(html)
    assert sorted(sections) == [f"{c:02d}" for c in range(30)]
    for section in sections.values():  # the last categories too, each with its best paper
        assert len(abs_links(section)) >= 1
        assert '<p class="more">' in section


def test_a_shortened_email_lists_each_categorys_best_papers_the_same_number_in_each() -> None:
    text = synthetic_digest(30, 10, short_last=True)
    page = email_html(SUBJECT, text)
    assert page.shown is not None and 1 <= page.shown < 10
    full = category_sections(render_email_html(SUBJECT, text, limit=10**9))
    shortened = category_sections(page.html)
    for number, section in shortened.items():
        listed = abs_links(full[number])
        assert abs_links(section) == listed[: page.shown]
        left = len(listed) - page.shown
        if left > 0:
            assert f'<p class="more">{left} more in the attached full digest.</p>' in section
        else:  # the category with 2 papers shows both, with nothing to point to
            assert number == "29" and "more in the attached" not in section


def test_a_shortened_email_says_so_under_the_title_and_names_the_attachment() -> None:
    page = email_html(SUBJECT, synthetic_digest(30, 10))
    intro = page.html.index("were ranked;")
    note = page.html.index(
        f'<p class="shortened"><strong>Shortened for email:</strong> each category lists its '
        f"top {page.shown} papers here, so that mail readers such as Gmail show the whole "
        "message instead of clipping its end. The full digest, with every paper, is attached "
        "as research-trends-may-2025.md.</p>"
    )
    assert page.html.index("<h1 ") < intro < note < page.html.index("<h2 ")


def test_a_shortened_email_attaches_the_full_digest_and_keeps_the_plain_text_whole(
    server: tuple[Recorder, Controller],
) -> None:
    recorder, controller = server
    text = synthetic_digest(30, 10)
    send_digest_email(config(controller.port), SUBJECT, text, png_attachment=PNG, env={})
    message = received(recorder)
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    plain, related = alternative.get_payload()
    assert plain.get_content().replace("\r\n", "\n") == text
    assert [p.get_content_type() for p in related.get_payload()] == ["text/html", "image/png"]
    assert attachment.get_content_type() == "text/markdown"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "research-trends-may-2025.md"
    assert attachment.get_content().replace("\r\n", "\n") == text


def test_a_digest_too_long_even_without_its_lists_gives_each_category_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = synthetic_digest(30, 10)
    with caplog.at_level(logging.WARNING, logger="trenddigest.deliver"):
        page = email_html(SUBJECT, text, limit=5_000)
    assert page.shown == 0
    for section in category_sections(page.html).values():
        assert "<ol>" not in section
        assert '<p class="more">10 papers in the attached full digest.</p>' in section
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.endswith(
        "even without the category lists, over the 5000 that Gmail shows unclipped: the end "
        "of the message may be clipped"
    )


def test_a_digest_that_fits_is_emailed_whole_without_an_attachment(
    server: tuple[Recorder, Controller],
) -> None:
    recorder, controller = server
    text = synthetic_digest(3, 4)
    send_digest_email(config(controller.port), SUBJECT, text, png_attachment=PNG, env={})
    message = received(recorder)
    assert message.get_content_type() == "multipart/alternative"
    html = html_of(message)
    assert abs_links(html) == abs_links(text) and len(abs_links(text)) == 12
    assert "Shortened for email" not in html and 'class="more"' not in html
    (cid,) = re.findall(r'src="cid:([^"]+)"', html)
    assert html.rstrip("\n") == render_email_html(SUBJECT, text, cid, limit=10**9)


def test_email_html_repeats_no_inline_style() -> None:
    html = render_email_html(SUBJECT, synthetic_digest(3, 4))
    assert ' style="' not in html
    assert '<td align="right">12</td>' in html  # the Overview's counts, right-aligned
