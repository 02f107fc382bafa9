"""A seeded generator of a week of logs from an agent fleet, with ground truth.

``generate(out, seed=7, scale=1.0, scenario="incident")`` writes
``{network}/{worker}/YYYY-MM-DD.log`` files under ``out`` and
``out/ground_truth.json``.  Each worker writes what its library prints:
Python smtplib at debuglevel 2 with the application's logging lines, nodemailer
with ``logger`` and ``debug`` on, and the relay's Postfix maillog.  The
``incident`` scenario injects five blockers: an egress firewall, a provider
rate limit, OAuth tokens that are not refreshed, implicit TLS on port 587 and
greylisting.  ``healthy`` runs the same fleet without them.

Run it as ``python -m smtplogkit.samples [--out DIR] [--seed N] [--scale X]
[--scenario incident|healthy]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from .fleet import (DAY, DAYS, GREYLIST_DELAY, GREYLIST_MX, RATE_LIMIT_PER_MINUTE, TOKEN_LIFETIME, WEEK_START,
                    fleet, scenario as make_scenario)
from .world import World

logger = logging.getLogger(__name__)

DEFAULT_SEED = 7
SCENARIOS = ("incident", "healthy")
NETWORKS = ("office", "staging", "prod")


def iso(t: float | None, *, up: bool = False) -> str | None:
    """Return an epoch time as ISO 8601 UTC with a ``Z``, to the millisecond (rounded down, or up)."""
    if t is None:
        return None
    millis = math.ceil(t * 1000) if up else math.floor(t * 1000)
    whole, rest = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{rest:03d}Z"


def generate(out: str | os.PathLike, *, seed: int = DEFAULT_SEED, scale: float = 1.0,
             scenario: str = "incident") -> dict[str, Any]:
    """Write one scenario's logs and ground truth under ``out``.

    Parameters
    ----------
    out
        Folder to write into.  ``*.log`` files already under
        ``out/{office,staging,prod}/`` are removed first, so a smaller run
        does not leave files from a bigger one behind.
    seed
        Seed of every random choice; the same seed, scale and scenario give
        byte-identical files.
    scale
        Multiplies the traffic (jobs per day, invoices per run).  1.0 gives
        the bundled size, a few MB; 100 gives millions of lines.
    scenario
        ``"incident"`` (five injected blockers) or ``"healthy"`` (none).

    Returns
    -------
    dict
        The ground truth that was written to ``out/ground_truth.json``.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    plan = make_scenario(scenario)
    root = Path(out)
    for network in NETWORKS:
        for old in sorted((root / network).glob("*/*.log")):
            old.unlink()
    world = World(plan, seed, scale, root)
    outputs = world.run()
    total_lines = sum(outputs.files.values())

    truth = ground_truth(world, seed, scale)
    truth["files"] = len(outputs.files)
    truth["lines"] = total_lines
    truth["messages_delivered_by_workers"] = outputs.counts["messages"]
    (root / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %d files, %d lines, scenario %s, seed %d, scale %g, to %s", len(outputs.files), total_lines,
                scenario, seed, scale, root)
    return truth


def _evidence(world: World, kind: str) -> dict[str, Any]:
    found = world.outputs.evidence.get(kind)
    if found is None or not found.times:
        return {"sessions": 0, "first_seen": None, "last_seen": None}
    return {"sessions": len(found.times), "first_seen": iso(min(found.times)),
            "last_seen": iso(max(found.times), up=True)}


