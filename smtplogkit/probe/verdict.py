"""Decisions about probe step results: causes, TLS mode choices and the verdict.

Everything here is a pure function of values the runners measured (error
numbers, OpenSSL reason names, reply lines, step lists), so it is tested on
plain values with no sockets.  The runners in this package do the I/O and ask
this module what to do next and how to describe what happened.
"""

from __future__ import annotations

import errno
import json
import math
from typing import TYPE_CHECKING

from .. import replycodes as rc
from ..labels import Cause, Stage, TlsMode
from ..rules import IMPLICIT_TLS_PORTS, Failure, classify
from ..redact import decode_base64

if TYPE_CHECKING:
    from .model import Attempt, ProbeResult, Step

TLS_CHOICES = ("auto", "implicit", "starttls", "none")
AUTH_CHOICES = ("password", "xoauth2")

# Burst mode limits.  They bound what one command can send to a server, so a
# mistyped --burst or --rate cannot turn the probe into a flood.
BURST_MAX_SESSIONS = 200
BURST_MAX_RATE_PER_MINUTE = 120.0

LAYER_NAMES: dict[Stage, str] = {
    Stage.DNS: "DNS",
    Stage.CONNECT: "TCP",
    Stage.TLS: "TLS",
    Stage.GREETING: "greeting",
    Stage.EHLO: "EHLO",
    Stage.STARTTLS: "STARTTLS",
    Stage.AUTH: "AUTH",
}
MODE_NAMES: dict[TlsMode, str] = {
    TlsMode.IMPLICIT: "implicit TLS",
    TlsMode.STARTTLS: "STARTTLS",
    TlsMode.NONE: "plain SMTP without TLS",
}

# OpenSSL reason names (ssl.SSLError.reason) that mean the peer did not answer
# with TLS at all: a ClientHello sent to a server that greets in plain text
# gets "220 ..." back, which OpenSSL 3.0 reports as WRONG_VERSION_NUMBER and
# other versions as RECORD_LAYER_FAILURE or PACKET_LENGTH_TOO_LONG.
PLAINTEXT_REPLY_REASONS = frozenset({
    "WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL",
    "HTTP_REQUEST", "UNSUPPORTED_RECORD_VERSION",
})
TLS_REASON_TEXTS: dict[str, str] = {
    "TLSV1_ALERT_PROTOCOL_VERSION": "no TLS protocol version in common with the server",
    "UNSUPPORTED_PROTOCOL": "no TLS protocol version in common with the server",
    "NO_PROTOCOLS_AVAILABLE": "no TLS protocol version in common with the server",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the server ended the handshake (no cipher or protocol in common)",
    "NO_SHARED_CIPHER": "no cipher in common with the server",
    "UNEXPECTED_EOF_WHILE_READING": "the server closed the connection during the TLS handshake",
    "DH_KEY_TOO_SMALL": "the server's Diffie-Hellman key is too small for this client",
}

# OpenSSL X509_V_ERR_* codes (ssl.SSLCertVerificationError.verify_code).
VERIFY_CODE_TEXTS: dict[int, str] = {
    9: "the certificate is not valid yet",
    10: "the certificate has expired",
    18: "the certificate is self-signed, so no trusted CA vouches for it",
    19: "the certificate chain ends in a self-signed CA that this client does not trust",
    20: "the certificate's issuer is not a CA that this client trusts",
    21: "the certificate's issuer is not a CA that this client trusts",
    62: "the certificate is not valid for the host name",
    64: "the certificate is not valid for the IP address",
}

UNREACHABLE_ERRNOS = frozenset({
    errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.ENETDOWN,
    errno.EHOSTDOWN,
})


# Capabilities -----------------------------------------------------------

def parse_capabilities(lines: list[str]) -> dict[str, list[str]]:
    """Return the EHLO keywords of a 250 reply with their parameters.

    The first line is the server's name and is skipped.  Keywords are upper
    case; ``AUTH=LOGIN`` (an old form some servers still send) counts as
    ``AUTH LOGIN``.
    """
    capabilities: dict[str, list[str]] = {}
    for line in lines[1:]:
        words = line[4:].split()
        if not words:
            continue
        keyword = words[0].upper()
        params = words[1:]
        if keyword.startswith("AUTH="):
            params = [keyword[5:], *params]
            keyword = "AUTH"
        known = capabilities.setdefault(keyword, [])
        known.extend(p.upper() if keyword == "AUTH" else p for p in params if p not in known)
    return capabilities


