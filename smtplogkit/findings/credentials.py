"""credentials: the server rejects one identity's user name and password (or token).

Minimum evidence: at least ``MIN_SESSIONS`` rejected sign-ins (535 and
similar, and XOAUTH2 token rejections that the token_expiry detector did not
explain) for one identity, at least 40% of that identity's sessions between
the first and last rejection, more often than elsewhere (Fisher p < 0.01).
The time the rejections started is reported as a change point when the
identity signed in before.
"""

from __future__ import annotations

from ..analysis import change_points
from .base import Context, Finding
from ._explicit import explicit_findings

KIND = "credentials"
MIN_SESSIONS = 5
CAUSES = ("auth_failed", "oauth_token_invalid")


def detect(ctx: Context) -> list[Finding]:
    """Report each identity whose sign-ins are rejected."""
    def describe(key, rows, rates):
        identity = key if key == key else "an unnamed account"
        mechanism = rows["auth_mechanism"].astype("string").mode()
        oauth = len(mechanism) and str(mechanism.iloc[0]).upper() in ("XOAUTH2", "OAUTHBEARER")
        secret = "OAuth token (scopes, consent, client id)" if oauth else "password"
        return (f"sign-in rejected for {identity} at {', '.join(sorted(rows['host'].dropna().unique()))}",
                f"Check and update the stored {secret} for {identity}; if it was changed on purpose, update every "
                "worker that sends as this account.")

    found = explicit_findings(ctx, kind=KIND, causes=CAUSES, by="identity", minimum=ctx.minimum(KIND, MIN_SESSIONS),
                              base=0.85, describe=describe)
    sessions = ctx.sessions
    for finding in found:
        for identity in finding.scope.identities:
            own = sessions[sessions["identity"] == identity]
            starts = [p for p in change_points(own["start"], ctx.failed.loc[own.index]) if p.direction == "starts"]
            if starts:
                finding.evidence["worked_until"] = starts[0].time.isoformat()
    return found
