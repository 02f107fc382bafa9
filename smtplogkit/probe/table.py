"""Plain-text rendering of a probe result: one row per step, then the verdict."""

from __future__ import annotations

from .model import ProbeResult, Step
from .verdict import LAYER_NAMES

DETAIL_WIDTH = 100


def render(result: ProbeResult) -> str:
    """Return the step table, warnings and verdict of one probe run as text."""
    label = f" from {result.network}" if result.network else ""
    run = f", run {result.run}" if result.run > 1 else ""
    lines = [f"probe {result.host} port {result.port}, TLS {result.tls}{label}{run} ({result.probe_id})"]
    rows = []
    if result.dns is not None:
        rows.append(_row("", result.dns))
    for attempt in result.attempts:
        where = attempt.ip
        if attempt.mode_check:
            where += f" ({attempt.tls_mode.value} check)"
        elif attempt.burst_index is not None:
            where += f" #{attempt.burst_index}"
        for step in attempt.steps:
            rows.append(_row(where, step))
    widths = [max(len(row[i]) for row in rows + [_HEADER]) for i in range(4)]
    for row in [_HEADER, *rows]:
        cells = [row[i].ljust(widths[i]) if i != 3 else row[i].rjust(widths[i]) for i in range(4)]
        lines.append("  ".join(cells + [row[4]]).rstrip())
    for warning in result.warnings:
        lines.append(f"warning: {warning}")
    lines.append(f"verdict: {result.verdict}")
    return "\n".join(lines)


_HEADER = ("address", "step", "status", "ms", "detail")


def _row(where: str, step: Step) -> tuple[str, str, str, str, str]:
    name = LAYER_NAMES.get(step.stage, step.stage.value)
    if step.facts.get("after_starttls"):
        name += " (after STARTTLS)"
    status = step.status if step.cause is None else f"{step.status} ({step.cause.value})"
    ms = "" if step.ms is None else f"{step.ms:.1f}"
    detail = step.detail if len(step.detail) <= DETAIL_WIDTH else step.detail[:DETAIL_WIDTH - 3] + "..."
    return where, name, status, ms, detail
