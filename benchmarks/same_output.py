"""Check that a speed change leaves the sessions and events DataFrames exactly as they were.

Usage::

    .venv/bin/python benchmarks/same_output.py save FOLDER
    .venv/bin/python benchmarks/same_output.py compare FOLDER

``save`` reads the bundled sample data, the handed cases, the client
captures, the log files under ``tests/data`` and ``tests/formats/data``,
the seeded inputs of ``benchmarks/client_logs.py`` (with and without
``--unique-replies``) and a seeded maillog of
``benchmarks/maillog_vs_pflogsumm.py`` with
``read_logs`` and ``read_events``, and pickles the frames and their attrs
to FOLDER.  Run it before a change.  ``compare`` reads the same inputs
again after the change and checks each frame against the saved one with
``pandas.testing.assert_frame_equal`` (exact values and dtypes) and equal
``attrs``.  It exits with status 1 at the first difference.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import sys
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

import smtplogkit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import client_logs  # noqa: E402  (the benchmark's own log writers)
from maillog_vs_pflogsumm import Generator  # noqa: E402

BENCH_INPUTS = Path(tempfile.gettempdir()) / "smtplogkit-same-output"
DAY = date(2026, 3, 2)


def inputs() -> dict[str, tuple[list[str], dict]]:
    """Return each named group of inputs: its paths and the read options."""
    groups: dict[str, tuple[list[str], dict]] = {"sample_data": ([str(ROOT / "sample_data")], {})}
    groups["cases"] = (sorted(str(p) for p in (ROOT / "tests" / "cases").iterdir() if p.suffix != ".md"), {})
    fixtures = sorted(str(p) for folder in ("tests/data", "tests/formats/data") for p in (ROOT / folder).rglob("*")
                      if p.is_file() and p.suffix not in (".jsonl", ".json", ".md"))
    groups["test-data"] = (fixtures, {})
    groups["test-data-dated"] = (fixtures, {"date": DAY})
    for folder in sorted((ROOT / "tests" / "captures").iterdir()):
        if folder.is_dir():
            files = sorted(str(p) for p in folder.rglob("*") if p.is_file() and p.suffix not in (".jsonl", ".json", ".md"))
            groups[f"captures-{folder.name}"] = (files, {})
            groups[f"captures-{folder.name}-dated"] = (files, {"date": DAY})
    for client in client_logs.CLIENTS:
        for unique in (False, True):
            name = f"{client}-unique" if unique else client
            folder = BENCH_INPUTS / name
            if not folder.is_dir():
                folder.mkdir(parents=True)
                client_logs.write_logs(folder, 20000, 4, client=client, unique=unique)
            groups[f"bench-{name}"] = ([str(folder)], {"date": DAY})
    maillog = BENCH_INPUTS / "postfix" / "maillog"
    if not maillog.is_file():
        maillog.parent.mkdir(parents=True, exist_ok=True)
        Generator(7).write(str(maillog), 300_000)
        os.utime(maillog, (1764633600, 1764633600))  # 2025-12-02: the year of the syslog stamps
    groups["bench-postfix"] = ([str(maillog)], {"format": "postfix"})
    return groups


def frames(paths: list[str], options: dict) -> dict[str, pd.DataFrame]:
    """Return the sessions and events frames of one group of inputs."""
    return {"sessions": smtplogkit.read_logs(paths, **options), "events": smtplogkit.read_events(paths, **options)}


def _by_line(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the rows sorted by source and line, ties in their order, with the attrs kept."""
    ordered = frame.sort_values(["source", "line"], kind="stable").reset_index(drop=True)
    ordered.attrs = frame.attrs
    return ordered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["save", "compare"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--only", help="compare only the groups whose name contains this text")
    parser.add_argument("--sorted", action="store_true",
                        help="compare sessions after a stable sort by source and line, for a change of row order")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the captures' expected warnings are part of the attrs compared
    args.folder.mkdir(parents=True, exist_ok=True)
    failed = False
    for name, (paths, options) in inputs().items():
        if args.only and args.only not in name:
            continue
        found = frames(paths, options)
        stored = args.folder / f"{name}.pickle"
        if args.action == "save":
            stored.write_bytes(pickle.dumps({key: (frame, dict(frame.attrs)) for key, frame in found.items()}))
            print(f"saved {name}: {len(found['sessions'])} sessions, {len(found['events'])} events")
            continue
        saved = pickle.loads(stored.read_bytes())
        for key, frame in found.items():
            before, attrs = saved[key]
            if args.sorted and key == "sessions":
                frame, before = (_by_line(f) for f in (frame, before))
            try:
                pd.testing.assert_frame_equal(frame, before, check_exact=True)
                assert dict(frame.attrs) == attrs, "attrs differ"
            except AssertionError as error:
                print(f"DIFFERENT {name} {key}: {error}")
                failed = True
                continue
        print(f"{'same' if not failed else 'checked'} {name}: {len(found['sessions'])} sessions, {len(found['events'])} events")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
