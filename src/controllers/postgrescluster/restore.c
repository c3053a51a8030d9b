/* Restores, as PGO v5 does them (pgo-reference.md §5 "Restore"): what each pass decides of a clone or an in-place
 * restore, the steps it takes, and what the status says. The Job itself is pgbackrest/restore.h's builder; Patroni's
 * bootstrap method "existing" (patroni/config.c) and the instances held back until the data is there (instance.c)
 * follow model->restore, which this file sets.
 *
 * A clone: a cluster with spec.dataSource.postgresCluster {clusterName, repoName, options}, not yet bootstrapped
 * (status.patroni.systemIdentifier unset). The spec stage checks the source (runDataSource): a PostgresCluster of the
 * same namespace and Postgres version, with that volume repository, its repository host ready and a backup in it
 * (the stanza made, and for the first repository the replica-create backup done). Until then nothing is created:
 * Progressing is False with reason WaitingForDataSource and a message that says what is missing, an Event
 * InvalidDataSource says it once, and the cluster is looked at again every RESTORE_RECHECK_MS (the source is another
 * cluster, whose changes do not map to this one). Once it is, the pass builds everything, with the first instance of
 * the first set as the startup instance (recorded in status.startupInstance) and the restore Job on its volumes;
 * every StatefulSet has 0 replicas until the Job succeeded, then the startup instance alone runs until Patroni has
 * initialised the cluster, then all. A failed Job leaves PostgresDataInitialized False (PGBackRestRestoreFailed) and
 * an Event; deleting the Job runs it again. A data source of a bootstrapped cluster is moot, as in PGO.
 *
 * An in-place restore: spec.backups.pgbackrest.restore {enabled: true, repoName, options} and the cluster's
 * annotation pgbackrest-restore=<id>, with an id other than status.pgbackrest.restore.id. PGO's steps, each pass
 * doing what the cache allows:
 *   1. requested: status.pgbackrest.restore {id, finished: false}; the startup instance is the primary (else the
 *      first instance), in status.startupInstance; PGBackRestoreProgressing True, RestoreInPlaceRequested; every
 *      StatefulSet scaled to 0 (PGO deletes them; scaling keeps their names and volumes and stops the Pods the same
 *      way); status.patroni, status.usersRevision and the first repository's replicaCreateBackupComplete cleared;
 *   2. once no instance Pod is left: Patroni's Endpoints (<cluster>-ha, -ha-config, -ha-failover, -ha-sync) deleted,
 *      so that Patroni initialises the cluster anew, and the other instances' volumes deleted, so that the replicas
 *      are made again from the restored primary rather than rewound from a future the restore removed;
 *   3. once they are gone and the repository host is ready: ReadyForRestore, and the Job on the startup instance's
 *      volumes (a Job of an earlier request is deleted first);
 *   4. the Job succeeded: status.pgbackrest.restore finished, PostgresDataInitialized True
 *      (PGBackRestRestoreComplete), PGBackRestoreProgressing removed; the startup instance starts, Patroni
 *      bootstraps from the restored data, then the other instances start and are made by pg_basebackup until a new
 *      replica-create backup (its Job named after the restore's id) exists on the new timeline.
 * A request that cannot start (repoName no volume repository of the cluster, options the operator sets, no backup
 * in the repository yet) stops nothing: PGBackRestoreProgressing False (RestoreNotStarted) and an Event
 * InvalidDataSource say why, until the spec changes.
 * A failed Job: status.pgbackrest.restore finished with failed, PostgresDataInitialized False
 * (PGBackRestRestoreFailed) and an Event; the instances stay stopped, as in PGO, until a new id asks again. The same
 * id never runs twice. */
#include "pgbackrest/restore.h"
#include "controllers/postgrescluster/run.h"
#include "naming/names.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define RESTORE_RECHECK_MS            10000
#define RESTORE_CONDITION_INITIALIZED "PostgresDataInitialized"
#define RESTORE_CONDITION_PROGRESSING "PGBackRestoreProgressing"
#define RESTORE_REASON_COMPLETE       "PGBackRestRestoreComplete"
#define RESTORE_REASON_FAILED         "PGBackRestRestoreFailed"
#define RESTORE_MESSAGE_SIZE          700

