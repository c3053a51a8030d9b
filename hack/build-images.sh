#!/usr/bin/env bash
# Builds the project's container images from Debian packages into OCI
# archives, with no registry and no container engine, and optionally imports
# them into the local cluster's containerd.
#
# Usage: hack/build-images.sh [--import] [NAME...]
#   NAME: pause busybox operator postgres-17 postgres-18 upgrade pgbouncer
#         postgres-exporter pgadmin, or postgres (= postgres-17 postgres-18);
#         none means all of them. On demand only, never in "all": s3 gcs
#         azure (the storage services of the cloud repository tests).
#   --import  also import the archives into the containerd at
#             $CONTAINERD_SOCK (hack/lib.sh; IMAGES_CONTAINERD_SOCK overrides
#             it), skipping images it already has with the same digest.
#
# How an image is made (the pieces live in images/):
#   1. base: `debootstrap --variant=minbase` of trixie or sid, once a day,
#      prepared by images/base/setup-base.sh (images/lib/rootfs.sh);
#   2. root: a copy of that base, or the unpacked layer of the image it
#      derives from (upgrade derives from postgres-18);
#   3. install: images/<dir>/install.sh runs in a chroot of the root, with
#      images/base/lib-root.sh; the same script is the RUN step of
#      images/<dir>/Containerfile, so both ways build the same image;
#   4. checks: the version that the tag in images/versions.env claims must be
#      the version Debian installed (else: stop, and name the variable to
#      update); pgBackRest must be $PGBACKREST_VERSION wherever it is;
#   5. archive: one gzip layer, an OCI config from images/<dir>/image.sh
#      (user, env, entrypoint, labels with the package versions), written to
#      $IMAGE_CACHE/<repository>-<tag>.tar (images/lib/oci.sh).
# Each archive has a .meta file beside it with the hash of its build inputs
# (its folder but for the Containerfile, build.sh hooks and docs; images/lib;
# images/base; this script; its reference; its parent's hash): when that
# matches, the archive is reused, not rebuilt.
#
# images/<dir>/image.sh, sourced in a subshell per image, sets:
#   IMAGE_REF_VAR       the variable of images/versions.env naming the image
#   IMAGE_FROM          trixie, sid, or the NAME of the image it derives from
#   IMAGE_SCRATCH=1     the image is only what image_assemble copies out of
#                       the build root (pause, busybox)
#   IMAGE_PROC=1        mount /proc during install.sh (some postinsts need it)
#   IMAGE_INSTALL_ENV   VAR=VALUE words for install.sh
#   IMAGE_CHECK_PGBACKREST=1  the image carries pgBackRest
#   IMAGE_LABEL_PACKAGES  packages whose versions become labels
#   IMAGE_USER IMAGE_ENV IMAGE_ENTRYPOINT IMAGE_CMD IMAGE_WORKDIR IMAGE_PORTS
#   IMAGE_TITLE IMAGE_DESCRIPTION
# and may define image_version ROOT (sets GOT_VERSION, GOT_WHAT),
# image_assemble BUILD_ROOT ROOT, image_before_install ROOT and
# image_labels ROOT (prints extra KEY=VALUE labels).
source "$(dirname "$0")/lib.sh"
# Command substitutions stop at the first error too.
shopt -s inherit_errexit

IMAGES_DIR=$ROOT_DIR/images
BUILD_WORK=$IMAGE_CACHE/work
# shellcheck source=../images/lib/oci.sh
source "$IMAGES_DIR/lib/oci.sh"
# shellcheck source=../images/lib/rootfs.sh
source "$IMAGES_DIR/lib/rootfs.sh"

ALL_IMAGES=(pause busybox operator postgres-17 postgres-18 upgrade pgbouncer postgres-exporter pgadmin)
# Built only when named: test/lib/storage.sh builds and imports them.
ON_DEMAND_IMAGES=(s3 gcs azure)
LABEL_PREFIX=local.pgo.package

usage() {
	sed -n '6,14p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

# image_dir NAME: the folder under images/ that describes NAME.
image_dir() {
	case $1 in
	postgres-[0-9]*) echo postgres ;;
	*) echo "$1" ;;
	esac
}

