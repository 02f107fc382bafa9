"""The check that a format keeps the promise of ``SESSIONS_IN_ORDER`` (see ``formats.base.parse_items``).

``tests/conftest.py`` runs it in every test; ``tests/scale/test_session_ends.py`` shows it can fail.
"""

from __future__ import annotations


def checked_end_in_order(end_in_order):
    """Return ``end_in_order`` wrapped in checks: fail on an event of a session after the session's end,
    and on an event that changed after its session ended (the reader built the row at the end).
    """
    from smtplogkit.records import SessionEnd

    def checked(items):
        ended: set = set()
        open_events: dict = {}
        frozen: list = []
        for item in end_in_order(items):
            if type(item) is SessionEnd:
                ended.add(item.session)
                frozen.extend((event, _state(event)) for event in open_events.pop(item.session, []))
            elif getattr(item, "session", None) is not None:
                assert item.session not in ended, f"an event of session {item.session!r} after it ended: {item}"
                open_events.setdefault(item.session, []).append(item)
            yield item
        for event, state in frozen:
            assert _state(event) == state, f"an event changed after its session ended: {event}"

    return checked


def _state(event) -> tuple:
    return (event.text, event.verb, event.code, event.enhanced, repr(sorted(event.attrs.items(), key=repr)))
