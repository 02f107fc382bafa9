"""The ``smtplogkit`` command line.

Only this module prints and configures logging; the library logs through
``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import math
import os
import sys
from datetime import date
from typing import Any

from .errors import SmtpLogKitError

logger = logging.getLogger("smtplogkit")


def _label(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"invalid label {text!r}: expected key=value")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: expected YYYY-MM-DD") from error


class _Version(argparse.Action):
    """The ``--version`` action: prints the version, the Python version and the state of each compiled module."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        # argparse runs this before main() sets up logging, so it is set up here: a stale build's warning
        # then has the command line's prefix.
        _configure_logging(argparse.Namespace(verbose=0, verbose_libraries=False, command=None))
        print(version_text())
        parser.exit()


def version_text() -> str:
    """Return smtplogkit's version, Python's, and for each compiled module whether it is in use.

    Two kinds are listed: the ``.pyx`` twins of some functions (see
    ``formats.base.compiled``) and the modules compiled whole from their
    ``.py`` files (see ``smtplogkit.native``).
    """
    import platform

    from . import __version__, native
    from .formats import base, nodemailer, postfix, smtplib  # noqa: F401 - importing them asks for their compiled modules

    lines = [f"smtplogkit {__version__} (Python {platform.python_version()})", "compiled modules:"]
    lines += [f"  {name}: {state}" for name, state in sorted(base.COMPILED.items())]
    native.load_all()
    lines += [f"  {name}: {native.STATES.get(name, 'unknown')}" for name in sorted(native.MODULES)]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="smtplogkit", description="Find out why outgoing mail fails, from SMTP logs.")
    parser.add_argument("--version", action=_Version, help="print the version and which compiled modules are in use")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (repeat for debug output)")
    parser.add_argument("--verbose-libraries", action="store_true",
                        help="log other libraries (matplotlib, asyncio...) at the -v level too; "
                             "by default they log warnings and errors only")
    commands = parser.add_subparsers(dest="command", required=True)

    parse = commands.add_parser("parse", help="read logs into one row per SMTP session")
    _add_read_options(parse)
    output = parse.add_mutually_exclusive_group()
    output.add_argument("--jsonl", action="store_true", help="print one JSON object per session on stdout")
    output.add_argument("-o", "--output", metavar="FILE", help="write sessions to FILE (.parquet, .csv or .jsonl)")
    parse.add_argument("--events", action="store_true", help="output the event rows instead of sessions")

    diagnose = commands.add_parser("diagnose", help="name the external blockers behind failing sessions")
    _add_read_options(diagnose)
    diagnose.add_argument("--json", action="store_true", help="print the findings as a JSON array on stdout")
    diagnose.add_argument("--overview", action="store_true",
                          help="with --json, print an object with the findings array under \"findings\" and, "
                               "when there is no finding, the top failure causes under \"overview\"")

    report = commands.add_parser("report", help="write an incident report (HTML, or Markdown with --markdown)")
    _add_read_options(report)
    report.add_argument("-o", "--output", metavar="FILE",
                        help="report file to write (default incident.html, or incident.md with --markdown)")
    report.add_argument("--markdown", action="store_true",
                        help="write Markdown, with the figures as PNG files in FILE's folder, instead of HTML")
    report.add_argument("--title", default="SMTP incident report", help="report title")

    commands.add_parser("formats", help="list the log formats smtplogkit reads")
    _add_probe_parser(commands)
    return parser


