#!/usr/bin/env bash
# Makes throwaway certificates for the Patroni end-to-end test with openssl,
# shaped like the PKI PGO builds (notes/pgo-reference.md §6):
#
#   root.crt/.key        ECDSA P-256 root, CN postgres-operator-ca, 10 years
#   cluster.crt/.key     Postgres server cert: CN and SANs are the names of
#                        the <cluster>-primary and <cluster>-replicas Services
#                        in their four forms (svc.domain, svc, ns, bare)
#   replication.crt/.key client cert of the replication user, CN _crunchyrepl
#                        (pg_hba "cert" maps the CN to the role)
#   <instance>.crt/.key  one per instance: the Patroni REST API server cert,
#                        SANs <instance>-0.<cluster>-pods in its four forms
#   client.crt/.key      a client of the REST API standing in for the operator
#
# Leaves are ECDSA P-256, one year, signed with SHA-384. Nothing here is
# meant to outlive the test namespace.
#
# Usage: certs.sh OUTDIR NAMESPACE CLUSTER INSTANCE...
set -euo pipefail
[ $# -ge 3 ] || {
	echo "usage: $0 OUTDIR NAMESPACE CLUSTER INSTANCE..." >&2
	exit 2
}
out=$1 ns=$2 cluster=$3
shift 3
domain=${CLUSTER_DOMAIN:-cluster.local}
mkdir -p "$out"
cd "$out"
umask 077

# forms HOST: the DNS names a Service-style HOST answers to, as SAN entries.
forms() {
	printf 'DNS:%s.%s.svc.%s,DNS:%s.%s.svc,DNS:%s.%s,DNS:%s' \
		"$1" "$ns" "$domain" "$1" "$ns" "$1" "$ns" "$1"
}

# common_name HOST: the longest form of HOST that fits in a common name.
# X.509 caps the CN at 64 characters and OpenSSL enforces it; a fully
# qualified name in a long namespace does not fit (Go's x509, which PGO
# uses, does not check). Clients match the SANs anyway.
common_name() {
	local name
	for name in "$1.$ns.svc.$domain" "$1.$ns.svc" "$1.$ns" "$1"; do
		[ ${#name} -le 64 ] && break
	done
	printf '%s' "${name:0:64}"
}

# run COMMAND...: quiet unless it fails.
run() {
	local out
	out=$("$@" 2>&1) || {
		printf 'certs.sh: %s failed:\n%s\n' "$1 $2" "$out" >&2
		return 1
	}
}

# leaf NAME CN SAN: a key and a certificate signed by the root.
leaf() {
	local name=$1 cn=$2 san=$3
	run openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$name.key" -out "$name.csr" -subj "/CN=$cn"
	printf '%s\n' \
		'basicConstraints = critical, CA:FALSE' \
		'keyUsage = critical, digitalSignature, keyEncipherment' \
		"subjectAltName = $san" >"$name.ext"
	run openssl x509 -req -in "$name.csr" -CA root.crt -CAkey root.key \
		-set_serial "0x$(openssl rand -hex 16)" -days 365 -sha384 \
		-extfile "$name.ext" -out "$name.crt"
	rm -f "$name.csr" "$name.ext"
}

run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha384 \
	-keyout root.key -out root.crt -days 3650 -subj /CN=postgres-operator-ca \
	-addext 'basicConstraints = critical, CA:TRUE, pathlen:0' \
	-addext 'keyUsage = critical, keyCertSign, cRLSign'

leaf cluster "$(common_name "$cluster-primary")" \
	"$(forms "$cluster-primary"),$(forms "$cluster-replicas")"
leaf replication _crunchyrepl DNS:_crunchyrepl
leaf client postgres-operator DNS:postgres-operator
for instance in "$@"; do
	leaf "$instance" "$(common_name "$instance-0.$cluster-pods")" "$(forms "$instance-0.$cluster-pods")"
done

# Every leaf must chain to the root.
for crt in cluster replication client "$@"; do
	run openssl verify -CAfile root.crt "$crt.crt"
done
