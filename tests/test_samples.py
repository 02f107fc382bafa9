"""The sample-data generator: determinism, clean parsing, labels that match the ground truth.

The smtplib logs are read with ``read_logs``; their labels must agree with
``ground_truth.json``.  nodemailer and Postfix lines are compared with real
captures in ``tests/captures/samples/`` (nodemailer and smtplib run against a
loopback aiosmtpd server) and with the Postfix lines in ``tests/cases/``.
"""

from __future__ import annotations

import bisect
import email.generator
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pandas as pd
import pytest

import smtplogkit
from smtplogkit.samples import sample_data_path
from smtplogkit.sampledata import generate
from smtplogkit.sampledata import world as sim
from smtplogkit.sampledata.fleet import fleet, scenario

CAPTURES = Path(__file__).parent / "captures" / "samples"
CASES = Path(__file__).parent / "cases"
SMTPLIB_WORKERS = {"support-agent", "billing-notices"}


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def incident(tmp_path_factory):
    out = tmp_path_factory.mktemp("incident")
    truth = generate(out, seed=11, scale=0.8, scenario="incident")
    return out, truth


@pytest.fixture(scope="module")
def incident_sessions(incident):
    out, _ = incident
    return smtplogkit.read_logs(str(out / "{network}" / "{worker}" / "*.log"))


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    out = tmp_path_factory.mktemp("healthy")
    truth = generate(out, seed=11, scale=0.6, scenario="healthy")
    return out, truth


def ts(text: str | None) -> pd.Timestamp:
    return pd.Timestamp(text)


