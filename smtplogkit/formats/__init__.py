"""Log format modules and their registry.

Each module in this package that defines ``NAME`` is a format.  Modules whose
name starts with an underscore, and ``base``, hold shared helpers.

A format module may list its ``DETECT_SIGNS``: strings and compiled
patterns such that whenever its ``detect`` scores a sample above 0, a line
of the sample contains one of the strings or matches one of the patterns.
:func:`detect` then scores the format 0 without calling it when the sample
contains none of their literals (:mod:`smtplogkit.literals`), found in one
pass over the sample for every format.  Trying every format on 400
lines costs about as much as reading 5,000 lines of a large client log (an
estimate from instruction counts), and most formats have no sign in a
given file.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from types import ModuleType

from ..errors import FormatError
from ..literals import LiteralIndex, sign_literals

HELPER_MODULES = frozenset({"base"})


@lru_cache(maxsize=1)
def registry() -> dict[str, ModuleType]:
    """Return every format module by its ``NAME``, in detection priority order."""
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in HELPER_MODULES:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME"):
            modules.append(module)
    modules.sort(key=lambda m: (-getattr(m, "PRIORITY", 0), m.NAME))
    return {m.NAME: m for m in modules}


def get(name: str) -> ModuleType:
    """Return the format module called ``name``; raise :class:`FormatError` if unknown.

    A format's module carries its name, so a known name loads that module
    alone; the others load only when a list of them is needed.
    """
    if name.isidentifier() and not name.startswith("_") and name not in HELPER_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
        else:
            if getattr(module, "NAME", None) == name:
                return module
    formats = registry()
    if name not in formats:
        known = ", ".join(sorted(formats))
        raise FormatError(f"unknown format {name!r}; known formats: {known}")
    return formats[name]


def detect(sample: list[str]) -> tuple[ModuleType | None, float, dict[str, float]]:
    """Score every format on a sample of lines and return the best with its score."""
    scores = {}
    index, bits = _signs()
    found, _ = index.search("\n".join(sample))
    for name, module in registry().items():
        if not found & bits[name]:
            scores[name] = 0.0  # no line has a sign of the format: its detect would score 0
            continue
        try:
            scores[name] = float(module.detect(sample))
        except (ValueError, TypeError, IndexError):
            scores[name] = 0.0
    if not scores:
        return None, 0.0, scores
    best = max(scores, key=lambda n: scores[n])
    if scores[best] <= 0:
        return None, 0.0, scores
    return registry()[best], scores[best], scores


@lru_cache(maxsize=1)
def _signs() -> tuple[LiteralIndex, dict[str, int]]:
    """Return the index of every format's sign literals and the bit of each format in its search results."""
    groups = []
    for module in registry().values():
        signs = getattr(module, "DETECT_SIGNS", None)
        groups.append(None if signs is None else sign_literals(signs))
    return LiteralIndex(groups), {name: 1 << number for number, name in enumerate(registry())}
