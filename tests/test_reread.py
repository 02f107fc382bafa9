"""session_events reads one session again from its file and gets the events the whole read got."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

import smtplogkit
from smtplogkit import reread
from smtplogkit.errors import InputError
from smtplogkit.records import Event, SessionEnd
from smtplogkit.reread import LOOKBACK, _find, session_events

HERE = Path(__file__).parent
ROOT = HERE.parent
# Multi-session logs of several formats, and cases whose first event depends on the lines before it
# (a traceback's first lines, nodemailer's "SERVER 1:" heading).
INPUTS = [
    *sorted((ROOT / "sample_data").glob("*/*/*.log"))[::6],
    HERE / "data" / "postfix" / "capture.maillog",
    HERE / "cases" / "smtplib-002.log",
    HERE / "cases" / "nodemailer-010.log",
    *sorted((HERE / "formats" / "data").glob("*.log")),
]
COLUMNS = ["line", "direction", "verb", "reply_code", "enhanced_code", "text"]


@pytest.mark.parametrize("path", INPUTS, ids=lambda path: path.name)
def test_same_as_whole_read(path):
    sessions = smtplogkit.read_logs(path)
    events = smtplogkit.read_events(path)
    chosen = random.Random(path.name).sample(list(sessions["session_id"]), min(25, len(sessions)))
    assert chosen
    for session_id in chosen:
        whole = events[events["session_id"] == session_id][COLUMNS].reset_index(drop=True)
        again = session_events(sessions, session_id)
        assert len(whole) > 0
        assert again[COLUMNS].reset_index(drop=True).equals(whole), session_id
        assert set(again["session_id"]) == {session_id}


def test_far_into_file(tmp_path):
    # A session that starts well past LOOKBACK lines: the read starts late and still finds it.
    capture = (HERE / "data" / "postfix" / "capture.maillog").read_text()
    path = tmp_path / "maillog"
    filler = "Dec  4 21:00:00 capture postfix/anvil[1]: statistics: max cache size 1 at Dec  4 21:00:00\n"
    path.write_text(filler * (LOOKBACK * 3) + capture)
    sessions = smtplogkit.read_logs(path, format="postfix")
    events = smtplogkit.read_events(path, format="postfix")
    last = sessions.sort_values("line").iloc[-1]["session_id"]

    again = session_events(sessions, last)
    assert int(again["line"].min()) > LOOKBACK * 3
    assert again[COLUMNS].equals(events[events["session_id"] == last][COLUMNS].reset_index(drop=True))


def test_no_credentials():
    path = HERE / "captures" / "smtplib" / "auth_535.debug2.log"
    sessions = smtplogkit.read_logs(path)
    again = session_events(sessions, sessions["session_id"].iloc[0])
    auth = again[again["verb"] == "AUTH"]
    assert len(auth) > 0
    payload = "AGNhcHR1cmUtdXNlckBjYXB0dXJlLnRlc3QAZmFrZS1wYXNzd29yZC03ZjNhOWM="  # the line's AUTH PLAIN payload
    assert payload in path.read_text()
    assert not again["text"].str.contains(payload, regex=False).any()
    assert not again["text"].str.contains("fake-password", regex=False).any()


def test_unknown_session():
    path = HERE / "data" / "postfix" / "capture.maillog"
    sessions = smtplogkit.read_logs(path)
    with pytest.raises(InputError, match="session not found"):
        session_events(sessions, f"{path}:999999")


def test_file_moved(tmp_path):
    path = tmp_path / "maillog"
    shutil.copyfile(HERE / "data" / "postfix" / "capture.maillog", path)
    sessions = smtplogkit.read_logs(path)
    path.unlink()
    with pytest.raises(InputError, match="file not found"):
        session_events(sessions, sessions["session_id"].iloc[0])


def test_rank_on_one_line():
    # Two sessions start on line 5; the second to end is "#2".
    first, second, other = (Event(5, "local", "a", "A"), Event(5, "local", "b", "B"), Event(3, "local", "c", "C"))
    items = [other, first, second, SessionEnd("C"), SessionEnd("A"), Event(6, "local", "d", "B"), SessionEnd("B")]
    assert [event.text for event in _find(iter(items), 5, 1)[0]] == ["a"]
    assert [event.text for event in _find(iter(items), 5, 2)[0]] == ["b", "d"]
    assert _find(iter(items), 5, 3) == ([], False)
    # Sessions still open at the end of the file count in the order they started.
    assert [event.text for event in _find(iter(items[:3]), 5, 2)[0]] == ["b"]
    assert _find(iter(items[:3]), 5, 2)[1]


def test_session_cut_by_rotation(tmp_path):
    # The capture split in three rotations: sessions that go on in the next file are read on into it.
    lines = (HERE / "data" / "postfix" / "capture.maillog").read_text().splitlines(keepends=True)
    cuts = [0, 14, 124, len(lines)]  # after the first line of two attempts whose records follow
    for name, start, stop in zip(["maillog.2", "maillog.1", "maillog"], cuts, cuts[1:]):
        (tmp_path / name).write_text("".join(lines[start:stop]))
    sessions = smtplogkit.read_logs(tmp_path)
    events = smtplogkit.read_events(tmp_path)
    crossing = events[events["source"] != events["session_id"].str.rsplit(":", n=1).str[0]]["session_id"].unique()
    assert len(crossing) > 0

    for session_id in sessions["session_id"]:
        whole = events[events["session_id"] == session_id][["source", *COLUMNS]].reset_index(drop=True)
        again = session_events(sessions, session_id)[["source", *COLUMNS]].reset_index(drop=True)
        assert again.equals(whole), session_id



def test_stops_after_session_span(tmp_path, monkeypatch):
    # nodemailer ends its sessions only at the end of the file, so reading stops once the log is SLACK
    # past the session's span.  Sixty copies of a real capture, a minute apart, each with its own id.
    capture = (HERE / "captures" / "nodemailer" / "success.logger.log").read_text().splitlines()
    old_id = re.search(r"\] \w+ +\[(\w+)\]", capture[2]).group(1)
    lines = [f"[2026-12-04 10:{index:02d}:{line[18:20]}]{line[21:]}".replace(f"[{old_id}]", f"[c{index:04d}x]")
             for index in range(60) for line in capture[1:]]
    path = tmp_path / "nodemailer.log"
    path.write_text("\n".join(lines) + "\n")
    sessions = smtplogkit.read_logs(path, format="nodemailer")
    events = smtplogkit.read_events(path, format="nodemailer")
    assert len(sessions) == 60
    consumed = []
    find = reread._find

    def counting(items, *args):
        def counted():
            for item in items:
                consumed.append(item)
                yield item
        return find(counted(), *args)

    monkeypatch.setattr(reread, "_find", counting)
    for session_id in sessions["session_id"]:
        whole = events[events["session_id"] == session_id][COLUMNS].reset_index(drop=True)
        assert session_events(sessions, session_id)[COLUMNS].reset_index(drop=True).equals(whole)
    # The first session's read stopped about eleven minutes in, not at the end of the file.
    consumed.clear()
    session_events(sessions, sessions.sort_values("line")["session_id"].iloc[0])
    assert 0 < len(consumed) < len(events) / 3


def test_file_rewritten(tmp_path, caplog):
    # After the file is rewritten, another session starts on the same line: it is not shown as this one.
    path = tmp_path / "maillog"
    capture = (HERE / "data" / "postfix" / "capture.maillog").read_text().splitlines(keepends=True)
    path.write_text("".join(capture))
    sessions = smtplogkit.read_logs(path)
    later = sessions.sort_values("line").iloc[-1]
    shifted = [line.replace("Dec 04 21:", "Dec 04 22:", 1) for line in capture]
    assert shifted != capture
    path.write_text("".join(shifted))

    again = session_events(sessions, later["session_id"])
    assert again.empty
    assert "is not the one read before" in caplog.text


def test_rotation_moved_away(tmp_path, caplog):
    # A session that went on in the newer file, read again after that file moved: marked incomplete.
    lines = (HERE / "data" / "postfix" / "capture.maillog").read_text().splitlines(keepends=True)
    (tmp_path / "maillog.1").write_text("".join(lines[:14]))  # an attempt starts on line 14, its records follow
    (tmp_path / "maillog").write_text("".join(lines[14:]))
    sessions = smtplogkit.read_logs(tmp_path)
    events = smtplogkit.read_events(tmp_path)
    crossing = events[events["source"] != events["session_id"].str.rsplit(":", n=1).str[0]]["session_id"].iloc[0]
    assert session_events(sessions, crossing).attrs["complete"]

    (tmp_path / "maillog").rename(tmp_path / "elsewhere")
    again = session_events(sessions, crossing)
    assert not again.empty
    assert again.attrs["complete"] is False
    assert "up to the end of its file only" in caplog.text


def test_whole_session_in_rotated_copy(tmp_path, caplog):
    # The newer file is gone, but a session that ended well before the end of its file is whole.
    lines = (HERE / "data" / "postfix" / "capture.maillog").read_text().splitlines(keepends=True)
    filler = "Dec 04 21:40:00 capture postfix/anvil[1]: statistics: max cache size 1 at Dec 04 21:40:00\n"
    (tmp_path / "maillog.1").write_text("".join(lines[:124]) + filler * 300)
    (tmp_path / "maillog").write_text("".join(lines[124:]))
    sessions = smtplogkit.read_logs(tmp_path)
    early = sessions[sessions["source"].str.endswith("maillog.1") & (sessions["line"] < 40)]["session_id"]
    assert len(early) > 0
    (tmp_path / "maillog").rename(tmp_path / "elsewhere")

    for session_id in early:
        assert session_events(sessions, session_id).attrs["complete"], session_id
    assert "up to the end of its file only" not in caplog.text
