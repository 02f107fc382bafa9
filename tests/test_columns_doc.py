"""docs/columns.md describes every session column and every label value, so it stays complete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smtplogkit.labels import Cause, Outcome, Stage, TlsMode
from smtplogkit.reader import SESSION_COLUMNS
from smtplogkit.sessions import EXTRA_ATTRS

DOC = Path(__file__).resolve().parent.parent / "docs" / "columns.md"


def _table_names(text: str) -> set[str]:
    """Return the backquoted names in the first cell of every table row."""
    names = set()
    for line in text.splitlines():
        if line.startswith("| "):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([^`]+)`", first_cell))
    return names


@pytest.fixture(scope="module")
def documented() -> set[str]:
    return _table_names(DOC.read_text(encoding="utf-8"))


def test_columns_doc_session_columns(documented):
    missing = [name for name in SESSION_COLUMNS if name not in documented]
    assert not missing, f"docs/columns.md lacks a row for {missing}"


def test_columns_doc_extra_columns(documented):
    missing = [name for name in EXTRA_ATTRS if name not in documented]
    assert not missing, f"docs/columns.md lacks a row for {missing}"


@pytest.mark.parametrize("labels", [Stage, Cause, Outcome, TlsMode], ids=lambda enum: enum.__name__)
def test_columns_doc_label_values(documented, labels):
    text = DOC.read_text(encoding="utf-8")
    missing = [label.value for label in labels if f"`{label.value}`" not in text]
    assert not missing, f"docs/columns.md does not name the {labels.__name__} values {missing}"


def test_readme_links_columns_doc():
    readme = (DOC.parent.parent / "README.md").read_text(encoding="utf-8")
    assert "(docs/columns.md)" in readme
