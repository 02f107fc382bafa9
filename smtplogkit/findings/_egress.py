"""Connection-level facts shared by firewall_block, isp_port_block and provider_outage."""

from __future__ import annotations

import ipaddress

import pandas as pd

from ..analysis import Rate
from ..labels import STAGE_ORDER, Stage

CONNECT_CAUSES = ("connect_timeout", "connect_refused", "network_unreachable")
SUBMISSION_PORTS = (465, 587, 2525)
# Name suffixes of hosts inside an organisation (RFC 6762 .local, RFC 8375 home.arpa, common private zones).
INTERNAL_SUFFIXES = (".local", ".internal", ".lan", ".corp", ".home.arpa", ".localdomain")


def is_external(host: object) -> bool:
    """Return whether a host name or address looks like a server outside the sender's own network.

    Private, loopback and link-local addresses, ``localhost`` and names under
    common internal suffixes are internal; every other name counts as
    external, because DNS is not consulted.
    """
    if not isinstance(host, str) or not host:
        return False
    name = host.strip("[]").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name != "localhost" and "." in name and not name.endswith(INTERNAL_SUFFIXES)
    return address.is_global


def connected(sessions: pd.DataFrame) -> pd.Series:
    """Return a mask of sessions whose TCP connection was established."""
    order = STAGE_ORDER[Stage.CONNECT]
    reached = sessions["last_stage_reached"].astype("string")
    return reached.map(lambda s: isinstance(s, str) and STAGE_ORDER[Stage(s)] >= order).astype(bool)


def in_window(rows: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Return the rows that started between ``start`` and ``end`` inclusive, and the rows without a start."""
    if pd.isna(start) or pd.isna(end):
        return rows
    timed = ((rows["start"] >= start) & (rows["start"] <= end)).fillna(False)
    return rows[timed | rows["start"].isna()]


def window_rate(rows: pd.DataFrame, mask: pd.Series) -> tuple[Rate, pd.DataFrame]:
    """Return the share of ``rows`` failing in ``mask`` between the first and last failure, and those failures."""
    failing = rows[mask.loc[rows.index]]
    if failing.empty:
        return Rate.of(0, len(rows)), failing
    window = in_window(rows, failing["start"].min(), failing["start"].max())
    return Rate.of(len(failing), len(window)), failing


def outcome_words(rows: pd.DataFrame) -> str:
    """Say how connections failed: dropped (timeouts), refused, or unreachable."""
    causes = rows["cause"].astype("string").value_counts()
    words = {"connect_timeout": "dropped (timeouts)", "connect_refused": "refused",
             "network_unreachable": "unreachable"}
    return " and ".join(words.get(str(c), str(c)) for c in causes.index[:2])
