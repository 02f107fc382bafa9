"""The Finding record, its renderings, and the helpers every detector shares.

A detector is a function ``detect(ctx: Context) -> list[Finding]`` in its own
module of this package, with module constants ``KIND`` and
``MIN_SESSIONS``: the fewest failing sessions a finding of that kind may
rest on.  Its docstring states the rest of the minimum evidence.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import Rate, failed_mask, fisher_p

EXAMPLE_COLUMNS = ("session_id", "source", "line", "start", "network", "identity", "host", "port", "cause",
                   "reply_code", "enhanced_code")
ALPHA = 0.01
MIN_SHARE = 0.4


@dataclass(slots=True)
class Scope:
    """Networks, identities, hosts, ports and time window a blocker acts on."""

    networks: list[str] = field(default_factory=list)
    identities: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the scope with times in ISO 8601."""
        return {"networks": self.networks, "identities": self.identities, "hosts": self.hosts, "ports": self.ports,
                "start": _iso(self.start), "end": _iso(self.end)}

    def describe(self) -> str:
        """Return the scope as one line of text."""
        parts = []
        for name, values in (("networks", self.networks), ("identities", self.identities), ("hosts", self.hosts),
                             ("ports", self.ports)):
            if values:
                parts.append(f"{name} {', '.join(str(v) for v in values)}")
        if _iso(self.start) is not None and _iso(self.end) is not None:
            parts.append(f"from {_iso(self.start)} to {_iso(self.end)}")
        return "; ".join(parts)


def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).isoformat()


