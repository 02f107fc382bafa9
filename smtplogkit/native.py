"""Modules of the reading path that setup.py also compiles, and the import hook that keeps a stale build out.

``setup.py`` compiles the modules in :data:`MODULES` with Cython from their
``.py`` files as they are, when a C compiler is available: the build and the
source are one program, not twins.  Python's import system loads such a
build in preference to the ``.py`` file next to it, even when the ``.py``
file was edited after the build, so an editable install would run old code
without a word.  :class:`SourceWhenStale` sits first on ``sys.meta_path``
and loads the ``.py`` file instead when the build is older than it in a
source checkout, with a warning, or when ``SMTPLOGKIT_PURE_PYTHON`` is set.

The hook is installed when smtplogkit is imported, before any of these
modules is.  :data:`STATES` records each module's state (in use, stale,
turned off or not built) for ``smtplogkit --version``.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path

logger = logging.getLogger(__name__)

# Compiled whole.  The .pyx modules in smtplogkit/formats are another kind: hand-typed twins of some Python
# functions, chosen at run time by formats.base.compiled().
MODULES = (
    "smtplogkit.sessions",
    "smtplogkit.formats._templates",
    "smtplogkit.formats.base",
    "smtplogkit.formats.smtplib",
    "smtplogkit.formats.nodemailer",
)

# The state of each module of MODULES once imported: in use, not built, turned off or stale.
STATES: dict[str, str] = {}


def pure_python() -> bool:
    """Return whether ``SMTPLOGKIT_PURE_PYTHON`` turns the compiled modules off: set, and not 0, false, no or off."""
    value = os.environ.get("SMTPLOGKIT_PURE_PYTHON", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def build_of(source: Path) -> Path | None:
    """Return the compiled build next to the Python file ``source``, or None if there is none."""
    stem = source.name[:-len(".py")]
    for suffix in EXTENSION_SUFFIXES:
        built = source.with_name(stem + suffix)
        if built.exists():
            return built
    return None


class SourceWhenStale:
    """Load a module of :data:`MODULES` from its ``.py`` file when its build must not be used.

    For any other module, and for a build that may be used, it returns None
    and the usual finders go on.  A finder on ``sys.meta_path`` needs only
    ``find_spec``: ``importlib.abc`` is not imported, because it loads
    ``importlib.resources`` too (about 12 ms).
    """

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: object = None) -> ModuleSpec | None:
        """Return a spec for the ``.py`` file of a module whose build is stale or turned off, else None."""
        if fullname not in MODULES or not path:
            return None
        leaf = fullname.rpartition(".")[2]
        source = next((Path(folder) / f"{leaf}.py" for folder in path if (Path(folder) / f"{leaf}.py").exists()),
                      None)
        if source is None:
            return None
        built = build_of(source)
        if built is None:
            STATES[fullname] = "not built"
            return None
        # The folder that contains the smtplogkit package: a checkout has setup.py there, and site-packages has not.
        checkout = source.parents[fullname.count(".")]
        if pure_python():
            STATES[fullname] = "turned off by SMTPLOGKIT_PURE_PYTHON"
        elif (checkout / "setup.py").exists() and source.stat().st_mtime > built.stat().st_mtime:
            # Only in a checkout: pip unpacks a wheel's files in the wheel's order, so an installed
            # smtplib.py can be a little newer than the smtplib.cpython-*.so before it.
            STATES[fullname] = "older than its source, not used"
            logger.warning("%s is newer than its build %s, so smtplogkit uses the Python file instead. Rebuild "
                           "with '%s -m pip install -e %s' (or 'make install' in %s).", source, built.name,
                           sys.executable, checkout, checkout)
        else:
            STATES[fullname] = "in use"
            return None
        return spec_from_file_location(fullname, source)


def load_all() -> None:
    """Import every module of :data:`MODULES`, so that a stale build warns here, once.

    The reader calls this before its worker processes fork, so that they
    inherit the modules instead of each importing them and warning again.
    """
    for name in MODULES:
        importlib.import_module(name)


def install() -> None:
    """Put :class:`SourceWhenStale` first on ``sys.meta_path``, once."""
    if not any(isinstance(finder, SourceWhenStale) for finder in sys.meta_path):
        sys.meta_path.insert(0, SourceWhenStale())
