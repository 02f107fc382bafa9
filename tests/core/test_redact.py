"""Credentials are removed from every kind of line that can carry them."""

from __future__ import annotations

import base64

import pytest

import smtplogkit
from smtplogkit.redact import REDACTED, auth_payload_note, excerpt, redact_command, redact_text

PASSWORD = "Tr0ub4dor&3-secret"
PLAIN = base64.b64encode(f"\0alice@example.com\0{PASSWORD}".encode()).decode()
TOKEN = "ya29.a0AfH6SMBx-fake-token-value-1234567890"
XOAUTH2 = base64.b64encode(f"user=alice@example.com\x01auth=Bearer {TOKEN}\x01\x01".encode()).decode()


def test_auth_plain_payload_removed():
    line = redact_command(f"AUTH PLAIN {PLAIN}")
    assert PLAIN not in line
    assert line == f"AUTH PLAIN {REDACTED}"


def test_auth_continuation_removed():
    password_b64 = base64.b64encode(PASSWORD.encode()).decode()
    assert redact_command(password_b64, in_auth=True) == REDACTED


def test_xoauth2_payload_removed():
    assert XOAUTH2 not in redact_command(f"AUTH XOAUTH2 {XOAUTH2}")


def test_url_password_removed():
    text = redact_text(f"connecting to smtp://alice:{PASSWORD}@smtp.example.com:587")
    assert PASSWORD not in text
    assert "smtp://alice:" in text


def test_bearer_and_bare_token_removed():
    assert TOKEN not in redact_text(f"Authorization: Bearer {TOKEN}")
    assert TOKEN not in redact_text(f"token refresh gave {TOKEN}")


def test_password_field_removed():
    assert PASSWORD not in redact_text(f"config: host=smtp.example.com password={PASSWORD} port=587")


def test_plain_payload_gives_identity_only():
    identity, note = auth_payload_note("PLAIN", PLAIN)
    assert identity == "alice@example.com"
    assert note is None


def test_placeholder_credentials_noted():
    payload = base64.b64encode(b"\0undefined\0undefined").decode()
    assert auth_payload_note("PLAIN", payload) == ("undefined", "empty_credentials")


def test_xoauth2_payload_gives_identity():
    assert auth_payload_note("XOAUTH2", XOAUTH2) == ("alice@example.com", None)


def test_secret_hint_matches_search():
    # The quick ASCII test and the case-insensitive search agree, also on letters that fold to ASCII.
    from smtplogkit.redact import SECRET_HINT_RE, may_hold_secret

    texts = ["250 2.1.0 Ok", "Connection established to 192.0.2.25:587", "PASSWORD=x", "my Pwd", "SeCrEt",
             "access_Token", "smtp://u:p@h", "Bearer abc", "APIKEY", "api_key", "apikey", "api-key", "ya29.x",
             "ya29x", "pa\u017fs", "api\u212aey", "bearer\u00e9", "t\u00f6ken", "", "://", "pas s", "tok en"]
    for text in texts:
        assert may_hold_secret(text) is (SECRET_HINT_RE.search(text) is not None), text


def test_auth_payload_inside_line_removed():
    for text in (f"2026-12-05 07:59:59,000 DEBUG app: smtp command AUTH PLAIN {PLAIN}",
                 f"\x00\x0108:10:01.100006 send: 'AUTH XOAUTH2 {XOAUTH2}\\r\\n'",
                 f"password=x AUTH PLAIN {PLAIN} ~~~~",
                 "retrying AUTH LOGIN dXNlcg=="):
        redacted = redact_text(text)
        assert PLAIN not in redacted, text
        assert XOAUTH2 not in redacted, text
        assert "dXNlcg==" not in redacted, text
        assert REDACTED in redacted, text


def test_bare_sasl_payload_removed():
    assert redact_text(f"continuing with {XOAUTH2}") == f"continuing with {REDACTED}"
    assert redact_text(f"payload {PLAIN} sent") == f"payload {REDACTED} sent"


