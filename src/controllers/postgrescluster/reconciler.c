/* The PostgresCluster reconciler (see reconciler.h).
 *
 * A ClusterRun holds one reconcile's state in the reconcile's context: the cluster document (a reference of its own,
 * so a watch event replacing the cached copy mid-reconcile cannot free it), the model and intents built from it, and
 * the calls of the current stage. The context's free callback cancels calls still in flight, so a reconcile
 * abandoned by a shutting-down manager leaves nothing behind. */
#include "controllers/postgrescluster/reconciler.h"

#include "api/fields.h"
#include "api/primary.h"
#include "common/json.h"
#include "controllers/postgrescluster/builders.h"
#include "controllers/postgrescluster/changes.h"
#include "controllers/postgrescluster/rollout.h"
#include "kube/apply.h"
#include "kube/request.h"
#include "patroni/config.h"
#include "pgbackrest/pgbackrest.h"
#include "pgsql/session.h"
#include "pki/authority.h"
#include "postgres/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum ClusterKindIdx {
    kindCluster,
    kindSecret,
    kindConfigMap,
    kindService,
    kindEndpoints,
    kindStatefulSet,
    kindPvc,
    kindPod,
    kindServiceAccount,
    kindRole,
    kindRoleBinding,
    kindPdb,
    kindJob,
    kindCount,
} ClusterKindIdx;

typedef struct ClusterWatch {
    const char *kind;
    KubeResource resource;
    bool owned;                           /* mapped by controller owner reference; else by the cluster label */
    bool selectByCluster;                 /* cache only objects with the cluster label */
    ManagerUpdateFilterFn *updateMatters; /* NULL: every update is worth a reconcile */
} ClusterWatch;

static const ClusterWatch clusterWatches[kindCount] = {
    [kindCluster] = {CLUSTER_KIND,
                     {"postgres-operator.crunchydata.com", "v1beta1", "postgresclusters", true},
                     false,
                     false},
    /* Every Secret: the namespace's root CA Secret has no cluster label. */
    [kindSecret] = {"Secret", {"", "v1", "secrets", true}, true, false},
    [kindConfigMap] = {"ConfigMap", {"", "v1", "configmaps", true}, true, true},
    [kindService] = {"Service", {"", "v1", "services", true}, true, true},
    /* Patroni's Endpoints carry the cluster label but no owner reference. */
    [kindEndpoints] = {"Endpoints", {"", "v1", "endpoints", true}, false, true, clusterEndpointsUpdateMatters},
    [kindStatefulSet] = {"StatefulSet", {"apps", "v1", "statefulsets", true}, true, true},
    [kindPvc] = {"PersistentVolumeClaim", {"", "v1", "persistentvolumeclaims", true}, true, true},
    /* Pods are the StatefulSets', not ours; Patroni's role label on them decides the primary. */
    [kindPod] = {"Pod", {"", "v1", "pods", true}, false, true, clusterPodUpdateMatters},
    [kindServiceAccount] = {"ServiceAccount", {"", "v1", "serviceaccounts", true}, true, true},
    [kindRole] = {"Role", {"rbac.authorization.k8s.io", "v1", "roles", true}, true, true},
    [kindRoleBinding] = {"RoleBinding", {"rbac.authorization.k8s.io", "v1", "rolebindings", true}, true, true},
    [kindPdb] = {"PodDisruptionBudget", {"policy", "v1", "poddisruptionbudgets", true}, true, true},
    /* pgBackRest's stanza and backup Jobs. */
    [kindJob] = {"Job", {"batch", "v1", "jobs", true}, true, true},
};

struct ClusterReconciler {
    MemCtx *ctx;
    Loop *loop;
    const Log *log;
    ClusterImageFn *images;
    void *imagesArg;
    Api *api;
    EventRecorder *events;
    const Store *stores[kindCount];
};

typedef struct ClusterRun ClusterRun;
typedef void ClusterStageFn(ClusterRun *run);

typedef struct RunCall {
    struct RunCall *next;
    ClusterRun *run;
    ApiCall *call;
    bool missingIsFine; /* a 404 is success (deletes) */
} RunCall;

struct ClusterRun {
    ClusterReconciler *reconciler;
    Reconcile *reconcile;
    json_t *cluster; /* our own reference */
    ClusterModel model;
    json_t *objects; /* the intents */
    RunCall *calls;
    size_t pending;
    bool failed;
    Err firstErr;
    ClusterStageFn *next; /* after the current batch */
    size_t writes;
    PgSession *session;                              /* the users' SQL, while it runs */
    char usersRevision[CLUSTER_USERS_REVISION_SIZE]; /* what the SQL just run was, or "" */
    bool rootOwnerNeeded;                            /* the root CA Secret was applied: add our reference */
    bool prunedInstances;                            /* this pass deletes surplus instances' objects */
    bool modelReady;                                 /* the model was built from the spec */
    const char *stage;                               /* the stage running, named in a failure's condition */
    bool statusStage;                                /* the status is being written: a failure ends the pass */
    bool stageFailed;                                /* a stage failed; the status says so, then the pass ends */
    Err stageErr;
    const char *failedStage;
    json_t *conditions; /* this pass's own conditions (failure, fields not acted on, waiting), beside pgBackRest's */
};

/* --- instance names --- */

void clusterInstanceName(const char *cluster, const char *uid, const char *set, unsigned ordinal, char out[254])
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789"; /* PGO's: no vowels, no look-alikes */
    char seed[600];
    int seedLen = snprintf(seed, sizeof(seed), "%s/%s/%u", uid, set, ordinal);
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (int charIdx = 0; charIdx < seedLen && charIdx < (int)sizeof(seed); charIdx++) {
        hash ^= (uint8_t)seed[charIdx];
        hash *= 16777619u;
    }
    char suffix[5];
    for (int charIdx = 0; charIdx < 4; charIdx++) {
        suffix[charIdx] = alphabet[hash % (sizeof(alphabet) - 1)];
        hash /= (uint32_t)(sizeof(alphabet) - 1);
    }
    suffix[4] = '\0';
    snprintf(out, 254, "%s-%s-%s", cluster, set, suffix);
}

/* --- cache access --- */

static const json_t *reconcilerLookup(void *arg, const char *kind, const char *namespace, const char *name)
{
    const ClusterReconciler *reconciler = arg;
    for (size_t kindIdx = 0; kindIdx < kindCount; kindIdx++) {
        if (strcmp(clusterWatches[kindIdx].kind, kind) == 0) {
            const StoreEntry *entry =
                reconciler->stores[kindIdx] != NULL ? storeGet(reconciler->stores[kindIdx], namespace, name) : NULL;
            return entry != NULL ? entry->object : NULL;
        }
    }
    return NULL;
}

/* metadata.name of object, or NULL. */
static const char *nameOf(const json_t *object)
{
    return json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
}

static const char *labelOf(const json_t *object, const char *label)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(object, "metadata"), "labels"), label));
}

/* Whether object's controller owner reference is the cluster with uid. */
static bool controlledBy(const json_t *object, const char *uid)
{
    size_t refIdx;
    json_t *ref;
    json_array_foreach(json_object_get(json_object_get(object, "metadata"), "ownerReferences"), refIdx, ref)
    {
        const char *refUid = json_string_value(json_object_get(ref, "uid"));
        if (json_is_true(json_object_get(ref, "controller")) && refUid != NULL && strcmp(refUid, uid) == 0)
            return true;
    }
    return false;
}

/* --- batches of calls --- */

static void runFinish(ClusterRun *run, ReconcileOutcome outcome, const Err *err)
{
    reconcileFinish(run->reconcile, outcome, 0, err);
}

