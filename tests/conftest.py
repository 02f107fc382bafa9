"""Shared test set-up: the loopback SMTP server catalogue from tools/capture."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_servers():
    """Import tools/capture/servers.py, which is not part of the installed package."""
    name = "capture_servers"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "capture" / "servers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


servers = _load_servers()
