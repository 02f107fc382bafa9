#!/usr/bin/env python3
"""Capture a real Postfix maillog of deliveries that defer, bounce, time out and succeed.

Run as root on a machine with the Debian ``postfix`` package installed::

    sudo .venv/bin/python tools/capture/postfix/capture.py tests/data/postfix/capture.maillog

The script re-runs itself inside a new network namespace (``unshare --net``)
that holds only the loopback interface, so Postfix can reach nothing but the
servers this script starts on 127.0.0.1.  Postfix runs from a private
configuration and queue directory under a temporary folder (``postfix -c``)
and logs to a file through ``maillog_file``.  It is stopped at the end, and
the system's own Postfix configuration is not touched.

Each recipient domain is routed by a transport map to one loopback server:

================  ==============================================================
accept.test       aiosmtpd with STARTTLS (a trustme certificate), accepts
greylist.test     450 4.2.0 at RCPT TO (deferred)
unknown.test      550 5.1.1 at RCPT TO (bounced)
ratelimit.test    421 4.7.0 at MAIL FROM (deferred)
throttle.test     452 4.7.28 at RCPT TO for the second recipient only
silent.test       accepts TCP, never sends a greeting (greeting timeout)
dropdata.test     closes the connection after DATA (lost connection)
refused.test      a closed port (connection refused)
blackhole.test    a listener whose accept queue is full (connect timeout)
verify.test       STARTTLS like accept.test, with ``smtp_tls_security_level = verify``
================  ==============================================================

A second smtpd listener has ``smtpd_client_connection_rate_limit = 2`` and
no exceptions, so injecting through it logs anvil's rate-limit warning.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
POSTMAP = "/usr/sbin/postmap"
INJECT_PORT = 10025
LIMITED_PORT = 10026
NAMESPACE_FLAG = "SMTPLOGKIT_CAPTURE_NETNS"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    if os.environ.get(NAMESPACE_FLAG) != "1":
        env = {**os.environ, NAMESPACE_FLAG: "1"}
        command = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable,
                   os.path.abspath(__file__), os.path.abspath(sys.argv[1])]
        return subprocess.call(command, env=env)
    return capture(Path(sys.argv[1]))


# Loopback servers -----------------------------------------------------------------


class Behaviour:
    """aiosmtpd handler that replies per recipient domain."""

    async def handle_MAIL(self, server, session, envelope, address, options):
        if getattr(server, "domain_hint", "") == "ratelimit.test":
            return "421 4.7.0 Too many messages from this client, try again later"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        domain = address.rsplit("@", 1)[-1]
        if domain == "greylist.test":
            return "450 4.2.0 <%s>: Recipient address rejected: Greylisted, try again in 5 minutes" % address
        if domain == "unknown.test":
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table" % address
        if domain == "throttle.test" and envelope.rcpt_tos:
            return "452 4.7.28 Our system has detected an unusual rate of unsolicited mail; rate limited"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued"


def start_aiosmtpd(port: int, domain: str, tls_context=None) -> object:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    class Hinted(SMTP):
        domain_hint = domain

    class HintedController(Controller):
        def factory(self):
            return Hinted(self.handler, tls_context=tls_context, require_starttls=False)

    controller = HintedController(Behaviour(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def start_raw_servers(silent_port: int, dropdata_port: int) -> None:
    """Start the servers aiosmtpd cannot play: silent after connect, and closing at DATA."""

    async def silent(reader, writer):
        await asyncio.sleep(60)
        writer.close()

    async def dropdata(reader, writer):
        writer.write(b"220 dropdata.test ESMTP\r\n")
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-dropdata.test\r\n250 PIPELINING\r\n")
            elif verb == b"DATA":
                writer.close()
                return
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()
        writer.close()

    async def run():
        await asyncio.start_server(silent, "127.0.0.1", silent_port)
        await asyncio.start_server(dropdata, "127.0.0.1", dropdata_port)
        await asyncio.sleep(3600)

    threading.Thread(target=lambda: asyncio.run(run()), daemon=True).start()


def blackhole(port: int) -> list[socket.socket]:
    """Return a listener whose accept queue is full, so further SYNs are dropped."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    listener.listen(0)
    fillers = []
    for _ in range(2):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.5)
    return [listener, *fillers]  # the caller keeps them open for the whole run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Postfix ----------------------------------------------------------------------------


