"""reputation_block: a provider rejects mail because of the sending IP's or domain's reputation.

Minimum evidence, either of:

- concentration: at least ``MIN_SESSIONS`` sessions rejected for
  reputation (blocklists, Spamhaus, Microsoft/Yahoo blocks, Gmail
  "unsolicited mail") at one host, making at least 40% of that host's
  sessions between the first and last rejection, and more often than
  elsewhere (Fisher p < 0.01);
- a named DNS blocklist: at least ``MIN_SESSIONS`` rejections whose reply
  names the same DNS blocklist (``blocked using zen.spamhaus.org``,
  ``listed at``, Spamhaus, Barracuda, SpamCop...) and the same listed IPv4
  or IPv6 address (``Client host [203.0.113.5]``), making at least
  ``MIN_BLOCKLIST_SHARE`` of all failed sessions, at any number of hosts.
  Such a reply states the blocker outright, so no concentration or test is
  needed: a relay listed on one blocklist is rejected by every receiver
  that consults it, each for a small share of its own sessions.  Replies
  that name a list but no address only count towards the first rule and
  the no-finding overview.
"""

from __future__ import annotations

import ipaddress
import re

import pandas as pd

from ..analysis import Rate
from .base import Context, Finding, confidence, examples, scope_of
from ._explicit import explicit_findings, names, reply_codes

KIND = "reputation_block"
MIN_SESSIONS = 5
MIN_BLOCKLIST_SHARE = 0.01
CAUSES = ("reputation_blocked",)

# A DNS blocklist zone named after the phrase that introduces it ("blocked using zen.spamhaus.org").
ZONE_RE = re.compile(r"(?:blocked using|listed (?:at|on|in|by)|\bRBL\b:?|\bDNSBL\b:?)\s+(?:https?://)?"
                     r"(?P<zone>[a-z0-9-]+(?:\.[a-z0-9-]+)+)", re.IGNORECASE)
# Blocklist operators whose name replies often give without a zone ("Spamhaus", "Barracuda Reputation").
OPERATOR_RE = re.compile(r"spamhaus|barracuda|spamcop|sorbs|uceprotect|psbl|mailspike|spamrats", re.IGNORECASE)
# The listed address: the first IPv4 or IPv6 address after the server's own name
# ("... said: ... [203.0.113.5]", "Client host [2001:db8::25] blocked using ...").
IPV4_RE = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
# Runs of hex digits and colons with two colons or more; ipaddress decides which are IPv6 addresses.
IPV6_RE = re.compile(r"(?<![0-9A-Za-z:.])([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![0-9A-Za-z:.])")


def detect(ctx: Context) -> list[Finding]:
    """Report each host that blocks the sender on reputation, then each DNS blocklist that replies name."""
    def describe(key, rows, rates):
        hosts = names(sorted(rows["host"].dropna().unique()))
        networks = names(sorted(rows["network"].dropna().unique()))
        return (f"{hosts} rejects mail from {networks} on reputation",
                f"Look up the egress IP of {networks} on the blocklist named in the reply, fix the cause (open relay, "
                f"compromised account, missing SPF/DKIM), then ask {hosts} to delist it; meanwhile send through "
                "another egress or a relay with a good reputation.")

    found = explicit_findings(ctx, kind=KIND, causes=CAUSES, by="host", minimum=ctx.minimum(KIND, MIN_SESSIONS),
                              base=0.9, describe=describe)
    return found + blocklist_findings(ctx)


def blocklist_name(text: object) -> str | None:
    """Return the DNS blocklist a reply names (its zone, else the operator in lower case), or None."""
    if not isinstance(text, str):
        return None
    zone = ZONE_RE.search(text)
    if zone:
        return zone.group("zone").lower().rstrip(".")
    operator = OPERATOR_RE.search(text)
    return operator.group(0).lower() if operator else None


def listed_ip(text: str) -> str | None:
    """Return the first IPv4 or IPv6 address in the server's words of a reply, or None."""
    said = text.split(" said: ", 1)[-1]
    found = []
    match = IPV4_RE.search(said)
    if match:
        found.append((match.start(), match.group(1)))
    for candidate in IPV6_RE.finditer(said):
        try:
            address = ipaddress.IPv6Address(candidate.group(1))
        except ValueError:
            continue  # a time of day such as 12:34:56
        found.append((candidate.start(), str(address)))
        break
    return min(found)[1] if found else None


def blocklist_replies(ctx: Context) -> pd.DataFrame:
    """Return the unclaimed reputation rejections whose reply names a DNS blocklist.

    Two columns are added: ``blocklist`` (:func:`blocklist_name`) and
    ``listed_ip`` (:func:`listed_ip`, missing when the reply names no address).
    """
    frame = ctx.sessions
    rows = frame[ctx.of_causes(CAUSES)]
    text = rows["reply_text"].astype("string").fillna(rows["error_text"].astype("string"))
    rows = rows.assign(blocklist=text.map(blocklist_name, na_action="ignore"))
    rows = rows[rows["blocklist"].notna()]
    return rows.assign(listed_ip=text[rows.index].map(listed_ip, na_action="ignore"))


def blocklist_findings(ctx: Context) -> list[Finding]:
    """Report each DNS blocklist and listed address named by enough failing replies, wherever they came from."""
    failures = int(ctx.failed.sum())
    minimum = ctx.minimum(KIND, MIN_SESSIONS)
    listed = blocklist_replies(ctx)
    found = []
    for (zone, ip), rows in listed[listed["listed_ip"].notna()].groupby(["blocklist", "listed_ip"], sort=True):
        share = Rate.of(len(rows), failures)
        if len(rows) < minimum or share.rate < MIN_BLOCKLIST_SHARE:
            continue
        hosts = sorted(rows["host"].dropna().unique())
        receivers = f"{len(hosts)} receiving host" + ("" if len(hosts) == 1 else "s")
        summary = f"{receivers} reject mail because {zone} lists the sending IP {ip}"
        evidence = {"failures": len(rows), "blocklist": zone, "listed_ips": [ip],
                    "share_of_failures": share.as_dict(), "hosts": len(hosts), "reply_codes": reply_codes(rows)}
        next_step = (f"Look up {ip} on {zone}, fix the cause of the listing (open relay, compromised account, "
                     "a spam run, missing SPF/DKIM), request delisting, and send through another egress or a "
                     "relay with a good reputation meanwhile.")
        plain = rows.drop(columns=["blocklist", "listed_ip"])
        found.append(Finding(KIND, confidence(len(rows), None, 0.9), summary, scope_of(plain), evidence,
                             examples(plain), next_step))
        ctx.claim(rows.index)
    return found
