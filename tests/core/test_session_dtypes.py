"""apply_session_dtypes: the one place that fixes the sessions table's columns and dtypes."""

from __future__ import annotations

import pandas as pd

from smtplogkit import labels
from smtplogkit.reader import SESSION_COLUMNS, apply_session_dtypes


def _typed(rows: int = 2, **labels_: str) -> pd.DataFrame:
    frame = pd.DataFrame({column: [None] * rows for column in SESSION_COLUMNS})
    frame["line"] = list(range(1, rows + 1))
    frame["failure_stage"] = "connect"
    for name, value in labels_.items():
        frame[name] = value
    return apply_session_dtypes(frame)


def test_label_dtypes_are_built_once():
    assert labels.stage_dtype() is labels.stage_dtype()
    assert labels.cause_dtype() is labels.cause_dtype()


def test_typed_frame_returned_as_copy():
    typed = _typed(worker="w1")
    again = apply_session_dtypes(typed)
    assert again is not typed
    pd.testing.assert_frame_equal(again, typed)


def test_result_change_leaves_input():
    typed = _typed()
    again = apply_session_dtypes(typed)
    again["host"] = "smtp.example.com"
    assert typed["host"].isna().all()


def test_wrong_dtype_converted():
    typed = _typed()
    typed["port"] = typed["port"].astype(object)
    typed.loc[0, "port"] = "587"
    fixed = apply_session_dtypes(typed)
    assert fixed["port"].dtype == "Int64"
    assert fixed.loc[0, "port"] == 587


def test_column_order_restored():
    typed = _typed()
    fixed = apply_session_dtypes(typed[list(reversed(typed.columns))])
    assert list(fixed.columns) == SESSION_COLUMNS


def test_index_is_reset():
    typed = _typed(rows=3)
    fixed = apply_session_dtypes(typed.iloc[1:])
    assert list(fixed.index) == [0, 1]
    assert list(fixed["line"]) == [2, 3]


def test_label_column_last_as_text():
    typed = _typed()
    typed["worker"] = [7, 8]
    fixed = apply_session_dtypes(typed)
    assert list(fixed.columns) == [*SESSION_COLUMNS, "worker"]
    assert fixed["worker"].dtype == pd.StringDtype()
    assert list(fixed["worker"]) == ["7", "8"]
