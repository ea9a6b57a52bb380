#!/bin/sh
# Tools the tests run as programs, kept out of the project's .venv.
#
# `wacz` (py-wacz: `wacz create` makes the test WACZs, `wacz validate` checks the WACZ export)
# lives in its own venv, .venv-tools: its dependencies bring `rich`, and Datasette changes
# how it handles errors when `rich` can be imported, so it must not share the project's venv.
set -e
PYTHON=${PYTHON:-python3}
TOOLS=${ARCHIVE_TOOLS_VENV:-.venv-tools}
if [ -x "$TOOLS/bin/wacz" ]; then exit 0; fi
echo "Installing wacz (py-wacz) into $TOOLS for the WACZ tests..."
"$PYTHON" -m venv "$TOOLS"
"$TOOLS/bin/python" -m pip install --quiet --upgrade pip
"$TOOLS/bin/python" -m pip install --quiet 'wacz>=0.5'
