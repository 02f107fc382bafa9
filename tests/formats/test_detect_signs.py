"""Formats' detection signs: a format skipped for lack of a sign would have scored 0 anyway.

Compared over every log in the test corpus and the sample data, as files
(their first 400 lines, as the reader samples them) and line by line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smtplogkit import formats
from smtplogkit.envelope import EnvelopeOptions, strip_envelope
from smtplogkit.literals import sign_literals

ROOT = Path(__file__).parents[2]
CORPUS = sorted(path for folder in (ROOT / "tests", ROOT / "sample_data") for path in folder.rglob("*")
                if path.is_file() and path.suffix in {".log", ".jsonl", ".maillog"})


# Lines that score through a sign the corpus shows only next to another.
EXTRA_LINES = [
    "The SMTP server requires a secure connection or the client was not authenticated.",
    "Dec 04 21:00:01 host=smtp.example.com tls=on auth=on user=agent from=a@example.com "
    "recipients=b@example.net mailsize=120 exitcode=EX_OK",
    "DEBUG: setDebug: JavaMail version 1.6.2",
    "CLIENT 12:",
    "SERVER 12:",
    "Traceback (most recent call last):",
    # Exim main log and debug lines, and the rarer lines of other formats.
    "1rABcd-000Ab1-Xy => a@example.net R=dnslookup T=remote_smtp",
    "1rABcd-000Ab1-Xy -> b@example.net R=dnslookup T=remote_smtp",
    "1rABcd-000Ab1-Xy ** c@example.net: Unrouteable address",
    "1rABcd-000Ab1-Xy == d@example.net R=dnslookup T=remote_smtp defer (-44)",
    "1rABcd-000Ab1-Xy <= agent@example.com P=esmtpsa S=1024",
    "1rABcd-000Ab1-Xy Completed",
    "1rABcd-000Ab1-Xy H=mx.example.net [192.0.2.5] Connection refused",
    "1rABcd-000Ab1-Xy SMTP error from remote mail server after RCPT TO",
    "  4711 Connecting to mx.example.net [192.0.2.5]:25 ...",
    "  4711 LOG: MAIN",
    "  4711   SMTP<< 220 mx.example.net ESMTP",
    "  4711   SMTP>> EHLO relay.example.com",
    "  4711 no retry data available",
    "retry time not reached for any host",
    "4B1C2D3E4F5G6H: to=<a@example.net>, delay=00:00:01, mailer=esmtp, stat=Sent (ok)",
    'time="2026-03-02T08:00:00Z" level=error msg="send failed" error="550 5.1.1 unknown user"',
    'level=warning msg="send failed" err="421 4.7.0 try again later"',
    "5.7.1  Relaying denied",
    "MailKit.Security.AuthenticationException: 535: 5.7.8 Authentication failed",
    "openssl s_client -connect smtp.example.com:587 -starttls smtp",
]


def _texts(path: Path) -> list[str]:
    options = EnvelopeOptions()
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.text for line in (strip_envelope(n, text, options) for n, text in enumerate(lines, 1))
            if line.text.strip()]


def _every_score(sample: list[str]) -> dict[str, float]:
    """The scores of every format's own detect, none skipped."""
    scores = {}
    for name, module in formats.registry().items():
        try:
            scores[name] = float(module.detect(sample))
        except (ValueError, TypeError, IndexError):
            scores[name] = 0.0
    return scores


def test_corpus_is_found():
    assert len(CORPUS) > 200


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_file_scores_match_full_detection(path):
    sample = _texts(path)[:400]
    assert formats.detect(sample)[2] == _every_score(sample)


def test_line_scores_match_full_detection():
    seen: set[str] = set()
    for path in CORPUS:
        for text in _texts(path):
            if text in seen or len(seen) >= 20000:
                continue
            seen.add(text)
            assert formats.detect([text])[2] == _every_score([text]), (path.name, text)


@pytest.mark.parametrize("text", EXTRA_LINES)
def test_rare_line_sign_kept(text):
    scores = formats.detect([text])[2]
    assert scores == _every_score([text])
    assert max(scores.values()) > 0


def test_telnet_has_no_sign():
    # telnet scores bare replies without a line of its own, so it has no sign.
    assert getattr(formats.get("telnet"), "DETECT_SIGNS", None) is None
    _, _, scores = formats.detect(["220 smtp.example.com ESMTP", "EHLO me", "250 ok"])
    assert scores["telnet"] == 0.25


def test_format_without_sign_skipped(monkeypatch):
    tried = []
    phpmailer = formats.get("phpmailer")
    monkeypatch.setattr(phpmailer, "detect", lambda sample: tried.append(sample) or 0.0)
    formats.detect(["08:00:00.100000 send: 'ehlo worker-7\\r\\n'"])
    assert tried == []
    formats.detect(["2026-03-02 08:00:00\tCLIENT -> SERVER: EHLO worker-7"])
    assert len(tried) == 1


def test_sign_found_in_any_case():
    sample = ["2026-03-02 08:00:00\tclient -> server: EHLO worker-7"]
    assert formats.detect(sample)[2]["phpmailer"] == formats.get("phpmailer").detect(sample)


def test_sign_without_literal_disables_skip():
    assert sign_literals(("abc", re.compile(r"\d+"))) is None
    assert sign_literals(("ABC def", re.compile(r"xyz|uvw"))) == {"abc def", "xyz", "uvw"}


def test_phpmailer_sign_in_html_output():
    line = "2026-03-02 08:00:00\tSERVER -&gt; CLIENT: 220 smtp.example.com ESMTP<br>"
    assert formats.detect([line])[2]["phpmailer"] > 0


def _applog_without_gate(sample: list[str]) -> float:
    applog = formats.get("applog")
    if any(applog.TRACEBACK_RE.match(text) for text in sample):
        return 0.0
    return applog.SCORE if any(applog._evidence(text) is not None for text in sample) else 0.0


def test_applog_gate_matches_line_reading():
    applog = formats.get("applog")
    texts = [text for path in CORPUS for text in _texts(path)]
    texts += ["Sending mail to ops failed: (535, b'5.7.8 Username and Password not accepted')",
              "mail to ops failed:  ( 451 , \"4.7.1 try later\")"]
    scored = 0
    for text in dict.fromkeys(texts):
        score = applog.detect([text])
        assert score == _applog_without_gate([text]), text
        scored += score > 0
    assert scored > 10


def _telnet_without_gate(sample: list[str]) -> float:
    telnet = formats.get("telnet")
    markers = sum(1 for text in sample if text.startswith("Escape character is") or telnet.MARKER_RE.match(text))
    if markers:
        return min(1.0, 0.6 + markers / max(len(sample), 1))
    return telnet.detect(sample)  # no marker: the gate changed nothing


TELNET_LINES = ["$ telnet smtp.example.com 587", "user@box:~$ nc -v smtp.example.com 25",
                "ncat smtp.example.com 465", "netcat smtp.example.com 25", "Escape character is '^]'.",
                "smtp.example.com [192.0.2.5] 25 (smtp) open", "Connection closed by foreign host."]


def test_telnet_gate_matches_line_reading():
    telnet = formats.get("telnet")
    texts = [text for path in CORPUS for text in _texts(path)] + TELNET_LINES
    marked = 0
    for text in dict.fromkeys(texts):
        score = telnet.detect([text])
        assert score == _telnet_without_gate([text]), text
        marked += score >= 0.6
    assert marked > 10


@pytest.mark.parametrize("text", TELNET_LINES)
def test_telnet_marker_line_scores(text):
    assert formats.get("telnet").detect([text]) >= 0.6
