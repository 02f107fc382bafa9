"""Classic syslog stamps in the hour that repeats when clocks go back (``tz=`` with daylight saving time).

The logs are written from true instants: each line's stamp is its instant
shown on the zone's wall clock, so the expected start of each session and
its duration come from the instants, not from the reader.  In the second
pass of the repeated hour the same stamp stands for an instant one hour
later than in the first pass.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import smtplogkit
from smtplogkit import parallel
from smtplogkit.envelope import EnvelopeOptions, strip_envelope, watch_repeated_hours
from smtplogkit.formats import _postfix_lean as lean
from smtplogkit.formats import postfix
from smtplogkit.reread import session_events

from test_fast_paths import by_line  # the same directory, which pytest puts on the path
from test_raw_lines import EPISODE_CLASSES

UTC = timezone.utc
# The instant the clocks go back in 2026, and the day it falls on.
CHANGES = {
    "America/New_York": datetime(2026, 11, 1, 6, 0, tzinfo=UTC),  # 02:00 EDT becomes 01:00 EST
    "Europe/Berlin": datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # 03:00 CEST becomes 02:00 CET
}
HOSTS = [("mx.example.org", "198.51.100.10"), ("mx.example.net", "198.51.100.20"), ("mx6.example.com", "2001:db8::25")]


def _stamp(instant: datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    return f"{local:%b} {local.day:2d} {local:%H:%M:%S}"


class _Log:
    """A maillog across the change, with the true instant of every line and the sessions' lines."""

    def __init__(self, zone_name: str, seed: int) -> None:
        zone = ZoneInfo(zone_name)
        change = CHANGES[zone_name]
        rng = random.Random(seed)
        events: list[tuple[datetime, int, str]] = []  # (instant, order, text after the stamp)
        sessions: list[tuple[int, int, str]] = []  # (first event, last event, kind)

        def add(instant: datetime, text: str) -> int:
            events.append((instant, len(events), text))
            return len(events) - 1

        start, end = change - timedelta(minutes=75), change + timedelta(minutes=70)
        # Processes whose id ends in an odd digit are silent from 40 minutes before the change to 30
        # after it, so a share that reads only them never reads a stamp where the clock steps back.
        quiet = (change - timedelta(minutes=40), change + timedelta(minutes=30))
        free: dict[int, datetime] = {pid: start for pid in range(301, 309)}
        # One session spans the step back: TLS in the first pass, the record in the second.
        first = add(change - timedelta(seconds=2), "mx1 postfix/smtp[310]: Trusted TLS connection established to "
                    "mx.example.org[198.51.100.10]:25: TLSv1.3 with cipher X")
        last = add(change + timedelta(seconds=3), "mx1 postfix/smtp[310]: 4A1B2C3D4E: to=<span@example.org>, "
                   "relay=mx.example.org[198.51.100.10]:25, delay=5, delays=0/0/1/4, dsn=2.0.0, status=sent (250 Ok)")
        sessions.append((first, last, "ok"))
        instant, serial = start, 0
        while instant < end:
            add(instant, "mx1 postfix/anvil[700]: statistics: max connection rate 1/60s for (smtp:192.0.2.9)")
            if rng.random() < 0.3:
                add(instant, f"mx1 postfix/smtpd[710]: connect from client{serial % 7}.example[192.0.2.{serial % 200}]")
            ready = [pid for pid, at in free.items() if at <= instant
                     and not (pid % 2 and quiet[0] <= instant < quiet[1])]
            if ready:
                pid = rng.choice(ready)
                serial += 1
                qid = f"{0x30000 + serial:X}F"
                host, ip = rng.choice(HOSTS)
                tag = f"mx1 postfix/smtp[{pid}]"
                later = instant + timedelta(seconds=rng.randint(1, 5))
                roll = rng.random()
                if roll < 0.15:
                    first = add(instant, f"{tag}: connect to {host}[{ip}]:25: Connection timed out")
                    add(later, f"{tag}: {qid}: to=<u{serial}@example.org>, relay=none, delay=30, delays=0/0/30/0, "
                               f"dsn=4.4.1, status=deferred (connect to {host}[{ip}]:25: Connection timed out)")
                    sessions.append((first, first, "failed"))
                else:
                    first = add(instant, f"{tag}: Trusted TLS connection established to {host}[{ip}]:25: "
                                         f"TLSv1.3 with cipher TLS_AES_256_GCM_SHA384")
                    if roll < 0.3:
                        last = add(later, f"{tag}: {qid}: to=<u{serial}@example.org>, relay={host}[{ip}]:25, "
                                          f"delay=2, delays=0/0/1/1, dsn=5.1.1, status=bounced (host {host}[{ip}] "
                                          f"said: 550 5.1.1 User unknown (in reply to RCPT TO command))")
                        sessions.append((first, last, "failed"))
                    else:
                        last = add(later, f"{tag}: {qid}: to=<u{serial}@example.org>, relay={host}[{ip}]:25, "
                                          f"delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)")
                        sessions.append((first, last, "ok"))
                free[pid] = later + timedelta(seconds=1)
            instant += timedelta(seconds=rng.choice([1, 1, 2, 3]))
        events.sort()
        number_of = {order: number for number, (_, order, _) in enumerate(events, 1)}
        self.lines = [f"{_stamp(instant, zone)} {text}" for instant, _, text in events]
        self.instants = {number: instant for number, (instant, _, _) in enumerate(events, 1)}
        self.sessions = {number_of[a]: (number_of[b], kind) for a, b, kind in sessions}
        self.span = number_of[0]  # the line of the session across the step back

    def write(self, folder: Path, zone_name: str) -> Path:
        path = folder / f"maillog-{CHANGES[zone_name]:%Y-%m-%d}"  # the name gives the year
        path.write_text("\n".join(self.lines) + "\n")
        return path

    def check(self, frame: pd.DataFrame) -> None:
        """Require each session's start, and its duration where it is known, from the true instants."""
        assert sorted(frame["line"]) == sorted(self.sessions)
        expected = pd.to_datetime([self.instants[line] for line in frame["line"]], utc=True)
        assert (frame["start"].dt.tz_convert("UTC").to_numpy() == expected.to_numpy()).all(), \
            _first_wrong(frame, expected)
        durations = frame["duration_s"].to_numpy()
        assert (durations >= 0).all(), durations.min()
        assert (durations <= 10).all(), durations.max()
        for line, duration in zip(frame["line"], durations):
            last, kind = self.sessions[line]
            if kind == "ok":
                assert duration == (self.instants[last] - self.instants[line]).total_seconds(), line
        span = frame[frame["line"] == self.span].iloc[0]
        assert span["duration_s"] == 5.0
        assert span["outcome"] == "ok"


