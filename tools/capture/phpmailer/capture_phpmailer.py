"""Capture real PHPMailer SMTPDebug output against the faulty-server catalogue.

Each run starts a scenario's server from ``tools/capture/servers.py`` and
runs ``send.php`` (PHPMailer 6.6 from Debian's ``libphp-phpmailer``) with
``SMTPDebug`` at level 3, or 4 for a few scenarios, configured the way an
application meets that server.  The test CA is passed as the ``cafile``
stream option, except for the untrusted-certificate scenario.  The log goes
to ``tests/captures/phpmailer/<scenario>.<mode>.log`` through
``tools/capture/capture.py``'s ``capture`` function, with the scenario's
labels in ``expected.jsonl``.  The script re-runs itself in a private network
namespace (``unshare -rn``), so the servers can take ports 465 and 587.

Usage (needs ``php-cli`` and ``libphp-phpmailer``)::

    .venv/bin/python tools/capture/phpmailer/capture_phpmailer.py [--out tests/captures] [scenario ...]

XOAUTH2 is left out: PHPMailer needs an OAuth provider library for it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import capture as catalogue  # noqa: E402 - tools/capture/capture.py, found through the path above
from servers import FAKE_PASSWORD, FAKE_USER, Endpoint  # noqa: E402

OUT = HERE.parents[2] / "tests" / "captures"
AUTOLOAD = Path("/usr/share/php/libphp-phpmailer/autoload.php")

# Per scenario: (connection mode, authenticate, trust the test CA, SMTPDebug level).
PLAN: dict[str, tuple[str, bool, bool, int]] = {
    "success": ("starttls", True, True, 4),
    "success_implicit": ("implicit", True, True, 3),
    "connect_refused": ("starttls", True, True, 3),
    "implicit_port_plain_client": ("starttls", True, True, 3),
    "plain_port_implicit_client": ("implicit", True, True, 3),
    "untrusted_cert": ("starttls", True, False, 3),
    "wrong_host_cert": ("starttls", True, True, 3),
    "starttls_not_offered": ("starttls", True, True, 3),
    "starttls_required": ("plain", False, True, 3),
    "auth_535": ("starttls", True, True, 4),
    "auth_534": ("starttls", True, True, 3),
    "rate_limited": ("starttls", True, True, 3),
    "greylisted": ("starttls", True, True, 3),
    "unknown_recipient": ("starttls", True, True, 3),
    "relay_denied": ("starttls", True, True, 3),
    "no_greeting": ("starttls", True, True, 4),
    "close_after_connect": ("starttls", True, True, 4),
}
# Labels where PHPMailer ends differently from the scenario's own.  With SMTPSecure
# "tls" it sends STARTTLS even when not offered, and aiosmtpd replies 454.
EXPECTED: dict[str, dict[str, Any]] = {"starttls_not_offered": {"reply_code": 454}}


def _argv(scenario: str):
    mode, login, trust, level = PLAN[scenario]

    def argv(endpoint: Endpoint, scratch: Path) -> list[str]:
        return ["php", str(HERE / "send.php"), endpoint.host, str(endpoint.port), mode,
                "login" if login else "none", FAKE_USER, FAKE_PASSWORD, str(endpoint.ca_file) if trust else "-",
                str(level)]

    return argv


def runs() -> list[catalogue.Run]:
    """Return one PHPMailer run per scenario."""
    return [catalogue.Run("phpmailer", f"debug{PLAN[s][3]}", s, _argv(s), expected=EXPECTED.get(s, {}))
            for s in PLAN]


def _missing() -> str | None:
    if shutil.which("php") is None or not AUTOLOAD.exists():
        return "not installed: php-cli or libphp-phpmailer"
    return None


def main(argv: list[str] | None = None) -> int:
    """Capture the selected scenarios and merge their labels into expected.jsonl."""
    return catalogue.client_main(argv, client="phpmailer", script=Path(__file__).resolve(),
                                 description=__doc__.splitlines()[0], scenarios=list(PLAN), runs=runs,
                                 missing=_missing, default_out=OUT)


if __name__ == "__main__":
    sys.exit(main())
