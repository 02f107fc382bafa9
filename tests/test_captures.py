"""Logs that real clients printed against the loopback servers: each gets its labels.

The fixtures under ``tests/captures/<client>/`` were written by
``tools/capture/capture.py``; ``expected.jsonl`` beside them holds the labels
that each scenario's server behaviour defines.  Every fixture is read with
``read_logs`` and compared with them, and the fake credentials the captures
used must not reach any output.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd
import pytest

import smtplogkit
from conftest import servers

CAPTURES = Path(__file__).parent / "captures"
ENTRIES = [
    (client.name, json.loads(line))
    for client in sorted(p for p in CAPTURES.iterdir() if p.is_dir())
    for line in (client / "expected.jsonl").read_text().splitlines()
    if line.strip()
]
SECRETS = [
    servers.FAKE_PASSWORD,
    servers.FAKE_TOKEN,
    base64.b64encode(servers.FAKE_PASSWORD.encode()).decode(),
    base64.b64encode(f"\0{servers.FAKE_USER}\0{servers.FAKE_PASSWORD}".encode()).decode(),
    base64.b64encode(f"user={servers.FAKE_USER}\x01auth=Bearer {servers.FAKE_TOKEN}\x01\x01".encode()).decode(),
]


def first_failure(sessions) -> dict:
    failed = sessions[sessions["cause"] != "ok"]
    row = failed.iloc[0] if len(failed) else sessions.iloc[0]
    return {
        "failure_stage": row["failure_stage"],
        "cause": row["cause"],
        "reply_code": None if pd.isna(row["reply_code"]) else int(row["reply_code"]),
        "enhanced_code": None if pd.isna(row["enhanced_code"]) else row["enhanced_code"],
    }


@pytest.mark.parametrize("client, entry", ENTRIES, ids=[f"{c}/{e['file']}" for c, e in ENTRIES])
def test_capture_labels(client, entry):
    sessions = smtplogkit.read_logs(CAPTURES / client / entry["file"])
    report = sessions.attrs["files"][0]
    got = first_failure(sessions)

    assert report["format"] == client
    assert len(sessions) == entry["sessions"]
    assert got["failure_stage"] == entry["failure_stage"]
    assert got["cause"] == entry["cause"]
    assert got["reply_code"] == entry["reply_code"]
    assert got["enhanced_code"] == entry["enhanced_code"]
    assert report["unrecognised"] == 0, report["warnings"]
    assert report["parsed"] + report["noise"] + report["unrecognised"] == report["lines"]


@pytest.mark.parametrize("client, entry", ENTRIES, ids=[f"{c}/{e['file']}" for c, e in ENTRIES])
def test_capture_secrets_hidden(client, entry):
    path = CAPTURES / client / entry["file"]
    sessions = smtplogkit.read_logs(path)
    events = smtplogkit.read_events(path)
    output = sessions.to_json() + events.to_json() + json.dumps(sessions.attrs, default=str)

    for secret in SECRETS:
        assert secret not in output


def test_captures_cover_every_scenario():
    covered = {entry["scenario"] for _, entry in ENTRIES}

    assert covered == set(servers.SCENARIOS)
