"""symfony format: Symfony Mailer and SwiftMailer exceptions, bare and in Monolog and Laravel logs."""

from __future__ import annotations

import pytest

from smtplogkit import formats

from .conftest import labels, parse_excerpt, rows

CASES = [
    ('Symfony\\Component\\Mailer\\Exception\\TransportException: Expected response code "250" but got code "530", '
     'with message "530 5.7.0 Must issue a STARTTLS command first.".', ("mail_from", "starttls_required", 530, "5.7.0")),
    ('Expected response code "250/251/252" but got code "550", with message "550 5.1.1 <nobody@example.org>: '
     'Recipient address rejected: User unknown in virtual mailbox table".', ("rcpt_to", "recipient_rejected", 550, "5.1.1")),
    ('Expected response code "354" but got code "554", with message "554 5.7.1 Message rejected as spam".',
     ("data", "message_rejected", 554, "5.7.1")),
    ('Failed to authenticate on SMTP server with username "app@example.com" using 2 possible authenticators. '
     'Authenticator LOGIN returned Expected response code 250 but got an empty response. Authenticator PLAIN '
     'returned Expected response code 235 but got code "535", with message "535-5.7.8 Username and Password not '
     'accepted.', ("auth", "auth_failed", 535, "5.7.8")),
    ('Connection could not be established with host "smtp.example.com:587": stream_socket_client(): '
     'php_network_getaddresses: getaddrinfo for smtp.example.com failed: Name or service not known',
     ("dns", "dns_nxdomain", None, None)),
    ('Connection could not be established with host "ssl://smtp.example.com:465": stream_socket_client(): '
     'unable to connect to ssl://smtp.example.com:465 (Connection refused)', ("connect", "connect_refused", None, None)),
    ('Connection to "smtp.example.com:587" timed out.', ("greeting", "read_timeout", None, None)),
    ("Swift_TransportException: Expected response code 220 but got an empty response",
     ("greeting", "server_disconnected", None, None)),
    ("PHP Fatal error:  Uncaught exception 'Swift_TransportException' with message 'Failed to authenticate on SMTP "
     "server with username \"mailer\" using 0 possible authenticators' in /var/www/html/vendor/swiftmailer/classes/"
     "Swift/Transport/Esmtp/AuthHandler.php:182", ("auth", "auth_mechanism_unsupported", None, None)),
    ('Symfony\\Component\\Mailer\\Exception\\TransportException: Failed to find an authenticator supported by the '
     'SMTP server, which currently supports: "gssapi".', ("auth", "auth_mechanism_unsupported", None, None)),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0][:50] for c in CASES])
def test_error_kinds(tmp_path, text, expected):
    frame, report = parse_excerpt(tmp_path, text + "\n")

    assert report["format"] == "symfony"
    assert len(frame) == 1
    assert labels(rows(frame)[0]) == expected


def test_trace_names_the_command(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        [2024-02-10 09:15:02] app.ERROR: Swift_TransportException: Expected response code 250 but got code "550", with message "550 5.7.1 Client host rejected: Access denied
        " in /srv/app/vendor/swiftmailer/swiftmailer/lib/classes/Swift/Transport/AbstractSmtpTransport.php:383
        Stack trace:
        #0 /srv/app/vendor/swiftmailer/swiftmailer/lib/classes/Swift/Transport/AbstractSmtpTransport.php(281): Swift_Transport_AbstractSmtpTransport->_assertResponseCode('550 5.7.1 Clien...', Array)
        #1 /srv/app/vendor/swiftmailer/swiftmailer/lib/classes/Swift/Transport/EsmtpTransport.php(270): Swift_Transport_AbstractSmtpTransport->executeCommand('MAIL FROM:<app@...', Array, Array)
        #2 /srv/app/vendor/swiftmailer/swiftmailer/lib/classes/Swift/Transport/EsmtpTransport.php(346): Swift_Transport_EsmtpTransport->executeCommand('MAIL FROM:<app@...', Array)
        #3 {main}
    """)

    assert len(frame) == 1
    row = rows(frame)[0]
    assert labels(row) == ("mail_from", "policy_rejected", 550, "5.7.1")
    assert str(row["start"]) == "2024-02-10 09:15:02+00:00"
    # The two executeCommand frames name the step; the rest of the trace is noise.
    assert (report["parsed"], report["noise"], report["unrecognised"]) == (3, 4, 0)


def test_laravel_context_one_session_each(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        [2024-02-10 09:20:00] production.ERROR: Connection could not be established with host "smtp.example.com:587": stream_socket_client(): Unable to connect to smtp.example.com:587 (Connection timed out) {"exception":"[object] (Symfony\\\\Component\\\\Mailer\\\\Exception\\\\TransportException(code: 0): Connection could not be established with host \\"smtp.example.com:587\\": stream_socket_client(): Unable to connect to smtp.example.com:587 (Connection timed out) at /srv/app/vendor/symfony/mailer/Transport/Smtp/Stream/SocketStream.php:154)
        [stacktrace]
        #0 /srv/app/vendor/symfony/mailer/Transport/Smtp/Stream/SocketStream.php(157): Symfony\\\\Component\\\\Mailer\\\\Transport\\\\Smtp\\\\Stream\\\\SocketStream->Symfony\\\\Component\\\\Mailer\\\\Transport\\\\Smtp\\\\Stream\\\\{closure}(2, 'stream_socket_c...', '/srv/app/...', 157)
        #1 {main}
        "}
        [2024-02-10 09:25:00] production.ERROR: Connection could not be established with host "smtp.example.com:587": stream_socket_client(): Unable to connect to smtp.example.com:587 (Connection timed out)
    """)

    assert len(frame) == 2  # five minutes apart: a retry
    assert set(frame["cause"]) == {"connect_timeout"}
    assert rows(frame)[0]["port"] == 587
    assert report["unrecognised"] == 0


