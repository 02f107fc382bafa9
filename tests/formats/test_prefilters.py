"""The nodemailer and smtplib prefilters and raw lines change nothing in what is read.

Both formats leave out, before any :class:`~smtplogkit.records.Line` is
made, lines the parser would count as noise (``prefilter``), and hand the
usual lines over as raw ``(number, text)`` tuples (``RAW_LINES``).  These
tests read the same files with both turned off and compare the sessions
and events frames, with their per-file line counts and warnings.  The files
are every fixture of the format under ``tests/`` and ``sample_data/`` and
the numbered logs of ``test_masked_keys``.  For nodemailer they also
include sends made here to trip the prefilter.  Those contain a bracketed
error message that takes in the logger lines after it, log-event objects,
stamps no calendar has, pool ids, long and odd connection ids, odd stack
frames and lines with an envelope.  The files are cut into blocks of 3 to
250 lines, so the nodemailer prefilter's state must carry over from block
to block.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

import smtplogkit
from smtplogkit import inputs
from smtplogkit.formats import nodemailer, smtplib

from .test_masked_keys import (SID, _fixtures, _nodemailer_log, _nodemailer_made, _nodemailer_sessions,
                               _smtplib_log)

BLOCK_SIZES = (97, 41, 250, 3, 64)


@pytest.fixture
def small_blocks(monkeypatch):
    """Cut every file into blocks of BLOCK_SIZES lines in turn, instead of about a megabyte."""
    original = inputs._byte_chunks

    def chunks(head, handle):
        sizes = iter(BLOCK_SIZES * 100_000)
        for chunk, long_line in original(head, handle):
            if long_line:
                yield chunk, long_line
                continue
            lines = chunk.split(b"\n")
            start = 0
            while start < len(lines):
                size = next(sizes)
                yield b"\n".join(lines[start:start + size]), False
                start += size

    monkeypatch.setattr(inputs, "_byte_chunks", chunks)


def _unfiltered(monkeypatch, module) -> None:
    """Read ``module``'s files with neither its prefilter nor raw lines."""
    for name in ("prefilter", "prefilter_state"):
        if hasattr(module, name):
            monkeypatch.delattr(module, name)
    monkeypatch.setattr(module, "RAW_LINES", False)


def _frames(paths: list[Path], name: str) -> list[pd.DataFrame]:
    frames = []
    for options in ({}, {"date": "2026-03-02"}):
        frames.append(smtplogkit.read_logs(paths, format=name, **options))
        frames.append(smtplogkit.read_events(paths, format=name, **options))
    return frames


def _assert_same(filtered: list[pd.DataFrame], plain: list[pd.DataFrame]) -> None:
    for fast, slow in zip(filtered, plain):
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)
        assert fast.attrs == slow.attrs  # lines parsed, noise and unrecognised per file, and the warnings


