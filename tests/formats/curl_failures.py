"""Run curl against connections that fail and write its verbose output, one log per case.

Run inside a fresh network namespace (``unshare -rn``), where only loopback
exists: nothing listens on the ports used, a listener with a full accept queue
drops new connections, and no name server can be reached.

Usage: ``python curl_failures.py OUT_FOLDER``.  Writes ``<case>.log`` files and
``cases.json`` with the host and port each case's curl command used.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from probe.probe_servers import filled_listener  # noqa: E402 - tests/probe, found through the path above

UNKNOWN_NAME = "mail.example.test"  # .test names never resolve (RFC 2606)


def closed_port() -> int:
    """Return a loopback port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(out: Path, case: str, url: str, *options: str) -> None:
    """Run curl on ``url`` with ``options`` and write what it prints to stderr to ``out/<case>.log``."""
    result = subprocess.run(["curl", "--max-time", "10", *options, url], capture_output=True,
                            timeout=30, check=False)
    (out / f"{case}.log").write_bytes(result.stderr)


def main(out: Path) -> None:
    """Write one log per failing case and ``cases.json``."""
    out.mkdir(parents=True, exist_ok=True)
    # The listener first: a port picked and released before it was bound could be given to it again,
    # and the "refused" cases would then meet the full queue and time out.
    listener, fillers = filled_listener()
    dropping = listener.getsockname()[1]
    refused = closed_port()
    cases = {
        "refused": ("127.0.0.1", refused, ["--verbose"]),
        "refused_by_name": ("localhost", refused, ["--verbose"]),
        "refused_exit_only": ("localhost", refused, ["--silent", "--show-error"]),
        "timeout": ("127.0.0.1", dropping, ["--verbose", "--connect-timeout", "1"]),
        "timeout_by_name": ("localhost", dropping, ["--verbose", "--connect-timeout", "1"]),
        "unresolved": (UNKNOWN_NAME, 587, ["--verbose"]),
        "unresolved_exit_only": (UNKNOWN_NAME, 587, ["--silent", "--show-error"]),
    }
    for case, (host, port, options) in cases.items():
        run(out, case, f"smtp://{host}:{port}", *options)
    for sock in (listener, *fillers):
        sock.close()
    (out / "cases.json").write_text(json.dumps({case: [host, port] for case, (host, port, _) in cases.items()}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
