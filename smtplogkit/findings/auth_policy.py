"""auth_policy: the provider's policy refuses the way the client signs in.

Covers SMTP AUTH disabled for the tenant or mailbox (5.7.139, Gmail's 534
5.7.14 web sign-in demand) and an app password required (534 5.7.9).  It
also covers an AUTH mechanism the server does not offer, and a server that
demands AUTH the client did not send.  Minimum evidence: at least ``MIN_SESSIONS`` such
sessions for one identity at one host, at least 40% of that identity's
sessions there between the first and last of them, more often than
elsewhere (Fisher p < 0.01).  Identities refused by the same host form one
finding.
"""

from __future__ import annotations

from .base import Context, Finding
from ._explicit import explicit_findings, names

KIND = "auth_policy"
MIN_SESSIONS = 5
CAUSES = ("auth_disabled_by_policy", "app_password_required", "auth_mechanism_unsupported", "auth_required")
ADVICE = {
    "auth_disabled_by_policy": "Ask the mail admin to allow SMTP AUTH for these mailboxes (Microsoft 365: "
                               "Set-CASMailbox -SmtpClientAuthenticationDisabled $false; Google: allow the app or "
                               "sign in on the web once), or move the sender to OAuth (XOAUTH2).",
    "app_password_required": "Create an app password for each mailbox (2-step verification is on) and use it "
                             "instead of the account password, or switch to OAuth (XOAUTH2).",
    "auth_mechanism_unsupported": "Configure an AUTH mechanism the server lists in its EHLO reply (usually PLAIN or "
                                  "LOGIN after STARTTLS, or XOAUTH2).",
    "auth_required": "Configure the client to authenticate (user name and password or OAuth) before sending.",
}


def detect(ctx: Context) -> list[Finding]:
    """Report each host whose sign-in policy rejects these clients."""
    def describe(key, rows, rates):
        cause = str(rows["cause"].astype("string").mode().iloc[0])
        identities = names(sorted(rows["identity"].dropna().unique())) or "the client"
        return (f"{key} refuses sign-in by policy ({cause}) for {identities}", ADVICE[cause])

    return explicit_findings(ctx, kind=KIND, causes=CAUSES, by=["host", "identity"],
                             minimum=ctx.minimum(KIND, MIN_SESSIONS), base=0.9, describe=describe,
                             merge=lambda key: key[0])
