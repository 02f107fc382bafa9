"""Assembly of one session row from the events of one connection attempt.

The builder walks a session's events in order, tracking which protocol step
the client is waiting on.  Replies are matched to the commands they respond to in
order, so pipelined commands (RFC 2920) are handled.  The first failure that
the session did not recover from (an EHLO rejected and a HELO accepted is
recovered; so is an AUTH mechanism rejected and another accepted) is handed to
:func:`smtplogkit.rules.classify` for its stage and cause.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from collections.abc import Iterable

from . import replycodes as rc
from .labels import STAGE_ORDER, Cause, Outcome, Stage, TlsMode
from .records import CLIENT, CONNECT, CONNECTED, ERROR, LOCAL, NOTE, SENT, SERVER, TLS_OK, Event
from .redact import auth_payload_note
from .rules import Failure, classify

VERB_STAGES: dict[str, Stage] = {
    "EHLO": Stage.EHLO,
    "HELO": Stage.EHLO,
    "LHLO": Stage.EHLO,
    "STARTTLS": Stage.STARTTLS,
    "AUTH": Stage.AUTH,
    "MAIL": Stage.MAIL_FROM,
    "RCPT": Stage.RCPT_TO,
    "DATA": Stage.DATA,
    "BDAT": Stage.DATA,
    ".": Stage.DATA,  # end of message data, followed by the final reply
    "QUIT": Stage.QUIT,
    "RSET": Stage.NONE,
    "NOOP": Stage.NONE,
}
TIMED_STAGES = (Stage.CONNECT, Stage.TLS, Stage.GREETING, Stage.EHLO, Stage.STARTTLS, Stage.AUTH, Stage.MAIL_FROM, Stage.RCPT_TO, Stage.DATA)
TIMED_COLUMNS = tuple((stage, f"{stage.value}_s") for stage in TIMED_STAGES)
# Attrs that become extra columns when a format sets them (MTA queue ids).
EXTRA_ATTRS = ("queue_id",)
NETWORK_CAUSES = frozenset({
    Cause.DNS_NXDOMAIN, Cause.DNS_FAILURE, Cause.CONNECT_TIMEOUT, Cause.CONNECT_REFUSED,
    Cause.NETWORK_UNREACHABLE, Cause.CONNECTION_RESET, Cause.TLS_MODE_MISMATCH,
    Cause.TLS_HANDSHAKE_FAILURE, Cause.CERTIFICATE_INVALID, Cause.SERVER_DISCONNECTED,
    Cause.READ_TIMEOUT,
})


@dataclass(slots=True)
class _Candidate:
    stage: Stage
    text: str
    code: int | None = None
    enhanced: str | None = None
    event: Event | None = None
    mechanism: str | None = None
    auth: str | None = None


@dataclass(slots=True)
class SessionState:
    """State the builder keeps about a session while it walks the events."""

    pending: Stage = Stage.CONNECT
    reached: Stage | None = None
    connected: bool = False
    greeted: bool = False
    commands: deque = field(default_factory=deque)
    reply_lines: list[str] = field(default_factory=list)
    failures: list[_Candidate] = field(default_factory=list)
    mechanism: str | None = None
    auth_note: str | None = None
    auth_challenged: bool = False
    auth_initial_response: bool = True
    starttls_sent: bool = False
    passed: set = field(default_factory=set)
    messages_sent: int = 0
    recipients: int = 0
    recipients_rejected: int = 0
    reached_at: dict[Stage, datetime] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    last_ts: datetime | None = None
    first_ts: datetime | None = None


def _reach(state: SessionState, stage: Stage, ts: datetime | None) -> None:
    if stage is Stage.NONE:
        return
    state.passed.add(stage)
    if state.reached is None or STAGE_ORDER[stage] > STAGE_ORDER[state.reached]:
        state.reached = stage
    if ts is not None and stage not in state.reached_at:
        state.reached_at[stage] = ts


def build_session(events: list[Event], times: dict[str, Any] | None = None, *,
                  failing_reply: bool = False) -> dict[str, Any]:
    """Return the session columns that the events of one session determine.

    Columns that come from the file (``source``, ``format``, labels) are added
    by the reader.  When ``times`` is given, it receives the times that the
    row's time columns come from: ``"start"``, ``"end"`` and ``"reached"``,
    the time each stage was first reached.  A caller that knows a server
    event has a code of 400 or more, or 334, passes ``failing_reply=True``
    to skip the quick paths, which give up at such an event.
    """
    if events and events[-1].verb == ERROR and events[-1].direction == LOCAL:
        # Both quick paths give up at a local error; an MTA's failed attempt has only local events.
        row = local_row(events, times)
        return row if row is not None else _build_general(events, times)
    if failing_reply:
        return _build_general(events, times)
    row = _quick_row(events, times)
    if row is None:
        row = _transcript_row(events, times)
    if row is not None:
        return row
    return _build_general(events, times)


def _build_general(events: list[Event], times: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the row of any session, walking its events one by one."""
    state = SessionState()
    walk_events(state, events)
    return _row(state, events[0].line if events else None, bool(events), times)