def describe_capabilities(capabilities: dict[str, list[str]]) -> str:
    """Return the capabilities a mail client cares about, as one short line."""
    shown = []
    for keyword in ("STARTTLS", "AUTH", "SIZE", "PIPELINING", "SMTPUTF8", "8BITMIME", "CHUNKING"):
        if keyword not in capabilities:
            continue
        params = capabilities[keyword]
        shown.append(f"{keyword} {' '.join(params)}" if params else keyword)
    return ", ".join(shown) if shown else "no extensions"


# DNS ----------------------------------------------------------------------

def dns_failure(kind: str, name: str, resolver: str, timeout: float) -> tuple[Cause, str]:
    """Return the cause and a description of a failed DNS lookup.

    ``kind`` is ``"nxdomain"``, ``"no_answer"`` (the name exists but has no
    address record), ``"servfail"``, ``"refused"``, ``"timeout"`` or
    ``"no_resolver"``.  A name with no address records is grouped with
    NXDOMAIN: in both cases the name is wrong or unpublished, not the resolver.
    """
    texts = {
        "nxdomain": (Cause.DNS_NXDOMAIN, f"{name} does not exist (NXDOMAIN from {resolver})"),
        "no_answer": (Cause.DNS_NXDOMAIN, f"{name} exists but has no A or AAAA record (answer from {resolver})"),
        "null_mx": (Cause.DNS_NXDOMAIN, f"{name} publishes a null MX (RFC 7505): it accepts no mail"),
        "servfail": (Cause.DNS_FAILURE, f"the resolver {resolver} answered SERVFAIL for {name}: it could not "
                                        "get an answer from the name's servers"),
        "refused": (Cause.DNS_FAILURE, f"the resolver {resolver} refused the query for {name}"),
        "timeout": (Cause.DNS_FAILURE, f"no answer from the resolver {resolver} within {timeout:g} s"),
        "no_resolver": (Cause.DNS_FAILURE, "no resolver is configured; pass --nameserver"),
    }
    if kind not in texts:
        return Cause.DNS_FAILURE, f"lookup of {name} failed at {resolver}: {kind}"
    return texts[kind]


# TCP ----------------------------------------------------------------------

def connect_failure(error_number: int | None, timed_out: bool, ip: str, port: int, timeout: float,
                    message: str = "") -> tuple[Cause, str]:
    """Return the cause and a description of a failed TCP connect.

    Refused (the host answered with a reset), timed out (no answer at all,
    typical of a firewall that drops packets) and unreachable (no route from
    this network) point at different fixes, so they are distinguished.
    """
    if timed_out or error_number == errno.ETIMEDOUT:
        return Cause.CONNECT_TIMEOUT, (f"no answer from {ip} port {port} within {timeout:g} s: a firewall on the "
                                       "way probably drops the packets")
    if error_number == errno.ECONNREFUSED:
        return Cause.CONNECT_REFUSED, (f"connection refused by {ip} port {port}: nothing listens there, or a "
                                       "firewall rejects the connection")
    if error_number in UNREACHABLE_ERRNOS:
        return Cause.NETWORK_UNREACHABLE, f"{ip} is unreachable from this network ({message or 'no route'})"
    if error_number == errno.ECONNRESET:
        return Cause.CONNECTION_RESET, f"the connection to {ip} port {port} was reset"
    return Cause.UNKNOWN, f"connect to {ip} port {port} failed: {message or error_number}"


def read_failure(kind: str, stage: Stage, timeout: float, text: str = "") -> tuple[Cause, str]:
    """Return the cause and a description of a reply that could not be read.

    ``kind`` is ``"timeout"``, ``"closed"`` (the server closed the
    connection), ``"reset"`` or ``"not_smtp"`` (bytes that are no SMTP reply).
    """
    what = "greeting" if stage is Stage.GREETING else f"reply to {LAYER_NAMES.get(stage, stage.value)}"
    if kind == "timeout":
        if stage is Stage.GREETING:
            return Cause.READ_TIMEOUT, f"the server accepted the connection but sent no greeting within {timeout:g} s"
        return Cause.READ_TIMEOUT, f"no {what} within {timeout:g} s"
    if kind == "closed":
        return Cause.SERVER_DISCONNECTED, f"the server closed the connection before its {what}"
    if kind == "reset":
        return Cause.CONNECTION_RESET, f"the connection was reset while waiting for the {what} ({text})"
    return Cause.UNKNOWN, f"the server sent something that is not an SMTP reply as its {what}: {text}"


