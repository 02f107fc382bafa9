#!/usr/bin/env python3
"""Time smtplogkit's per-attempt table against pflogsumm on one generated maillog.

Usage::

    .venv/bin/python benchmarks/maillog_vs_pflogsumm.py --lines 5000000 [--seed 7] [--keep FILE] [--repeat 3] [--workers 1 2] [--relays 2]

The script writes a seeded, realistic Postfix maillog (a relay and mailbox
server: postscreen, smtpd, cleanup, qmgr, smtp deliveries that succeed,
defer, bounce and time out across several MX hosts, lmtp to dovecot, and the
dovecot, amavis and opendkim lines around them), then runs, one after the
other on the same file:

* ``pflogsumm`` (the Debian package) reading it into its summary;
* ``smtplogkit.read_logs`` building the sessions DataFrame, in a child
  process so its peak memory (``ru_maxrss``) is its own, once per number of
  worker processes given with ``--workers``.  With two or more, the file is
  read in shares, one per process.

With ``--relays N``, the lines are split over N maillogs of N relays
(seeds ``seed`` to ``seed + N - 1``), which pflogsumm reads together and
smtplogkit reads as N files, one per worker process.

It prints one Markdown table row per run: wall and CPU seconds (both
including Python's start-up and imports, and the CPU time of every worker),
lines per second on each, peak resident memory, and smtplogkit's speed
relative to pflogsumm.  CPU time is the steadier measure on a shared
machine; wall time is what a user waits.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta

from machine import two_process_scaling

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "example.org", "example.net", "corp.example", "mail.example"]
MX = {
    "gmail.com": ("gmail-smtp-in.l.google.com", "192.0.2.27"),
    "outlook.com": ("outlook-com.olc.protection.outlook.com", "192.0.2.161"),
    "yahoo.com": ("mta7.am0.yahoodns.net", "192.0.2.72"),
    "example.org": ("mx.example.org", "198.51.100.10"),
    "example.net": ("mx1.example.net", "198.51.100.20"),
    "corp.example": ("mail.corp.example", "198.51.100.30"),
    "mail.example": ("mx.mail.example", "198.51.100.40"),
}
DEFERRALS = [
    ("4.7.0", "host {h}[{ip}] said: 421 4.7.0 [TS01] Messages from 203.0.113.5 temporarily deferred due to user complaints (in reply to MAIL FROM command)"),
    ("4.2.0", "host {h}[{ip}] said: 450 4.2.0 <{r}>: Recipient address rejected: Greylisted (in reply to RCPT TO command)"),
    ("4.7.28", "host {h}[{ip}] said: 421-4.7.28 Our system has detected an unusual rate of unsolicited mail (in reply to end of DATA command)"),
    ("4.4.2", "lost connection with {h}[{ip}] while receiving the initial server greeting"),
    ("4.4.2", "conversation with {h}[{ip}] timed out while sending end of data -- message may be sent more than once"),
]
BOUNCES = [
    ("5.1.1", "host {h}[{ip}] said: 550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"),
    ("5.7.1", "host {h}[{ip}] said: 554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org (in reply to RCPT TO command)"),
]


class Generator:
    """Write maillog lines for messages that overlap in time, as a busy relay logs them."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.clock = datetime(2026, 11, 30, 0, 0, 0)
        self.pid = 1000
        self.queue = 0x10000
        self.busy: set[int] = set()  # smtp processes delivering a message in flight

    def stamp(self) -> str:
        self.clock += timedelta(milliseconds=self.random.randint(0, 40))
        c = self.clock
        return f"{MONTHS[c.month - 1]} {c.day:2d} {c.hour:02d}:{c.minute:02d}:{c.second:02d} mx1"

    def next_pid(self) -> int:
        self.pid = 1000 + (self.pid + self.random.randint(1, 97)) % 60000
        return self.pid

    def qid(self) -> str:
        self.queue += self.random.randint(1, 5000)
        return f"{self.queue:X}{self.random.randint(0, 0xFFFF):04X}"[:11]

    def message(self) -> list[str]:
        """Return the lines of one message's life, in order, without timestamps; ``self.smtp`` is its smtp process."""
        r = self.random
        self.smtp: int | None = None
        qid = self.qid()
        client_ip = f"203.0.113.{r.randint(1, 254)}"
        smtpd = self.next_pid()
        lines = [
            f"postfix/postscreen[{smtpd - 1}]: CONNECT from [{client_ip}]:{r.randint(1024, 65535)} to [192.0.2.1]:25",
            f"postfix/postscreen[{smtpd - 1}]: PASS OLD [{client_ip}]:{r.randint(1024, 65535)}",
            f"postfix/smtpd[{smtpd}]: connect from client{r.randint(1, 999)}.example[{client_ip}]",
        ]

        if r.random() < 0.08:
            lines += [
                f"postfix/smtpd[{smtpd}]: NOQUEUE: reject: RCPT from client.example[{client_ip}]: 554 5.7.1 <x@relay.example>: Relay access denied; from=<a@b.example> to=<x@relay.example> proto=ESMTP helo=<client.example>",
                f"postfix/smtpd[{smtpd}]: disconnect from client.example[{client_ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
            ]
            return lines

        sender = f"user{r.randint(1, 5000)}@relay.example"
        recipients = [f"r{r.randint(1, 99999)}@{r.choice(DOMAINS)}" for _ in range(r.choice((1, 1, 1, 2, 3)))]
        lines += [
            f"postfix/smtpd[{smtpd}]: {qid}: client=client.example[{client_ip}], sasl_method=PLAIN, sasl_username={sender}",
            f"postfix/cleanup[{self.next_pid()}]: {qid}: message-id=<{qid}.{r.randint(1, 10**9)}@relay.example>",
            f"opendkim[812]: {qid}: DKIM-Signature field added (s=mail, d=relay.example)",
            f"postfix/qmgr[700]: {qid}: from=<{sender}>, size={r.randint(800, 200000)}, nrcpt={len(recipients)} (queue active)",
            f"postfix/smtpd[{smtpd}]: disconnect from client.example[{client_ip}] ehlo=1 auth=1 mail=1 rcpt={len(recipients)} data=1 quit=1 commands=6",
            f"amavis[2211]: ({r.randint(10000, 99999)}-01) Passed CLEAN {{RelayedOutbound}}, [{client_ip}] <{sender}> -> <{recipients[0]}>, Queue-ID: {qid}, size: 2312, 420 ms",
        ]

        smtp = self.next_pid()
        while smtp in self.busy:  # a process delivers one message at a time
            smtp = self.next_pid()
        self.busy.add(smtp)
        self.smtp = smtp
        by_domain: dict[str, list[str]] = {}
        for rcpt in recipients:
            by_domain.setdefault(rcpt.rsplit("@", 1)[1], []).append(rcpt)
        for domain, group in by_domain.items():
            host, ip = MX[domain]
            roll = r.random()
            if roll < 0.04:
                # Postfix quotes the last address's error in the delivery record.
                v6 = f"2001:db8::{r.randint(1, 99)}"
                lines.append(f"postfix/smtp[{smtp}]: connect to {host}[{ip}]:25: Connection timed out")
                lines.append(f"postfix/smtp[{smtp}]: connect to {host}[{v6}]:25: Network is unreachable")
                for rcpt in group:
                    lines.append(f"postfix/smtp[{smtp}]: {qid}: to=<{rcpt}>, relay=none, delay=30, delays=0.1/0/30/0, dsn=4.4.1, status=deferred (connect to {host}[{v6}]:25: Network is unreachable)")
                continue
            lines.append(f"postfix/smtp[{smtp}]: Trusted TLS connection established to {host}[{ip}]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)")
            if roll < 0.12:
                dsn, reason = r.choice(DEFERRALS)
                status = "deferred"
            elif roll < 0.15:
                dsn, reason = r.choice(BOUNCES)
                status = "bounced"
            else:
                dsn, reason, status = "2.0.0", "250 2.0.0 OK {qid2} - gsmtp", "sent"
            for rcpt in group:
                text = reason.format(h=host, ip=ip, r=rcpt, qid2=r.randint(1, 10**9))
                delays = f"{r.random():.2f}/0.01/{r.random():.2f}/{r.random():.2f}"
                lines.append(f"postfix/smtp[{smtp}]: {qid}: to=<{rcpt}>, relay={host}[{ip}]:25, delay=1.2, delays={delays}, dsn={dsn}, status={status} ({text})")
            if status == "bounced":
                lines.append(f"postfix/bounce[{self.next_pid()}]: {qid}: sender non-delivery notification: {self.qid()}")

        if r.random() < 0.2:
            lines.append(f"dovecot: imap({sender}): Logged out in={r.randint(10, 9999)} out={r.randint(10, 99999)}")
        lines.append(f"postfix/qmgr[700]: {qid}: removed")
        return lines

    def write(self, path: str, total: int) -> int:
        """Write about ``total`` lines to ``path``, interleaving messages in flight; return the count."""
        written = 0
        in_flight: list[tuple[list[str], int | None]] = []
        with open(path, "w", encoding="utf-8") as out:
            while written < total or in_flight:
                while written < total and len(in_flight) < 40:
                    lines = self.message()
                    in_flight.append((lines, self.smtp))
                index = self.random.randrange(len(in_flight))
                lines, smtp = in_flight[index]
                out.write(f"{self.stamp()} {lines.pop(0)}\n")
                written += 1
                if not lines:
                    in_flight.pop(index)
                    self.busy.discard(smtp)
                if written % 5000 == 0:
                    out.write(f"{self.stamp()} postfix/anvil[701]: statistics: max connection rate 3/60s for (smtp:203.0.113.9) at {self.clock:%b %d %H:%M:%S}\n")
                    written += 1
        return written


