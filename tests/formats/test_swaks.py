"""swaks transcripts: excerpts shaped like bug reports."""

from __future__ import annotations

from .format_helpers import counts, excerpt, row  # noqa: F401 - excerpt is a fixture


def test_timeout_after_message_data(excerpt):
    # The paste starts in the message body; the server never replied to the final ".".
    frame = excerpt.sessions("""\
         -> Subject: test Thu, 19 Jun 2025 15:29:46 +0800
         -> X-Mailer: swaks v20240103.0 jetmore.org/john/code/swaks/
         -> 
         -> This is a test mailing
         -> .
        <** Timeout (30 secs) waiting for server response
         -> QUIT
        <** Timeout (30 secs) waiting for server response
        === Connection closed with remote host.
        """)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("data", "read_timeout")
    assert got["error_text"] == "Timeout (30 secs) waiting for server response"


def test_timeout_waiting_for_greeting(excerpt):
    frame = excerpt.sessions("""\
        === Trying mail.example.com:587...
        === Connected to mail.example.com.
        <** Timeout (30 secs) waiting for server response
        """)

    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("greeting", "read_timeout")
    assert (got["host"], got["port"]) == ("mail.example.com", 587)


def test_plain_client_on_tls_port(excerpt):
    # Without --tls-on-connect, swaks waits in vain for a greeting that port 465 sends only inside TLS.
    frame = excerpt.sessions("""\
        === Trying mail.example.com:465...
        === Connected to mail.example.com.
        <** Timeout (30 secs) waiting for server response
        """)

    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("greeting", "tls_mode_mismatch")


def test_timeout_after_command(excerpt):
    frame = excerpt.sessions("""\
        === Trying relay.example.com:25...
        === Connected to relay.example.com.
        <-  220 relay.example.com ESMTP
         -> EHLO build7.example.org
        <-  250 relay.example.com
         -> MAIL FROM:<ci@example.org>
        <** Timeout (30 secs) waiting for server response
        """)

    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("mail_from", "read_timeout")


def test_starttls_demanded_before_auth(excerpt):
    # The reporter replaced the AUTH payload with a line of their own, which swaks's "***" starts.
    frame = excerpt.sessions("""\
        === Trying relay.example.com:25...
        === Connected to relay.example.com.
        <-  220 relay.example.com ESMTP ready
         -> EHLO build7
        <-  250-relay.example.com
        <-  250-STARTTLS
        <-  250 AUTH PLAIN LOGIN
         -> AUTH LOGIN
        <** 530 Must issue a STARTTLS command first
         -> AUTH PLAIN 
        ****credentials removed***********
        <** 530 Must issue a STARTTLS command first
        *** No authentication type succeeded
         -> QUIT
        <-  221 Bye
        === Connection closed with remote host.
        """)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("auth", "starttls_required", 530)
    assert (got["host"], got["port"]) == ("relay.example.com", 25)


def test_cram_md5_response_redacted(excerpt):
    text = """\
        === Trying mail.example.net:465...
        === Connected to mail.example.net.
        === TLS started with cipher TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384:256
        <~  220 mail.example.net ESMTP
         ~> EHLO client.example.org
        <~  250 AUTH CRAM-MD5
         ~> AUTH CRAM-MD5
        <~  334 PDEyMzQ1LjY3ODlAbWFpbC5leGFtcGxlLm5ldD4=
         ~> YWxpY2UgZGVhZGJlZWZkZWFkYmVlZg==
        <~* 535 authentication failed
        *** No authentication type succeeded
        """
    got = row(excerpt.sessions(text))
    events = excerpt.events(text)

    assert (got["failure_stage"], got["cause"], got["tls_mode"]) == ("auth", "auth_failed", "implicit")
    assert "YWxpY2UgZGVhZGJlZWZkZWFkYmVlZg==" not in " ".join(events["text"].astype(str))
