"""read_deliveries and read_signals frames: dtypes that merge with the sessions frame, reply codes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import smtplogkit
from smtplogkit.reader import SESSION_COLUMNS, apply_session_dtypes

CAPTURE = Path(__file__).parent / "data" / "postfix" / "capture.maillog"
TEXT_DTYPE = pd.StringDtype()


def _session_dtypes() -> pd.Series:
    return apply_session_dtypes(pd.DataFrame(columns=SESSION_COLUMNS)).dtypes


def test_deliveries_match_session_dtypes():
    deliveries = smtplogkit.read_deliveries(CAPTURE)
    expected = _session_dtypes()

    assert deliveries["ts"].dtype == expected["start"]
    for column in ("source", "log_host", "recipient", "relay_host", "reason"):
        assert deliveries[column].dtype == TEXT_DTYPE, column


def test_signals_match_session_dtypes():
    signals = smtplogkit.read_signals(CAPTURE)
    expected = _session_dtypes()

    assert signals["ts"].dtype == expected["start"]
    for column in ("source", "kind", "client_ip", "text"):
        assert signals[column].dtype == TEXT_DTYPE, column


def test_deliveries_merge_asof_sessions():
    deliveries = smtplogkit.read_deliveries(CAPTURE).dropna(subset=["ts"]).sort_values("ts")
    sessions = smtplogkit.read_logs(CAPTURE).dropna(subset=["start"]).sort_values("start")

    merged = pd.merge_asof(deliveries, sessions, left_on="ts", right_on="start", suffixes=("", "_session"))

    assert len(merged) == len(deliveries)
    assert merged["session_id"].notna().any()


def test_sent_reply_code_from_reason():
    deliveries = smtplogkit.read_deliveries(CAPTURE)
    sent = deliveries[deliveries["status"] == "sent"]

    assert len(sent) > 0
    assert sent["reason"].str.match(r"250 ").all()
    assert (sent["reply_code"] == 250).all()
    for status, rows in deliveries.groupby("status", observed=True):
        leading = rows["reason"].str.extract(r"^([2-5]\d\d)[ -]", expand=False).dropna().astype(int)
        assert (rows.loc[leading.index, "reply_code"] == leading).all(), status


def test_gmail_sent_reply_code(tmp_path):
    log = tmp_path / "maillog"
    log.write_text("Nov 30 00:00:04 mx1 postfix/smtp[10563]: 11B194DD0: to=<r41124@example.com>, "
                   "relay=gmail-smtp-in.l.google.com[192.0.2.27]:25, delay=1.2, delays=0.70/0.01/0.06/0.73, "
                   "dsn=2.0.0, status=sent (250 2.0.0 OK 509059211 - gsmtp)\n", encoding="utf-8")

    deliveries = smtplogkit.read_deliveries(log)

    assert deliveries["status"].tolist() == ["sent"]
    assert deliveries["reply_code"].tolist() == [250]


def test_package_exports_session_columns():
    from smtplogkit.reader import SESSION_COLUMNS as reader_columns

    assert "SESSION_COLUMNS" in smtplogkit.__all__
    assert smtplogkit.SESSION_COLUMNS is reader_columns


def test_read_signals_documented():
    doc = smtplogkit.read_signals.__doc__

    assert "Parameters\n    ----------" in doc
    assert "Returns\n    -------" in doc


def _mixed_folder(tmp_path: Path) -> Path:
    """Copy a Postfix log, three smtplib logs, a README and a JSON file into one folder."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "maillog").write_bytes(CAPTURE.read_bytes())
    client_logs = sorted((Path(__file__).resolve().parent.parent / "sample_data" / "office" / "support-agent").glob("*.log"))
    for index, log in enumerate(client_logs[:3]):
        (folder / f"app{index}.log").write_bytes(log.read_bytes())
    (folder / "README.md").write_text("# Logs\n\nCollected on the relay.\n", encoding="utf-8")
    (folder / "expected.json").write_text('{"sessions": 3}\n', encoding="utf-8")
    return folder


def test_glob_skips_non_logs(tmp_path, caplog):
    folder = _mixed_folder(tmp_path)

    with caplog.at_level("WARNING", logger="smtplogkit"):
        deliveries = smtplogkit.read_deliveries(str(folder / "*"))

    read = [Path(entry["source"]).name for entry in deliveries.attrs["files"]]
    assert "README.md" not in read
    assert "expected.json" not in read
    assert "maillog" in read
    assert not [r for r in caplog.records if "README" in r.getMessage() or "expected.json" in r.getMessage()]
    assert len(deliveries) == len(smtplogkit.read_deliveries(CAPTURE))


def test_one_warning_for_client_logs(tmp_path, caplog):
    folder = _mixed_folder(tmp_path)

    with caplog.at_level("WARNING", logger="smtplogkit"):
        smtplogkit.read_deliveries(str(folder / "*"))

    messages = [r.getMessage() for r in caplog.records if "no delivery records" in r.getMessage()]
    assert len(messages) == 1
    assert "3 files" in messages[0]
    assert "smtplib (3)" in messages[0]


def test_named_file_still_read(tmp_path):
    folder = _mixed_folder(tmp_path)
    renamed = folder / "maillog.csv"
    (folder / "maillog").rename(renamed)

    deliveries = smtplogkit.read_deliveries(str(renamed))

    assert len(deliveries) == len(smtplogkit.read_deliveries(CAPTURE))
