"""QA of the emailed digest as a lab's mail server sees it: real SMTP servers on
127.0.0.1 (aiosmtpd), the message checked as the bytes that crossed the wire."""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from importlib.resources import files
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
    serving,
    smtp_server,
    workdir,
)
from trenddigest import deliver
from trenddigest.cli import main
from trenddigest.deliver import (
    EMAIL_HTML_LIMIT,
    build_email,
    email_html,
    email_subject,
    html_size_as_sent,
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


def test_a_different_chart_gets_a_content_id_of_its_own(
    server: tuple[Recorder, Controller],
) -> None:
    # RFC 2045: a Content-ID is world-unique; one names the same image wherever it is.
    recorder, controller = server
    for png in (PNG, PNG + b"\x00"):
        send_digest_email(config(controller.port), "Digest", DIGEST, png_attachment=png, env={})
    cids = []
    for index in range(2):
        _plain, related = received(recorder, index).get_payload()
        html, image = related.get_payload()
        cid = image["Content-ID"].strip("<>")
        assert f'src="cid:{cid}"' in html.get_content()
        cids.append(cid)
    assert cids[0] != cids[1]


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
    with serving(recorder, enable_SMTPUTF8=False) as controller:
        cfg = config(controller.port, to=["Zoë <zoë@lab.example.org>", "ben@lab.example.org"])
        with pytest.raises(DeliveryError) as caught:
            send_digest_email(cfg, "Digest", DIGEST, env={})
    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{controller.port} does not accept internationalized "
        "addresses (no SMTPUTF8), and [email] sender or to has one: Zoë "
        "<zoë@lab.example.org>; write those addresses in ASCII"
    )
    assert recorder.envelopes == []


def test_a_non_ascii_address_goes_by_smtputf8_when_the_server_takes_it() -> None:
    recorder = Recorder()
    with serving(recorder, enable_SMTPUTF8=True) as controller:
        cfg = config(controller.port, to=["Zoë <zoë@lab.example.org>", "ben@lab.example.org"])
        send_digest_email(cfg, "Digest", DIGEST, env={})
    (envelope,) = recorder.envelopes
    assert envelope.rcpt_tos == ["zoë@lab.example.org", "ben@lab.example.org"]
    assert "SMTPUTF8" in envelope.mail_options
    assert recorder.message()["To"] == "Zoë <zoë@lab.example.org>, ben@lab.example.org"


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
    sent = send_digest_email(cfg, "Digest", DIGEST, env={})
    assert sent.accepted == ["ana@example.org", "ben@example.org"]
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


def html_part(message: EmailMessage) -> EmailMessage:
    """The text/html part, wherever the message's structure puts it."""
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/html"]
    assert isinstance(part, EmailMessage)
    return part


def html_of(message: EmailMessage) -> str:
    """The text/html part's HTML (with \\n line ends)."""
    return str(html_part(message).get_content()).replace("\r\n", "\n")


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
        < html.index('<h3 id="chart.papers-per-category">Papers per category</h3>\n<p><img')
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
    assert len(html_part(message).get_payload().encode()) <= EMAIL_HTML_LIMIT
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
            assert (
                f'<p class="more">Top {page.shown} of 40 papers here; {left} more in the '
                "attached digest.</p>"
            ) in section
        else:  # the category with 2 papers shows both, with nothing to point to
            assert number == "29" and "more in the attached" not in section
            assert "<p>Top 2 of 8 papers.</p>" in section


