/* What every builder shares: objects made for a cluster (metadata, labels, owner reference), JSON helpers, Secret
 * data, certificates kept or issued, conditions, the restricted security context.
 *
 * A builder is one pure function per kind of object, from a ClusterModel to the objects the cluster should have
 * (ClusterBuildFn). The components (src/postgres, src/patroni, src/pgbackrest) and the PostgresCluster controller's
 * own builders (controllers/postgrescluster/builders.h) follow one contract. Each builder appends complete "intents"
 * to objects (a JSON array): apiVersion, kind, metadata (name, namespace, labels, annotations, ownerReferences) and
 * the fields the operator owns, nothing the API server defaults. The
 * reconciler sends each with server-side apply (force, field manager "postgrescluster-controller") when the cached
 * object lacks any of it (clusterApplyNeeded in kube/apply.h), so a builder must emit exactly what it means to
 * own: a field it stops emitting is dropped by the next apply.
 *
 * Labels and annotations: spec.metadata's are merged onto every object, then the builder's own (operator labels
 * win), as PGO does. Every object carries a controller ownerReference to the PostgresCluster, except the namespace's
 * root CA Secret, which every cluster co-owns with a non-controller reference.
 *
 * A builder that cannot build (bad input the CRD could not refuse) fails with errInvalidArgument and a message for
 * the user; the reconciler turns it into an Event and a condition. Golden tests: test/unit/golden/cluster/. */
#ifndef API_OBJECTS_H
#define API_OBJECTS_H

#include "api/model.h"
#include "pki/authority.h"

typedef bool ClusterBuildFn(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err);

/* A new object {apiVersion, kind, metadata: {name, namespace, labels, annotations?, ownerReferences}} with
 * spec.metadata's labels and annotations, then labels (a JSON object, borrowed; may be NULL) over them. NULL when
 * out of memory. */
json_t *clusterObjectNew(const ClusterModel *model, const char *apiVersion, const char *kind, const char *name,
                         const json_t *labels);

/* clusterObjectNew with labels (consumed; NULL fails), then annotations (may be NULL) over spec.metadata's. NULL when
 * out of memory. */
json_t *clusterObjectAnnotated(const ClusterModel *model, const char *apiVersion, const char *kind, const char *name,
                               json_t *labels, const json_t *annotations);

/* {"postgres-operator.crunchydata.com/cluster": <name>} plus, when set is not NULL, instance-set, and when instance
 * is not NULL, instance. NULL when out of memory. */
json_t *clusterLabels(const ClusterModel *model, const char *set, const char *instance);

/* Appends object to objects, stealing the reference (also on failure); errOutOfMemory when object is NULL. */
bool clusterAppend(json_t *objects, json_t *object, Err *err) MUST_CHECK;

/* object[key] = value. Always consumes value, also when object is NULL or on failure; false when value is NULL (an
 * allocation failed making it) or the set fails. So a builder can chain calls with && and check once. */
bool clusterPut(json_t *object, const char *key, json_t *value);

/* As clusterPut, for arrays. */
bool clusterPush(json_t *array, json_t *value);

/* object[key] = a copy of value, when value is there (not NULL, not JSON null). */
bool clusterPutCopy(json_t *object, const char *key, const json_t *value);

/* Copies of source's members into target (source NULL or not an object: nothing). */
bool clusterMergeCopy(json_t *target, const json_t *source);

/* A status condition {type, status "True"/"False", reason, message, observedGeneration, lastTransitionTime}, the
 * time kept from the cluster's current condition of the same type and status, else now. NULL when out of memory. */
json_t *clusterCondition(const ClusterModel *model, const char *type, bool status, const char *reason,
                         const char *message);

/* Bytes read from or written to a Secret (PEM text, a password). data is NULL when there is nothing. */
typedef struct ClusterBytes {
    const char *data;
    size_t len;
} ClusterBytes;

/* The decoded data[key] of a cached Secret (secret may be NULL), in ctx. A missing key or a value that is not base64
 * is read as nothing, for the caller to replace; false only when memory runs out (err may be NULL). */
