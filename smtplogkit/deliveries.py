"""``read_deliveries`` and ``read_signals``: MTA logs as mail administrators count them.

The session table (:func:`smtplogkit.read_logs`) has one row per connection
attempt.  Mail administrators count delivery records instead: one per
recipient and attempt (``status=sent``, ``deferred``, ``bounced``,
``expired``), including records with no connection of their own.  Format
modules that read MTA logs (Postfix, Exim, Sendmail) provide ``records``,
which this module turns into DataFrames.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import Counter
from datetime import tzinfo
from pathlib import Path
from typing import Any

from .envelope import strip_envelope
from .formats.base import ParseContext, ParseOptions
from .inputs import Chain, Decoded, Source, expand, group_rotations, log_skipped, open_lines
from .reader import SAMPLE_LINES, FileReport, _choose_format, _envelope_options, _resolve_tz
from .rotations import locate

logger = logging.getLogger(__name__)

DELIVERY_COLUMNS = [
    "source", "line", "ts", "log_host", "program", "pid", "queue_id", "message_id", "sender", "recipient",
    "orig_recipient", "relay", "relay_host", "relay_ip", "relay_port", "conn_use", "delay", "delay_before_qmgr",
    "delay_in_qmgr", "delay_conn_setup", "delay_transmission", "dsn", "status", "reason", "reply_code",
    "failure_stage", "cause", "session",
]
SIGNAL_COLUMNS = ["source", "line", "ts", "log_host", "program", "pid", "kind", "client_ip", "text"]
# Columns of text, read as pandas' "string" dtype like the sessions frame's text columns.
TEXT_COLUMNS = ("source", "log_host", "program", "pid", "queue_id", "message_id", "sender", "recipient",
                "orig_recipient", "relay", "relay_host", "relay_ip", "dsn", "reason", "kind", "client_ip", "text")


def _records(paths: Any, kind: str, format: str, tz: str | tzinfo | None) -> tuple[list[dict], list[dict]]:
    rows: list[dict] = []
    reports: list[dict] = []
    without_records: Counter[str] = Counter()
    zone = _resolve_tz(tz)
    # Rotations of one log are read as one stream, so a record whose message
    # facts (sender, message-id) are in the previous rotation still gets them.
    expansion = expand(paths)
    log_skipped(expansion.skipped)
    for source in group_rotations(expansion.sources):
        report = FileReport(source.name)
        envelope = _envelope_options(source, zone)
        decoded = Decoded()
        numbered = _Numbered(open_lines(source, decoded))
        lines = (strip_envelope(number, text, envelope) for number, text in numbered)
        sample = list(itertools.islice(lines, SAMPLE_LINES))
        report.encoding = decoded.encoding
        module = _choose_format(source, sample, format, report)
        if module is None or not hasattr(module, "records"):
            if module is not None:
                logger.debug("%s: format %s has no delivery records", source.name, module.NAME)
                without_records[module.NAME] += 1
            reports.extend(_part_reports(source, report))
            continue
        ctx = ParseContext(source.name, ParseOptions(tz=zone))
        first = len(rows)
        recorded: set[int] = set()  # lines that gave a record of either kind, numbered as the stream was read
        for record_kind, row in module.records(itertools.chain(sample, lines), ctx):
            recorded.add(row["line"])
            if record_kind == kind:
                if isinstance(source, Chain):
                    row["source"], row["line"] = locate(source, row["line"])
                else:
                    row["source"] = source.name
                rows.append(row)
        report.lines = numbered.finish()
        report.encoding, report.compression = decoded.encoding, decoded.compression
        cut = _cut_line_warnings(source, decoded, recorded)
        reports.extend(_part_reports(source, report, rows[first:], cut))
    if without_records:
        formats = ", ".join(f"{name} ({count})" for name, count in sorted(without_records.items()))
        files = sum(without_records.values())
        logger.warning("%d %s skipped because their format has no delivery records: %s. Only MTA logs "
                       "(postfix, exim, sendmail) have them.", files, "file" if files == 1 else "files", formats)
    return rows, reports


class _Numbered:
    """Number the lines of a file, and count them to the end even if the reader stops early."""

    def __init__(self, lines) -> None:
        self._lines = lines
        self.count = 0

    def __iter__(self):
        for text in self._lines:
            self.count += 1
            yield self.count, text

    def finish(self) -> int:
        """Count the lines not read yet, and return how many the file has."""
        for _ in self._lines:
            self.count += 1
        return self.count


def _cut_line_warnings(source: Source, decoded: Decoded, recorded: set[int]) -> dict[str, list[str]]:
    """Warn about each file's last line without a line end that gave no record; return the warnings by file.

    Such a line was most likely cut short because the log was copied or
    read while it was being written.  ``recorded`` contains the numbers (in
    the joined stream of a chain) of the lines that gave a record.
    """
    if isinstance(source, Chain):
        reading = source.reading
        parts = list(zip(source.parts, reading.starts, reading.decoded)) if reading is not None else []
    else:
        parts = [(source, 1, decoded)]
    warnings: dict[str, list[str]] = {}
    for part, start, part_decoded in parts:
        if part_decoded.cut is None or start + part_decoded.cut - 1 in recorded:
            continue
        message = (f"{part.name}:{part_decoded.cut}: the file's last line has no line end and gave no record; "
                   f"the log was probably copied or read while it was being written")
        warnings.setdefault(part.name, []).append(message)
        logger.warning("%s", message)
    return warnings


def _part_reports(source: Source, report: FileReport, rows: list[dict] | None = None,
                  warnings: dict[str, list[str]] | None = None) -> list[dict]:
    """Return the report of a file, or one per file of a chain of rotations.

    A line that gave one of ``rows`` counts as parsed and every other line
    as noise: these readers take what they need and pass over the rest.
    ``warnings`` are added to the report of the file they name.
    """
    rows = rows or []
    warnings = warnings or {}
    if not isinstance(source, Chain):
        _count_rows(report, report.lines, sum(1 for row in rows if row.get("line") is not None))
        report.warnings.extend(warnings.get(source.name, []))
        return [report.as_dict()]
    reading = source.reading
    starts = [*(reading.starts if reading is not None else []), report.lines + 1]
    parts = []
    for index, part in enumerate(source.parts):
        part_report = FileReport(part.name, report.format, report.confidence)
        if index + 1 < len(starts):
            part_report.encoding = reading.decoded[index].encoding
            part_report.compression = reading.decoded[index].compression
            lines = starts[index + 1] - starts[index]
            _count_rows(part_report, lines, sum(1 for row in rows if row["source"] == part.name))
        part_report.warnings.extend(warnings.get(part.name, []))
        parts.append(part_report.as_dict())
    return parts


def _count_rows(report: FileReport, lines: int, parsed: int) -> None:
    """Set a report's line counts: ``parsed`` lines gave a row, the others are noise."""
    report.lines = lines
    report.parsed = min(parsed, lines)
    report.noise = lines - report.parsed


