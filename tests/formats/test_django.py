"""django format: tracebacks of Django's real SMTP backend against loopback servers, and excerpts."""

from __future__ import annotations

from smtplogkit import formats

from .conftest import free_port, labels, parse_excerpt, rows, run_python

SEND = """
    import django
    from django.conf import settings

    settings.configure(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                       EMAIL_PORT={port}, EMAIL_HOST_USER="{user}", EMAIL_HOST_PASSWORD="{password}",
                       EMAIL_TIMEOUT=5)
    django.setup()
    from django.core.mail import send_mail

    send_mail("test", "hello", "app@example.com", ["{to}"])
"""


def traceback_of(port: int, to: str = "user@example.org", user: str = "", password: str = "") -> str:
    """Return the traceback Django prints when ``send_mail`` to ``port`` fails."""
    return run_python(SEND.format(port=port, to=to, user=user, password=password))


def test_real_tracebacks(tmp_path, smtp_server, starttls_server):
    log = "".join([
        "Internal Server Error: /contact/\n",
        traceback_of(smtp_server.port, to="nobody@example.org"),
        '[05/Jan/2026 10:00:00] "POST /contact/ HTTP/1.1" 500 145\n',
        traceback_of(smtp_server.port, user="app", password="wrong"),
        traceback_of(starttls_server.port),
        traceback_of(free_port()),
    ])
    frame, report = parse_excerpt(tmp_path, log)

    assert report["format"] == "django"
    assert len(frame) == 4
    got = [labels(row)[:3] for row in rows(frame)]
    assert got[0] == ("rcpt_to", "recipient_rejected", 550)
    assert got[1] == ("auth", "auth_failed", 535)
    assert got[2] == ("mail_from", "starttls_required", 530)
    assert got[3] == ("connect", "connect_refused", None)
    assert rows(frame)[0]["enhanced_code"] == "5.1.1"
    assert report["unrecognised"] == 0


def test_sentry_order_one_session(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        SMTPRecipientsRefused: {'a@example.org': (450, b'4.2.2 <a@example.org>: Mailbox full')}
        (4 additional frame(s) were not displayed)
        ...
          File "django/core/mail/backends/smtp.py", line 126, in _send
            self.connection.sendmail(from_email, recipients, message.as_bytes(linesep='\\r\\n'))
          File "smtplib.py", line 881, in sendmail
            raise SMTPRecipientsRefused(senderrs)
    """)

    assert report["format"] == "django"
    assert len(frame) == 1
    assert labels(rows(frame)[0]) == ("rcpt_to", "recipient_rejected", 450, "4.2.2")  # a full mailbox
    assert report["unrecognised"] == 0
    assert report["parsed"] == 1


def test_debug_page(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        Request Method: POST
        Request URL: http://127.0.0.1:8000/accounts/password_reset/
        Django Version: 4.2.7
        Exception Type: SMTPAuthenticationError
        Exception Value: (534, b'5.7.9 Application-specific password required. Learn more at\\n5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor')
        Exception Location: /usr/lib/python3.11/smtplib.py, line 750, in login
        Python Executable: /srv/venv/bin/python
    """)

    assert report["format"] == "django"
    assert len(frame) == 1
    assert labels(rows(frame)[0]) == ("auth", "app_password_required", 534, "5.7.9")
    assert report["unrecognised"] == 0


def test_two_failures_two_sessions(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        Internal Server Error: /signup/
        Traceback (most recent call last):
          File "/srv/venv/lib/python3.11/site-packages/django/core/mail/backends/smtp.py", line 80, in open
            self.connection = self.connection_class(self.host, self.port, **connection_params)
        TimeoutError: [Errno 110] Connection timed out
        Internal Server Error: /signup/
        Traceback (most recent call last):
          File "/srv/venv/lib/python3.11/site-packages/django/core/mail/backends/smtp.py", line 80, in open
            self.connection = self.connection_class(self.host, self.port, **connection_params)
        TimeoutError: [Errno 110] Connection timed out
    """)

    assert len(frame) == 2
    assert set(frame["cause"]) == {"connect_timeout"}


def test_bare_smtplib_line_left_to_smtplib():
    sample = ["smtplib.SMTPRecipientsRefused: {'a@example.org': (550, b'5.1.1 unknown')}"]
    module, _, scores = formats.detect(sample)

    assert module.NAME == "smtplib"
    assert scores["django"] == 0.0
