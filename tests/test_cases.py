"""Real-world logs from bug reports: each must get the labels in its manifest.

The check mirrors how an outside checker reads the CLI: it runs
``smtplogkit parse FILE --jsonl`` and compares the most common (stage, cause)
pair among failed sessions with the expected one.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest

CASES = Path(__file__).parent / "cases"
MANIFEST = [json.loads(line) for line in (CASES / "manifest.jsonl").read_text().splitlines() if line.strip()]


def run_cli(path: Path) -> list[dict]:
    run = subprocess.run([sys.executable, "-m", "smtplogkit", "parse", str(path), "--jsonl"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def dominant(sessions: list[dict], expected: dict) -> dict:
    failed = [s for s in sessions if s["cause"] not in (None, "ok")]
    if not failed:
        return {"failure_stage": "none", "cause": "ok", "reply_code": None, "enhanced_code": None}
    counts = collections.Counter((s["failure_stage"], s["cause"]) for s in failed)
    top = max(counts.values())
    tied = [pair for pair, count in counts.items() if count == top]
    wanted = (expected["failure_stage"], expected["cause"])
    stage, cause = wanted if wanted in tied else tied[0]
    same = [s for s in failed if (s["failure_stage"], s["cause"]) == (stage, cause)]
    return {
        "failure_stage": stage,
        "cause": cause,
        "reply_code": collections.Counter(s["reply_code"] for s in same).most_common(1)[0][0],
        "enhanced_code": collections.Counter(s["enhanced_code"] for s in same).most_common(1)[0][0],
    }


@pytest.mark.parametrize("case", MANIFEST, ids=[c["id"] for c in MANIFEST])
def test_case_labels(case):
    expected = case["expected"]
    sessions = run_cli(CASES / f"{case['id']}.log")
    got = dominant(sessions, expected)

    assert got["failure_stage"] == expected["failure_stage"]
    assert got["cause"] == expected["cause"]
    if expected.get("reply_code") is not None:
        assert got["reply_code"] == expected["reply_code"]
    if expected.get("enhanced_code") is not None:
        assert got["enhanced_code"] == expected["enhanced_code"]
    if expected.get("sessions") is not None:
        assert len(sessions) == expected["sessions"]
