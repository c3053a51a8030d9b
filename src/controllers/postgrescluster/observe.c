/* What the cluster has, observed once per pass from the cache: its instances (an instance exists while its
 * StatefulSet or its data volume does), the ones the model keeps and the new ones it names, and which of them is
 * the primary (api/primary.h decides; this file gathers what it decides from). The builders and the stages then
 * read the model, never these stores again for the same question, so one pass acts on one view. */
#include "api/primary.h"
#include "controllers/postgrescluster/run.h"
#include "naming/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clusterInstanceName(const char *cluster, const char *uid, const char *set, unsigned ordinal, char out[254])
{
    char ordinalText[16], suffix[NAMING_SUFFIX_SIZE];
    snprintf(ordinalText, sizeof(ordinalText), "%u", ordinal);
    const char *seed[] = {uid, "/", set, "/", ordinalText};
    namingSuffix(seed, sizeof(seed) / sizeof(seed[0]), suffix);
    snprintf(out, 254, "%s-%s-%s", cluster, set, suffix);
}

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
bool runInstances(ClusterRun *run, Err *err)
{
    ClusterModel *model = &run->model;
    ClusterExistingInstance *existing;
    size_t existingCount, total = 0;
    if (!runExistingInstances(run, &existing, &existingCount, err))
        return false;
    char leaderName[NAMING_NAME_SIZE];
    namingClusterObject(model->name, NAMING_HA, leaderName);
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

/* Whether Patroni has a leader: the leader Endpoints <cluster>-ha list an address. */
bool runHasLeader(ClusterRun *run)
{
    char name[NAMING_NAME_SIZE];
    namingClusterObject(run->model.name, NAMING_HA, name);
    const json_t *endpoints = reconcilerLookup(run->reconciler, "Endpoints", run->model.namespace, name);
    return json_array_size(json_object_get(json_array_get(json_object_get(endpoints, "subsets"), 0), "addresses")) > 0;
}
