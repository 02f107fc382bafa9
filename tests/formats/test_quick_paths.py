"""The quick paths of the smtplib and nodemailer parsers read lines as their general paths do.

Each test parses the same lines twice, once with ``quick=False`` (every line
through the general path) and once as ``read_logs`` does, and compares the
events, the line counts and the session rows.  The inputs are every fixture
of the two formats plus excerpts written to reach the quick paths' edges.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import smtplogkit
from smtplogkit.envelope import EnvelopeOptions, strip_envelope
from smtplogkit.formats import nodemailer, smtplib
from smtplogkit.formats.base import ParseContext, ParseOptions
from smtplogkit.records import SessionEnd
from smtplogkit.sessions import build_session

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = sorted(
    [*(ROOT / "tests" / "captures").rglob("*.log"), *(ROOT / "tests" / "cases").glob("*.log"),
     *(ROOT / "sample_data").rglob("*.log")]
)

# Lines near the quick path's edges: a day that rolls over, a reply without
# the space after the colon, a time that is not one, escapes in a reply, a
# traceback in the middle, a LOGIN exchange.
SMTPLIB_EDGES = """\
23:59:59.900000 connect: to ('smtp.example.com', 587) None
23:59:59.950000 reply: b'220 smtp.example.com ESMTP\\r\\n'
23:59:59.950100 reply: retcode (220); Msg: b'smtp.example.com ESMTP'
00:00:00.100000 send: 'ehlo me\\r\\n'
00:00:00.150000 reply:b'250-smtp.example.com\\r\\n'
00:00:00.150100 reply: b'250 AUTH LOGIN\\r\\n'
00:00:00.200000 send: 'AUTH LOGIN\\r\\n'
00:00:00.250000 reply: b'334 VXNlcm5hbWU6\\r\\n'
00:00:00.300000 send: 'dXNlckBleGFtcGxlLmNvbQ==\\r\\n'
00:00:00.350000 reply: b'334 UGFzc3dvcmQ6\\r\\n'
00:00:00.400000 send: 'c2VjcmV0\\r\\n'
00:00:00.450000 reply: b'235 2.7.0 ok \\xc3\\xa9t\\xc3\\xa9\\r\\n'
00:00:00.500000 send: 'mail FROM:<a@example.com>\\r\\n'
00:00:00.550000 reply: b'250 2.1.0 Ok\\r\\n'
00:00:00.600000 send: 'rcpt TO:<b@example.com>\\r\\n'
00:00:00.650000 reply: b'550 5.1.1 <b@example.com>: no such user\\r\\n'
Traceback (most recent call last):
  File "mailer.py", line 3, in <module>
    s.sendmail("a@example.com", ["b@example.com"], "x")
