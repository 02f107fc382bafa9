"""Generic prefixed transcripts (C:/S:, >/<)."""

from __future__ import annotations

import pytest

from .format_helpers import counts, excerpt, row  # noqa: F401 - excerpt is a fixture

LINES = [
    ("S", "220 mx.example.net ESMTP"),
    ("C", "EHLO client.example.org"),
    ("S", "250-mx.example.net"),
    ("S", "250 PIPELINING"),
    ("C", "MAIL FROM:<a@example.org>"),
    ("S", "250 2.1.0 Ok"),
    ("C", "RCPT TO:<b@example.net>"),
    ("S", "450 4.2.0 <b@example.net>: Recipient address rejected: Greylisted, see http://postgrey.example/help"),
    ("C", "QUIT"),
    ("S", "221 2.0.0 Bye"),
]


@pytest.mark.parametrize(("client", "server"), [("C: ", "S: "), ("> ", "< "), ("-> ", "<- "), ("CLIENT: ", "SERVER: ")])
def test_prefixes_greylisted(excerpt, client, server):
    text = "".join(f"{client if side == 'C' else server}{payload}\n" for side, payload in LINES)
    frame = excerpt.sessions(text, format="transcript")

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("rcpt_to", "greylisted")
    assert (got["reply_code"], got["enhanced_code"]) == (450, "4.2.0")
    assert counts(frame) == (10, 0, 0)


def test_detected_low(excerpt):
    text = "".join(f"{'C: ' if side == 'C' else 'S: '}{payload}\n" for side, payload in LINES)
    frame = excerpt.sessions(text)

    (report,) = frame.attrs["files"]
    assert report["format"] == "transcript"
    assert report["confidence"] <= 0.5


def test_unprefixed_line_unrecognised(excerpt):
    frame = excerpt.sessions("S: 220 mx ESMTP\nsome note\nC: QUIT\nS: 221 Bye\n", format="transcript")

    assert counts(frame) == (3, 0, 1)
