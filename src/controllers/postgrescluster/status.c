/* The status: what one pass observed (the instance sets' replicas, Patroni's system identifier, pgBackRest's repos,
 * the users' revision) and the conditions it wants (pgBackRest's, this pass's own, a failed stage's Reconciled),
 * merged into the cluster's by type and written by a merge patch of /status only when they differ. It is the last
 * stage of every pass, also one whose stages failed (runFailed goes here), so the status always says what went
 * wrong; a failure while writing it ends the reconcile at once. */
#include "controllers/postgrescluster/run.h"
#include "kube/apply.h"
#include "naming/names.h"
#include "pgbackrest/pgbackrest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    char configName[NAMING_NAME_SIZE];
    namingClusterObject(model->name, NAMING_HA_CONFIG, configName);
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
const json_t *conditionOf(const json_t *conditions, const char *type)
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
        bool stale =
            type != NULL &&
            (strcmp(type, "Observed") == 0 || strncmp(type, "PGBackRest", 10) == 0 ||
             strcmp(type, "PostgresDataInitialized") == 0 || strcmp(type, CLUSTER_CONDITION_RECONCILED) == 0 ||
             strcmp(type, CLUSTER_CONDITION_SPEC_APPLIED) == 0 || strcmp(type, CLUSTER_CONDITION_PROGRESSING) == 0);
        stale = stale || (type != NULL && strcmp(type, "ProxyAvailable") == 0); /* pgbouncer.c's, while wanted */
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

static int entryNameCompare(const void *left, const void *right)
{
    const StoreEntry *const *a = left, *const *b = right;
    return strcmp((*a)->name, (*b)->name);
}

/* The Jobs the cluster's backup schedules started, in name order: those controlled by its CronJobs (the CronJobs'
 * Jobs are theirs, not the cluster's). References taken, so they outlive a change to the store. NULL when out of
 * memory. */
static json_t *scheduledJobs(const ClusterRun *run)
{
    const Store *jobs = run->reconciler->stores[kindJob];
    size_t cronCount, total = 0;
    const StoreEntry *const *crons = storeOwnedBy(run->reconciler->stores[kindCronJob], run->model.uid, &cronCount);
    for (size_t cronIdx = 0; cronIdx < cronCount; cronIdx++) {
        size_t count;
        storeOwnedBy(jobs, crons[cronIdx]->uid, &count);
        total += count;
    }
    const StoreEntry **found = memCtxAlloc(run->reconcile->ctx, (total + 1) * sizeof(*found));
    json_t *result = json_array();
    if (found == NULL || result == NULL) {
        json_decref(result);
        return NULL;
    }
    size_t foundCount = 0;
    for (size_t cronIdx = 0; cronIdx < cronCount; cronIdx++) {
        if (!controlledBy(crons[cronIdx]->object, run->model.uid))
            continue;
        size_t count;
        const StoreEntry *const *owned = storeOwnedBy(jobs, crons[cronIdx]->uid, &count);
        for (size_t jobIdx = 0; jobIdx < count && foundCount < total; jobIdx++)
            if (controlledBy(owned[jobIdx]->object, crons[cronIdx]->uid))
                found[foundCount++] = owned[jobIdx];
    }
    qsort(found, foundCount, sizeof(*found), entryNameCompare);
    for (size_t foundIdx = 0; foundIdx < foundCount; foundIdx++)
        if (json_array_append(result, found[foundIdx]->object) != 0) {
            json_decref(result);
            return NULL;
        }
    return result;
}

/* A paused cluster's status (spec.c): its conditions as they are but Progressing, which says paused; nothing else of
 * the status changes, as in PGO. */
static StageResult statusPaused(ClusterRun *run)
{
    const json_t *current = json_object_get(json_object_get(run->cluster, "status"), "conditions");
    const json_t *paused = json_array_get(run->conditions, 0);
    json_t *conditions = json_array();
    bool ok = conditions != NULL;
    size_t condIdx;
    json_t *condition;
    json_array_foreach(current, condIdx, condition)
    {
        const char *type = json_string_value(json_object_get(condition, "type"));
        if (ok && (type == NULL || strcmp(type, CLUSTER_CONDITION_PROGRESSING) != 0))
            ok = json_array_append(conditions, condition) == 0;
    }
    ok = ok && json_array_append(conditions, (json_t *)(uintptr_t)paused) == 0;
    const json_t *was = conditionOf(current, CLUSTER_CONDITION_PROGRESSING);
    bool same = was != NULL && json_equal(json_object_get(was, "reason"), json_object_get(paused, "reason")) &&
                json_equal(json_object_get(was, "status"), json_object_get(paused, "status")) &&
                json_equal(json_object_get(was, "observedGeneration"), json_object_get(paused, "observedGeneration"));
    Err err;
    if (ok && same) {
        json_decref(conditions);
        logDebug(run->reconciler->log, "paused", logStr("namespace", run->model.namespace),
                 logStr("name", run->model.name));
        runFinish(run, reconcileSuccess, NULL);
        return stageHandedOff;
    }
    json_t *patch = NULL;
    if (ok)
        patch = json_pack("{s:{s:o}}", "status", "conditions", conditions);
    else
        json_decref(conditions);
    if (patch == NULL)
        errSet(&err, errOutOfMemory, "out of memory computing the status");
    ok = patch != NULL && runPatch(run, kindCluster, run->model.name, kubeSubresourceStatus, false, patch, true, &err);
    json_decref(patch);
    if (!ok) {
        runFail(run, &err);
        return stageHandedOff;
    }
    logInfo(run->reconciler->log, "paused: no spec change is applied", logStr("namespace", run->model.namespace),
            logStr("name", run->model.name));
    return stageEnd;
}

