"""Build the optional compiled Postfix prefilter; everything else is in pyproject.toml.

The extension is optional: without a C compiler the install goes on, and
smtplogkit uses its pure-Python prefilter (same results, slower).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("smtplogkit.formats._postfix_scan", ["smtplogkit/formats/_postfix_scan.pyx"], optional=True)],
    compiler_directives={"language_level": "3"},
))
