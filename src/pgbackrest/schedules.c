/* Backup schedules: spec.backups.pgbackrest.repos[].schedules {full, differential, incremental}, each a cron
 * expression, become CronJobs <cluster>-<repo>-full, -diff and -incr, as PGO names and labels them
 * (pgbackrest-cronjob=<type>, pgbackrest-backup=scheduled, pgbackrest-repo=<repo>). Each CronJob's Job is the manual
 * backup's Job (backupJob: the repository host's configuration and volumes, beside the repository host) running
 * `pgbackrest backup --stanza=db --repo=<n> --type=<type>`.
 *
 * Order, as PGO keeps it: a CronJob is first made once the repository's stanza exists and the replica-create backup
 * is done, so a schedule never races the first backup; from then on it is kept up to date (a CronJob is mutable,
 * unlike a Job). concurrencyPolicy Forbid: a run that finds the previous one still going is skipped, pgBackRest
 * allowing one backup per stanza at a time anyway. suspend follows spec.shutdown and spec.standby.enabled, where PGO
 * stops scheduled backups, and a restore under way (the instances stopped).
 *
 * The Jobs a CronJob starts are owned by the CronJob, not by the cluster, and carry its labels: the controller
 * gathers them by label for status.pgbackrest.scheduledBackups (backupScheduledStatus), and deletes a CronJob no
 * schedule asks for. */
#include "pgbackrest/backup.h"

#include <stdio.h>
#include <string.h>

/* spec.backups.pgbackrest.repos[].schedules' keys, and the type each gives pgBackRest and the CronJob's name. */
static const struct {
    const char *key;
    const char *type;
} scheduleTypes[] = {
    {"full", "full"},
    {"differential", "diff"},
    {"incremental", "incr"},
};

/* Whether backups stop for now: the cluster asks so, or a restore is under way (its instances are stopped, a backup
 * would fail). */
static bool schedulesSuspended(const ClusterModel *model)
{
    const json_t *spec = json_object_get(model->cluster, "spec");
    return model->restore != NULL || model->power.shutdown ||
           json_is_true(json_object_get(json_object_get(spec, "standby"), "enabled"));
}

/* The CronJob name for a schedule of repo: "<cluster>-<repo>-<type>". */
static void cronJobName(const Backup *b, const char *repo, const char *type, char out[BACKUP_NAME_SIZE])
{
    snprintf(out, BACKUP_NAME_SIZE, "%s-%s-%s", b->model->name, repo, type);
}

/* CronJob name running schedule (a cron expression) of type for repo, or NULL when out of memory. */
static json_t *cronJob(const Backup *b, const char *name, const char *repo, const char *type, const char *schedule)
{
    char typeOption[32];
    snprintf(typeOption, sizeof(typeOption), "--type=%s", type);
    const char *labels[] = {PGBACKREST_LABEL,
                            "",
                            PGBACKREST_LABEL_CRONJOB,
                            type,
                            PGBACKREST_LABEL_BACKUP,
                            "scheduled",
                            PGBACKREST_LABEL_REPO,
                            repo,
                            NULL};
    json_t *options = json_pack("[s]", typeOption);
    json_t *job =
        options != NULL ? backupJob(b, name, backupLabels(b, labels), NULL, backupCommand(repo, false, options)) : NULL;
    json_decref(options);
    const json_t *jobMeta = json_object_get(job, "metadata");
    json_t *templateMeta = json_pack("{s:O}", "labels", json_object_get(jobMeta, "labels"));
    bool ok = job != NULL && templateMeta != NULL &&
              clusterPutCopy(templateMeta, "annotations", json_object_get(jobMeta, "annotations"));
    json_t *spec = ok ? json_pack("{s:s, s:s, s:b, s:{s:O, s:O}}", "concurrencyPolicy", "Forbid", "schedule", schedule,
                                  "suspend", schedulesSuspended(b->model), "jobTemplate", "metadata", templateMeta,
                                  "spec", json_object_get(job, "spec"))
                      : NULL;
    json_t *cron = spec != NULL ? backupObject(b, "batch/v1", "CronJob", name, backupLabels(b, labels)) : NULL;
    json_decref(job);
    json_decref(templateMeta);
    if (clusterPut(cron, "spec", spec))
        return cron;
    json_decref(cron);
    return NULL;
}