bool clusterSecretRead(MemCtx *ctx, const json_t *secret, const char *key, ClusterBytes *out, Err *err);

/* data[key] = base64 of value; false when out of memory. */
bool clusterSecretWrite(MemCtx *ctx, json_t *data, const char *key, ClusterBytes value, Err *err);

/* The operator's superuser role for its SQL sessions, which Patroni creates at bootstrap, and the common name of the
 * client certificate it logs in with: pg_hba admits the role over TLS only, with that certificate and the role's
 * password both (scram-sha-256 clientcert=verify-full). The _crunchy prefix is reserved: spec.users cannot name it
 * (users.c). See patroni/config.c. */
#define CLUSTER_OPERATOR_CN "_crunchyoperator"

/* Secret <cluster>CLUSTER_OPERATOR_SECRET_SUFFIX holds the password of CLUSTER_OPERATOR_CN under
 * CLUSTER_OPERATOR_PASSWORD_KEY. The operator alone writes and reads it; no pod mounts it (controllers/
 * postgrescluster/secrets.c says why it is a Secret of its own). */
#define CLUSTER_OPERATOR_SECRET_SUFFIX "-operator"
#define CLUSTER_OPERATOR_PASSWORD_KEY  "password"
#define CLUSTER_OPERATOR_PASSWORD_LEN  43 /* alphanumeric characters: 43 * log2(62) > 256 bits */

/* The password of CLUSTER_OPERATOR_CN for this pass, in ctx: the cached Secret's (model->lookup) when it holds one,
 * else a new one (scramPasswordNew, OpenSSL's RAND_bytes) that this pass's Secret will hold. The reconciler decides
 * it once per pass into model->operatorPassword, before any builder runs, so the Secret, the verifier in Patroni's
 * bootstrap and the session all use the same value even on the first pass, when the Secret is still only an intent.
 * Errors: errOutOfMemory, errSystem (no randomness). */
bool clusterOperatorPassword(MemCtx *ctx, const ClusterModel *model, const char **out, Err *err) MUST_CHECK;

/* The key of <instance>-certs that holds, with spec.customTLSSecret, the certificate authorities Postgres trusts for
 * client certificates (ssl_ca_file): the user's and the namespace root. */
#define CLUSTER_CLIENT_CAS_KEY "postgres-client-ca.crt"

/* The CA certificate of spec.customTLSSecret as Postgres' clients see it: data[key] of that (cached) Secret where key
 * is the one its items project to ca.crt, "ca.crt" when it has no items. out->data is NULL when the cluster has no
 * custom certificate, or the Secret or the key is missing; false only when memory runs out. */
bool clusterCustomTlsCa(MemCtx *ctx, const ClusterModel *model, ClusterBytes *out, Err *err);

/* A certificate and its key as PEM texts (the key in SEC1, as PGO writes it). */
bool clusterPemEncode(MemCtx *ctx, const PkiCert *cert, const PkiKey *key, ClusterBytes *certText,
                      ClusterBytes *keyText, Err *err) MUST_CHECK;

/* A leaf kept from data[certKey] and data[keyKey] of the cached Secret (may be NULL) while root's renewal policy
 * allows (pki/authority.h), else issued anew by root for want; as PEM texts in ctx. */
bool clusterLeafKeep(MemCtx *ctx, const ClusterModel *model, const PkiRoot *root, const json_t *cached,
                     const char *certKey, const char *keyKey, const PkiLeafSpec *want, ClusterBytes *cert,
                     ClusterBytes *key, Err *err) MUST_CHECK;

/* A pod's topologySpreadConstraints: user's (a JSON array, or NULL), then, unless spec.disableDefaultPodScheduling,
 * PGO's default spread of the cluster's data pods (Postgres and pgBackRest) over nodes and zones, preferred but not
 * required. *out is NULL when there are none; false when out of memory. */
bool clusterTopologySpread(const ClusterModel *model, const json_t *user, json_t **out) MUST_CHECK;

/* The restricted container securityContext PGO gives every container. NULL when out of memory. */
json_t *clusterRestrictedSecurityContext(void);

#endif
