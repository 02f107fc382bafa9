"""token_expiry: OAuth sign-ins fail once the access token is older than its lifetime.

Minimum evidence: at least ``MIN_SESSIONS`` XOAUTH2 rejections with a known
(or estimated) token age, a step in the rejection rate along token age
(Fisher p < 0.01) with at least 40% rejected above it and at least
``MIN_SESSIONS`` rejections above it.  Token ages come from refresh events
or a tokens table.  Without either they are estimated from the first
XOAUTH2 success after a run of failures.  The summary then states that the
ages are estimated, and the confidence is lower.
"""

from __future__ import annotations

import math

from ..analysis import estimate_threshold
from .base import Context, Finding, confidence, examples, scope_of
from ._explicit import names, reply_codes

KIND = "token_expiry"
MIN_SESSIONS = 5
CAUSES = ("oauth_token_invalid", "auth_failed")


def _stated_lifetime(failing, step) -> int | None:
    """Return the token lifetime the refresh lines state, when the observed step brackets it.

    The step is only known to lie between the oldest token that worked and
    the youngest that failed.  A stated ``expires_in`` inside that gap is the
    better estimate of where it is.
    """
    if "token_lifetime_s" not in failing.columns:
        return None
    stated = failing["token_lifetime_s"].dropna()
    if stated.empty:
        return None
    lifetime = float(stated.mode().iloc[0])
    last_working = 2 * step.value - step.cut
    if last_working - 60 <= lifetime <= step.cut:
        return math.floor(lifetime)
    return None


def _threshold_evidence(step, limit: int, stated: int | None) -> dict:
    """Return the token-age step as evidence, with ``value`` equal to the finding's threshold.

    The data only place the step in the gap between the oldest token age
    below it (``oldest_age_below_s``) and the youngest age above it
    (``youngest_age_above_s``).  ``chosen_from`` records whether the threshold
    is the token lifetime the refresh lines state, which lies in that gap,
    or the middle of the gap.
    """
    details = step.as_dict()
    oldest_below = 2 * step.value - step.cut
    return {
        "value": limit,
        "chosen_from": ("stated token lifetime (expires_in) inside the gap" if stated is not None
                        else "middle of the gap"),
        "oldest_age_below_s": math.floor(oldest_below),
        "youngest_age_above_s": math.floor(step.cut),
        "below": details["below"],
        "above": details["above"],
        "p_value": details["p_value"],
    }


def detect(ctx: Context) -> list[Finding]:
    """Report the token age above which OAuth sign-ins fail."""
    if "token_age_s" not in ctx.sessions.columns:
        return []
    minimum = ctx.minimum(KIND, MIN_SESSIONS)
    rows = ctx.sessions[ctx.sessions["token_age_s"].notna()]
    mask = ctx.of_causes(CAUSES).loc[rows.index]
    if mask.sum() < minimum:
        return []
    step = estimate_threshold(rows["token_age_s"], mask, variable="token_age_s", min_side=minimum)
    if step is None or step.p_value >= ctx.alpha or step.above.low < ctx.min_share or step.above.count < minimum:
        return []
    failing = rows[mask & (rows["token_age_s"] >= step.cut)]
    basis = failing["token_age_basis"].astype("string").mode()
    basis_text = str(basis.iloc[0]) if len(basis) else "unknown"
    limit = math.floor(step.value)
    stated = _stated_lifetime(failing, step)
    if stated is not None:
        limit = stated  # the refresh lines name the lifetime, and the observed step brackets it
    estimated = basis_text == "estimated"
    summary = (f"XOAUTH2 sign-ins fail once the token is older than about {limit} s "
               f"({names(sorted(failing['identity'].dropna().unique()))})")
    if estimated:
        summary += ("; token ages are estimated from the first XOAUTH2 success after failures because no refresh "
                    "events or tokens table were given, so the true lifetime is somewhat longer")
    evidence = {"failures": len(failing), "token_age_threshold": _threshold_evidence(step, limit, stated),
                "token_age_basis": basis_text, "reply_codes": reply_codes(failing)}
    if stated is not None:
        evidence["stated_lifetime_s"] = stated
    next_step = (f"Refresh each access token before it is {limit} s old (refresh when less than 5 minutes of "
                 "expires_in remain, and retry once with a fresh token on 334/535 XOAUTH2 errors).")
    ctx.claim(failing.index)
    return [Finding(KIND, confidence(len(failing), step.p_value, 0.7 if estimated else 0.92), summary,
                    scope_of(failing), evidence, examples(failing), next_step, {"token_age_s": limit})]
