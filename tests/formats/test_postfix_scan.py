"""The compiled Postfix prefilter (``_postfix_scan.pyx``) returns what the pyarrow one returns.

:func:`smtplogkit.formats.postfix.prefilter` has two ways to pick the lines
the parser must see: pyarrow's regular expressions over a block, and the
compiled scanner that reads the block's bytes once.  Both must give the
same positions, noise count and raw-line flags for every share of a file.
The inputs are every Postfix log of the repository, and lines made by
changing the bytes of typical lines at random.  Many of those land on the
edges of the expressions: a day the month lacks, a hex digit short of a
queue id, a bracket in a host name, a missing space.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from smtplogkit.formats import base, postfix
from smtplogkit.inputs import RawBlock, TextBlock

from tests.scale.test_fast_paths import EDGE_LINES, POSTFIX_INPUTS

pytestmark = pytest.mark.skipif(
    postfix.SCAN is None,
    reason="_postfix_scan is not built or is turned off (test_compiled_built tells which)")

SHARES = [None, (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]

# Lines of each kind the prefilter distinguishes, to change at random.
TEMPLATES = [
    "Dec  4 21:00:01 mx1 postfix/smtp[4213]: Trusted TLS connection established to mx.example.net[198.51.100.20]:25:"
    " TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
    "Dec  4 21:00:01 mx1 postfix/smtp[4213]: 4F2B1C0A3D: to=<b@example.net>, orig_to=<o@example.org>,"
    " relay=mx.example.net[198.51.100.20]:25, conn_use=2, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0,"
    " status=sent (250 2.0.0 Ok: queued as 8A1)",
    "Jan 31 00:59:59 relay-2 postfix-out/lmtp[77]: 4dN3Fq1x2Gz9Kq: to=<c@example.org>,"
    " relay=mail.example[private/dovecot-lmtp], delay=0.1, dsn=2.0.0, status=sent",
    "Feb 28 23:00:00 mx1 postfix/qmgr[700]: 4F2B1C0A3D: from=<a@example.org>, size=9, nrcpt=1 (queue active)",
    "Nov 30 12:00:00 mx1 postfix/cleanup[701]: 4dN3Fq1x2Gz9Kq: message-id=<x@example.org>",
    "Oct  1 09:00:00 mx1 postfix/error[12]: 4F2B1C0A3D: to=<b@example.net>, relay=none, delay=1, dsn=4.4.1,"
    " status=deferred (delivery temporarily suspended)",
    "Aug 31 01:02:03 mx1 postfix/smtpd[11]: connect from a.example[192.0.2.1]",
    "Sep  9 01:02:03 mx1 opendkim[400]: 4F2B1C0A3D: DKIM-Signature field added",
    "Mar 29 01:02:03 mx1 postfix/smtp[4210]: connect to mx.example.net[198.51.100.20]:25: Connection timed out",
    # Postfix under a syslog_name of its own, and another program with a daemon-like tag.
    "Dec  4 21:00:01 mx1 example.com/smtp[4213]: 4F2B1C0A3D: to=<b@example.net>, relay=mx.example.net"
    "[198.51.100.20]:25, delay=1.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
    "Feb 28 23:00:00 mx1 mta-2/qmgr[700]: 4F2B1C0A3D: from=<a@example.org>, size=9, nrcpt=1 (queue active)",
    "Sep  9 01:02:03 mx1 dovecot/imap[400]: Logged out in=1 out=2",
    # A container's stamped line inside syslog's.
    "Dec  4 21:00:01 docker-host relay[904]: 2026-12-04T21:00:01.000001+00:00 INFO    postfix/smtp[21]: x",
    "Dec  4 21:00:01 docker-host 3a5b6c7d8e9f[904]: Dec  4 21:00:01 mx2 postfix/smtpd[22]: x",
]
# Bytes to put in: those the expressions give a meaning to, and a few others.
ALPHABET = " []:<>,./0123456789zZAaFfEe()\n\té"
_SENT = ("Dec  4 21:00:01 mx1 postfix/smtp[4213]: {qid}: to=<{to}>,{orig} relay={relay},{conn} delay={delay},{delays}"
         " dsn={dsn}, status={status}")
_TLS = "Dec  4 21:00:01 mx1 postfix/smtp[4213]: {word} TLS connection established to {peer}: TLSv1.3"
_SENT_PARTS = {
    "qid": ["4F2B1C0A3D", "4F2B", "4F2B1", "4F2B1C0A3D4F2B1", "4F2B1C0A3D4F2B1C", "4f2b1c0a3d", "4dN3Fq1x2Gz9Kq",
            "4dN3Fq1z9", "4dN3Fq1x2Gz", "4dN3Fq1x2Gz9Kq1x2Gz9Kq", "4dN3Fq1x2Gz9Kq1x2G9z9Kq", "4dN3Fa1x2Gz9Kq",
            "4dN3Fq1x2Gzz9Kq",
            # The long form's two runs of letters at and past their lengths (8 to 15, then 1 to 12).
            *[("4dN3Fq1x2GhjkmnpqrSt"[:before] + "z" + "9Kq1x2G9Kq1x2G"[:after])
              for before in (7, 8, 15, 16) for after in (0, 1, 12, 13)],
            # The time part in base 52 may hold "z" too; the separator is the last "z".
            *[("4dNzFq1x2zhjkmnpqzSt"[:before] + "z" + "9Kq1x2G9Kq1x2G"[:after])
              for before in (7, 8, 15, 16) for after in (0, 1, 12, 13)],
            "4R5tWzzKzbzzMCp", "zzzzzzzzzzz9", "4dN3Fq1x2Gz9Kqz"],
    "to": ["b@example.net", "", "b>c@example.net", "b <c>", "b,c"],
    "orig": ["", " orig_to=<o@example.org>,", " orig_to=<o@example.org>", " orig_to=<>,", " orig_to=<o>x>,"],
    "relay": ["mx.example.net[198.51.100.20]:25", "mx.example.net[198.51.100.20]", "[198.51.100.20]:25",
              "mx.example.net[198.51.100.20]:", "mx.example.net[198.51.100.20]:2a5", "mx example[198.51.100.20]:25",
              "mx[a]b[198.51.100.20]:25", "mx.example.net[]:25", "mx.example.net[1,2]:25", "none",
              "h[private/dovecot-lmtp]", "mx.example.net[198.51.100.20]25"],
    "conn": ["", " conn_use=2,", " conn_use=,", " conn_use=2"],
    "delay": ["1.2", "", ".", "1/2", "1.2.3"],
    "delays": ["", " delays=0.1/0/0.5/0.6,", " delays=,", " delays=0.1/0/x,", " delays=0.1/0/0.5/0.6"],
    "dsn": ["2.0.0", "2.0.000", "2.0.0000", "2.000.0", "2.0000.0", "22.0.0", "2..0", "2.0.", ".0.0", "2.0.0x"],
    "status": ["sent", "sent (250 2.0.0 Ok)", "sent ()", "sent (", "sent ( x", "sent (x) ", "sent x", "sentx",
               "sent(250)", "sent  (250)", "deferred (x)", "sent (a)(b)"],
}
_TLS_PARTS = {
    "word": ["Trusted", "Untrusted", "Anonymous", "Verified", "trusted", "Secret", ""],
    "peer": ["mx.example.net[198.51.100.20]:25", "mx.example.net[198.51.100.20]:465", "[198.51.100.20]:25",
             "mx.example.net[]:25", "mx.example.net[198.51.100.20]:", "mx.example.net[198.51.100.20]", "mx ex[1]:25",
             "mx]x[1]:25", "mx.example.net[1[2]:25", "mx.example.net[198.51.100.20]:25x"],
}


def _variants(template: str, parts: dict[str, list[str]]) -> list[str]:
    """Return the template with each part's first value, then with each other value of one part at a time."""
    first = {name: values[0] for name, values in parts.items()}
    lines = [template.format(**first)]
    for name, values in parts.items():
        lines += [template.format(**{**first, name: value}) for value in values[1:]]
    return lines


