"""Build the word diff's C core (archive/diffs/_diffcore.c) and ship metadata.yml in the
package; the rest is in pyproject.toml.

The C core is optional: without a compiler the install still succeeds and archive.diffs runs
its pure-Python reference (tests/test_diffcore.py then fails, so a missing core is never
silent there). The repository's metadata.yml stays the one source of the site's titles,
descriptions and canned queries: it is copied into archive/publish/ of the built package, so
an installed `archive serve` serves the same site as a checkout (tests/test_wheel.py).
"""

from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

METADATA = "metadata.yml"


class BuildPyWithMetadata(build_py):
    """build_py, plus the repository's metadata.yml as archive/publish/metadata.yml."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib, "archive", "publish", METADATA)
        self.mkpath(str(target.parent))
        self.copy_file(METADATA, str(target))


setup(
    cmdclass={"build_py": BuildPyWithMetadata},
    ext_modules=[
        Extension("archive.diffs._diffcore", sources=["archive/diffs/_diffcore.c"], optional=True),
    ],
)
