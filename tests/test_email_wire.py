"""Every kind of email the product sends, checked as the bytes that crossed the wire
(a real SMTP server on 127.0.0.1): 7-bit clean bodies, encoded lines of at most 76
characters (RFC 2045), one unfolded Content-ID the HTML links to, the headers as
configured, and the HTML part's size as measured equal to its size as sent."""

from __future__ import annotations

import email
import email.generator
import io
import re
from email.policy import default as default_policy
from typing import Any

import pytest

from test_email import PNG, Recorder, config, serving
from test_qa_email import SUBJECT, synthetic_digest
from trenddigest.deliver import (
    _EMAIL_POLICY,
    build_email,
    chart_content_id,
    email_html,
    html_size_as_sent,
    send_digest_email,
)

SHORT = "# Research trends, May 2025\n\n- [A paper](https://arxiv.org/abs/2505.00001)\n"
NON_ASCII_SHORT = "# Trends\n\nÜberblick · 数据\n"
LONG_LINES = "# Trends\n\n" + ("A long ASCII line of words " * 6) + "\n"
NON_ASCII_LONG = synthetic_digest(30, 10).replace(
    "with a Long Title", "with a Long Title: Überblick über Lösungsansätze für 数据集"
)
# Mostly CJK: base64 is shorter than quoted-printable for the HTML part.
CJK = "# 研究动向\n\n" + "".join(
    f"- [数据集研究论文标题第{i}号](https://arxiv.org/abs/2505.{i:05d})\n" for i in range(200)
)

KINDS: dict[str, dict[str, Any]] = {
    "chart-short-ascii": {"text": SHORT, "png": PNG},
    "no-chart": {"text": SHORT, "png": None},
    "non-ascii-short": {"text": NON_ASCII_SHORT, "png": PNG},
    "long-ascii-lines": {"text": LONG_LINES, "png": None},
    "shortened-with-md": {"text": NON_ASCII_LONG, "png": PNG},
    "shortened-no-chart": {"text": synthetic_digest(30, 10), "png": None},
    "cjk-base64": {"text": CJK, "png": PNG},
}
SENDERS = {
    "ascii": ("digest@example.org", ["ana@example.org"]),
    "non-ascii-names": (
        "Trend Bøt Ünïcödé Digest Sender <digest@example.org>",
        ["Zoë Ærøskøbing-Müller <zoe@example.org>"],
    ),
    "smtputf8": ("Bøt <digest@example.org>", ["Zoë <zoë@lab.example.org>", "ben@example.org"]),
}
LONG_SUBJECT = "Forschungstrends Mai 2025 — Überblick über Lösungsansätze für 数据集 und mehr"


def parts_on_the_wire(raw: bytes) -> list[tuple[dict[str, str], bytes]]:
    """(headers, body bytes as sent) of every leaf part, by splitting on the boundaries."""
    message = email.message_from_bytes(raw, policy=default_policy)
    boundaries = [m.get_boundary().encode() for m in message.walk() if m.is_multipart()]
    pattern = b"|".join(re.escape(b"\r\n--" + b) + b"(?:--)?\r\n" for b in boundaries)
    chunks = re.split(pattern, raw)
    out = []
    for chunk in chunks[1:]:
        head, sep, body = chunk.partition(b"\r\n\r\n")
        if not sep or b"multipart/" in head.lower() or not head.strip():
            continue
        headers = {}
        for line in re.split(rb"\r\n(?![ \t])", head):
            name, _, value = line.decode("utf-8").partition(":")
            headers[name.lower()] = value.strip()
        out.append((headers, body))
    return out


def audit(raw: bytes, international: bool) -> list[str]:
    """What is wrong with a message as received, by the RFCs above (nothing: [])."""
    problems = []
    head, _, _ = raw.partition(b"\r\n\r\n")
    if b"\n" in raw.replace(b"\r\n", b""):
        problems.append("bare LF")
    if not international and not raw.isascii():
        problems.append("non-ASCII bytes to an ASCII server")
    if international and not raw[len(head) :].isascii():
        problems.append("non-ASCII bytes in a body")
    for line in raw.split(b"\r\n"):
        if len(line.decode("utf-8")) > 78:  # RFC 5322's SHOULD, in characters
            problems.append(f"line over 78: {line[:60]!r}")
    for headers, body in parts_on_the_wire(raw):
        cte = headers.get("content-transfer-encoding", "7bit").lower()
        if cte in ("8bit", "binary"):
            problems.append(f"{headers.get('content-type')} is {cte}")
        longest = max(len(line) for line in body.split(b"\r\n"))
        if cte in ("quoted-printable", "base64") and longest > 76:
            problems.append(f"{headers.get('content-type')} {cte} line of {longest}")
    return problems


@pytest.mark.parametrize("who", list(SENDERS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_of_email_is_7bit_clean_with_lines_of_at_most_76(kind: str, who: str) -> None:
    subject = LONG_SUBJECT  # non-ASCII, folded: the hardest header
    sender, to = SENDERS[who]
    text, png = KINDS[kind]["text"], KINDS[kind]["png"]
    recorder = Recorder()
    with serving(recorder, enable_SMTPUTF8=True) as controller:
        send_digest_email(
            config(controller.port, sender=sender, to=to), subject, text, png_attachment=png, env={}
        )
    (envelope,) = recorder.envelopes
    raw = envelope.original_content
    assert audit(raw, who == "smtputf8") == []
    message = email.message_from_bytes(raw, policy=default_policy)
    # (Python's parser keeps the fold's space of a long raw-UTF-8 Subject: not ours.)
    assert message["Subject"].lstrip() == subject
    assert message["From"] == sender
    assert message["To"] == ", ".join(to)
    # the HTML part's size as measured is the size as sent
    cid = chart_content_id(png) if png else None
    page = email_html(subject, text, cid)
    ((headers, body),) = [
        (h, b) for h, b in parts_on_the_wire(raw) if h["content-type"].startswith("text/html")
    ]
    assert headers["content-transfer-encoding"] == page.transfer_encoding
    assert html_size_as_sent(page.html) == len(body), (kind, who)
    if png:
        (line,) = re.findall(rb"^Content-ID: <([^<>\s]+)>\r\n(?![ \t])", raw, re.MULTILINE)
        assert line.decode() == cid
        html = message.get_body(preferencelist=("html",)).get_content()
        assert f'src="cid:{cid}"' in html
    # plain part decodes to the Markdown
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert plain.replace("\r\n", "\n") == text


def test_the_html_size_measured_is_the_part_as_sent_when_lines_exceed_76() -> None:
    # Lines of 77..78 encoded characters: measured with the email package's default 78
    # instead of the 76 the part is sent with, the size would be short by the soft breaks.
    text = "# T\n\n" + "".join(f"{'x' * n} é\n\n" for n in range(60, 160))
    message = build_email(config(25), SUBJECT, text)
    buffer = io.BytesIO()
    email.generator.BytesGenerator(buffer, mangle_from_=False, policy=_EMAIL_POLICY).flatten(
        message, linesep="\r\n"
    )
    ((_headers, body),) = [
        (h, b)
        for h, b in parts_on_the_wire(buffer.getvalue())
        if h["content-type"].startswith("text/html")
    ]
    assert html_size_as_sent(email_html(SUBJECT, text).html) == len(body)
