/* The first stage: the model from the spec, and what of the spec is not acted on. A spec the model cannot be built
 * from, or without an image for its Postgres version, fails the pass (the status says why). A paused cluster
 * (spec.paused) goes straight to the status, which then says only that. Nothing in the spec is
 * ignored silently: the fields the operator does not act on yet are reported, and a cluster that asks for its data
 * from elsewhere creates nothing, going straight to the status, rather than being initialised empty: a data source
 * the operator cannot read, or a standby that names nothing to follow. */
#include "api/fields.h"
#include "api/standby.h"
#include "controllers/postgrescluster/run.h"

#include <stdio.h>
#include <string.h>

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
 * elsewhere is never initialised empty: a data source the operator cannot take data from, for a cluster with no
 * data yet, makes the pass create nothing (*wait) and say why in Progressing (False, WaitingForDataSource); a data
 * source of a cluster that has data is moot, as in PGO, which reads it only to initialise. */
static bool runReportFields(ClusterRun *run, bool *wait, Err *err)
{
    ClusterFieldsReport report;
    if (!clusterFieldsReport(run->reconcile->ctx, run->cluster, &report, err))
        return false;
    *wait = report.dataElsewhereCount > 0 && !runHasData(run);
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

/* spec.standby enabled without a repository or a host to follow, as PGO refuses it (a Warning Event
 * InvalidStandbyConfiguration; here also Progressing False with that reason): the pass creates nothing (*wait), so
 * the cluster is never initialised empty, nor, once it has data, changed on a spec that says nothing sensible. */
static bool runStandbyInvalid(ClusterRun *run, bool *wait, Err *err)
{
    ClusterStandby standby = clusterStandbyOf(run->cluster);
    *wait = standby.enabled && !clusterStandbyValid(&standby);
    if (!*wait)
        return true;
    logInfo(run->reconciler->log, "invalid standby configuration", logStr("namespace", run->model.namespace),
            logStr("name", run->model.name));
    return runReport(run, CLUSTER_CONDITION_PROGRESSING, CLUSTER_STANDBY_INVALID_REASON,
                     CLUSTER_STANDBY_INVALID_MESSAGE, err);
}

/* Whether the cluster has pgBackRest's objects (its configuration ConfigMap, made for every cluster with backups)
 * although its spec no longer asks for backups. */
static bool runBackupsRemoved(const ClusterRun *run)
{
    if (run->model.backups)
        return false;
    size_t ownedCount;
    const StoreEntry *const *owned = storeOwnedBy(run->reconciler->stores[kindConfigMap], run->model.uid, &ownedCount);
    for (size_t ownedIdx = 0; ownedIdx < ownedCount; ownedIdx++)
        if (controlledBy(owned[ownedIdx]->object, run->model.uid) &&
            labelOf(owned[ownedIdx]->object, PGBACKREST_LABEL) != NULL)
            return true;
    return false;
}

/* spec.backups removed from a cluster that had them changes nothing until the cluster is annotated
 * authorizeBackupRemoval: "true", as in PGO: the pass pauses (Progressing False, reason Paused, and a Warning Event),
 * so the repository host, its volumes with the backups, the instances' archiving and sidecars all stay. With the
 * annotation the pass goes on: the builders make nothing of pgBackRest's and prune.c removes what it had. */
static bool runBackupRemovalPaused(ClusterRun *run, bool *paused, Err *err)
{
    const json_t *annotations = json_object_get(json_object_get(run->cluster, "metadata"), "annotations");
    const char *authorized =
        json_string_value(json_object_get(annotations, CLUSTER_ANNOTATION_AUTHORIZE_BACKUP_REMOVAL));
    *paused = runBackupsRemoved(run) && (authorized == NULL || strcmp(authorized, "true") != 0);
    if (!*paused)
        return true;
    logInfo(run->reconciler->log, "paused: backups removed without authorization",
            logStr("namespace", run->model.namespace), logStr("name", run->model.name));
    return runReport(run, CLUSTER_CONDITION_PROGRESSING, CLUSTER_REASON_PAUSED,
                     "reconciliation is paused: spec.backups was removed, which would delete the repository host and "
                     "the volumes holding the backups; put spec.backups back, or annotate the cluster "
                     "with " CLUSTER_ANNOTATION_AUTHORIZE_BACKUP_REMOVAL "=\"true\" to remove them",
                     err);
}

StageResult stageSpec(ClusterRun *run)
{
    ClusterReconciler *reconciler = run->reconciler;
    Reconcile *reconcile = run->reconcile;
    const json_t *metadata = json_object_get(run->cluster, "metadata");
    Err err;
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
        return stageHandedOff;
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
        return stageHandedOff;
    }
    if (json_is_true(json_object_get(json_object_get(run->cluster, "spec"), "paused"))) {
        /* As PGO: the pass changes nothing, and the status it writes is this one condition (status.c). */
        run->paused = true;
        run->conditions = json_array();
        if (!clusterPush(run->conditions,
                         clusterCondition(&run->model, CLUSTER_CONDITION_PROGRESSING, false, CLUSTER_REASON_PAUSED,
                                          "No spec changes will be applied and no other statuses will be updated."))) {
            errSet(&err, errOutOfMemory, "out of memory reporting the pause");
            runFailed(run, &err);
            return stageHandedOff;
        }
        return stageToStatus;
    }
    /* A standby's data comes from its primary cluster: a data source is not read (PGO initialises a standby from its
     * primary whatever else the spec says). */
    bool wait = false, invalid = false, paused = false, standby = clusterStandbyOf(run->cluster).enabled;
    if (!runReportFields(run, &wait, &err) || !runStandbyInvalid(run, &invalid, &err) ||
        (!wait && !invalid && !standby && !runDataSource(run, &wait, &err)) ||
        !runBackupRemovalPaused(run, &paused, &err)) {
        runFailed(run, &err);
        return stageHandedOff;
    }
    return wait || invalid || paused ? stageToStatus : stageNext;
}
