"""Rows of attempts without failure, built a column at a time.

Most attempts in a relay's log went well: a connection, TLS, messages
accepted.  MTA readers yield those as :class:`~smtplogkit.records.PlainSession`
records, and the reader turns a chunk of them into columns here with numpy,
instead of building a dict per row.  :func:`record_row` gives the same row as a
dict through :func:`smtplogkit.sessions.plain_row`, and a test checks that both
agree.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from .labels import Cause, Outcome, Stage
from .records import PlainSession
from .sessions import TIMED_COLUMNS, plain_row


@dataclass(frozen=True, slots=True)
class FileColumns:
    """The columns every row of one file shares: source, format, default client and labels."""

    source: str
    format: str
    client: str | None
    labels: tuple[tuple[str, Any], ...]


def record_row(record: PlainSession) -> dict[str, Any]:
    """Return the row of one record as :func:`smtplogkit.sessions.build_session` would give it."""
    attrs = {"host": record.host, "ip": record.ip, "port": record.port, "tls_mode": record.tls_mode,
             "log_host": record.log_host, "container": record.container, "queue_id": record.queue_id,
             "recipients": record.recipients or None}
    stamps: list[tuple[Stage | None, Any]] = [(Stage.CONNECT, record.connected_at)]
    if record.tls_at is not None:
        stamps.append((Stage.TLS, record.tls_at))
    if record.sent_at is not None:
        stamps.append((Stage.DATA, record.sent_at))
    return plain_row(record.line, attrs, stamps, 1 if record.sent_at is not None else 0)


def _nanoseconds(pd, values: tuple) -> tuple[Any, Any]:
    """Return datetimes (or None) as nanoseconds since the epoch, and a mask of those present.

    A log's lines share few distinct timestamps, so each distinct one is
    converted once.  The unit is fixed because pandas may pick another for
    datetime objects.
    """
    codes, distinct = pd.factorize(pd.Series(values, dtype=object))
    converted = pd.to_datetime(list(distinct), utc=True).as_unit("ns").asi8
    present = codes >= 0
    return converted[codes.clip(min=0)] if len(converted) else codes.astype("int64"), present


_RECORD, _SESSION_ID, _FILE = (operator.itemgetter(index) for index in range(3))


def _file_columns(files: list[FileColumns]) -> dict[str, list[Any]]:
    """Return the source, format and client columns of rows whose file columns are ``files``."""
    count = len(files)
    if count and files.count(files[0]) == count:  # one file, the usual case: no value to look up per row
        first = files[0]
        return {"source": [first.source] * count, "format": [first.format] * count, "client": [first.client] * count}
    return {"source": [f.source for f in files], "format": [f.format for f in files],
            "client": [f.client for f in files]}


def plain_columns(entries: list[tuple[PlainSession, str, FileColumns]], names: list[str],
                  targets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the values of the columns ``names`` for records with their session ids and file columns.

    Values are lists or numpy arrays in row order, ready for the reader's
    conversion to the session dtypes.  Every record has ``connected_at``,
    and ``tls_at`` and ``sent_at`` whenever it reached those stages.  Given
    the dtypes (``targets``), the stage, cause and outcome columns and the
    counts and reply code come as arrays of those dtypes, made from numpy
    arrays without a Python value per row.
    """
    import numpy as np
    import pandas as pd

    count = len(entries)
    records = list(map(_RECORD, entries))
    files = list(map(_FILE, entries))
    fields = dict(zip(PlainSession._fields, zip(*records)))

    connected, _ = _nanoseconds(pd, fields["connected_at"])
    tls, has_tls = _nanoseconds(pd, fields["tls_at"])
    sent, has_sent = _nanoseconds(pd, fields["sent_at"])
    tls_ns = np.where(has_tls, tls, connected)  # the time the step before DATA ended
    sent_ns = np.where(has_sent, sent, tls_ns)
    end_ns = sent_ns

    nothing = [None] * count
    timings = {column: np.full(count, np.nan) for _, column in TIMED_COLUMNS}
    timings["connect_s"] = np.zeros(count)
    timings["tls_s"] = np.where(has_tls, np.maximum((tls_ns - connected) / 1e9, 0.0), np.nan)
    timings["data_s"] = np.where(has_sent, np.maximum((sent_ns - tls_ns) / 1e9, 0.0), np.nan)

    columns: dict[str, Any] = {
        "session_id": list(map(_SESSION_ID, entries)),
        **_file_columns(files),
        "line": list(fields["line"]),
        "start": pd.to_datetime(connected, utc=True, unit="ns"),
        "end": pd.to_datetime(end_ns, utc=True, unit="ns"),
        "host": list(fields["host"]),
        "ip": list(fields["ip"]),
        "port": list(fields["port"]),
        "tls_mode": list(fields["tls_mode"]),
        "enhanced_code": nothing,
        "reply_text": nothing,
        "error_text": nothing,
        "auth_mechanism": nothing,
        "identity": nothing,
        "recipients": list(fields["recipients"]),
        **timings,
        "duration_s": (end_ns - connected) / 1e9,
        "log_host": list(fields["log_host"]),
        "container": list(fields["container"]),
        "queue_id": list(fields["queue_id"]),
    }
    # Stamps out of order (a clock stepped back) take the row-by-row rule.
    stepped_back = (has_tls & (tls < connected)) | (has_sent & (sent < tls_ns))
    for position in np.flatnonzero(stepped_back):
        row = record_row(records[position])
        for _, column in (*TIMED_COLUMNS, (None, "duration_s")):
            value = row[column]
            columns[column][position] = np.nan if value is None else value
    if targets is None:
        reached = np.where(has_sent, Stage.DATA.value, np.where(has_tls, Stage.TLS.value, Stage.CONNECT.value))
        columns.update(last_stage_reached=reached.tolist(), failure_stage=[Stage.NONE.value] * count,
                       cause=[Cause.OK.value] * count,
                       outcome=np.where(has_sent, Outcome.OK.value, Outcome.UNKNOWN.value).tolist(),
                       reply_code=nothing, messages_sent=has_sent.astype("int64"), recipients_rejected=[0] * count)
    else:
        _typed_columns(pd, columns, targets, count, has_tls, has_sent)
    labels: dict[int, dict[str, Any]] = {}
    for name in names:
        if name not in columns:
            values = []
            for f in files:
                found = labels.get(id(f))
                if found is None:
                    found = labels[id(f)] = dict(f.labels)
                values.append(found.get(name))
            columns[name] = values
    return {name: columns[name] for name in names}