def blocker(truth: dict, kind: str) -> dict:
    found = [b for b in truth["blockers"] if b["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


# Determinism -----------------------------------------------------------------


def test_same_seed_same_bytes(tmp_path):
    generate(tmp_path / "a", seed=5, scale=0.2)
    generate(tmp_path / "b", seed=5, scale=0.2)
    generate(tmp_path / "c", seed=6, scale=0.2)
    first, second, other = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert first == second
    assert first != other


def test_bundled_copy_is_reproducible(tmp_path):
    bundled = sample_data_path()
    truth = json.loads((bundled / "ground_truth.json").read_text())
    generate(tmp_path, seed=truth["seed"], scale=truth["scale"], scenario=truth["scenario"])
    fresh = digest(tmp_path)
    shipped = {name: value for name, value in digest(bundled).items() if name != "README.md"}
    assert fresh == shipped


def test_bundled_copy_is_small():
    total = sum(p.stat().st_size for p in sample_data_path().rglob("*") if p.is_file())
    assert total < 5_000_000


def test_missing_samples_error_names_fix(tmp_path):
    # An install from a wheel: the package without the repository's sample_data/ next to it.
    shutil.copytree(Path(smtplogkit.__file__).parent, tmp_path / "site" / "smtplogkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    script = "import sys; from smtplogkit.cli import main; sys.exit(main(['parse']))"
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "site")}, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "python -m smtplogkit.samples --out sample_data" in done.stderr


def test_scale_grows_output(tmp_path):
    small = generate(tmp_path / "small", seed=3, scale=0.2)
    big = generate(tmp_path / "big", seed=3, scale=0.8)
    assert big["lines"] > 2.5 * small["lines"]


def test_stale_logs_removed(tmp_path):
    generate(tmp_path, seed=3, scale=0.3)
    stale = tmp_path / "prod" / "support-agent" / "2026-01-01.log"
    stale.write_text("old\n")
    generate(tmp_path, seed=3, scale=0.3)
    assert not stale.exists()


def test_unknown_scenario(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, scenario="meltdown")


# Parsing -------------------------------------------------------------------------


def test_smtplib_files_parse_cleanly(incident, incident_sessions):
    out, _ = incident
    files = incident_sessions.attrs["files"]
    python_files = [f for f in files if Path(f["source"]).parent.name in SMTPLIB_WORKERS]
    expected = [p for p in out.rglob("*.log") if p.parent.name in SMTPLIB_WORKERS]
    assert len(python_files) == len(expected) > 20
    for report in python_files:
        assert report["format"] == "smtplib", report["source"]
        assert report["unrecognised"] == 0, report["warnings"]
        assert report["sessions"] > 0


def test_labels_come_from_paths(incident_sessions):
    smtplib_rows = incident_sessions[incident_sessions["format"] == "smtplib"]
    assert set(smtplib_rows["network"]) == {"office", "staging", "prod"}
    assert set(smtplib_rows["worker"]) == SMTPLIB_WORKERS
    assert smtplib_rows["start"].notna().all()
    assert smtplib_rows["start"].min() >= ts("2026-03-02T00:00:00Z")
    assert smtplib_rows["start"].max() < ts("2026-03-09T00:00:00Z")


def test_credentials_redacted(incident):
    out, _ = incident
    payloads = set()
    for path in out.rglob("*.log"):
        payloads.update(re.findall(r"AUTH (?:PLAIN|XOAUTH2|LOGIN) ([A-Za-z0-9+/=]{12,})", path.read_text()))
    assert len(payloads) > 10
    events = smtplogkit.read_events(str(out / "{network}" / "{worker}" / "*.log"))
    text = "\n".join(events["text"].dropna())
    assert "ya29." not in text
    assert not [p for p in payloads if p in text]


# Labels against the ground truth --------------------------------------------------


def within(rows: pd.DataFrame, scope: dict) -> pd.Series:
    return (rows["network"].isin(scope["networks"]) & rows["worker"].isin(scope["workers"])
            & rows["port"].isin(scope["ports"])
            & rows["host"].isin(scope["hosts"]) & (rows["start"] >= ts(scope["start"]))
            & (rows["start"] <= ts(scope["end"])))


def test_firewall_sessions(incident, incident_sessions):
    _, truth = incident
    truth_fw = blocker(truth, "firewall_block")
    rows = incident_sessions[incident_sessions["format"] == "smtplib"]
    timeouts = rows[rows["cause"] == "connect_timeout"]
    assert len(timeouts) == truth_fw["evidence"]["sessions"] > 0
    assert (timeouts["failure_stage"] == "connect").all()
    assert within(timeouts, truth_fw["scope"]).all()
    # Behind the firewall nothing on 587 gets through; elsewhere nothing times out.
    blocked = rows[within(rows, truth_fw["scope"])]
    assert (blocked["cause"] == "connect_timeout").all()
    assert not rows[rows["network"].isin(truth_fw["unaffected"]["networks"])]["cause"].eq("connect_timeout").any()


def test_rate_limit_sessions(incident, incident_sessions):
    _, truth = incident
    truth_rl = blocker(truth, "rate_limit")
    rows = incident_sessions[incident_sessions["format"] == "smtplib"]
    limited = rows[rows["cause"] == "rate_limited"]
    assert len(limited) == truth_rl["evidence"]["sessions"] > 0
    assert (limited["failure_stage"] == "mail_from").all()
    assert (limited["reply_code"] == 421).all()
    assert (limited["enhanced_code"] == "4.7.0").all()
    assert limited["identity"].isin(truth_rl["scope"]["identities"]).all()
    assert within(limited, truth_rl["scope"]).all()


def test_rate_limit_threshold(incident, incident_sessions):
    _, truth = incident
    truth_rl = blocker(truth, "rate_limit")
    limit = truth_rl["threshold"]["per_minute"]
    rows = incident_sessions[incident_sessions["identity"].isin(truth_rl["scope"]["identities"])]
    accepted = sorted(rows.loc[rows["messages_sent"] > 0, "end"])
    # No 60-second window contains more accepted messages than the limit,
    busiest = max(bisect.bisect_right(accepted, t) - bisect.bisect_left(accepted, t - timedelta(seconds=60))
                  for t in accepted)
    assert busiest <= limit
    # and each 421 comes when the previous 60 seconds are at the limit.
    for refused in rows.loc[rows["cause"] == "rate_limited", "start"]:
        recent = bisect.bisect_right(accepted, refused) - bisect.bisect_left(accepted, refused - timedelta(seconds=60))
        assert recent >= 0.9 * limit


def test_token_expiry_sessions(incident, incident_sessions):
    out, truth = incident
    truth_tok = blocker(truth, "token_expiry")
    rows = incident_sessions[incident_sessions["format"] == "smtplib"]
    invalid = rows[rows["cause"] == "oauth_token_invalid"]
    assert len(invalid) == truth_tok["evidence"]["sessions"] > 0
    assert (invalid["failure_stage"] == "auth").all()
    assert (invalid["reply_code"] == 535).all()
    assert (invalid["auth_mechanism"] == "XOAUTH2").all()
    assert invalid["identity"].isin(truth_tok["scope"]["identities"]).all()
    assert within(invalid, truth_tok["scope"]).all()


def test_token_age_threshold(incident, incident_sessions):
    out, truth = incident
    truth_tok = blocker(truth, "token_expiry")
    limit = truth_tok["threshold"]["token_age_s"]
    network = truth_tok["scope"]["networks"][0]
    refreshed = []
    for path in sorted((out / network / "support-agent").glob("*.log")):
        for line in path.read_text().splitlines():
            if "token refreshed" in line:
                refreshed.append(pd.Timestamp(datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f"), tz="UTC"))
    rows = incident_sessions[(incident_sessions["network"] == network)
                             & (incident_sessions["auth_mechanism"] == "XOAUTH2")]
    assert len(refreshed) > 5
    assert len(rows) > 20
    for start, cause in zip(rows["start"], rows["cause"]):
        index = bisect.bisect_right(refreshed, start) - 1
        age = (start - refreshed[index]).total_seconds() if index >= 0 else None
        if age is None:
            continue  # the token in hand when the week began
        assert (cause == "oauth_token_invalid") == (age >= limit), (start, age, cause)


def test_implicit_tls_sessions(incident, incident_sessions):
    _, truth = incident
    truth_tls = blocker(truth, "tls_mode_mismatch")
    rows = incident_sessions[incident_sessions["format"] == "smtplib"]
    mismatched = rows[rows["cause"] == "tls_mode_mismatch"]
    assert len(mismatched) == truth_tls["evidence"]["sessions"] > 0
    assert (mismatched["failure_stage"] == "tls").all()
    assert (mismatched["tls_mode"] == "implicit").all()
    assert within(mismatched, truth_tls["scope"]).all()
    affected = rows[within(rows, truth_tls["scope"]) & rows["identity"].isin(truth_tls["scope"]["identities"])]
    after = rows[(rows["worker"] == "billing-notices") & (rows["network"].isin(truth_tls["scope"]["networks"]))
                 & (rows["start"] >= ts(truth_tls["scope"]["start"]))]
    assert len(affected) == 0  # a TLS failure happens before AUTH: no identity is known
    assert (after["cause"] == "tls_mode_mismatch").all()


def test_only_known_failures(incident, incident_sessions):
    rows = incident_sessions[incident_sessions["format"] == "smtplib"]
    causes = set(rows["cause"].astype(str))
    assert causes <= {"ok", "connect_timeout", "rate_limited", "oauth_token_invalid", "tls_mode_mismatch"}


def test_greylisting_in_relay_log(incident):
    out, truth = incident
    truth_grey = blocker(truth, "greylisting")
    domain = truth_grey["scope"]["recipient_domains"][0]
    deferred: dict[str, datetime] = {}
    delivered_after: list[float] = []
    for path in sorted((out / "prod" / "relay").glob("*.log")):
        year = path.stem[:4]
        for line in path.read_text().splitlines():
            match = re.search(r": ([0-9A-F]+): to=<[^@]+@([^>]+)>, .*status=(\w+)", line)
            if not match or match.group(2) != domain:
                continue
            when = datetime.strptime(f"{year} {line[:15]}", "%Y %b %d %H:%M:%S")
            if match.group(3) == "deferred":
                assert "451 4.7.1" in line
                deferred.setdefault(match.group(1), when)
            elif match.group(1) in deferred:
                delivered_after.append((when - deferred[match.group(1)]).total_seconds())
    assert len(deferred) == truth_grey["evidence"]["sessions"] > 0
    assert len(delivered_after) == len(deferred)
    assert min(delivered_after) >= truth_grey["threshold"]["retry_after_s"]


def test_healthy_has_no_failures(healthy):
    out, truth = healthy
    assert truth["blockers"] == []
    rows = smtplogkit.read_logs(str(out / "{network}" / "{worker}" / "*.log"))
    rows = rows[rows["format"] == "smtplib"]
    assert len(rows) > 100
    assert (rows["cause"] == "ok").all()
    relay = "\n".join(p.read_text() for p in (out / "prod" / "relay").glob("*.log"))
    assert "status=deferred" not in relay


# Line shapes against real captures --------------------------------------------------

LIB_FRAME_RE = re.compile(r'^  File "[^"]*/(smtplib|socket|ssl)\.py", line (\d+), in (\w+)$')


def skeleton(lines: list[str]) -> list[str]:
    """Reduce smtplib worker lines to the steps they show, dropping hosts, times and payloads."""
    steps: list[str] = []
    lines = list(lines)
    for index, line in enumerate(lines):
        text = re.sub(r"^\d\d:\d\d:\d\d\.\d{6} ", "", line)
        if re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\w+) ", text):
            step = "log " + text.split()[2] + " " + text.split(": ", 1)[1].split()[0]
        elif text.startswith("connect: to ("):
            step = "connect to"
        elif text.startswith("connect: ('"):
            step = "connect ssl"
        elif text.startswith("connect: b"):
            step = "connect greeting"
        elif text.startswith("send: b"):
            step = "send body"
        elif text.startswith("send: '"):
            step = "send " + (text[7:].split("\\r\\n")[0].split(" ")[0].upper() or "<empty>")
        elif text.startswith("reply: retcode"):
            step = "retcode"
        elif text.startswith("reply: b"):
            step = "reply " + text[9:12]
        elif text.startswith("data: ("):
            step = "data " + text[7:10]
        elif text.startswith("Traceback"):
            step = "traceback"
        elif LIB_FRAME_RE.match(text):
            found = LIB_FRAME_RE.match(text)
            step = f"frame {found.group(1)}:{found.group(2)}:{found.group(3)} | {lines[index + 1].strip()}"
            following = lines[index + 2] if index + 2 < len(lines) else ""
            if following.strip().startswith("^"):
                step += f" | {following.rstrip()}"
        elif text.startswith("  File ") or text.startswith("    "):
            continue
        else:
            step = "exception " + text.split(":")[0]
        if not steps or steps[-1] != step:  # continuation lines of one reply collapse
            steps.append(step)
    return steps


def capture_session(name: str) -> list[str]:
    return skeleton((CAPTURES / name).read_text().splitlines())


def generated_sessions(folder: Path, worker: str) -> list[list[str]]:
    """Split a worker's generated logs into one list of lines per send attempt."""
    sessions: list[list[str]] = []
    for path in sorted(folder.rglob(f"{worker}/*.log")):
        current: list[str] | None = None
        for line in path.read_text().splitlines():
            if " sending " in line[:60] and line[:4].isdigit():
                current = [line]
                sessions.append(current)
            elif current is not None and line[:4].isdigit() and any(w in line for w in (" retrying ", " requeued ",
                                                                                            " giving up ", " invoice run ",
                                                                                            " starting,", " token refreshed")):
                current = None
            elif current is not None:
                current.append(line)
    return sessions


@pytest.mark.parametrize("capture, worker, marker", [
    ("smtplib-worker-login-8587-2026-12-04.log", "prod/billing-notices", "log INFO sent"),
    ("smtplib-worker-login-8589-2026-12-04.log", "prod/billing-notices", "exception smtplib.SMTPSenderRefused"),
    ("smtplib-worker-oauth-8588-2026-12-04.log", "staging/support-agent", "exception smtplib.SMTPAuthenticationError"),
    ("smtplib-worker-implicit-8587-2026-12-04.log", "staging/billing-notices", "exception ssl.SSLError"),
    ("smtplib-worker-login-8590-2026-12-04.log", "prod/support-agent", "exception TimeoutError"),
])
def test_smtplib_shapes(incident, capture, worker, marker):
    out, _ = incident
    real = capture_session(capture)
    assert real[-1] == marker
    generated = [skeleton(lines) for lines in generated_sessions(out, worker)]
    matching = [steps for steps in generated if steps[-1] == marker]
    assert matching, f"no generated {worker} session ends with {marker}"
    for steps in matching:
        assert steps == real


def test_message_matches_email_library(tmp_path):
    inst = next(i for i in fleet() if i.worker == "billing-notices" and i.network == "prod")
    world = sim.World(scenario("incident"), 1, 0.1, tmp_path)
    worker = sim.PythonWorker(inst, world)
    worker.tr.t = 1772434837.25
    mail = sim.invoice_mail(worker.rng, inst.identity or "", 4100)
    ours = worker.message(mail)
    assert b"Message-ID:" in ours
    assert mail.message_id.encode() in ours
    message = EmailMessage()
    for name, value in (("From", mail.sender), ("To", mail.to), ("Subject", mail.subject),
                        ("Date", sim._mail_date(worker.tr.t)), ("Message-ID", mail.message_id)):
        message[name] = value
    message.set_content("\n".join(mail.lines) + "\n")
    buffer = io.BytesIO()
    # what smtplib.SMTP.send_message does before sendmail
    email.generator.BytesGenerator(buffer, policy=message.policy.clone(linesep="\r\n")).flatten(message, linesep="\r\n")
    assert ours == buffer.getvalue()


NODE_LINE_RE = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] (DEBUG|INFO |WARN |ERROR) (\[[A-Za-z0-9]+\] )?(.*)$")
NODE_MESSAGES = [
    ("DEBUG", False, r"Creating transport: nodemailer \(\S+; \+https://nodemailer\.com/; SMTP/\S+\[client:\S+\]\)"),
    ("DEBUG", False, r"Sending mail using SMTP/\S+\[client:\S+\]"),
    ("DEBUG", True, r"Resolved \S+ as [\d.]+ \[cache (?:hit|miss)\]"),
    ("INFO ", True, r"Connection established to [\d.]+:\d+"),
    ("DEBUG", True, r"S: \d{3}[ -].*"),
    ("DEBUG", True, r"C: (?:EHLO|STARTTLS|AUTH LOGIN|MAIL FROM|RCPT TO|DATA)\b.*"),
    ("DEBUG", True, r"C: [A-Za-z0-9+/=]+"),
    ("INFO ", True, r"Connection upgraded with STARTTLS"),
    ("DEBUG", True, r"SMTP handshake finished"),
    ("INFO ", True, r'User "[^"]+" authenticated'),
    ("INFO ", False, r"Sending message <[^>]+> to <[^>]+>"),
    ("INFO ", True, r"<\d+ bytes encoded mime message \(source size \d+ bytes\)>"),
    ("DEBUG", True, r'Closing connection to the server using "end"'),
    ("DEBUG", True, r".*"),  # the message source, echoed line by line
]


def node_kind(line: str) -> int | None:
    """Return which kind of nodemailer line this is, or None for a kind the generator never writes."""
    match = NODE_LINE_RE.match(line)
    assert match, line
    level, cid, text = match.group(1), match.group(2) is not None, match.group(3)
    for index, (want_level, want_cid, pattern) in enumerate(NODE_MESSAGES):
        if level == want_level and cid == want_cid and re.fullmatch(pattern, text):
            return index
    return None


def test_nodemailer_shapes(incident):
    out, _ = incident
    real = {node_kind(line) for path in CAPTURES.glob("nodemailer-*.log")
            for line in path.read_text().splitlines() if line.startswith("[")}
    generated = {node_kind(line) for path in out.rglob("onboarding-mailer/*.log") for line in path.read_text().splitlines()}
    assert real >= set(range(len(NODE_MESSAGES)))  # every kind the generator may write was seen for real
    assert None not in generated
    assert generated == set(range(len(NODE_MESSAGES)))


def test_nodemailer_sizes(incident):
    out, _ = incident
    for path in [*CAPTURES.glob("nodemailer-*.log"), next(out.rglob("onboarding-mailer/*.log"))]:
        lines = path.read_text().splitlines()
        for index, line in enumerate(lines):
            if " S: 354 " not in line:
                continue
            source = []
            for follow in lines[index + 1:]:
                text = NODE_LINE_RE.match(follow).group(3)
                if text == ".":
                    break
                source.append(text)
            stated = next(l for l in lines[index:] if "bytes encoded mime message" in l)
            encoded, size = map(int, re.findall(r"(\d+) bytes", stated))
            blank = source.index("")
            headers, body = source[:blank + 1], source[blank + 1:]
            # nodemailer counts the body with bare LF line ends, then adds CRLF when it encodes
            assert size == sum(len(s) + 2 for s in headers) + len("\n".join(body)) + 2
            assert encoded == size + len(body) - 1 + 3


POSTFIX_RE = re.compile(
    r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0123]\d \d\d:\d\d:\d\d \S+ postfix/(\w+)\[\d+\]: (.*)$")
QID = r"[0-9A-F]{9,12}"
PEER = r"\S+\[[\d.]+\]"
DELIVERY = (rf"{QID}: to=<[^>]+>, relay={PEER}:\d+, delay=\d+(?:\.\d+)?, "
            r"delays=\d+(?:\.\d+)?/\d+(?:\.\d+)?/\d+(?:\.\d+)?/\d+(?:\.\d+)?, dsn=[245]\.\d\.\d+, ")
TLS = r"TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \(256/256 bits\) key-exchange X25519 server-signature .+ server-digest SHA256"
POSTFIX_MESSAGES = [
    ("smtpd", rf"connect from {PEER}"),
    ("smtpd", rf"Anonymous TLS connection established from {PEER}: {TLS}"),
    ("smtpd", rf"{QID}: client={PEER}"),
    ("smtpd", rf"disconnect from {PEER} ehlo=2 starttls=1 mail=1 rcpt=1 data=1 commands=6"),
    ("cleanup", rf"{QID}: message-id=<[^>]+>"),
    ("qmgr", rf"{QID}: from=<[^>]*>, size=\d+, nrcpt=1 \(queue active\)"),
    ("qmgr", rf"{QID}: removed"),
    ("smtp", rf"Untrusted TLS connection established to {PEER}:\d+: {TLS}"),
    ("smtp", DELIVERY + r"status=sent \(250 .+\)"),
    ("smtp", DELIVERY + rf"status=deferred \(host {PEER} said: 451 4\.7\.1 .+ \(in reply to RCPT TO command\)\)"),
    ("smtp", DELIVERY + rf"status=bounced \(host {PEER} said: 550 5\.1\.1 .+ \(in reply to RCPT TO command\)\)"),
    ("bounce", rf"{QID}: sender non-delivery notification: {QID}"),
]


def postfix_kind(line: str) -> int | None:
    match = POSTFIX_RE.match(line)
    assert match, line
    for index, (program, pattern) in enumerate(POSTFIX_MESSAGES):
        if match.group(1) == program and re.fullmatch(pattern, match.group(2)):
            return index
    return None


def test_postfix_shapes(incident):
    out, _ = incident
    real = {postfix_kind(line) for line in (CAPTURES / "postfix-relay.log").read_text().splitlines()}
    generated = [postfix_kind(line) for path in (out / "prod" / "relay").glob("*.log")
            for line in path.read_text().splitlines()]
    assert real >= set(range(len(POSTFIX_MESSAGES)))
    assert None not in generated
    assert set(generated) == set(range(len(POSTFIX_MESSAGES)))


def test_postfix_queue_ids_join(incident):
    """Every message the onboarding mailer handed over appears in the relay log under the same queue id."""
    out, _ = incident
    handed = set()
    for path in (out / "prod" / "onboarding-mailer").glob("*.log"):
        handed.update(re.findall(r"S: 250 2\.0\.0 Ok: queued as ([0-9A-F]+)", path.read_text()))
    relay = "\n".join(p.read_text() for p in (out / "prod" / "relay").glob("*.log"))
    received = set(re.findall(r"postfix/smtpd\[\d+\]: ([0-9A-F]+): client=", relay))
    removed = set(re.findall(r"postfix/qmgr\[\d+\]: ([0-9A-F]+): removed", relay))
    assert handed and handed == received
    assert handed <= removed


@pytest.mark.parametrize("capture, stage, cause, tls_mode", [
    ("smtplib-worker-login-8587-2026-12-04.log", "none", "ok", "starttls"),
    ("smtplib-worker-login-8589-2026-12-04.log", "mail_from", "rate_limited", "starttls"),
    ("smtplib-worker-oauth-8588-2026-12-04.log", "auth", "oauth_token_invalid", "starttls"),
    ("smtplib-worker-implicit-8587-2026-12-04.log", "tls", "tls_mode_mismatch", "implicit"),
    ("smtplib-worker-login-8590-2026-12-04.log", "connect", "connect_timeout", "none"),
])
def test_smtplib_capture_labels(capture, stage, cause, tls_mode):
    rows = smtplogkit.read_logs(CAPTURES / capture)
    report = rows.attrs["files"][0]
    assert report["unrecognised"] == 0, report["warnings"]
    assert len(rows) == 1  # SMTP_SSL's two connect lines are one session
    assert rows.loc[0, "failure_stage"] == stage
    assert rows.loc[0, "cause"] == cause
    assert rows.loc[0, "tls_mode"] == tls_mode


def test_command_line_entry(tmp_path):
    run = subprocess.run([sys.executable, "-m", "smtplogkit.samples", "--out", str(tmp_path), "--scale", "0.1",
                          "--scenario", "healthy", "--seed", "2"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stderr
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert truth["scenario"] == "healthy"
    assert truth["seed"] == 2
    assert list(tmp_path.glob("prod/support-agent/*.log"))


def test_command_line_bad_scale(tmp_path):
    run = subprocess.run([sys.executable, "-m", "smtplogkit.samples", "--out", str(tmp_path), "--scale", "0"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "scale must be positive" in run.stderr
