"""Fixtures of the probe tests; the servers themselves live in probe_servers."""

from probe_servers import (  # noqa: F401  (pytest finds fixtures by name here)
    ca,
    cafile,
    closed_port,
    dns_server,
    expired_server,
    expiring_server,
    full_backlog,
    hang_up_server,
    implicit_server,
    login_only_server,
    network_guard,
    plain_server,
    silent_server,
    starttls_server,
    throttling_server,
    untrusted_server,
    wrong_host_server,
)


def pytest_configure(config):
    config.addinivalue_line("markers", "leaves_loopback: the test checks that the network guard blocks a destination")