static void runCancelAll(void *arg)
{
    ClusterRun *run = arg;
    for (RunCall *call = run->calls; call != NULL; call = call->next) {
        apiCancel(call->call);
        call->call = NULL;
    }
    run->calls = NULL;
    pgSessionCancel(run->session);
    run->session = NULL;
    json_decref(run->objects);
    run->objects = NULL;
    json_decref(run->conditions);
    run->conditions = NULL;
    json_decref(run->cluster);
    run->cluster = NULL;
}

static void stageStatus(ClusterRun *run);

/* A stage failed with err: the status is still written for what was observed, with the failure in the condition
 * Reconciled (False, reason "<stage>Failed"), and the reconcile then ends with err (the key comes back with
 * backoff). A failure while writing the status ends the reconcile at once. */
static void runFailed(ClusterRun *run, const Err *err)
{
    if (run->statusStage || run->stageFailed) {
        runFinish(run, reconcileError, run->stageFailed ? &run->stageErr : err);
        return;
    }
    run->stageFailed = true;
    run->stageErr = *err;
    run->failedStage = run->stage;
    run->usersRevision[0] = '\0'; /* the status keeps the revision of the SQL last run to its end */
    stageStatus(run);
}

/* Runs next now when nothing is pending, else when the last call of the batch returns. */
static void runAfterBatch(ClusterRun *run, ClusterStageFn *next)
{
    run->next = next;
    if (run->pending > 0)
        return;
    run->calls = NULL;
    if (run->failed) {
        run->failed = false;
        if (run->firstErr.code == errKubeConflict) /* our cache was behind: again at once, with a fresher one */
            runFinish(run, reconcileRequeue, NULL);
        else
            runFailed(run, &run->firstErr);
        return;
    }
    next(run);
}

static void runOnDone(void *arg, const KubeResponse *response, const Err *err)
{
    (void)response;
    RunCall *call = arg;
    ClusterRun *run = call->run;
    call->call = NULL;
    bool fine = err->code == errOk || (call->missingIsFine && err->code == errKubeNotFound);
    if (!fine && !run->failed) {
        run->failed = true;
        run->firstErr = *err;
    }
    run->pending--;
    if (run->pending == 0)
        runAfterBatch(run, run->next);
}

/* Sends request as part of the current batch. */
static bool runSend(ClusterRun *run, ApiVerb verb, const KubeRequest *request, bool missingIsFine, Err *err)
{
    RunCall *call = memCtxAlloc(run->reconcile->ctx, sizeof(*call));
    if (call == NULL)
        return errSet(err, errOutOfMemory, "out of memory sending a request");
    *call = (RunCall){.next = run->calls, .run = run, .missingIsFine = missingIsFine};
    if (!apiSend(run->reconciler->api, verb, request, &(KubeCallbacks){.done = runOnDone, .arg = call}, &call->call,
                 err))
        return false;
    run->calls = call;
    run->pending++;
    run->writes++;
    return true;
}

/* The stage fails with err now, or when the batch in flight ends. */
static void runFail(ClusterRun *run, const Err *err)
{
    if (run->pending == 0) {
        runFailed(run, err);
        return;
    }
    if (!run->failed) {
        run->failed = true;
        run->firstErr = *err;
    }
}

static bool runDelete(ClusterRun *run, const KubeResource *resource, const json_t *object, Err *err)
{
    const char *name = nameOf(object);
    const char *uid = json_string_value(json_object_get(json_object_get(object, "metadata"), "uid"));
    KubeDeleteOptions options = {.propagationPolicy = "Background", .preconditionUid = uid};
    KubeRequest request;
    logInfo(run->reconciler->log, "deleting", logStr("namespace", run->model.namespace),
            logStr("resource", resource->plural), logStr("name", name));
    return kubeRequestDelete(run->reconcile->ctx, resource, run->model.namespace, name, &options, &request, err) &&
           runSend(run, apiVerbDelete, &request, true, err);
}

/* --- stages --- */

static void stageUsers(ClusterRun *run);
static void runEvent(ClusterRun *run, EventType type, const char *reason, const char *message);

static void stageDone(ClusterRun *run)
{
    if (run->stageFailed) {
        runFinish(run, reconcileError, &run->stageErr);
        return;
    }
    logInfo(run->reconciler->log, "reconciled", logStr("namespace", run->model.namespace),
            logStr("name", run->model.name), logInt("writes", run->writes));
    runFinish(run, reconcileSuccess, NULL);
}

/* The status we want, from the cache. */
static json_t *statusWanted(ClusterRun *run)
{
    const ClusterModel *model = &run->model;
    const ClusterReconciler *reconciler = run->reconciler;
    json_t *instances = json_array();
    for (size_t setIdx = 0; instances != NULL && setIdx < model->setCount; setIdx++) {
        int64_t replicas = 0, ready = 0, updated = 0;
        size_t ownedCount;
        const StoreEntry *const *owned = storeOwnedBy(reconciler->stores[kindStatefulSet], model->uid, &ownedCount);
        for (size_t ownedIdx = 0; ownedIdx < ownedCount; ownedIdx++) {
            const StoreEntry *entry = owned[ownedIdx];
            const char *set = labelOf(entry->object, CLUSTER_LABEL_INSTANCE_SET);
            if (strcmp(entry->namespace, model->namespace) != 0 || !controlledBy(entry->object, model->uid) ||
                set == NULL || strcmp(set, model->sets[setIdx].name) != 0)
                continue;
            const json_t *status = json_object_get(entry->object, "status");
            replicas += json_integer_value(json_object_get(status, "replicas"));
            ready += json_integer_value(json_object_get(status, "readyReplicas"));
            updated += json_integer_value(json_object_get(status, "updatedReplicas"));
        }
        if (json_array_append_new(instances, json_pack("{s:s, s:I, s:I, s:I}", "name", model->sets[setIdx].name,
                                                       "replicas", (json_int_t)replicas, "readyReplicas",
                                                       (json_int_t)ready, "updatedReplicas", (json_int_t)updated)) !=
            0) {
            json_decref(instances);
            instances = NULL;
        }
    }
    char configName[300];
    snprintf(configName, sizeof(configName), "%s-ha-config", model->name);
    const json_t *config = reconcilerLookup(run->reconciler, "Endpoints", model->namespace, configName);
    const char *systemId = json_string_value(
        json_object_get(json_object_get(json_object_get(config, "metadata"), "annotations"), "initialize"));
    json_t *status = instances != NULL ? json_pack("{s:I, s:o}", "observedGeneration", (json_int_t)model->generation,
                                                   "instances", instances)
                                       : NULL;
    if (status != NULL && run->usersRevision[0] != '\0' &&
        json_object_set_new(status, "usersRevision", json_string(run->usersRevision)) != 0) {
        json_decref(status);
        status = NULL;
    }
    if (status != NULL && systemId != NULL &&
        json_object_set_new(status, "patroni", json_pack("{s:s}", "systemIdentifier", systemId)) != 0) {
        json_decref(status);
        status = NULL;
    }
    return status;
}

/* The condition of type in conditions, or NULL. */
static const json_t *conditionOf(const json_t *conditions, const char *type)
{
    size_t condIdx;
    json_t *condition;
    json_array_foreach(conditions, condIdx, condition)
    {
        const char *condType = json_string_value(json_object_get(condition, "type"));
        if (condType != NULL && strcmp(condType, type) == 0)
            return condition;
    }
    return NULL;
}

/* status.conditions with ours (wanted) merged in by type, in place of the current ones of the same type; the
 * placeholder's "Observed", and the PGBackRest* and our own conditions (Reconciled, SpecApplied, Progressing) no longer
 * wanted are dropped; others' are kept as they are. Ours are there only while something is wrong. */
