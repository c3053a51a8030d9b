#!/bin/bash
# Build root of the busybox image: only installs busybox-static; image.sh
# copies the binary out and links every applet to it.
source "$(dirname "$0")/lib-root.sh"
apt_install busybox-static
