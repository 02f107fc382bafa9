"""Required literals let the rule tables skip searches that cannot match, without changing any result."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import smtplogkit
from smtplogkit import rules
from smtplogkit.labels import Stage
from smtplogkit.literals import LiteralIndex, branches, could_match, required_literals

ROOT = Path(__file__).resolve().parents[2]
ALL_RULES = [*rules.SESSION_RULES, *rules.REPLY_RULES, *rules.ERROR_RULES]


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"connection refused|ECONNREFUSED", ("connection refused", "econnrefused")),
    (r"\b5\.7\.139\b|basic auth", ("5.7.139", "basic auth")),
    (r"foo(?:bar|ba+z)qux", ("foob",)),  # the parser moves the shared "b" out of the group
    (r"gr[ae]y ?list", ("list",)),
    (r"too (?:many|much)", ("too m",)),
])
def test_literals_of_pattern(pattern, expected):
    assert required_literals(pattern, re.IGNORECASE) == tuple(sorted(expected))


@pytest.mark.parametrize("pattern", [r"\d+ m", r"a|bcd", r"(?:x)?yz", r"\S+@\S+", r"[Tt]i[mn]e"])
def test_no_literals_without_one_per_branch(pattern):
    assert required_literals(pattern, re.IGNORECASE) is None


def test_non_ascii_text_is_always_searched():
    # Under IGNORECASE the Kelvin sign matches "k", so a non-ASCII text must reach the regex.
    assert re.search("kelvin", "\u212aelvin", re.IGNORECASE)
    assert could_match(("kelvin",), "\u212aelvin")
    assert not could_match(("kelvin",), "celsius")


def test_index_finds_groups_with_a_literal_in_text():
    index = LiteralIndex([("try again later",), ("again", "quota"), None, ("spam",)], also=["later"])
    groups, found = index.search("421 4.7.0 Try AGAIN later")
    assert groups == 0b0111  # overlapping literals both count; a group of None is always found
    assert found & index.mask(["later"])
    assert not found & index.mask(["spam", "quota"])
    assert index.mask(None) is None
    assert index.search("250 ok") == (0b0100, 0)
    # A non-ASCII text finds everything, as could_match lets its search run.
    assert index.search("\u212a try")[0] == 0b1111
    assert LiteralIndex([None]).search("anything") == (1, 0)


def _corpus() -> list[str]:
    texts: set[str] = set()
    for folder in ("captures", "cases", "data"):
        for path in sorted((ROOT / "tests" / folder).rglob("*.log")):
            try:
                events = smtplogkit.read_events(path)
            except Exception:  # a fixture that fails to read adds nothing here
                continue
            texts.update(events["text"].dropna().tolist())
    # Each literal in other cases and surroundings, and each literal cut short by one character.
    for rule in ALL_RULES:
        branch_literals = [literals or () for literals, _ in rule.branches or ()]
        for literal in {*(rule.literals or ()), *(text for group in branch_literals for text in group)}:
            texts.update({literal.upper(), f"x {literal.title()} y", f"5.7.1 {literal[:-1]} z", literal.swapcase(),
                          f"\u212a {literal} at", f"{literal} on {literal}"})
    return sorted(texts)


def test_rule_search_equals_regex():
    corpus = _corpus()
    assert len(corpus) > 1000
    skipped = 0
    for rule in ALL_RULES:
        for text in corpus:
            expected = rule.regex.search(text) is not None
            assert rule.search(text) is expected, (rule.pattern, text)
            skipped += not could_match(rule.literals, text)
    # Most searches are skipped, or the literals would not be worth having.
    assert skipped > len(corpus) * len(ALL_RULES) // 2


# Stages and reply codes under which the tables' conditions differ: a table's plan is made per pair.
PLANS = [(Stage.MAIL_FROM, 421), (Stage.RCPT_TO, 550), (Stage.AUTH, 535), (Stage.AUTH, None), (Stage.CONNECT, None),
         (Stage.GREETING, 554), (Stage.DATA, 552), (Stage.NONE, None), (Stage.STARTTLS, 454)]


def test_first_rule_equals_trying_each_regex():
    """The indexed search of a table finds the rule that trying each rule's whole pattern in order finds."""
    corpus = _corpus()
    for table in (rules.SESSION_RULES, rules.REPLY_RULES, rules.ERROR_RULES):
        for stage, code in PLANS:
            candidates = [rule for rule in table if (rule.codes is None or code in rule.codes)
                          and (rule.stages is None or stage in rule.stages)]
            for text in corpus:
                expected = next((rule for rule in candidates if rule.regex.search(text)), None)
                assert rules._first(table, stage, code, text) is expected, (stage, code, text)


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"a|b(c|d)|e", ["a", "b(c|d)", "e"]),
    (r"[|]x|y", ["[|]x", "y"]),
    (r"a\|b|c", [r"a\|b", "c"]),
    (r"[]|]|z", ["[]|]", "z"]),
    (r"[^]|]q|(?:r|s)", ["[^]|]q", "(?:r|s)"]),
    (r"abc", None),
    (r"(a)x\1|b", None),  # a back-reference ties the alternatives together
])
def test_branches_of_pattern(pattern, expected):
    assert branches(pattern) == expected


def test_branches_make_the_pattern():
    split = [rule for rule in ALL_RULES if rule.branches is not None]
    assert len(split) > len(ALL_RULES) // 2
    for rule in split:
        assert "|".join(branches(rule.pattern)) == rule.pattern
        assert all(regex.flags & re.IGNORECASE for _, regex in rule.branches)
