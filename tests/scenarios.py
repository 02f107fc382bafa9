"""Seeded generator of sessions DataFrames with known blockers, for diagnosis tests.

Rows go through :func:`smtplogkit.reader.sessions_frame`, so the frames have
exactly the dtypes of ``read_logs``.  Each blocker method adds or rewrites
sessions so that one external blocker acts with a known scope and limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

from smtplogkit.reader import ReadResult, sessions_frame

MONDAY = datetime(2026, 11, 30, tzinfo=timezone.utc)
NETWORKS = ("office", "dc1", "cloud")
IDENTITIES = tuple(f"user{i}@example.com" for i in range(8))
TARGETS = (("smtp.office365.com", 587, "starttls"), ("smtp.gmail.com", 587, "starttls"),
           ("mail.example.net", 465, "implicit"))

# failure_stage, last_stage_reached, outcome, reply_code, enhanced_code, reply_text, error_text
CAUSES: dict[str, tuple] = {
    "ok": ("none", "data", "ok", None, None, None, None),
    "rate_limited": ("mail_from", "auth", "transient", 421, "4.7.0", "421 4.7.0 Try again later, closing connection.", None),
    "connect_timeout": ("connect", None, "network", None, None, None, "TimeoutError: timed out"),
    "connect_refused": ("connect", None, "network", None, None, None, "ConnectionRefusedError: [Errno 111] Connection refused"),
    "oauth_token_invalid": ("auth", "ehlo", "permanent", 535, "5.7.8", "535 5.7.8 Username and Password not accepted", None),
    "auth_failed": ("auth", "ehlo", "permanent", 535, "5.7.8", "535 5.7.8 Authentication credentials invalid", None),
    "auth_disabled_by_policy": ("auth", "ehlo", "permanent", 535, "5.7.139", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.", None),
    "greylisted": ("rcpt_to", "mail_from", "transient", 450, "4.2.0", "450 4.2.0 <a@b.example>: Recipient address rejected: Greylisted", None),
    "reputation_blocked": ("mail_from", "auth", "permanent", 550, "5.7.1", "550 5.7.1 Service unavailable; client host blocked using Spamhaus", None),
    "dns_nxdomain": ("dns", None, "network", None, None, None, "socket.gaierror: [Errno -2] Name or service not known"),
    "server_unavailable": ("greeting", "connect", "transient", 421, "4.3.2", "421 4.3.2 Service not available", None),
    "server_disconnected": ("mail_from", "auth", "network", None, None, None, "SMTPServerDisconnected: Connection unexpectedly closed"),
    "tls_mode_mismatch": ("tls", "connect", "network", None, None, None, "ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number"),
    "certificate_invalid": ("tls", "starttls", "network", None, None, None, "ssl.SSLCertVerificationError: certificate verify failed: certificate has expired"),
    "recipient_rejected": ("rcpt_to", "mail_from", "permanent", 550, "5.1.1", "550 5.1.1 User unknown", None),
    "message_rejected": ("data", "rcpt_to", "permanent", 554, "5.6.0", "554 5.6.0 Message rejected", None),
}
SPARSE_CAUSES = tuple(c for c in CAUSES if c != "ok")


@dataclass
class Scenario:
    """A growing list of session rows; call :meth:`frame` for the DataFrame."""

    seed: int = 0
    start: datetime = MONDAY
    days: float = 3.0
    rows: list[dict[str, Any]] = field(default_factory=list)
    refreshes: list[tuple[datetime, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._lines: dict[str, int] = {}

    def add(self, start: datetime, *, network: str, identity: str | None, host: str, port: int,
            tls_mode: str = "starttls", cause: str = "ok", mechanism: str = "PLAIN", duration: float = 1.5,
            worker: str = "w1") -> dict[str, Any]:
        """Append one session row and return it."""
        stage, reached, outcome, code, enhanced, reply, error = CAUSES[cause]
        source = f"{network}/{worker}.log"
        line = self._lines.get(source, 1)
        self._lines[source] = line + 12
        ok = cause == "ok"
        row = {
            "session_id": f"{source}:{line}", "source": source, "line": line, "format": "smtplib",
            "start": start, "end": start + timedelta(seconds=duration), "host": host, "ip": None, "port": port,
            "tls_mode": tls_mode, "client": "smtplib", "last_stage_reached": reached, "failure_stage": stage,
            "cause": cause, "outcome": outcome, "reply_code": code, "enhanced_code": enhanced, "reply_text": reply,
            "error_text": error, "auth_mechanism": mechanism if reached not in (None, "connect") else None,
            "identity": identity, "messages_sent": 1 if ok else 0, "recipients": 1, "recipients_rejected": 0,
            "duration_s": duration, "log_host": f"{network}-host", "container": None, "network": network,
            "worker": worker,
        }
        self.rows.append(row)
        return row

    def _when(self, count: int) -> np.ndarray:
        seconds = np.sort(self.rng.uniform(0, self.days * 86400, count))
        return seconds

    def healthy(self, count: int = 3000, networks=NETWORKS, identities=IDENTITIES, targets=TARGETS) -> Scenario:
        """Add ``count`` successful sessions spread over the scenario's days."""
        for second in self._when(count):
            host, port, mode = targets[self.rng.integers(len(targets))]
            self.add(self.start + timedelta(seconds=float(second)), network=networks[self.rng.integers(len(networks))],
                     identity=identities[self.rng.integers(len(identities))], host=host, port=port, tls_mode=mode,
                     duration=float(self.rng.uniform(0.5, 4)))
        return self

    def sparse_failures(self, share: float = 0.015, causes=SPARSE_CAUSES) -> Scenario:
        """Turn a random ``share`` of successful rows into random failures (background noise)."""
        for row in self.rows:
            if row["cause"] == "ok" and self.rng.random() < share:
                self._set_cause(row, causes[self.rng.integers(len(causes))])
        return self

    def _set_cause(self, row: dict[str, Any], cause: str) -> None:
        stage, reached, outcome, code, enhanced, reply, error = CAUSES[cause]
        row.update(cause=cause, failure_stage=stage, last_stage_reached=reached, outcome=outcome, reply_code=code,
                   enhanced_code=enhanced, reply_text=reply, error_text=error, messages_sent=0)

    def frame(self) -> pd.DataFrame:
        """Return the sessions DataFrame, rows in start order (rows without a start last)."""
        rows = sorted(self.rows, key=lambda r: (r["start"] is None, r["start"] or self.start))
        return sessions_frame(ReadResult(sessions=[dict(r) for r in rows]))

    def refresh_frame(self) -> pd.DataFrame:
        """Return the token refreshes as a tokens table (identity, refreshed_at)."""
        return pd.DataFrame({"identity": [r[1] for r in self.refreshes],
                             "refreshed_at": pd.to_datetime([r[0] for r in self.refreshes], utc=True)})

    # Blockers -------------------------------------------------------------

    def rate_limit(self, identity: str = "bulk@example.com", host: str = "smtp.gmail.com", limit: int = 50,
                   bursts: int = 8, burst_size: int = 90, network: str = "cloud") -> Scenario:
        """Send bursts from one mailbox; attempts beyond ``limit`` in a minute are throttled."""
        times = list(self._when(200))
        for second in self._when(bursts):
            times.extend(second + np.sort(self.rng.uniform(0, 55, burst_size)))
        times = np.sort(np.asarray(times))
        counts = np.searchsorted(times, times, side="right") - np.searchsorted(times, times - 60, side="right")
        for second, count in zip(times, counts):
            self.add(self.start + timedelta(seconds=float(second)), network=network, identity=identity, host=host,
                     port=587, cause="rate_limited" if count > limit else "ok", duration=0.8)
        return self

    def firewall(self, network: str = "dc1", host: str = "mail.example.net", port: int = 465, tls_mode: str = "implicit",
                 since_day: float = 1.0, count: int = 300) -> Scenario:
        """Make connections from ``network`` to host:port time out after ``since_day`` days."""
        since = self.start + timedelta(days=since_day)
        for second in self._when(count):
            when = self.start + timedelta(seconds=float(second))
            self.add(when, network=network, identity=IDENTITIES[self.rng.integers(len(IDENTITIES))], host=host,
                     port=port, tls_mode=tls_mode, cause="connect_timeout" if when >= since else "ok")
        for row in self.rows:
            if row["network"] == network and row["host"] == host and row["port"] == port and row["start"] >= since:
                self._set_cause(row, "connect_timeout")
        return self

    def isp_port25(self, network: str = "office", hosts=("mx1.partner.example", "mx2.other.example"),
                   count: int = 60) -> Scenario:
        """Port 25 from ``network`` to outside MX hosts times out; other networks reach them."""
        for second in self._when(count):
            host = hosts[self.rng.integers(len(hosts))]
            self.add(self.start + timedelta(seconds=float(second)), network=network, identity=None, host=host, port=25,
                     tls_mode="starttls", cause="connect_timeout", mechanism=None)
        for second in self._when(count):
            host = hosts[self.rng.integers(len(hosts))]
            other = [n for n in NETWORKS if n != network][self.rng.integers(len(NETWORKS) - 1)]
            self.add(self.start + timedelta(seconds=float(second)), network=other, identity=None, host=host, port=25,
                     tls_mode="starttls", mechanism=None)
        return self

    def token_expiry(self, identity: str = "oauth@example.com", host: str = "smtp.office365.com",
                     lifetime: float = 3600, refresh_every: float = 5400, interval: float = 90,
                     network: str = "cloud") -> Scenario:
        """Refresh a token every ``refresh_every`` s though it lives ``lifetime`` s; send every ~``interval`` s."""
        second, refreshed = 0.0, 0.0
        self.refreshes.append((self.start, identity))
        while second < self.days * 86400:
            if second - refreshed >= refresh_every:
                refreshed = second - float(self.rng.uniform(0, interval))
                self.refreshes.append((self.start + timedelta(seconds=refreshed), identity))
            cause = "oauth_token_invalid" if second - refreshed > lifetime else "ok"
            self.add(self.start + timedelta(seconds=second), network=network, identity=identity, host=host, port=587,
                     cause=cause, mechanism="XOAUTH2")
            second += float(self.rng.uniform(0.5, 1.5) * interval)
        return self

    def idle_disconnect(self, identity: str = "pool@example.com", host: str = "smtp.office365.com",
                        idle_limit: float = 300, count: int = 400, network: str = "dc1") -> Scenario:
        """A pooled sender whose connections die after ``idle_limit`` s without traffic."""
        second = 0.0
        for _ in range(count):
            gap = float(self.rng.exponential(idle_limit))
            second += gap
            self.add(self.start + timedelta(seconds=second), network=network, identity=identity, host=host, port=587,
                     cause="server_disconnected" if gap > idle_limit else "ok", duration=1.0)
            second += 1.0
        return self

    def outage(self, host: str = "smtp.office365.com", start_hour: float = 30, hours: float = 3,
               cause: str = "server_unavailable") -> Scenario:
        """Make every session to ``host`` fail for ``hours`` from ``start_hour``, on every network."""
        begin = self.start + timedelta(hours=start_hour)
        end = begin + timedelta(hours=hours)
        for row in self.rows:
            if row["host"] == host and begin <= row["start"] < end:
                self._set_cause(row, cause)
        return self

    def rewrite(self, cause: str, count: int | None = None, **match: Any) -> Scenario:
        """Turn matching successful rows (``host=..., network=...``) into ``cause``, all or ``count`` of them."""
        matching = [r for r in self.rows if r["cause"] == "ok" and all(r.get(k) == v for k, v in match.items())]
        if count is not None:
            picks = self.rng.choice(len(matching), size=min(count, len(matching)), replace=False)
            matching = [matching[i] for i in sorted(picks)]
        for row in matching:
            self._set_cause(row, cause)
        return self

    def misconfigured(self, cause: str, *, host: str, port: int, tls_mode: str = "starttls", count: int = 30,
                      network: str = "cloud", worker: str = "w9", identity: str | None = IDENTITIES[5],
                      start_hour: float = 20, hours: float = 6) -> Scenario:
        """Add a worker whose every session to host:port fails with ``cause`` for ``hours``."""
        for second in np.sort(self.rng.uniform(start_hour * 3600, (start_hour + hours) * 3600, count)):
            self.add(self.start + timedelta(seconds=float(second)), network=network, identity=identity, host=host,
                     port=port, tls_mode=tls_mode, cause=cause, worker=worker)
        return self

    def greylisting(self, host: str = "mx.greylist.example", count: int = 40, delay: float = 300,
                    network: str = "dc1") -> Scenario:
        """First delivery attempts to ``host`` are deferred; the retry after ``delay`` s is accepted."""
        for second in self._when(count):
            when = self.start + timedelta(seconds=float(second))
            identity = IDENTITIES[self.rng.integers(len(IDENTITIES))]
            self.add(when, network=network, identity=identity, host=host, port=25, cause="greylisted", mechanism=None)
            self.add(when + timedelta(seconds=delay + float(self.rng.uniform(0, 30))), network=network,
                     identity=identity, host=host, port=25, mechanism=None)
        return self

    def credentials(self, identity: str = IDENTITIES[3], since_day: float = 1.5) -> Scenario:
        """Every sign-in of ``identity`` fails from ``since_day`` on (a changed password)."""
        since = self.start + timedelta(days=since_day)
        for row in self.rows:
            if row["identity"] == identity and row["start"] >= since and row["cause"] == "ok":
                self._set_cause(row, "auth_failed")
        return self
