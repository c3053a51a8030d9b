# shellcheck shell=bash
# Storage services on the local cluster for the tests of pgBackRest's cloud
# repositories: an S3 service (moto's server), a GCS service (fake-gcs-server)
# and an Azure Blob service (Azurite), each a Deployment and a Service in a
# namespace of the test's, serving HTTPS with a certificate from a throwaway
# CA. Sourced after tap.sh and kube.sh (k, ROOT_DIR, CONTAINERD_SOCK and the
# image references of images/versions.env).
#
# Offers (KIND is s3, gcs or azure; the Service, Deployment and host are
# named KIND, so the server answers at KIND.NS.svc):
#   storage_images [KIND...]        build and import the servers' images
#                                   where needed (hack/build-images.sh
#                                   --import: minutes on a cold machine,
#                                   which is why `make cluster-up` does not
#                                   build them; instant when they are current)
#   storage_ca NS                   the CA: Secret storage-ca (ca.crt, what
#                                   pgBackRest verifies against) and
#                                   storage-ca-key (its key, for issuing)
#   storage_deploy KIND NS          server certificate, credentials, server;
#                                   waits until it is Ready
#   storage_bucket KIND NS BUCKET   create a bucket (s3, gcs) or container
#                                   (azure); creating it again is no error
#   storage_repo_options KIND NS REPO BUCKET CA_FILE
#                                   pgbackrest.conf lines for repoREPO on it,
#                                   the keys included
#   storage_remove NS [KIND...]     remove the servers (all three by default),
#                                   their Secrets and, with no KIND, the CA
#   storage_diagnose NS             state and logs, for a failing check
#
# Secrets per server: KIND-tls (tls.crt, tls.key: the server's certificate,
# issued for KIND, KIND.NS, KIND.NS.svc, KIND.NS.svc.cluster.local,
# localhost and 127.0.0.1) and KIND-credentials (below). Every object
# carries the label app.kubernetes.io/component=pgo-test-storage.
#
# What pgBackRest needs for each (what storage_repo_options prints; N the
# repository, NS the namespace, CA the path where the client finds
# ca.crt of Secret storage-ca). pgBackRest verifies the server's certificate
# against repoN-storage-ca-file: nothing here turns verification off. The
# options named -key, -key-secret and -account are secrets: in a
# PostgresCluster they belong in the Secret of
# spec.backups.pgbackrest.configuration, the rest in
# spec.backups.pgbackrest.global or the repo's own fields.
#
#   S3 (moto under gunicorn; it checks no signature, so any key pair works;
#   its buckets live in memory and go with the pod):
#     repoN-type=s3
#     repoN-s3-endpoint=s3.NS.svc
#     repoN-storage-port=9000
#     repoN-s3-uri-style=path         the bucket is the path's first part
#                                     (host style would need a DNS name per
#                                     bucket)
#     repoN-s3-region=us-east-1       any region: moto takes what it gets
#     repoN-s3-bucket=BUCKET
#     repoN-s3-key=KEY                Secret s3-credentials, key "key"
#     repoN-s3-key-secret=SECRET      Secret s3-credentials, key "key-secret"
#     repoN-storage-ca-file=CA
#
#   GCS (fake-gcs-server's API behind images/gcs/main.go, which adds the
#   upload id header pgBackRest reads in resumable uploads; it checks no
#   token):
#     repoN-type=gcs
#     repoN-gcs-endpoint=gcs.NS.svc:4443
#                                     the port goes in the endpoint:
#                                     pgBackRest ignores repoN-storage-port
#                                     for GCS (it only takes it for S3 and
#                                     Azure) and would go to 443
#     repoN-gcs-bucket=BUCKET
#     repoN-gcs-key-type=token        pgBackRest sends repoN-gcs-key as the
#                                     bearer token; "service" (the default)
#                                     would first fetch a token from the
#                                     service account's token_uri, which the
#                                     fake does not serve, and "auto" asks
#                                     the GCE metadata server
#     repoN-gcs-key=TOKEN             Secret gcs-credentials, key "token"
#     repoN-storage-ca-file=CA
#
#   Azure Blob (Azurite, run with the account of Secret azure-credentials;
#   it does check the shared key):
#     repoN-type=azure
#     repoN-azure-endpoint=azure.NS.svc
#     repoN-storage-port=10000
#     repoN-azure-uri-style=path      the account is the path's first part
#                                     (Azurite runs with
#                                     --disableProductStyleUrl)
#     repoN-azure-account=ACCOUNT     Secret azure-credentials, key "account"
#     repoN-azure-key=KEY             Secret azure-credentials, key "key"
#                                     (base64; repoN-azure-key-type=shared,
#                                     the default)
#     repoN-azure-container=BUCKET
#     repoN-storage-ca-file=CA
#
# Each server keeps its data only as long as its pod: moto in memory, the
# other two in an emptyDir. The pods fit the restricted Pod Security
# Standard (non-root numeric users, read-only root file systems).