static json_t *conditionsMerged(const json_t *current, const json_t *wanted)
{
    json_t *merged = json_array();
    size_t condIdx;
    json_t *condition;
    json_array_foreach(current, condIdx, condition)
    {
        const char *type = json_string_value(json_object_get(condition, "type"));
        const json_t *ours = type != NULL ? conditionOf(wanted, type) : NULL;
        bool stale = type != NULL && (strcmp(type, "Observed") == 0 || strncmp(type, "PGBackRest", 10) == 0 ||
                                      strcmp(type, CLUSTER_CONDITION_RECONCILED) == 0 ||
                                      strcmp(type, CLUSTER_CONDITION_SPEC_APPLIED) == 0 ||
                                      strcmp(type, CLUSTER_CONDITION_PROGRESSING) == 0);
        if (merged != NULL && (ours != NULL || !stale) &&
            json_array_append(merged, ours != NULL ? (json_t *)(uintptr_t)ours : condition) != 0) {
            json_decref(merged);
            merged = NULL;
        }
    }
    json_array_foreach(wanted, condIdx, condition)
    {
        const char *type = json_string_value(json_object_get(condition, "type"));
        if (merged != NULL && type != NULL && conditionOf(current, type) == NULL &&
            json_array_append(merged, condition) != 0) {
            json_decref(merged);
            merged = NULL;
        }
    }
    return merged;
}

/* The conditions this pass wants: pgBackRest's (from backrest, may be NULL), the pass's own, and a failure's. */
static json_t *conditionsWanted(ClusterRun *run, const json_t *backrest)
{
    json_t *wanted = json_array();
    bool ok = wanted != NULL && json_array_extend(wanted, json_object_get(backrest, "conditions")) == 0 &&
              (run->conditions == NULL || json_array_extend(wanted, run->conditions) == 0);
    if (ok && run->stageFailed) {
        char reason[64];
        snprintf(reason, sizeof(reason), "%sFailed", run->failedStage != NULL ? run->failedStage : "Reconcile");
        ok = clusterPush(
            wanted, clusterCondition(&run->model, CLUSTER_CONDITION_RECONCILED, false, reason, run->stageErr.message));
    }
    if (!ok) {
        json_decref(wanted);
        return NULL;
    }
    return wanted;
}

/* The status: what was observed (instances, Patroni, pgBackRest) and the conditions, written whenever it differs
 * from the cluster's, on every pass, also one whose stages failed (runFailed). */
static void stageStatus(ClusterRun *run)
{
    Err err;
    run->statusStage = true;
    run->stage = "Status";
    const json_t *current = json_object_get(run->cluster, "status");
    json_t *status = run->modelReady ? statusWanted(run)
                                     : json_pack("{s:I}", "observedGeneration", (json_int_t)run->model.generation);
    json_t *backrest = status != NULL && run->modelReady ? clusterPgBackRestStatus(&run->model) : NULL;
    json_t *wanted = status != NULL && (backrest != NULL || !run->modelReady) ? conditionsWanted(run, backrest) : NULL;
    const json_t *currentConditions = json_object_get(current, "conditions");
    json_t *conditions = wanted != NULL ? conditionsMerged(currentConditions, wanted) : NULL;
    json_decref(wanted);
    const json_t *repos = json_object_get(backrest, "pgbackrest");
    bool ok = conditions != NULL;
    if (ok && repos != NULL)
        ok = json_object_set(status, "pgbackrest", (json_t *)(uintptr_t)repos) == 0;
    else if (ok && run->modelReady && json_object_get(current, "pgbackrest") != NULL)
        ok = json_object_set_new(status, "pgbackrest", json_null()) == 0; /* a merge patch removes with null */
    bool conditionsChanged = ok && (currentConditions != NULL ? !json_equal(conditions, currentConditions)
                                                              : json_array_size(conditions) > 0);
    if (conditionsChanged)
        ok = json_object_set(status, "conditions", conditions) == 0;
    json_decref(conditions);
    json_decref(backrest);
    if (!ok) {
        json_decref(status);
        errSet(&err, errOutOfMemory, "out of memory computing the status");
        runFailed(run, &err);
        return;
    }
    bool removal = json_is_null(json_object_get(status, "pgbackrest"));
    if (!conditionsChanged && !removal && !clusterApplyNeeded(status, current)) {
        json_decref(status);
        if (!run->stageFailed)
            logDebug(run->reconciler->log, "reconciled", logStr("namespace", run->model.namespace),
                     logStr("name", run->model.name), logInt("writes", run->writes));
        runFinish(run, run->stageFailed ? reconcileError : reconcileSuccess, run->stageFailed ? &run->stageErr : NULL);
        return;
    }
    json_t *patch = json_pack("{s:o}", "status", status);
    KubeRequest request;
    ok = patch != NULL &&
         kubeRequestMergePatch(run->reconcile->ctx, &clusterWatches[kindCluster].resource, run->model.namespace,
                               run->model.name, kubeSubresourceStatus, CLUSTER_FIELD_MANAGER, patch, &request, &err) &&
         runSend(run, apiVerbPatch, &request, true, &err);
    if (patch == NULL)
        errSet(&err, errOutOfMemory, "out of memory computing the status");
    json_decref(patch);
    if (!ok) {
        runFail(run, &err);
        return;
    }
    runAfterBatch(run, stageDone);
}

/* Users: the SQL for spec.users, run on the primary over TLS as the operator's role CLUSTER_OPERATOR_CN with a client
 * certificate the namespace's CA signs for the occasion (pg_hba admits that role by certificate only), when its
 * revision differs from status.usersRevision. Postgres is reached at the leader Service's address, verified as
 * <cluster>-primary (verify-full), or with spec.customTLSSecret against the user's CA alone (verify-ca: the names in
 * the user's certificate are the user's). The verifiers and the CA come from this reconcile's intents, which are what
 * the cluster's Secrets now hold. */

/* The intent of kind named name among objects, or NULL. */
static const json_t *intentOf(const json_t *objects, const char *kind, const char *name)
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

static bool intended(const json_t *objects, const char *kind, const char *name)
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

/* Whether Patroni has a leader: the leader Endpoints <cluster>-ha list an address. */
static bool runHasLeader(ClusterRun *run)
{
    char name[300];
    snprintf(name, sizeof(name), "%s-ha", run->model.name);
    const json_t *endpoints = reconcilerLookup(run->reconciler, "Endpoints", run->model.namespace, name);
    return json_array_size(json_object_get(json_array_get(json_object_get(endpoints, "subsets"), 0), "addresses")) > 0;
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
    stageStatus(run);
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
        run->model.haClusterIP == NULL || !runHasLeader(run)) {
        /* Nothing to do, or no primary yet: its Endpoints changing brings the cluster back. */
        stageStatus(run);
        return;
    }
    memcpy(run->usersRevision, sql.revision, sizeof(run->usersRevision));
    const char *caPem = NULL;
    char *certPem = NULL, *keyPem = NULL;
    char host[600];
    snprintf(host, sizeof(host), "%s-primary.%s.svc", run->model.name, run->model.namespace);
    if (!usersClientCert(run, &caPem, &certPem, &keyPem, &err)) {
        if (err.code == errInvalidArgument)
            runEvent(run, eventWarning, "UsersNotReconciled", err.message);
        runFailed(run, &err);
        return;
    }
    PgTarget target = {
        .hostaddr = run->model.haClusterIP,
        .host = host,
        .port = (int)run->model.port,
        .user = CLUSTER_OPERATOR_CN,
        .caPem = caPem,
        .certPem = certPem,
        .keyPem = keyPem,
        /* The user's server certificate names what the user wants, maybe none of our Services (postgres.h). */
        .verifyCaOnly = json_is_object(json_object_get(json_object_get(run->cluster, "spec"), "customTLSSecret")),
        .readWrite = true,
    };
    if (!pgSessionStart(run->reconcile->ctx, run->reconciler->loop, &target, sql.batches, sql.batchCount, usersDone,
                        run, &run->session, &err))
        runFailed(run, &err);
}

