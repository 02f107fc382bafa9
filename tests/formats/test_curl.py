"""curl's verbose output for connections that fail, from real curl runs on loopback.

``curl_failures.py`` runs curl inside a fresh network namespace (``unshare
-rn``), so nothing but loopback is reachable and name lookups fail without
leaving the machine.  The tests skip when curl is missing or namespaces are
not allowed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import smtplogkit

from .format_helpers import excerpt, row  # noqa: F401 - excerpt is a fixture

RUNNER = Path(__file__).with_name("curl_failures.py")


def _namespaces_work() -> bool:
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def failures(tmp_path_factory):
    """Return the folder of curl logs and the host and port each case's command used."""
    if shutil.which("curl") is None:
        pytest.skip("not installed: curl")
    if shutil.which("unshare") is None or not _namespaces_work():
        pytest.skip("unshare -rn cannot create a network namespace here")
    out = tmp_path_factory.mktemp("curl")
    command = f"ip link set lo up && exec {sys.executable} {RUNNER} {out}"
    subprocess.run(["unshare", "-rn", "sh", "-c", command], check=True, timeout=120)
    return out, json.loads((out / "cases.json").read_text())


def _read(failures, case: str):
    out, cases = failures
    frame = smtplogkit.read_logs(out / f"{case}.log")
    host, port = cases[case]
    return frame, host, port


@pytest.mark.parametrize("case", ["refused", "refused_by_name", "refused_exit_only", "timeout", "timeout_by_name"])
def test_connect_failure_names_host(failures, case):
    frame, host, port = _read(failures, case)

    assert frame.attrs["files"][0]["format"] == "curl"
    assert frame.attrs["files"][0]["unrecognised"] == 0
    assert len(frame) >= 1
    for index in range(len(frame)):
        got = row(frame, index)
        assert got["host"] == host, index
        assert got["port"] == port, index
        assert got["failure_stage"] == "connect", index


@pytest.mark.parametrize("case", ["refused", "refused_by_name"])
def test_refused_each_address(failures, case):
    frame, _, _ = _read(failures, case)

    assert set(frame["ip"]) <= {"127.0.0.1", "::1"}
    assert "127.0.0.1" in set(frame["ip"])
    assert list(frame["cause"]) == ["connect_refused"] * len(frame)


@pytest.mark.parametrize("case", ["timeout", "timeout_by_name"])
def test_timeout_on_ipv4_attempt(failures, case):
    frame, _, _ = _read(failures, case)

    causes = dict(zip(frame["ip"], frame["cause"]))
    assert causes["127.0.0.1"] == "connect_timeout"
    # Nothing listens on ::1, so curl's parallel IPv6 attempt is refused.
    assert causes.get("::1", "connect_refused") == "connect_refused"


@pytest.mark.parametrize("case", ["unresolved", "unresolved_exit_only"])
def test_unresolved_names_host(failures, case):
    frame, host, _ = _read(failures, case)

    assert len(frame) == 1
    got = row(frame)
    assert got["host"] == host
    assert got["failure_stage"] == "dns"
    assert got["port"] is None  # curl does not print the port when the lookup fails
    assert frame.attrs["files"][0]["unrecognised"] == 0


CURL_8_REFUSED = """
* Host smtp.example.com:587 was resolved.
* IPv6: (none)
* IPv4: 192.0.2.25
*   Trying 192.0.2.25:587...
* connect to 192.0.2.25 port 587 from 10.1.0.7 port 40122 failed: Connection refused
* Failed to connect to smtp.example.com port 587 after 2 ms: Could not connect to server
* closing connection #0
curl: (7) Failed to connect to smtp.example.com port 587 after 2 ms: Could not connect to server
"""


def test_curl_8_resolved_host(excerpt):
    frame = excerpt.sessions(CURL_8_REFUSED)

    assert len(frame) == 1
    got = row(frame)
    assert (got["host"], got["ip"], got["port"]) == ("smtp.example.com", "192.0.2.25", 587)
    assert (got["failure_stage"], got["cause"]) == ("connect", "connect_refused")
    assert frame.attrs["files"][0]["unrecognised"] == 0


IPV6_THEN_IPV4 = """
*   Trying [2001:db8::25]:587...
* connect to 2001:db8::25 port 587 failed: Network is unreachable
*   Trying 192.0.2.25:587...
* Connected to smtp.example.com (192.0.2.25) port 587 (#0)
< 220 smtp.example.com ESMTP
> EHLO build01
< 250 smtp.example.com
> QUIT
< 221 Bye
* Closing connection 0
"""


def test_failed_address_gets_connected_host(excerpt):
    frame = excerpt.sessions(IPV6_THEN_IPV4)

    assert len(frame) == 2
    failed, connected = row(frame, 0), row(frame, 1)
    assert (failed["ip"], failed["host"], failed["failure_stage"]) == ("2001:db8::25", "smtp.example.com", "connect")
    assert (connected["ip"], connected["host"], connected["cause"]) == ("192.0.2.25", "smtp.example.com", "ok")


PARALLEL_THEN_TLS_FAILURE = """
*   Trying [2001:db8::25]:465...
*   Trying 192.0.2.25:465...
* Connected to smtp.example.com (192.0.2.25) port 465 (#0)
* TLSv1.3 (OUT), TLS handshake, Client hello (1):
* SSL certificate problem: self-signed certificate
* Closing connection 0
curl: (60) SSL certificate problem: self-signed certificate
"""


def test_exit_error_to_connected_address(excerpt):
    frame = excerpt.sessions(PARALLEL_THEN_TLS_FAILURE)

    connected = frame[frame["ip"] == "192.0.2.25"]
    dropped = frame[frame["ip"] == "2001:db8::25"]
    assert list(connected["failure_stage"]) == ["tls"]
    assert list(connected["host"]) == ["smtp.example.com"]
    assert list(dropped["failure_stage"]) == ["none"]
    assert list(dropped["host"]) == ["smtp.example.com"]


def test_dropped_attempt_is_no_failure(excerpt):
    # curl gave up on the IPv6 address because IPv4 connected first: no failure to count, and a note gives the reason.
    frame = excerpt.sessions(PARALLEL_THEN_TLS_FAILURE)
    events = excerpt.events(PARALLEL_THEN_TLS_FAILURE)

    dropped = row(frame[frame["ip"] == "2001:db8::25"], 0)
    assert (dropped["failure_stage"], dropped["cause"], dropped["outcome"]) == ("none", "ok", "unknown")
    assert dropped["error_text"] is None
    assert dropped["last_stage_reached"] is None
    notes = events[events["verb"] == "note"]
    drops = notes[notes["text"].str.contains("dropped", regex=False)]
    assert len(drops) == 1
    assert "192.0.2.25" in drops["text"].iloc[0]
    assert drops["session_id"].iloc[0].endswith(f":{dropped['line']}")  # in the dropped attempt's session
    own = events[events["session_id"] == drops["session_id"].iloc[0]]["text"]
    assert not own.str.startswith("Connected to").any()  # the winner's line is not in the dropped transcript


def test_failed_address_is_not_dropped(excerpt):
    frame = excerpt.sessions(IPV6_THEN_IPV4)

    failed = row(frame, 0)
    assert failed["cause"] == "network_unreachable"
    assert "dropped" not in failed["error_text"]
