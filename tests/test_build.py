"""setup.py goes on without a C compiler, leaving the compiled modules out.

The test runs setup.py's build_ext as pip's build would, with CC=/bin/false
as the compiler, into a temporary folder: every extension fails to compile,
and the build must still succeed.  Like any build, it writes the .c files
next to the .pyx when they are older.  It needs Cython and setuptools 77 or
newer, which the ``test`` extra installs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["_postfix_scan", "_postfix_episodes", "_smtplib_scan", "_nodemailer_scan"]


def test_build_without_compiler_succeeds(tmp_path):
    pytest.importorskip("Cython", reason="setup.py needs Cython (pip install -e '.[test]')")
    command = [sys.executable, "setup.py", "build_ext", "--build-lib", str(tmp_path / "lib"),
               "--build-temp", str(tmp_path / "temp")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CC": "/bin/false", "CXX": "/bin/false"})
    assert done.returncode == 0, done.stderr[-2000:]
    for name in MODULES:
        assert f'building extension "smtplogkit.formats.{name}" failed' in done.stderr
    assert not list(tmp_path.rglob("*.so"))
