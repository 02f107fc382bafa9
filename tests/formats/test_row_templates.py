"""Rows copied from a template equal the rows built from each session's own events.

The smtplib and nodemailer parsers reuse the row of a session whose lines
repeat an earlier session's (:mod:`smtplogkit.formats._templates`).  These
tests read the same files with templates, without them and through the
general path (``quick=False``), and compare the frames exactly.  The files
repeat the benchmark's sessions with times that cross midnight, and mix in
the quick paths' edge cases, so both the copies and the fallbacks are used.
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from smtplogkit.formats import _templates
from smtplogkit.formats.base import ParseContext, ParseOptions
from smtplogkit.records import Event
from smtplogkit.sessions import build_session

from .format_helpers import read_both_dates, restamp

from .test_quick_paths import FIXTURES, NODEMAILER_EDGES, PREFILTER_CASES, SMTPLIB_EDGES, _fixture_sessions

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import client_logs  # noqa: E402  (the benchmark's own log writers)


def _smtplib_log(seed: int) -> str:
    """Return repeated benchmark sessions that run past two midnights, with the edge cases mixed in."""
    rng = random.Random(seed)
    lines: list[str] = []
    moment = datetime(2026, 3, 2, 22, 0)
    for number in range(400):
        session: list[str] = []
        client_logs.write_session(session, rng, number)
        lines += restamp(session, moment, timedelta(milliseconds=rng.choice((1, 50, 700))))
        moment += timedelta(minutes=rng.choice((1, 7, 20)))
        if rng.random() < 0.1:
            cases = [case for case, _ in PREFILTER_CASES if not any(text.startswith("24:") for text in case)]
            lines += rng.choice([SMTPLIB_EDGES.splitlines(), *cases])
        if rng.random() < 0.05:
            # An SMTP_SSL pair, a failed connect and a reply that differs from the benchmark's.
            lines += restamp(["00:00:00.000000 connect: ('smtp.example.com', 465)",
                               "00:00:00.000000 connect: to ('smtp.example.com', 465) None",
                               "00:00:00.000000 reply: b'220 ready\\r\\n'",
                               "00:00:00.000000 connect fail: [Errno 111] Connection refused",
                               "00:00:00.000000 connect: to ('smtp.example.com', 587) None",
                               f"00:00:00.000000 reply: b'554 5.7.1 blocked {number}\\r\\n'"],
                              moment, timedelta(milliseconds=3))
    return "\n".join(lines) + "\n"


def _nodemailer_log(seed: int) -> str:
    """Return repeated benchmark sessions with variants that a template must not copy over.

    Some sessions log another error text for the same reply, some print an
    error whose message runs over lines that look like body lines, and some
    connections log again after the next one started.
    """
    rng = random.Random(seed)
    lines: list[str] = []
    earlier: list[str] = []
    for number in range(400):
        session: list[str] = []
        client_logs.write_nodemailer_session(session, rng, number * 13)
        sid = session[1].split("[")[2].split("]")[0]
        stamp = session[0][:21]
        variant = rng.random()
        if variant < 0.15:
            session = [text.replace("ERROR Send error for", "ERROR Send error") .replace(
                "closing connection.", f"closing connection ({rng.randrange(3)}).") if "ERROR Send" in text else text
                for text in session]
        elif variant < 0.25:
            session += [
                "[Error: 40B7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number",
                f"{stamp} DEBUG [{sid}] Message-ID: <{rng.randrange(3)}@example.com>",
                "] { library: 'SSL routines', code: 'ESOCKET', command: 'CONN' }",
            ]
        lines += session
        if earlier and rng.random() < 0.1:
            lines += [f"{stamp} DEBUG [{rng.choice(earlier)}] C: QUIT", f"{stamp} DEBUG [{rng.choice(earlier)}] S: 221 Bye"]
        earlier.append(sid)
        if rng.random() < 0.05:
            lines += NODEMAILER_EDGES.splitlines()
    return "\n".join(lines) + "\n"


def _count_copies(monkeypatch) -> list[int]:
    copies = [0]
    instantiate = _templates.RowTemplate.instantiate_at

    def counted(self, number, stamp, micros=None):
        copies[0] += 1
        return instantiate(self, number, stamp, micros)

    monkeypatch.setattr(_templates.RowTemplate, "instantiate_at", counted)
    return copies


@pytest.mark.parametrize("seed", [1, 2])
def test_smtplib_template_rows_match(tmp_path, monkeypatch, seed):
    dated = tmp_path / "worker-2026-03-02.log"
    undated = tmp_path / "worker.log"
    dated.write_text(_smtplib_log(seed))
    undated.write_text(_smtplib_log(seed + 10))
    paths = [*sorted((ROOT / "tests" / "captures" / "smtplib").glob("*.log")), dated, undated]

    general = read_both_dates(paths, "smtplib", monkeypatch, quick=False)
    plain = read_both_dates(paths, "smtplib", monkeypatch, templates=False)
    copies = _count_copies(monkeypatch)
    fast = read_both_dates(paths, "smtplib", monkeypatch)

    for quick, without, slow in zip(fast, plain, general):
        pd.testing.assert_frame_equal(quick, slow, check_exact=True)
        pd.testing.assert_frame_equal(without, slow, check_exact=True)
        assert quick.attrs == slow.attrs
    assert copies[0] > 500  # most of the repeated sessions were copies
    # The times ran past midnight twice, and the copies rolled the day over as the general path does.
    assert fast[1]["start"].dt.date.nunique() >= 3


@pytest.mark.parametrize("seed", [3])
def test_nodemailer_template_rows_match(tmp_path, monkeypatch, seed):
    log = tmp_path / "worker.log"
    log.write_text(_nodemailer_log(seed))
    paths = [*sorted((ROOT / "tests" / "captures" / "nodemailer").glob("*.log")), log]

    general = read_both_dates(paths, "nodemailer", monkeypatch, quick=False)
    plain = read_both_dates(paths, "nodemailer", monkeypatch, templates=False)
    copies = _count_copies(monkeypatch)
    fast = read_both_dates(paths, "nodemailer", monkeypatch)

    for quick, without, slow in zip(fast, plain, general):
        pd.testing.assert_frame_equal(quick, slow, check_exact=True)
        pd.testing.assert_frame_equal(without, slow, check_exact=True)
        assert quick.attrs == slow.attrs
    assert copies[0] > 300


def _shifted(events: list[Event], seed: int) -> tuple[list[Event], dict[int, datetime]]:
    """Return copies of ``events`` whose times moved by a random amount per line.

    The amounts make some lines share a time and a few go back in time, so
    the order of equal times and the clipping of negative ones are tested.
    """
    rng = random.Random(seed)
    moved: dict[int, datetime] = {}
    shift = timedelta(0)
    copies = []
    for event in events:
        if event.line not in moved and event.ts is not None:
            shift += timedelta(microseconds=rng.choice((0, 0, 1, 5_000, 2_000_000, -3_000_000)))
            moved[event.line] = event.ts + shift
        ts = moved.get(event.line) if event.ts is not None else None
        copies.append(Event(event.line, event.direction, event.text, event.session, ts, event.verb, event.code,
                            event.enhanced, dict(event.attrs)))
    return copies, moved


def test_template_times_follow_their_lines():
    # For every fixture session with a time on each line, a template of it given other times
    # gives the row build_session gives for events with those times.
    from smtplogkit.records import Line

    checked = 0
    for path in FIXTURES:
        for events in _fixture_sessions(path):
            numbers = sorted({event.line for event in events})
            stamps: dict[int, datetime] = {}
            for event in events:
                if event.ts is not None:
                    stamps.setdefault(event.line, event.ts)
            if set(stamps) != set(numbers):
                continue
            lines = [Line(number, "", stamps[number].replace(tzinfo=timezone.utc)) for number in numbers]
            by_number = {line.number: line for line in lines}
            own = [Event(e.line, e.direction, e.text, e.session, by_number[e.line].ts, e.verb, e.code, e.enhanced,
                         dict(e.attrs)) for e in events]
            row, template = _templates.make_template(lines, own, [], None)
            assert row == build_session(own)
            if template is None:
                continue
            moved_events, moved = _shifted(own, len(numbers))
            stamp = lambda index: moved[lines[index].number]  # noqa: E731
            expected = build_session(moved_events)
            assert template.instantiate(lines, stamp) == expected, path
            # The same times as microseconds, as a parser whose segment keeps to one day passes them.
            origin = min(moved.values())
            micros = lambda index: (moved[lines[index].number] - origin) // timedelta(microseconds=1)  # noqa: E731
            assert template.instantiate_at(lines[template.line_index].number, stamp, micros) == expected, path
            checked += 1
    assert checked > 100


def test_template_needs_own_times():
    from smtplogkit.records import Line

    moment = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    ctx = ParseContext("shared.log", ParseOptions())
    lines = [Line(1, "", moment), Line(2, "", moment)]  # one time object for two lines
    events = [ctx.server(lines[0], "220 ready", 1), ctx.client(lines[1], "QUIT", 1)]
    row, template = _templates.make_template(lines, events, [], None)
    assert row == build_session(events)
    assert template is None


def _unique(lines: list[str], number: int) -> list[str]:
    """Return a session's lines with an EHLO name that no other session sends.

    An EHLO command's text stays in a segment's key, unlike the text of a
    success reply or the address of MAIL FROM and RCPT TO, so no two such
    sessions share a template.
    """
    return [text.replace("ehlo worker-7", f"ehlo worker-{number}").replace("EHLO [10.0.0.7]", f"EHLO [w{number}]")
            for text in lines]


def test_templates_stop_on_unique_sessions(tmp_path, monkeypatch):
    # Repeated sessions first, then sessions whose replies never repeat: the parsers stop
    # looking for repeats part way, and nodemailer reads its copied connections again then.
    rng = random.Random(5)
    smtplib_lines: list[str] = []
    nodemailer_lines: list[str] = []
    sids: list[str] = []
    for number in range(600):
        session: list[str] = []
        client_logs.write_session(session, rng, number)
        smtplib_lines += session if number < 150 else _unique(session, number)
        session = []
        client_logs.write_nodemailer_session(session, rng, number)
        sids.append(session[1].split("[")[2].split("]")[0])
        nodemailer_lines += session if number < 150 else _unique(session, number)
    # Connections from the repeated part log again at the end.
    nodemailer_lines += [f"[2026-03-02 09:00:00] DEBUG [{sid}] S: 221 Bye" for sid in sids[:150:7]]
    (tmp_path / "smtplib-2026-03-02.log").write_text("\n".join(smtplib_lines) + "\n")
    (tmp_path / "nodemailer.log").write_text("\n".join(nodemailer_lines) + "\n")

    for name in ("smtplib", "nodemailer"):
        paths = [tmp_path / ("smtplib-2026-03-02.log" if name == "smtplib" else "nodemailer.log")]
        general = read_both_dates(paths, name, monkeypatch, quick=False)
        with monkeypatch.context() as patch:
            copies = _count_copies(patch)
            fast = read_both_dates(paths, name, monkeypatch)
        for quick, slow in zip(fast, general):
            pd.testing.assert_frame_equal(quick, slow, check_exact=True)
            assert quick.attrs == slow.attrs
        # Two reads (with and without a date), each copying rows in the repeated part only.
        assert 2 * 100 < copies[0] < 2 * 150, name


@pytest.mark.parametrize("seed", [6, 7])
def test_interleaved_connections_match(tmp_path, monkeypatch, seed):
    # Concurrent sends: the lines of two connections mixed at random, next to repeated ones.
    rng = random.Random(seed)
    lines: list[str] = []
    waiting: list[list[str]] = []
    for number in range(300):
        session: list[str] = []
        client_logs.write_nodemailer_session(session, rng, number % 5)
        if waiting and rng.random() < 0.3:
            other = waiting.pop()
            mixed = []
            while session or other:
                source = session if session and (not other or rng.random() < 0.5) else other
                mixed.append(source.pop(0))
            session = mixed
        elif rng.random() < 0.2:
            waiting.append(session)
            continue
        lines += session
    path = tmp_path / "worker.log"
    path.write_text("\n".join(lines) + "\n")

    general = read_both_dates([path], "nodemailer", monkeypatch, quick=False)
    copies = _count_copies(monkeypatch)
    fast = read_both_dates([path], "nodemailer", monkeypatch)
    for quick, slow in zip(fast, general):
        pd.testing.assert_frame_equal(quick, slow, check_exact=True)
        assert quick.attrs == slow.attrs
    assert copies[0] > 100
