#!/bin/sh
# Install Debian's chromium for the real-browser tests when it is missing and we can.
# Where we cannot, say so loudly: the browser tests will fail, saying how to get it.
if [ -x /usr/bin/chromium ]; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
    if [ "$SUDO" != none ]; then
        echo "Installing Debian's chromium for the browser tests..."
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null \
            && exit 0
    fi
fi
echo "************************************************************************"
echo "* WARNING: /usr/bin/chromium is missing and could not be installed.    *"
echo "* The real-browser tests will FAIL. Install Debian's 'chromium'.     *"
echo "************************************************************************"
exit 0