smtplib.SMTPRecipientsRefused: {'b@example.com': (550, b'5.1.1 <b@example.com>: no such user')}
00:00:01.000000 send: 'quit\\r\\n'
00:00:01.050000 connect fail: [Errno 111] Connection refused
00:00:01.1 reply: b'250 ok\\r\\n'
22:00:00.000000 send: 'ehlo again\\r\\n'
22:00:00.050000 reply: b'250 ok\\r\\n'
22:00:00.100000 data: (250, b'ok')
22:00:00.150000 send: b'Subject: x\\r\\n\\r\\nbody\\r\\n.\\r\\n'
"""


# Logger lines near the quick path's edges: a pool id, a bad connection id and
# a line without one.  Also a level without the space, a body line that looks
# like a note, error objects in the middle and a stamp that is not a time.
NODEMAILER_EDGES = """\
[2026-03-02 08:00:00] DEBUG Creating transport: nodemailer (6.9.1; +https://nodemailer.com/; SMTP (pool)/6.9.1[client:6.9.1])
[2026-03-02 08:00:00] DEBUG [#1] Created new pool resource #1
[2026-03-02 08:00:00] DEBUG [#1] [ab-c_1] Resolved smtp.example.com as 192.0.2.25 [cache miss]
[2026-03-02 08:00:00] INFO  [#1] [ab-c_1] Secure connection established to 192.0.2.25:465
[2026-03-02 08:00:00] DEBUG [#1] [ab-c_1] S: 220 smtp.example.com ESMTP
[2026-03-02 08:00:01] DEBUG [x1] S:220 smtp.example.com ESMTP
[2026-03-02 08:00:01] DEBUG [x1] C:EHLO [10.0.0.7]
[2026-03-02 08:00:01] DEBUG [x1] S: 250-smtp.example.com
[2026-03-02 08:00:01] DEBUG [x1] S: 250 AUTH LOGIN
[2026-03-02 08:00:01] DEBUG [x1] C: AUTH LOGIN
[2026-03-02 08:00:01] DEBUG [x1] S: 334 VXNlcm5hbWU6
[2026-03-02 08:00:01] DEBUG [x1] C: dXNlckBleGFtcGxlLmNvbQ==
[2026-03-02 08:00:01] DEBUG [x1] S: 334 UGFzc3dvcmQ6
[2026-03-02 08:00:01] DEBUG [x1] C: /* secret */
[2026-03-02 08:00:01] DEBUG [x1] S: 235 2.7.0 Accepted
[2026-03-02 08:00:01] INFO  [x1] User "user@example.com" authenticated
[2026-03-02 08:00:01] DEBUG[x1] C: MAIL FROM:<a@example.com>
[2026-03-02 08:00:01] DEBUG [x1] S:
[2026-03-02 08:00:01] DEBUG [x1] S: 250 2.1.0 Ok
[2026-03-02 08:00:01] DEBUG [x1] C: RCPT TO:<b@example.com>
[2026-03-02 08:00:01] DEBUG [x1] S: 550 5.1.1 No such user
[2026-03-02 08:00:01] DEBUG [x y] S: 250 ok
[2026-03-02 08:00:01] DEBUG [---] Connection upgraded with STARTTLS
[2026-03-02 08:00:01] DEBUG [x1] Connection established to nowhere
[2026-03-02 08:00:01] DEBUG [x1] Subject: Resolved
[2026-03-02 08:00:01] WARN  [x1] Recipient command failed: 550 5.1.1 No such user
[2026-03-02 08:00:01] ERROR Send Error: Can't send mail - all recipients were rejected: 550 5.1.1 No such user
Error: Can't send mail - all recipients were rejected: 550 5.1.1 No such user
    at SMTPConnection._formatError (/srv/app/node_modules/nodemailer/lib/smtp-connection/index.js:798:19) {
  code: 'EENVELOPE',
  response: '550 5.1.1 No such user',
  responseCode: 550,
  command: 'RCPT TO'
}
[2026-03-02 08:00:02] DEBUG [x1] S: 221 Bye
[2026-03-02 08:00:02]  DEBUG [x1] S: 221 Bye
Message sent: <id@example.com>
[2026-03-02 08:00:03] DEBUG S: 250 a reply without a connection id
[2026-03-02 08:00:03] INFO  [object Object]
[2026-03-02 08:00:03] WARN  Connection established to 192.0.2.25:587
[2026-03-02 08:00:03] DEBUG Resolved smtp.example.com as 192.0.2.26 [cache miss]
[2026-03-02 08:00:03] ERROR Send Error: write EPIPE
[Error: 40B7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number
    at TLSWrap.onStreamRead (node:internal/stream_base_commons:217:20)
] { library: 'SSL routines', code: 'ESOCKET', command: 'CONN' }
[2026-03-02 08:00:04] DEBUG [y2] S: 220 ready
"""


def _lines(text: str):
    options = EnvelopeOptions()
    return [line for line in (strip_envelope(number, raw, options) for number, raw in enumerate(text.splitlines(), 1))
            if line.text.strip()]


def _parse(module, text: str, *, quick: bool, day: date | None):
    ctx = ParseContext("fixture.log", ParseOptions(date=day))
    try:
        events = list(module.parse(_lines(text), ctx, quick=quick))
    except ValueError as error:  # a stamp that is not a date: both paths must fail alike
        events = [repr(error)]
    counts = (ctx.noise_lines, ctx.unrecognised_lines, ctx.undated_lines, ctx.warnings)
    return events, counts


def _rows(events):
    sessions: dict = {}
    for event in events:
        if not isinstance(event, SessionEnd) and event.session is not None:
            sessions.setdefault(event.session, []).append(event)
    return [build_session(group) for group in sessions.values()]


def _same(module, text: str) -> None:
    for day in (None, date(2026, 3, 2)):
        general, general_counts = _parse(module, text, quick=False, day=day)
        quick, quick_counts = _parse(module, text, quick=True, day=day)
        assert quick == general
        assert quick_counts == general_counts
        assert _rows(quick) == _rows(general)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: str(path.relative_to(ROOT)))
def test_smtplib_quick_path_matches(path: Path):
    _same(smtplib, path.read_text(encoding="utf-8", errors="replace"))


def test_smtplib_quick_path_edges():
    _same(smtplib, SMTPLIB_EDGES)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: str(path.relative_to(ROOT)))
def test_nodemailer_quick_path_matches(path: Path):
    _same(nodemailer, path.read_text(encoding="utf-8", errors="replace"))


def test_nodemailer_quick_path_edges():
    _same(nodemailer, NODEMAILER_EDGES)


def test_nodemailer_bad_stamp_alike():
    text = "[2026-03-02 08:00:02] DEBUG [x1] S: 220 ready\n[2026-13-02 08:00:02] DEBUG [x1] S: 221 Bye\n"
    general, general_counts = _parse(nodemailer, text, quick=False, day=None)
    quick, quick_counts = _parse(nodemailer, text, quick=True, day=None)
    assert quick == general
    assert quick_counts == general_counts
    assert [event.ts is None for event in quick] == [False, True]  # the bad stamp warns, the line stays


def test_nodemailer_envelope_matches():
    options = EnvelopeOptions()
    for path in FIXTURES:
        for number, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            assert nodemailer.strip_envelope(number, raw, options) == strip_envelope(number, raw, options)


def test_smtplib_quick_path_is_taken():
    # The edges reach both paths: the general path parses lines the quick one leaves alone.
    quick, _ = _parse(smtplib, SMTPLIB_EDGES, quick=True, day=date(2026, 3, 2))
    rolled = [event for event in quick if event.ts is not None and event.ts.date() == date(2026, 3, 3)]
    assert rolled and quick[0].ts.date() == date(2026, 3, 2)


def test_repeated_texts_read_alike():
    # client() and server() remember what they read from each text, so a repeat must give the same event.
    ctx = ParseContext("repeat.log")
    line = _lines("x")[0]
    replies = ["250-mail.example.com", "250 2.1.0 Ok", "421 4.7.0 Try again later", "334 VXNlcm5hbWU6", "not a reply"]
    commands = ["EHLO me", "MAIL FROM:<a@example.com>", "AUTH PLAIN AHVzZXIAcGFzcw==", "AUTH PLAIN AG90aGVyAHB3"]
    first = [ctx.server(line, reply, 1) for reply in replies] + [ctx.client(line, c, 2) for c in commands]
    second = [ctx.server(line, reply, 1) for reply in replies] + [ctx.client(line, c, 2) for c in commands]
    assert first == second
    assert first[4] is None
    assert first[2].enhanced == "4.7.0"
    assert [event.attrs.get("identity") for event in first[-2:]] == ["user", "other"]


# Lines around a noise line, each with whether smtplib's prefilter may leave the middle one out.
PREFILTER_CASES = [
    (["08:00:00.100000 reply: b'250 ok\\r\\n'", "08:00:00.100100 reply: retcode (250); Msg: b'ok'",
      "08:00:00.200000 send: 'quit\\r\\n'"], True),
    (["08:00:00.100000 send: 'data\\r\\n'", "08:00:00.100100 data: (354, b'go')", "08:00:00.200000 send: b'x'"], True),
    (["08:00:00.100000 reply: retcode (220); Msg: b'x'", "08:00:00.100100 connect: b'x'",
      "08:00:00.200000 send: 'ehlo me\\r\\n'"], True),
    # A summary after a command would mark the session as replied to.
    (["08:00:00.100000 send: 'ehlo me\\r\\n'", "08:00:00.100100 reply: retcode (250); Msg: b'ok'",
      "08:00:00.200000 send: 'quit\\r\\n'"], False),
    # The connect line of SMTP_SSL leaves a pair that the summary would reset.
    (["08:00:00.100000 connect: ('h', 465)", "08:00:00.100100 reply: retcode (220); Msg: b'x'",
      "08:00:00.200000 connect: to ('h', 465) None"], False),
    (["08:00:00.100000 connect: b'x'", "08:00:00.100100 data: (250, b'ok')", "08:00:00.200000 send: 'quit\\r\\n'"], False),
    # Times that go backwards, on either side.
    (["09:30:00.100000 reply: b'250 ok\\r\\n'", "08:00:00.100100 reply: retcode (250); Msg: b'ok'",
      "09:30:00.200000 send: 'quit\\r\\n'"], False),
    (["08:00:00.100000 reply: b'250 ok\\r\\n'", "08:00:00.100100 reply: retcode (250); Msg: b'ok'",
      "08:00:00.000000 send: 'quit\\r\\n'"], False),
    # A traceback line before, a line without a time after, a time that is not one.
    (["smtplib.SMTPDataError: (554, b'no')", "08:00:00.100100 data: (554, b'no')", "08:00:00.200000 send: 'quit\\r\\n'"],
     False),
    (["08:00:00.100000 reply: b'250 ok\\r\\n'", "08:00:00.100100 reply: retcode (250); Msg: b'ok'", "send: 'quit\\r\\n'"],
     False),
    (["08:00:00.100000 reply: b'250 ok\\r\\n'", "24:00:00.100100 reply: retcode (250); Msg: b'ok'",
      "08:00:00.200000 send: 'quit\\r\\n'"], False),
    (["08:00:00.100000 reply: b'250 ok\\r\\n'", "08:00:00.100100 reply: retcode (250); Msg: b'ok'",
      "08:00:00.2 send: 'quit\\r\\n'"], False),
]


def test_smtplib_prefilter_leaves_out_only_safe_lines():
    filler = ["08:00:00.000000 send: 'noop\\r\\n'"] * smtplib.PREFILTER_MIN
    for lines, droppable in PREFILTER_CASES:
        block = filler + lines + filler
        positions, noise = smtplib.prefilter(block)
        middle = len(filler) + 1
        assert (middle not in set(positions)) is droppable, lines
        assert noise == len(block) - len(positions) >= int(droppable)


def _smtplib_log(seed: int) -> str:
    """Return an smtplib log of the benchmark's sessions with the edges and the prefilter cases mixed in."""
    import random
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import client_logs

    rng = random.Random(seed)
    lines: list[str] = []
    for number in range(300):
        client_logs.write_session(lines, rng, number * 97 % 86400)
        if rng.random() < 0.2:
            # Not the hour 24 case: the general path raises on it (and so does the quick one).
            lines += rng.choice([SMTPLIB_EDGES.splitlines(),
                                 *(case for case, _ in PREFILTER_CASES if not any(t.startswith("24:") for t in case))])
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", [1, 2])
def test_smtplib_prefilter_gives_same_frames(tmp_path, monkeypatch, seed):
    paths = [*(ROOT / "tests" / "captures" / "smtplib").glob("*.log"), tmp_path / "worker-2026-03-02.log"]
    paths[-1].write_text(_smtplib_log(seed))
    for options in ({}, {"date": date(2026, 3, 2)}):
        fast = [smtplogkit.read_logs(paths, format="smtplib", **options),
                smtplogkit.read_events(paths, format="smtplib", **options)]
        with monkeypatch.context() as patch:
            patch.delattr(smtplib, "prefilter")
            patch.delattr(smtplib, "strip_envelope")
            general = [smtplogkit.read_logs(paths, format="smtplib", **options),
                       smtplogkit.read_events(paths, format="smtplib", **options)]
        for quick, slow in zip(fast, general):
            pd.testing.assert_frame_equal(quick, slow, check_exact=True)
            assert quick.attrs == slow.attrs
    assert fast[0].attrs["files"][-1]["noise"] > 2000


def _fixture_sessions(path: Path) -> list[list]:
    """Return the events of each session in ``path``, read with the format detected for it."""
    from smtplogkit import formats

    lines = _lines(path.read_text(encoding="utf-8", errors="replace"))
    module, score, _ = formats.detect([line.text for line in lines[:400]])
    if module is None or score < 0.05:
        return []
    sessions: dict = {}
    for event in module.parse(lines, ParseContext(str(path), ParseOptions(date=date(2026, 3, 2)))):
        if not isinstance(event, SessionEnd) and event.session is not None:
            sessions.setdefault(event.session, []).append(event)
    return list(sessions.values())


def test_transcript_rows_equal_general_rows(tmp_path):
    from smtplogkit import sessions

    generated = tmp_path / "worker.log"
    generated.write_text(_smtplib_log(3))
    quick = total = 0
    for path in [*FIXTURES, generated]:
        for events in _fixture_sessions(path):
            total += 1
            row = sessions._transcript_row(events)
            if row is None:
                continue
            quick += 1
            assert row == sessions._build_general(events), path
    # Both kinds occur, so the comparison covers the quick path and leaves failures to the general one.
    assert 300 < quick < total
