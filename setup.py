"""Build the optional compiled parts of the reading path.

Everything else about the package is in pyproject.toml.

Two kinds of module are compiled with Cython: the ``.pyx`` twins of some
functions of the Postfix, smtplib and nodemailer readers, and the modules
that ``smtplogkit/native.py`` lists, compiled whole from their ``.py``
files as they are.  Both are optional: without a C compiler the install goes
on, and smtplogkit runs the Python code (same results, slower).
"""

import ast
import sys
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup


def whole_modules() -> tuple[str, ...]:
    """Return ``MODULES`` from smtplogkit/native.py, read without importing smtplogkit."""
    tree = ast.parse(Path("smtplogkit/native.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "MODULES" for target in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("smtplogkit/native.py has no MODULES")


TWINS = [Extension(f"smtplogkit.formats.{name}", [f"smtplogkit/formats/{name}.pyx"])
         for name in ("_postfix_scan", "_postfix_episodes", "_smtplib_scan", "_nodemailer_scan")]
# Without debug information: it made these builds several MB each (nodemailer 5.4 MB), and a traceback
# through them names the .py file and line all the same.
NO_DEBUG_INFO = [] if sys.platform == "win32" else ["-g0"]
WHOLE = [Extension(name, [name.replace(".", "/") + ".py"], extra_compile_args=NO_DEBUG_INFO)
         for name in whole_modules()]

EXTENSIONS = cythonize(TWINS, compiler_directives={"language_level": "3"}) + cythonize(
    WHOLE,
    # binding: functions keep their signatures and docstrings, and can be pickled, as Python functions can.
    # annotation_typing off: a hint such as "list[Line]" stays a hint, as it is for Python, not a type check.
    compiler_directives={"language_level": "3", "binding": True, "annotation_typing": False},
)
for extension in EXTENSIONS:
    # cythonize() returns new Extension objects with optional=False, even for optional ones, so it is set
    # here. Without it a machine that has no C compiler fails the whole install.
    extension.optional = True

setup(ext_modules=EXTENSIONS)
