"""Fixtures for reading many files: a small fleet of smtplib logs, and a maillog to read in shares."""

from __future__ import annotations

from pathlib import Path

import pytest

TRANSCRIPT = """\
08:00:0{n}.100000 connect: to ('smtp.example.com', 587) None
08:00:0{n}.200000 reply: b'220 smtp.example.com ESMTP ready\\r\\n'
08:00:0{n}.200100 reply: retcode (220); Msg: b'smtp.example.com ESMTP ready'
08:00:0{n}.300000 send: 'ehlo worker\\r\\n'
08:00:0{n}.400000 reply: b'250-smtp.example.com\\r\\n'
08:00:0{n}.400100 reply: b'250 AUTH PLAIN\\r\\n'
08:00:0{n}.400200 reply: retcode (250); Msg: b'smtp.example.com\\nAUTH PLAIN'
08:00:0{n}.500000 send: 'mail FROM:<a@example.com>\\r\\n'
08:00:0{n}.600000 reply: b'{reply}\\r\\n'
08:00:0{n}.600100 reply: retcode (250); Msg: b'ok'
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """Write logs for two networks and three workers, some with failures."""
    replies = ["250 2.1.0 ok", "421 4.7.0 Try again later, closing connection.", "250 2.1.0 ok"]
    for network in ("office", "prod"):
        for index, worker in enumerate(("agent", "billing", "onboarding")):
            folder = tmp_path / network / worker
            folder.mkdir(parents=True)
            text = "".join(TRANSCRIPT.format(n=n, reply=replies[(n + index) % 3]) for n in range(6))
            (folder / "2026-03-02.log").write_text(text)
    return tmp_path


@pytest.fixture()
def maillog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write a maillog of 3,000 relay messages and the edge lines, and let even a file this small be read in shares."""
    from smtplogkit import parallel

    from test_fast_paths import _maillog  # the same directory, which pytest puts on the path

    monkeypatch.setattr(parallel, "SHARE_BYTES", 0)
    path = tmp_path / "maillog-2026-12-04"
    path.write_text(_maillog(5, 3000))
    return path