# TLS ----------------------------------------------------------------------

def tls_failure(reason: str | None, verify_code: int | None, message: str, *, timed_out: bool = False,
                server_name: str = "", timeout: float = 0.0) -> tuple[Cause, str]:
    """Return the cause and a description of a failed TLS handshake.

    ``reason`` is ``ssl.SSLError.reason`` and ``verify_code`` the OpenSSL
    certificate verification error, when there was one.
    """
    if verify_code is not None:
        text = VERIFY_CODE_TEXTS.get(verify_code, f"the certificate did not validate: {message}")
        if verify_code == 62 and server_name:
            text = f"the certificate is not valid for {server_name}"
        return Cause.CERTIFICATE_INVALID, text
    if timed_out:
        return Cause.TLS_HANDSHAKE_FAILURE, f"no TLS handshake reply within {timeout:g} s"
    if reason in PLAINTEXT_REPLY_REASONS:
        return Cause.TLS_MODE_MISMATCH, "the server answered the TLS handshake in plain text"
    if reason in TLS_REASON_TEXTS:
        return Cause.TLS_HANDSHAKE_FAILURE, TLS_REASON_TEXTS[reason]
    return Cause.TLS_HANDSHAKE_FAILURE, f"TLS handshake failed: {message or reason}"


def describe_invalid_certificate(detail: str, certificate: dict) -> str:
    """Return a failed validation's description with what the certificate itself shows."""
    shown = []
    if certificate.get("san"):
        shown.append(f"it names {', '.join(certificate['san'][:4])}")
    if certificate.get("issuer"):
        shown.append("it is self-signed" if certificate.get("self_signed") else f"issuer {certificate['issuer']}")
    if certificate.get("not_after"):
        shown.append(f"valid until {certificate['not_after']}")
    return f"{detail} ({'; '.join(shown)})" if shown else detail


def certificate_warnings(facts: dict, now_timestamp: float, warn_days: int = 14) -> list[str]:
    """Return warnings about a certificate that validated but will expire soon."""
    expires = facts.get("not_after_ts")
    if expires is None:
        return []
    days = (expires - now_timestamp) / 86400
    if days < warn_days:
        return [f"the server certificate expires in {math.floor(days)} days ({facts.get('not_after')})"]
    return []


# TLS mode decisions -------------------------------------------------------

def conventional_mode(port: int) -> TlsMode | None:
    """Return the TLS mode a port is registered for, or ``None`` for other ports.

    Port 465 is implicit TLS (RFC 8314); 25 and 587 start in plain text and
    upgrade with STARTTLS (RFC 3207, RFC 6409).
    """
    if port in IMPLICIT_TLS_PORTS:
        return TlsMode.IMPLICIT
    if port in (25, 587):
        return TlsMode.STARTTLS
    return None


def first_mode(requested: str, port: int) -> TlsMode:
    """Return the TLS mode of the first attempt.

    ``auto`` tries what the port is registered for, and plain text with
    STARTTLS on ports with no registered mode.
    """
    if requested == "auto":
        return conventional_mode(port) or TlsMode.STARTTLS
    return TlsMode(requested)


def other_mode(mode: TlsMode) -> TlsMode:
    """Return the TLS mode to check when ``mode`` looks wrong for the port."""
    return TlsMode.STARTTLS if mode is TlsMode.IMPLICIT else TlsMode.IMPLICIT


def points_to_other_mode(attempt: Attempt) -> bool:
    """Return whether an attempt failed in a way a wrong TLS mode explains.

    A ClientHello answered in plain text means the port greets in plain text.
    A connection closed during the handshake may be a plain-text server that
    delays its greeting and hangs up on the unexpected bytes.  A plain client
    that gets no greeting, or is dropped before one, may be talking to an
    implicit-TLS port, which waits for a ClientHello.
    """
    failure = attempt.failure
    if failure is None:
        return False
    if attempt.tls_mode is TlsMode.IMPLICIT:
        closed = failure.facts.get("ssl_reason") == "UNEXPECTED_EOF_WHILE_READING"
        return failure.stage is Stage.TLS and (failure.cause is Cause.TLS_MODE_MISMATCH or closed)
    return failure.stage is Stage.GREETING and failure.reply_code is None and failure.cause in (
        Cause.READ_TIMEOUT, Cause.SERVER_DISCONNECTED, Cause.CONNECTION_RESET, Cause.UNKNOWN)


