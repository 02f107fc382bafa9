"""One detector per finding kind, run in the order of :data:`DETECTORS`.

The order matters because a detector claims the sessions it explains:
network blocks go first so that their timeouts are not read as an outage,
and the provider outage goes last so that it only sees what nothing else
explains.
"""

from __future__ import annotations

from types import ModuleType

from . import (auth_policy, certificate_problem, credentials, dns_failure, firewall_block, greylisting,
               idle_disconnect, isp_port_block, provider_outage, rate_limit, reputation_block, tls_mode_mismatch,
               token_expiry)
from .base import Context, Finding, Findings, Scope

DETECTORS: tuple[ModuleType, ...] = (
    isp_port_block,
    firewall_block,
    dns_failure,
    tls_mode_mismatch,
    certificate_problem,
    token_expiry,
    credentials,
    auth_policy,
    rate_limit,
    greylisting,
    reputation_block,
    idle_disconnect,
    provider_outage,
)
KINDS: tuple[str, ...] = tuple(module.KIND for module in DETECTORS)
MIN_SESSIONS: dict[str, int] = {module.KIND: module.MIN_SESSIONS for module in DETECTORS}

__all__ = ["DETECTORS", "KINDS", "MIN_SESSIONS", "Context", "Finding", "Findings", "Scope"]
