#!/usr/bin/env bash
# The operator image: the operator base (OPERATOR_BASE_IMAGE, built by
# hack/build-images.sh from images/operator/install.sh) plus one more layer
# with the C binary, and optionally a tree of extra files. This is the hook
# the operator's build calls once it has a binary.
#
# Usage: images/operator/build.sh [--import] [--ref REF] [--extra DIR] BINARY
#   BINARY       the postgres-operator executable (built on the host)
#   --ref REF    the image reference; default OPERATOR_IMAGE from
#                images/versions.env (never :latest)
#   --extra DIR  a directory copied over the image's / (owned by root), e.g.
#                with opt/crunchy/conf/ for the pgMonitor query files
#   --import     also import it into the cluster's containerd
#                ($CONTAINERD_SOCK, or IMAGES_CONTAINERD_SOCK)
# Writes $IMAGE_CACHE/<repository>-<tag>.tar and prints its path.
#
# Why a second layer instead of one: the base layer is reused byte for byte,
# so a new binary costs a layer of a few MB (no repacking of the base), and
# containerd keeps the base layer once for every operator build.
# Before packing, `ldd` of the binary inside the base must find every
# library: a library the base lacks stops the build with its name.
# The binary lands in /usr/local/bin/postgres-operator, the entrypoint; the
# user is the base's (65532, any UID works).
source "$(dirname "$0")/../../hack/lib.sh"
shopt -s inherit_errexit
IMAGES_DIR=$ROOT_DIR/images
# shellcheck source=../lib/oci.sh
source "$IMAGES_DIR/lib/oci.sh"
# shellcheck source=../versions.env
source "$IMAGES_DIR/versions.env"

usage() {
	sed -n '7,14p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# base_archive: the base's archive, built (or found current) by
# hack/build-images.sh.
base_archive() {
	"$ROOT_DIR/hack/build-images.sh" operator >&2 || die "building the operator base failed"
	archive_of "$OPERATOR_BASE_IMAGE"
}

# check_libraries ARCHIVE BINARY WORK: ldd of BINARY inside the base's root.
check_libraries() {
	local root=$3/base-root missing
	oci_rootfs_from "$1" "$root" || die "cannot unpack $1"
	install -D -m 755 "$2" "$root/usr/local/bin/postgres-operator"
	missing=$(chroot "$root" /usr/bin/ldd /usr/local/bin/postgres-operator 2>&1 | grep 'not found' || true)
	rm -rf --one-file-system "$root"
	[ -z "$missing" ] || die "the operator base lacks libraries the binary needs:" \
		"$(echo "$missing" | awk '{ print $1 }' | tr '\n' ' ')-- add the Debian packages" \
		"that ship them to images/operator/install.sh"
}

main() {
	local do_import=0 ref=${OPERATOR_IMAGE:-} extra='' binary=''
	while [ $# -gt 0 ]; do
		case $1 in
		--import) do_import=1 ;;
		--ref) ref=${2:?--ref needs a reference} && shift ;;
		--extra) extra=${2:?--extra needs a directory} && shift ;;
		-h | --help | -*) usage ;;
		*)
			[ -z "$binary" ] || usage
			binary=$1
			;;
		esac
		shift
	done
	[ -n "$binary" ] || usage
	[ -n "$ref" ] || die "no --ref and no OPERATOR_IMAGE in images/versions.env"
	[ -x "$binary" ] || die "$binary is not an executable file"
	[[ $ref == */*:* ]] || die "give a full reference with a tag, e.g. localhost/postgres-operator:0.1.0"
	[ "${ref##*:}" != latest ] || die "never tag an image latest: kubelet would try to pull it"
	[ -z "$extra" ] || [ -d "$extra" ] || die "$extra is not a directory"
	local version
	version=$(sed -n "s/^ *version: *'\([^']*\)'.*/\1/p" "$ROOT_DIR/meson.build" 2>/dev/null | head -n 1)
	case ${ref##*:} in "$version" | "$version"-*) ;; *)
		log "warning: tag ${ref##*:} does not carry meson.build's version ${version:-?}" \
			"(update OPERATOR_IMAGE in images/versions.env)"
		;;
	esac
	ensure_packages pigz jq

	local base work out
	base=$(base_archive)
	work=$(mktemp -d "${TMPDIR:-/tmp}/operator-image.XXXXXX")
	# shellcheck disable=SC2064 # the path is fixed now
	trap "rm -rf --one-file-system '$work'" EXIT
	check_libraries "$base" "$binary" "$work"

	# The new layer: the binary and the extra tree, owned by root.
	mkdir -p "$work/layer-root/usr/local/bin"
	install -m 755 "$binary" "$work/layer-root/usr/local/bin/postgres-operator"
	[ -z "$extra" ] || cp -a --no-preserve=ownership "$extra/." "$work/layer-root/"
	oci_layer "$work/layer-root" "$work"

	oci_unpack "$base" "$work/oci"
	local base_manifest=$MANIFEST_FILE base_config=$CONFIG_FILE layer_digest layer_size created layers
	read -r layer_digest layer_size < <(oci_add_blob "$work/oci" "$work/layer.tar.gz")
	created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	layers=$(jq -c --arg d "$layer_digest" --argjson s "$layer_size" \
		'.layers + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' \
		"$base_manifest")
	jq -c --arg diffid "$LAYER_DIFF_ID" --arg created "$created" --arg ref "$ref" \
		--arg sum "$(sha256sum "$binary" | cut -d' ' -f1)" --arg base "$OPERATOR_BASE_IMAGE" '
		.created = $created
		| .rootfs.diff_ids += [$diffid]
		| .config.Entrypoint = ["/usr/local/bin/postgres-operator"]
		| .config.Cmd = null
		| .config.Labels += {
			"org.opencontainers.image.title": "postgres-operator",
			"org.opencontainers.image.description": "PostgreSQL operator for Kubernetes, compatible with PGO v5",
			"org.opencontainers.image.version": ($ref | split(":") | last),
			"org.opencontainers.image.ref.name": $ref,
			"org.opencontainers.image.created": $created,
			"org.opencontainers.image.base.name": $base,
			"local.pgo.operator.sha256": $sum}
		| .history += [{created: $created, created_by: "images/operator/build.sh"}]' \
		"$base_config" >"$work/config.json"
	# The base's own manifest and config are no longer referenced.
	rm -f "$base_manifest" "$base_config"
	oci_finish "$work/oci" "$ref" "$work/config.json" "$layers"
	out=$(archive_of "$ref")
	oci_pack "$work/oci" "$out"
	printf 'REF=%s\nMANIFEST_DIGEST=%s\nCOMPRESSED=%s\nCREATED=%s\n' "$ref" "$MANIFEST_DIGEST" \
		"$(stat -c %s "$out")" "$created" >"$(meta_of "$out")"
	log "wrote $out ($ref, $(($(stat -c %s "$out") / 1048576)) MiB)"
	if [ "$do_import" = 1 ]; then
		oci_import "${IMAGES_CONTAINERD_SOCK:-$CONTAINERD_SOCK}" "$ref" "$out" "$MANIFEST_DIGEST" ||
			die "importing $ref failed"
	fi
	echo "$out"
}

main "$@"
