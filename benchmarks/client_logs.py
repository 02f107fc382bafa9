"""Benchmark: client debug logs (smtplib) to sessions, one core and two, and the cache.

Usage::

    .venv/bin/python benchmarks/client_logs.py [--sessions N] [--files F] [--repeat R] [--out FILE]

Writes seeded smtplib debuglevel 2 logs to a temporary folder, then times
``read_logs`` with one process, with two processes, and reloading a cache
of one million sessions.  Prints a Markdown table and appends it to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

import smtplogkit
from smtplogkit import cache as parquet_cache
from smtplogkit.parallel import combine

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


def write_logs(folder: Path, sessions: int, files: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    total = 0
    for index in range(files):
        lines: list[str] = []
        for number in range(sessions // files):
            write_session(lines, rng, number)
        (folder / f"worker-{index}-2026-03-02.log").write_text("\n".join(lines) + "\n")
        total += len(lines)
    return total


def timed(function, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40000, help="sessions to generate (default 40000)")
    parser.add_argument("--files", type=int, default=8, help="files to spread them over (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is kept")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-scale.md")), help="Markdown file to append to")
    args = parser.parse_args()
    day = date(2026, 3, 2)

    with tempfile.TemporaryDirectory(prefix="smtplogkit-bench-") as tmp:
        folder = Path(tmp) / "logs"
        folder.mkdir()
        lines = write_logs(folder, args.sessions, args.files)

        one = timed(lambda: smtplogkit.read_logs(folder, date=day), args.repeat)
        two = timed(lambda: smtplogkit.read_logs(folder, date=day, workers=2), args.repeat)

        frame = smtplogkit.read_logs(folder, date=day)
        million = pd.concat([frame] * (1_000_000 // len(frame) + 1), ignore_index=True).iloc[:1_000_000]
        parquet_cache.store(Path(tmp) / "cache", "bench", million, {"source": "bench"})
        reload = timed(lambda: combine([parquet_cache.load(Path(tmp) / "cache", "bench")], [], None), args.repeat)

    table = [
        f"### {time.strftime('%Y-%m-%d')}: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, pandas {pd.__version__}",
        "",
        f"Command: `.venv/bin/python benchmarks/client_logs.py --sessions {args.sessions} --files {args.files} --repeat {args.repeat}` (medians)",
        "",
        "| measurement | value |",
        "|---|---|",
        f"| smtplib lines | {lines:,} in {args.files} files |",
        f"| one process | {lines / one:,.0f} lines/s ({one:.2f} s) |",
        f"| two processes | {lines / two:,.0f} lines/s ({two:.2f} s), {one / two:.2f}x one process |",
        f"| cache reload, 1,000,000 sessions | {reload:.2f} s |",
        "",
    ]
    text = "\n".join(table)
    print(text)
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(text + "\n")


if __name__ == "__main__":
    main()
