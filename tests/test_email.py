"""Emailing the digest, checked against real SMTP servers (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import email
import logging
import os
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from synthetic import make_papers, refusing_repository, write_jsonl
from trenddigest import deliver
from trenddigest.cli import main
from trenddigest.config import EmailConfig, load_config
from trenddigest.deliver import email_subject, render_email_html, send_digest_email
from trenddigest.errors import ConfigError, DeliveryError, EmailUnconfirmedError
from trenddigest.models import Month
from trenddigest.pipeline import RunOptions, RunResult, run_month
from trenddigest.store import Store

DIGEST = """# Research trends, May 2025

| Category | Papers |
|---|---|
| Detection | 12 |

- [Anchor-Free Detection <with> Queries](https://arxiv.org/abs/2505.00001)

```
code block
```
"""
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # content is not inspected, only carried


class Recorder:
    """aiosmtpd handler that keeps every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        if session.authenticated:
            self.logins.append(session.auth_data.login.decode())
        return "250 Message accepted"

    def message(self) -> EmailMessage:
        assert len(self.envelopes) == 1
        return email.message_from_bytes(self.envelopes[0].content, policy=default_policy)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(handler: Any, **options: Any) -> Iterator[Controller]:
    """A local SMTP server answering with ``handler`` (aiosmtpd ``options``), stopped
    afterwards."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def accept_only(login: str, password: str):
    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (login, password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return authenticator


pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, int, dict[str, Any]]]:
    """Start a server with the keyword arguments a test puts into the returned dict."""
    recorder = Recorder()
    port = free_port()
    options: dict[str, Any] = {}
    controllers: list[Controller] = []

    def start(**kwargs: Any) -> None:
        controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)

    options["start"] = start
    yield recorder, port, options
    for controller in controllers:
        controller.stop()


def config(port: int, **changes: Any) -> EmailConfig:
    settings: dict[str, Any] = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "digest@example.org",
        "to": ["ana@example.org", "ben@example.org"],
        "timeout_seconds": 5.0,
    }
    settings.update(changes)
    return EmailConfig(**settings)


def test_digest_arrives_as_plain_markdown_and_html_to_every_recipient(smtp_server) -> None:
    recorder, port, server = smtp_server
    server["start"]()
    send_digest_email(config(port), "Research trends, May, 2025", DIGEST, env={})
    envelope = recorder.envelopes[0]
    assert envelope.mail_from == "digest@example.org"
    assert envelope.rcpt_tos == ["ana@example.org", "ben@example.org"]
    msg = recorder.message()
    assert msg["Subject"] == "Research trends, May, 2025"
    assert msg["To"] == "ana@example.org, ben@example.org"
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.get_payload()
    assert (
        plain.get_content_type() == "text/plain"
        and plain.get_content().replace("\r\n", "\n") == DIGEST
    )
    assert html.get_content_type() == "text/html"
    body = html.get_content()
    assert "<table>" in body and "<td>Detection</td>" in body
    assert '<a href="https://arxiv.org/abs/2505.00001">' in body
    assert "<pre><code>code block" in body
    assert "&lt;with&gt;" in body and "<with>" not in body  # raw HTML in titles stays text
    assert recorder.logins == []


def test_chart_is_inline_in_the_html_part_by_content_id(smtp_server) -> None:
    recorder, port, server = smtp_server
    server["start"]()
    send_digest_email(config(port), "Digest", DIGEST, png_attachment=PNG, env={})
    plain, related = recorder.message().get_payload()
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert image.get_content_type() == "image/png" and image.get_content() == PNG
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html.get_content()


def test_subject_is_escaped_in_the_html(smtp_server) -> None:
    recorder, port, server = smtp_server
    server["start"]()
    send_digest_email(config(port), "Trends <b>&</b>", DIGEST, env={})
    html = recorder.message().get_payload()[1].get_content()
    assert "<title>Trends &lt;b&gt;&amp;&lt;/b&gt;</title>" in html


def test_login_uses_the_password_from_the_named_environment_variable(smtp_server) -> None:
    recorder, port, server = smtp_server
    server["start"](
        authenticator=accept_only("bot", "s3cret"), auth_require_tls=False, auth_required=True
    )
    cfg = config(port, username="bot", password_env="DIGEST_SMTP_PW")
    send_digest_email(cfg, "Digest", DIGEST, env={"DIGEST_SMTP_PW": "s3cret"})
    assert recorder.logins == ["bot"]


def test_refused_login_is_one_clear_delivery_error(smtp_server) -> None:
    recorder, port, server = smtp_server
    server["start"](
        authenticator=accept_only("bot", "s3cret"), auth_require_tls=False, auth_required=True
    )
    cfg = config(port, username="bot")
    with pytest.raises(DeliveryError) as caught:
        send_digest_email(cfg, "Digest", DIGEST, env={"TRENDDIGEST_SMTP_PASSWORD": "wrong"})
    message = str(caught.value)
    assert message.startswith(f"SMTP server 127.0.0.1:{port} refused the login for bot: 535")
    assert "\n" not in message
    assert recorder.envelopes == []


class RefuseSome(Recorder):
    """Refuses every recipient whose address starts with "gone"."""

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("gone"):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_refused_recipient_is_named_with_the_servers_reason_and_the_rest_get_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = RefuseSome()
    with serving(recorder) as controller:
        cfg = config(controller.port, to=["Ana <ana@example.org>", "Gone <gone@example.org>"])
        with caplog.at_level(logging.WARNING, logger="trenddigest.deliver"):
            sent = send_digest_email(cfg, "Digest", DIGEST, env={})
    assert recorder.envelopes[0].rcpt_tos == ["ana@example.org"]
    assert (sent.accepted, sent.deferred) == (["Ana <ana@example.org>"], [])
    assert [r.getMessage() for r in caplog.records if r.name == "trenddigest.deliver"] == [
        f"SMTP server 127.0.0.1:{controller.port} refused gone@example.org (550 5.1.1 "
        "<gone@example.org>: mailbox unavailable), who did not get the digest; "
        "check [email] to"
    ]


class RefusesQuit(Recorder):
    """Takes the message, then answers the client's QUIT with 421 (shutting down)."""

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "421 4.3.2 service shutting down"


def test_a_failed_quit_after_the_server_took_the_digest_is_only_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = RefusesQuit()
    with (
        serving(recorder) as controller,
        caplog.at_level(logging.WARNING, logger="trenddigest.deliver"),
    ):
        sent = send_digest_email(config(controller.port), "Digest", DIGEST, env={})
    assert sent.accepted == ["ana@example.org", "ben@example.org"]
    assert len(recorder.envelopes) == 1
    assert [r.getMessage() for r in caplog.records if r.name == "trenddigest.deliver"] == [
        f"SMTP server 127.0.0.1:{controller.port} took the digest but answered QUIT with "
        "421 4.3.2 service shutting down; the digest was sent"
    ]


def test_a_digest_taken_by_a_server_that_fails_quit_is_not_sent_again_by_the_scheduler(
    workdir: Path,
) -> None:
    recorder = RefusesQuit()
    with serving(recorder) as controller:
        email_config_file(workdir, controller.port)
        refusing_repository(workdir)  # the commit fails every time, so the job is retried
        for _attempt in range(2):
            with pytest.raises(DeliveryError) as caught:
                scheduled_run(workdir)
    assert len(recorder.envelopes) == 1
    assert str(caught.value) == f"git commit failed in {workdir.resolve()}: commits are frozen"


class DropsMidData(socketserver.StreamRequestHandler):
    """Speaks SMTP up to DATA, reads a few lines of the message, then hangs up."""

    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        for line in self.rfile:
            if line.upper().startswith(b"DATA"):
                self.wfile.write(b"354 go ahead\r\n")
                for _ in range(5):
                    self.rfile.readline()
                return
            self.wfile.write(b"250 ok\r\n")


def test_a_server_that_hangs_up_mid_message_is_one_line() -> None:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), DropsMidData) as server:
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        port = server.server_address[1]
        try:
            with pytest.raises(DeliveryError) as caught:
                send_digest_email(config(port), "Digest", DIGEST * 50, env={})
        finally:
            server.shutdown()
    # smtplib notices at its next write or read, whichever the timing makes first.
    message = str(caught.value)
    assert message.startswith(f"sending the digest email via 127.0.0.1:{port} failed: ")
    assert "\n" not in message


