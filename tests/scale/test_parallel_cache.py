"""Parallel and cached reads give exactly the sessions of a single-process read."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import smtplogkit


def read(fleet, **options):
    return smtplogkit.read_logs(str(fleet / "{network}" / "{worker}" / "*.log"), **options)


def test_parallel_equals_single(fleet):
    single = read(fleet)
    parallel = read(fleet, workers=2)
    assert len(single) == 36
    pd.testing.assert_frame_equal(single, parallel)
    assert parallel.attrs["files"] == single.attrs["files"]


def test_cache_equals_single(fleet, tmp_path):
    single = read(fleet)
    first = read(fleet, cache=tmp_path / "cache")
    second = read(fleet, cache=tmp_path / "cache")
    pd.testing.assert_frame_equal(single, first)
    pd.testing.assert_frame_equal(single, second)


def test_cache_entries_written(fleet, tmp_path):
    read(fleet, cache=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.parquet"))) == 6


def test_cache_sees_appended_lines(fleet, tmp_path):
    cache = tmp_path / "cache"
    before = read(fleet, cache=cache)
    log = fleet / "prod" / "agent" / "2026-03-02.log"
    with open(log, "a") as handle:
        handle.write("09:00:00.100000 connect: to ('smtp.example.com', 587) None\n")
        handle.write("09:00:00.200000 reply: b'554 5.7.1 no service\\r\\n'\n")
    os.utime(log, ns=(log.stat().st_atime_ns, log.stat().st_mtime_ns + 10**9))
    after = read(fleet, cache=cache)
    assert len(after) == len(before) + 1
    assert (after["failure_stage"] == "greeting").sum() == 1


def test_labels_from_template(fleet):
    frame = read(fleet, workers=2)
    assert sorted(frame["network"].unique()) == ["office", "prod"]
    assert sorted(frame["worker"].unique()) == ["agent", "billing", "onboarding"]
    assert (frame["cause"] == "rate_limited").sum() == 12


@pytest.mark.parametrize("options", [{"workers": 2}, {"cache": "cache"}, {"cache": "cache", "workers": 2}])
def test_progress_over_files(fleet, tmp_path_factory, capfd, options):
    # A pooled or cached read draws one bar over the files, in this process, as each result comes in.
    if "cache" in options:
        options = {**options, "cache": tmp_path_factory.mktemp("cache")}
    read(fleet, progress=True, **options)
    parsed = capfd.readouterr().err
    assert "reading logs" in parsed
    assert "6/6" in parsed
    if "cache" in options:
        read(fleet, progress=True, **options)  # every file from the cache now
        assert "6/6" in capfd.readouterr().err
    read(fleet, progress=False, **options)
    assert capfd.readouterr().err == ""


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


SESSION_KEYS = ["source", "line", "session_id"]
EVENT_KEYS = ["source", "line", "session_id", "verb", "text"]


def test_load_logs_cache_and_workers(fleet, tmp_path_factory, caplog):
    from smtplogkit.report import load_logs

    cache = tmp_path_factory.mktemp("cache")  # outside the logs folder, whose listing it would join
    single = load_logs(fleet)
    first = load_logs(fleet, cache=cache, workers=2)
    with caplog.at_level("INFO", logger="smtplogkit.parallel"):
        second = load_logs(fleet, cache=cache)
    # Every file of the second read came from the cache, with its events.
    assert caplog.text.count("loaded from the cache") == 6
    assert len(list(cache.glob("*.events.parquet"))) == 6
    for loaded in (first, second):
        pd.testing.assert_frame_equal(_sorted(single.sessions, SESSION_KEYS), _sorted(loaded.sessions, SESSION_KEYS))
        pd.testing.assert_frame_equal(_sorted(single.events, EVENT_KEYS), _sorted(loaded.events, EVENT_KEYS))
        assert loaded.sessions.attrs == single.sessions.attrs
        assert loaded.events.attrs == single.events.attrs


def test_load_logs_parses_entries_without_events(fleet, tmp_path, caplog):
    from smtplogkit.report import load_logs

    read(fleet, cache=tmp_path / "cache")  # sessions only
    with caplog.at_level("INFO", logger="smtplogkit.parallel"):
        loaded = load_logs(fleet, cache=tmp_path / "cache")
    assert "loaded from the cache" not in caplog.text
    assert len(loaded.events) > len(loaded.sessions)
    assert len(list((tmp_path / "cache").glob("*.events.parquet"))) == 6


def test_load_logs_cache_sees_appended_lines(fleet, tmp_path):
    from smtplogkit.report import load_logs

    cache = tmp_path / "cache"
    before = load_logs(fleet, cache=cache)
    log = fleet / "prod" / "agent" / "2026-03-02.log"
    with open(log, "a") as handle:
        handle.write("09:00:00.100000 connect: to ('smtp.example.com', 587) None\n")
        handle.write("09:00:00.200000 reply: b'554 5.7.1 no service\\r\\n'\n")
    os.utime(log, ns=(log.stat().st_atime_ns, log.stat().st_mtime_ns + 10**9))
    after = load_logs(fleet, cache=cache)
    assert len(after.sessions) == len(before.sessions) + 1
    assert len(after.events) == len(before.events) + 2


def test_load_logs_failed_events(fleet, tmp_path_factory):
    from smtplogkit.enrichment import token_refreshes
    from smtplogkit.report import load_logs

    every = load_logs(fleet)
    cache = tmp_path_factory.mktemp("cache")
    for failed in (load_logs(fleet, events="failed"), load_logs(fleet, events="failed", cache=cache, workers=2)):
        pd.testing.assert_frame_equal(_sorted(every.sessions, SESSION_KEYS), _sorted(failed.sessions, SESSION_KEYS))
        # Events of failed sessions, notes, and lines outside a session: nothing else.
        bad = set(every.sessions.loc[every.sessions["cause"] != "ok", "session_id"])
        keep = every.events["session_id"].isna() | every.events["session_id"].isin(bad) | (every.events["verb"] == "note")
        assert 0 < keep.sum() < len(every.events)
        pd.testing.assert_frame_equal(_sorted(every.events[keep], EVENT_KEYS), _sorted(failed.events, EVENT_KEYS))
        assert token_refreshes(failed.events).equals(token_refreshes(every.events))
    assert len(list(cache.glob("*.failed-events.parquet"))) == 6
    assert not list(cache.glob("*[0-9a-f].events.parquet"))


def test_failed_events_give_same_findings():
    from smtplogkit.diagnosis import diagnose
    from smtplogkit.enrichment import token_refreshes
    from smtplogkit.report import load_logs

    runs = []
    for events in ("all", "failed"):
        loaded = load_logs(None, events=events)  # the bundled sample data, with its token refreshes
        findings = diagnose(loaded.sessions, refreshes=token_refreshes(loaded.events))
        runs.append([(f.kind, f.summary, f.evidence) for f in findings])
    assert runs[0] == runs[1]
    assert any(kind == "token_expiry" for kind, _, _ in runs[0])


def test_load_logs_rejects_unknown_events(fleet):
    from smtplogkit.report import load_logs

    with pytest.raises(ValueError, match="invalid events 'some'"):
        load_logs(fleet, events="some")


def test_cache_folder_is_a_file(fleet, tmp_path_factory):
    from smtplogkit.errors import InputError

    place = tmp_path_factory.mktemp("cache") / "not-a-folder"
    place.write_text("")
    with pytest.raises(InputError, match="the cache must be a folder"):
        read(fleet, cache=place)


@pytest.mark.parametrize("under_file", [True, False])
def test_cache_not_writable(fleet, tmp_path_factory, caplog, under_file):
    # A folder inside a file, or under /proc, cannot be made, even by root: the read goes on without the cache.
    if under_file:
        place = tmp_path_factory.mktemp("cache") / "file"
        place.write_text("")
        cache = place / "cache"
    else:
        cache = Path("/proc/smtplogkit-cache")
    with caplog.at_level("DEBUG", logger="smtplogkit.cache"):
        frame = read(fleet, cache=cache)
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    debug = [record.getMessage() for record in caplog.records if record.levelname == "DEBUG"]

    assert len(frame) == 36
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"cache folder {cache}: 6 of 6 entries not written (")
    assert "Choose a cache folder" in warnings[0]
    not_cached = sorted(message.split(": not cached: ")[0] for message in debug)
    assert not_cached == sorted(report["source"] for report in frame.attrs["files"])


def test_workers_below_one(fleet):
    with pytest.raises(ValueError, match="invalid workers 0"):
        read(fleet, workers=0)


def test_cache_names_files_as_given(fleet, tmp_path_factory, monkeypatch):
    # An entry written while the path was spelled one way is read back in the spelling of this read.
    from smtplogkit.report import load_logs

    cache = tmp_path_factory.mktemp("cache")
    log = fleet / "prod" / "agent" / "2026-03-02.log"
    load_logs(str(log), template="", cache=cache)
    monkeypatch.chdir(fleet / "prod")
    plain = load_logs("agent/2026-03-02.log", template="")
    cached = load_logs("agent/2026-03-02.log", template="", cache=cache)
    pd.testing.assert_frame_equal(_sorted(plain.sessions, SESSION_KEYS), _sorted(cached.sessions, SESSION_KEYS))
    pd.testing.assert_frame_equal(_sorted(plain.events, EVENT_KEYS), _sorted(cached.events, EVENT_KEYS))
    assert cached.sessions.attrs["files"] == plain.sessions.attrs["files"]
    assert set(cached.sessions["source"]) == {"agent/2026-03-02.log"}


def test_cache_key_reads_missing_zone_as_utc(fleet, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    read(fleet, cache=cache)
    read(fleet, cache=cache, tz="UTC")
    assert len(list(cache.glob("*.json"))) == 6


def test_cache_path_with_home(fleet, tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    read(fleet, cache="~/logs-cache")
    assert len(list((home / "logs-cache").glob("*.parquet"))) == 6


def test_cache_names_rotations_as_given(tmp_path_factory, monkeypatch):
    from test_fast_paths import _maillog  # the same directory, which pytest puts on the path

    lines = _maillog(3, 1500).splitlines(keepends=True)
    folder = tmp_path_factory.mktemp("logs") / "relay"
    folder.mkdir()
    (folder / "maillog.1").write_text("".join(lines[:900]))
    (folder / "maillog").write_text("".join(lines[900:]))
    cache = tmp_path_factory.mktemp("cache")
    smtplogkit.read_logs(folder, format="postfix", cache=cache)
    monkeypatch.chdir(folder.parent)
    plain = smtplogkit.read_logs("relay", format="postfix")
    cached = smtplogkit.read_logs("relay", format="postfix", cache=cache)
    pd.testing.assert_frame_equal(_sorted(plain, SESSION_KEYS), _sorted(cached, SESSION_KEYS))
    assert cached.attrs["files"] == plain.attrs["files"]
    assert set(cached["source"]) == {"relay/maillog.1", "relay/maillog"}


def test_mixed_formats_keep_input_order(tmp_path):
    """Files of both kinds of rows (a maillog's plain sessions, client logs' dicts) read to one order every way.

    A chunk of rows puts its plain sessions after its dicts, so a single
    process once gave a maillog's plain sessions after the rows of the
    files read after it, where workers and the cache kept each file's rows
    together.
    """
    folder = Path(__file__).resolve().parents[2] / "sample_data" / "prod"
    inputs = [str(folder / "relay"), str(folder / "support-agent")]
    single = smtplogkit.read_logs(inputs, progress=False)
    assert "postfix" in set(single["format"])
    assert len(set(single["format"])) > 1
    sources = single["source"].tolist()
    runs = [source for index, source in enumerate(sources) if index == 0 or sources[index - 1] != source]
    assert len(runs) == len(set(runs)), "a file's rows are split"
    for options in ({"workers": 2}, {"cache": tmp_path / "cache"}, {"cache": tmp_path / "cache"}):
        pd.testing.assert_frame_equal(single, smtplogkit.read_logs(inputs, progress=False, **options))


def test_cached_read_warns_again(fleet, tmp_path, caplog):
    """A file's warnings come with its sessions from the cache, as they come from parsing it."""
    log = fleet / "prod" / "agent" / "2026-03-02.log"
    with open(log, "a") as handle:
        handle.write("garbage that no format reads\n")

    def warnings(**options) -> list[str]:
        caplog.clear()
        with caplog.at_level("WARNING", logger="smtplogkit"):
            read(fleet, **options)
        return sorted(record.getMessage() for record in caplog.records if record.levelname == "WARNING")

    parsed = warnings()
    assert any("garbage that no format reads" in message for message in parsed)
    assert warnings(cache=tmp_path / "cache") == parsed
    assert warnings(cache=tmp_path / "cache") == parsed  # now from the cache
