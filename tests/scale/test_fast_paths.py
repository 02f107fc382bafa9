"""Fast paths give the results of the general path: the Postfix block prefilter and quick session rows.

Each fast path is run next to the general code on the same input, and the
results must be equal, so a fast path that drifts from the general one fails
here even when both look plausible on their own.
"""

from __future__ import annotations

import random
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smtplogkit
from smtplogkit import reader, sessions
from smtplogkit.envelope import EnvelopeOptions
from smtplogkit.formats import postfix
from smtplogkit.formats.base import ParseContext
from smtplogkit.inputs import TextBlock
from smtplogkit.plainrows import FileColumns, plain_columns, record_row
from smtplogkit.records import PlainSession, SessionEnd

ROOT = Path(__file__).resolve().parents[2]
POSTFIX_INPUTS = [
    ROOT / "tests" / "data" / "postfix" / "capture.maillog",
    *sorted((ROOT / "tests" / "cases").glob("postfix-*.log")),
    *sorted((ROOT / "sample_data" / "prod" / "relay").glob("*")),
]

# Lines at the edges of what the prefilter may leave out.  Each is paired with
# whether the parser must see it.
EDGE_LINES = [
    ("Dec  4 21:00:01 mx1 postfix/smtpd[11]: connect from a.example[192.0.2.1]", False),
    ("Dec  4 21:00:01 mx1 dovecot: imap(u@example.org): Logged out in=1 out=2", False),
    ("Dec  4 21:00:01 mx1 postfix/qmgr[700]: 4F2B1C0A3D: from=<a@example.org>, size=9, nrcpt=1 (queue active)", False),
    ("Dec  4 21:00:01 mx1 postfix/qmgr[700]: warning: no queue id here", False),
    ("Dec  4 21:00:01 mx1 postfix/error[12]: 4F2B1C0A3D: to=<b@example.net>, relay=none, delay=1, "
     "delays=0/0/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to "
     "mx.example.net[198.51.100.20]:25: Connection timed out)", False),
    ("Dec  4 21:00:01 mx1 postfix/smtp[13]: connect to mx.example.net[198.51.100.20]:25: Connection timed out", True),
    ("Dec  4 21:00:01 mx1 postfix-out/lmtp[14]: 4F2B1C0A3D: to=<c@example.org>, relay=h[private/dovecot-lmtp], "
     "delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)", True),
    # A program name that reads as Postfix's smtp only after the process id.
    ("Dec  4 21:00:01 mx1 postfix[15]/smtp: connect to mx.example.net[198.51.100.20]:25: Connection refused", True),
    # Dates the syslog stamp cannot have, or can have only in some years.
    ("Feb 29 21:00:01 mx1 postfix/smtpd[11]: connect from a.example[192.0.2.1]", True),
    ("Feb 30 21:00:01 mx1 postfix/smtpd[11]: connect from a.example[192.0.2.1]", True),
    ("Apr 31 21:00:01 mx1 postfix/smtpd[11]: connect from a.example[192.0.2.1]", True),
    ("Dec 31 21:00:01 mx1 postfix/smtpd[11]: connect from a.example[192.0.2.1]", False),
    ("Dec  4 24:00:01 mx1 postfix/smtpd[11]: connect from a.example[192.0.2.1]", True),
    # Forms the positional envelope reader leaves to the general one.
    ("2026-12-04T21:00:01.123456+00:00 mx1 postfix/smtpd[11]: connect from a.example[192.0.2.1]", True),
    ("Dec  4 21:00:01 mx1 postfix/smtpd[11] : spaced tag", True),
    ("Dec  4 21:00:01 mx1 postfix/smtpd[11]:", True),
    ("-- Boot 0123456789abcdef --", True),
    ("", True),
    # A Postfix daemon the prefilter does not know by name goes to the parser.
    ("Dec  4 21:00:01 mx1 postfix/postmulti[16]: starting", True),
    # A syslog_name of its own: NAME/DAEMON[pid] is Postfix's when DAEMON is one of its daemons.
    ("Dec  4 21:00:01 mx1 example.com/smtp[17]: connect to mx.example.net[198.51.100.20]:25: Connection timed out",
     True),
    ("Dec  4 21:00:01 mx1 mta2/lmtp[18]: 4F2B1C0A3D: to=<c@example.org>, relay=h[private/dovecot-lmtp], "
     "delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)", True),
    ("Dec  4 21:00:01 mx1 example.com/qmgr[700]: 4F2B1C0A3D: from=<a@example.org>, size=9, nrcpt=1 (queue active)",
     False),
    ("Dec  4 21:00:01 mx1 mta2/smtpd[11]: connect from a.example[192.0.2.1]", False),
    # Not a Postfix daemon: another program, a process id that is no number, no name before the slash.
    ("Dec  4 21:00:01 mx1 dovecot/imap[40]: Logged out in=1 out=2", False),
    ("Dec  4 21:00:01 mx1 example.com/smtp[1x]: connect to mx.example.net[198.51.100.20]:25: Connection refused",
     False),
    ("Dec  4 21:00:01 mx1 /smtp[19]: connect to mx.example.net[198.51.100.20]:25: Connection refused", False),
    # A severity between host and tag, and a container's stamped line inside syslog's: the general reader's.
    ("Dec  4 21:00:01 mx1 INFO postfix/smtp[20]: connect to mx.example.net[198.51.100.20]:25: Connection refused",
     True),
    ("Dec  4 21:00:01 docker-host relay[904]: 2026-12-04T21:00:01.000001+00:00 INFO    postfix/smtp[21]: connect to "
     "mx.example.net[198.51.100.20]:25: Connection refused", True),
    ("Dec  4 21:00:01 docker-host 3a5b6c7d8e9f[904]: Dec  4 21:00:01 mx2 postfix/smtpd[22]: connect from "
     "a.example[192.0.2.1]", True),
    ("Dec  4 21:00:01 mx1 postfix/smtpd[11]: Dec  4 21:00:01 mx2 postfix/smtp[23]: connect to "
     "mx.example.net[198.51.100.20]:25: Connection refused", True),
    ("Dec  4 21:00:01 mx1 dockerd[5]: 2026-12-04 21:00:01 level=info msg=started", False),
    # smtp -v transcript lines: a failing reply with no record after it becomes a session.
    ("Dec  4 21:00:01 mx1 postfix/smtp[25]: > mx.example.net[198.51.100.20]:25: RCPT TO:<r@example.org>", True),
    ("Dec  4 21:00:01 mx1 postfix/smtp[25]: < mx.example.net[198.51.100.20]:25: 550 5.1.1 <r@example.org>: "
     "User unknown", True),
    # A month of another locale: the prefilter reads only English stamps.
    ("déc. 04 21:00:01 mx1 postfix/smtpd[11]: connect from a.example[192.0.2.1]", True),
    ("dic 04 21:00:01 mx1 postfix/smtp[24]: connect to mx.example.net[198.51.100.20]:25: Connection refused", True),
]


