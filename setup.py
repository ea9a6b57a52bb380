"""Build the word diff's C core (archive/diffs/_diffcore.c); the rest is in pyproject.toml.

Optional: without a compiler the install still succeeds and archive.diffs runs its pure-Python
reference (tests/test_diffcore.py then fails, so a missing core is never silent there).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("archive.diffs._diffcore", sources=["archive/diffs/_diffcore.c"], optional=True),
    ]
)
