"""Probe records: JSONL objects, read back by read_logs; repeated runs and bursts."""

from __future__ import annotations

import json

import pytest

from smtplogkit import read_events, read_logs
from smtplogkit.formats import probe as probe_format
from smtplogkit.labels import Cause, Stage
from smtplogkit.probe import ProbeError, burst_probe, probe, repeat_probe

from probe_servers import MAIL_HOST, PASSWORD, USER


def write(path, *results, secrets=()):
    with path.open("a", encoding="utf-8") as handle:
        for result in results:
            for record in result.records(secrets):
                handle.write(json.dumps(record) + "\n")
    return path


def test_record_objects(starttls_server, dns_server, cafile):
    result = probe(MAIL_HOST, port=starttls_server.port, tls="implicit", nameserver=dns_server.address,
                   cafile=cafile, network="office", timeout=2)
    records = result.records()
    kinds = [r["record"] for r in records]
    steps = sum(len(a.steps) for a in result.attempts) + 1
    assert kinds.count("step") == steps
    assert kinds.count("attempt") == len(result.attempts) == 2
    assert kinds[-1] == "probe"
    assert all(r["network"] == "office" for r in records)
    assert all(r["probe_id"] == result.probe_id for r in records)
    first_attempt = next(r for r in records if r["record"] == "attempt")
    assert first_attempt["failure_stage"] == "tls"
    assert first_attempt["cause"] == "tls_mode_mismatch"
    assert records[-1]["verdict"] == result.verdict
    assert records[-1]["detected_tls"] == "starttls"


def test_detect_scores_records(starttls_server, dns_server, cafile):
    result = probe(MAIL_HOST, port=starttls_server.port, nameserver=dns_server.address, cafile=cafile, timeout=2)
    texts = [json.dumps(r) for r in result.records()]
    assert probe_format.detect(texts) == 1.0
    assert probe_format.detect(['{"log": "hello", "stream": "stdout"}', "send: 'EHLO x'"]) == 0.0


def test_sessions_from_record(starttls_server, closed_port, dns_server, cafile, tmp_path):
    options = dict(nameserver=dns_server.address, cafile=cafile, timeout=2, network="lab")
    path = write(tmp_path / "probe.jsonl",
                 probe(MAIL_HOST, port=starttls_server.port, tls="starttls", **options),
                 probe(MAIL_HOST, port=starttls_server.port, tls="implicit", **options),
                 probe("gone.probe.test", port=25, **options),
                 probe(MAIL_HOST, port=closed_port, **options))
    frame = read_logs(str(path))
    report = frame.attrs["files"][0]
    assert report["format"] == "probe"
    assert report["unrecognised"] == 0
    assert len(frame) == 5  # ok, mode mismatch, its mode check, NXDOMAIN, refused
    assert list(frame["network"]) == ["lab"] * 5
    pairs = list(zip(frame["failure_stage"].astype(str), frame["cause"].astype(str)))
    assert pairs == [("none", "ok"), ("tls", "tls_mode_mismatch"), ("none", "ok"), ("dns", "dns_nxdomain"),
                     ("connect", "connect_refused")]
    good = frame.iloc[0]
    assert good["tls_mode"] == "starttls"
    assert good["ip"] == "127.0.0.1"
    assert good["port"] == starttls_server.port
    assert good["last_stage_reached"] == "starttls"
    assert good["outcome"] == "ok"
    assert good["connect_s"] >= 0
    assert frame.iloc[3]["host"] == "gone.probe.test"


def test_auth_failure_read_back(starttls_server, dns_server, cafile, tmp_path):
    result = probe(MAIL_HOST, port=starttls_server.port, tls="starttls", nameserver=dns_server.address,
                   cafile=cafile, timeout=2, user=USER, auth="password", secret="not-the-password")
    path = write(tmp_path / "auth.jsonl", result)
    row = read_logs(str(path)).iloc[0]
    assert row["failure_stage"] == "auth"
    assert row["cause"] == "auth_failed"
    assert row["reply_code"] == 535
    assert row["auth_mechanism"] == "PLAIN"
    assert row["identity"] == USER
    events = read_events(str(path))
    assert "not-the-password" not in " ".join(events["text"].astype(str))


def test_password_absent_from_events(starttls_server, dns_server, cafile, tmp_path):
    result = probe(MAIL_HOST, port=starttls_server.port, tls="starttls", nameserver=dns_server.address,
                   cafile=cafile, timeout=2, user=USER, auth="password", secret=PASSWORD)
    path = write(tmp_path / "ok.jsonl", result)
    assert PASSWORD not in path.read_text()
    row = read_logs(str(path)).iloc[0]
    assert row["cause"] == "ok"
    assert row["last_stage_reached"] == "auth"


def test_repeat_runs(starttls_server, dns_server, cafile):
    results = list(repeat_probe(MAIL_HOST, repeat=3, interval=0, port=starttls_server.port,
                                nameserver=dns_server.address, cafile=cafile, timeout=2))
    assert [r.run for r in results] == [1, 2, 3]
    assert len({r.probe_id for r in results}) == 3
    assert all(r.ok for r in results)


def test_repeat_count_checked():
    with pytest.raises(ProbeError, match="repeat count"):
        list(repeat_probe(MAIL_HOST, repeat=0, interval=0))


def test_burst_finds_throttle(throttling_server, dns_server):
    result = burst_probe(MAIL_HOST, sessions=5, rate=120, i_own_this_server=True, port=throttling_server.port,
                         tls="none", nameserver=dns_server.address, timeout=2)
    assert [a.burst_index for a in result.attempts] == [1, 2, 3, 4, 5]
    assert [a.ok for a in result.attempts] == [True, True, True, False, False]
    failure = result.attempts[3].failure
    assert failure.stage is Stage.EHLO
    assert failure.cause is Cause.RATE_LIMITED
    assert result.verdict.startswith("session 4 of 5 failed first, at EHLO")


def test_burst_needs_confirmation(throttling_server, dns_server):
    with pytest.raises(ProbeError, match="--i-own-this-server"):
        burst_probe(MAIL_HOST, sessions=3, rate=60, port=throttling_server.port, nameserver=dns_server.address)
    assert throttling_server.handler.sessions == 0


def test_burst_cap(throttling_server, dns_server):
    with pytest.raises(ProbeError, match="--burst must be between"):
        burst_probe(MAIL_HOST, sessions=100_000, rate=60, i_own_this_server=True, port=throttling_server.port,
                    nameserver=dns_server.address)
    assert throttling_server.handler.sessions == 0
