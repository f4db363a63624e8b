"""QA of the emailed digest as a lab's mail server sees it: real SMTP servers on
127.0.0.1 (aiosmtpd), the message checked as the bytes that crossed the wire."""

from __future__ import annotations

import email
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
from trenddigest.deliver import send_digest_email
from trenddigest.errors import DeliveryError
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
