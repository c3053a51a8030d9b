/* PLACEHOLDER reconciler for PostgresClusters: records the observed generation (see observer.h).
 *
 * This is deliberately tiny and will be replaced by the PostgresCluster reconciler; what it shows is the contract
 * every reconciler keeps: read only the cache, compute the desired status with a pure function
 * (observerStatusPatch), write only when it differs, and finish the reconcile exactly once. The per-reconcile state
 * lives in the reconcile's context, whose free callback cancels the request still in flight, so a manager freed in
 * the middle of a reconcile leaves nothing behind. */
#include "cmd/observer.h"

#include "common/clock.h"
#include "common/json.h"
#include "kube/request.h"

#include <string.h>
#include <time.h>

struct Observer {
    MemCtx *ctx;
    Api *api;
    const Log *log;
    const Store *clusters;
};

typedef struct ObserverRun {
    Observer *observer;
    Reconcile *reconcile;
    ApiCall *call;
    int64_t generation;
} ObserverRun;

static const KubeResource postgresClusters = {"postgres-operator.crunchydata.com", "v1beta1", "postgresclusters", true};

bool observerNew(MemCtx *parent, Api *api, const Log *log, Observer **out, Err *err)
{
    Observer *observer = memCtxAlloc(parent, sizeof(*observer));
    if (observer == NULL)
        return errSet(err, errOutOfMemory, "out of memory creating the reconciler");
    *observer = (Observer){.ctx = parent, .api = api, .log = log};
    *out = observer;
    return true;
}

void observerSetStore(Observer *observer, const Store *clusters)
{
    observer->clusters = clusters;
}

/* Our condition in conditions, or NULL. */
static json_t *observerFindCondition(json_t *conditions)
{
    size_t condIdx;
    json_t *condition;
    json_array_foreach(conditions, condIdx, condition)
    {
        const char *type = json_string_value(json_object_get(condition, "type"));
        if (type != NULL && strcmp(type, OBSERVER_CONDITION) == 0)
            return condition;
    }
    return NULL;
}

bool observerStatusPatch(const json_t *cluster, const char *now, json_t **patch, Err *err)
{
    int64_t generation, observedGeneration, conditionGeneration = -1;
    const char *rv, *conditionStatus = NULL, *lastTransition = NULL;
    json_t *conditions;
    *patch = NULL;
    if (!jsonFindInt64(cluster, "metadata.generation", 0, &generation, err) ||
        !jsonGetStr(cluster, "metadata.resourceVersion", &rv, err) ||
        !jsonFindInt64(cluster, "status.observedGeneration", -1, &observedGeneration, err) ||
        !jsonFindArray(cluster, "status.conditions", &conditions, err))
        return errPrefix(err, "cannot read the PostgresCluster");
    json_t *ours = observerFindCondition(conditions);
    if (ours != NULL) {
        conditionGeneration = json_is_integer(json_object_get(ours, "observedGeneration"))
                                  ? (int64_t)json_integer_value(json_object_get(ours, "observedGeneration"))
                                  : -1;
        conditionStatus = json_string_value(json_object_get(ours, "status"));
        lastTransition = json_string_value(json_object_get(ours, "lastTransitionTime"));
    }
    bool current = observedGeneration == generation && conditionGeneration == generation && conditionStatus != NULL &&
                   strcmp(conditionStatus, "True") == 0;
    if (current)
        return true;

    /* Status True since lastTransitionTime: it stays when only the generation moves. */
    bool keepTransition = conditionStatus != NULL && strcmp(conditionStatus, "True") == 0 && lastTransition != NULL;
    json_t *newConditions = json_array();
    json_t *condition = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:s}", "type", OBSERVER_CONDITION, "status", "True", "reason", "GenerationObserved",
        "message", "The operator core observed this generation; the PostgresCluster reconciler is not yet in place.",
        "observedGeneration", (json_int_t)generation, "lastTransitionTime", keepTransition ? lastTransition : now);
    bool ok = newConditions != NULL && condition != NULL;
    size_t condIdx;
    json_t *other;
    json_array_foreach(conditions, condIdx, other)
    {
        ok = ok && (other == ours || json_array_append(newConditions, other) == 0);
    }
    if (ok) {
        ok = json_array_append_new(newConditions, condition) == 0; /* steals condition, even on failure */
        condition = NULL;
    }
    json_decref(condition);
    json_t *status = ok ? json_object() : NULL;
    json_t *metadata = ok ? json_object() : NULL;
    *patch = ok ? json_object() : NULL;
    ok = ok && status != NULL && metadata != NULL && *patch != NULL &&
         json_object_set_new(metadata, "resourceVersion", json_string(rv)) == 0 &&
         json_object_set_new(status, "observedGeneration", json_integer((json_int_t)generation)) == 0 &&
         json_object_set(status, "conditions", newConditions) == 0 &&
         json_object_set(*patch, "metadata", metadata) == 0 && json_object_set(*patch, "status", status) == 0;
    json_decref(status);
    json_decref(metadata);
    json_decref(newConditions);
    if (!ok) {
        json_decref(*patch);
        *patch = NULL;
    }
    if (*patch == NULL)
        return errSet(err, errOutOfMemory, "out of memory building a status patch");
    return true;
}