RAW_EDGES = _variants(_SENT, _SENT_PARTS) + _variants(_TLS, _TLS_PARTS)


def _mutated(rng: random.Random, count: int) -> list[str]:
    """Return ``count`` lines, each a template with one to three characters changed, put in or taken out."""
    lines = []
    for _ in range(count):
        text = rng.choice(TEMPLATES)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text))
            if rng.random() < 0.5:  # next to punctuation or a digit, where the expressions' parts meet
                at = rng.choice([i for i, c in enumerate(text) if not c.isalpha()] or [at])
            roll = rng.random()
            if roll < 0.4:
                text = text[:at] + rng.choice(ALPHABET) + text[at + 1:]
            elif roll < 0.7:
                text = text[:at] + text[at + 1:]
            else:
                text = text[:at] + rng.choice(ALPHABET) + text[at:]
        lines.extend(text.split("\n"))
    return lines


def _block(texts: list[str]):
    """Return ``texts`` as the reader's block: bytes kept, ASCII in a RawBlock, anything else in a TextBlock."""
    data = "\n".join(texts).encode("utf-8")
    if data.isascii():
        return RawBlock(data)
    block = TextBlock(texts)
    block.data = data
    return block


def _both(texts: list[str], share) -> tuple[tuple, tuple]:
    """Return the pyarrow prefilter's result for ``texts`` and the scanner's, as comparable tuples."""
    if len(texts) < postfix.PREFILTER_MIN:
        texts = texts + [""] * (postfix.PREFILTER_MIN - len(texts))
    positions, noise, flags = postfix.prefilter(list(texts), share, raw=True)
    want = (list(positions), noise if not share or share[0] == 0 else 0, list(flags))
    block = _block(texts)
    index, count = share or (0, 1)
    got = postfix.SCAN.scan(block.data, len(block), index, count, True, True)
    assert got[3] == [texts[p] for p in got[0]]  # the texts of the kept lines
    return want, tuple(got[:3])


