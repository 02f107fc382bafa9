"""A plain smtplib sending script, as users write them, for the captures.

It sends one message (or ``--messages N``) with ``set_debuglevel`` on and,
when anything fails, prints the traceback with ``traceback.print_exc()``, the
way scripts in bug reports do.  All debug output goes to stderr.
"""

from __future__ import annotations

import argparse
import smtplib
import ssl
import sys
import traceback


def build_context(cafile: str | None) -> ssl.SSLContext:
    """Return a verifying client context that trusts ``cafile`` or the system CAs."""
    return ssl.create_default_context(cafile=cafile)


def xoauth2(user: str, token: str):
    """Return an smtplib auth object that sends the XOAUTH2 initial response once."""
    def answer(challenge: bytes | None = None) -> str:
        return f"user={user}\x01auth=Bearer {token}\x01\x01" if challenge is None else ""
    return answer


def send(args: argparse.Namespace) -> None:
    """Connect, optionally start TLS and log in, and send the messages."""
    context = build_context(args.cafile)
    if args.mode == "implicit":
        client = smtplib.SMTP_SSL(timeout=args.timeout, context=context)
    else:
        client = smtplib.SMTP(timeout=args.timeout)
    client.set_debuglevel(args.debuglevel)
    # connect() does not record the host name that starttls() and SMTP_SSL
    # check the certificate against (CPython 3.11); the constructor does, but
    # it connects before the debug level is set and the greeting goes unlogged.
    client._host = args.host
    client.connect(args.host, args.port)

    if args.mode == "starttls":
        client.starttls(context=context)
    if args.token:
        client.ehlo_or_helo_if_needed()
        client.auth("XOAUTH2", xoauth2(args.user, args.token), initial_response_ok=True)
    elif args.user:
        client.login(args.user, args.password)

    for number in range(1, args.messages + 1):
        message = f"From: {args.sender}\r\nTo: {args.recipient}\r\nSubject: capture {number}\r\n\r\nHello.\r\n"
        client.sendmail(args.sender, [args.recipient], message)
    client.quit()


def main() -> int:
    """Parse the arguments and send, printing the traceback of any failure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("plain", "starttls", "implicit"), default="starttls")
    parser.add_argument("--debuglevel", type=int, default=1)
    parser.add_argument("--cafile")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--token", help="XOAUTH2 bearer token")
    parser.add_argument("--sender", required=True)
    parser.add_argument("--recipient", required=True)
    parser.add_argument("--messages", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0, help="socket timeout in seconds")
    args = parser.parse_args()
    try:
        send(args)
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
