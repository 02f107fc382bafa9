"""Reading Python tracebacks: which SMTP step raised, and with what reply.

smtplib, aiosmtplib and Django all surface failures as exceptions, and users
paste the traceback.  The frames tell the step (``create_connection`` is the
TCP connect, ``getreply`` under ``connect`` is the greeting, ``login`` is
AUTH), and the exception's arguments carry the server's reply.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from ..labels import Stage

FRAME_RE = re.compile(r'^\s*File "([^"]+)", line \d+, in (\S+)')
EXCEPTION_RE = re.compile(
    r"^(?:[\w.]+\.)?(\w*(?:Error|Exception|Refused|Disconnected|Timeout|gaierror|herror|timeout|Exit))(?:: ?(.*))?$"
)
TRACEBACK_NOISE = (
    "Traceback (most recent call last):",
    "During handling of the above exception",
    "The above exception was the direct cause",
)
REPLY_TUPLE_RE = re.compile(r"\(\s*(\d{3}),\s*b?(['\"])(.*?)\2")

# Frame function names, innermost wins.
FRAME_STAGES: dict[str, Stage] = {
    "getaddrinfo": Stage.DNS,
    "create_connection": Stage.CONNECT,
    "_get_socket": Stage.CONNECT,
    "_create_connection": Stage.CONNECT,
    "connect": Stage.GREETING,
    # Reading a reply; alone (the inner part of a chained traceback) it is the
    # greeting, under ehlo, mail, rcpt... the outer frame names the step.
    "getreply": Stage.GREETING,
    "_connect": Stage.GREETING,
    "ehlo": Stage.EHLO,
    "helo": Stage.EHLO,
    "ehlo_or_helo_if_needed": Stage.EHLO,
    "_ehlo_or_helo_if_needed": Stage.EHLO,
    "starttls": Stage.STARTTLS,
    "wrap_socket": Stage.TLS,
    "do_handshake": Stage.TLS,
    "_create_connection_transport": Stage.TLS,
    "feed_ssldata": Stage.TLS,
    "login": Stage.AUTH,
    "auth": Stage.AUTH,
    "mail": Stage.MAIL_FROM,
    "rcpt": Stage.RCPT_TO,
    "data": Stage.DATA,
    "quit": Stage.QUIT,
}

# Exception classes that name the step themselves.
EXCEPTION_STAGES: dict[str, Stage] = {
    "SMTPAuthenticationError": Stage.AUTH,
    "SMTPSenderRefused": Stage.MAIL_FROM,
    "SMTPRecipientsRefused": Stage.RCPT_TO,
    "SMTPRecipientRefused": Stage.RCPT_TO,
    "SMTPDataError": Stage.DATA,
    "SMTPHeloError": Stage.EHLO,
    "SMTPConnectError": Stage.GREETING,
    "gaierror": Stage.DNS,
    "herror": Stage.DNS,
    "ConnectionRefusedError": Stage.CONNECT,
    "SSLError": Stage.TLS,
    "SSLCertVerificationError": Stage.TLS,
    "SSLZeroReturnError": Stage.TLS,
    "SMTPConnectTimeoutError": Stage.CONNECT,
    "SMTPReadTimeoutError": Stage.GREETING,
}


def is_traceback_noise(text: str) -> bool:
    """Return whether a line is traceback scaffolding (header, frame or source line)."""
    stripped = text.strip()
    return stripped.startswith(TRACEBACK_NOISE) or FRAME_RE.match(text) is not None or stripped.startswith("raise ")


def frame_stage(functions: list[str]) -> Stage | None:
    """Return the step named by the innermost frame that names one."""
    stage = None
    for name in functions:
        if name in FRAME_STAGES:
            candidate = FRAME_STAGES[name]
            if candidate is Stage.GREETING and stage is not None and stage is not Stage.GREETING:
                continue  # "connect" is an outer frame around a deeper step
            stage = candidate
    return stage


RAISE_RE = re.compile(r"^\s*raise (\w+)\((.*)\)\s*$")


def raise_to_exception(text: str) -> str | None:
    """Turn a ``raise Name("message")`` source line into ``Name: message``.

    Pasted tracebacks are often cut before the exception line; the last
    ``raise`` shown is then the best evidence of what was raised.
    """
    match = RAISE_RE.match(text)
    if not match:
        return None
    return f"{match.group(1)}: {match.group(2).strip().strip(chr(34) + chr(39))}"


def parse_exception(text: str) -> dict[str, Any] | None:
    """Read a final traceback line such as ``smtplib.SMTPAuthenticationError: (535, b'...')``.

    Returns ``{"name", "message", "code", "reply", "stage"}`` or ``None`` when
    the line is not an exception.  ``reply`` is the server's text with the
    bytes-literal quoting removed.
    """
    match = EXCEPTION_RE.match(text.strip())
    if not match:
        return None
    name, message = match.group(1), (match.group(2) or "").strip()
    result: dict[str, Any] = {"name": name, "message": message, "code": None, "reply": None,
                              "stage": EXCEPTION_STAGES.get(name)}
    reply = REPLY_TUPLE_RE.search(message)
    if reply:
        result["code"] = int(reply.group(1))
        result["reply"] = _unquote(reply.group(3))
    return result


def _unquote(text: str) -> str:
    try:
        value = ast.literal_eval(f"'{text}'")
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text
