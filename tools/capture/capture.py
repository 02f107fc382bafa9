"""Run real SMTP clients against the faulty-server catalogue and keep their logs.

Usage::

    python tools/capture/capture.py [--out tests/captures] [--client curl] [--scenario auth_535]

For every run in :data:`RUNS` this starts the scenario's server on 127.0.0.1
and runs the unmodified client program with its most verbose output.  The
clients are Python smtplib (through ``smtplib_client.py``), swaks, curl and
openssl s_client.  What the client printed (stdout and stderr together) goes
to ``<out>/<client>/<scenario>.<mode>.log``.  ``<out>/<client>/expected.jsonl``
gets one object per log with the labels the scenario defines: the server's
behaviour, not smtplogkit's reading of the log, decides them.

Servers listen on the ports users meet (587 for plain and STARTTLS, 465 for
implicit TLS) when this process may bind them, so that the port evidence in
the logs is realistic.  Otherwise they listen on free ports, and the labels
that depend on the port change with it.  Only the fake credentials of :mod:`servers` are
used, and a run fails if the plain password or token shows up in a log.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import servers
from servers import FAKE_PASSWORD, FAKE_TOKEN, FAKE_USER, RECIPIENT, SENDER, SERVER_NAME, Endpoint

logger = logging.getLogger("capture")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WELL_KNOWN_PORTS = {"implicit": 465, "starttls": 587, "none": 587}
CLIENT_TIMEOUT = 3  # seconds a client waits for a reply before giving up
RUN_TIMEOUT = 30  # seconds before a hung client is killed

# Labels each scenario defines, for a client that runs the scenario as meant.
EXPECTED: dict[str, dict] = {
    "success": dict(failure_stage="none", cause="ok"),
    "success_implicit": dict(failure_stage="none", cause="ok"),
    "connect_refused": dict(failure_stage="connect", cause="connect_refused"),
    "implicit_port_plain_client": dict(failure_stage="greeting", cause="tls_mode_mismatch"),
    "plain_port_implicit_client": dict(failure_stage="tls", cause="tls_mode_mismatch"),
    "untrusted_cert": dict(failure_stage="tls", cause="certificate_invalid"),
    "wrong_host_cert": dict(failure_stage="tls", cause="certificate_invalid"),
    "starttls_not_offered": dict(failure_stage="starttls", cause="starttls_unavailable"),
    "starttls_required": dict(failure_stage="mail_from", cause="starttls_required", reply_code=530,
                              enhanced_code="5.7.0"),
    "auth_535": dict(failure_stage="auth", cause="auth_failed", reply_code=535, enhanced_code="5.7.8"),
    "auth_534": dict(failure_stage="auth", cause="app_password_required", reply_code=534, enhanced_code="5.7.9"),
    "xoauth2_rejected": dict(failure_stage="auth", cause="oauth_token_invalid", reply_code=535,
                             enhanced_code="5.7.8"),
    "rate_limited": dict(failure_stage="mail_from", cause="rate_limited", reply_code=421, enhanced_code="4.7.0"),
    "greylisted": dict(failure_stage="rcpt_to", cause="greylisted", reply_code=451, enhanced_code="4.7.1"),
    "unknown_recipient": dict(failure_stage="rcpt_to", cause="recipient_rejected", reply_code=550,
                              enhanced_code="5.1.1"),
    "relay_denied": dict(failure_stage="rcpt_to", cause="policy_rejected", reply_code=554, enhanced_code="5.7.1"),
    "no_greeting": dict(failure_stage="greeting", cause="read_timeout"),
    "close_after_connect": dict(failure_stage="greeting", cause="server_disconnected"),
}


@dataclass(slots=True)
class Run:
    """One client invocation against one scenario.

    ``argv`` builds the command from the endpoint and a scratch folder;
    ``stdin`` is what the client reads (openssl's scripted dialogue).
    ``expected`` overrides the scenario's labels where this client, run this
    way, ends differently.  For instance, s_client goes on after a failed
    certificate check unless run with ``-verify_return_error``.
    """

    client: str
    mode: str
    scenario: str
    argv: Callable[[Endpoint, Path], list[str]]
    stdin: str = ""
    server_options: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.scenario}.{self.mode}.log"


# Python smtplib ----------------------------------------------------------------

# Per scenario: (connection mode, extra arguments) for smtplib_client.py.
SMTPLIB_PLAN: dict[str, tuple[str, list[str]]] = {
    "success": ("starttls", ["--login", "--cafile"]),
    "success_implicit": ("implicit", ["--login", "--cafile"]),
    "connect_refused": ("starttls", ["--login", "--cafile"]),
    "implicit_port_plain_client": ("starttls", ["--login", "--cafile"]),
    "plain_port_implicit_client": ("implicit", ["--login", "--cafile"]),
    "untrusted_cert": ("starttls", ["--login"]),
    "wrong_host_cert": ("starttls", ["--login", "--cafile"]),
    "starttls_not_offered": ("starttls", ["--login", "--cafile"]),
    "starttls_required": ("plain", []),
    "auth_535": ("starttls", ["--login", "--cafile"]),
    "auth_534": ("starttls", ["--login", "--cafile"]),
    "xoauth2_rejected": ("starttls", ["--token", "--cafile"]),
    "rate_limited": ("starttls", ["--login", "--cafile", "--messages"]),
    "greylisted": ("starttls", ["--login", "--cafile"]),
    "unknown_recipient": ("starttls", ["--login", "--cafile"]),
    "relay_denied": ("starttls", ["--login", "--cafile"]),
    "no_greeting": ("starttls", ["--login", "--cafile"]),
    "close_after_connect": ("starttls", ["--login", "--cafile"]),
}


def _smtplib_argv(scenario: str, debuglevel: int, report: str = "traceback") -> Callable[[Endpoint, Path], list[str]]:
    mode, flags = SMTPLIB_PLAN[scenario]

    def argv(endpoint: Endpoint, scratch: Path) -> list[str]:
        command = [sys.executable, str(HERE / "smtplib_client.py"), "--host", endpoint.host, "--port",
                   str(endpoint.port), "--mode", mode, "--debuglevel", str(debuglevel), "--sender", SENDER,
                   "--recipient", RECIPIENT, "--timeout", str(CLIENT_TIMEOUT), "--report", report]
        if "--cafile" in flags:
            command += ["--cafile", str(endpoint.ca_file)]
        if "--login" in flags:
            command += ["--user", FAKE_USER, "--password", FAKE_PASSWORD]
        if "--token" in flags:
            command += ["--user", FAKE_USER, "--token", FAKE_TOKEN]
        if "--messages" in flags:
            command += ["--messages", "2"]
        return command

    return argv


def smtplib_runs() -> list[Run]:
    """Return the smtplib runs: every scenario at debug levels 1 and 2, and a few printing ``repr(error)``."""
    runs = []
    for scenario in SMTPLIB_PLAN:
        options = {"rate_limit": 1} if scenario == "rate_limited" else {}
        for level in (1, 2):
            runs.append(Run("smtplib", f"debug{level}", scenario, _smtplib_argv(scenario, level),
                            server_options=options))
    # Scripts that print repr(error) instead of the traceback.
    for scenario in ("auth_535", "connect_refused", "unknown_recipient", "untrusted_cert"):
        runs.append(Run("smtplib", "debug1-repr", scenario, _smtplib_argv(scenario, 1, "repr")))
    return runs


# swaks ------------------------------------------------------------------------

# Per scenario: (TLS flags, trust the CA, authenticate).  swaks 20201014 has no
# XOAUTH2, so that scenario is left out.
SWAKS_PLAN: dict[str, tuple[list[str], bool, bool]] = {
    "success": (["-tls"], True, True),
    "success_implicit": (["--tls-on-connect"], True, True),
    "connect_refused": (["-tls"], True, True),
    "implicit_port_plain_client": (["-tls"], True, True),
    "plain_port_implicit_client": (["--tls-on-connect"], True, True),
    "untrusted_cert": (["-tls"], False, True),
    "wrong_host_cert": (["-tls"], True, True),
    "starttls_not_offered": (["-tls"], True, True),
    "starttls_required": ([], True, False),
    "auth_535": (["-tls"], True, True),
    "auth_534": (["-tls"], True, True),
    "rate_limited": (["-tls"], True, True),
    "greylisted": (["-tls"], True, True),
    "unknown_recipient": (["-tls"], True, True),
    "relay_denied": (["-tls"], True, True),
    "no_greeting": (["-tls"], True, True),
    "close_after_connect": (["-tls"], True, True),
}


def _swaks_argv(scenario: str) -> Callable[[Endpoint, Path], list[str]]:
    tls, trust, auth = SWAKS_PLAN[scenario]

    def argv(endpoint: Endpoint, scratch: Path) -> list[str]:
        command = ["swaks", "--server", endpoint.host, "--port", str(endpoint.port), "--from", SENDER,
                   "--to", RECIPIENT, "--timeout", str(CLIENT_TIMEOUT), *tls]
        if tls:
            command += ["--tls-verify"]
            command += ["--tls-ca-path", str(endpoint.ca_file) if trust else "/etc/ssl/certs"]
        if auth:
            command += ["--auth", "PLAIN", "--auth-user", FAKE_USER, "--auth-password", FAKE_PASSWORD]
        return command

    return argv


# swaks 20201014's --tls-verify checks the chain but not the host name, so it
# sends the message through the wrong-host certificate.
SWAKS_EXPECTED = {"wrong_host_cert": dict(failure_stage="none", cause="ok")}


def swaks_runs() -> list[Run]:
    """Return the swaks runs, one per scenario it can take part in."""
    runs = []
    for scenario, (tls, _, _) in SWAKS_PLAN.items():
        mode = tls[0].lstrip("-") if tls else "plain"
        runs.append(Run("swaks", mode, scenario, _swaks_argv(scenario), expected=SWAKS_EXPECTED.get(scenario, {})))
    return runs


# curl ---------------------------------------------------------------------------

# Per scenario: (URL scheme and flags, trust the CA, credentials).
CURL_PLAN: dict[str, tuple[str, list[str], bool, str]] = {
    "success": ("smtp", ["--ssl-reqd"], True, "login"),
    "success_implicit": ("smtps", [], True, "login"),
    "connect_refused": ("smtp", ["--ssl-reqd"], True, "login"),
    "implicit_port_plain_client": ("smtp", ["--ssl-reqd"], True, "login"),
    "plain_port_implicit_client": ("smtps", [], True, "login"),
    "untrusted_cert": ("smtp", ["--ssl-reqd"], False, "login"),
    "wrong_host_cert": ("smtp", ["--ssl-reqd"], True, "login"),
    "starttls_not_offered": ("smtp", ["--ssl-reqd"], True, "login"),
    "starttls_required": ("smtp", [], True, "none"),
    "auth_535": ("smtp", ["--ssl-reqd"], True, "login"),
    "auth_534": ("smtp", ["--ssl-reqd"], True, "login"),
    "xoauth2_rejected": ("smtp", ["--ssl-reqd"], True, "token"),
    "rate_limited": ("smtp", ["--ssl-reqd"], True, "login"),
    "greylisted": ("smtp", ["--ssl-reqd"], True, "login"),
    "unknown_recipient": ("smtp", ["--ssl-reqd"], True, "login"),
    "relay_denied": ("smtp", ["--ssl-reqd"], True, "login"),
    "no_greeting": ("smtp", ["--ssl-reqd"], True, "login"),
    "close_after_connect": ("smtp", ["--ssl-reqd"], True, "login"),
}


def _curl_argv(scenario: str, extra: list[str] | None = None) -> Callable[[Endpoint, Path], list[str]]:
    scheme, flags, trust, credentials = CURL_PLAN[scenario]
    flags = [*flags, *(extra or [])]

    def argv(endpoint: Endpoint, scratch: Path) -> list[str]:
        message = scratch / "message.eml"
        message.write_text(f"From: {SENDER}\r\nTo: {RECIPIENT}\r\nSubject: capture\r\n\r\nHello.\r\n")
        command = ["curl", "--verbose", "--max-time", str(CLIENT_TIMEOUT + 2),
                   f"{scheme}://{endpoint.host}:{endpoint.port}", "--mail-from", SENDER, "--mail-rcpt", RECIPIENT,
                   "--upload-file", str(message), *flags]
        if trust:
            command += ["--cacert", str(endpoint.ca_file)]
        if credentials == "login":
            command += ["--user", f"{FAKE_USER}:{FAKE_PASSWORD}"]
        elif credentials == "token":
            command += ["--user", FAKE_USER, "--oauth2-bearer", FAKE_TOKEN]
        return command

    return argv


# curl 7.88 gives up on XOAUTH2 at the error challenge, before the 535.
CURL_EXPECTED = {"xoauth2_rejected": dict(reply_code=None, enhanced_code=None)}


def curl_runs() -> list[Run]:
    """Return the curl runs: smtp:// with --ssl-reqd, smtps://, and plain smtp://."""
    runs = []
    for scenario, (scheme, flags, _, _) in CURL_PLAN.items():
        if scheme == "smtps":
            mode = "smtps"
        elif flags:
            mode = "smtp-ssl-reqd"
        else:
            mode = "smtp"
        runs.append(Run("curl", mode, scenario, _curl_argv(scenario), expected=CURL_EXPECTED.get(scenario, {})))
    # The same transfers as scripts run them, without the progress meter.
    for scenario in ("success", "auth_535", "untrusted_cert"):
        runs.append(Run("curl", "smtp-ssl-reqd-silent", scenario, _curl_argv(scenario, ["--silent", "--show-error"])))
    return runs


# openssl s_client -------------------------------------------------------------------

def _dialogue(auth: str | None) -> str:
    """Return the commands a user pipes into ``s_client -crlf``."""
    import base64

    lines = ["EHLO client.capture.test"]
    if auth == "plain":
        payload = base64.b64encode(f"\0{FAKE_USER}\0{FAKE_PASSWORD}".encode()).decode()
        lines.append(f"AUTH PLAIN {payload}")
    elif auth == "xoauth2":
        payload = base64.b64encode(f"user={FAKE_USER}\x01auth=Bearer {FAKE_TOKEN}\x01\x01".encode()).decode()
        lines += [f"AUTH XOAUTH2 {payload}", ""]
    lines += [f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{RECIPIENT}>", "DATA", "Subject: capture", "", "Hello.", ".",
              "QUIT"]
    return "\n".join(lines) + "\n"


def _openssl_argv(mode: str, trust: bool = True) -> Callable[[Endpoint, Path], list[str]]:
    def argv(endpoint: Endpoint, scratch: Path) -> list[str]:
        command = ["openssl", "s_client", "-connect", f"{endpoint.host}:{endpoint.port}",
                   "-servername", SERVER_NAME]
        if mode in ("starttls", "verify", "starttls-dialogue"):
            command += ["-starttls", "smtp"]
        if mode == "verify":
            command += ["-verify_return_error", "-verify_ip", endpoint.host]
        if trust:
            command += ["-CAfile", str(endpoint.ca_file)]
        if mode.endswith("dialogue"):
            command += ["-crlf", "-ign_eof"]
        # s_client writes through stdio; line buffering keeps what it printed
        # before timeout(1) stops it on a server that never replies.
        return ["timeout", str(CLIENT_TIMEOUT + 5), "stdbuf", "-oL", *command]

    return argv


def openssl_runs() -> list[Run]:
    """Return the openssl runs.

    Modes: ``dialogue`` (implicit TLS with a scripted SMTP dialogue on stdin),
    ``starttls-dialogue`` (the same after ``-starttls smtp``), ``verify``
    (``-starttls smtp -verify_return_error``, no dialogue) and ``connect``
    (TLS at once, no dialogue, as users test a port).
    """
    plain_auth, oauth, none = _dialogue("plain"), _dialogue("xoauth2"), _dialogue(None)
    certificate_seen = dict(failure_stage="tls", cause="certificate_invalid")
    # s_client prints no port, so a silent implicit-TLS port looks like any
    # server that never greets.
    silent = dict(failure_stage="greeting", cause="read_timeout")
    # Without -starttls, s_client is in the TLS handshake when the server
    # closes, and it reports the reset (errno 104).
    reset_in_handshake = dict(failure_stage="tls", cause="connection_reset")
    runs = [
        Run("openssl", "starttls-dialogue", "success", _openssl_argv("starttls-dialogue"), plain_auth),
        Run("openssl", "dialogue", "success_implicit", _openssl_argv("dialogue"), plain_auth),
        Run("openssl", "connect", "connect_refused", _openssl_argv("connect")),
        Run("openssl", "starttls", "implicit_port_plain_client", _openssl_argv("starttls"), expected=silent),
        Run("openssl", "connect", "plain_port_implicit_client", _openssl_argv("connect")),
        Run("openssl", "verify", "untrusted_cert", _openssl_argv("verify", trust=False)),
        # Without -verify_return_error s_client reports the failed check and goes on.
        Run("openssl", "starttls-dialogue", "untrusted_cert", _openssl_argv("starttls-dialogue", trust=False),
            plain_auth, expected=certificate_seen),
        Run("openssl", "verify", "wrong_host_cert", _openssl_argv("verify")),
        Run("openssl", "starttls", "starttls_not_offered", _openssl_argv("starttls")),
        Run("openssl", "starttls-dialogue", "auth_535", _openssl_argv("starttls-dialogue"), plain_auth),
        Run("openssl", "starttls-dialogue", "auth_534", _openssl_argv("starttls-dialogue"), plain_auth),
        Run("openssl", "starttls-dialogue", "xoauth2_rejected", _openssl_argv("starttls-dialogue"), oauth),
        Run("openssl", "starttls-dialogue", "rate_limited", _openssl_argv("starttls-dialogue"), plain_auth),
        Run("openssl", "starttls-dialogue", "greylisted", _openssl_argv("starttls-dialogue"), plain_auth),
        Run("openssl", "starttls-dialogue", "unknown_recipient", _openssl_argv("starttls-dialogue"), plain_auth),
        Run("openssl", "starttls-dialogue", "relay_denied", _openssl_argv("starttls-dialogue"), plain_auth),
        Run("openssl", "starttls", "no_greeting", _openssl_argv("starttls")),
        Run("openssl", "connect", "close_after_connect", _openssl_argv("connect"), expected=reset_in_handshake),
        # s_client starts TLS itself, so the server's demand is met.
        Run("openssl", "starttls-dialogue", "starttls_required", _openssl_argv("starttls-dialogue"), none,
            expected=dict(failure_stage="none", cause="ok", reply_code=None, enhanced_code=None)),
    ]
    return runs


RUNS: list[Run] = smtplib_runs() + swaks_runs() + curl_runs() + openssl_runs()


# Running -----------------------------------------------------------------------------

def _can_bind(port: int) -> bool:
    try:
        with socket.create_server((servers.HOST, port)):
            return True
    except OSError:
        return False


def choose_port(scenario: str, well_known: bool) -> int | None:
    """Return the port for a scenario's server: the usual one if it can be bound, else ``None`` (free)."""
    if not well_known:
        return None
    port = WELL_KNOWN_PORTS[servers.SCENARIOS[scenario].tls]
    return port if _can_bind(port) else None


def expected_labels(run: Run, endpoint: Endpoint) -> dict:
    """Return the labels of a run's log, given where the server listened."""
    labels = dict(failure_stage=None, cause=None, reply_code=None, enhanced_code=None, sessions=1)
    labels.update(EXPECTED[run.scenario])
    labels.update(run.expected)
    if run.scenario == "implicit_port_plain_client" and endpoint.port != 465:
        # Only the port distinguishes a silent implicit-TLS server from one that never greets.
        labels.update(failure_stage="greeting", cause="read_timeout")
    return labels


def capture(run: Run, out: Path, well_known: bool) -> dict:
    """Run one client against its scenario, write the log, and return its expected.jsonl entry."""
    port = choose_port(run.scenario, well_known)
    with tempfile.TemporaryDirectory(prefix="capture-") as scratch, \
            servers.start(run.scenario, port, **run.server_options) as endpoint:
        argv = run.argv(endpoint, Path(scratch))
        try:
            finished = subprocess.run(argv, input=run.stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, timeout=RUN_TIMEOUT, check=False, errors="replace")
            output, status = finished.stdout, finished.returncode
        except subprocess.TimeoutExpired as expired:
            partial = expired.stdout or ""
            output = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
            status = None
    for secret in (FAKE_PASSWORD, FAKE_TOKEN):
        if secret in output:
            raise RuntimeError(f"{run.client} {run.file_name}: the plain fake secret appears in the output")

    folder = out / run.client
    folder.mkdir(parents=True, exist_ok=True)
    (folder / run.file_name).write_text(output, encoding="utf-8")
    logger.info("%s/%s: exit status %s, %d lines", run.client, run.file_name, status, output.count("\n"))
    return {"file": run.file_name, "scenario": run.scenario, "mode": run.mode, "port": endpoint.port,
            **expected_labels(run, endpoint)}


def client_main(argv: list[str] | None, *, client: str, script: Path, description: str, scenarios: list[str],
                runs: Callable[[], list[Run]], missing: Callable[[], str | None], default_out: Path) -> int:
    """Run the command line of a per-client capture script.

    Checks the scenario names and that the client is installed (``missing``
    returns what to install, or None), re-runs ``script`` inside a private
    network namespace, captures the selected runs and merges their labels
    into ``<out>/<client>/expected.jsonl``.
    """
    import netns

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument(netns.INSIDE_FLAG, action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=default_out, help=f"folder that gets {client}/ (default {default_out})")
    args = parser.parse_args(argv)

    unknown = set(args.names) - set(scenarios)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}; known: {', '.join(scenarios)}")
    install = missing()
    if install:
        parser.error(install)

    if not args.inside_netns:
        return netns.rerun(script, sys.argv[1:] if argv is None else argv)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command log
    selected = [run for run in runs() if not args.names or run.scenario in args.names]
    new = {run.file_name: capture(run, args.out, True) for run in selected}
    merge_expected(args.out, client, new)
    return 0


