"""Every notebook runs headless on the bundled sample data, and on other logs via papermill."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

papermill = pytest.importorskip("papermill", reason="papermill is in the notebooks extra")

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FAILED_DIR = Path("/tmp/smtplogkit-notebooks")


def execute(notebook: Path, output: Path, parameters: dict) -> None:
    """Run a notebook with papermill; keep the executed copy under /tmp when it fails."""
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3",
                                   cwd=str(output.parent), progress_bar=False)
    except papermill.PapermillExecutionError:
        FAILED_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copy(output, FAILED_DIR / notebook.name)
        raise


def test_notebooks_found():
    assert [path.name for path in NOTEBOOKS] == [
        "01_triage.ipynb", "02_network_firewall.ipynb", "03_rate_limits.ipynb", "04_auth_tokens.ipynb",
        "05_incident_report.ipynb"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_on_sample_data(notebook, tmp_path):
    execute(notebook, tmp_path / notebook.name, {"output": str(tmp_path / "incident.html")}
            if notebook.name.startswith("05") else {})


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_stored_clean(notebook):
    import nbformat

    stored = nbformat.read(notebook, as_version=4)
    first_code = next(cell for cell in stored.cells if cell.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])
    for cell in stored.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_matches_generator(notebook):
    # The notebooks are written by tools/make_notebooks.py; an edit made to a stored notebook alone is lost
    # the next time they are generated.
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "tools" / "make_notebooks.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    built = generator.build(notebook.name)
    stored = nbformat.read(notebook, as_version=4)
    cells = [(cell.cell_type, cell.source) for cell in stored.cells]
    assert cells == [(cell.cell_type, cell.source) for cell in built.cells]


def without_timestamp(html: str) -> str:
    return re.sub(r"<p class=\"meta\">Generated [^<]*</p>", "", html)


def test_notebook_matches_cli(fleet_logs, tmp_path):
    notebook = next(path for path in NOTEBOOKS if path.name.startswith("05"))
    from_notebook = tmp_path / "notebook.html"
    execute(notebook, tmp_path / notebook.name, {"logs": str(fleet_logs), "output": str(from_notebook)})

    from_cli = tmp_path / "cli.html"
    run = subprocess.run([sys.executable, "-m", "smtplogkit", "report", str(fleet_logs), "-o", str(from_cli)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert without_timestamp(from_notebook.read_text()) == without_timestamp(from_cli.read_text())
