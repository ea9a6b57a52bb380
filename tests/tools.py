"""Tools the tests run (b3sum, patch, openssl, chromium, ...): found, never quietly skipped.

`make test` installs them (scripts/ensure-tools.sh, scripts/ensure-chromium.sh) with apt-get
as root or with passwordless sudo. Where it could have installed a missing tool, the test
fails and says to run `make test` (or `make tools` / `make browser`); it is skipped, loudly,
only on a machine where `make test` cannot install it. CI sets REQUIRE_TOOLS=1 and
REQUIRE_BROWSER=1, where a missing tool always fails.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

import pytest


@functools.cache
def installable() -> bool:
    """Whether `make test` could install a missing Debian tool here: apt-get, run as root
    or through passwordless sudo (the ensure-*.sh scripts' own test)."""
    if shutil.which("apt-get") is None:
        return False
    if os.geteuid() == 0:
        return True
    sudo = shutil.which("sudo")
    if sudo is None:
        return False
    return subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0


def missing(reason: str, required_by: str) -> None:
    """A tool is missing: fail where it is required (the environment variable `required_by`
    set to 1) or where `make test` could have installed it; else skip, saying why."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{reason} and {required_by}=1")
    if installable():
        pytest.fail(f"{reason}; `make test` installs it on this machine: run it")
    pytest.skip(f"{reason}; this machine cannot install it (no apt-get as root or sudo)")


def need_tool(name: str) -> str:
    """The tool's path; otherwise see `missing`."""
    path = shutil.which(name)
    if path:
        return path
    missing(f"{name} is not installed (`make tools` installs it)", "REQUIRE_TOOLS")
    raise AssertionError("unreachable")  # missing() always raises