def _first_wrong(frame: pd.DataFrame, expected: pd.DatetimeIndex) -> str:
    wrong = frame["start"].dt.tz_convert("UTC").to_numpy() != expected.to_numpy()
    index = int(wrong.argmax())
    return f"line {frame['line'].iloc[index]}: {frame['start'].iloc[index]}, expected {expected[index]}"


@pytest.fixture(params=list(CHANGES), ids=lambda name: name.split("/")[1])
def zone_name(request) -> str:
    return request.param


@pytest.fixture(params=EPISODE_CLASSES, ids=lambda cls: cls.__module__.rsplit(".", 1)[-1])
def episodes(request, monkeypatch):
    monkeypatch.setattr(postfix, "EPISODES", request.param)
    return request.param


def test_log_crosses_the_repeated_hour(zone_name):
    # The generated log has lines in both passes, with failures among them, and the same stamp twice.
    log = _Log(zone_name, 1)
    change = CHANGES[zone_name]
    first = [n for n, t in log.instants.items() if change - timedelta(hours=1) <= t < change]
    second = [n for n, t in log.instants.items() if change <= t < change + timedelta(hours=1)]
    assert len(first) > 1000
    assert len(second) > 1000
    assert {log.lines[n - 1][:15] for n in first} & {log.lines[n - 1][:15] for n in second}
    failed = [n for n, (_, kind) in log.sessions.items() if kind == "failed" and n in second]
    assert len(failed) > 50