def run_pflogsumm(paths: list[str]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(["perl", "/usr/sbin/pflogsumm", "--problems-first", *paths], capture_output=True, text=True,
                         check=False)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise SystemExit(f"pflogsumm failed: {run.stderr.strip()[:300]}")
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    return {"seconds": seconds, "cpu": cpu, "peak_mb": usage.ru_maxrss / 1024}


SMTPLOGKIT_CHILD = """
import json, resource, sys, time, tracemalloc
import smtplogkit
trace = len(sys.argv) > 2 and sys.argv[2] == "trace"
if trace:
    tracemalloc.start()
workers = int(sys.argv[3])
frame = smtplogkit.read_logs(json.loads(sys.argv[1]), format="postfix", progress=False, workers=workers)
files = frame.attrs["files"]
traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
own = resource.getrusage(resource.RUSAGE_SELF)
pool = resource.getrusage(resource.RUSAGE_CHILDREN)  # the other workers, already ended
print(json.dumps({"cpu": own.ru_utime + own.ru_stime + pool.ru_utime + pool.ru_stime, "rows": len(frame),
                  "lines": sum(f["lines"] for f in files), "unrecognised": sum(f["unrecognised"] for f in files),
                  "peak_mb": max(own.ru_maxrss, pool.ru_maxrss) / 1024, "traced_mb": traced}))
"""


def run_smtplogkit(paths: list[str], trace: bool, workers: int = 1, pure: bool = False) -> dict:
    """Run read_logs in a new Python process; wall time includes start-up and imports, as pflogsumm's does.

    With ``pure``, the child runs without the compiled modules (``SMTPLOGKIT_PURE_PYTHON=1``).
    """
    args = [sys.executable, "-c", SMTPLOGKIT_CHILD, json.dumps(paths), "trace" if trace else "-", str(workers)]
    env = {**os.environ, "SMTPLOGKIT_PURE_PYTHON": "1"} if pure else None
    started = time.perf_counter()
    run = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"smtplogkit failed: {run.stderr.strip()[-500:]}")
    return {**json.loads(run.stdout.strip().splitlines()[-1]), "seconds": seconds}