STORAGE_LABEL=app.kubernetes.io/component=pgo-test-storage
STORAGE_KINDS=(s3 gcs azure)

# storage_image KIND: the image reference of KIND's server.
storage_image() {
	case $1 in
	s3) echo "$S3_SERVER_IMAGE" ;;
	gcs) echo "$GCS_SERVER_IMAGE" ;;
	azure) echo "$AZURE_SERVER_IMAGE" ;;
	*)
		echo "storage: unknown kind '$1' (s3, gcs, azure)" >&2
		return 1
		;;
	esac
}

# storage_port KIND: the port KIND's server listens on, and its Service's.
storage_port() {
	case $1 in
	s3) echo 9000 ;;
	gcs) echo 4443 ;;
	azure) echo 10000 ;;
	*) return 1 ;;
	esac
}

# storage_images [KIND...]: the servers' images, current, in the cluster's
# containerd: hack/build-images.sh --import builds those whose recipe
# changed or that were never built, imports those containerd lacks, and
# returns at once when there is nothing to do. Needs root (chroot). Output
# in ${STORAGE_BUILD_LOG:-/tmp/pgo-storage-images.log}.
storage_images() {
	local kinds=("$@") kind log=${STORAGE_BUILD_LOG:-/tmp/pgo-storage-images.log}
	[ ${#kinds[@]} -gt 0 ] || kinds=("${STORAGE_KINDS[@]}")
	for kind in "${kinds[@]}"; do storage_image "$kind" >/dev/null || return 1; done
	if ! "$ROOT_DIR/hack/build-images.sh" --import "${kinds[@]}" >"$log" 2>&1; then
		tail -n 20 "$log"
		echo "storage: building or importing ${kinds[*]} failed (log: $log)"
		return 1
	fi
}

# _storage_secret_value NS SECRET KEY: one decoded value of a Secret.
_storage_secret_value() {
	k -n "$1" get secret "$2" -o "jsonpath={.data.$3}" | base64 -d
}

# _storage_openssl_config DIR: extensions of the CA and of server certificates.
_storage_openssl_config() {
	cat >"$1/openssl.cnf" <<-'EOF'
		[req]
		distinguished_name = dn
		prompt = no
		[dn]
		[ca]
		basicConstraints = critical, CA:TRUE
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash
		[server]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = serverAuth
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid
		subjectAltName = $ENV::STORAGE_SAN
	EOF
}

# storage_ca NS: a throwaway CA (EC P-256, valid 7 days) for NS's servers,
# unless NS has one: Secrets storage-ca (ca.crt) and storage-ca-key (tls.crt,
# tls.key).
storage_ca() {
	local ns=$1 dir rc=0
	k -n "$ns" get secret storage-ca-key >/dev/null 2>&1 && return 0
	dir=$(mktemp -d) || return 1
	_storage_openssl_config "$dir"
	{
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" &&
			STORAGE_SAN=DNS:unused openssl req -x509 -new -key "$dir/ca.key" -subj "/CN=pgo test storage CA $ns" \
				-config "$dir/openssl.cnf" -extensions ca -days 7 -sha256 -out "$dir/ca.crt" &&
			k -n "$ns" create secret tls storage-ca-key --cert="$dir/ca.crt" --key="$dir/ca.key" &&
			k -n "$ns" create secret generic storage-ca --from-file=ca.crt="$dir/ca.crt" &&
			k -n "$ns" label secret storage-ca-key storage-ca "$STORAGE_LABEL"
	} >"$dir/log" 2>&1 || {
		rc=1
		cat "$dir/log"
	}
	rm -rf "$dir"
	return $rc
}

# _storage_issue KIND NS: Secret KIND-tls, a server certificate from NS's CA
# for the Service's names.
_storage_issue() {
	local kind=$1 ns=$2 dir rc=0
	dir=$(mktemp -d) || return 1
	_storage_openssl_config "$dir"
	local san="DNS:$kind,DNS:$kind.$ns,DNS:$kind.$ns.svc,DNS:$kind.$ns.svc.${CLUSTER_DOMAIN:-cluster.local}"
	san+=",DNS:localhost,IP:127.0.0.1"
	{
		_storage_secret_value "$ns" storage-ca-key tls\\.crt >"$dir/ca.crt" &&
			_storage_secret_value "$ns" storage-ca-key tls\\.key >"$dir/ca.key" &&
			openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/tls.key" &&
			STORAGE_SAN=$san openssl req -new -key "$dir/tls.key" -subj "/CN=$kind.$ns.svc" \
				-config "$dir/openssl.cnf" -out "$dir/tls.csr" &&
			STORAGE_SAN=$san openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
				-set_serial "0x$(openssl rand -hex 16)" -days 7 -sha256 \
				-extfile "$dir/openssl.cnf" -extensions server -out "$dir/tls.crt" &&
			openssl verify -CAfile "$dir/ca.crt" "$dir/tls.crt" &&
			k -n "$ns" delete secret "$kind-tls" --ignore-not-found &&
			k -n "$ns" create secret tls "$kind-tls" --cert="$dir/tls.crt" --key="$dir/tls.key" &&
			k -n "$ns" label secret "$kind-tls" "$STORAGE_LABEL"
	} >"$dir/log" 2>&1 || {
		rc=1
		cat "$dir/log"
	}
	rm -rf "$dir"
	return $rc
}

# _storage_credentials KIND NS: Secret KIND-credentials, made once.
#   s3: key, key-secret (moto takes any); gcs: token (not checked);
#   azure: account, key (base64 of 64 random bytes, as Azure's are) and
#   AZURITE_ACCOUNTS (account:key, Azurite's variable).
_storage_credentials() {
	local kind=$1 ns=$2 key
	k -n "$ns" get secret "$kind-credentials" >/dev/null 2>&1 && return 0
	case $kind in
	s3)
		k -n "$ns" create secret generic s3-credentials --from-literal=key="pgbackrest-$(openssl rand -hex 4)" \
			--from-literal=key-secret="$(openssl rand -hex 20)"
		;;
	gcs) k -n "$ns" create secret generic gcs-credentials --from-literal=token="$(openssl rand -hex 24)" ;;
	azure)
		key=$(openssl rand -base64 64 | tr -d '\n')
		k -n "$ns" create secret generic azure-credentials --from-literal=account=pgbackrest \
			--from-literal=key="$key" --from-literal=AZURITE_ACCOUNTS="pgbackrest:$key"
		;;
	esac >/dev/null || return 1
	k -n "$ns" label secret "$kind-credentials" "$STORAGE_LABEL" >/dev/null
}

