/* PgBouncer's part of a pass, after the users' SQL (pgbouncer/pgbouncer.h builds the objects; stageBuild applies
 * them, stagePrune removes them once spec.proxy is gone):
 *
 *   stageProxyKeys     the users' Secrets that still carry pgbouncer-* keys PgBouncer no longer wants, applied
 *                      again. The apply stage writes only what the cache lacks, and a Secret with keys to spare
 *                      lacks nothing; server-side apply drops the keys our field manager no longer sends.
 *   stageProxySql      the SQL behind auth_query (pgbouncer/sql.c) over libpq, as the users' is run, when its
 *                      revision differs from status.proxy.pgBouncer.postgresRevision: installed while PgBouncer
 *                      is on, removed once after it is turned off (the revision in the status says it was
 *                      installed). It goes to the status by itself.
 *
 * The status (runPgBouncerStatus, called by status.c): status.proxy.pgBouncer {postgresRevision, replicas,
 * readyReplicas} from the Deployment, and the condition ProxyAvailable mirroring the Deployment's Available; both
 * gone once PgBouncer is. */
#include "pgbouncer/pgbouncer.h"
#include "api/standby.h"
#include "controllers/postgrescluster/run.h"
#include "kube/apply.h"

#include <stdio.h>
#include <string.h>

#define PGBOUNCER_CONDITION "ProxyAvailable"

static const char *const pgbouncerUserKeys[] = {"pgbouncer-host", "pgbouncer-port", "pgbouncer-uri",
                                                "pgbouncer-jdbc-uri"};

/* Whether the cached Secret has a key of pgbouncerUserKeys that intent lacks. */
static bool secretHasSpareKeys(const json_t *intent, const json_t *cached)
{
    const json_t *want = json_object_get(intent, "data");
    const json_t *have = json_object_get(cached, "data");
    for (size_t keyIdx = 0; keyIdx < sizeof(pgbouncerUserKeys) / sizeof(pgbouncerUserKeys[0]); keyIdx++)
        if (json_object_get(have, pgbouncerUserKeys[keyIdx]) != NULL &&
            json_object_get(want, pgbouncerUserKeys[keyIdx]) == NULL)
            return true;
    return false;
}

StageResult stageProxyKeys(ClusterRun *run)
{
    Err err;
    size_t objIdx;
    json_t *object;
    json_array_foreach(run->objects, objIdx, object)
    {
        const char *kind = json_string_value(json_object_get(object, "kind"));
        const char *role = labelOf(object, CLUSTER_LABEL_ROLE);
        const char *name = nameOf(object);
        if (kind == NULL || strcmp(kind, "Secret") != 0 || role == NULL || strcmp(role, "pguser") != 0 || name == NULL)
            continue;
        const json_t *cached = reconcilerLookup(run->reconciler, "Secret", run->model.namespace, name);
        if (cached == NULL || !secretHasSpareKeys(object, cached))
            continue;
        logInfo(run->reconciler->log, "updating", logStr("namespace", run->model.namespace), logStr("kind", kind),
                logStr("name", name), logStr("why", "PgBouncer's keys"));
        KubeRequest request;
        if (!kubeRequestApply(run->reconcile->ctx, &clusterWatches[kindSecret].resource, run->model.namespace, name,
                              kubeSubresourceNone, CLUSTER_FIELD_MANAGER, object, &request, &err) ||
            !runSend(run, apiVerbPatch, &request, false, &err)) {
            runFail(run, &err);
            return stageHandedOff;
        }
    }
    return stageNext;
}

/* The revision of the SQL last run to its end, from the status, or NULL. */
static const char *currentRevision(const ClusterRun *run)
{
    const json_t *proxy = json_object_get(json_object_get(run->cluster, "status"), "proxy");
    return json_string_value(json_object_get(json_object_get(proxy, "pgBouncer"), "postgresRevision"));
}

static void sqlDone(void *arg, const Err *err)
{
    ClusterRun *run = arg;
    run->session = NULL;
    if (err->code != errOk) {
        run->pgbouncerRevision[0] = '\0';
        run->pgbouncerRemoved = false;
        runEvent(run, eventWarning, "PgBouncerNotReconciled", err->message);
        runFailed(run, err);
        return;
    }
    logInfo(run->reconciler->log, run->pgbouncerRemoved ? "PgBouncer's SQL removed" : "PgBouncer's SQL reconciled",
            logStr("namespace", run->model.namespace), logStr("name", run->model.name));
    stageStatus(run);
}