def test_phpmailer_left_alone():
    sample = ["SMTP ERROR: Failed to connect to server: Connection timed out (110)",
              "Connection failed. Error #2: stream_socket_client(): Unable to connect to smtp.example.com:25"]

    assert formats.get("symfony").detect(sample) == 0.0


def test_xoauth2_authenticator(tmp_path):
    frame, _ = parse_excerpt(tmp_path, (
        'Failed to authenticate on SMTP server with username "helpdesk@example.com" using 1 possible authenticators. '
        'Authenticator XOAUTH2 returned Swift_TransportException: Expected response code 235 but got code "535", '
        'with message "535 5.7.3 Authentication unsuccessful [AM0PR01CA0001.eurprd01.prod.exchangelabs.com]".\n'))

    row = rows(frame)[0]
    assert labels(row) == ("auth", "oauth_token_invalid", 535, "5.7.3")
    assert row["auth_mechanism"] == "XOAUTH2"
    assert row["identity"] == "helpdesk@example.com"


def test_framework_log_records_are_noise(tmp_path):
    # Monolog's file lines from a web request, then a messenger:consume -vv worker on the console.
    frame, report = parse_excerpt(tmp_path, r"""
        [2026-03-02T08:00:00.123456+00:00] request.INFO: Matched route "app_register". {"route":"app_register","request_uri":"https://example.com/register","method":"POST"} []
        [2026-03-02T08:00:00.234567+00:00] security.DEBUG: Checking for authenticator support. {"firewall_name":"main","authenticators":1} []
        [2026-03-02T08:00:00.345678+00:00] doctrine.DEBUG: Executing statement: INSERT INTO user (email, password) VALUES (?, ?) {"sql":"INSERT INTO user (email, password) VALUES (?, ?)"} []
        [2026-03-02T08:00:00.456789+00:00] messenger.INFO: Sending message Symfony\Component\Mailer\Messenger\SendEmailMessage with async sender using Symfony\Component\Messenger\Bridge\Doctrine\Transport\DoctrineTransport {"alias":"async"} []
        [2026-03-02T08:00:30.000000+00:00] app.CRITICAL: Mail delivery failed for order 1182, customer not notified [] []
         [OK] Consuming messages from transport "async".
         // Quit the worker with CONTROL-C.
        08:00:05 INFO      [messenger] Received message Symfony\Component\Mailer\Messenger\SendEmailMessage ["class" => "Symfony\Component\Mailer\Messenger\SendEmailMessage"]
        08:00:35 WARNING   [messenger] Error thrown while handling message Symfony\Component\Mailer\Messenger\SendEmailMessage. Sending for retry #1 using 1000 ms delay. Error: "Connection to "smtp.example.com:587" timed out." ["retryCount" => 1]
        08:00:36 INFO      [messenger] Message Symfony\Component\Mailer\Messenger\SendEmailMessage handled by Symfony\Component\Mailer\Messenger\MessageHandler::__invoke ["class" => "Symfony\Component\Mailer\Messenger\SendEmailMessage"]
        Segmentation fault (core dumped)
    """, format="symfony")

    (row,) = rows(frame)
    assert labels(row) == ("greeting", "read_timeout", None, None)
    assert row["host"] == "smtp.example.com"
    assert report["noise"] == 8
    # A mail failure in words the reader does not know, and a line that is no log record, stay unrecognised.
    unrecognised = [w for w in report["warnings"] if ": unrecognised line: " in w]
    assert [w.split(": ", 1)[0].rsplit(":", 1)[1] for w in unrecognised] == ["5", "11"]
    assert report["unrecognised"] == 2


# SwiftMailer 5's exception as Symfony's debug page prints it: "at Class->method(...) in File line N" frames.
DEBUG_PAGE = """\
Swift_TransportException in AbstractSmtpTransport.php line 383: Expected response code 250 but got code "550", with message "550 5.7.60 SMTP; Client does not have permissions to send as this sender"
in AbstractSmtpTransport.php line 383
at Swift_Transport_AbstractSmtpTransport->_assertResponseCode('550 5.7.60 SMTP; Client does not have permissions to send as this sender ', array('250')) in AbstractSmtpTransport.php line 281
at Swift_Transport_AbstractSmtpTransport->executeCommand(' . ', array('250'), array()) in EsmtpTransport.php line 270
at Swift_Transport_EsmtpTransport->executeCommand(' . ', array('250')) in AbstractSmtpTransport.php line 333
at Swift_Transport_AbstractSmtpTransport->_streamMessage(object(Swift_Message)) in AbstractSmtpTransport.php line 428
"""


def test_debug_page_frames_give_the_step(tmp_path):
    frame, report = parse_excerpt(tmp_path, DEBUG_PAGE)

    assert [labels(row) for row in rows(frame)] == [("data", "sender_rejected", 550, "5.7.60")]
    assert report["unrecognised"] == 0
