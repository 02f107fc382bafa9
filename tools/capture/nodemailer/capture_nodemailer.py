"""Capture real nodemailer log output against the faulty-server catalogue.

For every scenario of ``tools/capture/servers.py`` this starts the server on
127.0.0.1, runs ``send.js`` (nodemailer with ``logger: true, debug: true``)
configured the way an application meets that server, and saves what
nodemailer printed on stdout and stderr, in the order printed, to
``tests/captures/nodemailer/<scenario>.logger.log``.  The labels are written
to ``expected.jsonl`` beside them in the schema of ``tools/capture/capture.py``
(whose ``capture`` function does the running), with a ``rows`` list of the
column values each session must get.

The script runs itself inside a new network namespace (``unshare -rn``), so
the servers listen on the real submission ports (465, 587) without clashing
with anything on the host, and no packet can leave the machine.

Usage::

    cd tools/capture/nodemailer && npm install
    ../../../.venv/bin/python capture_nodemailer.py                      # every scenario
    ../../../.venv/bin/python capture_nodemailer.py auth_535 success     # some of them
    ../../../.venv/bin/python capture_nodemailer.py --out /tmp/x auth_535
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import capture as catalogue  # noqa: E402 - tools/capture/capture.py, found through the path above
from servers import FAKE_PASSWORD, FAKE_TOKEN, FAKE_USER, RECIPIENT, SENDER, Endpoint  # noqa: E402

OUT = HERE.parents[2] / "tests" / "captures"
MODE = "logger"
LOGIN = {"user": FAKE_USER, "pass": FAKE_PASSWORD}
TOKEN = {"type": "OAuth2", "user": FAKE_USER, "accessToken": FAKE_TOKEN}
GREETING_TIMEOUT_MS = 1500

# Per scenario: transport options beyond host and port, whether to trust the
# test CA, how many messages to send, and server options.
PLAN: dict[str, dict[str, Any]] = {
    "success": {"transport": {"auth": LOGIN}},
    "success_implicit": {"transport": {"secure": True, "auth": LOGIN}},
    "connect_refused": {"transport": {"auth": LOGIN}},
    "implicit_port_plain_client": {"transport": {"secure": False, "auth": LOGIN}},
    "plain_port_implicit_client": {"transport": {"secure": True, "auth": LOGIN}},
    "untrusted_cert": {"transport": {"auth": LOGIN}, "trust": False},
    "wrong_host_cert": {"transport": {"auth": LOGIN}},
    "starttls_not_offered": {"transport": {"requireTLS": True, "auth": LOGIN}},
    "starttls_required": {"transport": {"ignoreTLS": True}},
    "auth_535": {"transport": {"auth": LOGIN}},
    "auth_534": {"transport": {"auth": LOGIN}},
    "xoauth2_rejected": {"transport": {"auth": TOKEN}},
    "rate_limited": {"transport": {"auth": LOGIN}, "messages": 3, "server": {"rate_limit": 2}},
    "greylisted": {"transport": {"auth": LOGIN}},
    "unknown_recipient": {"transport": {"auth": LOGIN}},
    "relay_denied": {"transport": {"auth": LOGIN}},
    "no_greeting": {"transport": {"auth": LOGIN}},
    "close_after_connect": {"transport": {"auth": LOGIN}},
}

# Column values per session, beyond the scenario's labels.  nodemailer prints
# no port before "Connection established", so a TLS failure before it has none.
OK_ROW = {"failure_stage": "none", "cause": "ok", "messages_sent": 1}
ROWS: dict[str, list[dict[str, Any]]] = {
    "success": [{**OK_ROW, "port": 587, "tls_mode": "starttls", "identity": FAKE_USER}],
    "success_implicit": [{**OK_ROW, "port": 465, "tls_mode": "implicit", "identity": FAKE_USER}],
    "connect_refused": [{"port": 587}],
    "implicit_port_plain_client": [{"port": 465}],
    "plain_port_implicit_client": [{"tls_mode": "implicit"}],
    "untrusted_cert": [{"port": 587, "tls_mode": "starttls"}],
    "wrong_host_cert": [{"port": 587, "tls_mode": "starttls"}],
    "auth_535": [{"port": 587, "tls_mode": "starttls", "identity": FAKE_USER}],
    "auth_534": [{"identity": FAKE_USER}],
    "xoauth2_rejected": [{"identity": FAKE_USER, "auth_mechanism": "XOAUTH2"}],
    "rate_limited": [dict(OK_ROW), dict(OK_ROW), {"failure_stage": "mail_from", "cause": "rate_limited"}],
    "no_greeting": [{"port": 587}],
}


def _argv(scenario: str) -> Any:
    plan = PLAN[scenario]

    def argv(endpoint: Endpoint, scratch: Path) -> list[str]:
        transport = {"host": endpoint.host, "port": endpoint.port, "greetingTimeout": GREETING_TIMEOUT_MS,
                     "connectionTimeout": GREETING_TIMEOUT_MS, **plan["transport"]}
        options = {"transport": transport, "messages": plan.get("messages", 1), "from": SENDER, "to": RECIPIENT}
        if plan.get("trust", True):
            options["caFile"] = str(endpoint.ca_file)
        return ["node", str(HERE / "send.js"), json.dumps(options)]

    return argv


def runs() -> list[catalogue.Run]:
    """Return one nodemailer run per scenario."""
    result = []
    for scenario in PLAN:
        expected: dict[str, Any] = {"rows": ROWS.get(scenario, [{}])}
        if scenario == "rate_limited":
            expected["sessions"] = 3
        if scenario == "starttls_not_offered":
            expected["reply_code"] = 454  # nodemailer sends STARTTLS anyway, and aiosmtpd replies "454 TLS not available"
        result.append(catalogue.Run("nodemailer", MODE, scenario, _argv(scenario),
                                    server_options=PLAN[scenario].get("server", {}), expected=expected))
    return result


def _missing() -> str | None:
    return "node is not installed; install Node.js 18 or newer first" if shutil.which("node") is None else None


def main(argv: list[str] | None = None) -> int:
    """Capture the selected scenarios and merge their labels into expected.jsonl."""
    return catalogue.client_main(argv, client="nodemailer", script=Path(__file__).resolve(),
                                 description=__doc__.splitlines()[0], scenarios=list(PLAN), runs=runs,
                                 missing=_missing, default_out=OUT)


if __name__ == "__main__":
    sys.exit(main())