/* status.pgbackrest of a cluster without backups: {} as in PGO (never absent, never null), made from was (the
 * current one, may be NULL) by a merge patch that nulls each of its members; *emptied when there is something to
 * write. False when out of memory. */
static bool statusPgBackRestEmpty(const json_t *was, json_t *status, bool *emptied)
{
    json_t *empty = json_object();
    if (empty == NULL || json_object_set_new(status, "pgbackrest", empty) != 0)
        return false;
    *emptied = !json_is_object(was) || json_object_size(was) > 0;
    const char *key;
    json_t *value;
    bool ok = true;
    json_object_foreach((json_t *)(uintptr_t)was, key, value)
    {
        ok = ok && json_object_set_new(empty, key, json_null()) == 0;
    }
    return ok;
}

/* The status: what was observed (instances, Patroni, pgBackRest) and the conditions, written whenever it differs
 * from the cluster's, on every pass, also one whose stages failed (runFailed). */
StageResult stageStatusWrite(ClusterRun *run)
{
    Err err;
    run->statusStage = true;
    if (run->paused && !run->stageFailed)
        return statusPaused(run);
    const json_t *current = json_object_get(run->cluster, "status");
    json_t *status = run->modelReady ? statusWanted(run)
                                     : json_pack("{s:I}", "observedGeneration", (json_int_t)run->model.generation);
    json_t *scheduled = status != NULL && run->modelReady ? scheduledJobs(run) : NULL;
    json_t *backrest = scheduled != NULL ? clusterPgBackRestStatus(&run->model, scheduled) : NULL;
    json_decref(scheduled);
    json_t *wanted = status != NULL && (backrest != NULL || !run->modelReady) ? conditionsWanted(run, backrest) : NULL;
    const json_t *currentConditions = json_object_get(current, "conditions");
    const json_t *repos = json_object_get(backrest, "pgbackrest");
    bool ok = wanted != NULL, emptied = false;
    if (ok && repos != NULL)
        ok = json_object_set(status, "pgbackrest", (json_t *)(uintptr_t)repos) == 0;
    else if (ok && run->modelReady)
        ok = statusPgBackRestEmpty(json_object_get(current, "pgbackrest"), status, &emptied);
    ok = ok && runRestoreStatus(run, status, wanted);                         /* restore.c: its part of both */
    ok = ok && runPowerStatus(run, status);                                   /* shutdown.c */
    ok = ok && runSwitchoverStatus(run, status);                              /* switchover.c */
    ok = ok && (!run->modelReady || runPgBouncerStatus(run, status, wanted)); /* pgbouncer.c: its part of both */
    json_t *conditions = ok ? conditionsMerged(currentConditions, wanted) : NULL;
    json_decref(wanted);
    ok = conditions != NULL;
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
        return stageHandedOff;
    }
    bool removal = emptied || json_is_null(json_object_get(status, "proxy"));
    if (!conditionsChanged && !removal && !clusterApplyNeeded(status, current)) {
        json_decref(status);
        if (run->stageFailed) {
            runEndFailed(run, false);
            return stageHandedOff;
        }
        logDebug(run->reconciler->log, "reconciled", logStr("namespace", run->model.namespace),
                 logStr("name", run->model.name), logInt("writes", run->writes));
        runFinish(run, reconcileSuccess, NULL);
        return stageHandedOff;
    }
    json_t *patch = json_pack("{s:o}", "status", status);
    ok = patch != NULL && runPatch(run, kindCluster, run->model.name, kubeSubresourceStatus, false, patch, true, &err);
    if (patch == NULL)
        errSet(&err, errOutOfMemory, "out of memory computing the status");
    json_decref(patch);
    if (!ok) {
        runFail(run, &err);
        return stageHandedOff;
    }
    return stageEnd;
}
