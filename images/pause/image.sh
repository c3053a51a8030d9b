# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the pod sandbox ("pause") image: Debian's catatonit, a tiny
# statically linked init, as /bin/pause, run as `pause -P` (pause mode: it
# starts nothing, holds the pod's namespaces, reaps zombies when the pod
# shares its PID namespace, and exits on a signal). Named
# registry.k8s.io/pause:3.10 so that containerd and kubelet find their
# default sandbox image locally.
IMAGE_REF_VAR=PAUSE_IMAGE
IMAGE_FROM=trixie
IMAGE_SCRATCH=1
IMAGE_LABEL_PACKAGES=(catatonit)
IMAGE_TITLE=pause
IMAGE_DESCRIPTION="Pod sandbox image: catatonit in pause mode (Debian trixie)"
IMAGE_USER=65535:65535
IMAGE_ENTRYPOINT='["/bin/pause", "-P"]'

# image_assemble BUILD_ROOT ROOT: the image is the one binary.
image_assemble() {
	mkdir -p "$2/bin"
	install -m 755 "$1/usr/bin/catatonit" "$2/bin/pause"
}