bool backupBuildSchedules(const Backup *b, json_t *objects, Err *err)
{
    bool ready = backupReplicaCreated(b);
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(b->repos, repoIdx, repo)
    {
        const char *repoName = backupStringAt(repo, "name");
        const json_t *schedules = json_object_get(repo, "schedules");
        if (repoName == NULL)
            continue;
        bool create = ready && backupStanzaCreated(b, repoName);
        for (size_t typeIdx = 0; typeIdx < sizeof(scheduleTypes) / sizeof(scheduleTypes[0]); typeIdx++) {
            const char *schedule = backupStringAt(schedules, scheduleTypes[typeIdx].key);
            char name[BACKUP_NAME_SIZE];
            cronJobName(b, repoName, scheduleTypes[typeIdx].type, name);
            if (schedule == NULL || schedule[0] == '\0' || (!create && backupLookup(b->model, "CronJob", name) == NULL))
                continue;
            json_t *cron = cronJob(b, name, repoName, scheduleTypes[typeIdx].type, schedule);
            if (cron == NULL)
                return errSet(err, errOutOfMemory, "out of memory building CronJob %s", name);
            if (!clusterAppend(objects, cron, err))
                return false;
        }
    }
    return true;
}

/* The name of the CronJob that controls job, or NULL. */
static const char *cronJobOwner(const json_t *job)
{
    size_t ownerIdx;
    const json_t *owner;
    json_array_foreach(json_object_get(json_object_get(job, "metadata"), "ownerReferences"), ownerIdx, owner)
    {
        const char *kind = backupStringAt(owner, "kind");
        if (kind != NULL && strcmp(kind, "CronJob") == 0 && json_is_true(json_object_get(owner, "controller")))
            return backupStringAt(owner, "name");
    }
    return NULL;
}

/* Puts status's counter key in entry when it is not zero (PGO leaves zeros out). */
static bool putCount(json_t *entry, const json_t *status, const char *key)
{
    json_int_t count = json_integer_value(json_object_get(status, key));
    return count == 0 || clusterPut(entry, key, json_integer(count));
}

json_t *backupScheduledStatus(const json_t *jobs)
{
    json_t *entries = json_array();
    size_t jobIdx;
    const json_t *job;
    json_array_foreach(jobs, jobIdx, job)
    {
        const json_t *labels = json_object_get(json_object_get(job, "metadata"), "labels");
        const json_t *status = json_object_get(job, "status");
        const char *cron = cronJobOwner(job);
        const char *repo = backupStringAt(labels, PGBACKREST_LABEL_REPO);
        const char *type = backupStringAt(labels, PGBACKREST_LABEL_CRONJOB);
        json_t *entry = json_object();
        bool ok = entries != NULL && entry != NULL &&
                  (cron == NULL || clusterPut(entry, "cronJobName", json_string(cron))) &&
                  (repo == NULL || clusterPut(entry, "repo", json_string(repo))) &&
                  (type == NULL || clusterPut(entry, "type", json_string(type))) &&
                  clusterPutCopy(entry, "startTime", json_object_get(status, "startTime")) &&
                  clusterPutCopy(entry, "completionTime", json_object_get(status, "completionTime")) &&
                  putCount(entry, status, "active") && putCount(entry, status, "succeeded") &&
                  putCount(entry, status, "failed");
        if (!ok || !clusterPush(entries, entry)) {
            if (!ok)
                json_decref(entry);
            json_decref(entries);
            return NULL;
        }
    }
    return entries;
}

bool clusterPgBackRestScheduleCronJob(const ClusterModel *model, const json_t *object)
{
    Backup b;
    /* Without spec.backups.pgbackrest nothing of pgBackRest's goes on its own: removing backups is authorised
     * separately. */
    return backupStringAt(json_object_get(json_object_get(object, "metadata"), "labels"), PGBACKREST_LABEL_CRONJOB) !=
               NULL &&
           backupInit(model, &b);
}
