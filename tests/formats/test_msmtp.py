"""msmtp's messages on stderr: excerpts shaped like bug reports."""

from __future__ import annotations

from .format_helpers import counts, excerpt, row  # noqa: F401 - excerpt is a fixture

AUTH_FAILED = """\
    msmtp: authentication failed (method PLAIN)
    msmtp: server message: 535 5.7.8 Error: authentication failed: authentication failure
    msmtp: could not send mail (account default from /etc/msmtprc)
    """


def test_server_message_after_the_step(excerpt):
    # msmtp names the failed step first and quotes the server's reply after it.
    frame = excerpt.sessions(AUTH_FAILED)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("auth", "auth_failed")
    assert (got["reply_code"], got["enhanced_code"]) == (535, "5.7.8")
    assert got["reply_text"] == "535 5.7.8 Error: authentication failed: authentication failure"
    assert got["outcome"] == "permanent"
    assert counts(frame) == (2, 1, 0)


def test_reply_lines_joined(excerpt):
    # A multi-line reply gives one "server message:" line per reply line.
    frame = excerpt.sessions("""\
        msmtp: authentication failed (method PLAIN)
        msmtp: server message: 535-5.7.8 Username and Password not accepted. For more information, go to
        msmtp: server message: 535 5.7.8  https://support.example.com/mail/?p=BadCredentials a1b2 - gsmtp
        msmtp: could not send mail (account default from /home/pi/.msmtprc)
        """)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("auth", "auth_failed", 535)
    assert got["reply_text"] == ("535-5.7.8 Username and Password not accepted. For more information, go to "
                                 "535 5.7.8  https://support.example.com/mail/?p=BadCredentials a1b2 - gsmtp")


def test_runs_with_headings_between(excerpt):
    # One run per account, pasted with the reporter's own words between them.
    frame = excerpt.sessions("""\
        second account
        msmtp: envelope from address ann@example.net not accepted by the server
        msmtp: server message: 530 5.7.0 Must issue a STARTTLS command first. z7sn1 - gsmtp
        msmtp: could not send mail (account ann@example.net from /home/ann/.msmtprc)

        third account
        msmtp: recipient address root not accepted by the server
        msmtp: server message: 501 <root>: recipient address must contain a domain
        msmtp: could not send mail (account ann@example.org from /home/ann/.msmtprc)
        """)

    got = [(r["failure_stage"], r["cause"], r["reply_code"]) for r in (row(frame, i) for i in range(len(frame)))]
    assert got == [("mail_from", "starttls_required", 530), ("rcpt_to", "client_error", 501)]


def test_server_message_first_still_read(excerpt):
    # msmtp may also print the reply before the line that names the failed step.
    frame = excerpt.sessions("""\
        msmtp: server message: 550 5.7.1 Relaying denied
        msmtp: recipient address bob@example.org not accepted by the server
        msmtp: could not send mail (account default from /etc/msmtprc)
        """)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("rcpt_to", "policy_rejected", 550)


def test_connect_error_without_reply(excerpt):
    frame = excerpt.sessions("""\
        msmtp: cannot connect to smtp.example.com, port 587: Connection refused
        msmtp: could not send mail (account default from /etc/msmtprc)
        """)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["port"]) == ("connect", "connect_refused", 587)
