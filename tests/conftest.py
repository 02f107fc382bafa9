"""Shared test set-up: the loopback SMTP server catalogue and capture runner.

Both live in tools/capture, outside the installed package, and import each
other by plain module name, so that folder goes on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPTURE_TOOLS = ROOT / "tools" / "capture"
if str(CAPTURE_TOOLS) not in sys.path:
    sys.path.insert(0, str(CAPTURE_TOOLS))

import capture  # noqa: E402
import servers  # noqa: E402

__all__ = ["capture", "servers"]