def mode_check_confirms(check: Attempt) -> bool:
    """Return whether an attempt in the other mode got past TLS and the greeting."""
    greeting = check.step(Stage.GREETING)
    if greeting is None or not greeting.ok:
        return False
    if check.tls_mode is TlsMode.IMPLICIT:
        tls = check.step(Stage.TLS)
        return tls is not None and (tls.ok or tls.cause is Cause.CERTIFICATE_INVALID)
    return True


def spoken_mode(attempt: Attempt) -> TlsMode | None:
    """Return the TLS mode an attempt showed the port to speak, if it got that far."""
    if attempt.tls_mode is TlsMode.IMPLICIT:
        tls = attempt.step(Stage.TLS)
        if tls is not None and (tls.ok or tls.cause is Cause.CERTIFICATE_INVALID):
            return TlsMode.IMPLICIT
        return None
    greeting = attempt.step(Stage.GREETING)
    if greeting is None or greeting.reply_code is None:
        return None
    for step in attempt.steps:
        if step.stage is Stage.EHLO and step.ok:
            return TlsMode.STARTTLS if "STARTTLS" in step.facts.get("capabilities", {}) else TlsMode.NONE
    return None


def mode_advice(mode: TlsMode, port: int) -> str:
    """Return the advice for a client configured in the wrong TLS mode."""
    return f"the server speaks {MODE_NAMES[mode]} on {port}, use {mode.value}"


def failed_check_note(check: Attempt) -> str:
    """Return a note that the attempt in the other TLS mode failed as well, and how."""
    failure = check.failure
    where = LAYER_NAMES.get(failure.stage, failure.stage.value) if failure else "?"
    reason = failure.detail if failure else "no result"
    return f"an attempt with {MODE_NAMES[check.tls_mode]} failed too, at {where}: {reason}"


def mode_warnings(detected: TlsMode | None, port: int, requested: str) -> list[str]:
    """Return warnings about the TLS mode a port speaks.

    A port that speaks something other than its registered mode trips up
    clients that choose the mode from the port number, and a port with no
    TLS at all sends mail and passwords in clear text.
    """
    warnings = []
    expected = conventional_mode(port)
    if detected is not None and expected is not None and detected is not expected and detected is not TlsMode.NONE:
        warnings.append(f"port {port} is registered for {MODE_NAMES[expected]}, but this server speaks "
                        f"{MODE_NAMES[detected]} there; clients that pick the mode from the port number will fail")
    if detected is TlsMode.NONE:
        warnings.append(f"the server offers no STARTTLS on port {port}: mail and credentials would travel "
                        "unencrypted")
    if requested == "none" and detected is TlsMode.STARTTLS:
        warnings.append("the server offers STARTTLS, but --tls none kept the connection unencrypted")
    return warnings


# AUTH ---------------------------------------------------------------------

def auth_block_reason(encrypted: bool, allow_plaintext: bool) -> str | None:
    """Return why credentials must not be sent, or ``None`` when sending them is allowed.

    Credentials go only over an encrypted connection whose certificate
    validated (the attempt ends at TLS when it does not), unless the user
    allows plain text explicitly.
    """
    if encrypted or allow_plaintext:
        return None
    return ("credentials not sent: the connection is not encrypted; use TLS, or pass --allow-plaintext-auth "
            "to send them in clear text")


def choose_mechanism(kind: str, offered: list[str]) -> str | None:
    """Return the AUTH mechanism to use for ``kind``, or ``None`` when the server offers none that fits.

    Passwords use PLAIN, which sends one line, and fall back to LOGIN.
    """
    usable = ("PLAIN", "LOGIN") if kind == "password" else ("XOAUTH2",)
    for mechanism in usable:
        if mechanism in offered:
            return mechanism
    return None


def oauth_error(challenge: str) -> str | None:
    """Return the JSON error a server sent in a 334 reply to XOAUTH2, decoded, or ``None``."""
    payload = challenge[4:].strip() if challenge.startswith("334") else ""
    raw = decode_base64(payload) if payload else None
    if not raw:
        return None
    try:
        document = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return None
    return json.dumps(document, sort_keys=True) if isinstance(document, dict) else None


def reply_failure(stage: Stage, reply_lines: list[str], *, mechanism: str | None = None,
                  context: str = "", port: int | None = None) -> Cause:
    """Return the cause of a failing SMTP reply, using the shared rule tables."""
    text = " ".join(reply_lines)
    parts = rc.split_reply(reply_lines[-1]) if reply_lines else None
    code = parts[0] if parts else None
    failure = Failure(stage=stage, text=text, code=code, enhanced=rc.find_enhanced(text), context=context,
                      connected=True, port=port, mechanism=mechanism)
    return classify(failure)[1]


