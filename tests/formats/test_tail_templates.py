"""Tail templates give the rows of the general path for failing sessions whose replies all differ.

A failing smtplib or nodemailer session whose reply carries an id never
repeats whole, but its lines before the first failing reply often do.  The
segment readers then keep the parser's and the row builder's state at that
point (:class:`smtplogkit.formats._templates.TailTemplate`) and read only
the tail of later segments.  These tests write logs whose sessions share
their opening lines and fail with replies that change the cause, the stage,
the reply code, the address in the error and the redacted text.  They
compare the frames with those of ``templates=False`` and of the general
path (``quick=False``).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import smtplogkit
from smtplogkit.formats import nodemailer, smtplib
from smtplogkit.formats.base import ParseContext
from smtplogkit.records import Line
from smtplogkit.sessions import SessionState, build_session, copy_state, finish_row, walk_events

from .format_helpers import read_both_dates, restamp

# Failing replies, {n} standing for a number of the session's own.  They differ in cause (rate
# limits, greylisting, relay and policy rejections), in the stage a nodemailer error names
# ("authentication"), in the address an error carries, in code and enhanced code, and some carry
# credentials that must be redacted.
FAILURES = [
    "421 4.7.0 Try again later {n}, closing connection.",
    "451 4.7.1 Greylisted, please retry in 300 seconds {n}",
    "450 4.2.1 Too many connections from your IP {n}",
    "550 5.7.1 Relaying denied {n}",
    "530 5.7.0 Must issue a STARTTLS command first {n}",
    "535 5.7.8 Username and Password not accepted {n}",
    "530 5.7.0 authentication required {n}",
    "554 5.7.1 certificate rejected for {n}",
    "421 4.4.2 connect ECONNREFUSED 198.51.100.{n}:25",
    "554 5.7.139 basic authentication is disabled {n}",
    "535 5.7.8 AUTH PLAIN AGFnZW50QGV4YW1wbGUuY29tAGh1bnRlcjI= rejected {n}",
    "535 5.7.8 token Bearer ya29.a0AfH6SMBx{n}secret expired",
    "552 5.3.4 password=hunter2 message too big {n}",
    "421 {n}",
    "500 syntax error",
]
SECRETS = ("hunter2", "AGFnZW50QGV4YW1wbGUuY29tAGh1bnRlcjI", "ya29.a0AfH6SMB")


def _reply(rng: random.Random) -> str:
    """Return a failing reply, numbered from a small set most of the time so that some tails repeat too."""
    number = rng.choice((1, 2)) if rng.random() < 0.2 else rng.randrange(10**6)
    return rng.choice(FAILURES).format(n=number)


def _smtplib_session(rng: random.Random, reply: str) -> list[str]:
    """Return one smtplib connection that fails at MAIL FROM with ``reply``, and may go on after it."""
    stamp = "00:00:00.000000"
    lines = [f"{stamp} connect: to ('smtp.example.com', 587) None",
             f"{stamp} reply: b'220 smtp.example.com ESMTP\\r\\n'",
             f"{stamp} reply: retcode (220); Msg: b'smtp.example.com ESMTP'",
             f"{stamp} connect: b'smtp.example.com ESMTP'",
             f"{stamp} send: 'ehlo worker-7\\r\\n'",
             f"{stamp} reply: b'250-smtp.example.com\\r\\n'",
             f"{stamp} reply: b'250 AUTH LOGIN PLAIN\\r\\n'",
             f"{stamp} reply: retcode (250); Msg: b'smtp.example.com\\nAUTH LOGIN PLAIN'",
             f"{stamp} send: 'mail FROM:<agent@example.com>\\r\\n'"]
    shape = rng.random()
    if shape < 0.15:
        # A reply of two lines, the first of which starts the tail.
        lines += [f"{stamp} reply: b'{reply[:3]}-{reply[4:]}\\r\\n'", f"{stamp} reply: b'{reply[:3]} see above\\r\\n'"]
    elif shape < 0.25:
        lines.append(f"{stamp} reply: b'{reply} caf\\xc3\\xa9\\r\\n'")  # an escape: decoded by _literal
    else:
        lines.append(f"{stamp} reply: b'{reply}\\r\\n'")
    lines.append(f"{stamp} reply: retcode ({reply[:3]}); Msg: b'{reply[4:]}'")
    after = rng.random()
    if after < 0.3:
        lines += [f"{stamp} send: 'quit\\r\\n'", f"{stamp} reply: b'221 2.0.0 Bye\\r\\n'"]
    elif after < 0.4:
        # A tail that opens the next connection without a connect line: the segment is read as usual.
        lines += [f"{stamp} send: 'ehlo worker-7\\r\\n'", f"{stamp} reply: b'250 smtp.example.com\\r\\n'"]
    return lines


def _smtplib_log(seed: int, sessions: int = 1200) -> str:
    """Return an smtplib debug level 2 log of failing and successful connections, cut inside the last one."""
    rng = random.Random(seed)
    lines: list[str] = []
    moment = datetime(2026, 3, 2, 21, 0)
    for _ in range(sessions):
        session = _smtplib_session(rng, _reply(rng))
        if rng.random() < 0.3:
            # A session without a failure, which keeps the segment reader looking for repeats.
            session = session[:-2] if session[-1].endswith("Bye\\r\\n'") else session
            session = [text for text in session if " reply: b'4" not in text and " reply: b'5" not in text]
        lines += restamp(session, moment, timedelta(milliseconds=rng.choice((0, 1, 40))))
        moment += timedelta(seconds=rng.choice((1, 30, 200)))
    tail = _smtplib_session(rng, _reply(rng))
    cut = next(index for index, text in enumerate(tail) if " reply: b'4" in text or " reply: b'5" in text) + 1
    lines += restamp(tail[:cut], moment, timedelta(milliseconds=1))  # the file ends at the failing reply
    return "\n".join(lines) + "\n"


def _nodemailer_session(rng: random.Random, sid: str, reply: str, stamp: str) -> list[str]:
    """Return one nodemailer send that fails at MAIL FROM with ``reply``, with the logger's errors and the error object."""
    head = f"{stamp} DEBUG [{sid}]"
    lines = [f"{stamp} DEBUG Sending mail using SMTP/10.6.1[client:10.6.1]",
             f"{head} Resolved smtp.example.com as 192.0.2.25 [cache miss]",
             f"{stamp} INFO  [{sid}] Connection established to 192.0.2.25:587",
             f"{head} S: 220 smtp.example.com ESMTP ready",
             f"{head} C: EHLO [10.0.0.7]",
             f"{head} S: 250-smtp.example.com",
             f"{head} S: 250 AUTH LOGIN PLAIN",
             f"{head} C: AUTH PLAIN AGFnZW50QGV4YW1wbGUuY29tAC8qIHNlY3JldCAqLw==",
             f"{head} S: 235 2.7.0 Authentication successful",
             f"{stamp} INFO  Sending message <m{rng.randrange(10**9)}@example.com> to <customer@example.org>",
             f"{head} C: MAIL FROM:<agent@example.com>"]
    if rng.random() < 0.15:
        lines.append(f"{head} S: {reply[:3]}-{reply[4:]}")
        reply = f"{reply[:3]} see above"
    lines.append(f"{head} S: {reply}")
    error = f"Mail command failed: {reply}"
    shape = rng.random()
    if shape < 0.2:
        lines.append(f"{stamp} WARN  [{sid}] {error}")  # the logger's error with the connection id
    else:
        lines.append(f"{stamp} ERROR Send error for <m1@example.com>: {error}")
    lines += [f'{head} Closing connection to the server using "end"', f"{stamp} ERROR Send Error: {error}"]
    if shape < 0.9:
        lines += [f"Error: {error}",
                  "    at SMTPConnection._formatError (/srv/app/node_modules/nodemailer/lib/smtp-connection/index.js:1:1) {",
                  "  code: 'EENVELOPE',", f"  response: '{reply}',", f"  responseCode: {reply[:3]},",
                  "  command: 'MAIL FROM'", "}"]
    return lines


