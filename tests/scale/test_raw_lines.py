"""Postfix lines read raw (formats/_postfix_lean.py) give the rows the general code gives.

The generated logs mix the lines of a few smtp processes.  They contain
every sequence where the raw reading hands a process back to the general
code: two TLS lines before a record, a record for another address, a
recipient named twice, failures, TLS problems, cached connections, LMTP
sockets, and lines of the same process with an ISO 8601 stamp.
"""

from __future__ import annotations

import random
import re

import pandas as pd
import pytest

import smtplogkit
from smtplogkit import reader
from smtplogkit.formats import _postfix_lean as lean
from smtplogkit.formats import postfix

from test_fast_paths import POSTFIX_INPUTS, _filler, by_line  # the same directory, which pytest puts on the path

HOSTS = [("mx.example.org", "198.51.100.10"), ("mx.example.net", "198.51.100.20"), ("mx.example.com", "203.0.113.7"),
         ("mx6.example.com", "2001:db8::25")]


def _line(rng: random.Random, n: int, pid: int, qids: list[str]) -> list[str]:
    """Return one step of an smtp process: usually a line the raw reading takes, sometimes one it must not."""
    stamp = f"Dec  4 21:{n // 60 % 60:02d}:{n % 60:02d} mx1"
    tag = f"postfix/smtp[{pid}]"
    host, ip = rng.choice(HOSTS)
    if rng.random() < 0.5 or not qids:
        qids.append(f"{0x20000 + n:X}B")
    qid = qids[-1] if rng.random() < 0.7 else rng.choice(qids)
    recipient = f"r{rng.randint(0, 3)}@example.org"
    port = rng.choice(["25", "25", "465"])

    roll = rng.random()

    if roll < 0.35:
        word = rng.choice(["Trusted", "Untrusted", "Anonymous", "Verified"])
        return [f"{stamp} {tag}: {word} TLS connection established to {host}[{ip}]:{port}: TLSv1.3 with cipher X"]
    if roll < 0.7:
        orig = f" orig_to=<o{n}@example.org>," if rng.random() < 0.1 else ""
        conn = " conn_use=2," if rng.random() < 0.1 else ""
        return [f"{stamp} {tag}: {qid}: to=<{recipient}>,{orig} relay={host}[{ip}]:{port},{conn} delay=1.2, "
                f"delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {n})"]
    if roll < 0.74:
        return [f"{stamp} postfix/lmtp[{pid}]: {qid}: to=<{recipient}>, relay=mail.example[private/dovecot-lmtp], "
                f"delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 <{recipient}> Saved)"]
    if roll < 0.82:
        return [f"{stamp} {tag}: connect to {host}[{ip}]:25: Connection timed out"]
    if roll < 0.88:
        return [f"{stamp} {tag}: {qid}: to=<{recipient}>, relay={host}[{ip}]:25, delay=2, delays=0/0/1/1, dsn=4.7.0, "
                f"status=deferred (host {host}[{ip}] said: 421 4.7.0 Try again later (in reply to MAIL FROM command))"]
    if roll < 0.9:
        return [f"{stamp} {tag}: {qid}: to=<{recipient}>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, "
                f"status=deferred (connect to {host}[{ip}]:25: Connection timed out)"]
    if roll < 0.92:
        return [f"{stamp} {tag}: warning: TLS library problem: error:0A000086:SSL routines::certificate verify failed",
                f"{stamp} {tag}: SSL_connect error to {host}[{ip}]:25: -1"]
    if roll < 0.94:
        # The same process, with an envelope the raw reading does not take.
        return [f"2026-12-04T21:{n // 60 % 60:02d}:{n % 60:02d}+00:00 mx1 {tag}: Trusted TLS connection established "
                f"to {host}[{ip}]:25: TLSv1.3"]
    if roll < 0.96:
        # Brackets in the host name: the raw reading leaves it to the general code.
        return [f"{stamp} {tag}: {qid}: to=<{recipient}>, relay=a[b]{host}[{ip}]:25, delay=1, delays=0/0/0/1, "
                f"dsn=2.0.0, status=sent (250 2.0.0 Ok)"]
    if roll < 0.98:
        return [f"{stamp} {tag}: {qid}: to=<{recipient}>, relay={host}[{ip}]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, "
                f"status=sent (250 2.0.0 Ok)", f"{stamp} {tag}: {qid}: enabling PIX workarounds"]
    return [f"{stamp} {tag}: {qid}: to=<{recipient}>, relay={host}[{ip}]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, "
            f"status=bounced (host {host}[{ip}] said: 550 5.1.1 User unknown (in reply to RCPT TO command))"]


