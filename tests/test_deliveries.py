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


def test_link_sessions_capture():
    deliveries = smtplogkit.read_deliveries(CAPTURE)
    sessions = smtplogkit.read_logs(CAPTURE)
    linked = smtplogkit.link_sessions(deliveries, sessions)

    assert linked["session_id"].dtype == TEXT_DTYPE
    assert linked["session_id"].notna().tolist() == linked["session"].tolist()
    attempts = sessions.set_index("session_id")
    with_attempt = linked.dropna(subset=["session_id"])
    named = attempts.loc[with_attempt["session_id"]]
    assert (named["queue_id"].to_numpy() == with_attempt["queue_id"].to_numpy()).all()
    assert (named["line"].to_numpy() <= with_attempt["line"].to_numpy()).all()
    # Each attempt reports on as many recipients as there are records naming it.
    counts = with_attempt.groupby("session_id").size()
    assert (counts == attempts.loc[counts.index, "recipients"]).all()


def test_link_sessions_parallel_relays(tmp_path):
    # One message to two domains: two smtp processes at once, their lines interleaved.
    stamp = "Dec  4 10:00:0{} mx postfix/smtp[{}]: "
    text = "".join([
        stamp.format(1, 101) + "Trusted TLS connection established to mx.a.example[192.0.2.1]:25: TLSv1.3\n",
        stamp.format(1, 102) + "Trusted TLS connection established to mx.b.example[192.0.2.2]:25: TLSv1.3\n",
        stamp.format(2, 101) + "4AB12C3D4E: to=<x@a.example>, relay=mx.a.example[192.0.2.1]:25, delay=1, "
                               "delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n",
        stamp.format(3, 102) + "4AB12C3D4E: to=<y@b.example>, relay=mx.b.example[192.0.2.2]:25, delay=2, "
                               "delays=0/0/1/1, dsn=4.7.0, status=deferred (host mx.b.example[192.0.2.2] said: "
                               "421 4.7.0 Try again later (in reply to MAIL FROM command))\n",
    ])
    path = tmp_path / "maillog"
    path.write_text(text)
    sessions = smtplogkit.read_logs(path)
    linked = smtplogkit.link_sessions(smtplogkit.read_deliveries(path), sessions)

    by_ip = dict(zip(sessions["ip"], sessions["session_id"]))
    assert list(linked["session_id"]) == [by_ip["192.0.2.1"], by_ip["192.0.2.2"]]


def test_link_sessions_without_attempt(tmp_path):
    text = ("2026-12-04 10:00:00 1wXyZa-0001aB-Cd => bob@example.org R=dnslookup T=remote_smtp "
            "H=mx2.example.org [192.0.2.2] C=\"250 OK\"\n"
            "2026-12-04 10:02:00 1wXyZc-0001aB-Cf == erin@example.com R=dnslookup T=remote_smtp "
            "defer (-53): retry time not reached for any host\n")
    path = tmp_path / "mainlog"
    path.write_text(text)
    deliveries = smtplogkit.read_deliveries(path)
    sessions = smtplogkit.read_logs(path)

    linked = smtplogkit.link_sessions(deliveries, sessions)
    assert linked["session_id"].isna().tolist() == [False, True]
    assert smtplogkit.link_sessions(deliveries, sessions.iloc[0:0])["session_id"].isna().all()
    assert list(linked.columns) == [*deliveries.columns, "session_id"]


def test_link_sessions_across_rotation(tmp_path):
    # An attempt at the end of maillog.1 whose records open maillog; and the two frames read with paths
    # spelled differently.
    lines = CAPTURE.read_text().splitlines(keepends=True)
    (tmp_path / "maillog.1").write_text("".join(lines[:14]))  # an attempt starts on line 14
    (tmp_path / "maillog").write_text("".join(lines[14:]))
    sessions = smtplogkit.read_logs(tmp_path)
    deliveries = smtplogkit.read_deliveries(str(tmp_path / "maillog*"))
    first = deliveries[deliveries["source"].str.endswith("/maillog") & (deliveries["line"] == 1)]
    assert len(first) == 1

    linked = smtplogkit.link_sessions(deliveries, sessions)
    assert linked["session_id"].notna().tolist() == linked["session"].tolist()
    assert linked.loc[first.index[0], "session_id"].endswith("maillog.1:14")


