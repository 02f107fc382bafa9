"""The speed-up two processes can reach on this machine, a yardstick for smtplogkit's two-process figures.

On a virtual machine two vCPUs may share a physical core or be slowed by
other guests, and then no program reaches twice the speed of one process.
:func:`two_process_scaling` runs one fixed pure-Python loop alone, then two
copies at once, and returns how much more work the pair did per second.
Run as a script, it prints that figure::

    .venv/bin/python benchmarks/machine.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

# A loop of dictionary stores, the kind of work a log parser does.  It ran in about 1.5 s on a 2.4 GHz EPYC core.
LOOP = """
table = {}
for number in range(12_000_000):
    table[number & 4095] = number
"""


def _run(copies: int) -> float:
    """Return the wall time of ``copies`` processes, each running :data:`LOOP`, started together."""
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, "-c", LOOP]) for _ in range(copies)]
    for child in children:
        if child.wait() != 0:
            raise SystemExit(f"the loop failed in {sys.executable}")
    return time.perf_counter() - started


def two_process_scaling(repeat: int = 3) -> float:
    """Return the median over ``repeat`` rounds of (time of one loop) * 2 / (time of two loops at once).

    2.0 means the two processes ran as fast as one alone; 1.0 means they
    took turns on one core.
    """
    ratios = []
    for _ in range(max(repeat, 1)):
        alone = _run(1)
        ratios.append(2 * alone / _run(2))
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the median is printed (default 5)")
    args = parser.parse_args()
    print(f"two independent processes: {two_process_scaling(args.repeat):.2f}x one process")


if __name__ == "__main__":
    main()
