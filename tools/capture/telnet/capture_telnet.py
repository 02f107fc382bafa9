"""Capture real telnet and nc (netcat-openbsd) sessions against the faulty-server catalogue.

A person types SMTP commands into telnet or nc and pastes the terminal.  To
get the same text, each run starts a scenario's server from
``tools/capture/servers.py``, runs the client under ``script`` so that it has
a terminal which echoes the typed commands, and feeds it one command every
0.4 seconds.  What the terminal showed is saved to
``tests/captures/telnet/<scenario>.<telnet|nc>.log`` through
``tools/capture/capture.py``'s ``capture`` function, and the scenario's
labels go to ``expected.jsonl`` beside the logs.  The script re-runs itself
in a private network namespace (``unshare -rn``), so the server can take
port 587.

Usage (needs the ``telnet`` and ``netcat-openbsd`` packages and ``script``
from util-linux)::

    .venv/bin/python tools/capture/telnet/capture_telnet.py [--out tests/captures] [scenario ...]

Scenarios that need TLS are left out: telnet and nc cannot speak it.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import capture as catalogue  # noqa: E402 - tools/capture/capture.py, found through the path above
from servers import RECIPIENT, SENDER, Endpoint  # noqa: E402

OUT = HERE.parents[2] / "tests" / "captures"
TYPING_DELAY = 0.4  # seconds between typed lines, long enough for each reply to arrive first
ENVELOPE = ["EHLO laptop", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{RECIPIENT}>"]
MESSAGE = ["DATA", "Subject: typed by hand", "", "Hello.", "."]

# Per scenario: the lines typed after the greeting.
TYPED: dict[str, list[str]] = {
    "starttls_not_offered": [*ENVELOPE, *MESSAGE, "QUIT"],
    "starttls_required": [*ENVELOPE[:2], "QUIT"],
    "rate_limited": [*ENVELOPE[:2], "QUIT"],
    "greylisted": [*ENVELOPE, "QUIT"],
    "unknown_recipient": [*ENVELOPE, "QUIT"],
    "relay_denied": [*ENVELOPE, "QUIT"],
    "connect_refused": [],
    "close_after_connect": [],
}
# Labels of hand-typed sessions that end differently from the scenario's own.
EXPECTED: dict[str, dict[str, Any]] = {
    # Without STARTTLS or AUTH on offer the typed message goes through.
    "starttls_not_offered": {"failure_stage": "none", "cause": "ok"},
}


def _argv(program: str, scenario: str):
    def argv(endpoint: Endpoint, scratch: Path) -> list[str]:
        client = f"telnet {endpoint.host} {endpoint.port}" if program == "telnet" else \
            f"nc -v -C {endpoint.host} {endpoint.port}"
        typing = "; ".join(f"sleep {TYPING_DELAY}; echo {shlex.quote(text)}" for text in TYPED[scenario]) or "true"
        shell = f"$ {client}"
        # The first line is the shell command as a terminal shows it, so the log names the port.
        return ["sh", "-c", f"echo {shlex.quote(shell)}; ({typing}; sleep 1) | script -qec {shlex.quote(client)} /dev/null"]

    return argv


def runs() -> list[catalogue.Run]:
    """Return a telnet and an nc run for every scenario that plain text can reach."""
    result = []
    for scenario in TYPED:
        options = {"rate_limit": 0} if scenario == "rate_limited" else {}
        for program in ("telnet", "nc"):
            result.append(catalogue.Run("telnet", program, scenario, _argv(program, scenario),
                                        server_options=options, expected=EXPECTED.get(scenario, {})))
    return result


def _missing() -> str | None:
    missing = [name for name in ("telnet", "nc", "script") if shutil.which(name) is None]
    return f"not installed: {', '.join(missing)}; install telnet, netcat-openbsd and util-linux" if missing else None


def main(argv: list[str] | None = None) -> int:
    """Capture the selected scenarios and merge their labels into expected.jsonl."""
    return catalogue.client_main(argv, client="telnet", script=Path(__file__).resolve(),
                                 description=__doc__.splitlines()[0], scenarios=list(TYPED), runs=runs,
                                 missing=_missing, default_out=OUT)


if __name__ == "__main__":
    sys.exit(main())
