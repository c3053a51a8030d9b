/* The cluster's Secrets (see builders.h): the namespace's root CA, the Postgres server certificate, the replication
 * client certificate, one certificate Secret per instance, one Secret per PostgreSQL user, and the operator's own
 * password. Names, keys and labels are PGO v5's (internal/controller/postgrescluster/pki.go, instance.go, patroni.go
 * and postgres.go), but for the operator's Secret, which PGO does not have.
 *
 * State lives in the Secrets themselves. Each builder reads the cached Secret it is about to write (model->lookup),
 * keeps what it holds while that is still right, and replaces only what is missing, unreadable or due: certificates by
 * the renewal policy of pki/authority.h (replacing the root makes every leaf "untrusted", so all are reissued in the
 * same pass), passwords and verifiers when cleared. What is kept is written back as the very bytes it was read from,
 * so when nothing needs renewal a builder's output equals the cached Secrets and the reconciler writes nothing.
 * Randomness (keys, serial numbers, passwords, salts) comes from OpenSSL; time from model->clock.
 *
 * Decisions:
 *   - Secret `pgo-root-cacert` is shared by every cluster of the namespace, so, as in PGO, it carries no labels and
 *     no annotations (neither the cluster label, which would name one of its owners, nor any cluster's
 *     spec.metadata, which each cluster's apply would overwrite with its own) and a non-controller ownerReference to
 *     each cluster. The reconciler applies its data without references and adds each cluster's reference with a
 *     strategic merge patch (reconciler.c), so that a stale cache never removes another cluster's; the intent still
 *     lists the cached references with ours (so that, when ours is there, it asks for nothing new), ours replacing
 *     any reference to a PostgresCluster of our name in place (a recreated cluster's predecessor).
 *   - Certificate names use the cluster domain with its trailing dot, "cluster.local.", as PGO's do (pki/names.h):
 *     certificates PGO issued carry the same names, and every client that verifies host names uses one of the short
 *     forms, which do not involve the domain ("<instance>-0.<cluster>-pods", "<cluster>-primary.<ns>.svc"). A client
 *     that connects to a fully qualified name must write it with the dot as well.
 *   - `ca.crt` and `patroni.ca-roots` hold the current root only, as in PGO.
 *   - `patroni.crt-combined` is the key's PEM followed by the certificate's, PGO's order; `pgbackrest-server.crt` and
 *     `.key` repeat `dns.crt` and `dns.key`, whether or not backups are configured, as PGO does.
 *   - User "postgres" gets its Secret like any other user: PGO treats it specially only in the SQL it runs (always
 *     LOGIN SUPERUSER with access to database "postgres"), not in the Secret, whose dbname and URIs follow
 *     spec.users[].databases.
 *   - URIs are escaped as Go's net/url escapes them, so a Secret PGO wrote is left unchanged.
 *   - The password of the operator's role (CLUSTER_OPERATOR_CN, which pg_hba admits by certificate and password
 *     both, see patroni/config.c) lives in a Secret of its own, <cluster>-operator, key "password", labelled with
 *     the cluster only. None of the existing Secrets fits: `<cluster>-pguser-*` are the users' own, read by their
 *     applications, and follow spec.users; `<cluster>-cluster-cert`, `-replication-cert` and `<instance>-certs` are
 *     mounted by the instance pods (where anyone with exec or the pod's files would read the password) and the
 *     first two are absent with custom certificates; `pgo-root-cacert` is shared by every cluster of the namespace,
 *     so two new clusters applying different passwords there would race and one would be locked out, and a key of
 *     our own in it would be another cluster's to overwrite. No pod mounts `<cluster>-operator` and no role of
 *     ours lets a pod read Secrets. The password is 43 letters and digits (more than 256 bits); the reconciler
 *     decides it once per pass (api/objects.h clusterOperatorPassword: the cached Secret's, else a new one) into
 *     model->operatorPassword, and this builder writes exactly that, so the first pass already uses the same
 *     password here, in Patroni's bootstrap and in the session. Like the users' passwords it is kept for as long
 *     as the Secret holds it; unlike theirs, Postgres learns it only at bootstrap, so a deleted Secret locks the
 *     operator out (patroni/config.c says how to let it back in). */
