# shellcheck shell=bash disable=SC2034 # the LAYER_*, MANIFEST_* and CONFIG_FILE results are for the caller
# OCI image archives without a registry or an image tool. Sourced by
# hack/build-images.sh and images/operator/build.sh; needs tar, pigz, jq and
# sha256sum on the host.
#
# An archive is an OCI image layout (oci-layout, index.json, blobs/sha256/)
# in a plain tar, which `ctr images import` reads. index.json names the image
# with both the `io.containerd.image.name` and the
# `org.opencontainers.image.ref.name` annotation set to the full reference,
# so ctr imports it under that name without --base-name.
#
# The steps, in the order a build uses them:
#   oci_layer ROOT DIR        tar ROOT (numeric owners) into DIR/layer.tar.gz;
#                             sets LAYER_DIFF_ID and LAYER_TAR_SIZE
#   oci_layout_new DIR        empty layout
#   oci_add_blob DIR FILE     move FILE in as a blob; prints "sha256:<hex> <size>"
#   oci_finish DIR REF CONFIG LAYERS_JSON
#                             add the config blob (a file), the manifest and
#                             index.json; LAYERS_JSON is the manifest's layer
#                             descriptor list; sets MANIFEST_DIGEST
#   oci_pack DIR OUT          tar the layout into OUT, atomically
#   oci_unpack OUT DIR        the reverse, for images built on top of another
#   oci_import SOCK REF ARCHIVE DIGEST
#                             `ctr images import` unless containerd has it
#
# Archives live in $IMAGE_CACHE as <repository>-<tag>.tar (archive_of), each
# with a <repository>-<tag>.meta file of KEY=value lines beside it (meta_of,
# meta_get): the hash of its build inputs, its manifest digest, its sizes.

OCI_GZIP_LEVEL=${OCI_GZIP_LEVEL:-6}

# archive_of REF: the archive file of an image reference.
archive_of() {
	local repo=${1%:*}
	echo "$IMAGE_CACHE/${repo##*/}-${1##*:}.tar"
}

# meta_of ARCHIVE: the file that records an archive's inputs and sizes.
meta_of() { echo "${1%.tar}.meta"; }

# meta_get ARCHIVE KEY: one value from an archive's .meta file.
meta_get() {
	local meta
	meta=$(meta_of "$1")
	[ -f "$meta" ] && sed -n "s/^$2=//p" "$meta"
}

# oci_layer ROOT DIR: one layer from a whole root filesystem. The tar keeps
# numeric owners and file capabilities, never crosses into a mount, and sorts
# its entries, so the same tree gives the same layer. The uncompressed hash
# (the diff ID) and the compression run side by side.
oci_layer() {
	local root=$1 dir=$2
	tar --create --file="$dir/layer.tar" --directory="$root" --numeric-owner \
		--one-file-system --sort=name --xattrs --xattrs-include=security.capability .
	sha256sum "$dir/layer.tar" >"$dir/layer.sha256" &
	local hasher=$!
	pigz -n "-$OCI_GZIP_LEVEL" -c "$dir/layer.tar" >"$dir/layer.tar.gz"
	wait "$hasher"
	LAYER_DIFF_ID=sha256:$(cut -d' ' -f1 "$dir/layer.sha256")
	LAYER_TAR_SIZE=$(stat -c %s "$dir/layer.tar")
	rm -f "$dir/layer.tar" "$dir/layer.sha256"
}

# oci_layout_new DIR: an empty OCI image layout.
oci_layout_new() {
	mkdir -p "$1/blobs/sha256"
	printf '{"imageLayoutVersion":"1.0.0"}\n' >"$1/oci-layout"
}

# oci_add_blob DIR FILE: move FILE into the layout under its digest; prints
# "sha256:<hex> <size>".
oci_add_blob() {
	local dir=$1 file=$2 hex size
	hex=$(sha256sum "$file" | cut -d' ' -f1)
	size=$(stat -c %s "$file")
	mv "$file" "$dir/blobs/sha256/$hex"
	echo "sha256:$hex $size"
}

# oci_blob_path DIR DIGEST: where a blob lives in a layout.
oci_blob_path() { echo "$1/blobs/sha256/${2#sha256:}"; }