# _storage_container KIND: the container's args, env and data mount (8
# spaces in, under a container of a Deployment's pod template).
_storage_container() {
	case $1 in
	s3)
		cat <<-'EOF'
			args: [--certfile, /tls/tls.crt, --keyfile, /tls/tls.key]
			volumeMounts:
			  - {name: tls, mountPath: /tls, readOnly: true}
			  - {name: ca, mountPath: /ca, readOnly: true}
			  - {name: tmp, mountPath: /tmp}
		EOF
		;;
	gcs)
		cat <<-'EOF'
			args: [-addr, ":4443", -cert, /tls/tls.crt, -key, /tls/tls.key, -root, /var/lib/gcs-server]
			volumeMounts:
			  - {name: tls, mountPath: /tls, readOnly: true}
			  - {name: ca, mountPath: /ca, readOnly: true}
			  - {name: tmp, mountPath: /tmp}
			  - {name: data, mountPath: /var/lib/gcs-server}
		EOF
		;;
	azure)
		cat <<-'EOF'
			args: [--blobHost, 0.0.0.0, --blobPort, "10000", --location, /var/lib/azurite, --disableProductStyleUrl,
			  --skipApiVersionCheck, --cert, /tls/tls.crt, --key, /tls/tls.key]
			env:
			  - name: AZURITE_ACCOUNTS
			    valueFrom: {secretKeyRef: {name: azure-credentials, key: AZURITE_ACCOUNTS}}
			volumeMounts:
			  - {name: tls, mountPath: /tls, readOnly: true}
			  - {name: ca, mountPath: /ca, readOnly: true}
			  - {name: tmp, mountPath: /tmp}
			  - {name: data, mountPath: /var/lib/azurite}
		EOF
		;;
	esac | sed 's/^/          /'
}

