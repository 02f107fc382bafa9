"""The DNS step against a responder on 127.0.0.1, and the choice of resolver."""

from __future__ import annotations

import dns.resolver
import pytest

from smtplogkit.labels import Cause, Stage
from smtplogkit.probe import ProbeError, probe
from smtplogkit.probe.resolve import lookup, make_resolver, parse_nameserver

from probe_servers import MAIL_HOST


def test_address_found(dns_server):
    step, addresses, server_name = lookup(MAIL_HOST, nameserver=dns_server.address, timeout=2)
    assert step.ok
    assert addresses == ["127.0.0.1"]
    assert server_name == MAIL_HOST
    assert step.facts["answered_by"] == dns_server.address
    assert step.facts["resolver_source"] == "given"
    assert step.ms is not None and step.ms >= 0
    assert (MAIL_HOST, "A") in dns_server.queries
    assert (MAIL_HOST, "AAAA") in dns_server.queries


def test_ipv6_listed_first(dns_server):
    step, addresses, _ = lookup("dual.probe.test", nameserver=dns_server.address, timeout=2)
    assert step.ok
    assert addresses == ["::1", "127.0.0.1"]


def test_mx_picks_lowest_preference(dns_server):
    step, addresses, server_name = lookup("probe.test", nameserver=dns_server.address, timeout=2, mx=True)
    assert step.ok
    assert server_name == MAIL_HOST
    assert addresses == ["127.0.0.1"]
    assert [m["exchange"] for m in step.facts["mx"]] == [MAIL_HOST, "backup.probe.test"]


def test_mx_missing_uses_domain(dns_server):
    step, addresses, server_name = lookup("nomx.probe.test", nameserver=dns_server.address, timeout=2, mx=True)
    assert step.ok
    assert server_name == "nomx.probe.test"
    assert addresses == ["127.0.0.1"]
    assert step.facts["implicit_mx"] is True
    assert step.detail.startswith("no MX for nomx.probe.test")


def test_null_mx_rejected(dns_server):
    step, addresses, _ = lookup("nullmx.probe.test", nameserver=dns_server.address, timeout=2, mx=True)
    assert step.failed
    assert step.cause is Cause.DNS_NXDOMAIN
    assert "accepts no mail" in step.detail
    assert addresses == []


@pytest.mark.parametrize(("name", "cause", "words"), [
    ("gone.probe.test", Cause.DNS_NXDOMAIN, "NXDOMAIN"),
    ("noaddress.probe.test", Cause.DNS_NXDOMAIN, "no A or AAAA record"),
    ("broken.probe.test", Cause.DNS_FAILURE, "SERVFAIL"),
    ("closed.probe.test", Cause.DNS_FAILURE, "refused"),
])
def test_failures_told_apart(dns_server, name, cause, words):
    step, addresses, _ = lookup(name, nameserver=dns_server.address, timeout=2)
    assert step.failed
    assert step.cause is cause
    assert words in step.detail
    assert dns_server.address in step.detail
    assert addresses == []


def test_timeout_when_no_answer(dns_server):
    step, _, _ = lookup("slow.probe.test", nameserver=dns_server.address, timeout=0.5)
    assert step.failed
    assert step.cause is Cause.DNS_FAILURE
    assert "no answer" in step.detail
    assert step.ms >= 450


def test_nxdomain_ends_probe(dns_server):
    result = probe("gone.probe.test", port=25, nameserver=dns_server.address, timeout=2)
    assert result.dns.stage is Stage.DNS
    assert result.attempts == []
    assert not result.ok
    assert result.verdict.startswith("DNS failed: gone.probe.test does not exist")


def test_nameserver_forms():
    assert parse_nameserver("127.0.0.1") == ("127.0.0.1", 53)
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("[::1]:5353") == ("::1", 5353)
    assert parse_nameserver("::1") == ("::1", 53)
    with pytest.raises(ValueError, match="invalid nameserver"):
        parse_nameserver("resolver.example.test")


def test_invalid_nameserver_rejected():
    with pytest.raises(ProbeError, match="invalid nameserver"):
        probe(MAIL_HOST, nameserver="not-an-ip", timeout=1)


def test_given_nameserver_replaces_system():
    resolver = make_resolver("127.0.0.1:5353", 1.0)
    assert resolver.nameservers == ["127.0.0.1"]
    assert resolver.port == 5353
    for system in dns.resolver.Resolver(configure=True).nameservers:
        if system != "127.0.0.1":
            assert system not in resolver.nameservers


def test_system_resolver_only_without_nameserver():
    system = dns.resolver.Resolver(configure=True).nameservers
    assert make_resolver(None, 1.0).nameservers == system


@pytest.mark.leaves_loopback
def test_guard_blocks_system_resolver(network_guard):
    """Without --nameserver the probe queries the system resolver, which the test guard blocks."""
    step, _, _ = lookup(MAIL_HOST, nameserver=None, timeout=1)
    assert step.facts["resolver_source"] == "system"
    assert step.failed
    assert network_guard, "the guard saw no query, so the system resolver was not asked"
    assert all(entry.endswith("port 53") for entry in network_guard)


def test_hosts_file_answers_without_dns(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("# local names\n127.0.0.1 localhost mail.internal.test\n::1 localhost ip6-localhost\n")

    step, addresses, server_name = lookup("mail.internal.test", nameserver=None, timeout=1.0, hosts_file=hosts)

    assert step.ok
    assert addresses == ["127.0.0.1"]
    assert server_name == "mail.internal.test"
    assert step.facts["resolver_source"] == "hosts file"


def test_hosts_file_lists_ipv6_first(tmp_path):
    from smtplogkit.probe.resolve import hosts_file_addresses

    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost\n")
    assert hosts_file_addresses("LOCALHOST.", hosts) == ["::1", "127.0.0.1"]


def test_given_nameserver_skips_hosts_file(dns_server, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text(f"192.0.2.1 {MAIL_HOST}\n")
    step, addresses, _ = lookup(MAIL_HOST, nameserver=dns_server.address, timeout=2.0, hosts_file=hosts)
    assert addresses == ["127.0.0.1"]
    assert step.facts["resolver_source"] == "given"
