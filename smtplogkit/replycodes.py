"""SMTP reply codes (RFC 5321) and enhanced status codes (RFC 3463, IANA).

This module is the one place that knows what a number means.  Code elsewhere
compares against the names below, never against bare numbers.
"""

from __future__ import annotations

import re

# RFC 5321 section 4.2.2 and 4.2.3, with the extensions' codes in common use.
SERVICE_READY = 220  # greeting, and the reply to STARTTLS
CLOSING = 221  # reply to QUIT
AUTH_SUCCEEDED = 235  # RFC 4954
OK = 250
WILL_FORWARD = 251
CANNOT_VERIFY = 252
AUTH_CHALLENGE = 334  # RFC 4954: server challenge, base64 text
START_MAIL_INPUT = 354  # reply to DATA
SERVICE_UNAVAILABLE = 421  # the server is closing the channel
PASSWORD_TRANSITION = 432  # RFC 4954
MAILBOX_BUSY = 450
LOCAL_ERROR = 451
INSUFFICIENT_STORAGE = 452
TEMP_AUTH_FAILURE = 454  # RFC 4954; also "TLS not available" (RFC 3207)
SYNTAX_ERROR = 500
PARAMETER_ERROR = 501
NOT_IMPLEMENTED = 502
BAD_SEQUENCE = 503
PARAMETER_NOT_IMPLEMENTED = 504
AUTH_REQUIRED = 530  # RFC 4954; also "must issue STARTTLS first"
AUTH_TOO_WEAK = 534  # RFC 4954; Gmail sends 534 5.7.9 and 5.7.14 with it
AUTH_INVALID = 535  # RFC 4954
ENCRYPTION_REQUIRED = 538  # RFC 4954
MAILBOX_UNAVAILABLE = 550
USER_NOT_LOCAL = 551
EXCEEDED_STORAGE = 552
MAILBOX_NAME_INVALID = 553
TRANSACTION_FAILED = 554

ENHANCED_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
# A reply's second digit is its category, 0 to 5 (RFC 5321 section 4.2.1).  "292 delivering ..." is an
# Exim debug line of process 292, not a reply.
REPLY_RE = re.compile(r"^([2-5][0-5]\d)(?:([ -])(.*))?$")

# Subjects and details from RFC 3463 and the IANA "Enumerated Status Codes"
# registry; only the ones mail operators meet often.
ENHANCED_MEANINGS: dict[str, str] = {
    "X.1.0": "other address status",
    "X.1.1": "bad destination mailbox address",
    "X.1.2": "bad destination system address",
    "X.1.3": "bad destination mailbox address syntax",
    "X.1.6": "destination mailbox has moved",
    "X.1.7": "bad sender's mailbox address syntax",
    "X.1.8": "bad sender's system address",
    "X.1.10": "recipient address has null MX",
    "X.2.0": "other mailbox status",
    "X.2.1": "mailbox disabled",
    "X.2.2": "mailbox full",
    "X.2.3": "message length exceeds administrative limit",
    "X.3.0": "other mail system status",
    "X.3.1": "mail system full",
    "X.3.2": "system not accepting network messages",
    "X.3.4": "message too big for system",
    "X.4.0": "other network or routing status",
    "X.4.1": "no answer from host",
    "X.4.2": "bad connection",
    "X.4.3": "directory server failure",
    "X.4.4": "unable to route",
    "X.4.5": "mail system congestion",
    "X.4.7": "delivery time expired",
    "X.5.0": "other protocol status",
    "X.5.1": "invalid command",
    "X.5.2": "syntax error",
    "X.5.3": "too many recipients",
    "X.5.4": "invalid command arguments",
    "X.6.0": "other media error",
    "X.7.0": "other security or policy status",
    "X.7.1": "delivery not authorized, message refused",
    "X.7.8": "authentication credentials invalid",
    "X.7.9": "authentication mechanism is too weak",
    "X.7.10": "encryption needed",
    "X.7.11": "encryption required for requested authentication mechanism",
    "X.7.12": "a password transition is needed",
    "X.7.13": "user account disabled",
    "X.7.14": "trust relationship required",
    "X.7.23": "SPF validation error",
    "X.7.25": "reverse DNS validation failed",
    "X.7.26": "multiple authentication checks failed",
    "X.7.27": "sender address has null MX",
}


def reply_class(code: int | None) -> str | None:
    """Return ``"positive"``, ``"intermediate"``, ``"transient"`` or ``"permanent"``.

    The first digit decides (RFC 5321 section 4.2.1); ``None`` for no code.
    """
    if code is None:
        return None
    return {2: "positive", 3: "intermediate", 4: "transient", 5: "permanent"}.get(code // 100)


def is_failure(code: int | None) -> bool:
    """Return whether a reply code reports a failure (4xx or 5xx)."""
    return code is not None and code >= 400


def find_enhanced(text: str) -> str | None:
    """Return the first enhanced status code ``"c.s.d"`` in ``text``, or ``None``."""
    match = ENHANCED_RE.search(text)
    return ".".join(match.groups()) if match else None


def enhanced_meaning(enhanced: str | None) -> str | None:
    """Return the registry's description of an enhanced code's subject and detail."""
    if not enhanced:
        return None
    _, subject, detail = enhanced.split(".")
    return ENHANCED_MEANINGS.get(f"X.{subject}.{detail}")


def split_reply(text: str) -> tuple[int, bool, str] | None:
    """Split one reply line into (code, is_last_line, rest), or ``None``.

    A hyphen after the code marks a continuation line (RFC 5321 section 4.2.1).
    """
    match = REPLY_RE.match(text)
    if not match:
        return None
    return int(match.group(1)), match.group(2) != "-", match.group(3) or ""