def _nodemailer_success(sid: str, stamp: str) -> list[str]:
    """Return one nodemailer send that goes well."""
    head = f"{stamp} DEBUG [{sid}]"
    return [f"{stamp} DEBUG Sending mail using SMTP/10.6.1[client:10.6.1]",
            f"{head} Resolved smtp.example.com as 192.0.2.25 [cache miss]",
            f"{stamp} INFO  [{sid}] Connection established to 192.0.2.25:587",
            f"{head} S: 220 smtp.example.com ESMTP ready", f"{head} C: EHLO [10.0.0.7]",
            f"{head} S: 250 smtp.example.com", f"{head} C: MAIL FROM:<agent@example.com>",
            f"{head} S: 250 2.1.0 Ok", f"{head} C: RCPT TO:<b@example.com>", f"{head} S: 250 2.1.5 Ok",
            f"{head} C: DATA", f"{head} S: 354 go ahead", f"{head} .", f"{head} S: 250 2.0.0 Ok: queued",
            f'{head} Closing connection to the server using "end"', "Message sent: <x@example.com>"]


def _nodemailer_log(seed: int, sessions: int = 1200) -> str:
    """Return a nodemailer log of failing and successful sends, which ends inside a failing one."""
    rng = random.Random(seed)
    lines: list[str] = []
    moment = datetime(2026, 3, 2, 8, 0)
    for number in range(sessions):
        stamp = moment.strftime("[%Y-%m-%d %H:%M:%S]")
        sid = f"c{number}x"
        if rng.random() < 0.3:
            lines += _nodemailer_success(sid, stamp)
        else:
            lines += _nodemailer_session(rng, sid, _reply(rng), stamp)
        if rng.random() < 0.03 and number:
            # A connection that logs again after its row was made.
            lines.append(f"{stamp} DEBUG [c{rng.randrange(number)}x] S: 221 Bye")
        moment += timedelta(seconds=rng.choice((0, 1, 30)))
    last = _nodemailer_session(rng, "cut", _reply(rng), moment.strftime("[%Y-%m-%d %H:%M:%S]"))
    cut = rng.randrange(12, len(last))  # after the failing reply, maybe inside the error object
    return "\n".join(lines + last[:cut]) + "\n"