def walk_events(state: SessionState, events: Iterable[Event]) -> None:
    """Update ``state`` with each event in turn, as the general path does for a whole session."""
    attrs = state.attrs
    for event in events:
        if event.attrs:
            for key, value in event.attrs.items():
                if key == "labels" and value:
                    attrs["labels"] = {**value, **attrs.get("labels", {})}
                elif value is not None and key not in attrs:
                    attrs[key] = value
        ts = event.ts
        if ts is not None:
            if state.first_ts is None:
                state.first_ts = ts
            state.last_ts = ts
        direction = event.direction
        if direction == SERVER:
            _on_server(state, event)
        elif direction == CLIENT:
            _on_client(state, event)
        elif direction == LOCAL:
            _on_local(state, event)


def copy_state(state: SessionState) -> SessionState:
    """Return a copy of ``state`` that later events can change without changing ``state``.

    Events and candidates are shared, not copied, because the builder
    never changes them.
    """
    return SessionState(
        pending=state.pending, reached=state.reached, connected=state.connected, greeted=state.greeted,
        commands=deque(state.commands), reply_lines=list(state.reply_lines), failures=list(state.failures),
        mechanism=state.mechanism, auth_note=state.auth_note, auth_challenged=state.auth_challenged,
        auth_initial_response=state.auth_initial_response, starttls_sent=state.starttls_sent,
        passed=set(state.passed), messages_sent=state.messages_sent, recipients=state.recipients,
        recipients_rejected=state.recipients_rejected, reached_at=dict(state.reached_at), texts=list(state.texts),
        attrs=dict(state.attrs),  # the walk replaces the labels dict, never changes it
        last_ts=state.last_ts, first_ts=state.first_ts)


