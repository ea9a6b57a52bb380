"""Build the word diff's C core (archive/_diffcore.c); all other metadata is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("archive._diffcore", sources=["archive/_diffcore.c"])])
