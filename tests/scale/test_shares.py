"""Reading one large maillog in shares, one process per share, against the single-process read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import smtplogkit
from smtplogkit import parallel
from smtplogkit.formats import postfix
from smtplogkit.inputs import expand

from test_fast_paths import CUT_LAST_LINES, _maillog, by_line  # the same directory, which pytest puts on the path

OPTIONS = {"format": "postfix", "labels": {}, "tz": None, "date": None}


def assert_same_rows(shared: pd.DataFrame, single: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(shared, by_line(single), check_exact=True)
    assert shared.attrs == single.attrs


@pytest.mark.parametrize("workers", [2, 3])
def test_shares_equal_single_read(maillog, workers):
    single = smtplogkit.read_logs(maillog, format="postfix", progress=False)
    shared = smtplogkit.read_logs(maillog, format="postfix", workers=workers)

    assert_same_rows(shared, single)


def test_shares_log_whole_file_counts(maillog, caplog):
    # Each share counts part of the file, so only the merged counts are logged, once, as a single read logs them.
    with caplog.at_level("INFO", logger="smtplogkit"):
        smtplogkit.read_logs(maillog, format="postfix", progress=False)
    single = [record.getMessage() for record in caplog.records if record.levelname == "INFO"]
    caplog.clear()
    with caplog.at_level("INFO", logger="smtplogkit"):
        smtplogkit.read_logs(maillog, format="postfix", workers=3, progress=False)
    counts = [record.getMessage() for record in caplog.records if record.levelname == "INFO"]

    assert len(single) == 1
    assert counts == single


def test_shares_without_prefilter(maillog, monkeypatch):
    single = smtplogkit.read_logs(maillog, format="postfix", progress=False)
    monkeypatch.delattr(postfix, "prefilter")
    shared = smtplogkit.read_logs(maillog, format="postfix", workers=2)

    assert_same_rows(shared, single)


def test_each_share_reads_own_processes(maillog):
    (source,) = expand(str(maillog)).sources
    frames = [parallel.read_source_frame(source, OPTIONS, (k, 2))[0] for k in range(2)]
    single = smtplogkit.read_logs(maillog, format="postfix", progress=False)

    assert sum(len(frame) for frame in frames) == len(single)
    assert not set(frames[0]["session_id"]) & set(frames[1]["session_id"])
    assert len(frames[0]) > 0
    assert len(frames[1]) > 0


def test_shared_rows_in_start_order(maillog):
    frame = smtplogkit.read_logs(maillog, format="postfix", workers=2)

    assert frame["line"].is_monotonic_increasing


def test_share_count_needs_large_maillog(tmp_path, maillog, monkeypatch):
    client_log = tmp_path / "app.log"
    client_log.write_text("send: 'ehlo [127.0.0.1]\\r\\n'\nreply: b'250 ok\\r\\n'\n" * 50)
    (mail_source,) = expand(str(maillog)).sources
    (client_source,) = expand(str(client_log)).sources

    assert parallel.share_count(mail_source, OPTIONS, 2) == 2
    assert parallel.share_count(mail_source, OPTIONS, 1) == 1
    assert parallel.share_count(client_source, {**OPTIONS, "format": "auto"}, 2) == 1
    monkeypatch.setattr(parallel, "SHARE_BYTES", maillog.stat().st_size + 1)
    assert parallel.share_count(mail_source, OPTIONS, 2) == 1


def test_detected_maillog_shared(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "SHARE_BYTES", 0)
    path = tmp_path / "maillog-2026-12-04"
    path.write_text("\n".join(_maillog(6, 2000).splitlines()[450:]) + "\n")  # without the other programs' lines first
    single = smtplogkit.read_logs(path, progress=False)
    shared = smtplogkit.read_logs(path, workers=2)

    assert single.attrs["files"][0]["format"] == "postfix"
    assert_same_rows(shared, single)


@pytest.mark.parametrize("cut", [1000, 6789])
def test_rotation_chain_in_shares(tmp_path, monkeypatch, cut):
    monkeypatch.setattr(parallel, "SHARE_BYTES", 0)
    lines = _maillog(7, 3000).splitlines(keepends=True)
    folder = tmp_path / "relay"
    folder.mkdir()
    (folder / "maillog.1").write_text("".join(lines[:cut]))
    (folder / "maillog").write_text("".join(lines[cut:]))
    single = smtplogkit.read_logs(folder, format="postfix", progress=False)
    shared = smtplogkit.read_logs(folder, format="postfix", workers=2)

    assert [report["source"] for report in single.attrs["files"]] == [str(folder / "maillog.1"), str(folder / "maillog")]
    assert_same_rows(shared, single)


def test_real_capture_in_shares(monkeypatch):
    monkeypatch.setattr(parallel, "SHARE_BYTES", 0)
    path = Path(__file__).resolve().parents[1] / "data" / "postfix" / "capture.maillog"  # pids of both parities
    single = smtplogkit.read_logs(path, format="postfix", progress=False)
    shared = smtplogkit.read_logs(path, format="postfix", workers=2)

    assert len(single) > 10
    assert_same_rows(shared, single)


@pytest.mark.parametrize("last", [text for text, _ in CUT_LAST_LINES]
                         + ["Dec  4 22:00:00 mx1 postfix/smtp[128]: connect to mx.example.org[198.51.100.10]:25: Con"])
def test_cut_last_line_in_shares(maillog, last):
    # The last line of an smtp process of each share, and lines no share's parser reads.
    maillog.write_text(maillog.read_text() + last)
    single = smtplogkit.read_logs(maillog, format="postfix", progress=False)
    shared = smtplogkit.read_logs(maillog, format="postfix", workers=2)

    assert_same_rows(shared, single)
    report = single.attrs["files"][0]
    assert report["parsed"] + report["noise"] + report["unrecognised"] == report["lines"]


def test_share_count_at_most_ten(maillog):
    (source,) = expand(str(maillog)).sources

    assert parallel.share_count(source, OPTIONS, 16) == 10
