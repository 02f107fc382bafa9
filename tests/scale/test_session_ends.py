"""Formats whose sessions come one after another end each session when the next begins.

Their parsers yield no :class:`~smtplogkit.records.SessionEnd`, so the
reader used to hold every event of a file until its end.
``formats.base.parse_items`` ends a session at the first event of the next
one for the formats that declare ``SESSIONS_IN_ORDER``, and the curl parser
ends a transfer's sessions when the transfer ends.  These tests read
every file of those formats under ``tests/`` and ``sample_data/`` both ways
and compare the sessions and events.  They also check that a long file
keeps one session in flight.  Every test runs the check of
``tests/session_checks.py``, and the last two tests show that it fails on a
parser that breaks the promise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import smtplogkit
from smtplogkit import formats
from smtplogkit.formats import base
from smtplogkit.records import Event, SessionEnd

from session_checks import checked_end_in_order  # tests/, which tests/conftest.py puts on the path
from test_fast_paths import by_line  # the same directory, which pytest puts on the path

ROOT = Path(__file__).resolve().parents[2]
IN_ORDER = sorted(name for name, module in formats.registry().items() if getattr(module, "SESSIONS_IN_ORDER", False))
# Formats whose sessions end early: by the order of their sessions, or by the parser's own markers.
EARLY = [*IN_ORDER, "curl"]
# The marker as the package defines it, before the check of tests/conftest.py wraps it in each test.
END_IN_ORDER = base._end_in_order


def _inputs() -> list[tuple[str, Path]]:
    """Return (format, file) for every file of an in-order format among the captures, cases and samples."""
    found = []
    for name in EARLY:
        found += [(name, path) for path in sorted((ROOT / "tests" / "captures" / name).glob("*.log"))]
    for entry in map(json.loads, (ROOT / "tests" / "cases" / "manifest.jsonl").read_text().splitlines()):
        if entry["format"] in EARLY:
            found.append((entry["format"], ROOT / "tests" / "cases" / f"{entry['id']}.log"))
    for path in sorted((ROOT / "sample_data").rglob("*.log")):
        module = smtplogkit.reader.source_format(smtplogkit.inputs.Source(path.name, path))
        if module is not None and module.NAME in EARLY:
            found.append((module.NAME, path))
    return found


INPUTS = _inputs()


def _events_by_line(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["source", "line"], kind="stable").reset_index(drop=True)


def test_every_in_order_format_has_inputs():
    assert {"javamail", "mailkit", "openssl", "phpmailer", "smtplib", "swaks", "telnet"} <= set(IN_ORDER)
    assert {name for name, _ in INPUTS} >= {"curl", "javamail", "openssl", "phpmailer", "smtplib", "swaks", "telnet"}


@pytest.mark.parametrize(("name", "path"), INPUTS, ids=lambda value: getattr(value, "name", value))
def test_early_ends_change_nothing(monkeypatch, name, path):
    early = smtplogkit.read_logs(path, format=name, cache="", progress=False)
    early_events = smtplogkit.read_events(path, format=name, progress=False)

    def without_ends(module, lines, ctx):
        return (item for item in base.parse_items(module, lines, ctx) if type(item) is not SessionEnd)

    monkeypatch.setattr(smtplogkit.reader, "parse_items", without_ends)
    late = smtplogkit.read_logs(path, format=name, cache="", progress=False)
    late_events = smtplogkit.read_events(path, format=name, progress=False)
    pd.testing.assert_frame_equal(by_line(early), by_line(late), check_exact=True)
    assert early.attrs == late.attrs
    pd.testing.assert_frame_equal(_events_by_line(early_events), _events_by_line(late_events), check_exact=True)


@pytest.mark.parametrize("name", ["javamail", "phpmailer", "swaks", "curl"])
def test_long_file_keeps_one_session_in_flight(tmp_path, monkeypatch, name):
    # The format's captures written one after another, ten times over.
    parts = [path.read_text() for path in sorted((ROOT / "tests" / "captures" / name).glob("*.log"))]
    text = "".join(part if part.endswith("\n") else part + "\n" for part in parts) * 10
    path = tmp_path / f"{name}.log"
    path.write_text(text)
    in_flight: set = set()
    counts = {"largest": 0, "ends": 0}

    def watched(module, lines, ctx):
        for item in base.parse_items(module, lines, ctx):
            if type(item) is SessionEnd:
                in_flight.discard(item.session)
                counts["ends"] += 1
            elif getattr(item, "session", None) is not None:
                in_flight.add(item.session)
                counts["largest"] = max(counts["largest"], len(in_flight))
            yield item

    monkeypatch.setattr(smtplogkit.reader, "parse_items", watched)
    sessions = smtplogkit.read_logs(path, format=name, cache="", progress=False)
    assert counts["largest"] == 1
    assert len(sessions) > 50
    assert counts["ends"] == len(sessions) - 1


def test_check_catches_a_session_that_comes_back():
    events = [Event(1, "server", "220 a", session=1), Event(2, "server", "220 b", session=2),
              Event(3, "server", "250 late", session=1)]
    with pytest.raises(AssertionError, match="after it ended"):
        list(checked_end_in_order(END_IN_ORDER)(iter(events)))


def test_check_catches_an_event_changed_after_its_end():
    first = Event(1, "server", "220 a", session=1)

    def parser():
        yield first
        yield Event(2, "server", "220 b", session=2)
        first.text = "changed"

    with pytest.raises(AssertionError, match="changed after"):
        list(checked_end_in_order(END_IN_ORDER)(parser()))


def test_curl_runs_appended_to_one_log(tmp_path):
    # A cron job appends each curl run to one file: a run that could not resolve its host after one that sent.
    sent = (ROOT / "tests" / "captures" / "curl" / "success.smtp-ssl-reqd.log").read_text()
    failed = ("* Could not resolve host: nosuch.invalid\n* Closing connection\n"
              "curl: (6) Could not resolve host: nosuch.invalid\n")
    path = tmp_path / "cron.log"
    path.write_text(sent + failed)
    frame = smtplogkit.read_logs(path, format="curl", cache="", progress=False)
    assert list(frame["cause"]) == ["ok", "dns_nxdomain"]
    assert list(frame["outcome"]) == ["ok", "network"]
    assert frame["host"].iloc[1] == "nosuch.invalid"
