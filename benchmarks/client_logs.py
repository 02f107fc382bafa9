"""Benchmark: client debug logs (smtplib, nodemailer) to sessions, one core and two, and the cache.

Usage::

    .venv/bin/python benchmarks/client_logs.py [--sessions N] [--files F] [--repeat R] [--unique-replies]
        [--unique-recipients] [--out FILE]

Writes seeded smtplib debuglevel 2 logs and nodemailer 10 logger logs to a
temporary folder, then times ``read_logs`` on each with one process (CPU
time and wall time) and with two processes (wall time), and reloading a
cache of one million sessions, in the same process and in a new one.
Prints a Markdown table, and appends it to ``--out`` when given.

The nodemailer lines copy the shapes of the nodemailer 10.6 captures in
``tests/captures/nodemailer``: a STARTTLS session with AUTH PLAIN, the
logged message body, and for one session in four a 421 reply to MAIL FROM
followed by the logger's errors and the printed error object.

Every session of a client prints the same transcript apart from times and
ids, which the parsers' row templates reuse (``smtplogkit/formats/_templates.py``).
``--unique-replies`` numbers the replies of each session, as queue ids do in
real logs, so no session prints another's transcript.  The sessions without
a failure still share templates, whose keys leave out the text of success
replies.  The failing sessions (one in four) share the lines before their
421 reply, so each reads only its lines from that reply on
(``_templates.TailTemplate``).  ``--unique-recipients`` gives every
session a recipient address of its own, as a queue worker writing to many
customers does.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import string
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

import smtplogkit
from smtplogkit import cache as parquet_cache
from smtplogkit.parallel import combine

from machine import two_process_scaling

REPLIES = ["250 2.1.0 Ok", "250 2.1.0 Ok", "250 2.1.0 Ok", "421 4.7.0 Try again later, closing connection."]


def write_session(lines: list[str], rng: random.Random, second: int) -> None:
    clock = f"{8 + second // 3600 % 10:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
    reply = rng.choice(REPLIES)
    lines += [
        f"{clock}.100000 connect: to ('smtp.example.com', 587) None",
        f"{clock}.150000 reply: b'220 smtp.example.com ESMTP ready\\r\\n'",
        f"{clock}.150100 reply: retcode (220); Msg: b'smtp.example.com ESMTP ready'",
        f"{clock}.150200 connect: b'smtp.example.com ESMTP ready'",
        f"{clock}.200000 send: 'ehlo worker-7\\r\\n'",
        f"{clock}.250000 reply: b'250-smtp.example.com\\r\\n'",
        f"{clock}.250100 reply: b'250-STARTTLS\\r\\n'",
        f"{clock}.250200 reply: b'250 AUTH PLAIN LOGIN\\r\\n'",
        f"{clock}.250300 reply: retcode (250); Msg: b'smtp.example.com\\nSTARTTLS\\nAUTH PLAIN LOGIN'",
        f"{clock}.300000 send: 'mail FROM:<agent@example.com> size=512\\r\\n'",
        f"{clock}.350000 reply: b'{reply}\\r\\n'",
        f"{clock}.350100 reply: retcode ({reply[:3]}); Msg: b'{reply[4:]}'",
    ]
    if reply.startswith("250"):
        lines += [
            f"{clock}.400000 send: 'rcpt TO:<customer@example.org>\\r\\n'",
            f"{clock}.450000 reply: b'250 2.1.5 Ok\\r\\n'",
            f"{clock}.450100 reply: retcode (250); Msg: b'2.1.5 Ok'",
            f"{clock}.500000 send: 'data\\r\\n'",
            f"{clock}.550000 reply: b'354 End data with <CR><LF>.<CR><LF>\\r\\n'",
            f"{clock}.550100 reply: retcode (354); Msg: b'End data with <CR><LF>.<CR><LF>'",
            f"{clock}.550200 data: (354, b'End data with <CR><LF>.<CR><LF>')",
            f"{clock}.600000 send: b'Subject: receipt\\r\\n\\r\\nThanks\\r\\n.\\r\\n'",
            f"{clock}.650000 reply: b'250 2.0.0 Ok: queued\\r\\n'",
            f"{clock}.650100 reply: retcode (250); Msg: b'2.0.0 Ok: queued'",
            f"{clock}.650200 data: (250, b'2.0.0 Ok: queued')",
            f"{clock}.700000 send: 'quit\\r\\n'",
            f"{clock}.750000 reply: b'221 2.0.0 Bye\\r\\n'",
            f"{clock}.750100 reply: retcode (221); Msg: b'2.0.0 Bye'",
        ]


NODEMAILER_FRAMES = [
    "    at SMTPConnection._formatError (/srv/app/node_modules/nodemailer/dist/cjs/smtp-connection/index.js:972:19)",
    "    at SMTPConnection._actionMAIL (/srv/app/node_modules/nodemailer/dist/cjs/smtp-connection/index.js:1837:39)",
    "    at SMTPConnection.<anonymous> (/srv/app/node_modules/nodemailer/dist/cjs/smtp-connection/index.js:1310:18)",
    "    at SMTPConnection._processResponse (/srv/app/node_modules/nodemailer/dist/cjs/smtp-connection/index.js:1200:20)",
    "    at SMTPConnection._onData (/srv/app/node_modules/nodemailer/dist/cjs/smtp-connection/index.js:917:14)",
    "    at SMTPConnection._onSocketData (/srv/app/node_modules/nodemailer/dist/cjs/smtp-connection/index.js:218:44)",
    "    at TLSSocket.emit (node:events:524:28)",
    "    at addChunk (node:internal/streams/readable:561:12)",
    "    at readableAddChunkPushByteMode (node:internal/streams/readable:512:3)",
    "    at Readable.push (node:internal/streams/readable:392:5) {",
]
ID_CHARS = string.ascii_letters + string.digits + "-_"


def write_nodemailer_session(lines: list[str], rng: random.Random, second: int) -> None:
    stamp = f"[2026-03-02 {8 + second // 3600 % 10:02d}:{second // 60 % 60:02d}:{second % 60:02d}]"
    sid = "".join(rng.choice(ID_CHARS) for _ in range(rng.choice((10, 11))))
    uuid = f"{rng.getrandbits(128):032x}"
    message_id = f"<{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}@example.com>"
    reply = rng.choice(REPLIES)
    head = f"{stamp} DEBUG [{sid}]"
    info = f"{stamp} INFO  [{sid}]"
    ehlo = [f"{head} S: 250-smtp.example.com", f"{head} S: 250-SIZE 33554432", f"{head} S: 250-8BITMIME",
            f"{head} S: 250-SMTPUTF8"]
    lines += [
        f"{stamp} DEBUG Sending mail using SMTP/10.6.1[client:10.6.1]",
        f"{head} Resolved smtp.example.com as 192.0.2.25 [cache miss]",
        f"{info} Connection established to 192.0.2.25:587",
        f"{head} S: 220 smtp.example.com ESMTP ready",
        f"{head} C: EHLO [10.0.0.7]",
        *ehlo,
        f"{head} S: 250-STARTTLS",
        f"{head} S: 250 HELP",
        f"{head} C: STARTTLS",
        f"{head} S: 220 Ready to start TLS",
        f"{info} Connection upgraded with STARTTLS",
        f"{head} C: EHLO [10.0.0.7]",
        *ehlo,
        f"{head} S: 250-AUTH LOGIN PLAIN XOAUTH2",
        f"{head} S: 250 HELP",
        f"{head} SMTP handshake finished",
        f"{head} C: AUTH PLAIN AGFnZW50QGV4YW1wbGUuY29tAC8qIHNlY3JldCAqLw==",
        f"{head} S: 235 2.7.0 Authentication successful",
        f'{info} User "agent@example.com" authenticated',
        f"{stamp} INFO  Sending message {message_id} to <customer@example.org>",
        f"{head} C: MAIL FROM:<agent@example.com>",
        f"{head} S: {reply}",
    ]
    if not reply.startswith("250"):
        error = f"Mail command failed: {reply}"
        lines += [
            f"{stamp} ERROR Send error for {message_id}: {error}",
            f'{head} Closing connection to the server using "end"',
            f"{stamp} ERROR Send Error: {error}",
            f"Error: {error}",
            *NODEMAILER_FRAMES,
            "  code: 'EENVELOPE',",
            f"  response: '{reply}',",
            f"  responseCode: {reply[:3]},",
            "  permanent: false,",
            "  command: 'MAIL FROM'",
            "}",
        ]
        return
    lines += [
        f"{head} C: RCPT TO:<customer@example.org>",
        f"{head} S: 250 2.1.5 OK",
        f"{head} C: DATA",
        f"{head} S: 354 End data with <CR><LF>.<CR><LF>",
        f"{head} From: agent@example.com",
        f"{head} To: customer@example.org",
        f"{head} Subject: receipt",
        f"{head} Message-ID: {message_id}",
        f"{head} Content-Transfer-Encoding: 7bit",
        f"{head} Date: Mon, 02 Mar 2026 {stamp[12:20]} +0000",
        f"{head} MIME-Version: 1.0",
        f"{head} Content-Type: text/plain; charset=utf-8",
        f"{head} ",
        f"{head} Thanks",
        f"{head} .",
        f"{info} <312 bytes encoded mime message (source size 309 bytes)>",
        f"{head} S: 250 2.0.0 OK queued",
        f'{head} Closing connection to the server using "end"',
        f"Message sent: {message_id}",
    ]


CLIENTS = {"smtplib": write_session, "nodemailer": write_nodemailer_session}


# Replies that get a number of their own in every session with --unique-replies.
UNIQUE_REPLIES = ("Ok: queued", "OK queued", "2.1.5 Ok", "2.1.5 OK", "Try again later")


def write_logs(folder: Path, sessions: int, files: int, seed: int = 7, client: str = "smtplib",
               unique: bool = False, recipients: bool = False) -> int:
    """Write the logs and return their line count.

    With ``unique``, the replies that usually repeat (``queued``, the RCPT
    reply and the 421 reply) carry the session's number, as queue ids make
    real replies differ, so no two sessions print the same transcript.
    With ``recipients``, the recipient address does.
    """
    rng = random.Random(seed)
    write = CLIENTS[client]
    total = 0
    for index in range(files):
        lines: list[str] = []
        if client == "nodemailer":
            lines.append("[2026-03-02 08:00:00] DEBUG Creating transport: nodemailer (10.6.1; +https://nodemailer.com/; "
                         "SMTP/10.6.1[client:10.6.1])")
        for number in range(sessions // files):
            start = len(lines)
            write(lines, rng, number)
            if unique:
                for position in range(start, len(lines)):
                    for reply in UNIQUE_REPLIES:
                        lines[position] = lines[position].replace(reply, f"{reply} {index}.{number}")
            if recipients:
                for position in range(start, len(lines)):
                    lines[position] = lines[position].replace("customer@", f"customer-{index}-{number}@")
        (folder / f"worker-{index}-2026-03-02.log").write_text("\n".join(lines) + "\n")
        total += len(lines)
    return total


def timed(function, repeat: int) -> float:
    """Return the median wall time of ``repeat`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


# Reloading the cache in a new Python process, as a notebook opened again does; pandas is loaded already there.
FRESH_RELOAD = """
import sys, time
from pathlib import Path
import pandas
from smtplogkit import cache
from smtplogkit.parallel import combine
start = time.perf_counter()
combine([cache.load(Path(sys.argv[1]), "bench")], [], None)
print(time.perf_counter() - start)
"""


def timed_fresh(folder: Path, repeat: int) -> float:
    """Return the median time of ``repeat`` cache reloads, each in a new Python process."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", FRESH_RELOAD, str(folder)], capture_output=True, text=True,
                              check=True)
        runs.append(float(done.stdout))
    return statistics.median(runs)


def timed_cpu(function, repeat: int) -> tuple[float, float]:
    """Return the median CPU time (user + system) and the median wall time of ``repeat`` calls."""
    cpu, wall = [], []
    for _ in range(repeat):
        start, start_wall = time.process_time(), time.perf_counter()
        function()
        cpu.append(time.process_time() - start)
        wall.append(time.perf_counter() - start_wall)
    return statistics.median(cpu), statistics.median(wall)


def measure(folder: Path, lines: int, day: date, repeat: int, client: str, files: int) -> list[str]:
    """Time one folder of logs with one process and with two; return the table rows."""
    cpu, one = timed_cpu(lambda: smtplogkit.read_logs(folder, date=day), repeat)
    two = timed(lambda: smtplogkit.read_logs(folder, date=day, workers=2), repeat)
    return [
        f"| {client} lines | {lines:,} in {files} files |",
        f"| {client}, one process, CPU time | {lines / cpu:,.0f} lines/s ({cpu:.2f} s) |",
        f"| {client}, one process, wall time | {lines / one:,.0f} lines/s ({one:.2f} s) |",
        f"| {client}, two processes, wall time | {lines / two:,.0f} lines/s ({two:.2f} s), {one / two:.2f}x one process |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40000, help="sessions to generate (default 40000)")
    parser.add_argument("--files", type=int, default=8, help="files to spread them over (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is kept")
    parser.add_argument("--clients", default="smtplib,nodemailer",
                        help="comma-separated clients to time (default smtplib,nodemailer)")
    parser.add_argument("--unique-replies", action="store_true",
                        help="give every session replies of its own (queue ids and the like), so no session repeats")
    parser.add_argument("--unique-recipients", action="store_true",
                        help="give every session a recipient address of its own")
    parser.add_argument("--out", help="Markdown file to append the table to, such as benchmarks/RESULTS-scale.md "
                                      "(default: print only)")
    args = parser.parse_args()
    day = date(2026, 3, 2)

    clients = [name.strip() for name in args.clients.split(",") if name.strip()]
    rows: list[str] = []
    load = os.getloadavg()[0]
    ceiling = [two_process_scaling(args.repeat)]
    with tempfile.TemporaryDirectory(prefix="smtplogkit-bench-") as tmp:
        for client in clients:
            folder = Path(tmp) / client
            folder.mkdir()
            lines = write_logs(folder, args.sessions, args.files, client=client, unique=args.unique_replies,
                               recipients=args.unique_recipients)
            rows += measure(folder, lines, day, args.repeat, client, args.files)

        frame = smtplogkit.read_logs(Path(tmp) / clients[0], date=day)
        million = pd.concat([frame] * (1_000_000 // len(frame) + 1), ignore_index=True).iloc[:1_000_000]
        parquet_cache.store(Path(tmp) / "cache", "bench", million, {"source": "bench"})
        reload = timed(lambda: combine([parquet_cache.load(Path(tmp) / "cache", "bench")], [], None), args.repeat)
        fresh = timed_fresh(Path(tmp) / "cache", args.repeat)
    ceiling.append(two_process_scaling(args.repeat))

    table = [
        f"### {time.strftime('%Y-%m-%d')}: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, pandas {pd.__version__}",
        "",
        f"Command: `.venv/bin/python benchmarks/client_logs.py --sessions {args.sessions} --files {args.files} "
        f"--repeat {args.repeat} --clients {','.join(clients)}{' --unique-replies' if args.unique_replies else ''}"
        f"{' --unique-recipients' if args.unique_recipients else ''}` "
        f"({'medians' if args.repeat > 1 else 'one run'}; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end)",
        "",
        "| measurement | value |",
        "|---|---|",
        *rows,
        f"| cache reload, 1,000,000 sessions | {reload:.2f} s |",
        f"| the same in a new process (a notebook opened again) | {fresh:.2f} s |",
        f"| two copies of a fixed Python loop at once (benchmarks/machine.py), before and after | "
        f"{ceiling[0]:.2f}x and {ceiling[1]:.2f}x one copy |",
        "",
    ]
    text = "\n".join(table)
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write("\n" + text + "\n")


if __name__ == "__main__":
    main()