def _nodemailer_hazards() -> list[list[str]]:
    """Return sends with lines that a careless prefilter would leave out although they change what is read."""
    stamp = "[2026-03-02 08:00:00]"
    head = [f"{stamp} DEBUG Sending mail using SMTP/10.6.1[client:10.6.1]",
            f"{stamp} DEBUG [s1] Resolved smtp.example.com as 192.0.2.25 [cache miss]",
            f"{stamp} INFO  [s1] Connection established to 192.0.2.25:587"]
    body = [f"{stamp} DEBUG [s1] C: DATA", f"{stamp} DEBUG [s1] S: 354 go ahead", f"{stamp} DEBUG [s1] Subject: x",
            f"{stamp} DEBUG [s1] ", f"{stamp} DEBUG [s1] Thanks", f"{stamp} DEBUG [s1] .",
            f"{stamp} DEBUG [s1] S: 250 2.0.0 Ok: queued as ABC",
            f'{stamp} DEBUG [s1] Closing connection to the server using "end"', "Message sent: <x@example.com>"]

    greeting = [f"{stamp} DEBUG [s1] S: 220 smtp.example.com ESMTP", f"{stamp} DEBUG [s1] C: EHLO [10.0.0.7]",
                f"{stamp} DEBUG [s1] S: 250 AUTH LOGIN PLAIN", f"{stamp} DEBUG [s1] C: MAIL FROM:<a@example.com>",
                f"{stamp} DEBUG [s1] S: 250 2.1.0 Ok", f"{stamp} DEBUG [s1] C: RCPT TO:<b@example.com>",
                f"{stamp} DEBUG [s1] S: 250 2.1.5 Ok"]

    # The OpenSSL message ends in a newline, so the bracket stays open and takes in the lines after it.
    bracketed = [*head, f"{stamp} ERROR [s1] Failed: write EPROTO",
                 "[Error: C0B7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number",
                 f"{stamp} DEBUG [s1] Subject: taken into the message", f"{stamp} DEBUG [s1] more of it",
                 "    at Socket.emit (node:events:1:1)", "] { library: 'SSL routines', code: 'ESOCKET', command: 'CONN' }"]
    log_object = [*head, "{ type: 'server',", "  message: '220 smtp.example.com ESMTP\\n' +",
                  f"{stamp} DEBUG [s1] Subject: not a line of its own",
                  "    '250 ok' }", *greeting, *body]

    odd_stamps = [*head, *greeting, f"{stamp} DEBUG [s1] C: DATA", f"{stamp} DEBUG [s1] S: 354 go ahead",
                  "[2026-13-02 08:00:00] DEBUG [s1] Subject: month 13",
                  "[2026-02-30 08:00:00] DEBUG [s1] Subject: 30 February",
                  "[2026-03-02 24:00:00] DEBUG [s1] Subject: hour 24", "[0000-03-02 08:00:00] INFO  [s1] year 0",
                  *body[2:]]

    ids = [*head, *greeting, f"{stamp} DEBUG [#1] [s1] Subject: pool id",
           f"{stamp} DEBUG [#1] [s1] Subject: pool id again", f"{stamp} DEBUG [s1] Subject: back",
           f"{stamp} DEBUG [s1.x] Subject: dotted id", f"{stamp} DEBUG [s1.x] Subject: dotted id again",
           f"{stamp} DEBUG [s1] S:250 squeezed", f"{stamp} DEBUG [s1] Resolved again as 192.0.2.26",
           f"{stamp} DEBUG [averyveryverylongconnectionid] Subject: long id",
           f"{stamp} DEBUG [averyveryverylongconnectionid] Subject: long id again",
           f"{stamp} DEBUG [s1] Subject: back again", *body]

    frames = [*head, *greeting[:4], f"{stamp} DEBUG [s1] S: 421 4.7.0 Try again later",
              f"{stamp} ERROR Send Error: Mail command failed: 421 4.7.0 Try again later",
              "Error: Mail command failed: 421 4.7.0 Try again later",
              "    at SMTPConnection._formatError (index.js:1:1)", "    at  odd (index.js:1:1)",
              "  at shallow (index.js:1:1)", "\tat tabbed (index.js:1:1)", "    at Readable.push (node:1:1) {",
              "  code: 'EENVELOPE',", "  responseCode: 421,", "  command: 'MAIL FROM'", "}",
              f"{stamp} DEBUG [s1] Subject: after the object", "    at stray (index.js:1:1)"]

    enveloped = [*head, *greeting,
                 f"Mar  2 08:00:00 web1 node[12]: {stamp} DEBUG [s1] Subject: in syslog",
                 f"Mar  2 08:00:01 web1 node[12]: {stamp} DEBUG [s1] Subject: in syslog again",
                 f"web-1  | {stamp} DEBUG [s1] Subject: in compose", *body]

    bare_first = [f"{stamp} INFO  Sending message <a@example.com> to <b@example.com>",
                  f"{stamp} DEBUG SMTP handshake finished", *head, *greeting, *body]
    return [bracketed, log_object, odd_stamps, ids, frames, enveloped, bare_first]