/* Whether name is the name of one of the model's instances. */
static bool modelHasInstance(const ClusterModel *model, const char *name)
{
    for (size_t instIdx = 0; instIdx < model->instanceCount; instIdx++)
        if (strcmp(model->instances[instIdx].name, name) == 0)
            return true;
    return false;
}

/* Patroni's failover key: Endpoints <cluster>-ha-failover. */
static void failoverName(const ClusterModel *model, char name[300])
{
    snprintf(name, 300, "%s-ha-failover", model->name);
}

/* Asks Patroni for a switchover from the primary's Pod to the candidate's through its failover key (Endpoints
 * <cluster>-ha-failover, annotations leader and member), as `patronictl switchover` does when it cannot reach the
 * REST API. The leader demotes itself on its next cycle if the candidate is healthy, then clears the key. */
static bool runSwitchover(ClusterRun *run, const char *primaryPod, const char *candidatePod, bool *sent, Err *err)
{
    char name[300], scope[300];
    failoverName(&run->model, name);
    snprintf(scope, sizeof(scope), "%s-ha", run->model.name);
    json_t *labels = json_pack("{s:s, s:s}", CLUSTER_LABEL_CLUSTER, run->model.name, CLUSTER_LABEL_PATRONI, scope);
    json_t *object = labels == NULL ? NULL : clusterObjectNew(&run->model, "v1", "Endpoints", name, labels);
    json_decref(labels);
    if (object == NULL ||
        json_object_set_new(json_object_get(object, "metadata"), "annotations",
                            json_pack("{s:s, s:s}", "leader", primaryPod, "member", candidatePod)) != 0) {
        json_decref(object);
        return errSet(err, errOutOfMemory, "cannot build the switchover request");
    }
    const json_t *cached = reconcilerLookup(run->reconciler, "Endpoints", run->model.namespace, name);
    KubeRequest request;
    *sent = clusterApplyNeeded(object, cached);
    bool ok =
        !*sent || (kubeRequestApply(run->reconcile->ctx, &clusterWatches[kindEndpoints].resource, run->model.namespace,
                                    name, kubeSubresourceNone, CLUSTER_FIELD_MANAGER, object, &request, err) &&
                   runSend(run, apiVerbPatch, &request, false, err));
    json_decref(object);
    return ok;
}

/* Rolling update (rollout.h): at most one step per reconcile; the Pods' and StatefulSets' events bring the next. */
static void stageRollout(ClusterRun *run)
{
    run->stage = "Rollout";
    const ClusterModel *model = &run->model;
    ClusterRolloutMember *members = memCtxAlloc(run->reconcile->ctx, (model->instanceCount + 1) * sizeof(*members));
    Err err;
    if (members == NULL) {
        errSet(&err, errOutOfMemory, "cannot allocate the rollout");
        runFail(run, &err);
        return;
    }
    size_t count = 0, primary = SIZE_MAX;
    for (size_t instIdx = 0; instIdx < model->instanceCount; instIdx++) {
        const char *instance = model->instances[instIdx].name;
        char podName[300];
        snprintf(podName, sizeof(podName), "%s-0", instance);
        const json_t *statefulSet = reconcilerLookup(run->reconciler, "StatefulSet", model->namespace, instance);
        if (statefulSet != NULL && model->primary != NULL && strcmp(instance, model->primary) == 0)
            primary = count;
        if (statefulSet != NULL)
            members[count++] = (ClusterRolloutMember){
                .statefulSet = statefulSet,
                .pod = reconcilerLookup(run->reconciler, "Pod", model->namespace, podName),
            };
    }
    /* A switchover asked for and not done yet: Patroni's failover key still names someone. */
    char failover[300];
    failoverName(model, failover);
    const json_t *failoverAnnotations = json_object_get(
        json_object_get(reconcilerLookup(run->reconciler, "Endpoints", model->namespace, failover), "metadata"),
        "annotations");
    bool switchoverPending = json_string_length(json_object_get(failoverAnnotations, "leader")) > 0 ||
                             json_string_length(json_object_get(failoverAnnotations, "member")) > 0;
    ClusterRolloutStep step = clusterRolloutNext(members, count, primary < count ? primary : count, switchoverPending);
    const char *podName = NULL;
    char message[700];
    bool ok = true;
    switch (step.action) {
        case rolloutNone:
        case rolloutWait:
            break;
        case rolloutDeletePod:
            podName = nameOf(members[step.member].pod);
            snprintf(message, sizeof(message), "restarting %s on its StatefulSet's new template", podName);
            runEvent(run, eventNormal, "RollingUpdate", message);
            ok = runDelete(run, &clusterWatches[kindPod].resource, members[step.member].pod, &err);
            break;
        case rolloutSwitchover: {
            const char *primaryPod = nameOf(members[step.primary].pod);
            podName = nameOf(members[step.member].pod);
            snprintf(message, sizeof(message), "switching over from %s to %s to update the primary", primaryPod,
                     podName);
            bool sent = false;
            ok = runSwitchover(run, primaryPod, podName, &sent, &err);
            if (ok && sent)
                runEvent(run, eventNormal, "RollingUpdate", message);
            break;
        }
    }
    if (!ok) {
        runFail(run, &err);
        return;
    }
    runAfterBatch(run, stageUsers);
}

/* Prune: what the cluster controls but no longer wants. The objects of instances beyond the sets' replicas
 * (StatefulSet, its PVCs, ConfigMap and certificate Secret, all labelled with the instance), PodDisruptionBudgets of
 * sets that no longer need one, and the Secrets of users no longer in spec.users. Roles in Postgres stay. */
static void stagePrune(ClusterRun *run)
{
    run->stage = "Prune";
    static const ClusterKindIdx kinds[] = {kindStatefulSet, kindPvc, kindConfigMap, kindSecret, kindPdb, kindJob};
    const ClusterModel *model = &run->model;
    Err err;
    for (size_t kindIdx = 0; kindIdx < sizeof(kinds) / sizeof(kinds[0]); kindIdx++) {
        size_t ownedCount;
        const StoreEntry *const *owned = storeOwnedBy(run->reconciler->stores[kinds[kindIdx]], model->uid, &ownedCount);
        for (size_t ownedIdx = 0; ownedIdx < ownedCount; ownedIdx++) {
            const StoreEntry *entry = owned[ownedIdx];
            if (strcmp(entry->namespace, model->namespace) != 0 || !controlledBy(entry->object, model->uid))
                continue;
            const char *instance = labelOf(entry->object, CLUSTER_LABEL_INSTANCE);
            const char *role = labelOf(entry->object, CLUSTER_LABEL_ROLE);
            /* Instances go only while Patroni has a leader, and the leader's never: a set renamed or emptied keeps
             * it until Patroni has another leader (a switchover to the new instances is for the user to start). */
            bool surplusInstance = instance != NULL && model->primary != NULL && !modelHasInstance(model, instance) &&
                                   strcmp(instance, model->primary) != 0;
            bool staleUser = kinds[kindIdx] == kindSecret && role != NULL && strcmp(role, "pguser") == 0 &&
                             !intended(run->objects, "Secret", entry->name);
            bool stalePdb = kinds[kindIdx] == kindPdb && !intended(run->objects, "PodDisruptionBudget", entry->name);
            /* Jobs only when pgBackRest says so: a finished Job is not re-emitted, yet must stay. */
            bool staleJob = kinds[kindIdx] == kindJob && clusterPgBackRestJobObsolete(model, entry->object);
            if (!(surplusInstance || staleUser || stalePdb || staleJob))
                continue;
            run->prunedInstances = run->prunedInstances || surplusInstance;
            if (!runDelete(run, &clusterWatches[kinds[kindIdx]].resource, entry->object, &err)) {
                runFail(run, &err);
                return;
            }
        }
    }
    /* A pass that removes instances restarts nothing: the rolling update looks again once they are gone. */
    runAfterBatch(run, run->prunedInstances ? stageUsers : stageRollout);
}

