"""The fleet, the week, and the blockers of each scenario.

Three workers (support agent, onboarding mailer, billing notices) run in
three networks (office, staging, prod).  The ``incident`` scenario injects
five blockers with known start, scope and threshold; ``healthy`` runs the
same fleet without them.  All times are UTC.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field

from .providers import GMAIL, M365, RELAY, Provider

WEEK_START = calendar.timegm((2026, 3, 2, 0, 0, 0))  # Monday
DAY = 86400
DAYS = 7
COMPANY = "acme.example"
CUSTOMER_DOMAINS = ("example.com", "example.net", "example.org", "fabrikam.example", "contoso.example")
EGRESS = {"office": "192.0.2.80", "staging": "198.51.100.44", "prod": "203.0.113.17"}


def at(day: int, hour: int, minute: int = 0, second: float = 0.0) -> float:
    """Return the epoch time of ``day`` (0 = Monday) at ``hour:minute:second`` UTC."""
    return WEEK_START + day * DAY + hour * 3600 + minute * 60 + second


@dataclass
class Instance:
    """One worker in one network: what it runs, where it sends, who it is."""

    network: str
    worker: str
    library: str  # "smtplib" or "nodemailer"
    provider: Provider
    port: int
    identity: str | None
    auth: str | None  # "xoauth2", "plain", "login" or None
    pod: str
    per_day: float = 0.0  # interactive jobs on a weekday, at scale 1
    batch: tuple[int, int, int] | None = None  # (hour, minute, invoices) on weekdays
    pace: float = 0.0  # seconds between batch messages
    version: str = "1.0.0"

    @property
    def key(self) -> str:
        return f"{self.network}/{self.worker}"


def fleet() -> list[Instance]:
    """Return the fleet, in the order it is simulated."""
    return [
        Instance("office", "support-agent", "smtplib", GMAIL, 587, f"support-dev@{COMPANY}", "xoauth2",
                 "dev-laptop-17", per_day=6, version="2.15.0-dev"),
        Instance("office", "onboarding-mailer", "nodemailer", M365, 587, f"onboarding-test@{COMPANY}", "login",
                 "dev-laptop-17", per_day=4),
        Instance("staging", "support-agent", "smtplib", GMAIL, 587, f"support-staging@{COMPANY}", "xoauth2",
                 "support-agent-5c7d9b8f6-mq2lx", per_day=8, version="2.14.3"),
        Instance("staging", "onboarding-mailer", "nodemailer", M365, 587, f"onboarding-staging@{COMPANY}", "login",
                 "onboarding-mailer-77b9c6d5f-ks8vn", per_day=8),
        Instance("staging", "billing-notices", "smtplib", M365, 587, f"billing-staging@{COMPANY}", "login",
                 "billing-notices-28814460-7xkqp", batch=(7, 30, 15), pace=2.0),
        Instance("prod", "support-agent", "smtplib", GMAIL, 587, f"support@{COMPANY}", "xoauth2",
                 "support-agent-6f8b7c9d4-x2k4p", per_day=30, version="2.14.3"),
        Instance("prod", "onboarding-mailer", "nodemailer", RELAY, 25, None, None,
                 "onboarding-mailer-6d5f8c7b9-q7wzt", per_day=20),
        Instance("prod", "billing-notices", "smtplib", GMAIL, 587, f"billing@{COMPANY}", "plain",
                 "billing-notices-28814520-h5d2r", batch=(7, 0, 80), pace=1.6),
    ]


@dataclass
class TokenBreak:
    """A build that stops refreshing OAuth tokens: it fetches one at start-up only."""

    network: str
    worker: str
    deployed: float
    restarts: list[float]
    fixed: float
    bad_version: str
    good_version: str


@dataclass
class Scenario:
    """The blockers a scenario injects, with their times."""

    name: str
    firewall: tuple[str, int, float] | None = None  # network, port, start
    burst: dict[str, list[int]] = field(default_factory=dict)  # instance key -> days its batch runs unpaced
    token_break: TokenBreak | None = None
    implicit_tls: tuple[str, str, float] | None = None  # network, worker, start
    greylist: tuple[str, float] | None = None  # recipient domain, start

    @property
    def blockers(self) -> bool:
        return any((self.firewall, self.burst, self.token_break, self.implicit_tls, self.greylist))


RATE_LIMIT_PER_MINUTE = 50
TOKEN_LIFETIME = 3600
REFRESH_AFTER = 3300
GREYLIST_DELAY = 300
CONNECT_TIMEOUT = 30.0
GREYLIST_MX = {"fabrikam.example": ("mx1.fabrikam.example", "198.51.100.25")}


def scenario(name: str) -> Scenario:
    """Return the scenario called ``name`` (``incident`` or ``healthy``)."""
    if name == "healthy":
        return Scenario("healthy")
    if name != "incident":
        raise ValueError(f"unknown scenario {name!r}; choose incident or healthy")
    return Scenario(
        "incident",
        firewall=("prod", 587, at(3, 6, 0)),
        burst={"prod/billing-notices": [0, 1, 2, 3, 4]},
        token_break=TokenBreak("staging", "support-agent", deployed=at(1, 10, 12, 41.5),
                               restarts=[at(2, 14, 5, 12.25)], fixed=at(4, 16, 40, 3.75),
                               bad_version="2.15.0", good_version="2.14.3"),
        implicit_tls=("staging", "billing-notices", at(2, 7, 12, 5.0)),
        greylist=("fabrikam.example", at(0, 0, 0)),
    )
