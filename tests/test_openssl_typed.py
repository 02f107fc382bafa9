"""s_client sessions typed at a terminal, where the commands are echoed.

The captures pipe the dialogue in, so s_client shows only replies.  Users
who type at a terminal paste logs with the commands (and the message body)
echoed between the replies.  These tests build such a log from a capture.
"""

from __future__ import annotations

from pathlib import Path

import smtplogkit
import servers  # from tools/capture, which tests/conftest.py puts on sys.path

CAPTURES = Path(__file__).parent / "captures" / "openssl"


def typed_log(capture: Path, commands: dict[str, list[str]]) -> str:
    """Insert each command list before the first reply line that starts with its key."""
    lines = []
    pending = dict(commands)
    for line in capture.read_text().splitlines():
        for prefix in list(pending):
            if line.startswith(prefix):
                lines.extend(pending.pop(prefix))
                break
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_typed_dialogue_success(tmp_path):
    text = typed_log(CAPTURES / "success.starttls-dialogue.log", {
        "235 ": ["AUTH PLAIN AGNhcHR1cmUtdXNlckBjYXB0dXJlLnRlc3QAZmFrZS1wYXNzd29yZC03ZjNhOWM="],
        "250 2.1.0": [f"MAIL FROM:<{servers.SENDER}>"],
        "250 2.1.5": [f"RCPT TO:<{servers.RECIPIENT}>"],
        "354 ": ["DATA"],
        "250 2.0.0": ["Subject: typed", "", "Hello.", "."],
        "221 ": ["QUIT"],
    })
    path = tmp_path / "typed.log"
    path.write_text(text)
    sessions = smtplogkit.read_logs(path)
    events = smtplogkit.read_events(path)
    report = sessions.attrs["files"][0]

    assert report["format"] == "openssl"
    assert report["unrecognised"] == 0
    assert len(sessions) == 1
    assert sessions["cause"].iloc[0] == "ok"
    assert sessions["messages_sent"].iloc[0] == 1
    assert "AGNhcHR1cmUtdXNlckBjYXB0dXJlLnRlc3QAZmFrZS1wYXNzd29yZC03ZjNhOWM=" not in events.to_json(date_format="iso")


def test_typed_dialogue_rcpt_rejected(tmp_path):
    text = typed_log(CAPTURES / "unknown_recipient.starttls-dialogue.log", {
        "250 2.1.0": [f"MAIL FROM:<{servers.SENDER}>"],
        "550 ": [f"RCPT TO:<{servers.RECIPIENT}>"],
    })
    path = tmp_path / "typed.log"
    path.write_text(text)
    sessions = smtplogkit.read_logs(path)

    assert sessions["failure_stage"].iloc[0] == "rcpt_to"
    assert sessions["cause"].iloc[0] == "recipient_rejected"
    assert sessions["reply_code"].iloc[0] == 550