def test_link_sessions_path_spelling(tmp_path, monkeypatch):
    # Rotations read as relative paths for one frame and absolute for the other are one log.
    lines = CAPTURE.read_text().splitlines(keepends=True)
    (tmp_path / "maillog.1").write_text("".join(lines[:14]))
    (tmp_path / "maillog").write_text("".join(lines[14:]))
    monkeypatch.chdir(tmp_path)
    for deliveries_path, sessions_path in ((str(tmp_path / "maillog*"), "maillog*"), ("./maillog*", str(tmp_path))):
        deliveries = smtplogkit.read_deliveries(deliveries_path)
        linked = smtplogkit.link_sessions(deliveries, smtplogkit.read_logs(sessions_path))
        assert linked["session_id"].notna().tolist() == linked["session"].tolist()


def test_delivery_line_counts(tmp_path):
    # Every line is counted: those that gave a record as parsed, the others as noise, per file of a rotation.
    relay = sorted((Path(__file__).parent.parent / "sample_data" / "prod" / "relay").glob("*.log"))
    text = "".join(path.read_text() for path in relay)
    lines = text.splitlines(keepends=True)
    (tmp_path / "maillog.1").write_text("".join(lines[:700]))
    (tmp_path / "maillog").write_text("".join(lines[700:]))
    deliveries = smtplogkit.read_deliveries(str(tmp_path / "maillog*"))

    files = deliveries.attrs["files"]
    assert [f["lines"] for f in files] == [700, len(lines) - 700]
    for report in files:
        own = int((deliveries["source"] == report["source"]).sum())
        assert report["parsed"] == own
        assert report["parsed"] + report["noise"] == report["lines"]
        assert report["encoding"] == "utf-8"
    signals = smtplogkit.read_signals(str(tmp_path / "maillog*"))
    assert sum(f["lines"] for f in signals.attrs["files"]) == len(lines)


def test_cut_last_record_warns(tmp_path):
    # The log was copied while Postfix wrote a delivery record: the record lost its end and gives no row.
    lines = CAPTURE.read_text().splitlines(keepends=True)
    record = next(index for index, text in enumerate(lines) if "status=" in text and text.rstrip().endswith(")"))
    whole = tmp_path / "whole.maillog"
    whole.write_text("".join(lines[:record + 1]))
    path = tmp_path / "cut.maillog"
    path.write_text("".join(lines[:record]) + lines[record].rstrip()[:-12])
    deliveries = smtplogkit.read_deliveries(path)
    (report,) = deliveries.attrs["files"]

    assert len(deliveries) == len(smtplogkit.read_deliveries(whole)) - 1
    assert report["lines"] == record + 1
    assert report["warnings"] == [f"{path}:{record + 1}: the file's last line has no line end and gave no record; "
                                  "the log was probably copied or read while it was being written"]


def test_whole_last_record_without_line_end(tmp_path):
    lines = CAPTURE.read_text().splitlines(keepends=True)
    record = next(index for index, text in enumerate(lines) if "status=" in text)
    path = tmp_path / "no-newline.maillog"
    path.write_text("".join(lines[:record]) + lines[record].rstrip("\n"))
    deliveries = smtplogkit.read_deliveries(path)

    assert deliveries["line"].max() == record + 1
    assert deliveries.attrs["files"][0]["warnings"] == []


def test_cut_rotation_warns_in_its_file(tmp_path):
    lines = CAPTURE.read_text().splitlines(keepends=True)
    (tmp_path / "maillog.1").write_text("".join(lines[:13]) + "Dec  4 21:40:00 capture postfix/smtp[1]: 1F0")
    (tmp_path / "maillog").write_text("".join(lines[13:]))
    reports = smtplogkit.read_deliveries(str(tmp_path / "maillog*")).attrs["files"]

    assert [r["source"] for r in reports] == [str(tmp_path / "maillog.1"), str(tmp_path / "maillog")]
    assert [len(r["warnings"]) for r in reports] == [1, 0]
    assert reports[0]["warnings"][0].startswith(f"{tmp_path / 'maillog.1'}:14: the file's last line has no line end")
