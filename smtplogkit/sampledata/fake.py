"""Fake but real-shaped values: names, addresses, ids, tokens and passwords.

Everything comes from the caller's :class:`random.Random`, so a seed gives the
same values on every run and platform.
"""

from __future__ import annotations

import base64
import random
import string

FIRST = ("anna", "ben", "carla", "david", "elif", "farah", "gustav", "hana", "ivan", "jonas", "kemal", "lena",
         "mateo", "nora", "oskar", "priya", "quentin", "rosa", "samir", "tomas", "ulla", "vera", "wei", "yusuf",
         "zoe", "amir", "bea", "chen", "dana", "emil")
LAST = ("meyer", "schmidt", "novak", "rossi", "garcia", "kowalski", "dubois", "jansen", "larsen", "tanaka",
        "okafor", "silva", "berg", "fischer", "moreau", "costa", "weber", "nguyen", "haddad", "lindqvist")
HEX = "0123456789abcdef"
URLSAFE = string.ascii_letters + string.digits + "-_"
B62 = string.ascii_letters + string.digits


def person(rng: random.Random, domains: tuple[str, ...]) -> str:
    """Return an address such as ``lena.novak@example.net``."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    style = rng.random()
    if style < 0.6:
        local = f"{first}.{last}"
    elif style < 0.85:
        local = f"{first[0]}{last}"
    else:
        local = f"{first}{rng.randint(1, 99)}"
    return f"{local}@{rng.choice(domains)}"


def hexid(rng: random.Random, length: int, upper: bool = False) -> str:
    """Return ``length`` random hex digits."""
    text = "".join(rng.choice(HEX) for _ in range(length))
    return text.upper() if upper else text


def uuid_like(rng: random.Random) -> str:
    """Return a random UUID-shaped string (nodemailer's Message-ID local part)."""
    return "-".join(hexid(rng, n) for n in (8, 4, 4, 4, 12))


def google_token(rng: random.Random) -> str:
    """Return a fake Google OAuth access token (``ya29.a0...``)."""
    return "ya29.a0" + "".join(rng.choice(URLSAFE) for _ in range(rng.randint(150, 170)))


def app_password(rng: random.Random) -> str:
    """Return a fake 16-letter app password, as Google issues them."""
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(16))


def password(rng: random.Random) -> str:
    """Return a fake mailbox password."""
    return "".join(rng.choice(B62) for _ in range(14)) + rng.choice("!#%&*+")


def b64(text: str) -> str:
    """Return the base64 of a UTF-8 string."""
    return base64.b64encode(text.encode()).decode()


def xoauth2_payload(user: str, token: str) -> str:
    """Return the XOAUTH2 initial response for ``user`` and ``token``."""
    return b64(f"user={user}\x01auth=Bearer {token}\x01\x01")


def plain_payload(user: str, secret: str) -> str:
    """Return the AUTH PLAIN initial response."""
    return b64(f"\0{user}\0{secret}")


def gmail_session(rng: random.Random) -> str:
    """Return the id Gmail prints in its replies (``5b1f17b1804b1-43e...sm1234567f8a.12``)."""
    return f"{hexid(rng, 13)}-{hexid(rng, 11)}sm{rng.randint(1000000, 9999999)}{hexid(rng, 3)}.{rng.randint(1, 399)}"


def postfix_queue_id(rng: random.Random) -> str:
    """Return a short Postfix queue id (10 or 11 upper-case hex digits)."""
    return hexid(rng, rng.choice((10, 11)), upper=True)


def nodemailer_id(rng: random.Random) -> str:
    """Return a nodemailer connection id (``[a9zQgHYmg]``)."""
    return "".join(rng.choice(B62) for _ in range(rng.choice((9, 10, 11))))