def ground_truth(world: World, seed: int, scale: float) -> dict[str, Any]:
    """Return the ground truth of a finished run: the fleet, the period and every blocker."""
    plan = world.scenario
    period_end = WEEK_START + DAYS * DAY
    blockers: list[dict[str, Any]] = []
    evidence = world.outputs.evidence

    if plan.firewall:
        network, port, start = plan.firewall
        hit = evidence.get("firewall_block")
        blockers.append({
            "id": f"{network}-egress-{port}",
            "kind": "firewall_block",
            "description": f"egress firewall in {network} drops outgoing TCP to port {port}",
            "scope": {"networks": [network], "workers": sorted(hit.workers) if hit else [],
                      "identities": sorted(hit.identities) if hit else [],
                      "hosts": sorted(hit.hosts) if hit else [], "ports": [port],
                      "start": iso(start), "end": iso(period_end)},
            "threshold": {},
            "expected": {"failure_stage": "connect", "cause": "connect_timeout", "reply_code": None,
                         "enhanced_code": None},
            "unaffected": {"networks": [n for n in NETWORKS if n != network]},
            "evidence": _evidence(world, "firewall_block"),
        })
    if plan.burst:
        hit = evidence.get("rate_limit")
        keys = sorted(plan.burst)
        blockers.append({
            "id": "gmail-rate-limit-" + "-".join(k.split("/")[1] for k in keys),
            "kind": "rate_limit",
            "description": "the mailbox trips the provider's per-minute sending limit during unpaced invoice runs",
            "scope": {"networks": sorted({k.split("/")[0] for k in keys}),
                      "workers": sorted({k.split("/")[1] for k in keys}),
                      "identities": sorted(hit.identities) if hit else [], "hosts": sorted(hit.hosts) if hit else [],
                      "ports": [587], "start": _evidence(world, "rate_limit")["first_seen"],
                      "end": _evidence(world, "rate_limit")["last_seen"]},
            "threshold": {"per_minute": RATE_LIMIT_PER_MINUTE},
            "expected": {"failure_stage": "mail_from", "cause": "rate_limited", "reply_code": 421,
                         "enhanced_code": "4.7.0"},
            "evidence": _evidence(world, "rate_limit"),
        })
    if plan.token_break:
        tb = plan.token_break
        inst = next(i for i in world.instances if (i.network, i.worker) == (tb.network, tb.worker))
        blockers.append({
            "id": f"{tb.network}-{tb.worker}-token-refresh",
            "kind": "token_expiry",
            "description": f"{tb.worker} {tb.bad_version} fetches an OAuth token at start-up and never refreshes it",
            "scope": {"networks": [tb.network], "workers": [tb.worker], "identities": [inst.identity],
                      "hosts": [inst.provider.host],
                      "ports": [inst.port], "start": iso(tb.deployed + TOKEN_LIFETIME), "end": iso(tb.fixed)},
            "threshold": {"token_age_s": TOKEN_LIFETIME},
            "expected": {"failure_stage": "auth", "cause": "oauth_token_invalid", "reply_code": 535,
                         "enhanced_code": "5.7.8"},
            "timeline": {"deployed": iso(tb.deployed), "restarted": [iso(t) for t in tb.restarts],
                         "rolled_back": iso(tb.fixed)},
            "evidence": _evidence(world, "token_expiry"),
        })
    if plan.implicit_tls:
        network, worker, start = plan.implicit_tls
        inst = next(i for i in world.instances if (i.network, i.worker) == (network, worker))
        blockers.append({
            "id": f"{network}-{worker}-implicit-tls-587",
            "kind": "tls_mode_mismatch",
            "description": f"{worker} in {network} was switched to implicit TLS (SMTP_SSL) on port {inst.port}",
            "scope": {"networks": [network], "workers": [worker], "identities": [inst.identity],
                      "hosts": [inst.provider.host],
                      "ports": [inst.port], "start": iso(start), "end": iso(period_end)},
            "threshold": {},
            "expected": {"failure_stage": "tls", "cause": "tls_mode_mismatch", "reply_code": None,
                         "enhanced_code": None},
            "evidence": _evidence(world, "tls_mode_mismatch"),
        })
    if plan.greylist:
        domain, start = plan.greylist
        mx = GREYLIST_MX[domain][0]
        blockers.append({
            "id": f"greylisting-{domain}",
            "kind": "greylisting",
            "description": f"{domain}'s mail server greylists new senders; the relay delivers on retry",
            "scope": {"networks": ["prod"], "workers": ["relay"], "identities": [], "hosts": [mx], "ports": [25],
                      "recipient_domains": [domain], "start": iso(start), "end": iso(period_end)},
            "threshold": {"retry_after_s": GREYLIST_DELAY},
            "expected": {"failure_stage": "rcpt_to", "cause": "greylisted", "reply_code": 451,
                         "enhanced_code": "4.7.1", "delivered_on_retry": True},
            "evidence": _evidence(world, "greylisting"),
        })

    return {
        "scenario": plan.name,
        "seed": seed,
        "scale": scale,
        "generator": "python -m smtplogkit.samples",
        "period": {"start": iso(WEEK_START), "end": iso(period_end), "timezone": "UTC"},
        "fleet": [
            {"network": i.network, "worker": i.worker, "format": i.library,
             "host": i.provider.host, "port": i.port, "identity": i.identity, "auth": i.auth,
             "path": f"{i.network}/{i.worker}/YYYY-MM-DD.log"}
            for i in fleet()
        ] + [{"network": "prod", "worker": "relay", "format": "postfix", "host": "relay.internal", "port": 25,
              "identity": None, "auth": None, "path": "prod/relay/YYYY-MM-DD.log"}],
        "blockers": blockers,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m smtplogkit.samples [--out DIR] [--seed N] [--scale X] [--scenario NAME]``."""
    parser = argparse.ArgumentParser(prog="python -m smtplogkit.samples",
                                     description="Write a seeded week of agent-fleet SMTP logs with ground truth.")
    parser.add_argument("--out", default="sample_data", help="folder to write into (default: sample_data)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="traffic multiplier: 1 is the bundled size, 100 gives millions of lines")
    parser.add_argument("--scenario", choices=SCENARIOS, default="incident",
                        help="incident (five injected blockers) or healthy (none)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        generate(args.out, seed=args.seed, scale=args.scale, scenario=args.scenario)
    except (ValueError, OSError) as error:
        logger.error("error: %s", error)
        return 2
    return 0


__all__ = ["DEFAULT_SEED", "SCENARIOS", "generate", "ground_truth", "main"]
