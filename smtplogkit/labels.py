"""Label vocabularies: failure stages, root causes and outcomes.

The enum values are exactly the words that appear in DataFrames, JSON output
and reports, so ``Stage.AUTH == "auth"``.  The pandas dtypes built from them are
categorical with the full, fixed category list, so frames read from different
files or partitions concatenate without changing dtype.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache


class Stage(StrEnum):
    """Protocol step of an SMTP session, in protocol order.

    ``NONE`` is the failure stage of a session that did not fail.  ``TLS`` is a
    failed TLS handshake, either implicit on connect or after the server's 220
    reply to STARTTLS.  ``STARTTLS`` is the command refused or not offered.
    """

    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    GREETING = "greeting"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    AUTH = "auth"
    MAIL_FROM = "mail_from"
    RCPT_TO = "rcpt_to"
    DATA = "data"
    QUIT = "quit"
    NONE = "none"


class Cause(StrEnum):
    """Root cause of a session's failure, or ``OK`` when it did not fail."""

    DNS_NXDOMAIN = "dns_nxdomain"
    DNS_FAILURE = "dns_failure"
    CONNECT_TIMEOUT = "connect_timeout"
    CONNECT_REFUSED = "connect_refused"
    NETWORK_UNREACHABLE = "network_unreachable"
    CONNECTION_RESET = "connection_reset"
    TLS_MODE_MISMATCH = "tls_mode_mismatch"
    TLS_HANDSHAKE_FAILURE = "tls_handshake_failure"
    CERTIFICATE_INVALID = "certificate_invalid"
    STARTTLS_UNAVAILABLE = "starttls_unavailable"
    STARTTLS_REQUIRED = "starttls_required"
    AUTH_REQUIRED = "auth_required"
    AUTH_FAILED = "auth_failed"
    APP_PASSWORD_REQUIRED = "app_password_required"
    AUTH_MECHANISM_UNSUPPORTED = "auth_mechanism_unsupported"
    AUTH_DISABLED_BY_POLICY = "auth_disabled_by_policy"
    OAUTH_TOKEN_INVALID = "oauth_token_invalid"
    RATE_LIMITED = "rate_limited"
    REPUTATION_BLOCKED = "reputation_blocked"
    GREYLISTED = "greylisted"
    POLICY_REJECTED = "policy_rejected"
    SENDER_REJECTED = "sender_rejected"
    RECIPIENT_REJECTED = "recipient_rejected"
    MESSAGE_REJECTED = "message_rejected"
    SERVER_UNAVAILABLE = "server_unavailable"
    SERVER_DISCONNECTED = "server_disconnected"
    READ_TIMEOUT = "read_timeout"
    CLIENT_ERROR = "client_error"
    OK = "ok"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    """How a session ended, as a whole.

    ``PARTIAL`` is a message sent with some recipients rejected; ``NETWORK`` a
    failure with no SMTP reply behind it (DNS, TCP, TLS, timeouts).
    """

    OK = "ok"
    PARTIAL = "partial"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    NETWORK = "network"
    UNKNOWN = "unknown"


class TlsMode(StrEnum):
    """How the client protects the connection."""

    IMPLICIT = "implicit"
    STARTTLS = "starttls"
    NONE = "none"


STAGE_ORDER: dict[Stage, int] = {stage: index for index, stage in enumerate(Stage)}


# Each dtype is built once: a new CategoricalDtype checks and hashes its
# categories, and the read of every file built several.
@cache
def stage_dtype():
    """Return the ordered categorical dtype of stage columns, the same object at every call."""
    import pandas as pd

    return pd.CategoricalDtype([s.value for s in Stage], ordered=True)


@cache
def cause_dtype():
    """Return the categorical dtype of the ``cause`` column, the same object at every call."""
    import pandas as pd

    return pd.CategoricalDtype([c.value for c in Cause])


@cache
def outcome_dtype():
    """Return the categorical dtype of the ``outcome`` column, the same object at every call."""
    import pandas as pd

    return pd.CategoricalDtype([o.value for o in Outcome])


@cache
def tls_mode_dtype():
    """Return the categorical dtype of the ``tls_mode`` column, the same object at every call."""
    import pandas as pd

    return pd.CategoricalDtype([m.value for m in TlsMode])
