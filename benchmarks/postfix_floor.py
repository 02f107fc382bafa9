#!/usr/bin/env python3
"""Time the steps of a Postfix read that come before the parser, to show how much time the parser may take.

Usage::

    .venv/bin/python benchmarks/postfix_floor.py MAILLOG [--repeat 3]

``MAILLOG`` is a maillog such as ``benchmarks/maillog_vs_pflogsumm.py
--keep FILE`` writes.  Each step runs in a new process and adds work to the
one before it, so the differences are the cost of each step:

1. ``imports``: start Python and import smtplogkit, pandas and pyarrow;
2. ``blocks``: also read the file into the reader's byte blocks;
3. ``prefilter``: also run the Postfix prefilter on every block and hand
   each kept line to a loop that does nothing with it, as the reader hands
   them to the parser;
4. ``read_logs``: the whole read into the sessions DataFrame;
5. ``pflogsumm``: the Debian package summarising the same file, if installed.

It prints the minimum CPU seconds of ``--repeat`` runs per step.  Whatever
the parser and the frame building cost must fit between step 3 and the
time that twice pflogsumm's speed allows.
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import subprocess
import sys

STEP = """
import sys, time
start = time.process_time()
import functools
import pandas, pyarrow.compute
import smtplogkit
from pathlib import Path
from smtplogkit import inputs, reader
from smtplogkit.envelope import EnvelopeOptions
from smtplogkit.formats import postfix
step, path = sys.argv[1], sys.argv[2]
lines = 0
if step == "blocks":
    for block in inputs.open_blocks(inputs.Source(path, Path(path)), inputs.Decoded()):
        lines += len(block)
elif step == "prefilter":
    blocks = inputs.open_blocks(inputs.Source(path, Path(path)), inputs.Decoded())
    counted = reader._Counted([], blocks, postfix.strip_or_noise, EnvelopeOptions(),
                              functools.partial(postfix.prefilter, raw=True))
    for line in counted:
        lines += 1
elif step == "read_logs":
    lines = len(smtplogkit.read_logs(path, format="postfix", cache="", progress=False))
print(time.process_time() - start, lines)
"""

STEPS = ("imports", "blocks", "prefilter", "read_logs")


def _child_cpu(command: list[str]) -> tuple[float, str]:
    """Run ``command`` and return the CPU seconds its process used, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("maillog", help="the maillog to read")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the minimum is kept (default 3)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"command: benchmarks/postfix_floor.py {args.maillog} --repeat {args.repeat}\n")
    print("| step | CPU s (min) | more than the step before |")
    print("| --- | ---: | ---: |")
    previous = 0.0
    for step in STEPS:
        best = min(_child_cpu([sys.executable, "-c", STEP, step, args.maillog])[0] for _ in range(args.repeat))
        print(f"| {step} | {best:.2f} | {best - previous:+.2f} |", flush=True)
        previous = best
    pflogsumm = shutil.which("pflogsumm") or shutil.which("pflogsumm", path="/usr/sbin")
    if pflogsumm:
        best = min(_child_cpu([pflogsumm, args.maillog])[0] for _ in range(args.repeat))
        print(f"| pflogsumm | {best:.2f} | |")
        print(f"\nTwice pflogsumm's speed leaves {best / 2:.2f} s for the whole read.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