def by_line(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the rows sorted by file (in reading order) and line, ties in their order: the order of a shared read."""
    rank = {report["source"]: index for index, report in enumerate(frame.attrs["files"])}
    keys = pd.DataFrame({"file": frame["source"].astype(object).map(rank), "line": frame["line"]})
    order = keys.sort_values(["file", "line"], kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def _filler(count: int) -> list[str]:
    """Return ``count`` anvil lines, which the prefilter always leaves out."""
    return [f"Dec  4 20:59:{n % 60:02d} mx1 postfix/anvil[701]: statistics: max connection count 1" for n in range(count)]


def test_prefilter_keeps_lines_the_parser_reads():
    block = _filler(postfix.PREFILTER_MIN) + [text for text, _ in EDGE_LINES]
    positions, noise = postfix.prefilter(block)
    kept = {block[p] for p in positions}
    for text, must_see in EDGE_LINES:
        assert (text in kept) is must_see, text
    # Left out as noise: the filler, smtpd under two syslog names, dovecot twice, the queue-less
    # qmgr warning, Dec 31, two smtp tags that are not Postfix's, and dockerd.
    # Left out as parsed: two qmgr records and the error record.
    assert noise == postfix.PREFILTER_MIN + 9


def _maillog(seed: int, count: int) -> str:
    """Return a maillog mixing ordinary relay traffic with the edge lines, in a random order."""
    rng = random.Random(seed)
    lines = _filler(450)
    for n in range(count):
        qid = f"{0x10000 + n:X}A"
        pid = rng.randint(100, 140)
        host, ip = rng.choice([("mx.example.org", "198.51.100.10"), ("mx.example.net", "198.51.100.20")])
        stamp = f"Dec  4 21:{n // 60 % 60:02d}:{n % 60:02d} mx1"
        if rng.random() < 0.2:
            lines.append(f"{stamp} postfix/smtp[{pid}]: connect to {host}[{ip}]:25: Connection timed out")
            lines.append(f"{stamp} postfix/smtp[{pid}]: {qid}: to=<r{n}@example.org>, relay=none, delay=30, "
                         f"delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to {host}[{ip}]:25: Connection timed out)")
        else:
            lines.append(f"{stamp} postfix/smtp[{pid}]: Trusted TLS connection established to {host}[{ip}]:25: TLSv1.3")
            lines.append(f"{stamp} postfix/smtp[{pid}]: {qid}: to=<r{n}@example.org>, relay={host}[{ip}]:25, delay=1, "
                         f"delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {n})")
        lines.append(f"{stamp} postfix/qmgr[700]: {qid}: removed")
        if rng.random() < 0.3:
            lines.append(rng.choice(EDGE_LINES)[0])
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_prefilter_gives_same_frame(tmp_path, monkeypatch, seed):
    path = tmp_path / "maillog-2026-12-04"
    path.write_text(_maillog(seed, 3000))
    fast = smtplogkit.read_logs(path, format="postfix", progress=False)
    monkeypatch.delattr(postfix, "prefilter")
    general = smtplogkit.read_logs(path, format="postfix", progress=False)
    pd.testing.assert_frame_equal(by_line(fast), by_line(general), check_exact=True)
    assert fast.attrs == general.attrs
    assert len(fast) > 2000


# Last lines cut short, each with how the parser counts it: None for parsed, which gets no warning.
CUT_LAST_LINES = [
    ("Dec  4 22:00:00 mx1 postfix/smtpd[11]: disconnect from a.exa", "noise"),  # dropped before the parser
    ("Dec  4 22:00:00 mx1 dovecot: imap(u@example.org): Logged o", "noise"),
    ("Dec  4 22:00:00 mx1 postfix/anvil[701]: statistics: max connection co", "noise"),
    ("Dec  4 22:00:00 mx1 postfix/qmgr[700]: 1F00A: remo", None),  # a message fact, read by read_deliveries
    ("Dec  4 22:00:00 mx1 postfix/smtp[123]: connect to mx.example.org[198.51.100.10]:25: Connection ti", None),
    ("Dec  4 22:00:00 mx1 postfix/sm", "unrecognised"),
    ("Dec  4 22:0", "unrecognised"),
]


@pytest.mark.parametrize("last, counted_as", CUT_LAST_LINES)
def test_prefilter_counts_cut_last_line(tmp_path, monkeypatch, last, counted_as):
    whole = tmp_path / "whole-2026-12-04"
    whole.write_text(_maillog(4, 3000))
    path = tmp_path / "maillog-2026-12-04"
    path.write_text(whole.read_text() + last)
    fast = smtplogkit.read_logs(path, format="postfix", progress=False)
    before = smtplogkit.read_logs(whole, format="postfix", progress=False).attrs["files"][0]
    (report,) = fast.attrs["files"]

    assert report["lines"] == before["lines"] + 1
    assert report[counted_as or "parsed"] == before[counted_as or "parsed"] + 1
    cut = [w for w in report["warnings"] if "last line has no line end" in w]
    assert cut == ([f"{path}:{report['lines']}: the file's last line has no line end and was not read "
                    f"(counted as {counted_as}); the log was probably copied or read while it was being written: "
                    f"{last!r}"] if counted_as else [])
    monkeypatch.delattr(postfix, "prefilter")
    general = smtplogkit.read_logs(path, format="postfix", progress=False)
    pd.testing.assert_frame_equal(by_line(fast), by_line(general), check_exact=True)
    assert fast.attrs == general.attrs


@pytest.mark.parametrize("path", POSTFIX_INPUTS, ids=lambda p: p.name)
def test_prefilter_gives_same_frame_on_fixtures(monkeypatch, path):
    fast = smtplogkit.read_logs(path, format="postfix", progress=False)
    monkeypatch.delattr(postfix, "prefilter")
    general = smtplogkit.read_logs(path, format="postfix", progress=False)
    pd.testing.assert_frame_equal(by_line(fast), by_line(general), check_exact=True)
    assert fast.attrs == general.attrs


def _sessions(path: Path) -> list[list]:
    """Return the events of each session the Postfix parser yields for ``path``."""
    lines = [postfix.strip_envelope(n, text, EnvelopeOptions(year=2026))
             for n, text in enumerate(path.read_text().splitlines(), 1)]
    grouped: dict = {}
    done = []
    for item in postfix.parse(lines, ParseContext(str(path))):
        if isinstance(item, SessionEnd):
            done.append(grouped.pop(item.session))
        elif item.session is not None:
            grouped.setdefault(item.session, []).append(item)
    return done + list(grouped.values())


def test_quick_rows_equal_general_rows(tmp_path):
    generated = tmp_path / "maillog"
    generated.write_text(_maillog(4, 2000))
    quick = 0
    total = 0
    for path in [*POSTFIX_INPUTS, generated]:
        for events in _sessions(path):
            total += 1
            row = sessions._quick_row(events)
            if row is None:
                continue
            quick += 1
            assert row == sessions._build_general(events), path
    # Both kinds occur, so the comparison covers the quick path and leaves failures to the general one.
    assert 1000 < quick < total


def _general_frame(path: Path, **options) -> pd.DataFrame:
    """Return the sessions of ``path`` built from every session's events, as ``read_events`` reads them."""
    return reader.sessions_frame(reader.read(path, keep_events=True, **options))


@pytest.mark.parametrize("path", POSTFIX_INPUTS, ids=lambda p: p.name)
def test_plain_sessions_equal_event_rows(path):
    fast = smtplogkit.read_logs(path, format="postfix", progress=False)
    general = _general_frame(path, format="postfix", progress=False)
    pd.testing.assert_frame_equal(by_line(fast), by_line(general), check_exact=True)


def test_plain_sessions_equal_event_rows_generated(tmp_path):
    path = tmp_path / "maillog-2026-12-04"
    path.write_text(_maillog(5, 3000))
    fast = smtplogkit.read_logs(path, format="postfix", labels={"network": "prod"}, progress=False)
    general = _general_frame(path, format="postfix", labels={"network": "prod"}, progress=False)
    pd.testing.assert_frame_equal(by_line(fast), by_line(general), check_exact=True)
    assert fast["outcome"].eq("ok").sum() > 1500


def test_label_named_like_column(tmp_path):
    path = tmp_path / "maillog-2026-12-04"
    path.write_text(_maillog(6, 500))
    labels = {"host": "from-label", "queue_id": "from-label"}
    fast = smtplogkit.read_logs(path, format="postfix", labels=labels, progress=False)
    general = _general_frame(path, format="postfix", labels=labels, progress=False)
    pd.testing.assert_frame_equal(by_line(fast), by_line(general), check_exact=True)


def _records(seed: int, count: int) -> list[PlainSession]:
    rng = random.Random(seed)
    start = datetime(2026, 12, 4, 21, tzinfo=timezone.utc)
    records = []
    for n in range(count):
        connected = start + timedelta(microseconds=rng.randint(0, 10**10))
        tls = connected + timedelta(microseconds=rng.randint(-10**6, 10**6)) if rng.random() < 0.7 else None
        sent = connected + timedelta(microseconds=rng.randint(-10**6, 10**7)) if rng.random() < 0.8 else None
        records.append(PlainSession(n + 1, connected, tls, sent, rng.choice(["mx.example.org", None]), "192.0.2.1",
                                    rng.choice([25, 465, None]), rng.choice(["starttls", "implicit", None]), "mx1",
                                    None, rng.choice([f"{n:X}ABCDE", None]), rng.randint(0, 3)))
    return records


def test_plain_columns_equal_record_rows():
    records = _records(7, 400)
    files = FileColumns("maillog", "postfix", "postfix", (("network", "prod"),))
    entries = [(record, f"maillog:{record.line}", files) for record in records]
    names = [*reader.SESSION_COLUMNS, "queue_id", "network"]
    columns = plain_columns(entries, names)
    for position, record in enumerate(records):
        expected = record_row(record)
        expected.update(session_id=f"maillog:{record.line}", source="maillog", format="postfix", client="postfix",
                        network="prod")
        for name in names:
            value = columns[name][position]
            want = expected.get(name)
            if name in ("start", "end"):
                assert value == pd.Timestamp(want), (name, record)
            elif want is None and isinstance(value, float):
                assert np.isnan(value), (name, record)
            else:
                assert value == want, (name, record)


def test_plain_columns_two_files():
    records = _records(9, 60)
    files = [FileColumns("a.log", "postfix", "postfix", ()), FileColumns("b.log", "exim", None, ())]
    entries = [(record, f"x:{record.line}", files[index % 2]) for index, record in enumerate(records)]
    columns = plain_columns(entries, list(reader.SESSION_COLUMNS))
    assert columns["source"] == [files[index % 2].source for index in range(len(records))]
    assert columns["format"] == [files[index % 2].format for index in range(len(records))]
    assert columns["client"] == [files[index % 2].client for index in range(len(records))]


def test_plain_columns_typed_equal_converted():
    # Columns plain_columns makes in their dtypes equal the reader's conversion of its lists.
    records = _records(8, 400)
    files = FileColumns("maillog", "postfix", "postfix", (("network", "prod"),))
    entries = [(record, f"maillog:{record.line}", files) for record in records]
    names = [*reader.SESSION_COLUMNS, "queue_id", "network"]
    targets = reader._session_targets(["queue_id", "network"])
    typed = reader._typed_frame(pd, plain_columns(entries, names, targets), names, targets)
    converted = reader._typed_frame(pd, plain_columns(entries, names), names, targets)
    pd.testing.assert_frame_equal(typed, converted, check_exact=True)
    assert typed["last_stage_reached"].nunique() == 3  # CONNECT, TLS and DATA all occur


def test_prefilter_reads_block_bytes():
    texts = _filler(postfix.PREFILTER_MIN) + [text for text, _ in EDGE_LINES] + ["Dec  4 21:00:01 mx1 café: é"]
    block = TextBlock(texts)
    block.data = "\n".join(texts).encode("utf-8")
    positions, noise = postfix.prefilter(block)
    assert (list(positions), noise) == (list(postfix.prefilter(list(texts))[0]), postfix.prefilter(list(texts))[1])
    assert len(positions) == sum(must_see for _, must_see in EDGE_LINES)


@pytest.mark.parametrize("cut", [900, 4321])
def test_rotation_counts_with_prefilter(tmp_path, monkeypatch, cut):
    lines = _maillog(8, 3000).splitlines(keepends=True)
    folder = tmp_path / "relay"
    folder.mkdir()
    (folder / "maillog.1").write_text("".join(lines[:cut]))
    (folder / "maillog").write_text("".join(lines[cut:]))
    fast = smtplogkit.read_logs(folder, format="postfix", progress=False)
    monkeypatch.delattr(postfix, "prefilter")
    general = smtplogkit.read_logs(folder, format="postfix", progress=False)
    pd.testing.assert_frame_equal(by_line(fast), by_line(general), check_exact=True)
    assert fast.attrs["files"] == general.attrs["files"]
    assert [f["lines"] for f in fast.attrs["files"]] == [cut, len(lines) - cut]


def _fixture_logs() -> list[Path]:
    """Return every log file under tests/ and sample_data/."""
    found = []
    for folder in (ROOT / "tests" / "cases", ROOT / "tests" / "captures", ROOT / "tests" / "data", ROOT / "sample_data"):
        found += [p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix not in (".jsonl", ".json", ".md")]
    return found


def test_local_rows_equal_general_rows(monkeypatch, tmp_path):
    generated = tmp_path / "maillog-2026-12-04"
    generated.write_text(_maillog(8, 2000))
    checked = []
    original = reader.build_session

    def compare(events):
        row = sessions.local_row(events)
        if row is not None:
            assert row == sessions._build_general(events)
            checked.append(row["failure_stage"])
        return original(events)

    monkeypatch.setattr(reader, "build_session", compare)
    for path in [*_fixture_logs(), generated]:
        reader.read(path, keep_events=True, progress=False)  # every session's events reach build_session
    # Failed and successful sessions of local events both occur in the fixtures.
    assert checked.count("none") > 100
    assert len(checked) - checked.count("none") > 100


def test_categorical_codes_equal_pandas():
    target = pd.CategoricalDtype(["connect", "tls", "data"])
    values = ["tls", None, "data", float("nan"), "other", sessions.Stage.CONNECT, "connect"]
    built = reader._categorical(pd, values, target)
    with warnings.catch_warnings():
        # pandas 3 deprecates values outside the categories, which _categorical maps to missing.
        warnings.simplefilter("ignore")
        expected = pd.Categorical(values, dtype=target)
    pd.testing.assert_extension_array_equal(built, expected)


def test_started_lines_in_batches_equal_one_by_one():
    rng = random.Random(5)
    single, batched = reader._StartedLines(), reader._StartedLines()
    fallbacks = 0
    for _ in range(300):
        lines = [rng.randint(0, 20_000) for _ in range(rng.randint(1, 40))]
        expected = [single.add(line) for line in lines]
        if batched.add_new(lines):
            got = [0] * len(lines)
        else:
            fallbacks += 1
            got = [batched.add(line) for line in lines]
        assert got == expected
    assert 0 < fallbacks < 300  # both ways were taken
