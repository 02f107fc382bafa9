"""The DNS step: A, AAAA and optionally MX lookups with dnspython.

dnspython is imported inside the functions, so importing smtplogkit does not
load it.  The system resolver configuration (``/etc/resolv.conf``) is read
only when the caller gives no nameserver.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..labels import Stage
from . import verdict
from .model import FAILED, OK, Step

logger = logging.getLogger(__name__)

DNS_PORT = 53


def parse_nameserver(text: str) -> tuple[str, int]:
    """Return ``(ip, port)`` from ``IP``, ``IP:PORT`` or ``[IPv6]:PORT``.

    Raises ``ValueError`` on anything that is not an IP address, because a
    resolver given by name would need a resolver to find it.
    """
    host, port = text.strip(), DNS_PORT
    if host.startswith("["):
        inside, _, rest = host[1:].partition("]")
        host = inside
        if rest.startswith(":"):
            port = int(rest[1:])
    elif host.count(":") == 1:
        host, port_text = host.split(":")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError as error:
        raise ValueError(f"invalid nameserver {text!r}: expected IP, IP:PORT or [IPv6]:PORT") from error
    if not 0 < port < 65536:
        raise ValueError(f"invalid nameserver port {port} in {text!r}")
    return host, port


def make_resolver(nameserver: str | None, timeout: float):
    """Return a dnspython resolver for ``nameserver``, or the system one when it is ``None``.

    A given nameserver replaces the system configuration entirely; nothing
    from ``/etc/resolv.conf`` is used then.
    """
    import dns.resolver

    if nameserver is None:
        resolver = dns.resolver.Resolver(configure=True)
    else:
        ip, port = parse_nameserver(nameserver)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.port = port  # set first: dnspython applies it to the nameservers as they are assigned
        resolver.nameservers = [ip]
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


def resolver_label(resolver) -> str:
    """Return the nameservers a resolver queries, as ``ip:port`` text."""
    port = getattr(resolver, "port", DNS_PORT)
    return ", ".join(_address_text(str(ns), port) for ns in resolver.nameservers) or "no nameserver"


def _address_text(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def is_address(host: str) -> bool:
    """Return whether ``host`` is an IP address literal (no lookup needed)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


HOSTS_FILE = Path("/etc/hosts")


