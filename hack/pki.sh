#!/usr/bin/env bash
# Creates the local cluster's PKI with openssl: one CA, the service-account
# signing key, serving certificates and the client certificates of each
# component, and a kubeconfig per client. Existing files are kept, so a
# second run changes nothing; cluster-down removes them with the state.
#
# Usage: hack/pki.sh API_ADDRESS
source "$(dirname "$0")/lib.sh"

api_address=${1:?usage: pki.sh API_ADDRESS}
pki=$STATE_DIR/pki
mkdir -p "$pki"
chmod 700 "$pki"
cd "$pki"

# new_key NAME: an EC P-256 private key, kept if present.
new_key() {
	[ -f "$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$1.key" 2>/dev/null
	chmod 600 "$1.key"
}

# issue NAME SUBJECT USAGE [SANS]: a certificate signed by the CA, valid one
# year. USAGE is serverAuth, clientAuth or both.
issue() {
	local name=$1 subject=$2 usage=$3 sans=${4:-}
	[ -f "$name.crt" ] && return 0
	new_key "$name"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$usage"
		[ -n "$sans" ] && echo "subjectAltName=$sans"
	} >"$name.ext"
	openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr" 2>/dev/null
	openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
		-days 365 -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
	rm -f "$name.csr" "$name.ext"
}

# kubeconfig NAME: a kubeconfig for the client certificate NAME.
kubeconfig() {
	local name=$1 file=$STATE_DIR/$1.kubeconfig
	[ -f "$file" ] && return 0
	cat >"$file" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: local
		  cluster:
		    server: https://$api_address:6443
		    certificate-authority: $pki/ca.crt
		users:
		- name: $name
		  user:
		    client-certificate: $pki/$name.crt
		    client-key: $pki/$name.key
		contexts:
		- name: local
		  context: {cluster: local, user: $name}
		current-context: local
	EOF
	chmod 600 "$file"
}

if [ ! -f ca.crt ]; then
	log "creating the cluster CA"
	new_key ca
	openssl req -x509 -new -key ca.key -subj "/CN=pgo-local-ca" -days 3650 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
		-out ca.crt 2>/dev/null
fi
[ -f sa.key ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
[ -f sa.pub ] || openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
chmod 600 sa.key

api_sans="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
api_sans+=",DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost"
api_sans+=",IP:127.0.0.1,IP:$api_address,IP:$SERVICE_API_IP"
issue apiserver "/CN=kube-apiserver" serverAuth "$api_sans"
issue kubelet-serving "/CN=$NODE_NAME" serverAuth "DNS:$NODE_NAME,IP:$api_address"
issue apiserver-kubelet-client "/O=kube-apiserver-kubelet-client/CN=kube-apiserver" clientAuth
issue admin "/O=system:masters/CN=pgo-local-admin" clientAuth
issue controller-manager "/CN=system:kube-controller-manager" clientAuth
issue scheduler "/CN=system:kube-scheduler" clientAuth
issue kube-proxy "/CN=system:kube-proxy" clientAuth
issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
issue coredns "/CN=pgo-local:coredns" clientAuth
issue provisioner "/CN=pgo-local:provisioner" clientAuth

for name in admin controller-manager scheduler kube-proxy kubelet coredns provisioner; do
	kubeconfig "$name"
done