def _frame(rows: list[dict], columns: list[str], reports: list[dict]):
    import pandas as pd

    from .labels import cause_dtype, stage_dtype

    frame = pd.DataFrame.from_records(rows, columns=columns)
    # The same timestamp and text dtypes as the sessions frame, so the two merge (merge_asof on ts and start).
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ns, UTC]")
    for column in TEXT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype(pd.StringDtype())
    for column in ("line", "relay_port", "conn_use", "reply_code"):
        if column in frame:
            frame[column] = pd.array(frame[column], dtype="Int64")
    for column in ("delay", "delay_before_qmgr", "delay_in_qmgr", "delay_conn_setup", "delay_transmission"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    if "failure_stage" in frame:
        frame["failure_stage"] = frame["failure_stage"].astype(stage_dtype())
        frame["cause"] = frame["cause"].astype(cause_dtype())
        frame["status"] = frame["status"].astype(pd.CategoricalDtype(["sent", "deferred", "bounced", "expired"]))
        frame["session"] = frame["session"].astype("boolean")
    frame.attrs["files"] = reports
    return frame


def read_deliveries(paths: Any, *, format: str = "auto", tz: str | tzinfo | None = None):
    """Read MTA logs into a DataFrame with one row per recipient delivery record.

    Parameters
    ----------
    paths
        Files, folders, globs or templates, as for :func:`smtplogkit.read_logs`.
        Rotated files (``maillog.2.gz``, ``maillog.1``, ``maillog``) are read
        oldest first, as one stream, so a record keeps the sender logged in
        the file before; ``source`` and ``line`` name the record's own file.
        Files a glob or folder matches that are not logs (README, ``.json``,
        ``.md``...) are skipped, as :func:`smtplogkit.read_logs` skips them in
        folders; a file named on its own is always read.  Logs of formats
        without delivery records (client transcripts) are skipped with one
        warning that counts them per format.
    format
        ``"postfix"``, ``"exim"``, ``"sendmail"``, or ``"auto"`` to detect it.
    tz
        Zone for timestamps printed without an offset (default UTC).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`DELIVERY_COLUMNS`: queue id, sender,
        recipient, relay host, ip and port, ``delay`` and Postfix's
        ``delays=a/b/c/d`` as ``delay_before_qmgr``, ``delay_in_qmgr``,
        ``delay_conn_setup`` (DNS, connect, greeting, TLS) and
        ``delay_transmission``, ``dsn``, ``status`` (sent, deferred, bounced,
        expired), ``reason``, and the ``failure_stage`` and ``cause`` the
        reason gives.  ``session`` is false for records that had no
        connection attempt of their own ("delivery temporarily suspended",
        "retry time not reached", qmgr's expiry).  ``reply_code`` is the
        code the format read or, failing that, the code the reason starts
        with (``250 2.0.0 OK``), for every status.  Text columns have
        pandas' ``string`` dtype and ``ts`` is ``datetime64[ns, UTC]``, as
        in the sessions frame, so ``pandas.merge_asof(deliveries, sessions,
        left_on="ts", right_on="start")`` works.  Columns a format does not
        log are empty.  :func:`link_sessions` adds the ``session_id`` of
        the attempt each record reports on.  ``attrs["files"]`` has a
        report per file: its lines, of which ``parsed`` gave a record and
        ``noise`` did not.
    """
    rows, reports = _records(paths, "delivery", format, tz)
    return _frame(rows, DELIVERY_COLUMNS, reports)


def link_sessions(deliveries, sessions):
    """Return ``deliveries`` with a ``session_id`` column: the connection attempt each record reports on.

    Parameters
    ----------
    deliveries : pandas.DataFrame
        Rows from :func:`read_deliveries`.
    sessions : pandas.DataFrame
        Rows from :func:`smtplogkit.read_logs` for the same files.

    Returns
    -------
    pandas.DataFrame
        A copy of ``deliveries`` with ``session_id`` (``string`` dtype), the
        id of the attempt whose result the record gives, or missing for a
        record without an attempt of its own (``session`` false) and for
        one whose attempt is not in ``sessions``.

    Notes
    -----
    A record belongs to the last attempt of the same log and queue id that
    started at or before the record's line.  The rotations of a log count
    as one log, read oldest first, and a path may be relative or absolute.
    When the record names the
    relay's address, the attempt must have gone to that address too.  So
    when one message goes to two domains over two connections at once,
    each record keeps its own connection's attempt.  Records with
    ``relay=none`` match on log and queue id alone: the connection never
    opened, and the attempt kept the address it tried.
    """
    import pandas as pd

    result = deliveries.copy()
    result["session_id"] = pd.Series(pd.NA, index=result.index, dtype=pd.StringDtype())
    if "queue_id" not in sessions or sessions.empty or result.empty:
        return result
    attempts = sessions.loc[sessions["queue_id"].notna() & sessions["line"].notna(),
                            ["session_id", "source", "line", "queue_id", "ip"]]
    attempts = attempts.astype({"source": "object", "queue_id": "object", "ip": "object", "line": "int64"})
    named = (result["session"].fillna(False).astype(bool) & result["queue_id"].notna()
             & result["line"].notna())
    records = result.loc[named, ["source", "line", "queue_id", "relay_ip"]]
    records = records.astype({"source": "object", "queue_id": "object", "relay_ip": "object", "line": "int64"})
    records["row"] = records.index
    streams = _streams([*attempts["source"], *records["source"]])
    for frame in (attempts, records):
        place = frame["source"].map(streams)
        frame["stream"] = place.str[0]
        frame["position"] = place.str[1] * _PART + frame["line"]
    with_ip = records[records["relay_ip"].notna()].rename(columns={"relay_ip": "ip"})
    without_ip = records[records["relay_ip"].isna()].drop(columns="relay_ip")
    found = []
    if not with_ip.empty:
        found.append(_last_before(with_ip, attempts.dropna(subset=["ip"]), ["stream", "queue_id", "ip"]))
    if not without_ip.empty:
        found.append(_last_before(without_ip, attempts.drop(columns="ip"), ["stream", "queue_id"]))
    for matched in found:
        matched = matched.dropna(subset=["session_id"])
        result.loc[matched["row"].to_numpy(), "session_id"] = matched["session_id"].to_numpy()
    return result


# Positions of lines in a stream of rotations: a file's lines come after every line of the files before it.
_PART = 1 << 40


def _streams(names: list[str]) -> dict[str, tuple[str, int]]:
    """Return, for each file name, the log it is a part of (its newest file's full path) and its place among the parts.

    Rotations of one log (``maillog.1``, ``maillog``) are one stream, as the
    readers join them, so an attempt in one file and its record in the next
    match.  Full paths make ``logs/maillog`` and ``/srv/logs/maillog`` one log.
    """
    full = {name: os.path.abspath(name) for name in set(names)}
    places: dict[str, tuple[str, int]] = {}
    for source in group_rotations([Source(path, Path(path)) for path in sorted(set(full.values()))]):
        parts = source.parts if isinstance(source, Chain) else [source]
        for order, part in enumerate(parts):
            places[part.name] = (parts[-1].name, order)
    return {name: places[path] for name, path in full.items()}


def _last_before(records, attempts, keys: list[str]):
    """Return ``records`` with the ``session_id`` of the last attempt with equal ``keys`` at or before each position."""
    import pandas as pd

    return pd.merge_asof(records.sort_values("position"), attempts.sort_values("position"), on="position",
                         by=keys, direction="backward", suffixes=("", "_attempt"))


def read_signals(paths: Any, *, format: str = "auto", tz: str | tzinfo | None = None):
    """Read the server-side signs of a relay protecting itself from an MTA log.

    Parameters
    ----------
    paths
        Files, folders, globs or templates, as for :func:`read_deliveries`.
    format
        ``"postfix"``, or ``"auto"`` to detect it.  Only formats with
        delivery records (Postfix, Exim, Sendmail) are read, and only
        Postfix logs these signs.
    tz
        Zone for timestamps printed without an offset (default UTC).

    Returns
    -------
    pandas.DataFrame
        One row per Postfix ``smtpd`` rate or concurrency limit warning
        (anvil's limits), "too many connections" rejection, postscreen
        rejection or failed postscreen test, and smtpd ``reject:`` line, with
        the columns of :data:`SIGNAL_COLUMNS`: the line's ``source``,
        ``line``, ``ts``, ``log_host``, ``program`` and ``pid``, then
        ``kind`` (``rate_limit``, ``too_many_connections``,
        ``postscreen_reject``, ``postscreen_test_failed``, ``smtpd_reject``),
        ``client_ip`` and the line's ``text``.  ``attrs["files"]`` has the
        per-file reports, as for :func:`smtplogkit.read_logs`.
    """
    rows, reports = _records(paths, "signal", format, tz)
    return _frame(rows, SIGNAL_COLUMNS, reports)
