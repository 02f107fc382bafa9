"""Result objects of a probe: steps, attempts and the whole run.

These are plain data with no I/O.  :meth:`ProbeResult.records` turns a result
into the JSONL objects that ``smtplogkit probe -o`` writes and that the
``probe`` log format reads back.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..labels import Cause, Stage, TlsMode
from ..redact import REDACTED

TOOL = "smtplogkit-probe"
SCHEMA = 1

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(slots=True)
class Step:
    """One timed protocol step of a probe.

    ``stage`` names the step with the failure-stage vocabulary.  ``status`` is
    ``"ok"``, ``"failed"`` or ``"skipped"``; ``cause`` is set when it failed.
    ``transcript`` contains ``("C", command)`` and ``("S", reply line)`` pairs
    with credentials already replaced by ``<redacted>``.  ``facts`` holds what
    the step found out (addresses, TLS version, certificate, capabilities).
    """

    stage: Stage
    status: str
    started: datetime
    ms: float | None
    detail: str
    cause: Cause | None = None
    transcript: list[tuple[str, str]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the step succeeded."""
        return self.status == OK

    @property
    def failed(self) -> bool:
        """Whether the step failed."""
        return self.status == FAILED

    @property
    def reply_code(self) -> int | None:
        """Code of the last server reply in the transcript, if any."""
        for side, text in reversed(self.transcript):
            if side == "S" and text[:3].isdigit():
                return int(text[:3])
        return None


@dataclass(slots=True)
class Attempt:
    """One connection to one address, with the steps it went through.

    ``mode_check`` marks an attempt made in the other TLS mode after the
    first attempt failed in a way that points at a wrong mode.
    ``burst_index`` is the 1-based position of the attempt in a burst.
    """

    number: int
    ip: str
    port: int
    tls_mode: TlsMode
    steps: list[Step] = field(default_factory=list)
    mode_check: bool = False
    burst_index: int | None = None

    @property
    def failure(self) -> Step | None:
        """The first failed step, or ``None`` when every step succeeded."""
        for step in self.steps:
            if step.failed:
                return step
        return None

    @property
    def ok(self) -> bool:
        """Whether no step of the attempt failed."""
        return self.failure is None

    @property
    def complete(self) -> bool:
        """Whether every step ran and succeeded (none failed or was skipped)."""
        return all(step.ok for step in self.steps)

    def step(self, stage: Stage, *, last: bool = False) -> Step | None:
        """Return the first (or last) step of a stage, or ``None``."""
        found = [s for s in self.steps if s.stage is stage]
        if not found:
            return None
        return found[-1] if last else found[0]


@dataclass(slots=True)
class ProbeResult:
    """Everything one probe run found, with its layered verdict.

    ``dns`` is ``None`` when the host was an IP address.  ``detected_tls`` is
    the TLS mode the port was found to speak, when the probe got far enough
    to tell.  ``verdict`` is one line per distinct outcome, for people.
    ``warnings`` lists findings that did not stop the probe (a TLS mode that
    differs from the port's convention, a certificate about to expire).
    """

    probe_id: str
    host: str
    port: int
    tls: str
    network: str | None
    started: datetime
    run: int = 1
    server_name: str | None = None
    dns: Step | None = None
    attempts: list[Attempt] = field(default_factory=list)
    detected_tls: TlsMode | None = None
    warnings: list[str] = field(default_factory=list)
    verdict: str = ""

    @property
    def ok(self) -> bool:
        """Whether DNS and every attempt that decides the outcome ran every step successfully.

        A step skipped on purpose (AUTH over an unencrypted connection) counts
        against it: the user asked for that step and it was not tested.
        """
        from .verdict import chosen_attempts

        if self.dns is not None and self.dns.failed:
            return False
        main = chosen_attempts(self)
        return bool(main) and all(a.complete for a in main)

    @property
    def steps(self) -> list[Step]:
        """Every step in order: the DNS step, then each attempt's steps."""
        steps = [self.dns] if self.dns is not None else []
        for attempt in self.attempts:
            steps.extend(attempt.steps)
        return steps

    def records(self, secrets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Return the JSONL objects of this run: one per step, per attempt, and one summary.

        Any of ``secrets`` (and its base64 form) that still appears in a text
        is replaced by ``<redacted>``, as a second line of defence behind the
        transcript redaction done while probing.
        """
        records = []
        if self.dns is not None:
            records.append(self._step_record(self.dns, None))
        for attempt in self.attempts:
            for step in attempt.steps:
                records.append(self._step_record(step, attempt))
            records.append(self._attempt_record(attempt))
        records.append(self._probe_record())
        return [scrub(record, secrets) for record in records]

    def _common(self, record: str) -> dict[str, Any]:
        return {"record": record, "tool": TOOL, "schema": SCHEMA, "probe_id": self.probe_id, "run": self.run,
                "network": self.network, "host": self.host, "server_name": self.server_name}

    def _step_record(self, step: Step, attempt: Attempt | None) -> dict[str, Any]:
        record = self._common("step")
        record.update(_attempt_fields(attempt, self.port))
        record.update(ts=step.started.isoformat(), step=step.stage.value, status=step.status,
                      ms=None if step.ms is None else round(step.ms, 3), detail=step.detail,
                      cause=step.cause.value if step.cause else None,
                      transcript=[list(pair) for pair in step.transcript], facts=step.facts)
        return record

    def _attempt_record(self, attempt: Attempt) -> dict[str, Any]:
        from .verdict import attempt_summary

        failure = attempt.failure
        record = self._common("attempt")
        record.update(_attempt_fields(attempt, self.port))
        record.update(status=FAILED if failure else OK,
                      failure_stage=failure.stage.value if failure else Stage.NONE.value,
                      cause=(failure.cause or Cause.UNKNOWN).value if failure else Cause.OK.value,
                      summary=attempt_summary(attempt))
        return record

    def _probe_record(self) -> dict[str, Any]:
        record = self._common("probe")
        record.update(ts=self.started.isoformat(), port=self.port, tls=self.tls,
                      detected_tls=self.detected_tls.value if self.detected_tls else None,
                      attempts=len(self.attempts), status=OK if self.ok else FAILED,
                      verdict=self.verdict, warnings=list(self.warnings))
        return record


def _attempt_fields(attempt: Attempt | None, port: int) -> dict[str, Any]:
    if attempt is None:
        return {"attempt": None, "ip": None, "port": port, "tls_mode": None, "mode_check": False,
                "burst_index": None}
    return {"attempt": attempt.number, "ip": attempt.ip, "port": attempt.port, "tls_mode": attempt.tls_mode.value,
            "mode_check": attempt.mode_check, "burst_index": attempt.burst_index}


def secret_forms(secret: str) -> tuple[str, ...]:
    """Return a secret and the base64 forms it could take on the wire."""
    if not secret:
        return ()
    raw = secret.encode()
    forms = {secret, base64.b64encode(raw).decode()}
    # PLAIN and XOAUTH2 payloads embed the secret after other bytes, so its
    # base64 text depends on the offset modulo 3; any of the three shifts
    # would show up as one of these cores.
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        core = encoded[4 * ((shift + 2) // 3):][:-4] if len(encoded) > 8 else ""
        if len(core) >= 8:
            forms.add(core)
    return tuple(sorted(forms, key=len, reverse=True))


def scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """Return ``value`` with every occurrence of a secret replaced, recursively."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {key: scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item, secrets) for item in value]
    return value