def test_a_shortened_email_says_so_under_the_title_and_names_the_attachment() -> None:
    page = email_html(SUBJECT, synthetic_digest(30, 10))
    intro = page.html.index("were ranked;")
    note = page.html.index(
        f'<p class="shortened"><strong>Shortened for email:</strong> each category lists its '
        f"top {page.shown} papers here, so that mail readers such as Gmail show the whole "
        "message instead of clipping its end. The full digest, with each category's top 10, "
        "is attached as research-trends-may-2025.md.</p>"
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
        assert '<p class="more">40 papers; the top 10 are in the attached digest.</p>' in section
        assert "Top 10 of 40" not in section
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


# -- what a shortened email claims, and what it measures ------------------------------------

TRENDS = (
    "## Research trends\n\n### Category momentum\n\n| Category | Papers |\n| --- | ---: |\n"
    "| A | 1 |\n\n### Rising terms\n\n"
    + "".join(f"{i}. **term{i}**: 20 papers\n" for i in range(1, 11))
    + "\n"
)


def listing_digest(categories: dict[str, int], trends_part: str = TRENDS) -> str:
    """A hand-written digest whose categories list every paper they have (no "Top n of
    m papers." line): ``categories`` maps each name to its number of papers."""
    parts = ["# Research Trends: May 2025\n\n**May 2025**: 99 papers were ranked.\n\n"]
    parts.append(trends_part)
    for name, n in categories.items():
        items = "".join(f"{i}. **Paper {name} {i}** with a long enough title\n" for i in range(n))
        parts.append(f"## {name}\n\n{items}\n")
    return "".join(parts)


def digest_with_category_named(name: str) -> str:
    """A digest (real template) whose trends part has no chart heading (as the email's
    Markdown never has) and one of whose categories is called ``name``."""
    top = [
        RankedPaper(
            Paper(id="2505.00001", title="A made-up paper", authors=["A. B."]), name, 0.9, []
        )
    ]
    digest = Digest(
        month=Month(2025, 5),
        considered=10,
        unmatched=9,
        by="submitted",
        arxiv_categories=["cs.LG"],
        sections=[(name, "", 1, top)],
        trends_markdown=(
            "## Research trends\n\n### Category momentum\n\nA table.\n\n### Rising terms\n\nNone.\n"
        ),
    )
    return render_markdown(digest)


def test_overview_link_of_a_category_named_like_the_chart_heading_reaches_the_category() -> None:
    html = email_html(SUBJECT, digest_with_category_named("Papers per category"), "c@x").html
    (target,) = re.findall(r'<td><a href="#([^"]+)">Papers per category</a></td>', html)
    assert f'<h2 id="{target}">Papers per category</h2>' in html


def test_the_html_part_as_sent_stays_under_gmails_limit_for_a_non_ascii_digest() -> None:
    # Titles in another script: each UTF-8 byte is "=XX" in quoted-printable, so 90,000
    # bytes of HTML would be far more on the wire.
    text = synthetic_digest(30, 10).replace("A Made-Up Study", "一项关于合成主题的虚构研究")
    part = html_part(build_email(config(25), SUBJECT, text, PNG))
    wire = part.get_payload().replace("\n", "\r\n").encode()  # as smtplib sends it
    assert len(wire) <= EMAIL_HTML_LIMIT < 102_000


def test_the_size_limit_holds_for_the_html_part_as_transfer_encoded() -> None:
    text = synthetic_digest(3, 4)
    whole = email_html(SUBJECT, text, limit=10**9)
    sent = html_part(build_email(config(25), SUBJECT, text)).get_payload()
    size = len(sent.replace("\n", "\r\n").encode())
    assert size > len(whole.html.encode())  # "=" is "=3D" in quoted-printable
    assert email_html(SUBJECT, text, limit=size).shown is None
    assert email_html(SUBJECT, text, limit=size - 1).shown is not None


def test_a_shortened_category_says_how_many_it_shows_of_how_many() -> None:
    # The digest's "Top 10 of 40 papers." above a list of 4 would read as if 6 were lost.
    page = email_html(SUBJECT, synthetic_digest(30, 10))
    assert page.shown is not None and 1 <= page.shown < 10
    assert "Top 10 of 40 papers." not in page.html
    line = (
        f'<p class="more">Top {page.shown} of 40 papers here; {10 - page.shown} more in the '
        "attached digest.</p>"
    )
    for section in category_sections(page.html).values():
        assert line in section
        assert section.index(line) < section.index("<ol>")


def test_the_shortened_note_names_the_number_of_papers_the_attached_digest_lists() -> None:
    # Each category of the digest lists its top 10 of 40: the attachment has those 10,
    # not "every paper".
    page = email_html(SUBJECT, synthetic_digest(30, 10))
    assert page.shown is not None
    assert "with every paper" not in page.html
    assert "The full digest, with each category's top 10, is attached as" in page.html


def test_the_shortened_note_of_a_digest_listing_every_paper_says_so() -> None:
    page = email_html(SUBJECT, listing_digest({f"Cat {c}": 10 for c in range(40)}), limit=20_000)
    assert page.shown is not None and page.shown < 10
    assert "The full digest, with every paper of each category, is attached as" in page.html


def test_email_chart_follows_the_momentum_table_not_its_heading() -> None:
    html = render_email_html(SUBJECT, listing_digest({"A": 1}), "c@x", limit=10**9)
    assert html.index("</table>") < html.index('class="chart"')


def test_email_chart_goes_under_a_chart_heading_the_template_wrote() -> None:
    text = "# T\n\n## Research trends\n\n### Papers per category\n\nLegend.\n\n## A\n\nx\n"
    html = render_email_html(SUBJECT, text, "c@x", limit=10**9)
    assert html.index("Papers per category</h3>") < html.index('class="chart"')
    assert html.count("Papers per category</h3>") == 1


def test_email_chart_ignores_a_like_named_heading_before_the_trends_part() -> None:
    # A template that lists its categories first, one of them called "Category momentum".
    text = (
        "# T\n\n## Category momentum\n\n1. A paper\n\n## Research trends\n\n"
        "### Category momentum\n\n| A | B |\n| --- | --- |\n| 1 | 2 |\n\n### Rising terms\n\nx\n"
    )
    html = render_email_html(SUBJECT, text, "c@x", limit=10**9)
    assert html.index('id="research-trends"') < html.index("</table>") < html.index('class="chart"')


def test_a_shortened_email_keeps_every_rising_term() -> None:
    page = email_html(SUBJECT, listing_digest({f"Cat {c}": 10 for c in range(40)}), limit=20_000)
    assert page.shown is not None and page.shown < 10
    assert all(f"term{i}" in page.html for i in range(1, 11))


def test_a_category_listing_exactly_the_shown_papers_gets_no_zero_more_note() -> None:
    text = listing_digest({**{f"Cat {c}": 10 for c in range(30)}, "Short": 2})
    limit = html_size_as_sent(deliver._email_page(SUBJECT, text, None, 2)[0])
    page = email_html(SUBJECT, text, limit=limit)
    assert page.shown == 2
    assert " 0 more in the attached" not in page.html


def test_counts_only_that_fit_give_no_clipping_warning(caplog: pytest.LogCaptureFixture) -> None:
    text = listing_digest({f"Cat {c}": 3 for c in range(30)})
    limit = html_size_as_sent(deliver._email_page(SUBJECT, text, None, 0)[0])
    with caplog.at_level(logging.WARNING, logger="trenddigest.deliver"):
        page = email_html(SUBJECT, text, limit=limit)
    assert page.shown == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_email_listing_no_papers_still_attaches_the_full_digest() -> None:
    # 500 categories: even one paper each would pass 90 KB, so the HTML gives counts only.
    text = listing_digest({f"Category {c}": 3 for c in range(500)})
    assert email_html(SUBJECT, text).shown == 0
    message = build_email(config(25), SUBJECT, text)
    names = [p.get_filename() for p in message.walk() if p.get_filename()]
    assert names == ["research-trends-may-2025.md"]


def test_a_category_of_one_paper_says_paper_in_the_singular() -> None:
    page = email_html(SUBJECT, listing_digest({"A": 10, "B": 1}), limit=1_000)
    assert page.shown == 0
    assert '<p class="more">1 paper in the attached digest.</p>' in page.html


def with_emerging_topics(topics: int, keywords: int = 6) -> str:
    """A trends part whose emerging topics each give their entry for the categories file,
    as the email's Markdown writes them (no <details>, which mail readers show as text)."""
    parts = [TRENDS, "### Emerging topics\n\nGroups among the papers that matched none.\n\n"]
    for t in range(topics):
        terms = "".join(
            f'    {{ term = "made-up term {t} {k}", weight = 1.5 }},\n' for k in range(keywords)
        )
        parts.append(
            f"**{t + 1}. Made-Up Topic {t}**: 12 papers.\n\n"
            f"- [A made-up paper {t}](https://arxiv.org/abs/2505.{90000 + t})\n\n"
            "Add it to the categories file:\n\n"
            f'```toml\n[[category]]\nname = "Made-Up Topic {t}"\nkeywords = [\n{terms}]\n```\n\n'
        )
    return "".join(parts)


POINTER = '<p class="more">Its entry for the categories file is in the attached digest.</p>'


def test_a_digest_that_fits_keeps_its_emerging_topics_toml() -> None:
    page = email_html(SUBJECT, listing_digest({"A": 3}, with_emerging_topics(2)), limit=10**9)
    assert page.html.count('<pre><code class="language-toml">') == 2
    assert not page.shortened and POINTER not in page.html


def test_a_digest_too_long_leaves_out_its_emerging_topics_toml_before_any_paper() -> None:
    text = listing_digest({f"Cat {c}": 3 for c in range(3)}, with_emerging_topics(4))
    whole = email_html(SUBJECT, text, limit=10**9).html
    limit = html_size_as_sent(whole) - 1
    page = email_html(SUBJECT, text, limit=limit)
    assert page.shown is None and page.toml_left_out
    assert "language-toml" not in page.html and "Add it to the categories file" not in page.html
    assert page.html.count(POINTER) == 4
    assert all(f"Paper Cat {c} {i}" in page.html for c in range(3) for i in range(3))
    assert (
        '<p class="shortened"><strong>Shortened for email:</strong> the emerging topics\' '
        "entries for the categories file are left out, so that mail readers such as Gmail "
        "show the whole message instead of clipping its end. The full digest is attached as "
        "research-trends-may-2025.md.</p>"
    ) in page.html


def test_an_email_that_leaves_out_only_its_toml_attaches_the_full_digest() -> None:
    # 30 topics of 60 keywords: some 120 KB of TOML, which alone puts the HTML over 90 KB.
    text = listing_digest({"A": 3}, with_emerging_topics(30, keywords=60))
    message = build_email(config(25), SUBJECT, text, PNG)
    assert "language-toml" not in html_of(message)
    assert len(html_part(message).get_payload().encode()) <= EMAIL_HTML_LIMIT
    names = [p.get_filename() for p in message.walk() if p.get_filename()]
    assert names == ["trends.png", "research-trends-may-2025.md"]


def test_a_shortened_email_lists_more_papers_for_leaving_out_the_toml() -> None:
    categories = {f"Cat {c}": 10 for c in range(30)}
    text = listing_digest(categories, with_emerging_topics(8, keywords=20))
    page = email_html(SUBJECT, text, limit=20_000)
    assert page.shown is not None and 1 <= page.shown < 10
    assert page.toml_left_out and "language-toml" not in page.html
    with_toml = deliver._email_page(SUBJECT, text, None, page.shown)[0]
    assert html_size_as_sent(with_toml) > 20_000  # the TOML made room for these papers
    assert (
        f"each category lists its top {page.shown} papers here and the emerging topics' "
        "entries for the categories file are left out, so that"
    ) in page.html


def test_an_html_part_mostly_in_another_script_goes_base64_the_shorter_encoding() -> None:
    # Quoted-printable writes each of its UTF-8 bytes as "=XX": nine bytes a character.
    text = "# 研究趋势\n\n" + "".join(
        f"## 类别{c}\n\n{'合成的中文段落。' * 200}\n\n" for c in range(3)
    )
    part = html_part(build_email(config(25), SUBJECT, text))
    assert part["Content-Transfer-Encoding"] == "base64"
    html = str(part.get_content())
    assert len(part.get_payload().replace("\n", "\r\n")) == html_size_as_sent(html)
    assert html_size_as_sent(html) < 1.4 * len(html.encode())


def test_a_category_named_like_a_count_line_keeps_its_heading_when_shortened() -> None:
    text = listing_digest({"Top 1 of 2 papers.": 10, "B": 10})
    page = email_html(SUBJECT, text, limit=html_size_as_sent(render_email_html(SUBJECT, text)) - 1)
    assert page.shown is not None
    assert ">Top 1 of 2 papers.</h2>" in page.html


# -- what a mail client or a reader meets (second review of the email layout) ---------

FROM_TITLE = "From Pixels to Words"


def digest_whose_title_starts_a_quoted_printable_line() -> str:
    """A digest whose HTML part, quoted-printable, has a soft line break right before
    a title beginning "From " (about one title in fifty does, on real arXiv data)."""
    for pad in range(200):
        text = f"# Research Trends: May 2025\n\n## A\n\n1. **{'x' * pad} {FROM_TITLE}**\n"
        payload = str(html_part(build_email(config(25), SUBJECT, text)).get_payload())
        if re.search(r"^From ", payload, re.MULTILINE):
            return text
    raise AssertionError("no padding puts the title at the start of a line")


def test_a_title_at_a_quoted_printable_soft_break_reaches_the_reader_unmangled(
    server: tuple[Recorder, Controller],
) -> None:
    # smtplib's send_message flattens with a generator that turns "From " at the start
    # of any body line into ">From ": in quoted-printable that ">" is part of the text.
    recorder, controller = server
    text = digest_whose_title_starts_a_quoted_printable_line()
    send_digest_email(config(controller.port), SUBJECT, text, png_attachment=PNG, env={})
    html = html_of(received(recorder))
    assert FROM_TITLE in html
    assert ">From" not in html


def test_a_count_only_category_of_a_one_paper_digest_says_is_in_the_singular() -> None:
    # papers_per_category = 1: the digest says "Top 1 of 4 papers."; too long even for
    # one paper each, the email gives counts.
    page = email_html(SUBJECT, synthetic_digest(30, 1), limit=5_000)
    assert page.shown == 0
    assert "4 papers; the top paper is in the attached digest." in page.html


def _made_up_sections(totals: list[int], listed: int) -> list:
    return [
        (
            f"Topic {c}",
            "",
            total,
            [
                RankedPaper(
                    Paper(id=f"2505.{c * 100 + i:05d}", title=f"A made-up paper {c} {i} " * 3),
                    f"Topic {c}",
                    0.9,
                    [],
                )
                for i in range(min(total, listed))
            ],
        )
        for c, total in enumerate(totals)
    ]


def digest_of(totals: list[int], listed: int, templates: Path | None = None) -> str:
    """A digest (the packaged template, or ``templates``) with one category per entry
    of ``totals``, each listing its top ``listed`` papers (all, when it has fewer)."""
    digest = Digest(
        month=Month(2025, 5),
        considered=sum(totals),
        unmatched=0,
        by="submitted",
        arxiv_categories=["cs.LG"],
        sections=_made_up_sections(totals, listed),
    )
    return render_markdown(digest, templates)


def test_a_count_line_a_custom_template_emphasises_is_rewritten_too(tmp_path: Path) -> None:
    shipped = files("trenddigest.templates").joinpath("digest.md.j2").read_text(encoding="utf-8")
    line = "Top {{ top|length }} of {{ total|thousands }} papers."
    assert line in shipped
    (tmp_path / "digest.md.j2").write_text(shipped.replace(line, f"_{line}_"), encoding="utf-8")
    page = email_html(SUBJECT, digest_of([40] * 30, 10, tmp_path), limit=30_000)
    assert page.shown is not None and 1 <= page.shown < 10
    assert "Top 10 of 40 papers." not in page.html
    assert f"Top {page.shown} of 40 papers here; {10 - page.shown} more" in page.html


def test_a_shortened_category_of_thousands_of_papers_gives_its_count_with_a_comma() -> None:
    page = email_html(SUBJECT, digest_of([1234] * 30, 10), limit=30_000)
    assert page.shown is not None and 1 <= page.shown < 10
    assert "Top 10 of 1,234 papers." not in page.html
    assert f"Top {page.shown} of 1,234 papers here; {10 - page.shown} more" in page.html


def test_a_count_only_category_of_thousands_of_papers_gives_its_count_with_a_comma() -> None:
    page = email_html(SUBJECT, digest_of([1234] * 30, 10), limit=5_000)
    assert page.shown == 0
    assert '<p class="more">1,234 papers; the top 10 are in the attached digest.</p>' in page.html


def test_the_note_names_the_digests_top_n_though_its_last_category_lists_every_paper() -> None:
    page = email_html(SUBJECT, digest_of([40] * 29 + [3], 10), limit=30_000)
    assert page.shown is not None and 1 <= page.shown < 10
    assert "The full digest, with each category's top 10, is attached as" in page.html


# -- RFC 2045 on the wire: quoted-printable lines, the chart's Content-ID --------------

# A sender whose domain would make a Content-ID taken from it too long for one line.
LONG_DOMAIN_SENDER = "digest@mail.machine-learning-lab.example.edu"


def quoted_printable_parts(raw: bytes) -> dict[str, str]:
    """Each quoted-printable part of a message as received, by content type: its body
    exactly as it crossed the wire (CRLF line ends and all)."""
    message = email.message_from_bytes(raw, policy=default_policy)
    return {
        part.get_content_type(): str(part.get_payload())
        for part in message.walk()
        if part["Content-Transfer-Encoding"] == "quoted-printable"
    }


def test_every_quoted_printable_line_sent_is_at_most_76_characters(
    server: tuple[Recorder, Controller],
) -> None:
    # RFC 2045 section 6.7: encoded lines are at most 76 characters (the email package's
    # default is 78).  Long Markdown lines, titles with umlauts and CJK, and a digest too
    # long for Gmail, so that the attached full digest goes quoted-printable too.
    recorder, controller = server
    text = synthetic_digest(30, 10).replace(
        "with a Long Title", "with a Long Title: Überblick über Lösungsansätze für 数据集"
    )
    send_digest_email(config(controller.port), SUBJECT, text, png_attachment=PNG, env={})
    raw = recorder.envelopes[0].original_content
    parts = quoted_printable_parts(raw)
    assert sorted(parts) == ["text/html", "text/markdown", "text/plain"]
    for body in parts.values():
        assert body.endswith("\r\n")
        lines = body[: -len("\r\n")].split("\r\n")
        assert "\n" not in "".join(lines)  # every line ends in CRLF
        assert max(len(line) for line in lines) <= 76
    assert "Lösungsansätze für 数据集" in html_of(received(recorder))


def test_the_charts_content_id_is_one_header_line_that_the_html_links_to(
    server: tuple[Recorder, Controller],
) -> None:
    # A folded Content-ID arrives as encoded words that no longer match "cid:".
    recorder, controller = server
    cfg = config(controller.port, sender=LONG_DOMAIN_SENDER)
    send_digest_email(cfg, "Digest", DIGEST, png_attachment=PNG, env={})
    raw = recorder.envelopes[0].original_content
    (cid,) = re.findall(rb"^Content-ID: <([^<>\s]+)>\r\n(?![ \t])", raw, re.MULTILINE)
    assert f'src="cid:{cid.decode()}"' in html_of(received(recorder))


def test_the_same_digest_sent_twice_has_the_same_content_id_and_html_part(
    server: tuple[Recorder, Controller],
) -> None:
    recorder, controller = server
    for _ in range(2):
        send_digest_email(config(controller.port), SUBJECT, DIGEST, png_attachment=PNG, env={})
    first, second = (received(recorder, index) for index in range(2))
    assert first["Message-ID"] != second["Message-ID"]  # the message is still its own
    cids = [[p["Content-ID"] for p in m.walk() if p["Content-ID"]] for m in (first, second)]
    assert cids[0] == cids[1] and len(cids[0]) == 1
    html = [html_part(m).get_payload() for m in (first, second)]
    assert html[0] == html[1]


def digest_at_the_size_limit() -> str:
    """A digest whose whole HTML with the chart, as sent, is 3 bytes or less under the
    limit: a paragraph of padding after the intro, as long as fits."""
    base = synthetic_digest(23, 10)
    intro_end = base.index("\n\n## Overview")
    (cid,) = re.findall(r'src="cid:([^"]+)"', html_of(build_email(config(25), SUBJECT, base, PNG)))

    def padded(pad: int) -> str:
        return f"{base[:intro_end]}\n\n{'x' * pad}{base[intro_end:]}"

    def size(pad: int) -> int:
        return html_size_as_sent(render_email_html(SUBJECT, padded(pad), cid, limit=10**9))

    low, high = 1, EMAIL_HTML_LIMIT  # size(low) fits, size(high) does not
    assert size(low) <= EMAIL_HTML_LIMIT < size(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if size(middle) <= EMAIL_HTML_LIMIT else (low, middle)
    assert EMAIL_HTML_LIMIT - 3 <= size(low) <= EMAIL_HTML_LIMIT
    return padded(low)


def test_a_digest_right_at_the_size_limit_is_emailed_whole_by_any_sender_every_time(
    server: tuple[Recorder, Controller],
) -> None:
    # The chart's Content-ID is in the HTML: were its length to vary with the sender's
    # domain or a random part, a month at the limit would lose papers one time in some.
    recorder, controller = server
    text = digest_at_the_size_limit()
    senders = ["digest@example.org", LONG_DOMAIN_SENDER, "digest@example.org"]
    for sender in senders:
        cfg = config(controller.port, sender=sender)
        send_digest_email(cfg, SUBJECT, text, png_attachment=PNG, env={})
    messages = [received(recorder, index) for index in range(len(senders))]
    for message in messages:
        assert [p.get_content_type() for p in message.iter_attachments()] == []
        assert "attached" not in html_of(message)
    assert len({str(html_part(m).get_payload()) for m in messages}) == 1


def test_a_short_non_ascii_digest_is_sent_7bit_clean_to_an_ascii_address(
    server: tuple[Recorder, Controller],
) -> None:
    # RFC 6152: an 8bit body needs BODY=8BITMIME, which is only asked for when an
    # address is not ASCII; a digest with short lines must not go out as 8bit either.
    recorder, controller = server
    text = "# Trends\n\nÜberblick · 数据\n"
    send_digest_email(config(controller.port), SUBJECT, text, png_attachment=PNG, env={})
    raw = recorder.envelopes[0].original_content
    assert raw.isascii()
    message = received(recorder)
    encodings = {p["Content-Transfer-Encoding"] for p in message.walk() if not p.is_multipart()}
    assert "8bit" not in encodings
    assert "Überblick · 数据" in message.get_body(preferencelist=("plain",)).get_content()
