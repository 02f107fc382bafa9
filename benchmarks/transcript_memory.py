#!/usr/bin/env python3
"""Peak memory of reading a long client transcript log, with sessions ended early and at the end of the file.

Usage::

    .venv/bin/python benchmarks/transcript_memory.py [--formats javamail,phpmailer] [--copies 3000]

For each format, the script writes the format's captures under
``tests/captures/FORMAT/`` one after another, ``--copies`` times over, into
one temporary file (JavaMail: 1,003 lines and 17 sessions per copy). It then
reads the file in a child process per run, so each peak (``ru_maxrss``) is
that run's own:

* ``read_logs`` (the sessions table) and ``load_logs(events="failed")`` (what
  the notebooks hold), each
* with the session of a format that declares ``SESSIONS_IN_ORDER`` ended
  when the next one begins (``early``), and with that switched off, as
  before, so that every session waits for the end of the file (``late``).

It prints one Markdown table row per run: lines, sessions, events kept, CPU
seconds and peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, resource, sys, time
import smtplogkit
from smtplogkit import formats
from smtplogkit.report import load_logs
path, name, kind, when = sys.argv[1:5]
if when == "late":
    formats.get(name).SESSIONS_IN_ORDER = False
start = time.process_time()
if kind == "sessions":
    sessions, events = smtplogkit.read_logs(path, format=name, cache="", progress=False), None
else:
    loaded = load_logs(path, format=name, cache="", events="failed")
    sessions, events = loaded.sessions, loaded.events
print(json.dumps({"sessions": len(sessions), "events": None if events is None else len(events),
                  "cpu": time.process_time() - start,
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_log(name: str, copies: int, folder: Path) -> tuple[Path, int]:
    """Write the captures of format ``name`` ``copies`` times over into one file; return it and its line count."""
    parts = [path.read_text() for path in sorted((ROOT / "tests" / "captures" / name).glob("*.log"))]
    if not parts:
        raise SystemExit(f"no captures of {name} under tests/captures/{name}")
    text = "".join(part if part.endswith("\n") else part + "\n" for part in parts)
    path = folder / f"{name}.log"
    with path.open("w") as handle:
        for _ in range(copies):
            handle.write(text)
    return path, text.count("\n") * copies


def run(path: Path, name: str, kind: str, when: str) -> dict:
    """Read ``path`` in a child process (``kind`` is "sessions" or "events") and return its figures."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), name, kind, when], check=True,
                          capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--formats", default="javamail,phpmailer", help="formats to measure (default javamail,phpmailer)")
    parser.add_argument("--copies", type=int, default=3000, help="copies of the captures in the file (default 3000)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"command: benchmarks/transcript_memory.py --formats {args.formats} --copies {args.copies}\n")
    print("| format | lines | read | sessions end | sessions | events kept | CPU s | peak RSS (MiB) |")
    print("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.formats.split(","):
            path, lines = write_log(name, args.copies, Path(folder))
            for read in ("sessions", "load_logs(events=\"failed\")"):
                for when in ("early", "late"):
                    found = run(path, name, "sessions" if read == "sessions" else "events", when)
                    events = "" if found["events"] is None else f"{found['events']:,}"
                    label = "at the next session" if when == "early" else "at the end of the file"
                    print(f"| {name} | {lines:,} | {read} | {label} | {found['sessions']:,} | {events} "
                          f"| {found['cpu']:.1f} | {found['peak']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
