"""ruby format: Net::SMTP errors from ActionMailer, ActiveJob and scripts."""

from __future__ import annotations

import pytest

from .conftest import labels, parse_excerpt, rows

CASES = [
    ("Net::SMTPAuthenticationError: 535-5.7.8 Username and Password not accepted. Learn more at",
     ("auth", "auth_failed", 535, "5.7.8")),
    ("Net::SMTPAuthenticationError (534-5.7.9 Application-specific password required. Learn more at",
     ("auth", "app_password_required", 534, "5.7.9")),
    ("Net::SMTPFatalError: 550 5.7.1 Relaying denied", ("rcpt_to", "policy_rejected", 550, "5.7.1")),
    ("Net::SMTPServerBusy: 421 4.7.0 Try again later, closing connection. (MAIL) a1-20020a.9 - gsmtp",
     ("mail_from", "rate_limited", 421, "4.7.0")),
    ("Net::OpenTimeout: execution expired", ("connect", "connect_timeout", None, None)),
    ("Net::ReadTimeout with #<TCPSocket:(closed)>", ("greeting", "read_timeout", None, None)),
    ("Errno::ECONNREFUSED: Connection refused - connect(2) for \"127.0.0.1\" port 1025",
     ("connect", "connect_refused", None, None)),
    ("SocketError: getaddrinfo: Name or service not known", ("dns", "dns_nxdomain", None, None)),
    ("OpenSSL::SSL::SSLError: SSL_connect returned=1 errno=0 peeraddr=198.51.100.4:465 state=error: "
     "certificate verify failed (unable to get local issuer certificate)", ("tls", "certificate_invalid", None, None)),
    ("Net::SMTPUnsupportedCommand: STARTTLS is not supported on this server",
     ("starttls", "starttls_unavailable", None, None)),
    ("EOFError: end of file reached", ("greeting", "server_disconnected", None, None)),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0][:40] for c in CASES])
def test_error_kinds(tmp_path, text, expected):
    frame, report = parse_excerpt(tmp_path, text + "\n")

    assert report["format"] == "ruby"
    assert len(frame) == 1
    assert labels(rows(frame)[0]) == expected


def test_message_without_class(tmp_path):
    frame, _ = parse_excerpt(tmp_path, (
        "Error sending test email: SSL_connect returned=1 errno=0 peeraddr=198.51.100.4:587 state=error: "
        "wrong version number\n"), format="ruby")

    row = rows(frame)[0]
    assert labels(row) == ("tls", "tls_mode_mismatch", None, None)
    assert (row["ip"], row["port"]) == ("198.51.100.4", 587)


def test_backtrace_names_the_command(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        /usr/local/bundle/gems/net-smtp-0.4.0/lib/net/smtp.rb:1087:in `check_response': 550 5.1.1 <x@example.org>: Recipient address rejected: User unknown (Net::SMTPFatalError)
        	from /usr/local/bundle/gems/net-smtp-0.4.0/lib/net/smtp.rb:858:in `rcptto'
        	from /usr/local/bundle/gems/net-smtp-0.4.0/lib/net/smtp.rb:840:in `block in rcptto_list'
        	from /usr/local/bundle/gems/mail-2.8.1/lib/mail/network/delivery_methods/smtp.rb:109:in `deliver!'
    """)

    assert len(frame) == 1
    assert labels(rows(frame)[0]) == ("rcpt_to", "recipient_rejected", 550, "5.1.1")
    assert (report["parsed"], report["noise"], report["unrecognised"]) == (3, 1, 0)


def test_activejob_with_reply_continuation(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        [ActiveJob] [ActionMailer::MailDeliveryJob] [7c1e] Error performing ActionMailer::MailDeliveryJob (Job ID: 7c1e) from Async(mailers) in 812.4ms: Net::SMTPAuthenticationError (535-5.7.8 Username and Password not accepted. Learn more at
        535 5.7.8  https://support.google.com/mail/?p=BadCredentials b2-20020a.7 - gsmtp
        ):
        [ActiveJob] [ActionMailer::MailDeliveryJob] [8d2f] Error performing ActionMailer::MailDeliveryJob (Job ID: 8d2f) from Async(mailers) in 30004.9ms: Net::ReadTimeout (Net::ReadTimeout):
        /usr/lib/ruby/3.2.0/net/protocol.rb:219:in `rbuf_fill'
        /usr/lib/ruby/3.2.0/net/smtp.rb:1066:in `recv_response'
        /usr/lib/ruby/3.2.0/net/smtp.rb:907:in `data'
    """)

    assert len(frame) == 2
    first, second = rows(frame)
    assert labels(first) == ("auth", "auth_failed", 535, "5.7.8")
    assert labels(second) == ("data", "read_timeout", None, None)
    assert report["unrecognised"] == 0
    assert report["noise"] == 3


