/* Users: the SQL for spec.users, run on the primary over TLS as the operator's role CLUSTER_OPERATOR_CN with a client
 * certificate the namespace's CA signs for the occasion and the role's password (model->operatorPassword; pg_hba
 * admits that role by both only, see patroni/config.c), when its revision differs from status.usersRevision.
 * Postgres is reached at the leader Service's address, verified as <cluster>-primary (verify-full), or with
 * spec.customTLSSecret against the user's CA alone (verify-ca: the names in the user's certificate are the user's).
 * The verifiers and the CA come from this reconcile's intents, which are what the cluster's Secrets now hold. */
#include "api/standby.h"
#include "controllers/postgrescluster/run.h"
#include "pki/authority.h"

#include <stdio.h>
#include <string.h>

/* The intent of kind named name among objects, or NULL. */
const json_t *intentOf(const json_t *objects, const char *kind, const char *name)
{
    size_t objIdx;
    json_t *object;
    json_array_foreach(objects, objIdx, object)
    {
        const char *objKind = json_string_value(json_object_get(object, "kind"));
        const char *objName = nameOf(object);
        if (objKind != NULL && objName != NULL && strcmp(objKind, kind) == 0 && strcmp(objName, name) == 0)
            return object;
    }
    return NULL;
}

bool intended(const json_t *objects, const char *kind, const char *name)
{
    return intentOf(objects, kind, name) != NULL;
}

/* The decoded data key of the intended Secret name, as text in the run's context, or NULL. */
static const char *intentData(ClusterRun *run, const char *name, const char *key)
{
    ClusterBytes bytes;
    const json_t *secret = intentOf(run->objects, "Secret", name);
    if (secret == NULL || !clusterSecretRead(run->reconcile->ctx, secret, key, &bytes, NULL) || bytes.data == NULL ||
        strlen(bytes.data) != bytes.len)
        return NULL;
    return bytes.data;
}

static const char *usersVerifier(void *arg, const char *user)
{
    ClusterRun *run = arg;
    char name[600];
    snprintf(name, sizeof(name), "%s-pguser-%s", run->model.name, user);
    return intentData(run, name, "verifier");
}

static void usersDone(void *arg, const Err *err)
{
    ClusterRun *run = arg;
    run->session = NULL;
    if (err->code != errOk) {
        runEvent(run, eventWarning, "UsersNotReconciled", err->message);
        runFailed(run, err);
        return;
    }
    logInfo(run->reconciler->log, "users reconciled", logStr("namespace", run->model.namespace),
            logStr("name", run->model.name), logStr("revision", run->usersRevision));
    runNextStage(run);
}

/* A client certificate CLUSTER_OPERATOR_CN from the root in this reconcile's intents, and the CA that signed the
 * server's certificate: the user's with spec.customTLSSecret, else that root. */
static bool usersClientCert(ClusterRun *run, const char **caPem, char **certPem, char **keyPem, Err *err)
{
    static const char *const names[] = {CLUSTER_OPERATOR_CN};
    const char *rootCert = intentData(run, CLUSTER_ROOT_SECRET, "root.crt");
    const char *rootKey = intentData(run, CLUSTER_ROOT_SECRET, "root.key");
    if (rootCert == NULL || rootKey == NULL)
        return errSet(err, errInvalidArgument, "the root certificate authority is not ready");
    PkiRoot root;
    PkiLeaf leaf;
    size_t certLen, keyLen;
    PkiLeafSpec spec = {
        .commonName = CLUSTER_OPERATOR_CN, .dnsNames = names, .dnsNameCount = 1, .usage = PKI_USAGE_CLIENT};
    ClusterBytes customCa;
    if (!clusterCustomTlsCa(run->reconcile->ctx, &run->model, &customCa, err))
        return false;
    if (json_is_object(json_object_get(json_object_get(run->cluster, "spec"), "customTLSSecret")) &&
        (customCa.data == NULL || strlen(customCa.data) != customCa.len))
        return errSet(err, errInvalidArgument, "the Secret of spec.customTLSSecret has no CA certificate (ca.crt)");
    *caPem = customCa.data != NULL ? customCa.data : rootCert;
    return pkiRootDecode(run->reconcile->ctx, rootCert, strlen(rootCert), rootKey, strlen(rootKey), &root, err) &&
           pkiLeafNew(run->reconcile->ctx, &root, &spec, run->model.clock, &leaf, err) &&
           pkiCertEncodePem(run->reconcile->ctx, leaf.cert, certPem, &certLen, err) &&
           pkiKeyEncodePem(run->reconcile->ctx, leaf.key, pkiKeyFormatPkcs8, keyPem, &keyLen, err);
}

bool runOperatorTarget(ClusterRun *run, PgTarget *target, Err *err)
{
    const char *caPem = NULL;
    char *certPem = NULL, *keyPem = NULL;
    char *host = memCtxPrintf(run->reconcile->ctx, "%s-primary.%s.svc", run->model.name, run->model.namespace);
    if (host == NULL)
        return errSet(err, errOutOfMemory, "out of memory connecting to Postgres");
    if (!usersClientCert(run, &caPem, &certPem, &keyPem, err))
        return false;
    *target = (PgTarget){
        .hostaddr = run->model.haClusterIP,
        .host = host,
        .port = (int)run->model.port,
        .user = CLUSTER_OPERATOR_CN,
        .password = run->model.operatorPassword,
        .caPem = caPem,
        .certPem = certPem,
        .keyPem = keyPem,
        /* The user's server certificate names what the user wants, maybe none of our Services (postgres.h). */
        .verifyCaOnly = json_is_object(json_object_get(json_object_get(run->cluster, "spec"), "customTLSSecret")),
        .readWrite = true,
    };
    return true;
}

static void stageUsers(ClusterRun *run)
{
    run->stage = "Users";
    Err err;
    ClusterUsersSql sql;
    if (!clusterUsersSql(run->reconcile->ctx, &run->model, usersVerifier, run, &sql, &err)) {
        if (err.code == errInvalidArgument)
            runEvent(run, eventWarning, "InvalidUser", err.message);
        runFailed(run, &err);
        return;
    }
    const char *current = json_string_value(json_object_get(json_object_get(run->cluster, "status"), "usersRevision"));
    if (sql.batchCount == 0 || (current != NULL && strcmp(current, sql.revision) == 0) ||
        run->model.haClusterIP == NULL || !runHasLeader(run) || clusterStandbyOf(run->cluster).enabled) {
        /* Nothing to do, or no primary yet: its Endpoints changing brings the cluster back. A standby's roles and
         * databases are its primary cluster's, replicated (its Secrets are made all the same); the promotion
         * changes the spec, which brings the cluster back. */
        runNextStage(run);
        return;
    }
    memcpy(run->usersRevision, sql.revision, sizeof(run->usersRevision));
    PgTarget target;
    if (!runOperatorTarget(run, &target, &err)) {
        if (err.code == errInvalidArgument)
            runEvent(run, eventWarning, "UsersNotReconciled", err.message);
        runFailed(run, &err);
        return;
    }
    if (!pgSessionStart(run->reconcile->ctx, run->reconciler->loop, &target, sql.batches, sql.batchCount, usersDone,
                        run, &run->session, &err))
        runFailed(run, &err);
}

/* The users' stage goes on to the next stage by itself: at once when there is nothing to run, else when its session
 * ends (usersDone); a failure goes to the status through runFailed. */
StageResult stageUsersRun(ClusterRun *run)
{
    stageUsers(run);
    return stageHandedOff;
}