def _nodemailer_hazard_log(seed: int, fixtures: list[Path]) -> str:
    """Return sends of every shape with new connection ids, the hazards among them now and then."""
    rng = random.Random(seed)
    shapes = _nodemailer_made()
    for path in fixtures:
        texts = path.read_text(encoding="utf-8").splitlines()
        if any(SID.search(text) for text in texts):
            shapes += _nodemailer_sessions(texts)[:2]
    hazards = _nodemailer_hazards()
    # The first 300 sends have no line that may open an object, so the prefilter leaves lines out
    # of many blocks, among them lines of the hazards that open none.
    closed = [shape for shape in shapes + hazards if not any(nodemailer._may_open(text) for text in shape)]
    assert len(closed) > 10
    assert len(closed) < len(shapes) + len(hazards)
    lines: list[str] = []
    for number in range(600):
        if number < 300:
            pool = closed
        else:
            pool = shapes if rng.random() < 0.9 else hazards
        sid = f"c{number}x"
        lines += [SID.sub(lambda match: f"{match.group(1)}[{sid}]", text) for text in rng.choice(pool)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", [5, 6])
def test_nodemailer_filtered_same(tmp_path, monkeypatch, small_blocks, seed):
    fixtures = _fixtures("nodemailer")
    assert len(fixtures) >= 15
    hazards = tmp_path / "hazards-2026-03-02.log"
    hazards.write_text(_nodemailer_hazard_log(seed, fixtures))
    numbered = tmp_path / "numbered-2026-03-02.log"
    numbered.write_text(_nodemailer_log(seed, fixtures))
    paths = [*fixtures, hazards, numbered]

    filtered = _frames(paths, "nodemailer")
    with monkeypatch.context() as patch:
        _unfiltered(patch, nodemailer)
        plain = _frames(paths, "nodemailer")
    _assert_same(filtered, plain)
    # The hazard log opened an object after its first lines.
    assert not any(nodemailer._may_open(text) for text in hazards.read_text().splitlines()[:400])
    assert _opened(hazards, monkeypatch)


def _opened(path: Path, monkeypatch) -> bool:
    """Return whether the prefilter's state for ``path`` ends up opened."""
    states = []
    start = nodemailer.prefilter_state

    def started(sample):
        states.append(start(sample))
        return states[-1]

    with monkeypatch.context() as patch:
        patch.setattr(nodemailer, "prefilter_state", started)
        smtplogkit.read_logs(path, format="nodemailer")
    assert len(states) == 1
    return states[0].opened


def test_nodemailer_lines_left_out():
    """The prefilter leaves out the message body and stack frames, and hands logger lines over raw."""
    texts = _nodemailer_hazard_log(7, _fixtures("nodemailer")).splitlines()
    texts = texts[:next(index for index, text in enumerate(texts) if nodemailer._may_open(text))]
    state = nodemailer.PrefilterState()
    positions, noise, raw = nodemailer.prefilter(texts, state, raw=True)
    kept = [texts[position] for position in positions]
    assert noise == len(texts) - len(kept)
    assert noise > 100
    left_out = set(range(len(texts))) - set(positions)
    assert any(texts[index].startswith("    at ") for index in left_out)
    assert any(texts[index].endswith("] Subject: x") for index in left_out)
    # A flagged line is a logger line that strip_envelope hands on as it is.
    assert all(text[:1] == "[" and text[20:28] in nodemailer._LEVEL_WORDS for text, flag in zip(kept, raw) if flag)
    assert sum(raw) > len(kept) // 2
    assert not state.opened


def test_nodemailer_opener_stops_leaving_out():
    """From a line that may open a bracketed error message on, every line is kept, in later blocks too."""
    stamp = "[2026-03-02 08:00:00]"
    before = [f"{stamp} DEBUG [s1] C: DATA"] + [f"{stamp} DEBUG [s1] Subject: {n}" for n in range(80)]
    opener = ["[Error: wrong version number"]
    state = nodemailer.PrefilterState()
    positions, noise = nodemailer.prefilter(before + opener + before, state)
    assert noise == 80
    assert list(positions) == [0, *range(len(before), 2 * len(before) + 1)]
    assert state.opened
    assert nodemailer.prefilter(before, state) == (range(len(before)), 0)


@pytest.mark.parametrize("seed", [5])
def test_smtplib_filtered_same(tmp_path, monkeypatch, small_blocks, seed):
    fixtures = _fixtures("smtplib")
    assert len(fixtures) >= 15
    numbered = tmp_path / "numbered-2026-03-02.log"
    numbered.write_text(_smtplib_log(seed, fixtures))
    paths = [*fixtures, numbered]
    filtered = _frames(paths, "smtplib")
    with monkeypatch.context() as patch:
        _unfiltered(patch, smtplib)
        plain = _frames(paths, "smtplib")
    _assert_same(filtered, plain)


def test_nodemailer_broken_filter_differs(tmp_path, monkeypatch, small_blocks):
    """A prefilter blind to the objects that take in lines changes the result, so the tests above can fail."""
    hazards = tmp_path / "hazards-2026-03-02.log"
    hazards.write_text(_nodemailer_hazard_log(5, _fixtures("nodemailer")))
    with monkeypatch.context() as patch:
        patch.setattr(nodemailer, "_may_open", lambda text: False)
        patch.setattr(nodemailer, "SCAN", None)  # the Python block reader, made blind below
        patch.setattr(nodemailer, "_droppable", _without_openers(nodemailer._droppable))
        broken = _frames([hazards], "nodemailer")
    with monkeypatch.context() as patch:
        _unfiltered(patch, nodemailer)
        plain = _frames([hazards], "nodemailer")
    assert any(not fast.equals(slow) or fast.attrs != slow.attrs for fast, slow in zip(broken, plain))


def _without_openers(droppable):
    def blind(data, count):
        drop, logger, _ = droppable(data, count)
        return drop, logger, None

    return blind