def test_username_without_password_in_the_environment_fails_before_connecting() -> None:
    cfg = config(free_port(), username="bot")
    with pytest.raises(DeliveryError, match="environment variable TRENDDIGEST_SMTP_PASSWORD"):
        send_digest_email(cfg, "Digest", DIGEST, env={})


def test_unreachable_server_is_a_delivery_error() -> None:
    port = free_port()  # nothing listens there any more
    with pytest.raises(DeliveryError, match=rf"^cannot reach SMTP server 127\.0\.0\.1:{port}: "):
        send_digest_email(config(port), "Digest", DIGEST, env={})


@pytest.mark.parametrize(
    ("change", "key"), [({"host": ""}, "host"), ({"sender": ""}, "sender"), ({"to": []}, "to")]
)
def test_incomplete_email_settings_are_a_config_error(change: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^\[email\] {key} is empty"):
        send_digest_email(config(25, **change), "Digest", DIGEST, env={})


def test_subject_names_the_month() -> None:
    assert email_subject(Month(2025, 5)) == "Research trends, May, 2025"


# -- TLS ------------------------------------------------------------------------------------


class FakeSMTP:
    """Records how send_digest_email drives smtplib, for the TLS modes."""

    calls: list[tuple[str, Any]] = []

    def __init__(self, host: str, port: int, **kwargs: Any) -> None:
        self.calls.append((type(self).__name__, kwargs.get("context")))

    def starttls(self, context: ssl.SSLContext) -> None:
        self.calls.append(("starttls", context))

    def login(self, user: str, password: str) -> None:
        self.calls.append(("login", user))

    def ehlo_or_helo_if_needed(self) -> None:
        pass

    def has_extn(self, name: str) -> bool:
        return False

    def sendmail(self, sender: str, recipients: list[str], data: bytes, options: Any) -> dict:
        self.calls.append(("send", None))
        return {}

    def docmd(self, command: str) -> tuple[int, bytes]:
        return 221, b"Bye"

    def close(self) -> None:
        pass


class FakeSMTP_SSL(FakeSMTP):  # noqa: N801 - mirrors smtplib's name
    pass


@pytest.mark.parametrize(
    ("security", "expected"),
    [
        ("starttls", ["FakeSMTP", "starttls", "send"]),
        ("ssl", ["FakeSMTP_SSL", "send"]),
        ("none", ["FakeSMTP", "send"]),
    ],
)
def test_security_setting_picks_the_smtplib_class_and_starttls(
    monkeypatch: pytest.MonkeyPatch, security: str, expected: list[str]
) -> None:
    FakeSMTP.calls = []
    monkeypatch.setattr(deliver, "_Session", FakeSMTP)  # smtplib.SMTP, with a deadline
    monkeypatch.setattr(deliver, "_SessionSSL", FakeSMTP_SSL)
    send_digest_email(config(587, security=security), "Digest", DIGEST, env={})
    assert [name for name, _ in FakeSMTP.calls] == expected
    contexts = [ctx for name, ctx in FakeSMTP.calls if name in ("starttls", "FakeSMTP_SSL")]
    assert all(ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname for ctx in contexts)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not available to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_starttls_upgrades_before_login_against_a_real_server(
    smtp_server, self_signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, port, server = smtp_server
    cert, key = self_signed
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate
    server["start"](
        tls_context=server_context(cert, key),
        require_starttls=True,
        authenticator=accept_only("bot", "pw"),
        auth_required=True,
    )
    cfg = config(port, security="starttls", username="bot")
    send_digest_email(cfg, "Digest", DIGEST, env={"TRENDDIGEST_SMTP_PASSWORD": "pw"})
    assert recorder.logins == ["bot"]


def test_implicit_tls_against_a_real_server(
    smtp_server, self_signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, port, server = smtp_server
    cert, key = self_signed
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server["start"](ssl_context=server_context(cert, key))
    send_digest_email(config(port, security="ssl"), "Digest", DIGEST, env={})
    assert len(recorder.envelopes) == 1


def test_untrusted_certificate_is_refused(smtp_server, self_signed) -> None:
    recorder, port, server = smtp_server
    cert, key = self_signed
    server["start"](ssl_context=server_context(cert, key))
    with pytest.raises(DeliveryError, match=r"^TLS with SMTP server .* failed: .*certificate"):
        send_digest_email(config(port, security="ssl"), "Digest", DIGEST, env={})
    assert recorder.envelopes == []


def test_ssl_against_a_plain_server_names_the_settings_to_check(smtp_server) -> None:
    recorder, port, server = smtp_server
    server["start"]()  # no TLS at all: the port of a plain or STARTTLS server
    with pytest.raises(DeliveryError) as caught:
        send_digest_email(config(port, security="ssl"), "Digest", DIGEST, env={})
    message = str(caught.value)
    assert message.startswith(f"TLS with SMTP server 127.0.0.1:{port} failed: ")
    assert message.endswith(
        "; check [email] security and port: ssl speaks TLS from the start (usually port "
        "465), starttls upgrades a plain connection (usually port 587)"
    )
    assert recorder.envelopes == []


# -- the same through the command line ----------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder with two months of synthetic papers (so May's digest has a trend chart)."""
    monkeypatch.chdir(tmp_path)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    papers = make_papers("2025-04") + make_papers("2025-05")
    write_jsonl(tmp_path / "papers.jsonl.gz", papers, gz=True)
    return tmp_path


def email_config_file(workdir: Path, port: int, extra: str = "") -> None:
    (workdir / "config").mkdir()
    (workdir / "config" / "trenddigest.toml").write_text(
        f'[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f'sender = "digest@example.org"\nto = ["ana@example.org"]\n{extra}'
    )


def config_and_server(workdir: Path, smtp_server: Any, extra: str = "") -> Recorder:
    """The SMTP server started and a config file in ``workdir`` that mails to it."""
    recorder, port, server = smtp_server
    server["start"]()
    email_config_file(workdir, port, extra)
    return recorder


RUN_EMAIL = ["run", "--month", "2025-05", "--from", "papers.jsonl.gz", "--email", "-q"]


def test_run_with_email_sends_the_written_digest(
    workdir: Path, smtp_server, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = config_and_server(workdir, smtp_server)
    assert main(RUN_EMAIL) == 0, capsys.readouterr().err
    msg = recorder.message()
    assert msg["Subject"] == "Research trends, May, 2025"
    plain, related = msg.get_payload()
    written = (workdir / "digests" / "2025" / "2025-05.md").read_text()
    text = plain.get_content().replace("\r\n", "\n")
    assert text.splitlines()[0] == written.splitlines()[0] == "# Research Trends: May, 2025"
    assert "```mermaid" in written and "```mermaid" not in text  # the chart is a PNG here
    html, image = related.get_payload()
    assert image.get_content_type() == "image/png"
    assert '<h1 id="research-trends-may-2025">Research Trends: May, 2025</h1>' in html.get_content()


def test_run_with_email_to_an_unreachable_server_is_one_line_and_keeps_the_digest(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    email_config_file(workdir, port)
    code = main(RUN_EMAIL)
    _, err = capsys.readouterr()
    assert code == 5
    assert err == (
        f"trenddigest: error: cannot reach SMTP server 127.0.0.1:{port}: Connection refused\n"
    )
    assert (workdir / "digests" / "2025" / "2025-05.md").is_file()


def test_run_with_email_and_a_refused_login_is_one_line_and_keeps_the_digest(
    workdir: Path, smtp_server, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    recorder, port, server = smtp_server
    # The test server runs in this process; its own warnings are not the CLI's output.
    monkeypatch.setattr(logging.getLogger("mail.log"), "disabled", True)
    server["start"](
        authenticator=accept_only("bot", "s3cret"), auth_require_tls=False, auth_required=True
    )
    email_config_file(workdir, port, 'username = "bot"\n')
    monkeypatch.setenv("TRENDDIGEST_SMTP_PASSWORD", "wrong")
    code = main(RUN_EMAIL)
    _, err = capsys.readouterr()
    assert code == 5
    assert err.startswith(
        f"trenddigest: error: SMTP server 127.0.0.1:{port} refused the login for bot: 535"
    )
    assert err.count("\n") == 1
    assert (workdir / "digests" / "2025" / "2025-05.md").is_file()
    assert recorder.envelopes == []


# -- delivery by the pipeline: each channel once, every failure named -----------------------


def scheduled_run(workdir: Path, *, email_once: bool = True) -> RunResult:
    """What the scheduler's digest job does: fetch (here: import), write, commit, email."""
    config = load_config(env={})
    opts = RunOptions(
        month=Month.parse("2025-05"),
        from_files=[workdir / "papers.jsonl.gz"],
        commit=True,
        email=True,
        email_once=email_once,
    )
    with Store.open(workdir / "store.sqlite3") as store:
        return run_month(store, config, opts)


def test_a_retried_month_whose_commit_failed_is_not_emailed_again(
    workdir: Path, smtp_server
) -> None:
    recorder = config_and_server(workdir, smtp_server)
    refusing_repository(workdir)  # the commit fails every time, the email succeeds
    for _attempt in range(3):  # the scheduler's retries, one a night
        with pytest.raises(DeliveryError, match="commits are frozen"):
            scheduled_run(workdir)
    assert len(recorder.envelopes) == 1


def test_a_retry_that_skips_the_email_says_when_it_was_sent(workdir: Path, smtp_server) -> None:
    recorder = config_and_server(workdir, smtp_server, "[git]\nreadme = 'README.md'\n")
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    for key, value in (("user.name", "T"), ("user.email", "t@example.org")):
        subprocess.run(["git", "-C", str(workdir), "config", key, value], check=True)
    first = scheduled_run(workdir)
    second = scheduled_run(workdir)
    assert first.notes[-1] == "emailed to ana@example.org"
    assert second.notes[-2].startswith("nothing new to commit on ")
    assert second.notes[-1].startswith("already emailed (")
    assert second.notes[-1].endswith(" to ana@example.org); not sent again")
    assert len(recorder.envelopes) == 1


def test_no_email_sends_nothing_though_the_config_enables_email(
    workdir: Path, smtp_server, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = config_and_server(workdir, smtp_server, "enabled = true\n")
    argv = [a for a in RUN_EMAIL if a != "--email"]
    assert main([*argv, "--no-email"]) == 0, capsys.readouterr().err
    assert recorder.envelopes == []
    assert main(argv) == 0, capsys.readouterr().err  # and the config alone does send
    assert len(recorder.envelopes) == 1


def test_email_turned_on_in_the_config_mails_a_month_once_however_often_it_is_run(
    workdir: Path, smtp_server, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = config_and_server(workdir, smtp_server, "enabled = true\n")
    argv = [a for a in RUN_EMAIL if a not in ("--email", "-q")]
    assert main(argv) == 0
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert len(recorder.envelopes) == 1
    assert "already emailed (" in out.splitlines()[-1]


def test_a_month_emailed_again_names_when_it_was_first_sent(
    workdir: Path, smtp_server, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = config_and_server(workdir, smtp_server)
    argv = [a for a in RUN_EMAIL if a != "-q"]
    assert main(argv) == 0
    first = "2025-06-02T10:00:00+00:00 to ana@example.org"  # say, sent a month ago
    with Store.open(workdir / "data" / "trenddigest.sqlite3") as store:
        store.set_meta("emailed:2025-05", first)
    assert main(argv) == 0
    assert main(argv) == 0
    last_line = capsys.readouterr().out.splitlines()[-1]
    assert len(recorder.envelopes) == 3
    assert last_line == f"emailed to ana@example.org again (first sent {first})"


def test_a_run_by_hand_emails_the_month_again(workdir: Path, smtp_server) -> None:
    recorder = config_and_server(workdir, smtp_server)
    refusing_repository(workdir)
    for _attempt in range(2):
        with pytest.raises(DeliveryError, match="commits are frozen"):
            scheduled_run(workdir, email_once=False)
    assert len(recorder.envelopes) == 2


def test_when_commit_and_email_both_fail_both_reasons_are_given(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    email_config_file(workdir, port)
    refusing_repository(workdir)
    code = main([*RUN_EMAIL, "--commit"])
    _, err = capsys.readouterr()
    assert code == 5
    assert err == (
        f"trenddigest: error: git commit failed in {workdir.resolve()}: commits are frozen; "
        f"and cannot reach SMTP server 127.0.0.1:{port}: Connection refused\n"
    )


def test_a_run_with_email_and_no_smtp_password_replaces_no_digest(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    email_config_file(workdir, free_port(), 'username = "bot"\npassword_env = "SMTP_PASSWORD"\n')
    earlier = workdir / "digests" / "2025" / "2025-05.md"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("EARLIER DIGEST\n")
    code = main(RUN_EMAIL)
    _, err = capsys.readouterr()
    assert code == 5
    assert err == (
        "trenddigest: error: [email] username is set but the environment variable "
        "SMTP_PASSWORD is empty; export the SMTP password there\n"
    )
    assert earlier.read_text() == "EARLIER DIGEST\n"


def test_the_run_names_only_the_recipients_the_server_accepted(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(RefuseSome()) as controller:
        email_config_file(
            workdir, controller.port, 'to = ["ana@example.org", "gone@example.org"]\n'
        )
        config_file = workdir / "config" / "trenddigest.toml"
        text = config_file.read_text().replace('to = ["ana@example.org"]\n', "", 1)
        config_file.write_text(text)
        code = main([a for a in RUN_EMAIL if a != "-q"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "emailed to ana@example.org" in out and "gone@example.org" not in out


def test_email_html_shows_escaped_title_characters_without_backslashes() -> None:
    html = render_email_html("S", "M\\$^3\\$-VQA reads \\<think\\> and a\\~b\n")
    assert "M$^3$-VQA reads &lt;think&gt; and a~b" in html
    assert "\\" not in html


def test_email_html_shows_a_backslash_hard_break_as_the_two_space_one_was_shown() -> None:
    # The digest ends the first line of a paper's entry in a backslash (CommonMark's
    # hard break): the email must break the line there, not show the backslash.
    entry = (
        "1. **[A title](https://arxiv.org/abs/2505.00001)** ([PDF](https://x.org/p)){}\n"
        "   Ada Lovelace · `cs.CV` · score 0.500\n"
    )
    html = render_email_html("S", entry.format("\\"))
    assert html == render_email_html("S", entry.format("  "))
    assert '(<a href="https://x.org/p">PDF</a>)<br>\n   Ada Lovelace' in html


def test_email_html_keeps_an_escaped_backslash_at_a_line_end_and_one_in_code() -> None:
    html = render_email_html("S", "A folder C:\\\\\nand `code\\`\n")
    assert "<p>A folder C:\\\nand <code>code\\</code></p>" in html


def test_email_html_headings_carry_the_anchors_the_overview_links_to() -> None:
    text = "[GANs](#generative-models-gans--diffusion)\n\n## Generative Models: GANs & Diffusion\n"
    html = render_email_html("S", text)
    assert '<a href="#generative-models-gans--diffusion">GANs</a>' in html
    assert '<h2 id="generative-models-gans--diffusion">' in html


def test_email_html_numbers_repeated_heading_anchors_as_github_does() -> None:
    text = "[O](#overview-1)\n\n## Overview\n\n## Overview\n"
    html = render_email_html("S", text)
    assert '<h2 id="overview">' in html
    assert '<h2 id="overview-1">' in html


# P4: _check_delivery asks for no SMTP password when the month was emailed already and
# the run emails once (the scheduler's retry of a month whose commit failed).
def test_a_retried_month_already_emailed_needs_no_smtp_password(
    workdir: Path, smtp_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, port, server = smtp_server
    monkeypatch.setattr(logging.getLogger("mail.log"), "disabled", True)
    server["start"](
        authenticator=accept_only("bot", "s3cret"), auth_require_tls=False, auth_required=True
    )
    email_config_file(workdir, port, 'username = "bot"\npassword_env = "SMTP_PASSWORD"\n')
    refusing_repository(workdir)  # the commit fails every time, so the month is retried
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    with pytest.raises(DeliveryError, match="commits are frozen"):
        scheduled_run(workdir)
    monkeypatch.delenv("SMTP_PASSWORD")  # say the service restarted without it
    with pytest.raises(DeliveryError) as caught:
        scheduled_run(workdir)
    assert str(caught.value) == f"git commit failed in {workdir.resolve()}: commits are frozen"
    assert len(recorder.envelopes) == 1


class HangsUpOnQuit(socketserver.StreamRequestHandler):
    """Speaks SMTP, takes the message, then closes the connection at QUIT unanswered."""

    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        for line in self.rfile:
            command = line.upper()
            if command.startswith(b"QUIT"):
                return
            if command.startswith(b"DATA"):
                self.wfile.write(b"354 go ahead\r\n")
                for body in self.rfile:
                    if body == b".\r\n":
                        break
            self.wfile.write(b"250 ok\r\n")


# D14: _say_goodbye: a server that took the digest and hangs up at QUIT is a warning.
def test_a_server_that_hangs_up_at_quit_after_taking_the_digest_is_only_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), HangsUpOnQuit) as server:
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        port = server.server_address[1]
        try:
            with caplog.at_level(logging.WARNING, logger="trenddigest.deliver"):
                sent = send_digest_email(config(port), "Digest", DIGEST, env={})
        finally:
            server.shutdown()
    assert sent.accepted == ["ana@example.org", "ben@example.org"]
    (message,) = [r.getMessage() for r in caplog.records if r.name == "trenddigest.deliver"]
    assert message.startswith(
        f"SMTP server 127.0.0.1:{port} took the digest but the connection failed on QUIT ("
    )
    assert message.endswith("); the digest was sent")


class RefuseAllCountQuit(Recorder):
    """Refuses every recipient; counts the QUITs it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.quits = 0

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        return f"550 5.1.1 <{address}>: mailbox unavailable"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.quits += 1
        return "221 Bye"


# D13: _hang_up: a failed delivery still ends the session with QUIT (and closes it).
def test_a_delivery_the_server_refused_still_says_quit() -> None:
    recorder = RefuseAllCountQuit()
    with serving(recorder) as controller, pytest.raises(DeliveryError):
        send_digest_email(config(controller.port), "Digest", DIGEST, env={})
    assert recorder.envelopes == [] and recorder.quits == 1


# -- a recipient refused for now (4xx): owed the digest, sent it by the next run -----------


class Greylisting(Recorder):
    """Refuses each address starting with "grey" for now (451) the first time it is
    offered (greylisting), and takes it when it comes again."""

    def __init__(self, refusals: int = 1) -> None:
        super().__init__()
        self.refusals = refusals
        self.seen: dict[str, int] = {}

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.seen[address] = self.seen.get(address, 0) + 1
        if address.startswith("grey") and self.seen[address] <= self.refusals:
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_recipient_refused_for_now_is_owed_the_digest_not_blamed_on_the_config(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Greylisting()
    with serving(recorder) as controller:
        cfg = config(controller.port, to=["ana@example.org", "Grey <grey@example.org>"])
        with caplog.at_level(logging.WARNING, logger="trenddigest.deliver"):
            sent = send_digest_email(cfg, "Digest", DIGEST, env={})
    assert (sent.accepted, sent.deferred) == (["ana@example.org"], ["Grey <grey@example.org>"])
    assert str(sent.deferred_error()) == (
        f"SMTP server 127.0.0.1:{controller.port} refused grey@example.org (451 4.7.1 "
        "greylisted, try again later) for now; the others have the digest, and the next run "
        "sends it to grey@example.org only"
    )
    assert [r.getMessage() for r in caplog.records if r.name == "trenddigest.deliver"] == []


def test_every_recipient_refused_for_now_says_to_send_again_later_not_to_check_the_config() -> None:
    with serving(Greylisting()) as controller:
        cfg = config(controller.port, to=["grey@example.org", "grey2@example.org"])
        with pytest.raises(DeliveryError) as caught:
            send_digest_email(cfg, "Digest", DIGEST, env={})
    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{controller.port} refused every recipient for now: "
        "grey2@example.org (451 4.7.1 greylisted, try again later), grey@example.org (451 "
        "4.7.1 greylisted, try again later); the digest was not sent: run again later (a "
        "server refusing with 4xx, such as when greylisting, takes it then)"
    )


def test_a_sending_to_the_recipients_still_owed_reaches_only_them() -> None:
    recorder = Recorder()
    with serving(recorder) as controller:
        cfg = config(controller.port, to=["Ana <ana@example.org>", "Grey <grey@example.org>"])
        sent = send_digest_email(cfg, "Digest", DIGEST, env={}, only=["Grey <grey@example.org>"])
    assert sent.accepted == ["Grey <grey@example.org>"]
    assert recorder.envelopes[0].rcpt_tos == ["grey@example.org"]
    assert recorder.message()["To"] == "Ana <ana@example.org>, Grey <grey@example.org>"


def test_a_recipient_owed_the_digest_but_taken_out_of_the_config_is_not_sent_it() -> None:
    recorder = Recorder()
    with serving(recorder) as controller:
        sent = send_digest_email(
            config(controller.port, to=["ana@example.org"]),
            "Digest",
            DIGEST,
            env={},
            only=["grey@example.org"],
        )
    assert (sent.accepted, sent.deferred, recorder.envelopes) == ([], [], [])
    assert sent.notes(None) == [
        "not emailed to grey@example.org, refused for now before: [email] to no longer names "
        "them, so they are no longer owed the digest"
    ]


def greylisted_config(workdir: Path, port: int) -> None:
    email_config_file(workdir, port, "enabled = true\n")
    config_file = workdir / "config" / "trenddigest.toml"
    config_file.write_text(
        config_file.read_text().replace(
            'to = ["ana@example.org"]', 'to = ["ana@example.org", "grey@example.org"]'
        )
    )


RUN_ONCE = [a for a in RUN_EMAIL if a not in ("--email", "-q")]


def test_a_run_whose_recipient_was_refused_for_now_fails_and_says_the_next_run_sends_it(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(Greylisting()) as controller:
        greylisted_config(workdir, controller.port)
        code = main(RUN_ONCE)
    out, err = capsys.readouterr()
    assert code == 5
    assert out.splitlines()[-1] == "emailed to ana@example.org"
    assert err == (
        f"trenddigest: error: SMTP server 127.0.0.1:{controller.port} refused "
        "grey@example.org (451 4.7.1 greylisted, try again later) for now; the others have "
        "the digest, and the next run sends it to grey@example.org only\n"
    )


def test_the_next_run_sends_a_recipient_refused_for_now_the_digest_and_no_one_else(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Greylisting()
    with serving(recorder) as controller:
        greylisted_config(workdir, controller.port)
        assert main(RUN_ONCE) == 5
        capsys.readouterr()
        assert main(RUN_ONCE) == 0
        second = capsys.readouterr().out.splitlines()[-1]
        assert main(RUN_ONCE) == 0
        third = capsys.readouterr().out.splitlines()[-1]
    assert [e.rcpt_tos for e in recorder.envelopes] == [
        ["ana@example.org"],
        ["grey@example.org"],
    ]
    assert second.startswith("emailed to grey@example.org, still owed it (first sent ")
    assert second.endswith(" to ana@example.org)")
    assert third.startswith("already emailed (")
    assert third.endswith(" to grey@example.org); not sent again")


def test_a_recipient_owed_the_digest_and_taken_out_of_the_config_is_owed_it_no_more(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Taken out on purpose (left the lab): the run says so, and owes them nothing after.
    recorder = Greylisting()
    with serving(recorder) as controller:
        greylisted_config(workdir, controller.port)
        assert main(RUN_ONCE) == 5  # grey@ refused for now
        config_file = workdir / "config" / "trenddigest.toml"
        config_file.write_text(config_file.read_text().replace(', "grey@example.org"', ""))
        capsys.readouterr()
        assert main(RUN_ONCE) == 0
        assert capsys.readouterr().out.splitlines()[-1] == (
            "not emailed to grey@example.org, refused for now before: [email] to no longer "
            "names them, so they are no longer owed the digest"
        )
        assert main(RUN_ONCE) == 0
        assert capsys.readouterr().out.splitlines()[-1].startswith("already emailed (")
    assert [e.rcpt_tos for e in recorder.envelopes] == [["ana@example.org"]]


class GreylistingThenSignalsAtQuit(Greylisting):
    """Greylisting, and the first QUIT sends this process SIGTERM and is answered only
    after the client has gone (the message was taken before)."""

    def __init__(self) -> None:
        super().__init__()
        import asyncio

        self.release = asyncio.Event()
        self.quits = 0

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.quits += 1
        if self.quits == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            await self.release.wait()
        return "221 Bye"


def test_a_run_stopped_while_quit_is_answered_records_whom_the_server_took(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The server took the message for ana@ and refused grey@ for now: grey@ stays owed.
    recorder = GreylistingThenSignalsAtQuit()
    with serving(recorder) as controller:
        greylisted_config(workdir, controller.port)
        assert main(RUN_ONCE) == 143
        controller.loop.call_soon_threadsafe(recorder.release.set)
        capsys.readouterr()
        assert main(RUN_ONCE) == 0
    assert [e.rcpt_tos for e in recorder.envelopes] == [
        ["ana@example.org"],
        ["grey@example.org"],
    ]


# -- the session's deadline ----------------------------------------------------------------


class FakeClock:
    """Monotonic seconds that pass only when a test server says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False


@contextlib.contextmanager
def scripted(handler: type[socketserver.StreamRequestHandler]) -> Iterator[int]:
    """A hand-written SMTP server on 127.0.0.1 (its port), stopped afterwards."""
    with _Server(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()


def trickle(wfile: Any, line: bytes, clock: FakeClock) -> None:
    """Write ``line`` again and again, two seconds apart on ``clock``, until the
    client hangs up."""
    with contextlib.suppress(OSError):
        while True:
            wfile.write(line)
            wfile.flush()
            clock.now += 2.0


def test_a_server_trickling_its_greeting_is_given_up_on_at_the_sessions_deadline() -> None:
    clock = FakeClock()

    class TricklesGreeting(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            trickle(self.wfile, b"220-please wait\r\n", clock)

    with scripted(TricklesGreeting) as port, pytest.raises(DeliveryError) as caught:
        send_digest_email(config(port, timeout_seconds=3.0), "D", DIGEST, env={}, clock=clock)
    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{port} did not finish within the session's limit of 15 s "
        "(5 × [email] timeout_seconds), answering too slowly; the digest was not sent: run "
        "again later, and raise [email] timeout_seconds if the server is slow"
    )


def test_a_server_trickling_its_answer_to_the_whole_message_leaves_it_unconfirmed() -> None:
    clock = FakeClock()

    class TricklesAfterData(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 test ESMTP\r\n")
            for line in self.rfile:
                if line.upper().startswith(b"DATA"):
                    self.wfile.write(b"354 go ahead\r\n")
                    for body in self.rfile:
                        if body == b".\r\n":
                            break
                    trickle(self.wfile, b"250-still thinking\r\n", clock)
                    return
                self.wfile.write(b"250 ok\r\n")

    with scripted(TricklesAfterData) as port, pytest.raises(EmailUnconfirmedError) as caught:
        send_digest_email(config(port, timeout_seconds=3.0), "D", DIGEST, env={}, clock=clock)
    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{port} took the whole digest but did not confirm it within "
        "the session's limit of 15 s (5 × [email] timeout_seconds), so it may have arrived; "
        "ask a recipient before sending again, and raise [email] timeout_seconds if the "
        "server is slow"
    )


# -- an interrupt after the server received the whole message -------------------------------


class SignalsAt(Recorder):
    """Sends this process SIGTERM at RCPT, once it holds the whole message (DATA), or
    at QUIT after accepting it, and answers only after the client has gone."""

    def __init__(self, at: str) -> None:
        super().__init__()
        import asyncio

        self.at = at
        self.release = asyncio.Event()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.at == "RCPT":
            os.kill(os.getpid(), signal.SIGTERM)
            await self.release.wait()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        if self.at == "DATA":
            os.kill(os.getpid(), signal.SIGTERM)
            await self.release.wait()
        return "250 Message accepted"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.at == "QUIT":  # the message is accepted; its QUIT is answered late
            os.kill(os.getpid(), signal.SIGTERM)
            await self.release.wait()
        return "221 Bye"


@contextlib.contextmanager
def signalling_server(at: str) -> Iterator[tuple[SignalsAt, int]]:
    recorder = SignalsAt(at)
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield recorder, controller.port
    finally:
        controller.loop.call_soon_threadsafe(recorder.release.set)
        controller.stop()


class Stopped(KeyboardInterrupt):
    pass


@pytest.fixture
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises :class:`Stopped` in the test, as the CLI's handler raises its own."""

    def stop(signum: int, frame: Any) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_an_interrupt_after_the_whole_message_was_sent_says_it_may_have_been_delivered(
    sigterm_interrupts: None,
) -> None:
    possibly: list[Any] = []
    with signalling_server("DATA") as (recorder, port), pytest.raises(Stopped):
        send_digest_email(
            config(port), "D", DIGEST, env={}, possibly_sent=lambda sent: possibly.append(sent)
        )
    assert possibly == [None]  # may have arrived: whom to, the server did not say
    assert len(recorder.envelopes) == 1


def test_an_interrupt_while_quit_is_answered_after_the_message_was_accepted_is_recorded(
    sigterm_interrupts: None,
) -> None:
    possibly: list[Any] = []
    with signalling_server("QUIT") as (recorder, port), pytest.raises(Stopped):
        send_digest_email(
            config(port), "D", DIGEST, env={}, possibly_sent=lambda sent: possibly.append(sent)
        )
    ((sent,),) = [possibly]
    assert sent is not None and sent.accepted == config(port).to
    assert len(recorder.envelopes) == 1


def test_an_interrupt_before_the_message_was_sent_is_no_possible_delivery(
    sigterm_interrupts: None,
) -> None:
    possibly: list[Any] = []
    with signalling_server("RCPT") as (recorder, port), pytest.raises(Stopped):
        send_digest_email(
            config(port), "D", DIGEST, env={}, possibly_sent=lambda sent: possibly.append(sent)
        )
    assert possibly == []
    assert recorder.envelopes == []


def test_a_run_stopped_after_the_server_received_the_digest_does_not_send_it_again(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with signalling_server("DATA") as (recorder, port):
        email_config_file(workdir, port, "enabled = true\n")
        assert main(RUN_ONCE) == 143
    with Store.open(workdir / "data" / "trenddigest.sqlite3") as store:
        recorded = store.get_meta("emailed:2025-05")
    assert recorded is not None and recorded.endswith(" unconfirmed by the server")
    capsys.readouterr()
    assert main(RUN_ONCE) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("already emailed (")
    assert len(recorder.envelopes) == 1
