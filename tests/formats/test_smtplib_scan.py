"""The compiled smtplib prefilter (``_smtplib_scan.pyx``) returns what the pyarrow one returns.

Both must keep the same lines, count the same noise and flag the same
debug lines.  The inputs are every smtplib log of the repository, the
generated logs of ``test_masked_keys``, and debug lines whose times and
kinds are changed at random.  Among those, lines are left out, kept
between lines whose times go backwards, and kept beside lines that are
no debug lines.
"""

from __future__ import annotations

import random

import pytest

from smtplogkit.formats import smtplib

from .test_masked_keys import _fixtures, _smtplib_log
from .test_postfix_scan import _block

pytestmark = pytest.mark.skipif(
    smtplib.SCAN is None,
    reason="_smtplib_scan is not built or is turned off (test_compiled_built tells which)")

KINDS = ["reply: retcode (250); Msg: b'OK'", "reply: b'250 OK\\r\\n'", "send: 'mail FROM:<a@example.org>\\r\\n'",
         "data: (250, b'OK')", "connect: b'220 mx ready'", 'connect: b"220 mx"', "connect fail: ('mx', 25)",
         "connect: to ('mx.example.org', 587) None", "reply: b'250-8BITMIME\\r\\n'"]


def _both(texts: list[str]) -> tuple[tuple, tuple]:
    """Return the pyarrow prefilter's result and the scanner's for a block of ``texts``."""
    texts = texts + [""] * max(0, smtplib.PREFILTER_MIN - len(texts))
    positions, noise, flags = smtplib.prefilter(list(texts), raw=True)
    block = _block(texts)
    got = smtplib.SCAN.scan(block.data, len(block), smtplib._KIND_BYTES, smtplib._DROPPABLE, True, True)
    assert got[3] == [texts[p] for p in got[0]]  # the texts of the kept lines
    return (list(positions), noise, list(flags)), tuple(got[:3])


def _made(seed: int, count: int) -> list[str]:
    """Return debug lines with times that mostly go forwards, of random kinds, some of them damaged."""
    rng = random.Random(seed)
    lines = []
    micro = 0
    for _ in range(count):
        micro += rng.choice((0, 1, 5000, -3000))  # now and then a time goes backwards
        second = 75_600 + max(micro, 0) // 1_000_000
        stamp = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.{max(micro, 0) % 1_000_000:06d}"
        text = f"{stamp} {rng.choice(KINDS)}"
        roll = rng.random()
        if roll < 0.05:
            text = "Traceback (most recent call last):"
        elif roll < 0.1:
            at = rng.randrange(17)
            text = text[:at] + rng.choice("x: .9é") + text[at + 1:]
        elif roll < 0.12:
            text = text[:15] + text[16:]
        lines.append(text)
    return lines


@pytest.mark.parametrize("path", _fixtures("smtplib"), ids=lambda path: path.name)
def test_scan_same_as_pyarrow_on_logs(path):
    want, got = _both(path.read_text(encoding="utf-8").split("\n"))
    assert want == got


@pytest.mark.parametrize("seed", [1, 2])
def test_scan_same_as_pyarrow_on_generated_logs(seed):
    want, got = _both(_smtplib_log(seed, _fixtures("smtplib")).split("\n"))
    assert want == got


@pytest.mark.parametrize("seed", range(4))
def test_scan_same_as_pyarrow_on_changed_lines(seed):
    want, got = _both(_made(seed, 3000))
    assert want == got
    assert want[1] > 100  # lines were left out
    assert len(want[0]) - sum(want[2]) > 100  # and lines that are no debug lines kept