def test_auth_prose_kept():
    for text in ("250-AUTH PLAIN LOGIN XOAUTH2", "SMTP AUTH LOGIN failed: 535 5.7.8 Error",
                 "535 5.7.8 Authentication credentials invalid", "AUTH PLAIN authentication rejected",
                 "queued as 4XyZaBcDeFgHiJkLmNoP", "250 2.0.0 OK 1733389200 a1b2c3d4e5f6.12 - gsmtp"):
        assert redact_text(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("\ufffd" * 4096 + "reply: b'421 4.7.0 Try later'", "[4096 x U+FFFD]reply: b'421 4.7.0 Try later'"),
    ("abc\ufffd\ufffd\ufffd ok", "abc\ufffd\ufffd\ufffd ok"),  # three are kept as they are
    ("\x00" * 5 + "x" + "\x1b" * 4, "[5 x U+0000]x[4 x U+001B]"),
    ("AUTH PLAIN AGFsaWNlAHMzY3JldA== " + "\ufffd" * 9, "AUTH PLAIN <redacted> [9 x U+FFFD]"),
    ("y" * 300, "y" * 120),
])
def test_excerpt_shortens_unreadable_runs(text, expected):
    assert excerpt(text) == expected


def test_unrecognised_warning_after_nul_bytes(tmp_path):
    # A crash can leave NUL bytes where lines were: the warning shows the readable text after them.
    path = tmp_path / "app-2026-03-02.log"
    good = "08:00:00.100000 connect: to ('smtp.example.com', 587) None\n" * 2000  # the NUL bytes come after the 64 KiB the binary check reads
    path.write_bytes(good.encode() + b"\x00" * 600 + b"lost: mail to bob failed\n")
    frame = smtplogkit.read_logs(path, format="smtplib", progress=False)
    warnings = [w for w in frame.attrs["files"][0]["warnings"] if "unrecognised line" in w]
    assert warnings == [f"{path}:2001: unrecognised line: '[600 x U+FFFD]lost: mail to bob failed'"]


@pytest.mark.parametrize("line", [
    f"$ curl --url 'smtp.qq.com:587' --mail-from 'a@qq.com' --user 'a.b@qq.com:{PASSWORD}' -v --upload-file m.txt",
    f"curl -u bob:{PASSWORD} smtp://mail.example.com",
    f"curl -ubob:{PASSWORD} smtp://mail.example.com",
    f"curl --user=bob:{PASSWORD} --ssl-reqd smtp://mail.example.com",
    f"curl --proxy-user bob:{PASSWORD} -x proxy:3128 smtp://mail.example.com",
    f'swaks --to a@example.org -au bob -ap "{PASSWORD}" --server mail.example.com',
    f"curl --oauth2-bearer {PASSWORD} smtp://mail.example.com",
])
def test_command_line_credentials_removed(line):
    # A command pasted above its output reaches the warnings as an unrecognised line.
    assert PASSWORD not in redact_text(line)
    assert REDACTED in redact_text(line)


def test_command_line_without_credentials_kept():
    for line in ("curl --user-agent mailer/1.0 smtp://mail.example.com", "re-use the --user-agent header",
                 "swaks --to a@example.org -au bob --server mail.example.com", "250-SMTPUTF8"):
        assert redact_text(line) == line


def test_pasted_curl_command_warning(tmp_path):
    path = tmp_path / "curl-paste.log"
    path.write_text(f"$ curl --url 'smtp://mail.example.com:587' --user 'bob@example.com:{PASSWORD}' -v\n"
                    "* Connected to mail.example.com (192.0.2.5) port 587 (#0)\n"
                    "< 220 mail.example.com ESMTP\n> EHLO client\n< 250 mail.example.com\n")
    frame = smtplogkit.read_logs(path, progress=False)
    warnings = [w for report in frame.attrs["files"] for w in report["warnings"]]
    assert not any(PASSWORD[:8] in w for w in warnings)
