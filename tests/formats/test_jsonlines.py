"""jsonlines format: structured application logs with SMTP fields."""

from __future__ import annotations

import json

from smtplogkit import formats

from .conftest import labels, parse_excerpt, rows


def jsonl(*records: dict) -> str:
    """Return the records as JSON lines."""
    return "".join(json.dumps(record) + "\n" for record in records)


def test_error_kinds(tmp_path):
    text = jsonl(
        {"level": "error", "ts": 1714557630.2, "msg": "send failed", "error": "dial tcp 203.0.113.7:587: i/o timeout"},
        {"level": 50, "time": 1714557700000, "msg": "Mail delivery failed", "requestId": "r-17",
         "err": {"code": "EAUTH", "response": "535-5.7.8 Username and Password not accepted.", "responseCode": 535,
                 "command": "AUTH PLAIN"}},
        {"timestamp": "2024-05-01T10:05:00Z", "level": "warning", "event": "smtp rejected", "session_id": "s-9",
         "command": "RCPT TO:<nobody@example.org>", "code": 550,
         "response": "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"},
        {"@t": "2024-05-01T10:06:00Z", "@l": "Error", "@mt": "Failed to send email",
         "@x": "System.Net.Mail.SmtpException: The SMTP server requires a secure connection or the client was not "
               "authenticated. The server response was: 5.7.0 Must issue a STARTTLS command first."},
        {"level": "error", "message": "mail failed", "stage": "tls",
         "error": "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"},
    )
    frame, report = parse_excerpt(tmp_path, text)

    assert report["format"] == "jsonlines"
    assert [labels(row) for row in rows(frame.sort_values("line"))] == [
        ("connect", "connect_timeout", None, None),
        ("auth", "auth_failed", 535, "5.7.8"),
        ("rcpt_to", "recipient_rejected", 550, "5.1.1"),
        ("mail_from", "starttls_required", 530, "5.7.0"),
        ("tls", "certificate_invalid", None, None),
    ]
    assert report["parsed"] == 5


def test_identifier_groups_lines(tmp_path):
    text = jsonl(
        {"time": "2024-05-01T10:00:00Z", "level": "info", "msg": "connecting", "request_id": "a1",
         "smtp_host": "smtp.example.com", "port": 587, "worker": "w1", "network": "dc-a"},
        {"time": "2024-05-01T10:00:00Z", "level": "info", "msg": "connecting", "request_id": "b2",
         "smtp_host": "smtp.example.com", "port": 587, "worker": "w2", "network": "dc-b"},
        {"time": "2024-05-01T10:00:01Z", "level": "info", "msg": "message sent", "request_id": "b2",
         "command": "DATA", "code": 250, "response": "2.0.0 Ok: queued as 4Vx"},
        {"time": "2024-05-01T10:00:31Z", "level": "error", "msg": "send failed", "request_id": "a1",
         "error": "read tcp 10.0.0.2:50412->203.0.113.7:587: i/o timeout"},
    )
    frame, report = parse_excerpt(tmp_path, text)

    assert len(frame) == 2
    failed, sent = rows(frame.sort_values("line"))
    assert labels(failed) == ("greeting", "read_timeout", None, None)
    assert (failed["host"], failed["port"], failed["worker"], failed["network"]) == ("smtp.example.com", 587, "w1", "dc-a")
    assert failed["duration_s"] == 31.0
    assert (sent["cause"], sent["outcome"], sent["messages_sent"]) == ("ok", "ok", 1)
    assert sent["worker"] == "w2"
    assert report["parsed"] == 4


def test_wrapper_and_cause_one_session(tmp_path):
    text = jsonl(
        {"ts": "2024-05-01T11:00:00Z", "level": "info", "msg": "connecting to smtp.example.com",
         "host": "smtp.example.com", "port": 465},
        {"ts": "2024-05-01T11:00:10Z", "level": "error", "msg": "smtp dial failed",
         "error": "dial tcp 198.51.100.3:465: connect: connection refused"},
        {"ts": "2024-05-01T11:00:10Z", "level": "error", "msg": "notification not sent: smtp dial failed: "
         "dial tcp 198.51.100.3:465: connect: connection refused"},
        {"ts": "2024-05-01T11:05:10Z", "level": "error", "msg": "smtp dial failed",
         "error": "dial tcp 198.51.100.3:465: connect: connection refused"},
    )
    frame, _ = parse_excerpt(tmp_path, text)

    assert len(frame) == 2
    first = rows(frame)[0]
    assert labels(first) == ("connect", "connect_refused", None, None)
    assert (first["host"], first["port"]) == ("smtp.example.com", 465)


def test_other_lines_counted(tmp_path):
    text = "Status: Image is up to date for registry.example.com/mailer:2\n" + jsonl(
        {"level": "info", "msg": "worker started", "pid": 7},
        {"level": "error", "msg": "smtp send failed", "error": "EOF", "smtp_host": "smtp.example.com"},
    ) + "panic: runtime error\n"
    frame, report = parse_excerpt(tmp_path, text, format="jsonlines")

    assert len(frame) == 1
    assert (report["parsed"], report["noise"], report["unrecognised"]) == (1, 2, 1)


def test_password_field_never_read(tmp_path):
    text = jsonl({"level": "error", "msg": "auth failed", "smtp_user": "app@example.com", "password": "hunter2",
                  "command": "AUTH LOGIN", "code": 535, "response": "5.7.8 Authentication credentials invalid"})
    frame, _ = parse_excerpt(tmp_path, text)

    row = rows(frame)[0]
    assert row["identity"] == "app@example.com"
    assert "hunter2" not in json.dumps(row, default=str)


def test_nearest_info_line_wins(tmp_path):
    text = jsonl(
        {"level": "info", "msg": "connecting", "smtp_host": "mx1.example.com", "port": 25},
        {"level": "info", "msg": "falling back", "smtp_host": "mx2.example.com", "port": 25},
        {"level": "error", "msg": "send failed", "error": "dial tcp 198.51.100.8:25: connect: connection refused"},
    )
    frame, report = parse_excerpt(tmp_path, text)

    assert len(frame) == 1
    assert rows(frame)[0]["host"] == "mx2.example.com"
    assert report["noise"] == 1
    assert report["parsed"] == 2


def test_transcript_in_json_scores_low():
    sample = [json.dumps({"level": 20, "msg": "[Jx8a] S: 220 smtp.example.com ESMTP", "tnx": "server"}),
              json.dumps({"level": 20, "msg": "[Jx8a] C: EHLO client.example.org", "tnx": "client"})]

    assert formats.get("jsonlines").detect(sample) <= 0.25


def test_monolog_numeric_level(tmp_path):
    # Monolog writes its level as a number (400 error to 600 emergency) beside level_name.
    text = jsonl(
        {"message": 'Email transport "Symfony\\Component\\Mailer\\Transport\\Smtp\\SmtpTransport" started',
         "context": {}, "level": 100, "level_name": "DEBUG", "channel": "mailer",
         "datetime": "2023-01-31T15:07:34.034673+01:00", "extra": {}},
        {"message": 'Send Mail Fail. \\r\\nError Code: 550 \\r\\nMessage: Expected response code "250" but got code '
                    '"550", with message "550 "envelope sender not allowed a@example.org"".',
         "context": {}, "level": 600, "level_name": "EMERGENCY", "channel": "app",
         "datetime": "2023-01-31T15:07:34.046563+01:00", "extra": {}},
    )
    frame, report = parse_excerpt(tmp_path, text)

    assert report["format"] == "jsonlines"
    assert [labels(row) for row in rows(frame)] == [("mail_from", "sender_rejected", 550, None)]
