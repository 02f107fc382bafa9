"""The modules compiled whole from their .py files: used when built, kept out when stale or turned off.

``smtplogkit.native`` lists them and puts an import hook first on
``sys.meta_path``.  These tests import smtplogkit in a new process, from a
copy of the package where needed, so that what they change cannot leak into
the other tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.machinery import PathFinder
from pathlib import Path

import pandas as pd
import pytest

from smtplogkit import native

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data"

# Prints, for each module of native.MODULES, the file it was loaded from and its state.
REPORT = """
import importlib, json, logging, sys
logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
from smtplogkit import native
loaded = {name: importlib.import_module(name).__file__ for name in native.MODULES}
print(json.dumps({"loaded": loaded, "states": native.STATES}))
"""

# Reads the sample data and the tests' captures, and writes the sessions to a Parquet file.
READ = """
import sys
import smtplogkit
paths = sys.argv[2:]
frame = smtplogkit.read_logs(paths, date="2026-03-02", progress=False)
frame.to_parquet(sys.argv[1])
"""


def _run(script: str, *args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True,
                          env=env, cwd=cwd)


def _env(pythonpath: Path | None = None, pure: bool = False) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "SMTPLOGKIT_PURE_PYTHON"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    if pure:
        env["SMTPLOGKIT_PURE_PYTHON"] = "1"
    return env


def _built() -> bool:
    return all(native.build_of(Path(ROOT, *name.split(".")).with_suffix(".py")) is not None
               for name in native.MODULES)


def test_hook_comes_before_the_path_finder():
    # The usual finder for files would load a stale build, so the hook must be asked first, and only once.
    finders = [finder for finder in sys.meta_path if isinstance(finder, native.SourceWhenStale)]
    assert len(finders) == 1
    assert sys.meta_path.index(finders[0]) < sys.meta_path.index(PathFinder)
    native.install()
    assert [finder for finder in sys.meta_path if isinstance(finder, native.SourceWhenStale)] == finders


def test_modules_are_compiled_when_built():
    if os.environ.get("SMTPLOGKIT_PURE_PYTHON"):
        pytest.skip("SMTPLOGKIT_PURE_PYTHON is set: test_pure_python_loads_every_py_file covers it")
    missing = [name for name in native.MODULES
               if native.build_of(Path(ROOT, *name.split(".")).with_suffix(".py")) is None]
    assert not missing, (f"{', '.join(missing)} not built, so smtplogkit runs slower. Install a C compiler and the "
                         f"Python headers, then reinstall with '{sys.executable} -m pip install -e {ROOT}'. To run "
                         "the tests on the Python code alone, set SMTPLOGKIT_PURE_PYTHON=1.")
    report = json.loads(_run(REPORT, env=_env()).stdout)
    for name in native.MODULES:
        assert report["states"][name] == "in use", name
        assert not report["loaded"][name].endswith(".py"), name


def test_pure_python_loads_every_py_file():
    report = json.loads(_run(REPORT, env=_env(pure=True)).stdout)
    for name in native.MODULES:
        assert report["loaded"][name].endswith(".py"), name
        if report["states"].get(name) != "not built":
            assert report["states"][name] == "turned off by SMTPLOGKIT_PURE_PYTHON", name


def _copy_with_newer_smtplib(tmp_path: Path, checkout: bool) -> Path:
    """Return a folder with a copy of the package whose smtplib.py is newer than its build, and setup.py if ``checkout``."""
    if not _built() or os.environ.get("SMTPLOGKIT_PURE_PYTHON"):
        pytest.skip("the compiled modules are not in use")
    package = tmp_path / "pkg" / "smtplogkit"
    shutil.copytree(ROOT / "smtplogkit", package, ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    if checkout:
        shutil.copy2(ROOT / "setup.py", package.parent / "setup.py")
    source = package / "formats" / "smtplib.py"
    built = native.build_of(source)
    os.utime(source, (built.stat().st_mtime + 60,) * 2)
    return package.parent


@pytest.fixture()
def stale_copy(tmp_path):
    """Return a checkout whose smtplib.py was changed after its build."""
    return _copy_with_newer_smtplib(tmp_path, checkout=True)


def test_stale_build_gives_way_to_its_source(tmp_path, stale_copy):
    run = _run(REPORT, env=_env(stale_copy), cwd=tmp_path)
    report = json.loads(run.stdout)
    assert report["loaded"]["smtplogkit.formats.smtplib"] == str(stale_copy / "smtplogkit" / "formats" / "smtplib.py")
    assert report["states"]["smtplogkit.formats.smtplib"] == "older than its source, not used"
    assert report["states"]["smtplogkit.formats.nodemailer"] == "in use"
    warnings = [line for line in run.stderr.splitlines() if "newer than its build" in line]
    assert len(warnings) == 1, run.stderr
    assert warnings[0].startswith("smtplogkit.native WARNING ")
    assert "smtplib.py" in warnings[0]
    assert "pip install -e" in warnings[0]


@pytest.mark.parametrize(("value", "pure"), [("1", True), ("yes", True), ("0", False), ("false", False),
                                             ("Off", False), ("", False)])
def test_pure_python_values(monkeypatch, value, pure):
    monkeypatch.setenv("SMTPLOGKIT_PURE_PYTHON", value)
    assert native.pure_python() is pure


def test_installed_package_keeps_its_builds(tmp_path):
    # pip unpacks a wheel's files in the wheel's order, so a .py can end up a little newer than its build.
    installed = _copy_with_newer_smtplib(tmp_path, checkout=False)
    run = _run(REPORT, env=_env(installed), cwd=tmp_path)
    report = json.loads(run.stdout)
    assert report["states"]["smtplogkit.formats.smtplib"] == "in use"
    assert not report["loaded"]["smtplogkit.formats.smtplib"].endswith(".py")
    assert "newer than its build" not in run.stderr


def test_version_lists_the_whole_modules():
    from smtplogkit.cli import version_text

    text = version_text()
    for name in native.MODULES:
        assert f"  {name}: " in text
    assert f"  smtplogkit.formats.smtplib: {native.STATES['smtplogkit.formats.smtplib']}" in text


def _inputs() -> list[str]:
    captures = sorted(str(path) for path in (ROOT / "tests" / "captures").rglob("*")
                      if path.is_file() and path.suffix in {".log", ".txt"})
    return [str(SAMPLES), *captures]


def test_compiled_and_python_read_the_same(tmp_path):
    # The same source, run two ways: every session of the sample data and of the captured client logs.
    if not _built() or os.environ.get("SMTPLOGKIT_PURE_PYTHON"):
        pytest.skip("the compiled modules are not in use")
    inputs = _inputs()
    frames = []
    for pure in (False, True):
        out = tmp_path / f"pure-{pure}.parquet"
        _run(READ, str(out), *inputs, env=_env(pure=pure), cwd=tmp_path)
        frames.append(pd.read_parquet(out))
    compiled, python = frames
    assert len(compiled) > 1000
    assert set(compiled["format"]) >= {"smtplib", "nodemailer", "postfix"}
    pd.testing.assert_frame_equal(compiled, python)


def test_every_listed_module_exists():
    for name in native.MODULES:
        assert Path(ROOT, *name.split(".")).with_suffix(".py").is_file(), name
        assert name.startswith("smtplogkit.")


def test_makefile_lists_compiled_modules():
    # make's install step must depend on every module compiled whole, or an edit would leave a stale build.
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("WHOLE :="))
    listed = set(line.split(":=", 1)[1].split())
    assert listed == {"smtplogkit/native.py"} | {name.replace(".", "/") + ".py" for name in native.MODULES}
