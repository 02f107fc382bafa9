"""Lines nodemailer prints with ``logger: true, debug: true``.

The shapes are those nodemailer printed against a loopback server
(``tests/captures/samples/nodemailer-*.log``).  Each line is ``[2026-03-02
08:14:03] LEVEL [connection-id] text`` with the level padded to five
characters.  The transcript has one ``S:`` line per reply line and one ``C:``
line per command.  After DATA the message source is echoed line by line, and
nodemailer itself masks the AUTH LOGIN password as ``/* secret */``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

VERSION = "6.10.1"


def stamp(t: float) -> str:
    """Return nodemailer's ``[2026-03-02 08:14:03]``."""
    g = time.gmtime(int(t))
    return f"[{g.tm_year}-{g.tm_mon:02d}-{g.tm_mday:02d} {g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d}]"


@dataclass
class NodeTranscript:
    """Writes one nodemailer worker's lines as ``(t, text)`` pairs."""

    rng: random.Random
    lines: list[tuple[float, str]] = field(default_factory=list)
    t: float = 0.0
    cid: str = ""

    def line(self, level: str, text: str, cid: bool = True) -> None:
        prefix = f"{stamp(self.t)} {level:<5} "
        self.lines.append((self.t, prefix + (f"[{self.cid}] " if cid else "") + text))

    def tick(self, low: float, high: float) -> None:
        self.t += self.rng.uniform(low, high)

    def client(self, text: str) -> None:
        self.tick(0.0001, 0.001)
        self.line("DEBUG", f"C: {text}")

    def server(self, lines: list[str], wait: float) -> None:
        self.t += wait
        for text in lines:
            self.line("DEBUG", f"S: {text}")


def creating_transport() -> str:
    """Return the text nodemailer logs once, when the transport is created."""
    return f"Creating transport: nodemailer ({VERSION}; +https://nodemailer.com/; SMTP/{VERSION}[client:{VERSION}])"


def sending_using() -> str:
    """Return the text nodemailer logs for every ``sendMail`` call."""
    return f"Sending mail using SMTP/{VERSION}[client:{VERSION}]"
