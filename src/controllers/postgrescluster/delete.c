/* The finalizer and the deletion. Every cluster gets the finalizer postgres-operator.crunchydata.com/finalizer
 * (stageFinalizer, before anything is applied), because Patroni keeps objects in the API without owner references
 * that the garbage collector would never remove. When the cluster is deleted, the deletion's own stages
 * (stageDeleting, then stageRemoveFinalizer) remove them, in the order stageDeleting explains, before the finalizer. */
#include "controllers/postgrescluster/run.h"

#include <string.h>

bool hasFinalizer(const json_t *cluster)
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
    ok = runPatch(run, kindCluster, run->model.name, kubeSubresourceNone, false, patch, !add, err);
    json_decref(patch);
    return ok;
}

StageResult stageFinalizer(ClusterRun *run)
{
    Err err;
    if (!hasFinalizer(run->cluster) && !sendFinalizers(run, true, &err)) {
        runFailed(run, &err);
        return stageHandedOff;
    }
    return stageNext;
}

StageResult stageRemoveFinalizer(ClusterRun *run)
{
    Err err;
    if (!sendFinalizers(run, false, &err)) {
        runFail(run, &err);
        return stageHandedOff;
    }
    return stageEnd;
}

/* Whether the object belongs to the cluster being reconciled by its cluster label. */
static bool labelledForRun(const ClusterRun *run, const StoreEntry *entry)
{
    const char *cluster = labelOf(entry->object, CLUSTER_LABEL_CLUSTER);
    return strcmp(entry->namespace, run->model.namespace) == 0 && cluster != NULL &&
           strcmp(cluster, run->model.name) == 0;
}

/* The cluster is being deleted. The garbage collector removes what the cluster owns only once the cluster itself is
 * gone, that is after this finalizer; but while Patroni runs it recreates what it keeps in the API (its Endpoints,
 * and the Service <cluster>-ha-config), without owner references. So, in order: the instance StatefulSets go first;
 * once no Patroni pod is left, Patroni's Endpoints and any Service it made go; then the finalizer. Data volumes are
 * left to the garbage collector, as PGO leaves them. */
StageResult stageDeleting(ClusterRun *run)
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
                return stageHandedOff;
            }
        }
        return stageWait; /* the Pods going away bring the cluster back sooner */
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
                return stageHandedOff;
            }
        }
    }
    return stageNext;
}
