"""``smtplogkit probe`` as a user runs it, in a subprocess, against loopback servers only."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys

import pytest

from smtplogkit import read_logs
from smtplogkit.cli import build_parser
from smtplogkit.probe.model import secret_forms

from probe_servers import MAIL_HOST, PASSWORD, USER


def run_cli(*args: str, env: dict[str, str] | None = None, verbose: bool = False) -> subprocess.CompletedProcess:
    """Run the probe command; a host name needs --nameserver so no test queries the system resolver."""
    host = args[0]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        assert "--nameserver" in args, "tests must pass --nameserver for a host name"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SMTPLOGKIT_")}
    environment.update(env or {})
    flags = ["-v", "-v"] if verbose else []
    return subprocess.run([sys.executable, "-m", "smtplogkit", *flags, "probe", *args], capture_output=True, text=True,
                          timeout=60, env=environment, stdin=subprocess.DEVNULL, start_new_session=True,
                          check=False)  # no controlling terminal, so getpass cannot prompt


def test_nameserver_default_is_system():
    assert build_parser().parse_args(["probe", MAIL_HOST]).nameserver is None
    given = build_parser().parse_args(["probe", MAIL_HOST, "--nameserver", "127.0.0.1:5300"])
    assert given.nameserver == "127.0.0.1:5300"


def test_table_and_exit_status(starttls_server, dns_server, cafile):
    run = run_cli(MAIL_HOST, "--port", str(starttls_server.port), "--nameserver", dns_server.address,
                  "--cafile", cafile, "--timeout", "2")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[1].split() == ["address", "step", "status", "ms", "detail"]
    assert any(line.split()[:3] == ["127.0.0.1", "TLS", "ok"] for line in lines)
    assert lines[-1].startswith("verdict: DNS ok, TCP ok, greeting ok")
    assert dns_server.queries  # the given resolver was asked


def test_failure_exit_status(closed_port):
    run = run_cli("127.0.0.1", "--port", str(closed_port), "--timeout", "2")
    assert run.returncode == 1
    assert "verdict: TCP failed: connection refused" in run.stdout


def test_wrong_mode_verdict(starttls_server, dns_server, cafile):
    run = run_cli(MAIL_HOST, "--port", str(starttls_server.port), "--tls", "implicit", "--nameserver",
                  dns_server.address, "--cafile", cafile, "--timeout", "2")
    assert run.returncode == 1
    verdict = run.stdout.splitlines()[-1]
    assert verdict.startswith("verdict: DNS ok, TCP ok, TLS failed:")
    assert f"the server speaks STARTTLS on {starttls_server.port}, use starttls" in verdict


def test_record_appended(starttls_server, dns_server, cafile, tmp_path):
    output = tmp_path / "probe.jsonl"
    for network in ("office", "ci"):
        run = run_cli(MAIL_HOST, "--port", str(starttls_server.port), "--nameserver", dns_server.address,
                      "--cafile", cafile, "--network", network, "-o", str(output))
        assert run.returncode == 0, run.stderr
    frame = read_logs(str(output))
    assert list(frame["network"]) == ["office", "ci"]
    assert set(frame["cause"].astype(str)) == {"ok"}


def test_password_never_printed_or_recorded(starttls_server, dns_server, cafile, tmp_path):
    output = tmp_path / "auth.jsonl"
    run = run_cli(MAIL_HOST, "--port", str(starttls_server.port), "--tls", "starttls", "--nameserver",
                  dns_server.address, "--cafile", cafile, "--user", USER, "--auth", "password", "-o", str(output),
                  env={"SMTPLOGKIT_PASSWORD": PASSWORD})
    assert run.returncode == 0, run.stderr
    assert "AUTH ok" in run.stdout
    everything = run.stdout + run.stderr + output.read_text()
    assert [form for form in secret_forms(PASSWORD) if form in everything] == []
    records = [json.loads(line) for line in output.read_text().splitlines()]
    auth = next(r for r in records if r.get("step") == "auth")
    assert auth["transcript"][0] == ["C", "AUTH PLAIN <redacted>"]
    assert auth["facts"]["identity"] == USER


def test_wrong_password_never_printed(starttls_server, dns_server, cafile, tmp_path):
    wrong = "Wr0ng-but-still-secret"
    output = tmp_path / "auth.jsonl"
    run = run_cli(MAIL_HOST, "--port", str(starttls_server.port), "--tls", "starttls", "--nameserver",
                  dns_server.address, "--cafile", cafile, "--user", USER, "--auth", "password", "-o", str(output),
                  env={"SMTPLOGKIT_PASSWORD": wrong}, verbose=True)
    assert run.returncode == 1
    assert "auth_failed" in run.stdout
    assert "smtplogkit: debug:" in run.stderr or "smtplogkit: info:" in run.stderr  # the logs were on, and are checked too
    everything = run.stdout + run.stderr + output.read_text()
    assert [form for form in secret_forms(wrong) if form in everything] == []


def test_password_missing(dns_server):
    run = run_cli(MAIL_HOST, "--nameserver", dns_server.address, "--user", USER, "--auth", "xoauth2")
    assert run.returncode == 2
    assert "SMTPLOGKIT_OAUTH_TOKEN" in run.stderr
    assert dns_server.queries == []  # nothing is sent before the settings are complete


def test_burst_refused_without_confirmation(throttling_server, dns_server):
    run = run_cli(MAIL_HOST, "--port", str(throttling_server.port), "--nameserver", dns_server.address,
                  "--burst", "3")
    assert run.returncode == 2
    assert "--i-own-this-server" in run.stderr
    assert throttling_server.handler.sessions == 0


def test_import_stays_light():
    code = "import sys, smtplogkit, smtplogkit.cli; print(sorted(m for m in sys.modules if m == 'dns' or m.startswith(('dns.', 'smtplogkit.probe'))))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.strip() == "[]"


def test_password_prompt_without_terminal(dns_server):
    run = run_cli(MAIL_HOST, "--nameserver", dns_server.address, "--user", USER, "--auth", "password")
    assert run.returncode == 2
    assert "SMTPLOGKIT_PASSWORD" in run.stderr
    assert dns_server.queries == []


def test_burst_and_repeat_exclusive(dns_server):
    run = run_cli(MAIL_HOST, "--nameserver", dns_server.address, "--burst", "2", "--repeat", "2",
                  "--i-own-this-server")
    assert run.returncode == 2
    assert "cannot be combined" in run.stderr
    assert dns_server.queries == []


def isolated_namespace_works() -> bool:
    """Return whether ``unshare -rn`` can start a process in a new network namespace whose only interface is lo."""
    if shutil.which("unshare") is None:
        return False
    check = subprocess.run(["unshare", "-rn", "cat", "/proc/net/dev"], capture_output=True, text=True, timeout=30,
                           check=False)
    interfaces = [line.split(":")[0].strip() for line in check.stdout.splitlines()[2:] if ":" in line]
    return check.returncode == 0 and interfaces == ["lo"]


@pytest.mark.skipif(not isolated_namespace_works(), reason="unshare -rn cannot create a network namespace here")
@pytest.mark.parametrize("address", ["192.0.2.1", "2001:db8::1"])
def test_unreachable_in_empty_namespace(address):
    """In a new network namespace with no interface up, no packet can leave, and connect fails at once."""
    run = subprocess.run(["unshare", "-rn", sys.executable, "-m", "smtplogkit", "probe", address, "--port", "25",
                          "--timeout", "2"], capture_output=True, text=True, timeout=60, check=False,
                         stdin=subprocess.DEVNULL)
    assert run.returncode == 1, run.stderr
    assert "failed (network_unreachable)" in run.stdout
    assert f"verdict: TCP failed: {address} is unreachable from this network" in run.stdout