@pytest.mark.parametrize("seed", [1, 2])
def test_postfix_sessions_in_repeated_hour(tmp_path, zone_name, seed, episodes):
    log = _Log(zone_name, seed)
    frame = smtplogkit.read_logs(log.write(tmp_path, zone_name), format="postfix", tz=zone_name, progress=False)
    log.check(frame)


def test_postfix_general_code_in_repeated_hour(tmp_path, monkeypatch, zone_name):
    log = _Log(zone_name, 3)
    path = log.write(tmp_path, zone_name)
    monkeypatch.setattr(postfix, "RAW_LINES", False)
    log.check(smtplogkit.read_logs(path, format="postfix", tz=zone_name, progress=False))
    monkeypatch.delattr(postfix, "prefilter")
    log.check(smtplogkit.read_logs(path, format="postfix", tz=zone_name, progress=False))


@pytest.mark.parametrize("workers", [2, 3])
def test_postfix_shares_in_repeated_hour(tmp_path, monkeypatch, zone_name, workers):
    monkeypatch.setattr(parallel, "SHARE_BYTES", 0)  # share out even a small test file
    log = _Log(zone_name, 4)
    path = log.write(tmp_path, zone_name)
    single = smtplogkit.read_logs(path, format="postfix", tz=zone_name, progress=False)
    shared = smtplogkit.read_logs(path, format="postfix", tz=zone_name, workers=workers)
    log.check(shared)
    pd.testing.assert_frame_equal(shared, by_line(single), check_exact=True)


def test_episodes_refuse_repeated_stamps():
    """Both classes leave a line stamped in the repeated hour to the general code, and keep no time for it."""
    zone = ZoneInfo("America/New_York")
    log = _Log("America/New_York", 6)
    texts = [text for text in log.lines if re.match(postfix.RAW_LINE, text)]
    repeated = {number for number, text in enumerate(texts, 1) if text.startswith("Nov  1 01:")}
    assert 500 < len(repeated) < len(texts) - 500
    results = []
    for cls in EPISODE_CLASSES:
        reader_ = cls(lambda stamp: postfix._stamp(stamp, 2026, 12, zone))
        statuses = []
        for number, text in enumerate(texts, 1):
            status = reader_.take(number, text, {})
            if status == lean.REFUSED:
                name, _ = lean.process_key(text)
                episode = reader_.current.pop(name, None)
                statuses.append((status, episode.lines if episode is not None else None))
            else:
                statuses.append(status)
        assert all(statuses[number - 1][0] == lean.REFUSED for number in repeated)
        assert not any(stamp.startswith("Nov  1 01:") for stamp in reader_.stamps)
        results.append((statuses, list(reader_.finish())))
    assert all(result == results[0] for result in results)
    assert lean.TAKEN in results[0][0]


def test_deliveries_in_repeated_hour(tmp_path, zone_name):
    log = _Log(zone_name, 5)
    deliveries = smtplogkit.read_deliveries(log.write(tmp_path, zone_name), tz=zone_name)
    expected = pd.to_datetime([log.instants[line] for line in deliveries["line"]], utc=True)
    assert (deliveries["ts"].dt.tz_convert("UTC").to_numpy() == expected.to_numpy()).all()


