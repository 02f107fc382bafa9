"""Generic SMTP transcripts with a direction prefix on every line.

Notes
-----
Bug reports, RFCs and many small clients write sessions as ``C: EHLO ...``
and ``S: 250 ...``; others use ``>``/``<``, ``->``/``<-``, ``>>>``/``<<<``
or ``CLIENT:``/``SERVER:``.  The prefixes differ in which side they mean
(``>`` is the client in curl and the server in some test tools), so the
direction is read from the text: a line that starts with a reply code is the
server's, anything else the client's.  Lines without a prefix are counted as
unrecognised.  This reader scores low in detection so that a format with its
own markers (MailKit's ``Connected to smtp://``, curl's ``* Connected to``)
wins when both fit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .. import replycodes as rc
from ..records import Event, Line
from ._transcript import Transcript
from .base import ParseContext

NAME = "transcript"
DESCRIPTION = "Generic SMTP transcripts with C:/S:, >/<, ->/<- or CLIENT:/SERVER: prefixes"
CLIENT = None
PRIORITY = 0
# Sessions follow one another; one ends when the next begins (see base.parse_items).
SESSIONS_IN_ORDER = True

PREFIX_RE = re.compile(r"^\s*(C:|S:|CLIENT:|SERVER:|>>>|<<<|->|<-|>|<)\s?(.*)$", re.I)


def detect(sample: list[str]) -> float:
    """Score how much of the sample is prefixed transcript lines."""
    prefixed = [PREFIX_RE.match(text) for text in sample]
    hits = [m for m in prefixed if m]
    replies = sum(1 for m in hits if rc.split_reply(m.group(2).strip()) is not None)
    if not hits or not replies:
        return 0.0
    return min(0.5, 0.5 * len(hits) / max(len(sample), 1))


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event]:
    """Turn prefixed transcript lines into events."""
    transcript = Transcript(ctx)
    for line in lines:
        match = PREFIX_RE.match(line.text)
        if not match:
            ctx.unrecognised(line)
            continue
        payload = match.group(2).rstrip()
        if rc.split_reply(payload.strip()) is not None and not transcript.in_body:
            yield from transcript.server(line, payload)
        else:
            yield from transcript.client(line, payload)