def _maillog(seed: int, steps: int) -> str:
    rng = random.Random(seed)
    lines = _filler(450)  # past the sample, which the reader strips before the prefilter runs
    qids: dict[int, list[str]] = {}
    for n in range(steps):
        pid = rng.randint(200, 204)
        lines += _line(rng, n, pid, qids.setdefault(pid, []))
    return "\n".join(lines) + "\n"


# The classes that read raw lines: the Python one, and its compiled twin when it is built.
EPISODE_CLASSES = [lean.Episodes] + ([postfix.EPISODES] if postfix.EPISODES is not lean.Episodes else [])


@pytest.fixture(params=EPISODE_CLASSES, ids=lambda cls: cls.__module__.rsplit(".", 1)[-1])
def episodes(request, monkeypatch):
    """Read raw lines with each class in turn."""
    monkeypatch.setattr(postfix, "EPISODES", request.param)
    return request.param


def _without_raw_lines(monkeypatch, path, **options) -> pd.DataFrame:
    with monkeypatch.context() as patch:
        patch.setattr(postfix, "RAW_LINES", False)
        return smtplogkit.read_logs(path, format="postfix", progress=False, **options)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_raw_lines_give_general_rows(tmp_path, monkeypatch, seed, episodes):
    path = tmp_path / "maillog-2026-12-04"
    path.write_text(_maillog(seed, 4000))
    raw = smtplogkit.read_logs(path, format="postfix", progress=False)
    general = _without_raw_lines(monkeypatch, path)
    pd.testing.assert_frame_equal(by_line(raw), by_line(general), check_exact=True)
    assert raw.attrs == general.attrs
    # The log exercises both ways and the failures.
    assert len(raw) > 2000
    assert (raw["outcome"] != "ok").sum() > 200


@pytest.mark.parametrize("path", POSTFIX_INPUTS, ids=lambda p: p.name)
def test_raw_lines_give_general_rows_on_fixtures(monkeypatch, path, episodes):
    raw = smtplogkit.read_logs(path, format="postfix", progress=False)
    general = _without_raw_lines(monkeypatch, path)
    pd.testing.assert_frame_equal(by_line(raw), by_line(general), check_exact=True)
    assert raw.attrs == general.attrs


@pytest.mark.parametrize("seed", [11, 12])
def test_episodes_twins_take_alike(seed):
    """Both classes return the same status for each raw line and end with the same records and episodes."""
    if len(EPISODE_CLASSES) < 2:
        pytest.skip("the compiled twin is not built")
    texts = [text for text in _maillog(seed, 3000).splitlines() if re.match(postfix.RAW_LINE, text)]
    general = {f"mx1 postfix/smtp[{pid}]": ("mx1", "postfix/smtp", str(pid)) for pid in (201, 203)}
    results = []
    for cls in EPISODE_CLASSES:
        reader_ = cls(lambda stamp: stamp)  # the stamp itself stands for its time
        statuses = []
        for number, text in enumerate(texts, 1):
            status = reader_.take(number, text, general)
            if status == lean.REFUSED:
                name, _ = lean.process_key(text)
                statuses.append((status, reader_.current.pop(name).lines))
            else:
                statuses.append(status)
        current = {name: episode.lines for name, episode in reader_.current.items()}
        results.append((statuses, current, list(reader_.finish())))
    assert results[0] == results[1]
    statuses = results[0][0]
    assert {lean.TAKEN, lean.GENERAL} <= {status for status in statuses if isinstance(status, int)}
    assert any(isinstance(status, tuple) for status in statuses)  # some refused


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_episodes_twins_alike_on_odd_raw_lines(seed):
    """Raw lines of unusual shapes (empty recipients, relay forms, queue id forms) read alike in both classes."""
    if len(EPISODE_CLASSES) < 2:
        pytest.skip("the compiled twin is not built")
    from tests.formats.test_postfix_scan import RAW_EDGES, _mutated

    rng = random.Random(seed)
    texts = [text for text in RAW_EDGES + _mutated(rng, 6000) if re.match(postfix.RAW_LINE, text + "\n")]
    rng.shuffle(texts)
    results = []
    for cls in EPISODE_CLASSES:
        reader_ = cls(lambda stamp: stamp)
        statuses = []
        for number, text in enumerate(texts, 1):
            status = reader_.take(number, text, {})
            if status == lean.REFUSED:
                name, _ = lean.process_key(text)
                statuses.append(reader_.current.pop(name).lines)
            else:
                statuses.append(status)
        results.append((statuses, list(reader_.finish())))
    assert results[0] == results[1]
    assert len(texts) > 300