def test_transcript_in_repeated_hour(tmp_path):
    # A client transcript in syslog envelopes: read through envelope.syslog_time.
    zone = ZoneInfo("America/New_York")
    change = CHANGES["America/New_York"]
    lines, instants = [], []
    for session in range(40):
        at = change - timedelta(minutes=20) + timedelta(minutes=session)
        for offset, text in [(0, "S: 220 smtp.example.com ESMTP"), (1, "C: EHLO client.example"),
                             (2, "S: 250 smtp.example.com"), (4, "C: MAIL FROM:<a@example.com>"),
                             (9, "S: 421 4.7.0 Try again later")]:
            instant = at + timedelta(seconds=50 + offset)
            lines.append(f"{_stamp(instant, zone)} web1 mailer[12]: {text}")
            instants.append(instant)
    path = tmp_path / "mailer-2026-11-01.log"
    path.write_text("\n".join(lines) + "\n")
    frame = smtplogkit.read_logs(path, format="transcript", tz="America/New_York", progress=False)
    assert len(frame) == 40
    expected = pd.to_datetime([instants[line - 1] for line in frame["line"]], utc=True)
    assert (frame["start"].dt.tz_convert("UTC").to_numpy() == expected.to_numpy()).all()
    assert (frame["duration_s"] == 9.0).all(), frame["duration_s"].tolist()


@pytest.mark.parametrize("raw", [True, False])
def test_spring_gap_read_as_before(tmp_path, monkeypatch, raw):
    # 02:30 on 8 March 2026 never showed in New York: it is read with the offset before the change
    # (EST, -05:00), the instant a clock not yet put forward shows it, as Python's fold=0 reads it.
    monkeypatch.setattr(postfix, "RAW_LINES", raw)
    lines = [f"Mar  8 01:59:{n % 60:02d} mx1 postfix/anvil[700]: statistics: max connection count 1"
             for n in range(450)]
    lines += ["Mar  8 02:30:00 mx1 postfix/smtp[301]: Trusted TLS connection established to "
              "mx.example.org[198.51.100.10]:25: TLSv1.3 with cipher X",
              "Mar  8 02:30:02 mx1 postfix/smtp[301]: 5A5A5A5A5A: to=<g@example.org>, "
              "relay=mx.example.org[198.51.100.10]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 Ok)",
              "Mar  8 03:00:01 mx1 postfix/smtp[302]: connect to mx.example.net[198.51.100.20]:25: "
              "Connection timed out"]
    path = tmp_path / "maillog-2026-03-08"
    path.write_text("\n".join(lines) + "\n")
    frame = by_line(smtplogkit.read_logs(path, format="postfix", tz="America/New_York", progress=False))
    assert frame["start"].dt.tz_convert("UTC").tolist() == [pd.Timestamp("2026-03-08 07:30:00", tz="UTC"),
                                                            pd.Timestamp("2026-03-08 07:00:01", tz="UTC")]
    assert frame["duration_s"].tolist()[0] == 2.0


def test_session_events_in_second_pass(tmp_path, caplog):
    # Read again from its line, a session of the second pass keeps its time: the lines before it are
    # read for their stamps only.
    log = _Log("America/New_York", 7)
    path = log.write(tmp_path, "America/New_York")
    sessions = smtplogkit.read_logs(path, format="postfix", tz="America/New_York", progress=False)
    change = CHANGES["America/New_York"]
    second = sessions[[change + timedelta(minutes=30) <= log.instants[line] < change + timedelta(minutes=50)
                       for line in sessions["line"]]]
    assert len(second) > 20
    for session_id, line in zip(second["session_id"].iloc[:5], second["line"].iloc[:5]):
        events = session_events(sessions, session_id, tz="America/New_York")
        assert events["ts"].min() == pd.Timestamp(log.instants[line])
    assert "not the one read before" not in caplog.text


# Logs whose lines start with a local stamp: msmtp's own log file (a classic stamp that
# envelope.syslog_time reads) and Exim's main log (ISO 8601 without an offset).
LOCAL_STAMP_LOGS = {
    "msmtp": ("msmtp-2026-11-01.log", "{local:%b %d %H:%M:%S} host=smtp.example.com tls=on auth=on "
              "user=a@example.com from=a@example.com recipients=b@example.org errormsg='cannot connect to "
              "smtp.example.com, port 587: Connection timed out' exitcode=EX_TEMPFAIL"),
    "exim": ("mainlog-2026-11-01", "{local:%Y-%m-%d %H:%M:%S} 1tX{n:03d}-000abc-AB == b@example.org R=dnslookup "
             "T=remote_smtp defer (110): Connection timed out"),
}


