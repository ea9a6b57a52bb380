#!/bin/sh
# Tools the tests run as programs, kept out of the project's .venv.
#
# `wacz` (py-wacz: `wacz create` makes the test WACZs, `wacz validate` checks the WACZ export)
# lives in its own venv, .venv-tools: its dependencies bring `rich`, and Datasette changes
# how it handles errors when `rich` can be imported, so it must not share the project's venv.
# `openssl` (Debian) runs the local RFC 3161 time-stamp authority and `openssl ts -verify`.
set -e
PYTHON=${PYTHON:-python3}
TOOLS=${ARCHIVE_TOOLS_VENV:-.venv-tools}
if [ ! -x "$TOOLS/bin/wacz" ]; then
    echo "Installing wacz (py-wacz) into $TOOLS for the WACZ tests..."
    "$PYTHON" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --upgrade pip
    "$TOOLS/bin/python" -m pip install --quiet 'wacz>=0.5'
fi
if ! command -v openssl >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
    if [ "$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing Debian's openssl for the time-stamp tests..."
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
    else
        echo "WARNING: openssl is missing and could not be installed: the time-stamp tests will fail."
    fi
fi
exit 0
