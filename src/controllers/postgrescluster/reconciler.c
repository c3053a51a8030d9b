/* The PostgresCluster reconciler (see reconciler.h): one reconcile's state, its batches of calls, and the driver
 * that runs the stages in the order of one table. The stages themselves are in the files of their concerns (run.h).
 *
 * A ClusterRun holds one reconcile's state in the reconcile's context: the cluster document (a reference of its own,
 * so a watch event replacing the cached copy mid-reconcile cannot free it), the model and intents built from it, and
 * the calls of the current stage. The context's free callback cancels calls still in flight, so a reconcile
 * abandoned by a shutting-down manager leaves nothing behind.
 *
 * The order of a pass is the table clusterStages, read top to bottom. A stage sends its batch and returns what it
 * wants once the batch is done: the next entry (the usual), the one after it (an entry that only sometimes has work:
 * the root CA's owner reference, the rolling update after a prune), straight to the status (a cluster waiting for
 * its data), or the end. The driver (runStage, runAfterBatch) alone moves along the table, so no stage names another
 * and a stage added or moved is one line of the table. A table and a result were chosen over a list of stages each
 * with a "when" predicate because the two conditional entries depend on what the stage before them did (its
 * writes), which a result says where it is known; and over a state machine because a pass only ever goes forward.
 * Two exits leave the table from anywhere: a failed call with 409 Conflict requeues at once (the cache was behind),
 * and any other failure goes to the status stage (runFailed), which says what failed and then ends the reconcile
 * with the error. A cluster being deleted runs the short table deletionStages instead.
 *
 * A failure ends the reconcile with its error, so the key comes back with backoff, except one that no retry can fix:
 * errInvalidArgument from the spec stage or the build stage, a spec the model cannot be built from, no image for
 * the Postgres version, or a builder refusing what the spec asks. The same spec fails the same way on every retry,
 * and the backoff's retries would only repeat the Warning Event and the log line until someone changes the spec.
 * Such a pass ends once the status (Reconciled False, "<Stage>Failed", the error's message) and the Event say why,
 * without a requeue (reconcileSuccess), and logs "waiting for a spec change" (at info on the pass that wrote the
 * status). What brings the cluster back is a change of what the spec stage and builders read: the cluster itself,
 * the objects it owns or labels, the custom TLS Secrets it names (watches.c), the operator's images (a restart),
 * and the manager's resync as a last resort. The rule is kept narrow on purpose: errInvalidArgument is the code
 * the spec readers and builders use for what the spec says; every other code, and any stage after the build
 * (whose errors come from the API server, Patroni or Postgres, and a retry can fix), keeps the backoff, and so
 * does a failure to write the status, which has not said what failed yet. */
#include "controllers/postgrescluster/run.h"

#include <stdio.h>
#include <string.h>

/* --- reading the cache --- */

/* metadata.name of object, or NULL. */
const char *nameOf(const json_t *object)
{
    return json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
}

const char *labelOf(const json_t *object, const char *label)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(object, "metadata"), "labels"), label));
}

/* Whether object's controller owner reference is the cluster with uid. */
bool controlledBy(const json_t *object, const char *uid)
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

/* --- the run --- */

void runFinish(ClusterRun *run, ReconcileOutcome outcome, const Err *err)
{
    if (outcome == reconcileSuccess && run->requeueMs > 0)
        reconcileFinish(run->reconcile, reconcileRequeueAfter, run->requeueMs, NULL);
    else
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
    json_decref(run->restore.source);
    run->restore.source = NULL;
}

void runEvent(ClusterRun *run, EventType type, const char *reason, const char *message)
{
    Err err;
    if (run->reconciler->events != NULL &&
        !eventRecord(run->reconciler->events, run->cluster, type, reason, message, &err))
        logWarn(run->reconciler->log, "cannot record an event", logStr("error", err.message));
}

char *runCopy(ClusterRun *run, const char *text)
{
    size_t len = strlen(text) + 1;
    char *copy = memCtxAlloc(run->reconcile->ctx, len);
    if (copy != NULL)
        memcpy(copy, text, len);
    return copy;
}

/* --- the table --- */

/* A pass, in order. The name of each entry is the stage a failure's condition names ("<name>Failed"). */
static const ClusterStage clusterStages[] = {
    {"Spec", stageSpec},             /* the model; fields not acted on; a cluster waiting for its data goes to Status */
    {"Build", stageBuild},           /* every intent, from the model and the cache */
    {"Build", stageFinalizer},       /* ours, when the cluster lacks it (a failure is reported as the build's) */
    {"Apply", stageApply},           /* every intent the cache lacks; skips the next unless it wrote the root CA */
    {"Apply", stageRootOwner},       /* our owner reference on the shared root CA Secret */
    {"Restore", stageRestore},       /* an in-place restore's deletions (restore.c) */
    {"Patroni", stageDcs},           /* Patroni's dynamic configuration */
    {"Prune", stagePrune},           /* surplus instances (while Patroni has a leader); skips the next when it does */
    {"Switchover", stageSwitchover}, /* a change of primary the annotation trigger-switchover asks for */
    {"Rollout", stageRollout},       /* one step of the rolling update */
    {"Users", stageUsersRun},        /* the users' SQL over libpq; goes on by itself */
    {"Proxy", stageProxyKeys},       /* the users' Secrets rid of PgBouncer's keys no longer wanted (pgbouncer.c) */
    {"Proxy", stageProxySql},        /* the SQL behind PgBouncer's auth_query; goes to Status by itself */
    {"Status", stageStatusWrite},    /* the status, also after a failure; then the reconcile ends */
};