def _tail_hits(monkeypatch, module) -> list[int]:
    """Count the rows made from tail templates."""
    hits = [0]
    apply = module._Segments._apply_tail

    def counted(self, *args):
        done = apply(self, *args)
        hits[0] += done
        return done

    monkeypatch.setattr(module._Segments, "_apply_tail", counted)
    return hits


@pytest.mark.parametrize("name,seed", [("smtplib", 1), ("smtplib", 2), ("nodemailer", 3), ("nodemailer", 4)])
def test_tail_rows_match(tmp_path, monkeypatch, name, seed):
    log = tmp_path / f"{name}-2026-03-02.log"
    log.write_text(_smtplib_log(seed) if name == "smtplib" else _nodemailer_log(seed))
    module = smtplib if name == "smtplib" else nodemailer

    general = read_both_dates([log], name, monkeypatch, quick=False)
    plain = read_both_dates([log], name, monkeypatch, templates=False)
    with monkeypatch.context() as patch:
        hits = _tail_hits(patch, module)
        fast = read_both_dates([log], name, monkeypatch)
    for quick, without, slow in zip(fast, plain, general):
        pd.testing.assert_frame_equal(quick, slow, check_exact=True)
        pd.testing.assert_frame_equal(without, slow, check_exact=True)
        assert quick.attrs == slow.attrs
    assert hits[0] > 400  # most failing sessions took the tail path
    dated = fast[1]
    assert dated["cause"].nunique() >= 5
    assert dated["failure_stage"].nunique() >= 2
    assert dated["reply_text"].nunique() > 300


