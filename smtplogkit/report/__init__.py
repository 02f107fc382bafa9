"""The incident report: one HTML or Markdown document from sessions and findings.

``smtplogkit report`` and ``notebooks/05_incident_report.ipynb`` both call
:func:`report_from_logs` (which reads with :func:`load_logs` and builds with
:func:`build_report`), so they write the same report from the same inputs.
"""

from __future__ import annotations

from .load import DEFAULT_TEMPLATE, LoadedLogs, collect_paths, load_logs, report_from_logs, select_window
from .model import Report, Transcript, build_report, finding_dict

__all__ = [
    "DEFAULT_TEMPLATE",
    "LoadedLogs",
    "Report",
    "Transcript",
    "build_report",
    "collect_paths",
    "finding_dict",
    "load_logs",
    "report_from_logs",
    "select_window",
]
