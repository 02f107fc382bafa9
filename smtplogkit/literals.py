"""Literal strings that every match of a regular expression contains.

The rule tables (:mod:`smtplogkit.rules`) search reply and error texts with
case-insensitive patterns of many alternatives.  Python's ``re`` cannot skip
ahead to a literal in such a pattern, so each search tries every position
and costs tens of microseconds on a long reply.  :func:`required_literals`
reads a pattern once and returns strings of which any match must contain
one.  A text that contains none of them, compared in lower case, cannot
match, and the search is skipped.

A table of rules needs that check on one text for every rule, about a
hundred literals in all.  :class:`LiteralIndex` answers it for all of them
in one pass over the text, with an Aho-Corasick automaton (pyahocorasick),
and gives a bit mask of the literals found.

The check is exact only for ASCII text.  Under ``re.IGNORECASE`` a few
non-ASCII letters match ASCII ones (the Kelvin sign matches ``k``), so
:func:`could_match` always lets the search run for a non-ASCII text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from functools import lru_cache
from re import _constants as sre

import ahocorasick
from re import _parser as sre_parse

# Literals shorter than this rule out too few texts to be worth checking.
MIN_LENGTH = 3


def required_literals(pattern: str, flags: int = 0) -> tuple[str, ...] | None:
    """Return lower-case ASCII strings, one of which occurs in any match of ``pattern``, or None.

    None means no such set was found (an alternative without a literal of
    :data:`MIN_LENGTH` characters, or a pattern the reader does not follow).
    """
    try:
        parsed = sre_parse.parse(pattern, flags)
    except re.error:
        return None
    found = _sequence(list(parsed))
    if found is None or min(len(text) for text in found) < MIN_LENGTH:
        return None
    return tuple(sorted(found))


def branches(pattern: str) -> list[str] | None:
    """Return the alternatives of ``pattern``'s top level (``a|b(c|d)|e`` gives three), or None if it has one.

    A text contains a match of the pattern exactly when it contains a match
    of one of the alternatives, so each can be searched on its own, behind
    its own literal check.  None too for a pattern whose alternatives could
    depend on each other: a back-reference or an inline flag.
    """
    if re.search(r"\\[1-9]|\(\?P=|\(\?[aiLmsux]", pattern):
        return None
    found: list[str] = []
    depth = start = index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("^", index + 1):
                index += 1
            if pattern.startswith("]", index + 1):
                index += 1  # a "]" first in a class is a literal
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            found.append(pattern[start:index])
            start = index + 1
        index += 1
    found.append(pattern[start:])
    return found if len(found) > 1 else None


def _sequence(items: list) -> set[str] | None:
    """Return the best literal set of a sequence of parsed items: every match contains one of its strings."""
    candidates: list[set[str]] = []
    run: list[str] = []
    for op, value in items:
        if op is sre.LITERAL:
            run.append(chr(value))
            continue
        if run:
            candidates.append({"".join(run)})
            run = []
        found = _item(op, value)
        if found is not None:
            candidates.append(found)
    if run:
        candidates.append({"".join(run)})
    usable = [c for c in (_lower_ascii(c) for c in candidates) if c is not None]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(len(text) for text in c), -len(c)))


def _item(op, value) -> set[str] | None:
    """Return the literal set one parsed item guarantees, or None."""
    if op is sre.SUBPATTERN:
        return _sequence(list(value[-1]))
    if op is sre.BRANCH:
        found: set[str] = set()
        for branch in value[1]:
            part = _sequence(list(branch))
            if part is None:
                return None
            found |= part
        return found
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[0] >= 1:
        return _sequence(list(value[2]))
    if op is sre.ATOMIC_GROUP:
        return _sequence(list(value))
    return None


def _lower_ascii(strings: set[str]) -> set[str] | None:
    lowered = {text.lower() for text in strings}
    if not all(text.isascii() and text for text in lowered):
        return None
    return lowered


@lru_cache(maxsize=256)
def lowered(text: str) -> str | None:
    """Return ``text`` in lower case if it is ASCII, else None (the texts :func:`could_match` can rule out)."""
    return text.lower() if text.isascii() else None


def could_match(literals: Collection[str] | None, text: str) -> bool:
    """Return False only when ``text`` is ASCII and contains none of ``literals`` in any case."""
    if literals is None:
        return True
    lower = lowered(text)
    if lower is None:
        return True
    for literal in literals:  # a loop, not any() over a generator: classify calls this for every rule
        if literal in lower:
            return True
    return False


def sign_literals(signs: tuple[str | re.Pattern[str], ...]) -> frozenset[str] | None:
    """Return lower-case literals, one of which is in every line that contains or matches one of ``signs``.

    A sign is a string, which must occur as it is, or a compiled pattern.
    None means a pattern has no such literal (see :func:`required_literals`).
    """
    literals: set[str] = set()
    for sign in signs:
        if isinstance(sign, str):
            literals.add(sign.lower())
            continue
        found = required_literals(sign.pattern, sign.flags)
        if found is None:
            return None
        literals.update(found)
    return frozenset(literals)


class LiteralIndex:
    """An index of groups of lower-case literals, which finds in one pass the groups with a member in a text.

    Groups are numbered in the order given, and a group of None stands for
    "no literal known": it is always found.  ``also`` are literals of no
    group, indexed for :meth:`mask` only.  :meth:`search` returns a bit
    mask of the groups with a literal in the text, so that bit ``i`` is set
    exactly when :func:`could_match` would return True for group ``i``,
    and a bit mask of the literals found, for :meth:`mask`.
    """

    def __init__(self, groups: Iterable[Iterable[str] | None], also: Iterable[str] = ()) -> None:
        self.bits: dict[str, int] = {}
        owners: dict[str, int] = dict.fromkeys(also, 0)  # literals for mask() that belong to no group
        self.always = 0
        count = 0
        for number, group in enumerate(groups):
            count = number + 1
            if group is None:
                self.always |= 1 << number
                continue
            for literal in group:
                owners[literal] = owners.get(literal, 0) | 1 << number
        self.every = (1 << count) - 1
        self._automaton = ahocorasick.Automaton()
        for literal in sorted(owners):
            bit = self.bits[literal] = 1 << len(self.bits)
            self._automaton.add_word(literal, (bit, owners[literal]))
        if self.bits:
            self._automaton.make_automaton()

    def mask(self, literals: Iterable[str] | None) -> int | None:
        """Return the bits of ``literals`` (each in some group), or None for None: no literal to require."""
        if literals is None:
            return None
        mask = 0
        for literal in literals:
            mask |= self.bits[literal]
        return mask

    def search(self, text: str) -> tuple[int, int]:
        """Return the bits of the groups and of the literals found in ``text``, in any case.

        A non-ASCII text finds every group and every literal: as with
        :func:`could_match`, the patterns must be searched.
        """
        lower = lowered(text)
        if lower is None:
            return self.every, -1
        groups, found = self.always, 0
        if self.bits:
            for _, (bit, owners) in self._automaton.iter(lower):
                found |= bit
                groups |= owners
        return groups, found