def test_raw_lines_are_taken(tmp_path):
    # Most generated lines reach the parser raw, so the comparisons above test the raw reading.
    block = _maillog(5, 2000).splitlines()
    positions, _, raw = postfix.prefilter(block, raw=True)
    assert len(raw) == len(positions)
    assert sum(raw) > 0.5 * len(positions)


def test_field_readers_match_parser_expressions():
    rng = random.Random(9)
    qids: list[str] = []
    checked = 0
    for n in range(3000):
        for text in _line(rng, n, 300, qids):
            if not re.match(postfix.RAW_LINE, text):
                continue
            checked += 1
            name, body = lean.process_key(text)
            line = postfix.strip_envelope(n, text, postfix.EnvelopeOptions(year=2026))
            assert name == lean.key_of(line.log_host, line.program, line.pid)
            message = line.text
            assert text[body:] == message
            if text.startswith(lean.TLS_HEADS, body):
                host, ip, port = postfix.TLS_ESTABLISHED_RE.match(message).groups()
                assert lean.tls_fields(text, body) == (host, ip, int(port), str(postfix._tls_mode(port)))
                continue
            qid, rest = postfix.QID_LINE_RE.match(message).groups()
            status = postfix.STATUS_RE.match(rest)
            relay = status.group(3)
            host, ip, port = postfix.RELAY_RE.match(relay).groups()
            ip = None if "/" in ip else ip
            assert lean.sent_fields(text, body) == (qid, status.group(1), relay, host, ip, postfix._port(port))
    assert checked > 1500


def test_session_ids_on_one_line():
    # A second and third session starting on one line get "#2" and "#3"; the bits grow past the first lines.
    started = reader._StartedLines()
    counts = [started.add(line) for line in [5, 5, 5, 100_000, 3, 100_000, None, None]]
    assert counts == [0, 1, 2, 0, 0, 1, 0, 1]


def test_session_ids_unique_with_raw_lines(tmp_path):
    path = tmp_path / "maillog-2026-12-04"
    path.write_text(_maillog(6, 3000))
    frame = smtplogkit.read_logs(path, format="postfix", progress=False)
    assert frame["session_id"].is_unique
    assert (frame["session_id"] == frame["source"] + ":" + frame["line"].astype(str)).all()


@pytest.mark.parametrize("cut", [1500, 4321])
def test_raw_lines_across_rotations(tmp_path, monkeypatch, cut, episodes):
    # An episode that starts in maillog.1 and ends in maillog keeps the line number of its first line.
    lines = _maillog(7, 4000).splitlines(keepends=True)
    folder = tmp_path / "relay"
    folder.mkdir()
    (folder / "maillog.1").write_text("".join(lines[:cut]))
    (folder / "maillog").write_text("".join(lines[cut:]))
    raw = smtplogkit.read_logs(folder, format="postfix", progress=False)
    general = _without_raw_lines(monkeypatch, folder)
    pd.testing.assert_frame_equal(by_line(raw), by_line(general), check_exact=True)
    assert raw.attrs == general.attrs
    assert set(raw["source"]) == {str(folder / "maillog.1"), str(folder / "maillog")}
