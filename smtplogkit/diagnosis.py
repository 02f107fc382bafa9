"""``diagnose``: name the external blockers behind failing SMTP sessions.

The sessions are enriched (:mod:`smtplogkit.enrichment`), then each detector in
:mod:`smtplogkit.findings` looks for its kind of blocker.  A detector only
reports what its minimum evidence supports, so a healthy log yields no
finding.  When there is none, ``Findings.overview`` says what failed most
and why it did not qualify.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import tzinfo

import pandas as pd

from .enrichment import enrich
from .errors import require_pandas_frame
from .findings import DETECTORS, KINDS, MIN_SESSIONS, Context, Findings
from .findings.base import ALPHA, MIN_SHARE
from .findings.overview import failure_overview

logger = logging.getLogger(__name__)
ENRICHED_COLUMNS = ("network", "burst_identity_1m", "idle_gap_s", "token_age_s", "hour")


def diagnose(sessions: pd.DataFrame, *, tz: str | tzinfo = "UTC", refreshes: pd.DataFrame | None = None,
             tokens: pd.DataFrame | None = None, label_table: pd.DataFrame | Mapping | None = None,
             label_on: str = "log_host", kinds: Iterable[str] | None = None,
             min_sessions: Mapping[str, int] | None = None, alpha: float = ALPHA,
             min_share: float = MIN_SHARE) -> Findings:
    """Find the external blockers behind the failures in a sessions DataFrame.

    Parameters
    ----------
    sessions
        Sessions from :func:`smtplogkit.read_logs`, enriched or not.
    tz
        Time zone for local hour and weekday.
    refreshes, tokens
        OAuth refresh events (:func:`smtplogkit.enrichment.token_refreshes`) and
        a tokens table, for token ages; without them token ages are estimated.
    label_table, label_on
        Mapping table of labels (network, worker...) looked up by a column.
    kinds
        Finding kinds to look for (default: all of :data:`smtplogkit.findings.KINDS`).
    min_sessions
        Raise the minimum failing sessions per kind (``{"rate_limit": 20}``);
        a value below a kind's own minimum is ignored.
    alpha
        Significance level of the tests behind each finding.
    min_share
        Minimum lower 95% bound of the failure share a blocker must cause in
        its scope.

    Returns
    -------
    Findings
        A list of :class:`~smtplogkit.findings.Finding`, most confident first.
        When it is empty, its ``overview`` dict lists the top failure causes
        with their largest per-host and per-network shares against
        ``min_share``, and the DNS blocklists named in failing replies.
    """
    require_pandas_frame(sessions, "sessions", "diagnose")
    selected = set(KINDS if kinds is None else kinds)
    unknown = selected - set(KINDS)
    if unknown:
        raise ValueError(f"unknown finding kind(s) {', '.join(sorted(unknown))}; choose from {', '.join(KINDS)}")
    frame = sessions
    if refreshes is not None or tokens is not None or label_table is not None or \
            not all(c in sessions.columns for c in ENRICHED_COLUMNS):
        frame = enrich(sessions, tz=tz, label_table=label_table, label_on=label_on, refreshes=refreshes, tokens=tokens)
    ctx = Context(frame.reset_index(drop=True), min_share=min_share, alpha=alpha, min_sessions=dict(min_sessions or {}))
    found = Findings()
    for detector in DETECTORS:
        if detector.KIND not in selected:
            continue
        results = detector.detect(ctx)
        logger.info("%s: %d finding(s)", detector.KIND, len(results))
        found.extend(results)
    found.sort(key=lambda finding: finding.confidence, reverse=True)
    if not found:
        minimum = min(ctx.minimum(kind, MIN_SESSIONS[kind]) for kind in selected) if selected else 0
        found.overview = failure_overview(ctx, minimum)
    return found
