"""Template keys without the text of success replies give the rows of the general path.

The smtplib and nodemailer segment readers leave the text of 2xx and 3xx
replies (not 334) out of a segment's key, so sessions that differ only in
queue ids share a template (:class:`smtplogkit.formats._templates.Masked`).
These tests read logs whose sessions repeat a few shapes with every reply
numbered at random, so the masked keys repeat while the texts differ, and
compare the frames with those of ``templates=False`` and of the general
path (``quick=False``).  The shapes are every smtplib and nodemailer
fixture under ``tests/`` and ``sample_data/``, and sessions made here:
failures whose cause depends on an earlier success reply's text,
pipelined commands, AUTH exchanges and replies of unusual shapes.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from smtplogkit import formats
from smtplogkit.formats import _templates, nodemailer, smtplib

from .format_helpers import read_both_dates, restamp

ROOT = Path(__file__).resolve().parent.parent.parent


def _fixtures(name: str) -> list[Path]:
    """Return the log files under ``tests/`` and ``sample_data/`` that read as ``name``."""
    found = []
    for folder in (ROOT / "tests", ROOT / "sample_data"):
        for path in sorted(folder.rglob("*.log")):
            sample = path.read_text(encoding="utf-8", errors="replace").splitlines()[:400]
            module, score, _ = formats.detect(sample)
            if module is not None and module.NAME == name and score > 0.05:
                found.append(path)
    return found


# A reply line of each client, with the reply text as group "reply".
SMTPLIB_REPLY = re.compile(r"^(\d\d:\d\d:\d\d\.\d{6} reply: b')(?P<reply>[2-5]\d\d[ -][^\\']*)(\\r\\n')$")
NODEMAILER_REPLY = re.compile(r"^(\[[^\]]*\] \w+ +\[[\w-]+\] S: )(?P<reply>[2-5]\d\d[ -].*)$")


ADDRESS = re.compile(r"<([\w.+-]+)@([\w.-]+)>")


def _numbered(texts: list[str], pattern: re.Pattern, rng: random.Random) -> list[str]:
    """Return a session's lines with a random number after each reply text, in the reply and wherever it is quoted.

    Most numbers come from a small set, so some sessions repeat with every
    text, and the rest are new, as queue ids are.  Each address in angle
    brackets gets a number too, in every line that names it, as a sender
    writing to many recipients names another in each session.
    """
    changes: dict[str, str] = {}
    addresses: dict[str, str] = {}
    for text in texts:
        match = pattern.match(text)
        if match and match.group("reply") not in changes and not match.group("reply").startswith("334"):
            number = rng.choice((1, 2)) if rng.random() < 0.7 else rng.randrange(10**6)
            changes[match.group("reply")] = f"{match.group('reply')} q{number}"
    for text in texts:
        for address in ADDRESS.finditer(text):
            if address.group(0) not in addresses:
                number = rng.choice((1, 2)) if rng.random() < 0.3 else rng.randrange(10**6)
                addresses[address.group(0)] = f"<{address.group(1)}{number}@{address.group(2)}>"
    out = []
    for text in texts:
        for old in sorted(changes, key=len, reverse=True):
            if old in text:
                text = text.replace(old, changes[old])
                break
        text = ADDRESS.sub(lambda address: addresses.get(address.group(0), address.group(0)), text)
        out.append(text)
    return out


# Sessions taken from each fixture file, so that each shape repeats often enough in 1,500 sessions.
SHAPES_PER_FILE = 2
DATED = re.compile(r"^\d{4}-\d\d-\d\d|^[A-Z][a-z]{2} [ \d]\d ")


def _smtplib_sessions(texts: list[str]) -> list[list[str]]:
    """Cut debug level 2 lines into connections, each from a ``connect: to`` line."""
    sessions: list[list[str]] = []
    for text in texts:
        if " connect: to (" in text[:30] or not sessions:
            sessions.append([])
        sessions[-1].append(text)
    return sessions


def _smtplib_made() -> list[list[str]]:
    """Return smtplib sessions of shapes the captures lack."""
    head = ["00:00:00.000000 connect: to ('smtp.example.com', 587) None",
            "00:00:00.000000 reply: b'220 smtp.example.com ESMTP\\r\\n'",
            "00:00:00.000000 reply: retcode (220); Msg: b'smtp.example.com ESMTP'",
            "00:00:00.000000 connect: b'smtp.example.com ESMTP'",
            "00:00:00.000000 send: 'ehlo me\\r\\n'"]
    ehlo = ["00:00:00.000000 reply: b'250-smtp.example.com\\r\\n'", "00:00:00.000000 reply: b'250 AUTH LOGIN PLAIN\\r\\n'"]
    # The .NET-style quote of an earlier reply: the session rule reads every text of the session.
    policy = ["00:00:00.000000 reply: b'250-smtp.example.com 5.7.139 basic auth off\\r\\n'",
              "00:00:00.000000 reply: b'250 AUTH LOGIN PLAIN\\r\\n'"]

    mail = ["00:00:00.000000 send: 'mail FROM:<a@example.com>\\r\\n'"]
    refused = ["00:00:00.000000 reply: b'530 5.7.57 Client not authenticated\\r\\n'",
               "00:00:00.000000 send: 'quit\\r\\n'", "00:00:00.000000 reply: b'221 Bye\\r\\n'"]
    pipelined = ["00:00:00.000000 send: 'mail FROM:<a@example.com>\\r\\nrcpt TO:<b@example.com>\\r\\ndata\\r\\n'",
                 "00:00:00.000000 reply: b'250 2.1.0 Ok\\r\\n'", "00:00:00.000000 reply: b'250 2.1.5 Ok\\r\\n'",
                 "00:00:00.000000 reply: b'354 go ahead\\r\\n'", "00:00:00.000000 data: (354, b'go ahead')",
                 "00:00:00.000000 send: b'Subject: x\\r\\n\\r\\nbody\\r\\n.\\r\\n'",
                 "00:00:00.000000 reply: b'250 2.0.0 Ok: queued as ABC\\r\\n'",
                 "00:00:00.000000 data: (250, b'2.0.0 Ok: queued as ABC')",
                 "00:00:00.000000 send: 'quit\\r\\n'", "00:00:00.000000 reply: b'221 2.0.0 Bye\\r\\n'"]

    login = ["00:00:00.000000 send: 'AUTH LOGIN dXNlckBleGFtcGxlLmNvbQ==\\r\\n'",
             "00:00:00.000000 reply: b'334 UGFzc3dvcmQ6\\r\\n'", "00:00:00.000000 send: 'c2VjcmV0\\r\\n'",
             "00:00:00.000000 reply: b'235 2.7.0 Authentication successful\\r\\n'"]
    xoauth = ["00:00:00.000000 send: 'AUTH XOAUTH2 dXNlcj1hQGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHgBAQ==\\r\\n'",
              "00:00:00.000000 reply: b'334 eyJzdGF0dXMiOiI0MDAifQ==\\r\\n'", "00:00:00.000000 send: '\\r\\n'",
              "00:00:00.000000 reply: b'535 5.7.8 Username and Password not accepted\\r\\n'"]

    # Replies the key must keep whole: no CRLF, an escape, double quotes, a bare code, odd codes.
    odd = [["00:00:00.000000 reply: b'250 ok'"], ["00:00:00.000000 reply: b'250 caf\\xc3\\xa9\\r\\n'"],
           ["00:00:00.000000 reply: b\"250 it's ok\\r\\n\""], ["00:00:00.000000 reply: b'250\\r\\n'"],
           ["00:00:00.000000 reply: b' 250 ok\\r\\n'"], ["00:00:00.000000 reply: b'2500 ok\\r\\n'"],
           ["00:00:00.000000 reply: b'25 ok\\r\\n'"], ["00:00:00.000000 reply: b'199 odd\\r\\n'"],
           ["00:00:00.000000 reply: b'250\\tok\\r\\n'"], ["00:00:00.000000 reply: b'250-\\r\\n'"]]

    made = [head + ehlo + mail + refused, head + policy + mail + refused, head + ehlo + pipelined,
            head + ehlo + login + pipelined, head + ehlo + xoauth + ["00:00:00.000000 send: 'quit\\r\\n'"]]
    made += [head + ehlo + mail + reply + pipelined[1:] for reply in odd]
    return made


def _smtplib_log(seed: int, fixtures: list[Path]) -> str:
    """Return many copies of the fixture sessions and the made ones, numbered and restamped."""
    rng = random.Random(seed)
    shapes = _smtplib_made()
    for path in fixtures:
        # Without the application's dated lines, whose dates would move the day of every later session.
        texts = [text for text in path.read_text(encoding="utf-8").splitlines() if not DATED.match(text)]
        if any(text[2:3] == ":" and text[15:16] == " " for text in texts):
            shapes += _smtplib_sessions(texts)[:SHAPES_PER_FILE]
    lines: list[str] = []
    moment = datetime(2026, 3, 2, 21, 0)
    usual = shapes[2:4]  # most sessions succeed, which keeps the segment reader looking for repeats
    for _ in range(1500):
        session = _numbered(rng.choice(usual if rng.random() < 0.6 else shapes), SMTPLIB_REPLY, rng)
        lines += restamp(session, moment, timedelta(milliseconds=rng.choice((0, 1, 40))))
        moment += timedelta(seconds=rng.choice((1, 30, 200)))
    return "\n".join(lines) + "\n"


def _nodemailer_sessions(texts: list[str]) -> list[list[str]]:
    """Cut logger lines into sends, each from a ``Sending mail using`` line."""
    sessions: list[list[str]] = []
    for text in texts:
        if "Sending mail using" in text or not sessions:
            sessions.append([])
        sessions[-1].append(text)
    return sessions


SID = re.compile(r"(?<=\] )(\w+ +)\[([\w-]+)\]")


def _nodemailer_made() -> list[list[str]]:
    """Return nodemailer sends of shapes the captures lack: a context-dependent cause, AUTH LOGIN, odd replies."""
    stamp = "[2026-03-02 08:00:00]"
    head = [f"{stamp} DEBUG Sending mail using SMTP/10.6.1[client:10.6.1]",
            f"{stamp} DEBUG [s1] Resolved smtp.example.com as 192.0.2.25 [cache miss]",
            f"{stamp} INFO  [s1] Connection established to 192.0.2.25:587",
            f"{stamp} DEBUG [s1] S: 220 smtp.example.com ESMTP", f"{stamp} DEBUG [s1] C: EHLO [10.0.0.7]"]
    ehlo = [f"{stamp} DEBUG [s1] S: 250-smtp.example.com", f"{stamp} DEBUG [s1] S: 250 AUTH LOGIN PLAIN"]
    policy = [f"{stamp} DEBUG [s1] S: 250-smtp.example.com 5.7.139 basic auth off",
              f"{stamp} DEBUG [s1] S: 250 AUTH LOGIN PLAIN"]
    login = [f"{stamp} DEBUG [s1] C: AUTH LOGIN", f"{stamp} DEBUG [s1] S: 334 VXNlcm5hbWU6",
             f"{stamp} DEBUG [s1] C: dXNlckBleGFtcGxlLmNvbQ==", f"{stamp} DEBUG [s1] S: 334 UGFzc3dvcmQ6",
             f"{stamp} DEBUG [s1] C: /* secret */", f"{stamp} DEBUG [s1] S: 235 2.7.0 Accepted",
             f'{stamp} INFO  [s1] User "user@example.com" authenticated']
    mail = [f"{stamp} DEBUG [s1] C: MAIL FROM:<a@example.com>"]
    refused = [f"{stamp} DEBUG [s1] S: 530 5.7.57 Client not authenticated",
               f"{stamp} ERROR Send Error: Mail command failed: 530 5.7.57 Client not authenticated",
               "Error: Mail command failed: 530 5.7.57 Client not authenticated",
               "    at SMTPConnection._formatError (/srv/app/node_modules/nodemailer/lib/smtp-connection/index.js:1:1) {",
               "  code: 'EENVELOPE',", "  response: '530 5.7.57 Client not authenticated',", "  responseCode: 530,",
               "  command: 'MAIL FROM'", "}"]
    sent = [f"{stamp} DEBUG [s1] S: 250 2.1.0 Ok", f"{stamp} DEBUG [s1] C: RCPT TO:<b@example.com>",
            f"{stamp} DEBUG [s1] S: 250 2.1.5 Ok", f"{stamp} DEBUG [s1] C: DATA",
            f"{stamp} DEBUG [s1] S: 354 go ahead", f"{stamp} DEBUG [s1] Subject: x", f"{stamp} DEBUG [s1] .",
            f"{stamp} DEBUG [s1] S: 250 2.0.0 Ok: queued as ABC", f'{stamp} DEBUG [s1] Closing connection to the server using "end"',
            "Message sent: <x@example.com>"]
    odd = [[f"{stamp} DEBUG [s1] S: 250"], [f"{stamp} DEBUG [s1] S:250 ok"], [f"{stamp} DEBUG [s1] S:  250 ok"],
           [f"{stamp} DEBUG [s1] S: 2500 ok"], [f"{stamp} DEBUG [s1] S: 25 ok"], [f"{stamp} DEBUG [s1] S: 250-"],
           [f"{stamp} WARN  [s1] S: 250 ok"], [f"{stamp} DEBUG [s1] S: 199 odd"], [f"{stamp} DEBUG [s1] S: 250\tok"]]
    made = [head + ehlo + mail + refused, head + policy + mail + refused, head + ehlo + login + mail + sent]
    made += [head + ehlo + mail + reply + sent[1:] for reply in odd]
    return made


def _nodemailer_log(seed: int, fixtures: list[Path]) -> str:
    """Return many copies of the fixture sends and the made ones, numbered, with new connection ids.

    Now and then a send's lines are mixed with the next one's, and a
    connection logs again later, as concurrent sends do.
    """
    rng = random.Random(seed)
    shapes = _nodemailer_made()
    for path in fixtures:
        texts = path.read_text(encoding="utf-8").splitlines()
        if any(SID.search(text) for text in texts):
            shapes += _nodemailer_sessions(texts)[:SHAPES_PER_FILE]
    usual = shapes[2:3]  # most sends succeed, which keeps the segment reader looking for repeats
    lines: list[str] = []
    earlier: list[str] = []
    waiting: list[str] = []
    for number in range(1500):
        sid = f"c{number}x"
        shape = rng.choice(usual if rng.random() < 0.6 else shapes)
        session = [SID.sub(lambda match: f"{match.group(1)}[{sid}]", text) for text in shape]
        session = _numbered(session, NODEMAILER_REPLY, rng)
        if waiting and rng.random() < 0.05:
            mixed = []
            while session or waiting:
                source = session if session and (not waiting or rng.random() < 0.5) else waiting
                mixed.append(source.pop(0))
            session = mixed
        elif rng.random() < 0.03:
            waiting = session
            continue
        lines += session
        if earlier and rng.random() < 0.03:
            lines.append(f"[2026-03-02 08:00:00] DEBUG [{rng.choice(earlier)}] S: 221 Bye q{number}")
        earlier.append(sid)
    return "\n".join(lines + waiting) + "\n"


def _masked_hits(monkeypatch) -> list[int]:
    """Count the template rows copied under a key with a masked part."""
    hits = [0]
    store = _templates.SessionGroups.store

    def marked(self, key, template):
        if any(type(part) is _templates.Masked for part in key):
            template.row = {**template.row, "_masked": True}
        store(self, key, template)

    instantiate = _templates.RowTemplate.instantiate_at

    def counted(self, number, stamp, micros=None):
        row = instantiate(self, number, stamp, micros)
        if row.pop("_masked", False):
            hits[0] += 1
        return row

    monkeypatch.setattr(_templates.SessionGroups, "store", marked)
    monkeypatch.setattr(_templates.RowTemplate, "instantiate_at", counted)
    return hits


@pytest.mark.parametrize("name,seed", [("smtplib", 1), ("smtplib", 2), ("nodemailer", 3), ("nodemailer", 4)])
def test_masked_rows_match(tmp_path, monkeypatch, name, seed):
    fixtures = _fixtures(name)
    assert len(fixtures) >= 15
    log = tmp_path / f"{name}-2026-03-02.log"
    write = _smtplib_log if name == "smtplib" else _nodemailer_log
    log.write_text(write(seed, fixtures))
    paths = [*fixtures, log]

    general = read_both_dates(paths, name, monkeypatch, quick=False)
    plain = read_both_dates(paths, name, monkeypatch, templates=False)
    with monkeypatch.context() as patch:
        hits = _masked_hits(patch)
        fast = read_both_dates(paths, name, monkeypatch)
    for quick, without, slow in zip(fast, plain, general):
        pd.testing.assert_frame_equal(quick, slow, check_exact=True)
        pd.testing.assert_frame_equal(without, slow, check_exact=True)
        assert quick.attrs == slow.attrs
    assert hits[0] > 300  # copies of templates kept under keys without success texts
    # Failing rows whose reply texts differ were read, not copied from another session.
    generated = fast[1][fast[1]["source"] == str(log)]
    assert generated["reply_text"].nunique() > 25
    assert generated["cause"].nunique() >= 5


def test_masked_key_parts():
    assert _templates.maskable("250 ")
    assert _templates.maskable("354-")
    for reply in ("334 ", "421 ", "550-", "250", "2500", " 250", "25 x", "199 ", "250\t", "2a0 ", "2٥0 "):
        assert not _templates.maskable(reply), reply
    assert _templates.masked("250 ") is _templates.masked("250 ")
    prefixes = [f"{number:03d}{separator}" for number in range(1000) for separator in (" ", "-", "x")]
    assert [prefix for prefix in prefixes if prefix in _templates.MASKED_PARTS] == [
        prefix for prefix in prefixes if _templates.maskable(prefix)]
    assert _templates.masked("250 ") is not _templates.masked("250-")
    tail = " reply: b'250 2.0.0 Ok: queued as 4F1A\\r\\n'"
    assert smtplib._reply_part(tail) is _templates.masked("250 ")
    for kept in (" reply: b'421 4.7.0 later\\r\\n'", " reply: b'334 VXNlcm5hbWU6\\r\\n'", " reply: b'250 ok'",
                 " reply: b'250 caf\\xc3\\xa9\\r\\n'", " reply: b\"250 it's\\r\\n\""):
        assert smtplib._reply_part(kept) == kept
    assert smtplib._reply_part(" reply: retcode (250); Msg: b'ok 1'") is smtplib._reply_part(" reply: retcode (421); Msg: b'x'")


def test_address_left_out_of_key_parts():
    assert _templates.without_address("RCPT TO:<b7@example.org>") == "RCPT TO:<>"
    assert _templates.without_address("mail FROM:<a@example.com> size=512") == "mail FROM:<> size=512"
    assert _templates.without_address("MAIL FROM:<>") is None  # nothing to leave out
    for unchanged in ("RCPT TO:<a b@x>", "RCPT TO:<a\\r\\nDATA@x>", "RCPT TO:<a'@x>", "RCPT TO: <a@x>", "DATA",
                      "AUTH PLAIN <a@x>", "EHLO <a@x>", "RCPT TO:a@x"):
        assert _templates.without_address(unchanged) is None, unchanged
    assert smtplib._send_part(" send: 'rcpt TO:<c9@example.org>\\r\\n'") == " send: 'rcpt TO:<>\\r\\n'"
    pipelined = " send: 'mail FROM:<a@x>\\r\\nrcpt TO:<b@x>\\r\\ndata\\r\\n'"
    assert smtplib._send_part(pipelined) == " send: 'mail FROM:<>\\r\\nrcpt TO:<>\\r\\ndata\\r\\n'"
    # A line with any other escape keeps its whole text.
    for unchanged in (" send: 'rcpt TO:<a@x>\\t\\r\\n'", " send: 'rcpt TO:<a\\\\r\\n@x>\\r\\n'",
                      " send: b'rcpt TO:<a@x>\\r\\n'", " send: 'rcpt TO:<a@x>'"):
        assert smtplib._send_part(unchanged) == unchanged
    assert nodemailer._Segments._read_part("DEBUG", "C: RCPT TO:<d@example.org>") == "C: RCPT TO:<>"
    assert nodemailer._Segments._read_part("ERROR", "C: RCPT TO:<d@example.org>") == ("!", "C: RCPT TO:<d@example.org>")


def test_failing_reply_skips_quick_rows():
    # build_session's failing_reply shortcut gives the row of the usual order of paths.
    from smtplogkit.records import SERVER
    from smtplogkit.sessions import build_session

    from .test_quick_paths import FIXTURES, _fixture_sessions

    checked = 0
    for path in FIXTURES:
        for events in _fixture_sessions(path):
            failing = any(event.direction == SERVER and event.code is not None
                          and (event.code >= 400 or event.code == 334) for event in events)
            if not failing:
                continue
            assert build_session(events, failing_reply=True) == build_session(events), path
            checked += 1
    assert checked > 100


def _prefilter_by_pattern(block: list[str]) -> tuple[list[int], int]:
    """Return what smtplib's prefilter must: its drop rule applied to QUICK_LINE's matches, line by line."""
    pattern = re.compile(smtplib.QUICK_LINE)  # RE2 syntax that Python's re reads the same way
    found = [pattern.match(text) for text in block]
    codes = [smtplib.QUICK_KINDS.index(match.group("kind")) + 1 if match else 0 for match in found]
    stamps = [match.group("stamp") if match else None for match in found]
    keep = []
    for index in range(len(block)):
        inner = 0 < index < len(block) - 1
        if (inner and smtplib._DROPPABLE[codes[index]][codes[index - 1]] and codes[index + 1] > 0
                and stamps[index - 1] <= stamps[index] <= stamps[index + 1]):
            continue
        keep.append(index)
    return keep, len(block) - len(keep)


def test_prefilter_matches_pattern():
    # The prefilter finds each line's kind by prefix after one RE2 match of the time of day.
    # It must give what matching QUICK_LINE gives, for lists, decoded blocks and raw blocks.
    from smtplogkit.inputs import RawBlock, TextBlock

    from .test_quick_paths import PREFILTER_CASES, SMTPLIB_EDGES

    rng = random.Random(8)
    pool = _smtplib_log(9, [])[:200_000].splitlines()[:-1] + SMTPLIB_EDGES.splitlines()
    for case, _ in PREFILTER_CASES:
        pool += case
    pool += ["08:00:00.100000 reply: retcod", "08:00:00.100000 connect: b", "08:00:00.100000 connect fail: x",
             "08:00:00.100000 connect:", "é8:00:00.100000 reply: b'x'", "08:00:00.100000 data:",
             "08:00:00.10000 data: (x", "08:00:00.100000  data: (", "08:00:00.100000 reply: b'é\\r\\n'",
             "08:00:00.100000 connect: b\"x\"", "08:00:00.100000 reply: retcode (250); Msg: b'é'", ""]
    checked = 0
    for _ in range(400):
        block = [rng.choice(pool) for _ in range(rng.choice((smtplib.PREFILTER_MIN, 100, 300)))]
        if rng.random() < 0.3:
            block = [text.replace("08:", "07:", 1) if rng.random() < 0.2 else text for text in block]
        expected = _prefilter_by_pattern(block)
        decoded = TextBlock(block)
        decoded.data = "\n".join(block).encode()
        forms = [block, decoded]
        if all(text.isascii() for text in block):
            forms.append(RawBlock("\n".join(block).encode()))
        for form in forms:
            positions, noise = smtplib.prefilter(form)
            assert (list(positions), noise) == expected, block
            checked += 1
    assert checked > 500
