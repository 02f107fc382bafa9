"""The compiled nodemailer block reader (``_nodemailer_scan.pyx``) returns what the numpy one returns.

``droppable`` must give ``nodemailer._droppable``'s drop flags, logger flags
and first opener for every block of every log in the repository (of any
format: the reader must not misread other lines as logger lines either),
and for logger lines changed at random around the stamp, the level, the
connection id and the message's first bytes.  ``scan`` must give what the
Python prefilter gives with those results.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from smtplogkit.formats import nodemailer
from smtplogkit.inputs import Decoded, RawBlock, Source, TextBlock, open_blocks

pytestmark = pytest.mark.skipif(
    nodemailer.SCAN is None,
    reason="_nodemailer_scan is not built or is turned off (test_compiled_built tells which)")

ROOT = Path(__file__).resolve().parents[2]
LOGS = sorted((ROOT / "tests").rglob("*.log")) + sorted((ROOT / "sample_data").rglob("*.log"))
TEMPLATES = [
    "[2026-03-02 08:00:01] DEBUG [q3r7TbX2Y] S: 250 2.0.0 OK",
    "[2026-03-02 08:00:01] DEBUG [q3r7TbX2Y] C: MAIL FROM:<a@example.org>",
    "[2026-03-02 08:00:01] INFO  [q3r7TbX2Y] Resolved smtp.example.org as 192.0.2.1 [cache miss]",
    "[2026-03-02 08:00:01] DEBUG [q3r7TbX2Y] Sending message <x@example.org> to <b@example.net>",
    "[2026-03-02 08:00:01] TRACE [q3r7TbX2Y] message body line",
    "[2026-03-02 08:00:01] INFO  Sending mail using SMTP/10.6.1",
    "[2026-03-02 08:00:01] ERROR [q3r7TbX2Y] Connection closed unexpectedly",
    "[2026-03-02 08:00:01] DEBUG [#1] Assigned message to connection",
    "    at SMTPConnection._formatError (/app/node_modules/nodemailer/lib/smtp-connection/index.js:798:19)",
    "Error: Invalid login: 535 5.7.8 Authentication failed { code: 'EAUTH' }",
    "[Error: self signed certificate] { code: 'ESOCKET' }",
]
ALPHABET = " []#:0123456789-{}'\tSCaté"


def _changed(seed: int, count: int) -> list[str]:
    """Return ``count`` lines made from the templates with one or two characters changed, mostly in the head."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        text = rng.choice(TEMPLATES[:8]) if rng.random() < 0.97 else rng.choice(TEMPLATES)
        for _ in range(rng.randint(0, 2)):
            at = rng.randrange(min(len(text), 48))
            roll = rng.random()
            if roll < 0.5:
                text = text[:at] + rng.choice(ALPHABET) + text[at + 1:]
            elif roll < 0.75:
                text = text[:at] + text[at + 1:]
            else:
                text = text[:at] + rng.choice(ALPHABET) + text[at:]
        lines.append(text)
    return lines


def _same_answers(data: bytes, count: int) -> None:
    want = nodemailer._droppable(data, count)
    got = nodemailer.SCAN.droppable(data, count, nodemailer._NOTE_START_BYTES)
    assert (list(want[0]), list(want[1]), want[2]) == got


@pytest.mark.parametrize("path", LOGS, ids=lambda path: str(path.relative_to(ROOT)))
def test_scan_same_as_numpy_on_logs(path):
    for block in open_blocks(Source(path.name, path), Decoded()):
        data = getattr(block, "data", None)
        if data is not None and len(block):
            _same_answers(data, len(block))


@pytest.mark.parametrize("seed", range(6))
def test_scan_same_as_numpy_on_changed_lines(seed):
    texts = _changed(seed, 4000)
    data = "\n".join(texts).encode("utf-8")
    _same_answers(data, len(texts))
    drop, logger, _ = nodemailer.SCAN.droppable(data, len(texts), nodemailer._NOTE_START_BYTES)
    assert sum(drop) > 100  # lines are left out
    assert len(texts) - sum(logger) > 100  # and some lines are no logger lines


@pytest.mark.parametrize("seed", range(3))
def test_scan_prefilter_same_as_python(seed, monkeypatch):
    texts = _changed(seed + 10, 3000)
    for opened_at in (None, 1500):  # an opener in the middle keeps every line from there on
        lines = list(texts)
        if opened_at is not None:
            lines[opened_at] = TEMPLATES[-1]
        data = "\n".join(lines).encode("utf-8")
        block = RawBlock(data) if data.isascii() else TextBlock(lines)
        if not data.isascii():
            block.data = data
        state = nodemailer.PrefilterState()
        got = nodemailer.prefilter(block, state, raw=True)
        with monkeypatch.context() as patch:
            patch.setattr(nodemailer, "SCAN", None)
            python_state = nodemailer.PrefilterState()
            want = nodemailer.prefilter(block, python_state, raw=True)
        assert (list(want[0]), want[1], list(want[2])) == (got[0], got[1], got[2])
        assert state.opened == python_state.opened
        assert state.opened or opened_at is None
        if len(got) > 3:
            assert got[3] == [lines[p] for p in got[0]]
