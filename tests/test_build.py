"""setup.py goes on without a C compiler, leaving the compiled modules out (the twins and the whole modules).

The test runs setup.py's build_ext as pip's build would, with CC=/bin/false
as the compiler, into a temporary folder: every extension fails to compile,
and the build must still succeed.  Like any build, it writes the .c files
next to the .pyx when they are older.  It needs Cython and setuptools 77 or
newer, which the ``test`` extra installs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from smtplogkit import native

ROOT = Path(__file__).resolve().parents[1]
TWINS = ["smtplogkit.formats._postfix_scan", "smtplogkit.formats._postfix_episodes", "smtplogkit.formats._smtplib_scan",
         "smtplogkit.formats._nodemailer_scan"]


def test_build_without_compiler_succeeds(tmp_path):
    pytest.importorskip("Cython", reason="setup.py needs Cython (pip install -e '.[test]')")
    command = [sys.executable, "setup.py", "build_ext", "--build-lib", str(tmp_path / "lib"),
               "--build-temp", str(tmp_path / "temp")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CC": "/bin/false", "CXX": "/bin/false"})
    assert done.returncode == 0, done.stderr[-2000:]
    for name in [*TWINS, *native.MODULES]:
        assert f'building extension "{name}" failed' in done.stderr
    assert not list(tmp_path.rglob("*.so"))


def test_sdist_carries_the_tests(tmp_path):
    # A packager runs the tests from the sdist: every test file and every file a test reads must be in it.
    pytest.importorskip("Cython", reason="setup.py needs Cython (pip install -e '.[test]')")
    # From a copy without build leftovers: an old egg-info's SOURCES.txt would add its files to the sdist.
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".git", ".venv", "*.egg-info", "build", "dist", "out",
                                                              "__pycache__", "*.so", "*.c"))
    done = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path)], cwd=tree,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (archive,) = tmp_path.glob("smtplogkit-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    expected_files = {str(path.relative_to(ROOT))
              for folder in ("tests", "sample_data", "notebooks", "docs", "benchmarks", "tools")
              for path in (ROOT / folder).rglob("*") if path.is_file() and "__pycache__" not in path.parts
              and path.suffix != ".pyc" and not path.match("notebooks/incident*")
              and "smtplogkit-cache" not in path.parts and "node_modules" not in path.parts}
    assert "tests/formats/test_postfix_scan.py" in expected_files
    assert sorted(expected_files - names) == []
    assert [name for name in names if name.endswith((".pyc", ".so", ".c"))] == []
    assert "smtplogkit/formats/_postfix_scan.pyx" in names
    assert "tools/capture/servers.py" in names  # tests/conftest.py imports the loopback servers from there