#include "controllers/postgrescluster/builders.h"

#include "common/base64.h"
#include "common/strbuf.h"
#include "pgbouncer/pgbouncer.h"
#include "pgsql/scram.h"
#include "pki/names.h"

#include <inttypes.h>
#include <string.h>

#define SECRETS_API_GROUP     "postgres-operator.crunchydata.com/" /* apiVersion of any version of the group */
#define SECRETS_URI_MAX       (4 * 1024 * 1024)                    /* a password of 1 MiB, every byte escaped */
#define SECRETS_USER_NAME_MAX 63

/* The root CA in use, with the PEM texts of its certificate and key. */
typedef struct CertsRoot {
    PkiRoot pair;
    ClusterBytes cert;
    ClusterBytes key;
} CertsRoot;

/* secretSet of a C string. */
static bool secretSetStr(MemCtx *ctx, json_t *data, const char *key, const char *value, Err *err)
{
    return clusterSecretWrite(ctx, data, key, (ClusterBytes){.data = value, .len = strlen(value)}, err);
}

/* Appends Secret object, with data, to objects; takes both references whatever happens. */
static bool secretAppend(json_t *objects, json_t *object, json_t *data, Err *err)
{
    if (object != NULL && data != NULL && json_object_set_new(object, "data", data) == 0)
        return clusterAppend(objects, object, err);
    if (object == NULL)
        json_decref(data);
    json_decref(object);
    return errSet(err, errOutOfMemory, "out of memory building a secret");
}

/* labels[key] = value, on a labels object that may be NULL (out of memory already). */
static json_t *secretLabel(json_t *labels, const char *key, const char *value)
{
    if (labels != NULL && json_object_set_new(labels, key, json_string(value)) != 0) {
        json_decref(labels);
        return NULL;
    }
    return labels;
}

/* ---- certificates ---- */

/* Whether ownerReference ref points to this cluster, or to an earlier PostgresCluster of the same name. */
static bool certsIsOurReference(const ClusterModel *model, const json_t *ref)
{
    const char *uid = json_string_value(json_object_get(ref, "uid"));
    const char *apiVersion = json_string_value(json_object_get(ref, "apiVersion"));
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (uid != NULL && strcmp(uid, model->uid) == 0)
        return true;
    return apiVersion != NULL && strncmp(apiVersion, SECRETS_API_GROUP, strlen(SECRETS_API_GROUP)) == 0 &&
           kind != NULL && strcmp(kind, CLUSTER_KIND) == 0 && name != NULL && strcmp(name, model->name) == 0;
}

/* The root Secret's ownerReferences: the cached ones, with ours (non-controller) in place of any earlier one of ours,
 * or last. NULL when out of memory. */
static json_t *certsRootOwners(const ClusterModel *model, const json_t *cached)
{
    json_t *owners = json_array();
    json_t *ours = json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", CLUSTER_API_VERSION, "kind", CLUSTER_KIND, "name",
                             model->name, "uid", model->uid);
    bool ok = owners != NULL && ours != NULL;
    bool placed = false;
    const json_t *existing = json_object_get(json_object_get(cached, "metadata"), "ownerReferences");
    for (size_t refIdx = 0; ok && refIdx < json_array_size(existing); refIdx++) {
        const json_t *ref = json_array_get(existing, refIdx);
        if (!json_is_object(ref))
            continue;
        if (!certsIsOurReference(model, ref)) {
            ok = json_array_append_new(owners, json_deep_copy(ref)) == 0;
        } else if (!placed) {
            ok = json_array_append(owners, ours) == 0;
            placed = true;
        }
    }
    ok = ok && (placed || json_array_append(owners, ours) == 0);
    json_decref(ours);
    if (!ok) {
        json_decref(owners);
        return NULL;
    }
    return owners;
}

