"""Rotations of one log read as one stream: sessions cut by a rotation stay whole.

A real Postfix capture and a real smtplib debug log are cut in two at many
lines, as logrotate would cut them, and written as ``maillog.1`` (plain or
compressed) and ``maillog``.  Reading the two files must give the sessions of
the uncut log, with ``session_id``, ``source`` and ``line`` naming the file
and line where each session started, and line counts per file that add up.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import smtplogkit
from smtplogkit.reader import apply_session_dtypes
from smtplogkit.reread import session_events

DATA = Path(__file__).parent / "data" / "postfix"
CAPTURE = DATA / "capture.maillog"
COUNTS = ("parsed", "noise", "unrecognised")
SESSION_ID_RE = re.compile(r"^.*:(\d+)(#\d+)?$")


def cut_log(text: str, cut: int, folder: Path, name: str, compress=None, mtime: float | None = None) -> list[Path]:
    """Write ``text`` as two rotations cut after line ``cut``: ``name.1[.gz]`` (older) and ``name``."""
    lines = text.splitlines(keepends=True)
    folder.mkdir(parents=True, exist_ok=True)
    suffixes = {None: "", gzip.compress: ".gz", bz2.compress: ".bz2"}
    older = folder / f"{name}.1{suffixes[compress]}"
    newer = folder / name
    data = "".join(lines[:cut]).encode()
    older.write_bytes(compress(data) if compress else data)
    newer.write_text("".join(lines[cut:]))
    if mtime is not None:
        for path in (older, newer):
            os.utime(path, (mtime, mtime))
    return [older, newer]


def relocated(whole, cut: int, older: Path, newer: Path):
    """Return the sessions of the uncut log as they should read from its two rotations."""
    expected = whole.copy()
    sources, lines, ids = [], [], []
    for session_id, line in zip(whole["session_id"], whole["line"]):
        path, number = (older, line) if line <= cut else (newer, line - cut)
        suffix = SESSION_ID_RE.match(session_id).group(2) or ""
        sources.append(str(path))
        lines.append(number)
        ids.append(f"{path}:{number}{suffix}")
    expected["session_id"], expected["source"], expected["line"] = ids, sources, lines
    return apply_session_dtypes(expected)


def crossing(events, cut: int) -> int:
    """Return how many sessions have events on both sides of the cut."""
    spans = events.dropna(subset=["session_id"]).groupby("session_id")["line"].agg(["min", "max"])
    return int(((spans["min"] <= cut) & (spans["max"] > cut)).sum())


@pytest.fixture(scope="module")
def postfix_whole():
    return smtplogkit.read_logs(CAPTURE), smtplogkit.read_events(CAPTURE)


def check_reports(frame, whole, paths, cut: int, total: int) -> None:
    reports = frame.attrs["files"]
    assert [report["source"] for report in reports] == [str(path) for path in paths]
    assert [report["lines"] for report in reports] == [cut, total - cut]
    for report in reports:
        assert sum(report[name] for name in COUNTS) == report["lines"], report
        assert report["sessions"] == int((frame["source"] == report["source"]).sum())
    (single,) = whole.attrs["files"]
    for name in COUNTS:
        assert sum(report[name] for report in reports) == single[name], name


@pytest.mark.parametrize("compress", [None, gzip.compress], ids=["plain", "gzip"])
def test_postfix_cut_rotation(tmp_path, postfix_whole, compress):
    whole, events = postfix_whole
    text = CAPTURE.read_text()
    total = len(text.splitlines())
    cuts = range(3, total, 4)
    assert sum(crossing(events, cut) > 0 for cut in cuts) > 10  # most cuts split a delivery

    for cut in cuts:
        paths = cut_log(text, cut, tmp_path / str(cut), "maillog", compress, CAPTURE.stat().st_mtime)
        frame = smtplogkit.read_logs(tmp_path / str(cut))

        pd.testing.assert_frame_equal(frame, relocated(whole, cut, *paths), check_like=False, obj=f"cut {cut}")
        check_reports(frame, whole, paths, cut, total)


def test_postfix_events_own_file(tmp_path, postfix_whole):
    whole, events = postfix_whole
    cut = 101
    assert crossing(events, cut) == 1
    older, newer = cut_log(CAPTURE.read_text(), cut, tmp_path, "maillog", mtime=CAPTURE.stat().st_mtime)

    got = smtplogkit.read_events(tmp_path)

    assert len(got) == len(events)
    in_newer = events["line"] > cut
    assert list(got["source"]) == [str(newer) if later else str(older) for later in in_newer]
    assert list(got["line"]) == [line - cut if later else line for line, later in zip(events["line"], in_newer)]
    assert list(got["text"]) == list(events["text"])
    sessions = set(smtplogkit.read_logs(tmp_path)["session_id"])
    assert set(got["session_id"].dropna()) == sessions


@pytest.mark.parametrize("compress", [None, gzip.compress, bz2.compress], ids=["plain", "gzip", "bzip2"])
def test_smtplib_cut_rotation(tmp_path, fleet_logs, compress):
    log = sorted(fleet_logs.glob("*/*/*.log"))[0]
    text = log.read_text()
    whole = smtplogkit.read_logs(log)
    events = smtplogkit.read_events(log)
    total = len(text.splitlines())
    cuts = [cut for cut in range(1, total) if crossing(events, cut)]
    assert len(cuts) > 20

    for cut in cuts[::5]:
        paths = cut_log(text, cut, tmp_path / str(cut), log.name, compress)
        frame = smtplogkit.read_logs(tmp_path / str(cut))

        pd.testing.assert_frame_equal(frame, relocated(whole, cut, *paths), obj=f"cut {cut}")
        check_reports(frame, whole, paths, cut, total)


def test_parallel_and_cache_keep_chain(tmp_path, postfix_whole):
    whole, _ = postfix_whole
    folder = tmp_path / "logs"
    cut_log(CAPTURE.read_text(), 101, folder / "relay", "maillog", gzip.compress, CAPTURE.stat().st_mtime)
    shutil.copyfile(CAPTURE, folder / "other.log")
    single = smtplogkit.read_logs(folder)

    parallel = smtplogkit.read_logs(folder, workers=2)
    first = smtplogkit.read_logs(folder, cache=tmp_path / "cache")
    second = smtplogkit.read_logs(folder, cache=tmp_path / "cache")

    assert len(single) == 2 * len(whole)
    for frame in (parallel, first, second):
        pd.testing.assert_frame_equal(frame, single)
        assert frame.attrs["files"] == single.attrs["files"]
    assert len(list((tmp_path / "cache").glob("*.parquet"))) == 2


def test_cache_sees_older_rotation(tmp_path):
    folder = tmp_path / "logs"
    older, _ = cut_log(CAPTURE.read_text(), 101, folder, "maillog")
    before = smtplogkit.read_logs(folder, cache=tmp_path / "cache")
    older.write_text("")

    after = smtplogkit.read_logs(folder, cache=tmp_path / "cache")

    assert after.attrs["files"][0]["lines"] == 0
    assert len(after) < len(before)


def test_numbering_gap_breaks_chain(tmp_path, postfix_whole):
    whole, _ = postfix_whole
    for name in ("maillog.3", "maillog.1"):
        shutil.copyfile(CAPTURE, tmp_path / name)

    frame = smtplogkit.read_logs(tmp_path)

    assert [Path(report["source"]).name for report in frame.attrs["files"]] == ["maillog.3", "maillog.1"]
    assert len(frame) == 2 * len(whole)


def test_unknown_format_chain_per_file(tmp_path):
    (tmp_path / "notes.1").write_text("first half of something\n")
    (tmp_path / "notes").write_text("second half\n\n")

    reports = smtplogkit.read_logs(tmp_path).attrs["files"]

    assert [Path(report["source"]).name for report in reports] == ["notes.1", "notes"]
    assert [report["lines"] for report in reports] == [1, 2]
    assert [report["unrecognised"] for report in reports] == [1, 1]
    assert all("no known log format" in report["warnings"][0] for report in reports)


def test_dask_chain_one_partition(tmp_path):
    pytest.importorskip("dask.dataframe", reason="the dask extra is not installed")
    import smtplogkit.dask as sdask

    folder = tmp_path / "logs"
    cut_log(CAPTURE.read_text(), 101, folder, "maillog", gzip.compress, CAPTURE.stat().st_mtime)
    expected = smtplogkit.read_logs(folder)

    lazy = sdask.read_logs(str(folder))
    result = lazy.compute(scheduler="synchronous")

    assert lazy.npartitions == 1
    expected.attrs = {}
    pd.testing.assert_frame_equal(result.reset_index(drop=True), expected)


def test_transcript_in_log_order(tmp_path, postfix_whole):
    from smtplogkit.report.model import events_in_log_order, session_transcript

    whole, whole_events = postfix_whole
    cut = 101
    older, newer = cut_log(CAPTURE.read_text(), cut, tmp_path, "maillog", mtime=CAPTURE.stat().st_mtime)
    sessions = smtplogkit.read_logs(tmp_path)
    events = smtplogkit.read_events(tmp_path)
    crossed = events.groupby("session_id")["source"].nunique()
    (session_id,) = crossed[crossed == 2].index
    row = sessions.set_index("session_id").loc[session_id]
    original = whole_events[whole_events["session_id"] == f"{CAPTURE}:{row['line']}"]

    transcript = session_transcript(session_id, row, events_in_log_order(events[events["session_id"] == session_id]))

    assert [text for _, _, text in transcript.rows] == list(original["text"])
    assert transcript.source == str(older)


def test_cut_last_line_of_chain_warns_once(tmp_path, fleet_logs):
    # The newer file of a chain ends in a cut line that nothing reads: one warning, under its own name.
    log = sorted(fleet_logs.glob("*/*/*.log"))[0]
    text = log.read_text()
    older, newer = cut_log(text, len(text.splitlines()) // 2, tmp_path, log.name)
    newer.write_text(newer.read_text() + "Traceb")
    frame = smtplogkit.read_logs(tmp_path)
    report = next(report for report in frame.attrs["files"] if report["source"] == str(newer))
    about_last = [w for w in report["warnings"] if w.startswith(f"{newer}:{report['lines']}:")]

    assert report["unrecognised"] == 1
    assert report["parsed"] + report["noise"] + report["unrecognised"] == report["lines"]
    assert len(about_last) == 1
    assert "no line end and was not read (counted as unrecognised)" in about_last[0]


SMTPLIB_CAPTURES = Path(__file__).parent / "captures" / "smtplib"


def time_of_day_log(names: list[str], copies: int, first_hour: int = 1) -> str:
    """Return an smtplib debug log (times of day only) of ``copies`` rounds of the named captures, times in order.

    The first round is in the hour ``first_hour``.
    """
    texts = [(SMTPLIB_CAPTURES / f"{name}.debug2.log").read_text() for name in names]
    rounds = []
    for hour in range(first_hour, first_hour + copies):
        for text in texts:
            # Each round an hour later, so that the times never go back and no day rolls over.
            rounds.append(re.sub(r"^21:", f"{hour:02d}:", text, flags=re.MULTILINE))
    return "".join(rounds)


@pytest.mark.parametrize("cut", [False, True], ids=["between-sessions", "in-a-session"])
@pytest.mark.parametrize("pure", [False, True], ids=["compiled", "pure"])
def test_dated_rotation_own_date(tmp_path, monkeypatch, pure, cut):
    """Each file of a chain named by date is dated by its own name, as when it is read alone.

    Cut in a session, the newer file starts with a greeting, as when the
    connect line was lost: its first time is read on the parser's quick
    path.  Cut between sessions, its first session may come from a
    template of the older file's sessions.
    """
    if pure:
        monkeypatch.setenv("SMTPLOGKIT_PURE_PYTHON", "1")
    # Many repeated sessions, so that rows come from templates as well as from reading lines.
    older_text = time_of_day_log(["greylisted", "success", "auth_535"], 6)
    # Later hours than the older file's: the day does not roll over where the files meet.
    newer_text = time_of_day_log(["success", "rate_limited"], 5, first_hour=8)
    if cut:
        newer_text = newer_text.split("\n", 1)[1]
    alone = {}
    for name, text, compress in (("app.log-20260301", older_text, None),
                                 ("app.log-20260302.xz", newer_text, lzma.compress)):
        folder = tmp_path / "alone" / name
        folder.mkdir(parents=True)
        data = text.encode()
        (folder / name).write_bytes(compress(data) if compress else data)
        alone[name] = smtplogkit.read_logs(folder / name)
    chain = tmp_path / "chain"
    chain.mkdir()
    (chain / "app.log-20260301").write_text(older_text)
    (chain / "app.log-20260302.xz").write_bytes(lzma.compress(newer_text.encode()))
    (chain / "app.log").write_text(time_of_day_log(["success"], 2, first_hour=14))

    frame = smtplogkit.read_logs(chain)
    events = smtplogkit.read_events(chain)

    assert [Path(report["source"]).name for report in frame.attrs["files"]] == [
        "app.log-20260301", "app.log-20260302.xz", "app.log"]
    for name, single in alone.items():
        got = frame[frame["source"] == str(chain / name)]
        assert single["start"].dt.date.unique().tolist() == [date.fromisoformat(f"{name[8:12]}-{name[12:14]}-"
                                                                                 f"{name[14:16]}")]
        # Cut in a session, the older file's last session goes on into the newer file: compare the
        # sessions that lie in one file.
        whole = slice(None) if not cut else slice(None, -1) if name == "app.log-20260301" else slice(1, None)
        for column in ("start", "end"):
            assert got[column].tolist()[whole] == single[column].tolist()[whole], name
        assert events[events["source"] == str(chain / name)]["ts"].dropna().dt.date.unique().tolist() == \
            single["start"].dt.date.unique().tolist()
    if cut:
        crossing = frame[frame["source"] == str(chain / "app.log-20260301")].iloc[-1]
        assert crossing["end"] == pd.Timestamp("2026-03-02 08:53:13.958148", tz="UTC")
    # The live log has no date in its name: it goes on from the day of the copy before it.
    live = frame[frame["source"] == str(chain / "app.log")]
    assert live["start"].dt.date.unique().tolist() == [date(2026, 3, 2)]
    # Read again from its own file, a session of the newer copy keeps its date.
    session = frame[frame["source"] == str(chain / "app.log-20260302.xz")].iloc[3]
    again = session_events(frame, session["session_id"])
    assert again["ts"].min() == session["start"]
