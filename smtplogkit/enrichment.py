"""Columns that put each session in context: labels, burst rate, token age, idle gap, local time.

Every function takes the sessions DataFrame from :func:`smtplogkit.read_logs`
and returns a new frame with added columns; the input is never changed.
:func:`enrich` runs them all and is what :func:`smtplogkit.diagnose` calls.

Added columns
-------------
``network``
    The egress label.  Kept when a path template or ``--label`` set it,
    otherwise the client IP (``client_ip`` column, if any), the log host or
    the container, in that order, else missing: one network per source file
    would split a real network.
``burst_identity_1m``, ``burst_identity_10m``, ``burst_network_1m``, ``burst_network_10m``
    Attempts by the same identity (by the same network) that started in the
    1 or 10 minutes up to and including this one.
``parallel_sessions``
    Sessions of the same network open when this one started, itself included.
``idle_gap_s``
    Seconds from the end of the previous attempt by the same identity (by the
    same network and host when the identity is unknown) to this start.
``token_age_s``, ``token_age_basis``
    Seconds since the identity's last OAuth token refresh, and where the
    refresh times came from (``refresh_events``, ``tokens_table`` or
    ``estimated``).
``hour``, ``weekday``
    Local hour (0-23) and day of week (0 = Monday) in the chosen time zone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

import numpy as np
import pandas as pd

from .errors import require_pandas_frame

logger = logging.getLogger(__name__)

# Where a session's network comes from when no label gives it.  The source
# file is not among them: one network per file would split a real network.
NETWORK_FALLBACKS = ("client_ip", "log_host", "container")
BURST_WINDOWS = {"1m": pd.Timedelta(minutes=1), "10m": pd.Timedelta(minutes=10)}
OAUTH_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")
REFRESH_RE = re.compile(r"\b(?:token|access[ _]token)\b.{0,40}\b(?:refresh(?:ed)?|renew(?:ed)?|acquired|obtained)\b"
                        r"|\brefresh(?:ed|ing)?\b.{0,20}\btoken\b", re.IGNORECASE)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
EXPIRES_RE = re.compile(r"expires[_ ]?in\W{0,3}(\d+)", re.IGNORECASE)
TOKEN_TIME_COLUMNS = ("refreshed_at", "issued_at", "ts", "time")
OAUTH_FAILURE = "oauth_token_invalid"


def map_labels(sessions: pd.DataFrame, table: pd.DataFrame | Mapping[str, Mapping[str, Any]], on: str) -> pd.DataFrame:
    """Add label columns looked up from a mapping table.

    Parameters
    ----------
    sessions
        Sessions DataFrame.
    table
        Either a DataFrame with a column named ``on`` and one column per label,
        or a mapping ``{key: {label: value}}`` (``{"10.0.0.7": {"network":
        "office"}}``).
    on
        Session column whose value is looked up (``log_host``, ``container``,
        ``ip``, ``source``, ``identity``...).

    Returns
    -------
    pandas.DataFrame
        A copy with the labels filled where the session had none.
    """
    if on not in sessions.columns:
        raise KeyError(f"sessions have no column {on!r} to look labels up by")
    if isinstance(table, Mapping):
        table = pd.DataFrame([{on: key, **labels} for key, labels in table.items()])
    if on not in table.columns:
        raise KeyError(f"label table has no column {on!r}")
    out = sessions.copy()
    keys = out[on].astype("string")
    lookup = table.assign(**{on: table[on].astype("string")}).drop_duplicates(on).set_index(on)
    for label in lookup.columns:
        mapped = keys.map(lookup[label]).astype("string")
        if label in out.columns:
            out[label] = out[label].astype("string").fillna(mapped)
        else:
            out[label] = mapped
    return out


def add_network(sessions: pd.DataFrame) -> pd.DataFrame:
    """Fill the ``network`` label from the client IP, log host or container."""
    out = sessions.copy()
    network = out["network"].astype("string") if "network" in out.columns else pd.Series(pd.NA, index=out.index, dtype="string")
    for column in NETWORK_FALLBACKS:
        if column in out.columns:
            network = network.fillna(out[column].astype("string"))
    out["network"] = network
    return out


def _trailing_counts(times: np.ndarray, window: np.timedelta64) -> np.ndarray:
    """Count, for each time, the times in (t - window, t], for sorted ``times``."""
    upper = np.searchsorted(times, times, side="right")
    lower = np.searchsorted(times, times - window, side="right")
    return upper - lower


def _grouped_counts(frame: pd.DataFrame, key: pd.Series, window: pd.Timedelta) -> pd.Series:
    result = pd.Series(np.nan, index=frame.index, dtype="float64")
    valid = frame["start"].notna() & key.notna()
    if not valid.any():
        return result
    starts = frame.loc[valid, "start"]
    for _, index in starts.groupby(key[valid], observed=True).groups.items():
        ordered = starts.loc[index].sort_values()
        times = ordered.to_numpy(dtype="datetime64[ns]")
        result.loc[ordered.index] = _trailing_counts(times, window.to_timedelta64())
    return result


def _parallel(frame: pd.DataFrame, key: pd.Series) -> pd.Series:
    result = pd.Series(np.nan, index=frame.index, dtype="float64")
    valid = frame["start"].notna() & key.notna()
    starts = frame.loc[valid, "start"]
    ends = frame.loc[valid, "end"].fillna(starts)
    for _, index in starts.groupby(key[valid], observed=True).groups.items():
        start = starts.loc[index].to_numpy(dtype="datetime64[ns]")
        end = ends.loc[index].to_numpy(dtype="datetime64[ns]")
        opened = np.searchsorted(np.sort(start), start, side="right")
        closed = np.searchsorted(np.sort(end), start, side="left")
        result.loc[index] = opened - closed
    return result


def add_burst_rate(sessions: pd.DataFrame) -> pd.DataFrame:
    """Add burst counts per identity and per network over 1 and 10 minutes, and parallel sessions.

    Each count includes the attempt itself, so the first attempt of a quiet
    mailbox has a count of 1.  Rows without a start time get NaN.
    """
    out = sessions if "network" in sessions.columns else add_network(sessions)
    out = out.copy()
    for label, window in BURST_WINDOWS.items():
        out[f"burst_identity_{label}"] = _grouped_counts(out, out["identity"], window)
        out[f"burst_network_{label}"] = _grouped_counts(out, out["network"], window)
    out["parallel_sessions"] = _parallel(out, out["network"])
    return out


def add_idle_gap(sessions: pd.DataFrame) -> pd.DataFrame:
    """Add ``idle_gap_s``: seconds since the previous attempt of the same identity ended.

    Sessions without an identity are chained by network and host instead.
    The first attempt of each chain gets NaN.
    """
    out = sessions if "network" in sessions.columns else add_network(sessions)
    out = out.copy()
    chain = out["identity"].astype("string").fillna("@" + out["network"].astype("string").fillna("")
                                                    + "/" + out["host"].astype("string").fillna(""))
    ordered = out[out["start"].notna()].assign(_chain=chain).sort_values("start")
    previous_end = ordered.groupby("_chain", observed=True)["end"].shift().fillna(
        ordered.groupby("_chain", observed=True)["start"].shift())
    gap = (ordered["start"] - previous_end).dt.total_seconds().clip(lower=0)
    out["idle_gap_s"] = gap.reindex(out.index).astype("float64")
    return out


def add_local_time(sessions: pd.DataFrame, tz: str | tzinfo = "UTC") -> pd.DataFrame:
    """Add ``hour`` (0-23) and ``weekday`` (0 = Monday) of each start in time zone ``tz``."""
    out = sessions.copy()
    local = out["start"].dt.tz_convert(tz)
    out["hour"] = pd.array(local.dt.hour, dtype="Int64")
    out["weekday"] = pd.array(local.dt.day_of_week, dtype="Int64")
    return out


def token_refreshes(events: pd.DataFrame, pattern: re.Pattern[str] = REFRESH_RE) -> pd.DataFrame:
    """Pick OAuth token refresh events out of an events DataFrame.

    Parameters
    ----------
    events
        A frame from :func:`smtplogkit.read_events` (rows with ``verb`` "note"
        are searched) or any frame with ``ts`` and ``text`` columns, such as
        application log lines ("token refreshed, expires_in=3599").
    pattern
        Regular expression that marks a refresh line.

    Returns
    -------
    pandas.DataFrame
        Columns ``ts``, ``identity`` (the mail address in the line, or NA when
        the line names none), ``source`` and ``expires_in_s`` (the lifetime
        the line states, as in ``expires_in=3599``, else NaN).
    """
    require_pandas_frame(events, "events", "token_refreshes")
    rows = events
    if "verb" in rows.columns:
        rows = rows[rows["verb"].astype("string").str.lower() == "note"]
    text = rows["text"].astype("string").fillna("")
    rows = rows[text.str.contains(pattern, regex=True)]
    identity = rows["text"].astype("string").str.extract(f"({EMAIL_RE.pattern})", expand=False)
    source = rows["source"].astype("string") if "source" in rows.columns else pd.Series(pd.NA, index=rows.index, dtype="string")
    lifetime = rows["text"].astype("string").str.extract(EXPIRES_RE, expand=False).astype("float64")
    return pd.DataFrame({"ts": pd.to_datetime(rows["ts"], utc=True), "identity": identity.astype("string"),
                         "source": source, "expires_in_s": lifetime}).dropna(subset=["ts"]).reset_index(drop=True)


def _tokens_as_refreshes(tokens: pd.DataFrame) -> pd.DataFrame:
    column = next((c for c in TOKEN_TIME_COLUMNS if c in tokens.columns), None)
    if column is None or "identity" not in tokens.columns:
        raise KeyError(f"tokens table needs an 'identity' column and one of {', '.join(TOKEN_TIME_COLUMNS)}")
    lifetime = (pd.to_numeric(tokens["expires_in"], errors="coerce") if "expires_in" in tokens.columns
                else pd.Series(np.nan, index=tokens.index))
    return pd.DataFrame({"ts": pd.to_datetime(tokens[column], utc=True), "identity": tokens["identity"].astype("string"),
                         "source": pd.Series(pd.NA, index=tokens.index, dtype="string"),
                         "expires_in_s": lifetime.astype("float64")})


def _asof_age(starts: pd.DataFrame, refreshes: pd.DataFrame, by: str) -> pd.Series:
    """Seconds from the latest refresh at or before each start with the same ``by`` value."""
    return _asof_join(starts, refreshes, by)["age"]


def _asof_join(starts: pd.DataFrame, refreshes: pd.DataFrame, by: str) -> pd.DataFrame:
    """Join each start to the latest refresh at or before it with the same ``by`` value.

    Returns ``age`` (seconds since that refresh) and ``lifetime`` (the
    refresh's stated ``expires_in_s``, NaN when it stated none), indexed like
    ``starts``.
    """
    empty = pd.DataFrame({"age": np.nan, "lifetime": np.nan}, index=starts.index, dtype="float64")
    left = starts.dropna(subset=["start", by]).sort_values("start")
    right = refreshes.dropna(subset=["ts", by]).sort_values("ts")
    if left.empty or right.empty:
        return empty
    left = left.assign(_key=left[by].astype(str)).reset_index()
    if "expires_in_s" not in right.columns:
        right = right.assign(expires_in_s=np.nan)
    right = right.assign(_key=right[by].astype(str))[["ts", "_key", "expires_in_s"]]
    right["ts"] = right["ts"].astype(left["start"].dtype)  # merge_asof needs one time unit on both sides
    merged = pd.merge_asof(left, right, left_on="start", right_on="ts", by="_key", direction="backward")
    age = (merged["start"] - merged["ts"]).dt.total_seconds().to_numpy()
    joined = pd.DataFrame({"age": age, "lifetime": merged["expires_in_s"].to_numpy(dtype="float64")},
                          index=merged["index"])
    return joined.reindex(starts.index).astype("float64")


def estimate_refreshes(sessions: pd.DataFrame) -> pd.DataFrame:
    """Estimate token refresh times: the first OAuth success after a run of token failures.

    Each identity's first OAuth session also counts as a refresh, so ages
    start there.  The estimate is late by the time between the real refresh
    and the next attempt, so token ages derived from it run short.
    """
    oauth = sessions[sessions["auth_mechanism"].astype("string").str.upper().isin(OAUTH_MECHANISMS)
                     & sessions["identity"].notna() & sessions["start"].notna()].sort_values("start")
    rows = []
    for identity, group in oauth.groupby("identity", observed=True):
        failed_before = True  # the first session starts a token's life
        for start, cause in zip(group["start"], group["cause"].astype("string")):
            if cause == OAUTH_FAILURE:
                failed_before = True
            elif failed_before:
                rows.append((start, identity))
                failed_before = False
    return pd.DataFrame({"ts": pd.to_datetime([r[0] for r in rows], utc=True),
                         "identity": pd.array([r[1] for r in rows], dtype="string"),
                         "source": pd.array([pd.NA] * len(rows), dtype="string")})


def add_token_age(sessions: pd.DataFrame, refreshes: pd.DataFrame | None = None,
                  tokens: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add ``token_age_s``, ``token_age_basis`` and ``token_lifetime_s`` to OAuth sessions.

    Parameters
    ----------
    sessions
        Sessions DataFrame.
    refreshes
        Refresh events from :func:`token_refreshes`.  A refresh with an
        identity applies to that identity; one without applies to every
        identity in the same source file.
    tokens
        A table the user keeps of token refreshes: ``identity`` and a time
        column (``refreshed_at``, ``issued_at``, ``ts`` or ``time``).

    Returns
    -------
    pandas.DataFrame
        A copy with the two columns.  When neither ``refreshes`` nor
        ``tokens`` give a refresh for an identity, its refresh times are
        estimated with :func:`estimate_refreshes` and the basis is
        ``estimated``.  Sessions that do not use OAuth get NaN and NA.
    """
    out = sessions.copy()
    age = pd.Series(np.nan, index=out.index, dtype="float64")
    basis = pd.Series(pd.NA, index=out.index, dtype="string")
    oauth = out["auth_mechanism"].astype("string").str.upper().isin(OAUTH_MECHANISMS).fillna(False)
    starts = out.loc[oauth, ["start", "identity", "source"]]

    lifetime = pd.Series(np.nan, index=out.index, dtype="float64")
    known: list[tuple[str, pd.DataFrame]] = []
    if refreshes is not None and len(refreshes):
        by_identity = _asof_join(starts, refreshes, "identity")
        by_source = _asof_join(starts, refreshes[refreshes["identity"].isna()], "source")
        # The more recent refresh wins: the one with the smaller age.
        use_source = by_source["age"].notna() & ~(by_source["age"] >= by_identity["age"])
        known.append(("refresh_events", by_identity.mask(use_source, by_source)))
    if tokens is not None and len(tokens):
        known.append(("tokens_table", _asof_join(starts, _tokens_as_refreshes(tokens), "identity")))
    for name, joined in known:
        fill = age.loc[starts.index].isna() & joined["age"].notna()
        rows = fill[fill].index
        age.loc[rows] = joined.loc[rows, "age"]
        lifetime.loc[rows] = joined.loc[rows, "lifetime"]
        basis.loc[rows] = name

    covered = _covered_identities(starts, refreshes, tokens)
    unseen = starts[~starts["identity"].isin(covered) & starts["identity"].notna()]
    if len(unseen):
        estimated = _asof_age(unseen, estimate_refreshes(out[out["identity"].isin(unseen["identity"])]), "identity")
        estimated = estimated.dropna()
        age.loc[estimated.index] = estimated
        basis.loc[estimated.index] = "estimated"
        logger.info("token age estimated from OAuth successes for %d identities", unseen["identity"].nunique())
    out["token_age_s"] = age
    out["token_age_basis"] = basis
    out["token_lifetime_s"] = lifetime
    return out


def _covered_identities(starts: pd.DataFrame, refreshes: pd.DataFrame | None, tokens: pd.DataFrame | None) -> set[str]:
    """Identities whose refresh times are known, so they need no estimate."""
    names: set[str] = set()
    for table in (refreshes, tokens):
        if table is not None and "identity" in table.columns:
            names.update(str(v) for v in table["identity"].dropna())
    if refreshes is not None and len(refreshes):
        sources = set(refreshes.loc[refreshes["identity"].isna(), "source"].dropna().astype(str))
        names.update(str(v) for v in starts.loc[starts["source"].astype("string").isin(sources), "identity"].dropna())
    return names


def enrich(sessions: pd.DataFrame, *, tz: str | tzinfo = "UTC", label_table: pd.DataFrame | Mapping | None = None,
           label_on: str = "log_host", refreshes: pd.DataFrame | None = None,
           tokens: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add every context column the diagnosis uses.

    Parameters
    ----------
    sessions
        Sessions DataFrame from :func:`smtplogkit.read_logs`.
    tz
        Time zone for ``hour`` and ``weekday``.
    label_table, label_on
        Optional mapping table for :func:`map_labels`, looked up by column
        ``label_on``.
    refreshes, tokens
        OAuth refresh events and a tokens table for :func:`add_token_age`.

    Returns
    -------
    pandas.DataFrame
        A copy of ``sessions`` with the columns listed in this module's
        docstring; ``attrs`` are kept.  A frame whose index repeats (a Dask
        result after ``.compute()``, one index per partition) is renumbered.
    """
    require_pandas_frame(sessions, "sessions", "enrich")
    for name, table in (("label_table", label_table), ("refreshes", refreshes), ("tokens", tokens)):
        require_pandas_frame(table, name, "enrich")
    out = sessions
    if not out.index.is_unique:
        out = out.reset_index(drop=True)
    if label_table is not None:
        out = map_labels(out, label_table, label_on)
    out = add_network(out)
    out = add_burst_rate(out)
    out = add_idle_gap(out)
    out = add_token_age(out, refreshes=refreshes, tokens=tokens)
    out = add_local_time(out, tz)
    out.attrs = dict(sessions.attrs)
    return out