/* Secret pgo-root-cacert: the root kept or renewed, into *root. */
static bool certsRoot(MemCtx *ctx, const ClusterModel *model, CertsRoot *root, json_t *objects, Err *err)
{
    const json_t *cached = model->lookup(model->lookupArg, "Secret", model->namespace, CLUSTER_ROOT_SECRET);
    PkiRenewal renewed;
    if (!clusterSecretRead(ctx, cached, "root.crt", &root->cert, err) ||
        !clusterSecretRead(ctx, cached, "root.key", &root->key, err) ||
        !pkiRootEnsure(ctx, root->cert.data, root->cert.len, root->key.data, root->key.len, model->clock, &root->pair,
                       &renewed, err))
        return errPrefix(err, "secret %s", CLUSTER_ROOT_SECRET);
    if (renewed != pkiRenewalNone &&
        !clusterPemEncode(ctx, root->pair.cert, root->pair.key, &root->cert, &root->key, err))
        return false;

    json_t *owners = certsRootOwners(model, cached);
    json_t *object = owners != NULL ? json_pack("{s:s, s:s, s:{s:s, s:s, s:O}}", "apiVersion", "v1", "kind", "Secret",
                                                "metadata", "name", CLUSTER_ROOT_SECRET, "namespace", model->namespace,
                                                "ownerReferences", owners)
                                    : NULL;
    json_decref(owners);
    json_t *data = json_object();
    if (data != NULL && (!clusterSecretWrite(ctx, data, "root.crt", root->cert, err) ||
                         !clusterSecretWrite(ctx, data, "root.key", root->key, err))) {
        json_decref(data);
        json_decref(object);
        return false;
    }
    return secretAppend(objects, object, data, err);
}

