#!/bin/sh
# Install the Debian tools the tests run as real subprocesses when they are missing and we
# can: openssl (the local RFC 3161 time-stamp authority and `openssl ts -verify`).
missing=""
for tool in openssl; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
    if [ "$SUDO" != none ]; then
        echo "Installing Debian's$missing for the tests..."
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null \
            && exit 0
    fi
fi
echo "WARNING:$missing missing and could not be installed: the time-stamp tests will fail."
exit 0
