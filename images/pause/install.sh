#!/bin/bash
# Build root of the pause image: only installs catatonit, whose statically
# linked binary image.sh then copies out as /bin/pause. Nothing else of this
# root goes into the image.
source "$(dirname "$0")/lib-root.sh"
apt_install catatonit