@pytest.mark.parametrize("format_name", sorted(LOCAL_STAMP_LOGS))
def test_local_stamps_in_repeated_hour(tmp_path, format_name):
    zone = ZoneInfo("America/New_York")
    change = CHANGES["America/New_York"]
    instants = [change - timedelta(minutes=40) + timedelta(minutes=4 * n) for n in range(20)]
    name, template = LOCAL_STAMP_LOGS[format_name]
    lines = [template.format(local=instant.astimezone(zone), n=n) for n, instant in enumerate(instants)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    frame = smtplogkit.read_logs(path, format=format_name, tz="America/New_York", progress=False)
    expected = pd.to_datetime([instants[line - 1] for line in frame["line"]], utc=True)
    assert len(frame) == 20
    assert (frame["start"].dt.tz_convert("UTC").to_numpy() == expected.to_numpy()).all()


@pytest.mark.parametrize("stamp", ["{local:%Y-%m-%d %H:%M:%S},250 ERROR mailer: send failed",
                                   "{local:%Y-%m-%dT%H:%M:%S} mx1 postfix/smtp[310]: connect to mx.example.org",
                                   "{local:%Y-%m-%dT%H:%M:%S}.250{offset} mx1 postfix/smtp[310]: connect to x"])
def test_iso_envelope_in_repeated_hour(stamp):
    # Python logging's and syslog's ISO 8601 stamps; one with an offset names its instant whatever the clock.
    zone = ZoneInfo("America/New_York")
    change = CHANGES["America/New_York"]
    instants = [change - timedelta(minutes=50) + timedelta(minutes=5 * n) for n in range(20)]
    options = watch_repeated_hours(EnvelopeOptions(tz=zone, year=2026))
    for number, instant in enumerate(instants, 1):
        local = instant.astimezone(zone)
        offset = local.strftime("%z")
        line = strip_envelope(number, stamp.format(local=local, offset=f"{offset[:3]}:{offset[3:]}"), options)
        expected = instant + timedelta(milliseconds=250 if ".250" in stamp or ",250" in stamp else 0)
        assert line.ts == expected, (number, local)
        assert line.ts.utcoffset() == local.utcoffset()


def test_smtplib_in_compose_in_repeated_hour(tmp_path):
    # smtplib's debug output in syslog in docker compose: the stamp is not at the start of the
    # line, and smtplib's prefilter reads the blocks.
    zone = ZoneInfo("America/New_York")
    change = CHANGES["America/New_York"]
    lines, instants = [], []
    for session in range(480):
        at = change - timedelta(minutes=120) + timedelta(seconds=30 * session)
        for offset, text in [(0, "send: 'ehlo client.example\\r\\n'"), (1, "reply: b'250 smtp.example.com\\r\\n'"),
                             (2, "reply: retcode (250); Msg: b'smtp.example.com'"),
                             (3, "send: 'mail FROM:<a@example.com>\\r\\n'"),
                             (9, "reply: b'421 4.7.0 Try again later\\r\\n'"),
                             (9, "reply: retcode (421); Msg: b'4.7.0 Try again later'")]:
            instant = at + timedelta(seconds=offset)
            lines.append(f"web-1  | {_stamp(instant, zone)} host app[12]: {text}")
            instants.append(instant)
    path = tmp_path / "app-2026-11-01.log"
    path.write_text("\n".join(lines) + "\n")
    frame = smtplogkit.read_logs(path, format="smtplib", tz="America/New_York", progress=False)
    expected = pd.to_datetime([instants[line - 1] for line in frame["line"]], utc=True)
    assert len(frame) == 480
    assert (frame["start"].dt.tz_convert("UTC").to_numpy() == expected.to_numpy()).all()
    assert (frame["duration_s"] == 9.0).all()