# _storage_probe KIND: how the kubelet sees that KIND's server is ready (12
# spaces in): fake-gcs-server's health check over HTTPS (a bare TCP
# connection would fill its log with TLS errors), else a TCP connection.
_storage_probe() {
	case $1 in
	gcs) echo "httpGet: {scheme: HTTPS, port: 4443, path: /_internal/healthcheck}" ;;
	*) echo "tcpSocket: {port: $(storage_port "$1")}" ;;
	esac | sed 's/^/            /'
}

# storage_deploy KIND NS: KIND's server in NS (the CA is made if NS has
# none), and its Service; waits until the server is Ready (it listens).
storage_deploy() {
	local kind=$1 ns=$2 image port
	image=$(storage_image "$kind") || return 1
	port=$(storage_port "$kind")
	storage_ca "$ns" && _storage_issue "$kind" "$ns" && _storage_credentials "$kind" "$ns" || return 1
	k -n "$ns" apply -f - >/dev/null <<-EOF || return 1
		apiVersion: v1
		kind: Service
		metadata:
		  name: $kind
		  labels: {app.kubernetes.io/name: $kind, ${STORAGE_LABEL%%=*}: ${STORAGE_LABEL#*=}}
		spec:
		  selector: {app.kubernetes.io/name: $kind, ${STORAGE_LABEL%%=*}: ${STORAGE_LABEL#*=}}
		  ports: [{name: https, port: $port, targetPort: $port}]
		---
		apiVersion: apps/v1
		kind: Deployment
		metadata:
		  name: $kind
		  labels: {app.kubernetes.io/name: $kind, ${STORAGE_LABEL%%=*}: ${STORAGE_LABEL#*=}}
		spec:
		  replicas: 1
		  strategy: {type: Recreate}
		  selector:
		    matchLabels: {app.kubernetes.io/name: $kind, ${STORAGE_LABEL%%=*}: ${STORAGE_LABEL#*=}}
		  template:
		    metadata:
		      labels: {app.kubernetes.io/name: $kind, ${STORAGE_LABEL%%=*}: ${STORAGE_LABEL#*=}}
		    spec:
		      enableServiceLinks: false
		      automountServiceAccountToken: false
		      terminationGracePeriodSeconds: 2
		      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
		      containers:
		        - name: server
		          image: $image
		          imagePullPolicy: IfNotPresent
		          ports: [{name: https, containerPort: $port}]
		          readinessProbe:
		$(_storage_probe "$kind")
		            periodSeconds: 2
		          resources:
		            requests: {cpu: 20m, memory: 64Mi}
		            limits: {memory: 1Gi}
		          securityContext:
		            allowPrivilegeEscalation: false
		            capabilities: {drop: [ALL]}
		            readOnlyRootFilesystem: true
		            runAsNonRoot: true
		            seccompProfile: {type: RuntimeDefault}
		$(_storage_container "$kind")
		      volumes:
		        - {name: tls, secret: {secretName: $kind-tls}}
		        - {name: ca, secret: {secretName: storage-ca}}
		        - {name: tmp, emptyDir: {}}
		        - {name: data, emptyDir: {}}
	EOF
	k -n "$ns" rollout status "deployment/$kind" --timeout=180s >/dev/null || {
		echo "storage: $kind did not become Ready in 180 s"
		storage_diagnose "$ns"
		return 1
	}
}

# _storage_exec KIND NS COMMAND...: COMMAND in KIND's server container.
_storage_exec() {
	local kind=$1 ns=$2
	shift 2
	k -n "$ns" exec "deployment/$kind" -c server -- "$@"
}

# The Azure Blob request that creates a container, signed with the
# account's shared key (Azure's "Authorize with Shared Key"), in the server
# pod's Node.js. Path-style: the resource is /ACCOUNT/ACCOUNT/CONTAINER.
# shellcheck disable=SC2016 # JavaScript, not shell
_STORAGE_AZURE_CREATE='
const crypto = require("crypto"), https = require("https");
const [account, key, container] = process.argv.slice(1);
const date = new Date().toUTCString(), version = "2021-06-08";
const path = `/${account}/${container}`;
const toSign = ["PUT", "", "", "", "", "", "", "", "", "", "", "",
  `x-ms-date:${date}`, `x-ms-version:${version}`,
  `/${account}${path}`, "restype:container"].join("\n");
const signature = crypto.createHmac("sha256", Buffer.from(key, "base64")).update(toSign, "utf8").digest("base64");
const request = https.request({host: "localhost", port: 10000, method: "PUT", path: `${path}?restype=container`,
  headers: {"x-ms-date": date, "x-ms-version": version, "Content-Length": 0,
            Authorization: `SharedKey ${account}:${signature}`}}, (response) => {
  let body = "";
  response.on("data", (chunk) => body += chunk);
  response.on("end", () => {
    if (response.statusCode === 201 || response.statusCode === 409) process.exit(0);
    console.error(`HTTP ${response.statusCode}: ${body}`);
    process.exit(1);
  });
});
request.on("error", (error) => { console.error(error.message); process.exit(1); });
request.end();
'

# The S3 request that creates a bucket, with boto3 in the moto pod.
_STORAGE_S3_CREATE='
import sys, boto3
key, secret, bucket = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url="https://localhost:9000", region_name="us-east-1",
                  aws_access_key_id=key, aws_secret_access_key=secret, verify="/ca/ca.crt")
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
'

# storage_bucket KIND NS BUCKET: create BUCKET on KIND's server, over HTTPS
# from inside its pod (verified against the CA).
storage_bucket() {
	local kind=$1 ns=$2 bucket=$3 code
	case $kind in
	s3)
		_storage_exec s3 "$ns" python3 -c "$_STORAGE_S3_CREATE" \
			"$(_storage_secret_value "$ns" s3-credentials key)" \
			"$(_storage_secret_value "$ns" s3-credentials key-secret)" "$bucket"
		;;
	gcs)
		code=$(_storage_exec gcs "$ns" curl -sS --cacert /ca/ca.crt -o /dev/null -w '%{http_code}' -X POST \
			-H 'Content-Type: application/json' -d "{\"name\": \"$bucket\"}" https://localhost:4443/storage/v1/b) &&
			case $code in 200 | 409) ;; *)
				echo "storage: creating GCS bucket $bucket: HTTP $code"
				return 1
				;;
			esac
		;;
	azure)
		_storage_exec azure "$ns" env NODE_EXTRA_CA_CERTS=/ca/ca.crt node -e "$_STORAGE_AZURE_CREATE" \
			"$(_storage_secret_value "$ns" azure-credentials account)" \
			"$(_storage_secret_value "$ns" azure-credentials key)" "$bucket"
		;;
	*) storage_image "$kind" >/dev/null ;;
	esac
}

# storage_repo_options KIND NS REPO BUCKET CA_FILE: the pgbackrest.conf lines
# of repository REPO on KIND's server in NS, keys included (see the top).
storage_repo_options() {
	local kind=$1 ns=$2 r=repo$3 bucket=$4 ca=$5
	case $kind in
	s3)
		printf '%s\n' "$r-type=s3" "$r-s3-endpoint=s3.$ns.svc" "$r-storage-port=9000" "$r-s3-uri-style=path" \
			"$r-s3-region=us-east-1" "$r-s3-bucket=$bucket" \
			"$r-s3-key=$(_storage_secret_value "$ns" s3-credentials key)" \
			"$r-s3-key-secret=$(_storage_secret_value "$ns" s3-credentials key-secret)"
		;;
	gcs)
		printf '%s\n' "$r-type=gcs" "$r-gcs-endpoint=gcs.$ns.svc:4443" "$r-gcs-bucket=$bucket" \
			"$r-gcs-key-type=token" "$r-gcs-key=$(_storage_secret_value "$ns" gcs-credentials token)"
		;;
	azure)
		printf '%s\n' "$r-type=azure" "$r-azure-endpoint=azure.$ns.svc" "$r-storage-port=10000" \
			"$r-azure-uri-style=path" "$r-azure-account=$(_storage_secret_value "$ns" azure-credentials account)" \
			"$r-azure-key=$(_storage_secret_value "$ns" azure-credentials key)" "$r-azure-container=$bucket"
		;;
	*)
		storage_image "$kind" >/dev/null
		return 1
		;;
	esac
	echo "$r-storage-ca-file=$ca"
}