def write_config(root: Path, ports: dict[str, int]) -> Path:
    config = root / "etc"
    config.mkdir()
    spool = root / "spool"
    data = root / "data"
    data.mkdir()
    spool.mkdir()
    shutil.chown(data, "postfix", "postfix")
    root.chmod(0o755)
    maillog = root / "maillog"
    transport = "\n".join(f"{domain} smtp:[127.0.0.1]:{port}" for domain, port in ports.items()) + "\n"
    (config / "transport").write_text(transport)
    (config / "tls_policy").write_text(f"[127.0.0.1]:{ports['verify.test']} verify\n")
    main_cf = f"""
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = capture.test
mydomain = capture.test
myorigin = capture.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file_prefixes = {root}
maillog_file = {maillog}
# Nothing may leave loopback: literal next hops only, no DNS.
relayhost = [127.0.0.1]:{ports['accept.test']}
default_transport = smtp:[127.0.0.1]:{ports['accept.test']}
transport_maps = hash:{config}/transport
smtp_tls_policy_maps = hash:{config}/tls_policy
disable_dns_lookups = yes
smtp_host_lookup = native
smtpd_peername_lookup = no
smtp_dns_support_level =
smtp_tls_security_level = may
smtp_tls_loglevel = 1
smtp_connect_timeout = 3s
smtp_helo_timeout = 4s
smtp_connection_cache_on_demand = no
queue_run_delay = 4s
minimal_backoff_time = 4s
maximal_backoff_time = 8s
maximal_queue_lifetime = 25s
bounce_queue_lifetime = 25s
smtpd_client_event_limit_exceptions =
anvil_rate_time_unit = 60s
smtpd_relay_restrictions = permit_mynetworks, reject
notify_classes =
"""
    (config / "main.cf").write_text(main_cf)
    master_cf = f"""
127.0.0.1:{INJECT_PORT} inet n - n - - smtpd
127.0.0.1:{LIMITED_PORT} inet n - n - - smtpd -o smtpd_client_connection_rate_limit=2
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
    (config / "master.cf").write_text(master_cf)
    subprocess.run([POSTMAP, "-c", str(config), f"hash:{config}/transport"], check=True)
    subprocess.run([POSTMAP, "-c", str(config), f"hash:{config}/tls_policy"], check=True)
    return config


def send(port: int, sender: str, recipients: list[str], subject: str) -> str:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(f"{subject}\n")
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(message, sender, recipients)
        return "queued"
    except (smtplib.SMTPException, OSError) as error:
        return f"not queued: {error}"


def capture(target: Path) -> int:
    import ssl

    import trustme

    root = Path(tempfile.mkdtemp(prefix="postfix-capture-"))
    # A certificate from a throw-away authority that Postfix does not trust,
    # so verify.test fails verification while accept.test still uses TLS.
    server_cert = trustme.CA().issue_cert("accept.test", "127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)

    names = ["accept.test", "greylist.test", "unknown.test", "ratelimit.test", "throttle.test", "silent.test",
             "dropdata.test", "refused.test", "blackhole.test", "verify.test"]
    ports = {name: free_port() for name in names}
    controllers = [start_aiosmtpd(ports["accept.test"], "accept.test", context),
                   start_aiosmtpd(ports["verify.test"], "verify.test", context)]
    for name in ("greylist.test", "unknown.test", "ratelimit.test", "throttle.test"):
        controllers.append(start_aiosmtpd(ports[name], name))
    start_raw_servers(ports["silent.test"], ports["dropdata.test"])
    hole = blackhole(ports["blackhole.test"])

    config = write_config(root, ports)
    subprocess.run([POSTFIX, "-c", str(config), "start"], check=True)
    time.sleep(2)
    try:
        plan = [
            ("alice@capture.test", ["bob@accept.test", "carol@accept.test"], "two recipients, one connection"),
            ("alice@capture.test", ["dan@greylist.test"], "greylisted"),
            ("alice@capture.test", ["nobody@unknown.test"], "unknown user"),
            ("alice@capture.test", ["erin@ratelimit.test"], "rate limited at MAIL FROM"),
            ("alice@capture.test", ["frank@throttle.test", "grace@throttle.test"], "second recipient throttled"),
            ("alice@capture.test", ["heidi@silent.test"], "no greeting"),
            ("alice@capture.test", ["ivan@dropdata.test"], "dropped at DATA"),
            ("alice@capture.test", ["judy@refused.test"], "refused"),
            ("alice@capture.test", ["mallory@refused.test"], "refused again"),
            ("alice@capture.test", ["niaj@blackhole.test"], "connect timeout"),
            ("alice@capture.test", ["olivia@verify.test"], "certificate not trusted"),
        ]
        for sender, recipients, subject in plan:
            print(f"{subject}: {send(INJECT_PORT, sender, recipients, subject)}", file=sys.stderr)
        for index in range(4):
            outcome = send(LIMITED_PORT, "alice@capture.test", ["peggy@accept.test"], f"limited listener {index}")
            print(f"limited listener {index}: {outcome}", file=sys.stderr)
        # Let the queue retry, time out and expire the deferred mail.
        time.sleep(20)
        subprocess.run([POSTQUEUE, "-c", str(config), "-f"], check=False)
        time.sleep(25)
        subprocess.run([POSTQUEUE, "-c", str(config), "-f"], check=False)
        time.sleep(15)
    finally:
        subprocess.run([POSTFIX, "-c", str(config), "stop"], check=False)
        time.sleep(1)
        for controller in controllers:
            controller.stop()
        for sock in hole:
            sock.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / "maillog", target)
    print(f"wrote {target}", file=sys.stderr)
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
