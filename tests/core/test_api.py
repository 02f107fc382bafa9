"""The public API: what ``import smtplogkit`` offers and what it costs."""

from __future__ import annotations

import subprocess
import sys

import smtplogkit


def test_all_is_sorted_and_exported():
    assert smtplogkit.__all__ == sorted(smtplogkit.__all__)
    for name in smtplogkit.__all__:
        assert hasattr(smtplogkit, name), name


def test_import_does_not_load_heavy_libraries():
    code = "import sys, smtplogkit; print(' '.join(m for m in ('pandas', 'matplotlib', 'scipy', 'dns', 'ipywidgets') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == ""


def test_label_values_are_the_contract():
    assert [s.value for s in smtplogkit.Stage] == [
        "dns", "connect", "tls", "greeting", "ehlo", "starttls", "auth", "mail_from", "rcpt_to", "data", "quit", "none",
    ]
    assert len(smtplogkit.Cause) == 30