/* The verifier of _crunchypgbouncer in this pass's intent of the PgBouncer Secret, or NULL. */
static const char *intentVerifier(ClusterRun *run)
{
    char name[NAMING_NAME_SIZE];
    clusterPgBouncerName(&run->model, name);
    ClusterBytes bytes;
    const json_t *secret = intentOf(run->objects, "Secret", name);
    if (secret == NULL || !clusterSecretRead(run->reconcile->ctx, secret, PGBOUNCER_KEY_VERIFIER, &bytes, NULL) ||
        bytes.data == NULL || strlen(bytes.data) != bytes.len)
        return NULL;
    return bytes.data;
}

static void pgbouncerSql(ClusterRun *run)
{
    run->stage = "Proxy";
    Err err;
    bool enabled = clusterPgBouncerEnabled(&run->model);
    const char *current = currentRevision(run);
    const char *verifier = enabled ? intentVerifier(run) : NULL;
    if ((enabled && verifier == NULL) || (!enabled && current == NULL) || run->model.haClusterIP == NULL ||
        !runHasLeader(run) || clusterStandbyOf(run->cluster).enabled) {
        /* Nothing to do, or no primary yet: its Endpoints changing brings the cluster back. A standby is read-only:
         * its primary cluster's SQL reaches it by replication, and the promotion changes the spec. */
        stageStatus(run);
        return;
    }
    ClusterPgBouncerSql sql;
    if (!clusterPgBouncerSql(run->reconcile->ctx, &run->model, verifier, &sql, &err)) {
        runFailed(run, &err);
        return;
    }
    if (enabled && current != NULL && strcmp(current, sql.revision) == 0) {
        stageStatus(run);
        return;
    }
    if (enabled)
        memcpy(run->pgbouncerRevision, sql.revision, sizeof(run->pgbouncerRevision));
    run->pgbouncerRemoved = !enabled;
    PgTarget target;
    if (!runOperatorTarget(run, &target, &err)) {
        runFailed(run, &err);
        return;
    }
    if (!pgSessionStart(run->reconcile->ctx, run->reconciler->loop, &target, sql.batches, sql.batchCount, sqlDone, run,
                        &run->session, &err))
        runFailed(run, &err);
}

StageResult stageProxySql(ClusterRun *run)
{
    pgbouncerSql(run);
    return stageHandedOff;
}

/* The Deployment's condition of type, or NULL. */
static const json_t *deploymentCondition(const json_t *deployment, const char *type)
{
    return conditionOf(json_object_get(json_object_get(deployment, "status"), "conditions"), type);
}

bool runPgBouncerStatus(ClusterRun *run, json_t *status, json_t *conditions)
{
    if (!clusterPgBouncerEnabled(&run->model)) {
        /* Gone, once its SQL is: a merge patch removes with null. */
        const json_t *proxy = json_object_get(json_object_get(run->cluster, "status"), "proxy");
        bool sqlLeft = currentRevision(run) != NULL && !run->pgbouncerRemoved;
        if (proxy == NULL || sqlLeft)
            return true;
        return clusterPut(status, "proxy", json_null());
    }
    char name[NAMING_NAME_SIZE];
    clusterPgBouncerName(&run->model, name);
    const json_t *deployment = reconcilerLookup(run->reconciler, "Deployment", run->model.namespace, name);
    const json_t *observed = json_object_get(deployment, "status");
    json_t *pgbouncer =
        json_pack("{s:I, s:I}", "replicas", (json_int_t)json_integer_value(json_object_get(observed, "replicas")),
                  "readyReplicas", (json_int_t)json_integer_value(json_object_get(observed, "readyReplicas")));
    bool ok = pgbouncer != NULL;
    if (ok && run->pgbouncerRevision[0] != '\0')
        ok = clusterPut(pgbouncer, "postgresRevision", json_string(run->pgbouncerRevision));
    ok = ok && clusterPut(status, "proxy", json_pack("{s:O}", "pgBouncer", pgbouncer));
    json_decref(pgbouncer);
    const json_t *available = deploymentCondition(deployment, "Available");
    if (ok && available != NULL) {
        const char *state = json_string_value(json_object_get(available, "status"));
        const char *reason = json_string_value(json_object_get(available, "reason"));
        const char *message = json_string_value(json_object_get(available, "message"));
        ok = clusterPush(conditions,
                         clusterCondition(&run->model, PGBOUNCER_CONDITION, state != NULL && strcmp(state, "True") == 0,
                                          reason != NULL ? reason : "Unknown", message != NULL ? message : ""));
    }
    return ok;
}
