"""Lines a Python worker writes: smtplib ``set_debuglevel(2)`` output, logging lines, tracebacks.

The shapes are those of CPython 3.11's smtplib, captured against a loopback
server (``tests/captures/samples/smtplib-*.log``): ``connect: to ('host',
587) None``, ``send: 'ehlo ...\\r\\n'`` with the repr of each command,
``reply: b'250-...\\r\\n'`` per reply line then the ``reply: retcode (250);
Msg: b'...'`` summary, ``data: (354, b'...')`` around the message, and
tracebacks with 3.11's ``^^^^`` markers.  Debug lines carry only the time of
day; logging lines carry the date.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

LIB = "/usr/local/lib/python3.11"


def clock(t: float) -> str:
    """Return smtplib's debuglevel 2 stamp, ``08:00:01.123456``."""
    whole = int(t)
    g = time.gmtime(whole)
    return f"{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d}.{int(round((t - whole) * 1e6)) % 1000000:06d}"


def log_stamp(t: float) -> str:
    """Return Python logging's ``asctime``, ``2026-03-02 08:00:01,123``."""
    whole = int(t)
    g = time.gmtime(whole)
    return (f"{g.tm_year}-{g.tm_mon:02d}-{g.tm_mday:02d} {g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d},"
            f"{int((t - whole) * 1000):03d}")


@dataclass
class Frame:
    """One traceback frame: where, and the source line with the part 3.11 marks."""

    path: str
    line: int
    function: str
    source: str
    marked: str | None = None  # the sub-expression 3.11 underlines, when it is not the whole line

    def render(self) -> list[str]:
        lines = [f'  File "{self.path}", line {self.line}, in {self.function}', f"    {self.source}"]
        if self.marked:
            start = self.source.index(self.marked)
            lines.append("    " + " " * start + "^" * len(self.marked))
        return lines


def _lib(name: str, line: int, function: str, source: str, marked: str | None = None) -> Frame:
    return Frame(f"{LIB}/{name}", line, function, source, marked)


# smtplib and socket frames as CPython 3.11.7 prints them.
CONNECT_FRAMES = [
    _lib("smtplib.py", 255, "__init__", "(code, msg) = self.connect(host, port)", "self.connect(host, port)"),
    _lib("smtplib.py", 341, "connect", "self.sock = self._get_socket(host, port, self.timeout)",
         "self._get_socket(host, port, self.timeout)"),
]
PLAIN_SOCKET_FRAMES = [
    _lib("smtplib.py", 312, "_get_socket", "return socket.create_connection((host, port), timeout,",
         "socket.create_connection((host, port), timeout,"),
    _lib("socket.py", 851, "create_connection", "raise exceptions[0]"),
    _lib("socket.py", 836, "create_connection", "sock.connect(sa)"),
]
SSL_FRAMES = [
    _lib("smtplib.py", 1050, "__init__", "SMTP.__init__(self, host, port, local_hostname, timeout,"),
    *CONNECT_FRAMES,
    _lib("smtplib.py", 1057, "_get_socket", "new_socket = self.context.wrap_socket(new_socket,",
         "self.context.wrap_socket(new_socket,"),
    _lib("ssl.py", 517, "wrap_socket", "return self.sslsocket_class._create(", "self.sslsocket_class._create("),
    _lib("ssl.py", 1108, "_create", "self.do_handshake()"),
    _lib("ssl.py", 1383, "do_handshake", "self._sslobj.do_handshake()"),
]
AUTH_FRAMES = [_lib("smtplib.py", 662, "auth", "raise SMTPAuthenticationError(code, resp)")]
SEND_FRAMES = [
    _lib("smtplib.py", 986, "send_message", "return self.sendmail(from_addr, to_addrs, flatmsg, mail_options,",
         "self.sendmail(from_addr, to_addrs, flatmsg, mail_options,"),
    _lib("smtplib.py", 887, "sendmail", "raise SMTPSenderRefused(code, resp, from_addr)"),
]


def traceback(frames: list[Frame], exception: str) -> list[str]:
    """Return the lines of a traceback ending in ``exception``."""
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        lines.extend(frame.render())
    lines.append(exception)
    return lines


@dataclass
class Transcript:
    """Writes one worker's lines, keeping the clock moving forward.

    ``lines`` collects ``(t, text)`` pairs; ``t`` is the time the line was
    printed (epoch seconds, UTC).
    """

    rng: random.Random
    logger: str
    lines: list[tuple[float, str]] = field(default_factory=list)
    t: float = 0.0

    def _tick(self, low: float, high: float) -> float:
        self.t += self.rng.uniform(low, high)
        return self.t

    def debug(self, text: str) -> None:
        """Print a debuglevel 2 line at the current time."""
        self.lines.append((self.t, f"{clock(self.t)} {text}"))

    def log(self, level: str, message: str, name: str | None = None) -> None:
        """Write an application logging line."""
        self.lines.append((self.t, f"{log_stamp(self.t)} {level} {name or self.logger}: {message}"))

    def raw(self, texts: list[str]) -> None:
        """Write lines without a stamp (traceback lines)."""
        for text in texts:
            self.lines.append((self.t, text))

    # smtplib's own lines --------------------------------------------------

    def connect(self, host: str, port: int, implicit: bool) -> None:
        if implicit:
            self.debug(f"connect: {(host, port)!r}")
            self._tick(0.00003, 0.0001)
        self.debug(f"connect: to {(host, port)!r} None")

    def send(self, command: str) -> None:
        self._tick(0.00003, 0.0002)
        self.debug(f"send: {command + chr(13) + chr(10)!r}")

    def send_body(self, body: bytes) -> None:
        self._tick(0.00003, 0.0001)
        self.debug(f"send: {body!r}")

    def reply(self, lines: list[str], wait: float, *, greeting: bool = False, data: bool = False) -> tuple[int, bytes]:
        """Print the reply lines after ``wait`` seconds, then the retcode summary."""
        self.t += wait
        for index, text in enumerate(lines):
            if index:
                self._tick(0.00001, 0.00004)
            self.debug(f"reply: {(text + chr(13) + chr(10)).encode()!r}")
        code = int(lines[-1][:3])
        message = b"\n".join(text[4:].strip(" \t\r\n").encode() for text in lines)
        self._tick(0.000005, 0.000015)
        self.debug(f"reply: retcode ({code}); Msg: {message!r}")
        if greeting:
            self._tick(0.000003, 0.000008)
            self.debug(f"connect: {message!r}")
        if data:
            self._tick(0.000003, 0.000008)
            self.debug(f"data: {(code, message)!r}")
        return code, message