def _typed_columns(pd, columns: dict[str, Any], targets: dict[str, Any], count: int, has_tls, has_sent) -> None:
    """Replace the stage, cause and outcome columns, the reply code and the counts with arrays of their dtypes.

    The values are the ones :func:`plain_columns` gives as lists, and the
    arrays the ones the reader would make of them.
    """
    import numpy as np

    def code(name: str, value: str) -> int:
        return list(targets[name].categories).index(value)

    def categorical(name: str, codes) -> None:
        columns[name] = pd.Categorical.from_codes(codes.astype(np.int8), dtype=targets[name])

    stage = "last_stage_reached"
    categorical(stage, np.where(has_sent, code(stage, Stage.DATA.value),
                                np.where(has_tls, code(stage, Stage.TLS.value), code(stage, Stage.CONNECT.value))))
    categorical("outcome", np.where(has_sent, code("outcome", Outcome.OK.value), code("outcome", Outcome.UNKNOWN.value)))
    categorical("failure_stage", np.full(count, code("failure_stage", Stage.NONE.value)))
    categorical("cause", np.full(count, code("cause", Cause.OK.value)))
    empty = np.ones(count, dtype=bool)
    columns["reply_code"] = pd.arrays.IntegerArray(np.zeros(count, dtype=np.int64), empty)
    columns["recipients_rejected"] = pd.arrays.IntegerArray(np.zeros(count, dtype=np.int64), ~empty)
    columns["messages_sent"] = pd.arrays.IntegerArray(has_sent.astype(np.int64), ~empty)