/* A cluster being deleted (it has our finalizer). A failure goes to the status stage, as in a pass. */
static const ClusterStage deletionStages[] = {
    {NULL, stageDeleting},        /* the instances, then Patroni's objects once no Patroni Pod is left (else waits) */
    {NULL, stageRemoveFinalizer}, /* our finalizer; the garbage collector removes the rest */
};

static const ClusterStage *const statusEntry = &clusterStages[sizeof(clusterStages) / sizeof(clusterStages[0]) - 1];

/* --- the driver --- */

static void runAfterBatch(ClusterRun *run);

/* Runs stage, then what it asks for once its batch is done. Nothing of run is touched once the stage has handed it
 * off: it may have ended the reconcile, which frees run. */
static void runStage(ClusterRun *run, const ClusterStage *stage)
{
    run->current = stage;
    run->stage = stage->name;
    StageResult result = stage->run(run);
    if (result == stageHandedOff)
        return;
    run->after = result;
    runAfterBatch(run);
}

void runNextStage(ClusterRun *run)
{
    runStage(run, run->current + 1);
}

void stageStatus(ClusterRun *run)
{
    runStage(run, statusEntry);
}

/* A stage failed with err: the status is still written for what was observed, with the failure in the condition
 * Reconciled (False, reason "<stage>Failed"), and the reconcile then ends with err (the key comes back with
 * backoff), or without a requeue for an invalid spec (see the top of the file). A failure while writing the status
 * ends the reconcile at once, with backoff: the status does not say what failed yet. */
void runFailed(ClusterRun *run, const Err *err)
{
    if (run->statusStage || run->stageFailed) {
        runFinish(run, reconcileError, run->stageFailed ? &run->stageErr : err);
        return;
    }
    run->stageFailed = true;
    run->stageErr = *err;
    run->failedStage = run->stage;
    run->waitForChange =
        err->code == errInvalidArgument && (run->current->run == stageSpec || run->current->run == stageBuild);
    run->usersRevision[0] = '\0'; /* the status keeps the revision of the SQL last run to its end */
    stageStatus(run);
}

void runEndFailed(ClusterRun *run, bool statusWritten)
{
    if (!run->waitForChange) {
        runFinish(run, reconcileError, &run->stageErr);
        return;
    }
    if (statusWritten)
        logInfo(run->reconciler->log, "waiting for a spec change", logStr("namespace", run->model.namespace),
                logStr("name", run->model.name), logStr("stage", run->failedStage),
                logStr("error", run->stageErr.message));
    else
        logDebug(run->reconciler->log, "waiting for a spec change", logStr("namespace", run->model.namespace),
                 logStr("name", run->model.name), logStr("stage", run->failedStage));
    runFinish(run, reconcileSuccess, NULL);
}

static void stageDone(ClusterRun *run)
{
    if (run->stageFailed) {
        runEndFailed(run, true);
        return;
    }
    logInfo(run->reconciler->log, "reconciled", logStr("namespace", run->model.namespace),
            logStr("name", run->model.name), logInt("writes", run->writes));
    runFinish(run, reconcileSuccess, NULL);
}

/* When nothing of the current stage's batch is pending: what the stage asked for, unless a call failed. */
static void runAfterBatch(ClusterRun *run)
{
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
    switch (run->after) {
        case stageNext:
            runStage(run, run->current + 1);
            break;
        case stageSkipNext:
            runStage(run, run->current + 2);
            break;
        case stageToStatus:
            stageStatus(run);
            break;
        case stageEnd:
            stageDone(run);
            break;
        case stageWait:
            reconcileFinish(run->reconcile, reconcileRequeueAfter, RUN_WAIT_MS, NULL);
            break;
        case stageHandedOff:
            break;
    }
}

/* --- batches of calls --- */

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
        runAfterBatch(run);
}

/* Sends request as part of the current batch. */
bool runSend(ClusterRun *run, ApiVerb verb, const KubeRequest *request, bool missingIsFine, Err *err)
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
void runFail(ClusterRun *run, const Err *err)
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

bool runDelete(ClusterRun *run, const KubeResource *resource, const json_t *object, Err *err)
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

bool runPatch(ClusterRun *run, ClusterKindIdx kind, const char *name, KubeSubresource subresource, bool strategic,
              const json_t *patch, bool missingIsFine, Err *err)
{
    KubeRequest request;
    const KubeResource *resource = &clusterWatches[kind].resource;
    bool built = strategic ? kubeRequestStrategicPatch(run->reconcile->ctx, resource, run->model.namespace, name,
                                                       subresource, CLUSTER_FIELD_MANAGER, patch, &request, err)
                           : kubeRequestMergePatch(run->reconcile->ctx, resource, run->model.namespace, name,
                                                   subresource, CLUSTER_FIELD_MANAGER, patch, &request, err);
    return built && runSend(run, apiVerbPatch, &request, missingIsFine, err);
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
    if (json_object_get(json_object_get(run->cluster, "metadata"), "deletionTimestamp") != NULL) {
        if (hasFinalizer(run->cluster))
            runStage(run, &deletionStages[0]);
        else
            reconcileFinish(reconcile, reconcileSuccess, 0, NULL);
        return;
    }
    runStage(run, &clusterStages[0]);
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