def finish_row(state: SessionState, line: int, times: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the row of a session whose events, the first of them on ``line``, were all walked into ``state``."""
    return _row(state, line, True, times)


@dataclass(slots=True)
class _LocalFacts:
    """The facts of a session of local events that :func:`_fill_failure` and :func:`_reached_before_failure` read."""

    texts: list[str]
    connected: bool
    failures: list[_Candidate]
    messages_sent: int
    passed: set


def local_row(events: list[Event], times: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Return the row of a session made only of local events, such as an MTA's attempt, else None.

    It gives the row :func:`_build_general` gives, walking the events with
    the state in local variables (a test compares both on every fixture).
    Sessions with a client or server event, or with labels, return None.
    ``times`` is as for :func:`build_session`.
    """
    attrs: dict[str, Any] = {}
    passed: set = set()
    reached_at: dict[Stage, datetime] = {}
    reached: Stage | None = None
    pending = Stage.CONNECT
    connected = False
    messages_sent = 0
    failures: list[_Candidate] = []
    texts: list[str] = []
    first_ts = last_ts = None
    order = _ORDER
    for event in events:
        if event.direction != LOCAL:
            return None
        event_attrs = event.attrs
        if event_attrs:
            if event_attrs.get("labels"):
                return None
            for key, value in event_attrs.items():
                if value is not None and key not in attrs and key != "labels":
                    attrs[key] = value
        ts = event.ts
        if ts is not None:
            if first_ts is None:
                first_ts = ts
            last_ts = ts
        kind = event.verb
        # Each branch does what _on_local (and _reach) would.
        if kind == CONNECT:
            pending = Stage.CONNECT
            continue
        if kind == ERROR:
            stage = event_attrs.get("stage") or pending
            if event_attrs.get("connected"):
                connected = True
            texts.append(event.text)
            failures.append(_Candidate(_STAGES.get(stage) or Stage(stage), event.text, event.code, event.enhanced,
                                       event, event_attrs.get("mechanism"), None))
            continue
        if kind == CONNECTED:
            connected = True
            stage = Stage.CONNECT
            implicit = event_attrs.get("tls_mode", attrs.get("tls_mode")) == TlsMode.IMPLICIT
            pending = Stage.TLS if implicit else Stage.GREETING
        elif kind == TLS_OK:
            stage = Stage.TLS
            pending = Stage.GREETING
        elif kind == SENT:
            messages_sent += int(event_attrs.get("messages", 1))
            stage = Stage.DATA
        else:
            continue
        passed.add(stage)
        if reached is None or order[stage] > order[reached]:
            reached = stage
        if ts is not None and stage not in reached_at:
            reached_at[stage] = ts

    port = attrs.get("port")
    tls_mode = attrs.get("tls_mode")
    row = _attrs_row(events[0].line if events else None, first_ts, last_ts, attrs, messages_sent,
                     attrs.get("recipients_rejected") or 0)
    if connected and reached is None:
        passed.add(Stage.CONNECT)
        reached = Stage.CONNECT
    facts = _LocalFacts(texts, connected, failures, messages_sent, passed)
    if not failures:
        row.update(_NO_FAILURE)
        row["outcome"] = _OK if reached is not None and order[reached] >= _GREETING_ORDER or messages_sent else _UNKNOWN
        if reached is None and not events:
            row["outcome"] = _UNKNOWN
    else:
        _fill_failure(row, facts, failures[0], tls_mode, port)
        reached = _reached_before_failure(facts, row["failure_stage"])
    row["last_stage_reached"] = reached.value if reached is not None else None
    _timings(row, first_ts, last_ts, reached_at, times)
    return row


# Local event kinds that reach a stage without any failure, and the stage.
_QUICK_STAGES = {CONNECTED: Stage.CONNECT, TLS_OK: Stage.TLS, SENT: Stage.DATA, NOTE: None}


def _quick_row(events: list[Event], times: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Return the row of a session made only of connected, TLS, sent and note events, else None.

    Most sessions an MTA logs went well: a connection, maybe TLS, messages
    accepted.  Their row needs none of the builder's command tracking, so
    :func:`plain_row` computes it directly, with the same values the general
    path gives (a test runs both on every fixture).
    """
    if not events:
        return None
    attrs: dict[str, Any] = {}
    stamps: list[tuple[Stage | None, datetime | None]] = []
    messages_sent = 0
    for event in events:
        if event.direction != LOCAL:
            return None
        kind = event.verb
        if kind not in _QUICK_STAGES:
            return None
        if event.attrs:
            for key, value in event.attrs.items():
                if key == "labels":
                    if value:
                        return None
                elif value is not None and key not in attrs:
                    attrs[key] = value
        if kind == SENT:
            messages_sent += int(event.attrs.get("messages", 1))
        stamps.append((_QUICK_STAGES[kind], event.ts))
    return plain_row(events[0].line, attrs, stamps, messages_sent, times)


def _attrs_row(line: int | None, first_ts: datetime | None, last_ts: datetime | None, attrs: dict[str, Any],
               messages_sent: int, recipients_rejected: int) -> dict[str, Any]:
    """Return the columns of a session row that come from its attrs, first line, times and counts."""
    port = attrs.get("port")
    tls_mode = attrs.get("tls_mode")
    row: dict[str, Any] = {
        "line": line,
        "start": first_ts,
        "end": last_ts,
        "host": attrs.get("host"),
        "ip": attrs.get("ip"),
        "port": int(port) if port is not None else None,
        "tls_mode": str(tls_mode) if tls_mode is not None else None,
        "client": attrs.get("client"),
        "auth_mechanism": attrs.get("mechanism"),
        "identity": attrs.get("identity"),
        "messages_sent": messages_sent,
        "recipients": attrs.get("recipients") or 0,
        "recipients_rejected": recipients_rejected,
        "log_host": attrs.get("log_host"),
        "container": attrs.get("container"),
    }
    for name in EXTRA_ATTRS:
        if attrs.get(name) is not None:
            row[name] = attrs[name]
    return row


def plain_row(line: int, attrs: dict[str, Any], stamps: list[tuple[Stage | None, datetime | None]],
              messages_sent: int, times: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the row of a session that had no failure.

    Parameters
    ----------
    line
        The number of the session's first line.
    attrs
        The session's attributes (``host``, ``ip``, ``port``, ``tls_mode``,
        ``log_host``, ``queue_id``, ``recipients`` and the like).
    stamps
        In order, the stage each event reached (None for a note) and its time.
    messages_sent
        Messages the server accepted.
    times
        As for :func:`build_session`.
    """
    reached_at: dict[Stage, datetime] = {}
    reached: Stage | None = None
    first_ts = last_ts = None
    for stage, ts in stamps:
        if ts is not None:
            if first_ts is None:
                first_ts = ts
            last_ts = ts
        if stage is None:
            continue
        if reached is None or _ORDER[stage] > _ORDER[reached]:
            reached = stage
        if ts is not None and stage not in reached_at:
            reached_at[stage] = ts
    row = _attrs_row(line, first_ts, last_ts, attrs, messages_sent, 0)
    row.update(_NO_FAILURE)
    row["outcome"] = _OK if reached is not None and _ORDER[reached] >= _GREETING_ORDER or messages_sent else _UNKNOWN
    row["last_stage_reached"] = reached.value if reached is not None else None
    _timings(row, first_ts, last_ts, reached_at, times)
    return row


# The columns of a failed session that its failure decides, in the order local_row sets them.
FAILURE_COLUMNS = ("failure_stage", "cause", "outcome", "reply_code", "enhanced_code", "reply_text", "error_text",
                   "last_stage_reached")


def failure_row(line: int, attrs: dict[str, Any], stamps: list[tuple[Stage | None, datetime | None]],
                messages_sent: int, failure: dict[str, Any], times: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the row of a failed session of local events whose :data:`FAILURE_COLUMNS` are already known.

    An MTA reader computes ``failure`` with :func:`local_failure_columns`,
    or reuses the columns of an earlier attempt with the same failure (the
    same reason, port, TLS mode and stages passed).  The other columns come
    from ``attrs``, ``stamps`` and ``messages_sent`` as in
    :func:`plain_row`, where ``stamps`` also lists each error event, with
    None as its stage.
    """
    reached_at: dict[Stage, datetime] = {}
    first_ts = last_ts = None
    for stage, ts in stamps:
        if ts is None:
            continue
        if first_ts is None:
            first_ts = ts
        last_ts = ts
        if stage is not None and stage not in reached_at:
            reached_at[stage] = ts
    row = _attrs_row(line, first_ts, last_ts, attrs, messages_sent, attrs.get("recipients_rejected") or 0)
    row.update(failure)
    _timings(row, first_ts, last_ts, reached_at, times)
    return row


def local_failure_columns(stage: Stage, text: str, code: int | None, enhanced: str | None, connected: bool,
                          passed: set[Stage], messages_sent: int, tls_mode: Any, port: Any) -> dict[str, Any]:
    """Return the :data:`FAILURE_COLUMNS` that :func:`local_row` gives a session of local events with one error.

    ``stage``, ``text``, ``code`` and ``enhanced`` are the error event's,
    ``passed`` the stages the session's other events reached, and
    ``tls_mode`` and ``port`` its attrs (None when absent).
    """
    if connected and not passed:
        passed = {Stage.CONNECT}  # as local_row does for a connection with no stage reached
    event = Event(0, LOCAL, text, None, None, ERROR, code, enhanced, {})
    failure = _Candidate(stage, text, code, enhanced, event, None, None)
    facts = _LocalFacts([text], connected, [failure], messages_sent, passed)
    columns: dict[str, Any] = {}
    _fill_failure(columns, facts, failure, tls_mode, port)
    reached = _reached_before_failure(facts, columns["failure_stage"])
    columns["last_stage_reached"] = reached.value if reached is not None else None
    return columns


def _transcript_row(events: list[Event], times: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Return the row of a client transcript without any failure, else None.

    Most client sessions are commands and replies that all went well.  Their
    row needs neither the reply texts nor the failure bookkeeping, so this
    walks the events with the builder's stage tracking kept in local
    variables, then hands :func:`_row` the state it needs.
    At the first failing reply, 334 challenge, local error or unusual command
    it returns None and the general path reads the session from its start.
    A test compares both paths on every fixture.
    """
    if not events:
        return None
    attrs: dict[str, Any] = {}
    commands: deque = deque()
    reached_at: dict[Stage, datetime] = {}
    order = STAGE_ORDER
    reached: Stage | None = None
    pending = Stage.CONNECT
    connected = greeted = starttls_sent = False
    mechanism = None
    messages_sent = recipients = 0
    first_ts = last_ts = None
    for event in events:
        event_attrs = event.attrs
        if event_attrs:
            for key, value in event_attrs.items():
                if key == "labels" and value:
                    attrs["labels"] = {**value, **attrs.get("labels", {})}
                elif value is not None and key not in attrs:
                    attrs[key] = value
        ts = event.ts
        if ts is not None:
            if first_ts is None:
                first_ts = ts
            last_ts = ts
        direction = event.direction
        # Each branch does what _on_server, _on_client or _on_local (and _reach) would.
        if direction == SERVER:
            code = event.code
            if code is None:
                continue
            if code >= 400 or code == rc.AUTH_CHALLENGE:
                return None
            if event_attrs and event_attrs.get("continued"):
                continue
            if not connected:
                connected = True
                if reached is None or order[Stage.CONNECT] > order[reached]:
                    reached = Stage.CONNECT
                if ts is not None and Stage.CONNECT not in reached_at:
                    reached_at[Stage.CONNECT] = ts
            if not greeted and not commands:
                greeted = True
                if reached is None or order[Stage.GREETING] > order[reached]:
                    reached = Stage.GREETING
                if ts is not None and Stage.GREETING not in reached_at:
                    reached_at[Stage.GREETING] = ts
                pending = Stage.EHLO
                continue
            verb, stage, _ = commands.popleft() if commands else ("", pending, None)
            if verb == "STARTTLS" and code == rc.SERVICE_READY:
                stage = Stage.STARTTLS
                pending = Stage.TLS
            elif verb == "DATA" and code == rc.START_MAIL_INPUT:
                pending = Stage.DATA
                commands.appendleft((".", Stage.DATA, None))  # the final reply is still due
                continue
            elif code == rc.OK and (verb == "." or verb == "BDAT"):
                messages_sent += 1
            if stage is Stage.NONE:
                continue
            if reached is None or order[stage] > order[reached]:
                reached = stage
            if ts is not None and stage not in reached_at:
                reached_at[stage] = ts
        elif direction == CLIENT:
            verb = event.verb
            stage = VERB_STAGES.get(verb)
            if stage is None:
                if verb is None or verb.isupper():
                    continue  # _on_client ignores it too
                return None  # a lower-case verb: the general path upper-cases it
            if verb == "AUTH":
                mechanism = event_attrs.get("mechanism") or mechanism
            elif verb == "STARTTLS":
                starttls_sent = True
            elif verb == "RCPT":
                recipients += 1
            if pending is Stage.TLS and verb != "STARTTLS":
                # The client spoke again after STARTTLS, so the handshake worked.
                if reached is None or order[Stage.TLS] > order[reached]:
                    reached = Stage.TLS
                if ts is not None and Stage.TLS not in reached_at:
                    reached_at[Stage.TLS] = ts
            if not connected:
                connected = True
                if reached is None or order[Stage.CONNECT] > order[reached]:
                    reached = Stage.CONNECT
                if ts is not None and Stage.CONNECT not in reached_at:
                    reached_at[Stage.CONNECT] = ts
            pending = stage
            commands.append((verb, stage, event))
        elif direction == LOCAL:
            kind = event.verb
            if kind == CONNECT:
                pending = Stage.CONNECT
                continue
            if kind == CONNECTED:
                connected = True
                stage = Stage.CONNECT
                implicit = event_attrs.get("tls_mode", attrs.get("tls_mode")) == TlsMode.IMPLICIT
                pending = Stage.TLS if implicit else Stage.GREETING
            elif kind == TLS_OK:
                stage = Stage.TLS
                pending = Stage.EHLO if greeted else Stage.GREETING
            elif kind == SENT:
                messages_sent += int(event_attrs.get("messages", 1))
                stage = Stage.DATA
            elif kind == ERROR:
                return None
            else:
                continue
            if reached is None or order[stage] > order[reached]:
                reached = stage
            if ts is not None and stage not in reached_at:
                reached_at[stage] = ts
    state = SessionState(pending=pending, reached=reached, connected=connected, greeted=greeted, mechanism=mechanism,
                         starttls_sent=starttls_sent, messages_sent=messages_sent, recipients=recipients,
                         reached_at=reached_at, attrs=attrs, first_ts=first_ts, last_ts=last_ts)
    return _row(state, events[0].line if events else None, bool(events), times)


def _on_local(state: SessionState, event: Event) -> None:
    kind = event.verb
    if kind == CONNECT:
        state.pending = Stage.CONNECT
    elif kind == CONNECTED:
        state.connected = True
        _reach(state, Stage.CONNECT, event.ts)
        implicit = event.attrs.get("tls_mode", state.attrs.get("tls_mode")) == TlsMode.IMPLICIT
        state.pending = Stage.TLS if implicit else Stage.GREETING
    elif kind == TLS_OK:
        _reach(state, Stage.TLS, event.ts)
        state.pending = Stage.EHLO if state.greeted else Stage.GREETING
    elif kind == SENT:
        state.messages_sent += int(event.attrs.get("messages", 1))
        _reach(state, Stage.DATA, event.ts)
    elif kind == ERROR:
        stage = event.attrs.get("stage") or state.pending
        if event.attrs.get("connected"):
            state.connected = True
        state.texts.append(event.text)
        if event.code is not None and _duplicates_reply(state, event):
            return
        # An error-only log may name the AUTH mechanism in the error itself (Symfony's "Authenticator XOAUTH2 returned").
        mechanism = state.mechanism or event.attrs.get("mechanism")
        state.failures.append(_Candidate(Stage(stage), event.text, event.code, event.enhanced, event, mechanism, state.auth_note))


def _duplicates_reply(state: SessionState, event: Event) -> bool:
    """Return whether a local error repeats a failing reply already seen."""
    return any(c.code == event.code and c.event is not None and c.event.direction == SERVER for c in state.failures)


def _on_client(state: SessionState, event: Event) -> None:
    verb = (event.verb or "").upper()
    stage = VERB_STAGES.get(verb)
    if stage is None:
        if state.commands and state.commands[-1][0] == "AUTH":
            return  # a continuation line of the AUTH exchange
        return
    if verb == "AUTH":
        state.mechanism = event.attrs.get("mechanism") or state.mechanism
        state.auth_challenged = False
        state.auth_note = event.attrs.get("auth_note")
        state.auth_initial_response = bool(event.attrs.get("initial_response", True))
    if verb == "STARTTLS":
        state.starttls_sent = True
    if state.pending is Stage.TLS and verb != "STARTTLS":
        _reach(state, Stage.TLS, event.ts)  # the client spoke again, so the handshake worked
    if verb == "RCPT":
        state.recipients += 1
    if not state.connected:
        state.connected = True
        _reach(state, Stage.CONNECT, event.ts)
    state.pending = stage
    state.commands.append((verb, stage, event))


def _on_server(state: SessionState, event: Event) -> None:
    if event.code is None:
        return
    state.reply_lines.append(event.text)
    if event.attrs.get("continued"):
        return
    text = " ".join(state.reply_lines)
    state.reply_lines = []
    state.texts.append(text)
    if not state.connected:
        state.connected = True
        _reach(state, Stage.CONNECT, event.ts)

    if not state.greeted and not state.commands:
        _on_greeting(state, event, text)
        return

    verb, stage, command = state.commands.popleft() if state.commands else ("", state.pending, None)
    code = event.code
    if verb == "AUTH" and code == rc.AUTH_CHALLENGE:
        state.auth_challenged = True
        state.commands.appendleft((verb, stage, command))  # the exchange goes on
        return
    if rc.is_failure(code):
        if verb == "AUTH" and not state.auth_challenged and not state.auth_initial_response:
            note = state.auth_note or "no_challenge"
        else:
            note = state.auth_note
        if verb == "RCPT":
            state.recipients_rejected += 1
        state.failures.append(_Candidate(stage, text, code, event.enhanced, event, state.mechanism, note))
        if verb in ("HELO", "EHLO") or stage is Stage.NONE:
            return
        return
    _on_success(state, verb, stage, event)


def _on_greeting(state: SessionState, event: Event, text: str) -> None:
    state.greeted = True
    if rc.is_failure(event.code):
        state.failures.append(_Candidate(Stage.GREETING, text, event.code, event.enhanced, event))
        return
    _reach(state, Stage.GREETING, event.ts)
    state.pending = Stage.EHLO


def _on_success(state: SessionState, verb: str, stage: Stage, event: Event) -> None:
    code = event.code
    if verb == "STARTTLS" and code == rc.SERVICE_READY:
        _reach(state, Stage.STARTTLS, event.ts)
        state.pending = Stage.TLS
        return
    if verb == "DATA" and code == rc.START_MAIL_INPUT:
        state.pending = Stage.DATA
        state.commands.appendleft((".", Stage.DATA, None))  # the final reply is still due
        return
    if verb in (".", "BDAT") and code == rc.OK:
        state.messages_sent += 1
    if verb in ("EHLO", "HELO", "LHLO"):
        # A rejected EHLO followed by an accepted HELO is recovered.
        state.failures = [f for f in state.failures if f.stage is not Stage.EHLO]
    if verb == "AUTH":
        state.failures = [f for f in state.failures if f.stage is not Stage.AUTH]
    _reach(state, stage, event.ts)


def _choose_failure(state: SessionState) -> _Candidate | None:
    if not state.failures:
        return None
    return state.failures[0]


def _row(state: SessionState, line: int | None, has_events: bool,
         times: dict[str, Any] | None = None) -> dict[str, Any]:
    attrs = state.attrs
    port = attrs.get("port")
    tls_mode = attrs.get("tls_mode")
    if state.starttls_sent and tls_mode in (None, TlsMode.NONE, "none"):
        tls_mode = TlsMode.STARTTLS  # the connection opened plain, as every STARTTLS one does
    row: dict[str, Any] = {
        "line": line,
        "start": state.first_ts,
        "end": state.last_ts,
        "host": attrs.get("host"),
        "ip": attrs.get("ip"),
        "port": int(port) if port is not None else None,
        "tls_mode": str(tls_mode) if tls_mode is not None else None,
        "client": attrs.get("client"),
        "auth_mechanism": state.mechanism or attrs.get("mechanism"),
        "identity": attrs.get("identity"),
        "messages_sent": state.messages_sent,
        "recipients": state.recipients or attrs.get("recipients") or 0,
        "recipients_rejected": state.recipients_rejected or attrs.get("recipients_rejected") or 0,
        "log_host": attrs.get("log_host"),
        "container": attrs.get("container"),
    }
    # Labels a log line carries about itself (a worker or network field of a
    # JSON log) become extra columns, like the labels a caller passes.
    for name, value in (attrs.get("labels") or {}).items():
        row.setdefault(name, value)
    for name in EXTRA_ATTRS:
        if attrs.get(name) is not None:
            row[name] = attrs[name]
    if state.connected and state.reached is None:
        _reach(state, Stage.CONNECT, None)
    failure = _choose_failure(state)

    if failure is None:
        row.update(_NO_FAILURE)
        row["outcome"] = _OK if state.reached is not None and STAGE_ORDER[state.reached] >= _GREETING_ORDER or state.messages_sent else _UNKNOWN
        if state.reached is None and not has_events:
            row["outcome"] = _UNKNOWN
    else:
        _fill_failure(row, state, failure, tls_mode, port)
    reached = _reached_before_failure(state, row["failure_stage"]) if failure is not None else state.reached
    row["last_stage_reached"] = reached.value if reached is not None else None
    _fill_timings(row, state, times)
    return row


# The step a failure at each stage implies was passed, for logs (MTA status
# lines, bare errors) that name the failing command but not the steps before.
IMPLIED_BEFORE: dict[Stage, Stage] = {
    Stage.TLS: Stage.CONNECT,
    Stage.GREETING: Stage.CONNECT,
    Stage.EHLO: Stage.GREETING,
    Stage.STARTTLS: Stage.EHLO,
    Stage.AUTH: Stage.EHLO,
    Stage.MAIL_FROM: Stage.EHLO,
    Stage.RCPT_TO: Stage.MAIL_FROM,
    Stage.DATA: Stage.RCPT_TO,
    Stage.QUIT: Stage.DATA,
}


def _reached_before_failure(state: SessionState, failure_stage: str) -> Stage | None:
    """Return the furthest stage passed before the one that failed.

    A session can go on after its failure (QUIT after a rejected AUTH), but
    for the stage funnel it got no further than the step before the failure.
    """
    failed = _STAGES[failure_stage]
    limit = _ORDER[failed]
    best = IMPLIED_BEFORE.get(failed)
    best_order = _ORDER[best] if best is not None else -1
    for stage in state.passed:
        order = _ORDER[stage]
        if best_order < order < limit:
            best, best_order = stage, order
    return best


# Enum values looked up once, not through the enum descriptor for every row.
_NO_FAILURE = {"failure_stage": Stage.NONE.value, "cause": Cause.OK.value, "reply_code": None, "enhanced_code": None,
               "reply_text": None, "error_text": None}
_OK, _UNKNOWN = Outcome.OK.value, Outcome.UNKNOWN.value
_GREETING_ORDER = STAGE_ORDER[Stage.GREETING]
_ORDER = STAGE_ORDER
_NO_TIMINGS = {column: None for _, column in TIMED_COLUMNS}
_TIMED_COLUMN = dict(TIMED_COLUMNS)
_STAGES = {stage.value: stage for stage in Stage}
_TLS_MODES = {mode.value: mode for mode in TlsMode}
_NETWORK, _PERMANENT, _TRANSIENT, _PARTIAL = (Outcome.NETWORK.value, Outcome.PERMANENT.value, Outcome.TRANSIENT.value,
                                              Outcome.PARTIAL.value)


def _fill_failure(row: dict[str, Any], state: SessionState, failure: _Candidate, tls_mode: Any, port: Any) -> None:
    others = [t for t in state.texts if t != failure.text]
    evidence = Failure(
        stage=failure.stage,
        text=failure.text,
        code=failure.code,
        enhanced=failure.enhanced,
        context="\n".join(others),
        connected=state.connected,
        port=int(port) if port is not None else None,
        tls_mode=(_TLS_MODES.get(tls_mode) or TlsMode(tls_mode)) if tls_mode else None,
        mechanism=failure.mechanism,
        auth=failure.auth,
    )
    stage, cause = classify(evidence)
    recorded_cause = failure.event.attrs.get("cause") if failure.event is not None else None
    if recorded_cause is not None:
        # The format recorded the cause itself (a probe record), which outranks a guess from the text.
        stage, cause = failure.stage, Cause(recorded_cause)
    from_server = failure.event is not None and failure.event.direction == SERVER
    code = failure.code
    if code is None:
        outcome = _NETWORK if cause in NETWORK_CAUSES else _UNKNOWN
    elif code >= 500:
        outcome = _PERMANENT
    else:
        outcome = _TRANSIENT
    if stage is Stage.RCPT_TO and state.messages_sent:
        outcome = _PARTIAL

    if failure.event is not None and failure.event.direction == LOCAL:
        error_texts = [failure.text]  # the error that failed the session, not one that followed it
    else:
        error_texts = [c.text for c in state.failures if c.event is not None and c.event.direction == LOCAL]
    row.update(
        failure_stage=stage.value,
        cause=cause.value,
        outcome=outcome,
        reply_code=code,
        enhanced_code=failure.enhanced,
        reply_text=failure.text if from_server or code is not None else None,
        error_text=error_texts[-1] if error_texts else None,
    )


def _fill_timings(row: dict[str, Any], state: SessionState, times: dict[str, Any] | None = None) -> None:
    _timings(row, state.first_ts, state.last_ts, state.reached_at, times)


def _timings(row: dict[str, Any], first_ts: datetime | None, last_ts: datetime | None,
             reached_at: dict[Stage, datetime], times: dict[str, Any] | None = None) -> None:
    if times is not None:
        times.update(start=first_ts, end=last_ts, reached=dict(reached_at))
    previous = first_ts
    row.update(_NO_TIMINGS)
    if reached_at and previous is not None:
        # In the order the stages were passed, which is not the order of the
        # stage list: a STARTTLS session passes greeting, EHLO and STARTTLS
        # before TLS.  Equal times keep the stage list's order.
        passed = sorted((reached, _ORDER[stage], column) for stage, reached in reached_at.items()
                        if (column := _TIMED_COLUMN.get(stage)) is not None)
        for reached, _, column in passed:
            row[column] = max((reached - previous).total_seconds(), 0.0)
            previous = reached
    if first_ts is not None and last_ts is not None:
        row["duration_s"] = (last_ts - first_ts).total_seconds()
    else:
        row["duration_s"] = None


def auth_attrs(mechanism: str, payload: str | None) -> dict[str, Any]:
    """Return the event attrs for an AUTH command: mechanism, identity, note.

    Parsers call this before redacting the command, so the payload is looked
    at once and only the user name and a note about empty credentials remain.
    """
    identity, note = auth_payload_note(mechanism, payload)
    attrs: dict[str, Any] = {"mechanism": mechanism.upper()}
    if identity:
        attrs["identity"] = identity
    if note:
        attrs["auth_note"] = note
    return attrs
