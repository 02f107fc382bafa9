"""The four compiled modules are built and used, unless SMTPLOGKIT_PURE_PYTHON turns them off.

Without them smtplogkit gives the same results from its Python code, and
the tests that compare the two ways skip.  So that a build that failed (no
C compiler, no Python headers) or is older than its ``.pyx`` is not missed,
each module has one test here that fails with the fix in its message.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smtplogkit import native
from smtplogkit.formats import _postfix_lean, base, nodemailer, postfix, smtplib

# Each compiled module's name, and the module its reader uses (None for the Python code).
USED = {
    "_postfix_scan": lambda: postfix.SCAN,
    "_postfix_episodes": lambda: None if postfix.EPISODES is _postfix_lean.Episodes
    else sys.modules[postfix.EPISODES.__module__],
    "_smtplib_scan": lambda: smtplib.SCAN,
    "_nodemailer_scan": lambda: nodemailer.SCAN,
}

ROOT = Path(__file__).resolve().parents[2]
REINSTALL = f"'{sys.executable} -m pip install -e {ROOT}'"
PURE_PYTHON = "To run the tests on the Python code alone, set SMTPLOGKIT_PURE_PYTHON=1."


def _reason_unused(name: str) -> str:
    """Return why ``smtplogkit.formats.<name>`` is not used, not built or older than its source, and the fix."""
    try:
        module = importlib.import_module(f"smtplogkit.formats.{name}")
    except ImportError as error:
        return (f"smtplogkit.formats.{name} is not built ({error}), so smtplogkit uses its slower Python code. "
                "Install a C compiler and the Python headers (on Debian or Ubuntu: apt-get install gcc python3-dev), "
                f"then reinstall with {REINSTALL} (or 'make clean test'). {PURE_PYTHON}")
    built = Path(module.__file__)
    return (f"{built} is older than {built.with_name(name + '.pyx')}, so smtplogkit uses its slower Python code "
            f"until it is rebuilt with {REINSTALL} (or 'make install'). {PURE_PYTHON}")


@pytest.mark.parametrize("name", sorted(USED))
def test_compiled_module_is_built(name):
    used = USED[name]()
    if os.environ.get("SMTPLOGKIT_PURE_PYTHON"):
        assert used is None, f"SMTPLOGKIT_PURE_PYTHON is set, yet smtplogkit uses {name}"
        assert base.compiled(name) is None
        return
    assert used is not None, _reason_unused(name)
    assert used is base.compiled(name)


STALE_READ = """
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(processName)s %(message)s")
import smtplogkit
frame = smtplogkit.read_logs(sys.argv[1:], date="2026-03-02", workers=2, progress=False)
print(len(frame))
"""

# A program of the user's that reads logs in a child process of its own, as a task queue's worker does.
STALE_CHILD_READ = """
import logging, multiprocessing, sys
logging.basicConfig(level=logging.WARNING, format="%(processName)s %(message)s")

def work(paths):
    import smtplogkit
    print(len(smtplogkit.read_logs(paths, date="2026-03-02", progress=False)), flush=True)

if __name__ == "__main__":
    child = multiprocessing.get_context("fork").Process(target=work, args=(sys.argv[1:],))
    child.start()
    child.join()
"""


@pytest.fixture(params=["_smtplib_scan.pyx", "smtplib.py"], ids=["twin", "module compiled whole"])
def stale_copy(tmp_path, request):
    """Return the environment that imports a checkout's copy with one source newer than its build, and two logs.

    The source is the smtplib reader's .pyx twin, or the smtplib reader
    itself, which setup.py compiles whole (see smtplogkit.native).
    """
    if USED["_smtplib_scan"]() is None or native.STATES.get("smtplogkit.formats.smtplib") != "in use":
        pytest.skip("the compiled modules are not in use")
    package = tmp_path / "pkg" / "smtplogkit"
    shutil.copytree(ROOT / "smtplogkit", package, ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    shutil.copy2(ROOT / "setup.py", package.parent / "setup.py")  # a checkout, where a stale build is looked for
    source = package / "formats" / request.param
    stem = request.param.split(".")[0]
    built = next((package / "formats").glob(f"{stem}.*.so"))
    os.utime(source, (built.stat().st_mtime + 60,) * 2)
    logs = []
    for index in range(2):
        log = tmp_path / f"worker-{index}.log"
        log.write_text("10:00:00.000001 connect: to ('smtp.example.com', 587) None\n"
                       "10:00:00.100000 reply: b'220 ready\\r\\n'\n"
                       "10:00:00.200000 reply: retcode (220); Msg: b'ready'\n")
        logs.append(str(log))
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "pkg")}
    env.pop("SMTPLOGKIT_PURE_PYTHON", None)
    return env, logs


def _stale_warnings(script: str, env: dict, logs: list[str], cwd) -> tuple[str, list[str]]:
    run = subprocess.run([sys.executable, "-c", script, *logs], capture_output=True, text=True, env=env, cwd=cwd,
                         check=True)
    return run.stdout.strip(), [line for line in run.stderr.splitlines() if "newer than its build" in line]


@pytest.mark.parametrize(("script", "process"), [(STALE_READ, "MainProcess"), (STALE_CHILD_READ, "ForkProcess-1")],
                         ids=["pool of two workers", "user's child process"])
def test_stale_build_warns_once(tmp_path, stale_copy, script, process):
    # With a pool, the reading process warns and its workers do not; a user's own child process warns.
    env, logs = stale_copy
    output, warnings = _stale_warnings(script, env, logs, tmp_path)
    assert output == "2"
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{process} ")
    assert re.search(r"/formats/(_smtplib_scan\.pyx|smtplib\.py) is newer", warnings[0])
