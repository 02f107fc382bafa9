"""Probe runs: DNS, then one attempt per address, repeated runs and bursts."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

from ..errors import SmtpLogKitError
from ..labels import Cause, Stage, TlsMode
from . import resolve, verdict
from .model import ProbeResult
from .session import Settings, run_attempt

logger = logging.getLogger(__name__)

PASSWORD_ENV = "SMTPLOGKIT_PASSWORD"
TOKEN_ENV = "SMTPLOGKIT_OAUTH_TOKEN"
DEFAULT_PORT = 587
DEFAULT_MX_PORT = 25
MAX_ADDRESSES = 8


class ProbeError(SmtpLogKitError, ValueError):
    """Probe settings are invalid or incomplete (nothing was sent)."""


def probe(host: str, *, port: int | None = None, tls: str = "auto", user: str | None = None,
          auth: str | None = None, secret: str | None = None, network: str | None = None,
          nameserver: str | None = None, mx: bool = False, timeout: float = 10.0, ehlo_name: str | None = None,
          cafile: str | None = None, allow_plaintext_auth: bool = False, run: int = 1) -> ProbeResult:
    """Probe an SMTP server layer by layer and return every step with a verdict.

    Parameters
    ----------
    host
        Server name or IP address; with ``mx=True``, a mail domain whose most
        preferred MX exchange is probed.
    port
        TCP port; 587 by default, 25 with ``mx=True``.
    tls
        ``"auto"`` (find out what the port speaks), ``"implicit"``,
        ``"starttls"`` or ``"none"``.
    user, auth, secret
        AUTH is tried only when ``auth`` is ``"password"`` or ``"xoauth2"``.
        ``secret`` is the password or token; when ``None`` it is read from
        the ``SMTPLOGKIT_PASSWORD`` or ``SMTPLOGKIT_OAUTH_TOKEN`` environment
        variable.  It is never stored in the result.
    network
        A label for where the probe ran (``"office"``, ``"ci"``), kept in
        the record so probes from several places line up.
    nameserver
        ``IP``, ``IP:PORT`` or ``[IPv6]:PORT`` of the resolver to ask; the
        system resolver configuration is used only when this is ``None``.
    timeout
        Seconds to wait for each step (DNS lookup, connect, each reply).
    cafile
        PEM file of CA certificates to trust instead of the system store.
    allow_plaintext_auth
        Send credentials over a connection that is not encrypted.

    Returns
    -------
    ProbeResult
        The DNS step, one :class:`Attempt` per address (plus mode checks),
        warnings and the layered verdict.

    Raises
    ------
    ProbeError
        An invalid TLS mode, AUTH kind or nameserver, or AUTH asked for with
        no user name or secret.
    """
    settings = _settings(host, port, tls, user, auth, secret, mx, timeout, ehlo_name, cafile, allow_plaintext_auth)
    result = _new_result(host, settings, tls, network, run)
    logger.info("probe %s: %s port %d, TLS %s, network %s", result.probe_id, host, settings.port, tls, network)
    addresses = _resolve(result, host, settings, nameserver, mx, timeout)
    first = verdict.first_mode(tls, settings.port)
    for ip in addresses:
        _probe_address(result, ip, settings, first)
    _conclude(result)
    logger.info("probe %s: %s", result.probe_id, result.verdict.replace("\n", "; "))
    return result


def repeat_probe(host: str, *, repeat: int, interval: float, **options) -> Iterator[ProbeResult]:
    """Run :func:`probe` ``repeat`` times, ``interval`` seconds apart, yielding each result as it ends."""
    if repeat < 1:
        raise ProbeError(f"invalid repeat count {repeat}: expected 1 or more")
    if interval < 0:
        raise ProbeError(f"invalid interval {interval}: expected 0 or more seconds")
    for run in range(1, repeat + 1):
        started = time.monotonic()
        yield probe(host, run=run, **options)
        if run < repeat:
            time.sleep(max(0.0, interval - (time.monotonic() - started)))


def burst_probe(host: str, *, sessions: int, rate: float, i_own_this_server: bool = False, **options) -> ProbeResult:
    """Open ``sessions`` sessions at ``rate`` per minute to one address, to find where throttling starts.

    Each session goes as far as EHLO (and AUTH when asked), then quits.  The
    limits in :mod:`smtplogkit.probe.verdict` cap the count and the rate,
    and ``i_own_this_server`` must be true.  The verdict names the first
    session that failed.
    """
    try:
        verdict.check_burst(sessions, rate, i_own_this_server)
    except ValueError as error:
        raise ProbeError(str(error)) from error
    nameserver = options.pop("nameserver", None)
    network = options.pop("network", None)
    mx = options.get("mx", False)
    tls = options.get("tls", "auto")
    settings = _settings(host, options.get("port"), tls, options.get("user"), options.get("auth"),
                         options.get("secret"), mx, options.get("timeout", 10.0), options.get("ehlo_name"),
                         options.get("cafile"), options.get("allow_plaintext_auth", False))
    result = _new_result(host, settings, tls, network, 1)
    addresses = _resolve(result, host, settings, nameserver, mx, settings.timeout)
    if not addresses:
        _conclude(result)
        return result
    mode = verdict.first_mode(tls, settings.port)
    began = time.monotonic()
    for index, offset in enumerate(verdict.burst_offsets(sessions, rate), 1):
        time.sleep(max(0.0, offset - (time.monotonic() - began)))
        attempt = run_attempt(index, addresses[0], settings, mode, burst_index=index)
        result.attempts.append(attempt)
    result.detected_tls = next(filter(None, (verdict.spoken_mode(a) for a in result.attempts)), None)
    result.verdict = verdict.throttle_onset(result.attempts)
    return result


def _settings(host, port, tls, user, auth, secret, mx, timeout, ehlo_name, cafile, allow_plaintext_auth) -> Settings:
    if tls not in verdict.TLS_CHOICES:
        raise ProbeError(f"invalid TLS mode {tls!r}: expected one of {', '.join(verdict.TLS_CHOICES)}")
    if auth is not None and auth not in verdict.AUTH_CHOICES:
        raise ProbeError(f"invalid AUTH kind {auth!r}: expected one of {', '.join(verdict.AUTH_CHOICES)}")
    if timeout <= 0:
        raise ProbeError(f"invalid timeout {timeout}: expected seconds above 0")
    if auth is not None:
        if not user:
            raise ProbeError("AUTH needs a user name (--user)")
        variable = PASSWORD_ENV if auth == "password" else TOKEN_ENV
        secret = secret if secret is not None else os.environ.get(variable)
        if not secret:
            raise ProbeError(f"AUTH {auth} needs a secret: set {variable}" +
                             (" or type it at the prompt" if auth == "password" else ""))
    if port is None:
        port = DEFAULT_MX_PORT if mx else DEFAULT_PORT
    if not 0 < port < 65536:
        raise ProbeError(f"invalid port {port}: expected 1 to 65535")
    settings = Settings(port=port, server_name=host.strip("[]"), tls=tls, timeout=timeout, cafile=cafile, auth=auth,
                        user=user, secret=secret, allow_plaintext_auth=allow_plaintext_auth)
    if ehlo_name:
        settings.ehlo_name = ehlo_name
    return settings


def _new_result(host: str, settings: Settings, tls: str, network: str | None, run: int) -> ProbeResult:
    started = datetime.now(timezone.utc)
    probe_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    return ProbeResult(probe_id, host, settings.port, tls, network, started, run=run)


def _resolve(result: ProbeResult, host: str, settings: Settings, nameserver: str | None, mx: bool,
             timeout: float) -> list[str]:
    if nameserver is not None:
        try:
            resolve.parse_nameserver(nameserver)
        except ValueError as error:
            raise ProbeError(str(error)) from error
    if resolve.is_address(host) and not mx:
        result.server_name = settings.server_name
        return [settings.server_name]
    step, addresses, server_name = resolve.lookup(host, nameserver=nameserver, timeout=timeout, mx=mx)
    result.dns = step
    result.server_name = server_name
    settings.server_name = server_name
    if len(addresses) > MAX_ADDRESSES:
        result.warnings.append(f"{len(addresses)} addresses found; probing the first {MAX_ADDRESSES}")
    return addresses[:MAX_ADDRESSES]


def _probe_address(result: ProbeResult, ip: str, settings: Settings, mode: TlsMode) -> None:
    attempt = run_attempt(len(result.attempts) + 1, ip, settings, mode)
    result.attempts.append(attempt)
    if not verdict.points_to_other_mode(attempt):
        return
    check = run_attempt(len(result.attempts) + 1, ip, settings, verdict.other_mode(mode), mode_check=True)
    result.attempts.append(check)
    failure = attempt.failure
    assert failure is not None
    if verdict.mode_check_confirms(check):
        failure.cause = Cause.TLS_MODE_MISMATCH
        spoken = verdict.spoken_mode(check)
        failure.detail += f"; {verdict.mode_advice(spoken, settings.port)}" if spoken else ""
    elif check.failure is not None:
        failure.detail += f"; {verdict.failed_check_note(check)}"


def _conclude(result: ProbeResult) -> None:
    spoken = [verdict.spoken_mode(a) for a in result.attempts]
    result.detected_tls = next(filter(None, spoken), None)
    result.warnings.extend(verdict.mode_warnings(result.detected_tls, result.port, result.tls))
    now = time.time()
    for attempt in result.attempts:
        tls = attempt.step(Stage.TLS)
        if tls is not None and tls.ok:
            for warning in verdict.certificate_warnings(tls.facts.get("certificate", {}), now):
                if warning not in result.warnings:
                    result.warnings.append(warning)
    result.verdict = verdict.layered_verdict(result)