# load_image NAME: set the descriptor of NAME (call it in a subshell).
load_image() {
	NAME=$1
	DIR=$IMAGES_DIR/$(image_dir "$NAME")
	[ -f "$DIR/image.sh" ] || die "unknown image '$NAME' (known: ${ALL_IMAGES[*]} postgres ${ON_DEMAND_IMAGES[*]})"
	IMAGE_REF_VAR='' IMAGE_FROM=trixie IMAGE_SCRATCH=0 IMAGE_PROC=0 IMAGE_CHECK_PGBACKREST=0
	IMAGE_INSTALL_ENV=() IMAGE_LABEL_PACKAGES=() IMAGE_ENV=() IMAGE_PORTS=()
	IMAGE_USER='' IMAGE_ENTRYPOINT=null IMAGE_CMD=null IMAGE_WORKDIR='' IMAGE_TITLE=$NAME IMAGE_DESCRIPTION=''
	# shellcheck source=/dev/null
	source "$DIR/image.sh"
	[ -n "$IMAGE_REF_VAR" ] || die "$DIR/image.sh sets no IMAGE_REF_VAR"
	IMAGE_REF=${!IMAGE_REF_VAR:-}
	[ -n "$IMAGE_REF" ] || die "images/versions.env does not set $IMAGE_REF_VAR"
	case ${IMAGE_REF##*:} in
	latest | "$IMAGE_REF") die "$IMAGE_REF_VAR=$IMAGE_REF: give a real version tag, never latest or none" ;;
	esac
}

# parent_archive NAME: the archive of image NAME (for images derived from it).
parent_archive() { (load_image "$1" && archive_of "$IMAGE_REF"); }

# input_key: the hash of everything the current image is built from.
input_key() {
	(
		echo "ref=$IMAGE_REF pgbackrest=${PGBACKREST_VERSION:-} from=$IMAGE_FROM"
		printf 'env=%s\n' "${IMAGE_INSTALL_ENV[@]}"
		cd "$ROOT_DIR" || exit 1
		find images/lib images/base "images/$(image_dir "$NAME")" -type f \
			! -name Containerfile ! -name build.sh ! -name '*.md' ! -name .gitignore |
			LC_ALL=C sort | xargs sha256sum
		sha256sum hack/build-images.sh
		case $IMAGE_FROM in trixie | sid) ;; *) echo "parent=$(meta_get "$(parent_archive "$IMAGE_FROM")" KEY)" ;; esac
	) | sha256sum | cut -c1-32
}