@pytest.mark.parametrize("name,seed", [("smtplib", 5), ("nodemailer", 6)])
def test_tail_rows_redact_secrets(tmp_path, monkeypatch, name, seed):
    log = tmp_path / f"{name}-2026-03-02.log"
    log.write_text(_smtplib_log(seed, 400) if name == "smtplib" else _nodemailer_log(seed, 400))
    with monkeypatch.context() as patch:
        hits = _tail_hits(patch, smtplib if name == "smtplib" else nodemailer)
        frame = smtplogkit.read_logs(log, format=name, date=datetime(2026, 3, 2).date())
    assert hits[0] > 100
    texts = [str(value) for value in frame.to_numpy().ravel()]
    texts += [str(frame.attrs)]
    for secret in SECRETS:
        assert not any(secret in text for text in texts), secret
    assert frame["reply_text"].str.contains("<redacted>", regex=False).any()


def test_tail_start_positions():
    # The key is made of the lines before the first failing reply, so it leaves out the reply's id.
    parts = (" connect: to ('h', 587) None", " reply: b'220 ok\\r\\n'", " reply: b'421 4.7.0 later 17\\r\\n'",
             " reply: b'421 4.7.0 later 17\\r\\n'")
    assert smtplib._tail_start(parts) == 2
    assert smtplib._tail_start(parts[:2]) is None
    assert smtplib._tail_start((" reply: b\"550 no\\r\\n\"",)) == 0
    assert nodemailer._tail_start(["Resolved x", "S: 250 ok", "S: 550 no"]) == 2
    assert nodemailer._tail_start(["Resolved x", ("!", "Connection timeout")]) == 1
    assert nodemailer._tail_start(["Resolved x", "S: 250 ok"]) is None


def _events(texts: list[str]) -> list:
    """Return the events of nodemailer logger lines, read by the general path."""
    ctx = ParseContext("x")
    lines = [Line(number, text) for number, text in enumerate(texts, 1)]
    return [event for event in nodemailer.parse(lines, ctx, quick=False) if event.session is not None]


def test_builder_resumes_from_copy():
    texts = _nodemailer_session(random.Random(1), "s1", "550 5.7.1 Relaying denied 7", "[2026-03-02 08:00:00]")
    events = _events(texts)
    split = next(index for index, event in enumerate(events) if event.code is not None and event.code >= 400)
    state = SessionState()
    walk_events(state, events[:split])
    original = copy_state(state)
    resumed = copy_state(state)
    walk_events(resumed, events[split:])
    assert finish_row(resumed, events[0].line) == build_session(events)
    # The state the copies came from is unchanged, so it can start any number of them.
    again = copy_state(original)
    walk_events(again, events[split:])
    assert finish_row(again, events[0].line) == build_session(events)
    assert state.failures == []
    assert len(state.texts) == len(original.texts)


def test_needles_agree_with_patterns():
    texts = ["Invalid login: 535 5.7.8 no", "invalid LOGIN", "xInvalid login", "Missing credentials for PLAIN",
             "530 Authentication required", "AUTHENTICATION", "Can't create new access token for user",
             "can't CREATE new access token", "Mail command failed: 421 try later", "Connection timeout",
             "SSL routines:ssl3_get_record:wrong version number", "self-signed Certificate in chain",
             "STARTTLS failed: TLS alert", "xtlsx", "tls", "Client network socket disconnected before secure TLS",
             "HandShake failed", "handshakes", "\u017fsl routines", "\u212aey", "caf\u00e9 TLS", "caf\u00e9 tls\u00e9",
             "", "421 4.7.0 Try again later, closing connection."]
    for pattern in nodemailer._NEEDLES:
        for text in texts:
            assert nodemailer._found(pattern, text) == (pattern.search(text) is not None), (pattern.pattern, text)
    # The needles leave out texts that the patterns do not match, which is what makes them faster.
    assert not nodemailer._found(nodemailer.TLS_WORDS, "Mail command failed: 421 try later")
    assert nodemailer._found(nodemailer.TLS_WORDS, "\u017fsl routines")  # the long s matches "s" only in the pattern