# oci_finish DIR REF CONFIG_FILE LAYERS_JSON: add the config, the manifest
# and an index.json naming the image REF.
oci_finish() {
	local dir=$1 ref=$2 config=$3 layers=$4 tmp cfg_digest cfg_size man_digest man_size
	tmp=$(mktemp "$dir/manifest.XXXXXX")
	read -r cfg_digest cfg_size < <(oci_add_blob "$dir" "$config")
	jq -cn --arg digest "$cfg_digest" --argjson size "$cfg_size" --argjson layers "$layers" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $digest, size: $size},
		layers: $layers
	}' | tr -d '\n' >"$tmp"
	read -r man_digest man_size < <(oci_add_blob "$dir" "$tmp")
	jq -cn --arg digest "$man_digest" --argjson size "$man_size" --arg ref "$ref" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [{
			mediaType: "application/vnd.oci.image.manifest.v1+json",
			digest: $digest, size: $size,
			platform: {architecture: "amd64", os: "linux"},
			annotations: {"io.containerd.image.name": $ref, "org.opencontainers.image.ref.name": $ref}
		}]
	}' >"$dir/index.json"
	MANIFEST_DIGEST=$man_digest
}

# oci_pack DIR OUT: the layout as a tar, written next to OUT and renamed.
oci_pack() {
	local dir=$1 out=$2
	tar --create --file="$out.partial" --directory="$dir" --numeric-owner --sort=name \
		oci-layout index.json blobs
	mv -f "$out.partial" "$out"
}

# oci_unpack ARCHIVE DIR: extract an archive made by oci_pack; sets
# MANIFEST_FILE and CONFIG_FILE to the blobs of its (single) image.
oci_unpack() {
	local archive=$1 dir=$2 digest
	mkdir -p "$dir"
	tar --extract --file="$archive" --directory="$dir"
	digest=$(jq -r '.manifests[0].digest' "$dir/index.json")
	MANIFEST_FILE=$(oci_blob_path "$dir" "$digest")
	CONFIG_FILE=$(oci_blob_path "$dir" "$(jq -r '.config.digest' "$MANIFEST_FILE")")
}

# oci_rootfs_from ARCHIVE ROOT: unpack the layers of an image into ROOT (our
# images carry no whiteouts, which is checked).
oci_rootfs_from() {
	local archive=$1 root=$2 tmp digest
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/oci-unpack.XXXXXX")
	oci_unpack "$archive" "$tmp"
	mkdir -p "$root"
	for digest in $(jq -r '.layers[].digest' "$MANIFEST_FILE"); do
		tar --extract --gzip --numeric-owner --xattrs --xattrs-include=security.capability \
			--file="$(oci_blob_path "$tmp" "$digest")" --directory="$root"
	done
	rm -rf "$tmp"
	if [ -n "$(find "$root" -name '.wh.*' -print -quit)" ]; then
		echo "oci_rootfs_from: $archive has whiteout entries, which are not supported" >&2
		return 1
	fi
}

# oci_import SOCK REF ARCHIVE DIGEST: import ARCHIVE into the k8s.io
# namespace of the containerd at SOCK, unless it already has REF with the
# manifest DIGEST; then check that it has. $CTR names the ctr binary.
oci_import() {
	local sock=$1 ref=$2 archive=$3 digest=$4 ctr=${CTR:-ctr} present
	present=$("$ctr" --address "$sock" -n k8s.io images ls "name==$ref" 2>/dev/null |
		awk 'NR == 2 { print $3 }')
	if [ -n "$digest" ] && [ "$present" = "$digest" ]; then
		echo "$ref: already in containerd ($digest)" >&2
		return 0
	fi
	echo "$ref: importing $archive" >&2
	"$ctr" --address "$sock" -n k8s.io images import "$archive" >/dev/null || {
		echo "oci_import: importing $archive into the containerd at $sock failed" >&2
		return 1
	}
	present=$("$ctr" --address "$sock" -n k8s.io images ls "name==$ref" | awk 'NR == 2 { print $3 }')
	if [ -n "$digest" ] && [ "$present" != "$digest" ]; then
		echo "oci_import: $ref has digest '$present' in containerd, expected $digest" >&2
		return 1
	fi
}