def _first_difference(texts: list[str], want: tuple, got: tuple) -> str:
    """Return the first line on which the two results differ, for the failure message."""
    kept_want, kept_got = set(want[0]), set(got[0])
    for position in sorted(kept_want ^ kept_got):
        return f"kept by one only: {texts[position]!r}"
    for position, a, b in zip(want[0], want[2], got[2]):
        if a != b:
            return f"raw flag {a} against {b}: {texts[position]!r}"
    return f"noise {want[1]} against {got[1]}"


def test_scan_service_names_match_the_parser():
    assert set(postfix.SCAN.NOISE_NAMES) == {name.encode() for name in postfix.NOISE_SERVICES}
    assert set(postfix.SCAN.RECORD_NAMES) == {name.encode() for name in postfix.RECORD_SERVICES}


@pytest.mark.parametrize("share", SHARES)
@pytest.mark.parametrize("path", POSTFIX_INPUTS, ids=lambda path: path.name)
def test_scan_same_as_pyarrow_on_logs(path, share):
    texts = path.read_text(encoding="utf-8").split("\n")
    want, got = _both(texts, share)
    assert want == got, _first_difference(texts, want, got)


@pytest.mark.parametrize("share", SHARES)
def test_scan_same_as_pyarrow_on_edge_lines(share):
    texts = [text for text, _ in EDGE_LINES] + TEMPLATES + RAW_EDGES
    want, got = _both(texts, share)
    assert want == got, _first_difference(texts, want, got)


@pytest.mark.parametrize("seed", range(6))
def test_scan_same_as_pyarrow_on_changed_lines(seed):
    rng = random.Random(seed)
    texts = _mutated(rng, 4000)
    share = SHARES[seed % len(SHARES)]
    want, got = _both(texts, share)
    assert want == got, _first_difference(texts, want, got)


def test_scan_edge_lines_reach_both_flags():
    """Some of the raw-line variants are raw lines and some are not, so both sides of each part are compared."""
    block = _block(RAW_EDGES)
    _, _, flags, _ = postfix.SCAN.scan(block.data, len(block), 0, 1, True, True)
    assert 10 < sum(flags) < len(RAW_EDGES) - 10


def test_scan_changed_lines_reach_every_answer():
    """The changed lines are worth comparing: some are left out as noise, some as parsed, some kept, some raw."""
    texts = _mutated(random.Random(0), 4000)
    block = _block(texts)
    positions, noise, flags, _ = postfix.SCAN.scan(block.data, len(block), 0, 1, True, True)
    parsed = len(texts) - len(positions) - noise
    assert noise > 100
    assert parsed > 100
    assert sum(flags) > 100
    assert len(positions) - sum(flags) > 100


def test_scan_off_with_pure_python_switch():
    script = "from smtplogkit.formats import postfix; print(postfix.SCAN is None)"
    env = {**os.environ, "SMTPLOGKIT_PURE_PYTHON": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_scan_stale_build_not_used(tmp_path, monkeypatch, caplog):
    built, source = tmp_path / "_x.so", tmp_path / "_x.pyx"
    built.write_bytes(b"")
    assert not base.stale(built, source)  # no source next to the build: an installed wheel
    source.write_text("")
    os.utime(built, (1_000, 1_000))
    assert base.stale(built, source)
    monkeypatch.setattr(base, "stale", lambda built, source: True)
    assert base.compiled("_postfix_scan") is None
    assert "newer than its build" in caplog.text
    assert f"'{sys.executable} -m pip install -e " in caplog.text  # the interpreter in use, not whichever pip is first
