"""Removal of credentials from log text.

Every parser passes client lines through :func:`redact_command` and free text
through :func:`redact_text` before the text reaches an event.  What is removed:
AUTH PLAIN and LOGIN payloads, XOAUTH2 and OAUTHBEARER initial responses and
bearer tokens, the base64 lines a client sends in response to a 334 challenge,
and passwords in URLs (``smtp://user:secret@host``) or ``password=`` fields.
Free text loses an AUTH payload wherever the command appears in the line,
and any base64 run that decodes to a PLAIN or XOAUTH2 credential.
"""

from __future__ import annotations

import base64
import binascii
import re

REDACTED = "<redacted>"

AUTH_RE = re.compile(r"^(\s*AUTH\s+)([A-Za-z0-9_-]+)(\s+)(\S+)(.*)$", re.IGNORECASE)
URL_PASSWORD_RE = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)", re.IGNORECASE)
# The value runs to a quote, comma, space or brace.  An "&" ends it only when
# the next query parameter ("&user=...") follows, because passwords may hold "&".
FIELD_SECRET_RE = re.compile(
    r"((?:pass(?:word|wd)?|pwd|secret|token|access_token|refresh_token|client_secret|api_?key)\s*[=:]\s*['\"]?)"
    r"([^'\",\s}&]+(?:&(?![A-Za-z_][\w.-]*=)[^'\",\s}&]*)*)",
    re.IGNORECASE,
)
BEARER_RE = re.compile(r"(\bBearer\s+)([A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
# A Google access token on its own, e.g. pasted into an error message.
GOOGLE_TOKEN_RE = re.compile(r"\bya29\.[A-Za-z0-9._-]+")
# An AUTH command anywhere in a line (a wrapper's prefix or damaged bytes
# before it), with its initial response.  A second mechanism name makes a
# capability list ("250-AUTH PLAIN LOGIN"), and a word in one case is prose
# ("AUTH LOGIN failed").  A payload has a digit, a base64 sign or both cases.
AUTH_ANYWHERE_RE = re.compile(r"(\bAUTH\s+[A-Za-z0-9_-]+\s+)([A-Za-z0-9+/=._~-]{4,})", re.IGNORECASE)
MECHANISMS = frozenset({"PLAIN", "LOGIN", "XOAUTH", "XOAUTH2", "OAUTHBEARER", "CRAM-MD5", "DIGEST-MD5", "GSSAPI",
                        "NTLM", "ANONYMOUS", "EXTERNAL", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS",
                        "SCRAM-SHA-256-PLUS"})
# A run of base64 long enough to carry a SASL credential.  _sasl_payload decodes it to check.
BASE64_RUN_RE = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
# A command line pasted into a log: curl's "--user name:secret" (also -u, --user=, -uname:secret,
# and --proxy-user / -U), and the secret after swaks's --auth-password (-ap) or curl's --oauth2-bearer.
CLI_USER_RE = re.compile(r"((?:^|\s)(?:--user|--proxy-user|-u|-U)(?:\s+|=)?['\"]?[^:'\"\s]*:)([^'\"\s]+)")
CLI_SECRET_RE = re.compile(r"((?:^|\s)(?:--auth-password|-ap|--password|--oauth2-bearer)(?:\s+|=)['\"]?)([^'\"\s]+)")
# Every pattern above needs one of these words, so a line without any is safe
# as it is.  One search here saves three substitutions on most lines.
SECRET_HINT_RE = re.compile(r"://|pass|pwd|secret|token|api_?key|bearer|ya29\.|auth|-u|-ap", re.IGNORECASE)
BASE64_LINE_RE = re.compile(r"^[A-Za-z0-9+/]{4,}={0,2}$")
# Nodemailer's logger prints this in place of the password or token inside an
# AUTH payload: the client did send a credential, it is only hidden.
CLIENT_MASKS = ("/* secret */",)


def decode_base64(payload: str) -> bytes | None:
    """Return the bytes of a base64 payload, or ``None`` when it is not base64."""
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def may_hold_secret(text: str) -> bool:
    """Return whether ``text`` contains one of the words that every secret pattern needs (SECRET_HINT_RE).

    For ASCII text, substring tests on the lower-cased text give the same
    result as the case-insensitive search, several times faster.  Outside
    ASCII, a few letters (the long s, the Kelvin sign) match ASCII ones
    case-insensitively, so such text goes to the search.
    """
    if not text.isascii():
        return SECRET_HINT_RE.search(text) is not None
    lowered = text.lower()
    return ("pass" in lowered or "pwd" in lowered or "secret" in lowered or "token" in lowered
            or "://" in lowered or "bearer" in lowered or "apikey" in lowered or "api_key" in lowered
            or "ya29." in lowered or "auth" in lowered or "-u" in lowered or "-ap" in lowered)


def redact_text(text: str) -> str:
    """Return ``text`` with AUTH payloads, SASL credentials in base64, URL passwords, secret fields, bearer tokens and command-line credentials replaced."""
    if BASE64_RUN_RE.search(text) is not None:
        text = BASE64_RUN_RE.sub(_sasl_payload, text)
    if not may_hold_secret(text):
        return text
    if "://" in text:
        text = URL_PASSWORD_RE.sub(rf"\1{REDACTED}\3", text)
    if "auth" in text.lower():
        text = AUTH_ANYWHERE_RE.sub(_auth_payload, text)
    text = FIELD_SECRET_RE.sub(rf"\1{REDACTED}", text)
    text = BEARER_RE.sub(rf"\1{REDACTED}", text)
    if "-u" in text or "-U" in text or "-ap" in text or "--" in text:
        text = CLI_USER_RE.sub(rf"\1{REDACTED}", text)
        text = CLI_SECRET_RE.sub(rf"\1{REDACTED}", text)
    return GOOGLE_TOKEN_RE.sub(REDACTED, text)


# A run of one unreadable character: U+FFFD (a NUL byte or an invalid byte, as the reader decodes them) or a control.
_UNREADABLE_RUN_RE = re.compile(r"([\ufffd\x00-\x08\x0b-\x1f\x7f])\1{3,}")


def excerpt(text: str, limit: int = 120) -> str:
    """Return the start of a line for a warning: redacted, each run of 4 or more unreadable characters shortened.

    A run such as 4,096 U+FFFD (the NUL bytes a crash leaves in a log)
    becomes ``[4096 x U+FFFD]``, so the readable text after it still shows
    within ``limit`` characters.
    """
    text = redact_text(text)
    if len(text) > 3 and _UNREADABLE_RUN_RE.search(text) is not None:
        text = _UNREADABLE_RUN_RE.sub(lambda m: f"[{len(m.group(0))} x U+{ord(m.group(1)):04X}]", text)
    return text[:limit]


def _payload_like(word: str) -> bool:
    """Return whether a word after ``AUTH <mechanism>`` looks like a base64 payload rather than prose."""
    if word.upper() in MECHANISMS:
        return False
    if word == "=" or any(char.isdigit() or char in "+/=" for char in word):
        return True
    return any(char.isupper() for char in word) and any(char.islower() for char in word)


def _auth_payload(match: re.Match) -> str:
    return f"{match.group(1)}{REDACTED}" if _payload_like(match.group(2)) else match.group(0)


def _sasl_payload(match: re.Match) -> str:
    """Return the base64 run, or the redaction mark when it decodes to a PLAIN or XOAUTH2 credential."""
    raw = decode_base64(match.group(0))
    if raw is None:
        return match.group(0)
    if b"auth=Bearer" in raw or b"\x01auth=" in raw or raw.count(b"\x00") == 2:
        return REDACTED
    return match.group(0)


def redact_command(command: str, *, in_auth: bool = False) -> str:
    """Return a client command line with any credential replaced.

    ``in_auth`` is true while the server is waiting for an AUTH continuation
    (after a 334 reply): the whole line is then a credential, whatever it is.
    """
    stripped = command.strip()
    if in_auth:
        return REDACTED if stripped not in ("", "*") else stripped
    match = AUTH_RE.match(command)
    if match:
        return f"{match.group(1)}{match.group(2)}{match.group(3)}{REDACTED}"
    return redact_text(command)


def auth_payload_note(mechanism: str, payload: str | None) -> tuple[str | None, str | None]:
    """Inspect an AUTH initial response without keeping it.

    Returns ``(identity, note)``: the user name the payload carries, if any,
    and ``"empty_credentials"`` when the user name or password is empty or a
    placeholder such as ``undefined`` or ``null`` (a client configuration bug,
    not a wrong password).  The password itself is never returned.
    """
    if not payload or payload == "=":
        return None, None
    raw = decode_base64(payload)
    if raw is None:
        return None, None
    text = raw.decode("utf-8", "replace")
    for mask in CLIENT_MASKS:
        text = text.replace(mask, "masked-by-client")
    placeholders = {"", "undefined", "null", "none", "nil"}

    mechanism = mechanism.upper()
    if mechanism == "PLAIN":
        parts = text.split("\0")
        if len(parts) != 3:
            return None, None
        user, password = parts[1], parts[2]
        note = "empty_credentials" if user.lower() in placeholders or password.lower() in placeholders else None
        return (user or None), note
    if mechanism == "LOGIN":
        # The initial response of AUTH LOGIN, or its first response, is the user name alone.
        user = text.strip()
        printable = user.isprintable() and "\0" not in user
        return (user if printable and user else None), ("empty_credentials" if user.lower() in placeholders else None)
    if mechanism in ("XOAUTH2", "OAUTHBEARER"):
        match = re.search(r"user=([^\x01,]*)", text)
        user = match.group(1) if match else None
        note = "empty_credentials" if not re.search(r"auth=Bearer\s+\S{4,}", text, re.IGNORECASE) else None
        return user, note
    return None, None
