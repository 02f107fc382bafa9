"""Detection picks the transcript readers for their own logs and stays low elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smtplogkit import formats
from smtplogkit.envelope import EnvelopeOptions, strip_envelope

CASES = Path(__file__).parents[1] / "cases"
MANIFEST = [json.loads(line) for line in (CASES / "manifest.jsonl").read_text().splitlines() if line.strip()]
TRANSCRIPT_FORMATS = {"nodemailer", "phpmailer", "mailkit", "javamail", "telnet", "transcript"}


def _sample(path: Path) -> list[str]:
    options = EnvelopeOptions()
    lines = path.read_text(encoding="utf-8").splitlines()
    texts = [strip_envelope(number, text, options).text for number, text in enumerate(lines, 1)]
    return [text for text in texts if text.strip()][:400]


@pytest.mark.parametrize("case", [c for c in MANIFEST if c["format"] in TRANSCRIPT_FORMATS], ids=lambda c: c["id"])
def test_case_detected(case):
    module, score, _ = formats.detect(_sample(CASES / f"{case['id']}.log"))

    assert module is not None
    assert module.NAME == case["format"]
    assert score >= 0.5


def test_generic_reader_scores_low():
    for case in MANIFEST:
        _, _, scores = formats.detect(_sample(CASES / f"{case['id']}.log"))
        assert scores["transcript"] <= 0.5, case["id"]