def _add_probe_parser(commands) -> None:
    probe = commands.add_parser(
        "probe", help="test an SMTP server layer by layer from here: DNS, TCP, TLS, EHLO, AUTH",
        description="Probe an SMTP server step by step and print one row per step with a verdict. "
                    "AUTH runs only with --auth; the password comes from SMTPLOGKIT_PASSWORD or a prompt, "
                    "the XOAUTH2 token from SMTPLOGKIT_OAUTH_TOKEN, never from the command line.")
    probe.add_argument("host", help="server name or IP address (a mail domain with --mx)")
    probe.add_argument("--port", type=int, help="TCP port (default 587, or 25 with --mx)")
    probe.add_argument("--tls", default="auto", choices=["auto", "implicit", "starttls", "none"],
                       help="TLS mode; auto finds out what the port speaks (default auto)")

    probe.add_argument("--user", help="user name for AUTH")
    probe.add_argument("--auth", choices=["password", "xoauth2"], help="try AUTH with a password or an XOAUTH2 token")
    probe.add_argument("--allow-plaintext-auth", action="store_true",
                       help="send credentials even over a connection that is not encrypted")

    probe.add_argument("--network", metavar="LABEL", help="label for where this probe runs, kept in the record")
    probe.add_argument("--nameserver", metavar="IP[:PORT]",
                       help="resolver to ask (default: the system resolver configuration)")
    probe.add_argument("--mx", action="store_true", help="HOST is a mail domain: probe its most preferred MX host")

    probe.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each step (default 10)")
    probe.add_argument("--ehlo", metavar="NAME", help="name to send in EHLO (default: this machine's host name)")
    probe.add_argument("--cafile", metavar="PEM", help="CA certificates to trust instead of the system store")

    probe.add_argument("--repeat", type=int, default=1, metavar="N", help="run the probe N times (default 1)")
    probe.add_argument("--interval", type=float, default=60.0, metavar="S",
                       help="seconds between the starts of repeated runs (default 60)")
    probe.add_argument("--burst", type=int, metavar="N",
                       help="open N sessions to your own server to find where throttling starts")
    probe.add_argument("--rate", type=float, default=10.0, metavar="R",
                       help="burst sessions per minute (default 10)")
    probe.add_argument("--i-own-this-server", action="store_true", help="confirm that a --burst target is yours")

    probe.add_argument("-o", "--output", metavar="FILE",
                       help="append the JSONL record (one object per step, attempt and run) to FILE")


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="log files, folders, globs or {label} templates (default: the bundled sample data)")
    parser.add_argument("--format", default="auto", help="log format name (default: detect per file)")
    parser.add_argument("--label", action="append", type=_label, default=[], metavar="KEY=VALUE",
                        help="add a constant label column to every session (repeatable)")
    parser.add_argument("--tz", default="UTC", help="time zone of timestamps printed without an offset (default UTC)")
    parser.add_argument("--date", type=_date, help="date (YYYY-MM-DD) for logs that print only the time of day")
    parser.add_argument("--workers", type=_workers, default=1, help="processes to parse files in (default 1)")
    parser.add_argument("--cache", metavar="FOLDER",
                        help="keep parsed sessions (and, for diagnose and report, events) as Parquet in FOLDER, "
                             "per input file")


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected a whole number, 1 or more")
    return count


def _default_paths(paths: list[str]) -> list[str]:
    if paths:
        return paths
    from .samples import sample_data_path

    return [str(sample_data_path())]