# upstream_version DEBIAN_VERSION: without epoch, Debian revision and
# repack suffixes (1:1.37.0-6+b1 -> 1.37.0, 3.5.2+dfsg-1 -> 3.5.2).
upstream_version() {
	local v=${1#*:}
	v=${v%-*}
	echo "${v%%[+~]*}"
}

# root_pkg_version ROOT PKG: the Debian version of PKG installed in ROOT.
root_pkg_version() {
	chroot "$1" dpkg-query -W -f='${Version}' "$2" 2>/dev/null ||
		die "$NAME: package $2 is not installed in the image"
}

# check_versions ROOT: the tag must tell the installed version, and
# pgBackRest must be the one version all images share.
check_versions() {
	local root=$1 tag want
	tag=${IMAGE_REF##*:}
	if declare -F image_version >/dev/null; then
		GOT_VERSION='' GOT_WHAT=''
		image_version "$root"
		want=${tag%-*}
		if [ "$GOT_VERSION" != "$want" ]; then
			die "$NAME: images/versions.env has $IMAGE_REF_VAR=$IMAGE_REF (version $want)," \
				"but the build installed $GOT_WHAT: Debian's archive moved. Set" \
				"$IMAGE_REF_VAR=${IMAGE_REF%:*}:$GOT_VERSION-1 in images/versions.env and build again."
		fi
	fi
	if [ "$IMAGE_CHECK_PGBACKREST" = 1 ]; then
		local v
		v=$(upstream_version "$(root_pkg_version "$root" pgbackrest)")
		[ "$v" = "$PGBACKREST_VERSION" ] ||
			die "$NAME: installed pgBackRest $v, but images/versions.env has" \
				"PGBACKREST_VERSION=$PGBACKREST_VERSION (sid moved). Every image must carry the same" \
				"pgBackRest: set PGBACKREST_VERSION=$v and rebuild all images that carry it" \
				"(postgres-17 postgres-18 upgrade)."
	fi
}

# labels_json ROOT: the image's labels, package versions included.
labels_json() {
	local root=$1 p
	{
		printf '%s=%s\n' org.opencontainers.image.title "$IMAGE_TITLE" \
			org.opencontainers.image.description "$IMAGE_DESCRIPTION" \
			org.opencontainers.image.version "${IMAGE_REF##*:}" \
			org.opencontainers.image.ref.name "$IMAGE_REF" \
			org.opencontainers.image.created "$CREATED"
		for p in "${IMAGE_LABEL_PACKAGES[@]}"; do
			printf '%s.%s=%s\n' "$LABEL_PREFIX" "$p" "$(root_pkg_version "$root" "$p")"
		done
		if declare -F image_labels >/dev/null; then image_labels "$root"; fi
	} | jq -R 'index("=") as $i | {(.[:$i]): .[$i+1:]}' | jq -cs 'add // {}'
}

# config_json DIFF_ID LABELS: the OCI image configuration.
config_json() {
	local env ports
	env=$(printf '%s\n' "${IMAGE_ENV[@]}" | jq -R . | jq -cs 'map(select(. != ""))')
	ports=$(printf '%s\n' "${IMAGE_PORTS[@]}" | jq -R . | jq -cs 'map(select(. != "") | {(.): {}}) | add // {}')
	jq -cn --arg created "$CREATED" --arg user "$IMAGE_USER" --argjson env "$env" \
		--argjson entrypoint "$IMAGE_ENTRYPOINT" --argjson cmd "$IMAGE_CMD" \
		--arg workdir "$IMAGE_WORKDIR" --argjson ports "$ports" --argjson labels "$2" \
		--arg diffid "$1" --arg by "hack/build-images.sh $NAME" '{
		created: $created, architecture: "amd64", os: "linux",
		config: ({User: $user, Env: $env, Entrypoint: $entrypoint, Cmd: $cmd,
			WorkingDir: $workdir, ExposedPorts: $ports, Labels: $labels}
			| with_entries(select(.value != null and .value != "" and .value != {} and .value != []))),
		rootfs: {type: "layers", diff_ids: [$diffid]},
		history: [{created: $created, created_by: $by}]
	}'
}

# build_image NAME: build one image unless its cached archive is current.
# Runs in a subshell: the descriptor's variables and functions stay there.
build_image() (
	load_image "$1"
	local archive meta key work root logf started
	archive=$(archive_of "$IMAGE_REF")
	meta=$(meta_of "$archive")
	key=$(input_key)
	if [ -f "$archive" ] && [ "$(meta_get "$archive" KEY)" = "$key" ]; then
		log "$NAME: reusing the cached $archive (build inputs unchanged)"
		exit 0
	fi
	started=$SECONDS
	work=$BUILD_WORK/$NAME
	root=$work/rootfs
	logf=$IMAGE_CACHE/logs/$NAME.log
	trap 'unmount_below "$work"' EXIT
	safe_rm "$work"
	mkdir -p "$work"
	: >"$logf"
	log "$NAME: building $IMAGE_REF (log: $logf)"

	case $IMAGE_FROM in
	trixie | sid)
		local base
		base=$(base_ensure "$IMAGE_FROM")
		cp -a --reflink=auto "$base/rootfs" "$root"
		;;
	*) oci_rootfs_from "$(parent_archive "$IMAGE_FROM")" "$root" ;;
	esac

	root_enter "$root" "$IMAGE_PROC"
	mkdir -p "$root/tmp/build"
	cp -r "$IMAGES_DIR/base/lib-root.sh" "$DIR"/. "$root/tmp/build/"
	if declare -F image_before_install >/dev/null; then image_before_install "$root"; fi
	if ! root_run "$root" "${IMAGE_INSTALL_ENV[@]}" bash /tmp/build/install.sh >>"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		die "$NAME: images/$(image_dir "$NAME")/install.sh failed (full log: $logf); the" \
			"lines above name the cause"
	fi
	root_leave "$root"
	check_versions "$root"
	CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	local labels
	labels=$(labels_json "$root")
	if [ "$IMAGE_SCRATCH" = 1 ]; then
		mkdir -p "$work/final"
		image_assemble "$root" "$work/final"
		root=$work/final
	else
		root_finalize "$root"
	fi

	oci_layer "$root" "$work"
	local layer_desc layer_digest layer_size
	oci_layout_new "$work/oci"
	read -r layer_digest layer_size < <(oci_add_blob "$work/oci" "$work/layer.tar.gz")
	layer_desc=$(jq -cn --arg d "$layer_digest" --argjson s "$layer_size" \
		'[{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]')
	config_json "$LAYER_DIFF_ID" "$labels" >"$work/config.json"
	oci_finish "$work/oci" "$IMAGE_REF" "$work/config.json" "$layer_desc"
	oci_pack "$work/oci" "$archive"
	cat >"$meta" <<-EOF
		KEY=$key
		REF=$IMAGE_REF
		MANIFEST_DIGEST=$MANIFEST_DIGEST
		COMPRESSED=$(stat -c %s "$archive")
		UNCOMPRESSED=$LAYER_TAR_SIZE
		BUILD_SECONDS=$((SECONDS - started))
		CREATED=$CREATED
	EOF
	trap - EXIT
	safe_rm "$work"
	log "$NAME: wrote $archive in $((SECONDS - started)) s"
)

