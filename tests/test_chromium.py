"""The HTML report rendered in headless Chromium: it loads, images show, no console errors."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="/usr/bin/chromium is missing; install the Debian chromium package")

spec = importlib.util.spec_from_file_location(
    "check_report_chromium", Path(__file__).parent.parent / "tools" / "check_report_chromium.py")
checker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checker)


def test_report_renders_clean(fleet_logs, tmp_path):
    from smtplogkit.report import report_from_logs

    page = Path(report_from_logs(fleet_logs).write(str(tmp_path / "incident.html")))
    result = checker.check(page, tmp_path / "shot.png")
    assert result["loaded"]
    assert result["images"] >= 2
    assert result["broken_images"] == []
    assert result["console_errors"] == []
    assert result["external_requests"] == []
    assert result["missing_sections"] == []
    assert result["ok"]
    assert (tmp_path / "shot.png").read_bytes()[:4] == b"\x89PNG"


def test_checker_catches_faults(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head><title>broken</title></head><body><p>text</p>"
                    "<img src=\"data:image/png;base64,AAAA\"><img src=\"http://127.0.0.1:9/x.png\">"
                    "<script>console.error('boom'); missing_function();</script></body></html>")
    result = checker.check(page)
    assert not result["ok"]
    assert result["broken_images"] == [0, 1]
    assert "boom" in result["console_errors"]
    assert result["external_requests"] == ["http://127.0.0.1:9/x.png"]
    assert "summary" in result["missing_sections"]


def test_report_fits_narrow_window(fleet_logs, tmp_path):
    from smtplogkit.report import report_from_logs

    logs = tmp_path / "logs"
    shutil.copytree(fleet_logs, logs)
    worker_log = sorted(logs.glob("*/*/*.log"))[0]
    # A long path, and unrecognised lines that the warnings quote as long words without spaces.
    archive = worker_log.parent / "archive-copied-from-relay-eu-west-1-production-cluster-node-07" / "2026-03"
    archive.mkdir(parents=True)
    damaged = worker_log.read_text() + "".join(f"{'Q' * 150}{index}\n" for index in range(8))
    (archive / "smtp-client-debug-output-with-a-long-name.log").write_text(damaged)
    report = report_from_logs(logs)
    assert any(entry["warnings"] for entry in report.reading["files"])

    page = Path(report.write(str(tmp_path / "incident.html")))
    result = checker.check(page)

    assert result["wide_tables"] == []
    assert result["scroll_width"] <= result["page_width"]
    assert result["page_width"] <= checker.VIEWPORT_WIDTH
    assert result["page_width"] >= checker.VIEWPORT_WIDTH - 20  # less the vertical scroll bar
    assert result["ok"]

    opened = page.with_name("opened.html")
    opened.write_text(page.read_text().replace("<details>", "<details open>"))
    assert opened.read_text() != page.read_text()
    result = checker.check(opened)
    assert result["wide_tables"] == []
    assert result["scroll_width"] <= result["page_width"]