/* <cluster>-cluster-cert or <cluster>-replication-cert: tls.crt, tls.key, ca.crt. */
static bool certsTls(MemCtx *ctx, const ClusterModel *model, const CertsRoot *root, const char *suffix,
                     const char *certificateLabel, const PkiLeafSpec *want, json_t *objects, Err *err)
{
    char *name = memCtxPrintf(ctx, "%s-%s", model->name, suffix);
    if (name == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a secret name");
    const json_t *cached = model->lookup(model->lookupArg, "Secret", model->namespace, name);
    ClusterBytes cert, key;
    if (!clusterLeafKeep(ctx, model, &root->pair, cached, "tls.crt", "tls.key", want, &cert, &key, err))
        return errPrefix(err, "secret %s", name);

    json_t *labels = secretLabel(clusterLabels(model, NULL, NULL), CLUSTER_LABEL_CERTIFICATE, certificateLabel);
    json_t *object = labels != NULL ? clusterObjectNew(model, "v1", "Secret", name, labels) : NULL;
    json_decref(labels);
    json_t *data = json_object();
    if (data != NULL &&
        (!clusterSecretWrite(ctx, data, "tls.crt", cert, err) || !clusterSecretWrite(ctx, data, "tls.key", key, err) ||
         !clusterSecretWrite(ctx, data, "ca.crt", root->cert, err))) {
        json_decref(data);
        json_decref(object);
        return false;
    }
    return secretAppend(objects, object, data, err);
}

/* Whether spec.<field> names a Secret of the user's (present and not null). */
static bool certsCustom(const ClusterModel *model, const char *field)
{
    const json_t *value = json_object_get(json_object_get(model->cluster, "spec"), field);
    return value != NULL && !json_is_null(value);
}

/* object.metadata.annotations updated with those of spec.instances[].metadata, created when there are any. */
static bool certsSetAnnotations(json_t *object, const json_t *setMetadata)
{
    const json_t *setAnnotations = json_object_get(setMetadata, "annotations");
    if (json_object_size(setAnnotations) == 0)
        return true;
    json_t *metadata = json_object_get(object, "metadata");
    json_t *annotations = json_object_get(metadata, "annotations");
    if (annotations == NULL) {
        annotations = json_object();
        if (json_object_set_new(metadata, "annotations", annotations) != 0)
            return false;
    }
    return json_object_update(annotations, (json_t *)(uintptr_t)setAnnotations) == 0;
}

/* With spec.customTLSSecret, the certificate authorities whose client certificates Postgres accepts: the user's (it
 * signed customReplicationTLSSecret) and the namespace root, which signs the operator's own client certificate.
 * data is NULL without a custom certificate. */
static bool certsClientCas(MemCtx *ctx, const ClusterModel *model, const CertsRoot *root, ClusterBytes *out, Err *err)
{
    *out = (ClusterBytes){.data = NULL, .len = 0};
    if (!certsCustom(model, "customTLSSecret"))
        return true;
    ClusterBytes custom;
    if (!clusterCustomTlsCa(ctx, model, &custom, err))
        return false;
    bool newline = custom.len > 0 && custom.data[custom.len - 1] != '\n';
    size_t len = custom.len + (newline ? 1 : 0) + root->cert.len;
    char *bundle = memCtxAlloc(ctx, len + 1);
    if (bundle == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate the client certificate authorities");
    if (custom.len > 0)
        memcpy(bundle, custom.data, custom.len);
    if (newline)
        bundle[custom.len] = '\n';
    memcpy(bundle + len - root->cert.len, root->cert.data, root->cert.len);
    bundle[len] = '\0';
    *out = (ClusterBytes){.data = bundle, .len = len};
    return true;
}

/* <instance>-certs: labels and annotations of the cluster, then of the instance set, then ours. */
static bool certsInstance(MemCtx *ctx, const ClusterModel *model, const CertsRoot *root, const char *domain,
                          const ClusterInstance *instance, json_t *objects, Err *err)
{
    const ClusterInstanceSet *set = &model->sets[instance->set];
    char *name = memCtxPrintf(ctx, "%s-certs", instance->name);
    char *service = memCtxPrintf(ctx, "%s-pods", model->name);
    if (name == NULL || service == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a secret name");
    const json_t *cached = model->lookup(model->lookupArg, "Secret", model->namespace, name);
    PkiLeafSpec want;
    ClusterBytes cert, key;
    if (!pkiSpecInstanceCert(ctx, instance->name, service, model->namespace, domain, &want, err) ||
        !clusterLeafKeep(ctx, model, &root->pair, cached, "dns.crt", "dns.key", &want, &cert, &key, err))
        return errPrefix(err, "secret %s", name);
    char *combined = memCtxAlloc(ctx, key.len + cert.len + 1);
    if (combined == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate %s", name);
    memcpy(combined, key.data, key.len);
    memcpy(combined + key.len, cert.data, cert.len);

    const json_t *setMetadata = json_object_get(set->spec, "metadata");
    json_t *labels = json_object();
    json_t *ours = clusterLabels(model, set->name, instance->name);
    json_t *object = NULL;
    if (labels != NULL && ours != NULL &&
        (json_object_size(json_object_get(setMetadata, "labels")) == 0 ||
         json_object_update(labels, json_object_get(setMetadata, "labels")) == 0) &&
        json_object_update(labels, ours) == 0)
        object = clusterObjectNew(model, "v1", "Secret", name, labels);
    json_decref(labels);
    json_decref(ours);
    if (object != NULL && (!certsSetAnnotations(object, setMetadata) ||
                           json_object_set_new(object, "type", json_string("Opaque")) != 0)) {
        json_decref(object);
        object = NULL;
    }
    ClusterBytes clientCas;
    json_t *data = json_object();
    if (data != NULL &&
        (!clusterSecretWrite(ctx, data, "patroni.ca-roots", root->cert, err) ||
         !clusterSecretWrite(ctx, data, "patroni.crt-combined",
                             (ClusterBytes){.data = combined, .len = key.len + cert.len}, err) ||
         !clusterSecretWrite(ctx, data, "dns.crt", cert, err) || !clusterSecretWrite(ctx, data, "dns.key", key, err) ||
         !clusterSecretWrite(ctx, data, "pgbackrest-server.crt", cert, err) ||
         !clusterSecretWrite(ctx, data, "pgbackrest-server.key", key, err) ||
         !certsClientCas(ctx, model, root, &clientCas, err) ||
         (clientCas.data != NULL && !clusterSecretWrite(ctx, data, CLUSTER_CLIENT_CAS_KEY, clientCas, err)))) {
        json_decref(data);
        json_decref(object);
        return false;
    }
    return secretAppend(objects, object, data, err);
}

/* The cluster domain as PGO writes it in certificates, with the DNS root's dot (see the design comment); PGO's
 * fallback when the model has none. NULL when out of memory. */
static const char *certsDomain(MemCtx *ctx, const ClusterModel *model)
{
    if (model->domain == NULL || model->domain[0] == '\0')
        return PKI_CLUSTER_DOMAIN_DEFAULT;
    if (model->domain[strlen(model->domain) - 1] == '.')
        return model->domain;
    return memCtxPrintf(ctx, "%s.", model->domain);
}

/* All certificate Secrets, in ctx's scratch child. */
static bool certsBuild(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    const char *domain = certsDomain(ctx, model);
    if (domain == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate the cluster domain");
    CertsRoot root;
    if (!certsRoot(ctx, model, &root, objects, err))
        return false;
    if (!certsCustom(model, "customTLSSecret")) {
        PkiLeafSpec want;
        if (!pkiSpecClusterCert(ctx, model->name, model->namespace, domain, &want, err) ||
            !certsTls(ctx, model, &root, "cluster-cert", "postgres-tls", &want, objects, err))
            return false;
    }
    if (!certsCustom(model, "customReplicationTLSSecret")) {
        PkiLeafSpec want;
        pkiSpecReplicationCert(&want);
        if (!certsTls(ctx, model, &root, "replication-cert", "replication-client-tls", &want, objects, err))
            return false;
    }
    for (size_t instanceIdx = 0; instanceIdx < model->instanceCount; instanceIdx++)
        if (!certsInstance(ctx, model, &root, domain, &model->instances[instanceIdx], objects, err))
            return false;
    return true;
}

bool clusterBuildCertificates(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    MemCtx *scratch = memCtxNew(ctx, "cluster certificates");
    if (scratch == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate the certificates' context");
    bool ok = certsBuild(scratch, model, objects, err);
    memCtxFree(scratch);
    return ok;
}

/* ---- users ---- */

/* One user to write a Secret for. */
typedef struct UserSpec {
    const char *name;
    const char *database; /* the first of spec.users[].databases, or NULL */
    ScramPasswordType passwordType;
} UserSpec;

/* Appends text to buf escaped as Go's net/url escapes one part of a URL: letters, digits, "-._~" and the part's
 * allowed characters stay as they are, a space in a query becomes '+', and every other byte becomes %XX. */
static bool usersEscape(StrBuf *buf, const char *text, size_t len, const char *allowed, bool query, Err *err)
{
    static const char hex[] = "0123456789ABCDEF";
    bool ok = true;
    for (size_t byteIdx = 0; ok && byteIdx < len; byteIdx++) {
        unsigned char c = (unsigned char)text[byteIdx];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     (c != '\0' && (strchr("-._~", c) != NULL || strchr(allowed, c) != NULL));
        if (plain)
            ok = strBufAppendChar(buf, (char)c, err);
        else if (c == ' ' && query)
            ok = strBufAppendChar(buf, '+', err);
        else
            ok = strBufAppendChar(buf, '%', err) && strBufAppendChar(buf, hex[c >> 4], err) &&
                 strBufAppendChar(buf, hex[c & 0xf], err);
    }
    return ok;
}

/* What net/url leaves unescaped beyond the unreserved characters, by part of the URL. */
#define USERS_ESCAPE_USERINFO "$&+,;="
#define USERS_ESCAPE_PATH     "$&+,/:;=@"
#define USERS_ESCAPE_QUERY    ""

/* uri: postgresql://<user>:<password>@<host>:<port>/<database> */
static bool usersUri(MemCtx *ctx, const UserSpec *user, ClusterBytes password, const char *hostPort, char **out,
                     Err *err)
{
    StrBuf buf;
    strBufInit(&buf, ctx, SECRETS_URI_MAX);
    bool ok = strBufAppendStr(&buf, "postgresql://", err) &&
              usersEscape(&buf, user->name, strlen(user->name), USERS_ESCAPE_USERINFO, false, err) &&
              strBufAppendChar(&buf, ':', err) &&
              usersEscape(&buf, password.data, password.len, USERS_ESCAPE_USERINFO, false, err) &&
              strBufPrintf(&buf, err, "@%s/", hostPort) &&
              usersEscape(&buf, user->database, strlen(user->database), USERS_ESCAPE_PATH, false, err);
    *out = buf.data;
    return ok;
}

/* jdbc-uri: jdbc:postgresql://<host>:<port>/<database>?password=<password>&user=<user> (query keys sorted, as
 * url.Values.Encode sorts them); through PgBouncer (pooled) also prepareThreshold=0, as PGO: server-side prepared
 * statements do not survive transaction pooling. */
static bool usersJdbcUri(MemCtx *ctx, const UserSpec *user, ClusterBytes password, const char *hostPort, bool pooled,
                         char **out, Err *err)
{
    StrBuf buf;
    strBufInit(&buf, ctx, SECRETS_URI_MAX);
    bool ok = strBufPrintf(&buf, err, "jdbc:postgresql://%s/", hostPort) &&
              usersEscape(&buf, user->database, strlen(user->database), USERS_ESCAPE_PATH, false, err) &&
              strBufAppendStr(&buf, "?password=", err) &&
              usersEscape(&buf, password.data, password.len, USERS_ESCAPE_QUERY, true, err) &&
              (!pooled || strBufAppendStr(&buf, "&prepareThreshold=0", err)) && strBufAppendStr(&buf, "&user=", err) &&
              usersEscape(&buf, user->name, strlen(user->name), USERS_ESCAPE_QUERY, true, err);
    *out = buf.data;
    return ok;
}

/* pgbouncer-host, pgbouncer-port and, with a database, pgbouncer-uri and pgbouncer-jdbc-uri: the same user reached
 * through Service <cluster>-pgbouncer. */
static bool usersPgBouncerKeys(MemCtx *ctx, const ClusterModel *model, const UserSpec *user, ClusterBytes password,
                               json_t *data, Err *err)
{
    char *host = memCtxPrintf(ctx, "%s-pgbouncer.%s.svc", model->name, model->namespace);
    char *port = memCtxPrintf(ctx, "%" PRId64, clusterPgBouncerPort(model));
    char *hostPort = host != NULL && port != NULL ? memCtxPrintf(ctx, "%s:%s", host, port) : NULL;
    if (hostPort == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a user secret");
    bool ok =
        secretSetStr(ctx, data, "pgbouncer-host", host, err) && secretSetStr(ctx, data, "pgbouncer-port", port, err);
    if (ok && user->database != NULL) {
        char *uri = NULL, *jdbcUri = NULL;
        ok = usersUri(ctx, user, password, hostPort, &uri, err) &&
             usersJdbcUri(ctx, user, password, hostPort, true, &jdbcUri, err) &&
             secretSetStr(ctx, data, "pgbouncer-uri", uri, err) &&
             secretSetStr(ctx, data, "pgbouncer-jdbc-uri", jdbcUri, err);
        memCtxRelease(uri);
        memCtxRelease(jdbcUri);
    }
    return ok;
}

/* The cached Secret of user: <cluster>-pguser-<user>, or else PGO's older <cluster>-pguser when it is labelled as
 * this cluster's Secret of this user (PGO reads it in that case, to carry the password over). */
static bool usersCached(MemCtx *ctx, const ClusterModel *model, const char *name, const char *secretName,
                        const json_t **out, Err *err)
{
    *out = model->lookup(model->lookupArg, "Secret", model->namespace, secretName);
    if (*out != NULL)
        return true;
    char *deprecatedName = memCtxPrintf(ctx, "%s-pguser", model->name);
    if (deprecatedName == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a secret name");
    const json_t *deprecated = model->lookup(model->lookupArg, "Secret", model->namespace, deprecatedName);
    memCtxRelease(deprecatedName);
    const json_t *labels = json_object_get(json_object_get(deprecated, "metadata"), "labels");
    const char *cluster = json_string_value(json_object_get(labels, CLUSTER_LABEL_CLUSTER));
    const char *user = json_string_value(json_object_get(labels, CLUSTER_LABEL_PGUSER));
    if (cluster != NULL && user != NULL && strcmp(cluster, model->name) == 0 && strcmp(user, name) == 0)
        *out = deprecated;
    return true;
}

/* Secret <cluster>-pguser-<user>. */
static bool usersSecret(MemCtx *ctx, const ClusterModel *model, const UserSpec *user, json_t *objects, Err *err)
{
    char *secretName = memCtxPrintf(ctx, "%s-pguser-%s", model->name, user->name);
    char *host = memCtxPrintf(ctx, "%s-primary.%s.svc", model->name, model->namespace);
    char *port = memCtxPrintf(ctx, "%" PRId64, model->port);
    char *hostPort = host != NULL && port != NULL ? memCtxPrintf(ctx, "%s:%s", host, port) : NULL;
    if (secretName == NULL || hostPort == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a user secret");
    const json_t *cached;
    ClusterBytes password, verifier;
    if (!usersCached(ctx, model, user->name, secretName, &cached, err) ||
        !clusterSecretRead(ctx, cached, "password", &password, err) ||
        !clusterSecretRead(ctx, cached, "verifier", &verifier, err))
        return false;

    /* A cleared password gets a new one, and a new password a new verifier; a cleared verifier is recomputed. */
    if (password.len == 0) {
        char *generated;
        if (!scramPasswordNew(ctx, user->passwordType, SCRAM_PASSWORD_LENGTH, &generated, err))
            return errPrefix(err, "secret %s", secretName);
        password = (ClusterBytes){.data = generated, .len = strlen(generated)};
        verifier = (ClusterBytes){.data = NULL, .len = 0};
    }
    if (verifier.len == 0) {
        char *computed;
        if (!scramVerifierNew(ctx, password.data, password.len, &computed, err))
            return errPrefix(err, "secret %s", secretName);
        verifier = (ClusterBytes){.data = computed, .len = strlen(computed)};
    }

    json_t *data = json_object();
    bool ok = data != NULL || errSet(err, errOutOfMemory, "out of memory building a secret");
    ok = ok && secretSetStr(ctx, data, "user", user->name, err) &&
         clusterSecretWrite(ctx, data, "password", password, err) &&
         clusterSecretWrite(ctx, data, "verifier", verifier, err) && secretSetStr(ctx, data, "host", host, err) &&
         secretSetStr(ctx, data, "port", port, err);
    if (ok && user->database != NULL) {
        char *uri = NULL, *jdbcUri = NULL;
        ok = usersUri(ctx, user, password, hostPort, &uri, err) &&
             usersJdbcUri(ctx, user, password, hostPort, false, &jdbcUri, err) &&
             secretSetStr(ctx, data, "dbname", user->database, err) && secretSetStr(ctx, data, "uri", uri, err) &&
             secretSetStr(ctx, data, "jdbc-uri", jdbcUri, err);
        memCtxRelease(uri);
        memCtxRelease(jdbcUri);
    }
    if (ok && clusterPgBouncerEnabled(model))
        ok = usersPgBouncerKeys(ctx, model, user, password, data, err);
    if (!ok) {
        json_decref(data);
        return errPrefix(err, "secret %s", secretName);
    }
    json_t *labels = secretLabel(secretLabel(clusterLabels(model, NULL, NULL), CLUSTER_LABEL_ROLE, "pguser"),
                                 CLUSTER_LABEL_PGUSER, user->name);
    json_t *object = labels != NULL ? clusterObjectNew(model, "v1", "Secret", secretName, labels) : NULL;
    json_decref(labels);
    return secretAppend(objects, object, data, err);
}

/* Whether name is a valid PostgresCluster user name (the CRD's pattern for spec.users[].name). */
static bool usersValidName(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > SECRETS_USER_NAME_MAX || name[0] == '-' || name[len - 1] == '-')
        return false;
    for (size_t charIdx = 0; charIdx < len; charIdx++)
        if (!((name[charIdx] >= 'a' && name[charIdx] <= 'z') || (name[charIdx] >= '0' && name[charIdx] <= '9') ||
              name[charIdx] == '-'))
            return false;
    return true;
}

/* spec.users[index] as a UserSpec; errInvalidArgument for what the CRD should have refused. */
static bool usersFromSpec(const json_t *entry, size_t index, UserSpec *out, Err *err)
{
    const char *name = json_string_value(json_object_get(entry, "name"));
    if (name == NULL || name[0] == '\0')
        return errSet(err, errInvalidArgument, "spec.users[%zu].name: Required value", index);
    const json_t *databases = json_object_get(entry, "databases");
    const json_t *first = json_array_get(databases, 0);
    if ((databases != NULL && !json_is_array(databases)) || (first != NULL && !json_is_string(first)))
        return errSet(err, errInvalidArgument, "spec.users[%zu].databases: must be a list of names", index);
    const char *type = json_string_value(json_object_get(json_object_get(entry, "password"), "type"));
    *out = (UserSpec){
        .name = name,
        .database = json_string_value(first),
        .passwordType =
            type != NULL && strcmp(type, "AlphaNumeric") == 0 ? scramPasswordAlphaNumeric : scramPasswordAscii,
    };
    return true;
}

/* Every user's Secret, in ctx's scratch child. */
static bool usersBuild(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    const json_t *users = json_object_get(json_object_get(model->cluster, "spec"), "users");
    if (users == NULL || json_is_null(users)) {
        /* PGO's default: one user named after the cluster, with a database of the same name, when the cluster's
         * name (a DNS subdomain) is also a valid user name. */
        if (!usersValidName(model->name))
            return errSet(err, errInvalidArgument,
                          "spec.users[0].name: Invalid value: \"%s\": should be at most %d chars long and match "
                          "'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'; set spec.users to name the users",
                          model->name, SECRETS_USER_NAME_MAX);
        UserSpec user = {.name = model->name, .database = model->name, .passwordType = scramPasswordAscii};
        return usersSecret(ctx, model, &user, objects, err);
    }
    if (!json_is_array(users))
        return errSet(err, errInvalidArgument, "spec.users: must be a list");
    for (size_t userIdx = 0; userIdx < json_array_size(users); userIdx++) {
        UserSpec user;
        if (!usersFromSpec(json_array_get(users, userIdx), userIdx, &user, err) ||
            !usersSecret(ctx, model, &user, objects, err))
            return false;
    }
    return true;
}

/* Secret <cluster>-operator: the password of the operator's role, as the reconciler decided it for this pass. */
static bool usersOperatorSecret(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    char *name = memCtxPrintf(ctx, "%s" CLUSTER_OPERATOR_SECRET_SUFFIX, model->name);
    if (name == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a secret name");
    json_t *data = json_object();
    if (data == NULL)
        return errSet(err, errOutOfMemory, "out of memory building a secret");
    if (!secretSetStr(ctx, data, CLUSTER_OPERATOR_PASSWORD_KEY, model->operatorPassword, err)) {
        json_decref(data);
        return errPrefix(err, "secret %s", name);
    }
    json_t *labels = clusterLabels(model, NULL, NULL);
    json_t *object = labels != NULL ? clusterObjectNew(model, "v1", "Secret", name, labels) : NULL;
    json_decref(labels);
    return secretAppend(objects, object, data, err);
}

bool clusterBuildUserSecrets(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    if (model->operatorPassword == NULL || model->operatorPassword[0] == '\0')
        return errSet(err, errInvalidArgument, "the password of the operator's role is not decided");
    MemCtx *scratch = memCtxNew(ctx, "cluster user secrets");
    if (scratch == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate the user secrets' context");
    bool ok = usersBuild(scratch, model, objects, err) && usersOperatorSecret(scratch, model, objects, err);
    memCtxFree(scratch);
    return ok;
}
