"""MTA log readers: a real Postfix capture, and the forms each MTA prints.

``data/postfix/capture.maillog`` was written by Postfix 3.x (Debian package)
delivering to loopback servers; ``tools/capture/postfix/capture.py`` made it.
The expected rows beside it were checked against the script's plan: which
server defers, bounces, times out, rate-limits or accepts.
"""

from __future__ import annotations

import bz2
import os
import gzip
import json
import lzma
import shutil
from pathlib import Path

import pandas as pd
import pytest

import smtplogkit
from smtplogkit.envelope import EnvelopeOptions, strip_envelope
from smtplogkit.formats import postfix
from smtplogkit.formats.base import ParseContext
from smtplogkit.records import Event, SessionEnd

DATA = Path(__file__).parent / "data" / "postfix"
CAPTURE = DATA / "capture.maillog"
EXPECTED = [json.loads(line) for line in (DATA / "capture.expected.jsonl").read_text().splitlines()]


def rows(path, **options) -> list[dict]:
    frame = smtplogkit.read_logs(path, **options)
    frame = frame.astype(object).where(pd.notna(frame), None)
    return frame.sort_values("line").to_dict(orient="records")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_capture_sessions():
    got = rows(CAPTURE)
    assert len(got) == len(EXPECTED)
    for row, expected in zip(got, EXPECTED):
        for column, value in expected.items():
            assert row[column] == value, (expected["line"], column)


def test_capture_line_accounting():
    report = smtplogkit.read_logs(CAPTURE).attrs["files"][0]
    assert report["format"] == "postfix"
    assert report["unrecognised"] == 0
    assert report["lines"] == len(CAPTURE.read_text().splitlines())


def test_capture_deliveries():
    deliveries = smtplogkit.read_deliveries(CAPTURE)
    records = CAPTURE.read_text().count(" to=<")
    expired = CAPTURE.read_text().count("status=expired")
    assert len(deliveries) == records + expired
    counts = deliveries["status"].value_counts()
    assert counts["expired"] == expired
    assert counts["bounced"] == 1
    assert set(deliveries["sender"].dropna()) == {"alice@capture.test", ""}


def test_capture_delays_split():
    deliveries = smtplogkit.read_deliveries(CAPTURE).dropna(subset=["delay_before_qmgr"])
    parts = deliveries[["delay_before_qmgr", "delay_in_qmgr", "delay_conn_setup", "delay_transmission"]].sum(axis=1)
    # Postfix rounds each part and the total separately.
    assert ((parts - deliveries["delay"]).abs() <= 0.05 + 0.1 * deliveries["delay"]).all()


def test_capture_delivery_causes():
    deliveries = smtplogkit.read_deliveries(CAPTURE)
    greylisted = deliveries[deliveries["recipient"] == "dan@greylist.test"]
    assert set(greylisted["cause"]) == {"greylisted"}
    assert set(greylisted["failure_stage"]) == {"rcpt_to"}
    timeouts = deliveries[deliveries["recipient"] == "niaj@blackhole.test"]
    assert set(timeouts["cause"]) == {"connect_timeout"}


def test_capture_signals():
    signals = smtplogkit.read_signals(CAPTURE)
    assert list(signals["kind"]) == ["rate_limit", "rate_limit"]
    assert set(signals["client_ip"]) == {"127.0.0.1"}


def test_iso_and_journal_forms(tmp_path):
    classic = CAPTURE.read_text().splitlines()
    iso = [f"2026-12-04T{line[7:15]}+00:00 {line[16:]}" for line in classic]
    journal = ["-- Boot 0c5e1b0a6f1e4b7d --", *classic]
    for name, lines in (("iso.log", iso), ("journal.log", journal)):
        got = rows(write(tmp_path, name, "\n".join(lines) + "\n"))
        assert [(r["failure_stage"], r["cause"]) for r in got] == [(e["failure_stage"], e["cause"]) for e in EXPECTED]


def test_streaming_ends_sessions():
    """Sessions end as the log goes on, so few are open at any time."""
    options = EnvelopeOptions(year=2026, last_month=12)
    lines = (strip_envelope(n, text, options) for n, text in enumerate(CAPTURE.read_text().splitlines(), 1))
    open_sessions: set = set()
    max_open = 0
    for item in postfix.parse(lines, ParseContext("capture")):
        if isinstance(item, SessionEnd):
            open_sessions.discard(item.session)
        else:
            assert isinstance(item, Event)
            open_sessions.add(item.session)
        max_open = max(max_open, len(open_sessions))
    assert max_open == 1
    assert not open_sessions