def merge_expected(out: Path, client: str, new: dict[str, dict]) -> None:
    """Merge new labels into ``out/<client>/expected.jsonl``, keeping entries of files not captured again."""
    path = out / client / "expected.jsonl"
    old = {}
    if path.exists():
        old = {e["file"]: e for e in map(json.loads, path.read_text().splitlines()) if e}
    merged = {**old, **new}
    path.write_text("".join(json.dumps(merged[name]) + "\n" for name in sorted(merged)))


def main(argv: list[str] | None = None) -> int:
    """Capture the selected runs and rewrite each client's expected.jsonl."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "captures", help="folder for the logs")
    parser.add_argument("--client", action="append", help="capture only this client (repeatable)")
    parser.add_argument("--scenario", action="append", help="capture only this scenario (repeatable)")
    parser.add_argument("--free-ports", action="store_true", help="never use ports 465 and 587")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command log

    selected = [r for r in RUNS if (not args.client or r.client in args.client)
                and (not args.scenario or r.scenario in args.scenario)]
    missing = sorted({r.client for r in selected if r.client != "smtplib" and shutil.which(r.client) is None})
    if missing:
        parser.error(f"client programs not found: {', '.join(missing)}; install them (apt-get install swaks curl openssl)")

    entries: dict[str, dict[str, dict]] = {}
    for run in selected:
        entries.setdefault(run.client, {})[run.file_name] = capture(run, args.out, not args.free_ports)
    for client, new in entries.items():
        path = args.out / client / "expected.jsonl"
        old = {}
        if path.exists():
            old = {e["file"]: e for e in map(json.loads, path.read_text().splitlines()) if e}
        merged = {**old, **new}
        path.write_text("".join(json.dumps(merged[name]) + "\n" for name in sorted(merged)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