# Burst --------------------------------------------------------------------

def check_burst(sessions: int, rate_per_minute: float, confirmed: bool) -> None:
    """Raise ``ValueError`` unless a burst is within the hard limits and confirmed."""
    if not confirmed:
        raise ValueError("--burst opens many sessions to one server; pass --i-own-this-server to confirm that "
                         "the server is yours")
    if not 1 <= sessions <= BURST_MAX_SESSIONS:
        raise ValueError(f"--burst must be between 1 and {BURST_MAX_SESSIONS} sessions, got {sessions}")
    if not 0 < rate_per_minute <= BURST_MAX_RATE_PER_MINUTE:
        raise ValueError(f"--rate must be above 0 and at most {BURST_MAX_RATE_PER_MINUTE:g} sessions per "
                         f"minute, got {rate_per_minute:g}")


def burst_offsets(sessions: int, rate_per_minute: float) -> list[float]:
    """Return the start time of each burst session, in seconds from the first."""
    interval = 60.0 / rate_per_minute
    return [index * interval for index in range(sessions)]


def throttle_onset(attempts: list[Attempt]) -> str:
    """Return where throttling started in a burst, or that it did not."""
    for index, attempt in enumerate(attempts, 1):
        failure = attempt.failure
        if failure is None:
            continue
        return (f"session {index} of {len(attempts)} failed first, at {LAYER_NAMES.get(failure.stage, failure.stage.value)}"
                f": {failure.detail} ({(failure.cause or Cause.UNKNOWN).value}); {index - 1} sessions before it "
                "succeeded")
    return f"all {len(attempts)} sessions succeeded: no throttling at this rate"


# Verdict ------------------------------------------------------------------

def step_summary(step: Step, explanation: str | None = None) -> str:
    """Return ``"TLS ok"`` or ``"TLS failed: <why>"`` for one step."""
    name = LAYER_NAMES.get(step.stage, step.stage.value)
    if step.stage is Stage.EHLO and step.facts.get("after_starttls"):
        name = "EHLO after STARTTLS"
    if step.ok:
        return f"{name} ok"
    if step.status == "skipped":
        return f"{name} skipped: {step.detail}"
    return f"{name} failed: {explanation or step.detail}"


def attempt_summary(attempt: Attempt) -> str:
    """Return the layered summary of one attempt, from TCP to its first failed step."""
    parts = []
    for step in attempt.steps:
        parts.append(step_summary(step))
        if step.failed:
            break
    return ", ".join(parts)


def chosen_attempts(result: ProbeResult) -> list[Attempt]:
    """Return the attempts that decide a probe's outcome.

    With an explicit TLS mode these are the attempts in that mode, since a
    mode check only explains their failure.  With ``auto``, each address is
    judged by its mode check when the check confirmed the other mode.  In a
    burst, every session counts.
    """
    burst = [a for a in result.attempts if a.burst_index is not None]
    if burst:
        return burst
    if result.tls != "auto":
        return [a for a in result.attempts if not a.mode_check]
    chosen: dict[str, Attempt] = {}
    for attempt in result.attempts:
        known = chosen.get(attempt.ip)
        if known is None or (attempt.mode_check and mode_check_confirms(attempt)):
            chosen[attempt.ip] = attempt
    return list(chosen.values())


def layered_verdict(result: ProbeResult) -> str:
    """Return the verdict of a probe: the layers that worked, then the first that failed.

    Attempts to different addresses that ended the same way share one line;
    when they differ, each line starts with its address.
    """
    prefix = f"{step_summary(result.dns)}, " if result.dns is not None else ""
    if result.dns is not None and result.dns.failed:
        return step_summary(result.dns)
    main = chosen_attempts(result)
    if not main:
        return prefix + "no address to connect to"
    lines: dict[str, list[str]] = {}
    for attempt in main:
        summary = attempt_summary(attempt)
        spoken = spoken_mode(attempt)
        if attempt.ok and spoken is not None and result.tls == "auto":
            summary += f" ({MODE_NAMES[spoken]})"
        lines.setdefault(summary, []).append(attempt.ip)
    if len(lines) == 1:
        return prefix + next(iter(lines))
    return "\n".join(f"{', '.join(ips)}: {prefix}{summary}" for summary, ips in lines.items())