def test_rotations_in_order(tmp_path):
    lines = CAPTURE.read_text().splitlines(keepends=True)
    third = len(lines) // 3
    (tmp_path / "maillog.3.xz").write_bytes(lzma.compress("".join(lines[:third // 2]).encode()))
    (tmp_path / "maillog.2.gz").write_bytes(gzip.compress("".join(lines[third // 2:third]).encode()))
    (tmp_path / "maillog.1.bz2").write_bytes(bz2.compress("".join(lines[third:2 * third]).encode()))
    (tmp_path / "maillog").write_text("".join(lines[2 * third:]))
    files = smtplogkit.read_logs(tmp_path).attrs["files"]
    assert [f["source"].rsplit("/", 1)[-1] for f in files] == ["maillog.3.xz", "maillog.2.gz", "maillog.1.bz2", "maillog"]
    assert sum(f["lines"] for f in files) == len(lines)


def test_year_from_mtime(tmp_path):
    path = tmp_path / "maillog"
    shutil.copyfile(CAPTURE, path)
    january = pd.Timestamp("2027-01-02T00:00:00Z").timestamp()
    os.utime(path, (january, january))
    start = smtplogkit.read_logs(path)["start"].min()
    assert start.year == 2026  # December lines in a file last written in January


def test_postfix_dns_failures(tmp_path):
    text = (
        "Dec  4 10:00:00 mx postfix/smtp[100]: AAAA11111: to=<a@nx.example>, relay=none, delay=0.1, "
        "delays=0/0/0.1/0, dsn=5.4.4, status=bounced (Host or domain name not found. Name service error for "
        "name=nx.example type=MX: Host not found)\n"
        "Dec  4 10:00:01 mx postfix/smtp[101]: BBBB22222: to=<b@slow.example>, relay=none, delay=10, "
        "delays=0/0/10/0, dsn=4.4.3, status=deferred (Host or domain name not found. Name service error for "
        "name=slow.example type=MX: Host not found, try again)\n"
    )
    got = rows(write(tmp_path, "maillog", text))
    assert [(r["failure_stage"], r["cause"]) for r in got] == [("dns", "dns_nxdomain"), ("dns", "dns_failure")]
    assert [r["enhanced_code"] for r in got] == ["5.4.4", "4.4.3"]


# Long queue ids (enable_long_queue_ids): the time in base 52, "z" included, then "z" and the inode in base 51.
LONG_IDS = ["4R5tWq9Kzbz3Fk", "4R5tWzzKzbzzMCp", "4R5tWq9KXbzT"]


@pytest.mark.parametrize("prefilter", [True, False])
def test_postfix_long_queue_ids(tmp_path, monkeypatch, prefilter):
    if not prefilter:
        monkeypatch.delattr(postfix, "prefilter")
    lines = []
    for second, qid in enumerate(LONG_IDS):
        stamp = f"Dec  4 10:00:0{second} mx"
        lines += [f"{stamp} postfix/qmgr[700]: {qid}: from=<s@example.com>, size=300, nrcpt=1 (queue active)",
                  f"{stamp} postfix/smtp[10{second}]: {qid}: to=<r{second}@example.org>, relay=mx.example.org"
                  f"[198.51.100.10]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.7.0, status=deferred (host mx.example.org"
                  f"[198.51.100.10] said: 421 4.7.0 Too many messages from your IP (in reply to MAIL FROM command))",
                  f"{stamp} postfix/qmgr[700]: {qid}: removed"]
    path = write(tmp_path, "maillog", "\n".join(lines * 200) + "\n")  # long enough for the prefilter's blocks
    sessions = smtplogkit.read_logs(path, format="postfix", progress=False)
    assert sessions["queue_id"].value_counts().to_dict() == dict.fromkeys(LONG_IDS, 200)
    assert (sessions["cause"] == "rate_limited").all()
    (report,) = sessions.attrs["files"]
    assert report["unrecognised"] == 0
    deliveries = smtplogkit.read_deliveries(path)
    assert deliveries["queue_id"].value_counts().to_dict() == dict.fromkeys(LONG_IDS, 200)


def test_postfix_trailing_blanks(tmp_path):
    # Logs pasted or saved by an editor can end lines in blanks; no record may turn into noise for that.
    lines = ["Aug 27 07:12:19 host postfix/smtp[76]: A4997FB6AA: to=<u@example.com>, relay=smtp.example.com"
             "[192.0.2.5]:587, delay=6, delays=0.01/0.03/6/0, dsn=4.7.0, status=deferred (SASL authentication failed;"
             " cannot authenticate to server smtp.example.com[192.0.2.5]: no mechanism available)   ",
             "Aug 27 07:12:20 host postfix/smtp[77]: B4997FB6AA: to=<u@example.com>, relay=smtp.example.com"
             "[192.0.2.5]:587, delay=1, delays=0.01/0.03/0.5/0.4, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4F1A) \t",
             "Aug 27 07:12:21 host postfix/qmgr[70]: B4997FB6AA: removed "]
    path = write(tmp_path, "maillog", "\n".join(lines * 40) + "\n")  # long enough for the prefilter's blocks
    sessions = smtplogkit.read_logs(path, progress=False)
    assert sessions["cause"].value_counts()[["auth_mechanism_unsupported", "ok"]].tolist() == [40, 40]
    (report,) = sessions.attrs["files"]
    assert (report["parsed"], report["noise"]) == (120, 0)
    assert smtplogkit.read_deliveries(path)["status"].value_counts()[["deferred", "sent"]].tolist() == [40, 40]


def test_postfix_german_month_names(tmp_path):
    # journalctl prints months in the reader's locale; rsyslog files keep English ones.
    lines = []
    for month, number in (("Mär", 3), ("Mrz", 3), ("Mai", 5), ("Okt", 10), ("Dez", 12)):
        lines += [f"{month} 15 23:48:15 c3 postfix/lmtp[4846]: C8876{number:02d}F60D: to=<a@example.org>, "
                  "relay=mail.example.org[private/dovecot-lmtp], delay=0.1, delays=0.02/0/0/0.08, dsn=5.2.2, "
                  "status=bounced (host mail.example.org[private/dovecot-lmtp] said: 552 5.2.2 <a@example.org> "
                  "Mailbox is full (in reply to end of DATA command))"] * 20
    sessions = smtplogkit.read_logs(write(tmp_path, "maillog", "\n".join(lines) + "\n"), progress=False)
    assert sessions.attrs["files"][0]["format"] == "postfix"
    assert sessions["start"].dt.month.tolist() == [3] * 40 + [5] * 20 + [10] * 20 + [12] * 20
    assert (sessions["cause"] == "recipient_rejected").all()


# journalctl in French, Spanish, Italian, Portuguese and Dutch locales: each month's abbreviation.
LOCALE_MONTH_NAMES = {
    "fr": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
    "fr-ascii": ["janv", "fevr", "mars", "avr", "mai", "juin", "juil", "aout", "sept", "oct", "nov", "dec"],
    "es": ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"],
    "it": ["gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"],
    "pt": ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"],
    "nl": ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"],
    "es-capitalised": ["Ene", "Feb", "Mar", "Abr", "May", "Jun", "Jul", "Ago", "Sep", "Oct", "Nov", "Dic"],
}


@pytest.mark.parametrize("locale", LOCALE_MONTH_NAMES)
def test_postfix_locale_month_names(tmp_path, locale):
    lines = []
    for number, month in enumerate(LOCALE_MONTH_NAMES[locale], 1):
        lines += [f"{month} 03 10:00:01 mx1 postfix/smtp[76]: 4F1A2B{number:02d}3C: to=<a@example.org>, "
                  "relay=mx.example.org[198.51.100.10]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, "
                  "status=sent (250 2.0.0 Ok: queued as 1A)"] * 10
    sessions = smtplogkit.read_logs(write(tmp_path, "maillog-2026-12-31", "\n".join(lines) + "\n"), progress=False)
    (report,) = sessions.attrs["files"]
    assert report["format"] == "postfix"
    assert report["parsed"] == 120
    assert sorted(sessions["start"].dt.month.tolist()) == [month for month in range(1, 13) for _ in range(10)]
    assert (sessions["start"].dt.day == 3).all()


# Postfix's syslog_name may be anything (multi-instance set-ups): NAME/DAEMON[pid] tags Postfix's daemons.
OTHER_SYSLOG_NAMES = [
    "Dec  3 10:00:00 mx1 example.com/qmgr[70]: 4F1A2B3C4D: from=<s@example.com>, size=300, nrcpt=1 (queue active)",
    "Dec  3 10:00:01 mx1 example.com/smtp[76]: connect to mx.example.net[192.0.2.5]:25: Connection timed out",
    "Dec  3 10:00:01 mx1 example.com/smtp[76]: 4F1A2B3C4D: to=<a@example.net>, relay=none, delay=30, "
    "delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.net[192.0.2.5]:25: Connection timed out)",
    "Dec  3 10:00:02 mx1 mta2/smtp[77]: Trusted TLS connection established to mx.example.org[198.51.100.10]:25: "
    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
    "Dec  3 10:00:02 mx1 mta2/smtp[77]: 5F1A2B3C4D: to=<b@example.org>, relay=mx.example.org[198.51.100.10]:25, "
    "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1A)",
    "Dec  3 10:00:03 mx1 mta2/smtpd[78]: NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 "
    "<z@example.org>: Relay access denied; from=<x@example.com> to=<z@example.org> proto=ESMTP helo=<y>",
    # Other programs, whatever their tag's shape.
    "Dec  3 10:00:04 mx1 dovecot/imap[40]: Logged out in=1 out=2",
    "Dec  3 10:00:04 mx1 sshd[12]: Accepted publickey for admin",
    "Dec  3 10:00:04 mx1 amavis[7]: (07-01) Passed CLEAN",
    "Dec  3 10:00:05 mx1 example.com/smtp: connect to mx.example.net[192.0.2.5]:25: Connection timed out",
]


@pytest.mark.parametrize("prefilter", [True, False])
def test_postfix_other_syslog_names(tmp_path, monkeypatch, prefilter):
    if not prefilter:
        monkeypatch.delattr(postfix, "prefilter")
    path = write(tmp_path, "maillog", "\n".join(OTHER_SYSLOG_NAMES * 20) + "\n")  # long enough for the prefilter
    sessions = smtplogkit.read_logs(path, progress=False)
    assert sessions.attrs["files"][0]["format"] == "postfix"
    assert sessions["cause"].value_counts()[["connect_timeout", "ok"]].tolist() == [20, 20]
    assert len(sessions) == 40
    assert set(sessions["queue_id"]) == {"4F1A2B3C4D", "5F1A2B3C4D"}
    (report,) = sessions.attrs["files"]
    assert (report["parsed"], report["noise"], report["unrecognised"]) == (100, 100, 0)
    deliveries = smtplogkit.read_deliveries(path)
    assert deliveries["status"].value_counts()[["deferred", "sent"]].tolist() == [20, 20]
    assert len(deliveries) == 40
    assert set(deliveries["sender"].dropna()) == {"s@example.com"}
    signals = smtplogkit.read_signals(path)
    assert signals["kind"].tolist() == ["smtpd_reject"] * 20


# The prefixes of containers and collectors: boky/postfix's level in the host's place, a severity
# between host and tag, and Docker's syslog driver around a container's own stamped line.
CONTAINER_PREFIXES = [
    "2024-01-05T10:00:00.100000+00:00 INFO    postfix/qmgr[70]: 4F1A2B3C4D: from=<s@example.com>, size=300, "
    "nrcpt=1 (queue active)",
    "2024-01-05T10:00:01.123456+00:00 INFO    postfix/smtp[76]: connect to mx.example.net[192.0.2.5]:25: "
    "Connection timed out",
    "2024-01-05T10:00:01.223456+00:00 INFO    postfix/smtp[76]: 4F1A2B3C4D: to=<a@example.net>, relay=none, "
    "delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.net[192.0.2.5]:25: "
    "Connection timed out)",
    "2024-01-05T10:00:02.000001+00:00 WARNING postfix/smtp[77]: warning: TLS library problem: "
    "error:0A000410:SSL routines::sslv3 alert handshake failure",
    "2024-01-05T10:00:02.000002+00:00 INFO    postfix/smtp[77]: SSL_connect error to "
    "mx.example.org[198.51.100.10]:25: -1",
    "2024-01-05T10:00:02.000003+00:00 INFO    postfix/smtp[77]: 5F1A2B3C4D: to=<b@example.org>, "
    "relay=mx.example.org[198.51.100.10]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.7.5, status=deferred "
    "(Cannot start TLS: handshake failure)",
    "2024-01-05T10:00:05.000000+00:00 INFO    postfix/smtpd[80]: connect from unknown[203.0.113.4]",
    "Jan  5 10:00:03 mx1 INFO postfix/smtp[78]: 6F1A2B3C4D: to=<c@example.org>, relay=mx.example.org"
    "[198.51.100.10]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1A)",
    "Jan  5 10:00:04 5de1a1801612 mail.info postfix/smtp[79]: 7F1A2B3C4D: to=<d@example.org>, relay=mx.example.org"
    "[198.51.100.10]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host mx.example.org"
    "[198.51.100.10] said: 550 5.1.1 <d@example.org>: Recipient address rejected (in reply to RCPT TO command))",
    "Jan  5 10:00:06 docker-host postfix-relay[904]: 2024-01-05T10:00:06.000001+00:00 INFO    postfix/smtp[81]: "
    "8F1A2B3C4D: to=<e@example.org>, relay=mx.example.org[198.51.100.10]:25, delay=1, delays=0/0/0.5/0.5, "
    "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2A)",
    "Jan  5 10:00:07 docker-host 3a5b6c7d8e9f[904]: Jan  5 10:00:07 mx2 postfix/smtp[82]: 9F1A2B3C4D: "
    "to=<f@example.org>, relay=mx.example.org[198.51.100.10]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, "
    "status=sent (250 2.0.0 Ok: queued as 3A)",
]


@pytest.mark.parametrize("prefilter", [True, False])
def test_postfix_container_prefixes(tmp_path, monkeypatch, prefilter):
    if not prefilter:
        monkeypatch.delattr(postfix, "prefilter")
    path = write(tmp_path, "maillog-2024-01-05", "\n".join(CONTAINER_PREFIXES * 10) + "\n")
    sessions = smtplogkit.read_logs(path, progress=False)
    (report,) = sessions.attrs["files"]
    assert report["format"] == "postfix"
    assert (report["parsed"], report["noise"], report["unrecognised"]) == (100, 10, 0)
    causes = sessions["cause"].value_counts()
    assert causes[["connect_timeout", "tls_handshake_failure", "recipient_rejected", "ok"]].tolist() == [10, 10, 10, 30]
    assert len(sessions) == 60
    first = sessions[sessions["line"] == 2].iloc[0]
    assert first["start"] == pd.Timestamp("2024-01-05 10:00:01.123456", tz="UTC")
    assert pd.isna(first["log_host"])
    assert set(sessions["log_host"].dropna()) == {"mx1", "5de1a1801612", "docker-host", "mx2"}
    deliveries = smtplogkit.read_deliveries(path)
    assert len(deliveries) == 60
    assert (deliveries["sender"] == "s@example.com").sum() == 10


def _transcript(pid: int, peer: str, lines: list[str], second: int = 1) -> list[str]:
    """Return the lines of an smtp -v or debug_peer_list transcript of one smtp process."""
    return [f"Dec  3 10:00:{second:02d} mx1 postfix/smtp[{pid}]: {line[0]} {peer}: {line[2:]}" for line in lines]


# A pasted excerpt of smtp -v output without delivery records: the failing replies give the sessions.
TRANSCRIPT_EXCERPT = _transcript(76, "smtp.example.net[192.0.2.5]:587", [
    "< 220 smtp.example.net ESMTP ready", "> EHLO mx1.example.com", "< 250-smtp.example.net",
    "< 250 SIZE 35882577", "> MAIL FROM:<a@example.com>", "< 530 5.7.0 Must issue a STARTTLS command first",
    "> QUIT", "< 221 2.0.0 Bye"]) + _transcript(77, "smtp.example.org[198.51.100.10]:587", [
    "< 220 smtp.example.org ESMTP", "> EHLO mx1.example.com", "< 502 5.5.2 Error: command not recognized",
    "> HELO mx1.example.com", "< 250 smtp.example.org", "> AUTH LOGIN", "< 334 VXNlcm5hbWU6",
    "> dXNlckBleGFtcGxlLmNvbQ==", "< 334 UGFzc3dvcmQ6", "> c2VjcmV0LXBhc3N3b3Jk",
    "< 535 5.7.8 Authentication credentials invalid"], second=2) + _transcript(78, "mx.example.com[203.0.113.7]:25", [
    "< 554-mx.example.com Your address is listed", "< 554 5.7.1 Blocked, see the list's site"], second=3)


def test_postfix_transcript_without_records(tmp_path):
    sessions = smtplogkit.read_logs(write(tmp_path, "maillog", "\n".join(TRANSCRIPT_EXCERPT) + "\n"), progress=False)
    (report,) = sessions.attrs["files"]
    assert report["format"] == "postfix"
    assert (report["parsed"], report["noise"], report["unrecognised"]) == (5, 16, 0)
    got = sessions.sort_values("line")
    assert got["line"].tolist() == [6, 19, 21]
    assert got["failure_stage"].astype(str).tolist() == ["mail_from", "auth", "greeting"]
    assert got["cause"].astype(str).tolist()[:2] == ["starttls_required", "auth_failed"]
    assert got["reply_code"].tolist() == [530, 535, 554]
    assert got["port"].tolist() == [587, 587, 25]
    events = smtplogkit.read_events(write(tmp_path, "excerpt", "\n".join(TRANSCRIPT_EXCERPT) + "\n"))
    assert not events["text"].str.contains("dXNlckBleGFtcGxlLmNvbQ|c2VjcmV0").any()  # AUTH LOGIN's user and password


@pytest.mark.parametrize("prefilter", [True, False])
def test_postfix_transcript_with_records(tmp_path, monkeypatch, prefilter):
    # With its delivery record, a transcript's failing reply is no session of its own.
    if not prefilter:
        monkeypatch.delattr(postfix, "prefilter")
    peer = "mx.example.org[198.51.100.10]:25"
    lines = []
    for n in range(20):
        qid = f"{0x4F1A2 + n:X}B3C4D"
        lines += _transcript(100 + n, peer, [
            "< 220 mx.example.org ESMTP", "> EHLO mx1.example.com", "< 250 STARTTLS", "> STARTTLS",
            "< 220 2.0.0 Ready to start TLS"])
        lines.append(f"Dec  3 10:00:01 mx1 postfix/smtp[{100 + n}]: Verified TLS connection established to {peer}: "
                     "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)")
        lines += _transcript(100 + n, peer, [
            "> MAIL FROM:<a@example.com>", "< 250 2.1.0 Ok", "> RCPT TO:<b@example.org>",
            "< 550 5.1.1 <b@example.org>: Recipient address rejected: User unknown"])
        lines.append(f"Dec  3 10:00:01 mx1 postfix/smtp[{100 + n}]: {qid}: to=<b@example.org>, relay={peer}, "
                     "delay=0.3, delays=0/0/0.2/0.1, dsn=5.1.1, status=bounced (host mx.example.org[198.51.100.10] "
                     "said: 550 5.1.1 <b@example.org>: Recipient address rejected: User unknown (in reply to RCPT TO "
                     "command))")
        lines += _transcript(100 + n, peer, ["> QUIT", "< 221 2.0.0 Bye"])
    sessions = smtplogkit.read_logs(write(tmp_path, "maillog", "\n".join(lines) + "\n"), progress=False)
    assert len(sessions) == 20
    assert (sessions["cause"] == "recipient_rejected").all()
    assert (sessions["tls_mode"] == "starttls").all()
    (report,) = sessions.attrs["files"]
    assert (report["parsed"], report["noise"], report["unrecognised"]) == (60, 200, 0)


def test_postfix_tls_and_mx_fallback(tmp_path):
    text = (
        "Dec  4 10:00:00 mx postfix/smtp[200]: warning: TLS library problem: error:0A000410:SSL routines::sslv3 alert handshake failure\n"
        "Dec  4 10:00:00 mx postfix/smtp[200]: SSL_connect error to mx1.example.net[192.0.2.1]:25: -1\n"
        "Dec  4 10:00:00 mx postfix/smtp[200]: CCCC33333: Cannot start TLS: handshake failure\n"
        "Dec  4 10:00:01 mx postfix/smtp[200]: CCCC33333: lost connection with mx2.example.net[192.0.2.2] while performing the EHLO handshake\n"
        "Dec  4 10:00:02 mx postfix/smtp[200]: CCCC33333: to=<c@example.net>, relay=mx3.example.net[192.0.2.3]:25, "
        "delay=2, delays=0/0/1.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XYZ)\n"
    )
    got = rows(write(tmp_path, "maillog", text))
    assert [(r["ip"], r["failure_stage"], r["cause"]) for r in got] == [
        ("192.0.2.1", "tls", "tls_handshake_failure"),
        ("192.0.2.2", "ehlo", "server_disconnected"),
        ("192.0.2.3", "none", "ok"),
    ]
    assert {r["queue_id"] for r in got} == {"CCCC33333"}


def test_postfix_suspended_is_no_session(tmp_path):
    text = (
        "Dec  4 10:00:00 mx postfix/error[300]: DDDD44444: to=<d@example.org>, relay=none, delay=500, "
        "delays=499/1/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to "
        "mx.example.org[192.0.2.9]:25: Connection timed out)\n"
        "Dec  4 10:00:00 mx dovecot: imap-login: Login: user=<d>\n"
    )
    path = write(tmp_path, "maillog", text)
    assert rows(path, format="postfix") == []
    deliveries = smtplogkit.read_deliveries(path, format="postfix")
    assert list(deliveries["session"]) == [False]
    assert list(deliveries["cause"]) == ["connect_timeout"]
    assert smtplogkit.read_logs(path, format="postfix").attrs["files"][0]["noise"] == 1


def test_postfix_server_signals(tmp_path):
    text = (
        "Dec  4 10:00:00 mx postfix/postscreen[10]: NOQUEUE: reject: RCPT from [198.51.100.7]:40000: 550 5.7.1 "
        "Service unavailable; client [198.51.100.7] blocked using zen.spamhaus.org; from=<x@y>, to=<z@w>, proto=ESMTP, helo=<y>\n"
        "Dec  4 10:00:01 mx postfix/postscreen[10]: PREGREET 11 after 0.1 from [198.51.100.8]:40001: EHLO y\\r\\n\n"
        "Dec  4 10:00:02 mx postfix/smtpd[11]: warning: Connection concurrency limit exceeded: 51 from unknown[198.51.100.9] for service smtp\n"
        "Dec  4 10:00:03 mx postfix/smtpd[11]: NOQUEUE: reject: RCPT from unknown[198.51.100.10]: 554 5.7.1 <z@w>: Relay access denied; from=<x@y> to=<z@w> proto=ESMTP helo=<y>\n"
        "Dec  4 10:00:04 mx postfix/postscreen[10]: NOQUEUE: reject: CONNECT from [198.51.100.11]:40002: too many connections\n"
        "Dec  4 10:00:05 mx postfix/anvil[12]: statistics: max connection rate 31/60s for (smtp:198.51.100.9) at Dec  4 10:00:02\n"
    )
    signals = smtplogkit.read_signals(write(tmp_path, "maillog", text), format="postfix")
    assert list(signals["kind"]) == ["postscreen_reject", "postscreen_test_failed", "rate_limit", "smtpd_reject",
                                     "too_many_connections"]
    assert list(signals["client_ip"]) == ["198.51.100.7", "198.51.100.8", "198.51.100.9", "198.51.100.10",
                                          "198.51.100.11"]


def test_exim_mainlog(tmp_path):
    text = (
        "2026-12-04 09:59:59 H=(client) [192.0.2.51] F=<spam@example.biz> rejected RCPT <x@example.com>: relay not permitted\n"
        "2026-12-04 10:00:00 1wXyZa-0001aB-Cd <= alice@example.com H=(client) [192.0.2.50] P=esmtpsa S=1200\n"
        "2026-12-04 10:00:01 1wXyZa-0001aB-Cd H=mx1.example.org [192.0.2.1] Connection refused\n"
        "2026-12-04 10:00:02 1wXyZa-0001aB-Cd => bob@example.org R=dnslookup T=remote_smtp H=mx2.example.org [192.0.2.2] C=\"250 OK\"\n"
        "2026-12-04 10:00:02 1wXyZa-0001aB-Cd -> carol@example.org R=dnslookup T=remote_smtp H=mx2.example.org [192.0.2.2] C=\"250 OK\"\n"
        "2026-12-04 10:00:02 1wXyZa-0001aB-Cd Completed\n"
        "2026-12-04 10:01:00 1wXyZb-0001aB-Ce ** dan@example.net R=dnslookup T=remote_smtp H=mx.example.net [192.0.2.3]: "
        "SMTP error from remote mail server after RCPT TO:<dan@example.net>: 550 5.1.1 User unknown\n"
        "2026-12-04 10:02:00 1wXyZc-0001aB-Cf == erin@example.com R=dnslookup T=remote_smtp defer (-53): retry time not reached for any host\n"
        "2026-12-04 10:03:00 1wXyZd-0001aB-Cg == fay@example.com R=dnslookup T=remote_smtp defer (111): Connection refused H=mx.example.com [192.0.2.4]\n"
    )
    got = rows(write(tmp_path, "mainlog", text))
    assert [(r["ip"], r["failure_stage"], r["cause"], r["recipients"]) for r in got] == [
        ("192.0.2.1", "connect", "connect_refused", 0),
        ("192.0.2.2", "none", "ok", 2),
        ("192.0.2.3", "rcpt_to", "recipient_rejected", 1),
        ("192.0.2.4", "connect", "connect_refused", 1),
    ]
    deliveries = smtplogkit.read_deliveries(tmp_path / "mainlog")
    assert list(deliveries["status"]) == ["sent", "sent", "bounced", "deferred", "deferred"]
    assert list(deliveries["session"]) == [True, True, True, False, True]


def test_exim_debug_transcript(tmp_path):
    text = (
        " 4711 Connecting to mx.example.org [192.0.2.5]:25 ... connected\n"
        " 4711   SMTP<< 220 mx.example.org ESMTP\n"
        " 4711   SMTP>> EHLO relay.example.com\n"
        " 4711   SMTP<< 250 mx.example.org\n"
        " 4711   SMTP>> MAIL FROM:<alice@example.com>\n"
        " 4711   SMTP<< 421 4.7.0 Try again later, closing connection.\n"
        " 4711 LOG: MAIN\n"
        " 4711   H=mx.example.org [192.0.2.5]: SMTP error from remote mail server after MAIL FROM:<alice@example.com>: 421 4.7.0 Try again later, closing connection.\n"
    )
    got = rows(write(tmp_path, "exim-debug.log", text), format="exim")
    assert [(r["failure_stage"], r["cause"], r["reply_code"]) for r in got] == [("mail_from", "rate_limited", 421)]


def test_sendmail_records(tmp_path):
    text = (
        "Dec  4 10:00:00 mx sm-mta[500]: 4B4A00001234: to=<bob@example.org>, delay=00:00:30, xdelay=00:00:30, "
        "mailer=esmtp, pri=120, relay=mx.example.org. [192.0.2.10], dsn=4.0.0, stat=Deferred: Connection timed out with mx.example.org.\n"
        "Dec  4 10:00:05 mx sm-mta[501]: 4B4A00001235: to=<carol@example.net>, delay=00:00:02, xdelay=00:00:02, "
        "mailer=esmtp, pri=120, relay=mx.example.net. [192.0.2.20], dsn=4.7.0, stat=Deferred: 421 4.7.0 Try again later, closing connection. (MAIL)\n"
    )
    path = write(tmp_path, "maillog", text)
    got = rows(path)
    assert [(r["failure_stage"], r["cause"], r["reply_code"]) for r in got] == [
        ("connect", "connect_timeout", None), ("mail_from", "rate_limited", 421)]
    deliveries = smtplogkit.read_deliveries(path)
    assert list(deliveries["delay"]) == [30.0, 2.0]


@pytest.mark.parametrize("errormsg, stage, cause", [
    ("cannot connect to smtp.example.com, port 587: Connection timed out", "connect", "connect_timeout"),
    ("cannot locate host smtp.example.com: Name or service not known", "dns", "dns_nxdomain"),
    ("TLS handshake failed: The TLS connection was non-properly terminated.", "tls", "tls_handshake_failure"),
])
def test_msmtp_logfile(tmp_path, errormsg, stage, cause):
    text = (f"Dec 04 10:00:00 host=smtp.example.com tls=on auth=on user=alice@example.com from=alice@example.com "
            f"recipients=bob@example.org errormsg='{errormsg}' exitcode=EX_TEMPFAIL\n")
    got = rows(write(tmp_path, "msmtp.log", text))
    assert [(r["failure_stage"], r["cause"]) for r in got] == [(stage, cause)]
    assert got[0]["identity"] == "alice@example.com"


def test_msmtp_auth_reply(tmp_path):
    text = ("Dec 04 10:00:00 host=smtp.example.com tls=on auth=on user=alice from=alice@example.com recipients=b@example.org "
            "smtpstatus=535 smtpmsg='535 5.7.8 Username and Password not accepted' "
            "errormsg='authentication failed (method PLAIN)' exitcode=EX_NOPERM\n")
    got = rows(write(tmp_path, "msmtp.log", text))
    assert [(r["failure_stage"], r["cause"], r["reply_code"]) for r in got] == [("auth", "auth_failed", 535)]


def test_msmtp_multiline_reply(tmp_path):
    # msmtp joins the lines of Gmail's two-line 535 with a literal backslash-n; the row shows them as one line.
    text = ("Dec 04 10:00:00 host=smtp.gmail.com tls=on auth=on user=alice from=alice@example.com recipients=b@example.org "
            "smtpstatus=535 smtpmsg='535-5.7.8 Username and Password not accepted. For more information, go to\\n"
            "535 5.7.8  https://support.google.com/mail/?p=BadCredentials' errormsg='authentication failed (method PLAIN)' "
            "exitcode=EX_NOPERM\n")
    got = rows(write(tmp_path, "msmtp.log", text))
    assert got[0]["cause"] == "auth_failed"
    assert "\\n" not in got[0]["reply_text"]
    assert got[0]["reply_text"].endswith("go to 535 5.7.8  https://support.google.com/mail/?p=BadCredentials")


def test_msmtp_logfile_time(tmp_path):
    # msmtp's log file lines start with a time stamp without a year; the file name gives it.
    text = ("Dec 04 10:00:00 host=smtp.example.com tls=on auth=on user=alice from=alice@example.com "
            "recipients=b@example.org mailsize=312 smtpstatus=250 smtpmsg='250 2.0.0 OK' exitcode=EX_OK\n"
            "Dec 04 10:05:30 host=smtp.example.com tls=on auth=on user=alice from=alice@example.com "
            "recipients=b@example.org errormsg='cannot connect to smtp.example.com, port 587: Connection timed out' "
            "exitcode=EX_TEMPFAIL\n")
    path = write(tmp_path, "msmtp-2026-12-04.log", text)
    got = rows(path, tz="Europe/Berlin")

    assert [r["start"].isoformat() for r in got] == ["2026-12-04T09:00:00+00:00", "2026-12-04T09:05:30+00:00"]
    assert [r["cause"] for r in got] == ["ok", "connect_timeout"]


def test_chunked_rows_match(monkeypatch):
    from smtplogkit import reader

    whole = smtplogkit.read_logs(CAPTURE)
    monkeypatch.setattr(reader, "CHUNK_ROWS", 7)
    chunked = smtplogkit.read_logs(CAPTURE)
    # Rows of one read come in no fixed order, so compare them in line order.
    by_line = ["line", "session_id"]
    pd.testing.assert_frame_equal(whole.sort_values(by_line).reset_index(drop=True),
                                  chunked.sort_values(by_line).reset_index(drop=True))


def test_fast_envelope_same():
    from smtplogkit.envelope import strip_envelope as general

    options = EnvelopeOptions(year=2026, last_month=12)
    texts = CAPTURE.read_text().splitlines()
    texts += [f"2026-12-04T{t[7:15]}+00:00 {t[16:]}" for t in texts[:20]]
    texts += ["Dec  4 10:00:00.123456 mx postfix/smtp[1]: x", "mail    | Dec  4 10:00:00 mx postfix/smtp[1]: y", "plain"]
    for number, text in enumerate(texts, 1):
        assert postfix.strip_envelope(number, text, options) == general(number, text, options), text


def test_progress_off_returns_lines():
    from smtplogkit.progress import with_progress

    lines = ["a", "b"]
    assert with_progress(lines, "x", False) is lines
    assert list(with_progress(iter(lines), "x", True)) == lines


def test_postfix_lmtp_and_local(tmp_path):
    text = (
        "Dec  4 10:00:00 mx postfix/lmtp[400]: EEEE55555: to=<u@example.com>, relay=mail.example.com[private/dovecot-lmtp], "
        "delay=0.1, delays=0.05/0/0/0.05, dsn=2.0.0, status=sent (250 2.0.0 <u@example.com> abc Saved)\n"
        "Dec  4 10:00:01 mx postfix/lmtp[400]: FFFF66666: to=<v@example.com>, relay=mail.example.com[private/dovecot-lmtp], "
        "delay=0.1, delays=0.05/0/0/0.05, dsn=4.2.2, status=deferred (host mail.example.com[private/dovecot-lmtp] said: "
        "452 4.2.2 <v@example.com> Quota exceeded (mailbox for user is full) (in reply to end of DATA command))\n"
        "Dec  4 10:00:02 mx postfix/local[401]: ABCD77777: to=<root@mx.example.com>, orig_to=<root>, relay=local, "
        "delay=0.01, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)\n"
    )
    path = write(tmp_path, "maillog", text)
    got = rows(path)
    assert [(r["ip"], r["failure_stage"], r["cause"]) for r in got] == [
        (None, "none", "ok"), (None, "data", "recipient_rejected")]
    deliveries = smtplogkit.read_deliveries(path)
    assert list(deliveries["session"]) == [True, True, False]
    assert list(deliveries["orig_recipient"].fillna("")) == ["", "", "root"]


@pytest.mark.skipif(os.environ.get("SMTPLOGKIT_CAPTURE") != "1" or not Path("/usr/sbin/postfix").exists(),
                    reason="set SMTPLOGKIT_CAPTURE=1 as root with Debian postfix installed (takes about a minute)")
def test_capture_reproduces(tmp_path):
    """A fresh capture gives the same stages and causes as the committed one."""
    import collections
    import subprocess
    import sys

    target = tmp_path / "maillog"
    script = Path(__file__).parents[1] / "tools" / "capture" / "postfix" / "capture.py"
    subprocess.run([sys.executable, str(script), str(target)], check=True, timeout=300)
    fresh = collections.Counter((r["failure_stage"], r["cause"]) for r in rows(target))
    committed = collections.Counter((e["failure_stage"], e["cause"]) for e in EXPECTED)
    assert fresh == committed


def test_orphan_attempts_bounded():
    """Connect lines whose delivery records are missing do not pile up in memory."""
    options = EnvelopeOptions(year=2026, last_month=12)
    texts = [f"Dec  4 10:00:{n % 60:02d} mx postfix/smtp[77]: connect to mx.example.net[192.0.2.{n % 250}]:25: "
             "Connection timed out" for n in range(200)]
    consumed = 0

    def lines():
        nonlocal consumed
        for number, text in enumerate(texts, 1):
            consumed = number
            yield strip_envelope(number, text, options)

    ended_at = []
    for item in postfix.parse(lines(), ParseContext("orphans")):
        if isinstance(item, SessionEnd):
            ended_at.append(consumed)
    assert len(ended_at) == 200
    assert ended_at[0] == postfix.MAX_WAITING + 1
    assert ended_at[199 - postfix.MAX_WAITING] == 200


def test_every_attempt_names_log_host():
    frame = smtplogkit.read_logs(CAPTURE, format="postfix", progress=False)
    assert frame["outcome"].eq("ok").any()
    assert frame["log_host"].notna().all()


def test_deliveries_across_rotation(tmp_path):
    lines = CAPTURE.read_text().splitlines(keepends=True)
    whole = smtplogkit.read_deliveries(CAPTURE)
    # Cut between each message's qmgr "from=" line and its first delivery record.
    cut = next(n for n, text in enumerate(lines) if "postfix/smtp[" in text and "status=" in text)
    folder = tmp_path / "relay"
    folder.mkdir()
    (folder / "maillog.1").write_text("".join(lines[:cut]))
    (folder / "maillog").write_text("".join(lines[cut:]))
    split = smtplogkit.read_deliveries(folder)
    assert list(split["sender"]) == list(whole["sender"])
    assert split["sender"].notna().sum() > 0
    assert set(split["source"]) == {str(folder / "maillog")}
    assert list(split["line"]) == [n - cut for n in whole["line"]]
    assert [f["source"] for f in split.attrs["files"]] == [str(folder / "maillog.1"), str(folder / "maillog")]


def test_postfix_partial_counts_rejected(tmp_path):
    text = (
        "Dec  5 00:00:01 mx1 postfix/smtp[1003]: CCC333: to=<dave@reject.example>, relay=mx.reject.example[192.0.2.30]:25, "
        "delay=2, delays=0.1/0/1/0.9, dsn=5.1.1, status=bounced (host mx.reject.example[192.0.2.30] said: 550 5.1.1 "
        "<dave@reject.example>: Recipient address rejected: User unknown (in reply to RCPT TO command))\n"
        "Dec  5 00:00:01 mx1 postfix/smtp[1003]: CCC333: to=<erin@reject.example>, relay=mx.reject.example[192.0.2.30]:25, "
        "delay=2, delays=0.1/0/1/0.9, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 77)\n"
    )
    (row,) = rows(write(tmp_path, "maillog", text), format="postfix")
    assert (row["failure_stage"], row["outcome"]) == ("rcpt_to", "partial")
    assert (row["recipients"], row["recipients_rejected"], row["messages_sent"]) == (2, 1, 1)


def test_postfix_forced_on_other_log_warns(tmp_path):
    text = "21:00:00.000001 send: 'ehlo worker\\r\\n'\n21:00:00.100000 reply: b'250 ok\\r\\n'\n-- Boot 0123 --\n"
    frame = smtplogkit.read_logs(write(tmp_path, "app.log", text), format="postfix")
    report = frame.attrs["files"][0]
    assert (report["unrecognised"], report["noise"]) == (2, 1)
    assert "unrecognised line" in report["warnings"][0]


@pytest.mark.parametrize("rejected_first", [True, False])
def test_exim_partial_delivery(tmp_path, rejected_first):
    host = "H=mx.example.org [198.51.100.7] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes"
    rejected = (f"2026-12-04 10:00:01 1wXyZe-0001aB-Ch ** bad@example.org R=dnslookup T=remote_smtp {host}: SMTP error "
                "from remote mail server after RCPT TO:<bad@example.org>: 550 5.1.1 <bad@example.org>: User unknown\n")
    sent = f"2026-12-04 10:00:01 1wXyZe-0001aB-Ch => good@example.org R=dnslookup T=remote_smtp {host} C=\"250 2.0.0 Ok\"\n"
    text = ("2026-12-04 10:00:00 1wXyZe-0001aB-Ch <= alice@example.com H=(client) [192.0.2.50] P=esmtpsa S=1200\n"
            + (rejected + sent if rejected_first else sent + rejected)
            + "2026-12-04 10:00:01 1wXyZe-0001aB-Ch Completed\n")
    (row,) = rows(write(tmp_path, "mainlog", text))

    assert row["failure_stage"] == "rcpt_to"
    assert row["outcome"] == "partial"
    assert row["recipients"] == 2
    assert row["recipients_rejected"] == 1
    assert row["messages_sent"] == 1


def test_exim_tls_field(tmp_path):
    text = ('2026-12-04 10:00:01 1wXyZf-0001aB-Ci => bob@example.org R=dnslookup T=remote_smtp H=mx.example.org '
            '[198.51.100.7] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C="250 2.0.0 Ok"\n'
            '2026-12-04 10:00:02 1wXyZg-0001aB-Cj => carol@example.org R=dnslookup T=remote_smtp H=mx.example.net '
            '[198.51.100.8] C="250 OK"\n')
    tls, plain = rows(write(tmp_path, "mainlog", text))

    assert tls["tls_mode"] == "starttls"
    assert tls["last_stage_reached"] == "data"
    assert tls["tls_s"] == 0.0
    assert plain["tls_mode"] is None


@pytest.mark.parametrize("older, old, live", [
    ("maillog-20261122", "maillog-20261129.gz", "maillog"),  # logrotate's dateext
    ("maillog-2026-11-22", "maillog-2026-11-29.gz", "maillog"),  # dateformat -%Y-%m-%d
    ("mail-20261122.log", "mail-20261129.log.gz", "mail.log"),  # extension .log
])
def test_dated_rotations_in_order(tmp_path, older, old, live):
    lines = CAPTURE.read_text().splitlines(keepends=True)
    third = len(lines) // 3
    (tmp_path / old).write_bytes(gzip.compress("".join(lines[third:2 * third]).encode()))
    (tmp_path / older).write_text("".join(lines[:third]))
    (tmp_path / live).write_text("".join(lines[2 * third:]))
    whole = smtplogkit.read_logs(CAPTURE)
    sessions = smtplogkit.read_logs(tmp_path)

    files = sessions.attrs["files"]
    assert [f["source"].rsplit("/", 1)[-1] for f in files] == [older, old, live]
    assert sum(f["lines"] for f in files) == len(lines)
    # Read as one stream: no attempt is cut in two where the files meet.
    assert len(sessions) == len(whole)
    assert sorted(sessions["cause"].astype(str)) == sorted(whole["cause"].astype(str))


def test_exim_smarthost_auth_failure(tmp_path):
    # Exim logs a failed AUTH at a smarthost on two lines: the authenticator's
    # failure with the server's reply, then the recipient's deferral with errno -42.
    text = (
        "2026-12-05 10:00:00 1tAbCd-000123-AB <= app@acme.example H=localhost [127.0.0.1] P=esmtpa S=1234\n"
        "2026-12-05 10:00:01 1tAbCd-000123-AB smarthost_login authenticator failed H=smarthost.example.net "
        "[192.0.2.10] 535 5.7.8 Error: authentication failed: authentication failure\n"
        "2026-12-05 10:00:01 1tAbCd-000123-AB == bob@customer.example R=smarthost T=remote_smtp_smarthost "
        "defer (-42): authentication required but authentication attempt(s) failed\n"
    )
    (row,) = rows(write(tmp_path, "mainlog", text))

    assert row["host"] == "smarthost.example.net"
    assert row["failure_stage"] == "auth"
    assert row["cause"] == "auth_failed"
    assert row["reply_code"] == 535
    assert row["enhanced_code"] == "5.7.8"
    assert row["recipients"] == 1

    (delivery,) = smtplogkit.read_deliveries(tmp_path / "mainlog").to_dict(orient="records")
    assert delivery["status"] == "deferred"
    assert delivery["failure_stage"] == "auth"
    assert delivery["cause"] == "auth_failed"


def test_exim_auth_defer_alone(tmp_path):
    # Without the authenticator's line (a filtered log), errno -42 still names the AUTH step.
    text = (
        "2026-12-05 10:00:01 1tAbCd-000123-AB == bob@customer.example R=smarthost T=remote_smtp_smarthost "
        "defer (-42): authentication required but authentication attempt(s) failed\n"
    )
    (row,) = rows(write(tmp_path, "mainlog", text))

    assert row["failure_stage"] == "auth"
    assert row["cause"] == "auth_failed"


def test_exim_debug_retry_lines_only(tmp_path):
    # An exim -d excerpt about retries alone: Exim tried no host, so no session, but the file reads as Exim.
    text = (
        " 4711 Retry rule: *  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h;\n"
        " 4711 no retry data available\n"
        " 4711 LOG: retry_defer MAIN\n"
        " 4711   == bob@example.net R=dnslookup T=remote_smtp defer (-53): retry time not reached for any host "
        "for 'example.net'\n"
    )
    frame = smtplogkit.read_logs(write(tmp_path, "exim-debug.log", text))
    (report,) = frame.attrs["files"]

    assert report["format"] == "exim"
    assert len(frame) == 0
    assert report["unrecognised"] == 0
    assert any("Exim tried no host" in warning for warning in report["warnings"])


def test_exim_retry_lines_without_process_ids(tmp_path):
    text = (
        "Retry rule: *  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h;\n"
        "no retry data available\n"
        "SMTP timeout\n"
        "all hosts for 'example.net' have been failing for a long time (and retry time not reached)\n"
    )
    frame = smtplogkit.read_logs(write(tmp_path, "pasted.log", text))
    (report,) = frame.attrs["files"]

    assert report["format"] == "exim"
    assert len(frame) == 0
    assert report["unrecognised"] == 0


def test_exim_retry_items_name_failed_hosts(tmp_path):
    # Exim records each failed host as a retry item; its errno gives the step and cause.
    text = (
        " 4711 checking retry status of mx.example.net\n"
        " 4711 added retry item for T:mx.example.net:192.0.2.5: errno=111 more_errno=0,M flags=2\n"
        " 4711 added retry item for T:mx2.example.net:192.0.2.6:2525: errno=110 more_errno=1,M flags=2\n"
        " 4711 added retry item for T:mx3.example.net:2001:db8::7: errno=-44 more_errno=51,M flags=2\n"
        " 4711 added retry item for T:mx4.example.net:192.0.2.8: errno=110 more_errno=0,M flags=2\n"
        " 4711 added retry item for T:mx5.example.net:192.0.2.9: errno=-45 more_errno=13056 flags=2\n"
        "all host address lookups for 'example.org' failed permanently\n"
    )
    got = rows(write(tmp_path, "exim-debug.log", text), format="exim")

    assert [(r["host"], r["ip"], r["port"]) for r in got] == [
        ("mx.example.net", "192.0.2.5", None),
        ("mx2.example.net", "192.0.2.6", 2525),
        ("mx3.example.net", "2001:db8::7", None),
        ("mx5.example.net", "192.0.2.9", None),
        ("example.org", None, None),
    ]
    assert [(r["failure_stage"], r["cause"], r["reply_code"]) for r in got] == [
        ("connect", "connect_refused", None),
        ("connect", "connect_timeout", None),
        ("rcpt_to", "server_unavailable", 451),
        ("mail_from", "server_unavailable", 451),
        ("dns", "dns_nxdomain", None),
    ]


def test_exim_retry_item_repeats_attempt(tmp_path):
    text = (
        " 4711 Connecting to mx.example.net [192.0.2.5]:25 ... failed: Connection refused\n"
        " 4711 added retry item for T:mx.example.net:192.0.2.5: errno=111 more_errno=0,M flags=2\n"
    )
    (row,) = rows(write(tmp_path, "exim-debug.log", text), format="exim")

    assert (row["line"], row["port"], row["cause"]) == (1, 25, "connect_refused")


@pytest.mark.parametrize("after, stage", [
    ("RCPT TO:<a@example.net>", "rcpt_to"),
    ("pipelined RCPT TO:<a@example.net>", "rcpt_to"),
    ("MAIL FROM:<alice@example.com> SIZE=1234", "mail_from"),
    ("pipelined end of data", "data"),
    ("initial connection", "greeting"),
])
def test_exim_debug_cut_middle_stage_from_log_line(tmp_path, after, stage):
    # The excerpt's middle was cut: the failing reply is missing and DATA was the last command shown.
    # The stage comes from the "after ..." of the main-log copy, on the attempt the transcript opened.
    text = (
        " 5120 Connecting to mx.example.net [192.0.2.5]:25 ... connected\n"
        " 5120   SMTP<< 220 mx.example.net ESMTP\n"
        " 5120   SMTP>> EHLO relay.example.com\n"
        "...\n"
        " 5120   SMTP>> DATA\n"
        " 5120 LOG: MAIN\n"
        f" 5120   H=mx.example.net [192.0.2.5]: SMTP error from remote mail server after {after}: "
        "550 5.7.1 Rejected\n"
    )
    (row,) = rows(write(tmp_path, "exim-debug.log", text), format="exim")

    assert (row["host"], row["port"]) == ("mx.example.net", 25)
    assert row["failure_stage"] == stage
    assert row["reply_code"] == 550


def test_exim_smtp_timeout_after_command(tmp_path):
    # "SMTP timeout after X" is a reply that never came to X, not a connect timeout.
    debug = (
        " 5120 Connecting to mx.example.net [192.0.2.5]:25 ... connected\n"
        " 5120   SMTP>> RCPT TO:<a@example.net>\n"
        " 5120 LOG: MAIN\n"
        " 5120   H=mx.example.net [192.0.2.5]: SMTP timeout after RCPT TO:<a@example.net>: Connection timed out\n"
    )
    mainlog = (
        "2026-12-05 10:00:00 1tAbCd-000123-AB == bob@example.net R=dnslookup T=remote_smtp defer (110): "
        "Connection timed out H=mx.example.net [192.0.2.5]: SMTP timeout after end of data (1234 bytes written)\n"
    )
    (from_debug,) = rows(write(tmp_path, "exim-debug.log", debug), format="exim")
    (from_mainlog,) = rows(write(tmp_path, "mainlog", mainlog))
    (delivery,) = smtplogkit.read_deliveries(tmp_path / "mainlog").to_dict(orient="records")

    assert (from_debug["failure_stage"], from_debug["cause"]) == ("rcpt_to", "read_timeout")
    assert (from_mainlog["failure_stage"], from_mainlog["cause"]) == ("data", "read_timeout")
    assert (delivery["failure_stage"], delivery["cause"]) == ("data", "read_timeout")


def test_exim_debug_bare_smtp_timeout(tmp_path):
    text = (
        " 5120 Connecting to mx.example.net [192.0.2.5]:25 ... connected\n"
        " 5120   SMTP<< 220 mx.example.net ESMTP\n"
        " 5120   SMTP>> EHLO relay.example.com\n"
        " 5120   SMTP<< 250 mx.example.net Hello\n"
        " 5120   SMTP>> MAIL FROM:<alice@example.com>\n"
        " 5120 SMTP timeout\n"
    )
    (row,) = rows(write(tmp_path, "exim-debug.log", text), format="exim")

    assert (row["failure_stage"], row["cause"]) == ("mail_from", "read_timeout")
