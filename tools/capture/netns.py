"""Re-run a capture script inside a private network namespace.

Inside ``unshare -rn`` only a loopback interface exists, so the servers can
listen on 465 and 587 without clashing with other programs on the host, and
no client can reach anything but 127.0.0.1.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

INSIDE_FLAG = "--inside-netns"


def inside(argv: list[str]) -> bool:
    """Return whether this process is the re-run inside the namespace."""
    return INSIDE_FLAG in argv


def rerun(script: Path, argv: list[str]) -> int:
    """Run ``script`` with ``argv`` in a new network namespace and return its exit status."""
    arguments = " ".join(shlex.quote(a) for a in [*argv, INSIDE_FLAG])
    command = f"ip link set lo up && exec {shlex.quote(sys.executable)} {shlex.quote(str(script))} {arguments}"
    return subprocess.run(["unshare", "-rn", "sh", "-c", command], check=False).returncode
