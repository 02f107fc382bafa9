#!/usr/bin/env python3
"""Time the Dask reader on one large maillog, as one partition and in shares, on a local cluster.

Usage::

    .venv/bin/python benchmarks/dask_shares.py MAILLOG [--workers 2] [--shares 1 2] [--repeat 3]

Starts a ``distributed.LocalCluster`` bound to 127.0.0.1 with ``--workers``
single-threaded worker processes, then for each number of shares times
``smtplogkit.dask.read_logs(MAILLOG, format="postfix", shares=N).compute()``
and prints the median wall time, the partitions and the rows.  Write the
maillog with ``benchmarks/maillog_vs_pflogsumm.py --keep FILE``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import smtplogkit.dask as sdask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("maillog")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the cluster (default 2)")
    parser.add_argument("--shares", type=int, nargs="+", default=[1, 2], help="numbers of shares to time (default 1 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is printed (default 3)")
    args = parser.parse_args()

    import distributed

    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        print(f"| shares | partitions | rows | wall s (median of {args.repeat}) |")
        print("| ---: | ---: | ---: | ---: |")
        for shares in args.shares:
            runs, rows, partitions = [], 0, 0
            for _ in range(max(args.repeat, 1)):
                started = time.perf_counter()
                lazy = sdask.read_logs(args.maillog, format="postfix", shares=shares)
                frame = lazy.compute()
                runs.append(time.perf_counter() - started)
                rows, partitions = len(frame), lazy.npartitions
            print(f"| {shares} | {partitions} | {rows:,} | {statistics.median(runs):.2f} |")


if __name__ == "__main__":
    main()
