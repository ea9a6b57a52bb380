#!/bin/sh
# Tools the tests run as programs, installed when missing and we can.
#
# 1. Debian tools the tests check our output with: b3sum reads our BLAKE3 manifests, patch
#    applies our unified diffs, openssl runs the local RFC 3161 time-stamp authority and
#    checks its tokens (`openssl ts -verify`). Installed with apt-get (as root, or with passwordless sudo);
#    where that is impossible, say so loudly: the tests that need them will fail, saying
#    how to get them.
# 2. `wacz` (py-wacz: `wacz create` makes the test WACZs, `wacz validate` checks the WACZ
#    export) in its own venv, .venv-tools: its dependencies bring `rich`, and Datasette changes
#    how it handles errors when `rich` can be imported, so it must not share the project's venv.
#    setpriv (util-linux) lets a test running as root ingest as another user, for whom a
#    file can be unreadable.
DEBIAN_TOOLS="b3sum:b3sum patch:patch openssl:openssl setpriv:util-linux"  # tool:package
missing=""
for pair in $DEBIAN_TOOLS; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
if [ -n "$missing" ]; then
    installed=no
    if command -v apt-get >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
        if [ "$SUDO" != none ]; then
            echo "Installing Debian's$missing for the tests..."
            # shellcheck disable=SC2086 # one package name per word
            $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null \
                && installed=yes
        fi
    fi
    if [ "$installed" != yes ]; then
        echo "************************************************************************"
        echo "* WARNING: missing and could not be installed:$missing"
        echo "* The tests that check our output with them will FAIL.              *"
        echo "************************************************************************"
    fi
fi

set -e
PYTHON=${PYTHON:-python3}
TOOLS=${ARCHIVE_TOOLS_VENV:-.venv-tools}
if [ -x "$TOOLS/bin/wacz" ]; then exit 0; fi
echo "Installing wacz (py-wacz) into $TOOLS for the WACZ tests..."
"$PYTHON" -m venv "$TOOLS"
"$TOOLS/bin/python" -m pip install --quiet --upgrade pip
"$TOOLS/bin/python" -m pip install --quiet 'wacz>=0.5'