def hosts_file_addresses(host: str, path: Path = HOSTS_FILE) -> list[str]:
    """Return the addresses a hosts file gives ``host``, IPv6 first, or an empty list.

    The C library's resolver reads this file before DNS on most systems
    (``hosts: files dns`` in nsswitch.conf).  ``localhost`` and names pinned
    there therefore resolve for the sender without any DNS query, while
    dnspython never reads the file.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    wanted = host.lower().rstrip(".")
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split()
        if len(fields) >= 2 and wanted in (name.lower() for name in fields[1:]) and is_address(fields[0]):
            found.append(fields[0])
    return sorted(set(found), key=lambda ip: (":" not in ip, found.index(ip)))


def lookup(host: str, *, nameserver: str | None, timeout: float, mx: bool = False,
           hosts_file: Path = HOSTS_FILE) -> tuple[Step, list[str], str]:
    """Run the DNS step and return it with the addresses found and the server name.

    Without a ``nameserver``, a name the hosts file lists is answered from it,
    as the sender's own resolver would, and no DNS query is sent.  With ``mx``
    the host is a mail domain: its MX records are looked up and
    the most preferred exchange's addresses are returned, with its name as
    the server name to validate certificates against.  IPv6 addresses come
    first, as most address selection policies (RFC 6724) put them.
    """
    import dns.exception
    import dns.resolver

    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    facts: dict[str, Any] = {}
    pinned = hosts_file_addresses(host, hosts_file) if nameserver is None and not mx else []
    if pinned:
        facts.update(resolver=str(hosts_file), resolver_source="hosts file")
        detail = f"{host}: {', '.join(pinned)} (from {hosts_file})"
        return Step(Stage.DNS, OK, started, _ms(clock), detail, facts=facts), pinned, host
    try:
        resolver = make_resolver(nameserver, timeout)
    except dns.resolver.NoResolverConfiguration:
        cause, detail = verdict.dns_failure("no_resolver", host, "none", timeout)
        return Step(Stage.DNS, FAILED, started, _ms(clock), detail, cause, facts=facts), [], host
    facts["resolver"] = resolver_label(resolver)
    facts["resolver_source"] = "system" if nameserver is None else "given"

    server_name = host
    try:
        if mx:
            server_name = _best_exchange(resolver, host, facts)
        addresses = _addresses(resolver, server_name, facts)
    except _LookupFailed as failure:
        cause, detail = verdict.dns_failure(failure.kind, failure.name, failure.resolver or facts["resolver"],
                                            timeout)
        logger.info("DNS lookup of %s failed: %s", failure.name, detail)
        return Step(Stage.DNS, FAILED, started, _ms(clock), detail, cause, facts=facts), [], server_name
    except dns.exception.DNSException as error:
        detail = f"lookup of {server_name} failed: {error}"
        cause, _ = verdict.dns_failure(type(error).__name__, server_name, facts["resolver"], timeout)
        return Step(Stage.DNS, FAILED, started, _ms(clock), detail, cause, facts=facts), [], server_name

    detail = f"{server_name}: {', '.join(addresses)} (from {facts.get('answered_by', facts['resolver'])})"
    if mx and facts.get("implicit_mx"):
        detail = f"no MX for {host}, so its own address is used: {detail}"
    elif mx:
        detail = f"MX {host} -> {detail}"
    return Step(Stage.DNS, OK, started, _ms(clock), detail, facts=facts), addresses, server_name


class _LookupFailed(Exception):
    def __init__(self, kind: str, name: str, resolver: str | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.name = name
        self.resolver = resolver


def _query(resolver, name: str, rdtype: str, facts: dict[str, Any]):
    """Return the answer for one query, or ``None`` when the name has no such record.

    Raises :class:`_LookupFailed` with the kind of failure otherwise.
    """
    import dns.resolver

    clock = time.perf_counter()
    try:
        answer = resolver.resolve(name, rdtype, search=False)
    except dns.resolver.NXDOMAIN as error:
        raise _LookupFailed("nxdomain", name) from error
    except dns.resolver.NoAnswer:
        facts.setdefault("queries", []).append({"type": rdtype, "ms": _ms(clock), "answer": "no_answer"})
        return None
    except dns.resolver.LifetimeTimeout as error:
        raise _LookupFailed("timeout", name) from error
    except dns.resolver.NoNameservers as error:
        kind, server = _nameserver_error(error)
        raise _LookupFailed(kind, name, server) from error
    server = _address_text(str(answer.nameserver), answer.port)
    facts["answered_by"] = server
    facts.setdefault("queries", []).append({"type": rdtype, "ms": _ms(clock), "answer": "ok", "server": server,
                                            "ttl": answer.rrset.ttl if answer.rrset is not None else None})
    return answer


def _nameserver_error(error) -> tuple[str, str | None]:
    """Return the failure kind and server from dnspython's NoNameservers error.

    dnspython 2.x lists each server's failure as a tuple whose first items are
    the server, whether TCP was used, the port and the error or rcode text.
    """
    for entry in error.kwargs.get("errors") or []:
        server, _tcp, port, problem = entry[:4]
        address = str(server).split(":", 1)[-1].rsplit("@", 1)[0] if str(server).startswith("Do53:") else str(server)
        where = _address_text(address, port)
        text = str(problem).upper()
        if "REFUSED" in text:
            return "refused", where
        if "SERVFAIL" in text:
            return "servfail", where
        return f"error from {where}: {problem}", where
    return "servfail", None


def _addresses(resolver, name: str, facts: dict[str, Any]) -> list[str]:
    ipv6 = _query(resolver, name, "AAAA", facts)
    ipv4 = _query(resolver, name, "A", facts)
    addresses = [r.address for r in ipv6 or []] + [r.address for r in ipv4 or []]
    facts["addresses"] = addresses
    if not addresses:
        raise _LookupFailed("no_answer", name)
    return addresses


def _best_exchange(resolver, domain: str, facts: dict[str, Any]) -> str:
    """Return the most preferred mail exchange of ``domain``.

    A domain with no MX record is its own exchange (the implicit MX of RFC 5321
    section 5.1).  A null MX (``0 .``, RFC 7505) says the domain accepts no mail.
    """
    answer = _query(resolver, domain, "MX", facts)
    if answer is None:
        facts["mx"] = []
        facts["implicit_mx"] = True
        return domain
    records = sorted(answer, key=lambda r: (r.preference, str(r.exchange)))
    facts["mx"] = [{"preference": r.preference, "exchange": str(r.exchange).rstrip(".")} for r in records]
    usable = [r for r in records if str(r.exchange) != "."]
    if not usable:
        raise _LookupFailed("null_mx", domain)
    return str(usable[0].exchange).rstrip(".")


def _ms(clock: float) -> float:
    return (time.perf_counter() - clock) * 1000