static void observerCancel(void *arg)
{
    ObserverRun *run = arg;
    apiCancel(run->call);
    run->call = NULL;
}

static void observerOnPatched(void *arg, const KubeResponse *response, const Err *err)
{
    (void)response;
    ObserverRun *run = arg;
    Reconcile *reconcile = run->reconcile;
    run->call = NULL;
    if (err->code == errOk) {
        logInfo(run->observer->log, "status updated", logStr("namespace", reconcile->namespace),
                logStr("name", reconcile->name), logInt("observedGeneration", run->generation));
        reconcileFinish(reconcile, reconcileSuccess, 0, NULL);
    } else if (err->code == errKubeNotFound) {
        reconcileFinish(reconcile, reconcileSuccess, 0, NULL); /* deleted meanwhile */
    } else if (err->code == errKubeConflict) {
        /* Our cache was behind: the watch brings the newer object, and the queue retries. */
        reconcileFinish(reconcile, reconcileRequeue, 0, NULL);
    } else {
        reconcileFinish(reconcile, reconcileError, 0, err);
    }
}

void observerReconcile(void *arg, Reconcile *reconcile)
{
    Observer *observer = arg;
    Err err;
    const StoreEntry *entry =
        observer->clusters != NULL ? storeGet(observer->clusters, reconcile->namespace, reconcile->name) : NULL;
    if (entry == NULL) {
        reconcileFinish(reconcile, reconcileSuccess, 0, NULL); /* gone: nothing to record */
        return;
    }
    char now[32];
    time_t seconds = (time_t)(clockWallMs(clockSystem()) / 1000);
    struct tm utc;
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&seconds, &utc));
    json_t *patch;
    if (!observerStatusPatch(entry->object, now, &patch, &err)) {
        reconcileFinish(reconcile, reconcileError, 0, &err);
        return;
    }
    if (patch == NULL) {
        reconcileFinish(reconcile, reconcileSuccess, 0, NULL); /* steady state: no write */
        return;
    }
    ObserverRun *run = memCtxAlloc(reconcile->ctx, sizeof(*run));
    KubeRequest request;
    bool ok = run != NULL && memCtxOnFree(reconcile->ctx, observerCancel, run);
    if (!ok)
        errSet(&err, errOutOfMemory, "out of memory starting a status update");
    if (ok) {
        *run = (ObserverRun){.observer = observer, .reconcile = reconcile};
        json_int_t generation =
            json_integer_value(json_object_get(json_object_get(patch, "status"), "observedGeneration"));
        run->generation = (int64_t)generation;
    }
    ok = ok &&
         kubeRequestMergePatch(reconcile->ctx, &postgresClusters, reconcile->namespace, reconcile->name,
                               kubeSubresourceStatus, patch, &request, &err) &&
         apiSend(observer->api, apiVerbPatch, &request, &(KubeCallbacks){.done = observerOnPatched, .arg = run},
                 &run->call, &err);
    json_decref(patch);
    if (!ok)
        reconcileFinish(reconcile, reconcileError, 0, &err);
}