# expand_names NAME...: the images to build, in build order, each after the
# image it derives from.
expand_names() {
	local n out=() seen=" "
	add() {
		local parent
		case $seen in *" $1 "*) return 0 ;; esac
		parent=$( (load_image "$1" && echo "$IMAGE_FROM")) || exit 1
		case $parent in trixie | sid) ;; *) add "$parent" ;; esac
		out+=("$1")
		seen+="$1 "
	}
	for n in "$@"; do
		case $n in
		postgres) add postgres-17 && add postgres-18 ;;
		*) add "$n" ;;
		esac
	done
	echo "${out[@]}"
}

# import_image NAME: import the archive of image NAME into containerd.
import_image() {
	local ref archive
	ref=$( (load_image "$1" && echo "$IMAGE_REF"))
	archive=$(archive_of "$ref")
	oci_import "$IMPORT_SOCK" "$ref" "$archive" "$(meta_get "$archive" MANIFEST_DIGEST)"
}

# print_sizes NAME...: each image's archive (compressed) and layer
# (uncompressed) size, in MiB.
print_sizes() {
	local n ref archive
	printf '%-18s %-46s %10s %12s %6s\n' IMAGE REFERENCE COMPRESSED UNCOMPRESSED BUILD
	for n in "$@"; do
		ref=$( (load_image "$n" && echo "$IMAGE_REF"))
		archive=$(archive_of "$ref")
		awk -v n="$n" -v r="$ref" -v c="$(meta_get "$archive" COMPRESSED)" \
			-v u="$(meta_get "$archive" UNCOMPRESSED)" -v t="$(meta_get "$archive" BUILD_SECONDS)" \
			'BEGIN { printf "%-18s %-46s %6.1f MiB %8.1f MiB %5ss\n", n, r, c / 1048576, u / 1048576, t }'
	done
}

main() {
	local do_import=0 names=() n
	while [ $# -gt 0 ]; do
		case $1 in
		--import) do_import=1 ;;
		-h | --help) usage 0 ;;
		-*) usage 2 >&2 ;;
		*) names+=("$1") ;;
		esac
		shift
	done
	[ ${#names[@]} -gt 0 ] || names=("${ALL_IMAGES[@]}")
	[ "$(id -u)" = 0 ] || die "run as root: debootstrap and chroot need it"

	# shellcheck source=../images/versions.env
	source "$IMAGES_DIR/versions.env"
	local order
	order=$(expand_names "${names[@]}")

	if [ "$do_import" = 1 ]; then
		IMPORT_SOCK=${IMAGES_CONTAINERD_SOCK:-$CONTAINERD_SOCK}
		command -v "${CTR:-ctr}" >/dev/null || die "ctr not found (Debian package containerd); cannot import"
		[ -S "$IMPORT_SOCK" ] || die "no containerd socket at $IMPORT_SOCK: start the cluster first (hack/cluster-up.sh)"
	fi
	ensure_packages debootstrap pigz jq
	mkdir -p "$IMAGE_CACHE/logs" "$IMAGE_CACHE/apt-archives"
	exec 9>"$IMAGE_CACHE/.build.lock"
	flock -n 9 || {
		log "another image build holds $IMAGE_CACHE/.build.lock; waiting for it"
		flock 9
	}
	# A run that was killed may have left mounts and scratch behind.
	unmount_below "$BUILD_WORK"
	safe_rm "$BUILD_WORK"
	mkdir -p "$BUILD_WORK"
	trap 'unmount_below "$BUILD_WORK"' EXIT
	# Debs not used for a week leave the package cache.
	find "$IMAGE_CACHE/apt-archives" -name '*.deb' -atime +7 -delete

	local started=$SECONDS
	for n in $order; do
		build_image "$n"
	done
	log "images ready in $((SECONDS - started)) s"
	# shellcheck disable=SC2086
	print_sizes $order

	if [ "$do_import" = 1 ]; then
		for n in $order; do import_image "$n" || die "importing $n failed"; done
	fi
	safe_rm "$BUILD_WORK"
}

main "$@"
