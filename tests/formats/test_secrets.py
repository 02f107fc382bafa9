"""Credentials printed by the transcript formats never reach a DataFrame."""

from __future__ import annotations

import json

import pytest

from .format_helpers import excerpt  # noqa: F401 - a fixture

PLAIN = "AG9wc0BleGFtcGxlLm9yZwBIdW50ZXIyLXNlY3JldA=="  # \0ops@example.org\0Hunter2-secret
XOAUTH2 = "dXNlcj1vcHNAZXhhbXBsZS5vcmcBYXV0aD1CZWFyZXIgeWEyOS5hMFNlY3JldC1Ub2tlbl92YWx1ZTEyMwEB"
LOGIN_USER = "b3BzQGV4YW1wbGUub3Jn"
LOGIN_PASSWORD = "SHVudGVyMi1zZWNyZXQ="
SECRETS = [PLAIN, XOAUTH2, LOGIN_PASSWORD, LOGIN_USER, "Hunter2-secret", "ya29.a0Secret-Token_value123"]

EXCERPTS = {
    "nodemailer": (
        "[2026-03-02 08:00:00] DEBUG [a1] S: 220 smtp.example.com ESMTP\n"
        f"[2026-03-02 08:00:00] DEBUG [a1] C: AUTH PLAIN {PLAIN}\n"
        "[2026-03-02 08:00:00] DEBUG [a1] S: 535 5.7.8 Authentication failed\n"
        "SERVER 1:\n└──220 smtp.example.com ESMTP\n"
        f"CLIENT 1:\n└──AUTH XOAUTH2 {XOAUTH2}\n"
        "SERVER 1:\n└──334 eyJzdGF0dXMiOiI0MDEifQ==\nCLIENT 1:\n└──\n"
        "{ type: 'client', message: 'AUTH LOGIN' }\n{ type: 'server', message: '334 VXNlcm5hbWU6' }\n"
        f"{{ type: 'client', message: '{LOGIN_USER}' }}\n{{ type: 'server', message: '334 UGFzc3dvcmQ6' }}\n"
        f"{{ type: 'client', message: '{LOGIN_PASSWORD}' }}\n"
        "Error: Invalid login: 535 5.7.8 Authentication failed\n"
    ),
    "phpmailer": (
        "2026-03-02 08:00:00\tSERVER -> CLIENT: 220 smtp.example.com ESMTP\n"
        "2026-03-02 08:00:00\tCLIENT -> SERVER: AUTH LOGIN\n"
        "2026-03-02 08:00:00\tSERVER -> CLIENT: 334 VXNlcm5hbWU6\n"
        f"2026-03-02 08:00:00\tCLIENT -> SERVER: {LOGIN_USER}\n"
        "2026-03-02 08:00:00\tSERVER -> CLIENT: 334 UGFzc3dvcmQ6\n"
        f"2026-03-02 08:00:00\tCLIENT -> SERVER: {LOGIN_PASSWORD}\n"
        "2026-03-02 08:00:00\tSERVER -> CLIENT: 535 5.7.8 Error: authentication failed\n"
        f"2026-03-02 08:00:01\tCLIENT -> SERVER: AUTH PLAIN {PLAIN}\n"
        "2026-03-02 08:00:01\tSERVER -> CLIENT: 535 5.7.8 Error: authentication failed\n"
    ),
    "mailkit": (
        "Connected to smtp://smtp.example.com:587/?starttls=always\n"
        "S: 220 smtp.example.com ESMTP\n"
        f"C: AUTH XOAUTH2 {XOAUTH2}\n"
        "S: 334 eyJzdGF0dXMiOiI0MDEifQ==\n"
        "C: \n"
        "S: 535 5.7.8 Username and Password not accepted\n"
        f"C: AUTH PLAIN {PLAIN}\n"
        "S: 535 5.7.8 Username and Password not accepted\n"
    ),
    "javamail": (
        'DEBUG SMTP: trying to connect to host "smtp.example.com", port 587, isSSL false\n'
        "220 smtp.example.com ESMTP\n"
        f"AUTH XOAUTH2 {XOAUTH2}\n"
        "334 eyJzdGF0dXMiOiI0MDEifQ==\n"
        "\n"
        "535 5.7.8 Username and Password not accepted\n"
        "AUTH LOGIN\n334 VXNlcm5hbWU6\n"
        f"{LOGIN_USER}\n334 UGFzc3dvcmQ6\n{LOGIN_PASSWORD}\n"
        "535 5.7.8 Username and Password not accepted\n"
    ),
    "telnet": (
        "Connected to smtp.example.com.\n220 smtp.example.com ESMTP\n"
        f"AUTH PLAIN {PLAIN}\n535 5.7.8 Error: authentication failed\n"
        f"AUTH LOGIN\n334 VXNlcm5hbWU6\n{LOGIN_USER}\n334 UGFzc3dvcmQ6\n{LOGIN_PASSWORD}\n"
        "535 5.7.8 Error: authentication failed\n"
    ),
    "transcript": (
        "S: 220 smtp.example.com ESMTP\n"
        f"C: AUTH XOAUTH2 {XOAUTH2}\n"
        "S: 334 eyJzdGF0dXMiOiI0MDEifQ==\n"
        "C: \n"
        "S: 535 5.7.8 Username and Password not accepted\n"
        f"C: AUTH PLAIN {PLAIN}\n"
        "S: 535 5.7.8 Username and Password not accepted\n"
    ),
}


def _everything(frame) -> str:
    values = [str(value) for value in frame.to_numpy().ravel().tolist()]
    return "\n".join(values) + json.dumps(frame.attrs, default=str)


@pytest.mark.parametrize("format_name", sorted(EXCERPTS))
def test_secrets_absent(excerpt, format_name):
    path = excerpt.path(EXCERPTS[format_name], name=f"{format_name}.log")

    import smtplogkit

    sessions = smtplogkit.read_logs(path)
    events = smtplogkit.read_events(path)

    assert sessions.attrs["files"][0]["format"] == format_name
    assert len(events) > 0
    text = _everything(sessions) + _everything(events)
    for secret in SECRETS:
        assert secret not in text, secret
