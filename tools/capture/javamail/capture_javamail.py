"""Capture real Jakarta Mail debug output against the faulty-server catalogue.

Each run starts a scenario's server from ``tools/capture/servers.py`` and
runs ``Send.java`` (Jakarta Mail 2.0 from Debian's ``libjakarta-mail-java``,
with ``session.setDebug(true)``) configured the way an application meets
that server.  The CA of the test certificates goes into a PKCS#12 trust
store for the JVM, except for the untrusted-certificate scenario.  The log
goes to ``tests/captures/javamail/<scenario>.<mode>.log`` through
``tools/capture/capture.py``'s ``capture`` function, with the scenario's
labels in ``expected.jsonl``.  The script re-runs itself in a private network
namespace (``unshare -rn``), so the servers can take ports 465 and 587.

Usage (needs a JDK 11 or newer and ``libjakarta-mail-java``)::

    .venv/bin/python tools/capture/javamail/capture_javamail.py [--out tests/captures] [scenario ...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import capture as catalogue  # noqa: E402 - tools/capture/capture.py, found through the path above
from servers import FAKE_PASSWORD, FAKE_USER, Endpoint  # noqa: E402

OUT = HERE.parents[2] / "tests" / "captures"
JARS = [Path("/usr/share/java/jakarta-mail.jar"), Path("/usr/share/java/jakarta-activation.jar")]
STORE_PASSWORD = "changeit"  # the trust store holds only the test CA's public certificate

# Per scenario: (connection mode, authenticate, trust the test CA).
PLAN: dict[str, tuple[str, bool, bool]] = {
    "success": ("starttls", True, True),
    "success_implicit": ("implicit", True, True),
    "connect_refused": ("starttls", True, True),
    "implicit_port_plain_client": ("starttls", True, True),
    "plain_port_implicit_client": ("implicit", True, True),
    "untrusted_cert": ("starttls", True, False),
    "wrong_host_cert": ("starttls", True, True),
    "starttls_not_offered": ("starttls", True, True),
    "starttls_required": ("plain", False, True),
    "auth_535": ("starttls", True, True),
    "auth_534": ("starttls", True, True),
    "rate_limited": ("starttls", True, True),
    "greylisted": ("starttls", True, True),
    "unknown_recipient": ("starttls", True, True),
    "relay_denied": ("starttls", True, True),
    "no_greeting": ("starttls", True, True),
    "close_after_connect": ("starttls", True, True),
}
# Labels where Jakarta Mail ends differently from the scenario's own.  Jakarta
# Mail 2.0 checks the certificate chain but not the host name unless
# mail.smtp.ssl.checkserveridentity is set (it is left at its default here).
EXPECTED: dict[str, dict[str, Any]] = {"wrong_host_cert": {"failure_stage": "none", "cause": "ok"}}


def _trust_store(endpoint: Endpoint, scratch: Path) -> Path:
    store = scratch / "trust.p12"
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "capture-ca", "-file", str(endpoint.ca_file),
                    "-keystore", str(store), "-storetype", "PKCS12", "-storepass", STORE_PASSWORD],
                   check=True, capture_output=True)
    return store


def _argv(scenario: str):
    mode, login, trust = PLAN[scenario]

    def argv(endpoint: Endpoint, scratch: Path) -> list[str]:
        command = ["java", "-cp", ":".join(str(jar) for jar in JARS)]
        if trust:
            command += [f"-Djavax.net.ssl.trustStore={_trust_store(endpoint, scratch)}",
                        f"-Djavax.net.ssl.trustStorePassword={STORE_PASSWORD}"]
        command += [str(HERE / "Send.java"), endpoint.host, str(endpoint.port), mode,
                    "login" if login else "none", FAKE_USER, FAKE_PASSWORD]
        return command

    return argv


def runs() -> list[catalogue.Run]:
    """Return one Jakarta Mail run per scenario."""
    return [catalogue.Run("javamail", PLAN[s][0], s, _argv(s), expected=EXPECTED.get(s, {})) for s in PLAN]


def _missing() -> str | None:
    missing = [str(jar) for jar in JARS if not jar.exists()] + [p for p in ("java", "keytool") if not shutil.which(p)]
    return f"not installed: {', '.join(missing)}; install a JDK and libjakarta-mail-java" if missing else None


def main(argv: list[str] | None = None) -> int:
    """Capture the selected scenarios and merge their labels into expected.jsonl."""
    return catalogue.client_main(argv, client="javamail", script=Path(__file__).resolve(),
                                 description=__doc__.splitlines()[0], scenarios=list(PLAN), runs=runs,
                                 missing=_missing, default_out=OUT)


if __name__ == "__main__":
    sys.exit(main())