def byte_compile() -> None:
    """Write smtplogkit's bytecode, as installing a wheel does, so that the children do not compile its source.

    An editable install where ``PYTHONDONTWRITEBYTECODE`` is set (as on
    this machine) never writes it, and each run would spend about 0.15 s
    compiling the package, which neither an installed package nor
    pflogsumm pays.
    """
    spec = importlib.util.find_spec("smtplogkit")
    if spec is None or spec.origin is None:
        raise SystemExit("smtplogkit is not installed in this Python; run `make install` first")
    compileall.compile_dir(os.path.dirname(spec.origin), quiet=1)


def _median(results: list[dict]) -> dict:
    """Return, for each time, its median over the runs; other values come from the first run.

    Peak memory is the first run's: the kernel reports the largest child
    seen so far, so later pflogsumm runs would show smtplogkit's peak.
    """
    merged = dict(results[0])
    for key in ("seconds", "cpu"):
        merged[key] = statistics.median(result[key] for result in results)
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=5_000_000, help="lines to generate (default 5000000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generated log")
    parser.add_argument("--keep", help="write the maillog here and keep it (default: a temporary file)")
    parser.add_argument("--tracemalloc", action="store_true", help="also measure Python heap peak (slower)")
    parser.add_argument("--repeat", type=int, default=1, help="run both tools this many times and report medians")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="time smtplogkit with each of these numbers of processes (default: 1 2)")
    parser.add_argument("--relays", type=int, default=1, help="split the lines over this many maillogs (default 1)")
    parser.add_argument("--pure", action="store_true",
                        help="also time one process without the compiled modules (SMTPLOGKIT_PURE_PYTHON=1)")
    args = parser.parse_args()

    path = args.keep or os.path.join(tempfile.mkdtemp(prefix="maillog-bench-"), "maillog")
    paths = [path] if args.relays == 1 else [f"{path}.relay{index}" for index in range(args.relays)]
    started = time.perf_counter()
    lines = sum(Generator(args.seed + index).write(each, args.lines // args.relays) for index, each in enumerate(paths))
    size = sum(os.path.getsize(each) for each in paths)
    print(f"generated {lines} lines ({size / 2**20:.0f} MiB) in {len(paths)} file(s) in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)

    byte_compile()
    # (workers, without the compiled modules) of each smtplogkit run.
    setups = [(n, False) for n in args.workers] + ([(1, True)] if args.pure else [])
    runs = [(run_pflogsumm(paths), [run_smtplogkit(paths, args.tracemalloc, n, pure) for n, pure in setups])
            for _ in range(max(args.repeat, 1))]
    pflog = _median([p for p, _ in runs])
    ours = [_median([o[index] for _, o in runs]) for index in range(len(setups))]
    names = [f"smtplogkit, {n} process{'es' if n > 1 else ''}" + (", no compiled modules" if pure else "")
             for n, pure in setups]
    if len(runs) > 1:
        for index, name in enumerate(names):
            ratios = ", ".join(f"{p['seconds'] / o[index]['seconds']:.2f}x" for p, o in runs)
            print(f"wall-time speed ratio of each run, {name}: {ratios}", file=sys.stderr)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if any(n > 1 for n, _ in setups):
        print(f"two copies of a fixed Python loop at once (benchmarks/machine.py): "
              f"{two_process_scaling(args.repeat):.2f}x one copy")
    print(f"command: {' '.join(sys.argv)}")
    print()
    print("| tool | wall s | CPU s | lines/s (wall) | lines/s (CPU) | peak RSS (MiB) | notes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    rows = [("pflogsumm", pflog, "summary report")]
    for name, result in zip(names, ours):
        note = (f"{result['rows']:,} session rows, {result['unrecognised']} unrecognised lines"
                + (f", Python heap peak {result['traced_mb']:.0f} MiB" if result["traced_mb"] else ""))
        rows.append((name, result, note))
    for name, result, note in rows:
        print(f"| {name} | {result['seconds']:.1f} | {result['cpu']:.1f} | {lines / result['seconds']:,.0f} | "
              f"{lines / result['cpu']:,.0f} | {result['peak_mb']:.0f} | {note} |")
    print()
    for name, result in zip(names, ours):
        print(f"{name} relative to pflogsumm: "
              f"{pflog['seconds'] / result['seconds']:.2f}x wall, {pflog['cpu'] / result['cpu']:.2f}x CPU")
    if not args.keep:
        for each in paths:
            os.remove(each)
    return 0


if __name__ == "__main__":
    sys.exit(main())
