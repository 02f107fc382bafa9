"""Certificate facts for the TLS step: subject, issuer, validity, names.

A certificate that validated comes as the dict of ``SSLSocket.getpeercert()``.
One that did not is read from its DER bytes with the ``cryptography`` package
when it is installed.  Without that package only the SHA-256 fingerprint is
reported.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
from datetime import datetime, timezone
from typing import Any


def facts_from_dict(cert: dict[str, Any], der: bytes | None = None) -> dict[str, Any]:
    """Return the facts of a validated certificate from ``getpeercert()``."""
    subject = _name_text(cert.get("subject", ()))
    issuer = _name_text(cert.get("issuer", ()))
    names = [value for kind, value in cert.get("subjectAltName", ()) if kind in ("DNS", "IP Address")]
    facts: dict[str, Any] = {"subject": subject, "issuer": issuer, "san": names}
    for key, field in (("not_before", "notBefore"), ("not_after", "notAfter")):
        if field in cert:
            seconds = ssl.cert_time_to_seconds(cert[field])
            facts[key] = datetime.fromtimestamp(seconds, timezone.utc).isoformat()
            facts[f"{key}_ts"] = seconds
    if der is not None:
        facts["sha256"] = hashlib.sha256(der).hexdigest()
    return facts


def facts_from_der(der: bytes, server_name: str) -> dict[str, Any]:
    """Return the facts of a certificate read without validation, and whether it names ``server_name``."""
    facts: dict[str, Any] = {"sha256": hashlib.sha256(der).hexdigest()}
    try:
        from cryptography import x509
    except ImportError:
        facts["note"] = "install the cryptography package to read the subject, issuer and dates"
        return facts

    cert = x509.load_der_x509_certificate(der)
    facts["subject"] = cert.subject.rfc4514_string()
    facts["issuer"] = cert.issuer.rfc4514_string()
    facts["self_signed"] = cert.subject == cert.issuer
    for key, value in (("not_before", cert.not_valid_before_utc), ("not_after", cert.not_valid_after_utc)):
        facts[key] = value.isoformat()
        facts[f"{key}_ts"] = value.timestamp()
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [*extension.get_values_for_type(x509.DNSName),
                 *(str(ip) for ip in extension.get_values_for_type(x509.IPAddress))]
    except x509.ExtensionNotFound:
        names = []
    facts["san"] = names
    facts["hostname_valid"] = name_matches(names, server_name)
    return facts


def name_matches(names: list[str], server_name: str) -> bool:
    """Return whether a certificate's subject alternative names cover ``server_name``.

    A wildcard stands for exactly one left-most label (RFC 6125 section 6.4.3).
    """
    expected = server_name.rstrip(".").lower()
    try:
        expected_ip = ipaddress.ip_address(expected.strip("[]"))
    except ValueError:
        expected_ip = None
    for name in names:
        name = name.rstrip(".").lower()
        if expected_ip is not None:
            try:
                if ipaddress.ip_address(name) == expected_ip:
                    return True
            except ValueError:
                pass
            continue
        if name == expected:
            return True
        if name.startswith("*.") and "." in expected and expected.split(".", 1)[1] == name[2:]:
            return True
    return False


def _name_text(name: tuple) -> str:
    parts = []
    for rdn in name:
        for key, value in rdn:
            short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
                     "countryName": "C"}.get(key, key)
            parts.append(f"{short}={value}")
    return ",".join(parts)