def _json_value(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _records(frame) -> list[dict[str, Any]]:
    import pandas as pd

    records = []
    for row in frame.astype(object).where(pd.notna(frame), None).to_dict(orient="records"):
        records.append({key: _json_value(value) for key, value in row.items()})
    return records


def _plural(count: int, noun: str) -> str:
    """Return ``count`` with ``noun``, adding an "s" unless the count is 1 (``1 session``, ``2 sessions``)."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _write_counts(frame, stream) -> None:
    for report in frame.attrs.get("files", []):
        print(f"{report['source']}: {report['format'] or 'unread'}, {_plural(report['lines'], 'line')}: "
              f"{report['parsed']} parsed, {report['noise']} noise, {report['unrecognised']} unrecognised; "
              f"{_plural(report['sessions'], 'session')}",
              file=stream)
    for path, reason in frame.attrs.get("skipped", []):
        print(f"skipped {path}: {reason}", file=stream)


def _warn_if_nothing_read(paths: list[str], files: list, skipped: list) -> None:
    """Print a warning naming ``paths`` when no file in them was read as a log.

    The exit status stays 0, because an empty folder is not an error for a
    scheduled run, but the warning explains why there are 0 sessions.
    """
    if files:
        return
    where = ", ".join(paths)
    if skipped:
        print(f"smtplogkit: warning: no log file read from {where}; {_plural(len(skipped), 'file')} found "
              "and skipped", file=sys.stderr)
    else:
        print(f"smtplogkit: warning: no files found in {where}; check the path or glob", file=sys.stderr)


def _summary(frame) -> str:
    import pandas as pd

    untimed = int(frame["start"].isna().sum())
    count = _plural(len(frame), "session") + (f", {untimed} without a time" if untimed else "")
    lines = [f"{count} (timestamps without an offset read as {frame.attrs.get('tz', 'UTC')})", ""]
    if len(frame):
        table = (frame.groupby(["failure_stage", "cause"], observed=True).size().rename("sessions").reset_index()
                 .sort_values(["sessions"], ascending=False))
        lines.append(table.to_string(index=False))
        lines.append("")
        outcomes = frame["outcome"].value_counts()
        lines.append("outcomes: " + ", ".join(f"{name} {count}" for name, count in outcomes.items() if count))
    del pd
    return "\n".join(lines)


def _command_parse(args: argparse.Namespace) -> int:
    from . import read_events, read_logs

    if args.output:
        _output_type(args.output)  # before reading, which can take minutes
    paths = _default_paths(args.paths)
    if args.events:
        if args.workers > 1 or args.cache is not None:
            print("note: --events reads in one process without the cache; --workers and --cache are ignored",
                  file=sys.stderr)
        frame = read_events(paths, format=args.format, labels=dict(args.label), tz=args.tz, date=args.date)
    else:
        frame = read_logs(paths, format=args.format, labels=dict(args.label), tz=args.tz, date=args.date,
                          workers=args.workers, cache=args.cache)
    _warn_if_nothing_read(paths, frame.attrs.get("files", []), frame.attrs.get("skipped", []))
    if args.jsonl:
        _write_counts(frame, sys.stderr)
        out = sys.stdout
        for record in _records(frame):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return 0
    if args.output:
        _write_frame(frame, args.output)
        _write_counts(frame, sys.stderr)
        print(f"wrote {_plural(len(frame), 'row')} to {args.output}", file=sys.stderr)
        return 0
    _write_counts(frame, sys.stdout)
    print()
    print(_summary(frame) if not args.events else frame.to_string(index=False))
    return 0


def _output_type(path: str) -> str:
    """Return the file type (``parquet``, ``csv`` or ``jsonl``) that an output path's extension names."""
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if extension not in ("parquet", "csv", "jsonl"):
        raise SmtpLogKitError(f"{path}: unknown output type; use a .parquet, .csv or .jsonl file name")
    return extension


def _write_frame(frame, path: str) -> None:
    output_type = _output_type(path)
    if output_type == "parquet":
        clean = frame.copy()
        clean.attrs = {}
        clean.to_parquet(path, index=False)
    elif output_type == "csv":
        frame.to_csv(path, index=False)
    else:
        with open(path, "w", encoding="utf-8") as handle:
            for record in _records(frame):
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _command_report(args: argparse.Namespace) -> int:
    from .report import report_from_logs

    output = args.output or ("incident.md" if args.markdown else "incident.html")
    if os.path.isdir(output):
        # Checked before reading, which can take minutes.
        raise SmtpLogKitError(f"{output}: is a folder; give a file name for the report, such as "
                              f"{os.path.join(output, 'incident.md' if args.markdown else 'incident.html')}")
    report = report_from_logs(args.paths or None, format=args.format, labels=dict(args.label), tz=args.tz,
                              date=args.date, title=args.title, cache=args.cache, workers=args.workers,
                              progress=None)
    _warn_if_nothing_read(_default_paths(args.paths), report.reading["files"], report.reading["skipped"])
    written = report.write(output, markdown=args.markdown)
    sessions = report.totals['sessions']
    print(f"wrote {written}: {_plural(sessions, 'session')}, {report.totals['failed']} failed")
    for sentence in report.summary:
        print(f"  {sentence}")
    if report.findings:
        print("findings:")
    for finding in report.findings:
        step = f": {finding['next_step']}" if finding.get("next_step") else ""
        print(f"  {finding['kind']} (confidence {finding['confidence']:.2f}){step}")
    return 0


def _command_diagnose(args: argparse.Namespace) -> int:
    from .diagnosis import diagnose
    from .enrichment import token_refreshes
    from .report import load_logs

    # The same reading as the report: a plain folder gets report.DEFAULT_TEMPLATE,
    # so both commands see the same networks and reach the same findings.
    # The findings need the sessions and the token refresh notes, which "failed" keeps, not every transcript.
    loaded = load_logs(args.paths or None, format=args.format, labels=dict(args.label), tz=args.tz, date=args.date,
                       cache=args.cache, workers=args.workers, events="failed", progress=None)
    frame = loaded.sessions
    findings = diagnose(frame, tz=args.tz, refreshes=token_refreshes(loaded.events))
    _write_counts(frame, sys.stderr)
    _warn_if_nothing_read(_default_paths(args.paths), frame.attrs.get("files", []), frame.attrs.get("skipped", []))
    if args.json and args.overview:
        print(json.dumps({"findings": findings.to_dict(), "overview": findings.overview}, ensure_ascii=False, indent=2))
        return 0
    if args.json:
        # The array on stdout keeps its shape, so the overview goes to stderr with the file counts.
        print(findings.to_json(indent=2))
        if not findings:
            print(str(findings), file=sys.stderr)
        return 0
    print(f"{_plural(len(frame), 'session')}, {_plural(len(findings), 'finding')}\n")
    print(findings)
    return 0


def _command_formats(args: argparse.Namespace) -> int:
    from .formats import registry

    for name, module in registry().items():
        print(f"{name:<14} {module.DESCRIPTION}")
    return 0


def _command_probe(args: argparse.Namespace) -> int:
    from .probe import PASSWORD_ENV, TOKEN_ENV, burst_probe, render, repeat_probe
    from .probe.model import scrub, secret_forms

    if args.burst is not None and args.repeat != 1:
        raise SmtpLogKitError("--burst and --repeat cannot be combined; run the burst once")
    secret = None
    if args.auth == "password":
        secret = os.environ.get(PASSWORD_ENV)
        if not secret and args.user:
            try:
                secret = getpass.getpass(f"password for {args.user}: ")
            except EOFError as error:
                raise SmtpLogKitError(f"no password: set {PASSWORD_ENV}, or run in a terminal to be prompted") from error
    elif args.auth == "xoauth2":
        secret = os.environ.get(TOKEN_ENV)
    secrets = secret_forms(secret or "")
    options = dict(port=args.port, tls=args.tls, user=args.user, auth=args.auth, secret=secret or None,
                   network=args.network, nameserver=args.nameserver, mx=args.mx, timeout=args.timeout,
                   ehlo_name=args.ehlo, cafile=args.cafile, allow_plaintext_auth=args.allow_plaintext_auth)
    if args.burst is not None:
        results = iter([burst_probe(args.host, sessions=args.burst, rate=args.rate,
                                    i_own_this_server=args.i_own_this_server, **options)])
    else:
        results = repeat_probe(args.host, repeat=args.repeat, interval=args.interval, **options)
    all_ok = True
    for index, result in enumerate(results):
        if index:
            print()
        print(scrub(render(result), secrets), flush=True)
        all_ok = all_ok and result.ok
        if args.output:
            with open(args.output, "a", encoding="utf-8") as handle:
                for record in result.records(secrets):
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    if args.output:
        print(f"appended the record to {args.output}", file=sys.stderr)
    return 0 if all_ok else 1


COMMANDS = {"parse": _command_parse, "diagnose": _command_diagnose, "report": _command_report,
            "formats": _command_formats, "probe": _command_probe}


class _LowerLevelFormatter(logging.Formatter):
    """Formatter that writes ``smtplogkit: warning: ...``, the style of the CLI's own printed warnings."""

    def format(self, record: logging.LogRecord) -> str:
        return f"smtplogkit: {record.levelname.lower()}: {record.getMessage()}" + (
            "\n" + self.formatException(record.exc_info) if record.exc_info else "")


def _drop_file_counts(record: logging.LogRecord) -> bool:
    """Drop the reader's per-file INFO lines, which diagnose prints on stderr as its own output after reading."""
    return not (record.name == "smtplogkit.reader" and record.levelno == logging.INFO)


def _configure_logging(args: argparse.Namespace) -> None:
    """Log smtplogkit at the -v level and other libraries at WARNING unless --verbose-libraries is given."""
    level = logging.WARNING - 10 * min(args.verbose, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LowerLevelFormatter())
    # parse keeps them: with -v they show each file as it is read, before the counts are printed at the end.
    if args.command == "diagnose":
        handler.addFilter(_drop_file_counts)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if args.verbose_libraries else logging.WARNING)
    logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    args = build_parser().parse_args(argv)
    _configure_logging(args)
    try:
        return COMMANDS[args.command](args)
    except SmtpLogKitError as error:
        print(f"smtplogkit: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