def test_rails_log_records_are_noise(tmp_path):
    # A Rails production log through Ruby's Logger, with ActionMailer's and ActiveJob's own lines.
    frame, report = parse_excerpt(tmp_path, """
        I, [2026-03-02T08:00:00.100000 #12]  INFO -- : [4c1d9e] Started POST "/users" for 203.0.113.9 at 2026-03-02 08:00:00 +0000
        I, [2026-03-02T08:00:00.110000 #12]  INFO -- : [4c1d9e] Processing by UsersController#create as HTML
        I, [2026-03-02T08:00:00.150000 #12]  INFO -- : [4c1d9e] Completed 302 Found in 41ms (ActiveRecord: 6.2ms | Allocations: 8812)
        I, [2026-03-02T08:00:00.200000 #12]  INFO -- : [ActiveJob] [ActionMailer::MailDeliveryJob] [b1e70c2a] Performing ActionMailer::MailDeliveryJob (Job ID: b1e70c2a) from Async(default) enqueued at 2026-03-02T08:00:00Z with arguments: "UserMailer", "welcome", "deliver_now"
        I, [2026-03-02T08:00:00.210000 #12]  INFO -- : [ActiveJob] [ActionMailer::MailDeliveryJob] [b1e70c2a]   Rendered user_mailer/welcome.html.erb within layouts/mailer (Duration: 2.1ms | Allocations: 412)
        E, [2026-03-02T08:00:05.220000 #12] ERROR -- : [ActiveJob] [ActionMailer::MailDeliveryJob] [b1e70c2a] Error performing ActionMailer::MailDeliveryJob (Job ID: b1e70c2a) from Async(default) in 5012.3ms: Net::ReadTimeout (Net::ReadTimeout with #<TCPSocket:(closed)>):
        /usr/local/lib/ruby/3.2.0/net/protocol.rb:229:in `rbuf_fill'
        /usr/local/bundle/gems/net-smtp-0.4.0/lib/net/smtp.rb:1050:in `recv_response'
        /usr/local/bundle/gems/net-smtp-0.4.0/lib/net/smtp.rb:1009:in `block in data'
        I, [2026-03-02T08:01:00.000000 #12]  INFO -- : [ActiveJob] [ActionMailer::MailDeliveryJob] [d0c4] Delivered mail 65e2f0c1a@web-1.mail (812.4ms)
        W, [2026-03-02T08:02:00.000000 #12]  WARN -- : [Notifier] could not deliver mail to ops@example.org, giving up
        bundler: failed to load command: puma (/usr/local/bundle/bin/puma)
    """, format="ruby")

    (row,) = rows(frame)
    assert labels(row) == ("data", "read_timeout", None, None)
    assert row["start"].isoformat() == "2026-03-02T08:00:05.220000+00:00"  # the Logger line's time
    # Six records, and the two frames that name no step.
    assert report["noise"] == 8
    # A mail failure in words the reader does not know, and a line that is no log record, stay unrecognised.
    unrecognised = [w for w in report["warnings"] if ": unrecognised line: " in w]
    assert [w.split(": ", 1)[0].rsplit(":", 1)[1] for w in unrecognised] == ["11", "12"]
    assert report["unrecognised"] == 2


def test_development_log_records_are_noise(tmp_path):
    # Rails' development log prints its records without a date or level.
    frame, report = parse_excerpt(tmp_path, """
        Started POST "/password_resets" for 127.0.0.1 at 2026-03-02 08:00:00 +0000
        Processing by PasswordResetsController#create as TURBO_STREAM
          Parameters: {"authenticity_token"=>"[FILTERED]", "email"=>"[FILTERED]"}
        [ActiveJob] Enqueued ActionMailer::MailDeliveryJob (Job ID: 7d1e) to Async(default) with arguments: "UserMailer", "reset", "deliver_now"
        Redirected to http://localhost:3000/
        Completed 303 See Other in 18ms (ActiveRecord: 1.1ms | Allocations: 5120)
        [ActiveJob] [ActionMailer::MailDeliveryJob] [7d1e] Performing ActionMailer::MailDeliveryJob (Job ID: 7d1e) from Async(default)
        [ActiveJob] [ActionMailer::MailDeliveryJob] [7d1e]   Rendering user_mailer/reset.html.erb within layouts/mailer
        [ActiveJob] [ActionMailer::MailDeliveryJob] [7d1e] UserMailer#reset: processed outbound mail in 9.4ms
        [ActiveJob] [ActionMailer::MailDeliveryJob] [7d1e] Error performing ActionMailer::MailDeliveryJob (Job ID: 7d1e) from Async(default) in 30012.5ms: Net::OpenTimeout (execution expired):
        Puma caught this error: undefined method `name' for nil
    """, format="ruby")

    (row,) = rows(frame)
    assert labels(row) == ("connect", "connect_timeout", None, None)
    assert report["noise"] == 9
    assert report["unrecognised"] == 1  # the last line, which is no Rails record


def test_sidekiq_json_records_are_noise(tmp_path):
    # Sidekiq's JSON lines between the Rails log's, as a worker container prints them.
    frame, report = parse_excerpt(tmp_path, """
        {"ts":"2026-03-02T08:00:03.194Z","pid":1,"tid":"2f45","lvl":"INFO","msg":"start","ctx":{"class":"DigestJob","jid":"05b0f7c2"}}
        E, [2026-03-02T08:00:05.220000 #1] ERROR -- : [ActiveJob] [ActionMailer::MailDeliveryJob] [b1e7] Error performing ActionMailer::MailDeliveryJob (Job ID: b1e7) from Sidekiq(mailers) in 5012.3ms: Net::ReadTimeout (Net::ReadTimeout with #<TCPSocket:(closed)>):
        {"ts":"2026-03-02T08:00:05.231Z","pid":1,"tid":"2f45","lvl":"INFO","msg":"done","ctx":{"class":"DigestJob","jid":"05b0f7c2","elapsed":2.04}}
        {"ts":"2026-03-02T08:00:05.300Z","pid":1,"tid":"2f46","lvl":"WARN","msg":"mail job failed, retrying","ctx":{"class":"ActionMailer::MailDeliveryJob"}}
    """, format="ruby")

    (row,) = rows(frame)
    assert labels(row) == ("greeting", "read_timeout", None, None)
    assert report["noise"] == 2
    assert report["unrecognised"] == 1  # the record of a mail job's failure, in words the reader does not read