/* Patroni's dynamic configuration, once the cluster is bootstrapped: bootstrap.dcs seeds it only at initialisation,
 * so later changes to spec.patroni (dynamicConfiguration, timings, authentication rules, parameters) are written
 * where Patroni keeps it, the "config" annotation of Endpoints <cluster>-ha-config, as `patronictl edit-config`
 * would. Patroni watches that object and applies the change on its next cycle. The write is guarded by the
 * resourceVersion read, so a concurrent change by Patroni wins and the next reconcile looks again. */
static void stageDcs(ClusterRun *run)
{
    run->stage = "Patroni";
    Err err;
    char name[300];
    snprintf(name, sizeof(name), "%s-ha-config", run->model.name);
    const json_t *endpoints = reconcilerLookup(run->reconciler, "Endpoints", run->model.namespace, name);
    const json_t *metadata = json_object_get(endpoints, "metadata");
    const json_t *annotations = json_object_get(metadata, "annotations");
    const char *config = json_string_value(json_object_get(annotations, "config"));
    if (json_object_get(annotations, "initialize") == NULL || config == NULL) {
        runAfterBatch(run, stagePrune);
        return;
    }
    json_t *desired = clusterPatroniDynamicConfig(run->reconcile->ctx, &run->model, &err);
    if (desired == NULL) {
        runFail(run, &err);
        return;
    }
    json_t *current = json_loads(config, 0, NULL);
    bool needed = current == NULL || clusterApplyNeeded(desired, current);
    json_decref(current);
    char *text = needed ? json_dumps(desired, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(desired);
    if (!needed) {
        runAfterBatch(run, stagePrune);
        return;
    }
    json_t *patch = text != NULL
                        ? json_pack("{s:{s:O, s:{s:s}}}", "metadata", "resourceVersion",
                                    json_object_get(metadata, "resourceVersion"), "annotations", "config", text)
                        : NULL;
    free(text);
    KubeRequest request;
    bool ok = patch != NULL;
    if (!ok)
        errSet(&err, errOutOfMemory, "out of memory building Patroni's dynamic configuration");
    logInfo(run->reconciler->log, "updating Patroni's dynamic configuration", logStr("namespace", run->model.namespace),
            logStr("name", name));
    ok = ok &&
         kubeRequestMergePatch(run->reconcile->ctx, &clusterWatches[kindEndpoints].resource, run->model.namespace, name,
                               kubeSubresourceNone, CLUSTER_FIELD_MANAGER, patch, &request, &err) &&
         runSend(run, apiVerbPatch, &request, false, &err);
    json_decref(patch);
    if (!ok) {
        runFail(run, &err);
        return;
    }
    runAfterBatch(run, stagePrune);
}

/* Our ownerReference (not a controller's) added to the root CA Secret by a strategic merge patch, which merges
 * metadata.ownerReferences by uid: the other clusters' references stay whatever our cache says. */
static void stageRootOwner(ClusterRun *run)
{
    run->stage = "Apply";
    Err err;
    json_t *patch =
        json_pack("{s:{s:[{s:s, s:s, s:s, s:s}]}}", "metadata", "ownerReferences", "apiVersion", CLUSTER_API_VERSION,
                  "kind", CLUSTER_KIND, "name", run->model.name, "uid", run->model.uid);
    KubeRequest request;
    bool ok = patch != NULL || errSet(&err, errOutOfMemory, "out of memory patching %s", CLUSTER_ROOT_SECRET);
    ok = ok &&
         kubeRequestStrategicPatch(run->reconcile->ctx, &clusterWatches[kindSecret].resource, run->model.namespace,
                                   CLUSTER_ROOT_SECRET, kubeSubresourceNone, CLUSTER_FIELD_MANAGER, patch, &request,
                                   &err) &&
         runSend(run, apiVerbPatch, &request, false, &err);
    json_decref(patch);
    if (!ok) {
        runFail(run, &err);
        return;
    }
    runAfterBatch(run, stageDcs);
}

static void stageApply(ClusterRun *run)
{
    run->stage = "Apply";
    Err err;
    size_t objIdx;
    json_t *object;
    json_array_foreach(run->objects, objIdx, object)
    {
        const char *apiVersion = json_string_value(json_object_get(object, "apiVersion"));
        const char *kind = json_string_value(json_object_get(object, "kind"));
        const char *name = nameOf(object);
        const KubeResource *resource = clusterResourceOf(apiVersion, kind);
        if (resource == NULL || name == NULL) {
            errSet(&err, errInvalidArgument, "a builder made an object of unknown kind %s/%s", apiVersion, kind);
            runFail(run, &err);
            return;
        }
        const json_t *cached = reconcilerLookup(run->reconciler, kind, run->model.namespace, name);
        if (!clusterApplyNeeded(object, cached))
            continue;
        logInfo(run->reconciler->log, cached == NULL ? "creating" : "updating",
                logStr("namespace", run->model.namespace), logStr("kind", kind), logStr("name", name));
        /* The root CA Secret is shared by every cluster of the namespace. Its data is applied without
         * ownerReferences, so that the apply never owns (and never removes) any; each cluster adds its own
         * reference with a strategic merge patch once the Secret exists (stageRootOwner), merged by uid. Applying
         * the references instead would either lose another cluster's fresh one (a shared field manager owns them
         * all, so an apply from a stale cache removes it) or, with a manager per cluster, grow managedFields as the
         * square of the clusters. The intent still lists the cached references, so that the comparison above asks
         * for nothing once ours is there. */
        json_t *body = json_incref(object);
        if (strcmp(kind, "Secret") == 0 && strcmp(name, CLUSTER_ROOT_SECRET) == 0) {
            json_decref(body);
            body = json_deep_copy(object);
            json_object_del(json_object_get(body, "metadata"), "ownerReferences");
            run->rootOwnerNeeded = true;
        }
        KubeRequest request;
        bool sent = body != NULL || errSet(&err, errOutOfMemory, "out of memory applying %s", name);
        sent = sent &&
               kubeRequestApply(run->reconcile->ctx, resource, run->model.namespace, name, kubeSubresourceNone,
                                CLUSTER_FIELD_MANAGER, body, &request, &err) &&
               runSend(run, apiVerbPatch, &request, false, &err);
        json_decref(body);
        if (!sent) {
            runFail(run, &err);
            return;
        }
    }
    runAfterBatch(run, run->rootOwnerNeeded ? stageRootOwner : stageDcs);
}

/* --- the model's instances --- */

static int instanceCompare(const void *left, const void *right)
{
    const ClusterInstance *a = left, *b = right;
    return strcmp(a->name, b->name);
}

static int existingCompare(const void *left, const void *right)
{
    const ClusterExistingInstance *a = left, *b = right;
    return strcmp(a->name, b->name);
}

static char *runCopy(ClusterRun *run, const char *text)
{
    size_t len = strlen(text) + 1;
    char *copy = memCtxAlloc(run->reconcile->ctx, len);
    if (copy != NULL)
        memcpy(copy, text, len);
    return copy;
}

/* Every instance the cluster has, by name: an instance exists while its StatefulSet or its data volume does, so a
 * StatefulSet deleted by hand comes back under its own name, on its own data, rather than as a new instance beside
 * a volume to prune. *existing is in the run's context, the names copied (a store entry's strings go with the next
 * change to the store, mid-reconcile). */
static bool runExistingInstances(ClusterRun *run, ClusterExistingInstance **existing, size_t *count, Err *err)
{
    static const ClusterKindIdx sources[] = {kindStatefulSet, kindPvc};
    const ClusterModel *model = &run->model;
    const ClusterReconciler *reconciler = run->reconciler;
    size_t candidates = storeCount(reconciler->stores[kindStatefulSet]) + storeCount(reconciler->stores[kindPvc]);
    *existing = memCtxAlloc(run->reconcile->ctx, (candidates + 1) * sizeof(**existing));
    *count = 0;
    if (*existing == NULL)
        return errSet(err, errOutOfMemory, "out of memory listing instances");
    for (size_t sourceIdx = 0; sourceIdx < sizeof(sources) / sizeof(sources[0]); sourceIdx++) {
        size_t ownedCount;
        const StoreEntry *const *owned = storeOwnedBy(reconciler->stores[sources[sourceIdx]], model->uid, &ownedCount);
        for (size_t ownedIdx = 0; ownedIdx < ownedCount; ownedIdx++) {
            const StoreEntry *entry = owned[ownedIdx];
            const char *set = labelOf(entry->object, CLUSTER_LABEL_INSTANCE_SET);
            const char *name =
                sources[sourceIdx] == kindStatefulSet ? entry->name : labelOf(entry->object, CLUSTER_LABEL_INSTANCE);
            const char *role = labelOf(entry->object, CLUSTER_LABEL_ROLE);
            if (strcmp(entry->namespace, model->namespace) != 0 || !controlledBy(entry->object, model->uid) ||
                set == NULL || name == NULL ||
                (sources[sourceIdx] == kindPvc && (role == NULL || strcmp(role, "pgdata") != 0)))
                continue;
            bool seen = false;
            for (size_t existIdx = 0; existIdx < *count; existIdx++)
                seen = seen || strcmp((*existing)[existIdx].name, name) == 0;
            if (seen)
                continue;
            ClusterExistingInstance *instance = &(*existing)[(*count)++];
            *instance = (ClusterExistingInstance){.name = runCopy(run, name), .set = runCopy(run, set)};
            if (instance->name == NULL || instance->set == NULL)
                return errSet(err, errOutOfMemory, "out of memory listing instances");
        }
    }
    qsort(*existing, *count, sizeof(**existing), existingCompare);
    return true;
}

/* For each set: the existing instances it keeps (api/primary.h), then new names by ordinal up to replicas. */
static bool runInstances(ClusterRun *run, Err *err)
{
    ClusterModel *model = &run->model;
    ClusterExistingInstance *existing;
    size_t existingCount, total = 0;
    if (!runExistingInstances(run, &existing, &existingCount, err))
        return false;
    char leaderName[300];
    snprintf(leaderName, sizeof(leaderName), "%s-ha", model->name);
    model->primary = clusterPrimaryFind(reconcilerLookup(run->reconciler, "Endpoints", model->namespace, leaderName),
                                        existing, existingCount);
    for (size_t setIdx = 0; setIdx < model->setCount; setIdx++)
        total += (size_t)model->sets[setIdx].replicas;
    bool *keep = memCtxAlloc(run->reconcile->ctx, (existingCount + 1) * sizeof(*keep));
    model->instances = memCtxAlloc(run->reconcile->ctx, (total + existingCount + 1) * sizeof(*model->instances));
    if (model->instances == NULL || keep == NULL)
        return errSet(err, errOutOfMemory, "out of memory listing instances");
    clusterPrimaryKeep(model->sets, model->setCount, existing, existingCount, model->primary, keep);
    model->instanceCount = 0;
    for (size_t setIdx = 0; setIdx < model->setCount; setIdx++) {
        const ClusterInstanceSet *set = &model->sets[setIdx];
        int64_t kept = 0;
        for (size_t existIdx = 0; existIdx < existingCount; existIdx++)
            if (keep[existIdx] && strcmp(existing[existIdx].set, set->name) == 0) {
                model->instances[model->instanceCount++] =
                    (ClusterInstance){.name = existing[existIdx].name, .set = setIdx};
                kept++;
            }
        if (kept > set->replicas) {
            char message[400];
            snprintf(message, sizeof(message),
                     "Patroni records no leader: instance set %s keeps all of its %lld instances until it has one",
                     set->name, (long long)kept);
            logInfo(run->reconciler->log, "scale-down waits for a leader", logStr("namespace", model->namespace),
                    logStr("name", model->name), logStr("set", set->name));
            runEvent(run, eventNormal, "ScaleDownWaiting", message);
        }
        for (unsigned ordinal = 0; kept < set->replicas; ordinal++) {
            char name[254];
            clusterInstanceName(model->name, model->uid, set->name, ordinal, name);
            bool taken = false;
            for (size_t existIdx = 0; existIdx < existingCount; existIdx++)
                taken = taken || strcmp(existing[existIdx].name, name) == 0;
            if (taken)
                continue;
            char *copy = runCopy(run, name);
            if (copy == NULL)
                return errSet(err, errOutOfMemory, "out of memory listing instances");
            model->instances[model->instanceCount++] = (ClusterInstance){.name = copy, .set = setIdx};
            kept++;
        }
    }
    qsort(model->instances, model->instanceCount, sizeof(*model->instances), instanceCompare);
    return true;
}

static void runEvent(ClusterRun *run, EventType type, const char *reason, const char *message)
{
    Err err;
    if (run->reconciler->events != NULL &&
        !eventRecord(run->reconciler->events, run->cluster, type, reason, message, &err))
        logWarn(run->reconciler->log, "cannot record an event", logStr("error", err.message));
}

/* Builds every intent into run->objects. */
static bool runBuild(ClusterRun *run, Err *err)
{
    static ClusterBuildFn *const builders[] = {
        clusterBuildCertificates, clusterBuildInstanceRbac, clusterBuildServices,   clusterBuildPatroniConfig,
        clusterBuildUserSecrets,  clusterBuildInstances,    clusterBuildPgBackRest, clusterBuildDisruptionBudgets,
    };
    ClusterModel *model = &run->model;
    const StoreEntry *ha;
    char haName[300];
    snprintf(haName, sizeof(haName), "%s-ha", model->name);
    ha = storeGet(run->reconciler->stores[kindService], model->namespace, haName);
    const char *clusterIP =
        ha != NULL ? json_string_value(json_object_get(json_object_get(ha->object, "spec"), "clusterIP")) : NULL;
    if (clusterIP != NULL && strcmp(clusterIP, "None") != 0 && clusterIP[0] != '\0') {
        model->haClusterIP = runCopy(run, clusterIP);
        if (model->haClusterIP == NULL)
            return errSet(err, errOutOfMemory, "out of memory building the cluster's objects");
    }
    model->lookup = reconcilerLookup;
    model->lookupArg = run->reconciler;
    if (!runInstances(run, err))
        return false;
    run->objects = json_array();
    if (run->objects == NULL)
        return errSet(err, errOutOfMemory, "out of memory building the cluster's objects");
    for (size_t buildIdx = 0; buildIdx < sizeof(builders) / sizeof(builders[0]); buildIdx++)
        if (!builders[buildIdx](run->reconcile->ctx, model, run->objects, err))
            return false;
    return true;
}

/* --- what the operator does not act on --- */

/* Whether the cluster's current status has a condition of type with this message. */
static bool runConditionSays(const ClusterRun *run, const char *type, const char *message)
{
    const json_t *current = conditionOf(json_object_get(json_object_get(run->cluster, "status"), "conditions"), type);
    const char *currentMessage = json_string_value(json_object_get(current, "message"));
    return currentMessage != NULL && strcmp(currentMessage, message) == 0;
}

/* Adds the condition of type (False, reason, message) to the pass's own and, when the cluster's status does not say
 * so already, records a Warning Event with reason and message. */
static bool runReport(ClusterRun *run, const char *type, const char *reason, const char *message, Err *err)
{
    if (run->conditions == NULL)
        run->conditions = json_array();
    if (!clusterPush(run->conditions, clusterCondition(&run->model, type, false, reason, message)))
        return errSet(err, errOutOfMemory, "out of memory reporting %s", reason);
    if (!runConditionSays(run, type, message))
        runEvent(run, eventWarning, reason, message);
    return true;
}

/* paths as "a, b, c" after prefix, in the run's context; NULL when out of memory. */
static const char *runPathList(ClusterRun *run, const char *prefix, const char *const *paths, size_t count)
{
    StrBuf text;
    Err err;
    strBufInit(&text, run->reconcile->ctx, 4096);
    bool ok = strBufAppendStr(&text, prefix, &err);
    for (size_t pathIdx = 0; ok && pathIdx < count; pathIdx++)
        ok = (pathIdx == 0 || strBufAppendStr(&text, ", ", &err)) && strBufAppendStr(&text, paths[pathIdx], &err);
    return ok ? strBufStr(&text) : NULL;
}

/* Whether the cluster has data already: Patroni initialised it, or an instance (a StatefulSet or a data volume)
 * exists. */
static bool runHasData(const ClusterRun *run)
{
    const char *systemId = json_string_value(
        json_object_get(json_object_get(json_object_get(run->cluster, "status"), "patroni"), "systemIdentifier"));
    size_t statefulSets, volumes;
    storeOwnedBy(run->reconciler->stores[kindStatefulSet], run->model.uid, &statefulSets);
    storeOwnedBy(run->reconciler->stores[kindPvc], run->model.uid, &volumes);
    return (systemId != NULL && systemId[0] != '\0') || statefulSets > 0 || volumes > 0;
}

/* Nothing in the spec is ignored silently (api/fields.h): fields the operator does not act on yet are listed in
 * the condition SpecApplied (False, FieldsNotActedOn) and a Warning Event. A cluster that asks for its data from
 * elsewhere is never initialised empty: a standby (whatever it holds), or a data source for a cluster with no data
 * yet, makes the pass create nothing (*wait) and say why in Progressing (False, WaitingForDataSource); a data
 * source of a cluster that has data is moot, as in PGO, which reads it only to initialise. */
static bool runReportFields(ClusterRun *run, bool *wait, Err *err)
{
    ClusterFieldsReport report;
    if (!clusterFieldsReport(run->reconcile->ctx, run->cluster, &report, err))
        return false;
    bool standby = false;
    for (size_t pathIdx = 0; pathIdx < report.dataElsewhereCount; pathIdx++)
        standby = standby || strncmp(report.dataElsewhere[pathIdx], "spec.standby", 12) == 0;
    *wait = report.dataElsewhereCount > 0 && (standby || !runHasData(run));
    if (report.notActedOnCount > 0) {
        const char *message =
            runPathList(run, "the operator does not act on these fields yet and ignores them: ", report.notActedOn,
                        report.notActedOnCount);
        if (message == NULL)
            return errSet(err, errOutOfMemory, "out of memory reporting fields");
        if (!runReport(run, CLUSTER_CONDITION_SPEC_APPLIED, "FieldsNotActedOn", message, err))
            return false;
    }
    if (*wait) {
        const char *message =
            runPathList(run,
                        "no instance is created, so that nothing is initialised empty: the operator cannot yet take a "
                        "cluster's data from ",
                        report.dataElsewhere, report.dataElsewhereCount);
        if (message == NULL)
            return errSet(err, errOutOfMemory, "out of memory reporting fields");
        if (!runReport(run, CLUSTER_CONDITION_PROGRESSING, "WaitingForDataSource", message, err))
            return false;
        logInfo(run->reconciler->log, "waiting for a data source", logStr("namespace", run->model.namespace),
                logStr("name", run->model.name));
    }
    return true;
}

/* --- finalizer --- */

static bool hasFinalizer(const json_t *cluster)
{
    size_t finIdx;
    json_t *finalizer;
    json_array_foreach(json_object_get(json_object_get(cluster, "metadata"), "finalizers"), finIdx, finalizer)
    {
        if (json_is_string(finalizer) && strcmp(json_string_value(finalizer), CLUSTER_FINALIZER) == 0)
            return true;
    }
    return false;
}

/* A merge patch setting metadata.finalizers to the current ones with ours added or removed, guarded by the
 * resourceVersion read. */
static bool sendFinalizers(ClusterRun *run, bool add, Err *err)
{
    const json_t *metadata = json_object_get(run->cluster, "metadata");
    json_t *finalizers = json_array();
    size_t finIdx;
    json_t *finalizer;
    bool ok = finalizers != NULL;
    json_array_foreach(json_object_get(metadata, "finalizers"), finIdx, finalizer)
    {
        if (ok && (!json_is_string(finalizer) || strcmp(json_string_value(finalizer), CLUSTER_FINALIZER) != 0))
            ok = json_array_append(finalizers, finalizer) == 0;
    }
    if (ok && add)
        ok = json_array_append_new(finalizers, json_string(CLUSTER_FINALIZER)) == 0;
    json_t *patch = ok ? json_pack("{s:{s:O, s:O}}", "metadata", "finalizers", finalizers, "resourceVersion",
                                   json_object_get(metadata, "resourceVersion"))
                       : NULL;
    json_decref(finalizers);
    if (patch == NULL)
        return errSet(err, errOutOfMemory, "out of memory building a finalizer patch");
    KubeRequest request;
    ok = kubeRequestMergePatch(run->reconcile->ctx, &clusterWatches[kindCluster].resource, run->model.namespace,
                               run->model.name, kubeSubresourceNone, CLUSTER_FIELD_MANAGER, patch, &request, err) &&
         runSend(run, apiVerbPatch, &request, !add, err);
    json_decref(patch);
    return ok;
}

static void stageRemoveFinalizer(ClusterRun *run)
{
    Err err;
    if (!sendFinalizers(run, false, &err)) {
        runFail(run, &err);
        return;
    }
    runAfterBatch(run, stageDone);
}

/* Whether the object belongs to the cluster being reconciled by its cluster label. */
static bool labelledForRun(const ClusterRun *run, const StoreEntry *entry)
{
    const char *cluster = labelOf(entry->object, CLUSTER_LABEL_CLUSTER);
    return strcmp(entry->namespace, run->model.namespace) == 0 && cluster != NULL &&
           strcmp(cluster, run->model.name) == 0;
}

static void stageDeleteWait(ClusterRun *run)
{
    /* The pods going away bring the cluster back sooner; this is the fallback. */
    reconcileFinish(run->reconcile, reconcileRequeueAfter, 2000, NULL);
}

/* The cluster is being deleted. The garbage collector removes what the cluster owns only once the cluster itself is
 * gone, that is after this finalizer; but while Patroni runs it recreates what it keeps in the API (its Endpoints,
 * and the Service <cluster>-ha-config), without owner references. So, in order: the instance StatefulSets go first;
 * once no Patroni pod is left, Patroni's Endpoints and any Service it made go; then the finalizer. Data volumes are
 * left to the garbage collector, as PGO leaves them. */
static void stageDeleting(ClusterRun *run)
{
    Err err;
    const char *uid = json_string_value(json_object_get(json_object_get(run->cluster, "metadata"), "uid"));
    const ClusterReconciler *reconciler = run->reconciler;
    size_t cursor = 0;
    const StoreEntry *entry;
    bool patroniRunning = false;
    while (storeNext(reconciler->stores[kindPod], &cursor, &entry))
        patroniRunning =
            patroniRunning || (labelledForRun(run, entry) && labelOf(entry->object, CLUSTER_LABEL_PATRONI));
    if (patroniRunning) {
        cursor = 0;
        while (storeNext(reconciler->stores[kindStatefulSet], &cursor, &entry)) {
            if (uid == NULL || !controlledBy(entry->object, uid) ||
                labelOf(entry->object, CLUSTER_LABEL_INSTANCE) == NULL ||
                json_object_get(json_object_get(entry->object, "metadata"), "deletionTimestamp") != NULL)
                continue;
            if (!runDelete(run, &clusterWatches[kindStatefulSet].resource, entry->object, &err)) {
                runFail(run, &err);
                return;
            }
        }
        runAfterBatch(run, stageDeleteWait);
        return;
    }
    static const ClusterKindIdx kinds[] = {kindEndpoints, kindService};
    for (size_t kindIdx = 0; kindIdx < sizeof(kinds) / sizeof(kinds[0]); kindIdx++) {
        cursor = 0;
        while (storeNext(reconciler->stores[kinds[kindIdx]], &cursor, &entry)) {
            /* The cluster's own Services go with it; only Patroni's, without an owner, are removed here. */
            bool patroniMade = kinds[kindIdx] == kindEndpoints || uid == NULL || !controlledBy(entry->object, uid);
            if (labelledForRun(run, entry) && patroniMade &&
                !runDelete(run, &clusterWatches[kinds[kindIdx]].resource, entry->object, &err)) {
                runFail(run, &err);
                return;
            }
        }
    }
    runAfterBatch(run, stageRemoveFinalizer);
}

/* --- the reconcile --- */

void clusterReconcile(void *arg, Reconcile *reconcile)
{
    ClusterReconciler *reconciler = arg;
    Err err;
    const StoreEntry *entry = storeGet(reconciler->stores[kindCluster], reconcile->namespace, reconcile->name);
    if (entry == NULL) {
        reconcileFinish(reconcile, reconcileSuccess, 0, NULL);
        return;
    }
    ClusterRun *run = memCtxAlloc(reconcile->ctx, sizeof(*run));
    if (run == NULL || !memCtxOnFree(reconcile->ctx, runCancelAll, run)) {
        errSet(&err, errOutOfMemory, "out of memory starting a reconcile");
        reconcileFinish(reconcile, reconcileError, 0, &err);
        return;
    }
    *run = (ClusterRun){.reconciler = reconciler, .reconcile = reconcile, .cluster = json_incref(entry->object)};
    run->model.namespace = reconcile->namespace;
    run->model.name = reconcile->name;
    const json_t *metadata = json_object_get(run->cluster, "metadata");
    if (json_object_get(metadata, "deletionTimestamp") != NULL) {
        if (hasFinalizer(run->cluster))
            stageDeleting(run);
        else
            reconcileFinish(reconcile, reconcileSuccess, 0, NULL);
        return;
    }
    run->stage = "Spec";
    if (!clusterModelFromSpec(reconcile->ctx, run->cluster, reconciler->images, reconciler->imagesArg, &run->model,
                              &err)) {
        runEvent(run, eventWarning, "InvalidSpec", err.message);
        /* What the status path needs of a model that could not be built. */
        run->model = (ClusterModel){.cluster = run->cluster,
                                    .namespace = reconcile->namespace,
                                    .name = reconcile->name,
                                    .generation = json_integer_value(json_object_get(metadata, "generation")),
                                    .clock = loopClock(reconciler->loop)};
        runFailed(run, &err);
        return;
    }
    run->modelReady = true;
    run->model.clock = loopClock(reconciler->loop);
    if (run->model.image == NULL) {
        char message[160];
        snprintf(message, sizeof(message),
                 "no image for Postgres %lld: set spec.image or the operator's RELATED_IMAGE_POSTGRES_%lld",
                 (long long)run->model.postgresVersion, (long long)run->model.postgresVersion);
        runEvent(run, eventWarning, "MissingRequiredImage", message);
        errSet(&err, errInvalidArgument, "%s", message);
        runFailed(run, &err);
        return;
    }
    bool wait = false;
    if (!runReportFields(run, &wait, &err)) {
        runFailed(run, &err);
        return;
    }
    if (wait) {
        stageStatus(run);
        return;
    }
    run->stage = "Build";
    if (!runBuild(run, &err)) {
        if (err.code == errInvalidArgument)
            runEvent(run, eventWarning, "InvalidSpec", err.message);
        runFailed(run, &err);
        return;
    }
    if (!hasFinalizer(run->cluster) && !sendFinalizers(run, true, &err)) {
        runFailed(run, &err);
        return;
    }
    runAfterBatch(run, stageApply);
}

/* --- set-up --- */

bool clusterReconcilerNew(MemCtx *parent, Loop *loop, const Log *log, ClusterImageFn *images, void *imagesArg,
                          ClusterReconciler **out, Err *err)
{
    ClusterReconciler *reconciler = memCtxAlloc(parent, sizeof(*reconciler));
    if (reconciler == NULL)
        return errSet(err, errOutOfMemory, "out of memory creating the reconciler");
    *reconciler =
        (ClusterReconciler){.ctx = parent, .loop = loop, .log = log, .images = images, .imagesArg = imagesArg};
    *out = reconciler;
    return true;
}

/* A Secret belongs to the cluster that controls it, else to the first cluster of its namespace that names it in
 * spec.customTLSSecret or spec.customReplicationTLSSecret: a renewed custom certificate (cert-manager's, say) changes
 * the client CAs in <instance>-certs. arg is the reconciler, whose PostgresCluster store exists by then. */
static bool reconcilerMapSecret(const void *arg, const json_t *object, char key[STORE_KEY_MAX])
{
    static const char *const fields[] = {"customTLSSecret", "customReplicationTLSSecret"};
    const ClusterReconciler *reconciler = arg;
    if (managerMapControllerOwner(CLUSTER_KIND, object, key))
        return true;
    const json_t *metadata = json_object_get(object, "metadata");
    const char *namespace = json_string_value(json_object_get(metadata, "namespace"));
    const char *name = json_string_value(json_object_get(metadata, "name"));
    size_t cursor = 0;
    const StoreEntry *entry;
    while (namespace != NULL && name != NULL && storeNext(reconciler->stores[kindCluster], &cursor, &entry)) {
        if (strcmp(entry->namespace, namespace) != 0)
            continue;
        const json_t *spec = json_object_get(entry->object, "spec");
        for (size_t fieldIdx = 0; fieldIdx < sizeof(fields) / sizeof(fields[0]); fieldIdx++) {
            const char *custom = json_string_value(json_object_get(json_object_get(spec, fields[fieldIdx]), "name"));
            if (custom != NULL && strcmp(custom, name) == 0 && strlen(entry->key) < STORE_KEY_MAX) {
                memcpy(key, entry->key, strlen(entry->key) + 1);
                return true;
            }
        }
    }
    return false;
}

bool clusterReconcilerWatch(ClusterReconciler *reconciler, Controller *controller, const char *const *namespaces,
                            size_t namespaceCount, Err *err)
{
    static const char ownerKind[] = CLUSTER_KIND;
    reconciler->api = managerApi(controllerManager(controller));
    reconciler->events = controllerEvents(controller);
    for (size_t kindIdx = 0; kindIdx < kindCount; kindIdx++) {
        const ClusterWatch *watch = &clusterWatches[kindIdx];
        InformerOptions options = {
            .resource = watch->resource,
            .namespaces = namespaces,
            .namespaceCount = namespaceCount,
            .labelSelector = watch->selectByCluster ? CLUSTER_LABEL_CLUSTER : NULL,
        };
        ManagerMapFn *map = kindIdx == kindCluster  ? managerMapSelf
                            : kindIdx == kindSecret ? reconcilerMapSecret
                            : watch->owned          ? managerMapControllerOwner
                                                    : managerMapLabel;
        const void *mapArg = kindIdx == kindCluster  ? NULL
                             : kindIdx == kindSecret ? (const void *)reconciler
                             : watch->owned          ? (const void *)ownerKind
                                                     : CLUSTER_LABEL_CLUSTER;
        Informer *informer;
        if (!controllerWatch(controller, &options, map, mapArg, watch->updateMatters, &informer, err))
            return errPrefix(err, "cannot watch %s", watch->resource.plural);
        reconciler->stores[kindIdx] = informerStore(informer);
    }
    return true;
}
