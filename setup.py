"""Build the optional compiled parts of the Postfix, smtplib and nodemailer readers.

Everything else about the package is in pyproject.toml.

The extensions are optional: without a C compiler the install goes on, and
smtplogkit uses the Python code they mirror (same results, slower).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

EXTENSIONS = cythonize(
    [Extension(f"smtplogkit.formats.{name}", [f"smtplogkit/formats/{name}.pyx"])
     for name in ("_postfix_scan", "_postfix_episodes", "_smtplib_scan", "_nodemailer_scan")],
    compiler_directives={"language_level": "3"},
)
for extension in EXTENSIONS:
    # cythonize() returns new Extension objects with optional=False, even for optional ones, so it is set
    # here. Without it a machine that has no C compiler fails the whole install.
    extension.optional = True

setup(ext_modules=EXTENSIONS)