static const char *stringAt(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

static const json_t *statusOf(const ClusterRun *run)
{
    return json_object_get(run->cluster, "status");
}

/* Patroni has initialised the cluster, as far as the status says (patroni/config.c reads the same). */
static bool runBootstrapped(const ClusterRun *run)
{
    const char *id = stringAt(json_object_get(statusOf(run), "patroni"), "systemIdentifier");
    return id != NULL && id[0] != '\0';
}

static RunJobState runJobState(const json_t *job)
{
    if (job == NULL)
        return runJobAbsent;
    size_t condIdx;
    const json_t *condition;
    json_array_foreach(json_object_get(json_object_get(job, "status"), "conditions"), condIdx, condition)
    {
        const char *type = stringAt(condition, "type");
        const char *status = stringAt(condition, "status");
        if (type == NULL || status == NULL || strcmp(status, "True") != 0)
            continue;
        if (strcmp(type, "Complete") == 0)
            return runJobSucceeded;
        if (strcmp(type, "Failed") == 0)
            return runJobFailed;
    }
    return runJobActive;
}

static const json_t *runLookup(const ClusterRun *run, const char *kind, const char *name)
{
    return reconcilerLookup(run->reconciler, kind, run->model.namespace, name);
}

/* The current condition of type, or NULL. */
static const json_t *currentCondition(const ClusterRun *run, const char *type)
{
    return conditionOf(json_object_get(statusOf(run), "conditions"), type);
}

static bool conditionIs(const json_t *condition, const char *status, const char *reason)
{
    const char *conditionStatus = stringAt(condition, "status");
    const char *conditionReason = stringAt(condition, "reason");
    return conditionStatus != NULL && conditionReason != NULL && strcmp(conditionStatus, status) == 0 &&
           strcmp(conditionReason, reason) == 0;
}

/* --- a clone's source --- */

/* The entry of repos (an array) named name, or NULL. */
static const json_t *namedIn(const json_t *array, const char *name)
{
    size_t itemIdx;
    const json_t *item;
    json_array_foreach(array, itemIdx, item)
    {
        const char *itemName = stringAt(item, "name");
        if (itemName != NULL && name != NULL && strcmp(itemName, name) == 0)
            return item;
    }
    return NULL;
}

/* What keeps the clone from its source, into message; false when nothing does. */
static bool cloneBlocked(ClusterRun *run, const json_t *dataSource, char *message, size_t size)
{
    const char *clusterName = stringAt(dataSource, "clusterName");
    const char *clusterNamespace = stringAt(dataSource, "clusterNamespace");
    const char *repoName = stringAt(dataSource, "repoName");
    const char *refused = clusterRestoreOptionsRefused(json_object_get(dataSource, "options"));
    if (clusterNamespace != NULL && clusterNamespace[0] != '\0' && strcmp(clusterNamespace, run->model.namespace) != 0)
        snprintf(message, size,
                 "spec.dataSource.postgresCluster.clusterNamespace: the operator clones only from a cluster of the "
                 "same namespace, not %s",
                 clusterNamespace);
    else if (clusterName == NULL || clusterName[0] == '\0')
        snprintf(message, size, "spec.dataSource.postgresCluster.clusterName: the cluster to clone is required");
    else if (refused != NULL)
        snprintf(message, size,
                 "spec.dataSource.postgresCluster.options: %s is refused: --repo, --stanza, --pg1-path, "
                 "--target-action and --link-map are set by the operator",
                 refused);
    else {
        const json_t *source = runLookup(run, CLUSTER_KIND, clusterName);
        const json_t *backups =
            json_object_get(json_object_get(json_object_get(source, "spec"), "backups"), "pgbackrest");
        const json_t *repo = namedIn(json_object_get(backups, "repos"), repoName);
        const json_t *sourceStatus = json_object_get(source, "status");
        const json_t *repoStatus =
            namedIn(json_object_get(json_object_get(sourceStatus, "pgbackrest"), "repos"), repoName);
        bool first = repo != NULL && json_array_get(json_object_get(backups, "repos"), 0) == repo;
        char object[NAMING_NAME_SIZE], config[NAMING_NAME_SIZE], secret[NAMING_NAME_SIZE];
        snprintf(object, sizeof(object), "%s-repo-host", clusterName);
        snprintf(config, sizeof(config), "%s-pgbackrest-config", clusterName);
        snprintf(secret, sizeof(secret), "%s-pgbackrest", clusterName);
        const json_t *repoHost = runLookup(run, "StatefulSet", object);
        int64_t sourceVersion = json_integer_value(json_object_get(json_object_get(source, "spec"), "postgresVersion"));
        if (source == NULL)
            snprintf(message, size, "PostgresCluster %s does not exist", clusterName);
        else if (repo == NULL)
            snprintf(message, size, "PostgresCluster %s has no pgBackRest repository named %s", clusterName,
                     repoName != NULL ? repoName : "(none)");
        else if (!json_is_object(json_object_get(repo, "volume")))
            snprintf(message, size,
                     "repository %s of PostgresCluster %s is not a volume: the operator cannot clone from a cloud "
                     "repository yet",
                     repoName, clusterName);
        else if (sourceVersion != run->model.postgresVersion)
            snprintf(message, size, "PostgresCluster %s runs PostgreSQL %lld; this cluster's postgresVersion is %lld",
                     clusterName, (long long)sourceVersion, (long long)run->model.postgresVersion);
        else if (!json_is_true(json_object_get(repoStatus, "stanzaCreated")) ||
                 (first && !json_is_true(json_object_get(repoStatus, "replicaCreateBackupComplete"))))
            snprintf(message, size, "PostgresCluster %s has no backup in repository %s yet", clusterName, repoName);
        else if (json_integer_value(json_object_get(json_object_get(repoHost, "status"), "readyReplicas")) < 1)
            snprintf(message, size, "the repository host of PostgresCluster %s is not ready", clusterName);
        else if (runLookup(run, "ConfigMap", config) == NULL || runLookup(run, "Secret", secret) == NULL)
            snprintf(message, size, "PostgresCluster %s has no pgBackRest configuration (%s, %s) yet", clusterName,
                     config, secret);
        else {
            run->restore.source = json_incref((json_t *)(uintptr_t)source);
            return false;
        }
    }
    return true;
}

/* A clone's data is there: its Job succeeded, or the status says so (the Job may be gone). */
static bool cloneDataReady(const ClusterRun *run)
{
    char name[NAMING_NAME_SIZE];
    clusterRestoreJobName(run->model.name, name, sizeof(name));
    return runJobState(runLookup(run, "Job", name)) == runJobSucceeded ||
           conditionIs(currentCondition(run, RESTORE_CONDITION_INITIALIZED), "True", RESTORE_REASON_COMPLETE);
}

/* The condition Progressing (False, WaitingForDataSource, message), with an Event InvalidDataSource when the
 * status does not say so already. */
static bool runWaitFor(ClusterRun *run, const char *message, Err *err)
{
    if (run->conditions == NULL)
        run->conditions = json_array();
    if (!clusterPush(run->conditions, clusterCondition(&run->model, CLUSTER_CONDITION_PROGRESSING, false,
                                                       "WaitingForDataSource", message)))
        return errSet(err, errOutOfMemory, "out of memory reporting the data source");
    const char *current = stringAt(currentCondition(run, CLUSTER_CONDITION_PROGRESSING), "message");
    if (current == NULL || strcmp(current, message) != 0)
        runEvent(run, eventWarning, "InvalidDataSource", message);
    logInfo(run->reconciler->log, "waiting for a data source", logStr("namespace", run->model.namespace),
            logStr("name", run->model.name), logStr("reason", message));
    run->requeueMs = RESTORE_RECHECK_MS;
    return true;
}

bool runDataSource(ClusterRun *run, bool *wait, Err *err)
{
    const json_t *dataSource =
        json_object_get(json_object_get(json_object_get(run->cluster, "spec"), "dataSource"), "postgresCluster");
    run->restore.clone = json_is_object(dataSource) && !runBootstrapped(run);
    if (!run->restore.clone || cloneDataReady(run))
        return true;
    char message[RESTORE_MESSAGE_SIZE];
    if (!cloneBlocked(run, dataSource, message, sizeof(message)))
        return true;
    *wait = true;
    return runWaitFor(run, message, err);
}

/* --- the plan of this pass --- */

/* The first instance of the first set, else the first instance; NULL when the model has none. */
static const char *firstInstance(const ClusterModel *model)
{
    for (size_t instIdx = 0; instIdx < model->instanceCount; instIdx++)
        if (model->instances[instIdx].set == 0)
            return model->instances[instIdx].name;
    return model->instanceCount > 0 ? model->instances[0].name : NULL;
}

/* The startup instance: the one the status recorded while it is still an instance, else preferred (may be NULL),
 * else the first. */
static const char *startupInstance(const ClusterRun *run, const char *preferred, bool keepRecorded)
{
    const char *recorded = stringAt(statusOf(run), "startupInstance");
    if (keepRecorded && clusterModelHasInstance(&run->model, recorded))
        return recorded;
    if (clusterModelHasInstance(&run->model, preferred))
        return preferred;
    return firstInstance(&run->model);
}

/* Whether a Pod of one of the cluster's instances is cached. */
static bool instancePodsLeft(const ClusterRun *run)
{
    size_t cursor = 0;
    const StoreEntry *entry;
    while (storeNext(run->reconciler->stores[kindPod], &cursor, &entry)) {
        if (strcmp(entry->namespace, run->model.namespace) != 0)
            continue;
        const char *cluster = labelOf(entry->object, CLUSTER_LABEL_CLUSTER);
        if (cluster != NULL && strcmp(cluster, run->model.name) == 0 &&
            labelOf(entry->object, CLUSTER_LABEL_INSTANCE) != NULL)
            return true;
    }
    return false;
}

static const char *const restoreDcsSuffixes[] = {NAMING_HA, NAMING_HA_CONFIG, NAMING_HA_FAILOVER, NAMING_HA_SYNC};

/* Whether any of Patroni's Endpoints is cached. */
static bool dcsLeft(const ClusterRun *run)
{
    for (size_t suffixIdx = 0; suffixIdx < sizeof(restoreDcsSuffixes) / sizeof(restoreDcsSuffixes[0]); suffixIdx++) {
        char name[NAMING_NAME_SIZE];
        namingClusterObject(run->model.name, restoreDcsSuffixes[suffixIdx], name);
        if (runLookup(run, "Endpoints", name) != NULL)
            return true;
    }
    return false;
}

/* A volume of an instance other than the startup instance's, to delete before the in-place restore. */
static bool replicaVolume(const ClusterRun *run, const json_t *claim)
{
    const char *instance = labelOf(claim, CLUSTER_LABEL_INSTANCE);
    const char *role = labelOf(claim, CLUSTER_LABEL_ROLE);
    return instance != NULL && role != NULL && (strcmp(role, "pgdata") == 0 || strcmp(role, "pgwal") == 0) &&
           strcmp(instance, run->restore.plan.startupInstance) != 0 && controlledBy(claim, run->model.uid) &&
           json_object_get(json_object_get(claim, "metadata"), "deletionTimestamp") == NULL;
}

/* The in-place request of this pass: into run->restore when there is one to act on. */
static bool planInPlace(ClusterRun *run, Err *err)
{
    RunRestore *restore = &run->restore;
    const json_t *spec = json_object_get(
        json_object_get(json_object_get(json_object_get(run->cluster, "spec"), "backups"), "pgbackrest"), "restore");
    const char *annotation = stringAt(json_object_get(json_object_get(run->cluster, "metadata"), "annotations"),
                                      PGBACKREST_ANNOTATION_RESTORE);
    const json_t *previous = json_object_get(json_object_get(statusOf(run), "pgbackrest"), "restore");
    const char *previousId = stringAt(previous, "id");
    bool enabled = json_is_true(json_object_get(spec, "enabled"));
    bool newRequest = enabled && annotation != NULL && annotation[0] != '\0' &&
                      (previousId == NULL || strcmp(previousId, annotation) != 0);
    bool lasting = previousId != NULL && !(json_is_true(json_object_get(previous, "finished")) && runBootstrapped(run));
    if (!newRequest && !lasting)
        return true;
    const char *id = newRequest ? annotation : previousId;
    const char *repoName = stringAt(spec, "repoName");
    const json_t *repos = json_object_get(
        json_object_get(json_object_get(json_object_get(run->cluster, "spec"), "backups"), "pgbackrest"), "repos");
    const char *refused = clusterRestoreOptionsRefused(json_object_get(spec, "options"));
    const json_t *repoStatus =
        namedIn(json_object_get(json_object_get(statusOf(run), "pgbackrest"), "repos"), repoName);
    bool volume = repoName != NULL && json_is_object(json_object_get(namedIn(repos, repoName), "volume"));
    /* A backup: the replica-create one, or the one an earlier restore restored (the flag is cleared then). */
    bool backup = json_is_true(json_object_get(repoStatus, "stanzaCreated")) &&
                  (json_array_get(repos, 0) != namedIn(repos, repoName) || previousId != NULL ||
                   json_is_true(json_object_get(repoStatus, "replicaCreateBackupComplete")));
    if (newRequest && (!volume || refused != NULL || !backup)) {
        char *message = memCtxPrintf(
            run->reconcile->ctx, "the in-place restore %s does not start: %s", annotation,
            refused != NULL ? "spec.backups.pgbackrest.restore.options set what the operator sets (--repo, --stanza, "
                              "--pg1-path, --target-action, --link-map)"
            : !volume       ? "spec.backups.pgbackrest.restore.repoName names no volume repository of the cluster"
                            : "the repository has no backup yet");
        restore->invalid = message != NULL ? message : "the in-place restore does not start";
        return true;
    }
    restore->inPlace = true;
    restore->plan = (ClusterRestore){
        /* The primary's, but a request after one that did not end (a failed Job) keeps the instance whose data
         * that one restored: no primary runs then, and the other instances' volumes are gone. */
        .startupInstance = startupInstance(run, run->model.primary, !newRequest || lasting),
        .sourceCluster = run->model.name,
        .repoName = repoName != NULL ? repoName : "repo1",
        .options = json_object_get(spec, "options"),
        .configuration = json_object_get(
            json_object_get(json_object_get(json_object_get(run->cluster, "spec"), "backups"), "pgbackrest"),
            "configuration"),
        .job = spec,
        .id = id,
    };
    if (restore->plan.startupInstance == NULL)
        return errSet(err, errInvalidArgument, "the cluster has no instance to restore into");
    char name[NAMING_NAME_SIZE], repoHost[NAMING_NAME_SIZE];
    clusterRestoreJobName(run->model.name, name, sizeof(name));
    snprintf(repoHost, sizeof(repoHost), "%s-repo-host", run->model.name);
    const json_t *job = runLookup(run, "Job", name);
    const char *jobId =
        stringAt(json_object_get(json_object_get(job, "metadata"), "annotations"), PGBACKREST_ANNOTATION_RESTORE);
    if (job != NULL && (jobId == NULL || strcmp(jobId, id) != 0))
        restore->staleJob = job;
    else
        restore->job = job;
    restore->jobState = runJobState(restore->job);
    bool finished = !newRequest && json_is_true(json_object_get(previous, "finished"));
    restore->plan.dataReady =
        restore->jobState == runJobSucceeded ||
        (restore->job == NULL && finished && json_integer_value(json_object_get(previous, "succeeded")) > 0);
    restore->stopped = !instancePodsLeft(run);
    bool repoHostReady = json_integer_value(json_object_get(
                             json_object_get(runLookup(run, "StatefulSet", repoHost), "status"), "readyReplicas")) >= 1;
    restore->ready = restore->stopped && !dcsLeft(run) && repoHostReady;
    restore->plan.jobWanted = restore->ready && !finished && restore->job == NULL && restore->staleJob == NULL;
    return true;
}

bool runRestorePlan(ClusterRun *run, Err *err)
{
    RunRestore *restore = &run->restore;
    restore->decided = true;
    if (restore->clone) {
        const json_t *dataSource =
            json_object_get(json_object_get(json_object_get(run->cluster, "spec"), "dataSource"), "postgresCluster");
        char name[NAMING_NAME_SIZE];
        clusterRestoreJobName(run->model.name, name, sizeof(name));
        restore->job = runLookup(run, "Job", name);
        restore->jobState = runJobState(restore->job);
        restore->plan = (ClusterRestore){
            .startupInstance = startupInstance(run, NULL, true),
            .sourceCluster = stringAt(dataSource, "clusterName"),
            .repoName = stringAt(dataSource, "repoName"),
            .options = json_object_get(dataSource, "options"),
            .configuration = json_object_get(
                json_object_get(json_object_get(json_object_get(restore->source, "spec"), "backups"), "pgbackrest"),
                "configuration"),
            .job = dataSource,
            .dataReady = cloneDataReady(run),
        };
        restore->plan.jobWanted = restore->job == NULL && !restore->plan.dataReady && restore->source != NULL;
        if (restore->plan.startupInstance == NULL)
            return errSet(err, errInvalidArgument, "the cluster has no instance to restore into");
        run->model.restore = &restore->plan;
        return true;
    }
    if (!planInPlace(run, err))
        return false;
    if (restore->inPlace)
        run->model.restore = &restore->plan;
    return true;
}

/* --- the stage --- */

/* An in-place restore's deletions: a Job of an earlier request; once the instances are stopped, Patroni's Endpoints
 * and the other instances' volumes. A failed Job's Event. */
StageResult stageRestore(ClusterRun *run)
{
    RunRestore *restore = &run->restore;
    Err err;
    bool ok = true;
    if (restore->jobState == runJobFailed &&
        !conditionIs(currentCondition(run, RESTORE_CONDITION_INITIALIZED), "False", RESTORE_REASON_FAILED)) {
        char message[RESTORE_MESSAGE_SIZE];
        snprintf(message, sizeof(message),
                 "the restore Job %s failed: `kubectl logs job/%s` shows pgBackRest's and PostgreSQL's messages",
                 nameOf(restore->job), nameOf(restore->job));
        runEvent(run, eventWarning, RESTORE_REASON_FAILED, message);
    }
    if (!restore->inPlace)
        return stageNext;
    if (restore->staleJob != NULL) {
        ok = runDelete(run, &clusterWatches[kindJob].resource, restore->staleJob, &err);
    }
    if (ok && restore->stopped && !restore->plan.dataReady && restore->jobState == runJobAbsent) {
        for (size_t suffixIdx = 0; ok && suffixIdx < sizeof(restoreDcsSuffixes) / sizeof(restoreDcsSuffixes[0]);
             suffixIdx++) {
            char name[NAMING_NAME_SIZE];
            namingClusterObject(run->model.name, restoreDcsSuffixes[suffixIdx], name);
            const json_t *endpoints = runLookup(run, "Endpoints", name);
            if (endpoints != NULL)
                ok = runDelete(run, &clusterWatches[kindEndpoints].resource, endpoints, &err);
        }
        size_t count;
        const StoreEntry *const *owned = storeOwnedBy(run->reconciler->stores[kindPvc], run->model.uid, &count);
        for (size_t ownedIdx = 0; ok && ownedIdx < count; ownedIdx++)
            if (replicaVolume(run, owned[ownedIdx]->object))
                ok = runDelete(run, &clusterWatches[kindPvc].resource, owned[ownedIdx]->object, &err);
    }
    if (!ok) {
        runFail(run, &err);
        return stageHandedOff;
    }
    if (!restore->plan.dataReady && restore->jobState != runJobFailed)
        run->requeueMs = RUN_WAIT_MS; /* Pods and Endpoints going away bring events, a PVC's end may not */
    return stageNext;
}

/* --- the status --- */

/* status.pgbackrest.restore for the in-place restore: from its Job, else as the status has it for the same id. */
static json_t *restoreStatus(const ClusterRun *run)
{
    const RunRestore *restore = &run->restore;
    const json_t *previous = json_object_get(json_object_get(statusOf(run), "pgbackrest"), "restore");
    const char *previousId = stringAt(previous, "id");
    if (restore->job == NULL) {
        if (previousId != NULL && strcmp(previousId, restore->plan.id) == 0)
            return json_deep_copy(previous);
        return json_pack("{s:s, s:b}", "id", restore->plan.id, "finished", 0);
    }
    const json_t *status = json_object_get(restore->job, "status");
    json_t *out = json_pack("{s:s, s:b, s:I, s:I, s:I}", "id", restore->plan.id, "finished",
                            restore->jobState == runJobSucceeded || restore->jobState == runJobFailed, "active",
                            (json_int_t)json_integer_value(json_object_get(status, "active")), "succeeded",
                            (json_int_t)json_integer_value(json_object_get(status, "succeeded")), "failed",
                            (json_int_t)json_integer_value(json_object_get(status, "failed")));
    if (clusterPutCopy(out, "startTime", json_object_get(status, "startTime")) &&
        clusterPutCopy(out, "completionTime", json_object_get(status, "completionTime")))
        return out;
    json_decref(out);
    return NULL;
}

/* The conditions of a restore in progress. */
static bool restoreConditions(ClusterRun *run, json_t *conditions)
{
    const RunRestore *restore = &run->restore;
    const ClusterModel *model = &run->model;
    bool ok = true;
    if (restore->plan.dataReady)
        ok = clusterPush(conditions,
                         clusterCondition(model, RESTORE_CONDITION_INITIALIZED, true, RESTORE_REASON_COMPLETE,
                                          "The cluster's data was restored by pgBackRest"));
    else if (restore->jobState == runJobFailed) {
        char message[RESTORE_MESSAGE_SIZE];
        snprintf(message, sizeof(message), "The restore Job %s failed (its log says why); %s", nameOf(restore->job),
                 restore->inPlace ? "set a new value of the annotation " PGBACKREST_ANNOTATION_RESTORE " to try again"
                                  : "delete the Job to try again");
        ok = clusterPush(conditions,
                         clusterCondition(model, RESTORE_CONDITION_INITIALIZED, false, RESTORE_REASON_FAILED, message));
    } else if (restore->inPlace && restore->plan.id != NULL) {
        ok = clusterPush(conditions,
                         restore->ready
                             ? clusterCondition(model, RESTORE_CONDITION_PROGRESSING, true, "ReadyForRestore",
                                                "Restoring the cluster in place")
                             : clusterCondition(model, RESTORE_CONDITION_PROGRESSING, true, "RestoreInPlaceRequested",
                                                "Preparing the cluster for an in-place restore: stopping the "
                                                "instances, removing Patroni's state"));
    }
    return ok;
}

bool runRestoreStatus(ClusterRun *run, json_t *status, json_t *conditions)
{
    const RunRestore *restore = &run->restore;
    if (restore->invalid != NULL) {
        bool ok = clusterPush(conditions, clusterCondition(&run->model, RESTORE_CONDITION_PROGRESSING, false,
                                                           "RestoreNotStarted", restore->invalid));
        const char *current = stringAt(currentCondition(run, RESTORE_CONDITION_PROGRESSING), "message");
        if (current == NULL || strcmp(current, restore->invalid) != 0)
            runEvent(run, eventWarning, "InvalidDataSource", restore->invalid);
        if (!ok)
            return false;
    }
    if (run->model.restore == NULL) {
        /* No restore this pass: PostgresDataInitialized stays as it is (status.c drops what is not wanted). */
        const json_t *kept = currentCondition(run, RESTORE_CONDITION_INITIALIZED);
        return kept == NULL || json_array_append(conditions, (json_t *)(uintptr_t)kept) == 0;
    }
    const ClusterInstanceSet *set = clusterModelSetOf(&run->model, restore->plan.startupInstance);
    bool ok = restoreConditions(run, conditions) &&
              clusterPut(status, "startupInstance", json_string(restore->plan.startupInstance)) &&
              (set == NULL || clusterPut(status, "startupInstanceSet", json_string(set->name)));
    if (!ok || !restore->inPlace)
        return ok;
    const json_t *current = statusOf(run);
    json_t *pgbackrest = json_object_get(status, "pgbackrest");
    if (!json_is_object(pgbackrest)) {
        pgbackrest = json_object();
        if (!clusterPut(status, "pgbackrest", pgbackrest))
            return false;
    }
    ok = clusterPut(pgbackrest, "restore", restoreStatus(run));
    bool finished = json_is_true(json_object_get(json_object_get(pgbackrest, "restore"), "finished"));
    if (ok && !finished) {
        /* Patroni initialises the cluster again, the users' SQL runs again, and replicas wait for a backup of the
         * new timeline. */
        if (json_object_get(current, "patroni") != NULL)
            ok = clusterPut(status, "patroni", json_null());
        else
            json_object_del(status, "patroni"); /* Endpoints still cached: not from them */
        if (ok && json_object_get(current, "usersRevision") != NULL)
            ok = clusterPut(status, "usersRevision", json_null());
        json_t *first = json_array_get(json_object_get(pgbackrest, "repos"), 0);
        if (ok && json_is_object(first))
            ok = clusterPut(first, "replicaCreateBackupComplete", json_false());
    }
    return ok;
}