@dataclass(slots=True)
class Finding:
    """One external blocker named with its evidence.

    ``confidence`` is a heuristic score from 0 to 1 built by
    :func:`confidence`.  ``threshold`` is the estimated limit, if the kind
    has one (``{"per_minute": 50}``, ``{"token_age_s": 3600}``).
    ``evidence`` contains counts, rates with 95% Wilson intervals and
    p-values, and ``examples`` two or three sessions with source file and line.
    """

    kind: str
    confidence: float
    summary: str
    scope: Scope
    evidence: dict[str, Any]
    examples: list[dict[str, Any]]
    next_step: str
    threshold: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as JSON-ready values."""
        return {"kind": self.kind, "confidence": round(self.confidence, 3), "summary": self.summary,
                "scope": self.scope.as_dict(), "threshold": self.threshold, "evidence": _plain(self.evidence),
                "examples": _plain(self.examples), "next_step": self.next_step}

    def __str__(self) -> str:
        lines = [f"{self.kind} (confidence {self.confidence:.2f}): {self.summary}"]
        scope = self.scope.describe()
        if scope:
            lines.append(f"  scope: {scope}")
        if self.threshold:
            lines.append("  threshold: " + _threshold_text(self.threshold))
        for key, value in self.evidence.items():
            if not is_empty(value):
                lines.append(f"  {key}: {_text(value)}")
        for example in self.examples:
            lines.append(f"  example {example.get('source')}:{example.get('line')}: {example.get('text') or example.get('cause')}")
        lines.append(f"  next step: {self.next_step}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return _finding_html(self)


class Findings(list):
    """The findings of one diagnosis, most confident first.

    ``overview`` is set when the diagnosis found no blocker: the top failure
    causes and why none qualified (:func:`smtplogkit.findings.overview.failure_overview`).
    """

    overview: dict[str, Any] | None = None

    def to_dict(self) -> list[dict[str, Any]]:
        """Return every finding as JSON-ready values."""
        return [finding.to_dict() for finding in self]

    def to_json(self, **options: Any) -> str:
        """Return the findings as a JSON array."""
        return json.dumps(self.to_dict(), ensure_ascii=False, **options)

    def kinds(self) -> list[str]:
        """Return the kind of each finding, in order."""
        return [finding.kind for finding in self]

    def __str__(self) -> str:
        if not self:
            from .overview import overview_lines

            return "\n".join(["no blocker found", *overview_lines(self.overview or {})])
        return "\n\n".join(str(finding) for finding in self)

    def _repr_html_(self) -> str:
        if not self:
            from .overview import overview_lines

            lines = "".join(f"<p>{html.escape(line)}</p>" for line in overview_lines(self.overview or {}))
            return "<p>No blocker found.</p>" + lines
        return "".join(_finding_html(finding) for finding in self)


def is_empty(value: Any) -> bool:
    """Return whether an evidence value has nothing to show: None, NaN, "" or an empty (or all-empty) container."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value
    if isinstance(value, dict):
        return all(is_empty(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return all(is_empty(item) for item in value)
    return False


def format_number(value: Any) -> str:
    """Return a number as readable text, with no exponent from 0.0001 up.

    Values of 1000 or more are rounded to whole numbers (``4396.7`` reads
    ``4397``), smaller ones keep three significant digits, and only values
    below 0.0001 in magnitude, such as p-values, use an exponent (``6.62e-71``).
    There are no thousands separators, because evidence fields are joined
    with commas.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    number = float(value)
    if math.isnan(number):
        return "n/a"
    if abs(number) >= 1000 or number.is_integer():
        return f"{number:.0f}"
    return f"{number:.3g}"


def _text(value: Any) -> str:
    if isinstance(value, dict) and {"count", "total", "rate"} <= set(value):
        low, high = value.get("ci95", [None, None])
        return f"{value['count']}/{value['total']} = {value['rate']:.1%} (95% CI {low:.1%}-{high:.1%})"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items() if not is_empty(v))
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value if not is_empty(v))
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return format_number(value)
    return str(value)


def _threshold_text(threshold: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {format_number(v)}" for k, v in threshold.items() if not is_empty(v))


def _finding_html(finding: Finding) -> str:
    escape = html.escape
    rows = []
    scope = finding.scope.describe()
    if scope:
        rows.append(f"<tr><th>scope</th><td>{escape(scope)}</td></tr>")
    if finding.threshold:
        rows.append(f"<tr><th>threshold</th><td>{escape(_threshold_text(finding.threshold))}</td></tr>")
    for key, value in finding.evidence.items():
        if is_empty(value):
            continue
        rows.append(f"<tr><th>{escape(str(key))}</th><td>{escape(_text(value))}</td></tr>")
    for example in finding.examples:
        where = f"{example.get('source')}:{example.get('line')}"
        rows.append(f"<tr><th>example</th><td><code>{escape(where)}</code> {escape(str(example.get('text') or example.get('cause')))}</td></tr>")
    rows.append(f"<tr><th>next step</th><td>{escape(finding.next_step)}</td></tr>")
    return (f"<div class='smtplogkit-finding'><h4>{escape(finding.kind)} "
            f"<small>(confidence {finding.confidence:.2f})</small></h4><p>{escape(finding.summary)}</p>"
            f"<table>{''.join(rows)}</table></div>")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass
class Context:
    """Detector input: the enriched sessions and the diagnosis options.

    ``claimed`` contains the index labels of sessions that an earlier detector
    explained, so later detectors do not explain them again.
    """

    sessions: pd.DataFrame
    min_share: float = MIN_SHARE
    alpha: float = ALPHA
    min_sessions: dict[str, int] = field(default_factory=dict)
    claimed: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.failed = failed_mask(self.sessions)

    def minimum(self, kind: str, default: int) -> int:
        """Return the minimum failing sessions for ``kind``, after the caller's overrides."""
        return max(default, self.min_sessions.get(kind, default))

    def of_causes(self, causes: Iterable[str]) -> pd.Series:
        """Return a mask of unclaimed sessions with one of ``causes``."""
        mask = failed_mask(self.sessions, list(causes))
        if self.claimed:
            mask &= ~self.sessions.index.isin(list(self.claimed))
        return mask

    def claim(self, index: Iterable) -> None:
        """Mark sessions as explained by a finding."""
        self.claimed.update(index)


def scope_of(rows: pd.DataFrame, **override: Any) -> Scope:
    """Return the scope that a set of sessions covers."""
    def values(column: str) -> list:
        if column not in rows.columns:
            return []
        return sorted({v for v in rows[column].dropna().tolist()}, key=str)

    scope = Scope(networks=[str(v) for v in values("network")], identities=[str(v) for v in values("identity")],
                  hosts=[str(v) for v in values("host")], ports=[int(v) for v in values("port")],
                  start=rows["start"].min() if len(rows) else None, end=rows["start"].max() if len(rows) else None)
    for key, value in override.items():
        setattr(scope, key, value)
    return scope


def examples(rows: pd.DataFrame, count: int = 3) -> list[dict[str, Any]]:
    """Pick up to ``count`` sessions spread over time: first, middle, last."""
    ordered = rows.sort_values("start")
    if len(ordered) > count:
        picks = np.linspace(0, len(ordered) - 1, count).round().astype(int)
        ordered = ordered.iloc[sorted(set(picks))]
    out = []
    for _, row in ordered.iterrows():
        item = {column: _plain(row[column]) for column in EXAMPLE_COLUMNS if column in row.index}
        text = row.get("reply_text")
        if text is None or text is pd.NA:
            text = row.get("error_text")
        item["text"] = None if text is pd.NA else text
        out.append(item)
    return out


def confidence(count: int, p_value: float | None, base: float) -> float:
    """Return a heuristic confidence in 0..1.

    ``base`` is how directly the evidence names the blocker (an explicit
    reply text is near 0.9, a pattern in timeouts lower).  More failing
    sessions and a smaller p-value raise the score towards ``base``.
    """
    volume = 1 - math.exp(-count / 10)
    if p_value is None:
        significance = 0.85
    elif p_value < 1e-6:
        significance = 1.0
    elif p_value < 1e-3:
        significance = 0.95
    else:
        significance = 0.85
    return round(base * (0.6 + 0.4 * volume) * significance, 3)


@dataclass(slots=True)
class Cluster:
    """Failures of one kind in one group, and the sessions around them.

    The window spans the first to the last failure, and sessions without a
    timestamp are always in it.  ``rate`` is the share of the group's
    sessions in that window that failed this way.  ``p_value`` compares it
    with every session outside the window or the group.
    """

    key: Any
    failures: pd.DataFrame
    rate: Rate
    p_value: float
    by_split: dict[str, Rate]


def clusters(ctx: Context, mask: pd.Series, by: str | Sequence[str], split: str | None = "network",
             minimum: int = 1) -> list[Cluster]:
    """Group the failures in ``mask`` by ``by`` and measure each group's concentration.

    Parameters
    ----------
    ctx
        Detector context.
    mask
        Failures of the kind.
    by
        Column(s) that name a blocker's target (host, identity...).
    split
        Column to break each cluster's rate down by (network by default).
    minimum
        Groups with fewer failures are skipped.
    """
    frame = ctx.sessions
    keys = [by] if isinstance(by, str) else list(by)
    failed = mask.to_numpy(dtype=bool)
    if not failed.any():
        return []
    codes = frame.groupby(keys if len(keys) > 1 else keys[0], observed=True, dropna=False, sort=False).ngroup().to_numpy()
    starts = frame["start"].to_numpy(dtype="datetime64[ns]")
    untimed = np.isnat(starts)
    split_codes, split_names = pd.factorize(frame[split]) if split is not None and split in frame.columns else (None, None)
    group_ids, counts = np.unique(codes[failed], return_counts=True)
    out = []
    for group_id in group_ids[counts >= minimum]:
        same = codes == group_id
        failing = same & failed
        times = starts[failing & ~untimed]
        inside = same
        if len(times):
            # Sessions without a timestamp cannot be placed in time, so they count as inside.
            inside = same & (((starts >= times.min()) & (starts <= times.max())) | untimed)
        count, total = int(failing.sum()), int(inside.sum())
        outside_fail = int((failed & ~inside).sum())
        p_value = fisher_p(count, total, outside_fail, len(frame) - total)
        rows = frame[failing]
        key = tuple(rows[column].iloc[0] for column in keys)
        out.append(Cluster(key if len(keys) > 1 else key[0], rows, Rate.of(count, total), p_value,
                           _split_rates(split_codes, split_names, inside, failed)))
    return out


def _split_rates(codes, names, inside: np.ndarray, failed: np.ndarray) -> dict[str, Rate]:
    if codes is None:
        return {}
    valid = inside & (codes >= 0)
    totals = np.bincount(codes[valid], minlength=len(names))
    fails = np.bincount(codes[valid & failed], minlength=len(names))
    return {str(names[i]): Rate.of(int(fails[i]), int(totals[i])) for i in np.nonzero(totals)[0]}


def earned(ctx: Context, cluster: Cluster, minimum: int, min_share: float | None = None) -> bool:
    """Return whether a cluster carries enough evidence for a finding."""
    share = ctx.min_share if min_share is None else min_share
    return (cluster.rate.count >= minimum and cluster.rate.low >= share and cluster.p_value < ctx.alpha)