# storage_remove NS [KIND...]: remove KIND's server, Service and Secrets
# (every kind's, and the CA, when no KIND is named); waits for the pods.
storage_remove() {
	local ns=$1 kind
	shift
	if [ $# -eq 0 ]; then
		k -n "$ns" delete deployments,services,secrets -l "$STORAGE_LABEL" --ignore-not-found --wait=true \
			--timeout=120s >/dev/null || return 1
		k -n "$ns" wait --for=delete pods -l "$STORAGE_LABEL" --timeout=120s >/dev/null 2>&1
		return 0
	fi
	for kind in "$@"; do
		k -n "$ns" delete deployments,services,secrets -l "$STORAGE_LABEL,app.kubernetes.io/name=$kind" \
			--ignore-not-found --wait=true --timeout=120s >/dev/null || return 1
		k -n "$ns" delete secret "$kind-tls" "$kind-credentials" --ignore-not-found >/dev/null || return 1
		k -n "$ns" wait --for=delete pods -l "$STORAGE_LABEL,app.kubernetes.io/name=$kind" --timeout=120s \
			>/dev/null 2>&1
	done
	return 0
}

# storage_diagnose NS: the servers' pods, recent events and last log lines.
storage_diagnose() {
	local ns=$1 kind
	echo "--- storage pods"
	k -n "$ns" get pods -l "$STORAGE_LABEL" -o wide 2>&1
	echo "--- events (last 10)"
	k -n "$ns" get events --sort-by=.lastTimestamp 2>&1 | tail -10
	for kind in "${STORAGE_KINDS[@]}"; do
		k -n "$ns" get deployment "$kind" >/dev/null 2>&1 || continue
		echo "--- $kind log (last 15 lines)"
		k -n "$ns" logs "deployment/$kind" --tail=15 2>&1
	done
}
