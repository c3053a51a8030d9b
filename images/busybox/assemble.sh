#!/bin/sh
# Assembles the busybox image's root from a root that has busybox-static
# installed: the binary, a link for every applet, passwd and group files with
# root and nobody, and world-writable /tmp. Used by hack/build-images.sh
# (image.sh) and by the Containerfile, so both give the same tree.
#
# Usage: assemble.sh SOURCE_ROOT DEST_ROOT
set -eu
src=$1
dest=$2
mkdir -p "$dest/bin" "$dest/sbin" "$dest/usr/bin" "$dest/usr/sbin" "$dest/etc" "$dest/root" \
	"$dest/dev" "$dest/proc" "$dest/sys" "$dest/var/tmp" "$dest/tmp"
install -m 755 "$src/usr/bin/busybox" "$dest/bin/busybox"
# The binary is static: it runs from the host or the build stage alike.
for applet in $("$dest/bin/busybox" --list-full); do
	[ "$applet" = bin/busybox ] || [ -e "$dest/$applet" ] || ln -s /bin/busybox "$dest/$applet"
done
for applet in sh nslookup wget httpd sleep cat; do
	found=no
	for d in bin sbin usr/bin usr/sbin; do [ -L "$dest/$d/$applet" ] && found=yes; done
	[ "$found" = yes ] || { echo "assemble.sh: busybox-static has no $applet applet" >&2; exit 1; }
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dest/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dest/etc/group"
chmod 700 "$dest/root"
chmod 1777 "$dest/tmp" "$dest/var/tmp"
